"""Field checks every policy reader shares: a malformed field is one :class:`PolicyError`
line naming the object and the field path (``shop/db: spec.ingress[0]: must be a list``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .model import PolicyError

__all__ = ["as_list", "as_mapping", "as_mapping_or_empty", "check_keys", "fail"]


def fail(where: str, msg: str) -> PolicyError:
    """The error for ``where`` (the object and field path), to raise."""
    return PolicyError(f"{where}: {msg}")


def as_mapping(value: Any, where: str) -> Mapping:
    """A mapping field, or an error naming what it is instead."""
    if not isinstance(value, Mapping):
        raise fail(where, f"must be a mapping, got {type(value).__name__}")
    return value


def as_mapping_or_empty(value: Any, where: str) -> Mapping:
    """A mapping field whose absence (YAML ``key:`` or ``null``) means an empty one."""
    return {} if value is None else as_mapping(value, where)


def as_list(value: Any, where: str, *, required: bool = False) -> Sequence:
    """A list field; None (YAML ``key:`` or ``null``) is an empty list, unless ``required``."""
    if value is None:
        if required:
            raise fail(where, "is required")
        return ()
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise fail(where, f"must be a list, got {type(value).__name__}")
    return value


def check_keys(obj: Mapping, allowed: Iterable[str], where: str) -> None:
    """Refuse fields the kind does not define, named in sorted order."""
    unknown = sorted(str(k) for k in obj if k not in allowed)
    if unknown:
        raise fail(where, f"unknown field(s) {', '.join(unknown)}")
