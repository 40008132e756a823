"""Denied traffic grouped and explained."""

import ipaddress

from recommender.pipeline import verify_policies
from recommender.verify_report import report_json
from recommender.verify_report.denials import Denial, denied_groups

from .policies import edit, without


def test_a_side_with_no_rules_admits_nothing():
    deny = Denial("ingress", "data/redis", ("data/default-deny",), ())
    assert deny.describe() == (
        "data/redis is isolated for ingress by data/default-deny; it admits no ingress at all"
    )
    many = Denial("egress", "shop/cart", ("shop/a", "shop/b"), tuple(f"to r{i}" for i in range(9)))
    assert many.describe().startswith("shop/cart is isolated for egress by shop/a, shop/b; ")
    assert "they admit only to r0; " in many.describe()
    assert many.describe().endswith("; and 3 more rules")


def test_internet_sources_collapse_into_one_group_per_port(shop):
    flows, policies = shop
    run = verify_policies(without(policies, "allow-ingress-nginx-controller"), [flows])
    groups = denied_groups(run)
    external = [g for g in groups if g.source_kind == "external"]
    denied = run.replayed[~run.replayed["allowed"] & ~run.replayed["exempt"]]
    from_internet = denied[denied["src_kind"] == "external"]
    assert {(g.destination, g.port) for g in external} == set(
        zip(from_internet["dst_workload"], from_internet["port"].astype(int), strict=True)
    )
    for g in external:
        rows = from_internet[from_internet["port"] == g.port]
        assert g.flows == int(rows["flows"].sum())
        assert g.connections == len(rows)
        assert g.pairs == len(set(zip(rows["src_ip"], rows["dst_pod"], strict=True)))
        assert g.source == f"{rows['src_ip'].nunique()} external addresses"
        assert g.source_addresses.count == rows["src_ip"].nunique()
        nets = [ipaddress.ip_network(c) for c in g.source_addresses.cidrs]
        assert all(any(ipaddress.ip_address(ip) in n for n in nets) for ip in rows["src_ip"])
        [why] = g.denials
        assert why.direction == "ingress" and why.admits == ()
        assert why.isolated_by == ("ingress-nginx/default-deny",)
    # the egress side of the controller is denied too, explained once per group
    egress = [g for g in groups if g.source == "ingress-nginx/ingress-nginx-controller"]
    assert egress and all(d.direction == "egress" for g in egress for d in g.denials)
    # every denied connection is in exactly one group
    assert sum(g.connections for g in groups) == len(denied)
    assert sum(g.flows for g in groups) == int(denied["flows"].sum())


def test_the_explanation_says_what_the_destination_does_admit(shop):
    flows, policies = shop

    def only_prometheus(spec):
        spec["ingress"] = [
            r
            for r in spec["ingress"]
            if r["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            == "monitoring"
        ]

    run = verify_policies(edit(policies, "data", "allow-redis", only_prometheus), [flows])
    [group] = denied_groups(run)
    assert (group.source, group.destination, group.port_text) == (
        "shop/cart",
        "data/redis",
        "6379/TCP",
    )
    pods = run.replayed[(run.replayed["src_workload"] == "shop/cart")]
    pods = pods[pods["dst_workload"] == "data/redis"]
    assert group.pairs == len(set(zip(pods["src_pod"], pods["dst_pod"], strict=True)))
    assert group.flows == int(pods["flows"].sum())
    [why] = group.denials
    assert why.describe() == (
        "data/redis is isolated for ingress by data/allow-redis, data/default-deny; they admit "
        "only from app.kubernetes.io/name=prometheus in namespace monitoring on 9121/TCP"
    )
    assert group.lines()[0] == (
        f"  shop/cart -> data/redis [6379/TCP]: {group.pairs} pod pairs, {group.flows} flows"
    )


def test_the_explanation_names_the_egress_side_when_the_source_is_denied(shop):
    flows, policies = shop

    def no_redis(spec):
        spec["egress"] = [r for r in spec["egress"] if r["ports"][0]["port"] != 6379]

    run = verify_policies(edit(policies, "shop", "allow-cart", no_redis), [flows])
    [group] = denied_groups(run)
    [why] = group.denials
    assert (why.direction, why.subject) == ("egress", "shop/cart")
    assert why.isolated_by == ("shop/allow-cart", "shop/default-deny")
    assert "to k8s-app=kube-dns in namespace kube-system on 53/TCP, 53/UDP" in why.admits
    assert not any("6379" in a for a in why.admits)


# Under tiers the denial names the rule that decided, not only what the allow rules admit:
# Cilium deny rules win over any allow ("Deny Policies", docs.cilium.io/en/stable/security/
# policy/language/#deny-policies); a Calico tier ends with an implicit deny when policies of
# it select the endpoint and none of their rules matches, and a Pass rule hands the
# connection to the next tier (docs.tigera.io/calico/latest/network-policy/policy-tiers/
# tiered-policy, "How policy is processed").


def test_a_cilium_deny_rule_is_named_as_cilium_spells_it(shop):
    flows, policies = shop
    deny = {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"namespace": "data", "name": "no-shop"},
        "spec": {
            "endpointSelector": {"matchLabels": {"app.kubernetes.io/name": "redis"}},
            "enableDefaultDeny": {"ingress": False},
            "ingressDeny": [
                {
                    "fromEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "shop"}}],
                    "toPorts": [{"ports": [{"port": "6379", "protocol": "TCP"}]}],
                }
            ],
        },
    }
    run = verify_policies([*policies, deny], [flows])
    [group] = denied_groups(run)
    assert (group.source, group.destination, group.port_text) == (
        "shop/cart",
        "data/redis",
        "6379/TCP",
    )
    [why] = group.denials
    assert why.decided_by == (
        "denied by CiliumNetworkPolicy data/no-shop ingressDeny[0] "
        "(deny from every pod in namespace shop on 6379/TCP)"
    )
    assert why.decided_by in why.describe()
    assert "from app.kubernetes.io/name=cart in namespace shop on 6379/TCP" in why.admits
    [group_json] = report_json(run)["groups"]
    assert group_json["why"][0]["decided_by"] == why.decided_by


def test_a_calico_tier_names_its_default_deny_and_the_pass_that_fell_through(shop):
    flows, policies = shop

    def no_cart(spec):
        spec["ingress"] = [r for r in spec["ingress"] if r["ports"][0]["port"] != 6379]

    tier = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "Tier",
        "metadata": {"name": "security"},
        "spec": {"order": 100},
    }
    gate = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkPolicy",
        "metadata": {"name": "security.gate"},
        "spec": {
            "tier": "security",
            "selector": "app.kubernetes.io/name == 'redis'",
            "types": ["Ingress"],
            "ingress": [
                {
                    "action": "Pass",
                    "source": {"namespaceSelector": "kubernetes.io/metadata.name == 'shop'"},
                }
            ],
        },
    }
    edited = edit(policies, "data", "allow-redis", no_cart)
    run = verify_policies([*edited, tier, gate], [flows])
    groups = {(g.source, g.destination): g for g in denied_groups(run)}
    [passed] = groups["shop/cart", "data/redis"].denials
    assert passed.decided_by == (
        "passed on by GlobalNetworkPolicy.projectcalico.org security.gate ingress[0], then "
        "denied by the end "
        "of tier networkpolicy (no rule matches)"
    )
    [ended] = groups["monitoring/prometheus", "data/redis"].denials
    assert ended.decided_by == "denied by the end of tier security (no rule matches)"
    assert "end of tier security" in ended.describe()
