"""Replay observed connections against policies; measure coverage and breadth.

Coverage: the share of observed connections that the policies allow; a proposal is
written only at 100%. Breadth: what the policies allow that was never observed, over the
known universe (every known workload x every known workload x every observed port, plus
the external addresses each ipBlock admits); see :mod:`recommender.netpol.breadth`. Both are
measured by the independent evaluator in :mod:`recommender.netpol.evaluator`, never by the
generator's own bookkeeping.

Replay evaluates each distinct (source class, destination class, protocol, port) once and
broadcasts the verdict to every connection of that shape: a class is a set of endpoints no
policy tells apart (pods: namespace, labels, namespace labels, container ports and, when
ipBlocks match pods, the ipBlocks holding the pod's IP; addresses: kind and the ipBlocks
holding the address), as the evaluator's compiled policies see them
(:class:`~recommender.netpol.classes.PolicyIndex`). Without ``share_classes`` the classes do not
look at the policies and fall back to full labels and the IP itself: exact, only slower.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from .address_sets import expressible, is_address, set_ranges
from .netpol.classes import PolicyIndex
from .netpol.endpoints import pod_endpoints
from .netpol.evaluator import Evaluator, Verdict, describe
from .netpol.model import Endpoint

__all__ = [
    "EXEMPT_SOURCE_KINDS",
    "NAMED_REASON",
    "address_endpoint",
    "PodIndex",
    "coverage",
    "exemption",
    "pod_classes",
    "replay",
    "unjudged_groups",
]

#: Node and host sources: NetworkPolicy cannot select them, and the resident node always
#: reaches its pods (kubelet probes). They are reported, not replayed.
EXEMPT_SOURCE_KINDS = ("node", "host_network_pod")
_NODE_REASON = "node source: always allowed from the resident node; not selectable"
#: Why a connection with a peer known only by a name (a NetworkSet or a host endpoint the
#: log names without its address) is reported rather than judged.
NAMED_REASON = "peer known only by name"
# Stand-ins for the endpoint descriptions in a verdict's explanation, filled in per row.
_SRC, _DST = "\x00src\x00", "\x00dst\x00"


@dataclass
class PodIndex:
    """Labels, namespace labels and container ports of every known pod, for endpoints."""

    pods: pd.DataFrame
    _by_key: dict = field(default_factory=dict, init=False)
    unknown: set = field(default_factory=set, init=False)
    #: (namespace, pod) -> position in ``endpoints`` (the last row of a duplicated pod wins)
    positions: dict = field(default_factory=dict, init=False)
    endpoints: list = field(default_factory=list, init=False)
    #: per position: whether the pod's labels are unknown
    unknown_flags: np.ndarray = field(default=None, init=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        flags = []
        pods = self.pods
        labels_of = pods["labels"].to_numpy(dtype=object) if len(pods) else ()
        for ep, labels in zip(pod_endpoints(pods), labels_of, strict=True):
            key = (ep.namespace, ep.name)
            if labels is None:
                self.unknown.add(key)
            self._by_key[key] = ep
            self.positions[key] = len(self.endpoints)
            self.endpoints.append(ep)
            flags.append(key in self.unknown)
        self.unknown_flags = np.asarray(flags, dtype=bool)

    def endpoint(
        self,
        kind: str,
        namespace: Any,
        pod: Any,
        ip: Any,
        names: Any = (),
        reserved: Any = None,
    ) -> Endpoint:
        """A pod by name, anything else by its address, the DNS names it was reached by (a
        connection's ``dst_names``) and the Cilium identity the log gave it (its
        ``src_reserved`` / ``dst_reserved``)."""
        if kind == "pod":
            return self._by_key[(namespace, pod)]
        return Endpoint(
            kind=kind, ip=ip, name=ip, names=_names(names), reserved=_reserved(reserved)
        )


def exemption(row: Any, index: PodIndex) -> str:
    """Why a connection is reported instead of judged, or "" when it is judged."""
    if row.src_kind in EXEMPT_SOURCE_KINDS:
        return _NODE_REASON
    for side in ("src", "dst"):
        key = (getattr(row, f"{side}_namespace"), getattr(row, f"{side}_pod"))
        if getattr(row, f"{side}_kind") == "pod" and key in index.unknown:
            return f"pod labels unknown: {key[0]}/{key[1]} ({side}); no selector can name it"
    for side in ("src", "dst"):
        if getattr(row, f"{side}_kind") != "pod" and _named(getattr(row, f"{side}_ip")):
            return _named_reason(getattr(row, f"{side}_kind"), getattr(row, f"{side}_ip"))
    return ""


def _named(ip: Any) -> bool:
    """An id that is neither an address nor a set NetworkPolicy can express."""
    return isinstance(ip, str) and not is_address(ip) and not expressible(ip)


def _named_reason(kind: Any, name: Any) -> str:
    return f"{NAMED_REASON}: {kind} {name}; NetworkPolicy cannot express it"


def _names(names: Any) -> tuple[str, ...]:
    """A connection's ``dst_names`` (a list, tuple or array; None or NaN: none) as the
    endpoint's sorted, distinct names."""
    if names is None or isinstance(names, float):
        return ()
    return tuple(sorted(set(names)))


