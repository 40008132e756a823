"""The AWS VPC Flow Logs rendering of the simulated shop: read back, enriched with the
cluster's inventory, it gives exactly the ground-truth connections, like the Hubble one."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from recommender.connections import build_connections, observed_pods
from recommender.ingest import read_flows
from recommender.ingest.enrich import EnrichStats, enrich_flows
from recommender.ingest.inventory import enrich_pods, read_inventory
from recommender.sim import GRPC_PORT, connection_counts, kubectl_inventory, shop_cluster
from recommender.sim.aws_vpc import aws_vpc_fields, aws_vpc_lines, write_aws_vpc
from recommender.workloads import assign_workloads, workload_connections

SEED = 7


@pytest.fixture(scope="module")
def cluster():
    return shop_cluster(SEED)


def snapshots(cluster, d: Path):
    """Two snapshots: the window's start (the cart pods replaced by the rollout) and its end
    (the new cart pods and the finished CronJob pods). Pod IPs are never reused here."""
    paths = []
    for name, at in (("start", cluster.start), ("end", cluster.end)):
        path = d / f"{name}.json"
        path.write_text(json.dumps(kubectl_inventory(cluster, at=at)))
        paths.append(path)
    return read_inventory(paths)


@pytest.fixture(scope="module")
def inventory(cluster, tmp_path_factory):
    return snapshots(cluster, tmp_path_factory.mktemp("inv"))


def edges_seen(flows, inventory) -> set[tuple]:
    """(src workload | address | "node", dst workload | address, protocol, port)."""
    conns = build_connections(flows)
    pods = assign_workloads(enrich_pods(observed_pods(flows), inventory))
    w = workload_connections(conns.table, pods)
    return {
        (
            "node" if r.src_type == "node" else r.src_id,
            r.dst_id,
            r.protocol,
            int(r.port),
        )
        for r in w.itertuples(index=False)
    }


@pytest.mark.parametrize("version", [5, 2])
def test_same_connections_as_the_ground_truth(cluster, inventory, tmp_path, version):
    paths = write_aws_vpc(cluster, tmp_path, seed=SEED, version=version)
    assert len(paths) == len(cluster.nodes)
    fs = read_flows(paths)
    c = fs.counts
    assert c.balanced() and c.rejected_total == 0
    headers = len(paths) if version > 2 else 0
    assert dict(c.filtered) == {
        "log-status NODATA": len(paths),
        **({"header line": headers} if headers else {}),
    }
    assert set(fs.table.column("source_format").to_pylist()) == {"aws-vpc"}
    # Every record is oriented: by tcp-flags (v5), else by the file's listener statistics,
    # else (the weakest) by pairing the two halves by their ports.
    how = Counter(dict(x)["orientation"] for x in fs.table.column("extra").to_pylist())
    if version == 5:
        # UDP and connections open before the window (no SYN) have no flags.
        assert set(how) <= {"tcp-flags", "paired tcp-flags", "listener statistics", "paired ports"}
        assert how["tcp-flags"] > how["listener statistics"] > how["paired ports"] > 0
    else:
        assert set(how) == {"listener statistics", "paired ports"}
        assert how["listener statistics"] > how["paired ports"]
    stats = EnrichStats()
    flows = enrich_flows(fs.table, inventory, stats=stats)
    assert set(stats.endpoints) == {"pod", "node", "external"}
    # The declared container ports confirm the statistics (they never contradict them here)
    # and leave the TCP flags alone.
    assert stats.orientation and all("confirmed" in k for k in stats.orientation)
    after = Counter(dict(x)["orientation"] for x in flows.column("extra").to_pylist())
    assert after["tcp-flags"] == how["tcp-flags"]
    assert after["inventory containerPort"] == sum(stats.orientation.values())
    want = {(e.src, e.dst, e.protocol, e.port) for e in cluster.edges}
    assert edges_seen(flows, inventory) == want
    # Each connection is a request and a reply per ENI and window: half are replies.
    excluded = build_connections(flows).excluded
    assert excluded == {"reply half of a connection (never a rule)": fs.table.num_rows // 2}


def test_one_object_for_the_whole_vpc(cluster, inventory, tmp_path):
    lines = list(aws_vpc_lines(cluster, seed=SEED, version=3))
    assert lines[0] == " ".join(aws_vpc_fields(3))
    path = tmp_path / "vpc.log"
    path.write_text("\n".join(lines) + "\n")
    fs = read_flows([path])
    flows = enrich_flows(fs.table, inventory)
    assert edges_seen(flows, inventory) == {
        (e.src, e.dst, e.protocol, e.port) for e in cluster.edges
    }
    # The ENI shows the node's address for its pods; pkt-* the pod's, which the parser uses.
    pods = {p.ip for p in cluster.pods}
    nodes = {n.ip for n in cluster.nodes}
    extra = [dict(x) for x in fs.table.column("extra").to_pylist()]
    hidden = [x for x in extra if x.get("srcaddr") in nodes]
    assert hidden
    src = fs.table.column("src_ip").to_pylist()
    assert all(src[i] in pods for i, x in enumerate(extra) if x.get("srcaddr") in nodes)


def test_end_snapshot_alone_misses_the_replaced_pods(cluster, tmp_path):
    path = tmp_path / "end.json"
    path.write_text(json.dumps(kubectl_inventory(cluster)))
    fs = read_flows(write_aws_vpc(cluster, tmp_path / "logs", seed=SEED))
    stats = EnrichStats()
    enrich_flows(fs.table, read_inventory([path]), stats=stats)
    # The old cart pods are gone from the end-of-window snapshot: their addresses are in a
    # node's pod range but no known pod's, so they stay unattributed.
    assert stats.endpoints["cluster_unknown: in a pod range, no pod known"] > 0


def test_deterministic_files_with_headers(cluster, tmp_path):
    a = write_aws_vpc(cluster, tmp_path / "a", seed=SEED)
    b = write_aws_vpc(cluster, tmp_path / "b", seed=SEED)
    assert [p.name for p in a] == [p.name for p in b]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b, strict=True))
    for path in a:
        text = gzip.decompress(path.read_bytes()).decode().splitlines()
        assert text[0] == " ".join(aws_vpc_fields(5))
        assert text[1].split()[13] == "NODATA"
        eni = {line.split()[2] for line in text[1:]}
        assert len(eni) == 1 and path.name.endswith(f"_{eni.pop()}.log.gz")
    other = list(aws_vpc_lines(cluster, seed=SEED + 1))
    assert other != list(aws_vpc_lines(cluster, seed=SEED))
    with pytest.raises(ValueError):
        aws_vpc_fields(6)


def test_every_planned_connection_is_rendered(cluster):
    """Requests (SYN, or the client's first record) per connection, counted on one ENI."""
    planned = sum(connection_counts(cluster, seed=SEED).values())
    fields = aws_vpc_fields(5)
    at = {f: i for i, f in enumerate(fields)}
    keys = set()
    for line in list(aws_vpc_lines(cluster, seed=SEED))[1:]:
        v = line.split()
        if v[at["log-status"]] != "OK":
            continue
        a = (v[at["pkt-srcaddr"]], v[at["srcport"]])
        b = (v[at["pkt-dstaddr"]], v[at["dstport"]])
        keys.add((v[at["protocol"]], *sorted([a, b])))
    assert len(keys) == planned


def test_files_are_gzip_or_plain(cluster, tmp_path):
    plain = write_aws_vpc(cluster, tmp_path, seed=SEED, version=2, gzip=False)
    assert all(p.suffix == ".log" for p in plain)
    first = Path(plain[0]).read_text().splitlines()[0].split()
    assert len(first) == 14 and first[0] == "2"


@pytest.fixture(scope="module")
def grpc_cluster():
    return shop_cluster(SEED, hours=2.0, grpc=True)


def grpc_records(table) -> list[dict]:
    return [r for r in table.to_pylist() if GRPC_PORT in (r["src_port"], r["dst_port"])]


def test_grpc_on_an_ephemeral_port_is_oriented_by_evidence(grpc_cluster, tmp_path):
    """shop/recommendations serves gRPC on 50051, inside the ephemeral range its clients use:
    the default format (no TCP flags) cannot tell server from client by port."""
    inv = snapshots(grpc_cluster, tmp_path)
    fs = read_flows(write_aws_vpc(grpc_cluster, tmp_path / "logs", seed=SEED, version=2))
    before = grpc_records(fs.table)
    assert before
    # Without an inventory: listener statistics, where a file holds enough of its
    # connections; never the port heuristic (both ports are ephemeral), never backwards.
    how = Counter(dict(r["extra"]).get("orientation", "unknown") for r in before)
    assert how["listener statistics"] > 0 and set(how) <= {"listener statistics", "unknown"}
    assert all(
        r["is_reply"] == (r["src_port"] == GRPC_PORT) for r in before if r["is_reply"] is not None
    )
    # With the inventory: the declared containerPort orients every record.
    stats = EnrichStats()
    flows = enrich_flows(fs.table, inv, stats=stats)
    after = grpc_records(flows)
    assert len(after) == len(before)
    assert {dict(r["extra"])["orientation"] for r in after} == {"inventory containerPort"}
    assert all(r["is_reply"] == (r["src_port"] == GRPC_PORT) for r in after)
    assert {(r["src_workload_name"], r["dst_workload_name"]) for r in after} == {
        ("frontend", "recommendations"),
        ("recommendations", "frontend"),
    }
    was_unknown = stats.orientation["inventory containerPort: oriented (was unknown)"]
    assert was_unknown >= how["unknown"]
    conns = build_connections(flows)
    assert not [k for k in conns.excluded if k.startswith("orientation unknown")]
    edge = ("shop/frontend", "shop/recommendations", "TCP", GRPC_PORT)
    assert edge in edges_seen(flows, inv)
    assert edges_seen(flows, inv) == {
        (e.src, e.dst, e.protocol, e.port) for e in grpc_cluster.edges
    }
