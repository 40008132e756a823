"""The Cilium reader: ``cilium.io/v2`` CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy
dicts -> :class:`Policy`, the L3/L4 subset judged, the rest named.

What the reader decides, from Cilium's docs (Documentation/security/policy/layer3.rst,
layer4.rst, kubernetes.rst, deny.rst, language.rst) and, where they are silent, its policy
parser (pkg/k8s/apis/cilium.io/utils/utils.go ``getEndpointSelector``):

* **Isolation.** A rule section (``ingress``/``ingressDeny``, ``egress``/``egressDeny``)
  puts the subject into default deny for its direction ("Ingress/Egress Default Deny");
  ``enableDefaultDeny`` overrides that per direction. The allow rules are a Policy in
  :data:`NETWORK_POLICY_TIER` isolating those directions; allow rules of a direction whose
  default deny is off only add to what others allow: a Policy in
  :data:`CILIUM_ALLOW_ONLY_TIER`, whose default is "pass". Deny rules win over any allow
  ("Deny Policies"): a Policy of the same name in :data:`CILIUM_DENY_TIER`.
* **A rule** admits its L3 peers on its ``toPorts``; with no L3 field, any peer on those
  ports (layer4.rst); with neither, nothing (the empty rule ``{}`` only isolates). An L3
  field written as an empty list selects nothing. Two L3 kinds in one rule are refused, as
  Cilium's rule sanitizer refuses them ("Combining ... is not supported yet").
* **Endpoint selectors.** Label keys carry a source: none or ``any:`` matches any source,
  ``k8s:`` the pod's Kubernetes labels, both compiled as the plain key; ``reserved:X`` alone
  is the entity X. ``io.kubernetes.pod.namespace`` selects the namespace by name and
  ``io.cilium.k8s.namespace.labels.K`` by its labels. A CNP peer without either is in the
  policy's own namespace; a CCNP peer in any namespace (Cilium adds
  ``k8s:io.kubernetes.pod.namespace Exists``). A CNP's ``endpointSelector`` selects pods of
  its own namespace only.
* **Ports.** ``protocol`` ANY (or none) is TCP, UDP and SCTP; port ``0`` or none is every
  port; ``endPort`` is inclusive; a non-numeric port is a named port.
* **Not judged** (the rule's L3/L4 part is compiled, a connection it matches is
  unjudged): L7 rules other than DNS on port 53 (HTTP, Kafka, generic L7), TLS and
  listener redirection, ``icmps``, ``authentication``, ``fromRequires``/``toRequires``,
  peers that flow logs cannot resolve (``toServices``, ``toGroups``, CIDR groups, node
  labels, service-account and cluster labels, other label sources), extended IP protocols.
  ``nodeSelector`` (host policies: nodes as subjects) is refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .fields import as_list, as_mapping_or_empty, check_keys, fail
from .model import (
    CILIUM_DENY_TIER,
    DIRECTIONS,
    ENTITIES,
    NETWORK_POLICY_TIER,
    NS_NAME_LABEL,
    Action,
    FQDNMatch,
    IPBlock,
    Peer,
    Policy,
    PolicyError,
    PortMatch,
    Requirement,
    Rule,
    Selector,
    Tier,
)
from .networkpolicy import compile_selector

__all__ = [
    "API_VERSION",
    "CCNP_KIND",
    "CILIUM_ALLOW_ONLY_TIER",
    "CNP_KIND",
    "KINDS",
    "compile_object",
]

API_VERSION = "cilium.io/v2"
CNP_KIND = "CiliumNetworkPolicy"
CCNP_KIND = "CiliumClusterwideNetworkPolicy"
KINDS: frozenset[tuple[str, str]] = frozenset({(API_VERSION, CNP_KIND), (API_VERSION, CCNP_KIND)})

#: Allow rules of a direction whose ``enableDefaultDeny`` is false: they admit what they
#: match and pass the rest on to the policies that do isolate (or to "allowed").
CILIUM_ALLOW_ONLY_TIER = Tier(999_999.5, "cilium-allow-only", "pass")

_SPEC_KEYS = (
    "description",
    "egress",
    "egressDeny",
    "enableDefaultDeny",
    "endpointSelector",
    "ingress",
    "ingressDeny",
    "labels",
    "log",
    "nodeSelector",
)
_PREFIX = {"ingress": "from", "egress": "to"}
#: L3 fields of a rule, by the peer kind they name (``Requires`` only narrows, see below).
_L3 = ("Endpoints", "CIDR", "CIDRSet", "Entities", "FQDNs", "Services", "Groups", "Nodes")
_OTHER_KEYS = ("toPorts", "icmps", "authentication", "Requires")
#: Label sources whose keys select a pod's Kubernetes labels.
_POD_SOURCES = ("k8s", "any")
_NS_NAME_KEY = "io.kubernetes.pod.namespace"
_NS_LABELS_PREFIX = "io.cilium.k8s.namespace.labels."
_POLICY_LABELS_PREFIX = "io.cilium.k8s.policy."
_PROTOCOLS = ("TCP", "UDP", "SCTP")
_DNS_PORT = 53


# --------------------------------------------------------------------------------------------
# Field helpers
# --------------------------------------------------------------------------------------------


@dataclass
class _Context:
    """What a rule's compilation needs to know about its policy, and the reasons it found."""

    where: str
    cluster_scoped: bool
    reasons: list[str] = field(default_factory=list)

    def note(self, reason: str) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)


