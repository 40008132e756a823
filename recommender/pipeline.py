"""The library API: each stage a function from tables to tables, and ``recommend`` chaining
them. The CLI and notebooks call these same functions.

>>> from recommender.pipeline import recommend
>>> rec = recommend(["sample_flows/"])          # doctest: +SKIP
>>> rec.coverage, rec.breadth.total, len(rec.policies)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa

from .accounting import RecordCounts
from .address_sets import cluster_ranges, is_address
from .at_risk import AtRisk, find_at_risk
from .connections import ConnectionSet, StreamingAggregator
from .generate.ir import PolicyIR
from .generate.k8s import render_policy
from .generate.synthesis import Synthesis, synthesize
from .ingest.enrich import EnrichStats, enrich_flows
from .ingest.inventory import Inventory, enrich_pods, read_inventory
from .options import SynthesisOptions
from .selectors import Selection, workload_selectors
from .semantics import ContainerPort, Endpoint, Evaluator
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
    inventory: Inventory | None = None
    #: what the inventory resolved (pods, nodes, service backends, ambiguous addresses)
    enrichment: dict[str, Any] | None = None
    options: SynthesisOptions = field(default_factory=SynthesisOptions)
    #: Observed traffic the proposal will deny that coverage does not judge (see
    #: :mod:`recommender.at_risk`): shown first, and what ``--strict`` refuses.
    at_risk: AtRisk | None = None

    def explain(self, src: str, dst: str, protocol: str, port: int) -> list[str]:
        """Why the proposal allows or denies ``src`` -> ``dst`` (workloads "ns/name", pods
        "ns/pod", or IP addresses), pod by pod."""
        return explain(Evaluator(self.policies), self.pods, src, dst, protocol, port)

    @property
    def ir(self) -> list[PolicyIR]:
        return self.synthesis.policies

    @property
    def denied(self) -> pd.DataFrame:
        """Observed connections the proposal would deny (empty when coverage is 100%)."""
        return self.replayed[~self.replayed["allowed"]]


def _endpoints(pods: pd.DataFrame, name: str) -> list[Endpoint]:
    """Pods of a workload or a single pod ("ns/name"), else the name as an address."""
    if "/" not in name:
        return [Endpoint(kind="external", ip=name, name=name)]
    namespace, rest = name.split("/", 1)
    here = pods[(pods["namespace"] == namespace) & pods["labels"].notna()]
    chosen = here[(here["workload_name"] == rest) | (here["pod"] == rest)]
    return [
        Endpoint(
            kind="pod",
            ip=row.ips[0] if len(row.ips) else None,
            namespace=row.namespace,
            labels=dict(row.labels),
            namespace_labels={
                "kubernetes.io/metadata.name": row.namespace,
                **dict(row.namespace_labels or {}),
            },
            ports=tuple(ContainerPort(*p) for p in (getattr(row, "ports", None) or ())),
            name=row.pod,
        )
        for row in chosen.sort_values("pod").itertuples(index=False)
    ]


def explain(
    evaluator: Evaluator, pods: pd.DataFrame, src: str, dst: str, protocol: str, port: int
) -> list[str]:
    """Explain every pod pair of ``src`` -> ``dst`` on ``protocol``/``port``."""
    sources, targets = _endpoints(pods, src), _endpoints(pods, dst)
    if not sources or not targets:
        missing = src if not sources else dst
        raise ValueError(f"{missing}: no known pod, workload or address by that name")
    lines = []
    for s in sources:
        for d in targets:
            verdict = evaluator.evaluate(s, d, protocol, port)
            head = "ALLOWED" if verdict.allowed else "DENIED"
            lines.append(f"{head} {s.name} -> {d.name} {port}/{protocol}")
            lines += [f"  {line}" for line in verdict.explain()]
    return lines


def observe(
    batches: Iterable[pa.RecordBatch | pa.Table],
    inventory: Inventory | None = None,
    stats: EnrichStats | None = None,
) -> tuple[ConnectionSet, pd.DataFrame, pd.DataFrame]:
    """Flow batches -> (connections, pods with workloads, workload-level connections).

    Streams: each batch is folded into the aggregator and dropped, so memory follows the
    number of connections and pods, not of records. With an inventory, bare IPs become
    pods, nodes or services' backends first; pods get their full labels and container
    ports, and pods that were quiet during the window join the known universe.
    """
    agg = StreamingAggregator()
    for batch in batches:
        if inventory is not None:
            batch = enrich_flows(batch, inventory, stats=stats)
        agg.add(batch)
    return _observed(agg, inventory)


def _observed(
    agg: StreamingAggregator, inventory: Inventory | None = None
) -> tuple[ConnectionSet, pd.DataFrame, pd.DataFrame]:
    """A filled aggregator -> what :func:`observe` returns."""
    conn_set = agg.connections()
    pods = agg.pods()
    if inventory is not None:
        pods = enrich_pods(pods, inventory)
    pods = assign_workloads(pods)
    return conn_set, pods, workload_connections(conn_set.table, pods)


def _with_workloads(replayed: pd.DataFrame, pods: pd.DataFrame) -> pd.DataFrame:
    """Add ``src_workload``/``dst_workload``: "ns/workload" for pods, the address else."""
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
    return replayed


def recommend_from_flows(
    flows: pa.Table | Iterable[pa.RecordBatch],
    counts: RecordCounts,
    *,
    namespaces: Sequence[str] | None = None,
    inputs: Sequence[str] = (),
    inventory: Inventory | None = None,
    options: SynthesisOptions | None = None,
) -> Recommendation:
    """connections -> workloads -> selectors -> policies -> replay and breadth.

    ``flows`` is a table or an iterable of batches (streamed; ``counts`` must be complete
    once the iterable is exhausted).
    """
    stats = EnrichStats() if inventory is not None else None
    batches = [flows] if isinstance(flows, pa.Table) else flows
    observed = observe(batches, inventory, stats)
    return _recommend_observed(
        observed,
        counts,
        namespaces=namespaces,
        inputs=inputs,
        inventory=inventory,
        options=options,
        stats=stats,
    )


def _recommend_observed(
    observed: tuple[ConnectionSet, pd.DataFrame, pd.DataFrame],
    counts: RecordCounts,
    *,
    namespaces: Sequence[str] | None,
    inputs: Sequence[str],
    inventory: Inventory | None,
    options: SynthesisOptions | None,
    stats: EnrichStats | None,
) -> Recommendation:
    conn_set, pods, wconns = observed
    workloads = workload_table(pods)
    selections = workload_selectors(pods)
    ns = sorted(set(namespaces)) if namespaces else None
    options = options or SynthesisOptions()
    node_ips, pod_cidrs = _node_ips(conn_set, inventory), _cluster_cidrs(inventory)
    cluster = tuple(cluster_ranges(pods, node_ips, pod_cidrs))
    synthesis = synthesize(
        wconns,
        workloads,
        selections,
        ns,
        options=options,
        pods=pods,
        node_ips=node_ips,
        pod_cidrs=pod_cidrs,
    )
    policies = [render_policy(p) for p in synthesis.policies]
    evaluator = Evaluator(policies)
    replayed = _with_workloads(
        replay(conn_set.table, evaluator, pods, policies=policies, cluster=cluster), pods
    )
    if synthesis.left_out:
        # Left out by --min-flows/--min-age: denied by design, listed, not judged.
        noise = {(x.src, x.dst, x.protocol, x.port): x.reason for x in synthesis.left_out}
        keys = zip(
            replayed["src_workload"],
            replayed["dst_workload"],
            replayed["protocol"],
            replayed["port"].astype(int),
            strict=True,
        )
        hits = [noise.get(k) for k in keys]
        mask = pd.Series([h is not None for h in hits], index=replayed.index)
        replayed.loc[mask, "exempt"] = True
        replayed.loc[mask, "reasons"] = [f"left out as noise: {h}" for h in hits if h]
    at_risk = find_at_risk(
        conn_set,
        replayed,
        evaluator,
        pods,
        policies,
        cluster=cluster,
        node_addresses=inventory.node_addresses() if inventory is not None else None,
    )
    if ns is not None:
        # Connections with neither end in scope are not this proposal's to cover.
        in_scope = replayed["src_namespace"].isin(ns) | replayed["dst_namespace"].isin(ns)
        replayed = replayed[in_scope].reset_index(drop=True)
    share, ok, total = coverage(replayed)
    breadth = measure_breadth(
        evaluator,
        pods,
        wconns,
        policies,
        resolvers=synthesis.resolvers,
        namespaces=ns if ns is not None else synthesis.namespaces,
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
        inventory=inventory,
        enrichment=stats.to_dict() if stats is not None else None,
        options=options,
        at_risk=at_risk,
    )


def _node_ips(conn_set: ConnectionSet, inventory: Inventory | None) -> list[str]:
    """Node addresses: node sources seen in the connections, and the inventory's."""
    table = conn_set.table
    found = {ip for ip in table.loc[table["src_kind"] == "node", "src_ip"] if ip is not None}
    if inventory is not None:
        found |= set(inventory.node_addresses())
    return sorted(found)


