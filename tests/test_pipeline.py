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

    from recommender.ingest import iter_flow_batches, parallel
    from recommender.pipeline import recommend, verify_policies

    samples = Path(__file__).resolve().parents[1] / "sample_flows"
    monkeypatch.setattr(parallel, "available_cpus", lambda: 2)
    monkeypatch.setattr(parallel, "AUTO_MIN_BYTES", 0)  # workers=2 for these small files
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
