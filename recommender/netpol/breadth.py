"""Breadth: what policies allow beyond what was observed (DESIGN §5), computed at scale.

Definition. The universe is every known workload (source) x every known workload
(destination) x every port of the port universe: the (protocol, port) pairs observed on
workload destinations, DNS (UDP and TCP 53), and the container ports the pods table declares
(optional ``ports`` column of ``(name, port, protocol)``). With ``namespaces`` only pairs with at
least one side in those namespaces count. An element ``(src, dst, protocol, port)`` is *broad*
when some pod of ``src`` may reach some pod of ``dst`` on it (:class:`Evaluator` semantics) and
it is not expected (observed, or the DNS allowance: :func:`expected_pairs`). Pods whose labels
are unknown are left out: no selector can name them. Per policy: the number of broad elements
that a rule of the policy helped allow, i.e. the union over every allowed (source pod,
destination pod) pair of the policies whose egress rules matched on the source's side and whose
ingress rules matched on the destination's side, plus ``(egress of W not isolated)`` /
``(ingress of W not isolated)`` when an allowing pair had that side open. External breadth
counts the addresses x ports each ipBlock admits beyond those observed.

Method. Breadth works on the evaluator's own compiled policies (:attr:`Evaluator.policies`),
never on a second reading of the source. Pods no policy tells apart form a *class*
(:mod:`recommender.netpol.classes`); each policy is compiled once into class space
(:mod:`recommender.netpol.class_space`) and the count is bitwise algebra over class x class x
port-word arrays (:mod:`recommender.netpol.breadth_count`). Everything is exact;
``tests/netpol/test_breadth.py`` checks it against :meth:`Evaluator.evaluate` on every
(pod, pod, port) of random clusters.
"""

from __future__ import annotations

import ipaddress
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .breadth_count import InClusterCount
from .breadth_limits import not_measured
from .class_space import ClassSpace
from .classes import PolicyIndex, pod_classes_of
from .endpoints import container_ports
from .evaluator import Evaluator, Verdict
from .model import Action, IPBlock, Policy, Rule

__all__ = [
    "DNS_PORTS",
    "Breadth",
    "expected_pairs",
    "external_breadth",
    "measure_breadth",
    "port_universe",
]

DNS_PORTS = (("UDP", 53), ("TCP", 53))


def expected_pairs(wconns: pd.DataFrame, resolvers: list[str]) -> set[tuple[str, str, str, int]]:
    """Observed workload pairs, plus the DNS allowance every egress workload gets."""
    inner = wconns[(wconns["src_type"] == "workload") & (wconns["dst_type"] == "workload")]
    pairs = {
        (s, d, p, int(n))
        for s, d, p, n in zip(
            inner["src_id"], inner["dst_id"], inner["protocol"], inner["port"], strict=True
        )
    }
    with_egress = set(wconns.loc[wconns["src_type"] == "workload", "src_id"])
    for client in with_egress:
        for resolver in resolvers:
            for proto, port in DNS_PORTS:
                pairs.add((client, resolver, proto, port))
    return pairs


def port_universe(pods: pd.DataFrame, wconns: pd.DataFrame) -> list[tuple[str, int]]:
    """Observed (protocol, port) on workload destinations, DNS, and declared container ports."""
    inner = wconns[wconns["dst_type"] == "workload"]
    ports = {(p, int(n)) for p, n in zip(inner["protocol"], inner["port"], strict=True)}
    ports |= set(DNS_PORTS)
    if "ports" in pods.columns:
        for cell in pods["ports"]:
            ports |= {(cp.protocol, cp.port) for cp in container_ports(cell)}
    return sorted(ports)


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


@dataclass
class Breadth:
    """Allowed but never observed: in-cluster pairs and external addresses."""

    in_cluster: int
    universe: int
    external_addresses: int
    per_policy: dict[str, int]
    examples: list[dict[str, Any]]
    unbounded: list[str]
    #: Pod classes the in-cluster count was computed over (pods no policy tells apart).
    pod_classes: int = 0
    #: Size of the port universe.
    ports: int = 0
    #: Workloads with at least one pod of known labels.
    workloads: int = 0
    #: Per rule (``ns/name direction[index]``, the text of a ``RuleRef``), when measured
    #: with ``per_rule``: the broad elements the rule matched on its side of an allowed
    #: pair, plus its ipBlocks' external addresses x ports. Rules that allow nothing broad
    #: are absent. Not in :meth:`to_dict` (the per-policy figures are).
    per_rule: dict[str, int] = field(default_factory=dict)
    #: Why no figure was counted, one line per policy breadth cannot count exactly
    #: (:mod:`recommender.netpol.breadth_limits`); empty when every figure is exact.
    not_measured: list[str] = field(default_factory=list)
    #: Per rule (``RuleRef`` text), the external peers it admits by name rather than by
    #: address, which no address count holds: ``N names (...)`` for ``toFQDNs``, the API
    #: server for the ``kube-apiserver`` entity.
    external_names: dict[str, str] = field(default_factory=dict)
    #: Seconds per phase (not part of the result's value).
    timings: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    @property
    def total(self) -> int:
        return self.in_cluster + self.external_addresses

    def to_dict(self) -> dict[str, Any]:
        out = {
            "total": self.total,
            "in_cluster": self.in_cluster,
            "in_cluster_universe": self.universe,
            "external_addresses": self.external_addresses,
            "unbounded_rules": self.unbounded,
            "per_policy": dict(sorted(self.per_policy.items())),
            "examples": self.examples,
        }
        if self.not_measured:
            out["not_measured"] = self.not_measured
        if self.external_names:
            out["external_names"] = dict(sorted(self.external_names.items()))
        return out


