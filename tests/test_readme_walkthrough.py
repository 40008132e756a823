"""The README's "Proposals as pull requests" walkthrough runs as written on the sample, and
does what the prose after it says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, SAMPLE_FLOWS

BLOCK = re.compile(r"<!-- pr-walkthrough:[^>]*-->\n```sh\n(.*?)```\n<!-- /pr-walkthrough -->", re.S)


def _walkthrough() -> str:
    (script,) = BLOCK.findall((ROOT / "README.md").read_text())
    return script


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def test_walkthrough_runs_as_written(tmp_path):
    """Run from a copy of the repository root (the sample is linked in), so the relative
    paths of the README hold and nothing lands in the checkout."""
    (tmp_path / "sample_flows").symlink_to(SAMPLE_FLOWS)
    identity = {
        f"GIT_{who}_{what}": v
        for who in ("AUTHOR", "COMMITTER")
        for what, v in (("NAME", "reader"), ("EMAIL", "reader@example.com"))
    }
    env = {
        **os.environ,
        **identity,
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
    }
    script = _walkthrough()
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr

    assert "14 file(s) written into repo/ (see git diff there)" in done.stdout
    assert " shop/allow-cart.yaml\n" in done.stdout  # git status --short: a new file beside
    assert "## Against the existing policies" in done.stdout
    assert "| unchanged (existing, not touched) | 1 |" in done.stdout
    assert "| proposed tightening (`tighten/`, not applied) | 1 |" in done.stdout
    assert done.stdout.rstrip().endswith("nothing to propose (summary: out/SUMMARY.md)")

    repo = tmp_path / "repo"
    hand_written = script.split("<<'EOF'\n", 1)[1].split("\nEOF\n", 1)[0] + "\n"
    assert (repo / "shop" / "cart.yaml").read_text() == hand_written
    assert _git(repo, "log", "--format=%s").splitlines() == [
        "merge the proposal",
        "hand-written policies",
    ]
    assert _git(repo, "show", "--stat", "--format=", "HEAD", "--", "shop/cart.yaml") == ""
    assert _git(repo, "status", "--porcelain", "-uall") == ""
    assert (tmp_path / "out" / "tighten" / "shop" / "cart.yaml").is_file()
    assert (tmp_path / "out" / "tighten" / "proof.json").is_file()
