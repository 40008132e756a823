"""The proposal as Calico staged policies (``recommend --output-kind calico-staged``).

A team stages first: Calico evaluates a ``StagedKubernetesNetworkPolicy`` beside the enforced
policies and reports its verdicts without enforcing it, so the proposal can be watched on live
traffic before it is promoted. The object is the rendered NetworkPolicy with another apiVersion
and kind and ``spec.stagedAction: Set``; the proof (replay, at risk, breadth) is the
NetworkPolicy's, since the spec is the same.
"""

from __future__ import annotations

import copy
from typing import Any

from ..netpol.calico_staged import STAGED_API_VERSION, STAGED_KIND

#: The one-line promote step, run in the proposal directory: each staged file becomes the
#: NetworkPolicy it stages, byte for byte the file ``--output-kind networkpolicy`` writes.
PROMOTE_COMMAND = (
    "sed -i -e 's#^apiVersion: projectcalico.org/v3$#apiVersion: networking.k8s.io/v1#' "
    "-e 's#^kind: StagedKubernetesNetworkPolicy$#kind: NetworkPolicy#' "
    "-e '/^  stagedAction: Set$/d' policies/*/*.yaml"
)


def to_staged(policy: dict[str, Any]) -> dict[str, Any]:
    """A rendered NetworkPolicy as the StagedKubernetesNetworkPolicy that stages it: the same
    metadata (the managed-by label included) and spec, plus ``stagedAction: Set``."""
    return {
        "apiVersion": STAGED_API_VERSION,
        "kind": STAGED_KIND,
        "metadata": copy.deepcopy(policy["metadata"]),
        "spec": {**copy.deepcopy(policy["spec"]), "stagedAction": "Set"},
    }
