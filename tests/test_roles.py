"""Roles: hand cases, and the costs checked against measure_breadth on rendered policies."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from recommender.netpol.breadth import measure_breadth
from recommender.netpol.evaluator import Evaluator
from recommender.options import SynthesisOptions
from recommender.roles import DEFAULT_DNS, SELF, Role, find_roles, role_index, traffic_profiles
from recommender.selectors import workload_selectors

NS_NAME = "kubernetes.io/metadata.name"
EXACT = SynthesisOptions()
COREDNS = {"app": "coredns", "k8s-app": "kube-dns"}


def role(budget: int) -> SynthesisOptions:
    return SynthesisOptions(generalize="role", breadth_budget=budget)


# --------------------------------------------------------------------------------------------
# Building clusters and rendering policies
# --------------------------------------------------------------------------------------------


def make_pods(spec: dict[str, dict[str, str] | None], replicas: int = 2) -> pd.DataFrame:
    """``{"ns/name": labels}`` -> pods table (``replicas`` pods per workload)."""
    rows = []
    for k, (workload, labels) in enumerate(sorted(spec.items())):
        ns, name = workload.split("/", 1)
        for i in range(replicas):
            rows.append(
                {
                    "namespace": ns,
                    "pod": f"{name}-{i}",
                    "labels": None if labels is None else dict(labels),
                    "namespace_labels": {},
                    "ips": (f"10.{k // 200}.{k % 200}.{i + 1}",),
                    "workload": workload,
                }
            )
    return pd.DataFrame(rows)


def make_wconns(conns: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    """``[(src, dst, proto, port)]``; an endpoint without '/' is an external address."""
    rows = []
    for src, dst, proto, port in sorted(set(conns)):
        row = {"protocol": proto, "port": port, "flows": 1}
        for side, end in (("src", src), ("dst", dst)):
            row[f"{side}_type"] = "workload" if "/" in end else "external"
            row[f"{side}_id"] = end
        rows.append(row)
    cols = ["src_type", "src_id", "dst_type", "dst_id", "protocol", "port", "flows"]
    return pd.DataFrame(rows, columns=cols)


def _peer(peer: str, selections) -> dict:
    if peer == DEFAULT_DNS:
        return {
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            "namespaceSelector": {"matchLabels": {NS_NAME: "kube-system"}},
        }
    if peer.startswith("ip:"):
        return {"ipBlock": {"cidr": f"{peer[3:]}/32"}}
    return {
        "podSelector": {"matchLabels": dict(selections[peer].match_labels)},
        "namespaceSelector": {"matchLabels": {NS_NAME: peer.split("/", 1)[0]}},
    }


def render(
    groups: list[tuple[tuple[str, ...], dict[str, str]]],
    profiles,
    selections,
    namespaces: list[str],
    types: tuple[str, ...] = ("Ingress", "Egress"),
) -> list[dict]:
    """Default-deny per namespace, then one policy per group granting the union of its
    members' profiles (SELF put back), every peer by its own per-workload selector."""
    policies = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny", "namespace": ns},
            "spec": {"podSelector": {}, "policyTypes": list(types)},
        }
        for ns in namespaces
    ]
    for n, (members, labels) in enumerate(groups):
        union = {
            (d, m if p == SELF else p, proto, port)
            for m in members
            for d, p, proto, port in profiles.get(m, ())
        }
        spec: dict = {"podSelector": {"matchLabels": dict(labels)}, "policyTypes": list(types)}
        for direction, key, typ in (("in", "from", "Ingress"), ("out", "to", "Egress")):
            rules = [
                {key: [_peer(p, selections)], "ports": [{"protocol": proto, "port": port}]}
                for d, p, proto, port in sorted(union)
                if d == direction
            ]
            if typ in types and rules:
                spec["ingress" if direction == "in" else "egress"] = rules
        policies.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": f"role-{n}", "namespace": members[0].split("/", 1)[0]},
                "spec": spec,
            }
        )
    return policies


def measure(policies, pods, wconns, resolvers, namespaces=None) -> int:
    b = measure_breadth(
        Evaluator(policies), pods, wconns, resolvers=resolvers, namespaces=namespaces
    )
    return b.in_cluster


