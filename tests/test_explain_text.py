"""The lines ``explain`` prints: verdict first, a header per group of pod pairs, each side
with its selecting policies and rules, what decided; safe for a terminal."""

from __future__ import annotations

from conformance.truth import cluster
from explain_truth import pods_frame

from recommender.explain import explain_connection
from recommender.explain_endpoints import KnownPods
from recommender.explain_text import explanation_lines
from recommender.netpol.evaluator import Evaluator

CALICO = "projectcalico.org/v3"


def _known() -> KnownPods:
    frame = pods_frame(cluster().values())
    frame.loc[frame["namespace"] == "x", "workload_name"] = "client"
    return KnownPods(frame)


def _gnp(spec: dict) -> dict:
    return {"apiVersion": CALICO, "kind": "GlobalNetworkPolicy", "metadata": {"name": "g"},
            "spec": spec}  # fmt: skip


def _allow_from(selector: str) -> dict:
    rule = {"action": "Allow", "source": {"selector": selector}}
    return _gnp({"selector": "all()", "ingress": [rule]})


def test_one_pair_reads_top_down_with_the_deciding_rule_marked():
    deny_b = _gnp(
        {
            "selector": "pod == 'a'",
            "ingress": [
                {"action": "Deny", "source": {"selector": "pod == 'b'"}},
                {"action": "Allow"},
            ],
        }
    )
    lines = explanation_lines(explain_connection(Evaluator([deny_b]), _known(), "x/b", "y/a", "80"))
    assert lines[:4] == [
        "DENIED: x/b -> y/a on 80/TCP",
        "source x/b: pod",
        "destination y/a: pod",
        "",
    ]
    assert lines[4] == "x/b -> y/a on 80/TCP: DENIED"
    assert "  egress at the source: ALLOWED: allowed: not isolated" in lines[5]
    text = "\n".join(lines)
    # Calico's order is missing: the policy sorts last in its tier, printed "none"
    assert "GlobalNetworkPolicy.projectcalico.org g (tier networkpolicy, order 1000000, " in text
    assert "priority none) selects pod=a in every namespace" in text
    assert (
        "      ingress[0] deny from pod=b in every namespace on every port: DENIES (decides)"
        in (lines)
    )
    assert "      ingress[1] from anyone on every port: matches, not reached" in lines
    assert lines[-1] == "  decided: ingress at the destination denies"


def test_a_group_lists_its_pods_and_says_when_reasons_are_worded_for_one_pair():
    allow_a = _allow_from("pod == 'a'")
    lines = explanation_lines(
        explain_connection(Evaluator([allow_a]), _known(), "x/client", "z/c", "80")
    )
    assert lines[3] == "3 pod pairs: 2 denied, 1 allowed"
    assert "2 pod pairs on 80/TCP, one explanation: DENIED" in lines
    assert "  from: x/b, x/c" in lines and "  to:   z/c" in lines
    assert "  (reasons worded for x/b -> z/c; the others differ in words only)" in lines
    assert "x/a -> z/c on 80/TCP: ALLOWED" in lines


def test_untrusted_text_is_escaped_for_the_terminal():
    frame = pods_frame(cluster().values())
    frame.at[0, "labels"] = {"pod": "a\x1b[2J"}
    allow = _allow_from("pod == 'b'")
    result = explain_connection(Evaluator([allow]), KnownPods(frame), "x/a", "y/a", "80")
    text = "\n".join(explanation_lines(result))
    assert "\x1b" not in text and "a\\x1b[2J" in text
