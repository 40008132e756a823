"""Calico Enterprise / Calico Cloud flow logs -> normalized rows (``calico-ee``).

Field meanings: ``research/flow-formats.md`` §2.1 (field table, aggregation levels) and §2.3
(pitfalls), which follow tigera/docs ``calico-enterprise/observability/elastic/flow/
datatypes.mdx`` and ``aggregation.mdx``.

Containers. One record is one flow-log document, in any of these shapes:

* a ``flows.log`` line (Felix writes one JSON object per line on each node);
* an Elasticsearch hit, ``{"_index": ..., "_id": ..., "_source": {document}}`` (elasticdump
  lines, or a JSON array of hits);
* a bare document as Kibana / ``_source``-only exports write it.

An Elasticsearch *search response* (``{"took": .., "hits": {"hits": [hit, ...]}}``) holds
many documents in one record. :func:`expand` splits it; the reader must call ``expand`` before
``parse`` (a container handed to :meth:`Parser.parse` is rejected with a reason that says so).

Mapping choices:

* **Orientation.** Calico records are connection-oriented: ``source`` is the client and
  ``dest`` the server, whoever reported it. ``is_reply`` is always False; ``reporter`` is
  ``src``/``dst`` and ``direction`` egress/ingress accordingly. Packets and bytes are relative
  to the reporter and are translated: reporter ``src`` -> out = fwd, in = rev; ``dst`` -> in =
  fwd, out = rev.
* **Kinds.** ``wep`` -> ``pod``, ``hep`` -> ``node``, ``ns`` -> ``networkset``, ``net`` ->
  ``external`` (``pub`` and ``pvt`` alike: an address Calico knows nothing about; when the
  address is aggregated away the name stands for the set, see
  :mod:`recommender.address_sets`). Unknown type, action, reporter or proto values are
  rejected, never guessed. A host endpoint source reported by the destination's node is
  placed like Cilium's reserved identities: ``src_reserved`` ``host`` when it is that node's
  own automatic host endpoint (``<node>-auto-hep``), ``remote-node`` when it is another's.
* **Names.** ``-`` is null everywhere. ``{side}_pod`` is the pod name (``source_name``) and
  never an aggregate: a name ending in ``*`` is a generateName prefix, kept only in
  ``{side}_name_aggr``. A WEP aggregate name without ``*`` is a bare pod's own name (pods
  without generateName are not aggregated), so it is the pod even when ``source_name`` is
  ``-``.
* **Workload.** Derived only when a controller's own label proves the owner and the prefix
  ties its name (labels are the intersection over the aggregate, so this holds at every
  aggregation level): ``pod-template-hash=H`` and ``X-H-*`` -> Deployment ``X``; ``job-name``
  (or ``batch.kubernetes.io/job-name``) ``=J`` and ``J-*`` -> Job ``J``;
  ``statefulset.kubernetes.io/pod-name`` or ``apps.kubernetes.io/pod-index`` and ``X-*`` ->
  StatefulSet ``X``; ``pod-template-generation`` and ``X-*`` -> DaemonSet ``X``; an aggregate
  without ``*`` -> bare Pod. Anything else (``frontend-7f9c*``: a cut-off hash, no proof) is
  left to the workloads stage, which works from the pod name.
* **Aggregation.** ``aggregated`` is True when the record stands for more than one 5-tuple or
  pod: a pod name aggregated away, an IP null, or a null source/destination port on a port
  protocol (levels 1-3).
* **Both ends report** (§2.3 pitfall 1): a connection between two Calico endpoints is logged
  by the client's node (``reporter: src``) and by the server's node (``reporter: dst``). Both
  records are normalized (each is evidence for its side's policy), but only one carries the
  count, so that summing ``flows`` never counts a connection twice: the ``src`` record when
  the client is a workload (its node sees every attempt, even those denied on egress) or the
  server is not a Calico endpoint (``net``/``ns``: only the ``src`` record exists); otherwise
  (a ``hep``/``net``/``ns`` client talking to a ``wep``/``hep``) the ``dst`` record. The other
  record gets ``flows = 0`` and keeps the raw figure in ``extra["num_flows"]`` with
  ``extra["counted_by"]`` naming the counting reporter. Level-0 records (``aggregated``
  False) are de-duplicated by 5-tuple in the connections stage anyway; the rule matters for
  aggregated records, whose ``flows`` are summed. Limitation: an input holding only the
  non-counting half (e.g. an export filtered on ``reporter: dst``) shows those connections
  with ``flows = 0`` (``records`` and ``flows_started`` still count them).
* **Services.** Calico's addresses and ``dest_port`` are post-DNAT, so ``dest_service_*`` is
  only the name the client used. It goes to ``dst_service_*`` when the destination is a pod
  or a node; for ``net``/``ns`` destinations it goes to ``extra`` instead, because the
  connections stage reads a service name on a non-pod destination as a pre-DNAT (ClusterIP)
  record and would drop a real connection (e.g. to the API server behind
  ``default/kubernetes`` seen as ``net``).
* **Policies.** ``policies.enforced_policies`` (else ``all_policies`` for older releases),
  each ``"<index>|<tier>|<name>|<action>|<rule>"``, sorted by index; kind, namespace and name
  come from the name forms of the docs (``<ns>/knp.default.<name>``, ``<ns>/<tier>.<name>``,
  ``<tier>.<name>``, ``staged:`` prefix, tier ``__PROFILE__``).
* **IP family.** From the addresses; when both are aggregated away, 6 for ``icmp6`` and 4
  otherwise (``ip_family`` is NOT NULL in the schema).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from recommender.ingest.common import (
    INT64,
    RECORD_ERRORS,
    Bad,
    RecordParser,
    canonical_address,
    family,
    int_below,
    invalid,
    malformed,
    put_label,
)
from recommender.ingest.sources import new_row
from recommender.validate import is_dns1123_label, is_dns1123_subdomain, truncated_repr

NAME = "calico-ee"

#: Calico endpoint type -> normalized kind.
ENDPOINT_TYPES = {"wep": "pod", "hep": "node", "ns": "networkset", "net": "external"}
ACTIONS = {"allow": "allowed", "deny": "denied"}
#: reporter -> (reporter, direction of the reporting endpoint).
REPORTERS = {"src": ("src", "egress"), "dst": ("dst", "ingress")}
#: Felix protocol names (``felix/collector/utils/utils.go`` ``protoNames``) -> (protocol, number).
PROTOCOL_NAMES = {
    "tcp": ("TCP", 6),
    "udp": ("UDP", 17),
    "sctp": ("SCTP", 132),
    "icmp": ("ICMP", 1),
    "icmp6": ("ICMPv6", 58),
    "esp": ("OTHER", 50),
    "ipip": ("OTHER", 4),
}
_BY_NUMBER = {number: (proto, number) for proto, number in PROTOCOL_NAMES.values()}
_BY_NUMBER[50] = ("OTHER", 50)
_BY_NUMBER[4] = ("OTHER", 4)
PORT_PROTOCOLS = frozenset({"TCP", "UDP", "SCTP"})
POLICY_ACTIONS = frozenset({"allow", "deny", "pass"})
#: Keys that only a Calico Enterprise flow-log document has (with ``reporter``).
_DOC_KEYS = (
    "source_name_aggr",
    "dest_name_aggr",
    "source_type",
    "dest_type",
    "num_flows",
    "num_flows_started",
)

# A generateName prefix with its ``*``, a bare pod name, a NetworkSet / host endpoint name,
# ``pub`` or ``pvt``: DNS-1123 subdomain characters, optionally ending in ``*``.
_AGGR_RE = re.compile(r"[a-z0-9](?:[-a-z0-9.]{0,252})\*?|\*", re.ASCII)
_DNS_NAME_RE = re.compile(r"[A-Za-z0-9_*.-]{1,255}", re.ASCII)
PORT_NAME_RE = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?", re.ASCII)
_TOKEN_RE = re.compile(r"[A-Za-z0-9_.:-]{1,253}", re.ASCII)
_RULE_RE = re.compile(r"-?[0-9]{1,9}", re.ASCII)
# pod-template-hash: rand.SafeEncodeString today, a decimal hash before Kubernetes 1.11.
_RS_HASH_RE = re.compile(r"[a-z0-9]{1,10}", re.ASCII)
_JOB_LABELS = ("batch.kubernetes.io/job-name", "job-name")
_STS_LABELS = ("statefulset.kubernetes.io/pod-name", "apps.kubernetes.io/pod-index")
_DS_LABELS = ("pod-template-generation",)
# timestamp('ns') is an int64.
_MAX_SECONDS = (INT64 - 1) // 1_000_000_000


def unknown_enum(field: str, value: Any) -> Bad:
    return Bad(f"unknown enum value: {field}", f"{field}={truncated_repr(value)}")


# --------------------------------------------------------------------------- scalars


def dash_null(v: Any) -> Any:
    """Calico's ``-`` (and empty strings) mean null."""
    return None if v is None or v == "-" or v == "" else v


