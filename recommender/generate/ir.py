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
    #: inclusive upper end of a range (``endPort``), when several observed ports are merged
    end_port: int | None = None
    #: container port name to write instead of the number (``--named-ports``)
    name: str | None = None

    def numbers(self) -> range:
        return range(self.port, (self.end_port or self.port) + 1)


@dataclass(frozen=True, order=True)
class Peer:
    """One side a rule admits.

    ``workload``: one workload by its exact selector; ``selector``: several workloads that
    one selector picks exactly (``members``); ``address``: one exact address; ``cidr``: a
    range (``excepts`` carved out) standing for the observed addresses in ``members``.
    """

    kind: str
    #: "ns/name" for workloads, the canonical IP or CIDR for addresses
    id: str
    namespace: str | None = None
    match_labels: tuple[tuple[str, str], ...] = ()
    #: endpoint kind of an address peer (external, node, unknown, ...)
    address_kind: str = ""
    excepts: tuple[str, ...] = ()
    #: ``matchExpressions`` on pod labels: (key, operator, values), operator In, NotIn or
    #: DoesNotExist
    match_expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    #: namespaces picked by name (`kubernetes.io/metadata.name In [...]`), for a
    #: selector peer spanning several namespaces; empty = just ``namespace``
    namespaces: tuple[str, ...] = ()
    #: what the peer stands for: member workloads, or observed addresses of a CIDR
    members: tuple[str, ...] = ()


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
    #: distinct clock hours and days with traffic
    hours: int = 0
    days: int = 0


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
    #: ``matchExpressions`` of the podSelector: (key, operator, values), only when no label
    #: set alone picks exactly the workload's pods
    match_expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    selector_exact: bool = True
    selector_why: str = ""
    swept_in: tuple[str, ...] = ()
    ingress: list[Rule] = field(default_factory=list)
    egress: list[Rule] = field(default_factory=list)
    #: workloads this policy stands for (more than one when they share a role)
    members: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return f"{self.namespace}/{self.name}.yaml"
