"""Quality of the proposal on held-out traffic, next to a naive one-rule-per-connection baseline.

    python benchmarks/quality.py [--apps small shop large] [--split 0.5] [--seed 7] [--json]
                                 [--inventory] [--details]

For each synthetic app of :mod:`recommender.sim.apps`: render its Hubble records, split
them by time at ``split`` of the window (train = records before, test = records after; at
least one rollout falls in the test part), learn policies with :func:`recommender.observe`
and :func:`recommender.propose` from the train part only, and judge them on the test part.

* The test connections are the simulator's ground truth (``sim.plan_connections``: every
  connection with its real client and server pod), starting at or after the split. Both
  ends are built from the SimCluster's Kubernetes labels (``pod-template-hash``,
  ``job-name``… included, as the API server would match them), and judged pod by pod by
  :class:`recommender.netpol.evaluator.Evaluator`. Node sources (kubelet probes, SNATed
  LoadBalancer traffic) are exempt, as in the pipeline's replay.
* **held-out recall (seen edges)**: the share of test connections whose edge (source
  workload, destination workload or address, protocol, port) also had a connection in
  the train part (started at least 1 s before the split) that the learned policies allow.
  Target 100%: new ReplicaSets, new Job pods and new IPs must not matter.
* **recall (all edges)** also counts edges first seen in the test part ("new edges"):
  denying them is least privilege, so it is reported apart.
* **breadth**: what the learned proposal allows that the train part never showed
  (``rec.breadth``; target 0 in-cluster).
* **size**: policies, rules (ingress + egress), peers (``from``/``to`` entries) and YAML
  lines (``recommender.generate.k8s.to_yaml``).
* **naive baseline**: what a per-connection tool emits (Inspektor Gadget's ``advise
  network-policy`` style): a default-deny per namespace, and per distinct pod label set a
  policy selecting the pod by *all* its Kubernetes labels, with one rule (one peer, one
  port) per observed connection, the peer also selected by all its labels (ipBlock /32 for
  addresses). It is built from the train part's observed connections (the pipeline's own
  connection table) and judged like the proposal.

With ``--inventory`` the learner also gets ``kubectl get … -o json`` taken at the split
(full Kubernetes labels, ``pod-template-hash`` included). ``--details`` prints every
denied test connection of a seen edge, with the evaluator's explanation.

Figures, not assertions: the unit tests check the apps, this script reports.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from recommender import Recommendation, SynthesisOptions, observe, propose
from recommender.generate.k8s import to_yaml
from recommender.netpol.evaluator import Evaluator
from recommender.netpol.model import ContainerPort, Endpoint
from recommender.sim import (
    APPS,
    Connection,
    Side,
    SimCluster,
    SimEdge,
    SimPod,
    hubble_records,
    kubectl_inventory,
    plan_connections,
    rollouts,
    to_ns,
)
from recommender.verify import EXEMPT_SOURCE_KINDS

NS_KEY = "kubernetes.io/metadata.name"
#: Train connections must start this long before the split to count as "seen" (the rows
#: of a connection that straddles the split fall on both sides).
MARGIN_NS = 1_000_000_000
#: Observation window per app (hours): long enough that most edges show up in both halves.
HOURS = {"small": 6.0, "shop": 6.0, "large": 6.0}
#: Simulator side kinds that are node sources (exempt, never selectable).
NODE_SIDES = ("host", "remote-node")


# ------------------------------------------------------------------------------ counting


def policy_size(policies: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Policies, rules (ingress + egress), peers (``from``/``to`` entries), YAML lines."""
    out = {"policies": 0, "rules": 0, "peers": 0, "yaml_lines": 0}
    for pol in policies:
        out["policies"] += 1
        spec = pol.get("spec", {})
        for direction, key in (("ingress", "from"), ("egress", "to")):
            for rule in spec.get(direction) or ():
                out["rules"] += 1
                out["peers"] += len(rule.get(key) or ())
        out["yaml_lines"] += to_yaml(pol).count("\n")
    return out


# ------------------------------------------------------------------------------ endpoints


