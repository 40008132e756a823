"""The verify report: headline, text lines, JSON and exemptions."""

import json

from recommender.netpol.networkpolicy import compile_policies
from recommender.pipeline import verify_policies
from recommender.validate import printable
from recommender.verify_report import headline_lines, report_json, report_lines
from recommender.verify_report.denials import denied_groups
from recommender.verify_report.exemptions import exemptions, node_source_exemptions
from recommender.verify_report.findings import unbounded_rules

from .policies import policy, without


def test_printable_escapes_every_control_character():
    hostile = "a\nb\r\x1b[31mc\x07\u202ed\u2028e"
    out = printable(hostile)
    assert out == "a\\x0ab\\x0d\\x1b[31mc\\x07\\u202ed\\u2028e"
    assert out.isprintable()
    assert printable("data/redis é") == "data/redis é"


def test_node_sources_exempted_are_counted(shop):
    flows, policies = shop
    run = verify_policies(policies, [flows])
    rows = run.replayed[
        run.replayed["exempt"] & run.replayed["reasons"].str.startswith("node source")
    ]
    node = node_source_exemptions(run)
    assert node.connections == len(rows) > 0
    assert node.flows == int(rows["flows"].sum())
    assert sum(e.connections for e in exemptions(run).values()) == int(run.replayed["exempt"].sum())
    summary = report_lines(run)[-1]
    assert summary.startswith("coverage 100.00%")
    assert f"exempted {node.connections} connections from node/kubelet sources" in summary


def test_no_policies_say_so_and_deny_nothing(shop):
    flows, _ = shop
    run = verify_policies([], [flows])
    assert headline_lines(run) == [
        "0 policies: nothing is isolated, every observed connection is allowed"
    ]
    assert denied_groups(run) == []
    doc = report_json(run)
    assert doc["policies"] == 0 and doc["groups"] == [] and doc["not_isolated"] == []


def test_json_keeps_the_old_keys_and_adds_the_report(shop):
    flows, policies = shop
    run = verify_policies(without(policies, "allow-redis"), [flows])
    doc = json.loads(json.dumps(report_json(run)))
    for key in ("coverage", "covered", "judged", "breadth", "records", "notes", "connections"):
        assert key in doc
    assert doc["groups"] and all(g["why"] for g in doc["groups"])
    assert {(g["destination"], g["port"]) for g in doc["groups"]} == {
        (c["dst"], c["port"]) for c in doc["connections"] if not c["allowed"]
    }
    assert doc["exempt"]["node_sources"]["connections"] == node_source_exemptions(run).connections
    assert [u["kind"] for u in doc["unbounded"]] == [
        f.kind for f in unbounded_rules(compile_policies(run.policies))
    ]
    assert doc["warnings"] == []


def test_hostile_names_never_reach_the_terminal_raw(shop):
    flows, policies = shop
    evil = "deny\n\x1b]0;owned\x07"
    hostile = policy(
        "data",
        evil,
        {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "redis"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "x\u202e"}}}]}],
        },
    )
    run = verify_policies([*without(policies, "allow-redis"), hostile], [flows])
    lines = report_lines(run)
    assert all(line.isprintable() for line in lines)
    assert any("data/deny\\x0a\\x1b]0;owned\\x07" in line for line in lines)
    assert any("app=x\\u202e" in line for line in lines)


def test_unjudged_traffic_is_counted_apart_and_named(shop):
    """An unjudged rule (here the shop's cart ingress made an L7 rule of a Cilium policy):
    its connections are neither allowed nor denied, coverage is below 100% and says why,
    and the policy's warning names the rule."""
    from dataclasses import replace

    flows, policies = shop
    compiled = compile_policies(policies)
    cart = next(p for p in compiled if p.key == "shop/allow-cart")
    l7 = replace(
        cart,
        kind="CiliumNetworkPolicy",
        rules=tuple(replace(r, unjudged="L7 HTTP rules") for r in cart.rules),
    )
    run = verify_policies([l7 if p is cart else p for p in compiled], [flows])
    unknown = run.unjudged
    assert len(unknown) > 0 and not unknown["allowed"].any()
    assert len(run.denied) == 0 and run.covered == run.judged - len(unknown)
    lines = report_lines(run)
    head = next(i for i, line in enumerate(lines) if line.startswith("unjudged: "))
    assert lines[head].startswith(f"unjudged: {len(unknown)} connection")
    assert lines[head + 1].startswith("  by CiliumNetworkPolicy shop/allow-cart ingress[")
    assert ": L7 HTTP rules: " in lines[head + 1]
    assert "coverage 100.00%" not in lines[-1] and "unjudged " in lines[-1]
    assert "breadth not measured (CiliumNetworkPolicy shop/allow-cart: ingress[" in lines[-1]
    assert any("shop/allow-cart ingress[0]: not judged: L7 HTTP rules" in line for line in lines)
    doc = report_json(run)
    assert sum(g["connections"] for g in doc["unjudged"]) == len(unknown)


def test_a_deny_tier_policy_denies_and_is_named(shop):
    """A Cilium deny rule on the cart's ingress (its own policy in the deny tier) wins over
    the proposal's allow: the cart's observed ingress is denied, explained by that rule."""
    from dataclasses import replace

    from recommender.netpol.model import CILIUM_DENY_TIER, Action, Rule

    flows, policies = shop
    compiled = compile_policies(policies)
    cart = next(p for p in compiled if p.key == "shop/allow-cart")
    deny = replace(
        cart,
        kind="CiliumNetworkPolicy",
        tier=CILIUM_DENY_TIER,
        isolates=("ingress",),
        rules=(Rule("ingress", 0, None, None, Action.DENY),),
    )
    run = verify_policies([*compiled, deny], [flows])
    denied = run.denied
    assert len(denied) > 0 and run.covered < run.judged
    assert all(
        "denied by CiliumNetworkPolicy shop/allow-cart ingressDeny[0]" in r
        for r in denied["reasons"]
    )
    groups = denied_groups(run)
    assert groups and all(
        "CiliumNetworkPolicy shop/allow-cart" in d.isolated_by for g in groups for d in g.denials
    )
