"""Render the IR as ``cilium.io/v2`` CiliumNetworkPolicy objects (``--output-kind cilium``).

One policy per workload plus the namespace default-deny, stating the same rules as the
NetworkPolicy rendering (:mod:`.k8s`) in Cilium's terms. The choices, from Cilium's policy
docs (Documentation/security/policy/layer3.rst, kubernetes.rst, language.rst):

* **Isolation.** A CNP with an ``ingress`` / ``egress`` section puts the endpoints it selects
  into default deny for that direction ("Ingress/Egress Default Deny": an empty rule ``{}``
  selects no peer and only isolates). The namespace default-deny is ``endpointSelector: {}``
  with ``ingress: [{}]`` and ``egress: [{}]`` and ``enableDefaultDeny`` both true (the CRD's
  default for a direction with rules, written so the intent is visible). A workload policy
  writes both directions too (an empty one as ``[{}]``), as the NetworkPolicy's
  ``policyTypes: [Ingress, Egress]`` does, so each object isolates alone what its
  NetworkPolicy isolates.
* **Pods.** ``fromEndpoints`` / ``toEndpoints`` with the pod labels as they are (a key
  without a source prefix matches the ``k8s:`` labels Cilium gives pods) and
  ``k8s:io.kubernetes.pod.namespace`` for the namespace, always written (Cilium would imply
  the policy's own); a peer spanning namespaces names them with a ``matchExpressions`` In.
* **One L3 kind per rule.** Cilium refuses a rule combining two peer kinds ("Combining
  toEndpoints and toCIDRSet is not supported yet", its rule sanitizer), so an IR rule whose
  peers differ in kind becomes one Cilium rule per kind, each with the same ``toPorts``.
* **Addresses.** An external address is ``toCIDRSet``/``fromCIDRSet`` ``/32`` (``/128``);
  the public-facing range is ``fromCIDRSet`` ``0.0.0.0/0`` with the NetworkPolicy's
  ``except`` list, not ``fromEntities: [world]``: "world" admits every non-cluster address,
  private ranges included, so only the CIDR set keeps the NetworkPolicy's breadth.
* **Reserved identities.** Cilium gives the API server and nodes identities of their own
  that CIDR rules do not select: an address the connection table saw as
  ``kube-apiserver`` / ``host`` / ``remote-node`` (:func:`reserved_identities`) is written
  as that entity (``toEntities: [kube-apiserver]``; node sources only appear when the IR
  has them, i.e. ``--allow-node-sources``); a node address the logs gave no identity (VPC
  or Calico logs) is ``host`` and ``remote-node``. An entity admits every address of that
  identity (every node for ``remote-node``), broader than the NetworkPolicy's ``/32``; a
  ``/32`` would not match at all (Cilium's CIDR rules select no node unless its
  ``policy-cidr-match-mode`` includes nodes).
* **FQDN.** An IR peer of kind ``fqdn`` is ``toFQDNs`` (``matchName``, or ``matchPattern``
  when it has a ``*``); a policy with one gets the DNS-proxy rule Cilium needs to learn the
  names' addresses ("DNS based": "DNS information is acquired by routing DNS traffic via
  DNS Proxy with a separate policy rule"): its port-53 ports carry
  ``rules: {dns: [{matchPattern: "*"}]}``.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from .ir import Peer, PolicyIR, PortSpec, Rule
from .k8s import render_policy as render_network_policy

CILIUM_API_VERSION = "cilium.io/v2"
CNP_KIND = "CiliumNetworkPolicy"
#: The label Cilium gives every pod for its namespace (source ``k8s``).
POD_NAMESPACE_LABEL = "k8s:io.kubernetes.pod.namespace"
#: Reserved identities written as entities, in the order a rule lists them.
ENTITY_IDENTITIES = ("kube-apiserver", "host", "remote-node", "health")
#: The DNS L7 rule that sends lookups through Cilium's DNS proxy, so ``toFQDNs`` learns
#: the addresses of the names (every name may be asked: the FQDN peers limit the traffic).
DNS_PROXY_RULES = {"dns": [{"matchPattern": "*"}]}
DNS_PORT = 53
#: Address kinds that are a node's address (a host-network pod has its node's): Cilium gives
#: them the ``host`` or ``remote-node`` identity, which CIDR rules do not select.
NODE_KINDS = ("node", "host_network_pod")
#: What a node address the logs gave no reserved identity is written as: every node, since
#: the log does not say which of the two it is to the pod.
NODE_ENTITIES = ("host", "remote-node")

#: The peer field of a rule per direction and peer kind.
_FIELDS = {
    "ingress": {
        "endpoints": "fromEndpoints",
        "cidr": "fromCIDRSet",
        "entities": "fromEntities",
    },
    "egress": {
        "endpoints": "toEndpoints",
        "cidr": "toCIDRSet",
        "entities": "toEntities",
        "fqdn": "toFQDNs",
    },
}


#: Reserved identities by direction: the peer's (a source for ingress, a destination for
#: egress) identities per address.
Reserved = Mapping[str, Mapping[str, tuple[str, ...]]]
#: The side of a connection that is the rule's peer, per direction.
_PEER_SIDE = {"ingress": "src", "egress": "dst"}


def reserved_identities(connections: pd.DataFrame) -> dict[str, dict[str, tuple[str, ...]]]:
    """Per direction, address -> the reserved identities (:data:`ENTITY_IDENTITIES`) the
    flow logs gave it on the peer's side: ingress peers from ``src_ip``/``src_reserved``,
    egress peers from ``dst_ip``/``dst_reserved`` (the API server's node is
    ``kube-apiserver`` as a destination on 6443 and ``host`` or ``remote-node`` as the
    source of kubelet probes; a node is ``host`` to its own pods, ``remote-node`` to others)."""
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for direction, side in _PEER_SIDE.items():
        found: dict[str, set[str]] = {}
        ips = connections.get(f"{side}_ip")
        reserved = connections.get(f"{side}_reserved")
        if ips is not None and reserved is not None:
            for ip, identity in zip(ips, reserved, strict=True):
                if isinstance(ip, str) and identity in ENTITY_IDENTITIES:
                    found.setdefault(ip, set()).add(identity)
        out[direction] = {
            ip: tuple(i for i in ENTITY_IDENTITIES if i in identities)
            for ip, identities in sorted(found.items())
        }
    return out


def endpoint_selector(
    labels: Iterable[tuple[str, str]],
    expressions: Iterable[tuple[str, str, tuple[str, ...]]] = (),
    namespaces: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A Cilium EndpointSelector: the namespace (one name as a label, several as an In),
    then the pod labels and expressions as they are."""
    match_labels: dict[str, str] = {}
    match_expressions: list[dict[str, Any]] = []
    if len(namespaces) == 1:
        match_labels[POD_NAMESPACE_LABEL] = namespaces[0]
    elif namespaces:
        match_expressions.append(
            {"key": POD_NAMESPACE_LABEL, "operator": "In", "values": list(namespaces)}
        )
    match_labels.update(labels)
    for key, operator, values in expressions:
        expr: dict[str, Any] = {"key": key, "operator": operator}
        if operator in ("In", "NotIn"):
            expr["values"] = list(values)
        match_expressions.append(expr)
    out: dict[str, Any] = {}
    if match_labels:
        out["matchLabels"] = match_labels
    if match_expressions:
        out["matchExpressions"] = match_expressions
    return out


