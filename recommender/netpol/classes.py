"""Pod classes: pods that no policy can tell apart, so one evaluation answers for all.

Two pods are alike for a set of compiled policies when they share namespace, labels and
namespace labels restricted to the keys (and values) some selector mentions, container ports
restricted to the names some port match mentions, and (when ipBlocks match pods) the set of
ipBlocks holding their IP. :class:`PolicyIndex` holds what the policies look at; replay and
breadth build their classes from it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .endpoints import is_missing, pod_endpoints
from .ipranges import network_span, parse_ip
from .model import Address, ContainerPort, Endpoint, IPBlock, Policy, Selector

if TYPE_CHECKING:
    from .evaluator import Evaluator

__all__ = ["Classes", "LabelTable", "PolicyIndex", "pod_classes_of"]

#: Projected value of a label value no selector mentions (label values cannot contain NUL).
OTHER = "\x00"


def _address(text: Any) -> Address | None:
    """The address of ``text``, None when there is none; raises ValueError when malformed."""
    if is_missing(text) or not text:
        return None
    return parse_ip(text)


def _block_contains(block: IPBlock, values: np.ndarray) -> np.ndarray:
    _, lo, hi = network_span(block.network)
    inside = (values >= lo) & (values <= hi)
    for ex in block.excepts:
        _, e_lo, e_hi = network_span(ex)
        inside &= ~((values >= e_lo) & (values <= e_hi))
    return inside


class PolicyIndex:
    """What compiled policies look at: the label keys and values selectors mention, the
    named ports, the distinct ipBlocks (``blocks``; ``block_ids`` maps each to its column)."""

    def __init__(self, policies: Iterable[Policy], *, ipblock_matches_pods: bool = True) -> None:
        self.ipblock_matches_pods = ipblock_matches_pods
        self.policies = list(policies)
        self.blocks: list[IPBlock] = []
        self.block_ids: dict[IPBlock, int] = {}
        self.pod_keys: dict[str, set[str]] = defaultdict(set)
        self.ns_keys: dict[str, set[str]] = defaultdict(set)
        self.port_names: set[str] = set()
        for pol in self.policies:
            self._note(pol.subject, self.pod_keys)
            self._note(pol.namespaces, self.ns_keys)  # a cluster-scoped subject's namespaces
            for rule in pol.rules:
                for peer in rule.peers or ():
                    if peer.block is not None and peer.block not in self.block_ids:
                        self.block_ids[peer.block] = len(self.blocks)
                        self.blocks.append(peer.block)
                    self._note(peer.pods, self.pod_keys)
                    self._note(peer.namespaces, self.ns_keys)
                self.port_names.update(p.name for p in rule.ports or () if p.name is not None)

    @classmethod
    def of(cls, evaluator: Evaluator) -> PolicyIndex:
        """The index of the policies ``evaluator`` judges with, with its ipBlock option."""
        return cls(evaluator.policies, ipblock_matches_pods=evaluator.ipblock_matches_pods)

    @staticmethod
    def _note(sel: Selector | None, keys: dict[str, set[str]]) -> None:
        for key, values in sel.keys_and_values() if sel is not None else ():
            keys[key].update(values)

    @staticmethod
    def _project(labels: Mapping[str, str], keys: Mapping[str, set[str]]) -> tuple:
        return tuple(
            sorted((k, v if v in keys[k] else OTHER) for k, v in labels.items() if k in keys)
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
        pos: dict[int, list[int]] = {4: [], 6: []}
        vals: dict[int, list[int]] = {4: [], 6: []}
        for i, text in enumerate(ips):
            try:
                addr = _address(text)
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
                if block.network.version == version:
                    member[rows, b] = _block_contains(block, values).astype(bool)
        return member, valid


class LabelTable:
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
        self._cache: dict[Selector, np.ndarray] = {}

    def _vec(self, idx: list[int]) -> np.ndarray:
        v = np.zeros(self.n, dtype=bool)
        v[idx] = True
        return v

    def match(self, sel: Selector) -> np.ndarray:
        """Per row, whether ``sel`` matches it (read-only, cached per selector)."""
        hit = self._cache.get(sel)
        if hit is not None:
            return hit
        out = np.ones(self.n, dtype=bool)
        for k, v in sel.match_labels:
            out &= self._vec(self._kv.get((k, v), []))
        for req in sel.requirements:
            k, op = req.key, req.operator
            if op in ("In", "NotIn"):
                m = self._vec([i for v in req.values for i in self._kv.get((k, v), [])])
                out &= m if op == "In" else ~m
            else:
                m = self._vec(self._has.get(k, []))
                out &= m if op == "Exists" else ~m
        out.flags.writeable = False
        self._cache[sel] = out
        return out


@dataclass
class Classes:
    """The pod classes of a pods table, in workload order."""

    workloads: list[str]  # sorted
    wl: np.ndarray  # class -> workload index (non-decreasing)
    namespace: list[str]
    labels: list[dict[str, str]]  # projected
    ns_labels: list[dict[str, str]]  # projected
    ports: list[tuple]  # projected (name, port, protocol)
    blocks: np.ndarray  # class x block membership (all False unless ipblock_matches_pods)
    reps: list[Endpoint]  # one real pod per class
    pods: int


def _block_membership(endpoints: list[Endpoint], index: PolicyIndex) -> np.ndarray:
    if not (index.ipblock_matches_pods and index.blocks):
        return np.zeros((len(endpoints), len(index.blocks)), dtype=bool)
    member, valid = index.block_matrix([ep.ip for ep in endpoints])
    if not valid.all():
        bad = endpoints[int(np.flatnonzero(~valid)[0])]
        raise ValueError(f"invalid IP address {bad.ip!r} of pod {bad.namespace}/{bad.name}")
    return member


def pod_classes_of(pods: pd.DataFrame, index: PolicyIndex) -> Classes:
    """The classes of the pods of known labels (a class never spans two workloads)."""
    known = pods.loc[np.asarray([lab is not None for lab in pods["labels"]], dtype=bool)]
    if len(known):
        known = known.sort_values(["workload", "pod"], kind="mergesort")
    endpoints = pod_endpoints(known)
    member = _block_membership(endpoints, index)
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
    return Classes(
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
