"""The Calico reader: ``projectcalico.org/v3`` policies -> :class:`Policy`.

Kinds: NetworkPolicy, GlobalNetworkPolicy and their staged forms (StagedNetworkPolicy,
StagedGlobalNetworkPolicy, judged as if enforced and named ``staged:<name>``;
``stagedAction`` other than ``Set`` enforces nothing, so it compiles to no policy). With
:func:`compile_objects`, Tier, NetworkSet and GlobalNetworkSet objects given beside them are
used too. (StagedKubernetesNetworkPolicy is a NetworkPolicy spec: :mod:`.networkpolicy`.)

Semantics, from Calico's reference (docs.tigera.io/calico/latest/reference/resources/:
networkpolicy, globalnetworkpolicy, tier, and the felix policy sorter):

* Selectors are Calico expressions (:mod:`.calico_selector`); one that is an OR of several
  conjunctions becomes several peers, and a subject of several becomes several policies
  named ``<name>#1``, ``<name>#2``, ... with the same rules.
* Scope: a NetworkPolicy's selector and its rules' selectors mean endpoints of its own
  namespace unless a rule gives ``namespaceSelector``; a GlobalNetworkPolicy's mean every
  namespace (its ``spec.namespaceSelector`` narrows its subject). Calico's own labels are
  read for what they are: ``projectcalico.org/namespace`` on an endpoint is its namespace's
  name, ``pcns.<key>`` its namespace's label ``<key>``, ``projectcalico.org/name`` on a
  namespace its name. Host endpoints have no labels in flow logs: a GlobalNetworkPolicy is
  judged for pods only.
* ``types`` defaults as the reference's table says: the directions that have rules, and
  Ingress when neither has.
* Precedence: the policy's tier (``spec.tier``, default ``default``) then ``order`` (none:
  after every ordered policy, as felix sorts a missing order as +infinity), then name. The
  ``default`` tier is the model's :data:`NETWORK_POLICY_TIER` (Calico puts Kubernetes
  NetworkPolicies in it), ``kube-admin`` and ``kube-baseline`` are the AdminNetworkPolicy
  tiers; another tier takes its Tier object's ``order`` (none: last) and ``defaultAction``.
* Actions: Allow, Deny, Pass as the model's; ``Log`` logs and goes on, so it decides
  nothing and is skipped (with a note).
* What the model cannot state exactly is dropped, which only broadens the rule, and the
  rule is marked unjudged with the reason: ``notSelector``, ``notPorts``, ``notProtocol``,
  source ports, ``serviceAccounts``, ``services``, ``http``, ``icmp``/``notICMP``,
  ``ipVersion``, protocols without ports (ICMP, ...), criteria on the policy's own side
  (an ingress rule's ``destination.selector``), ``contains``/``starts with``/``ends with``.
* Network sets: a rule selector also selects the network sets in its scope by their labels;
  :func:`compile_objects` resolves them into peers of their ``nets`` (and notes which).
  Without the sets, selectors are judged on pods only.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .calico_selector import Dnf, SelectorError, compile_expression, conjoin
from .fields import as_list, as_mapping, check_keys, fail
from .model import (
    ADMIN_TIER,
    BASELINE_TIER,
    DIRECTIONS,
    NETWORK_POLICY_TIER,
    NS_NAME_LABEL,
    Action,
    IPBlock,
    Network,
    Peer,
    Policy,
    PortMatch,
    Requirement,
    Rule,
    Selector,
    Tier,
)

__all__ = [
    "API_VERSION",
    "KINDS",
    "SET_KINDS",
    "NetworkSet",
    "compile_object",
    "compile_objects",
    "compile_tier",
    "compile_network_set",
]

API_VERSION = "projectcalico.org/v3"
_STAGED = ("StagedNetworkPolicy", "StagedGlobalNetworkPolicy")
_GLOBAL = ("GlobalNetworkPolicy", "StagedGlobalNetworkPolicy")
#: The policy kinds this reader compiles.
KINDS = frozenset(
    (API_VERSION, k)
    for k in ("NetworkPolicy", "GlobalNetworkPolicy", "StagedNetworkPolicy", *_STAGED[1:])
)
#: The other kinds :func:`compile_objects` takes: tiers and network sets.
SET_KINDS = frozenset((API_VERSION, k) for k in ("NetworkSet", "GlobalNetworkSet"))
_TIER_KIND = (API_VERSION, "Tier")

#: On an endpoint: the name of its namespace.
ENDPOINT_NAMESPACE_LABEL = "projectcalico.org/namespace"
#: On a namespace: its name.
NAMESPACE_NAME_LABEL = "projectcalico.org/name"
#: On an endpoint: its namespace's labels, prefixed.
NAMESPACE_LABEL_PREFIX = "pcns."
_UNKNOWN_PREFIXES = ("projectcalico.org/", "pcsa.")
_FIXED_TIERS = {"default": NETWORK_POLICY_TIER, "kube-admin": ADMIN_TIER}
_FIXED_TIERS["kube-baseline"] = BASELINE_TIER
_ACTIONS = {"Allow": Action.ALLOW, "Deny": Action.DENY, "Pass": Action.PASS}
_PORT_PROTOCOLS = ("TCP", "UDP", "SCTP")
_PROTOCOLS = {p.lower(): p for p in (*_PORT_PROTOCOLS, "ICMP", "ICMPv6", "UDPLite")}
_PROTOCOL_NUMBERS = {6: "TCP", 17: "UDP", 132: "SCTP"}
_SPEC_KEYS = ("order", "tier", "selector", "serviceAccountSelector", "types", "ingress")
_SPEC_KEYS += ("egress", "performanceHints")
_GLOBAL_SPEC_KEYS = ("namespaceSelector", "doNotTrack", "preDNAT", "applyOnForward")
_RULE_KEYS = ("action", "protocol", "notProtocol", "icmp", "notICMP", "ipVersion")
_RULE_KEYS += ("source", "destination", "http", "metadata")
_ENTITY_KEYS = ("nets", "notNets", "selector", "notSelector", "namespaceSelector", "ports")
_ENTITY_KEYS += ("notPorts", "serviceAccounts", "services")
_RULE_UNJUDGED = {
    "notProtocol": "a negative protocol match",
    "icmp": "ICMP type/code match",
    "notICMP": "a negative ICMP match",
    "ipVersion": "an IP version match (read as both versions)",
    "http": "an L7 HTTP match",
}
_REMOTE_UNJUDGED = {
    "notSelector": "a negative selector match",
    "notPorts": "a negative port match",
    "serviceAccounts": "service accounts are not in flow logs",
    "services": "Kubernetes Service match",
}
_MAX_PEERS = 256
_ALL_V4 = ipaddress.ip_network("0.0.0.0/0")
_ALL_V6 = ipaddress.ip_network("::/0")


@dataclass(frozen=True, slots=True)
class NetworkSet:
    """A NetworkSet (``namespace`` set) or GlobalNetworkSet: labels and addresses."""

    name: str
    namespace: str | None
    labels: Mapping[str, str]
    blocks: tuple[IPBlock, ...]

    @property
    def key(self) -> str:
        return self.name if self.namespace is None else f"{self.namespace}/{self.name}"


@dataclass
class _Context:
    """What compiling one policy object needs and collects."""

    label: str
    namespace: str | None  # None: a global policy
    tiers: Mapping[str, Tier]
    network_sets: Sequence[NetworkSet] | None
    notes: list[str]
    unjudged: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Field helpers
# --------------------------------------------------------------------------------------------


def _expression(text: Any, where: str) -> Dnf:
    if text is not None and not isinstance(text, str):
        raise fail(where, f"must be a selector string, got {type(text).__name__}")
    try:
        return compile_expression(text or "")
    except SelectorError as exc:
        raise fail(where, f"{exc}: {text!r}") from None


def _identity(obj: Mapping, position: int) -> tuple[str, str | None, str]:
    """(kind, namespace or None, name), validated."""
    kind = obj.get("kind")
    meta = as_mapping(obj.get("metadata") or {}, f"object #{position}: metadata")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise fail(f"{kind} #{position}: metadata.name", "is required")
    namespace = None
    if kind in ("NetworkPolicy", "StagedNetworkPolicy", "NetworkSet"):
        namespace = meta.get("namespace") or "default"
        if not isinstance(namespace, str):
            raise fail(f"{kind} {name}: metadata.namespace", f"must be a string: {namespace!r}")
    return kind, namespace, name


def _type_of(obj: Mapping) -> tuple[str, str]:
    """(apiVersion, kind) as text, whatever their type, for lookups and messages."""
    return str(obj.get("apiVersion")), str(obj.get("kind"))


def _label(kind: str, namespace: str | None, name: str) -> str:
    return f"{kind} {name if namespace is None else f'{namespace}/{name}'}"


# --------------------------------------------------------------------------------------------
# Tiers and network sets
# --------------------------------------------------------------------------------------------


def compile_tier(obj: Mapping) -> Tier:
    """A Tier object as a model :class:`Tier`: its ``order`` (none: after every ordered
    tier) and ``defaultAction`` (Deny unless Pass). The tiers Calico fixes (``default``,
    ``kube-admin``, ``kube-baseline``) must keep their documented values."""
    _, _, name = _identity(as_mapping(obj, "Tier"), 0)
    where = f"Tier {name}: spec"
    spec = as_mapping(obj.get("spec") or {}, where)
    check_keys(spec, ("order", "defaultAction"), where)
    order = spec.get("order")
    if order is not None and (isinstance(order, bool) or not isinstance(order, int | float)):
        raise fail(f"{where}.order", f"must be a number, got {order!r}")
    action = spec.get("defaultAction") or "Deny"
    if action not in ("Deny", "Pass"):
        raise fail(f"{where}.defaultAction", f"must be Deny or Pass, got {action!r}")
    tier = Tier(math.inf if order is None else float(order), name, action.lower())
    fixed = _FIXED_TIERS.get(name)
    if fixed is not None:
        if (order is not None and float(order) != fixed.order) or action.lower() != fixed.default:
            raise fail(
                where,
                f"Calico's {name} tier is order {fixed.order:g}, {fixed.default}: got "
                f"order {order}, {action}",
            )
        return fixed
    return tier


def _parse_net(text: Any, where: str) -> Network:
    if not isinstance(text, str):
        raise fail(where, f"must be a CIDR string, got {text!r}")
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise fail(where, f"invalid CIDR {text!r}: {exc}") from None


def compile_network_set(obj: Mapping) -> NetworkSet:
    """A NetworkSet or GlobalNetworkSet: its labels and ``nets``."""
    kind, namespace, name = _identity(as_mapping(obj, "network set"), 0)
    where = f"{_label(kind, namespace, name)}: spec"
    spec = as_mapping(obj.get("spec") or {}, where)
    check_keys(spec, ("nets", "allowedEgressDomains"), where)
    if spec.get("allowedEgressDomains"):
        raise fail(f"{where}.allowedEgressDomains", "domain sets are not in the model")
    labels = as_mapping(
        obj["metadata"].get("labels") or {}, f"{_label(kind, namespace, name)}: metadata.labels"
    )
    nets = as_list(spec.get("nets"), f"{where}.nets")
    blocks = tuple(
        IPBlock(_parse_net(n, f"{where}.nets[{i}]"), written=(n,)) for i, n in enumerate(nets)
    )
    return NetworkSet(name, namespace, dict(labels), blocks)


# --------------------------------------------------------------------------------------------
# Selectors: pods, namespaces and network sets
# --------------------------------------------------------------------------------------------


def _requirements(sel: Selector) -> list[Requirement]:
    out = [Requirement(k, "In", (v,)) for k, v in sel.match_labels]
    return out + list(sel.requirements)


def _selector(reqs: Iterable[Requirement]) -> Selector:
    reqs = list(reqs)
    labels = {r.key: r.values[0] for r in reqs if r.operator == "In" and len(r.values) == 1}
    return Selector.of(labels, [r for r in reqs if r.key not in labels])


def _split_endpoint_term(term: Selector, reasons: list[str]) -> tuple[Selector, Selector]:
    """An endpoint selector term as (pod labels part, namespace labels part), Calico's own
    endpoint labels moved to the namespace part under the namespace label they stand for."""
    pods: list[Requirement] = []
    namespaces: list[Requirement] = []
    for req in _requirements(term):
        if req.key == ENDPOINT_NAMESPACE_LABEL:
            namespaces.append(Requirement(NS_NAME_LABEL, req.operator, req.values))
        elif req.key.startswith(NAMESPACE_LABEL_PREFIX):
            key = req.key[len(NAMESPACE_LABEL_PREFIX) :]
            namespaces.append(Requirement(key, req.operator, req.values))
        elif req.key.startswith(_UNKNOWN_PREFIXES):
            reasons.append(f"label {req.key} is not in flow logs (read as any value)")
        else:
            pods.append(req)
    return _selector(pods), _selector(namespaces)


def _namespace_term(term: Selector, reasons: list[str]) -> Selector:
    """A namespaceSelector term with ``projectcalico.org/name`` read as the name label."""
    out = []
    for req in _requirements(term):
        if req.key == NAMESPACE_NAME_LABEL:
            out.append(Requirement(NS_NAME_LABEL, req.operator, req.values))
        elif req.key.startswith(_UNKNOWN_PREFIXES):
            reasons.append(f"namespace label {req.key} is not known (read as any value)")
        else:
            out.append(req)
    return _selector(out)


def _namespace_terms(raw: Any, where: str, reasons: list[str]) -> list[Selector] | None:
    """A ``namespaceSelector``'s terms; None when it is exactly ``global()`` (the scope of
    non-namespaced resources: global network sets, host endpoints)."""
    dnf = _expression(raw, where)
    reasons.extend(f"{where}: {a}" for a in dnf.approximations)
    if dnf.uses_global:
        if raw.strip() == "global()":
            return None
        reasons.append(f"{where}: global() inside a larger expression (read as all())")
    return [_namespace_term(t, reasons) for t in dnf.terms]


@dataclass(frozen=True, slots=True)
class _Scope:
    """Where a rule's selector looks: the namespace terms (None: every namespace),
    and whether it is the global scope only (``namespaceSelector: global()``)."""

    namespaces: tuple[Selector, ...] | None
    global_only: bool = False
    given: bool = False


def _scope(entity: Mapping, ctx: _Context, where: str, reasons: list[str]) -> _Scope:
    raw = entity.get("namespaceSelector")
    if raw is not None:
        terms = _namespace_terms(raw, f"{where}.namespaceSelector", reasons)
        if terms is None:
            return _Scope((), global_only=True, given=True)
        return _Scope(tuple(terms), given=True)
    if ctx.namespace is not None:
        return _Scope((Selector.of({NS_NAME_LABEL: ctx.namespace}),))
    return _Scope(None)


def _pod_peers(dnf: Dnf, scope: _Scope, ctx: _Context, reasons: list[str]) -> list[Peer]:
    own = Selector.of({NS_NAME_LABEL: ctx.namespace}) if ctx.namespace else None
    peers: list[Peer] = []
    for term in dnf.terms:
        pods, ns_part = _split_endpoint_term(term, reasons)
        for ns_term in scope.namespaces if scope.namespaces is not None else (None,):
            parts = [s for s in (ns_term, ns_part) if s is not None]
            namespaces = conjoin(*parts) if parts else None
            if parts and namespaces is None:
                continue  # contradictory: no namespace matches
            if namespaces is not None and namespaces.matches_all:
                namespaces = None if ctx.namespace is None else namespaces
            if namespaces == own and not scope.given:
                namespaces = None  # the policy's own namespace
            peers.append(Peer(pods=pods, namespaces=namespaces))
    return peers


def _set_in_scope(net_set: NetworkSet, scope: _Scope, ctx: _Context, reasons: list[str]) -> bool:
    """Whether a rule selector's scope holds the set: a NetworkPolicy's own namespace, a
    GlobalNetworkPolicy's every set, ``global()`` the global sets, else the namespaces the
    ``namespaceSelector`` picks."""
    if net_set.namespace is None:
        return scope.global_only or (ctx.namespace is None and not scope.given)
    if scope.global_only:
        return False
    if not scope.given:
        return ctx.namespace is None or net_set.namespace == ctx.namespace
    name_only = {NS_NAME_LABEL: net_set.namespace}
    if any(k != NS_NAME_LABEL for t in scope.namespaces or () for k, _ in t.keys_and_values()):
        reasons.append(
            f"network set {net_set.key}: its namespace's labels are not known "
            "(namespaceSelector judged on the namespace name alone)"
        )
    return any(t.matches(name_only) for t in scope.namespaces or ())


def _set_blocks(dnf: Dnf, scope: _Scope, ctx: _Context, where: str, reasons: list[str]):
    """The nets of the network sets the selector selects in its scope."""
    blocks: list[IPBlock] = []
    for net_set in ctx.network_sets or ():
        if not _set_in_scope(net_set, scope, ctx, reasons):
            continue
        labels = dict(net_set.labels)
        if net_set.namespace is not None:
            labels[ENDPOINT_NAMESPACE_LABEL] = net_set.namespace
        if any(t.matches(labels) for t in dnf.terms):
            ctx.notes.append(
                f"{where}: selects network set {net_set.key}: "
                f"{', '.join(b.cidr_text for b in net_set.blocks) or 'no nets'}"
            )
            blocks.extend(net_set.blocks)
    return blocks


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


def _blocks(entity: Mapping, where: str) -> list[IPBlock] | None:
    """``nets`` minus ``notNets`` as blocks; None when the entity has neither."""
    nets = [
        _parse_net(n, f"{where}.nets[{i}]")
        for i, n in enumerate(as_list(entity.get("nets"), f"{where}.nets"))
    ]
    raw_not = as_list(entity.get("notNets"), f"{where}.notNets")
    not_nets = [_parse_net(n, f"{where}.notNets[{i}]") for i, n in enumerate(raw_not)]
    if not nets and not not_nets:
        return None
    out = []
    for net in nets or [_ALL_V4, _ALL_V6]:
        same = [n for n in not_nets if n.version == net.version]
        if any(net.subnet_of(n) for n in same):  # type: ignore[arg-type]
            continue  # every address of the net is excluded
        excepts = tuple(sorted({n for n in same if n.subnet_of(net)}))  # type: ignore[arg-type]
        out.append(IPBlock(net, excepts))
    return out


def _peers(entity: Mapping, ctx: _Context, where: str, reasons: list[str]):
    """The remote side of a rule as peers: None (any peer) or a tuple, empty when it can
    match nothing."""
    for key, why in _REMOTE_UNJUDGED.items():
        if entity.get(key):
            reasons.append(f"{where}.{key}: {why}")
    blocks = _blocks(entity, where)
    if entity.get("selector") is None and entity.get("namespaceSelector") is None:
        return None if blocks is None else tuple(Peer(block=b) for b in blocks)
    dnf = _expression(entity.get("selector"), f"{where}.selector")
    reasons.extend(f"{where}.selector: {a}" for a in dnf.approximations)
    scope = _scope(entity, ctx, where, reasons)
    pods = [] if scope.global_only else _pod_peers(dnf, scope, ctx, reasons)
    set_blocks = _set_blocks(dnf, scope, ctx, where, reasons)
    if blocks is None:
        peers = [*pods, *(Peer(block=b) for b in set_blocks)]
    else:
        peers = [Peer(pods=p.pods, namespaces=p.namespaces, block=b) for b in blocks for p in pods]
        if set_blocks:
            reasons.append(f"{where}: nets together with network sets (read as either)")
            peers += [Peer(block=b) for b in set_blocks]
    if len(peers) > _MAX_PEERS:
        raise fail(where, f"expands to {len(peers)} peers (more than {_MAX_PEERS})")
    return tuple(dict.fromkeys(peers))


def _protocol(rule: Mapping, where: str, reasons: list[str]) -> str | None:
    raw = rule.get("protocol")
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        if not 1 <= raw <= 255:
            raise fail(f"{where}.protocol", f"{raw} is outside 1-255")
        protocol = _PROTOCOL_NUMBERS.get(raw, str(raw))
    elif isinstance(raw, str) and raw.lower() in _PROTOCOLS:
        protocol = _PROTOCOLS[raw.lower()]
    else:
        raise fail(f"{where}.protocol", f"unknown protocol {raw!r}")
    if protocol not in _PORT_PROTOCOLS:
        reasons.append(f"{where}.protocol: {protocol} (the model matches TCP, UDP, SCTP only)")
    return protocol


def _port(value: Any, protocol: str, where: str) -> PortMatch:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise fail(where, f"must be a port number, range or name, got {value!r}")
    text = str(value).strip()
    if text.isdigit() or (":" in text and text.replace(":", "", 1).isdigit()):
        lo, _, hi = text.partition(":")
        start, end = int(lo), int(hi or lo)
        if not 0 <= start <= end <= 65535:
            raise fail(where, f"{value!r} is not a port range within 0-65535")
        return PortMatch(protocol, start, end, written_as_range=bool(hi))
    if not text or ":" in text:
        raise fail(where, f"{value!r} is not a port number, range or name")
    return PortMatch(protocol, name=text)


def _ports(rule: Mapping, protocol: str | None, where: str):
    """The destination ports as PortMatches; None: every port and protocol."""
    dest = rule.get("destination") or {}
    values = as_list(dest.get("ports"), f"{where}.destination.ports")
    if values and protocol not in _PORT_PROTOCOLS:
        raise fail(f"{where}.destination.ports", "need protocol TCP, UDP or SCTP")
    if values:
        return tuple(
            _port(v, protocol, f"{where}.destination.ports[{i}]") for i, v in enumerate(values)
        )
    return (PortMatch(protocol),) if protocol in _PORT_PROTOCOLS else None


def _local_reasons(entity: Mapping, where: str) -> list[str]:
    """Criteria on the policy's own side of the rule: they narrow its own endpoints."""
    return [
        f"{where}.{key}: narrows the policy's own endpoints (not compiled)"
        for key in _ENTITY_KEYS
        if key != "ports" and entity.get(key)
    ]


