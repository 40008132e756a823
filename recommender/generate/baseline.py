"""One cluster-scoped default-deny-with-DNS object instead of a default-deny per namespace
(``recommend --baseline baseline-admin-network-policy|cluster-network-policy``).

network-policy-api's baseline tier is evaluated after NetworkPolicy and only for the pods
(and directions) no NetworkPolicy isolates, so one object gives every pod of the proposal's
namespaces the posture their default-denies gave: what a workload policy does not allow is
denied. Its subject is exactly the namespaces those default-denies covered (system and
out-of-scope namespaces keep working). Its rules, in order: egress to the cluster DNS
resolver on UDP and TCP 53 (the peers the NetworkPolicy output's DNS allowance names), then
deny all ingress, then deny all egress.

Two kinds: ``BaselineAdminNetworkPolicy`` ``v1alpha1`` (network-policy-api v0.1.8, a
singleton named ``default``) and ``ClusterNetworkPolicy`` ``v1alpha2`` in the ``Baseline``
tier (v0.2.0), at priority 1000, the last of its tier, so any other baseline policy an admin
writes is checked first.

Where it differs from the per-namespace default-denies (pods no workload policy selects
only; every pod of the sample has one): such a pod may reach the resolver, and ingress from
outside the cluster is not denied, since these kinds' ingress peers are pods and namespaces
only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..netpol.admin import BANP_KIND, BANP_NAME, CNP_KIND, V1ALPHA1, V1ALPHA2
from ..resolvers import DNS_PORT
from ..selectors import NAMESPACE_NAME_LABEL, Selection, label_selector, namespace_selector
from .ir import Peer, PolicyIR, PortSpec
from .k8s import MANAGED_BY
from .synthesis import DEFAULT_DENY_NAME, DEFAULT_RESOLVER

#: The ``--baseline`` choices.
BASELINE_KINDS = ("baseline-admin-network-policy", "cluster-network-policy")
#: The ClusterNetworkPolicy's priority in the Baseline tier: checked after every other.
BASELINE_PRIORITY = 1000
#: The DNS allowance, in the order the NetworkPolicy output writes its ports.
DNS_PORTS = (PortSpec("TCP", DNS_PORT), PortSpec("UDP", DNS_PORT))
#: Every address, so the egress deny also covers what is outside the cluster.
EVERY_NETWORK = ("0.0.0.0/0", "::/0")


def resolver_peers(resolvers: Iterable[str], selections: Mapping[str, Selection]) -> list[Peer]:
    """The resolver workloads as the NetworkPolicy output's DNS rules name them (each by its
    own selector); the assumed kube-dns when none was observed (``Synthesis.resolvers`` then
    holds only its "(assumed)" placeholder, which no selection has)."""
    peers = []
    for workload in resolvers:
        sel = selections.get(workload)
        if sel is None:
            continue
        peers.append(
            Peer(
                "workload",
                workload,
                workload.split("/", 1)[0],
                tuple(sorted(sel.match_labels.items())),
                match_expressions=sel.match_expressions,
            )
        )
    if peers:
        return peers
    namespace, labels = DEFAULT_RESOLVER
    return [Peer("workload", f"{namespace}/kube-dns", namespace, labels)]


def covered_namespaces(policies: Iterable[PolicyIR]) -> list[str]:
    """The namespaces the proposal's default-denies isolate, sorted."""
    return sorted({p.namespace for p in policies if p.role == "default-deny"})


def _pods_peer(peer: Peer) -> dict[str, Any]:
    return {
        "pods": {
            "namespaceSelector": {"matchLabels": namespace_selector(peer.namespace or "")},
            "podSelector": label_selector(peer.match_labels, peer.match_expressions),
        }
    }


def _port(spec: PortSpec, v1alpha2: bool) -> dict[str, Any]:
    if v1alpha2:
        return {spec.protocol.lower(): {"destinationPort": {"number": spec.port}}}
    return {"portNumber": {"protocol": spec.protocol, "port": spec.port}}


def _rules(resolvers: Sequence[Peer], v1alpha2: bool) -> tuple[list[dict], list[dict]]:
    """(ingress, egress) rules: DNS to the resolvers, then deny everything else."""
    allow, ports_key = ("Accept", "protocols") if v1alpha2 else ("Allow", "ports")
    dns = {
        "name": "allow-dns",
        "action": allow,
        "to": [_pods_peer(p) for p in resolvers],
        ports_key: [_port(p, v1alpha2) for p in DNS_PORTS],
    }
    deny_egress = {
        "name": "deny-all-egress",
        "action": "Deny",
        "to": [{"namespaces": {}}, {"networks": list(EVERY_NETWORK)}],
    }
    deny_ingress = {"name": "deny-all-ingress", "action": "Deny", "from": [{"namespaces": {}}]}
    return [deny_ingress], [dns, deny_egress]


def render_baseline(
    kind: str, policies: Iterable[PolicyIR], resolvers: Sequence[Peer]
) -> dict[str, Any] | None:
    """The baseline object (``kind`` one of :data:`BASELINE_KINDS`) that replaces the
    default-deny policies among ``policies``, as a plain dict in reading order; None when
    the proposal has no default-deny to replace. ``resolvers``: :func:`resolver_peers`."""
    if kind not in BASELINE_KINDS:
        raise ValueError(f"baseline kind must be one of {', '.join(BASELINE_KINDS)}, not {kind!r}")
    namespaces = covered_namespaces(policies)
    if not namespaces:
        return None
    v1alpha2 = kind == "cluster-network-policy"
    metadata = {
        "name": DEFAULT_DENY_NAME if v1alpha2 else BANP_NAME,
        "labels": {"app.kubernetes.io/managed-by": MANAGED_BY},
        "annotations": {f"{MANAGED_BY}/role": "default-deny"},
    }
    spec: dict[str, Any] = {"tier": "Baseline", "priority": BASELINE_PRIORITY} if v1alpha2 else {}
    subject = {"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": namespaces}
    spec["subject"] = {"namespaces": {"matchExpressions": [subject]}}
    spec["ingress"], spec["egress"] = _rules(resolvers, v1alpha2)
    return {
        "apiVersion": V1ALPHA2 if v1alpha2 else V1ALPHA1,
        "kind": CNP_KIND if v1alpha2 else BANP_KIND,
        "metadata": metadata,
        "spec": spec,
    }
