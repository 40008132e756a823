"""Bare IP addresses -> Kubernetes identities, from an inventory (``flow-formats.md`` §6).

:func:`enrich_flows` takes a FLOW_SCHEMA table (or one record batch) and returns it with
the endpoints the log could not name resolved through an
:class:`~recommender.ingest.inventory.Inventory`. Only what is missing is filled; nothing a
log states is replaced:

* An endpoint with an address whose kind is ``unknown``, ``cluster_unknown`` or ``service``
  (AWS VPC rows are all ``unknown``) is looked up, in this order:

  1. **ClusterIP** (destination only; also a destination the log calls ``external``, since a
     pre-DNAT address has no identity of its own): ``ClusterIP:port/protocol`` of a Service
     maps to a backend pod and its target port (from the EndpointSlices, else from the
     selector with a named ``targetPort`` resolved on the pod's container ports). The chosen
     backend is the first, by namespace and pod name, that is alive at the flow's time: any
     replica stands for its workload. When the backends belong to several workloads (a
     canary behind the same Service), no choice would be right: the endpoint stays a
     ``service`` (the connection stage sets pre-DNAT records aside) and is counted.
     ``dst_ip_original``/``dst_port_original`` keep the ClusterIP and the service port.
  2. **Node**: Node addresses, pods' ``hostIP`` and host-network pod IPs -> ``node``
     (a dirty inventory where two nodes share an address still gives ``node``).
  3. **Pod**: pods (not host-network) holding the address -> ``pod`` with namespace, pod
     name, labels (sorted map), namespace labels, service account and workload (owner
     chain ReplicaSet -> Deployment and Job -> CronJob through the inventory's ReplicaSet
     and Job objects, else the name-hash heuristic of :mod:`recommender.workloads`).
     Time-aware: a pod counts only while alive (``created`` .. ``ended``, open when
     unknown). Exactly one pod alive at the flow's time -> that pod; none -> the address
     belonged to a pod the inventory does not know (``cluster_unknown``); several ->
     ambiguous (``cluster_unknown``). Flows of unknown time (``time_start`` 0) resolve only
     an address that a single pod ever held.
  4. A known ClusterIP that did not map -> ``service`` with ``dst_service_*`` set
     (destination; the connection stage sets it aside as pre-DNAT); as a source ->
     ``cluster_unknown``.
  5. Only for ``unknown`` endpoints (a log that says ``cluster_unknown`` or ``service``
     knows more than the address ranges; it keeps its kind): inside a node's
     ``spec.podCIDR(s)`` or the caller's ``cluster_cidrs`` -> ``cluster_unknown`` (a pod the
     inventory missed: never a rule);
  6. anything else -> ``external``. Private addresses outside those ranges are external
     too: on EKS (VPC CNI, no podCIDR) a VPC database is a legitimate egress peer; pass the
     pod subnets as ``cluster_cidrs`` to keep stale pod addresses out of ``ipBlock`` rules.

* An endpoint that already is a ``pod`` (namespace and pod name stated) gets its missing
  labels, namespace labels, workload and service account from the inventory pod of that
  name. Labels are filled only when the log's are unknown (null).
* An address resolved to a pod in another namespace than the log states is left alone
  (counted): the log wins.

Orientation from the inventory: a record the log left without orientation (``is_reply``
null), or oriented only by the weak evidence of :mod:`recommender.ingest.aws_vpc` (``extra``
``orientation`` ``"listener statistics"`` or ``"paired ports"``), is oriented by the ports
the inventory declares, once its ends are resolved (TCP/UDP/SCTP records with both ports):

1. a ``containerPort`` (number and protocol) of the destination pod: the record goes towards
   a listening port, it is a request; of the source pod: it comes from one, it is a reply
   (``orientation = "inventory containerPort"``);
2. else a Service's target port on a backend pod (the inventory has Services), the same way
   (``"inventory service targetPort"``).

Both ends declaring the port (or neither) is no evidence: the record keeps what it had.
Evidence from TCP flags (``"tcp-flags"``, ``"paired tcp-flags"``) or a log's own reply flag
is never overridden. ``extra`` stays sorted by key. Outcomes are counted in
``EnrichStats.orientation``. Only the candidate rows are looked at (vectorised).

Outcomes are counted per endpoint in :class:`EnrichStats` (pass one to accumulate over
batches). The inventory's lookup index is built once per inventory and cached on it.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..schema import FLOW_SCHEMA
from ..workloads import normalize_owner
from .calico_fields import AUTO_HEP_SUFFIX
from .inventory import Inventory, top_owner

__all__ = ["EnrichStats", "Enrichment", "enrich_flows"]

#: Endpoint kinds that say "no identity": the inventory may resolve them.
RESOLVABLE_KINDS = ("unknown", "cluster_unknown", "service")
#: Destination kinds that may hide a pre-DNAT ClusterIP.
SERVICE_KINDS = (*RESOLVABLE_KINDS, "external")
#: How many conflict examples :class:`EnrichStats` keeps.
MAX_EXAMPLES = 50

_IDENTITY_COLUMNS = (
    "kind",
    "namespace",
    "pod",
    "labels",
    "namespace_labels",
    "workload_kind",
    "workload_name",
    "service_account",
)


#: Orientations the inventory's declared ports outrank (statistics, not evidence).
WEAK_ORIENTATIONS = ("listener statistics", "paired ports")
#: ``extra["orientation"]`` set from the inventory.
BY_CONTAINER_PORT = "inventory containerPort"
BY_SERVICE_PORT = "inventory service targetPort"
#: Protocols whose records have ports, coded for the listening-port lookups.
_PORT_PROTOCOLS = {"TCP": 0, "UDP": 1, "SCTP": 2}


@dataclass
class EnrichStats:
    """What enrichment did, per endpoint (each row has two), by outcome; and the records
    it oriented from the inventory's ports (``orientation``: ``"<how>: <outcome>"``)."""

    endpoints: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    orientation: Counter = field(default_factory=Counter)

    def note(self, text: str) -> None:
        if len(self.examples) < MAX_EXAMPLES and text not in self.examples:
            self.examples.append(text)

    def merge(self, other: EnrichStats) -> None:
        """Add what ``other`` counted (the outcomes of later batches, e.g. of a worker
        process): the examples stay the first distinct ones in input order."""
        self.endpoints.update(other.endpoints)
        self.orientation.update(other.orientation)
        for text in other.examples:
            self.note(text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoints": dict(sorted(self.endpoints.items())),
            "orientation": dict(sorted(self.orientation.items())),
            "examples": self.examples,
        }


