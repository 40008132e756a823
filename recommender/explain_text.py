"""An :class:`~recommender.explain.Explanation` as the lines ``explain`` prints: the verdict
first, then per group of pod pairs the source's egress and the destination's ingress, each
selecting policy in the order it is considered and each of its rules with whether its peer
and port match, and what decided.

Names from policies and logs are untrusted: every line goes through
:func:`~recommender.validate.printable` before it reaches a terminal.
"""

from __future__ import annotations

import math

from .explain import Explanation, PairGroup
from .explain_endpoints import Named
from .explain_trace import PolicyTrace, RuleTrace, SideTrace
from .validate import printable
from .verify_report.words import plural

__all__ = ["explanation_lines"]

#: Pods listed by name in a group's header; more are counted.
MAX_LISTED = 6

_OUTCOME_WORDS = {
    "allows": "ALLOWS (decides)",
    "denies": "DENIES (decides)",
    "passes": "PASSES to the next tier",
}


def _named(role: str, named: Named) -> str:
    count = len(named.endpoints)
    if named.kind == "workload":
        return f"{role} {named.text}: workload, {plural(count, 'pod')}"
    if named.kind == "pod address":
        pods = ", ".join(f"{ep.namespace}/{ep.name}" for ep in named.endpoints)
        return f"{role} {named.text}: the address of pod {pods}"
    return f"{role} {named.text}: {named.kind}"


def _listed(names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    more = len(names) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _group_head(group: PairGroup, protocol: str) -> list[str]:
    port = f"{group.port}/{protocol}"
    sources, targets = group.sources, group.destinations
    if len(group.pairs) == 1:
        src, dst = group.pairs[0]
        return [f"{src} -> {dst} on {port}: {group.verdict}"]
    head = f"{plural(len(group.pairs), 'pod pair')} on {port}, one explanation: "
    if len(group.pairs) == len(sources) * len(targets):
        return [
            head + group.verdict,
            f"  from: {_listed(sources)}",
            f"  to:   {_listed(targets)}",
        ]
    pairs = tuple(f"{s} -> {d}" for s, d in group.pairs)
    return [head + group.verdict, f"  pairs: {_listed(pairs)}"]


def _rule_lines(rule: RuleTrace) -> list[str]:
    ref = rule.ref
    outcome = _OUTCOME_WORDS.get(rule.outcome, rule.outcome)
    return [
        f"      {ref.list_name}[{ref.index}] {rule.text}: {outcome}",
        f"        {rule.why}",
    ]


def _number(value: float) -> str:
    """An order or priority as written: ``1000000``, ``100.5``; ``none`` for none (Calico
    sorts a missing order last)."""
    if math.isinf(value):
        return "none"
    return str(int(value)) if float(value).is_integer() else str(value)


def _policy_lines(n: int, policy: PolicyTrace, direction: str) -> list[str]:
    lines = [
        f"    {n}. {policy.label} (tier {policy.tier}, order {_number(policy.tier_order)}, "
        f"priority {_number(policy.priority)}) selects {policy.subject}"
    ]
    if not policy.rules:
        lines.append(f"      no {direction} rules: admits nothing")
    for rule in policy.rules:
        lines += _rule_lines(rule)
    return lines


def _side_lines(side: SideTrace, where: str) -> list[str]:
    lines = [f"  {side.direction} at the {where}: {side.outcome.upper()}: {side.decided}"]
    if side.policies:
        lines.append(f"    selected for {side.direction} by, in the order considered:")
    for n, policy in enumerate(side.policies, 1):
        lines += _policy_lines(n, policy, side.direction)
    return lines


def _decided_by(group: PairGroup) -> str:
    sides = [("egress at the source", group.egress), ("ingress at the destination", group.ingress)]
    if group.verdict == "ALLOWED":
        return "  decided: both sides allow"
    deciding = [name for name, side in sides if side.outcome == group.verdict.lower()]
    if group.verdict == "DENIED":
        word = "denies" if len(deciding) == 1 else "deny"
    else:
        word = "leaves it unjudged" if len(deciding) == 1 else "leave it unjudged"
    return f"  decided: {' and '.join(deciding)} {word}"


def explanation_lines(explanation: Explanation) -> list[str]:
    """The text ``explain`` prints (without a trailing newline)."""
    e = explanation
    lines = [
        f"{e.verdict}: {e.source.text} -> {e.destination.text} on {e.port}",
        _named("source", e.source),
        _named("destination", e.destination),
    ]
    counts = e.counts()
    total = sum(counts.values())
    if total > 1:
        parts = [f"{n} {word.lower()}" for word, n in counts.items() if n]
        lines.append(f"{plural(total, 'pod pair')}: {', '.join(parts)}")
    lines += [f"note: {note}" for note in e.notes]
    for group in e.groups:
        lines.append("")
        lines += _group_head(group, e.port.protocol)
        if not group.uniform:
            src, dst = group.pairs[0]
            lines.append(f"  (reasons worded for {src} -> {dst}; the others differ in words only)")
        lines += _side_lines(group.egress, "source")
        lines += _side_lines(group.ingress, "destination")
        lines.append(_decided_by(group))
    return [printable(line) for line in lines]
