"""Breadth over dialects' policies equals brute force (Evaluator.evaluate on every pod pair):
Cilium entity and toFQDNs peers, cluster-scoped subjects, ipBlocks with a selector, and the
baseline tier's default-deny shape; and what breadth cannot count is named, never counted."""

from __future__ import annotations

import ipaddress
import random
from dataclasses import replace

import pandas as pd
import pytest

from recommender.netpol.breadth import external_breadth, measure_breadth
from recommender.netpol.evaluator import Evaluator
from recommender.netpol.model import (
    ADMIN_TIER,
    BASELINE_TIER,
    ENTITIES,
    NETWORK_POLICY_TIER,
    Action,
    FQDNMatch,
    IPBlock,
    Peer,
    Policy,
    PortMatch,
    Rule,
    Selector,
)
from recommender.netpol.networkpolicy import compile_policies

from .test_breadth import brute_force, random_cluster, random_policies

NS_NAME = "kubernetes.io/metadata.name"


def _dialect_peer(rng: random.Random, peer: Peer) -> Peer:
    roll = rng.random()
    if roll < 0.25:
        return Peer(entity=rng.choice(ENTITIES))
    if roll < 0.35:
        return Peer(fqdn=FQDNMatch(name="api.example.com"))
    if roll < 0.45 and peer.block is not None:
        return replace(peer, pods=Selector.of({"tier": "web"}))
    return peer


def _dialect(rng: random.Random, pol, i: int, tail: random.Random | None = None):
    """A compiled NetworkPolicy made into a Cilium / cluster-scoped / baseline one; with
    ``tail``, the baseline's last deny names peers that cover every pod (drawn from it)
    instead of no peer."""
    rules = tuple(
        replace(r, peers=tuple(_dialect_peer(rng, p) for p in r.peers))
        if r.peers is not None
        else r
        for r in pol.rules
    )
    pol = replace(pol, rules=rules, kind="CiliumNetworkPolicy")
    if rng.random() < 0.3:
        nss = rng.choice([None, Selector.of({NS_NAME: pol.namespace})])
        pol = replace(pol, namespace=None, namespaces=nss, kind="CiliumClusterwideNetworkPolicy")
    if i == 0 and rng.random() < 0.5:  # at most one baseline policy: the default-deny shape
        tail_peers, tail = tail, []
        for d in pol.isolates:
            n = len(pol.rules_of(d))
            tail.append(Rule(d, n, None, None, Action.DENY))
        if tail_peers is not None:
            tail = [replace(r, peers=tail_peers.choice(EVERY_POD_PEERS)) for r in tail]
        pol = replace(
            pol,
            rules=pol.rules + tuple(tail),
            tier=BASELINE_TIER,
            kind="BaselineAdminNetworkPolicy",
            namespace=None,
        )
    return pol


def test_random_dialect_cases_are_not_trivial():
    """The random cases do exercise entities, FQDN peers, cluster scope and the baseline."""
    seen = {"entity": 0, "fqdn": 0, "cluster": 0, "baseline": 0, "broad": 0}
    for seed in range(100):
        rng = random.Random(seed)
        pods, wconns, resolvers = random_cluster(rng)
        compiled = compile_policies(random_policies(rng, pods))
        pols = [_dialect(rng, p, i) if rng.random() < 0.7 else p for i, p in enumerate(compiled)]
        peers = [p for pol in pols for r in pol.rules for p in r.peers or ()]
        seen["entity"] += any(p.entity for p in peers)
        seen["fqdn"] += any(p.fqdn for p in peers)
        seen["cluster"] += any(p.namespace is None for p in pols)
        baseline = any(p.tier == BASELINE_TIER for p in pols)
        seen["baseline"] += baseline
        b = measure_breadth(Evaluator(pols), pods, wconns, resolvers=resolvers)
        seen["broad"] += baseline and b.in_cluster > 0
    assert all(n >= 5 for n in seen.values()), seen


# The deny peers of a cluster-scoped baseline that cover every pod, as the baseline objects
# the tool writes spell them (network-policy-api: ``namespaces: {}`` selects every namespace;
# ``networks`` are addresses outside pods' concern in-cluster), and Cilium's pod entities.
EVERY_POD_PEERS = (
    (Peer(namespaces=Selector()),),
    (Peer(namespaces=Selector()), Peer(block=IPBlock(ipaddress.ip_network("0.0.0.0/0")))),
    (Peer(block=IPBlock(ipaddress.ip_network("::/0"))), Peer(pods=Selector())),
    (Peer(entity="cluster"),),
    (Peer(pods=Selector.of({"tier": "web"})), Peer(namespaces=Selector(), pods=Selector())),
)


def _check(seed: int, every_pod_tail: bool = False) -> None:
    rng = random.Random(seed)
    tail = random.Random(-seed - 1) if every_pod_tail else None
    pods, wconns, resolvers = random_cluster(rng)
    compiled = compile_policies(random_policies(rng, pods))
    policies = [
        _dialect(rng, p, i, tail) if rng.random() < 0.7 else p for i, p in enumerate(compiled)
    ]
    evaluator = Evaluator(policies, ipblock_matches_pods=True)
    fast = measure_breadth(evaluator, pods, wconns, resolvers=resolvers, per_rule=True)
    count, universe, per_policy, _, unbounded, rules = brute_force(
        evaluator, pods, wconns, resolvers
    )
    where = f"seed {seed}: {policies}"
    assert fast.not_measured == [], where
    assert (fast.universe, fast.in_cluster) == (universe, count), where
    assert fast.per_policy == per_policy, where
    assert fast.unbounded == unbounded, where
    assert fast.per_rule == rules, where


