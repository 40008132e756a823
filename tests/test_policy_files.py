"""Reading a policy directory: NetworkPolicies and Calico staged ones in, everything else noted,
nothing is an error."""

import pytest
import yaml
from conftest import SHARED

from recommender.netpol.model import PolicyError
from recommender.policy_files import load_policies

POLICY = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "deny", "namespace": "shop"},
    "spec": {"podSelector": {}},
}


def test_an_empty_directory_holds_0_policies(tmp_path):
    assert load_policies(tmp_path) == ([], [])


def test_files_that_are_not_yaml_are_not_read_and_other_kinds_are_noted(tmp_path):
    (tmp_path / "README.md").write_text("# policies\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deploy.yml").write_text(
        yaml.safe_dump({"apiVersion": "apps/v1", "kind": "Deployment"})
    )
    (tmp_path / "sub" / "policy.yaml").write_text(yaml.safe_dump_all([POLICY, None]))
    policies, notes = load_policies(tmp_path)
    assert policies == [POLICY]
    assert notes == [f"{tmp_path / 'sub' / 'deploy.yml'} document 1: Deployment ignored"]


def test_invalid_yaml_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [unclosed\n")
    with pytest.raises(PolicyError, match=f"{bad}: not valid YAML"):
        load_policies(tmp_path)


def test_multi_document_files_and_lists_are_unpacked_in_path_order(tmp_path):
    second = {**POLICY, "metadata": {"name": "allow", "namespace": "shop"}}
    third = {**POLICY, "metadata": {"name": "third", "namespace": "data"}}
    (tmp_path / "b.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [second]})
    )
    (tmp_path / "a.yaml").write_text(yaml.safe_dump_all([POLICY, "just text"]))
    (tmp_path / "c.yml").write_text(
        yaml.safe_dump({"kind": "NetworkPolicyList", "items": [third, None]})
    )
    policies, notes = load_policies(tmp_path)
    assert policies == [POLICY, second, third]
    assert notes == [f"{tmp_path / 'a.yaml'} document 2: not an object, ignored"]


def test_another_api_version_of_the_kind_is_noted_not_read(tmp_path):
    beta = {**POLICY, "apiVersion": "extensions/v1beta1"}
    (tmp_path / "old.yaml").write_text(yaml.safe_dump_all([beta, {"apiVersion": "v1"}]))
    policies, notes = load_policies(tmp_path)
    assert policies == []
    assert notes == [
        f"{tmp_path / 'old.yaml'} document 1: NetworkPolicy ignored",
        f"{tmp_path / 'old.yaml'} document 2: no kind ignored",
    ]


CALICO_DOCS = SHARED / "real-policies/calico/docs-v3.32"


def test_every_calico_kind_is_read_and_nothing_is_noted_as_ignored():
    policies, notes = load_policies(CALICO_DOCS)
    staged = CALICO_DOCS / "reference-stagedkubernetesnetworkpolicy.yaml"
    assert yaml.safe_load(staged.read_text(encoding="utf-8")) in policies
    kinds = sorted(p["kind"] for p in policies)
    assert kinds == sorted(
        ["GlobalNetworkPolicy"] * 2
        + ["GlobalNetworkSet", "NetworkSet", "StagedGlobalNetworkPolicy"]
        + ["NetworkPolicy"] * 3
        + ["StagedKubernetesNetworkPolicy", "StagedNetworkPolicy"]
    )
    assert not any(n.endswith(" ignored") for n in notes)


def test_kinds_no_reader_reads_are_noted(tmp_path):
    (tmp_path / "mixed.yaml").write_text(
        yaml.safe_dump_all(
            [
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
                {"apiVersion": "projectcalico.org/v3", "kind": "HostEndpoint"},
            ]
        )
    )
    policies, notes = load_policies(tmp_path)
    assert policies == []
    assert notes == [
        f"{tmp_path / 'mixed.yaml'} document 1: ConfigMap ignored",
        f"{tmp_path / 'mixed.yaml'} document 2: HostEndpoint ignored",
    ]


def _staged(name: str, action: str | None) -> dict:
    spec = {"podSelector": {}} if action is None else {"podSelector": {}, "stagedAction": action}
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "StagedKubernetesNetworkPolicy",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": spec,
    }


def test_a_staged_policy_that_enforces_nothing_when_promoted_is_read_and_noted(tmp_path):
    docs = [_staged("keep", None), _staged("set", "Set"), _staged("gone", "Delete")]
    (tmp_path / "staged.yaml").write_text(yaml.safe_dump_all(docs))
    policies, notes = load_policies(tmp_path)
    assert policies == docs
    assert notes == [
        f"{tmp_path / 'staged.yaml'} document 3: StagedKubernetesNetworkPolicy shop/gone has "
        "stagedAction Delete: judged as removed, it enforces nothing"
    ]


def test_a_staged_policy_with_an_unknown_action_is_an_error(tmp_path):
    (tmp_path / "staged.yaml").write_text(yaml.safe_dump(_staged("odd", "Apply")))
    with pytest.raises(PolicyError, match="shop/odd: spec.stagedAction: unknown action"):
        load_policies(tmp_path)
