"""The policy IR: what a proposal says, before it is rendered as YAML of any kind.

Renderers (``k8s.py`` today; Calico staged and Cilium later) read only this, so every
output kind states the same rules with the same evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, order=True)
class PortSpec:
    protocol: str
    port: int


@dataclass(frozen=True, order=True)
class Peer:
    """One side a rule admits: a workload (by selector) or an exact address."""

    #: "workload" or "address"
    kind: str
    #: "ns/name" for workloads, the canonical IP for addresses
    id: str
    namespace: str | None = None
    match_labels: tuple[tuple[str, str], ...] = ()
    #: endpoint kind of an address peer (external, node, unknown, ...)
    address_kind: str = ""


@dataclass(frozen=True)
class Evidence:
    """What was observed for one (peer, port) of a rule."""

    peer: str
    protocol: str
    port: int
    flows: int
    first_seen: datetime | None
    last_seen: datetime | None
    #: "observed", or "dns" for the resolver allowance every egress workload gets
    basis: str = "observed"


@dataclass
class Rule:
    peers: list[Peer]
    ports: list[PortSpec]
    evidence: list[Evidence] = field(default_factory=list)
    why: str = ""


@dataclass
class PolicyIR:
    namespace: str
    name: str
    #: "workload" or "default-deny"
    role: str
    workload: str | None = None
    workload_kind: str | None = None
    match_labels: dict[str, str] = field(default_factory=dict)
    selector_exact: bool = True
    selector_why: str = ""
    swept_in: tuple[str, ...] = ()
    ingress: list[Rule] = field(default_factory=list)
    egress: list[Rule] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"{self.namespace}/{self.name}.yaml"