def _compile_rule(raw: Any, direction: str, index: int, ctx: _Context) -> Rule | None:
    where = f"{ctx.label}: spec.{direction}[{index}]"
    rule = as_mapping(raw, where)
    check_keys(rule, _RULE_KEYS, where)
    action = rule.get("action")
    if action == "Log":
        ctx.notes.append(f"{where}: action Log decides nothing: skipped")
        return None
    if not isinstance(action, str) or action not in _ACTIONS:
        raise fail(f"{where}.action", f"must be Allow, Deny, Pass or Log, got {action!r}")
    reasons = [f"{where}.{k}: {why}" for k, why in _RULE_UNJUDGED.items() if rule.get(k)]
    entities = {}
    for side in ("source", "destination"):
        entities[side] = as_mapping(rule.get(side) or {}, f"{where}.{side}")
        check_keys(entities[side], _ENTITY_KEYS, f"{where}.{side}")
    remote, local = (
        ("source", "destination") if direction == "ingress" else ("destination", "source")
    )
    reasons += _local_reasons(entities[local], f"{where}.{local}")
    if entities["source"].get("ports"):
        reasons.append(f"{where}.source.ports: source ports are not in the model")
    protocol = _protocol(rule, where, reasons)
    ports = _ports(rule, protocol, where)
    peers = _peers(entities[remote], ctx, f"{where}.{remote}", reasons)
    if peers == ():
        ctx.notes.append(f"{where}: matches no peer: skipped")
        return None
    return Rule(direction, index, peers, ports, _ACTIONS[action], "; ".join(reasons))


