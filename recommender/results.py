"""What the three library stages return (:mod:`recommender.pipeline`): plain dataclasses
whose tables are pandas DataFrames, each with ``to_dict()`` for JSON.

- :class:`Observation` (``observe``): the connections, pods and record counts of the logs.
- :class:`Recommendation` (``propose``): the proposed policies, proven against them.
- :class:`VerifyRun` (``check``): existing policies replayed against them.
- :class:`Normalized` (``normalize``): logs written as one normalized Parquet table.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pandas as pd

from .accounting import RecordCounts
from .at_risk import AtRisk
from .connections import ConnectionSet
from .options import SynthesisOptions

# types only: the modules load when a run uses them (the methods below import what they
# call), so ``verify`` loads none of the proposal's and ``recommend`` none of verify's report
if TYPE_CHECKING:
    from .existing import ExistingFit
    from .generate.ir import PolicyIR
    from .generate.synthesis import Synthesis
    from .graph.model import Graph
    from .ingest.enrich import EnrichStats
    from .ingest.inventory import Inventory
    from .netpol.breadth import Breadth
    from .selectors import Selection
    from .window import Window


@dataclass
class Observation:
    """The flow logs read once: connections, pods and their workloads, what each record
    became, and the cluster's own ranges (pods, nodes, Service IPs) that at-risk and
    replay judge addresses by. Propose policies from it, or check existing ones against it.
    """

    counts: RecordCounts
    connection_set: ConnectionSet
    #: one row per known pod (observed, plus the inventory's quiet ones), with its workload
    pods: pd.DataFrame
    #: connections folded to (source workload, destination workload, protocol, port)
    workload_connections: pd.DataFrame
    #: node addresses: node sources seen in the connections, and the inventory's
    node_ips: list[str]
    #: the inventory's pod CIDRs and Service ClusterIPs
    cluster_cidrs: list[str]
    #: address ranges of the cluster itself (pods, nodes, the above), as CIDR strings
    cluster: tuple[str, ...] = ()
    inputs: list[str] = field(default_factory=list)
    inventory: Inventory | None = None
    #: what the inventory resolved (pods, nodes, service backends, ambiguous addresses)
    enrichment: EnrichStats | None = None

    @property
    def connections(self) -> pd.DataFrame:
        """One row per observed pod-level connection (source, destination, port)."""
        return self.connection_set.table

    @property
    def excluded(self) -> Counter:
        """Records that became no connection, by reason (replies, unknown direction, ...)."""
        return self.connection_set.excluded

    @property
    def node_addresses(self) -> list[str] | None:
        """The inventory's node addresses (None without an inventory)."""
        return self.inventory.node_addresses() if self.inventory is not None else None

    @cached_property
    def window(self) -> Window:
        """How complete the window looks: discovery curve, chance the next connection is
        new, periodic traffic, and the one-line verdict (:mod:`recommender.window`)."""
        from .window import assess_window

        return assess_window(self.connections, self.pods)

    @property
    def unresolved_connections(self) -> int:
        """Connections with an end known only by its address (what --inventory resolves)."""
        conns = self.connections
        return int((conns["src_kind"].eq("unknown") | conns["dst_kind"].eq("unknown")).sum())

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": sorted(self.inputs),
            "records": self.counts.to_dict(),
            "excluded_records": dict(sorted(self.excluded.items())),
            "connections": len(self.connections),
            "pods": len(self.pods),
            "enrichment": self.enrichment.to_dict() if self.enrichment is not None else None,
        }