# --------------------------------------------------------------------------------------------
# Endpoint selectors
# --------------------------------------------------------------------------------------------


@dataclass
class _Split:
    """An endpoint selector split into the pod part, the namespace part, and the rest."""

    pods: dict = field(default_factory=dict)
    pod_reqs: list = field(default_factory=list)
    ns: dict = field(default_factory=dict)
    ns_reqs: list = field(default_factory=list)
    by_name: bool = False
    by_labels: bool = False
    reserved: list = field(default_factory=list)
    unknown: list = field(default_factory=list)

    def place(self, key: str, value: str | None, req: Requirement | None) -> None:
        source, _, bare = key.partition(":") if ":" in key else ("any", "", key)
        if source == "reserved":
            self.reserved.append(bare)
        elif source not in _POD_SOURCES or bare.startswith(_POLICY_LABELS_PREFIX):
            self.unknown.append(key)
        elif bare == _NS_NAME_KEY or bare.startswith(_NS_LABELS_PREFIX):
            self.by_name |= bare == _NS_NAME_KEY
            self.by_labels |= bare != _NS_NAME_KEY
            ns_key = NS_NAME_LABEL if bare == _NS_NAME_KEY else bare[len(_NS_LABELS_PREFIX) :]
            self._add(self.ns, self.ns_reqs, ns_key, value, req)
        else:
            self._add(self.pods, self.pod_reqs, bare, value, req)

    @staticmethod
    def _add(labels: dict, reqs: list, key: str, value, req) -> None:
        if req is None:
            labels[key] = value
        else:
            reqs.append(Requirement(key, req.operator, req.values))

    @property
    def namespaces(self) -> Selector | None:
        return Selector.of(self.ns, self.ns_reqs) if self.by_name or self.by_labels else None


def _split(raw: Any, where: str) -> _Split:
    sel = compile_selector(as_mapping_or_empty(raw, where), where)
    out = _Split()
    for key in sel.written_keys:
        out.place(key, dict(sel.match_labels)[key], None)
    for req in sel.written_requirements:
        out.place(req.key, None, req)
    return out


