"""AWS VPC Flow Logs -> normalized rows (``research/flow-formats.md`` section 3.1).

Accepted shapes:

* **Text lines** (S3 delivery, plain or gzip; ``TEXT = True``): the default format (version 2,
  14 fields, no header) or a custom format whose first line is the header naming the fields
  (any order, any subset; v2-v5 fields are read, v7 ``ecs-*`` and v8 ``reject-reason`` are
  accepted). Fields are split on runs of whitespace; ``-`` is null. A header line later in a
  file (concatenated files) switches the layout. The AWS format string (``${srcaddr} ...``)
  is accepted as a header too.
* **CloudWatch Logs JSON**: a subscription/Kinesis payload ``{"messageType", "logGroup",
  "logEvents": [{"id", "timestamp", "message"}]}`` (after base64/gzip decoding; gzip files are
  read as is) or ``aws logs filter-log-events`` output ``{"events": [...]}``, one per line,
  or concatenated without separators as Kinesis Data Firehose writes them to S3 (such a
  file is not JSON lines, so it reaches this module as text lines). CloudWatch
  messages carry no header: they are read with the default format unless the parser is
  given ``fields`` (``Parser(path, lookahead, fields=parse_log_format("${version} ..."))``);
  ``--format aws-vpc`` forces this module but cannot tell a custom layout. One envelope holds
  many records: :func:`expand` splits it into its log events, which the reader parses and
  counts one by one (with the envelope's line number); control messages and envelopes
  without events are filtered.

Normalization:

* ``pkt-srcaddr``/``pkt-dstaddr`` win over ``srcaddr``/``dstaddr`` (NAT/transit gateway ENIs
  and EKS pods on secondary addresses); the ENI-level addresses are kept in ``extra`` when
  they differ. Every endpoint is ``kind = unknown``: the log has no Kubernetes identity, the
  inventory join (:mod:`recommender.ingest.enrich`) supplies it.
* ``ACCEPT`` -> allowed, ``REJECT`` -> denied (security group / NACL verdicts, not
  NetworkPolicy), ``-`` -> unknown. ``NODATA``/``SKIPDATA`` records are filtered by status.
* Protocols 6/17/132 keep their ports; 1 and 58 are ``ICMP``/``ICMPv6`` without ports;
  others are ``OTHER``. ``packets``/``bytes`` are one direction (``*_fwd``).
* Times are UNIX seconds; a custom format without ``start``/``end`` gives
  ``time_start = time_end = 0`` (:data:`TIME_UNKNOWN`) and ``extra["time"] = "unknown"``.

Orientation (``is_reply``): each record is one direction seen on one ENI, so the request and
the reply of one connection are two records that must never become two rules.

1. A record's own ``tcp-flags``: SYN without ACK (2, or 3 = SYN+FIN) is the request, SYN-ACK
   (18, 19) the reply (``extra["orientation"] = "tcp-flags"``).
2. Else the connection's other records in the same file: a file-level pre-pass indexes every
   connection (protocol + both address:port ends, unordered). A SYN or SYN-ACK seen on any
   record of the connection orients all its records, e.g. the FIN-only records of a later
   aggregation window (``"paired tcp-flags"``).
3. Else, when both halves (A:a -> B:b and B:b -> A:a) are in the file, the one whose source
   port is ephemeral (>= 32768, the Linux and IANA ranges) and whose destination port is not
   is the request (``"paired ports"``).
4. Otherwise ``is_reply`` is null: the connection stage sets the record aside and counts it.
   A lone record is never oriented by its ports ("lower port is the server" is not evidence).

Memory bound of the pairing: the pre-pass reads the file once more (streamed) and keeps one
entry per distinct connection: a 64-bit hash of the connection key -> a 4-bit state, about
100 bytes each, at most :data:`MAX_PAIRED_CONNECTIONS` entries (about 100 MB; an S3 object
holds at most about 500 000 records). Connections beyond it are not indexed: their records
are oriented by their own flags only, and ``Parser.unindexed`` counts them. Pairing never
crosses files: S3 writes both directions of an ENI's traffic to the same object.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from recommender.ingest.common import INT64, Bad, canonical_address, family, invalid
from recommender.ingest.sources import Filtered, Rejected, TextLine, iter_records, new_row
from recommender.validate import truncated_repr

NAME = "aws-vpc"
#: This module reads text lines (see :mod:`recommender.ingest.detect`).
TEXT = True

V2_FIELDS = (
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
)
V3_FIELDS = (
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
)
V4_FIELDS = ("region", "az-id", "sublocation-type", "sublocation-id")
V5_FIELDS = ("pkt-src-aws-service", "pkt-dst-aws-service", "flow-direction", "traffic-path")
#: v7/v8 [unverified names]: accepted in a header, ``reject-reason`` kept as drop_reason.
V7_FIELDS = (
    "ecs-cluster-arn",
    "ecs-cluster-name",
    "ecs-container-instance-arn",
    "ecs-container-instance-id",
    "ecs-container-id",
    "ecs-second-container-id",
    "ecs-service-name",
    "ecs-task-definition-arn",
    "ecs-task-arn",
    "ecs-task-id",
)
V8_FIELDS = ("reject-reason",)
KNOWN_FIELDS = frozenset(V2_FIELDS + V3_FIELDS + V4_FIELDS + V5_FIELDS + V7_FIELDS + V8_FIELDS)
#: The default format: version 2 fields in this order.
DEFAULT_FIELDS = V2_FIELDS

#: ``time_start``/``time_end`` of records whose format has no ``start``/``end``.
TIME_UNKNOWN = 0
#: Connections the pairing pre-pass indexes per file (see the module docstring).
MAX_PAIRED_CONNECTIONS = 1 << 20
#: Ports at or above this are ephemeral (Linux 32768-60999, IANA/Windows 49152-65535).
EPHEMERAL_MIN = 32768

PROTOCOLS = {6: "TCP", 17: "UDP", 132: "SCTP", 1: "ICMP", 58: "ICMPv6"}
_PORTED = frozenset({6, 17, 132})
ACTIONS = {"ACCEPT": "allowed", "REJECT": "denied"}
LOG_STATUSES = frozenset({"OK", "NODATA", "SKIPDATA"})
DIRECTIONS = {"ingress": "ingress", "egress": "egress"}
TYPES = frozenset({"IPv4", "IPv6", "EFA"})

#: Fields copied to ``extra`` (validated as plain tokens), under these keys.
_EXTRA_FIELDS = (
    ("version", "version"),
    ("account-id", "account_id"),
    ("vpc-id", "vpc_id"),
    ("subnet-id", "subnet_id"),
    ("instance-id", "instance_id"),
    ("type", "type"),
    ("region", "region"),
    ("az-id", "az_id"),
    ("sublocation-type", "sublocation_type"),
    ("sublocation-id", "sublocation_id"),
    ("pkt-src-aws-service", "pkt_src_aws_service"),
    ("pkt-dst-aws-service", "pkt_dst_aws_service"),
    ("traffic-path", "traffic_path"),
)

_TOKEN_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}", re.ASCII)
_DIGITS_RE = re.compile(r"[0-9]{1,20}", re.ASCII)
_FIELD_NAME_RE = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*", re.ASCII)
_ENI_RE = re.compile(r"eni-[0-9a-f]{8,32}", re.ASCII)
_ACCOUNT_RE = re.compile(r"[0-9]{12}|unknown|-", re.ASCII)
_SECONDS_MAX = 2**33  # year 2242: well inside timestamp('ns')
_NS = 1_000_000_000


def _invalid(field: str, value: str) -> Bad:
    return invalid(f"invalid {field}", field, value)


# --------------------------------------------------------------------------- layouts


def _field_name(token: str) -> str | None:
    """A header token as a field name (``pkt_srcaddr`` and ``${pkt-srcaddr}`` accepted)."""
    if token.startswith("${") and token.endswith("}"):
        token = token[2:-1]
    if _FIELD_NAME_RE.fullmatch(token) is None:
        return None
    return token.replace("_", "-")


def header_fields(tokens: Sequence[str]) -> tuple[str, ...] | None:
    """The field names when ``tokens`` are a header line, else None.

    A header is made of field names only, names both ends (``srcaddr`` or ``pkt-srcaddr``,
    ``dstaddr`` or ``pkt-dstaddr``), and every name is a known field or at least looks like
    one (later AWS versions add fields; unknown ones are ignored).
    """
    if not 2 <= len(tokens) <= 256:
        return None
    names = []
    for token in tokens:
        name = _field_name(token)
        if name is None:
            return None
        names.append(name)
    known = set(names) & KNOWN_FIELDS
    if not ({"srcaddr", "pkt-srcaddr"} & known and {"dstaddr", "pkt-dstaddr"} & known):
        return None
    return tuple(names)


def _header(tokens: Sequence[str]) -> tuple[str, ...] | None:
    """header_fields, after a cheap test that rules out data lines (a data line never
    starts with a letter and names ``srcaddr``... as literal tokens)."""
    if not tokens:
        return None
    first = tokens[0][:1]
    if not (first.isalpha() or first == "$"):
        return None
    return header_fields(tokens)


def parse_log_format(text: str) -> tuple[str, ...]:
    """Field names of an AWS log format string (``${version} ${srcaddr} ...``) or a header
    line; ValueError when it is neither."""
    fields = header_fields(text.split())
    if fields is None:
        raise ValueError(f"not a VPC flow log format: {truncated_repr(text)}")
    return fields


class _Layout:
    """Where each field sits in a record of one format."""

    def __init__(self, fields: Sequence[str], *, header: bool) -> None:
        self.fields = tuple(fields)
        self.width = len(self.fields)
        self.header = header
        at: dict[str, int] = {}
        for i, name in enumerate(self.fields):
            at.setdefault(name, i)
        self.at = at
        self.extra = tuple((at[f], f, key) for f, key in _EXTRA_FIELDS if f in at)
        self.has_time = "start" in at or "end" in at
        self.label = "default format" if not header else "header"

    def get(self, tokens: Sequence[str], field: str) -> str | None:
        i = self.at.get(field)
        if i is None:
            return None
        tok = tokens[i]
        return None if tok == "-" else tok


_DEFAULT_LAYOUT = _Layout(DEFAULT_FIELDS, header=False)


def _int(tok: str | None, field: str, hi: int) -> int | None:
    if tok is None:
        return None
    if _DIGITS_RE.fullmatch(tok) is None:
        raise _invalid(field, tok)
    v = int(tok)
    if v > hi:
        raise _invalid(field, tok)
    return v


_ip = canonical_address  # tokens are strings: an address or ``invalid IP``


def _looks_like_v2(tokens: Sequence[str]) -> bool:
    return (
        len(tokens) == 14
        and tokens[0] == "2"
        and _ACCOUNT_RE.fullmatch(tokens[1]) is not None
        and (tokens[2] == "-" or _ENI_RE.fullmatch(tokens[2]) is not None)
        and tokens[12] in ("ACCEPT", "REJECT", "-")
        and tokens[13] in LOG_STATUSES
    )


# --------------------------------------------------------------------------- envelopes


def _envelope_events(record: Any) -> list | None:
    """The log events of a CloudWatch Logs JSON envelope, else None."""
    if type(record) is not dict:
        return None
    events = record.get("logEvents")
    if events is None and "messageType" not in record and "logGroup" not in record:
        events = record.get("events")  # aws logs filter-log-events / get-log-events
    if type(events) is not list:
        return None
    return events


def _first_message(events: list) -> str | None:
    for event in events[:1]:
        if type(event) is dict and type(event.get("message")) is str:
            return event["message"]
    return None


_DECODER = json.JSONDecoder()


def _concatenated(line: str) -> list[Any] | Rejected:
    """The JSON values of a line of values written back to back (``{..}{..}``)."""
    out = []
    pos, n = 0, len(line)
    try:
        while pos < n:
            value, pos = _DECODER.raw_decode(line, pos)
            out.append(value)
            while pos < n and line[pos] in " \t\r\n":
                pos += 1
    except RecursionError:
        return Rejected("invalid JSON", "nested too deeply")
    except ValueError as exc:
        return Rejected("invalid JSON", f"{str(exc)[:80]}: {truncated_repr(line[pos : pos + 60])}")
    return out


def _first_object(line: str) -> Any:
    try:
        return _DECODER.raw_decode(line)[0]
    except (ValueError, RecursionError):
        return None


def looks_like(record: Any) -> bool:
    """A header line, a default-format (v2) line, or a CloudWatch envelope of v2 records
    (also as concatenated JSON on a text line)."""
    if isinstance(record, TextLine):
        if record.startswith("{"):
            return looks_like(_first_object(record))
        tokens = record.split()
        return header_fields(tokens) is not None or _looks_like_v2(tokens)
    events = _envelope_events(record)
    if events is None:
        return False
    if record.get("messageType") == "CONTROL_MESSAGE":
        return True
    message = _first_message(events)
    return message is not None and _looks_like_v2(message.split())


def describe(record: Any) -> str | None:
    return "an AWS VPC flow log record" if looks_like(record) else None


class LogEvent(str):
    """The message of one CloudWatch log event: one record in the log group's format (the
    parser's ``fields``, default v2), never a header line."""

    __slots__ = ()


