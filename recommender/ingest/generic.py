"""Generic flows: any CSV or Parquet file with the documented column mapping.

The mapping, the accepted spellings and what is rejected are in ``docs/generic-format.md``;
this module is its implementation. It is a *whole-file* format (like ``parquet``): the file is
streamed by :func:`iter_batches`, which fills the record accounting itself, rather than handed
record by record to a parser.

* CSV: UTF-8 (a BOM is fine), optionally gzip-compressed, one header line, comma-separated,
  standard quoting. Read with ``pyarrow.csv.open_csv`` in 1 MiB blocks, every column as raw
  bytes, so memory stays bounded and one bad cell costs one row, never the file (also a
  row of binary garbage; gzip damage ends the file after the last complete row before it,
  see :class:`_CSVInput`).
  ``source_record`` is the physical line number (the header is line 1), also after quoted
  values that span lines (see :class:`_Lines`).
* Parquet that is *not* a flow table written by ``ingest`` but has the mapped columns (typed
  columns are accepted: integers, timestamps, booleans, maps for labels). ``source_record`` is
  the 1-based row number.

Detection (:func:`claims`): a record file whose first line is a CSV header naming the required
columns, or a Parquet file that lacks the flow-table columns but has the required ones.

This module also holds the value parsers (names, addresses, ports, labels, times) that the
``antrea`` and ``gadget`` readers share: each raises :class:`~recommender.ingest.common.Bad`
with a rejection reason and a detail that names the field, and accepts any Python value
without raising anything else.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from heapq import heappop, heappush
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from recommender.accounting import RecordCounts
from recommender.ingest.common import (
    RECORD_ERRORS,
    Bad,
    RecordParser,
    canonical_address,
    family,
    invalid,
    malformed,
    put_label,
)
from recommender.ingest.hubble import parse_time as parse_rfc3339
from recommender.ingest.sources import InputError, new_row
from recommender.schema import ENDPOINT_KINDS, FLOW_SCHEMA, SCHEMA_VERSION
from recommender.validate import is_dns1123_label, is_dns1123_subdomain, truncated_repr

NAME = "generic"

#: Every column the mapping knows (lower case; header names match case-insensitively).
COLUMNS = (
    "time",
    "time_end",
    "src_ip",
    "src_port",
    "src_namespace",
    "src_pod",
    "src_labels",
    "src_kind",
    "dst_ip",
    "dst_port",
    "dst_namespace",
    "dst_pod",
    "dst_labels",
    "dst_kind",
    "protocol",
    "verdict",
    "is_reply",
    "flows",
    "observer",
)
#: CSV bytes parsed per block; a CSV line longer than this ends the file (one rejection).
BLOCK_SIZE = 1 << 20
#: Bytes of a file inspected to find a CSV header.
HEADER_BYTES = 64 * 1024
_PARQUET_MAGIC = b"PAR1"
_GZIP_MAGIC = b"\x1f\x8b"
#: Compressed bytes per zlib call when a CSV is gunzipped here (see :class:`_CSVInput`).
_GZIP_PIECE = 16 * 1024
#: U+FFFD in UTF-8: what _CSVInput puts in place of bytes that are not UTF-8.
_REPLACEMENT = "\ufffd".encode()

# timestamp('ns') is an int64: 1677-09-21 .. 2262-04-11.
_NS_MIN = -(2**63)
_NS_MAX = 2**63 - 1
_INT64_MAX = 2**63 - 1
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _EPOCH


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
    ns = parse_rfc3339(s)
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
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


# =========================================================================== the mapping

_VERDICTS = {
    "allowed": "allowed",
    "allow": "allowed",
    "accept": "allowed",
    "accepted": "allowed",
    "forwarded": "allowed",
    "permit": "allowed",
    "permitted": "allowed",
    "denied": "denied",
    "deny": "denied",
    "drop": "denied",
    "dropped": "denied",
    "reject": "denied",
    "rejected": "denied",
    "block": "denied",
    "blocked": "denied",
    "audit": "audit",
    "redirected": "redirected",
    "error": "error",
    "unknown": "unknown",
}
_BOOLEANS = {
    "true": True,
    "t": True,
    "yes": True,
    "y": True,
    "1": True,
    "false": False,
    "f": False,
    "no": False,
    "n": False,
    "0": False,
}
_KINDS = frozenset(ENDPOINT_KINDS)
_POLICY_PROTOCOLS = ("TCP", "UDP", "SCTP")


def has_required(names: Iterable[str]) -> bool:
    """Do these column names (any case) carry the required columns?"""
    s = {n.strip().lower() for n in names if isinstance(n, str)}
    src = "src_ip" in s or {"src_namespace", "src_pod"} <= s
    dst = "dst_ip" in s or {"dst_namespace", "dst_pod"} <= s
    return src and dst and "dst_port" in s and "protocol" in s


def _missing_required(names: Iterable[str]) -> str:
    s = {n.strip().lower() for n in names if isinstance(n, str)}
    missing = [c for c in ("dst_port", "protocol") if c not in s]
    for side in ("src", "dst"):
        if f"{side}_ip" not in s and not {f"{side}_namespace", f"{side}_pod"} <= s:
            missing.append(f"{side}_ip (or {side}_namespace and {side}_pod)")
    return ", ".join(missing)


def _column_map(names: list[str], path: str) -> dict[str, str]:
    """Mapped column (lower case) -> the file's own column name."""
    found: dict[str, str] = {}
    for n in names:
        key = n.strip().lower() if isinstance(n, str) else None
        if key in COLUMNS:
            if key in found:
                raise InputError(f"{path}: column {key!r} appears twice in the header")
            found[key] = n
    if not has_required(found):
        raise InputError(
            f"{path}: not a generic flow file (missing columns: {_missing_required(found)}); "
            "see docs/generic-format.md"
        )
    return found