def _endpoint_peer(raw: Any, where: str, ctx: _Context) -> Peer | None:
    """A ``fromEndpoints``/``toEndpoints`` entry as a peer; None: one flow logs cannot
    resolve (the reason noted)."""
    split = _split(raw, where)
    if split.reserved:
        entity = split.reserved[0]
        alone = not (split.pods or split.pod_reqs or split.ns or split.ns_reqs or split.unknown)
        if len(split.reserved) == 1 and alone and entity in ENTITIES:
            return Peer(entity=entity)
        ctx.note(f"{where}: reserved labels with other terms are not judged")
        return None
    if split.unknown:
        ctx.note(f"{where}: {', '.join(split.unknown)}: labels flow logs do not carry")
        return None
    if split.by_labels and not split.by_name and not ctx.cluster_scoped:
        ctx.note(
            f"{where}: io.cilium.k8s.namespace.labels in a CiliumNetworkPolicy: the docs "
            "say it is ignored, Cilium's parser selects every namespace with those labels "
            "(compiled as the parser does)"
        )
    return Peer(pods=Selector.of(split.pods, split.pod_reqs), namespaces=split.namespaces)


# --------------------------------------------------------------------------------------------
# Peers of the other kinds
# --------------------------------------------------------------------------------------------


def _network(text: Any, where: str):
    if not isinstance(text, str):
        raise fail(where, f"invalid CIDR {text!r}")
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise fail(where, f"invalid CIDR {text!r}: {exc}") from None


def _cidr_set_peer(raw: Any, where: str, ctx: _Context) -> Peer | None:
    entry = as_mapping_or_empty(raw, where)
    check_keys(entry, ("cidr", "except", "cidrGroupRef", "cidrGroupSelector"), where)
    if "cidr" not in entry:
        ctx.note(f"{where}: CIDR groups are not resolved")
        return None
    network = _network(entry["cidr"], f"{where}.cidr")
    excepts = []
    for i, text in enumerate(as_list(entry.get("except"), f"{where}.except")):
        ex = _network(text, f"{where}.except[{i}]")
        if ex.version != network.version or not ex.subnet_of(network):  # type: ignore[arg-type]
            raise fail(f"{where}.except[{i}]", f"{text!r} is not inside {entry['cidr']!r}")
        excepts.append(ex)
    written = (entry["cidr"], *as_list(entry.get("except"), f"{where}.except"))
    return Peer(block=IPBlock(network, tuple(excepts), written))


def _entity_peer(raw: Any, where: str, ctx: _Context) -> Peer | None:
    if raw == "none":
        return None  # selects nothing
    if raw not in ENTITIES:
        raise fail(where, f"unknown entity {raw!r}")
    return Peer(entity=raw)


def _fqdn_peer(raw: Any, where: str, ctx: _Context) -> Peer:
    entry = as_mapping_or_empty(raw, where)
    check_keys(entry, ("matchName", "matchPattern"), where)
    name, pattern = entry.get("matchName"), entry.get("matchPattern")
    if (name is None) == (pattern is None) or not isinstance(name or pattern, str):
        raise fail(where, "needs exactly one of matchName or matchPattern, a string")
    text = (name or pattern).lower().rstrip(".")
    return Peer(fqdn=FQDNMatch(name=text) if name is not None else FQDNMatch(pattern=text))


def _node_peer(raw: Any, where: str, ctx: _Context) -> Peer:
    ctx.note(f"{where}: node labels are not in flow logs")
    return Peer(nodes=compile_selector(as_mapping_or_empty(raw, where), where))


def _unresolved(raw: Any, where: str, ctx: _Context) -> None:
    ctx.note(f"{where}: service and cloud-group peers are not resolved from flow logs")
    return None


_PEERS = {
    "Endpoints": _endpoint_peer,
    "CIDR": lambda raw, where, ctx: Peer(block=IPBlock(_network(raw, where), (), (raw,))),
    "CIDRSet": _cidr_set_peer,
    "Entities": _entity_peer,
    "FQDNs": _fqdn_peer,
    "Nodes": _node_peer,
    "Services": _unresolved,
    "Groups": _unresolved,
}


