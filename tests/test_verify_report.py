"""The verify report: denied groups, explanations in words, unbounded rules, warnings."""

import copy
import ipaddress
import json

import pytest

from recommender.pipeline import recommend, verify_policies
from recommender.sim import kubectl_inventory, shop_cluster, write_hubble
from recommender.validate import printable
from recommender.verify_report import (
    Denial,
    covering_cidrs,
    denied_groups,
    exemptions,
    headline_lines,
    isolation_findings,
    node_source_exemptions,
    policy_warnings,
    report_json,
    report_lines,
    rule_text,
    selector_text,
    summarize_addresses,
    unbounded_rules,
)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """Simulated Hubble flows of the shop, and the proposal made from them (coverage 100%)."""
    flows = tmp_path_factory.mktemp("flows")
    write_hubble(shop_cluster(seed=3, hours=1.0), flows)
    rec = recommend([flows])
    assert rec.coverage == 1.0
    return flows, rec.policies


def _without(policies, *names):
    return [copy.deepcopy(p) for p in policies if p["metadata"]["name"] not in names]


def _policy(ns, name, spec):
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"namespace": ns, "name": name},
        "spec": spec,
    }


def _edit(policies, ns, name, fn):
    out = copy.deepcopy(policies)
    for p in out:
        if (p["metadata"]["namespace"], p["metadata"]["name"]) == (ns, name):
            fn(p["spec"])
    return out


# ------------------------------------------------------------------------------ words


def test_selectors_in_kubectl_syntax():
    assert selector_text({}) == ""
    assert selector_text(None) == ""
    sel = {
        "matchLabels": {"tier": "web", "app": "shop"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "dev"]},
            {"key": "track", "operator": "NotIn", "values": ["canary"]},
            {"key": "team", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"},
        ],
    }
    assert (
        selector_text(sel)
        == "app=shop,tier=web,env in (dev,prod),track notin (canary),team,!legacy"
    )


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
    assert rule_text(rule, direction, "shop") == text


def test_a_side_with_no_rules_admits_nothing():
    deny = Denial("ingress", "data/redis", ("data/default-deny",), ())
    assert deny.describe() == (
        "data/redis is isolated for ingress by data/default-deny; it admits no ingress at all"
    )
    many = Denial("egress", "shop/cart", ("shop/a", "shop/b"), tuple(f"to r{i}" for i in range(9)))
    assert many.describe().startswith("shop/cart is isolated for egress by shop/a, shop/b; ")
    assert "they admit only to r0; " in many.describe()
    assert many.describe().endswith("; and 3 more rules")


def test_printable_escapes_every_control_character():
    hostile = "a\nb\r\x1b[31mc\x07\u202ed\u2028e"
    out = printable(hostile)
    assert out == "a\\x0ab\\x0d\\x1b[31mc\\x07\\u202ed\\u2028e"
    assert out.isprintable()
    assert printable("data/redis é") == "data/redis é"


# -------------------------------------------------------------------------- addresses


def test_covering_cidrs_are_the_tightest_cover_within_the_limit():
    addrs = ["10.0.0.1", "10.0.0.2", "192.168.1.1"]
    assert covering_cidrs(addrs, limit=3) == ("10.0.0.1/32", "10.0.0.2/32", "192.168.1.1/32")
    assert covering_cidrs(addrs, limit=2) == ("10.0.0.0/30", "192.168.1.1/32")
    assert covering_cidrs(["2001:db8::1", "2001:db8::3", "10.0.0.1"], limit=2) == (
        "10.0.0.1/32",
        "2001:db8::/126",
    )
    assert covering_cidrs(["not an ip"]) == ()


def test_covering_cidrs_cover_every_address_of_a_scattered_set():
    addrs = [f"{a}.{b}.7.9" for a in (3, 52, 99, 140, 203) for b in (1, 90, 200)]
    cidrs = covering_cidrs(addrs, limit=4)
    assert 1 <= len(cidrs) <= 4
    nets = [ipaddress.ip_network(c) for c in cidrs]
    assert all(any(ipaddress.ip_address(a) in n for n in nets) for a in addrs)
    # one fewer CIDR is not enough at the tightest budget that fits: the cover with a limit
    # of 4 is no wider than the one with a limit of 2
    wide = [ipaddress.ip_network(c) for c in covering_cidrs(addrs, limit=2)]
    assert sum(n.num_addresses for n in nets) <= sum(n.num_addresses for n in wide)


def test_address_summary_counts_public_private_networks_and_named_ends():
    summary = summarize_addresses(
        "external", ["8.8.8.8", "8.8.4.4", "10.1.2.3", "fd00::1", "2001:db8::1", "pub", None]
    )
    assert (summary.count, summary.public, summary.private) == (5, 3, 2)
    assert summary.networks == 4  # 8.8/16 (twice), 10.1/16, fd00::/32, 2001:db8::/32
    assert summary.other == ("?", "pub")
    text = summary.describe()
    assert "5 addresses (3 public, 2 private) from 4 networks" in text
    assert "2 named ends without an address: ?, pub" in text


# ----------------------------------------------------------------------- denied groups