def _cidr_rule(peer: Peer) -> dict[str, Any]:
    if peer.kind == "address":
        ip = ipaddress.ip_address(peer.id)
        return {"cidr": f"{ip.compressed}/{ip.max_prefixlen}"}
    out: dict[str, Any] = {"cidr": peer.id}
    if peer.excepts:
        out["except"] = list(peer.excepts)
    return out


def _fqdn(peer: Peer) -> dict[str, str]:
    name = peer.id.rstrip(".").lower()
    return {"matchPattern": name} if "*" in name else {"matchName": name}


def _peer_entries(peer: Peer, reserved: Mapping[str, tuple[str, ...]]) -> tuple[str, list[Any]]:
    """(peer kind of :data:`_FIELDS`, the entries it adds to that field)."""
    if peer.kind in ("workload", "selector"):
        namespaces = peer.namespaces or ((peer.namespace,) if peer.namespace else ())
        return "endpoints", [
            endpoint_selector(peer.match_labels, peer.match_expressions, namespaces)
        ]
    if peer.kind == "fqdn":
        return "fqdn", [_fqdn(peer)]
    if peer.kind == "address" and reserved.get(peer.id):
        return "entities", list(reserved[peer.id])
    if peer.kind == "address" and peer.address_kind in NODE_KINDS:
        return "entities", list(NODE_ENTITIES)
    if peer.kind in ("address", "cidr"):
        return "cidr", [_cidr_rule(peer)]
    raise ValueError(f"peer kind {peer.kind!r} has no Cilium rendering ({peer.id})")


