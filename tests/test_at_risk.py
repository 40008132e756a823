"""At-risk traffic: what a proposal denies of the observed traffic that coverage does not
judge. Every case is built from normalized records and judged by the real pipeline and the
independent evaluator."""

from __future__ import annotations

from conftest import address, flow, flows_table, pod

from recommender.accounting import RecordCounts
from recommender.options import SynthesisOptions
from recommender.pipeline import recommend_from_flows

WEB = pod("shop", "web-7d4b9c8f6-bcdfg", {"app": "web"}, "10.0.0.1")
API = pod("shop", "api-7d4b9c8f6-zzzzz", {"app": "api"}, "10.0.0.3")
DB = pod("data", "db-0", {"app": "db"}, "10.0.1.2")
WORLD = address("93.184.216.34")


def _rec(rows, **options):
    return recommend_from_flows(
        flows_table(rows), RecordCounts(), options=SynthesisOptions(**options)
    )


def _base():
    """web -> api:8080 and api -> db:5432, as requests: the proposal covers exactly these."""
    return [flow(WEB, API, 8080, sport=41000), flow(API, DB, 5432, sport=42000)]


def _reasons(rec) -> dict[str, int]:
    return {k: v["connections"] for k, v in rec.at_risk.by_reason().items()}


def test_nothing_at_risk_when_every_record_belongs_to_an_allowed_connection():
    rows = _base() + [
        # the replies of both connections, an L7 record and records of unknown direction
        flow(API, WEB, 41000, sport=8080, is_reply=True),
        flow(DB, API, 42000, sport=5432, is_reply=True),
        flow(WEB, API, 8080, sport=41000, l7_protocol="http"),
        flow(WEB, API, 8080, sport=41000, is_reply=None),
        flow(DB, API, 42000, sport=5432, is_reply=None),  # the reverse of an allowed one
    ]
    rec = _rec(rows)
    assert rec.coverage == 1.0
    assert rec.at_risk.total == 0 and rec.at_risk.connections == 0
    assert rec.at_risk.headline().startswith("at risk: 0")


def test_a_reply_whose_request_was_never_seen_is_at_risk():
    # db answered api on 6379: api -> db:6379 was never seen as a request, so no rule
    rows = _base() + [flow(DB, API, 42001, sport=6379, is_reply=True)]
    rec = _rec(rows)
    assert rec.coverage == 1.0  # the judged connections all pass ...
    assert _reasons(rec) == {"reply": 1}  # ... but this traffic will not
    row = rec.at_risk.table.iloc[0]
    assert (row.src, row.dst, row.protocol, row.port) == ("shop/api", "data/db", "TCP", 6379)
    assert row.records == 1
    assert "denied" in row.why


def test_unknown_orientation_is_at_risk_only_when_neither_direction_is_allowed():
    rows = _base() + [
        flow(API, WEB, 8080, sport=45000, is_reply=None),  # api -> web:8080? web -> api:45000?
        flow(API, DB, 5432, sport=42000, is_reply=None),  # the allowed connection itself
    ]
    rec = _rec(rows)
    assert _reasons(rec) == {"orientation": 1}
    row = rec.at_risk.table.iloc[0]
    assert (row.src, row.dst, row.port) == ("shop/api", "shop/web", 8080)


def test_icmp_and_portless_records_pass_only_rules_without_ports():
    rows = _base() + [
        flow(WEB, API, 0, protocol="ICMP", sport=None, icmp_type=8),
        flow(WEB, API, None, sport=None),  # a port aggregated away
    ]
    rec = _rec(rows)
    assert _reasons(rec) == {"icmp": 1, "no_port": 1}
    ports = set(rec.at_risk.table["port"])
    assert ports == {-1}
    assert {e["port"] for e in rec.at_risk.examples()} == {"ICMP", "TCP"}


