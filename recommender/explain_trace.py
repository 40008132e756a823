"""One side of a connection, rule by rule: which policies select the endpoint, and for each
of their rules whether its peer and its port match, and why not, in words.

The verdict is the evaluator's (:class:`~recommender.netpol.evaluator.DirectionVerdict`):
the trace reads which rules decided from it (``allowed_by``, ``denied_by``, ``passed_by``,
``unjudged_by``) and never decides anything itself. What it adds is the reason each other
rule did not apply, judged here term by term with the evaluator's semantics (module
docstring of :mod:`recommender.netpol.evaluator`); ``tests/test_explain_conformance.py``
checks on every conformance truth-table row that the rules it calls matching are the ones
the evaluator names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .netpol.evaluator import DirectionVerdict, Evaluator, RuleRef
from .netpol.identities import entity_matches, fqdn_matches
from .netpol.ipranges import parse_ip
from .netpol.model import NS_NAME_LABEL, Endpoint, Peer, Policy, Rule, Selector
from .netpol.text import (
    block_text,
    namespaces_text,
    peer_text,
    ports_text,
    rule_text,
    selector_text,
)

__all__ = [
    "PolicyTrace",
    "RuleTrace",
    "SideTrace",
    "peer_check",
    "ports_check",
    "selector_miss",
    "trace_side",
]

_MISSING = object()


def selector_miss(selector: Selector, labels: Mapping[str, str]) -> str | None:
    """The first term of ``selector`` that ``labels`` fail, in words (``app is web, not
    api``, ``no label team``); None when the selector matches."""
    for key, want in selector.match_labels:
        got = labels.get(key, _MISSING)
        if got is _MISSING:
            return f"no label {key} (wants {key}={want})"
        if got != want:
            return f"{key} is {got}, not {want}"
    for req in selector.written_requirements or selector.requirements:
        if req.matches(labels):
            continue
        got = labels.get(req.key, _MISSING)
        values = ",".join(sorted(set(req.values)))
        if req.operator == "In":
            if got is _MISSING:
                return f"no label {req.key} (wants {req.key} in ({values}))"
            return f"{req.key} is {got}, not in ({values})"
        if req.operator == "NotIn":
            return f"{req.key} is {got}, which notin ({values}) excludes"
        if req.operator == "Exists":
            return f"no label {req.key}"
        return f"has label {req.key}={got} (wants none)"
    return None


def _identity(ep: Endpoint) -> str:
    """What kind of peer ``ep`` is, for a Cilium entity that does not match it."""
    if ep.reserved:
        return f"reserved:{ep.reserved}"
    return {"pod": "a pod", "external": "an address outside the cluster", "node": "a node"}.get(
        ep.kind, f"a {ep.kind} endpoint"
    )


def _block_miss(peer: Peer, ep: Endpoint, ipblock_matches_pods: bool) -> str | None:
    """Why the peer's address block does not hold ``ep``; None when it does."""
    block = peer.block
    assert block is not None
    if ep.kind == "pod" and not ipblock_matches_pods:
        return "address blocks match no pod here (Cilium applies CIDR rules outside the cluster)"
    if not ep.ip:
        return "the peer's address is unknown"
    addr = parse_ip(ep.ip)
    if block.contains(addr):
        return None
    if addr.version == block.network.version and addr in block.network:
        return f"{ep.ip} is in an except of {block_text(block)}"
    return f"{ep.ip} is not in {block.cidr_text}"


def _pods_miss(peer: Peer, ep: Endpoint, policy_ns: str | None) -> str | None:
    """Why a pod / namespace selector peer does not admit ``ep``; None when it does."""
    if ep.kind != "pod":
        return "the peer is not a pod"
    if peer.namespaces is None:
        if policy_ns is not None and ep.namespace != policy_ns:
            return f"the peer's namespace is {ep.namespace}, not the policy's {policy_ns}"
    else:
        labels = ep.namespace_labels
        if NS_NAME_LABEL not in labels and ep.namespace is not None:
            labels = {**labels, NS_NAME_LABEL: ep.namespace}
        miss = selector_miss(peer.namespaces, labels)
        if miss:
            return f"namespace {ep.namespace}: {miss}"
    if peer.pods is not None:
        miss = selector_miss(peer.pods, ep.labels)
        if miss:
            return f"pod labels: {miss}"
    return None


