"""Calico OSS 3.30+ Goldmane and Whisker flows -> normalized rows (``calico-goldmane``).

Field names and enum spellings: ``research/flow-formats.md`` §2.2, from projectcalico/calico
``goldmane/proto/api.proto``, ``goldmane/pkg/emitter/emitter.go`` and
``whisker-backend/pkg/apis/v1/flows.go`` / ``handlers/v1/protoconvert.go``. One record is one
flow, in any of these shapes:

* **Goldmane emitter** line: a ``Flow`` as Go ``encoding/json`` writes the generated struct:
  snake_case keys, the key object literally ``"Key"``, enums as integers, zero values omitted
  (so a missing ``action`` is 0 = unspecified, and is rejected).
* **Goldmane API** ``FlowResult`` ``{"id": .., "flow": Flow}`` (``Flows.List``/``Stream``); a
  protojson dump (e.g. ``grpcurl``) has lowerCamelCase keys, enum names and int64 numbers as
  strings, all accepted.
* **Whisker REST** ``FlowResponse`` (``GET .../flows`` items, or ``watch=true`` events with the
  ``data:`` prefix removed): RFC 3339 times, enums as names (``"Allow"``, ``"Src"``), labels as
  one string joined with ``" | "``, namespace ``"Global"`` for none, ``PUBLIC NETWORK`` /
  ``PRIVATE NETWORK`` for ``pub``/``pvt``, and no endpoint types or service fields.

Containers that hold many flows in one record, the Whisker list ``{"total": .., "items":
[..]}`` and the API ``FlowListResult`` ``{"meta": .., "flows": [FlowResult, ..]}``, are split by
:func:`expand`, which the reader must call before ``parse``.

Enum tables (api.proto numbers): Action 1 Allow, 2 Deny, 3 Pass; Reporter 1 Src, 2 Dst;
EndpointType 1 WorkloadEndpoint, 2 HostEndpoint, 3 NetworkSet, 4 Network; PolicyKind 1-6, 9, 10,
11 as in §2.2, plus 7 and 8 (retired; named ``ClusterNetworkPolicyAdminTier`` /
``ClusterNetworkPolicyBaselineTier`` in the releases that emitted them). Any other value, 0
(unspecified) included, rejects the record with ``unknown enum value: <field>``.

Mapping (shared with ``calico-ee``, see :mod:`recommender.ingest.calico`):

* Goldmane names are aggregated names ("a set of pods that share a GenerateName"): a name
  ending in ``*`` stays in ``{side}_name_aggr``, never a pod name; a WEP name without ``*`` is
  a bare pod and is its pod name. There are no IPs at all (``ip_family`` 4, or 6 for
  ``icmp6``), so every row is ``aggregated``; labels are the intersection over the pods.
* Records are connection-oriented: ``is_reply`` False, ``reporter`` src/dst, packets and bytes
  translated to fwd/rev. Both ends report: the count goes on one reporter's record only
  (:func:`recommender.ingest.calico.counting_reporter`); the other gets ``flows = 0``.
* ``flows`` = ``num_connections_started``, else ``num_connections_live``, else
  ``num_connections_completed``, else 1 (Whisker has no counts: 1).
* Whisker has no endpoint type: ``pub``/``pvt`` -> ``external``, a namespaced name -> ``pod``
  (a namespaced NetworkSet cannot be told apart), anything else -> ``unknown``;
  ``extra["kind"] = "inferred"`` says so.
"""

from __future__ import annotations

import re
from typing import Any

from recommender.ingest import calico_fields
from recommender.ingest.common import (
    RECORD_ERRORS,
    Bad,
    RecordParser,
    invalid,
    malformed,
)
from recommender.ingest.sources import new_row
from recommender.ingest.values import (
    INT64,
    dash_null,
    parse_time,
    unknown_enum,
)
from recommender.validate import is_dns1123_label, truncated_repr

NAME = "calico-goldmane"