def _peers(rule: Mapping, direction: str, where: str, ctx: _Context) -> tuple[Peer, ...] | None:
    """The rule's peers; None: any peer (no L3 field, or one that cannot be resolved, whose
    matches the noted reason makes unjudged)."""
    prefix = _PREFIX[direction]
    present = [kind for kind in _L3 if rule.get(prefix + kind) is not None]
    kinds = {("CIDR" if k == "CIDRSet" else k) for k in present}
    if len(kinds) > 1:
        first, second = (prefix + k for k in present[:2])
        raise fail(where, f"combining {first} and {second} in one rule is not supported")
    if not present:
        return None
    peers: list[Peer] = []
    resolved = True
    for kind in present:
        key = prefix + kind
        for i, raw in enumerate(as_list(rule[key], f"{where}.{key}")):
            before = len(ctx.reasons)
            peer = _PEERS[kind](raw, f"{where}.{key}[{i}]", ctx)
            if peer is not None:
                peers.append(peer)
            elif len(ctx.reasons) > before:
                resolved = False
    return tuple(dict.fromkeys(peers)) if resolved else None


# --------------------------------------------------------------------------------------------
# Ports
# --------------------------------------------------------------------------------------------


def _port_numbers(entry: Mapping, where: str) -> tuple[int | None, int | None, str | None]:
    """(start, end, name) of a PortProtocol; start None: every port."""
    port, end = entry.get("port"), entry.get("endPort")
    text = str(port).strip() if port is not None else "0"
    if not text.isdigit():
        if end is not None:
            raise fail(f"{where}.endPort", f"cannot be used with the named port {text!r}")
        return None, None, text
    start = int(text)
    if start > 65535:
        raise fail(f"{where}.port", f"{start} is outside 0-65535")
    if end is None or end == 0:
        return (start or None), (start or None), None
    if isinstance(end, bool) or not isinstance(end, int) or not start <= end <= 65535:
        raise fail(f"{where}.endPort", f"{end!r} must be a port from {start} to 65535")
    return start, end, None


def _port_matches(entry: Any, where: str, ctx: _Context) -> list[PortMatch]:
    entry = as_mapping_or_empty(entry, where)
    check_keys(entry, ("port", "endPort", "protocol"), where)
    start, end, name = _port_numbers(entry, where)
    protocol = entry.get("protocol") or "ANY"
    if protocol == "ANY":
        protocols: Sequence[str] = _PROTOCOLS
    elif protocol in _PROTOCOLS:
        protocols = (protocol,)
    elif isinstance(protocol, str) and protocol.isupper():
        ctx.note(f"{where}.protocol: {protocol} is outside the L3/L4 subset")
        protocols = (protocol,)
    else:
        raise fail(f"{where}.protocol", f"unknown protocol {protocol!r}")
    return [
        PortMatch(p, start, end, name, written_as_range=entry.get("endPort") is not None)
        for p in protocols
    ]


def _l7_reasons(port_rule: Mapping, matches: list[PortMatch], where: str, ctx: _Context) -> None:
    """Name what a port rule says beyond L4: DNS rules on port 53 only steer lookups
    through the DNS proxy (the connection is judged); anything else is not judged."""
    for key in ("serverNames", "listener", "originatingTLS", "terminatingTLS"):
        if port_rule.get(key):
            ctx.note(f"{where}.{key}: TLS and listener redirection are not judged")
    rules = as_mapping_or_empty(port_rule.get("rules"), f"{where}.rules")
    for kind, entries in rules.items():
        if not entries:
            continue
        dns_port = matches and all(m.start == m.end == _DNS_PORT for m in matches)
        if kind == "dns" and dns_port:
            continue
        ctx.note(f"{where}.rules.{kind}: L7 rules allow only the requests they match")


def _ports(rule: Mapping, where: str, ctx: _Context) -> tuple[PortMatch, ...] | None:
    out: list[PortMatch] = []
    for i, raw in enumerate(as_list(rule.get("toPorts"), f"{where}.toPorts")):
        pwhere = f"{where}.toPorts[{i}]"
        port_rule = as_mapping_or_empty(raw, pwhere)
        keys = ("ports", "rules", "serverNames", "listener", "originatingTLS", "terminatingTLS")
        check_keys(port_rule, keys, pwhere)
        matches = [
            m
            for j, p in enumerate(as_list(port_rule.get("ports"), f"{pwhere}.ports"))
            for m in _port_matches(p, f"{pwhere}.ports[{j}]", ctx)
        ]
        _l7_reasons(port_rule, matches, pwhere, ctx)
        out += matches or [PortMatch(p) for p in _PROTOCOLS]
    for i, _entry in enumerate(as_list(rule.get("icmps"), f"{where}.icmps")):
        ctx.note(f"{where}.icmps[{i}]: ICMP types are not judged")
        out += [PortMatch("ICMP"), PortMatch("ICMPv6")]
    return tuple(dict.fromkeys(out)) or None


