"""Knobs of policy synthesis, in one place so the CLI, notebooks and benchmarks agree.

The defaults give the exact proposal: breadth 0 at the workload level (any replica of an
observed workload stands for the workload), exact addresses for external peers, every
observed connection kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class SynthesisOptions:
    #: "exact": workloads share a policy only when that costs no breadth;
    #: "role": workloads with similar traffic may share one, within ``breadth_budget``.
    generalize: str = "exact"
    #: In-cluster breadth (workload pairs x ports) the role merges may add, in total.
    breadth_budget: int = 0
    #: Write a port by its container port name when every destination pod names it alike.
    named_ports: bool = False
    #: Aggregate external addresses into CIDRs admitting at most this many unobserved
    #: addresses each; None keeps exact /32 and /128 addresses.
    cidr_budget: int | None = None
    #: A workload is public-facing when this many distinct internet sources...
    public_min_sources: int = 20
    #: ...spread over at least this many /16 (IPv4) or /32 (IPv6) networks reach it on one
    #: port; it then gets 0.0.0.0/0 (and ::/0) minus private ranges on that port, flagged.
    public_min_networks: int = 8
    #: Leave out connections with fewer flows than this (listed as "left out").
    min_flows: int = 1
    #: Leave out connections observed over a shorter span (last seen - first seen).
    min_age: timedelta | None = None
    #: Admit observed node sources by their addresses (exact ipBlocks): traffic a
    #: LoadBalancer or NodePort SNATs on another node arrives from that node's address.
    allow_node_sources: bool = False

    def __post_init__(self) -> None:
        if self.generalize not in ("exact", "role"):
            raise ValueError(f"generalize must be 'exact' or 'role', not {self.generalize!r}")
        if self.breadth_budget < 0 or self.min_flows < 1:
            raise ValueError("breadth_budget must be >= 0 and min_flows >= 1")
        if self.cidr_budget is not None and self.cidr_budget < 0:
            raise ValueError("cidr_budget must be >= 0")