# --------------------------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------------------------


def _types(spec: Mapping, where: str) -> tuple[str, ...]:
    """The directions the policy applies to: ``types``, or by default those with rules
    (Ingress when neither has), as the reference's table says."""
    explicit = as_list(spec.get("types"), f"{where}.types")
    for t in explicit:
        if t not in ("Ingress", "Egress"):
            raise fail(f"{where}.types", f"unknown type {t!r} (Ingress or Egress)")
    if explicit:
        return tuple(d for d in DIRECTIONS if d.capitalize() in explicit)
    present = tuple(d for d in DIRECTIONS if spec.get(d))
    return present or ("ingress",)


def _tier(spec: Mapping, ctx: _Context, where: str) -> Tier:
    name = spec.get("tier") or "default"
    if not isinstance(name, str):
        raise fail(f"{where}.tier", f"must be a string, got {name!r}")
    if name in _FIXED_TIERS:
        return _FIXED_TIERS[name]
    if name in ctx.tiers:
        return ctx.tiers[name]
    ctx.unjudged.append(f"{where}.tier: Tier {name} not given: its order is unknown")
    return Tier(math.inf, name, "deny")


def _order(spec: Mapping, where: str) -> float:
    order = spec.get("order")
    if order is None:
        return math.inf
    if isinstance(order, bool) or not isinstance(order, int | float):
        raise fail(f"{where}.order", f"must be a number, got {order!r}")
    return float(order)


