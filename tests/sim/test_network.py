"""Addresses of simulated clusters (recommender/sim/network.py)."""

from __future__ import annotations

import ipaddress
import random

from recommender.sim import SimPod
from recommender.sim.clock import DEFAULT_START
from recommender.sim.network import (
    Allocator,
    ClusterIPs,
    kind_nodes,
    public_ips,
    system_services,
)


def test_kind_nodes() -> None:
    nodes = kind_nodes("demo", 3)
    assert [n.name for n in nodes] == [
        "demo-control-plane",
        "demo-worker",
        "demo-worker2",
        "demo-worker3",
    ]
    assert [n.ip for n in nodes] == ["172.18.0.2", "172.18.0.3", "172.18.0.4", "172.18.0.5"]
    assert nodes[3].pod_cidr == "10.244.3.0/24"


def test_allocator_never_hands_out_a_reserved_address() -> None:
    nodes = kind_nodes("demo", 1)
    node = nodes[1].name
    taken = [f"10.244.1.{host}" for host in range(2, 254)]  # all but .254
    pods = [
        SimPod("ns", f"p{i}", "Deployment", "w", {}, ip, node, DEFAULT_START, None, ())
        for i, ip in enumerate(taken)
    ]
    alloc = Allocator(random.Random(1), nodes)
    alloc.reserve(pods)
    assert alloc.ip(node) == "10.244.1.254"
    assert ipaddress.ip_address(alloc.ip(nodes[0].name)) in ipaddress.ip_network("10.244.0.0/24")


def test_public_ips_are_distinct_and_global() -> None:
    ips = public_ips(random.Random(3), 50)
    assert len(set(ips)) == 50
    assert all(ipaddress.ip_address(ip).is_global for ip in ips)
    assert ips == public_ips(random.Random(3), 50)


def test_cluster_ips_are_unique_and_start_with_the_system_services() -> None:
    services = ClusterIPs(random.Random(5))
    for i in range(300):
        services.add("ns", f"s{i}", {"app": f"s{i}"}, (("http", 80, 8080, "TCP"),))
    assert services.items[:2] == system_services()
    ips = [s.cluster_ip for s in services.items]
    assert len(set(ips)) == len(ips) == 302
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/12") for ip in ips)