@dataclass
class Enrichment:
    """An inventory applied to each batch before it is aggregated, its outcomes counted in
    ``stats`` (see :func:`recommender.ingest.aggregate_inputs`)."""

    inventory: Inventory
    stats: EnrichStats = field(default_factory=EnrichStats)

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return enrich_flows(batch, self.inventory, stats=self.stats)


@dataclass(frozen=True)
class _Pod:
    namespace: str
    name: str
    labels: tuple[tuple[str, str], ...]
    namespace_labels: tuple[tuple[str, str], ...]
    workload_kind: str | None
    workload_name: str | None
    service_account: str | None
    created: int | None
    ended: int | None
    ips: tuple[str, ...]
    ports: tuple[tuple[str | None, int, str], ...]

    def alive(self, t: np.ndarray) -> np.ndarray:
        ok = np.ones(len(t), dtype=bool)
        if self.created is not None:
            ok &= t >= self.created
        if self.ended is not None:
            ok &= t < self.ended
        return ok

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class _Target:
    """Where ``ClusterIP:port/protocol`` leads: backends (pod index, target port) sorted by
    pod, or ``problem`` when no single workload can be named."""

    namespace: str
    service: str
    port_name: str | None
    port: int
    backends: tuple[tuple[int, int], ...]
    problem: str | None = None


