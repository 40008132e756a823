"""Workload connections -> minimal exact policies (the IR).

One policy per workload (or per role: workloads that share a policy, see
:mod:`recommender.roles`), isolating it in both directions, plus a default-deny per
namespace. Rules group peers that share the same port set, so each rule admits exactly
peers x ports that were observed (breadth 0); then peers one selector picks exactly are
merged, runs of observed ports become ranges, and ports may be written by name. Every
workload that gets egress also gets DNS (UDP and TCP 53) to the resolver actually
observed serving DNS. External peers are exact addresses unless the options allow CIDRs or
a workload is public-facing. Node sources (kubelet probes, host-network peers) get no
rule: they are reported instead, and so are connections left out as noise.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..address_sets import SET_NAMES, cluster_ranges, expressible, is_address
from ..options import SynthesisOptions
from ..resolvers import DNS_PORT, find_resolvers
from ..roles import Role, find_roles
from ..selectors import Selection
from ..system_namespaces import is_system_namespace
from .external import ExternalBlock, Forbidden, plan_external
from .fqdn import Names, address_names, fqdn_entries, names_behind, split_named
from .ir import Evidence, NameEvidence, Peer, PolicyIR, PortSpec, Rule, combine_evidence
from .noise import LeftOut, split_noise
from .peers import PeerIndex, merge_peers
from .ports import compact_ports, name_ports

#: Where the resolver is assumed to be when no DNS server was observed.
DEFAULT_RESOLVER = ("kube-system", (("k8s-app", "kube-dns"),))
DEFAULT_DENY_NAME = "default-deny"

Entries = dict[Peer, dict[PortSpec, Evidence]]


@dataclass
class Synthesis:
    """The proposal as IR, with what could not or need not become a rule."""

    policies: list[PolicyIR]
    #: Connections from node/host sources: no rule needed, reported.
    node_sources: pd.DataFrame
    #: Resolver workloads (or the assumed default) used for DNS rules.
    resolvers: list[str]
    notes: list[str] = field(default_factory=list)
    #: Connections left out as noise (``--min-flows``, ``--min-age``), with evidence.
    left_out: list[LeftOut] = field(default_factory=list)
    #: Workloads sharing a policy, with what each merge costs.
    roles: list[Role] = field(default_factory=list)
    #: External address plans that are not exact: public-facing ranges and aggregates.
    external: list[dict[str, Any]] = field(default_factory=list)
    #: Peers the log names without an address NetworkPolicy could state (a NetworkSet, a
    #: host endpoint): no rule, and what would express them.
    unexpressed: list[dict[str, Any]] = field(default_factory=list)
    #: The namespaces the proposal covers (system namespaces only when asked for).
    namespaces: list[str] = field(default_factory=list)
    #: The DNS names behind the addresses and CIDRs of external egress rules (what an
    #: ipBlock cannot say), per workload, port and peer: see ``fqdn.names_behind``.
    external_names: list[dict[str, Any]] = field(default_factory=list)


def policy_name(base: str, kind: str, taken: set[str]) -> str:
    """Deterministic DNS-1123 name: ``allow-<workload>``, disambiguated by kind, capped."""
    name = f"allow-{base}"
    if name in taken or name == DEFAULT_DENY_NAME:
        name = f"{name}-{kind.lower()}"
    if len(name) > 253:
        digest = hashlib.sha256(name.encode()).hexdigest()[:10]
        name = f"{name[:242]}-{digest}"
    return name


def _workload_peer(workload: str, selections: dict[str, Selection]) -> Peer:
    namespace = workload.split("/", 1)[0]
    sel = selections[workload]
    labels = tuple(sorted(sel.match_labels.items()))
    return Peer("workload", workload, namespace, labels, match_expressions=sel.match_expressions)


def _evidence(row: Any, peer_id: str) -> Evidence:
    return Evidence(
        peer=peer_id,
        protocol=row.protocol,
        port=int(row.port),
        flows=int(row.flows),
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        hours=int(getattr(row, "hours", 0) or 0),
        days=int(getattr(row, "days", 0) or 0),
    )


def _external_peers(
    addresses: dict[tuple[str, str, int], dict[str, tuple[str, Evidence]]],
    options: SynthesisOptions,
    forbidden: Forbidden,
    workload: str,
    plans: list[dict[str, Any]],
) -> tuple[Entries, Entries]:
    """Exact addresses, or CIDRs when public-facing or within the CIDR budget."""
    ingress: Entries = defaultdict(dict)
    egress: Entries = defaultdict(dict)
    observed = {key: list(ips) for key, ips in addresses.items()}
    planned: dict[tuple[str, str, int], list[ExternalBlock]] = plan_external(
        observed, options=options, forbidden=forbidden
    )
    for key in sorted(planned):
        direction, protocol, port = key
        spec = PortSpec(protocol, port)
        target = ingress if direction == "ingress" else egress
        for block in planned[key]:
            covered = [addresses[key][ip] for ip in block.covers]
            if block.kind == "exact":
                ip = block.covers[0]
                kind, evidence = addresses[key][ip]
                target[Peer("address", ip, None, (), kind)][spec] = evidence
                continue
            peer = Peer(
                "cidr",
                block.cidr,
                None,
                (),
                "external",
                excepts=tuple(block.excepts),
                members=tuple(block.covers),
            )
            if covered:
                target[peer][spec] = combine_evidence(block.cidr, (e for _, e in covered))
            else:  # another block of the same named set (pvt, pub) carries the evidence
                target[peer][spec] = Evidence(block.cidr, protocol, port, 0, None, None, "set")
            plans.append(
                {
                    "workload": workload,
                    "direction": direction,
                    "port": f"{port}/{protocol}",
                    "cidr": block.cidr,
                    "except": list(block.excepts),
                    "kind": block.kind,
                    "observed_addresses": len(block.covers),
                    "unobserved_addresses": block.unobserved,
                    "why": block.why,
                }
            )
    return ingress, egress


def _rules_from(entries: Entries, why: str) -> list[Rule]:
    """Group peers by identical port sets: one rule per port set, exact by construction."""
    by_ports: dict[tuple[PortSpec, ...], list[Peer]] = defaultdict(list)
    for peer, ports in entries.items():
        by_ports[tuple(sorted(ports))].append(peer)
    rules = []
    for ports, peers in by_ports.items():
        peers = sorted(peers)
        evidence = [entries[p][port] for p in peers for port in ports]
        rules.append(Rule(peers, list(ports), evidence, why))
    rules.sort(key=lambda r: (r.ports, r.peers))
    return rules


def _refine(
    rules: list[Rule],
    index: PeerIndex,
    options: SynthesisOptions,
    destination_ports: Any,
) -> list[Rule]:
    """Merge peers, name ports and join port runs, rule by rule; never widens a rule."""
    out = []
    for rule in rules:
        peers, reasons = merge_peers(rule.peers, index)
        ports = list(rule.ports)
        if options.named_ports:
            ports, named = name_ports(ports, destination_ports(rule))
            reasons += named
        ports = compact_ports(ports)
        why = "; ".join([rule.why, *reasons]) if reasons else rule.why
        out.append(Rule(peers, ports, rule.evidence, why))
    out.sort(key=lambda r: (r.ports, r.peers))
    return out


def _role_name(members: tuple[str, ...]) -> str:
    names = [m.split("/", 1)[1] for m in members]
    if len(names) <= 3 and len("-".join(names)) <= 60:
        return "-".join(names)
    return f"{names[0]}-and-{len(names) - 1}-more"


#: workload -> (direction, protocol, port) -> address -> (endpoint kind, evidence)
Addresses = dict[str, dict[tuple[str, str, int], dict[str, tuple[str, Evidence]]]]

_DNS_PORT_SPECS = (PortSpec("UDP", DNS_PORT), PortSpec("TCP", DNS_PORT))


def synthesize(
    wconns: pd.DataFrame,
    workloads: pd.DataFrame,
    selections: dict[str, Selection],
    namespaces: list[str] | None = None,
    *,
    options: SynthesisOptions | None = None,
    pods: pd.DataFrame | None = None,
    node_ips: Iterable[str] = (),
    pod_cidrs: Iterable[str] = (),
) -> Synthesis:
    """Build the IR for every workload in ``namespaces`` (all observed when None).

    Connections are sorted into what can become a rule (:func:`_sort_connections`), turned
    into per-workload peer entries (observed, external, DNS), grouped into roles, and each
    workload (or role) gets one policy; every namespace gets a default-deny.
    """
    options = options or SynthesisOptions()
    if pods is None:
        pods = pd.DataFrame(columns=["namespace", "pod", "workload", "labels", "ips"])
    notes: list[str] = []
    all_namespaces, targets = _target_namespaces(workloads, namespaces, notes)
    conns = _sort_connections(wconns, selections, options, notes)
    ingress, egress, addresses = _observed_entries(conns.usable, selections)
    if options.allow_node_sources:
        _add_node_sources(addresses, conns.node_sources, conns.unknown)
    in_scope = {w for w in workloads["workload"] if w.split("/", 1)[0] in targets}
    forbidden = cluster_ranges(pods, list(node_ips), list(pod_cidrs))
    names = address_names(conns.usable)
    external = _add_external(ingress, egress, addresses, in_scope, options, forbidden, names)
    external_plans = external.plans
    notes += _range_notes(external_plans)
    for u in conns.unexpressed:
        notes.append(
            f"{u['workload']} {u['direction']} {u['port']} with {u['peer']} ({u['kind']}): "
            f"NetworkPolicy cannot state it; {u['express']}. Its traffic is at risk."
        )
    _add_dns(ingress, egress, conns.resolvers, selections)
    roles = find_roles(
        conns.usable, pods, selections, options, namespaces=targets, resolvers=conns.resolvers
    )
    builder = _PolicyBuilder(
        ingress,
        egress,
        selections,
        options,
        conns.resolvers,
        PeerIndex(pods),
        pods,
        notes,
        external.names,
    )
    policies = [
        PolicyIR(ns, DEFAULT_DENY_NAME, "default-deny") for ns in targets if ns in all_namespaces
    ]
    policies += builder.workload_policies(workloads[workloads["namespace"].isin(targets)], roles)
    policies.sort(key=lambda p: (p.namespace, p.role != "default-deny", p.name))
    return Synthesis(
        policies,
        conns.node_sources,
        conns.resolvers or ["kube-system/kube-dns (assumed)"],
        notes,
        conns.left_out,
        [r for r in roles if len(r.members) > 1],
        external_plans,
        conns.unexpressed,
        list(targets),
        external.external_names,
    )


def _target_namespaces(
    workloads: pd.DataFrame, namespaces: list[str] | None, notes: list[str]
) -> tuple[list[str], list[str]]:
    """(every observed namespace, the ones to propose for): the asked ones, or all but the
    system namespaces (noted)."""
    all_namespaces = sorted(set(workloads["namespace"]))
    if namespaces:
        return all_namespaces, sorted(set(namespaces))
    left_alone = [ns for ns in all_namespaces if is_system_namespace(ns)]
    if left_alone:
        notes.append(
            f"System namespaces left alone: {', '.join(left_alone)}. Their pods still "
            "count as peers and DNS egress still reaches the resolver; --namespace NS "
            "opts one in."
        )
    return all_namespaces, [ns for ns in all_namespaces if not is_system_namespace(ns)]


@dataclass
class _Sorted:
    """Workload connections sorted by what they become."""

    left_out: list[LeftOut]
    resolvers: list[str]
    #: node sources to workloads: no rule needed (kubelet), reported
    node_sources: pd.DataFrame
    #: workloads whose pods carry no labels: no selector can name them
    unknown: set[str]
    #: what becomes rules
    usable: pd.DataFrame
    #: peers known only by a name NetworkPolicy cannot state
    unexpressed: list[dict[str, Any]]


def _sort_connections(
    wconns: pd.DataFrame,
    selections: dict[str, Selection],
    options: SynthesisOptions,
    notes: list[str],
) -> _Sorted:
    kept, left_out = split_noise(wconns, options)
    resolvers = find_resolvers(kept)
    if not resolvers:
        notes.append(
            "No DNS server was observed; DNS egress assumes kube-dns "
            "(k8s-app=kube-dns in kube-system)."
        )
    node_mask = kept["src_type"].eq("node") & kept["dst_type"].eq("workload")
    unknown = {w for w, sel in selections.items() if not sel.known}
    unnamed = (kept["src_type"].eq("workload") & kept["src_id"].isin(unknown)) | (
        kept["dst_type"].eq("workload") & kept["dst_id"].isin(unknown)
    )
    for w in sorted(unknown):
        notes.append(
            f"{w}: the flow log carries no labels for its pods; no selector can name it, so "
            "its connections get no rule (an inventory would resolve it)."
        )
    named = _named_peers(kept)
    has_workload = kept["src_type"].eq("workload") | kept["dst_type"].eq("workload")
    return _Sorted(
        left_out=left_out,
        resolvers=resolvers,
        node_sources=kept[node_mask].reset_index(drop=True),
        unknown=unknown,
        usable=kept[~node_mask & ~unnamed & ~named],
        unexpressed=[
            _unexpressed(row)
            for row in kept[named & ~unnamed & has_workload].itertuples(index=False)
        ],
    )


def _observed_entries(
    usable: pd.DataFrame, selections: dict[str, Selection]
) -> tuple[dict[str, Entries], dict[str, Entries], Addresses]:
    """Per workload: ingress and egress entries for workload peers, and the address peers
    (planned into exact addresses or ranges by :func:`_add_external`)."""
    ingress: dict[str, Entries] = defaultdict(lambda: defaultdict(dict))
    egress: dict[str, Entries] = defaultdict(lambda: defaultdict(dict))
    addresses: Addresses = defaultdict(lambda: defaultdict(dict))
    for row in usable.itertuples(index=False):
        port = PortSpec(row.protocol, int(row.port))
        key_port = (row.protocol, int(row.port))
        if row.dst_type == "workload":
            if row.src_type == "workload":
                src_peer = _workload_peer(row.src_id, selections)
                ingress[row.dst_id][src_peer][port] = _evidence(row, src_peer.id)
            else:
                addresses[row.dst_id][("ingress", *key_port)][row.src_id] = (
                    row.src_type,
                    _evidence(row, row.src_id),
                )
        if row.src_type == "workload":
            if row.dst_type == "workload":
                dst_peer = _workload_peer(row.dst_id, selections)
                egress[row.src_id][dst_peer][port] = _evidence(row, dst_peer.id)
            else:
                addresses[row.src_id][("egress", *key_port)][row.dst_id] = (
                    row.dst_type,
                    _evidence(row, row.dst_id),
                )
    return ingress, egress, addresses


def _add_node_sources(addresses: Addresses, node_sources: pd.DataFrame, unknown: set[str]) -> None:
    """Node sources as addresses (--allow-node-sources): exact ipBlocks, so traffic SNATed by
    another node (LoadBalancer, NodePort) passes; a node known only by name stays
    unexpressed."""
    for row in node_sources.itertuples(index=False):
        if is_address(row.src_id) and row.dst_id not in unknown:
            key = ("ingress", row.protocol, int(row.port))
            addresses[row.dst_id][key][row.src_id] = ("node", _evidence(row, row.src_id))


@dataclass
class _External:
    """What :func:`_add_external` found besides the peer entries."""

    #: the address plans that are not exact (ranges, aggregates)
    plans: list[dict[str, Any]] = field(default_factory=list)
    #: workload -> evidence of its fqdn peers (``external="fqdn"``)
    names: dict[str, list[NameEvidence]] = field(default_factory=dict)
    #: the names behind address and CIDR peers of external egress
    external_names: list[dict[str, Any]] = field(default_factory=list)


def _add_external(
    ingress: dict[str, Entries],
    egress: dict[str, Entries],
    addresses: Addresses,
    in_scope: set[str],
    options: SynthesisOptions,
    forbidden: list[str],
    names: dict[str, Names],
) -> _External:
    """Address peers of the workloads in scope as exact addresses or planned ranges, or, with
    ``external="fqdn"``, external egress the logs name as one peer per name."""
    out = _External()
    planned = sorted(w for w in addresses if w in in_scope)
    parsed = Forbidden.parse(forbidden if planned else [])
    for workload in planned:
        mine, named_by = addresses[workload], names.get(workload, {})
        if options.external == "fqdn":
            named, mine = split_named(mine, named_by)
            if named:
                entries, out.names[workload] = fqdn_entries(named, named_by, options)
                for peer, ports in entries.items():
                    egress[workload][peer].update(ports)
        ext_in, ext_out = _external_peers(mine, options, parsed, workload, out.plans)
        for peer, ports in ext_in.items():
            ingress[workload][peer].update(ports)
        for peer, ports in ext_out.items():
            egress[workload][peer].update(ports)
        out.external_names += names_behind(workload, ext_out, named_by)
    return out


def _add_dns(
    ingress: dict[str, Entries],
    egress: dict[str, Entries],
    resolvers: list[str],
    selections: dict[str, Selection],
) -> None:
    """Every workload with egress reaches every resolver on UDP and TCP 53, and each
    resolver admits every such workload, so the allowance works on both sides."""
    resolver_peers = [_workload_peer(r, selections) for r in resolvers]
    dns_clients = sorted(w for w in egress if w not in resolvers)
    for client in dns_clients:
        client_peer = _workload_peer(client, selections)
        for peer in resolver_peers:
            for port in _DNS_PORT_SPECS:
                dns = Evidence(peer.id, port.protocol, port.port, 0, None, None, "dns")
                egress[client][peer].setdefault(port, dns)
                dns = Evidence(client, port.protocol, port.port, 0, None, None, "dns")
                ingress[peer.id][client_peer].setdefault(port, dns)


@dataclass
class _PolicyBuilder:
    """One policy per workload, or per role its members share, from the peer entries."""

    ingress: dict[str, Entries]
    egress: dict[str, Entries]
    selections: dict[str, Selection]
    options: SynthesisOptions
    resolvers: list[str]
    index: PeerIndex
    pods: pd.DataFrame
    notes: list[str]
    #: workload -> evidence of its fqdn peers
    names: dict[str, list[NameEvidence]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ports_of = _container_ports(self.pods)
        self.taken: dict[str, set[str]] = defaultdict(set)

    def workload_policies(self, targets: pd.DataFrame, roles: list[Role]) -> list[PolicyIR]:
        """Policies for the ``targets`` workloads, in workload order; a role's policy is
        named and placed after its first member."""
        role_of = {m: role for role in roles for m in role.members}
        target_workloads = targets.sort_values("workload")
        kinds = dict(zip(target_workloads["workload"], target_workloads["kind"], strict=True))
        policies: list[PolicyIR] = []
        done: set[str] = set()
        for wl in target_workloads.itertuples(index=False):
            if wl.workload in done or not self.selections[wl.workload].known:
                continue
            role = role_of.get(wl.workload)
            members = role.members if role is not None else (wl.workload,)
            done.update(members)
            policy = self._policy(wl, role, tuple(members), kinds.get(wl.workload, wl.kind))
            if policy is not None:
                policies.append(policy)
        return policies

    def _merged(self, members: tuple[str, ...]) -> tuple[Entries, Entries]:
        merged_in: Entries = defaultdict(dict)
        merged_out: Entries = defaultdict(dict)
        for member in members:
            for peer, ports in self.ingress.get(member, {}).items():
                merged_in[peer].update(ports)
            for peer, ports in self.egress.get(member, {}).items():
                merged_out[peer].update(ports)
        return merged_in, merged_out

    def _peer_ports(self, rule: Rule) -> list:
        """Container ports of the workloads a rule's peers stand for (none for addresses)."""
        found = []
        for peer in rule.peers:
            if peer.kind not in ("workload", "selector"):
                return []
            for member in peer.members or (peer.id,):
                found += self.ports_of.get(member, [])
        return found

    def _rules(self, members: tuple[str, ...]) -> tuple[list[Rule], list[Rule]]:
        merged_in, merged_out = self._merged(members)
        own_ports = [p for m in members for p in self.ports_of.get(m, [])]
        index, options = self.index, self.options
        ing = _refine(
            _rules_from(merged_in, "observed ingress"), index, options, lambda rule: own_ports
        )
        eg = _refine(_rules_from(merged_out, "observed egress"), index, options, self._peer_ports)
        if not self.resolvers and any(w in self.egress for w in members):
            eg.append(_default_dns_rule(_DNS_PORT_SPECS))
        return ing, eg

    def _policy(
        self, wl: Any, role: Role | None, members: tuple[str, ...], kind: str
    ) -> PolicyIR | None:
        ing, eg = self._rules(members)
        shared = role is not None and len(members) > 1
        base = _role_name(members) if shared else wl.name
        name = policy_name(base, wl.kind, self.taken[wl.namespace])
        self.taken[wl.namespace].add(name)
        if not ing and not eg:
            self.notes.append(
                f"{wl.workload}: nothing observed in either direction; "
                "isolated by the namespace default-deny alone."
            )
            return None
        sel = self.selections[wl.workload]
        if shared:
            labels, exact, why, swept = role.match_labels, role.exact, role.why, ()
        else:
            labels, exact, why, swept = sel.match_labels, sel.exact, sel.why, sel.swept_in
        if not exact:
            self.notes.append(
                f"{wl.workload}: no selector picks it alone, even with matchExpressions; "
                "its policy also applies to " + ", ".join(swept[:5])
            )
        return PolicyIR(
            namespace=wl.namespace,
            name=name,
            role="workload",
            workload=wl.workload,
            workload_kind=kind,
            match_labels=dict(sorted(labels.items())),
            match_expressions=(role if shared else sel).match_expressions,
            selector_exact=exact,
            selector_why=why,
            swept_in=swept,
            ingress=ing,
            egress=eg,
            members=members,
            names=sorted({e for m in members for e in self.names.get(m, ())}, key=lambda e: e.name),
        )


