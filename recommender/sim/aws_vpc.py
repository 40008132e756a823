"""The simulated traffic as AWS VPC Flow Log records (format ``aws-vpc``).

The connections are exactly those :func:`recommender.sim.hubble_records` renders for the
same cluster and seed (both walk :func:`recommender.sim.plan_connections`), so every
:class:`~recommender.sim.SimEdge` appears; with an inventory of the cluster
(:func:`recommender.sim.kubectl_inventory`) enrichment gives back the same workloads.
How AWS would log them (``research/flow-formats.md`` §3.1):

* One ENI per node (the VPC CNI puts pod addresses on the node's ENIs); every ENI an end of
  the connection sits on (a pod's node, the node itself for kubelet probes, LoadBalancer
  traffic SNATed by another node, or the API server on the control-plane node) logs it.
* Each direction is its own record, aggregated per 1-minute capture window: packets and
  bytes summed, ``start``/``end`` the first and last packet's second, ``tcp-flags`` OR-ed
  over the window with AWS's bits only (FIN 1, SYN 2, RST 4, SYN-ACK 18: a plain ACK or PSH
  is not logged). So a connection gives a request and a reply record per ENI and window.
* Version 3 and later: ``srcaddr``/``dstaddr`` show the ENI's primary address (the node IP)
  for the pod on that node, and ``pkt-srcaddr``/``pkt-dstaddr`` the packet's real addresses
  (the EKS trap the parser must handle). Version 2 (default format, no header, no flags)
  shows the real addresses in ``srcaddr``/``dstaddr``, as for pods with their own branch
  ENI, so it stays usable; its orientation comes from pairing the two directions.
* Idealized on one point: traffic that never leaves a node (same-node pod to pod, kubelet
  probes) is not visible to real VPC Flow Logs; it is rendered here (once, by that node's
  ENI) so that the edge set is identical to the Hubble rendering.
* Each ENI starts with one ``NODATA`` record (the capture window before the traffic).
* Every flow is accepted (``ACCEPT``): security groups allow the cluster's traffic.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

from .clock import S
from .cluster import SimCluster
from .files import write_bytes
from .traffic import Connection, Side, packets, plan_connections

__all__ = ["WINDOW_SECONDS", "aws_vpc_fields", "aws_vpc_lines", "write_aws_vpc"]

#: The maximum aggregation interval chosen for the flow log: 1 minute.
WINDOW_SECONDS = 60
ACCOUNT = "123456789012"
REGION = "us-east-1"
_PROTOCOLS = {"TCP": 6, "UDP": 17, "SCTP": 132}


def aws_vpc_fields(version: int = 5) -> tuple[str, ...]:
    """The field list rendered for ``version`` (2: the default format)."""
    if version not in (2, 3, 4, 5):
        raise ValueError("version must be 2, 3, 4 or 5")
    # The reader's own field tables; imported here because ingest loads pyarrow (0.4 s),
    # which the other renderers and ``python -m recommender.sim`` do not need.
    from ..ingest.aws_vpc import V2_FIELDS, V3_FIELDS, V4_FIELDS, V5_FIELDS

    fields = V2_FIELDS
    if version >= 3:
        fields += V3_FIELDS
    if version >= 4:
        fields += V4_FIELDS
    if version >= 5:
        fields += V5_FIELDS
    return fields


def _flags(pkt_flags: tuple[str, ...]) -> int:
    """AWS ``tcp-flags`` bits of one packet (ACK only as part of SYN-ACK)."""
    bits = 0
    if "SYN" in pkt_flags:
        bits |= 18 if "ACK" in pkt_flags else 2
    if "FIN" in pkt_flags:
        bits |= 1
    if "RST" in pkt_flags:
        bits |= 4
    return bits


class _Enis:
    """Deterministic ENI, instance and subnet ids per node."""

    def __init__(self, cluster: SimCluster, rng: random.Random) -> None:
        self.vpc = f"vpc-{rng.getrandbits(68):017x}"
        self.by_node = {}
        for i, node in enumerate(cluster.nodes):
            self.by_node[node.name] = {
                "eni": f"eni-{rng.getrandbits(68):017x}",
                "instance": f"i-{rng.getrandbits(68):017x}",
                "subnet": f"subnet-{rng.getrandbits(68):017x}",
                "az": f"use1-az{i % 3 + 1}",
                "ip": node.ip,
            }
        self.node_by_ip = {n.ip: n.name for n in cluster.nodes}


def _side_node(side: Side, enis: _Enis) -> str | None:
    """The node an end of a connection sits on (None: outside the cluster)."""
    if side.kind == "pod":
        return side.pod.node
    if side.kind == "host":
        return side.node
    if side.kind in ("remote-node", "kube-apiserver"):
        return enis.node_by_ip.get(side.ip)
    return None


def _records(cluster: SimCluster, seed: int, version: int) -> list[tuple[int, str, dict]]:
    """Every record: (start second, node, field values), in a deterministic order."""
    rng = random.Random(seed * 2654435761 + 11)
    enis = _Enis(cluster, rng)
    fields = aws_vpc_fields(version)
    out: list[tuple[int, str, dict]] = []
    first: dict[str, int] = {}
    for conn in plan_connections(cluster, seed):
        out.extend(_conn_records(conn, enis, rng, version, first))
    # One NODATA record per ENI, for the capture window before its first traffic.
    for node, t0 in sorted(first.items()):
        start = (t0 // WINDOW_SECONDS - 1) * WINDOW_SECONDS
        ids = enis.by_node[node]
        values = dict.fromkeys(fields, "-")
        values.update(
            {
                "version": str(version),
                "account-id": ACCOUNT,
                "interface-id": ids["eni"],
                "start": str(start),
                "end": str(start + WINDOW_SECONDS - 1),
                "log-status": "NODATA",
            }
        )
        _ids(values, ids, enis, version)
        out.append((start, node, values))
    out.sort(key=lambda r: (r[0], r[1], r[2]["interface-id"], tuple(r[2].values())))
    return out


def _ids(values: dict, ids: dict, enis: _Enis, version: int) -> None:
    if version >= 3:
        values.update(
            {"vpc-id": enis.vpc, "subnet-id": ids["subnet"], "instance-id": ids["instance"]}
        )
    if version >= 4:
        values.update({"region": REGION, "az-id": ids["az"]})


def _conn_records(
    conn: Connection, enis: _Enis, rng: random.Random, version: int, first: dict[str, int]
) -> list[tuple[int, str, dict]]:
    c, s = conn.client, conn.server
    nodes = list(dict.fromkeys(n for n in (_side_node(c, enis), _side_node(s, enis)) if n))
    proto = conn.edge.protocol
    # (node, c2s, window) -> [start s, end s, packets, bytes, flags]
    agg: dict[tuple[str, bool, int], list[int]] = {}
    for pkt in packets(conn, rng):
        size = rng.randint(52, 1500) if "PSH" in pkt.flags or not pkt.flags else 52
        for node in nodes:
            t = pkt.sent if _side_node(c if pkt.c2s else s, enis) == node else pkt.arrives
            sec = t // S
            key = (node, pkt.c2s, sec // WINDOW_SECONDS)
            a = agg.get(key)
            if a is None:
                agg[key] = [sec, sec, 1, size, _flags(pkt.flags)]
                first[node] = min(first.get(node, sec), sec)
            else:
                a[0], a[1] = min(a[0], sec), max(a[1], sec)
                a[2] += 1
                a[3] += size
                a[4] |= _flags(pkt.flags)
    out = []
    for (node, c2s, _), (start, end, npackets, nbytes, flags) in agg.items():
        src, dst = (c, s) if c2s else (s, c)
        sport, dport = (conn.sport, conn.edge.port) if c2s else (conn.edge.port, conn.sport)
        ids = enis.by_node[node]
        local_src = _side_node(src, enis) == node
        egress = local_src
        values = {
            "version": str(version),
            "account-id": ACCOUNT,
            "interface-id": ids["eni"],
            "srcaddr": src.ip,
            "dstaddr": dst.ip,
            "srcport": str(sport),
            "dstport": str(dport),
            "protocol": str(_PROTOCOLS[proto]),
            "packets": str(npackets),
            "bytes": str(nbytes),
            "start": str(start),
            "end": str(end),
            "action": "ACCEPT",
            "log-status": "OK",
        }
        if version >= 3:
            # The ENI shows its primary address for the pod it carries; pkt-* the real one.
            if src.kind == "pod" and local_src:
                values["srcaddr"] = ids["ip"]
            if dst.kind == "pod" and _side_node(dst, enis) == node:
                values["dstaddr"] = ids["ip"]
            values.update(
                {
                    "tcp-flags": str(flags) if proto == "TCP" else "0",
                    "type": "IPv4",
                    "pkt-srcaddr": src.ip,
                    "pkt-dstaddr": dst.ip,
                }
            )
        _ids(values, ids, enis, version)
        if version >= 4:
            values.update({"sublocation-type": "-", "sublocation-id": "-"})
        if version >= 5:
            public = dst.kind == "world"
            s3 = _s3(conn)
            values.update(
                {
                    "pkt-src-aws-service": "S3" if s3 and not c2s else "-",
                    "pkt-dst-aws-service": "S3" if s3 and c2s else "-",
                    "flow-direction": "egress" if egress else "ingress",
                    "traffic-path": ("8" if public else "1") if egress else "-",
                }
            )
        out.append((start, node, values))
    return out


def _s3(conn: Connection) -> bool:
    return any(n.endswith(".amazonaws.com") for n in conn.traffic.names)


def aws_vpc_lines(cluster: SimCluster, *, seed: int = 7, version: int = 5) -> Iterator[str]:
    """The records of every ENI as one S3 object would hold them (a VPC-level flow log):
    the header line first (custom formats, version 3 to 5), then one line per record in
    time order. Lines have no newline."""
    fields = aws_vpc_fields(version)
    if version > 2:
        yield " ".join(fields)
    for _, _, values in _records(cluster, seed, version):
        yield " ".join(values[f] for f in fields)


def write_aws_vpc(
    cluster: SimCluster, out_dir: Path, *, seed: int = 7, version: int = 5, gzip: bool = True
) -> list[Path]:
    """Write one file per node ENI (``<account>_vpcflowlogs_<region>_<eni>.log[.gz]``, each
    with its header line for a custom format), as an ENI-level flow log delivered to S3.
    Gzip members have mtime 0, so the output is byte-reproducible. Returns the paths in
    node order."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fields = aws_vpc_fields(version)
    header = [" ".join(fields) + "\n"] if version > 2 else []
    lines: dict[str, list[str]] = {n.name: list(header) for n in cluster.nodes}
    eni_of: dict[str, str] = {}
    for _, node, values in _records(cluster, seed, version):
        eni_of[node] = values["interface-id"]
        lines[node].append(" ".join(values[f] for f in fields) + "\n")
    written = []
    suffix = ".log.gz" if gzip else ".log"
    for node in cluster.nodes:
        if node.name not in eni_of:
            continue
        path = out_dir / f"{ACCOUNT}_vpcflowlogs_{REGION}_{eni_of[node.name]}{suffix}"
        write_bytes(path, "".join(lines[node.name]).encode(), gzip=gzip)
        written.append(path)
    return written
