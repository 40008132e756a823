"""End to end on sample_flows/: the proposal is checked against the simulator's ground
truth and by the independent evaluator, not by the generator's own bookkeeping."""

from __future__ import annotations

import gzip
import json
import random
import shutil

import conftest
import pyarrow.compute as pc
import pytest
import yaml
from click.testing import CliRunner
from conftest import SAMPLE_FLOWS, flow, flows_table, sim_endpoint

from recommender.cli import main
from recommender.ingest import read_flows
from recommender.ingest.parquet import write_parquet
from recommender.netpol.evaluator import Evaluator
from recommender.netpol.model import Endpoint
from recommender.pipeline import recommend, recommend_from_flows
from recommender.sim import shop_cluster
from recommender.system_namespaces import is_system_namespace

EPHEMERAL = range(32768, 61000)


@pytest.fixture(scope="module")
def cluster():
    return shop_cluster(seed=7, hours=6.0)


@pytest.fixture(scope="module")
def rec():
    return recommend([SAMPLE_FLOWS])


def _rule_ports(policies):
    for p in policies:
        for direction in ("ingress", "egress"):
            for rule in p["spec"].get(direction, []):
                for port in rule.get("ports", []):
                    yield port["protocol"], port["port"]


def test_coverage_is_complete_and_breadth_is_zero(rec):
    assert rec.coverage == 1.0
    assert rec.covered == rec.judged > 100
    assert rec.breadth.in_cluster == 0
    assert rec.breadth.unbounded == []
    # the only external breadth is the flagged public-facing range of the ingress controller
    public = [x for x in rec.synthesis.external if x["kind"] == "public"]
    assert {x["workload"] for x in public} == {"ingress-nginx/ingress-nginx-controller"}
    assert rec.breadth.external_addresses == sum(x["unobserved_addresses"] for x in public)
    assert rec.breadth.per_policy.get("ingress-nginx/allow-ingress-nginx-controller") == (
        rec.breadth.external_addresses
    )
    assert rec.counts.balanced() and rec.counts.rejected_total == 0


def test_connections_match_the_ground_truth_exactly(rec, cluster):
    """Every simulated edge is found, and nothing else: no reply became a connection."""
    wc = rec.workload_connections
    found = {
        ("node" if st == "node" else s, d, proto, int(port))
        for st, s, d, proto, port in zip(
            wc["src_type"], wc["src_id"], wc["dst_id"], wc["protocol"], wc["port"], strict=True
        )
    }
    truth = {(e.src, e.dst, e.protocol, e.port) for e in cluster.edges}
    assert found == truth


def test_every_observed_workload_is_isolated_in_both_directions_by_its_own_policy(rec, cluster):
    evaluator = Evaluator(rec.policies)
    own = {f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in rec.policies}
    for pod in cluster.pods:
        if is_system_namespace(pod.namespace):  # left alone by default
            ep = sim_endpoint(pod, cluster)
            assert not evaluator.policies_selecting(ep, "ingress"), pod.name
            assert not evaluator.policies_selecting(ep, "egress"), pod.name
            continue
        ep = sim_endpoint(pod, cluster)
        for direction in ("ingress", "egress"):
            selecting = evaluator.policies_selecting(ep, direction)
            assert f"{pod.namespace}/default-deny" in selecting, (pod.name, direction)
        mine = set(evaluator.policies_selecting(ep, "ingress")) - {f"{pod.namespace}/default-deny"}
        assert mine and mine <= own, pod.name
        assert len(mine) == 1, (pod.name, mine)


def test_no_rule_on_an_ephemeral_port_and_every_port_was_served(rec, cluster):
    served = {(e.protocol, e.port) for e in cluster.edges} | {("UDP", 53), ("TCP", 53)}
    ports = set(_rule_ports(rec.policies))
    assert ports <= served
    assert not [p for _, p in ports if p in EPHEMERAL]


def test_dns_is_allowed_for_every_workload_with_egress(rec, cluster):
    evaluator = Evaluator(rec.policies)
    resolvers = cluster.pods_of("kube-system/coredns")
    assert resolvers
    with_egress = {p.workload for p in rec.ir if p.role == "workload" and p.egress}
    # the resolver answers queries itself; it needs no DNS rule to reach itself
    with_egress -= set(rec.synthesis.resolvers)
    assert rec.synthesis.resolvers == ["kube-system/coredns"]
    assert len(with_egress) >= 8
    for workload in sorted(with_egress):
        for pod in cluster.pods_of(workload):
            for dns in resolvers:
                for proto in ("UDP", "TCP"):
                    verdict = evaluator.evaluate(
                        sim_endpoint(pod, cluster), sim_endpoint(dns, cluster), proto, 53
                    )
                    assert verdict.allowed, (pod.name, proto, verdict.explain())


