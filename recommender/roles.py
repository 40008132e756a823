"""Roles: workloads of one namespace that may share one policy (DESIGN §5).

A *role* is a set of workloads of one namespace whose pods one selector picks exactly, and
that get one policy granting the union of what its members were observed doing. A
single-member role is the workload alone (today's one policy per workload).

Profiles. A workload's profile is the set of ``(direction, peer, protocol, port)`` items its
own policy grants in the exact proposal: ``("in", src, proto, port)`` for observed ingress,
``("out", dst, proto, port)`` for observed egress, plus the DNS allowance exactly as
synthesis adds it (every workload with egress reaches every observed resolver on UDP and TCP
53, and each resolver admits it; with no resolver observed, egress to ``k8s-app=kube-dns`` in
kube-system). Peers are workload ids ("ns/name") or ``ip:<address>`` for address peers.
Node sources and connections with a workload whose labels are unknown are left out, as
synthesis leaves them out.

Self and member references. Two profiles are compared two ways:

* *literally* (peers as they are): this decides what a merge costs. The role's policy grants
  the union U of its members' literal items, with every peer written as that peer's own
  per-workload selector, including peers that are members. Member m is granted U - own(m).
  Literal identity of all members' profiles is exactly "the merge grants nothing new":
  e.g. cart and cart-v2 gossiping in a full mesh (cart<->cart, cart<->cart-v2,
  cart-v2<->cart-v2) have identical literal profiles, and sharing a policy costs 0.
* *relative to the group* (members replaced by the placeholder :data:`SELF`): this is what
  :func:`traffic_profiles` returns and what clustering compares, so that two replicas of a
  role that each talk to themselves (cart<->cart, cart-v2<->cart-v2) coincide. They are
  similar, but not free: their shared policy admits cart->cart-v2 and cart-v2->cart too,
  on both sides (cost 4 per port, breadth 2); that is why exact mode decides on literal
  identity and role mode charges the exact cost.

Cost of a role G (``Role.cost``): the in-cluster elements its policy grants that were not
observed. An element is one ``(src workload, dst workload, protocol, port)``, per side: for
every member m, the ingress elements ``(s, m, proto, port)`` with ``(s, proto, port)`` in the
union's ingress but not in m's own, plus the egress elements ``(m, d, proto, port)`` likewise,
leaving out elements that are expected anyway (observed, or the DNS allowance:
:func:`recommender.netpol.breadth.expected_pairs`). A peer is resolved to the workloads its selector
picks (itself, plus the owners of pods it sweeps in when not exact); only workloads with
known labels count, as in :func:`recommender.netpol.breadth.measure_breadth`. This is what the
role's policy admits on its own side whatever the other policies do: it equals the
``in_cluster`` breadth measure_breadth reports for the role policies rendered Ingress-only
plus rendered Egress-only (the other direction open), and it is 0 exactly for exact merges.
``Role.external`` counts, the same way, the new (member, address, proto, port) grants of
exact ipBlocks (and of peers no known pod backs); measure_breadth cannot see them, since its
external count is per address, not per workload.

Effective breadth (``Role.breadth``): what the merge adds to the breadth of the whole
proposal, where an element also needs the other side's consent (the peer's own policy,
unless the peer is outside the targeted namespaces and so not isolated). Computed exactly at
the workload level, in acceptance order (an element two merges make possible is charged to
the later one), so the sum over roles equals measure_breadth(proposal with roles) minus
measure_breadth(exact proposal) when every selector involved is exact. Always <= cost.

Budget. Role mode charges ``cost + external`` against ``options.breadth_budget``: it bounds
what the shared policies grant, independently of the peers' policies, so the measured
breadth added (<= sum of cost) never exceeds it and budget 0 merges exactly what exact mode
merges.

Candidates (role mode). Per namespace, workloads (first collapsed into their exact roles)
are clustered with scikit-learn's :class:`~sklearn.cluster.AgglomerativeClustering`,
average linkage over a precomputed Jaccard distance between their group-relative profiles
(one-hot with :class:`~sklearn.preprocessing.MultiLabelBinarizer`), cut at
:data:`ROLE_MAX_DISTANCE`. Average linkage bounds the mean dissimilarity inside a candidate
group, where DBSCAN (or single linkage) would chain a-b-c although a and c share nothing, and
labels outliers as noise instead of leaving them alone; it is deterministic with no random
state. Within each candidate group, merges are accepted greedily, cheapest first (ties: more
similar first, then by name), while the total charge stays within the budget. A candidate
merge is a pair of current groups plus whatever the smallest exact selector covering them
sweeps in (the *closure*: the workloads of every pod carrying all the labels the group
shares, to a fixpoint), provided those are in the same candidate group; so three workloads
labelled tier=worker merge although no pair of them can be selected alone. Exact mode runs
the same procedure over groups of identical literal profiles, with budget 0.

Selectors of merged roles come from :func:`recommender.selectors.minimal_selector` over the
union of the members' known pods against every other known pod of the namespace. The closure
is computed over labels alone, so a merged role is always exactly selectable by labels and
never needs ``matchExpressions`` (a single workload keeps its own :class:`Selection`, which
may have them); merges that only expressions would make exact are not proposed.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from .netpol.breadth import DNS_PORTS, expected_pairs
from .options import SynthesisOptions
from .resolvers import find_resolvers
from .selectors import Expression, Selection, is_churn_key, minimal_selector, selector_text

__all__ = [
    "DEFAULT_DNS",
    "ROLE_MAX_DISTANCE",
    "SELF",
    "Role",
    "find_roles",
    "role_index",
    "traffic_profiles",
]

#: Stands for the workload itself (or, when comparing groups, any member) in a profile.
SELF = "<self>"
#: Prefix of address peers in profiles (namespaces cannot contain ':').
ADDRESS = "ip:"
#: The resolver synthesis assumes when none was observed (a selector, not a workload).
DEFAULT_DNS = "dns:kube-system/k8s-app=kube-dns"
_DEFAULT_DNS_NS, _DEFAULT_DNS_LABELS = "kube-system", {"k8s-app": "kube-dns"}
#: Average-linkage Jaccard distance at or above which workloads are not candidates for one role.
ROLE_MAX_DISTANCE = 0.5
#: Example elements kept per role for the report.
MAX_EXAMPLES = 5

Item = tuple[str, str, str, int]  # (direction, peer, protocol, port)
Element = tuple[str, str, str, int]  # (src workload, dst workload, protocol, port)


@dataclass(frozen=True)
class Role:
    """Workloads of one namespace that share one policy."""

    namespace: str
    #: Workloads ("ns/name"), sorted; one member = the workload alone.
    members: tuple[str, ...]
    #: Selects exactly the members' pods among the namespace's known pods (when ``exact``).
    match_labels: dict[str, str]
    #: The selector picks exactly the members' pods (a merged role always does; a single
    #: workload keeps its own :class:`Selection`, which may sweep others in).
    exact: bool
    #: In-cluster elements the shared policy grants that were not observed (0: exact merge).
    cost: int
    why: str
    #: New (member, address, protocol, port) grants of exact address peers.
    external: int = 0
    #: What the merge adds to the measured breadth of the whole proposal (<= cost).
    breadth: int = 0
    #: Pods of other workloads the selector also picks (single workloads only).
    swept_in: tuple[str, ...] = ()
    #: A few of the granted but unobserved elements, sorted.
    examples: tuple[Element, ...] = field(default=(), compare=False)
    #: ``matchExpressions`` of the selector (a single workload whose labels alone do not
    #: pick it exactly; merged roles are exactly selectable by labels, see ``closure``).
    match_expressions: tuple[Expression, ...] = ()

    @property
    def merged(self) -> bool:
        return len(self.members) > 1


def role_index(roles: Iterable[Role]) -> dict[str, Role]:
    """Workload -> its role."""
    return {m: r for r in roles for m in r.members}


# --------------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------------


def _peer(kind: str, ident: str) -> str:
    return ident if kind == "workload" else f"{ADDRESS}{ident}"


def _usable(wconns: pd.DataFrame, selections: dict[str, Selection] | None) -> pd.DataFrame:
    """The rows synthesis turns into rules: no node sources, no workload without labels."""
    node = wconns["src_type"].eq("node") & wconns["dst_type"].eq("workload")
    keep = ~node
    if selections is not None:
        known = {w for w, s in selections.items() if s.known}
        for side in ("src", "dst"):
            is_w = wconns[f"{side}_type"].eq("workload")
            keep &= ~(is_w & ~wconns[f"{side}_id"].isin(known))
    return wconns[keep]


def _literal_profiles(usable: pd.DataFrame, resolvers: list[str]) -> dict[str, set[Item]]:
    profiles: dict[str, set[Item]] = defaultdict(set)
    with_egress: set[str] = set()
    for st, si, dt, di, proto, port in zip(
        usable["src_type"],
        usable["src_id"],
        usable["dst_type"],
        usable["dst_id"],
        usable["protocol"],
        usable["port"],
        strict=True,
    ):
        proto, port = str(proto), int(port)
        if dt == "workload":
            profiles[di].add(("in", _peer(st, si), proto, port))
        if st == "workload":
            profiles[si].add(("out", _peer(dt, di), proto, port))
            with_egress.add(si)
    for client in sorted(with_egress - set(resolvers)):
        for proto, port in DNS_PORTS:
            if not resolvers:
                profiles[client].add(("out", DEFAULT_DNS, proto, port))
            for r in resolvers:
                profiles[client].add(("out", r, proto, port))
                profiles[r].add(("in", client, proto, port))
    return dict(profiles)


def _relative(items: Iterable[Item], members: Iterable[str]) -> frozenset[Item]:
    group = set(members)
    return frozenset((d, SELF if p in group else p, proto, port) for d, p, proto, port in items)


def traffic_profiles(
    wconns: pd.DataFrame,
    *,
    selections: dict[str, Selection] | None = None,
    resolvers: list[str] | None = None,
) -> dict[str, frozenset[Item]]:
    """Workload -> ``{("in", peer, proto, port), ("out", peer, proto, port)}``, itself as
    :data:`SELF`, DNS allowance included (module docstring). With ``selections``,
    connections with a workload whose labels are unknown are left out, as synthesis does."""
    if resolvers is None:
        resolvers = find_resolvers(wconns)
    literal = _literal_profiles(_usable(wconns, selections), resolvers)
    return {w: _relative(items, (w,)) for w, items in sorted(literal.items())}


# --------------------------------------------------------------------------------------------
# The model: grants, costs, effective breadth
# --------------------------------------------------------------------------------------------


@dataclass
class _Added:
    cost: int
    external: int
    elements: list[Element]


def _shared(a: dict[str, str], b: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in a.items() if b.get(k) == v}


class _Model:
    def __init__(
        self,
        wconns: pd.DataFrame,
        pods: pd.DataFrame,
        selections: dict[str, Selection],
        resolvers: list[str],
        targets: set[str],
    ) -> None:
        self.selections = selections
        self.targets = targets
        self.profiles = _literal_profiles(_usable(wconns, selections), resolvers)
        self.expected = expected_pairs(wconns, resolvers)
        # Known pods per namespace: (pod, workload, labels).
        self.entries: dict[str, list[tuple[str, str, dict]]] = defaultdict(list)
        self.namespace_of: dict[str, str] = {}
        pod_workload: dict[tuple[str, str], str] = {}
        for ns, pod, w, labels in zip(
            pods["namespace"], pods["pod"], pods["workload"], pods["labels"], strict=True
        ):
            self.namespace_of[w] = ns
            pod_workload[(ns, pod)] = w
            if labels is not None:
                self.entries[ns].append((pod, w, labels))
        for ns in self.entries:
            self.entries[ns].sort(key=lambda e: (e[1], e[0]))
        # For the exactness pre-check: pods (index into entries[ns]) per label, and the
        # usable labels every known pod of a workload carries.
        self._pods_with: dict[str, dict[tuple[str, str], set[int]]] = {}
        self._common: dict[str, dict[str, str]] = {}
        for ns, entries in self.entries.items():
            index: dict[tuple[str, str], set[int]] = defaultdict(set)
            for i, (_, w, labels) in enumerate(entries):
                for kv in labels.items():
                    index[kv].add(i)
                if w in self._common:
                    self._common[w] = _shared(self._common[w], labels)
                else:
                    self._common[w] = {k: v for k, v in labels.items() if not is_churn_key(k)}
            self._pods_with[ns] = index
        self.universe = {w for es in self.entries.values() for _, w, _ in es}
        self._pod_workload = pod_workload
        self._resolved: dict[str, frozenset[str]] = {}
        # Per workload: resolved own grants (in-cluster) and external items.
        self.rin: dict[str, frozenset] = {}
        self.rout: dict[str, frozenset] = {}
        self.ext: dict[str, frozenset[Item]] = {}
        for w, items in self.profiles.items():
            rin, rout, ext = set(), set(), set()
            for d, p, proto, port in items:
                peers = self.resolve(p)
                if not peers:
                    ext.add((d, p, proto, port))
                for q in peers:
                    (rin if d == "in" else rout).add((q, proto, port))
            self.rin[w], self.rout[w], self.ext[w] = frozenset(rin), frozenset(rout), frozenset(ext)
        self._added: dict[frozenset[str], _Added] = {}
        self._selector: dict[frozenset[str], Selection] = {}
        self._common_of: dict[frozenset[str], dict[str, str]] = {}
        # Effective grants in the proposal (isolated workloads only; see allowed()).
        self.gin: dict[str, frozenset] = dict(self.rin)
        self.gout: dict[str, frozenset] = dict(self.rout)

    # -- peers ---------------------------------------------------------------------------------

    def resolve(self, peer: str) -> frozenset[str]:
        """The known workloads a peer's selector picks."""
        if peer in self._resolved:
            return self._resolved[peer]
        if peer.startswith(ADDRESS):
            out: frozenset[str] = frozenset()
        elif peer == DEFAULT_DNS:
            out = frozenset(
                w
                for _, w, labels in self.entries.get(_DEFAULT_DNS_NS, ())
                if all(labels.get(k) == v for k, v in _DEFAULT_DNS_LABELS.items())
            )
        else:
            picked = {peer} & self.universe
            sel = self.selections.get(peer)
            ns = self.namespace_of.get(peer, peer.split("/", 1)[0])
            if sel is not None:
                picked |= {
                    self._pod_workload[(ns, pod)]
                    for pod in sel.swept_in
                    if (ns, pod) in self._pod_workload
                } & self.universe
            out = frozenset(picked)
        self._resolved[peer] = out
        return out

    # -- what a shared policy grants -----------------------------------------------------------

    def added(self, members: frozenset[str]) -> _Added:
        """New grants of one policy for ``members`` (module docstring: cost, external)."""
        if members in self._added:
            return self._added[members]
        if len(members) == 1:
            result = _Added(0, 0, [])
        else:
            ui = frozenset().union(*(self.rin[m] for m in members))
            uo = frozenset().union(*(self.rout[m] for m in members))
            ue = frozenset().union(*(self.ext[m] for m in members))
            elements: list[Element] = []
            external = 0
            for m in sorted(members):
                for s, proto, port in ui - self.rin[m]:
                    if (s, m, proto, port) not in self.expected:
                        elements.append((s, m, proto, port))
                for d, proto, port in uo - self.rout[m]:
                    if (m, d, proto, port) not in self.expected:
                        elements.append((m, d, proto, port))
                external += len(ue - self.ext[m])
            result = _Added(len(elements), external, elements)
        self._added[members] = result
        return result

    def charge(self, members: frozenset[str]) -> int:
        a = self.added(members)
        return a.cost + a.external

    def common(self, members: frozenset[str]) -> dict[str, str]:
        """The usable labels every known pod of every member carries (memoized)."""
        if members not in self._common_of:
            it = iter(sorted(members))
            common = dict(self._common[next(it)])
            for m in it:
                common = _shared(common, self._common[m])
            self._common_of[members] = common
        return self._common_of[members]

    def swept(
        self, members: frozenset[str], common: dict[str, str] | None = None
    ) -> frozenset[str]:
        """The workloads of every pod the labels all members share pick: ``members`` exactly
        when some selector picks exactly their pods (minimal_selector falls back to all the
        shared labels, so it finds an exact selector if and only if these pick no other pod).
        ``common``: those labels, when the caller knows them."""
        if common is None:
            common = self.common(members)
        ns = self.namespace_of[next(iter(members))]
        index, entries = self._pods_with[ns], self.entries[ns]
        if common:
            picked = set.intersection(*(index[kv] for kv in common.items()))
        else:
            picked = set(range(len(entries)))
        return members | {entries[i][1] for i in picked}

    def closure(
        self, members: frozenset[str], common: dict[str, str] | None = None
    ) -> frozenset[str]:
        """The smallest exactly selectable set of workloads containing ``members``."""
        while True:
            wider = self.swept(members, common)
            if wider == members:
                return members
            members, common = wider, None

    def selector(self, members: frozenset[str]) -> Selection:
        """The minimal selector picking the members' pods among the namespace's known pods."""
        if members not in self._selector:
            ns = self.namespace_of[next(iter(members))]
            target = [labels for _, w, labels in self.entries[ns] if w in members]
            others = [(pod, labels) for pod, w, labels in self.entries[ns] if w not in members]
            self._selector[members] = minimal_selector(target, others)
        return self._selector[members]

    # -- effective breadth ---------------------------------------------------------------------

    def _isolated(self, w: str) -> bool:
        return self.namespace_of.get(w) in self.targets

    def _allowed(self, s: str, d: str, proto: str, port: int) -> bool:
        egress = not self._isolated(s) or (d, proto, port) in self.gout.get(s, ())
        ingress = not self._isolated(d) or (s, proto, port) in self.gin.get(d, ())
        return egress and ingress

    def apply(self, members: frozenset[str]) -> int:
        """Give every member the union's grants; return the elements newly allowed."""
        ui = frozenset().union(*(self.gin.get(m, frozenset()) for m in members))
        uo = frozenset().union(*(self.gout.get(m, frozenset()) for m in members))
        candidates: set[Element] = set()
        for m in members:
            candidates |= {(s, m, p, n) for s, p, n in ui - self.gin.get(m, frozenset())}
            candidates |= {(m, d, p, n) for d, p, n in uo - self.gout.get(m, frozenset())}
            self.gin[m], self.gout[m] = ui, uo
        return sum(1 for e in candidates if e not in self.expected and self._allowed(*e))


