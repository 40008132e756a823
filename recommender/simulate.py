"""Synthetic clusters and realistic Cilium Hubble flow logs, for samples, tests and benchmarks.

A :class:`SimCluster` is the ground truth: nodes, namespaces, pods (with their owners,
labels, container ports and lifetimes), Services and the list of client→server
connections (:class:`SimEdge`) that the traffic contains. :func:`hubble_records` turns it
into the lines ``hubble observe -o json`` (or a Hubble exporter file) would hold, with the
traps real logs have:

* every connection is seen several times: at several observation points on the client's
  node (``FROM_ENDPOINT``, ``TO_OVERLAY``/``TO_STACK``, policy verdicts) and on the
  server's node (``TO_ENDPOINT``, policy verdicts);
* replies (``is_reply: true``) carry swapped addresses and ports, so their
  ``source_port`` is the server's port;
* ``TO_OVERLAY`` rows carry neither ``is_reply`` nor ``traffic_direction``, in both
  directions, and many of them have ACK-only flags: their orientation is unknown;
* connections that were open before the window starts show up without a SYN;
* Cilium pseudo-labels (namespace, namespace labels, service account, cluster) sit among
  the pod labels; ``pod-template-hash`` and other ``kubernetes.io`` labels are filtered
  out as Cilium does, while the Job labels ``job-name``/``controller-uid`` are not;
* reserved identities: kubelet probes from ``reserved:host`` (node IP), Internet clients
  as ``reserved:world``, LoadBalancer traffic SNATed by another node as
  ``reserved:remote-node``, and the API server as ``reserved:kube-apiserver``;
* L7 DNS records (``Type: L7``) that duplicate the L3/L4 rows, and non-flow lines
  (``node_status``, ``lost_events``).

Everything is deterministic for a given seed: no wall clock, one ``random.Random`` per
purpose. ``python -m recommender.simulate OUT_DIR`` writes the sample files.
"""

from __future__ import annotations

import argparse
import gzip as _gzip
import heapq
import ipaddress
import json
import random
import sys
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = [
    "GRPC_PORT",
    "EdgeTraffic",
    "SimCluster",
    "SimEdge",
    "SimNode",
    "SimPod",
    "SimService",
    "connection_counts",
    "hubble_labels",
    "hubble_records",
    "main",
    "sample_readme",
    "shop_cluster",
    "write_hubble",
]

#: Characters Kubernetes uses for generated name suffixes (``rand.SafeEncodeString``).
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
#: Linux default ephemeral port range (``net.ipv4.ip_local_port_range``).
EPHEMERAL_PORTS = (32768, 60999)
#: The default observation window of :func:`shop_cluster`.
DEFAULT_START = datetime(2025, 11, 5, 6, 0, 0, tzinfo=UTC)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000
_MS = 1_000_000
_S = 1_000_000_000

# Reserved Cilium identities and their labels.
_RESERVED = {
    "host": (1, "reserved:host"),
    "world": (2, "reserved:world"),
    "remote-node": (6, "reserved:remote-node"),
    "kube-apiserver": (7, "reserved:kube-apiserver"),
}
# Trace observation points and their sub_type numbers (pkg/monitor/api/types.go).
_OBS = {
    "TO_ENDPOINT": 0,
    "TO_PROXY": 1,
    "TO_HOST": 2,
    "TO_STACK": 3,
    "TO_OVERLAY": 4,
    "FROM_ENDPOINT": 5,
}
# protojson field order of TCPFlags.
_FLAG_ORDER = ("FIN", "SYN", "RST", "PSH", "ACK")
# Order Hubble prints flags in its Summary ("SYN, ACK", "ACK, PSH", "ACK, FIN").
_SUMMARY_ORDER = ("SYN", "ACK", "PSH", "FIN", "RST")


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class SimNode:
    """A Kubernetes node: ``ip`` is its InternalIP, ``pod_cidr`` its pod range."""

    name: str
    ip: str
    pod_cidr: str = ""


@dataclass(frozen=True)
class SimPod:
    """One pod. ``labels`` are the Kubernetes API labels (including churn labels such as
    ``pod-template-hash``); :func:`hubble_labels` gives what Hubble shows.

    ``workload_kind``/``workload_name`` name the top-level owner (Deployment,
    StatefulSet, CronJob); ``owner_kind``/``owner_name`` the direct controller
    (ReplicaSet ``cart-7d4b9c8f6``, StatefulSet, Job ``report-29372070``).
    ``end`` is None for pods still running at the end of the window.
    ``ports`` are the container ports ``(name, port, protocol)``; ``probe_ports`` the
    ports the kubelet probes (they need not be declared container ports).
    """

    namespace: str
    name: str
    workload_kind: str
    workload_name: str
    labels: dict[str, str] = field(hash=False)
    ip: str
    node: str
    start: datetime
    end: datetime | None
    ports: tuple[tuple[str | None, int, str], ...]
    service_account: str = "default"
    owner_kind: str = ""
    owner_name: str = ""
    probe_ports: tuple[int, ...] = ()

    @property
    def workload(self) -> str:
        """``namespace/workload_name``, the form used in :class:`SimEdge`."""
        return f"{self.namespace}/{self.workload_name}"

    def alive(self, when: datetime) -> bool:
        return self.start <= when and (self.end is None or when < self.end)


@dataclass(frozen=True)
class SimService:
    """A Service. ``ports`` are ``(name, port, target_port, protocol)``."""

    namespace: str
    name: str
    cluster_ip: str
    selector: dict[str, str] = field(hash=False)
    ports: tuple[tuple[str | None, int, int, str], ...]
    type: str = "ClusterIP"


@dataclass(frozen=True)
class SimEdge:
    """One client→server connection of the ground truth (requests only).

    ``src``/``dst``: ``"ns/workload"`` for pods, ``"node"`` for node sources (kubelet
    probes from the pod's own node, and LoadBalancer traffic SNATed by another node),
    or an IP address for external peers (Internet clients, external APIs, the
    kube-apiserver). ``port`` is the port the server listens on (post-DNAT).
    """

    src: str
    dst: str
    protocol: str
    port: int


@dataclass(frozen=True)
class EdgeTraffic:
    """How :func:`hubble_records` produces the traffic of one edge.

    ``count``: connections over 6 hours (scaled to the window, at least ``minimum``).
    ``style``: ``"tcp"`` (request/response), ``"dns"`` (UDP query/answer, A+AAAA),
    ``"probe"`` (kubelet from the server pod's node) or ``"snat"`` (client address
    replaced by another node's address). ``service``: ``(namespace, name)`` of the
    Service the client addressed. ``names``: DNS names of an external destination
    (Hubble ``destination_names``). ``l7_dns``: the client's DNS goes through the
    Cilium DNS proxy (``Type: L7`` records). ``keepalive``: a connection is already
    open when the window starts (no SYN is seen for it). ``queries``: names the client
    resolves (DNS edges).
    """

    count: int = 6
    style: str = "tcp"
    service: tuple[str, str] | None = None
    names: tuple[str, ...] = ()
    l7_dns: bool = False
    keepalive: bool = False
    minimum: int = 3
    queries: tuple[str, ...] = ()


@dataclass
class SimCluster:
    name: str
    nodes: list[SimNode]
    pods: list[SimPod]
    #: namespace -> namespace labels (always with ``kubernetes.io/metadata.name``)
    namespaces: dict[str, dict[str, str]]
    #: ground truth: every client->server connection the traffic contains (requests only)
    edges: list[SimEdge]
    start: datetime
    end: datetime
    services: list[SimService] = field(default_factory=list)
    #: per-edge traffic profile; edges without one get ``EdgeTraffic()`` defaults
    traffic: dict[SimEdge, EdgeTraffic] = field(default_factory=dict)
    #: human notes (what is tricky in this cluster), used in the sample README
    notes: list[str] = field(default_factory=list)

    def pods_of(self, workload: str) -> list[SimPod]:
        """Pods of ``"ns/name"`` (all of them, over the whole window)."""
        return [p for p in self.pods if p.workload == workload]

    def workloads(self) -> list[str]:
        """Every ``"ns/name"`` workload, in pod order."""
        return list(dict.fromkeys(p.workload for p in self.pods))

    def node(self, name: str) -> SimNode:
        return next(n for n in self.nodes if n.name == name)

    def pod_by_name(self, namespace: str, name: str) -> SimPod | None:
        return next((p for p in self.pods if p.namespace == namespace and p.name == name), None)


# ------------------------------------------------------------------------- helpers


