"""IP enrichment through the inventory: pods, nodes (host network, dirty node lists), Services,
addresses reused over time, and logs that already name their endpoints (Hubble)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from conftest import REAL_FLOWS, address, flow, flows_table, pod

from recommender.accounting import RecordCounts
from recommender.connections import build_connections
from recommender.ingest import read_flows
from recommender.ingest.aws_vpc import DEFAULT_FIELDS
from recommender.ingest.enrich import EnrichStats, enrich_flows
from recommender.ingest.inventory import read_inventory
from recommender.schema import FLOW_SCHEMA

INV = REAL_FLOWS / "k8s-inventory"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def epoch(when: datetime) -> int:
    return int(when.timestamp())


def rfc3339(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def aws_line(src, dst, sport=40000, dport=80, proto=6, at=T0) -> str:
    v = {
        "version": "2",
        "account-id": "123456789010",
        "interface-id": "eni-1235b8ca123456789",
        "srcaddr": src,
        "dstaddr": dst,
        "srcport": str(sport),
        "dstport": str(dport),
        "protocol": str(proto),
        "packets": "3",
        "bytes": "180",
        "start": str(epoch(at)),
        "end": str(epoch(at) + 5),
        "action": "ACCEPT",
        "log-status": "OK",
    }
    return " ".join(v[f] for f in DEFAULT_FIELDS)


def aws_flows(tmp_path: Path, lines: list[str]):
    path = tmp_path / "flows.log"
    path.write_text("\n".join(lines) + "\n")
    return read_flows([path]).table


def inventory(tmp_path: Path, items: list[dict], name: str = "inv.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return path


def kpod(name, ip, *, ns="shop", labels=None, owner=None, ports=(), **meta) -> dict:
    m = {"name": name, "namespace": ns, "labels": labels or {"app": name.split("-")[0]}}
    if owner:
        m["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    m.update(meta)
    return {
        "kind": "Pod",
        "metadata": m,
        "spec": {
            "nodeName": "node-1",
            "serviceAccountName": "sa-" + name.split("-")[0],
            "containers": [
                {"name": "c", "ports": [{"name": n, "containerPort": p} for n, p in ports]}
            ],
        },
        "status": {"phase": "Running", "podIP": ip, "hostIP": "192.168.0.10"},
    }


NODE = {
    "kind": "Node",
    "metadata": {"name": "node-1"},
    "spec": {"podCIDR": "10.1.0.0/24"},
    "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.10"}]},
}


def as_requests(table: pa.Table) -> pa.Table:
    """Lone v2 records have no orientation: mark them requests for the connection stage."""
    i = table.schema.get_field_index("is_reply")
    return table.set_column(i, FLOW_SCHEMA.field("is_reply"), pa.array([False] * len(table)))


def side(table: pa.Table, name: str) -> list[tuple]:
    cols = [f"{name}_{c}" for c in ("kind", "namespace", "pod", "workload_kind", "workload_name")]
    return [tuple(r.values()) for r in table.select(cols).to_pylist()]


# --------------------------------------------------------------------------- real inventory


def test_real_honeycomb_inventory(tmp_path):
    inv = read_inventory([INV / "honeycomb-nodes.json", INV / "honeycomb-pods.json"])
    flows = aws_flows(
        tmp_path,
        [
            aws_line("192.168.1.91", "10.10.238.75", dport=3000),  # host network -> grafana
            aws_line("10.9.150.105", "10.10.238.89", dport=9090),  # shared node IP -> agent
            aws_line("10.10.238.73", "8.8.8.8", dport=53, proto=17),  # pod -> Internet
            aws_line("10.10.238.83", "10.10.0.1", dport=443),  # pod -> unknown private
        ],
    )
    stats = EnrichStats()
    out = enrich_flows(flows, inv, stats=stats)
    assert out.schema == FLOW_SCHEMA
    assert side(out, "src") == [
        ("node", None, None, None, None),
        ("node", None, None, None, None),
        (
            "pod",
            "nginx",
            "nginx-ingress-default-backend-5b967cf596-pp4m9",
            "Deployment",
            "nginx-ingress-default-backend",
        ),
        ("pod", "default", "kuard-6b65d9d8b5-44bbs", "Deployment", "kuard"),
    ]
    assert side(out, "dst") == [
        ("pod", "olly", "grafana-7db5dff8ff-vwrnf", "Deployment", "grafana"),
        ("pod", "test", "honeycomb-agent-59mqh", "DaemonSet", "honeycomb-agent"),
        ("external", None, None, None, None),
        ("external", None, None, None, None),  # no podCIDR known: a private peer
    ]
    grafana = out.slice(0, 1).to_pylist()[0]
    assert dict(grafana["dst_labels"])["pod-template-hash"] == "7db5dff8ff"
    assert grafana["dst_labels"] == sorted(grafana["dst_labels"])
    assert grafana["dst_namespace_labels"] == [("kubernetes.io/metadata.name", "olly")]
    assert grafana["dst_ip"] == "10.10.238.75" and grafana["dst_port"] == 3000
    assert stats.endpoints == {"node": 2, "pod": 4, "external": 2}
    # The pod range, when the caller knows it, keeps unknown pod addresses out of rules.
    again = enrich_flows(flows, inv, cluster_cidrs=["10.10.0.0/16"])
    assert side(again, "dst")[3][0] == "cluster_unknown"


# --------------------------------------------------------------------------- time


def test_address_reused_over_time(tmp_path):
    items = [
        NODE,
        kpod(
            "old-7d4b9c8f6-abcde",
            "10.1.0.5",
            owner=("ReplicaSet", "old-7d4b9c8f6"),
            creationTimestamp=rfc3339(T0 - timedelta(hours=2)),
            deletionTimestamp=rfc3339(T0 - timedelta(hours=1)),
        ),
        kpod(
            "new-5f6d7c8b9-fghjk",
            "10.1.0.5",
            owner=("ReplicaSet", "new-5f6d7c8b9"),
            creationTimestamp=rfc3339(T0),
        ),
        kpod("a-1", "10.1.0.9", labels={"app": "a"}),
        kpod("b-1", "10.1.0.9", labels={"app": "b"}),
    ]
    inv = read_inventory([inventory(tmp_path, items)])
    assert inv.conflicts == [
        "address 10.1.0.5 was reused over time: shop/old-7d4b9c8f6-abcde "
        "(2026-03-01T10:00:00Z to 2026-03-01T11:00:30Z), shop/new-5f6d7c8b9-fghjk "
        "(2026-03-01T12:00:00Z to ?)",
        "address 10.1.0.9 is claimed by pods shop/a-1, shop/b-1 at overlapping or unknown "
        "times: flows to it stay unattributed",
    ]
    client = "10.1.0.77"
    flows = aws_flows(
        tmp_path,
        [
            aws_line(client, "10.1.0.5", at=T0 - timedelta(minutes=90)),  # old pod's time
            aws_line(client, "10.1.0.5", at=T0 - timedelta(seconds=40)),  # 30 s grace over
            aws_line(client, "10.1.0.5", at=T0 + timedelta(minutes=5)),  # new pod's time
            aws_line(client, "10.1.0.9"),  # two pods at once
        ],
    )
    stats = EnrichStats()
    out = enrich_flows(flows, inv, stats=stats)
    assert [k for k, *_ in side(out, "dst")] == ["pod", "cluster_unknown", "pod", "cluster_unknown"]
    assert [p for _, _, p, *_ in side(out, "dst")] == [
        "old-7d4b9c8f6-abcde",
        None,
        "new-5f6d7c8b9-fghjk",
        None,
    ]
    assert stats.endpoints == {
        "cluster_unknown: in a pod range, no pod known": 4,  # the client
        "pod": 2,
        "cluster_unknown: no pod held the address then": 1,
        "cluster_unknown: several pods held the address": 1,
    }
    assert stats.examples == [
        "10.1.0.5 at 2026-03-01T11:59:20Z: no pod alive (shop/new-5f6d7c8b9-fghjk, "
        "shop/old-7d4b9c8f6-abcde)",
        "10.1.0.9 at 2026-03-01T12:00:00Z: claimed by (shop/a-1, shop/b-1)",
    ]
    # Only the attributed records name a pod; the others stay anonymous addresses.
    conns = build_connections(as_requests(out)).table
    assert set(conns["dst_kind"]) == {"pod", "cluster_unknown"}
    assert conns[conns["dst_kind"] == "pod"]["dst_pod"].tolist() == [
        "new-5f6d7c8b9-fghjk",
        "old-7d4b9c8f6-abcde",
    ]


def test_snapshots_merge_pods_that_came_and_went(tmp_path):
    early = inventory(tmp_path, [NODE, kpod("web-1", "10.1.0.5")], "early.json")
    late = inventory(
        tmp_path,
        [NODE, kpod("web-2", "10.1.0.6"), kpod("job-x", "10.1.0.7")],
        "late.json",
    )
    inv = read_inventory([early, late])
    assert inv.pods["pod"].tolist() == ["job-x", "web-1", "web-2"]
    flows = aws_flows(tmp_path, [aws_line("10.1.0.5", "10.1.0.6"), aws_line("10.1.0.7", "1.1.1.1")])
    out = enrich_flows(flows, inv)
    assert [p for _, _, p, *_ in side(out, "src")] == ["web-1", "job-x"]
    assert inv.conflicts == []


# --------------------------------------------------------------------------- services


def service(name, ip, port, target, selector=None, ns="shop", port_name="http") -> dict:
    spec = {
        "clusterIP": ip,
        "ports": [{"name": port_name, "port": port, "targetPort": target, "protocol": "TCP"}],
    }
    if selector is not None:
        spec["selector"] = selector
    return {"kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def _service_items() -> list[dict]:
    return [
        NODE,
        kpod(
            "web-7d4b9c8f6-bbbbb",
            "10.1.0.12",
            owner=("ReplicaSet", "web-7d4b9c8f6"),
            ports=[("http", 8080)],
        ),
        kpod(
            "web-7d4b9c8f6-aaaaa",
            "10.1.0.11",
            owner=("ReplicaSet", "web-7d4b9c8f6"),
            ports=[("http", 8080)],
        ),
        service("web", "10.96.0.20", 80, "http", {"app": "web"}),
        # No selector: the backends come from the EndpointSlice.
        kpod("api-0", "10.1.0.21", labels={"app": "api"}, owner=("StatefulSet", "api")),
        service("api", "10.96.0.21", 9000, 9000, port_name="grpc"),
        {
            "kind": "EndpointSlice",
            "metadata": {
                "name": "api-x1",
                "namespace": "shop",
                "labels": {"kubernetes.io/service-name": "api"},
            },
            "addressType": "IPv4",
            "endpoints": [
                {
                    "addresses": ["10.1.0.21"],
                    "conditions": {"ready": True},
                    "targetRef": {"kind": "Pod", "name": "api-0", "namespace": "shop"},
                }
            ],
            "ports": [{"name": "grpc", "port": 9443, "protocol": "TCP"}],
        },
        # A canary behind the same Service: no single workload to name.
        kpod(
            "cat-1",
            "10.1.0.31",
            labels={"app": "cat", "track": "stable"},
            owner=("StatefulSet", "cat"),
        ),
        kpod(
            "catcanary-1",
            "10.1.0.32",
            labels={"app": "cat", "track": "canary"},
            owner=("StatefulSet", "catcanary"),
        ),
        service("cat", "10.96.0.22", 80, 8080, {"app": "cat"}),
    ]


@pytest.fixture
def via_services(tmp_path) -> tuple[pa.Table, EnrichStats]:
    """Flows from one client to three Service ClusterIPs (and a port none of them has),
    enriched through the inventory of _service_items: (enriched table, stats)."""
    inv = read_inventory([inventory(tmp_path, _service_items())])
    assert inv.rejected == [] and len(inv.services) == 3
    client = "10.1.0.99"
    flows = aws_flows(
        tmp_path,
        [
            aws_line(client, "10.96.0.20", dport=80),
            aws_line(client, "10.96.0.21", dport=9000),
            aws_line(client, "10.96.0.22", dport=80),
            aws_line(client, "10.96.0.20", dport=81),  # no such service port
        ],
    )
    stats = EnrichStats()
    return enrich_flows(flows, inv, stats=stats), stats


def test_cluster_ip_to_backend(via_services):
    out, _ = via_services
    got = out.select(
        [
            "dst_kind",
            "dst_pod",
            "dst_ip",
            "dst_port",
            "dst_ip_original",
            "dst_port_original",
            "dst_service_namespace",
            "dst_service_name",
            "dst_service_port_name",
            "dst_service_port",
        ]
    ).to_pylist()
    assert [tuple(r.values()) for r in got] == [
        # the first backend by name; the named targetPort resolved on the pod
        (
            "pod",
            "web-7d4b9c8f6-aaaaa",
            "10.1.0.11",
            8080,
            "10.96.0.20",
            80,
            "shop",
            "web",
            "http",
            80,
        ),
        ("pod", "api-0", "10.1.0.21", 9443, "10.96.0.21", 9000, "shop", "api", "grpc", 9000),
        ("service", None, "10.96.0.22", 80, "10.96.0.22", 80, "shop", "cat", "http", 80),
        ("service", None, "10.96.0.20", 81, "10.96.0.20", 81, "shop", "web", None, 81),
    ]
    assert side(out, "dst")[0][3:] == ("Deployment", "web")


def test_cluster_ip_stats_count_each_outcome(via_services):
    _, stats = via_services
    assert stats.endpoints == {
        "pod (service backend)": 2,
        "service: backends in several workloads": 1,
        "service: no such service port": 1,
        "cluster_unknown: in a pod range, no pod known": 4,
    }


def test_unmapped_service_addresses_are_set_aside_as_pre_dnat(via_services):
    out, _ = via_services
    # Taken as requests, the unmapped ones are set aside as pre-DNAT.
    conns = build_connections(as_requests(out))
    assert conns.excluded == {
        "pre-DNAT service address (the backend record carries the connection)": 2
    }
    assert sorted(zip(conns.table["dst_pod"], conns.table["port"], strict=True)) == [
        ("api-0", 9443),
        ("web-7d4b9c8f6-aaaaa", 8080),
    ]


# --------------------------------------------------------------------------- named logs


def test_fills_only_what_the_log_lacks(tmp_path):
    items = [
        NODE,
        kpod(
            "web-0",
            "10.1.0.5",
            labels={"app": "web", "tier": "front"},
            owner=("StatefulSet", "web"),
        ),
        kpod("db-0", "10.1.0.6", labels={"app": "db"}, owner=("StatefulSet", "db")),
        {"kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "a"}}},
    ]
    inv = read_inventory([inventory(tmp_path, items)])
    web_unknown_labels = {**pod("shop", "web-0", {}, "10.1.0.5"), "labels": None}
    web_stated = pod("shop", "web-0", {"app": "web"}, "10.1.0.5")
    rows = [
        flow(web_unknown_labels, address("10.1.0.6", kind="cluster_unknown", reserved=None), 5432),
        flow(web_stated, address("10.1.0.200", kind="cluster_unknown", reserved=None), 5432),
        flow(web_stated, address("10.1.0.6"), 5432),  # Cilium says world: kept
        flow(
            web_stated,
            {**address("10.1.0.6", kind="cluster_unknown", reserved=None), "namespace": "other"},
            5432,
        ),
    ]
    table = flows_table(rows)
    stats = EnrichStats()
    out = enrich_flows(table, inv, stats=stats)
    r = out.to_pylist()
    # Unknown labels are filled (all of them), stated ones are kept as the log has them.
    assert dict(r[0]["src_labels"]) == {"app": "web", "tier": "front"}
    assert dict(r[1]["src_labels"]) == {"app": "web"}
    assert r[1]["src_namespace_labels"] == [("kubernetes.io/metadata.name", "shop")]
    assert (r[1]["src_workload_kind"], r[1]["src_workload_name"]) == ("StatefulSet", "web")
    assert r[1]["src_service_account"] == "sa-web"
    # An address the log calls cluster_unknown becomes the pod; an unknown one stays
    # cluster_unknown (never "external"); the log's "world" and namespace win.
    assert [x[:3] for x in side(out, "dst")] == [
        ("pod", "shop", "db-0"),
        ("cluster_unknown", None, None),
        ("external", None, None),
        ("cluster_unknown", "other", None),
    ]
    assert stats.endpoints == {
        "pod (named by the log): metadata filled": 4,
        "pod": 1,
        "kept: the log names another namespace or pod": 1,
    }
    # Idempotent, and FLOW_SCHEMA in and out.
    assert enrich_flows(out, inv).equals(out)
    assert out.schema == FLOW_SCHEMA


def test_batches_and_empty_tables(tmp_path):
    inv = read_inventory([inventory(tmp_path, [NODE, kpod("web-0", "10.1.0.5")])])
    table = aws_flows(tmp_path, [aws_line("10.1.0.5", "9.9.9.9")])
    whole = enrich_flows(table, inv)
    batch = enrich_flows(table.to_batches()[0], inv)
    assert isinstance(batch, pa.RecordBatch)
    assert pa.Table.from_batches([batch]).equals(whole.combine_chunks())
    empty = FLOW_SCHEMA.empty_table()
    assert enrich_flows(empty, inv) is empty
    # Several chunks with different dictionaries.
    two = pa.concat_tables([table, aws_flows(tmp_path, [aws_line("9.9.9.8", "10.1.0.5")])])
    out = enrich_flows(two, inv)
    assert [k for k, *_ in side(out, "src")] == ["pod", "external"]
    assert [k for k, *_ in side(out, "dst")] == ["external", "pod"]


@pytest.mark.parametrize("bad", [{"podIP": "not-an-ip"}, {"podIP": None}])
def test_pods_without_usable_addresses_are_ignored(tmp_path, bad):
    p = kpod("web-0", "10.1.0.5")
    p["status"].update(bad)
    inv = read_inventory([inventory(tmp_path, [NODE, p])])
    out = enrich_flows(aws_flows(tmp_path, [aws_line("10.1.0.5", "9.9.9.9")]), inv)
    assert side(out, "src")[0][0] == "cluster_unknown"


# --------------------------------------------------------------------------- orientation


def _listener_items() -> list[dict]:
    return [
        NODE,
        kpod("api-0", "10.1.0.5", ports=[("grpc", 50051)]),  # gRPC in the ephemeral range
        kpod("web-0", "10.1.0.6"),  # declares nothing
        kpod("cache-0", "10.1.0.7"),  # declares nothing, behind a Service
        service("cache", "10.96.0.7", 6379, 6379, {"app": "cache"}),
        kpod("peer-0", "10.1.0.8", ports=[("p", 7000)]),
        kpod("peer-1", "10.1.0.9", ports=[("p", 7000)]),
        kpod("odd-0", "10.1.0.10", ports=[("p", 40000)]),
    ]


def _unoriented_flows(tmp_path: Path) -> pa.Table:
    """Ten records to and from the pods of _listener_items, numbered in the comments."""
    web = "10.1.0.6"
    flows = aws_flows(
        tmp_path,
        [
            aws_line(web, "10.1.0.5", 45000, 50051),  # 1 both ports ephemeral: unknown
            aws_line("10.1.0.5", web, 50051, 45000),  # 2
            aws_line(web, "10.1.0.7", 45001, 6379),  # 3 paired ports; a Service's targetPort
            aws_line("10.1.0.7", web, 6379, 45001),  # 4
            aws_line("10.1.0.8", "10.1.0.9", 7000, 7000),  # 5 both ends declare 7000
            aws_line(web, "9.9.9.9", 45002, 443),  # 6 nothing declared
            aws_line(web, "10.1.0.5", 45003, 50051, proto=17),  # 7 50051 is declared TCP
            aws_line(web, "10.1.0.10", 8080, 40000),  # 8 paired ports gets these backwards
            aws_line("10.1.0.10", web, 40000, 8080),  # 9
        ],
    )
    # A SYN says who the client is; the declared port never overrides it.
    flagged = tmp_path / "flags.log"
    flagged.write_text(
        "srcaddr dstaddr srcport dstport protocol tcp-flags start\n"
        f"10.1.0.5 {web} 50051 45010 6 2 {epoch(T0)}\n"
    )
    return pa.concat_tables([flows, read_flows([flagged]).table])


def _orientations(table: pa.Table) -> list[tuple]:
    return [(r["is_reply"], dict(r["extra"]).get("orientation")) for r in table.to_pylist()]


@pytest.fixture
def oriented(tmp_path):
    """(inventory, enriched table, stats) for _unoriented_flows through _listener_items."""
    inv = read_inventory([inventory(tmp_path, _listener_items())])
    stats = EnrichStats()
    return inv, enrich_flows(_unoriented_flows(tmp_path), inv, stats=stats), stats


def test_the_log_alone_orients_only_paired_ports_and_syns(tmp_path):
    assert _orientations(_unoriented_flows(tmp_path)) == [
        (None, None),
        (None, None),
        (False, "paired ports"),
        (True, "paired ports"),
        (None, None),
        (None, None),
        (None, None),
        (True, "paired ports"),
        (False, "paired ports"),
        (False, "tcp-flags"),
    ]


def test_declared_ports_orient_what_the_log_could_not(oriented):
    _, out, _ = oriented
    assert out.schema == FLOW_SCHEMA
    assert _orientations(out) == [
        (False, "inventory containerPort"),
        (True, "inventory containerPort"),
        (False, "inventory service targetPort"),
        (True, "inventory service targetPort"),
        (None, None),
        (None, None),
        (None, None),
        (False, "inventory containerPort"),
        (True, "inventory containerPort"),
        (False, "tcp-flags"),
    ]


def test_orientation_stats_count_each_outcome_sorted(oriented):
    _, _, stats = oriented
    assert stats.orientation == {
        "inventory containerPort: oriented (was unknown)": 2,
        "inventory service targetPort: confirmed paired ports": 2,
        "inventory containerPort: both ends listen, left as it was": 1,
        "inventory containerPort: reversed paired ports": 2,
    }
    assert list(stats.to_dict()["orientation"]) == sorted(stats.orientation)


def test_orientation_keeps_the_other_extra_keys_sorted(oriented):
    _, out, _ = oriented
    extra = out.column("extra").to_pylist()
    assert extra[0] == [
        ("account_id", "123456789010"),
        ("orientation", "inventory containerPort"),
        ("version", "2"),
    ]
    assert all(x == sorted(x) for x in extra)


def test_oriented_connections_are_the_requests_to_the_listening_ports(oriented):
    inv, out, _ = oriented
    # Idempotent; the connections are the requests, towards the listening ports (and
    # where the SYN says so).
    assert enrich_flows(out, inv).equals(out)
    conns = build_connections(out)
    assert sorted(zip(conns.table["dst_pod"], conns.table["port"], strict=True)) == [
        ("api-0", 50051),
        ("cache-0", 6379),
        ("odd-0", 40000),
        ("web-0", 45010),
    ]
    assert conns.excluded["orientation unknown (no reply flag, trace reason or SYN)"] == 3


def test_no_declared_ports_no_orientation(tmp_path):
    inv = read_inventory([inventory(tmp_path, [NODE, kpod("a-0", "10.1.0.5")])])
    flows = aws_flows(tmp_path, [aws_line("10.1.0.6", "10.1.0.5", 45000, 50051)])
    stats = EnrichStats()
    out = enrich_flows(flows, inv, stats=stats)
    assert out.column("is_reply").to_pylist() == [None]
    assert stats.orientation == {} and stats.to_dict()["orientation"] == {}


def test_set_key_keeps_maps_sorted_and_the_rest_untouched():
    """The vectorised rewrite of ``extra`` against a plain reference: sliced input, null and
    empty maps, maps with and without the key, unsorted maps."""
    import random

    import numpy as np

    from recommender.ingest.enrich import _set_key

    rng = random.Random(7)
    pool = ["account_id", "a", "orientation", "version", "z", "time"]
    for _ in range(500):
        maps = []
        for _ in range(rng.randint(0, 8)):
            keys = rng.sample(pool, rng.randint(0, 4))
            if rng.random() < 0.8:
                keys.sort()
            maps.append(
                None if rng.random() < 0.15 else [(k, f"v{rng.randint(0, 9)}") for k in keys]
            )
        start = rng.randint(0, 2)
        whole = pa.array([[("x", "y")]] * start + maps, type=pa.map_(pa.string(), pa.string()))
        rows = sorted(rng.sample(range(len(maps)), rng.randint(0, len(maps))))
        values = [f"new{i}" for i in range(len(rows))]
        got = _set_key(
            whole.slice(start), "orientation", np.array(rows, dtype=np.int64), pa.array(values)
        )
        want = list(maps)
        for row, value in zip(rows, values, strict=True):
            rest = [e for e in maps[row] or [] if e[0] != "orientation"]
            want[row] = [
                *[e for e in rest if e[0] < "orientation"],
                ("orientation", value),
                *[e for e in rest if e[0] > "orientation"],
            ]
        assert got.to_pylist() == want


# --------------------------------------------------------------------------- one read path


def _aggregated(agg) -> tuple[pd.DataFrame, pd.DataFrame]:
    return agg.connections().table, agg.pods()


def test_enrichment_in_worker_processes_is_enrichment_here(tmp_path, monkeypatch):
    """``aggregate_inputs`` with an inventory: each batch is enriched where it is parsed,
    several tasks per file in two processes give what one process gives, which is what
    enriching every FLOW_SCHEMA batch before aggregating it gives (the path ``recommend
    --inventory`` used to take), connections, pods, accounting and outcomes alike."""
    from recommender.connections import StreamingAggregator
    from recommender.ingest import aggregate_inputs, iter_flow_batches, parallel
    from recommender.sim import kubectl_inventory, shop_cluster, write_aws_vpc, write_hubble

    cluster = shop_cluster(seed=7, hours=2.0)
    write_hubble(cluster, tmp_path / "hubble", gzip=False)
    write_aws_vpc(cluster, tmp_path / "vpc", gzip=False)
    (tmp_path / "inv.json").write_text(json.dumps(kubectl_inventory(cluster)))
    inv = read_inventory([tmp_path / "inv.json"])
    inputs = [tmp_path / "hubble", tmp_path / "vpc"]
    monkeypatch.setattr(parallel, "RANGE_BYTES", 20_000)  # several tasks per Hubble file

    want_counts, want_stats, agg = RecordCounts(), EnrichStats(), StreamingAggregator()
    for batch in iter_flow_batches(inputs, counts=want_counts, workers=1):
        agg.add(enrich_flows(batch, inv, stats=want_stats))
    want_conns, want_pods = _aggregated(agg)
    assert want_stats.endpoints and want_stats.orientation

    for workers in (1, 2):
        counts, stats = RecordCounts(), EnrichStats()
        got = aggregate_inputs(inputs, counts=counts, inventory=inv, stats=stats, workers=workers)
        conns, pods = _aggregated(got)
        assert counts == want_counts, workers
        assert stats.to_dict() == want_stats.to_dict(), workers
        pd.testing.assert_frame_equal(conns, want_conns)
        pd.testing.assert_frame_equal(pods, want_pods)


def test_stats_merge_keeps_the_first_examples_in_order():
    first, second = EnrichStats(), EnrichStats()
    first.endpoints["pod"] = 2
    first.note("a")
    second.endpoints.update({"pod": 1, "node": 1})
    second.orientation["x"] = 3
    second.note("a")
    second.note("b")
    first.merge(second)
    assert first.to_dict() == {
        "endpoints": {"node": 1, "pod": 3},
        "orientation": {"x": 3},
        "examples": ["a", "b"],
    }
