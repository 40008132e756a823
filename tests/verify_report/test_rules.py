"""What each rule carried: counts against a brute force over the replayed reasons."""

from collections import Counter

from recommender.netpol.evaluator import Evaluator
from recommender.pipeline import verify_policies
from recommender.verify_report import report_json, report_lines
from recommender.verify_report.findings import unbounded_rules
from recommender.verify_report.rules import rule_uses

from .policies import judged_policies


def brute_force(replayed):
    """(connections, flows) per rule text, read off each allowed connection's reasons."""
    conns, flows = Counter(), Counter()
    for row in replayed[~replayed["exempt"] & replayed["allowed"]].itertuples(index=False):
        for reason in row.reasons.split("; "):
            head, sep, cited = reason.partition(": allowed by ")
            for ref in cited.split(", ") if sep else []:
                conns[ref] += 1
                flows[ref] += int(row.flows)
    return conns, flows


def test_every_rule_counts_what_it_carried(shop):
    flows, policies = shop
    run = verify_policies(judged_policies(policies), [flows])
    doc = report_json(run)
    conns, flow_counts = brute_force(run.replayed)
    rules = doc["rules"]
    assert len(rules) == sum(
        len(p["spec"].get(d, [])) for p in judged_policies(policies) for d in ("ingress", "egress")
    )
    for r in rules:
        ref = f"{r['policy']} {r['direction']}[{r['rule']}]"
        assert (r["connections"], r["flows"]) == (conns[ref], flow_counts[ref]), ref
        assert r["unused"] == (conns[ref] == 0)
    by_ref = {(r["policy"], r["direction"], r["rule"]): r for r in rules}
    unused = by_ref[("shop/allow-cart", "ingress", 2)]
    assert unused["connections"] == 0 and unused["unused"] and unused["unbounded"] == []
    broad = by_ref[("shop/allow-payments", "ingress", 2)]
    assert broad["unbounded"] == ["every_namespace"]
    assert broad["connections"] > 0
    assert broad["policy_breadth"] == run.breadth.per_policy["shop/allow-payments"] > 0
    # the broad rule carries its policy's in-cluster breadth; the narrow ones add nothing
    assert broad["breadth"] == run.breadth.per_rule["shop/allow-payments ingress[2]"] > 0
    assert by_ref[("shop/allow-payments", "ingress", 0)]["breadth"] == 0
    assert broad["breadth"] <= broad["policy_breadth"]
    assert {f"{r['policy']} {r['direction']}[{r['rule']}]" for r in rules if r["breadth"]} == set(
        run.breadth.per_rule
    )
    assert [k for k, r in by_ref.items() if r["unused"]] == [("shop/allow-cart", "ingress", 2)]


def test_a_connection_counts_for_every_rule_that_admits_it(shop):
    flows, policies = shop
    run = verify_policies(judged_policies(policies), [flows])
    uses = {(u.policy, u.ref.direction, u.ref.index): u for u in rule_uses_of(run)}
    narrow = uses[("shop/allow-payments", "ingress", 0)]
    broad = uses[("shop/allow-payments", "ingress", 2)]
    assert broad.connections >= narrow.connections > 0


def rule_uses_of(run):
    """The rules of ``run`` with what they carried, as the report computes them."""
    compiled = Evaluator(run.policies).policies
    return rule_uses(run, compiled, unbounded_rules(compiled))


def test_text_lists_each_policy_and_the_unused_rules(shop):
    flows, policies = shop
    run = verify_policies(judged_policies(policies), [flows])
    lines = report_lines(run)
    start = lines.index(
        "Rules (observed connections/flows each carries, +what it allows beyond them; "
        "policy breadth):"
    )
    cart = next(x for x in lines[start:] if x.startswith("  shop/allow-cart (breadth "))
    assert "ingress[2] unused" in cart
    payments = next(x for x in lines[start:] if x.startswith("  shop/allow-payments (breadth "))
    assert "ingress[2] " in payments and "unbounded (every_namespace)" in payments
    broad = run.breadth.per_rule["shop/allow-payments ingress[2]"]
    assert f"+{broad} unobserved unbounded (every_namespace)" in payments
    assert "ingress[0] 0 conns" not in payments and "+0 unobserved" in payments
    unused = next(x for x in lines if x.startswith("Unused rules: "))
    assert unused == (
        "Unused rules: 1 rule carried no observed connection: shop/allow-cart ingress[2]"
    )
    assert lines[-1].startswith("coverage 100.00%")


def test_a_cilium_policys_deny_rules_are_listed_apart_from_its_allow_rules():
    from recommender.netpol.cilium import compile_object
    from recommender.netpol.evaluator import RuleRef
    from recommender.verify_report.rules import RuleUse, rule_lines

    obj = {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "p", "namespace": "x"},
        "spec": {
            "endpointSelector": {},
            "ingress": [{"fromEntities": ["cluster"]}],
            "ingressDeny": [{"fromEntities": ["world"]}],
        },
    }
    uses = [
        RuleUse(p.label, RuleRef.of(p, r), 0, 0, (), 0, action=str(r.action))
        for p in compile_object(obj)
        for r in p.rules
    ]
    assert [u.to_dict().get("section") for u in uses] == [None, "ingressDeny"]
    assert [u.to_dict().get("action") for u in uses] == [None, "deny"]
    lines = rule_lines(uses)
    assert lines[1].endswith(
        "ingress[0] unused +0 unobserved, ingressDeny[0] deny rule (carries no allowed connection)"
    )
    # a deny rule carries no allowed connection by design: never listed as unused
    assert lines[2].startswith("Unused rules: 1 rule carried no observed connection: ")
    assert lines[2].endswith("CiliumNetworkPolicy x/p ingress[0]")
