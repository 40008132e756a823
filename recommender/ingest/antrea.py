"""Antrea Flow Aggregator / Theia records -> normalized rows (``flow-formats.md`` section 4).

Two containers, one record shape (the IPFIX information elements by name):

* **ClickHouse ``flows`` rows as JSON lines** (``SELECT * FROM flows FORMAT JSONEachRow``),
  columns as in Theia ``build/charts/theia/provisioning/datasources/create_table.sh``:
  ``sourceIP``/``destinationIP``, ``destinationClusterIP``, ``DateTime`` columns printed as
  ``YYYY-MM-DD hh:mm:ss`` (read as UTC) and 64-bit counters quoted as strings.
* **``antctl get flowrecords -o json``** (a JSON array; sample in antrea ``docs/antctl.md``):
  ``sourceIPv4Address``/``sourceIPv6Address`` etc., ``destinationClusterIPv4``/``v6``, times in
  epoch seconds, plus ``*FromSourceNode``/``*FromDestinationNode`` counters.

Field names and enum values follow antrea ``pkg/flowaggregator/flowrecord/record.go`` and the
IPFIX registry: ``flowType`` 1 intra-node, 2 inter-node, 3 to external, 4 from external (0
unspecified); rule actions 0 none, 1 Allow, 2 Drop, 3 Reject (``flowLogger`` pretty-print words
accepted too); policy types 1 K8s NetworkPolicy, 2 Antrea NetworkPolicy, 3 Antrea
ClusterNetworkPolicy.

Mapping decisions:

* **Orientation.** A record is one conntrack connection in its original direction: source =
  client, ``destinationTransportPort`` = the server pod's port **after** DNAT. So every row has
  ``is_reply=False``. ``destinationClusterIP`` and ``destinationServicePort`` (the Service
  front end) go to ``dst_ip_original``/``dst_port_original``/``dst_service_port``, never to
  ``dst_port``; ``destinationServicePortName`` ``ns/svc:port`` to ``dst_service_*``.
* **Reporter.** ``both`` when the record describes both pods (intra-node, or an inter-node
  record correlated by the aggregator); else ``src`` (to-external, or only the source pod
  known) or ``dst`` (from-external, or only the destination pod known); ``direction`` is
  ``egress``/``ingress`` for those and ``unknown`` for correlated records. ``observer`` is the
  reporting side's node (the source node for correlated records).
* **Kinds.** A side with pod name and namespace is a ``pod``. Without them: ``external`` for the
  far side of a to/from-external flow, else ``cluster_unknown`` (an in-cluster address with no
  pod: a node's gateway/host IP or an uncorrelated pod; see the doc's pitfall 2), or
  ``unknown`` when ``flowType`` is 0 or absent.
* **Verdict.** ``denied`` when either rule action is Drop or Reject, else ``allowed``
  (``verdict_raw`` = the deciding action word). Both policy hits go to ``policies``.
* **Counts.** ``flows`` = 1 per record: a record is one 5-tuple, and the connections stage counts
  distinct 5-tuples, so the repeated exports of one long connection count once. The
  ``*DeltaCount`` counters (since the previous export) go to ``packets_*``/``bytes_*``; summing
  the ``*TotalCount`` counters over exports would over-count, so they are not kept.
* **Labels.** ``sourcePodLabels``/``destinationPodLabels`` are JSON object strings: ``""`` = not
  collected (null), ``"{}"`` = the pod has none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

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
    family,
    ip,
    labels,
    name,
    namespace,
    node_name,
    pod_name,
    port,
    protocol,
    text,
    time_ns,
    uint,
)
from recommender.validate import is_dns1123_label, is_dns1123_subdomain, truncated_repr

NAME = "antrea"

_SRC_IP_KEYS = ("sourceIP", "sourceIPv4Address", "sourceIPv6Address")
_DST_IP_KEYS = ("destinationIP", "destinationIPv4Address", "destinationIPv6Address")
_SERVICE_IP_KEYS = (
    "destinationClusterIP",
    "destinationClusterIPv4",
    "destinationClusterIPv6",
    "destinationServiceIP",
    "destinationServiceIPv4",
    "destinationServiceIPv6",
)
FLOW_TYPES = {0: None, 1: "intra-node", 2: "inter-node", 3: "to-external", 4: "from-external"}
#: Rule action (number or flowLogger word) -> (number, word); 0/"" = no rule matched.
RULE_ACTIONS: dict[Any, tuple[int, str | None]] = {
    0: (0, None),
    1: (1, "Allow"),
    2: (2, "Drop"),
    3: (3, "Reject"),
    "": (0, None),
    "Allow": (1, "Allow"),
    "Drop": (2, "Drop"),
    "Reject": (3, "Reject"),
}
POLICY_TYPES: dict[Any, str | None] = {
    0: None,
    1: "K8sNetworkPolicy",
    2: "AntreaNetworkPolicy",
    3: "AntreaClusterNetworkPolicy",
    "": None,
    "K8sNetworkPolicy": "K8sNetworkPolicy",
    "AntreaNetworkPolicy": "AntreaNetworkPolicy",
    "AntreaClusterNetworkPolicy": "AntreaClusterNetworkPolicy",
}
_POLICY_PROTOCOLS = ("TCP", "UDP", "SCTP")
# Tokens copied to extra / policies: nothing that could break out of YAML, Markdown or a path.
_TOKEN_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}", re.ASCII)
_RULE_RE = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,251}[A-Za-z0-9])?", re.ASCII)
_CLUSTER_RE = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9]{0,62}[A-Za-z0-9])?", re.ASCII)
_DIGITS = re.compile(r"[0-9]{1,3}", re.ASCII)
# Counter fields: (delta column, normalized column).
_COUNTERS = (
    ("packetDeltaCount", "packets_fwd"),
    ("octetDeltaCount", "bytes_fwd"),
    ("reversePacketDeltaCount", "packets_rev"),
    ("reverseOctetDeltaCount", "bytes_rev"),
)


def looks_like(record: Any) -> bool:
    """True for a flow-aggregator record (ClickHouse row or antctl flow record)."""
    return (
        type(record) is dict
        and "protocolIdentifier" in record
        and "destinationTransportPort" in record
        and any(k in record for k in _SRC_IP_KEYS)
    )


def describe(record: Any) -> str | None:
    return "an Antrea flow record" if looks_like(record) else None


def _first_ip(rec: dict, keys: Sequence[str], *, unspecified_is_none: bool = False) -> str | None:
    for key in keys:
        value = ip(rec.get(key), key, unspecified_is_none=unspecified_is_none)
        if value is not None:
            return value
    return None


def _token(rec: dict, key: str, pattern: re.Pattern = _TOKEN_RE) -> str | None:
    s = text(rec.get(key), key, 256)
    if s is None:
        return None
    if pattern.fullmatch(s) is None:
        raise invalid(f"invalid {key}", key, s)
    return s


def _time(rec: dict, key: str) -> int | None:
    ns = time_ns(rec.get(key), key, unit="s")
    return ns or None  # 0 = the epoch = "not set" (ClickHouse's default DateTime)


def _side(rec: dict, prefix: str, side: str, flow_type: int | None, row: dict) -> bool:
    """Fill ``{side}_kind/namespace/pod/labels``; True when the side is a pod."""
    ns = namespace(rec.get(f"{prefix}PodNamespace"), f"{prefix}PodNamespace")
    pod = pod_name(rec.get(f"{prefix}PodName"), f"{prefix}PodName")
    lab = labels(rec.get(f"{prefix}PodLabels"), f"{prefix}PodLabels", kv=False)
    if (ns is None) != (pod is None):
        raise Bad(
            "incomplete pod identity",
            f"{prefix}PodNamespace={truncated_repr(ns)} {prefix}PodName={truncated_repr(pod)}",
        )
    if pod is not None:
        row[f"{side}_kind"] = "pod"
        row[f"{side}_namespace"] = ns
        row[f"{side}_pod"] = pod
        row[f"{side}_labels"] = lab
        return True
    # The far end of a from-external (source) or to-external (destination) flow.
    if flow_type == (4 if side == "src" else 3):
        row[f"{side}_kind"] = "external"
    elif flow_type in (1, 2, 3, 4):
        row[f"{side}_kind"] = "cluster_unknown"
    else:
        row[f"{side}_kind"] = "unknown"
    return False


def _enum(rec: dict, key: str) -> Any:
    """An enum value as given: an int, a word, or digits in a string (read as the int)."""
    v = rec.get(key)
    if type(v) is str:
        v = v.strip()
        if _DIGITS.fullmatch(v):
            return int(v)
    return v


def _action(rec: dict, key: str) -> tuple[int, str | None]:
    v = _enum(rec, key)
    if v is None:
        return 0, None
    found = RULE_ACTIONS.get(v) if type(v) in (int, str) else None
    if found is None:
        raise malformed(key, v)
    return found


def _policy(rec: dict, direction: str) -> tuple[dict | None, int, str | None]:
    """One direction's policy hit (or None) and its rule action (number, word)."""
    number, word = _action(rec, f"{direction}NetworkPolicyRuleAction")
    pname = name(
        rec.get(f"{direction}NetworkPolicyName"),
        f"{direction}NetworkPolicyName",
        is_dns1123_subdomain,
        "invalid policy name",
    )
    pns = namespace(
        rec.get(f"{direction}NetworkPolicyNamespace"), f"{direction}NetworkPolicyNamespace"
    )
    rule_key = f"{direction}NetworkPolicyRuleName"
    rule = text(rec.get(rule_key), rule_key, 512)
    if rule is not None and _RULE_RE.fullmatch(rule) is None:
        raise invalid("invalid policy rule name", rule_key, rule)
    type_key = f"{direction}NetworkPolicyType"
    ptype = _enum(rec, type_key)
    if ptype is None:
        kind = None
    elif type(ptype) in (int, str) and ptype in POLICY_TYPES:
        kind = POLICY_TYPES[ptype]
    elif type(ptype) is int and 0 <= ptype < 256:
        kind = f"type-{ptype}"  # a policy type this version does not name: kept, not guessed
    else:
        raise malformed(type_key, ptype)
    if pname is None and word is None:
        return None, number, word
    hit = {
        "kind": kind,
        "namespace": pns,
        "name": pname,
        "tier": None,
        "action": word.lower() if word else None,
        "rule": rule,
        "direction": direction,
    }
    return hit, number, word


