"""``recommend --write-into``: the proposal lands in the policy repository itself, in its
layout, so that ``git diff`` there is the pull request; hand-written files never change."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import flow, flows_table, pod

from recommender.cli import main
from recommender.ingest.parquet import write_parquet
from recommender.pipeline import check, observe_flows
from recommender.policy_files import load_policies
from recommender.write_into import detect_layout, new_path, policy_files

WEB = pod("shop", "web-6b7c8d9f5-xwzrt", {"app": "web"}, "10.0.0.5")
API = pod("shop", "api-7d4b9c8f6-bcdfg", {"app": "api"}, "10.0.0.6")
DB = pod("shop", "db-0", {"app": "db"}, "10.0.0.7")
TOOL = pod("ops", "tool-5f6c7d8b9-hjklm", {"app": "tool"}, "10.0.1.2")
EXTERNAL = {"kind": "external", "ip": "203.0.113.9", "reserved": "world", "labels": None}
FLOWS = [flow(WEB, API, 8080), flow(API, DB, 5432, sport=40001), flow(TOOL, EXTERNAL, 443)]


def _np(name: str, selector: dict, **rules) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"podSelector": {"matchLabels": selector}, "policyTypes": ["Ingress"], **rules},
    }


#: stale hand-written policies, one per file under k8s/<ns>/<name>.yaml
HAND_WRITTEN = {
    "k8s/shop/api-ingress.yaml": _np(
        "api-ingress",
        {"app": "api"},
        ingress=[{"from": [{"podSelector": {}}], "ports": [{"port": 9090}]}],
    ),
    "k8s/shop/allow-web.yaml": _np("allow-web", {"app": "web"}),
}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    for rel, obj in HAND_WRITTEN.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(yaml.safe_dump(obj))
    (root / "README.md").write_text("policies of the shop\n")
    _git(root.parent, "init", "-q", str(root))
    _git(root, "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "stale")
    return root


def _flows(tmp_path, rows, name="flows.parquet"):
    path = tmp_path / name
    write_parquet(flows_table(rows), path)
    return path


def _run(flows, out, repo, *extra):
    args = ["recommend", str(flows), "-o", str(out), "--write-into", str(repo), *extra]
    return CliRunner().invoke(main, args)


def _changed(repo: Path) -> set[str]:
    return {line[3:] for line in _git(repo, "status", "--porcelain", "-uall").splitlines()}


def test_the_proposal_lands_in_the_repo_layout_and_a_rerun_proposes_nothing(tmp_path, repo):
    hand = {rel: (repo / rel).read_bytes() for rel in HAND_WRITTEN}
    flows = _flows(tmp_path, FLOWS)
    result = _run(flows, tmp_path / "out", repo)
    assert result.exit_code == 0, result.output
    assert "written into" in result.output
    expected = {
        "k8s/ops/allow-tool.yaml",
        "k8s/ops/default-deny.yaml",
        "k8s/shop/allow-api.yaml",
        "k8s/shop/allow-db.yaml",
        "k8s/shop/allow-web-additions.yaml",
        "k8s/shop/default-deny.yaml",
    }
    assert _changed(repo) == expected
    assert {rel: (repo / rel).read_bytes() for rel in HAND_WRITTEN} == hand
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["written_into"] == sorted(expected)
    policies, _ = load_policies(repo)
    assert check(policies, observe_flows(flows_table(list(FLOWS)))).coverage == 1.0
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "proposal")
    again = _run(flows, tmp_path / "again", repo, "--existing", str(repo))
    assert again.exit_code == 0, again.output
    assert "nothing to propose" in again.output
    assert _changed(repo) == set()
    assert json.loads((tmp_path / "again" / "report.json").read_text())["written_into"] == []


def test_new_traffic_rewrites_only_the_managed_file_it_changes(tmp_path, repo):
    assert _run(_flows(tmp_path, FLOWS), tmp_path / "out", repo).exit_code == 0
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "proposal")
    more = _flows(tmp_path, [*FLOWS, flow(WEB, DB, 5432, sport=40003)], "more.parquet")
    result = _run(more, tmp_path / "more", repo)
    assert result.exit_code == 0, result.output
    changed = _git(repo, "diff", "--name-only").split()
    assert changed and set(changed) <= {
        "k8s/shop/allow-db.yaml",
        "k8s/shop/allow-web-additions.yaml",
        "k8s/shop/default-deny.yaml",
    }
    assert _changed(repo) == set(changed)
    policies, _ = load_policies(repo)
    assert len(policies) == 8


def test_a_managed_object_sharing_its_file_is_refused_before_anything_is_written(tmp_path, repo):
    assert _run(_flows(tmp_path, FLOWS), tmp_path / "out", repo).exit_code == 0
    db = repo / "k8s/shop/allow-db.yaml"
    both = [
        yaml.safe_load(db.read_text()),
        yaml.safe_load((repo / "k8s/ops/allow-tool.yaml").read_text()),
    ]
    db.write_text(yaml.safe_dump_all(both))
    (repo / "k8s/ops/allow-tool.yaml").unlink()
    before = {p: p.read_bytes() for p in repo.rglob("*.yaml")}
    more = _flows(tmp_path, [*FLOWS, flow(WEB, DB, 5432, sport=40003)], "more.parquet")
    result = _run(more, tmp_path / "more", repo)
    assert result.exit_code == 2
    assert "allow-db" in result.output and "shares its file" in result.output
    assert {p: p.read_bytes() for p in repo.rglob("*.yaml")} == before


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("deploy/shop-api-ingress.yml", "deploy/ops-x.yml"),
        ("api-ingress.yaml", "x.yaml"),
        ("base/shop/api-ingress.yaml", "base/ops/x.yaml"),
        ("shop/whatever.yaml", "policies/ops/x.yaml"),
    ],
)
def test_new_files_follow_the_naming_the_repo_uses(tmp_path, rel, expected):
    (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / rel).write_text(yaml.safe_dump(HAND_WRITTEN["k8s/shop/api-ingress.yaml"]))
    layout = detect_layout(policy_files(tmp_path))
    assert new_path(layout, "ops", "x").as_posix() == expected


def test_with_existing_the_tightening_proposals_go_to_out_never_applied(tmp_path, repo):
    hand = {rel: (repo / rel).read_bytes() for rel in HAND_WRITTEN}
    out = tmp_path / "out"
    result = _run(_flows(tmp_path, FLOWS), out, repo)
    assert result.exit_code == 0, result.output
    assert f"tighten: {out / 'tighten/shop/api-ingress.yaml'}: dropped ingress[0]" in result.output
    replacement = yaml.safe_load((out / "tighten/shop/api-ingress.yaml").read_text())
    assert not replacement["spec"].get("ingress")
    proof = json.loads((out / "tighten/proof.json").read_text())
    assert [p["policy"] for p in proof["proposals"]] == ["shop/api-ingress"]
    assert proof["proof"]["broken"] == 0
    assert {rel: (repo / rel).read_bytes() for rel in HAND_WRITTEN} == hand


def test_the_changes_table_counts_the_proposed_tightening(tmp_path, repo):
    out = tmp_path / "out"
    result = _run(_flows(tmp_path, FLOWS), out, repo)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    proof = json.loads((out / "tighten/proof.json").read_text())
    assert report["existing"]["tightening"] == len(proof["proposals"]) == 1
    summary = (out / "SUMMARY.md").read_text()
    assert "| proposed tightening (`tighten/`, not applied) | 1 |" in summary
    assert summary.index("| unchanged (existing, not touched) |") < summary.index(
        "| proposed tightening"
    )


def test_without_existing_the_changes_table_has_no_tightening_row(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["recommend", str(_flows(tmp_path, FLOWS)), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "existing" not in json.loads((out / "report.json").read_text())
    assert "proposed tightening" not in (out / "SUMMARY.md").read_text()
