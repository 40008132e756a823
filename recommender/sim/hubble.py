"""The simulated traffic as Cilium Hubble flow logs (``hubble observe -o json`` lines, or
Hubble exporter files), with the traps real logs have:

* every connection is seen several times: at several observation points on the client's
  node (``FROM_ENDPOINT``, ``TO_OVERLAY``/``TO_STACK``, policy verdicts) and on the
  server's node (``TO_ENDPOINT``, policy verdicts);
* replies (``is_reply: true``) carry swapped addresses and ports, so their
  ``source_port`` is the server's port;
* ``TO_OVERLAY`` rows carry neither ``is_reply`` nor ``traffic_direction``, in both
  directions, and many of them have ACK-only flags: their orientation is unknown;
* connections that were open before the window starts show up without a SYN;
* Cilium pseudo-labels (namespace, namespace labels, service account, cluster) sit among
  the pod labels; ``pod-template-hash`` and other ``kubernetes.io`` labels are filtered
  out as Cilium does, while the Job labels ``job-name``/``controller-uid`` are not;
* reserved identities: kubelet probes from ``reserved:host`` (node IP), Internet clients
  as ``reserved:world``, LoadBalancer traffic SNATed by another node as
  ``reserved:remote-node``, and the API server as ``reserved:kube-apiserver``;
* L7 DNS records (``Type: L7``) that duplicate the L3/L4 rows, and non-flow lines
  (``node_status``, ``lost_events``).

Deterministic for a given seed: no wall clock, one ``random.Random`` per purpose.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from .clock import MS, US, S, to_ns
from .cluster import SimCluster, SimPod
from .files import write_bytes
from .traffic import Connection, Packet, Side, packets, plan_connections

__all__ = ["hubble_labels", "hubble_records", "identity_relevant", "write_hubble"]

# Reserved Cilium identities and their labels.
_RESERVED = {
    "host": (1, "reserved:host"),
    "world": (2, "reserved:world"),
    "remote-node": (6, "reserved:remote-node"),
    "kube-apiserver": (7, "reserved:kube-apiserver"),
}
# Trace observation points and their sub_type numbers (pkg/monitor/api/types.go).
_OBS = {
    "TO_ENDPOINT": 0,
    "TO_PROXY": 1,
    "TO_HOST": 2,
    "TO_STACK": 3,
    "TO_OVERLAY": 4,
    "FROM_ENDPOINT": 5,
}
# protojson field order of TCPFlags.
_FLAG_ORDER = ("FIN", "SYN", "RST", "PSH", "ACK")
# Order Hubble prints flags in its Summary ("SYN, ACK", "ACK, PSH", "ACK, FIN").
_SUMMARY_ORDER = ("SYN", "ACK", "PSH", "FIN", "RST")
_VXLAN = {"index": 6, "name": "cilium_vxlan"}
_VERDICT = {"type": 5}

# Cilium's default identity-label filter (pkg/labelsfilter): app.kubernetes.io/* is kept,
# any other key containing kubernetes.io or k8s.io and the hash/generation labels are
# dropped. Job labels without a prefix (job-name, controller-uid) are kept.
_CHURN_KEYS = frozenset(
    {"pod-template-hash", "controller-revision-hash", "pod-template-generation", "etcd_node"}
)


def identity_relevant(key: str) -> bool:
    """Whether Cilium keeps pod label ``key`` in identities (and so in Hubble's labels)."""
    if key.startswith("app.kubernetes.io/"):
        return True
    if key.startswith("io.kubernetes") or "kubernetes.io" in key or "k8s.io" in key:
        return False
    if key.startswith("annotation"):
        return False
    return key not in _CHURN_KEYS


def hubble_labels(pod: SimPod, cluster: SimCluster) -> list[str]:
    """The ``labels`` list Hubble shows for ``pod``: filtered pod labels plus Cilium
    pseudo-labels, each ``k8s:key=value``, sorted."""
    out = [f"k8s:{k}={v}" for k, v in pod.labels.items() if identity_relevant(k)]
    for k, v in cluster.namespaces.get(pod.namespace, {}).items():
        out.append(f"k8s:io.cilium.k8s.namespace.labels.{k}={v}")
    out.append(f"k8s:io.cilium.k8s.policy.cluster={cluster.name}")
    out.append(f"k8s:io.cilium.k8s.policy.serviceaccount={pod.service_account}")
    out.append(f"k8s:io.kubernetes.pod.namespace={pod.namespace}")
    return sorted(out)


def _fmt_time(ns: int) -> str:
    """RFC 3339 UTC the way protojson writes it: 0, 3, 6 or 9 fractional digits."""
    sec, frac = divmod(ns, S)
    base = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if frac == 0:
        return base + "Z"
    if frac % MS == 0:
        return f"{base}.{frac // MS:03d}Z"
    if frac % US == 0:
        return f"{base}.{frac // US:06d}Z"
    return f"{base}.{frac:09d}Z"


class _Renderer:
    """Per-cluster Hubble state: security identities, endpoint IDs, lxc interfaces, and
    the addresses the DNS proxy answers with (the names of external destinations)."""

    def __init__(self, cluster: SimCluster, rng: random.Random) -> None:
        self.cluster = cluster
        self.rng = rng
        # Security identities: one per distinct identity label set.
        label_sets = sorted({tuple(hubble_labels(p, cluster)) for p in cluster.pods})
        pool = rng.sample(range(1024, 65000), len(label_sets))
        self.identity = dict(zip(label_sets, pool, strict=True))
        self.labels = {p.name + "@" + p.namespace: hubble_labels(p, cluster) for p in cluster.pods}
        # Endpoint IDs and lxc interfaces, per pod.
        self.ep_id: dict[str, int] = {}
        self.lxc: dict[str, dict[str, object]] = {}
        taken: dict[str, set[int]] = {}
        for p in cluster.pods:
            key = p.name + "@" + p.namespace
            ids = taken.setdefault(p.node, set())
            ep = rng.randint(16, 4000)
            while ep in ids:
                ep = rng.randint(16, 4000)
            ids.add(ep)
            self.ep_id[key] = ep
            self.lxc[key] = {"index": rng.randint(8, 250), "name": f"lxc{rng.getrandbits(48):012x}"}
        self._ep_cache: dict[tuple[str, bool], dict[str, object]] = {}
        self.addresses = {
            f"{name}.": edge.dst for edge, tr in cluster.traffic.items() for name in tr.names
        }

    def endpoint(self, side: Side, observer: str) -> dict[str, object]:
        if side.kind != "pod":
            ident, label = _RESERVED[side.kind]
            return {"identity": ident, "labels": [label]}
        pod = side.pod
        assert pod is not None
        key = pod.name + "@" + pod.namespace
        local = pod.node == observer
        cached = self._ep_cache.get((key, local))
        if cached is not None:
            return cached
        labels = self.labels[key]
        ep: dict[str, object] = {}
        if local:
            ep["ID"] = self.ep_id[key]
        ep["identity"] = self.identity[tuple(labels)]
        ep["namespace"] = pod.namespace
        ep["labels"] = labels
        ep["pod_name"] = pod.name
        if pod.workload_kind != "StatefulSet":  # "most pods": none for StatefulSet pods
            ep["workloads"] = [{"name": pod.workload_name, "kind": pod.workload_kind}]
        self._ep_cache[(key, local)] = ep
        return ep


def _summary(proto: str, pkt: Packet) -> str:
    if proto == "TCP":
        return "TCP Flags: " + ", ".join(f for f in _SUMMARY_ORDER if f in pkt.flags)
    return proto


def _flow(
    r: _Renderer,
    conn: Connection,
    pkt: Packet,
    ts: int,
    observer: str,
    *,
    event: dict[str, int],
    direction: str | None,
    point: str | None,
    is_reply: bool | None,
    verdict: str = "FORWARDED",
    interface: dict[str, object] | None = None,
    kind: str = "L3_L4",
    l7: dict[str, object] | None = None,
    summary: str | None = None,
) -> tuple[int, str, dict[str, object]]:
    """One flow, its keys in the order Hubble's protojson writes them."""
    c, s = conn.client, conn.server
    src, dst = (c, s) if pkt.c2s else (s, c)
    sport, dport = (conn.sport, conn.edge.port) if pkt.c2s else (conn.edge.port, conn.sport)
    ports: dict[str, object] = {"source_port": sport, "destination_port": dport}
    proto = conn.edge.protocol
    if proto == "TCP" and kind != "L7":
        ports["flags"] = {f: True for f in _FLAG_ORDER if f in pkt.flags}
    flow: dict[str, object] = {
        "time": _fmt_time(ts),
        "verdict": verdict,
        "IP": {"source": src.ip, "destination": dst.ip, "ipVersion": "IPv4"},
        "l4": {proto: ports},
        "source": r.endpoint(src, observer),
        "destination": r.endpoint(dst, observer),
        "Type": kind,
        "node_name": observer,
    }
    names = conn.traffic.names
    if names:
        flow["destination_names" if pkt.c2s else "source_names"] = list(names)
    if l7 is not None:
        flow["l7"] = l7
    flow["event_type"] = event
    if conn.traffic.service and pkt.c2s and kind != "L7":
        ns, name = conn.traffic.service
        flow["destination_service"] = {"name": name, "namespace": ns}
    if direction:
        flow["traffic_direction"] = direction
    if point:
        flow["trace_observation_point"] = point
    if is_reply is not None:
        flow["is_reply"] = is_reply
    if interface:
        flow["interface"] = interface
    flow["Summary"] = _summary(proto, pkt) if summary is None else summary
    return ts, observer, flow


def _trace(point: str) -> dict[str, int]:
    sub = _OBS[point]
    return {"type": 4, "sub_type": sub} if sub else {"type": 4}


def _l7_dns(
    conn: Connection, pkt: Packet, query: str, addresses: dict[str, str], rng: random.Random
) -> tuple[dict, str]:
    """The ``l7`` field and Summary of a DNS proxy record (request or answer)."""
    if pkt.c2s:
        dns: dict[str, object] = {
            "query": query,
            "observation_source": "proxy",
            "qtypes": [pkt.dns_qtype],
        }
        return {"type": "REQUEST", "dns": dns}, f"DNS Query {query} {pkt.dns_qtype}"
    ttl = rng.randint(5, 60)
    if pkt.dns_qtype == "A" and query in addresses:
        answer = addresses[query]
        dns = {
            "query": query,
            "ips": [answer],
            "ttl": ttl,
            "observation_source": "proxy",
            "qtypes": ["A"],
            "rrtypes": ["A"],
        }
        summary = f'DNS Answer "{answer}" TTL: {ttl} (Proxy {query} A)'
    else:
        ttl = 4294967295
        dns = {"query": query, "ttl": ttl, "observation_source": "proxy", "qtypes": [pkt.dns_qtype]}
        summary = f"DNS Answer  TTL: {ttl} (Proxy {query} {pkt.dns_qtype})"
    latency = pkt.sent - conn.t
    return {"type": "RESPONSE", "latency_ns": str(latency), "dns": dns}, summary


class _Expansion:
    """The Hubble events of one connection, on every node that observes it.

    The random draws (query, packets, jitters, TTLs) happen in a fixed order: keep it."""

    def __init__(self, conn: Connection, r: _Renderer, rng: random.Random) -> None:
        self.conn, self.r, self.rng = conn, r, rng
        c, s = conn.client, conn.server
        self.out: list[tuple[int, str, dict]] = []
        self.c_node = c.node if c.kind == "pod" else None
        self.s_node = s.node if s.kind == "pod" else None
        self.c_lxc = r.lxc[c.pod.name + "@" + c.pod.namespace] if c.pod else None
        self.s_lxc = r.lxc[s.pod.name + "@" + s.pod.namespace] if s.pod else None
        self.same_node = self.c_node is not None and self.c_node == self.s_node
        self.l7 = conn.traffic.l7_dns and c.kind == "pod"
        self.query = rng.choice(conn.traffic.queries) if conn.traffic.queries else ""

    def events(self) -> list[tuple[int, str, dict]]:
        for pkt in packets(self.conn, self.rng):
            if pkt.c2s:
                t = self._request_at_client(pkt)
                if self.s_node is not None:
                    self._request_at_server(pkt, t)
            else:
                self._reply(pkt)
        return self.out

    def jitter(self) -> int:
        return self.rng.randint(1, 9) * US + self.rng.randint(0, 999)

    def emit(self, pkt: Packet, t: int, node: str, point: str | None, **kw: object) -> None:
        event = kw.pop("event", None) or _trace(point)  # type: ignore[arg-type]
        self.out.append(_flow(self.r, self.conn, pkt, t, node, event=event, point=point, **kw))  # type: ignore[arg-type]

    def l7_record(self, pkt: Packet, t: int, node: str) -> None:
        rec, summary = _l7_dns(self.conn, pkt, self.query, self.r.addresses, self.rng)
        self.emit(
            pkt,
            t,
            node,
            None,
            event={"type": 129},
            direction="EGRESS",
            is_reply=not pkt.c2s,
            kind="L7",
            l7=rec,
            summary=summary,
        )

    def _request_at_client(self, pkt: Packet) -> int:
        """The request's rows on the client's node; returns the time it leaves."""
        t = pkt.sent
        node = self.c_node
        if node is None:
            return t
        if pkt.first:
            if self.l7:
                self.emit(
                    pkt,
                    t,
                    node,
                    None,
                    event=_VERDICT,
                    direction="EGRESS",
                    is_reply=False,
                    verdict="REDIRECTED",
                )
            else:
                self.emit(
                    pkt,
                    t,
                    node,
                    "FROM_ENDPOINT",
                    direction="EGRESS",
                    is_reply=False,
                    interface=self.c_lxc,
                )
                t += self.jitter()
                self.emit(pkt, t, node, None, event=_VERDICT, direction="EGRESS", is_reply=False)
            t += self.jitter()
        if self.l7:
            self.emit(pkt, t, node, "TO_PROXY", direction="EGRESS", is_reply=False)
            t += self.jitter() * 20
            self.l7_record(pkt, t, node)
            t += self.jitter() * 10
        if self.s_node is not None and not self.same_node:
            self.emit(pkt, t, node, "TO_OVERLAY", direction=None, is_reply=None, interface=_VXLAN)
        elif self.s_node is None:
            self.emit(pkt, t, node, "TO_STACK", direction="EGRESS", is_reply=False)
        return t

    def _request_at_server(self, pkt: Packet, t: int) -> None:
        node = self.s_node
        assert node is not None
        t = (t + self.jitter()) if self.same_node else max(pkt.arrives, t + self.jitter())
        if pkt.first and self.conn.client.kind != "host":
            self.emit(pkt, t, node, None, event=_VERDICT, direction="INGRESS", is_reply=False)
            t += self.jitter()
        self.emit(
            pkt,
            t,
            node,
            "TO_ENDPOINT",
            direction="INGRESS",
            is_reply=False,
            interface=self.s_lxc,
        )

    def _reply(self, pkt: Packet) -> None:
        t = pkt.sent
        if self.s_node is not None and not self.same_node:  # leaving the server's node
            if self.c_node is not None:
                self.emit(
                    pkt,
                    t,
                    self.s_node,
                    "TO_OVERLAY",
                    direction=None,
                    is_reply=None,
                    interface=_VXLAN,
                )
            else:
                self.emit(pkt, t, self.s_node, "TO_STACK", direction="INGRESS", is_reply=True)
        if self.c_node is not None:  # delivered to the client
            t = (t + self.jitter()) if self.same_node else pkt.arrives
            if self.l7:
                self.l7_record(pkt, t, self.c_node)
                t += self.jitter()
            self.emit(
                pkt,
                t,
                self.c_node,
                "TO_ENDPOINT",
                direction="EGRESS",
                is_reply=True,
                interface=self.c_lxc,
            )


def _meta_events(cluster: SimCluster, rng: random.Random) -> list[tuple[int, str, dict]]:
    """node_status at the start of each node's stream, and a few lost_events."""
    out: list[tuple[int, str, dict]] = []
    lo, hi = to_ns(cluster.start), to_ns(cluster.end)
    for node in cluster.nodes:
        out.append(
            (
                lo,
                node.name,
                {
                    "node_status": {"state_change": "NODE_CONNECTED", "node_names": [node.name]},
                    "node_name": node.name,
                    "time": _fmt_time(lo),
                },
            )
        )
        for _ in range(2):
            t = rng.randrange(lo + 60 * S, hi)
            out.append(
                (
                    t,
                    node.name,
                    {
                        "lost_events": {
                            "source": "PERF_EVENT_RING_BUFFER",
                            "num_events_lost": str(rng.randint(1, 64)),
                            "cpu": rng.randint(0, 3),
                        },
                        "node_name": node.name,
                        "time": _fmt_time(t),
                    },
                )
            )
    return out


def hubble_records(cluster: SimCluster, *, seed: int = 7) -> Iterator[dict]:
    """``hubble observe -o json`` lines (as dicts) for the cluster's traffic, in time order.

    Flow lines are ``{"flow": {...}, "node_name": ..., "time": ...}``; a few lines are
    ``{"node_status": ...}`` or ``{"lost_events": ...}`` instead. Streaming: memory
    holds the connection plan and the events of connections still in flight.
    """
    rng = random.Random(seed * 104729 + 3)
    renderer = _Renderer(cluster, random.Random(seed * 15485863 + 5))
    heap: list[tuple[int, int, str, dict]] = []
    seq = 0
    for t, node, rec in _meta_events(cluster, rng):
        heapq.heappush(heap, (t, seq, node, rec))
        seq += 1
    for conn in plan_connections(cluster, seed):
        while heap and heap[0][0] < conn.t:
            yield heapq.heappop(heap)[3]
        for t, node, flow in _Expansion(conn, renderer, rng).events():
            heapq.heappush(
                heap, (t, seq, node, {"flow": flow, "node_name": node, "time": flow["time"]})
            )
            seq += 1
    while heap:
        yield heapq.heappop(heap)[3]


def write_hubble(
    cluster: SimCluster,
    out_dir: Path,
    *,
    seed: int = 7,
    files_per_node: bool = True,
    gzip: bool = True,
) -> list[Path]:
    """Write the records as Hubble exporter files: ``hubble-<node>.jsonl[.gz]`` per node,
    or one ``hubble.jsonl[.gz]``. Gzip members have mtime 0 and no file name, so the
    output is byte-reproducible. Returns the paths, in node order."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = ".jsonl.gz" if gzip else ".jsonl"
    if files_per_node:
        paths = {n.name: out_dir / f"hubble-{n.name}{suffix}" for n in cluster.nodes}
    else:
        single = out_dir / f"hubble{suffix}"
        paths = {n.name: single for n in cluster.nodes}
    buffers: dict[Path, list[str]] = {p: [] for p in paths.values()}
    for rec in hubble_records(cluster, seed=seed):
        buffers[paths[rec["node_name"]]].append(json.dumps(rec, separators=(",", ":")) + "\n")
    return [
        write_bytes(path, "".join(lines).encode(), gzip=gzip) for path, lines in buffers.items()
    ]
