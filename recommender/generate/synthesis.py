"""Workload connections -> minimal exact policies (the IR).

One policy per workload, isolating it in both directions, plus a default-deny per
namespace. Rules group peers that share the same port set, so each rule admits exactly
peers x ports that were observed (breadth 0). Every workload that gets egress also gets
DNS (UDP and TCP 53) to the resolver actually observed serving DNS. Node sources
(kubelet probes, host-network peers) get no rule: they are reported instead.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd

from ..selectors import Selection, namespace_selector
from .ir import Evidence, Peer, PolicyIR, PortSpec, Rule

DNS_PORT = 53
#: Where the resolver is assumed to be when no DNS server was observed.
DEFAULT_RESOLVER = ("kube-system", (("k8s-app", "kube-dns"),))

#: Address kinds that get an exact ipBlock when a workload talks to or hears from them.
ADDRESS_PEER_KINDS = ("external", "unknown", "cluster_unknown", "networkset", "service")
DEFAULT_DENY_NAME = "default-deny"
MANAGED_BY = "netpol-recommender"


@dataclass
class Synthesis:
    """The proposal as IR, with what could not or need not become a rule."""

    policies: list[PolicyIR]
    #: Connections from node/host sources: no rule needed, reported.
    node_sources: pd.DataFrame
    #: Resolver workloads (or the assumed default) used for DNS rules.
    resolvers: list[str]
    notes: list[str] = field(default_factory=list)


def policy_name(workload_name: str, kind: str, taken: set[str]) -> str:
    """Deterministic DNS-1123 name: ``allow-<workload>``, disambiguated by kind, capped."""
    name = f"allow-{workload_name}"
    if name in taken or name == DEFAULT_DENY_NAME:
        name = f"{name}-{kind.lower()}"
    if len(name) > 253:
        digest = hashlib.sha256(name.encode()).hexdigest()[:10]
        name = f"{name[:242]}-{digest}"
    return name


def _workload_peer(workload: str, selections: dict[str, Selection]) -> Peer:
    namespace = workload.split("/", 1)[0]
    labels = selections[workload].match_labels
    return Peer("workload", workload, namespace, tuple(sorted(labels.items())))


def _address_peer(ip: str, kind: str) -> Peer:
    return Peer("address", ip, None, (), kind)


def _rules_from(entries: dict[Peer, dict[PortSpec, Evidence]], why: str) -> list[Rule]:
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


def _evidence(row, peer_id: str, basis: str = "observed") -> Evidence:
    return Evidence(
        peer=peer_id,
        protocol=row.protocol,
        port=int(row.port),
        flows=int(row.flows),
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        basis=basis,
    )


def find_resolvers(wconns: pd.DataFrame) -> list[str]:
    """Workloads observed serving DNS (port 53) to other pods."""
    dns = wconns[
        (wconns["port"] == DNS_PORT)
        & (wconns["dst_type"] == "workload")
        & wconns["protocol"].isin(["UDP", "TCP"])
    ]
    return sorted(set(dns["dst_id"]))


def synthesize(
    wconns: pd.DataFrame,
    workloads: pd.DataFrame,
    selections: dict[str, Selection],
    namespaces: list[str] | None = None,
) -> Synthesis:
    """Build the IR for every workload in ``namespaces`` (all observed when None)."""
    all_namespaces = sorted(set(workloads["namespace"]))
    targets = sorted(set(namespaces)) if namespaces else all_namespaces
    resolvers = find_resolvers(wconns)
    notes: list[str] = []
    if not resolvers:
        notes.append(
            "No DNS server was observed; DNS egress assumes kube-dns "
            "(k8s-app=kube-dns in kube-system)."
        )

    node_mask = wconns["src_type"].eq("node") & wconns["dst_type"].eq("workload")
    node_sources = wconns[node_mask].reset_index(drop=True)
    unknown = {w for w, sel in selections.items() if not sel.known}
    unnamed = (wconns["src_type"].eq("workload") & wconns["src_id"].isin(unknown)) | (
        wconns["dst_type"].eq("workload") & wconns["dst_id"].isin(unknown)
    )
    for w in sorted(unknown):
        notes.append(
            f"{w}: the flow log carries no labels for its pods; no selector can name it, so "
            "its connections get no rule (an inventory would resolve it)."
        )
    usable = wconns[~node_mask & ~unnamed]

    ingress: dict[str, dict[Peer, dict[PortSpec, Evidence]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    egress: dict[str, dict[Peer, dict[PortSpec, Evidence]]] = defaultdict(lambda: defaultdict(dict))
    for row in usable.itertuples(index=False):
        port = PortSpec(row.protocol, int(row.port))
        if row.src_type == "workload":
            src_peer = _workload_peer(row.src_id, selections)
        else:
            src_peer = _address_peer(row.src_id, row.src_type)
        if row.dst_type == "workload":
            dst_peer = _workload_peer(row.dst_id, selections)
        else:
            dst_peer = _address_peer(row.dst_id, row.dst_type)
        if row.dst_type == "workload":
            ingress[row.dst_id][src_peer][port] = _evidence(row, src_peer.id)
        if row.src_type == "workload":
            egress[row.src_id][dst_peer][port] = _evidence(row, dst_peer.id)

    # DNS: every workload with egress reaches every resolver on UDP and TCP 53, and each
    # resolver admits every such workload, so the allowance works on both sides.
    dns_ports = (PortSpec("UDP", DNS_PORT), PortSpec("TCP", DNS_PORT))
    resolver_peers = [_workload_peer(r, selections) for r in resolvers]
    dns_clients = sorted(w for w in egress if w not in resolvers)
    for client in dns_clients:
        for peer in resolver_peers:
            for port in dns_ports:
                if port not in egress[client][peer]:
                    egress[client][peer][port] = Evidence(
                        peer.id, port.protocol, port.port, 0, None, None, "dns"
                    )
                client_peer = _workload_peer(client, selections)
                if port not in ingress[peer.id][client_peer]:
                    ingress[peer.id][client_peer][port] = Evidence(
                        client, port.protocol, port.port, 0, None, None, "dns"
                    )

    policies: list[PolicyIR] = []
    target_workloads = workloads[workloads["namespace"].isin(targets)].sort_values("workload")
    taken: dict[str, set[str]] = defaultdict(set)
    for ns in targets:
        if ns in all_namespaces:
            policies.append(PolicyIR(ns, DEFAULT_DENY_NAME, "default-deny"))
    for wl in target_workloads.itertuples(index=False):
        sel = selections[wl.workload]
        if not sel.known:
            continue
        ing = _rules_from(ingress.get(wl.workload, {}), "observed ingress")
        eg = _rules_from(egress.get(wl.workload, {}), "observed egress")
        if not resolvers and wl.workload in egress:
            eg.append(_default_dns_rule(dns_ports))
        name = policy_name(wl.name, wl.kind, taken[wl.namespace])
        taken[wl.namespace].add(name)
        if not ing and not eg:
            notes.append(
                f"{wl.workload}: nothing observed in either direction; "
                "isolated by the namespace default-deny alone."
            )
            continue
        policies.append(
            PolicyIR(
                namespace=wl.namespace,
                name=name,
                role="workload",
                workload=wl.workload,
                workload_kind=wl.kind,
                match_labels=dict(sorted(sel.match_labels.items())),
                selector_exact=sel.exact,
                selector_why=sel.why,
                swept_in=sel.swept_in,
                ingress=ing,
                egress=eg,
            )
        )
        if not sel.exact:
            notes.append(
                f"{wl.workload}: no label set selects it alone; its policy also applies to "
                + ", ".join(sel.swept_in[:5])
            )
    policies.sort(key=lambda p: (p.namespace, p.role != "default-deny", p.name))
    return Synthesis(policies, node_sources, resolvers or ["kube-system/kube-dns (assumed)"], notes)


def _default_dns_rule(ports: tuple[PortSpec, ...]) -> Rule:
    ns, labels = DEFAULT_RESOLVER
    peer = Peer("workload", f"{ns}/kube-dns", ns, labels)
    evidence = [Evidence(peer.id, p.protocol, p.port, 0, None, None, "dns") for p in ports]
    return Rule([peer], sorted(ports), evidence, "DNS to the assumed cluster resolver")


def peer_namespace_selector(peer: Peer) -> dict[str, str]:
    return namespace_selector(peer.namespace or "")
