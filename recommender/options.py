"""Knobs of policy synthesis, in one place so the CLI, notebooks and benchmarks agree.

The defaults give the exact proposal: breadth 0 at the workload level (any replica of an
observed workload stands for the workload), exact addresses for external peers, every
observed connection kept.

External egress by DNS name (``external="fqdn"``, for output kinds that can state it:
Cilium ``toFQDNs``): an external address the flow logs name becomes a peer per name
(``matchName``), admitting exactly the names observed, whatever addresses they resolve to
later; that is breadth a NetworkPolicy ipBlock does not have, bounded by the names. A
``matchPattern`` (``*.example.com``) admits every name one label below its parent, which is
unbounded breadth: it is written only when asked (``fqdn_pattern_min``), and only where that
many distinct names under the same parent were observed (the evidence the pattern needs),
never directly under a top-level domain.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

#: How external egress is stated: "cidr" (ipBlocks; every output kind) or "fqdn" (DNS names
#: where the logs give them; kinds with FQDN support).
EXTERNAL_CHOICES = ("cidr", "fqdn")
#: Options added after report version 1: report.json names them only when set otherwise
#: than by default, so a proposal that does not use them reports what it always did.
_LATER_OPTIONS = ("external", "fqdn_pattern_min")


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
    #: External egress by address ("cidr") or, where the logs name it, by DNS name ("fqdn").
    external: str = "cidr"
    #: With "fqdn": write ``*.<parent>`` for the names one workload reached under one parent
    #: domain when at least this many distinct names were observed there; None: names only.
    fqdn_pattern_min: int | None = None

    def __post_init__(self) -> None:
        if self.generalize not in ("exact", "role"):
            raise ValueError(f"generalize must be 'exact' or 'role', not {self.generalize!r}")
        if self.breadth_budget < 0 or self.min_flows < 1:
            raise ValueError("breadth_budget must be >= 0 and min_flows >= 1")
        if self.cidr_budget is not None and self.cidr_budget < 0:
            raise ValueError("cidr_budget must be >= 0")
        if self.external not in EXTERNAL_CHOICES:
            raise ValueError(f"external must be 'cidr' or 'fqdn', not {self.external!r}")
        if self.fqdn_pattern_min is not None and self.fqdn_pattern_min < 2:
            raise ValueError("fqdn_pattern_min must be >= 2 (a pattern needs several names)")

    def reported(self) -> dict[str, Any]:
        """The options as report.json lists them: every option, except those added later
        (external, fqdn_pattern_min) while they keep their default."""
        defaults = {f.name: f.default for f in fields(self)}
        return {k: v for k, v in vars(self).items() if k not in _LATER_OPTIONS or v != defaults[k]}
