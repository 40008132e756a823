"""How each stage grows with the cluster: simulated clusters of 50 to 2,000 workloads.

    python benchmarks/scale.py [--sizes 50,200,600,2000] [--hours 1] [--roles] [--peer]
                               [--data DIR] [--repeat 1] [--gb 1,5] [--quick]

For each size the simulator's ``large_app`` builds a cluster of about that many workloads,
four per app namespace (so 2,000 workloads span 500 namespaces: names repeat in every
namespace, legacy and ``app.kubernetes.io`` labels alternate, cross-namespace calls, DNS,
Prometheus scrapes, probes, rollouts, a CronJob), and ``write_hubble`` renders ``--hours``
of its traffic as Hubble JSON lines, one file per node.

Then, each in a fresh process, one run at a time:

* **stages**: the library API with a :class:`recommender.StageTimes` (the very code the CLI
  runs): ``observe`` (read, connections: workloads and workload connections included),
  ``propose`` (selectors, generate, replay, at risk, breadth), writing the proposal, and
  ``check`` of that proposal (the `verify` replay). ``--roles`` adds a ``propose`` with
  ``--generalize role`` (its stages prefixed ``role:``). The process's peak memory (its
  resident set and its ingest workers', summed, sampled from /proc) is reported.
  "end to end / read" is the whole recommend (observe, propose, write) over ingest alone
  (the ``read`` stage: raw files to aggregated connections) on the same records. Every
  stage has its wall seconds and its CPU seconds (``NAME cpu``: ``time.process_time`` of
  the stage process; ``read cpu`` adds its ingest workers' CPU, read once they exit), and
  the ratio is given in both: on a shared machine wall time follows the load. With
  ``--repeat N`` each stage's figure is its best over the N runs.
* **whole process**: ``netpol-recommender recommend DIR -o OUT``, wall seconds and peak
  memory summed over the process tree, imports included.
* **peer** (``--peer``): ``hubble-audit2policy`` (a benchmark-only dependency, never a
  runtime one: ``pip install hubble-audit2policy``) on the same records, concatenated
  into one file because it reads one; its wall seconds, memory and the ratio to ours.

Growth columns are the ratio of a figure between consecutive sizes; compare them with the
growth of records and connections (the "records" and "observed conns" rows): a stage that
grows faster than its input is superlinear.

``--gb 1,5``: bounded memory. The whole ``recommend`` process on about 1 GB of simulated
Hubble JSON (one namespace, ``shop_cluster``), and on 5 GB made of five hard-linked copies
of those files (the same connections in five times the records): seconds and peak memory
summed over the process tree; with ``--peer``, the peer on the same records too (``--gb 0.4
--peer``: issue 13's one-namespace capture of about 400 MB). Figures, not assertions:
performance is measured here, never in unit tests. ``--data DIR`` keeps the generated
files for re-runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
for _path in (ROOT, HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from proctree import TreeMemory, run_measured  # noqa: E402

#: app workloads per namespace; the platform adds envoy, CoreDNS, Prometheus, the canary
#: and the CronJob
PER_NAMESPACE = 4
PEER = "hubble-audit2policy"


def peer_command() -> str | None:
    """The peer's script: on PATH, or beside this Python (an unactivated virtualenv)."""
    beside = Path(sys.executable).parent / PEER
    return shutil.which(PEER) or (str(beside) if beside.exists() else None)


SIZES = (50, 200, 600, 2000)


@dataclass
class SizeResult:
    """What one size measured."""

    size: int
    facts: dict[str, float] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)


def generate(size: int, hours: float, out: Path) -> Path:
    """Hubble JSON lines for a cluster of about ``size`` workloads (kept when present)."""
    flows = out / "hubble"
    done = out / "done.json"
    if done.exists():
        return flows
    from recommender.sim import large_app, write_hubble

    namespaces = max(2, round(size / PER_NAMESPACE))
    cluster = large_app(seed=7, hours=hours, namespaces=namespaces, workloads_per_ns=PER_NAMESPACE)
    if flows.exists():
        shutil.rmtree(flows)
    write_hubble(cluster, flows, gzip=False)
    done.write_text(json.dumps({"namespaces": namespaces, "hours": hours}))
    return flows