def seconds(v: Any, field: str) -> int | None:
    """UNIX seconds (int, or an integral float) -> nanoseconds; None when absent."""
    if v is None:
        return None
    if type(v) is float and math.isfinite(v) and v.is_integer():
        v = int(v)
    if type(v) is not int:
        raise malformed(field, v)
    if not 0 <= v <= _MAX_SECONDS:
        raise invalid("invalid time", field, v)
    return v * 1_000_000_000


def count(v: Any, field: str) -> int | None:
    """A non-negative int64 counter; None when absent."""
    return int_below(v, field, INT64)


def port(v: Any, field: str) -> int | None:
    """A port 0..65535 (an int); None when absent."""
    return int_below(v, field, 65536)


def ip(v: Any, field: str) -> str | None:
    return canonical_address(dash_null(v), field)


def protocol(v: Any, field: str) -> tuple[str, int | None]:
    """Felix proto names (``tcp``...) or a protocol number as a string -> (protocol, number)."""
    if type(v) is not str:
        if v is None:
            raise Bad(f"malformed record: {field}", f"{field} is missing")
        raise malformed(field, v)
    known = PROTOCOL_NAMES.get(v)
    if known is not None:
        return known
    if v.isascii() and v.isdigit() and len(v) <= 3 and int(v) <= 255:
        n = int(v)
        return _BY_NUMBER.get(n, ("OTHER", n))
    raise unknown_enum(field, v)


