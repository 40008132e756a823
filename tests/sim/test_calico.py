"""The Calico Enterprise rendering of the simulated shop: same connections as the Hubble
rendering (edges, pods, labels, ports, counts), Calico's own shape (reporter pairs, windows,
endpoint types, aggregation levels), and the same recommendation."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from recommender.connections import build_connections, observed_pods
from recommender.generate.k8s import to_yaml
from recommender.ingest import read_flows
from recommender.pipeline import recommend
from recommender.sim import connection_counts, shop_cluster, write_hubble
from recommender.sim.calico import WINDOW_SECONDS, calico_records, write_calico
from recommender.workloads import assign_workloads, workload_connections


@pytest.fixture(scope="module")
def cluster():
    return shop_cluster(seed=7, hours=1.0)


def edge_flows(paths) -> tuple[dict, object]:
    """(src workload | ip | "node", dst workload | ip, protocol, port) -> flows, from the
    files through ingest, the connections stage and the workloads stage."""
    fs = read_flows(paths)
    assert fs.counts.balanced() and fs.counts.rejected_total == 0, fs.counts
    conns = build_connections(fs.table)
    pods = assign_workloads(observed_pods(fs.table))
    wc = workload_connections(conns.table, pods)
    out: Counter = Counter()
    for r in wc.itertuples(index=False):
        src = r.src_id if r.src_type in ("workload", "external") else r.src_type
        out[(src, r.dst_id, r.protocol, int(r.port))] += int(r.flows)
    return dict(out), (fs, conns, pods)


@pytest.mark.parametrize("aggregation", [0, 1])
def test_every_edge_with_its_connection_count(cluster, tmp_path, aggregation):
    paths = write_calico(cluster, tmp_path, seed=7, aggregation=aggregation)
    got, (fs, conns, pods) = edge_flows(paths)
    want = {(e.src, e.dst, e.protocol, e.port) for e in cluster.edges}
    assert set(got) == want
    assert not conns.excluded
    # Both ends report pod -> pod connections, yet each connection counts once: at level 0
    # by 5-tuple, at level 1 (aggregates) by the counting-reporter rule.
    counts = connection_counts(cluster, seed=7)
    assert {(e.src, e.dst, e.protocol, e.port): n for e, n in counts.items()} == got
    # Pods: exact names, full Kubernetes labels, workloads as the simulator has them.
    truth = {(p.namespace, p.name): p for p in cluster.pods}
    for row in pods.itertuples(index=False):
        pod = truth[(row.namespace, row.pod)]
        assert row.labels == pod.labels
        assert (row.namespace + "/" + row.workload_name) == pod.workload
        assert row.workload_kind == pod.workload_kind


def test_record_shape(cluster):
    records = list(calico_records(cluster, seed=7))
    assert records == list(calico_records(cluster, seed=7))  # deterministic
    by = Counter((r["source_type"], r["dest_type"], r["reporter"]) for r in records)
    # pod -> pod twice (src and dst); probes and SNATed LB traffic from host endpoints and
    # Internet clients only by the pod's node; the API server (hep) and external services
    # only by the client's node.
    assert set(by) == {
        ("wep", "wep", "src"),
        ("wep", "wep", "dst"),
        ("hep", "wep", "dst"),
        ("net", "wep", "dst"),
        ("wep", "hep", "src"),
        ("wep", "net", "src"),
    }
    assert by[("wep", "wep", "src")] == by[("wep", "wep", "dst")]
    for r in records:
        assert r["end_time"] - r["start_time"] == WINDOW_SECONDS
        assert r["start_time"] % WINDOW_SECONDS == 0
        assert r["num_flows"] >= 1 and r["action"] == "allow"
        for side in ("source", "dest"):
            if r[f"{side}_type"] == "wep":
                assert r[f"{side}_name_aggr"].endswith("-*")
                assert r[f"{side}_name"].startswith(r[f"{side}_name_aggr"][:-1])
                assert r[f"{side}_labels"]["labels"] == sorted(r[f"{side}_labels"]["labels"])
            elif r[f"{side}_type"] == "hep":
                assert r[f"{side}_name"].endswith("-auto-hep") and r[f"{side}_ip"]
            else:
                assert r[f"{side}_name_aggr"] in ("pub", "pvt") and r[f"{side}_ip"]
    dns = [r for r in records if r["dest_port"] == 53 and r["proto"] == "udp"]
    assert dns and {r["dest_service_name"] for r in dns} == {"kube-dns", "-"}
    upstream = [r for r in dns if r["dest_type"] == "net"]
    assert {r["dest_name_aggr"] for r in upstream} == {"pvt"}  # 172.18.0.1
    external = [r for r in records if r["dest_domains"]]
    assert external and all(r["reporter"] == "src" for r in external)
    # Counters are relative to the reporter: the src half's out is the dst half's in.
    pairs = {}
    for r in records:
        if r["source_type"] == r["dest_type"] == "wep":
            key = (r["start_time"], r["source_name"], r["source_port"], r["dest_name"])
            pairs.setdefault(key, {})[r["reporter"]] = r
    for pair in pairs.values():
        assert pair["src"]["packets_out"] == pair["dst"]["packets_in"]
        assert pair["src"]["bytes_in"] == pair["dst"]["bytes_out"]


def test_level2_folds_pods_into_prefixes(cluster, tmp_path):
    records = list(calico_records(cluster, seed=7, aggregation=2))
    assert len(records) < len(list(calico_records(cluster, seed=7)))
    for r in records:
        assert r["source_ip"] is None and r["dest_ip"] is None and r["source_port"] is None
        for side in ("source", "dest"):
            if r[f"{side}_type"] == "wep":
                assert r[f"{side}_name"] == "-"
    frontend = [r for r in records if r["source_name_aggr"].startswith("frontend-")]
    # labels are the intersection over the folded pods
    assert all("app.kubernetes.io/name=frontend" in r["source_labels"]["labels"] for r in frontend)
    paths = write_calico(cluster, tmp_path, seed=7, aggregation=2)
    fs = read_flows(paths)
    assert fs.counts.normalized == len(records) and fs.counts.rejected_total == 0
    t = fs.table.to_pydict()
    assert all(t["aggregated"])
    assert not any(t["src_pod"][i] for i in range(len(records)) if t["src_kind"][i] == "pod")
    wl = {
        (t["src_workload_kind"][i], t["src_workload_name"][i])
        for i in range(len(records))
        if t["src_kind"][i] == "pod"
    }
    assert ("Deployment", "frontend") in wl and ("Job", None) not in wl
    # Level 3 drops the destination port as well.
    assert all(r["dest_port"] is None for r in calico_records(cluster, seed=7, aggregation=3))
    with pytest.raises(ValueError):
        list(calico_records(cluster, aggregation=4))


def test_files_per_node(cluster, tmp_path):
    paths = write_calico(cluster, tmp_path, seed=7)
    hosting = [n.name for n in cluster.nodes if any(p.node == n.name for p in cluster.pods)]
    assert [p.name for p in paths] == [f"calico-flows-{n}.log" for n in hosting]
    lines = [json.loads(x) for p in paths for x in p.read_text().splitlines()]
    assert len(lines) == len(list(calico_records(cluster, seed=7)))


def test_same_recommendation_as_hubble(cluster, tmp_path):
    hubble = recommend(write_hubble(cluster, tmp_path / "hubble", seed=7))
    calico = recommend(write_calico(cluster, tmp_path / "calico", seed=7))
    assert calico.coverage == 1.0 and calico.breadth.total == hubble.breadth.total
    assert [to_yaml(p) for p in calico.policies] == [to_yaml(p) for p in hubble.policies]
