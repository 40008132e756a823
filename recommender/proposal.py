"""The output directory: policies/<ns>/<name>.yaml, SUMMARY.md and report.json.

Everything here is deterministic (no timestamps, sorted everything) so the same flows in
any order give byte-identical files, and every file is written atomically: a reviewer
never sees a half-written proposal, and a re-run removes the files it no longer proposes.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .generate.calico_staged import render_as
from .generate.k8s import to_yaml
from .report import build_report, policy_path
from .summary import render_summary

if TYPE_CHECKING:
    from .results import Recommendation


def write_atomic(path: Path, text: str) -> None:
    """Write via a temp file in the same directory, then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_proposal(
    rec: Recommendation,
    out: str | os.PathLike,
    *,
    output_kind: str = "networkpolicy",
    written_into: list[str] | None = None,
    tightening: int | None = None,
) -> dict[str, Any]:
    """Write policies, SUMMARY.md and report.json under ``out``; returns the report.

    ``output_kind`` "calico-staged" writes each policy as a Calico
    StagedKubernetesNetworkPolicy (:mod:`recommender.generate.calico_staged`), to watch
    before promoting; the proof is the same, the spec being the same. ``written_into``
    (the files ``recommend --write-into`` wrote into the repository) is listed in the
    report under that key when given. ``tightening`` (how many proven tightening proposals
    of the existing policies ``recommend --existing`` wrote to ``out/tighten/``) goes into
    ``existing.tightening`` and the changes table of SUMMARY.md."""
    root = Path(out)
    report = build_report(rec, output_kind=output_kind)
    if written_into is not None:
        report["written_into"] = written_into
    if tightening is not None and "existing" in report:
        report["existing"]["tightening"] = tightening
    written: set[Path] = set()
    for ir, obj in zip(rec.ir, rec.policies, strict=True):
        rel = policy_path(ir)
        write_atomic(root / rel, to_yaml(render_as(obj, output_kind)))
        written.add(rel)
    policies_dir = root / "policies"
    if policies_dir.is_dir():
        for stale in sorted(policies_dir.rglob("*.yaml")):
            if stale.relative_to(root) not in written:
                stale.unlink()
        for folder in sorted(policies_dir.iterdir()):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    write_atomic(root / "SUMMARY.md", render_summary(rec, report))
    write_atomic(root / "report.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report