@dataclass
class Recommendation:
    """A proposal and the evidence behind each figure: the policies, the replay of every
    observed connection through them, what they deny outside coverage, and their breadth."""

    observation: Observation
    workloads: pd.DataFrame
    selections: dict[str, Selection]
    synthesis: Synthesis
    policies: list[dict[str, Any]]
    #: every observed connection with its verdict (``allowed``, ``exempt``, ``reasons``)
    replayed: pd.DataFrame
    coverage: float
    covered: int
    judged: int
    breadth: Breadth
    namespaces: list[str] | None = None
    options: SynthesisOptions = field(default_factory=SynthesisOptions)
    #: Observed traffic the proposal will deny that coverage does not judge (see
    #: :mod:`recommender.at_risk`): shown first, and what ``--strict`` refuses.
    at_risk: AtRisk | None = None
    #: With existing policies (``propose(existing=...)``): what the proposal adds to them,
    #: and coverage and breadth before (existing alone) and after (existing and proposal).
    existing: ExistingFit | None = None

    @property
    def counts(self) -> RecordCounts:
        return self.observation.counts

    @property
    def excluded(self) -> Counter:
        return self.observation.excluded

    @property
    def connections(self) -> pd.DataFrame:
        return self.observation.connections

    @property
    def pods(self) -> pd.DataFrame:
        return self.observation.pods

    @property
    def workload_connections(self) -> pd.DataFrame:
        return self.observation.workload_connections

    @property
    def inputs(self) -> list[str]:
        return self.observation.inputs

    @property
    def window(self) -> Window:
        """The observation window's adequacy (:attr:`Observation.window`)."""
        return self.observation.window

    @property
    def inventory(self) -> Inventory | None:
        return self.observation.inventory

    @property
    def enrichment(self) -> dict[str, Any] | None:
        stats = self.observation.enrichment
        return stats.to_dict() if stats is not None else None

    @property
    def ir(self) -> list[PolicyIR]:
        return self.synthesis.policies

    @property
    def denied(self) -> pd.DataFrame:
        """Observed connections the proposal would deny (empty when coverage is 100%); not
        the unjudged ones (:attr:`unjudged`)."""
        return _denied(self.replayed)

    @property
    def unjudged(self) -> pd.DataFrame:
        """Observed connections whose verdict is unknown (a matching rule the evaluator
        cannot judge): in coverage's total, never allowed, not denied either."""
        return _unjudged(self.replayed)

    @property
    def external(self) -> pd.DataFrame:
        """One row per external peer group a rule admits (addresses, CIDRs, public)."""
        return pd.DataFrame(self.synthesis.external)

    @property
    def breadth_per_policy(self) -> pd.DataFrame:
        """Unobserved pairs each policy admits, broadest first."""
        rows = sorted(self.breadth.per_policy.items(), key=lambda kv: (-kv[1], kv[0]))
        return pd.DataFrame(rows, columns=["policy", "unobserved"])

    @property
    def public_rules(self) -> int:
        """Rules open to the internet: distinct (workload, direction, port) of public peers."""
        return len(
            {
                (x["workload"], x["direction"], x["port"])
                for x in self.synthesis.external
                if x["kind"] == "public"
            }
        )

    def explain(self, src: str, dst: str, protocol: str, port: int) -> list[str]:
        """Why the proposal allows or denies ``src`` -> ``dst`` (workloads "ns/name", pods
        "ns/pod", or IP addresses), pod by pod."""
        from .explain import explain
        from .netpol.evaluator import Evaluator

        return explain(Evaluator(self.policies), self.pods, src, dst, protocol, port)

    @cached_property
    def graph(self) -> Graph:
        """The picture's nodes and edges (:mod:`recommender.graph`), built once: graph.svg
        and SUMMARY.md's line about it read the same one."""
        from .graph.pictures import proposal_graph

        return proposal_graph(self)

    def graph_svg(self) -> str:
        """The picture ``recommend`` writes to graph.svg (workloads by namespace, allowed
        edges with ports, external peers, at-risk traffic dashed), as SVG text: in a
        notebook, ``IPython.display.SVG(rec.graph_svg())``."""
        from .graph.svg import render_svg

        return render_svg(self.graph)

    def to_dict(self) -> dict[str, Any]:
        """report.json of the proposal (the JSON ``recommend`` writes)."""
        from .report import build_report

        return build_report(self)


@dataclass
class Normalized:
    """Raw logs written as one normalized Parquet table (``netpol-recommender ingest``)."""

    output: str
    rows: int
    counts: RecordCounts
    #: What the inventory resolved, when one was given.
    enrichment: EnrichStats | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "rows": self.rows,
            "records": self.counts.to_dict(),
            "enrichment": self.enrichment.to_dict() if self.enrichment is not None else None,
        }


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
    #: The known pods (observed, plus the inventory's) and the policies replayed, for the
    #: report (:mod:`recommender.verify_report`): what each policy selects and admits.
    pods: pd.DataFrame | None = None
    policies: list[dict[str, Any]] = field(default_factory=list)
    inventory: Inventory | None = None
    #: Observed traffic the policies deny that coverage does not judge (recommender.at_risk).
    at_risk: AtRisk | None = None

    @property
    def denied(self) -> pd.DataFrame:
        """Observed connections the policies deny; not the unjudged ones."""
        return _denied(self.replayed)

    @property
    def unjudged(self) -> pd.DataFrame:
        """Observed connections whose verdict is unknown (see :attr:`Recommendation.unjudged`)."""
        return _unjudged(self.replayed)

    @property
    def passed(self) -> bool:
        """Nothing observed and judged is denied (``verify`` exits 0)."""
        return self.covered == self.judged

    @property
    def at_risk_records(self) -> int:
        return self.at_risk.total if self.at_risk is not None else 0

    def graph_svg(self) -> str:
        """The picture ``verify --graph FILE`` writes: the observed edges the policies allow,
        deny (red) and cannot judge (dotted), and at-risk traffic (dashed), as SVG text."""
        from .graph.pictures import verify_graph
        from .graph.svg import render_svg

        return render_svg(verify_graph(self))

    def to_dict(self) -> dict[str, Any]:
        """The document ``verify --json`` prints."""
        from .verify_report import report_json

        return report_json(self)


def _unknown(replayed: pd.DataFrame) -> pd.Series:
    """Per row: whether its verdict is unjudged (False where the column is missing)."""
    if "unjudged" not in replayed.columns:
        return pd.Series(False, index=replayed.index)
    return pd.Series([bool(u) for u in replayed["unjudged"].tolist()], index=replayed.index)


def _denied(replayed: pd.DataFrame) -> pd.DataFrame:
    return replayed[~replayed["allowed"] & ~_unknown(replayed)]


def _unjudged(replayed: pd.DataFrame) -> pd.DataFrame:
    return replayed[_unknown(replayed) & ~replayed["exempt"].astype(bool)]
