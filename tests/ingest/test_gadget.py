"""Inspektor Gadget ingest (``research/flow-formats.md`` section 5): ``ig-legacy`` and
``ig-trace-tcp``.

Records come from upstream inspektor-gadget/inspektor-gadget:

* ``CONNECT_TO_SVC`` is ``pkg/gadgets/advise/networkpolicy/advisor/testdata/connect-to-svc.input``
  (at 3fd8823e4f884f4a2ffd318b7962fe25856d3fec), verbatim; ``connect-to-svc-duplicate.input``
  repeats its lines (5 events).
* The flat client/server events follow the ``RunNetworkPolicyMonitorClient``/``...Server``
  expectations of the integration tests (``integration/inspektor-gadget/...``), with values.
* The nested 2023-2025 shape follows ``pkg/gadgets/trace/network/types/types.go`` (``dst``
  is ``eventtypes.L3Endpoint``: ``addr``, ``version``, ``namespace``, ``podname``, ``kind``,
  ``podlabels``).
* ``TRACE_TCP_KUBECTL``/``TRACE_TCP_IG`` are the ``-o json`` output lines of
  ``docs/reference/run.mdx`` (0a0e74614accfc465c9e9f5c7831bff65a8f3119), verbatim; the
  KubeIPResolver ``k8s`` shape is from ``docs/spec/operators/kubeipresolver.md``.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.connections import build_connections
from recommender.ingest import detect, read_flows
from recommender.ingest.gadget import (
    LegacyParser,
    TraceTCPParser,
    looks_like_legacy,
    looks_like_trace_tcp,
)
from recommender.ingest.sources import Filtered, Rejected
from recommender.schema import FLOW_SCHEMA, SCHEMA_VERSION
from recommender.validate import is_dns1123_label, is_dns1123_subdomain, is_label_key

REAL_HUBBLE = Path(__file__).resolve().parents[2].parent / "shared" / "real-flows" / "hubble"

CONNECT_TO_SVC = (
    '{"type":"normal","node":"minikube","namespace":"test-networkpolicy-8485776873410829123",'
    '"pod":"test-pod","pktType":"OUTGOING","proto":"udp","port":53,"remoteKind":"svc",'
    '"remoteAddr":"10.96.0.10","remoteNamespace":"kube-system","remoteName":"kube-dns",'
    '"remoteLabels":{"k8s-app":"kube-dns"}}\n'
    '{"type":"normal","node":"minikube","namespace":"test-networkpolicy-8485776873410829123",'
    '"pod":"test-pod","pktType":"OUTGOING","proto":"tcp","port":443,"remoteKind":"svc",'
    '"remoteAddr":"10.96.0.1","remoteNamespace":"default","remoteName":"kubernetes"}\n'
)
NS_CLIENT, NS_SERVER = "test-client", "test-server"
T0 = 1_700_000_000_123_456_789


def legacy_client(**changes) -> dict:
    """``RunNetworkPolicyMonitorClient``: the client pod connects to Service test-pod:9090."""
    rec = {
        "node": "minikube",
        "namespace": NS_CLIENT,
        "pod": "test-pod",
        "container": "test-pod",
        "timestamp": T0,
        "type": "normal",
        "pktType": "OUTGOING",
        "proto": "tcp",
        "port": 9090,
        "podHostIP": "192.168.49.2",
        "podIP": "10.244.0.5",
        "podLabels": {"run": "test-pod"},
        "remoteKind": "svc",
        "remoteAddr": "10.96.100.7",
        "remoteName": "test-pod",
        "remoteNamespace": NS_SERVER,
        "remoteLabels": {"run": "test-pod"},
    }
    rec.update(changes)
    return rec


def legacy_server(**changes) -> dict:
    """``RunNetworkPolicyMonitorServer``: the server pod receives from the client pod."""
    rec = legacy_client(
        namespace=NS_SERVER,
        podIP="10.244.0.6",
        pktType="HOST",
        remoteKind="pod",
        remoteAddr="10.244.0.5",
        remoteName="test-pod",
        remoteNamespace=NS_CLIENT,
    )
    rec.update(changes)
    return rec


def legacy_nested(**dst_changes) -> dict:
    """The mid-2023..2025 shape (types.go): ``k8s`` and an ``L3Endpoint`` ``dst``."""
    dst = {
        "addr": "10.244.0.9",
        "version": 4,
        "namespace": "shop",
        "podname": "db-0",
        "kind": "pod",
        "podlabels": {"app": "db"},
    }
    dst.update(dst_changes)
    return {
        "runtime": {"runtimeName": "containerd", "containerId": "abc"},
        "k8s": {
            "node": "node-a",
            "namespace": "shop",
            "podName": "web-1",
            "containerName": "web",
            "hostNetwork": False,
        },
        "timestamp": T0,
        "type": "normal",
        "pid": 42,
        "comm": "curl",
        "pktType": "OUTGOING",
        "proto": "tcp",
        "port": 5432,
        "podHostIP": "192.168.1.10",
        "podIP": "10.244.0.8",
        "podOwner": "web",
        "podLabels": {"app": "web"},
        "dst": dst,
    }


TRACE_TCP_KUBECTL = json.loads(
    '{"comm":"wget","dst":{"addr":"1.1.1.1","port":80,"proto":6,"version":4},"gid":0,"k8s":'
    '{"containerName":"mypod2","hostnetwork":false,"namespace":"default","node":"minikube",'
    '"podName":"mypod2"},"mntns_id":4026536533,"netns_id":4026535383,"pid":446916,"runtime":'
    '{"containerId":"53225e24386f30ac68a58cd57c1689590875e4904f9449d0c19835f68da0c0b6",'
    '"containerImageDigest":"","containerImageName":"","containerName":"","runtimeName":""},'
    '"src":{"addr":"10.244.0.8","port":41464,"proto":6,"version":4},"tid":446916,"timestamp":'
    '"2024-07-31T18:38:31.977700392Z","timestamp_raw":1722451111977700392,"type":"connect",'
    '"type_raw":0,"uid":0}'
)
TRACE_TCP_IG = json.loads(
    '{"comm":"wget","dst":{"addr":"1.1.1.1","port":80,"proto":6,"version":4},"gid":0,"k8s":'
    '{"containerName":"","hostnetwork":false,"namespace":"","node":"","podName":""},'
    '"mntns_id":4026535102,"netns_id":4026535106,"pid":447673,"runtime":{"containerId":'
    '"88df7f962685e0452e130937696a0686a3fb21466dbd4ba7b5e46574876756f6","containerImageDigest":'
    '"sha256:5eef5ed34e1e1ff0a4ae850395cbf665c4de6b4b83a32a0bc7bcb998e24e7bbb",'
    '"containerImageName":"docker.io/library/busybox:latest","containerName":"mycontainer",'
    '"runtimeName":"docker"},"src":{"addr":"172.17.0.3","port":45942,"proto":6,"version":4},'
    '"tid":447673,"timestamp":"2024-07-31T13:39:16.455283441-05:00","timestamp_raw":'
    '1722451156455283441,"type":"connect","type_raw":0,"uid":0}'
)


def tcp_event(etype: str, *, local: tuple, remote: tuple, **k8s) -> dict:
    """A trace_tcp event with KubeIPResolver metadata: ``local``/``remote`` are
    (addr, port, k8s-or-None); ``src`` is always the local socket."""
    ev = copy.deepcopy(TRACE_TCP_KUBECTL)
    ev["type"] = etype
    ev["type_raw"] = {"connect": 0, "accept": 1, "close": 2}[etype]
    ev["src"] = {"addr": local[0], "port": local[1], "proto": "TCP", "proto_raw": 6, "version": 4}
    ev["dst"] = {"addr": remote[0], "port": remote[1], "proto": "TCP", "proto_raw": 6, "version": 4}
    if local[2] is not None:
        ev["src"]["k8s"] = local[2]
    if remote[2] is not None:
        ev["dst"]["k8s"] = remote[2]
    ev["k8s"].update(k8s)
    return ev


def resolved(kind, ns, name, labels=""):
    return {"kind": kind, "namespace": ns, "name": name, "labels": labels}


def legacy(rec, path="ig.json"):
    return LegacyParser(path).parse(rec)


def tcp(rec):
    return TraceTCPParser("tcp.json").parse(rec)


def write_lines(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def table(rows: list[dict]) -> pa.Table:
    for i, r in enumerate(rows, 1):
        r.update(schema_version=SCHEMA_VERSION, source_format="x", source_file="t", source_record=i)
    return pa.Table.from_pylist(rows, schema=FLOW_SCHEMA)


# =========================================================================== ig-legacy


def test_upstream_connect_to_svc(tmp_path):
    p = tmp_path / "connect-to-svc.input"
    p.write_text(CONNECT_TO_SVC)
    os.utime(p, ns=(T0, T0))
    fs = read_flows([p])
    assert fs.counts.balanced() and fs.counts.normalized == 2
    dns, api = fs.table.to_pylist()
    assert dns["source_format"] == "ig-legacy"
    assert (dns["src_kind"], dns["src_namespace"], dns["src_pod"]) == (
        "pod",
        "test-networkpolicy-8485776873410829123",
        "test-pod",
    )
    assert dns["src_labels"] is None  # podLabels absent: unknown
    # A Service seen before DNAT: front-end fields only, never a pod port.
    assert (dns["dst_kind"], dns["dst_ip"], dns["dst_port"]) == ("service", None, None)
    assert (dns["dst_ip_original"], dns["dst_port_original"], dns["dst_service_port"]) == (
        "10.96.0.10",
        53,
        53,
    )
    assert (dns["dst_service_namespace"], dns["dst_service_name"]) == ("kube-system", "kube-dns")
    assert dns["dst_labels"] is None  # remoteLabels of a svc are its selector: not kept
    assert (dns["protocol"], dns["ip_family"]) == ("UDP", 4)
    assert (dns["direction"], dns["reporter"], dns["is_reply"]) == ("egress", "src", False)
    assert (dns["observer"], dns["verdict"], dns["flows"]) == ("minikube", "unknown", 1)
    # No timestamp in this shape: the file's time, marked.
    assert dns["time_start"].value == T0
    assert dict(dns["extra"]) == {"pkt_type": "OUTGOING", "time_source": "file_mtime"}
    assert (api["protocol"], api["dst_service_name"], api["dst_service_port"]) == (
        "TCP",
        "kubernetes",
        443,
    )
    # The connections stage sets pre-DNAT records aside instead of writing port 443 rules.
    conns = build_connections(fs.table)
    assert conns.records_used == 0
    assert sum(conns.excluded.values()) == 2


def test_upstream_duplicates_are_kept_as_events(tmp_path):
    lines = CONNECT_TO_SVC.splitlines()
    p = tmp_path / "connect-to-svc-duplicate.input"
    p.write_text("\n".join([lines[0], lines[1], lines[0], lines[0], lines[1]]) + "\n")
    fs = read_flows([p])
    assert fs.counts.normalized == 5 and set(fs.table.column("flows").to_pylist()) == {1}


def test_outgoing_is_egress_from_the_local_pod():
    row = legacy(legacy_client(remoteKind="pod", remoteAddr="10.244.0.6", remoteLabels={}))
    assert (row["src_kind"], row["src_namespace"], row["src_pod"], row["src_ip"]) == (
        "pod",
        NS_CLIENT,
        "test-pod",
        "10.244.0.5",
    )
    assert row["src_labels"] == (("run", "test-pod"),)
    assert (row["dst_kind"], row["dst_namespace"], row["dst_pod"], row["dst_ip"]) == (
        "pod",
        NS_SERVER,
        "test-pod",
        "10.244.0.6",
    )
    assert row["dst_labels"] == ()  # "{}" given: known empty
    assert (row["dst_port"], row["src_port"]) == (9090, None)
    assert (row["direction"], row["reporter"], row["is_reply"]) == ("egress", "src", False)
    assert row["time_start"] == T0
    assert dict(row["extra"]) == {"container": "test-pod", "pkt_type": "OUTGOING"}


def test_host_is_ingress_to_the_local_pod_on_its_own_port():
    row = legacy(legacy_server())
    # The remote pod is the client; port is the local (server) pod's listening port.
    assert (row["src_kind"], row["src_namespace"], row["src_pod"], row["src_ip"]) == (
        "pod",
        NS_CLIENT,
        "test-pod",
        "10.244.0.5",
    )
    assert (row["dst_kind"], row["dst_namespace"], row["dst_pod"], row["dst_ip"]) == (
        "pod",
        NS_SERVER,
        "test-pod",
        "10.244.0.6",
    )
    assert row["dst_port"] == 9090 and row["dst_labels"] == (("run", "test-pod"),)
    assert (row["direction"], row["reporter"], row["is_reply"]) == ("ingress", "dst", False)
    assert row["verdict"] == "allowed"  # the SYN reached the pod


def test_host_from_the_pods_own_node_is_a_node_source():
    row = legacy(legacy_server(remoteKind="other", remoteAddr="192.168.49.2"))
    assert (row["src_kind"], row["src_ip"]) == ("node", "192.168.49.2")
    row = legacy(legacy_server(remoteKind="other", remoteAddr="203.0.113.9"))
    assert (row["src_kind"], row["src_ip"]) == ("external", "203.0.113.9")


def test_early_2022_field_names():
    rec = legacy_client()
    for key in ("remoteAddr", "remoteName", "remoteNamespace", "remoteLabels"):
        del rec[key]
    rec.update(
        ip="10.96.100.7",
        remoteServiceNamespace=NS_SERVER,
        remoteServiceName="test-pod",
        remoteServiceLabelSelector={"run": "test-pod"},
    )
    row = legacy(rec)
    assert (row["dst_kind"], row["dst_service_name"], row["dst_ip_original"]) == (
        "service",
        "test-pod",
        "10.96.100.7",
    )
    other = legacy_client(remoteKind="other", remoteOther="93.184.216.34", remoteAddr=None)
    row = legacy(other)
    assert (row["dst_kind"], row["dst_ip"], row["dst_port"]) == ("external", "93.184.216.34", 9090)


def test_nested_shape_and_case_insensitive_keys():
    row = legacy(legacy_nested())
    assert (row["src_namespace"], row["src_pod"], row["src_labels"]) == (
        "shop",
        "web-1",
        (("app", "web"),),
    )
    assert (row["dst_kind"], row["dst_namespace"], row["dst_pod"], row["dst_labels"]) == (
        "pod",
        "shop",
        "db-0",
        (("app", "db"),),
    )
    assert (row["dst_port"], row["observer"]) == (5432, "node-a")
    assert dict(row["extra"])["pod_owner"] == "web"
    # Upstream testdata spells the L3Endpoint keys "name" / "podLabels" (Go matches them).
    alt = legacy_nested()
    alt["dst"] = {
        "addr": "10.244.0.9",
        "Kind": "pod",
        "namespace": "shop",
        "name": "db-0",
        "podLabels": {"app": "db"},
    }
    assert legacy(alt)["dst_labels"] == (("app", "db"),)
    raw = legacy(legacy_nested(kind="raw", podname="", namespace="", podlabels=None))
    assert (raw["dst_kind"], raw["dst_ip"]) == ("external", "10.244.0.9")
    svc = legacy(legacy_nested(kind="svc", podname="db", addr="10.96.0.20"))
    assert (svc["dst_kind"], svc["dst_service_name"], svc["dst_service_port"]) == (
        "service",
        "db",
        5432,
    )


def test_host_network_pod():
    rec = legacy_nested()
    rec["k8s"]["hostNetwork"] = True
    row = legacy(rec)
    assert (row["src_kind"], row["src_pod"], row["src_labels"]) == (
        "host_network_pod",
        "web-1",
        None,
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"type": "debug", "message": "tracer attached"}, Filtered("ig: debug message")),
        ({"type": "ready"}, Filtered("ig: ready message")),
        ({"pktType": "BROADCAST"}, Filtered("ig: packet type other than HOST/OUTGOING")),
        ({"remoteKind": "other", "remoteAddr": "127.0.0.1"}, None),
    ],
)
def test_filtered_events(changes, expected):
    out = legacy(legacy_client(**changes))
    if expected is None:
        expected = Filtered("loopback (never crosses a NetworkPolicy)")
    assert out == expected


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"namespace": "../../etc"}, "invalid namespace"),
        ({"pod": "Test_Pod"}, "invalid pod name"),
        ({"podLabels": {"run": "x\ny"}}, "invalid label value"),
        ({"podLabels": "run=test"}, "malformed record: podLabels"),
        ({"remoteNamespace": "UPPER"}, "invalid namespace"),
        ({"remoteName": "svc.with.dots"}, "invalid service name"),
        ({"port": "9090x"}, "malformed record: port"),
        ({"port": 0}, "missing port"),
        ({"port": 70000}, "malformed record: port"),
        ({"proto": "icmp"}, "malformed record: proto"),
        ({"pktType": 4}, "malformed record: pktType"),
        ({"pktType": "HOST", "remoteKind": "svc"}, "malformed record: peer kind"),
        ({"remoteKind": "node"}, "malformed record: remote kind"),
        ({"remoteAddr": "10.96.100.7%eth0"}, "invalid IP"),
        ({"timestamp": "soon"}, "invalid time"),
        ({"type": "bogus"}, "malformed record: type"),
        ({"remoteKind": "pod", "remoteName": ""}, "incomplete pod identity"),
        ({"node": "Node 1"}, "invalid node name"),
        ({"podIP": "fd00::5"}, "invalid IP"),  # IPv4 peer, IPv6 pod
    ],
)
def test_legacy_hostile_fields(changes, reason):
    out = legacy(legacy_client(**changes))
    assert isinstance(out, Rejected), out
    assert out.reason == reason


def test_legacy_not_an_object():
    assert legacy("x").reason == "malformed record: not an object"


# =========================================================================== ig-trace-tcp


def test_trace_tcp_doc_samples(tmp_path):
    p = write_lines(tmp_path / "trace_tcp.json", [TRACE_TCP_KUBECTL, TRACE_TCP_IG])
    fs = read_flows([p])
    assert fs.counts.balanced() and fs.counts.normalized == 2
    k, i = fs.table.to_pylist()
    assert k["source_format"] == "ig-trace-tcp"
    assert (k["src_kind"], k["src_namespace"], k["src_pod"], k["src_ip"], k["src_port"]) == (
        "pod",
        "default",
        "mypod2",
        "10.244.0.8",
        41464,
    )
    assert k["src_labels"] is None  # no KubeIPResolver: labels unknown
    assert (k["dst_kind"], k["dst_ip"], k["dst_port"]) == ("unknown", "1.1.1.1", 80)
    assert (k["protocol"], k["direction"], k["reporter"], k["is_reply"]) == (
        "TCP",
        "egress",
        "src",
        False,
    )
    assert k["time_start"].value == 1722451111977700392 and k["observer"] == "minikube"
    assert dict(k["extra"]) == {
        "container": "mypod2",
        "event": "connect",
        "netns_id": "4026535383",
    }
    # `ig` prints the host's local offset: the same instant in UTC.
    assert i["time_start"].value == 1722451156455283441
    assert (i["src_kind"], i["src_pod"], i["src_ip"], i["observer"]) == (
        "unknown",
        None,
        "172.17.0.3",
        None,
    )


def test_connect_and_accept_orientation_and_dedup():
    web = resolved("pod", "shop", "web-1", "app=web,tier=front")
    db = resolved("pod", "shop", "db-0", "app=db")
    connect = tcp_event(
        "connect",
        local=("10.244.0.8", 40000, web),
        remote=("10.244.1.9", 5432, db),
        namespace="shop",
        podName="web-1",
        node="node-a",
    )
    # The same connection traced on the server's node: src is the *local* (server) socket.
    accept = tcp_event(
        "accept",
        local=("10.244.1.9", 5432, db),
        remote=("10.244.0.8", 40000, web),
        namespace="shop",
        podName="db-0",
        node="node-b",
    )
    c, a = tcp(connect), tcp(accept)
    for row in (c, a):
        assert (row["src_pod"], row["src_ip"], row["src_port"]) == ("web-1", "10.244.0.8", 40000)
        assert (row["dst_pod"], row["dst_ip"], row["dst_port"]) == ("db-0", "10.244.1.9", 5432)
        assert row["src_labels"] == (("app", "web"), ("tier", "front"))
        assert row["dst_labels"] == (("app", "db"),)
        assert row["is_reply"] is False and row["verdict"] == "allowed"
    assert (c["direction"], c["reporter"], c["observer"]) == ("egress", "src", "node-a")
    assert (a["direction"], a["reporter"], a["observer"]) == ("ingress", "dst", "node-b")
    conns = build_connections(table([c, a]))
    (conn,) = conns.table.to_dict("records")
    assert (conn["port"], conn["flows"], conn["records"], conn["observers"]) == (5432, 1, 2, 2)


def test_trace_tcp_service_and_unresolved_peers():
    web = resolved("pod", "demo", "mypod", "run=mypod")
    svc = resolved("svc", "kube-system", "kube-dns", "k8s-app=kube-dns,kubernetes.io/name=CoreDNS")
    row = tcp(
        tcp_event(
            "connect",
            local=("10.244.0.12", 57066, web),
            remote=("10.96.0.10", 53, svc),
            namespace="demo",
            podName="mypod",
        )
    )
    assert (row["dst_kind"], row["dst_ip"], row["dst_port"]) == ("service", None, None)
    assert (row["dst_service_namespace"], row["dst_service_name"]) == ("kube-system", "kube-dns")
    assert (row["dst_ip_original"], row["dst_service_port"]) == ("10.96.0.10", 53)
    assert row["dst_labels"] is None  # Service labels are not pod labels
    # The resolver ran but named nothing: an address outside pods and Services.
    row = tcp(
        tcp_event(
            "connect",
            local=("10.244.0.12", 57066, web),
            remote=("93.184.216.34", 443, {}),
            namespace="demo",
            podName="mypod",
        )
    )
    assert row["dst_kind"] == "external"
    # An accepted connection from a Service address makes no sense.
    out = tcp(
        tcp_event(
            "accept",
            local=("10.244.0.12", 8080, web),
            remote=("10.96.0.10", 40000, svc),
            namespace="demo",
            podName="mypod",
        )
    )
    assert isinstance(out, Rejected) and out.reason == "malformed record: peer kind"


def test_trace_tcp_local_from_resolver_hostnetwork_and_type_raw():
    web = resolved("pod", "demo", "mypod", "run=mypod")
    ev = tcp_event("connect", local=("10.244.0.12", 1234, web), remote=("10.0.0.1", 80, None))
    ev["k8s"] = {"namespace": "", "podName": "", "node": "", "containerName": ""}
    row = tcp(ev)
    assert (row["src_kind"], row["src_pod"], row["src_labels"]) == (
        "pod",
        "mypod",
        (("run", "mypod"),),
    )
    ev = tcp_event(
        "connect",
        local=("192.168.1.10", 1234, None),
        remote=("10.0.0.1", 80, None),
        hostnetwork=True,
        namespace="kube-system",
        podName="kube-proxy-abc",
    )
    assert tcp(ev)["src_kind"] == "host_network_pod"
    del ev["type"]
    ev["type_raw"] = 1
    assert tcp(ev)["direction"] == "ingress"


def test_close_and_loopback_are_filtered():
    ev = tcp_event("close", local=("10.244.0.8", 40000, None), remote=("10.0.0.1", 80, None))
    assert tcp(ev) == Filtered("ig: close event (evidence only)")
    ev = tcp_event("connect", local=("127.0.0.1", 40000, None), remote=("127.0.0.1", 80, None))
    assert tcp(ev) == Filtered("loopback (never crosses a NetworkPolicy)")


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e["k8s"].update(namespace="../etc"), "invalid namespace"),
        (lambda e: e["k8s"].update(podName=""), "incomplete pod identity"),
        (lambda e: e["dst"].update(port=0), "missing port"),
        (lambda e: e["dst"].update(port="80"), None),  # digits are accepted
        (lambda e: e["dst"].update(proto=17), "malformed record: dst.proto"),
        (lambda e: e["src"].update(addr="10.0.0.300"), "invalid IP"),
        (lambda e: e["dst"].update(addr="::1"), None),  # loopback: filtered
        (lambda e: e.update(type="listen"), "malformed record: type"),
        (lambda e: e.update(timestamp="2024-13-01T00:00:00Z", timestamp_raw=None), "invalid time"),
        (lambda e: e.update(timestamp=None, timestamp_raw=None), "missing time"),
        (lambda e: e.update(dst=[1]), "malformed record: dst"),
        (lambda e: e["dst"].update(k8s={"kind": "pod", "name": "x"}), "incomplete pod identity"),
        (
            lambda e: e["dst"].update(
                k8s={"kind": "pod", "namespace": "a", "name": "b", "labels": "a=b,c"}
            ),
            "invalid labels",
        ),
        (lambda e: e["dst"].update(k8s={"kind": "node"}), "malformed record: dst.k8s.kind"),
        (lambda e: e["k8s"].update(hostnetwork="yes"), "malformed record: k8s.hostnetwork"),
        (lambda e: e["src"].update(addr="fd00::8"), "invalid IP"),
    ],
)
def test_trace_tcp_hostile_fields(mutate, reason):
    ev = copy.deepcopy(TRACE_TCP_KUBECTL)
    mutate(ev)
    out = tcp(ev)
    if reason is None:
        assert isinstance(out, dict | Filtered)
    else:
        assert isinstance(out, Rejected), out
        assert out.reason == reason


# =========================================================================== both


def test_bad_events_around_good_ones_keep_lines_and_balance(tmp_path):
    records = [
        legacy_client(),
        legacy_client(namespace="../../etc"),
        legacy_client(type="debug"),
        [1, 2],
        legacy_server(),
    ]
    p = write_lines(tmp_path / "monitor.log", records)
    fs = read_flows([p])
    c = fs.counts
    assert c.balanced() and (c.read, c.normalized, c.rejected_total, c.filtered_total) == (
        5,
        2,
        2,
        1,
    )
    assert [(e.line, e.reason) for e in c.examples] == [
        (2, "invalid namespace"),
        (4, "malformed record: not an object"),
    ]
    assert dict(c.filtered) == {"ig: debug message": 1}


def test_json_array_input_as_the_advisor_accepted(tmp_path):
    p = tmp_path / "events.json"
    p.write_text(json.dumps([legacy_client(), legacy_server()]))
    fs = read_flows([p])
    assert fs.counts.normalized == 2 and fs.table.column("source_record").to_pylist() == [1, 2]


def test_registry_modules_and_detection(tmp_path):
    assert {"ig-legacy", "ig-trace-tcp"} <= set(detect.formats())
    assert detect.load("ig-legacy").Parser is LegacyParser
    assert detect.load("ig-trace-tcp").Parser is TraceTCPParser
    assert detect.load("ig-legacy").NAME == "ig-legacy"
    assert detect.load("ig-trace-tcp").NAME == "ig-trace-tcp"
    assert "recommender.ingest.gadget.legacy" not in sys.modules  # no fake modules
    cases = {
        "ig-legacy": [legacy_client(), legacy_server(), legacy_nested()]
        + [json.loads(line) for line in CONNECT_TO_SVC.splitlines()],
        "ig-trace-tcp": [TRACE_TCP_KUBECTL, TRACE_TCP_IG],
    }
    for fmt, recs in cases.items():
        for r in recs:
            assert detect.detect_record(r) == fmt
        p = write_lines(tmp_path / f"{fmt}.json", recs)
        assert set(read_flows([p]).table.column("source_format").to_pylist()) == {fmt}
    assert not looks_like_trace_tcp(legacy_nested())  # has a dst object, but also pktType
    assert not looks_like_legacy(TRACE_TCP_KUBECTL)


def test_real_hubble_samples_still_detect_as_hubble():
    for path in sorted(REAL_HUBBLE.iterdir()):
        assert set(read_flows([path]).table.column("source_format").to_pylist()) == {"hubble"}
        for line in path.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                assert not looks_like_legacy(rec) and not looks_like_trace_tcp(rec)


# =========================================================================== fuzzing

HOSTILE = ["", "../../etc", "a\nb", "\udc80", "{{ x }}", "x" * 300, "10.0.0.1", "127.0.0.1", "svc"]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(HOSTILE),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=5,
)
SEEDS = [
    legacy_client(),
    legacy_server(),
    legacy_nested(),
    TRACE_TCP_KUBECTL,
    tcp_event(
        "accept",
        local=("10.244.1.9", 5432, resolved("pod", "shop", "db-0", "app=db")),
        remote=("10.244.0.8", 40000, resolved("pod", "shop", "web-1", "app=web")),
        namespace="shop",
        podName="db-0",
    ),
]


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))


@st.composite
def mutated(draw):
    rec = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = [p for p in _paths(rec) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = rec
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(values)
    return rec


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(mutated(), min_size=1, max_size=4), st.sampled_from(["ig-legacy", "ig-trace-tcp"]))
def test_mutated_events_never_raise_and_only_valid_values_pass(records, fmt):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "m.json"
        p.write_text("".join(json.dumps(r) + "\n" for r in records))
        fs = read_flows([p], format=fmt)
    c = fs.counts
    assert c.balanced() and c.read == len(records) and c.normalized == fs.table.num_rows
    for row in fs.table.to_pylist():
        for side in ("src", "dst"):
            ns, pod = row[f"{side}_namespace"], row[f"{side}_pod"]
            assert ns is None or is_dns1123_label(ns)
            assert pod is None or is_dns1123_subdomain(pod)
            assert all(is_label_key(k) for k, _ in row[f"{side}_labels"] or [])
        assert row["is_reply"] is False and row["flows"] == 1
        assert row["dst_port"] is None or 1 <= row["dst_port"] <= 65535
