"""Reading a policy directory: NetworkPolicies in, everything else noted, nothing is an error."""

import pytest
import yaml

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
