"""The compiled policy model: canonical selectors, matching, and the representation of what
only later dialects use (deny and pass actions, tiers, cluster scope)."""

from __future__ import annotations

import ipaddress

import pytest

from recommender.netpol.model import (
    ADMIN_TIER,
    BASELINE_TIER,
    NETWORK_POLICY_TIER,
    Action,
    ContainerPort,
    Endpoint,
    IPBlock,
    Peer,
    Policy,
    PortMatch,
    Requirement,
    Rule,
    Selector,
    Tier,
)


def test_selector_of_is_canonical_whatever_the_order_written():
    a = Selector.of({"b": "2", "a": "1"}, [("k", "In", ["y", "x", "y"]), ("e", "Exists", None)])
    b = Selector.of({"a": "1", "b": "2"}, [Requirement("e", "Exists"), ("k", "In", ("x", "y"))])
    assert a == b and hash(a) == hash(b)
    assert a.match_labels == (("a", "1"), ("b", "2"))
    assert a.requirements == (Requirement("e", "Exists"), Requirement("k", "In", ("x", "y")))
    assert {a: 1}[b] == 1


@pytest.mark.parametrize(
    ("requirement", "labels", "expected"),
    [
        (Requirement("k", "In", ("a", "b")), {"k": "b"}, True),
        (Requirement("k", "In", ("a", "b")), {"k": "c"}, False),
        (Requirement("k", "In", ("a",)), {}, False),
        (Requirement("k", "NotIn", ("a",)), {}, True),
        (Requirement("k", "NotIn", ("a",)), {"k": "a"}, False),
        (Requirement("k", "Exists"), {"k": ""}, True),
        (Requirement("k", "Exists"), {}, False),
        (Requirement("k", "DoesNotExist"), {}, True),
        (Requirement("k", "DoesNotExist"), {"k": "a"}, False),
    ],
)
def test_requirement_operators(requirement, labels, expected):
    assert requirement.matches(labels) is expected


def test_selector_matches_every_term_and_empty_matches_all():
    sel = Selector.of({"app": "web"}, [("tier", "NotIn", ["data"])])
    assert sel.matches({"app": "web"}) is True
    assert sel.matches({"app": "web", "tier": "data"}) is False
    assert sel.matches({"app": "db"}) is False
    assert Selector().matches_all and Selector().matches({"any": "thing"})
    assert not sel.matches_all
    assert list(sel.keys_and_values()) == [("app", ("web",)), ("tier", ("data",))]


def test_ipblock_contains_and_size():
    block = IPBlock(ipaddress.ip_network("10.0.0.0/24"), (ipaddress.ip_network("10.0.0.0/26"),))
    assert block.size == 256 - 64
    assert block.contains(ipaddress.ip_address("10.0.0.64")) is True
    assert block.contains(ipaddress.ip_address("10.0.0.63")) is False
    assert block.contains(ipaddress.ip_address("::1")) is False


def test_port_match_number_range_protocol_and_named():
    api = Endpoint("pod", "10.0.0.1", "x", ports=(ContainerPort("http", 8080),))
    assert PortMatch("TCP", 80, 80).matches("TCP", 80, api) is True
    assert PortMatch("TCP", 80, 80).matches("UDP", 80, api) is False
    assert PortMatch("TCP", 8000, 8100).matches("TCP", 8100, api) is True
    assert PortMatch("TCP").matches("TCP", 1, api) is True  # every port of the protocol
    assert PortMatch("TCP", name="http").matches("TCP", 8080, api) is True
    assert PortMatch("TCP", name="http").matches("TCP", 80, api) is False
    assert PortMatch("TCP", name="http").matches("TCP", 8080, Endpoint("external")) is False


def test_a_deny_rule_and_a_pass_rule_are_representable():
    deny = Rule("ingress", 0, (Peer(block=IPBlock(ipaddress.ip_network("0.0.0.0/0"))),), None)
    deny = Rule(deny.direction, deny.index, deny.peers, deny.ports, Action.DENY)
    assert deny.action is Action.DENY and deny.action == "deny"
    assert Rule("egress", 1, action=Action.PASS).action == "pass"
    assert Rule("egress", 1).action is Action.ALLOW  # NetworkPolicy's only action
    assert Rule("egress", 1).peers is None and Rule("egress", 1).ports is None  # any


def test_policies_sort_by_tier_then_priority_then_key():
    def policy(name, tier, priority=0, namespace=None):
        return Policy(name, namespace, Selector(), ("ingress",), (), tier, priority)

    baseline = policy("baseline", BASELINE_TIER)
    netpol = policy("allow", NETWORK_POLICY_TIER, namespace="shop")
    admin_late = policy("a-late", ADMIN_TIER, priority=20)
    admin_early = policy("z-early", ADMIN_TIER, priority=10)
    ordered = sorted([baseline, netpol, admin_late, admin_early], key=lambda p: p.precedence)
    assert [p.name for p in ordered] == ["z-early", "a-late", "allow", "baseline"]
    assert ADMIN_TIER < NETWORK_POLICY_TIER < BASELINE_TIER
    assert Tier(150, "calico-security") < NETWORK_POLICY_TIER  # a dialect's own tier slots in
    assert netpol.key == "shop/allow" and baseline.key == "baseline"  # cluster-scoped
    assert netpol.tier == NETWORK_POLICY_TIER and netpol.priority == 0


def test_rules_of_keeps_source_order_per_direction():
    rules = (Rule("ingress", 0), Rule("ingress", 1), Rule("egress", 0))
    pol = Policy("p", "x", Selector(), ("ingress", "egress"), rules)
    assert pol.rules_of("ingress") == rules[:2]
    assert pol.rules_of("egress") == rules[2:]


def test_model_objects_are_immutable():
    pol = Policy("p", "x", Selector(), ("ingress",))
    with pytest.raises(AttributeError):
        pol.name = "q"  # type: ignore[misc]
