"""Merge the workload peers of a rule into fewer selectors, never widening it.

A rule that admits cart and catalog from one namespace may say so with one selector —
`tier: backend`, `app.kubernetes.io/name In [cart, catalog]`, `tier: backend` with
`track DoesNotExist` when only expressions leave a canary out, or `{}` when they are every
workload there — but only when that selector picks exactly their pods among all known pods
(DESIGN §5), so the rule admits the same pods as before and breadth stays 0. Namespaces
whose peers end up with the same pod selector (labels and expressions) merge into one peer
selecting the namespaces by name.
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd

from ..selectors import (
    Expression,
    expression_selector,
    is_churn_key,
    key_rank,
    minimal_selector,
    selector_text,
)
from .ir import Peer

Found = tuple[tuple[tuple[str, str], ...], tuple[Expression, ...], str]


class PeerIndex:
    """Known pods by namespace, for exactness checks (pods with unknown labels skipped)."""

    def __init__(self, pods: pd.DataFrame) -> None:
        self.by_namespace: dict[str, list[tuple[str, str, dict[str, str]]]] = defaultdict(list)
        self.workloads: dict[str, set[str]] = defaultdict(set)
        for row in pods.itertuples(index=False):
            if row.labels is None:
                continue
            self.by_namespace[row.namespace].append((row.pod, row.workload, dict(row.labels)))
            self.workloads[row.namespace].add(row.workload)

    def selector_for(self, namespace: str, members: set[str]) -> Found | None:
        """(matchLabels, matchExpressions, why) picking exactly the members' pods, or None:
        labels when they do, else one `In` on a key whose values tell the members apart,
        else the fewest expression terms (:func:`recommender.selectors.expression_selector`)."""
        pods = self.by_namespace.get(namespace, [])
        target = [labels for _, w, labels in pods if w in members]
        others = [(pod, labels) for pod, w, labels in pods if w not in members]
        if not target:
            return None
        if not others:
            return (), (), f"they are every workload known in {namespace}"
        sel = minimal_selector(target, others, expressions=False)
        if sel.exact and sel.match_labels:
            labels = tuple(sorted(sel.match_labels.items()))
            return labels, (), f"{sel.why.rstrip('.')}; picks exactly them in {namespace}"
        # One key whose values tell the members apart: `key In [values]`.
        keys = set(target[0])
        for labels in target[1:]:
            keys &= set(labels)
        for key in sorted((k for k in keys if not is_churn_key(k)), key=key_rank):
            values = {labels[key] for labels in target}
            if not any(labels.get(key) in values for _, labels in others):
                why = f"'{key}' In {sorted(values)} picks exactly them in {namespace}"
                return (), ((key, "In", tuple(sorted(values))),), why
        sel = expression_selector(target, others, fallback=sel)
        if sel.exact and (sel.match_labels or sel.match_expressions):
            why = f"'{sel.text}' picks exactly them in {namespace}"
            return tuple(sorted(sel.match_labels.items())), sel.match_expressions, why
        return None


def describe(
    namespaces: tuple[str, ...],
    labels: tuple[tuple[str, str], ...],
    expressions: tuple[Expression, ...],
) -> str:
    """A selector peer in a few readable words: ``shop/{tier=backend}``, ``{a,b}/*``,
    ``shop/{tier=backend, !track}``."""
    ns = namespaces[0] if len(namespaces) == 1 else "{" + ",".join(namespaces) + "}"
    text = selector_text(labels, expressions)
    return f"{ns}/{{{text}}}" if text else f"{ns}/*"


def merge_peers(peers: list[Peer], index: PeerIndex) -> tuple[list[Peer], list[str]]:
    """Fewer peers admitting exactly the same pods; returns (peers, reasons)."""
    workload_peers = [p for p in peers if p.kind == "workload"]
    rest = [p for p in peers if p.kind != "workload"]
    by_ns: dict[str, list[Peer]] = defaultdict(list)
    for peer in workload_peers:
        by_ns[peer.namespace or ""].append(peer)
    merged: list[Peer] = []
    reasons: list[str] = []
    for namespace, group in sorted(by_ns.items()):
        members = {p.id for p in group}
        known = index.workloads.get(namespace, set())
        found = index.selector_for(namespace, members) if len(group) > 1 else None
        if found is None and len(group) == 1 and known == members and len(known) > 1:
            found = index.selector_for(namespace, members)
        if found is None:
            merged.extend(group)
            continue
        labels, expressions, why = found
        merged.append(
            Peer(
                "selector",
                describe((namespace,), labels, expressions),
                namespace,
                labels,
                match_expressions=expressions,
                members=tuple(sorted(members)),
            )
        )
        reasons.append(f"{', '.join(sorted(members))}: {why}")
    # Namespaces whose peers select pods alike become one peer naming the namespaces.
    alike: dict[tuple, list[Peer]] = defaultdict(list)
    for peer in merged:
        alike[(peer.kind, peer.match_labels, peer.match_expressions)].append(peer)
    result: list[Peer] = []
    for (_kind, labels, expressions), group in alike.items():
        if len(group) < 2:
            result.extend(group)
            continue
        namespaces = tuple(sorted({p.namespace or "" for p in group}))
        members = tuple(sorted({m for p in group for m in (p.members or (p.id,))}))
        selector = selector_text(labels, expressions) or "all pods"
        result.append(
            Peer(
                "selector",
                describe(namespaces, labels, expressions),
                namespaces[0],
                labels,
                match_expressions=expressions,
                namespaces=namespaces,
                members=members,
            )
        )
        reasons.append(
            f"namespaces {', '.join(namespaces)} select their peers alike ({selector}): "
            "one peer names the namespaces"
        )
    return sorted(result + rest), reasons
