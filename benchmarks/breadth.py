"""Breadth over a synthetic cluster: 5,000 pods in 1,000 workloads, 2,000 policies.

    python benchmarks/breadth.py [--pods 5000] [--workloads 1000] [--policies 2000] [--seed 1]

Prints sizes, seconds per phase and peak RSS. Figures, not assertions: performance is measured
here, never in unit tests. ``synthetic_cluster`` is shared with ``benchmarks/replay.py``.
"""

from __future__ import annotations

import argparse
import resource
import time
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recommender.netpol.breadth import measure_breadth
from recommender.netpol.evaluator import Evaluator

NS_NAME = "kubernetes.io/metadata.name"
ROLES = [
    ("frontend", "web", [("http", 8080)]),
    ("api", "backend", [("http", 8080), ("grpc", 9090)]),
    ("worker", "backend", [("metrics", 9100)]),
    ("auth", "backend", [("grpc", 9090)]),
    ("search", "backend", [("search", 9200)]),
    ("postgres", "data", [("pg", 5432)]),
    ("redis", "data", [("redis", 6379)]),
    ("queue", "data", [("amqp", 5672)]),
]
TEAMS = [f"team-{i}" for i in range(10)]
ENVS = ["prod", "staging", "dev"]


@dataclass
class Cluster:
    pods: pd.DataFrame  # namespace, pod, labels, namespace_labels, ips, workload, ports
    workloads: list[str]
    pod_start: np.ndarray  # per workload: first row of its pods in ``pods``
    pod_count: np.ndarray
    edges: pd.DataFrame  # workload edges: src, dst, protocol, port
    wconns: pd.DataFrame  # workload connections (src_type, src_id, dst_type, dst_id, ...)
    resolvers: list[str]
    namespaces: list[str]