# --------------------------------------------------------------------------------------------
# Grouping
# --------------------------------------------------------------------------------------------


@dataclass
class _Group:
    members: frozenset[str]
    units: frozenset[int]
    breadth: int = 0


def _agglomerate(
    model: _Model,
    groups: list[_Group],
    clusters: list[list[int]],
    budget: int,
    distance: np.ndarray | None,
) -> tuple[list[_Group], int]:
    """Merge groups within each cluster (indices into ``groups``), cheapest first, while the
    charge fits ``budget``. A candidate merge is a pair of groups plus every group the
    smallest exact selector covering the pair sweeps in, when those are in the cluster too
    (three workloads labelled tier=worker merge although no pair of them is selectable)."""
    merging = _Agglomeration(model, groups, clusters, budget, distance)
    merging.run(clusters)
    return [merging.alive[k] for k in sorted(merging.alive)], merging.budget


class _Agglomeration:
    """The state of :func:`_agglomerate`: live groups, their clusters and the candidate heap."""

    def __init__(
        self,
        model: _Model,
        groups: list[_Group],
        clusters: list[list[int]],
        budget: int,
        distance: np.ndarray | None,
    ) -> None:
        self.model, self.budget, self.distance = model, budget, distance
        self.alive: dict[int, _Group] = dict(enumerate(groups))
        self.cluster_of: dict[int, int] = {i: c for c, idx in enumerate(clusters) for i in idx}
        self.owner = {
            w: gid for gid, g in self.alive.items() if gid in self.cluster_of for w in g.members
        }
        self.heap: list = []
        self.pushed: set[tuple[int, ...]] = set()
        self.next_id = len(groups)

    def _members(self, ids: Iterable[int]) -> frozenset[str]:
        return frozenset().union(*(self.alive[g].members for g in ids))

    def involved(self, a: int, b: int) -> tuple[int, ...] | None:
        """Groups a merge of ``a`` and ``b`` must take in (its selector's closure), or None
        when that reaches outside their cluster."""
        alive, model = self.alive, self.model
        ids = {a, b}
        members = alive[a].members | alive[b].members
        common = _shared(model.common(alive[a].members), model.common(alive[b].members))
        while True:
            wider = model.closure(members, common)
            common = None
            extra = {self.owner.get(w) for w in wider - members}
            if None in extra or any(self.cluster_of[g] != self.cluster_of[a] for g in extra):
                return None
            if not extra:
                return tuple(sorted(ids))
            ids |= extra  # type: ignore[arg-type]
            members = self._members(ids)

    def push(self, a: int, b: int) -> None:
        """Queue the merge of ``a`` and ``b`` by its marginal charge, if within budget."""
        ids = self.involved(a, b)
        if ids is None or ids in self.pushed:
            return
        self.pushed.add(ids)  # group ids are never reused: the same candidate, the same charge
        union = self._members(ids)
        marginal = self.model.charge(union) - sum(
            self.model.charge(self.alive[g].members) for g in ids
        )
        if marginal > self.budget:
            return
        d = 0.0
        if self.distance is not None:
            units = sorted(frozenset().union(*(self.alive[g].units for g in ids)))
            sub = self.distance[np.ix_(units, units)]
            d = float(sub[np.triu_indices(len(units), 1)].mean())
        heapq.heappush(self.heap, (marginal, round(d, 12), tuple(sorted(union)), ids))

    def run(self, clusters: list[list[int]]) -> None:
        for idx in clusters:
            for a, b in combinations(sorted(idx), 2):
                self.push(a, b)
        while self.heap:
            marginal, _, _, ids = heapq.heappop(self.heap)
            if any(g not in self.alive for g in ids) or marginal > self.budget:
                continue
            union = self._members(ids)
            if not self.model.selector(union).exact:  # cannot happen: the closure is exact
                continue
            self.budget -= marginal
            self._merge(ids, union)

    def _merge(self, ids: tuple[int, ...], union: frozenset[str]) -> None:
        alive, new = self.alive, self.next_id
        merged = _Group(
            union,
            frozenset().union(*(alive[g].units for g in ids)),
            sum(alive[g].breadth for g in ids) + self.model.apply(union),
        )
        c = self.cluster_of[ids[0]]
        for g in ids:
            del alive[g]
        alive[new] = merged
        self.cluster_of[new] = c
        for w in union:
            self.owner[w] = new
        for other in sorted(alive):
            if other != new and self.cluster_of.get(other) == c:
                self.push(other, new)
        self.next_id += 1


