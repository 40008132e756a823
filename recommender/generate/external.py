"""External peers: exact addresses, public-facing ports, and CIDRs within a breadth budget.

For one workload, :func:`plan_external` turns the external addresses observed per
(direction, protocol, port) into the ipBlocks that admit them:

* **Exact** (the default): one ``/32`` or ``/128`` per observed address.
* **Public-facing**: on an *ingress* port reached by at least ``public_min_sources``
  distinct internet addresses spread over at least ``public_min_networks`` networks (``/16``
  for IPv4, ``/32`` for IPv6, both families counted together), one block per family that
  was seen: ``0.0.0.0/0`` except the private, shared (CGNAT), loopback and link-local ranges,
  and ``::/0`` except unique-local, link-local and loopback, both also excepting every
  forbidden (pod, node, cluster) range. Only addresses such a block would admit count as
  internet sources. Egress never becomes public by this rule.
* **Aggregated** (``cidr_budget=N``): the addresses a public block does not stand for are
  covered by the fewest CIDRs that each admit at most ``N`` never-observed addresses.

Aggregation, exactly: the observed addresses of one family are the leaves of the binary
trie of prefixes. A set of addresses is covered either by its smallest enclosing CIDR (the
prefix shared by its lowest and highest address) or by covering each half of that CIDR
separately; any cover with two or more blocks splits that way, because a block holding
addresses from both halves contains the whole CIDR. The smallest enclosing CIDR is taken
whenever it is allowed (at most ``N`` unobserved, no forbidden address inside, and, when a
public block exists, nothing the public block already admits), else both halves are solved
the same way. Allowed-ness is monotone (a sub-prefix of an allowed prefix is allowed), so
this yields the fewest CIDRs, and among covers with that many CIDRs the fewest unobserved
addresses (each block is the smallest CIDR around what it covers). It is deterministic,
needs no search, and its recursion is at most 32 (IPv4) or 128 (IPv6) deep.

Forbidden ranges never become excepts of an aggregate: a forbidden address inside a
candidate CIDR only makes the aggregation split further. Aggregates stay plain CIDRs that
read at a glance, and their breadth is simply their size minus what was observed. Excepts
appear on public blocks only, where the excluded ranges are the point. An observed address
that is itself forbidden (say, an address of a pod range no known pod held) keeps its exact
block, so that coverage stays whole, and is never merged with anything.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..address_sets import PRIVATE, PRIVATE_V4, PRIVATE_V6, PUB, PVT
from ..netpol.ipranges import collapse, merge
from ..options import SynthesisOptions

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Key = tuple[str, str, int]

_PRIVATE = {4: PRIVATE_V4, 6: PRIVATE_V6}
_BITS = {4: 32, 6: 128}
#: Prefix that defines a "network" when counting how spread the sources are.
_NETWORK_PREFIX = {4: 16, 6: 32}
_DIRECTIONS = ("ingress", "egress")
_FORBIDDEN_WHY = "observed address inside a pod, node or cluster range: kept exact, never merged"


@dataclass(frozen=True)
class ExternalBlock:
    #: canonical network text, e.g. "0.0.0.0/0", "93.184.216.0/29", "93.184.216.34/32"
    cidr: str
    #: canonical networks, in address order (IPv4 before IPv6); empty unless kind "public"
    excepts: tuple[str, ...]
    #: observed addresses it stands for, in address order
    covers: tuple[str, ...]
    #: addresses admitted that were never observed (0 for exact)
    unobserved: int
    #: "exact" | "aggregate" | "public"
    kind: str
    #: one sentence for the report
    why: str

    def ip_block(self) -> dict[str, Any]:
        """The NetworkPolicy ``ipBlock`` (``except`` only when there is one)."""
        block: dict[str, Any] = {"cidr": self.cidr}
        if self.excepts:
            block["except"] = list(self.excepts)
        return block


class _Intervals:
    """Sorted, disjoint, non-adjacent integer ranges ``[lo, hi]`` of one family."""

    def __init__(self, ranges: Iterable[tuple[int, int]]) -> None:
        merged = merge(ranges)
        self.starts = [lo for lo, _ in merged]
        self.ends = [hi for _, hi in merged]

    def hits(self, lo: int, hi: int) -> bool:
        """Whether any range overlaps ``[lo, hi]``."""
        i = bisect_right(self.starts, hi) - 1
        return i >= 0 and self.ends[i] >= lo

    def complement(self, bits: int) -> list[tuple[int, int]]:
        out, at = [], 0
        for lo, hi in zip(self.starts, self.ends, strict=True):
            if lo > at:
                out.append((at, lo - 1))
            at = hi + 1
        if at <= (1 << bits) - 1:
            out.append((at, (1 << bits) - 1))
        return out


def _span(net: Network) -> tuple[int, int]:
    lo = int(net.network_address)  # broadcast_address is a slow cached property
    return lo, lo + (1 << (net.max_prefixlen - net.prefixlen)) - 1


def _parse_network(text: str) -> Network:
    """``ipaddress.ip_network(text, strict=False)``, with its address/prefix-length form
    taken apart here: its own parsing of the thousands of pod and node ranges took 0.17 s
    at 2,000 workloads. Any other form (a netmask, a zone) is left to ``ip_network``."""
    address, _, prefix = text.partition("/")
    if "%" not in address and (not prefix or (prefix.isascii() and prefix.isdigit())):
        try:
            addr = ipaddress.ip_address(address)
        except ValueError:
            addr = None
        if addr is not None:
            bits = _BITS[addr.version]
            length = int(prefix) if prefix else bits
            if length <= bits:
                host = bits - length
                return _network(addr.version, int(addr) >> host << host, length)
    return ipaddress.ip_network(text, strict=False)


def _parse_address(text: Any) -> Address:
    addr = ipaddress.ip_address(str(text).strip())
    if isinstance(addr, ipaddress.IPv6Address) and addr.scope_id:
        raise ValueError(f"{text!r}: an address with a zone cannot be an ipBlock")
    return addr


class Forbidden:
    """Forbidden addresses and ranges by family (4, 6), collapsed, with what every plan
    derives from them.

    Parse once per proposal and hand it to every :func:`plan_external` call: the list holds
    every pod and node address, so parsing and merging it per workload and port made
    planning grow with keys x pods (2.5 s of 4.9 s of synthesis at 2,000 workloads).
    """

    def __init__(self, nets: dict[int, list[Network]]) -> None:
        self.nets = nets
        self.intervals = {v: _Intervals(_span(n) for n in ns) for v, ns in nets.items()}
        self._excepts: dict[int, list[Network]] = {}
        self._except_spans: dict[int, _Intervals] = {}

    @classmethod
    def parse(cls, items: Collection[str]) -> Forbidden:
        """Addresses or CIDRs (host bits allowed)."""
        by_family: dict[int, list[Network]] = {4: [], 6: []}
        for item in items:
            net = _parse_network(str(item).strip())
            by_family[net.version].append(net)
        return cls({v: collapse(v, nets) for v, nets in by_family.items()})

    def with_private(self, version: int) -> list[Network]:
        """The private ranges and the forbidden ones of a family, collapsed: what a public
        block excepts."""
        if version not in self._excepts:
            nets = [ipaddress.ip_network(c) for c in _PRIVATE[version]] + self.nets[version]
            self._excepts[version] = collapse(version, nets)
            self._except_spans[version] = _Intervals(_span(n) for n in self._excepts[version])
        return self._excepts[version]

    def excepted(self, addr: Address) -> bool:
        """Whether a public block excepts ``addr`` (private or forbidden)."""
        self.with_private(addr.version)
        return self._except_spans[addr.version].hits(int(addr), int(addr))


class _Blocked:
    """Where no aggregate may reach: the forbidden ranges, and what range blocks admit."""

    def __init__(self, forbidden: _Intervals, admitted: Iterable[tuple[int, int]]) -> None:
        self.forbidden = forbidden
        self.admitted = _Intervals(admitted)

    def hits(self, lo: int, hi: int) -> bool:
        return self.forbidden.hits(lo, hi) or self.admitted.hits(lo, hi)


def _network(version: int, value: int, prefixlen: int) -> Network:
    if version == 4:
        return ipaddress.IPv4Network((value, prefixlen))
    return ipaddress.IPv6Network((value, prefixlen))


def _address(version: int, value: int) -> str:
    return str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value))


def _aggregate(
    points: list[int], bits: int, budget: int, blocked: _Blocked
) -> list[tuple[int, int, int, int]]:
    """Fewest CIDRs over sorted distinct ``points`` admitting <= ``budget`` unobserved each.

    Returns (network, prefixlen, index of first covered point, index past the last).
    """
    out: list[tuple[int, int, int, int]] = []

    def solve(lo: int, hi: int) -> None:
        first, last = points[lo], points[hi - 1]
        if first == last:
            out.append((first, bits, lo, hi))
            return
        host_bits = (first ^ last).bit_length()
        size = 1 << host_bits
        net = first & ~(size - 1)
        if size - (hi - lo) <= budget and not blocked.hits(net, net + size - 1):
            out.append((net, bits - host_bits, lo, hi))
            return
        mid = bisect_left(points, net + size // 2, lo, hi)
        solve(lo, mid)
        solve(mid, hi)

    if points:
        solve(0, len(points))
    return out


def _exact(version: int, value: int, why: str = "observed address") -> ExternalBlock:
    net = _network(version, value, _BITS[version])
    return ExternalBlock(str(net), (), (_address(version, value),), 0, "exact", why)


def _public_blocks(
    addrs: list[Address],
    forbidden: Forbidden,
    options: SynthesisOptions,
    *,
    named: bool = False,
) -> dict[int, tuple[ExternalBlock, _Intervals]]:
    """Public blocks by family when ``addrs`` look like internet clients, else {}.

    ``named``: the log named the peer ``pub`` (Calico's aggregated public addresses): the
    public blocks of both families are needed whatever was seen; the first one stands for
    ``pub`` in its ``covers``."""
    excepts: dict[int, list[Network]] = {}
    for version in (4, 6):
        collapsed = forbidden.with_private(version)
        if all(n.prefixlen > 0 for n in collapsed):  # else the family has no internet
            excepts[version] = collapsed
    internet: dict[int, list[Address]] = {4: [], 6: []}
    for addr in addrs:
        if addr.version in excepts and not forbidden.excepted(addr):
            internet[addr.version].append(addr)
    sources = internet[4] + internet[6]
    networks = {
        ipaddress.ip_network((a, _NETWORK_PREFIX[a.version]), strict=False) for a in sources
    }
    if named:
        why = (
            f"the log names this peer {PUB} (Calico folds every public address into it): "
            "the public internet, all but private, loopback, link-local and cluster ranges"
        )
    elif len(sources) < options.public_min_sources or len(networks) < options.public_min_networks:
        return {}
    else:
        why = (
            f"{len(sources)} distinct internet clients over {len(networks)} networks "
            "(/16 IPv4, /32 IPv6): public-facing, so clients not seen yet are admitted too "
            "(all but private, loopback, link-local and cluster ranges)"
        )
    out = {}
    marker = named
    for version in (4, 6):
        if version not in excepts or not (internet[version] or named):
            continue
        bits = _BITS[version]
        ex = excepts[version]
        admitted = (1 << bits) - sum(n.num_addresses for n in ex)
        covers = tuple(str(a) for a in internet[version])
        if marker:
            covers, marker = (PUB, *covers), False
        block = ExternalBlock(
            cidr=str(_network(version, 0, 0)),
            excepts=tuple(str(n) for n in ex),
            covers=covers,
            unobserved=admitted - len(internet[version]),
            kind="public",
            why=why,
        )
        inside = _Intervals(_span(n) for n in ex).complement(bits)
        out[version] = (block, _Intervals(inside))
    return out


def _private_blocks(
    addrs: list[Address], forbidden: Forbidden
) -> list[tuple[ExternalBlock, _Intervals]]:
    """The blocks of ``pvt`` (Calico's aggregated private addresses): each private range
    minus the cluster ranges inside it (a range the cluster fills is left out); the first
    block stands for ``pvt`` in its ``covers``, each covers the observed addresses in it."""
    why = (
        f"the log names this peer {PVT} (Calico folds every private address into it): "
        "every private range minus the known pod, node and cluster ranges; broad"
    )
    out = []
    marker = True
    for cidr in PRIVATE:
        net = ipaddress.ip_network(cidr)
        inside = [f for f in forbidden.nets[net.version] if f.overlaps(net)]
        if any(net.subnet_of(f) for f in inside):  # type: ignore[arg-type]
            continue  # the cluster fills the whole range
        holes = collapse(net.version, inside)
        spans = _Intervals(_span(h) for h in holes)
        seen = [
            a
            for a in addrs
            if a.version == net.version and a in net and not spans.hits(int(a), int(a))
        ]
        covers = tuple(str(a) for a in seen)
        if marker:
            covers, marker = (PVT, *covers), False
        size = net.num_addresses - sum(h.num_addresses for h in holes)
        block = ExternalBlock(
            str(net), tuple(str(h) for h in holes), covers, size - len(seen), "private", why
        )
        lo, hi = _span(net)
        outside = _Intervals([(lo, hi)]).complement(_BITS[net.version])
        outside += zip(spans.starts, spans.ends, strict=True)
        out.append((block, _Intervals(_Intervals(outside).complement(_BITS[net.version]))))
    return out


def _plan_one(
    key: Key,
    observed: Collection[str],
    forbidden: Forbidden,
    options: SynthesisOptions,
) -> list[ExternalBlock]:
    names = {a for a in observed if a in (PUB, PVT)}  # any other name is no address: ValueError
    addrs = sorted(
        {_parse_address(a) for a in observed if a not in names},
        key=lambda a: (a.version, int(a)),
    )
    blocks: list[ExternalBlock] = []
    public = (
        _public_blocks(addrs, forbidden, options, named=PUB in names)
        if key[0] == "ingress" or PUB in names
        else {}
    )
    private = _private_blocks(addrs, forbidden) if PVT in names else []
    for version in (4, 6):
        bits = _BITS[version]
        admitted_ranges: list[tuple[int, int]] = []
        covered: set[str] = set()
        ranged = [public[version]] if version in public else []
        ranged += [(b, a) for b, a in private if ipaddress.ip_network(b.cidr).version == version]
        for block, admitted in ranged:
            blocks.append(block)
            covered |= set(block.covers)
            # What a range block admits is off limits for aggregates: blocks stay disjoint.
            admitted_ranges += zip(admitted.starts, admitted.ends, strict=True)
        blocked = _Blocked(forbidden.intervals[version], admitted_ranges)
        rest = [a for a in addrs if a.version == version and str(a) not in covered]
        points = []
        for addr in rest:
            if blocked.hits(int(addr), int(addr)):
                blocks.append(_exact(version, int(addr), _FORBIDDEN_WHY))
            else:
                points.append(int(addr))
        if options.cidr_budget is None:
            blocks.extend(_exact(version, p) for p in points)
            continue
        for net, prefixlen, lo, hi in _aggregate(points, bits, options.cidr_budget, blocked):
            if prefixlen == bits:
                blocks.append(_exact(version, net))
                continue
            covers = tuple(_address(version, p) for p in points[lo:hi])
            unobserved = (1 << (bits - prefixlen)) - len(covers)
            why = (
                f"{len(covers)} observed addresses; admits {unobserved} never observed "
                f"(budget {options.cidr_budget} per CIDR)"
            )
            blocks.append(
                ExternalBlock(
                    str(_network(version, net, prefixlen)), (), covers, unobserved, "aggregate", why
                )
            )
    blocks.sort(key=_block_order)
    return blocks


def _block_order(block: ExternalBlock) -> tuple[int, int, int]:
    net = ipaddress.ip_network(block.cidr)
    return net.version, int(net.network_address), net.prefixlen


def plan_external(
    addresses: Mapping[Key, Collection[str]],
    *,
    options: SynthesisOptions,
    forbidden: Collection[str] | Forbidden = (),
) -> dict[Key, list[ExternalBlock]]:
    """The ipBlocks that admit the external ``addresses`` one workload was observed with.

    ``addresses`` maps (direction "ingress"/"egress", protocol, port) to observed external
    IPs; ``forbidden`` holds pod, node and cluster addresses or CIDRs that no public or
    aggregated block may admit. Every observed address is admitted by exactly one block of
    its key; blocks of a key are disjoint and listed IPv4 before IPv6, in address order.
    Keys come back sorted, each with its (possibly empty) list. Raises ``ValueError`` for a
    malformed address, forbidden entry or direction.
    """
    parsed = forbidden if isinstance(forbidden, Forbidden) else Forbidden.parse(forbidden)
    plan: dict[Key, list[ExternalBlock]] = {}
    for key in sorted(addresses):
        if key[0] not in _DIRECTIONS:
            raise ValueError(f"direction must be 'ingress' or 'egress', not {key[0]!r}")
        plan[key] = _plan_one(key, addresses[key], parsed, options)
    return plan
