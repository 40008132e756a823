"""The same simulated traffic, rendered as Hubble, Calico and AWS VPC flow logs (the last
with an inventory to resolve bare IPs), yields byte-identical policies."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import sim_endpoint

from recommender.cli import main
from recommender.netpol.evaluator import Evaluator
from recommender.netpol.model import Endpoint
from recommender.sim import (
    GRPC_PORT,
    kubectl_inventory,
    shop_cluster,
    write_aws_vpc,
    write_calico,
    write_hubble,
)


@pytest.fixture(scope="module")
def cluster():
    return shop_cluster(seed=7, hours=2.0)


def _snapshots(cluster, folder):
    """Inventory snapshots at the start and the end: pods that come and go are all known."""
    paths = []
    for name, at in (("start", cluster.start), ("end", cluster.end)):
        path = folder / f"{name}.json"
        path.write_text(json.dumps(kubectl_inventory(cluster, at=at)))
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def inventory(cluster, tmp_path_factory):
    return _snapshots(cluster, tmp_path_factory.mktemp("inventory"))


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
    assert len(hubble) >= 14
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


# ----------------------------------------------------------------- at risk, per format


def _denied_edges(cluster, policies, node_sources) -> list:
    """Ground-truth edges some pod pair of which the policies deny. Kubelet probes come from
    the pod's own node (always allowed); SNATed traffic from the nodes the log saw sending
    it (``node_sources``: the report's list), judged by their addresses."""
    evaluator = Evaluator(policies)
    node_ips = {n.ip for n in cluster.nodes}
    denied = []
    for edge in cluster.edges:
        traffic = cluster.traffic.get(edge)
        if edge.src == "node" and traffic is not None and traffic.style == "probe":
            continue  # always allowed from the pod's own node
        if edge.src == "node":
            port = f"{edge.port}/{edge.protocol}"
            seen = {n["src"] for n in node_sources if (n["dst"], n["port"]) == (edge.dst, port)}
            assert seen, edge
            sources = [Endpoint(kind="node", ip=ip, name=ip) for ip in sorted(seen)]
        elif "/" in edge.src:
            sources = [sim_endpoint(p, cluster) for p in cluster.pods_of(edge.src)]
        else:
            sources = [Endpoint(kind="external", ip=edge.src, name=edge.src)]
        if "/" in edge.dst:
            targets = [sim_endpoint(p, cluster) for p in cluster.pods_of(edge.dst)]
        else:
            kind = "node" if edge.dst in node_ips else "external"
            targets = [Endpoint(kind=kind, ip=edge.dst, name=edge.dst)]
        for s in sources:
            for d in targets:
                if not evaluator.evaluate(s, d, edge.protocol, edge.port).allowed:
                    denied.append((edge, s.name, d.name))
    return denied


@pytest.fixture(scope="module")
def grpc_shop():
    return shop_cluster(seed=7, hours=2.0, grpc=True)


@pytest.fixture(scope="module")
def grpc_inventory(grpc_shop, tmp_path_factory):
    paths = _snapshots(grpc_shop, tmp_path_factory.mktemp("grpc-inventory"))
    return [arg for path in paths for arg in ("--inventory", str(path))]


def _policies_of(out):
    import yaml

    return [yaml.safe_load(p.read_text()) for p in sorted((out / "policies").rglob("*.yaml"))]


def test_calico_level2_keeps_every_edge_and_the_public_ingress_with_nothing_at_risk(
    grpc_shop, grpc_inventory, tmp_path
):
    """Level-2 Calico folds the storefront's internet clients into `pub` and every pod into
    its prefix; with an inventory (host endpoint names -> node addresses) and node sources
    admitted, every ground-truth edge passes and nothing observed is at risk."""
    write_calico(grpc_shop, tmp_path / "calico2", seed=7, aggregation=2)
    report, _ = _recommend(
        tmp_path, "out", tmp_path / "calico2", *grpc_inventory, "--allow-node-sources"
    )
    assert report["coverage"] == 1.0
    assert report["at_risk"]["records"] == 0 and report["at_risk"]["connections"] == 0
    policies = _policies_of(tmp_path / "out")
    assert _denied_edges(grpc_shop, policies, report["node_sources"]) == []
    # the storefront stays open to the internet: a public address never seen passes
    evaluator = Evaluator(policies)
    nginx = next(p for p in grpc_shop.pods if p.workload.endswith("ingress-nginx-controller"))
    stranger = Endpoint(kind="external", ip="203.0.113.77", name="stranger")
    assert evaluator.evaluate(stranger, sim_endpoint(nginx, grpc_shop), "TCP", 443).allowed
    public = [x for x in report["external_ranges"] if x["kind"] == "public"]
    assert {(x["workload"], x["direction"]) for x in public} >= {
        ("ingress-nginx/ingress-nginx-controller", "ingress"),
        ("shop/payments", "egress"),
    }
    summary = (tmp_path / "out" / "SUMMARY.md").read_text()
    assert "**At risk: 0.**" in summary
    assert "All observed connections pass the independent evaluator." in summary


def test_calico_level2_without_an_inventory_reports_the_api_server_at_risk_and_strict_fails(
    grpc_shop, tmp_path
):
    """Without an inventory the API server is only a host endpoint's name: no ipBlock can
    state it. The proposal is written, the at-risk traffic leads the output, and --strict
    refuses it."""
    write_calico(grpc_shop, tmp_path / "calico2", seed=7, aggregation=2)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["recommend", str(tmp_path / "calico2"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("at risk: 2 connections")
    report = json.loads((out / "report.json").read_text())
    assert report["at_risk"]["by_reason"]["named"]["connections"] == 2
    assert {e["dst"] for e in report["at_risk"]["examples"]} == {"shop-control-plane-auto-hep"}
    assert all(e["file"] and e["line"] for e in report["at_risk"]["examples"])
    summary = (out / "SUMMARY.md").read_text()
    assert summary.index("## At risk") < summary.index("| measure | value |")
    assert "All observed connections pass" not in summary
    strict = CliRunner().invoke(
        main, ["recommend", str(tmp_path / "calico2"), "-o", str(tmp_path / "s"), "--strict"]
    )
    assert strict.exit_code == 1
    assert "--strict" in strict.output and not (tmp_path / "s").exists()


def test_aws_vpc_v2_keeps_every_edge_and_the_grpc_service_with_nothing_at_risk(
    grpc_shop, grpc_inventory, tmp_path
):
    """The default v2 format has no TCP flags, and the gRPC service listens inside the
    ephemeral range like its clients: the inventory's containerPort orients it. With node
    sources admitted every ground-truth edge passes and nothing observed is at risk; without,
    exactly the LoadBalancer traffic SNATed by other nodes is at risk."""
    write_aws_vpc(grpc_shop, tmp_path / "aws2", seed=7, version=2)
    report, _ = _recommend(
        tmp_path, "out", tmp_path / "aws2", *grpc_inventory, "--allow-node-sources"
    )
    assert report["coverage"] == 1.0
    assert report["at_risk"]["connections"] == 0 and report["at_risk"]["records"] == 0
    assert report["enrichment"]["orientation"]
    policies = _policies_of(tmp_path / "out")
    assert _denied_edges(grpc_shop, policies, report["node_sources"]) == []
    grpc = [
        r
        for p in policies
        if p["metadata"]["name"] == "allow-recommendations"
        for r in p["spec"]["ingress"]
    ]
    assert {"protocol": "TCP", "port": GRPC_PORT} in [port for r in grpc for port in r["ports"]]
    public = [x for x in report["external_ranges"] if x["kind"] == "public"]
    assert [(x["workload"], x["direction"]) for x in public] == [
        ("ingress-nginx/ingress-nginx-controller", "ingress")
    ]
    plain, _ = _recommend(tmp_path, "plain", tmp_path / "aws2", *grpc_inventory)
    assert set(plain["at_risk"]["by_reason"]) == {"node"}
    assert {e["dst"] for e in plain["at_risk"]["examples"]} == {
        "ingress-nginx/ingress-nginx-controller"
    }
    assert plain["at_risk"]["unchecked_node_sources"] == 0  # the inventory placed them all