def _ns(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(microseconds=1) * _US


def _fmt_time(ns: int) -> str:
    """RFC 3339 UTC the way protojson writes it: 0, 3, 6 or 9 fractional digits."""
    sec, frac = divmod(ns, _S)
    base = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if frac == 0:
        return base + "Z"
    if frac % _MS == 0:
        return f"{base}.{frac // _MS:03d}Z"
    if frac % _US == 0:
        return f"{base}.{frac // _US:06d}Z"
    return f"{base}.{frac:09d}Z"


def _suffix(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(NAME_ALPHABET) for _ in range(n))


# Cilium's default identity-label filter (pkg/labelsfilter): app.kubernetes.io/* is kept,
# any other key containing kubernetes.io or k8s.io and the hash/generation labels are
# dropped. Job labels without a prefix (job-name, controller-uid) are kept.
_CHURN_KEYS = frozenset(
    {"pod-template-hash", "controller-revision-hash", "pod-template-generation", "etcd_node"}
)


def _identity_relevant(key: str) -> bool:
    if key.startswith("app.kubernetes.io/"):
        return True
    if key.startswith("io.kubernetes") or "kubernetes.io" in key or "k8s.io" in key:
        return False
    if key.startswith("annotation"):
        return False
    return key not in _CHURN_KEYS


def hubble_labels(pod: SimPod, cluster: SimCluster) -> list[str]:
    """The ``labels`` list Hubble shows for ``pod``: filtered pod labels plus Cilium
    pseudo-labels, each ``k8s:key=value``, sorted."""
    out = [f"k8s:{k}={v}" for k, v in pod.labels.items() if _identity_relevant(k)]
    for k, v in cluster.namespaces.get(pod.namespace, {}).items():
        out.append(f"k8s:io.cilium.k8s.namespace.labels.{k}={v}")
    out.append(f"k8s:io.cilium.k8s.policy.cluster={cluster.name}")
    out.append(f"k8s:io.cilium.k8s.policy.serviceaccount={pod.service_account}")
    out.append(f"k8s:io.kubernetes.pod.namespace={pod.namespace}")
    return sorted(out)


# ------------------------------------------------------------------ shop cluster


@dataclass(frozen=True)
class _WorkloadSpec:
    namespace: str
    name: str
    kind: str  # Deployment | StatefulSet
    replicas: int
    service_account: str
    labels: dict[str, str]
    ports: tuple[tuple[str | None, int, str], ...]
    probe_ports: tuple[int, ...]
    placement: str  # "workers" | "control-plane" | "any"


_SHOP = {"app.kubernetes.io/part-of": "shop"}

_SHOP_WORKLOADS = (
    _WorkloadSpec(
        "ingress-nginx",
        "ingress-nginx-controller",
        "Deployment",
        2,
        "ingress-nginx",
        {
            "app.kubernetes.io/name": "ingress-nginx",
            "app.kubernetes.io/instance": "ingress-nginx",
            "app.kubernetes.io/component": "controller",
            "app.kubernetes.io/part-of": "ingress-nginx",
            "app.kubernetes.io/version": "1.12.1",
        },
        (
            ("http", 80, "TCP"),
            ("https", 443, "TCP"),
            ("metrics", 10254, "TCP"),
            ("webhook", 8443, "TCP"),
        ),
        (10254,),
        "any",
    ),
    _WorkloadSpec(
        "shop",
        "frontend",
        "Deployment",
        3,
        "frontend",
        {
            "app.kubernetes.io/name": "frontend",
            **_SHOP,
            "app.kubernetes.io/component": "web",
            "tier": "web",
            "version": "v1.8.2",
        },
        (("http", 8080, "TCP"), ("metrics", 9090, "TCP")),
        (8080,),
        "workers",
    ),
    _WorkloadSpec(
        "shop",
        "cart",
        "Deployment",
        2,
        "cart",
        {
            "app.kubernetes.io/name": "cart",
            **_SHOP,
            "app": "cart",
            "tier": "backend",
            "version": "v2.3.0",
        },
        (("http", 8080, "TCP"), ("health", 8081, "TCP"), ("metrics", 9090, "TCP")),
        (8081,),
        "workers",
    ),
    _WorkloadSpec(
        "shop",
        "catalog",
        "Deployment",
        2,
        "catalog",
        {
            "app.kubernetes.io/name": "catalog",
            **_SHOP,
            "app": "catalog",
            "track": "stable",
            "tier": "backend",
            "version": "v3.1.0",
        },
        (("http", 8080, "TCP"), ("metrics", 9090, "TCP")),
        (8080,),
        "workers",
    ),
    _WorkloadSpec(
        "shop",
        "catalog-canary",
        "Deployment",
        1,
        "catalog",
        {
            "app.kubernetes.io/name": "catalog",
            **_SHOP,
            "app": "catalog",
            "track": "canary",
            "tier": "backend",
            "version": "v3.2.0-rc.1",
        },
        (("http", 8080, "TCP"), ("metrics", 9090, "TCP")),
        (8080,),
        "workers",
    ),
    _WorkloadSpec(
        "shop",
        "checkout",
        "Deployment",
        2,
        "checkout",
        {
            "app.kubernetes.io/name": "checkout",
            **_SHOP,
            "tier": "backend",
            "version": "v1.4.1",
        },
        (("http", 8080, "TCP"), ("metrics", 9090, "TCP")),
        (8080,),
        "workers",
    ),
    _WorkloadSpec(
        "shop",
        "payments",
        "Deployment",
        2,
        "payments",
        {
            "app.kubernetes.io/name": "payments",
            **_SHOP,
            "app": "payments",
            "tier": "backend",
            "pci-scope": "true",
            "version": "v5.0.2",
        },
        (("https", 8443, "TCP"), ("health", 8081, "TCP"), ("metrics", 9090, "TCP")),
        (8081,),
        "workers",
    ),
    _WorkloadSpec(
        "data",
        "postgres",
        "StatefulSet",
        2,
        "postgres",
        {
            "app.kubernetes.io/name": "postgres",
            "app.kubernetes.io/instance": "shop-db",
            **_SHOP,
            "tier": "db",
        },
        (("tcp-postgresql", 5432, "TCP"), ("metrics", 9187, "TCP")),
        (5432,),
        "workers",
    ),
    _WorkloadSpec(
        "data",
        "redis",
        "Deployment",
        1,
        "redis",
        {
            "app.kubernetes.io/name": "redis",
            "app.kubernetes.io/instance": "shop-cache",
            **_SHOP,
            "app": "redis",
            "tier": "cache",
        },
        (("redis", 6379, "TCP"), ("metrics", 9121, "TCP")),
        (6379,),
        "workers",
    ),
    _WorkloadSpec(
        "kube-system",
        "coredns",
        "Deployment",
        2,
        "coredns",
        {"k8s-app": "kube-dns"},
        (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")),
        (8080, 8181),
        "control-plane",
    ),
    _WorkloadSpec(
        "monitoring",
        "prometheus",
        "StatefulSet",
        1,
        "prometheus",
        {
            "app.kubernetes.io/name": "prometheus",
            "app.kubernetes.io/instance": "k8s",
            "app.kubernetes.io/component": "prometheus",
            "app.kubernetes.io/part-of": "kube-prometheus",
        },
        (("web", 9090, "TCP"),),
        (9090,),
        "any",
    ),
)

_NAMESPACES = {
    "shop": {"team": "storefront", "env": "prod"},
    "data": {"team": "platform", "env": "prod"},
    "ingress-nginx": {
        "app.kubernetes.io/name": "ingress-nginx",
        "app.kubernetes.io/instance": "ingress-nginx",
    },
    "kube-system": {},
    "monitoring": {"team": "platform"},
}

_REPORT_LABELS = {
    "app.kubernetes.io/name": "report",
    **_SHOP,
    "app.kubernetes.io/component": "batch",
}
_REPORT_SCHEDULE_MINUTE = 30  # CronJob schedule "30 */3 * * *"
_REPORT_EVERY_HOURS = 3

_API_SERVER_PORT = 6443
#: Where ``shop_cluster(grpc=True)``'s gRPC service listens: above 32768, like its clients.
GRPC_PORT = 50051
_GRPC_WORKLOAD = _WorkloadSpec(
    "shop",
    "recommendations",
    "Deployment",
    2,
    "recommendations",
    {"app.kubernetes.io/name": "recommendations", **_SHOP, "tier": "backend"},
    (("grpc", GRPC_PORT, "TCP"), ("metrics", 9090, "TCP")),
    (),
    "workers",
)
_UPSTREAM_DNS = "172.18.0.1"  # the docker network gateway kind nodes resolve through
_PAYMENT_APIS = (
    ("93.184.216.34", "api.payments.example.com"),
    ("151.101.1.69", "fraud-check.example.net"),
)
_REPORT_BUCKET = ("52.216.8.21", "shop-reports.s3.amazonaws.com")


class _Allocator:
    """Unique pod IPs per node, deterministic."""

    def __init__(self, rng: random.Random, nodes: Sequence[SimNode]) -> None:
        self.rng = rng
        self.nets = {n.name: ipaddress.ip_network(n.pod_cidr) for n in nodes}
        self.used: dict[str, set[int]] = {n.name: set() for n in nodes}

    def ip(self, node: str) -> str:
        net = self.nets[node]
        while True:
            host = self.rng.randint(2, 254)
            if host not in self.used[node]:
                self.used[node].add(host)
                return str(net.network_address + host)


def _public_ip(rng: random.Random) -> str:
    while True:
        addr = ipaddress.IPv4Address(rng.randint(0x01000000, 0xDEFFFFFF))
        if addr.is_global and not addr.is_multicast:
            return str(addr)


def _workload_pods(
    specs: Sequence[_WorkloadSpec],
    nodes: Sequence[SimNode],
    alloc: _Allocator,
    rng: random.Random,
    start: datetime,
    rollouts: dict[tuple[str, str], datetime] | None = None,
) -> list[SimPod]:
    """Pods of Deployments (one ReplicaSet each) and StatefulSets, running since before
    ``start``. A Deployment in ``rollouts`` ((namespace, name) -> time) is rolled out then:
    its pods end one by one and a new ReplicaSet's pods, with new IPs, take their places.

    The random draws happen in a fixed order (spec by spec), so a seed gives the same
    cluster: ``sample_flows/`` is pinned by it.
    """
    workers = [n.name for n in nodes[1:]] or [nodes[0].name]
    pods: list[SimPod] = []
    for spec in specs:
        if spec.placement == "control-plane":
            choices = [nodes[0].name]
        elif spec.placement == "any":
            choices = [n.name for n in nodes]
        else:
            choices = list(workers)
        offset = rng.randrange(len(choices))
        born = start - timedelta(days=rng.randint(2, 30), seconds=rng.randint(0, 86399))
        common = dict(
            namespace=spec.namespace,
            workload_kind=spec.kind,
            workload_name=spec.name,
            ports=spec.ports,
            service_account=spec.service_account,
            probe_ports=spec.probe_ports,
        )
        if spec.kind == "StatefulSet":
            revision = f"{spec.name}-{_suffix(rng, 10)}"
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
                        **common,
                    )
                )
            continue
        rs_hash = _suffix(rng, rng.choice((8, 9, 10)))
        rollout_at = (rollouts or {}).get((spec.namespace, spec.name))
        for i in range(spec.replicas):
            node = choices[(offset + i) % len(choices)]
            pod_end = None if rollout_at is None else rollout_at + timedelta(seconds=50 * i + 35)
            pods.append(
                SimPod(
                    name=f"{spec.name}-{rs_hash}-{_suffix(rng, 5)}",
                    labels={**spec.labels, "pod-template-hash": rs_hash},
                    ip=alloc.ip(node),
                    node=node,
                    start=born + timedelta(seconds=rng.randint(0, 30)),
                    end=pod_end,
                    owner_kind="ReplicaSet",
                    owner_name=f"{spec.name}-{rs_hash}",
                    **common,
                )
            )
        if rollout_at is not None:  # a new ReplicaSet, new pods, new IPs
            new_hash = rs_hash
            while new_hash == rs_hash:
                new_hash = _suffix(rng, rng.choice((8, 9, 10)))
            offset = rng.randrange(len(choices))
            for i in range(spec.replicas):
                node = choices[(offset + i) % len(choices)]
                pods.append(
                    SimPod(
                        name=f"{spec.name}-{new_hash}-{_suffix(rng, 5)}",
                        labels={**spec.labels, "pod-template-hash": new_hash},
                        ip=alloc.ip(node),
                        node=node,
                        start=rollout_at + timedelta(seconds=50 * i),
                        end=None,
                        owner_kind="ReplicaSet",
                        owner_name=f"{spec.name}-{new_hash}",
                        **common,
                    )
                )
    return pods


