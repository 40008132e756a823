"""The sample microservice shop (``sample_flows/``): 3 nodes, 5 namespaces, a rollout, a
canary and a CronJob, with Internet clients, external APIs, DNS through CoreDNS (some of it
through the Cilium DNS proxy), Prometheus scrapes and kubelet probes.

The random draws happen in a fixed order: ``sample_flows/`` is pinned by the seed, and
``tests/sim/test_sample.py`` fails when an edit changes a byte.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

from .clock import window
from .cluster import EdgeTraffic, SimCluster, SimEdge, SimNode, SimPod, SimService, probe_edges
from .network import (
    API_SERVER_PORT,
    UPSTREAM_DNS,
    Allocator,
    cluster_ip,
    kind_nodes,
    public_ips,
    system_services,
)
from .workloads import COREDNS, WorkloadSpec, job_name, job_pod, name_suffix, workload_pods

__all__ = ["GRPC_PORT", "PAYMENT_APIS", "REPORT_BUCKET", "shop_cluster"]

_SHOP = {"app.kubernetes.io/part-of": "shop"}

_SHOP_WORKLOADS = (
    WorkloadSpec(
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
    WorkloadSpec(
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
    WorkloadSpec(
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
    WorkloadSpec(
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
    WorkloadSpec(
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
    WorkloadSpec(
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
    WorkloadSpec(
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
    WorkloadSpec(
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
    WorkloadSpec(
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
    COREDNS,
    WorkloadSpec(
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

#: Where ``shop_cluster(grpc=True)``'s gRPC service listens: above 32768, like its clients.
GRPC_PORT = 50051
_GRPC_WORKLOAD = WorkloadSpec(
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
#: External APIs ``shop/payments`` calls (address, DNS name), through the DNS proxy.
PAYMENT_APIS = (
    ("93.184.216.34", "api.payments.example.com"),
    ("151.101.1.69", "fraud-check.example.net"),
)
#: The bucket the ``shop/report`` CronJob exports to (address, DNS name).
REPORT_BUCKET = ("52.216.8.21", "shop-reports.s3.amazonaws.com")
_INGRESS = "ingress-nginx/ingress-nginx-controller"
_DNS = "kube-system/coredns"
_Edges = dict[SimEdge, EdgeTraffic]


def shop_cluster(seed: int = 7, *, hours: float = 6.0, grpc: bool = False) -> SimCluster:
    """The sample microservice shop: 3 nodes, 5 namespaces, a rollout, a canary and a
    CronJob. ``hours`` sets the observation window (it starts at 2025-11-05 06:00 UTC).

    ``grpc``: add ``shop/recommendations``, a gRPC service listening on
    :data:`GRPC_PORT` (inside the Linux ephemeral range, so a log without TCP flags cannot
    tell its server from its clients by port) and called by ``shop/frontend``. Without it
    the random draws, hence ``sample_flows/``, are those of the plain shop.
    """
    start, end = window(hours)
    rng = random.Random(seed)
    nodes = kind_nodes("shop", 2)
    alloc = Allocator(rng, nodes)
    namespaces = {
        ns: {"kubernetes.io/metadata.name": ns, **extra} for ns, extra in _NAMESPACES.items()
    }
    rollout_at = start + timedelta(seconds=round(hours * 3600 * 0.45))
    rollouts = {("shop", "cart"): rollout_at}
    specs = (*_SHOP_WORKLOADS, _GRPC_WORKLOAD) if grpc else _SHOP_WORKLOADS
    pods = workload_pods(specs, nodes, alloc, rng, start, rollouts)
    runs = _report_runs(start, end)
    pods += _report_pods(runs, nodes, alloc, rng, end)
    cluster = SimCluster(
        name="kind-shop",
        nodes=nodes,
        pods=pods,
        namespaces=namespaces,
        edges=[],
        start=start,
        end=end,
        services=_shop_services(rng, grpc),
    )
    _shop_edges(cluster, rng)
    cluster.notes = _notes(rollout_at, len(runs), grpc)
    return cluster


def _report_runs(start: datetime, end: datetime) -> list[datetime]:
    """The CronJob's scheduled runs inside the window ("30 */3 * * *")."""
    runs: list[datetime] = []
    slot = start.replace(minute=_REPORT_SCHEDULE_MINUTE, second=0, microsecond=0)
    slot -= timedelta(hours=slot.hour % _REPORT_EVERY_HOURS)
    while slot < end:
        if slot >= start:
            runs.append(slot)
        slot += timedelta(hours=_REPORT_EVERY_HOURS)
    return runs


