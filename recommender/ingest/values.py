"""Value parsers every format reader shares: addresses, names, ports, protocols, labels,
times and counters, each meaning the same in every format.

Each parser takes the raw value and the field it came from, returns the normalized value
(None when absent) and raises :class:`~recommender.ingest.common.Bad` (a rejection reason and
a detail naming the field) and nothing else, whatever Python value it is given. Readers
import these instead of each other, so that each format module stands alone.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from recommender.ingest import remote
from recommender.ingest.common import Bad, invalid, malformed
from recommender.validate import (
    canonical_ip,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_label_key,
    is_label_value,
    truncated_repr,
)

#: Bound of an int64 (``timestamp('ns')`` and the counters are int64 columns).
INT64 = 2**63

# timestamp('ns') is an int64: 1677-09-21 .. 2262-04-11.
_NS_MIN = -(2**63)
_NS_MAX = 2**63 - 1
_INT64_MAX = 2**63 - 1
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _EPOCH
_TIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9})\d*)?"
    r"([Zz]|[+-]\d{2}:?\d{2})",
    re.ASCII,
)


# =========================================================================== checks


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


def unknown_enum(field: str, value: Any) -> Bad:
    """An enum value the format does not define: ``unknown enum value: <field>``."""
    return Bad(f"unknown enum value: {field}", f"{field}={truncated_repr(value)}")


def dash_null(v: Any) -> Any:
    """Calico's ``-`` (and empty strings) mean null."""
    return None if v is None or v == "-" or v == "" else v


# =========================================================================== value parsers


def text(v: Any, field: str, limit: int = 4096) -> str | None:
    """A string (bytes are decoded as UTF-8), stripped; None for null or empty."""
    if v is None:
        return None
    if type(v) is bytes:
        try:
            v = v.decode("utf-8")
        except UnicodeDecodeError:
            raise invalid("invalid UTF-8", field, v) from None
    if type(v) is not str or len(v) > limit:
        raise malformed(field, v)
    v = v.strip()
    return v or None


def name(v: Any, field: str, check: Callable[[object], bool], reason: str) -> str | None:
    """A Kubernetes name checked by ``check`` (e.g. ``is_dns1123_label``); None when empty."""
    s = text(v, field)
    if s is None:
        return None
    if not check(s):
        raise invalid(reason, field, s)
    return s


def namespace(v: Any, field: str) -> str | None:
    return name(v, field, is_dns1123_label, "invalid namespace")


def pod_name(v: Any, field: str) -> str | None:
    return name(v, field, is_dns1123_subdomain, "invalid pod name")


def node_name(v: Any, field: str) -> str | None:
    return name(v, field, is_dns1123_subdomain, "invalid node name")


def ip(v: Any, field: str, *, unspecified_is_none: bool = False) -> str | None:
    """Canonical IP text; None for null/empty (and ``0.0.0.0``/``::`` when asked)."""
    out = canonical_address(text(v, field, 64), field)
    if unspecified_is_none and out in ("0.0.0.0", "::"):
        return None
    return out


_DIGITS = re.compile(r"[0-9]{1,20}", re.ASCII)


def uint(v: Any, field: str, limit: int = _INT64_MAX + 1) -> int | None:
    """A non-negative integer below ``limit``: an int, an integral float, or decimal digits
    in a string (ClickHouse quotes 64-bit integers). None for null or empty."""
    if v is None:
        return None
    t = type(v)
    if t is int:
        n = v
    elif t is float and v.is_integer():
        n = int(v)
    elif t is str or t is bytes:
        s = text(v, field, 64)
        if s is None:
            return None
        if _DIGITS.fullmatch(s) is None:
            raise malformed(field, v)
        n = int(s)
    else:
        raise malformed(field, v)
    if not 0 <= n < limit:
        raise malformed(field, v)
    return n


def port(v: Any, field: str) -> int | None:
    """A port 1..65535; None for null, empty or 0 (IPFIX writes 0 for "none")."""
    n = uint(v, field, 65536)
    return n or None