def test_an_end_without_identity_is_at_risk_where_the_other_end_is_isolated():
    anonymous = {"kind": "external", "ip": None, "labels": None}
    rows = _base() + [flow(anonymous, API, 8080), flow(anonymous, DB, 9999)]
    rec = _rec(rows)
    assert _reasons(rec) == {"no_identity": 2}
    assert set(rec.at_risk.table["src"]) == {"(no identity)"}


def test_calico_pub_becomes_the_public_rule_and_is_proven_not_at_risk():
    pub = {"kind": "external", "ip": None, "name_aggr": "pub", "labels": None}
    rows = _base() + [flow(pub, WEB, 443, sport=None, aggregated=True)]
    rec = _rec(rows)
    assert rec.coverage == 1.0 and rec.at_risk.total == 0
    assert rec.judged == 3  # the pub connection is judged like any other
    web = next(p for p in rec.policies if p["metadata"]["name"] == "allow-web")["spec"]
    blocks = [peer["ipBlock"] for r in web["ingress"] for peer in r["from"]]
    assert {b["cidr"] for b in blocks} == {"0.0.0.0/0", "::/0"}
    v4 = next(b for b in blocks if b["cidr"] == "0.0.0.0/0")
    assert "10.0.0.0/8" in v4["except"] and "192.168.0.0/16" in v4["except"]
    public = [x for x in rec.synthesis.external if x["kind"] == "public"]
    assert {x["direction"] for x in public} == {"ingress"}
    assert any("is public-facing on 443/TCP" in n for n in rec.synthesis.notes)


def test_egress_to_pub_and_pvt_is_stated_and_flagged():
    pub = {"kind": "external", "ip": None, "name_aggr": "pub", "labels": None}
    pvt = {"kind": "external", "ip": None, "name_aggr": "pvt", "labels": None}
    rows = _base() + [flow(API, pub, 443), flow(API, pvt, 3306)]
    rec = _rec(rows)
    assert rec.coverage == 1.0 and rec.at_risk.total == 0
    kinds = {(x["port"], x["kind"]) for x in rec.synthesis.external}
    assert ("443/TCP", "public") in kinds and ("3306/TCP", "private") in kinds
    api = next(p for p in rec.policies if p["metadata"]["name"] == "allow-api")["spec"]
    private = [
        peer["ipBlock"]
        for r in api["egress"]
        if r["ports"] == [{"protocol": "TCP", "port": 3306}]
        for peer in r["to"]
    ]
    # every private range, minus the pod addresses the log showed
    assert {b["cidr"] for b in private} >= {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}
    ten = next(b for b in private if b["cidr"] == "10.0.0.0/8")
    assert "10.0.0.1/32" in ten["except"] and "10.0.1.2/32" in ten["except"]
    assert any("broad" in n for n in rec.synthesis.notes)


def test_a_networkset_known_only_by_name_is_reported_and_at_risk():
    netset = {"kind": "networkset", "ip": None, "name_aggr": "partner-apis", "labels": None}
    rows = _base() + [flow(API, netset, 443), flow(API, netset, 443, sport=40001)]
    rec = _rec(rows)
    assert rec.coverage == 1.0
    assert _reasons(rec) == {"named": 1}
    assert rec.at_risk.records == 2
    [u] = rec.synthesis.unexpressed
    assert (u["workload"], u["direction"], u["peer"], u["kind"]) == (
        "shop/api",
        "egress",
        "partner-apis",
        "networkset",
    )
    assert "NetworkSet" in u["express"]


def test_node_sources_own_node_passes_remote_node_is_at_risk_unless_admitted():
    own = address("172.18.0.3", kind="node", reserved="host")
    remote = address("172.18.0.4", kind="node", reserved="remote-node")
    unplaced = address("172.18.0.5", kind="node", reserved=None)
    rows = _base() + [flow(own, API, 8081), flow(remote, WEB, 443), flow(unplaced, API, 8081)]
    rec = _rec(rows)
    assert _reasons(rec) == {"node": 1}
    assert rec.at_risk.table.iloc[0].src == "172.18.0.4"
    assert rec.at_risk.unchecked_node_sources == 1
    admitted = _rec(rows, allow_node_sources=True)
    assert admitted.at_risk.total == 0 and admitted.coverage == 1.0
    web = next(p for p in admitted.policies if p["metadata"]["name"] == "allow-web")["spec"]
    assert {"ipBlock": {"cidr": "172.18.0.4/32"}} in web["ingress"][0]["from"]


