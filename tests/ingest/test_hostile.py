"""Hostile and broken input, for every flow format (DESIGN.md §8, "Input is hostile").

Each hostile record is put between valid records of the format and read with ``read_flows``
(format detection on): nothing raises, the valid neighbours are normalized, the bad record is
rejected with its file:line and a reason naming the problem, and the accounting balances
(``read == normalized + rejected + filtered``). Covered: truncated JSON, wrong types, invalid
IPs, label keys/values and names that break Kubernetes syntax, binary garbage, a 50 MB line,
empty files, corrupt gzip, garbage as the first line (detection uses the first good record),
JSON arrays with a bad element, and (text formats) wrong field counts / non-numeric fields.

The valid records (``SAMPLES``) are built from the same documented samples as the per-format
tests; ``test_fuzz_parsers.py`` mutates them.
"""

from __future__ import annotations

import copy
import csv
import gzip
import io
import json
import re
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from recommender.ingest import FlowSet, InputError, read_flows
from recommender.ingest.aws_vpc import DEFAULT_FIELDS

from .samples import hubble_record

# =========================================================================== valid records

T0_NS = 1_700_000_000_123_456_789

HUBBLE = hubble_record(["k8s:app=productpage", "k8s:io.kubernetes.pod.namespace=bookinfo"])

# tigera/docs datatypes.mdx "Flow log example, with no aggregation" (as in test_calico.py).
CALICO_EE = {
    "start_time": 1597166083,
    "end_time": 1597166383,
    "source_ip": "192.168.47.9",
    "source_name": "access-6b687c8dcb-zn5s2",
    "source_name_aggr": "access-6b687c8dcb-*",
    "source_namespace": "policy-demo",
    "source_port": 42106,
    "source_type": "wep",
    "source_labels": {"labels": ["pod-template-hash=6b687c8dcb", "app=access"]},
    "dest_ip": "192.168.138.79",
    "dest_name": "nginx-86c57db685-h6792",
    "dest_name_aggr": "nginx-86c57db685-*",
    "dest_namespace": "policy-demo",
    "dest_port": 80,
    "dest_type": "wep",
    "dest_labels": {"labels": ["pod-template-hash=86c57db685", "app=nginx"]},
    "proto": "tcp",
    "action": "allow",
    "reporter": "dst",
    "policies": {"all_policies": ["0|default|policy-demo/default.access-nginx|allow|2"]},
    "bytes_in": 388,
    "bytes_out": 1113,
    "num_flows": 1,
    "num_flows_started": 1,
    "num_flows_completed": 1,
    "packets_in": 6,
    "packets_out": 5,
    "host": "bz-n8kf-kadm-node-1",
}

# Goldmane emitter line (Go encoding/json of the generated Flow; as in test_goldmane.py).
GOLDMANE = {
    "Key": {
        "source_name": "frontend-7f9c8d5b4-*",
        "source_namespace": "shop",
        "source_type": 1,
        "dest_name": "cart-5d8b9c7f6-*",
        "dest_namespace": "shop",
        "dest_type": 1,
        "dest_port": 8080,
        "proto": "tcp",
        "reporter": 1,
        "action": 1,
        "policies": {
            "enforced_policies": [
                {
                    "kind": 6,
                    "namespace": "shop",
                    "name": "allow-cart",
                    "tier": "default",
                    "action": 1,
                }
            ]
        },
    },
    "start_time": 1762322400,
    "end_time": 1762322415,
    "source_labels": ["app=frontend", "pod-template-hash=7f9c8d5b4"],
    "dest_labels": ["app=cart"],
    "packets_in": 10,
    "packets_out": 12,
    "bytes_in": 2000,
    "bytes_out": 900,
    "num_connections_started": 3,
}

# AWS VPC Flow Logs, default (version 2) format: field -> token.
AWS_VPC = {
    "version": "2",
    "account-id": "123456789010",
    "interface-id": "eni-1235b8ca123456789",
    "srcaddr": "10.0.0.1",
    "dstaddr": "10.0.0.2",
    "srcport": "40000",
    "dstport": "80",
    "protocol": "6",
    "packets": "3",
    "bytes": "180",
    "start": "1700000000",
    "end": "1700000030",
    "action": "ACCEPT",
    "log-status": "OK",
}

# A Theia ``flows`` row as ClickHouse prints it in FORMAT JSONEachRow (as in test_antrea.py).
ANTREA = {
    "flowStartSeconds": "2024-05-01 10:00:00",
    "flowEndSeconds": "2024-05-01 10:00:15",
    "flowEndReason": 3,
    "sourceIP": "10.244.1.5",
    "destinationIP": "10.244.2.7",
    "sourceTransportPort": 41234,
    "destinationTransportPort": 5432,
    "protocolIdentifier": 6,
    "packetDeltaCount": "12",
    "octetDeltaCount": "900",
    "reversePacketDeltaCount": "10",
    "reverseOctetDeltaCount": "8000",
    "sourcePodName": "web-7f9c-abcde",
    "sourcePodNamespace": "shop",
    "sourceNodeName": "node-a",
    "destinationPodName": "db-0",
    "destinationPodNamespace": "shop",
    "destinationNodeName": "node-b",
    "destinationClusterIP": "10.96.12.34",
    "destinationServicePort": 15432,
    "destinationServicePortName": "shop/db:postgres",
    "ingressNetworkPolicyName": "db-ingress",
    "ingressNetworkPolicyNamespace": "shop",
    "ingressNetworkPolicyRuleAction": 1,
    "ingressNetworkPolicyType": 1,
    "tcpState": "ESTABLISHED",
    "flowType": 2,
    "sourcePodLabels": '{"app":"web","pod-template-hash":"7f9c"}',
    "destinationPodLabels": '{"app":"db"}',
    "trusted": 0,
}

