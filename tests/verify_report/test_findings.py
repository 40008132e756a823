"""Findings on the policies: unbounded rules, isolation, policies that select nothing."""

import json

from recommender.netpol.networkpolicy import compile_policies
from recommender.pipeline import verify_policies
from recommender.sim import kubectl_inventory, shop_cluster
from recommender.verify_report import report_lines
from recommender.verify_report.findings import (
    isolation_findings,
    policy_warnings,
    unbounded_rules,
)

from .policies import policy


def test_unbounded_rules_are_named():
    policies = [
        policy("shop", "open", {"podSelector": {}, "ingress": [{}], "egress": [{}]}),
        policy(
            "shop",
            "world",
            {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {
                        "from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}],
                        "ports": [{"port": 443}],
                    },
                    {
                        "from": [
                            {"namespaceSelector": {}, "podSelector": {"matchLabels": {"a": "b"}}}
                        ]
                    },
                ],
                "egress": [
                    {
                        "to": [{"ipBlock": {"cidr": "::/0"}}],
                        "ports": [{"port": 53, "protocol": "UDP"}],
                    },
                    {"to": [{"ipBlock": {"cidr": "192.0.2.0/24"}}]},
                ],
            },
        ),
        # egress rules of an Ingress-only policy are ignored: nothing unbounded there
        policy("shop", "ignored", {"podSelector": {}, "policyTypes": ["Ingress"], "egress": [{}]}),
    ]
    found = [
        (f.kind, f.subject, f.direction, f.rule)
        for f in unbounded_rules(compile_policies(policies))
    ]
    assert found == [
        ("every_peer", "shop/open", "ingress", 0),
        ("every_peer", "shop/open", "egress", 0),
        ("every_address", "shop/world", "ingress", 0),
        ("every_namespace", "shop/world", "ingress", 1),
        ("every_address", "shop/world", "egress", 0),
        ("every_port", "shop/world", "egress", 1),
    ]
    texts = [f.text for f in unbounded_rules(compile_policies(policies))]
    assert texts[2] == (
        "shop/world ingress[0]: ipBlock 0.0.0.0/0 except 10.0.0.0/8: every IPv4 address but "
        "the excepted ranges on 443/TCP"
    )
    assert texts[3] == (
        "shop/world ingress[1]: namespaceSelector {}: a=b in every namespace on every port"
    )


def test_workloads_without_egress_isolation_and_without_anypolicy(shop):
    flows, _ = shop
    ingress_only = policy(
        "data",
        "redis-in",
        {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "redis"}},
            "ingress": [{"from": [{"podSelector": {}}]}],
        },
    )
    run = verify_policies([ingress_only], [flows])
    findings, unselected = isolation_findings(run)
    assert [(f.kind, f.subject) for f in findings] == [("no_egress_isolation", "data/redis")]
    assert "selected by data/redis-in for ingress only" in findings[0].text
    assert "data/redis" not in unselected
    assert set(unselected) == set(run.pods["workload"]) - {"data/redis"}
    lines = report_lines(run)
    assert any("data/redis: no egress isolation" in line for line in lines)
    assert any(line.startswith("Not isolated: ") for line in lines)


def test_policies_that_select_no_known_pod_are_warned_about(shop):
    flows, policies = shop
    typo = policy(
        "shop", "cart-typo", {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "crat"}}}
    )
    missing = policy("prod", "deny", {"podSelector": {}})
    no_label = policy("shop", "tier", {"podSelector": {"matchLabels": {"owner": "web"}}})
    ignored = policy(
        "shop",
        "egress-ignored",
        {"podSelector": {}, "policyTypes": ["Ingress"], "egress": [{"to": [{"podSelector": {}}]}]},
    )
    run = verify_policies([*policies, typo, missing, no_label, ignored], [flows])
    warnings = {(w.kind, w.subject): w.text for w in policy_warnings(run)}
    shop_pods = int((run.pods["namespace"] == "shop").sum())
    assert warnings[("selects_nothing", "shop/cart-typo")].startswith(
        f"shop/cart-typo: podSelector app.kubernetes.io/name=crat matches none of the "
        f"{shop_pods} known pods of namespace shop: app.kubernetes.io/name there is cart, "
    )
    assert (
        "prod has no observed or inventoried pod" in warnings[("namespace_not_seen", "prod/deny")]
    )
    assert "no pod there has the label owner" in warnings[("selects_nothing", "shop/tier")]
    assert "egress rules are ignored" in warnings[("ignored_rules", "shop/egress-ignored")]
    assert len(warnings) == 4  # the proposal's own policies all select something


def test_an_inventoried_namespace_without_pods_is_known_but_empty(shop, tmp_path):
    flows, _ = shop
    inventory = kubectl_inventory(shop_cluster(seed=3, hours=1.0))
    inventory["items"].append(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "staging"}}
    )
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(inventory))
    run = verify_policies(
        [policy("staging", "deny", {"podSelector": {}})], [flows], inventory=[path]
    )
    [warning] = policy_warnings(run)
    assert (warning.kind, warning.text) == (
        "selects_nothing",
        "staging/deny: selects nothing known: namespace staging has no known pod",
    )


def test_a_deny_of_everything_is_not_unbounded():
    from recommender.netpol.model import Action, Policy, Rule, Selector

    deny = Rule("ingress", 0, None, None, Action.DENY)
    allow = Rule("ingress", 1, None, None)
    pol = Policy("p", "x", Selector(), ("ingress",), (deny, allow), kind="CiliumNetworkPolicy")
    assert [(f.kind, f.rule) for f in unbounded_rules([pol])] == [("every_peer", 1)]