def _report_pods(
    runs: list[datetime],
    nodes: list[SimNode],
    alloc: Allocator,
    rng: random.Random,
    end: datetime,
) -> list[SimPod]:
    """One Job (one pod, on a worker) per run of CronJob ``shop/report``."""
    workers = [n.name for n in nodes[1:]]
    pods = []
    for run in runs:
        job = job_name("report", run)
        uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        node = rng.choice(workers)
        pod_start = run + timedelta(seconds=rng.randint(1, 4))
        pod_end = min(pod_start + timedelta(seconds=rng.randint(150, 330)), end)
        name = f"{job}-{name_suffix(rng, 5)}"
        pods.append(
            job_pod(
                "shop",
                "report",
                job,
                _REPORT_LABELS,
                uid,
                name=name,
                ip=alloc.ip(node),
                node=node,
                start=pod_start,
                end=pod_end,
                service_account="report",
            )
        )
    return pods


def _notes(rollout_at: datetime, report_runs: int, grpc: bool) -> list[str]:
    notes = [
        f"`shop/cart` is rolled out at {rollout_at:%H:%M:%S} UTC: a new ReplicaSet with new "
        "pods and new IPs replaces the old one (labels unchanged; Hubble never shows "
        "`pod-template-hash`).",
        "`shop/catalog` (track=stable) and `shop/catalog-canary` (track=canary) share every "
        "label except `track` and `version`, and both sit behind Service `catalog`.",
        "`tier: backend` is shared by cart, catalog, catalog-canary, checkout and payments.",
        f"CronJob `shop/report` runs {report_runs} time(s); each Job pod carries "
        "`job-name` and `controller-uid`, which Cilium keeps (a new identity per run).",
        "The container port named `metrics` is 9090 on shop pods, 9187 on postgres, 9121 on "
        "redis, 9153 on CoreDNS and 10254 on ingress-nginx.",
        "CoreDNS is probed on 8080 and 8181, which are not declared container ports.",
        "Part of the Internet traffic to ingress-nginx is SNATed by another node and arrives "
        "from `reserved:remote-node` (edge source `node`).",
    ]
    if grpc:
        notes.append(
            f"`shop/recommendations` serves gRPC on {GRPC_PORT}/TCP, inside the ephemeral "
            "port range its clients use too."
        )
    return notes


