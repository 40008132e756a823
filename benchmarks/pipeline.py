"""Stage-by-stage timings of `recommend` and `verify` on simulated Hubble traffic.

    python benchmarks/pipeline.py [--hours 24]

Times exactly what the CLI runs, through the public API: ``observe`` (read, connections),
``propose`` (selectors, generate, replay, at risk, breadth) and writing the proposal for
`recommend`; ``check`` of that proposal against the same observation for `verify` (whose
``observe`` is the one above). Prints records, seconds and records/s per stage. Figures,
not assertions: performance is measured here, never in unit tests.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
from pathlib import Path

from recommender import StageTimes, check, observe, propose, write_proposal
from recommender.sim import shop_cluster, write_hubble


def _table(title: str, times: StageTimes, records: int) -> None:
    print(f"{title:<14} {'seconds':>8} {'records/s':>12}")
    for name, secs in times.items():
        print(f"  {name:<12} {secs:>8.3f} {records / secs if secs else 0:>12,.0f}")
    total = sum(times.values())
    print(f"  {'total':<12} {total:>8.3f} {records / total if total else 0:>12,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0, help="simulated window")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        flows = Path(tmp) / "flows"
        cluster = shop_cluster(seed=7, hours=args.hours)
        files = write_hubble(cluster, flows, gzip=False)
        size = sum(f.stat().st_size for f in files)
        recommend_times, verify_times = StageTimes(), StageTimes()
        observation = observe([flows], times=recommend_times)
        rec = propose(observation, times=recommend_times)
        with recommend_times("write"):
            write_proposal(rec, Path(tmp) / "proposal")
        run = check(rec.policies, observation, times=verify_times)
    records = observation.counts.read
    print(f"input: {records} records, {size / 1e6:.1f} MB of Hubble JSON, {args.hours} h")
    _table("recommend", recommend_times, records)
    _table("verify", verify_times, records)
    print(
        f"connections {len(observation.connections)}, policies {len(rec.policies)}, "
        f"coverage {rec.coverage:.2%}, at risk {rec.at_risk.connections}, "
        f"breadth {rec.breadth.total}; verify coverage {run.coverage:.2%}"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
