"""The NetworkPolicy reader: ``networking.k8s.io/v1`` NetworkPolicy dicts -> :class:`Policy`.

Validation happens here, once: a malformed object raises :class:`PolicyError` naming the
policy and the field (``shop/db: spec.ingress[0].ports[0].port: ...``). What the reader
decides (DESIGN §4):

* Effective ``policyTypes`` (:func:`policy_types`): an explicit list wins, else Ingress
  always plus Egress when ``spec.egress`` is non-empty. Rules of a direction not in the
  effective types are validated but not compiled in: they have no effect.
* A missing or null ``from``/``to`` or ``ports`` list means "any" (``peers`` / ``ports``
  None); a missing ``spec`` or ``podSelector`` is the empty one (select every pod).
* Peers: ``podSelector`` alone means pods of the policy's namespace; ``namespaceSelector``
  alone every pod of the matching namespaces; ``ipBlock`` is exclusive of both.
* Ports: protocol defaults to TCP; ``endPort`` is inclusive and needs a numeric ``port``;
  a named port must be a valid IANA_SVC_NAME.
* A Calico ``StagedKubernetesNetworkPolicy`` (:mod:`.calico_staged`) is judged as if
  promoted: its spec compiled as this NetworkPolicy, named ``staged:<name>``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from .calico_staged import STAGED_PREFIX, as_network_policy, is_staged, staged_action
from .fields import as_list, as_mapping, check_keys, fail
from .ipranges import parse_ip
from .model import (
    DIRECTIONS,
    OPERATORS,
    IPBlock,
    Network,
    Peer,
    Policy,
    PolicyError,
    PortMatch,
    Requirement,
    Rule,
    Selector,
)

__all__ = [
    "PEER_FIELD",
    "POLICY_PROTOCOLS",
    "POLICY_TYPE_OF",
    "compile_policies",
    "compile_policy",
    "compile_selector",
    "compile_staged_policy",
    "ip_in_block",
    "policy_types",
    "selector_matches",
]

#: Where a NetworkPolicy sits among the other policies of its tier: Calico's order for
#: Kubernetes NetworkPolicies in its ``default`` tier, so a Calico policy of a lower order
#: (say a Deny at 500) is considered first, as Calico does. Among NetworkPolicies alone
#: the order changes nothing: their rules only allow.
NETWORK_POLICY_ORDER = 1000.0

#: Protocols a NetworkPolicyPort may name.
POLICY_PROTOCOLS = ("TCP", "UDP", "SCTP")

_API_VERSION = "networking.k8s.io/v1"
#: The ``policyTypes`` entry of each direction.
POLICY_TYPE_OF = {"ingress": "Ingress", "egress": "Egress"}
#: The field of a rule that lists its peers, per direction.
PEER_FIELD = {"ingress": "from", "egress": "to"}
# IANA_SVC_NAME, as Kubernetes validates container port names and named NetworkPolicy ports.
_SVC_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


# --------------------------------------------------------------------------------------------
# Field helpers
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Selectors, blocks, peers, ports, rules
# --------------------------------------------------------------------------------------------


def _requirement(raw: Any, where: str) -> Requirement:
    expr = as_mapping(raw, where)
    check_keys(expr, ("key", "operator", "values"), where)
    key = expr.get("key")
    if not isinstance(key, str) or not key:
        raise fail(f"{where}.key", "is required and must be a string")
    op = expr.get("operator")
    if op not in OPERATORS:
        raise fail(
            f"{where}.operator",
            f"unknown operator {op!r} (expected In, NotIn, Exists or DoesNotExist)",
        )
    values = as_list(expr.get("values"), f"{where}.values")
    if any(not isinstance(v, str) for v in values):
        raise fail(f"{where}.values", "must be strings")
    if op in ("In", "NotIn") and not values:
        raise fail(f"{where}.values", f"must be non-empty for operator {op}")
    if op in ("Exists", "DoesNotExist") and values:
        raise fail(f"{where}.values", f"must be empty for operator {op}")
    return Requirement(key, op, tuple(values))  # as written: Selector.of makes it canonical


def compile_selector(sel: Any, where: str = "selector") -> Selector:
    """A LabelSelector dict as a :class:`Selector`; :class:`PolicyError` when malformed."""
    sel = as_mapping(sel, where)
    check_keys(sel, ("matchLabels", "matchExpressions"), where)
    raw_labels = sel.get("matchLabels")
    labels: dict[str, str] = {}
    if raw_labels is not None:
        raw_labels = as_mapping(raw_labels, f"{where}.matchLabels")
        for key, value in raw_labels.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise fail(
                    f"{where}.matchLabels",
                    f"keys and values must be strings, got {key!r}: {value!r}",
                )
            labels[key] = value
    raw_exprs = as_list(sel.get("matchExpressions"), f"{where}.matchExpressions")
    reqs = [_requirement(r, f"{where}.matchExpressions[{i}]") for i, r in enumerate(raw_exprs)]
    return Selector.of(labels, reqs)


def _parse_cidr(text: Any, where: str) -> Network:
    if not isinstance(text, str) or "/" not in text:
        raise fail(where, f"invalid CIDR {text!r}")
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise fail(where, f"invalid CIDR {text!r}: {exc}") from None


def _compile_ipblock(raw: Any, where: str) -> IPBlock:
    block = as_mapping(raw, where)
    check_keys(block, ("cidr", "except"), where)
    if "cidr" not in block:
        raise fail(f"{where}.cidr", "is required")
    network = _parse_cidr(block["cidr"], f"{where}.cidr")
    excepts = []
    for i, text in enumerate(as_list(block.get("except"), f"{where}.except")):
        ewhere = f"{where}.except[{i}]"
        ex = _parse_cidr(text, ewhere)
        if ex.version != network.version:
            raise fail(
                ewhere,
                f"{text!r} is IPv{ex.version} but cidr {block['cidr']!r} is IPv{network.version}",
            )
        # The API server rejects except entries that are not a strict subset of cidr.
        if not ex.subnet_of(network) or ex.prefixlen <= network.prefixlen:  # type: ignore[arg-type]
            raise fail(ewhere, f"{text!r} must be a strict subset of cidr {block['cidr']!r}")
        excepts.append(ex)
    written = (block["cidr"], *as_list(block.get("except"), f"{where}.except"))
    return IPBlock(network, tuple(excepts), written)


def _compile_peer(raw: Any, where: str) -> Peer:
    peer = as_mapping(raw, where)
    check_keys(peer, ("podSelector", "namespaceSelector", "ipBlock"), where)
    has_pod = peer.get("podSelector") is not None
    has_ns = peer.get("namespaceSelector") is not None
    if peer.get("ipBlock") is not None:
        if has_pod or has_ns:
            raise fail(where, "ipBlock cannot be combined with podSelector or namespaceSelector")
        return Peer(block=_compile_ipblock(peer["ipBlock"], f"{where}.ipBlock"))
    if not has_pod and not has_ns:
        raise fail(where, "must specify podSelector, namespaceSelector or ipBlock")
    pods = compile_selector(peer["podSelector"], f"{where}.podSelector") if has_pod else None
    namespaces = (
        compile_selector(peer["namespaceSelector"], f"{where}.namespaceSelector")
        if has_ns
        else None
    )
    return Peer(pods=pods, namespaces=namespaces)


def _port_number(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(where, f"must be an integer, got {value!r}")
    if not 1 <= value <= 65535:
        raise fail(where, f"{value} is outside 1-65535")
    return value


def _named_port(protocol: str, value: str, end: Any, where: str) -> PortMatch:
    if end is not None:
        raise fail(f"{where}.endPort", f"cannot be used with the named port {value!r}")
    if (
        len(value) > 15
        or not _SVC_NAME_RE.match(value)
        or "--" in value
        or not any(c.isalpha() for c in value)
    ):
        raise fail(f"{where}.port", f"{value!r} is not a valid port name (IANA_SVC_NAME)")
    return PortMatch(protocol, name=value)


def _compile_port(raw: Any, where: str) -> PortMatch:
    port = as_mapping(raw, where)
    check_keys(port, ("protocol", "port", "endPort"), where)
    protocol = port.get("protocol")
    if protocol is None:
        protocol = "TCP"
    if protocol not in POLICY_PROTOCOLS:
        raise fail(f"{where}.protocol", f"unknown protocol {protocol!r} (TCP, UDP or SCTP)")
    value = port.get("port")
    end = port.get("endPort")
    if value is None:
        if end is not None:
            raise fail(f"{where}.endPort", "requires port")
        return PortMatch(protocol)
    if isinstance(value, str):
        return _named_port(protocol, value, end, where)
    lo = _port_number(value, f"{where}.port")
    hi = lo
    if end is not None:
        hi = _port_number(end, f"{where}.endPort")
        if hi < lo:
            raise fail(f"{where}.endPort", f"{hi} is less than port {lo}")
    return PortMatch(protocol, lo, hi, written_as_range=end is not None)


def _compile_rule(raw: Any, direction: str, index: int, where: str) -> Rule:
    rule = as_mapping(raw if raw is not None else {}, where)
    peer_key = PEER_FIELD[direction]
    check_keys(rule, (peer_key, "ports"), where)
    raw_peers = as_list(rule.get(peer_key), f"{where}.{peer_key}")
    raw_ports = as_list(rule.get("ports"), f"{where}.ports")
    peers = tuple(_compile_peer(p, f"{where}.{peer_key}[{i}]") for i, p in enumerate(raw_peers))
    ports = tuple(_compile_port(p, f"{where}.ports[{i}]") for i, p in enumerate(raw_ports))
    return Rule(direction, index, peers or None, ports or None)


# --------------------------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------------------------


def _spec_of(policy: Mapping) -> Mapping:
    """``policy["spec"]``; a bare spec (no ``spec`` key, spec fields present) is accepted too."""
    if "spec" in policy:
        spec = policy["spec"]
        return {} if spec is None else spec
    if any(k in policy for k in ("podSelector", "policyTypes", "ingress", "egress")):
        return policy
    return {}


def _policy_types(spec: Mapping, where: str) -> tuple[str, ...]:
    explicit = as_list(spec.get("policyTypes"), f"{where}.policyTypes")
    for t in explicit:
        if t not in ("Ingress", "Egress"):
            raise fail(f"{where}.policyTypes", f"unknown policy type {t!r} (Ingress or Egress)")
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
    spec = as_mapping(_spec_of(as_mapping(policy, "policy")), "spec")
    return _policy_types(spec, _policy_label(policy) + ": spec")


def _policy_label(policy: Mapping) -> str:
    meta = policy.get("metadata") if isinstance(policy, Mapping) else None
    if not isinstance(meta, Mapping):
        return "<policy>"
    return f"{meta.get('namespace') or 'default'}/{meta.get('name') or '<unnamed>'}"


def _identity(policy: Mapping, position: int) -> tuple[str, str]:
    """(namespace, name) of a policy object, its kind and apiVersion checked."""
    meta = policy.get("metadata")
    if meta is None:
        meta = {}
    meta = as_mapping(meta, f"policy #{position}: metadata")
    name = meta.get("name")
    namespace = meta.get("namespace") or "default"
    if not isinstance(namespace, str):
        raise fail(f"policy #{position}: metadata.namespace", f"must be a string: {namespace!r}")
    if not isinstance(name, str) or not name:
        raise fail(f"policy #{position} in namespace {namespace}: metadata.name", "is required")
    key = f"{namespace}/{name}"
    kind = policy.get("kind")
    if kind is not None and kind != "NetworkPolicy":
        raise fail(f"{key}: kind", f"{kind!r} is not NetworkPolicy")
    api = policy.get("apiVersion")
    if api is not None and api != _API_VERSION:
        raise fail(f"{key}: apiVersion", f"{api!r} is not {_API_VERSION}")
    check_keys(policy, ("apiVersion", "kind", "metadata", "spec", "status"), key)
    return namespace, name


def compile_staged_policy(raw: Mapping, position: int = 0) -> Policy:
    """A Calico StagedKubernetesNetworkPolicy as if promoted, named ``staged:<name>``:
    ``stagedAction: Set`` is the NetworkPolicy its spec states; any other action (``Delete``:
    the policy as it would be removed) selects its pods but isolates and allows nothing."""
    action = staged_action(raw)
    pol = compile_policy(as_network_policy(raw), position)
    pol = replace(pol, name=STAGED_PREFIX + pol.name)
    if action == "Set":
        return pol
    return replace(pol, isolates=(), rules=(), ignored=())


def compile_policy(raw: Any, position: int = 0) -> Policy:
    """One NetworkPolicy dict (as from ``yaml.safe_load``) as a :class:`Policy`;
    ``position`` names it in errors when it has no name. A Calico
    StagedKubernetesNetworkPolicy is compiled by :func:`compile_staged_policy`."""
    policy = as_mapping(raw, f"policy #{position}")
    if is_staged(policy):
        return compile_staged_policy(policy, position)
    namespace, name = _identity(policy, position)
    where = f"{namespace}/{name}: spec"
    # A missing spec decodes to the empty spec (podSelector {}: deny all ingress).
    spec = as_mapping(policy.get("spec") or {}, where)
    check_keys(spec, ("podSelector", "policyTypes", "ingress", "egress"), where)
    raw_sel = spec.get("podSelector")
    # podSelector is required by the API but decodes to the empty selector when absent.
    subject = compile_selector({} if raw_sel is None else raw_sel, f"{where}.podSelector")
    types = _policy_types(spec, where)
    rules: list[Rule] = []
    ignored: list[str] = []
    for direction in DIRECTIONS:
        raw_rules = as_list(spec.get(direction), f"{where}.{direction}")
        compiled = [
            _compile_rule(r, direction, i, f"{where}.{direction}[{i}]")
            for i, r in enumerate(raw_rules)
        ]
        # A direction not in policyTypes is ignored, even when rules are written for it.
        if POLICY_TYPE_OF[direction] in types:
            rules += compiled
        elif compiled:
            ignored.append(direction)
    isolates = tuple(d for d in DIRECTIONS if POLICY_TYPE_OF[d] in types)
    return Policy(
        name,
        namespace,
        subject,
        isolates,
        tuple(rules),
        priority=NETWORK_POLICY_ORDER,
        ignored=tuple(ignored),
    )


def compile_policies(policies: Iterable[Any]) -> list[Policy]:
    """Every NetworkPolicy dict compiled; :class:`PolicyError` for a malformed one or for
    two policies of the same namespace and name."""
    out: list[Policy] = []
    seen: set[str] = set()
    for position, raw in enumerate(policies):
        pol = compile_policy(raw, position)
        if pol.key in seen:
            raise PolicyError(f"{pol.key}: metadata.name: duplicate policy")
        seen.add(pol.key)
        out.append(pol)
    return out


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
    return compile_selector(selector, "selector").matches(labels)


def ip_in_block(ip: str, block: Mapping) -> bool:
    """Whether ``ip`` lies in an IPBlock dict (``cidr`` minus every ``except``). CIDRs may carry
    host bits; an IPv4 block never contains an IPv6 address and vice versa. Raises
    :class:`PolicyError` for a malformed block, ``ValueError`` for a malformed ``ip``."""
    addr = parse_ip(ip)
    return _compile_ipblock(block, "ipBlock").contains(addr)