def _peer_miss(peer: Peer, ep: Endpoint, policy_ns: str | None, ipblock: bool) -> str | None:
    if peer.entity is not None:
        if entity_matches(peer.entity, ep):
            return None
        return f"the peer is {_identity(ep)}"
    if peer.fqdn is not None:
        if fqdn_matches(peer.fqdn, ep):
            return None
        if ep.kind == "pod":
            return "the peer is a pod (DNS names apply outside the cluster)"
        if not ep.names:
            return "no DNS name of the peer is known (--dns-name names one)"
        return f"the peer's names ({', '.join(ep.names)}) do not match"
    if peer.nodes is not None:
        return "node peers are not judged: node labels are not known"
    if peer.block is not None:
        both = peer.pods is not None or peer.namespaces is not None
        if both and ep.kind != "pod":
            return "the peer is not a pod"
        miss = _block_miss(peer, ep, ipblock or both)
        if miss or not both:
            return miss
    return _pods_miss(peer, ep, policy_ns)


def peer_check(
    rule: Rule, ep: Endpoint, policy_ns: str | None, ipblock_matches_pods: bool
) -> tuple[bool, str]:
    """Whether the rule's peers admit ``ep``, and why in words: the peer that matches, or
    each peer and why it does not."""
    if rule.peers is None:
        return True, "any peer"
    misses = []
    for peer in rule.peers:
        miss = _peer_miss(peer, ep, policy_ns, ipblock_matches_pods)
        text = peer_text(peer, policy_ns)
        if miss is None:
            return True, f"matches {text}"
        misses.append(f"not {text}: {miss}")
    return False, "; ".join(misses) if misses else "no peer (admits nothing)"


def ports_check(rule: Rule, protocol: str, port: int, dst: Endpoint) -> tuple[bool, str]:
    """Whether the rule's ports admit ``port``/``protocol`` on ``dst``, and why in words."""
    if rule.ports is None:
        return True, "any port"
    for pm in rule.ports:
        if pm.matches(protocol, port, dst):
            return True, f"{port}/{protocol} is among {ports_text(rule.ports)}"
    why = [f"{port}/{protocol} is not {ports_text(rule.ports)}"]
    for pm in rule.ports:
        if pm.name is None or pm.protocol != protocol:
            continue
        if dst.kind != "pod":
            why.append(f"named port {pm.name} needs a destination pod")
            continue
        numbers = [cp.port for cp in dst.ports if cp.name == pm.name and cp.protocol == protocol]
        if numbers:
            why.append(f"{pm.name} is {numbers[0]} on the destination")
        elif not dst.ports:
            why.append(f"the destination's container ports are unknown ({pm.name} unresolved)")
        else:
            why.append(f"the destination has no container port {pm.name}/{protocol}")
    return False, "; ".join(why)


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """One rule of a selecting policy, checked against the connection."""

    ref: RuleRef
    action: str
    text: str
    peer: bool
    port: bool
    #: why the peer matches or not, then why the port does
    why: str
    #: "allows", "denies", "passes", "unjudged: <reason>" (the rule decided, or left the
    #: verdict unknown), "no match", "matches, not reached", "not reached"
    outcome: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": str(self.ref),
            "action": self.action,
            "text": self.text,
            "peer_matches": self.peer,
            "port_matches": self.port,
            "why": self.why,
            "outcome": self.outcome,
        }


def _json_number(value: float) -> float | int | None:
    """An order or priority for JSON: an int when whole, None for "none" (Calico sorts a
    missing order as infinity, which JSON cannot hold)."""
    if math.isinf(value):
        return None
    return int(value) if float(value).is_integer() else value


@dataclass(frozen=True, slots=True)
class PolicyTrace:
    """A policy that selects the endpoint for the direction, in the order it is considered."""

    label: str
    kind: str
    tier: str
    tier_order: float
    priority: float
    subject: str
    rules: tuple[RuleTrace, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.label,
            "kind": self.kind,
            "tier": self.tier,
            "tier_order": _json_number(self.tier_order),
            "priority": _json_number(self.priority),
            "selects": self.subject,
            "rules": [r.to_dict() for r in self.rules],
        }