@pytest.mark.parametrize("block", range(4))
def test_dialect_breadth_equals_brute_force(block):
    for seed in range(block * 25, block * 25 + 25):
        _check(seed)


@pytest.mark.parametrize("block", range(2))
def test_a_baseline_deny_of_every_pod_is_measured_as_brute_force(block):
    """The baseline's last deny names every namespace (and networks), not "any peer": for
    in-cluster breadth it is the same catch-all."""
    for seed in range(block * 25, block * 25 + 25):
        _check(seed, every_pod_tail=True)


def test_a_baseline_deny_of_some_pods_before_the_end_is_not_measured():
    rng = random.Random(5)
    pods, wconns, resolvers = random_cluster(rng)
    some = (Peer(namespaces=Selector.of({"team": "x"})),)
    baseline = replace(
        _anp(),
        rules=(Rule("ingress", 0, some, None, Action.DENY),),
        tier=BASELINE_TIER,
        kind="BaselineAdminNetworkPolicy",
    )
    b = measure_breadth(Evaluator([baseline]), pods, wconns, resolvers=resolvers)
    assert b.not_measured == [
        "BaselineAdminNetworkPolicy deny-all: ingress[0] is a deny rule before the end"
    ]


def test_first_match_tiers_are_not_measured_and_named():
    rng = random.Random(7)
    pods, wconns, resolvers = random_cluster(rng)
    allow = compile_policies(random_policies(random.Random(3), pods))
    ev = Evaluator([*allow, _anp()])
    b = measure_breadth(ev, pods, wconns, resolvers=resolvers)
    assert b.not_measured == ["AdminNetworkPolicy deny-all: tier admin (first-match rules)"]
    assert (b.in_cluster, b.external_addresses, b.per_policy) == (0, 0, {})
    assert b.to_dict()["not_measured"] == b.not_measured


def _anp():
    return Policy(
        "deny-all",
        None,
        Selector(),
        ("ingress",),
        (Rule("ingress", 0, None, None, Action.DENY),),
        ADMIN_TIER,
        10,
        kind="AdminNetworkPolicy",
    )


def test_unjudged_and_overlapping_baselines_are_not_measured():
    rng = random.Random(11)
    pods, wconns, resolvers = random_cluster(rng)
    unjudged = replace(_anp(), tier=BASELINE_TIER, kind="BaselineAdminNetworkPolicy")
    l7 = Rule("ingress", 0, None, (PortMatch("TCP", 80, 80),), unjudged="L7 HTTP rules")
    cnp = replace(
        unjudged,
        name="l7",
        rules=(l7,),
        tier=NETWORK_POLICY_TIER,
        kind="CiliumNetworkPolicy",
        namespace="x",
    )
    b = measure_breadth(Evaluator([cnp]), pods, wconns, resolvers=resolvers)
    assert b.not_measured == ["CiliumNetworkPolicy x/l7: ingress[0] is not judged (L7 HTTP rules)"]
    twin = replace(unjudged, name="other")
    b = measure_breadth(Evaluator([unjudged, twin]), pods, wconns, resolvers=resolvers)
    if len(pods):
        assert (
            b.not_measured and "another baseline policy selects the same pods" in b.not_measured[0]
        )


def test_external_breadth_of_entities_and_names():
    world = Rule("egress", 0, (Peer(entity="world"),), (PortMatch("TCP", 443, 443),))
    names = Rule(
        "egress",
        1,
        (Peer(fqdn=FQDNMatch(name="b.example.com")), Peer(fqdn=FQDNMatch(name="a.example.com"))),
        (PortMatch("TCP", 443, 443),),
    )
    pattern = Rule(
        "egress", 2, (Peer(fqdn=FQDNMatch(pattern="*.example.com")),), (PortMatch("TCP", 443, 443),)
    )
    api = Rule("egress", 3, (Peer(entity="kube-apiserver"),), (PortMatch("TCP", 443, 443),))
    pol = replace(
        _anp(),
        name="c",
        namespace="x",
        tier=NETWORK_POLICY_TIER,
        isolates=("egress",),
        rules=(world, names, pattern, api),
        kind="CiliumNetworkPolicy",
    )
    wconns = pd.DataFrame(columns=["src_type", "src_id", "dst_type", "dst_id", "protocol", "port"])
    per_policy, unbounded, per_rule, named = external_breadth([pol], wconns)
    assert per_policy["x/c"] == 2**32 + 2**128  # world: 0.0.0.0/0 and ::/0 on one port
    assert per_rule == {"CiliumNetworkPolicy x/c egress[0]": 2**32 + 2**128}
    assert unbounded == ["CiliumNetworkPolicy x/c egress[2]"]
    assert named == {
        "CiliumNetworkPolicy x/c egress[1]": "2 names (a.example.com, b.example.com)",
        "CiliumNetworkPolicy x/c egress[2]": "1 pattern (*.example.com; unbounded)",
        "CiliumNetworkPolicy x/c egress[3]": "the API server's addresses",
    }