ACTIONS = {1: "Allow", 2: "Deny", 3: "Pass"}
VERDICTS = {"Allow": "allowed", "Deny": "denied", "Pass": "unknown"}
REPORTERS = {1: "Src", 2: "Dst"}
ENDPOINT_TYPES = {1: "WorkloadEndpoint", 2: "HostEndpoint", 3: "NetworkSet", 4: "Network"}
#: Goldmane endpoint type -> (normalized kind, Calico EE short type).
_KINDS = {
    "WorkloadEndpoint": ("pod", "wep"),
    "HostEndpoint": ("node", "hep"),
    "NetworkSet": ("networkset", "ns"),
    "Network": ("external", "net"),
}
POLICY_KINDS = {
    1: "CalicoNetworkPolicy",
    2: "GlobalNetworkPolicy",
    3: "StagedNetworkPolicy",
    4: "StagedGlobalNetworkPolicy",
    5: "StagedKubernetesNetworkPolicy",
    6: "NetworkPolicy",
    7: "ClusterNetworkPolicyAdminTier",
    8: "ClusterNetworkPolicyBaselineTier",
    9: "Profile",
    10: "EndOfTier",
    11: "ClusterNetworkPolicy",
}
WHISKER_NAMES = {"PUBLIC NETWORK": "pub", "PRIVATE NETWORK": "pvt"}
_NO_NAMESPACE = frozenset({"", "-", "Global"})
_TOKEN_RE = re.compile(r"[A-Za-z0-9_.:-]{1,253}", re.ASCII)
_COUNTERS = ("packets_in", "packets_out", "bytes_in", "bytes_out")
_KEY_FIELDS = ("source_name", "dest_name", "source_type", "dest_type", "reporter", "action")
_WHISKER_FIELDS = ("source_name", "dest_name", "source_namespace", "dest_namespace")


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


_CAMEL: dict[str, str] = {}


def _get(d: dict, key: str) -> Any:
    """``d[key]``, or its protojson lowerCamelCase spelling."""
    v = d.get(key)
    if v is None:
        camel = _CAMEL.get(key)
        if camel is None:
            camel = _CAMEL[key] = _camel(key)
        v = d.get(camel)
    return v


def _int64(v: Any, field: str, *, signed: bool = False, strings: bool = True) -> int | None:
    """An int64 (protojson writes them as strings; Go encoding/json, i.e. the emitter and
    Whisker, as numbers: ``strings=False``); None when absent."""
    if v is None:
        return None
    if strings and type(v) is str and 0 < len(v) <= 20 and v.isascii():
        digits = v[1:] if signed and v[:1] == "-" else v
        if digits.isdigit():
            v = int(v)
    if type(v) is not int or not (-INT64 if signed else 0) <= v < INT64:
        raise malformed(field, v)
    return v


def _enum(v: Any, table: dict[int, str], field: str) -> str:
    """An enum as a number (emitter) or a name (protojson, Whisker); 0 / absent / unknown
    values are rejected."""
    if type(v) is int:
        name = table.get(v)
    elif type(v) is str:
        name = v if v in table.values() else None
    elif v is None:
        raise Bad(f"unknown enum value: {field}", f"{field} is missing (0 = unspecified)")
    else:
        raise malformed(field, v)
    if name is None:
        raise unknown_enum(field, v)
    return name


# --------------------------------------------------------------------------- shapes


def _flow_key(d: Any) -> dict | None:
    if type(d) is not dict:
        return None
    key = d.get("Key", d.get("key"))
    return key if type(key) is dict else None


def _is_flow(d: Any) -> bool:
    key = _flow_key(d)
    return key is not None and any(_get(key, k) is not None for k in _KEY_FIELDS)


def _is_flow_result(d: Any) -> bool:
    return type(d) is dict and _is_flow(d.get("flow"))


def _is_whisker(d: Any) -> bool:
    return (
        type(d) is dict
        and "reporter" in d
        and "protocol" in d
        and any(k in d for k in _WHISKER_FIELDS)
        and "source_type" not in d
        and "proto" not in d
    )