def _reserved(reserved: Any) -> str | None:
    """A connection's ``src_reserved`` / ``dst_reserved`` (None, NaN or "": none)."""
    return reserved if isinstance(reserved, str) and reserved else None


def address_endpoint(
    kind: Any,
    ip: Any,
    cluster: tuple[str, ...] = (),
    names: Any = (),
    reserved: Any = None,
) -> Endpoint:
    """The endpoint of a non-pod connection end: an address; a named set NetworkPolicy can
    express (``pub``, ``pvt``: every address of its ranges, given the ``cluster`` ranges);
    any other name or a missing address: an endpoint no ipBlock matches. ``names``: the DNS
    names the connection reached it by (its ``dst_names``), what an FQDN peer is judged on;
    ``reserved``: the Cilium identity the log gave it, what an entity peer is judged on."""
    found, identity = _names(names), _reserved(reserved)
    if isinstance(ip, str) and expressible(ip):
        ranges = set_ranges(ip, cluster)
        return Endpoint(kind, None, name=ip, ranges=ranges, names=found, reserved=identity)
    if isinstance(ip, str) and not is_address(ip):
        return Endpoint(kind=kind, ip=None, name=ip, names=found, reserved=identity)
    return Endpoint(kind=kind, ip=ip, name=ip, names=found, reserved=identity)


def pod_classes(index: PodIndex, evaluator: Evaluator, policies: PolicyIndex | None) -> np.ndarray:
    """Per pod position, the class code of pods no policy tells apart."""
    by_ip = evaluator.ipblock_matches_pods
    eps = index.endpoints
    if policies is not None and by_ip and policies.blocks:
        member, valid = policies.block_matrix([ep.ip for ep in eps])
    else:
        member, valid = None, None
    keys = []
    for i, ep in enumerate(eps):
        if policies is None:
            key: tuple = (
                ep.namespace,
                frozenset(ep.labels.items()),
                frozenset(ep.namespace_labels.items()),
                ep.ports,
                ep.ip if by_ip else None,
            )
        else:
            if member is None:
                where: Any = b""
            elif valid[i]:  # type: ignore[index]
                where = member[i].tobytes()
            else:  # a malformed IP: let the evaluator judge this pod itself
                where = ep.ip
            key = (
                ep.namespace,
                policies.pod_labels_key(ep.labels),
                policies.ns_labels_key(ep.namespace_labels),
                policies.ports_key(ep.ports),
                where,
            )
        keys.append(key)
    codes, _ = pd.factorize(pd.Series(keys, dtype=object)) if keys else (np.zeros(0), None)
    return np.asarray(codes, dtype=np.int64)


