"""The CLI contract (DESIGN §2): outputs, exit codes, one-line errors."""

import gc
import json
import re
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
    assert re.search(r"shop/cart -> data/redis \[6379/TCP\]: 4 pod pairs, \d+ flows", result.output)
    why = (
        "why: data/redis is isolated for ingress by data/default-deny; it admits no ingress at all"
    )
    assert result.output.count(why) == 2  # once per group: from shop/cart and from prometheus
    n = len(list(broken.rglob("*.yaml")))
    # at-risk traffic first (the sample's SNATed LoadBalancer traffic), then the report
    assert result.output.startswith("at risk: 4 connections")
    assert f"\n{n} policies replayed\n" in result.output
    assert re.search(r"exempted \d+ connections from node/kubelet sources", result.output)


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


def test_verify_collapses_internet_sources_and_names_unbounded_rules(proposal, tmp_path):
    broken = tmp_path / "policies"
    shutil.copytree(proposal / "policies", broken)
    (broken / "ingress-nginx" / "allow-ingress-nginx-controller.yaml").unlink()
    (broken / "shop" / "open.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "open", "namespace": "shop"},
                "spec": {
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "frontned"}},
                    "policyTypes": ["Ingress"],
                    "ingress": [{}],
                },
            }
        )
    )
    result = _verify(broken)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    internet = [line for line in lines if "external addresses -> ingress-nginx/" in line]
    assert len(internet) == 2  # one line per port (80, 443), not one per address
    assert all(re.search(r"\[(80|443)/TCP\]: \d+ pairs, \d+ flows$", line) for line in internet)
    assert sum("sources: " in line and "public" in line for line in lines) == 2
    assert "  shop/open ingress[0]: no 'from': every source" in result.output
    assert re.search(
        r"shop/open: podSelector app.kubernetes.io/name=frontned matches none", result.output
    )
    report = json.loads(_verify(broken, "--json").output)
    groups = [g for g in report["groups"] if g["source_kind"] == "external"]
    assert {g["port"] for g in groups} == {80, 443}
    denied = [c for c in report["connections"] if not c["allowed"] and c["port"] in (80, 443)]
    assert sum(g["connections"] for g in groups) == len(denied)
    assert report["unbounded"][-1]["kind"] == "every_peer"
    assert report["warnings"][0]["kind"] == "selects_nothing"
    assert report["exempt"]["node_sources"]["connections"] > 0


def test_verify_tighten_writes_proven_replacements_and_keeps_stdout(proposal, tmp_path):
    plain = CliRunner().invoke(
        main, ["verify", "--policies", str(proposal / "policies"), str(SAMPLE_FLOWS), "--json"]
    )
    result = CliRunner().invoke(
        main,
        [
            "verify",
            "--policies",
            str(proposal / "policies"),
            str(SAMPLE_FLOWS),
            "--json",
            "--tighten",
            str(tmp_path),
        ],
    )
    assert result.exit_code == plain.exit_code == 0
    assert result.stdout == plain.stdout
    written = tmp_path / "tighten" / "ingress-nginx" / "allow-ingress-nginx-controller.yaml"
    doc = yaml.safe_load(written.read_text())
    assert all(
        "/0" not in p.get("ipBlock", {}).get("cidr", "")
        for r in doc["spec"]["ingress"]
        for p in r["from"]
    )
    proof = json.loads((tmp_path / "tighten" / "proof.json").read_text())
    assert proof["proof"]["broken"] == 0
    assert "proof: 0 of " in result.stderr


def test_verify_an_empty_policy_directory_says_0_policies(tmp_path):
    result = _verify(tmp_path)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "0 policies: nothing is isolated, every observed connection is allowed\n"
    )
    assert "coverage 100.00%" in result.output


