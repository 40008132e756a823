"""The simulated traffic as Calico Enterprise ``flows.log`` records (format ``calico-ee``).

The connections are exactly those :func:`recommender.sim.hubble_records` renders for the
same cluster and seed (both walk :func:`recommender.sim.plan_connections`), so every
:class:`~recommender.sim.SimEdge` appears as request records with the same pods, labels,
ports and peers. How Calico would log them (``research/flow-formats.md`` §2.1, §2.3):

* Felix flushes per node every 5 minutes: one record per (flush window, reporting node,
  reporter, action, endpoints, protocol, ports) with ``num_flows`` connections folded in;
  ``start_time``/``end_time`` are the window's bounds (aligned on multiples of 300 s).
* A connection between two pods is reported twice: by the client's node (``reporter: src``)
  and by the server's node (``reporter: dst``). A connection with one Calico workload end is
  reported by that end's node only.
* Endpoints: pods are ``wep`` with their full Kubernetes labels (``pod-template-hash`` and the
  Job / StatefulSet labels included) and ``source_name_aggr`` = the generateName prefix plus
  ``*`` (``cart-7d4b9c8f6-*``, ``postgres-*``, ``report-29372070-*``; a bare pod's own name).
  Nodes (kubelet probes, LoadBalancer traffic SNATed by another node, the API server on the
  control-plane node) are ``hep`` named ``<node>-auto-hep`` with the node IP, as with
  ``flowLogsEnableHostEndpoint`` and automatic host endpoints; host endpoints are not assumed
  to report, so only the pod's node logs those connections. Other addresses are ``net`` with
  ``pub`` or ``pvt`` (RFC 1918 and other private ranges).
* ``aggregation``: 0 keeps pod names, IPs and source ports; 1 drops source ports (null); 2
  also folds pods into their prefix (``source_name`` ``-``, IP null, labels the intersection)
  and addresses into ``pub``/``pvt``; 3 also drops the destination port.
* Every flow is allowed by the namespace profile (``__PROFILE__``), as in a cluster without
  policies. ``dest_service_*`` name the Service the client addressed, ``dest_domains`` the DNS
  names of an external destination (client-side records).
"""

from __future__ import annotations

import ipaddress
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .clock import S
from .cluster import SimCluster, SimPod
from .files import write_bytes
from .traffic import Connection, Side, plan_connections

__all__ = ["WINDOW_SECONDS", "calico_records", "write_calico"]

#: Felix ``flowLogsFlushInterval`` default (Calico Enterprise): 5 minutes.
WINDOW_SECONDS = 300


def _aggr_name(pod: SimPod) -> str:
    """The pod's generateName prefix plus ``*`` (a bare pod: its name)."""
    if pod.owner_name:
        return f"{pod.owner_name}-*"
    if pod.workload_kind != "Pod":
        return f"{pod.workload_name}-*"
    return pod.name


def _labels(pod: SimPod) -> list[str]:
    return sorted(f"{k}={v}" for k, v in pod.labels.items())


class _Endpoints:
    """Calico endpoint fields for the sides of planned connections."""

    def __init__(self, cluster: SimCluster, aggregation: int) -> None:
        self.aggregation = aggregation
        self.node_by_ip = {n.ip: n.name for n in cluster.nodes}
        self.services = {(s.namespace, s.name): s for s in cluster.services}

    def side(self, side: Side) -> dict[str, Any]:
        """type, name, name_aggr, namespace, ip, labels (a list or None), node."""
        if side.kind == "pod":
            pod = side.pod
            return {
                "type": "wep",
                "name": pod.name,
                "name_aggr": _aggr_name(pod),
                "namespace": pod.namespace,
                "ip": pod.ip,
                "labels": _labels(pod),
                "node": pod.node,
            }
        node = side.node if side.kind == "host" else self.node_by_ip.get(side.ip)
        if node is not None:  # host, remote-node, kube-apiserver: a node address
            hep = f"{node}-auto-hep"
            return {
                "type": "hep",
                "name": hep,
                "name_aggr": hep,
                "namespace": "-",
                "ip": side.ip,
                "labels": None,
                "node": None,
            }
        private = ipaddress.ip_address(side.ip).is_private
        return {
            "type": "net",
            "name": "-",
            "name_aggr": "pvt" if private else "pub",
            "namespace": "-",
            "ip": side.ip,
            "labels": None,
            "node": None,
        }

    def service(self, conn: Connection) -> tuple[str, str, str, int | None]:
        """(namespace, name, port name, port number) of the Service the client used."""
        if not conn.traffic.service:
            return "-", "-", "-", None
        ns, name = conn.traffic.service
        svc = self.services.get((ns, name))
        port_name, port_num = "-", None
        if svc is not None:
            for pname, sport, target, proto in svc.ports:
                if target == conn.edge.port and proto == conn.edge.protocol:
                    port_name, port_num = pname or "-", sport
                    break
        return ns, name, port_name, port_num

    def key(self, ep: dict[str, Any]) -> tuple:
        """What identifies an endpoint at this aggregation level."""
        if self.aggregation >= 2:
            return (ep["type"], ep["namespace"], ep["name_aggr"])
        return (ep["type"], ep["namespace"], ep["name"], ep["ip"])


