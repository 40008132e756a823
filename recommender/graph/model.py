"""What the picture shows, as plain data: the nodes (workloads by namespace, peers outside
the cluster, cluster nodes) and the edges between them (allowed, at risk, denied, unjudged),
built from the tables a proposal or a replay already holds.

Everything is keyed and sorted by name, so the same flows in any order give the same
graph; nothing here knows about coordinates or SVG (:mod:`.layout`, :mod:`.svg`).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

#: Groups that are not namespaces: where peers outside the cluster, cluster nodes and ends
#: without identity go. Their keys start with "(": a namespace name never does.
OUTSIDE = "(outside the cluster)"
NODES = "(cluster nodes)"
NO_GROUP = "(no identity)"
#: Edge statuses, in the order they are kept first when edges are capped.
STATUSES = ("at-risk", "denied", "unjudged", "allowed")
#: The order a legend lists them.
LEGEND_ORDER = ("allowed", "at-risk", "denied", "unjudged")
#: A workload with more distinct external peers than this on one side (clients or servers)
#: gets them folded into one node that counts them.
MAX_EXTERNAL_PEERS = 8
#: Edges drawn at most; the rest are counted in the picture's description and SUMMARY.md.
MAX_EDGES = 4000
#: Addresses a folded node's tooltip names.
MAX_FOLDED_NAMES = 10

_GROUP_OF_KIND = {"external": OUTSIDE, "node": NODES, "unknown": NO_GROUP}


@dataclass
class Node:
    """One box: a workload ("ns/name"), an address, or several addresses folded into one."""

    id: str
    group: str
    #: workload | external | node | unknown | folded
    kind: str
    #: DNS names seen for the address (external peers)
    names: tuple[str, ...] = ()
    #: receives traffic from outside the cluster (a workload)
    public: bool = False
    #: the addresses a folded node stands for
    members: tuple[str, ...] = ()


@dataclass
class Edge:
    """Traffic from ``src`` to ``dst`` with one status, on every port it used."""

    src: str
    dst: str
    status: str
    #: "TCP 5432", sorted by protocol then number; a port-less record is its protocol only
    ports: tuple[str, ...]
    flows: int


@dataclass
class Graph:
    """Nodes by id, edges in drawing order, and what was left out (by status)."""

    title: str
    nodes: dict[str, Node]
    edges: list[Edge]
    #: edges not drawn (over :data:`MAX_EDGES`), by status
    left_out: dict[str, int] = field(default_factory=dict)
    #: addresses folded into one node per workload and side
    folded: int = 0
    #: the edge statuses the legend explains
    statuses: tuple[str, ...] = LEGEND_ORDER

    @property
    def groups(self) -> dict[str, list[Node]]:
        """Nodes by group, namespaces sorted, then the outside, nodes, no identity."""
        out: dict[str, list[Node]] = defaultdict(list)
        for node in self.nodes.values():
            out[node.group].append(node)
        special = (OUTSIDE, NODES, NO_GROUP)
        order = sorted(g for g in out if g not in special) + [g for g in special if g in out]
        return {g: sorted(out[g], key=lambda n: n.id) for g in order}

    @property
    def namespaces(self) -> list[str]:
        return [g for g in self.groups if g not in (OUTSIDE, NODES, NO_GROUP)]

    def count(self, status: str) -> int:
        """Edges of that status drawn."""
        return sum(1 for e in self.edges if e.status == status)

    def left_out_text(self) -> str:
        """What the picture leaves out, in words ("" when nothing)."""
        parts = []
        if self.left_out:
            what = ", ".join(f"{n:,} {s}" for s, n in self.left_out.items())
            parts.append(
                f"{sum(self.left_out.values()):,} edges not drawn ({what}; at most "
                f"{MAX_EDGES:,} drawn: every at-risk, denied and unjudged edge first, then "
                "the busiest)"
            )
        if self.folded:
            parts.append(
                f"{self.folded:,} external addresses folded into one node per workload and "
                f"side (more than {MAX_EXTERNAL_PEERS} peers)"
            )
        return "; ".join(parts)


def port_text(protocol: Any, port: Any) -> str:
    """A port as the picture writes it, ``TCP 5432``; the protocol alone when the record has
    no port (ICMP, -1)."""
    number = int(port) if port is not None and not pd.isna(port) else -1
    return f"{protocol} {number}" if number >= 0 else str(protocol)


def _port_order(text: str) -> tuple[str, int]:
    proto, _, number = text.partition(" ")
    return (proto, int(number) if number else -1)


class _Builder:
    """Nodes and per-(src, dst, status) ports and flows, filled row by row."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.kinds: dict[str, tuple[str, str]] = {}
        self.ports: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        self.flows: dict[tuple[str, str, str], int] = defaultdict(int)

    def know(self, name: str, kind: str, namespace: Any) -> None:
        """Remember what an end is (for at-risk rows, which carry names only)."""
        if name not in self.kinds:
            group = namespace if kind == "workload" else _GROUP_OF_KIND.get(kind, NO_GROUP)
            self.kinds[name] = (kind, str(group))

    def node(self, name: str) -> Node:
        node = self.nodes.get(name)
        if node is None:
            kind, group = self.kinds.get(name) or _guess(name)
            node = self.nodes[name] = Node(id=name, group=group, kind=kind)
        return node

    def add(self, src: str, dst: str, status: str, port: str, flows: int) -> None:
        self.node(src)
        self.node(dst)
        key = (src, dst, status)
        self.ports[key].add(port)
        self.flows[key] += flows

    def edges(self) -> list[Edge]:
        return [
            Edge(src, dst, status, tuple(sorted(self.ports[k], key=_port_order)), self.flows[k])
            for k in sorted(self.ports)
            for src, dst, status in (k,)
        ]