def shop_cluster(seed: int = 7, *, hours: float = 6.0, grpc: bool = False) -> SimCluster:
    """The sample microservice shop: 3 nodes, 5 namespaces, a rollout, a canary and a
    CronJob. ``hours`` sets the observation window (it starts at 2025-11-05 06:00 UTC).

    ``grpc``: add ``shop/recommendations``, a gRPC service listening on
    :data:`GRPC_PORT` (inside the Linux ephemeral range, so a log without TCP flags cannot
    tell its server from its clients by port) and called by ``shop/frontend``. Without it
    the random draws, hence ``sample_flows/``, are those of the plain shop.
    """
    if hours <= 0:
        raise ValueError("hours must be positive")
    rng = random.Random(seed)
    start = DEFAULT_START
    end = start + timedelta(seconds=round(hours * 3600))
    cluster_name = "kind-shop"
    nodes = [
        SimNode("shop-control-plane", "172.18.0.2", "10.244.0.0/24"),
        SimNode("shop-worker", "172.18.0.3", "10.244.1.0/24"),
        SimNode("shop-worker2", "172.18.0.4", "10.244.2.0/24"),
    ]
    workers = [n.name for n in nodes[1:]]
    alloc = _Allocator(rng, nodes)
    namespaces = {
        ns: {"kubernetes.io/metadata.name": ns, **extra} for ns, extra in _NAMESPACES.items()
    }

    rollout_at = start + timedelta(seconds=round(hours * 3600 * 0.45))
    rollouts = {("shop", "cart"): rollout_at}
    specs = (*_SHOP_WORKLOADS, _GRPC_WORKLOAD) if grpc else _SHOP_WORKLOADS
    pods = _workload_pods(specs, nodes, alloc, rng, start, rollouts)

    # The CronJob: one Job (one pod) per scheduled run inside the window.
    report_runs: list[datetime] = []
    slot = start.replace(minute=_REPORT_SCHEDULE_MINUTE, second=0, microsecond=0)
    slot -= timedelta(hours=slot.hour % _REPORT_EVERY_HOURS)
    while slot < end:
        if slot >= start:
            report_runs.append(slot)
        slot += timedelta(hours=_REPORT_EVERY_HOURS)
    for run in report_runs:
        job = f"report-{int((run - _EPOCH).total_seconds()) // 60}"
        uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        node = rng.choice(workers)
        pod_start = run + timedelta(seconds=rng.randint(1, 4))
        pod_end = min(pod_start + timedelta(seconds=rng.randint(150, 330)), end)
        pods.append(
            SimPod(
                namespace="shop",
                name=f"{job}-{_suffix(rng, 5)}",
                workload_kind="CronJob",
                workload_name="report",
                labels={
                    **_REPORT_LABELS,
                    "batch.kubernetes.io/controller-uid": uid,
                    "batch.kubernetes.io/job-name": job,
                    "controller-uid": uid,
                    "job-name": job,
                },
                ip=alloc.ip(node),
                node=node,
                start=pod_start,
                end=pod_end,
                ports=(),
                service_account="report",
                owner_kind="Job",
                owner_name=job,
            )
        )

    services = _shop_services(rng)
    if grpc:
        services.append(
            SimService(
                "shop",
                "recommendations",
                f"10.96.{rng.randint(1, 254)}.{rng.randint(2, 254)}",
                {"app.kubernetes.io/name": "recommendations"},
                (("grpc", GRPC_PORT, GRPC_PORT, "TCP"),),
            )
        )
    cluster = SimCluster(
        name=cluster_name,
        nodes=nodes,
        pods=pods,
        namespaces=namespaces,
        edges=[],
        start=start,
        end=end,
        services=services,
    )
    _shop_edges(cluster, rng)
    cluster.notes = [
        f"`shop/cart` is rolled out at {rollout_at:%H:%M:%S} UTC: a new ReplicaSet with new "
        "pods and new IPs replaces the old one (labels unchanged; Hubble never shows "
        "`pod-template-hash`).",
        "`shop/catalog` (track=stable) and `shop/catalog-canary` (track=canary) share every "
        "label except `track` and `version`, and both sit behind Service `catalog`.",
        "`tier: backend` is shared by cart, catalog, catalog-canary, checkout and payments.",
        f"CronJob `shop/report` runs {len(report_runs)} time(s); each Job pod carries "
        "`job-name` and `controller-uid`, which Cilium keeps (a new identity per run).",
        "The container port named `metrics` is 9090 on shop pods, 9187 on postgres, 9121 on "
        "redis, 9153 on CoreDNS and 10254 on ingress-nginx.",
        "CoreDNS is probed on 8080 and 8181, which are not declared container ports.",
        "Part of the Internet traffic to ingress-nginx is SNATed by another node and arrives "
        "from `reserved:remote-node` (edge source `node`).",
    ]
    if grpc:
        cluster.notes.append(
            f"`shop/recommendations` serves gRPC on {GRPC_PORT}/TCP, inside the ephemeral "
            "port range its clients use too."
        )
    return cluster


