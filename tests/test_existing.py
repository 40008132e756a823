"""``recommend --existing``: the proposal adds only what a stale hand-written policy set
lacks, never edits it, and the proof runs over existing and proposal together."""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from click.testing import CliRunner
from conftest import SAMPLE_FLOWS, flow, flows_table, pod

from recommender.cli import main
from recommender.existing import is_managed, key_of, load_existing
from recommender.ingest.parquet import write_parquet
from recommender.pipeline import check, observe, observe_flows, propose
from recommender.policy_files import load_policies

WEB = pod("shop", "web-6b7c8d9f5-xwzrt", {"app": "web"}, "10.0.0.5")
API = pod("shop", "api-7d4b9c8f6-bcdfg", {"app": "api"}, "10.0.0.6")
DB = pod("shop", "db-0", {"app": "db"}, "10.0.0.7")
TOOL = pod("ops", "tool-5f6c7d8b9-hjklm", {"app": "tool"}, "10.0.1.2")
EXTERNAL = {"kind": "external", "ip": "203.0.113.9", "reserved": "world", "labels": None}

FLOWS = [
    flow(WEB, API, 8080),
    flow(API, DB, 5432, sport=40001),
    flow(TOOL, EXTERNAL, 443, sport=40002),
]


def _np(name: str, selector: dict, types: list[str], **rules) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"podSelector": {"matchLabels": selector}, "policyTypes": types, **rules},
    }


#: Stale and too broad: api admits every pod of the namespace, on a port no longer used;
#: web admits nothing (and its name is the one the generator would pick for web).
HAND_WRITTEN = [
    _np(
        "api-ingress",
        {"app": "api"},
        ["Ingress"],
        ingress=[{"from": [{"podSelector": {}}], "ports": [{"port": 9090}]}],
    ),
    _np(
        "db-ingress",
        {"app": "db"},
        ["Ingress"],
        ingress=[
            {
                "from": [{"podSelector": {"matchLabels": {"app": "api"}}}],
                "ports": [{"protocol": "TCP", "port": 5432}],
            }
        ],
    ),
    _np("allow-web", {"app": "web"}, ["Ingress"]),
]
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}


