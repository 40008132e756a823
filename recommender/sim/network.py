"""Addresses of simulated clusters: kind-like nodes, pod IPs, Service ClusterIPs, Internet
peers, and the cluster's fixed endpoints (API server, upstream DNS, system Services).

Every draw takes the caller's ``random.Random``, so a seed pins every address.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable, Sequence

from .cluster import SimNode, SimPod, SimService

__all__ = [
    "API_SERVER_PORT",
    "UPSTREAM_DNS",
    "Allocator",
    "ClusterIPs",
    "cluster_ip",
    "kind_nodes",
    "public_ip",
    "public_ips",
    "system_services",
]

#: Where the kube-apiserver listens on the control-plane node (behind ``default/kubernetes``).
API_SERVER_PORT = 6443
#: The docker network gateway kind nodes resolve through (CoreDNS's upstream).
UPSTREAM_DNS = "172.18.0.1"


def kind_nodes(prefix: str, workers: int) -> list[SimNode]:
    """A kind-like cluster: one control plane, ``workers`` workers, a /24 of pods each."""
    nodes = [SimNode(f"{prefix}-control-plane", "172.18.0.2", "10.244.0.0/24")]
    for i in range(1, workers + 1):
        suffix = "" if i == 1 else str(i)
        nodes.append(SimNode(f"{prefix}-worker{suffix}", f"172.18.0.{i + 2}", f"10.244.{i}.0/24"))
    return nodes


class Allocator:
    """Unique pod IPs per node, deterministic."""

    def __init__(self, rng: random.Random, nodes: Sequence[SimNode]) -> None:
        self.rng = rng
        self.nets = {n.name: ipaddress.ip_network(n.pod_cidr) for n in nodes}
        self.used: dict[str, set[int]] = {n.name: set() for n in nodes}

    def reserve(self, pods: Iterable[SimPod]) -> None:
        """Mark the IPs ``pods`` already hold as taken (no random draw)."""
        for pod in pods:
            net = self.nets[pod.node]
            self.used[pod.node].add(int(ipaddress.ip_address(pod.ip)) - int(net.network_address))

    def ip(self, node: str) -> str:
        net = self.nets[node]
        while True:
            host = self.rng.randint(2, 254)
            if host not in self.used[node]:
                self.used[node].add(host)
                return str(net.network_address + host)


def public_ip(rng: random.Random) -> str:
    """A random global unicast IPv4 address (an Internet client or server)."""
    while True:
        addr = ipaddress.IPv4Address(rng.randint(0x01000000, 0xDEFFFFFF))
        if addr.is_global and not addr.is_multicast:
            return str(addr)


def public_ips(rng: random.Random, n: int) -> list[str]:
    """``n`` distinct :func:`public_ip` addresses, in draw order."""
    out: list[str] = []
    while len(out) < n:
        ip = public_ip(rng)
        if ip not in out:
            out.append(ip)
    return out


def cluster_ip(rng: random.Random) -> str:
    """A random address of the Service range ``10.96.0.0/12`` (as kind allocates them)."""
    return f"10.96.{rng.randint(1, 254)}.{rng.randint(2, 254)}"


def system_services() -> list[SimService]:
    """``default/kubernetes`` and ``kube-system/kube-dns`` at their fixed ClusterIPs."""
    return [
        SimService("default", "kubernetes", "10.96.0.1", {}, (("https", 443, 6443, "TCP"),)),
        SimService(
            "kube-system",
            "kube-dns",
            "10.96.0.10",
            {"k8s-app": "kube-dns"},
            (("dns", 53, 53, "UDP"), ("dns-tcp", 53, 53, "TCP"), ("metrics", 9153, 9153, "TCP")),
        ),
    ]


class ClusterIPs:
    """The Services of a cluster, each at a ClusterIP no other holds (starts with
    :func:`system_services`)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.items = system_services()
        self.used = {s.cluster_ip for s in self.items}

    def add(
        self,
        namespace: str,
        name: str,
        selector: dict[str, str],
        ports: tuple[tuple[str | None, int, int, str], ...],
        type: str = "ClusterIP",
    ) -> None:
        ip = "10.96.0.1"
        while ip in self.used:
            ip = cluster_ip(self.rng)
        self.used.add(ip)
        self.items.append(SimService(namespace, name, ip, selector, ports, type))
