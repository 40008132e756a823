"""What the format parsers share: the rejection exception, its two usual forms, the
record-parser base class and value checks that mean the same in every format.

Every helper raises :class:`Bad` (reason: a fixed string that groups rejections; detail:
names the field and shows the value, cut short) and nothing else for bad data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from recommender.ingest.sources import Filtered, Rejected
from recommender.validate import canonical_ip, is_label_key, is_label_value, truncated_repr

#: Bound of an int64 (``timestamp('ns')`` and the counters are int64 columns).
INT64 = 2**63

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


def int_below(v: Any, field: str, limit: int) -> int | None:
    """An int (never a bool or a float) in ``0 .. limit - 1``; None when absent."""
    if v is None:
        return None
    if type(v) is not int or not 0 <= v < limit:
        raise malformed(field, v)
    return v


def canonical_address(v: Any, field: str) -> str | None:
    """Canonical text of an IP address; None when absent. A non-string is malformed, a
    string that is no address (or has surrounding blanks, a zone, a prefix) ``invalid IP``."""
    if v is None:
        return None
    out = canonical_ip(v)
    if out is None:
        if type(v) is not str:
            raise malformed(field, v)
        raise invalid("invalid IP", field, v)
    return out


def family(*addresses: str | None) -> int:
    """4 or 6 from the known (canonical) addresses; 0 when none is known. Mixed families are
    rejected."""
    fams = {6 if ":" in a else 4 for a in addresses if a is not None}
    if len(fams) > 1:
        shown = " -> ".join(a for a in addresses if a is not None)
        raise Bad("invalid IP", f"mixed address families: {shown}")
    return fams.pop() if fams else 0


def put_label(labels: dict[str, str], key: Any, value: Any, field: str) -> bool:
    """Check one label (key and value syntax) and add it to ``labels``. False, leaving
    ``labels`` as it was, when it already holds another value for ``key``: the caller
    rejects the record (``conflicting labels``), naming what it read."""
    if not is_label_key(key):
        raise invalid("invalid label key", field, key)
    if not is_label_value(value):
        raise invalid("invalid label value", f"{field}[{key}]", value)
    return labels.setdefault(key, value) == value