def _ts(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Index:
    """Lookups over one inventory (built once; see :func:`_index_for`)."""

    def __init__(self, inventory: Inventory, cluster_cidrs: tuple[str, ...]) -> None:
        self.pods: list[_Pod] = []
        self.by_name: dict[tuple[str, str], int] = {}
        self.by_ip: dict[str, list[int]] = {}
        for row in inventory.pods.itertuples(index=False):
            namespace = row.namespace
            ns_labels = inventory.namespaces.get(namespace) or {
                "kubernetes.io/metadata.name": namespace
            }
            kind = name = None
            if row.owner_kind:
                kind, name = top_owner(row, inventory)
                kind, name = normalize_owner(kind, name)
            pod = _Pod(
                namespace=namespace,
                name=row.pod,
                labels=tuple(sorted(dict(row.labels).items())),
                namespace_labels=tuple(sorted(ns_labels.items())),
                workload_kind=kind,
                workload_name=name,
                service_account=_opt(getattr(row, "service_account", None)),
                created=_opt_int(getattr(row, "created", None)),
                ended=_opt_int(getattr(row, "ended", None)),
                ips=tuple(row.ips),
                ports=tuple(row.ports),
            )
            i = len(self.pods)
            self.pods.append(pod)
            self.by_name[(namespace, row.pod)] = i
            if not row.host_network:
                for ip in row.ips:
                    self.by_ip.setdefault(ip, []).append(i)
        self.node_ips = set(inventory.node_addresses())
        nets = [c for cidrs in inventory.pod_cidrs.values() for c in cidrs]
        self.nets = [ipaddress.ip_network(c, strict=False) for c in (*nets, *cluster_cidrs)]
        self.service_ips: dict[str, tuple[str, str]] = {}
        self.targets: dict[tuple[str, int, str], _Target] = {}
        service_ports: set[int] = set()
        self._services(inventory, service_ports)
        container_ports = {
            _listen_code(i, number, protocol)
            for i, pod in enumerate(self.pods)
            for _, number, protocol in pod.ports
            if protocol in _PORT_PROTOCOLS and 0 <= number <= 65535
        }
        #: Listening ports (see :func:`_listen_code`), sorted: declared containerPorts, and
        #: the target ports of the Services each pod backs.
        self.container_ports = np.array(sorted(container_ports), dtype=np.int64)
        self.service_ports = np.array(sorted(service_ports), dtype=np.int64)

    # ---- services

    def _services(self, inventory: Inventory, listening: set[int]) -> None:
        slices: dict[tuple[str, str], list] = {}
        for es in inventory.endpoint_slices:
            slices.setdefault((es.namespace, es.service), []).append(es)
        for (namespace, name), svc in inventory.services.items():
            for ip in svc.cluster_ips:
                self.service_ips.setdefault(ip, (namespace, name))
            for sp in svc.ports:
                backends = self._backends(svc, sp, slices.get((namespace, name)))
                if sp.protocol in _PORT_PROTOCOLS:
                    listening.update(
                        _listen_code(i, number, sp.protocol)
                        for i, number in backends
                        if 0 <= number <= 65535
                    )
                workloads = {
                    (self.pods[i].workload_kind, self.pods[i].workload_name)
                    if self.pods[i].workload_name
                    else ("Pod", self.pods[i].name)
                    for i, _ in backends
                }
                problem = None
                if not backends:
                    problem = "no backend"
                elif len(workloads) > 1:
                    problem = "backends in several workloads"
                target = _Target(namespace, name, sp.name, sp.port, tuple(backends), problem)
                for ip in svc.cluster_ips:
                    self.targets.setdefault((ip, sp.port, sp.protocol), target)

    def _backends(self, svc, sp, slices) -> list[tuple[int, int]]:
        found: dict[int, int] = {}
        if slices:
            for es in slices:
                number = next(
                    (p for n, p, proto in es.ports if n == sp.name and proto == sp.protocol), None
                )
                if number is None:
                    continue
                for ep in es.endpoints:
                    i = self.by_name.get(ep.pod) if ep.pod else None
                    if i is None:  # no targetRef: find the pod by address
                        hits = [j for ip in ep.addresses for j in self.by_ip.get(ip, ())]
                        i = hits[0] if len(set(hits)) == 1 else None
                    if i is not None:
                        found.setdefault(i, number)
        elif svc.selector:
            want = dict(svc.selector)
            for i, pod in enumerate(self.pods):
                if pod.namespace != svc.namespace or not pod.ips:
                    continue
                if pod.ips[0] not in self.by_ip:  # host-network pods are never backends
                    continue
                labels = dict(pod.labels)
                if any(labels.get(k) != v for k, v in want.items()):
                    continue
                number = _target_port(sp, pod)
                if number is not None:
                    found[i] = number
        order = sorted(found, key=lambda i: (self.pods[i].namespace, self.pods[i].name))
        return [(i, found[i]) for i in order]

    # ---- addresses

    def classify(self, ip: str) -> str:
        """Kind of an address that no pod or node holds."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return "unknown"
        if any(addr.version == net.version and addr in net for net in self.nets):
            return "cluster_unknown"
        return "external"


def _listen_code(pod: int, port: int, protocol: str) -> int:
    """One int per (inventory pod, port, protocol), for vectorised membership tests."""
    return (pod * 65536 + port) * 4 + _PORT_PROTOCOLS[protocol]


def _opt(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value


def _opt_int(value: Any) -> int | None:
    value = _opt(value)
    return None if value is None else int(value)


def _target_port(sp, pod: _Pod) -> int | None:
    if sp.target is None:
        return sp.port
    if isinstance(sp.target, int):
        return sp.target
    for name, number, protocol in pod.ports:
        if name == sp.target and protocol == sp.protocol:
            return number
    return None


def _index_for(inventory: Inventory, cluster_cidrs: tuple[str, ...]) -> _Index:
    cache = inventory.__dict__.setdefault("_enrich_index", {})
    index = cache.get(cluster_cidrs)
    if index is None:
        index = cache[cluster_cidrs] = _Index(inventory, cluster_cidrs)
    return index


# --------------------------------------------------------------------------- columns


def _strings(column: pa.ChunkedArray) -> np.ndarray:
    """A string or dictionary column as an object array (None for null)."""
    if not pa.types.is_dictionary(column.type):
        return column.to_numpy(zero_copy_only=False)
    parts = []
    for chunk in column.chunks:
        values = np.array([*chunk.dictionary.to_pylist(), None], dtype=object)
        indices = chunk.indices.fill_null(len(chunk.dictionary)).to_numpy()
        parts.append(values[indices])
    return np.concatenate(parts) if parts else np.zeros(0, dtype=object)


def _is_null(column: pa.ChunkedArray) -> np.ndarray:
    return pc.is_null(column).to_numpy(zero_copy_only=False)


class _Identities:
    """Distinct identities assigned to endpoints (row codes index into it)."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self.codes: dict[tuple, int] = {}

    def code(self, kind: str, pod: _Pod | None = None) -> int:
        if pod is None:
            key: tuple = (kind, None, None, None, None, None, None, None)
        else:
            key = (
                kind,
                pod.namespace,
                pod.name,
                pod.labels,
                pod.namespace_labels,
                pod.workload_kind,
                pod.workload_name,
                pod.service_account,
            )
        code = self.codes.get(key)
        if code is None:
            code = self.codes[key] = len(self.rows)
            self.rows.append(key)
        return code


def _patch(
    column: pa.ChunkedArray | pa.Array,
    field: pa.Field,
    rows: np.ndarray,
    values: list,
    codes: np.ndarray,
    *,
    fill_only: bool,
) -> pa.Array | None:
    """``column`` with ``values[codes[k]]`` at ``rows[k]`` (only where it was null and the
    value is not, with ``fill_only``). None when nothing changes."""
    plain = pa.string() if pa.types.is_dictionary(field.type) else field.type
    new = pa.array(values, type=plain)
    keep = np.ones(len(rows), dtype=bool)
    if fill_only:
        keep &= _is_null(column)[rows]
        keep &= ~pc.is_null(new).to_numpy(zero_copy_only=False)[codes]
    if not keep.any():
        return None
    orig = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(orig.type):
        orig = pc.cast(orig, pa.string())
    n = len(orig)
    take = np.arange(n, dtype=np.int64)
    take[rows[keep]] = n + codes[keep]
    out = pa.concat_arrays([orig, new]).take(pa.array(take))
    if pa.types.is_dictionary(field.type):
        out = pc.dictionary_encode(out)
    return out


# --------------------------------------------------------------------------- main


def enrich_flows(
    table: pa.Table | pa.RecordBatch,
    inventory: Inventory,
    *,
    stats: EnrichStats | None = None,
    cluster_cidrs: tuple[str, ...] | list[str] = (),
) -> pa.Table | pa.RecordBatch:
    """Resolve endpoints through the inventory (see the module docstring).

    FLOW_SCHEMA in, FLOW_SCHEMA out, same rows in the same order; a RecordBatch gives a
    RecordBatch. ``stats`` accumulates outcome counts; ``cluster_cidrs`` adds ranges whose
    unknown addresses are ``cluster_unknown`` rather than ``external``.
    """
    batch = isinstance(table, pa.RecordBatch)
    t = pa.Table.from_batches([table]) if batch else table
    if t.num_rows == 0:
        return table
    st = stats if stats is not None else EnrichStats()
    index = _index_for(inventory, tuple(str(c) for c in cluster_cidrs))
    times = pc.cast(t.column("time_start"), pa.int64()).to_numpy()
    updates: dict[str, pa.Array] = {}
    for side in ("src", "dst"):
        _enrich_side(t, side, index, times, st, updates)
    for name, array in updates.items():
        i = t.schema.get_field_index(name)
        t = t.set_column(i, FLOW_SCHEMA.field(name), array)
    t = _orient(t, index, st)
    t = _named_host_endpoints(t, inventory, st)
    if batch:
        return t.combine_chunks().to_batches()[0]
    return t


def _named_host_endpoints(t: pa.Table, inventory: Inventory, st: EnrichStats) -> pa.Table:
    """Node endpoints a log names without an address (Calico aggregated host endpoints,
    ``<node>-auto-hep``) get the node's address from the inventory, so that they can be
    admitted by an ipBlock like any node address."""
    for side in ("src", "dst"):
        ip, aggr = t.column(f"{side}_ip"), t.column(f"{side}_name_aggr")
        if aggr.null_count == len(aggr) or ip.null_count == 0:
            continue
        kinds = _strings(t.column(f"{side}_kind"))
        names = aggr.to_pylist()
        values = ip.to_pylist()
        changed = 0
        for i, (kind, name, value) in enumerate(zip(kinds, names, values, strict=True)):
            if kind != "node" or value is not None or not isinstance(name, str):
                continue
            if not name.endswith(AUTO_HEP_SUFFIX):
                continue
            addresses = inventory.nodes.get(name[: -len(AUTO_HEP_SUFFIX)])
            if addresses:
                values[i] = addresses[0]
                changed += 1
        if changed:
            st.endpoints["node (host endpoint named by the log)"] += changed
            index = t.schema.get_field_index(f"{side}_ip")
            t = t.set_column(index, FLOW_SCHEMA.field(f"{side}_ip"), pa.array(values, pa.string()))
    return t


def _enrich_side(
    t: pa.Table,
    side: str,
    index: _Index,
    times: np.ndarray,
    st: EnrichStats,
    updates: dict[str, pa.Array],
) -> None:
    n = t.num_rows
    kind = _strings(t.column(f"{side}_kind"))
    encoded = pc.dictionary_encode(t.column(f"{side}_ip")).combine_chunks()
    codes = encoded.indices.fill_null(-1).to_numpy().astype(np.int64)
    uniques = np.array(encoded.dictionary.to_pylist(), dtype=object)
    ident = _Identities()
    code = np.full(n, -1, dtype=np.int64)
    has_ip = codes >= 0
    resolvable = np.isin(kind, RESOLVABLE_KINDS) & has_ip

    # 1. ClusterIP -> backend (destination).
    svc_rows = np.zeros(0, dtype=np.int64)
    svc_values: dict[str, list] = {}
    if side == "dst" and index.service_ips:
        svc_rows, svc_values = _services(t, kind, codes, uniques, index, times, ident, code, st)
        resolvable[svc_rows] = False

    # 2-6. Addresses, per distinct address; time-aware where the address has history.
    rows = np.nonzero(resolvable)[0]
    if len(rows):
        row_codes = codes[rows]
        order = np.argsort(row_codes, kind="stable")
        sorted_rows, sorted_codes = rows[order], row_codes[order]
        bounds = np.flatnonzero(np.diff(sorted_codes)) + 1
        for group in np.split(sorted_rows, bounds):
            ip = uniques[codes[group[0]]]
            _resolve(ip, group, kind, index, times, ident, code, st)

    _named_pods(t, side, kind, index, ident, code, st)
    _log_wins(t, side, resolvable, ident, code, st)
    _write_side(t, side, ident, code, updates)
    if len(svc_rows):
        seq = np.arange(len(svc_rows), dtype=np.int64)
        for name, values in svc_values.items():
            out = _patch(
                t.column(name),
                FLOW_SCHEMA.field(name),
                svc_rows,
                values,
                seq,
                fill_only=name not in ("dst_ip", "dst_port"),
            )
            if out is not None:
                updates[name] = out


def _named_pods(
    t: pa.Table,
    side: str,
    kind: np.ndarray,
    index: _Index,
    ident: _Identities,
    code: np.ndarray,
    st: EnrichStats,
) -> None:
    """Pods named by the log: fill what is missing by name (sets ``code``)."""
    is_pod = (kind == "pod") & (code < 0)
    if not is_pod.any():
        return
    missing = np.zeros(t.num_rows, dtype=bool)
    for col in ("labels", "namespace_labels", "workload_name", "service_account"):
        missing |= _is_null(t.column(f"{side}_{col}"))
    todo = np.nonzero(is_pod & missing)[0]
    if not len(todo):
        return
    ns_codes, ns_names = pd.factorize(_strings(t.column(f"{side}_namespace"))[todo])
    pod_codes, pod_names = pd.factorize(_strings(t.column(f"{side}_pod"))[todo])
    pair = ns_codes.astype(np.int64) * (len(pod_names) + 1) + pod_codes
    pairs, first, inverse = np.unique(pair, return_index=True, return_inverse=True)
    found = np.full(len(pairs), -1, dtype=np.int64)
    for k, row in enumerate(first):
        if ns_codes[row] < 0 or pod_codes[row] < 0:
            continue
        i = index.by_name.get((ns_names[ns_codes[row]], pod_names[pod_codes[row]]))
        if i is not None:
            found[k] = ident.code("pod", index.pods[i])
    hit = found[inverse] >= 0
    code[todo[hit]] = found[inverse][hit]
    if hit.any():
        st.endpoints["pod (named by the log): metadata filled"] += int(hit.sum())


def _log_wins(
    t: pa.Table,
    side: str,
    resolvable: np.ndarray,
    ident: _Identities,
    code: np.ndarray,
    st: EnrichStats,
) -> None:
    """The log wins: an address resolved into another namespace or pod than it states is
    left alone (its ``code`` reset), and counted."""
    stated_any = ~_is_null(t.column(f"{side}_namespace")) | ~_is_null(t.column(f"{side}_pod"))
    chosen = np.nonzero(resolvable & (code >= 0) & stated_any)[0]
    if not len(chosen):
        return
    clash = np.zeros(len(chosen), dtype=bool)
    for pos, col in ((1, "namespace"), (2, "pod")):
        stated = _strings(t.column(f"{side}_{col}"))[chosen]
        found = [ident.rows[c][pos] for c in code[chosen]]
        bad = np.array(
            [
                a is not None and b is not None and a != b
                for a, b in zip(stated, found, strict=True)
            ],
            dtype=bool,
        )
        clash |= bad
    if clash.any():
        st.endpoints["pod"] -= int(clash.sum())  # counted by _resolve; undone here
        st.endpoints["kept: the log names another namespace or pod"] += int(clash.sum())
        code[chosen[clash]] = -1


def _write_side(
    t: pa.Table, side: str, ident: _Identities, code: np.ndarray, updates: dict[str, pa.Array]
) -> None:
    """The identity columns of the rows resolved (``code``), into ``updates``."""
    changed = np.nonzero(code >= 0)[0]
    if not len(changed):
        return
    row_codes = code[changed]
    for pos, col in enumerate(_IDENTITY_COLUMNS):
        name = f"{side}_{col}"
        out = _patch(
            t.column(name),
            FLOW_SCHEMA.field(name),
            changed,
            [r[pos] for r in ident.rows],
            row_codes,
            fill_only=col != "kind",
        )
        if out is not None:
            updates[name] = out


def _resolve(
    ip: str,
    rows: np.ndarray,
    kinds: np.ndarray,
    index: _Index,
    times: np.ndarray,
    ident: _Identities,
    code: np.ndarray,
    st: EnrichStats,
) -> None:
    """Resolve the endpoints at ``rows``, which all have address ``ip``."""
    if ip in index.node_ips:
        code[rows] = ident.code("node")
        st.endpoints["node"] += len(rows)
        return
    candidates = index.by_ip.get(ip)
    if not candidates:
        # Only a log that knows nothing (``unknown``) is classified by address range: a log
        # that says cluster_unknown or service knows more than "external".
        rows = rows[kinds[rows] == "unknown"]
        if not len(rows):
            return
        if ip in index.service_ips:  # a ClusterIP as a source (destinations: _services)
            kind, label = "cluster_unknown", "cluster_unknown: a Service address as source"
        else:
            kind = index.classify(ip)
            label = kind
            if kind == "cluster_unknown":
                label = "cluster_unknown: in a pod range, no pod known"
        if kind == "unknown":
            return
        code[rows] = ident.code(kind)
        st.endpoints[label] += len(rows)
        return
    pods = [index.pods[i] for i in candidates]
    if len(pods) == 1 and pods[0].created is None and pods[0].ended is None:
        code[rows] = ident.code("pod", pods[0])
        st.endpoints["pod"] += len(rows)
        return
    ts = times[rows]
    unknown_time = ts == 0
    alive = np.array([p.alive(ts) for p in pods])  # pods x rows
    count = alive.sum(axis=0)
    if len(pods) == 1:
        count = np.where(unknown_time, 1, count)
        alive = np.where(unknown_time, True, alive)
    else:
        count = np.where(unknown_time, len(pods), count)
    one = count == 1
    if one.any():
        which = alive[:, one].argmax(axis=0)
        for k in np.unique(which):
            sel = rows[one][which == k]
            code[sel] = ident.code("pod", pods[k])
            st.endpoints["pod"] += len(sel)
    for mask, label, why in (
        (count == 0, "cluster_unknown: no pod held the address then", "no pod alive"),
        (count > 1, "cluster_unknown: several pods held the address", "claimed by"),
    ):
        if mask.any():
            code[rows[mask]] = ident.code("cluster_unknown")
            st.endpoints[label] += int(mask.sum())
            who = ", ".join(p.ref for p in pods)
            st.note(f"{ip} at {_ts(int(ts[mask][0]))}: {why} ({who})")


def _services(
    t: pa.Table,
    kind: np.ndarray,
    codes: np.ndarray,
    uniques: np.ndarray,
    index: _Index,
    times: np.ndarray,
    ident: _Identities,
    code: np.ndarray,
    st: EnrichStats,
) -> tuple[np.ndarray, dict[str, list]]:
    """Map destinations at a ClusterIP to a backend; returns the rows mapped (or marked as
    a service) and their new column values, in row order."""
    is_svc_ip = np.array([u in index.service_ips for u in uniques], dtype=bool)
    if not is_svc_ip.any():
        return np.zeros(0, dtype=np.int64), {}
    cand = (codes >= 0) & is_svc_ip[np.maximum(codes, 0)] & np.isin(kind, SERVICE_KINDS)
    rows = np.nonzero(cand)[0]
    if not len(rows):
        return rows, {}
    ports = t.column("dst_port").to_numpy(zero_copy_only=False)
    protos = _strings(t.column("protocol"))
    cols = (
        "dst_ip",
        "dst_port",
        "dst_ip_original",
        "dst_port_original",
        "dst_service_namespace",
        "dst_service_name",
        "dst_service_port_name",
        "dst_service_port",
    )
    values: dict[str, list] = {c: [] for c in cols}
    kept = []
    for r in rows:
        ip = uniques[codes[r]]
        port = ports[r]
        target = None
        if port is not None and not (isinstance(port, float) and np.isnan(port)):
            port = int(port)
            target = index.targets.get((ip, port, protos[r]))
        namespace, service = index.service_ips[ip]
        backend = None
        if target is not None and target.problem is None:
            t_ns = int(times[r])
            for i, number in target.backends:
                pod = index.pods[i]
                if t_ns == 0 or pod.alive(np.array([t_ns]))[0]:
                    backend = (pod, number)
                    break
        if backend is not None:
            pod, number = backend
            code[r] = ident.code("pod", pod)
            family = 6 if ":" in ip else 4
            new_ip = next((a for a in pod.ips if (6 if ":" in a else 4) == family), None)
            st.endpoints["pod (service backend)"] += 1
        else:
            code[r] = ident.code("service")
            pod, number, new_ip = None, port, ip
            problem = target.problem if target is not None else "no such service port"
            if target is not None and target.problem is None:
                problem = "no backend alive then"
            st.endpoints[f"service: {problem}"] += 1
            st.note(f"{ip}:{port} ({namespace}/{service}): {problem}")
        kept.append(r)
        values["dst_ip"].append(new_ip or ip)
        values["dst_port"].append(number if isinstance(number, int) else None)
        values["dst_ip_original"].append(ip)
        values["dst_port_original"].append(port if isinstance(port, int) else None)
        values["dst_service_namespace"].append(namespace)
        values["dst_service_name"].append(service)
        values["dst_service_port_name"].append(target.port_name if target else None)
        values["dst_service_port"].append(port if isinstance(port, int) else None)
    return np.array(kept, dtype=np.int64), values


# --------------------------------------------------------------------------- orientation

#: How inventory evidence relates to what the row had (for ``EnrichStats.orientation``).
_OUTCOMES = ("oriented (was unknown)", "confirmed", "reversed")
_METHODS = (BY_CONTAINER_PORT, BY_SERVICE_PORT)


def _orient(t: pa.Table, index: _Index, st: EnrichStats) -> pa.Table:
    """Orient the records without (strong) orientation towards the listening ports the
    inventory declares (see the module docstring); only candidate rows are looked at."""
    if not (len(index.container_ports) or len(index.service_ports)):
        return t
    n = t.num_rows
    extra = t.column("extra").combine_chunks()
    # Per row: the index of its weak orientation in WEAK_ORIENTATIONS, else -1 (only the
    # AWS VPC parser writes them).
    if "aws-vpc" in _codes(t.column("source_format"))[1]:
        weak = _weak_orientation(extra)
    else:
        weak = np.full(n, -1, dtype=np.int64)
    cand = pc.or_(pc.is_null(t.column("is_reply")), pa.array(weak >= 0))
    cand = pc.and_(cand, pc.is_valid(t.column("src_port")))
    cand = pc.and_(cand, pc.is_valid(t.column("dst_port"))).to_numpy(zero_copy_only=False)
    if not cand.any():
        return t
    src_pod = _equals(t.column("src_kind"), "pod")
    dst_pod = _equals(t.column("dst_kind"), "pod")
    rows = np.nonzero(cand & (src_pod | dst_pod))[0]
    if not len(rows):
        return t
    sub = t.select(
        ["protocol", "src_port", "dst_port", "src_namespace", "src_pod", "dst_namespace", "dst_pod"]
    ).take(pa.array(rows))
    codes, names = _codes(sub.column("protocol"))
    proto = np.array([_PORT_PROTOCOLS.get(p, -1) for p in names] + [-1], dtype=np.int64)[codes]
    listening = {}
    for side, is_pod in (("src", src_pod[rows]), ("dst", dst_pod[rows])):
        pod = _pod_indexes(sub, side, is_pod, index)
        port = sub.column(f"{side}_port").to_numpy(zero_copy_only=False).astype(np.int64)
        code = np.where((pod >= 0) & (proto >= 0), (pod * 65536 + port) * 4 + proto, -1)
        listening[side] = (_among(code, index.container_ports), _among(code, index.service_ports))
    (src_c, src_s), (dst_c, dst_s) = listening["src"], listening["dst"]
    # -1: no decision; -2: evidence both ways (left as it was); 0: a request; 1: a reply.
    decided = np.full(len(rows), -1, dtype=np.int8)
    method = np.zeros(len(rows), dtype=np.int64)  # index into _METHODS
    for m, (a, b) in enumerate(((src_c, dst_c), (src_s, dst_s))):
        open_ = decided == -1
        request, reply = open_ & b & ~a, open_ & a & ~b
        decided[request], decided[reply] = 0, 1
        method[request | reply] = m
        both = open_ & a & b
        if both.any():
            st.orientation[f"{_METHODS[m]}: both ends listen, left as it was"] += int(both.sum())
            decided[both] = -2
    hit = np.nonzero(decided >= 0)[0]
    if not len(hit):
        return t
    changed, method = rows[hit], method[hit]
    new = decided[hit] == 1
    was = pc.take(t.column("is_reply"), pa.array(changed))
    known = pc.is_valid(was).to_numpy(zero_copy_only=False)
    same = pc.fill_null(was, False).to_numpy(zero_copy_only=False) == new
    outcome = np.where(known, np.where(same, 1, 2), 0)
    prev = np.where(known, weak[changed], 0)
    counts = np.bincount((method * 3 + outcome) * 2 + prev, minlength=12)
    for combo in np.nonzero(counts)[0].tolist():
        (m, o), p = divmod(combo // 2, 3), combo % 2
        label = _OUTCOMES[o] + (f" {WEAK_ORIENTATIONS[p]}" if o else "")
        st.orientation[f"{_METHODS[m]}: {label}"] += int(counts[combo])
    mask = np.zeros(n, dtype=bool)
    mask[changed] = True
    is_reply = pc.replace_with_mask(
        t.column("is_reply").combine_chunks(), pa.array(mask), pa.array(new, type=pa.bool_())
    )
    labels = pa.array(_METHODS, type=pa.string()).take(pa.array(method))
    extra = _set_key(extra, "orientation", changed, labels)
    t = t.set_column(t.schema.get_field_index("is_reply"), FLOW_SCHEMA.field("is_reply"), is_reply)
    return t.set_column(t.schema.get_field_index("extra"), FLOW_SCHEMA.field("extra"), extra)


def _equals(column: pa.ChunkedArray, value: str) -> np.ndarray:
    """``column == value`` (null: False) for a string or dictionary column, without
    decoding the strings of a dictionary column."""
    if not pa.types.is_dictionary(column.type):
        return pc.equal(column, value).fill_null(False).to_numpy(zero_copy_only=False)
    parts = []
    for chunk in column.chunks:
        hit = np.array([v == value for v in chunk.dictionary.to_pylist()] + [False])
        parts.append(hit[chunk.indices.fill_null(len(chunk.dictionary)).to_numpy()])
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)


def _among(codes: np.ndarray, sorted_values: np.ndarray) -> np.ndarray:
    """``codes`` (>= 0; -1 for none) found in ``sorted_values``: a binary search each."""
    if not len(sorted_values):
        return np.zeros(len(codes), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_values, codes), len(sorted_values) - 1)
    return (sorted_values[at] == codes) & (codes >= 0)


