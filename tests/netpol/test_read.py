"""One entry point reads every kind: each object goes to its own reader, and the table of
kinds is the readers' own."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
import yaml
from conftest import SHARED

from recommender.netpol.model import PolicyError
from recommender.netpol.read import READ_KINDS, compile_objects, reader_of, uses_cilium
from recommender.policy_files import load_policies


def test_the_table_is_each_readers_own_kinds():
    for reader, kinds in READ_KINDS.items():
        module = importlib.import_module(f"recommender.netpol.{reader}")
        if reader == "networkpolicy":
            assert ("networking.k8s.io/v1", "NetworkPolicy") in kinds
            continue
        own = set(module.KINDS) | set(getattr(module, "SET_KINDS", ()))
        if reader == "calico":
            own.add(("projectcalico.org/v3", "Tier"))
        assert own == set(kinds), reader


def _real(*parts: str) -> list:
    path = SHARED.joinpath("real-policies", *parts)
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_mixed_kinds_compile_each_by_its_reader():
    cnp = _real("cilium", "l3", "simple", "l3.yaml")
    recipe = _real("kubernetes-network-policy-recipes", "02-api-allow.yaml")
    policies, _ = compile_objects([*cnp, *recipe])
    kinds = {p.kind for p in policies}
    assert kinds == {"CiliumNetworkPolicy", "NetworkPolicy"}
    assert uses_cilium(policies) and not uses_cilium(
        [p for p in policies if p.kind == "NetworkPolicy"]
    )


def test_an_unknown_kind_is_refused_in_one_line():
    with pytest.raises(PolicyError) as err:
        compile_objects([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}])
    assert "\n" not in str(err.value)
    assert reader_of({"apiVersion": "v1", "kind": "ConfigMap"}) is None


def test_a_networkpolicy_only_run_imports_no_dialect_reader(tmp_path):
    code = (
        "import sys\n"
        "from recommender.netpol.read import compile_objects\n"
        "compile_objects([{'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy',"
        " 'metadata': {'name': 'a', 'namespace': 'x'}, 'spec': {'podSelector': {}}}])\n"
        "print(sorted(m for m in sys.modules if m.startswith('recommender.netpol.')))\n"
    )
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout
    for reader in ("cilium", "calico", "admin"):
        assert f"recommender.netpol.{reader}'" not in out


def test_policy_files_keep_every_kind_a_reader_reads():
    policies, notes = load_policies(SHARED / "real-policies")
    readers = {reader_of(p) for p in policies}
    assert readers == {"networkpolicy", "cilium", "calico", "admin"}
    assert all(n.endswith(" ignored") or "stagedAction" in n for n in notes)
