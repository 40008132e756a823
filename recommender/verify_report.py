"""The ``verify`` report: what a policy change would break, in a form a person can act on.

From a :class:`~recommender.pipeline.VerifyRun` to

* **denied groups**: the denied connections grouped by (source, destination, protocol,
  port), where a source or destination that is not a pod (internet clients, bare addresses)
  collapses by kind into one group with its address count, public/private split and a few
  covering CIDRs; each group counts connections, pairs and flows and explains once, per
  denying side, which policies isolate that side and what they *do* admit;
* **unbounded rules**: rules that admit every peer, every address (``0.0.0.0/0``), every
  namespace, every port of an ipBlock, and workloads with no egress (or ingress) isolation,
  which breadth cannot count and would otherwise read as "external 0";
* **warnings**: policies that select no known pod (namespace never seen, selector matching
  none of the namespace's pods) and rules ignored because their direction is not in
  ``policyTypes``;
* **exemptions**: connections reported instead of judged (node/kubelet sources, ...).

Text is deterministic and terminal-safe (:func:`~recommender.validate.printable`); the JSON
document carries the same facts plus every replayed connection.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from .address_sets import PRIVATE_V4, PRIVATE_V6
from .netpol.classes import PolicyIndex
from .netpol.endpoints import pod_endpoint
from .netpol.evaluator import Evaluator
from .netpol.model import NS_NAME_LABEL, Endpoint
from .netpol.networkpolicy import policy_types, selector_matches
from .validate import printable
from .verify import PodIndex, pod_classes

if TYPE_CHECKING:
    from .results import VerifyRun

__all__ = [
    "AddressSummary",
    "Denial",
    "DeniedGroup",
    "Exempted",
    "Finding",
    "covering_cidrs",
    "denied_groups",
    "exemptions",
    "headline_json",
    "headline_lines",
    "isolation_findings",
    "node_source_exemptions",
    "policy_warnings",
    "ports_text",
    "report_json",
    "report_lines",
    "rule_text",
    "selector_text",
    "summarize_addresses",
    "unbounded_rules",
]

#: At most this many CIDRs cover the addresses of one group (the tightest such cover).
MAX_COVER = 4
#: Rules described per denying side; the rest are counted.
MAX_RULES = 6
#: ipBlock peers of one rule listed one by one; more are summarized.
MAX_BLOCKS = 3
#: Denied groups and not-isolated workloads printed as text (``--json`` has them all).
MAX_TEXT_GROUPS = 100
MAX_TEXT_NAMES = 10
#: Distinct label values shown when a selector matches no pod.
MAX_VALUES = 5

_TYPE_OF = {"ingress": "Ingress", "egress": "Egress"}
_PEER_KEY = {"ingress": "from", "egress": "to"}
_PRIVATE = [
    (net.version, int(net.network_address), int(net.broadcast_address))
    for net in map(ipaddress.ip_network, (*PRIVATE_V4, *PRIVATE_V6))
]
_BITS = {4: 32, 6: 128}
_NETWORK = {4: ipaddress.IPv4Network, 6: ipaddress.IPv6Network}
#: Prefix of a "network" when counting how spread addresses are (as the generator counts
#: the sources of a public-facing port).
_NETWORK_PREFIX = {4: 16, 6: 32}
#: Exemption reasons from :mod:`recommender.verify` start with this for node sources.
_NODE_PREFIX = "node source"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


# --------------------------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------------------------


def _parse(ip: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return ip
    try:
        addr = ipaddress.ip_address(str(ip).strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.scope_id:
        return None
    return addr


def _enclosing(version: int, points: list[int], lo: int, hi: int) -> tuple[int, ...]:
    """(unobserved, version, network, host bits, lo, hi): the smallest CIDR around
    ``points[lo:hi]`` (sorted) and how many addresses it holds that were not observed."""
    first, last = points[lo], points[hi - 1]
    host = (first ^ last).bit_length()
    size = 1 << host
    return (size - (hi - lo), version, first & ~(size - 1), host, lo, hi)


def covering_cidrs(addresses: Iterable[Any], limit: int = MAX_COVER) -> tuple[str, ...]:
    """At most ``limit`` (>= 2) CIDRs holding every parseable address, IPv4 before IPv6 in
    address order: the tightest such cover in the sense of the CIDR aggregation of
    :mod:`recommender.generate.external` (each CIDR the smallest around what it covers, split
    in halves while it admits more never-observed addresses than the budget), at the smallest
    budget that needs no more than ``limit`` CIDRs. Found top-down by splitting the CIDRs with
    the most unobserved addresses first: ``limit`` rounds at most, whatever the count."""
    if limit < 2:
        raise ValueError("limit must be at least 2 (one CIDR per address family)")
    family: dict[int, set[int]] = {4: set(), 6: set()}
    for text in addresses:
        addr = _parse(text)
        if addr is not None:
            family[addr.version].add(int(addr))
    points = {v: sorted(found) for v, found in family.items()}
    current = [_enclosing(v, p, 0, len(p)) for v, p in points.items() if p]
    while current:
        most = max(node[0] for node in current)
        if most == 0:
            break
        # The cover at budget most - 1: split every CIDR above it, down to below it.
        split, stack = [], list(current)
        while stack:
            node = stack.pop()
            if node[0] < most:
                split.append(node)
                continue
            _, version, net, host, lo, hi = node
            mid = bisect_left(points[version], net + (1 << (host - 1)), lo, hi)
            stack += [
                _enclosing(version, points[version], lo, mid),
                _enclosing(version, points[version], mid, hi),
            ]
        if len(split) > limit:
            break
        current = split
    current.sort(key=lambda node: (node[1], node[2]))
    return tuple(
        str(_NETWORK[version]((net, _BITS[version] - host)))
        for _, version, net, host, _, _ in current
    )


@dataclass(frozen=True)
class AddressSummary:
    """The non-pod ends of one group: how many, public or private, and where."""

    kind: str
    #: distinct addresses
    count: int
    public: int
    private: int
    cidrs: tuple[str, ...]
    #: distinct networks they come from: /16 for IPv4, /32 for IPv6
    networks: int = 0
    #: ends whose address does not parse, or that have none (a named set): their names
    other: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = []
        if self.count:
            parts.append(
                f"{_plural(self.count, 'address', 'addresses')} ({self.public} public, "
                f"{self.private} private) from {_plural(self.networks, 'network')}"
            )
        if self.cidrs:
            parts.append("covering CIDRs " + ", ".join(self.cidrs))
        if self.other:
            shown = ", ".join(self.other[:MAX_TEXT_NAMES])
            more = len(self.other) - MAX_TEXT_NAMES
            parts.append(
                f"{_plural(len(self.other), 'named end')} without an address: {shown}"
                + (f" and {more} more" if more > 0 else "")
            )
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "count": self.count,
            "public": self.public,
            "private": self.private,
            "networks": self.networks,
            "cidrs": list(self.cidrs),
            "without_address": list(self.other),
        }


def summarize_addresses(kind: str, ips: Iterable[Any]) -> AddressSummary:
    """Distinct addresses of one kind: counts, public/private (RFC 1918, CGNAT, loopback,
    link-local, unique-local), networks (/16, IPv6 /32) and the covering CIDRs
    (:func:`covering_cidrs`)."""
    good: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    other: set[str] = set()
    for ip in ips:
        addr = None if ip is None or (isinstance(ip, float) and ip != ip) else _parse(ip)
        if addr is None:
            other.add("?" if ip is None or (isinstance(ip, float) and ip != ip) else str(ip))
        else:
            good.add(addr)
    values = [(a.version, int(a)) for a in good]
    private = sum(1 for v, n in values if any(v == pv and lo <= n <= hi for pv, lo, hi in _PRIVATE))
    networks = {(v, n >> (_BITS[v] - _NETWORK_PREFIX[v])) for v, n in values}
    return AddressSummary(
        kind=kind,
        count=len(good),
        public=len(good) - private,
        private=private,
        cidrs=covering_cidrs(good),
        networks=len(networks),
        other=tuple(sorted(other)),
    )


# --------------------------------------------------------------------------------------------
# Policies in words
# --------------------------------------------------------------------------------------------


def selector_text(selector: Mapping[str, Any] | None) -> str:
    """A LabelSelector as kubectl writes one (``app=web,tier in (a,b),!canary``); "" for
    the empty selector, which selects everything."""
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op = expr.get("key"), expr.get("operator")
        values = ",".join(sorted(str(v) for v in expr.get("values") or []))
        if op == "In":
            parts.append(f"{key} in ({values})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif op == "Exists":
            parts.append(str(key))
        else:
            parts.append(f"!{key}")
    return ",".join(parts)


def _namespaces_text(selector: Mapping[str, Any]) -> str:
    labels = selector.get("matchLabels") or {}
    exprs = selector.get("matchExpressions") or []
    if not labels and not exprs:
        return "every namespace"
    if not exprs and list(labels) == [NS_NAME_LABEL]:
        return f"namespace {labels[NS_NAME_LABEL]}"
    if not labels and len(exprs) == 1:
        expr = exprs[0]
        if expr.get("key") == NS_NAME_LABEL and expr.get("operator") == "In":
            return "namespaces " + ", ".join(sorted(expr.get("values") or []))
    return f"namespaces with {selector_text(selector)}"


def _block_text(block: Mapping[str, Any]) -> str:
    cidr = str(block.get("cidr"))
    excepts = [str(e) for e in block.get("except") or []]
    if not excepts:
        return cidr
    if len(excepts) <= 2:
        return f"{cidr} except {', '.join(excepts)}"
    return f"{cidr} except {len(excepts)} ranges ({excepts[0]}, {excepts[1]}, ...)"


def _peer_text(peer: Mapping[str, Any], policy_ns: str) -> str:
    pod_sel, ns_sel = peer.get("podSelector"), peer.get("namespaceSelector")
    who = (selector_text(pod_sel) if pod_sel is not None else "") or "every pod"
    where = f"namespace {policy_ns}" if ns_sel is None else _namespaces_text(ns_sel)
    return f"{who} in {where}"


def ports_text(ports: Sequence[Mapping[str, Any]] | None) -> str:
    """NetworkPolicyPorts in words: ``6379/TCP``, ``8000-8100/TCP``, ``named port
    metrics/TCP``, ``every UDP port``; "every port" when there are none."""
    if not ports:
        return "every port"
    out = []
    for p in ports:
        proto = (p or {}).get("protocol") or "TCP"
        port, end = (p or {}).get("port"), (p or {}).get("endPort")
        if port is None:
            out.append(f"every {proto} port")
        elif isinstance(port, str):
            out.append(f"named port {port}/{proto}")
        elif end is not None:
            out.append(f"{port}-{end}/{proto}")
        else:
            out.append(f"{port}/{proto}")
    return ", ".join(out)


def rule_text(rule: Mapping[str, Any] | None, direction: str, policy_ns: str) -> str:
    """One ingress or egress rule in words, e.g. ``from app=cart in namespace shop on
    6379/TCP``, ``from anyone on 443/TCP`` (no ``from``), ``to 10.0.0.0/8 on every port``."""
    rule = rule or {}
    word = "from" if direction == "ingress" else "to"
    peers = list(rule.get(_PEER_KEY[direction]) or [])
    if not peers:
        who = "anyone" if direction == "ingress" else "anywhere"
    else:
        blocks = [p["ipBlock"] for p in peers if p.get("ipBlock")]
        texts = [_peer_text(p, policy_ns) for p in peers if not p.get("ipBlock")]
        if len(blocks) > MAX_BLOCKS:
            shown = ", ".join(_block_text(b) for b in blocks[:2])
            texts.append(f"{len(blocks)} address blocks ({shown}, ...)")
        else:
            texts += [_block_text(b) for b in blocks]
        who = " or ".join(texts)
    return f"{word} {who} on {ports_text(rule.get('ports'))}"


def _key(policy: Mapping[str, Any]) -> str:
    meta = policy.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name')}"


def _namespace(policy: Mapping[str, Any]) -> str:
    return (policy.get("metadata") or {}).get("namespace") or "default"


def _rules(policy: Mapping[str, Any], direction: str) -> list[Mapping[str, Any] | None]:
    """The rules of one direction that count: none when the direction is not in the
    policy's effective ``policyTypes`` (Kubernetes ignores them)."""
    if _TYPE_OF[direction] not in policy_types(policy):
        return []
    return list((policy.get("spec") or {}).get(direction) or [])


