import json
import os

import pytest
import yaml
from conftest import address, flow, flows_table, pod

from recommender.accounting import RecordCounts
from recommender.generate.ir import PolicyIR
from recommender.generate.kinds import policy_path
from recommender.ingest.inventory import read_inventory
from recommender.pipeline import recommend_from_flows
from recommender.proposal import write_atomic, write_proposal
from recommender.summary import md

WEB = pod("shop", "web-7d4b9c8f6-bcdfg", {"app": "web"}, "10.0.0.1")
API = pod("shop", "api-7d4b9c8f6-zzzzz", {"app": "api"}, "10.0.0.3")


def _rec():
    rows = [flow(WEB, API, 8080), flow(address("93.184.216.34"), WEB, 443, sport=50000)]
    return recommend_from_flows(flows_table(rows), RecordCounts())


@pytest.mark.parametrize(
    "raw, escaped",
    [
        ("a|b", "a\\|b"),
        ("<script>", "\\<script\\>"),
        ("line\nbreak", "line break"),
        ("[x](http://e)", "\\[x\\](http://e)"),
        ("a.b-c (d)", "a.b-c (d)"),
        ("`code`", "\\`code\\`"),
    ],
)
def test_markdown_escaping(raw, escaped):
    assert md(raw) == escaped


@pytest.mark.parametrize("namespace, name", [("../../etc", "x"), ("shop", "../x"), ("a/b", "x")])
def test_hostile_names_never_become_paths(namespace, name):
    with pytest.raises(ValueError, match="unsafe output path"):
        policy_path(PolicyIR(namespace, name, "workload"))


def test_write_proposal_layout_and_report(tmp_path):
    rec = _rec()
    report = write_proposal(rec, tmp_path)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == [
        "SUMMARY.md",
        "graph.svg",
        "policies/shop/allow-api.yaml",
        "policies/shop/allow-web.yaml",
        "policies/shop/default-deny.yaml",
        "report.json",
    ]
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk == json.loads(json.dumps(report))
    assert on_disk["coverage"] == 1.0 and on_disk["breadth"] == 0
    assert on_disk["connections"] == 2 and on_disk["policies"] == 3
    for key in ("read", "normalized", "rejected", "filtered"):
        assert key in on_disk["records"]
    web = yaml.safe_load((tmp_path / "policies/shop/allow-web.yaml").read_text())
    assert web["spec"]["ingress"][0]["from"] == [{"ipBlock": {"cidr": "93.184.216.34/32"}}]
    summary = (tmp_path / "SUMMARY.md").read_text()
    assert "**100.00%**" in summary and "breadth (allowed but never observed) | **0**" in summary


def test_rerun_removes_stale_policies_and_leaves_no_temp_files(tmp_path):
    stale = tmp_path / "policies" / "old" / "allow-gone.yaml"
    stale.parent.mkdir(parents=True)
    stale.write_text("x")
    write_proposal(_rec(), tmp_path)
    assert not stale.exists()
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()]


# Selectors with matchExpressions, and what they were proven exact against (issue 9, point 6).
CATALOG = {"app.kubernetes.io/name": "catalog", "tier": "backend"}
FRONT = pod("shop", "frontend-6b7c8d9f5-xwzrt", {"app.kubernetes.io/name": "frontend"}, "10.0.0.5")
CAT = pod("shop", "catalog-7d4b9c8f6-bcdfg", CATALOG, "10.0.0.6")
CANARY = pod("shop", "catalog-canary-5f6c7d8b9-hjklm", {**CATALOG, "track": "canary"}, "10.0.0.7")
DB = pod("data", "db-0", {"app": "db"}, "10.0.1.2")
CANARY_ROWS = [
    flow(FRONT, CAT, 8080),
    flow(FRONT, CANARY, 8080, sport=40001),
    flow(CAT, DB, 5432, sport=40002),
]


def _kubectl(tmp_path, pods):
    items = [
        {
            "kind": "Pod",
            "metadata": {"name": p["pod"], "namespace": p["namespace"], "labels": p["labels"]},
            "spec": {"containers": [{"ports": [{"containerPort": 8080}]}]},
            "status": {"podIP": p["ip"]},
        }
        for p in pods
    ]
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps({"kind": "List", "items": items}))
    return read_inventory([path])


