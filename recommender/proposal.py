"""The output directory: policies/<ns>/<name>.yaml, SUMMARY.md, report.json and graph.svg.

Everything here is deterministic (no timestamps, sorted everything) so the same flows in
any order give byte-identical files, and every file is written atomically: a reviewer
never sees a half-written proposal, and a re-run removes the files it no longer proposes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .gc_pause import gc_paused
from .generate.k8s import to_yaml
from .generate.kinds import OutputKind, RenderedFile, render_files
from .graph.pictures import GRAPH_FILE
from .json_text import dumps_sorted
from .report import build_report
from .summary import render_summary

if TYPE_CHECKING:
    from .results import Recommendation, VerifyRun


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write via a temp file in the same directory, then rename over the target. The
    directory is made only when missing (a mkdir per file was a system call per policy)."""
    target = os.fspath(path)
    directory, name = os.path.split(target)
    data = text.encode("utf-8")
    try:
        fd, tmp = _open_temp(directory, name)
    except FileNotFoundError:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = _open_temp(directory, name)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: Flags and mode of a temp file: new, and its owner's alone until renamed (as mkstemp's).
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_TEMP_MODE = 0o600


def _open_temp(directory: str, name: str) -> tuple[int, str]:
    """A new file beside ``name``, named by process id and opened exclusively (mkstemp's
    random names cost ~20 us a file, 50 ms at 2,500 policies); mkstemp's when that name is
    taken (a leftover of a killed run)."""
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    try:
        return os.open(tmp, _TEMP_FLAGS, _TEMP_MODE), tmp
    except FileExistsError:
        return tempfile.mkstemp(prefix=f".{name}.", dir=directory or ".")


@gc_paused()
def write_proposal(
    rec: Recommendation,
    out: str | os.PathLike,
    *,
    output_kind: str = "networkpolicy",
    output: OutputKind | None = None,
    files: list[RenderedFile] | None = None,
    rendered: VerifyRun | None = None,
    written_into: list[str] | None = None,
    tightening: int | None = None,
) -> dict[str, Any]:
    """Write policies, SUMMARY.md, report.json and graph.svg under ``out``; returns the
    report.

    ``output`` (or just ``output_kind``) says which kind the files are
    (:mod:`recommender.generate.kinds`: NetworkPolicy, Calico staged or not, Cilium, a
    cluster-scoped baseline); ``files`` are the files already rendered in that kind and
    ``rendered`` their round trip (:func:`recommender.pipeline.check_rendered`), reported
    beside the proposal's own proof. ``written_into``
    (the files ``recommend --write-into`` wrote into the repository) is listed in the
    report under that key when given. ``tightening`` (how many proven tightening proposals
    of the existing policies ``recommend --existing`` wrote to ``out/tighten/``) goes into
    ``existing.tightening`` and the changes table of SUMMARY.md."""
    root = Path(out)
    output = output or OutputKind(kind=output_kind)
    files = files if files is not None else render_files(rec, output)
    report = build_report(rec, output=output, files=files, rendered=rendered)
    if written_into is not None:
        report["written_into"] = written_into
    if tightening is not None and "existing" in report:
        report["existing"]["tightening"] = tightening
    written = {os.path.join(root, f.path) for f in files}
    for folder in sorted({os.path.dirname(path) for path in written}):
        os.makedirs(folder, exist_ok=True)  # once each, not a failed create per folder
    for f in files:
        write_atomic(os.path.join(root, f.path), to_yaml(f.obj))
    _remove_stale(root / "policies", written)
    write_atomic(root / "SUMMARY.md", render_summary(rec, report, files))
    write_atomic(root / "report.json", dumps_sorted(report) + "\n")
    write_atomic(root / GRAPH_FILE, rec.graph_svg())
    return report


def _remove_stale(policies_dir: Path, written: set[str]) -> None:
    """Remove the .yaml files under ``policies_dir`` a re-run no longer proposes, then
    its folders left empty."""
    for folder, _, names in os.walk(policies_dir):
        for name in names:
            path = os.path.join(folder, name)
            if name.endswith(".yaml") and path not in written:
                os.unlink(path)
    if policies_dir.is_dir():
        for folder in sorted(policies_dir.iterdir()):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
