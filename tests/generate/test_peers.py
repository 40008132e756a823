import pandas as pd

from recommender.generate.ir import Peer, PolicyIR, PortSpec, Rule
from recommender.generate.k8s import render_policy
from recommender.generate.peers import PeerIndex, merge_peers
from recommender.netpol.evaluator import Evaluator
from recommender.netpol.model import Endpoint
from recommender.selectors import workload_selectors


def _pods(rows):
    return pd.DataFrame(
        [
            {"namespace": ns, "pod": pod, "workload": f"{ns}/{wl}", "labels": labels}
            for ns, pod, wl, labels in rows
        ]
    )


PODS = _pods(
    [
        ("shop", "cart-1", "cart", {"app": "cart", "tier": "backend"}),
        ("shop", "catalog-1", "catalog", {"app": "catalog", "tier": "backend"}),
        ("shop", "web-1", "web", {"app": "web", "tier": "front"}),
        ("data", "db-0", "db", {"app": "db"}),
        ("ops", "db-0", "db", {"app": "db"}),
        ("ops", "agent-1", "agent", {"app": "agent"}),
    ]
)


def peer(workload, **labels):
    return Peer("workload", workload, workload.split("/")[0], tuple(sorted(labels.items())))


def test_a_shared_label_that_picks_exactly_the_peers_merges_them():
    merged, why = merge_peers(
        [peer("shop/cart", app="cart"), peer("shop/catalog", app="catalog")], PeerIndex(PODS)
    )
    assert len(merged) == 1
    assert merged[0].match_labels == (("tier", "backend"),)
    assert merged[0].members == ("shop/cart", "shop/catalog")
    assert "picks exactly" in why[0]


def test_no_merge_when_the_selector_would_pick_more():
    pods = _pods(
        [
            ("shop", "cart-1", "cart", {"app": "cart", "tier": "backend"}),
            ("shop", "catalog-1", "catalog", {"app": "catalog", "tier": "backend"}),
            ("shop", "pay-1", "pay", {"app": "pay", "tier": "backend"}),
        ]
    )
    merged, _ = merge_peers(
        [peer("shop/cart", app="cart"), peer("shop/catalog", app="catalog")], PeerIndex(pods)
    )
    # tier=backend would also pick pay: an `In` expression on app is exact instead
    assert len(merged) == 1
    assert merged[0].match_expressions == (("app", "In", ("cart", "catalog")),)


def test_every_workload_of_a_namespace_becomes_the_whole_namespace():
    peers = [
        peer("shop/cart", app="cart"),
        peer("shop/catalog", app="catalog"),
        peer("shop/web", app="web"),
    ]
    merged, _ = merge_peers(peers, PeerIndex(PODS))
    assert [(p.kind, p.namespace, p.match_labels, p.match_expressions) for p in merged] == [
        ("selector", "shop", (), ())
    ]


def test_namespaces_selecting_alike_merge_into_one_peer_by_name():
    merged, why = merge_peers(
        [peer("data/db", app="db"), peer("ops/db", app="db")], PeerIndex(PODS)
    )
    assert len(merged) == 1
    assert merged[0].namespaces == ("data", "ops")
    assert merged[0].match_labels == (("app", "db"),)
    assert "one peer names the namespaces" in why[-1]


def test_addresses_are_left_alone():
    ip = Peer("address", "203.0.113.7", None, (), "external")
    merged, why = merge_peers([ip, peer("shop/cart", app="cart")], PeerIndex(PODS))
    assert ip in merged and len(merged) == 2 and why == []


# Peers that only matchExpressions pick exactly (a canary carrying every label plus one).
CANARY_PODS = _pods(
    [
        ("shop", "cart-1", "cart", {"app": "cart", "tier": "backend"}),
        ("shop", "catalog-1", "catalog", {"app": "catalog", "tier": "backend"}),
        ("shop", "canary-1", "catalog-canary", {"app": "catalog", "tier": "backend", "track": "c"}),
        ("shop", "pay-1", "pay", {"app": "pay", "tier": "backend"}),
        ("b", "catalog-1", "catalog", {"app": "catalog"}),
        ("b", "canary-1", "catalog-canary", {"app": "catalog", "track": "c"}),
        ("c", "catalog-1", "catalog", {"app": "catalog"}),
    ]
)


def _admitted(peers):
    """The pods (ns/pod) a rule with ``peers`` admits into ns ``shop``, by the evaluator."""
    rule = Rule(peers, [PortSpec("TCP", 80)])
    ir = PolicyIR("shop", "p", "workload", "shop/x", "Deployment", {"app": "x"}, ingress=[rule])
    evaluator = Evaluator([render_policy(ir)])
    dst = Endpoint(kind="pod", ip="10.9.9.9", namespace="shop", labels={"app": "x"}, name="x")
    admitted = set()
    for row in CANARY_PODS.itertuples():
        src = Endpoint(
            kind="pod",
            ip="10.0.0.1",
            namespace=row.namespace,
            labels=row.labels,
            namespace_labels={"kubernetes.io/metadata.name": row.namespace},
            name=row.pod,
        )
        if evaluator.evaluate(src, dst, "TCP", 80).allowed:
            admitted.add(f"{row.namespace}/{row.pod}")
    return admitted


def test_peers_only_expressions_separate_merge_into_an_exact_selector():
    sels = workload_selectors(CANARY_PODS)
    peers = [
        Peer("workload", w, "shop", tuple(sels[w].match_labels.items()), **_exprs(sels[w]))
        for w in ("shop/cart", "shop/catalog")
    ]
    assert _admitted(peers) == {"shop/cart-1", "shop/catalog-1"}
    merged, why = merge_peers(peers, PeerIndex(CANARY_PODS))
    assert len(merged) == 1
    assert merged[0].match_expressions == (
        ("app", "In", ("cart", "catalog")),
        ("track", "DoesNotExist", ()),
    )
    assert merged[0].id == "shop/{app in (cart,catalog), !track}"
    assert "picks exactly them" in why[0]
    assert _admitted(merged) == {"shop/cart-1", "shop/catalog-1"}


def _exprs(sel):
    return {"match_expressions": sel.match_expressions}


def test_namespaces_merge_alike_only_when_labels_and_expressions_agree():
    sels = workload_selectors(CANARY_PODS)
    assert sels["b/catalog"].match_expressions == (("track", "DoesNotExist", ()),)
    assert sels["c/catalog"].match_expressions == ()
    peers = [
        Peer("workload", w, w.split("/")[0], tuple(sels[w].match_labels.items()), **_exprs(sels[w]))
        for w in ("shop/catalog", "b/catalog", "c/catalog")
    ]
    expected = {"shop/catalog-1", "b/catalog-1", "c/catalog-1"}
    assert _admitted(peers) == expected
    merged, _ = merge_peers(peers, PeerIndex(CANARY_PODS))
    # shop and b need `!track` with app=catalog: one peer naming both; c stays apart
    together = [p for p in merged if p.namespaces]
    assert [(p.namespaces, p.match_labels, p.match_expressions) for p in together] == [
        (("b", "shop"), (("app", "catalog"),), (("track", "DoesNotExist", ()),))
    ]
    assert len(merged) == 2
    assert _admitted(merged) == expected
