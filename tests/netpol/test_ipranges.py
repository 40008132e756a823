"""Address parsing and integer spans."""

from __future__ import annotations

import ipaddress

import pytest

from recommender.netpol.ipranges import (
    block_spans,
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