def _cluster_cidrs(inventory: Inventory | None) -> list[str]:
    """The inventory's pod CIDRs and Service ClusterIPs: cluster ranges no public or
    private (Calico pub/pvt) rule may admit."""
    if inventory is None:
        return []
    found = {c for cs in inventory.pod_cidrs.values() for c in cs}
    for service in inventory.services.values():
        found.update(ip for ip in service.cluster_ips if is_address(ip))
    return sorted(found)


def recommend(
    inputs: Sequence[str | os.PathLike],
    *,
    namespaces: Sequence[str] | None = None,
    format: str | None = None,
    progress: Callable[[int], None] | None = None,
    inventory: Sequence[str | os.PathLike] = (),
    options: SynthesisOptions | None = None,
    vpc_fields: Sequence[str] | str | None = None,
) -> Recommendation:
    """Read flow logs and propose policies; nothing is written (see ``proposal.write``).
    ``vpc_fields``: the LogFormat of headerless AWS VPC records (``iter_flow_batches``)."""
    from .ingest import aggregate_inputs

    inv = read_inventory(list(inventory)) if inventory else None
    counts = RecordCounts()
    stats = EnrichStats() if inv is not None else None
    # With an inventory, each batch is enriched where it is parsed, before it is aggregated.
    agg = aggregate_inputs(
        inputs,
        format=format,
        counts=counts,
        inventory=inv,
        stats=stats,
        progress=progress,
        vpc_fields=vpc_fields,
    )
    return _recommend_observed(
        _observed(agg, inv),
        counts,
        namespaces=namespaces,
        inputs=[os.fspath(p) for p in inputs],
        inventory=inv,
        options=options,
        stats=stats,
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
    #: The known pods (observed, plus the inventory's) and the policies replayed, for the
    #: report (:mod:`recommender.verify_report`): what each policy selects and admits.
    pods: pd.DataFrame | None = None
    policies: list[dict[str, Any]] = field(default_factory=list)
    inventory: Inventory | None = None
    #: Observed traffic the policies deny that coverage does not judge (recommender.at_risk).
    at_risk: AtRisk | None = None

    @property
    def denied(self) -> pd.DataFrame:
        return self.replayed[~self.replayed["allowed"]]


def verify_policies(
    policies: Sequence[dict[str, Any]],
    inputs: Sequence[str | os.PathLike],
    *,
    format: str | None = None,
    notes: Sequence[str] = (),
    inventory: Sequence[str | os.PathLike] = (),
    vpc_fields: Sequence[str] | str | None = None,
) -> VerifyRun:
    """Replay every observed connection in ``inputs`` against ``policies`` (``vpc_fields``:
    the LogFormat of headerless AWS VPC records, see ``iter_flow_batches``)."""
    from .generate.synthesis import find_resolvers
    from .ingest import aggregate_inputs

    inv = read_inventory(list(inventory)) if inventory else None
    counts = RecordCounts()
    agg = aggregate_inputs(
        inputs, format=format, counts=counts, inventory=inv, vpc_fields=vpc_fields
    )
    conn_set, pods, wconns = _observed(agg, inv)
    if inv is not None:
        notes = [*notes, *inv.conflicts, *inv.rejected]
    evaluator = Evaluator(policies)
    cluster = tuple(cluster_ranges(pods, _node_ips(conn_set, inv), _cluster_cidrs(inv)))
    replayed = _with_workloads(
        replay(conn_set.table, evaluator, pods, policies=list(policies), cluster=cluster), pods
    )
    at_risk = find_at_risk(
        conn_set,
        replayed,
        evaluator,
        pods,
        list(policies),
        cluster=cluster,
        node_addresses=inv.node_addresses() if inv is not None else None,
    )
    share, ok, total = coverage(replayed)
    breadth = measure_breadth(
        evaluator, pods, wconns, list(policies), resolvers=find_resolvers(wconns)
    )
    return VerifyRun(
        counts,
        conn_set.excluded,
        replayed,
        share,
        ok,
        total,
        breadth,
        list(notes),
        pods=pods,
        policies=list(policies),
        inventory=inv,
        at_risk=at_risk,
    )