def _jaccard(profiles: list[frozenset[Item]]) -> np.ndarray:
    """Pairwise Jaccard distance between item sets (one-hot with MultiLabelBinarizer).
    scikit-learn is imported here, not at the top: it costs ~1.2 s and only
    ``--generalize role`` needs it (tests/test_imports.py holds the other paths to that)."""
    from sklearn.preprocessing import MultiLabelBinarizer

    x = MultiLabelBinarizer(sparse_output=True).fit_transform(profiles).astype(np.int64)
    inter = (x @ x.T).toarray().astype(float)
    sizes = np.diag(inter)
    union = sizes[:, None] + sizes[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = np.where(union > 0, 1.0 - inter / np.where(union > 0, union, 1), 0.0)
    np.fill_diagonal(dist, 0.0)
    return dist


def _candidate_clusters(dist: np.ndarray, max_distance: float) -> list[list[int]]:
    if len(dist) < 2:
        return []
    from sklearn.cluster import AgglomerativeClustering

    labels = AgglomerativeClustering(
        n_clusters=None,
        metric="precomputed",
        linkage="average",
        distance_threshold=max_distance,
    ).fit_predict(dist)
    by_label: dict[int, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_label[int(label)].append(i)
    return sorted((idx for idx in by_label.values() if len(idx) > 1), key=lambda v: v[0])


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _short(members: Iterable[str]) -> str:
    names = [m.split("/", 1)[1] for m in sorted(members)]
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _labels(match_labels: dict[str, str], expressions: tuple[Expression, ...] = ()) -> str:
    parts = [f"{k}={v}" for k, v in sorted(match_labels.items())]
    if expressions:
        parts.append(selector_text((), expressions))
    return ",".join(parts) or "{}"


def find_roles(
    wconns: pd.DataFrame,
    pods: pd.DataFrame,
    selections: dict[str, Selection],
    options: SynthesisOptions,
    *,
    namespaces: list[str] | None = None,
    resolvers: list[str] | None = None,
    max_distance: float = ROLE_MAX_DISTANCE,
) -> list[Role]:
    """Every workload of the targeted namespaces that gets a policy, grouped into roles.

    Workloads with a profile and known labels are covered, each by exactly one role; sorted
    by namespace and members. ``resolvers`` defaults to the workloads observed serving DNS.
    """
    if resolvers is None:
        resolvers = find_resolvers(wconns)
    all_ns = sorted(set(pods["namespace"]))
    targets = set(namespaces) if namespaces else set(all_ns)
    model = _Model(wconns, pods, selections, resolvers, targets)
    eligible = sorted(
        w
        for w in model.profiles
        if model.namespace_of.get(w) in targets
        and w in selections
        and selections[w].known
        and w in model.universe
    )
    by_ns: dict[str, list[str]] = defaultdict(list)
    for w in eligible:
        by_ns[model.namespace_of[w]].append(w)

    budget = options.breadth_budget if options.generalize == "role" else 0
    roles: list[Role] = []
    for ns in sorted(by_ns):
        workloads = by_ns[ns]
        # Exact stage: identical literal profiles, merged while a selector picks them exactly.
        units = [_Group(frozenset([w]), frozenset([i])) for i, w in enumerate(workloads)]
        classes: dict[frozenset[Item], list[int]] = defaultdict(list)
        for i, w in enumerate(workloads):
            classes[frozenset(model.profiles[w])].append(i)
        exact_clusters = sorted((v for v in classes.values() if len(v) > 1), key=lambda v: v[0])
        groups, _ = _agglomerate(model, units, exact_clusters, 0, None)
        exact_groups = {g.members for g in groups}
        if options.generalize == "role" and len(groups) > 1:
            groups = [_Group(g.members, frozenset([i])) for i, g in enumerate(groups)]
            rel = [
                _relative(model.profiles[min(g.members)], g.members) for g in groups
            ]  # identical for every member of an exact group
            dist = _jaccard(rel)
            clusters = _candidate_clusters(dist, max_distance)
            groups, budget = _agglomerate(model, groups, clusters, budget, dist)
        else:
            dist = None
        for g in groups:
            roles.append(_role(model, ns, g, exact_groups, dist))
    roles.sort(key=lambda r: (r.namespace, r.members))
    return roles


def _role(
    model: _Model,
    ns: str,
    group: _Group,
    exact_groups: set[frozenset[str]],
    dist: np.ndarray | None,
) -> Role:
    members = tuple(sorted(group.members))
    if len(members) == 1:
        sel = model.selections[members[0]]
        why = f"{_short(members)} alone: {sel.why}" if sel.why else f"{_short(members)} alone"
        return Role(
            ns,
            members,
            dict(sel.match_labels),
            sel.exact,
            0,
            why,
            swept_in=sel.swept_in,
            match_expressions=sel.match_expressions,
        )
    sel = model.selector(group.members)
    picks = "both" if len(members) == 2 else f"all {len(members)}"
    selector = f"{_labels(sel.match_labels, sel.match_expressions)} picks exactly {picks}"
    added = model.added(group.members)
    examples = tuple(sorted(added.elements)[:MAX_EXAMPLES])
    if group.members in exact_groups:
        why = f"{_short(members)} have identical traffic; {selector}"
    else:
        similarity = ""
        if dist is not None and len(group.units) > 1:
            idx = sorted(group.units)
            sub = dist[np.ix_(idx, idx)]
            mean = float(sub[np.triu_indices(len(idx), 1)].mean())
            similarity = f" (mean Jaccard distance {mean:.2f})"
        cost = f"sharing one policy grants {added.cost} unobserved in-cluster element(s)"
        if added.external:
            cost += f" and {added.external} unobserved address grant(s)"
        if examples:
            s, d, proto, port = examples[0]
            cost += f", e.g. {s} -> {d} {proto}/{port}"
        why = (
            f"{_short(members)} have similar traffic{similarity}; {cost} "
            f"(adds {group.breadth} to the proposal's breadth); {selector}"
        )
    return Role(
        ns,
        members,
        dict(sorted(sel.match_labels.items())),
        True,
        added.cost,
        why,
        external=added.external,
        breadth=group.breadth,
        examples=examples,
        match_expressions=sel.match_expressions,
    )
