"""SUMMARY.md as a pull-request body: a first screen that does not grow with the cluster,
at-risk traffic first, the changes, per-file diffs and the allowed-edge graphs collapsed."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import SAMPLE_FLOWS, flow, flows_table, pod

from recommender.cli import main
from recommender.ingest.parquet import write_parquet
from recommender.pipeline import recommend
from recommender.report import build_report, iso
from recommender.sim import large_app, write_hubble
from recommender.summary import render_summary, whole_seconds

#: The first screen's budget: what a reviewer sees before opening anything.
FIRST_SCREEN_LINES = 40

WEB = pod("shop", "web-6b7c8d9f5-xwzrt", {"app": "web"}, "10.0.0.5")
API = pod("shop", "api-7d4b9c8f6-bcdfg", {"app": "api"}, "10.0.0.6")
DB = pod("shop", "db-0", {"app": "db"}, "10.0.0.7")


def first_screen(summary: str) -> list[str]:
    return summary.split("<details>")[0].splitlines()


def _summary_of(tmp_path, name: str, namespaces: int, workloads: int) -> tuple[str, int]:
    cluster = large_app(7, hours=1.0, namespaces=namespaces, workloads_per_ns=workloads)
    write_hubble(cluster, tmp_path / name, seed=7)
    rec = recommend([tmp_path / name])
    return render_summary(rec, build_report(rec)), len(rec.workloads)


def test_the_first_screen_does_not_grow_with_the_cluster(tmp_path):
    small, small_n = _summary_of(tmp_path, "small", 2, 4)
    large, large_n = _summary_of(tmp_path, "large", 10, 12)
    assert large_n > 5 * small_n
    assert len(large) > 2 * len(small)
    assert len(first_screen(large)) == len(first_screen(small)) <= FIRST_SCREEN_LINES
    screen = "\n".join(first_screen(large))
    assert "Before: no policies (everything allowed)" in screen
    assert "| changes | policies |" in screen and "| coverage (observed" in screen
    # everything after the first screen is collapsed, and every open is closed
    assert large.count("<details>") == large.count("</details>")
    assert large.count("```mermaid") >= 10


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("sample")
    result = CliRunner().invoke(main, ["recommend", str(SAMPLE_FLOWS), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return (out / "SUMMARY.md").read_text()


def test_at_risk_comes_first_and_never_all_pass(sample):
    screen = "\n".join(first_screen(sample))
    assert screen.index("## At risk") < screen.index("| changes |") < screen.index("| measure |")
    assert "will be denied" in screen
    assert "All observed connections pass" not in sample
    # the examples are there, collapsed
    examples = sample.index("<details><summary>At-risk examples</summary>")
    assert sample.index("| source | destination | port | records | seen in | why |") > examples


def test_every_new_file_is_shown_whole_and_every_namespace_graphed(sample):
    files = sorted(re.findall(r"<summary>(policies/[^<]+\.yaml)</summary>", sample))
    assert "policies/shop/allow-frontend.yaml" in files and len(files) == 14
    block = sample.split("<summary>policies/shop/allow-frontend.yaml</summary>")[1]
    assert block.lstrip().startswith("```yaml\napiVersion: networking.k8s.io/v1")
    graph = sample.split("<summary>Allowed workload edges into shop</summary>")[1]
    graph = graph.split("</details>")[0]
    assert "flowchart LR" in graph
    assert '["shop/frontend"]' in graph and '-->|"8080/TCP"|' in graph
    assert all(
        re.fullmatch(r"n\d+", line.split("[")[0].strip())
        for line in graph.splitlines()
        if '["' in line
    )


def _flows(tmp_path, name, rows):
    path = tmp_path / f"{name}.parquet"
    write_parquet(flows_table(rows), path)
    return path


def _run(tmp_path, out, flows, *existing) -> tuple[str, dict]:
    args = ["recommend", str(flows), "-o", str(out)]
    for e in existing:
        args += ["--existing", str(e)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return (out / "SUMMARY.md").read_text(), json.loads((out / "report.json").read_text())


def test_against_existing_policies_changes_are_counted_and_diffed(tmp_path):
    first = tmp_path / "first"
    _run(tmp_path, first, _flows(tmp_path, "a", [flow(WEB, API, 8080), flow(API, DB, 5432)]))
    rows = [flow(WEB, API, 8080), flow(API, DB, 5432), flow(WEB, DB, 5432, sport=40003)]
    summary, report = _run(
        tmp_path, tmp_path / "second", _flows(tmp_path, "b", rows), first / "policies"
    )
    changed = report["existing"]["changed"]
    assert changed and report["existing"]["new"] == []
    screen = "\n".join(first_screen(summary))
    existing = report["existing"]["policies"]
    assert f"| changed (managed by this tool) | {len(changed)} |" in screen
    assert f"| unchanged (existing, not touched) | {existing - len(changed)} |" in screen
    assert "| coverage |" in screen and "Before: no policies" not in screen
    ns, name = changed[0].split("/")
    diff = summary.split(f"<summary>policies/{ns}/{name}.yaml</summary>")[1].split("</details>")[0]
    assert f"```diff\n--- a/policies/{ns}/{name}.yaml\n+++ b/policies/{ns}/{name}.yaml" in diff
    added = [x for x in diff.splitlines() if x.startswith("+") and not x.startswith("+++")]
    assert added and not any(
        x.startswith("-") and not x.startswith("---") for x in diff.splitlines()
    )


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-01T10:00:05.123456789Z",
        "2026-03-01T10:00:05.5+05:30",
        "2026-03-01T10:00:05Z",
        "1969-12-31T23:59:59.999",
    ],
)
def test_whole_seconds_is_iso_of_the_time_floored_to_the_second(text):
    ts = pd.Timestamp(text)
    assert whole_seconds(iso(ts)) == iso(ts.floor("s"))
