"""AWS VPC Flow Logs -> normalized rows (``research/flow-formats.md`` section 3.1).

Accepted shapes:

* **Text lines** (S3 delivery, plain or gzip; ``TEXT = True``): the default format (version 2,
  14 fields, no header) or a custom format whose first line is the header naming the fields
  (any order, any subset; v2-v5 fields are read, v7 ``ecs-*`` and v8 ``reject-reason`` are
  accepted). Fields are split on runs of whitespace; ``-`` is null. A header line later in a
  file (concatenated files) switches the layout. The AWS format string (``${srcaddr} ...``)
  is accepted as a header too.
* **Custom formats without a header line** (a CloudWatch log group's messages, or text
  exported from one): the parser is given the flow log's LogFormat as ``fields``
  (``Parser(path, lookahead, fields=parse_log_format("${version} ..."))``; the CLI's
  ``--vpc-fields``); it applies to every record of the file that no header precedes. Without
  it, a file whose first records look like flow log records (addresses, an ``eni-`` id,
  ``ACCEPT``/``REJECT``/``OK``...) but not like the default format is refused when the
  parser is made (:class:`~recommender.ingest.sources.InputError` naming ``--vpc-fields``):
  guessing the layout would mix up ports, counters and addresses.
* **CloudWatch Logs subscription payloads**: the ``DATA_MESSAGE`` envelope ``{"messageType",
  "logGroup", "logEvents": [{"id", "timestamp", "message"}]}`` or ``aws logs
  filter-log-events`` output ``{"events": [...]}``, one per line (gzip files are read as is),
  or concatenated without separators as Kinesis Data Firehose writes them to S3 (the reader
  gives each object, or the whole text line: both are read). Also as delivered by Kinesis
  Data Streams or Firehose, each payload gzip-compressed and base64-encoded:

  - a text line of base64 (``H4sI...``; or ``eyJ...`` when not compressed);
  - ``aws kinesis get-records`` output ``{"Records": [{"Data": "<base64>", ...}],
    "NextShardIterator": ...}``, and a Lambda Kinesis event ``{"Records": [{"kinesis":
    {"data": "<base64>"}}]}``;
  - a Firehose data-transformation event (or response) ``{"records": [{"recordId",
    "data": "<base64>"}]}``; one such record (``{"Data"|"data", "SequenceNumber"|"recordId"}``)
    alone on a line too. A payload that is not JSON holds flow log records as text lines
    (a flow log delivered to Firehose directly), one record each.

  Decoding is bounded: a payload that decompresses to more than :data:`MAX_PAYLOAD` bytes
  is rejected (``payload too large``) without being held, bad base64 or gzip is rejected
  with the reason, and what a payload holds is only ever read as envelopes (never as
  another container). CloudWatch messages carry no header: they are read with the default
  format unless the parser is given ``fields``. One envelope holds many records:
  :func:`expand` splits a container into its log events, which the reader parses and counts
  one by one (with the container's line number); ``CONTROL_MESSAGE`` envelopes and
  envelopes or containers without events are filtered, each counted once with its reason.

Normalization:

* ``pkt-srcaddr``/``pkt-dstaddr`` win over ``srcaddr``/``dstaddr`` (NAT/transit gateway ENIs
  and EKS pods on secondary addresses); the ENI-level addresses are kept in ``extra`` when
  they differ. Every endpoint is ``kind = unknown``: the log has no Kubernetes identity, the
  inventory join (:mod:`recommender.ingest.enrich`) supplies it.
* ``ACCEPT`` -> allowed, ``REJECT`` -> denied (security group / NACL verdicts, not
  NetworkPolicy), ``-`` -> unknown. ``NODATA``/``SKIPDATA`` records are filtered by status.
* Protocols 6/17/132 keep their ports; 1 and 58 are ``ICMP``/``ICMPv6`` without ports;
  others are ``OTHER``. ``packets``/``bytes`` are one direction (``*_fwd``).
* A record without the fields a rule needs is rejected with the reason: no ``protocol``
  (``missing protocol``, e.g. a LogFormat of addresses only), or a TCP/UDP/SCTP record
  without ``srcport``/``dstport`` (``missing port``). Port-less protocols (ICMP...) are fine.
* Times are UNIX seconds; a custom format without ``start``/``end`` gives
  ``time_start = time_end = 0`` (:data:`TIME_UNKNOWN`) and ``extra["time"] = "unknown"``.

Orientation (``is_reply``): each record is one direction seen on one ENI, so the request and
the reply of one connection are two records that must never become two rules. The evidence,
strongest first (``extra["orientation"]`` says which one decided):

1. A record's own ``tcp-flags``: SYN without ACK (2, or 3 = SYN+FIN) is the request, SYN-ACK
   (18, 19) the reply (``"tcp-flags"``).
2. Else the connection's other records in the same file: a file-level pre-pass indexes every
   connection (protocol + both address:port ends, unordered). A SYN or SYN-ACK seen on any
   record of the connection orients all its records, e.g. the FIN-only records of a later
   aggregation window (``"paired tcp-flags"``).
3. (Enrichment, after this parser: the inventory's declared ``containerPort``\\ s and Service
   target ports; see :mod:`recommender.ingest.enrich`. It may re-orient records decided by
   the two weaker rules below, never those decided by TCP flags.)
4. Else listener statistics over the file: the pre-pass also counts, for every
   protocol + address:port end, the distinct ports of its peers (up to
   :data:`LISTENER_MIN_PEERS`). An end reached from at least that many distinct peer ports
   is a listener; a record between a listener and an end that only ever talked to one peer
   port goes towards the listener (``"listener statistics"``). This orients services on any
   port, ephemeral range included (gRPC on 50051), as long as the file holds a few of their
   connections.
5. Else, the weakest evidence, kept as a last resort: when both halves (A:a -> B:b and
   B:b -> A:a) are in the file, the one whose source port is ephemeral (>= 32768, the Linux
   and IANA ranges) and whose destination port is not is the request (``"paired ports"``).
6. Otherwise ``is_reply`` is null: the connection stage sets the record aside and counts it.
   A lone record is never oriented by its ports ("lower port is the server" is not evidence).

``Parser.orientation`` counts the parser's decisions (those keys, plus ``unknown``);
enrichment counts its own in :class:`~recommender.ingest.enrich.EnrichStats`.

Memory bound of the pre-pass: it reads the file once more (streamed) and keeps one entry per
distinct connection and one per distinct end (a 64-bit hash -> a small int, about 100 bytes
each), at most :data:`MAX_PAIRED_CONNECTIONS` entries of each kind (about 100 MB each; an S3
object holds at most about 500 000 records). Connections and ends beyond it are not indexed:
their records are oriented by their own flags only (or by the evidence that was indexed),
and ``Parser.unindexed`` counts the records left unknown for that reason. Pairing never
crosses files: S3 writes both directions of an ENI's traffic to the same object.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from recommender.ingest.common import (
    Bad,
    invalid,
)
from recommender.ingest.errors import InputError
from recommender.ingest.sniff import GZIP_MAGIC
from recommender.ingest.sources import Filtered, Rejected, TextLine, iter_records, new_row
from recommender.ingest.values import (
    INT64,
    canonical_address,
    family,
)
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
#: Listener statistics: an end reached from at least this many distinct peer ports is a
#: listener (see the module docstring).
LISTENER_MIN_PEERS = 3
#: A Kinesis / Firehose payload that decompresses to more than this is rejected unread (a
#: CloudWatch Logs subscription batch is about 1 MB).
MAX_PAYLOAD = 16 << 20
#: Records of a file looked at to tell a headerless custom format from the default one.
LAYOUT_CHECK_RECORDS = 20
#: What the CLI calls ``fields`` (named in errors).
FIELDS_OPTION = "--vpc-fields"

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
#: Any token of a flow log record (ECS ARNs have ``/`` and ``:``).
_PLAIN_RE = re.compile(r"[A-Za-z0-9_.:/-]{1,512}", re.ASCII)
#: Tokens only a flow log record has: its action and log status.
_MARKERS = frozenset({"ACCEPT", "REJECT", "OK", "NODATA", "SKIPDATA"})
#: The start of a base64 payload: gzip (``\x1f\x8b\x08``) or a JSON object (``{"``).
_PAYLOAD_PREFIXES = ("H4sI", "eyJ")
#: How a text line (or JSON string) that holds records starts: JSON, or a payload.
_CONTAINER_PREFIXES = ("{", *_PAYLOAD_PREFIXES)
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


def parse_log_format(text: str | Sequence[str]) -> tuple[str, ...]:
    """Field names of an AWS log format string (``${version} ${srcaddr} ...``), a header
    line or a list of field names; ValueError when it is none of them (it must name both
    ends: ``srcaddr`` or ``pkt-srcaddr``, ``dstaddr`` or ``pkt-dstaddr``)."""
    tokens = text.split() if isinstance(text, str) else [str(t) for t in text]
    fields = header_fields(tokens)
    if fields is None:
        shown = text if isinstance(text, str) else " ".join(tokens)
        raise ValueError(
            f"not a VPC flow log format: {truncated_repr(shown)} (expected field names such "
            "as 'version account-id interface-id srcaddr dstaddr srcport dstport protocol "
            "...' or the LogFormat '${version} ${srcaddr} ...')"
        )
    return fields


class _Layout:
    """Where each field sits in a record of one format (``label`` names the format in
    rejections: ``default format``, ``header`` or ``--vpc-fields``)."""

    def __init__(self, fields: Sequence[str], label: str) -> None:
        self.fields = tuple(fields)
        self.width = len(self.fields)
        at: dict[str, int] = {}
        for i, name in enumerate(self.fields):
            at.setdefault(name, i)
        self.at = at
        self.extra = tuple((at[f], f, key) for f, key in _EXTRA_FIELDS if f in at)
        self.has_time = "start" in at or "end" in at
        self.label = label

    def get(self, tokens: Sequence[str], field: str) -> str | None:
        i = self.at.get(field)
        if i is None:
            return None
        tok = tokens[i]
        return None if tok == "-" else tok


_DEFAULT_LAYOUT = _Layout(DEFAULT_FIELDS, "default format")


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


def _is_ip(token: str) -> bool:
    try:
        ipaddress.ip_address(token)
    except ValueError:
        return False
    return True


def _looks_like_custom(tokens: Sequence[str]) -> bool:
    """A flow log record in some layout: plain tokens, two addresses, and an action, a log
    status or an ENI id. (Not the default format: test that first.)"""
    if not 3 <= len(tokens) <= 256:
        return False
    addresses = 0
    marker = False
    for token in tokens:
        if _PLAIN_RE.fullmatch(token) is None:
            return False
        if token in _MARKERS or _ENI_RE.fullmatch(token) is not None:
            marker = True
        elif addresses < 2 and _is_ip(token):
            addresses += 1
    return marker and addresses == 2


def _looks_like_record(tokens: Sequence[str]) -> bool:
    return _looks_like_v2(tokens) or _looks_like_custom(tokens)


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


# ---- Kinesis Data Streams / Firehose payloads (base64, usually of gzip)


def _payload_str(record: Any) -> bool:
    """A text line or JSON string that is one base64 payload."""
    return isinstance(record, str) and record.startswith(_PAYLOAD_PREFIXES)


def _gunzip(data: bytes, cap: int) -> bytes | Rejected:
    """Decompressed gzip ``data`` (concatenated members allowed); never more than ``cap``
    bytes are produced: beyond it the payload is rejected."""
    out: list[bytes] = []
    size = 0
    while True:
        d = zlib.decompressobj(wbits=31)
        try:
            piece = d.decompress(data, cap + 1 - size)
        except zlib.error as exc:
            return Rejected("corrupt gzip", f"Kinesis/Firehose payload: {exc}")
        size += len(piece)
        if size > cap:
            return Rejected(
                "payload too large",
                f"Kinesis/Firehose payload decompresses to over {cap} bytes (limit "
                f"{cap}); not parsed",
            )
        out.append(piece)
        if not d.eof:
            return Rejected("corrupt gzip", "Kinesis/Firehose payload: truncated gzip stream")
        data = d.unused_data.lstrip(b"\0")
        if not data:
            return b"".join(out)
        if not data.startswith(GZIP_MAGIC):
            return Rejected("corrupt gzip", "Kinesis/Firehose payload: data after the gzip stream")


def _decode(data: Any) -> list[Any] | str | Rejected:
    """The JSON values of one base64 payload (gzip-compressed or not); its text when it is
    not JSON (flow log records as text lines)."""
    if not isinstance(data, str):
        return Rejected("malformed record: Kinesis data", truncated_repr(data))
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError:  # binascii.Error
        return Rejected("invalid base64", f"Kinesis/Firehose data: {truncated_repr(data, 60)}")
    if raw.startswith(GZIP_MAGIC):
        raw = _gunzip(raw, MAX_PAYLOAD)
        if isinstance(raw, Rejected):
            return raw
    elif len(raw) > MAX_PAYLOAD:
        return Rejected(
            "payload too large", f"Kinesis/Firehose payload over {MAX_PAYLOAD} bytes; not parsed"
        )
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        return Rejected("invalid UTF-8", f"Kinesis/Firehose payload, byte {exc.start}")
    if not text:
        return Rejected("malformed record: Kinesis data", "empty payload")
    if not text.startswith(("{", "[")):
        return text
    return _concatenated(text)


def _record_data(item: Any) -> Any:
    """The data of one Kinesis / Firehose record (None: not such a record)."""
    if type(item) is not dict:
        return None
    data = item.get("Data", item.get("data"))
    if data is None and type(item.get("kinesis")) is dict:
        data = item["kinesis"].get("data")  # a Lambda Kinesis event record
    return data


#: Keys of a Kinesis / Firehose container besides its records (an empty page says so).
_CONTAINER_KEYS = ("NextShardIterator", "MillisBehindLatest", "invocationId", "deliveryStreamArn")
#: Keys that make an object with ``Data``/``data`` one Kinesis / Firehose record.
_RECORD_KEYS = ("SequenceNumber", "PartitionKey", "recordId", "kinesis")


def _kinesis_records(record: Any) -> list | None:
    """The Kinesis / Firehose records in ``record``, else None: ``{"Records": [...]}``
    (``aws kinesis get-records`` output, a Lambda Kinesis event), ``{"records": [...]}``
    (a Firehose data-transformation event or response), or one such record."""
    if type(record) is not dict:
        return None
    for key in ("Records", "records"):
        items = record.get(key)
        if type(items) is list:
            if items and _record_data(items[0]) is not None:
                return items
            if not items and any(k in record for k in _CONTAINER_KEYS):
                return items
            return None
    if any(k in record for k in _RECORD_KEYS) and _record_data(record) is not None:
        return [record]
    return None


def _payload_events(data: Any) -> Iterator[Any]:
    """The log events of one payload; what it holds is read as envelopes only."""
    values = _decode(data)
    if isinstance(values, Rejected):
        yield values
        return
    if isinstance(values, str):  # records as text lines (no envelope), one per line
        for line in values.splitlines():
            if line.strip():
                yield LogEvent(line.strip())
        return
    for value in values:
        items = _envelope_items(value)
        if items is None:
            yield Rejected(
                "malformed record: Kinesis data",
                f"not a CloudWatch Logs envelope: {truncated_repr(value, 60)}",
            )
        else:
            yield from items


def _kinesis_events(items: list) -> Iterator[Any]:
    if not items:
        yield Filtered("Kinesis/Firehose page without records")
    for item in items:
        data = _record_data(item)
        if data is None:
            yield Rejected("malformed record: Kinesis record", truncated_repr(item))
        else:
            yield from _payload_events(data)


# ---- detection


def _envelope_looks_like(record: Any) -> bool:
    events = _envelope_events(record)
    if events is None:
        return False
    if record.get("messageType") == "CONTROL_MESSAGE":
        return True
    message = _first_message(events)
    return message is not None and _looks_like_record(message.split())


def _payload_looks_like(data: Any) -> bool:
    values = _decode(data)
    if isinstance(values, str):
        return _looks_like_record(values.split("\n", 1)[0].split())
    return not isinstance(values, Rejected) and bool(values) and _envelope_looks_like(values[0])


def looks_like(record: Any) -> bool:
    """A header line, a flow log record (default format, or a custom layout that
    :class:`Parser` then asks ``--vpc-fields`` for), or a CloudWatch envelope of such
    records, also inside a Kinesis / Firehose payload or concatenated on a text line."""
    if isinstance(record, TextLine):
        if record.startswith("{"):
            return looks_like(_first_object(record))
        if _payload_str(record):
            return _payload_looks_like(record)
        tokens = record.split()
        return header_fields(tokens) is not None or _looks_like_record(tokens)
    if _payload_str(record):
        return _payload_looks_like(record)
    items = _kinesis_records(record)
    if items is not None:
        return not items or _payload_looks_like(_record_data(items[0]))
    return _envelope_looks_like(record)


def describe(record: Any) -> str | None:
    return "an AWS VPC flow log record" if looks_like(record) else None


class LogEvent(str):
    """The message of one CloudWatch log event: one record in the log group's format (the
    parser's ``fields``, default v2), never a header line."""

    __slots__ = ()


