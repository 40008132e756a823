"""Property-based fuzzing of every format parser (hypothesis).

Valid records of each format (``test_hostile.SAMPLES`` and a few other documented shapes) are
mutated at random: keys deleted or renamed, values replaced by JSON values of other types
(hostile strings, huge and negative numbers, floats, null, nested lists and objects), strings
and lists truncated, keys duplicated with other values (in the JSON text: the last one wins),
text tokens and CSV cells replaced. Each mutated record is fed to the format's parser directly
(``Parser(path, lookahead).parse``, after ``expand`` as the reader does) and, in a file, through
``read_flows``. Properties:

* nothing raises (the generic value parsers raise only their own ``Bad``);
* the result is a row dict, a ``Filtered`` or a ``Rejected`` whose reason is one short line and
  comes from the parser's own checks, never the catch-all for an unexpected exception;
* a row has only FLOW_SCHEMA columns and builds a FLOW_SCHEMA Arrow batch once the provenance
  columns are filled (as the reader does); labels, namespaces, pod and other Kubernetes names
  pass the syntax checks of ``recommender.validate``; no string in a row holds a control
  character; enums, ports and times are in range;
* ``read_flows`` balances: read = normalized + rejected + filtered.
"""

from __future__ import annotations

import copy
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from recommender.ingest import detect, generic, read_flows, values
from recommender.ingest.aws_vpc import DEFAULT_FIELDS
from recommender.ingest.errors import InputError
from recommender.ingest.sources import Filtered, Rejected, TextLine, new_row
from recommender.schema import (
    DIRECTIONS,
    ENDPOINT_KINDS,
    FLOW_SCHEMA,
    PROTOCOLS,
    REPORTERS,
    SCHEMA_VERSION,
    VERDICTS,
)
from recommender.validate import (
    is_dns1123_label,
    is_dns1123_subdomain,
    is_label_key,
    is_label_value,
)

from .test_hostile import GENERIC_COLUMNS, SAMPLES

# =========================================================================== seeds