def _shop_services(rng: random.Random) -> list[SimService]:
    def cip() -> str:
        return f"10.96.{rng.randint(1, 254)}.{rng.randint(2, 254)}"

    return [
        SimService("default", "kubernetes", "10.96.0.1", {}, (("https", 443, 6443, "TCP"),)),
        SimService(
            "kube-system",
            "kube-dns",
            "10.96.0.10",
            {"k8s-app": "kube-dns"},
            (("dns", 53, 53, "UDP"), ("dns-tcp", 53, 53, "TCP"), ("metrics", 9153, 9153, "TCP")),
        ),
        SimService(
            "ingress-nginx",
            "ingress-nginx-controller",
            cip(),
            {
                "app.kubernetes.io/name": "ingress-nginx",
                "app.kubernetes.io/instance": "ingress-nginx",
                "app.kubernetes.io/component": "controller",
            },
            (("http", 80, 80, "TCP"), ("https", 443, 443, "TCP")),
            "LoadBalancer",
        ),
        SimService(
            "shop",
            "frontend",
            cip(),
            {"app.kubernetes.io/name": "frontend"},
            (("http", 80, 8080, "TCP"),),
        ),
        SimService(
            "shop", "cart", cip(), {"app.kubernetes.io/name": "cart"}, (("http", 80, 8080, "TCP"),)
        ),
        SimService("shop", "catalog", cip(), {"app": "catalog"}, (("http", 80, 8080, "TCP"),)),
        SimService(
            "shop",
            "checkout",
            cip(),
            {"app.kubernetes.io/name": "checkout"},
            (("http", 80, 8080, "TCP"),),
        ),
        SimService(
            "shop",
            "payments",
            cip(),
            {"app.kubernetes.io/name": "payments"},
            (("https", 443, 8443, "TCP"),),
        ),
        SimService(
            "data",
            "postgres",
            cip(),
            {"app.kubernetes.io/name": "postgres"},
            (("tcp-postgresql", 5432, 5432, "TCP"),),
        ),
        SimService(
            "data",
            "redis",
            cip(),
            {"app.kubernetes.io/name": "redis"},
            (("redis", 6379, 6379, "TCP"),),
        ),
        SimService(
            "monitoring",
            "prometheus",
            cip(),
            {"app.kubernetes.io/name": "prometheus"},
            (("web", 9090, 9090, "TCP"),),
        ),
    ]


def _shop_edges(cluster: SimCluster, rng: random.Random) -> None:
    edges: dict[SimEdge, EdgeTraffic] = {}

    def add(src: str, dst: str, proto: str, port: int, traffic: EdgeTraffic) -> None:
        edges[SimEdge(src, dst, proto, port)] = traffic

    has_report = bool(cluster.pods_of("shop/report"))
    ingress = "ingress-nginx/ingress-nginx-controller"
    dns = "kube-system/coredns"
    api = cluster.nodes[0].ip

    def svc(ns: str, name: str, count: int, **kw: object) -> EdgeTraffic:
        return EdgeTraffic(count=count, service=(ns, name), **kw)  # type: ignore[arg-type]

    # Internet clients -> ingress (each client address is its own edge).
    clients = []
    while len(clients) < 36:
        ip = _public_ip(rng)
        if ip not in clients:
            clients.append(ip)
    for i, ip in enumerate(clients):
        add(ip, ingress, "TCP", 443, EdgeTraffic(count=rng.randint(2, 6), minimum=2))
        if i % 4 == 0:
            add(ip, ingress, "TCP", 80, EdgeTraffic(count=2, minimum=2))
    add("node", ingress, "TCP", 443, EdgeTraffic(count=12, style="snat"))
    add("node", ingress, "TCP", 80, EdgeTraffic(count=3, style="snat"))

    # The shop's request path.
    add(ingress, "shop/frontend", "TCP", 8080, svc("shop", "frontend", 60, keepalive=True))
    add("shop/frontend", "shop/cart", "TCP", 8080, svc("shop", "cart", 40))
    add("shop/frontend", "shop/catalog", "TCP", 8080, svc("shop", "catalog", 45))
    add("shop/frontend", "shop/catalog-canary", "TCP", 8080, svc("shop", "catalog", 12))
    add("shop/frontend", "shop/checkout", "TCP", 8080, svc("shop", "checkout", 25))
    add("shop/checkout", "shop/payments", "TCP", 8443, svc("shop", "payments", 20))
    add("shop/checkout", "shop/cart", "TCP", 8080, svc("shop", "cart", 20))
    add("shop/cart", "data/redis", "TCP", 6379, svc("data", "redis", 45))
    add("shop/catalog", "data/postgres", "TCP", 5432, svc("data", "postgres", 35))
    add("shop/catalog-canary", "data/postgres", "TCP", 5432, svc("data", "postgres", 10))
    if cluster.pods_of("shop/recommendations"):
        add(
            "shop/frontend",
            "shop/recommendations",
            "TCP",
            GRPC_PORT,
            svc("shop", "recommendations", 30),
        )
    for ip, name in _PAYMENT_APIS:
        add(
            "shop/payments",
            ip,
            "TCP",
            443,
            EdgeTraffic(count=10 if ip == _PAYMENT_APIS[0][0] else 6, names=(name,)),
        )
    if has_report:
        add("shop/report", "data/postgres", "TCP", 5432, svc("data", "postgres", 4, minimum=2))
        add("shop/report", _REPORT_BUCKET[0], "TCP", 443, EdgeTraffic(count=4, minimum=2))

    # Prometheus scrapes every pod of these workloads directly (no Service).
    scrapes = [
        (ingress, 10254),
        ("shop/frontend", 9090),
        ("shop/cart", 9090),
        ("shop/catalog", 9090),
        ("shop/catalog-canary", 9090),
        ("shop/checkout", 9090),
        ("shop/payments", 9090),
        ("data/postgres", 9187),
        ("data/redis", 9121),
        (dns, 9153),
    ]
    for dst, port in scrapes:
        add("monitoring/prometheus", dst, "TCP", port, EdgeTraffic(count=8, keepalive=True))

    # Controllers watching the API server (through Service default/kubernetes).
    for src in ("monitoring/prometheus", ingress, dns):
        add(src, api, "TCP", _API_SERVER_PORT, svc("default", "kubernetes", 6, keepalive=True))

    # DNS: every workload with egress asks CoreDNS; a few also over TCP.
    svc_names = {
        "shop/frontend": ("cart", "catalog", "checkout"),
        "shop/cart": ("redis.data",),
        "shop/catalog": ("postgres.data",),
        "shop/catalog-canary": ("postgres.data",),
        "shop/checkout": ("payments", "cart"),
        "shop/report": ("postgres.data",),
        ingress: ("frontend.shop",),
        "monitoring/prometheus": ("kubernetes.default",),
    }
    dns_rates = [
        (ingress, 15),
        ("shop/frontend", 40),
        ("shop/cart", 30),
        ("shop/catalog", 20),
        ("shop/catalog-canary", 10),
        ("shop/checkout", 25),
        ("shop/payments", 25),
        ("shop/report", 6),
        ("monitoring/prometheus", 10),
    ]
    for src, count in dns_rates:
        if src == "shop/report" and not has_report:
            continue
        ns = src.split("/")[0]
        queries = tuple(
            f"{n}.svc.cluster.local." if "." in n else f"{n}.{ns}.svc.cluster.local."
            for n in svc_names.get(src, ())
        )
        l7 = src == "shop/payments"
        if l7:
            queries = tuple(f"{name}." for _, name in _PAYMENT_APIS)
        if src == "shop/report":
            queries += (f"{_REPORT_BUCKET[1]}.",)
        add(
            src,
            dns,
            "UDP",
            53,
            svc(
                "kube-system",
                "kube-dns",
                count,
                style="dns",
                l7_dns=l7,
                queries=queries,
                minimum=3 if src != "shop/report" else 2,
            ),
        )
    for src, count in (("shop/checkout", 3), ("shop/payments", 3), ("shop/report", 2)):
        if src == "shop/report" and not has_report:
            continue
        add(src, dns, "TCP", 53, svc("kube-system", "kube-dns", count, minimum=2))
    add(dns, _UPSTREAM_DNS, "UDP", 53, EdgeTraffic(count=20, style="dns"))

    # Kubelet probes from each pod's own node.
    for wl in cluster.workloads():
        pods = cluster.pods_of(wl)
        for port in pods[0].probe_ports:
            add("node", wl, "TCP", port, EdgeTraffic(count=10 * len(pods), style="probe"))

    cluster.edges = list(edges)
    cluster.traffic = edges


