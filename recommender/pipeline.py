"""The library API: three stages, the very ones the CLI runs (re-exported by ``recommender``).

- :func:`observe`: raw flow logs -> :class:`~recommender.results.Observation` (connections,
  pods and workloads, record counts, the cluster's own ranges). :func:`observe_flows` does
  the same for normalized tables already in memory.
- :func:`propose`: an observation -> :class:`~recommender.results.Recommendation`: groups
  workloads, generates policies, and replays every observed connection through them.
- :func:`check`: existing policies + an observation -> :class:`~recommender.results.VerifyRun`.

:func:`recommend` and :func:`verify_policies` chain them as ``recommend`` and ``verify`` do;
:func:`normalize` is ``ingest``: raw logs -> one normalized Parquet table that every stage reads.

>>> import recommender
>>> obs = recommender.observe(["sample_flows/"])             # doctest: +SKIP
>>> rec = recommender.propose(obs)                           # doctest: +SKIP
>>> rec.coverage, rec.breadth.total, len(rec.policies)       # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace as dc_replace
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from .accounting import RecordCounts
from .address_sets import cluster_ranges, is_address
from .at_risk import AtRisk, find_at_risk
from .connections import ConnectionSet, StreamingAggregator
from .gc_pause import gc_paused
from .ingest import aggregate_inputs, iter_flow_batches, write_parquet
from .netpol.breadth import Breadth, measure_breadth
from .netpol.evaluator import Evaluator
from .netpol.read import compile_objects
from .options import SynthesisOptions
from .resolvers import find_resolvers
from .results import Normalized, Observation, Recommendation, VerifyRun
from .selectors import workload_selectors
from .stage_times import StageTimes, untimed
from .verify import coverage, replay
from .workloads import assign_workloads, workload_connections, workload_table

if TYPE_CHECKING:  # loaded on use: proposing, an inventory, Dask or existing policies
    from .existing import Existing, ExistingFit
    from .generate.kinds import RenderedFile
    from .generate.synthesis import Synthesis
    from .ingest.dask_engine import DaskEngine
    from .ingest.enrich import EnrichStats
    from .ingest.inventory import Inventory

PathLike = str | os.PathLike


# --------------------------------------------------------------------------------------------
# observe
# --------------------------------------------------------------------------------------------


def observe(
    inputs: Sequence[PathLike],
    *,
    format: str | None = None,
    inventory: Sequence[PathLike] = (),
    vpc_fields: Sequence[str] | str | None = None,
    progress: Callable[[int], None] | None = None,
    times: StageTimes | None = None,
    engine: DaskEngine | None = None,
) -> Observation:
    """Read flow logs (files, directories, ``-``; any supported format, detected per file
    unless ``format`` says) into an :class:`Observation`.

    ``inventory``: kubectl JSON files that turn bare addresses into pods, nodes and Service
    backends. ``vpc_fields``: the LogFormat of headerless AWS VPC records.
    ``progress`` is called with the bytes read; ``times`` collects seconds per stage.
    ``engine``: a :class:`~recommender.ingest.dask_engine.DaskEngine` reads and aggregates
    on its Dask cluster (None: this machine); the rest runs here, on the small table.
    """
    clock = times if times is not None else untimed
    with clock("read"):
        inv, stats = _read_inventory(inventory)
        counts = RecordCounts()
        # One read path: with an inventory each batch is enriched where it is parsed (in the
        # worker processes too), before it is aggregated.
        agg = aggregate_inputs(
            inputs,
            format=format,
            counts=counts,
            inventory=inv,
            stats=stats,
            progress=progress,
            vpc_fields=vpc_fields,
            engine=engine,
        )
    with clock("connections"):
        return _observation(agg, counts, [os.fspath(p) for p in inputs], inv, stats)


def _new_stats() -> EnrichStats:
    """Empty enrichment counters (the module is loaded only by runs with an inventory)."""
    from .ingest.enrich import EnrichStats

    return EnrichStats()


def _read_inventory(paths: Sequence[PathLike]) -> tuple[Inventory | None, EnrichStats | None]:
    """The inventory read from ``paths`` and its enrichment counters; none without paths."""
    if not paths:
        return None, None
    from .ingest.inventory import read_inventory

    return read_inventory(list(paths)), _new_stats()


def fold_batches(
    batches: Iterable[pa.RecordBatch | pa.Table],
    inventory: Inventory | None = None,
    stats: EnrichStats | None = None,
) -> StreamingAggregator:
    """Flow batches folded into one aggregator, each enriched first with an inventory.

    Streams: each batch is folded and dropped, so memory follows the number of connections
    and pods, not of records. With an inventory, bare IPs become pods, nodes or services'
    backends first.
    """
    agg = StreamingAggregator()
    for batch in batches:
        if inventory is not None:
            from .ingest.enrich import enrich_flows

            batch = enrich_flows(batch, inventory, stats=stats)
        agg.add(batch)
    return agg


def observe_flows(
    flows: pa.Table | Iterable[pa.RecordBatch],
    counts: RecordCounts | None = None,
    *,
    inventory: Inventory | None = None,
    inputs: Sequence[str] = (),
) -> Observation:
    """:func:`observe` for normalized flows already read (``recommender.ingest.read_flows``)
    or simulated: a table or an iterable of batches (streamed; ``counts`` must be complete
    once the iterable is exhausted)."""
    stats = _new_stats() if inventory is not None else None
    batches = [flows] if isinstance(flows, pa.Table) else flows
    agg = fold_batches(batches, inventory, stats)
    return _observation(agg, counts or RecordCounts(), list(inputs), inventory, stats)


@gc_paused()
def _observation(
    agg: StreamingAggregator,
    counts: RecordCounts,
    inputs: list[str],
    inventory: Inventory | None,
    stats: EnrichStats | None,
) -> Observation:
    """A filled aggregator -> connections, pods with workloads (the inventory's full labels,
    container ports and quiet pods joined), and the cluster's ranges."""
    conn_set = agg.connections()
    pods = agg.pods()
    if inventory is not None:
        from .ingest.inventory import enrich_pods

        pods = enrich_pods(pods, inventory)
    pods = assign_workloads(pods)
    node_ips, cidrs = _node_ips(conn_set, inventory), _cluster_cidrs(inventory)
    return Observation(
        counts=counts,
        connection_set=conn_set,
        pods=pods,
        workload_connections=workload_connections(conn_set.table, pods),
        node_ips=node_ips,
        cluster_cidrs=cidrs,
        cluster=tuple(cluster_ranges(pods, node_ips, cidrs)),
        inputs=inputs,
        inventory=inventory,
        enrichment=stats,
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


# --------------------------------------------------------------------------------------------
# propose and check
# --------------------------------------------------------------------------------------------


@gc_paused()
def propose(
    observation: Observation,
    options: SynthesisOptions | None = None,
    *,
    namespaces: Sequence[str] | None = None,
    existing: Existing | Sequence[dict[str, Any]] | None = None,
    times: StageTimes | None = None,
) -> Recommendation:
    """Workloads -> selectors -> policies, then every observed connection replayed through
    them: coverage, at-risk traffic and breadth. Nothing is written (``proposal.write_proposal``).

    ``namespaces``: propose only for these (default: every observed namespace but the
    system ones); connections with neither end in them are not judged.
    ``existing``: policies already in place (dicts, or ``existing.load_existing``): the
    proposal is only what they lack (:mod:`recommender.existing`), and the proof runs over
    existing and proposal together.
    """
    from .generate.k8s import render_policy
    from .generate.proof import proof_policies
    from .generate.synthesis import synthesize

    clock = times if times is not None else untimed
    obs = observation
    options = options or SynthesisOptions()
    ns = sorted(set(namespaces)) if namespaces else None
    with clock("selectors"):
        workloads = workload_table(obs.pods)
        selections = workload_selectors(obs.pods)
    with clock("generate"):
        synthesis = synthesize(
            obs.workload_connections,
            workloads,
            selections,
            ns,
            options=options,
            pods=obs.pods,
            node_ips=obs.node_ips,
            pod_cidrs=obs.cluster_cidrs,
        )
        policies = [render_policy(p) for p in synthesis.policies]
    fitted = None
    if existing is not None:
        with clock("existing"):
            synthesis, policies, union, fitted = _fit_existing(obs, synthesis, existing, ns)
    evaluator = Evaluator(proof_policies(synthesis.policies, policies) if fitted is None else union)
    with clock("replay"):
        replayed = _replay(obs, evaluator)
        if synthesis.left_out:
            _exempt_left_out(replayed, synthesis.left_out)
    with clock("at risk"):
        at_risk = _at_risk(obs, replayed, evaluator)
    replayed = _in_scope(replayed, ns)
    share, ok, total = coverage(replayed)
    with clock("breadth"):
        breadth = _breadth(obs, evaluator, synthesis.resolvers, ns or synthesis.namespaces)
    if fitted is not None:
        from .existing import Measure

        fitted.after = Measure(share, ok, total, breadth)
    return Recommendation(
        observation=obs,
        workloads=workloads,
        selections=selections,
        synthesis=synthesis,
        policies=policies,
        replayed=replayed,
        coverage=share,
        covered=ok,
        judged=total,
        breadth=breadth,
        namespaces=ns,
        options=options,
        at_risk=at_risk,
        existing=fitted,
    )


def _in_scope(replayed: pd.DataFrame, ns: list[str] | None) -> pd.DataFrame:
    """Connections with neither end in scope are not this proposal's to cover."""
    if ns is None:
        return replayed
    in_scope = replayed["src_namespace"].isin(ns) | replayed["dst_namespace"].isin(ns)
    return replayed[in_scope].reset_index(drop=True)


def _fit_existing(
    obs: Observation,
    synthesis: Synthesis,
    existing: Existing | Sequence[dict[str, Any]],
    ns: list[str] | None,
) -> tuple[Synthesis, list[dict[str, Any]], list[dict[str, Any]], ExistingFit]:
    """The synthesis fitted onto the existing policies: (its IR, the objects to write, the
    union the proof runs over, the fit with the figures of the existing policies alone)."""
    from .existing import ExistingFit, Measure, as_existing, fit, isolation, needs

    found = as_existing(existing)
    before = Evaluator(found.policies)
    replayed = _replay(obs, before)
    if synthesis.left_out:
        _exempt_left_out(replayed, synthesis.left_out)
    isolated = isolation(obs.pods, before)
    need = needs(replayed, before, obs.pods, obs.cluster)
    fitted = fit(synthesis.policies, found, isolated, need)
    share, ok, total = coverage(_in_scope(replayed, ns))
    breadth = _breadth(obs, before, synthesis.resolvers, ns or synthesis.namespaces)
    fit_ = ExistingFit(found, fitted.new, fitted.changed, Measure(share, ok, total, breadth))
    return dc_replace(synthesis, policies=fitted.ir), fitted.policies, fitted.union, fit_


@gc_paused()
def check(
    policies: Sequence[dict[str, Any]],
    observation: Observation,
    *,
    notes: Sequence[str] = (),
    times: StageTimes | None = None,
) -> VerifyRun:
    """Replay every observed connection against ``policies`` (policy dicts of any kind a
    reader reads, e.g. from ``policy_files.load_policies``): what they deny, what is at risk,
    their breadth. ``notes`` (what loading the policies skipped) are carried into the
    result, with what the readers noted."""
    clock = times if times is not None else untimed
    obs = observation
    policies = list(policies)
    compiled, read_notes = compile_objects(policies)
    notes = [*notes, *read_notes]
    if obs.inventory is not None:
        notes = [*notes, *obs.inventory.conflicts, *obs.inventory.rejected]
    evaluator = Evaluator(compiled)
    if not evaluator.ipblock_matches_pods:
        notes.append(
            "Cilium policies: ipBlocks and CIDR rules are judged as Cilium applies them, "
            "matching no in-cluster pod"
        )
    with clock("replay"):
        replayed = _replay(obs, evaluator)
    with clock("at risk"):
        at_risk = _at_risk(obs, replayed, evaluator)
    share, ok, total = coverage(replayed)
    with clock("breadth"):
        breadth = _breadth(obs, evaluator, find_resolvers(obs.workload_connections), per_rule=True)
    return VerifyRun(
        obs.counts,
        obs.excluded,
        replayed,
        share,
        ok,
        total,
        breadth,
        list(notes),
        pods=obs.pods,
        policies=policies,
        inventory=obs.inventory,
        at_risk=at_risk,
    )


@gc_paused()
def check_rendered(
    rec: Recommendation,
    files: Sequence[RenderedFile],
    existing: Sequence[dict[str, Any]] = (),
) -> VerifyRun:
    """The proposal as it will be written (``files``, any output kind) read back by that
    kind's own reader and replayed exactly as the proposal's own proof was (the same
    connections left out as noise, the same namespaces in scope, breadth over the same
    namespaces): the round trip that proves the files, not only the IR. ``existing``
    policies not replaced by a file (same namespace and name) are part of the set."""
    keys = {(f.key[0] or None, f.key[1]) for f in files}
    kept = [o for o in existing if _object_key(o) not in keys]
    compiled, notes = compile_objects([*kept, *(f.obj for f in files)])
    evaluator = Evaluator(compiled)
    obs, ns = rec.observation, rec.namespaces
    replayed = _replay(obs, evaluator)
    if rec.synthesis.left_out:
        _exempt_left_out(replayed, rec.synthesis.left_out)
    at_risk = _at_risk(obs, replayed, evaluator)
    replayed = _in_scope(replayed, ns)
    share, ok, total = coverage(replayed)
    breadth = _breadth(obs, evaluator, rec.synthesis.resolvers, ns or rec.synthesis.namespaces)
    return VerifyRun(
        obs.counts,
        obs.excluded,
        replayed,
        share,
        ok,
        total,
        breadth,
        notes,
        pods=obs.pods,
        policies=[*kept, *(f.obj for f in files)],
        inventory=obs.inventory,
        at_risk=at_risk,
    )


def _object_key(obj: dict[str, Any]) -> tuple[str | None, str | None]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or None, meta.get("name"))


