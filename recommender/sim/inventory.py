"""A simulated cluster as ``kubectl get ... -o json`` prints it: the inventory that
``recommend --inventory`` reads to put workloads back on flows without pod metadata."""

from __future__ import annotations

from datetime import datetime

from .cluster import SimCluster, SimPod

__all__ = ["kubectl_inventory"]


def _namespace_items(cluster: SimCluster) -> list[dict]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": dict(sorted(labels.items()))},
        }
        for name, labels in sorted(cluster.namespaces.items())
    ]


def _node_items(cluster: SimCluster) -> list[dict]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": node.name},
            "spec": {"podCIDR": node.pod_cidr},
            "status": {
                "addresses": [
                    {"type": "InternalIP", "address": node.ip},
                    {"type": "Hostname", "address": node.name},
                ]
            },
        }
        for node in cluster.nodes
    ]


def _owner_items(cluster: SimCluster) -> list[dict]:
    """The ReplicaSets of Deployments and the Jobs of CronJobs."""
    owners: dict[tuple[str, str, str], tuple[str, str]] = {}
    for pod in cluster.pods:
        if pod.owner_kind in ("ReplicaSet", "Job") and pod.workload_kind in (
            "Deployment",
            "CronJob",
        ):
            owners[(pod.namespace, pod.owner_kind, pod.owner_name)] = (
                pod.workload_kind,
                pod.workload_name,
            )
    return [
        {
            "apiVersion": "apps/v1" if kind == "ReplicaSet" else "batch/v1",
            "kind": kind,
            "metadata": {
                "name": name,
                "namespace": namespace,
                "ownerReferences": [{"kind": okind, "name": oname, "controller": True}],
            },
        }
        for (namespace, kind, name), (okind, oname) in sorted(owners.items())
    ]


def _pod_item(cluster: SimCluster, pod: SimPod, at: datetime) -> dict:
    ports = [
        {"containerPort": number, "protocol": proto, **({"name": name} if name else {})}
        for name, number, proto in pod.ports
    ]
    owner_kind = pod.owner_kind or pod.workload_kind
    owner_name = pod.owner_name or pod.workload_name
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod.name,
            "namespace": pod.namespace,
            "labels": dict(sorted(pod.labels.items())),
            "ownerReferences": [{"kind": owner_kind, "name": owner_name, "controller": True}],
        },
        "spec": {
            "nodeName": pod.node,
            "serviceAccountName": pod.service_account,
            "containers": [{"name": "main", "ports": ports}],
        },
        "status": {
            "phase": "Running" if pod.alive(at) else "Succeeded",
            "podIP": pod.ip,
            "podIPs": [{"ip": pod.ip}],
            "hostIP": cluster.node(pod.node).ip,
        },
    }


def kubectl_inventory(cluster: SimCluster, *, at: datetime | None = None) -> dict:
    """The cluster as `kubectl get namespaces,nodes,pods,replicasets,jobs -A -o json` would
    print it at ``at`` (default: the end of the window): one ``List``.

    Pods that ended before ``at`` are gone, as in a real snapshot; Job pods stay (Completed).
    """
    at = at or cluster.end
    items = _namespace_items(cluster) + _node_items(cluster) + _owner_items(cluster)
    for pod in cluster.pods:
        finished_job = pod.owner_kind == "Job" and pod.start <= at
        if pod.alive(at) or finished_job:
            items.append(_pod_item(cluster, pod, at))
    return {"apiVersion": "v1", "kind": "List", "items": items}
