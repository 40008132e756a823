"""Pod -> workload identity.

A policy must keep working when a Deployment rolls out new pods, so rules are written
per workload (namespace + top-level owner), never per pod. The owner comes from the
source when it says (Hubble ``workloads``), else from the pod name, whose shape
Kubernetes controllers fix: ``<deploy>-<rs hash>-<5>``, ``<sts>-<ordinal>``,
``<cronjob>-<schedule minutes>-<5>``, ``<daemonset or job>-<5>``.
"""

from __future__ import annotations

import re

import pandas as pd

from .connection_names import union_names

# Kubernetes' rand.SafeEncodeString alphabet: no vowels, no 0/1/3 (avoids words).
_SAFE = "bcdfghjklmnpqrstvwxz2456789"
_DEPLOYMENT = re.compile(rf"^(?P<name>.+)-(?P<hash>[{_SAFE}]{{6,10}})-(?P<suffix>[{_SAFE}]{{5}})$")
_CRONJOB = re.compile(rf"^(?P<name>.+)-(?P<sched>\d{{8,10}})-(?P<suffix>[{_SAFE}]{{5}})$")
_STATEFULSET = re.compile(r"^(?P<name>.+)-(?P<ordinal>\d{1,5})$")
_CRONJOB_JOB = re.compile(r"^(?P<name>.+)-\d{8,10}$")
_SUFFIXED = re.compile(rf"^(?P<name>.+)-(?P<suffix>[{_SAFE}]{{5}})$")

#: Labels that say which controller made a pod when its name is ambiguous.
_JOB_LABELS = ("job-name", "batch.kubernetes.io/job-name", "controller-uid")
_DAEMONSET_LABELS = ("pod-template-generation",)


def workload_from_pod_name(pod: str, labels: dict[str, str] | None = None) -> tuple[str, str]:
    """Guess (kind, name) of a pod's top-level owner from its name.

    Used only when the source does not name the owner. The name shapes are the ones
    the built-in controllers generate; a bare pod stands for itself.
    """
    labels = labels or {}
    if pod.endswith("*"):
        # An aggregated name is a generateName prefix: `<replicaset>-*`, `<daemonset>-*`.
        base = pod.rstrip("*").rstrip("-")
        kind, name = normalize_owner("ReplicaSet", base)
        if kind == "Deployment":
            return kind, name
        m = _CRONJOB_JOB.match(base)
        if m:
            return "CronJob", m["name"]
        return "Workload", base
    m = _CRONJOB.match(pod)
    if m:
        return "CronJob", m["name"]
    m = _DEPLOYMENT.match(pod)
    if m and not m["hash"].isdigit():
        return "Deployment", m["name"]
    m = _STATEFULSET.match(pod)
    if m:
        return "StatefulSet", m["name"]
    m = _SUFFIXED.match(pod)
    if m:
        if any(k in labels for k in _JOB_LABELS):
            return "Job", m["name"]
        if any(k in labels for k in _DAEMONSET_LABELS):
            return "DaemonSet", m["name"]
        return "DaemonSet", m["name"]
    return "Pod", pod


def normalize_owner(kind: str, name: str) -> tuple[str, str]:
    """Map intermediate owners to the top-level controller (ReplicaSet -> Deployment)."""
    if kind == "ReplicaSet":
        m = re.match(rf"^(?P<name>.+)-[{_SAFE}]{{6,10}}$", name)
        if m:
            return "Deployment", m["name"]
    if kind == "Job":
        m = re.match(r"^(?P<name>.+)-\d{8,10}$", name)
        if m:
            return "CronJob", m["name"]
    return kind, name


def assign_workloads(pods: pd.DataFrame) -> pd.DataFrame:
    """Add ``workload_kind``, ``workload_name`` and ``workload`` ("ns/name") to each pod.

    ``workload_source`` says where the identity came from, for the report.
    """
    out = pods.copy()
    kinds, names, sources = [], [], []
    for row in out.itertuples(index=False):
        kind, name = row.workload_kind, row.workload_name
        if isinstance(kind, str) and isinstance(name, str) and kind and name:
            kind, name = normalize_owner(kind, name)
            source = "flow log"
        else:
            kind, name = workload_from_pod_name(row.pod, row.labels or {})
            source = "pod name"
        kinds.append(kind)
        names.append(name)
        sources.append(source)
    out["workload_kind"] = kinds
    out["workload_name"] = names
    out["workload_source"] = sources
    out["workload"] = out["namespace"] + "/" + out["workload_name"]
    return fill_unknown_labels(out)


