"""Pods of simulated workloads: Deployments (one ReplicaSet each), StatefulSets, CronJob
runs, and rollouts that replace a ReplicaSet mid-window.

Random draws happen in a fixed order (spec by spec, pod by pod), so a seed gives the same
pods: ``sample_flows/`` and the benchmarks are pinned by it. Keep that order when editing.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from .clock import EPOCH
from .cluster import SimCluster, SimNode, SimPod
from .network import Allocator

__all__ = [
    "COREDNS",
    "NAME_ALPHABET",
    "WorkloadSpec",
    "cronjob_pods",
    "job_name",
    "job_pod",
    "name_suffix",
    "rollout",
    "rollouts",
    "workload_pods",
]

#: Characters Kubernetes uses for generated name suffixes (``rand.SafeEncodeString``).
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_HASH_KEY = "pod-template-hash"


def name_suffix(rng: random.Random, n: int) -> str:
    """A generated name suffix of ``n`` characters (``cart-<hash>-<suffix>``)."""
    return "".join(rng.choice(NAME_ALPHABET) for _ in range(n))


@dataclass(frozen=True)
class WorkloadSpec:
    """A Deployment or StatefulSet to create pods for. ``placement``: ``"workers"``,
    ``"control-plane"`` or ``"any"`` node."""

    namespace: str
    name: str
    kind: str  # Deployment | StatefulSet
    replicas: int
    service_account: str
    labels: dict[str, str]
    ports: tuple[tuple[str | None, int, str], ...]
    probe_ports: tuple[int, ...]
    placement: str  # "workers" | "control-plane" | "any"


#: CoreDNS as kind deploys it (probed on 8080 and 8181, which are not container ports).
COREDNS = WorkloadSpec(
    "kube-system",
    "coredns",
    "Deployment",
    2,
    "coredns",
    {"k8s-app": "kube-dns"},
    (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")),
    (8080, 8181),
    "control-plane",
)


def _choices(spec: WorkloadSpec, nodes: Sequence[SimNode]) -> list[str]:
    """The nodes ``spec``'s pods may land on (the first node is the control plane)."""
    if spec.placement == "control-plane":
        return [nodes[0].name]
    if spec.placement == "any":
        return [n.name for n in nodes]
    return [n.name for n in nodes[1:]] or [nodes[0].name]


def _common(spec: WorkloadSpec) -> dict:
    return dict(
        namespace=spec.namespace,
        workload_kind=spec.kind,
        workload_name=spec.name,
        ports=spec.ports,
        service_account=spec.service_account,
        probe_ports=spec.probe_ports,
    )


def _statefulset_pods(
    spec: WorkloadSpec,
    choices: list[str],
    offset: int,
    born: datetime,
    alloc: Allocator,
    rng: random.Random,
) -> list[SimPod]:
    revision = f"{spec.name}-{name_suffix(rng, 10)}"
    pods = []
    for i in range(spec.replicas):
        name = f"{spec.name}-{i}"
        node = choices[(offset + i) % len(choices)]
        pods.append(
            SimPod(
                name=name,
                labels={
                    **spec.labels,
                    "apps.kubernetes.io/pod-index": str(i),
                    "controller-revision-hash": revision,
                    "statefulset.kubernetes.io/pod-name": name,
                },
                ip=alloc.ip(node),
                node=node,
                start=born + timedelta(seconds=40 * i),
                end=None,
                owner_kind="StatefulSet",
                owner_name=spec.name,
                **_common(spec),
            )
        )
    return pods


def _replicaset_pods(
    spec: WorkloadSpec,
    rs_hash: str,
    nodes: list[str],
    alloc: Allocator,
    rng: random.Random,
    start: Callable[[int], datetime],
    end: Callable[[int], datetime | None],
) -> list[SimPod]:
    """The pods of ReplicaSet ``<name>-<rs_hash>``; ``nodes[i]`` holds the ``i``-th pod.
    ``start``/``end`` give the ``i``-th pod's lifetime (``start`` may draw: after the name
    and the IP)."""
    return [
        SimPod(
            name=f"{spec.name}-{rs_hash}-{name_suffix(rng, 5)}",
            labels={**spec.labels, _HASH_KEY: rs_hash},
            ip=alloc.ip(nodes[i]),
            node=nodes[i],
            start=start(i),
            end=end(i),
            owner_kind="ReplicaSet",
            owner_name=f"{spec.name}-{rs_hash}",
            **_common(spec),
        )
        for i in range(spec.replicas)
    ]


