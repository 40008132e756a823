import json

import pytest
import yaml
from conftest import address, flow, flows_table, pod

from recommender.accounting import RecordCounts
from recommender.generate.ir import PolicyIR
from recommender.pipeline import recommend_from_flows
from recommender.proposal import _safe_path, md, write_proposal

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
        _safe_path(PolicyIR(namespace, name, "workload"))


def test_write_proposal_layout_and_report(tmp_path):
    rec = _rec()
    report = write_proposal(rec, tmp_path)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == [
        "SUMMARY.md",
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
