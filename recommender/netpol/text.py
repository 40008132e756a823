"""Compiled policies in words: selectors, peers, address blocks, ports and rules.

Reports quote what a policy admits (``from app=cart in namespace shop on 6379/TCP``); the
text is made from the compiled :mod:`recommender.netpol.model` objects, with the terms in
the order the source wrote them (:attr:`Selector.written_requirements`,
:attr:`IPBlock.written`), so a policy reads as its author wrote it whatever its dialect.
"""

from __future__ import annotations

from .model import NS_NAME_LABEL, Action, FQDNMatch, IPBlock, Peer, PortMatch, Rule, Selector

__all__ = [
    "MAX_BLOCKS",
    "block_text",
    "fqdn_text",
    "namespaces_text",
    "peer_text",
    "ports_text",
    "rule_text",
    "selector_text",
]

#: ipBlock peers of one rule listed one by one; more are summarized.
MAX_BLOCKS = 3


def selector_text(selector: Selector | None) -> str:
    """A label selector as kubectl writes one (``app=web,tier in (a,b),!canary``); "" for
    the empty selector, which selects everything."""
    if selector is None:
        return ""
    parts = [f"{k}={v}" for k, v in selector.match_labels]
    for req in selector.written_requirements:
        values = ",".join(sorted(req.values))
        if req.operator == "In":
            parts.append(f"{req.key} in ({values})")
        elif req.operator == "NotIn":
            parts.append(f"{req.key} notin ({values})")
        elif req.operator == "Exists":
            parts.append(req.key)
        else:
            parts.append(f"!{req.key}")
    return ",".join(parts)


def namespaces_text(selector: Selector) -> str:
    """The namespaces a namespace selector picks: ``every namespace``, ``namespace data``,
    ``namespaces a, b`` (by name) or ``namespaces with team=x``."""
    labels, reqs = selector.match_labels, selector.written_requirements
    if not labels and not reqs:
        return "every namespace"
    if not reqs and [key for key, _ in labels] == [NS_NAME_LABEL]:
        return f"namespace {labels[0][1]}"
    if not labels and len(reqs) == 1:
        req = reqs[0]
        if req.key == NS_NAME_LABEL and req.operator == "In":
            return "namespaces " + ", ".join(sorted(req.values))
    return f"namespaces with {selector_text(selector)}"


def block_text(block: IPBlock) -> str:
    """An address block as written: ``10.0.0.0/8 except 10.1.0.0/16``; three excepts or
    more are counted."""
    cidr, excepts = block.cidr_text, block.except_texts
    if not excepts:
        return cidr
    if len(excepts) <= 2:
        return f"{cidr} except {', '.join(excepts)}"
    return f"{cidr} except {len(excepts)} ranges ({excepts[0]}, {excepts[1]}, ...)"


def fqdn_text(match: FQDNMatch) -> str:
    """A ``toFQDNs`` entry: ``DNS name api.x.com`` or ``DNS names matching *.x.com``."""
    if match.name is not None:
        return f"DNS name {match.name}"
    return f"DNS names matching {match.pattern}"


def _pods_text(peer: Peer, policy_ns: str | None) -> str:
    """Pods by selectors; a cluster-scoped policy's pod selector alone means every
    namespace."""
    who = selector_text(peer.pods) or "every pod"
    if peer.namespaces is not None:
        where = namespaces_text(peer.namespaces)
    else:
        where = "every namespace" if policy_ns is None else f"namespace {policy_ns}"
    return f"{who} in {where}"


def peer_text(peer: Peer, policy_ns: str | None) -> str:
    """Who a peer admits, e.g. ``app=cart in namespace shop``, ``every pod in every
    namespace``, ``Cilium entity world``, ``DNS name api.x.com``, ``nodes with
    role=infra``, ``app=x in every namespace with an address in 10.0.0.0/8`` (a block with
    a selector: both must match), or the block alone (:func:`block_text`).
    ``policy_ns``: the policy's namespace, None for a cluster-scoped policy."""
    if peer.entity is not None:
        return f"Cilium entity {peer.entity}"
    if peer.fqdn is not None:
        return fqdn_text(peer.fqdn)
    if peer.nodes is not None:
        labels = selector_text(peer.nodes)
        return f"nodes with {labels}" if labels else "every node"
    if peer.block is not None:
        if peer.pods is None and peer.namespaces is None:
            return block_text(peer.block)
        return f"{_pods_text(peer, policy_ns)} with an address in {block_text(peer.block)}"
    return _pods_text(peer, policy_ns)


def _port_text(port: PortMatch) -> str:
    if port.name is not None:
        return f"named port {port.name}/{port.protocol}"
    if port.start is None:
        return f"every {port.protocol} port"
    if port.written_as_range:
        return f"{port.start}-{port.end}/{port.protocol}"
    return f"{port.start}/{port.protocol}"


def ports_text(ports: tuple[PortMatch, ...] | None) -> str:
    """Port matches in words: ``6379/TCP``, ``8000-8100/TCP``, ``named port metrics/TCP``,
    ``every UDP port``; "every port" when there are none."""
    if not ports:
        return "every port"
    return ", ".join(_port_text(p) for p in ports)


def rule_text(rule: Rule, policy_ns: str | None) -> str:
    """One ingress or egress rule in words, e.g. ``from app=cart in namespace shop on
    6379/TCP``, ``from anyone on 443/TCP`` (any peer), ``to 10.0.0.0/8 on every port``; a
    deny or pass rule says so first (``deny to Cilium entity world on every port``).
    ``policy_ns``: the policy's namespace, None for a cluster-scoped policy."""
    ingress = rule.direction == "ingress"
    if not rule.peers:
        who = "anyone" if ingress else "anywhere"
    else:
        blocks = [p.block for p in rule.peers if _bare_block(p)]
        texts = [peer_text(p, policy_ns) for p in rule.peers if not _bare_block(p)]
        if len(blocks) > MAX_BLOCKS:
            shown = ", ".join(block_text(b) for b in blocks[:2])  # type: ignore[arg-type]
            texts.append(f"{len(blocks)} address blocks ({shown}, ...)")
        else:
            texts += [block_text(b) for b in blocks]  # type: ignore[arg-type]
        who = " or ".join(texts)
    action = "" if rule.action == Action.ALLOW else f"{rule.action.value} "
    return f"{action}{'from' if ingress else 'to'} {who} on {ports_text(rule.ports)}"


def _bare_block(peer: Peer) -> bool:
    """An address block with no selector: listed (and summarized) with the other blocks."""
    return peer.block is not None and peer.pods is None and peer.namespaces is None
