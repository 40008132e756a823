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
from .class_space import ClassSpace
from .classes import PolicyIndex, pod_classes_of
from .endpoints import container_ports
from .evaluator import Evaluator, Verdict
from .model import Policy

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
    #: Seconds per phase (not part of the result's value).
    timings: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    @property
    def total(self) -> int:
        return self.in_cluster + self.external_addresses

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "in_cluster": self.in_cluster,
            "in_cluster_universe": self.universe,
            "external_addresses": self.external_addresses,
            "unbounded_rules": self.unbounded,
            "per_policy": dict(sorted(self.per_policy.items())),
            "examples": self.examples,
        }


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
    names = {f"{r.namespace}/{r.policy}" for r in verdict.egress.allowed_by}
    names |= {f"{r.namespace}/{r.policy}" for r in verdict.ingress.allowed_by}
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
) -> Breadth:
    """Count what the evaluator's policies allow beyond what was observed (DESIGN §5; module
    docstring), with the evaluator's ``ipblock_matches_pods``."""
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
    space = ClassSpace(classes, index, universe)
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
    external, unbounded = external_breadth(evaluator.policies, wconns)
    for name, n in external.items():
        per_policy[name] += n
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


def external_breadth(policies: Iterable[Policy], wconns: pd.DataFrame) -> tuple[Counter, list[str]]:
    """(addresses x ports admitted by ipBlocks beyond the (address, port) pairs observed,
    per policy key; the rules no figure can bound: no peers or no ports)."""
    observed = _observed_addresses(wconns)
    per_policy: Counter = Counter()
    unbounded: list[str] = []
    for pol in policies:
        for rule in pol.rules:
            if rule.ports is None or rule.peers is None:
                unbounded.append(f"{pol.key} {rule.direction}[{rule.index}]")
                continue
            for block in (peer.block for peer in rule.peers if peer.block is not None):
                size = block.size
                for pm in rule.ports:
                    if pm.start is None:
                        per_policy[pol.key] += size  # a named port: one port per address
                        continue
                    # observed (address, port) pairs inside the block are not breadth
                    seen = sum(
                        1
                        for addr, p, n in observed[rule.direction]
                        if p == pm.protocol
                        and pm.start <= n <= pm.end  # type: ignore[operator]
                        and block.contains(addr)
                    )
                    span = pm.end - pm.start + 1  # type: ignore[operator]
                    per_policy[pol.key] += max(0, size * span - seen)
    return per_policy, unbounded
