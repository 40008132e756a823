"""The Calico flow-log vocabulary that Calico Enterprise documents (``calico-ee``) and
Goldmane flows (``calico-goldmane``) share: endpoint types, reporters, protocol names, name
and label syntax, the workload proof from controller labels, and the row fillers (times,
counters, services, the counting reporter). Field meanings: ``research/flow-formats.md``
§2.1 and §2.3; the mapping choices are described in :mod:`recommender.ingest.calico`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from recommender.ingest.common import (
    Bad,
    invalid,
    malformed,
)
from recommender.ingest.values import (
    INT64,
    canonical_address,
    dash_null,
    int_below,
    put_label,
    unknown_enum,
)
from recommender.validate import is_dns1123_label, is_dns1123_subdomain

#: Calico endpoint type -> normalized kind.
ENDPOINT_TYPES = {"wep": "pod", "hep": "node", "ns": "networkset", "net": "external"}
#: reporter -> (reporter, direction of the reporting endpoint).
REPORTERS = {"src": ("src", "egress"), "dst": ("dst", "ingress")}
#: Felix protocol names (``felix/collector/utils/utils.go`` ``protoNames``) -> (protocol, number).
PROTOCOL_NAMES = {
    "tcp": ("TCP", 6),
    "udp": ("UDP", 17),
    "sctp": ("SCTP", 132),
    "icmp": ("ICMP", 1),
    "icmp6": ("ICMPv6", 58),
    "esp": ("OTHER", 50),
    "ipip": ("OTHER", 4),
}
_BY_NUMBER = {number: (proto, number) for proto, number in PROTOCOL_NAMES.values()}
_BY_NUMBER[50] = ("OTHER", 50)
_BY_NUMBER[4] = ("OTHER", 4)
PORT_PROTOCOLS = frozenset({"TCP", "UDP", "SCTP"})
# A generateName prefix with its ``*``, a bare pod name, a NetworkSet / host endpoint name,
# ``pub`` or ``pvt``: DNS-1123 subdomain characters, optionally ending in ``*``.
_AGGR_RE = re.compile(r"[a-z0-9](?:[-a-z0-9.]{0,252})\*?|\*", re.ASCII)
_DNS_NAME_RE = re.compile(r"[A-Za-z0-9_*.-]{1,255}", re.ASCII)
PORT_NAME_RE = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?", re.ASCII)
# pod-template-hash: rand.SafeEncodeString today, a decimal hash before Kubernetes 1.11.
_RS_HASH_RE = re.compile(r"[a-z0-9]{1,10}", re.ASCII)
_JOB_LABELS = ("batch.kubernetes.io/job-name", "job-name")
_STS_LABELS = ("statefulset.kubernetes.io/pod-name", "apps.kubernetes.io/pod-index")
_DS_LABELS = ("pod-template-generation",)
# timestamp('ns') is an int64.
_MAX_SECONDS = (INT64 - 1) // 1_000_000_000


# --------------------------------------------------------------------------- scalars


def seconds(v: Any, field: str) -> int | None:
    """UNIX seconds (int, or an integral float) -> nanoseconds; None when absent."""
    if v is None:
        return None
    if type(v) is float and math.isfinite(v) and v.is_integer():
        v = int(v)
    if type(v) is not int:
        raise malformed(field, v)
    if not 0 <= v <= _MAX_SECONDS:
        raise invalid("invalid time", field, v)
    return v * 1_000_000_000


def count(v: Any, field: str) -> int | None:
    """A non-negative int64 counter; None when absent."""
    return int_below(v, field, INT64)


def port(v: Any, field: str) -> int | None:
    """A port 0..65535 (an int); None when absent."""
    return int_below(v, field, 65536)


def ip(v: Any, field: str) -> str | None:
    return canonical_address(dash_null(v), field)


def protocol(v: Any, field: str) -> tuple[str, int | None]:
    """Felix proto names (``tcp``...) or a protocol number as a string -> (protocol, number)."""
    if type(v) is not str:
        if v is None:
            raise Bad(f"malformed record: {field}", f"{field} is missing")
        raise malformed(field, v)
    known = PROTOCOL_NAMES.get(v)
    if known is not None:
        return known
    if v.isascii() and v.isdigit() and len(v) <= 3 and int(v) <= 255:
        n = int(v)
        return _BY_NUMBER.get(n, ("OTHER", n))
    raise unknown_enum(field, v)


def namespace(v: Any, field: str) -> str | None:
    v = dash_null(v)
    if v is None:
        return None
    if not is_dns1123_label(v):
        if type(v) is not str:
            raise malformed(field, v)
        raise invalid("invalid namespace", field, v)
    return v


def aggr_name(v: Any, field: str) -> str | None:
    """An aggregated name as given (prefix with ``*``, pod/set/endpoint name, pub/pvt)."""
    v = dash_null(v)
    if v is None:
        return None
    if type(v) is not str:
        raise malformed(field, v)
    if len(v) > 254 or _AGGR_RE.fullmatch(v) is None:
        raise invalid("invalid name", field, v)
    return v


def labels(v: Any, field: str) -> tuple[tuple[str, str], ...] | None:
    """``{"labels": ["k=v", ...]}`` (or a bare list) -> sorted (k, v) pairs.

    None (unknown) for null, ``-`` ("a hyphen indicates aggregation") and
    ``{"labels": null}``; ``()`` for an empty list (known: none in common).
    """
    if v is None or v == "-":
        return None
    if type(v) is dict:
        if set(v) != {"labels"}:
            raise malformed(field, v)
        v = v["labels"]
        if v is None:
            return None
    if type(v) is not list:
        raise malformed(field, v)
    return label_items(v, field)


def label_items(items: Sequence[Any], field: str) -> tuple[tuple[str, str], ...]:
    """``["k=v", ...]`` -> sorted, validated (k, v) pairs (a file has few distinct sets:
    each is checked once)."""
    for item in items:
        if type(item) is not str:
            raise malformed(field, item)
    out = _label_items(field, tuple(items))
    if isinstance(out, Bad):
        raise Bad(out.reason, out.detail)  # a fresh exception, not the cached one
    return out


@lru_cache(maxsize=8192)
def _label_items(field: str, items: tuple[str, ...]) -> tuple[tuple[str, str], ...] | Bad:
    out: dict[str, str] = {}
    try:
        for item in items:
            key, eq, value = item.partition("=")
            if not eq:
                return invalid("invalid label", field, item)
            if not put_label(out, key, value, field):
                return invalid("conflicting labels", field, item)
    except Bad as bad:
        return bad.with_traceback(None)  # cached: keep no frames alive
    return tuple(sorted(out.items()))


def dns_names(v: Any, field: str) -> list[str] | None:
    v = dash_null(v)
    if v is None:
        return None
    if type(v) is not list:
        raise malformed(field, v)
    out = []
    for item in v:
        item = dash_null(item)
        if item is None:
            continue
        if type(item) is not str:
            raise malformed(field, item)
        if _DNS_NAME_RE.fullmatch(item) is None:
            raise invalid("invalid DNS name", field, item)
        out.append(item)
    return out or None


# --------------------------------------------------------------------------- endpoints


@lru_cache(maxsize=8192)
def workload_of(aggr: str | None, pod_labels: tuple[tuple[str, str], ...] | None) -> tuple:
    """(kind, name) of a WEP's owner when its labels prove it (see the module doc), else
    (None, None)."""
    if aggr is None or aggr in ("pub", "pvt"):
        return None, None
    if not aggr.endswith("*"):
        return ("Pod", aggr) if is_dns1123_subdomain(aggr) else (None, None)
    if not aggr.endswith("-*") or not pod_labels:
        return None, None
    owner = aggr[:-2]
    found = dict(pod_labels)
    h = found.get("pod-template-hash")
    if h and _RS_HASH_RE.fullmatch(h) and owner.endswith("-" + h):
        name = owner[: -len(h) - 1]
        if is_dns1123_subdomain(name):
            return "Deployment", name
    for key in _JOB_LABELS:
        if found.get(key) == owner and is_dns1123_subdomain(owner):
            return "Job", owner
    if is_dns1123_subdomain(owner):
        if any(k in found for k in _STS_LABELS):
            return "StatefulSet", owner
        if any(k in found for k in _DS_LABELS):
            return "DaemonSet", owner
    return None, None


def endpoint_names(
    kind: str, name: Any, aggr: Any, name_field: str, aggr_field: str
) -> tuple[str | None, str | None]:
    """(pod, name_aggr) from a Calico name and aggregated name (``-`` = null)."""
    aggr_v = aggr_name(aggr, aggr_field)
    name_v = dash_null(name)
    pod = None
    if kind == "pod":
        if name_v is not None:
            if not is_dns1123_subdomain(name_v):
                if type(name_v) is not str:
                    raise malformed(name_field, name_v)
                raise invalid("invalid pod name", name_field, name_v)
            pod = name_v
        elif aggr_v is not None and not aggr_v.endswith("*") and aggr_v not in ("pub", "pvt"):
            # A bare pod (no generateName) is never aggregated with others.
            if not is_dns1123_subdomain(aggr_v):
                raise invalid("invalid pod name", aggr_field, aggr_v)
            pod = aggr_v
    elif name_v is not None:
        name_v = aggr_name(name_v, name_field)
        if aggr_v is None:
            aggr_v = name_v
    return pod, aggr_v


def fill_endpoint(
    row: dict,
    side: str,
    kind: str,
    ns: str | None,
    pod: str | None,
    aggr: str | None,
    address: str | None,
    pod_labels: tuple[tuple[str, str], ...] | None,
) -> None:
    row[f"{side}_kind"] = kind
    if ns is not None:
        row[f"{side}_namespace"] = ns
    if pod is not None:
        row[f"{side}_pod"] = pod
    if aggr is not None:
        row[f"{side}_name_aggr"] = aggr
    if address is not None:
        row[f"{side}_ip"] = address
    if pod_labels is not None:
        row[f"{side}_labels"] = pod_labels
    if kind == "pod":
        wkind, wname = workload_of(aggr, pod_labels)
        if wkind is not None:
            row[f"{side}_workload_kind"] = wkind
            row[f"{side}_workload_name"] = wname


#: How Calico names automatic host endpoints: ``<node name>-auto-hep``.
AUTO_HEP_SUFFIX = "-auto-hep"


def own_node(hep: str | None, host: str) -> str | None:
    """A host endpoint source seen by the destination's node (``reporter: dst``, ``host``):
    ``host`` when it is that node's automatic host endpoint (kubelet probes: always
    allowed), ``remote-node`` when it is another node's (SNATed LoadBalancer traffic),
    None when the name does not say (the reserved identities of Cilium, by meaning)."""
    if hep is None or not hep.endswith(AUTO_HEP_SUFFIX):
        return None
    return "host" if hep[: -len(AUTO_HEP_SUFFIX)] == host else "remote-node"


def counting_reporter(src_type: str, dst_type: str) -> str:
    """Which reporter's record carries the count of a connection (see the module doc)."""
    if src_type == "wep" or dst_type not in ("wep", "hep"):
        return "src"
    return "dst"


