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

import re
from collections.abc import Callable
from typing import Any

from recommender.ingest.calico_fields import (
    ENDPOINT_TYPES,
    PORT_NAME_RE,
    PORT_PROTOCOLS,
    REPORTERS,
    count,
    count_once,
    dns_names,
    endpoint_names,
    fill_endpoint,
    ip,
    is_aggregated,
    labels,
    namespace,
    own_node,
    place_service,
    port,
    protocol,
    seconds,
    set_times,
    translate_counters,
)
from recommender.ingest.common import (
    RECORD_ERRORS,
    Bad,
    RecordParser,
    invalid,
    malformed,
)
from recommender.ingest.sources import new_row
from recommender.ingest.values import (
    dash_null,
    family,
    unknown_enum,
)
from recommender.validate import is_dns1123_label, is_dns1123_subdomain, truncated_repr

NAME = "calico-ee"

ACTIONS = {"allow": "allowed", "deny": "denied"}
POLICY_ACTIONS = frozenset({"allow", "deny", "pass"})
_TOKEN_RE = re.compile(r"[A-Za-z0-9_.:-]{1,253}", re.ASCII)
_RULE_RE = re.compile(r"-?[0-9]{1,9}", re.ASCII)

#: Keys that only a Calico Enterprise flow-log document has (with ``reporter``).
_DOC_KEYS = (
    "source_name_aggr",
    "dest_name_aggr",
    "source_type",
    "dest_type",
    "num_flows",
    "num_flows_started",
)


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
    reporter, direction = _verdict_and_reporter(doc, row)

    proto, number = protocol(doc.get("proto"), "proto")
    row["protocol"], row["protocol_number"] = proto, number

    host = dash_null(doc.get("host"))
    if host is not None:
        if not is_dns1123_subdomain(host):
            raise invalid("invalid node name", "host", host)
        row["observer"] = host

    types = {"src": _endpoint(doc, row, "src", "source"), "dst": _endpoint(doc, row, "dst", "dest")}
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

    _service(doc, row, extra)
    names = dns_names(doc.get("dest_domains"), "dest_domains")
    if names:
        row["dst_names"] = names
    row["policies"] = ee_policies(doc.get("policies"), direction)
    _counters(doc, row, extra, types, reporter)

    _listed(extra, doc, "nat_outgoing_ports", lambda p: str(port(p, "nat_outgoing_ports")))
    n_orig = count(doc.get("num_original_source_ips"), "num_original_source_ips")
    if n_orig:
        extra["num_original_source_ips"] = str(n_orig)
    _listed(extra, doc, "original_source_ips", lambda a: ip(a, "original_source_ips") or "-")
    if extra:
        row["extra"] = sorted(extra.items())
    return row


def _verdict_and_reporter(doc: dict, row: dict) -> tuple[str, str]:
    """Fill the verdict and the reporter; returns (reporter, direction)."""
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
    return reporter, direction


def _endpoint(doc: dict, row: dict, side: str, prefix: str) -> str:
    """Fill one end (``prefix``: ``source`` or ``dest``); returns its Calico type."""
    t = doc.get(f"{prefix}_type")
    if type(t) is not str:
        raise malformed(f"{prefix}_type", t)
    kind = ENDPOINT_TYPES.get(t)
    if kind is None:
        raise unknown_enum(f"{prefix}_type", t)
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
    return t


def _service(doc: dict, row: dict, extra: dict[str, str]) -> None:
    """The Service the client used (``dest_service_*``), placed by ``place_service``."""
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


def _counters(
    doc: dict, row: dict, extra: dict[str, str], types: dict[str, str], reporter: str
) -> None:
    """Flow counts (counted once, see ``count_once``) and packet/byte counters."""
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
