"""Start-up of the CLI: `recommend` and `verify` on 100 Hubble records, whole process.

    python benchmarks/startup.py [--repeat 5] [--records 100] [--repo CHECKOUT]

Takes the first ``--records`` lines of ``sample_flows/hubble-shop-worker.jsonl.gz``, runs
``python -m recommender.cli recommend`` on them, then ``verify`` of that proposal against
them, each ``--repeat`` times in a fresh interpreter, one run at a time, and prints the
least wall-clock and CPU seconds and peak RSS of each (the process's own, from ``wait4``).
``--repo`` runs another checkout's ``recommender`` (a before/after pair on the same
machine). Figures, not assertions. Target (issue 13): under 0.5 s and 150 MB on a 2-core
machine.

Above them, the floor and what is ours: the bare interpreter; ``import pandas``; the
imports no run can do without (pandas, with numpy and pyarrow; click; msgspec) as the
CLI runs them (one OpenBLAS thread, the cyclic GC off, the heap frozen for the exit); and,
alike, every module a ``recommend`` run loads (listed by one unmeasured run), imported
without running anything.
So ``recommend`` minus the mandated row is ours: the last import row minus the mandated one
is our imports (and what they pull in), ``recommend`` minus the last import row the work.

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


#: The imports no run can do without: pandas (with numpy and pyarrow) for every stage after
#: ``connections``, click and msgspec. A ``recommend`` on JSON loads neither PyYAML (only
#: ``verify`` reads YAML) nor pyarrow.parquet, and pyarrow's acero engine (for
#: ``Table.group_by``) is our choice: those count as ours.
MANDATED = "pandas, click, msgspec"
#: As the CLI's process runs (recommender.cli): one OpenBLAS thread (the others would spin
#: on idle cores: CPU time beyond the wall time), the cyclic GC off, the heap frozen.
AS_THE_CLI = (
    "import gc, os; os.environ.setdefault('OPENBLAS_NUM_THREADS', '1'); gc.disable(); {}; "
    "gc.freeze()"
)

_LIST_MODULES = """
import atexit, sys
from pathlib import Path
listing = Path(sys.argv[1])
atexit.register(lambda: listing.write_text("\\n".join(sorted(sys.modules))))
from recommender.cli import main
main(sys.argv[2:])
"""

_IMPORT_LISTED = """
import gc, importlib, os, sys
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
gc.disable()
for name in open(sys.argv[1]).read().split():
    try:
        importlib.import_module(name)
    except ImportError:  # a module made at run time (e.g. by a zipimport hook)
        pass
gc.freeze()
"""


def _modules_of(args: list[str], repo: Path, listing: Path) -> list[str]:
    """Arguments of a process that imports every module a CLI run with ``args`` loads
    (listed by one run of it, into ``listing``), and runs nothing."""
    _run(["-c", _LIST_MODULES, str(listing), *args], repo)
    return ["-c", _IMPORT_LISTED, str(listing)]


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
        recommend = ["recommend", str(flows), "-o", str(out)]
        repo = args.repo.resolve()
        cases = {
            "python": ["-c", "pass"],
            "import pandas": ["-c", "import pandas"],
            "mandated imports": ["-c", AS_THE_CLI.format(f"import {MANDATED}")],
            "recommend's imports": _modules_of(recommend, repo, Path(tmp) / "modules"),
            "recommend": [*cli, *recommend],
            "verify": [*cli, "verify", "--policies", str(out / "policies"), str(flows)],
        }
        bytecode = "as the environment says" if args.cold else "cached"
        print(
            f"{args.records} Hubble records, best of {args.repeat}, {os.cpu_count()} CPUs, "
            f"{args.repo.resolve()}, bytecode {bytecode}"
        )
        print(f"  {'':<22} {'seconds':>8} {'CPU s':>8} {'peak MB':>8}")
        cpus = {}
        for name, case in cases.items():
            secs, cpus[name], peak = _best(case, args.repeat, repo, args.cold)
            print(f"  {name:<22} {secs:>8.3f} {cpus[name]:>8.3f} {peak:>8.0f}")
        floor, imports = cpus["mandated imports"], cpus["recommend's imports"]
        print(
            f"recommend, CPU: floor {floor:.3f} s (mandated imports), ours "
            f"{cpus['recommend'] - floor:.3f} s: imports {imports - floor:.3f} s, "
            f"work {cpus['recommend'] - imports:.3f} s"
        )


if __name__ == "__main__":
    main()
