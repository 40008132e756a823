"""The normalized flow record and the connection table, defined once.

Every ingest module produces rows of :data:`FLOW_SCHEMA`; every later stage reads
them. The column meanings follow ``research/flow-formats.md`` section 0. Bump
:data:`SCHEMA_VERSION` whenever a column is added, removed or changes meaning.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = 1

_DICT = pa.dictionary(pa.int32(), pa.string())
_LABELS = pa.map_(pa.string(), pa.string())
_TS = pa.timestamp("ns", tz="UTC")

#: Endpoint kinds. ``pod`` is the only kind a podSelector can pick.
ENDPOINT_KINDS = (
    "pod",
    "host_network_pod",
    "node",
    "service",
    "external",
    "networkset",
    "cluster_unknown",
    "unknown",
)
VERDICTS = ("allowed", "denied", "audit", "redirected", "error", "unknown")
DIRECTIONS = ("ingress", "egress", "unknown")
REPORTERS = ("src", "dst", "both", "unknown")
PROTOCOLS = ("TCP", "UDP", "SCTP", "ICMP", "ICMPv6", "OTHER")
#: Protocols a NetworkPolicy port can name.
POLICY_PROTOCOLS = ("TCP", "UDP", "SCTP")

POLICY_HIT = pa.struct(
    [
        ("kind", pa.string()),
        ("namespace", pa.string()),
        ("name", pa.string()),
        ("tier", pa.string()),
        ("action", pa.string()),
        ("rule", pa.string()),
        ("direction", pa.string()),
    ]
)


def _endpoint_fields(side: str) -> list[pa.Field]:
    return [
        pa.field(f"{side}_ip", pa.string()),
        pa.field(f"{side}_port", pa.int32()),
        pa.field(f"{side}_kind", _DICT, nullable=False),
        # Cilium reserved identity (host, remote-node, world, kube-apiserver, health, ...).
        pa.field(f"{side}_reserved", _DICT),
        pa.field(f"{side}_namespace", _DICT),
        pa.field(f"{side}_pod", pa.string()),
        pa.field(f"{side}_name_aggr", pa.string()),
        pa.field(f"{side}_workload_kind", _DICT),
        pa.field(f"{side}_workload_name", pa.string()),
        pa.field(f"{side}_labels", _LABELS),
        pa.field(f"{side}_namespace_labels", _LABELS),
        pa.field(f"{side}_service_account", pa.string()),
        pa.field(f"{side}_identity", pa.int64()),
        pa.field(f"{side}_cluster", _DICT),
        pa.field(f"{side}_names", pa.list_(pa.string())),
    ]


FLOW_SCHEMA = pa.schema(
    [
        pa.field("schema_version", pa.int16(), nullable=False),
        pa.field("source_format", _DICT, nullable=False),
        pa.field("source_file", _DICT, nullable=False),
        pa.field("source_record", pa.int64(), nullable=False),
        pa.field("time_start", _TS, nullable=False),
        pa.field("time_end", _TS, nullable=False),
        pa.field("observer", _DICT),
        pa.field("cluster", _DICT),
        pa.field("reporter", _DICT, nullable=False),
        pa.field("direction", _DICT, nullable=False),
        pa.field("is_reply", pa.bool_()),
        pa.field("verdict", _DICT, nullable=False),
        pa.field("verdict_raw", _DICT),
        pa.field("drop_reason", _DICT),
        pa.field("ip_family", pa.int8(), nullable=False),
        pa.field("protocol", _DICT, nullable=False),
        pa.field("protocol_number", pa.int16()),
        pa.field("icmp_type", pa.int16()),
        pa.field("icmp_code", pa.int16()),
        *_endpoint_fields("src"),
        *_endpoint_fields("dst"),
        pa.field("dst_ip_original", pa.string()),
        pa.field("dst_port_original", pa.int32()),
        pa.field("dst_service_namespace", _DICT),
        pa.field("dst_service_name", pa.string()),
        pa.field("dst_service_port_name", pa.string()),
        pa.field("dst_service_port", pa.int32()),
        pa.field("l7_protocol", _DICT),
        pa.field("dns_query", pa.string()),
        # The addresses a DNS answer gave for ``dns_query`` (Hubble ``l7.dns.ips``),
        # canonical: what ties a client's later connection to an address to its name.
        pa.field("dns_ips", pa.list_(pa.string())),
        pa.field("policies", pa.list_(POLICY_HIT)),
        pa.field("flows", pa.int64(), nullable=False),
        pa.field("flows_started", pa.int64()),
        pa.field("flows_completed", pa.int64()),
        pa.field("packets_fwd", pa.int64()),
        pa.field("bytes_fwd", pa.int64()),
        pa.field("packets_rev", pa.int64()),
        pa.field("bytes_rev", pa.int64()),
        pa.field("aggregated", pa.bool_(), nullable=False),
        pa.field("tcp_flags", pa.int16()),
        # Hubble's observation point / event type etc. live here, as do source leftovers.
        pa.field("extra", _LABELS),
    ],
    metadata={b"netpol-recommender.schema_version": str(SCHEMA_VERSION).encode()},
)

FLOW_COLUMNS: tuple[str, ...] = tuple(FLOW_SCHEMA.names)
#: Nullable columns added to FLOW_SCHEMA after a flow table of its version was first
#: written: a table without them is read with them null (nothing it said changes meaning).
ADDED_COLUMNS = frozenset({"dns_ips"})

#: TCP flag bits as folded into ``tcp_flags``.
TCP_FLAG_BITS = {
    "FIN": 1,
    "SYN": 2,
    "RST": 4,
    "PSH": 8,
    "ACK": 16,
    "URG": 32,
    "ECE": 64,
    "CWR": 128,
    "NS": 256,
}


def _conn_endpoint(side: str) -> list[pa.Field]:
    return [
        pa.field(f"{side}_kind", pa.string(), nullable=False),
        pa.field(f"{side}_namespace", pa.string()),
        pa.field(f"{side}_pod", pa.string()),
        # For non-pod peers (external, node, unknown) the address is the identity.
        pa.field(f"{side}_ip", pa.string()),
        pa.field(f"{side}_reserved", pa.string()),
    ]


#: One row per observed connection between two endpoints (pods are kept apart
#: here; workloads are assigned later), oriented client -> server.
CONNECTION_SCHEMA = pa.schema(
    [
        *_conn_endpoint("src"),
        *_conn_endpoint("dst"),
        pa.field("protocol", pa.string(), nullable=False),
        pa.field("port", pa.int32()),
        pa.field("verdict", pa.string(), nullable=False),
        # Distinct 5-tuples (client port varies): a fair count of connections,
        # immune to the same packet being reported at several observation points.
        pa.field("flows", pa.int64(), nullable=False),
        # Raw records that were folded into this row.
        pa.field("records", pa.int64(), nullable=False),
        pa.field("first_seen", _TS, nullable=False),
        pa.field("last_seen", _TS, nullable=False),
        pa.field("observers", pa.int64(), nullable=False),
        # Epoch hours (UTC) with traffic: distinct hours and days say how regular it is.
        pa.field("active_hours", pa.list_(pa.int64()), nullable=False),
        # One record behind the connection (the first file in name order, its first line):
        # where a person can look.
        pa.field("example_file", pa.string()),
        pa.field("example_line", pa.int64()),
        # DNS names the destination (not a pod) was reached by: the records' destination
        # names and the DNS answers the client pod got for the address (lower case, no
        # trailing dot, sorted, distinct); and, per name, how many such answers were seen
        # (0: only a record's destination names said it).
        pa.field("dst_names", pa.list_(pa.string()), nullable=False),
        pa.field("dst_name_answers", pa.list_(pa.int64()), nullable=False),
    ]
)
