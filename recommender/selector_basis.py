"""What each selector of a proposal was proven exact against.

A selector is chosen to pick exactly its workloads among the *known* pods of a namespace.
Without an inventory those are only the pods the flow logs happened to show, with the labels
the logs carried (Hubble keeps identity-relevant labels only): a Deployment that was quiet
during the window, or a label the log left out, can make a selector pick pods it was never
meant to, and nothing in the logs can tell. This module lists, per namespace, the selectors of
the proposal (policy podSelectors and peer podSelectors) whose exactness rests on that, so
the summary can say so and point at ``--inventory``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import pandas as pd

from .generate.ir import Peer, PolicyIR
from .selectors import Selection, label_selector, selector_text

#: What gives the selectors a complete universe of pods: the objects selector proofs need
#: (pods, their namespaces and owners). ``--help`` and the CLI's hint name the full command
#: (``cli.INVENTORY_KUBECTL``: Services and EndpointSlices too, for address resolution);
#: this subset stays as SUMMARY.md and report.json have always written it.
INVENTORY_COMMAND = "kubectl get pods,namespaces,nodes,replicasets,jobs -A -o json"
INVENTORY_FIX = f"--inventory with '{INVENTORY_COMMAND}' output proves them among every pod"
ALL_PODS = "(all pods)"


def _peer_exact(peer: Peer, selections: dict[str, Selection]) -> bool:
    if peer.kind == "selector":
        return True  # merged peers are exact among the known pods by construction
    sel = selections.get(peer.id)
    return sel is None or sel.exact  # None: the assumed resolver, never disproven


def _members_by_namespace(members: Iterable[str]) -> dict[str, list[str]]:
    """``namespace/name`` members by namespace, in their order. Grouped once per peer: a
    peer over every namespace (a scraper's) was filtered once per namespace, which grew
    with namespaces x members (633k string tests at 2,000 workloads in 500 namespaces)."""
    out: dict[str, list[str]] = {}
    for member in members:
        ns, slash, _ = member.partition("/")
        if slash:
            out.setdefault(ns, []).append(member)
    return out


def selector_basis(
    policies: list[PolicyIR], pods: pd.DataFrame, selections: dict[str, Selection]
) -> list[dict[str, Any]]:
    """Per namespace (sorted): the observed pods and workloads with known labels, and every
    selector of ``policies`` that picks pods there and is exact among them only.

    Each selector: ``selector`` (kubectl syntax, ``(all pods)`` for ``{}``),
    ``label_selector`` (the Kubernetes form), ``picks`` (the workloads it stands for) and
    ``used_in`` (policy files, ``podSelector`` or ``peer``). Selectors already reported as not
    exact are left out: they are known to pick more.
    """
    known = pods[pods["labels"].notna()]
    pod_count = known.groupby("namespace")["pod"].nunique().to_dict()
    workload_count = known.groupby("namespace")["workload"].nunique().to_dict()
    # namespace -> selector text -> entry
    found: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)

    def add(namespace: str, labels: Any, exprs: Any, picks: Any, use: str) -> None:
        text = selector_text(labels, exprs) or ALL_PODS
        entry = found[namespace].setdefault(
            text,
            {
                "selector": text,
                "label_selector": label_selector(labels, exprs),
                "picks": set(),
                "used_in": set(),
            },
        )
        entry["picks"].update(picks)
        entry["used_in"].add(use)

    for ir in policies:
        if ir.role != "workload":
            continue
        where = f"{ir.namespace}/{ir.name}"
        if ir.selector_exact:
            members = ir.members or ((ir.workload,) if ir.workload else ())
            add(ir.namespace, ir.match_labels, ir.match_expressions, members, where)
        for rule in [*ir.ingress, *ir.egress]:
            for peer in rule.peers:
                if peer.kind not in ("workload", "selector") or not _peer_exact(peer, selections):
                    continue
                by_ns = _members_by_namespace(peer.members or (peer.id,))
                for ns in peer.namespaces or (peer.namespace or "",):
                    picks = by_ns.get(ns, [])
                    add(ns, peer.match_labels, peer.match_expressions, picks, f"{where} (peer)")
    out = []
    for ns in sorted(found):
        entries = sorted(
            found[ns].values(), key=lambda e: (e["selector"] != ALL_PODS, e["selector"])
        )
        out.append(
            {
                "namespace": ns,
                "observed_pods": int(pod_count.get(ns, 0)),
                "observed_workloads": int(workload_count.get(ns, 0)),
                "selectors": [
                    {**e, "picks": sorted(e["picks"]), "used_in": sorted(e["used_in"])}
                    for e in entries
                ],
            }
        )
    return out