# Inspektor Gadget ``trace network`` event, the mid-2023..2025 nested shape (types.go).
IG_LEGACY = {
    "k8s": {
        "node": "node-a",
        "namespace": "shop",
        "podName": "web-1",
        "containerName": "web",
        "hostNetwork": False,
    },
    "timestamp": T0_NS,
    "type": "normal",
    "pktType": "OUTGOING",
    "proto": "tcp",
    "port": 5432,
    "podHostIP": "192.168.1.10",
    "podIP": "10.244.0.8",
    "podOwner": "web",
    "podLabels": {"app": "web"},
    "dst": {
        "addr": "10.244.0.9",
        "version": 4,
        "namespace": "shop",
        "podname": "db-0",
        "kind": "pod",
        "podlabels": {"app": "db"},
    },
}

# ``kubectl gadget run trace_tcp -o json`` with KubeIPResolver metadata (docs/reference/run.mdx).
IG_TRACE_TCP = {
    "comm": "wget",
    "src": {"addr": "10.244.0.8", "port": 41464, "proto": "TCP", "proto_raw": 6, "version": 4},
    "dst": {
        "addr": "10.244.0.9",
        "port": 8080,
        "proto": "TCP",
        "proto_raw": 6,
        "version": 4,
        "k8s": {"kind": "pod", "namespace": "shop", "name": "db-0", "labels": "app=db,tier=data"},
    },
    "k8s": {
        "containerName": "web",
        "hostnetwork": False,
        "namespace": "shop",
        "node": "minikube",
        "podName": "web-1",
    },
    "netns_id": 4026535383,
    "timestamp": "2024-07-31T18:38:31.977700392Z",
    "timestamp_raw": 1722451111977700392,
    "type": "connect",
    "type_raw": 0,
}

# Generic CSV (docs/generic-format.md): column -> cell.
GENERIC_COLUMNS = (
    "time",
    "src_ip",
    "src_namespace",
    "src_pod",
    "src_labels",
    "dst_namespace",
    "dst_pod",
    "dst_labels",
    "dst_port",
    "protocol",
    "verdict",
    "flows",
    "observer",
)
GENERIC = {
    "time": "2024-05-01T10:00:00Z",
    "src_ip": "10.244.1.5",
    "src_namespace": "shop",
    "src_pod": "web-7f9c-abcde",
    "src_labels": "app=web,tier=front",
    "dst_namespace": "shop",
    "dst_pod": "db-0",
    "dst_labels": '{"app":"db"}',
    "dst_port": "5432",
    "protocol": "TCP",
    "verdict": "allowed",
    "flows": "12",
    "observer": "node-a",
}

#: format -> one valid record (a JSON object, or for the text/CSV formats a field -> cell map).
SAMPLES: dict[str, dict] = {
    "hubble": HUBBLE,
    "calico-ee": CALICO_EE,
    "calico-goldmane": GOLDMANE,
    "aws-vpc": AWS_VPC,
    "antrea": ANTREA,
    "ig-legacy": IG_LEGACY,
    "ig-trace-tcp": IG_TRACE_TCP,
    "generic": GENERIC,
}


def _csv_line(cells: list[Any]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)  # quotes values with line breaks
    return out.getvalue().encode()[:-1]


def dump(fmt: str, rec: Any) -> bytes:
    """One record as its line in a file of the format (no newline)."""
    if fmt == "aws-vpc":
        return " ".join(str(rec[f]) for f in DEFAULT_FIELDS).encode()
    if fmt == "generic":
        return _csv_line([rec.get(c, "") for c in GENERIC_COLUMNS])
    return json.dumps(rec).encode()


def header(fmt: str) -> list[bytes]:
    """Lines before the records (the CSV header)."""
    return [_csv_line(list(GENERIC_COLUMNS))] if fmt == "generic" else []


def good(fmt: str) -> dict:
    return copy.deepcopy(SAMPLES[fmt])


# =========================================================================== field setters


def _set(path: tuple) -> Callable[[dict, Any], None]:
    def setter(rec: dict, value: Any) -> None:
        target = rec
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return setter


def _hubble_labels(rec: dict, pairs: list[tuple[str, str]]) -> None:
    rec["flow"]["source"]["labels"] = [f"k8s:{k}={v}" for k, v in pairs]


@dataclass(frozen=True)
class Fields:
    """Where a format keeps the fields the hostile cases replace (None: it has no such field)."""

    port: Callable[[dict, Any], None]
    ip: Callable[[dict, Any], None] | None
    namespace: Callable[[dict, Any], None] | None
    pod: Callable[[dict, Any], None] | None
    #: Set the pod labels from (key, value) pairs, in the format's own spelling.
    labels: Callable[[dict, list[tuple[str, str]]], None] | None
    #: The label container itself (list / object / string), replaced by another type.
    label_container: Callable[[dict, Any], None] | None
    #: A field that holds an object, with the reason its replacement by a list must give.
    nested: tuple[Callable[[dict, Any], None], str] | None
    json: bool = True


