"""Synthesis and rendering on small hand-built clusters, checked by the evaluator."""

from conftest import address, flow, flows_table, pod

from recommender.accounting import RecordCounts
from recommender.generate.k8s import to_yaml
from recommender.netpol.evaluator import Evaluator
from recommender.netpol.model import Endpoint
from recommender.pipeline import recommend_from_flows

WEB1 = pod("shop", "web-7d4b9c8f6-bcdfg", {"app": "web"}, "10.0.0.1")
WEB2 = pod("shop", "web-5f6c7d8b9-q2w4z", {"app": "web"}, "10.0.0.9")
API = pod("shop", "api-7d4b9c8f6-zzzzz", {"app": "api"}, "10.0.0.3")
DB = pod("data", "db-0", {"app": "db"}, "10.0.1.2")
DNS = pod("kube-system", "coredns-5d78c9869d-hq6bz", {"k8s-app": "kube-dns"}, "10.0.2.2")
WORLD = address("93.184.216.34")
NODE = address("172.18.0.2", kind="node", reserved="host")


def _rec(rows):
    return recommend_from_flows(flows_table(rows), RecordCounts())


def _policy(rec, name):
    return next(p for p in rec.policies if p["metadata"]["name"] == name)


def cluster_rows():
    return [
        flow(WORLD, WEB1, 443, sport=50001),
        flow(WEB1, API, 8080),
        flow(WEB2, API, 8080, sport=40001),
        flow(WEB1, API, 9090, sport=40002),
        flow(API, DB, 5432),
        flow(API, DNS, 53, protocol="UDP"),
        flow(NODE, API, 8081),
        flow(API, address("151.101.1.69"), 443),
    ]


def test_every_observed_connection_is_covered_and_nothing_else_in_cluster():
    rec = _rec(cluster_rows())
    assert rec.coverage == 1.0 and rec.judged == 7
    assert rec.breadth.in_cluster == 0
    assert rec.breadth.external_addresses == 0


def test_default_deny_per_namespace_and_one_policy_per_workload():
    rec = _rec(cluster_rows())
    names = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in rec.policies]
    # kube-system is a system namespace: left alone unless asked for
    assert names == [
        ("data", "default-deny"),
        ("data", "allow-db"),
        ("shop", "default-deny"),
        ("shop", "allow-api"),
        ("shop", "allow-web"),
    ]
    deny = _policy(rec, "default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert any("System namespaces left alone: kube-system" in n for n in rec.synthesis.notes)


def test_a_system_namespace_gets_policies_only_when_named():
    rows = cluster_rows()
    asked = recommend_from_flows(
        flows_table(rows), RecordCounts(), namespaces=["kube-system", "shop", "data"]
    )
    names = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in asked.policies]
    assert ("kube-system", "default-deny") in names
    assert ("kube-system", "allow-coredns") in names
    assert not any("left alone" in n for n in asked.synthesis.notes)
    assert asked.coverage == 1.0


def test_peers_with_the_same_ports_share_a_rule_and_cross_namespace_peers_use_both_selectors():
    api = _policy(rec := _rec(cluster_rows()), "allow-api")["spec"]
    assert api["podSelector"] == {"matchLabels": {"app": "api"}}
    assert api["ingress"] == [
        {
            "from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
            "ports": [{"protocol": "TCP", "port": 8080}, {"protocol": "TCP", "port": 9090}],
        },
    ]
    to_db = {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "data"}},
                "podSelector": {"matchLabels": {"app": "db"}},
            }
        ],
        "ports": [{"protocol": "TCP", "port": 5432}],
    }
    assert to_db in api["egress"]
    assert {
        "to": [{"ipBlock": {"cidr": "151.101.1.69/32"}}],
        "ports": [{"protocol": "TCP", "port": 443}],
    } in api["egress"]
    assert rec.synthesis.node_sources["dst_id"].tolist() == ["shop/api"]


def test_dns_is_granted_udp_and_tcp_to_the_observed_resolver_on_both_sides():
    rec = _rec(cluster_rows())
    api = _policy(rec, "allow-api")["spec"]
    dns_rule = {
        "to": [
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                },
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"protocol": "TCP", "port": 53}, {"protocol": "UDP", "port": 53}],
    }
    assert dns_rule in api["egress"]
    # web has egress too, never did DNS in the window, and still gets it on both sides
    web = _policy(rec, "allow-web")["spec"]
    assert dns_rule in web["egress"]
    # coredns only gets a policy when kube-system is asked for
    assert not [p for p in rec.policies if p["metadata"]["name"] == "allow-coredns"]
    rec = recommend_from_flows(
        flows_table(cluster_rows()), RecordCounts(), namespaces=["kube-system", "shop", "data"]
    )
    coredns = _policy(rec, "allow-coredns")["spec"]
    # api and web are every workload known in shop: one peer selects them all, exactly
    assert coredns["ingress"][0]["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}},
            "podSelector": {},
        }
    ]
    assert rec.synthesis.resolvers == ["kube-system/coredns"]


def test_no_rule_is_written_on_a_reply_ephemeral_port():
    rows = cluster_rows() + [flow(API, WEB1, 40000, sport=8080, is_reply=True)]
    rec = _rec(rows)
    ports = {
        port["port"]
        for p in rec.policies
        for direction in ("ingress", "egress")
        for rule in p["spec"].get(direction, [])
        for port in rule["ports"]
    }
    assert 40000 not in ports
    assert max(ports) < 32768


def test_yaml_is_stable_and_safe():
    rec = _rec(cluster_rows())
    text = to_yaml(_policy(rec, "allow-api"))
    assert text.startswith("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n")
    assert "&" not in text and "*" not in text
    assert text == to_yaml(_policy(_rec(list(reversed(cluster_rows()))), "allow-api"))