def _guess(name: str) -> tuple[str, str]:
    """An end only an at-risk row names: "ns/workload", an address, or no identity."""
    if name == NO_GROUP:
        return ("unknown", NO_GROUP)
    try:
        ipaddress.ip_network(name, strict=False)
    except ValueError:
        if "/" in name:
            return ("workload", name.split("/", 1)[0])
    return ("external", OUTSIDE)


def _ends(replayed: pd.DataFrame, side: str) -> Iterator[tuple[str, str, Any]]:
    """(name, kind, namespace) of one side of every replayed row."""
    for kind, ns, pod, ip, workload in zip(
        replayed[f"{side}_kind"],
        replayed[f"{side}_namespace"],
        replayed[f"{side}_pod"],
        replayed[f"{side}_ip"],
        replayed[f"{side}_workload"],
        strict=True,
    ):
        if kind == "pod":
            name = workload if isinstance(workload, str) else f"{ns}/{pod}"
            yield name, "workload", ns
        elif isinstance(ip, str):
            yield ip, kind if kind in _GROUP_OF_KIND else "unknown", None
        else:
            yield NO_GROUP, "unknown", None


def _status(exempt: Any, allowed: Any, unjudged: Any) -> str | None:
    if bool(exempt):
        return None  # reported apart (node sources, noise): drawn only when at risk
    if unjudged is not None and len(unjudged):
        return "unjudged"
    return "allowed" if bool(allowed) else "denied"


def _add_replayed(b: _Builder, replayed: pd.DataFrame) -> None:
    """Every replayed connection, folded to (source, destination, status) with its ports."""
    if not len(replayed):
        return
    unjudged = replayed["unjudged"] if "unjudged" in replayed.columns else [()] * len(replayed)
    names = replayed["dst_names"] if "dst_names" in replayed.columns else [()] * len(replayed)
    rows = zip(
        _ends(replayed, "src"),
        _ends(replayed, "dst"),
        replayed["exempt"],
        replayed["allowed"],
        unjudged,
        replayed["protocol"],
        replayed["port"],
        replayed["flows"],
        names,
        strict=True,
    )
    dns: dict[str, set[str]] = defaultdict(set)
    for src, dst, exempt, allowed, unknown, proto, port, flows, dst_names in rows:
        b.know(*src)
        b.know(*dst)
        status = _status(exempt, allowed, unknown)
        if status is not None:
            b.add(src[0], dst[0], status, port_text(proto, port), int(flows))
            if dst[1] == "external" and dst_names is not None and len(dst_names):
                dns[dst[0]].update(str(n) for n in dst_names)
    for address, found in dns.items():
        b.nodes[address].names = tuple(sorted(found))


def _add_at_risk(b: _Builder, table: pd.DataFrame | None) -> None:
    if table is None or not len(table):
        return
    for src, dst, proto, port, records in zip(
        table["src"], table["dst"], table["protocol"], table["port"], table["records"], strict=True
    ):
        b.add(str(src), str(dst), "at-risk", port_text(proto, port), int(records))


