"""The graph's nodes and edges, from replayed tables built by hand: statuses, ports,
external peers folded, edges capped and said so."""

from __future__ import annotations

import pandas as pd

from recommender.graph import model
from recommender.graph.model import NODES, OUTSIDE, build_graph, port_text


def _end(side: str, kind: str, name: str) -> dict:
    """One side of a replayed row: a pod of workload "ns/name", or an address."""
    if kind == "pod":
        ns, workload = name.split("/")
        return {
            f"{side}_kind": "pod",
            f"{side}_namespace": ns,
            f"{side}_pod": f"{workload}-0",
            f"{side}_ip": None,
            f"{side}_workload": name,
        }
    return {
        f"{side}_kind": kind,
        f"{side}_namespace": None,
        f"{side}_pod": None,
        f"{side}_ip": name,
        f"{side}_workload": name,
    }


def _row(src, dst, port, *, proto="TCP", allowed=True, exempt=False, unjudged=(), names=()):
    return {
        **_end("src", *src),
        **_end("dst", *dst),
        "protocol": proto,
        "port": port,
        "flows": 2,
        "exempt": exempt,
        "allowed": allowed,
        "unjudged": unjudged,
        "dst_names": names,
    }


WEB = ("pod", "shop/web")
API = ("pod", "shop/api")
DB = ("pod", "data/db")


def test_rows_fold_to_one_edge_per_status_with_sorted_ports():
    rows = [
        _row(WEB, API, 8443),
        _row(WEB, API, 8080),
        _row(WEB, API, 53, proto="UDP"),
        _row(WEB, API, 9000, allowed=False),
        _row(API, DB, 5432, allowed=False, unjudged=("a rule the evaluator cannot judge",)),
    ]
    g = build_graph("t", pd.DataFrame(rows))
    edges = {(e.src, e.dst, e.status): e for e in g.edges}
    assert edges["shop/web", "shop/api", "allowed"].ports == ("TCP 8080", "TCP 8443", "UDP 53")
    assert edges["shop/web", "shop/api", "allowed"].flows == 6
    assert edges["shop/web", "shop/api", "denied"].ports == ("TCP 9000",)
    assert edges["shop/api", "data/db", "unjudged"].ports == ("TCP 5432",)
    assert list(g.groups) == ["data", "shop"]
    assert [n.id for n in g.groups["shop"]] == ["shop/api", "shop/web"]


def test_exempt_rows_are_not_edges_but_name_their_ends_for_at_risk_rows():
    node = ("node", "172.18.0.3")
    rows = [_row(WEB, API, 8080), _row(node, API, 8080, exempt=True)]
    at_risk = pd.DataFrame(
        [{"src": "172.18.0.3", "dst": "shop/api", "protocol": "TCP", "port": 8080, "records": 7}]
    )
    g = build_graph("t", pd.DataFrame(rows), at_risk=at_risk)
    assert {(e.src, e.status) for e in g.edges} == {
        ("shop/web", "allowed"),
        ("172.18.0.3", "at-risk"),
    }
    assert g.nodes["172.18.0.3"].group == NODES and g.nodes["172.18.0.3"].kind == "node"
    (risky,) = [e for e in g.edges if e.status == "at-risk"]
    assert risky.flows == 7 and risky.ports == ("TCP 8080",)


def test_ends_only_at_risk_rows_name_are_guessed_from_the_name():
    at_risk = pd.DataFrame(
        [
            {
                "src": "(no identity)",
                "dst": "shop/api",
                "protocol": "ICMP",
                "port": -1,
                "records": 1,
            },
            {"src": "10.1.2.3", "dst": "data/db", "protocol": "TCP", "port": 5432, "records": 1},
        ]
    )
    g = build_graph("t", pd.DataFrame([_row(WEB, API, 8080)]), at_risk=at_risk)
    assert g.nodes["(no identity)"].kind == "unknown"
    assert g.nodes["10.1.2.3"].group == OUTSIDE
    assert g.nodes["data/db"].group == "data" and g.nodes["data/db"].kind == "workload"
    assert {e.ports for e in g.edges if e.src == "(no identity)"} == {("ICMP",)}


def test_public_facing_workloads_and_dns_names_of_external_peers():
    world = ("external", "93.184.216.34")
    rows = [
        _row(world, WEB, 443),
        _row(API, ("external", "151.101.1.69"), 443, names=("api.example.com",)),
    ]
    g = build_graph("t", pd.DataFrame(rows), workloads=[("data/db", "data")])
    assert g.nodes["shop/web"].public and not g.nodes["shop/api"].public
    assert g.nodes["151.101.1.69"].names == ("api.example.com",)
    assert g.nodes["data/db"].group == "data"  # a workload without edges still has its box


def test_many_external_peers_of_one_workload_fold_into_one_node():
    n = model.MAX_EXTERNAL_PEERS + 3
    rows = [_row(("external", f"203.0.113.{i}"), WEB, 443) for i in range(n)]
    rows.append(_row(("external", "203.0.113.0"), API, 443))  # also talks to api: stays
    g = build_graph("t", pd.DataFrame(rows))
    folded = [node for node in g.nodes.values() if node.kind == "folded"]
    assert len(folded) == 1 and len(folded[0].members) == n
    assert folded[0].id == f"{n} external clients of shop/web"
    assert "203.0.113.0" in g.nodes and "203.0.113.5" not in g.nodes
    (edge,) = [e for e in g.edges if e.src == folded[0].id]
    assert edge.dst == "shop/web" and edge.flows == 2 * n
    assert g.folded == n and f"{n} external addresses folded" in g.left_out_text()


def test_edges_over_the_cap_are_counted_at_risk_kept_first():
    extra = 2
    rows = [_row(("pod", f"shop/w{i}"), API, 8080) for i in range(model.MAX_EDGES + extra)]
    at_risk = pd.DataFrame(
        [{"src": "shop/w0", "dst": "shop/api", "protocol": "TCP", "port": 1, "records": 1}]
    )
    g = build_graph("t", pd.DataFrame(rows), at_risk=at_risk)
    assert len(g.edges) == model.MAX_EDGES
    assert g.left_out == {"allowed": extra + 1}
    assert any(e.status == "at-risk" for e in g.edges)
    assert f"{extra + 1} edges not drawn ({extra + 1} allowed" in g.left_out_text()
    assert len([n for n in g.nodes.values() if n.kind == "workload"]) == model.MAX_EDGES + extra + 1


def test_port_text():
    assert port_text("TCP", 5432) == "TCP 5432"
    assert port_text("ICMP", -1) == "ICMP"