def pod_endpoint(pod: SimPod, cluster: SimCluster) -> Endpoint:
    """A pod as the API server knows it: every Kubernetes label, the namespace's labels."""
    return Endpoint(
        kind="pod",
        ip=pod.ip,
        namespace=pod.namespace,
        labels=dict(pod.labels),
        namespace_labels={
            NS_KEY: pod.namespace,
            **cluster.namespaces.get(pod.namespace, {}),
        },
        ports=tuple(ContainerPort(name, port, proto) for name, port, proto in pod.ports),
        name=pod.name,
    )


def side_endpoint(side: Side, cluster: SimCluster) -> Endpoint:
    if side.pod is not None:
        return pod_endpoint(side.pod, cluster)
    kind = "node" if side.kind in (*NODE_SIDES, "kube-apiserver") else "external"
    return Endpoint(kind=kind, ip=side.ip, name=side.ip)


# ------------------------------------------------------------------------------- baseline


def _dns_name(text: str) -> str:
    out = "".join(c if c.isalnum() or c == "-" else "-" for c in text.lower()).strip("-")
    return out[:63].rstrip("-") or "x"


def naive_policies(conns: pd.DataFrame, cluster: SimCluster) -> list[dict[str, Any]]:
    """One rule per observed connection, selectors with every Kubernetes label of the pod.

    ``conns``: the pipeline's pod-level connection table (``rec.connections``). Pods are
    looked up in the SimCluster for their full labels (what a tool reading the API sees).
    Node sources are left out (no rule can name them, and none is needed).
    """
    naive = _NaivePolicies(cluster)
    for row in conns.itertuples(index=False):
        if row.src_kind in EXEMPT_SOURCE_KINDS:
            continue
        port = [{"protocol": row.protocol, "port": int(row.port)}]
        if row.src_kind == "pod":
            key = naive.target(row.src_namespace, row.src_pod)
            to = naive.peer(row.dst_kind, row.dst_namespace, row.dst_pod, row.dst_ip, key[0])
            naive.add(key, "egress", {"to": [to], "ports": port})
        if row.dst_kind == "pod":
            key = naive.target(row.dst_namespace, row.dst_pod)
            frm = naive.peer(row.src_kind, row.src_namespace, row.src_pod, row.src_ip, key[0])
            naive.add(key, "ingress", {"from": [frm], "ports": port})
    return naive.policies()


class _NaivePolicies:
    """The naive baseline being built: one policy per (namespace, full label set)."""

    def __init__(self, cluster: SimCluster) -> None:
        self.pods = {(p.namespace, p.name): p for p in cluster.pods}
        self.by_key: dict[tuple[str, frozenset], dict[str, Any]] = {}
        self.rules: dict[tuple[str, frozenset], dict[str, list]] = {}
        self.namespaces: set[str] = set()

    def target(self, namespace: str, pod_name: str) -> tuple[str, frozenset]:
        pod = self.pods[(namespace, pod_name)]
        key = (namespace, frozenset(pod.labels.items()))
        if key not in self.by_key:
            self.by_key[key] = {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": _dns_name(f"naive-{pod.name}"), "namespace": namespace},
                "spec": {
                    "podSelector": {"matchLabels": dict(sorted(pod.labels.items()))},
                    "policyTypes": ["Ingress", "Egress"],
                },
            }
            self.rules[key] = {"ingress": [], "egress": []}
        self.namespaces.add(namespace)
        return key

    def peer(self, kind: str, namespace: Any, pod_name: Any, ip: Any, policy_ns: str) -> dict:
        if kind == "pod":
            pod = self.pods[(namespace, pod_name)]
            sel = {"podSelector": {"matchLabels": dict(sorted(pod.labels.items()))}}
            if namespace != policy_ns:
                sel = {"namespaceSelector": {"matchLabels": {NS_KEY: namespace}}, **sel}
            return sel
        bits = 128 if ":" in str(ip) else 32
        return {"ipBlock": {"cidr": f"{ip}/{bits}"}}

    def add(self, key: tuple[str, frozenset], direction: str, rule: dict) -> None:
        if rule not in self.rules[key][direction]:
            self.rules[key][direction].append(rule)

    def policies(self) -> list[dict[str, Any]]:
        """A default-deny per namespace, then the policies in creation order."""
        out = [
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "default-deny", "namespace": ns},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            }
            for ns in sorted(self.namespaces)
        ]
        names: Counter = Counter()
        for key, pol in self.by_key.items():
            name = pol["metadata"]["name"]
            names[(key[0], name)] += 1
            if names[(key[0], name)] > 1:  # same pod name prefix, different labels
                pol["metadata"]["name"] = _dns_name(f"{name[:58]}-{names[(key[0], name)]}")
            for direction in ("ingress", "egress"):
                if self.rules[key][direction]:
                    pol["spec"][direction] = self.rules[key][direction]
            out.append(pol)
        return out