def merged(roles: list[Role]) -> list[tuple[str, ...]]:
    return [r.members for r in roles if len(r.members) > 1]


# --------------------------------------------------------------------------------------------
# A small shop
# --------------------------------------------------------------------------------------------

SHOP_PODS = {
    "shop/frontend": {"app": "frontend", "tier": "web"},
    "shop/cart": {"app": "cart", "track": "stable", "version": "v1"},
    "shop/cart-v2": {"app": "cart", "track": "stable", "version": "v2"},
    "shop/cart-canary": {"app": "cart", "track": "canary"},
    "shop/redis": {"app": "redis"},
    "kube-system/coredns": COREDNS,
}
SHOP_CONNS = [
    ("shop/frontend", "kube-system/coredns", "UDP", 53),
    ("1.2.3.4", "shop/frontend", "TCP", 443),
    ("shop/frontend", "shop/cart", "TCP", 8080),
    ("shop/frontend", "shop/cart-v2", "TCP", 8080),
    ("shop/frontend", "shop/cart-canary", "TCP", 8080),
    ("shop/cart", "shop/redis", "TCP", 6379),
    ("shop/cart-v2", "shop/redis", "TCP", 6379),
    ("shop/cart-canary", "shop/redis", "TCP", 6379),
    ("shop/cart-canary", "9.9.9.9", "TCP", 443),
]


def shop(extra_pods=None, extra_conns=()):
    pods = make_pods({**SHOP_PODS, **(extra_pods or {})})
    wconns = make_wconns([*SHOP_CONNS, *extra_conns])
    return pods, wconns, workload_selectors(pods)


def test_identical_profiles_sharing_an_exact_label_merge_and_a_canary_does_not():
    pods, wconns, sels = shop()
    roles = find_roles(wconns, pods, sels, EXACT)
    assert merged(roles) == [("shop/cart", "shop/cart-v2")]
    cart = role_index(roles)["shop/cart"]
    assert cart.match_labels == {"app": "cart", "track": "stable"}
    assert cart.exact and cart.cost == 0 and cart.breadth == 0 and cart.external == 0
    assert cart.why == (
        "cart and cart-v2 have identical traffic; app=cart,track=stable picks exactly both"
    )
    # The canary (an extra external call) stays alone; every policy-worthy workload once.
    assert role_index(roles)["shop/cart-canary"].members == ("shop/cart-canary",)
    members = sorted(m for r in roles for m in r.members)
    assert members == sorted(SHOP_PODS)
    assert roles == sorted(roles, key=lambda r: (r.namespace, r.members))


def test_identical_profiles_without_an_exact_selector_do_not_merge():
    pods = make_pods(
        {
            "web/a": {"app": "a", "tier": "web"},
            "web/b": {"app": "b", "tier": "web"},
            "web/c": {"app": "c", "tier": "web"},
        }
    )
    wconns = make_wconns([("web/c", "web/a", "TCP", 80), ("web/c", "web/b", "TCP", 80)])
    sels = workload_selectors(pods)
    assert merged(find_roles(wconns, pods, sels, EXACT)) == []
    # Once c is gone from the namespace, tier=web picks exactly a and b.
    pods2 = pd.concat([pods[pods["workload"] != "web/c"], make_pods({"x/c": {"app": "c"}})])
    wconns2 = make_wconns([("x/c", "web/a", "TCP", 80), ("x/c", "web/b", "TCP", 80)])
    roles = find_roles(wconns2, pods2, workload_selectors(pods2), EXACT)
    assert merged(roles) == [("web/a", "web/b")]
    assert role_index(roles)["web/a"].match_labels == {"tier": "web"}


def test_unknown_labels_and_untargeted_namespaces_get_no_role():
    pods, wconns, sels = shop({"shop/ghost": None}, [("shop/ghost", "shop/redis", "TCP", 6379)])
    roles = find_roles(wconns, pods, sels, EXACT, namespaces=["shop"])
    members = {m for r in roles for m in r.members}
    assert "shop/ghost" not in members and "kube-system/coredns" not in members
    # ghost's connection is left out, as synthesis leaves it: redis still matches nothing new.
    assert merged(roles) == [("shop/cart", "shop/cart-v2")]