FIELDS: dict[str, Fields] = {
    "hubble": Fields(
        port=_set(("flow", "l4", "TCP", "destination_port")),
        ip=_set(("flow", "IP", "source")),
        namespace=_set(("flow", "source", "namespace")),
        pod=_set(("flow", "source", "pod_name")),
        labels=_hubble_labels,
        label_container=_set(("flow", "source", "labels")),
        nested=(_set(("flow", "source")), "malformed record: source"),
    ),
    "calico-ee": Fields(
        port=_set(("dest_port",)),
        ip=_set(("source_ip",)),
        namespace=_set(("source_namespace",)),
        pod=_set(("source_name",)),
        labels=lambda r, pairs: r.update(source_labels={"labels": [f"{k}={v}" for k, v in pairs]}),
        label_container=_set(("source_labels",)),
        nested=(_set(("policies",)), "malformed record: policies"),
    ),
    "calico-goldmane": Fields(
        port=_set(("Key", "dest_port")),
        ip=None,  # Goldmane flows carry no addresses
        namespace=_set(("Key", "source_namespace")),
        pod=_set(("Key", "source_name")),
        labels=lambda r, pairs: r.update(source_labels=[f"{k}={v}" for k, v in pairs]),
        label_container=_set(("source_labels",)),
        nested=(_set(("Key", "policies")), "malformed record: Key.policies"),
    ),
    "aws-vpc": Fields(
        port=_set(("dstport",)),
        ip=_set(("srcaddr",)),
        namespace=None,
        pod=None,
        labels=None,
        label_container=None,
        nested=None,
        json=False,
    ),
    "antrea": Fields(
        port=_set(("destinationTransportPort",)),
        ip=_set(("sourceIP",)),
        namespace=_set(("sourcePodNamespace",)),
        pod=_set(("sourcePodName",)),
        labels=lambda r, pairs: r.update(sourcePodLabels=json.dumps(dict(pairs))),
        label_container=_set(("sourcePodLabels",)),
        # Labels are a JSON object string: a JSON list string where the object belongs.
        nested=(
            lambda r, v: r.update(sourcePodLabels=json.dumps(v)),
            "malformed record: sourcePodLabels",
        ),
    ),
    "ig-legacy": Fields(
        port=_set(("port",)),
        ip=_set(("podIP",)),
        namespace=_set(("k8s", "namespace")),
        pod=_set(("k8s", "podName")),
        labels=lambda r, pairs: r.update(podLabels=dict(pairs)),
        label_container=_set(("podLabels",)),
        nested=(_set(("k8s",)), "malformed record: k8s"),
    ),
    "ig-trace-tcp": Fields(
        port=_set(("dst", "port")),
        ip=_set(("src", "addr")),
        namespace=_set(("k8s", "namespace")),
        pod=_set(("k8s", "podName")),
        labels=lambda r, pairs: r["dst"]["k8s"].update(
            labels=",".join(f"{k}={v}" for k, v in pairs)
        ),
        label_container=_set(("dst", "k8s", "labels")),
        nested=(_set(("src",)), "malformed record: src"),
    ),
    "generic": Fields(
        port=_set(("dst_port",)),
        ip=_set(("src_ip",)),
        namespace=_set(("src_namespace",)),
        pod=_set(("src_pod",)),
        labels=lambda r, pairs: r.update(src_labels=json.dumps(dict(pairs))),
        label_container=_set(("src_labels",)),
        nested=None,
        json=False,
    ),
}
ALL_FORMATS = list(SAMPLES)
JSON_FORMATS = [f for f in ALL_FORMATS if FIELDS[f].json]


# =========================================================================== hostile cases


@dataclass(frozen=True)
class Case:
    """A hostile record: how to make its line from a valid record, and the reason expected
    (a regular expression searched in the rejection reason)."""

    id: str
    make: Callable[[str], bytes | None]  # format -> the line, or None when not applicable
    reason: str | Callable[[str], str]

    def expected(self, fmt: str) -> str:
        return self.reason(fmt) if callable(self.reason) else self.reason


def _with(attr: str, value: Any) -> Callable[[str], bytes | None]:
    def make(fmt: str) -> bytes | None:
        setter = getattr(FIELDS[fmt], attr)
        if setter is None:
            return None
        rec = good(fmt)
        setter(rec, value)
        return dump(fmt, rec)

    return make


def _with_typed(attr: str, value: Any, *, text: bool = True) -> Callable[[str], bytes | None]:
    """A value of another JSON type; text formats (only strings) get its JSON text, or
    nothing when ``text`` is False (e.g. ``5`` is a fine namespace as text)."""

    def make(fmt: str) -> bytes | None:
        if FIELDS[fmt].json:
            return _with(attr, value)(fmt)
        if not text:
            return None
        return _with(attr, json.dumps(value, separators=(",", ":")))(fmt)

    return make


