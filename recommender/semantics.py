"""An exact, independent evaluator of Kubernetes ``networking.k8s.io/v1`` NetworkPolicy.

DESIGN.md section 4 is the contract. In short:

* A pod is *isolated* for a direction when some policy in **its own** namespace selects it
  (``spec.podSelector``) and has that direction in its effective ``policyTypes``
  (:func:`policy_types`). An isolated pod admits a connection when any rule of any selecting
  policy matches both the peer and the port.
* Pod-to-pod needs the source's egress **and** the destination's ingress. When one side is not a
  pod (``Endpoint.kind != "pod"``) only the pod's side is checked; no policy restricts a non-pod.
* Peers: ``podSelector`` alone means pods of the policy's namespace; ``namespaceSelector`` alone
  means every pod of the matching namespaces (never a bare IP); both in one peer are ANDed;
  separate peers are ORed; a missing or empty ``from``/``to`` admits everything, external IPs
  included. ``ipBlock`` is a CIDR minus ``except``; whether it also matches pods by their IP is the
  ``ipblock_matches_pods`` option (Calico and Cilium: yes).
* Ports: protocol defaults to TCP; ``endPort`` is inclusive; a named port resolves on the
  destination pod's container ports (for egress rules too), protocol included; a missing or
  empty ``ports`` admits every port and protocol, and is the only thing a port-less connection
  (ICMP, ``port=None``) can match.

Policies are validated and compiled once in :class:`Evaluator`; :meth:`Evaluator.evaluate` does
no parsing.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

__all__ = [
    "ContainerPort",
    "DirectionVerdict",
    "Endpoint",
    "Evaluator",
    "NS_NAME_LABEL",
    "POLICY_PROTOCOLS",
    "PolicyError",
    "RuleRef",
    "Verdict",
    "ip_in_block",
    "policy_types",
    "selector_matches",
]

#: The label every namespace carries since Kubernetes 1.22, equal to its name.
NS_NAME_LABEL = "kubernetes.io/metadata.name"
#: Protocols a NetworkPolicyPort may name.
POLICY_PROTOCOLS = ("TCP", "UDP", "SCTP")

_API_VERSION = "networking.k8s.io/v1"
_DIRECTIONS = ("ingress", "egress")
_TYPE_OF = {"ingress": "Ingress", "egress": "Egress"}
_PEER_KEY = {"ingress": "from", "egress": "to"}
# IANA_SVC_NAME, as Kubernetes validates container port names and named NetworkPolicy ports.
_SVC_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


# --------------------------------------------------------------------------------------------
# Public data types
# --------------------------------------------------------------------------------------------


class PolicyError(ValueError):
    """A NetworkPolicy object is malformed; the message names the policy and the field."""


@dataclass(frozen=True)
class ContainerPort:
    """A container port of a pod, for named-port resolution."""

    name: str | None
    port: int
    protocol: str = "TCP"


@dataclass(frozen=True)
class Endpoint:
    """One side of a connection."""

    #: "pod" (policy-selectable pod) or anything else ("external", "node", "unknown", ...):
    #: a bare IP outside pod policy.
    kind: str
    #: Canonical IP text; may be None for pods when not known.
    ip: str | None = None
    #: Pods only.
    namespace: str | None = None
    #: Pod labels (pods only).
    labels: Mapping[str, str] = field(default_factory=dict)
    #: Labels of the pod's namespace (pods only). When ``kubernetes.io/metadata.name`` is
    #: missing it is taken to equal ``namespace`` (the API server sets it since 1.22).
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    #: Container ports, for named-port resolution when this endpoint is the destination.
    ports: tuple[ContainerPort, ...] = ()
    #: Display name only (pod name / workload / ip).
    name: str | None = None
    #: Non-pods only: the endpoint stands for EVERY address of these CIDRs (a named set such
    #: as Calico's ``pub``, whose actual addresses the log does not say); then ``ip`` is
    #: None and a side is allowed only when its matching rules together admit all of them.
    ranges: tuple[str, ...] = ()


@dataclass(frozen=True, order=True)
class RuleRef:
    """One rule of one policy: ``spec.<direction>[index]`` of ``namespace/policy``."""

    namespace: str
    policy: str
    direction: str  # "ingress" | "egress"
    index: int  # index of the rule in spec.ingress / spec.egress

    def __str__(self) -> str:
        return f"{self.namespace}/{self.policy} {self.direction}[{self.index}]"


@dataclass(frozen=True)
class DirectionVerdict:
    """The verdict of one side: the source's egress or the destination's ingress."""

    applies: bool  # False when this side is not a pod (no NetworkPolicy can restrict it)
    isolated: bool  # some policy in the pod's namespace selects it for this direction
    allowed: bool  # not isolated, or some rule matched
    isolated_by: tuple[str, ...]  # "ns/name" of the policies selecting the pod (sorted)
    allowed_by: tuple[RuleRef, ...]  # rules that matched (sorted)
    #: Display text of the endpoint this side belongs to (for :meth:`Verdict.explain`);
    #: not part of equality.
    subject: str = field(default="", compare=False)
    #: "ingress" | "egress" (for :meth:`Verdict.explain`); not part of equality.
    direction: str = field(default="", compare=False)

    def explain(self) -> str:
        head = f"{self.direction or 'direction'} of {self.subject or '?'}"
        if not self.applies:
            return f"{head}: allowed: not a pod, no NetworkPolicy applies"
        if not self.isolated:
            return f"{head}: allowed: not isolated, no policy selects it for {self.direction}"
        if self.allowed:
            return f"{head}: allowed by " + ", ".join(str(r) for r in self.allowed_by)
        isolated = ", ".join(self.isolated_by)
        if self.allowed_by:  # an address set that the matching rules admit only in part
            partial = ", ".join(str(r) for r in self.allowed_by)
            return f"{head}: denied: isolated by {isolated}; {partial} admit only part of the peer"
        return f"{head}: denied: isolated by {isolated}, no rule matches"


@dataclass(frozen=True)
class Verdict:
    """The verdict on one connection."""

    allowed: bool  # egress.allowed and ingress.allowed
    egress: DirectionVerdict  # the source's egress side
    ingress: DirectionVerdict  # the destination's ingress side

    def explain(self) -> list[str]:
        """Human lines, egress side first, e.g.
        ``egress of shop/cart: allowed by shop/cart-policy egress[0]`` or
        ``ingress of shop/db: denied: isolated by shop/default-deny, no rule matches``."""
        return [self.egress.explain(), self.ingress.explain()]


# --------------------------------------------------------------------------------------------
# Compiled forms
# --------------------------------------------------------------------------------------------

_IN, _NOT_IN, _EXISTS, _NOT_EXISTS = range(4)
_OPERATORS = {"In": _IN, "NotIn": _NOT_IN, "Exists": _EXISTS, "DoesNotExist": _NOT_EXISTS}
_MISSING = object()


class _Selector:
    """A compiled LabelSelector."""

    __slots__ = ("match_labels", "exprs", "match_all")

    def __init__(
        self,
        match_labels: tuple[tuple[str, str], ...],
        exprs: tuple[tuple[str, int, frozenset[str]], ...],
    ) -> None:
        self.match_labels = match_labels
        self.exprs = exprs
        self.match_all = not match_labels and not exprs

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.match_all:
            return True
        for key, value in self.match_labels:
            if labels.get(key, _MISSING) != value:
                return False
        for key, op, values in self.exprs:
            got = labels.get(key, _MISSING)
            if op == _IN:
                if got is _MISSING or got not in values:
                    return False
            elif op == _NOT_IN:
                if got is not _MISSING and got in values:
                    return False
            elif op == _EXISTS:
                if got is _MISSING:
                    return False
            elif got is not _MISSING:  # DoesNotExist
                return False
        return True


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class _IPBlock:
    __slots__ = ("network", "excepts")

    def __init__(self, network: _Network, excepts: tuple[_Network, ...]) -> None:
        self.network = network
        self.excepts = excepts

    def contains(self, addr: _Address) -> bool:
        if addr.version != self.network.version or addr not in self.network:
            return False
        return not any(addr in ex for ex in self.excepts)


def _spans(network: _Network) -> tuple[int, int, int]:
    return network.version, int(network.network_address), int(network.broadcast_address)


def _block_spans(block: _IPBlock) -> list[tuple[int, int, int]]:
    """(family, lo, hi) ranges an ipBlock admits: its CIDR minus every except."""
    version, lo, hi = _spans(block.network)
    holes = sorted(_spans(ex)[1:] for ex in block.excepts)
    out, at = [], lo
    for h_lo, h_hi in holes:
        if h_lo > at:
            out.append((version, at, h_lo - 1))
        at = max(at, h_hi + 1)
    if at <= hi:
        out.append((version, at, hi))
    return out


_EVERYTHING = ((4, 0, 2**32 - 1), (6, 0, 2**128 - 1))


@lru_cache(maxsize=4096)
def _range_spans(ranges: tuple[str, ...]) -> tuple[tuple[int, int, int], ...]:
    return tuple(_spans(ipaddress.ip_network(r, strict=False)) for r in ranges)


def _overlaps(a: Sequence[tuple[int, int, int]], b: Sequence[tuple[int, int, int]]) -> bool:
    return any(x[0] == y[0] and x[1] <= y[2] and y[1] <= x[2] for x in a for y in b)


def _covers(
    admitted: Sequence[tuple[int, int, int]], wanted: Sequence[tuple[int, int, int]]
) -> bool:
    """Whether the union of ``admitted`` holds every address of ``wanted``."""
    for version in (4, 6):
        need = sorted((lo, hi) for v, lo, hi in wanted if v == version)
        if not need:
            continue
        have = sorted((lo, hi) for v, lo, hi in admitted if v == version)
        merged: list[list[int]] = []
        for lo, hi in have:
            if merged and lo <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        for lo, hi in need:
            if not any(m_lo <= lo and hi <= m_hi for m_lo, m_hi in merged):
                return False
    return True


class _Peer:
    """A compiled NetworkPolicyPeer: an ipBlock, or pod and/or namespace selectors."""

    __slots__ = ("pod_sel", "ns_sel", "block")

    def __init__(
        self, pod_sel: _Selector | None, ns_sel: _Selector | None, block: _IPBlock | None
    ) -> None:
        self.pod_sel = pod_sel
        self.ns_sel = ns_sel
        self.block = block


class _Port:
    """A compiled NetworkPolicyPort."""

    __slots__ = ("protocol", "lo", "hi", "name")

    def __init__(self, protocol: str, lo: int | None, hi: int | None, name: str | None) -> None:
        self.protocol = protocol
        self.lo = lo  # None with name None: every port of the protocol
        self.hi = hi
        self.name = name

    def matches(self, protocol: str, port: int, dst: Endpoint) -> bool:
        if protocol != self.protocol:
            return False
        if self.name is not None:
            if dst.kind != "pod":
                return False
            for cp in dst.ports:
                if cp.name == self.name and cp.protocol == protocol and cp.port == port:
                    return True
            return False
        if self.lo is None:
            return True
        return self.lo <= port <= self.hi  # type: ignore[operator]


class _Rule:
    __slots__ = ("index", "peers", "ports")

    def __init__(
        self, index: int, peers: tuple[_Peer, ...] | None, ports: tuple[_Port, ...] | None
    ) -> None:
        self.index = index
        self.peers = peers  # None: every peer
        self.ports = ports  # None: every port and protocol


class _Policy:
    __slots__ = ("namespace", "name", "key", "pod_sel", "types", "rules")

    def __init__(
        self,
        namespace: str,
        name: str,
        pod_sel: _Selector,
        types: tuple[str, ...],
        rules: dict[str, tuple[_Rule, ...]],
    ) -> None:
        self.namespace = namespace
        self.name = name
        self.key = f"{namespace}/{name}"
        self.pod_sel = pod_sel
        self.types = types
        self.rules = rules  # "ingress"/"egress" -> rules; empty for a direction not in types


# --------------------------------------------------------------------------------------------
# Validation and compilation
# --------------------------------------------------------------------------------------------


def _fail(where: str, msg: str) -> PolicyError:
    return PolicyError(f"{where}: {msg}")


def _as_mapping(value: Any, where: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise _fail(where, f"must be a mapping, got {type(value).__name__}")
    return value


def _as_list(value: Any, where: str) -> Sequence:
    """A list field; None (YAML ``key:`` or ``null``) is an empty list."""
    if value is None:
        return ()
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise _fail(where, f"must be a list, got {type(value).__name__}")
    return value


def _check_keys(obj: Mapping, allowed: Iterable[str], where: str) -> None:
    unknown = sorted(str(k) for k in obj if k not in allowed)
    if unknown:
        raise _fail(where, f"unknown field(s) {', '.join(unknown)}")


def _compile_selector(sel: Any, where: str) -> _Selector:
    sel = _as_mapping(sel, where)
    _check_keys(sel, ("matchLabels", "matchExpressions"), where)
    raw_labels = sel.get("matchLabels")
    labels: list[tuple[str, str]] = []
    if raw_labels is not None:
        raw_labels = _as_mapping(raw_labels, f"{where}.matchLabels")
        for key, value in raw_labels.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise _fail(
                    f"{where}.matchLabels",
                    f"keys and values must be strings, got {key!r}: {value!r}",
                )
            labels.append((key, value))
    exprs: list[tuple[str, int, frozenset[str]]] = []
    for i, raw in enumerate(_as_list(sel.get("matchExpressions"), f"{where}.matchExpressions")):
        ewhere = f"{where}.matchExpressions[{i}]"
        expr = _as_mapping(raw, ewhere)
        _check_keys(expr, ("key", "operator", "values"), ewhere)
        key = expr.get("key")
        if not isinstance(key, str) or not key:
            raise _fail(f"{ewhere}.key", "is required and must be a string")
        op_name = expr.get("operator")
        if op_name not in _OPERATORS:
            raise _fail(
                f"{ewhere}.operator",
                f"unknown operator {op_name!r} (expected In, NotIn, Exists or DoesNotExist)",
            )
        op = _OPERATORS[op_name]
        values = _as_list(expr.get("values"), f"{ewhere}.values")
        if any(not isinstance(v, str) for v in values):
            raise _fail(f"{ewhere}.values", "must be strings")
        if op in (_IN, _NOT_IN) and not values:
            raise _fail(f"{ewhere}.values", f"must be non-empty for operator {op_name}")
        if op in (_EXISTS, _NOT_EXISTS) and values:
            raise _fail(f"{ewhere}.values", f"must be empty for operator {op_name}")
        exprs.append((key, op, frozenset(values)))
    return _Selector(tuple(labels), tuple(exprs))


def _parse_cidr(text: Any, where: str) -> _Network:
    if not isinstance(text, str) or "/" not in text:
        raise _fail(where, f"invalid CIDR {text!r}")
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise _fail(where, f"invalid CIDR {text!r}: {exc}") from None


def _compile_ipblock(raw: Any, where: str) -> _IPBlock:
    block = _as_mapping(raw, where)
    _check_keys(block, ("cidr", "except"), where)
    if "cidr" not in block:
        raise _fail(f"{where}.cidr", "is required")
    network = _parse_cidr(block["cidr"], f"{where}.cidr")
    excepts = []
    for i, text in enumerate(_as_list(block.get("except"), f"{where}.except")):
        ewhere = f"{where}.except[{i}]"
        ex = _parse_cidr(text, ewhere)
        if ex.version != network.version:
            raise _fail(
                ewhere,
                f"{text!r} is IPv{ex.version} but cidr {block['cidr']!r} is IPv{network.version}",
            )
        # The API server rejects except entries that are not a strict subset of cidr.
        if not ex.subnet_of(network) or ex.prefixlen <= network.prefixlen:  # type: ignore[arg-type]
            raise _fail(ewhere, f"{text!r} must be a strict subset of cidr {block['cidr']!r}")
        excepts.append(ex)
    return _IPBlock(network, tuple(excepts))


def _compile_peer(raw: Any, where: str) -> _Peer:
    peer = _as_mapping(raw, where)
    _check_keys(peer, ("podSelector", "namespaceSelector", "ipBlock"), where)
    has_pod = peer.get("podSelector") is not None
    has_ns = peer.get("namespaceSelector") is not None
    has_block = peer.get("ipBlock") is not None
    if has_block:
        if has_pod or has_ns:
            raise _fail(where, "ipBlock cannot be combined with podSelector or namespaceSelector")
        return _Peer(None, None, _compile_ipblock(peer["ipBlock"], f"{where}.ipBlock"))
    if not has_pod and not has_ns:
        raise _fail(where, "must specify podSelector, namespaceSelector or ipBlock")
    pod_sel = _compile_selector(peer["podSelector"], f"{where}.podSelector") if has_pod else None
    ns_sel = (
        _compile_selector(peer["namespaceSelector"], f"{where}.namespaceSelector")
        if has_ns
        else None
    )
    return _Peer(pod_sel, ns_sel, None)


def _port_number(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, f"must be an integer, got {value!r}")
    if not 1 <= value <= 65535:
        raise _fail(where, f"{value} is outside 1-65535")
    return value


def _compile_port(raw: Any, where: str) -> _Port:
    port = _as_mapping(raw, where)
    _check_keys(port, ("protocol", "port", "endPort"), where)
    protocol = port.get("protocol")
    if protocol is None:
        protocol = "TCP"
    if protocol not in POLICY_PROTOCOLS:
        raise _fail(f"{where}.protocol", f"unknown protocol {protocol!r} (TCP, UDP or SCTP)")
    value = port.get("port")
    end = port.get("endPort")
    if value is None:
        if end is not None:
            raise _fail(f"{where}.endPort", "requires port")
        return _Port(protocol, None, None, None)
    if isinstance(value, str):
        if end is not None:
            raise _fail(f"{where}.endPort", f"cannot be used with the named port {value!r}")
        if (
            len(value) > 15
            or not _SVC_NAME_RE.match(value)
            or "--" in value
            or not any(c.isalpha() for c in value)
        ):
            raise _fail(f"{where}.port", f"{value!r} is not a valid port name (IANA_SVC_NAME)")
        return _Port(protocol, None, None, value)
    lo = _port_number(value, f"{where}.port")
    hi = lo
    if end is not None:
        hi = _port_number(end, f"{where}.endPort")
        if hi < lo:
            raise _fail(f"{where}.endPort", f"{hi} is less than port {lo}")
    return _Port(protocol, lo, hi, None)


def _compile_rule(raw: Any, direction: str, index: int, where: str) -> _Rule:
    rule = _as_mapping(raw if raw is not None else {}, where)
    peer_key = _PEER_KEY[direction]
    _check_keys(rule, (peer_key, "ports"), where)
    raw_peers = _as_list(rule.get(peer_key), f"{where}.{peer_key}")
    raw_ports = _as_list(rule.get("ports"), f"{where}.ports")
    peers = tuple(_compile_peer(p, f"{where}.{peer_key}[{i}]") for i, p in enumerate(raw_peers))
    ports = tuple(_compile_port(p, f"{where}.ports[{i}]") for i, p in enumerate(raw_ports))
    return _Rule(index, peers or None, ports or None)


def _spec_of(policy: Mapping) -> Mapping:
    """``policy["spec"]``; a bare spec (no ``spec`` key, spec fields present) is accepted too."""
    if "spec" in policy:
        spec = policy["spec"]
        return {} if spec is None else spec
    if any(k in policy for k in ("podSelector", "policyTypes", "ingress", "egress")):
        return policy
    return {}


def _policy_types(spec: Mapping, where: str) -> tuple[str, ...]:
    explicit = _as_list(spec.get("policyTypes"), f"{where}.policyTypes")
    for t in explicit:
        if t not in ("Ingress", "Egress"):
            raise _fail(f"{where}.policyTypes", f"unknown policy type {t!r} (Ingress or Egress)")
    if explicit:
        return tuple(t for t in ("Ingress", "Egress") if t in explicit)
    # Defaulting (SetDefaults_NetworkPolicy): Ingress always, Egress when egress is non-empty.
    egress = spec.get("egress")
    return ("Ingress", "Egress") if egress else ("Ingress",)


def policy_types(policy: Mapping) -> tuple[str, ...]:
    """The effective ``policyTypes`` of a NetworkPolicy (or of a bare spec), in the order
    ``("Ingress", "Egress")``.

    An explicit non-empty ``policyTypes`` wins. Otherwise Ingress always, plus Egress when
    ``spec.egress`` is present and non-empty: ``egress: []`` alone is not an egress policy, and an
    egress-only policy without ``policyTypes`` also isolates ingress.
    """
    spec = _as_mapping(_spec_of(_as_mapping(policy, "policy")), "spec")
    return _policy_types(spec, _policy_label(policy) + ": spec")


def _policy_label(policy: Mapping) -> str:
    meta = policy.get("metadata") if isinstance(policy, Mapping) else None
    if not isinstance(meta, Mapping):
        return "<policy>"
    return f"{meta.get('namespace') or 'default'}/{meta.get('name') or '<unnamed>'}"


def _compile_policy(raw: Any, position: int) -> _Policy:
    policy = _as_mapping(raw, f"policy #{position}")
    meta = policy.get("metadata")
    if meta is None:
        meta = {}
    meta = _as_mapping(meta, f"policy #{position}: metadata")
    name = meta.get("name")
    namespace = meta.get("namespace") or "default"
    if not isinstance(namespace, str):
        raise _fail(f"policy #{position}: metadata.namespace", f"must be a string: {namespace!r}")
    if not isinstance(name, str) or not name:
        raise _fail(f"policy #{position} in namespace {namespace}: metadata.name", "is required")
    key = f"{namespace}/{name}"
    kind = policy.get("kind")
    if kind is not None and kind != "NetworkPolicy":
        raise _fail(f"{key}: kind", f"{kind!r} is not NetworkPolicy")
    api = policy.get("apiVersion")
    if api is not None and api != _API_VERSION:
        raise _fail(f"{key}: apiVersion", f"{api!r} is not {_API_VERSION}")
    _check_keys(policy, ("apiVersion", "kind", "metadata", "spec", "status"), key)
    where = f"{key}: spec"
    # A missing spec decodes to the empty spec (podSelector {}: deny all ingress).
    spec = _as_mapping(policy.get("spec") or {}, where)
    _check_keys(spec, ("podSelector", "policyTypes", "ingress", "egress"), where)
    raw_sel = spec.get("podSelector")
    # podSelector is required by the API but decodes to the empty selector when absent.
    pod_sel = _compile_selector({} if raw_sel is None else raw_sel, f"{where}.podSelector")
    types = _policy_types(spec, where)
    rules: dict[str, tuple[_Rule, ...]] = {}
    for direction in _DIRECTIONS:
        raw_rules = _as_list(spec.get(direction), f"{where}.{direction}")
        compiled = tuple(
            _compile_rule(r, direction, i, f"{where}.{direction}[{i}]")
            for i, r in enumerate(raw_rules)
        )
        # A direction not in policyTypes is ignored, even when rules are written for it.
        rules[direction] = compiled if _TYPE_OF[direction] in types else ()
    return _Policy(namespace, name, pod_sel, types, rules)


# --------------------------------------------------------------------------------------------
# Helpers for other modules
# --------------------------------------------------------------------------------------------


def selector_matches(selector: Mapping | None, labels: Mapping[str, str]) -> bool:
    """Whether a LabelSelector dict (``matchLabels`` AND every ``matchExpressions`` entry)
    matches ``labels``. ``{}`` matches everything. ``None`` ("not given") matches nothing, as
    Kubernetes' ``LabelSelectorAsSelector(nil)``; callers decide what a missing selector means.
    Raises :class:`PolicyError` for a malformed selector (e.g. an unknown operator)."""
    if selector is None:
        return False
    return _compile_selector(selector, "selector").matches(labels)


@lru_cache(maxsize=65536)
def _parse_ip(text: str) -> _Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        if "%" in text:  # IPv6 zone index
            return _parse_ip(text.split("%", 1)[0])
        raise ValueError(f"invalid IP address {text!r}") from None


def _endpoint_addr(ep: Endpoint) -> _Address | None:
    return _parse_ip(ep.ip) if ep.ip else None


def ip_in_block(ip: str, block: Mapping) -> bool:
    """Whether ``ip`` lies in an IPBlock dict (``cidr`` minus every ``except``). CIDRs may carry
    host bits; an IPv4 block never contains an IPv6 address and vice versa. Raises
    :class:`PolicyError` for a malformed block, ``ValueError`` for a malformed ``ip``."""
    addr = _parse_ip(ip)
    return addr is not None and _compile_ipblock(block, "ipBlock").contains(addr)


# --------------------------------------------------------------------------------------------
# Evaluator
# --------------------------------------------------------------------------------------------


def _describe(ep: Endpoint) -> str:
    if ep.kind == "pod":
        return f"{ep.namespace}/{ep.name or ep.ip or '?'}"
    label = ep.name or ep.ip or "?"
    if ep.name and ep.ip and ep.name != ep.ip:
        label = f"{ep.name} ({ep.ip})"
    return f"{ep.kind} {label}"


def _ns_labels(ep: Endpoint) -> Mapping[str, str]:
    labels = ep.namespace_labels
    if NS_NAME_LABEL in labels or ep.namespace is None:
        return labels
    return {**labels, NS_NAME_LABEL: ep.namespace}


def _port_rules(
    selecting: tuple[_Policy, ...], direction: str, protocol: str, port: int | None, dst: Endpoint
) -> Iterable[tuple[_Policy, _Rule]]:
    """The rules of the selecting policies, in one direction, whose ports admit the
    connection (no ``ports``: every port; a port-less connection: only those)."""
    for pol in selecting:
        for rule in pol.rules[direction]:
            ports = rule.ports
            if ports is None or (
                port is not None and any(p.matches(protocol, port, dst) for p in ports)
            ):
                yield pol, rule


class Evaluator:
    """Answers "is this connection allowed, and by which rules?" for a fixed set of policies."""

    def __init__(self, policies: Iterable[Mapping], *, ipblock_matches_pods: bool = True) -> None:
        """policies: parsed NetworkPolicy objects (dicts as from ``yaml.safe_load``, apiVersion
        networking.k8s.io/v1, kind NetworkPolicy). Validates and compiles them once into
        per-namespace matchers; raises :class:`PolicyError` for a malformed one."""
        self.ipblock_matches_pods = ipblock_matches_pods
        by_ns: dict[str, list[_Policy]] = {}
        seen: set[str] = set()
        for position, raw in enumerate(policies):
            pol = _compile_policy(raw, position)
            if pol.key in seen:
                raise PolicyError(f"{pol.key}: metadata.name: duplicate policy")
            seen.add(pol.key)
            by_ns.setdefault(pol.namespace, []).append(pol)
        self._by_ns: dict[str, tuple[_Policy, ...]] = {
            ns: tuple(sorted(pols, key=lambda p: p.name)) for ns, pols in by_ns.items()
        }
        # (namespace, frozenset(labels)) -> {"ingress": policies, "egress": policies}
        self._selecting: dict[tuple[str, frozenset], dict[str, tuple[_Policy, ...]]] = {}

    @property
    def namespaces(self) -> tuple[str, ...]:
        """Namespaces that hold at least one policy."""
        return tuple(sorted(self._by_ns))

    # -- selection ---------------------------------------------------------------------------

    def _select(self, pod: Endpoint) -> dict[str, tuple[_Policy, ...]]:
        if pod.namespace is None:
            raise ValueError(f"pod endpoint {pod.name or pod.ip or '?'} has no namespace")
        key = (pod.namespace, frozenset(pod.labels.items()))
        hit = self._selecting.get(key)
        if hit is None:
            chosen = [
                p for p in self._by_ns.get(pod.namespace, ()) if p.pod_sel.matches(pod.labels)
            ]
            hit = {d: tuple(p for p in chosen if _TYPE_OF[d] in p.types) for d in _DIRECTIONS}
            self._selecting[key] = hit
        return hit

    def policies_selecting(self, pod: Endpoint, direction: str) -> list[str]:
        """``ns/name`` of the policies that isolate ``pod`` for ``direction`` ("ingress" or
        "egress"), sorted. Empty for a non-pod endpoint."""
        d = direction.lower()
        if d not in _DIRECTIONS:
            raise ValueError(f"direction must be 'ingress' or 'egress', got {direction!r}")
        if pod.kind != "pod":
            return []
        return [p.key for p in self._select(pod)[d]]

    # -- matching ----------------------------------------------------------------------------

    def _peer_matches(
        self, peer: _Peer, ep: Endpoint, ns_labels: Mapping[str, str] | None, policy_ns: str
    ) -> bool:
        if peer.block is not None:
            if ep.kind == "pod" and not self.ipblock_matches_pods:
                return False
            addr = _endpoint_addr(ep)
            return addr is not None and peer.block.contains(addr)
        if ep.kind != "pod":
            return False
        if peer.ns_sel is None:
            if ep.namespace != policy_ns:
                return False
        elif not peer.ns_sel.matches(ns_labels or {}):
            return False
        return peer.pod_sel is None or peer.pod_sel.matches(ep.labels)

    def _side(
        self,
        direction: str,
        subject: Endpoint,
        peer: Endpoint,
        dst: Endpoint,
        protocol: str,
        port: int | None,
    ) -> DirectionVerdict:
        text = _describe(subject)
        if subject.kind != "pod":
            return DirectionVerdict(False, False, True, (), (), text, direction)
        selecting = self._select(subject)[direction]
        if not selecting:
            return DirectionVerdict(True, False, True, (), (), text, direction)
        if peer.kind != "pod" and peer.ranges:
            return self._side_set(direction, subject, peer, dst, protocol, port, selecting, text)
        ns_labels = _ns_labels(peer) if peer.kind == "pod" else None
        matched: list[RuleRef] = []
        for pol, rule in _port_rules(selecting, direction, protocol, port, dst):
            if rule.peers is not None and not any(
                self._peer_matches(pr, peer, ns_labels, pol.namespace) for pr in rule.peers
            ):
                continue
            matched.append(RuleRef(pol.namespace, pol.name, direction, rule.index))
        return DirectionVerdict(
            True,
            True,
            bool(matched),
            tuple(p.key for p in selecting),
            tuple(sorted(matched)),
            text,
            direction,
        )

    def _side_set(
        self,
        direction: str,
        subject: Endpoint,
        peer: Endpoint,
        dst: Endpoint,
        protocol: str,
        port: int | None,
        selecting: tuple[_Policy, ...],
        text: str,
    ) -> DirectionVerdict:
        """An isolated pod's side towards a peer that stands for a set of addresses: allowed
        when the rules that match the port together admit every address of the set."""
        wanted = _range_spans(peer.ranges)
        admitted: list[tuple[int, int, int]] = []
        matched: list[RuleRef] = []
        for pol, rule in _port_rules(selecting, direction, protocol, port, dst):
            if rule.peers is None:
                spans: list[tuple[int, int, int]] = list(_EVERYTHING)
            else:
                spans = [s for pr in rule.peers if pr.block for s in _block_spans(pr.block)]
            if spans and _overlaps(spans, wanted):
                admitted += spans
                matched.append(RuleRef(pol.namespace, pol.name, direction, rule.index))
        return DirectionVerdict(
            True,
            True,
            _covers(admitted, wanted),
            tuple(p.key for p in selecting),
            tuple(sorted(matched)),
            text,
            direction,
        )

    def evaluate(self, src: Endpoint, dst: Endpoint, protocol: str, port: int | None) -> Verdict:
        """Whether ``src`` may open a ``protocol``/``port`` connection to ``dst``.

        ``port`` is the destination port, None for port-less protocols (ICMP), which only rules
        without ``ports`` admit. ``protocol`` is compared exactly ("TCP", "UDP", "SCTP")."""
        egress = self._side("egress", src, dst, dst, protocol, port)
        ingress = self._side("ingress", dst, src, dst, protocol, port)
        return Verdict(egress.allowed and ingress.allowed, egress, ingress)