def _envelope_items(record: Any) -> list[Any] | None:
    """The log events of an envelope (a Filtered for a control message or an envelope
    without events); None when ``record`` is no envelope."""
    events = _envelope_events(record)
    if events is None:
        return None
    if record.get("messageType") == "CONTROL_MESSAGE":
        return [Filtered("CloudWatch control message")]
    if not events:
        return [Filtered("CloudWatch envelope without log events")]
    return [
        LogEvent(event["message"])
        if type(event) is dict and type(event.get("message")) is str
        else Rejected("malformed record: log event", truncated_repr(event))
        for event in events
    ]


def _container_str(record: Any) -> bool:
    """A text line or JSON string that may hold records (JSON, a payload)."""
    return isinstance(record, str) and record.startswith(_CONTAINER_PREFIXES)


def expand(record: Any) -> Iterable[Any] | None:
    """The records inside a container record, each parsed and counted on its own (the
    reader's hook; iterate it once): the log events of a CloudWatch envelope, of the
    envelopes written back to back on one text line (Firehose to S3) and of Kinesis /
    Firehose payloads; a Filtered for a control message or an empty envelope or page, a
    Rejected for what cannot be decoded. None for a record that is one flow record (or
    no container at all: ``Parser.parse`` rejects it)."""
    if isinstance(record, str):
        if not record.startswith(_CONTAINER_PREFIXES):
            return None  # one record (the common case)
        if isinstance(record, TextLine) and record.startswith("{"):
            values = _concatenated(record)
            if isinstance(values, Rejected):
                return [values]
            return _values_events(values)
        if _payload_str(record):
            return _payload_events(record)
        return None
    items = _kinesis_records(record)
    if items is not None:
        return _kinesis_events(items)
    return _envelope_items(record)


