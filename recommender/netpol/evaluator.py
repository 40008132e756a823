"""An exact, independent evaluator of compiled policies (:mod:`recommender.netpol.model`).

DESIGN.md section 4 is the contract. In short:

* A pod is *selected* for a direction by the namespaced policies of **its own** namespace
  whose :attr:`Policy.subject` matches it, and by the cluster-scoped ones (``namespace``
  None) whose :attr:`Policy.namespaces` matches its namespace's labels and whose subject
  matches it; each applies to the directions in :attr:`Policy.isolates`.
* Tiers (:class:`~recommender.netpol.model.Tier`): per direction the selecting policies are
  walked tier by tier, in (priority, key) order, rules in source order; the first matching
  rule decides (allow / deny end it, pass hands it to the next tier); a tier with selecting
  policies but no match ends with its ``default``; after the last tier: allowed. A run of
  allow rules is additive (NetworkPolicy's tier is nothing else); see :meth:`Evaluator._walk`
  for rules it cannot judge (:attr:`Rule.unjudged`): a matching one makes the side unjudged,
  never allowed.
* Pod-to-pod needs the source's egress **and** the destination's ingress. When one side is not a
  pod (``Endpoint.kind != "pod"``) only the pod's side is checked; no policy restricts a non-pod.
* Peers: a pod selector alone means pods of the policy's namespace (every namespace for a
  cluster-scoped policy); a namespace selector alone means every pod of the matching
  namespaces (never a bare IP); both in one peer are ANDed; separate peers are ORed; a rule
  without peers admits everything, external IPs included. An ipBlock is a CIDR minus its
  excepts; whether it also matches pods by their IP is the ``ipblock_matches_pods`` option
  (default: yes, unless the set holds Cilium policies); an ipBlock with a selector (Calico
  ``nets`` and ``selector``) needs both. Cilium entities and ``toFQDNs``:
  :mod:`recommender.netpol.identities`. Node peers match nothing (their rules are compiled
  unjudged).
* Ports: a named port resolves on the destination pod's container ports (for egress rules
  too), protocol included; a rule without ports admits every port and protocol; a port-less
  connection (ICMP, ``port=None``) matches only such a rule or, for ICMP / ICMPv6, a port
  entry of that protocol without a number.

Policies are compiled once (by a reader such as :mod:`recommender.netpol.networkpolicy`);
:class:`Evaluator` indexes them per namespace and caches which policies select a pod;
:meth:`Evaluator.evaluate` does no parsing. A set of namespaced, allow-only,
NetworkPolicy-tier policies (:attr:`Evaluator.network_policy_only`) takes the additive fast
path it always took; any other set walks the tiers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from .identities import entity_matches, fqdn_matches
from .ipranges import EVERYTHING, Span, block_spans, covers, overlaps, parse_ip, range_spans
from .model import (
    CILIUM_DENY_TIER,
    DIRECTIONS,
    NETWORK_POLICY_TIER,
    NS_NAME_LABEL,
    Action,
    Endpoint,
    Peer,
    Policy,
    PolicyError,
    PortMatch,
    Rule,
    Tier,
)
from .read import compile_objects, uses_cilium

__all__ = [
    "DirectionVerdict",
    "Evaluator",
    "RuleRef",
    "TierDetail",
    "Verdict",
    "describe",
    "rule_section",
]


def rule_section(policy: Policy, rule: Rule) -> str:
    """The list the rule sits in as its source spells it: its direction, or Cilium's
    ``ingressDeny`` / ``egressDeny`` for a rule of a Cilium policy's deny part (compiled
    into :data:`~.model.CILIUM_DENY_TIER`, with the same direction and index as the allow
    rule it would otherwise be confused with)."""
    if policy.tier == CILIUM_DENY_TIER and policy.kind.startswith("Cilium"):
        return f"{rule.direction}Deny"
    return rule.direction


@dataclass(frozen=True, order=True, slots=True)
class RuleRef:
    """One rule of one policy: ``spec.<direction>[index]`` of ``namespace/policy``
    (``namespace`` "" for a cluster-scoped policy); ``kind`` tells apart objects of
    different kinds with the same name, ``section`` a rule listed elsewhere than under its
    direction (Cilium's ``ingressDeny``: :func:`rule_section`)."""

    namespace: str
    policy: str
    direction: str  # "ingress" | "egress"
    index: int  # index of the rule in spec.ingress / spec.egress (or ``section``)
    kind: str = "NetworkPolicy"
    #: The rule list when it is not ``direction`` ("ingressDeny", "egressDeny"); "" else.
    section: str = ""

    @property
    def list_name(self) -> str:
        """The rule list as the source spells it: ``section``, else ``direction``."""
        return self.section or self.direction

    @property
    def policy_key(self) -> str:
        """``namespace/policy``, or the name alone for a cluster-scoped policy."""
        return f"{self.namespace}/{self.policy}" if self.namespace else self.policy

    @property
    def policy_label(self) -> str:
        """The policy as reports name it (:attr:`Policy.label`)."""
        key = self.policy_key
        return key if self.kind == "NetworkPolicy" else f"{self.kind} {key}"

    def __str__(self) -> str:
        return f"{self.policy_label} {self.list_name}[{self.index}]"

    @classmethod
    def of(cls, policy: Policy, rule: Rule) -> RuleRef:
        section = rule_section(policy, rule)
        return cls(
            policy.namespace or "",
            policy.name,
            rule.direction,
            rule.index,
            policy.kind,
            "" if section == rule.direction else section,
        )


@dataclass(frozen=True, slots=True)
class TierDetail:
    """How a walk through the tiers decided one side (:class:`DirectionVerdict`)."""

    #: The tier that decided (a rule or its default); None: no tier decided (allowed after
    #: the last tier). Not part of equality.
    tier: Tier | None = field(default=None, compare=False)
    #: The deny rule that decided, when one did.
    denied_by: RuleRef | None = None
    #: The pass rules that handed the connection on, in the order they did.
    passed_by: tuple[RuleRef, ...] = ()
    #: Matching rules the evaluator cannot judge.
    unjudged_by: tuple[RuleRef, ...] = ()
    #: Why, one reason per ``unjudged_by`` entry; not part of equality.
    unjudged_reasons: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class DirectionVerdict:
    """The verdict of one side: the source's egress or the destination's ingress."""

    applies: bool  # False when this side is not a pod (no policy can restrict it)
    isolated: bool  # some policy selects it for this direction
    allowed: bool  # judged and allowed: no policy decided, or an allow rule / default did
    isolated_by: tuple[str, ...]  # labels of the policies selecting the pod (sorted)
    allowed_by: tuple[RuleRef, ...]  # allow rules that matched in the deciding tier (sorted)
    #: Display text of the endpoint this side belongs to (for :meth:`Verdict.explain`);
    #: not part of equality.
    subject: str = field(default="", compare=False)
    #: "ingress" | "egress" (for :meth:`Verdict.explain`); not part of equality.
    direction: str = field(default="", compare=False)
    #: How the tiers decided (None on the fast, NetworkPolicy-only path: one additive tier).
    #: One optional field keeps the fast path's verdicts as cheap to build as before.
    detail: TierDetail | None = None

    @property
    def tier(self) -> Tier | None:
        """The tier that decided (a rule or its default); None: no tier decided."""
        if self.detail is None:
            return NETWORK_POLICY_TIER if self.isolated else None
        return self.detail.tier

    @property
    def denied_by(self) -> RuleRef | None:
        """The deny rule that decided, when one did."""
        return None if self.detail is None else self.detail.denied_by

    @property
    def passed_by(self) -> tuple[RuleRef, ...]:
        """The pass rules that handed the connection on, in the order they did."""
        return () if self.detail is None else self.detail.passed_by

    @property
    def unjudged_by(self) -> tuple[RuleRef, ...]:
        """Matching rules the evaluator cannot judge (:attr:`Rule.unjudged`): non-empty
        means the verdict is unknown, and ``allowed`` is False."""
        return () if self.detail is None else self.detail.unjudged_by

    @property
    def unjudged_reasons(self) -> tuple[str, ...]:
        """Why, one reason per ``unjudged_by`` entry."""
        return () if self.detail is None else self.detail.unjudged_reasons

    @property
    def judged(self) -> bool:
        return self.detail is None or not self.detail.unjudged_by

    def explain(self) -> str:
        head = f"{self.direction or 'direction'} of {self.subject or '?'}"
        if not self.applies:
            return f"{head}: allowed: not a pod, no NetworkPolicy applies"
        if not self.isolated:
            return f"{head}: allowed: not isolated, no policy selects it for {self.direction}"
        if self.unjudged_by:
            why = "; ".join(
                f"{r}: {reason}"
                for r, reason in zip(self.unjudged_by, self.unjudged_reasons, strict=False)
            )
            return f"{head}: unjudged: {why or ', '.join(map(str, self.unjudged_by))}"
        passed = ""
        if self.passed_by:
            passed = " (passed on by " + ", ".join(str(r) for r in self.passed_by) + ")"
        if self.allowed:
            return self._explain_allowed(head) + passed
        if self.denied_by is not None:
            return f"{head}: denied by {self.denied_by}{passed}"
        return self._explain_default_deny(head) + passed

    def _explain_allowed(self, head: str) -> str:
        if self.allowed_by:
            return f"{head}: allowed by " + ", ".join(str(r) for r in self.allowed_by)
        selected = ", ".join(self.isolated_by)
        if self.tier is not None:
            return f"{head}: allowed: {self.tier.name} tier default, selected by {selected}"
        return f"{head}: allowed: no tier decides (selected by {selected})"

    def _explain_default_deny(self, head: str) -> str:
        isolated = ", ".join(self.isolated_by)
        tier = ""
        if self.tier is not None and self.tier != NETWORK_POLICY_TIER:
            tier = f" ({self.tier.name} tier default)"
        if self.allowed_by:  # an address set that the matching rules admit only in part
            partial = ", ".join(str(r) for r in self.allowed_by)
            return (
                f"{head}: denied: isolated by {isolated}; {partial} admit only part of the "
                f"peer{tier}"
            )
        return f"{head}: denied: isolated by {isolated}, no rule matches{tier}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The verdict on one connection."""

    allowed: bool  # egress.allowed and ingress.allowed
    egress: DirectionVerdict  # the source's egress side
    ingress: DirectionVerdict  # the destination's ingress side

    @property
    def judged(self) -> bool:
        """Known: both sides judged, or one side judged denied (which decides alone)."""
        sides = (self.egress, self.ingress)
        if all(s.judged for s in sides):
            return True
        return any(s.judged and not s.allowed for s in sides)

    @property
    def unjudged_by(self) -> tuple[RuleRef, ...]:
        """The unjudged rules that leave the verdict unknown (empty when it is judged)."""
        if self.judged:
            return ()
        return tuple(sorted(set(self.egress.unjudged_by + self.ingress.unjudged_by)))

    def explain(self) -> list[str]:
        """Human lines, egress side first, e.g.
        ``egress of shop/cart: allowed by shop/cart-policy egress[0]`` or
        ``ingress of shop/db: denied: isolated by shop/default-deny, no rule matches``."""
        return [self.egress.explain(), self.ingress.explain()]


def describe(ep: Endpoint) -> str:
    """How a verdict names an endpoint: ``ns/pod`` for a pod, ``kind name (ip)`` else."""
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


@dataclass(frozen=True, slots=True)
class _Target:
    """A policy as the evaluator walks it: its key and its rules by direction, once."""

    policy: Policy
    key: str
    rules: Mapping[str, tuple[Rule, ...]]


def _port_rules(
    selecting: Sequence[_Target], direction: str, protocol: str, port: int | None, dst: Endpoint
) -> Iterable[tuple[Policy, Rule]]:
    """The rules of the selecting policies, in one direction, whose ports admit the
    connection (no ``ports``: every port; a port-less connection: only those)."""
    for target in selecting:
        for rule in target.rules[direction]:
            ports = rule.ports
            if ports is None or (
                any(p.matches(protocol, port, dst) for p in ports)
                if port is not None
                else protocol in _ICMP and any(_is_icmp_any(p, protocol) for p in ports)
            ):
                yield target.policy, rule


def _is_network_policy_only(pol: Policy) -> bool:
    """Whether ``pol`` behaves as a namespaced NetworkPolicy: the fast, additive path."""
    return (
        pol.tier == NETWORK_POLICY_TIER
        and pol.namespace is not None
        and all(r.action == Action.ALLOW and not r.unjudged for r in pol.rules)
        and all(
            p.block is None or (p.pods is None and p.namespaces is None)
            for r in pol.rules
            for p in (r.peers or ())
        )
        and all(
            p.entity is None and p.fqdn is None and p.nodes is None
            for r in pol.rules
            for p in (r.peers or ())
        )
    )


def _is_icmp_any(pm: PortMatch, protocol: str) -> bool:
    return pm.protocol == protocol and pm.start is None and pm.name is None


def _ports_admit(rule: Rule, protocol: str, port: int | None, dst: Endpoint) -> bool:
    """Whether the rule's ports admit the connection; a port-less connection only by a
    rule without ports or, for ICMP / ICMPv6, a port entry of that protocol and no number."""
    ports = rule.ports
    if ports is None:
        return True
    if port is None:
        return protocol in _ICMP and any(_is_icmp_any(p, protocol) for p in ports)
    return any(p.matches(protocol, port, dst) for p in ports)


_ICMP = ("ICMP", "ICMPv6")


@dataclass(slots=True)
class _Walk:
    """What walking the tiers of one side found."""

    allowed: bool = True
    tier: Tier | None = None
    allowed_by: list[tuple[Policy, Rule]] = field(default_factory=list)
    denied_by: tuple[Policy, Rule] | None = None
    passed_by: list[tuple[Policy, Rule]] = field(default_factory=list)
    unjudged_by: list[tuple[Policy, Rule]] = field(default_factory=list)


class Evaluator:
    """Answers "is this connection allowed, and by which rules?" for a fixed set of policies."""

    def __init__(
        self, policies: Iterable[Policy | Mapping], *, ipblock_matches_pods: bool | None = None
    ) -> None:
        """policies: compiled :class:`Policy` objects, or policy dicts of any kind a reader
        reads (as from ``yaml.safe_load``), compiled here (:func:`.read.compile_objects`:
        raises :class:`PolicyError` for a malformed one or a duplicate name; the readers'
        notes are dropped: compile first to keep them).

        ``ipblock_matches_pods``: whether an ipBlock (a CIDR peer) also matches pods by
        their address. None: by the policies: no when the set holds Cilium policies (the
        cluster runs Cilium, whose CIDR rules and NetworkPolicy ipBlocks match no in-cluster
        endpoint by default), yes otherwise (Calico, and the NetworkPolicy API's words)."""
        items = list(policies)
        if not all(isinstance(p, Policy) for p in items):
            items = compile_objects(items)[0]
        if ipblock_matches_pods is None:
            ipblock_matches_pods = not uses_cilium(items)
        self.ipblock_matches_pods = ipblock_matches_pods
        by_ns: dict[str, list[_Target]] = {}
        cluster: list[_Target] = []
        # One object may compile into one policy per tier (a Cilium policy's deny part).
        seen: set[tuple[str, str, Tier]] = set()
        for pol in items:
            if (pol.kind, pol.key, pol.tier) in seen:
                raise PolicyError(f"{pol.label}: metadata.name: duplicate policy")
            seen.add((pol.kind, pol.key, pol.tier))
            rules = {d: pol.rules_of(d) for d in DIRECTIONS}
            target = _Target(pol, pol.label, rules)
            if pol.namespace is None:
                cluster.append(target)
            else:
                by_ns.setdefault(pol.namespace, []).append(target)
        self._by_ns: dict[str, tuple[_Target, ...]] = {
            ns: tuple(sorted(ts, key=lambda t: (t.policy.name, t.policy.kind)))
            for ns, ts in by_ns.items()
        }
        self._cluster = tuple(cluster)
        #: Every policy, in the order given: what breadth and replay compile from.
        self.policies: tuple[Policy, ...] = tuple(items)
        #: Every policy is a namespaced, allow-only NetworkPolicy-tier policy with nothing
        #: unjudged: one additive tier, the fast path (and what breadth counts exactly).
        self.network_policy_only = all(_is_network_policy_only(p) for p in items)
        # (namespace, frozenset(labels)[, frozenset(ns labels)]) -> per direction targets
        self._selecting: dict[tuple, dict[str, tuple[_Target, ...]]] = {}

    @property
    def namespaces(self) -> tuple[str, ...]:
        """Namespaces that hold at least one namespaced policy."""
        return tuple(sorted(self._by_ns))

    # -- selection ---------------------------------------------------------------------------

    def _select(self, pod: Endpoint) -> dict[str, tuple[_Target, ...]]:
        """The policies selecting ``pod`` per direction, in precedence order (one tier and
        name order on the fast path)."""
        if pod.namespace is None:
            raise ValueError(f"pod endpoint {pod.name or pod.ip or '?'} has no namespace")
        if self.network_policy_only:
            key: tuple = (pod.namespace, frozenset(pod.labels.items()))
        else:
            key = (pod.namespace, frozenset(pod.labels.items()), frozenset(_ns_labels(pod).items()))
        hit = self._selecting.get(key)
        if hit is None:
            chosen = [
                t
                for t in self._by_ns.get(pod.namespace, ())
                if t.policy.subject.matches(pod.labels)
            ]
            if self._cluster:
                ns_labels = _ns_labels(pod)
                chosen += [
                    t
                    for t in self._cluster
                    if (t.policy.namespaces is None or t.policy.namespaces.matches(ns_labels))
                    and t.policy.subject.matches(pod.labels)
                ]
            if not self.network_policy_only:
                chosen.sort(key=lambda t: (t.policy.precedence, t.policy.kind))
            hit = {d: tuple(t for t in chosen if d in t.policy.isolates) for d in DIRECTIONS}
            self._selecting[key] = hit
        return hit

    def policies_selecting(self, pod: Endpoint, direction: str) -> list[str]:
        """Labels (``ns/name``; the kind first when not NetworkPolicy) of the policies that
        select ``pod`` for ``direction`` ("ingress" or "egress"), sorted. Empty for a
        non-pod endpoint."""
        d = direction.lower()
        if d not in DIRECTIONS:
            raise ValueError(f"direction must be 'ingress' or 'egress', got {direction!r}")
        if pod.kind != "pod":
            return []
        return sorted(t.key for t in self._select(pod)[d])

    # -- matching ----------------------------------------------------------------------------

    def _peer_matches(
        self, peer: Peer, ep: Endpoint, ns_labels: Mapping[str, str] | None, policy_ns: str | None
    ) -> bool:
        """Any peer kind (see the module docstring)."""
        if peer.entity is not None:
            return entity_matches(peer.entity, ep)
        if peer.fqdn is not None:
            return fqdn_matches(peer.fqdn, ep)
        if peer.nodes is not None:
            return False  # node labels are not in flow logs: the rule is compiled unjudged
        if peer.block is not None and (peer.pods is not None or peer.namespaces is not None):
            if ep.kind != "pod" or not (ep.ip and peer.block.contains(parse_ip(ep.ip))):
                return False
            return self._np_peer_matches(replace(peer, block=None), ep, ns_labels, policy_ns)
        return self._np_peer_matches(peer, ep, ns_labels, policy_ns)

    def _np_peer_matches(
        self, peer: Peer, ep: Endpoint, ns_labels: Mapping[str, str] | None, policy_ns: str | None
    ) -> bool:
        """A NetworkPolicy peer: an ipBlock, or pods by namespace and pod selectors."""
        if peer.block is not None:
            if ep.kind == "pod" and not self.ipblock_matches_pods:
                return False
            return bool(ep.ip) and peer.block.contains(parse_ip(ep.ip))  # type: ignore[arg-type]
        if ep.kind != "pod":
            return False
        if peer.namespaces is None:
            if policy_ns is not None and ep.namespace != policy_ns:
                return False
        elif not peer.namespaces.matches(ns_labels or {}):
            return False
        return peer.pods is None or peer.pods.matches(ep.labels)

    def _rule_matches(
        self, pol: Policy, rule: Rule, peer: Endpoint, ns_labels: Mapping[str, str] | None
    ) -> bool:
        return rule.peers is None or any(
            self._peer_matches(pr, peer, ns_labels, pol.namespace) for pr in rule.peers
        )

    def _side(
        self,
        direction: str,
        subject: Endpoint,
        peer: Endpoint,
        dst: Endpoint,
        protocol: str,
        port: int | None,
    ) -> DirectionVerdict:
        text = describe(subject)
        if subject.kind != "pod":
            return DirectionVerdict(False, False, True, (), (), text, direction)
        selecting = self._select(subject)[direction]
        if not selecting:
            return DirectionVerdict(True, False, True, (), (), text, direction)
        if not self.network_policy_only:
            return self._tiered_side(direction, selecting, peer, dst, protocol, port, text)
        rules = _port_rules(selecting, direction, protocol, port, dst)
        if peer.kind != "pod" and peer.ranges:
            allowed, matched = self._admit_set(peer, rules)
        else:
            ns_labels = _ns_labels(peer) if peer.kind == "pod" else None
            matched = [
                (pol, rule)
                for pol, rule in rules
                if rule.peers is None
                or any(
                    self._np_peer_matches(pr, peer, ns_labels, pol.namespace) for pr in rule.peers
                )
            ]
            allowed = bool(matched)
        refs = [
            RuleRef(pol.namespace, pol.name, direction, rule.index, pol.kind)
            for pol, rule in matched
        ]  # type: ignore[arg-type]
        return DirectionVerdict(
            True,
            True,
            allowed,
            tuple(t.key for t in selecting),
            tuple(sorted(refs)),
            text,
            direction,
        )

    # -- tiers -------------------------------------------------------------------------------

    def _walk(
        self,
        direction: str,
        selecting: Sequence[_Target],
        peer: Endpoint,
        dst: Endpoint,
        protocol: str,
        port: int | None,
    ) -> _Walk:
        """Walk the tiers in order (see :class:`~recommender.netpol.model.Tier`). In a tier,
        the matching rules up to the first deny or pass form a run of allows: a judged
        allow in it allows (an unjudged one's L7 or ICMP-type condition cannot take away
        what another rule admits), else an unjudged allow leaves the verdict unknown; then
        the deny / pass decides (unknown when that rule is unjudged)."""
        out = _Walk()
        ns_labels = _ns_labels(peer) if peer.kind == "pod" else None
        i = 0
        while i < len(selecting):
            tier = selecting[i].policy.tier
            j = i
            while j < len(selecting) and selecting[j].policy.tier == tier:
                j += 1
            decided = self._walk_tier(
                out, tier, selecting[i:j], direction, peer, ns_labels, dst, protocol, port
            )
            if decided:
                return out
            i = j
        return out

    def _walk_tier(
        self,
        out: _Walk,
        tier: Tier,
        targets: Sequence[_Target],
        direction: str,
        peer: Endpoint,
        ns_labels: Mapping[str, str] | None,
        dst: Endpoint,
        protocol: str,
        port: int | None,
    ) -> bool:
        """One tier of :meth:`_walk`: whether it decided (``out`` filled)."""
        allows: list[tuple[Policy, Rule]] = []
        unjudged: list[tuple[Policy, Rule]] = []
        stop: tuple[Policy, Rule] | None = None
        for target in targets:
            for rule in target.rules[direction]:
                if not _ports_admit(rule, protocol, port, dst):
                    continue
                if not self._rule_matches(target.policy, rule, peer, ns_labels):
                    continue
                if rule.action == Action.ALLOW:
                    (unjudged if rule.unjudged else allows).append((target.policy, rule))
                    continue
                stop = (target.policy, rule)
                break
            if stop is not None:
                break
        out.tier = tier
        if allows:
            out.allowed_by = allows
            return True
        if unjudged:
            out.allowed, out.unjudged_by = False, unjudged
            return True
        if stop is not None:
            pol, rule = stop
            if rule.unjudged:
                out.allowed, out.unjudged_by = False, [stop]
                return True
            if rule.action == Action.DENY:
                out.allowed, out.denied_by = False, stop
                return True
            out.passed_by.append(stop)  # pass: the next tier decides
            out.tier = None
            return False
        if tier.default == "pass":
            out.tier = None
            return False
        out.allowed = tier.default == "allow"
        return True

    def _tiered_side(
        self,
        direction: str,
        selecting: Sequence[_Target],
        peer: Endpoint,
        dst: Endpoint,
        protocol: str,
        port: int | None,
        text: str,
    ) -> DirectionVerdict:
        if peer.kind != "pod" and peer.ranges:
            return self._tiered_set(direction, selecting, peer, dst, protocol, port, text)
        walk = self._walk(direction, selecting, peer, dst, protocol, port)
        unjudged = sorted({RuleRef.of(p, r): r.unjudged for p, r in walk.unjudged_by}.items())
        return DirectionVerdict(
            True,
            True,
            walk.allowed,
            tuple(sorted(t.key for t in selecting)),
            tuple(sorted(RuleRef.of(p, r) for p, r in walk.allowed_by)),
            text,
            direction,
            TierDetail(
                walk.tier,
                RuleRef.of(*walk.denied_by) if walk.denied_by else None,
                tuple(RuleRef.of(p, r) for p, r in walk.passed_by),
                tuple(r for r, _ in unjudged),
                tuple(why for _, why in unjudged),
            ),
        )

    def _tiered_set(
        self,
        direction: str,
        selecting: Sequence[_Target],
        peer: Endpoint,
        dst: Endpoint,
        protocol: str,
        port: int | None,
        text: str,
    ) -> DirectionVerdict:
        """Towards a peer that stands for a set of addresses, under tiers: the set is cut
        where any selecting policy's ipBlock starts or ends, and each piece (on which every
        block agrees) is judged by its first address; allowed when every piece is."""
        pieces = _pieces(
            range_spans(peer.ranges),
            [
                span
                for t in selecting
                for rule in t.rules[direction]
                for pr in rule.peers or ()
                if pr.block is not None
                for span in block_spans(pr.block)
            ],
        )
        sides = [
            self._tiered_side(
                direction,
                selecting,
                replace(peer, ip=_address_text(version, lo), ranges=()),
                dst,
                protocol,
                port,
                text,
            )
            for version, lo, _ in pieces
        ]
        denied = [s for s in sides if s.judged and not s.allowed]
        unjudged = [s for s in sides if not s.judged] if not denied else []
        first = (denied or unjudged or sides)[0]
        allowed_by = sorted({r for s in sides if s.allowed for r in s.allowed_by})
        detail = first.detail or TierDetail()
        if unjudged:
            pairs = sorted(
                {
                    r: w
                    for s in unjudged
                    for r, w in zip(s.unjudged_by, s.unjudged_reasons, strict=True)
                }.items()
            )
            detail = replace(
                detail,
                unjudged_by=tuple(r for r, _ in pairs),
                unjudged_reasons=tuple(w for _, w in pairs),
            )
        return replace(
            first,
            allowed=not denied and not unjudged,
            allowed_by=tuple(allowed_by),
            detail=detail,
        )

    @staticmethod
    def _admit_set(
        peer: Endpoint, rules: Iterable[tuple[Policy, Rule]]
    ) -> tuple[bool, list[tuple[Policy, Rule]]]:
        """Towards a peer that stands for a set of addresses: (whether the rules that match
        the port together admit every address of the set, the rules that admit some)."""
        wanted = range_spans(peer.ranges)
        admitted: list[Span] = []
        matched: list[tuple[Policy, Rule]] = []
        for pol, rule in rules:
            if rule.peers is None:
                spans: list[Span] = list(EVERYTHING)
            else:
                spans = [s for pr in rule.peers if pr.block for s in block_spans(pr.block)]
            if spans and overlaps(spans, wanted):
                admitted += spans
                matched.append((pol, rule))
        return covers(admitted, wanted), matched

    def evaluate(self, src: Endpoint, dst: Endpoint, protocol: str, port: int | None) -> Verdict:
        """Whether ``src`` may open a ``protocol``/``port`` connection to ``dst``.

        ``port`` is the destination port, None for port-less protocols (ICMP), which only rules
        without ``ports`` (or, for ICMP / ICMPv6, a port entry of that protocol without a
        number) admit. ``protocol`` is compared exactly ("TCP", "UDP", "SCTP", "ICMP")."""
        egress = self._side("egress", src, dst, dst, protocol, port)
        ingress = self._side("ingress", dst, src, dst, protocol, port)
        return Verdict(egress.allowed and ingress.allowed, egress, ingress)


def _address_text(version: int, value: int) -> str:
    return str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value))


def _pieces(wanted: Sequence[Span], blocks: Sequence[Span]) -> list[Span]:
    """``wanted`` cut at every start and end of ``blocks``: spans no block splits."""
    out: list[Span] = []
    for version, lo, hi in wanted:
        cuts = {lo, hi + 1}
        for v, b_lo, b_hi in blocks:
            if v == version:
                cuts |= {c for c in (b_lo, b_hi + 1) if lo < c <= hi}
        edges = sorted(cuts)
        out += [(version, a, b - 1) for a, b in zip(edges, edges[1:], strict=False)]
    return out
