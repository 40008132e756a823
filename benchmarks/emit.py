"""Writing a large proposal: YAML, Markdown and JSON for 700+ policies.

    python benchmarks/emit.py [--namespaces 121] [--workloads-per-ns 5] [--repeat 3]

Builds the simulator's large app (``recommender.sim.large_app``: about 730 policies with
the defaults), proposes through the public API, then times each part of writing the
proposal, best of ``--repeat``: the policy objects; their YAML through PyYAML's
pure-Python emitter (before) and through ``to_yaml`` (after, with a cold scalar cache as in
a fresh process); report.json built, then as text through ``json.dumps(indent=2)``
(before) and ``dumps_sorted`` (after); SUMMARY.md; and ``write_proposal`` as a whole
(files written atomically included). It checks that before and after give the same bytes.
Figures, not assertions.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from recommender import observe, propose, write_proposal
from recommender.generate.block_yaml import NotAlike, dump, scalar
from recommender.generate.k8s import to_yaml
from recommender.generate.kinds import OutputKind, render_files
from recommender.generate.pure_yaml import PureDumper
from recommender.json_text import dumps_sorted
from recommender.report import build_report
from recommender.sim import large_app, write_hubble
from recommender.summary import render_summary


def _pure_yaml(obj: dict[str, Any]) -> str:
    """A policy file as before: PyYAML's pure emitter with ``to_yaml``'s options."""
    return yaml.dump(
        obj,
        Dumper=PureDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=False,
        width=1000,
    )


def _direct(obj: dict[str, Any]) -> bool:
    """Whether ``to_yaml`` writes ``obj`` directly (else through PyYAML)."""
    try:
        dump(obj)
    except NotAlike:
        return False
    return True


def _cold_yaml(files: list) -> list[str]:
    """Every file through ``to_yaml`` with an empty scalar cache, as in a fresh process."""
    scalar.cache_clear()
    return [to_yaml(f.obj) for f in files]


def _best(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """The shortest of ``repeat`` runs of ``fn`` (seconds) and its last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=121)
    parser.add_argument("--workloads-per-ns", type=int, default=5)
    parser.add_argument("--hours", type=float, default=0.5, help="simulated window")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    cluster = large_app(
        namespaces=args.namespaces, workloads_per_ns=args.workloads_per_ns, hours=args.hours
    )
    with tempfile.TemporaryDirectory() as tmp:
        write_hubble(cluster, Path(tmp) / "flows", gzip=False)
        rec = propose(observe([Path(tmp) / "flows"]))
        kind = OutputKind()
        n = args.repeat
        t_files, files = _best(n, lambda: render_files(rec, kind))
        t_pure, pure = _best(n, lambda: [_pure_yaml(f.obj) for f in files])
        t_fast, fast = _best(n, lambda: _cold_yaml(files))
        t_report, report = _best(n, lambda: build_report(rec, output=kind, files=files))
        t_json, slow_json = _best(n, lambda: json.dumps(report, indent=2, sort_keys=True))
        t_fast_json, fast_json = _best(n, lambda: dumps_sorted(report))
        t_summary, _ = _best(n, lambda: render_summary(rec, report, files))
        t_write, _ = _best(n, lambda: write_proposal(rec, Path(tmp) / "proposal"))
    alike = sum(_direct(f.obj) for f in files)
    print(f"{len(files)} policy files ({alike} written directly)")
    print(f"best of {n}, seconds")
    for name, secs in (
        ("policy objects", t_files),
        ("YAML, pure PyYAML (before)", t_pure),
        ("YAML, to_yaml (after)", t_fast),
        ("report.json: build", t_report),
        ("report.json: json.dumps (before)", t_json),
        ("report.json: dumps_sorted (after)", t_fast_json),
        ("SUMMARY.md", t_summary),
        ("write_proposal (all)", t_write),
    ):
        print(f"  {name:<36} {secs:>8.3f}")
    print(f"YAML speed-up {t_pure / t_fast:.1f}x; bytes identical: {pure == fast}")
    print(f"JSON speed-up {t_json / t_fast_json:.1f}x; bytes identical: {slow_json == fast_json}")


if __name__ == "__main__":
    main()