def _bool(v: Any, field: str) -> bool | None:
    if v is None:
        return None
    if type(v) is bool:
        return v
    if type(v) is int and v in (0, 1):
        return bool(v)
    s = text(v, field, 16)
    if s is None:
        return None
    out = _BOOLEANS.get(s.lower())
    if out is None:
        raise invalid("invalid is_reply", field, v)
    return out


def _endpoint(row: dict, side: str, get: Callable[[str], Any]) -> str | None:
    """Fill ``{side}_*`` from the ``{side}_*`` columns; returns the address (or None)."""
    address = ip(get(f"{side}_ip"), f"{side}_ip")
    ns = namespace(get(f"{side}_namespace"), f"{side}_namespace")
    pod = pod_name(get(f"{side}_pod"), f"{side}_pod")
    lab = labels(get(f"{side}_labels"), f"{side}_labels", pairs=True)
    kind = text(get(f"{side}_kind"), f"{side}_kind", 32)
    if pod is not None and ns is None:
        raise Bad("missing namespace", f"{side}_pod={truncated_repr(pod)} without {side}_namespace")
    if kind is not None:
        kind = kind.lower()
        if kind not in _KINDS:
            raise invalid("invalid kind", f"{side}_kind", kind)
    elif pod is not None:
        kind = "pod"
    else:
        kind = "unknown"
    if kind == "pod" and pod is None:
        raise Bad("missing endpoint", f"{side}_kind is pod but {side}_pod is empty")
    if address is None and pod is None:
        raise Bad("missing endpoint", f"neither {side}_ip nor {side}_namespace/{side}_pod is set")
    row[f"{side}_ip"] = address
    row[f"{side}_kind"] = kind
    row[f"{side}_namespace"] = ns
    row[f"{side}_pod"] = pod
    row[f"{side}_labels"] = lab
    return address