# --------------------------------------------------------------------------------------------
# Rules and policies
# --------------------------------------------------------------------------------------------


def _compile_rule(
    raw: Any, direction: str, index: int, action: Action, where: str, cluster_scoped: bool
) -> Rule | None:
    """One rule; None when it admits no peer (``{}``, or an L3 field selecting nothing)."""
    rule = as_mapping_or_empty(raw, where)
    prefix = _PREFIX[direction]
    allowed = [prefix + k for k in (*_L3, "Requires")] + list(_OTHER_KEYS[:3])
    check_keys(rule, allowed, where)
    ctx = _Context(where, cluster_scoped)
    if rule.get(prefix + "Requires"):
        ctx.note(f"{where}.{prefix}Requires: narrows every rule of the subject; not judged")
    if rule.get("authentication"):
        ctx.note(f"{where}.authentication: mutual authentication is not in flow logs")
    peers = _peers(rule, direction, where, ctx)
    ports = _ports(rule, where, ctx)
    has_l3 = any(rule.get(prefix + k) is not None for k in _L3)
    if peers == () or (not has_l3 and ports is None):
        return None
    return Rule(direction, index, peers, ports, action, "; ".join(ctx.reasons))


@dataclass
class _Spec:
    name: str
    namespace: str | None
    kind: str
    where: str


def _subject(spec: Mapping, ident: _Spec) -> tuple[Selector, Selector | None]:
    """The pods the spec applies to, and for a CCNP the namespaces they may be in. Terms
    flow logs cannot judge are refused: compiled without them the subject would select, and
    isolate, pods the policy does not."""
    where = f"{ident.where}.endpointSelector"
    if spec.get("nodeSelector") is not None:
        raise fail(f"{ident.where}.nodeSelector", "host policies (nodes as subjects) are not read")
    if spec.get("endpointSelector") is None:
        raise fail(where, "is required")
    split = _split(spec["endpointSelector"], where)
    if split.reserved or split.unknown:
        terms = ", ".join([f"reserved:{r}" for r in split.reserved] + split.unknown)
        raise fail(where, f"{terms}: selects by labels flow logs do not carry")
    pods = Selector.of(split.pods, split.pod_reqs)
    if ident.namespace is None:
        return pods, split.namespaces
    if split.by_labels:
        raise fail(where, "namespace labels in a namespaced policy's subject are not read")
    if split.by_name and not split.namespaces.matches({NS_NAME_LABEL: ident.namespace}):
        raise fail(where, f"selects another namespace than the policy's ({ident.namespace})")
    return pods, None


def _default_deny(spec: Mapping, direction: str, has_rules: bool, where: str) -> bool:
    raw = as_mapping_or_empty(spec.get("enableDefaultDeny"), f"{where}.enableDefaultDeny")
    value = raw.get(direction)
    if value is None:
        return has_rules
    if not isinstance(value, bool):
        raise fail(f"{where}.enableDefaultDeny.{direction}", f"must be a boolean: {value!r}")
    return value


def _requires_notes(spec: Mapping, where: str) -> tuple[str, ...]:
    """``fromRequires``/``toRequires`` narrow every rule of every policy selecting the same
    pods (layer3.rst "Additional Label Requirements"), beyond the rule that carries them."""
    return tuple(
        f"{where}.{key}[{i}].{_PREFIX[direction]}Requires: narrows every rule selecting "
        "these pods; verdicts on them are not exact"
        for direction in DIRECTIONS
        for key in (direction, direction + "Deny")
        for i, rule in enumerate(as_list(spec.get(key), f"{where}.{key}"))
        if isinstance(rule, Mapping) and rule.get(_PREFIX[direction] + "Requires")
    )