def _address_classes(
    kinds: list, ips: list, policies: PolicyIndex | None
) -> tuple[np.ndarray, np.ndarray]:
    """(class code per address, index of the first address of each class)."""
    if policies is None or not policies.blocks:
        keys: list = list(zip(kinds, ips, strict=True)) if policies is None else list(kinds)
    else:
        member, valid = policies.block_matrix(ips)
        keys = [
            (k, member[i].tobytes()) if valid[i] else (k, ip)
            for i, (k, ip) in enumerate(zip(kinds, ips, strict=True))
        ]
    codes, _ = pd.factorize(pd.Series(keys, dtype=object)) if keys else (np.zeros(0), None)
    codes = np.asarray(codes, dtype=np.int64)
    _, first = np.unique(codes, return_index=True)
    return codes, first


def _reserved_codes(conns: pd.DataFrame) -> tuple[dict[str, np.ndarray], list]:
    """Per side, the code of each row's Cilium identity (-1: none or no such column), and
    the identities the codes stand for."""
    n = len(conns)
    columns = [
        conns[f"{side}_reserved"] if f"{side}_reserved" in conns else pd.Series([None] * n)
        for side in ("src", "dst")
    ]
    columns = [c.where(c.astype(bool) & c.notna(), None) for c in columns]
    src, dst, uniques = _shared_codes(*columns)
    return {"src": src, "dst": dst}, uniques