def parse_row(
    get: Callable[[str], Any], default_time: int | None, units: dict[str, str] | None = None
) -> dict:
    """One mapped row (``get(column)`` -> cell value or None) -> a FLOW_SCHEMA row dict.

    ``default_time`` stands in when the file has no ``time`` column; ``units`` fixes the
    epoch unit of a time column (Parquet timestamps arrive as int64 nanoseconds).
    """
    units = units or {}
    row = new_row()
    src_ip = _endpoint(row, "src", get)
    dst_ip = _endpoint(row, "dst", get)
    row["ip_family"] = family(src_ip, dst_ip)

    proto, number = protocol(get("protocol"), "protocol")
    row["protocol"] = proto
    row["protocol_number"] = number
    if proto in _POLICY_PROTOCOLS:
        dport = port(get("dst_port"), "dst_port")
        if dport is None:
            raise Bad("missing port", f"dst_port is empty for {proto}")
        row["dst_port"] = dport
        row["src_port"] = port(get("src_port"), "src_port")

    start = time_ns(get("time"), "time", unit=units.get("time"))
    if start is None:
        start = default_time
        if start is None:
            raise Bad("missing time", "time is empty")
    end = time_ns(get("time_end"), "time_end", unit=units.get("time_end"))
    if end is None:
        end = start
    elif end < start:
        raise Bad("invalid time", f"time_end before time ({end} < {start} ns)")
    row["time_start"] = start
    row["time_end"] = end

    verdict = text(get("verdict"), "verdict", 32)
    if verdict is None:
        row["verdict"] = "unknown"
    else:
        key = verdict.lower()
        mapped = _VERDICTS.get(key)
        if mapped is None:
            raise invalid("invalid verdict", "verdict", verdict)
        row["verdict"] = mapped
        row["verdict_raw"] = key  # the table's spelling, never arbitrary text
    reply = _bool(get("is_reply"), "is_reply")
    row["is_reply"] = bool(reply)
    flows = uint(get("flows"), "flows")
    if flows == 0:
        raise malformed("flows", 0)
    row["flows"] = flows or 1
    row["aggregated"] = row["flows"] > 1
    row["observer"] = node_name(get("observer"), "observer")
    row["reporter"] = "unknown"
    row["direction"] = "unknown"
    row["schema_version"] = SCHEMA_VERSION
    row["source_format"] = NAME
    return row


# =========================================================================== files


def _head(path: str, size: int = HEADER_BYTES) -> bytes:
    """The first ``size`` bytes of the content (gunzipped when gzip), as far as readable
    (damage further on, even a bad CRC of a small file, never hides the header)."""
    with open(path, "rb") as f:
        return _content_head(f.read(size), size)


def _content_head(head: bytes, size: int = HEADER_BYTES) -> bytes:
    """The content of the first bytes of a file, gunzipped when they are gzip (see _head)."""
    if head[:2] != _GZIP_MAGIC:
        return head
    d = zlib.decompressobj(wbits=31)
    saved = d.copy()
    try:
        return d.decompress(head, size)
    except zlib.error:
        # zlib drops the output of a call that fails: what came before the damage.
        return _inflate_until_error(saved, head, size)


def _is_empty(path: str) -> bool:
    """Is the content nothing but whitespace (or a BOM), also once gunzipped? Never raises."""
    try:
        with open(path, "rb") as f:
            data = f.read(HEADER_BYTES)
    except OSError:
        return False
    if len(data) >= HEADER_BYTES:
        return False
    if data[:2] == _GZIP_MAGIC:
        d = zlib.decompressobj(wbits=31)
        try:
            content = d.decompress(data, HEADER_BYTES)
        except zlib.error:
            return False
        if not d.eof or d.unused_data or d.unconsumed_tail:
            return False
        data = content
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return not data.strip()


def _csv_header(path: str) -> list[str] | None:
    """The header of a CSV file (None when the first line is not one)."""
    try:
        head = _head(path)
    except OSError:
        return None
    return _header_of(head)


def _header_of(head: bytes) -> list[str] | None:
    """The CSV header on the first line of content (None when it is not one)."""
    line = head.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        decoded = line.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if not decoded.strip() or decoded.lstrip()[:1] in ("{", "["):
        return None
    try:
        return next(csv.reader([decoded]))
    except (csv.Error, StopIteration):
        return None


