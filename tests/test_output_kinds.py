"""``recommend --output-kind/--staged/--baseline/--external`` end to end on the sample: every
file written validates against its official schema, the files re-read by their kind's own
reader and replayed prove what the proposal's own proof does (coverage and breadth), and
``verify`` on the written directory agrees."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import SAMPLE_FLOWS
from schemas import schema_errors

from recommender.cli import main

VARIANTS = {
    "calico": ["--output-kind", "calico"],
    "calico-staged-v3": ["--output-kind", "calico", "--staged"],
    "calico-staged": ["--output-kind", "calico-staged"],
    "cilium": ["--output-kind", "cilium"],
    "cilium-cidr": ["--output-kind", "cilium", "--external", "cidr"],
    "banp": ["--baseline", "baseline-admin-network-policy"],
    "cnp-calico": ["--output-kind", "calico", "--baseline", "cluster-network-policy"],
    "cnp-cilium": ["--output-kind", "cilium", "--baseline", "cluster-network-policy"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each variant run once: (exit code, output, out dir)."""
    out = {}
    for name, args in VARIANTS.items():
        root = tmp_path_factory.mktemp(name)
        result = CliRunner().invoke(
            main, ["recommend", str(SAMPLE_FLOWS), "-o", str(root), "--no-progress", *args]
        )
        out[name] = (result.exit_code, result.output, root)
    return out


