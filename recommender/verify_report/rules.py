"""What each existing rule carries: the observed connections (and flows) whose verdict cites
it as admitting them, side by side with the breadth it allows (its own share, and its
policy's) and whether it is unbounded.

A rule that carried nothing over the observed window is *unused*: dropping it denies no
observed connection. A connection allowed by several rules (the source's egress rule and the
destination's ingress rule, or two rules that both match) counts for each of them. Only
judged connections count (exempt ones, node sources for instance, are never evaluated).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..netpol.evaluator import RuleRef
from ..netpol.model import DIRECTIONS, Policy
from .findings import Finding
from .words import plural

if TYPE_CHECKING:
    from ..results import VerifyRun

__all__ = ["MAX_TEXT_POLICIES", "RuleUse", "carried", "rule_lines", "rule_uses"]

#: Policies whose rules are printed one line each as text (``--json`` has them all).
MAX_TEXT_POLICIES = 100


@dataclass(frozen=True)
class RuleUse:
    """One rule of one policy and the observed traffic it carried."""

    #: ``namespace/name`` of the policy
    policy: str
    ref: RuleRef
    connections: int
    flows: int
    #: the kinds of :func:`~.findings.unbounded_rules` findings on this rule
    unbounded: tuple[str, ...]
    #: the breadth charged to the rule's policy (``breadth.per_policy``)
    policy_breadth: int
    #: the rule's own breadth (``breadth.per_rule``): unobserved elements it matched on its
    #: side of an allowed pair, plus its ipBlocks' unobserved addresses x ports
    breadth: int = 0
    #: "allow", or "deny" / "pass" (other dialects): such a rule carries no allowed
    #: connection by design, so it is never called unused
    action: str = "allow"

    @property
    def unused(self) -> bool:
        return self.connections == 0 and self.action == "allow"

    def to_dict(self) -> dict[str, Any]:
        # "section" only for a rule listed elsewhere than under its direction (Cilium's
        # ingressDeny): NetworkPolicy documents keep their keys.
        section = {"section": self.ref.section} if self.ref.section else {}
        if self.action != "allow":
            section["action"] = self.action
        return {
            "policy": self.policy,
            "direction": self.ref.direction,
            **section,
            "rule": self.ref.index,
            "connections": self.connections,
            "flows": self.flows,
            "unused": self.unused,
            "unbounded": list(self.unbounded),
            "breadth": self.breadth,
            "policy_breadth": self.policy_breadth,
        }


def carried(replayed: pd.DataFrame) -> tuple[Counter, Counter]:
    """(connections, flows) per :class:`RuleRef` over the judged, allowed connections."""
    conns: Counter = Counter()
    flows: Counter = Counter()
    rows = replayed[~replayed["exempt"] & replayed["allowed"]]
    for refs, n in zip(rows["allowed_by"].tolist(), rows["flows"].tolist(), strict=True):
        count = 0 if n is None or pd.isna(n) else int(n)
        for ref in refs:
            conns[ref] += 1
            flows[ref] += count
    return conns, flows


def rule_uses(
    run: VerifyRun, policies: Sequence[Policy], unbounded: Sequence[Finding]
) -> list[RuleUse]:
    """Every rule of every policy (the directions it isolates), sorted by policy, direction
    and index, with what it carried."""
    conns, flows = carried(run.replayed)
    kinds: dict[tuple, list[str]] = {}
    for f in unbounded:
        if f.rule is not None:
            kinds.setdefault((f.subject, f.direction, f.rule), []).append(f.kind)
    per_policy = run.breadth.per_policy
    per_rule = run.breadth.per_rule
    out = []
    for policy in sorted(policies, key=lambda p: p.key):
        for direction in DIRECTIONS:
            for rule in policy.rules_of(direction):
                ref = RuleRef.of(policy, rule)
                out.append(
                    RuleUse(
                        policy.label,
                        ref,
                        conns[ref],
                        flows[ref],
                        tuple(kinds.get((policy.key, direction, rule.index), ())),
                        per_policy.get(policy.key, 0),
                        per_rule.get(str(ref), 0),
                        str(rule.action),
                    )
                )
    return out


def _rule_text(use: RuleUse) -> str:
    head = f"{use.ref.list_name}[{use.ref.index}]"
    if use.action != "allow":
        return f"{head} {use.action} rule (carries no allowed connection)"
    if use.unused:
        body = "unused"
    else:
        body = f"{plural(use.connections, 'conn')}/{plural(use.flows, 'flow')}"
    body += f" +{use.breadth} unobserved"
    if use.unbounded:
        body += " unbounded (" + ", ".join(use.unbounded) + ")"
    return f"{head} {body}"


def rule_lines(uses: Sequence[RuleUse]) -> list[str]:
    """The text section: one line per policy with its breadth and each rule's traffic, then
    the unused rules with a hint."""
    if not uses:
        return []
    by_policy: dict[str, list[RuleUse]] = {}
    for use in uses:
        by_policy.setdefault(use.policy, []).append(use)
    out = [
        "Rules (observed connections/flows each carries, +what it allows beyond them; "
        "policy breadth):"
    ]
    for name, rules in list(by_policy.items())[:MAX_TEXT_POLICIES]:
        texts = ", ".join(_rule_text(u) for u in rules)
        out.append(f"  {name} (breadth {rules[0].policy_breadth}): {texts}")
    if len(by_policy) > MAX_TEXT_POLICIES:
        out.append(f"  ... and {len(by_policy) - MAX_TEXT_POLICIES} more policies (--json)")
    unused = [u for u in uses if u.unused]
    if unused:
        names = ", ".join(str(u.ref) for u in unused[:MAX_TEXT_POLICIES])
        more = len(unused) - MAX_TEXT_POLICIES
        out.append(
            f"Unused rules: {plural(len(unused), 'rule')} carried no observed connection: "
            + names
            + (f" and {more} more" if more > 0 else "")
        )
        out.append(
            "  hint: dropping them denies nothing observed; check that the flows cover the "
            "window (batch jobs, failover) before removing them"
        )
    return out