def test_self_talk_alone_is_similar_but_not_free():
    """Replicas gossiping within their own workload only: identical with SELF, but sharing a
    policy lets cart and cart-v2 reach each other (2 elements)."""
    pods, wconns, sels = shop(
        extra_conns=[
            ("shop/cart", "shop/cart", "TCP", 7000),
            ("shop/cart-v2", "shop/cart-v2", "TCP", 7000),
        ]
    )
    profiles = traffic_profiles(wconns, selections=sels)
    assert profiles["shop/cart"] == profiles["shop/cart-v2"]
    assert ("in", SELF, "TCP", 7000) in profiles["shop/cart"]
    assert merged(find_roles(wconns, pods, sels, EXACT)) == []
    assert merged(find_roles(wconns, pods, sels, role(3))) == []
    assert merged(find_roles(wconns, pods, sels, role(4))) == [("shop/cart", "shop/cart-v2")]
    cart = role_index(find_roles(wconns, pods, sels, role(4)))["shop/cart"]
    # cart -> cart-v2 and cart-v2 -> cart, each granted on both sides: 2 per side.
    assert cart.cost == 4 and cart.breadth == 2
    assert "similar traffic" in cart.why and "grants 4" in cart.why


def test_a_full_mesh_among_members_is_an_exact_merge():
    mesh = [
        (a, b, "TCP", 7000)
        for a in ("shop/cart", "shop/cart-v2")
        for b in ("shop/cart", "shop/cart-v2")
    ]
    pods, wconns, sels = shop(extra_conns=mesh)
    roles = find_roles(wconns, pods, sels, EXACT)
    assert merged(roles) == [("shop/cart", "shop/cart-v2")]
    assert role_index(roles)["shop/cart"].cost == 0


# --------------------------------------------------------------------------------------------
# Role mode and the budget
# --------------------------------------------------------------------------------------------

WORKERS = {
    "jobs/fe": {"app": "fe"},
    "jobs/a": {"app": "a", "tier": "worker"},
    "jobs/b": {"app": "b", "tier": "worker"},
    "jobs/db": {"app": "db"},
    "jobs/redis": {"app": "redis"},
}
WORKER_CONNS = [
    ("jobs/fe", "jobs/a", "TCP", 8080),
    ("jobs/fe", "jobs/b", "TCP", 8080),
    ("jobs/a", "jobs/redis", "TCP", 6379),
    ("jobs/b", "jobs/redis", "TCP", 6379),
    ("jobs/a", "jobs/db", "TCP", 5432),  # b never talks to db
]


def workers():
    pods = make_pods(WORKERS)
    return pods, make_wconns(WORKER_CONNS), workload_selectors(pods)


def test_role_mode_with_budget_zero_is_exact_mode():
    for pods, wconns, sels in (workers(), shop()):
        assert find_roles(wconns, pods, sels, role(0)) == find_roles(wconns, pods, sels, EXACT)
    pods, wconns, sels = workers()
    assert merged(find_roles(wconns, pods, sels, role(0))) == []


def test_role_mode_merges_within_budget_and_reports_the_cost():
    pods, wconns, sels = workers()
    roles = find_roles(wconns, pods, sels, role(1))
    assert merged(roles) == [("jobs/a", "jobs/b")]
    r = role_index(roles)["jobs/a"]
    # b is granted egress to db:5432: one element. db's own policy does not admit b, so the
    # proposal's breadth does not grow.
    assert (r.cost, r.external, r.breadth) == (1, 0, 0)
    assert r.examples == (("jobs/b", "jobs/db", "TCP", 5432),)
    assert r.match_labels == {"tier": "worker"} and r.exact
    assert "grants 1 unobserved in-cluster element" in r.why
    assert "jobs/b -> jobs/db TCP/5432" in r.why
    # Exact mode and a budget below the cost leave them apart.
    assert merged(find_roles(wconns, pods, sels, EXACT)) == []


def test_address_grants_are_charged_too():
    pods = make_pods(WORKERS)
    wconns = make_wconns([*WORKER_CONNS, ("jobs/a", "8.8.8.8", "TCP", 443)])
    sels = workload_selectors(pods)
    assert merged(find_roles(wconns, pods, sels, role(1))) == []
    r = role_index(find_roles(wconns, pods, sels, role(2)))["jobs/a"]
    assert (r.cost, r.external) == (1, 1)