def single_file(flows: Path) -> Path:
    """The node files concatenated (the peer reads one file), in name order."""
    target = flows.parent / f"{flows.name}-all.jsonl"
    if not target.exists():
        with open(target, "wb") as out:
            for path in sorted(flows.iterdir()):
                with open(path, "rb") as part:
                    shutil.copyfileobj(part, out, 1 << 20)
    return target


# ------------------------------------------------------------------ one size, fresh process


class WallAndCpu:
    """Stage -> wall seconds (a :class:`recommender.StageTimes`) and CPU seconds of this
    process (``time.process_time``: on a machine shared with other work, CPU time is the
    figure that does not follow the load)."""

    def __init__(self) -> None:
        from recommender import StageTimes

        self.wall = StageTimes()
        self.cpu: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.process_time()
        try:
            with self.wall(name):
                yield
        finally:
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - start

    def stages(self, prefix: str = "") -> dict[str, float]:
        """Each stage's wall seconds, then its CPU seconds (``NAME cpu``)."""
        out = {}
        for name, seconds in self.wall.items():
            out[f"{prefix}{name}"] = seconds
            out[f"{prefix}{name} cpu"] = self.cpu[name]
        return out


def worker_cpu() -> float:
    """CPU seconds of this process's exited children (the ingest workers), once every one
    has exited and been reaped: the read stage leaves its workers to exit on their own."""
    import multiprocessing

    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.01)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(flows: str, out: str, roles: bool) -> None:
    """In a fresh process: every stage through the library API; prints JSON figures."""
    import pandas  # noqa: F401 - the CLI loads it at start; not a stage

    from recommender import SynthesisOptions, check, observe, propose, write_proposal

    memory = TreeMemory()
    times = WallAndCpu()
    obs = observe([flows], times=times)  # type: ignore[arg-type]
    # the ingest workers' CPU belongs to the read (only the read starts workers)
    times.cpu["read"] += worker_cpu()
    rec = propose(obs, times=times)  # type: ignore[arg-type]
    with times("write"):
        write_proposal(rec, out)
    end_to_end = sum(times.wall.values())
    end_to_end_cpu = sum(times.cpu.values())
    verify = WallAndCpu()
    check(rec.policies, obs, times=verify)  # type: ignore[arg-type]
    stages = times.stages()
    stages.update(verify.stages("verify:"))
    if roles:
        role_times = WallAndCpu()
        propose(obs, SynthesisOptions(generalize="role"), times=role_times)  # type: ignore[arg-type]
        stages.update(role_times.stages("role:"))
    facts = {
        "records": obs.counts.read,
        "observed conns": len(obs.connections),
        "workloads": int(obs.pods["workload"].nunique()),
        "namespaces": int(obs.pods["namespace"].nunique()),
        "policies": len(rec.policies),
        "end to end": end_to_end,
        "e2e / read": end_to_end / times.wall["read"],
        "end to end cpu": end_to_end_cpu,
        "e2e / read cpu": end_to_end_cpu / times.cpu["read"],
        "after read cpu": end_to_end_cpu - times.cpu["read"],
        "peak MiB": memory.stop(),
    }
    print(json.dumps({"facts": facts, "stages": stages}))


def run_size(size: int, flows: Path, scratch: Path, args: argparse.Namespace) -> SizeResult:
    """Stages (best of ``--repeat`` fresh processes), whole process, and the peer."""
    result = SizeResult(size)
    runs = []
    for _ in range(args.repeat):
        out = scratch / "stages"
        command = [sys.executable, __file__, "--measure", str(flows), "--out", str(out)]
        if args.roles:
            command.append("--roles")
        proc = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        shutil.rmtree(out, ignore_errors=True)
    best = min(runs, key=lambda r: r["facts"]["end to end"])
    result.facts.update(best["facts"])
    result.stages.update(best["stages"])
    if len(runs) > 1:
        best_stages(result, runs)
    result.facts["size MB"] = sum(p.stat().st_size for p in flows.iterdir()) / 1e6
    ours = whole_process(flows, scratch / "proposal", args.repeat)
    result.facts["process s"], result.facts["process MiB"] = ours
    if args.peer and peer_command():
        peer = whole_peer(single_file(flows), scratch / "peer", args.repeat)
        result.facts["peer s"], result.facts["peer MiB"] = peer
        result.facts["peer / us"] = peer[0] / ours[0]
    return result