@dataclass(frozen=True)
class Denial:
    """One denying side: ``subject`` is isolated for ``direction`` by ``isolated_by``, whose
    rules admit only ``admits`` (empty: nothing at all)."""

    direction: str
    subject: str
    isolated_by: tuple[str, ...]
    admits: tuple[str, ...]

    def describe(self) -> str:
        pols = ", ".join(self.isolated_by)
        they = "it admits" if len(self.isolated_by) == 1 else "they admit"
        head = f"{self.subject} is isolated for {self.direction} by {pols}; "
        if not self.admits:
            return head + f"{they} no {self.direction} at all"
        shown = "; ".join(self.admits[:MAX_RULES])
        more = len(self.admits) - MAX_RULES
        return head + f"{they} only {shown}" + (f"; and {more} more rules" if more > 0 else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "subject": self.subject,
            "isolated_by": list(self.isolated_by),
            "admits": list(self.admits),
            "text": self.describe(),
        }


def _denial(
    direction: str, subject: str, isolated_by: Sequence[str], by_key: Mapping[str, Mapping]
) -> Denial:
    admits: list[str] = []
    for key in isolated_by:
        policy = by_key.get(key)
        if policy is None:
            continue
        for rule in _rules(policy, direction):
            text = rule_text(rule, direction, _namespace(policy))
            if text not in admits:
                admits.append(text)
    return Denial(direction, subject, tuple(isolated_by), tuple(admits))