def test_dissimilar_workloads_are_not_candidates_whatever_the_budget():
    pods = make_pods({"n/x": {"app": "x", "tier": "t"}, "n/y": {"app": "y", "tier": "t"}})
    wconns = make_wconns([("n/x", "1.1.1.1", "TCP", 1), ("n/y", "2.2.2.2", "TCP", 2)])
    sels = workload_selectors(pods)
    assert merged(find_roles(wconns, pods, sels, role(1000))) == []
    loose = find_roles(wconns, pods, sels, role(1000), max_distance=1.01)
    assert merged(loose) == [("n/x", "n/y")]


def test_deterministic():
    pods, wconns, sels = random_cluster(random.Random(7))
    first = find_roles(wconns, pods, sels, role(50))
    again = find_roles(
        wconns.sample(frac=1, random_state=3), pods.sample(frac=1, random_state=4), sels, role(50)
    )
    assert first == again
    assert [r.why for r in first] == [r.why for r in again]


# --------------------------------------------------------------------------------------------
# Cross-check against measure_breadth
# --------------------------------------------------------------------------------------------

TIERS = {
    "web": [("in", "ext", "TCP", 443), ("out", "api", "TCP", 8080), ("out", "cache", "TCP", 6379)],
    "api": [
        ("in", "web", "TCP", 8080),
        ("out", "db", "TCP", 5432),
        ("out", "cache", "TCP", 6379),
        ("out", "api", "TCP", 7000),
        ("out", "ext", "TCP", 443),
    ],
    "db": [("in", "api", "TCP", 5432), ("out", "db", "TCP", 5433)],
    "cache": [("in", "web", "TCP", 6379), ("in", "api", "TCP", 6379)],
}


def random_cluster(rng: random.Random):
    """Workloads in tiers, and in a tier in tracks; each keeps a random part of its track's
    usual traffic (a tier template), so workloads of a track are similar; labels (tier,
    track) sometimes pick a track exactly."""
    spec: dict = {"kube-system/coredns": COREDNS}
    by_tier: dict[str, list[str]] = {t: [] for t in TIERS}
    track_of: dict[str, str] = {}
    for ns in ("shop", "data"):
        for tier in TIERS:
            for i in range(rng.randint(0, 4)):
                w = f"{ns}/{tier}{i}"
                track_of[w] = rng.choice(["a", "b"])
                labels = {"app": f"{tier}{i}", "tier": tier, "track": track_of[w]}
                if rng.random() < 0.15:
                    del labels["tier"]
                spec[w] = labels
                by_tier[tier].append(w)

    def pick(peer_tier: str) -> list[str]:
        if peer_tier == "ext":
            return [rng.choice(["1.1.1.1", "2.2.2.2"])]
        return rng.sample(by_tier[peer_tier], min(len(by_tier[peer_tier]), 2))

    usual = {
        (tier, track, i): pick(item[1])
        for tier, t in TIERS.items()
        for track in "ab"
        for i, item in enumerate(t)
    }
    conns = []
    for tier, template in TIERS.items():
        for w in by_tier[tier]:
            for i, (d, peer_tier, proto, port) in enumerate(template):
                if rng.random() < 0.15:
                    continue
                peers = usual[(tier, track_of[w], i)] if rng.random() < 0.85 else pick(peer_tier)
                for p in peers:
                    conns.append((p, w, proto, port) if d == "in" else (w, p, proto, port))
            if rng.random() < 0.7:
                conns.append((w, "kube-system/coredns", "UDP", 53))
    pods = make_pods(spec)
    return pods, make_wconns(conns), workload_selectors(pods)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("scope", [None, ["shop", "data"]])
