"""The NetworkPolicy reader: policyTypes defaulting, label selectors, ipBlocks and every
PolicyError, from the NetworkPolicy API reference and DESIGN §4.

Every expected value is written out; nothing is derived from the implementation.
"""

from __future__ import annotations

import ipaddress

import pytest

from recommender.netpol.model import (
    NETWORK_POLICY_TIER,
    Action,
    IPBlock,
    Peer,
    Policy,
    PolicyError,
    PortMatch,
    Rule,
    Selector,
)
from recommender.netpol.networkpolicy import (
    compile_policies,
    compile_policy,
    ip_in_block,
    policy_types,
    selector_matches,
)

from .builders import expr, netpol

# --------------------------------------------------------------------------------------------
# policyTypes defaulting
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"podSelector": {}}, ("Ingress",)),
        ({"podSelector": {}, "ingress": [{}]}, ("Ingress",)),
        ({"podSelector": {}, "ingress": []}, ("Ingress",)),
        # egress: [] without policyTypes is NOT an egress policy
        ({"podSelector": {}, "egress": []}, ("Ingress",)),
        ({"podSelector": {}, "egress": None}, ("Ingress",)),
        # egress-only rules without policyTypes: Ingress AND Egress
        ({"podSelector": {}, "egress": [{}]}, ("Ingress", "Egress")),
        ({"podSelector": {}, "ingress": [{}], "egress": [{}]}, ("Ingress", "Egress")),
        # explicit policyTypes wins
        ({"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{}]}, ("Egress",)),
        ({"podSelector": {}, "policyTypes": ["Ingress"], "egress": [{}]}, ("Ingress",)),
        ({"podSelector": {}, "policyTypes": ["Egress", "Ingress"]}, ("Ingress", "Egress")),
        # an empty list is defaulted like a missing one
        ({"podSelector": {}, "policyTypes": []}, ("Ingress",)),
        ({"podSelector": {}, "policyTypes": [], "egress": [{}]}, ("Ingress", "Egress")),
    ],
)
def test_policy_types_defaulting(spec, expected):
    assert policy_types(netpol("p", **spec)) == expected


def test_policy_types_accepts_bare_spec():
    assert policy_types({"podSelector": {}, "egress": [{}]}) == ("Ingress", "Egress")


def test_policy_types_rejects_unknown_type():
    with pytest.raises(PolicyError, match="policyTypes"):
        policy_types(netpol("p", podSelector={}, policyTypes=["Both"]))


# --------------------------------------------------------------------------------------------
# Label selectors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ({}, {}, True),
        ({}, {"a": "1"}, True),
        ({"matchLabels": {}, "matchExpressions": []}, {"a": "1"}, True),
        (None, {"a": "1"}, False),
        ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
        ({"matchLabels": {"a": "1"}}, {}, False),
        ({"matchLabels": {"a": "1", "b": "2"}}, {"a": "1"}, False),
        ({"matchLabels": {"a": ""}}, {"a": ""}, True),
        (expr("a", "In", "1", "2"), {"a": "2"}, True),
        (expr("a", "In", "1", "2"), {"a": "3"}, False),
        (expr("a", "In", "1", "2"), {}, False),
        (expr("a", "NotIn", "1", "2"), {"a": "3"}, True),
        (expr("a", "NotIn", "1", "2"), {"a": "1"}, False),
        (expr("a", "NotIn", "1", "2"), {}, True),  # absent key: NotIn matches
        (expr("a", "NotIn", "1"), {"b": "1"}, True),
        (expr("a", "Exists"), {"a": ""}, True),
        (expr("a", "Exists"), {"b": "1"}, False),
        (expr("a", "DoesNotExist"), {"b": "1"}, True),
        (expr("a", "DoesNotExist"), {"a": "1"}, False),
        (
            {"matchLabels": {"app": "web"}, **expr("tier", "In", "fe")},
            {"app": "web", "tier": "fe"},
            True,
        ),
        (
            {"matchLabels": {"app": "web"}, **expr("tier", "In", "fe")},
            {"app": "web", "tier": "be"},
            False,
        ),
        (
            {"matchLabels": {"app": "web"}, **expr("tier", "In", "fe")},
            {"app": "db", "tier": "fe"},
            False,
        ),
        (
            {
                "matchExpressions": [
                    {"key": "a", "operator": "Exists"},
                    {"key": "b", "operator": "DoesNotExist"},
                ]
            },
            {"a": "1"},
            True,
        ),
        (
            {
                "matchExpressions": [
                    {"key": "a", "operator": "Exists"},
                    {"key": "b", "operator": "DoesNotExist"},
                ]
            },
            {"a": "1", "b": "2"},
            False,
        ),
    ],
)
def test_selector_matches(selector, labels, expected):
    assert selector_matches(selector, labels) is expected