def _service_port_name(value: Any, row: dict) -> None:
    """``ns/svc:port`` (or ``ns/svc``) -> dst_service_namespace/name/port_name."""
    key = "destinationServicePortName"
    s = text(value, key, 512)
    if s is None:
        return
    ns, slash, rest = s.partition("/")
    if not slash:
        ns, rest = None, s
    svc, colon, pname = rest.partition(":")
    if ns is not None and not is_dns1123_label(ns):
        raise invalid("invalid namespace", key, s)
    if not is_dns1123_label(svc):
        raise invalid("invalid service name", key, s)
    if colon and pname and not is_dns1123_label(pname):
        raise invalid("invalid service port name", key, s)
    row["dst_service_namespace"] = ns
    row["dst_service_name"] = svc
    row["dst_service_port_name"] = pname or None


class Parser(RecordParser):
    """Parses the records of one file (no file-level state is needed)."""

    name = NAME
    caught = (*RECORD_ERRORS, OverflowError)

    def _parse(self, rec: Any) -> dict:
        if type(rec) is not dict:
            raise Bad("malformed record: not an object", truncated_repr(rec))
        if not looks_like(rec):
            raise Bad("malformed record: not an Antrea flow record", truncated_repr(rec))
        row = new_row()
        service_ip = _addresses(rec, row)
        _ports(rec, row)
        _times(rec, row)

        flow_type = uint(rec.get("flowType"), "flowType", 256)
        if flow_type is not None and flow_type not in FLOW_TYPES:
            raise malformed("flowType", flow_type)
        src_pod = _side(rec, "source", "src", flow_type, row)
        dst_pod = _side(rec, "destination", "dst", flow_type, row)
        src_node = node_name(rec.get("sourceNodeName"), "sourceNodeName")
        dst_node = node_name(rec.get("destinationNodeName"), "destinationNodeName")
        _service(rec, row, service_ip)
        _verdict(rec, row)
        _reporter(row, flow_type, src_pod, dst_pod, src_node, dst_node)

        cluster = _token(rec, "clusterUUID", _CLUSTER_RE)
        if cluster is not None:
            row["cluster"] = cluster
        for key, col in _COUNTERS:
            row[col] = uint(rec.get(key), key, INT64)
        row["flows"] = 1
        row["aggregated"] = False
        extra = _extra(rec, flow_type, src_node, dst_node)
        if extra:
            row["extra"] = sorted(extra.items())
        return row