def _subject_terms(spec: Mapping, ctx: _Context, where: str) -> list[tuple[Selector, Any]]:
    """(subject, namespaces) per OR term of the policy's selector."""
    reasons: list[str] = []
    dnf = _expression(spec.get("selector"), f"{where}.selector")
    reasons += [f"{where}.selector: {a}" for a in dnf.approximations]
    sa = spec.get("serviceAccountSelector")
    if sa is not None and not _expression(sa, f"{where}.serviceAccountSelector").matches_all:
        reasons.append(f"{where}.serviceAccountSelector: service accounts are not in flow logs")
    scope: list[Selector | None] = [None]
    if ctx.namespace is None and spec.get("namespaceSelector") is not None:
        terms = _namespace_terms(spec["namespaceSelector"], f"{where}.namespaceSelector", reasons)
        scope = list(terms) if terms is not None else []
    out: list[tuple[Selector, Any]] = []
    for term in dnf.terms:
        pods, ns_part = _split_endpoint_term(term, reasons)
        if ctx.namespace is not None:
            if any(k != NS_NAME_LABEL for k, _ in ns_part.keys_and_values()):
                reasons.append(f"{where}.selector: labels of the policy's namespace are not known")
            elif not ns_part.matches({NS_NAME_LABEL: ctx.namespace}):
                continue  # the policy's namespace is not the one named
            out.append((pods, None))
            continue
        for ns_term in scope:
            namespaces = conjoin(*(s for s in (ns_term, ns_part) if s is not None))
            if namespaces is not None:
                out.append((pods, None if namespaces.matches_all else namespaces))
    ctx.unjudged.extend(dict.fromkeys(reasons))
    return list(dict.fromkeys(out))