def _values_events(values: list[Any]) -> Iterator[Any]:
    """The JSON values of a text line: containers expanded (one level), others as they are
    (``Parser.parse`` rejects what is no record)."""
    for value in values:
        if isinstance(value, str):
            inner: Iterable[Any] | None = _payload_events(value) if _payload_str(value) else None
        else:
            items = _kinesis_records(value)
            inner = _kinesis_events(items) if items is not None else _envelope_items(value)
        if inner is None:
            yield value
        else:
            yield from inner


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

# State per end (protocol, address, port): the distinct ports of its peers, up to three:
# bits 0-16 the first peer port + 1, bits 17-33 the second + 1, bit 34 "a third one".
_PORT_BITS = 17
_PORT_MASK = (1 << _PORT_BITS) - 1
_LISTENER = 1 << (2 * _PORT_BITS)


def _add_peer(state: int, port: int) -> int:
    p = port + 1
    first = state & _PORT_MASK
    if first == p:
        return state
    if not first:
        return state | p
    second = (state >> _PORT_BITS) & _PORT_MASK
    if second == p:
        return state
    if not second:
        return state | p << _PORT_BITS
    return state | _LISTENER


def _ephemeral(port: int) -> bool:
    return port >= EPHEMERAL_MIN


# --------------------------------------------------------------------------- parser


