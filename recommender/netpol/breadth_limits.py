"""Which policy sets breadth counts exactly, and why it cannot count the others.

Breadth (:mod:`recommender.netpol.breadth`) counts in class space, where a side is either
isolated with the union of some allow rules or open. That is exact for:

* the NetworkPolicy tier's allow-only policies, namespaced or cluster-scoped, whose peers
  are pods, namespaces, ipBlocks (with a selector too, when ipBlocks match pods), Cilium
  entities (in-cluster: ``cluster`` and ``all`` admit every pod, the others none) and
  ``toFQDNs`` (no pod);
* the baseline tier's default-deny shape: per direction, allow rules and a last rule that
  denies every pod on every port, one such policy per pod and direction. Where no
  NetworkPolicy isolates a side, the first match among them is the union of the allow rules
  (the catch-all deny ends the rest), i.e. isolation with those rules. For in-cluster
  breadth (pods only) a deny is a catch-all when one of its peers covers every pod: any
  peer, every pod of every namespace (``namespaces: {}``; in a cluster-scoped policy, a
  pod selector ``{}`` alone), or the Cilium entities ``cluster`` / ``all``; what else it
  names (networks) changes nothing between pods. The baseline objects the tool writes
  have that shape.

Anything else (admin and Cilium deny tiers, Calico tiers, pass rules, deny rules before the
end, unjudged rules, node peers) is first-match precedence class space does not express:
:func:`not_measured` names each such policy, and breadth then reports no figure rather than a
wrong one.
"""

from __future__ import annotations

from collections.abc import Iterable

from .model import BASELINE_TIER, NETWORK_POLICY_TIER, Action, Peer, Policy, Rule

__all__ = ["POD_ENTITIES", "covers_every_pod", "is_catch_all_deny", "not_measured"]

#: Cilium entities that admit pods, every pod (:mod:`recommender.netpol.identities`).
POD_ENTITIES = frozenset({"cluster", "all"})


def covers_every_pod(peer: Peer, policy_ns: str | None) -> bool:
    """Whether ``peer`` matches every pod of every namespace (``policy_ns``: the policy's
    namespace, None for a cluster-scoped policy)."""
    if peer.entity is not None:
        return peer.entity in POD_ENTITIES
    if peer.fqdn is not None or peer.nodes is not None or peer.block is not None:
        return False  # a block alone or with a selector leaves out pods outside it
    if peer.pods is not None and not peer.pods.matches_all:
        return False
    if peer.namespaces is None:
        return policy_ns is None  # a cluster-scoped policy's pod selector: every namespace
    return peer.namespaces.matches_all


def is_catch_all_deny(rule: Rule, policy_ns: str | None = None) -> bool:
    """A rule that denies every pod on every port: any peer, or a peer that covers every
    pod (:func:`covers_every_pod`)."""
    if rule.action != Action.DENY or rule.ports is not None:
        return False
    return rule.peers is None or any(covers_every_pod(p, policy_ns) for p in rule.peers)


def _rule_reason(rule: Rule, ipblock_matches_pods: bool) -> str:
    where = f"{rule.direction}[{rule.index}]"
    if rule.unjudged:
        return f"{where} is not judged ({rule.unjudged})"
    for peer in rule.peers or ():
        if peer.nodes is not None:
            return f"{where} admits nodes by label"
        selects = peer.pods is not None or peer.namespaces is not None
        if peer.block is not None and selects and not ipblock_matches_pods:
            return f"{where} pairs an ipBlock with a selector while ipBlocks match no pod"
    return ""


def _policy_reason(pol: Policy, ipblock_matches_pods: bool) -> str:
    if pol.tier not in (NETWORK_POLICY_TIER, BASELINE_TIER):
        return f"tier {pol.tier.name} (first-match rules)"
    for rule in pol.rules:
        why = _rule_reason(rule, ipblock_matches_pods)
        if why:
            return why
    if pol.tier == NETWORK_POLICY_TIER:
        bad = next((r for r in pol.rules if r.action != Action.ALLOW), None)
        return f"{bad.direction}[{bad.index}] is a {bad.action} rule" if bad else ""
    for direction in pol.isolates:
        rules = pol.rules_of(direction)
        head = rules[:-1] if rules and is_catch_all_deny(rules[-1], pol.namespace) else rules
        bad = next((r for r in head if r.action != Action.ALLOW), None)
        if bad is not None:
            return f"{bad.direction}[{bad.index}] is a {bad.action} rule before the end"
    return ""


def not_measured(policies: Iterable[Policy], ipblock_matches_pods: bool = True) -> list[str]:
    """One reason per policy breadth cannot count exactly (empty: it can count them all)."""
    out = []
    for pol in policies:
        why = _policy_reason(pol, ipblock_matches_pods)
        if why:
            out.append(f"{pol.label}: {why}")
    return out
