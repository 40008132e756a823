"""Calico StagedKubernetesNetworkPolicy read as if promoted: ``stagedAction: Set`` is the
NetworkPolicy its spec states, named ``staged:<name>``; ``Delete`` enforces nothing.

The reference object is Calico's own documentation example (v3.32), read from ../shared."""

from __future__ import annotations

import pytest
import yaml
from conftest import SHARED

from recommender.netpol.calico_staged import (
    STAGED_API_VERSION,
    STAGED_KIND,
    as_network_policy,
    is_staged,
    staged_action,
)
from recommender.netpol.evaluator import Evaluator
from recommender.netpol.model import Endpoint, PolicyError
from recommender.netpol.networkpolicy import compile_policies, compile_policy

REFERENCE = SHARED / "real-policies/calico/docs-v3.32/reference-stagedkubernetesnetworkpolicy.yaml"


@pytest.fixture(scope="module")
def reference() -> dict:
    return yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))


def _staged(action: str | None = None, **spec) -> dict:
    body = {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"], **spec}
    if action is not None:
        body["stagedAction"] = action
    return {
        "apiVersion": STAGED_API_VERSION,
        "kind": STAGED_KIND,
        "metadata": {"name": "db", "namespace": "shop"},
        "spec": body,
    }


def test_the_reference_example_is_a_staged_policy_with_the_default_action(reference):
    assert is_staged(reference)
    assert "stagedAction" not in reference["spec"]
    assert staged_action(reference) == "Set"


def test_only_the_calico_v3_group_and_kind_are_staged(reference):
    assert not is_staged({**reference, "apiVersion": "crd.projectcalico.org/v1"})
    assert not is_staged({**reference, "kind": "StagedNetworkPolicy"})
    assert not is_staged(["not", "a", "mapping"])


def test_as_network_policy_keeps_metadata_and_spec_and_drops_the_action():
    net = as_network_policy(_staged("Set"))
    assert net == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "db", "namespace": "shop"},
        "spec": {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"]},
    }


def test_the_reference_example_compiles_as_its_network_policy_named_staged(reference):
    staged = compile_policy(reference)
    enforced = compile_policy(as_network_policy(reference))
    assert staged.key == "default/staged:test-network-policy"
    assert enforced.key == "default/test-network-policy"
    assert staged.isolates == enforced.isolates == ("ingress", "egress")
    assert staged.subject == enforced.subject
    assert staged.rules == enforced.rules
    assert len(staged.rules) == 2


def test_a_staged_policy_and_the_network_policy_it_stages_may_share_a_name(reference):
    both = compile_policies([as_network_policy(reference), reference])
    assert [p.key for p in both] == [
        "default/test-network-policy",
        "default/staged:test-network-policy",
    ]


@pytest.mark.parametrize("action", ["Delete", "Learn", "Ignore"])
def test_actions_other_than_set_enforce_nothing(action):
    pol = compile_policy(_staged(action, ingress=[{"from": [{"podSelector": {}}]}]))
    assert pol.key == "shop/staged:db"
    assert pol.isolates == () and pol.rules == ()


def test_a_deleted_staged_policy_isolates_no_pod_in_the_evaluator():
    db = Endpoint("pod", ip="10.0.0.2", namespace="shop", labels={"app": "db"})
    web = Endpoint("pod", ip="10.0.0.3", namespace="shop", labels={"app": "web"})
    set_policy = _staged("Set")  # ingress isolated, no rule: web -> db denied
    assert not Evaluator([set_policy]).evaluate(web, db, "TCP", 5432).allowed
    assert Evaluator([_staged("Delete")]).evaluate(web, db, "TCP", 5432).allowed


def test_an_unknown_action_and_a_malformed_spec_are_refused():
    with pytest.raises(PolicyError, match=r"shop/db: spec.stagedAction: unknown action 'Apply'"):
        compile_policy(_staged("Apply"))
    with pytest.raises(PolicyError, match=r"shop/db: spec: unknown field\(s\) tier"):
        compile_policy(_staged("Set", tier="default"))
    with pytest.raises(PolicyError, match=r"spec: must be a mapping"):
        staged_action({**_staged(), "spec": ["x"]})