def _deployment_pods(
    spec: WorkloadSpec,
    choices: list[str],
    offset: int,
    born: datetime,
    alloc: Allocator,
    rng: random.Random,
    rollout_at: datetime | None,
) -> list[SimPod]:
    """One ReplicaSet's pods; with ``rollout_at``, they end then and a new ReplicaSet's
    pods, with new IPs, take their places one by one."""

    def placed(offset: int) -> list[str]:
        return [choices[(offset + i) % len(choices)] for i in range(spec.replicas)]

    def old_end(i: int) -> datetime | None:
        return None if rollout_at is None else rollout_at + timedelta(seconds=50 * i + 35)

    rs_hash = name_suffix(rng, rng.choice((8, 9, 10)))
    pods = _replicaset_pods(
        spec,
        rs_hash,
        placed(offset),
        alloc,
        rng,
        lambda i: born + timedelta(seconds=rng.randint(0, 30)),
        old_end,
    )
    if rollout_at is None:
        return pods
    new_hash = rs_hash
    while new_hash == rs_hash:
        new_hash = name_suffix(rng, rng.choice((8, 9, 10)))
    return pods + _replicaset_pods(
        spec,
        new_hash,
        placed(rng.randrange(len(choices))),
        alloc,
        rng,
        lambda i: rollout_at + timedelta(seconds=50 * i),
        lambda i: None,
    )


def workload_pods(
    specs: Sequence[WorkloadSpec],
    nodes: Sequence[SimNode],
    alloc: Allocator,
    rng: random.Random,
    start: datetime,
    rollouts: dict[tuple[str, str], datetime] | None = None,
) -> list[SimPod]:
    """Pods of Deployments (one ReplicaSet each) and StatefulSets, running since before
    ``start``. A Deployment in ``rollouts`` ((namespace, name) -> time) is rolled out then:
    its pods end one by one and a new ReplicaSet's pods, with new IPs, take their places.
    """
    pods: list[SimPod] = []
    for spec in specs:
        choices = _choices(spec, nodes)
        offset = rng.randrange(len(choices))
        born = start - timedelta(days=rng.randint(2, 30), seconds=rng.randint(0, 86399))
        if spec.kind == "StatefulSet":
            pods += _statefulset_pods(spec, choices, offset, born, alloc, rng)
        else:
            rollout_at = (rollouts or {}).get((spec.namespace, spec.name))
            pods += _deployment_pods(spec, choices, offset, born, alloc, rng, rollout_at)
    return pods


def job_name(cronjob: str, run: datetime) -> str:
    """The Job a CronJob creates for a scheduled run: ``<cronjob>-<minutes since epoch>``."""
    return f"{cronjob}-{int((run - EPOCH).total_seconds()) // 60}"


def job_pod(
    namespace: str,
    cronjob: str,
    job: str,
    labels: dict[str, str],
    uid: str,
    *,
    name: str,
    ip: str,
    node: str,
    start: datetime,
    end: datetime,
    service_account: str,
) -> SimPod:
    """The pod of one Job run: it carries ``job-name`` and ``controller-uid``, which Cilium
    keeps (a new identity per run). The caller draws every random value, in its order."""
    return SimPod(
        namespace=namespace,
        name=name,
        workload_kind="CronJob",
        workload_name=cronjob,
        labels={
            **labels,
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": job,
            "controller-uid": uid,
            "job-name": job,
        },
        ip=ip,
        node=node,
        start=start,
        end=end,
        ports=(),
        service_account=service_account,
        owner_kind="Job",
        owner_name=job,
    )


