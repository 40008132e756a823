"""A proposal fitted onto the policies a repository already has (``recommend --existing``).

The existing policies are part of the proof: what they already allow needs nothing new.
For each workload and direction, the fit keeps the synthesized policy whole when no
existing policy isolates the workload yet, and otherwise only the rules (peers and ports
cut to what is needed) for the observed connections that direction denies. Objects this
tool manages (label ``app.kubernetes.io/managed-by``) are replaced by their new version,
their rules kept and the additions appended; a hand-written object never changes: an
addition beside it goes into a new managed object of its own name. A namespace
default-deny is proposed only where a workload gets a whole new policy (where every
observed workload is already isolated it would change nothing observed).
"""

from __future__ import annotations

import copy
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from .generate.ir import PolicyIR, PortSpec, Rule
from .generate.k8s import MANAGED_BY, render_policy
from .netpol.breadth import Breadth
from .netpol.evaluator import Evaluator
from .policy_files import load_policies
from .verify import PodIndex, address_endpoint

MANAGED_LABEL = "app.kubernetes.io/managed-by"
DIRECTIONS = ("ingress", "egress")
#: (peer id, protocol, port) a workload's direction must admit
Need = tuple[str, str, int]


@dataclass
class Existing:
    """Policies read from a repository: the objects, what reading noted, and the objects of
    kinds the reader does not know (kept, their effect unknown)."""

    policies: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


def load_existing(paths: Iterable[str | os.PathLike]) -> Existing:
    """Read every path (files or directories, multi-document YAML, ``List``s)."""
    out = Existing([])
    for path in paths:
        policies, notes = load_policies(path)
        out.policies += policies
        out.notes += notes
        out.unknown += [n for n in notes if n.endswith(" ignored")]
        out.paths.append(os.fspath(path))
    return out


def as_existing(existing: Existing | Sequence[dict[str, Any]]) -> Existing:
    """Policy dicts, or an :class:`Existing` as is."""
    return existing if isinstance(existing, Existing) else Existing(list(existing))


def key_of(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "default", meta.get("name") or "")


def is_managed(obj: dict[str, Any]) -> bool:
    """Whether this tool wrote the object (and may write its next version)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_LABEL) == MANAGED_BY


@dataclass
class Measure:
    """Coverage and breadth of one policy set over the observed connections."""

    coverage: float
    covered: int
    judged: int
    breadth: Breadth

    def to_dict(self) -> dict[str, Any]:
        return {
            "coverage": self.coverage,
            "covered_connections": self.covered,
            "connections": self.judged,
            "breadth": self.breadth.total,
        }


@dataclass
class ExistingFit:
    """What the proposal changes in the existing set, and the figures before and after."""

    existing: Existing
    new: list[str]
    changed: list[str]
    before: Measure | None = None
    after: Measure | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "paths": sorted(self.existing.paths),
            "policies": len(self.existing.policies),
            "managed": sum(is_managed(p) for p in self.existing.policies),
            "unknown_objects": [
                {"object": u, "kept": True, "effect": "unknown"} for u in self.existing.unknown
            ],
            "new": self.new,
            "changed": self.changed,
            "before": self.before.to_dict() if self.before else None,
            "after": self.after.to_dict() if self.after else None,
        }


def isolation(pods: pd.DataFrame, evaluator: Evaluator) -> set[tuple[str, str]]:
    """(workload, direction) pairs where every observed pod of the workload is isolated."""
    index = PodIndex(pods)
    seen: dict[tuple[str, str], bool] = {}
    for row in pods.itertuples(index=False):
        if (row.namespace, row.pod) in index.unknown:
            continue
        ep = index.endpoint("pod", row.namespace, row.pod, None)
        wl = row.workload
        for d in DIRECTIONS:
            selected = bool(evaluator.policies_selecting(ep, d))
            seen[(wl, d)] = seen.get((wl, d), True) and selected
    return {k for k, v in seen.items() if v}


def needs(
    replayed: pd.DataFrame, evaluator: Evaluator, pods: pd.DataFrame, cluster: tuple[str, ...]
) -> dict[tuple[str, str], set[Need]]:
    """(workload, direction) -> what the existing policies deny there, per side."""
    index = PodIndex(pods)
    out: dict[tuple[str, str], set[Need]] = defaultdict(set)
    denied = replayed[~replayed["allowed"] & ~replayed["exempt"]]
    for r in denied.itertuples(index=False):
        ends = []
        for side in ("src", "dst"):
            kind, ns, pod, ip = (
                getattr(r, f"{side}_{k}") for k in ("kind", "namespace", "pod", "ip")
            )
            # the identity and DNS names an entity or toFQDNs peer is judged on
            reserved = getattr(r, f"{side}_reserved", None)
            names = getattr(r, "dst_names", ()) if side == "dst" else ()
            ends.append(
                index.endpoint(kind, ns, pod, ip)
                if kind == "pod"
                else address_endpoint(kind, ip, cluster, names, reserved)
            )
        verdict = evaluator.evaluate(ends[0], ends[1], r.protocol, int(r.port))
        if not verdict.egress.allowed:
            out[(r.src_workload, "egress")].add((r.dst_workload, r.protocol, int(r.port)))
        if not verdict.ingress.allowed:
            out[(r.dst_workload, "ingress")].add((r.src_workload, r.protocol, int(r.port)))
    return out


def cut_rules(rules: list[Rule], needed: set[Need]) -> list[Rule]:
    """The rules cut to the needed (peer, port)s: each kept peer with the ports it needs;
    peers needing the same ports share a rule."""
    by_ports: dict[tuple[PortSpec, ...], list] = defaultdict(list)
    for rule in rules:
        for peer in rule.peers:
            ids = {peer.id, *peer.members}
            ports = tuple(
                s
                for s in rule.ports
                if any(p in ids and pr == s.protocol and n in s.numbers() for p, pr, n in needed)
            )
            if ports:
                evidence = [e for e in rule.evidence if e.peer in ids]
                by_ports[ports].append((peer, evidence, rule.why))
    out = []
    for ports, entries in by_ports.items():
        peers = list(dict.fromkeys(p for p, _, _ in entries))
        evidence = [e for _, ev, _ in entries for e in ev]
        out.append(Rule(peers, list(ports), evidence, entries[0][2]))
    return out


@dataclass
class Fitted:
    """The fitted proposal: IR and objects in step, the union the proof runs over."""

    ir: list[PolicyIR]
    policies: list[dict[str, Any]]
    union: list[dict[str, Any]]
    new: list[str]
    changed: list[str]


def fit_policy(
    ir: PolicyIR, isolated: set[tuple[str, str]], need: dict[tuple[str, str], set[Need]]
) -> tuple[PolicyIR, list[str]] | None:
    """One synthesized workload policy fitted: (the IR, its policyTypes), or None when the
    existing policies already allow everything it would."""
    members = _members(ir)
    rules: dict[str, list[Rule]] = {}
    types = []
    for d in DIRECTIONS:
        whole = getattr(ir, d)
        if not all((m, d) in isolated for m in members):
            rules[d] = whole
            types.append(d.capitalize())
            continue
        wanted = set().union(*(need.get((m, d), set()) for m in members))
        rules[d] = cut_rules(whole, wanted) if wanted else []
        if rules[d]:
            types.append(d.capitalize())
    if not types:
        return None
    return replace(ir, ingress=rules["ingress"], egress=rules["egress"]), types


def _members(ir: PolicyIR) -> tuple[str, ...]:
    return ir.members or ((ir.workload,) if ir.workload else ())


def render_fitted(ir: PolicyIR, types: list[str]) -> dict[str, Any]:
    obj = render_policy(ir)
    obj["spec"]["policyTypes"] = types
    return obj


def merge_into(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The next version of a managed object: its rules kept, the new ones appended."""
    out = copy.deepcopy(old)
    spec = out.setdefault("spec", {})
    for d in ("ingress", "egress"):
        added = new["spec"].get(d) or []
        if added:
            spec[d] = [*(spec.get(d) or []), *added]
    types = list(spec.get("policyTypes") or [])
    spec["policyTypes"] = types + [t for t in new["spec"]["policyTypes"] if t not in types]
    return out