def _items(record: dict) -> tuple[str, list] | None:
    items = record.get("items")
    if type(items) is list and ("total" in record or not items or _is_whisker(items[0])):
        return "items", items
    flows = record.get("flows")
    if type(flows) is list and ("meta" in record or (flows and _is_flow_result(flows[0]))):
        return "flows", flows
    return None


def looks_like(record: Any) -> bool:
    """True for a Goldmane Flow (emitter), a FlowResult, a Whisker FlowResponse, or a list
    response whose first item is one of those."""
    if type(record) is not dict:
        return False
    if _is_flow(record) or _is_flow_result(record) or _is_whisker(record):
        return True
    found = _items(record)
    if found is None or not found[1]:
        return False
    first = found[1][0]
    return _is_whisker(first) if found[0] == "items" else _is_flow_result(first)


def expand(record: Any) -> list[Any] | None:
    """The flows inside a Whisker list or a FlowListResult (each parsed and counted on its
    own); None for a record that is one flow."""
    if type(record) is not dict or _is_flow(record) or _is_flow_result(record):
        return None
    found = _items(record)
    return found[1] if found is not None else None


def describe(record: Any) -> str | None:
    return "a Calico Goldmane/Whisker flow" if looks_like(record) else None


# --------------------------------------------------------------------------- fields


def _labels_list(v: Any, field: str, kind: str) -> tuple | None:
    if v is None:
        return () if kind == "pod" else None  # omitempty: no common label
    if type(v) is not list:
        raise malformed(field, v)
    return calico_fields.label_items(v, field)


def _labels_whisker(v: Any, field: str, kind: str) -> tuple | None:
    if v is None:
        return None
    if type(v) is not str:
        raise malformed(field, v)
    if v == "":
        return () if kind == "pod" else None
    return calico_fields.label_items(v.split(" | "), field)


def _namespace(v: Any, field: str) -> str | None:
    if v is None or (type(v) is str and v in _NO_NAMESPACE):  # a list is not hashable
        return None
    return calico_fields.namespace(v, field)


def _policy_hits(v: Any, field: str, direction: str, whisker: bool) -> list[dict] | None:
    if v is None:
        return None
    if type(v) is not dict:
        raise malformed(field, v)
    key = "enforced" if whisker else "enforced_policies"
    items = _get(v, key)
    for other in (key, "pending" if whisker else "pending_policies"):
        o = _get(v, other)
        if o is not None and type(o) is not list:
            raise malformed(f"{field}.{other}", o)
    if not items:
        return None
    hits = []
    where = f"{field}.{key}"
    for hit in items:
        if type(hit) is not dict:
            raise malformed(where, hit)
        kind = _enum(_get(hit, "kind"), POLICY_KINDS, f"{where}.kind")
        action = _enum(_get(hit, "action"), ACTIONS, f"{where}.action")
        ns = _namespace(_get(hit, "namespace"), f"{where}.namespace")
        name = dash_null(_get(hit, "name"))
        tier = dash_null(_get(hit, "tier"))
        for f, value in (("name", name), ("tier", tier)):
            if value is not None and (type(value) is not str or not _TOKEN_RE.fullmatch(value)):
                raise invalid(f"invalid policy {f}", f"{where}.{f}", value)
        index = _int64(_get(hit, "policy_index"), f"{where}.policy_index") or 0
        rule = _int64(_get(hit, "rule_index"), f"{where}.rule_index", signed=True) or 0
        trigger = _get(hit, "trigger")
        if trigger is not None and type(trigger) is not dict:
            raise malformed(f"{where}.trigger", trigger)
        hits.append(
            (
                index,
                {
                    "kind": kind,
                    "namespace": ns,
                    "name": name,
                    "tier": tier,
                    "action": action.lower(),
                    "rule": str(rule),
                    "direction": direction,
                },
            )
        )
    hits.sort(key=lambda h: h[0])
    return [h for _, h in hits]


