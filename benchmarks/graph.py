"""The proposal's picture (graph.svg) at growing sizes: is it linear?

    python benchmarks/graph.py [--sizes 200,600,2000] [--hours 0.25] [--repeat 3]

For each size the simulator's ``large_app`` builds a cluster of about that many workloads
(four per namespace, as ``benchmarks/scale.py``), proposes through the public API, then
times building the graph (``proposal_graph``), laying it out and writing the SVG, best of
``--repeat`` in CPU time of the process (``time.process_time``: the machine is shared, wall
time would measure the neighbours). Prints nodes, edges, bytes and microseconds per edge.
Figures, not assertions.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recommender import observe, propose
from recommender.graph.layout import lay_out
from recommender.graph.pictures import proposal_graph
from recommender.graph.svg import render_svg
from recommender.sim import large_app, write_hubble

PER_NAMESPACE = 4


def _best(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """The least CPU time of ``repeat`` runs of ``fn`` (seconds) and its last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        result = fn()
        best = min(best, time.process_time() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200,600,2000")
    parser.add_argument("--hours", type=float, default=0.25, help="simulated window")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    print(
        f"{'workloads':>9} {'edges':>7} {'nodes':>6} {'KB':>7} {'model s':>8} "
        f"{'layout s':>8} {'svg s':>7} {'us/edge':>8}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        namespaces = max(2, round(size / PER_NAMESPACE))
        cluster = large_app(
            seed=7, hours=args.hours, namespaces=namespaces, workloads_per_ns=PER_NAMESPACE
        )
        with tempfile.TemporaryDirectory() as tmp:
            write_hubble(cluster, Path(tmp) / "flows", gzip=False)
            rec = propose(observe([Path(tmp) / "flows"]))
        n = args.repeat
        t_model, graph = _best(n, lambda rec=rec: proposal_graph(rec))
        t_layout, _ = _best(n, lambda graph=graph: lay_out(graph))
        t_svg, text = _best(n, lambda graph=graph: render_svg(graph))
        edges = len(graph.edges) + sum(graph.left_out.values())
        per_edge = (t_model + t_svg) / max(edges, 1) * 1e6
        print(
            f"{len(rec.workloads):>9,} {edges:>7,} {len(graph.nodes):>6,} "
            f"{len(text.encode()) / 1024:>7,.0f} {t_model:>8.3f} {t_layout:>8.3f} "
            f"{t_svg:>7.3f} {per_edge:>8.1f}"
        )
        if graph.left_out_text():
            print(f"{'':>9} folded or left out: {graph.left_out_text()}")


if __name__ == "__main__":
    main()
