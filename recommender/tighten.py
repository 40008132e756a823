"""Tighter replacements for existing policies, proven against the observed traffic.

For each NetworkPolicy with a rule that carried nothing over the observed window, or with an
unbounded rule (see :mod:`recommender.verify_report.findings`), a replacement: unused rules
dropped; in an unbounded rule, each unbounded peer (no ``from``/``to``, an ipBlock of
``0.0.0.0/0`` or ``::/0``, ``namespaceSelector: {}``) replaced by the peers observed through
the rule (each pod's workload by its minimal selector, :mod:`recommender.selectors`; each
address as a /32 or /128 ipBlock), and a rule without ``ports`` narrowed to the observed
ports. ``policyTypes`` is written out, so isolation stays what it was.

The proof replays every observed connection against the policies with the replacements: a
replacement that would deny a connection the originals allowed is withdrawn. Nothing is
applied: the replacements are written for review (``verify --tighten``).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .generate.k8s import to_yaml
from .netpol.evaluator import Evaluator, RuleRef
from .netpol.model import Policy
from .netpol.networkpolicy import PEER_FIELD, POLICY_TYPE_OF
from .proposal import write_atomic
from .selectors import namespace_selector, workload_selectors
from .verify_report.findings import unbounded_rules
from .verify_report.rules import RuleUse, carried, rule_uses

if TYPE_CHECKING:
    from .results import Observation, VerifyRun

__all__ = ["Tightened", "Tightening", "tighten", "write_tightening"]


@dataclass
class Tightened:
    """One policy's replacement and what it changes."""

    policy: str
    replacement: dict[str, Any]
    #: ``direction[index]`` of the rules dropped (carried nothing)
    dropped: list[str]
    #: ``direction[index]`` (original index) of the rules whose peers or ports were narrowed
    narrowed: list[str]
    breadth_before: int = 0
    breadth_after: int = 0
    #: per rule of the replacement: direction, rule, connections, flows it still carries
    carries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def path(self) -> Path:
        meta = self.replacement["metadata"]
        return Path("tighten") / meta["namespace"] / f"{meta['name']}.yaml"

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "path": self.path.as_posix(),
            "dropped": self.dropped,
            "narrowed": self.narrowed,
            "breadth": {"before": self.breadth_before, "after": self.breadth_after},
            "carries": self.carries,
        }


@dataclass
class Tightening:
    """The replacements and their proof: ``broken`` connections (allowed before, denied
    with the replacements) is 0 for what is proposed."""

    proposals: list[Tightened]
    judged: int
    allowed_before: int
    allowed_after: int
    broken: int
    #: policies whose replacement was withdrawn because it denied an observed connection
    withdrawn: list[str] = field(default_factory=list)
    #: records of traffic at risk (:mod:`recommender.at_risk`: never judged, so outside the
    #: proof) that the policies deny, before and after: a rise is traffic the proof cannot see
    at_risk_before: int = 0
    at_risk_after: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "proposals": [t.to_dict() for t in self.proposals],
            "proof": {
                "judged": self.judged,
                "allowed_before": self.allowed_before,
                "allowed_after": self.allowed_after,
                "broken": self.broken,
                "at_risk_records": {"before": self.at_risk_before, "after": self.at_risk_after},
            },
            "withdrawn": self.withdrawn,
        }


def _key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata", {})
    return f"{meta.get('namespace')}/{meta.get('name')}"


def _unbounded_peer(peer: dict[str, Any]) -> bool:
    """A peer that admits a whole kind: every address, or every namespace."""
    block = peer.get("ipBlock")
    if block is not None:
        try:
            return ipaddress.ip_network(block.get("cidr", ""), strict=False).prefixlen == 0
        except ValueError:
            return False
    ns = peer.get("namespaceSelector")
    return ns is not None and not ns.get("matchLabels") and not ns.get("matchExpressions")