@pytest.fixture
def repo(tmp_path):
    """A policy repository: one multi-document file and one List, a Deployment among them."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "shop.yaml").write_text(yaml.safe_dump_all([HAND_WRITTEN[0], DEPLOYMENT]))
    (root / "more.yaml").write_text(yaml.safe_dump({"kind": "List", "items": HAND_WRITTEN[1:]}))
    return root


def _flows(tmp_path, rows):
    path = tmp_path / "flows.parquet"
    write_parquet(flows_table(rows), path)
    return path


def _run(tmp_path, out, flows, *existing):
    args = ["recommend", str(flows), "-o", str(out)]
    for e in existing:
        args += ["--existing", str(e)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result, json.loads((out / "report.json").read_text())


def _written(out):
    return {
        p.relative_to(out / "policies").as_posix(): yaml.safe_load(p.read_text())
        for p in sorted((out / "policies").rglob("*.yaml"))
    }


def test_the_proposal_adds_only_what_the_hand_written_set_lacks(tmp_path, repo):
    before = {p: p.read_bytes() for p in repo.iterdir()}
    out = tmp_path / "out"
    result, report = _run(tmp_path, out, _flows(tmp_path, FLOWS), repo)
    written = _written(out)
    assert {p: p.read_bytes() for p in repo.iterdir()} == before
    assert all(is_managed(obj) for obj in written.values())
    # web's egress is new; its hand-written name is not reused
    assert "shop/allow-web" not in report["existing"]["new"]
    web = written["shop/allow-web-additions.yaml"]
    assert web["spec"]["policyTypes"] == ["Egress"]
    # api: the one missing ingress edge (from web on 8080) and its whole egress
    api = written["shop/allow-api.yaml"]["spec"]
    assert api["ingress"] == [
        {
            "from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
            "ports": [{"protocol": "TCP", "port": 8080}],
        }
    ]
    assert any(r["ports"] == [{"protocol": "TCP", "port": 5432}] for r in api["egress"])
    # db's ingress is already right: only its egress is isolated
    assert written["shop/allow-db.yaml"]["spec"]["policyTypes"] == ["Egress"]
    # the namespace no policy isolated gets the full treatment
    assert {"ops/default-deny.yaml", "ops/allow-tool.yaml"} <= set(written)
    assert report["existing"]["before"]["coverage"] < 1.0
    assert report["existing"]["after"]["coverage"] == 1.0
    assert [u["effect"] for u in report["existing"]["unknown_objects"]] == ["unknown"]
    assert "Deployment" in report["existing"]["unknown_objects"][0]["object"]
    summary = (out / "SUMMARY.md").read_text()
    assert "## Against the existing policies" in summary
    assert "kept, effect unknown" in summary


def test_existing_and_proposal_together_allow_every_observed_connection(tmp_path, repo):
    out = tmp_path / "out"
    _run(tmp_path, out, _flows(tmp_path, FLOWS), repo)
    policies, _ = load_policies(repo)
    written, _ = load_policies(out / "policies")
    obs = observe_flows(flows_table(list(FLOWS)))
    assert check(policies, obs).coverage < 1.0
    run = check(policies + written, obs)
    assert (run.coverage, run.judged) == (1.0, 3)


def test_a_second_run_with_the_proposal_as_existing_proposes_nothing(tmp_path, repo):
    flows = _flows(tmp_path, FLOWS)
    first = tmp_path / "first"
    _run(tmp_path, first, flows, repo)
    second = tmp_path / "second"
    result, report = _run(tmp_path, second, flows, repo, first / "policies")
    assert "nothing to propose" in result.output
    assert (report["policies"], report["existing"]["new"], report["existing"]["changed"]) == (
        0,
        [],
        [],
    )
    assert not list(second.glob("policies/**/*.yaml"))
    assert "Nothing to propose" in (second / "SUMMARY.md").read_text()


def test_new_traffic_is_appended_to_the_managed_objects_never_the_hand_written(tmp_path, repo):
    first = tmp_path / "first"
    _run(tmp_path, first, _flows(tmp_path, FLOWS), repo)
    old = _written(first)
    rows = [*FLOWS, flow(WEB, DB, 5432, sport=40003)]
    second = tmp_path / "second"
    _, report = _run(tmp_path, second, _flows(tmp_path, rows), repo, first / "policies")
    assert report["existing"]["changed"] == ["shop/allow-db", "shop/allow-web-additions"]
    assert report["existing"]["new"] == []
    web = _written(second)["shop/allow-web-additions.yaml"]["spec"]
    assert (
        web["egress"][: len(old["shop/allow-web-additions.yaml"]["spec"]["egress"])]
        == old["shop/allow-web-additions.yaml"]["spec"]["egress"]
    )
    assert len(web["egress"]) == len(old["shop/allow-web-additions.yaml"]["spec"]["egress"]) + 1
    policies, _ = load_policies(repo)
    managed = {**old, **_written(second)}
    run = check(policies + list(managed.values()), observe_flows(flows_table(rows)))
    assert run.coverage == 1.0


def test_the_library_takes_policy_dicts_or_a_loaded_set(repo):
    obs = observe_flows(flows_table(list(FLOWS)))
    loaded = load_existing([repo / "shop.yaml", repo / "more.yaml"])
    assert len(loaded.policies) == 3 and len(loaded.unknown) == 1
    from_dicts = propose(obs, existing=HAND_WRITTEN)
    from_loaded = propose(obs, existing=loaded)
    assert from_dicts.policies == from_loaded.policies
    assert from_loaded.coverage == 1.0
    plain = propose(obs)
    assert plain.existing is None
    # a workload no policy isolates gets exactly the policy it gets from nothing
    tool = ("ops", "allow-tool")
    assert [p for p in from_loaded.policies if key_of(p) == tool] == [
        p for p in plain.policies if key_of(p) == tool
    ]


@pytest.fixture(scope="module")
def sample_stale(tmp_path_factory):
    """The sample's flows, and a hand-written copy of its postgres policy missing rules."""
    root = tmp_path_factory.mktemp("sample")
    obs = observe([SAMPLE_FLOWS])
    rec = propose(obs)
    postgres = next(p for p in rec.policies if key_of(p) == ("data", "allow-postgres"))
    stale = copy.deepcopy(postgres)
    del stale["metadata"]["labels"]
    stale["spec"]["ingress"] = stale["spec"]["ingress"][:1]
    repo = root / "repo"
    repo.mkdir()
    (repo / "postgres.yaml").write_text(yaml.safe_dump(stale))
    return obs, repo, postgres, stale


def test_on_the_sample_a_stale_hand_written_policy_gets_only_its_missing_rules(
    tmp_path, sample_stale
):
    obs, repo, postgres, stale = sample_stale
    text = (repo / "postgres.yaml").read_bytes()
    out = tmp_path / "out"
    _, report = _run(tmp_path, out, SAMPLE_FLOWS, repo)
    assert (repo / "postgres.yaml").read_bytes() == text
    added = _written(out)["data/allow-postgres-additions.yaml"]["spec"]
    assert added["policyTypes"] == ["Ingress"]
    assert added["ingress"] == postgres["spec"]["ingress"][1:]
    assert report["existing"]["before"]["coverage"] < 1.0
    written, _ = load_policies(out / "policies")
    assert check([stale, *written], obs).coverage == 1.0
    again = tmp_path / "again"
    result, report = _run(tmp_path, again, SAMPLE_FLOWS, repo, out / "policies")
    assert "nothing to propose" in result.output
    assert report["existing"]["after"]["coverage"] == 1.0