def _shop_services(rng: random.Random, grpc: bool) -> list[SimService]:
    def cip() -> str:
        return cluster_ip(rng)

    services = [
        *system_services(),
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
    if grpc:
        services.append(
            SimService(
                "shop",
                "recommendations",
                cip(),
                {"app.kubernetes.io/name": "recommendations"},
                (("grpc", GRPC_PORT, GRPC_PORT, "TCP"),),
            )
        )
    return services


def _svc(ns: str, name: str, count: int, **kw: object) -> EdgeTraffic:
    """Traffic that reaches the server through Service ``ns/name``."""
    return EdgeTraffic(count=count, service=(ns, name), **kw)  # type: ignore[arg-type]


def _shop_edges(cluster: SimCluster, rng: random.Random) -> None:
    edges: _Edges = {}
    has_report = bool(cluster.pods_of("shop/report"))
    _internet_edges(edges, rng)
    _request_edges(edges, cluster, has_report)
    _scrape_edges(edges)
    # Controllers watching the API server (through Service default/kubernetes).
    api = cluster.nodes[0].ip
    for src in ("monitoring/prometheus", _INGRESS, _DNS):
        edges[SimEdge(src, api, "TCP", API_SERVER_PORT)] = _svc(
            "default", "kubernetes", 6, keepalive=True
        )
    _dns_edges(edges, has_report)
    edges.update(probe_edges(cluster))
    cluster.edges = list(edges)
    cluster.traffic = edges


def _internet_edges(edges: _Edges, rng: random.Random) -> None:
    """Internet clients -> ingress (each client address is its own edge)."""
    for i, ip in enumerate(public_ips(rng, 36)):
        edges[SimEdge(ip, _INGRESS, "TCP", 443)] = EdgeTraffic(count=rng.randint(2, 6), minimum=2)
        if i % 4 == 0:
            edges[SimEdge(ip, _INGRESS, "TCP", 80)] = EdgeTraffic(count=2, minimum=2)
    edges[SimEdge("node", _INGRESS, "TCP", 443)] = EdgeTraffic(count=12, style="snat")
    edges[SimEdge("node", _INGRESS, "TCP", 80)] = EdgeTraffic(count=3, style="snat")


def _request_edges(edges: _Edges, cluster: SimCluster, has_report: bool) -> None:
    """The shop's request path, its external APIs and the CronJob's exports."""
    calls = [
        (_INGRESS, "shop/frontend", 8080, _svc("shop", "frontend", 60, keepalive=True)),
        ("shop/frontend", "shop/cart", 8080, _svc("shop", "cart", 40)),
        ("shop/frontend", "shop/catalog", 8080, _svc("shop", "catalog", 45)),
        ("shop/frontend", "shop/catalog-canary", 8080, _svc("shop", "catalog", 12)),
        ("shop/frontend", "shop/checkout", 8080, _svc("shop", "checkout", 25)),
        ("shop/checkout", "shop/payments", 8443, _svc("shop", "payments", 20)),
        ("shop/checkout", "shop/cart", 8080, _svc("shop", "cart", 20)),
        ("shop/cart", "data/redis", 6379, _svc("data", "redis", 45)),
        ("shop/catalog", "data/postgres", 5432, _svc("data", "postgres", 35)),
        ("shop/catalog-canary", "data/postgres", 5432, _svc("data", "postgres", 10)),
    ]
    if cluster.pods_of("shop/recommendations"):
        calls.append(
            (
                "shop/frontend",
                "shop/recommendations",
                GRPC_PORT,
                _svc("shop", "recommendations", 30),
            )
        )
    for ip, name in PAYMENT_APIS:
        count = 10 if ip == PAYMENT_APIS[0][0] else 6
        calls.append(("shop/payments", ip, 443, EdgeTraffic(count=count, names=(name,))))
    if has_report:
        calls.append(("shop/report", "data/postgres", 5432, _svc("data", "postgres", 4, minimum=2)))
        calls.append(("shop/report", REPORT_BUCKET[0], 443, EdgeTraffic(count=4, minimum=2)))
    for src, dst, port, traffic in calls:
        edges[SimEdge(src, dst, "TCP", port)] = traffic


def _scrape_edges(edges: _Edges) -> None:
    """Prometheus scrapes every pod of these workloads directly (no Service)."""
    scrapes = [
        (_INGRESS, 10254),
        ("shop/frontend", 9090),
        ("shop/cart", 9090),
        ("shop/catalog", 9090),
        ("shop/catalog-canary", 9090),
        ("shop/checkout", 9090),
        ("shop/payments", 9090),
        ("data/postgres", 9187),
        ("data/redis", 9121),
        (_DNS, 9153),
    ]
    for dst, port in scrapes:
        edges[SimEdge("monitoring/prometheus", dst, "TCP", port)] = EdgeTraffic(
            count=8, keepalive=True
        )


# Service names each workload resolves (``name`` in its namespace, ``name.ns`` elsewhere).
_LOOKUPS = {
    "shop/frontend": ("cart", "catalog", "checkout"),
    "shop/cart": ("redis.data",),
    "shop/catalog": ("postgres.data",),
    "shop/catalog-canary": ("postgres.data",),
    "shop/checkout": ("payments", "cart"),
    "shop/report": ("postgres.data",),
    _INGRESS: ("frontend.shop",),
    "monitoring/prometheus": ("kubernetes.default",),
}
_DNS_RATES = [
    (_INGRESS, 15),
    ("shop/frontend", 40),
    ("shop/cart", 30),
    ("shop/catalog", 20),
    ("shop/catalog-canary", 10),
    ("shop/checkout", 25),
    ("shop/payments", 25),
    ("shop/report", 6),
    ("monitoring/prometheus", 10),
]


def _queries(src: str) -> tuple[str, ...]:
    """The names ``src`` resolves: Services, or (``shop/payments``, through the DNS proxy)
    its external APIs; the CronJob also resolves its bucket."""
    if src == "shop/payments":
        return tuple(f"{name}." for _, name in PAYMENT_APIS)
    ns = src.split("/")[0]
    queries = tuple(
        f"{n}.svc.cluster.local." if "." in n else f"{n}.{ns}.svc.cluster.local."
        for n in _LOOKUPS.get(src, ())
    )
    if src == "shop/report":
        queries += (f"{REPORT_BUCKET[1]}.",)
    return queries


def _dns_edges(edges: _Edges, has_report: bool) -> None:
    """DNS: every workload with egress asks CoreDNS; a few also over TCP."""
    for src, count in _DNS_RATES:
        if src == "shop/report" and not has_report:
            continue
        edges[SimEdge(src, _DNS, "UDP", 53)] = _svc(
            "kube-system",
            "kube-dns",
            count,
            style="dns",
            l7_dns=src == "shop/payments",
            queries=_queries(src),
            minimum=3 if src != "shop/report" else 2,
        )
    for src, count in (("shop/checkout", 3), ("shop/payments", 3), ("shop/report", 2)):
        if src == "shop/report" and not has_report:
            continue
        edges[SimEdge(src, _DNS, "TCP", 53)] = _svc("kube-system", "kube-dns", count, minimum=2)
    edges[SimEdge(_DNS, UPSTREAM_DNS, "UDP", 53)] = EdgeTraffic(count=20, style="dns")