@dataclass
class _Observed:
    """What one rule carried: its peers as NetworkPolicy peers, and its ports."""

    peers: list[dict[str, Any]]
    ports: list[dict[str, Any]] | None  # None: a port-less connection (not expressible)


def _observed(rows: pd.DataFrame, direction: str, selections: dict) -> _Observed | None:
    """The peers and ports of the connections one rule carried; None when a peer cannot be
    written down exactly (a named address set, a pod of no known selector)."""
    side = "src" if direction == "ingress" else "dst"
    peers: dict[str, dict[str, Any]] = {}
    for kind, workload, ip in zip(
        rows[f"{side}_kind"], rows[f"{side}_workload"], rows[f"{side}_ip"], strict=True
    ):
        if kind == "pod":
            sel = selections.get(workload)
            if sel is None or not sel.known:
                return None
            ns = str(workload).split("/", 1)[0]
            peer = {
                "namespaceSelector": {"matchLabels": namespace_selector(ns)},
                "podSelector": sel.label_selector(),
            }
        else:
            try:
                addr = ipaddress.ip_address(ip)
            except (TypeError, ValueError):
                return None
            peer = {"ipBlock": {"cidr": f"{addr}/{addr.max_prefixlen}"}}
        peers.setdefault(json.dumps(peer, sort_keys=True), peer)
    ports: list[dict[str, Any]] | None = []
    for proto, port in sorted(set(zip(rows["protocol"], rows["port"], strict=True))):
        if port is None or pd.isna(port) or int(port) < 0:
            ports = None
            break
        ports.append({"protocol": str(proto), "port": int(port)})  # type: ignore[union-attr]
    return _Observed([peers[k] for k in sorted(peers)], ports)


def _narrow(rule: dict[str, Any], direction: str, seen: _Observed) -> dict[str, Any]:
    """``rule`` with its unbounded peers replaced by the observed ones and, without
    ``ports``, the observed ports."""
    out = copy.deepcopy(rule)
    name = PEER_FIELD[direction]
    peers = rule.get(name)
    if not peers:
        out[name] = seen.peers
    elif any(_unbounded_peer(p) for p in peers):
        kept = [p for p in peers if not _unbounded_peer(p)]
        out[name] = kept + [p for p in seen.peers if p not in kept]
    if "ports" not in rule and seen.ports is not None:
        out["ports"] = seen.ports
    return out


def _carried_rows(replayed: pd.DataFrame, ref: RuleRef) -> pd.DataFrame:
    ok = replayed[~replayed["exempt"] & replayed["allowed"]]
    return ok[[ref in refs for refs in ok["allowed_by"]]]


def _replacement(
    obj: dict[str, Any],
    policy: Policy,
    uses: Sequence[RuleUse],
    replayed: pd.DataFrame,
    selections: dict,
) -> Tightened | None:
    """The tighter policy for ``obj``, or None when nothing in it can be tightened."""
    spec = copy.deepcopy(obj.get("spec", {}))
    dropped: list[str] = []
    narrowed: list[str] = []
    for direction in ("ingress", "egress"):
        if direction not in policy.isolates:
            continue
        rules = spec.get(direction) or []
        kept = []
        for i, rule in enumerate(rules):
            use = next((u for u in uses if u.ref.direction == direction and u.ref.index == i), None)
            if use is not None and use.unused:
                dropped.append(f"{direction}[{i}]")
                continue
            if use is not None and use.unbounded:
                seen = _observed(_carried_rows(replayed, use.ref), direction, selections)
                new = rule if seen is None else _narrow(rule, direction, seen)
                if new != rule:
                    narrowed.append(f"{direction}[{i}]")
                rule = new
            kept.append(rule)
        if kept:
            spec[direction] = kept
        else:
            spec.pop(direction, None)
    if not dropped and not narrowed:
        return None
    spec["policyTypes"] = [POLICY_TYPE_OF[d] for d in ("ingress", "egress") if d in policy.isolates]
    out = copy.deepcopy(obj)
    out["spec"] = spec
    return Tightened(policy.key, out, dropped, narrowed)