# ------------------------------------------------------------------------------ judging


def _cause(conn: Connection, since: datetime) -> str:
    """Why a pod-level connection may be new to a learner that stopped at ``since``."""
    for side in (conn.client, conn.server):
        pod = side.pod
        if pod is not None and pod.start >= since:
            return (
                "Job pod born after the split"
                if pod.owner_kind == "Job"
                else ("ReplicaSet pod born after the split")
            )
    return "pods known at the split (pod pair unseen)"


def judge(
    evaluator: Evaluator,
    conns: Sequence[Connection],
    cluster: SimCluster,
    seen: set[SimEdge],
    since: datetime,
) -> dict[str, Any]:
    """Judge ground-truth connections pod by pod; split by seen / new edges. Denied
    connections of seen edges are listed with their cause (see :func:`_cause`)."""
    cache: dict[tuple, Any] = {}
    counts = Counter()
    new_edges: dict[SimEdge, bool] = {}
    denied_seen: list[dict[str, Any]] = []
    for conn in conns:
        if conn.client.kind in NODE_SIDES:
            counts["exempt"] += 1
            continue
        src, dst = side_endpoint(conn.client, cluster), side_endpoint(conn.server, cluster)
        key = (src.namespace, src.name, dst.namespace, dst.name, conn.edge.protocol, conn.edge.port)
        verdict = cache.get(key)
        if verdict is None:
            verdict = evaluator.evaluate(src, dst, conn.edge.protocol, conn.edge.port)
            cache[key] = verdict
        part = "seen" if conn.edge in seen else "new"
        counts[part] += 1
        counts[f"{part}_allowed"] += verdict.allowed
        if part == "new":
            new_edges[conn.edge] = new_edges.get(conn.edge, False) or verdict.allowed
        elif not verdict.allowed:
            denied_seen.append(
                {
                    "edge": f"{conn.edge.src} -> {conn.edge.dst} {conn.edge.port}/"
                    f"{conn.edge.protocol}",
                    "src": f"{src.namespace}/{src.name}" if src.kind == "pod" else src.ip,
                    "dst": f"{dst.namespace}/{dst.name}" if dst.kind == "pod" else dst.ip,
                    "cause": _cause(conn, since),
                    "why": verdict.explain(),
                }
            )
    seen_n, new_n = counts["seen"], counts["new"]
    return {
        "conns_seen": seen_n,
        "conns_new": new_n,
        "conns_exempt": counts["exempt"],
        "recall_seen": counts["seen_allowed"] / seen_n if seen_n else 1.0,
        "recall_all": (counts["seen_allowed"] + counts["new_allowed"]) / (seen_n + new_n)
        if seen_n + new_n
        else 1.0,
        "new_edges": len(new_edges),
        "new_edges_allowed": sum(new_edges.values()),
        "denied_seen": denied_seen,
        "denied_seen_causes": dict(Counter(d["cause"] for d in denied_seen)),
    }


# ---------------------------------------------------------------------------------- run


def _split_records(records: Iterable[dict], split_at: datetime) -> tuple[list[str], list[str]]:
    """JSON lines before / from ``split_at`` (a whole second), by the record's time."""
    cut = split_at.strftime("%Y-%m-%dT%H:%M:%S")
    train: list[str] = []
    test: list[str] = []
    for rec in records:
        line = json.dumps(rec, separators=(",", ":")) + "\n"
        (train if rec["time"][:19] < cut else test).append(line)
    return train, test


