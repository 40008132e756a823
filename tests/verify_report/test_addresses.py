"""Address summaries of the non-pod ends of denied traffic."""

import ipaddress

from recommender.verify_report.addresses import covering_cidrs, summarize_addresses


def test_covering_cidrs_are_the_tightest_cover_within_the_limit():
    addrs = ["10.0.0.1", "10.0.0.2", "192.168.1.1"]
    assert covering_cidrs(addrs, limit=3) == ("10.0.0.1/32", "10.0.0.2/32", "192.168.1.1/32")
    assert covering_cidrs(addrs, limit=2) == ("10.0.0.0/30", "192.168.1.1/32")
    assert covering_cidrs(["2001:db8::1", "2001:db8::3", "10.0.0.1"], limit=2) == (
        "10.0.0.1/32",
        "2001:db8::/126",
    )
    assert covering_cidrs(["not an ip"]) == ()


def test_covering_cidrs_cover_every_address_of_a_scattered_set():
    addrs = [f"{a}.{b}.7.9" for a in (3, 52, 99, 140, 203) for b in (1, 90, 200)]
    cidrs = covering_cidrs(addrs, limit=4)
    assert 1 <= len(cidrs) <= 4
    nets = [ipaddress.ip_network(c) for c in cidrs]
    assert all(any(ipaddress.ip_address(a) in n for n in nets) for a in addrs)
    # one fewer CIDR is not enough at the tightest budget that fits: the cover with a limit
    # of 4 is no wider than the one with a limit of 2
    wide = [ipaddress.ip_network(c) for c in covering_cidrs(addrs, limit=2)]
    assert sum(n.num_addresses for n in nets) <= sum(n.num_addresses for n in wide)


def test_address_summary_counts_public_private_networks_and_named_ends():
    summary = summarize_addresses(
        "external", ["8.8.8.8", "8.8.4.4", "10.1.2.3", "fd00::1", "2001:db8::1", "pub", None]
    )
    assert (summary.count, summary.public, summary.private) == (5, 3, 2)
    assert summary.networks == 4  # 8.8/16 (twice), 10.1/16, fd00::/32, 2001:db8::/32
    assert summary.other == ("?", "pub")
    text = summary.describe()
    assert "5 addresses (3 public, 2 private) from 4 networks" in text
    assert "2 named ends without an address: ?, pub" in text
