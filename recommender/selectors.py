"""Minimal exact label selectors (DESIGN §5).

For each workload: the fewest labels that pick exactly its pods among every pod known in
its namespace, preferring keys that survive rollouts and never using churn labels. When no
label set separates the workload (a canary carries all its labels plus ``track: canary``),
the fewest ``matchExpressions`` terms that do (``DoesNotExist``, ``NotIn``, ``In``, with the
equalities). If nothing separates it (it shares every usable label with another), the best
available selector is kept and flagged as not exact, so the report can say who is swept in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import pandas as pd

#: Keys that identify an application and survive rollouts, best first.
STABLE_KEYS = (
    "app.kubernetes.io/name",
    "app",
    "k8s-app",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "component",
    "name",
    "role",
    "tier",
    "track",
    "app.kubernetes.io/part-of",
)
#: Keys that name the application: when a workload has one, its selector includes it.
IDENTITY_KEYS = STABLE_KEYS[:3]
#: Keys that change on upgrades: usable, but only as a last resort.
UNSTABLE_KEYS = (
    "version",
    "app.kubernetes.io/version",
    "helm.sh/chart",
    "chart",
    "heritage",
    "app.kubernetes.io/managed-by",
)
#: Keys that change per pod, per rollout or per job run: never in a selector.
CHURN_KEYS = frozenset(
    {
        "pod-template-hash",
        "controller-revision-hash",
        "pod-template-generation",
        "statefulset.kubernetes.io/pod-name",
        "apps.kubernetes.io/pod-index",
        "controller-uid",
        "batch.kubernetes.io/controller-uid",
        "job-name",
        "batch.kubernetes.io/job-name",
        "batch.kubernetes.io/job-completion-index",
        "io.kubernetes.pod.namespace",
    }
)
_CHURN_PREFIXES = ("io.cilium.", "io.kubernetes.pod.")

#: How many labels (or expression terms) a selector may combine before the exhaustive search
#: gives up; past it, expression terms are chosen greedily.
MAX_SELECTOR_LABELS = 4
#: How many combinations of expression terms one selector search may try (bounds the cost on
#: namespaces with many label keys).
MAX_EXPRESSION_COMBINATIONS = 20_000

#: One ``matchExpressions`` term: (key, operator, values). Operators: In, NotIn, DoesNotExist.
Expression = tuple[str, str, tuple[str, ...]]

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def is_churn_key(key: str) -> bool:
    return key in CHURN_KEYS or key.startswith(_CHURN_PREFIXES)


def key_rank(key: str) -> tuple[int, str]:
    """Sort key for label keys: stable first, unknown next, unstable last."""
    if key in STABLE_KEYS:
        return (0, f"{STABLE_KEYS.index(key):03d}")
    if key in UNSTABLE_KEYS:
        return (2, key)
    return (1, key)


@dataclass(frozen=True)
class Selection:
    """A chosen podSelector and how well it fits."""

    match_labels: dict[str, str]
    exact: bool
    #: Pods of other workloads in the namespace that the selector also picks.
    swept_in: tuple[str, ...] = ()
    #: Why this selector: for report.json.
    why: str = ""
    candidates: int = field(default=0, compare=False)
    #: False when no pod of the workload has known labels: nothing can select it.
    known: bool = True
    #: ``matchExpressions`` terms, only when no label set alone picks exactly the workload.
    match_expressions: tuple[Expression, ...] = ()

    def label_selector(self) -> dict[str, Any]:
        """The Kubernetes LabelSelector (``{}`` selects every pod)."""
        return label_selector(self.match_labels, self.match_expressions)

    @property
    def text(self) -> str:
        """``app=catalog, !track`` (kubectl's selector syntax); ``""`` for every pod."""
        return selector_text(self.match_labels, self.match_expressions)


def label_selector(
    match_labels: Mapping[str, str] | Iterable[tuple[str, str]],
    expressions: Iterable[Expression] = (),
) -> dict[str, Any]:
    """A Kubernetes LabelSelector; ``matchExpressions`` only when there are any, so selectors
    that labels alone make exact keep their plain ``matchLabels`` form."""
    labels = dict(match_labels)
    out: dict[str, Any] = {}
    if labels:
        out["matchLabels"] = labels
    exprs = [
        {"key": k, "operator": op, **({"values": list(vs)} if vs else {})}
        for k, op, vs in expressions
    ]
    if exprs:
        out["matchExpressions"] = exprs
    return out


def selector_text(
    match_labels: Mapping[str, str] | Iterable[tuple[str, str]],
    expressions: Iterable[Expression] = (),
) -> str:
    """A selector in kubectl's syntax (``kubectl get pods -l '...'`` accepts it):
    ``app=catalog, track notin (canary), !beta``."""
    labels = match_labels.items() if isinstance(match_labels, Mapping) else match_labels
    parts = [f"{k}={v}" for k, v in labels]
    for key, op, values in expressions:
        if op == "DoesNotExist":
            parts.append(f"!{key}")
        elif op == "Exists":
            parts.append(key)
        else:
            parts.append(f"{key} {op.lower()} ({','.join(values)})")
    return ", ".join(parts)


def selects(
    match_labels: Mapping[str, str],
    expressions: Iterable[Expression],
    labels: Mapping[str, str],
) -> bool:
    """Whether a selector picks a pod with ``labels`` (Kubernetes semantics: ``NotIn``
    matches a pod without the key)."""
    if any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    for key, op, values in expressions:
        got = labels.get(key)
        if op == "In" and got not in values:
            return False
        if op == "NotIn" and got is not None and got in values:
            return False
        if op == "Exists" and got is None:
            return False
        if op == "DoesNotExist" and got is not None:
            return False
    return True


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def minimal_selector(
    target: list[dict[str, str]],
    others: list[tuple[str, dict[str, str]]],
    *,
    expressions: bool = True,
) -> Selection:
    """The fewest labels common to all ``target`` label sets that match none of ``others``;
    when no label set does and ``expressions`` is true, the fewest expression terms that do
    (:func:`expression_selector`).

    ``others`` are (pod name, labels) of every other known pod in the namespace.
    """
    found = _label_selector(target, others)
    if found.exact or not expressions:
        return found
    return expression_selector(target, others, fallback=found)


def _label_selector(
    target: list[dict[str, str]], others: list[tuple[str, dict[str, str]]]
) -> Selection:
    """The label-only search: the fewest common labels, anchored on the identity key."""
    if not target:
        raise ValueError("a selector needs at least one target pod")
    common = dict(target[0])
    for labels in target[1:]:
        common = {k: v for k, v in common.items() if labels.get(k) == v}
    items = sorted(
        ((k, v) for k, v in common.items() if not is_churn_key(k)),
        key=lambda kv: key_rank(kv[0]),
    )
    if not items:
        swept = tuple(sorted(name for name, _ in others))
        why = "the workload's pods share no label: every pod in the namespace is selected"
        return Selection({}, not swept, swept, why)
    # Anchor on the workload's identity key when it has one: a selector must keep meaning
    # "this application" for pods not seen yet, which `tier=backend` alone does not.
    anchor = next(((k, v) for k, v in items if k in IDENTITY_KEYS), None)
    rest = [kv for kv in items if kv != anchor]
    tried = 0
    for size in range(1, min(len(items), MAX_SELECTOR_LABELS) + 1):
        if anchor is None:
            combos = combinations(items, size)
        else:
            combos = ((anchor, *c) for c in combinations(rest, size - 1))
        for combo in combos:
            tried += 1
            selector = dict(combo)
            if not any(_matches(selector, labels) for _, labels in others):
                if size == 1:
                    why = f"'{combo[0][0]}' alone picks exactly this workload"
                else:
                    keys = ", ".join(f"'{k}'" for k, _ in combo)
                    why = f"no single label separates it; {keys} together do"
                return Selection(selector, True, (), why, tried)
    selector = dict(items)
    swept = tuple(sorted(name for name, labels in others if _matches(selector, labels)))
    why = "no label set separates it from " + ", ".join(swept[:5])
    return Selection(selector, not swept, swept, why, tried)


@dataclass(frozen=True)
class _Term:
    """A candidate selector term and the other pods it keeps out (bit i: ``others[i]``)."""

    key: str
    #: "=" (a matchLabels entry), "In", "NotIn" or "DoesNotExist"
    op: str
    values: tuple[str, ...]
    mask: int

    @property
    def positive(self) -> bool:
        return self.op in ("=", "In")


def _terms(target: list[dict[str, str]], others: list[tuple[str, dict[str, str]]]) -> list[_Term]:
    """One term per usable key, the one keeping out the most other pods: equality when every
    target pod has the same value, ``In`` when they all have the key with several values,
    ``DoesNotExist`` when none has it, ``NotIn`` (the other pods' values) when some lack it.
    Sorted stable keys first."""
    keys = {k for labels in target for k in labels}
    keys.update(k for _, labels in others for k in labels)
    terms = []
    for key in sorted((k for k in keys if not is_churn_key(k)), key=key_rank):
        allowed = {labels.get(key) for labels in target}
        present = sorted(v for v in allowed if v is not None)
        if None not in allowed:
            op, values = ("=", tuple(present)) if len(present) == 1 else ("In", tuple(present))
        elif not present:
            op, values = "DoesNotExist", ()
        else:
            values = tuple(
                sorted({labels[key] for _, labels in others if key in labels} - set(present))
            )
            if not values:
                continue
            op = "NotIn"
        mask = 0
        for i, (_, labels) in enumerate(others):
            if labels.get(key) not in allowed:
                mask |= 1 << i
        terms.append(_Term(key, op, values, mask))
    return terms


def _union(terms: Iterable[_Term]) -> int:
    mask = 0
    for t in terms:
        mask |= t.mask
    return mask


def _trim(terms: list[_Term], others: list[tuple[str, dict[str, str]]]) -> list[_Term]:
    """Drop ``NotIn`` values whose pods the other terms keep out already (fewest values),
    one term after the other, and a ``NotIn`` left with none."""
    out = list(terms)
    for n, t in enumerate(terms):
        if t.op != "NotIn":
            continue
        rest = _union(u for m, u in enumerate(out) if m != n)
        needed = {
            labels[t.key]
            for i, (_, labels) in enumerate(others)
            if not rest >> i & 1 and labels.get(t.key) in t.values
        }
        mask = 0
        for i, (_, labels) in enumerate(others):
            if labels.get(t.key) in needed:
                mask |= 1 << i
        out[n] = _Term(t.key, t.op, tuple(sorted(needed)), mask)
    return [t for t in out if t.op != "NotIn" or t.values]


def _selection(
    terms: list[_Term],
    others: list[tuple[str, dict[str, str]]],
    full: int,
    why: str,
    tried: int,
) -> Selection:
    labels = {t.key: t.values[0] for t in terms if t.op == "="}
    exprs = tuple((t.key, t.op, t.values) for t in terms if t.op != "=")
    mask = _union(terms)
    swept = tuple(sorted(name for i, (name, _) in enumerate(others) if not mask >> i & 1))
    return Selection(dict(sorted(labels.items())), mask == full, swept, why, tried, True, exprs)


def expression_selector(
    target: list[dict[str, str]],
    others: list[tuple[str, dict[str, str]]],
    *,
    fallback: Selection | None = None,
) -> Selection:
    """The fewest terms (equalities and ``In``/``NotIn``/``DoesNotExist`` expressions) that
    pick every ``target`` pod and none of ``others``; ties go to stable keys, then to fewer
    values (a ``NotIn`` lists only the values no other term keeps out), then to key order.

    Rules of the label search hold: churn keys never, the identity key anchors the selector
    when the pods share one, and a selector keeps at least one positive term (equality or
    ``In``) when one exists, so it still means "these pods" for pods not seen yet (``!track``
    alone would pick any future pod without a track label). The search is exhaustive up to
    :data:`MAX_SELECTOR_LABELS` terms and :data:`MAX_EXPRESSION_COMBINATIONS` combinations,
    greedy past them (most pods kept out first). When nothing separates the pods, the
    label search's ``fallback`` is returned, narrowed by the terms that keep some pods out.
    """
    if not target:
        raise ValueError("a selector needs at least one target pod")
    if fallback is None:
        fallback = _label_selector(target, others)
    full = (1 << len(others)) - 1
    terms = _terms(target, others)
    positives = [t for t in terms if t.positive]
    anchor = next((t for t in positives if t.op == "=" and t.key in IDENTITY_KEYS), None)
    base = [anchor] if anchor is not None else []
    need_positive = anchor is None and bool(positives)
    pool = _search_pool(terms, anchor, positives, need_positive)
    swept = ", ".join(fallback.swept_in[:5]) or "other pods"
    chosen, tried = _exhaustive(base, pool, others, full, need_positive)
    if chosen is not None:
        text = selector_text(
            {t.key: t.values[0] for t in chosen if t.op == "="},
            [(t.key, t.op, t.values) for t in chosen if t.op != "="],
        )
        why = f"no label set picks it alone (labels also pick {swept}); '{text}' does"
        return _selection(chosen, others, full, why, tried)
    # Greedy: the term keeping out the most pods not yet kept out, best-ranked first.
    chosen = list(base)
    if need_positive:
        chosen.append(max(positives, key=lambda t: (t.mask.bit_count(), -terms.index(t))))
    chosen, mask = _greedy(chosen, pool, full)
    if mask == full:
        chosen = _trim(sorted(chosen, key=terms.index), others)
        why = f"no label set picks it alone (labels also pick {swept}); {len(chosen)} terms do"
        return _selection(chosen, others, full, why, tried)
    return _narrowed_fallback(terms, positives, others, full, fallback, tried)


def _search_pool(
    terms: list[_Term], anchor: _Term | None, positives: list[_Term], need_positive: bool
) -> list[_Term]:
    """The terms worth combining: each keeps some pod out (or is the positive term a
    selector needs), one per set of pods kept out (the better-ranked term)."""
    pool: list[_Term] = []
    seen: set[tuple[int, bool]] = set()
    for t in terms:
        if t is anchor or (not t.mask and not (need_positive and t is positives[0])):
            continue
        if (t.mask, t.positive) not in seen:
            seen.add((t.mask, t.positive))
            pool.append(t)
    return pool


def _greedy(chosen: list[_Term], pool: list[_Term], full: int) -> tuple[list[_Term], int]:
    """Add the pool term keeping out the most pods not yet kept out until all are, or none
    helps; returns the terms and the pods they keep out."""
    mask = _union(chosen)
    while mask != full:
        gain, best = max(
            (((t.mask & ~mask).bit_count(), -i) for i, t in enumerate(pool)), default=(0, 0)
        )
        if gain == 0:
            break
        chosen.append(pool[-best])
        mask |= pool[-best].mask
    return chosen, mask


def _narrowed_fallback(
    terms: list[_Term],
    positives: list[_Term],
    others: list[tuple[str, dict[str, str]]],
    full: int,
    fallback: Selection,
    tried: int,
) -> Selection:
    """Nothing separates every pod: the label fallback, narrowed by terms that keep some
    out."""
    equalities = [t for t in terms if t.op == "="]
    chosen, mask = list(equalities), _union(equalities)
    for t in terms:
        if t.op != "=" and t.mask & ~mask:
            chosen.append(t)
            mask |= t.mask
    if not chosen and positives:
        chosen = [positives[0]]  # never an empty selector picking every pod
    if chosen == equalities:
        return fallback
    narrowed = _selection(sorted(chosen, key=terms.index), others, full, "", tried)
    why = "no selector separates it from " + ", ".join(narrowed.swept_in[:5])
    return Selection(
        narrowed.match_labels,
        False,
        narrowed.swept_in,
        why,
        tried,
        True,
        narrowed.match_expressions,
    )


def _preference(terms: list[_Term]) -> tuple:
    """Among exact selectors of the same size: stable keys first (fewest unstable keys, then
    fewest unknown ones), then the fewest values, then the keys' own order."""
    ranks = sorted(key_rank(t.key) for t in terms)
    unstable = sum(r[0] == 2 for r in ranks)
    unknown = sum(r[0] == 1 for r in ranks)
    return (unstable, unknown, sum(len(t.values) for t in terms), ranks)


def _exhaustive(
    base: list[_Term],
    pool: list[_Term],
    others: list[tuple[str, dict[str, str]]],
    full: int,
    need_positive: bool,
) -> tuple[list[_Term] | None, int]:
    """The preferred exact combination of the fewest terms (:func:`_preference`), trimmed,
    within :data:`MAX_SELECTOR_LABELS` terms and :data:`MAX_EXPRESSION_COMBINATIONS` tries."""
    base_mask = _union(base)
    tried = 0
    for size in range(1, MAX_SELECTOR_LABELS + 1 - len(base)):
        found: list[list[_Term]] = []
        for combo in combinations(pool, size):
            tried += 1
            if tried > MAX_EXPRESSION_COMBINATIONS:
                break
            if need_positive and not any(t.positive for t in combo):
                continue
            if base_mask | _union(combo) == full:
                found.append(_trim(base + list(combo), others))
        if found:
            return min(found, key=_preference), tried
        if tried > MAX_EXPRESSION_COMBINATIONS:
            break
    return None, tried


def workload_selectors(pods: pd.DataFrame) -> dict[str, Selection]:
    """A minimal selector for every workload in ``pods`` (see :func:`minimal_selector`).

    ``pods`` has namespace, pod, labels, workload (from :mod:`recommender.workloads`).
    """
    result: dict[str, Selection] = {}
    for _namespace, ns_pods in pods.groupby("namespace", sort=True):
        # Pods whose labels are unknown can neither shape nor be checked against a selector.
        entries = [
            (pod, w, labels)
            for pod, w, labels in zip(
                ns_pods["pod"], ns_pods["workload"], ns_pods["labels"], strict=True
            )
            if labels is not None
        ]
        for workload in sorted(set(ns_pods["workload"])):
            target = [labels for _, w, labels in entries if w == workload]
            others = [(pod, labels) for pod, w, labels in entries if w != workload]
            if not target:
                why = "the flow log carries no labels for any of its pods"
                result[workload] = Selection({}, False, (), why, known=False)
                continue
            result[workload] = minimal_selector(target, others)
    return result


def namespace_selector(namespace: str) -> dict[str, str]:
    """Namespaces are selected by the label the API server sets on every namespace."""
    return {NAMESPACE_NAME_LABEL: namespace}
