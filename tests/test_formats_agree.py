"""The same simulated traffic, rendered as Hubble, Calico and AWS VPC flow logs (the last
with an inventory to resolve bare IPs), yields byte-identical policies."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from recommender.cli import main
from recommender.simulate import kubectl_inventory, shop_cluster, write_hubble
from recommender.simulate_formats.aws_vpc import write_aws_vpc
from recommender.simulate_formats.calico import write_calico


@pytest.fixture(scope="module")
def cluster():
    return shop_cluster(seed=7, hours=2.0)


@pytest.fixture(scope="module")
def inventory(cluster, tmp_path_factory):
    """Snapshots at the start and the end: pods that come and go are all known."""
    folder = tmp_path_factory.mktemp("inventory")
    paths = []
    for name, at in (("start", cluster.start), ("end", cluster.end)):
        path = folder / f"{name}.json"
        path.write_text(json.dumps(kubectl_inventory(cluster, at=at)))
        paths.append(path)
    return paths


def _recommend(tmp_path, name, flows, *extra):
    out = tmp_path / name
    result = CliRunner().invoke(main, ["recommend", str(flows), "-o", str(out), *extra])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    policies = {
        p.relative_to(out).as_posix(): p.read_bytes() for p in (out / "policies").rglob("*.yaml")
    }
    return report, policies


def test_hubble_calico_and_aws_vpc_give_the_same_policies(cluster, inventory, tmp_path):
    write_hubble(cluster, tmp_path / "hubble", seed=7)
    write_calico(cluster, tmp_path / "calico", seed=7)
    write_aws_vpc(cluster, tmp_path / "aws", seed=7)
    inv = [arg for path in inventory for arg in ("--inventory", str(path))]
    hubble_report, hubble = _recommend(tmp_path, "out-hubble", tmp_path / "hubble")
    calico_report, calico = _recommend(tmp_path, "out-calico", tmp_path / "calico")
    aws_report, aws = _recommend(tmp_path, "out-aws", tmp_path / "aws", *inv)
    assert len(hubble) >= 15
    assert calico == hubble
    assert aws == hubble
    for report in (hubble_report, calico_report, aws_report):
        assert report["coverage"] == 1.0
        assert report["breadth_detail"]["in_cluster"] == 0
    # the AWS run really went through the inventory: bare IPs became pods and nodes
    assert aws_report["enrichment"]["endpoints"]
    assert hubble_report["enrichment"] is None and calico_report["enrichment"] is None


def _in_cluster_view(policies: dict[str, bytes]) -> dict[str, object]:
    """Each policy with ipBlock peers removed: what aggregated logs can still state."""
    import yaml

    view = {}
    for path, text in policies.items():
        spec = yaml.safe_load(text)["spec"]
        rules = []
        for direction, key in (("ingress", "from"), ("egress", "to")):
            for rule in spec.get(direction, []):
                peers = [p for p in rule[key] if "ipBlock" not in p]
                if peers:
                    rules.append((direction, repr(peers), repr(rule["ports"])))
        view[path] = (repr(spec["podSelector"]), sorted(rules))
    return view


def test_calico_aggregated_names_give_the_same_in_cluster_policies(cluster, tmp_path):
    """Level-2 aggregation hides pod names and public addresses; the workload identities
    behind `frontend-7f9c5d8b6-*` still give the same selectors and in-cluster rules."""
    write_hubble(cluster, tmp_path / "hubble", seed=7)
    write_calico(cluster, tmp_path / "calico2", seed=7, aggregation=2)
    _, hubble = _recommend(tmp_path, "out-hubble", tmp_path / "hubble")
    report, aggregated = _recommend(tmp_path, "out-calico2", tmp_path / "calico2")
    assert report["coverage"] == 1.0
    assert _in_cluster_view(aggregated) == _in_cluster_view(hubble)