def _breadth(
    obs: Observation,
    evaluator: Evaluator,
    resolvers: list[str],
    namespaces: Sequence[str] | None = None,
    *,
    per_rule: bool = False,
) -> Breadth:
    """What ``evaluator``'s policies allow beyond the observed workload connections
    (``per_rule``: also each rule's share, for judging existing policies rule by rule)."""
    return measure_breadth(
        evaluator,
        obs.pods,
        obs.workload_connections,
        resolvers=resolvers,
        namespaces=namespaces,
        per_rule=per_rule,
    )


def _replay(obs: Observation, evaluator: Evaluator) -> pd.DataFrame:
    """Every observed connection with its verdict and its ends' workloads."""
    replayed = replay(obs.connections, evaluator, obs.pods, cluster=obs.cluster)
    return _with_workloads(replayed, obs.pods)


def _at_risk(
    obs: Observation,
    replayed: pd.DataFrame,
    evaluator: Evaluator,
) -> AtRisk:
    return find_at_risk(
        obs.connection_set,
        replayed,
        evaluator,
        obs.pods,
        cluster=obs.cluster,
        node_addresses=obs.node_addresses,
    )


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


def _exempt_left_out(replayed: pd.DataFrame, left_out: list) -> None:
    """Left out by --min-flows/--min-age: denied by design, listed, not judged."""
    noise = {(x.src, x.dst, x.protocol, x.port): x.reason for x in left_out}
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


