"""Inspektor Gadget events -> normalized rows (``flow-formats.md`` section 5). Two formats.

``ig-legacy``: the ``trace network`` events that ``kubectl gadget advise network-policy
monitor`` wrote (built-in gadget, removed June 2025), JSON lines or a JSON array. Shapes read:

* flat, 2022 and later (``pkg/gadgets/advise/networkpolicy/advisor/testdata/*.input``, the
  integration tests): ``node``, ``namespace``, ``pod``, ``container``, ``timestamp`` (int ns,
  often absent), ``type``, ``pktType``, ``proto`` (``tcp``/``udp``), ``port``, ``podHostIP``,
  ``podIP``, ``podOwner``, ``podLabels``, ``remoteKind`` (``pod``/``svc``/``other``) with either
  ``remoteAddr``/``remoteNamespace``/``remoteName``/``remoteLabels`` or the earlier
  ``ip``|``addr``/``remotePodNamespace``/``remotePodName``/``remotePodLabels``/
  ``remoteServiceNamespace``/``remoteServiceName``/``remoteOther``;
* nested, mid-2023 to 2025 (``pkg/gadgets/trace/network/types/types.go``): ``k8s`` {``node``,
  ``namespace``, ``podName``, ``containerName``, ``hostNetwork``} and ``dst`` {``addr``,
  ``version``, ``namespace``, ``podname``, ``kind`` ``pod``/``svc``/``raw``, ``podlabels``}
  (``dst`` keys match case-insensitively, as Go's decoder does; upstream testdata spells them
  ``name``/``podLabels``).

Orientation (checked in the tracer's BPF program, ``tracer/bpf/graph.c``/``network.c``): an
event is emitted only for a TCP SYN without ACK, or a UDP packet to a port below 1024, seen in
the pod's network namespace; ``port`` is that packet's destination port. So ``OUTGOING`` = the
local pod is the client (egress; ``port`` = the remote server's port) and ``HOST`` = the local
pod is the server (ingress; ``port`` = its own listening port). Every event is a request
(``is_reply=False``). Other packet types and non-``normal`` events are filtered.

``ig-trace-tcp``: ``kubectl gadget run trace_tcp -o json`` / ``ig run trace_tcp -o json``
(``docs/reference/run.mdx``): ``type`` ``connect``/``accept``/``close`` (or ``type_raw``
0/1/2), ``src``/``dst`` {``addr``, ``port``, ``proto`` (6 or ``TCP``), ``version``, and with the
KubeIPResolver operator ``k8s`` {``kind`` ``pod``/``svc``, ``name``, ``namespace``, ``labels``
``"k=v,k=v"``}}, ``k8s`` {``node``, ``namespace``, ``podName``, ``containerName``,
``hostnetwork``} for the traced container, ``timestamp`` (RFC 3339, a local offset with ``ig``)
and ``timestamp_raw`` (ns). Orientation (``gadgets/trace_tcp/program.bpf.c``): ``src`` is always
the *local* socket and ``dst`` the remote one. ``connect`` is emitted when the local process's
connection becomes ESTABLISHED: the local pod is the client and ``dst.port`` the server port.
``accept`` is emitted on the accepted socket: the local pod is the server, its listening port
is **``src.port``** and the client is ``dst``. ``close`` does not say who opened the connection:
filtered (``ig: close event (evidence only)``). One pod-to-pod connection traced on both
nodes appears as a ``connect`` and an ``accept`` (reporter ``src`` and ``dst``).

Both formats: a ``svc`` peer is the Service **before DNAT** (ClusterIP and service port): the
row gets ``dst_kind="service"``, ``dst_service_namespace/name``, ``dst_service_port`` and
``dst_ip_original``/``dst_port_original``, with ``dst_ip``/``dst_port`` null, for the inventory
to map to backends. Its labels are the Service's (selector or object labels), never pod labels,
and are not kept. A peer the gadget looked up and could not name (legacy ``other``/``raw``;
a ``trace_tcp`` endpoint whose ``k8s`` has no ``kind``) is ``external``; a legacy ``HOST`` peer
that is the pod's own node (``podHostIP``) is ``node``, which NetworkPolicy cannot block (the
advisor skipped those). A ``trace_tcp`` peer without any ``k8s`` (KubeIPResolver not run) is
``unknown``. A host-network local pod is ``host_network_pod``; a local container without
Kubernetes metadata (``ig`` on a host) is ``unknown``. Loopback traffic is filtered.
``flows`` = 1 per event (events carry no counts; duplicates happen and are folded by the
connections stage).

Two formats, one module: the registry (``detect.FORMAT_MODULES``) names the two
:class:`~recommender.ingest.reader.Reader` objects, :data:`LEGACY_READER` and
:data:`TRACE_TCP_READER`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from recommender.ingest.common import (
    RECORD_ERRORS,
    Bad,
    RecordParser,
    malformed,
)
from recommender.ingest.reader import Reader
from recommender.ingest.sources import Filtered, new_row
from recommender.ingest.values import (
    family,
    file_mtime_ns,
    ip,
    labels,
    name,
    namespace,
    node_name,
    pod_name,
    port,
    text,
    time_ns,
    uint,
)
from recommender.validate import is_dns1123_label, is_dns1123_subdomain, truncated_repr

LEGACY = "ig-legacy"
TRACE_TCP = "ig-trace-tcp"

#: IG message events (``eventtypes.EventType``) that are not network events.
MESSAGE_TYPES = ("err", "warn", "debug", "info", "ready")
TCP_EVENT_TYPES = {0: "connect", 1: "accept", 2: "close"}
_LEGACY_PROTOCOLS = {"tcp": ("TCP", 6), "udp": ("UDP", 17), "sctp": ("SCTP", 132)}
_LOOPBACK_V6 = "::1"


class _Endpoint:
    """One end of a connection, before it is written to the ``src_``/``dst_`` columns."""

    __slots__ = ("kind", "ip", "namespace", "pod", "labels", "service")

    def __init__(
        self,
        kind: str,
        address: str | None = None,
        ns: str | None = None,
        pod: str | None = None,
        lab: tuple | None = None,
        service: tuple[str | None, str | None] | None = None,
    ) -> None:
        self.kind = kind
        self.ip = address
        self.namespace = ns
        self.pod = pod
        self.labels = lab
        self.service = service

    def write(self, row: dict, side: str) -> None:
        row[f"{side}_kind"] = self.kind
        row[f"{side}_ip"] = self.ip
        row[f"{side}_namespace"] = self.namespace
        row[f"{side}_pod"] = self.pod
        row[f"{side}_labels"] = self.labels


def _is_loopback(address: str | None) -> bool:
    return address is not None and (address.startswith("127.") or address == _LOOPBACK_V6)


def _pod_identity(ns: str | None, pod: str | None, field: str) -> None:
    if (ns is None) != (pod is None):
        raise Bad(
            "incomplete pod identity",
            f"{field}: namespace={truncated_repr(ns)} pod={truncated_repr(pod)}",
        )


def _dict(v: Any, field: str) -> dict | None:
    if v is None:
        return None
    if type(v) is not dict:
        raise malformed(field, v)
    return v


def _bool(v: Any, field: str) -> bool:
    if v is None:
        return False
    if type(v) is not bool:
        raise malformed(field, v)
    return v


def _ci(d: dict, *keys: str) -> Any:
    """The value of the first of ``keys`` present in ``d``, matching keys case-insensitively
    (Go's ``encoding/json`` does, and upstream testdata relies on it)."""
    for key in keys:
        if key in d:
            return d[key]
    lowered = {k.lower(): k for k in d if isinstance(k, str)}
    for key in keys:
        real = lowered.get(key.lower())
        if real is not None:
            return d[real]
    return None


def _service(row: dict, endpoint: _Endpoint, service_port: int) -> None:
    """A pre-DNAT Service destination: front-end fields only, no pod port."""
    ns, svc = endpoint.service or (None, None)
    row["dst_service_namespace"] = ns
    row["dst_service_name"] = svc
    row["dst_service_port"] = service_port
    row["dst_port_original"] = service_port
    row["dst_ip_original"] = endpoint.ip
    endpoint.ip = None


def _finish(
    row: dict,
    local: _Endpoint,
    remote: _Endpoint,
    *,
    outgoing: bool,
    server_port: int,
    client_port: int | None,
) -> None:
    """Orient the row client -> server around the local endpoint."""
    if remote.kind == "service":
        if not outgoing:
            raise Bad(
                "malformed record: peer kind",
                "a Service as the client of an incoming connection",
            )
        _service(row, remote, server_port)
    else:
        row["dst_port"] = server_port
    client, server = (local, remote) if outgoing else (remote, local)
    client.write(row, "src")
    server.write(row, "dst")
    row["src_port"] = client_port
    row["direction"] = "egress" if outgoing else "ingress"
    row["reporter"] = "src" if outgoing else "dst"
    row["is_reply"] = False
    row["flows"] = 1
    row["aggregated"] = False


# =========================================================================== ig-legacy


def looks_like_legacy(record: Any) -> bool:
    """A legacy ``trace network`` / ``advise network-policy monitor`` event."""
    return (
        type(record) is dict
        and "pktType" in record
        and ("remoteKind" in record or type(record.get("dst")) is dict)
    )


class LegacyParser(RecordParser):
    """Parses one file of legacy events. Events without ``timestamp`` (the 2022 shape) get
    the file's modification time, marked ``extra.time_source=file_mtime``."""

    name = LEGACY
    caught = (*RECORD_ERRORS, OverflowError)

    def __init__(self, path: str, lookahead: Sequence[Any] = ()) -> None:
        super().__init__(path, lookahead)
        self._mtime: int | None = None
        self._mtime_read = False

    def _file_time(self) -> int | None:
        if not self._mtime_read:
            self._mtime = file_mtime_ns(self.path)
            self._mtime_read = True
        return self._mtime

    def _parse(self, rec: Any) -> dict | Filtered:
        if type(rec) is not dict:
            raise Bad("malformed record: not an object", truncated_repr(rec))
        etype = rec.get("type")
        if etype is not None and etype != "normal":
            if etype in MESSAGE_TYPES:
                return Filtered(f"ig: {etype} message")
            raise malformed("type", etype)
        pkt = rec.get("pktType")
        if pkt not in ("HOST", "OUTGOING"):
            if type(pkt) is str and pkt.isalpha() and pkt.isupper() and len(pkt) <= 16:
                return Filtered("ig: packet type other than HOST/OUTGOING")
            raise malformed("pktType", pkt)
        outgoing = pkt == "OUTGOING"

        # The local (traced) pod.
        k8s = _dict(rec.get("k8s"), "k8s") or _dict(rec.get("k8sMetadata"), "k8sMetadata") or {}
        node = node_name(k8s.get("node", rec.get("node")), "node")
        ns = namespace(k8s.get("namespace", rec.get("namespace")), "namespace")
        pod = pod_name(k8s.get("podName", rec.get("pod")), "pod")
        container = name(
            k8s.get("containerName", rec.get("container")),
            "container",
            is_dns1123_label,
            "invalid container name",
        )
        host_network = _bool(_ci(k8s, "hostNetwork"), "k8s.hostNetwork")
        _pod_identity(ns, pod, "local pod")
        pod_ip = ip(rec.get("podIP"), "podIP")
        host_ip = ip(rec.get("podHostIP"), "podHostIP")
        pod_labels = labels(rec.get("podLabels"), "podLabels", kv=False)
        owner = name(rec.get("podOwner"), "podOwner", is_dns1123_subdomain, "invalid pod owner")
        if host_network:
            local = _Endpoint("host_network_pod", pod_ip, ns, pod)
        elif pod is not None:
            local = _Endpoint("pod", pod_ip, ns, pod, pod_labels)
        else:
            local = _Endpoint("unknown", pod_ip)

        # L4.
        proto_raw = text(rec.get("proto"), "proto", 16)
        found = _LEGACY_PROTOCOLS.get(proto_raw.lower()) if proto_raw else None
        if found is None:
            raise malformed("proto", rec.get("proto"))
        server_port = port(rec.get("port"), "port")
        if server_port is None:
            raise Bad("missing port", f"port={truncated_repr(rec.get('port'))}")

        remote = self._remote(rec, outgoing, host_ip)
        if _is_loopback(remote.ip) or _is_loopback(pod_ip):
            return Filtered("loopback (never crosses a NetworkPolicy)")

        row = new_row()
        row["protocol"], row["protocol_number"] = found
        row["ip_family"] = family(pod_ip, remote.ip)
        ts = rec.get("timestamp")
        start = time_ns(ts, "timestamp", unit="ns")
        extra: dict[str, str] = {"pkt_type": pkt}
        if start is None:
            start = self._file_time()
            if start is None:
                raise Bad("missing time", "no timestamp and the file time is unknown")
            extra["time_source"] = "file_mtime"
        row["time_start"] = row["time_end"] = start
        row["observer"] = node
        # A SYN leaving the pod says nothing of policy further on; one that reached the pod
        # (HOST) was admitted.
        row["verdict"] = "unknown" if outgoing else "allowed"
        _finish(row, local, remote, outgoing=outgoing, server_port=server_port, client_port=None)
        if container is not None:
            extra["container"] = container
        if owner is not None:
            extra["pod_owner"] = owner
        row["extra"] = sorted(extra.items())
        return row

    def _remote(self, rec: dict, outgoing: bool, host_ip: str | None) -> _Endpoint:
        dst = _dict(rec.get("dst"), "dst")
        if dst is not None:  # 2023-2025 nested shape
            kind = text(_ci(dst, "kind"), "dst.kind", 16)
            address = ip(_ci(dst, "addr"), "dst.addr")
            rns = namespace(_ci(dst, "namespace"), "dst.namespace")
            rname = _ci(dst, "podname", "name")
            raw_labels = _ci(dst, "podlabels")
            where = "dst"
        else:
            kind = text(rec.get("remoteKind"), "remoteKind", 16)
            address = None
            for key in ("remoteAddr", "remoteOther", "ip", "addr"):
                address = ip(rec.get(key), key)
                if address is not None:
                    break
            if kind == "svc":
                rns = rec.get("remoteNamespace", rec.get("remoteServiceNamespace"))
                rname = rec.get("remoteName", rec.get("remoteServiceName"))
            else:
                rns = rec.get("remoteNamespace", rec.get("remotePodNamespace"))
                rname = rec.get("remoteName", rec.get("remotePodName"))
            rns = namespace(rns, "remoteNamespace")
            raw_labels = rec.get("remoteLabels", rec.get("remotePodLabels"))
            where = "remote"
        if kind == "pod":
            pod = pod_name(rname, f"{where} name")
            _pod_identity(rns, pod, f"{where} pod")
            if pod is None:
                raise Bad("incomplete pod identity", f"{where}: a pod peer without a name")
            return _Endpoint("pod", address, rns, pod, labels(raw_labels, f"{where} labels"))
        if kind in ("svc", "service"):
            svc = name(rname, f"{where} name", is_dns1123_label, "invalid service name")
            return _Endpoint("service", address, service=(rns, svc))
        if kind in ("other", "raw", None):
            if address is None:
                raise Bad("missing IP", f"{where}: a peer without an address")
            if not outgoing and host_ip is not None and address == host_ip:
                return _Endpoint("node", address)
            return _Endpoint("external", address)
        raise malformed(f"{where} kind", kind)


# =========================================================================== ig-trace-tcp


def looks_like_trace_tcp(record: Any) -> bool:
    """A ``trace_tcp`` image-gadget event (``connect``/``accept``/``close``)."""
    if type(record) is not dict or "pktType" in record:
        return False
    if type(record.get("src")) is not dict or type(record.get("dst")) is not dict:
        return False
    raw = record.get("type_raw")
    return record.get("type") in ("connect", "accept", "close") or (
        # type(): a list or object is not hashable, and True == 1 is no event type.
        "type" not in record and type(raw) is int and raw in TCP_EVENT_TYPES
    )


def _tcp_endpoint(ep: dict, field: str) -> tuple[str, int, dict | None]:
    address = ip(ep.get("addr"), f"{field}.addr")
    if address is None:
        raise Bad("missing IP", f"{field}.addr is empty")
    p = port(ep.get("port"), f"{field}.port")
    if p is None:
        raise Bad("missing port", f"{field}.port={truncated_repr(ep.get('port'))}")
    proto = ep.get("proto")
    if proto not in (None, 6, "TCP", "tcp"):
        raise malformed(f"{field}.proto", proto)
    raw = ep.get("proto_raw")
    if raw not in (None, 6):
        raise malformed(f"{field}.proto_raw", raw)
    return address, p, _dict(ep.get("k8s"), f"{field}.k8s")


def _resolved(k8s: dict | None, address: str, field: str) -> _Endpoint | None:
    """The KubeIPResolver's view of an endpoint (None when it named nothing)."""
    if not k8s:
        return None
    kind = text(k8s.get("kind"), f"{field}.kind", 16)
    if kind is None:
        return None
    rns = namespace(k8s.get("namespace"), f"{field}.namespace")
    if kind == "pod":
        pod = pod_name(k8s.get("name"), f"{field}.name")
        _pod_identity(rns, pod, field)
        if pod is None:
            raise Bad("incomplete pod identity", f"{field}: a pod without a name")
        return _Endpoint("pod", address, rns, pod, labels(k8s.get("labels"), f"{field}.labels"))
    if kind == "svc":
        svc = name(k8s.get("name"), f"{field}.name", is_dns1123_label, "invalid service name")
        return _Endpoint("service", address, service=(rns, svc))
    raise malformed(f"{field}.kind", kind)


class TraceTCPParser(RecordParser):
    """Parses one file of ``trace_tcp`` events."""

    name = TRACE_TCP
    caught = (*RECORD_ERRORS, OverflowError)

    def _parse(self, rec: Any) -> dict | Filtered:
        if type(rec) is not dict:
            raise Bad("malformed record: not an object", truncated_repr(rec))
        etype = _event_type(rec)
        if isinstance(etype, Filtered):
            return etype
        src = _dict(rec.get("src"), "src")
        dst = _dict(rec.get("dst"), "dst")
        if src is None or dst is None:
            raise Bad("malformed record: src/dst", "both endpoints are required")
        local_ip, local_port, local_k8s = _tcp_endpoint(src, "src")
        remote_ip, remote_port, remote_k8s = _tcp_endpoint(dst, "dst")
        if _is_loopback(local_ip) or _is_loopback(remote_ip):
            return Filtered("loopback (never crosses a NetworkPolicy)")

        # The traced container's pod.
        k8s = _dict(rec.get("k8s"), "k8s") or {}
        node = node_name(k8s.get("node"), "k8s.node")
        local, container = _traced(k8s, local_ip, local_k8s)
        remote = _resolved(remote_k8s, remote_ip, "dst.k8s")
        if remote is None:
            # The resolver ran (a k8s object is present) and named nothing: not a pod or a
            # Service. Without the resolver the peer is simply unknown.
            remote = _Endpoint("external" if remote_k8s is not None else "unknown", remote_ip)

        row = new_row()
        row["protocol"], row["protocol_number"] = "TCP", 6
        row["ip_family"] = family(local_ip, remote_ip)
        start = time_ns(rec.get("timestamp"), "timestamp", unit="ns")
        if start is None:
            start = time_ns(rec.get("timestamp_raw"), "timestamp_raw", unit="ns")
        if start is None:
            raise Bad("missing time", "neither timestamp nor timestamp_raw is set")
        row["time_start"] = row["time_end"] = start
        row["observer"] = node
        row["verdict"] = "allowed"  # the handshake completed (connect) or was accepted
        if etype == "connect":
            _finish(
                row, local, remote, outgoing=True, server_port=remote_port, client_port=local_port
            )
        else:
            _finish(
                row, local, remote, outgoing=False, server_port=local_port, client_port=remote_port
            )
        extra = {"event": etype}
        if container is not None:
            extra["container"] = container
        netns = uint(rec.get("netns_id", rec.get("netnsid")), "netns_id")
        if netns is not None:
            extra["netns_id"] = str(netns)
        row["extra"] = sorted(extra.items())
        return row


def _event_type(rec: dict) -> str | Filtered:
    """``connect`` or ``accept``; Filtered for messages and ``close`` events."""
    etype = rec.get("type")
    if etype is None:
        raw = rec.get("type_raw")
        if type(raw) is not int or raw not in TCP_EVENT_TYPES:
            raise malformed("type", raw)
        etype = TCP_EVENT_TYPES[raw]
    elif etype in MESSAGE_TYPES:
        return Filtered(f"ig: {etype} message")
    elif etype not in ("connect", "accept", "close"):
        raise malformed("type", etype)
    if etype == "close":
        return Filtered("ig: close event (evidence only)")
    return etype


def _traced(k8s: dict, local_ip: str, local_k8s: dict | None) -> tuple[_Endpoint, str | None]:
    """The traced container's end (its pod, host-network pod or unknown) and container."""
    ns = namespace(k8s.get("namespace"), "k8s.namespace")
    pod = pod_name(k8s.get("podName"), "k8s.podName")
    container = name(
        k8s.get("containerName"),
        "k8s.containerName",
        is_dns1123_label,
        "invalid container name",
    )
    _pod_identity(ns, pod, "k8s")
    host_network = _bool(_ci(k8s, "hostnetwork"), "k8s.hostnetwork")
    resolved_local = _resolved(local_k8s, local_ip, "src.k8s")
    if host_network:
        return _Endpoint("host_network_pod", local_ip, ns, pod), container
    if pod is not None:
        lab = None
        if (
            resolved_local is not None
            and resolved_local.kind == "pod"
            and (resolved_local.namespace, resolved_local.pod) == (ns, pod)
        ):
            lab = resolved_local.labels
        return _Endpoint("pod", local_ip, ns, pod, lab), container
    if resolved_local is not None and resolved_local.kind == "pod":
        return resolved_local, container
    return _Endpoint("unknown", local_ip), container


# =========================================================================== registry

#: The two formats' readers (``detect.FORMAT_MODULES`` names them ``gadget:LEGACY_READER``
#: and ``gadget:TRACE_TCP_READER``).
LEGACY_READER = Reader(NAME=LEGACY, looks_like=looks_like_legacy, Parser=LegacyParser)
TRACE_TCP_READER = Reader(NAME=TRACE_TCP, looks_like=looks_like_trace_tcp, Parser=TraceTCPParser)


def looks_like(record: Any) -> bool:
    """Either Inspektor Gadget format (for callers that use this module directly)."""
    return looks_like_legacy(record) or looks_like_trace_tcp(record)
