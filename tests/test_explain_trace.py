"""Each rule of a selecting policy, checked against one connection: whether its peer and
port match, why not in words, and the outcome the evaluator's verdict gives it."""

from __future__ import annotations

import ipaddress

from conformance.truth import cluster

from recommender.explain_trace import peer_check, ports_check, selector_miss, trace_side
from recommender.netpol.evaluator import Evaluator
from recommender.netpol.model import (
    ContainerPort,
    Endpoint,
    FQDNMatch,
    IPBlock,
    Peer,
    PortMatch,
    Requirement,
    Rule,
    Selector,
)

PODS = cluster()
X_A, Y_B = PODS["x/a"], PODS["y/b"]
OUTSIDE = Endpoint(kind="external", ip="203.0.113.7", name="203.0.113.7")


def test_selector_miss_names_the_first_failing_term():
    labels = {"app": "web", "tier": "front"}
    assert selector_miss(Selector.of({"app": "web"}), labels) is None
    assert selector_miss(Selector.of({"app": "api"}), labels) == "app is web, not api"
    assert selector_miss(Selector.of({"team": "x"}), labels) == "no label team (wants team=x)"
    reqs = [
        (Requirement("tier", "In", ("back", "db")), "tier is front, not in (back,db)"),
        (Requirement("zone", "In", ("a",)), "no label zone (wants zone in (a))"),
        (Requirement("tier", "NotIn", ("front",)), "tier is front, which notin (front) excludes"),
        (Requirement("zone", "Exists"), "no label zone"),
        (Requirement("app", "DoesNotExist"), "has label app=web (wants none)"),
    ]
    for req, words in reqs:
        assert selector_miss(Selector.of(requirements=[req]), labels) == words
    assert selector_miss(Selector.of(), labels) is None


def _rule(*peers: Peer, ports=None, direction="ingress") -> Rule:
    return Rule(direction, 0, peers=peers, ports=ports)


def test_pod_and_namespace_peers_say_which_part_fails():
    same_ns = _rule(Peer(pods=Selector.of({"pod": "a"})))
    assert peer_check(same_ns, X_A, "x", True) == (True, "matches pod=a in namespace x")
    ok, why = peer_check(same_ns, Y_B, "x", True)
    assert not ok and why == (
        "not pod=a in namespace x: the peer's namespace is y, not the policy's x"
    )
    other_ns = _rule(Peer(namespaces=Selector.of({"ns": "y"}), pods=Selector.of({"pod": "a"})))
    assert peer_check(other_ns, X_A, "x", True)[1].endswith("namespace x: ns is x, not y")
    assert peer_check(other_ns, Y_B, "x", True)[1].endswith("pod labels: pod is b, not a")
    assert peer_check(other_ns, OUTSIDE, "x", True)[1].endswith("the peer is not a pod")
    assert peer_check(Rule("ingress", 0), OUTSIDE, "x", True) == (True, "any peer")
    assert peer_check(Rule("ingress", 0, peers=()), X_A, "x", True)[0] is False


def test_address_blocks_excepts_and_pods():
    block = IPBlock(ipaddress.ip_network("10.0.0.0/16"), (ipaddress.ip_network("10.0.1.0/24"),))
    rule = _rule(Peer(block=block))
    ok, why = peer_check(rule, X_A, "x", True)
    assert not ok and why.endswith("10.0.1.1 is in an except of 10.0.0.0/16 except 10.0.1.0/24")
    assert peer_check(rule, Y_B, "x", True) == (True, "matches 10.0.0.0/16 except 10.0.1.0/24")
    assert peer_check(rule, OUTSIDE, "x", True)[1].endswith("203.0.113.7 is not in 10.0.0.0/16")
    ok, why = peer_check(rule, Y_B, "x", False)
    assert not ok and "match no pod here" in why
    both = _rule(Peer(block=block, pods=Selector.of({"pod": "a"}), namespaces=Selector.of()))
    assert peer_check(both, Y_B, None, False)[1].endswith("pod labels: pod is b, not a")
    assert peer_check(both, OUTSIDE, None, True)[1].endswith("the peer is not a pod")


