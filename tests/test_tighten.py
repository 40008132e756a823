"""Tighter replacements for existing policies: proven against every observed connection."""

import json

import pytest
import yaml
from verify_report.policies import judged_policies

from recommender.pipeline import check, observe, recommend
from recommender.sim import shop_cluster, write_hubble
from recommender.tighten import tighten, write_tightening


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    """The shop's observation, its proposal with an unused and a broad rule, their replay and
    the tightening."""
    flows = tmp_path_factory.mktemp("flows")
    write_hubble(shop_cluster(seed=3, hours=1.0), flows)
    obs = observe([flows])
    policies = judged_policies(recommend([flows]).policies)
    run = check(policies, obs)
    return obs, policies, run, tighten(run, obs)


def _by_policy(result):
    return {t.policy: t for t in result.proposals}


def test_unused_rules_are_dropped_and_broad_ones_narrowed(judged):
    _, _, _, result = judged
    by = _by_policy(result)
    cart, payments = by["shop/allow-cart"], by["shop/allow-payments"]
    assert cart.dropped == ["ingress[2]"] and cart.narrowed == []
    assert all(
        p.get("port") != 9999
        for rule in cart.replacement["spec"]["ingress"]
        for p in rule.get("ports", [])
    )
    assert payments.dropped == [] and payments.narrowed == ["ingress[2]"]
    narrowed = payments.replacement["spec"]["ingress"][2]
    assert narrowed["from"] and all(p["namespaceSelector"]["matchLabels"] for p in narrowed["from"])
    assert narrowed["ports"]  # the observed ports, the rule had none
    assert payments.replacement["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_replacements_deny_no_observed_connection(judged):
    obs, policies, run, result = judged
    by = {t.policy: t.replacement for t in result.proposals}
    replaced = [
        by.get(f"{p['metadata']['namespace']}/{p['metadata']['name']}", p) for p in policies
    ]
    assert replaced != policies
    after = check(replaced, obs)
    before = run.replayed
    was = ~before["exempt"] & before["allowed"]
    assert was.sum() > 0
    assert after.replayed["allowed"][was].all()
    assert result.broken == 0 and result.withdrawn == []
    assert result.at_risk_after == result.at_risk_before == run.at_risk_records
    assert result.allowed_before == result.allowed_after == int(was.sum())


def test_breadth_shrinks_and_every_kept_rule_still_carries_traffic(judged):
    _, _, _, result = judged
    payments = _by_policy(result)["shop/allow-payments"]
    assert payments.breadth_after < payments.breadth_before
    assert payments.carries and all(c["connections"] > 0 for c in payments.carries)


def test_each_replacement_rule_states_its_own_breadth(judged):
    obs, policies, run, result = judged
    payments = _by_policy(result)["shop/allow-payments"]
    # before: the broad rule carried breadth; after (every replacement in place of its
    # policy): each rule states what the check of that set measures for it
    assert run.breadth.per_rule["shop/allow-payments ingress[2]"] > 0
    by = {t.policy: t.replacement for t in result.proposals}
    after = check(
        [by.get(f"{p['metadata']['namespace']}/{p['metadata']['name']}", p) for p in policies],
        obs,
    )
    for c in payments.carries:
        ref = f"shop/allow-payments {c['direction']}[{c['rule']}]"
        assert c["breadth"] == after.breadth.per_rule.get(ref, 0)
        assert c["breadth"] <= payments.breadth_after
    narrowed = next(c for c in payments.carries if (c["direction"], c["rule"]) == ("ingress", 2))
    assert narrowed["breadth"] < run.breadth.per_rule["shop/allow-payments ingress[2]"]


def test_written_files_are_the_replacements_and_the_proof(judged, tmp_path):
    _, _, _, result = judged
    stale = tmp_path / "tighten" / "shop" / "gone.yaml"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    paths = write_tightening(result, tmp_path)
    assert not stale.exists()
    for t in result.proposals:
        assert yaml.safe_load((tmp_path / t.path).read_text()) == t.replacement
    proof = json.loads((tmp_path / "tighten" / "proof.json").read_text())
    assert proof["proof"]["broken"] == 0
    assert {p["policy"] for p in proof["proposals"]} == set(_by_policy(result))
    assert len(paths) == len(result.proposals) + 1
