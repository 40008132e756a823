"""What the policies themselves leave open or get wrong, read off the compiled policies:
rules no breadth figure bounds, workloads isolated one way only or not at all, policies that
select no known pod and rules Kubernetes ignores."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..netpol.endpoints import pod_endpoint
from ..netpol.evaluator import Evaluator, RuleRef
from ..netpol.model import DIRECTIONS, Action, Policy, Rule, Selector
from ..netpol.networkpolicy import PEER_FIELD, POLICY_TYPE_OF
from ..netpol.text import block_text, peer_text, ports_text, selector_text
from .words import plural

if TYPE_CHECKING:
    import pandas as pd

    from ..results import VerifyRun

__all__ = [
    "MAX_VALUES",
    "Finding",
    "isolation_findings",
    "policy_warnings",
    "unbounded_rules",
]

#: Distinct label values shown when a selector matches no pod.
MAX_VALUES = 5


@dataclass(frozen=True)
class Finding:
    """One unbounded rule, unisolated workload or warning."""

    kind: str
    #: "ns/policy" or, for isolation findings, the workload "ns/name"
    subject: str
    text: str
    direction: str | None = None
    #: index of the rule in spec.ingress / spec.egress
    rule: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "subject": self.subject, "text": self.text}
        if self.direction is not None:
            out["direction"] = self.direction
        if self.rule is not None:
            out["rule"] = self.rule
        return out


# --------------------------------------------------------------------------------------------
# Unbounded rules
# --------------------------------------------------------------------------------------------


def _unbounded(policy: Policy, rule: Rule) -> list[Finding]:
    """The unbounded parts of one rule of ``policy``."""
    name, direction, i = policy.key, rule.direction, rule.index
    ref = f"{name} {direction}[{i}]"
    ports = ports_text(rule.ports)
    if rule.peers is None:
        every = "source" if direction == "ingress" else "destination"
        text = (
            f"{ref}: no {PEER_FIELD[direction]!r}: every {every} (every pod of "
            f"every namespace and every address) on {ports}"
        )
        return [Finding("every_peer", name, text, direction, i)]
    out = []
    for peer in rule.peers:
        block = peer.block
        if block is not None and block.network.prefixlen == 0:
            but = " but the excepted ranges" if block.excepts else ""
            text = (
                f"{ref}: ipBlock {block_text(block)}: every IPv{block.network.version} "
                f"address{but} on {ports}"
            )
            out.append(Finding("every_address", name, text, direction, i))
        elif block is not None and rule.ports is None:
            text = f"{ref}: ipBlock {block_text(block)} on every port and protocol"
            out.append(Finding("every_port", name, text, direction, i))
        if peer.namespaces is not None and peer.namespaces.matches_all:
            who = peer_text(peer, policy.namespace)
            text = f"{ref}: namespaceSelector {{}}: {who} on {ports}"
            out.append(Finding("every_namespace", name, text, direction, i))
    return out


def unbounded_rules(policies: Sequence[Policy]) -> list[Finding]:
    """Allow rules no breadth figure can bound: any peer (no ``from``/``to``), an ipBlock of
    ``0.0.0.0/0`` or ``::/0`` (every address, excepts or not), ``namespaceSelector: {}``
    (every namespace), an ipBlock on every port. Sorted by policy, direction, rule."""
    out: list[Finding] = []
    for policy in sorted(policies, key=lambda p: p.key):
        for direction in DIRECTIONS:
            for rule in policy.rules_of(direction):
                if rule.action == Action.ALLOW:  # a deny or pass of everything widens nothing
                    out += _unbounded(policy, rule)
    return out


# --------------------------------------------------------------------------------------------
# Isolation
# --------------------------------------------------------------------------------------------


def _selection(pods: pd.DataFrame, evaluator: Evaluator) -> dict[str, dict[str, list]]:
    """workload -> direction -> [pods isolated, pods, policies isolating them]."""
    seen: dict[str, dict[str, list]] = {}
    for row in pods.itertuples(index=False):
        if row.labels is None:
            continue
        ep = pod_endpoint(row)
        entry = seen.setdefault(
            str(row.workload), {d: [0, 0, set()] for d in ("ingress", "egress")}
        )
        for direction in ("ingress", "egress"):
            selecting = evaluator.policies_selecting(ep, direction)
            entry[direction][1] += 1
            if selecting:
                entry[direction][0] += 1
                entry[direction][2].update(selecting)
    return seen


def _one_way(workload: str, entry: Mapping[str, list]) -> list[Finding]:
    """A selected workload's missing isolation: egress, then ingress."""
    findings = []
    for direction, other in (("egress", "ingress"), ("ingress", "egress")):
        isolated, total, _ = entry[direction]
        if isolated == total:
            continue
        by = ", ".join(sorted(entry[other][2]))
        part = "" if isolated == 0 else f" ({total - isolated} of {total} pods)"
        verb = "may open any connection" if direction == "egress" else "accepts any connection"
        findings.append(
            Finding(
                f"no_{direction}_isolation",
                workload,
                f"{workload}: no {direction} isolation{part}: selected by {by} for "
                f"{other} only; it {verb}",
                direction,
            )
        )
    return findings