def _addresses(
    layout: _Layout, tokens: Sequence[str], row: dict, extra: dict[str, str]
) -> tuple[str, str]:
    """The packet's own addresses (pkt-*) first; the interface's, when they differ, go to
    ``extra``."""
    get = layout.get
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
    return src, dst


def _protocol_ports(
    layout: _Layout, tokens: Sequence[str], row: dict
) -> tuple[int, int | None, int | None]:
    """Protocol and ports: a rule needs them (port-less protocols need none)."""
    get = layout.get
    number = _int(get(tokens, "protocol"), "protocol", 255)
    sport = _int(get(tokens, "srcport"), "srcport", 65535)
    dport = _int(get(tokens, "dstport"), "dstport", 65535)
    if number is None:
        raise Bad(
            "missing protocol",
            f"no protocol in the record ({layout.label}): it can never become a rule",
        )
    row["protocol"] = PROTOCOLS.get(number, "OTHER")
    row["protocol_number"] = number
    if number in _PORTED:
        if sport is None or dport is None:
            missing = " and ".join(
                f for f, v in (("srcport", sport), ("dstport", dport)) if v is None
            )
            raise Bad(
                "missing port",
                f"{PROTOCOLS[number]} record without {missing} ({layout.label})",
            )
        row["src_port"], row["dst_port"] = sport, dport
    return number, sport, dport


