"""Named address sets: peers that a log names by a set, not by an address.

Calico's aggregated flow logs (level 2 and up, the default for allowed flows) and Goldmane
fold every address that is not a Calico endpoint into ``pub`` (public) or ``pvt``
(private); NetworkSets and host endpoints may be named without an address too. In the
connections table such a peer keeps its name where an address would be (``src_ip`` /
``dst_ip``): an id that is not an IP address is a name.

``pub`` and ``pvt`` can be written as ipBlocks, and proven: the evaluator
(:mod:`recommender.netpol.evaluator`) judges an endpoint that stands for a set of ranges as allowed
only when every address of the set is admitted. Other names (a NetworkSet, a host
endpoint) cannot be expressed in a NetworkPolicy: their traffic is reported, at risk.

Both the generator and the evaluator take the ranges from here, so the public rule
admits exactly the set the proof checks: ``pub`` is every address outside the private,
shared, loopback and link-local ranges and outside the known cluster ranges (a cluster
address would have been a workload or host endpoint, not ``net``); ``pvt`` is the private
and shared ranges minus the known cluster ranges.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .netpol.ipranges import collapse, merge, range_spans

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PRIVATE",
    "PRIVATE_V4",
    "PRIVATE_V6",
    "PUBLIC",
    "SET_NAMES",
    "PVT",
    "PUB",
    "cluster_ranges",
    "expressible",
    "is_address",
    "set_ranges",
    "subtract",
]

#: Never public: RFC 1918, shared address space (RFC 6598), loopback, link-local.
PRIVATE_V4 = (
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
)
#: Unique-local, link-local, loopback.
PRIVATE_V6 = ("fc00::/7", "fe80::/10", "::1/128")
#: Where private networks live (Calico ``pvt``): RFC 1918, shared space, unique-local.
PRIVATE = ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
#: Both families, whole.
PUBLIC = ("0.0.0.0/0", "::/0")

PUB = "pub"
PVT = "pvt"
#: The named sets NetworkPolicy can express, with a reader's label.
SET_NAMES = {PUB: "the public internet (Calico pub)", PVT: "private networks (Calico pvt)"}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=65536)
def is_address(text: object) -> bool:
    """Whether an endpoint id is an IP address (else it is a name, or missing)."""
    if not isinstance(text, str):
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def expressible(name: str) -> bool:
    """Whether a named set can become an ipBlock (``pub``, ``pvt``)."""
    return name in SET_NAMES


def _intervals(texts: Iterable[str], version: int) -> list[tuple[int, int]]:
    """Merged, sorted [lo, hi] integer ranges of the networks of one family."""
    spans = range_spans(tuple(str(t) for t in texts))
    return merge((lo, hi) for v, lo, hi in spans if v == version)


def subtract(keep: Iterable[str], remove: Iterable[str]) -> tuple[str, ...]:
    """The networks of ``keep`` minus those of ``remove`` (host bits allowed), as the fewest
    CIDRs, IPv4 before IPv6, in address order."""
    keep, remove = list(keep), list(remove)
    out: list[str] = []
    for version, cls in ((4, ipaddress.IPv4Address), (6, ipaddress.IPv6Address)):
        holes = _intervals(remove, version)
        i = 0
        for lo, hi in _intervals(keep, version):
            at = lo
            while i < len(holes) and holes[i][1] < lo:
                i += 1
            j = i
            while j < len(holes) and holes[j][0] <= hi:
                if holes[j][0] > at:
                    out += _cidrs(cls, at, holes[j][0] - 1)
                at = max(at, holes[j][1] + 1)
                j += 1
            if at <= hi:
                out += _cidrs(cls, at, hi)
    return tuple(out)


def _cidrs(cls: type, lo: int, hi: int) -> list[str]:
    return [str(n) for n in ipaddress.summarize_address_range(cls(lo), cls(hi))]


@lru_cache(maxsize=256)
def _ranges(name: str, cluster: tuple[str, ...]) -> tuple[str, ...]:
    if name == PUB:
        return subtract(PUBLIC, (*PRIVATE_V4, *PRIVATE_V6, *cluster))
    if name == PVT:
        return subtract(PRIVATE, cluster)
    raise ValueError(f"{name!r} is not an address set NetworkPolicy can express")


def set_ranges(name: str, cluster: Iterable[str] = ()) -> tuple[str, ...]:
    """The CIDRs a named set stands for, given the known cluster ranges (pod and node
    addresses, pod CIDRs): ``pub`` or ``pvt``; ValueError for any other name."""
    return _ranges(name, tuple(sorted(set(cluster))))


def _ips(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        return [str(v) for v in value if v is not None]
    except TypeError:  # NaN and other scalars: no address
        return []


def cluster_ranges(
    pods: pd.DataFrame, nodes_ips: Collection[str], pod_cidrs: Collection[str]
) -> list[str]:
    """Every known pod address (``ips`` or ``ip`` column) and node address as ``/32`` or
    ``/128``, plus ``pod_cidrs`` (host bits allowed), collapsed into the fewest networks and
    listed IPv4 before IPv6 in address order. Unparseable pod or node addresses are skipped
    (they cannot appear in an ipBlock either); an unparseable CIDR raises ``ValueError``."""
    nets: list[Network] = []
    candidates: list[str] = list(nodes_ips or ())
    for column in ("ips", "ip"):
        if column in pods.columns:
            for value in pods[column]:
                candidates.extend(_ips(value))
    for text in candidates:
        try:
            addr = ipaddress.ip_address(str(text).strip())
        except ValueError:
            continue
        if not getattr(addr, "scope_id", None):  # an address with a zone is no ipBlock
            nets.append(ipaddress.ip_network(addr))
    for cidr in pod_cidrs or ():
        nets.append(ipaddress.ip_network(str(cidr).strip(), strict=False))
    out: list[Network] = []
    for version in (4, 6):
        out.extend(collapse(version, (n for n in nets if n.version == version)))
    return [str(n) for n in out]
