"""Kubernetes inventory: `kubectl get pods,namespaces,nodes,... -A -o json` snapshots.

Flow logs carry a filtered subset of pod labels (Cilium drops some), no container ports
and no pods that were quiet during the window. The inventory fills those gaps: full
labels, named container ports, owners, namespace labels and every pod known to exist, so
selectors are checked for exactness among all known pods. Dirty inventories are normal
(two nodes sharing an address, pods that come and go): conflicts are reported, never fatal.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..validate import (
    canonical_ip,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_label_key,
    is_label_value,
    truncated_repr,
)
from .sources import InputError

INVENTORY_COLUMNS = [
    "namespace",
    "pod",
    "labels",
    "ips",
    "node",
    "host_network",
    "owner_kind",
    "owner_name",
    "ports",
    "phase",
]

#: Largest inventory file read whole (kubectl output is one JSON document).
MAX_INVENTORY_BYTES = 512 * 1024 * 1024


class _Skip(Exception):
    """One inventory object that cannot be used, with the reason."""


@dataclass
class Inventory:
    """Pods, namespaces, nodes and owners from one or more snapshots."""

    pods: pd.DataFrame
    namespaces: dict[str, dict[str, str]]
    nodes: dict[str, tuple[str, ...]]
    #: ReplicaSet or Job name -> (kind, name) of its owner, from the objects themselves
    owners: dict[tuple[str, str, str], tuple[str, str]]
    objects: Counter = field(default_factory=Counter)
    rejected: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "objects": dict(sorted(self.objects.items())),
            "pods": len(self.pods),
            "namespaces": len(self.namespaces),
            "nodes": len(self.nodes),
            "rejected": self.rejected[:50],
            "conflicts": self.conflicts[:50],
        }


def _labels(meta: dict, where: str) -> dict[str, str]:
    raw = meta.get("labels") or {}
    if not isinstance(raw, dict):
        raise _Skip(f"{where}: labels is not an object")
    for key, value in raw.items():
        if not is_label_key(key):
            raise _Skip(f"{where}: invalid label key {truncated_repr(key)}")
        if not isinstance(value, str) or not is_label_value(value):
            raise _Skip(f"{where}: invalid label value for {key}: {truncated_repr(value)}")
    return dict(sorted(raw.items()))


def _controller(meta: dict) -> tuple[str | None, str | None]:
    for ref in meta.get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            kind, name = ref.get("kind"), ref.get("name")
            if isinstance(kind, str) and is_dns1123_subdomain(name):
                return kind, name
    return None, None


def _container_ports(spec: dict, where: str) -> tuple[tuple[str | None, int, str], ...]:
    ports = []
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(container, dict):
            continue
        for port in container.get("ports") or []:
            if not isinstance(port, dict):
                continue
            number = port.get("containerPort")
            if not isinstance(number, int) or not 0 < number < 65536:
                raise _Skip(f"{where}: invalid containerPort {truncated_repr(number)}")
            name = port.get("name")
            if name is not None and not (isinstance(name, str) and is_dns1123_label(name)):
                raise _Skip(f"{where}: invalid port name {truncated_repr(name)}")
            protocol = port.get("protocol", "TCP")
            if protocol not in ("TCP", "UDP", "SCTP"):
                raise _Skip(f"{where}: invalid port protocol {truncated_repr(protocol)}")
            ports.append((name, number, protocol))
    return tuple(sorted(set(ports), key=lambda p: (p[1], p[2], p[0] or "")))


def _pod(obj: dict, where: str) -> dict[str, Any]:
    meta, spec, status = obj.get("metadata"), obj.get("spec"), obj.get("status") or {}
    if not isinstance(meta, dict) or not isinstance(spec, dict) or not isinstance(status, dict):
        raise _Skip(f"{where}: pod without metadata/spec")
    namespace, name = meta.get("namespace") or "default", meta.get("name")
    if not is_dns1123_label(namespace):
        raise _Skip(f"{where}: invalid namespace {truncated_repr(namespace)}")
    if not is_dns1123_subdomain(name):
        raise _Skip(f"{where}: invalid pod name {truncated_repr(name)}")
    ips = []
    for entry in status.get("podIPs") or [{"ip": status.get("podIP")}]:
        ip = canonical_ip(entry.get("ip")) if isinstance(entry, dict) else None
        if ip:
            ips.append(ip)
    owner_kind, owner_name = _controller(meta)
    return {
        "namespace": namespace,
        "pod": name,
        "labels": _labels(meta, where),
        "ips": tuple(sorted(set(ips))),
        "node": spec.get("nodeName") if isinstance(spec.get("nodeName"), str) else None,
        "host_network": bool(spec.get("hostNetwork")),
        "owner_kind": owner_kind,
        "owner_name": owner_name,
        "ports": _container_ports(spec, where),
        "phase": status.get("phase") if isinstance(status.get("phase"), str) else None,
    }


def _items(doc: Any) -> list[Any]:
    if isinstance(doc, dict) and isinstance(doc.get("items"), list):
        return doc["items"]
    if isinstance(doc, list):
        return doc
    return [doc]


def read_inventory(paths: list[str | os.PathLike]) -> Inventory:
    """Read kubectl JSON (one `List`, typed lists like `PodList`, or single objects)."""
    pods: dict[tuple[str, str], dict[str, Any]] = {}
    namespaces: dict[str, dict[str, str]] = {}
    nodes: dict[str, tuple[str, ...]] = {}
    owners: dict[tuple[str, str, str], tuple[str, str]] = {}
    objects: Counter = Counter()
    rejected: list[str] = []
    conflicts: list[str] = []
    for path in paths:
        path = Path(path)
        try:
            if path.stat().st_size > MAX_INVENTORY_BYTES:
                raise InputError(f"{path}: inventory larger than {MAX_INVENTORY_BYTES} bytes")
            doc = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise InputError(f"{path}: no such inventory file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not kubectl JSON ({exc})") from None
        for index, obj in enumerate(_items(doc)):
            where = f"{path}:item {index}"
            kind = obj.get("kind") if isinstance(obj, dict) else None
            if kind is None and isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List"):
                kind = str(doc["kind"])[: -len("List")]
            objects[kind or "unknown"] += 1
            try:
                if not isinstance(obj, dict):
                    raise _Skip(f"{where}: not an object")
                meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
                if kind == "Pod":
                    pod = _pod(obj, where)
                    key = (pod["namespace"], pod["pod"])
                    if key in pods and pods[key]["ips"] != pod["ips"]:
                        conflicts.append(f"pod {key[0]}/{key[1]} appears twice with other IPs")
                    pods[key] = pod
                elif kind == "Namespace":
                    name = meta.get("name")
                    if not is_dns1123_label(name):
                        raise _Skip(f"{where}: invalid namespace name {truncated_repr(name)}")
                    labels = _labels(meta, where)
                    labels.setdefault("kubernetes.io/metadata.name", name)
                    namespaces[name] = labels
                elif kind == "Node":
                    name = meta.get("name")
                    if not is_dns1123_subdomain(name):
                        raise _Skip(f"{where}: invalid node name {truncated_repr(name)}")
                    addresses = (obj.get("status") or {}).get("addresses") or []
                    ips = {
                        canonical_ip(a.get("address"))
                        for a in addresses
                        if isinstance(a, dict) and a.get("type") in ("InternalIP", "ExternalIP")
                    }
                    nodes[name] = tuple(sorted(ip for ip in ips if ip))
                elif kind in ("ReplicaSet", "Job"):
                    owner = _controller(meta)
                    ns, name = meta.get("namespace") or "default", meta.get("name")
                    if owner[0] and is_dns1123_subdomain(name):
                        owners[(ns, kind, name)] = owner  # type: ignore[assignment]
            except _Skip as exc:
                rejected.append(str(exc))
    by_ip: dict[str, list[str]] = {}
    for name, ips in sorted(nodes.items()):
        for ip in ips:
            by_ip.setdefault(ip, []).append(name)
    for ip, names in sorted(by_ip.items()):
        if len(names) > 1:
            conflicts.append(f"nodes {', '.join(names)} share the address {ip}")
    frame = pd.DataFrame([pods[k] for k in sorted(pods)], columns=INVENTORY_COLUMNS).reset_index(
        drop=True
    )
    return Inventory(frame, namespaces, nodes, owners, objects, rejected, conflicts)


def enrich_pods(observed: pd.DataFrame, inventory: Inventory) -> pd.DataFrame:
    """Join observed pods with the inventory; add the pods the inventory knows but the
    logs never showed (``observed`` False), so selectors are exact among all known pods.

    Inventory labels replace the log's (Cilium filters some); container ports are added
    for named-port resolution; host-network pods are left out (no policy selects them).
    """
    inv = inventory.pods[~inventory.pods["host_network"]]
    inv_by_key = {(r.namespace, r.pod): r for r in inv.itertuples(index=False)}
    rows = []
    seen = set()
    for row in observed.to_dict("records"):
        key = (row["namespace"], row["pod"])
        seen.add(key)
        found = inv_by_key.get(key)
        row["observed"] = True
        row["ports"] = None  # unknown: the snapshot does not have this pod
        if found is not None:
            row["labels"] = dict(found.labels)
            row["ports"] = found.ports
            if found.owner_kind and not row.get("workload_name"):
                row["workload_kind"], row["workload_name"] = _owner(found, inventory)
        if row["namespace"] in inventory.namespaces:
            row["namespace_labels"] = dict(inventory.namespaces[row["namespace"]])
        rows.append(row)
    for key, found in sorted(inv_by_key.items()):
        if key in seen:
            continue
        kind, name = _owner(found, inventory) if found.owner_kind else (None, None)
        rows.append(
            {
                "namespace": found.namespace,
                "pod": found.pod,
                "labels": dict(found.labels),
                "namespace_labels": dict(inventory.namespaces.get(found.namespace, {})),
                "workload_kind": kind,
                "workload_name": name,
                "service_account": None,
                "ips": found.ips,
                "first_seen": None,
                "last_seen": None,
                "observed": False,
                "ports": found.ports,
            }
        )
    return pd.DataFrame(rows)


def _owner(pod: Any, inventory: Inventory) -> tuple[str, str]:
    """The top-level owner: ReplicaSet -> Deployment, Job -> CronJob, when known."""
    kind, name = pod.owner_kind, pod.owner_name
    parent = inventory.owners.get((pod.namespace, kind, name))
    if parent is not None:
        return parent
    return kind, name
