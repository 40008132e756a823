"""The CI recipes in ``examples/github/`` run: the steps that invoke ``netpol-recommender`` are
run here, as written, on the sample flows, so a workflow cannot drift from the tool."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, SAMPLE_FLOWS

WORKFLOWS = ROOT / "examples" / "github"
TOOL_LINE = re.compile(r"^\s*netpol-recommender\s", re.MULTILINE)


#: a stale hand-written policy: the repository's layout is ``<POLICY_DIR>/<ns>/<name>.yaml``
HAND_WRITTEN = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "allow-redis", "namespace": "data"},
    "spec": {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "redis"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": 6379}]}],
    },
}


def _workflow(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key ``on`` as True
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def _steps(doc: dict) -> list[dict]:
    return [step for job in doc["jobs"].values() for step in job["steps"]]


def _tool_steps(doc: dict) -> list[dict]:
    return [s for s in _steps(doc) if TOOL_LINE.search(s.get("run", ""))]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def _commit(repo: Path, message: str) -> None:
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", message)


class Runner:
    """Runs a workflow step's script as GitHub Actions would (``shell: bash``), with the
    workflow's path variables pointed at a temporary git repository and the sample flows."""

    def __init__(self, tmp: Path) -> None:
        self.work = tmp / "checkout"
        self.repo = self.work / "policies"
        self.repo.mkdir(parents=True)
        (self.repo / "data").mkdir()
        (self.repo / "data" / "allow-redis.yaml").write_text(yaml.safe_dump(HAND_WRITTEN))
        _git(self.work, "init", "-q")
        _commit(self.work, "empty policy tree")
        self.out = tmp / "out"
        self.runner_temp = tmp / "runner-temp"
        self.runner_temp.mkdir()
        self.outputs_file = tmp / "github-output"

    def env(self) -> dict[str, str]:
        bin_dir = str(Path(sys.executable).parent)
        return {
            **os.environ,
            "PATH": bin_dir + os.pathsep + os.environ["PATH"],
            "PYTHONPATH": str(ROOT),
            "FLOWS": str(SAMPLE_FLOWS),
            "POLICY_DIR": str(self.repo),
            "OUT": str(self.out),
            "RUNNER_TEMP": str(self.runner_temp),
            "GITHUB_OUTPUT": str(self.outputs_file),
        }

    def run(self, step: dict) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
        """Run the step; return the process and the outputs it set."""
        assert step.get("shell", "bash") == "bash"
        assert "${{" not in step["run"], "a step run here cannot use workflow expressions"
        self.outputs_file.write_text("")
        # `shell: bash` is `bash --noprofile --norc -eo pipefail {0}` on GitHub's runners
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=self.work,
            env=self.env(),
            capture_output=True,
            text=True,
        )
        lines = self.outputs_file.read_text().splitlines()
        return done, dict(line.split("=", 1) for line in lines)


@pytest.mark.parametrize("name", ["verify-policies.yml", "propose-policies.yml"])
def test_workflow_structure(name):
    doc = _workflow(name)
    assert doc["on"] and doc["jobs"]
    assert doc["defaults"]["run"]["shell"] == "bash"
    assert {"FLOWS", "POLICY_DIR"} <= set(doc["env"])
    for step in _steps(doc):
        assert ("run" in step) != ("uses" in step), step
    assert _tool_steps(doc), "no step runs netpol-recommender"


def test_triggers():
    verify = _workflow("verify-policies.yml")
    assert verify["on"]["pull_request"]["paths"] == [verify["env"]["POLICY_DIR"] + "/**"]
    propose = _workflow("propose-policies.yml")
    assert "schedule" in propose["on"] and "workflow_dispatch" in propose["on"]
    assert "OUT" in propose["env"]
    pr_step = next(s for s in _steps(propose) if "create-pull-request" in s.get("uses", ""))
    assert pr_step["with"]["body-path"] == "${{ env.OUT }}/SUMMARY.md"
    assert pr_step["if"] == "steps.propose.outputs.proposed == 'true'"


def test_propose_then_verify_on_the_sample(tmp_path):
    """The scheduled run proposes, its PR merged passes the PR check, the next run is quiet."""
    runner = Runner(tmp_path)
    (propose,) = _tool_steps(_workflow("propose-policies.yml"))
    (verify,) = _tool_steps(_workflow("verify-policies.yml"))

    done, outputs = runner.run(propose)
    assert done.returncode == 0, done.stderr
    assert outputs == {"proposed": "true"}
    assert (runner.out / "SUMMARY.md").read_text().startswith("# NetworkPolicy proposal")
    changed = {
        line[3:] for line in _git(runner.work, "status", "--porcelain", "-uall").split("\n") if line
    }
    assert "policies/shop/allow-frontend.yaml" in changed, changed
    assert "policies/data/allow-redis.yaml" not in changed
    _commit(runner.work, "merge the proposal")

    done, outputs = runner.run(verify)
    assert done.returncode == 0, done.stderr
    assert outputs == {"exit": "0"}
    report = json.loads((runner.work / "verify.json").read_text())
    assert report["covered"] == report["judged"] > 0
    assert "coverage 100.00%" in (runner.work / "verify.txt").read_text()
    _git(runner.work, "clean", "-qfx")

    done, outputs = runner.run(propose)
    assert done.returncode == 0, done.stderr
    assert outputs == {"proposed": "false"}
    assert "nothing to propose" in done.stdout
    assert _git(runner.work, "status", "--porcelain", "-uall") == ""


def test_verify_records_a_failure_for_the_check(tmp_path):
    """A policy change that breaks observed traffic: the step still succeeds (so the comment
    gets posted) and hands exit 1 to the step that fails the check."""
    runner = Runner(tmp_path)
    (propose,) = _tool_steps(_workflow("propose-policies.yml"))
    (verify,) = _tool_steps(_workflow("verify-policies.yml"))
    runner.run(propose)
    victim = next(p for p in sorted(runner.repo.rglob("*.yaml")) if "default-deny" not in p.name)
    victim.unlink()
    deny = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny-all", "namespace": "shop"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }
    (runner.repo / "deny-all.yaml").write_text(yaml.safe_dump(deny))

    done, outputs = runner.run(verify)
    assert done.returncode == 0, done.stderr
    assert outputs == {"exit": "1"}
    report = json.loads((runner.work / "verify.json").read_text())
    assert report["covered"] < report["judged"]
    assert "would be denied" in (runner.work / "verify.txt").read_text()
