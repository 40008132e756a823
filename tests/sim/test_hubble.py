"""Tests of the shop cluster's Hubble rendering (recommender/sim/hubble.py, shop.py).

The records are read as plain JSON here, on purpose: these tests must not depend on the
ingest modules.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

from recommender.sim import (
    EPHEMERAL_PORTS,
    NAME_ALPHABET,
    SimCluster,
    SimEdge,
    connection_counts,
    hubble_records,
    shop_cluster,
    write_hubble,
)

SAMPLE_SEED = 7
SAMPLE_HOURS = 6.0
HASH = f"[{NAME_ALPHABET}]"
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?Z$")
RESERVED_IDS = {
    "reserved:host": 1,
    "reserved:world": 2,
    "reserved:remote-node": 6,
    "reserved:kube-apiserver": 7,
}


@pytest.fixture(scope="module")
def cluster() -> SimCluster:
    return shop_cluster(SAMPLE_SEED, hours=SAMPLE_HOURS)


@pytest.fixture(scope="module")
def records(cluster: SimCluster) -> list[dict]:
    return list(hubble_records(cluster, seed=SAMPLE_SEED))


@pytest.fixture(scope="module")
def flows(records: list[dict]) -> list[dict]:
    return [r["flow"] for r in records if "flow" in r]


def _l4(flow: dict) -> tuple[str, dict]:
    (proto, body), *_ = flow["l4"].items()
    return proto, body


def _peer(cluster: SimCluster, endpoint: dict, ip: str) -> str:
    """The edge notation of one Hubble endpoint."""
    labels = endpoint["labels"]
    if labels in (["reserved:host"], ["reserved:remote-node"]):
        return "node"
    if labels[0].startswith("reserved:"):
        return ip
    pod = cluster.pod_by_name(endpoint["namespace"], endpoint["pod_name"])
    assert pod is not None, endpoint
    return pod.workload


def _requests(cluster: SimCluster, flows: list[dict]) -> dict[SimEdge, set[int]]:
    """Edge -> source ports, from L3/L4 rows that say they are requests."""
    seen: dict[SimEdge, set[int]] = defaultdict(set)
    for f in flows:
        if f["Type"] != "L3_L4" or f.get("is_reply") is not False:
            continue
        proto, l4 = _l4(f)
        src = _peer(cluster, f["source"], f["IP"]["source"])
        dst = _peer(cluster, f["destination"], f["IP"]["destination"])
        seen[SimEdge(src, dst, proto, l4["destination_port"])].add(l4["source_port"])
    return seen


# ------------------------------------------------------------------- determinism


def test_same_seed_same_bytes(tmp_path: Path, cluster: SimCluster) -> None:
    a = write_hubble(shop_cluster(SAMPLE_SEED, hours=2), tmp_path / "a", seed=3)
    b = write_hubble(shop_cluster(SAMPLE_SEED, hours=2), tmp_path / "b", seed=3)
    assert [p.name for p in a] == [p.name for p in b]
    for pa, pb in zip(a, b, strict=True):
        assert pa.read_bytes() == pb.read_bytes()
    c = write_hubble(shop_cluster(SAMPLE_SEED + 1, hours=2), tmp_path / "c", seed=4)
    assert any(pa.read_bytes() != pc.read_bytes() for pa, pc in zip(a, c, strict=True))


def test_cluster_is_deterministic() -> None:
    one, two = shop_cluster(11), shop_cluster(11)
    assert one.pods == two.pods
    assert one.edges == two.edges
    assert [p.labels for p in one.pods] == [p.labels for p in two.pods]


# ------------------------------------------------------------------- record shape


def test_record_shape(cluster: SimCluster, records: list[dict]) -> None:
    kinds = defaultdict(int)
    nodes = {n.name for n in cluster.nodes}
    for rec in records:
        assert rec["node_name"] in nodes
        assert TIME_RE.match(rec["time"]), rec["time"]
        (kind,) = set(rec) - {"node_name", "time"}
        kinds[kind] += 1
        if kind != "flow":
            continue
        f = rec["flow"]
        assert f["time"] == rec["time"] and f["node_name"] == rec["node_name"]
        assert f["verdict"] in ("FORWARDED", "REDIRECTED")
        assert f["IP"]["ipVersion"] == "IPv4"
        proto, l4 = _l4(f)
        assert proto in ("TCP", "UDP")
        if proto == "TCP" and f["Type"] == "L3_L4":
            assert l4["flags"] and set(l4["flags"]) <= {"SYN", "ACK", "PSH", "FIN"}
        assert f["Type"] in ("L3_L4", "L7")
        assert f["event_type"]["type"] in (4, 5, 129)
        if f["event_type"]["type"] == 4:
            point = f["trace_observation_point"]
            expected = {
                "TO_ENDPOINT": None,
                "TO_PROXY": 1,
                "TO_STACK": 3,
                "TO_OVERLAY": 4,
                "FROM_ENDPOINT": 5,
            }[point]
            assert f["event_type"].get("sub_type") == expected
        for side in ("source", "destination"):
            ep = f[side]
            for label in ep["labels"]:
                if label in RESERVED_IDS:
                    assert ep == {"identity": RESERVED_IDS[label], "labels": [label]}
            if "pod_name" in ep:
                pod = cluster.pod_by_name(ep["namespace"], ep["pod_name"])
                assert pod is not None
                # ID only for endpoints local to the observing node
                assert ("ID" in ep) == (pod.node == f["node_name"])
                assert ep["identity"] >= 256
    assert kinds["flow"] > 5000
    assert kinds["node_status"] == len(cluster.nodes)
    assert kinds["lost_events"] >= 1


def test_time_order(records: list[dict]) -> None:
    times = [r["time"] for r in records]
    # all timestamps have the same date and zone, so nanosecond padding makes them sortable
    padded = [t[:-1].ljust(29, "0") if "." in t else t[:-1] + ".000000000" for t in times]
    assert padded == sorted(padded)


def test_labels_and_pseudo_labels(cluster: SimCluster, flows: list[dict]) -> None:
    for f in flows:
        for side in ("source", "destination"):
            ep = f[side]
            if "pod_name" not in ep:
                continue
            labels = ep["labels"]
            assert labels == sorted(labels)
            assert all(lab.startswith("k8s:") for lab in labels)
            keys = {lab[4:].split("=", 1)[0] for lab in labels}
            ns = ep["namespace"]
            assert f"k8s:io.kubernetes.pod.namespace={ns}" in labels
            assert f"k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name={ns}" in labels
            assert f"k8s:io.cilium.k8s.policy.cluster={cluster.name}" in labels
            assert any(k == "io.cilium.k8s.policy.serviceaccount" for k in keys)
            assert not keys & {
                "pod-template-hash",
                "controller-revision-hash",
                "statefulset.kubernetes.io/pod-name",
            }
            pod = cluster.pod_by_name(ns, ep["pod_name"])
            assert pod is not None
            if pod.workload_kind == "StatefulSet":
                assert "workloads" not in ep
            else:
                assert ep["workloads"] == [{"name": pod.workload_name, "kind": pod.workload_kind}]


# ----------------------------------------------------------------- ground truth


def test_every_edge_is_seen_as_request(cluster: SimCluster, flows: list[dict]) -> None:
    seen = _requests(cluster, flows)
    assert set(seen) == set(cluster.edges)  # nothing missing, nothing invented
    for edge in cluster.edges:
        assert len(seen[edge]) >= 2, edge
        assert all(EPHEMERAL_PORTS[0] <= p <= EPHEMERAL_PORTS[1] for p in seen[edge])


def test_replies_have_swapped_ports(cluster: SimCluster, flows: list[dict]) -> None:
    edges = set(cluster.edges)
    replies = [f for f in flows if f.get("is_reply") is True and f["Type"] == "L3_L4"]
    assert len(replies) > 1000
    for f in replies:
        proto, l4 = _l4(f)
        server = _peer(cluster, f["source"], f["IP"]["source"])
        client = _peer(cluster, f["destination"], f["IP"]["destination"])
        assert SimEdge(client, server, proto, l4["source_port"]) in edges, f
        assert EPHEMERAL_PORTS[0] <= l4["destination_port"] <= EPHEMERAL_PORTS[1]
        if proto == "TCP" and l4["flags"].get("SYN"):
            assert l4["flags"].get("ACK")


def test_rows_without_is_reply(flows: list[dict]) -> None:
    unknown = [f for f in flows if "is_reply" not in f]
    assert unknown
    for f in unknown:
        assert f["trace_observation_point"] == "TO_OVERLAY"
        assert "traffic_direction" not in f
    ack_only = [f for f in unknown if _l4(f)[1].get("flags") == {"ACK": True}]
    assert ack_only, "some rows must be impossible to orient from flags"
    # both directions of a connection appear among them
    assert any(_l4(f)[1]["source_port"] < 10000 for f in unknown)
    assert any(_l4(f)[1]["destination_port"] < 10000 for f in unknown)


def test_reserved_peers(cluster: SimCluster, flows: list[dict]) -> None:
    node_ips = {n.ip for n in cluster.nodes}
    by_label = defaultdict(list)
    for f in flows:
        by_label[tuple(f["source"]["labels"])].append(f)
        by_label[tuple(f["destination"]["labels"])].append(f)
    probes = [f for f in by_label[("reserved:host",)] if f.get("is_reply") is False]
    assert probes
    for f in probes:
        assert f["IP"]["source"] in node_ips
        pod = cluster.pod_by_name(f["destination"]["namespace"], f["destination"]["pod_name"])
        assert pod is not None and cluster.node(pod.node).ip == f["IP"]["source"]
        assert f["node_name"] == pod.node
    world_in = [
        f
        for f in flows
        if f["source"]["labels"] == ["reserved:world"] and f.get("is_reply") is False
    ]
    assert len({f["IP"]["source"] for f in world_in}) >= 20
    for f in world_in:  # external -> pod is seen only on the server's node
        pod = cluster.pod_by_name(f["destination"]["namespace"], f["destination"]["pod_name"])
        assert pod is not None and f["node_name"] == pod.node
    assert by_label[("reserved:remote-node",)]
    api = by_label[("reserved:kube-apiserver",)]
    assert api and all(
        cluster.nodes[0].ip in (f["IP"]["source"], f["IP"]["destination"]) for f in api
    )


def test_dns(cluster: SimCluster, flows: list[dict]) -> None:
    dns_edges = [e for e in cluster.edges if e.dst == "kube-system/coredns" and e.port == 53]
    assert {e.protocol for e in dns_edges} == {"UDP", "TCP"}
    clients = {e.src for e in dns_edges if e.protocol == "UDP"}
    egress = {e.src for e in cluster.edges if "/" in e.src and e.dst != "kube-system/coredns"}
    assert egress - {"kube-system/coredns"} <= clients
    l7 = [f for f in flows if f["Type"] == "L7"]
    assert l7
    for f in l7:
        assert f["event_type"] == {"type": 129}
        assert f["l7"]["dns"]["query"].endswith(".")
        assert f["l4"]["UDP"]["destination_port" if not f["is_reply"] else "source_port"] == 53
    assert any("destination_names" in f for f in flows)
    assert any("destination_service" in f for f in flows)


# --------------------------------------------------------------- cluster traps


def test_rollout_two_replicasets(cluster: SimCluster, flows: list[dict]) -> None:
    pods = cluster.pods_of("shop/cart")
    hashes = {p.labels["pod-template-hash"] for p in pods}
    assert len(hashes) == 2
    for p in pods:
        h = p.labels["pod-template-hash"]
        assert re.fullmatch(f"{HASH}{{8,10}}", h)
        assert re.fullmatch(f"cart-{h}-{HASH}{{5}}", p.name)
        assert p.owner_kind == "ReplicaSet" and p.owner_name == f"cart-{h}"
        assert p.workload_kind == "Deployment" and p.workload_name == "cart"
    old = [p for p in pods if p.end is not None]
    new = [p for p in pods if p.end is None]
    assert old and new and {p.ip for p in old}.isdisjoint(p.ip for p in new)
    assert all(cluster.start < p.end < cluster.end for p in old)  # type: ignore[operator]
    assert all(cluster.start < p.start for p in new)
    assert len({p.labels["pod-template-hash"] for p in old}) == 1
    stripped = {
        tuple(sorted((k, v) for k, v in p.labels.items() if k != "pod-template-hash")) for p in pods
    }
    assert len(stripped) == 1  # same labels but the hash
    observed = {f[s].get("pod_name") for f in flows for s in ("source", "destination")}
    assert {p.name for p in pods} <= observed


def test_cronjob_two_jobs(cluster: SimCluster, flows: list[dict]) -> None:
    pods = cluster.pods_of("shop/report")
    assert len(pods) == 2
    jobs = {p.owner_name for p in pods}
    assert len(jobs) == 2
    for p in pods:
        assert p.workload_kind == "CronJob" and p.owner_kind == "Job"
        assert re.fullmatch(r"report-\d{8}", p.owner_name)
        assert re.fullmatch(f"{p.owner_name}-{HASH}{{5}}", p.name)
        assert p.end is not None and cluster.start <= p.start < p.end <= cluster.end
    seen = [f["source"] for f in flows if f["source"].get("pod_name", "").startswith("report-")]
    assert {ep["pod_name"] for ep in seen} == {p.name for p in pods}
    assert all(ep["workloads"] == [{"name": "report", "kind": "CronJob"}] for ep in seen)


def test_canary_and_shared_labels(cluster: SimCluster, flows: list[dict]) -> None:
    stable = cluster.pods_of("shop/catalog")[0].labels
    canary = cluster.pods_of("shop/catalog-canary")[0].labels
    assert stable["app"] == canary["app"] == "catalog"
    assert (stable["track"], canary["track"]) == ("stable", "canary")
    backend = {p.workload for p in cluster.pods if p.labels.get("tier") == "backend"}
    assert len(backend) >= 2
    seen = _requests(cluster, flows)
    assert seen[SimEdge("shop/frontend", "shop/catalog", "TCP", 8080)]
    assert seen[SimEdge("shop/frontend", "shop/catalog-canary", "TCP", 8080)]


def test_namespaces_and_nodes(cluster: SimCluster) -> None:
    assert {"shop", "data", "ingress-nginx", "kube-system", "monitoring"} <= set(cluster.namespaces)
    for ns, labels in cluster.namespaces.items():
        assert labels["kubernetes.io/metadata.name"] == ns
    assert 2 <= len(cluster.nodes) <= 3
    assert cluster.pods_of("kube-system/coredns")[0].labels["k8s-app"] == "kube-dns"
    assert [p.name for p in cluster.pods_of("data/postgres")] == ["postgres-0", "postgres-1"]
    assert len({p.ip for p in cluster.pods}) == len(cluster.pods)


def test_connection_counts(cluster: SimCluster) -> None:
    counts = connection_counts(cluster, seed=SAMPLE_SEED)
    assert set(counts) == set(cluster.edges)
    assert min(counts.values()) >= 2


def test_single_file(tmp_path: Path) -> None:
    paths = write_hubble(shop_cluster(5, hours=1), tmp_path, seed=5, files_per_node=False)
    assert [p.name for p in paths] == ["hubble.jsonl.gz"]
    with gzip.open(paths[0], "rt") as fh:
        nodes = {json.loads(line)["node_name"] for line in fh}
    assert len(nodes) == 3