def namespace(v: Any, field: str) -> str | None:
    v = dash_null(v)
    if v is None:
        return None
    if not is_dns1123_label(v):
        if type(v) is not str:
            raise malformed(field, v)
        raise invalid("invalid namespace", field, v)
    return v


def aggr_name(v: Any, field: str) -> str | None:
    """An aggregated name as given (prefix with ``*``, pod/set/endpoint name, pub/pvt)."""
    v = dash_null(v)
    if v is None:
        return None
    if type(v) is not str:
        raise malformed(field, v)
    if len(v) > 254 or _AGGR_RE.fullmatch(v) is None:
        raise invalid("invalid name", field, v)
    return v


def labels(v: Any, field: str) -> tuple[tuple[str, str], ...] | None:
    """``{"labels": ["k=v", ...]}`` (or a bare list) -> sorted (k, v) pairs.

    None (unknown) for null, ``-`` ("a hyphen indicates aggregation") and
    ``{"labels": null}``; ``()`` for an empty list (known: none in common).
    """
    if v is None or v == "-":
        return None
    if type(v) is dict:
        if set(v) != {"labels"}:
            raise malformed(field, v)
        v = v["labels"]
        if v is None:
            return None
    if type(v) is not list:
        raise malformed(field, v)
    return label_items(v, field)


def label_items(items: Sequence[Any], field: str) -> tuple[tuple[str, str], ...]:
    """``["k=v", ...]`` -> sorted, validated (k, v) pairs (a file has few distinct sets:
    each is checked once)."""
    for item in items:
        if type(item) is not str:
            raise malformed(field, item)
    out = _label_items(field, tuple(items))
    if isinstance(out, Bad):
        raise Bad(out.reason, out.detail)  # a fresh exception, not the cached one
    return out


@lru_cache(maxsize=8192)
def _label_items(field: str, items: tuple[str, ...]) -> tuple[tuple[str, str], ...] | Bad:
    out: dict[str, str] = {}
    try:
        for item in items:
            key, eq, value = item.partition("=")
            if not eq:
                return invalid("invalid label", field, item)
            if not put_label(out, key, value, field):
                return invalid("conflicting labels", field, item)
    except Bad as bad:
        return bad.with_traceback(None)  # cached: keep no frames alive
    return tuple(sorted(out.items()))


def dns_names(v: Any, field: str) -> list[str] | None:
    v = dash_null(v)
    if v is None:
        return None
    if type(v) is not list:
        raise malformed(field, v)
    out = []
    for item in v:
        item = dash_null(item)
        if item is None:
            continue
        if type(item) is not str:
            raise malformed(field, item)
        if _DNS_NAME_RE.fullmatch(item) is None:
            raise invalid("invalid DNS name", field, item)
        out.append(item)
    return out or None