@pytest.mark.parametrize("command", ["verify", "recommend", "ingest"])
def test_an_inventory_that_is_not_kubectl_output_is_refused(command, tmp_path):
    flows = tmp_path / "flow.json"
    flows.write_text(json.dumps({"flow": {"verdict": "FORWARDED"}, "node_name": "n1"}))
    args = {
        "verify": ["verify", "--policies", str(tmp_path), str(SAMPLE_FLOWS)],
        "recommend": ["recommend", str(SAMPLE_FLOWS), "-o", str(tmp_path / "out")],
        "ingest": ["ingest", str(SAMPLE_FLOWS), "-o", str(tmp_path / "x.parquet")],
    }[command]
    result = CliRunner().invoke(main, [*args, "--inventory", str(flows)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert result.output.startswith(f"error: {flows}: not kubectl output: a JSON object with keys")


@pytest.mark.parametrize("command", ["ingest", "recommend", "verify"])
def test_help_paragraphs_are_dedented(command):
    """The INPUT paragraph appended to each docstring must not stop click's dedent."""
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert not re.search(r"\S {3,}\S", result.output.split("Options:")[0])
    assert "INPUT is any mix" in result.output


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


def test_a_command_run_in_process_leaves_the_garbage_collector_as_it_was(tmp_path):
    """Only the process entry turns the cyclic GC off and freezes the heap (the process
    ends with the command); a caller of ``main.main`` (click's runner, a test) keeps it."""
    assert gc.isenabled() and gc.get_freeze_count() == 0
    result = CliRunner().invoke(main, ["recommend", str(SAMPLE_FLOWS), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert gc.isenabled() and gc.get_freeze_count() == 0


def _fresh_python(code: str, *args: str) -> str:
    """The last line ``code`` prints in a fresh interpreter (its GC and heap untouched by
    this test process); the run must succeed."""
    import subprocess
    import sys
    from pathlib import Path

    run = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines()[-1]


def test_the_process_entry_runs_without_the_garbage_collector_and_freezes_the_heap():
    """The console script calls ``main()``: one command, then the process ends, so the GC
    is off for it and the heap frozen for the exit (atexit handlers still run)."""
    code = (
        "import atexit, gc\n"
        "from recommender.cli import main\n"
        "atexit.register(lambda: print(gc.isenabled(), gc.get_freeze_count() > 0))\n"
        "main(['--version'])\n"
    )
    assert _fresh_python(code) == "False True"


_GARBAGE_LEFT = """
import gc, sys
gc.disable()
from recommender.pipeline import observe, propose
propose(observe([sys.argv[1]]))
print(gc.collect())
"""


def test_with_the_gc_off_more_records_leave_no_more_garbage_cycles(tmp_path):
    """The process entry never collects cycles, so memory stays bounded only while reading
    and proposing make none per record: four copies of a Hubble file leave exactly the
    unreachable objects that one copy leaves (counted by one collection at the end)."""
    hubble = SAMPLE_FLOWS / "hubble-shop-worker.jsonl.gz"
    counts = []
    for copies in (1, 4):
        folder = tmp_path / f"copies-{copies}"
        folder.mkdir()
        for i in range(copies):
            shutil.copy(hubble, folder / f"node-{i}.jsonl.gz")
        counts.append(int(_fresh_python(_GARBAGE_LEFT, str(folder))))
    assert counts[0] > 0  # the count is real: a run does leave some cycles behind
    assert counts[1] == counts[0]


def test_recommend_refuses_to_write_when_a_connection_would_be_denied(tmp_path, monkeypatch):
    """The safety net: a generator bug (simulated by dropping one rule) must not ship."""
    import recommender.generate.k8s as k8s

    real = k8s.render_policy

    def lose_redis_rule(ir):
        obj = real(ir)
        if obj["metadata"]["name"] == "allow-redis":
            obj["spec"].pop("ingress", None)
        return obj

    monkeypatch.setattr(k8s, "render_policy", lose_redis_rule)
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
    from recommender.sim import kubectl_inventory, shop_cluster

    path = tmp_path_factory.mktemp("inv") / "inventory.json"
    path.write_text(json.dumps(kubectl_inventory(shop_cluster(seed=7, hours=6.0))))
    return path


def test_recommend_with_an_inventory_gives_the_same_policies(proposal, inventory, tmp_path):
    result = CliRunner().invoke(
        main, ["recommend", str(SAMPLE_FLOWS), "-o", str(tmp_path), "--inventory", str(inventory)]
    )
    assert result.exit_code == 0, result.output
    ours = sorted((tmp_path / "policies").rglob("*.yaml"))
    assert len(ours) == len(list((proposal / "policies").rglob("*.yaml"))) >= 14
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


def _policy_files(root) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*.yaml"))}


def test_standard_input_in_a_pipeline(tmp_path):
    """`hubble observe -o jsonpretty | netpol-recommender recommend - -o out`: a real pipe
    into a real process; the proposal is the one made from the file."""
    import gzip
    import subprocess
    import sys
    from pathlib import Path

    src = SAMPLE_FLOWS / "hubble-shop-worker.jsonl.gz"
    pretty = b"".join(
        json.dumps(json.loads(line), indent=2).encode() + b"\n"
        for line in gzip.decompress(src.read_bytes()).splitlines()
    )
    run = subprocess.run(
        [sys.executable, "-m", "recommender.cli", "recommend", "-", "-o", str(tmp_path / "a")],
        input=pretty,
        capture_output=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=300,
    )
    assert run.returncode == 0, run.stderr.decode()
    assert b"no such file" not in run.stderr
    ref = CliRunner().invoke(main, ["recommend", str(src), "-o", str(tmp_path / "b")])
    assert ref.exit_code == 0, ref.output
    got, want = _policy_files(tmp_path / "a/policies"), _policy_files(tmp_path / "b/policies")
    assert got == want and len(got) > 5


def test_standard_input_errors_are_one_line_exit_2(tmp_path):
    twice = CliRunner().invoke(main, ["recommend", "-", "-", "-o", str(tmp_path / "o")], input=b"")
    assert twice.exit_code == 2
    assert twice.output == "error: -: standard input can be given only once\n"
    parquet = tmp_path / "flows.parquet"
    ok = CliRunner().invoke(main, ["ingest", str(SAMPLE_FLOWS), "-o", str(parquet)])
    assert ok.exit_code == 0, ok.output
    piped = CliRunner().invoke(
        main, ["recommend", "-", "-o", str(tmp_path / "o")], input=parquet.read_bytes()
    )
    assert piped.exit_code == 2 and "Traceback" not in piped.output
    assert piped.output.splitlines() == [
        "error: <stdin>: Parquet cannot be read from standard input; save it to a file and "
        "pass its path"
    ]


def test_ingest_reads_standard_input(tmp_path):
    import pyarrow.parquet as pq

    lines = (REAL_FLOWS / "hubble" / "basic-sample-400-tcp-flows.first100.json").read_bytes()
    out = tmp_path / "flows.parquet"
    result = CliRunner().invoke(main, ["ingest", "-", "-o", str(out)], input=lines)
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.num_rows == 100
    assert set(table.column("source_file").to_pylist()) == {"<stdin>"}


def test_vpc_fields_read_headerless_custom_aws_vpc_records(tmp_path):
    """A flow log with a custom LogFormat exported without its header line (as a CloudWatch
    log group holds it): refused with one line naming --vpc-fields; with the option, ingest,
    recommend and verify read it as they read the same records under their header."""
    from recommender.sim import aws_vpc_lines, kubectl_inventory, shop_cluster

    cluster = shop_cluster(seed=7, hours=1.0)
    header, *records = aws_vpc_lines(cluster, seed=7, version=5)
    headed = tmp_path / "headed.log"
    headed.write_text("\n".join([header, *records]) + "\n")
    bare = tmp_path / "bare.log"
    bare.write_text("\n".join(records) + "\n")
    inv = []
    for name, at in (("start", cluster.start), ("end", cluster.end)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(kubectl_inventory(cluster, at=at)))
        inv += ["--inventory", str(path)]
    (tmp_path / "none").mkdir()
    commands = {
        "ingest": ["ingest", str(bare), "-o", str(tmp_path / "bare.parquet")],
        "recommend": ["recommend", str(bare), "-o", str(tmp_path / "bare"), *inv],
        "verify": ["verify", "--policies", str(tmp_path / "none"), str(bare)],
    }
    for args in commands.values():
        refused = CliRunner().invoke(main, args)
        assert refused.exit_code == 2, refused.output
        assert refused.output.count("\n") == 1 and "Traceback" not in refused.output
        assert refused.output.startswith(
            f"error: {bare}: AWS VPC flow log records in a custom format without a header line"
        )
        assert "pass --vpc-fields" in refused.output
    fields = ["--vpc-fields", header]
    aws_form = ["--vpc-fields", " ".join(f"${{{f}}}" for f in header.split())]
    ingest = CliRunner().invoke(main, [*commands["ingest"], *fields])
    assert ingest.exit_code == 0, ingest.output
    assert f"wrote {len(records) - 3} flow records" in ingest.output  # 3 ENIs' NODATA records
    ours = CliRunner().invoke(main, [*commands["recommend"], *aws_form])
    assert ours.exit_code == 0, ours.output
    ref = CliRunner().invoke(main, ["recommend", str(headed), "-o", str(tmp_path / "ref"), *inv])
    assert ref.exit_code == 0, ref.output
    got = _policy_files(tmp_path / "bare" / "policies")
    assert got == _policy_files(tmp_path / "ref" / "policies") and len(got) > 5
    policies = str(tmp_path / "bare" / "policies")
    verify = CliRunner().invoke(main, ["verify", "--policies", policies, str(bare), *inv, *fields])
    assert verify.exit_code == 0, verify.output
    bad = CliRunner().invoke(main, [*commands["ingest"], "--vpc-fields", "version srcport"])
    assert bad.exit_code == 2
    assert bad.output.count("\n") == 1
    assert bad.output.startswith(
        "error: --vpc-fields: not a VPC flow log format: 'version srcport'"
    )
    help_text = CliRunner().invoke(main, ["ingest", "--help"]).output
    assert "--vpc-fields" in help_text and "LogFormat" in help_text


def test_verify_json_is_the_library_runs_dict(proposal):
    """`verify --json` prints ``check(...).to_dict()``, nothing assembled in the CLI."""
    from recommender import check, load_policies, observe

    policies, notes = load_policies(proposal / "policies")
    run = check(policies, observe([SAMPLE_FLOWS]), notes=notes)
    result = _verify(proposal / "policies", "--json")
    assert result.exit_code == 0
    assert result.output == json.dumps(run.to_dict(), indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize("command", ["ingest", "recommend", "verify"])
def test_help_lists_every_input_format_and_the_inventory_command(command):
    from recommender.cli import INVENTORY_KUBECTL
    from recommender.ingest import FORMATS

    text = CliRunner().invoke(main, [command, "--help"]).output
    listed = re.findall(r"^    ([a-z0-9-]+): ", text, flags=re.M)
    assert sorted(listed) == sorted(FORMATS)
    assert f"    {INVENTORY_KUBECTL}\n" in text


def test_recommend_help_keeps_its_sentences_whole():
    """No line of the description starts mid-sentence with a number or a word's tail."""
    text = CliRunner().invoke(main, ["recommend", "--help"]).output.split("Options:")[0]
    lines = [line.strip() for line in text.splitlines()]
    assert not [line for line in lines if re.match(r"^(\d+\.|system|recommender)\b", line)]
    assert "exits 1." in text and "kube-system" in text
    assert (
        "Propose NetworkPolicies proven against the flows."
        in CliRunner().invoke(main, ["--help"]).output
    )


def test_the_inventory_hint_names_the_help_s_kubectl_command(tmp_path):
    """Addresses only (an IP-only format without --inventory): the hint names the same
    kubectl call as --help."""
    import pyarrow.parquet as pq
    from conftest import address, flow, flows_table

    from recommender.cli import INVENTORY_KUBECTL

    rows = [flow(address("10.1.0.5", kind="unknown"), address("10.1.0.6", "unknown"), 5432)]
    path = tmp_path / "flows.parquet"
    pq.write_table(flows_table(rows), path)
    result = CliRunner().invoke(main, ["recommend", str(path), "-o", str(tmp_path / "out")])
    hint = [line for line in result.output.splitlines() if line.startswith("hint:")]
    assert hint and f"--inventory ({INVENTORY_KUBECTL})" in hint[0]


def test_a_staged_proposal_verifies_as_the_networkpolicy_proposal_it_stages(proposal, tmp_path):
    staged = tmp_path / "staged"
    result = CliRunner().invoke(
        main,
        ["recommend", str(SAMPLE_FLOWS), "-o", str(staged), "--output-kind", "calico-staged"],
    )
    assert result.exit_code == 0, result.output
    first = yaml.safe_load(next((staged / "policies").rglob("*.yaml")).read_text())
    assert first["kind"] == "StagedKubernetesNetworkPolicy"
    as_staged = _verify(staged / "policies", "--json")
    as_enforced = _verify(proposal / "policies", "--json")
    assert as_staged.exit_code == as_enforced.exit_code == 0
    staged_run, enforced_run = json.loads(as_staged.stdout), json.loads(as_enforced.stdout)
    assert staged_run["policies"] == enforced_run["policies"] > 0
    for key in ("coverage", "covered", "judged"):
        assert staged_run[key] == enforced_run[key], key
    # At-risk figures and breadth alike; their examples name the policies, as the replay does.
    figures = {k: v for k, v in staged_run["at_risk"].items() if k != "examples"}
    assert figures == {k: v for k, v in enforced_run["at_risk"].items() if k != "examples"}
    assert staged_run["breadth"]["total"] == enforced_run["breadth"]["total"]
    # Everything else too, once the staged policies' names lose their prefix.
    assert json.loads(as_staged.stdout.replace("staged:", "")) == enforced_run
    assert "staged:" in as_staged.stdout


def test_recommend_help_names_the_output_kinds(tmp_path):
    result = CliRunner().invoke(main, ["recommend", "--help"])
    assert "--output-kind [networkpolicy|calico-staged|calico|cilium]" in result.output
    for option in ("--staged", "--baseline", "--external [fqdn|cidr]"):
        assert option in result.output
    bad = CliRunner().invoke(
        main, ["recommend", str(SAMPLE_FLOWS), "-o", str(tmp_path), "--output-kind", "istio"]
    )
    assert bad.exit_code == 2 and "Invalid value for '--output-kind'" in bad.output
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--output-kind", "cilium", "--staged"], "policy audit mode"),
        (["--staged"], "--output-kind calico-staged"),
        (["--output-kind", "calico", "--external", "fqdn"], "needs --output-kind cilium"),
    ],
)
def test_impossible_output_combinations_are_refused_before_reading(tmp_path, args, says):
    out = tmp_path / "out"
    bad = CliRunner().invoke(main, ["recommend", str(SAMPLE_FLOWS), "-o", str(out), *args])
    assert bad.exit_code == 2 and says in bad.output
    assert not out.exists()