def test_pods_with_unknown_labels_and_noise_are_at_risk():
    ghost = pod("shop", "ghost-7d4b9c8f6-bbbbb", None, "10.0.0.7")
    ghost["labels"] = None
    rows = _base() + [flow(API, DB, 5432, sport=42001), flow(WEB, API, 8080, sport=41001)]
    rows += [flow(ghost, API, 8080, sport=43000), flow(ghost, API, 8080, sport=43001)]
    rows += [flow(WEB, DB, 5432, sport=44000)]  # seen once: left out by --min-flows 2
    rec = _rec(rows, min_flows=2)
    reasons = _reasons(rec)
    assert reasons == {"labels_unknown": 1, "noise": 1}
    noise = rec.at_risk.table[rec.at_risk.table["reason"] == "noise"].iloc[0]
    assert (noise.src, noise.dst, noise.port) == ("shop/web", "data/db", 5432)


def test_pre_dnat_records_pass_when_the_client_reached_a_backend_through_the_service():
    cluster_ip = address("10.96.0.20", reserved=None)
    rows = _base() + [
        flow(WEB, API, 8080, sport=41000, dst_service_namespace="shop", dst_service_name="api"),
        flow(WEB, cluster_ip, 80, dst_service_namespace="shop", dst_service_name="api"),
        flow(API, cluster_ip, 80, dst_service_namespace="shop", dst_service_name="api"),
    ]
    rec = _rec(rows)
    # web reached api's pods through Service shop/api; api never did (talking to itself)
    assert _reasons(rec) == {"pre_dnat": 1}
    assert rec.at_risk.table.iloc[0].src == "shop/api"


def test_examples_name_the_file_and_line_and_merge_replies_into_their_connection():
    remote = address("172.18.0.4", kind="node", reserved="remote-node")
    rows = _base() + [
        flow(remote, WEB, 443, sport=50000),
        flow(WEB, remote, 50000, sport=443, is_reply=True),
        flow(remote, WEB, 443, sport=50001),
    ]
    for i, row in enumerate(rows):
        row["source_file"] = "flows/node-a.json"
        row["source_record"] = 10 + i
    rec = _rec(rows)
    table = rec.at_risk.table
    assert len(table) == 1  # the reply counts with the connection it belongs to
    row = table.iloc[0]
    assert row.reason == "node" and row.records == 3
    assert (row.example_file, row.example_line) == ("flows/node-a.json", 12)
    [example] = rec.at_risk.examples()
    assert example["file"] == "flows/node-a.json" and example["line"] == 12
    doc = rec.at_risk.to_dict()
    assert doc["records"] == 3 and doc["connections"] == 1
    assert doc["by_reason"]["node"]["connections"] == 1


def test_the_same_records_in_any_order_give_the_same_at_risk_table():
    rows = _base() + [
        flow(DB, API, 42001, sport=6379, is_reply=True),
        flow(API, WEB, 8080, sport=45000, is_reply=None),
        flow(WEB, API, 0, protocol="ICMP", sport=None),
    ]
    a = _rec([dict(r) for r in rows]).at_risk.table
    b = _rec([dict(r) for r in reversed(rows)]).at_risk.table
    cols = ["reason", "src", "dst", "protocol", "port", "records", "why"]
    assert a[cols].to_dict("records") == b[cols].to_dict("records")


# ----------------------------------------------------------------- verify: the same accounting


