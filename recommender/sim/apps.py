"""More synthetic apps for benchmarks, built from the blocks of :mod:`recommender.sim`.

Every function returns a :class:`~recommender.sim.SimCluster` that renders through
:func:`~recommender.sim.hubble_records` / :func:`~recommender.sim.write_hubble`
unchanged. All are deterministic for a given seed, and each holds at least one rollout of
a Deployment in the second half of the window (a new ReplicaSet: new ``pod-template-hash``,
new pods, new IPs, usually a new ``version`` label; the old pods end), so that a proposal
learned from the first half can be tested on the second.

* :func:`small_app`: one app namespace (web, api, cache, db) plus CoreDNS.
* :func:`shop_app`: :func:`~recommender.sim.shop_cluster` (rollout of ``shop/cart``
  at 45% of the window, the ``catalog`` canary, the ``report`` CronJob) with two more
  rollouts in the second half (``shop/frontend`` and ``shop/checkout``).
* :func:`large_app`: many namespaces of many workloads with shared labels (``tier``,
  ``team``, ``part-of``, workload names reused across namespaces), a canary pair sharing
  its name label, StatefulSets, a CronJob, DNS, external APIs, Internet clients to a front
  door, Prometheus scraping every workload, and one rollout per app namespace.

``APPS`` maps names to the builders; every builder takes ``(seed, *, hours=...)``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .clock import at_share, window
from .cluster import EdgeTraffic, SimCluster, SimEdge, probe_edges
from .network import API_SERVER_PORT, UPSTREAM_DNS, Allocator, ClusterIPs, kind_nodes, public_ips
from .shop import shop_cluster
from .workloads import COREDNS, WorkloadSpec, cronjob_pods, rollout, workload_pods

__all__ = ["APPS", "large_app", "shop_app", "small_app"]

_DNS = "kube-system/coredns"
_Edges = dict[SimEdge, EdgeTraffic]


def _dns_traffic(count: int, queries: tuple[str, ...] = (), minimum: int = 3) -> EdgeTraffic:
    return EdgeTraffic(
        count=count,
        style="dns",
        service=("kube-system", "kube-dns"),
        queries=queries,
        minimum=minimum,
    )


# ------------------------------------------------------------------------ small app

_BLOG = {"app.kubernetes.io/part-of": "blog"}
_BLOG_WORKLOADS = (
    WorkloadSpec(
        "blog",
        "web",
        "Deployment",
        2,
        "web",
        {"app.kubernetes.io/name": "web", **_BLOG, "tier": "web", "version": "1.4.0"},
        (("http", 8080, "TCP"), ("metrics", 9090, "TCP")),
        (8080,),
        "workers",
    ),
    WorkloadSpec(
        "blog",
        "api",
        "Deployment",
        2,
        "api",
        {"app.kubernetes.io/name": "api", **_BLOG, "tier": "backend", "version": "2.0.1"},
        (("http", 8080, "TCP"), ("metrics", 9090, "TCP")),
        (8080,),
        "workers",
    ),
    WorkloadSpec(
        "blog",
        "cache",
        "Deployment",
        1,
        "default",
        {"app.kubernetes.io/name": "cache", **_BLOG, "tier": "backend"},
        (("redis", 6379, "TCP"),),
        (6379,),
        "workers",
    ),
    WorkloadSpec(
        "blog",
        "db",
        "StatefulSet",
        1,
        "db",
        {"app.kubernetes.io/name": "db", **_BLOG, "tier": "db"},
        (("postgres", 5432, "TCP"),),
        (5432,),
        "workers",
    ),
    COREDNS,
)


def small_app(seed: int = 7, *, hours: float = 2.0) -> SimCluster:
    """One namespace ``blog`` (web, api, cache, db) behind a LoadBalancer, CoreDNS, a
    handful of Internet clients, and a rollout of ``blog/api`` at 70% of the window."""
    rng = random.Random(f"small-app-{seed}")
    start, end = window(hours)
    nodes = kind_nodes("blog", 2)
    alloc = Allocator(rng, nodes)
    pods = workload_pods(_BLOG_WORKLOADS, nodes, alloc, rng, start)
    services = ClusterIPs(rng)
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
    edges = _blog_edges(rng)
    edges.update(probe_edges(cluster))
    cluster.edges, cluster.traffic = list(edges), edges
    at = at_share(start, end, 0.7)
    rollout(cluster, "blog/api", at, rng, labels={"version": "2.1.0"})
    cluster.notes = [
        f"`blog/api` is rolled out at {at:%H:%M:%S} UTC (version 2.0.1 -> 2.1.0).",
        "`blog/web` is exposed by a LoadBalancer Service; part of its Internet traffic is "
        "SNATed by the other node.",
    ]
    return cluster


def _blog_edges(rng: random.Random) -> _Edges:
    edges: _Edges = {}
    for ip in public_ips(rng, 8):
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
    edges[SimEdge(_DNS, UPSTREAM_DNS, "UDP", 53)] = EdgeTraffic(count=8, style="dns")
    return edges


# ------------------------------------------------------------------------- shop app


def shop_app(seed: int = 7, *, hours: float = 6.0) -> SimCluster:
    """:func:`~recommender.sim.shop_cluster` plus rollouts of ``shop/frontend`` (at
    62%) and ``shop/checkout`` (at 80%), both with a version bump."""
    cluster = shop_cluster(seed, hours=hours)
    rng = random.Random(f"shop-app-{seed}")
    plan = (
        ("shop/frontend", 0.62, {"version": "v1.9.0"}),
        ("shop/checkout", 0.80, {"version": "v1.5.0"}),
    )
    for workload, share, labels in plan:
        at = at_share(cluster.start, cluster.end, share)
        rollout(cluster, workload, at, rng, labels=labels)
        cluster.notes.append(
            f"`{workload}` is rolled out at {at:%H:%M:%S} UTC (new ReplicaSet, "
            f"version -> {labels['version']})."
        )
    return cluster


# ------------------------------------------------------------------------ large app

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
_PLATFORM_WORKLOADS = (
    WorkloadSpec(
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
    COREDNS,
    WorkloadSpec(
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
)


def _role_name(index: int) -> str:
    if index < len(_ROLES):
        return _ROLES[index][0]
    return f"svc{index - len(_ROLES) + 1}"


def _role(index: int) -> tuple[str, str, int, tuple[str, int] | None, int, str]:
    if index < len(_ROLES):
        return _ROLES[index]
    return (_role_name(index), "Deployment", 2, ("http", 8080), 9090, "backend")


@dataclass
class _Layout:
    """What the large app's namespaces hold, for wiring its edges."""

    app_ns: list[str]
    workloads_per_ns: int
    #: the namespace of the canary pair (``api`` and ``api-canary``)
    canary_ns: str
    specs: list[WorkloadSpec] = field(default_factory=lambda: list(_PLATFORM_WORKLOADS))
    ns_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    #: workload -> (Service namespace, Service name, port) for its callers
    serves: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    #: workload -> metrics port
    metrics: dict[str, int] = field(default_factory=dict)
    workloads: set[str] = field(default_factory=set)
    edges: _Edges = field(default_factory=dict)

    @property
    def canary(self) -> str:
        return f"{self.canary_ns}/api-canary"

    @property
    def cron(self) -> str:
        return f"{self.app_ns[0]}/reindex"

    def has(self, ns: str, role: str) -> bool:
        return f"{ns}/{role}" in self.workloads

    def call(self, src: str, dst: str, count: int, **kw: object) -> None:
        """``src`` calls ``dst`` through its Service."""
        ns, name, port = self.serves[dst]
        self.edges[SimEdge(src, dst, "TCP", port)] = EdgeTraffic(
            count=count,
            service=(ns, name),
            **kw,  # type: ignore[arg-type]
        )


