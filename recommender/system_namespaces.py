"""Namespaces a proposal leaves alone unless asked: the cluster's and the CNI's own.

A capture that happens to see CoreDNS would otherwise get a default-deny for
``kube-system``, cutting off every system component that was quiet in the window (the
scheduler's webhooks, metrics-server, CSI drivers, the CNI agents themselves). Their pods
still count as peers (workloads reach CoreDNS, the API server), and ``--namespace NS``
opts one in explicitly.
"""

from __future__ import annotations

#: Namespaces of Kubernetes itself and of the CNIs this tool reads.
SYSTEM_NAMESPACES = (
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "calico-system",
    "calico-apiserver",
    "tigera-operator",
    "kube-flannel",
)
#: Prefixes of CNI namespaces (``cilium``, ``cilium-secrets``, ``cilium-spire``, ...).
SYSTEM_PREFIXES = ("cilium",)


def is_system_namespace(namespace: str) -> bool:
    """Whether the proposal leaves ``namespace`` alone by default."""
    return namespace in SYSTEM_NAMESPACES or namespace.startswith(SYSTEM_PREFIXES)