def _events(record: Any) -> list[Any] | None:
    events = _envelope_events(record)
    if not events or record.get("messageType") == "CONTROL_MESSAGE":
        return None  # parse() filters it, counted once
    return [
        LogEvent(event["message"])
        if type(event) is dict and type(event.get("message")) is str
        else Rejected("malformed record: log event", truncated_repr(event))
        for event in events
    ]


def expand(record: Any) -> list[Any] | None:
    """The records inside a container record, each parsed and counted on its own (the
    reader's hook): the log events of a CloudWatch envelope, also of the envelopes written
    back to back on one text line (Firehose). None for a record that is one flow record,
    a control message or an envelope without events (``Parser.parse`` filters those)."""
    if isinstance(record, TextLine):
        if not record.startswith("{"):
            return None
        values = _concatenated(record)
        if isinstance(values, Rejected):
            return None  # parse() rejects the line as invalid JSON
        out: list[Any] = []
        for value in values:
            inner = _events(value)
            out.extend([value] if inner is None else inner)
        return out
    return _events(record)


# --------------------------------------------------------------------------- pairing


def _flag_client(flags: int | None) -> int:
    """0: no evidence; 1: this record's source is the client; 2: its destination is."""
    if flags is None or not flags & 2:
        return 0
    return 2 if flags & 16 else 1