def test_expression_selectors_in_report_and_summary(tmp_path):
    rec = recommend_from_flows(flows_table(CANARY_ROWS), RecordCounts())
    report = write_proposal(rec, tmp_path)
    entry = next(p for p in report["policy_files"] if p.get("workload") == "shop/catalog")
    assert entry["selector"] == {"app.kubernetes.io/name": "catalog"}
    assert entry["selector_expressions"] == [{"key": "track", "operator": "DoesNotExist"}]
    assert entry["selector_exact"] and "catalog-canary" in entry["selector_why"]
    front = next(p for p in report["policy_files"] if p.get("workload") == "shop/frontend")
    assert front["selector_expressions"] == []
    summary = (tmp_path / "SUMMARY.md").read_text()
    assert "selector `app.kubernetes.io/name=catalog, !track` (exact:" in summary


def test_without_inventory_the_summary_lists_selectors_proven_among_observed_pods(tmp_path):
    rec = recommend_from_flows(flows_table(CANARY_ROWS), RecordCounts())
    report = write_proposal(rec, tmp_path)
    unproven = report["unproven_selectors"]
    assert "no --inventory" in unproven["why"] and "--inventory" in unproven["fix"]
    shop = next(n for n in unproven["namespaces"] if n["namespace"] == "shop")
    assert shop["observed_pods"] == 3 and shop["observed_workloads"] == 3
    catalog = next(s for s in shop["selectors"] if s["selector"].endswith("!track"))
    assert catalog["picks"] == ["shop/catalog"]
    assert catalog["used_in"] == ["data/allow-db (peer)", "shop/allow-catalog"]
    assert catalog["label_selector"]["matchExpressions"] == [
        {"key": "track", "operator": "DoesNotExist"}
    ]
    db = next(n for n in unproven["namespaces"] if n["namespace"] == "data")
    assert [s["used_in"] for s in db["selectors"]] == [
        ["data/allow-db", "shop/allow-catalog (peer)"]
    ]
    summary = (tmp_path / "SUMMARY.md").read_text()
    section = summary.split("## Selectors proven only among observed pods", 1)[1]
    section = section.split("\n## ", 1)[0]
    assert "`--inventory` with `kubectl get pods" in section
    assert "| data | 1 | 1 | `app=db` |" in section
    assert "| shop | 3 | 3 |" in section and "`app.kubernetes.io/name=catalog, !track`" in section


def test_with_an_inventory_only_namespaces_it_lacks_are_listed(tmp_path):
    dns = pod("kube-system", "coredns-5d78c9869d-hq6bz", {"k8s-app": "kube-dns"}, "10.0.2.2")
    full = _kubectl(tmp_path, [FRONT, CAT, CANARY, DB, dns])
    rec = recommend_from_flows(flows_table(CANARY_ROWS), RecordCounts(), inventory=full)
    report = write_proposal(rec, tmp_path / "full")
    assert report["unproven_selectors"] is None
    assert "Selectors proven only" not in (tmp_path / "full" / "SUMMARY.md").read_text()
    shop_only = _kubectl(tmp_path, [FRONT, CAT, CANARY])
    rec = recommend_from_flows(flows_table(CANARY_ROWS), RecordCounts(), inventory=shop_only)
    report = write_proposal(rec, tmp_path / "partial")
    listed = [n["namespace"] for n in report["unproven_selectors"]["namespaces"]]
    assert listed == ["data", "kube-system"]  # kube-system: the assumed resolver
    summary = (tmp_path / "partial" / "SUMMARY.md").read_text()
    assert "The inventory has no pod in these namespaces" in summary


def test_write_atomic_makes_missing_directories_and_replaces_files(tmp_path):
    target = tmp_path / "a" / "b" / "c.yaml"
    write_atomic(target, "one\n")
    write_atomic(target, "two\n")
    assert target.read_text() == "two\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["c.yaml"]


def test_write_atomic_steps_around_a_leftover_temp_file(tmp_path):
    leftover = tmp_path / f".c.yaml.{os.getpid()}.tmp"
    leftover.write_text("killed run\n")
    write_atomic(tmp_path / "c.yaml", "one\n")
    assert (tmp_path / "c.yaml").read_text() == "one\n"
    assert leftover.read_text() == "killed run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [leftover.name, "c.yaml"]