def _ips_in_rules(policy, direction="egress"):
    return [
        peer["ipBlock"]
        for rule in policy["spec"].get(direction, [])
        for peer in rule.get("to" if direction == "egress" else "from", [])
        if "ipBlock" in peer
    ]


def test_cidr_budget_aggregates_external_peers_and_breadth_counts_the_rest():
    from recommender.options import SynthesisOptions

    rows = [flow(API, address(f"203.0.113.{i}"), 443, sport=41000 + i) for i in range(1, 8)]
    exact = _rec(rows)
    assert len(_ips_in_rules(_policy(exact, "allow-api"))) == 7
    assert exact.breadth.external_addresses == 0
    budget = recommend_from_flows(
        flows_table(rows), RecordCounts(), options=SynthesisOptions(cidr_budget=1)
    )
    blocks = _ips_in_rules(_policy(budget, "allow-api"))
    assert blocks == [{"cidr": "203.0.113.0/29"}]  # .0 is the one unobserved address
    assert budget.breadth.external_addresses == 1
    assert budget.coverage == 1.0
    plan = budget.synthesis.external[0]
    assert (plan["kind"], plan["observed_addresses"], plan["unobserved_addresses"]) == (
        "aggregate",
        7,
        1,
    )


def test_public_facing_ingress_gets_the_internet_minus_private_ranges():
    clients = [address(f"{a}.{b}.7.9") for a in range(11, 41) for b in (1,)]
    rows = [flow(c, WEB1, 443, sport=50000 + i) for i, c in enumerate(clients)]
    rec = _rec(rows)
    blocks = _ips_in_rules(_policy(rec, "allow-web"), "ingress")
    assert len(blocks) == 1 and blocks[0]["cidr"] == "0.0.0.0/0"
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(blocks[0]["except"])
    assert any("public-facing" in n for n in rec.synthesis.notes)
    assert rec.breadth.in_cluster == 0 and rec.coverage == 1.0


def test_min_flows_and_min_age_leave_out_noise_but_never_silently():
    from datetime import timedelta

    from recommender.options import SynthesisOptions

    rows = cluster_rows() + [flow(WEB1, API, 7777, seconds=1)]
    options = SynthesisOptions(min_age=timedelta(seconds=0), min_flows=2)
    rec = recommend_from_flows(flows_table(rows), RecordCounts(), options=options)
    assert {(x.src, x.dst, x.port) for x in rec.synthesis.left_out} >= {
        ("shop/web", "shop/api", 7777)
    }
    assert 7777 not in {
        port["port"]
        for pol in rec.policies
        for r in pol["spec"].get("egress", [])
        for port in r["ports"]
    }
    assert rec.coverage == 1.0
    assert (rec.replayed["reasons"].str.startswith("left out as noise")).sum() >= 1


CATALOG = {"app.kubernetes.io/name": "catalog", "tier": "backend"}
FRONT = pod("shop", "frontend-6b7c8d9f5-xwzrt", {"app.kubernetes.io/name": "frontend"}, "10.0.0.5")
CAT = pod("shop", "catalog-7d4b9c8f6-bcdfg", CATALOG, "10.0.0.6")
CANARY = pod("shop", "catalog-canary-5f6c7d8b9-hjklm", {**CATALOG, "track": "canary"}, "10.0.0.7")
TWIN = pod("shop", "catalog-twin-5f6c7d8b9-hjklm", CATALOG, "10.0.0.8")


def _selected(rec, endpoint_pod):
    """Policies selecting one pod for ingress, by the evaluator."""
    ep = Endpoint(
        kind="pod",
        ip=endpoint_pod["ip"],
        namespace=endpoint_pod["namespace"],
        labels=endpoint_pod["labels"],
        namespace_labels=endpoint_pod["namespace_labels"],
        name=endpoint_pod["pod"],
    )
    return set(Evaluator(rec.policies).policies_selecting(ep, "ingress"))


def test_a_canary_carrying_every_label_plus_one_gets_an_exact_expression_selector():
    # catalog talks to DB, its canary does not: no shared policy, each needs its own selector
    rec = _rec(
        [flow(FRONT, CAT, 8080), flow(FRONT, CANARY, 8080, sport=40001), flow(CAT, DB, 5432)]
    )
    catalog = _policy(rec, "allow-catalog")
    assert catalog["spec"]["podSelector"] == {
        "matchLabels": {"app.kubernetes.io/name": "catalog"},
        "matchExpressions": [{"key": "track", "operator": "DoesNotExist"}],
    }
    assert "matchExpressions:\n    - key: track\n      operator: DoesNotExist\n" in to_yaml(catalog)
    assert _selected(rec, CAT) == {"shop/default-deny", "shop/allow-catalog"}
    assert _selected(rec, CANARY) == {"shop/default-deny", "shop/allow-catalog-canary"}
    assert rec.coverage == 1.0 and rec.breadth.in_cluster == 0
    assert not any("picks it alone" in n for n in rec.synthesis.notes)
    ir = next(p for p in rec.ir if p.name == "allow-catalog")
    assert ir.selector_exact and ir.match_expressions == (("track", "DoesNotExist", ()),)


def test_a_workload_no_selector_separates_is_still_flagged():
    rec = _rec([flow(FRONT, CAT, 8080), flow(FRONT, TWIN, 8080, sport=40001), flow(CAT, DB, 5432)])
    notes = [n for n in rec.synthesis.notes if "picks it alone" in n]
    assert notes and "even with matchExpressions" in notes[0]
    assert "shop/allow-catalog" in _selected(rec, TWIN)