# --------------------------------------------------------------------------- endpoints


@lru_cache(maxsize=8192)
def workload_of(aggr: str | None, pod_labels: tuple[tuple[str, str], ...] | None) -> tuple:
    """(kind, name) of a WEP's owner when its labels prove it (see the module doc), else
    (None, None)."""
    if aggr is None or aggr in ("pub", "pvt"):
        return None, None
    if not aggr.endswith("*"):
        return ("Pod", aggr) if is_dns1123_subdomain(aggr) else (None, None)
    if not aggr.endswith("-*") or not pod_labels:
        return None, None
    owner = aggr[:-2]
    found = dict(pod_labels)
    h = found.get("pod-template-hash")
    if h and _RS_HASH_RE.fullmatch(h) and owner.endswith("-" + h):
        name = owner[: -len(h) - 1]
        if is_dns1123_subdomain(name):
            return "Deployment", name
    for key in _JOB_LABELS:
        if found.get(key) == owner and is_dns1123_subdomain(owner):
            return "Job", owner
    if is_dns1123_subdomain(owner):
        if any(k in found for k in _STS_LABELS):
            return "StatefulSet", owner
        if any(k in found for k in _DS_LABELS):
            return "DaemonSet", owner
    return None, None


def endpoint_names(
    kind: str, name: Any, aggr: Any, name_field: str, aggr_field: str
) -> tuple[str | None, str | None]:
    """(pod, name_aggr) from a Calico name and aggregated name (``-`` = null)."""
    aggr_v = aggr_name(aggr, aggr_field)
    name_v = dash_null(name)
    pod = None
    if kind == "pod":
        if name_v is not None:
            if not is_dns1123_subdomain(name_v):
                if type(name_v) is not str:
                    raise malformed(name_field, name_v)
                raise invalid("invalid pod name", name_field, name_v)
            pod = name_v
        elif aggr_v is not None and not aggr_v.endswith("*") and aggr_v not in ("pub", "pvt"):
            # A bare pod (no generateName) is never aggregated with others.
            if not is_dns1123_subdomain(aggr_v):
                raise invalid("invalid pod name", aggr_field, aggr_v)
            pod = aggr_v
    elif name_v is not None:
        name_v = aggr_name(name_v, name_field)
        if aggr_v is None:
            aggr_v = name_v
    return pod, aggr_v


def fill_endpoint(
    row: dict,
    side: str,
    kind: str,
    ns: str | None,
    pod: str | None,
    aggr: str | None,
    address: str | None,
    pod_labels: tuple[tuple[str, str], ...] | None,
) -> None:
    row[f"{side}_kind"] = kind
    if ns is not None:
        row[f"{side}_namespace"] = ns
    if pod is not None:
        row[f"{side}_pod"] = pod
    if aggr is not None:
        row[f"{side}_name_aggr"] = aggr
    if address is not None:
        row[f"{side}_ip"] = address
    if pod_labels is not None:
        row[f"{side}_labels"] = pod_labels
    if kind == "pod":
        wkind, wname = workload_of(aggr, pod_labels)
        if wkind is not None:
            row[f"{side}_workload_kind"] = wkind
            row[f"{side}_workload_name"] = wname


#: How Calico names automatic host endpoints: ``<node name>-auto-hep``.
AUTO_HEP_SUFFIX = "-auto-hep"


def own_node(hep: str | None, host: str) -> str | None:
    """A host endpoint source seen by the destination's node (``reporter: dst``, ``host``):
    ``host`` when it is that node's automatic host endpoint (kubelet probes: always
    allowed), ``remote-node`` when it is another node's (SNATed LoadBalancer traffic),
    None when the name does not say (the reserved identities of Cilium, by meaning)."""
    if hep is None or not hep.endswith(AUTO_HEP_SUFFIX):
        return None
    return "host" if hep[: -len(AUTO_HEP_SUFFIX)] == host else "remote-node"


def counting_reporter(src_type: str, dst_type: str) -> str:
    """Which reporter's record carries the count of a connection (see the module doc)."""
    if src_type == "wep" or dst_type not in ("wep", "hep"):
        return "src"
    return "dst"