def test_pods_of_the_new_replicaset_are_selected_even_when_learned_before_the_rollout(cluster):
    cart = cluster.pods_of("shop/cart")
    hashes = {p.labels["pod-template-hash"] for p in cart}
    assert len(hashes) == 2, "the sample must contain a rollout"
    rollout = min(p.start for p in cart if p.start > cluster.start)
    new_pods = [p for p in cart if p.start >= rollout]
    flowset = read_flows([SAMPLE_FLOWS])
    before = flowset.table.filter(pc.less(flowset.table["time_start"], rollout))
    assert 0 < before.num_rows < flowset.table.num_rows
    learned = recommend_from_flows(before, flowset.counts)
    evaluator = Evaluator(learned.policies)
    for pod in new_pods:
        assert "shop/allow-cart" in evaluator.policies_selecting(
            sim_endpoint(pod, cluster), "ingress"
        )
    # and the frontend may still reach them on the port it used
    frontend = cluster.pods_of("shop/frontend")[0]
    verdict = evaluator.evaluate(
        sim_endpoint(frontend, cluster), sim_endpoint(new_pods[0], cluster), "TCP", 8080
    )
    assert verdict.allowed, verdict.explain()


def test_canary_shares_a_policy_only_because_its_traffic_is_identical(rec, cluster):
    """catalog-canary shares `app` with catalog; they may share a policy (a role) only
    because their traffic coincides, which costs no breadth."""
    roles = {r.members: r for r in rec.synthesis.roles}
    role = roles[("shop/catalog", "shop/catalog-canary")]
    assert role.cost == 0
    profiles = {
        w: set(
            map(
                tuple,
                rec.workload_connections.loc[
                    (rec.workload_connections["dst_id"] == w)
                    & (rec.workload_connections["src_type"] != "node"),  # probes get no rule
                    ["src_id", "protocol", "port"],
                ].values,
            )
        )
        for w in role.members
    }
    assert profiles["shop/catalog"] == profiles["shop/catalog-canary"]
    evaluator = Evaluator(rec.policies)
    for pod in cluster.pods_of("shop/catalog-canary") + cluster.pods_of("shop/catalog"):
        mine = set(evaluator.policies_selecting(sim_endpoint(pod, cluster), "ingress"))
        assert mine == {"shop/default-deny", "shop/allow-catalog-catalog-canary"}


def _shuffled_copy(src, dst, seed):
    dst.mkdir()
    for path in sorted(src.glob("*.jsonl.gz")):
        lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
        random.Random(seed).shuffle(lines)
        (dst / path.name).write_bytes(gzip.compress(b"".join(lines), mtime=0))


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_shuffled_input_gives_byte_identical_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(SAMPLE_FLOWS, tmp_path / "a" / "flows")
    (tmp_path / "b").mkdir()
    _shuffled_copy(SAMPLE_FLOWS, tmp_path / "b" / "flows", seed=1)
    outputs = []
    for run in ("a", "b"):
        monkeypatch.chdir(tmp_path / run)
        result = CliRunner().invoke(main, ["recommend", "flows", "-o", "out"])
        assert result.exit_code == 0, result.output
        outputs.append(_tree(tmp_path / run / "out"))
    # report.json's at-risk examples name the line of one record: it moves with the record
    reports = [json.loads(out.pop("report.json")) for out in outputs]
    for report in reports:
        assert report["at_risk"]["examples"]
        for example in report["at_risk"]["examples"]:
            assert example.pop("line") > 0
    assert reports[0] == reports[1]
    assert outputs[0] == outputs[1]
    assert "SUMMARY.md" in outputs[0] and len(outputs[0]) > 10