def test_verify_reports_at_risk_first_and_strict_fails(tmp_path):
    import json

    from click.testing import CliRunner
    from conftest import SAMPLE_FLOWS

    from recommender.cli import main

    runner = CliRunner()
    out = tmp_path / "proposal"
    made = runner.invoke(main, ["recommend", str(SAMPLE_FLOWS), "-o", str(out)])
    assert made.exit_code == 0, made.output
    args = ["verify", "--policies", str(out / "policies"), str(SAMPLE_FLOWS)]
    plain = runner.invoke(main, args)
    assert plain.exit_code == 0
    # the sample's LoadBalancer traffic SNATed by other nodes would be denied
    assert plain.output.startswith("at risk: 4 connections")
    assert runner.invoke(main, [*args, "--strict"]).exit_code == 1
    doc = json.loads(runner.invoke(main, [*args, "--json"]).output)
    assert doc["at_risk"]["connections"] == 4
    assert set(doc["at_risk"]["by_reason"]) == {"node"}
    assert {e["dst"] for e in doc["at_risk"]["examples"]} == {
        "ingress-nginx/ingress-nginx-controller"
    }
    # admitting node sources leaves nothing at risk; verify --strict then passes
    admitted = tmp_path / "admitted"
    made = runner.invoke(
        main, ["recommend", str(SAMPLE_FLOWS), "-o", str(admitted), "--allow-node-sources"]
    )
    assert made.exit_code == 0 and made.output.startswith("at risk: 0")
    strict = runner.invoke(
        main, ["verify", "--policies", str(admitted / "policies"), str(SAMPLE_FLOWS), "--strict"]
    )
    assert strict.exit_code == 0, strict.output
    report = json.loads((admitted / "report.json").read_text())
    assert report["at_risk"] == {
        "records": 0,
        "connections": 0,
        "by_reason": {},
        "examples": [],
        "unchecked_node_sources": 0,
    }


def test_pvt_leaves_out_the_inventory_service_addresses_and_pod_ranges(tmp_path):
    import json

    from recommender.ingest.inventory import read_inventory

    inventory = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": "node-a"},
                "spec": {"podCIDR": "10.244.0.0/24"},
                "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]},
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "db", "namespace": "data"},
                "spec": {
                    "clusterIP": "10.96.7.7",
                    "clusterIPs": ["10.96.7.7"],
                    "selector": {"app": "db"},
                    "ports": [{"port": 5432, "protocol": "TCP"}],
                },
            },
        ],
    }
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(inventory))
    pvt = {"kind": "external", "ip": None, "name_aggr": "pvt", "labels": None}
    rec = recommend_from_flows(
        flows_table([*_base(), flow(API, pvt, 3306)]),
        RecordCounts(),
        inventory=read_inventory([path]),
    )
    assert rec.coverage == 1.0 and rec.at_risk.total == 0
    ten = next(
        x for x in rec.synthesis.external if x["kind"] == "private" and x["cidr"] == "10.0.0.0/8"
    )
    assert {"10.96.7.7/32", "10.244.0.0/24"} <= set(ten["except"])


def test_unjudged_traffic_is_counted_apart_not_at_risk():
    """An orphan reply whose request meets a rule the evaluator cannot judge (an L7 rule on
    db's ingress) is neither at risk nor passing: it is counted as not judged."""
    from recommender.netpol.model import Policy, Rule, Selector
    from recommender.pipeline import check, observe_flows

    rows = _base() + [flow(DB, API, 42001, sport=6379, is_reply=True)]
    l7 = Rule("ingress", 0, None, None, unjudged="L7 HTTP rules")
    db = Policy("db", "data", Selector(), ("ingress",), (l7,), kind="CiliumNetworkPolicy")
    run = check([db], observe_flows(flows_table(rows)))
    assert run.at_risk.total == 0
    assert run.at_risk.unjudged == 1
    assert run.at_risk.to_dict()["unjudged"] == 1
    assert any("1 connection(s) not judged" in line for line in run.at_risk.lines())
    assert len(run.unjudged) == 1 and len(run.denied) == 0
