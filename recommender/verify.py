"""Replay observed connections against policies; measure coverage and breadth.

Coverage: the share of observed connections that the policies allow; a proposal is
written only at 100%. Breadth: what the policies allow that was never observed, over the
known universe (every known workload x every known workload x every observed port, plus
the external addresses each ipBlock admits). Both are measured by the independent
evaluator in :mod:`recommender.semantics`, never by the generator's own bookkeeping.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .semantics import Endpoint, Evaluator

#: Node and host sources: NetworkPolicy cannot select them, and the resident node always
#: reaches its pods (kubelet probes). They are reported, not replayed.
EXEMPT_SOURCE_KINDS = ("node", "host_network_pod")
DNS_PORTS = (("UDP", 53), ("TCP", 53))


def _freeze(labels: Any) -> tuple[tuple[str, str], ...]:
    if labels is None:
        return ()
    return tuple(sorted(dict(labels).items()))


def _namespace_labels(namespace: str, labels: Any) -> dict[str, str]:
    out = dict(labels or {})
    out.setdefault("kubernetes.io/metadata.name", namespace)
    return out


@dataclass
class PodIndex:
    """Labels and namespace labels of every known pod, for building endpoints."""

    pods: pd.DataFrame
    _by_key: dict = field(default_factory=dict, init=False)
    unknown: set = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        for row in self.pods.itertuples(index=False):
            if row.labels is None:
                self.unknown.add((row.namespace, row.pod))
            self._by_key[(row.namespace, row.pod)] = Endpoint(
                kind="pod",
                ip=row.ips[0] if len(row.ips) else None,
                namespace=row.namespace,
                labels=dict(row.labels or {}),
                namespace_labels=_namespace_labels(row.namespace, row.namespace_labels),
                name=row.pod,
            )

    def endpoint(self, kind: str, namespace: Any, pod: Any, ip: Any) -> Endpoint:
        if kind == "pod":
            return self._by_key[(namespace, pod)]
        return Endpoint(kind=kind, ip=ip, name=ip)


def exemption(row: Any, index: PodIndex) -> str:
    """Why a connection is reported instead of judged, or "" when it is judged."""
    if row.src_kind in EXEMPT_SOURCE_KINDS:
        return "node source: always allowed from the resident node; not selectable"
    for side in ("src", "dst"):
        key = (getattr(row, f"{side}_namespace"), getattr(row, f"{side}_pod"))
        if getattr(row, f"{side}_kind") == "pod" and key in index.unknown:
            return f"pod labels unknown: {key[0]}/{key[1]} ({side}); no selector can name it"
    return ""


def replay(conns: pd.DataFrame, evaluator: Evaluator, pods: pd.DataFrame) -> pd.DataFrame:
    """Evaluate every pod-level connection; adds ``exempt``, ``allowed`` and ``reasons``."""
    index = PodIndex(pods)
    allowed, reasons, exempt = [], [], []
    for row in conns.itertuples(index=False):
        reason = exemption(row, index)
        if reason:
            exempt.append(True)
            allowed.append(True)
            reasons.append(reason)
            continue
        src = index.endpoint(row.src_kind, row.src_namespace, row.src_pod, row.src_ip)
        dst = index.endpoint(row.dst_kind, row.dst_namespace, row.dst_pod, row.dst_ip)
        verdict = evaluator.evaluate(src, dst, row.protocol, int(row.port))
        exempt.append(False)
        allowed.append(verdict.allowed)
        reasons.append("; ".join(verdict.explain()))
    out = conns.copy()
    out["exempt"] = exempt
    out["allowed"] = allowed
    out["reasons"] = reasons
    return out


def coverage(replayed: pd.DataFrame) -> tuple[float, int, int]:
    """(share allowed, allowed, total) over non-exempt connections; 1.0 when none."""
    judged = replayed[~replayed["exempt"]]
    total = len(judged)
    ok = int(judged["allowed"].sum())
    return (ok / total if total else 1.0), ok, total


@dataclass
class Breadth:
    """Allowed but never observed: in-cluster pairs and external addresses."""

    in_cluster: int
    universe: int
    external_addresses: int
    per_policy: dict[str, int]
    examples: list[dict[str, Any]]
    unbounded: list[str]

    @property
    def total(self) -> int:
        return self.in_cluster + self.external_addresses

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "in_cluster": self.in_cluster,
            "in_cluster_universe": self.universe,
            "external_addresses": self.external_addresses,
            "unbounded_rules": self.unbounded,
            "per_policy": dict(sorted(self.per_policy.items())),
            "examples": self.examples,
        }


def _workload_classes(pods: pd.DataFrame) -> dict[str, list[Endpoint]]:
    """Per workload, one endpoint per distinct (labels, namespace labels): equivalent pods
    get the same verdicts, so one stands for all."""
    classes: dict[str, dict[tuple, Endpoint]] = {}
    for row in pods.sort_values(["workload", "pod"]).itertuples(index=False):
        if row.labels is None:
            continue
        key = (_freeze(row.labels), _freeze(row.namespace_labels))
        bucket = classes.setdefault(row.workload, {})
        if key not in bucket:
            bucket[key] = Endpoint(
                kind="pod",
                ip=None,
                namespace=row.namespace,
                labels=dict(row.labels or {}),
                namespace_labels=_namespace_labels(row.namespace, row.namespace_labels),
                name=row.workload,
            )
    return {w: list(b.values()) for w, b in classes.items()}


def expected_pairs(wconns: pd.DataFrame, resolvers: list[str]) -> set[tuple[str, str, str, int]]:
    """Observed workload pairs, plus the DNS allowance every egress workload gets."""
    inner = wconns[(wconns["src_type"] == "workload") & (wconns["dst_type"] == "workload")]
    pairs = {
        (s, d, p, int(n))
        for s, d, p, n in zip(
            inner["src_id"], inner["dst_id"], inner["protocol"], inner["port"], strict=True
        )
    }
    with_egress = set(wconns.loc[wconns["src_type"] == "workload", "src_id"])
    for client in with_egress:
        for resolver in resolvers:
            for proto, port in DNS_PORTS:
                pairs.add((client, resolver, proto, port))
    return pairs


def measure_breadth(
    evaluator: Evaluator,
    pods: pd.DataFrame,
    wconns: pd.DataFrame,
    policies: list[dict[str, Any]],
    *,
    resolvers: list[str],
    namespaces: list[str] | None = None,
    max_examples: int = 10,
) -> Breadth:
    """Count what the policies allow beyond what was observed (DESIGN §5)."""
    classes = _workload_classes(pods)
    workloads = sorted(classes)
    inner = wconns[wconns["dst_type"] == "workload"]
    ports = sorted({(p, int(n)) for p, n in zip(inner["protocol"], inner["port"], strict=True)})
    ports = sorted(set(ports) | set(DNS_PORTS))
    expected = expected_pairs(wconns, resolvers)
    scope = set(namespaces) if namespaces else None

    per_policy: Counter = Counter()
    examples: list[dict[str, Any]] = []
    count = universe = 0
    for src in workloads:
        for dst in workloads:
            if scope is not None and not (
                src.split("/", 1)[0] in scope or dst.split("/", 1)[0] in scope
            ):
                continue
            for proto, port in ports:
                universe += 1
                if (src, dst, proto, port) in expected:
                    continue
                for s in classes[src]:
                    verdict = next(
                        (
                            v
                            for d in classes[dst]
                            if (v := evaluator.evaluate(s, d, proto, port)).allowed
                        ),
                        None,
                    )
                    if verdict is None:
                        continue
                    count += 1
                    names = {f"{r.namespace}/{r.policy}" for r in verdict.egress.allowed_by}
                    names |= {f"{r.namespace}/{r.policy}" for r in verdict.ingress.allowed_by}
                    if not verdict.egress.isolated:
                        names.add(f"(egress of {src} not isolated)")
                    if not verdict.ingress.isolated:
                        names.add(f"(ingress of {dst} not isolated)")
                    for name in names:
                        per_policy[name] += 1
                    if len(examples) < max_examples:
                        examples.append(
                            {
                                "src": src,
                                "dst": dst,
                                "protocol": proto,
                                "port": port,
                                "allowed_by": sorted(names),
                            }
                        )
                    break
    external, unbounded = _external_breadth(policies, wconns)
    for name, n in external.items():
        per_policy[name] += n
    return Breadth(count, universe, sum(external.values()), dict(per_policy), examples, unbounded)


def _external_breadth(
    policies: list[dict[str, Any]], wconns: pd.DataFrame
) -> tuple[Counter, list[str]]:
    """Addresses x ports admitted by ipBlocks beyond the (address, port) pairs observed."""
    observed = set()
    for row in wconns.itertuples(index=False):
        for side in ("src", "dst"):
            if getattr(row, f"{side}_type") != "workload":
                observed.add((getattr(row, f"{side}_id"), row.protocol, int(row.port)))
    per_policy: Counter = Counter()
    unbounded: list[str] = []
    for pol in policies:
        meta, spec = pol.get("metadata", {}), pol.get("spec", {})
        name = f"{meta.get('namespace')}/{meta.get('name')}"
        for direction, key in (("ingress", "from"), ("egress", "to")):
            for i, rule in enumerate(spec.get(direction) or []):
                ports = rule.get("ports") or []
                if not ports or not rule.get(key):
                    unbounded.append(f"{name} {direction}[{i}]")
                    continue
                for peer in rule[key]:
                    block = peer.get("ipBlock")
                    if not block:
                        continue
                    net = ipaddress.ip_network(block["cidr"], strict=False)
                    size = net.num_addresses - sum(
                        ipaddress.ip_network(e, strict=False).num_addresses
                        for e in block.get("except") or []
                    )
                    for port in ports:
                        proto = port.get("protocol", "TCP")
                        number = port.get("port")
                        end = port.get("endPort") or number
                        span = (end - number + 1) if isinstance(number, int) else 1
                        seen = 0
                        if net.num_addresses == 1 and span == 1:
                            seen = int((str(net.network_address), proto, number) in observed)
                        per_policy[name] += max(0, size * span - seen)
    return per_policy, unbounded
