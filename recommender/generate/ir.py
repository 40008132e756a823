"""The policy IR: what a proposal says, before it is rendered as YAML of any kind.

Renderers (``k8s.py`` today; Calico staged and Cilium later) read only this, so every
output kind states the same rules with the same evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    range (``excepts`` carved out) standing for the observed addresses in ``members``;
    ``fqdn``: a DNS name (``id``: the name, or a pattern such as ``*.example.com``; lower
    case, no trailing dot) standing for the external addresses observed under it
    (``members``); see :class:`NameEvidence`.
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


def combine_evidence(peer_id: str, evidence: Iterable[Evidence]) -> Evidence:
    """Evidence of several observed (peer, port) pairs standing behind one rule entry."""
    items = list(evidence)
    firsts = [e.first_seen for e in items if e.first_seen is not None]
    lasts = [e.last_seen for e in items if e.last_seen is not None]
    return Evidence(
        peer=peer_id,
        protocol=items[0].protocol,
        port=items[0].port,
        flows=sum(e.flows for e in items),
        first_seen=min(firsts) if firsts else None,
        last_seen=max(lasts) if lasts else None,
        basis=items[0].basis,
        hours=max(e.hours for e in items),
        days=max(e.days for e in items),
    )


@dataclass(frozen=True)
class NameEvidence:
    """What was observed for one ``fqdn`` peer of a workload's egress: why the name is
    admitted, and what it stood for in the window."""

    #: the peer id: a name (``matchName``) or a pattern (``matchPattern``)
    name: str
    #: the observed names it admits (the name itself, or those under the pattern)
    names: tuple[str, ...]
    #: observed addresses reached under it, in address order
    addresses: tuple[str, ...]
    #: "443/TCP", ... in port order
    ports: tuple[str, ...]
    #: DNS answers the workload's pods got that map the names to those addresses (0: only
    #: the flow records' destination names said it)
    answers: int
    flows: int
    first_seen: datetime | None
    last_seen: datetime | None
    #: "name" or "pattern", and why
    kind: str = "name"
    why: str = ""


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
    #: evidence of each ``fqdn`` peer of the egress rules, by peer id order
    names: list[NameEvidence] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"{self.namespace}/{self.name}.yaml"
