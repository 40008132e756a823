"""Kubernetes inventory: `kubectl get pods,namespaces,nodes,... -A -o json` snapshots.

Objects read: Pod, Namespace, Node (addresses, ``spec.podCIDR(s)``), ReplicaSet and Job (their
owners), Service (ClusterIPs, ports, selector) and EndpointSlice (backends and resolved target
ports). Several snapshots (files) merge: a pod seen in several keeps the widest lifetime
(``created`` from ``creationTimestamp``; ``ended`` from ``deletionTimestamp`` plus the grace
period, or the containers' ``finishedAt`` for a finished pod), so pods that came and went
during the window are all known and an address used by two pods at different times can be
told apart (:mod:`recommender.ingest.enrich`).

Flow logs carry a filtered subset of pod labels (Cilium drops some), no container ports
and no pods that were quiet during the window. The inventory fills those gaps: full
labels, named container ports, owners, namespace labels and every pod known to exist, so
selectors are checked for exactness among all known pods. Dirty inventories are normal
(two nodes sharing an address, pods that come and go): conflicts are reported, never fatal.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
from .errors import InputError
from .values import parse_time

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
    # hostIP (a node address), spec.serviceAccountName, and the lifetime in ns since the
    # epoch (None: unknown, i.e. open).
    "host_ip",
    "service_account",
    "created",
    "ended",
]
#: Columns that may be None: kept as Python objects (see :func:`read_inventory`).
_NULLABLE_COLUMNS = (
    "node",
    "owner_kind",
    "owner_name",
    "phase",
    "host_ip",
    "service_account",
    "created",
    "ended",
)
#: Grace period assumed after ``deletionTimestamp`` when the pod does not state one.
DEFAULT_GRACE_SECONDS = 30

#: An object kind (``Pod``, ``ReplicaSet``, ...) or a Service type (``ClusterIP``, ...).
_KIND_RE = re.compile(r"[A-Z][A-Za-z0-9]{0,62}", re.ASCII)

#: Largest inventory file read whole (kubectl output is one JSON document).
MAX_INVENTORY_BYTES = 512 * 1024 * 1024


class _Skip(Exception):
    """One inventory object that cannot be used, with the reason."""


@dataclass(frozen=True)
class ServicePort:
    """One Service port: ``target`` is a number, a container port name, or None (= port)."""

    name: str | None
    port: int
    target: int | str | None
    protocol: str


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    type: str
    cluster_ips: tuple[str, ...]
    #: None: no selector (backends only from EndpointSlices)
    selector: tuple[tuple[str, str], ...] | None
    ports: tuple[ServicePort, ...]


@dataclass(frozen=True)
class SliceEndpoint:
    addresses: tuple[str, ...]
    #: (namespace, name) of the backing pod, when the endpoint says
    pod: tuple[str, str] | None
    ready: bool


@dataclass(frozen=True)
class EndpointSlice:
    namespace: str
    name: str
    service: str
    endpoints: tuple[SliceEndpoint, ...]
    #: (name, port, protocol): the Service port of that name resolves to ``port`` here
    ports: tuple[tuple[str | None, int, str], ...]


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
    #: (namespace, name) -> Service
    services: dict[tuple[str, str], Service] = field(default_factory=dict)
    endpoint_slices: list[EndpointSlice] = field(default_factory=list)
    #: node name -> spec.podCIDR(s)
    pod_cidrs: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "objects": dict(sorted(self.objects.items())),
            "pods": len(self.pods),
            "namespaces": len(self.namespaces),
            "nodes": len(self.nodes),
            "services": len(self.services),
            "rejected": self.rejected[:50],
            "conflicts": self.conflicts[:50],
        }

    def node_addresses(self) -> dict[str, tuple[str, ...]]:
        """Every address that is a node's: Node addresses, pods' hostIP and host-network pod
        IPs -> the node names it belongs to (sorted; "" when no node name is known)."""
        out: dict[str, set[str]] = {}
        for name, ips in self.nodes.items():
            for ip in ips:
                out.setdefault(ip, set()).add(name)
        for row in self.pods.itertuples(index=False):
            node = row.node or ""
            if row.host_ip:
                out.setdefault(row.host_ip, set()).add(node)
            if row.host_network:
                for ip in row.ips:
                    out.setdefault(ip, set()).add(node)
        return {
            ip: tuple(sorted(names - {""}) or sorted(names)) for ip, names in sorted(out.items())
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
    refs = meta.get("ownerReferences")
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, dict) and ref.get("controller") is True:
            kind, name = ref.get("kind"), ref.get("name")
            if isinstance(kind, str) and _KIND_RE.fullmatch(kind) and is_dns1123_subdomain(name):
                return kind, name
    return None, None


def _container_ports(spec: dict, where: str) -> tuple[tuple[str | None, int, str], ...]:
    ports = []
    containers = _list(spec.get("containers"), where, "containers")
    for container in containers + _list(spec.get("initContainers"), where, "initContainers"):
        if not isinstance(container, dict):
            continue
        for port in _list(container.get("ports"), where, "container ports"):
            if not isinstance(port, dict):
                continue
            number = port.get("containerPort")
            if not isinstance(number, int) or isinstance(number, bool) or not 0 < number < 65536:
                raise _Skip(f"{where}: invalid containerPort {truncated_repr(number)}")
            name = port.get("name")
            if name is not None and not (isinstance(name, str) and is_dns1123_label(name)):
                raise _Skip(f"{where}: invalid port name {truncated_repr(name)}")
            protocol = port.get("protocol", "TCP")
            if protocol not in ("TCP", "UDP", "SCTP"):
                raise _Skip(f"{where}: invalid port protocol {truncated_repr(protocol)}")
            ports.append((name, number, protocol))
    return tuple(sorted(set(ports), key=lambda p: (p[1], p[2], p[0] or "")))


def _list(value: Any, where: str, what: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Skip(f"{where}: {what} is not a list")
    return value


def _time(value: Any, where: str, what: str) -> int | None:
    if value is None or value == "":
        return None
    ns = parse_time(value)
    if ns is None:
        raise _Skip(f"{where}: invalid {what} {truncated_repr(value)}")
    return ns


def _ended(meta: dict, spec: dict, status: dict, where: str) -> int | None:
    """When the pod stopped holding its IP, if the snapshot says: deletionTimestamp plus
    the grace period, or (finished pods) the last container's finishedAt."""
    ends = []
    deleted = _time(meta.get("deletionTimestamp"), where, "deletionTimestamp")
    if deleted is not None:
        grace = meta.get("deletionGracePeriodSeconds")
        if not isinstance(grace, int) or isinstance(grace, bool) or not 0 <= grace < 2**31:
            grace = spec.get("terminationGracePeriodSeconds")
        if not isinstance(grace, int) or isinstance(grace, bool) or not 0 <= grace < 2**31:
            grace = DEFAULT_GRACE_SECONDS
        ends.append(deleted + grace * 1_000_000_000)
    if status.get("phase") in ("Succeeded", "Failed"):
        finished = []
        for cs in _list(status.get("containerStatuses"), where, "containerStatuses"):
            state = cs.get("state") if isinstance(cs, dict) else None
            term = state.get("terminated") if isinstance(state, dict) else None
            if isinstance(term, dict):
                t = _time(term.get("finishedAt"), where, "finishedAt")
                if t is not None:
                    finished.append(t)
        if finished:
            ends.append(max(finished))
    return min(ends) if ends else None


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
    entries = status.get("podIPs") or [{"ip": status.get("podIP")}]
    for entry in entries if isinstance(entries, list) else []:
        ip = canonical_ip(entry.get("ip")) if isinstance(entry, dict) else None
        if ip:
            ips.append(ip)
    owner_kind, owner_name = _controller(meta)
    phase = status.get("phase")
    node = spec.get("nodeName")
    sa = spec.get("serviceAccountName") or spec.get("serviceAccount")
    return {
        "namespace": namespace,
        "pod": name,
        "labels": _labels(meta, where),
        "ips": tuple(sorted(set(ips))),
        "node": node if is_dns1123_subdomain(node) else None,
        "host_network": spec.get("hostNetwork") is True,
        "owner_kind": owner_kind,
        "owner_name": owner_name,
        "ports": _container_ports(spec, where),
        "phase": phase if isinstance(phase, str) and _KIND_RE.fullmatch(phase) else None,
        "host_ip": canonical_ip(status.get("hostIP")),
        "service_account": sa if is_dns1123_subdomain(sa) else None,
        "created": _time(meta.get("creationTimestamp"), where, "creationTimestamp"),
        "ended": _ended(meta, spec, status, where),
    }