def _service(row: dict, key: dict, extra: dict[str, str]) -> None:
    svc_ns = _namespace(_get(key, "dest_service_namespace"), "Key.dest_service_namespace")
    svc_name = dash_null(_get(key, "dest_service_name"))
    if svc_name is not None and not is_dns1123_label(svc_name):
        if type(svc_name) is not str:
            raise malformed("Key.dest_service_name", svc_name)
        raise invalid("invalid service name", "Key.dest_service_name", svc_name)
    port_name = dash_null(_get(key, "dest_service_port_name"))
    if port_name is not None and (
        type(port_name) is not str
        or (port_name != "*" and not calico_fields.PORT_NAME_RE.fullmatch(port_name))
    ):
        raise invalid("invalid port name", "Key.dest_service_port_name", port_name)
    svc_port = _int64(_get(key, "dest_service_port"), "Key.dest_service_port")
    if svc_port is not None and svc_port > 65535:
        raise malformed("Key.dest_service_port", svc_port)
    if svc_name is not None:
        calico_fields.place_service(row, extra, svc_ns, svc_name, port_name, svc_port or None)


# --------------------------------------------------------------------------- records


class Parser(RecordParser):
    """Parses the records of one file (no file-level state is needed)."""

    name = NAME
    caught = (*RECORD_ERRORS, RecursionError)

    def _parse(self, rec: Any) -> dict:
        if type(rec) is not dict:
            raise Bad("malformed record: not an object", truncated_repr(rec))
        extra: dict[str, str] = {}
        if _is_flow(rec):
            extra["container"] = "goldmane-flow"
            return _parse_flow(rec, extra)
        if _is_flow_result(rec):
            extra["container"] = "goldmane-flow-result"
            fid = _int64(rec.get("id"), "id")
            if fid is not None:
                extra["flow_id"] = str(fid)
            return _parse_flow(rec["flow"], extra)
        if _is_whisker(rec):
            extra["container"] = "whisker"
            return _parse_whisker(rec, extra)
        found = _items(rec)
        if found is not None:
            raise Bad(
                "container record not expanded",
                f"a list response with {len(found[1])} {found[0]}; split it one flow per line "
                f"(jq -c '.{found[0]}[]')",
            )
        raise Bad("malformed record: not a Goldmane or Whisker flow", truncated_repr(rec))


def _common(row: dict, action: str, reporter_name: str, proto_v: Any, proto_field: str) -> str:
    row["verdict"], row["verdict_raw"] = VERDICTS[action], action
    reporter, direction = calico_fields.REPORTERS[reporter_name.lower()]
    row["reporter"], row["direction"], row["is_reply"] = reporter, direction, False
    proto, number = calico_fields.protocol(proto_v, proto_field)
    row["protocol"], row["protocol_number"] = proto, number
    row["ip_family"] = 6 if proto == "ICMPv6" else 4
    return direction


def _dest_port(row: dict, v: Any, field: str, strings: bool = True) -> None:
    p = _int64(v, field, strings=strings)
    if p is not None and p > 65535:
        raise malformed(field, p)
    if row["protocol"] in calico_fields.PORT_PROTOCOLS:
        row["dst_port"] = p or None  # omitempty: absent means 0, never a usable port


def _finish(row: dict, extra: dict, types: dict, flows: int, counters: tuple) -> dict:
    calico_fields.count_once(row, extra, types, flows)
    calico_fields.translate_counters(row, row["reporter"], *counters)
    row["aggregated"] = True  # no IPs, no source ports: always more than one 5-tuple
    if extra:
        row["extra"] = sorted(extra.items())
    return row


