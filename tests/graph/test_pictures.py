"""The pictures of the sample: the proposal's (recommend's OUT/graph.svg) and a replay's
(verify --graph), read back from the SVG and checked against the tables they come from."""

from __future__ import annotations

import gzip
import random
import shutil

import pytest
from click.testing import CliRunner
from conftest import SAMPLE_FLOWS

from recommender import SynthesisOptions, check, observe, propose
from recommender.cli import main
from recommender.graph.model import OUTSIDE, port_text
from recommender.graph.pictures import GRAPH_FILE
from recommender.pr_body import allowed_edges

from .svg_doc import classes, edges, groups, namespace_members, nodes, parse

INGRESS = "ingress-nginx/ingress-nginx-controller"


@pytest.fixture(scope="module")
def observation():
    return observe([SAMPLE_FLOWS])


@pytest.fixture(scope="module")
def rec(observation):
    return propose(observation)


@pytest.fixture(scope="module")
def svg(rec):
    return parse(rec.graph_svg())


def _ports(table) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for src, dst, proto, port in zip(
        table["src"], table["dst"], table["protocol"], table["port"], strict=True
    ):
        out.setdefault((src, dst), set()).add(port_text(proto, port))
    return out


def test_every_workload_is_a_node_inside_its_namespace(rec, svg):
    members = namespace_members(svg)
    for name, ns in zip(rec.workloads["workload"], rec.workloads["namespace"], strict=True):
        assert name in members[ns]
    assert sum(len(m) for m in members.values()) == len(rec.workloads) == 12


def test_every_allowed_workload_edge_is_drawn_with_its_ports(rec, svg):
    drawn = edges(svg, "allowed")
    expected = {
        edge: {f"{p.split('/')[1]} {p.split('/')[0]}" for p in ports}
        for by_edge in allowed_edges(rec).values()
        for edge, ports in by_edge.items()
    }
    assert expected  # the sample has them
    for edge, ports in expected.items():
        assert set(drawn[edge]) == ports
    assert drawn["monitoring/prometheus", "data/postgres"] == ("TCP 9187",)
    assert drawn["shop/payments", "151.101.1.69"] == ("TCP 443",)


def test_external_peers_with_their_dns_names_and_the_public_facing_workload(svg):
    by_id = nodes(svg)
    assert by_id["151.101.1.69"].get("data-names") == "fraud-check.example.net"
    assert by_id["93.184.216.34"].get("data-names") == "api.payments.example.com"
    assert {"node", "workload", "public"} <= classes(by_id[INGRESS])
    assert "public" not in classes(by_id["shop/cart"])
    outside = [g for g in groups(svg, "outside") if g.get("data-group") == OUTSIDE]
    (clients,) = [n for n in groups(outside[0], "folded")]
    assert clients.get("data-count") == "36"
    assert len(set(clients.get("data-members").split(","))) == 36
    assert edges(svg, "allowed")[clients.get("data-id"), INGRESS] == ("TCP 80", "TCP 443")


def test_at_risk_traffic_is_marked(rec, svg):
    risky = _ports(rec.at_risk.table)
    assert risky  # the sample: other nodes' traffic to the ingress controller
    drawn = edges(svg, "at-risk")
    assert {k: set(v) for k, v in drawn.items()} == risky
    assert drawn["172.18.0.2", INGRESS] == ("TCP 80", "TCP 443")
    assert "node" in classes(nodes(svg)["172.18.0.2"])


def test_traffic_left_out_as_noise_is_at_risk_in_the_picture(observation):
    noisy = propose(observation, SynthesisOptions(min_flows=12))
    table = noisy.at_risk.table
    noise = _ports(table[table["reason"] == "noise"])
    assert noise
    svg = parse(noisy.graph_svg())
    drawn = edges(svg, "at-risk")
    folded = {
        (member, INGRESS): n.get("data-id")
        for n in groups(svg, "folded")
        if "node" in classes(n)
        for member in n.get("data-members").split(",")
    }
    assert any(edge in folded for edge in noise)  # internet clients: drawn as their fold
    for (src, dst), ports in noise.items():
        assert ports <= set(drawn[folded.get((src, dst), src), dst])


def test_verify_marks_the_denied_edges(rec, observation):
    kept = [p for p in rec.policies if p["metadata"]["name"] != "allow-redis"]
    run = check(kept, observation)
    denied = run.denied
    assert len(denied)
    svg = parse(run.graph_svg())
    drawn = edges(svg, "denied")
    expected = {(s, d) for s, d in zip(denied["src_workload"], denied["dst_workload"], strict=True)}
    assert set(drawn) == expected
    assert drawn["shop/cart", "data/redis"] == ("TCP 6379",)
    assert ("shop/cart", "data/redis") not in edges(svg, "allowed")
    legend = {next(iter(classes(x) - {"legend-edge"})) for x in groups(svg, "legend-edge")}
    assert legend == {"allowed", "denied", "unjudged", "at-risk"}


def _shuffled_copy(src, dst, seed):
    dst.mkdir()
    paths = sorted(src.glob("*.jsonl.gz"))
    random.Random(seed).shuffle(paths)
    for i, path in enumerate(paths):
        lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
        random.Random(seed).shuffle(lines)
        (dst / f"{i}-{path.name}").write_bytes(gzip.compress(b"".join(lines), mtime=0))


def test_the_same_flows_in_any_order_give_the_same_bytes(rec, tmp_path):
    _shuffled_copy(SAMPLE_FLOWS, tmp_path / "shuffled", seed=3)
    again = propose(observe([tmp_path / "shuffled"]))
    assert again.graph_svg() == rec.graph_svg()


def test_recommend_writes_graph_svg_beside_the_summary(rec, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["recommend", str(SAMPLE_FLOWS), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / GRAPH_FILE).read_text() == rec.graph_svg()
    assert "`graph.svg` beside this file draws" in (out / "SUMMARY.md").read_text()


def test_verify_graph_writes_the_picture_and_keeps_json_on_stdout(tmp_path, rec):
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["recommend", str(SAMPLE_FLOWS), "-o", str(out)]).exit_code == 0
    (out / "policies" / "data" / "allow-redis.yaml").unlink()
    picture = tmp_path / "pictures" / "verify.svg"
    args = ["verify", "--policies", str(out / "policies"), str(SAMPLE_FLOWS), "--json"]
    result = CliRunner().invoke(main, [*args, "--graph", str(picture)])
    assert result.exit_code == 1  # redis' clients are denied
    assert result.stdout.lstrip().startswith("{")
    assert f"graph written to {picture}" in result.stderr
    assert ("shop/cart", "data/redis") in edges(parse(picture.read_text()), "denied")
    shutil.rmtree(out)