def isolation_findings(
    run: VerifyRun, evaluator: Evaluator | None = None
) -> tuple[list[Finding], list[str]]:
    """(workloads a policy selects but that are not isolated for egress, or for ingress:
    they may open, or accept, any connection; workloads no policy selects at all)."""
    pods = run.pods
    if pods is None or not len(pods) or not run.policies:
        return [], []
    seen = _selection(pods, evaluator or Evaluator(run.policies))
    findings, unselected = [], []
    for workload in sorted(seen):
        entry = seen[workload]
        if not entry["ingress"][0] and not entry["egress"][0]:
            unselected.append(workload)
        else:
            findings += _one_way(workload, entry)
    return findings, unselected


# --------------------------------------------------------------------------------------------
# Warnings
# --------------------------------------------------------------------------------------------


def _ignored_rules(policy: Policy) -> list[Finding]:
    types = ", ".join(POLICY_TYPE_OF[d] for d in policy.isolates)
    return [
        Finding(
            "ignored_rules",
            policy.key,
            f"{policy.key}: its {direction} rules are ignored: policyTypes "
            f"({types}) does not list {POLICY_TYPE_OF[direction]}",
            direction,
        )
        for direction in policy.ignored
    ]


def _values_hint(selector: Selector, labelled: list[Mapping[str, str]]) -> str:
    keys = [*selector.written_keys, *(r.key for r in selector.written_requirements)]
    hints = []
    for key in dict.fromkeys(keys):
        values = sorted({labels[key] for labels in labelled if key in labels})
        if not values:
            hints.append(f"no pod there has the label {key}")
            continue
        shown = ", ".join(values[:MAX_VALUES]) + (", ..." if len(values) > MAX_VALUES else "")
        hints.append(f"{key} there is {shown}")
    return "; ".join(hints)


def _selects_nothing(policy: Policy, pods: Sequence[Mapping[str, str] | None]) -> list[Finding]:
    """Whether ``policy`` selects none of the known ``pods`` of its namespace (None: labels
    unknown), and what the labels there are instead."""
    name, ns, selector = policy.key, policy.namespace, policy.subject
    labelled = [labels for labels in pods if labels is not None]
    unknown = len(pods) - len(labelled)
    if any(selector.matches(labels) for labels in labelled):
        return []
    sel = selector_text(selector) or "{}"
    if not labelled and unknown:
        text = (
            f"{name}: cannot tell what podSelector {sel} selects: the labels of "
            f"the {plural(unknown, 'pod')} of namespace {ns} are unknown"
        )
        return [Finding("selection_unknown", name, text)]
    if not labelled:
        text = f"{name}: selects nothing known: namespace {ns} has no known pod"
        return [Finding("selects_nothing", name, text)]
    hint = _values_hint(selector, labelled)
    also = f" ({unknown} more with unknown labels)" if unknown else ""
    text = (
        f"{name}: podSelector {sel} matches none of the "
        f"{plural(len(labelled), 'known pod')}{also} of namespace {ns}"
        + (f": {hint}" if hint else "")
    )
    return [Finding("selects_nothing", name, text)]


def unjudged_notes(policy: Policy) -> list[Finding]:
    """What the reader could not compile in ``policy``, and each rule it cannot judge, one
    finding each: connections they touch are counted unjudged, never allowed."""
    label = policy.label
    out = [Finding("unjudged", label, f"{label}: not judged: {note}") for note in policy.unjudged]
    for rule in policy.rules:
        if rule.unjudged:
            text = f"{RuleRef.of(policy, rule)}: not judged: {rule.unjudged}"
            out.append(Finding("unjudged_rule", label, text, rule.direction, rule.index))
    return out


def policy_warnings(run: VerifyRun, evaluator: Evaluator | None = None) -> list[Finding]:
    """Policies that select no known pod (the namespace was never seen, or the selector
    matches none of its pods: a typo?), and rules Kubernetes ignores because their direction
    is not in ``policyTypes``. Sorted by policy."""
    pods = run.pods
    known_ns: set[str] = set()
    by_ns: dict[str, list[Mapping[str, str] | None]] = defaultdict(list)
    if pods is not None:
        for ns, labels in zip(pods["namespace"], pods["labels"], strict=True):
            known_ns.add(ns)
            by_ns[ns].append(labels)
    if run.inventory is not None:
        known_ns.update(run.inventory.namespaces)
    policies = (evaluator or Evaluator(run.policies)).policies
    out: list[Finding] = []
    for policy in sorted(policies, key=lambda p: p.key):
        out += _ignored_rules(policy)
        out += unjudged_notes(policy)
        if pods is None or policy.namespace is None:
            continue
        if policy.namespace not in known_ns:
            text = (
                f"{policy.key}: selects nothing known: namespace {policy.namespace} has no "
                "observed or inventoried pod (a missing namespace, or a typo?)"
            )
            out.append(Finding("namespace_not_seen", policy.key, text))
        else:
            out += _selects_nothing(policy, by_ns.get(policy.namespace, []))  # type: ignore[arg-type]
    return out
