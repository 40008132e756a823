"""Address parsing and integer spans."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.netpol.ipranges import (
    block_spans,
    collapse,
    covers,
    merge,
    overlaps,
    parse_ip,
    range_spans,
)
from recommender.netpol.model import IPBlock


def test_parse_ip_strips_blanks_and_zone():
    assert parse_ip(" 10.0.0.1 ") == ipaddress.ip_address("10.0.0.1")
    # the zone never changes the address blocks compare against
    assert int(parse_ip("fe80::1%eth0")) == int(ipaddress.ip_address("fe80::1"))
    with pytest.raises(ValueError, match="invalid IP address 'nope'"):
        parse_ip("nope")


def test_block_spans_cut_the_excepts_out():
    net = ipaddress.ip_network
    block = IPBlock(net("10.0.0.0/24"), (net("10.0.0.64/26"), net("10.0.0.192/26")))
    base = int(ipaddress.ip_address("10.0.0.0"))
    assert block_spans(block) == [(4, base, base + 63), (4, base + 128, base + 191)]


def test_merge_joins_overlapping_and_adjacent_intervals():
    assert merge([(5, 9), (0, 3), (4, 4), (20, 30), (25, 26)]) == [(0, 9), (20, 30)]


def test_covers_and_overlaps():
    wanted = range_spans(("10.0.0.0/24",))
    halves = range_spans(("10.0.0.0/25", "10.0.0.128/25"))
    assert covers(halves, wanted) is True
    assert covers(halves[:1], wanted) is False
    assert overlaps(halves[:1], wanted) is True
    assert overlaps(range_spans(("::/0",)), wanted) is False


_NETS_V4 = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)).map(
    lambda t: ipaddress.IPv4Network((t[0] >> (32 - t[1]) << (32 - t[1]) if t[1] else 0, t[1]))
)
_NETS_V6 = st.tuples(st.integers(0, 2**128 - 1), st.integers(0, 128)).map(
    lambda t: ipaddress.IPv6Network((t[0] >> (128 - t[1]) << (128 - t[1]) if t[1] else 0, t[1]))
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_NETS_V4, max_size=40), st.lists(_NETS_V6, max_size=40))
def test_collapse_is_ipaddress_collapse_addresses(v4, v6):
    assert collapse(4, v4) == list(ipaddress.collapse_addresses(v4))
    assert collapse(6, v6) == list(ipaddress.collapse_addresses(v6))


def test_collapse_merges_neighbours_into_their_common_network_and_keeps_the_rest():
    nets = [ipaddress.ip_network(n) for n in ("10.0.0.2/32", "10.0.0.3/32", "10.0.0.1/32")]
    nets += [ipaddress.ip_network("10.0.0.8/29"), ipaddress.ip_network("10.0.0.12/30")]
    assert [str(n) for n in collapse(4, nets)] == ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.8/29"]
    assert [str(n) for n in collapse(4, [ipaddress.ip_network("0.0.0.0/0")])] == ["0.0.0.0/0"]
    assert collapse(6, []) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 300), max_size=60))
def test_collapse_of_dense_addresses_is_ipaddress_collapse_addresses(offsets):
    nets = [ipaddress.IPv4Network((0x0A000000 + o, 32)) for o in offsets]
    assert collapse(4, nets) == list(ipaddress.collapse_addresses(nets))