@pytest.mark.parametrize(
    "selector",
    [
        expr("a", "Equals", "1"),
        expr("a", "in", "1"),
        expr("a", "In"),  # In needs values
        expr("a", "Exists", "1"),  # Exists takes none
        {"matchLabels": {"a": 1}},
        {"matchLabel": {"a": "1"}},
    ],
)
def test_selector_rejects_malformed(selector):
    with pytest.raises(PolicyError):
        selector_matches(selector, {"a": "1"})


# --------------------------------------------------------------------------------------------
# ipBlock
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "block", "expected"),
    [
        ("10.0.0.5", {"cidr": "10.0.0.0/24"}, True),
        ("10.0.0.0", {"cidr": "10.0.0.0/24"}, True),
        ("10.0.0.255", {"cidr": "10.0.0.0/24"}, True),
        ("10.0.1.0", {"cidr": "10.0.0.0/24"}, False),
        ("192.168.242.1", {"cidr": "192.168.242.213/24"}, True),  # host bits: the /24
        ("192.168.242.213", {"cidr": "192.168.242.213/24"}, True),
        ("192.168.243.1", {"cidr": "192.168.242.213/24"}, False),
        ("10.0.0.5", {"cidr": "10.0.0.5/32"}, True),
        ("10.0.0.6", {"cidr": "10.0.0.5/32"}, False),
        ("10.0.5.9", {"cidr": "10.0.0.0/16", "except": ["10.0.5.0/24"]}, False),
        ("10.0.5.0", {"cidr": "10.0.0.0/16", "except": ["10.0.5.0/24"]}, False),
        ("10.0.5.255", {"cidr": "10.0.0.0/16", "except": ["10.0.5.0/24"]}, False),
        ("10.0.4.255", {"cidr": "10.0.0.0/16", "except": ["10.0.5.0/24"]}, True),
        ("10.0.6.0", {"cidr": "10.0.0.0/16", "except": ["10.0.5.0/24"]}, True),
        ("10.0.7.1", {"cidr": "10.0.0.0/16", "except": ["10.0.5.0/24", "10.0.7.0/24"]}, False),
        ("10.0.5.9", {"cidr": "10.0.0.0/16", "except": ["10.0.5.9/24"]}, False),  # host bits
        ("10.0.0.1", {"cidr": "0.0.0.0/0"}, True),
        ("2001:db8::1", {"cidr": "0.0.0.0/0"}, False),  # IPv4 block never admits IPv6
        ("::ffff:10.0.0.1", {"cidr": "10.0.0.0/8"}, False),
        ("10.0.0.1", {"cidr": "::/0"}, False),  # and vice versa
        ("2001:db8::1", {"cidr": "2001:db8::/32"}, True),
        ("2001:db9::1", {"cidr": "2001:db8::/32"}, False),
        ("2001:db8::5", {"cidr": "2001:db8::/32", "except": ["2001:db8::/64"]}, False),
        ("2001:db8:0:1::5", {"cidr": "2001:db8::/32", "except": ["2001:db8::/64"]}, True),
    ],
)
def test_ip_in_block(ip, block, expected):
    assert ip_in_block(ip, block) is expected


