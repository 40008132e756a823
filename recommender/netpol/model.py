"""The compiled policy model: what every policy dialect's reader compiles into.

A reader (:mod:`recommender.netpol.networkpolicy` for ``networking.k8s.io/v1``; Cilium,
Calico and the cluster-scoped AdminNetworkPolicy / BaselineAdminNetworkPolicy next) validates
its own format and produces :class:`Policy` objects; the evaluator and breadth work on these
only, so they never parse a dialect.

All types are immutable and hashable (frozen dataclasses with slots): a compiled selector
can key a cache, and the same object is shared by the evaluator and breadth.

Precedence. A policy sits in a :class:`Tier` and has a ``priority`` inside it; policies are
considered in :attr:`Policy.precedence` order (tier order, then priority, lower first). The
tiers, in the order Kubernetes' AdminNetworkPolicy API defines:

1. :data:`ADMIN_TIER` (AdminNetworkPolicy, ``spec.priority``): the first rule that matches,
   by priority then rule order, decides: ``allow`` and ``deny`` end the evaluation, ``pass``
   hands the connection to the next tier.
2. :data:`NETWORK_POLICY_TIER` (namespaced NetworkPolicy, and the dialects' namespaced
   policies that behave like it): allow-only and additive; a pod selected for a direction
   is isolated and admits what any selecting policy's rules allow. ``priority`` is 1000
   (Calico's order for Kubernetes NetworkPolicy in its ``default`` tier).
3. :data:`BASELINE_TIER` (BaselineAdminNetworkPolicy): applies only where no NetworkPolicy
   isolates the pod; first matching rule decides, as in the admin tier.

Other dialects' tiers (Calico's ordered tiers) take their own :class:`Tier` order; the
evaluator walks every tier as :class:`Tier` describes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "ADMIN_TIER",
    "BASELINE_TIER",
    "CILIUM_DENY_TIER",
    "DIRECTIONS",
    "ENTITIES",
    "NETWORK_POLICY_TIER",
    "NS_NAME_LABEL",
    "OPERATORS",
    "Action",
    "ContainerPort",
    "Endpoint",
    "FQDNMatch",
    "IPBlock",
    "Peer",
    "Policy",
    "PolicyError",
    "PortMatch",
    "Requirement",
    "Rule",
    "Selector",
    "Tier",
]

#: The label every namespace carries since Kubernetes 1.22, equal to its name.
NS_NAME_LABEL = "kubernetes.io/metadata.name"
#: The two directions a rule may have, in the order verdicts and reports list them.
DIRECTIONS = ("ingress", "egress")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class PolicyError(ValueError):
    """A policy object is malformed; the message names the policy and the field."""


# --------------------------------------------------------------------------------------------
# Endpoints: the two sides of a connection
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContainerPort:
    """A container port of a pod, for named-port resolution."""

    name: str | None
    port: int
    protocol: str = "TCP"


@dataclass(frozen=True, slots=True)
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
    #: DNS names this endpoint was reached by (lower case, no trailing dot), from the flow
    #: logs (Hubble ``destination_names``, DNS answers, Calico ``dest_domains``): what a
    #: Cilium ``toFQDNs`` peer is judged against. Empty: no name known.
    names: tuple[str, ...] = ()
    #: Cilium reserved identity of a non-pod endpoint as the log says it ("world", "host",
    #: "remote-node", "kube-apiserver", "health", "init", "ingress", "unmanaged"), or None:
    #: what a Cilium entity peer is judged against (with ``kind`` when it is None).
    reserved: str | None = None


# --------------------------------------------------------------------------------------------
# Selectors
# --------------------------------------------------------------------------------------------

_MISSING = object()
#: Label selector operators (Kubernetes ``LabelSelectorOperator``).
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


@dataclass(frozen=True, slots=True, order=True)
class Requirement:
    """One ``matchExpressions`` entry: ``key`` ``operator`` ``values``."""

    key: str
    operator: str  # one of OPERATORS
    values: tuple[str, ...] = ()  # sorted, distinct; empty for Exists / DoesNotExist

    def matches(self, labels: Mapping[str, str]) -> bool:
        got = labels.get(self.key, _MISSING)
        if self.operator == "In":
            return got is not _MISSING and got in self.values
        if self.operator == "NotIn":
            return got is _MISSING or got not in self.values
        if self.operator == "Exists":
            return got is not _MISSING
        return got is _MISSING  # DoesNotExist


@dataclass(frozen=True, slots=True)
class Selector:
    """A label selector: every ``match_labels`` pair AND every requirement. The empty
    selector matches everything. Build with :meth:`of` for the canonical (sorted) form, so
    that equal selectors compare and hash equal whatever order they were written in."""

    match_labels: tuple[tuple[str, str], ...] = ()
    requirements: tuple[Requirement, ...] = ()
    #: The label keys in the order the source wrote them, for text that quotes the policy
    #: (equal selectors may be written in different orders); not part of equality.
    written_keys: tuple[str, ...] = field(default=(), compare=False)
    #: The requirements as the source wrote them: in its order, duplicates and values as
    #: written (values not sorted or made distinct); not part of equality.
    written_requirements: tuple[Requirement, ...] = field(default=(), compare=False)

    @classmethod
    def of(
        cls, match_labels: Mapping[str, str] | None = None, requirements: Iterable = ()
    ) -> Selector:
        """The canonical selector; ``requirements``: :class:`Requirement` s or
        ``(key, operator, values)`` triples. The order they come in is kept for text
        (``written_keys``, ``written_requirements``)."""
        written = tuple(
            r if isinstance(r, Requirement) else Requirement(r[0], r[1], tuple(r[2] or ()))
            for r in requirements
        )
        reqs = {Requirement(r.key, r.operator, tuple(sorted(set(r.values)))) for r in written}
        labels = tuple(sorted(match_labels.items())) if match_labels else ()
        return cls(
            labels,
            tuple(sorted(reqs)) if reqs else (),
            tuple(match_labels) if match_labels else (),
            written,
        )

    @property
    def matches_all(self) -> bool:
        return not self.match_labels and not self.requirements

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.match_labels:
            if labels.get(key, _MISSING) != value:
                return False
        # most selectors have no requirements: skip building the generator for them
        return not self.requirements or all(r.matches(labels) for r in self.requirements)

    def keys_and_values(self) -> Iterable[tuple[str, tuple[str, ...]]]:
        """(key, values it names) per term: what tells label sets apart for this selector."""
        for key, value in self.match_labels:
            yield key, (value,)
        for req in self.requirements:
            yield req.key, req.values


# --------------------------------------------------------------------------------------------
# Peers and ports
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IPBlock:
    """A CIDR minus every ``except`` (each a strict subset of it, same family)."""

    network: Network
    excepts: tuple[Network, ...] = ()
    #: The CIDR and the excepts as the source spelled them (host bits, blanks), for text
    #: that quotes the policy; empty: the networks' own text. Not part of equality.
    written: tuple[str, ...] = field(default=(), compare=False)

    @property
    def cidr_text(self) -> str:
        """The CIDR as written."""
        return self.written[0] if self.written else str(self.network)

    @property
    def except_texts(self) -> tuple[str, ...]:
        """The excepts as written, in the source's order."""
        return self.written[1:] if self.written else tuple(map(str, self.excepts))

    def contains(self, addr: Address) -> bool:
        if addr.version != self.network.version or addr not in self.network:
            return False
        return not any(addr in ex for ex in self.excepts)

    @property
    def size(self) -> int:
        """The number of addresses the block admits."""
        return self.network.num_addresses - sum(e.num_addresses for e in self.excepts)