def _workload_specs(ns_names: list[str], workloads: int) -> list[dict[str, Any]]:
    """coredns first, then round-robin over namespaces and roles."""
    namespaces = len(ns_names)
    specs: list[dict[str, Any]] = [
        {"ns": "kube-system", "name": "coredns", "role": None, "tier": "infra"}
    ]
    for i in range(workloads - 1):
        ns = ns_names[1 + i % (namespaces - 1)]
        role, tier, served = ROLES[(i // (namespaces - 1) + i) % len(ROLES)]
        specs.append({"ns": ns, "name": f"{role}-{i}", "role": role, "tier": tier})
        # Services spread over many port numbers, as in a real cluster (~80 in all).
        spread = {"grpc": 9000 + i % 60, "search": 9200 + i % 8, "redis": 6379 + i % 4}
        specs[-1]["served"] = [(pname, spread.get(pname, port)) for pname, port in served]
    specs[0]["served"] = [("dns", 53)]
    return specs


def _base_labels(w: int, spec: dict[str, Any], team: str) -> dict[str, str]:
    name = spec["name"]
    base = {"app": name, "app.kubernetes.io/name": name, "tier": spec["tier"], "team": team}
    if name == "coredns":
        base["k8s-app"] = "kube-dns"
    if w % 3 == 0:
        base["monitoring"] = "enabled"
    if w % 7 == 0:
        base["mesh"] = "istio"
    return base


def _pod_rows(
    specs: list[dict[str, Any]], counts: np.ndarray, ns_names: list[str], ns_labels: dict
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """(pods table rows, first row of each workload)."""
    rows: list[dict[str, Any]] = []
    starts = np.zeros(len(specs), dtype=np.int64)
    for w, spec in enumerate(specs):
        starts[w] = len(rows)
        name, ns = spec["name"], spec["ns"]
        ns_idx = ns_names.index(ns)
        base = _base_labels(w, spec, ns_labels[ns]["team"])
        rollout = w % 10 == 0  # mid-rollout: two versions, "http" moves
        for p in range(int(counts[w])):
            new = rollout and p % 2 == 1
            labels = dict(base)
            labels["version"] = "v2" if new else "v1"
            labels["pod-template-hash"] = f"{w:x}{'b' if new else 'a'}"
            ports = []
            for pname, port in spec["served"]:
                if new and pname == "http":
                    port += 1
                ports.append((pname, port, "UDP" if pname == "dns" else "TCP"))
                if pname == "dns":
                    ports.append(("dns-tcp", 53, "TCP"))
            ip = f"10.{ns_idx}.{(len(rows) // 250) % 256}.{len(rows) % 250 + 1}"
            rows.append(
                {
                    "namespace": ns,
                    "pod": f"{name}-{p}",
                    "labels": labels,
                    "namespace_labels": ns_labels[ns],
                    "ips": (ip,),
                    "workload": f"{ns}/{name}",
                    "ports": ports,
                }
            )
    return rows, starts


def _edges(specs: list[dict[str, Any]], names: list[str], rng: Any) -> pd.DataFrame:
    """Each workload calls ~4 servers, mostly in its namespace, some shared services."""
    by_ns: dict[str, list[int]] = {}
    for w, s in enumerate(specs):
        by_ns.setdefault(s["ns"], []).append(w)
    shared = [w for w, s in enumerate(specs) if s["role"] in ("auth", "search")][:40]
    edges = []
    for w, s in enumerate(specs[1:], start=1):
        local = by_ns[s["ns"]]
        for _ in range(int(rng.integers(2, 6))):
            if rng.random() < 0.8:
                d = int(local[rng.integers(len(local))])
            else:
                d = int(shared[rng.integers(len(shared))])
            if d == w:
                continue
            pname, port = specs[d]["served"][rng.integers(len(specs[d]["served"]))]
            edges.append((names[w], names[d], "TCP", port))
        edges.append((names[w], names[0], "UDP", 53))
        edges.append((names[w], names[0], "TCP", 53))
    return pd.DataFrame(edges, columns=["src", "dst", "protocol", "port"]).drop_duplicates()


def _workload_connections(edges_df: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """The edges as workload connections, plus 20 external clients of the first workloads."""
    wconns = pd.DataFrame(
        {
            "src_type": "workload",
            "src_id": edges_df["src"],
            "dst_type": "workload",
            "dst_id": edges_df["dst"],
            "protocol": edges_df["protocol"],
            "port": edges_df["port"].astype("int64"),
        }
    )
    ext = pd.DataFrame(
        {
            "src_type": "external",
            "src_id": [f"203.0.113.{i}" for i in range(1, 21)],
            "dst_type": "workload",
            "dst_id": [names[w] for w in range(1, 21)],
            "protocol": "TCP",
            "port": 8080,
        }
    )
    return pd.concat([wconns, ext], ignore_index=True)


def synthetic_cluster(
    *, pods: int = 5000, workloads: int = 1000, namespaces: int = 50, seed: int = 1
) -> Cluster:
    rng = np.random.default_rng(seed)
    ns_names = ["kube-system"] + [f"ns{i:02d}" for i in range(1, namespaces)]
    ns_labels = {
        ns: {NS_NAME: ns, "team": TEAMS[i % len(TEAMS)], "env": ENVS[i % len(ENVS)]}
        for i, ns in enumerate(ns_names)
    }
    specs = _workload_specs(ns_names, workloads)
    # Replicas: mean pods / workloads, at least one each.
    counts = np.maximum(1, rng.poisson(pods / workloads - 1, size=workloads) + 1)
    rows, starts = _pod_rows(specs, counts, ns_names, ns_labels)
    names = [f"{s['ns']}/{s['name']}" for s in specs]
    edges_df = _edges(specs, names, rng)
    return Cluster(
        pd.DataFrame(rows),
        names,
        starts,
        counts.astype(np.int64),
        edges_df.reset_index(drop=True),
        _workload_connections(edges_df, names),
        [names[0]],
        ns_names,
    )


def _np(name: str, ns: str, spec: dict) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def _peer(src: str, dst_ns: str) -> dict:
    ns, name = src.split("/", 1)
    peer: dict = {"podSelector": {"matchLabels": {"app": name}}}
    if ns != dst_ns:
        peer["namespaceSelector"] = {"matchLabels": {NS_NAME: ns}}
    return peer


def _namespace_policies(ns: str) -> list[dict]:
    """A default deny and the DNS allowance."""
    dns_peer = {
        "namespaceSelector": {"matchLabels": {NS_NAME: "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
    }
    dns_ports = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    return [
        _np("default-deny", ns, {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        _np(
            "allow-dns",
            ns,
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{"to": [dns_peer], "ports": dns_ports}],
            },
        ),
    ]


def _workload_policy(w: str, clients: list, servers: list) -> dict:
    """The allow policy of one workload: its observed clients and servers, ports in mixed
    styles (named, ranges, plain)."""
    ns, name = w.split("/", 1)
    spec: dict = {"podSelector": {"matchLabels": {"app": name}}}
    ingress = []
    for s, proto, port in sorted(set(clients)):
        if port == 53:
            continue
        style = zlib.crc32(f"{s}>{w}".encode()) % 4
        if style == 0:
            ports = [{"port": "http"}] if port in (8080, 8081) else [{"port": port}]
        elif style == 1:
            ports = [{"port": port, "endPort": port + 2}]
        else:
            ports = [{"protocol": proto, "port": port}]
        ingress.append({"from": [_peer(s, ns)], "ports": ports})
    egress = [
        {"to": [_peer(d, ns)], "ports": [{"protocol": proto, "port": port}]}
        for d, proto, port in sorted(set(servers))
        if port != 53
    ]
    if ingress:
        spec["ingress"] = ingress
    if egress:
        spec["egress"] = egress
    spec["policyTypes"] = ["Ingress", "Egress"]
    return _np(f"allow-{name}", ns, spec)


def _monitoring_spec() -> dict:
    """Monitoring scrapes every pod that opts in, on a port range."""
    team_in = {"matchExpressions": [{"key": "team", "operator": "In", "values": TEAMS[:3]}]}
    return {
        "podSelector": {"matchExpressions": [{"key": "monitoring", "operator": "Exists"}]},
        "ingress": [
            {
                "from": [
                    {
                        "namespaceSelector": team_in,
                        "podSelector": {"matchLabels": {"tier": "backend"}},
                    }
                ],
                "ports": [{"port": 9100, "endPort": 9102}],
            }
        ],
    }


def _mesh_spec() -> dict:
    """Mesh sidecars talk among themselves on any port."""
    mesh = {"matchLabels": {"mesh": "istio"}}
    return {
        "podSelector": mesh,
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": [{"podSelector": mesh}]}],
        "egress": [{"to": [{"namespaceSelector": {}, "podSelector": mesh}]}],
    }


def _extra_spec(i: int, rng: Any) -> dict:
    """The i-th of six cross-cutting shapes."""
    shape = i % 6
    if shape == 0:
        return _monitoring_spec()
    if shape == 1:  # egress to the internet on 443, not to the cluster
        block = {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}
        return {
            "podSelector": {"matchLabels": {"tier": "web"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [block], "ports": [{"port": 443}]}],
        }
    if shape == 2:  # a subnet of the pod network by ipBlock
        block = {"ipBlock": {"cidr": f"10.{int(rng.integers(1, 50))}.0.0/24"}}
        not_data = {"key": "tier", "operator": "NotIn", "values": ["data"]}
        return {
            "podSelector": {"matchExpressions": [not_data]},
            "ingress": [{"from": [block], "ports": [{"port": 8080}]}],
        }
    if shape == 3:  # same-namespace traffic for the new version only
        return {
            "podSelector": {"matchLabels": {"version": "v2"}},
            "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": "http"}]}],
        }
    if shape == 4:  # prod namespaces may reach the data tier
        peer = {
            "namespaceSelector": {"matchLabels": {"env": "prod"}},
            "podSelector": {"matchLabels": {"team": TEAMS[i % 10]}},
        }
        return {"podSelector": {"matchLabels": {"tier": "data"}}, "ingress": [{"from": [peer]}]}
    return _mesh_spec()


def synthetic_policies(cluster: Cluster, count: int, *, seed: int = 2) -> list[dict]:
    """``count`` policies of mixed shapes: default-denies, DNS, per-workload allows (pod and
    namespace selectors, named ports, ranges), matchExpressions, ipBlocks, namespace-wide."""
    rng = np.random.default_rng(seed)
    policies: list[dict] = []
    for ns in cluster.namespaces:
        policies += _namespace_policies(ns)
    clients: dict[str, list] = {}
    servers: dict[str, list] = {}
    for s, d, proto, port in cluster.edges.itertuples(index=False):
        clients.setdefault(d, []).append((s, proto, port))
        servers.setdefault(s, []).append((d, proto, port))
    budget = count - len(policies)
    per_workload = min(len(cluster.workloads), budget - budget // 8)
    for w in cluster.workloads[:per_workload]:
        policies.append(_workload_policy(w, clients.get(w, []), servers.get(w, [])))
    i = 0
    while len(policies) < count:
        ns = cluster.namespaces[1 + i % (len(cluster.namespaces) - 1)]
        policies.append(_np(f"extra-{i}", ns, _extra_spec(i, rng)))
        i += 1
    return policies[:count]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--workloads", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--policies", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    start = time.perf_counter()
    cluster = synthetic_cluster(
        pods=args.pods, workloads=args.workloads, namespaces=args.namespaces, seed=args.seed
    )
    policies = synthetic_policies(cluster, args.policies)
    generated = time.perf_counter() - start
    start = time.perf_counter()
    evaluator = Evaluator(policies)
    compiled = time.perf_counter() - start
    start = time.perf_counter()
    breadth = measure_breadth(evaluator, cluster.pods, cluster.wconns, resolvers=cluster.resolvers)
    total = time.perf_counter() - start
    print(
        f"input: {len(cluster.pods)} pods, {len(cluster.workloads)} workloads, "
        f"{len(cluster.namespaces)} namespaces, {len(policies)} policies, "
        f"{len(cluster.wconns)} observed workload connections"
    )
    print(f"generate synthetic input   {generated:8.3f} s")
    print(f"Evaluator (validate)       {compiled:8.3f} s")
    for phase, secs in breadth.timings.items():
        print(f"breadth: {phase:<17} {secs:8.3f} s")
    print(f"breadth total              {total:8.3f} s")
    elements = breadth.universe
    print(
        f"universe: {breadth.workloads} workloads^2 x {breadth.ports} ports = {elements:,} "
        f"elements over {breadth.pod_classes} pod classes; {elements / total:,.0f} elements/s"
    )
    print(
        f"breadth: in-cluster {breadth.in_cluster:,} "
        f"({breadth.in_cluster / max(1, elements):.2%} of the universe), external "
        f"{breadth.external_addresses:,}; {len(breadth.per_policy)} per-policy entries"
    )
    top = sorted(breadth.per_policy.items(), key=lambda kv: -kv[1])[:3]
    print("widest: " + ", ".join(f"{k} {v:,}" for k, v in top))
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