def _shared_codes(a: pd.Series, b: pd.Series) -> tuple[np.ndarray, np.ndarray, list]:
    """Factorize two columns into one code space: (codes of a, codes of b, uniques); -1 is
    missing. Only the distinct values become Python objects."""
    codes, uniques = pd.factorize(pd.concat([a, b], ignore_index=True), use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    return codes[: len(a)], codes[len(a) :], list(uniques)


def replay(
    conns: pd.DataFrame,
    evaluator: Evaluator,
    pods: pd.DataFrame,
    *,
    share_classes: bool = True,
    stats: dict[str, Any] | None = None,
    cluster: tuple[str, ...] = (),
    judge_all: bool = False,
) -> pd.DataFrame:
    """Evaluate every pod-level connection; adds ``exempt``, ``allowed``, ``reasons`` and
    ``allowed_by`` (the :class:`~recommender.netpol.evaluator.RuleRef` of every rule, egress
    and ingress, that admits an allowed judged connection, sorted; empty otherwise), and
    ``unjudged`` (the rules the evaluator cannot judge that leave the verdict unknown, empty
    when it is known; such a connection is never ``allowed``).

    ``share_classes``: endpoints that differ only in labels or addresses no policy looks at
    share one evaluation (the classes are read off the evaluator's own compiled policies,
    so they cannot disagree); off, each distinct endpoint is evaluated: exact, only slower.
    ``stats``: when given, filled with class and evaluation counts and seconds per phase.
    ``cluster``: the known cluster ranges, which the named sets ``pub``/``pvt`` leave out
    (see :mod:`recommender.address_sets`). ``judge_all``: evaluate every row, exempt ones
    too (pods of unknown labels as labelled by nothing, node sources by their address,
    peers known only by a name as matching no ipBlock); ``exempt`` still says which.
    """
    stats = {} if stats is None else stats
    lap = _Laps(stats.setdefault("seconds", {}))
    index = PodIndex(pods)
    out = conns.copy()
    n = len(conns)
    if n == 0:
        out["exempt"] = np.zeros(0, dtype=bool)
        out["allowed"] = np.zeros(0, dtype=bool)
        out["reasons"] = pd.Series([], dtype=object, index=out.index)
        out["allowed_by"] = pd.Series([], dtype=object, index=out.index)
        out["unjudged"] = pd.Series([], dtype=object, index=out.index)
        return out
    # The classes know NetworkPolicy's selectors and ipBlocks only: any other set (tiers,
    # cluster-scoped subjects, entities, FQDN names) is judged per distinct endpoint.
    share_classes = share_classes and evaluator.network_policy_only
    pindex = PolicyIndex.of(evaluator) if share_classes else None
    lap("index")
    ends = _Ends(conns, index)
    lap("endpoints")
    exempt, reasons = _exemptions(ends, index)
    allowed = np.ones(n, dtype=bool)
    rules = np.empty(n, dtype=object)
    rules.fill(())
    unjudged = np.empty(n, dtype=object)
    unjudged.fill(())
    judged = np.arange(n) if judge_all else np.flatnonzero(~exempt)
    if len(judged):
        for end in (ends.src, ends.dst):
            missing = end.is_pod[judged] & (end.pos[judged] < 0)
            if missing.any():
                i = judged[np.flatnonzero(missing)[0]]
                raise KeyError(ends.pod_key(end, i))
        lap("exemptions")
        # A temporary: its per-row arrays are freed before the output is built.
        _Judge(index, evaluator, pindex, ends, judged, cluster).run(
            conns, stats, lap, allowed, reasons, (rules, unjudged)
        )
    out["exempt"] = exempt.tolist()
    out["allowed"] = allowed.tolist()
    out["reasons"] = reasons.tolist()
    out["allowed_by"] = rules.tolist()
    out["unjudged"] = unjudged.tolist()
    lap("output")
    return out


class _Laps:
    """Seconds per phase, added into ``seconds`` (a phase may run more than once)."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds
        self.clock = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self.clock
        self.clock = now


def _exemptions(ends: _Ends, index: PodIndex) -> tuple[np.ndarray, np.ndarray]:
    """(exempt, reasons): which rows are reported rather than judged, and why."""
    src, dst = ends.src, ends.dst
    node_kind = np.asarray([k in EXEMPT_SOURCE_KINDS for k in ends.kinds] + [False])
    node = node_kind[src.kind]
    unknown = np.append(index.unknown_flags, False)  # position -1: not a known pod
    src_unknown = src.is_pod & unknown[src.pos]
    dst_unknown = dst.is_pod & unknown[dst.pos]
    named = np.asarray([_named(ip) for ip in ends.ips] + [False])  # code -1: no address
    src_named = ~src.is_pod & named[src.ip]
    dst_named = ~dst.is_pod & named[dst.ip]
    exempt = node | src_unknown | dst_unknown | src_named | dst_named
    reasons = np.empty(len(exempt), dtype=object)
    for i in np.flatnonzero(exempt):
        if node[i]:
            reasons[i] = _NODE_REASON
        elif src_unknown[i] or dst_unknown[i]:
            end, label = (src, "src") if src_unknown[i] else (dst, "dst")
            ep = index.endpoints[end.pos[i]]
            reasons[i] = (
                f"pod labels unknown: {ep.namespace}/{ep.name} ({label}); no selector can name it"
            )
        else:
            end = src if src_named[i] else dst
            reasons[i] = _named_reason(ends.kinds[end.kind[i]], ends.ips[end.ip[i]])
    return exempt, reasons


@dataclass
class _End:
    """One side of every connection, as codes."""

    kind: np.ndarray  # code into _Ends.kinds, -1 missing
    ip: np.ndarray  # code into _Ends.ips, -1 missing
    is_pod: np.ndarray
    pos: np.ndarray  # position in PodIndex, -1 when not a known pod
    ns: np.ndarray  # code into _Ends.namespaces
    pod: np.ndarray  # code into _Ends.pods


class _Ends:
    """Both sides of the connections, factorized: no per-row Python objects."""

    def __init__(self, conns: pd.DataFrame, index: PodIndex) -> None:
        ks, kd, self.kinds = _shared_codes(conns["src_kind"], conns["dst_kind"])
        pod_kind = np.asarray([k == "pod" for k in self.kinds] + [False])  # code -1: missing
        ips, ipd, self.ips = _shared_codes(conns["src_ip"], conns["dst_ip"])
        ns_s, ns_d, self.namespaces = _shared_codes(conns["src_namespace"], conns["dst_namespace"])
        pod_s, pod_d, self.pods = _shared_codes(conns["src_pod"], conns["dst_pod"])
        m = len(self.pods) + 1
        pair_s, pair_d = (ns_s + 1) * m + pod_s + 1, (ns_d + 1) * m + pod_d + 1
        pair_codes, pairs = pd.factorize(np.concatenate([pair_s, pair_d]))
        get = index.positions.get
        pos_of_pair = np.asarray(
            [
                get(
                    (
                        self.namespaces[p // m - 1] if p // m else None,
                        self.pods[p % m - 1] if p % m else None,
                    ),
                    -1,
                )
                for p in pairs
            ]
            + [-1],
            dtype=np.int64,
        )
        n = len(conns)
        self.src = self._end(ks, ips, ns_s, pod_s, pod_kind, pos_of_pair[pair_codes[:n]])
        self.dst = self._end(kd, ipd, ns_d, pod_d, pod_kind, pos_of_pair[pair_codes[n:]])

    @staticmethod
    def _end(kind, ip, ns, pod, pod_kind, pos) -> _End:
        is_pod = pod_kind[kind]
        return _End(kind, ip, is_pod, np.where(is_pod, pos, -1), ns, pod)

    def pod_key(self, end: _End, row: int) -> tuple:
        """(namespace, pod) of one side of one row."""
        ns, pod = int(end.ns[row]), int(end.pod[row])
        return (self.namespaces[ns] if ns >= 0 else None, self.pods[pod] if pod >= 0 else None)


class _Judge:
    """The judged rows, evaluated once per distinct (class, class, protocol, port)."""

    def __init__(
        self,
        index: PodIndex,
        evaluator: Evaluator,
        pindex: PolicyIndex | None,
        ends: _Ends,
        judged: np.ndarray,
        cluster: tuple[str, ...],
    ) -> None:
        self.index, self.evaluator, self.pindex = index, evaluator, pindex
        self.ends, self.judged, self.cluster = ends, judged, cluster

    def run(
        self,
        conns: pd.DataFrame,
        stats: dict[str, Any],
        lap: _Laps,
        allowed: np.ndarray,
        reasons: np.ndarray,
        refs: tuple[np.ndarray, np.ndarray],
    ) -> None:
        """Fill ``allowed``, ``reasons`` and ``refs`` (the allowing rules, the unjudged
        rules) at the judged rows."""
        self.classify(conns, stats)
        lap("classes")
        self.evaluate()
        lap("evaluate")
        self.broadcast(allowed, reasons)
        refs[0][self.judged] = self.rules[self.codes]
        refs[1][self.judged] = self.unjudged[self.codes]
        lap("broadcast")

    def _addresses(self, conns: pd.DataFrame) -> dict[str, np.ndarray]:
        """The addresses (non-pod ends) of the judged rows, both sides together, as
        distinct (kind, ip, Cilium identity, DNS names: a destination's ``dst_names``);
        returns per side the address id of each non-pod row. ``addresses`` holds each
        address's (kind, ip, identity), ``address_names`` its names."""
        ends, judged = self.ends, self.judged
        m = len(ends.ips) + 1
        reserved_codes, identities = _reserved_codes(conns)
        r = len(identities) + 1
        names: list[tuple[str, ...]] = [()]
        dst_names = conns["dst_names"].to_numpy() if "dst_names" in conns else None
        keys = []
        for end, side in ((ends.src, "src"), (ends.dst, "dst")):
            rows = judged[~end.is_pod[judged]]
            key = (end.kind[rows] + 1) * m + end.ip[rows] + 1
            key = (key * r + reserved_codes[side][rows] + 1).astype(object)
            if end is ends.dst and dst_names is not None:
                code = {(): 0}
                for i, row in enumerate(rows):
                    found = _names(dst_names[row])
                    if found:
                        if found not in code:
                            code[found] = len(names)
                            names.append(found)
                        key[i] = (key[i], code[found])
            keys.append(key)
        codes, uniques = pd.factorize(np.concatenate(keys))
        self.addresses, self.address_names = [], []
        for k in uniques:
            k, n = k if isinstance(k, tuple) else (k, 0)
            k, identity = divmod(k, r)
            kind = ends.kinds[k // m - 1] if k // m else None
            ip = ends.ips[k % m - 1] if k % m else None
            self.addresses.append((kind, ip, identities[identity - 1] if identity else None))
            self.address_names.append(names[n])
        return {"src": codes[: len(keys[0])], "dst": codes[len(keys[0]) :]}

    def classify(self, conns: pd.DataFrame, stats: dict[str, Any]) -> None:
        """Class and endpoint id per judged row and side (pods first, then addresses), and
        the distinct shapes to evaluate."""
        self.pod_cls = pod_cls = pod_classes(self.index, self.evaluator, self.pindex)
        self.n_pod_cls = n_pod_cls = int(pod_cls.max()) + 1 if len(pod_cls) else 0
        n_pods = len(self.index.endpoints)
        addr_id = self._addresses(conns)
        kinds: list = [k for k, _, _ in self.addresses]
        if self.pindex is None:  # policies that may look at names and identities: they part
            kinds = [
                (k, r, n) if n or r else k
                for (k, _, r), n in zip(self.addresses, self.address_names, strict=True)
            ]
        addr_cls, self.addr_first = _address_classes(
            kinds, [ip for _, ip, _ in self.addresses], self.pindex
        )
        self.cls, self.eid = {}, {}
        for name, end in (("src", self.ends.src), ("dst", self.ends.dst)):
            c = np.empty(len(self.judged), dtype=np.int64)
            e = np.empty(len(self.judged), dtype=np.int64)
            is_pod = end.is_pod[self.judged]
            pos = end.pos[self.judged][is_pod]
            c[is_pod], e[is_pod] = pod_cls[pos], pos
            c[~is_pod] = n_pod_cls + addr_cls[addr_id[name]]
            e[~is_pod] = n_pods + addr_id[name]
            self.cls[name], self.eid[name] = c, e
        n_cls = n_pod_cls + (int(addr_cls.max()) + 1 if len(addr_cls) else 0)
        pair_codes, _ = pd.factorize(self.cls["src"] * n_cls + self.cls["dst"])
        self.proto_codes, protos = pd.factorize(conns["protocol"].iloc[self.judged])
        self.protos = list(protos)
        self.ports = conns["port"].to_numpy()[self.judged].astype(np.int64)
        shape = (pair_codes.astype(np.int64) * (len(self.protos) + 1) + self.proto_codes) * 65537
        self.codes, _ = pd.factorize(shape + self.ports)
        _, self.first = np.unique(self.codes, return_index=True)
        stats["pod_classes"] = n_pod_cls
        stats["address_classes"] = n_cls - n_pod_cls
        stats["evaluations"] = len(self.first)

    def _representative(self, name: str, row: int, rep_pod: dict[int, Endpoint]) -> Endpoint:
        """A pod class's first pod, an address class's first address."""
        c = int(self.cls[name][row])
        if c < self.n_pod_cls:
            return rep_pod[c]
        first = int(self.addr_first[c - self.n_pod_cls])
        kind, ip, reserved = self.addresses[first]
        return address_endpoint(kind, ip, self.cluster, self.address_names[first], reserved)

    def evaluate(self) -> None:
        """One verdict per shape, its explanation with stand-ins for the endpoints."""
        rep_pod: dict[int, Endpoint] = {}
        for p, c in enumerate(self.pod_cls):
            rep_pod.setdefault(int(c), self.index.endpoints[p])
        self.templates = np.empty(len(self.first), dtype=object)
        self.verdicts = np.empty(len(self.first), dtype=bool)
        self.rules = np.empty(len(self.first), dtype=object)
        self.unjudged = np.empty(len(self.first), dtype=object)
        for code, row in enumerate(self.first):
            port = int(self.ports[row])
            v = self.evaluator.evaluate(
                self._representative("src", row, rep_pod),
                self._representative("dst", row, rep_pod),
                self.protos[self.proto_codes[row]],
                None if port < 0 else port,  # -1: a port-less record (ICMP, aggregated port)
            )
            shown = Verdict(
                v.allowed, replace(v.egress, subject=_SRC), replace(v.ingress, subject=_DST)
            )
            self.templates[code] = "; ".join(shown.explain())
            self.verdicts[code] = v.allowed
            self.rules[code] = (
                tuple(sorted(v.egress.allowed_by + v.ingress.allowed_by)) if v.allowed else ()
            )
            self.unjudged[code] = v.unjudged_by

    def broadcast(self, allowed: np.ndarray, reasons: np.ndarray) -> None:
        """Every judged row gets its shape's verdict, explained with its own endpoints."""
        n_pods = len(self.index.endpoints)
        descriptions = np.empty(n_pods + len(self.addresses), dtype=object)
        descriptions[:n_pods] = [describe(ep) for ep in self.index.endpoints]
        descriptions[n_pods:] = [
            describe(Endpoint(kind=k, ip=ip, name=ip)) for k, ip, _ in self.addresses
        ]
        allowed[self.judged] = self.verdicts[self.codes]
        reasons[self.judged] = [
            t.replace(_SRC, a).replace(_DST, b)
            for t, a, b in zip(
                self.templates[self.codes],
                descriptions[self.eid["src"]],
                descriptions[self.eid["dst"]],
                strict=True,
            )
        ]


def coverage(replayed: pd.DataFrame) -> tuple[float, int, int]:
    """(share allowed, allowed, total) over non-exempt connections; 1.0 when none. An
    unjudged connection counts in the total and never as allowed, so coverage is below
    100% while any exists (:func:`unjudged_groups` says which)."""
    judged = replayed[~replayed["exempt"]]
    total = len(judged)
    ok = int(judged["allowed"].sum())
    return (ok / total if total else 1.0), ok, total


def unjudged_groups(replayed: pd.DataFrame) -> list[tuple[str, int, int]]:
    """The non-exempt connections whose verdict is unknown, per unjudged rule (with its
    reason when the replay's explanation gives it): (rule text, connections, flows), most
    connections first. Empty when every verdict is known (or the column is missing)."""
    if "unjudged" not in replayed.columns or not len(replayed):
        return []
    rows = replayed[~replayed["exempt"].astype(bool)]
    counts: dict[str, list[int]] = {}
    flows = rows["flows"].tolist() if "flows" in rows.columns else [1] * len(rows)
    for refs, reasons, n in zip(
        rows["unjudged"].tolist(), rows["reasons"].tolist(), flows, strict=True
    ):
        for ref in refs or ():
            text = _unjudged_text(ref, reasons)
            acc = counts.setdefault(text, [0, 0])
            acc[0] += 1
            acc[1] += int(n)
    return sorted(((t, c, f) for t, (c, f) in counts.items()), key=lambda g: (-g[1], g[0]))


def _unjudged_text(ref: Any, reasons: Any) -> str:
    """``rule: reason`` as the verdict's explanation says it, else the rule alone."""
    head = f"{ref}: "
    for part in str(reasons or "").split("; "):
        at = part.find(head)
        if at >= 0:
            return part[at:]
    return str(ref)
