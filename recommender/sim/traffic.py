"""The connections a simulated cluster's traffic holds, and the packets of each.

:func:`plan_connections` turns the edges of a :class:`~recommender.sim.cluster.SimCluster`
into timed connections between concrete pods, nodes and external addresses;
:func:`packets` gives one connection's packets. Every renderer walks the same plan with the
same seed, so the Hubble, Calico and AWS VPC renderings hold the same connections.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .clock import MS, US, S, to_ns
from .cluster import EdgeTraffic, SimCluster, SimEdge, SimPod
from .network import API_SERVER_PORT

__all__ = [
    "EPHEMERAL_PORTS",
    "Connection",
    "Packet",
    "Side",
    "connection_counts",
    "packets",
    "plan_connections",
]

#: Linux default ephemeral port range (``net.ipv4.ip_local_port_range``).
EPHEMERAL_PORTS = (32768, 60999)

_Lifetimes = dict[str, list[tuple[int, int | None, SimPod]]]


@dataclass(frozen=True)
class Side:
    """One end of a connection. ``kind``: ``pod``, ``host``, ``world``, ``remote-node`` or
    ``kube-apiserver``; ``node``: where a pod or host end sits."""

    kind: str
    ip: str
    pod: SimPod | None = None
    node: str | None = None


@dataclass(frozen=True)
class Connection:
    """One planned connection: it starts at ``t`` (ns), from ``client``'s ephemeral
    ``sport``; ``midstream``: already open when the window starts (no SYN).
    ``order`` is the edge's index (a tie-breaker of the plan's sort)."""

    t: int
    order: int
    edge: SimEdge
    traffic: EdgeTraffic
    client: Side
    server: Side
    sport: int
    midstream: bool


def _default_traffic(edge: SimEdge) -> EdgeTraffic:
    if edge.src == "node":
        return EdgeTraffic(style="probe")
    if edge.dst.endswith("/coredns") and edge.port == 53 and edge.protocol == "UDP":
        return EdgeTraffic(style="dns")
    return EdgeTraffic()


def _intervals(cluster: SimCluster, endpoint: str) -> list[tuple[int, int]]:
    lo, hi = to_ns(cluster.start), to_ns(cluster.end)
    if endpoint == "node" or "/" not in endpoint:
        return [(lo, hi)]
    spans = []
    for p in cluster.pods_of(endpoint):
        a = max(lo, to_ns(p.start) + 2 * S)
        b = min(hi, (to_ns(p.end) if p.end else hi) - 3 * S)
        if a < b:
            spans.append((a, b))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _intersect(xs: list[tuple[int, int]], ys: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for a, b in xs:
        for c, d in ys:
            lo, hi = max(a, c), min(b, d)
            if lo < hi:
                out.append((lo, hi))
    return sorted(out)


def _lifetimes(cluster: SimCluster) -> _Lifetimes:
    out: _Lifetimes = {}
    for p in cluster.pods:
        out.setdefault(p.workload, []).append((to_ns(p.start), to_ns(p.end) if p.end else None, p))
    return out


def _alive(pods: list[tuple[int, int | None, SimPod]], t: int) -> list[SimPod]:
    return [p for start, end, p in pods if start <= t and (end is None or t < end)]


def _scaled_count(traffic: EdgeTraffic, cluster: SimCluster) -> int:
    hours = (cluster.end - cluster.start).total_seconds() / 3600
    return max(traffic.minimum, round(traffic.count * hours / 6))


def _pod_side(pod: SimPod) -> Side:
    return Side("pod", pod.ip, pod, pod.node)


def _external_side(cluster: SimCluster, ip: str, port: int) -> Side:
    for n in cluster.nodes:
        if n.ip == ip:
            return Side("kube-apiserver" if port == API_SERVER_PORT else "remote-node", ip)
    return Side("world", ip)


def _start_times(
    cluster: SimCluster, traffic: EdgeTraffic, spans: list[tuple[int, int]], rng: random.Random
) -> list[tuple[int, bool]]:
    """``(start ns, midstream)`` of an edge's connections, spread over ``spans``."""
    total = sum(b - a for a, b in spans)
    n = _scaled_count(traffic, cluster)
    times = []
    if 1 < len(spans) <= n:  # e.g. one CronJob run per span: each gets traffic
        times = [a + rng.randrange(b - a) for a, b in spans]
    for _ in range(n - len(times)):
        u = rng.randrange(total)
        for a, b in spans:
            if u < b - a:
                times.append(a + u)
                break
            u -= b - a
    starts = [(t, False) for t in sorted(times)]
    if traffic.keepalive and spans[0][0] <= to_ns(cluster.start) + 3 * S:
        room = min(60 * S, spans[0][1] - spans[0][0])
        starts.insert(0, (spans[0][0] + rng.randrange(room), True))
    return starts


def _client_side(
    edge: SimEdge,
    traffic: EdgeTraffic,
    server: Side,
    node_ips: dict[str, str],
    lifetimes: _Lifetimes,
    t: int,
    rng: random.Random,
) -> Side:
    if "/" in edge.src:
        return _pod_side(rng.choice(_alive(lifetimes[edge.src], t)))
    if edge.src == "node" and traffic.style == "snat":
        others = sorted(name for name in node_ips if name != server.node)
        via = rng.choice(others)
        return Side("remote-node", node_ips[via])
    if edge.src == "node":
        assert server.node is not None, "probes need a pod destination"
        return Side("host", node_ips[server.node], None, server.node)
    return Side("world", edge.src)