def is_aggregated(row: dict) -> bool:
    for side in ("src", "dst"):
        if row[f"{side}_ip"] is None:
            return True
        if row[f"{side}_kind"] == "pod" and row[f"{side}_pod"] is None:
            return True
    no_port = row["src_port"] is None or row["dst_port"] is None
    return row["protocol"] in PORT_PROTOCOLS and no_port


def translate_counters(row: dict, reporter: str, p_in, p_out, b_in, b_out) -> None:
    """Reporter-relative in/out -> fwd (client -> server) / rev."""
    if reporter == "src":
        row["packets_fwd"], row["packets_rev"] = p_out, p_in
        row["bytes_fwd"], row["bytes_rev"] = b_out, b_in
    else:
        row["packets_fwd"], row["packets_rev"] = p_in, p_out
        row["bytes_fwd"], row["bytes_rev"] = b_in, b_out


def set_times(row: dict, start: int | None, end: int | None) -> None:
    """``time_start``/``time_end`` from ``start_time``/``end_time`` (ns; end defaults to
    start)."""
    if start is None:
        raise Bad("missing time", "start_time is missing")
    end = start if end is None else end
    if end < start:
        raise Bad("invalid time", f"end_time before start_time ({end} < {start})")
    row["time_start"], row["time_end"] = start, end


def place_service(
    row: dict,
    extra: dict[str, str],
    ns: str | None,
    name: str | None,
    port_name: str | None,
    port_num: int | None,
) -> None:
    """The service the client used: ``dst_service_*`` for a pod or node destination, else
    ``extra`` (see the module doc: on a non-pod destination it would read as pre-DNAT)."""
    if row["dst_kind"] in ("pod", "node"):
        row["dst_service_namespace"], row["dst_service_name"] = ns, name
        if port_name == "*":
            extra["dest_service_port"] = "*"  # several port names match
        else:
            row["dst_service_port_name"] = port_name
        row["dst_service_port"] = port_num
    elif name is not None:
        extra["dest_service"] = f"{ns or '-'}/{name}"
        if port_num is not None:
            extra["dest_service_port_num"] = str(port_num)


def count_once(row: dict, extra: dict[str, str], types: dict[str, str], flows: int) -> None:
    """``flows`` on the counting reporter's record only (see the module doc); the other
    record keeps the figure in ``extra``. ``types``: side -> Calico endpoint type."""
    owner = counting_reporter(types["src"], types["dst"])
    if row["reporter"] != owner:
        extra["num_flows"] = str(flows)
        extra["counted_by"] = owner
        flows = 0
    row["flows"] = flows