def _proposals(run: VerifyRun) -> list[Tightened]:
    """A replacement for every NetworkPolicy with an unused or unbounded rule."""
    compiled = {p.key: p for p in Evaluator(run.policies).policies}
    uses = rule_uses(run, list(compiled.values()), unbounded_rules(list(compiled.values())))
    selections = workload_selectors(run.pods) if run.pods is not None else {}
    out = []
    for obj in run.policies:
        key = _key(obj)
        if obj.get("kind") != "NetworkPolicy" or key not in compiled:
            continue
        mine = [u for u in uses if u.policy == key]
        if not any(u.unused or u.unbounded for u in mine):
            continue
        t = _replacement(obj, compiled[key], mine, run.replayed, selections)
        if t is not None:
            out.append(t)
    return out


def _broken(before: pd.DataFrame, after: pd.DataFrame) -> np.ndarray:
    """Rows allowed (and judged) before that are denied after."""
    was = (~before["exempt"] & before["allowed"]).to_numpy()
    return was & ~after["allowed"].to_numpy()


def tighten(run: VerifyRun, observation: Observation) -> Tightening:
    """Replacements for the policies of ``run`` (replayed against ``observation``), each
    proven: with every replacement in place, no observed connection the policies allowed is
    denied (a replacement that would deny one is withdrawn)."""
    from .pipeline import check

    proposals = _proposals(run)
    withdrawn: list[str] = []
    while True:
        by_key = {t.policy: t.replacement for t in proposals}
        policies = [by_key.get(_key(p), p) for p in run.policies]
        after = check(policies, observation)
        broken = _broken(run.replayed, after.replayed)
        if not broken.any() or not proposals:
            break
        blamed = {
            f"{r.namespace}/{r.policy}"
            for refs in run.replayed["allowed_by"].to_numpy()[broken]
            for r in refs
        }
        drop = [t for t in proposals if t.policy in blamed] or proposals
        withdrawn += sorted(t.policy for t in drop)
        proposals = [t for t in proposals if t not in drop]
    _describe(proposals, run, after)
    judged = int((~run.replayed["exempt"]).sum())
    return Tightening(
        proposals,
        judged,
        run.covered,
        after.covered,
        int(broken.sum()),
        withdrawn,
        run.at_risk_records,
        after.at_risk_records,
    )


def _describe(proposals: list[Tightened], run: VerifyRun, after: VerifyRun) -> None:
    """Breadth before and after, and the traffic each replacement still carries."""
    conns, flows = carried(after.replayed)
    for t in proposals:
        t.breadth_before = run.breadth.per_policy.get(t.policy, 0)
        t.breadth_after = after.breadth.per_policy.get(t.policy, 0)
        ns, name = t.policy.split("/", 1)
        for direction in ("ingress", "egress"):
            for i, _ in enumerate(t.replacement["spec"].get(direction) or []):
                ref = RuleRef(ns, name, direction, i)
                t.carries.append(
                    {
                        "direction": direction,
                        "rule": i,
                        "connections": conns[ref],
                        "flows": flows[ref],
                        "breadth": after.breadth.per_rule.get(str(ref), 0),
                    }
                )


def write_tightening(result: Tightening, out: str | os.PathLike) -> list[Path]:
    """Write ``OUT/tighten/<ns>/<name>.yaml`` per replacement and ``OUT/tighten/proof.json``
    (removing replacements of an earlier run that this one no longer proposes); returns the
    paths written."""
    root = Path(out)
    written = []
    for t in result.proposals:
        write_atomic(root / t.path, to_yaml(t.replacement))
        written.append(root / t.path)
    folder = root / "tighten"
    for stale in sorted(folder.rglob("*.yaml")):
        if stale not in written:  # a replacement an earlier run proposed and this one does not
            stale.unlink()
    proof = folder / "proof.json"
    write_atomic(proof, json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n")
    return [*written, proof]