def _counters(conn: Connection, rng: random.Random) -> tuple[int, int, int, int]:
    """(packets c->s, packets s->c, bytes c->s, bytes s->c) of one connection."""
    if conn.traffic.style == "dns" and conn.edge.protocol == "UDP":
        return 2, 2, 2 * rng.randint(70, 110), 2 * rng.randint(120, 260)
    if conn.midstream:
        return 2, 1, rng.randint(150, 900), rng.randint(200, 9000)
    pc, ps = rng.randint(4, 5), rng.randint(3, 4)
    return pc, ps, 52 * pc + rng.randint(80, 1200), 52 * ps + rng.randint(200, 16000)


def _policies(namespace: str) -> dict[str, list[str]]:
    """What a cluster without policies logs: the namespace profile's default allow."""
    hit = f"0|__PROFILE__|__PROFILE__.kns.{namespace}|allow|0"
    return {"all_policies": [hit], "enforced_policies": [hit], "pending_policies": [hit]}


def _record(window: int, reporter: str, src: dict, dst: dict, conn: Connection, agg: dict) -> dict:
    level = agg["level"]
    proto = conn.edge.protocol.lower()
    svc_ns, svc_name, svc_port, svc_num = agg["service"]
    p_cs, p_sc, b_cs, b_sc = agg["counters"]
    # in/out are relative to the reporter: the client sends c->s, the server receives it.
    if reporter == "src":
        p_in, p_out, b_in, b_out = p_sc, p_cs, b_sc, b_cs
    else:
        p_in, p_out, b_in, b_out = p_cs, p_sc, b_cs, b_sc

    def labels(ep: dict, common: list[str] | None) -> dict[str, list[str]] | None:
        if ep["type"] != "wep":
            return None
        return {"labels": common if common is not None else ep["labels"]}

    rec: dict[str, Any] = {
        "start_time": window * WINDOW_SECONDS,
        "end_time": (window + 1) * WINDOW_SECONDS,
        "source_ip": None if level >= 2 else src["ip"],
        "source_name": "-" if level >= 2 and src["type"] == "wep" else src["name"],
        "source_name_aggr": src["name_aggr"],
        "source_namespace": src["namespace"],
        "source_port": conn.sport if level == 0 else None,
        "source_type": src["type"],
        "source_labels": labels(src, agg["src_labels"]),
        "dest_ip": None if level >= 2 else dst["ip"],
        "dest_name": "-" if level >= 2 and dst["type"] == "wep" else dst["name"],
        "dest_name_aggr": dst["name_aggr"],
        "dest_namespace": dst["namespace"],
        "dest_port": conn.edge.port if level < 3 else None,
        "dest_type": dst["type"],
        "dest_labels": labels(dst, agg["dst_labels"]),
        "dest_service_namespace": svc_ns,
        "dest_service_name": svc_name,
        "dest_service_port": svc_port if level < 3 else "-",
        "dest_service_port_num": svc_num if level < 3 else None,
        "dest_domains": list(conn.traffic.names) if reporter == "src" else [],
        "proto": proto,
        "action": "allow",
        "reporter": reporter,
        "policies": _policies((src if reporter == "src" else dst)["namespace"]),
        "bytes_in": b_in,
        "bytes_out": b_out,
        "num_flows": agg["flows"],
        "num_flows_started": agg["started"],
        "num_flows_completed": agg["completed"],
        "packets_in": p_in,
        "packets_out": p_out,
        "original_source_ips": None,
        "num_original_source_ips": 0,
    }
    return rec


