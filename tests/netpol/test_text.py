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


# Other dialects' peers and actions, compiled by their own readers.


def _compiled(obj):
    from recommender.netpol.read import compile_objects

    return compile_objects([obj])[0]


def _cnp(spec, kind="CiliumNetworkPolicy"):
    meta = {"name": "p", "namespace": "shop"} if kind == "CiliumNetworkPolicy" else {"name": "p"}
    return {"apiVersion": "cilium.io/v2", "kind": kind, "metadata": meta, "spec": spec}


def _texts(policies):
    return [rule_text(r, p.namespace) for p in policies for r in p.rules]


def test_cilium_entities_fqdns_and_deny_rules_in_words():
    spec = {
        "endpointSelector": {"matchLabels": {"app": "api"}},
        "egress": [
            {"toEntities": ["world", "kube-apiserver"]},
            {
                "toFQDNs": [{"matchName": "api.x.com"}, {"matchPattern": "*.x.com"}],
                "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}],
            },
        ],
        "ingressDeny": [{"fromEntities": ["world"]}],
    }
    assert sorted(_texts(_compiled(_cnp(spec)))) == sorted(
        [
            "to Cilium entity world or Cilium entity kube-apiserver on every port",
            "to DNS name api.x.com or DNS names matching *.x.com on 443/TCP",
            "deny from Cilium entity world on every port",
        ]
    )


def test_a_cluster_scoped_policy_names_no_namespace_of_its_own():
    spec = {
        "endpointSelector": {},
        "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "web"}}]}],
    }
    [policy] = _compiled(_cnp(spec, "CiliumClusterwideNetworkPolicy"))
    assert policy.namespace is None
    assert _texts([policy]) == ["from app=web in every namespace on every port"]


def test_calico_nets_with_a_selector_and_pass_rules_in_words():
    obj = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": "p"},
        "spec": {
            "selector": "all()",
            "types": ["Ingress"],
            "ingress": [
                {
                    "action": "Allow",
                    "source": {"nets": ["10.0.0.0/8"], "selector": "app == 'web'"},
                },
                {"action": "Pass", "source": {"nets": ["192.0.2.0/24"]}},
                {"action": "Deny"},
            ],
        },
    }
    assert _texts(_compiled(obj)) == [
        "from app=web in every namespace with an address in 10.0.0.0/8 on every port",
        "pass from 192.0.2.0/24 on every port",
        "deny from anyone on every port",
    ]


def test_admin_node_peers_in_words():
    obj = {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": "p"},
        "spec": {
            "priority": 10,
            "subject": {"namespaces": {}},
            "egress": [
                {
                    "name": "nodes",
                    "action": "Deny",
                    "to": [{"nodes": {"matchLabels": {"role": "infra"}}}],
                },
                {"name": "all-nodes", "action": "Pass", "to": [{"nodes": {}}]},
            ],
        },
    }
    assert _texts(_compiled(obj)) == [
        "deny to nodes with role=infra on every port",
        "pass to every node on every port",
    ]
