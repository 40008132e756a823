"""Addresses and address ranges as integers: the one place IP text is parsed for policies.

A span is ``(family, lo, hi)``: IP version 4 or 6 and the first and last address as
integers. The evaluator proves address sets with spans, breadth sorts pods into ipBlocks
with them, and :mod:`recommender.address_sets` computes the ``pub``/``pvt`` ranges.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache

from .model import Address, IPBlock, Network

__all__ = [
    "EVERYTHING",
    "Span",
    "block_spans",
    "collapse",
    "covers",
    "merge",
    "network_span",
    "overlaps",
    "parse_ip",
    "range_spans",
]

Span = tuple[int, int, int]
#: Every IPv4 and every IPv6 address.
EVERYTHING: tuple[Span, ...] = ((4, 0, 2**32 - 1), (6, 0, 2**128 - 1))


@lru_cache(maxsize=65536)
def parse_ip(text: str) -> Address:
    """The address of ``text`` (surrounding blanks and an IPv6 zone index ignored);
    ValueError when it is not one."""
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        if "%" in text:  # IPv6 zone index
            return parse_ip(text.split("%", 1)[0])
        raise ValueError(f"invalid IP address {text!r}") from None


def network_span(network: Network) -> Span:
    return network.version, int(network.network_address), int(network.broadcast_address)


def block_spans(block: IPBlock) -> list[Span]:
    """The spans an ipBlock admits: its CIDR minus every except."""
    version, lo, hi = network_span(block.network)
    holes = sorted(network_span(ex)[1:] for ex in block.excepts)
    out, at = [], lo
    for h_lo, h_hi in holes:
        if h_lo > at:
            out.append((version, at, h_lo - 1))
        at = max(at, h_hi + 1)
    if at <= hi:
        out.append((version, at, hi))
    return out


@lru_cache(maxsize=4096)
def range_spans(ranges: tuple[str, ...]) -> tuple[Span, ...]:
    """The spans of CIDR texts (host bits allowed)."""
    return tuple(network_span(ipaddress.ip_network(r.strip(), strict=False)) for r in ranges)


def merge(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint, non-adjacent ``(lo, hi)`` intervals covering the same addresses."""
    merged: list[list[int]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [(lo, hi) for lo, hi in merged]


def overlaps(a: Sequence[Span], b: Sequence[Span]) -> bool:
    return any(x[0] == y[0] and x[1] <= y[2] and y[1] <= x[2] for x in a for y in b)


def covers(admitted: Sequence[Span], wanted: Sequence[Span]) -> bool:
    """Whether the union of ``admitted`` holds every address of ``wanted``."""
    for version in (4, 6):
        need = sorted((lo, hi) for v, lo, hi in wanted if v == version)
        if not need:
            continue
        have = merge((lo, hi) for v, lo, hi in admitted if v == version)
        for lo, hi in need:
            if not any(m_lo <= lo and hi <= m_hi for m_lo, m_hi in have):
                return False
    return True


def collapse(version: int, nets: Iterable[Network]) -> list[Network]:
    """What ``ipaddress.collapse_addresses`` returns (the fewest networks covering the same
    addresses, in address order), from merged integer spans: its pairwise merging of
    network objects took 0.3 s for the 4,543 pod and node ranges of 2,000 workloads."""
    bits = 32 if version == 4 else 128
    kind = ipaddress.IPv4Network if version == 4 else ipaddress.IPv6Network
    spans = (
        (int(n.network_address), int(n.network_address) + (1 << (bits - n.prefixlen)) - 1)
        for n in nets
    )
    out: list[Network] = []
    for lo, hi in merge(spans):
        while lo <= hi:
            aligned = lo & -lo if lo else 1 << bits
            size = min(aligned, 1 << ((hi - lo + 1).bit_length() - 1))
            out.append(kind((lo, bits - size.bit_length() + 1)))
            lo += size
    return out
