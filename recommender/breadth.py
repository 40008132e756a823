"""Breadth: what policies allow beyond what was observed (DESIGN §5), computed at scale.

Definition. The universe is every known workload (source) x every known workload
(destination) x every port of the port universe: the (protocol, port) pairs observed on
workload destinations, DNS (UDP and TCP 53), and the container ports the pods table declares
(optional ``ports`` column of ``(name, port, protocol)``). With ``namespaces`` only pairs with at
least one side in those namespaces count. An element ``(src, dst, protocol, port)`` is *broad*
when some pod of ``src`` may reach some pod of ``dst`` on it (:class:`Evaluator` semantics) and
it is not expected (observed, or the DNS allowance: :func:`expected_pairs`). Pods whose labels
are unknown are left out: no selector can name them. Per policy: the number of broad elements
that a rule of the policy helped allow, i.e. the union over every allowed (source pod,
destination pod) pair of the policies whose egress rules matched on the source's side and whose
ingress rules matched on the destination's side, plus ``(egress of W not isolated)`` /
``(ingress of W not isolated)`` when an allowing pair had that side open. External breadth
counts the addresses x ports each ipBlock admits beyond those observed.

Method. Pods that no policy can tell apart form a *class*: same workload and namespace, same
labels and namespace labels restricted to the keys (and the values) some selector mentions,
same container ports restricted to the names some policy port mentions, and the same set of
ipBlocks containing the pod's IP (only when ``ipblock_matches_pods``). Each policy is compiled
once into class space: the classes it selects, and for each rule the peer classes it matches
(an inverted index ``(key, value) -> classes`` answers selectors with boolean algebra) and the
ports it admits per destination class, as bitmasks over the port universe (named ports resolve
per destination class). Allowed(S, D, p) = egress(S -> D, p) AND ingress(D <- S, p) is then a
bitwise AND of two class x class x port-words arrays, OR-reduced to workloads. Everything is
exact; ``tests/test_breadth.py`` checks it against :meth:`Evaluator.evaluate` on every (pod, pod,
port) of random clusters.
"""

from __future__ import annotations

import ipaddress
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .semantics import NS_NAME_LABEL, ContainerPort, Endpoint, Evaluator, policy_types

__all__ = [
    "DNS_PORTS",
    "Breadth",
    "PolicyIndex",
    "container_ports",
    "expected_pairs",
    "measure_breadth",
    "namespace_labels",
    "pod_endpoint",
    "port_universe",
]

DNS_PORTS = (("UDP", 53), ("TCP", 53))
_DIRECTIONS = ("ingress", "egress")
_PEER_KEY = {"ingress": "from", "egress": "to"}
_TYPE_OF = {"ingress": "Ingress", "egress": "Egress"}
#: Projected value of a label value no selector mentions (label values cannot contain NUL).
_OTHER = "\x00"
#: Bytes per (class chunk x classes x port words) array before breadth works in row chunks.
_CHUNK_BYTES = 48 << 20


# --------------------------------------------------------------------------------------------
# Pods
# --------------------------------------------------------------------------------------------


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def container_ports(value: Any) -> tuple[ContainerPort, ...]:
    """The ``ports`` cell of a pods table as :class:`ContainerPort` s: items are
    ``(name, port, protocol)`` tuples or mappings with those keys; protocol defaults to TCP."""
    if _missing(value):
        return ()
    out = []
    for item in value:
        if isinstance(item, Mapping):
            name, port, proto = item.get("name"), item.get("port"), item.get("protocol")
        else:
            name, port, proto = (tuple(item) + (None, None, None))[:3]
        if _missing(port):
            continue
        out.append(ContainerPort(None if _missing(name) else str(name), int(port), proto or "TCP"))
    return tuple(out)


def namespace_labels(namespace: str, labels: Any) -> dict[str, str]:
    """Namespace labels with ``kubernetes.io/metadata.name`` implied, as the API server sets it."""
    out = dict(labels) if not _missing(labels) else {}
    out.setdefault(NS_NAME_LABEL, namespace)
    return out


def _first_ip(ips: Any) -> str | None:
    if _missing(ips) or isinstance(ips, str):
        return ips or None
    return ips[0] if len(ips) else None


def pod_endpoint(row: Any) -> Endpoint:
    """The :class:`Endpoint` of one pods-table row (namespace, pod, labels, namespace_labels,
    ips, optional ports). The pod's IP is its first known IP."""
    return Endpoint(
        kind="pod",
        ip=_first_ip(getattr(row, "ips", None)),
        namespace=row.namespace,
        labels=dict(row.labels or {}),
        namespace_labels=namespace_labels(row.namespace, row.namespace_labels),
        ports=container_ports(getattr(row, "ports", None)),
        name=row.pod,
    )


# --------------------------------------------------------------------------------------------
# Policies, parsed from their (already validated) dicts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Selector:
    labels: tuple[tuple[str, str], ...]
    exprs: tuple[tuple[str, str, tuple[str, ...]], ...]  # (key, operator, sorted values)


@dataclass(frozen=True)
class _Peer:
    pod: _Selector | None
    ns: _Selector | None
    block: int | None  # index into PolicyIndex.blocks