_HUBBLE_BARE = copy.deepcopy(SAMPLES["hubble"]["flow"])
_HUBBLE_DNS = {
    "flow": {
        "time": "2024-01-01T00:00:00Z",
        "verdict": "DROPPED",
        "drop_reason_desc": "POLICY_DENIED",
        "IP": {"source": "fd00::1", "destination": "fd00::2", "ipVersion": "IPv6"},
        "l4": {"UDP": {"source_port": 5353, "destination_port": 53}},
        "source": {"identity": 2, "labels": ["reserved:world"]},
        "destination": {
            "ID": 12,
            "identity": 77,
            "namespace": "kube-system",
            "labels": ["k8s:k8s-app=kube-dns", "k8s:io.kubernetes.pod.namespace=kube-system"],
            "pod_name": "coredns-1",
            "workloads": [{"name": "coredns", "kind": "Deployment"}],
        },
        "destination_names": ["example.com"],
        "l7": {"type": "REQUEST", "dns": {"query": "example.com."}},
        "traffic_direction": "INGRESS",
        "ingress_denied_by": [{"name": "deny-all", "namespace": "kube-system", "kind": "CNP"}],
        "aggregate": {"ingress_flow_count": 3},
        "interface": {"name": "eth0"},
    }
}
_CALICO_HIT = {"_index": "tigera_secure_ee_flows.cluster.20240501", "_source": SAMPLES["calico-ee"]}
_CALICO_LEVEL2 = {
    **SAMPLES["calico-ee"],
    "source_name": "-",
    "source_ip": None,
    "source_port": None,
    "dest_name": "-",
    "dest_ip": None,
    "reporter": "src",
    "dest_domains": ["example.com"],
    "nat_outgoing_ports": [1024],
    "original_source_ips": ["10.0.0.9"],
    "num_original_source_ips": 1,
    "dest_service_namespace": "policy-demo",
    "dest_service_name": "nginx",
    "dest_service_port": "http",
    "dest_service_port_num": 80,
}
_GOLDMANE_RESULT = {
    "id": "42",
    "flow": {
        "Key": {
            "sourceName": "pub",
            "sourceType": "Network",
            "destName": "ingress-nginx-controller-6d5f8c7b9d-*",
            "destNamespace": "ingress-nginx",
            "destType": "WorkloadEndpoint",
            "destPort": "443",
            "destServiceName": "ingress-nginx",
            "destServiceNamespace": "ingress-nginx",
            "destServicePortName": "https",
            "destServicePort": "443",
            "proto": "tcp",
            "reporter": "Dst",
            "action": "Allow",
            "policies": {
                "enforcedPolicies": [
                    {
                        "kind": "NetworkPolicy",
                        "namespace": "ingress-nginx",
                        "name": "allow-web",
                        "tier": "default",
                        "action": "Allow",
                        "policyIndex": "0",
                        "ruleIndex": "2",
                    }
                ],
                "pendingPolicies": [],
            },
        },
        "startTime": "1762322400",
        "endTime": "1762322415",
        "destLabels": ["app.kubernetes.io/name=ingress-nginx"],
        "packetsIn": "7",
        "bytesOut": "4000",
        "numConnectionsStarted": "2",
    },
}
_WHISKER = {
    "start_time": "2025-11-05T06:00:00Z",
    "end_time": "2025-11-05T06:00:15Z",
    "action": "Allow",
    "source_name": "payments-6b9f7c5d4-*",
    "source_namespace": "shop",
    "source_labels": "app.kubernetes.io/name=payments | tier=backend",
    "dest_name": "PUBLIC NETWORK",
    "dest_namespace": "Global",
    "dest_labels": "",
    "protocol": "tcp",
    "dest_port": 443,
    "reporter": "Src",
    "policies": {
        "enforced": [
            {
                "kind": "Profile",
                "name": "kns.shop",
                "namespace": "",
                "tier": "__PROFILE__",
                "action": "Allow",
                "policy_index": 0,
                "rule_index": 0,
            }
        ],
        "pending": [],
    },
    "packets_in": 5,
    "bytes_out": 700,
}
_ANTCTL = {
    "destinationClusterIPv4": "0.0.0.0",
    "destinationIPv4Address": "10.10.1.2",
    "destinationNodeName": "k8s-node-worker-1",
    "destinationPodName": "coredns-78fcd69978-x2twv",
    "destinationPodNamespace": "kube-system",
    "destinationServicePort": 0,
    "destinationServicePortName": "",
    "destinationTransportPort": 53,
    "egressNetworkPolicyRuleAction": 2,
    "egressNetworkPolicyName": "deny-dns",
    "egressNetworkPolicyNamespace": "default",
    "egressNetworkPolicyType": 2,
    "egressNetworkPolicyRuleName": "rule-1",
    "flowEndReason": 3,
    "flowEndSeconds": 1635546893,
    "flowStartSeconds": 1635546867,
    "flowType": 2,
    "octetDeltaCount": 99,
    "packetDeltaCount": 1,
    "protocolIdentifier": 17,
    "sourceIPv4Address": "10.10.0.1",
    "sourceTransportPort": 50497,
    "egressIP": "172.18.0.9",
    "clusterUUID": "c1",
}
_LEGACY_FLAT = {
    "node": "minikube",
    "namespace": "test-server",
    "pod": "test-pod",
    "container": "test-pod",
    "timestamp": 1_700_000_000_123_456_789,
    "type": "normal",
    "pktType": "HOST",
    "proto": "tcp",
    "port": 9090,
    "podHostIP": "192.168.49.2",
    "podIP": "10.244.0.6",
    "podLabels": {"run": "test-pod"},
    "remoteKind": "pod",
    "remoteAddr": "10.244.0.5",
    "remoteName": "test-pod",
    "remoteNamespace": "test-client",
    "remoteLabels": {"run": "test-pod"},
}
_LEGACY_SVC = {**_LEGACY_FLAT, "pktType": "OUTGOING", "remoteKind": "svc", "remoteName": "db"}
_TRACE_ACCEPT = {
    **copy.deepcopy(SAMPLES["ig-trace-tcp"]),
    "type": "accept",
    "type_raw": 1,
    "src": {"addr": "10.244.0.9", "port": 8080, "proto": 6, "version": 4},
}
_CLOUDWATCH = {
    "messageType": "DATA_MESSAGE",
    "owner": "123456789010",
    "logGroup": "vpc-flow-logs",
    "logStream": "eni-1235b8ca123456789-all",
    "subscriptionFilters": ["f"],
    "logEvents": [
        {
            "id": "1",
            "timestamp": 1700000000000,
            "message": " ".join(SAMPLES["aws-vpc"][f] for f in DEFAULT_FIELDS),
        }
    ],
}

