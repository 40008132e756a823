"""The CLI contract (DESIGN §2): outputs, exit codes, one-line errors."""

import json
import shutil

import pytest
import yaml
from click.testing import CliRunner
from conftest import REAL_FLOWS, SAMPLE_FLOWS

from recommender.cli import main


@pytest.fixture(scope="module")
def proposal(tmp_path_factory):
    out = tmp_path_factory.mktemp("proposal")
    result = CliRunner().invoke(main, ["recommend", str(SAMPLE_FLOWS), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _verify(policies, *extra):
    return CliRunner().invoke(
        main, ["verify", "--policies", str(policies), str(SAMPLE_FLOWS), *extra]
    )


def test_verify_passes_the_proposal_it_came_from(proposal):
    result = _verify(proposal / "policies")
    assert result.exit_code == 0, result.output
    assert "coverage 100.00%" in result.output


def test_verify_fails_a_hand_broken_copy_and_names_the_pair_and_policy(proposal, tmp_path):
    broken = tmp_path / "policies"
    shutil.copytree(proposal / "policies", broken)
    (broken / "data" / "allow-redis.yaml").unlink()
    result = _verify(broken)
    assert result.exit_code == 1
    assert "shop/cart -> data/redis [6379/TCP]" in result.output
    assert "isolated by data/default-deny" in result.output


def test_verify_json_lists_every_connection(proposal, tmp_path):
    broken = tmp_path / "policies"
    shutil.copytree(proposal / "policies", broken)
    cart = broken / "shop" / "allow-cart.yaml"
    doc = yaml.safe_load(cart.read_text())
    doc["spec"]["egress"] = [r for r in doc["spec"]["egress"] if r["ports"][0]["port"] != 6379]
    cart.write_text(yaml.safe_dump(doc))
    result = _verify(broken, "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    denied = [c for c in report["connections"] if not c["allowed"]]
    assert {(c["src"], c["dst"], c["protocol"], c["port"]) for c in denied} == {
        ("shop/cart", "data/redis", "TCP", 6379)
    }
    assert all(any("egress of shop/cart" in r for r in c["reasons"]) for c in denied)
    assert report["judged"] == len([c for c in report["connections"] if not c["exempt"]])


def test_verify_reads_multi_document_files_and_lists_and_ignores_other_kinds(proposal, tmp_path):
    docs = [yaml.safe_load(p.read_text()) for p in sorted((proposal / "policies").rglob("*.yaml"))]
    (tmp_path / "all.yaml").write_text(
        yaml.safe_dump_all(
            [
                {"apiVersion": "v1", "kind": "List", "items": docs[:5]},
                *docs[5:],
                {"apiVersion": "apps/v1", "kind": "Deployment"},
            ]
        )
    )
    result = _verify(tmp_path)
    assert result.exit_code == 0, result.output
    assert "Deployment ignored" in result.output


def test_missing_input_is_one_line_exit_2(tmp_path):
    result = CliRunner().invoke(main, ["recommend", str(tmp_path / "nope"), "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "nope" in result.output
    assert "Traceback" not in result.output


def test_unknown_format_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello, this is not a flow log\n")
    result = CliRunner().invoke(main, ["recommend", str(bad), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "notes.txt" in result.output and "Traceback" not in result.output


def test_ingest_writes_parquet_that_recommend_reads_back(tmp_path):
    parquet = tmp_path / "flows.parquet"
    result = CliRunner().invoke(main, ["ingest", str(SAMPLE_FLOWS), "-o", str(parquet)])
    assert result.exit_code == 0, result.output
    assert "wrote 11835 flow records" in result.output
    out = tmp_path / "out"
    again = CliRunner().invoke(main, ["recommend", str(parquet), "-o", str(out)])
    assert again.exit_code == 0, again.output
    direct = tmp_path / "direct"
    CliRunner().invoke(main, ["recommend", str(SAMPLE_FLOWS), "-o", str(direct)])
    for path in (direct / "policies").rglob("*.yaml"):
        assert path.read_bytes() == (out / path.relative_to(direct)).read_bytes()


def test_real_hubble_samples_recommend_without_error(tmp_path):
    result = CliRunner().invoke(
        main, ["recommend", str(REAL_FLOWS / "hubble"), "-o", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["coverage"] == 1.0
    assert report["records"]["read"] == 260


def test_help_teaches():
    result = CliRunner().invoke(main, ["recommend", "--help"])
    assert result.exit_code == 0
    for word in ("coverage", "breadth", "--namespace", "Hubble", "Parquet"):
        assert word in result.output


def test_recommend_refuses_to_write_when_a_connection_would_be_denied(tmp_path, monkeypatch):
    """The safety net: a generator bug (simulated by dropping one rule) must not ship."""
    import recommender.pipeline as pipeline

    real = pipeline.render_policy

    def lose_redis_rule(ir):
        obj = real(ir)
        if obj["metadata"]["name"] == "allow-redis":
            obj["spec"].pop("ingress", None)
        return obj

    monkeypatch.setattr(pipeline, "render_policy", lose_redis_rule)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["recommend", str(SAMPLE_FLOWS), "-o", str(out)])
    assert result.exit_code == 1
    assert "verification failed" in result.output and "nothing was written" in result.output
    assert "data/default-deny" in result.output
    assert not out.exists()


def test_namespace_option_limits_the_proposal_but_replays_everything_it_touches(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["recommend", str(SAMPLE_FLOWS), "-o", str(out), "--namespace", "data"]
    )
    assert result.exit_code == 0, result.output
    files = sorted(p.relative_to(out).as_posix() for p in (out / "policies").rglob("*.yaml"))
    assert files == [
        "policies/data/allow-postgres.yaml",
        "policies/data/allow-redis.yaml",
        "policies/data/default-deny.yaml",
    ]
    report = json.loads((out / "report.json").read_text())
    assert report["namespaces"] == ["data"] and report["coverage"] == 1.0
    assert report["breadth"] == 0


@pytest.fixture(scope="module")
def inventory(tmp_path_factory):
    from recommender.simulate import kubectl_inventory, shop_cluster

    path = tmp_path_factory.mktemp("inv") / "inventory.json"
    path.write_text(json.dumps(kubectl_inventory(shop_cluster(seed=7, hours=6.0))))
    return path


def test_recommend_with_an_inventory_gives_the_same_policies(proposal, inventory, tmp_path):
    result = CliRunner().invoke(
        main, ["recommend", str(SAMPLE_FLOWS), "-o", str(tmp_path), "--inventory", str(inventory)]
    )
    assert result.exit_code == 0, result.output
    ours = sorted((tmp_path / "policies").rglob("*.yaml"))
    assert len(ours) == len(list((proposal / "policies").rglob("*.yaml"))) >= 15
    for path in ours:
        assert path.read_bytes() == (proposal / path.relative_to(tmp_path)).read_bytes()
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["inventory"]["pods"] == 22 and report["inventory"]["conflicts"] == []


def test_named_ports_resolve_through_the_inventory(proposal, inventory, tmp_path):
    """prometheus scrapes `metrics`, a name that maps to a different number per pod."""
    named = tmp_path / "policies"
    shutil.copytree(proposal / "policies", named)
    path = named / "monitoring" / "allow-prometheus.yaml"
    doc = yaml.safe_load(path.read_text())
    metrics = {9090, 9121, 9153, 9187, 10254}
    for rule in doc["spec"]["egress"]:
        for port in rule["ports"]:
            if port["port"] in metrics:
                port["port"] = "metrics"
    path.write_text(yaml.safe_dump(doc))
    without = _verify(named)
    assert without.exit_code == 1  # flows alone carry no container port names
    assert "monitoring/prometheus -> shop/cart [9090/TCP]" in without.output
    with_inventory = _verify(named, "--inventory", str(inventory))
    assert with_inventory.exit_code == 0, with_inventory.output


def test_min_flows_leaves_out_rare_connections_and_lists_them(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["recommend", str(SAMPLE_FLOWS), "-o", str(out), "--min-flows", "5"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    left = report["left_out"]
    assert left and all(x["flows"] < 5 and "fewer than 5 flows" in x["reason"] for x in left)
    assert report["coverage"] == 1.0  # over what was kept; the rest is listed, not hidden
    assert report["exempt_connections"]["left out as noise"] >= len(left)
    assert "## Left out as noise" in (out / "SUMMARY.md").read_text()


def test_min_age_takes_a_duration_and_rejects_nonsense(tmp_path):
    ok = CliRunner().invoke(
        main, ["recommend", str(SAMPLE_FLOWS), "-o", str(tmp_path / "a"), "--min-age", "2h"]
    )
    assert ok.exit_code == 0, ok.output
    left = json.loads((tmp_path / "a" / "report.json").read_text())["left_out"]
    assert left and all("less than 2:00:00" in x["reason"] for x in left)
    bad = CliRunner().invoke(
        main, ["recommend", str(SAMPLE_FLOWS), "-o", str(tmp_path / "b"), "--min-age", "soon"]
    )
    assert bad.exit_code == 2 and "not a duration" in bad.output


def test_named_ports_with_an_inventory(tmp_path, inventory):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            "recommend",
            str(SAMPLE_FLOWS),
            "-o",
            str(out),
            "--named-ports",
            "--inventory",
            str(inventory),
        ],
    )
    assert result.exit_code == 0, result.output
    prometheus = yaml.safe_load((out / "policies/monitoring/allow-prometheus.yaml").read_text())
    names = {p["port"] for r in prometheus["spec"]["egress"] for p in r["ports"]}
    assert "metrics" in names
    report = json.loads((out / "report.json").read_text())
    assert report["coverage"] == 1.0 and report["breadth_detail"]["in_cluster"] == 0