def _fold(
    pending: dict[tuple, dict[str, Any]],
    eps: _Endpoints,
    conn: Connection,
    counters: tuple[int, int, int, int],
) -> None:
    """Fold one connection into the records of its window: one per reporting end."""
    aggregation = eps.aggregation
    src, dst = eps.side(conn.client), eps.side(conn.server)
    service = eps.service(conn)
    for reporter, ep in (("src", src), ("dst", dst)):
        if ep["type"] != "wep":
            continue  # only workload endpoints' nodes report (see the module doc)
        key = (
            reporter,
            ep["node"],
            eps.key(src),
            eps.key(dst),
            conn.edge.protocol,
            conn.edge.port if aggregation < 3 else None,
            conn.sport if aggregation == 0 else None,
            service if aggregation < 3 else service[:2],
        )
        agg = pending.get(key)
        if agg is None:
            agg = pending[key] = {
                "level": aggregation,
                "reporter": reporter,
                "node": ep["node"],
                "src": src,
                "dst": dst,
                "conn": conn,
                "service": service,
                "counters": (0, 0, 0, 0),
                "flows": 0,
                "started": 0,
                "completed": 0,
                "src_labels": None,
                "dst_labels": None,
            }
        agg["flows"] += 1
        if not conn.midstream:
            agg["started"] += 1
            agg["completed"] += 1
        agg["counters"] = tuple(a + b for a, b in zip(agg["counters"], counters, strict=True))
        if aggregation >= 2:  # labels common to every pod folded into the record
            _common_labels(agg, src, dst)


def _common_labels(agg: dict[str, Any], src: dict[str, Any], dst: dict[str, Any]) -> None:
    for side, e in (("src_labels", src), ("dst_labels", dst)):
        if e["labels"] is None:
            continue
        agg[side] = (
            list(e["labels"])
            if agg[side] is None
            else [x for x in agg[side] if x in set(e["labels"])]
        )


def _node_records(
    cluster: SimCluster, seed: int, aggregation: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(reporting node, record)`` in flush order: window by window, records of a window in
    the order of their first connection (src before dst)."""
    if aggregation not in (0, 1, 2, 3):
        raise ValueError("aggregation must be 0, 1, 2 or 3")
    rng = random.Random(seed * 6_700_417 + 29)
    eps = _Endpoints(cluster, aggregation)
    current: int | None = None
    pending: dict[tuple, dict[str, Any]] = {}

    def flush() -> Iterator[tuple[str, dict[str, Any]]]:
        for agg in pending.values():
            rec = _record(current, agg["reporter"], agg["src"], agg["dst"], agg["conn"], agg)
            yield agg["node"], rec
        pending.clear()

    for conn in plan_connections(cluster, seed):
        window = conn.t // (WINDOW_SECONDS * S)
        if window != current:
            if current is not None:
                yield from flush()
            current = window
        _fold(pending, eps, conn, _counters(conn, rng))
    if current is not None:
        yield from flush()


def calico_records(cluster: SimCluster, *, seed: int = 7, aggregation: int = 0) -> Iterator[dict]:
    """Calico Enterprise ``flows.log`` records (as dicts) of the cluster's traffic, window
    by window. ``aggregation`` is Felix's flow-log aggregation level (0-3)."""
    for _, rec in _node_records(cluster, seed, aggregation):
        yield rec


def write_calico(
    cluster: SimCluster, out_dir: Path, *, seed: int = 7, aggregation: int = 0
) -> list[Path]:
    """Write ``calico-flows-<node>.log`` (JSON lines, as Felix writes ``flows.log`` on each
    node) for every node that reports something; returns the paths in node order."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines: dict[str, list[str]] = {n.name: [] for n in cluster.nodes}
    for node, rec in _node_records(cluster, seed, aggregation):
        lines[node].append(json.dumps(rec, separators=(",", ":")) + "\n")
    written = []
    for node, node_lines in lines.items():
        if not node_lines:
            continue
        path = out_dir / f"calico-flows-{node}.log"
        write_bytes(path, "".join(node_lines).encode())
        written.append(path)
    return written
