"""Replay 1 million connections against 1,000 policies (synthetic, seeded).

    python benchmarks/replay.py [--connections 1000000] [--policies 1000] [--without-classes]

Prints sizes, seconds per phase, connections/s, distinct evaluations and peak RSS. Figures,
not assertions. The cluster (5,000 pods in 1,000 workloads over 50 namespaces) and the policy
mix come from ``benchmarks/breadth.py``. ``--without-classes`` replays with
``share_classes=False`` (classes then keep full labels and pod IPs: exact, slower).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from breadth import peak_rss_mb, synthetic_cluster, synthetic_policies  # noqa: E402

from recommender.netpol.evaluator import Evaluator  # noqa: E402
from recommender.verify import coverage, replay  # noqa: E402


def synthetic_connections(cluster, n: int, *, seed: int = 3) -> pd.DataFrame:
    """``n`` connections in the shape ``build_connections`` gives: 90% pod to pod along the
    workload edges, 4% from the internet (many distinct addresses), 4% to the internet, 2%
    kubelet probes from nodes."""
    rng = np.random.default_rng(seed)
    pods = cluster.pods
    pod_ns = pods["namespace"].to_numpy(dtype=object)
    pod_name = pods["pod"].to_numpy(dtype=object)
    w_index = {w: i for i, w in enumerate(cluster.workloads)}
    edges = cluster.edges
    e_src = edges["src"].map(w_index).to_numpy()
    e_dst = edges["dst"].map(w_index).to_numpy()

    def pick_pod(workloads: np.ndarray) -> np.ndarray:
        offset = (rng.random(len(workloads)) * cluster.pod_count[workloads]).astype(np.int64)
        return cluster.pod_start[workloads] + offset

    kind = rng.choice(4, size=n, p=[0.90, 0.04, 0.04, 0.02])
    edge = rng.integers(len(edges), size=n)
    src_w, dst_w = e_src[edge], e_dst[edge]
    # Internet clients reach the frontends; pods reach the internet on 443.
    frontends = np.asarray([i for i, w in enumerate(cluster.workloads) if "/frontend-" in w])
    inbound, outbound, probe = kind == 1, kind == 2, kind == 3
    dst_w = np.where(inbound | probe, frontends[rng.integers(len(frontends), size=n)], dst_w)
    src_p, dst_p = pick_pod(src_w), pick_pod(dst_w)
    protocol = edges["protocol"].to_numpy(dtype=object)[edge]
    port = edges["port"].to_numpy(dtype=np.int64)[edge]
    protocol[inbound | outbound | probe] = "TCP"
    port[inbound | probe] = 8080
    port[outbound] = 443
    octets = rng.integers(0, 256, size=(n, 2))
    internet = np.char.add(
        np.char.add("198.51.", octets[:, 0].astype(str)), np.char.add(".", octets[:, 1].astype(str))
    ).astype(object)
    nodes = np.char.add("172.18.0.", (src_w % 16 + 2).astype(str)).astype(object)

    src_kind = np.full(n, "pod", dtype=object)
    src_kind[inbound] = "world"
    src_kind[probe] = "node"
    dst_kind = np.full(n, "pod", dtype=object)
    dst_kind[outbound] = "world"
    src_is_pod, dst_is_pod = src_kind == "pod", dst_kind == "pod"
    src_ip = np.where(inbound, internet, np.where(probe, nodes, None))
    return pd.DataFrame(
        {
            "src_kind": src_kind,
            "src_namespace": np.where(src_is_pod, pod_ns[src_p], None),
            "src_pod": np.where(src_is_pod, pod_name[src_p], None),
            "src_ip": src_ip,
            "dst_kind": dst_kind,
            "dst_namespace": np.where(dst_is_pod, pod_ns[dst_p], None),
            "dst_pod": np.where(dst_is_pod, pod_name[dst_p], None),
            "dst_ip": np.where(outbound, internet, None),
            "protocol": protocol,
            "port": port.astype(np.int32),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1_000_000)
    parser.add_argument("--policies", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--workloads", type=int, default=1000)
    parser.add_argument("--without-classes", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    cluster = synthetic_cluster(pods=args.pods, workloads=args.workloads)
    policies = synthetic_policies(cluster, args.policies)
    conns = synthetic_connections(cluster, args.connections)
    generated = time.perf_counter() - start
    start = time.perf_counter()
    evaluator = Evaluator(policies)
    compiled = time.perf_counter() - start
    stats: dict = {}
    start = time.perf_counter()
    replayed = replay(
        conns,
        evaluator,
        cluster.pods,
        share_classes=not args.without_classes,
        stats=stats,
    )
    total = time.perf_counter() - start
    share, ok, judged = coverage(replayed)
    n = len(conns)
    print(
        f"input: {n:,} connections, {len(cluster.pods)} pods, {len(cluster.workloads)} "
        f"workloads, {len(cluster.namespaces)} namespaces, {len(policies)} policies"
    )
    print(f"generate synthetic input   {generated:8.3f} s")
    print(f"compile (Evaluator)        {compiled:8.3f} s")
    for phase, secs in stats["seconds"].items():
        print(f"replay: {phase:<18} {secs:8.3f} s")
    print(f"replay total               {total:8.3f} s  ({n / total:,.0f} connections/s)")
    print(
        f"classes: {stats['pod_classes']} pod, {stats['address_classes']} address; "
        f"distinct evaluations {stats['evaluations']:,} "
        f"({n / max(1, stats['evaluations']):,.0f} connections per evaluation)"
    )
    print(
        f"judged {judged:,}, allowed {ok:,} ({share:.2%}), exempt {int(replayed['exempt'].sum()):,}"
    )
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