#: format -> JSON records to mutate (aws-vpc and generic are mutated as text lines / cells).
SEEDS: dict[str, list[Any]] = {
    "hubble": [SAMPLES["hubble"], _HUBBLE_BARE, _HUBBLE_DNS],
    "calico-ee": [SAMPLES["calico-ee"], _CALICO_HIT, _CALICO_LEVEL2],
    "calico-goldmane": [SAMPLES["calico-goldmane"], _GOLDMANE_RESULT, _WHISKER],
    "aws-vpc": [_CLOUDWATCH],
    "antrea": [SAMPLES["antrea"], _ANTCTL],
    "ig-legacy": [SAMPLES["ig-legacy"], _LEGACY_FLAT, _LEGACY_SVC],
    "ig-trace-tcp": [SAMPLES["ig-trace-tcp"], _TRACE_ACCEPT],
}
JSON_FORMATS = list(SEEDS)
JSON_FORMATS.remove("aws-vpc")

# =========================================================================== values

HOSTILE = [
    "",
    "-",
    "*",
    "../../etc",
    "a\nb",
    "x\r\n",
    "\x00",
    '"quoted"',
    "{{ .Values.x }}",
    "caf\u00e9",
    "\u202e",  # right-to-left override
    "\udc80",  # a lone surrogate (a valid JSON escape): must never reach Arrow
    "x" * 300,
    "999.1.1.1",
    "::gg",
    "10.0.0.1",
    "fe80::1%eth0",
    "k8s:app=x",
    "k8s:../x=y",
    "k8s:app=a\nb",
    "k8s:io.kubernetes.pod.namespace=../x",
    "reserved:../x",
    "app=x",
    "../x=y",
    "app=x,../y=z",
    '{"../x": "y"}',
    "0|t|../x/t.p|allow|2",
    "eni-$(reboot)",
    "a=b | c=d",
    "1e999",
    "NaN",
    "18446744073709551616",
    "-1",
    "0",
    "2024-13-45T99:99:99Z",
    "Allow",
    "tcp",
    "pub",
    "Global",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 65535, 65536, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.5, -0.0, 80.0, 1e300]),
    st.text(max_size=12),
    st.sampled_from(HOSTILE),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(st.text(max_size=8), st.sampled_from(HOSTILE)), inner, max_size=3
        ),
    ),
    max_leaves=6,
)
new_keys = st.one_of(st.text(max_size=10), st.sampled_from(HOSTILE))

# =========================================================================== JSON mutation


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _get(obj: Any, path: tuple) -> Any:
    for key in path:
        obj = obj[key]
    return obj


def _keys(obj: Any) -> list[str]:
    return sorted({p[-1] for p in _paths(obj) if p and isinstance(p[-1], str)})


def _truncate(value: Any, n: int) -> Any:
    if isinstance(value, str | list):
        return value[: n % (len(value) + 1)]
    if isinstance(value, int) and not isinstance(value, bool):
        return value // 10 if n % 2 else -value
    if isinstance(value, float):
        return -value if n % 2 else value / 3
    if isinstance(value, dict):
        return dict(list(value.items())[: n % (len(value) + 1)])
    return value


ACTIONS = ("delete", "replace", "replace", "rename", "truncate", "wrap", "swap")


