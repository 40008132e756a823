"""The record-parser plumbing every format reader shares: the rejection exception, its two
usual forms and the record-parser base class (the value parsers are in
:mod:`recommender.ingest.values`).

Every helper raises :class:`Bad` (reason: a fixed string that groups rejections; detail:
names the field and shows the value, cut short) and nothing else for bad data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from recommender.ingest.sources import Filtered, Rejected
from recommender.validate import truncated_repr

#: What a parser's own code may raise on a hostile record (besides :class:`Bad`): a
#: ``malformed record`` rejection, never a crash. Parsers add to it (see ``RecordParser``).
RECORD_ERRORS: tuple[type[Exception], ...] = (TypeError, ValueError, KeyError, AttributeError)


class Bad(Exception):
    """A record to reject: reason (a fixed string) and detail (names the field and value)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def rejected(self) -> Rejected:
        return Rejected(self.reason, self.detail)


def malformed(field: str, value: Any) -> Bad:
    """Wrong type or shape: ``malformed record: <field>``."""
    return Bad(f"malformed record: {field}", f"{field}={truncated_repr(value)}")


def invalid(reason: str, field: str, value: Any) -> Bad:
    """Right type, value fails a syntax check (``invalid namespace``, ``invalid IP`` ...)."""
    return Bad(reason, f"{field}={truncated_repr(value)}")


class RecordParser:
    """Base of a format's ``Parser``: parses the records of one file, one at a time.

    A subclass sets ``name`` and implements :meth:`_parse`, which raises :class:`Bad` to
    reject a record. ``caught`` are the other exceptions that reject a record as
    ``malformed record`` (the exception's type and message as the detail).
    """

    name: str
    caught: tuple[type[Exception], ...] = RECORD_ERRORS

    def __init__(self, path: str, lookahead: Sequence[Any] = ()) -> None:
        self.path = path

    def parse(self, record: Any) -> dict | Filtered | Rejected:
        """One record -> a row dict, Filtered or Rejected. Never raises for bad data."""
        try:
            return self._parse(record)
        except Bad as bad:
            return bad.rejected()
        except self.caught as exc:
            return Rejected("malformed record", f"{type(exc).__name__}: {str(exc)[:120]}")

    def _parse(self, record: Any) -> dict | Filtered:
        raise NotImplementedError