def _compile_spec(spec: Any, ident: _Spec) -> list[Policy]:
    spec = as_mapping_or_empty(spec, ident.where)
    check_keys(spec, _SPEC_KEYS, ident.where)
    subject, namespaces = _subject(spec, ident)
    cluster = ident.namespace is None
    compiled: dict[tuple[str, Action], list[Rule]] = {}
    isolated: dict[str, bool] = {}
    for direction in DIRECTIONS:
        written = False
        for action, key in ((Action.ALLOW, direction), (Action.DENY, direction + "Deny")):
            raws = as_list(spec.get(key), f"{ident.where}.{key}")
            written |= bool(raws)
            rules = [
                _compile_rule(r, direction, i, action, f"{ident.where}.{key}[{i}]", cluster)
                for i, r in enumerate(raws)
            ]
            compiled[direction, action] = [r for r in rules if r is not None]
        isolated[direction] = _default_deny(spec, direction, written, ident.where)

    def policy(tier: Tier, isolates: tuple[str, ...], action: Action) -> Policy:
        rules = tuple(r for d in isolates for r in compiled[d, action])
        return Policy(
            ident.name,
            ident.namespace,
            subject,
            isolates,
            rules,
            tier=tier,
            kind=ident.kind,
            namespaces=namespaces,
            unjudged=_requires_notes(spec, ident.where),
        )

    out = [policy(NETWORK_POLICY_TIER, tuple(d for d in DIRECTIONS if isolated[d]), Action.ALLOW)]
    allow_only = tuple(d for d in DIRECTIONS if not isolated[d] and compiled[d, Action.ALLOW])
    if allow_only:
        out.append(policy(CILIUM_ALLOW_ONLY_TIER, allow_only, Action.ALLOW))
    denies = tuple(d for d in DIRECTIONS if compiled[d, Action.DENY])
    if denies:
        out.append(policy(CILIUM_DENY_TIER, denies, Action.DENY))
    return out


def _identity(obj: Mapping) -> tuple[str, str | None, str]:
    """(kind, namespace or None, name), the apiVersion and kind checked."""
    kind = obj.get("kind")
    if (obj.get("apiVersion"), kind) not in KINDS:
        raise PolicyError(f"{obj.get('apiVersion')!r} {kind!r}: not a Cilium policy kind")
    meta = as_mapping_or_empty(obj.get("metadata"), f"{kind}: metadata")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise fail(f"{kind}: metadata.name", "is required")
    if kind == CCNP_KIND:
        return kind, None, name
    namespace = meta.get("namespace") or "default"
    if not isinstance(namespace, str):
        raise fail(f"{name}: metadata.namespace", f"must be a string: {namespace!r}")
    return kind, namespace, name


def compile_object(obj: Mapping) -> list[Policy]:
    """One CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy as policies: per spec (``spec``,
    then each of ``specs``, named ``<name> specs[i]``) the allow part, and a deny part when it
    has deny rules. :class:`PolicyError` names the object and the field it refuses."""
    obj = as_mapping_or_empty(obj, "policy")
    kind, namespace, name = _identity(obj)
    key = name if namespace is None else f"{namespace}/{name}"
    check_keys(obj, ("apiVersion", "kind", "metadata", "spec", "specs", "status"), key)
    specs = [(name, f"{key}: spec", obj["spec"])] if obj.get("spec") is not None else []
    specs += [
        (f"{name} specs[{i}]", f"{key}: specs[{i}]", s)
        for i, s in enumerate(as_list(obj.get("specs"), f"{key}: specs"))
    ]
    if not specs:
        raise fail(f"{key}: spec", "is required (spec or specs)")
    return [
        policy
        for spec_name, where, spec in specs
        for policy in _compile_spec(spec, _Spec(spec_name, namespace, kind, where))
    ]
