"""The ``verify`` report: what a policy change would break, in a form a person can act on.

From a :class:`~recommender.pipeline.VerifyRun` to

* **denied groups**: the denied connections grouped by (source, destination, protocol,
  port), where a source or destination that is not a pod (internet clients, bare addresses)
  collapses by kind into one group with its address count, public/private split and a few
  covering CIDRs; each group counts connections, pairs and flows and explains once, per
  denying side, which policies isolate that side and what they *do* admit;
* **unbounded rules**: rules that admit every peer, every address (``0.0.0.0/0``), every
  namespace, every port of an ipBlock, and workloads with no egress (or ingress) isolation,
  which breadth cannot count and would otherwise read as "external 0";
* **warnings**: policies that select no known pod (namespace never seen, selector matching
  none of the namespace's pods) and rules ignored because their direction is not in
  ``policyTypes``;
* **exemptions**: connections reported instead of judged (node/kubelet sources, ...).

Text is deterministic and terminal-safe (:func:`~recommender.validate.printable`); the JSON
document carries the same facts plus every replayed connection.

The parts have a module each: :mod:`.denials` (groups and why), :mod:`.addresses` (the
non-pod ends in figures), :mod:`.findings` (unbounded rules, isolation, warnings, read off
the compiled policies), :mod:`.rules` (what each rule carried) and :mod:`.exemptions`;
rules are put in words by :mod:`recommender.netpol.text`. This module compiles the
policies once (one :class:`~recommender.netpol.evaluator.Evaluator`) and assembles the
headline, the text and the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..netpol.evaluator import Evaluator
from ..validate import printable
from ..verify import unjudged_groups
from .addresses import MAX_TEXT_NAMES
from .denials import DeniedGroup, denied_groups, port_number
from .exemptions import NODE_SOURCE, Exempted, exemptions
from .findings import Finding, isolation_findings, policy_warnings, unbounded_rules
from .rules import RuleUse, rule_lines, rule_uses
from .words import plural

if TYPE_CHECKING:
    from ..results import VerifyRun

__all__ = ["MAX_TEXT_GROUPS", "headline_json", "headline_lines", "report_json", "report_lines"]

#: Denied groups printed as text (``--json`` has them all).
MAX_TEXT_GROUPS = 100


def headline_lines(run: VerifyRun) -> list[str]:
    """The first lines of the text report: how many policies were replayed (0: nothing is
    isolated). Figures that must be seen first (at-risk traffic) belong here."""
    n = len(run.policies)
    at_risk = run.at_risk.lines() if run.at_risk is not None else []
    if n == 0:
        return ["0 policies: nothing is isolated, every observed connection is allowed"]
    return [*at_risk, f"{plural(n, 'policy', 'policies')} replayed"]


def headline_json(run: VerifyRun) -> dict[str, Any]:
    """The top-level JSON keys that go with :func:`headline_lines`."""
    return {
        "policies": len(run.policies),
        "at_risk": run.at_risk.to_dict() if run.at_risk is not None else None,
    }


@dataclass
class _Parts:
    groups: list[DeniedGroup]
    unbounded: list[Finding]
    unselected: list[str]
    warnings: list[Finding]
    exempt: dict[str, Exempted]
    rules: list[RuleUse]
    #: (rule: reason, connections, flows) of the connections whose verdict is unknown
    unjudged: list[tuple[str, int, int]]


def _parts(run: VerifyRun) -> _Parts:
    evaluator = Evaluator(run.policies)
    isolation, unselected = isolation_findings(run, evaluator)
    unbounded = unbounded_rules(evaluator.policies)
    return _Parts(
        groups=denied_groups(run, evaluator),
        unbounded=unbounded + isolation,
        unselected=unselected,
        warnings=policy_warnings(run, evaluator),
        exempt=exemptions(run),
        rules=rule_uses(run, evaluator.policies, unbounded),
        unjudged=unjudged_groups(run.replayed),
    )


def _summary_line(run: VerifyRun, parts: _Parts) -> str:
    b = run.breadth
    line = f"coverage {run.coverage * 100:.2f}% ({run.covered}/{run.judged} connections), "
    if b.not_measured:
        line += "breadth not measured (" + "; ".join(b.not_measured) + ")"
    else:
        line += f"breadth {b.total} (in-cluster {b.in_cluster}, external {b.external_addresses})"
    if parts.unbounded:
        line += f", {plural(len(parts.unbounded), 'unbounded rule')} (listed above)"
    node = parts.exempt.get(NODE_SOURCE, Exempted())
    line += (
        f"; exempted {plural(node.connections, 'connection')} from node/kubelet sources "
        f"({plural(node.flows, 'flow')})"
    )
    others = {k: v for k, v in parts.exempt.items() if k != NODE_SOURCE}
    if others:
        line += ", " + ", ".join(f"{v.connections} {k}" for k, v in others.items())
    if parts.unjudged:
        n = _unjudged_connections(run)
        line += f"; unjudged {plural(n, 'connection')} (in the total, never allowed; listed above)"
    return line


def _unjudged_connections(run: VerifyRun) -> int:
    rows = run.replayed
    return sum(1 for e, u in zip(rows["exempt"], rows["unjudged"], strict=True) if u and not e)


def _unjudged_lines(run: VerifyRun, parts: _Parts) -> list[str]:
    """``unjudged: N connections, M flows``, then per rule: what it is, why, how much."""
    if not parts.unjudged:
        return []
    flows = int(
        run.replayed.loc[
            [
                bool(u) and not e
                for e, u in zip(run.replayed["exempt"], run.replayed["unjudged"], strict=True)
            ],
            "flows",
        ].sum()
    )
    out = [
        f"unjudged: {plural(_unjudged_connections(run), 'connection')}, {plural(flows, 'flow')} "
        "(counted apart: the policies' verdict on them is not known, never counted allowed):"
    ]
    out += [
        f"  by {text}: {plural(c, 'connection')}, {plural(f, 'flow')}"
        for text, c, f in parts.unjudged
    ]
    return out


def report_lines(run: VerifyRun) -> list[str]:
    """The text report after :func:`headline_lines`: denied groups, unbounded rules,
    unisolated workloads, warnings, what each rule carried and the summary line; every line
    terminal-safe."""
    parts = _parts(run)
    out: list[str] = []
    if parts.groups:
        denied = sum(g.connections for g in parts.groups)
        out.append(
            f"Observed connections that would be denied: {denied} in "
            f"{plural(len(parts.groups), 'group')} (source -> destination [port]):"
        )
        for group in parts.groups[:MAX_TEXT_GROUPS]:
            out += group.lines()
        if len(parts.groups) > MAX_TEXT_GROUPS:
            out.append(f"  ... and {len(parts.groups) - MAX_TEXT_GROUPS} more groups (--json)")
    out += _unjudged_lines(run, parts)
    if parts.unbounded:
        out.append("Unbounded (every peer, address, namespace or port of a kind is admitted):")
        out += [f"  {f.text}" for f in parts.unbounded]
    if parts.unselected:
        names = ", ".join(parts.unselected[:MAX_TEXT_NAMES])
        more = len(parts.unselected) - MAX_TEXT_NAMES
        out.append(
            f"Not isolated: {plural(len(parts.unselected), 'workload')} no policy selects "
            f"(any connection to or from them is allowed): {names}"
            + (f" and {more} more" if more > 0 else "")
        )
    if parts.warnings:
        out.append("Warnings:")
        out += [f"  {f.text}" for f in parts.warnings]
    out += rule_lines(parts.rules)
    out.append(_summary_line(run, parts))
    return [printable(line) for line in out]


def report_json(run: VerifyRun) -> dict[str, Any]:
    """The ``--json`` document: coverage, breadth, records, notes and every replayed
    connection (as before), plus the denied ``groups``, ``unbounded`` rules, ``not_isolated``
    workloads, ``warnings``, ``rules`` (what each carried) and ``exempt`` counts
    (``node_sources`` and by reason)."""
    parts = _parts(run)
    node = parts.exempt.get(NODE_SOURCE, Exempted())
    unjudged = (
        {
            "unjudged": [
                {"rule": text, "connections": c, "flows": f} for text, c, f in parts.unjudged
            ]
        }
        if parts.unjudged
        else {}
    )
    return {
        **headline_json(run),
        "coverage": run.coverage,
        "covered": run.covered,
        "judged": run.judged,
        "breadth": run.breadth.to_dict(),
        "records": run.counts.to_dict(),
        "notes": run.notes,
        "groups": [g.to_dict() for g in parts.groups],
        "unbounded": [f.to_dict() for f in parts.unbounded],
        "not_isolated": parts.unselected,
        "warnings": [f.to_dict() for f in parts.warnings],
        "rules": [u.to_dict() for u in parts.rules],
        **unjudged,
        "exempt": {
            "node_sources": node.to_dict(),
            "by_reason": {k: v.to_dict() for k, v in parts.exempt.items()},
        },
        "connections": [
            {
                "src": r.src_workload,
                "dst": r.dst_workload,
                "protocol": r.protocol,
                "port": port_number(r.port),
                "allowed": bool(r.allowed),
                "exempt": bool(r.exempt),
                "reasons": r.reasons.split("; ") if r.reasons else [],
            }
            for r in run.replayed.itertuples(index=False)
        ],
    }
