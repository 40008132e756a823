"""The Hubble rulebook: every decision that turns one Hubble flow record into column values.

Two decoders read Hubble and neither decides anything on its own: :mod:`.hubble` (the
reference parser: one ``json`` dict per record) and :mod:`.fast_hubble` (``msgspec`` structs;
it calls each function here once per *distinct* value and caches the result). Hence the
functions are pure: plain JSON values in (``str``, ``int``, ``bool``, ``dict``, ``list``,
``None``), plain values out, no I/O, no row dicts. Bad data raises
:class:`~recommender.ingest.common.Bad` naming the field: the reference rejection. (The fast
path hands such a record to the reference parser, which checks the fields in its own order
and so names the first bad one.)

The traps these rules answer are in ``research/flow-formats.md`` section 1; the main ones:

* **protojson omits zero values** (``UseProtoNames``, defaults dropped): an absent ICMP
  ``type``/``code`` or event ``sub_type`` is 0, ``{"ICMPv4": {}}`` is an echo reply;
  ``is_reply`` is a ``BoolValue`` wrapper, so absent means *unknown*, not false.
* **Replies must never become rules.** A reply has source and destination swapped relative
  to the connection; read as a request it invents a rule to a client's ephemeral port.
  :func:`is_reply` recovers the orientation when the producer did not state it, and leaves
  it unknown rather than guessing from "the lower port is the server".
* **``traffic_direction`` is the direction of the connection**, relative to the endpoint
  where the event was observed, not of the packet: :func:`reporter` combines it with
  ``is_reply``.
* **Labels carry a source prefix** (``k8s:``, ``reserved:``, ``cidr:`` ...) and pseudo-labels
  (namespace, service account, cluster, namespace labels) that are never pod labels and must
  never become a ``podSelector`` (:func:`parse_labels`).
* **``Type: SOCK``** socket traces show the pre-translation ClusterIP: filtered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from recommender.ingest.common import Bad, invalid, malformed
from recommender.ingest.values import int_below, put_label
from recommender.schema import TCP_FLAG_BITS
from recommender.validate import (
    canonical_ip,
    is_dns1123_label,
    is_dns1123_subdomain,
    truncated_repr,
)

# --------------------------------------------------------------------------- records

#: ``GetFlowsResponse`` payloads that are not flows (filtered, by name).
NON_FLOW_TYPES = ("node_status", "lost_events")
#: Top-level keys of a bare ``Flow`` (legacy ``hubble observe -o json``, no wrapper).
BARE_FLOW_KEYS = frozenset({"verdict", "IP", "l4", "source", "destination"})
#: How many records of each file are inspected for an ``is_reply`` key (:func:`legacy_reply`).
LOOKAHEAD = 1000
#: ``Type`` of a socket-LB trace: it shows the pre-translation ClusterIP, not the backend.
SOCKET_TRACE_TYPE = "SOCK"
#: Filter reasons (``Filtered``) of records that are read but give no row.
SOCKET_TRACE = "socket trace (pre-translation)"
NON_IP = "non-IP flow"

#: Largest value + 1 of a protobuf ``uint32`` field.
UINT32 = 2**32
#: Largest port + 1.
PORT_LIMIT = 65536

# Enum strings copied to verdict_raw / drop_reason / extra (``FORWARDED``, ``TO_PROXY``): a
# plain token, nothing that could break out of YAML, Markdown, a path or a shell line.
TOKEN_RE = re.compile(r"[A-Za-z0-9_]{1,64}", re.ASCII)
#: Kernel interface names (``lxc25aced2f4021``, ``cilium_vxlan``, ``eth0.100``).
IFNAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@:-]{0,63}", re.ASCII)
#: Kubernetes kinds (workload owners, policy kinds).
KIND_RE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,62}", re.ASCII)
#: DNS names as Hubble shows them (``*`` for wildcards, trailing dot allowed).
DNS_NAME_RE = re.compile(r"[A-Za-z0-9_*.-]{1,255}", re.ASCII)


def has_is_reply(record: Any) -> bool:
    """Whether a record (wrapped or bare) has an ``is_reply`` key, whatever its value."""
    if type(record) is not dict:
        return False
    flow = record.get("flow")
    if type(flow) is dict:
        return "is_reply" in flow
    return "is_reply" in record


def legacy_reply(lookahead: Sequence[Any]) -> bool:
    """Whether a file comes from a producer older than ``is_reply`` (2021 Hubble): none of its
    first :data:`LOOKAHEAD` records has the key. Such a producer sets the deprecated
    ``reply`` on every reply, so a missing ``reply`` then means "not a reply"."""
    return not any(has_is_reply(r) for r in lookahead[:LOOKAHEAD])


# --------------------------------------------------------------------------- values


def token(v: Any, field: str, pattern: re.Pattern = TOKEN_RE) -> str | None:
    """An enum string (None when absent or empty); anything else is malformed."""
    if v is None or v == "":
        return None
    if type(v) is not str or pattern.fullmatch(v) is None:
        raise malformed(field, v)
    return v


def as_dict(v: Any, field: str) -> dict | None:
    """A JSON object (None when absent); anything else is malformed."""
    if v is None:
        return None
    if type(v) is not dict:
        raise malformed(field, v)
    return v


def dns_name(v: Any, field: str) -> str | None:
    """A DNS name (None when absent or empty)."""
    if v is None or v == "":
        return None
    if type(v) is not str:
        raise malformed(field, v)
    if DNS_NAME_RE.fullmatch(v) is None:
        raise invalid("invalid DNS name", field, v)
    return v


def names(v: Any, field: str) -> list[str] | None:
    """``source_names``/``destination_names``: the DNS names of a list, empty ones left out."""
    if v is None:
        return None
    if type(v) is not list:
        raise malformed(field, v)
    out = []
    for item in v:
        name = dns_name(item, field)
        if name is not None:
            out.append(name)
    return out


def address(v: Any, field: str) -> tuple[str, int]:
    """(canonical text, family 4 or 6) of an IP address."""
    canonical = canonical_ip(v)
    if canonical is None:
        raise invalid("invalid IP", field, v)
    return canonical, 6 if ":" in canonical else 4


def dns_ips(v: Any) -> list[str] | None:
    """The answer addresses of a DNS ``l7`` (``l7.dns.ips``), canonical, distinct, in the
    answer's order; None without a DNS answer or when it holds none."""
    l7v = as_dict(v, "l7")
    dns = as_dict(l7v.get("dns"), "l7.dns") if l7v else None
    raw = dns.get("ips") if dns else None
    if raw is None:
        return None
    if type(raw) is not list:
        raise malformed("l7.dns.ips", raw)
    out: list[str] = []
    for item in raw:
        if item is None or item == "":
            continue
        ip, _ = address(item, "l7.dns.ips")
        if ip not in out:
            out.append(ip)
    return out or None