def _named_peers(wconns: pd.DataFrame) -> pd.Series:
    """Rows with a peer known only by a name that no ipBlock can state."""

    def named(kind: pd.Series, ids: pd.Series) -> pd.Series:
        return kind.ne("workload") & ids.map(
            lambda v: isinstance(v, str) and not is_address(v) and not expressible(v)
        ).astype(bool)

    return named(wconns["src_type"], wconns["src_id"]) | named(wconns["dst_type"], wconns["dst_id"])


#: What would state a named peer, by endpoint kind.
_EXPRESS = {
    "networkset": "a Calico NetworkPolicy selecting the NetworkSet by its labels, or its "
    "CIDRs as ipBlocks, would",
    "node": "a Calico policy for host endpoints, or the node's address as an ipBlock "
    "(--allow-node-sources), would",
}


def _unexpressed(row: Any) -> dict[str, Any]:
    if row.src_type != "workload" and row.dst_type == "workload":
        workload, direction, peer, kind = row.dst_id, "ingress", row.src_id, row.src_type
    else:
        workload, direction, peer, kind = row.src_id, "egress", row.dst_id, row.dst_type
    return {
        "workload": workload,
        "direction": direction,
        "peer": peer,
        "kind": kind,
        "port": f"{int(row.port)}/{row.protocol}",
        "flows": int(row.flows),
        "express": _EXPRESS.get(
            kind, "a CNI policy naming it, or its addresses as ipBlocks (an inventory), would"
        ),
    }


