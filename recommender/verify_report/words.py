"""Counting words shared by the report's parts."""

from __future__ import annotations

__all__ = ["plural"]


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 flow``, ``2 flows``; ``many`` for an irregular plural (``2 policies``)."""
    return f"{n} {one if n == 1 else (many or one + 's')}"