def _app_namespace(layout: _Layout, services: ClusterIPs, i: int, ns: str) -> None:
    """The workloads, Services and labels of app namespace ``ns`` (the ``i``-th)."""
    team = _TEAMS[i % len(_TEAMS)]
    layout.ns_labels[ns] = {
        "kubernetes.io/metadata.name": ns,
        "team": team,
        "env": "prod" if i % 3 else "prod-eu",
    }
    legacy = i % 2 == 1
    for j in range(layout.workloads_per_ns):
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
        is_stable = ns == layout.canary_ns and role == "api"
        if is_stable:  # the canary pair: same name label and Service, ``track`` differs
            labels["track"] = "stable"
        ports: list[tuple[str | None, int, str]] = []
        if port is not None:
            ports.append((port[0], port[1], "TCP"))
        ports.append(("metrics", metric, "TCP"))
        probe = (port[1] if port is not None else metric,)
        spec = WorkloadSpec(ns, role, kind, replicas, role, labels, tuple(ports), probe, "workers")
        layout.specs.append(spec)
        wl = f"{ns}/{role}"
        layout.metrics[wl] = metric
        name_key = "app" if legacy else "app.kubernetes.io/name"
        if port is not None:
            layout.serves[wl] = (ns, role, port[1])
            services.add(ns, role, {name_key: role}, ((port[0], port[1], port[1], "TCP"),))
        if is_stable:
            canary_labels = {**labels, "track": "canary", "version": "2.0.0-rc.1"}
            layout.specs.append(replace(spec, name="api-canary", replicas=1, labels=canary_labels))
            layout.serves[layout.canary] = layout.serves[wl]
            layout.metrics[layout.canary] = metric


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
    start, end = window(hours)
    app_ns = [
        _NAMESPACE_NAMES[i] if i < len(_NAMESPACE_NAMES) else f"team{i}" for i in range(namespaces)
    ]
    expected_pods = namespaces * workloads_per_ns * 2 + 8
    nodes = kind_nodes("large", max(3, -(-expected_pods // 60)))
    alloc = Allocator(rng, nodes)
    # The canary pair lives in the second namespace, with legacy labels: it shares ``app``.
    layout = _Layout(app_ns, workloads_per_ns, app_ns[1] if len(app_ns) > 1 else app_ns[0])
    layout.ns_labels = {
        "edge": {"kubernetes.io/metadata.name": "edge", "team": "platform", "env": "prod"},
        "kube-system": {"kubernetes.io/metadata.name": "kube-system"},
        "monitoring": {"kubernetes.io/metadata.name": "monitoring", "team": "platform"},
    }
    services = ClusterIPs(rng)
    services.add(
        "edge",
        "envoy",
        {"app.kubernetes.io/name": "envoy"},
        (("https", 443, 8443, "TCP"), ("http", 80, 8080, "TCP")),
        "LoadBalancer",
    )
    for i, ns in enumerate(app_ns):
        _app_namespace(layout, services, i, ns)
    pods = workload_pods(layout.specs, nodes, alloc, rng, start)
    cron_labels = {
        "app.kubernetes.io/name": "reindex",
        "app.kubernetes.io/part-of": app_ns[0],
        "tier": "backend",
        "team": _TEAMS[0],
    }
    pods += cronjob_pods(
        app_ns[0],
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
        namespaces=layout.ns_labels,
        edges=[],
        start=start,
        end=end,
        services=services.items,
    )
    layout.workloads = set(cluster.workloads())
    _large_edges(layout, cluster, rng)
    cluster.notes = _large_rollouts(layout, cluster, rng)
    return cluster


def _large_edges(layout: _Layout, cluster: SimCluster, rng: random.Random) -> None:
    edges = layout.edges
    # Internet clients -> the front door; part of it SNATed by another node.
    for k, ip in enumerate(public_ips(rng, 40)):
        edges[SimEdge(ip, _FRONT_DOOR, "TCP", 8443)] = EdgeTraffic(
            count=rng.randint(3, 6), minimum=2
        )
        if k % 5 == 0:
            edges[SimEdge(ip, _FRONT_DOOR, "TCP", 8080)] = EdgeTraffic(count=2, minimum=2)
    edges[SimEdge("node", _FRONT_DOOR, "TCP", 8443)] = EdgeTraffic(count=12, style="snat")
    for i, ns in enumerate(layout.app_ns):
        _request_paths(layout, i, ns)
    _external_calls(layout)
    # Prometheus scrapes every workload's metrics port, pod by pod (no Service).
    edges[SimEdge(_PROMETHEUS, _FRONT_DOOR, "TCP", 9901)] = EdgeTraffic(count=8, keepalive=True)
    edges[SimEdge(_PROMETHEUS, _DNS, "TCP", 9153)] = EdgeTraffic(count=8, keepalive=True)
    for wl in sorted(layout.metrics):
        if wl in layout.workloads:
            edges[SimEdge(_PROMETHEUS, wl, "TCP", layout.metrics[wl])] = EdgeTraffic(
                count=8, keepalive=True
            )
    # Controllers watching the API server.
    api_server = cluster.nodes[0].ip
    for src in (_PROMETHEUS, _FRONT_DOOR, _DNS):
        edges[SimEdge(src, api_server, "TCP", API_SERVER_PORT)] = EdgeTraffic(
            count=6, service=("default", "kubernetes"), keepalive=True
        )
    _large_dns(layout)
    edges.update(probe_edges(cluster))
    cluster.edges, cluster.traffic = list(edges), edges


def _request_paths(layout: _Layout, i: int, ns: str) -> None:
    """The request paths of the ``i``-th app namespace ``ns``."""
    canary, has, call = layout.canary, layout.has, layout.call
    with_canary = ns == layout.canary_ns and canary in layout.workloads
    call(_FRONT_DOOR, f"{ns}/gateway", 40, keepalive=True)
    for role in ("api", "auth", "search"):
        if has(ns, role):
            call(f"{ns}/gateway", f"{ns}/{role}", 30 if role == "api" else 15)
    if with_canary:
        call(f"{ns}/gateway", canary, 10)
    for role in ("db", "cache", "queue"):
        if has(ns, role):
            call(f"{ns}/api", f"{ns}/{role}", 25)
            if with_canary:
                call(canary, f"{ns}/{role}", 8)
    _back_paths(layout, ns)
    _cross_namespace(layout, i, ns)


def _back_paths(layout: _Layout, ns: str) -> None:
    """The worker's data stores, and the api's extra services (``svcN``) with their db."""
    has, call = layout.has, layout.call
    for role in ("queue", "db"):
        if has(ns, "worker") and has(ns, role):
            call(f"{ns}/worker", f"{ns}/{role}", 15)
    for j in range(len(_ROLES), layout.workloads_per_ns):
        extra = f"{ns}/{_role_name(j)}"
        call(f"{ns}/api", extra, 12)
        if has(ns, "db"):
            call(extra, f"{ns}/db", 10)


def _cross_namespace(layout: _Layout, i: int, ns: str) -> None:
    """Each api calls the next namespace's api; everyone's auth is the identity
    namespace's (the fourth) when there is one."""
    app_ns, has, call = layout.app_ns, layout.has, layout.call
    if i + 1 < len(app_ns) and has(app_ns[i + 1], "api"):
        call(f"{ns}/api", f"{app_ns[i + 1]}/api", 12)
    if i != 3 and len(app_ns) > 3 and has(app_ns[3], "auth") and has(ns, "api"):
        call(f"{ns}/api", f"{app_ns[3]}/auth", 10)


def _external_calls(layout: _Layout) -> None:
    """External APIs, and the CronJob: reads the db, calls the api, exports to a bucket."""
    edges, app_ns, has = layout.edges, layout.app_ns, layout.has
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
    cron = layout.cron
    if cron in layout.workloads:
        if has(app_ns[0], "db"):
            layout.call(cron, f"{app_ns[0]}/db", 4, minimum=2)
        layout.call(cron, f"{app_ns[0]}/gateway", 3, minimum=2)
        ip, host = _EXTERNAL_APIS[2]
        edges[SimEdge(cron, ip, "TCP", 443)] = EdgeTraffic(count=3, minimum=2, names=(host,))


def _large_dns(layout: _Layout) -> None:
    """DNS: every pod workload that opens connections asks CoreDNS."""
    edges, serves, cron = layout.edges, layout.serves, layout.cron
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
        if src.endswith("/api") and ns == layout.app_ns[0]:
            edges[SimEdge(src, _DNS, "TCP", 53)] = EdgeTraffic(
                count=3, service=("kube-system", "kube-dns"), minimum=2
            )
    edges[SimEdge(_DNS, UPSTREAM_DNS, "UDP", 53)] = EdgeTraffic(count=20, style="dns")


def _large_rollouts(layout: _Layout, cluster: SimCluster, rng: random.Random) -> list[str]:
    """Rollouts in the second half: each gateway (version bump), then the stable api.
    Returns the cluster's notes."""
    start, end, app_ns = cluster.start, cluster.end, layout.app_ns
    notes = []
    for i, ns in enumerate(app_ns):
        wl = f"{ns}/gateway"
        at = at_share(start, end, 0.55 + 0.35 * i / max(1, len(app_ns)))
        version = next(p for p in cluster.pods_of(wl)).labels["version"]
        major, minor, _ = version.split(".")
        rollout(cluster, wl, at, rng, labels={"version": f"{major}.{int(minor) + 1}.0"})
        notes.append(f"`{wl}` is rolled out at {at:%H:%M:%S} UTC (version bump).")
    api = f"{layout.canary_ns}/api"
    if api in layout.workloads:
        at = at_share(start, end, 0.75)
        rollout(cluster, api, at, rng, labels={"version": "2.0.0"})
        notes.append(f"`{api}` (track=stable) is rolled out at {at:%H:%M:%S} UTC to 2.0.0.")
    return [
        "Workload names repeat in every namespace; odd namespaces use the legacy `app` "
        "label; `tier`, `team` and `app.kubernetes.io/part-of` are shared.",
        f"`{api}` and `{layout.canary}` share their name label and Service `api`; they differ "
        "by `track` and `version`.",
        f"CronJob `{layout.cron}` runs hourly; each Job pod has its own "
        "`job-name`/`controller-uid`.",
        *notes,
    ]


#: App name -> builder ``(seed, *, hours=...) -> SimCluster``.
APPS: dict[str, Callable[..., SimCluster]] = {
    "small": small_app,
    "shop": shop_app,
    "large": large_app,
}