@dataclass(frozen=True)
class _PortSpec:
    protocol: str
    lo: int | None  # None and name None: every port of the protocol
    hi: int | None
    name: str | None


@dataclass(frozen=True)
class _Rule:
    index: int
    peers: tuple[_Peer, ...] | None  # None: every peer
    ports: tuple[_PortSpec, ...] | None  # None: every port


@dataclass
class _Policy:
    namespace: str
    name: str
    key: str
    pod_sel: _Selector
    rules: dict[str, tuple[_Rule, ...]]  # only the directions in policyTypes


def _selector(raw: Any) -> _Selector:
    raw = raw or {}
    labels = tuple(sorted((k, v) for k, v in (raw.get("matchLabels") or {}).items()))
    exprs = tuple(
        sorted(
            (e["key"], e["operator"], tuple(sorted(set(e.get("values") or ()))))
            for e in raw.get("matchExpressions") or ()
        )
    )
    return _Selector(labels, exprs)


def _port_spec(raw: Any) -> _PortSpec:
    raw = raw or {}
    protocol = raw.get("protocol") or "TCP"
    value = raw.get("port")
    if value is None:
        return _PortSpec(protocol, None, None, None)
    if isinstance(value, str):
        return _PortSpec(protocol, None, None, value)
    end = raw.get("endPort")
    return _PortSpec(protocol, int(value), int(end if end is not None else value), None)


class _Block:
    """An ipBlock as integer ranges: ``cidr`` minus every ``except``."""

    __slots__ = ("version", "lo", "hi", "excepts")

    def __init__(self, cidr: str, excepts: Iterable[str]) -> None:
        net = ipaddress.ip_network(cidr.strip(), strict=False)
        self.version = net.version
        self.lo, self.hi = int(net.network_address), int(net.broadcast_address)
        self.excepts = []
        for text in excepts:
            ex = ipaddress.ip_network(text.strip(), strict=False)
            self.excepts.append((int(ex.network_address), int(ex.broadcast_address)))

    def contains(self, values: np.ndarray) -> np.ndarray:
        inside = (values >= self.lo) & (values <= self.hi)
        for lo, hi in self.excepts:
            inside &= ~((values >= lo) & (values <= hi))
        return inside