def _objects(root):
    return {
        p.relative_to(root).as_posix(): yaml.safe_load(p.read_text())
        for p in sorted((root / "policies").rglob("*.yaml"))
    }


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_written_object_validates_against_its_official_schema(runs, variant):
    code, output, root = runs[variant]
    assert code == 0, output
    objects = _objects(root)
    assert objects
    for path, obj in objects.items():
        assert schema_errors(obj) == [], path


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_files_read_back_prove_what_the_proposal_proves(runs, variant):
    _, output, root = runs[variant]
    report = json.loads((root / "report.json").read_text())
    rendered = report["rendered"]
    assert rendered["coverage"] == report["coverage"] == 1.0
    assert rendered["covered_connections"] == report["covered_connections"]
    assert rendered["unjudged_connections"] == 0
    assert rendered["breadth"] == report["breadth"], rendered["differences"]
    assert rendered["same_as_proposal"] and rendered["differences"] == []
    assert f"{report['output_kind']} files re-read and replayed: coverage 100.00%" in output
    summary = (root / "SUMMARY.md").read_text()
    assert "Re-read as written and replayed: coverage 100.00%" in summary


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_verify_on_the_written_directory_passes(runs, variant):
    _, _, root = runs[variant]
    result = CliRunner().invoke(
        main, ["verify", "--policies", str(root / "policies"), str(SAMPLE_FLOWS), "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["coverage"] == 1.0


def test_the_kinds_are_what_was_asked(runs):
    kinds = {v: {o["kind"] for o in _objects(runs[v][2]).values()} for v in VARIANTS}
    assert kinds["calico"] == {"NetworkPolicy"}
    assert all(
        o["apiVersion"] == "projectcalico.org/v3" for o in _objects(runs["calico"][2]).values()
    )
    assert kinds["calico-staged-v3"] == {"StagedNetworkPolicy"}
    assert kinds["calico-staged"] == {"StagedKubernetesNetworkPolicy"}
    assert kinds["cilium"] == {"CiliumNetworkPolicy"}
    assert kinds["banp"] == {"NetworkPolicy", "BaselineAdminNetworkPolicy"}
    assert kinds["cnp-cilium"] == {"CiliumNetworkPolicy", "ClusterNetworkPolicy"}


def test_a_baseline_replaces_every_namespace_default_deny_with_one_cluster_object(runs):
    plain = _objects(runs["calico"][2])
    with_baseline = _objects(runs["cnp-calico"][2])
    deny = {p for p, o in plain.items() if o["metadata"]["name"] == "default-deny"}
    assert deny and not deny & set(with_baseline)
    (cluster,) = [p for p in with_baseline if p.startswith("policies/_cluster/")]
    obj = with_baseline[cluster]
    covered = obj["spec"]["subject"]["namespaces"]["matchExpressions"][0]["values"]
    assert sorted(covered) == sorted(p.split("/")[1] for p in deny)
    assert set(with_baseline) - {cluster} == set(plain) - deny


def test_cilium_states_external_egress_by_dns_name_with_the_dns_proxy_rule(runs):
    objects = _objects(runs["cilium"][2])
    payments = objects["policies/shop/allow-payments.yaml"]
    egress = payments["spec"]["egress"]
    names = {m.get("matchName") for r in egress for m in r.get("toFQDNs", [])}
    assert {"api.payments.example.com", "fraud-check.example.net"} <= names
    dns = [p for r in egress for p in r.get("toPorts", []) if "rules" in p]
    assert dns and all(p["rules"] == {"dns": [{"matchPattern": "*"}]} for p in dns)
    report = json.loads((runs["cilium"][2] / "report.json").read_text())
    assert {e["peer"] for e in report["fqdn_names"]} >= {"api.payments.example.com"}
    # verify judges the calls to those names allowed by the toFQDNs rule itself
    fqdn_rule = next(i for i, r in enumerate(egress) if "toFQDNs" in r)
    result = CliRunner().invoke(
        main,
        ["verify", "--policies", str(runs["cilium"][2] / "policies"), str(SAMPLE_FLOWS), "--json"],
    )
    calls = [
        c
        for c in json.loads(result.output)["connections"]
        if c["src"] == "shop/payments" and c["port"] == 443
    ]
    assert calls and all(c["allowed"] for c in calls)
    assert all(
        f"CiliumNetworkPolicy shop/allow-payments egress[{fqdn_rule}]" in c["reasons"][0]
        for c in calls
    )
    cidr = _objects(runs["cilium-cidr"][2])["policies/shop/allow-payments.yaml"]
    assert not any("toFQDNs" in r for r in cidr["spec"]["egress"])


def test_staged_calico_says_how_to_promote_and_promoting_gives_the_enforced_files(runs, tmp_path):
    import shutil
    import subprocess

    staged_root = runs["calico-staged-v3"][2]
    report = json.loads((staged_root / "report.json").read_text())
    assert report["output"]["staged"] is True
    work = tmp_path / "promote"
    shutil.copytree(staged_root / "policies", work / "policies")
    subprocess.run(["sh", "-c", report["promote"]], cwd=work, check=True)
    promoted = {p: o for p, o in _objects(work).items()}
    enforced = _objects(runs["calico"][2])
    assert promoted == enforced


#: The runs docs/output-kinds.md quotes that the module's variants do not cover.
DOC_ONLY = {
    "networkpolicy": [],
    "cnp-networkpolicy": ["--baseline", "cluster-network-policy"],
}
_DOC_BLOCK = re.compile(r"<!-- file: (\S+) (\S+) -->\n\n```yaml\n(.*?)\n```", re.S)


def test_docs_output_kinds_quotes_the_files_byte_for_byte(runs, tmp_path):
    doc = (Path(__file__).resolve().parents[1] / "docs" / "output-kinds.md").read_text()
    blocks = _DOC_BLOCK.findall(doc)
    assert len(blocks) >= 9
    roots = {name: root for name, (_, _, root) in runs.items()}
    for name, args in DOC_ONLY.items():
        roots[name] = tmp_path / name
        result = CliRunner().invoke(
            main, ["recommend", str(SAMPLE_FLOWS), "-o", str(roots[name]), "--no-progress", *args]
        )
        assert result.exit_code == 0, result.output
    quoted = {variant for variant, _, _ in blocks}
    assert {"networkpolicy", "calico", "calico-staged", "cilium", "banp"} <= quoted
    for variant, rel, text in blocks:
        assert (roots[variant] / rel).read_text() == text + "\n", (variant, rel)


@pytest.mark.parametrize("kind", ["networkpolicy", "cilium"])
def test_existing_cilium_policies_are_part_of_the_proof(runs, tmp_path, kind):
    """--existing reads another dialect: the sample's Cilium policies of namespace shop but
    one are in place; the proposal adds only that one (in the kind asked for)."""
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(runs["cilium"][2] / "policies" / "shop", repo / "shop")
    (repo / "shop" / "allow-cart.yaml").unlink()
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            "recommend",
            str(SAMPLE_FLOWS),
            "-o",
            str(out),
            "--no-progress",
            "--existing",
            str(repo),
            "--output-kind",
            kind,
        ],
    )
    assert result.exit_code == 0, result.output
    shop = sorted(p.name for p in (out / "policies" / "shop").iterdir())
    assert shop == ["allow-cart.yaml"]
    cart = yaml.safe_load((out / "policies" / "shop" / "allow-cart.yaml").read_text())
    assert cart["kind"] == ("CiliumNetworkPolicy" if kind == "cilium" else "NetworkPolicy")
    report = json.loads((out / "report.json").read_text())
    assert report["coverage"] == 1.0 and report["existing"]["unknown_objects"] == []