def fill_unknown_labels(pods: pd.DataFrame) -> pd.DataFrame:
    """Give a pod whose labels the log did not carry the labels its siblings share.

    Any replica stands for its workload (DESIGN §5): pods of one controller share its
    template's labels. ``labels_source`` says "flow log", "workload" (filled here) or
    "unknown" (no sibling had labels either: such a pod cannot be selected).
    """
    out = pods.copy()
    common: dict[str, dict[str, str]] = {}
    for workload, labels in zip(out["workload"], out["labels"], strict=True):
        if labels is None:
            continue
        if workload in common:
            common[workload] = {k: v for k, v in common[workload].items() if labels.get(k) == v}
        else:
            common[workload] = dict(labels)
    filled, sources = [], []
    for workload, labels in zip(out["workload"], out["labels"], strict=True):
        if labels is not None:
            filled.append(labels)
            sources.append("flow log")
        elif workload in common:
            filled.append(dict(common[workload]))
            sources.append("workload")
        else:
            filled.append(None)
            sources.append("unknown")
    out["labels"] = filled
    out["labels_source"] = sources
    if "ports" in out.columns:
        out["ports"] = _sibling_ports(out)
    return out


def _sibling_ports(pods: pd.DataFrame) -> list:
    """Container ports for pods the inventory snapshot missed (gone before it was taken):
    those of a sibling it has, else none known."""
    known: dict[str, tuple] = {}
    for workload, ports in zip(pods["workload"], pods["ports"], strict=True):
        if ports is not None and workload not in known:
            known[workload] = tuple(ports)
    return [
        tuple(ports) if ports is not None else known.get(workload, ())
        for workload, ports in zip(pods["workload"], pods["ports"], strict=True)
    ]


def workload_table(pods: pd.DataFrame) -> pd.DataFrame:
    """One row per workload: namespace, name, kind, its pods, and their union of IPs."""
    if pods.empty:
        return pd.DataFrame(columns=["workload", "namespace", "name", "kind", "pods"])
    grouped = pods.sort_values("pod").groupby("workload", sort=True)
    return pd.DataFrame(
        {
            "workload": list(grouped.groups.keys()),
            "namespace": grouped["namespace"].first().to_list(),
            "name": grouped["workload_name"].first().to_list(),
            "kind": grouped["workload_kind"].first().to_list(),
            "pods": grouped["pod"].agg(tuple).to_list(),
        }
    )


def _endpoint_ids(conns: pd.DataFrame, side: str, pod_workload: dict) -> tuple[list, list]:
    types, ids = [], []
    for kind, ns, pod, ip in zip(
        conns[f"{side}_kind"],
        conns[f"{side}_namespace"],
        conns[f"{side}_pod"],
        conns[f"{side}_ip"],
        strict=True,
    ):
        if kind == "pod":
            types.append("workload")
            ids.append(pod_workload[(ns, pod)])
        else:
            types.append(kind)
            ids.append(ip)
    return types, ids


def workload_connections(conns: pd.DataFrame, pods: pd.DataFrame) -> pd.DataFrame:
    """Lift pod-level connections to workloads: any replica stands for its workload.

    Returns src_type, src_id, dst_type, dst_id, protocol, port, flows, records,
    first_seen, last_seen, pods, hours, days, dst_names and dst_name_answers (the union
    of the connections' names, answers summed); ``*_type`` is "workload" or the endpoint
    kind of an address.
    """
    columns = ["src_type", "src_id", "dst_type", "dst_id", "protocol", "port"]
    if conns.empty:
        return pd.DataFrame(
            columns=[
                *columns,
                "flows",
                "records",
                "first_seen",
                "last_seen",
                "pods",
                "hours",
                "days",
                "dst_names",
                "dst_name_answers",
            ]
        )
    pod_workload = dict(
        zip(zip(pods["namespace"], pods["pod"], strict=True), pods["workload"], strict=True)
    )
    df = pd.DataFrame(index=conns.index)
    df["src_type"], df["src_id"] = _endpoint_ids(conns, "src", pod_workload)
    df["dst_type"], df["dst_id"] = _endpoint_ids(conns, "dst", pod_workload)
    df["protocol"] = conns["protocol"]
    df["port"] = conns["port"].astype("int64")
    for col in ("flows", "records", "first_seen", "last_seen", "active_hours"):
        df[col] = conns[col]
    df["named"] = list(zip(conns["dst_names"], conns["dst_name_answers"], strict=True))
    out = df.groupby(columns, sort=True).agg(
        flows=("flows", "sum"),
        records=("records", "sum"),
        first_seen=("first_seen", "min"),
        last_seen=("last_seen", "max"),
        pods=("flows", "size"),
        active_hours=("active_hours", lambda hs: frozenset().union(*map(set, hs))),
        named=("named", lambda ns: union_names(*zip(*ns, strict=True))),
    )
    out = out.reset_index()
    # Regularity of each connection: a rule seen every day is surer than a one-off.
    out["hours"] = [len(h) for h in out["active_hours"]]
    out["days"] = [len({x // 24 for x in h}) for h in out["active_hours"]]
    # The DNS names of an address peer, and how many DNS answers said each (see
    # recommender.connection_names).
    out["dst_names"] = [n for n, _ in out["named"]]
    out["dst_name_answers"] = [c for _, c in out["named"]]
    return out.drop(columns=["active_hours", "named"])