def _learn(
    lines: list[str],
    tmp: Path,
    cluster: SimCluster,
    split_at: datetime,
    inventory: bool,
    options: SynthesisOptions | None = None,
) -> Recommendation:
    path = tmp / "hubble-train.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    inventory_files = []
    if inventory:
        inv_path = tmp / "inventory.json"
        inv_path.write_text(json.dumps(kubectl_inventory(cluster, at=split_at)), encoding="utf-8")
        inventory_files.append(inv_path)
    return propose(observe([path], inventory=inventory_files), options)


def evaluate_app(
    name: str,
    cluster: SimCluster,
    *,
    seed: int = 7,
    split: float = 0.5,
    inventory: bool = False,
    options: SynthesisOptions | None = None,
) -> dict[str, Any]:
    """Learn from the records before the split, judge the connections after it."""
    if not 0 < split < 1:
        raise ValueError("split must be strictly between 0 and 1")
    clock = time.perf_counter()
    window = (cluster.end - cluster.start).total_seconds()
    split_at = cluster.start + timedelta(seconds=round(window * split))
    rolled = rollouts(cluster, after=split_at)
    if not rolled:
        raise ValueError(f"{name}: no rollout after the split at {split_at:%H:%M:%S}")
    train_lines, test_lines = _split_records(hubble_records(cluster, seed=seed), split_at)
    with tempfile.TemporaryDirectory() as tmp:
        rec = _learn(train_lines, Path(tmp), cluster, split_at, inventory, options)
    cut = to_ns(split_at)
    plan = plan_connections(cluster, seed)
    seen = {c.edge for c in plan if c.t < cut - MARGIN_NS}
    train_conns = [c for c in plan if c.t < cut - MARGIN_NS]
    test_conns = [c for c in plan if c.t >= cut]

    learned = Evaluator(rec.policies)
    naive = naive_policies(rec.connections, cluster)
    baseline = Evaluator(naive)
    held = judge(learned, test_conns, cluster, seen, split_at)
    base_held = judge(baseline, test_conns, cluster, seen, split_at)
    size, base_size = policy_size(rec.policies), policy_size(naive)
    return {
        "app": name,
        "pods": len(cluster.pods),
        "workloads": len(cluster.workloads()),
        "edges": len(cluster.edges),
        "records_train": len(train_lines),
        "records_test": len(test_lines),
        "split_at": f"{split_at:%H:%M:%S}",
        "rollouts_test": len(rolled),
        "train_coverage": rec.coverage,
        "train_recall": judge(learned, train_conns, cluster, seen, split_at)["recall_seen"],
        **size,
        "breadth_in_cluster": rec.breadth.in_cluster,
        "breadth_external": rec.breadth.external_addresses,
        "unbounded_rules": len(rec.breadth.unbounded),
        "test_conns_seen": held["conns_seen"],
        "test_conns_new": held["conns_new"],
        "test_conns_exempt": held["conns_exempt"],
        "recall_seen": held["recall_seen"],
        "recall_all": held["recall_all"],
        "new_edges": held["new_edges"],
        "new_edges_allowed": held["new_edges_allowed"],
        "baseline_policies": base_size["policies"],
        "baseline_rules": base_size["rules"],
        "baseline_peers": base_size["peers"],
        "baseline_yaml_lines": base_size["yaml_lines"],
        "baseline_train_recall": judge(baseline, train_conns, cluster, seen, split_at)[
            "recall_seen"
        ],
        "baseline_recall_seen": base_held["recall_seen"],
        "baseline_recall_all": base_held["recall_all"],
        "denied_seen": held["denied_seen"],
        "denied_seen_causes": held["denied_seen_causes"],
        "baseline_denied_seen_causes": base_held["denied_seen_causes"],
        "seconds": round(time.perf_counter() - clock, 2),
    }


