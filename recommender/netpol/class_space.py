"""Compiled policies over pod classes: per policy and direction, the classes it isolates,
the peer classes its rules admit and the ports it admits to each, as bitmasks over the port
universe (:mod:`recommender.netpol.bitsets`). Selectors are answered for every class at
once through an inverted index (:class:`~recommender.netpol.classes.LabelTable`); named ports
resolve per destination class."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .bitsets import bits, groups
from .breadth_limits import POD_ENTITIES, is_catch_all_deny
from .classes import Classes, LabelTable, PolicyIndex
from .model import BASELINE_TIER, DIRECTIONS, Action, Peer, Policy, Rule

__all__ = ["ClassSpace", "Side"]


@dataclass
class Side:
    """One direction of one policy in class space."""

    #: The policy's key (``ns/name``); for a one-rule side, the rule's
    #: (``ns/name direction[index]``).
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

    def with_groups(self, wl: np.ndarray) -> Side:
        self.peer_groups = groups(wl[self.peers])
        self.selected_groups = groups(wl[self.selected])
        return self


class ClassSpace:
    """Policies compiled over the pod classes and the port universe."""

    def __init__(
        self,
        classes: Classes,
        index: PolicyIndex,
        universe: list[tuple[str, int]],
        *,
        per_rule: bool = False,
    ) -> None:
        """``per_rule``: also compile each rule alone (:attr:`rule_sides`, keyed like
        ``RuleRef`` text, ``ns/name direction[index]``), for breadth per rule."""
        self.classes = classes
        self.index = index
        self.n = n = len(classes.reps)
        self.words = words = max(1, (len(universe) + 63) // 64)
        self.all = bits(range(len(universe)), words)
        self.port_index = {p: i for i, p in enumerate(universe)}
        self.uni_proto = np.asarray([p for p, _ in universe], dtype=object)
        self.uni_num = np.asarray([n for _, n in universe], dtype=np.int64)
        self.pod_table = LabelTable(classes.labels)
        self.ns_table = LabelTable(classes.ns_labels)
        ns_arr = np.asarray(classes.namespace, dtype=object)
        self._ns = {ns: ns_arr == ns for ns in set(classes.namespace)}
        self._none = np.zeros(n, dtype=bool)
        self._named: dict[tuple[str, str], np.ndarray] = {}
        self._ports: dict[tuple, tuple[np.ndarray, np.ndarray | None]] = {}
        self.isolated = {d: np.zeros(n, dtype=bool) for d in DIRECTIONS}
        self.sides: dict[str, list[Side]] = {d: [] for d in DIRECTIONS}
        #: One side per rule (only with ``per_rule``).
        self.rule_sides: dict[str, list[Side]] = {d: [] for d in DIRECTIONS}
        self.per_rule = per_rule
        # NetworkPolicy's tier first: the baseline applies only where it isolates nothing.
        baseline = [p for p in index.policies if p.tier == BASELINE_TIER]
        for pol in index.policies:
            if pol.tier != BASELINE_TIER:
                self._compile(pol, {d: self._selects(pol) for d in pol.isolates})
        taken = {d: np.zeros(n, dtype=bool) for d in DIRECTIONS}
        open_np = {d: ~self.isolated[d] for d in DIRECTIONS}
        for pol in baseline:
            self._compile_baseline(pol, open_np, taken)

    def _selects(self, pol: Policy) -> np.ndarray:
        """The classes the policy's subject selects (its namespace, or for a cluster-scoped
        policy the namespaces its namespace selector matches)."""
        if pol.namespace is not None:
            where = self._ns_vec(pol.namespace)
        elif pol.namespaces is not None:
            where = self.ns_table.match(pol.namespaces)
        else:
            where = np.ones(self.n, dtype=bool)
        return where & self.pod_table.match(pol.subject)

    def _compile(self, pol: Policy, selected: dict[str, np.ndarray]) -> None:
        """Isolate ``selected`` classes per direction with the policy's allow rules."""
        for direction, sel in selected.items():
            self.isolated[direction] |= sel
            rules = [r for r in pol.rules_of(direction) if r.action == Action.ALLOW]
            if not (sel.any() and rules):
                continue
            self._add(self.sides, pol.key, direction, rules, pol.namespace, sel)
            for rule in rules if self.per_rule else ():
                key = f"{pol.label} {direction}[{rule.index}]"
                self._add(self.rule_sides, key, direction, [rule], pol.namespace, sel)

    def _compile_baseline(
        self, pol: Policy, open_np: dict[str, np.ndarray], taken: dict[str, np.ndarray]
    ) -> None:
        """A baseline policy of the default-deny shape (allow rules, then a catch-all deny:
        :mod:`recommender.netpol.breadth_limits`) isolates, with its allow rules, what it
        selects and no NetworkPolicy isolates; without the catch-all it decides nothing
        (the tier passes). Raises ValueError when two select one class for a direction."""
        selected = {}
        for direction in pol.isolates:
            rules = pol.rules_of(direction)
            if not (rules and is_catch_all_deny(rules[-1], pol.namespace)):
                continue
            sel = self._selects(pol) & open_np[direction]
            if (sel & taken[direction]).any():
                raise ValueError(f"{pol.label}: another baseline policy selects the same pods")
            taken[direction] |= sel
            selected[direction] = sel
        self._compile(pol, selected)

    def _add(
        self,
        into: dict[str, list[Side]],
        key: str,
        direction: str,
        rules: Sequence[Rule],
        ns: str | None,
        sel: np.ndarray,
    ) -> None:
        side = self._side(key, direction, rules, ns, sel)
        if side is not None:
            into[direction].append(side.with_groups(self.classes.wl))

    def _ns_vec(self, namespace: str) -> np.ndarray:
        return self._ns.get(namespace, self._none)

    def _peer_vec(self, peer: Peer, policy_ns: str | None) -> np.ndarray:
        if peer.entity is not None:  # every pod is in the cluster, none is world or a node
            return np.ones(self.n, dtype=bool) if peer.entity in POD_ENTITIES else self._none
        if peer.fqdn is not None or peer.nodes is not None:
            return self._none  # toFQDNs never applies to in-cluster addresses
        selects = peer.pods is not None or peer.namespaces is not None
        if peer.block is not None:
            in_block = self.classes.blocks[:, self.index.block_ids[peer.block]]
            if not selects:
                return in_block if self.index.ipblock_matches_pods else self._none
        if peer.namespaces is None:
            v = np.ones(self.n, dtype=bool) if policy_ns is None else self._ns_vec(policy_ns)
        else:
            v = self.ns_table.match(peer.namespaces)
        if peer.pods is not None:
            v = v & self.pod_table.match(peer.pods)
        return v & in_block if peer.block is not None else v

    def _rule_peers(self, rule: Rule, policy_ns: str | None) -> np.ndarray:
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
                    hit[c] = bits(idx, self.words)
            self._named[key] = hit
        return hit

    def _rule_ports(self, rule: Rule) -> tuple[np.ndarray, np.ndarray | None]:
        """(static port bits, per-class named-port bits or None); cached per port list, as
        most rules repeat a few (read-only)."""
        if rule.ports is None:
            return self.all, None
        hit = self._ports.get(rule.ports)
        if hit is None:
            hit = self._ports[rule.ports] = self._port_bits(rule)
            hit[0].flags.writeable = False
        return hit

    def _port_bits(self, rule: Rule) -> tuple[np.ndarray, np.ndarray | None]:
        assert rule.ports is not None
        mask = np.zeros(len(self.uni_num), dtype=bool)
        named = None
        for p in rule.ports:
            if p.name is not None:
                m = self._named_matrix(p.name, p.protocol)
                named = m if named is None else named | m
                continue
            hit = self.uni_proto == p.protocol
            if p.start is not None:
                hit &= (self.uni_num >= p.start) & (self.uni_num <= p.end)
            mask |= hit
        return bits(np.flatnonzero(mask), self.words), named

    def _side(
        self, key: str, direction: str, rules: Sequence[Rule], ns: str | None, sel: np.ndarray
    ) -> Side | None:
        selected = np.flatnonzero(sel)
        parts = []
        named_parts = []
        for rule in rules:
            peers = self._rule_peers(rule, ns)
            if not peers.any():
                continue
            static, named = self._rule_ports(rule)
            parts.append((peers, static))
            if named is not None:
                named_parts.append((peers, named))
        if not named_parts:
            return self._static_side(key, direction, selected, parts)
        base = np.zeros((self.n, self.words), dtype=np.uint64)
        for peers, static in parts:
            base[peers] |= static
        if direction == "egress":
            # The port set depends on the destination: the peer for egress.
            for peers, named in named_parts:
                base[peers] |= named[peers]
            idx = np.flatnonzero(base.any(axis=1))
            if not len(idx):
                return None
            ports = base[idx] if direction == "egress" else base[idx][None]
            return Side(key, selected, idx, ports)
        # Ingress with named ports: they resolve on each selected (destination) class.
        full = np.broadcast_to(base, (len(selected), self.n, self.words)).copy()
        for peers, named in named_parts:
            full[:, peers] |= named[selected][:, None, :]
        idx = np.flatnonzero(full.any(axis=(0, 2)))
        if not len(idx):
            return None
        return Side(key, selected, idx, full[:, idx])

    def _static_side(
        self,
        key: str,
        direction: str,
        selected: np.ndarray,
        parts: list[tuple[np.ndarray, np.ndarray]],
    ) -> Side | None:
        """:meth:`_side` without named ports: the same arrays, built over the peers only
        rather than a classes x words array per side (3,506 sides x 2,005 classes at 2,000
        workloads)."""
        parts = [(np.flatnonzero(peers), static) for peers, static in parts if static.any()]
        if not parts:
            return None
        if len(parts) == 1:
            idx, static = parts[0]
            ports = np.repeat(static[None], len(idx), axis=0)
        else:
            idx = np.unique(np.concatenate([p for p, _ in parts]))
            ports = np.zeros((len(idx), self.words), dtype=np.uint64)
            for peers, static in parts:
                ports[np.searchsorted(idx, peers)] |= static
        return Side(key, selected, idx, ports if direction == "egress" else ports[None])