def test_internet_sources_collapse_into_one_group_per_port(shop):
    flows, policies = shop
    run = verify_policies(_without(policies, "allow-ingress-nginx-controller"), [flows])
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

    run = verify_policies(_edit(policies, "data", "allow-redis", only_prometheus), [flows])
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

    run = verify_policies(_edit(policies, "shop", "allow-cart", no_redis), [flows])
    [group] = denied_groups(run)
    [why] = group.denials
    assert (why.direction, why.subject) == ("egress", "shop/cart")
    assert why.isolated_by == ("shop/allow-cart", "shop/default-deny")
    assert "to k8s-app=kube-dns in namespace kube-system on 53/TCP, 53/UDP" in why.admits
    assert not any("6379" in a for a in why.admits)


# ------------------------------------------------------------ unbounded and warnings


def test_unbounded_rules_are_named():
    policies = [
        _policy("shop", "open", {"podSelector": {}, "ingress": [{}], "egress": [{}]}),
        _policy(
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
        _policy("shop", "ignored", {"podSelector": {}, "policyTypes": ["Ingress"], "egress": [{}]}),
    ]
    found = [(f.kind, f.subject, f.direction, f.rule) for f in unbounded_rules(policies)]
    assert found == [
        ("every_peer", "shop/open", "ingress", 0),
        ("every_peer", "shop/open", "egress", 0),
        ("every_address", "shop/world", "ingress", 0),
        ("every_namespace", "shop/world", "ingress", 1),
        ("every_address", "shop/world", "egress", 0),
        ("every_port", "shop/world", "egress", 1),
    ]
    texts = [f.text for f in unbounded_rules(policies)]
    assert texts[2] == (
        "shop/world ingress[0]: ipBlock 0.0.0.0/0 except 10.0.0.0/8: every IPv4 address but "
        "the excepted ranges on 443/TCP"
    )
    assert texts[3] == (
        "shop/world ingress[1]: namespaceSelector {}: a=b in every namespace on every port"
    )


def test_workloads_without_egress_isolation_and_without_any_policy(shop):
    flows, _ = shop
    ingress_only = _policy(
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
    typo = _policy(
        "shop", "cart-typo", {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "crat"}}}
    )
    missing = _policy("prod", "deny", {"podSelector": {}})
    no_label = _policy("shop", "tier", {"podSelector": {"matchLabels": {"owner": "web"}}})
    ignored = _policy(
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
        [_policy("staging", "deny", {"podSelector": {}})], [flows], inventory=[path]
    )
    [warning] = policy_warnings(run)
    assert (warning.kind, warning.text) == (
        "selects_nothing",
        "staging/deny: selects nothing known: namespace staging has no known pod",
    )


# ------------------------------------------------------------ exemptions and report


def test_node_sources_exempted_are_counted(shop):
    flows, policies = shop
    run = verify_policies(policies, [flows])
    rows = run.replayed[
        run.replayed["exempt"] & run.replayed["reasons"].str.startswith("node source")
    ]
    node = node_source_exemptions(run)
    assert node.connections == len(rows) > 0
    assert node.flows == int(rows["flows"].sum())
    assert sum(e.connections for e in exemptions(run).values()) == int(run.replayed["exempt"].sum())
    summary = report_lines(run)[-1]
    assert summary.startswith("coverage 100.00%")
    assert f"exempted {node.connections} connections from node/kubelet sources" in summary


def test_no_policies_say_so_and_deny_nothing(shop):
    flows, _ = shop
    run = verify_policies([], [flows])
    assert headline_lines(run) == [
        "0 policies: nothing is isolated, every observed connection is allowed"
    ]
    assert denied_groups(run) == []
    doc = report_json(run)
    assert doc["policies"] == 0 and doc["groups"] == [] and doc["not_isolated"] == []


def test_json_keeps_the_old_keys_and_adds_the_report(shop):
    flows, policies = shop
    run = verify_policies(_without(policies, "allow-redis"), [flows])
    doc = json.loads(json.dumps(report_json(run)))
    for key in ("coverage", "covered", "judged", "breadth", "records", "notes", "connections"):
        assert key in doc
    assert doc["groups"] and all(g["why"] for g in doc["groups"])
    assert {(g["destination"], g["port"]) for g in doc["groups"]} == {
        (c["dst"], c["port"]) for c in doc["connections"] if not c["allowed"]
    }
    assert doc["exempt"]["node_sources"]["connections"] == node_source_exemptions(run).connections
    assert [u["kind"] for u in doc["unbounded"]] == [f.kind for f in unbounded_rules(run.policies)]
    assert doc["warnings"] == []


def test_hostile_names_never_reach_the_terminal_raw(shop):
    flows, policies = shop
    evil = "deny\n\x1b]0;owned\x07"
    hostile = _policy(
        "data",
        evil,
        {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "redis"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "x\u202e"}}}]}],
        },
    )
    run = verify_policies([*_without(policies, "allow-redis"), hostile], [flows])
    lines = report_lines(run)
    assert all(line.isprintable() for line in lines)
    assert any("data/deny\\x0a\\x1b]0;owned\\x07" in line for line in lines)
    assert any("app=x\\u202e" in line for line in lines)
