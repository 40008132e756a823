"""Pods of simulated workloads (recommender/sim/workloads.py)."""

from __future__ import annotations

import random
import re
from datetime import timedelta

from recommender.sim.clock import DEFAULT_START
from recommender.sim.network import Allocator, kind_nodes
from recommender.sim.workloads import (
    COREDNS,
    NAME_ALPHABET,
    WorkloadSpec,
    cronjob_pods,
    job_name,
    workload_pods,
)

HASH = f"[{NAME_ALPHABET}]"
WEB = WorkloadSpec(
    "app", "web", "Deployment", 3, "web", {"app": "web"}, (("http", 8080, "TCP"),), (8080,), "any"
)
DB = WorkloadSpec("app", "db", "StatefulSet", 2, "db", {"app": "db"}, (), (), "workers")


def test_workload_pods_names_owners_and_placement() -> None:
    nodes = kind_nodes("t", 2)
    rng = random.Random(9)
    pods = workload_pods((WEB, DB, COREDNS), nodes, Allocator(rng, nodes), rng, DEFAULT_START)
    web = [p for p in pods if p.workload == "app/web"]
    assert len(web) == 3 and len({p.owner_name for p in web}) == 1
    for p in web:
        assert re.fullmatch(f"web-{HASH}{{8,10}}-{HASH}{{5}}", p.name)
        assert p.owner_name == "web-" + p.labels["pod-template-hash"]
    db = [p for p in pods if p.workload == "app/db"]
    assert [p.name for p in db] == ["db-0", "db-1"]
    assert {p.node for p in db} <= {"t-worker", "t-worker2"}
    assert {p.node for p in pods if p.workload == "kube-system/coredns"} == {"t-control-plane"}
    assert all(p.start < DEFAULT_START and p.end is None for p in pods)


def test_rollout_in_workload_pods_replaces_the_replicaset() -> None:
    nodes = kind_nodes("t", 2)
    rng = random.Random(2)
    at = DEFAULT_START + timedelta(hours=1)
    rollouts = {("app", "web"): at}
    pods = workload_pods((WEB,), nodes, Allocator(rng, nodes), rng, DEFAULT_START, rollouts)
    old = [p for p in pods if p.end is not None]
    new = [p for p in pods if p.end is None]
    assert len(old) == len(new) == 3
    assert {p.owner_name for p in old}.isdisjoint(p.owner_name for p in new)
    assert [p.start for p in new] == [at + timedelta(seconds=50 * i) for i in range(3)]
    assert [p.end for p in old] == [at + timedelta(seconds=50 * i + 35) for i in range(3)]


def test_cronjob_pods_one_job_per_run() -> None:
    nodes = kind_nodes("t", 2)
    rng = random.Random(4)
    start, end = DEFAULT_START, DEFAULT_START + timedelta(hours=3)
    pods = cronjob_pods(
        "app",
        "sync",
        {"app": "sync"},
        minute=10,
        every_minutes=60,
        start=start,
        end=end,
        nodes=nodes,
        alloc=Allocator(rng, nodes),
        rng=rng,
        service_account="sync",
    )
    runs = [start + timedelta(minutes=10 + 60 * i) for i in range(3)]
    assert [p.owner_name for p in pods] == [job_name("sync", run) for run in runs]
    for p, run in zip(pods, runs, strict=True):
        assert p.labels["job-name"] == p.owner_name and p.labels["controller-uid"]
        assert p.owner_kind == "Job" and p.workload_kind == "CronJob"
        assert run < p.start < p.end <= end and p.node != "t-control-plane"