# --------------------------------------------------------------------------------------------
# Denied groups
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeniedGroup:
    """Denied connections of one (source, destination, protocol, port); a non-pod side is
    every address of its kind (``source_addresses`` / ``destination_addresses``)."""

    source: str
    source_kind: str
    destination: str
    destination_kind: str
    protocol: str
    port: int | None
    connections: int
    #: distinct (source end, destination end) pairs: pods by name, addresses by address
    pairs: int
    flows: int
    denials: tuple[Denial, ...]
    source_addresses: AddressSummary | None = None
    destination_addresses: AddressSummary | None = None

    @property
    def port_text(self) -> str:
        return self.protocol if self.port is None else f"{self.port}/{self.protocol}"

    def lines(self) -> list[str]:
        """Text lines (not yet escaped: see :func:`report_lines`)."""
        pair = "pod pair" if self.source_kind == self.destination_kind == "pod" else "pair"
        out = [
            f"  {self.source} -> {self.destination} [{self.port_text}]: "
            f"{_plural(self.pairs, pair)}, {_plural(self.flows, 'flow')}"
        ]
        if self.source_addresses is not None:
            out.append(f"      sources: {self.source_addresses.describe()}")
        if self.destination_addresses is not None:
            out.append(f"      destinations: {self.destination_addresses.describe()}")
        out += [f"      why: {d.describe()}" for d in self.denials]
        if not self.denials:
            out.append("      why: no policy side could be named (neither end is a known pod)")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "source_kind": self.source_kind,
            "destination": self.destination,
            "destination_kind": self.destination_kind,
            "protocol": self.protocol,
            "port": self.port,
            "connections": self.connections,
            "pairs": self.pairs,
            "flows": self.flows,
            "source_addresses": self.source_addresses.to_dict() if self.source_addresses else None,
            "destination_addresses": self.destination_addresses.to_dict()
            if self.destination_addresses
            else None,
            "why": [d.to_dict() for d in self.denials],
        }