def _example(
    evaluator: Evaluator, space: ClassSpace, counter: InClusterCount, w_src: int, w_dst: int, p: int
) -> dict[str, Any]:
    """One broad element, with every policy that helped allow it (from the evaluator)."""
    proto, port = counter.universe[p]
    src, dst = counter.workloads[w_src], counter.workloads[w_dst]
    reps = space.classes.reps
    names: set[str] = set()
    for s in range(counter.wstart[w_src], counter.wend[w_src]):
        for d in range(counter.wstart[w_dst], counter.wend[w_dst]):
            verdict = evaluator.evaluate(reps[s], reps[d], proto, port)
            if verdict.allowed:
                names |= verdict_names(verdict, src, dst)
    return {"src": src, "dst": dst, "protocol": proto, "port": port, "allowed_by": sorted(names)}


def verdict_names(verdict: Verdict, src: str, dst: str) -> set[str]:
    """The per-policy entries an allowed verdict between workloads ``src`` and ``dst`` adds."""
    names = {r.policy_key for r in verdict.egress.allowed_by}
    names |= {r.policy_key for r in verdict.ingress.allowed_by}
    if not verdict.egress.isolated:
        names.add(f"(egress of {src} not isolated)")
    if not verdict.ingress.isolated:
        names.add(f"(ingress of {dst} not isolated)")
    return names


def measure_breadth(
    evaluator: Evaluator,
    pods: pd.DataFrame,
    wconns: pd.DataFrame,
    *,
    resolvers: list[str],
    namespaces: list[str] | None = None,
    max_examples: int = 10,
    per_rule: bool = False,
) -> Breadth:
    """Count what the evaluator's policies allow beyond what was observed (DESIGN §5; module
    docstring), with the evaluator's ``ipblock_matches_pods``. ``per_rule`` also counts
    each rule alone (:attr:`Breadth.per_rule`), for judging existing rules one by one.
    A policy set it cannot count exactly (:mod:`recommender.netpol.breadth_limits`) gets
    no figure (zeros) and :attr:`Breadth.not_measured` says why."""
    limits = not_measured(evaluator.policies, evaluator.ipblock_matches_pods)
    if not limits:
        try:
            return _measure(evaluator, pods, wconns, resolvers, namespaces, max_examples, per_rule)
        except ValueError as err:  # two baseline policies select one class (class_space)
            limits = [str(err)]
    universe = port_universe(pods, wconns)
    return Breadth(0, 0, 0, {}, [], [], ports=len(universe), not_measured=limits)