def _range_notes(plans: list[dict[str, Any]]) -> list[str]:
    """One note per (workload, direction, port) admitted through a range block."""
    notes, seen = [], set()
    for plan in plans:
        key = (plan["workload"], plan["direction"], plan["port"], plan["kind"])
        if key in seen or plan["kind"] not in ("public", "private"):
            continue
        seen.add(key)
        if plan["kind"] == "public":
            what = "is public-facing" if plan["direction"] == "ingress" else "reaches the internet"
            notes.append(
                f"{plan['workload']} {what} on {plan['port']}: it admits "
                f"{plan['cidr']} minus private ranges ({plan['why']})."
            )
        else:
            notes.append(
                f"{plan['workload']} {plan['direction']} on {plan['port']} admits "
                f"{SET_NAMES['pvt']}: every private range minus the cluster's, broad "
                f"({plan['why']})."
            )
    return notes


def _container_ports(pods: pd.DataFrame) -> dict[str, list]:
    """Workload -> container ports of each of its pods (for named ports)."""
    out: dict[str, list] = defaultdict(list)
    if "ports" not in pods.columns:
        return out
    for workload, ports in zip(pods["workload"], pods["ports"], strict=True):
        out[workload].append(tuple(ports or ()))
    return out


def _default_dns_rule(ports: tuple[PortSpec, ...]) -> Rule:
    ns, labels = DEFAULT_RESOLVER
    peer = Peer("workload", f"{ns}/kube-dns", ns, labels)
    evidence = [Evidence(peer.id, p.protocol, p.port, 0, None, None, "dns") for p in ports]
    return Rule([peer], sorted(ports), evidence, "DNS to the assumed cluster resolver")
