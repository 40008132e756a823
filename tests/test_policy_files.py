"""Reading a policy directory: NetworkPolicies and Calico staged ones in, everything else noted,
nothing is an error."""

import pytest
import yaml
from conftest import ROOT, SHARED

from recommender.netpol.model import PolicyError
from recommender.policy_files import load_documents, load_policies

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


def _pure(text: str) -> str:
    """What PyYAML's pure-Python safe loader builds, as text: ``repr`` tells 1 from True and
    keeps timestamps' zones and key order."""
    return repr(list(yaml.safe_load_all(text)))


def _yaml_files() -> list:
    roots = [SHARED / "real-policies", ROOT / "examples"]
    return sorted(p for root in roots for p in root.rglob("*") if p.suffix in (".yaml", ".yml"))


def test_the_real_policy_files_are_there_to_compare():
    assert yaml.__with_libyaml__
    assert len(_yaml_files()) > 50


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: p.name)
def test_libyaml_builds_every_real_policy_file_as_pyyaml_does(path):
    text = path.read_text(encoding="utf-8")
    assert repr(list(yaml.load_all(text, Loader=yaml.CSafeLoader))) == _pure(text)
    assert repr(load_documents(text)) == _pure(text)


#: YAML 1.1 as PyYAML resolves it, each read alike by libyaml's parser.
ALIKE = {
    "timestamps": "a: 2001-12-14t21:59:43.10-05:00\nb: 2002-12-14\nc: 2001-12-15T02:59:43.1Z\n",
    "ints": "a: 0o17\nb: 017\nc: 0x1F\nd: 1_000\ne: 0b101\nf: 190:20:30\ng: -0\nh: 08\n",
    "floats": "a: 1.5e3\nb: .inf\nc: -.Inf\nd: .NaN\ne: 1_000.5\nf: 1e3\ng: -.5\n",
    "booleans": "a: yes\nb: No\nc: on\nd: OFF\ne: y\nf: n\ng: True\nh: FALSE\n",
    "nulls": "a: ~\nb: null\nc:\nd: Null\n",
    "merge keys": "b: &b {x: 1, y: 2}\nm: &m {z: 3}\nc:\n  <<: *b\n  y: 9\nd:\n  <<: [*b, *m]\n",
    "anchors": "a: &x [1, 2]\nb: *x\nc: &s text\nd: *s\ne: &e\nf: *e\n",
    "non-ASCII": "a: ünïcode\nb: \"\\u00e9\\x41\\U0001F600\"\nc: 日本語\nd: '😀'\n",
    "duplicate keys": "a: 1\na: 2\nb: {c: 1, c: 3}\n",
    "tags": "a: !!str 1\nb: !!int '7'\nc: !!binary aGVsbG8=\nd: !!set {x}\ne: !!omap [a: 1]\n",
    "block scalars": "a: |\n  line\n   more\n\nb: >-\n  folded\n  text\n\n  para\nc: |+\n  k\n\n",
    "quoted": "a: 'it''s'\nb: \"tab\\there\"\nc: \"folded\n  quoted\"\nd: 'x\n\n  y'\n",
    "plain": "a: plain\n  multi line\nb: http://x:80/y\nc: b#c\nd: b,c\ne: ---\n",
    "flow": 'a: {b: [1, {c: d}], e: []}\nf: [a b, {g: h}, a:b]\ng: {"k":v}\n',
    "documents": "%YAML 1.1\n---\na: 1\n...\n---\nb: 2\n--- text\n---\n",
    "byte order mark": "\ufeffa: 1\n",
    "line breaks": "a: 1\r\nb:\r\n  - x\r\nc: b\x85d: [1,\u20292]\n",
    "keys": "1: a\ntrue: b\n~: c\n2002-12-14: d\n? x\n: y\n&k e: 1\n*k : 2\n",
    "empty": "",
}


@pytest.mark.parametrize("text", ALIKE.values(), ids=ALIKE.keys())
def test_libyaml_builds_yaml_1_1_as_pyyaml_does(text):
    assert repr(list(yaml.load_all(text, Loader=yaml.CSafeLoader))) == _pure(text)
    assert repr(load_documents(text)) == _pure(text)


def test_text_only_pyyaml_reads_is_read_as_pyyaml_reads_it():
    text = 'a: "\\ud800"\n'  # a lone surrogate escape: libyaml refuses it
    with pytest.raises(yaml.YAMLError):
        list(yaml.load_all(text, Loader=yaml.CSafeLoader))
    assert load_documents(text) == [{"a": "\ud800"}]


#: Malformed text; the first two libyaml reads (tabs as separators), the rest it words
#: otherwise than PyYAML.
MALFORMED = {
    "tab after colon": "a:\tb\n",
    "trailing tab": "a: b\t\n",
    "control character": "a: b\x01\n",
    "nested mapping": "a: b: c\n",
    "YAML 2": "%YAML 2.0\n---\na: 1\n",
    "duplicate anchor": "a: &x 1\nb: &x 2\n",
    "undefined alias": "a: *nope\n",
    "junk after document end": "a: 1\n... junk\n",
    "unclosed flow": "kind: [unclosed\n",
}


@pytest.mark.parametrize("text", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_yaml_fails_with_pyyamls_own_words(tmp_path, text):
    with pytest.raises(yaml.YAMLError) as pure:
        list(yaml.safe_load_all(text))
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8", newline="")
    with pytest.raises(PolicyError) as ours:
        load_policies(tmp_path)
    assert str(ours.value) == f"{bad}: not valid YAML: {str(pure.value).splitlines()[0]}"