def test_costs_equal_measured_breadth_of_rendered_policies(seed, scope):
    pods, wconns, sels = random_cluster(random.Random(seed))
    resolvers = ["kube-system/coredns"] if "kube-system/coredns" in set(wconns["dst_id"]) else []
    roles = find_roles(wconns, pods, sels, role(40), namespaces=scope)
    assert sum(r.cost + r.external for r in roles) <= 40
    assert all(r.breadth <= r.cost for r in roles)
    profiles = traffic_profiles(wconns, selections=sels, resolvers=resolvers)
    targets = scope or sorted(set(pods["namespace"]))
    groups = [(r.members, r.match_labels) for r in roles]
    alone = [((m,), sels[m].match_labels) for r in roles for m in r.members]

    def delta(types):
        args = (pods, wconns, resolvers, scope)
        with_roles = measure(render(groups, profiles, sels, targets, types), *args)
        exact = measure(render(alone, profiles, sels, targets, types), *args)
        return with_roles - exact

    # What each role's policy grants on its own side: the other direction left open.
    assert delta(("Ingress",)) + delta(("Egress",)) == sum(r.cost for r in roles)
    # What the roles add to the whole proposal's breadth.
    assert delta(("Ingress", "Egress")) == sum(r.breadth for r in roles)
    # Exact merges are free.
    exact_roles = find_roles(wconns, pods, sels, EXACT, namespaces=scope)
    assert all(r.cost == 0 and r.breadth == 0 and r.external == 0 for r in exact_roles)
    groups = [(r.members, r.match_labels) for r in exact_roles]
    full = ("Ingress", "Egress")
    assert measure(
        render(groups, profiles, sels, targets, full), pods, wconns, resolvers, scope
    ) == (measure(render(alone, profiles, sels, targets, full), pods, wconns, resolvers, scope))


def test_the_cross_check_sees_merges():
    """The random clusters do exercise costly merges (else the check above proves nothing)."""
    costs = []
    for seed in range(12):
        pods, wconns, sels = random_cluster(random.Random(seed))
        costs += [r.cost for r in find_roles(wconns, pods, sels, role(40)) if len(r.members) > 1]
    assert sum(c > 0 for c in costs) >= 5 and 0 in costs


def test_an_element_two_merges_make_possible_is_charged_once():
    """a->c and b->d observed; merging {a, b} grants b->c and a->d on the egress side,
    merging {c, d} grants them on the ingress side: together they allow both."""
    pods = make_pods(
        {
            "n/a": {"app": "a", "tier": "client"},
            "n/b": {"app": "b", "tier": "client"},
            "n/c": {"app": "c", "tier": "server"},
            "n/d": {"app": "d", "tier": "server"},
        }
    )
    wconns = make_wconns([("n/a", "n/c", "TCP", 80), ("n/b", "n/d", "TCP", 80)])
    sels = workload_selectors(pods)
    roles = find_roles(wconns, pods, sels, role(10), max_distance=1.01)
    assert merged(roles) == [("n/a", "n/b"), ("n/c", "n/d")]
    assert [r.cost for r in roles] == [2, 2]
    assert sum(r.breadth for r in roles) == 2
    profiles = traffic_profiles(wconns, selections=sels, resolvers=[])
    policies = render([(r.members, r.match_labels) for r in roles], profiles, sels, ["n"])
    assert measure(policies, pods, wconns, []) == 2


def test_a_group_no_pair_of_which_is_selectable_still_merges():
    """Three identical workloads, tier=worker on all three only: no pair has an exact
    selector, the three together do."""
    spec = {f"q/w{i}": {"app": f"w{i}", "tier": "worker"} for i in range(3)}
    spec["q/broker"] = {"app": "broker"}
    pods = make_pods(spec)
    wconns = make_wconns([(f"q/w{i}", "q/broker", "TCP", 5672) for i in range(3)])
    sels = workload_selectors(pods)
    for options in (EXACT, role(0)):
        roles = find_roles(wconns, pods, sels, options)
        assert merged(roles) == [("q/w0", "q/w1", "q/w2")]
        r = role_index(roles)["q/w0"]
        assert r.match_labels == {"tier": "worker"} and r.cost == 0
        assert r.why == "w0, w1 and w2 have identical traffic; tier=worker picks exactly all 3"
    # A fourth worker that behaves differently: the three cannot be picked without it.
    spec["q/w3"] = {"app": "w3", "tier": "worker"}
    pods = make_pods(spec)
    wconns = make_wconns(
        [*((f"q/w{i}", "q/broker", "TCP", 5672) for i in range(3)), ("q/w3", "9.9.9.9", "TCP", 1)]
    )
    assert merged(find_roles(wconns, pods, workload_selectors(pods), EXACT)) == []
