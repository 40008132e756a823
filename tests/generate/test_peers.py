import pandas as pd

from recommender.generate.ir import Peer
from recommender.generate.peers import PeerIndex, merge_peers


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
    assert merged[0].pod_in == (("app", ("cart", "catalog")),)


def test_every_workload_of_a_namespace_becomes_the_whole_namespace():
    peers = [
        peer("shop/cart", app="cart"),
        peer("shop/catalog", app="catalog"),
        peer("shop/web", app="web"),
    ]
    merged, _ = merge_peers(peers, PeerIndex(PODS))
    assert [(p.kind, p.namespace, p.match_labels, p.pod_in) for p in merged] == [
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
