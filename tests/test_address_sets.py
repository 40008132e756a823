"""Named address sets: the ranges the generator writes and the evaluator proves."""

from __future__ import annotations

import ipaddress
import random

import pandas as pd
import pytest

from recommender.address_sets import (
    PRIVATE,
    PRIVATE_V4,
    PUB,
    PVT,
    cluster_ranges,
    expressible,
    is_address,
    set_ranges,
    subtract,
)


def _members(cidrs, addresses):
    nets = [ipaddress.ip_network(c) for c in cidrs]
    return [any(a.version == n.version and a in n for n in nets) for a in addresses]


def _sample(rng, n=3000):
    out = [ipaddress.IPv4Address(rng.getrandbits(32)) for _ in range(n)]
    out += [ipaddress.IPv6Address(rng.getrandbits(128)) for _ in range(n // 3)]
    # addresses on the edges of the ranges that matter
    for cidr in (*PRIVATE_V4, *PRIVATE, "10.244.0.0/16", "172.18.0.2/32"):
        net = ipaddress.ip_network(cidr)
        for a in (net.network_address, net.broadcast_address):
            out += [a, a - 1 if int(a) else a, a + 1 if int(a) < 2**a.max_prefixlen - 1 else a]
    return out


def test_subtract_equals_set_difference_on_random_addresses():
    rng = random.Random(11)
    keep = ["0.0.0.0/0", "::/0"]
    remove = ["10.0.0.0/8", "10.244.3.0/24", "11.0.0.0/9", "fc00::/7", "2001:db8::/32"]
    out = subtract(keep, remove)
    removed = [ipaddress.ip_network(c) for c in remove]
    sample = _sample(rng)
    for a, inside in zip(sample, _members(out, sample), strict=True):
        assert inside == (not any(a.version == n.version and a in n for n in removed)), a


def test_pub_is_everything_but_private_and_cluster_ranges():
    cluster = ["10.244.0.0/16", "172.18.0.2/32", "52.1.2.0/24"]  # a cluster range in public space
    ranges = set_ranges(PUB, cluster)
    sample = _sample(random.Random(5))
    private = [ipaddress.ip_network(c) for c in (*PRIVATE_V4, "fc00::/7", "fe80::/10", "::1/128")]
    cluster_nets = [ipaddress.ip_network(c) for c in cluster]
    for a, inside in zip(sample, _members(ranges, sample), strict=True):
        excluded = any(a.version == n.version and a in n for n in private + cluster_nets)
        assert inside == (not excluded), a
    assert _members(ranges, [ipaddress.ip_address(a) for a in ("52.1.2.3", "52.1.3.3")]) == [
        False,
        True,
    ]


def test_pvt_is_the_private_ranges_minus_cluster_ranges():
    ranges = set_ranges(PVT, ["10.244.0.0/16", "172.18.0.0/29"])
    assert _members(ranges, [ipaddress.ip_address(a) for a in ("10.1.2.3", "10.244.9.9")]) == [
        True,
        False,
    ]
    assert _members(ranges, [ipaddress.ip_address("172.18.0.9")]) == [True]
    assert _members(ranges, [ipaddress.ip_address("8.8.8.8")]) == [False]
    assert _members(ranges, [ipaddress.ip_address("fd00::1")]) == [True]


def test_only_pub_and_pvt_are_expressible_and_names_are_not_addresses():
    assert expressible(PUB) and expressible(PVT)
    assert not expressible("partner-apis")
    assert is_address("10.0.0.1") and is_address("fd00::1")
    assert not is_address("pub") and not is_address(None) and not is_address("10.0.0.1/32")
    with pytest.raises(ValueError):
        set_ranges("partner-apis")


def test_cluster_ranges_are_what_ipaddress_collapses_them_into():
    rng = random.Random(13)
    v4 = [f"10.{rng.randrange(4)}.{rng.randrange(4)}.{rng.randrange(256)}" for _ in range(600)]
    v6 = [f"fd00::{rng.randrange(64):x}" for _ in range(80)]
    pods = pd.DataFrame({"ips": [[a, b] for a, b in zip(v4[:80], v6, strict=True)]})
    nodes = [*v4[80:], "not an address", "fe80::1%eth0"]
    cidrs = ["10.3.0.0/22", "10.1.2.77/30"]
    nets = [ipaddress.ip_network(a) for a in v4 + v6]
    nets += [ipaddress.ip_network(c, strict=False) for c in cidrs]
    expected = [
        str(n)
        for version in (4, 6)
        for n in ipaddress.collapse_addresses(n for n in nets if n.version == version)
    ]
    assert cluster_ranges(pods, nodes, cidrs) == expected
    assert cluster_ranges(pd.DataFrame({"ip": []}), [], []) == []