def best_stages(result: SizeResult, runs: list[dict]) -> None:
    """Each stage's best (lowest) wall and CPU seconds over the runs, and end to end and
    its ratios from those: on a shared machine, one slow stage in a run says nothing about
    the others."""
    for name in result.stages:
        result.stages[name] = min(r["stages"][name] for r in runs)
    recommend = [k for k in result.stages if ":" not in k and not k.endswith(" cpu")]
    wall = sum(result.stages[k] for k in recommend)
    cpu = sum(result.stages[f"{k} cpu"] for k in recommend)
    result.facts["end to end"] = wall
    result.facts["e2e / read"] = wall / result.stages["read"]
    result.facts["end to end cpu"] = cpu
    result.facts["e2e / read cpu"] = cpu / result.stages["read cpu"]
    result.facts["after read cpu"] = cpu - result.stages["read cpu"]


def whole_process(flows: Path, out: Path, repeat: int) -> tuple[float, float]:
    """``netpol-recommender recommend``: best wall seconds, and the highest tree peak."""
    command = [sys.executable, "-m", "recommender.cli", "recommend", str(flows), "-o", str(out)]
    return _best(command, out, repeat, cwd=ROOT)


def whole_peer(flows: Path, out: Path, repeat: int) -> tuple[float, float]:
    """The peer on the same records, written to ``out``."""
    command = [peer_command() or PEER, str(flows), "-o", str(out)]
    return _best(command, out, repeat)