@st.composite
def mutated_json(draw: Callable, seeds: list[Any]) -> str:
    """A seed with 1-5 random mutations, as JSON text (possibly with duplicate keys)."""
    rec = copy.deepcopy(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        path = draw(st.sampled_from(_paths(rec)))
        action = draw(st.sampled_from(ACTIONS))
        if not path:  # the record itself
            if action in ("replace", "delete"):
                rec = draw(json_values)
            elif action == "wrap":
                rec = [rec]
            continue
        parent = _get(rec, path[:-1])
        key = path[-1]
        if action == "delete":
            del parent[key]
        elif action == "replace":
            parent[key] = draw(json_values)
        elif action == "rename" and isinstance(parent, dict):
            value = parent.pop(key)
            other = st.sampled_from(_keys(rec) or ["x"])
            parent[draw(st.one_of(new_keys, other))] = value
        elif action == "truncate":
            parent[key] = _truncate(parent[key], draw(st.integers(min_value=0, max_value=50)))
        elif action == "wrap":
            parent[key] = draw(st.sampled_from([[parent[key]], {"value": parent[key]}]))
        elif action == "swap":  # another field's value (right type, wrong meaning)
            values = [_get(rec, p) for p in _paths(rec) if p and p != path]
            if values:
                parent[key] = copy.deepcopy(draw(st.sampled_from(values)))
    text = json.dumps(rec)
    # Duplicate a key of some object with another value, before or after the original.
    dicts = [p for p in _paths(rec) if isinstance(_get(rec, p), dict) and _get(rec, p)]
    if dicts and draw(st.booleans()):
        path = draw(st.sampled_from(dicts))
        target = _get(rec, path)
        key = draw(st.sampled_from(sorted(target)))
        first = draw(st.booleans())
        text = _with_duplicate(rec, path, key, draw(json_values), first)
    return text


def _with_duplicate(rec: Any, path: tuple, key: str, value: Any, first: bool) -> str:
    """``rec`` as JSON text where the object at ``path`` has ``key`` twice."""

    def enc(obj: Any, at: tuple) -> str:
        if isinstance(obj, dict):
            items = [json.dumps(k) + ": " + enc(v, (*at, k)) for k, v in obj.items()]
            if at == path:
                extra = json.dumps(key) + ": " + json.dumps(value)
                items = [extra, *items] if first else [*items, extra]
            return "{" + ", ".join(items) + "}"
        if isinstance(obj, list):
            return "[" + ", ".join(enc(v, (*at, i)) for i, v in enumerate(obj)) + "]"
        return json.dumps(obj)

    return enc(rec, ())


# =========================================================================== checks

_LABEL_COLUMNS = ("src_labels", "dst_labels", "src_namespace_labels", "dst_namespace_labels")
_LABEL_NAMES = ("src_namespace", "dst_namespace", "dst_service_namespace", "dst_service_name")
_SUBDOMAINS = (
    "src_pod",
    "dst_pod",
    "src_workload_name",
    "dst_workload_name",
    "src_service_account",
    "dst_service_account",
)
_PORTS = ("src_port", "dst_port", "dst_port_original", "dst_service_port")
_ENUMS = {
    "verdict": VERDICTS,
    "direction": DIRECTIONS,
    "reporter": REPORTERS,
    "protocol": PROTOCOLS,
    "src_kind": ENDPOINT_KINDS,
    "dst_kind": ENDPOINT_KINDS,
}
#: The reason every parser gives when an unexpected exception is caught (a parser bug).
CATCH_ALL = "malformed record"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _pairs(value: Any) -> list[tuple]:
    return list(value.items()) if isinstance(value, dict) else list(value)


def check_row(row: dict, fmt: str) -> None:
    unknown = set(row) - set(FLOW_SCHEMA.names)
    assert not unknown, unknown
    full = new_row()
    full.update(row)
    full.update(schema_version=SCHEMA_VERSION, source_format=fmt, source_file="f", source_record=1)
    batch = pa.RecordBatch.from_pylist([full], schema=FLOW_SCHEMA)
    assert batch.num_rows == 1
    for col in _LABEL_COLUMNS:
        if row.get(col) is not None:
            for k, v in _pairs(row[col]):
                assert is_label_key(k) and is_label_value(v), (col, k, v)
    for col in _LABEL_NAMES:
        assert row.get(col) is None or is_dns1123_label(row[col]), (col, row[col])
    for col in _SUBDOMAINS:
        assert row.get(col) is None or is_dns1123_subdomain(row[col]), (col, row[col])
    for hit in row.get("policies") or ():
        assert hit["namespace"] is None or is_dns1123_label(hit["namespace"]), hit
    for col in _PORTS:
        assert row.get(col) is None or 0 <= row[col] <= 65535, (col, row[col])
    for col, allowed in _ENUMS.items():
        assert row[col] in allowed, (col, row[col])
    assert row["ip_family"] in (0, 4, 6)
    assert row["time_start"] <= row["time_end"]
    assert row["flows"] >= 0
    for col, value in row.items():
        for s in _strings(value):
            assert s.isprintable(), (col, s)


def check_result(out: Any, fmt: str) -> None:
    assert isinstance(out, dict | Filtered | Rejected), out
    if currently_in_test_context():
        event(f"result: {type(out).__name__}")  # --hypothesis-show-statistics
    if isinstance(out, dict):
        check_row(out, fmt)
    elif isinstance(out, Rejected):
        assert out.reason and out.reason.isprintable() and len(out.reason) <= 200, out
        assert out.reason != CATCH_ALL, out  # an unexpected exception inside the parser
    else:
        assert out.reason and out.reason.isprintable(), out


def check_read(path: Path, fmt: str, records: int | None) -> None:
    """``records``: how many records the file holds at least (None: unknown, e.g. when the
    first line is a JSON array, which makes the file one array)."""
    fs = read_flows([path], format=fmt)
    c = fs.counts
    assert c.balanced(), c
    assert c.read >= (records or 0) and c.normalized == fs.table.num_rows
    assert fs.table.schema.equals(FLOW_SCHEMA, check_metadata=True)
    for e in c.examples:
        assert "\n" not in e.reason and len(e.detail) <= 300
    for row in fs.table.to_pylist():
        assert row["source_format"] == fmt
        check_row({k: v for k, v in row.items() if not k.startswith("source_")}, fmt)
    # Detection may refuse a mutated first record, but only with a clear InputError.
    try:
        read_flows([path])
    except InputError as exc:
        assert "\n" not in str(exc)


def parse_all(parser: Any, module: Any, record: Any) -> list:
    """Results for one record as the reader makes them (containers split by ``expand``)."""
    expand = getattr(module, "expand", None)
    inner = expand(record) if expand is not None else None
    return [parser.parse(item) for item in ((record,) if inner is None else inner)]


#: Examples per property: small for CI; FUZZ_EXAMPLES=5000 for a deeper local run.
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# =========================================================================== JSON formats


@pytest.mark.parametrize("fmt", JSON_FORMATS)
@FUZZ
@given(data=st.data())
def test_mutated_json_records(fmt, data):
    texts = data.draw(st.lists(mutated_json(SEEDS[fmt]), min_size=1, max_size=3), label="lines")
    records = [json.loads(t) for t in texts]
    module = detect.load(fmt)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "mutated.json"
        path.write_text("".join(t + "\n" for t in texts))
        # Directly: a parser for the file (the lookahead is its first records).
        parser = module.Parser(str(path), records)
        for record in records:
            for out in parse_all(parser, module, record):
                check_result(out, fmt)
        # Through the reader, on the written file.
        check_read(path, fmt, None if texts[0].startswith("[") else len(records))


@pytest.mark.parametrize("fmt", JSON_FORMATS)
@FUZZ
@given(data=st.data())
def test_mutated_records_as_a_json_array(fmt, data):
    """The same mutations in a JSON array file (elements are records, numbered by index)."""
    texts = data.draw(st.lists(mutated_json(SEEDS[fmt]), min_size=1, max_size=3), label="elements")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "mutated.json"
        path.write_text("[\n" + ",\n".join(texts) + "\n]")
        check_read(path, fmt, len(texts))


# =========================================================================== AWS VPC (text)

_AWS_TOKENS = [SAMPLES["aws-vpc"][f] for f in DEFAULT_FIELDS]
tokens = st.one_of(
    st.text(
        alphabet=st.characters(blacklist_categories=("Z", "Cc", "Cs")), min_size=1, max_size=12
    ),
    st.sampled_from([t for t in HOSTILE if t and not any(c.isspace() for c in t)]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["-", "ACCEPT", "REJECT", "OK", "NODATA", "SKIPDATA", "6", "17", "1", "58"]),
)


@st.composite
def aws_line(draw: Callable) -> str:
    toks = list(_AWS_TOKENS)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        action = draw(st.sampled_from(["replace", "replace", "delete", "insert", "truncate"]))
        i = draw(st.integers(min_value=0, max_value=max(len(toks) - 1, 0)))
        if action == "replace" and toks:
            toks[i] = draw(tokens)
        elif action == "delete" and toks:
            del toks[i]
        elif action == "insert":
            toks.insert(i, draw(tokens))
        elif action == "truncate" and toks:
            toks[i] = toks[i][: draw(st.integers(min_value=0, max_value=len(toks[i])))] or "-"
    return " ".join(toks)


@FUZZ
@given(
    st.lists(
        st.one_of(aws_line(), st.just(" ".join(_AWS_TOKENS)), mutated_json(SEEDS["aws-vpc"])),
        min_size=1,
        max_size=4,
    )
)
def test_mutated_aws_vpc_lines(lines):
    from recommender.ingest import aws_vpc

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "vpc.log"
        # A valid line first, so the file is read as text lines.
        all_lines = [" ".join(_AWS_TOKENS), *lines]
        # (A lone surrogate is written as the invalid byte it escapes.)
        path.write_text("".join(line + "\n" for line in all_lines), errors="surrogateescape")
        parser = aws_vpc.Parser(str(path))
        for line in all_lines:
            for out in parse_all(parser, aws_vpc, TextLine(line.strip())):
                check_result(out, "aws-vpc")
            # A JSON record (a CloudWatch envelope in a JSON-lines file) also goes directly.
            try:
                record = json.loads(line)
            except ValueError:
                continue
            for out in parse_all(parser, aws_vpc, record):
                check_result(out, "aws-vpc")
            check_result(parser.parse(record), "aws-vpc")  # a whole envelope: one result
        fs = read_flows([path], format="aws-vpc")
        assert fs.counts.balanced()
        check_read(path, "aws-vpc", len(all_lines))


# =========================================================================== generic (CSV)

cells = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(HOSTILE),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["TCP", "udp", "6", "icmp6", "allowed", "DROP", "true", "n", "{}", "a=b"]),
)
# Typed values, as a Parquet file hands them to parse_row.
typed = st.one_of(
    json_values,
    st.binary(max_size=8),
    st.lists(st.tuples(st.sampled_from(HOSTILE), st.sampled_from(HOSTILE)), max_size=2),
)


