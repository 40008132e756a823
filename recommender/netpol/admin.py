"""The cluster-scoped kinds of network-policy-api -> :class:`Policy`.

Reads ``policy.networking.k8s.io/v1alpha1`` AdminNetworkPolicy (ANP) and
BaselineAdminNetworkPolicy (BANP), by the field names of the v0.1.8 CRDs, and ``v1alpha2``
ClusterNetworkPolicy (CNP, v0.2.0 CRD). What the reader decides, from the CRDs' own field
documentation and the project's API overview (``site-src/api-overview.md``):

* Tier and priority: an ANP sits in :data:`ADMIN_TIER` at ``spec.priority``; the BANP (a
  singleton named ``default``) in :data:`BASELINE_TIER`; a CNP in the tier ``spec.tier``
  names (``Admin`` / ``Baseline``) at ``spec.priority``. Lower priority is checked first;
  rules in the order written; the first matching rule decides.
* Actions: ``Allow`` (v1alpha1) and ``Accept`` (v1alpha2) allow, ``Deny`` denies, ``Pass``
  hands the connection to the next tier (the BANP has no ``Pass``).
* Subject: ``namespaces`` (every pod of the selected namespaces) or ``pods``
  (``namespaceSelector`` x ``podSelector``; v1alpha2 may leave out ``namespaceSelector``:
  every namespace). A policy applies to the directions it has rules for; it never
  isolates (no implicit deny).
* Peers: ``namespaces``, ``pods``; egress also ``networks`` (CIDRs, which match pod
  addresses too: "cluster-internal traffic will be checked against the rule as well", so
  the evaluator's ``ipblock_matches_pods``, its default, must stay on), ``nodes`` (compiled,
  rule ``unjudged``: node labels are not in flow logs) and ``domainNames`` (Allow/Accept
  rules only) as :attr:`Peer.fqdn`: an exact name, or ``*.example.com``, which "matches one
  or more entire labels" (the CRD), as the pattern ``**.example.com``.
* Ports: v1alpha1 ``ports`` (``portNumber``, ``portRange``, ``namedPort``); v1alpha2
  ``protocols`` (``tcp``/``udp``/``sctp`` with a ``destinationPort`` number or range, or
  ``destinationNamedPort``). A named port carries no protocol: it matches the container port
  of that name whatever its protocol. No ports: every port and protocol.
* ``sameLabels`` / ``notSameLabels`` (the namespace peer of releases before v0.1.5) relate
  the peer's namespace to the subject's, which a :class:`Peer` cannot state: the rule is
  compiled over every namespace and marked ``unjudged``. The same era's
  ``namespaces: {namespaceSelector: ...}`` is refused: the v0.1.8 ``namespaces`` peer is a
  label selector itself, and the API server would not keep that field.

Anything else outside the CRDs is refused with a one-line :class:`PolicyError`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .fields import as_list, as_mapping, check_keys
from .model import (
    ADMIN_TIER,
    BASELINE_TIER,
    DIRECTIONS,
    Action,
    FQDNMatch,
    IPBlock,
    Peer,
    Policy,
    PolicyError,
    PortMatch,
    Rule,
    Selector,
    Tier,
)
from .networkpolicy import POLICY_PROTOCOLS, compile_selector

__all__ = [
    "ANP_KIND",
    "BANP_KIND",
    "BANP_NAME",
    "CNP_KIND",
    "KINDS",
    "V1ALPHA1",
    "V1ALPHA2",
    "compile_object",
]

V1ALPHA1 = "policy.networking.k8s.io/v1alpha1"
V1ALPHA2 = "policy.networking.k8s.io/v1alpha2"
ANP_KIND = "AdminNetworkPolicy"
BANP_KIND = "BaselineAdminNetworkPolicy"
CNP_KIND = "ClusterNetworkPolicy"
#: The only name a BaselineAdminNetworkPolicy may have (the CRD's validation rule).
BANP_NAME = "default"

KINDS: frozenset[tuple[str, str]] = frozenset(
    {(V1ALPHA1, ANP_KIND), (V1ALPHA1, BANP_KIND), (V1ALPHA2, CNP_KIND)}
)

#: The field of a rule that lists its peers, per direction.
_PEER_FIELD = {"ingress": "from", "egress": "to"}
#: A domain name as the CRDs' pattern admits it (``*.`` only as a prefix).
_DOMAIN_RE = re.compile(
    r"^(\*\.)?([a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$"
)
_CNP_TIERS = {"Admin": ADMIN_TIER, "Baseline": BASELINE_TIER}
_NODES_UNJUDGED = "nodes peer: node labels are not in flow logs"
_SAME_LABELS_UNJUDGED = (
    "namespaces.{field}: relates the peer's namespace labels to the subject's, which the "
    "compiled model does not state"
)


@dataclass(frozen=True)
class _Dialect:
    """What differs between the three kinds."""

    kind: str
    spec_keys: tuple[str, ...]
    actions: Mapping[str, Action]
    #: "ports" (v1alpha1) or "protocols" (v1alpha2)
    ports_key: str
    #: v1alpha1 requires ``pods.namespaceSelector``; v1alpha2 defaults it to every namespace
    pods_need_namespaces: bool
    #: the peer fields of an egress rule (ingress: namespaces and pods only)
    egress_peers: tuple[str, ...] = ("namespaces", "pods", "networks", "nodes", "domainNames")


_ALLOW_DENY = {"Allow": Action.ALLOW, "Deny": Action.DENY}
_DIALECTS = {
    (V1ALPHA1, ANP_KIND): _Dialect(
        ANP_KIND,
        ("priority", "subject", "ingress", "egress"),
        {**_ALLOW_DENY, "Pass": Action.PASS},
        "ports",
        True,
    ),
    (V1ALPHA1, BANP_KIND): _Dialect(
        BANP_KIND,
        ("subject", "ingress", "egress"),
        _ALLOW_DENY,
        "ports",
        True,
        ("namespaces", "pods", "networks", "nodes"),
    ),
    (V1ALPHA2, CNP_KIND): _Dialect(
        CNP_KIND,
        ("tier", "priority", "subject", "ingress", "egress"),
        {"Accept": Action.ALLOW, "Deny": Action.DENY, "Pass": Action.PASS},
        "protocols",
        False,
    ),
}


# --------------------------------------------------------------------------------------------
# Field helpers
# --------------------------------------------------------------------------------------------


def _one_of(obj: Mapping, allowed: tuple[str, ...], where: str) -> str:
    """The one field set of a union (the CRDs' ``maxProperties: 1, minProperties: 1``)."""
    check_keys(obj, allowed, where)
    present = [k for k in allowed if k in obj]
    if len(present) != 1:
        raise PolicyError(f"{where}: exactly one of {', '.join(allowed)} must be set")
    return present[0]


def _port_number(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise PolicyError(f"{where}: must be an integer in 1-65535, got {value!r}")
    return value


def _priority(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
        raise PolicyError(f"{where}: must be an integer in 0-1000, got {value!r}")
    return value


# --------------------------------------------------------------------------------------------
# Subjects and peers
# --------------------------------------------------------------------------------------------


def _pods(raw: Any, dialect: _Dialect, where: str) -> tuple[Selector, Selector]:
    """(namespace selector, pod selector) of a ``pods`` subject or peer."""
    pods = as_mapping(raw, where)
    check_keys(pods, ("namespaceSelector", "podSelector"), where)
    if "podSelector" not in pods:
        raise PolicyError(f"{where}.podSelector: is required")
    if "namespaceSelector" not in pods and dialect.pods_need_namespaces:
        raise PolicyError(f"{where}.namespaceSelector: is required")
    namespaces = compile_selector(pods.get("namespaceSelector") or {}, f"{where}.namespaceSelector")
    return namespaces, compile_selector(pods["podSelector"] or {}, f"{where}.podSelector")


def _subject(spec: Mapping, dialect: _Dialect, where: str) -> tuple[Selector, Selector]:
    """(namespaces, pods) the policy applies to."""
    if spec.get("subject") is None:
        raise PolicyError(f"{where}.subject: is required")
    raw = as_mapping(spec["subject"], f"{where}.subject")
    field = _one_of(raw, ("namespaces", "pods"), f"{where}.subject")
    if field == "namespaces":
        return compile_selector(raw["namespaces"] or {}, f"{where}.subject.namespaces"), Selector()
    return _pods(raw["pods"], dialect, f"{where}.subject.pods")


def _namespaces_peer(raw: Any, where: str) -> tuple[Peer, str]:
    """A ``namespaces`` peer: every pod of the selected namespaces; ``sameLabels`` /
    ``notSameLabels`` compile to every namespace with an unjudged reason."""
    sel = as_mapping(raw or {}, where)
    if "namespaceSelector" in sel:
        raise PolicyError(
            f"{where}: namespaceSelector is not a field of the v0.1.8 namespaces peer, which is "
            "a label selector itself (matchLabels/matchExpressions)"
        )
    for field in ("sameLabels", "notSameLabels"):
        if field in sel:
            check_keys(sel, (field,), where)
            return Peer(namespaces=Selector()), _SAME_LABELS_UNJUDGED.format(field=field)
    return Peer(namespaces=compile_selector(sel, where)), ""


def _networks(raw: Any, where: str) -> list[Peer]:
    peers = []
    for i, text in enumerate(as_list(raw, where, required=True)):
        if not isinstance(text, str) or "/" not in text:
            raise PolicyError(f"{where}[{i}]: invalid CIDR {text!r}")
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError as exc:
            raise PolicyError(f"{where}[{i}]: invalid CIDR {text!r}: {exc}") from None
        peers.append(Peer(block=IPBlock(network, written=(text,))))
    return peers


def _domain_names(raw: Any, action: Action, where: str) -> list[Peer]:
    """Exact names, and ``*.`` wildcards of one or more whole labels (the pattern ``**.``)."""
    if action is not Action.ALLOW:
        raise PolicyError(f"{where}: domainNames is only supported in Allow/Accept rules")
    peers = []
    for i, name in enumerate(as_list(raw, where, required=True)):
        if not isinstance(name, str) or not _DOMAIN_RE.match(name):
            raise PolicyError(f"{where}[{i}]: invalid domain name {name!r}")
        text = name.lower().rstrip(".")
        if text.startswith("*."):
            peers.append(Peer(fqdn=FQDNMatch(pattern="*" + text)))
        else:
            peers.append(Peer(fqdn=FQDNMatch(name=text)))
    return peers


def _peers(
    raw: Any, direction: str, action: Action, dialect: _Dialect, where: str
) -> tuple[list[Peer], list[str]]:
    """The compiled peers of one ``from`` / ``to`` entry, and why any cannot be judged."""
    peer = as_mapping(raw, where)
    allowed = dialect.egress_peers if direction == "egress" else ("namespaces", "pods")
    field = _one_of(peer, allowed, where)
    here = f"{where}.{field}"
    if field == "namespaces":
        compiled, reason = _namespaces_peer(peer[field], here)
        return [compiled], [reason] if reason else []
    if field == "pods":
        namespaces, pods = _pods(peer[field], dialect, here)
        return [Peer(pods=pods, namespaces=namespaces)], []
    if field == "nodes":
        return [Peer(nodes=compile_selector(peer[field] or {}, here))], [_NODES_UNJUDGED]
    if field == "networks":
        return _networks(peer[field], here), []
    return _domain_names(peer[field], action, here), []


# --------------------------------------------------------------------------------------------
# Ports
# --------------------------------------------------------------------------------------------


def _named(name: Any, where: str) -> tuple[PortMatch, ...]:
    """A named port matches the container port of that name, whatever its protocol."""
    if not isinstance(name, str) or not name:
        raise PolicyError(f"{where}: must be a port name, got {name!r}")
    return tuple(PortMatch(protocol, name=name) for protocol in POLICY_PROTOCOLS)


def _protocol(value: Any, where: str) -> str:
    protocol = "TCP" if value is None else value
    if protocol not in POLICY_PROTOCOLS:
        raise PolicyError(f"{where}: unknown protocol {protocol!r} (TCP, UDP or SCTP)")
    return protocol


def _range(lo: Any, hi: Any, where: str, *, strict: bool) -> tuple[int, int]:
    start = _port_number(lo, f"{where}.start")
    end = _port_number(hi, f"{where}.end")
    if end < start or (strict and end == start):
        raise PolicyError(f"{where}: start {start} must be less than end {end}")
    return start, end


def _v1alpha1_port(raw: Any, where: str) -> tuple[PortMatch, ...]:
    port = as_mapping(raw, where)
    field = _one_of(port, ("portNumber", "portRange", "namedPort"), where)
    here = f"{where}.{field}"
    if field == "namedPort":
        return _named(port[field], here)
    body = as_mapping(port[field], here)
    protocol = _protocol(body.get("protocol"), f"{here}.protocol")
    if field == "portNumber":
        check_keys(body, ("protocol", "port"), here)
        number = _port_number(body.get("port"), f"{here}.port")
        return (PortMatch(protocol, number, number),)
    check_keys(body, ("protocol", "start", "end"), here)
    start, end = _range(body.get("start"), body.get("end"), here, strict=False)
    return (PortMatch(protocol, start, end, written_as_range=True),)


def _v1alpha2_port(raw: Any, where: str) -> tuple[PortMatch, ...]:
    entry = as_mapping(raw, where)
    field = _one_of(entry, ("tcp", "udp", "sctp", "destinationNamedPort"), where)
    here = f"{where}.{field}"
    if field == "destinationNamedPort":
        return _named(entry[field], here)
    protocol = field.upper()
    body = as_mapping(entry[field] or {}, here)
    check_keys(body, ("destinationPort",), here)
    if body.get("destinationPort") is None:
        return (PortMatch(protocol),)  # every port of the protocol
    dest_where = f"{here}.destinationPort"
    dest = as_mapping(body["destinationPort"], dest_where)
    kind = _one_of(dest, ("number", "range"), dest_where)
    if kind == "number":
        number = _port_number(dest["number"], f"{dest_where}.number")
        return (PortMatch(protocol, number, number),)
    rng = as_mapping(dest["range"], f"{dest_where}.range")
    check_keys(rng, ("start", "end"), f"{dest_where}.range")
    start, end = _range(rng.get("start"), rng.get("end"), f"{dest_where}.range", strict=True)
    return (PortMatch(protocol, start, end, written_as_range=True),)


def _ports(raw: Any, dialect: _Dialect, where: str) -> tuple[PortMatch, ...] | None:
    if raw is None:
        return None
    entries = as_list(raw, where)
    if not entries:
        raise PolicyError(f"{where}: must not be empty (leave it out for every port)")
    one = _v1alpha1_port if dialect.ports_key == "ports" else _v1alpha2_port
    return tuple(m for i, entry in enumerate(entries) for m in one(entry, f"{where}[{i}]"))


# --------------------------------------------------------------------------------------------
# Rules and policies
# --------------------------------------------------------------------------------------------


def _rule(raw: Any, direction: str, index: int, dialect: _Dialect, where: str) -> Rule:
    rule = as_mapping(raw, where)
    peer_key = _PEER_FIELD[direction]
    check_keys(rule, ("name", "action", peer_key, dialect.ports_key), where)
    action = dialect.actions.get(rule.get("action"))
    if action is None:
        raise PolicyError(
            f"{where}.action: {rule.get('action')!r} is not one of {', '.join(dialect.actions)}"
        )
    raw_peers = as_list(rule.get(peer_key), f"{where}.{peer_key}", required=True)
    if not raw_peers:
        raise PolicyError(f"{where}.{peer_key}: must list at least one peer")
    peers: list[Peer] = []
    reasons: list[str] = []
    for i, entry in enumerate(raw_peers):
        compiled, why = _peers(entry, direction, action, dialect, f"{where}.{peer_key}[{i}]")
        peers += compiled
        reasons += [r for r in why if r not in reasons]
    ports = _ports(rule.get(dialect.ports_key), dialect, f"{where}.{dialect.ports_key}")
    if ports and any(p.name for p in ports) and any(p.block or p.nodes or p.fqdn for p in peers):
        raise PolicyError(
            f"{where}: named ports cannot be used with networks, nodes or domainNames peers"
        )
    return Rule(direction, index, tuple(peers), ports, action, "; ".join(reasons))


def _label(obj: Mapping, kind: str) -> str:
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return f"{kind} {name if isinstance(name, str) and name else '<unnamed>'}"


def _placement(spec: Mapping, dialect: _Dialect, name: str, label: str) -> tuple[Tier, int]:
    """(tier, priority) of a policy."""
    if dialect.kind == BANP_KIND:
        if name != BANP_NAME:
            raise PolicyError(
                f"{label}: metadata.name: must be {BANP_NAME!r}, the singleton's name the CRD "
                "requires"
            )
        return BASELINE_TIER, 0
    where = f"{label}: spec"
    if "priority" not in spec:
        raise PolicyError(f"{where}.priority: is required")
    priority = _priority(spec["priority"], f"{where}.priority")
    if dialect.kind == ANP_KIND:
        return ADMIN_TIER, priority
    tier = _CNP_TIERS.get(spec.get("tier"))
    if tier is None:
        raise PolicyError(f"{where}.tier: {spec.get('tier')!r} is not Admin or Baseline")
    return tier, priority


def compile_object(obj: Mapping) -> list[Policy]:
    """One ANP, BANP or CNP object as one :class:`Policy` (in a list, as every reader
    returns); :class:`PolicyError` with a one-line reason when malformed or outside the
    CRDs."""
    obj = as_mapping(obj, "policy")
    dialect = _DIALECTS.get((obj.get("apiVersion"), obj.get("kind")))
    if dialect is None:
        read = ", ".join(f"{api} {kind}" for api, kind in sorted(KINDS))
        raise PolicyError(
            f"{_label(obj, str(obj.get('kind')))}: apiVersion/kind: "
            f"{obj.get('apiVersion')} {obj.get('kind')} is not one of {read}"
        )
    label = _label(obj, dialect.kind)
    check_keys(obj, ("apiVersion", "kind", "metadata", "spec", "status"), label)
    meta = as_mapping(obj.get("metadata"), f"{label}: metadata")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise PolicyError(f"{label}: metadata.name: is required")
    if meta.get("namespace"):
        raise PolicyError(f"{label}: metadata.namespace: a cluster-scoped kind has none")
    where = f"{label}: spec"
    spec = as_mapping(obj.get("spec"), where)
    check_keys(spec, dialect.spec_keys, where)
    tier, priority = _placement(spec, dialect, name, label)
    namespaces, subject = _subject(spec, dialect, where)
    rules: list[Rule] = []
    for direction in DIRECTIONS:
        raw_rules = as_list(spec.get(direction), f"{where}.{direction}")
        rules += [
            _rule(r, direction, i, dialect, f"{where}.{direction}[{i}]")
            for i, r in enumerate(raw_rules)
        ]
    isolates = tuple(d for d in DIRECTIONS if any(r.direction == d for r in rules))
    policy = Policy(
        name,
        None,
        subject,
        isolates,
        tuple(rules),
        tier=tier,
        priority=priority,
        kind=dialect.kind,
        namespaces=namespaces,
    )
    return [policy]