# --------------------------------------------------------------------------------------------
# the two commands in one call each
# --------------------------------------------------------------------------------------------


def normalize(
    inputs: Sequence[PathLike],
    output: PathLike,
    *,
    format: str | None = None,
    inventory: Sequence[PathLike] = (),
    vpc_fields: Sequence[str] | str | None = None,
    progress: Callable[[int], None] | None = None,
    engine: DaskEngine | None = None,
) -> Normalized:
    """Raw logs -> one normalized Parquet table at ``output`` (written atomically), each
    batch enriched with the ``inventory`` first; every later stage reads it back as input.
    With a Dask ``engine`` the tasks parse on its cluster and ``output`` is a Parquet
    dataset (a directory of parts, the same rows in the same order)."""
    inv, stats = _read_inventory(inventory)
    counts = RecordCounts()
    batches = iter_flow_batches(
        inputs,
        format=format,
        counts=counts,
        progress=progress,
        vpc_fields=vpc_fields,
        engine=engine,
    )
    if inv is not None:
        from .ingest.enrich import enrich_flows

        batches = (enrich_flows(b, inv, stats=stats) for b in batches)
    if engine is not None:
        from .ingest.dask_engine import write_dataset

        rows = write_dataset(batches, output)
    else:
        rows = write_parquet(batches, output)
    return Normalized(output=os.fspath(output), rows=rows, counts=counts, enrichment=stats)