def is_aggregated(row: dict) -> bool:
    for side in ("src", "dst"):
        if row[f"{side}_ip"] is None:
            return True
        if row[f"{side}_kind"] == "pod" and row[f"{side}_pod"] is None:
            return True
    no_port = row["src_port"] is None or row["dst_port"] is None
    return row["protocol"] in PORT_PROTOCOLS and no_port


def translate_counters(row: dict, reporter: str, p_in, p_out, b_in, b_out) -> None:
    """Reporter-relative in/out -> fwd (client -> server) / rev."""
    if reporter == "src":
        row["packets_fwd"], row["packets_rev"] = p_out, p_in
        row["bytes_fwd"], row["bytes_rev"] = b_out, b_in
    else:
        row["packets_fwd"], row["packets_rev"] = p_in, p_out
        row["bytes_fwd"], row["bytes_rev"] = b_in, b_out


def set_times(row: dict, start: int | None, end: int | None) -> None:
    """``time_start``/``time_end`` from ``start_time``/``end_time`` (ns; end defaults to
    start)."""
    if start is None:
        raise Bad("missing time", "start_time is missing")
    end = start if end is None else end
    if end < start:
        raise Bad("invalid time", f"end_time before start_time ({end} < {start})")
    row["time_start"], row["time_end"] = start, end


def place_service(
    row: dict,
    extra: dict[str, str],
    ns: str | None,
    name: str | None,
    port_name: str | None,
    port_num: int | None,
) -> None:
    """The service the client used: ``dst_service_*`` for a pod or node destination, else
    ``extra`` (see the module doc: on a non-pod destination it would read as pre-DNAT)."""
    if row["dst_kind"] in ("pod", "node"):
        row["dst_service_namespace"], row["dst_service_name"] = ns, name
        if port_name == "*":
            extra["dest_service_port"] = "*"  # several port names match
        else:
            row["dst_service_port_name"] = port_name
        row["dst_service_port"] = port_num
    elif name is not None:
        extra["dest_service"] = f"{ns or '-'}/{name}"
        if port_num is not None:
            extra["dest_service_port_num"] = str(port_num)


def count_once(row: dict, extra: dict[str, str], types: dict[str, str], flows: int) -> None:
    """``flows`` on the counting reporter's record only (see the module doc); the other
    record keeps the figure in ``extra``. ``types``: side -> Calico endpoint type."""
    owner = counting_reporter(types["src"], types["dst"])
    if row["reporter"] != owner:
        extra["num_flows"] = str(flows)
        extra["counted_by"] = owner
        flows = 0
    row["flows"] = flows


def _listed(extra: dict[str, str], doc: dict, field: str, each: Callable[[Any], str]) -> None:
    """A list field, its first 64 items (``each`` checks one) joined by commas in extra."""
    v = doc.get(field)
    if v is None:
        return
    if type(v) is not list:
        raise malformed(field, v)
    if v:
        extra[field] = ",".join(each(item) for item in v[:64])


# --------------------------------------------------------------------------- policies


def policy_kind(tier: str, name: str) -> tuple[str | None, str | None, str]:
    """(kind, namespace, name) from a flow-log policy name (datatypes.mdx name forms)."""
    ns = None
    if "/" in name:
        ns, _, name = name.partition("/")
        if not is_dns1123_label(ns):
            raise invalid("invalid namespace", "policies", ns)
    staged = name.startswith("staged:")
    if staged:
        name = name[len("staged:") :]
    if tier == "__PROFILE__":
        return "Profile", ns, name
    if ns is not None and name.startswith("knp.default."):
        kind = "StagedKubernetesNetworkPolicy" if staged else "NetworkPolicy"
        return kind, ns, name[len("knp.default.") :]
    if name.startswith(tier + "."):
        if ns is not None:
            kind = "StagedNetworkPolicy" if staged else "CalicoNetworkPolicy"
        else:
            kind = "StagedGlobalNetworkPolicy" if staged else "GlobalNetworkPolicy"
        return kind, ns, name[len(tier) + 1 :]
    return None, ns, name


