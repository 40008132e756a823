import pytest
from conftest import address, flow, flows_table, pod

from recommender.accounting import RecordCounts
from recommender.pipeline import recommend_from_flows

WEB = pod("shop", "web-7d4b9c8f6-bcdfg", {"app": "web"}, "10.0.0.1")
API = pod("shop", "api-7d4b9c8f6-zzzzz", {"app": "api"}, "10.0.0.3")


@pytest.fixture
def rec():
    rows = [flow(WEB, API, 8080), flow(address("93.184.216.34"), WEB, 443, sport=50000)]
    return recommend_from_flows(flows_table(rows), RecordCounts())


def test_explain_names_the_rules_on_both_sides(rec):
    lines = rec.explain("shop/web", "shop/api", "TCP", 8080)
    assert lines[0] == "ALLOWED web-7d4b9c8f6-bcdfg -> api-7d4b9c8f6-zzzzz 8080/TCP"
    assert "allowed by shop/allow-web egress[0]" in lines[1]
    assert "allowed by shop/allow-api ingress[0]" in lines[2]


def test_explain_a_denial_names_the_isolating_policies(rec):
    lines = rec.explain("shop/api", "shop/web", "TCP", 443)
    assert lines[0].startswith("DENIED")
    assert "isolated by shop/allow-api, shop/default-deny, no rule matches" in lines[1]


def test_explain_external_source_and_unknown_names(rec):
    lines = rec.explain("93.184.216.34", "shop/web", "TCP", 443)
    assert lines[0].startswith("ALLOWED") and "not a pod" in lines[1]
    with pytest.raises(ValueError, match="shop/nope"):
        rec.explain("shop/nope", "shop/web", "TCP", 443)


def test_recommend_and_verify_aggregate_in_workers_like_one_process(monkeypatch):
    """Without an inventory, recommend and verify aggregate in the parsing processes: the
    same result as streaming every batch into one aggregator here."""
    from pathlib import Path

    import pandas as pd

    from recommender.ingest import iter_flow_batches, plan
    from recommender.pipeline import recommend, verify_policies

    samples = Path(__file__).resolve().parents[1] / "sample_flows"
    monkeypatch.setattr(plan, "available_cpus", lambda: 2)
    monkeypatch.setattr(plan, "AUTO_MIN_BYTES", 0)  # workers=2 for these small files
    got = recommend([samples])
    counts = RecordCounts()
    want = recommend_from_flows(
        iter_flow_batches([samples], counts=counts, workers=1), counts, inputs=[str(samples)]
    )
    assert got.counts == want.counts and got.excluded == want.excluded
    pd.testing.assert_frame_equal(got.connections, want.connections)
    pd.testing.assert_frame_equal(got.pods, want.pods)
    assert got.policies == want.policies and got.coverage == want.coverage
    run = verify_policies(want.policies, [samples])
    assert run.counts == want.counts and run.excluded == want.excluded
    assert (run.covered, run.judged) == (want.covered, want.judged)


# --------------------------------------------------------------------------------------------
# The public API: three stages re-exported from ``recommender``
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def observed():
    from conftest import SAMPLE_FLOWS

    import recommender

    return recommender.observe([SAMPLE_FLOWS])


def test_every_exported_name_resolves_and_others_do_not():
    import recommender

    for name in recommender.__all__:
        assert getattr(recommender, name) is not None
    assert set(dir(recommender)) == set(recommender.__all__)
    with pytest.raises(AttributeError, match="no_such_stage"):
        recommender.no_such_stage  # noqa: B018


def test_stages_chain_to_what_recommend_returns(observed):
    import pandas as pd
    from conftest import SAMPLE_FLOWS

    import recommender

    rec = recommender.propose(observed)
    whole = recommender.recommend([SAMPLE_FLOWS])
    assert rec.policies == whole.policies and rec.to_dict() == whole.to_dict()
    pd.testing.assert_frame_equal(rec.replayed, whole.replayed)
    assert rec.coverage == 1.0 and rec.counts.read == observed.counts.read > 0