def source_xlated(v: Any) -> str | None:
    """``IP.source_xlated`` (post-SNAT source), canonical; None when absent."""
    if v is None or v == "":
        return None
    x = canonical_ip(v)
    if x is None:
        raise invalid("invalid IP", "IP.source_xlated", v)
    return x


# --------------------------------------------------------------------------- verdict

VERDICTS = {
    "FORWARDED": "allowed",
    "DROPPED": "denied",
    "AUDIT": "audit",
    "REDIRECTED": "redirected",
    "ERROR": "error",
    "TRACED": "unknown",
    "TRANSLATED": "unknown",
    "VERDICT_UNKNOWN": "unknown",
}
#: Enum numbers, for producers that emit them (protojson ``UseEnumNumbers``).
VERDICT_NUMBERS = {
    0: "VERDICT_UNKNOWN",
    1: "FORWARDED",
    2: "DROPPED",
    3: "ERROR",
    4: "AUDIT",
    5: "REDIRECTED",
    6: "TRACED",
    7: "TRANSLATED",
}


def verdict(v: Any) -> tuple[str, str | None]:
    """(verdict, verdict_raw). A verdict token this table does not know is ``unknown`` (kept
    raw); an enum number is read as its name; absent is ``unknown``."""
    if type(v) is int and v in VERDICT_NUMBERS:
        v = VERDICT_NUMBERS[v]
    if v is None or v == "":
        return "unknown", None
    if type(v) is str and TOKEN_RE.fullmatch(v) is not None:
        return VERDICTS.get(v, "unknown"), v
    raise malformed("verdict", v)


