"""Stage-by-stage timings of `recommend` on simulated Hubble traffic.

    python benchmarks/pipeline.py [--hours 24]

Prints records, seconds and records/s per stage. Figures, not assertions: performance is
measured here, never in unit tests.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from recommender.at_risk import find_at_risk
from recommender.connections import build_connections, observed_pods
from recommender.generate.k8s import render_policy
from recommender.generate.synthesis import synthesize
from recommender.ingest import read_flows
from recommender.netpol.breadth import measure_breadth
from recommender.netpol.evaluator import Evaluator
from recommender.selectors import workload_selectors
from recommender.simulate import shop_cluster, write_hubble
from recommender.verify import coverage, replay
from recommender.workloads import assign_workloads, workload_connections, workload_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0, help="simulated window")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cluster = shop_cluster(seed=7, hours=args.hours)
        files = write_hubble(cluster, Path(tmp), gzip=False)
        size = sum(f.stat().st_size for f in files)
        timings = []

        def stage(name, fn):
            start = time.perf_counter()
            result = fn()
            timings.append((name, time.perf_counter() - start))
            return result

        flowset = stage("ingest", lambda: read_flows([tmp]))
        conns = stage("connections", lambda: build_connections(flowset.table))
        pods = stage("workloads", lambda: assign_workloads(observed_pods(flowset.table)))
        wconns = workload_connections(conns.table, pods)
        selections = stage("selectors", lambda: workload_selectors(pods))
        synthesis = stage("generate", lambda: synthesize(wconns, workload_table(pods), selections))
        policies = [render_policy(p) for p in synthesis.policies]
        evaluator = Evaluator(policies)
        replayed = stage("replay", lambda: replay(conns.table, evaluator, pods))
        at_risk = stage("at risk", lambda: find_at_risk(conns, replayed, evaluator, pods, policies))
        breadth = stage(
            "breadth",
            lambda: measure_breadth(evaluator, pods, wconns, resolvers=synthesis.resolvers),
        )
    records = flowset.counts.read
    print(f"input: {records} records, {size / 1e6:.1f} MB of Hubble JSON, {args.hours} h")
    print(f"{'stage':<12} {'seconds':>8} {'records/s':>12}")
    for name, secs in timings:
        print(f"{name:<12} {secs:>8.3f} {records / secs if secs else 0:>12,.0f}")
    total = sum(s for _, s in timings)
    print(f"{'total':<12} {total:>8.3f} {records / total:>12,.0f}")
    print(
        f"connections {len(conns.table)}, policies {len(policies)}, "
        f"coverage {coverage(replayed)[0]:.2%}, at risk {at_risk.connections}, "
        f"breadth {breadth.total}"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
