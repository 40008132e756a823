"""Hubble JSON lines -> FLOW_SCHEMA batches, fast, with the exact results of ``hubble.Parser``.

The reference parser (:mod:`recommender.ingest.hubble`) reads every record into Python dicts
with ``json`` and builds one row dict per record: about 30,000 records/s. This module reads
the same files about five times faster and gives the very same rows, counts and rejections:

* **Typed decoding.** ``msgspec`` decodes each line into small Structs holding only the
  fields the parser uses; endpoints and rare sub-objects stay undecoded (``msgspec.Raw``).
* **One rulebook, applied per distinct value.** Every decision about a value (verdict,
  orientation, reporter, endpoint kind, ...) is a function of :mod:`.hubble_rules`, the
  ones the reference parser calls. An endpoint (``source``/``destination``) is the same
  handful of bytes for every record of a pod, so its columns are computed once per distinct
  byte string (:func:`hubble_rules.endpoint`) and reused. Everything else about a record
  except its time, addresses and ports (verdict, node, direction, flags, observation point,
  L7, service, ...) is keyed by a tuple of those few values and computed once per distinct
  tuple (:func:`_meta`). The hot loop itself decides nothing: it decodes, looks up caches
  and folds. The caches are bounded (cleared between batches when large).
* **Columns, not rows.** A record becomes a 9-tuple (line, time, addresses, ports and the
  three cache ids); a batch is built column-wise, cached parts with one Arrow ``take``.
* **Folding, for the aggregator.** With ``fold=True`` (``run``, ``iter_batches``) records
  the connections aggregator would count the same become one row before any Arrow work
  (:class:`_Folder`); only the aggregator reads such batches.
* **Exactness by fallback.** Whatever the fast path does not fully understand, it hands to
  the reference path, line by line: JSON that ``msgspec`` refuses or types that differ from
  the common shape, non-flow records, bare (legacy) flows, and every record the reference
  parser would reject. Before decoding, lines that ``json`` could treat differently from
  ``msgspec`` (non-ASCII bytes that are not UTF-8, deep nesting, integers too long for
  Python) go to the reference path too. So a rejected record always gets the reference
  reason, detail and line, and a valid record the reference row.

Which files take this path (:func:`probe`): JSON-lines files (plain or gzip) detected as
Hubble, or read with ``format="hubble"``, whose first ``LOOKAHEAD`` records contain a JSON
record. The legacy ``reply`` rule is decided from the same records as the reference
(``hubble.Parser(path, lookahead)``). Anything else (JSON arrays, text, no JSON in the
lookahead) is read by the reference path.

Without ``msgspec`` installed, :data:`AVAILABLE` is False and the reference path is used.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Annotated, Any

import numpy as np
import pyarrow as pa

from recommender.accounting import RecordCounts
from recommender.connections import (
    COLUMNS_READ,
    FOLDED_COLUMNS,
    aside_ports_by_class,
    excluded_by_class,
)
from recommender.ingest import hubble_rules as rules
from recommender.ingest.common import RECORD_ERRORS, Bad
from recommender.ingest.errors import InputError
from recommender.ingest.hubble import NAME, Parser
from recommender.ingest.sniff import BOM
from recommender.ingest.sources import (
    STDIN,
    WHITESPACE,
    Filtered,
    Rejected,
    content_mode,
    iter_line_blocks,
    open_input,
    opened_size,
    parse_line,
    record_lines,
)
from recommender.ingest.values import parse_time
from recommender.schema import FLOW_SCHEMA, SCHEMA_VERSION, TCP_FLAG_BITS

try:  # pragma: no branch
    import msgspec
    from msgspec import UNSET, Raw, Struct, UnsetType

    AVAILABLE = True
except ImportError:  # pragma: no cover - msgspec is a declared dependency
    AVAILABLE = False

__all__ = ["AVAILABLE", "FastParser", "Plan", "iter_batches", "probe"]

#: Most rows per batch this module hands out (see :func:`iter_batches`).
MAX_BATCH_ROWS = 16_384
#: Distinct values kept per cache before the caches are cleared (at a batch boundary).
CACHE_LIMIT = 20_000
#: Nesting depth the fast path accepts at most (less when the recursion limit leaves less
#: room): ``json`` fails on deep nesting (RecursionError) a few levels before ``msgspec``,
#: so a line that could nest deeper than this goes to the reference path.
MAX_DEPTH = 1000

Progress = Callable[[int], None] | None


class _Bail(Exception):
    """The fast path does not handle this record: use the reference parser."""


_BAIL = _Bail()

if AVAILABLE:

    class _IP(Struct, gc=False):
        source: str | None = None
        destination: str | None = None
        source_xlated: str | None = None

    #: TCP flags, each a boolean; any other key or value makes the record the reference
    #: parser's. Frozen, hence hashable: the folded bits are cached per distinct value.
    _Flags = msgspec.defstruct(
        "_Flags",
        [(name, bool | UnsetType, UNSET) for name in TCP_FLAG_BITS],
        frozen=True,
        forbid_unknown_fields=True,
        gc=False,
    )

    #: A port the reference parser accepts; any other value sends the record there.
    _Port = Annotated[int, msgspec.Meta(ge=0, lt=rules.PORT_LIMIT)]

    class _Ports(Struct, gc=False):
        source_port: _Port | None = None
        destination_port: _Port | None = None
        flags: _Flags | None = None  # type: ignore[valid-type]

    class _ICMP(Struct, gc=False):
        type: int | None = None
        code: int | None = None

    class _L4(Struct, gc=False):
        TCP: _Ports | None | UnsetType = UNSET
        UDP: _Ports | None | UnsetType = UNSET
        SCTP: _Ports | None | UnsetType = UNSET
        ICMPv4: _ICMP | None | UnsetType = UNSET
        ICMPv6: _ICMP | None | UnsetType = UNSET
        VRRP: dict | None | UnsetType = UNSET
        IGMP: dict | None | UnsetType = UNSET

    class _Event(Struct, frozen=True, gc=False):
        type: int | None = None
        sub_type: int | None = None

    class _Iface(Struct, frozen=True, gc=False):
        name: str | None = None

    class _Flow(Struct, gc=False):
        time: str | None = None
        verdict: str | int | None = None
        drop_reason_desc: str | None = None
        IP: _IP | None = None
        l4: _L4 | None = None
        source: Raw = None  # type: ignore[assignment]
        destination: Raw = None  # type: ignore[assignment]
        Type: str | None = None
        node_name: str | None = None
        source_names: Raw = None  # type: ignore[assignment]
        destination_names: Raw = None  # type: ignore[assignment]
        traffic_direction: str | None = None
        trace_reason: str | None = None
        is_reply: bool | None = None
        reply: bool | None = None
        destination_service: Raw = None  # type: ignore[assignment]
        l7: Raw = None  # type: ignore[assignment]
        egress_allowed_by: Raw = None  # type: ignore[assignment]
        ingress_allowed_by: Raw = None  # type: ignore[assignment]
        egress_denied_by: Raw = None  # type: ignore[assignment]
        ingress_denied_by: Raw = None  # type: ignore[assignment]
        aggregate: Raw = None  # type: ignore[assignment]
        event_type: _Event | None = None
        trace_observation_point: str | None = None
        interface: _Iface | None = None

    class _Record(Struct, gc=False):
        flow: _Flow | UnsetType = UNSET
        node_name: str | None = None
        time: str | None = None

    #: The typed shape a line decodes to: decoding alone is the floor of this module's
    #: speed (``benchmarks/floor.py`` measures it).
    RECORD = _Record


# --------------------------------------------------------------------------- columns

_T = {f.name: f.type for f in FLOW_SCHEMA}
#: The schema of folded batches before their FOLDED_COLUMNS: FLOW_SCHEMA with plain strings
#: where it dictionary-encodes a column the aggregator reads (it would decode them again).
_FOLD_BASE = pa.schema(
    [
        pa.field(f.name, f.type.value_type)
        if pa.types.is_dictionary(f.type) and f.name in COLUMNS_READ and f.name != "source_file"
        else f
        for f in FLOW_SCHEMA
    ]
)
_FOLD_T = {f.name: f.type for f in _FOLD_BASE}
#: Endpoint columns (per side), in the order of ``hubble_rules.endpoint``'s values.
_EP_COLS = rules.ENDPOINT_COLUMNS
#: Columns that depend only on the cached "meta" part of a record, in this order.
_META_COLS = (
    "observer",
    "cluster",
    "reporter",
    "direction",
    "is_reply",
    "verdict",
    "verdict_raw",
    "drop_reason",
    "ip_family",
    "protocol",
    "protocol_number",
    "icmp_type",
    "icmp_code",
    "src_names",
    "dst_names",
    "dst_service_namespace",
    "dst_service_name",
    "l7_protocol",
    "dns_query",
    "dns_ips",
    "policies",
    "flows",
    "aggregated",
    "tcp_flags",
    "extra",
)
#: Columns the Hubble parser never fills.
_NULL_COLS = frozenset(
    {
        "src_name_aggr",
        "dst_name_aggr",
        "dst_ip_original",
        "dst_port_original",
        "dst_service_port_name",
        "dst_service_port",
        "flows_started",
        "flows_completed",
        "packets_fwd",
        "bytes_fwd",
        "packets_rev",
        "bytes_rev",
    }
)
#: Positions in _META_COLS of the columns the connections aggregator reads: records whose
#: meta parts agree there fold together (see _Folder).
_CLASS_INDEX = tuple(i for i, c in enumerate(_META_COLS) if c in COLUMNS_READ)
_EXCLUSION_INDEX = tuple(
    _META_COLS.index(c) for c in ("is_reply", "l7_protocol", "verdict", "protocol")
)
_SRC_EP = tuple(f"src_{c}" for c in _EP_COLS)
_DST_EP = tuple(f"dst_{c}" for c in _EP_COLS)
_ROW_COLS = ("source_record", "time_start", "src_ip", "dst_ip", "src_port", "dst_port")
_KNOWN = (
    set(_SRC_EP)
    | set(_DST_EP)
    | set(_META_COLS)
    | set(_ROW_COLS)
    | {"time_end", "schema_version", "source_format", "source_file"}
)
#: False when FLOW_SCHEMA has columns this module does not know: the fast path is then off
#: (the reference parser reads everything) until this module learns them.
SCHEMA_KNOWN = set(FLOW_SCHEMA.names) == _KNOWN | _NULL_COLS

_NS_MAX = 2**63 - 1
_MAX_DIGITS = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
_LONG_INT = re.compile(rb"[0-9]{%d}" % (_MAX_DIGITS + 1)) if _MAX_DIGITS else None


_MINUTE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):", re.ASCII)
#: "SS." -> nanoseconds, for seconds 00..60 (60: a leap second, read as parse_time does).
_SECONDS = {f"{s:02d}.": s * 1_000_000_000 for s in range(61)}
#: Line length of "YYYY-MM-DDTHH:MM:SS.<d digits>Z" -> nanoseconds per fraction unit.
_FRACTION_SCALE = {21 + d: 10 ** (9 - d) for d in range(1, 10)}


def _minute(prefix: str) -> int | None:
    """Nanoseconds of a ``YYYY-MM-DDTHH:MM:`` prefix as ``parse_time`` computes them, or
    None (invalid, or so near the ends of timestamp[ns] that a full check is needed)."""
    if _MINUTE_RE.fullmatch(prefix) is None:
        return None
    ns = parse_time(prefix + "00Z")
    if ns is None or ns + 61 * 1_000_000_000 > _NS_MAX:
        return None
    return ns


#: "MM:" -> nanoseconds, for minutes 00..59.
_MINUTES = {f"{m:02d}:": m * 60_000_000_000 for m in range(60)}


class _TimeParser:
    """``parse_time``, fast for the common ``YYYY-MM-DDTHH:MM:SS.f{1,9}Z`` form (the
    minute is cached, and filled from a cache per hour: a sparse log has few records per
    minute); any other form goes to ``parse_time`` itself."""

    def __init__(self) -> None:
        self.minutes: dict[str, int | None] = {}
        self.hours: dict[str, int | None] = {}

    def minute(self, prefix: str) -> int | None:
        """``_minute(prefix)`` for a ``YYYY-MM-DDTHH:MM:`` prefix, cached."""
        hour = self.hours.get(prefix[:14], -1)
        if hour == -1:
            if len(self.hours) >= CACHE_LIMIT:
                self.hours.clear()
            hour = self.hours[prefix[:14]] = _minute(prefix[:14] + "00:")
        minute = _MINUTES.get(prefix[14:17])
        if hour is None or minute is None or hour + minute + 61 * 1_000_000_000 > _NS_MAX:
            base = None
        else:
            base = hour + minute
        if len(self.minutes) >= CACHE_LIMIT:
            self.minutes.clear()
        self.minutes[prefix] = base
        return base

    def __call__(self, t: str) -> int | None:
        scale = _FRACTION_SCALE.get(len(t))
        if scale is not None and t[-1] == "Z":
            base = self.minutes.get(t[:17], -1)
            if base == -1:
                base = self.minute(t[:17])
            second = _SECONDS.get(t[17:20])
            frac = t[20:-1]
            if base is not None and second is not None and frac.isdigit() and frac.isascii():
                return base + second + int(frac) * scale
        return parse_time(t)


# --------------------------------------------------------------------------- pure parts


def _loads(raw: bytes) -> Any:
    return json.loads(raw.decode("utf-8"))


#: What a rule (or ``json``) may raise for a value the fast path then leaves to the reference.
_GUARDED = (Bad, *RECORD_ERRORS, RecursionError)


def _endpoint(raw: bytes | None) -> tuple[tuple, bool, Any]:
    """(column values in _EP_COLS order, has a local ID, cluster) of an endpoint; the
    cluster only when local, as ``hubble_rules.record_cluster`` reads no other (so remote
    endpoints' clusters do not multiply the meta keys)."""
    values, local = rules.endpoint(None if raw is None else _loads(raw), "source")
    return values, local, values[rules.ENDPOINT_CLUSTER] if local else None


def _names(raw: bytes, key: str) -> tuple[str, ...] | None:
    names = rules.names(_loads(raw), key)
    return tuple(names) if names else None


def _service(raw: bytes) -> tuple[str | None, str | None]:
    return rules.destination_service(_loads(raw))


def _l7(raw: bytes) -> tuple:
    """(l7_protocol, dns_query, l7 type, DNS answer addresses as a tuple or None)."""
    v = _loads(raw)
    ips = rules.dns_ips(v)
    return (*rules.l7(v), tuple(ips) if ips else None)


def _aggregate(raw: bytes) -> tuple[int, bool]:
    return rules.aggregate(_loads(raw))


def _policies(raws: tuple[bytes | None, ...]) -> list[dict] | None:
    f = {
        key: _loads(raw)
        for (key, _, _), raw in zip(rules.POLICY_FIELDS, raws, strict=True)
        if raw is not None
    }
    return rules.policies(f)


_NO_RARE = (None, None, None, None, None, None)
_NO_L7 = (*rules.NO_L7, None)
_NO_SERVICE = (None, None)
_NO_AGGREGATE = (1, False)


def _meta(key: tuple, legacy: bool) -> tuple:
    """The _META_COLS values of a record from its meta key (see FastParser._rows): every
    value by the rulebook, once per distinct key."""
    (
        ftype,
        v,
        drop,
        node,
        td,
        trace_reason,
        is_reply,
        reply,
        event,
        op,
        iface,
        xlated,
        l4key,
        icmp_type,
        icmp_code,
        tcp_flags,
        src_local,
        dst_local,
        src_cluster,
        dst_cluster,
        family,
        rare,
    ) = key
    src_names, dst_names, service, l7, policies_raw, aggregate = rare or _NO_RARE
    ftype = rules.token(ftype, "Type")
    verdict, verdict_raw = rules.verdict(v)
    observer, node_cluster = rules.observer(node)
    protocol, number = rules.l4_protocol(l4key)
    itype = icode = None
    if protocol in rules.ICMP_PROTOCOLS:
        itype, icode = rules.icmp(l4key, icmp_type, icmp_code)
    direction = rules.direction(td)
    trace_reason = rules.token(trace_reason, "trace_reason")
    is_reply = rules.is_reply(is_reply, reply, trace_reason, tcp_flags, legacy)
    l7_protocol, dns_query, l7_type, dns_ips = l7 or _NO_L7
    event = None if event is None else rules.event_type(event.type, event.sub_type)
    iname = None if iface is None else rules.interface_name(iface.name)
    return (
        observer,
        rules.record_cluster(node_cluster, src_local, src_cluster, dst_local, dst_cluster),
        rules.reporter(direction, is_reply, src_local, dst_local),
        direction,
        is_reply,
        verdict,
        verdict_raw,
        rules.token(drop, "drop_reason_desc"),
        family,
        protocol,
        number,
        itype,
        icode,
        list(src_names) if src_names else None,
        list(dst_names) if dst_names else None,
        *(service or _NO_SERVICE),
        l7_protocol,
        dns_query,
        list(dns_ips) if dns_ips else None,
        _policies(policies_raw) if policies_raw is not None else None,
        *(aggregate or _NO_AGGREGATE),
        tcp_flags,
        rules.extra(
            ftype,
            l7_type,
            event,
            rules.token(op, "trace_observation_point"),
            trace_reason,
            iname,
            rules.source_xlated(xlated),
        ),
    )


def _rare(f: Any, sub: Callable[..., Any]) -> tuple:
    """The cached values of a flow's rarely present parts (part of the meta key)."""
    raw = f.source_names
    src_names = None if raw is None else sub("sn", raw, _names, "source_names")
    raw = f.destination_names
    dst_names = None if raw is None else sub("dn", raw, _names, "destination_names")
    raw = f.destination_service
    service = None if raw is None else sub("svc", raw, _service)
    raw = f.l7
    l7 = None if raw is None else sub("l7", raw, _l7)
    raw = f.aggregate
    aggregate = None if raw is None else sub("agg", raw, _aggregate)
    policies = (f.egress_allowed_by, f.ingress_allowed_by, f.egress_denied_by, f.ingress_denied_by)
    policies_raw = None
    if any(r is not None for r in policies):
        policies_raw = tuple(None if r is None else bytes(r) for r in policies)
    return (src_names, dst_names, service, l7, policies_raw, aggregate)


# --------------------------------------------------------------------------- parser


class FastParser:
    """Parses the lines of one Hubble JSON-lines file (or of a line-aligned part of it).

    ``legacy`` is the file's legacy ``reply`` rule (see :func:`probe`). Feed it blocks of
    lines (``sources.iter_line_blocks``) with :meth:`run`; rows come out as FLOW_SCHEMA
    batches, the accounting goes to ``counts``.
    """

    def __init__(self, path: str, legacy: bool) -> None:
        self.path = path
        self.legacy = legacy
        self.reference = Parser(path, ())
        self.reference.legacy_reply = legacy
        self.decode = msgspec.json.Decoder(RECORD).decode
        self.time = _TimeParser()
        self.ips: dict[str | None, tuple[str, int] | None] = {}
        self.eps: dict[bytes | None, tuple[int, bool, Any] | None] = {}
        self.ep_values: list[tuple] = []
        self.metas: dict[tuple, int | None] = {}
        self.meta_values: list[tuple] = []
        self.subs: dict[tuple, Any] = {}
        self.flag_bits: dict[Any, int] = {}
        self.services: dict[bytes, tuple] = {}
        #: Fold class of each meta_values entry (see _Folder).
        self.meta_class: list[int] = []
        #: Of a set-aside class: which ports its records keep (connections.ASIDE_PORTS bits).
        self.meta_ports: list[int] = []
        self.classes: dict[tuple, int] = {}
        file_dict = pa.array([path], pa.string())
        self.source_file = file_dict
        self.source_format = pa.array([NAME], pa.string())

    def _reset(self) -> None:
        """Empty the caches (in place: the hot loop holds them)."""
        for cache in (
            self.ips,
            self.eps,
            self.ep_values,
            self.metas,
            self.meta_values,
            self.subs,
            self.flag_bits,
            self.services,
            self.meta_class,
            self.meta_ports,
            self.classes,
        ):
            cache.clear()

    def caches_full(self) -> bool:
        """Whether the caches have outgrown CACHE_LIMIT (the next :meth:`_flush` empties
        them, and with them the ids that record tuples hold)."""
        return max(len(self.ep_values), len(self.meta_values), len(self.subs), len(self.ips)) > (
            CACHE_LIMIT
        )

    # ------------------------------------------------------------------ records

    def _ip(self, s: str | None) -> tuple[str, int]:
        hit = self.ips.get(s)
        if hit is None:
            try:
                hit = self.ips[s] = rules.address(s, "IP")
            except Bad:
                raise _BAIL from None
        return hit

    def _ep(self, key: bytes | None) -> tuple[int, bool, Any]:
        hit = self.eps.get(key)
        if hit is None:
            if key in self.eps:
                raise _BAIL  # known bad
            try:
                values, local, cluster = _endpoint(key)
            except (_Bail, *_GUARDED):
                self.eps[key] = None
                raise _BAIL from None
            hit = self.eps[key] = (len(self.ep_values), local, cluster)
            self.ep_values.append(values)
        return hit

    def _flag_bits(self, flags: Any) -> int:
        """The folded bits of a TCP ``flags`` value (every value a boolean, by its type)."""
        given = msgspec.structs.asdict(flags)
        bits = rules.tcp_flags({k: v for k, v in given.items() if v is not UNSET}, "l4.TCP.flags")
        if len(self.flag_bits) >= CACHE_LIMIT:
            self.flag_bits.clear()
        self.flag_bits[flags] = bits
        return bits

    def _service_only(self, raw: bytes) -> tuple:
        """The rare part of a record whose only rare field is ``destination_service``."""
        rare = (None, None, self._sub("svc", raw, _service), None, None, None)
        if len(self.services) >= CACHE_LIMIT:
            self.services.clear()
        self.services[raw] = rare
        return rare

    def _sub(self, kind: str, raw: Any, fn: Callable[..., Any], *args: Any) -> Any:
        """A cached pure function of one undecoded sub-object."""
        key = (kind, bytes(raw))
        subs = self.subs
        if key in subs:
            hit = subs[key]
            if hit is _BAIL:
                raise _BAIL
            return hit
        try:
            hit = fn(key[1], *args)
        except (_Bail, *_GUARDED):
            subs[key] = _BAIL
            raise _BAIL from None
        subs[key] = hit
        return hit

    def _meta_id(self, key: tuple) -> int:
        metas = self.metas
        if key in metas:  # known to be bad
            raise _BAIL
        try:
            values = _meta(key, self.legacy)
        except (_Bail, *_GUARDED):
            metas[key] = None
            raise _BAIL from None
        meta_id = metas[key] = len(self.meta_values)
        self._add_meta(values)
        return meta_id

    def _add_meta(self, values: tuple) -> None:
        """Register the meta values of a new meta id, with its fold class (see _Folder):
        negative (``~id``) when the aggregator sets such records aside whatever their
        endpoints, ports and time."""
        self.meta_values.append(values)
        # the name lists the aggregator reads are lists in the row: tuples in the key
        key = tuple(
            tuple(v) if v.__class__ is list else v for v in (values[i] for i in _CLASS_INDEX)
        )
        cls = self.classes.setdefault(key, len(self.classes))
        fields = tuple(values[i] for i in _EXCLUSION_INDEX)
        ports = 3
        if excluded_by_class(*fields):
            cls = ~cls
            ports = aside_ports_by_class(*fields)
        self.meta_class.append(cls)
        self.meta_ports.append(ports)

    def _from_row(self, row: dict, number: int) -> tuple:
        """The 9-tuple for a row made by the reference parser (registered uncached)."""
        unexpected = [c for c in _NULL_COLS if row.get(c) is not None]
        if unexpected:  # a reference-parser change this module does not know about
            raise ValueError(f"hubble row fills columns fast_hubble keeps null: {unexpected}")
        if row["time_start"] is None:  # the reference rejects records without a time
            raise ValueError("hubble row without a time")
        src_id = len(self.ep_values)
        self.ep_values.append(tuple(row[c] for c in _SRC_EP))
        self.ep_values.append(tuple(row[c] for c in _DST_EP))
        meta_id = len(self.meta_values)
        self._add_meta(tuple(row[c] for c in _META_COLS))
        return (
            number,
            row["time_start"],
            row["src_ip"],
            row["dst_ip"],
            row["src_port"],
            row["dst_port"],
            src_id,
            src_id + 1,
            meta_id,
        )

    # ------------------------------------------------------------------ lines

    def run(
        self,
        blocks: Iterator[list[bytes | Rejected]],
        counts: RecordCounts,
        batch_size: int,
        *,
        first_line: int = 1,
        bom: bool = True,
        fold: bool = False,
    ) -> Iterator[pa.RecordBatch]:
        """Parse line blocks (the first line is number ``first_line``), yielding FLOW_SCHEMA
        batches of at most ``batch_size`` rows. ``bom``: the first line is the file's first
        (a UTF-8 BOM there is dropped, as the reference reader does).

        ``fold``: yield folded batches for the connections aggregator instead (see
        :data:`recommender.connections.FOLDED_RECORDS`): records that count the same there
        become one row, so the aggregator's Arrow work shrinks with the repetition in the
        log. Only the aggregator reads such batches."""
        if not fold:
            for part in self._rows(blocks, counts, batch_size, first_line, bom):
                yield self._flush(part)
            return
        folder = _Folder(self)
        records = 0
        for records in self._rows(blocks, counts, batch_size, first_line, bom, folder):
            if folder.full():
                yield folder.emit(records)
        if folder.groups:
            yield folder.emit(records)

    def _rows(  # noqa: C901 - the measured hot loop, kept whole (see the docstring)
        self,
        blocks: Iterator[list[bytes | Rejected]],
        counts: RecordCounts,
        batch_size: int,
        first_line: int,
        bom: bool,
        folder: _Folder | None = None,
    ) -> Iterator[Any]:
        """Lists of at most ``batch_size`` record tuples, counted as normalized; with a
        ``folder``, the records are folded into ``folder.groups`` instead, and the count of
        records folded so far comes out every ``batch_size`` records and at the end.

        A record tuple is (line number, time ns, src_ip, dst_ip, src_port, dst_port, src
        endpoint id, dst endpoint id, meta id); the ids index ``ep_values`` and
        ``meta_values`` until the next :meth:`_flush`. The common record is read inline
        here: this is the hot loop, and everything it uses is bound once. Whatever it does
        not fully understand raises (_Bail, a decode error, anything) and the line goes to
        the reference parser (:meth:`_slow`). It decides nothing itself: values are
        decided by :mod:`.hubble_rules`, once per distinct value, through the caches.

        Kept whole on purpose (over 80 lines, C901): moving just the per-record decode into
        a function called per record cost 2.2% more instructions folded and 1.7% unfolded
        (callgrind, 10,000 simulated records, Python 3.11); the time, L4 and fold parts
        would each add a call per record more.
        """
        rows: list[tuple] = []
        append = rows.append
        decode = self.decode
        ips, ip_miss = self.ips, self._ip
        eps, ep_miss = self.eps, self._ep
        metas, meta_miss = self.metas, self._meta_id
        flag_bits, flags_miss = self.flag_bits, self._flag_bits
        services, service_miss = self.services, self._service_only
        sub = self._sub
        minutes = self.time.minutes
        parse_time = self.time
        seconds, scales = _SECONDS, _FRACTION_SCALE
        unset, bail = UNSET, _BAIL
        sock_type, sock, non_ip = rules.SOCKET_TRACE_TYPE, rules.SOCKET_TRACE, rules.NON_IP
        slow = self._slow
        add_filtered = counts.add_filtered
        fold = folder is not None
        if fold:
            groups = folder.groups
            group = groups.get
            fold_one = folder.fold_one
            classes = self.meta_class
            kept_ports = self.meta_ports
        folded = 0  # records folded (their rank rows)
        due = batch_size  # when ``folded`` next comes out
        long_int = _LONG_INT
        # Nesting: json raises RecursionError a few levels before msgspec does. A record
        # of n bytes nests at most n/2 deep, so only longer lines need their brackets
        # counted to be sure both decoders see the same (shallow enough) record.
        max_depth = _safe_depth()
        short = min(2 * max_depth, _MAX_DIGITS or 2 * max_depth)
        number = first_line - 1
        if bom:
            blocks = _drop_bom(blocks)
        for block in blocks:
            for line in block:
                number += 1
                if line.__class__ is bytes:
                    # Lines that are no JSON object (blank ones too) fail to decode.
                    n = len(line)
                    if (line.isascii() or _utf8(line)) and (
                        n <= short  # (shorter than _MAX_DIGITS too)
                        or (
                            line.count(b"{") + line.count(b"[") <= max_depth
                            and (long_int is None or n <= _MAX_DIGITS or not long_int.search(line))
                        )
                    ):
                        try:
                            rec = decode(line)
                            f = rec.flow
                            ftype = f.Type  # no flow (UNSET): AttributeError
                            if ftype == sock_type:
                                add_filtered(sock)
                                continue
                            ip = f.IP
                            if ip is None:
                                add_filtered(non_ip)
                                continue
                            # Cached values are tuples: None (a miss) or a known bad one
                            # goes to the miss function, which raises for the latter.
                            src_ip, family = ips.get(ip.source) or ip_miss(ip.source)
                            dst_ip, dst_family = ips.get(ip.destination) or ip_miss(ip.destination)
                            if family != dst_family:  # mixed families: rejected
                                raise bail
                            t = f.time or rec.time
                            # _TimeParser.__call__, its common case inlined
                            scale = scales.get(len(t))  # no time: TypeError
                            base = minutes.get(t[:17])
                            second = seconds.get(t[17:20])
                            frac = t[20:-1]
                            if (
                                scale is not None
                                and base is not None
                                and second is not None
                                and t[-1] == "Z"
                                and frac.isdigit()
                                and frac.isascii()  # not implied by an ASCII line: \u0663
                            ):
                                ns = base + second + int(frac) * scale
                            else:
                                ns = base = parse_time(t)
                                if ns is None:
                                    raise bail
                            node = f.node_name or rec.node_name

                            sport = dport = icmp_type = icmp_code = tcp_flags = l4key = None
                            # The members in hubble_rules.L4_PROTOCOLS order: the first
                            # present wins (TRICKY has records with two).
                            l4 = f.l4
                            if l4 is not None:
                                m = l4.TCP
                                if m is not unset:
                                    l4key = "TCP"
                                    if m is not None:
                                        sport, dport = m.source_port, m.destination_port
                                        flags = m.flags
                                        if flags is not None:
                                            tcp_flags = flag_bits.get(flags)
                                            if tcp_flags is None:
                                                tcp_flags = flags_miss(flags)
                                elif (m := l4.UDP) is not unset:
                                    l4key = "UDP"
                                    if m is not None:
                                        sport, dport = m.source_port, m.destination_port
                                elif (m := l4.SCTP) is not unset:
                                    l4key = "SCTP"
                                    if m is not None:
                                        sport, dport = m.source_port, m.destination_port
                                elif (m := l4.ICMPv4) is not unset:
                                    l4key = "ICMPv4"
                                    if m is not None:
                                        icmp_type, icmp_code = m.type, m.code
                                elif (m := l4.ICMPv6) is not unset:
                                    l4key = "ICMPv6"
                                    if m is not None:
                                        icmp_type, icmp_code = m.type, m.code
                                elif l4.VRRP is not unset:
                                    l4key = "VRRP"
                                elif l4.IGMP is not unset:
                                    l4key = "IGMP"

                            raw = f.source
                            key = None if raw is None else bytes(raw)
                            src_id, src_local, src_cluster = eps.get(key) or ep_miss(key)
                            raw = f.destination
                            key = None if raw is None else bytes(raw)
                            dst_id, dst_local, dst_cluster = eps.get(key) or ep_miss(key)

                            # Rare parts (names, service, L7, policies, aggregation): cached
                            # per value; a service alone (common) has a cache of its own.
                            if (
                                f.source_names is None
                                and f.destination_names is None
                                and f.l7 is None
                                and f.aggregate is None
                                and f.egress_allowed_by is None
                                and f.ingress_allowed_by is None
                                and f.egress_denied_by is None
                                and f.ingress_denied_by is None
                            ):
                                raw = f.destination_service
                                if raw is None:
                                    rare = None
                                else:
                                    key = bytes(raw)
                                    rare = services.get(key)
                                    if rare is None:
                                        rare = service_miss(key)
                            else:
                                rare = _rare(f, sub)
                            key = (
                                ftype,
                                f.verdict,
                                f.drop_reason_desc,
                                node,
                                f.traffic_direction,
                                f.trace_reason,
                                f.is_reply,
                                f.reply,
                                f.event_type,
                                f.trace_observation_point,
                                f.interface,
                                ip.source_xlated,
                                l4key,
                                icmp_type,
                                icmp_code,
                                tcp_flags,
                                src_local,
                                dst_local,
                                src_cluster,
                                dst_cluster,
                                family,
                                rare,
                            )
                            meta_id = metas.get(key)
                            if meta_id is None:
                                meta_id = meta_miss(key)
                            if fold:  # _Folder.fold_one, inlined (see _Folder for the key)
                                cls = classes[meta_id]
                                if cls < 0:
                                    kept = kept_ports[meta_id]
                                    key = (
                                        src_id,
                                        dst_id,
                                        cls,
                                        src_ip,
                                        dst_ip,
                                        sport if kept & 1 else None,
                                        dport if kept & 2 else None,
                                    )
                                else:
                                    h = base if base >= 0 else ns
                                    key = (src_id, dst_id, cls, src_ip, dst_ip, sport, dport, h)
                                g = group(key)
                                if g is None:
                                    row = (
                                        number,
                                        ns,
                                        src_ip,
                                        dst_ip,
                                        sport,
                                        dport,
                                        src_id,
                                        dst_id,
                                        meta_id,
                                    )
                                    groups[key] = [row, 1, ns, ns, folded]
                                else:
                                    g[1] += 1
                                    if ns < g[2]:
                                        g[2] = ns
                                    if ns >= g[3]:
                                        g[3] = ns
                                        g[4] = folded
                                folded += 1
                                if folded >= due:
                                    counts.add_normalized(batch_size)
                                    due += batch_size
                                    yield folded
                                continue
                            append(
                                (number, ns, src_ip, dst_ip, sport, dport, src_id, dst_id, meta_id)
                            )
                            if len(rows) >= batch_size:
                                counts.add_normalized(len(rows))
                                yield rows
                                rows = []
                                append = rows.append
                            continue
                        except Exception:  # noqa: BLE001, S110 - any doubt: the reference path
                            pass
                out = slow(line, number, counts)
                if out is None:
                    continue
                if fold:
                    fold_one(out, folded)
                    folded += 1
                    if folded >= due:
                        counts.add_normalized(batch_size)
                        due += batch_size
                        yield folded
                    continue
                append(out)
                if len(rows) >= batch_size:
                    counts.add_normalized(len(rows))
                    yield rows
                    rows = []
                    append = rows.append
        if fold:
            counts.add_normalized(folded - (due - batch_size))
            yield folded
        elif rows:
            counts.add_normalized(len(rows))
            yield rows

    def _slow(self, line: bytes | Rejected, number: int, counts: RecordCounts) -> tuple | None:
        """A line the hot loop did not read: the reader's rejection, a blank line, or a
        record for the reference parser. The record tuple, or None (counted here)."""
        if line.__class__ is not bytes:
            counts.add_rejected(self.path, number, line.reason, line.detail)
            return None
        if not line.startswith(b"{") and not line.strip(WHITESPACE):
            return None  # blank lines are not records
        raw = parse_line(line)
        if isinstance(raw, Rejected):
            counts.add_rejected(self.path, number, raw.reason, raw.detail)
            return None
        res = self.reference.parse(raw)
        if isinstance(res, dict):
            return self._from_row(res, number)
        if isinstance(res, Filtered):
            counts.add_filtered(res.reason)
        else:
            counts.add_rejected(self.path, number, res.reason, res.detail)
        return None

    # ------------------------------------------------------------------ batches

    def _flush(self, rows: list[tuple], only: frozenset[str] | None = None) -> pa.RecordBatch:
        """A FLOW_SCHEMA batch of record tuples; ``only``: fill just these columns (the
        endpoint and meta ones; the others are null), in the _FOLD_BASE schema."""
        n = len(rows)
        number, ns, src_ip, dst_ip, sport, dport, src_id, dst_id, meta_id = zip(*rows, strict=True)
        cols: dict[str, pa.Array] = {}
        times = pa.array(ns, _T["time_start"])
        cols["time_start"] = cols["time_end"] = times
        cols["src_ip"] = pa.array(src_ip, pa.string())
        cols["dst_ip"] = pa.array(dst_ip, pa.string())
        cols["src_port"] = pa.array(sport, pa.int32())
        cols["dst_port"] = pa.array(dport, pa.int32())
        self._take(cols, self.ep_values, src_id, _EP_COLS, "src_", only)
        self._take(cols, self.ep_values, dst_id, _EP_COLS, "dst_", only)
        self._take(cols, self.meta_values, meta_id, _META_COLS, "", only)
        zeros = pa.array(np.zeros(n, np.int32))
        cols["source_file"] = pa.DictionaryArray.from_arrays(zeros, self.source_file)
        cols["source_record"] = pa.array(number, pa.int64())
        if only is None:
            cols["schema_version"] = pa.array(np.full(n, SCHEMA_VERSION, np.int16))
            cols["source_format"] = pa.DictionaryArray.from_arrays(zeros, self.source_format)
        schema = FLOW_SCHEMA if only is None else _FOLD_BASE
        arrays = [cols[f.name] if f.name in cols else pa.nulls(n, f.type) for f in schema]
        if self.caches_full():
            self._reset()  # bounded memory: distinct values beyond a few thousand are rare
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    @staticmethod
    def _take(
        cols: dict[str, pa.Array],
        values: list[tuple],
        ids: Sequence[int],
        names: Sequence[str],
        prefix: str,
        only: frozenset[str] | None = None,
    ) -> None:
        """Columns ``prefix + name`` for rows whose cached value tuples are ``values[id]``
        (``only``: just those of these columns)."""
        uniques, inverse = np.unique(np.fromiter(ids, np.int64, len(ids)), return_inverse=True)
        full = [prefix + name for name in names]
        picked = [i for i, name in enumerate(full) if only is None or name in only]
        full = [full[i] for i in picked]
        rows = [values[i] for i in uniques.tolist()]
        types = _T if only is None else _FOLD_T
        small = pa.RecordBatch.from_arrays(
            [
                _column([row[i] for row in rows], types[name])
                for i, name in zip(picked, full, strict=True)
            ],
            names=full,
        )
        taken = small.take(pa.array(inverse.astype(np.int32, copy=False).ravel()))
        for name, column in zip(full, taken.columns, strict=True):
            cols[name] = column


def _column(values: list, type: pa.DataType) -> pa.Array:
    """``values`` as an array of ``type``; a dictionary one has its distinct values sorted.

    ``values`` come in cache-id order, and the ids depend on everything the parser read
    before (its earlier batches and, in a worker, the earlier tasks of the file in any
    order). Left in that order, the dictionary of a batch, hence its Arrow and Parquet
    encoding, would depend on which byte range of a file a process happened to parse
    first; sorted, it depends only on the batch's own rows."""
    if not pa.types.is_dictionary(type):
        return pa.array(values, type)
    dictionary = sorted({v for v in values if v is not None})
    index = {v: i for i, v in enumerate(dictionary)}
    indices = pa.array([None if v is None else index[v] for v in values], type.index_type)
    return pa.DictionaryArray.from_arrays(indices, pa.array(dictionary, type.value_type))


#: Folded rows a _Folder holds before it hands them out.
FOLD_LIMIT = 50_000
_FOLDED_SCHEMA = (
    _FOLD_BASE.append(pa.field(FOLDED_COLUMNS[0], pa.int64()))
    .append(pa.field(FOLDED_COLUMNS[1], pa.int64()))
    .append(pa.field(FOLDED_COLUMNS[2], _T["time_start"]))
)
_TIME_START = FLOW_SCHEMA.get_field_index("time_start")
_TIME_END = FLOW_SCHEMA.get_field_index("time_end")


class _Folder:
    """Folds a parser's records into the rows the connections aggregator would count the
    same: same endpoints (cached ids), addresses, ports, meta columns it reads (see
    :data:`recommender.connections.FOLDED_RECORDS`) and clock hour. The key holds a time
    that pins the hour: the minute (its first nanosecond) of a time since 1970, or the exact
    time otherwise. Not the hour itself: the minute is at hand, and the aggregator's hours
    truncate toward zero (Arrow's integer division), which splits minutes before 1970.

    Records the aggregator sets aside by their meta columns alone (replies, unknown
    orientation, L7, denied, ICMP: see :func:`recommender.connections.excluded_by_class`)
    count only as set aside, as sightings of their pods and as traffic the at-risk check
    replays: they fold by endpoints, addresses, class and the ports their replay needs
    (:data:`recommender.connections.ASIDE_PORTS`), across time. A folded row's
    ``source_record`` is its first record's line.

    A fold costs a dict update per record (done inline by :meth:`FastParser._rows`); a row
    costs Arrow work for every column the aggregator reads."""

    def __init__(self, parser: FastParser) -> None:
        self.parser = parser
        #: (endpoint ids, fold class, addresses, ports, hour) -> [first record tuple, records,
        #: first time, last time, rank row of the latest record]
        self.groups: dict[tuple, list] = {}
        self.start = 0  # rank row of the first record in ``groups``

    def fold_one(self, row: tuple, rank: int) -> None:
        """Fold one record tuple whose rank row (records before it) is ``rank``: with the
        records of the same exact time (the hot loop folds its records by minute)."""
        _, ns, src_ip, dst_ip, sport, dport, src, dst, meta = row
        cls = self.parser.meta_class[meta]
        if cls < 0:
            kept = self.parser.meta_ports[meta]
            key = (src, dst, cls, src_ip, dst_ip, sport if kept & 1 else None)
            key += (dport if kept & 2 else None,)
        else:
            key = (src, dst, cls, src_ip, dst_ip, sport, dport, ns)
        g = self.groups.get(key)
        if g is None:
            self.groups[key] = [row, 1, ns, ns, rank]
            return
        g[1] += 1
        if ns < g[2]:
            g[2] = ns
        if ns >= g[3]:
            g[3] = ns
            g[4] = rank

    def full(self) -> bool:
        return len(self.groups) >= FOLD_LIMIT or self.parser.caches_full()

    def emit(self, records: int) -> pa.RecordBatch:
        """The folded rows of the ``records - start`` records folded since the last emit, as
        one batch (FLOW_SCHEMA plus FOLDED_COLUMNS). Columns the aggregator does not read
        are left null: only it reads folded batches."""
        reps, counts, first, last, rank = zip(*self.groups.values(), strict=True)
        self.groups.clear()  # in place: the hot loop holds it
        start, self.start = self.start, records
        batch = self.parser._flush(list(reps), COLUMNS_READ)
        times = _T["time_start"]
        arrays = list(batch.columns)
        arrays[_TIME_START] = pa.array(first, times)
        arrays[_TIME_END] = last_times = pa.array(last, times)
        ranks = pa.array([r - start for r in rank], pa.int64())
        arrays += [pa.array(counts, pa.int64()), ranks, last_times]
        return pa.RecordBatch.from_arrays(arrays, schema=_FOLDED_SCHEMA)


def _safe_depth() -> int:
    """A nesting depth both ``json`` and ``msgspec`` decode from here (see MAX_DEPTH)."""
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return max(min(sys.getrecursionlimit() - depth - 50, MAX_DEPTH), 0)


def _drop_bom(blocks: Iterator[list[bytes | Rejected]]) -> Iterator[list[bytes | Rejected]]:
    """The blocks with a UTF-8 BOM dropped from the first line (as the reference does)."""
    blocks = iter(blocks)
    empty = []
    for head in blocks:
        if not head:
            empty.append(head)
            continue
        first = head[0]
        if first.__class__ is bytes and first.startswith(BOM):
            head = [first[3:], *head[1:]]
        return chain(empty, (head,), blocks)
    return iter(empty)


def _utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --------------------------------------------------------------------------- files


@dataclass(frozen=True)
class Plan:
    """How to read one Hubble JSON-lines file fast (see :func:`probe`)."""

    path: str
    legacy: bool
    gzip: bool
    size: int


def probe(path: str, format: str | None, lookahead: int) -> Plan | None:
    """A Plan when ``path`` is a JSON-lines file read as Hubble, else None.

    Mirrors the reference reader: the format is detected from the first JSON record of the
    first ``lookahead`` records (or given); the legacy ``reply`` rule holds when none of
    those records has an ``is_reply`` key. None (the reference path reads the file) when the
    file is a JSON array or a stream of multi-line objects (``-o jsonpretty``), holds no JSON
    record in the lookahead (text, garbage, empty), is detected as another format, or when
    msgspec is missing. Never raises for content; a file that cannot be read raises
    InputError as the reference reader would. ``path`` may be standard input (``STDIN``):
    what the probe reads is kept for the reader (``sources.stop_keeping_stdin``).
    """
    if not (AVAILABLE and SCHEMA_KNOWN) or format not in (None, NAME):
        return None
    window = min(lookahead, rules.LOOKAHEAD)
    with open_input(path) as f:
        try:
            head = f.read(2)
            f.seek(0)
            size = 0 if path == STDIN else opened_size(path, f)
            mode, chunks = content_mode(path, f, None)
            if mode != "lines":
                return None
            seen_json = False
            legacy = True
            count = 0
            for _number, line in record_lines(chunks):
                if count >= window:
                    break
                count += 1
                if isinstance(line, Rejected):
                    continue
                if seen_json and b"is_reply" not in line and b"\\u" not in line:
                    continue  # no is_reply key can be in this record
                raw = parse_line(line)
                if isinstance(raw, Rejected):
                    continue
                if not seen_json:
                    seen_json = True
                    if format is None:
                        from recommender.ingest import detect

                        if detect.detect_record(raw) != NAME:
                            return None
                if rules.has_is_reply(raw):
                    legacy = False
                    break
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not seen_json:
        return None
    return Plan(path=path, legacy=legacy, gzip=head == b"\x1f\x8b", size=size)


def iter_batches(
    plan: Plan,
    counts: RecordCounts,
    *,
    progress: Progress = None,
    batch_size: int = 50_000,
    fold: bool = False,
) -> Iterator[pa.RecordBatch]:
    """FLOW_SCHEMA batches of a whole file (in this process), filling ``counts``.

    Batches hold at most ``min(batch_size, MAX_BATCH_ROWS)`` rows: larger ones parse no
    faster and make whoever consumes them hold more memory at once. ``fold``: folded
    batches for the connections aggregator instead (see :meth:`FastParser.run`).
    """
    parser = FastParser(plan.path, plan.legacy)
    with open_input(plan.path) as f:
        try:
            _, chunks = content_mode(plan.path, f, progress)
            rows = min(batch_size, MAX_BATCH_ROWS)
            yield from parser.run(iter_line_blocks(chunks), counts, rows, fold=fold)
        except OSError as exc:
            raise InputError(f"{plan.path}: cannot read: {exc.strerror or exc}") from None


def range_chunks(f, start: int, end: int, progress: Progress = None) -> Iterator[bytes]:
    """Bytes ``[start, end)`` of a plain file in chunks cut at multiples of CHUNK (the cuts
    of a whole-file read, so line splitting gives the same lines)."""
    from recommender.ingest import sources

    chunk = sources.CHUNK
    f.seek(start)
    pos = start
    while pos < end:
        size = min(end, (pos // chunk + 1) * chunk) - pos
        data = f.read(size)
        if not data:
            return
        if progress is not None:
            progress(len(data))
        pos += len(data)
        yield data
