"""The proposal as Calico policies (``recommend --output-kind calico [--staged]``).

Each IR policy becomes a ``projectcalico.org/v3`` NetworkPolicy in the ``default`` tier
(where Calico also places Kubernetes NetworkPolicies, so the end-of-tier deny is the same
isolation), or with ``staged`` the StagedNetworkPolicy (``stagedAction: Set``) that Calico
evaluates and reports on without enforcing. The metadata is the NetworkPolicy's
(:func:`.k8s.render_policy`): the same name, managed-by label and annotations.

Calico rules hold one protocol and one source/destination entity, so one IR rule becomes
one Calico rule per (peer, protocol); addresses without excepts share one ``nets`` list per
IP version, a range with excepts is ``nets`` with ``notNets``. Selectors are Calico
expressions (``app == 'web' && !has(track)``); a peer in another namespace gets
``namespaceSelector: projectcalico.org/name == 'ns'`` (the label Calico's reference names
for selecting a namespace by name; it is there whatever the Kubernetes version). A selector
always comes with the entity, even ``all()``: an entity without one admits any address.

Label keys and values are written only when Calico reads them back as written: a key must be
a Calico label token and a value is quoted with a quote character it does not hold (Calico
literals have no escapes); anything else raises :class:`RenderError`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from ..netpol.calico_selector import SelectorError, is_label_key, quote
from .ir import Peer, PolicyIR, PortSpec, Rule
from .k8s import render_policy

__all__ = [
    "API_VERSION",
    "KIND",
    "NAMESPACE_NAME_LABEL",
    "STAGED_KIND",
    "TIER",
    "RenderError",
    "render_calico",
    "selector_expression",
]

API_VERSION = "projectcalico.org/v3"
KIND = "NetworkPolicy"
STAGED_KIND = "StagedNetworkPolicy"
TIER = "default"
#: The label Calico gives every namespace, equal to its name.
NAMESPACE_NAME_LABEL = "projectcalico.org/name"

Expression = tuple[str, str, tuple[str, ...]]


class RenderError(ValueError):
    """A label key or value that no Calico selector can state as written."""


def _key(key: str) -> str:
    if not is_label_key(key):
        raise RenderError(f"label key {key!r} is not a Calico selector label")
    return key


def _value(value: str) -> str:
    if not isinstance(value, str):
        raise RenderError(f"label value {value!r} is not a string")
    try:
        return quote(value)
    except SelectorError as exc:
        raise RenderError(str(exc)) from None


def _value_set(values: Iterable[str]) -> str:
    return "{" + ", ".join(_value(v) for v in values) + "}"


def _term(key: str, operator: str, values: tuple[str, ...]) -> str:
    if operator == "In":
        return f"{_key(key)} in {_value_set(values)}"
    if operator == "NotIn":
        return f"{_key(key)} not in {_value_set(values)}"
    if operator == "Exists":
        return f"has({_key(key)})"
    if operator == "DoesNotExist":
        return f"!has({_key(key)})"
    raise RenderError(f"unknown selector operator {operator!r}")


def selector_expression(
    match_labels: Mapping[str, str] | Iterable[tuple[str, str]],
    expressions: Iterable[Expression] = (),
) -> str:
    """A label selector (``matchLabels`` and ``matchExpressions`` terms) as the Calico
    expression that matches the same label sets; ``all()`` for the empty selector.
    Kubernetes' ``NotIn`` and Calico's ``not in`` both match a missing label."""
    pairs = match_labels.items() if isinstance(match_labels, Mapping) else match_labels
    terms = [f"{_key(k)} == {_value(v)}" for k, v in pairs]
    terms += [_term(k, op, tuple(vs)) for k, op, vs in expressions]
    return " && ".join(terms) or "all()"


def _namespaces(names: Iterable[str]) -> str:
    names = list(names)
    if len(names) == 1:
        return f"{NAMESPACE_NAME_LABEL} == {_value(names[0])}"
    return f"{NAMESPACE_NAME_LABEL} in {_value_set(names)}"


def _net(peer: Peer) -> str:
    if peer.kind == "address":
        ip = ipaddress.ip_address(peer.id)
        return f"{ip.compressed}/{ip.max_prefixlen}"
    return peer.id


def _entities(peers: list[Peer], policy_namespace: str) -> list[dict[str, Any] | None]:
    """The remote entity of each Calico rule: selector peers one each, bare addresses and
    ranges one ``nets`` list per IP version, a range with excepts one each."""
    out: list[dict[str, Any] | None] = []
    nets: dict[int, list[str]] = {}
    for peer in peers:
        if peer.kind in ("address", "cidr"):
            net = _net(peer)
            if peer.excepts:
                out.append({"nets": [net], "notNets": list(peer.excepts)})
            else:
                nets.setdefault(ipaddress.ip_network(net, strict=False).version, []).append(net)
            continue
        entity: dict[str, Any] = {
            "selector": selector_expression(peer.match_labels, peer.match_expressions)
        }
        if len(peer.namespaces) > 1:
            entity["namespaceSelector"] = _namespaces(peer.namespaces)
        elif peer.namespace != policy_namespace:
            entity["namespaceSelector"] = _namespaces([peer.namespace or ""])
        out.append(entity)
    out += [{"nets": nets[version]} for version in sorted(nets)]
    return out or [None]


def _port(spec: PortSpec) -> int | str:
    if spec.name:
        return spec.name
    return spec.port if spec.end_port is None else f"{spec.port}:{spec.end_port}"


def _rules(rule: Rule, policy_namespace: str, direction: str) -> list[dict[str, Any]]:
    remote = "source" if direction == "ingress" else "destination"
    by_protocol: dict[str | None, list[int | str]] = {}
    for spec in rule.ports:
        by_protocol.setdefault(spec.protocol, []).append(_port(spec))
    out = []
    for entity in _entities(rule.peers, policy_namespace):
        for protocol, ports in (by_protocol or {None: []}).items():
            calico: dict[str, Any] = {"action": "Allow"}
            if protocol is not None:
                calico["protocol"] = protocol
            if entity is not None:
                calico[remote] = dict(entity)
            if ports:
                calico.setdefault("destination", {})["ports"] = list(ports)
            out.append(calico)
    return out


def render_calico(policy: PolicyIR, *, staged: bool = False) -> dict[str, Any]:
    """One IR policy as a Calico NetworkPolicy (``staged``: StagedNetworkPolicy) dict, keys
    in reading order; :class:`RenderError` for a label Calico cannot state."""
    metadata = render_policy(policy)["metadata"]
    spec: dict[str, Any] = {"tier": TIER}
    if policy.role == "default-deny":
        spec["selector"] = "all()"
    else:
        spec["selector"] = selector_expression(policy.match_labels, policy.match_expressions)
    spec["types"] = ["Ingress", "Egress"]
    if policy.role != "default-deny":
        for direction, rules in (("ingress", policy.ingress), ("egress", policy.egress)):
            if rules:
                spec[direction] = [c for r in rules for c in _rules(r, policy.namespace, direction)]
    if staged:
        spec["stagedAction"] = "Set"
    return {
        "apiVersion": API_VERSION,
        "kind": STAGED_KIND if staged else KIND,
        "metadata": metadata,
        "spec": spec,
    }