# --------------------------------------------------------------------------- observer


def observer(node: Any) -> tuple[str | None, str | None]:
    """(observer node, cluster) of ``node_name``: Relay writes ``cluster/node``."""
    if node is None or node == "":
        return None, None
    if type(node) is not str:
        raise malformed("node_name", node)
    cluster = None
    prefix, slash, name = node.partition("/")
    if slash:
        if not is_dns1123_subdomain(prefix):
            raise invalid("invalid cluster name", "node_name", node)
        cluster, node = prefix, name
    if not is_dns1123_subdomain(node):
        raise invalid("invalid node name", "node_name", node)
    return node, cluster


def record_cluster(
    node_cluster: str | None,
    src_local: bool,
    src_cluster: str | None,
    dst_local: bool,
    dst_cluster: str | None,
) -> str | None:
    """The record's cluster: the observer's (from ``node_name``), else that of the endpoint
    local to the observing node (the source first)."""
    if node_cluster is not None:
        return node_cluster
    if src_local:
        return src_cluster
    if dst_local:
        return dst_cluster
    return None


# --------------------------------------------------------------------------- L4

#: l4 oneof member -> (protocol, IANA number), in the order that decides when a (malformed)
#: record sets several members: the first present wins.
L4_PROTOCOLS = {
    "TCP": ("TCP", 6),
    "UDP": ("UDP", 17),
    "SCTP": ("SCTP", 132),
    "ICMPv4": ("ICMP", 1),
    "ICMPv6": ("ICMPv6", 58),
    "VRRP": ("OTHER", 112),
    "IGMP": ("OTHER", 2),
}
ICMP_PROTOCOLS = ("ICMP", "ICMPv6")
#: Protocols with ports.
PORT_PROTOCOLS = ("TCP", "UDP", "SCTP")
#: l4 member -> its field names for messages: (member, source port or ICMP type, destination
#: port or ICMP code, flags), precomputed so valid records build no strings.
L4_FIELDS = {
    key: (
        f"l4.{key}",
        *(
            (f"l4.{key}.type", f"l4.{key}.code", "")
            if proto in ICMP_PROTOCOLS
            else (f"l4.{key}.source_port", f"l4.{key}.destination_port", f"l4.{key}.flags")
        ),
    )
    for key, (proto, _) in L4_PROTOCOLS.items()
}
_SYN = TCP_FLAG_BITS["SYN"]
_ACK = TCP_FLAG_BITS["ACK"]


def l4_member(l4: Mapping[str, Any]) -> str | None:
    """The l4 oneof member a record sets (the first of :data:`L4_PROTOCOLS`), or None."""
    for key in L4_PROTOCOLS:
        if key in l4:
            return key
    return None


def l4_protocol(member: str | None) -> tuple[str, int | None]:
    """(protocol, IANA number) of an l4 member; no member is ``OTHER`` with no number."""
    return L4_PROTOCOLS[member] if member is not None else ("OTHER", None)


def port(v: Any, field: str) -> int | None:
    """A port number (None when absent: protojson omits port 0 too, but it is never used)."""
    return int_below(v, field, PORT_LIMIT)


