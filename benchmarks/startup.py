"""Start-up of the CLI: `recommend` and `verify` on 100 Hubble records, whole process.

    python benchmarks/startup.py [--repeat 5] [--records 100] [--repo CHECKOUT]

Takes the first ``--records`` lines of ``sample_flows/hubble-shop-worker.jsonl.gz``, runs
``python -m recommender.cli recommend`` on them, then ``verify`` of that proposal against
them, each ``--repeat`` times in a fresh interpreter, one run at a time, and prints the
least wall-clock and CPU seconds and peak RSS of each (the process's own, from ``wait4``),
beside the bare ``import pandas`` floor. ``--repo`` runs another checkout's
``recommender`` (a before/after pair on the same machine). Figures, not assertions.
Target (issue 13): under 0.5 s and 150 MB on a 2-core machine.

Bytecode: the runs measure what an installed tool costs, with compiled ``.pyc`` files. A
``pip install`` writes them for the package; an editable install writes them on first
import, unless ``PYTHONDONTWRITEBYTECODE`` is set (it is on some CI and sandbox machines),
and then every run compiles the package's ~90 modules from source again (0.2-0.4 s here).
So the children run without that variable, after one unmeasured warm-up run of each case
that writes the cache; ``--cold`` keeps the caller's environment and no warm-up.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_flows" / "hubble-shop-worker.jsonl.gz"


def _run(args: list[str], repo: Path, cold: bool = False) -> tuple[float, float, float]:
    """One process: (wall seconds, CPU seconds, peak RSS in MB); it must exit 0."""
    env = {**os.environ, "PYTHONPATH": str(repo)}
    if not cold:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    quiet = subprocess.DEVNULL
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *args], cwd=repo, env=env, stdout=quiet, stderr=quiet)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {proc.returncode}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _best(args: list[str], repeat: int, repo: Path, cold: bool = False) -> tuple[float, ...]:
    """The least wall and CPU time of ``repeat`` runs and the lowest peak RSS (CPU time
    shows less of what other processes on a shared machine cost)."""
    if not cold:
        _run(args, repo)  # writes the bytecode cache; not measured
    runs = [_run(args, repo, cold) for _ in range(repeat)]
    return tuple(min(r[i] for r in runs) for i in range(3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="best of this many runs")
    parser.add_argument("--records", type=int, default=100, help="Hubble records to read")
    parser.add_argument("--repo", type=Path, default=ROOT, help="checkout to run")
    parser.add_argument(
        "--cold", action="store_true", help="keep PYTHONDONTWRITEBYTECODE; no warm-up run"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        flows = Path(tmp) / "h.jsonl"
        with gzip.open(SAMPLE, "rt", encoding="utf-8") as src:
            flows.write_text("".join(itertools.islice(src, args.records)), encoding="utf-8")
        out = Path(tmp) / "proposal"
        cli = ["-m", "recommender.cli"]
        cases = {
            "import pandas (floor)": ["-c", "import pandas"],
            "recommend": [*cli, "recommend", str(flows), "-o", str(out)],
            "verify": [*cli, "verify", "--policies", str(out / "policies"), str(flows)],
        }
        bytecode = "as the environment says" if args.cold else "cached"
        print(
            f"{args.records} Hubble records, best of {args.repeat}, {os.cpu_count()} CPUs, "
            f"{args.repo.resolve()}, bytecode {bytecode}"
        )
        print(f"  {'':<22} {'seconds':>8} {'CPU s':>8} {'peak MB':>8}")
        for name, case in cases.items():
            secs, cpu, peak = _best(case, args.repeat, args.repo.resolve(), args.cold)
            print(f"  {name:<22} {secs:>8.3f} {cpu:>8.3f} {peak:>8.0f}")


if __name__ == "__main__":
    main()
