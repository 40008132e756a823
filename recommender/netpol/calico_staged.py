"""Calico's staged NetworkPolicy: ``projectcalico.org/v3`` ``StagedKubernetesNetworkPolicy``.

Its spec is a NetworkPolicy spec plus ``stagedAction``: Calico evaluates it beside the
enforced policies and reports what it *would* do, without enforcing it. Verification judges
it as if promoted ("what breaks when promoted"): ``stagedAction: Set`` (the default) is the
NetworkPolicy its spec states; any other action (``Delete``: the policy as it would be
removed; ``Learn``, ``Ignore``) enforces nothing. The reader (:mod:`.networkpolicy`) compiles
the NetworkPolicy this module derives and names the result ``staged:<name>``, the prefix
Calico itself gives staged policies in flow logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import PolicyError

__all__ = [
    "STAGED_ACTIONS",
    "STAGED_API_VERSION",
    "STAGED_KIND",
    "STAGED_PREFIX",
    "as_network_policy",
    "is_staged",
    "staged_action",
]

STAGED_API_VERSION = "projectcalico.org/v3"
STAGED_KIND = "StagedKubernetesNetworkPolicy"
#: The values of ``spec.stagedAction`` the CRD admits; only ``Set`` enforces anything.
STAGED_ACTIONS = ("Set", "Delete", "Learn", "Ignore")
#: Compiled staged policies are named ``staged:<name>``, as Calico names them in flow logs.
STAGED_PREFIX = "staged:"


def is_staged(obj: Any) -> bool:
    """Whether ``obj`` is a StagedKubernetesNetworkPolicy (apiVersion and kind both)."""
    return (
        isinstance(obj, Mapping)
        and obj.get("apiVersion") == STAGED_API_VERSION
        and obj.get("kind") == STAGED_KIND
    )


def _spec(obj: Mapping) -> Mapping:
    spec = obj.get("spec")
    if spec is None:
        return {}
    if not isinstance(spec, Mapping):
        raise PolicyError(f"{_label(obj)}: spec: must be a mapping, got {type(spec).__name__}")
    return spec


def _label(obj: Mapping) -> str:
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        return f"{STAGED_KIND} <unnamed>"
    return f"{STAGED_KIND} {meta.get('namespace') or 'default'}/{meta.get('name') or '<unnamed>'}"


def staged_action(obj: Mapping) -> str:
    """``spec.stagedAction`` (``Set`` when absent, the CRD's default), validated."""
    action = _spec(obj).get("stagedAction")
    if action is None:
        return "Set"
    if action not in STAGED_ACTIONS:
        raise PolicyError(
            f"{_label(obj)}: spec.stagedAction: unknown action {action!r} "
            f"(expected {', '.join(STAGED_ACTIONS)})"
        )
    return action


def as_network_policy(obj: Mapping) -> dict[str, Any]:
    """The ``networking.k8s.io/v1`` NetworkPolicy a staged policy states: the same metadata
    and spec, without ``stagedAction``. The action itself is :func:`staged_action`'s."""
    spec = {k: v for k, v in _spec(obj).items() if k != "stagedAction"}
    out = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "spec")}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", **out, "spec": spec}