def _conn_key(proto: int, sip: str, sport: int, dip: str, dport: int) -> tuple[int, int]:
    """(hash of the unordered connection key, 1 when src is the lower end else 2)."""
    if (sip, sport) <= (dip, dport):
        return hash((proto, sip, sport, dip, dport)), 1
    return hash((proto, dip, dport, sip, sport)), 2


# State bits per connection: 1/2 = direction low->high / high->low seen; 4/8 = the low /
# high end is the client by TCP flags.
_SEEN_BOTH = 3


def _ephemeral(port: int) -> bool:
    return port >= EPHEMERAL_MIN


# --------------------------------------------------------------------------- parser


class Parser:
    """Parses the records of one file (text lines or CloudWatch envelopes).

    ``fields``: the log format of records that carry no header (CloudWatch messages, or a
    headerless custom-format file); default: the version 2 default format.
    ``orientation`` counts how each row's ``is_reply`` was decided (the keys of
    ``extra["orientation"]``, plus ``unknown``); ``unindexed`` counts records whose
    connection did not fit the pairing index.
    """

    name = NAME

    def __init__(
        self,
        path: str,
        lookahead: Sequence[Any] = (),
        *,
        fields: Sequence[str] | None = None,
        max_paired: int = MAX_PAIRED_CONNECTIONS,
    ) -> None:
        self.path = path
        self.base = _DEFAULT_LAYOUT if fields is None else _Layout(fields, header=True)
        self.layout = self.base
        self.max_paired = max_paired
        self.orientation: Counter = Counter()
        self.unindexed = 0
        self._pairs: dict[int, int] = {}
        self._full = False
        self._index(path)

    # ---- pre-pass

    def _index(self, path: str) -> None:
        """Index every connection of the file (see the module docstring)."""
        layout = self.base
        for _, _, raw in iter_records(path):
            if isinstance(raw, TextLine) and raw.startswith("{"):
                values = _concatenated(raw)
                for value in values if isinstance(values, list) else ():
                    self._note_envelope(value)
                continue
            if isinstance(raw, TextLine):
                tokens = raw.split()
                fields = _header(tokens)
                if fields is not None:
                    layout = _Layout(fields, header=True)
                elif len(tokens) == layout.width:
                    self._note(layout, tokens)
                continue
            self._note_envelope(raw)

    def _note_envelope(self, record: Any) -> None:
        for event in _envelope_events(record) or ():
            message = event.get("message") if type(event) is dict else None
            if type(message) is str:
                tokens = message.split()
                if len(tokens) == self.base.width:
                    self._note(self.base, tokens)

    def _note(self, layout: _Layout, tokens: Sequence[str]) -> None:
        try:
            key = _tuple(layout, tokens)
        except (Bad, ValueError):
            return
        if key is None:
            return
        proto, sip, sport, dip, dport, flags = key
        h, side = _conn_key(proto, sip, sport, dip, dport)
        state = self._pairs.get(h)
        if state is None:
            if len(self._pairs) >= self.max_paired:
                self._full = True
                return
            state = 0
        state |= side
        client = _flag_client(flags)
        if client:
            low_is_client = (client == 1) == (side == 1)
            state |= 4 if low_is_client else 8
        self._pairs[h] = state

    # ---- records

    def parse(self, record: Any) -> dict | Filtered | Rejected:
        """One record -> a row, Filtered or Rejected. Never raises for bad data.

        The reader first splits container records with :func:`expand` (one CloudWatch log
        event per record). Given a whole envelope of several events, this can return only
        one result: it rejects the envelope (use :meth:`parse_many`).
        """
        if isinstance(record, (Rejected, Filtered)):
            return record  # from expand: a malformed log event
        if isinstance(record, LogEvent):
            return self._line(record, self.base)
        if isinstance(record, TextLine) and not record.startswith("{"):
            return self._line(record)
        if isinstance(record, TextLine):
            values = _concatenated(record)
            if isinstance(values, Rejected):
                return values
            results = self.parse_many(record)
        elif _envelope_events(record) is not None:
            events = _envelope_events(record)
            if record.get("messageType") == "CONTROL_MESSAGE":
                return Filtered("CloudWatch control message")
            if not events:
                return Filtered("CloudWatch envelope without log events")
            results = self.parse_many(record)
        elif type(record) is str:
            return self._line(record)
        else:
            return Rejected("malformed record: not a VPC flow log record", truncated_repr(record))
        if len(results) == 1:
            return results[0]
        return Rejected(
            "CloudWatch envelope with several log events",
            f"{len(results)} log events in one record (split them with aws_vpc.expand)",
        )

    def parse_many(self, record: Any) -> list[dict | Filtered | Rejected]:
        """Every record inside ``record`` (see :func:`expand`), parsed: one result per
        CloudWatch log event; a list of one for any other record."""
        inner = expand(record)
        if inner is None:
            return [self.parse(record)]
        return [self.parse(item) for item in inner]

    def _line(self, line: str, layout: _Layout | None = None) -> dict | Filtered | Rejected:
        tokens = line.split()
        if layout is None:
            fields = _header(tokens)
            if fields is not None:
                self.layout = _Layout(fields, header=True)
                return Filtered("header line")
            layout = self.layout
        if len(tokens) != layout.width:
            return Rejected(
                "wrong field count",
                f"{len(tokens)} fields, expected {layout.width} ({layout.label}): "
                f"{truncated_repr(line, 100)}",
            )
        try:
            return self._record(layout, tokens)
        except Bad as bad:
            return bad.rejected()

    def _record(self, layout: _Layout, tokens: Sequence[str]) -> dict | Filtered:
        get = layout.get
        status = get(tokens, "log-status")
        if status is not None and status not in LOG_STATUSES:
            raise _invalid("log-status", status)
        if status in ("NODATA", "SKIPDATA"):
            return Filtered(f"log-status {status}")

        row = new_row()
        extra: dict[str, str] = {}
        # Addresses: the packet's own (pkt-*) first.
        addr = {}
        for field in ("srcaddr", "dstaddr", "pkt-srcaddr", "pkt-dstaddr"):
            addr[field] = _ip(get(tokens, field), field)
        src = addr["pkt-srcaddr"] or addr["srcaddr"]
        dst = addr["pkt-dstaddr"] or addr["dstaddr"]
        if src is None or dst is None:
            raise Bad("missing IP", f"no source or destination address in {layout.label}")
        row["ip_family"] = family(src, dst)
        for field, used in (("srcaddr", src), ("dstaddr", dst)):
            if addr[field] is not None and addr[field] != used:
                extra[field] = addr[field]
        row["src_ip"], row["dst_ip"] = src, dst
        row["src_kind"] = row["dst_kind"] = "unknown"

        # Protocol and ports.
        number = _int(get(tokens, "protocol"), "protocol", 255)
        sport = _int(get(tokens, "srcport"), "srcport", 65535)
        dport = _int(get(tokens, "dstport"), "dstport", 65535)
        if number is None:
            row["protocol"] = "OTHER"
        else:
            row["protocol"] = PROTOCOLS.get(number, "OTHER")
            row["protocol_number"] = number
        if number in _PORTED:
            row["src_port"], row["dst_port"] = sport, dport

        # Time.
        start = _int(get(tokens, "start"), "start", _SECONDS_MAX)
        end = _int(get(tokens, "end"), "end", _SECONDS_MAX)
        if start is None and end is None:
            row["time_start"] = row["time_end"] = TIME_UNKNOWN
            extra["time"] = "unknown"
        else:
            start = end if start is None else start
            end = start if end is None else end
            if end < start:
                raise Bad("invalid time", f"end {end} before start {start}")
            row["time_start"], row["time_end"] = start * _NS, end * _NS

        # Verdict.
        action = get(tokens, "action")
        if action is None:
            row["verdict"] = "unknown"
        elif action in ACTIONS:
            row["verdict"] = ACTIONS[action]
            row["verdict_raw"] = action
        else:
            raise _invalid("action", action)
        reason = get(tokens, "reject-reason")
        if reason is not None:
            if _TOKEN_RE.fullmatch(reason) is None:
                raise _invalid("reject-reason", reason)
            row["drop_reason"] = reason

        # Observer, direction, reporter.
        eni = get(tokens, "interface-id")
        if eni is not None:
            if _TOKEN_RE.fullmatch(eni) is None:
                raise _invalid("interface-id", eni)
            row["observer"] = eni
        fd = get(tokens, "flow-direction")
        if fd is not None and fd not in DIRECTIONS:
            raise _invalid("flow-direction", fd)
        row["direction"] = DIRECTIONS[fd] if fd is not None else "unknown"
        row["reporter"] = {"egress": "src", "ingress": "dst"}.get(row["direction"], "unknown")

        # Counters and flags.
        packets = _int(get(tokens, "packets"), "packets", INT64 - 1)
        nbytes = _int(get(tokens, "bytes"), "bytes", INT64 - 1)
        if packets is not None:
            row["packets_fwd"] = packets
        if nbytes is not None:
            row["bytes_fwd"] = nbytes
        flags = _int(get(tokens, "tcp-flags"), "tcp-flags", 511)
        if flags is not None and number == 6:
            row["tcp_flags"] = flags
        row["flows"] = 1
        row["aggregated"] = False

        # Extra.
        for i, field, key in layout.extra:
            tok = tokens[i]
            if tok == "-":
                continue
            if _TOKEN_RE.fullmatch(tok) is None:
                raise _invalid(field, tok)
            extra[key] = tok
        if "type" in extra and extra["type"] not in TYPES:
            raise _invalid("type", extra["type"])
        if "traffic_path" in extra:
            _int(extra["traffic_path"], "traffic-path", 255)

        # Orientation.
        is_reply, how = self._orient(number, src, sport, dst, dport, flags)
        self.orientation[how or "unknown"] += 1
        if is_reply is not None:
            row["is_reply"] = is_reply
            extra["orientation"] = how
        row["extra"] = sorted(extra.items())
        return row

    def _orient(
        self,
        number: int | None,
        src: str,
        sport: int | None,
        dst: str,
        dport: int | None,
        flags: int | None,
    ) -> tuple[bool | None, str | None]:
        if number not in _PORTED or sport is None or dport is None:
            return None, None
        own = _flag_client(flags if number == 6 else None)
        if own:
            return own == 2, "tcp-flags"
        h, side = _conn_key(number, src, sport, dst, dport)
        state = self._pairs.get(h)
        if state is None:
            if self._full:
                self.unindexed += 1
            return None, None
        clients = state & 12
        if clients in (4, 8):
            low_is_client = clients == 4
            src_is_client = low_is_client == (side == 1)
            return not src_is_client, "paired tcp-flags"
        if state & _SEEN_BOTH == _SEEN_BOTH:
            if _ephemeral(sport) and not _ephemeral(dport):
                return False, "paired ports"
            if _ephemeral(dport) and not _ephemeral(sport):
                return True, "paired ports"
        return None, None


def _tuple(layout: _Layout, tokens: Sequence[str]) -> tuple | None:
    """(protocol, src, sport, dst, dport, flags) of a record, for the pairing index; None
    when the record has no ports (or is not OK)."""
    get = layout.get
    status = get(tokens, "log-status")
    if status is not None and status != "OK":
        return None
    number = _int(get(tokens, "protocol"), "protocol", 255)
    if number not in _PORTED:
        return None
    sport = _int(get(tokens, "srcport"), "srcport", 65535)
    dport = _int(get(tokens, "dstport"), "dstport", 65535)
    if sport is None or dport is None:
        return None
    src = _ip(get(tokens, "pkt-srcaddr"), "pkt-srcaddr") or _ip(get(tokens, "srcaddr"), "srcaddr")
    dst = _ip(get(tokens, "pkt-dstaddr"), "pkt-dstaddr") or _ip(get(tokens, "dstaddr"), "dstaddr")
    if src is None or dst is None:
        return None
    flags = _int(get(tokens, "tcp-flags"), "tcp-flags", 511) if number == 6 else None
    return number, src, sport, dst, dport, flags