def test_cilium_entities_dns_names_and_nodes():
    world = _rule(Peer(entity="world"), direction="egress")
    assert peer_check(world, OUTSIDE, "x", False) == (True, "matches Cilium entity world")
    assert peer_check(world, X_A, "x", False)[1] == "not Cilium entity world: the peer is a pod"
    fqdn = _rule(Peer(fqdn=FQDNMatch(name="api.example.com")), direction="egress")
    assert "no DNS name of the peer is known" in peer_check(fqdn, OUTSIDE, "x", False)[1]
    named = Endpoint(kind="external", ip="203.0.113.7", names=("www.example.com",))
    assert "names (www.example.com) do not match" in peer_check(fqdn, named, "x", False)[1]
    found = Endpoint(kind="external", ip="203.0.113.7", names=("api.example.com",))
    assert peer_check(fqdn, found, "x", False) == (True, "matches DNS name api.example.com")
    nodes = _rule(Peer(nodes=Selector.of({"role": "infra"})), direction="egress")
    assert "node labels are not known" in peer_check(nodes, OUTSIDE, None, True)[1]


def test_ports_numbers_ranges_and_named_ports():
    assert ports_check(Rule("ingress", 0), "UDP", 53, X_A) == (True, "any port")
    ranged = Rule("ingress", 0, ports=(PortMatch("TCP", 80, 90, written_as_range=True),))
    assert ports_check(ranged, "TCP", 85, X_A) == (True, "85/TCP is among 80-90/TCP")
    assert ports_check(ranged, "UDP", 85, X_A) == (False, "85/UDP is not 80-90/TCP")
    named = Rule("ingress", 0, ports=(PortMatch("TCP", name="serve-81-tcp"),))
    assert ports_check(named, "TCP", 81, X_A)[0]
    ok, why = ports_check(named, "TCP", 80, X_A)
    assert not ok and why.endswith("serve-81-tcp is 81 on the destination")
    other = Endpoint(kind="pod", namespace="x", ports=(ContainerPort("http", 80),))
    assert "no container port serve-81-tcp/TCP" in ports_check(named, "TCP", 80, other)[1]
    bare = Endpoint(kind="pod", namespace="x")
    assert "container ports are unknown" in ports_check(named, "TCP", 80, bare)[1]
    assert "needs a destination pod" in ports_check(named, "TCP", 80, OUTSIDE)[1]


def _policy(name, ns, spec):
    meta = {"name": name, "namespace": ns}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta,
            "spec": spec}  # fmt: skip


def test_a_side_lists_selecting_policies_and_each_rules_outcome():
    evaluator = Evaluator(
        [
            _policy(
                "allow-b",
                "x",
                {
                    "podSelector": {"matchLabels": {"pod": "a"}},
                    "ingress": [
                        {"from": [{"podSelector": {"matchLabels": {"pod": "c"}}}]},
                        {"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]},
                    ],
                },
            ),
            _policy("deny-all", "x", {"podSelector": {}, "policyTypes": ["Ingress"]}),
            _policy("elsewhere", "y", {"podSelector": {}, "policyTypes": ["Ingress"]}),
        ]
    )
    src = PODS["x/b"]
    verdict = evaluator.evaluate(src, X_A, "TCP", 80)
    side = trace_side(evaluator, verdict.ingress, X_A, src, X_A, "TCP", 80)
    assert side.outcome == "allowed" and side.decided == "allowed by x/allow-b ingress[1]"
    assert [p.label for p in side.policies] == ["x/allow-b", "x/deny-all"]
    assert [p.subject for p in side.policies] == [
        "pod=a in namespace x",
        "every pod in namespace x",
    ]
    first, second = side.policies[0].rules
    assert (first.peer, first.port, first.outcome) == (False, True, "no match")
    assert first.why == (
        "peer: not pod=c in namespace x: pod labels: pod is b, not c; port: any port"
    )
    assert (second.outcome, str(second.ref)) == ("allows", "x/allow-b ingress[1]")
    assert side.policies[1].rules == ()
    egress = trace_side(evaluator, verdict.egress, src, X_A, X_A, "TCP", 80)
    assert egress.policies == () and egress.decided.startswith("allowed: not isolated")
    assert side.key() != egress.key()
