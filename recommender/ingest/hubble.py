"""Cilium Hubble flows -> normalized rows (``research/flow-formats.md`` section 1).

Accepts ``hubble observe -o json``/``jsonpb`` and exporter lines (``{"flow": ..., "node_name":
..., "time": ...}``, i.e. ``observer.GetFlowsResponse``) and bare ``Flow`` objects (legacy
``-o json``). One record gives exactly one of:

* a row: a dict keyed by :data:`recommender.schema.FLOW_SCHEMA` column names (absent = null;
  the caller fills ``schema_version``/``source_*``);
* :class:`~recommender.ingest.sources.Filtered` (``non-flow: node_status``, ``non-IP flow``,
  ``socket trace (pre-translation)``);
* :class:`~recommender.ingest.sources.Rejected` (reason, detail naming the field).

Every flow with an IP header is kept, replies, L7 records and drops included: they are
evidence, and the connections stage decides what becomes a rule. What matters most here
is ``is_reply`` (replies must never become rules). Every decision about a field's value is
a rule of :mod:`.hubble_rules`, shared with the fast path (:mod:`.fast_hubble`); this
module walks the record's dicts and fills the row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from recommender.ingest import hubble_rules as rules
from recommender.ingest.common import Bad, RecordParser, invalid, malformed
from recommender.ingest.sources import Filtered, new_row
from recommender.ingest.values import parse_time
from recommender.validate import truncated_repr

NAME = "hubble"

# --------------------------------------------------------------------------- fields

#: The FLOW_SCHEMA columns of each side's :func:`hubble_rules.endpoint` values.
SRC_COLUMNS = tuple(f"src_{c}" for c in rules.ENDPOINT_COLUMNS)
DST_COLUMNS = tuple(f"dst_{c}" for c in rules.ENDPOINT_COLUMNS)


def _unwrap(rec: Any) -> tuple[dict, Any, Any] | Filtered:
    """(flow, wrapper time, wrapper node) of a GetFlowsResponse or a bare Flow, or why
    the record is filtered."""
    if type(rec) is not dict:
        raise Bad("malformed record: not an object", truncated_repr(rec))
    if "flow" in rec:
        f = rec["flow"]
        if type(f) is not dict:
            raise malformed("flow", f)
        return f, rec.get("time"), rec.get("node_name")
    for t in rules.NON_FLOW_TYPES:
        if t in rec:
            return Filtered(f"non-flow: {t}")
    if not any(k in rec for k in rules.BARE_FLOW_KEYS):
        if "node_name" in rec or "time" in rec:
            return Filtered("non-flow: other")
        raise Bad("malformed record: not a Hubble record", truncated_repr(rec))
    return rec, None, None


def _addresses(ip: dict, row: dict) -> None:
    """src_ip, dst_ip and ip_family from ``IP``."""
    src = ip.get("source")
    dst = ip.get("destination")
    if src is None or dst is None or src == "" or dst == "":
        raise Bad("missing IP", f"IP={truncated_repr(ip)}")
    src_ip, family = rules.address(src, "IP.source")
    dst_ip, dst_family = rules.address(dst, "IP.destination")
    if dst_family != family:
        raise Bad("invalid IP", f"mixed address families: {src_ip} -> {dst_ip}")
    row["src_ip"] = src_ip
    row["dst_ip"] = dst_ip
    row["ip_family"] = family


def _time(flow_time: Any, wrapper_time: Any) -> int:
    """The flow's own time, else the wrapper's, in nanoseconds."""
    t, field = flow_time, "time"
    if t is None or t == "":
        t, field = wrapper_time, "time (wrapper)"
    if t is None or t == "":
        raise Bad("missing time", "neither flow.time nor the response time is set")
    ns = parse_time(t)
    if ns is None:
        raise invalid("invalid time", field, t)
    return ns


def _l4(l4: dict | None, row: dict) -> int | None:
    """Fill protocol, ports, ICMP type/code and TCP flags; returns the folded flags."""
    member = rules.l4_member(l4) if l4 else None
    proto, number = rules.l4_protocol(member)
    row["protocol"] = proto
    row["protocol_number"] = number
    if member is None:
        return None
    fields = rules.L4_FIELDS[member]
    body = rules.as_dict(l4[member], fields[0]) or {}
    if proto in rules.ICMP_PROTOCOLS:
        row["icmp_type"], row["icmp_code"] = rules.icmp(member, body.get("type"), body.get("code"))
        return None
    if proto not in rules.PORT_PROTOCOLS:
        return None
    row["src_port"] = rules.port(body.get("source_port"), fields[1])
    row["dst_port"] = rules.port(body.get("destination_port"), fields[2])
    flags = rules.as_dict(body.get("flags"), fields[3])
    if proto != "TCP" or flags is None:
        return None
    row["tcp_flags"] = tcp_flags = rules.tcp_flags(flags, fields[3])
    return tcp_flags


def _extra(
    f: dict, ip: dict, ftype: str | None, l7_type: str | None, reason: str | None
) -> list | None:
    """The ``extra`` column (event type, observation point, interface, SNAT source ...)."""
    ev = rules.as_dict(f.get("event_type"), "event_type")
    event = None if ev is None else rules.event_type(ev.get("type"), ev.get("sub_type"))
    op = rules.token(f.get("trace_observation_point"), "trace_observation_point")
    iface = rules.as_dict(f.get("interface"), "interface")
    iname = rules.interface_name(iface.get("name")) if iface else None
    xlated = rules.source_xlated(ip.get("source_xlated"))
    return rules.extra(ftype, l7_type, event, op, reason, iname, xlated)


# --------------------------------------------------------------------------- records


def looks_like(record: Any) -> bool:
    """True when a (first) record is a Hubble GetFlowsResponse or a bare Flow."""
    if type(record) is not dict:
        return False
    if "flow" in record or any(k in record for k in rules.NON_FLOW_TYPES):
        return True
    return any(k in record for k in rules.BARE_FLOW_KEYS)


def describe(record: Any) -> str | None:
    """A short description of a Hubble record for format-mismatch messages."""
    return "a Hubble flow" if looks_like(record) else None


class Parser(RecordParser):
    """Parses the records of one file, each by the rules of :mod:`.hubble_rules`.

    ``lookahead`` holds the file's first records: they decide the legacy ``reply`` rule
    (:func:`hubble_rules.legacy_reply`).
    """

    name = NAME

    def __init__(self, path: str, lookahead: Sequence[Any] = ()) -> None:
        super().__init__(path, lookahead)
        self.legacy_reply = rules.legacy_reply(lookahead)

    def _parse(self, rec: Any) -> dict | Filtered:
        """One record -> a row or Filtered. The fields are checked in this order, so a
        record with several bad fields is rejected for the first."""
        unwrapped = _unwrap(rec)
        if isinstance(unwrapped, Filtered):
            return unwrapped
        f, wrapper_time, wrapper_node = unwrapped
        ftype = rules.token(f.get("Type"), "Type")
        if ftype == rules.SOCKET_TRACE_TYPE:
            return Filtered(rules.SOCKET_TRACE)
        ip = f.get("IP")
        if ip is None:
            return Filtered(rules.NON_IP)
        if type(ip) is not dict:
            raise malformed("IP", ip)

        row = new_row()
        _addresses(ip, row)
        row["time_start"] = row["time_end"] = _time(f.get("time"), wrapper_time)
        row["verdict"], row["verdict_raw"] = rules.verdict(f.get("verdict"))
        row["drop_reason"] = rules.token(f.get("drop_reason_desc"), "drop_reason_desc")
        node = f.get("node_name")
        if node is None or node == "":
            node = wrapper_node
        row["observer"], node_cluster = rules.observer(node)
        tcp_flags = _l4(rules.as_dict(f.get("l4"), "l4"), row)
        src, src_local = rules.endpoint(f.get("source"), "source")
        row.update(zip(SRC_COLUMNS, src, strict=True))
        dst, dst_local = rules.endpoint(f.get("destination"), "destination")
        row.update(zip(DST_COLUMNS, dst, strict=True))
        row["cluster"] = rules.record_cluster(
            node_cluster,
            src_local,
            src[rules.ENDPOINT_CLUSTER],
            dst_local,
            dst[rules.ENDPOINT_CLUSTER],
        )
        row["src_names"] = rules.names(f.get("source_names"), "source_names") or None
        row["dst_names"] = rules.names(f.get("destination_names"), "destination_names") or None

        direction = rules.direction(f.get("traffic_direction"))
        reason = rules.token(f.get("trace_reason"), "trace_reason")
        is_reply = rules.is_reply(
            f.get("is_reply"), f.get("reply"), reason, tcp_flags, self.legacy_reply
        )
        row["direction"] = direction
        row["is_reply"] = is_reply
        row["reporter"] = rules.reporter(direction, is_reply, src_local, dst_local)

        service = rules.destination_service(f.get("destination_service"))
        row["dst_service_namespace"], row["dst_service_name"] = service
        row["l7_protocol"], row["dns_query"], l7_type = rules.l7(f.get("l7"))
        row["dns_ips"] = rules.dns_ips(f.get("l7"))
        if not rules.POLICY_KEYS.isdisjoint(f):
            row["policies"] = rules.policies(f)
        row["flows"], row["aggregated"] = rules.aggregate(f.get("aggregate"))
        row["extra"] = _extra(f, ip, ftype, l7_type, reason)
        return row