def test_observation_views_are_dataframes_and_its_dict_accounts_for_every_record(observed):
    import pandas as pd

    assert isinstance(observed.connections, pd.DataFrame) and len(observed.connections)
    assert isinstance(observed.workload_connections, pd.DataFrame)
    assert observed.connections is observed.connection_set.table
    doc = observed.to_dict()
    assert doc["records"] == observed.counts.to_dict()
    assert doc["connections"] == len(observed.connections) and doc["pods"] == len(observed.pods)
    assert doc["enrichment"] is None and observed.node_addresses is None
    # sample_flows name every endpoint: nothing for --inventory to resolve
    assert observed.unresolved_connections == 0


def test_recommendation_views(observed):
    import recommender

    rec = recommender.propose(observed)
    per_policy = rec.breadth_per_policy
    assert list(per_policy.columns) == ["policy", "unobserved"]
    assert per_policy["unobserved"].sum() == sum(rec.breadth.per_policy.values())
    assert per_policy["unobserved"].is_monotonic_decreasing
    public = rec.external[rec.external["kind"] == "public"]
    assert rec.public_rules == len(public.drop_duplicates(["workload", "direction", "port"]))
    assert rec.public_rules == 1  # the ingress controller's internet-facing 443
    assert rec.denied.empty and rec.enrichment is None


def test_recommendation_to_dict_is_the_written_report(observed, tmp_path):
    import json

    import recommender

    rec = recommender.propose(observed)
    report = recommender.write_proposal(rec, tmp_path)
    assert rec.to_dict() == report
    assert json.loads((tmp_path / "report.json").read_text()) == json.loads(json.dumps(report))


def test_check_replays_existing_policies_against_the_same_observation(observed):
    import recommender

    rec = recommender.propose(observed)
    run = recommender.check(rec.policies, observed)
    assert run.passed and (run.covered, run.judged) == (rec.covered, rec.judged)
    broken = recommender.check(
        [p for p in rec.policies if p["metadata"]["name"] != "allow-redis"], observed
    )
    assert not broken.passed and len(broken.denied)
    assert broken.to_dict()["covered"] == broken.covered


def test_stage_times_name_the_stages_the_cli_runs(observed):
    import recommender

    times = recommender.StageTimes()
    rec = recommender.propose(observed, times=times)
    assert list(times) == ["selectors", "generate", "replay", "at risk", "breadth"]
    assert all(seconds >= 0 for seconds in times.values())
    check_times = recommender.StageTimes()
    recommender.check(rec.policies, observed, times=check_times)
    assert list(check_times) == ["replay", "at risk", "breadth"]


def test_observe_flows_with_an_inventory_keeps_what_it_resolved():
    from recommender.ingest.inventory import read_inventory
    from recommender.pipeline import observe_flows

    inv = read_inventory([])
    rows = [flow(WEB, API, 8080)]
    obs = observe_flows(flows_table(rows), inventory=inv, inputs=["memory"])
    assert obs.inputs == ["memory"] and obs.to_dict()["enrichment"] is not None
    assert obs.counts.read == 0  # counts are the caller's: none were given


def test_normalize_writes_what_observe_reads_and_accounts_for_every_record(observed, tmp_path):
    """``normalize`` (the ``ingest`` command) writes the logs as one Parquet table: reading
    that table back gives the same observation as reading the raw logs."""
    from conftest import SAMPLE_FLOWS

    import recommender

    out = tmp_path / "flows.parquet"
    run = recommender.normalize([SAMPLE_FLOWS], out)
    assert out.is_file() and run.output == str(out) and run.enrichment is None
    assert run.rows == run.counts.normalized == observed.counts.normalized
    assert run.counts.read == run.counts.normalized + run.counts.rejected_total + (
        run.counts.filtered_total
    )
    assert run.to_dict()["records"] == observed.counts.to_dict()
    again = recommender.observe([out])
    assert again.counts.read == run.rows
    assert again.to_dict()["connections"] == observed.to_dict()["connections"]
    assert recommender.propose(again).policies == recommender.propose(observed).policies