def _port(spec: PortSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"port": spec.name or str(spec.port)}
    if spec.end_port is not None:
        out["endPort"] = spec.end_port
    out["protocol"] = spec.protocol
    return out


def _is_dns(spec: PortSpec) -> bool:
    return spec.port == DNS_PORT and spec.end_port is None and spec.name is None


def _to_ports(ports: list[PortSpec], dns_proxy: bool) -> list[dict[str, Any]]:
    """The ``toPorts`` of a rule; with ``dns_proxy`` its port-53 ports are a port rule of
    their own carrying :data:`DNS_PROXY_RULES` (an L7 rule applies to every port listed
    beside it, so the other ports stay apart)."""
    dns = [p for p in ports if dns_proxy and _is_dns(p)]
    rest = [p for p in ports if p not in dns]
    out: list[dict[str, Any]] = []
    if dns:
        out.append({"ports": [_port(p) for p in dns], "rules": copy.deepcopy(DNS_PROXY_RULES)})
    if rest:
        out.append({"ports": [_port(p) for p in rest]})
    return out


def _rules(rule: Rule, direction: str, reserved: Reserved, dns_proxy: bool) -> list[dict[str, Any]]:
    """One Cilium rule per peer kind of the IR rule, in the order the kinds first appear."""
    grouped: dict[str, list[Any]] = {}
    for peer in rule.peers:
        kind, entries = _peer_entries(peer, reserved.get(direction, {}))
        if kind not in _FIELDS[direction]:
            raise ValueError(f"{direction} peer {peer.id} of kind {peer.kind!r}")
        field = grouped.setdefault(kind, [])
        field.extend(e for e in entries if e not in field)
    out = []
    for kind, entries in grouped.items():
        cilium_rule: dict[str, Any] = {_FIELDS[direction][kind]: entries}
        to_ports = _to_ports(rule.ports, dns_proxy and direction == "egress")
        if to_ports:
            cilium_rule["toPorts"] = to_ports
        out.append(cilium_rule)
    return out


def has_fqdn_peers(policy: PolicyIR) -> bool:
    """Whether the policy names an external destination by DNS name."""
    return any(p.kind == "fqdn" for rule in policy.egress for p in rule.peers)


def render_policy(policy: PolicyIR, reserved: Reserved | None = None) -> dict[str, Any]:
    """One CiliumNetworkPolicy as a plain dict, keys in reading order, with the metadata
    (labels, annotations) of the NetworkPolicy rendering. ``reserved``: the addresses to
    write as entities (:func:`reserved_identities` of the connection table)."""
    metadata = render_network_policy(policy)["metadata"]
    if policy.role == "default-deny":
        spec: dict[str, Any] = {
            "endpointSelector": {},
            "enableDefaultDeny": {"ingress": True, "egress": True},
            "ingress": [{}],
            "egress": [{}],
        }
    else:
        reserved = reserved or {}
        dns_proxy = has_fqdn_peers(policy)
        spec = {
            "endpointSelector": endpoint_selector(
                policy.match_labels.items(), policy.match_expressions
            )
        }
        for direction in ("ingress", "egress"):
            rules = [
                r
                for rule in getattr(policy, direction)
                for r in _rules(rule, direction, reserved, dns_proxy)
            ]
            spec[direction] = rules or [{}]
    return {
        "apiVersion": CILIUM_API_VERSION,
        "kind": CNP_KIND,
        "metadata": metadata,
        "spec": spec,
    }


def render_policies(
    policies: Iterable[PolicyIR], connections: pd.DataFrame | None = None
) -> list[dict[str, Any]]:
    """Every IR policy as a CiliumNetworkPolicy, the reserved identities taken from the
    connection table (``Recommendation.connections``) when given."""
    reserved = reserved_identities(connections) if connections is not None else {}
    return [render_policy(p, reserved) for p in policies]
