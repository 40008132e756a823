"""Which policy sets breadth counts exactly: the baseline objects the tool writes (a deny of
every namespace, not of "any peer") are measured, and measured as the default-denies they
replace."""

from __future__ import annotations

import ipaddress

import pytest
from conftest import SAMPLE_FLOWS

import recommender
from recommender.generate.baseline import BASELINE_KINDS, render_baseline, resolver_peers
from recommender.netpol.breadth import measure_breadth
from recommender.netpol.breadth_limits import covers_every_pod, is_catch_all_deny
from recommender.netpol.evaluator import Evaluator
from recommender.netpol.model import Action, IPBlock, Peer, PortMatch, Rule, Selector
from recommender.netpol.read import compile_objects

EVERY = Selector()
WEB = Selector.of({"app": "web"})


@pytest.mark.parametrize(
    ("peer", "policy_ns", "covers"),
    [
        (Peer(namespaces=EVERY), "x", True),
        (Peer(namespaces=EVERY, pods=EVERY), None, True),
        (Peer(pods=EVERY), None, True),  # cluster-scoped: every namespace
        (Peer(pods=EVERY), "x", False),  # namespaced: its own namespace only
        (Peer(namespaces=EVERY, pods=WEB), None, False),
        (Peer(namespaces=WEB), None, False),
        (Peer(entity="cluster"), "x", True),
        (Peer(entity="all"), "x", True),
        (Peer(entity="world"), "x", False),
        (Peer(block=IPBlock(ipaddress.ip_network("0.0.0.0/0"))), None, False),
        (Peer(block=IPBlock(ipaddress.ip_network("10.0.0.0/8")), namespaces=EVERY), None, False),
        (Peer(nodes=EVERY), None, False),
    ],
)
def test_which_peers_cover_every_pod(peer, policy_ns, covers):
    assert covers_every_pod(peer, policy_ns) is covers


def test_a_catch_all_deny_denies_every_pod_on_every_port():
    every_ns = (Peer(block=IPBlock(ipaddress.ip_network("::/0"))), Peer(namespaces=EVERY))
    assert is_catch_all_deny(Rule("egress", 1, None, None, Action.DENY))
    assert is_catch_all_deny(Rule("egress", 1, every_ns, None, Action.DENY))
    assert not is_catch_all_deny(Rule("egress", 1, every_ns, None, Action.ALLOW))
    assert not is_catch_all_deny(Rule("egress", 1, every_ns, None, Action.PASS))
    ports = (PortMatch("TCP", 80, 80),)
    assert not is_catch_all_deny(Rule("egress", 1, every_ns, ports, Action.DENY))
    assert not is_catch_all_deny(Rule("egress", 1, (Peer(pods=EVERY),), None, Action.DENY), "x")


@pytest.mark.parametrize("kind", BASELINE_KINDS)
def test_the_sample_with_a_baseline_is_as_broad_in_cluster_as_with_default_denies(kind):
    rec = recommender.propose(recommender.observe([str(SAMPLE_FLOWS)]))
    baseline = render_baseline(
        kind, rec.ir, resolver_peers(rec.synthesis.resolvers, rec.selections)
    )
    default_denies = {(p.namespace, p.name) for p in rec.ir if p.role == "default-deny"}
    assert default_denies
    kept = [
        p
        for p in rec.policies
        if (p["metadata"]["namespace"], p["metadata"]["name"]) not in default_denies
    ]
    compiled, _ = compile_objects([*kept, baseline])
    breadth = measure_breadth(
        Evaluator(compiled),
        rec.pods,
        rec.workload_connections,
        resolvers=rec.synthesis.resolvers,
        namespaces=rec.synthesis.namespaces,
    )
    assert breadth.not_measured == []
    assert breadth.in_cluster == rec.breadth.in_cluster