def run(
    app_names: Sequence[str] = tuple(APPS),
    split: float = 0.5,
    *,
    seed: int = 7,
    hours: float | None = None,
    inventory: bool = False,
    options: SynthesisOptions | None = None,
) -> pd.DataFrame:
    """One row per app (see the module docstring for the columns' meaning). ``hours``
    overrides the windows of :data:`HOURS`."""
    rows = []
    for name in app_names:
        if name not in APPS:
            raise ValueError(f"unknown app {name!r} (known: {', '.join(APPS)})")
        cluster = APPS[name](seed, hours=hours or HOURS[name])
        rows.append(
            evaluate_app(
                name, cluster, seed=seed, split=split, inventory=inventory, options=options
            )
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------- output


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def markdown(df: pd.DataFrame) -> str:
    head = [
        "app",
        "records (train/test)",
        "policies",
        "rules",
        "peers",
        "YAML lines",
        "breadth in-cluster",
        "held-out recall (seen edges)",
        "baseline rules",
        "baseline YAML lines",
        "baseline held-out recall",
    ]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    for r in df.itertuples(index=False):
        cells = [
            r.app,
            f"{r.records_train}/{r.records_test}",
            r.policies,
            r.rules,
            r.peers,
            r.yaml_lines,
            r.breadth_in_cluster,
            _pct(r.recall_seen),
            r.baseline_rules,
            r.baseline_yaml_lines,
            _pct(r.baseline_recall_seen),
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += [
        "",
        "| app | pods | workloads | edges | split | rollouts in test | train coverage | "
        "breadth external | test conns (seen/new/exempt) | recall all edges | "
        "new edges in test (allowed) | baseline policies | baseline peers | seconds |",
        "|---|" + "---:|" * 13,
    ]
    for r in df.itertuples(index=False):
        cells = [
            r.app,
            r.pods,
            r.workloads,
            r.edges,
            r.split_at,
            r.rollouts_test,
            _pct(r.train_coverage),
            r.breadth_external,
            f"{r.test_conns_seen}/{r.test_conns_new}/{r.test_conns_exempt}",
            _pct(r.recall_all),
            f"{r.new_edges} ({r.new_edges_allowed})",
            r.baseline_policies,
            r.baseline_peers,
            r.seconds,
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", nargs="+", default=list(APPS), choices=list(APPS))
    parser.add_argument("--split", type=float, default=0.5, help="train share of the window")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hours", type=float, help="window of every app (default: HOURS)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument(
        "--inventory", action="store_true", help="give the learner a kubectl snapshot"
    )
    parser.add_argument(
        "--generalize", choices=("exact", "role"), help="SynthesisOptions.generalize"
    )
    parser.add_argument("--breadth-budget", type=int, help="SynthesisOptions.breadth_budget")
    parser.add_argument("--cidr-budget", type=int, help="SynthesisOptions.cidr_budget")
    parser.add_argument(
        "--details", action="store_true", help="list denied test connections of seen edges"
    )
    args = parser.parse_args(argv)
    knobs = {
        "generalize": args.generalize,
        "breadth_budget": args.breadth_budget,
        "cidr_budget": args.cidr_budget,
    }
    knobs = {k: v for k, v in knobs.items() if v is not None}
    options = SynthesisOptions(**knobs) if knobs else None
    df = run(
        args.apps,
        args.split,
        seed=args.seed,
        hours=args.hours,
        inventory=args.inventory,
        options=options,
    )
    if args.json:
        rows = df.drop(columns=[] if args.details else ["denied_seen"]).to_dict("records")
        print(json.dumps(rows, indent=2, default=str))
        return 0
    print(markdown(df))
    print()
    for r in df.itertuples(index=False):
        causes = ", ".join(f"{k}: {v}" for k, v in sorted(r.baseline_denied_seen_causes.items()))
        print(f"- {r.app}: baseline misses on seen edges: {causes or 'none'}")
        causes = ", ".join(f"{k}: {v}" for k, v in sorted(r.denied_seen_causes.items()))
        print(f"- {r.app}: proposal misses on seen edges: {causes or 'none'}")
        if r.breadth_external:
            print(
                f"- {r.app}: external breadth {r.breadth_external} addresses: a public-facing"
                " ingress block (0.0.0.0/0 minus private ranges) admits Internet clients not"
                " seen yet; they are the allowed new edges"
            )
    if args.details:
        for r in df.itertuples(index=False):
            for d in r.denied_seen:
                print(f"\n{r.app}: DENIED {d['src']} -> {d['dst']} ({d['edge']})")
                for line in d["why"]:
                    print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
