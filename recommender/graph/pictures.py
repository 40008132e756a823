"""The two pictures the tool draws: a proposal (what it allows, what it puts at risk) and a
replay of existing policies (what they allow, deny, cannot judge, put at risk)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .model import Graph, build_graph, workload_pairs

if TYPE_CHECKING:
    from ..results import Recommendation, VerifyRun

#: The file ``recommend`` writes the proposal's picture to, beside SUMMARY.md.
GRAPH_FILE = "graph.svg"


def proposal_graph(rec: Recommendation) -> Graph:
    """Every workload by namespace, the observed edges the proposal allows, with their
    ports, and the observed traffic it will deny (at risk)."""
    return build_graph(
        "Proposed policies: allowed and at-risk traffic",
        rec.replayed,
        at_risk=rec.at_risk.table if rec.at_risk is not None else None,
        workloads=workload_pairs(rec.workloads),
        statuses=("allowed", "at-risk"),
    )


def verify_graph(run: VerifyRun) -> Graph:
    """The observed edges existing policies allow, deny and cannot judge, and the traffic
    outside coverage they deny (at risk)."""
    return build_graph(
        "Existing policies against observed flows",
        run.replayed,
        at_risk=run.at_risk.table if run.at_risk is not None else None,
        workloads=workload_pairs(run.pods),
        statuses=("allowed", "denied", "unjudged", "at-risk"),
    )