def icmp(member: str, icmp_type: Any, icmp_code: Any) -> tuple[int, int]:
    """(type, code) of an ICMP member. protojson omits zero values: absent is 0, so
    ``{"ICMPv4": {}}`` is an echo reply (type 0, code 0)."""
    fields = L4_FIELDS[member]
    return int_below(icmp_type, fields[1], 256) or 0, int_below(icmp_code, fields[2], 256) or 0


def tcp_flags(flags: Mapping[str, Any], field: str) -> int:
    """TCP ``flags`` (``{"SYN": true, ...}``) folded into the schema's bitmask. Every value
    must be a boolean; flag names the schema does not know add nothing."""
    bits = 0
    for name, on in flags.items():
        if type(on) is not bool:
            raise malformed(field, flags)
        if on:
            bits |= TCP_FLAG_BITS.get(name, 0)
    return bits


# --------------------------------------------------------------------------- orientation

DIRECTIONS = {"INGRESS": "ingress", "EGRESS": "egress"}


def direction(td: Any) -> str:
    """``traffic_direction`` as the schema's direction (``unknown`` when absent: protojson
    omits the enum's 0, TRAFFIC_DIRECTION_UNKNOWN)."""
    return DIRECTIONS.get(token(td, "traffic_direction"), "unknown")


def is_reply(
    stated: Any, reply: Any, trace_reason: str | None, flags: int | None, legacy: bool
) -> bool | None:
    """Whether the record is the reply half of its connection; None when nobody can tell.

    ``stated`` is ``is_reply`` (a BoolValue: absent = unknown) and wins. Without it, in this
    order: the deprecated ``reply`` when true; for a ``legacy`` file (:func:`legacy_reply`)
    a missing ``reply`` means false; conntrack's ``trace_reason`` (NEW/ESTABLISHED: request,
    REPLY: reply); a SYN (SYN+ACK is the server's answer). "The lower port is the server" is
    never used: it fails for NodePorts, high-port servers and pod-to-pod high ports.
    """
    if stated is not None and type(stated) is not bool:
        raise malformed("is_reply", stated)
    if reply is not None and type(reply) is not bool:
        raise malformed("reply", reply)
    if stated is not None:
        return stated
    if reply is True:
        return True
    if legacy or trace_reason in ("NEW", "ESTABLISHED"):
        return False
    if trace_reason == "REPLY":
        return True
    if flags is not None and flags & _SYN:
        return bool(flags & _ACK)
    return None


def reporter(direction: str, is_reply: bool | None, src_local: bool, dst_local: bool) -> str:
    """Which side observed the record (``src``, ``dst`` or ``unknown``): the endpoint local to
    the observing node. ``traffic_direction`` is relative to it (EGRESS: it opened the
    connection), so with a known orientation the reporter follows (an EGRESS request comes
    from it, an EGRESS reply goes to it); otherwise the one endpoint that has a local
    endpoint ``ID``."""
    if direction != "unknown" and is_reply is not None:
        return "src" if (direction == "egress") != is_reply else "dst"
    if src_local != dst_local:
        return "src" if src_local else "dst"
    return "unknown"


# --------------------------------------------------------------------------- endpoints

#: Cilium reserved identities (docs: "Special Identities"), used only when an endpoint
#: carries no ``labels`` at all (e.g. masked by an exporter ``fieldMask``).
RESERVED_IDENTITIES = {
    1: "host",
    2: "world",
    3: "unmanaged",
    4: "health",
    5: "init",
    6: "remote-node",
    7: "kube-apiserver",
    8: "ingress",
    9: "world-ipv4",
    10: "world-ipv6",
}
WORLD_IDENTITY = 2
#: Reserved labels by the endpoint kind they mean (see :func:`endpoint_kind`).
WORLD_RESERVED = frozenset({"world", "world-ipv4", "world-ipv6"})
NODE_RESERVED = frozenset({"host", "remote-node", "health"})
CLUSTER_UNKNOWN_RESERVED = frozenset({"init", "unmanaged", "ingress"})
#: When an endpoint has several reserved labels, the one stored in ``*_reserved``: the first
#: of these it has (else the smallest name).
RESERVED_ORDER = (
    "host",
    "remote-node",
    "kube-apiserver",
    "health",
    "ingress",
    "init",
    "unmanaged",
    "world",
    "world-ipv4",
    "world-ipv6",
)