def _staged_action(kind: str, spec: Mapping, where: str) -> str:
    action = spec.get("stagedAction") or "Set"
    if kind not in _STAGED:
        return "Set"  # _spec refuses the field on enforced kinds
    if action not in ("Set", "Delete", "Learn", "Ignore"):
        raise fail(f"{where}.stagedAction", f"unknown action {action!r}")
    return action


def _spec(obj: Mapping, kind: str, where: str) -> Mapping:
    spec = as_mapping(obj.get("spec") or {}, where)
    allowed = _SPEC_KEYS + (_GLOBAL_SPEC_KEYS if kind in _GLOBAL else ())
    check_keys(spec, allowed + (("stagedAction",) if kind in _STAGED else ()), where)
    for key in ("doNotTrack", "preDNAT"):
        if spec.get(key):
            raise fail(f"{where}.{key}", "applies to host endpoints only, outside the model")
    return spec


def _tainted(rule: Rule, reasons: Sequence[str]) -> Rule:
    return replace(rule, unjudged="; ".join(r for r in (rule.unjudged, *reasons) if r))


def compile_object(
    obj: Mapping,
    *,
    tiers: Mapping[str, Tier] | None = None,
    network_sets: Sequence[NetworkSet] | None = None,
    notes: list[str] | None = None,
    position: int = 0,
) -> list[Policy]:
    """One Calico policy object as :class:`Policy` s (several when its selector is an OR;
    none for a staged deletion or a selector that matches nothing). ``tiers`` and
    ``network_sets``: those given beside it (:func:`compile_tier`,
    :func:`compile_network_set`); ``notes`` collects what was skipped (Log rules, ...)."""
    obj = as_mapping(obj, f"object #{position}")
    ident = _type_of(obj)
    if ident not in KINDS:
        raise fail(f"object #{position}", f"{ident[0]} {ident[1]} is not a Calico policy")
    kind, namespace, name = _identity(obj, position)
    label = _label(kind, namespace, name)
    ctx = _Context(label, namespace, tiers or {}, network_sets, notes if notes is not None else [])
    where = f"{label}: spec"
    spec = _spec(obj, kind, where)
    if _staged_action(kind, spec, where) != "Set":
        ctx.notes.append(f"{where}.stagedAction: {spec['stagedAction']} enforces nothing")
        return []
    tier, priority = _tier(spec, ctx, where), _order(spec, where)
    isolates = _types(spec, where)
    rules: list[Rule] = []
    ignored = []
    for direction in DIRECTIONS:
        raw_rules = as_list(spec.get(direction), f"{where}.{direction}")
        compiled = [_compile_rule(r, direction, i, ctx) for i, r in enumerate(raw_rules)]
        if direction in isolates:
            rules += [r for r in compiled if r is not None]
        elif raw_rules:
            ignored.append(direction)
    subjects = _subject_terms(spec, ctx, where)
    if not subjects:
        ctx.notes.append(f"{where}.selector: selects no endpoint")
    if ctx.unjudged:  # the evaluator judges rules: what the policy cannot state taints each
        rules = [_tainted(r, ctx.unjudged) for r in rules]
    name = f"staged:{name}" if kind in _STAGED else name
    return [
        Policy(
            name if len(subjects) == 1 else f"{name}#{i}",
            namespace,
            subject,
            isolates,
            tuple(rules),
            tier=tier,
            priority=priority,  # type: ignore[arg-type]  # Calico orders are floats
            ignored=tuple(ignored),
            kind=f"{kind}.projectcalico.org",
            namespaces=namespaces,
            unjudged=tuple(ctx.unjudged),
        )
        for i, (subject, namespaces) in enumerate(subjects, 1)
    ]