# ------------------------------------------------------------ connection planning


@dataclass(frozen=True)
class _Side:
    kind: str  # pod | host | world | remote-node | kube-apiserver
    ip: str
    pod: SimPod | None = None
    node: str | None = None  # where it sits (pods, host)


@dataclass(frozen=True)
class _Conn:
    t: int
    order: int
    edge: SimEdge
    traffic: EdgeTraffic
    client: _Side
    server: _Side
    sport: int
    midstream: bool


def _default_traffic(edge: SimEdge) -> EdgeTraffic:
    if edge.src == "node":
        return EdgeTraffic(style="probe")
    if edge.dst.endswith("/coredns") and edge.port == 53 and edge.protocol == "UDP":
        return EdgeTraffic(style="dns")
    return EdgeTraffic()


def _intervals(cluster: SimCluster, endpoint: str) -> list[tuple[int, int]]:
    lo, hi = _ns(cluster.start), _ns(cluster.end)
    if endpoint == "node" or "/" not in endpoint:
        return [(lo, hi)]
    spans = []
    for p in cluster.pods_of(endpoint):
        a = max(lo, _ns(p.start) + 2 * _S)
        b = min(hi, (_ns(p.end) if p.end else hi) - 3 * _S)
        if a < b:
            spans.append((a, b))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _intersect(xs: list[tuple[int, int]], ys: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for a, b in xs:
        for c, d in ys:
            lo, hi = max(a, c), min(b, d)
            if lo < hi:
                out.append((lo, hi))
    return sorted(out)


def _lifetimes(cluster: SimCluster) -> dict[str, list[tuple[int, int | None, SimPod]]]:
    out: dict[str, list[tuple[int, int | None, SimPod]]] = {}
    for p in cluster.pods:
        out.setdefault(p.workload, []).append((_ns(p.start), _ns(p.end) if p.end else None, p))
    return out


def _alive(pods: list[tuple[int, int | None, SimPod]], t: int) -> list[SimPod]:
    return [p for start, end, p in pods if start <= t and (end is None or t < end)]


def _scaled_count(traffic: EdgeTraffic, cluster: SimCluster) -> int:
    hours = (cluster.end - cluster.start).total_seconds() / 3600
    return max(traffic.minimum, round(traffic.count * hours / 6))


def _pod_side(pod: SimPod) -> _Side:
    return _Side("pod", pod.ip, pod, pod.node)


def _external_side(cluster: SimCluster, ip: str, port: int) -> _Side:
    for n in cluster.nodes:
        if n.ip == ip:
            return _Side("kube-apiserver" if port == _API_SERVER_PORT else "remote-node", ip)
    return _Side("world", ip)


def _plan(cluster: SimCluster, seed: int) -> list[_Conn]:
    """Every connection of the window, sorted by start time."""
    rng = random.Random(seed * 7919 + 1)
    conns: list[_Conn] = []
    node_ips = {n.name: n.ip for n in cluster.nodes}
    lifetimes = _lifetimes(cluster)
    for order, edge in enumerate(cluster.edges):
        traffic = cluster.traffic.get(edge) or _default_traffic(edge)
        src_iv = _intervals(cluster, edge.src)
        dst_iv = _intervals(cluster, edge.dst)
        spans = _intersect(src_iv, dst_iv)
        total = sum(b - a for a, b in spans)
        if total <= 0:
            continue
        n = _scaled_count(traffic, cluster)
        times = []
        if 1 < len(spans) <= n:  # e.g. one CronJob run per span: each gets traffic
            times = [a + rng.randrange(b - a) for a, b in spans]
        for _ in range(n - len(times)):
            u = rng.randrange(total)
            for a, b in spans:
                if u < b - a:
                    times.append(a + u)
                    break
                u -= b - a
        starts = [(t, False) for t in sorted(times)]
        if traffic.keepalive and spans[0][0] <= _ns(cluster.start) + 3 * _S:
            room = min(60 * _S, spans[0][1] - spans[0][0])
            starts.insert(0, (spans[0][0] + rng.randrange(room), True))
        used_ports: set[int] = set()
        for t, midstream in starts:
            server = (
                _pod_side(rng.choice(_alive(lifetimes[edge.dst], t)))
                if "/" in edge.dst
                else _external_side(cluster, edge.dst, edge.port)
            )
            if "/" in edge.src:
                client = _pod_side(rng.choice(_alive(lifetimes[edge.src], t)))
            elif edge.src == "node" and traffic.style == "snat":
                others = sorted(name for name in node_ips if name != server.node)
                via = rng.choice(others)
                client = _Side("remote-node", node_ips[via])
            elif edge.src == "node":
                assert server.node is not None, "probes need a pod destination"
                client = _Side("host", node_ips[server.node], None, server.node)
            else:
                client = _Side("world", edge.src)
            sport = rng.randint(*EPHEMERAL_PORTS)
            while sport in used_ports:
                sport = rng.randint(*EPHEMERAL_PORTS)
            used_ports.add(sport)
            conns.append(_Conn(t, order, edge, traffic, client, server, sport, midstream))
    conns.sort(key=lambda c: (c.t, c.order, c.sport))
    return conns


def connection_counts(cluster: SimCluster, *, seed: int = 7) -> dict[SimEdge, int]:
    """How many connections of each edge :func:`hubble_records` emits (same seed)."""
    counts = dict.fromkeys(cluster.edges, 0)
    for c in _plan(cluster, seed):
        counts[c.edge] += 1
    return counts


# --------------------------------------------------------------- record rendering


class _Renderer:
    def __init__(self, cluster: SimCluster, rng: random.Random) -> None:
        self.cluster = cluster
        self.rng = rng
        # Security identities: one per distinct identity label set.
        label_sets = sorted({tuple(hubble_labels(p, cluster)) for p in cluster.pods})
        pool = rng.sample(range(1024, 65000), len(label_sets))
        self.identity = dict(zip(label_sets, pool, strict=True))
        self.labels = {p.name + "@" + p.namespace: hubble_labels(p, cluster) for p in cluster.pods}
        # Endpoint IDs and lxc interfaces, per pod.
        self.ep_id: dict[str, int] = {}
        self.lxc: dict[str, dict[str, object]] = {}
        taken: dict[str, set[int]] = {}
        for p in cluster.pods:
            key = p.name + "@" + p.namespace
            ids = taken.setdefault(p.node, set())
            ep = rng.randint(16, 4000)
            while ep in ids:
                ep = rng.randint(16, 4000)
            ids.add(ep)
            self.ep_id[key] = ep
            self.lxc[key] = {"index": rng.randint(8, 250), "name": f"lxc{rng.getrandbits(48):012x}"}
        self._ep_cache: dict[tuple[str, bool], dict[str, object]] = {}

    def endpoint(self, side: _Side, observer: str) -> dict[str, object]:
        if side.kind != "pod":
            ident, label = _RESERVED[side.kind]
            return {"identity": ident, "labels": [label]}
        pod = side.pod
        assert pod is not None
        key = pod.name + "@" + pod.namespace
        local = pod.node == observer
        cached = self._ep_cache.get((key, local))
        if cached is not None:
            return cached
        labels = self.labels[key]
        ep: dict[str, object] = {}
        if local:
            ep["ID"] = self.ep_id[key]
        ep["identity"] = self.identity[tuple(labels)]
        ep["namespace"] = pod.namespace
        ep["labels"] = labels
        ep["pod_name"] = pod.name
        if pod.workload_kind != "StatefulSet":  # "most pods": none for StatefulSet pods
            ep["workloads"] = [{"name": pod.workload_name, "kind": pod.workload_kind}]
        self._ep_cache[(key, local)] = ep
        return ep


@dataclass
class _Pkt:
    c2s: bool
    flags: tuple[str, ...]  # empty for UDP
    sent: int
    arrives: int
    first: bool  # first packet of the connection in this direction (policy verdict)
    dns_qtype: str = ""


def _flow(
    r: _Renderer,
    conn: _Conn,
    pkt: _Pkt,
    ts: int,
    observer: str,
    *,
    event: dict[str, int],
    direction: str | None,
    point: str | None,
    is_reply: bool | None,
    verdict: str = "FORWARDED",
    interface: dict[str, object] | None = None,
    kind: str = "L3_L4",
    l7: dict[str, object] | None = None,
    summary: str | None = None,
) -> tuple[int, str, dict[str, object]]:
    c, s = conn.client, conn.server
    src, dst = (c, s) if pkt.c2s else (s, c)
    sport, dport = (conn.sport, conn.edge.port) if pkt.c2s else (conn.edge.port, conn.sport)
    ports: dict[str, object] = {"source_port": sport, "destination_port": dport}
    proto = conn.edge.protocol
    if proto == "TCP" and kind != "L7":
        ports["flags"] = {f: True for f in _FLAG_ORDER if f in pkt.flags}
    flow: dict[str, object] = {
        "time": _fmt_time(ts),
        "verdict": verdict,
        "IP": {"source": src.ip, "destination": dst.ip, "ipVersion": "IPv4"},
        "l4": {proto: ports},
        "source": r.endpoint(src, observer),
        "destination": r.endpoint(dst, observer),
        "Type": kind,
        "node_name": observer,
    }
    names = conn.traffic.names
    if names and pkt.c2s:
        flow["destination_names"] = list(names)
    elif names:
        flow["source_names"] = list(names)
    if l7 is not None:
        flow["l7"] = l7
    flow["event_type"] = event
    if conn.traffic.service and pkt.c2s and kind != "L7":
        ns, name = conn.traffic.service
        flow["destination_service"] = {"name": name, "namespace": ns}
    if direction:
        flow["traffic_direction"] = direction
    if point:
        flow["trace_observation_point"] = point
    if is_reply is not None:
        flow["is_reply"] = is_reply
    if interface:
        flow["interface"] = interface
    if summary is None:
        if proto == "TCP":
            summary = "TCP Flags: " + ", ".join(f for f in _SUMMARY_ORDER if f in pkt.flags)
        else:
            summary = proto
    flow["Summary"] = summary
    return ts, observer, flow


def _trace(point: str) -> dict[str, int]:
    sub = _OBS[point]
    return {"type": 4, "sub_type": sub} if sub else {"type": 4}


_VXLAN = {"index": 6, "name": "cilium_vxlan"}


def _packets(conn: _Conn, rng: random.Random) -> list[_Pkt]:
    c, s = conn.client, conn.server
    if c.kind == "pod" and s.kind == "pod":
        same = c.node == s.node
        owd = rng.randint(15, 60) * _US if same else rng.randint(120, 450) * _US
    elif s.kind == "pod" and c.kind == "host":
        owd = rng.randint(10, 40) * _US
    elif s.kind == "pod":
        owd = rng.randint(4, 70) * _MS  # Internet client
    elif s.kind == "kube-apiserver":
        owd = rng.randint(80, 300) * _US
    else:
        owd = rng.randint(3, 40) * _MS  # external service

    def think(lo: int, hi: int) -> int:
        return rng.randint(lo, hi) * _US

    pkts: list[_Pkt] = []
    # Requests that detour through the DNS proxy reach the server later.
    proxy = 400 * _US if conn.traffic.l7_dns and c.kind == "pod" else 0

    def add(c2s: bool, flags: tuple[str, ...], sent: int, first: bool, qtype: str = "") -> int:
        arrives = sent + owd + (proxy if c2s else 0)
        pkts.append(_Pkt(c2s, flags, sent, arrives, first, qtype))
        return arrives

    t = conn.t
    if conn.traffic.style == "dns" and conn.edge.protocol == "UDP":
        a1 = add(True, (), t, True, "A")
        a2 = add(True, (), t + think(20, 120), False, "AAAA")
        upstream = 2000 if s.kind == "world" else 0
        add(False, (), a1 + think(80, 900 + upstream * 10), True, "A")
        add(False, (), a2 + think(80, 900 + upstream * 10), False, "AAAA")
        return pkts
    if conn.midstream:
        a = add(True, ("PSH", "ACK"), t, False)
        b = add(False, ("PSH", "ACK"), a + think(300, 40_000), False)
        add(True, ("ACK",), b + think(5, 60), False)
        return pkts
    a = add(True, ("SYN",), t, True)
    b = add(False, ("SYN", "ACK"), a + think(25, 60), True)
    c1 = add(True, ("ACK",), b + think(2, 10), False)
    d = add(True, ("PSH", "ACK"), c1 + think(5, 40), False)
    e = add(False, ("PSH", "ACK"), d + think(300, 40_000), False)
    f = add(True, ("FIN", "ACK"), e + think(40, 5_000), False)
    g = add(False, ("FIN", "ACK"), f + think(15, 60), False)
    if rng.random() < 0.5:  # monitor aggregation does not always trace the last ACK
        add(True, ("ACK",), g + think(2, 10), False)
    return pkts


def _l7_dns(conn: _Conn, pkt: _Pkt, query: str, rng: random.Random) -> tuple[dict, str]:
    ip_for = {f"{name}.": ip for ip, name in (*_PAYMENT_APIS, _REPORT_BUCKET)}
    if pkt.c2s:
        dns: dict[str, object] = {
            "query": query,
            "observation_source": "proxy",
            "qtypes": [pkt.dns_qtype],
        }
        return {"type": "REQUEST", "dns": dns}, f"DNS Query {query} {pkt.dns_qtype}"
    ttl = rng.randint(5, 60)
    if pkt.dns_qtype == "A" and query in ip_for:
        answer = ip_for[query]
        dns = {
            "query": query,
            "ips": [answer],
            "ttl": ttl,
            "observation_source": "proxy",
            "qtypes": ["A"],
            "rrtypes": ["A"],
        }
        summary = f'DNS Answer "{answer}" TTL: {ttl} (Proxy {query} A)'
    else:
        ttl = 4294967295
        dns = {"query": query, "ttl": ttl, "observation_source": "proxy", "qtypes": [pkt.dns_qtype]}
        summary = f"DNS Answer  TTL: {ttl} (Proxy {query} {pkt.dns_qtype})"
    latency = pkt.sent - conn.t
    return {"type": "RESPONSE", "latency_ns": str(latency), "dns": dns}, summary


def _expand(conn: _Conn, r: _Renderer, rng: random.Random) -> list[tuple[int, str, dict]]:
    """The Hubble events of one connection, on every node that observes it."""
    c, s = conn.client, conn.server
    out: list[tuple[int, str, dict]] = []
    c_node = c.node if c.kind == "pod" else None
    s_node = s.node if s.kind == "pod" else None
    c_lxc = r.lxc[c.pod.name + "@" + c.pod.namespace] if c.pod else None
    s_lxc = r.lxc[s.pod.name + "@" + s.pod.namespace] if s.pod else None
    same_node = c_node is not None and c_node == s_node
    l7 = conn.traffic.l7_dns and c.kind == "pod"
    query = rng.choice(conn.traffic.queries) if conn.traffic.queries else ""

    def jitter() -> int:
        return rng.randint(1, 9) * _US + rng.randint(0, 999)

    def emit(pkt: _Pkt, t: int, node: str, point: str | None, **kw: object) -> None:
        event = kw.pop("event", None) or _trace(point)  # type: ignore[arg-type]
        out.append(_flow(r, conn, pkt, t, node, event=event, point=point, **kw))  # type: ignore[arg-type]

    def l7_record(pkt: _Pkt, t: int, node: str) -> None:
        rec, summary = _l7_dns(conn, pkt, query, rng)
        emit(
            pkt,
            t,
            node,
            None,
            event={"type": 129},
            direction="EGRESS",
            is_reply=not pkt.c2s,
            kind="L7",
            l7=rec,
            summary=summary,
        )

    verdict = {"type": 5}
    for pkt in _packets(conn, rng):
        t = pkt.sent
        if pkt.c2s:
            if c_node is not None:  # the client's node
                if pkt.first:
                    if l7:
                        emit(
                            pkt,
                            t,
                            c_node,
                            None,
                            event=verdict,
                            direction="EGRESS",
                            is_reply=False,
                            verdict="REDIRECTED",
                        )
                    else:
                        emit(
                            pkt,
                            t,
                            c_node,
                            "FROM_ENDPOINT",
                            direction="EGRESS",
                            is_reply=False,
                            interface=c_lxc,
                        )
                        t += jitter()
                        emit(
                            pkt, t, c_node, None, event=verdict, direction="EGRESS", is_reply=False
                        )
                    t += jitter()
                if l7:
                    emit(pkt, t, c_node, "TO_PROXY", direction="EGRESS", is_reply=False)
                    t += jitter() * 20
                    l7_record(pkt, t, c_node)
                    t += jitter() * 10
                if s_node is not None and not same_node:
                    emit(
                        pkt,
                        t,
                        c_node,
                        "TO_OVERLAY",
                        direction=None,
                        is_reply=None,
                        interface=_VXLAN,
                    )
                elif s_node is None:
                    emit(pkt, t, c_node, "TO_STACK", direction="EGRESS", is_reply=False)
            if s_node is not None:  # the server's node
                t = (t + jitter()) if same_node else max(pkt.arrives, t + jitter())
                if pkt.first and c.kind != "host":
                    emit(pkt, t, s_node, None, event=verdict, direction="INGRESS", is_reply=False)
                    t += jitter()
                emit(
                    pkt,
                    t,
                    s_node,
                    "TO_ENDPOINT",
                    direction="INGRESS",
                    is_reply=False,
                    interface=s_lxc,
                )
        else:
            if s_node is not None and not same_node:  # leaving the server's node
                if c_node is not None:
                    emit(
                        pkt,
                        t,
                        s_node,
                        "TO_OVERLAY",
                        direction=None,
                        is_reply=None,
                        interface=_VXLAN,
                    )
                else:
                    emit(pkt, t, s_node, "TO_STACK", direction="INGRESS", is_reply=True)
            if c_node is not None:  # delivered to the client
                t = (t + jitter()) if same_node else pkt.arrives
                if l7:
                    l7_record(pkt, t, c_node)
                    t += jitter()
                emit(
                    pkt,
                    t,
                    c_node,
                    "TO_ENDPOINT",
                    direction="EGRESS",
                    is_reply=True,
                    interface=c_lxc,
                )
    return out


def _meta_events(cluster: SimCluster, rng: random.Random) -> list[tuple[int, str, dict]]:
    """node_status at the start of each node's stream, and a few lost_events."""
    out: list[tuple[int, str, dict]] = []
    lo, hi = _ns(cluster.start), _ns(cluster.end)
    for node in cluster.nodes:
        out.append(
            (
                lo,
                node.name,
                {
                    "node_status": {"state_change": "NODE_CONNECTED", "node_names": [node.name]},
                    "node_name": node.name,
                    "time": _fmt_time(lo),
                },
            )
        )
        for _ in range(2):
            t = rng.randrange(lo + 60 * _S, hi)
            out.append(
                (
                    t,
                    node.name,
                    {
                        "lost_events": {
                            "source": "PERF_EVENT_RING_BUFFER",
                            "num_events_lost": str(rng.randint(1, 64)),
                            "cpu": rng.randint(0, 3),
                        },
                        "node_name": node.name,
                        "time": _fmt_time(t),
                    },
                )
            )
    return out


def hubble_records(cluster: SimCluster, *, seed: int = 7) -> Iterator[dict]:
    """``hubble observe -o json`` lines (as dicts) for the cluster's traffic, in time order.

    Flow lines are ``{"flow": {...}, "node_name": ..., "time": ...}``; a few lines are
    ``{"node_status": ...}`` or ``{"lost_events": ...}`` instead. Streaming: memory
    holds the connection plan and the events of connections still in flight.
    """
    rng = random.Random(seed * 104729 + 3)
    renderer = _Renderer(cluster, random.Random(seed * 15485863 + 5))
    heap: list[tuple[int, int, str, dict]] = []
    seq = 0
    for t, node, rec in _meta_events(cluster, rng):
        heapq.heappush(heap, (t, seq, node, rec))
        seq += 1
    for conn in _plan(cluster, seed):
        while heap and heap[0][0] < conn.t:
            yield heapq.heappop(heap)[3]
        for t, node, flow in _expand(conn, renderer, rng):
            heapq.heappush(
                heap, (t, seq, node, {"flow": flow, "node_name": node, "time": flow["time"]})
            )
            seq += 1
    while heap:
        yield heapq.heappop(heap)[3]


def _dumps(rec: dict) -> str:
    return json.dumps(rec, separators=(",", ":"))


def write_hubble(
    cluster: SimCluster,
    out_dir: Path,
    *,
    seed: int = 7,
    files_per_node: bool = True,
    gzip: bool = True,
) -> list[Path]:
    """Write the records as Hubble exporter files: ``hubble-<node>.jsonl[.gz]`` per node,
    or one ``hubble.jsonl[.gz]``. Gzip members have mtime 0 and no file name, so the
    output is byte-reproducible. Returns the paths, in node order."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = ".jsonl.gz" if gzip else ".jsonl"
    if files_per_node:
        paths = {n.name: out_dir / f"hubble-{n.name}{suffix}" for n in cluster.nodes}
    else:
        single = out_dir / f"hubble{suffix}"
        paths = {n.name: single for n in cluster.nodes}
    buffers: dict[Path, list[str]] = {p: [] for p in paths.values()}
    for rec in hubble_records(cluster, seed=seed):
        buffers[paths[rec["node_name"]]].append(_dumps(rec) + "\n")
    written = []
    for path, lines in buffers.items():
        data = "".join(lines).encode()
        tmp = path.with_name(path.name + ".tmp")
        if gzip:
            with (
                open(tmp, "wb") as raw,
                _gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as fh,
            ):
                fh.write(data)
        else:
            tmp.write_bytes(data)
        tmp.replace(path)
        written.append(path)
    return written


# ---------------------------------------------------------------------- README


def _md(text: object) -> str:
    return str(text).replace("|", "\\|")


def _file_stats(path: Path) -> dict[str, int]:
    opener = _gzip.open if path.suffix == ".gz" else open
    stats = dict.fromkeys(
        ("lines", "flows", "l7", "no_is_reply", "replies", "node_status", "lost_events", "bytes"),
        0,
    )
    with opener(path, "rb") as fh:
        for line in fh:
            stats["lines"] += 1
            stats["bytes"] += len(line)
            rec = json.loads(line)
            flow = rec.get("flow")
            if flow is None:
                key = "node_status" if "node_status" in rec else "lost_events"
                stats[key] += 1
                continue
            stats["flows"] += 1
            if flow.get("Type") == "L7":
                stats["l7"] += 1
            if "is_reply" not in flow:
                stats["no_is_reply"] += 1
            elif flow["is_reply"]:
                stats["replies"] += 1
    return stats


def sample_readme(cluster: SimCluster, files: Iterable[Path], *, seed: int, hours: float) -> str:
    """The README that documents a directory written by :func:`write_hubble`."""
    files = list(files)
    counts = connection_counts(cluster, seed=seed)
    hours_text = f"{hours:g}"
    lines = [
        "# sample_flows: a synthetic shop cluster seen by Cilium Hubble",
        "",
        "Generated by `recommender/simulate.py`; do not edit by hand. Regenerate with:",
        "",
        "```",
        f"python -m recommender.simulate sample_flows --seed {seed} --hours {hours_text}",
        "```",
        "",
        "The output is deterministic (same seed, same bytes once decompressed; gzip members "
        "have mtime 0). `tests/test_simulate.py` fails when these files are stale.",
        "",
        "Intended use: `netpol-recommender recommend sample_flows/ -o proposal/`; the "
        "ground-truth table at the end lists what a correct proposal must allow.",
        "",
        "## Files",
        "",
        "One Hubble exporter file per node (`hubble observe -o json` lines: "
        '`{"flow":{...},"node_name":...,"time":...}`), in time order. Columns: lines; flow '
        "lines; `Type: L7` flow lines; flow lines without `is_reply`; flow lines with "
        "`is_reply: true`; non-flow lines (`node_status` + `lost_events`); uncompressed bytes.",
        "",
        "| file | lines | flows | L7 | no is_reply | replies | non-flow | bytes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    total = dict.fromkeys(("lines", "flows", "l7", "no_is_reply", "replies", "meta", "bytes"), 0)
    for path in files:
        st = _file_stats(path)
        meta = st["node_status"] + st["lost_events"]
        lines.append(
            f"| `{path.name}` | {st['lines']} | {st['flows']} | {st['l7']} | "
            f"{st['no_is_reply']} | {st['replies']} | {meta} | {st['bytes']} |"
        )
        for k in ("lines", "flows", "l7", "no_is_reply", "replies", "bytes"):
            total[k] += st[k]
        total["meta"] += meta
    lines.append(
        f"| **total** | {total['lines']} | {total['flows']} | {total['l7']} | "
        f"{total['no_is_reply']} | {total['replies']} | {total['meta']} | {total['bytes']} |"
    )
    lines += [
        "",
        "## Cluster",
        "",
        f"Cluster `{cluster.name}` (the `io.cilium.k8s.policy.cluster` pseudo-label), "
        f"observed from {cluster.start:%Y-%m-%dT%H:%M:%SZ} to "
        f"{cluster.end:%Y-%m-%dT%H:%M:%SZ}.",
        "",
        "| node | IP | pod CIDR |",
        "|---|---|---|",
    ]
    lines += [f"| `{n.name}` | {n.ip} | {n.pod_cidr} |" for n in cluster.nodes]
    lines += ["", "| namespace | labels |", "|---|---|"]
    for ns, labels in cluster.namespaces.items():
        text = ", ".join(f"`{k}={v}`" for k, v in labels.items())
        lines.append(f"| `{ns}` | {_md(text)} |")
    lines += [
        "",
        "### Workloads and pods",
        "",
        "Labels are the Kubernetes API labels; those in *italics* never appear in Hubble "
        "(Cilium filters them out of identities).",
        "",
        "| workload | kind | pod | owner | node | IP | start | end |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in cluster.pods:
        end = f"{p.end:%Y-%m-%d %H:%M:%S}" if p.end else "running"
        lines.append(
            f"| `{p.workload}` | {p.workload_kind} | `{p.name}` | {p.owner_kind} "
            f"`{p.owner_name}` | {p.node} | {p.ip} | {p.start:%Y-%m-%d %H:%M:%S} | {end} |"
        )
    lines += ["", "| workload | labels | container ports | probed ports |", "|---|---|---|---|"]
    for wl in cluster.workloads():
        pod = cluster.pods_of(wl)[0]
        shown = []
        for k, v in pod.labels.items():
            if _identity_relevant(k):
                shown.append(f"`{k}={v}`")
            elif k not in ("statefulset.kubernetes.io/pod-name",):
                shown.append(f"*{k}*")
        ports = ", ".join(f"{n or '-'}:{port}/{proto}" for n, port, proto in pod.ports) or "-"
        probes = ", ".join(str(x) for x in pod.probe_ports) or "-"
        lines.append(f"| `{wl}` | {_md(', '.join(shown))} | {ports} | {probes} |")
    lines += [
        "",
        "### Services",
        "",
        "| service | type | cluster IP | selector | ports (port→target) |",
        "|---|---|---|---|---|",
    ]
    for svc in cluster.services:
        sel = ", ".join(f"`{k}={v}`" for k, v in svc.selector.items()) or "-"
        ports = ", ".join(f"{n}:{p}→{tp}/{proto}" for n, p, tp, proto in svc.ports)
        lines.append(
            f"| `{svc.namespace}/{svc.name}` | {svc.type} | {svc.cluster_ip} | {_md(sel)} | "
            f"{ports} |"
        )
    lines += ["", "### What is tricky", ""]
    lines += [f"- {note}" for note in cluster.notes]
    lines += [
        "- Each connection is seen at several observation points on both nodes; replies "
        "(`is_reply: true`) have swapped addresses and ports (`source_port` is the server's "
        "port).",
        "- `TO_OVERLAY` rows (pod-to-pod across nodes, both directions) have neither "
        "`is_reply` nor `traffic_direction`; many of them carry ACK-only flags, so their "
        "orientation is unknown. Rows of connections open before the window (keep-alive) "
        "have no SYN.",
        "- Kubelet probes come from `reserved:host` with the node IP; Internet clients are "
        "`reserved:world`; the API server is `reserved:kube-apiserver` at "
        f"{cluster.nodes[0].ip}:{_API_SERVER_PORT}, reached through Service "
        "`default/kubernetes`.",
        "- DNS from `shop/payments` goes through the Cilium DNS proxy: `REDIRECTED` policy "
        "verdicts, `TO_PROXY` rows and `Type: L7` DNS records; its external peers carry "
        "`destination_names` (`source_names` on replies).",
        "- `workloads` is missing on StatefulSet pods (postgres, prometheus): fall back to "
        "pod names or an inventory.",
        "- CoreDNS itself sends DNS upstream to "
        f"{_UPSTREAM_DNS}:53/UDP (`reserved:world`); Prometheus scrapes pod IPs directly "
        "(no `destination_service`), other pod traffic goes through Services.",
        "- Only requests are ground truth: no rule should come from a reply, a `TO_OVERLAY` "
        "row on its own, a source port, or an `L7` record.",
        "",
        "## Ground truth: connections",
        "",
        f"{len(cluster.edges)} edges (client → server, requests only). `node` = a node "
        "address (kubelet probe from the pod's own node, or LoadBalancer traffic SNATed by "
        "another node); an IP = an external peer. `connections` = connections emitted.",
        "",
        "| # | source | destination | protocol | port | connections |",
        "|---:|---|---|---|---:|---:|",
    ]
    for i, edge in enumerate(cluster.edges, 1):
        lines.append(
            f"| {i} | `{edge.src}` | `{edge.dst}` | {edge.protocol} | {edge.port} | "
            f"{counts[edge]} |"
        )
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------- CLI


def kubectl_inventory(cluster: SimCluster, *, at: datetime | None = None) -> dict:
    """The cluster as `kubectl get namespaces,nodes,pods,replicasets,jobs -A -o json` would
    print it at ``at`` (default: the end of the window): one ``List``.

    Pods that ended before ``at`` are gone, as in a real snapshot; Job pods stay (Completed).
    """
    at = at or cluster.end
    items: list[dict] = []
    for name, labels in sorted(cluster.namespaces.items()):
        items.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name, "labels": dict(sorted(labels.items()))},
            }
        )
    for node in cluster.nodes:
        items.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": node.name},
                "spec": {"podCIDR": node.pod_cidr},
                "status": {
                    "addresses": [
                        {"type": "InternalIP", "address": node.ip},
                        {"type": "Hostname", "address": node.name},
                    ]
                },
            }
        )
    owners: dict[tuple[str, str, str], tuple[str, str]] = {}
    for pod in cluster.pods:
        if pod.owner_kind in ("ReplicaSet", "Job") and pod.workload_kind in (
            "Deployment",
            "CronJob",
        ):
            owners[(pod.namespace, pod.owner_kind, pod.owner_name)] = (
                pod.workload_kind,
                pod.workload_name,
            )
    for (namespace, kind, name), (okind, oname) in sorted(owners.items()):
        items.append(
            {
                "apiVersion": "apps/v1" if kind == "ReplicaSet" else "batch/v1",
                "kind": kind,
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "ownerReferences": [{"kind": okind, "name": oname, "controller": True}],
                },
            }
        )
    for pod in cluster.pods:
        finished_job = pod.owner_kind == "Job" and pod.start <= at
        if not (pod.alive(at) or finished_job):
            continue
        ports = [
            {"containerPort": number, "protocol": proto, **({"name": name} if name else {})}
            for name, number, proto in pod.ports
        ]
        owner_kind = pod.owner_kind or pod.workload_kind
        owner_name = pod.owner_name or pod.workload_name
        items.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": pod.name,
                    "namespace": pod.namespace,
                    "labels": dict(sorted(pod.labels.items())),
                    "ownerReferences": [
                        {"kind": owner_kind, "name": owner_name, "controller": True}
                    ],
                },
                "spec": {
                    "nodeName": pod.node,
                    "serviceAccountName": pod.service_account,
                    "containers": [{"name": "main", "ports": ports}],
                },
                "status": {
                    "phase": "Running" if pod.alive(at) else "Succeeded",
                    "podIP": pod.ip,
                    "podIPs": [{"ip": pod.ip}],
                    "hostIP": cluster.node(pod.node).ip,
                },
            }
        )
    return {"apiVersion": "v1", "kind": "List", "items": items}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recommender.simulate",
        description="Write synthetic Hubble flow logs of the sample shop cluster.",
    )
    parser.add_argument("out_dir", type=Path, help="output directory")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--hours", type=float, default=6.0, help="window length (default 6)")
    parser.add_argument("--single-file", action="store_true", help="one file for all nodes")
    parser.add_argument("--no-gzip", action="store_true", help="write plain .jsonl")
    parser.add_argument("--no-readme", action="store_true", help="do not write README.md")
    args = parser.parse_args(argv)
    try:
        cluster = shop_cluster(args.seed, hours=args.hours)
        paths = write_hubble(
            cluster,
            args.out_dir,
            seed=args.seed,
            files_per_node=not args.single_file,
            gzip=not args.no_gzip,
        )
        if not args.no_readme:
            text = sample_readme(cluster, paths, seed=args.seed, hours=args.hours)
            (args.out_dir / "README.md").write_text(text, encoding="utf-8")
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