def fit(
    irs: list[PolicyIR],
    existing: Existing,
    isolated: set[tuple[str, str]],
    need: dict[tuple[str, str], set[Need]],
) -> Fitted:
    """The synthesized IR fitted onto ``existing`` (see the module docstring)."""
    fitted: list[tuple[PolicyIR, list[str]]] = []
    for ir in irs:
        if ir.role != "default-deny":
            got = fit_policy(ir, isolated, need)
            if got is not None:
                fitted.append(got)
    # Namespaces where a workload gets a whole new policy for some direction.
    whole = {
        ir.namespace
        for ir, types in fitted
        if any(not all((m, t.lower()) in isolated for m in _members(ir)) for t in types)
    }
    denies = [
        (ir, ["Ingress", "Egress"])
        for ir in irs
        if ir.role == "default-deny" and ir.namespace in whole
    ]
    return _place([*denies, *fitted], existing)


def _place(fitted: list[tuple[PolicyIR, list[str]]], existing: Existing) -> Fitted:
    """Name each fitted policy beside the existing ones: a hand-written name is never
    reused, a managed one gets its next version."""
    by_key = {key_of(p): p for p in existing.policies}
    replaced: dict[tuple[str, str], dict[str, Any]] = {}
    out = Fitted([], [], [], [], [])
    order = sorted(fitted, key=lambda f: (f[0].namespace, f[0].role != "default-deny", f[0].name))
    for ir, types in order:
        name = ir.name
        while (ir.namespace, name) in by_key and not is_managed(by_key[(ir.namespace, name)]):
            name = f"{name}-additions"
        ir = replace(ir, name=name)
        obj = render_fitted(ir, types)
        old = by_key.get((ir.namespace, name))
        label = f"{ir.namespace}/{name}"
        if old is not None:
            obj = merge_into(old, obj)
            if obj == old:
                continue
            replaced[(ir.namespace, name)] = obj
            out.changed.append(label)
        else:
            out.new.append(label)
        out.ir.append(ir)
        out.policies.append(obj)
    kept = [replaced.get(key_of(p), p) for p in existing.policies]
    out.union = kept + [p for p in out.policies if key_of(p) not in replaced]
    return out
