"""Every policy kind the tool reads, by ``(apiVersion, kind)``: the one entry point that
``verify``, ``--existing``, policy files and the evaluator compile through.

* :mod:`.networkpolicy`: ``networking.k8s.io/v1`` NetworkPolicy, and Calico's
  StagedKubernetesNetworkPolicy;
* :mod:`.cilium`: ``cilium.io/v2`` CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy;
* :mod:`.calico`: ``projectcalico.org/v3`` (Staged)(Global)NetworkPolicy, Tier,
  (Global)NetworkSet;
* :mod:`.admin`: ``policy.networking.k8s.io`` AdminNetworkPolicy and
  BaselineAdminNetworkPolicy (v1alpha1), ClusterNetworkPolicy (v1alpha2).

The dialect readers are imported only when an object of theirs is given, so a
NetworkPolicy-only run pays for none of them. Calico objects are compiled together (a
policy's tier and the network sets its selectors name are other objects).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any

from .calico_staged import STAGED_API_VERSION, STAGED_KIND
from .model import Policy
from .networkpolicy import compile_policies

__all__ = ["READ_KINDS", "compile_objects", "reader_of", "uses_cilium"]

#: Reader module (under ``recommender.netpol``) -> the ``(apiVersion, kind)`` it reads.
READ_KINDS: dict[str, frozenset[tuple[str, str]]] = {
    "networkpolicy": frozenset(
        {("networking.k8s.io/v1", "NetworkPolicy"), (STAGED_API_VERSION, STAGED_KIND)}
    ),
    "cilium": frozenset(
        ("cilium.io/v2", k) for k in ("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy")
    ),
    "calico": frozenset(
        ("projectcalico.org/v3", k)
        for k in (
            "NetworkPolicy",
            "GlobalNetworkPolicy",
            "StagedNetworkPolicy",
            "StagedGlobalNetworkPolicy",
            "Tier",
            "NetworkSet",
            "GlobalNetworkSet",
        )
    ),
    "admin": frozenset(
        {
            ("policy.networking.k8s.io/v1alpha1", "AdminNetworkPolicy"),
            ("policy.networking.k8s.io/v1alpha1", "BaselineAdminNetworkPolicy"),
            ("policy.networking.k8s.io/v1alpha2", "ClusterNetworkPolicy"),
        }
    ),
}
_BY_KIND = {kind: reader for reader, kinds in READ_KINDS.items() for kind in kinds}


def reader_of(obj: Any) -> str | None:
    """The reader of ``obj`` (a key of :data:`READ_KINDS`), or None for a kind none reads."""
    if not isinstance(obj, Mapping):
        return None
    return _BY_KIND.get((obj.get("apiVersion"), obj.get("kind")))  # type: ignore[arg-type]


def _module(reader: str) -> Any:
    return importlib.import_module(f"{__package__}.{reader}")


def compile_objects(objs: Iterable[Any]) -> tuple[list[Policy], list[str]]:
    """Every object compiled by its kind's reader (a compiled :class:`Policy` is kept as
    is): NetworkPolicies first (in the order
    given, as :func:`~.networkpolicy.compile_policies` compiles them), then Cilium, Calico and
    the cluster-scoped kinds. Returns the policies and the readers' notes; raises
    :class:`~.model.PolicyError` (one line: object, field, what) for a malformed object, a
    duplicate, or a kind no reader reads."""
    groups: dict[str, list[Any]] = {reader: [] for reader in READ_KINDS}
    compiled: list[Policy] = []
    for obj in objs:
        if isinstance(obj, Policy):  # compiled already: kept as is, first
            compiled.append(obj)
            continue
        # a kind no reader reads goes to the NetworkPolicy reader, which names what is wrong
        groups[reader_of(obj) or "networkpolicy"].append(obj)
    policies = compiled + compile_policies(groups["networkpolicy"])
    notes: list[str] = []
    for obj in groups["cilium"]:
        policies += _module("cilium").compile_object(obj)
    if groups["calico"]:
        calico, calico_notes = _module("calico").compile_objects(groups["calico"])
        policies += calico
        notes += calico_notes
    for obj in groups["admin"]:
        policies += _module("admin").compile_object(obj)
    return policies, notes


def uses_cilium(policies: Iterable[Policy]) -> bool:
    """Whether the set holds Cilium policies: then the cluster runs Cilium, whose CIDR
    rules (and NetworkPolicy ipBlocks) match no in-cluster pod by default."""
    return any(p.kind.startswith("Cilium") for p in policies)