def _protocol(value: Any, where: str) -> str:
    protocol = "TCP" if value is None else value
    if protocol not in ("TCP", "UDP", "SCTP"):
        raise _Skip(f"{where}: invalid protocol {truncated_repr(value)}")
    return protocol


def _port_number(value: Any, where: str, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
        raise _Skip(f"{where}: invalid {what} {truncated_repr(value)}")
    return value


def _port_name(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not is_dns1123_label(value):
        raise _Skip(f"{where}: invalid port name {truncated_repr(value)}")
    return value


def _service(obj: dict, where: str) -> Service:
    meta, spec = obj.get("metadata") or {}, obj.get("spec")
    if not isinstance(meta, dict) or not isinstance(spec, dict):
        raise _Skip(f"{where}: service without metadata/spec")
    namespace, name = meta.get("namespace") or "default", meta.get("name")
    if not is_dns1123_label(namespace):
        raise _Skip(f"{where}: invalid namespace {truncated_repr(namespace)}")
    if not is_dns1123_label(name):
        raise _Skip(f"{where}: invalid service name {truncated_repr(name)}")
    raw_ips = spec.get("clusterIPs") or [spec.get("clusterIP")]
    ips = []
    for raw in raw_ips if isinstance(raw_ips, list) else []:
        if raw in (None, "", "None"):
            continue  # headless
        ip = canonical_ip(raw)
        if ip is None:
            raise _Skip(f"{where}: invalid clusterIP {truncated_repr(raw)}")
        ips.append(ip)
    selector = spec.get("selector")
    if selector is not None:
        selector = tuple(_labels({"labels": selector}, where).items()) or None
    ports = []
    for port in _list(spec.get("ports"), where, "ports"):
        if not isinstance(port, dict):
            raise _Skip(f"{where}: invalid service port {truncated_repr(port)}")
        number = _port_number(port.get("port"), where, "service port")
        target = port.get("targetPort")
        if isinstance(target, str) and target.isascii() and target.isdigit() and len(target) < 6:
            target = _port_number(int(target), where, "targetPort")
        elif isinstance(target, str):
            target = _port_name(target, where)
        elif target is not None:
            target = _port_number(target, where, "targetPort")
        ports.append(
            ServicePort(
                _port_name(port.get("name"), where),
                number,
                target,
                _protocol(port.get("protocol"), where),
            )
        )
    kind = spec.get("type")
    kind = kind if isinstance(kind, str) and _KIND_RE.fullmatch(kind) else "ClusterIP"
    return Service(namespace, name, kind, tuple(dict.fromkeys(ips)), selector, tuple(ports))


def _endpoint_slice(obj: dict, where: str) -> EndpointSlice:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise _Skip(f"{where}: endpoint slice without metadata")
    namespace, name = meta.get("namespace") or "default", meta.get("name")
    labels = _labels(meta, where)
    service = labels.get("kubernetes.io/service-name")
    if not is_dns1123_label(namespace) or not is_dns1123_subdomain(name):
        raise _Skip(f"{where}: invalid endpoint slice name {truncated_repr(name)}")
    if not is_dns1123_label(service):
        raise _Skip(f"{where}: endpoint slice without a kubernetes.io/service-name label")
    endpoints = []
    for ep in _list(obj.get("endpoints"), where, "endpoints"):
        if not isinstance(ep, dict):
            raise _Skip(f"{where}: invalid endpoint {truncated_repr(ep)}")
        addresses = []
        for raw in _list(ep.get("addresses"), where, "addresses"):
            ip = canonical_ip(raw)
            if ip is None:
                raise _Skip(f"{where}: invalid endpoint address {truncated_repr(raw)}")
            addresses.append(ip)
        ref = ep.get("targetRef")
        pod = None
        if isinstance(ref, dict) and ref.get("kind") == "Pod":
            ref_ns = ref.get("namespace") or namespace
            if not is_dns1123_label(ref_ns) or not is_dns1123_subdomain(ref.get("name")):
                raise _Skip(f"{where}: invalid targetRef {truncated_repr(ref)}")
            pod = (ref_ns, ref["name"])
        conditions = ep.get("conditions") if isinstance(ep.get("conditions"), dict) else {}
        endpoints.append(SliceEndpoint(tuple(addresses), pod, conditions.get("ready") is not False))
    ports = []
    for port in _list(obj.get("ports"), where, "ports"):
        if not isinstance(port, dict):
            raise _Skip(f"{where}: invalid endpoint port {truncated_repr(port)}")
        ports.append(
            (
                _port_name(port.get("name"), where),
                _port_number(port.get("port"), where, "endpoint port"),
                _protocol(port.get("protocol"), where),
            )
        )
    return EndpointSlice(namespace, name, service, tuple(endpoints), tuple(ports))


def _node_cidrs(spec: Any, where: str) -> tuple[str, ...]:
    if not isinstance(spec, dict):
        return ()
    raw = spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
    cidrs = []
    for cidr in raw if isinstance(raw, list) else []:
        try:
            if not isinstance(cidr, str) or len(cidr) > 64:
                raise ValueError
            cidrs.append(str(ipaddress.ip_network(cidr, strict=False)))
        except ValueError:
            raise _Skip(f"{where}: invalid podCIDR {truncated_repr(cidr)}") from None
    return tuple(dict.fromkeys(cidrs))


def _merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The same pod in two snapshots: the later fields, the widest known lifetime."""
    merged = dict(new)
    created = [t for t in (old["created"], new["created"]) if t is not None]
    ended = [t for t in (old["ended"], new["ended"]) if t is not None]
    merged["created"] = min(created) if created else None
    merged["ended"] = max(ended) if ended else None
    merged["ips"] = new["ips"] or old["ips"]
    merged["host_ip"] = new["host_ip"] or old["host_ip"]
    return merged


def _items(doc: Any) -> list[Any]:
    if isinstance(doc, dict) and isinstance(doc.get("items"), list):
        return doc["items"]
    if isinstance(doc, list):
        return doc
    return [doc]


_KUBECTL_HINT = "expected `kubectl get pods,namespaces,nodes -A -o json` output"


def _is_object(value: Any, typed_list: bool) -> bool:
    """A Kubernetes object: metadata, and a kind unless a typed list (``PodList``) says it."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("metadata"), dict)
        and (typed_list or isinstance(value.get("kind"), str))
    )


def _check_kubectl(doc: Any, path: Path) -> None:
    """Refuse a document that is not kubectl output (a flow log, a policy, any other JSON)
    rather than reading it as an inventory of nothing: one line naming the file."""
    what = None
    if isinstance(doc, dict) and "items" in doc:
        kind = doc.get("kind")
        items = doc["items"]
        if not (isinstance(kind, str) and kind.endswith("List")) or not isinstance(items, list):
            what = f"an object with items but kind {truncated_repr(kind, 40)}, not a List"
        elif items and not any(_is_object(i, kind != "List") for i in items):
            what = f"a {kind[:40]!r} whose {len(items)} items are not Kubernetes objects"
    elif isinstance(doc, dict):
        if not _is_object(doc, False):
            keys = ", ".join(truncated_repr(k, 30) for k in sorted(map(str, doc))[:5])
            what = f"a JSON object with keys {keys or '(none)'}, not a Kubernetes object or List"
    elif isinstance(doc, list):
        if not any(_is_object(i, False) for i in doc):
            what = f"a JSON array of {len(doc)} values, none a Kubernetes object"
    else:
        names = {str: "string", bool: "boolean", int: "number", float: "number"}
        what = f"a JSON {names.get(type(doc), 'null')}"
    if what is not None:
        raise InputError(f"{path}: not kubectl output: {what}; {_KUBECTL_HINT}")


@dataclass
class _Collected:
    """What the inventory files hold, collected object by object."""

    pods: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    nodes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    owners: dict[tuple[str, str, str], tuple[str, str]] = field(default_factory=dict)
    objects: Counter = field(default_factory=Counter)
    rejected: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    services: dict[tuple[str, str], Service] = field(default_factory=dict)
    slices: dict[tuple[str, str], EndpointSlice] = field(default_factory=dict)
    pod_cidrs: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def add(self, kind: str | None, obj: dict, where: str) -> None:
        """One object; _Skip (or a shape error) when it cannot be used."""
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        if kind == "Pod":
            self.add_pod(_pod(obj, where))
        elif kind == "Namespace":
            name = meta.get("name")
            if not is_dns1123_label(name):
                raise _Skip(f"{where}: invalid namespace name {truncated_repr(name)}")
            labels = _labels(meta, where)
            labels.setdefault("kubernetes.io/metadata.name", name)
            self.namespaces[name] = labels
        elif kind == "Node":
            self.add_node(obj, meta, where)
        elif kind == "Service":
            svc = _service(obj, where)
            self.services[(svc.namespace, svc.name)] = svc
        elif kind == "EndpointSlice":
            es = _endpoint_slice(obj, where)
            self.slices[(es.namespace, es.name)] = es
        elif kind in ("ReplicaSet", "Job"):
            owner = _controller(meta)
            ns, name = meta.get("namespace") or "default", meta.get("name")
            if owner[0] and is_dns1123_label(ns) and is_dns1123_subdomain(name):
                self.owners[(ns, kind, name)] = owner  # type: ignore[assignment]

    def add_pod(self, pod: dict[str, Any]) -> None:
        key = (pod["namespace"], pod["pod"])
        if key in self.pods:
            old = self.pods[key]
            if old["ips"] != pod["ips"] and old["ips"] and pod["ips"]:
                self.conflicts.append(f"pod {key[0]}/{key[1]} appears twice with other IPs")
            pod = _merge(old, pod)
        self.pods[key] = pod

    def add_node(self, obj: dict, meta: dict, where: str) -> None:
        name = meta.get("name")
        if not is_dns1123_subdomain(name):
            raise _Skip(f"{where}: invalid node name {truncated_repr(name)}")
        status = obj.get("status")
        addresses = status.get("addresses") if isinstance(status, dict) else None
        ips = {
            canonical_ip(a.get("address"))
            for a in _list(addresses, where, "addresses")
            if isinstance(a, dict) and a.get("type") in ("InternalIP", "ExternalIP")
        }
        self.nodes[name] = tuple(sorted(ip for ip in ips if ip))
        cidrs = _node_cidrs(obj.get("spec"), where)
        if cidrs:
            self.pod_cidrs[name] = cidrs

    def node_conflicts(self) -> None:
        """Nodes that share an address (a dirty node list)."""
        by_ip: dict[str, list[str]] = {}
        for name, ips in sorted(self.nodes.items()):
            for ip in ips:
                by_ip.setdefault(ip, []).append(name)
        for ip, names in sorted(by_ip.items()):
            if len(names) > 1:
                self.conflicts.append(f"nodes {', '.join(names)} share the address {ip}")


def _load(path: Path) -> Any:
    """One inventory file's JSON; InputError when it is missing, too large or not JSON."""
    try:
        if path.stat().st_size > MAX_INVENTORY_BYTES:
            raise InputError(f"{path}: inventory larger than {MAX_INVENTORY_BYTES} bytes")
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputError(f"{path}: no such inventory file") from None
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # JSONDecodeError too
        raise InputError(f"{path}: not kubectl JSON ({str(exc)[:200]})") from None


def _kind_of(obj: Any, doc: Any) -> str | None:
    """An object's kind, else the kind its typed list (``PodList``) names."""
    kind = obj.get("kind") if isinstance(obj, dict) else None
    if not (isinstance(kind, str) and _KIND_RE.fullmatch(kind)):
        kind = None
    if kind is None and isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List"):
        kind = str(doc["kind"])[: -len("List")]
    return kind


def read_inventory(paths: list[str | os.PathLike]) -> Inventory:
    """Read kubectl JSON (one `List`, typed lists like `PodList`, or single objects).

    A file that is not kubectl output (no Kubernetes object in it) raises
    :class:`InputError`: an inventory of nothing would silently change nothing.
    """
    found = _Collected()
    for path in paths:
        path = Path(path)
        doc = _load(path)
        _check_kubectl(doc, path)
        for index, obj in enumerate(_items(doc)):
            where = f"{path}:item {index}"
            kind = _kind_of(obj, doc)
            found.objects[kind or "unknown"] += 1
            try:
                if not isinstance(obj, dict):
                    raise _Skip(f"{where}: not an object")
                found.add(kind, obj, where)
            except _Skip as exc:
                found.rejected.append(str(exc))
            except (TypeError, ValueError, AttributeError, KeyError, RecursionError) as exc:
                # A shape no check above expected: the object is skipped, never the run.
                found.rejected.append(f"{where}: malformed object ({type(exc).__name__})")
    found.node_conflicts()
    pods = found.pods
    found.conflicts.extend(_address_conflicts(pods, found.nodes))
    frame = pd.DataFrame([pods[k] for k in sorted(pods)], columns=INVENTORY_COLUMNS).reset_index(
        drop=True
    )
    # Exact ns ints or None (not float64 with NaN), and strings or None: pandas 3 infers a
    # string dtype for str/None columns and turns None into NaN, which is truthy (a pod
    # without an owner would get workload NaN/NaN).
    for col in _NULLABLE_COLUMNS:
        frame[col] = pd.Series([pods[k][col] for k in sorted(pods)], dtype=object)
    return Inventory(
        frame,
        found.namespaces,
        found.nodes,
        found.owners,
        found.objects,
        found.rejected,
        found.conflicts,
        services=dict(sorted(found.services.items())),
        endpoint_slices=[found.slices[k] for k in sorted(found.slices)],
        pod_cidrs=dict(sorted(found.pod_cidrs.items())),
    )


def _fmt_ns(ns: int | None) -> str:
    if ns is None:
        return "?"
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _address_conflicts(
    pods: dict[tuple[str, str], dict[str, Any]], nodes: dict[str, tuple[str, ...]]
) -> list[str]:
    """Addresses the inventory gives to more than one owner, and hostIPs no Node has."""
    out: list[str] = []
    host_ips: Counter = Counter()
    claims: dict[str, list[dict[str, Any]]] = {}
    node_ips = {ip for ips in nodes.values() for ip in ips}
    for key in sorted(pods):
        pod = pods[key]
        if pod["node"] in nodes and pod["host_ip"] and pod["host_ip"] not in nodes[pod["node"]]:
            host_ips[(pod["node"], pod["host_ip"])] += 1
        if pod["host_network"]:
            continue
        for ip in pod["ips"]:
            claims.setdefault(ip, []).append(pod)
    for (node, ip), count in sorted(host_ips.items()):
        have = ", ".join(nodes[node]) or "none"
        out.append(
            f"{count} pod(s) on node {node} report hostIP {ip}, which is not among the "
            f"node's addresses ({have})"
        )
    for ip, owners in sorted(claims.items()):
        names = [f"{p['namespace']}/{p['pod']}" for p in owners]
        if ip in node_ips:
            out.append(f"address {ip} is both a node's and pod {', '.join(names)}'s")
        if len(owners) < 2:
            continue
        spans = sorted(owners, key=lambda p: (p["created"] is None, p["created"] or 0))
        disjoint = all(
            a["ended"] is not None and b["created"] is not None and a["ended"] <= b["created"]
            for a, b in zip(spans, spans[1:], strict=False)
        )
        if disjoint:
            steps = ", ".join(
                f"{p['namespace']}/{p['pod']} ({_fmt_ns(p['created'])} to {_fmt_ns(p['ended'])})"
                for p in spans
            )
            out.append(f"address {ip} was reused over time: {steps}")
        else:
            out.append(
                f"address {ip} is claimed by pods {', '.join(names)} at overlapping or unknown "
                "times: flows to it stay unattributed"
            )
    return out


def enrich_pods(observed: pd.DataFrame, inventory: Inventory) -> pd.DataFrame:
    """Join observed pods with the inventory; add the pods the inventory knows but the
    logs never showed (``observed`` False), so selectors are exact among all known pods.

    Inventory labels replace the log's (Cilium filters some); container ports are added
    for named-port resolution, and the node and host IP (to tell a pod's own node from
    another); host-network pods are left out (no policy selects them).
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
        row["node"], row["host_ip"] = None, None
        if found is not None:
            row["labels"] = dict(found.labels)
            row["ports"] = found.ports
            row["node"], row["host_ip"] = found.node, found.host_ip
            if found.owner_kind and not row.get("workload_name"):
                row["workload_kind"], row["workload_name"] = top_owner(found, inventory)
        if row["namespace"] in inventory.namespaces:
            row["namespace_labels"] = dict(inventory.namespaces[row["namespace"]])
        rows.append(row)
    for key, found in sorted(inv_by_key.items()):
        if key in seen:
            continue
        kind, name = top_owner(found, inventory) if found.owner_kind else (None, None)
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
                "node": found.node,
                "host_ip": found.host_ip,
            }
        )
    return pd.DataFrame(rows)


def top_owner(pod: Any, inventory: Inventory) -> tuple[str, str]:
    """The top-level owner: ReplicaSet -> Deployment, Job -> CronJob, when known."""
    kind, name = pod.owner_kind, pod.owner_name
    parent = inventory.owners.get((pod.namespace, kind, name))
    if parent is not None:
        return parent
    return kind, name