def plan_connections(cluster: SimCluster, seed: int) -> list[Connection]:
    """Every connection of the window, sorted by start time."""
    rng = random.Random(seed * 7919 + 1)
    conns: list[Connection] = []
    node_ips = {n.name: n.ip for n in cluster.nodes}
    lifetimes = _lifetimes(cluster)
    for order, edge in enumerate(cluster.edges):
        traffic = cluster.traffic.get(edge) or _default_traffic(edge)
        spans = _intersect(_intervals(cluster, edge.src), _intervals(cluster, edge.dst))
        if sum(b - a for a, b in spans) <= 0:
            continue
        used_ports: set[int] = set()
        for t, midstream in _start_times(cluster, traffic, spans, rng):
            server = (
                _pod_side(rng.choice(_alive(lifetimes[edge.dst], t)))
                if "/" in edge.dst
                else _external_side(cluster, edge.dst, edge.port)
            )
            client = _client_side(edge, traffic, server, node_ips, lifetimes, t, rng)
            sport = rng.randint(*EPHEMERAL_PORTS)
            while sport in used_ports:
                sport = rng.randint(*EPHEMERAL_PORTS)
            used_ports.add(sport)
            conns.append(Connection(t, order, edge, traffic, client, server, sport, midstream))
    conns.sort(key=lambda c: (c.t, c.order, c.sport))
    return conns


def connection_counts(cluster: SimCluster, *, seed: int = 7) -> dict[SimEdge, int]:
    """How many connections of each edge the renderers emit (same seed)."""
    counts = dict.fromkeys(cluster.edges, 0)
    for c in plan_connections(cluster, seed):
        counts[c.edge] += 1
    return counts


@dataclass
class Packet:
    """One packet of a connection: ``c2s`` client to server; ``sent``/``arrives`` in ns;
    ``first``: the first packet in its direction (it meets the policy verdict)."""

    c2s: bool
    flags: tuple[str, ...]  # empty for UDP
    sent: int
    arrives: int
    first: bool
    dns_qtype: str = ""


def _one_way_delay(conn: Connection, rng: random.Random) -> int:
    c, s = conn.client, conn.server
    if c.kind == "pod" and s.kind == "pod":
        same = c.node == s.node
        return rng.randint(15, 60) * US if same else rng.randint(120, 450) * US
    if s.kind == "pod" and c.kind == "host":
        return rng.randint(10, 40) * US
    if s.kind == "pod":
        return rng.randint(4, 70) * MS  # Internet client
    if s.kind == "kube-apiserver":
        return rng.randint(80, 300) * US
    return rng.randint(3, 40) * MS  # external service


def packets(conn: Connection, rng: random.Random) -> list[Packet]:
    """The packets of one connection: a DNS query/answer pair (A and AAAA), a midstream
    exchange (no SYN), or a whole TCP connection from SYN to FIN."""
    owd = _one_way_delay(conn, rng)

    def think(lo: int, hi: int) -> int:
        return rng.randint(lo, hi) * US

    pkts: list[Packet] = []
    # Requests that detour through the DNS proxy reach the server later.
    proxy = 400 * US if conn.traffic.l7_dns and conn.client.kind == "pod" else 0

    def add(c2s: bool, flags: tuple[str, ...], sent: int, first: bool, qtype: str = "") -> int:
        arrives = sent + owd + (proxy if c2s else 0)
        pkts.append(Packet(c2s, flags, sent, arrives, first, qtype))
        return arrives

    t = conn.t
    if conn.traffic.style == "dns" and conn.edge.protocol == "UDP":
        a1 = add(True, (), t, True, "A")
        a2 = add(True, (), t + think(20, 120), False, "AAAA")
        upstream = 2000 if conn.server.kind == "world" else 0
        add(False, (), a1 + think(80, 900 + upstream * 10), True, "A")
        add(False, (), a2 + think(80, 900 + upstream * 10), False, "AAAA")
        return pkts
    if conn.midstream:
        a = add(True, ("PSH", "ACK"), t, False)
        b = add(False, ("PSH", "ACK"), a + think(300, 40_000), False)
        add(True, ("ACK",), b + think(5, 60), False)
        return pkts
    a = add(True, ("SYN",), t, True)
    b = add(False, ("SYN", "ACK"), a + think(25, 60), True)
    c1 = add(True, ("ACK",), b + think(2, 10), False)
    d = add(True, ("PSH", "ACK"), c1 + think(5, 40), False)
    e = add(False, ("PSH", "ACK"), d + think(300, 40_000), False)
    f = add(True, ("FIN", "ACK"), e + think(40, 5_000), False)
    g = add(False, ("FIN", "ACK"), f + think(15, 60), False)
    if rng.random() < 0.5:  # monitor aggregation does not always trace the last ACK
        add(True, ("ACK",), g + think(2, 10), False)
    return pkts