@st.composite
def generic_cells(draw: Callable, values: st.SearchStrategy = cells) -> dict[str, Any]:
    row = dict(SAMPLES["generic"])
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        column = draw(st.sampled_from([*GENERIC_COLUMNS, "src_kind", "dst_ip", "is_reply"]))
        if draw(st.booleans()) and isinstance(row.get(column), str):
            row[column] = _truncate(row[column], draw(st.integers(min_value=0, max_value=40)))
        else:
            row[column] = draw(values)
    return row


@FUZZ
@given(generic_cells(typed), st.sampled_from([None, 1_700_000_000 * 10**9]))
def test_generic_parse_row_raises_only_its_own_errors(row, default_time):
    try:
        out = generic.parse_row(row.get, default_time)
    except generic.Bad as bad:
        assert bad.reason and bad.reason.isprintable() and bad.reason != CATCH_ALL
        return
    row_out = dict(out)
    for col in ("schema_version", "source_format", "source_file", "source_record"):
        row_out.pop(col, None)
    check_row(row_out, "generic")
    # The registry shim rejects JSON records with a reason.
    check_result(generic.Parser("x.json").parse(row), "generic")


@FUZZ
@given(st.lists(generic_cells(), min_size=1, max_size=4), st.booleans())
def test_mutated_generic_csv(rows, gz):
    import csv
    import gzip
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # values with \r or \n get quoted
    columns = [*GENERIC_COLUMNS, "src_kind", "dst_ip", "is_reply"]
    writer.writerow(columns)
    for r in rows:
        writer.writerow(["" if r.get(c) is None else r[c] for c in columns])
    data = out.getvalue().encode("utf-8", "surrogateescape")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / ("flows.csv.gz" if gz else "flows.csv")
        path.write_bytes(gzip.compress(data) if gz else data)
        fs = read_flows([path], format="generic")
        c = fs.counts
        assert c.balanced() and c.normalized == fs.table.num_rows
        assert c.rejected_total + c.normalized <= len(rows)
        for row in fs.table.to_pylist():
            check_row({k: v for k, v in row.items() if not k.startswith("source_")}, "generic")


