"""The pods ``explain`` judges, read from what the run was given: kubectl JSON files and/or
flow logs. Apart from :mod:`.explain_endpoints` because it runs the pipeline's ``observe``,
which the explanation modules (imported by ``results``) must not import."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd

from .explain_endpoints import ExplainError, KnownPods
from .pipeline import observe


def known_pods(
    inventory: Sequence[str | os.PathLike] = (), flows: Sequence[str | os.PathLike] = ()
) -> KnownPods:
    """The pods (and node addresses) of kubectl JSON files and/or flow logs: the flows'
    pods with the inventory's labels and container ports joined, plus the inventory's
    pods the flows never showed (as ``recommend`` and ``verify`` see them)."""
    if flows:
        obs = observe(flows, inventory=inventory)
        return KnownPods(obs.pods, obs.node_ips)
    if not inventory:
        raise ExplainError("no pods are known: give --inventory FILE or --flows INPUT")
    from .connections import POD_COLUMNS
    from .ingest.inventory import enrich_pods, read_inventory
    from .workloads import assign_workloads

    inv = read_inventory(list(inventory))
    pods = assign_workloads(enrich_pods(pd.DataFrame(columns=POD_COLUMNS), inv))
    return KnownPods(pods, inv.node_addresses())
