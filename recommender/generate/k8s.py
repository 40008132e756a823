"""Render the IR as networking.k8s.io/v1 NetworkPolicy objects and stable YAML."""

from __future__ import annotations

import ipaddress
from typing import Any

from ..selectors import NAMESPACE_NAME_LABEL, label_selector, namespace_selector
from . import block_yaml
from .ir import Peer, PolicyIR, PortSpec, Rule

#: The ``app.kubernetes.io/managed-by`` label of every rendered policy, and the prefix of
#: its annotations.
MANAGED_BY = "netpol-recommender"


def _pod_selector(peer: Peer) -> dict[str, Any]:
    return label_selector(peer.match_labels, peer.match_expressions)


def _peer(peer: Peer, policy_namespace: str) -> dict[str, Any]:
    if peer.kind == "address":
        ip = ipaddress.ip_address(peer.id)
        return {"ipBlock": {"cidr": f"{ip.compressed}/{ip.max_prefixlen}"}}
    if peer.kind == "cidr":
        block: dict[str, Any] = {"cidr": peer.id}
        if peer.excepts:
            block["except"] = list(peer.excepts)
        return {"ipBlock": block}
    selector = _pod_selector(peer)
    if len(peer.namespaces) > 1:
        out: dict[str, Any] = {
            "namespaceSelector": {
                "matchExpressions": [
                    {"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": list(peer.namespaces)}
                ]
            }
        }
        if selector:
            out["podSelector"] = selector
        return out
    if peer.namespace == policy_namespace:
        return {"podSelector": selector}
    return {
        "namespaceSelector": {"matchLabels": namespace_selector(peer.namespace or "")},
        "podSelector": selector,
    }


def _port(spec: PortSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"protocol": spec.protocol, "port": spec.name or spec.port}
    if spec.end_port is not None:
        out["endPort"] = spec.end_port
    return out


def _peers(peer: Peer, policy_namespace: str) -> list[dict[str, Any]]:
    """A DNS-name peer (``--external fqdn``) has no NetworkPolicy form: it is written as the
    addresses it was observed at, one exact ipBlock each (what ``--external cidr`` would
    admit at least), never as a selector."""
    if peer.kind == "fqdn":
        return [_peer(Peer("address", ip), policy_namespace) for ip in sorted(peer.members)]
    return [_peer(peer, policy_namespace)]


def _rule(rule: Rule, policy_namespace: str, peer_key: str) -> dict[str, Any]:
    return {
        peer_key: [out for p in rule.peers for out in _peers(p, policy_namespace)],
        "ports": [_port(p) for p in rule.ports],
    }


def render_policy(policy: PolicyIR) -> dict[str, Any]:
    """One NetworkPolicy object as a plain dict, keys in reading order."""
    metadata: dict[str, Any] = {
        "name": policy.name,
        "namespace": policy.namespace,
        "labels": {"app.kubernetes.io/managed-by": MANAGED_BY},
    }
    if policy.role == "default-deny":
        metadata["annotations"] = {
            f"{MANAGED_BY}/role": "default-deny",
        }
        spec: dict[str, Any] = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    else:
        metadata["annotations"] = {
            f"{MANAGED_BY}/workload": f"{policy.workload_kind}/{policy.workload.split('/', 1)[1]}",
        }
        pod_selector = label_selector(policy.match_labels, policy.match_expressions)
        spec = {"podSelector": pod_selector, "policyTypes": ["Ingress", "Egress"]}
        if policy.ingress:
            spec["ingress"] = [_rule(r, policy.namespace, "from") for r in policy.ingress]
        if policy.egress:
            spec["egress"] = [_rule(r, policy.namespace, "to") for r in policy.egress]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata,
        "spec": spec,
    }


def to_yaml(obj: dict[str, Any]) -> str:
    """Stable block-style YAML: the same object always gives the same bytes, PyYAML's
    (:class:`.pure_yaml.PureDumper`); written directly by :mod:`.block_yaml` when it can
    (every policy of plain names and numbers), by PyYAML otherwise (unicode or other
    unusual text)."""
    try:
        return block_yaml.dump(obj)
    except (block_yaml.NotAlike, TypeError):  # TypeError: an unhashable value (a set)
        from .pure_yaml import pure_yaml

        return pure_yaml(obj)