def compile_objects(objs: Iterable[Any]) -> tuple[list[Policy], list[str]]:
    """Every Calico object at once: Tier and (Global)NetworkSet objects first, then every
    policy with them. Returns the policies and the notes (skipped rules, network sets a
    selector resolved to, staged deletions); :class:`PolicyError` for a malformed object,
    another kind, or two objects of the same kind and name."""
    objs = list(objs)
    tiers: dict[str, Tier] = {}
    sets: list[NetworkSet] = []
    policies: list[tuple[int, Mapping]] = []
    seen: set[tuple] = set()
    for position, obj in enumerate(objs):
        obj = as_mapping(obj, f"object #{position}")
        ident = _type_of(obj)
        if ident not in KINDS | SET_KINDS | {_TIER_KIND}:
            raise fail(f"object #{position}", f"{ident[0]} {ident[1]} is not a Calico kind")
        key = _identity(obj, position)
        if key in seen:
            raise fail(_label(*key), "duplicate object")
        seen.add(key)
        if ident == _TIER_KIND:
            tiers[key[2]] = compile_tier(obj)
        elif ident in SET_KINDS:
            sets.append(compile_network_set(obj))
        else:
            policies.append((position, obj))
    notes: list[str] = []
    out: list[Policy] = []
    for position, obj in policies:
        out += compile_object(obj, tiers=tiers, network_sets=sets, notes=notes, position=position)
    return out, notes