_PROTOCOL_NAMES = {
    "TCP": ("TCP", 6),
    "UDP": ("UDP", 17),
    "SCTP": ("SCTP", 132),
    "ICMP": ("ICMP", 1),
    "ICMPV4": ("ICMP", 1),
    "ICMPV6": ("ICMPv6", 58),
    "ICMP6": ("ICMPv6", 58),
    "IPV6-ICMP": ("ICMPv6", 58),
}
_PROTOCOL_NUMBERS = {number: (proto, number) for proto, number in _PROTOCOL_NAMES.values()}


def protocol(v: Any, field: str) -> tuple[str, int | None]:
    """(Kubernetes spelling, IANA number) from a name (any case) or an IANA number."""
    if type(v) is str or type(v) is bytes:
        s = text(v, field, 32)
        if s is None:
            raise Bad("missing protocol", f"{field} is empty")
        if _DIGITS.fullmatch(s) is None:
            found = _PROTOCOL_NAMES.get(s.upper())
            if found is None:
                raise invalid("invalid protocol", field, s)
            return found
        v = int(s)
    n = uint(v, field, 256)
    if n is None:
        raise Bad("missing protocol", f"{field} is not set")
    return _PROTOCOL_NUMBERS.get(n, ("OTHER", n))


# ------------------------------------------------------------------- labels


@lru_cache(maxsize=8192)
def _labels_from_text(s: str, field: str, kv: bool) -> tuple | Bad:
    """Parse a label string (JSON object, or ``k=v,k=v`` when ``kv``); cached, returns a Bad
    instead of raising so the cache never holds an exception with a traceback."""
    if s[0] == "{":
        try:
            d = json.loads(s)
        except (ValueError, RecursionError):
            return malformed(field, s)
        if type(d) is not dict:
            return malformed(field, s)
        items: Iterable = d.items()
    elif kv:
        pairs = []
        for part in s.split(","):
            key, eq, value = part.partition("=")
            if not eq:
                return invalid("invalid labels", field, part)
            # Spaces around items are allowed ("a=b, c=d"); other whitespace (a line break,
            # a tab) is part of the key or value, which then fails the syntax check.
            pairs.append((key.strip(" "), value.strip(" ")))
        items = pairs
    else:
        return malformed(field, s)
    try:
        return _checked_labels(items, field)
    except Bad as bad:
        return bad


def _checked_labels(items: Iterable, field: str) -> tuple:
    out: dict[str, str] = {}
    for item in items:
        if type(item) not in (tuple, list) or len(item) != 2:
            raise malformed(field, item)
        key, value = item
        if not put_label(out, key, value, field):
            raise invalid("conflicting labels", field, key)
    return tuple(sorted(out.items()))


def labels(v: Any, field: str, *, kv: bool = True, pairs: bool = False) -> tuple | None:
    """Pod labels as sorted (key, value) tuples, every key and value checked.

    Accepts a mapping, a JSON object string, (when ``kv``) a ``k=v,k=v`` string and (when
    ``pairs``) a list of (key, value) pairs, which is how a Parquet map reads. Null or an empty
    string = unknown (None); ``{}`` = known to have none (an empty tuple).
    """
    if v is None:
        return None
    if type(v) is dict:
        return _checked_labels(v.items(), field)
    if type(v) is list and pairs:
        return _checked_labels(v, field)
    s = text(v, field, 65536)
    if s is None:
        return None
    out = _labels_from_text(s, field, kv)
    if isinstance(out, Bad):
        raise Bad(out.reason, out.detail)  # a fresh exception, not the cached object
    return out


# ------------------------------------------------------------------- time

_NAIVE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9})\d*)?", re.ASCII
)
_NUMBER = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,9})?", re.ASCII)
_UNITS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


def _from_number(n: Decimal | int, field: str, value: Any, unit: str | None) -> int:
    if unit is None:  # by magnitude: seconds until year 5138, then ms, us, ns
        a = abs(n)
        unit = "s" if a < 10**11 else "ms" if a < 10**14 else "us" if a < 10**17 else "ns"
    ns = int(n * _UNITS[unit])
    if not _NS_MIN <= ns <= _NS_MAX:
        raise invalid("invalid time", field, value)
    return ns


