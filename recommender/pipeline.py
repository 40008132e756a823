"""The library API: each stage a function from tables to tables, and ``recommend`` chaining
them. The CLI and notebooks call these same functions.

>>> from recommender.pipeline import recommend
>>> rec = recommend(["sample_flows/"])          # doctest: +SKIP
>>> rec.coverage, rec.breadth.total, len(rec.policies)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa

from .accounting import RecordCounts
from .connections import build_connections, observed_pods
from .generate.ir import PolicyIR
from .generate.k8s import render_policy
from .generate.synthesis import Synthesis, synthesize
from .selectors import Selection, workload_selectors
from .semantics import Evaluator
from .verify import Breadth, coverage, measure_breadth, replay
from .workloads import assign_workloads, workload_connections, workload_table


@dataclass
class Recommendation:
    """Everything a run produced: the proposal and the evidence behind each figure."""

    counts: RecordCounts
    excluded: Counter
    connections: pd.DataFrame
    pods: pd.DataFrame
    workloads: pd.DataFrame
    workload_connections: pd.DataFrame
    selections: dict[str, Selection]
    synthesis: Synthesis
    policies: list[dict[str, Any]]
    replayed: pd.DataFrame
    coverage: float
    covered: int
    judged: int
    breadth: Breadth
    namespaces: list[str] | None = None
    inputs: list[str] = field(default_factory=list)

    @property
    def ir(self) -> list[PolicyIR]:
        return self.synthesis.policies

    @property
    def denied(self) -> pd.DataFrame:
        """Observed connections the proposal would deny (empty when coverage is 100%)."""
        return self.replayed[~self.replayed["allowed"]]


def recommend_from_flows(
    flows: pa.Table,
    counts: RecordCounts,
    *,
    namespaces: Sequence[str] | None = None,
    inputs: Sequence[str] = (),
) -> Recommendation:
    """connections -> workloads -> selectors -> policies -> replay and breadth."""
    conn_set = build_connections(flows)
    pods = assign_workloads(observed_pods(flows))
    workloads = workload_table(pods)
    wconns = workload_connections(conn_set.table, pods)
    selections = workload_selectors(pods)
    ns = sorted(set(namespaces)) if namespaces else None
    synthesis = synthesize(wconns, workloads, selections, ns)
    policies = [render_policy(p) for p in synthesis.policies]
    evaluator = Evaluator(policies)
    replayed = replay(conn_set.table, evaluator, pods)
    if ns is not None:
        # Connections with neither end in scope are not this proposal's to cover.
        in_scope = replayed["src_namespace"].isin(ns) | replayed["dst_namespace"].isin(ns)
        replayed = replayed[in_scope].reset_index(drop=True)
    share, ok, total = coverage(replayed)
    breadth = measure_breadth(
        evaluator, pods, wconns, policies, resolvers=synthesis.resolvers, namespaces=ns
    )
    return Recommendation(
        counts=counts,
        excluded=conn_set.excluded,
        connections=conn_set.table,
        pods=pods,
        workloads=workloads,
        workload_connections=wconns,
        selections=selections,
        synthesis=synthesis,
        policies=policies,
        replayed=replayed,
        coverage=share,
        covered=ok,
        judged=total,
        breadth=breadth,
        namespaces=ns,
        inputs=list(inputs),
    )


def recommend(
    inputs: Sequence[str | os.PathLike],
    *,
    namespaces: Sequence[str] | None = None,
    format: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Recommendation:
    """Read flow logs and propose policies; nothing is written (see ``proposal.write``)."""
    from .ingest import read_flows

    flowset = read_flows(inputs, format=format, progress=progress)
    return recommend_from_flows(
        flowset.table,
        flowset.counts,
        namespaces=namespaces,
        inputs=[os.fspath(p) for p in inputs],
    )


@dataclass
class VerifyRun:
    """A replay of observed flows against a set of policies (``netpol-recommender verify``)."""

    counts: RecordCounts
    excluded: Counter
    replayed: pd.DataFrame
    coverage: float
    covered: int
    judged: int
    breadth: Breadth
    notes: list[str]

    @property
    def denied(self) -> pd.DataFrame:
        return self.replayed[~self.replayed["allowed"]]


def verify_policies(
    policies: Sequence[dict[str, Any]],
    inputs: Sequence[str | os.PathLike],
    *,
    format: str | None = None,
    notes: Sequence[str] = (),
) -> VerifyRun:
    """Replay every observed connection in ``inputs`` against ``policies``."""
    from .generate.synthesis import find_resolvers
    from .ingest import read_flows

    flowset = read_flows(inputs, format=format)
    conn_set = build_connections(flowset.table)
    pods = assign_workloads(observed_pods(flowset.table))
    wconns = workload_connections(conn_set.table, pods)
    evaluator = Evaluator(policies)
    replayed = replay(conn_set.table, evaluator, pods)
    workload_of = dict(
        zip(zip(pods["namespace"], pods["pod"], strict=True), pods["workload"], strict=True)
    )
    for side in ("src", "dst"):
        replayed[f"{side}_workload"] = [
            workload_of.get((ns, pod), ip) if kind == "pod" else ip
            for kind, ns, pod, ip in zip(
                replayed[f"{side}_kind"],
                replayed[f"{side}_namespace"],
                replayed[f"{side}_pod"],
                replayed[f"{side}_ip"],
                strict=True,
            )
        ]
    share, ok, total = coverage(replayed)
    breadth = measure_breadth(
        evaluator, pods, wconns, list(policies), resolvers=find_resolvers(wconns)
    )
    return VerifyRun(
        flowset.counts, conn_set.excluded, replayed, share, ok, total, breadth, list(notes)
    )