def _is_parquet(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == _PARQUET_MAGIC
    except OSError:
        return False


def claims(path: str) -> bool:
    """Is this a generic flow file (see the module docstring)? Never raises."""
    if _is_parquet(path):
        try:
            import pyarrow.parquet as pq  # on use: Hubble ingest workers never need it

            names = pq.read_schema(path).names
        except (OSError, pa.ArrowException):
            return False
        if all(n in names for n in FLOW_SCHEMA.names):
            return False  # a flow table: the ``parquet`` format
        return has_required(names)
    header = _csv_header(path)
    return header is not None and has_required(header)


def claims_head(head: bytes) -> bool:
    """Would :func:`claims` take a CSV file that starts with these bytes (plain or gzip)?
    For input that cannot be opened twice (standard input)."""
    header = _header_of(_content_head(head))
    return header is not None and has_required(header)


class _Batcher:
    """Rows (dicts from ``new_row``, schema order) -> FLOW_SCHEMA record batches."""

    def __init__(self, path: str, batch_size: int) -> None:
        self.path = path
        self.batch_size = batch_size
        self.rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any], number: int) -> pa.RecordBatch | None:
        row["source_file"] = self.path
        row["source_record"] = number
        self.rows.append(row)
        if len(self.rows) >= self.batch_size:
            return self.flush()
        return None

    def flush(self) -> pa.RecordBatch:
        columns = list(zip(*map(tuple, map(dict.values, self.rows)), strict=True))
        self.rows = []
        arrays = [
            pa.array(values, type=field.type)
            for field, values in zip(FLOW_SCHEMA, columns, strict=True)
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=FLOW_SCHEMA)