#: Cilium entities a peer may name (``toEntities`` / ``fromEntities``).
ENTITIES = (
    "all",
    "world",
    "world-ipv4",
    "world-ipv6",
    "cluster",
    "host",
    "remote-node",
    "kube-apiserver",
    "ingress",
    "health",
    "init",
    "unmanaged",
)


@dataclass(frozen=True, slots=True, order=True)
class FQDNMatch:
    """A Cilium ``toFQDNs`` entry: ``name`` (``matchName``, exact) or ``pattern``
    (``matchPattern``, ``*`` wildcards), both lower case without a trailing dot."""

    name: str | None = None
    pattern: str | None = None


@dataclass(frozen=True, slots=True)
class Peer:
    """Who a rule admits on the other side.

    Exactly one of these kinds, except that ``block`` may come with ``pods`` /
    ``namespaces`` (Calico's ``nets`` with a ``selector``: both must match):

    * ``block``: the addresses of the block (pods too, by their IP, when the evaluator's
      ``ipblock_matches_pods`` is on).
    * ``pods`` / ``namespaces``: pods only: those of the namespaces ``namespaces`` selects
      (None: the policy's own namespace; for a cluster-scoped policy, every namespace)
      whose labels ``pods`` selects (None: every pod of those namespaces).
    * ``entity``: a Cilium entity (:data:`ENTITIES`), judged on the endpoint's ``kind``
      and ``reserved`` identity.
    * ``fqdn``: a Cilium ``toFQDNs`` entry, judged on the endpoint's observed ``names``.
    * ``nodes``: nodes by their labels (AdminNetworkPolicy ``nodes`` peers); node labels
      are not in flow logs, so a rule with such a peer is compiled ``unjudged``.

    A rule whose ``peers`` is None admits any peer.
    """

    pods: Selector | None = None
    namespaces: Selector | None = None
    block: IPBlock | None = None
    entity: str | None = None
    fqdn: FQDNMatch | None = None
    nodes: Selector | None = None


@dataclass(frozen=True, slots=True)
class PortMatch:
    """A protocol and a port: one number or a range (``start``..``end`` inclusive), a
    named port (resolved on the destination pod's container ports), or, with all three
    None, every port of the protocol. A rule whose ``ports`` is None admits every port and
    protocol, and is the only kind that admits a port-less connection (ICMP)."""

    protocol: str = "TCP"
    start: int | None = None
    end: int | None = None
    name: str | None = None
    #: The source wrote a range (NetworkPolicy ``endPort``), even one of a single port; for
    #: text only, not part of equality.
    written_as_range: bool = field(default=False, compare=False)

    def matches(self, protocol: str, port: int, dst: Endpoint) -> bool:
        if protocol != self.protocol:
            return False
        if self.name is not None:
            if dst.kind != "pod":
                return False
            return any(
                cp.name == self.name and cp.protocol == protocol and cp.port == port
                for cp in dst.ports
            )
        if self.start is None:
            return True
        return self.start <= port <= self.end  # type: ignore[operator]


