"""Ingest throughput per format, and peak memory on 1 GB of Hubble JSON.

    python benchmarks/ingest.py [--gb 1.0] [--workers 2] [--records 40000] [--repeat 3]
                                [--skip-big] [--skip-formats]

Part 1, per format (hubble, calico-ee, aws-vpc, antrea, ig-trace-tcp, generic): one input of
about ``--records`` records (the simulator's renderers for Hubble, Calico and AWS VPC;
copies of one documented record with varied ports and times for the others), read in one
process:
* parse only: records/s of ``iter_flow_batches``;
* raw file -> connections: the same, with every batch streamed into the connections
  aggregator and its result built.
For Hubble the reference parser (``fast=False``) is timed too; the other formats have no
fast path (their parser is the reference). Inputs this small do not start worker
processes; part 2 shows them.

Part 2: about ``--gb`` GB of simulated Hubble JSON (``write_hubble(shop_cluster(seed=7,
hours=H))``, H from the size) streamed from raw files to connections, in a fresh process
per run, with 1 process and with ``--workers`` processes (this one included): records,
seconds, records/s, CPU seconds and peak RSS (``getrusage`` of the process and of its
worker processes, and the peak of their sum sampled from /proc). With ``--workers`` processes
the connections are also built by ``ingest.aggregate_inputs`` ("aggr. in workers": each
task is aggregated where it is parsed and the partial aggregates are merged; the path
``recommend`` and ``verify`` take without an inventory; Hubble records are folded there,
see ``fast_hubble._Folder``). Each configuration runs ``--repeat`` times: the table shows
the fastest run, the lines below it every run (a shared machine's spread is wide). Library
imports (pandas included, which the CLI loads at start) are not timed.

Figures, not assertions: performance is measured here, never in unit tests. Temporary files
are removed at the end.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pandas  # noqa: E402, F401 - the pipeline and CLI load it at start; not timed here

from recommender.accounting import RecordCounts  # noqa: E402
from recommender.ingest import iter_flow_batches, local_batches  # noqa: E402
from recommender.ingest.sources import expand_inputs  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from proctree import TreeMemory, status_kb  # noqa: E402

#: Hubble JSON per simulated hour of ``shop_cluster(seed=7)`` (measured: ~3 MB).
BYTES_PER_HOUR = 3.0e6


# --------------------------------------------------------------------------- inputs


def _hours_for(records: int) -> float:
    return max(1.0, records / 2000)  # the shop cluster makes ~2,000 Hubble records/hour


def make_hubble(out: Path, records: int) -> None:
    from recommender.sim import shop_cluster, write_hubble

    write_hubble(shop_cluster(seed=7, hours=_hours_for(records)), out, gzip=False)


def make_calico(out: Path, records: int) -> None:
    from recommender.sim import shop_cluster, write_calico

    write_calico(shop_cluster(seed=7, hours=_hours_for(records) * 4), out)


def make_aws(out: Path, records: int) -> None:
    from recommender.sim import shop_cluster, write_aws_vpc

    write_aws_vpc(shop_cluster(seed=7, hours=_hours_for(records)), out, gzip=False)


ANTREA = {  # a Theia ``flows`` row in ClickHouse JSONEachRow (docs/network-flow-visibility)
    "flowStartSeconds": "2024-05-01 10:00:00",
    "flowEndSeconds": "2024-05-01 10:00:15",
    "flowEndReason": 3,
    "sourceIP": "10.244.1.5",
    "destinationIP": "10.244.2.7",
    "sourceTransportPort": 41234,
    "destinationTransportPort": 5432,
    "protocolIdentifier": 6,
    "packetDeltaCount": "12",
    "octetDeltaCount": "900",
    "reversePacketDeltaCount": "10",
    "reverseOctetDeltaCount": "8000",
    "sourcePodName": "web-7f9c-abcde",
    "sourcePodNamespace": "shop",
    "sourceNodeName": "node-a",
    "destinationPodName": "db-0",
    "destinationPodNamespace": "shop",
    "destinationNodeName": "node-b",
    "destinationClusterIP": "10.96.12.34",
    "destinationServicePort": 15432,
    "destinationServicePortName": "shop/db:postgres",
    "ingressNetworkPolicyName": "db-ingress",
    "ingressNetworkPolicyNamespace": "shop",
    "ingressNetworkPolicyRuleAction": 1,
    "ingressNetworkPolicyType": 1,
    "tcpState": "ESTABLISHED",
    "flowType": 2,
    "sourcePodLabels": '{"app":"web","pod-template-hash":"7f9c"}',
    "destinationPodLabels": '{"app":"db"}',
    "trusted": 0,
}
IG_TRACE_TCP = {  # ``kubectl gadget run trace_tcp -o json`` (docs/reference/run.mdx)
    "comm": "wget",
    "src": {"addr": "10.244.0.8", "port": 41464, "proto": "TCP", "proto_raw": 6, "version": 4},
    "dst": {
        "addr": "10.244.0.9",
        "port": 8080,
        "proto": "TCP",
        "proto_raw": 6,
        "version": 4,
        "k8s": {"kind": "pod", "namespace": "shop", "name": "db-0", "labels": "app=db,tier=data"},
    },
    "k8s": {
        "containerName": "web",
        "hostnetwork": False,
        "namespace": "shop",
        "node": "minikube",
        "podName": "web-1",
    },
    "netns_id": 4026535383,
    "timestamp": "2024-07-31T18:38:31.977700392Z",
    "timestamp_raw": 1722451111977700392,
    "type": "connect",
    "type_raw": 0,
}
GENERIC_COLUMNS = (
    "time",
    "src_ip",
    "src_namespace",
    "src_pod",
    "src_labels",
    "dst_namespace",
    "dst_pod",
    "dst_labels",
    "dst_port",
    "protocol",
    "verdict",
    "flows",
    "observer",
)


def make_antrea(out: Path, records: int) -> None:
    with open(out / "antrea-flows.json", "w") as f:
        for i in range(records):
            rec = dict(ANTREA)
            rec["sourceTransportPort"] = 32768 + i % 28000
            rec["destinationTransportPort"] = 5432 + i % 7
            s = i % 86400
            rec["flowStartSeconds"] = f"2024-05-01 {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"
            rec["flowEndSeconds"] = rec["flowStartSeconds"]
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")


def make_ig(out: Path, records: int) -> None:
    with open(out / "ig-trace-tcp.json", "w") as f:
        for i in range(records):
            rec = json.loads(json.dumps(IG_TRACE_TCP))
            rec["src"]["port"] = 32768 + i % 28000
            rec["dst"]["port"] = 8080 + i % 5
            ns = 1722451111977700392 + i * 1_000_003
            rec["timestamp_raw"] = ns
            secs, frac = divmod(ns, 10**9)
            rec["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + (
                f".{frac:09d}Z"
            )
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")


def make_generic(out: Path, records: int) -> None:
    with open(out / "generic-flows.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(GENERIC_COLUMNS)
        for i in range(records):
            s = i % 86400
            w.writerow(
                [
                    f"2024-05-01T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z",
                    f"10.244.1.{i % 200 + 1}",
                    "shop",
                    f"web-7f9c-{i % 50:05d}",
                    "app=web,tier=front",
                    "shop",
                    f"db-{i % 3}",
                    '{"app":"db"}',
                    str(5432 + i % 3),
                    "TCP",
                    "allowed",
                    "1",
                    f"node-{i % 3}",
                ]
            )


FORMATS: dict[str, Callable[[Path, int], None]] = {
    "hubble": make_hubble,
    "calico-ee": make_calico,
    "aws-vpc": make_aws,
    "antrea": make_antrea,
    "ig-trace-tcp": make_ig,
    "generic": make_generic,
}


# --------------------------------------------------------------------------- timing


def _aggregate(batches) -> tuple[int, int]:
    """Stream batches into the connections aggregator; (records, connections)."""
    from recommender import connections

    rows = 0
    if hasattr(connections, "StreamingAggregator"):
        agg = connections.StreamingAggregator()
        for batch in batches:
            rows += batch.num_rows
            agg.add(batch)
        if hasattr(agg, "finish"):
            conns, _pods = agg.finish()
        else:
            conns, _pods = agg.connections(), agg.pods()
        return rows, len(conns.table)
    import pyarrow as pa  # before the streaming aggregator existed

    table = pa.Table.from_batches(list(batches))
    return table.num_rows, len(connections.build_connections(table).table)


def timed(fn: Callable[[], int], repeat: int = 1) -> tuple[int, float]:
    best = float("inf")
    n = 0
    for _ in range(repeat):
        start = time.perf_counter()
        n = fn()
        best = min(best, time.perf_counter() - start)
    return n, best


def per_format(records: int, tmp: Path) -> None:
    print(f"Per format, ~{records:,} records each, one process (records/s, best of 2)")
    print(
        f"{'format':<14} {'records':>8} {'MB':>6}  {'parse':>9} {'-> conns':>9}"
        f"  {'reference parser':>16}"
    )
    for name, make in FORMATS.items():
        d = tmp / name
        d.mkdir()
        make(d, records)
        files = expand_inputs([d])
        size = sum(os.path.getsize(p) for p in files)

        def parse(files: list[str] = files) -> int:
            counts = RecordCounts()
            for _ in iter_flow_batches(files, counts=counts, workers=1):
                pass
            return counts.read

        def to_conns(files: list[str] = files) -> int:
            counts = RecordCounts()
            _aggregate(iter_flow_batches(files, counts=counts, workers=1))
            return counts.read

        def reference(files: list[str] = files) -> int:
            counts = RecordCounts()
            for _ in local_batches(files, None, counts, None, 50_000, fast=False):
                pass
            return counts.read

        n, p1 = timed(parse, 2)
        _, c1 = timed(to_conns, 2)
        ref = f"{n / timed(reference)[1]:>16,.0f}" if name == "hubble" else f"{'(same)':>16}"
        print(f"{name:<14} {n:>8,} {size / 1e6:>6.1f}  {n / p1:>9,.0f} {n / c1:>9,.0f}  {ref}")


# --------------------------------------------------------------------------- 1 GB


def _memory_figures(memory: TreeMemory) -> dict:
    """The tree's peak (sampled from /proc), each process's own, and ``getrusage``'s.

    ``getrusage``'s ``ru_maxrss`` is reported too, but on Linux it is inherited across
    fork and exec: a process started by a large one reports at least the parent's size.
    """
    tree = memory.stop()
    me = os.getpid()
    workers = [v for pid, v in memory.hwm_kb.items() if pid != me]
    me_rusage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids_rusage = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "rss_main_mb": status_kb(me, "VmHWM:") / 1024,
        "rss_worker_mb": max(workers, default=0) / 1024,
        "rss_tree_peak_mb": tree,
        "maxrss_main_mb": me_rusage / 1024,
        "maxrss_children_mb": kids_rusage / 1024,
    }


def measure(directory: str, workers: int, parse_only: bool, in_workers: bool = False) -> None:
    """Run in a fresh process: stream the directory to connections (or only parse it, or
    aggregate in the parsing processes: ``in_workers``), print JSON figures."""
    memory = TreeMemory()
    counts = RecordCounts()
    start = time.perf_counter()
    cpu0 = time.process_time()
    if in_workers:
        from recommender.ingest import aggregate_inputs

        agg = aggregate_inputs([directory], counts=counts, workers=workers)
        conns_set, _pods = agg.connections(), agg.pods()
        rows, conns = counts.normalized, len(conns_set.table)
    else:
        batches = iter_flow_batches([directory], counts=counts, workers=workers)
        if parse_only:
            rows, conns = sum(b.num_rows for b in batches), 0
        else:
            rows, conns = _aggregate(batches)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    for child in multiprocessing.active_children():  # workers exit in their own time: their
        child.join(timeout=30)  # CPU counts once they are reaped
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = {
        "records": counts.read,
        "normalized": rows,
        "connections": conns,
        "seconds": seconds,
        "main_cpu": cpu,
        "workers_cpu": kids.ru_utime + kids.ru_stime,
        **_memory_figures(memory),
    }
    print(json.dumps(figures))


def _has_aggregate_inputs() -> bool:
    import recommender.ingest as ingest

    return hasattr(ingest, "aggregate_inputs")


def big(gb: float, workers: int, tmp: Path, repeat: int = 3) -> None:
    hours = gb * 1e9 / BYTES_PER_HOUR
    out = tmp / "big"
    start = time.perf_counter()
    # Generated in a separate process: the simulator holds its output in memory.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path;"
            "from recommender.sim import shop_cluster, write_hubble;"
            f"write_hubble(shop_cluster(seed=7, hours={hours}), Path(sys.argv[1]), gzip=False)",
            str(out),
        ],
        check=True,
        cwd=ROOT,
    )
    size = sum(p.stat().st_size for p in out.iterdir())
    print()
    print(
        f"Hubble JSON: {size / 1e9:.2f} GB in {len(list(out.iterdir()))} files "
        f"({hours:.0f} simulated hours, generated in {time.perf_counter() - start:.0f} s); "
        "raw files -> connections, streaming"
    )
    print(
        f"{'run':<26} {'records':>10} {'seconds':>8} {'records/s':>10} {'cpu s':>7}"
        f"  {'RSS main':>9} {'RSS worker':>10} {'RSS total':>10}"
    )
    # (processes, mode): "conns" streams batches to one aggregator in the reading process,
    # "in-workers" aggregates where the records are parsed (aggregate_inputs).
    runs = [(w, "conns") for w in sorted({1, workers})]
    if _has_aggregate_inputs():
        runs.append((workers, "in-workers"))
    runs.append((workers, "parse"))
    maxrss = []
    spread = []
    for w, mode in runs:
        command = [sys.executable, __file__, "--measure", str(out), "--workers", str(w)]
        if mode == "parse":
            command.append("--parse-only")
        elif mode == "in-workers":
            command.append("--in-workers")
        results = []
        for _ in range(repeat):
            proc = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        results.sort(key=lambda r: r["seconds"])
        r = results[0]  # the best run; the others show the machine's spread
        maxrss.append((r["maxrss_main_mb"], r["maxrss_children_mb"]))
        label = (
            f"{w} process{'es' if w > 1 else ''}, "
            + {
                "conns": "-> connections",
                "in-workers": "aggr. in workers",
                "parse": "parse only",
            }[mode]
        )
        print(
            f"{label:<26} {r['records']:>10,} {r['seconds']:>8.2f} "
            f"{r['records'] / r['seconds']:>10,.0f} {r['main_cpu'] + r['workers_cpu']:>7.1f}"
            f"  {r['rss_main_mb']:>7.0f}MB {r['rss_worker_mb']:>8.0f}MB "
            f"{r['rss_tree_peak_mb']:>8.0f}MB"
        )
        rates = ", ".join(f"{x['records'] / x['seconds']:,.0f}" for x in results)
        peak = max(x["rss_tree_peak_mb"] for x in results)
        spread.append(f"  {label}: records/s {rates}; highest RSS total {peak:.0f} MB")
    print(f"Best of {repeat} runs (fastest first):")
    print("\n".join(spread))
    print(
        "RSS main / worker: peak resident set (VmHWM) of the reading process / of its largest"
        " worker; RSS total: peak of their sum (sampled every 50 ms)."
    )
    print(
        "getrusage ru_maxrss (self / children), inherited on Linux from the benchmark process"
        " that started the run: " + ", ".join(f"{m:.0f} / {c:.0f} MB" for m, c in maxrss)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.0, help="size of the Hubble input")
    parser.add_argument(
        "--workers", type=int, default=2, help="processes that parse (this one included)"
    )
    parser.add_argument("--records", type=int, default=40_000, help="records per format")
    parser.add_argument("--skip-big", action="store_true", help="only the per-format table")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per 1 GB configuration (the best is shown)"
    )
    parser.add_argument("--skip-formats", action="store_true", help="only the 1 GB run")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--parse-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--in-workers", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.workers, args.parse_only, args.in_workers)
        return
    print(f"CPUs available: {len(os.sched_getaffinity(0))}, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as d:
        tmp = Path(d)
        if not args.skip_formats:
            per_format(args.records, tmp)
        if not args.skip_big:
            big(args.gb, args.workers, tmp, args.repeat)


if __name__ == "__main__":
    main()
