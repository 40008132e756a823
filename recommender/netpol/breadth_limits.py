"""Which policy sets breadth counts exactly, and why it cannot count the others.

Breadth (:mod:`recommender.netpol.breadth`) counts in class space, where a side is either
isolated with the union of some allow rules or open. That is exact for:

* the NetworkPolicy tier's allow-only policies, namespaced or cluster-scoped, whose peers
  are pods, namespaces, ipBlocks (with a selector too, when ipBlocks match pods), Cilium
  entities (in-cluster: ``cluster`` and ``all`` admit every pod, the others none) and
  ``toFQDNs`` (no pod);
* the baseline tier's default-deny shape: per direction, allow rules and a last rule that
  denies everything (any peer, any port), one such policy per pod and direction. Where no
  NetworkPolicy isolates a side, the first match among them is the union of the allow rules
  (the catch-all deny ends the rest), i.e. isolation with those rules.

Anything else (admin and Cilium deny tiers, Calico tiers, pass rules, deny rules before the
end, unjudged rules, node peers) is first-match precedence class space does not express:
:func:`not_measured` names each such policy, and breadth then reports no figure rather than a
wrong one.
"""

from __future__ import annotations

from collections.abc import Iterable

from .model import BASELINE_TIER, NETWORK_POLICY_TIER, Action, Policy, Rule

__all__ = ["is_catch_all_deny", "not_measured"]


def is_catch_all_deny(rule: Rule) -> bool:
    """A rule that denies every peer on every port."""
    return rule.action == Action.DENY and rule.peers is None and rule.ports is None


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
        head = rules[:-1] if rules and is_catch_all_deny(rules[-1]) else rules
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
