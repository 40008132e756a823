"""Tests of the synthetic apps (recommender/sim/apps.py) and rollouts (sim/workloads.py).

Like tests/sim/test_hubble.py, the records are read as plain JSON: these tests must not
depend on the ingest modules.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from recommender.sim import (
    APPS,
    SimCluster,
    SimEdge,
    connection_counts,
    hubble_records,
    kubectl_inventory,
    large_app,
    rollout,
    rollouts,
    shop_app,
    shop_cluster,
    small_app,
    write_hubble,
)

SEED = 7
CHURN = ("pod-template-hash", "controller-revision-hash")


@pytest.fixture(scope="module", params=sorted(APPS))
def app(request: pytest.FixtureRequest) -> tuple[str, SimCluster]:
    return request.param, APPS[request.param](SEED)


@pytest.fixture(scope="module")
def records(app: tuple[str, SimCluster]) -> list[dict]:
    return list(hubble_records(app[1], seed=SEED))


def _fingerprint(cluster: SimCluster) -> tuple:
    return (
        [
            (p.namespace, p.name, p.ip, p.node, p.start, p.end, sorted(p.labels.items()))
            for p in cluster.pods
        ],
        cluster.edges,
        [(s.namespace, s.name, s.cluster_ip) for s in cluster.services],
        cluster.namespaces,
    )


def _middle(cluster: SimCluster) -> datetime:
    return cluster.start + (cluster.end - cluster.start) / 2


# --------------------------------------------------------------------------- structure


def test_apps_registry() -> None:
    assert set(APPS) == {"small", "shop", "large"}
    assert APPS["small"] is small_app and APPS["shop"] is shop_app and APPS["large"] is large_app


def test_deterministic(app: tuple[str, SimCluster]) -> None:
    name, cluster = app
    again = APPS[name](SEED)
    assert _fingerprint(again) == _fingerprint(cluster)
    assert (
        list(hubble_records(again, seed=SEED))[:500]
        == list(hubble_records(cluster, seed=SEED))[:500]
    )
    other = APPS[name](SEED + 1)
    assert [p.name for p in other.pods] != [p.name for p in cluster.pods]


def test_unique_pod_names_and_ips(app: tuple[str, SimCluster]) -> None:
    _, cluster = app
    assert len({(p.namespace, p.name) for p in cluster.pods}) == len(cluster.pods)
    assert len({p.ip for p in cluster.pods}) == len(cluster.pods)
    for p in cluster.pods:
        node = cluster.node(p.node)
        prefix = node.pod_cidr.rsplit(".", 2)[0]
        assert p.ip.startswith(prefix + "."), (p.name, p.ip, node.pod_cidr)
    for p in cluster.pods:
        assert cluster.namespaces[p.namespace]["kubernetes.io/metadata.name"] == p.namespace


def test_rollout_in_second_half(app: tuple[str, SimCluster]) -> None:
    _, cluster = app
    late = rollouts(cluster, after=_middle(cluster))
    assert late, "every app rolls a Deployment out in the second half of the window"
    for workload, when in late:
        pods = cluster.pods_of(workload)
        old = [p for p in pods if p.start < when]
        new = [p for p in pods if p.start >= when]
        assert old and new
        assert {p.labels["pod-template-hash"] for p in old}.isdisjoint(
            {p.labels["pod-template-hash"] for p in new}
        )
        assert {p.ip for p in old}.isdisjoint({p.ip for p in new})
        # the old pods end (one by one), the new ones keep running
        assert all(p.end is not None and p.end > when for p in old)
        assert all(p.end is None for p in new)
        # at every moment at least one replica is up
        t = when
        while t < cluster.end:
            assert any(p.alive(t) for p in pods), (workload, t)
            t += timedelta(seconds=10)
        # stable labels are kept
        keep = {k: v for k, v in old[0].labels.items() if k not in (*CHURN, "version")}
        assert all(keep.items() <= p.labels.items() for p in new)


def test_canary_where_stated() -> None:
    shop = shop_app(SEED)
    stable, canary = shop.pods_of("shop/catalog")[0], shop.pods_of("shop/catalog-canary")[0]
    assert stable.labels["app"] == canary.labels["app"] == "catalog"
    large = large_app(SEED)
    stable = large.pods_of("orders/api")[0]
    canary = large.pods_of("orders/api-canary")[0]
    assert stable.labels["app"] == canary.labels["app"] == "api"
    assert (stable.labels["track"], canary.labels["track"]) == ("stable", "canary")
    assert stable.labels.keys() == canary.labels.keys()
    differ = {k for k in stable.labels if stable.labels[k] != canary.labels[k]}
    assert differ == {"track", "version", "pod-template-hash"}
    assert any(e.dst == "orders/api-canary" for e in large.edges)
    assert any(e.src == "orders/api-canary" for e in large.edges)
    # the stable side is rolled out in the second half, the canary is not
    late = dict(rollouts(large, after=_middle(large)))
    assert "orders/api" in late and "orders/api-canary" not in late


def test_shop_app_is_shop_cluster_plus_rollouts() -> None:
    base, app = shop_cluster(SEED), shop_app(SEED)
    assert base.edges == app.edges and base.services == app.services
    added = {p.name for p in app.pods} - {p.name for p in base.pods}
    assert added and all(
        app.pod_by_name("shop", n).workload in ("shop/frontend", "shop/checkout") for n in added
    )
    assert [w for w, _ in rollouts(app)] == ["shop/cart", "shop/frontend", "shop/checkout"]


def test_sizes() -> None:
    small, shop, large = small_app(SEED), shop_app(SEED), large_app(SEED)
    assert {w.split("/")[0] for w in small.workloads()} == {"blog", "kube-system"}
    assert 3 <= sum(w.startswith("blog/") for w in small.workloads()) <= 4
    assert len(small.workloads()) < len(shop.workloads()) < len(large.workloads())
    assert len(small.edges) < len(shop.edges) < len(large.edges)
    app_ns = {w.split("/")[0] for w in large.workloads()} - {"edge", "kube-system", "monitoring"}
    assert len(app_ns) == 6
    per_ns = Counter(w.split("/")[0] for w in large.workloads())
    assert all(per_ns[ns] >= 8 for ns in app_ns)
    bigger = large_app(SEED, namespaces=8, workloads_per_ns=10)
    assert len(bigger.workloads()) > len(large.workloads())
    assert len({p.ip for p in bigger.pods}) == len(bigger.pods)


def test_large_app_traps() -> None:
    cluster = large_app(SEED)
    kinds = {p.workload_kind for p in cluster.pods}
    assert {"Deployment", "StatefulSet", "CronJob"} <= kinds
    jobs = [p for p in cluster.pods if p.workload_kind == "CronJob"]
    assert len({p.labels["job-name"] for p in jobs}) == len(jobs) >= 2
    # names repeat across namespaces; shared labels
    assert len([w for w in cluster.workloads() if w.endswith("/api")]) == 6
    tiers = Counter(cluster.pods_of(w)[0].labels.get("tier") for w in cluster.workloads())
    assert tiers["backend"] >= 6
    teams = Counter(cluster.namespaces[ns].get("team") for ns in cluster.namespaces)
    assert max(teams.values()) >= 2
    dsts = {e.dst for e in cluster.edges}
    srcs = {e.src for e in cluster.edges}
    assert "kube-system/coredns" in dsts
    assert any(e.src == "monitoring/prometheus" for e in cluster.edges)
    scraped = {e.dst for e in cluster.edges if e.src == "monitoring/prometheus"}
    assert set(cluster.workloads()) - scraped <= {
        "monitoring/prometheus",
        *[w for w in cluster.workloads() if w.endswith("/reindex")],
    }
    assert any("/" not in d for d in dsts - {cluster.nodes[0].ip})  # external APIs
    world = [s for s in srcs if "/" not in s and s != "node"]
    assert len(world) >= 20
    # cross-namespace edges
    assert any(
        "/" in e.src
        and "/" in e.dst
        and e.src.split("/")[0] != e.dst.split("/")[0]
        and not e.dst.startswith(("kube-system/", "edge/"))
        and e.src != "monitoring/prometheus"
        for e in cluster.edges
    )


def test_rollout_rejects_missing_workload() -> None:
    import random

    cluster = small_app(SEED)
    with pytest.raises(ValueError):
        rollout(cluster, "blog/db", cluster.start, random.Random(1))  # a StatefulSet


# --------------------------------------------------------------------------- records


def _edges_in_records(cluster: SimCluster, records: list[dict]) -> set[SimEdge]:
    """Client->server edges of the request rows, in the SimEdge notation."""
    workload = {(p.namespace, p.name): p.workload for p in cluster.pods}
    out = set()
    for rec in records:
        flow = rec.get("flow")
        if flow is None or flow.get("is_reply") is not False or flow.get("Type") == "L7":
            continue
        ends = []
        for side, ip in (
            ("source", flow["IP"]["source"]),
            ("destination", flow["IP"]["destination"]),
        ):
            ep = flow[side]
            if "pod_name" in ep:
                ends.append(workload[(ep["namespace"], ep["pod_name"])])
            elif ep["labels"] in (["reserved:host"], ["reserved:remote-node"]) and side == "source":
                ends.append("node")
            else:
                ends.append(ip)
        ((proto, l4),) = flow["l4"].items()
        out.add(SimEdge(ends[0], ends[1], proto, l4["destination_port"]))
    return out


def test_edges_appear_in_records(app: tuple[str, SimCluster], records: list[dict]) -> None:
    _, cluster = app
    counts = connection_counts(cluster, seed=SEED)
    assert all(n > 0 for n in counts.values())
    seen = _edges_in_records(cluster, records)
    missing = [e for e in cluster.edges if e not in seen]
    assert not missing
    assert seen <= set(cluster.edges)


def test_records_in_time_order(records: list[dict]) -> None:
    # RFC 3339 with 0-9 fractional digits: the whole-second prefix sorts as text
    seconds = [r["time"][:19] for r in records]
    assert seconds == sorted(seconds)


def test_new_replicaset_pods_have_traffic_after_rollout(
    app: tuple[str, SimCluster], records: list[dict]
) -> None:
    _, cluster = app
    active = {
        (f["flow"]["destination"].get("namespace"), f["flow"]["destination"].get("pod_name"))
        for f in records
        if "flow" in f
    } | {
        (f["flow"]["source"].get("namespace"), f["flow"]["source"].get("pod_name"))
        for f in records
        if "flow" in f
    }
    for workload, when in rollouts(cluster, after=_middle(cluster)):
        new = [p for p in cluster.pods_of(workload) if p.start >= when]
        assert any((p.namespace, p.name) in active for p in new), workload


def test_write_hubble_and_inventory(tmp_path: Path) -> None:
    cluster = small_app(SEED)
    paths = write_hubble(cluster, tmp_path, seed=SEED)
    assert len(paths) == len(cluster.nodes)
    lines = 0
    for path in paths:
        with gzip.open(path) as fh:
            lines += len(fh.read().splitlines())
    assert lines == len(list(hubble_records(cluster, seed=SEED)))
    inv = kubectl_inventory(cluster, at=cluster.end)
    running = {i["metadata"]["name"] for i in inv["items"] if i["kind"] == "Pod"}
    assert running == {p.name for p in cluster.pods if p.alive(cluster.end)}
    json.dumps(inv)