def _truncated(fmt: str) -> bytes:
    if fmt == "generic":  # half the cells (a cut inside a quoted value would run on)
        rec = good(fmt)
        return _csv_line([rec[c] for c in GENERIC_COLUMNS[: len(GENERIC_COLUMNS) // 2]])
    line = dump(fmt, good(fmt))
    return line[: len(line) // 2]


def _truncated_reason(fmt: str) -> str:
    return {"aws-vpc": "wrong field count", "generic": "column count"}.get(fmt, "invalid JSON")


def _as_list(fmt: str) -> bytes | None:
    if not FIELDS[fmt].json:
        return None
    return json.dumps([good(fmt)]).encode()


def _nested(fmt: str) -> bytes | None:
    nested = FIELDS[fmt].nested
    if nested is None:
        return None
    rec = good(fmt)
    nested[0](rec, ["app=web", {"k": "v"}])
    return dump(fmt, rec)


def _nested_reason(fmt: str) -> str:
    return re.escape(FIELDS[fmt].nested[1]) if FIELDS[fmt].nested else ""


def _aws(**tokens: str) -> Callable[[str], bytes | None]:
    def make(fmt: str) -> bytes | None:
        if fmt != "aws-vpc":
            return None
        rec = good(fmt)
        rec.update(tokens)
        return dump(fmt, rec)

    return make


def _aws_tokens(tokens: Callable[[list[str]], list[str]]) -> Callable[[str], bytes | None]:
    def make(fmt: str) -> bytes | None:
        if fmt != "aws-vpc":
            return None
        return " ".join(tokens(dump(fmt, good(fmt)).decode().split())).encode()

    return make


def _generic(**cells: Any) -> Callable[[str], bytes | None]:
    def make(fmt: str) -> bytes | None:
        if fmt != "generic":
            return None
        rec = good(fmt)
        rec.update(cells)
        return dump(fmt, rec)

    return make


def _generic_raw(line: bytes) -> Callable[[str], bytes | None]:
    return lambda fmt: line if fmt == "generic" else None


def _only(fmt_name: str, path: tuple, value: Any) -> Callable[[str], bytes | None]:
    """A format-specific field (``path`` into the record) set to ``value``."""

    def make(fmt: str) -> bytes | None:
        if fmt != fmt_name:
            return None
        rec = good(fmt)
        _set(path)(rec, value)
        return dump(fmt, rec)

    return make


BINARY = b"\x00\x01\xff\xfe\x80garbage\x00\xc3\x28\xed\xa0\x80"
PORT = "(?i)port"
IP = "(?i)ip|addr"
LABEL = "(?i)label"
NAMESPACE = "(?i)namespace"
NAME = "(?i)name|pod"

HOSTILE_LABELS = {
    "key-traversal": [("../../etc", "x")],
    "key-quote": [('a"b', "x")],
    "key-template": [("{{x}}", "y")],
    "key-newline": [("app\n", "x")],
    "key-non-ascii": [("\u00e9tiquette", "x")],
    "key-too-long": [("k" * 64, "x")],
    "key-bad-prefix": [("Example.COM/app", "x")],
    "value-traversal": [("app", "../../etc")],
    "value-newline": [("app", "a\nb")],
    "value-quotes": [("app", 'say "hi"')],
    "value-template": [("app", "{{ .Values.x }}")],
    "value-300": [("app", "x" * 300)],
    "value-non-ascii": [("app", "caf\u00e9")],
    "value-nul": [("app", "a\x00b")],
    "value-yaml": [("app", "*anchor")],
}

CASES: list[Case] = [
    Case("truncated-json", _truncated, _truncated_reason),
    Case("binary-garbage", lambda fmt: BINARY, "UTF-8|column count"),
    Case("nul-bytes", lambda fmt: b"\x00" * 64, "invalid JSON|wrong field count|column count"),
    Case("record-is-a-list", _as_list, "malformed record: not an object"),
    Case("list-for-object", _nested, _nested_reason),
    # Wrong types and values for the destination port.
    Case("port-string", _with("port", "eighty"), PORT),
    Case("port-negative", _with_typed("port", -1), PORT),
    Case("port-huge", _with_typed("port", 70000), PORT),
    Case("port-int64-overflow", _with_typed("port", 2**64), PORT),
    Case("port-float", _with_typed("port", 80.5), PORT),
    Case("port-list", _with_typed("port", [80]), PORT),
    Case("port-object", _with_typed("port", {"port": 80}), PORT),
    Case("port-bool", _with_typed("port", True), PORT),
    # Addresses.
    Case("ip-999", _with("ip", "999.1.1.1"), IP),
    Case("ip-gg", _with("ip", "::gg"), IP),
    Case("ip-cidr", _with("ip", "10.0.0.0/24"), IP),
    Case("ip-zone", _with("ip", "fe80::1%eth0"), IP),
    Case("ip-hostname", _with("ip", "evil.example.com"), IP),
    Case("ip-number", _with_typed("ip", 167772161), IP),
    Case("ip-list", _with_typed("ip", ["10.0.0.1"]), IP),
    # Namespaces and pod names that would break a path, YAML or Markdown.
    Case("namespace-traversal", _with("namespace", "../../etc"), NAMESPACE),
    Case("namespace-upper", _with("namespace", "Kube-System"), NAMESPACE),
    Case("namespace-newline", _with("namespace", "shop\nevil: true"), NAMESPACE),
    Case("namespace-64", _with("namespace", "n" * 64), NAMESPACE),
    Case("namespace-non-ascii", _with("namespace", "sh\u00f6p"), NAMESPACE),
    Case("namespace-number", _with_typed("namespace", 5, text=False), NAMESPACE),
    Case("namespace-list", _with_typed("namespace", ["shop"]), NAMESPACE),
    Case("namespace-object", _with_typed("namespace", {"name": "shop"}), NAMESPACE),
    Case("pod-traversal", _with("pod", "../../etc/passwd"), NAME),
    Case("pod-template", _with("pod", "{{ .Release.Name }}"), NAME),
    Case("pod-quote", _with("pod", 'web"; rm -rf /'), NAME),
    Case("pod-254", _with("pod", "p" * 254), NAME),
    Case("pod-list", _with_typed("pod", ["web"]), NAME),
    # Labels.
    *[Case(f"label-{k}", _with("labels", v), LABEL) for k, v in HOSTILE_LABELS.items()],
    Case("labels-number", _with_typed("label_container", 5), LABEL),
    Case("labels-bool", _with_typed("label_container", True), LABEL),
    Case("labels-string-garbage", _with("label_container", "\x00{{"), LABEL),
    # Other names, addresses and label spellings of each format.
    Case(
        "hubble-namespace-label",
        _only("hubble", ("flow", "source", "labels"), ["k8s:io.kubernetes.pod.namespace=../x"]),
        NAMESPACE,
    ),
    Case(
        "hubble-service-namespace",
        _only("hubble", ("flow", "destination_service"), {"name": "db", "namespace": "../x"}),
        NAMESPACE,
    ),
    Case("hubble-dst-ip", _only("hubble", ("flow", "IP", "destination"), "::gg"), IP),
    Case("hubble-node", _only("hubble", ("flow", "node_name"), "../../etc"), "(node|cluster) name"),
    Case("hubble-l4-list", _only("hubble", ("flow", "l4"), [{"TCP": {}}]), "l4"),
    Case("hubble-label-not-string", _only("hubble", ("flow", "source", "labels"), [5]), LABEL),
    Case(
        "calico-policy-namespace",
        _only("calico-ee", ("policies",), {"all_policies": ["0|t|../x/t.p|allow|2"]}),
        NAMESPACE,
    ),
    Case("calico-host", _only("calico-ee", ("host",), "../../etc"), "node name"),
    Case("calico-dest-ip", _only("calico-ee", ("dest_ip",), "999.1.1.1"), IP),
    Case("calico-domains", _only("calico-ee", ("dest_domains",), ["a\nb"]), "DNS name"),
    Case("calico-labels-object", _only("calico-ee", ("source_labels",), {"app": "x"}), LABEL),
    Case(
        "goldmane-policy-namespace",
        _only(
            "calico-goldmane",
            ("Key", "policies", "enforced_policies"),
            [{"kind": 6, "namespace": "../../etc", "name": "p", "tier": "default", "action": 1}],
        ),
        NAMESPACE,
    ),
    Case(
        "goldmane-service-name",
        _only("calico-goldmane", ("Key", "dest_service_name"), "{{x}}"),
        "service name",
    ),
    Case("goldmane-key-list", _only("calico-goldmane", ("Key", "proto"), ["tcp"]), "proto"),
    Case(
        "antrea-service-port-name",
        _only("antrea", ("destinationServicePortName",), "../../etc/db:p"),
        NAMESPACE,
    ),
    Case("antrea-policy-name", _only("antrea", ("ingressNetworkPolicyName",), "../x"), "policy"),
    Case("antrea-dst-ip", _only("antrea", ("destinationIP",), "::gg"), IP),
    Case("antrea-labels-json-list", _only("antrea", ("sourcePodLabels",), "[1]"), LABEL),
    Case("legacy-remote-namespace", _only("ig-legacy", ("dst", "namespace"), "../x"), NAMESPACE),
    Case("legacy-remote-pod", _only("ig-legacy", ("dst", "podname"), "../x"), NAME),
    Case("legacy-remote-labels", _only("ig-legacy", ("dst", "podlabels"), {"a": "\n"}), LABEL),
    Case("legacy-node", _only("ig-legacy", ("k8s", "node"), "../../etc"), "node name"),
    Case(
        "trace-tcp-remote-namespace",
        _only("ig-trace-tcp", ("dst", "k8s", "namespace"), "../x"),
        NAMESPACE,
    ),
    Case("trace-tcp-dst-ip", _only("ig-trace-tcp", ("dst", "addr"), "999.1.1.1"), IP),
    Case("trace-tcp-k8s-list", _only("ig-trace-tcp", ("dst", "k8s"), ["pod"]), "k8s"),
    Case("generic-observer", _only("generic", ("observer",), "../../etc"), "node name"),
    Case("generic-conflicting-labels", _only("generic", ("src_labels",), "a=b,a=c"), LABEL),
    # Text lines (AWS VPC): field counts and non-numeric fields.
    Case("aws-too-few-fields", _aws_tokens(lambda t: t[:13]), "wrong field count"),
    Case("aws-too-many-fields", _aws_tokens(lambda t: [*t, "extra"]), "wrong field count"),
    Case("aws-two-fields", _aws_tokens(lambda t: t[:2]), "wrong field count"),
    Case("aws-srcport-text", _aws(srcport="http"), "invalid srcport"),
    Case("aws-packets-negative", _aws(packets="-5"), "invalid packets"),
    Case("aws-bytes-float", _aws(bytes="1.5e3"), "invalid bytes"),
    Case("aws-protocol-name", _aws(protocol="tcp"), "invalid protocol"),
    Case("aws-start-text", _aws(start="yesterday"), "invalid start"),
    Case("aws-end-huge", _aws(end="9" * 30), "invalid end"),
    Case("aws-digits-fullwidth", _aws(dstport="\uff18\uff10"), "invalid dstport"),
    Case("aws-eni-injection", _aws(**{"interface-id": "eni-$(reboot)"}), "invalid interface-id"),
    # CSV rows (generic).
    Case("csv-too-few-columns", _generic_raw(b"2024-05-01T10:00:00Z,10.0.0.1"), "column count"),
    Case("csv-too-many-columns", _generic_raw(dump("generic", GENERIC) + b",x,y"), "column count"),
    Case("csv-protocol", _generic(protocol="tcp/udp"), "protocol"),
    Case("csv-verdict", _generic(verdict="maybe"), "verdict"),
    Case("csv-flows-negative", _generic(flows="-3"), "flows"),
    Case("csv-time", _generic(time="yesterday"), "time"),
    Case(
        "csv-invalid-utf8-cell",
        _generic_raw(dump("generic", GENERIC).replace(b"db-0", b"\xff")),
        "UTF-8",
    ),
]


def _params() -> list:
    out = []
    for fmt in ALL_FORMATS:
        for case in CASES:
            if case.make(fmt) is not None:
                out.append(pytest.param(fmt, case, id=f"{fmt}-{case.id}"))
    return out


# =========================================================================== helpers


def write(path: Path, lines: list[bytes], *, gz: bool = False) -> Path:
    data = b"".join(line + b"\n" for line in lines)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def file_name(fmt: str, gz: bool = False) -> str:
    ext = {"aws-vpc": ".log", "generic": ".csv"}.get(fmt, ".json")
    return f"{fmt}{ext}{'.gz' if gz else ''}"


def read(path: Path, **kw: Any) -> FlowSet:
    fs = read_flows([path], **kw)
    c = fs.counts
    assert c.balanced(), c
    assert c.normalized == fs.table.num_rows
    assert c.read == c.normalized + c.rejected_total + c.filtered_total
    return fs


def rejections(fs: FlowSet) -> list[tuple[str, int, str, str]]:
    return [(e.file, e.line, e.reason, e.detail) for e in fs.counts.examples]


def record_lines(fs: FlowSet) -> list[int]:
    return fs.table.column("source_record").to_pylist()


def assert_detected(fs: FlowSet, fmt: str) -> None:
    assert set(fs.table.column("source_format").to_pylist()) == {fmt}


def assert_one_line(text: str) -> None:
    assert "\n" not in text and "\r" not in text


# =========================================================================== the matrix


def test_every_format_has_a_sample_that_normalizes(tmp_path):
    from recommender.ingest import FORMATS

    assert set(SAMPLES) == set(FORMATS) - {"parquet"}
    for fmt in ALL_FORMATS:
        p = write(tmp_path / file_name(fmt), [*header(fmt), dump(fmt, good(fmt))])
        fs = read(p)
        assert fs.counts.normalized == 1, (fmt, rejections(fs))
        assert_detected(fs, fmt)


@pytest.mark.parametrize("fmt, case", _params())
def test_hostile_record_between_valid_ones(tmp_path, fmt, case):
    bad = case.make(fmt)
    ok = dump(fmt, good(fmt))
    lines = [*header(fmt), ok, bad, ok]
    p = write(tmp_path / file_name(fmt), lines)
    fs = read(p)  # format detection on: the hostile record must not derail it
    first = len(header(fmt)) + 1
    after = first + 2 + bad.count(b"\n")  # a quoted CSV value may span lines
    assert record_lines(fs) == [first, after], rejections(fs)
    assert_detected(fs, fmt)
    c = fs.counts
    assert (c.read, c.normalized, c.rejected_total, c.filtered_total) == (3, 2, 1, 0)
    [(file, line, reason, detail)] = rejections(fs)
    assert (file, line) == (str(p), first + 1)
    assert re.search(case.expected(fmt), reason), (reason, detail)
    assert_one_line(reason)
    assert len(detail) <= 300


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_every_hostile_case_in_one_file(tmp_path, fmt):
    """All the cases of a format in one file, each between two valid records."""
    ok = dump(fmt, good(fmt))
    bad = [(case, case.make(fmt)) for case in CASES]
    bad = [(case, line) for case, line in bad if line is not None]
    lines = [*header(fmt), ok]
    for _, line in bad:
        lines += [line, ok]
    p = write(tmp_path / file_name(fmt), lines)
    fs = read(p)
    assert_detected(fs, fmt)
    expected, at = [len(header(fmt)) + 1], len(header(fmt)) + 1
    for _, line in bad:
        at += 2 + line.count(b"\n")  # a quoted CSV value may span lines
        expected.append(at)
    assert record_lines(fs) == expected
    c = fs.counts
    assert c.rejected_total == len(bad) and c.filtered_total == 0
    assert c.read == len(bad) + (len(bad) + 1)


# =========================================================================== first line garbage


FIRST_LINE_GARBAGE = {
    "binary": BINARY,
    "truncated": None,  # half a valid record
    "nul": b"\x00\x00\x00",
    "text": b"hello, this is not a flow log",
}


def _first_line_params() -> list:
    out = []
    for fmt in ALL_FORMATS:
        if fmt == "generic":
            continue  # its header must be line 1: test_generic_header_must_be_the_first_line
        for garbage in FIRST_LINE_GARBAGE:
            out.append(pytest.param(fmt, garbage, id=f"{fmt}-{garbage}"))
    return out


@pytest.mark.parametrize("fmt, garbage", _first_line_params())
def test_first_line_garbage_is_rejected_and_detection_uses_the_first_good_record(
    tmp_path, fmt, garbage
):
    bad = FIRST_LINE_GARBAGE[garbage]
    if bad is None:
        bad = _truncated(fmt)
    ok = dump(fmt, good(fmt))
    p = write(tmp_path / file_name(fmt), [bad, ok, ok])
    fs = read(p)
    assert_detected(fs, fmt)
    assert record_lines(fs) == [2, 3]
    [(file, line, reason, _)] = rejections(fs)
    assert (file, line) == (str(p), 1)
    assert reason in ("invalid JSON", "invalid UTF-8", "wrong field count")


@pytest.mark.parametrize("scalar", [b"2", b"null", b"true", b'"x"', b"[]"])
@pytest.mark.parametrize("where", ["first", "middle"])
def test_aws_text_line_that_is_a_json_value(tmp_path, scalar, where):
    ok = dump("aws-vpc", good("aws-vpc"))
    lines = [scalar, ok, ok] if where == "first" else [ok, scalar, ok]
    p = write(tmp_path / "vpc.log", lines)
    fs = read(p)
    assert_detected(fs, "aws-vpc")
    assert fs.counts.normalized == 2 and fs.counts.rejected_total == 1


def test_aws_garbage_first_text_line_with_format_given(tmp_path):
    """With ``--format aws-vpc`` no detection is needed: the garbage line is rejected."""
    ok = dump("aws-vpc", good("aws-vpc"))
    p = write(tmp_path / "vpc.log", [b"hello, this is not a flow log", ok, ok])
    fs = read(p, format="aws-vpc")
    assert record_lines(fs) == [2, 3]
    assert [(e.line, e.reason) for e in fs.counts.examples] == [(1, "wrong field count")]


def test_generic_header_must_be_the_first_line(tmp_path):
    """A generic CSV is recognised by its header on line 1 (docs/generic-format.md): garbage
    before the header makes the file unrecognisable, a clear InputError (never a traceback);
    garbage right after the header is one rejected row."""
    ok = dump("generic", good("generic"))
    p = write(tmp_path / "flows.csv", [BINARY, *header("generic"), ok])
    with pytest.raises(InputError, match="not a supported flow log format"):
        read_flows([p])
    p = write(tmp_path / "flows2.csv", [*header("generic"), BINARY, ok, ok])
    fs = read(p)
    assert record_lines(fs) == [3, 4]
    assert [e.line for e in fs.counts.examples] == [2]


# =========================================================================== a 50 MB line


@pytest.mark.parametrize("fmt", [f for f in ALL_FORMATS if f != "generic"])
@pytest.mark.parametrize("where", ["middle", "first", "last-unterminated"])
def test_a_single_50mb_line_is_rejected_quickly(tmp_path, fmt, where):
    ok = dump(fmt, good(fmt))
    p = tmp_path / file_name(fmt)
    big_size = 50 * 1024 * 1024
    # Looks like the start of a record (valid JSON / tokens), then never ends.
    start = b'{"flow": {"x": "' if fmt != "aws-vpc" else b"2 123456789010 "
    with p.open("wb") as f:
        if where == "middle":
            f.write(ok + b"\n")
        f.write(start)
        chunk = b"A" * (1 << 20)
        for _ in range(big_size // len(chunk)):
            f.write(chunk)
        if where == "last-unterminated":
            f.flush()
        else:
            f.write(b'"}}\n' if fmt != "aws-vpc" else b"\n")
            f.write(ok + b"\n")
            f.write(ok + b"\n")
    tracemalloc.start()
    try:
        fs = read(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 * 1024 * 1024, f"{peak / 2**20:.0f} MiB: the line was held whole"
    expected = {"middle": ([1, 3, 4], 2), "first": ([2, 3], 1)}
    if where == "last-unterminated":
        # Nothing but the over-long line: rejected, no format needed.
        assert fs.counts.normalized == 0
        assert [(e.line, e.reason) for e in fs.counts.examples] == [(1, "line too long")]
        return
    lines, bad_line = expected[where]
    assert record_lines(fs) == lines
    assert_detected(fs, fmt)
    [(file, line, reason, detail)] = rejections(fs)
    assert (file, line, reason) == (str(p), bad_line, "line too long")


def test_a_50mb_json_array_element_is_rejected_and_its_neighbours_kept(tmp_path):
    ok = dump("hubble", good("hubble"))
    p = tmp_path / "array.json"
    with p.open("wb") as f:
        f.write(b"[" + ok + b',{"flow": {"x": "')
        chunk = b"A" * (1 << 20)
        for _ in range(50):
            f.write(chunk)
        f.write(b'"}},' + ok + b"]")
    fs = read(p)
    assert record_lines(fs) == [1, 3]
    assert [(e.line, e.reason) for e in fs.counts.examples] == [(2, "line too long")]


def test_generic_50mb_csv_line_ends_the_file_with_one_rejection(tmp_path):
    """A CSV row over the 1 MiB block size cannot be read (docs/generic-format.md): the rows
    before it are kept, the rest of the file is one rejected record at that line."""
    ok = dump("generic", good("generic"))
    p = tmp_path / "flows.csv"
    with p.open("wb") as f:
        f.write(b"".join(line + b"\n" for line in [*header("generic"), ok, ok]))
        f.write(b"2024-05-01T10:00:00Z,10.0.0.1,shop,")
        chunk = b"A" * (1 << 20)
        for _ in range(50):
            f.write(chunk)
        f.write(b"\n" + ok + b"\n")
    fs = read(p)
    assert record_lines(fs) == [2, 3]
    [(file, line, reason, _)] = rejections(fs)
    assert (file, reason) == (str(p), "unreadable CSV")
    assert line == 4


# =========================================================================== empty files


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf", b"\r\n"])
@pytest.mark.parametrize("fmt", [None, *ALL_FORMATS])
def test_empty_file_has_no_records_and_no_error(tmp_path, fmt, content):
    p = tmp_path / "empty.json"
    p.write_bytes(content)
    fs = read(p, format=fmt)
    c = fs.counts
    assert (c.files, c.read, c.normalized, c.rejected_total, c.filtered_total) == (1, 0, 0, 0, 0)
    assert fs.table.num_rows == 0


@pytest.mark.parametrize("fmt", [None, *ALL_FORMATS])
def test_empty_gzip_file(tmp_path, fmt):
    p = tmp_path / "empty.json.gz"
    p.write_bytes(gzip.compress(b""))
    fs = read(p, format=fmt)
    assert (fs.counts.read, fs.counts.rejected_total) == (0, 0)


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_header_only_or_single_record_files(tmp_path, fmt):
    p = write(tmp_path / file_name(fmt), [*header(fmt)])
    if fmt == "generic":
        fs = read(p)
        assert (fs.counts.read, fs.counts.rejected_total) == (0, 0)
    p = write(tmp_path / ("one-" + file_name(fmt)), [*header(fmt), dump(fmt, good(fmt))])
    p.write_bytes(p.read_bytes().rstrip(b"\n"))  # no final newline
    fs = read(p)
    assert fs.counts.normalized == 1 and fs.counts.read == 1


# =========================================================================== corrupt gzip


def _gz_lines(fmt: str, n: int) -> list[bytes]:
    # Distinct records (different ports), so the compressed stream is not trivially short.
    lines = []
    for i in range(n):
        rec = good(fmt)
        FIELDS[fmt].port(rec, 1000 + i if FIELDS[fmt].json else str(1000 + i))
        lines.append(dump(fmt, rec))
    return [*header(fmt), *lines]


def _complete_lines(gz_prefix: bytes) -> int:
    """Complete lines in what an intact gzip prefix inflates to (the reference for what a
    reader can keep before the damage)."""
    return zlib.decompressobj(wbits=31).decompress(gz_prefix).count(b"\n")


def _damaged(fmt: str, damage: str) -> tuple[bytes, int, int]:
    """(file content, lines (header included) that can be read before the damage, lines)."""
    lines = _gz_lines(fmt, 400)
    data = b"".join(line + b"\n" for line in lines)
    gz = gzip.compress(data, compresslevel=1, mtime=0)
    cut = len(gz) * 2 // 3
    if damage == "truncated":
        return gz[:cut], _complete_lines(gz[:cut]), len(lines)
    if damage == "garbage-tail":  # a second "member" that is not gzip
        return gz + BINARY * 10, len(lines), len(lines)
    if damage == "garbage-middle":
        return gz[:cut] + bytes(range(256)) * 4, _complete_lines(gz[:cut]), len(lines)
    # bad-crc: the content is intact, the CRC-32 in the trailer does not match it.
    return gz[:-8] + b"\x00\x00\x00\x00" + gz[-4:], len(lines), len(lines)


def _gzip_params() -> list:
    out = []
    for damage in ("truncated", "garbage-tail", "garbage-middle", "bad-crc"):
        for fmt in ALL_FORMATS:
            out.append(pytest.param(fmt, damage, id=f"{damage}-{fmt}"))
    return out


@pytest.mark.parametrize("fmt, damage", _gzip_params())
def test_corrupt_gzip_keeps_the_records_before_the_damage(tmp_path, fmt, damage):
    content, readable, total = _damaged(fmt, damage)
    p = tmp_path / file_name(fmt, gz=True)
    p.write_bytes(content)
    fs = read(p)
    c = fs.counts
    head = len(header(fmt))
    assert readable - head >= 1  # the damage is after some records
    kept = record_lines(fs)
    # Every record before the damage is kept, in order.
    assert kept[: readable - head] == list(range(head + 1, readable + 1)), rejections(fs)
    assert_detected(fs, fmt)
    examples = rejections(fs)
    assert all(line > readable for _, line, _, _ in examples)
    assert [r for r in c.rejected if re.search("gzip|unreadable CSV", r)], c.rejected
    if damage == "garbage-middle":
        # zlib inflates garbage for a while (junk lines, each rejected or, when the junk
        # copies earlier text, even read) before it notices: only the prefix is certain.
        return
    # The damage is one rejected record, with the file and the line it cut.
    [(file, line, reason, detail)] = examples
    assert file == str(p)
    assert re.search("gzip|unreadable CSV", reason), (reason, detail)
    assert_one_line(reason)
    assert kept == list(range(head + 1, readable + 1))
    assert c.rejected_total == 1 and c.filtered_total == 0
    assert line == readable + 1
    if damage in ("garbage-tail", "bad-crc"):
        assert readable == total


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_gzip_magic_then_garbage(tmp_path, fmt):
    """A file that starts like gzip and is nothing else: one rejection, no traceback (and no
    format to detect)."""
    p = tmp_path / file_name(fmt, gz=True)
    p.write_bytes(b"\x1f\x8b" + BINARY * 20)
    try:
        fs = read(p)
    except InputError as exc:  # acceptable: a clear one-line error naming the file
        assert str(p) in str(exc) and "\n" not in str(exc)
        return
    assert fs.counts.normalized == 0
    assert fs.counts.rejected_total == 1


# =========================================================================== JSON arrays


@pytest.mark.parametrize("fmt", JSON_FORMATS)
def test_json_array_with_a_hostile_element(tmp_path, fmt):
    ok = good(fmt)
    bad = good(fmt)
    FIELDS[fmt].port(bad, "eighty")
    p = tmp_path / file_name(fmt)
    p.write_text(json.dumps([ok, bad, 5, None, "x", [ok], ok], indent=1))
    fs = read(p)
    assert_detected(fs, fmt)
    assert record_lines(fs) == [1, 7]
    assert [e.line for e in fs.counts.examples] == [2, 3, 4, 5, 6]
    assert re.search(PORT, fs.counts.examples[0].reason)


@pytest.mark.parametrize("fmt", JSON_FORMATS)
@pytest.mark.parametrize("cut", ["inside-element", "after-comma", "binary-tail"])
def test_truncated_json_array_keeps_the_elements_before(tmp_path, fmt, cut):
    ok = json.dumps(good(fmt))
    text = "[" + ok + ",\n" + ok + ",\n"
    if cut == "inside-element":
        data = (text + ok[: len(ok) // 2]).encode()
    elif cut == "after-comma":
        data = text.encode()
    else:
        data = text.encode() + BINARY
    p = tmp_path / file_name(fmt)
    p.write_bytes(data)
    fs = read(p)
    assert_detected(fs, fmt)
    assert record_lines(fs) == [1, 2]
    [(_, line, reason, _)] = rejections(fs)
    assert line == 3 and reason in ("invalid JSON", "invalid UTF-8")


# =========================================================================== duplicate keys


#: A key each format's parser needs.
DUPLICATED_KEY = {
    "hubble": "flow",
    "calico-ee": "source_namespace",
    "calico-goldmane": "Key",
    "antrea": "sourceIP",
    "ig-legacy": "k8s",
    "ig-trace-tcp": "src",
}


@pytest.mark.parametrize("fmt", JSON_FORMATS)
def test_duplicate_keys_take_the_last_value(tmp_path, fmt):
    """JSON with a key twice: the last value counts (as json and Go do); a hostile last
    value is rejected, a hostile first one is overridden."""
    rec = good(fmt)
    key = DUPLICATED_KEY[fmt]
    text = json.dumps(rec)
    hostile = text[:-1] + ", " + json.dumps(key) + ": [[[[]]]]}"
    overridden = "{" + json.dumps(key) + ': "../../etc", ' + text[1:]
    p = write(tmp_path / file_name(fmt), [text.encode(), hostile.encode(), overridden.encode()])
    fs = read(p)
    assert_detected(fs, fmt)
    assert record_lines(fs) == [1, 3]
    assert [e.line for e in fs.counts.examples] == [2]


# =========================================================================== generic CSV


def test_generic_bad_rows_keep_their_physical_lines(tmp_path):
    ok = dump("generic", good("generic"))
    cells = dict(good("generic"))
    quoted = _csv_line([cells[c] if c != "src_pod" else "web\nmore" for c in GENERIC_COLUMNS])
    lines = [
        *header("generic"),  # 1
        ok,  # 2
        ok.replace(b"web-7f9c-abcde", b"\xff\xfe"),  # 3 invalid UTF-8 in one cell
        ok,  # 4
        quoted,  # 5-6: a quoted value spanning two lines (an invalid pod name)
        ok,  # 7
        b'"unterminated,' + ok,  # 8: an open quote swallows the rest of the file
    ]
    p = write(tmp_path / "flows.csv", lines)
    fs = read(p)
    assert record_lines(fs) == [2, 4, 7]
    where = [(e.line, e.reason) for e in fs.counts.examples]
    assert where[:2] == [(3, "invalid UTF-8"), (5, "invalid pod name")]
    assert len(where) == 3 and where[2][0] == 8


# =========================================================================== accounting


def test_accounting_over_a_directory_of_every_format(tmp_path):
    """Every format's hostile file in one run: read = normalized + rejected + filtered, and
    the per-reason counts add up to the totals."""
    expected_rejected = 0
    expected_normalized = 0
    for fmt in ALL_FORMATS:
        ok = dump(fmt, good(fmt))
        bad = [line for case in CASES if (line := case.make(fmt)) is not None]
        lines = [*header(fmt), ok, *bad, ok]
        write(tmp_path / file_name(fmt), lines)
        expected_rejected += len(bad)
        expected_normalized += 2
    fs = read(tmp_path)
    counts = fs.counts
    assert counts.files == len(ALL_FORMATS)
    assert counts.normalized == expected_normalized
    assert counts.rejected_total == expected_rejected
    assert counts.read == expected_normalized + expected_rejected
    assert sum(counts.rejected.values()) == counts.rejected_total
    d = counts.to_dict()
    assert d["read"] == d["normalized"] + d["rejected"]["total"] + d["filtered"]["total"]
    assert len(d["rejected"]["examples"]) <= 20
