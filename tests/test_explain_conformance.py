"""``explain`` against the conformance truth tables: on every row of every table
(NetworkPolicy, Cilium, Calico, admin precedence) the verdict it gives is the table's, and
the rules its trace calls matching agree with those the evaluator says decided. A sample of
rows goes through the command line, with the policies in a directory and the pods in an
inventory file."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner
from explain_truth import Case, all_cases, inventory_document, pods_frame

from recommender.cli import main
from recommender.explain import explain_connection
from recommender.explain_endpoints import KnownPods
from recommender.explain_trace import SideTrace

CASES = all_cases()
WORD = {True: "ALLOWED", False: "DENIED"}


def test_every_suite_is_driven():
    suites = {c.suite for c in CASES}
    assert suites == {"upstream e2e", "cilium", "calico", "admin"}
    assert sum(len(c.expected) for c in CASES) > 8000


def _matched(side: SideTrace) -> set:
    return {r.ref for p in side.policies for r in p.rules if r.peer and r.port}


def _check_trace(side: SideTrace, network_policy_only: bool) -> None:
    """The trace's matching rules agree with the evaluator: every rule that decided
    matches; on the additive NetworkPolicy path the allowing rules are exactly the matching
    ones; a tier that decided by its default had no matching rule."""
    v = side.verdict
    decisive = {*v.allowed_by, *v.passed_by, *v.unjudged_by}
    if v.denied_by is not None:
        decisive.add(v.denied_by)
    matched = _matched(side)
    assert decisive <= matched, (decisive, matched)
    if network_policy_only:
        assert set(v.allowed_by) == matched
    if v.isolated and v.judged and v.tier is not None and not v.allowed_by and not v.denied_by:
        in_tier = {
            r.ref
            for p in side.policies
            if p.tier == v.tier.name
            for r in p.rules
            if r.peer and r.port
        }
        assert not in_tier, in_tier


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_explain_gives_the_tables_verdict_on_every_row(case: Case):
    evaluator = case.evaluator()
    known = KnownPods(pods_frame(case.pods))
    port = f"{case.port}/{case.protocol}"
    wrong = {}
    for (src, dst), want in case.expected.items():
        explanation = explain_connection(evaluator, known, src, dst, port)
        if explanation.verdict != WORD[want]:
            wrong[(src, dst)] = explanation.verdict
        (group,) = explanation.groups
        if not wrong and (src, dst) == next(iter(case.expected)):
            json.dumps(explanation.to_dict(), allow_nan=False)  # strict JSON: no Infinity
        _check_trace(group.egress, evaluator.network_policy_only)
        _check_trace(group.ingress, evaluator.network_policy_only)
    assert wrong == {}, case.id


def _sample() -> list[tuple[Case, str, str, bool]]:
    """Per suite, the first CLI-reproducible scenario with both verdicts, and one allowed
    and one denied row of it; plus the named-port scenarios' rows."""
    chosen = []
    for suite in ("upstream e2e", "cilium", "calico", "admin"):
        for case in (c for c in CASES if c.suite == suite and c.cli_reproducible):
            rows = {want: (s, d) for (s, d), want in case.expected.items()}
            if len(rows) == 2:
                chosen += [(case, *rows[True], True), (case, *rows[False], False)]
                break
    named = [c for c in CASES if "named port" in c.name and c.cli_reproducible][:2]
    for case in named:
        rows = {want: (s, d) for (s, d), want in case.expected.items()}
        chosen += [(case, *pair, want) for want, pair in sorted(rows.items())]
    return chosen


SAMPLE = _sample()


def test_the_cli_sample_covers_every_suite_and_both_verdicts():
    assert {c.suite for c, *_ in SAMPLE} == {"upstream e2e", "cilium", "calico", "admin"}
    assert {want for *_, want in SAMPLE} == {True, False}


@pytest.mark.parametrize(
    "case,src,dst,want", SAMPLE, ids=[f"{c.id}: {s} -> {d}" for c, s, d, _ in SAMPLE]
)
def test_the_cli_gives_the_tables_verdict(tmp_path, case: Case, src, dst, want):
    policies = tmp_path / "policies"
    policies.mkdir()
    for i, obj in enumerate(case.policies):
        (policies / f"{i:02d}.yaml").write_text(yaml.safe_dump(dict(obj)), encoding="utf-8")
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps(inventory_document(case.pods)), encoding="utf-8")
    args = ["explain", src, dst, f"{case.port}/{case.protocol.lower()}"]
    args += ["--policies", str(policies), "--inventory", str(inventory)]
    text = CliRunner().invoke(main, args)
    assert text.exit_code == (0 if want else 1), text.output
    assert text.output.startswith(f"{WORD[want]}: {src} -> {dst} on {case.port}/")
    as_json = CliRunner().invoke(main, [*args, "--json"])
    assert as_json.exit_code == text.exit_code
    assert json.loads(as_json.output)["verdict"] == WORD[want]