def _best(command: list[str], out: Path, repeat: int, **kwargs: object) -> tuple[float, float]:
    seconds, peak = [], []
    for _ in range(repeat):
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        run = run_measured(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
        if run.returncode != 0:
            raise SystemExit(f"{command[0]} exited with {run.returncode}")
        seconds.append(run.seconds)
        peak.append(run.peak_mib)
    shutil.rmtree(out, ignore_errors=True)
    return min(seconds), max(peak)


# ------------------------------------------------------------------ bounded memory

#: Hubble JSON per simulated hour of ``shop_cluster(seed=7)`` (benchmarks/ingest.py's figure)
BYTES_PER_HOUR = 3.0e6


def big_inputs(gbs: list[float], data: Path) -> list[tuple[float, Path]]:
    """Directories of about each size in GB: the smallest is simulated (``shop_cluster``,
    one namespace, generated in a separate process: the simulator holds its output in
    memory); larger ones are hard-linked copies of its files, so they hold the same
    connections in proportionally more records: what memory bounded by the connections,
    not the records, must show."""
    base_gb = min(gbs)
    base = data / f"big-{base_gb:g}gb"
    if not (base / "done").exists():
        shutil.rmtree(base, ignore_errors=True)
        hours = base_gb * 1e9 / BYTES_PER_HOUR
        script = (
            "import sys; from pathlib import Path; from recommender.sim import shop_cluster,"
            f" write_hubble; write_hubble(shop_cluster(seed=7, hours={hours}),"
            " Path(sys.argv[1]) / 'hubble', gzip=False)"
        )
        subprocess.run([sys.executable, "-c", script, str(base)], check=True, cwd=ROOT)
        (base / "done").write_text("")
    files = sorted((base / "hubble").iterdir())
    out = []
    for gb in gbs:
        copies = max(1, round(gb / base_gb))
        target = base / "hubble" if copies == 1 else data / f"big-{base_gb:g}gb-x{copies}"
        if copies > 1 and not target.exists():
            target.mkdir(parents=True)
            for i in range(copies):
                for f in files:
                    os.link(f, target / f"copy{i}-{f.name}")
        out.append((gb, target))
    return out


def memory_table(
    gbs: list[float], data: Path, scratch: Path, repeat: int, peer: bool = False
) -> str:
    """The whole ``recommend`` process on each big input: seconds and peak tree memory;
    with ``peer``, the peer's on the same records (one file) and our speed-up over it."""
    head = f"{'input':>8} {'files':>6} {'GB':>6} {'seconds':>8} {'peak MiB':>9}"
    if peer:
        head += f" {'peer s':>8} {'peer MiB':>9} {'peer/us':>8}"
    lines = [head]
    for gb, flows in big_inputs(gbs, data):
        size = sum(p.stat().st_size for p in flows.iterdir()) / 1e9
        seconds, peak = whole_process(flows, scratch / "big-proposal", repeat)
        files = len(list(flows.iterdir()))
        line = f"{gb:>6g}GB {files:>6} {size:>6.2f} {seconds:>8.2f} {peak:>9,.0f}"
        if peer:
            theirs, their_peak = whole_peer(single_file(flows), scratch / "big-peer", repeat)
            line += f" {theirs:>8.2f} {their_peak:>9,.0f} {theirs / seconds:>8.2f}"
        lines.append(line)
    return "\n".join(lines)


# ------------------------------------------------------------------ the table

FACT_ROWS = (
    ("namespaces", "{:,.0f}"),
    ("workloads", "{:,.0f}"),
    ("records", "{:,.0f}"),
    ("size MB", "{:,.0f}"),
    ("observed conns", "{:,.0f}"),
    ("policies", "{:,.0f}"),
)
TAIL_ROWS = (
    ("end to end", "{:.3f}"),
    ("e2e / read", "{:.2f}"),
    ("end to end cpu", "{:.3f}"),
    ("e2e / read cpu", "{:.2f}"),
    ("after read cpu", "{:.3f}"),
    ("peak MiB", "{:,.0f}"),
    ("process s", "{:.2f}"),
    ("process MiB", "{:,.0f}"),
    ("peer s", "{:.2f}"),
    ("peer MiB", "{:,.0f}"),
    ("peer / us", "{:.2f}"),
)


def table(results: list[SizeResult]) -> str:
    """Sizes as columns, then the growth between consecutive sizes."""
    head = f"{'':<22}" + "".join(f"{r.size:>10,}" for r in results)
    pairs = list(zip(results, results[1:], strict=False))
    head += "".join(f"{f'x {a.size}->{b.size}':>16}" for a, b in pairs)
    lines = [head]
    stage_names = list(dict.fromkeys(k for r in results for k in r.stages))
    rows = [(name, fmt, "facts") for name, fmt in FACT_ROWS]
    rows += [(name, "{:.3f}", "stages") for name in stage_names]
    rows += [(name, fmt, "facts") for name, fmt in TAIL_ROWS]
    for name, fmt, where in rows:
        values = [getattr(r, where).get(name) for r in results]
        if all(v is None for v in values):
            continue
        line = f"{name:<22}" + "".join(
            f"{fmt.format(v) if v is not None else '-':>10}" for v in values
        )
        for a, b in zip(values, values[1:], strict=False):
            growth = b / a if a and b is not None else None
            line += f"{f'{growth:.2f}' if growth is not None else '-':>16}"
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="workloads, a list")
    parser.add_argument("--hours", type=float, default=1.0, help="simulated window per size")
    parser.add_argument("--roles", action="store_true", help="also propose --generalize role")
    parser.add_argument("--peer", action="store_true", help=f"also run {PEER} when installed")
    parser.add_argument("--data", help="keep generated files here (re-used when present)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (best)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a CI smoke run")
    parser.add_argument(
        "--gb", default="", help="bounded memory: recommend on inputs of these GB (e.g. 1,5)"
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.out, args.roles)
        return
    if args.quick:
        args.sizes, args.hours = "12,24", 0.1
    sizes = [int(n) for n in args.sizes.split(",") if n.strip()]
    print(f"CPUs available: {len(os.sched_getaffinity(0))}, load average {os.getloadavg()[0]:.2f}")
    if args.peer and not peer_command():
        print(f"{PEER} is not installed (pip install {PEER}): no peer figures")
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        data = Path(args.data) if args.data else Path(tmp)
        results = []
        for size in sizes:
            start = time.perf_counter()
            flows = generate(size, args.hours, data / f"size-{size}-{args.hours:g}h")
            print(f"size {size}: data ready in {time.perf_counter() - start:.0f} s", flush=True)
            results.append(run_size(size, flows, Path(tmp), args))
        if results:
            print()
            print(table(results))
        gbs = [float(g) for g in args.gb.split(",") if g.strip()]
        if gbs:
            print()
            print("Bounded memory: the whole `recommend` process (best seconds, highest peak)")
            print(
                memory_table(gbs, data, Path(tmp), args.repeat, bool(peer_command()) and args.peer)
            )
    print(
        "Seconds per stage (each stage's best of --repeat fresh processes, wall and CPU;"
        " end to end is their sum); peak MiB: resident sets of the"
        " process and its workers, summed (sampled every 50 ms); process s / MiB: the whole"
        " `recommend` CLI process, imports included."
    )


if __name__ == "__main__":
    main()