def _side_label(workload: str | None, addresses: AddressSummary | None) -> str:
    """A pod side is its workload; an address side says how many ends of which kind."""
    if workload is not None or addresses is None:
        return str(workload)
    n = addresses.count + len(addresses.other)
    return f"{n} {addresses.kind} {'address' if n == 1 else 'addresses'}"


@dataclass
class _Acc:
    connections: int = 0
    flows: int = 0
    pairs: set = field(default_factory=set)
    src_ips: list = field(default_factory=list)
    dst_ips: list = field(default_factory=list)
    sides: dict = field(default_factory=dict)


def _port(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


_ROW_COLUMNS = (
    "src_kind",
    "src_namespace",
    "src_pod",
    "src_ip",
    "src_workload",
    "dst_kind",
    "dst_namespace",
    "dst_pod",
    "dst_ip",
    "dst_workload",
    "protocol",
    "port",
    "flows",
)


def denied_groups(run: VerifyRun, evaluator: Evaluator | None = None) -> list[DeniedGroup]:
    """The judged connections ``run`` denies, grouped and explained (pod sources first, then
    by source, destination, protocol, port)."""
    replayed = run.replayed
    denied = replayed[~replayed["allowed"] & ~replayed["exempt"]]
    if not len(denied):
        return []
    evaluator = evaluator or Evaluator(run.policies)
    by_key = {_key(p): p for p in run.policies}
    sides = _Sides(evaluator, run.pods, run.policies)
    accs: dict[tuple, _Acc] = defaultdict(_Acc)
    columns = [denied[c].tolist() for c in _ROW_COLUMNS]
    for (
        s_kind,
        s_ns,
        s_name,
        s_ip,
        s_wl,
        d_kind,
        d_ns,
        d_name,
        d_ip,
        d_wl,
        proto,
        port,
        flows,
    ) in zip(*columns, strict=True):
        s_pod, d_pod = s_kind == "pod", d_kind == "pod"
        port = _port(port)
        acc = accs[(s_wl if s_pod else None, s_kind, d_wl if d_pod else None, d_kind, proto, port)]
        acc.connections += 1
        acc.flows += 0 if flows is None or pd.isna(flows) else int(flows)
        s_end = (s_ns, s_name) if s_pod else s_ip
        d_end = (d_ns, d_name) if d_pod else d_ip
        acc.pairs.add((s_end, d_end))
        if not s_pod:
            acc.src_ips.append(s_ip)
        if not d_pod:
            acc.dst_ips.append(d_ip)
        for side, policies in sides.denying(
            s_end if s_pod else None, d_end if d_pod else None, proto, port
        ):
            acc.sides.setdefault((side, s_wl if side == "egress" else d_wl, policies), None)
    groups = []
    for key, acc in accs.items():
        src, s_kind, dst, d_kind, protocol, port = key
        src_sum = summarize_addresses(s_kind, acc.src_ips) if src is None else None
        dst_sum = summarize_addresses(d_kind, acc.dst_ips) if dst is None else None
        denials = tuple(
            _denial(side, subject, isolated, by_key)
            for side, subject, isolated in sorted(acc.sides)
        )
        groups.append(
            DeniedGroup(
                source=_side_label(src, src_sum),
                source_kind="pod" if src is not None else s_kind,
                destination=_side_label(dst, dst_sum),
                destination_kind="pod" if dst is not None else d_kind,
                protocol=protocol,
                port=port,
                connections=acc.connections,
                pairs=len(acc.pairs),
                flows=acc.flows,
                denials=denials,
                source_addresses=src_sum,
                destination_addresses=dst_sum,
            )
        )
    groups.sort(
        key=lambda g: (g.source_kind != "pod", g.source, g.destination, g.protocol, g.port or 0)
    )
    return groups


class _Sides:
    """Which side of a denied connection denies it, and the policies isolating that side;
    evaluated once per pair of pod classes (pods no policy tells apart, as
    :func:`recommender.verify.replay` groups them: namespace, the labels and named ports
    policies mention, and the ipBlocks holding the pod's address)."""

    def __init__(
        self,
        evaluator: Evaluator,
        pods: pd.DataFrame | None,
        policies: Sequence[Mapping[str, Any]],
    ) -> None:
        self.evaluator = evaluator
        policy_index = PolicyIndex.of(evaluator)
        empty = pd.DataFrame(columns=["namespace", "pod", "labels", "namespace_labels"])
        index = PodIndex(pods if pods is not None else empty)
        codes = pod_classes(index, evaluator, policy_index)
        self.pods: dict[tuple[str, str], tuple[Endpoint, int]] = {
            key: (index.endpoints[pos], int(codes[pos]))
            for key, pos in index.positions.items()
            if key not in index.unknown  # labels unknown: no selector can be checked
        }
        self.cache: dict[tuple, tuple[tuple[str, tuple[str, ...]], ...]] = {}

    def denying(
        self, src: tuple[str, str] | None, dst: tuple[str, str] | None, protocol: str, port: Any
    ) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(direction, isolating policies) of each denying side; only a pod's side can deny
        (a non-pod end is never restricted)."""
        s = self.pods.get(src) if src is not None else None
        d = self.pods.get(dst) if dst is not None else None
        key = (s[1] if s else -1, d[1] if d else -1, protocol, port)
        hit = self.cache.get(key)
        if hit is None:
            hit = self.cache[key] = self._denying(
                s[0] if s else None, d[0] if d else None, protocol, port
            )
        return hit

    def _denying(
        self, src: Endpoint | None, dst: Endpoint | None, protocol: str, port: Any
    ) -> tuple[tuple[str, tuple[str, ...]], ...]:
        ev = self.evaluator
        egress = tuple(ev.policies_selecting(src, "egress")) if src is not None else ()
        ingress = tuple(ev.policies_selecting(dst, "ingress")) if dst is not None else ()
        if egress and ingress:  # both sides isolated: which one denies takes an evaluation
            verdict = ev.evaluate(src, dst, protocol, port)  # type: ignore[arg-type]
            return tuple(
                (v.direction, v.isolated_by)
                for v in (verdict.egress, verdict.ingress)
                if not v.allowed
            )
        if egress:
            return (("egress", egress),)
        if ingress:
            return (("ingress", ingress),)
        return ()


# --------------------------------------------------------------------------------------------
# Unbounded rules, isolation, warnings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One unbounded rule, unisolated workload or warning."""

    kind: str
    #: "ns/policy" or, for isolation findings, the workload "ns/name"
    subject: str
    text: str
    direction: str | None = None
    #: index of the rule in spec.ingress / spec.egress
    rule: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "subject": self.subject, "text": self.text}
        if self.direction is not None:
            out["direction"] = self.direction
        if self.rule is not None:
            out["rule"] = self.rule
        return out