#: ``k8s:`` pseudo-labels: moved to their own columns, never pod labels.
NS_LABEL_PREFIX = "io.cilium.k8s.namespace.labels."
NS_PSEUDO = "io.kubernetes.pod.namespace"
SA_PSEUDO = "io.cilium.k8s.policy.serviceaccount"
CLUSTER_PSEUDO = "io.cilium.k8s.policy.cluster"

#: What :func:`endpoint` gives, in this order: the FLOW_SCHEMA columns ``{src,dst}_<name>``.
ENDPOINT_COLUMNS = (
    "kind",
    "reserved",
    "namespace",
    "pod",
    "workload_kind",
    "workload_name",
    "labels",
    "namespace_labels",
    "service_account",
    "identity",
    "cluster",
)
#: Position of ``cluster`` in an :func:`endpoint` value tuple.
ENDPOINT_CLUSTER = ENDPOINT_COLUMNS.index("cluster")
#: The value tuple of an absent endpoint.
UNKNOWN_ENDPOINT = ("unknown", *(None,) * (len(ENDPOINT_COLUMNS) - 1))


class Labels(NamedTuple):
    """What a Cilium label list says (:func:`parse_labels`)."""

    pod: tuple[tuple[str, str], ...]  # sorted (key, value) pairs, ``k8s:`` prefix stripped
    namespace_labels: tuple[tuple[str, str], ...] | None
    namespace: str | None
    service_account: str | None
    cluster: str | None
    reserved: frozenset[str]
    cidr: bool  # a ``cidr:``/``fqdn:`` label: an address outside the cluster
    k8s: bool  # any ``k8s:`` label: Cilium gave the endpoint a Kubernetes identity


NO_LABELS = Labels((), None, None, None, None, frozenset(), False, False)


def parse_labels(labels: tuple[str, ...], field: str) -> Labels:
    """Split Cilium label strings (``<source>:<key>=<value>``). Cached: a file has few
    distinct label sets, each parsed and validated once."""
    parsed = _parse_labels(labels, field)
    if isinstance(parsed, Bad):
        raise Bad(parsed.reason, parsed.detail)  # a fresh exception, not the cached one
    return parsed


@lru_cache(maxsize=8192)
def _parse_labels(labels: tuple[str, ...], field: str) -> Labels | Bad:
    pod: dict[str, str] = {}
    ns_labels: dict[str, str] = {}
    pseudo: dict[str, str] = {}
    reserved: set[str] = set()
    cidr = k8s = False
    try:
        for item in labels:
            source, colon, rest = item.partition(":")
            if not colon:
                continue  # no source: "unspec", not a pod label
            if source == "k8s":
                k8s = True
                _k8s_label(rest, item, field, pod, ns_labels, pseudo)
            elif source == "reserved":
                name = rest.partition("=")[0]
                if not is_dns1123_label(name):
                    raise invalid("invalid reserved label", field, item)
                reserved.add(name)
            elif source in ("cidr", "fqdn"):
                cidr = True
            # container:, unspec:, any other source: not pod labels; nothing is kept.
    except Bad as bad:
        return bad
    return Labels(
        tuple(sorted(pod.items())),
        tuple(sorted(ns_labels.items())) if ns_labels else None,
        pseudo.get(NS_PSEUDO),
        pseudo.get(SA_PSEUDO),
        pseudo.get(CLUSTER_PSEUDO),
        frozenset(reserved),
        cidr,
        k8s,
    )


