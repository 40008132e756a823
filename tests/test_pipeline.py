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