def _parse_ip(text: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address of ``text``, None when there is none; raises ValueError when malformed."""
    if _missing(text) or not text:
        return None
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        if "%" in text:  # IPv6 zone index
            return ipaddress.ip_address(text.split("%", 1)[0].strip())
        raise


class PolicyIndex:
    """Policies parsed once, with what tells pods apart: the label keys and values selectors
    mention, the named ports, the distinct ipBlocks. The policies must be valid (construct an
    :class:`Evaluator` from them first: it raises :class:`PolicyError` otherwise)."""

    def __init__(
        self, policies: Iterable[Mapping[str, Any]], *, ipblock_matches_pods: bool = True
    ) -> None:
        self.ipblock_matches_pods = ipblock_matches_pods
        self.blocks: list[_Block] = []
        self._block_ids: dict[tuple, int] = {}
        self.pod_keys: dict[str, set[str]] = defaultdict(set)
        self.ns_keys: dict[str, set[str]] = defaultdict(set)
        self.port_names: set[str] = set()
        self.policies = [self._policy(p) for p in policies]

    def _note(self, sel: _Selector, keys: dict[str, set[str]]) -> _Selector:
        for k, v in sel.labels:
            keys[k].add(v)
        for k, _, values in sel.exprs:
            keys[k].update(values)
        return sel

    def _block(self, raw: Mapping) -> int:
        key = (str(raw["cidr"]).strip(), tuple(str(e).strip() for e in raw.get("except") or ()))
        if key not in self._block_ids:
            self._block_ids[key] = len(self.blocks)
            self.blocks.append(_Block(*key))
        return self._block_ids[key]

    def _peer(self, raw: Mapping) -> _Peer:
        if raw.get("ipBlock") is not None:
            return _Peer(None, None, self._block(raw["ipBlock"]))
        pod = raw.get("podSelector")
        ns = raw.get("namespaceSelector")
        return _Peer(
            None if pod is None else self._note(_selector(pod), self.pod_keys),
            None if ns is None else self._note(_selector(ns), self.ns_keys),
            None,
        )

    def _policy(self, raw: Mapping[str, Any]) -> _Policy:
        meta = raw.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        name = meta.get("name")
        spec = raw.get("spec") or {}
        types = policy_types(raw)
        rules: dict[str, tuple[_Rule, ...]] = {}
        for direction in _DIRECTIONS:
            if _TYPE_OF[direction] not in types:
                continue
            compiled = []
            for i, rule in enumerate(spec.get(direction) or ()):
                rule = rule or {}
                peers = tuple(self._peer(p) for p in rule.get(_PEER_KEY[direction]) or ())
                ports = tuple(_port_spec(p) for p in rule.get("ports") or ())
                self.port_names.update(p.name for p in ports if p.name is not None)
                compiled.append(_Rule(i, peers or None, ports or None))
            rules[direction] = tuple(compiled)
        pod_sel = self._note(_selector(spec.get("podSelector")), self.pod_keys)
        return _Policy(namespace, name, f"{namespace}/{name}", pod_sel, rules)

    # -- what tells pods apart ---------------------------------------------------------------

    @staticmethod
    def _project(labels: Mapping[str, str], keys: Mapping[str, set[str]]) -> tuple:
        return tuple(
            sorted((k, v if v in keys[k] else _OTHER) for k, v in labels.items() if k in keys)
        )

    def pod_labels_key(self, labels: Mapping[str, str]) -> tuple:
        """The labels as the selectors see them: mentioned keys only, unmentioned values alike."""
        return self._project(labels, self.pod_keys)

    def ns_labels_key(self, labels: Mapping[str, str]) -> tuple:
        return self._project(labels, self.ns_keys)

    def ports_key(self, ports: Sequence[ContainerPort]) -> tuple:
        return tuple(
            sorted((p.name, p.port, p.protocol) for p in ports if p.name in self.port_names)
        )

    def block_matrix(self, ips: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """(membership, valid): membership[i, b] says whether ``ips[i]`` lies in block b;
        valid[i] is False for a malformed address (matching no block here)."""
        n = len(ips)
        member = np.zeros((n, len(self.blocks)), dtype=bool)
        valid = np.ones(n, dtype=bool)
        if not self.blocks or not n:
            return member, valid
        pos = {4: [], 6: []}
        vals: dict[int, list[int]] = {4: [], 6: []}
        for i, text in enumerate(ips):
            try:
                addr = _parse_ip(text)
            except ValueError:
                valid[i] = False
                continue
            if addr is not None:
                pos[addr.version].append(i)
                vals[addr.version].append(int(addr))
        for version, dtype in ((4, np.int64), (6, object)):
            if not pos[version]:
                continue
            rows = np.asarray(pos[version])
            values = np.asarray(vals[version], dtype=dtype)
            for b, block in enumerate(self.blocks):
                if block.version == version:
                    member[rows, b] = block.contains(values).astype(bool)
        return member, valid


# --------------------------------------------------------------------------------------------
# Universe and expectations
# --------------------------------------------------------------------------------------------


def expected_pairs(wconns: pd.DataFrame, resolvers: list[str]) -> set[tuple[str, str, str, int]]:
    """Observed workload pairs, plus the DNS allowance every egress workload gets."""
    inner = wconns[(wconns["src_type"] == "workload") & (wconns["dst_type"] == "workload")]
    pairs = {
        (s, d, p, int(n))
        for s, d, p, n in zip(
            inner["src_id"], inner["dst_id"], inner["protocol"], inner["port"], strict=True
        )
    }
    with_egress = set(wconns.loc[wconns["src_type"] == "workload", "src_id"])
    for client in with_egress:
        for resolver in resolvers:
            for proto, port in DNS_PORTS:
                pairs.add((client, resolver, proto, port))
    return pairs


def port_universe(pods: pd.DataFrame, wconns: pd.DataFrame) -> list[tuple[str, int]]:
    """Observed (protocol, port) on workload destinations, DNS, and declared container ports."""
    inner = wconns[wconns["dst_type"] == "workload"]
    ports = {(p, int(n)) for p, n in zip(inner["protocol"], inner["port"], strict=True)}
    ports |= set(DNS_PORTS)
    if "ports" in pods.columns:
        for cell in pods["ports"]:
            ports |= {(cp.protocol, cp.port) for cp in container_ports(cell)}
    return sorted(ports)


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


@dataclass
class Breadth:
    """Allowed but never observed: in-cluster pairs and external addresses."""

    in_cluster: int
    universe: int
    external_addresses: int
    per_policy: dict[str, int]
    examples: list[dict[str, Any]]
    unbounded: list[str]
    #: Pod classes the in-cluster count was computed over (pods no policy tells apart).
    pod_classes: int = 0
    #: Size of the port universe.
    ports: int = 0
    #: Workloads with at least one pod of known labels.
    workloads: int = 0
    #: Seconds per phase (not part of the result's value).
    timings: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    @property
    def total(self) -> int:
        return self.in_cluster + self.external_addresses

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "in_cluster": self.in_cluster,
            "in_cluster_universe": self.universe,
            "external_addresses": self.external_addresses,
            "unbounded_rules": self.unbounded,
            "per_policy": dict(sorted(self.per_policy.items())),
            "examples": self.examples,
        }


# --------------------------------------------------------------------------------------------
# Bit helpers: a port set is ``words`` uint64 words, bit i = port universe entry i.
# --------------------------------------------------------------------------------------------

_ONE = np.uint64(1)


def _bits(indices: Iterable[int], words: int) -> np.ndarray:
    out = np.zeros(words, dtype=np.uint64)
    for i in indices:
        out[i >> 6] |= _ONE << np.uint64(i & 63)
    return out


if hasattr(np, "bitwise_count"):

    def _popcount(a: np.ndarray, axis: Any = None) -> Any:
        return np.bitwise_count(a).sum(axis=axis, dtype=np.int64)

else:  # numpy < 2.0

    def _popcount(a: np.ndarray, axis: Any = None) -> Any:
        a = np.ascontiguousarray(a)
        bits = np.unpackbits(a.view(np.uint8).reshape(*a.shape, 8), axis=-1).sum(
            axis=-1, dtype=np.int64
        )
        return bits.sum(axis=axis)


def _groups(workload_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ids) of the runs of a non-decreasing workload index array."""
    if not len(workload_of):
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    starts = np.flatnonzero(np.r_[True, workload_of[1:] != workload_of[:-1]])
    return starts, workload_of[starts]


def _or_by(a: np.ndarray, starts: np.ndarray, axis: int) -> np.ndarray:
    return np.bitwise_or.reduceat(a, starts, axis=axis)


# --------------------------------------------------------------------------------------------
# Classes
# --------------------------------------------------------------------------------------------


class _LabelTable:
    """Selectors evaluated over many label sets at once, through an inverted index."""

    def __init__(self, rows: Sequence[Mapping[str, str]]) -> None:
        self.n = len(rows)
        kv: dict[tuple[str, str], list[int]] = defaultdict(list)
        has: dict[str, list[int]] = defaultdict(list)
        for i, labels in enumerate(rows):
            for k, v in labels.items():
                kv[(k, v)].append(i)
                has[k].append(i)
        self._kv, self._has = kv, has
        self._cache: dict[_Selector, np.ndarray] = {}

    def _vec(self, idx: list[int]) -> np.ndarray:
        v = np.zeros(self.n, dtype=bool)
        v[idx] = True
        return v

    def match(self, sel: _Selector) -> np.ndarray:
        hit = self._cache.get(sel)
        if hit is not None:
            return hit
        out = np.ones(self.n, dtype=bool)
        for k, v in sel.labels:
            out &= self._vec(self._kv.get((k, v), []))
        for k, op, values in sel.exprs:
            if op in ("In", "NotIn"):
                m = self._vec([i for v in values for i in self._kv.get((k, v), [])])
                out &= m if op == "In" else ~m
            else:
                m = self._vec(self._has.get(k, []))
                out &= m if op == "Exists" else ~m
        out.flags.writeable = False
        self._cache[sel] = out
        return out


@dataclass
class _Classes:
    workloads: list[str]  # sorted
    wl: np.ndarray  # class -> workload index (non-decreasing)
    namespace: list[str]
    labels: list[dict[str, str]]  # projected
    ns_labels: list[dict[str, str]]  # projected
    ports: list[tuple]  # projected (name, port, protocol)
    blocks: np.ndarray  # class x block membership (all False unless ipblock_matches_pods)
    reps: list[Endpoint]  # one real pod per class
    pods: int


def _classes(pods: pd.DataFrame, index: PolicyIndex) -> _Classes:
    known = pods.loc[np.asarray([lab is not None for lab in pods["labels"]], dtype=bool)]
    if len(known):
        known = known.sort_values(["workload", "pod"], kind="mergesort")
    endpoints = [pod_endpoint(row) for row in known.itertuples(index=False)]
    if index.ipblock_matches_pods and index.blocks:
        member, valid = index.block_matrix([ep.ip for ep in endpoints])
        if not valid.all():
            bad = endpoints[int(np.flatnonzero(~valid)[0])]
            raise ValueError(f"invalid IP address {bad.ip!r} of pod {bad.namespace}/{bad.name}")
    else:
        member = np.zeros((len(endpoints), len(index.blocks)), dtype=bool)
    ids: dict[tuple, int] = {}
    first: list[int] = []
    for i, (workload, ep) in enumerate(zip(known["workload"], endpoints, strict=True)):
        key = (
            workload,
            ep.namespace,
            index.pod_labels_key(ep.labels),
            index.ns_labels_key(ep.namespace_labels),
            index.ports_key(ep.ports),
            member[i].tobytes(),
        )
        if key not in ids:
            ids[key] = len(first)
            first.append(i)
    workloads = sorted(set(known["workload"]))
    wid = {w: i for i, w in enumerate(workloads)}
    # Classes in workload order (a stable sort: within a workload, first pod first).
    keys = sorted(ids, key=lambda k: wid[k[0]])
    first = [first[ids[k]] for k in keys]
    return _Classes(
        workloads=workloads,
        wl=np.asarray([wid[k[0]] for k in keys], dtype=np.intp),
        namespace=[k[1] for k in keys],
        labels=[dict(k[2]) for k in keys],
        ns_labels=[dict(k[3]) for k in keys],
        ports=[k[4] for k in keys],
        blocks=member[first] if first else member[:0],
        reps=[endpoints[i] for i in first],
        pods=len(endpoints),
    )


@dataclass
class _Side:
    """One direction of one policy in class space."""

    policy: str
    #: Sorted classes the policy isolates for this direction.
    selected: np.ndarray
    #: Sorted peer classes some rule admits on some port.
    peers: np.ndarray
    #: Egress: (len(peers), words), the ports to each peer (destination). Ingress:
    #: (1 or len(selected), len(peers), words), per selected destination (named ports)
    #: or one row for all of them.
    ports: np.ndarray
    #: Workload runs of ``peers`` and ``selected``: (starts, workload ids).
    peer_groups: tuple[np.ndarray, np.ndarray] = field(init=False)
    selected_groups: tuple[np.ndarray, np.ndarray] = field(init=False)

    def with_groups(self, wl: np.ndarray) -> _Side:
        self.peer_groups = _groups(wl[self.peers])
        self.selected_groups = _groups(wl[self.selected])
        return self


class _ClassSpace:
    """Policies compiled over the pod classes and the port universe."""

    def __init__(
        self, classes: _Classes, index: PolicyIndex, universe: list[tuple[str, int]]
    ) -> None:
        self.classes = classes
        self.index = index
        self.n = n = len(classes.reps)
        self.words = words = max(1, (len(universe) + 63) // 64)
        self.all = _bits(range(len(universe)), words)
        self.port_index = {p: i for i, p in enumerate(universe)}
        self.uni_proto = np.asarray([p for p, _ in universe], dtype=object)
        self.uni_num = np.asarray([n for _, n in universe], dtype=np.int64)
        self.pod_table = _LabelTable(classes.labels)
        self.ns_table = _LabelTable(classes.ns_labels)
        ns_arr = np.asarray(classes.namespace, dtype=object)
        self._ns = {ns: ns_arr == ns for ns in set(classes.namespace)}
        self._none = np.zeros(n, dtype=bool)
        self._named: dict[tuple[str, str], np.ndarray] = {}
        self.isolated = {d: np.zeros(n, dtype=bool) for d in _DIRECTIONS}
        #: direction -> [(policy key, selection vector)] for every policy of that type
        self.selecting: dict[str, list[tuple[str, np.ndarray]]] = {d: [] for d in _DIRECTIONS}
        self.sides: dict[str, list[_Side]] = {d: [] for d in _DIRECTIONS}
        for pol in index.policies:
            sel = self._ns_vec(pol.namespace) & self.pod_table.match(pol.pod_sel)
            for direction, rules in pol.rules.items():
                self.selecting[direction].append((pol.key, sel))
                self.isolated[direction] |= sel
                if sel.any() and rules:
                    side = self._side(pol.key, direction, rules, pol.namespace, sel)
                    if side is not None:
                        self.sides[direction].append(side.with_groups(classes.wl))

    def _ns_vec(self, namespace: str) -> np.ndarray:
        return self._ns.get(namespace, self._none)

    def _peer_vec(self, peer: _Peer, policy_ns: str) -> np.ndarray:
        if peer.block is not None:
            if not self.index.ipblock_matches_pods:
                return self._none
            return self.classes.blocks[:, peer.block]
        v = self._ns_vec(policy_ns) if peer.ns is None else self.ns_table.match(peer.ns)
        if peer.pod is not None:
            v = v & self.pod_table.match(peer.pod)
        return v

    def _rule_peers(self, rule: _Rule, policy_ns: str) -> np.ndarray:
        if rule.peers is None:
            return np.ones(self.n, dtype=bool)
        out = np.zeros(self.n, dtype=bool)
        for peer in rule.peers:
            out |= self._peer_vec(peer, policy_ns)
        return out

    def _named_matrix(self, name: str, protocol: str) -> np.ndarray:
        """(classes, words): the ports ``name``/``protocol`` resolves to on each class."""
        key = (name, protocol)
        hit = self._named.get(key)
        if hit is None:
            hit = np.zeros((self.n, self.words), dtype=np.uint64)
            for c, ports in enumerate(self.classes.ports):
                idx = [
                    self.port_index[(proto, port)]
                    for pname, port, proto in ports
                    if pname == name and proto == protocol and (proto, port) in self.port_index
                ]
                if idx:
                    hit[c] = _bits(idx, self.words)
            self._named[key] = hit
        return hit

    def _rule_ports(self, rule: _Rule) -> tuple[np.ndarray, np.ndarray | None]:
        """(static port bits, per-class named-port bits or None)."""
        if rule.ports is None:
            return self.all, None
        mask = np.zeros(len(self.uni_num), dtype=bool)
        named = None
        for p in rule.ports:
            if p.name is not None:
                m = self._named_matrix(p.name, p.protocol)
                named = m if named is None else named | m
                continue
            hit = self.uni_proto == p.protocol
            if p.lo is not None:
                hit &= (self.uni_num >= p.lo) & (self.uni_num <= p.hi)
            mask |= hit
        return _bits(np.flatnonzero(mask), self.words), named

    def _side(
        self, key: str, direction: str, rules: Sequence[_Rule], ns: str, sel: np.ndarray
    ) -> _Side | None:
        selected = np.flatnonzero(sel)
        base = np.zeros((self.n, self.words), dtype=np.uint64)
        named_parts = []
        for rule in rules:
            peers = self._rule_peers(rule, ns)
            if not peers.any():
                continue
            static, named = self._rule_ports(rule)
            base[peers] |= static
            if named is not None:
                named_parts.append((peers, named))
        if direction == "egress" or not named_parts:
            # The port set depends on the destination: the peer for egress.
            for peers, named in named_parts:
                base[peers] |= named[peers]
            idx = np.flatnonzero(base.any(axis=1))
            if not len(idx):
                return None
            ports = base[idx] if direction == "egress" else base[idx][None]
            return _Side(key, selected, idx, ports)
        # Ingress with named ports: they resolve on each selected (destination) class.
        full = np.broadcast_to(base, (len(selected), self.n, self.words)).copy()
        for peers, named in named_parts:
            full[:, peers] |= named[selected][:, None, :]
        idx = np.flatnonzero(full.any(axis=(0, 2)))
        if not len(idx):
            return None
        return _Side(key, selected, idx, full[:, idx])


def _check_against(evaluator: Evaluator, space: _ClassSpace) -> None:
    """The policies given must be the evaluator's: compare who isolates every class."""
    for direction in _DIRECTIONS:
        keys = sorted(space.selecting[direction], key=lambda kv: kv[0])
        names = [k for k, _ in keys]
        # class x policy, policies in name order
        matrix = (
            np.column_stack([v for _, v in keys]) if keys else np.zeros((space.n, 0), dtype=bool)
        )
        for c, rep in enumerate(space.classes.reps):
            mine = [names[i] for i in np.flatnonzero(matrix[c])]
            theirs = evaluator.policies_selecting(rep, direction)
            if mine != theirs:
                raise ValueError(
                    f"measure_breadth: the policies given differ from the evaluator's: "
                    f"{rep.namespace}/{rep.name} is isolated for {direction} by {theirs} "
                    f"according to the evaluator, by {mine} according to the policies given"
                )


class _Counter:
    """The in-cluster count, per-policy attribution and examples, in row chunks."""

    def __init__(
        self,
        space: _ClassSpace,
        expected: set[tuple[str, str, str, int]],
        universe: list[tuple[str, int]],
        scope: set[str] | None,
        max_examples: int,
    ) -> None:
        self.space = space
        cl = space.classes
        self.wl = cl.wl
        self.workloads = cl.workloads
        w_ids = np.arange(len(cl.workloads))
        self.wstart = np.searchsorted(cl.wl, w_ids, side="left")
        self.wend = np.searchsorted(cl.wl, w_ids, side="right")
        wid = {w: i for i, w in enumerate(cl.workloads)}
        pid = space.port_index
        triples = sorted(
            (wid[s], wid[d], pid[(p, n)])
            for s, d, p, n in expected
            if s in wid and d in wid and (p, n) in pid
        )
        t = np.asarray(triples, dtype=np.int64).reshape(-1, 3)
        self.exp_w, self.exp_d, self.exp_p = t[:, 0], t[:, 1], t[:, 2]
        if scope is None:
            self.in_scope = None
        else:
            self.in_scope = np.asarray([w.split("/", 1)[0] in scope for w in cl.workloads])
        self.universe = universe
        self.max_examples = max_examples
        self.count = 0
        self.per_policy: Counter = Counter()
        self.example_elements: list[tuple[int, int, int]] = []
        self.policy_sides = self._pair_sides()

    def run(self) -> None:
        space = self.space
        n_w = len(self.workloads)
        row_bytes = max(1, space.n * space.words * 8)
        w = 0
        while w < n_w:
            wlo, clo = w, int(self.wstart[w])
            w += 1
            while w < n_w and (self.wend[w] - clo) * row_bytes <= _CHUNK_BYTES:
                w += 1
            self._chunk(wlo, w, clo, int(self.wend[w - 1]))

    def _allowed(self, clo: int, chi: int) -> np.ndarray:
        """(chunk classes, classes, words): ports src class -> dst class allowed on."""
        space = self.space
        shape = (chi - clo, space.n, space.words)
        eg = np.zeros(shape, dtype=np.uint64)
        eg[~space.isolated["egress"][clo:chi]] = space.all
        for side in space.sides["egress"]:
            a, b = np.searchsorted(side.selected, (clo, chi))
            if a < b:
                rows = side.selected[a:b] - clo
                eg[np.ix_(rows, side.peers)] |= side.ports[None]
        ing = np.zeros(shape, dtype=np.uint64)
        ing[:, ~space.isolated["ingress"]] = space.all
        for side in space.sides["ingress"]:
            a, b = np.searchsorted(side.peers, (clo, chi))
            if a < b:
                rows = side.peers[a:b] - clo
                ing[np.ix_(rows, side.selected)] |= side.ports[:, a:b].transpose(1, 0, 2)
        eg &= ing
        return eg

    def _chunk(self, wlo: int, whi: int, clo: int, chi: int) -> None:
        allowed = self._allowed(clo, chi)
        row_starts = self.wstart[wlo:whi] - clo
        by_w = _or_by(_or_by(allowed, self.wstart, 1), row_starts, 0)
        expected = np.zeros_like(by_w)
        a, b = np.searchsorted(self.exp_w, (wlo, whi))
        if a < b:
            p = self.exp_p[a:b]
            np.bitwise_or.at(
                expected,
                (self.exp_w[a:b] - wlo, self.exp_d[a:b], p >> 6),
                np.left_shift(_ONE, (p & 63).astype(np.uint64)),
            )
        counted = by_w & ~expected
        if self.in_scope is not None:
            mask = self.in_scope[wlo:whi, None] | self.in_scope[None, :]
            counted[~mask] = 0
        del expected
        self.count += int(_popcount(counted))
        self._examples(counted, wlo)
        for egress, ingress in self.policy_sides:
            parts = []
            if egress is not None:
                parts += self._egress_part(egress, allowed, clo, chi)
            if ingress is not None:
                parts += self._ingress_part(ingress, allowed, clo, chi)
            if parts:
                key = (egress or ingress).policy  # type: ignore[union-attr]
                n = self._union_count(parts, counted, wlo)
                if n:
                    self.per_policy[key] += n
        self._open_sides(allowed, counted, wlo, whi, clo, chi)

    def _pair_sides(self) -> list[tuple[_Side | None, _Side | None]]:
        pairs: dict[str, list] = {}
        for side in self.space.sides["egress"]:
            pairs.setdefault(side.policy, [None, None])[0] = side
        for side in self.space.sides["ingress"]:
            pairs.setdefault(side.policy, [None, None])[1] = side
        return [tuple(v) for v in pairs.values()]  # type: ignore[misc]

    def _egress_part(self, side: _Side, allowed: np.ndarray, clo: int, chi: int) -> list:
        a, b = np.searchsorted(side.selected, (clo, chi))
        if a >= b:
            return []
        rows = side.selected[a:b]
        x = allowed[np.ix_(rows - clo, side.peers)] & side.ports[None]
        r_starts, r_ids = _groups(self.wl[rows])
        p_starts, p_ids = side.peer_groups
        return [(r_ids, p_ids, _or_by(_or_by(x, p_starts, 1), r_starts, 0))]

    def _ingress_part(self, side: _Side, allowed: np.ndarray, clo: int, chi: int) -> list:
        a, b = np.searchsorted(side.peers, (clo, chi))
        if a >= b:
            return []
        rows = side.peers[a:b]
        y = allowed[np.ix_(rows - clo, side.selected)] & side.ports[:, a:b].transpose(1, 0, 2)
        r_starts, r_ids = _groups(self.wl[rows])
        s_starts, s_ids = side.selected_groups
        return [(r_ids, s_ids, _or_by(_or_by(y, s_starts, 1), r_starts, 0))]

    @staticmethod
    def _union_count(parts: list, counted: np.ndarray, wlo: int) -> int:
        if len(parts) == 1:
            rows, cols, block = parts[0]
            return int(_popcount(block & counted[np.ix_(rows - wlo, cols)]))
        all_rows = np.unique(np.concatenate([p[0] for p in parts]))
        all_cols = np.unique(np.concatenate([p[1] for p in parts]))
        union = np.zeros((len(all_rows), len(all_cols), counted.shape[2]), dtype=np.uint64)
        for rows, cols, block in parts:
            at = np.ix_(np.searchsorted(all_rows, rows), np.searchsorted(all_cols, cols))
            union[at] |= block
        union &= counted[np.ix_(all_rows - wlo, all_cols)]
        return int(_popcount(union))

    def _open_sides(
        self, allowed: np.ndarray, counted: np.ndarray, wlo: int, whi: int, clo: int, chi: int
    ) -> None:
        """The "(egress of W not isolated)" and "(ingress of W not isolated)" entries."""
        space = self.space
        open_rows = np.flatnonzero(~space.isolated["egress"][clo:chi])
        if len(open_rows):
            starts, ids = _groups(self.wl[open_rows + clo])
            x = _or_by(_or_by(allowed[open_rows], self.wstart, 1), starts, 0)
            counts = _popcount(x & counted[ids - wlo], axis=(1, 2))
            for w, k in zip(ids, counts, strict=True):
                if k:
                    self.per_policy[f"(egress of {self.workloads[w]} not isolated)"] += int(k)
        open_cols = np.flatnonzero(~space.isolated["ingress"])
        if len(open_cols):
            starts, ids = _groups(self.wl[open_cols])
            y = _or_by(allowed[:, open_cols], self.wstart[wlo:whi] - clo, 0)
            y = _or_by(y, starts, 1)
            counts = _popcount(y & counted[:, ids], axis=(0, 2))
            for w, k in zip(ids, counts, strict=True):
                if k:
                    self.per_policy[f"(ingress of {self.workloads[w]} not isolated)"] += int(k)

    def _examples(self, counted: np.ndarray, wlo: int) -> None:
        need = self.max_examples - len(self.example_elements)
        if need <= 0:
            return
        for i, j in np.argwhere(counted.any(axis=2)):
            for word in range(counted.shape[2]):
                x = int(counted[i, j, word])
                while x:
                    low = x & -x
                    self.example_elements.append(
                        (wlo + int(i), int(j), word * 64 + low.bit_length() - 1)
                    )
                    x ^= low
                    need -= 1
                    if not need:
                        return


def _example(
    evaluator: Evaluator, space: _ClassSpace, counter: _Counter, w_src: int, w_dst: int, p: int
) -> dict[str, Any]:
    """One broad element, with every policy that helped allow it (from the evaluator)."""
    proto, port = counter.universe[p]
    src, dst = counter.workloads[w_src], counter.workloads[w_dst]
    reps = space.classes.reps
    names: set[str] = set()
    for s in range(counter.wstart[w_src], counter.wend[w_src]):
        for d in range(counter.wstart[w_dst], counter.wend[w_dst]):
            verdict = evaluator.evaluate(reps[s], reps[d], proto, port)
            if verdict.allowed:
                names |= _verdict_names(verdict, src, dst)
    return {"src": src, "dst": dst, "protocol": proto, "port": port, "allowed_by": sorted(names)}


def _verdict_names(verdict: Any, src: str, dst: str) -> set[str]:
    """The per-policy entries an allowed verdict between workloads ``src`` and ``dst`` adds."""
    names = {f"{r.namespace}/{r.policy}" for r in verdict.egress.allowed_by}
    names |= {f"{r.namespace}/{r.policy}" for r in verdict.ingress.allowed_by}
    if not verdict.egress.isolated:
        names.add(f"(egress of {src} not isolated)")
    if not verdict.ingress.isolated:
        names.add(f"(ingress of {dst} not isolated)")
    return names


def measure_breadth(
    evaluator: Evaluator,
    pods: pd.DataFrame,
    wconns: pd.DataFrame,
    policies: list[dict[str, Any]],
    *,
    resolvers: list[str],
    namespaces: list[str] | None = None,
    max_examples: int = 10,
) -> Breadth:
    """Count what the policies allow beyond what was observed (DESIGN §5; module docstring).

    ``policies`` must be the policies ``evaluator`` was built from (checked: a ValueError
    says which pod they disagree on); ``ipblock_matches_pods`` is taken from the evaluator.
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    index = PolicyIndex(policies, ipblock_matches_pods=evaluator.ipblock_matches_pods)
    universe = port_universe(pods, wconns)
    lap("parse")
    classes = _classes(pods, index)
    lap("classes")
    space = _ClassSpace(classes, index, universe)
    lap("compile")
    _check_against(evaluator, space)
    lap("check")
    scope = set(namespaces) if namespaces is not None else None  # []: no namespace
    counter = _Counter(space, expected_pairs(wconns, resolvers), universe, scope, max_examples)
    if classes.workloads:
        counter.run()
    lap("count")
    n_w = len(classes.workloads)
    if scope is None:
        pairs = n_w * n_w
    else:
        outside = n_w - int(counter.in_scope.sum())  # type: ignore[union-attr]
        pairs = n_w * n_w - outside * outside
    examples = [_example(evaluator, space, counter, *e) for e in counter.example_elements]
    lap("examples")
    per_policy = counter.per_policy
    external, unbounded = _external_breadth(policies, wconns)
    for name, n in external.items():
        per_policy[name] += n
    lap("external")
    return Breadth(
        counter.count,
        pairs * len(universe),
        sum(external.values()),
        dict(per_policy),
        examples,
        unbounded,
        pod_classes=len(classes.reps),
        ports=len(universe),
        workloads=n_w,
        timings=timings,
    )


def _external_breadth(
    policies: list[dict[str, Any]], wconns: pd.DataFrame
) -> tuple[Counter, list[str]]:
    """Addresses x ports admitted by ipBlocks beyond the (address, port) pairs observed."""
    # (direction, address, protocol, port): sources seen by ingress, destinations by egress
    observed = set()
    for row in wconns.itertuples(index=False):
        if row.src_type != "workload":
            observed.add(("ingress", row.src_id, row.protocol, int(row.port)))
        if row.dst_type != "workload":
            observed.add(("egress", row.dst_id, row.protocol, int(row.port)))
    observed_addresses: dict[str, list] = {"ingress": [], "egress": []}
    for direction, addr, proto, port in observed:
        try:
            observed_addresses[direction].append((ipaddress.ip_address(addr), proto, port))
        except (TypeError, ValueError):
            continue
    per_policy: Counter = Counter()
    unbounded: list[str] = []
    for pol in policies:
        meta, spec = pol.get("metadata", {}), pol.get("spec", {})
        name = f"{meta.get('namespace')}/{meta.get('name')}"
        for direction, key in (("ingress", "from"), ("egress", "to")):
            for i, rule in enumerate(spec.get(direction) or []):
                rule = rule or {}  # a null rule is the empty rule
                ports = rule.get("ports") or []
                if not ports or not rule.get(key):
                    unbounded.append(f"{name} {direction}[{i}]")
                    continue
                for peer in rule[key]:
                    block = peer.get("ipBlock")
                    if not block:
                        continue
                    net = ipaddress.ip_network(block["cidr"], strict=False)
                    excepts = [
                        ipaddress.ip_network(e, strict=False) for e in block.get("except") or []
                    ]
                    size = net.num_addresses - sum(e.num_addresses for e in excepts)
                    for port in ports:
                        proto = port.get("protocol", "TCP")
                        number = port.get("port")
                        end = port.get("endPort") or number
                        if not isinstance(number, int):
                            per_policy[name] += size  # a named port: one port per address
                            continue
                        span = end - number + 1
                        # observed (address, port) pairs inside the block are not breadth
                        seen = sum(
                            1
                            for addr, p, n in observed_addresses[direction]
                            if p == proto
                            and number <= n <= end
                            and addr.version == net.version
                            and addr in net
                            and not any(addr in e for e in excepts)
                        )
                        per_policy[name] += max(0, size * span - seen)
    return per_policy, unbounded