def recommend(
    inputs: Sequence[PathLike],
    *,
    namespaces: Sequence[str] | None = None,
    format: str | None = None,
    progress: Callable[[int], None] | None = None,
    inventory: Sequence[PathLike] = (),
    options: SynthesisOptions | None = None,
    vpc_fields: Sequence[str] | str | None = None,
) -> Recommendation:
    """:func:`observe` then :func:`propose`, as ``netpol-recommender recommend`` does."""
    observation = observe(
        inputs, format=format, inventory=inventory, vpc_fields=vpc_fields, progress=progress
    )
    return propose(observation, options, namespaces=namespaces)


def recommend_from_flows(
    flows: pa.Table | Iterable[pa.RecordBatch],
    counts: RecordCounts,
    *,
    namespaces: Sequence[str] | None = None,
    inputs: Sequence[str] = (),
    inventory: Inventory | None = None,
    options: SynthesisOptions | None = None,
) -> Recommendation:
    """:func:`observe_flows` then :func:`propose`: a proposal from normalized flows."""
    observation = observe_flows(flows, counts, inventory=inventory, inputs=inputs)
    return propose(observation, options, namespaces=namespaces)


def verify_policies(
    policies: Sequence[dict[str, Any]],
    inputs: Sequence[PathLike],
    *,
    format: str | None = None,
    notes: Sequence[str] = (),
    inventory: Sequence[PathLike] = (),
    vpc_fields: Sequence[str] | str | None = None,
) -> VerifyRun:
    """:func:`observe` then :func:`check`, as ``netpol-recommender verify`` does."""
    observation = observe(inputs, format=format, inventory=inventory, vpc_fields=vpc_fields)
    return check(policies, observation, notes=notes)
