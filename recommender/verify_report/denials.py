"""Denied traffic grouped and explained: which side denies each group, which policies
isolate it and what they do admit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..netpol.classes import PolicyIndex
from ..netpol.evaluator import DirectionVerdict, Evaluator, RuleRef
from ..netpol.model import NETWORK_POLICY_TIER, Action, Endpoint, Policy, Rule
from ..netpol.text import rule_text
from ..verify import PodIndex, pod_classes
from .addresses import AddressSummary, summarize_addresses
from .words import plural

if TYPE_CHECKING:
    from ..results import VerifyRun

__all__ = [
    "MAX_RULES",
    "Decision",
    "Denial",
    "DeniedGroup",
    "decision_text",
    "denied_groups",
    "port_number",
]

#: Rules described per denying side; the rest are counted.
MAX_RULES = 6


@dataclass(frozen=True)
class Decision:
    """How the tiers denied one side, when more than one additive tier is involved: the
    pass rules that handed it on, then the deny rule that decided, or the tier whose
    default (no rule matched) did."""

    tier: str
    denied_by: RuleRef | None = None
    passed_by: tuple[RuleRef, ...] = ()

    @classmethod
    def of(cls, side: DirectionVerdict) -> Decision | None:
        """None when a NetworkPolicy-like isolation decided it alone (the denial's usual
        words say it all)."""
        tier = side.tier
        if side.denied_by is None and not side.passed_by and tier in (None, NETWORK_POLICY_TIER):
            return None
        return cls(tier.name if tier is not None else "", side.denied_by, side.passed_by)


def decision_text(decision: Decision, rules: Mapping[RuleRef, Rule], namespaces: Mapping) -> str:
    """``denied by <rule> (<rule in words>)`` or ``denied by the end of tier <t> (no rule
    matches)``, after ``passed on by <rules>,`` when pass rules handed it on."""
    if decision.denied_by is not None:
        ref = decision.denied_by
        rule = rules.get(ref)
        words = f" ({rule_text(rule, namespaces.get(ref))})" if rule is not None else ""
        text = f"denied by {ref}{words}"
    else:
        text = f"denied by the end of tier {decision.tier} (no rule matches)"
    if decision.passed_by:
        text = "passed on by " + ", ".join(map(str, decision.passed_by)) + ", then " + text
    return text


@dataclass(frozen=True)
class Denial:
    """One denying side: ``subject`` is isolated for ``direction`` by ``isolated_by``, whose
    rules admit only ``admits`` (empty: nothing at all); ``decided_by``: under tiers, the
    rule (or tier default) that denied it, in words ("" when isolation alone did)."""

    direction: str
    subject: str
    isolated_by: tuple[str, ...]
    admits: tuple[str, ...]
    decided_by: str = ""

    def describe(self) -> str:
        pols = ", ".join(self.isolated_by)
        they = "it admits" if len(self.isolated_by) == 1 else "they admit"
        head = f"{self.subject} is isolated for {self.direction} by {pols}; "
        if self.decided_by:
            head += f"{self.decided_by}; "
        if not self.admits:
            return head + f"{they} no {self.direction} at all"
        shown = "; ".join(self.admits[:MAX_RULES])
        more = len(self.admits) - MAX_RULES
        return head + f"{they} only {shown}" + (f"; and {more} more rules" if more > 0 else "")

    def to_dict(self) -> dict[str, Any]:
        # "decided_by" only under tiers: NetworkPolicy documents keep their keys.
        decided = {"decided_by": self.decided_by} if self.decided_by else {}
        return {
            "direction": self.direction,
            "subject": self.subject,
            "isolated_by": list(self.isolated_by),
            "admits": list(self.admits),
            **decided,
            "text": self.describe(),
        }


def _denial(
    direction: str,
    subject: str,
    isolated_by: Sequence[str],
    decision: Decision | None,
    by_key: Mapping[str, Sequence[Policy]],
) -> Denial:
    admits: list[str] = []
    rules: dict[RuleRef, Rule] = {}
    namespaces: dict[RuleRef, str | None] = {}
    for key in isolated_by:
        for policy in by_key.get(key, ()):
            for rule in policy.rules_of(direction):
                ref = RuleRef.of(policy, rule)
                rules[ref], namespaces[ref] = rule, policy.namespace
                text = rule_text(rule, policy.namespace)
                if rule.action == Action.ALLOW and text not in admits:
                    admits.append(text)
    decided = decision_text(decision, rules, namespaces) if decision is not None else ""
    return Denial(direction, subject, tuple(isolated_by), tuple(admits), decided)


@dataclass(frozen=True)
class DeniedGroup:
    """Denied connections of one (source, destination, protocol, port); a non-pod side is
    every address of its kind (``source_addresses`` / ``destination_addresses``)."""

    source: str
    source_kind: str
    destination: str
    destination_kind: str
    protocol: str
    port: int | None
    connections: int
    #: distinct (source end, destination end) pairs: pods by name, addresses by address
    pairs: int
    flows: int
    denials: tuple[Denial, ...]
    source_addresses: AddressSummary | None = None
    destination_addresses: AddressSummary | None = None

    @property
    def port_text(self) -> str:
        return self.protocol if self.port is None else f"{self.port}/{self.protocol}"

    def lines(self) -> list[str]:
        """Text lines (not yet escaped: see :func:`recommender.verify_report.report_lines`)."""
        pair = "pod pair" if self.source_kind == self.destination_kind == "pod" else "pair"
        out = [
            f"  {self.source} -> {self.destination} [{self.port_text}]: "
            f"{plural(self.pairs, pair)}, {plural(self.flows, 'flow')}"
        ]
        if self.source_addresses is not None:
            out.append(f"      sources: {self.source_addresses.describe()}")
        if self.destination_addresses is not None:
            out.append(f"      destinations: {self.destination_addresses.describe()}")
        out += [f"      why: {d.describe()}" for d in self.denials]
        if not self.denials:
            out.append("      why: no policy side could be named (neither end is a known pod)")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "source_kind": self.source_kind,
            "destination": self.destination,
            "destination_kind": self.destination_kind,
            "protocol": self.protocol,
            "port": self.port,
            "connections": self.connections,
            "pairs": self.pairs,
            "flows": self.flows,
            "source_addresses": self.source_addresses.to_dict() if self.source_addresses else None,
            "destination_addresses": self.destination_addresses.to_dict()
            if self.destination_addresses
            else None,
            "why": [d.to_dict() for d in self.denials],
        }


def _side_label(workload: str | None, addresses: AddressSummary | None) -> str:
    """A pod side is its workload; an address side says how many ends of which kind."""
    if workload is not None or addresses is None:
        return str(workload)
    n = addresses.count + len(addresses.other)
    return f"{n} {addresses.kind} {'address' if n == 1 else 'addresses'}"


@dataclass
class _Acc:
    connections: int = 0
    flows: int = 0
    pairs: set = field(default_factory=set)
    src_ips: list = field(default_factory=list)
    dst_ips: list = field(default_factory=list)
    sides: dict = field(default_factory=dict)


def port_number(value: Any) -> int | None:
    """A port cell of the replayed table as an int; None when there is none (ICMP)."""
    return None if value is None or pd.isna(value) else int(value)


_ROW_COLUMNS = (
    "src_kind",
    "src_namespace",
    "src_pod",
    "src_ip",
    "src_workload",
    "dst_kind",
    "dst_namespace",
    "dst_pod",
    "dst_ip",
    "dst_workload",
    "protocol",
    "port",
    "flows",
)


def _accumulate(denied: pd.DataFrame, sides: _Sides) -> dict[tuple, _Acc]:
    """The denied rows by (source workload or None, source kind, destination workload or
    None, destination kind, protocol, port): counts, ends and the denying sides."""
    accs: dict[tuple, _Acc] = defaultdict(_Acc)
    columns = [denied[c].tolist() for c in _ROW_COLUMNS]
    for (
        s_kind,
        s_ns,
        s_name,
        s_ip,
        s_wl,
        d_kind,
        d_ns,
        d_name,
        d_ip,
        d_wl,
        proto,
        port,
        flows,
    ) in zip(*columns, strict=True):
        s_pod, d_pod = s_kind == "pod", d_kind == "pod"
        port = port_number(port)
        acc = accs[(s_wl if s_pod else None, s_kind, d_wl if d_pod else None, d_kind, proto, port)]
        acc.connections += 1
        acc.flows += 0 if flows is None or pd.isna(flows) else int(flows)
        s_end = (s_ns, s_name) if s_pod else s_ip
        d_end = (d_ns, d_name) if d_pod else d_ip
        acc.pairs.add((s_end, d_end))
        if not s_pod:
            acc.src_ips.append(s_ip)
        if not d_pod:
            acc.dst_ips.append(d_ip)
        for side, policies, decision in sides.denying(
            s_end if s_pod else None, d_end if d_pod else None, proto, port
        ):
            subject = s_wl if side == "egress" else d_wl
            acc.sides.setdefault((side, subject, policies, decision), None)
    return accs


def _side_order(side: tuple) -> tuple:
    """Denying sides by direction, subject and policies, then how they were decided."""
    direction, subject, isolated, decision = side
    how = () if decision is None else (decision.tier, str(decision.denied_by), decision.passed_by)
    return (direction, str(subject), isolated, how)


def _group(key: tuple, acc: _Acc, by_key: Mapping[str, Sequence[Policy]]) -> DeniedGroup:
    src, s_kind, dst, d_kind, protocol, port = key
    src_sum = summarize_addresses(s_kind, acc.src_ips) if src is None else None
    dst_sum = summarize_addresses(d_kind, acc.dst_ips) if dst is None else None
    denials = tuple(
        _denial(side, subject, isolated, decision, by_key)
        for side, subject, isolated, decision in sorted(acc.sides, key=_side_order)
    )
    return DeniedGroup(
        source=_side_label(src, src_sum),
        source_kind="pod" if src is not None else s_kind,
        destination=_side_label(dst, dst_sum),
        destination_kind="pod" if dst is not None else d_kind,
        protocol=protocol,
        port=port,
        connections=acc.connections,
        pairs=len(acc.pairs),
        flows=acc.flows,
        denials=denials,
        source_addresses=src_sum,
        destination_addresses=dst_sum,
    )


def denied_groups(run: VerifyRun, evaluator: Evaluator | None = None) -> list[DeniedGroup]:
    """The judged connections ``run`` denies, grouped and explained (pod sources first, then
    by source, destination, protocol, port)."""
    replayed = run.replayed
    denied = replayed[~replayed["allowed"] & ~replayed["exempt"]]
    if "unjudged" in denied.columns:  # unknown verdicts are counted apart, never denied
        denied = denied[[not refs for refs in denied["unjudged"].tolist()]]
    if not len(denied):
        return []
    evaluator = evaluator or Evaluator(run.policies)
    # By label (the kind first when not NetworkPolicy), as verdicts name the policies; one
    # object may have compiled into a policy per tier (a Cilium policy's deny part).
    by_key: dict[str, list[Policy]] = {}
    for p in evaluator.policies:
        by_key.setdefault(p.label, []).append(p)
    accs = _accumulate(denied, _Sides(evaluator, run.pods))
    groups = [_group(key, acc, by_key) for key, acc in accs.items()]
    groups.sort(
        key=lambda g: (g.source_kind != "pod", g.source, g.destination, g.protocol, g.port or 0)
    )
    return groups


#: A denying side: (direction, isolating policies, how the tiers decided or None).
_Side = tuple[str, tuple[str, ...], Decision | None]


class _Sides:
    """Which side of a denied connection denies it, and the policies isolating that side;
    evaluated once per pair of pod classes (pods no policy tells apart, as
    :func:`recommender.verify.replay` groups them: namespace, the labels and named ports
    policies mention, and the ipBlocks holding the pod's address)."""

    def __init__(self, evaluator: Evaluator, pods: pd.DataFrame | None) -> None:
        self.evaluator = evaluator
        policy_index = PolicyIndex.of(evaluator)
        empty = pd.DataFrame(columns=["namespace", "pod", "labels", "namespace_labels"])
        index = PodIndex(pods if pods is not None else empty)
        codes = pod_classes(index, evaluator, policy_index)
        self.pods: dict[tuple[str, str], tuple[Endpoint, int]] = {
            key: (index.endpoints[pos], int(codes[pos]))
            for key, pos in index.positions.items()
            if key not in index.unknown  # labels unknown: no selector can be checked
        }
        self.cache: dict[tuple, tuple[_Side, ...]] = {}

    def denying(
        self, src: tuple[str, str] | None, dst: tuple[str, str] | None, protocol: str, port: Any
    ) -> tuple[_Side, ...]:
        """(direction, isolating policies, how the tiers decided or None) of each denying
        side; only a pod's side can deny (a non-pod end is never restricted)."""
        s = self.pods.get(src) if src is not None else None
        d = self.pods.get(dst) if dst is not None else None
        key = (s[1] if s else -1, d[1] if d else -1, protocol, port)
        hit = self.cache.get(key)
        if hit is None:
            hit = self.cache[key] = self._denying(
                s[0] if s else None, d[0] if d else None, protocol, port
            )
        return hit

    def _denying(
        self, src: Endpoint | None, dst: Endpoint | None, protocol: str, port: Any
    ) -> tuple[_Side, ...]:
        ev = self.evaluator
        egress = tuple(ev.policies_selecting(src, "egress")) if src is not None else ()
        ingress = tuple(ev.policies_selecting(dst, "ingress")) if dst is not None else ()
        tiered = not ev.network_policy_only and src is not None and dst is not None
        if tiered or (egress and ingress):  # which side denies takes an evaluation
            verdict = ev.evaluate(src, dst, protocol, port)  # type: ignore[arg-type]
            return tuple(
                (v.direction, v.isolated_by, Decision.of(v))
                for v in (verdict.egress, verdict.ingress)
                if not v.allowed
            )
        if egress:
            return (("egress", egress, None),)
        if ingress:
            return (("ingress", ingress, None),)
        return ()