def test_cli_prints_where_the_proposal_went_and_exits_zero(tmp_path):
    result = CliRunner().invoke(main, ["recommend", str(SAMPLE_FLOWS), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"proposal written to {tmp_path / 'policies'}" in result.output
    assert (tmp_path / "policies" / "shop" / "allow-cart.yaml").is_file()


@pytest.fixture
def canary_case(tmp_path):
    """The log keeps only the name label (as Hubble's label filter does): catalog and its
    canary look alike. The inventory shows `track: canary` on the canary.

    Returns (flows parquet, inventory json, the pods as the log names them, the labels the
    API server gives each pod by name)."""
    catalog = {"app.kubernetes.io/name": "catalog"}
    front = conftest.pod(
        "shop", "frontend-6b7c8d9f5-xwzrt", {"app.kubernetes.io/name": "frontend"}, "10.0.0.5"
    )
    cat = conftest.pod("shop", "catalog-7d4b9c8f6-bcdfg", catalog, "10.0.0.6")
    canary = conftest.pod("shop", "catalog-canary-5f6c7d8b9-hjklm", catalog, "10.0.0.7")
    db = conftest.pod("data", "db-0", {"app": "db"}, "10.0.1.2")
    flows = tmp_path / "flows.parquet"
    write_parquet(
        flows_table(
            [
                flow(front, cat, 8080),
                flow(front, canary, 8080, sport=40001),
                flow(cat, db, 5432, sport=40002),
            ]
        ),
        flows,
    )
    real = {  # what the API server says
        cat["pod"]: {**catalog, "tier": "backend", "pod-template-hash": "7d4b9c8f6"},
        canary["pod"]: {**catalog, "tier": "backend", "track": "canary"},
        front["pod"]: front["labels"],
        db["pod"]: db["labels"],
    }
    items = [
        {
            "kind": "Pod",
            "metadata": {"name": p["pod"], "namespace": p["namespace"], "labels": real[p["pod"]]},
            "spec": {"containers": [{"ports": [{"containerPort": 8080}]}]},
            "status": {"podIP": p["ip"]},
        }
        for p in (front, cat, canary, db)
    ]
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"kind": "List", "items": items}))
    pods = {"front": front, "cat": cat, "canary": canary, "db": db}
    return flows, inventory, pods, real


def _recommend_catalog(out, *args):
    """`recommend` into out with args; (report.json, its policy_files entry for catalog)."""
    result = CliRunner().invoke(main, ["recommend", *args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    entry = next(p for p in report["policy_files"] if p.get("workload") == "shop/catalog")
    return report, entry


def test_without_the_inventory_the_canary_is_swept_in(tmp_path, canary_case):
    flows, _, pods, _ = canary_case
    _, entry = _recommend_catalog(tmp_path / "blind", str(flows))
    assert not entry["selector_exact"] and entry["swept_in"] == [pods["canary"]["pod"]]


def test_inventory_makes_a_canary_carrying_every_label_plus_one_exact(tmp_path, canary_case):
    """With the inventory the proposal selects catalog with `!track`."""
    flows, inventory, _, _ = canary_case
    report, entry = _recommend_catalog(tmp_path / "out", str(flows), "--inventory", str(inventory))
    assert entry["selector_exact"] and entry["swept_in"] == []
    assert entry["selector_expressions"] == [{"key": "track", "operator": "DoesNotExist"}]
    assert report["coverage"] == 1.0 and report["breadth_detail"]["in_cluster"] == 0
    # only the assumed resolver's namespace, which neither the log nor the inventory shows
    unproven = report["unproven_selectors"]["namespaces"]
    assert [n["namespace"] for n in unproven] == ["kube-system"]


def test_the_evaluator_proves_the_canary_exact_selectors_on_real_labels(tmp_path, canary_case):
    """Each of catalog and its canary is selected by its own policy alone, as the evaluator
    sees them with the API server's labels."""
    flows, inventory, pods, real = canary_case
    _recommend_catalog(tmp_path / "out", str(flows), "--inventory", str(inventory))
    policies = [
        yaml.safe_load(p.read_text())
        for p in sorted((tmp_path / "out" / "policies").rglob("*.yaml"))
    ]
    evaluator = Evaluator(policies)
    for p in (pods["cat"], pods["canary"]):
        ep = Endpoint(
            kind="pod",
            ip=p["ip"],
            namespace="shop",
            labels=real[p["pod"]],
            namespace_labels={"kubernetes.io/metadata.name": "shop"},
            name=p["pod"],
        )
        mine = set(evaluator.policies_selecting(ep, "ingress")) - {"shop/default-deny"}
        assert mine == {"shop/allow-" + p["pod"].rsplit("-", 2)[0]}


def test_verify_accepts_the_canary_exact_policies(tmp_path, canary_case):
    flows, inventory, _, _ = canary_case
    _recommend_catalog(tmp_path / "out", str(flows), "--inventory", str(inventory))
    check = [
        "verify",
        "--policies",
        str(tmp_path / "out" / "policies"),
        str(flows),
        "--inventory",
        str(inventory),
    ]
    verified = CliRunner().invoke(main, check)
    assert verified.exit_code == 0, verified.output