# --------------------------------------------------------------------------------------------
# PolicyError
# --------------------------------------------------------------------------------------------


def _with_meta(meta, spec=None):
    return {"kind": "NetworkPolicy", "metadata": meta, "spec": spec or {"podSelector": {}}}


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        pytest.param(_with_meta({"namespace": "x"}), "metadata.name", id="no-name"),
        pytest.param({"kind": "NetworkPolicy", "spec": {}}, "metadata.name", id="no-metadata"),
        pytest.param({**netpol("p"), "kind": "Service"}, "x/p: kind", id="wrong-kind"),
        pytest.param(
            netpol("p", podSelector={}, ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}]),
            "x/p: spec.ingress[0].from[0].ipBlock.cidr",
            id="bad-cidr-prefix",
        ),
        pytest.param(
            netpol("p", podSelector={}, ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.1"}}]}]),
            "ipBlock.cidr",
            id="cidr-without-prefix",
        ),
        pytest.param(
            netpol("p", podSelector={}, ingress=[{"from": [{"ipBlock": {"cidr": "banana/8"}}]}]),
            "ipBlock.cidr",
            id="cidr-garbage",
        ),
        pytest.param(
            netpol("p", podSelector={}, egress=[{"to": [{"ipBlock": {}}]}]),
            "x/p: spec.egress[0].to[0].ipBlock.cidr",
            id="ipblock-without-cidr",
        ),
        pytest.param(
            netpol(
                "p",
                podSelector={},
                ingress=[
                    {"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["2001:db8::/64"]}}]}
                ],
            ),
            "except[0]",
            id="except-other-family",
        ),
        pytest.param(
            netpol(
                "p",
                podSelector={},
                ingress=[
                    {"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"]}}]}
                ],
            ),
            "except[0]",
            id="except-outside-cidr",
        ),
        pytest.param(
            netpol(
                "p",
                podSelector={},
                ingress=[
                    {
                        "from": [
                            {"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}},
                        ]
                    }
                ],
            ),
            "x/p: spec.ingress[0].from[0]",
            id="ipblock-with-podselector",
        ),
        pytest.param(
            netpol(
                "p",
                podSelector={},
                ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "namespaceSelector": {}}]}],
            ),
            "ipBlock cannot be combined",
            id="ipblock-with-nsselector",
        ),
        pytest.param(
            netpol("p", podSelector={}, ingress=[{"from": [{}]}]),
            "from[0]",
            id="empty-peer",
        ),
        pytest.param(
            netpol("p", podSelector={}, ingress=[{"ports": [{"port": 90, "endPort": 80}]}]),
            "x/p: spec.ingress[0].ports[0].endPort",
            id="endport-below-port",
        ),
        pytest.param(
            netpol("p", podSelector={}, ingress=[{"ports": [{"port": "http", "endPort": 80}]}]),
            "ports[0].endPort",
            id="endport-with-named-port",
        ),
        pytest.param(
            netpol("p", podSelector={}, ingress=[{"ports": [{"endPort": 80}]}]),
            "ports[0].endPort",
            id="endport-without-port",
        ),
        pytest.param(
            netpol("p", podSelector={}, ingress=[{"ports": [{"protocol": "ICMP"}]}]),
            "ports[0].protocol",
            id="unknown-protocol",
        ),
        pytest.param(
            netpol("p", podSelector={}, ingress=[{"ports": [{"protocol": "tcp", "port": 80}]}]),
            "ports[0].protocol",
            id="lowercase-protocol",
        ),
        pytest.param(
            netpol("p", podSelector={}, ingress=[{"ports": [{"port": 70000}]}]),
            "ports[0].port",
            id="port-out-of-range",
        ),
        pytest.param(
            netpol("p", podSelector={}, ingress=[{"ports": [{"port": "80"}]}]),
            "ports[0].port",
            id="numeric-string-port-name",
        ),
        pytest.param(
            netpol("p", podSelector=expr("app", "Like", "web")),
            "x/p: spec.podSelector.matchExpressions[0].operator",
            id="unknown-operator",
        ),
        pytest.param(
            netpol(
                "p",
                podSelector={},
                ingress=[{"from": [{"namespaceSelector": expr("team", "Near", "a")}]}],
            ),
            "from[0].namespaceSelector.matchExpressions[0].operator",
            id="unknown-operator-in-peer",
        ),
        pytest.param(
            netpol("p", podSelector={}, policyTypes=["ingress"]),
            "policyTypes",
            id="lowercase-policy-type",
        ),
        pytest.param(
            netpol("p", podSelector={}, ingress=[{"to": [{"podSelector": {}}]}]),
            "spec.ingress[0]",
            id="to-in-ingress-rule",
        ),
        pytest.param(
            netpol("p", podSelector={}, ingres=[{}]),
            "ingres",
            id="misspelt-spec-field",
        ),
    ],
)
def test_policy_errors(policy, fragment):
    with pytest.raises(PolicyError) as info:
        compile_policies([policy])
    assert fragment in str(info.value)