@dataclass(frozen=True, slots=True)
class SideTrace:
    """The source's egress or the destination's ingress: the evaluator's verdict on it,
    what decided in its words, and every selecting policy rule by rule."""

    direction: str
    subject: str
    verdict: DirectionVerdict
    #: the evaluator's account of what decided, without the "<direction> of <pod>: " head
    decided: str
    policies: tuple[PolicyTrace, ...]

    @property
    def outcome(self) -> str:
        """The side's verdict: "allowed", "denied" or "unjudged"."""
        if not self.verdict.judged:
            return "unjudged"
        return "allowed" if self.verdict.allowed else "denied"

    def key(self) -> tuple:
        """What the trace finds, without naming the endpoint: the same policies, the same
        rules matching and missing with the same outcomes, the same decision. Two sides
        with equal keys differ at most in the wording of why a rule misses (an address,
        a label value)."""
        rules = tuple(
            (p.label, p.tier, tuple((r.ref, r.peer, r.port, r.outcome) for r in p.rules))
            for p in self.policies
        )
        return (self.direction, self.outcome, self.decided, rules)

    def wording(self) -> tuple:
        """:meth:`key` with every reason as worded: equal wordings read the same."""
        return (self.key(), self.policies)

    def to_dict(self) -> dict[str, Any]:
        v = self.verdict
        return {
            "direction": self.direction,
            "subject": self.subject,
            "verdict": self.outcome,
            "restricted": v.applies,
            "isolated": v.isolated,
            "decided": self.decided,
            "tier": None if v.tier is None else v.tier.name,
            "allowed_by": [str(r) for r in v.allowed_by],
            "denied_by": None if v.denied_by is None else str(v.denied_by),
            "passed_by": [str(r) for r in v.passed_by],
            "unjudged_by": [str(r) for r in v.unjudged_by],
            "policies": [p.to_dict() for p in self.policies],
        }


def _outcome(ref: RuleRef, rule: Rule, matched: bool, v: DirectionVerdict, late: bool) -> str:
    if ref in v.allowed_by:
        return "allows"
    if ref == v.denied_by:
        return "denies"
    if ref in v.passed_by:
        return "passes"
    if ref in v.unjudged_by:
        return f"unjudged: {rule.unjudged}"
    if late:
        return "not reached"
    if not matched:
        return "no match"
    return "matches, unjudged; other rules decide" if rule.unjudged else "matches, not reached"


def _selecting(evaluator: Evaluator, subject: Endpoint, direction: str) -> list[Policy]:
    """The policies that select ``subject`` for ``direction``, as the evaluator finds them,
    in the order it considers them."""
    labels = set(evaluator.policies_selecting(subject, direction))
    chosen = [
        p
        for p in evaluator.policies
        if p.label in labels
        and direction in p.isolates
        and (p.namespace is None or p.namespace == subject.namespace)
    ]
    return sorted(chosen, key=lambda p: (p.precedence, p.kind))


def _subject_text(pol: Policy) -> str:
    """The pods a policy applies to: ``app=web in namespace shop``, ``every pod in
    namespaces with team=x``."""
    pods = selector_text(pol.subject) or "every pod"
    if pol.namespace is not None:
        return f"{pods} in namespace {pol.namespace}"
    return f"{pods} in {namespaces_text(pol.namespaces or Selector())}"


def _decided(v: DirectionVerdict) -> str:
    return v.explain().removeprefix(f"{v.direction or 'direction'} of {v.subject or '?'}: ")


def trace_side(
    evaluator: Evaluator,
    verdict: DirectionVerdict,
    subject: Endpoint,
    peer: Endpoint,
    dst: Endpoint,
    protocol: str,
    port: int,
) -> SideTrace:
    """The trace of one side whose verdict the evaluator gave: ``subject`` is the pod whose
    policies apply (the source for egress, the destination for ingress), ``peer`` the other
    end, ``dst`` the destination (named ports resolve on it)."""
    direction = verdict.direction
    if subject.kind != "pod":
        return SideTrace(direction, verdict.subject, verdict, _decided(verdict), ())
    decided_tier = verdict.tier
    policies = []
    for pol in _selecting(evaluator, subject, direction):
        late = decided_tier is not None and pol.tier.order > decided_tier.order
        rules = []
        for rule in pol.rules_of(direction):
            ref = RuleRef.of(pol, rule)
            peer_ok, peer_why = peer_check(
                rule, peer, pol.namespace, evaluator.ipblock_matches_pods
            )
            port_ok, port_why = ports_check(rule, protocol, port, dst)
            outcome = _outcome(ref, rule, peer_ok and port_ok, verdict, late)
            text = rule_text(rule, pol.namespace)
            why = f"peer: {peer_why}; port: {port_why}"
            rules.append(RuleTrace(ref, rule.action.value, text, peer_ok, port_ok, why, outcome))
        policies.append(
            PolicyTrace(
                pol.label,
                pol.kind,
                pol.tier.name,
                pol.tier.order,
                pol.priority,
                _subject_text(pol),
                tuple(rules),
            )
        )
    return SideTrace(direction, verdict.subject, verdict, _decided(verdict), tuple(policies))
