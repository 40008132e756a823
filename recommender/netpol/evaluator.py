"""An exact, independent evaluator of compiled policies (:mod:`recommender.netpol.model`).

DESIGN.md section 4 is the contract. In short:

* A pod is *isolated* for a direction when some policy in **its own** namespace selects it
  (:attr:`Policy.subject`) and isolates that direction (:attr:`Policy.isolates`). An isolated
  pod admits a connection when any rule of any selecting policy matches both the peer and the
  port.
* Pod-to-pod needs the source's egress **and** the destination's ingress. When one side is not a
  pod (``Endpoint.kind != "pod"``) only the pod's side is checked; no policy restricts a non-pod.
* Peers: a pod selector alone means pods of the policy's namespace; a namespace selector alone
  means every pod of the matching namespaces (never a bare IP); both in one peer are ANDed;
  separate peers are ORed; a rule without peers admits everything, external IPs included. An
  ipBlock is a CIDR minus its excepts; whether it also matches pods by their IP is the
  ``ipblock_matches_pods`` option (Calico and Cilium: yes).
* Ports: a named port resolves on the destination pod's container ports (for egress rules
  too), protocol included; a rule without ports admits every port and protocol, and is the
  only thing a port-less connection (ICMP, ``port=None``) can match.

Policies are compiled once (by a reader such as :mod:`recommender.netpol.networkpolicy`);
:class:`Evaluator` indexes them per namespace and caches which policies select a pod;
:meth:`Evaluator.evaluate` does no parsing. Only the NetworkPolicy tier's allow rules are
evaluated today: the evaluator refuses other tiers and actions rather than guess them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .ipranges import EVERYTHING, Span, block_spans, covers, overlaps, parse_ip, range_spans
from .model import (
    DIRECTIONS,
    NETWORK_POLICY_TIER,
    NS_NAME_LABEL,
    Action,
    Endpoint,
    Peer,
    Policy,
    PolicyError,
    Rule,
)
from .networkpolicy import compile_policies

__all__ = ["DirectionVerdict", "Evaluator", "RuleRef", "Verdict", "describe"]


@dataclass(frozen=True, order=True, slots=True)
class RuleRef:
    """One rule of one policy: ``spec.<direction>[index]`` of ``namespace/policy``."""

    namespace: str
    policy: str
    direction: str  # "ingress" | "egress"
    index: int  # index of the rule in spec.ingress / spec.egress

    def __str__(self) -> str:
        return f"{self.namespace}/{self.policy} {self.direction}[{self.index}]"


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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
                port is not None and any(p.matches(protocol, port, dst) for p in ports)
            ):
                yield target.policy, rule


def _check_supported(pol: Policy) -> None:
    if pol.tier != NETWORK_POLICY_TIER or pol.namespace is None:
        raise ValueError(f"{pol.key}: the evaluator handles namespaced NetworkPolicy-tier only")
    if any(r.action != Action.ALLOW for r in pol.rules):
        raise ValueError(f"{pol.key}: the evaluator handles allow rules only")


class Evaluator:
    """Answers "is this connection allowed, and by which rules?" for a fixed set of policies."""

    def __init__(
        self, policies: Iterable[Policy | Mapping], *, ipblock_matches_pods: bool = True
    ) -> None:
        """policies: compiled :class:`Policy` objects, or NetworkPolicy dicts (as from
        ``yaml.safe_load``), which are compiled here (:func:`compile_policies`: raises
        :class:`PolicyError` for a malformed one or a duplicate name)."""
        items = list(policies)
        if not all(isinstance(p, Policy) for p in items):
            items = compile_policies(items)
        self.ipblock_matches_pods = ipblock_matches_pods
        by_ns: dict[str, list[_Target]] = {}
        seen: set[str] = set()
        for pol in items:
            _check_supported(pol)
            if pol.key in seen:
                raise PolicyError(f"{pol.key}: metadata.name: duplicate policy")
            seen.add(pol.key)
            rules = {d: pol.rules_of(d) for d in DIRECTIONS}
            by_ns.setdefault(pol.namespace, []).append(_Target(pol, pol.key, rules))  # type: ignore[arg-type]
        self._by_ns: dict[str, tuple[_Target, ...]] = {
            ns: tuple(sorted(ts, key=lambda t: t.policy.name)) for ns, ts in by_ns.items()
        }
        #: Every policy, in the order given: what breadth and replay compile from.
        self.policies: tuple[Policy, ...] = tuple(items)
        # (namespace, frozenset(labels)) -> {"ingress": targets, "egress": targets}
        self._selecting: dict[tuple[str, frozenset], dict[str, tuple[_Target, ...]]] = {}

    @property
    def namespaces(self) -> tuple[str, ...]:
        """Namespaces that hold at least one policy."""
        return tuple(sorted(self._by_ns))

    # -- selection ---------------------------------------------------------------------------

    def _select(self, pod: Endpoint) -> dict[str, tuple[_Target, ...]]:
        if pod.namespace is None:
            raise ValueError(f"pod endpoint {pod.name or pod.ip or '?'} has no namespace")
        key = (pod.namespace, frozenset(pod.labels.items()))
        hit = self._selecting.get(key)
        if hit is None:
            chosen = [
                t
                for t in self._by_ns.get(pod.namespace, ())
                if t.policy.subject.matches(pod.labels)
            ]
            hit = {d: tuple(t for t in chosen if d in t.policy.isolates) for d in DIRECTIONS}
            self._selecting[key] = hit
        return hit

    def policies_selecting(self, pod: Endpoint, direction: str) -> list[str]:
        """``ns/name`` of the policies that isolate ``pod`` for ``direction`` ("ingress" or
        "egress"), sorted. Empty for a non-pod endpoint."""
        d = direction.lower()
        if d not in DIRECTIONS:
            raise ValueError(f"direction must be 'ingress' or 'egress', got {direction!r}")
        if pod.kind != "pod":
            return []
        return [t.key for t in self._select(pod)[d]]

    # -- matching ----------------------------------------------------------------------------

    def _peer_matches(
        self, peer: Peer, ep: Endpoint, ns_labels: Mapping[str, str] | None, policy_ns: str
    ) -> bool:
        if peer.block is not None:
            if ep.kind == "pod" and not self.ipblock_matches_pods:
                return False
            return bool(ep.ip) and peer.block.contains(parse_ip(ep.ip))  # type: ignore[arg-type]
        if ep.kind != "pod":
            return False
        if peer.namespaces is None:
            if ep.namespace != policy_ns:
                return False
        elif not peer.namespaces.matches(ns_labels or {}):
            return False
        return peer.pods is None or peer.pods.matches(ep.labels)

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
                    self._peer_matches(pr, peer, ns_labels, pol.namespace)  # type: ignore[arg-type]
                    for pr in rule.peers
                )
            ]
            allowed = bool(matched)
        refs = [RuleRef(pol.namespace, pol.name, direction, rule.index) for pol, rule in matched]  # type: ignore[arg-type]
        return DirectionVerdict(
            True,
            True,
            allowed,
            tuple(t.key for t in selecting),
            tuple(sorted(refs)),
            text,
            direction,
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
        without ``ports`` admit. ``protocol`` is compared exactly ("TCP", "UDP", "SCTP")."""
        egress = self._side("egress", src, dst, dst, protocol, port)
        ingress = self._side("ingress", dst, src, dst, protocol, port)
        return Verdict(egress.allowed and ingress.allowed, egress, ingress)