def _measure(
    evaluator: Evaluator,
    pods: pd.DataFrame,
    wconns: pd.DataFrame,
    resolvers: list[str],
    namespaces: list[str] | None,
    max_examples: int,
    per_rule: bool,
) -> Breadth:
    """:func:`measure_breadth` of a policy set it counts exactly."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    index = PolicyIndex.of(evaluator)
    universe = port_universe(pods, wconns)
    lap("index")
    classes = pod_classes_of(pods, index)
    lap("classes")
    space = ClassSpace(classes, index, universe, per_rule=per_rule)
    lap("compile")
    scope = set(namespaces) if namespaces is not None else None  # []: no namespace
    counter = InClusterCount(
        space, expected_pairs(wconns, resolvers), universe, scope, max_examples
    )
    if classes.workloads:
        counter.run()
    lap("count")
    n_w = len(classes.workloads)
    if scope is None:
        pairs = n_w * n_w
    else:
        outside = n_w - int(counter.in_scope.sum())  # type: ignore[union-attr]
        pairs = n_w * n_w - outside * outside
    examples = [_example(evaluator, space, counter, *e) for e in counter.example_elements]
    lap("examples")
    per_policy = counter.per_policy
    external, unbounded, external_rules, names = external_breadth(evaluator.policies, wconns)
    for name, n in external.items():
        per_policy[name] += n
    rules = counter.per_rule
    for name, n in external_rules.items() if per_rule else ():
        rules[name] += n
    lap("external")
    return Breadth(
        counter.count,
        pairs * len(universe),
        sum(external.values()),
        dict(per_policy),
        examples,
        unbounded,
        pod_classes=len(classes.reps),
        ports=len(universe),
        workloads=n_w,
        per_rule={k: v for k, v in sorted(rules.items()) if v},
        external_names=names,
        timings=timings,
    )


def _observed_addresses(wconns: pd.DataFrame) -> dict[str, list]:
    """direction -> (address, protocol, port) observed on the non-workload side: sources
    seen by ingress, destinations by egress."""
    observed = set()
    for row in wconns.itertuples(index=False):
        if row.src_type != "workload":
            observed.add(("ingress", row.src_id, row.protocol, int(row.port)))
        if row.dst_type != "workload":
            observed.add(("egress", row.dst_id, row.protocol, int(row.port)))
    out: dict[str, list] = {"ingress": [], "egress": []}
    for direction, addr, proto, port in observed:
        try:
            out[direction].append((ipaddress.ip_address(addr), proto, port))
        except (TypeError, ValueError):
            continue
    return out


#: The external addresses an entity peer stands for: world is every address outside the
#: cluster, counted like 0.0.0.0/0 and ::/0 (Cilium: "allowing to world is identical to
#: allowing to CIDR 0/0").
_ENTITY_BLOCKS = {
    "world": (IPBlock(ipaddress.ip_network("0.0.0.0/0")), IPBlock(ipaddress.ip_network("::/0"))),
    "world-ipv4": (IPBlock(ipaddress.ip_network("0.0.0.0/0")),),
    "world-ipv6": (IPBlock(ipaddress.ip_network("::/0")),),
}
_ENTITY_BLOCKS["all"] = _ENTITY_BLOCKS["world"]


def external_breadth(
    policies: Iterable[Policy], wconns: pd.DataFrame
) -> tuple[Counter, list[str], Counter, dict[str, str]]:
    """(addresses x ports admitted by ipBlocks and world entities beyond the (address,
    port) pairs observed, per policy key; the rules no figure can bound: no peers, no ports,
    or a ``toFQDNs`` pattern; the same figure per rule, ``ns/name direction[index]``; per
    rule, what it admits by name: :attr:`Breadth.external_names`). Deny rules admit
    nothing."""
    observed = _observed_addresses(wconns)
    per_policy: Counter = Counter()
    per_rule: Counter = Counter()
    unbounded: list[str] = []
    names: dict[str, str] = {}
    for pol in policies:
        for rule in pol.rules:
            if rule.action != Action.ALLOW:
                continue
            ref = f"{pol.label} {rule.direction}[{rule.index}]"
            if rule.ports is None or rule.peers is None:
                unbounded.append(ref)
                continue
            blocks = [peer.block for peer in rule.peers if peer.block is not None]
            blocks += [b for peer in rule.peers for b in _ENTITY_BLOCKS.get(peer.entity or "", ())]
            named = _named_peers(rule)
            if named:
                names[ref] = named
                if "pattern" in named:
                    unbounded.append(ref)
            if blocks:  # a policy without ipBlocks gets no entry, not a 0
                n = _rule_external(rule, blocks, observed[rule.direction])
                per_policy[pol.key] += n
                per_rule[ref] += n
    return per_policy, unbounded, per_rule, names


def _named_peers(rule: Rule) -> str:
    """What a rule admits by name: ``N names (a, b)``, ``... and N patterns (unbounded)``,
    the API server; "" when nothing."""
    exact = sorted({p.fqdn.name for p in rule.peers or () if p.fqdn and p.fqdn.name})
    patterns = sorted({p.fqdn.pattern for p in rule.peers or () if p.fqdn and p.fqdn.pattern})
    parts = []
    if exact:
        parts.append(f"{len(exact)} name{'s' if len(exact) != 1 else ''} ({', '.join(exact)})")
    if patterns:
        parts.append(
            f"{len(patterns)} pattern{'s' if len(patterns) != 1 else ''} "
            f"({', '.join(patterns)}; unbounded)"
        )
    if any(p.entity == "kube-apiserver" for p in rule.peers or ()):
        parts.append("the API server's addresses")
    return ", ".join(parts)


def _rule_external(rule: Rule, blocks: list[IPBlock], observed: list) -> int:
    """Addresses x ports one rule's ipBlocks admit beyond the observed (address, port)s."""
    total = 0
    for block in blocks:
        size = block.size
        for pm in rule.ports or ():
            if pm.start is None:
                total += size  # a named port: one port per address
                continue
            # observed (address, port) pairs inside the block are not breadth
            seen = sum(
                1
                for addr, p, n in observed
                if p == pm.protocol
                and pm.start <= n <= pm.end  # type: ignore[operator]
                and block.contains(addr)
            )
            span = pm.end - pm.start + 1  # type: ignore[operator]
            total += max(0, size * span - seen)
    return total