def _weak_orientation(extra: pa.MapArray) -> np.ndarray:
    """Per map: the index in WEAK_ORIENTATIONS of its ``orientation`` value, else -1."""
    out = np.full(len(extra), -1, dtype=np.int64)
    offsets = np.asarray(extra.offsets, dtype=np.int64)  # absolute: a slice keeps its child
    if not len(extra) or offsets[-1] == offsets[0]:
        return out
    keys = extra.keys.slice(offsets[0], offsets[-1] - offsets[0])
    items = extra.items.slice(offsets[0], offsets[-1] - offsets[0])
    pos = np.nonzero(pc.equal(keys, "orientation").to_numpy(zero_copy_only=False))[0]
    if len(pos):
        which = pc.index_in(items.take(pa.array(pos)), value_set=pa.array(WEAK_ORIENTATIONS))
        row = np.searchsorted(offsets, pos + offsets[0], side="right") - 1
        out[row] = which.fill_null(-1).to_numpy(zero_copy_only=False)
    return out


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list]:
    """Dictionary codes of a (string or dictionary) column and its values; a null is
    coded ``len(values)``."""
    arr = column.combine_chunks()
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
    values = arr.dictionary.to_pylist()
    codes = arr.indices.fill_null(len(values)).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, values


def _pod_indexes(sub: pa.Table, side: str, is_pod: np.ndarray, index: _Index) -> np.ndarray:
    """The inventory pod index of each row's ``side`` end (-1: not a known pod)."""
    out = np.full(sub.num_rows, -1, dtype=np.int64)
    if not is_pod.any():
        return out
    ns_codes, ns_names = _codes(sub.column(f"{side}_namespace"))
    pod_codes, pod_names = _codes(sub.column(f"{side}_pod"))
    names = (*ns_names, None), (*pod_names, None)
    pair = ns_codes * (len(pod_names) + 1) + pod_codes
    inverse, pairs = pd.factorize(pair[is_pod])
    found = np.full(len(pairs), -1, dtype=np.int64)
    for k, p in enumerate(pairs.tolist()):
        ns, pod = names[0][p // (len(pod_names) + 1)], names[1][p % (len(pod_names) + 1)]
        i = index.by_name.get((ns, pod)) if ns is not None and pod is not None else None
        if i is not None:
            found[k] = i
    out[is_pod] = found[inverse]
    return out


def _set_key(maps: pa.MapArray, key: str, rows: np.ndarray, values: pa.Array) -> pa.MapArray:
    """``maps`` with ``key`` set to ``values[k]`` in map ``rows[k]`` (ascending), the other
    maps as they were; keys stay sorted (each map's entries before ``key``, the new entry,
    the rest). One gather of the entries, vectorised."""
    n = len(maps)
    offsets = np.asarray(maps.offsets, dtype=np.int64)  # absolute: a slice keeps its child
    base, total = int(offsets[0]), int(offsets[-1] - offsets[0])
    keys, items = maps.keys.slice(base, total), maps.items.slice(base, total)
    setting = np.zeros(n, dtype=bool)
    setting[rows] = True
    entry_row = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    replaced = pc.equal(keys, key).to_numpy(zero_copy_only=False) & setting[entry_row]
    keep = np.nonzero(~replaced)[0]
    row = entry_row[keep]
    after = pc.greater(keys, key).to_numpy(zero_copy_only=False)[keep] & setting[row]
    kept, added = len(keep), len(rows)
    if kept > 1 and ((row[1:] == row[:-1]) & after[:-1] & ~after[1:]).any():
        # A map whose keys are not sorted: sort its entries around the new one.
        rank = np.concatenate([np.where(after, 2, 0), np.ones(added, dtype=np.int64)])
        both = np.concatenate([row, rows])
        order = np.lexsort((np.arange(kept + added), rank, both))
    else:
        inserted_before = np.concatenate([[0], np.cumsum(setting)[:-1]]).astype(np.int64)
        per_row = np.bincount(row, minlength=n)
        kept_before = np.concatenate([[0], np.cumsum(per_row)[:-1]]).astype(np.int64)
        ahead = np.bincount(row[~after & setting[row]], minlength=n)
        order = np.empty(kept + added, dtype=np.int64)
        order[np.arange(kept) + inserted_before[row] + after] = np.arange(kept)
        order[kept_before[rows] + inserted_before[rows] + ahead[rows]] = kept + np.arange(added)
    # One gather per child: the kept entries, then the new ones appended after the old.
    gather = pa.array(np.concatenate([keep, total + np.arange(added, dtype=np.int64)])[order])
    repeated = pa.array([key]).take(pa.array(np.zeros(added, dtype=np.int64)))
    all_keys = pa.concat_arrays([keys, repeated]).take(gather)
    all_items = pa.concat_arrays([items, values.cast(pa.string())]).take(gather)
    sizes = np.bincount(row, minlength=n) + setting
    new_offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
    mask = None
    if maps.null_count:
        mask = pa.array(maps.is_null().to_numpy(zero_copy_only=False) & ~setting)
    return pa.MapArray.from_arrays(
        pa.array(new_offsets), all_keys, all_items, type=maps.type, mask=mask
    )