def time_ns(v: Any, field: str, *, unit: str | None = None) -> int | None:
    """Nanoseconds since the epoch (UTC), or None for null/empty.

    Accepts RFC 3339 with ``Z`` or an offset, ``YYYY-MM-DD hh:mm:ss[.fff]`` without a zone
    (taken as UTC, as ClickHouse prints ``DateTime`` on a UTC server), epoch numbers (``unit``
    ``s``/``ms``/``us``/``ns``, or guessed from the magnitude when None) as int, float or
    digits, and ``datetime`` objects (naive = UTC).
    """
    if v is None:
        return None
    t = type(v)
    if t is bool:
        raise malformed(field, v)
    if t is int:
        return _from_number(v, field, v, unit)
    if t is float:
        if v != v or v in (float("inf"), float("-inf")):
            raise invalid("invalid time", field, v)
        return _from_number(Decimal(repr(v)), field, v, unit)
    if isinstance(v, datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=UTC)
        micros = (v - _EPOCH) // _MICROSECOND
        return _from_number(micros * 1000 + getattr(v, "nanosecond", 0), field, v, "ns")
    s = text(v, field, 64)
    if s is None:
        return None
    if _NUMBER.fullmatch(s):
        try:
            return _from_number(Decimal(s), field, v, unit)
        except InvalidOperation:  # pragma: no cover - the regex admits only decimals
            raise invalid("invalid time", field, v) from None
    ns = parse_time(s)
    if ns is not None:
        return ns
    m = _NAIVE_TIME.fullmatch(s)
    if m is not None:
        y, mo, d, h, mi, sec, frac = m.groups()
        try:
            days = date(int(y), int(mo), int(d)).toordinal() - _EPOCH_ORDINAL
        except ValueError:
            raise invalid("invalid time", field, v) from None
        if int(h) > 23 or int(mi) > 59 or int(sec) > 60:
            raise invalid("invalid time", field, v)
        secs = days * 86400 + int(h) * 3600 + int(mi) * 60 + int(sec)
        return _from_number(secs * 10**9 + (int(frac.ljust(9, "0")) if frac else 0), field, v, "ns")
    raise invalid("invalid time", field, v)


def file_mtime_ns(path: str) -> int | None:
    """The file's modification time (ns), the fallback for sources without timestamps."""
    if remote.is_url(path):
        return remote.mtime_ns(path)
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


# ------------------------------------------------------------------- RFC 3339


@lru_cache(maxsize=4096)
def epoch_seconds(y: str, mo: str, d: str, h: str, mi: str, s: str, tz: str) -> int | None:
    """Seconds since the epoch of an RFC 3339 date, time and zone (the groups of a match);
    None for an impossible date or time. Cached: logs repeat their dates and hours."""
    try:
        days = date(int(y), int(mo), int(d)).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None
    hour, minute, sec = int(h), int(mi), int(s)
    if hour > 23 or minute > 59 or sec > 60:  # 60: a leap second, read leniently
        return None
    offset = 0
    if tz not in ("Z", "z"):
        oh, om = int(tz[1:3]), int(tz[-2:])
        if oh > 23 or om > 59:
            return None
        offset = (oh * 3600 + om * 60) * (1 if tz[0] == "+" else -1)
    return days * 86400 + hour * 3600 + minute * 60 + sec - offset


def parse_time(value: Any) -> int | None:
    """Nanoseconds since the epoch (UTC) for an RFC 3339 string, else None.

    Lenient: 0 to 9 fraction digits (more are truncated), ``T``/``t``/space, ``Z`` or an
    offset. The result fits ``timestamp('ns')``.
    """
    if type(value) is not str or len(value) > 64:
        return None
    m = _TIME_RE.fullmatch(value)
    if m is None:
        return None
    y, mo, d, h, mi, s, frac, tz = m.groups()
    secs = epoch_seconds(y, mo, d, h, mi, s, tz)
    if secs is None:
        return None
    ns = secs * 1_000_000_000 + (int(frac.ljust(9, "0")) if frac else 0)
    if not _NS_MIN <= ns <= _NS_MAX:
        return None
    return ns
