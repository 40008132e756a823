"""More synthetic apps for benchmarks, built from the blocks of :mod:`recommender.simulate`.

Every function returns a :class:`~recommender.simulate.SimCluster` that renders through
:func:`~recommender.simulate.hubble_records` / :func:`~recommender.simulate.write_hubble`
unchanged. All are deterministic for a given seed, and each holds at least one rollout of
a Deployment in the second half of the window (a new ReplicaSet: new ``pod-template-hash``,
new pods, new IPs, usually a new ``version`` label; the old pods end), so that a proposal
learned from the first half can be tested on the second.

* :func:`small_app`: one app namespace (web, api, cache, db) plus CoreDNS.
* :func:`shop_app`: :func:`~recommender.simulate.shop_cluster` (rollout of ``shop/cart``
  at 45% of the window, the ``catalog`` canary, the ``report`` CronJob) with two more
  rollouts in the second half (``shop/frontend`` and ``shop/checkout``).
* :func:`large_app`: many namespaces of many workloads with shared labels (``tier``,
  ``team``, ``part-of``, workload names reused across namespaces), a canary pair sharing
  its name label, StatefulSets, a CronJob, DNS, external APIs, Internet clients to a front
  door, Prometheus scraping every workload, and one rollout per app namespace.

``APPS`` maps names to the builders; every builder takes ``(seed, *, hours=...)``.
"""

from __future__ import annotations

import ipaddress
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from .simulate import (
    _API_SERVER_PORT,
    _EPOCH,
    _UPSTREAM_DNS,
    DEFAULT_START,
    EdgeTraffic,
    SimCluster,
    SimEdge,
    SimNode,
    SimPod,
    SimService,
    _Allocator,
    _public_ip,
    _suffix,
    _workload_pods,
    _WorkloadSpec,
    shop_cluster,
)

__all__ = [
    "APPS",
    "large_app",
    "rollout",
    "rollouts",
    "shop_app",
    "small_app",
]