def _parse_flow(flow: dict, extra: dict[str, str]) -> dict:
    key = _flow_key(flow)
    assert key is not None
    row = new_row()
    start = calico_fields.seconds(_int64(_get(flow, "start_time"), "start_time"), "start_time")
    end = calico_fields.seconds(_int64(_get(flow, "end_time"), "end_time"), "end_time")
    calico_fields.set_times(row, start, end)

    action = _enum(_get(key, "action"), ACTIONS, "Key.action")
    reporter = _enum(_get(key, "reporter"), REPORTERS, "Key.reporter")
    direction = _common(row, action, reporter, _get(key, "proto"), "Key.proto")

    types = {}
    for side, prefix in (("src", "source"), ("dst", "dest")):
        etype = _enum(_get(key, f"{prefix}_type"), ENDPOINT_TYPES, f"Key.{prefix}_type")
        kind, short = _KINDS[etype]
        types[side] = short
        ns = _namespace(_get(key, f"{prefix}_namespace"), f"Key.{prefix}_namespace")
        pod, aggr = calico_fields.endpoint_names(
            kind, None, _get(key, f"{prefix}_name"), "", f"Key.{prefix}_name"
        )
        pod_labels = _labels_list(_get(flow, f"{prefix}_labels"), f"{prefix}_labels", kind)
        calico_fields.fill_endpoint(row, side, kind, ns, pod, aggr, None, pod_labels)

    _dest_port(row, _get(key, "dest_port"), "Key.dest_port")
    _service(row, key, extra)
    row["policies"] = _policy_hits(_get(key, "policies"), "Key.policies", direction, False)

    started = _int64(_get(flow, "num_connections_started"), "num_connections_started")
    completed = _int64(_get(flow, "num_connections_completed"), "num_connections_completed")
    live = _int64(_get(flow, "num_connections_live"), "num_connections_live")
    row["flows_started"] = started or 0
    row["flows_completed"] = completed or 0
    if live:
        extra["num_connections_live"] = str(live)
    counters = tuple(_int64(_get(flow, f), f) or 0 for f in _COUNTERS)
    return _finish(row, extra, types, started or live or completed or 1, counters)


#: Whisker's inferred kind -> the Calico type used by the counting rule.
_WHISKER_TYPES = {"pod": "wep", "external": "net", "unknown": "net"}


def _parse_whisker(rec: dict, extra: dict[str, str]) -> dict:
    row = new_row()
    times = []
    for f in ("start_time", "end_time"):
        v = rec.get(f)
        if v is None or v == "":
            times.append(None)
            continue
        ns = parse_time(v)
        if ns is None:
            if type(v) is not str:
                raise malformed(f, v)
            raise invalid("invalid time", f, v)
        times.append(ns)
    calico_fields.set_times(row, *times)

    action = _enum(rec.get("action"), ACTIONS, "action")
    reporter = _enum(rec.get("reporter"), REPORTERS, "reporter")
    direction = _common(row, action, reporter, rec.get("protocol"), "protocol")

    types = {}
    for side, prefix in (("src", "source"), ("dst", "dest")):
        ns = _namespace(rec.get(f"{prefix}_namespace"), f"{prefix}_namespace")
        name = rec.get(f"{prefix}_name")
        if type(name) is str:
            name = WHISKER_NAMES.get(name, name)
        if name in ("pub", "pvt"):
            kind = "external"
        elif ns is not None:
            kind = "pod"
        else:
            kind = "unknown"
        types[side] = _WHISKER_TYPES[kind]
        pod, aggr = calico_fields.endpoint_names(kind, None, name, "", f"{prefix}_name")
        pod_labels = _labels_whisker(rec.get(f"{prefix}_labels"), f"{prefix}_labels", kind)
        calico_fields.fill_endpoint(row, side, kind, ns, pod, aggr, None, pod_labels)
    extra["kind"] = "inferred"

    _dest_port(row, rec.get("dest_port"), "dest_port", strings=False)
    row["policies"] = _policy_hits(rec.get("policies"), "policies", direction, True)
    counters = tuple(_int64(rec.get(f), f, strings=False) or 0 for f in _COUNTERS)
    return _finish(row, extra, types, 1, counters)
