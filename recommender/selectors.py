"""Minimal exact label selectors (DESIGN §5).

For each workload: the fewest labels that pick exactly its pods among every pod known in
its namespace, preferring keys that survive rollouts and never using churn labels. If no
label set separates the workload (it shares every label with another), the best
available selector is kept and flagged as not exact, so the report can say who is swept in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

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

#: How many labels a selector may combine before the search gives up on exactness.
MAX_SELECTOR_LABELS = 4

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


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def minimal_selector(
    target: list[dict[str, str]], others: list[tuple[str, dict[str, str]]]
) -> Selection:
    """The fewest labels common to all ``target`` label sets that match none of ``others``.

    ``others`` are (pod name, labels) of every other known pod in the namespace.
    """
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
