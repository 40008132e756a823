"""What the proof evaluates for a proposal: its NetworkPolicy renderings, with egress by
DNS name compiled as the model's FQDN peers.

A proposal is proven by replaying the observed connections through the policies it
renders (:func:`recommender.pipeline.propose`). NetworkPolicy has no peer for a DNS name,
so an IR ``fqdn`` peer (``--external fqdn``, stated by kinds with FQDN support) is compiled
straight into :class:`recommender.netpol.model.Peer` ``fqdn`` (``FQDNMatch``: ``name`` for
an observed name, ``pattern`` for ``*.<parent>``), judged against the names the
destination was reached by. Every other peer and every port goes through the NetworkPolicy
reader as before, so a proposal without fqdn peers is proven exactly as it always was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..netpol import model
from ..netpol.networkpolicy import compile_policy
from .ir import Peer, PolicyIR, Rule
from .k8s import render_policy

#: What an fqdn peer is rendered as before its compiled peer is swapped in: any peer the
#: NetworkPolicy reader compiles (one rendered peer per IR peer, in order).
_PLACEHOLDER = Peer("address", "0.0.0.0", None, (), "external")


def fqdn_match(peer_id: str) -> model.FQDNMatch:
    """``*`` in the id: a ``matchPattern``; else a ``matchName``."""
    if "*" in peer_id:
        return model.FQDNMatch(pattern=peer_id)
    return model.FQDNMatch(name=peer_id)


def has_fqdn(ir: PolicyIR) -> bool:
    return any(p.kind == "fqdn" for r in ir.egress for p in r.peers)


def proof_policies(
    irs: Sequence[PolicyIR], rendered: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]] | list[model.Policy]:
    """The policies the proof evaluates: ``rendered`` (the NetworkPolicy dicts of ``irs``,
    in the same order) as they are when no IR has an fqdn peer; else every policy
    compiled, those with fqdn peers from their IR as described above."""
    if not any(has_fqdn(ir) for ir in irs):
        return list(rendered)
    return [
        _compiled(ir, position) if has_fqdn(ir) else compile_policy(obj, position)
        for position, (ir, obj) in enumerate(zip(irs, rendered, strict=True))
    ]


def _compiled(ir: PolicyIR, position: int) -> model.Policy:
    placeheld = [
        Rule([_PLACEHOLDER if p.kind == "fqdn" else p for p in r.peers], r.ports, r.evidence)
        for r in ir.egress
    ]
    policy = compile_policy(render_policy(replace(ir, egress=placeheld)), position)
    egress = iter(ir.egress)
    rules = []
    for rule in policy.rules:
        if rule.direction == "egress":
            written = next(egress)
            peers = tuple(
                model.Peer(fqdn=fqdn_match(p.id)) if p.kind == "fqdn" else compiled
                for p, compiled in zip(written.peers, rule.peers or (), strict=True)
            )
            rule = replace(rule, peers=peers)
        rules.append(rule)
    return replace(policy, rules=tuple(rules))