def _times(layout: _Layout, tokens: Sequence[str], row: dict, extra: dict[str, str]) -> None:
    start = _int(layout.get(tokens, "start"), "start", _SECONDS_MAX)
    end = _int(layout.get(tokens, "end"), "end", _SECONDS_MAX)
    if start is None and end is None:
        row["time_start"] = row["time_end"] = TIME_UNKNOWN
        extra["time"] = "unknown"
    else:
        start = end if start is None else start
        end = start if end is None else end
        if end < start:
            raise Bad("invalid time", f"end {end} before start {start}")
        row["time_start"], row["time_end"] = start * _NS, end * _NS


def _verdict(layout: _Layout, tokens: Sequence[str], row: dict) -> None:
    action = layout.get(tokens, "action")
    if action is None:
        row["verdict"] = "unknown"
    elif action in ACTIONS:
        row["verdict"] = ACTIONS[action]
        row["verdict_raw"] = action
    else:
        raise _invalid("action", action)
    reason = layout.get(tokens, "reject-reason")
    if reason is not None:
        if _TOKEN_RE.fullmatch(reason) is None:
            raise _invalid("reject-reason", reason)
        row["drop_reason"] = reason


def _observer(layout: _Layout, tokens: Sequence[str], row: dict) -> None:
    """Observer (the interface), direction and reporter."""
    eni = layout.get(tokens, "interface-id")
    if eni is not None:
        if _TOKEN_RE.fullmatch(eni) is None:
            raise _invalid("interface-id", eni)
        row["observer"] = eni
    fd = layout.get(tokens, "flow-direction")
    if fd is not None and fd not in DIRECTIONS:
        raise _invalid("flow-direction", fd)
    row["direction"] = DIRECTIONS[fd] if fd is not None else "unknown"
    row["reporter"] = {"egress": "src", "ingress": "dst"}.get(row["direction"], "unknown")