def _k8s_label(
    rest: str,
    item: str,
    field: str,
    pod: dict[str, str],
    ns_labels: dict[str, str],
    pseudo: dict[str, str],
) -> None:
    """One ``k8s:`` label into pod labels, namespace labels or a pseudo-label."""
    key, _, value = rest.partition("=")
    if key.startswith(NS_LABEL_PREFIX):
        key = key[len(NS_LABEL_PREFIX) :]
        target = ns_labels
    elif key == NS_PSEUDO:
        if not is_dns1123_label(value):
            raise invalid("invalid namespace", f"{field} ({NS_PSEUDO})", value)
        if pseudo.setdefault(key, value) != value:
            raise invalid("conflicting labels", field, item)
        return
    elif key in (SA_PSEUDO, CLUSTER_PSEUDO):
        if not is_dns1123_subdomain(value):
            what = "service account" if key == SA_PSEUDO else "cluster name"
            raise invalid(f"invalid {what}", field, value)
        pseudo[key] = value
        return
    elif key.startswith("io.cilium."):
        return  # other Cilium pseudo-labels: never pod labels
    else:
        target = pod
    if not put_label(target, key, value, field):
        raise invalid("conflicting labels", field, item)


def endpoint_kind(
    namespace: str | None,
    pod: str | None,
    reserved: frozenset[str],
    identity: int | None,
    cidr: bool,
    k8s: bool,
) -> str:
    """The endpoint's kind. The order of these tests is the rule: a named pod is a pod
    whatever else it says; host/remote-node/health are nodes; the API server is a node
    (host network) unless it is also ``world`` (a managed control plane outside the cluster:
    one exported sample's identity 16777217 carries both); world, identity 2 and CIDR/FQDN
    identities are external; init/unmanaged/ingress, or Kubernetes labels with a namespace
    but no pod name, are in the cluster but unknown."""
    if namespace is not None and pod is not None:
        return "pod"
    if reserved & NODE_RESERVED:
        return "node"
    if "kube-apiserver" in reserved:
        return "external" if reserved & WORLD_RESERVED else "node"
    if reserved & WORLD_RESERVED or identity == WORLD_IDENTITY or cidr:
        return "external"
    if reserved & CLUSTER_UNKNOWN_RESERVED or (k8s and namespace is not None):
        return "cluster_unknown"
    return "unknown"


def reserved_name(reserved: frozenset[str]) -> str | None:
    """The one reserved label stored for an endpoint (:data:`RESERVED_ORDER`)."""
    if not reserved:
        return None
    for r in RESERVED_ORDER:
        if r in reserved:
            return r
    return min(reserved)


def endpoint_namespace(namespace: Any, from_label: str | None, field: str) -> str | None:
    """The endpoint's namespace: its ``namespace`` field, else the namespace pseudo-label;
    the two must agree."""
    if namespace is None or namespace == "":
        return from_label
    if not is_dns1123_label(namespace):
        raise invalid("invalid namespace", f"{field}.namespace", namespace)
    if from_label is not None and from_label != namespace:
        raise Bad(
            "conflicting namespace",
            f"{field}.namespace={truncated_repr(namespace)} but label says "
            f"{truncated_repr(from_label)}",
        )
    return namespace


def pod_name(v: Any, field: str) -> str | None:
    """``pod_name`` (None when absent or empty)."""
    return _subdomain(v, "invalid pod name", field, "pod_name")


def cluster_name(v: Any, field: str) -> str | None:
    """``cluster_name`` (None when absent or empty)."""
    return _subdomain(v, "invalid cluster name", field, "cluster_name")


def _subdomain(v: Any, reason: str, field: str, key: str) -> str | None:
    if v is None or v == "":
        return None
    if not is_dns1123_subdomain(v):
        raise invalid(reason, f"{field}.{key}", v)
    return v


