"""The kubectl inventory of a simulated cluster (recommender/sim/inventory.py)."""

from __future__ import annotations

from collections import Counter

from recommender.sim import kubectl_inventory, shop_cluster


def test_inventory_at_start_and_end() -> None:
    cluster = shop_cluster(7, hours=6)
    end = kubectl_inventory(cluster)
    kinds = Counter(item["kind"] for item in end["items"])
    assert kinds["Namespace"] == len(cluster.namespaces) and kinds["Node"] == 3
    jobs = {p.owner_name for p in cluster.pods if p.owner_kind == "Job"}
    replica_sets = {p.owner_name for p in cluster.pods if p.owner_kind == "ReplicaSet"}
    assert kinds["Job"] == len(jobs) and kinds["ReplicaSet"] == len(replica_sets)
    pods = {i["metadata"]["name"]: i for i in end["items"] if i["kind"] == "Pod"}
    gone = {p.name for p in cluster.pods if p.end is not None and p.owner_kind != "Job"}
    assert gone and gone.isdisjoint(pods)  # the old cart pods ended with the rollout
    assert {pods[j]["status"]["phase"] for j in pods if j.startswith("report-")} == {"Succeeded"}
    start = kubectl_inventory(cluster, at=cluster.start)
    at_start = {i["metadata"]["name"] for i in start["items"] if i["kind"] == "Pod"}
    assert gone <= at_start
    pod = next(p for p in cluster.pods if p.workload == "data/postgres")
    item = pods[pod.name]
    assert item["spec"]["nodeName"] == pod.node and item["status"]["podIP"] == pod.ip
    assert item["metadata"]["ownerReferences"] == [
        {"kind": "StatefulSet", "name": "postgres", "controller": True}
    ]