def cronjob_pods(
    namespace: str,
    name: str,
    labels: dict[str, str],
    *,
    minute: int,
    every_minutes: int,
    start: datetime,
    end: datetime,
    nodes: Sequence[SimNode],
    alloc: Allocator,
    rng: random.Random,
    service_account: str,
) -> list[SimPod]:
    """One Job (one pod, on a worker) per scheduled run inside the window: runs at
    ``minute`` past the hour, every ``every_minutes``."""
    workers = [n.name for n in nodes[1:]] or [nodes[0].name]
    pods = []
    slot = start.replace(minute=0, second=0, microsecond=0) + timedelta(minutes=minute)
    while slot < end:
        if slot >= start:
            job = job_name(name, slot)
            uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            node = rng.choice(workers)
            pod_start = slot + timedelta(seconds=rng.randint(1, 4))
            pod_name = f"{job}-{name_suffix(rng, 5)}"
            ip = alloc.ip(node)
            pod_end = min(pod_start + timedelta(seconds=rng.randint(150, 330)), end)
            pods.append(
                job_pod(
                    namespace,
                    name,
                    job,
                    labels,
                    uid,
                    name=pod_name,
                    ip=ip,
                    node=node,
                    start=pod_start,
                    end=pod_end,
                    service_account=service_account,
                )
            )
        slot += timedelta(minutes=every_minutes)
    return pods


def rollout(
    cluster: SimCluster,
    workload: str,
    at: datetime,
    rng: random.Random,
    *,
    labels: dict[str, str] | None = None,
) -> str:
    """Roll Deployment ``workload`` ("ns/name") out at ``at``, in place: a new ReplicaSet
    (new ``pod-template-hash``, ``labels`` merged into the pod labels) whose pods start
    50 s apart from ``at``, on new IPs, while the old pods end one by one (35 s after each
    new pod starts). Returns the new ReplicaSet's name."""
    old = [p for p in cluster.pods_of(workload) if p.owner_kind == "ReplicaSet" and p.alive(at)]
    if not old:
        raise ValueError(f"{workload}: no running ReplicaSet pod at {at:%H:%M:%S}")
    old_hash = old[0].labels[_HASH_KEY]
    new_hash = old_hash
    while new_hash == old_hash:
        new_hash = name_suffix(rng, rng.choice((8, 9, 10)))
    base = {k: v for k, v in old[0].labels.items() if k != _HASH_KEY}
    new_labels = {**base, **(labels or {}), _HASH_KEY: new_hash}
    spec = old[0]
    owner = f"{spec.workload_name}-{new_hash}"
    alloc = Allocator(rng, cluster.nodes)
    alloc.reserve(cluster.pods)
    ended = {p.name: replace(p, end=at + timedelta(seconds=50 * i + 35)) for i, p in enumerate(old)}
    nodes = [p.node for p in old]
    shift = rng.randrange(len(nodes))
    fresh = []
    for i in range(len(old)):
        node = nodes[(shift + i) % len(nodes)]
        fresh.append(
            replace(
                spec,
                name=f"{owner}-{name_suffix(rng, 5)}",
                labels=dict(new_labels),
                ip=alloc.ip(node),
                node=node,
                start=at + timedelta(seconds=50 * i),
                end=None,
                owner_name=owner,
            )
        )
    pods = [ended.get(p.name, p) if p.workload == workload else p for p in cluster.pods]
    last = max(i for i, p in enumerate(pods) if p.workload == workload)
    cluster.pods = pods[: last + 1] + fresh + pods[last + 1 :]
    return owner


def rollouts(cluster: SimCluster, after: datetime | None = None) -> list[tuple[str, datetime]]:
    """``(workload, time)`` of every ReplicaSet that starts inside the window (after
    ``after`` when given) and replaces an older one of the same Deployment."""
    out = []
    for workload in cluster.workloads():
        pods = cluster.pods_of(workload)
        sets: dict[str, datetime] = {}
        for p in pods:
            if p.owner_kind == "ReplicaSet":
                sets[p.owner_name] = min(sets.get(p.owner_name, p.start), p.start)
        first = min(sets.values(), default=None)
        for when in sorted(sets.values()):
            if when > first and when >= cluster.start and (after is None or when >= after):
                out.append((workload, when))
    return sorted(out, key=lambda x: (x[1], x[0]))