def _add_workloads(b: _Builder, workloads: Iterable[tuple[Any, Any]]) -> None:
    """Workloads without any edge still get their box in their namespace."""
    for name, ns in workloads:
        if isinstance(name, str) and isinstance(ns, str):
            b.know(name, "workload", ns)
            b.node(name)


def _fold_external(nodes: dict[str, Node], edges: list[Edge]) -> tuple[list[Edge], int]:
    """A workload's external peers on one side, past :data:`MAX_EXTERNAL_PEERS`, become
    one node per (workload, side) whose edges carry their ports and flows."""
    peers: dict[tuple[str, str], set[str]] = defaultdict(set)
    for e in edges:
        if nodes[e.src].kind == "external" and nodes[e.dst].kind == "workload":
            peers[(e.dst, "clients")].add(e.src)
        if nodes[e.dst].kind == "external" and nodes[e.src].kind == "workload":
            peers[(e.src, "servers")].add(e.dst)
    crowded = {k: v for k, v in peers.items() if len(v) > MAX_EXTERNAL_PEERS}
    if not crowded:
        return edges, 0
    into: dict[tuple[str, str], str] = {}
    for (workload, side), members in sorted(crowded.items()):
        fid = f"{len(members)} external {side} of {workload}"
        nodes[fid] = Node(fid, OUTSIDE, "folded", members=tuple(sorted(members)))
        for m in members:
            into[(workload, m)] = fid
    ports: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    flows: dict[tuple[str, str, str], int] = defaultdict(int)
    for e in edges:
        src = into.get((e.dst, e.src), e.src)
        dst = into.get((e.src, e.dst), e.dst)
        ports[(src, dst, e.status)].update(e.ports)
        flows[(src, dst, e.status)] += e.flows
    used = {n for k in ports for n in k[:2]}
    for gone in {m for members in crowded.values() for m in members} - used:
        del nodes[gone]
    folded = [
        Edge(s, d, st, tuple(sorted(ports[(s, d, st)], key=_port_order)), flows[(s, d, st)])
        for s, d, st in sorted(ports)
    ]
    return folded, sum(len(v) for v in crowded.values())


def _mark_public(nodes: dict[str, Node], edges: list[Edge]) -> None:
    """Workloads that receive traffic from outside the cluster (at-risk traffic aside: the
    policies do not let it in)."""
    for e in edges:
        outside = nodes[e.src].kind in ("external", "folded")
        if outside and e.status != "at-risk" and nodes[e.dst].kind == "workload":
            nodes[e.dst].public = True


def _capped(edges: list[Edge]) -> tuple[list[Edge], dict[str, int]]:
    """At most :data:`MAX_EDGES`: at-risk, denied and unjudged first, then the busiest."""
    if len(edges) <= MAX_EDGES:
        return edges, {}
    rank = {s: i for i, s in enumerate(STATUSES)}
    ordered = sorted(edges, key=lambda e: (rank[e.status], -e.flows, e.src, e.dst))
    kept, dropped = ordered[:MAX_EDGES], ordered[MAX_EDGES:]
    left: dict[str, int] = defaultdict(int)
    for e in dropped:
        left[e.status] += 1
    kept.sort(key=lambda e: (e.src, e.dst, e.status))
    return kept, {s: left[s] for s in STATUSES if left[s]}


def build_graph(
    title: str,
    replayed: pd.DataFrame,
    *,
    at_risk: pd.DataFrame | None = None,
    workloads: Iterable[tuple[Any, Any]] = (),
    statuses: Iterable[str] = LEGEND_ORDER,
) -> Graph:
    """The graph of replayed connections (their verdicts), at-risk traffic and every known
    workload ``(name, namespace)``, folded and capped as the constants above say. The
    legend explains ``statuses`` and any other status an edge has."""
    b = _Builder()
    _add_workloads(b, workloads)
    _add_replayed(b, replayed)
    _add_at_risk(b, at_risk)
    nodes = b.nodes
    edges, folded = _fold_external(nodes, b.edges())
    _mark_public(nodes, edges)
    shown = set(statuses) | {e.status for e in edges}
    edges, left_out = _capped(edges)
    legend = tuple(s for s in LEGEND_ORDER if s in shown)
    return Graph(title, nodes, edges, left_out, folded, legend)


def workload_pairs(table: pd.DataFrame | None, name: str = "workload") -> list[tuple[Any, Any]]:
    """(workload, namespace) of a workloads or pods table (none without one)."""
    if table is None or name not in table.columns or "namespace" not in table.columns:
        return []
    return list(zip(table[name], table["namespace"], strict=True))