# =========================================================================== inventory

INVENTORY_SEEDS = [
    {
        "kind": "Pod",
        "metadata": {
            "name": "web-7f9c-abcde",
            "namespace": "shop",
            "labels": {"app": "web", "pod-template-hash": "7f9c"},
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "deletionTimestamp": "2026-01-01T01:00:00Z",
            "deletionGracePeriodSeconds": 30,
            "ownerReferences": [{"kind": "ReplicaSet", "name": "web-7f9c", "controller": True}],
        },
        "spec": {
            "nodeName": "node-a",
            "serviceAccountName": "web",
            "containers": [{"ports": [{"name": "http", "containerPort": 8080}]}],
        },
        "status": {
            "podIP": "10.0.0.9",
            "podIPs": [{"ip": "10.0.0.9"}, {"ip": "fd00::9"}],
            "hostIP": "172.18.0.2",
            "phase": "Succeeded",
            "containerStatuses": [
                {"state": {"terminated": {"finishedAt": "2026-01-01T00:05:00Z"}}}
            ],
        },
    },
    {"kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "a"}}},
    {
        "kind": "Node",
        "metadata": {"name": "node-a"},
        "spec": {"podCIDRs": ["10.244.1.0/24"], "podCIDR": "10.244.1.0/24"},
        "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]},
    },
    {
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-7f9c",
            "namespace": "shop",
            "ownerReferences": [{"kind": "Deployment", "name": "web", "controller": True}],
        },
    },
    {
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "clusterIPs": ["10.96.0.20"],
            "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    },
    {
        "kind": "EndpointSlice",
        "metadata": {
            "name": "web-abc",
            "namespace": "shop",
            "labels": {"kubernetes.io/service-name": "web"},
        },
        "endpoints": [
            {
                "addresses": ["10.0.0.9"],
                "conditions": {"ready": True},
                "targetRef": {"kind": "Pod", "name": "web-7f9c-abcde", "namespace": "shop"},
            }
        ],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    },
]


def _check_inventory(inv: Any) -> None:
    import re

    kind_re = re.compile(r"[A-Z][A-Za-z0-9]{0,62}", re.ASCII)
    for pod in inv.pods.to_dict("records"):
        assert is_dns1123_label(pod["namespace"]) and is_dns1123_subdomain(pod["pod"])
        assert all(is_label_key(k) and is_label_value(v) for k, v in pod["labels"].items())
        assert pod["node"] is None or is_dns1123_subdomain(pod["node"])
        assert pod["service_account"] is None or is_dns1123_subdomain(pod["service_account"])
        assert pod["owner_kind"] is None or kind_re.fullmatch(pod["owner_kind"]), pod
        assert pod["owner_name"] is None or is_dns1123_subdomain(pod["owner_name"])
        for name, number, proto in pod["ports"]:
            assert (name is None or is_dns1123_label(name)) and 0 < number < 65536
            assert proto in ("TCP", "UDP", "SCTP")
        assert pod["phase"] is None or pod["phase"].isprintable()
    for ns, labels in inv.namespaces.items():
        assert is_dns1123_label(ns)
        assert all(is_label_key(k) and is_label_value(v) for k, v in labels.items())
    for node in inv.nodes:
        assert is_dns1123_subdomain(node)
    for (ns, kind, name), (okind, oname) in inv.owners.items():
        assert is_dns1123_label(ns) and is_dns1123_subdomain(name) and kind in ("ReplicaSet", "Job")
        assert kind_re.fullmatch(okind) and is_dns1123_subdomain(oname)
    for svc in inv.services.values():
        assert is_dns1123_label(svc.namespace) and is_dns1123_label(svc.name)
        assert svc.type.isprintable()
    for es in inv.endpoint_slices:
        assert is_dns1123_label(es.namespace) and is_dns1123_label(es.service)
    assert all(isinstance(r, str) and "\n" not in r for r in inv.rejected)
    inv.summary()
    inv.node_addresses()


@FUZZ
@given(st.lists(mutated_json(INVENTORY_SEEDS), min_size=1, max_size=4), st.booleans())
def test_mutated_inventory_objects(texts, as_list):
    from recommender.ingest.inventory import read_inventory

    body = "[" + ", ".join(texts) + "]"
    if as_list:
        body = '{"kind": "List", "items": ' + body + "}"
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "inventory.json"
        path.write_text(body, errors="surrogateescape")
        try:
            inv = read_inventory([path])
        except InputError as exc:  # only for a file that is not JSON at all
            assert "\n" not in str(exc)
            return
    _check_inventory(inv)


# =========================================================================== regressions


@pytest.mark.parametrize(
    "fmt, record",
    [
        # Goldmane: a list or object where a namespace belongs (unhashable) named the
        # exception instead of the field.
        (
            "calico-goldmane",
            {
                **SAMPLES["calico-goldmane"],
                "Key": {**SAMPLES["calico-goldmane"]["Key"], "source_namespace": ["shop"]},
            },
        ),
        ("calico-goldmane", {**_WHISKER, "dest_namespace": {"a": 1}}),
    ],
)
def test_regression_cases(fmt, record):
    module = detect.load(fmt)
    [out] = parse_all(module.Parser("x.json", [record]), module, record)
    check_result(out, fmt)
    assert isinstance(out, Rejected) and "namespace" in out.reason


def test_regression_trace_tcp_type_raw_of_another_type_does_not_break_detection(tmp_path):
    """gadget.looks_like_trace_tcp hashed ``type_raw``: a list raised TypeError out of format
    detection (a traceback from read_flows)."""
    from recommender.ingest import gadget

    event = {k: v for k, v in SAMPLES["ig-trace-tcp"].items() if k != "type"}
    for raw in ([1], {"a": 1}, True, 1.0):
        assert not gadget.looks_like_trace_tcp({**event, "type_raw": raw})
        assert detect.detect_record({**event, "type_raw": raw}) is None
    path = tmp_path / "tcp.json"
    path.write_text(
        json.dumps(SAMPLES["ig-trace-tcp"]) + "\n" + json.dumps({**event, "type_raw": [1]}) + "\n"
    )
    fs = read_flows([path])
    assert (fs.counts.normalized, fs.counts.rejected_total) == (1, 1)


def test_regression_kv_labels_keep_line_breaks_in_keys():
    """``k=v`` label strings (trace_tcp, generic CSV) stripped all whitespace around keys, so
    a key ``app\\n`` became the valid ``app``; only spaces are trimmed now."""
    assert values.labels("app=web, tier=front", "l") == (("app", "web"), ("tier", "front"))
    for hostile in ("app\n=web", "app=web\t,b=c", "\tapp=web,x=y"):
        with pytest.raises(generic.Bad, match="invalid label"):
            values.labels("x=y," + hostile, "l")


def test_regression_inventory_pods_without_owner_keep_none(tmp_path):
    """pandas 3 turns None into NaN in a column of strings and None: a pod without an owner
    next to one with an owner had owner_kind NaN (truthy), and enrich_flows failed with an
    ArrowTypeError on flows to it."""
    from recommender.ingest.aws_vpc import DEFAULT_FIELDS
    from recommender.ingest.enrich import enrich_flows
    from recommender.ingest.inventory import read_inventory

    def pod(name, ip, owner=None):
        meta = {"name": name, "namespace": "shop", "labels": {"app": name}}
        if owner:
            meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner, "controller": True}]
        return {"kind": "Pod", "metadata": meta, "spec": {}, "status": {"podIP": ip}}

    inv_path = tmp_path / "inv.json"
    items = [pod("web-1", "10.0.0.9", "web"), pod("bare", "10.0.0.10")]
    inv_path.write_text(json.dumps({"kind": "List", "items": items}))
    inv = read_inventory([inv_path])
    owners = dict(zip(inv.pods["pod"], inv.pods["owner_kind"], strict=True))
    assert owners == {"bare": None, "web-1": "ReplicaSet"}
    tokens = dict(SAMPLES["aws-vpc"], srcaddr="10.0.0.9", dstaddr="10.0.0.10")
    log = tmp_path / "vpc.log"
    log.write_text(" ".join(tokens[f] for f in DEFAULT_FIELDS) + "\n")
    out = enrich_flows(read_flows([log]).table, inv).to_pylist()[0]
    assert (out["src_pod"], out["src_workload_kind"]) == ("web-1", "ReplicaSet")
    assert (out["dst_pod"], out["dst_workload_kind"], out["dst_workload_name"]) == (
        "bare",
        None,
        None,
    )


