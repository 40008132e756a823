"""Compiled policies in words: selectors, peers, address blocks, ports and rules.

Reports quote what a policy admits (``from app=cart in namespace shop on 6379/TCP``); the
text is made from the compiled :mod:`recommender.netpol.model` objects, with the terms in
the order the source wrote them (:attr:`Selector.written_requirements`,
:attr:`IPBlock.written`), so a policy reads as its author wrote it whatever its dialect.
"""

from __future__ import annotations

from .model import NS_NAME_LABEL, IPBlock, Peer, PortMatch, Rule, Selector

__all__ = [
    "MAX_BLOCKS",
    "block_text",
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


def peer_text(peer: Peer, policy_ns: str) -> str:
    """Pods a peer admits, e.g. ``app=cart in namespace shop``, ``every pod in every
    namespace`` (address blocks: :func:`block_text`)."""
    who = selector_text(peer.pods) or "every pod"
    where = (
        f"namespace {policy_ns}" if peer.namespaces is None else namespaces_text(peer.namespaces)
    )
    return f"{who} in {where}"


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


def rule_text(rule: Rule, policy_ns: str) -> str:
    """One ingress or egress rule in words, e.g. ``from app=cart in namespace shop on
    6379/TCP``, ``from anyone on 443/TCP`` (any peer), ``to 10.0.0.0/8 on every port``."""
    ingress = rule.direction == "ingress"
    if not rule.peers:
        who = "anyone" if ingress else "anywhere"
    else:
        blocks = [p.block for p in rule.peers if p.block is not None]
        texts = [peer_text(p, policy_ns) for p in rule.peers if p.block is None]
        if len(blocks) > MAX_BLOCKS:
            shown = ", ".join(block_text(b) for b in blocks[:2])
            texts.append(f"{len(blocks)} address blocks ({shown}, ...)")
        else:
            texts += [block_text(b) for b in blocks]
        who = " or ".join(texts)
    return f"{'from' if ingress else 'to'} {who} on {ports_text(rule.ports)}"
