"""Compiled rules, peers and selectors in words, as a report quotes them."""

import pytest

from recommender.netpol.networkpolicy import compile_policy, compile_selector
from recommender.netpol.text import rule_text, selector_text


def _text(selector):
    return selector_text(None if selector is None else compile_selector(selector))


def _rule(rule, direction, ns):
    """The one ``direction`` rule of a policy in ``ns`` holding ``rule`` (a dict)."""
    spec = {"policyTypes": [direction.capitalize()], direction: [rule]}
    raw = {"metadata": {"namespace": ns, "name": "p"}, "spec": spec}
    [compiled] = compile_policy(raw).rules_of(direction)
    return compiled


def test_selectors_in_kubectl_syntax():
    assert _text({}) == ""
    assert _text(None) == ""
    sel = {
        "matchLabels": {"tier": "web", "app": "shop"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "dev"]},
            {"key": "track", "operator": "NotIn", "values": ["canary"]},
            {"key": "team", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"},
        ],
    }
    assert _text(sel) == "app=shop,tier=web,env in (dev,prod),track notin (canary),team,!legacy"


@pytest.mark.parametrize(
    "rule, direction, text",
    [
        ({}, "ingress", "from anyone on every port"),
        (None, "egress", "to anywhere on every port"),
        (
            {
                "from": [{"podSelector": {"matchLabels": {"app": "orders"}}}],
                "ports": [{"port": 8080}],
            },
            "ingress",
            "from app=orders in namespace shop on 8080/TCP",
        ),
        (
            {
                "to": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "data"}
                        },
                        "podSelector": {},
                    }
                ],
                "ports": [{"port": 8000, "endPort": 8100}, {"protocol": "UDP"}],
            },
            "egress",
            "to every pod in namespace data on 8000-8100/TCP, every UDP port",
        ),
        (
            {
                "from": [
                    {
                        "namespaceSelector": {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/metadata.name",
                                    "operator": "In",
                                    "values": ["b", "a"],
                                }
                            ]
                        },
                        "podSelector": {
                            "matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]
                        },
                    },
                    {"namespaceSelector": {"matchLabels": {"team": "x"}}},
                ],
                "ports": [{"port": "metrics", "protocol": "TCP"}],
            },
            "ingress",
            "from !canary in namespaces a, b or every pod in namespaces with team=x "
            "on named port metrics/TCP",
        ),
        (
            {"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}]},
            "ingress",
            "from 10.0.0.0/8 except 10.1.0.0/16 on every port",
        ),
        (
            {"to": [{"ipBlock": {"cidr": f"192.0.2.{i}/32"}} for i in range(5)]},
            "egress",
            "to 5 address blocks (192.0.2.0/32, 192.0.2.1/32, ...) on every port",
        ),
    ],
)
def test_rules_in_words(rule, direction, text):
    assert rule_text(_rule(rule, direction, "shop"), "shop") == text


def test_rules_read_as_their_source_wrote_them():
    """Host bits, except order, a one-port range and expression order survive compiling."""
    rule = {
        "from": [
            {"ipBlock": {"cidr": "10.1.2.3/8", "except": ["10.9.0.0/16", "10.2.0.0/16"]}},
            {
                "podSelector": {
                    "matchExpressions": [
                        {"key": "b", "operator": "Exists"},
                        {"key": "a", "operator": "Exists"},
                    ]
                }
            },
        ],
        "ports": [{"port": 80, "endPort": 80}, {"port": 81}],
    }
    assert rule_text(_rule(rule, "ingress", "shop"), "shop") == (
        "from b,a in namespace shop or 10.1.2.3/8 except 10.9.0.0/16, 10.2.0.0/16 "
        "on 80-80/TCP, 81/TCP"
    )