def ee_policies(v: Any, direction: str) -> list[dict] | None:
    """``policies`` -> POLICY_HIT structs (enforced, else all), sorted by hit index."""
    if v is None or v == "-":
        return None
    if type(v) is not dict:
        raise malformed("policies", v)
    key = "enforced_policies" if v.get("enforced_policies") is not None else "all_policies"
    items = v.get(key)
    for other in ("all_policies", "enforced_policies", "pending_policies"):
        if v.get(other) is not None and type(v.get(other)) is not list:
            raise malformed(f"policies.{other}", v.get(other))
    if not items:
        return None
    hits = []
    for item in items:
        if type(item) is not str:
            raise malformed(f"policies.{key}", item)
        parts = item.split("|")
        if len(parts) != 5:
            raise malformed(f"policies.{key}", item)
        index, tier, name, action, rule = parts
        if not (index.isascii() and index.isdigit() and len(index) <= 9):
            raise malformed(f"policies.{key}", item)
        if _TOKEN_RE.fullmatch(tier) is None or _RULE_RE.fullmatch(rule) is None:
            raise malformed(f"policies.{key}", item)
        if action not in POLICY_ACTIONS:
            raise unknown_enum(f"policies.{key} action", action)
        if len(name) > 400 or re.fullmatch(r"[A-Za-z0-9_.:/-]+", name, re.ASCII) is None:
            raise malformed(f"policies.{key}", item)
        kind, ns, pname = policy_kind(tier, name)
        if _TOKEN_RE.fullmatch(pname) is None:
            raise invalid("invalid policy name", f"policies.{key}", pname)
        hits.append(
            (
                int(index),
                {
                    "kind": kind,
                    "namespace": ns,
                    "name": pname,
                    "tier": tier,
                    "action": action,
                    "rule": rule,
                    "direction": direction,
                },
            )
        )
    hits.sort(key=lambda h: h[0])
    return [h for _, h in hits]


# --------------------------------------------------------------------------- records


def _is_document(d: Any) -> bool:
    return type(d) is dict and "reporter" in d and any(k in d for k in _DOC_KEYS)


def _search_hits(rec: dict) -> list | None:
    hits = rec.get("hits")
    if type(hits) is dict and type(hits.get("hits")) is list:
        return hits["hits"]
    return None


def looks_like(record: Any) -> bool:
    """True for a flow-log document, an Elasticsearch hit holding one, or a search response
    whose first hit holds one."""
    if type(record) is not dict:
        return False
    if "_source" in record:
        return _is_document(record["_source"])
    hits = _search_hits(record)
    if hits is not None:
        return bool(hits) and type(hits[0]) is dict and _is_document(hits[0].get("_source"))
    return _is_document(record)


def expand(record: Any) -> list[Any] | None:
    """The records inside a container record (an Elasticsearch search response: its hits),
    each to be parsed and counted on its own; None for a record that is one flow."""
    if type(record) is dict and "_source" not in record:
        return _search_hits(record)
    return None


def describe(record: Any) -> str | None:
    return "a Calico Enterprise flow log" if looks_like(record) else None


class Parser(RecordParser):
    """Parses the records of one file (no file-level state is needed)."""

    name = NAME
    caught = (*RECORD_ERRORS, RecursionError)

    def _parse(self, rec: Any) -> dict:
        if type(rec) is not dict:
            raise Bad("malformed record: not an object", truncated_repr(rec))
        extra: dict[str, str] = {}
        if "_source" in rec:
            doc = rec["_source"]
            if type(doc) is not dict:
                raise malformed("_source", doc)
            index = rec.get("_index")
            if type(index) is str and _TOKEN_RE.fullmatch(index):
                extra["es_index"] = index
        else:
            hits = _search_hits(rec)
            if hits is not None:
                raise Bad(
                    "container record not expanded",
                    f"an Elasticsearch search response with {len(hits)} hits; split it "
                    "one hit per line (jq -c '.hits.hits[]')",
                )
            doc = rec
        if not _is_document(doc):
            raise Bad("malformed record: not a Calico flow log", truncated_repr(doc))
        return parse_document(doc, extra)


