"""Why a set of policies allows or denies one connection, pod pair by pod pair, in words.

Notebooks ask it through :meth:`recommender.Recommendation.explain`.
"""

from __future__ import annotations

import pandas as pd

from .netpol.evaluator import Evaluator
from .netpol.model import ContainerPort, Endpoint


def endpoints(pods: pd.DataFrame, name: str) -> list[Endpoint]:
    """Pods of a workload or a single pod ("ns/name"), else the name as an address."""
    if "/" not in name:
        return [Endpoint(kind="external", ip=name, name=name)]
    namespace, rest = name.split("/", 1)
    here = pods[(pods["namespace"] == namespace) & pods["labels"].notna()]
    chosen = here[(here["workload_name"] == rest) | (here["pod"] == rest)]
    return [
        Endpoint(
            kind="pod",
            ip=row.ips[0] if len(row.ips) else None,
            namespace=row.namespace,
            labels=dict(row.labels),
            namespace_labels={
                "kubernetes.io/metadata.name": row.namespace,
                **dict(row.namespace_labels or {}),
            },
            ports=tuple(ContainerPort(*p) for p in (getattr(row, "ports", None) or ())),
            name=row.pod,
        )
        for row in chosen.sort_values("pod").itertuples(index=False)
    ]


def explain(
    evaluator: Evaluator, pods: pd.DataFrame, src: str, dst: str, protocol: str, port: int
) -> list[str]:
    """Explain every pod pair of ``src`` -> ``dst`` on ``protocol``/``port``."""
    sources, targets = endpoints(pods, src), endpoints(pods, dst)
    if not sources or not targets:
        missing = src if not sources else dst
        raise ValueError(f"{missing}: no known pod, workload or address by that name")
    lines = []
    for s in sources:
        for d in targets:
            verdict = evaluator.evaluate(s, d, protocol, port)
            head = "ALLOWED" if verdict.allowed else "DENIED"
            lines.append(f"{head} {s.name} -> {d.name} {port}/{protocol}")
            lines += [f"  {line}" for line in verdict.explain()]
    return lines
