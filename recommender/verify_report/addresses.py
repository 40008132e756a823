"""The non-pod ends of denied traffic in a few figures: counts, public or private, networks
and the CIDRs that cover them."""

from __future__ import annotations

import ipaddress
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..address_sets import PRIVATE_V4, PRIVATE_V6
from ..netpol.ipranges import parse_ip, range_spans
from ..netpol.model import Address
from .words import plural

__all__ = ["MAX_COVER", "MAX_TEXT_NAMES", "AddressSummary", "covering_cidrs", "summarize_addresses"]

#: At most this many CIDRs cover the addresses of one group (the tightest such cover).
MAX_COVER = 4
#: Names listed as text (``--json`` has them all).
MAX_TEXT_NAMES = 10

_PRIVATE = range_spans((*PRIVATE_V4, *PRIVATE_V6))
_BITS = {4: 32, 6: 128}
_NETWORK = {4: ipaddress.IPv4Network, 6: ipaddress.IPv6Network}
#: Prefix of a "network" when counting how spread addresses are (as the generator counts
#: the sources of a public-facing port).
_NETWORK_PREFIX = {4: 16, 6: 32}


def _parse(ip: Any) -> Address | None:
    """The address of ``ip``; None when it is none, or carries an IPv6 zone (an address of
    some interface, not of a place)."""
    if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return ip
    text = str(ip)
    if "%" in text:
        return None
    try:
        return parse_ip(text)
    except ValueError:
        return None


def _enclosing(version: int, points: list[int], lo: int, hi: int) -> tuple[int, ...]:
    """(unobserved, version, network, host bits, lo, hi): the smallest CIDR around
    ``points[lo:hi]`` (sorted) and how many addresses it holds that were not observed."""
    first, last = points[lo], points[hi - 1]
    host = (first ^ last).bit_length()
    size = 1 << host
    return (size - (hi - lo), version, first & ~(size - 1), host, lo, hi)


def _split(
    current: list[tuple[int, ...]], points: dict[int, list[int]], most: int
) -> list[tuple[int, ...]]:
    """The cover at budget ``most - 1``: every CIDR with ``most`` unobserved addresses or
    more split in halves, down to below it."""
    split, stack = [], list(current)
    while stack:
        node = stack.pop()
        if node[0] < most:
            split.append(node)
            continue
        _, version, net, host, lo, hi = node
        mid = bisect_left(points[version], net + (1 << (host - 1)), lo, hi)
        stack += [
            _enclosing(version, points[version], lo, mid),
            _enclosing(version, points[version], mid, hi),
        ]
    return split


def covering_cidrs(addresses: Iterable[Any], limit: int = MAX_COVER) -> tuple[str, ...]:
    """At most ``limit`` (>= 2) CIDRs holding every parseable address, IPv4 before IPv6 in
    address order: the tightest such cover in the sense of the CIDR aggregation of
    :mod:`recommender.generate.external` (each CIDR the smallest around what it covers, split
    in halves while it admits more never-observed addresses than the budget), at the smallest
    budget that needs no more than ``limit`` CIDRs. Found top-down by splitting the CIDRs with
    the most unobserved addresses first: ``limit`` rounds at most, whatever the count."""
    if limit < 2:
        raise ValueError("limit must be at least 2 (one CIDR per address family)")
    family: dict[int, set[int]] = {4: set(), 6: set()}
    for text in addresses:
        addr = _parse(text)
        if addr is not None:
            family[addr.version].add(int(addr))
    points = {v: sorted(found) for v, found in family.items()}
    current = [_enclosing(v, p, 0, len(p)) for v, p in points.items() if p]
    while current:
        most = max(node[0] for node in current)
        if most == 0:
            break
        split = _split(current, points, most)
        if len(split) > limit:
            break
        current = split
    current.sort(key=lambda node: (node[1], node[2]))
    return tuple(
        str(_NETWORK[version]((net, _BITS[version] - host)))
        for _, version, net, host, _, _ in current
    )


@dataclass(frozen=True)
class AddressSummary:
    """The non-pod ends of one group: how many, public or private, and where."""

    kind: str
    #: distinct addresses
    count: int
    public: int
    private: int
    cidrs: tuple[str, ...]
    #: distinct networks they come from: /16 for IPv4, /32 for IPv6
    networks: int = 0
    #: ends whose address does not parse, or that have none (a named set): their names
    other: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = []
        if self.count:
            parts.append(
                f"{plural(self.count, 'address', 'addresses')} ({self.public} public, "
                f"{self.private} private) from {plural(self.networks, 'network')}"
            )
        if self.cidrs:
            parts.append("covering CIDRs " + ", ".join(self.cidrs))
        if self.other:
            shown = ", ".join(self.other[:MAX_TEXT_NAMES])
            more = len(self.other) - MAX_TEXT_NAMES
            parts.append(
                f"{plural(len(self.other), 'named end')} without an address: {shown}"
                + (f" and {more} more" if more > 0 else "")
            )
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "count": self.count,
            "public": self.public,
            "private": self.private,
            "networks": self.networks,
            "cidrs": list(self.cidrs),
            "without_address": list(self.other),
        }


def _missing(ip: Any) -> bool:
    return ip is None or (isinstance(ip, float) and ip != ip)


def summarize_addresses(kind: str, ips: Iterable[Any]) -> AddressSummary:
    """Distinct addresses of one kind: counts, public/private (RFC 1918, CGNAT, loopback,
    link-local, unique-local), networks (/16, IPv6 /32) and the covering CIDRs
    (:func:`covering_cidrs`)."""
    good: set[Address] = set()
    other: set[str] = set()
    for ip in ips:
        addr = None if _missing(ip) else _parse(ip)
        if addr is None:
            other.add("?" if _missing(ip) else str(ip))
        else:
            good.add(addr)
    values = [(a.version, int(a)) for a in good]
    private = sum(1 for v, n in values if any(v == pv and lo <= n <= hi for pv, lo, hi in _PRIVATE))
    networks = {(v, n >> (_BITS[v] - _NETWORK_PREFIX[v])) for v, n in values}
    return AddressSummary(
        kind=kind,
        count=len(good),
        public=len(good) - private,
        private=private,
        cidrs=covering_cidrs(good),
        networks=len(networks),
        other=tuple(sorted(other)),
    )