def parse_document(doc: dict, extra: dict[str, str]) -> dict:
    row = new_row()

    start = seconds(doc.get("start_time"), "start_time")
    set_times(row, start, seconds(doc.get("end_time"), "end_time"))

    action = doc.get("action")
    if type(action) is not str:
        raise malformed("action", action)
    verdict = ACTIONS.get(action)
    if verdict is None:
        raise unknown_enum("action", action)
    row["verdict"], row["verdict_raw"] = verdict, action

    reporter_v = doc.get("reporter")
    if type(reporter_v) is not str:
        raise malformed("reporter", reporter_v)
    if reporter_v not in REPORTERS:
        raise unknown_enum("reporter", reporter_v)
    reporter, direction = REPORTERS[reporter_v]
    row["reporter"], row["direction"], row["is_reply"] = reporter, direction, False

    proto, number = protocol(doc.get("proto"), "proto")
    row["protocol"], row["protocol_number"] = proto, number

    host = dash_null(doc.get("host"))
    if host is not None:
        if not is_dns1123_subdomain(host):
            raise invalid("invalid node name", "host", host)
        row["observer"] = host

    types = {}
    for side, prefix in (("src", "source"), ("dst", "dest")):
        t = doc.get(f"{prefix}_type")
        if type(t) is not str:
            raise malformed(f"{prefix}_type", t)
        kind = ENDPOINT_TYPES.get(t)
        if kind is None:
            raise unknown_enum(f"{prefix}_type", t)
        types[side] = t
        ns = namespace(doc.get(f"{prefix}_namespace"), f"{prefix}_namespace")
        pod, aggr = endpoint_names(
            kind,
            doc.get(f"{prefix}_name"),
            doc.get(f"{prefix}_name_aggr"),
            f"{prefix}_name",
            f"{prefix}_name_aggr",
        )
        address = ip(doc.get(f"{prefix}_ip"), f"{prefix}_ip")
        pod_labels = labels(doc.get(f"{prefix}_labels"), f"{prefix}_labels")
        fill_endpoint(row, side, kind, ns, pod, aggr, address, pod_labels)

    row["ip_family"] = family(row["src_ip"], row["dst_ip"]) or (6 if proto == "ICMPv6" else 4)
    if types["src"] == "hep" and reporter == "dst" and host is not None:
        row["src_reserved"] = own_node(row["src_name_aggr"], host)

    sport = port(doc.get("source_port"), "source_port")
    dport = port(doc.get("dest_port"), "dest_port")
    if proto in PORT_PROTOCOLS:
        row["src_port"] = sport
        if dport == 0:  # a port protocol never targets port 0: not a usable port
            extra["dest_port"] = "0"
            dport = None
        row["dst_port"] = dport

    svc_ns = namespace(doc.get("dest_service_namespace"), "dest_service_namespace")
    svc_name = dash_null(doc.get("dest_service_name"))
    if svc_name is not None and not is_dns1123_label(svc_name):
        if type(svc_name) is not str:
            raise malformed("dest_service_name", svc_name)
        raise invalid("invalid service name", "dest_service_name", svc_name)
    svc_port_name = dash_null(doc.get("dest_service_port"))
    if svc_port_name is not None:
        if type(svc_port_name) is not str:
            raise malformed("dest_service_port", svc_port_name)
        if svc_port_name != "*" and PORT_NAME_RE.fullmatch(svc_port_name) is None:
            raise invalid("invalid port name", "dest_service_port", svc_port_name)
    svc_port = port(doc.get("dest_service_port_num"), "dest_service_port_num")
    place_service(row, extra, svc_ns, svc_name, svc_port_name, svc_port)

    names = dns_names(doc.get("dest_domains"), "dest_domains")
    if names:
        row["dst_names"] = names

    row["policies"] = ee_policies(doc.get("policies"), direction)

    num_flows = count(doc.get("num_flows"), "num_flows")
    row["flows_started"] = count(doc.get("num_flows_started"), "num_flows_started")
    row["flows_completed"] = count(doc.get("num_flows_completed"), "num_flows_completed")
    count_once(row, extra, types, 1 if num_flows is None else num_flows)
    translate_counters(
        row,
        reporter,
        count(doc.get("packets_in"), "packets_in"),
        count(doc.get("packets_out"), "packets_out"),
        count(doc.get("bytes_in"), "bytes_in"),
        count(doc.get("bytes_out"), "bytes_out"),
    )
    row["aggregated"] = is_aggregated(row)

    _listed(extra, doc, "nat_outgoing_ports", lambda p: str(port(p, "nat_outgoing_ports")))
    n_orig = count(doc.get("num_original_source_ips"), "num_original_source_ips")
    if n_orig:
        extra["num_original_source_ips"] = str(n_orig)
    _listed(extra, doc, "original_source_ips", lambda a: ip(a, "original_source_ips") or "-")
    if extra:
        row["extra"] = sorted(extra.items())
    return row