@pytest.mark.parametrize(
    "obj",
    [
        {"kind": ["Pod"], "metadata": {"name": "x"}},
        {"kind": True},
        {"kind": "Node", "metadata": {"name": "n"}, "status": True},
        {"kind": "Node", "metadata": {"name": "n"}, "status": {"addresses": 5}},
        {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": {"a": 1}}},
        {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"ports": 5}]}},
        {"kind": "Pod", "metadata": {"name": "p", "ownerReferences": 5}, "spec": {}},
        {"kind": "Pod", "metadata": {"name": "p"}, "spec": {}, "status": {"podIPs": 7}},
        {"kind": "ReplicaSet", "metadata": {"name": "r", "namespace": ["x"]}},
    ],
)
def test_regression_inventory_objects_of_unexpected_shape(tmp_path, obj):
    """read_inventory raised TypeError/AttributeError on these; each is now skipped (or read
    without the bad part) and the good pod next to it is kept."""
    from recommender.ingest.inventory import read_inventory

    good = INVENTORY_SEEDS[0]
    path = tmp_path / "inv.json"
    path.write_text(json.dumps({"kind": "List", "items": [obj, good]}))
    inv = read_inventory([path])
    assert "web-7f9c-abcde" in set(inv.pods["pod"])
    _check_inventory(inv)


@pytest.mark.parametrize("body", ["[" * 100_000, '{"kind": "Pod", "x": ' + "9" * 5000 + "}"])
def test_regression_inventory_unreadable_json_is_an_input_error(tmp_path, body):
    from recommender.ingest.inventory import read_inventory

    path = tmp_path / "inv.json"
    path.write_text(body)
    with pytest.raises(InputError, match="not kubectl JSON"):
        read_inventory([path])


def test_float_nan_and_infinity_never_reach_a_row():
    for fmt in JSON_FORMATS:
        module = detect.load(fmt)
        for seed in SEEDS[fmt]:
            for value in (math.nan, math.inf, -math.inf):
                rec = copy.deepcopy(seed)
                for path in _paths(rec):
                    if (
                        path
                        and isinstance(_get(rec, path), int | float)
                        and not isinstance(_get(rec, path), bool)
                    ):
                        mutated = copy.deepcopy(rec)
                        _get(mutated, path[:-1])[path[-1]] = value
                        for out in parse_all(module.Parser("x", [mutated]), module, mutated):
                            check_result(out, fmt)