def _is_everything(block: Mapping[str, Any]) -> bool:
    try:
        return ipaddress.ip_network(str(block.get("cidr")).strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


def _family(block: Mapping[str, Any]) -> str:
    return "IPv6" if ":" in str(block.get("cidr")) else "IPv4"


def unbounded_rules(policies: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """Rules no breadth figure can bound: no ``from``/``to`` (every peer), an ipBlock of
    ``0.0.0.0/0`` or ``::/0`` (every address, excepts or not), ``namespaceSelector: {}``
    (every namespace), an ipBlock on every port. Sorted by policy, direction, rule."""
    out: list[Finding] = []
    for policy in sorted(policies, key=_key):
        name, ns = _key(policy), _namespace(policy)
        for direction in ("ingress", "egress"):
            for i, rule in enumerate(_rules(policy, direction)):
                rule = rule or {}
                ref = f"{name} {direction}[{i}]"
                ports = ports_text(rule.get("ports"))
                peers = list(rule.get(_PEER_KEY[direction]) or [])
                if not peers:
                    every = "source" if direction == "ingress" else "destination"
                    out.append(
                        Finding(
                            "every_peer",
                            name,
                            f"{ref}: no {_PEER_KEY[direction]!r}: every {every} (every pod of "
                            f"every namespace and every address) on {ports}",
                            direction,
                            i,
                        )
                    )
                    continue
                for peer in peers:
                    block = peer.get("ipBlock")
                    if block and _is_everything(block):
                        out.append(
                            Finding(
                                "every_address",
                                name,
                                f"{ref}: ipBlock {_block_text(block)}: every "
                                f"{_family(block)} address"
                                f"{' but the excepted ranges' if block.get('except') else ''}"
                                f" on {ports}",
                                direction,
                                i,
                            )
                        )
                    elif block and not rule.get("ports"):
                        out.append(
                            Finding(
                                "every_port",
                                name,
                                f"{ref}: ipBlock {_block_text(block)} on every port and protocol",
                                direction,
                                i,
                            )
                        )
                    ns_sel = peer.get("namespaceSelector")
                    if ns_sel is not None and not selector_text(ns_sel):
                        out.append(
                            Finding(
                                "every_namespace",
                                name,
                                f"{ref}: namespaceSelector {{}}: {_peer_text(peer, ns)} on {ports}",
                                direction,
                                i,
                            )
                        )
    return out


def isolation_findings(
    run: VerifyRun, evaluator: Evaluator | None = None
) -> tuple[list[Finding], list[str]]:
    """(workloads a policy selects but that are not isolated for egress, or for ingress:
    they may open, or accept, any connection; workloads no policy selects at all)."""
    pods = run.pods
    if pods is None or not len(pods) or not run.policies:
        return [], []
    evaluator = evaluator or Evaluator(run.policies)
    # workload -> direction -> (pods isolated, pods, policies)
    seen: dict[str, dict[str, list]] = {}
    for row in pods.itertuples(index=False):
        if row.labels is None:
            continue
        ep = pod_endpoint(row)
        entry = seen.setdefault(
            str(row.workload), {d: [0, 0, set()] for d in ("ingress", "egress")}
        )
        for direction in ("ingress", "egress"):
            selecting = evaluator.policies_selecting(ep, direction)
            entry[direction][1] += 1
            if selecting:
                entry[direction][0] += 1
                entry[direction][2].update(selecting)
    findings, unselected = [], []
    for workload in sorted(seen):
        entry = seen[workload]
        if not entry["ingress"][0] and not entry["egress"][0]:
            unselected.append(workload)
            continue
        for direction, other in (("egress", "ingress"), ("ingress", "egress")):
            isolated, total, _ = entry[direction]
            if isolated == total:
                continue
            by = ", ".join(sorted(entry[other][2]))
            part = "" if isolated == 0 else f" ({total - isolated} of {total} pods)"
            verb = "may open any connection" if direction == "egress" else "accepts any connection"
            findings.append(
                Finding(
                    f"no_{direction}_isolation",
                    workload,
                    f"{workload}: no {direction} isolation{part}: selected by {by} for "
                    f"{other} only; it {verb}",
                    direction,
                )
            )
    return findings, unselected


def policy_warnings(run: VerifyRun) -> list[Finding]:
    """Policies that select no known pod (the namespace was never seen, or the selector
    matches none of its pods: a typo?), and rules Kubernetes ignores because their direction
    is not in ``policyTypes``. Sorted by policy."""
    pods = run.pods
    known_ns: set[str] = set()
    by_ns: dict[str, list[Mapping[str, str] | None]] = defaultdict(list)
    if pods is not None:
        for ns, labels in zip(pods["namespace"], pods["labels"], strict=True):
            known_ns.add(ns)
            by_ns[ns].append(labels)
    if run.inventory is not None:
        known_ns.update(run.inventory.namespaces)
    out: list[Finding] = []
    for policy in sorted(run.policies, key=_key):
        name, ns = _key(policy), _namespace(policy)
        spec = policy.get("spec") or {}
        types = policy_types(policy)
        for direction in ("ingress", "egress"):
            if spec.get(direction) and _TYPE_OF[direction] not in types:
                out.append(
                    Finding(
                        "ignored_rules",
                        name,
                        f"{name}: its {direction} rules are ignored: policyTypes "
                        f"({', '.join(types)}) does not list {_TYPE_OF[direction]}",
                        direction,
                    )
                )
        if pods is None:
            continue
        selector = spec.get("podSelector") or {}
        if ns not in known_ns:
            out.append(
                Finding(
                    "namespace_not_seen",
                    name,
                    f"{name}: selects nothing known: namespace {ns} has no observed or "
                    "inventoried pod (a missing namespace, or a typo?)",
                )
            )
            continue
        labelled = [labels for labels in by_ns.get(ns, []) if labels is not None]
        unknown = len(by_ns.get(ns, [])) - len(labelled)
        if any(selector_matches(selector, labels) for labels in labelled):
            continue
        sel = selector_text(selector) or "{}"
        if not labelled:
            if unknown:
                out.append(
                    Finding(
                        "selection_unknown",
                        name,
                        f"{name}: cannot tell what podSelector {sel} selects: the labels of "
                        f"the {_plural(unknown, 'pod')} of namespace {ns} are unknown",
                    )
                )
            else:
                out.append(
                    Finding(
                        "selects_nothing",
                        name,
                        f"{name}: selects nothing known: namespace {ns} has no known pod",
                    )
                )
            continue
        hint = _values_hint(selector, labelled)
        also = f" ({unknown} more with unknown labels)" if unknown else ""
        out.append(
            Finding(
                "selects_nothing",
                name,
                f"{name}: podSelector {sel} matches none of the "
                f"{_plural(len(labelled), 'known pod')}{also} of namespace {ns}"
                + (f": {hint}" if hint else ""),
            )
        )
    return out


def _values_hint(selector: Mapping[str, Any], labelled: list[Mapping[str, str]]) -> str:
    keys = list(selector.get("matchLabels") or {})
    keys += [e.get("key") for e in selector.get("matchExpressions") or [] if e.get("key")]
    hints = []
    for key in dict.fromkeys(keys):
        values = sorted({labels[key] for labels in labelled if key in labels})
        if not values:
            hints.append(f"no pod there has the label {key}")
            continue
        shown = ", ".join(values[:MAX_VALUES]) + (", ..." if len(values) > MAX_VALUES else "")
        hints.append(f"{key} there is {shown}")
    return "; ".join(hints)


# --------------------------------------------------------------------------------------------
# Exemptions and the headline
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exempted:
    """Connections reported instead of judged, and their flows."""

    connections: int = 0
    flows: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"connections": self.connections, "flows": self.flows}


def exemptions(run: VerifyRun) -> dict[str, Exempted]:
    """Exempt connections by reason (the text of the reason before its first colon, e.g.
    "node source", "pod labels unknown"), sorted."""
    rows = run.replayed[run.replayed["exempt"]]
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for reason, flows in zip(rows["reasons"], rows["flows"], strict=True):
        what = str(reason or "exempt").split(":", 1)[0]
        counts[what][0] += 1
        counts[what][1] += int(flows) if not pd.isna(flows) else 0
    return {k: Exempted(*v) for k, v in sorted(counts.items())}


def node_source_exemptions(run: VerifyRun) -> Exempted:
    """Connections exempted because their source is a node (kubelet probes, host-network
    pods): NetworkPolicy cannot select them. Which node sources are exempt is decided in
    :func:`recommender.verify.replay`; this counts what it marked."""
    return exemptions(run).get(_NODE_PREFIX, Exempted())


def headline_lines(run: VerifyRun) -> list[str]:
    """The first lines of the text report: how many policies were replayed (0: nothing is
    isolated). Figures that must be seen first (at-risk traffic) belong here."""
    n = len(run.policies)
    at_risk = run.at_risk.lines() if run.at_risk is not None else []
    if n == 0:
        return ["0 policies: nothing is isolated, every observed connection is allowed"]
    return [*at_risk, f"{_plural(n, 'policy', 'policies')} replayed"]


def headline_json(run: VerifyRun) -> dict[str, Any]:
    """The top-level JSON keys that go with :func:`headline_lines`."""
    return {
        "policies": len(run.policies),
        "at_risk": run.at_risk.to_dict() if run.at_risk is not None else None,
    }


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


@dataclass
class _Parts:
    groups: list[DeniedGroup]
    unbounded: list[Finding]
    unselected: list[str]
    warnings: list[Finding]
    exempt: dict[str, Exempted]


def _parts(run: VerifyRun) -> _Parts:
    evaluator = Evaluator(run.policies)
    isolation, unselected = isolation_findings(run, evaluator)
    return _Parts(
        groups=denied_groups(run, evaluator),
        unbounded=unbounded_rules(run.policies) + isolation,
        unselected=unselected,
        warnings=policy_warnings(run),
        exempt=exemptions(run),
    )


def _summary_line(run: VerifyRun, parts: _Parts) -> str:
    b = run.breadth
    line = (
        f"coverage {run.coverage * 100:.2f}% ({run.covered}/{run.judged} connections), "
        f"breadth {b.total} (in-cluster {b.in_cluster}, external {b.external_addresses})"
    )
    if parts.unbounded:
        line += f", {_plural(len(parts.unbounded), 'unbounded rule')} (listed above)"
    node = parts.exempt.get(_NODE_PREFIX, Exempted())
    line += (
        f"; exempted {_plural(node.connections, 'connection')} from node/kubelet sources "
        f"({_plural(node.flows, 'flow')})"
    )
    others = {k: v for k, v in parts.exempt.items() if k != _NODE_PREFIX}
    if others:
        line += ", " + ", ".join(f"{v.connections} {k}" for k, v in others.items())
    return line


def report_lines(run: VerifyRun) -> list[str]:
    """The text report after :func:`headline_lines`: denied groups, unbounded rules,
    unisolated workloads, warnings and the summary line; every line terminal-safe."""
    parts = _parts(run)
    out: list[str] = []
    if parts.groups:
        denied = sum(g.connections for g in parts.groups)
        out.append(
            f"Observed connections that would be denied: {denied} in "
            f"{_plural(len(parts.groups), 'group')} (source -> destination [port]):"
        )
        for group in parts.groups[:MAX_TEXT_GROUPS]:
            out += group.lines()
        if len(parts.groups) > MAX_TEXT_GROUPS:
            out.append(f"  ... and {len(parts.groups) - MAX_TEXT_GROUPS} more groups (--json)")
    if parts.unbounded:
        out.append("Unbounded (every peer, address, namespace or port of a kind is admitted):")
        out += [f"  {f.text}" for f in parts.unbounded]
    if parts.unselected:
        names = ", ".join(parts.unselected[:MAX_TEXT_NAMES])
        more = len(parts.unselected) - MAX_TEXT_NAMES
        out.append(
            f"Not isolated: {_plural(len(parts.unselected), 'workload')} no policy selects "
            f"(any connection to or from them is allowed): {names}"
            + (f" and {more} more" if more > 0 else "")
        )
    if parts.warnings:
        out.append("Warnings:")
        out += [f"  {f.text}" for f in parts.warnings]
    out.append(_summary_line(run, parts))
    return [printable(line) for line in out]


def report_json(run: VerifyRun) -> dict[str, Any]:
    """The ``--json`` document: coverage, breadth, records, notes and every replayed
    connection (as before), plus the denied ``groups``, ``unbounded`` rules, ``not_isolated``
    workloads, ``warnings`` and ``exempt`` counts (``node_sources`` and by reason)."""
    parts = _parts(run)
    node = parts.exempt.get(_NODE_PREFIX, Exempted())
    return {
        **headline_json(run),
        "coverage": run.coverage,
        "covered": run.covered,
        "judged": run.judged,
        "breadth": run.breadth.to_dict(),
        "records": run.counts.to_dict(),
        "notes": run.notes,
        "groups": [g.to_dict() for g in parts.groups],
        "unbounded": [f.to_dict() for f in parts.unbounded],
        "not_isolated": parts.unselected,
        "warnings": [f.to_dict() for f in parts.warnings],
        "exempt": {
            "node_sources": node.to_dict(),
            "by_reason": {k: v.to_dict() for k, v in parts.exempt.items()},
        },
        "connections": [
            {
                "src": r.src_workload,
                "dst": r.dst_workload,
                "protocol": r.protocol,
                "port": _port(r.port),
                "allowed": bool(r.allowed),
                "exempt": bool(r.exempt),
                "reasons": r.reasons.split("; ") if r.reasons else [],
            }
            for r in run.replayed.itertuples(index=False)
        ],
    }
