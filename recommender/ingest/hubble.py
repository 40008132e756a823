"""Cilium Hubble flows -> normalized rows (``research/flow-formats.md`` section 1).

Accepts ``hubble observe -o json``/``jsonpb`` and exporter lines (``{"flow": ..., "node_name":
..., "time": ...}``, i.e. ``observer.GetFlowsResponse``) and bare ``Flow`` objects (legacy
``-o json``). One record gives exactly one of:

* a row: a dict keyed by :data:`recommender.schema.FLOW_SCHEMA` column names (absent = null;
  the caller fills ``schema_version``/``source_*``);
* :class:`~recommender.ingest.sources.Filtered` (``non-flow: node_status``, ``non-IP flow``,
  ``socket trace (pre-translation)``);
* :class:`~recommender.ingest.sources.Rejected` (reason, detail naming the field).

Every flow with an IP header is kept, replies, L7 records and drops included: they are
evidence, and the connections stage decides what becomes a rule. What matters most here
is ``is_reply`` (replies must never become rules); see :meth:`Parser.parse`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from recommender.ingest.common import Bad as _Bad
from recommender.ingest.common import invalid as _invalid
from recommender.ingest.common import malformed as _malformed
from recommender.ingest.sources import Filtered, Rejected, new_row
from recommender.ingest.values import parse_time
from recommender.schema import TCP_FLAG_BITS
from recommender.validate import (
    canonical_ip,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_label_key,
    is_label_value,
    truncated_repr,
)

NAME = "hubble"

#: ``GetFlowsResponse`` payloads that are not flows (filtered, by name).
NON_FLOW_TYPES = ("node_status", "lost_events")
#: Top-level keys of a bare ``Flow`` (legacy ``hubble observe -o json``).
BARE_FLOW_KEYS = frozenset({"verdict", "IP", "l4", "source", "destination"})
#: How many records of each file are inspected for an ``is_reply`` key.
LOOKAHEAD = 1000

VERDICTS = {
    "FORWARDED": "allowed",
    "DROPPED": "denied",
    "AUDIT": "audit",
    "REDIRECTED": "redirected",
    "ERROR": "error",
    "TRACED": "unknown",
    "TRANSLATED": "unknown",
    "VERDICT_UNKNOWN": "unknown",
}
#: Enum numbers, for producers that emit them (protojson ``UseEnumNumbers``).
_VERDICT_NUMBERS = {
    0: "VERDICT_UNKNOWN",
    1: "FORWARDED",
    2: "DROPPED",
    3: "ERROR",
    4: "AUDIT",
    5: "REDIRECTED",
    6: "TRACED",
    7: "TRANSLATED",
}
DIRECTIONS = {"INGRESS": "ingress", "EGRESS": "egress"}
#: l4 oneof member -> (protocol, IANA number); first match wins.
L4_PROTOCOLS = {
    "TCP": ("TCP", 6),
    "UDP": ("UDP", 17),
    "SCTP": ("SCTP", 132),
    "ICMPv4": ("ICMP", 1),
    "ICMPv6": ("ICMPv6", 58),
    "VRRP": ("OTHER", 112),
    "IGMP": ("OTHER", 2),
}
#: l4 member -> (protocol, number, field names for messages: member, sport/type, dport/code,
#: flags), precomputed so valid records build no strings.
_L4 = {
    key: (
        proto,
        number,
        (
            f"l4.{key}",
            *(
                (f"l4.{key}.type", f"l4.{key}.code", "")
                if proto in ("ICMP", "ICMPv6")
                else (f"l4.{key}.source_port", f"l4.{key}.destination_port", f"l4.{key}.flags")
            ),
        ),
    )
    for key, (proto, number) in L4_PROTOCOLS.items()
}
_POLICY_FIELDS = (
    ("egress_allowed_by", "allow", "egress"),
    ("ingress_allowed_by", "allow", "ingress"),
    ("egress_denied_by", "deny", "egress"),
    ("ingress_denied_by", "deny", "ingress"),
)
_POLICY_KEYS = frozenset(k for k, _, _ in _POLICY_FIELDS)
#: Cilium reserved identities (docs: "Special Identities"), used only when an endpoint
#: carries no ``labels`` at all (e.g. masked by an exporter ``fieldMask``).
RESERVED_IDENTITIES = {
    1: "host",
    2: "world",
    3: "unmanaged",
    4: "health",
    5: "init",
    6: "remote-node",
    7: "kube-apiserver",
    8: "ingress",
    9: "world-ipv4",
    10: "world-ipv6",
}
_WORLD = frozenset({"world", "world-ipv4", "world-ipv6"})
_NODE = frozenset({"host", "remote-node", "health"})
_CLUSTER_UNKNOWN = frozenset({"init", "unmanaged", "ingress"})
#: When an endpoint has several reserved labels, the one stored in ``*_reserved``.
_RESERVED_ORDER = (
    "host",
    "remote-node",
    "kube-apiserver",
    "health",
    "ingress",
    "init",
    "unmanaged",
    "world",
    "world-ipv4",
    "world-ipv6",
)

_NS_LABEL_PREFIX = "io.cilium.k8s.namespace.labels."
_NS_PSEUDO = "io.kubernetes.pod.namespace"
_SA_PSEUDO = "io.cilium.k8s.policy.serviceaccount"
_CLUSTER_PSEUDO = "io.cilium.k8s.policy.cluster"

# Enum strings copied to verdict_raw / drop_reason / extra (``FORWARDED``, ``TO_PROXY``): a
# plain token, nothing that could break out of YAML, Markdown, a path or a shell line.
_TOKEN_RE = re.compile(r"[A-Za-z0-9_]{1,64}", re.ASCII)
# Kernel interface names (``lxc25aced2f4021``, ``cilium_vxlan``, ``eth0.100``).
_IFNAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@:-]{0,63}", re.ASCII)
_KIND_RE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,62}", re.ASCII)
_DNS_NAME_RE = re.compile(r"[A-Za-z0-9_*.-]{1,255}", re.ASCII)
_TIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9})\d*)?"
    r"([Zz]|[+-]\d{2}:?\d{2})",
    re.ASCII,
)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# timestamp('ns') is an int64: 1677-09-21 .. 2262-04-11.
_NS_MIN = -(2**63)
_NS_MAX = 2**63 - 1
_UINT32 = 2**32


# --------------------------------------------------------------------------- scalars


@lru_cache(maxsize=4096)
def _epoch_seconds(y: str, mo: str, d: str, h: str, mi: str, s: str, tz: str) -> int | None:
    try:
        days = date(int(y), int(mo), int(d)).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None
    hour, minute, sec = int(h), int(mi), int(s)
    if hour > 23 or minute > 59 or sec > 60:  # 60: a leap second, read leniently
        return None
    offset = 0
    if tz not in ("Z", "z"):
        oh, om = int(tz[1:3]), int(tz[-2:])
        if oh > 23 or om > 59:
            return None
        offset = (oh * 3600 + om * 60) * (1 if tz[0] == "+" else -1)
    return days * 86400 + hour * 3600 + minute * 60 + sec - offset


def _token(f: dict, key: str, field: str, pattern: re.Pattern = _TOKEN_RE) -> str | None:
    v = f.get(key)
    if v is None or v == "":
        return None
    if type(v) is not str or pattern.fullmatch(v) is None:
        raise _malformed(field, v)
    return v


def _uint(v: Any, field: str, limit: int) -> int | None:
    if v is None:
        return None
    if type(v) is not int or not 0 <= v < limit:
        raise _malformed(field, v)
    return v


def _dict(v: Any, field: str) -> dict | None:
    if v is None:
        return None
    if type(v) is not dict:
        raise _malformed(field, v)
    return v


def _dns_name(v: Any, field: str) -> str | None:
    if v is None or v == "":
        return None
    if type(v) is not str:
        raise _malformed(field, v)
    if _DNS_NAME_RE.fullmatch(v) is None:
        raise _invalid("invalid DNS name", field, v)
    return v


def _names(v: Any, field: str) -> list[str] | None:
    if v is None:
        return None
    if type(v) is not list:
        raise _malformed(field, v)
    out = []
    for item in v:
        name = _dns_name(item, field)
        if name is not None:
            out.append(name)
    return out


# --------------------------------------------------------------------------- endpoints


@lru_cache(maxsize=8192)
def _parse_labels(field: str, labels: tuple[str, ...]) -> tuple | _Bad:
    """Split Cilium label strings. Returns (pod labels, namespace labels, namespace,
    service account, cluster, reserved set, has cidr/fqdn, has k8s) or a _Bad to raise.

    Pure function of its arguments, so the (few) distinct label sets of a file are
    parsed and validated once.
    """
    pod: dict[str, str] = {}
    ns_labels: dict[str, str] = {}
    namespace = service_account = cluster = None
    reserved: set[str] = set()
    cidr = has_k8s = False
    for item in labels:
        source, colon, rest = item.partition(":")
        if not colon:
            continue  # no source: "unspec", not a pod label
        if source == "k8s":
            has_k8s = True
            key, _, value = rest.partition("=")
            if key.startswith(_NS_LABEL_PREFIX):
                key = key[len(_NS_LABEL_PREFIX) :]
                target = ns_labels
            elif key == _NS_PSEUDO:
                if not is_dns1123_label(value):
                    return _invalid("invalid namespace", f"{field} ({_NS_PSEUDO})", value)
                if namespace is not None and namespace != value:
                    return _invalid("conflicting labels", field, item)
                namespace = value
                continue
            elif key == _SA_PSEUDO:
                if not is_dns1123_subdomain(value):
                    return _invalid("invalid service account", field, value)
                service_account = value
                continue
            elif key == _CLUSTER_PSEUDO:
                if not is_dns1123_subdomain(value):
                    return _invalid("invalid cluster name", field, value)
                cluster = value
                continue
            elif key.startswith("io.cilium."):
                continue  # other Cilium pseudo-labels: never pod labels
            else:
                target = pod
            if not is_label_key(key):
                return _invalid("invalid label key", field, key)
            if not is_label_value(value):
                return _invalid("invalid label value", f"{field}[{key}]", value)
            old = target.get(key)
            if old is not None and old != value:
                return _invalid("conflicting labels", field, item)
            target[key] = value
        elif source == "reserved":
            name = rest.partition("=")[0]
            if not is_dns1123_label(name):
                return _invalid("invalid reserved label", field, item)
            reserved.add(name)
        elif source in ("cidr", "fqdn"):
            cidr = True
        # container:, unspec:, any other source: not pod labels; nothing is kept.
    return (
        tuple(sorted(pod.items())),
        tuple(sorted(ns_labels.items())) if ns_labels else None,
        namespace,
        service_account,
        cluster,
        frozenset(reserved),
        cidr,
        has_k8s,
    )


_NO_LABELS = ((), None, None, None, None, frozenset(), False, False)


class _Side:
    """Column names of one endpoint side (computed once, not per record)."""

    def __init__(self, side: str) -> None:
        for col in (
            "kind",
            "reserved",
            "namespace",
            "pod",
            "workload_kind",
            "workload_name",
            "labels",
            "namespace_labels",
            "service_account",
            "identity",
            "cluster",
        ):
            setattr(self, col, f"{side}_{col}")


_SRC = _Side("src")
_DST = _Side("dst")


def _endpoint(ep: Any, side: _Side, field: str, row: dict) -> bool:
    """Fill the ``{side}_*`` columns from a Hubble Endpoint; True when it has a local ID."""
    if ep is None:
        row[side.kind] = "unknown"
        return False
    if type(ep) is not dict:
        raise _malformed(field, ep)

    labels = ep.get("labels")
    if labels is None:
        parsed = _NO_LABELS
    else:
        if type(labels) is not list:
            raise _malformed(f"{field}.labels", labels)
        for item in labels:
            if type(item) is not str:
                raise _malformed(f"{field}.labels", item)
        parsed = _parse_labels(f"{field}.labels", tuple(labels))
        if isinstance(parsed, _Bad):
            raise _Bad(parsed.reason, parsed.detail)  # a fresh exception, not the cached one
        # Labels are known only when Cilium gave the endpoint a Kubernetes identity (every
        # pod has at least the k8s: pseudo-labels); a pod seen as `reserved:world` (an
        # endpoint Cilium does not manage) has unknown labels, not an empty set.
        if parsed[7]:
            row[side.labels] = parsed[0]
    _, ns_labels, ns_from_label, sa, cluster, reserved, cidr, has_k8s = parsed

    identity = _uint(ep.get("identity"), f"{field}.identity", _UINT32)
    if labels is None and identity in RESERVED_IDENTITIES:
        reserved = frozenset((RESERVED_IDENTITIES[identity],))

    namespace = ep.get("namespace")
    if namespace is None or namespace == "":
        namespace = ns_from_label
    elif not is_dns1123_label(namespace):
        raise _invalid("invalid namespace", f"{field}.namespace", namespace)
    elif ns_from_label is not None and ns_from_label != namespace:
        raise _Bad(
            "conflicting namespace",
            f"{field}.namespace={truncated_repr(namespace)} but label says "
            f"{truncated_repr(ns_from_label)}",
        )

    pod = ep.get("pod_name")
    if pod == "":
        pod = None
    elif pod is not None and not is_dns1123_subdomain(pod):
        raise _invalid("invalid pod name", f"{field}.pod_name", pod)

    cluster_name = ep.get("cluster_name")
    if cluster_name is not None and cluster_name != "":
        if not is_dns1123_subdomain(cluster_name):
            raise _invalid("invalid cluster name", f"{field}.cluster_name", cluster_name)
        cluster = cluster_name

    workloads = ep.get("workloads")
    if workloads is not None:
        if type(workloads) is not list:
            raise _malformed(f"{field}.workloads", workloads)
        if workloads:
            w = workloads[0]
            if type(w) is not dict:
                raise _malformed(f"{field}.workloads", w)
            wname = w.get("name")
            if wname is not None and wname != "":
                if not is_dns1123_subdomain(wname):
                    raise _invalid("invalid workload name", f"{field}.workloads.name", wname)
                row[side.workload_name] = wname
            wkind = w.get("kind")
            if wkind is not None and wkind != "":
                if type(wkind) is not str or _KIND_RE.fullmatch(wkind) is None:
                    raise _invalid("invalid workload kind", f"{field}.workloads.kind", wkind)
                row[side.workload_kind] = wkind

    # Kind: the order of these tests is the classification rule.
    if namespace is not None and pod is not None:
        kind = "pod"
    elif reserved & _NODE:
        kind = "node"
    elif "kube-apiserver" in reserved:
        kind = "external" if reserved & _WORLD else "node"
    elif reserved & _WORLD or identity == 2 or cidr:
        kind = "external"
    elif reserved & _CLUSTER_UNKNOWN or (has_k8s and namespace is not None):
        kind = "cluster_unknown"
    else:
        kind = "unknown"
    row[side.kind] = kind
    if reserved:
        for r in _RESERVED_ORDER:
            if r in reserved:
                row[side.reserved] = r
                break
        else:
            row[side.reserved] = min(reserved)
    if namespace is not None:
        row[side.namespace] = namespace
    if pod is not None:
        row[side.pod] = pod
    if ns_labels is not None:
        row[side.namespace_labels] = ns_labels
    if sa is not None:
        row[side.service_account] = sa
    if identity is not None:
        row[side.identity] = identity
    if cluster is not None:
        row[side.cluster] = cluster
    return "ID" in ep


def _l4(l4: dict | None, row: dict) -> int | None:
    """Fill protocol, ports, ICMP type/code and TCP flags; returns the folded flags."""
    proto, number, fields, l4v = "OTHER", None, None, None
    if l4:
        for key, spec in _L4.items():
            if key in l4:
                proto, number, fields = spec
                l4v = _dict(l4[key], fields[0]) or {}
                break
    row["protocol"] = proto
    if number is not None:
        row["protocol_number"] = number
    if l4v is None:
        return None
    if proto in ("ICMP", "ICMPv6"):
        # protojson omits zero values: ``{"ICMPv4": {}}`` is an echo reply (type 0).
        row["icmp_type"] = _uint(l4v.get("type"), fields[1], 256) or 0
        row["icmp_code"] = _uint(l4v.get("code"), fields[2], 256) or 0
        return None
    if proto == "OTHER":
        return None
    sp = _uint(l4v.get("source_port"), fields[1], 65536)
    dp = _uint(l4v.get("destination_port"), fields[2], 65536)
    if sp is not None:
        row["src_port"] = sp
    if dp is not None:
        row["dst_port"] = dp
    flags = _dict(l4v.get("flags"), fields[3])
    if proto != "TCP" or flags is None:
        return None
    tcp_flags = 0
    for name, on in flags.items():
        if type(on) is not bool:
            raise _malformed(fields[3], flags)
        if on:
            tcp_flags |= TCP_FLAG_BITS.get(name, 0)
    row["tcp_flags"] = tcp_flags
    return tcp_flags


def _policies(f: dict) -> list[dict] | None:
    """``*_allowed_by`` / ``*_denied_by`` as POLICY_HIT structs (None when all empty)."""
    policies = []
    for key, action, direction in _POLICY_FIELDS:
        items = f.get(key)
        if items is None:
            continue
        if type(items) is not list:
            raise _malformed(key, items)
        for p in items:
            if type(p) is not dict:
                raise _malformed(key, p)
            name = p.get("name") or None
            ns = p.get("namespace") or None
            kind = p.get("kind") or None
            if name is not None and not is_dns1123_subdomain(name):
                raise _invalid("invalid policy name", f"{key}.name", name)
            if ns is not None and not is_dns1123_label(ns):
                raise _invalid("invalid namespace", f"{key}.namespace", ns)
            if kind is not None and (type(kind) is not str or not _KIND_RE.fullmatch(kind)):
                raise _invalid("invalid policy kind", f"{key}.kind", kind)
            policies.append(
                {
                    "kind": kind,
                    "namespace": ns,
                    "name": name,
                    "tier": None,
                    "action": action,
                    "rule": None,
                    "direction": direction,
                }
            )
    return policies or None


# --------------------------------------------------------------------------- records


def _has_is_reply(record: Any) -> bool:
    if type(record) is not dict:
        return False
    flow = record.get("flow")
    if type(flow) is dict:
        return "is_reply" in flow
    return "is_reply" in record


def looks_like(record: Any) -> bool:
    """True when a (first) record is a Hubble GetFlowsResponse or a bare Flow."""
    if type(record) is not dict:
        return False
    if "flow" in record or any(k in record for k in NON_FLOW_TYPES):
        return True
    return any(k in record for k in BARE_FLOW_KEYS)


def describe(record: Any) -> str | None:
    """A short description of a Hubble record for format-mismatch messages."""
    return "a Hubble flow" if looks_like(record) else None


class Parser:
    """Parses the records of one file.

    ``lookahead`` holds the file's first records (up to :data:`LOOKAHEAD`): when none of
    them has an ``is_reply`` key the producer predates it (2021 Hubble), and a missing
    legacy ``reply`` then means "not a reply".
    """

    name = NAME

    def __init__(self, path: str, lookahead: Sequence[Any] = ()) -> None:
        self.path = path
        self.legacy_reply = not any(_has_is_reply(r) for r in lookahead[:LOOKAHEAD])

    def parse(self, record: Any) -> dict | Filtered | Rejected:
        """One record -> a row dict, Filtered or Rejected. Never raises for bad data."""
        try:
            return self._parse(record)
        except _Bad as bad:
            return Rejected(bad.reason, bad.detail)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            return Rejected("malformed record", f"{type(exc).__name__}: {str(exc)[:120]}")

    def _parse(self, rec: Any) -> dict | Filtered:
        if type(rec) is not dict:
            raise _Bad("malformed record: not an object", truncated_repr(rec))
        wrapper_time = wrapper_node = None
        if "flow" in rec:
            f = rec["flow"]
            if type(f) is not dict:
                raise _malformed("flow", f)
            wrapper_time = rec.get("time")
            wrapper_node = rec.get("node_name")
        else:
            for t in NON_FLOW_TYPES:
                if t in rec:
                    return Filtered(f"non-flow: {t}")
            if not any(k in rec for k in BARE_FLOW_KEYS):
                if "node_name" in rec or "time" in rec:
                    return Filtered("non-flow: other")
                raise _Bad("malformed record: not a Hubble record", truncated_repr(rec))
            f = rec

        ftype = _token(f, "Type", "Type")
        if ftype == "SOCK":
            return Filtered("socket trace (pre-translation)")
        ip = f.get("IP")
        if ip is None:
            return Filtered("non-IP flow")
        if type(ip) is not dict:
            raise _malformed("IP", ip)

        row = new_row()
        src = ip.get("source")
        dst = ip.get("destination")
        if src is None or dst is None or src == "" or dst == "":
            raise _Bad("missing IP", f"IP={truncated_repr(ip)}")
        src_ip = canonical_ip(src)
        if src_ip is None:
            raise _invalid("invalid IP", "IP.source", src)
        dst_ip = canonical_ip(dst)
        if dst_ip is None:
            raise _invalid("invalid IP", "IP.destination", dst)
        family = 6 if ":" in src_ip else 4
        if (6 if ":" in dst_ip else 4) != family:
            raise _Bad("invalid IP", f"mixed address families: {src_ip} -> {dst_ip}")
        row["src_ip"] = src_ip
        row["dst_ip"] = dst_ip
        row["ip_family"] = family

        # Time: the flow's own, else the wrapper's.
        t = f.get("time")
        field = "time"
        if t is None or t == "":
            t, field = wrapper_time, "time (wrapper)"
        if t is None or t == "":
            raise _Bad("missing time", "neither flow.time nor the response time is set")
        ns = parse_time(t)
        if ns is None:
            raise _invalid("invalid time", field, t)
        row["time_start"] = row["time_end"] = ns

        # Verdict.
        v = f.get("verdict")
        if type(v) is int and v in _VERDICT_NUMBERS:
            v = _VERDICT_NUMBERS[v]
        if v is None or v == "":
            row["verdict"] = "unknown"
        elif type(v) is str and _TOKEN_RE.fullmatch(v) is not None:
            row["verdict"] = VERDICTS.get(v, "unknown")
            row["verdict_raw"] = v
        else:
            raise _malformed("verdict", v)
        drop = _token(f, "drop_reason_desc", "drop_reason_desc")
        if drop is not None:
            row["drop_reason"] = drop

        # Observer and cluster.
        node = f.get("node_name")
        if node is None or node == "":
            node = wrapper_node
        cluster = None
        if node is not None and node != "":
            if type(node) is not str:
                raise _malformed("node_name", node)
            prefix, slash, name = node.partition("/")
            if slash:
                if not is_dns1123_subdomain(prefix):
                    raise _invalid("invalid cluster name", "node_name", node)
                cluster, node = prefix, name
            if not is_dns1123_subdomain(node):
                raise _invalid("invalid node name", "node_name", node)
            row["observer"] = node

        # L4.
        tcp_flags = _l4(_dict(f.get("l4"), "l4"), row)

        # Endpoints.
        src_local = _endpoint(f.get("source"), _SRC, "source", row)
        dst_local = _endpoint(f.get("destination"), _DST, "destination", row)
        if cluster is None:
            if src_local:
                cluster = row.get("src_cluster")
            elif dst_local:
                cluster = row.get("dst_cluster")
        if cluster is not None:
            row["cluster"] = cluster
        for key, col in (("source_names", "src_names"), ("destination_names", "dst_names")):
            names = _names(f.get(key), key)
            if names:
                row[col] = names

        # Direction, orientation, reporter.
        td = _token(f, "traffic_direction", "traffic_direction")
        direction = DIRECTIONS.get(td, "unknown") if td is not None else "unknown"
        row["direction"] = direction
        trace_reason = _token(f, "trace_reason", "trace_reason")
        is_reply = f.get("is_reply")
        if is_reply is not None and type(is_reply) is not bool:
            raise _malformed("is_reply", is_reply)
        reply = f.get("reply")
        if reply is not None and type(reply) is not bool:
            raise _malformed("reply", reply)
        if is_reply is None:
            if reply is True:
                is_reply = True
            elif self.legacy_reply or trace_reason in ("NEW", "ESTABLISHED"):
                # A pre-is_reply producer sets ``reply`` on every reply; else conntrack says.
                is_reply = False
            elif trace_reason == "REPLY":
                is_reply = True
            elif tcp_flags is not None and tcp_flags & 2:  # SYN
                is_reply = bool(tcp_flags & 16)  # SYN+ACK is the server's answer
        if is_reply is not None:
            row["is_reply"] = is_reply
        # reporter: the endpoint local to the observing node. traffic_direction is relative
        # to it (EGRESS = it opened the connection), so with a known orientation the
        # reporter follows; otherwise the one endpoint that has a local endpoint ID.
        if direction != "unknown" and is_reply is not None:
            row["reporter"] = "src" if (direction == "egress") != is_reply else "dst"
        elif src_local != dst_local:
            row["reporter"] = "src" if src_local else "dst"
        else:
            row["reporter"] = "unknown"

        # Service (no port in Hubble).
        svc = _dict(f.get("destination_service"), "destination_service")
        if svc:
            sname, sns = svc.get("name"), svc.get("namespace")
            if sname is not None and sname != "":
                if not is_dns1123_label(sname):
                    raise _invalid("invalid service name", "destination_service.name", sname)
                row["dst_service_name"] = sname
            if sns is not None and sns != "":
                if not is_dns1123_label(sns):
                    raise _invalid("invalid namespace", "destination_service.namespace", sns)
                row["dst_service_namespace"] = sns

        # L7.
        extra: dict[str, str] = {}
        l7 = _dict(f.get("l7"), "l7")
        if l7:
            l7type = _token(l7, "type", "l7.type")
            if l7type is not None:
                extra["l7_type"] = l7type
            if "dns" in l7:
                dns = _dict(l7["dns"], "l7.dns")
                row["l7_protocol"] = "dns"
                if dns:
                    q = _dns_name(dns.get("query"), "l7.dns.query")
                    if q is not None:
                        row["dns_query"] = q
            elif "http" in l7:
                _dict(l7["http"], "l7.http")
                row["l7_protocol"] = "http"
            elif "kafka" in l7:
                _dict(l7["kafka"], "l7.kafka")
                row["l7_protocol"] = "kafka"

        # Policies that matched (newer Cilium).
        if not _POLICY_KEYS.isdisjoint(f):
            row["policies"] = _policies(f)

        # Exporter aggregation.
        agg = _dict(f.get("aggregate"), "aggregate")
        if agg is not None:
            total = 0
            for key in ("ingress_flow_count", "egress_flow_count", "unknown_direction_flow_count"):
                total += _uint(agg.get(key), f"aggregate.{key}", _UINT32) or 0
            row["flows"] = max(total, 1)
            row["aggregated"] = True
        else:
            row["flows"] = 1
            row["aggregated"] = False

        # Extra: observation details worth keeping (sorted keys for determinism).
        if ftype is not None:
            extra["type"] = ftype
        ev = _dict(f.get("event_type"), "event_type")
        if ev is not None:
            et = _uint(ev.get("type"), "event_type.type", _UINT32)
            if et is not None:
                extra["event_type"] = str(et)
                # protojson omits zero: an absent sub_type is 0.
                extra["event_sub_type"] = str(
                    _uint(ev.get("sub_type"), "event_type.sub_type", _UINT32) or 0
                )
        op = _token(f, "trace_observation_point", "trace_observation_point")
        if op is not None:
            extra["observation_point"] = op
        if trace_reason is not None:
            extra["trace_reason"] = trace_reason
        iface = _dict(f.get("interface"), "interface")
        if iface:
            iname = _token(iface, "name", "interface.name", _IFNAME_RE)
            if iname is not None:
                extra["interface"] = iname
        xlated = ip.get("source_xlated")
        if xlated is not None and xlated != "":
            x = canonical_ip(xlated)
            if x is None:
                raise _invalid("invalid IP", "IP.source_xlated", xlated)
            extra["source_xlated"] = x
        if extra:
            row["extra"] = sorted(extra.items())
        return row
