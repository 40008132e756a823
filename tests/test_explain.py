"""Explanations of one connection: pod pairs judged by the evaluator, grouped when they
read the same, the verdict of the whole, and the JSON document."""

from __future__ import annotations

import json

import pytest
from conformance.truth import cluster
from explain_truth import L7_POLICY, pods_frame

from recommender.explain import explain, explain_connection
from recommender.explain_endpoints import ExplainError, KnownPods
from recommender.netpol.evaluator import Evaluator


def _np(name: str, ns: str, spec: dict) -> dict:
    meta = {"name": name, "namespace": ns}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta,
            "spec": spec}  # fmt: skip


ALLOW_FROM_X_A = _np(
    "allow-from-a",
    "y",
    {
        "podSelector": {},
        "ingress": [
            {
                "from": [
                    {
                        "namespaceSelector": {"matchLabels": {"ns": "x"}},
                        "podSelector": {"matchLabels": {"pod": "a"}},
                    }
                ]
            }
        ],
    },
)


def _workloads() -> KnownPods:
    """The nine pods; x's pods form workload x/client, y's form y/server."""
    frame = pods_frame(cluster().values())
    frame.loc[frame["namespace"] == "x", "workload_name"] = "client"
    frame.loc[frame["namespace"] == "y", "workload_name"] = "server"
    return KnownPods(frame)


def test_pairs_that_read_the_same_are_explained_once():
    result = explain_connection(Evaluator([ALLOW_FROM_X_A]), _workloads(), "x/a", "y/server", "80")
    assert result.verdict == "ALLOWED"
    assert result.source.kind == "pod" and result.destination.kind == "workload"
    (group,) = result.groups
    assert group.sources == ("x/a",)
    assert group.destinations == ("y/a", "y/b", "y/c")
    assert len(group.pairs) == 3 and group.port == 80
    assert result.counts() == {"DENIED": 0, "UNJUDGED": 0, "ALLOWED": 3}


def test_one_denied_pair_makes_the_connection_denied_and_groups_say_which():
    result = explain_connection(
        Evaluator([ALLOW_FROM_X_A]), _workloads(), "x/client", "y/server", "80/tcp"
    )
    assert result.verdict == "DENIED"
    assert result.counts() == {"DENIED": 6, "UNJUDGED": 0, "ALLOWED": 3}
    # x/b and x/c miss the same rule, in other words (their labels differ): one group
    denied, allowed = result.groups
    assert denied.verdict == "DENIED" and denied.sources == ("x/b", "x/c")
    assert not denied.uniform and allowed.uniform
    assert denied.ingress.decided == "denied: isolated by y/allow-from-a, no rule matches"
    (rule,) = denied.ingress.policies[0].rules
    assert rule.why.startswith("peer: not pod=a in namespaces with ns=x: pod labels: pod is b")
    assert allowed.verdict == "ALLOWED" and allowed.sources == ("x/a",)
    assert len(allowed.pairs) == 3


def test_a_rule_the_evaluator_cannot_judge_leaves_the_connection_unjudged():
    l7 = L7_POLICY
    result = explain_connection(Evaluator([l7]), _workloads(), "x/a", "y/a", "80")
    assert result.verdict == "UNJUDGED"
    (group,) = result.groups
    assert group.ingress.outcome == "unjudged"
    (rule,) = group.ingress.policies[0].rules
    assert rule.outcome.startswith("unjudged: ") and "HTTP" in rule.outcome.upper()
    assert group.egress.outcome == "allowed"


def test_a_named_port_resolves_per_destination_pod():
    result = explain_connection(Evaluator([]), _workloads(), "x/a", "y/server", "serve-81-udp/udp")
    assert result.verdict == "ALLOWED" and {g.port for g in result.groups} == {81}
    assert str(result.port) == "serve-81-udp/UDP"


def test_the_json_document_carries_the_same_answer():
    result = explain_connection(Evaluator([ALLOW_FROM_X_A]), _workloads(), "x/client", "y/b", "80")
    doc = json.loads(json.dumps(result.to_dict()))
    assert doc["verdict"] == "DENIED"
    assert doc["source"] == {
        "name": "x/client",
        "kind": "workload",
        "endpoints": ["x/a", "x/b", "x/c"],
    }
    assert doc["protocol"] == "TCP" and doc["port"] == 80
    assert doc["pairs"] == {"denied": 2, "unjudged": 0, "allowed": 1}
    first = doc["explanations"][0]
    assert first["verdict"] == "DENIED" and first["pairs"] == [["x/b", "y/b"], ["x/c", "y/b"]]
    assert first["reasons_worded_for"] == ["x/b", "y/b"]
    ingress = first["ingress"]
    assert ingress["verdict"] == "denied" and ingress["tier"] == "networkpolicy"
    assert ingress["policies"][0]["policy"] == "y/allow-from-a"
    rule = ingress["policies"][0]["rules"][0]
    assert rule["rule"] == "y/allow-from-a ingress[0]"
    assert (rule["peer_matches"], rule["port_matches"], rule["outcome"]) == (
        False,
        True,
        "no match",
    )
    assert doc["explanations"][1]["reasons_worded_for"] is None
    assert doc["explanations"][1]["ingress"]["allowed_by"] == ["y/allow-from-a ingress[0]"]


def test_cilium_sets_say_how_address_blocks_are_judged():
    cnp = {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "any", "namespace": "y"},
        "spec": {"endpointSelector": {}, "ingress": [{"fromEndpoints": [{}]}]},
    }
    result = explain_connection(Evaluator([cnp]), _workloads(), "y/a", "y/b", "80")
    assert result.verdict == "ALLOWED"
    assert any("Cilium" in note for note in result.notes)


def test_the_short_form_is_one_verdict_line_per_pod_pair():
    lines = explain(
        Evaluator([ALLOW_FROM_X_A]), pods_frame(cluster().values()), "x/b", "y/a", "TCP", 80
    )
    assert lines[0] == "DENIED b -> a 80/TCP"
    assert lines[2] == "  ingress of y/a: denied: isolated by y/allow-from-a, no rule matches"
    with pytest.raises(ExplainError, match="close matches"):
        explain(Evaluator([]), pods_frame(cluster().values()), "x/d", "y/a", "TCP", 80)


TO_FQDN = {
    "apiVersion": "cilium.io/v2",
    "kind": "CiliumNetworkPolicy",
    "metadata": {"name": "to-api", "namespace": "x"},
    "spec": {
        "endpointSelector": {"matchLabels": {"pod": "a"}},
        "egress": [{"toFQDNs": [{"matchName": "api.example.com"}]}],
    },
}


def test_dns_names_of_an_address_judge_dns_name_peers():
    evaluator, known = Evaluator([TO_FQDN]), _workloads()
    named = explain_connection(
        evaluator, known, "x/a", "203.0.113.9", "443", names=["API.example.com."]
    )
    assert named.verdict == "ALLOWED"
    assert named.destination.endpoints[0].names == ("api.example.com",)
    unnamed = explain_connection(evaluator, known, "x/a", "203.0.113.9", "443")
    assert unnamed.verdict == "DENIED"
    (rule,) = unnamed.groups[0].egress.policies[0].rules
    assert "no DNS name of the peer is known" in rule.why
    with pytest.raises(ExplainError, match="DNS names apply to an address"):
        explain_connection(evaluator, known, "x/a", "y/a", "443", names=["api.example.com"])
    for bad in ("a..b", "-x.com", "x" * 254, "a b"):
        with pytest.raises(ExplainError, match="not a DNS name"):
            explain_connection(evaluator, known, "x/a", "203.0.113.9", "443", names=[bad])