def workload(workloads: Any, field: str) -> tuple[str | None, str | None]:
    """(kind, name) of the endpoint's top-level owner: the first of ``workloads`` (newer
    Cilium; absent in older captures, where the inventory's ownerReferences tell)."""
    if workloads is None:
        return None, None
    if type(workloads) is not list:
        raise malformed(f"{field}.workloads", workloads)
    if not workloads:
        return None, None
    w = workloads[0]
    if type(w) is not dict:
        raise malformed(f"{field}.workloads", w)
    name = w.get("name")
    if name == "":
        name = None
    elif name is not None and not is_dns1123_subdomain(name):
        raise invalid("invalid workload name", f"{field}.workloads.name", name)
    kind = w.get("kind")
    if kind == "":
        kind = None
    elif kind is not None and (type(kind) is not str or KIND_RE.fullmatch(kind) is None):
        raise invalid("invalid workload kind", f"{field}.workloads.kind", kind)
    return kind, name


def endpoint_labels(labels: Any, field: str) -> Labels | None:
    """What an endpoint's ``labels`` list says; None when it has none (not even empty)."""
    if labels is None:
        return None
    if type(labels) is not list:
        raise malformed(f"{field}.labels", labels)
    for item in labels:
        if type(item) is not str:
            raise malformed(f"{field}.labels", item)
    return parse_labels(tuple(labels), f"{field}.labels")


def endpoint(ep: Any, field: str) -> tuple[tuple, bool]:
    """(values in :data:`ENDPOINT_COLUMNS` order, local) of a Hubble ``Endpoint``; local:
    it has an ``ID``, which Hubble gives only to endpoints on the observing node."""
    if ep is None:
        return UNKNOWN_ENDPOINT, False
    if type(ep) is not dict:
        raise malformed(field, ep)
    labels = endpoint_labels(ep.get("labels"), field)
    parsed = NO_LABELS if labels is None else labels
    reserved = parsed.reserved
    identity = int_below(ep.get("identity"), f"{field}.identity", UINT32)
    if labels is None and identity in RESERVED_IDENTITIES:
        reserved = frozenset((RESERVED_IDENTITIES[identity],))
    namespace = endpoint_namespace(ep.get("namespace"), parsed.namespace, field)
    pod = pod_name(ep.get("pod_name"), field)
    cluster = cluster_name(ep.get("cluster_name"), field) or parsed.cluster
    wkind, wname = workload(ep.get("workloads"), field)
    values = (
        endpoint_kind(namespace, pod, reserved, identity, parsed.cidr, parsed.k8s),
        reserved_name(reserved),
        namespace,
        pod,
        wkind,
        wname,
        # Labels are known only when Cilium gave the endpoint a Kubernetes identity (every
        # pod has at least the k8s: pseudo-labels); a pod seen as `reserved:world` (an
        # endpoint Cilium does not manage) has unknown labels, not an empty set.
        parsed.pod if parsed.k8s else None,
        parsed.namespace_labels,
        parsed.service_account,
        identity,
        cluster,
    )
    return values, "ID" in ep


# --------------------------------------------------------------------------- the rest


def destination_service(svc: Any) -> tuple[str | None, str | None]:
    """(namespace, name) of ``destination_service``. Hubble gives no port: the service
    port is never the policy port anyway."""
    svc = as_dict(svc, "destination_service")
    if not svc:
        return None, None
    name, ns = svc.get("name"), svc.get("namespace")
    if name == "":
        name = None
    elif name is not None and not is_dns1123_label(name):
        raise invalid("invalid service name", "destination_service.name", name)
    if ns == "":
        ns = None
    elif ns is not None and not is_dns1123_label(ns):
        raise invalid("invalid namespace", "destination_service.namespace", ns)
    return ns, name


#: :func:`l7` of a record without ``l7``.
NO_L7 = (None, None, None)


def l7(v: Any) -> tuple[str | None, str | None, str | None]:
    """(l7_protocol, dns_query, l7 type) of ``l7``: DNS queries are kept for FQDN hints."""
    l7v = as_dict(v, "l7")
    if not l7v:
        return NO_L7
    l7type = token(l7v.get("type"), "l7.type")
    proto = query = None
    if "dns" in l7v:
        dns = as_dict(l7v["dns"], "l7.dns")
        proto = "dns"
        if dns:
            query = dns_name(dns.get("query"), "l7.dns.query")
    elif "http" in l7v:
        as_dict(l7v["http"], "l7.http")
        proto = "http"
    elif "kafka" in l7v:
        as_dict(l7v["kafka"], "l7.kafka")
        proto = "kafka"
    return proto, query, l7type


