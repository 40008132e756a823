"""The proposal as Calico StagedKubernetesNetworkPolicies: the NetworkPolicy with another kind
and ``stagedAction: Set``, valid against Calico's own CRD schema, promoted by one documented
command to the very files the NetworkPolicy proposal holds."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess

import pytest
import yaml
from conftest import SAMPLE_FLOWS, SHARED

from recommender.generate.calico_staged import PROMOTE_COMMAND, to_staged
from recommender.generate.kinds import OutputKind, OutputKindError
from recommender.pipeline import recommend
from recommender.proposal import write_proposal

CRD = (
    SHARED
    / "schemas/calico/projectcalico.org-v3/projectcalico.org_stagedkubernetesnetworkpolicies.yaml"
)

POLICY = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {
        "name": "allow-db",
        "namespace": "shop",
        "labels": {"app.kubernetes.io/managed-by": "netpol-recommender"},
    },
    "spec": {
        "podSelector": {"matchLabels": {"app": "db"}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"ports": [{"protocol": "TCP", "port": "postgres"}]}],
    },
}


@pytest.fixture(scope="module")
def rec():
    return recommend([SAMPLE_FLOWS])


@pytest.fixture(scope="module")
def proposals(rec, tmp_path_factory):
    """The same recommendation written as each kind."""
    out = {}
    for kind in ("networkpolicy", "calico-staged"):
        root = tmp_path_factory.mktemp(kind)
        out[kind] = (root, write_proposal(rec, root, output_kind=kind))
    return out


def _policy_files(root):
    return sorted(p.relative_to(root) for p in (root / "policies").rglob("*.yaml"))


def test_to_staged_is_the_policy_with_calico_kind_and_the_set_action():
    before = copy.deepcopy(POLICY)
    staged = to_staged(POLICY)
    assert staged == {
        "apiVersion": "projectcalico.org/v3",
        "kind": "StagedKubernetesNetworkPolicy",
        "metadata": POLICY["metadata"],
        "spec": {**POLICY["spec"], "stagedAction": "Set"},
    }
    assert list(staged["spec"])[-1] == "stagedAction"
    staged["metadata"]["labels"]["x"] = "y"
    assert before == POLICY


def test_unknown_kinds_and_impossible_combinations_are_refused():
    with pytest.raises(OutputKindError, match="output kind must be one of"):
        OutputKind(kind="istio")
    with pytest.raises(OutputKindError, match="policy audit mode"):
        OutputKind(kind="cilium", staged=True)
    with pytest.raises(OutputKindError, match="calico-staged"):
        OutputKind(kind="networkpolicy", staged=True)
    with pytest.raises(OutputKindError, match="needs --output-kind cilium"):
        OutputKind(kind="calico", external="fqdn")
    assert OutputKind().is_default and not OutputKind(kind="calico-staged").is_default


def test_a_staged_proposal_has_the_same_files_each_the_staged_policy(rec, proposals):
    np_root, _ = proposals["networkpolicy"]
    staged_root, _ = proposals["calico-staged"]
    assert _policy_files(staged_root) == _policy_files(np_root)
    assert len(_policy_files(staged_root)) == len(rec.policies) > 0
    for rel in _policy_files(staged_root):
        staged = yaml.safe_load((staged_root / rel).read_text())
        enforced = yaml.safe_load((np_root / rel).read_text())
        assert staged == to_staged(enforced)
        assert staged["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "netpol-recommender"


def test_the_report_and_summary_name_the_kind_and_the_promote_step(proposals):
    np_root, np_report = proposals["networkpolicy"]
    staged_root, staged_report = proposals["calico-staged"]
    assert "output_kind" not in np_report and "promote" not in np_report
    on_disk = json.loads((staged_root / "report.json").read_text())
    assert on_disk["output_kind"] == "calico-staged"
    assert on_disk["promote"] == PROMOTE_COMMAND
    rest = {k: v for k, v in on_disk.items() if k not in ("output_kind", "promote")}
    assert rest == json.loads((np_root / "report.json").read_text())
    summary = (staged_root / "SUMMARY.md").read_text()
    assert "`StagedKubernetesNetworkPolicy`" in summary
    assert f"```sh\n{PROMOTE_COMMAND}\n```" in summary
    assert "StagedKubernetesNetworkPolicy" not in (np_root / "SUMMARY.md").read_text()


def test_the_promote_command_turns_the_staged_files_into_the_networkpolicy_files(
    proposals, tmp_path
):
    assert shutil.which("sed"), "the promote step is a sed command: sed must be installed"
    np_root, _ = proposals["networkpolicy"]
    staged_root, _ = proposals["calico-staged"]
    promoted = tmp_path / "proposal"
    shutil.copytree(staged_root, promoted)
    subprocess.run(["sh", "-c", PROMOTE_COMMAND], cwd=promoted, check=True)
    for rel in _policy_files(np_root):
        assert (promoted / rel).read_bytes() == (np_root / rel).read_bytes()


# --------------------------------------------------------------------------------------------
# Calico's CRD schema
# --------------------------------------------------------------------------------------------


def json_schema(node):
    """A CRD's OpenAPI v3 (structural) schema as JSON Schema.

    jsonschema ignores the ``x-kubernetes-*`` keywords, so their meaning is made explicit:
    ``x-kubernetes-int-or-string`` becomes ``anyOf: [integer, string]`` (Calico's CRD already
    spells it so; a schema that does not would otherwise accept nothing or anything), and an
    object that lists its properties admits no others unless it says
    ``x-kubernetes-preserve-unknown-fields`` (the API server would prune them silently; an
    object we write must have none)."""
    if isinstance(node, list):
        return [json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: json_schema(v) for k, v in node.items() if not str(k).startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (
        "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@pytest.fixture(scope="module")
def validator():
    # The [test] extra installs [schema]: a missing jsonschema fails here, never skips.
    import jsonschema

    crd = yaml.safe_load(CRD.read_text(encoding="utf-8"))
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v3"]
    schema = json_schema(version["schema"]["openAPIV3Schema"])
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def test_the_preprocessing_spells_out_int_or_string_and_closes_objects():
    schema = json_schema(
        {
            "type": "object",
            "properties": {"port": {"x-kubernetes-int-or-string": True}},
            "x-kubernetes-map-type": "atomic",
        }
    )
    assert schema == {
        "type": "object",
        "properties": {"port": {"anyOf": [{"type": "integer"}, {"type": "string"}]}},
        "additionalProperties": False,
    }


def test_every_staged_policy_written_validates_against_calicos_crd(validator, proposals):
    staged_root, _ = proposals["calico-staged"]
    ports = set()
    for rel in _policy_files(staged_root):
        obj = yaml.safe_load((staged_root / rel).read_text())
        errors = [e.message for e in validator.iter_errors(obj)]
        assert errors == [], rel
        for direction in ("ingress", "egress"):
            for rule in obj["spec"].get(direction, []):
                ports |= {type(p["port"]) for p in rule.get("ports", [])}
    assert ports == {int}  # the sample names no container port; a named one is below


def test_a_named_port_validates_as_the_string_arm_of_int_or_string(validator):
    assert POLICY["spec"]["ingress"][0]["ports"][0]["port"] == "postgres"
    assert list(validator.iter_errors(to_staged(POLICY))) == []


@pytest.mark.parametrize(
    "path, value",
    [
        (("spec", "stagedAction"), "Apply"),
        (("spec", "ingress", 0, "ports", 0, "port"), 5.5),
        (("spec", "ingress", 0, "ports", 0, "portName"), "db"),
        (("spec", "tier"), "default"),
    ],
)
def test_the_crd_schema_refuses_what_calico_would(validator, path, value):
    obj = to_staged(POLICY)
    assert list(validator.iter_errors(obj)) == []
    node = obj
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert list(validator.iter_errors(obj)) != []