def test_ip_in_block_rejects_bad_block():
    with pytest.raises(PolicyError):
        ip_in_block("10.0.0.1", {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]})
    with pytest.raises(PolicyError):
        ip_in_block("10.0.0.1", {"cidr": "nope"})


# --------------------------------------------------------------------------------------------
# The compiled form
# --------------------------------------------------------------------------------------------


def test_compile_policy_gives_the_model_objects():
    raw = netpol(
        "p",
        podSelector={"matchLabels": {"app": "db"}},
        ingress=[
            {
                "from": [
                    {"podSelector": {"matchLabels": {"app": "web"}}},
                    {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
                ],
                "ports": [{"port": 5432}, {"protocol": "UDP", "port": 9000, "endPort": 9010}],
            },
            {"ports": [{"port": "metrics"}]},
        ],
    )
    net = ipaddress.ip_network
    expected = Policy(
        name="p",
        namespace="x",
        subject=Selector.of({"app": "db"}),
        isolates=("ingress",),
        rules=(
            Rule(
                "ingress",
                0,
                (
                    Peer(pods=Selector.of({"app": "web"})),
                    Peer(block=IPBlock(net("10.0.0.0/8"), (net("10.1.0.0/16"),))),
                ),
                (PortMatch("TCP", 5432, 5432), PortMatch("UDP", 9000, 9010)),
            ),
            Rule("ingress", 1, None, (PortMatch("TCP", name="metrics"),)),
        ),
        priority=1000,  # Calico's order for a Kubernetes NetworkPolicy in its default tier
    )
    assert compile_policy(raw) == expected
    assert compile_policy(raw).tier == NETWORK_POLICY_TIER
    assert all(r.action is Action.ALLOW for r in expected.rules)


def test_rules_of_a_direction_not_isolated_are_validated_but_not_compiled_in():
    raw = netpol(
        "p", podSelector={}, policyTypes=["Ingress"], egress=[{"to": [{"podSelector": {}}]}]
    )
    pol = compile_policy(raw)
    assert pol.isolates == ("ingress",) and pol.rules == ()
    bad = netpol("p", podSelector={}, policyTypes=["Ingress"], egress=[{"to": [{}]}])
    with pytest.raises(PolicyError, match=r"x/p: spec.egress\[0\].to\[0\]: must specify"):
        compile_policy(bad)


def test_a_policy_without_namespace_is_in_default():
    raw = {"metadata": {"name": "p"}, "spec": {"podSelector": {}}}
    assert compile_policy(raw).key == "default/p"