def _addresses(rec: dict, row: dict) -> str | None:
    """Fill the addresses and family; returns the Service (pre-DNAT) address, if any."""
    src_ip = _first_ip(rec, _SRC_IP_KEYS)
    dst_ip = _first_ip(rec, _DST_IP_KEYS)
    if src_ip is None or dst_ip is None:
        missing = "source" if src_ip is None else "destination"
        raise Bad("missing IP", f"no {missing} address")
    service_ip = _first_ip(rec, _SERVICE_IP_KEYS, unspecified_is_none=True)
    row["ip_family"] = family(src_ip, dst_ip)
    if service_ip is not None and family(service_ip) != row["ip_family"]:
        raise Bad("invalid IP", f"service address {service_ip} of another family")
    row["src_ip"] = src_ip
    row["dst_ip"] = dst_ip
    return service_ip


def _ports(rec: dict, row: dict) -> None:
    proto, number = protocol(rec.get("protocolIdentifier"), "protocolIdentifier")
    row["protocol"] = proto
    row["protocol_number"] = number
    sport = port(rec.get("sourceTransportPort"), "sourceTransportPort")
    dport = port(rec.get("destinationTransportPort"), "destinationTransportPort")
    if proto in _POLICY_PROTOCOLS:
        row["src_port"] = sport
        row["dst_port"] = dport