def _counters(layout: _Layout, tokens: Sequence[str], row: dict, number: int) -> int | None:
    """Counters and TCP flags; returns the flags."""
    get = layout.get
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
    return flags


def _extra_fields(layout: _Layout, tokens: Sequence[str], extra: dict[str, str]) -> None:
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


class Parser:
    """Parses the records of one file (text lines, CloudWatch envelopes, Kinesis/Firehose
    payloads).

    ``fields``: the log format of records that no header line precedes (CloudWatch messages,
    a headerless custom-format file): field names or the LogFormat string (see
    :func:`parse_log_format`); default: the version 2 default format, and a ``lookahead``
    whose records look like a custom layout raises InputError (naming ``--vpc-fields``).
    ``orientation`` counts how each row's ``is_reply`` was decided by this parser (the values
    of ``extra["orientation"]``, plus ``unknown``); ``unindexed`` counts records left unknown
    because their connection or an end did not fit the pre-pass index.
    """

    name = NAME

    def __init__(
        self,
        path: str,
        lookahead: Sequence[Any] = (),
        *,
        fields: Sequence[str] | str | None = None,
        max_paired: int = MAX_PAIRED_CONNECTIONS,
    ) -> None:
        self.path = path
        if fields is None:
            self.base = _DEFAULT_LAYOUT
            self._check_layout(lookahead)
        else:
            self.base = _Layout(parse_log_format(fields), FIELDS_OPTION)
        self.layout = self.base
        self.max_paired = max_paired
        self.orientation: Counter = Counter()
        self.unindexed = 0
        self._pairs: dict[int, int] = {}
        self._ends: dict[int, int] = {}
        self._full = False
        self._index(path)

    def _check_layout(self, lookahead: Sequence[Any]) -> None:
        """Refuse records in a custom layout that no header names: without the LogFormat,
        ports, counters and addresses cannot be told apart."""
        custom: list[str] | None = None
        records = (tokens for raw in lookahead for tokens in _record_tokens(raw))
        for tokens in islice(records, LAYOUT_CHECK_RECORDS):
            if _header(tokens) is not None or _looks_like_v2(tokens):
                return
            if custom is None and _looks_like_custom(tokens):
                custom = tokens
        if custom is not None:
            raise InputError(
                f"{self.path}: AWS VPC flow log records in a custom format without a header "
                f"line ({len(custom)} fields, not the {len(DEFAULT_FIELDS)} of the default "
                f"format); pass {FIELDS_OPTION} '<the LogFormat field list>', e.g. "
                f"{FIELDS_OPTION} '${{version}} ${{interface-id}} ${{srcaddr}} ...'"
            )

    # ---- pre-pass

    def _index(self, path: str) -> None:
        """Index every connection and end of the file (see the module docstring)."""
        layout = self.base
        for _, _, raw in iter_records(path):
            if isinstance(raw, TextLine) and not _container_str(raw):
                tokens = raw.split()
                fields = _header(tokens)
                if fields is not None:
                    layout = _Layout(fields, "header")
                elif len(tokens) == layout.width:
                    self._note(layout, tokens)
                continue
            if isinstance(raw, Rejected):
                continue
            for item in expand(raw) or ():
                if isinstance(item, LogEvent):
                    tokens = item.split()
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
        if state is None and len(self._pairs) >= self.max_paired:
            self._full = True
        else:
            state = (state or 0) | side
            client = _flag_client(flags)
            if client:
                low_is_client = (client == 1) == (side == 1)
                state |= 4 if low_is_client else 8
            self._pairs[h] = state
        self._peer(hash((proto, sip, sport)), dport)
        self._peer(hash((proto, dip, dport)), sport)

    def _peer(self, end: int, port: int) -> None:
        """Note that the end hashed ``end`` talked to a peer on ``port``."""
        state = self._ends.get(end)
        if state is None:
            if len(self._ends) >= self.max_paired:
                self._full = True
                return
            self._ends[end] = port + 1
        elif state & _PORT_MASK != port + 1:
            self._ends[end] = _add_peer(state, port)

    # ---- records

    def parse(self, record: Any) -> dict | Filtered | Rejected:
        """One record -> a row, Filtered or Rejected. Never raises for bad data.

        The reader first splits container records with :func:`expand` (one CloudWatch log
        event per record). Given a whole container of several events, this can return only
        one result: it rejects the container (use :meth:`parse_many`).
        """
        if type(record) is TextLine and not record.startswith(_CONTAINER_PREFIXES):
            return self._line(record)  # the common case first
        if isinstance(record, (Rejected, Filtered)):
            return record  # from expand: a malformed log event, a control message...
        if isinstance(record, LogEvent):
            return self._line(record, self.base)
        if isinstance(record, str) and not _container_str(record):
            return self._line(record)
        results = self.parse_many(record)
        if len(results) == 1:
            return results[0]
        return Rejected(
            "CloudWatch envelope with several log events",
            f"{len(results)} log events in one record (split them with aws_vpc.expand)",
        )

    def parse_many(self, record: Any) -> list[dict | Filtered | Rejected]:
        """Every record inside ``record`` (see :func:`expand`), parsed: one result per
        CloudWatch log event (or per thing filtered or rejected in it); a list of one for
        any other record."""
        if isinstance(record, (Rejected, Filtered, LogEvent)):
            return [self.parse(record)]
        inner = expand(record)
        if inner is None:
            if isinstance(record, str):
                return [self._line(record)]
            return [Rejected("malformed record: not a VPC flow log record", truncated_repr(record))]
        return [self.parse(item) for item in inner]

    def _line(self, line: str, layout: _Layout | None = None) -> dict | Filtered | Rejected:
        tokens = line.split()
        if layout is None:
            fields = _header(tokens)
            if fields is not None:
                self.layout = _Layout(fields, "header")
                return Filtered("header line")
            layout = self.layout
        if len(tokens) != layout.width:
            hint = ""
            if layout is _DEFAULT_LAYOUT and _looks_like_custom(tokens):
                hint = f"; a custom format without a header needs {FIELDS_OPTION}"
            return Rejected(
                "wrong field count",
                f"{len(tokens)} fields, expected {layout.width} ({layout.label}{hint}): "
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
        src, dst = _addresses(layout, tokens, row, extra)
        number, sport, dport = _protocol_ports(layout, tokens, row)
        _times(layout, tokens, row, extra)
        _verdict(layout, tokens, row)
        _observer(layout, tokens, row)
        flags = _counters(layout, tokens, row, number)
        _extra_fields(layout, tokens, extra)

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
        number: int,
        src: str,
        sport: int | None,
        dst: str,
        dport: int | None,
        flags: int | None,
    ) -> tuple[bool | None, str | None]:
        """(is_reply, how) from the evidence, strongest first (see the module docstring)."""
        if number not in _PORTED or sport is None or dport is None:
            return None, None
        own = _flag_client(flags if number == 6 else None)
        if own:
            return own == 2, "tcp-flags"
        h, side = _conn_key(number, src, sport, dst, dport)
        state = self._pairs.get(h)
        if state is not None:
            clients = state & 12
            if clients in (4, 8):
                low_is_client = clients == 4
                src_is_client = low_is_client == (side == 1)
                return not src_is_client, "paired tcp-flags"
        s = self._ends.get(hash((number, src, sport)))
        d = self._ends.get(hash((number, dst, dport)))
        if s is not None and d is not None:
            # A listener (a third distinct peer port) and an end with one peer port only.
            if d >= _LISTENER and s <= _PORT_MASK:
                return False, "listener statistics"
            if s >= _LISTENER and d <= _PORT_MASK:
                return True, "listener statistics"
        if state is not None and state & _SEEN_BOTH == _SEEN_BOTH:
            if _ephemeral(sport) and not _ephemeral(dport):
                return False, "paired ports"
            if _ephemeral(dport) and not _ephemeral(sport):
                return True, "paired ports"
        if self._full and (state is None or s is None or d is None):
            self.unindexed += 1
        return None, None


def _record_tokens(raw: Any) -> Iterator[list[str]]:
    """The tokens of each record (or header line) in one raw record of a file."""
    if isinstance(raw, Rejected):
        return
    if isinstance(raw, TextLine) and not _container_str(raw):
        if raw:
            yield raw.split()
        return
    for item in expand(raw) or ():
        if isinstance(item, LogEvent):
            yield item.split()


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