# --------------------------------------------------------------------------------------------
# Rules and policies
# --------------------------------------------------------------------------------------------


class Action(StrEnum):
    """What a matching rule does. NetworkPolicy rules only allow; ``deny`` and ``pass``
    are for the admin tiers (see the module docstring)."""

    ALLOW = "allow"
    DENY = "deny"
    PASS = "pass"


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: ``direction`` ("ingress" | "egress"), its position among the policy's
    rules of that direction (as the source spells it: ``spec.ingress[index]``), who it
    admits (None: any peer) on which ports (None: any port and protocol), and its action."""

    direction: str
    index: int
    peers: tuple[Peer, ...] | None = None
    ports: tuple[PortMatch, ...] | None = None
    action: Action = Action.ALLOW
    #: Why the rule cannot be judged exactly ("" = it can): an L7 HTTP rule, ICMP types,
    #: a field outside the subset the reader compiles. Its L3/L4 part is compiled; a
    #: connection it matches is counted unjudged, never allowed or denied on its word.
    unjudged: str = ""


@dataclass(frozen=True, slots=True, order=True)
class Tier:
    """A precedence tier: lower ``order`` is considered first.

    Inside a tier, the policies that select the endpoint for a direction are walked in
    (priority, key) order and their rules in source order; the first rule that matches
    decides (``allow`` / ``deny`` end the evaluation, ``pass`` goes to the next tier). When
    such policies exist but no rule matches, ``default`` decides: "deny" (NetworkPolicy's
    isolation, Calico's end-of-tier deny), "pass" (admin tiers), or "allow". No selecting
    policy: the next tier. After the last tier: allowed.

    The orders are Calico's (its AdminNetworkPolicy tier 1,000, ``default`` tier
    1,000,000 where Kubernetes NetworkPolicy lives, baseline 10,000,000), so a Calico
    reader places its own tiers by their ``spec.order``."""

    order: float
    name: str
    default: str = "deny"


ADMIN_TIER = Tier(1_000, "admin", "pass")
#: Cilium deny rules win over any allow: they sit in a tier of their own just before the
#: allow rules' tier, and pass what they do not deny.
CILIUM_DENY_TIER = Tier(999_999, "cilium-deny", "pass")
NETWORK_POLICY_TIER = Tier(1_000_000, "networkpolicy", "deny")
BASELINE_TIER = Tier(10_000_000, "baseline", "pass")


@dataclass(frozen=True, slots=True)
class Policy:
    """One compiled policy.

    ``namespace`` None means cluster-scoped. ``subject`` selects the pods the policy
    applies to (in ``namespace`` for a namespaced policy); ``isolates``: the directions it
    applies to (NetworkPolicy's effective ``policyTypes``, as "ingress"/"egress"), and
    ``rules`` only the rules of those directions (rules written for another direction have
    no effect and are not compiled in: ``ignored`` names those directions, for a warning).
    """

    name: str
    namespace: str | None
    subject: Selector
    isolates: tuple[str, ...]
    rules: tuple[Rule, ...] = ()
    tier: Tier = NETWORK_POLICY_TIER
    priority: float = 0
    #: Directions with rules written that ``isolates`` does not list: they have no effect,
    #: so they are not part of equality.
    ignored: tuple[str, ...] = field(default=(), compare=False)
    #: The object's kind ("NetworkPolicy", "CiliumNetworkPolicy", ...): names in reports,
    #: and tells apart two objects of different kinds with the same name.
    kind: str = "NetworkPolicy"
    #: Cluster-scoped policies only: the namespaces whose pods ``subject`` may select
    #: (None: every namespace).
    namespaces: Selector | None = None
    #: What the reader could not compile for the whole policy, one line each (features
    #: outside the subset); a rule's own reason is on :attr:`Rule.unjudged`.
    unjudged: tuple[str, ...] = field(default=(), compare=False)

    @property
    def key(self) -> str:
        """``namespace/name``, or the name alone for a cluster-scoped policy."""
        return self.name if self.namespace is None else f"{self.namespace}/{self.name}"

    @property
    def label(self) -> str:
        """How reports name the policy: its key, after its kind when that is not
        NetworkPolicy (two objects of different kinds may share a name)."""
        return self.key if self.kind == "NetworkPolicy" else f"{self.kind} {self.key}"

    @property
    def precedence(self) -> tuple[Tier, int, str]:
        """The order policies are considered in: tier, then priority, then key."""
        return (self.tier, self.priority, self.key)

    def rules_of(self, direction: str) -> tuple[Rule, ...]:
        """The rules of one direction, in source order."""
        return tuple(r for r in self.rules if r.direction == direction)
