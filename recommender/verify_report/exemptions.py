"""Connections the replay reports instead of judging (node/kubelet sources, pods whose labels
are unknown, ...), counted by reason."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from ..results import VerifyRun

__all__ = ["NODE_SOURCE", "Exempted", "exemptions", "node_source_exemptions"]

#: Exemption reasons from :mod:`recommender.verify` start with this for node sources.
NODE_SOURCE = "node source"


@dataclass(frozen=True)
class Exempted:
    """Connections reported instead of judged, and their flows."""

    connections: int = 0
    flows: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"connections": self.connections, "flows": self.flows}


def exemptions(run: VerifyRun) -> dict[str, Exempted]:
    """Exempt connections by reason (the text of the reason before its first colon, e.g.
    "node source", "pod labels unknown"), sorted."""
    rows = run.replayed[run.replayed["exempt"]]
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for reason, flows in zip(rows["reasons"], rows["flows"], strict=True):
        what = str(reason or "exempt").split(":", 1)[0]
        counts[what][0] += 1
        counts[what][1] += int(flows) if not pd.isna(flows) else 0
    return {k: Exempted(*v) for k, v in sorted(counts.items())}


def node_source_exemptions(run: VerifyRun) -> Exempted:
    """Connections exempted because their source is a node (kubelet probes, host-network
    pods): NetworkPolicy cannot select them. Which node sources are exempt is decided in
    :func:`recommender.verify.replay`; this counts what it marked."""
    return exemptions(run).get(NODE_SOURCE, Exempted())