_HASH_KEY = "pod-template-hash"
_DNS = "kube-system/coredns"
_COREDNS = _WorkloadSpec(
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


# --------------------------------------------------------------------------- blocks


def _nodes(prefix: str, workers: int) -> list[SimNode]:
    """A kind-like cluster: one control plane, ``workers`` workers, a /24 of pods each."""
    nodes = [SimNode(f"{prefix}-control-plane", "172.18.0.2", "10.244.0.0/24")]
    for i in range(1, workers + 1):
        suffix = "" if i == 1 else str(i)
        nodes.append(SimNode(f"{prefix}-worker{suffix}", f"172.18.0.{i + 2}", f"10.244.{i}.0/24"))
    return nodes


def _allocator(rng: random.Random, cluster_nodes: Sequence[SimNode], pods: Sequence[SimPod]):
    """An allocator that knows the IPs ``pods`` already hold."""
    alloc = _Allocator(rng, cluster_nodes)
    for pod in pods:
        net = alloc.nets[pod.node]
        alloc.used[pod.node].add(int(ipaddress.ip_address(pod.ip)) - int(net.network_address))
    return alloc


def _cronjob_pods(
    namespace: str,
    name: str,
    labels: dict[str, str],
    *,
    minute: int,
    every_minutes: int,
    start: datetime,
    end: datetime,
    nodes: Sequence[SimNode],
    alloc: _Allocator,
    rng: random.Random,
    service_account: str,
) -> list[SimPod]:
    """One Job (one pod) per scheduled run inside the window; each Job's pod carries
    ``job-name`` and ``controller-uid`` (a new identity per run)."""
    workers = [n.name for n in nodes[1:]] or [nodes[0].name]
    pods = []
    slot = start.replace(minute=0, second=0, microsecond=0) + timedelta(minutes=minute)
    while slot < end:
        if slot >= start:
            job = f"{name}-{int((slot - _EPOCH).total_seconds()) // 60}"
            uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            node = rng.choice(workers)
            pod_start = slot + timedelta(seconds=rng.randint(1, 4))
            pods.append(
                SimPod(
                    namespace=namespace,
                    name=f"{job}-{_suffix(rng, 5)}",
                    workload_kind="CronJob",
                    workload_name=name,
                    labels={
                        **labels,
                        "batch.kubernetes.io/controller-uid": uid,
                        "batch.kubernetes.io/job-name": job,
                        "controller-uid": uid,
                        "job-name": job,
                    },
                    ip=alloc.ip(node),
                    node=node,
                    start=pod_start,
                    end=min(pod_start + timedelta(seconds=rng.randint(150, 330)), end),
                    ports=(),
                    service_account=service_account,
                    owner_kind="Job",
                    owner_name=job,
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
        new_hash = _suffix(rng, rng.choice((8, 9, 10)))
    base = {k: v for k, v in old[0].labels.items() if k != _HASH_KEY}
    new_labels = {**base, **(labels or {}), _HASH_KEY: new_hash}
    spec = old[0]
    owner = f"{spec.workload_name}-{new_hash}"
    alloc = _allocator(rng, cluster.nodes, cluster.pods)
    ended = {p.name: replace(p, end=at + timedelta(seconds=50 * i + 35)) for i, p in enumerate(old)}
    nodes = [p.node for p in old]
    shift = rng.randrange(len(nodes))
    fresh = []
    for i in range(len(old)):
        node = nodes[(shift + i) % len(nodes)]
        fresh.append(
            replace(
                spec,
                name=f"{owner}-{_suffix(rng, 5)}",
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


class _Services:
    """ClusterIP Services with unique addresses."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used = {"10.96.0.1", "10.96.0.10"}
        self.items = [
            SimService("default", "kubernetes", "10.96.0.1", {}, (("https", 443, 6443, "TCP"),)),
            SimService(
                "kube-system",
                "kube-dns",
                "10.96.0.10",
                {"k8s-app": "kube-dns"},
                (
                    ("dns", 53, 53, "UDP"),
                    ("dns-tcp", 53, 53, "TCP"),
                    ("metrics", 9153, 9153, "TCP"),
                ),
            ),
        ]

    def add(
        self,
        namespace: str,
        name: str,
        selector: dict[str, str],
        ports: tuple[tuple[str | None, int, int, str], ...],
        type: str = "ClusterIP",
    ) -> None:
        ip = "10.96.0.1"
        while ip in self.used:
            ip = f"10.96.{self.rng.randint(1, 254)}.{self.rng.randint(2, 254)}"
        self.used.add(ip)
        self.items.append(SimService(namespace, name, ip, selector, ports, type))


def _clients(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        ip = _public_ip(rng)
        if ip not in out:
            out.append(ip)
    return out


def _dns_traffic(count: int, queries: tuple[str, ...] = (), minimum: int = 3) -> EdgeTraffic:
    return EdgeTraffic(
        count=count,
        style="dns",
        service=("kube-system", "kube-dns"),
        queries=queries,
        minimum=minimum,
    )


def _window(hours: float) -> tuple[datetime, datetime]:
    if hours <= 0:
        raise ValueError("hours must be positive")
    return DEFAULT_START, DEFAULT_START + timedelta(seconds=round(hours * 3600))


def _at(start: datetime, end: datetime, share: float) -> datetime:
    return start + timedelta(seconds=round((end - start).total_seconds() * share))


def _probe_edges(cluster: SimCluster, edges: dict[SimEdge, EdgeTraffic]) -> None:
    """Kubelet probes from each pod's own node."""
    for wl in cluster.workloads():
        pods = cluster.pods_of(wl)
        for port in pods[0].probe_ports:
            edges[SimEdge("node", wl, "TCP", port)] = EdgeTraffic(
                count=10 * len(pods), style="probe"
            )


# ----------------------------------------------------------------------------- apps


def small_app(seed: int = 7, *, hours: float = 2.0) -> SimCluster:
    """One namespace ``blog`` (web, api, cache, db) behind a LoadBalancer, CoreDNS, a
    handful of Internet clients, and a rollout of ``blog/api`` at 70% of the window."""
    rng = random.Random(f"small-app-{seed}")
    start, end = _window(hours)
    nodes = _nodes("blog", 2)
    alloc = _Allocator(rng, nodes)
    part = {"app.kubernetes.io/part-of": "blog"}
    specs = [
        _WorkloadSpec(
            "blog",
            "web",
            "Deployment",
            2,
            "web",
            {"app.kubernetes.io/name": "web", **part, "tier": "web", "version": "1.4.0"},
            (("http", 8080, "TCP"), ("metrics", 9090, "TCP")),
            (8080,),
            "workers",
        ),
        _WorkloadSpec(
            "blog",
            "api",
            "Deployment",
            2,
            "api",
            {"app.kubernetes.io/name": "api", **part, "tier": "backend", "version": "2.0.1"},
            (("http", 8080, "TCP"), ("metrics", 9090, "TCP")),
            (8080,),
            "workers",
        ),
        _WorkloadSpec(
            "blog",
            "cache",
            "Deployment",
            1,
            "default",
            {"app.kubernetes.io/name": "cache", **part, "tier": "backend"},
            (("redis", 6379, "TCP"),),
            (6379,),
            "workers",
        ),
        _WorkloadSpec(
            "blog",
            "db",
            "StatefulSet",
            1,
            "db",
            {"app.kubernetes.io/name": "db", **part, "tier": "db"},
            (("postgres", 5432, "TCP"),),
            (5432,),
            "workers",
        ),
        _COREDNS,
    ]
    pods = _workload_pods(specs, nodes, alloc, rng, start)
    services = _Services(rng)
    services.add(
        "blog",
        "web",
        {"app.kubernetes.io/name": "web"},
        (("http", 80, 8080, "TCP"),),
        "LoadBalancer",
    )
    services.add("blog", "api", {"app.kubernetes.io/name": "api"}, (("http", 80, 8080, "TCP"),))
    services.add(
        "blog", "cache", {"app.kubernetes.io/name": "cache"}, (("redis", 6379, 6379, "TCP"),)
    )
    services.add("blog", "db", {"app.kubernetes.io/name": "db"}, (("pg", 5432, 5432, "TCP"),))
    cluster = SimCluster(
        name="kind-blog",
        nodes=nodes,
        pods=pods,
        namespaces={
            "blog": {"kubernetes.io/metadata.name": "blog", "team": "content"},
            "kube-system": {"kubernetes.io/metadata.name": "kube-system"},
        },
        edges=[],
        start=start,
        end=end,
        services=services.items,
    )
    edges: dict[SimEdge, EdgeTraffic] = {}
    for ip in _clients(rng, 8):
        edges[SimEdge(ip, "blog/web", "TCP", 8080)] = EdgeTraffic(count=rng.randint(4, 8))
    edges[SimEdge("node", "blog/web", "TCP", 8080)] = EdgeTraffic(count=6, style="snat")
    edges[SimEdge("blog/web", "blog/api", "TCP", 8080)] = EdgeTraffic(
        count=40, service=("blog", "api"), keepalive=True
    )
    edges[SimEdge("blog/api", "blog/cache", "TCP", 6379)] = EdgeTraffic(
        count=30, service=("blog", "cache")
    )
    edges[SimEdge("blog/api", "blog/db", "TCP", 5432)] = EdgeTraffic(
        count=25, service=("blog", "db")
    )
    edges[SimEdge("blog/web", _DNS, "UDP", 53)] = _dns_traffic(15, ("api.blog.svc.cluster.local.",))
    edges[SimEdge("blog/api", _DNS, "UDP", 53)] = _dns_traffic(
        20, ("cache.blog.svc.cluster.local.", "db.blog.svc.cluster.local.")
    )
    edges[SimEdge(_DNS, _UPSTREAM_DNS, "UDP", 53)] = EdgeTraffic(count=8, style="dns")
    _probe_edges(cluster, edges)
    cluster.edges, cluster.traffic = list(edges), edges
    at = _at(start, end, 0.7)
    rollout(cluster, "blog/api", at, rng, labels={"version": "2.1.0"})
    cluster.notes = [
        f"`blog/api` is rolled out at {at:%H:%M:%S} UTC (version 2.0.1 -> 2.1.0).",
        "`blog/web` is exposed by a LoadBalancer Service; part of its Internet traffic is "
        "SNATed by the other node.",
    ]
    return cluster


def shop_app(seed: int = 7, *, hours: float = 6.0) -> SimCluster:
    """:func:`~recommender.simulate.shop_cluster` plus rollouts of ``shop/frontend`` (at
    62%) and ``shop/checkout`` (at 80%), both with a version bump."""
    cluster = shop_cluster(seed, hours=hours)
    rng = random.Random(f"shop-app-{seed}")
    plan = (
        ("shop/frontend", 0.62, {"version": "v1.9.0"}),
        ("shop/checkout", 0.80, {"version": "v1.5.0"}),
    )
    for workload, share, labels in plan:
        at = _at(cluster.start, cluster.end, share)
        rollout(cluster, workload, at, rng, labels=labels)
        cluster.notes.append(
            f"`{workload}` is rolled out at {at:%H:%M:%S} UTC (new ReplicaSet, "
            f"version -> {labels['version']})."
        )
    return cluster


_NAMESPACE_NAMES = (
    "storefront",
    "orders",
    "billing",
    "identity",
    "search",
    "logistics",
    "analytics",
    "support",
)
_TEAMS = ("commerce", "commerce", "payments", "platform", "discovery", "ops")
# (role, kind, replicas, service port (name, port), metrics port, tier)
_ROLES = (
    ("gateway", "Deployment", 2, ("http", 8080), 9090, "web"),
    ("api", "Deployment", 3, ("http", 8080), 9090, "backend"),
    ("worker", "Deployment", 2, None, 9090, "backend"),
    ("db", "StatefulSet", 2, ("tcp-postgresql", 5432), 9187, "db"),
    ("cache", "Deployment", 1, ("redis", 6379), 9121, "cache"),
    ("queue", "StatefulSet", 1, ("amqp", 5672), 15692, "data"),
    ("auth", "Deployment", 2, ("grpc", 9000), 9090, "backend"),
    ("search", "Deployment", 2, ("http", 9200), 9090, "backend"),
)
_FRONT_DOOR = "edge/envoy"
_PROMETHEUS = "monitoring/prometheus"
_EXTERNAL_APIS = (
    ("93.184.216.34", "api.payments.example.com"),
    ("151.101.1.69", "fraud-check.example.net"),
    ("52.216.8.21", "exports.s3.amazonaws.com"),
    ("140.82.112.3", "api.github.com"),
)


def _role_name(index: int) -> str:
    if index < len(_ROLES):
        return _ROLES[index][0]
    return f"svc{index - len(_ROLES) + 1}"


def _role(index: int) -> tuple[str, str, int, tuple[str, int] | None, int, str]:
    if index < len(_ROLES):
        return _ROLES[index]
    return (_role_name(index), "Deployment", 2, ("http", 8080), 9090, "backend")


def large_app(
    seed: int = 7, *, hours: float = 3.0, namespaces: int = 6, workloads_per_ns: int = 8
) -> SimCluster:
    """``namespaces`` app namespaces of ``workloads_per_ns`` workloads each, plus the front
    door (``edge/envoy``), CoreDNS and Prometheus.

    Traps: workload names (``api``, ``db``…) repeat in every namespace; ``tier``, ``team``
    and ``app.kubernetes.io/part-of`` are shared across workloads and namespaces; odd
    namespaces use the legacy ``app`` label instead of ``app.kubernetes.io/*``; in the
    second namespace (``orders``) ``api`` and ``api-canary`` share ``app=api`` and
    Service ``api`` and differ by ``track`` and ``version``; ``db`` and ``queue`` are
    StatefulSets; a CronJob runs hourly in the first namespace; the first namespaces
    call external APIs; every app namespace's ``gateway`` is rolled out once in the second
    half of the window (version bump), and so is the canary's stable ``api``.
    """
    if namespaces < 1 or workloads_per_ns < 2:
        raise ValueError("need namespaces >= 1 and workloads_per_ns >= 2")
    rng = random.Random(f"large-app-{seed}-{namespaces}-{workloads_per_ns}")
    start, end = _window(hours)
    app_ns = [
        _NAMESPACE_NAMES[i] if i < len(_NAMESPACE_NAMES) else f"team{i}" for i in range(namespaces)
    ]
    expected_pods = namespaces * workloads_per_ns * 2 + 8
    nodes = _nodes("large", max(3, -(-expected_pods // 60)))
    alloc = _Allocator(rng, nodes)
    ns_labels = {
        "edge": {"kubernetes.io/metadata.name": "edge", "team": "platform", "env": "prod"},
        "kube-system": {"kubernetes.io/metadata.name": "kube-system"},
        "monitoring": {"kubernetes.io/metadata.name": "monitoring", "team": "platform"},
    }
    specs: list[_WorkloadSpec] = [
        _WorkloadSpec(
            "edge",
            "envoy",
            "Deployment",
            3,
            "envoy",
            {
                "app.kubernetes.io/name": "envoy",
                "app.kubernetes.io/component": "proxy",
                "app.kubernetes.io/part-of": "gateway",
                "tier": "web",
            },
            (("https", 8443, "TCP"), ("http", 8080, "TCP"), ("admin", 9901, "TCP")),
            (9901,),
            "any",
        ),
        _COREDNS,
        _WorkloadSpec(
            "monitoring",
            "prometheus",
            "StatefulSet",
            1,
            "prometheus",
            {
                "app.kubernetes.io/name": "prometheus",
                "app.kubernetes.io/part-of": "kube-prometheus",
            },
            (("web", 9090, "TCP"),),
            (9090,),
            "any",
        ),
    ]
    services = _Services(rng)
    services.add(
        "edge",
        "envoy",
        {"app.kubernetes.io/name": "envoy"},
        (("https", 443, 8443, "TCP"), ("http", 80, 8080, "TCP")),
        "LoadBalancer",
    )
    # workload -> (service namespace, service name, port) for callers, metrics port
    serves: dict[str, tuple[str, str, int]] = {}
    metrics: dict[str, int] = {}
    # The canary pair lives in the first namespace with legacy labels: it shares ``app``.
    canary_ns = app_ns[1] if len(app_ns) > 1 else app_ns[0]
    canary = f"{canary_ns}/api-canary"
    for i, ns in enumerate(app_ns):
        team = _TEAMS[i % len(_TEAMS)]
        ns_labels[ns] = {
            "kubernetes.io/metadata.name": ns,
            "team": team,
            "env": "prod" if i % 3 else "prod-eu",
        }
        legacy = i % 2 == 1
        for j in range(workloads_per_ns):
            role, kind, replicas, port, metric, tier = _role(j)
            if legacy:
                labels = {"app": role, "tier": tier, "team": team, "part-of": ns}
            else:
                labels = {
                    "app.kubernetes.io/name": role,
                    "app.kubernetes.io/instance": f"{ns}-{role}",
                    "app.kubernetes.io/part-of": ns,
                    "tier": tier,
                    "team": team,
                }
            if kind == "Deployment":
                labels["version"] = f"{1 + (i + j) % 3}.{(i * 7 + j) % 10}.0"
            is_stable = ns == canary_ns and role == "api"
            if is_stable:  # the canary pair: same name label and Service, ``track`` differs
                labels["track"] = "stable"
            ports: list[tuple[str | None, int, str]] = []
            if port is not None:
                ports.append((port[0], port[1], "TCP"))
            ports.append(("metrics", metric, "TCP"))
            probe = (port[1] if port is not None else metric,)
            spec = _WorkloadSpec(
                ns, role, kind, replicas, role, labels, tuple(ports), probe, "workers"
            )
            specs.append(spec)
            wl = f"{ns}/{role}"
            metrics[wl] = metric
            name_key = "app" if legacy else "app.kubernetes.io/name"
            if port is not None:
                serves[wl] = (ns, role, port[1])
                services.add(ns, role, {name_key: role}, ((port[0], port[1], port[1], "TCP"),))
            if is_stable:
                canary_labels = {**labels, "track": "canary", "version": "2.0.0-rc.1"}
                specs.append(replace(spec, name="api-canary", replicas=1, labels=canary_labels))
                serves[canary] = serves[wl]
                metrics[canary] = metric
    pods = _workload_pods(specs, nodes, alloc, rng, start)
    cron_ns = app_ns[0]
    cron_labels = {
        "app.kubernetes.io/name": "reindex",
        "app.kubernetes.io/part-of": cron_ns,
        "tier": "backend",
        "team": _TEAMS[0],
    }
    pods += _cronjob_pods(
        cron_ns,
        "reindex",
        cron_labels,
        minute=15,
        every_minutes=60,
        start=start,
        end=end,
        nodes=nodes,
        alloc=alloc,
        rng=rng,
        service_account="reindex",
    )
    cluster = SimCluster(
        name="kind-large",
        nodes=nodes,
        pods=pods,
        namespaces=ns_labels,
        edges=[],
        start=start,
        end=end,
        services=services.items,
    )
    edges: dict[SimEdge, EdgeTraffic] = {}
    workloads = set(cluster.workloads())

    def call(src: str, dst: str, count: int, **kw: object) -> None:
        ns, name, port = serves[dst]
        edges[SimEdge(src, dst, "TCP", port)] = EdgeTraffic(
            count=count,
            service=(ns, name),
            **kw,  # type: ignore[arg-type]
        )

    def has(ns: str, role: str) -> bool:
        return f"{ns}/{role}" in workloads

    # Internet clients -> the front door; part of it SNATed by another node.
    for k, ip in enumerate(_clients(rng, 40)):
        edges[SimEdge(ip, _FRONT_DOOR, "TCP", 8443)] = EdgeTraffic(
            count=rng.randint(3, 6), minimum=2
        )
        if k % 5 == 0:
            edges[SimEdge(ip, _FRONT_DOOR, "TCP", 8080)] = EdgeTraffic(count=2, minimum=2)
    edges[SimEdge("node", _FRONT_DOOR, "TCP", 8443)] = EdgeTraffic(count=12, style="snat")
    # The request paths, namespace by namespace.
    for i, ns in enumerate(app_ns):
        call(_FRONT_DOOR, f"{ns}/gateway", 40, keepalive=True)
        for role in ("api", "auth", "search"):
            if has(ns, role):
                call(f"{ns}/gateway", f"{ns}/{role}", 30 if role == "api" else 15)
        if ns == canary_ns and canary in workloads:
            call(f"{ns}/gateway", canary, 10)
        for role in ("db", "cache", "queue"):
            if has(ns, role):
                call(f"{ns}/api", f"{ns}/{role}", 25)
                if ns == canary_ns and canary in workloads:
                    call(canary, f"{ns}/{role}", 8)
        for role in ("queue", "db"):
            if has(ns, "worker") and has(ns, role):
                call(f"{ns}/worker", f"{ns}/{role}", 15)
        for j in range(len(_ROLES), workloads_per_ns):
            extra = f"{ns}/{_role_name(j)}"
            call(f"{ns}/api", extra, 12)
            if has(ns, "db"):
                call(extra, f"{ns}/db", 10)
        # Cross-namespace: each api calls the next namespace's api, everyone's auth is the
        # identity namespace's when there is one.
        if i + 1 < len(app_ns) and has(app_ns[i + 1], "api"):
            call(f"{ns}/api", f"{app_ns[i + 1]}/api", 12)
        if i != 3 and len(app_ns) > 3 and has(app_ns[3], "auth") and has(ns, "api"):
            call(f"{ns}/api", f"{app_ns[3]}/auth", 10)
    # External APIs.
    if has(app_ns[0], "api"):
        for ip, host in _EXTERNAL_APIS[:2]:
            edges[SimEdge(f"{app_ns[0]}/api", ip, "TCP", 443)] = EdgeTraffic(
                count=10, names=(host,)
            )
    if len(app_ns) > 1 and has(app_ns[1], "worker"):
        ip, host = _EXTERNAL_APIS[2]
        edges[SimEdge(f"{app_ns[1]}/worker", ip, "TCP", 443)] = EdgeTraffic(count=8, names=(host,))
    if len(app_ns) > 2 and has(app_ns[2], "worker"):
        ip, host = _EXTERNAL_APIS[3]
        edges[SimEdge(f"{app_ns[2]}/worker", ip, "TCP", 443)] = EdgeTraffic(count=6, names=(host,))
    # The CronJob: reads the db, calls the api, exports to a bucket.
    cron = f"{cron_ns}/reindex"
    if cron in workloads:
        if has(cron_ns, "db"):
            call(cron, f"{cron_ns}/db", 4, minimum=2)
        call(cron, f"{cron_ns}/gateway", 3, minimum=2)
        ip, host = _EXTERNAL_APIS[2]
        edges[SimEdge(cron, ip, "TCP", 443)] = EdgeTraffic(count=3, minimum=2, names=(host,))
    # Prometheus scrapes every workload's metrics port, pod by pod (no Service).
    edges[SimEdge(_PROMETHEUS, _FRONT_DOOR, "TCP", 9901)] = EdgeTraffic(count=8, keepalive=True)
    edges[SimEdge(_PROMETHEUS, _DNS, "TCP", 9153)] = EdgeTraffic(count=8, keepalive=True)
    for wl in sorted(metrics):
        if wl in workloads:
            edges[SimEdge(_PROMETHEUS, wl, "TCP", metrics[wl])] = EdgeTraffic(
                count=8, keepalive=True
            )
    # Controllers watching the API server.
    api_server = nodes[0].ip
    for src in (_PROMETHEUS, _FRONT_DOOR, _DNS):
        edges[SimEdge(src, api_server, "TCP", _API_SERVER_PORT)] = EdgeTraffic(
            count=6, service=("default", "kubernetes"), keepalive=True
        )
    # DNS: every pod workload that opens connections asks CoreDNS.
    clients = sorted({e.src for e in edges if "/" in e.src and e.src != _DNS})
    for src in clients:
        ns = src.split("/")[0]
        targets = sorted(
            {
                f"{serves[e.dst][1]}.{serves[e.dst][0]}.svc.cluster.local."
                for e in edges
                if e.src == src and e.dst in serves
            }
        )
        edges[SimEdge(src, _DNS, "UDP", 53)] = _dns_traffic(
            10 if src != cron else 4, tuple(targets), minimum=3 if src != cron else 2
        )
        if src.endswith("/api") and ns == app_ns[0]:
            edges[SimEdge(src, _DNS, "TCP", 53)] = EdgeTraffic(
                count=3, service=("kube-system", "kube-dns"), minimum=2
            )
    edges[SimEdge(_DNS, _UPSTREAM_DNS, "UDP", 53)] = EdgeTraffic(count=20, style="dns")
    _probe_edges(cluster, edges)
    cluster.edges, cluster.traffic = list(edges), edges
    # Rollouts in the second half: each gateway (version bump), then the stable api.
    notes = []
    for i, ns in enumerate(app_ns):
        wl = f"{ns}/gateway"
        at = _at(start, end, 0.55 + 0.35 * i / max(1, len(app_ns)))
        version = next(p for p in cluster.pods_of(wl)).labels["version"]
        major, minor, _ = version.split(".")
        rollout(cluster, wl, at, rng, labels={"version": f"{major}.{int(minor) + 1}.0"})
        notes.append(f"`{wl}` is rolled out at {at:%H:%M:%S} UTC (version bump).")
    api = f"{canary_ns}/api"
    if api in workloads:
        at = _at(start, end, 0.75)
        rollout(cluster, api, at, rng, labels={"version": "2.0.0"})
        notes.append(f"`{api}` (track=stable) is rolled out at {at:%H:%M:%S} UTC to 2.0.0.")
    cluster.notes = [
        "Workload names repeat in every namespace; odd namespaces use the legacy `app` "
        "label; `tier`, `team` and `app.kubernetes.io/part-of` are shared.",
        f"`{api}` and `{canary}` share their name label and Service `api`; they differ "
        "by `track` and `version`.",
        f"CronJob `{cron}` runs hourly; each Job pod has its own `job-name`/`controller-uid`.",
        *notes,
    ]
    return cluster


#: App name -> builder ``(seed, *, hours=...) -> SimCluster``.
APPS: dict[str, Callable[..., SimCluster]] = {
    "small": small_app,
    "shop": shop_app,
    "large": large_app,
}