def _times(rec: dict, row: dict) -> None:
    start = _time(rec, "flowStartSeconds")
    end = _time(rec, "flowEndSeconds")
    if start is None:
        start = end
    if start is None:
        raise Bad("missing time", "neither flowStartSeconds nor flowEndSeconds is set")
    if end is None:
        end = start
    elif end < start:
        raise Bad("invalid time", "flowEndSeconds is before flowStartSeconds")
    row["time_start"] = start
    row["time_end"] = end


def _service(rec: dict, row: dict, service_ip: str | None) -> None:
    """The pre-DNAT front end (the Service); dst_port stays the backend pod's port."""
    service_port = port(rec.get("destinationServicePort"), "destinationServicePort")
    _service_port_name(rec.get("destinationServicePortName"), row)
    if service_ip is not None:
        row["dst_ip_original"] = service_ip
    if service_port is not None:
        row["dst_service_port"] = service_port
        if service_ip is not None:
            row["dst_port_original"] = service_port


def _verdict(rec: dict, row: dict) -> None:
    """Policies and verdict."""
    hits = []
    actions = []
    for direction in ("ingress", "egress"):
        hit, action, word = _policy(rec, direction)
        if hit is not None:
            hits.append(hit)
        actions.append((action, word))
    if hits:
        row["policies"] = hits
    denying = [w for a, w in actions if a in (2, 3)]
    if denying:
        row["verdict"] = "denied"
        row["verdict_raw"] = denying[0]
    else:
        row["verdict"] = "allowed"
        if any(a == 1 for a, _ in actions):
            row["verdict_raw"] = "Allow"


def _reporter(
    row: dict,
    flow_type: int | None,
    src_pod: bool,
    dst_pod: bool,
    src_node: str | None,
    dst_node: str | None,
) -> None:
    """Who reported the record (the flow type, else the end that is a local pod)."""
    if flow_type == 1 or (src_pod and dst_pod):
        reporter = "both"
    elif flow_type == 3:
        reporter = "src"
    elif flow_type == 4:
        reporter = "dst"
    elif src_pod != dst_pod:
        reporter = "src" if src_pod else "dst"
    else:
        reporter = "unknown"
    row["reporter"] = reporter
    row["direction"] = {"src": "egress", "dst": "ingress"}.get(reporter, "unknown")
    row["observer"] = dst_node if reporter == "dst" else (src_node or dst_node)
    row["is_reply"] = False


def _extra(
    rec: dict, flow_type: int | None, src_node: str | None, dst_node: str | None
) -> dict[str, str]:
    extra: dict[str, str] = {}
    if flow_type is not None:
        extra["flowType"] = str(flow_type)
    reason = uint(rec.get("flowEndReason"), "flowEndReason", 256)
    if reason is not None:
        extra["flowEndReason"] = str(reason)
    for key in ("tcpState", "appProtocolName"):
        value = _token(rec, key)
        if value is not None:
            extra[key] = value
    if src_node is not None:
        extra["sourceNodeName"] = src_node
    if dst_node is not None:
        extra["destinationNodeName"] = dst_node
    for key in ("egressName", "egressNodeName"):
        value = name(rec.get(key), key, is_dns1123_subdomain, f"invalid {key}")
        if value is not None:
            extra[key] = value
    egress_ip = ip(rec.get("egressIP"), "egressIP")
    if egress_ip is not None:
        extra["egressIP"] = egress_ip
    trusted = uint(rec.get("trusted"), "trusted", 256)
    if trusted is not None:
        extra["trusted"] = str(trusted)
    return extra