#: The policy lists of a flow (newer Cilium): key -> (action, direction).
POLICY_FIELDS = (
    ("egress_allowed_by", "allow", "egress"),
    ("ingress_allowed_by", "allow", "ingress"),
    ("egress_denied_by", "deny", "egress"),
    ("ingress_denied_by", "deny", "ingress"),
)
POLICY_KEYS = frozenset(k for k, _, _ in POLICY_FIELDS)


def policies(flow: Mapping[str, Any]) -> list[dict] | None:
    """The POLICY_HIT structs of a flow's :data:`POLICY_FIELDS` (None when all are empty)."""
    out = []
    for key, action, direction in POLICY_FIELDS:
        items = flow.get(key)
        if items is None:
            continue
        if type(items) is not list:
            raise malformed(key, items)
        for p in items:
            out.append(_policy(p, key, action, direction))
    return out or None


def _policy(p: Any, key: str, action: str, direction: str) -> dict:
    if type(p) is not dict:
        raise malformed(key, p)
    name = p.get("name") or None
    ns = p.get("namespace") or None
    kind = p.get("kind") or None
    if name is not None and not is_dns1123_subdomain(name):
        raise invalid("invalid policy name", f"{key}.name", name)
    if ns is not None and not is_dns1123_label(ns):
        raise invalid("invalid namespace", f"{key}.namespace", ns)
    if kind is not None and (type(kind) is not str or not KIND_RE.fullmatch(kind)):
        raise invalid("invalid policy kind", f"{key}.kind", kind)
    return {
        "kind": kind,
        "namespace": ns,
        "name": name,
        "tier": None,
        "action": action,
        "rule": None,
        "direction": direction,
    }


#: The counts of an exporter-aggregated flow; ``flows`` is their sum.
AGGREGATE_COUNTS = ("ingress_flow_count", "egress_flow_count", "unknown_direction_flow_count")


def aggregate(v: Any) -> tuple[int, bool]:
    """(flows, aggregated) of ``aggregate``: a plain event is one flow."""
    agg = as_dict(v, "aggregate")
    if agg is None:
        return 1, False
    total = 0
    for key in AGGREGATE_COUNTS:
        total += int_below(agg.get(key), f"aggregate.{key}", UINT32) or 0
    return max(total, 1), True


def event_type(type_: Any, sub_type: Any) -> tuple[str, str] | None:
    """(type, sub_type) of ``event_type`` as text for ``extra``; None without a type.
    protojson omits zero: an absent sub_type is 0."""
    et = int_below(type_, "event_type.type", UINT32)
    if et is None:
        return None
    return str(et), str(int_below(sub_type, "event_type.sub_type", UINT32) or 0)


def interface_name(v: Any) -> str | None:
    """``interface.name``, a kernel interface name (None when absent)."""
    return token(v, "interface.name", IFNAME_RE)


def extra(
    ftype: str | None,
    l7_type: str | None,
    event: tuple[str, str] | None,
    observation_point: str | None,
    trace_reason: str | None,
    interface: str | None,
    xlated: str | None,
) -> list[tuple[str, str]] | None:
    """The ``extra`` column: observation details worth keeping, as sorted (key, value) pairs
    (sorted for determinism); None when there are none. Values are already checked."""
    pairs = (
        ("l7_type", l7_type),
        ("type", ftype),
        ("event_type", event[0] if event else None),
        ("event_sub_type", event[1] if event else None),
        ("observation_point", observation_point),
        ("trace_reason", trace_reason),
        ("interface", interface),
        ("source_xlated", xlated),
    )
    return sorted((k, v) for k, v in pairs if v is not None) or None