def _one_line(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    return msg[:200] if msg else type(exc).__name__


def _add(
    batcher: _Batcher,
    counts: RecordCounts,
    path: str,
    number: int,
    get: Callable[[str], Any],
    default_time: int | None,
    units: dict[str, str] | None = None,
) -> pa.RecordBatch | None:
    try:
        row = parse_row(get, default_time, units)
    except Bad as bad:
        counts.add_rejected(path, number, bad.reason, bad.detail)
        return None
    except (*RECORD_ERRORS, OverflowError) as exc:
        counts.add_rejected(path, number, "malformed record", _one_line(exc))
        return None
    counts.add_normalized()
    return batcher.add(row, number)


def _decoded(keys: list[str], values: tuple) -> dict[str, str | None] | Bad:
    """CSV cells (bytes) as text; empty cells are None."""
    cells: dict[str, str | None] = {}
    for key, value in zip(keys, values, strict=True):
        if not value:
            cells[key] = None
            continue
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Bad("invalid UTF-8", f"{key}: byte {exc.start}: {truncated_repr(value)}")
        if "\ufffd" in text:  # an invalid byte, replaced as the file was read (_CSVInput)
            at = value.find(_REPLACEMENT)
            return Bad("invalid UTF-8", f"{key}: byte {at}: {truncated_repr(value)}")
        cells[key] = text
    return cells


class _Lines:
    """Physical line numbers for the rows of a CSV stream.

    pyarrow numbers rows as if no value contained a line break (its invalid-row numbers do
    too). Rows come out in order, so the line breaks inside the values of the rows before a
    row (counted in every column) turn its pyarrow number into its physical line. Rows pyarrow
    could not split (wrong field count) are queued by their pyarrow number when it reports
    them, which is before the block they belong to is handed out, and are placed, counted and
    reported in file order as the valid rows around them are numbered.
    """

    def __init__(self, path: str, counts: RecordCounts) -> None:
        self.path = path
        self.counts = counts
        self.number = 1  # pyarrow's number of the last row placed (the header is 1)
        self.offset = 0  # line breaks inside the values placed so far
        self.invalid: list[tuple[int, int, Any]] = []  # (pyarrow number, seq, row)
        self.seq = 0

    def on_invalid(self, row: Any) -> str:
        self.seq += 1
        number = row.number if row.number is not None else self.number + 1
        heappush(self.invalid, (number, self.seq, row))
        return "skip"

    def _place_invalid(self) -> None:
        number, _, row = heappop(self.invalid)
        text = row.text or ""
        if text.strip():  # a blank line is not a record
            self.counts.add_rejected(
                self.path,
                number + self.offset,
                "malformed record: column count",
                f"{row.actual_columns} fields, header has {row.expected_columns}: "
                f"{truncated_repr(text, 80)}",
            )
        self.offset += text.count("\n")

    def next_row(self) -> int:
        """The physical line of the next valid row."""
        self.number += 1
        while self.invalid and self.invalid[0][0] <= self.number:
            taken = self.invalid[0][0] == self.number
            self._place_invalid()
            if taken:
                self.number += 1
        return self.number + self.offset

    def breaks(self, n: int) -> None:
        """The row just placed had ``n`` line breaks inside its values."""
        self.offset += n

    def finish(self) -> int:
        """Place the remaining invalid rows; returns the next physical line."""
        while self.invalid:
            self.number = max(self.number, self.invalid[0][0])
            self._place_invalid()
        return self.number + self.offset + 1


class _CSVInput:
    """The bytes of a CSV file as pyarrow's CSV reader gets them (a Python file object).

    * Invalid UTF-8 is replaced by U+FFFD, so that a garbage row with the wrong field count
      reaches the invalid-row handler (pyarrow decodes that row's text strictly and, when it
      cannot, fails the whole read); a cell with U+FFFD is rejected as ``invalid UTF-8``.
    * gzip is inflated here, in small pieces, so that damage (truncation, garbage, a bad CRC)
      ends the content cleanly after the last complete line before it: those rows are read,
      and :attr:`error` says what happened (the caller reports one rejected record). The
      unfinished line cut by the damage is never handed out, so no row is read truncated.
      Output is bounded per step (a decompression bomb cannot blow up memory).
    """

    def __init__(self, raw: Any, gz: bool) -> None:
        self.raw = raw
        self.inflate = zlib.decompressobj(wbits=31) if gz else None
        self.member = False  # inside a gzip member
        self.feed = b""  # compressed bytes read, from ``pos`` on not yet inflated
        self.pos = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.buf = bytearray()  # ready for pyarrow
        self.held = bytearray()  # gzip: the unfinished last line, until it is complete
        self.done = False
        self.error: str | None = None
        self.closed = False

    # -- the file object pyarrow reads
    def read(self, n: int = -1) -> bytes:
        while (n < 0 or len(self.buf) < n) and not self.done:
            self._produce()
        if n < 0 or n > len(self.buf):
            n = len(self.buf)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True

    # -- producing content
    def _produce(self) -> None:
        if self.inflate is None:
            data = self.raw.read(BLOCK_SIZE)
            self.done = not data
        else:
            data = self._inflated()
        if self.decoder.getstate()[0] or not data.isascii():
            data = self.decoder.decode(data, self.done).encode("utf-8")
        if self.inflate is None:
            self.buf += data
            return
        self.held += data
        if self.done and self.error is None:
            cut = len(self.held)
        else:
            cut = self.held.rfind(b"\n") + 1
            if cut == 0 and len(self.held) > 2 * BLOCK_SIZE:
                cut = len(self.held)  # an over-long line: pyarrow reports it
        if cut:
            self.buf += self.held[:cut]
            del self.held[:cut]
        if self.done:
            self.held.clear()  # the unfinished line the damage cut, lost with the stream

    def _inflated(self) -> bytes:
        """The next piece of gunzipped content (b"" once done; sets :attr:`error`)."""
        d = self.inflate
        while True:
            if d.unconsumed_tail:
                data = d.unconsumed_tail
            else:
                if self.pos >= len(self.feed):
                    self.feed, self.pos = self.raw.read(BLOCK_SIZE), 0
                    if not self.feed:
                        return self._end()
                data = self.feed[self.pos : self.pos + _GZIP_PIECE]
                self.pos += len(data)
                self.member = True
            saved = d.copy()
            try:
                out = d.decompress(data, BLOCK_SIZE)
            except zlib.error as exc:
                # zlib drops the output of the failing call: inflate the piece again byte
                # by byte, up to the damage (a bad CRC fails only after the last byte).
                self.done = True
                self.error = f"corrupt gzip: {exc}"
                return _inflate_until_error(saved, data)
            if d.eof:  # end of one member; what follows may be another member
                self.feed, self.pos = d.unused_data + self.feed[self.pos :], 0
                self.inflate = d = zlib.decompressobj(wbits=31)
                self.member = False
            if out:
                return out

    def _end(self) -> bytes:
        self.done = True
        if not self.member:
            return b""
        self.error = "corrupt gzip: compressed stream ended before the end-of-stream marker"
        try:
            return self.inflate.flush()
        except zlib.error:
            return b""


def _inflate_until_error(d: Any, data: bytes, limit: int = 16 * BLOCK_SIZE) -> bytes:
    """What ``d`` inflates from ``data`` before the first error (fed one byte at a time),
    at most ``limit`` bytes."""
    out = bytearray()
    try:
        for i in range(len(data)):
            out += d.decompress(data[i : i + 1])
            if len(out) >= limit or d.eof:
                break
    except zlib.error:
        pass
    return bytes(out[:limit])


def _line_breaks(batch: pa.RecordBatch) -> Any:
    """Per row, the line breaks inside its values (all columns), as a NumPy array."""
    total = None
    for column in batch.columns:
        n = pc.count_substring(column, "\n").to_numpy(zero_copy_only=False)
        total = n if total is None else total + n
    return total


def _csv_batches(
    path: str,
    counts: RecordCounts,
    batch_size: int,
    progress: Callable[[int], None] | None,
) -> Iterator[pa.RecordBatch]:
    header = _csv_header(path)
    if header is None:
        if _is_empty(path):  # (``--format generic``): no records, like any format
            return
        raise InputError(f"{path}: not a generic flow file (no CSV header line)")
    mapping = _column_map(header, path)
    default_time = file_mtime_ns(path) if "time" not in mapping else None
    lines = _Lines(path, counts)

    try:
        raw = pa.OSFile(path, "rb")
        size = os.path.getsize(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {_one_line(exc)}") from None
    reported = 0
    try:
        gz = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        stream = _CSVInput(raw, gz)
        import pyarrow.csv as pacsv  # on use: Hubble ingest workers never need it

        reader = pacsv.open_csv(
            stream,
            # Serial reading: the invalid-row callback runs in file order, before the block's
            # batch is handed out (what _Lines relies on). The header as parsed here names
            # the columns, so the mapping always matches.
            read_options=pacsv.ReadOptions(
                block_size=BLOCK_SIZE, use_threads=False, column_names=header, skip_rows=1
            ),
            parse_options=pacsv.ParseOptions(
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=lines.on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                # Every column (raw bytes): unmapped ones are needed to count line breaks.
                column_types={n: pa.binary() for n in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (OSError, pa.ArrowException) as exc:
        # The header was readable, the first block is not (a line over BLOCK_SIZE): one
        # rejected record, like damage further on.
        raw.close()
        counts.add_rejected(path, lines.finish(), "unreadable CSV", _one_line(exc))
        return

    batcher = _Batcher(path, batch_size)
    keys = list(mapping)
    try:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (OSError, pa.ArrowException) as exc:
                # Damage past this point (an over-long line): the rows before it are kept,
                # the rest of the file is one rejected record.
                counts.add_rejected(path, lines.finish(), "unreadable CSV", _one_line(exc))
                stream.error = None  # reported
                break
            names = batch.schema.names
            columns = [batch.column(names.index(mapping[k])).to_pylist() for k in keys]
            breaks = _line_breaks(batch)
            for i, values in enumerate(zip(*columns, strict=True)):
                line = lines.next_row()
                lines.breaks(int(breaks[i]))
                if not any(values):
                    continue  # a blank line (or only separators): not a record
                cells = _decoded(keys, values)
                if isinstance(cells, Bad):
                    counts.add_rejected(path, line, cells.reason, cells.detail)
                    continue
                out = _add(batcher, counts, path, line, cells.get, default_time)
                if out is not None:
                    yield out
            if progress is not None:
                now = min(raw.tell(), size)
                if now > reported:
                    progress(now - reported)
                    reported = now
        end = lines.finish()
        if stream.error is not None:
            # A corrupt gzip stream: the rows before the damage were read; the line it cut
            # (and whatever followed) is one rejected record.
            counts.add_rejected(path, end, "unreadable CSV", stream.error)
    finally:
        raw.close()
    if batcher.rows:
        yield batcher.flush()
    if progress is not None and size > reported:
        progress(size - reported)


def _parquet_column(column: pa.ChunkedArray | pa.Array) -> list:
    t = column.type
    if pa.types.is_dictionary(t):
        column = column.cast(t.value_type)
        t = column.type
    if pa.types.is_timestamp(t):
        # Arrow keeps tz-aware timestamps in UTC; naive ones are read as UTC wall time.
        return column.cast(pa.timestamp("ns", tz=t.tz)).cast(pa.int64()).to_pylist()
    return column.to_pylist()


def _parquet_batches(
    path: str,
    counts: RecordCounts,
    batch_size: int,
    progress: Callable[[int], None] | None,
) -> Iterator[pa.RecordBatch]:
    try:
        import pyarrow.parquet as pq  # on use: Hubble ingest workers never need it

        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: unreadable Parquet file: {_one_line(exc)}") from None
    try:
        mapping = _column_map(names, path)
        default_time = file_mtime_ns(path) if "time" not in mapping else None
        # Timestamp columns arrive as int64 nanoseconds: no unit guessing for them.
        units = {
            k: "ns"
            for k in ("time", "time_end")
            if k in mapping and pa.types.is_timestamp(pf.schema_arrow.field(mapping[k]).type)
        }
        size = os.path.getsize(path)
        total = max(pf.metadata.num_rows, 1)
        batcher = _Batcher(path, batch_size)
        keys = list(mapping)
        number = done = reported = 0
        try:
            for batch in pf.iter_batches(batch_size=batch_size, columns=list(mapping.values())):
                columns = [_parquet_column(batch.column(mapping[k])) for k in keys]
                for values in zip(*columns, strict=True):
                    number += 1
                    cells = dict(zip(keys, values, strict=True))
                    out = _add(batcher, counts, path, number, cells.get, default_time, units)
                    if out is not None:
                        yield out
                done += batch.num_rows
                if progress is not None:
                    now = size * done // total
                    progress(now - reported)
                    reported = now
        except (OSError, pa.ArrowException) as exc:
            counts.add_rejected(path, number + 1, "unreadable Parquet", _one_line(exc))
        if batcher.rows:
            yield batcher.flush()
        if progress is not None and size > reported:
            progress(size - reported)
    finally:
        pf.close()


def iter_batches(
    path: str,
    counts: RecordCounts,
    *,
    batch_size: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> Iterator[pa.RecordBatch]:
    """FLOW_SCHEMA batches from one generic CSV or Parquet file, filling ``counts``.

    Raises InputError (naming the file) when the file lacks the required columns or cannot
    be opened; anything wrong inside it is a rejected record with its line.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    if _is_parquet(path):
        return _parquet_batches(path, counts, batch_size, progress)
    return _csv_batches(path, counts, batch_size, progress)


# --------------------------------------------------------------------------- registry shims


def looks_like(record: Any) -> bool:
    """Generic files are recognised whole (:func:`claims`), never from a JSON record."""
    return False


class Parser(RecordParser):
    """Only reached when ``--format generic`` is given for a JSON record file: every record
    is rejected (the generic format is CSV or Parquet, read by :func:`iter_batches`)."""

    name = NAME

    def _parse(self, record: Any) -> dict:
        raise Bad(
            "malformed record: not a CSV/Parquet row",
            "the generic format reads CSV or Parquet files (docs/generic-format.md)",
        )
