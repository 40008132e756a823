"""Antrea ingest (``research/flow-formats.md`` section 4).

Records are built from the documented field lists:

* ``ANTCTL_SAMPLE`` is the ``antctl get flowrecords --srcip 10.10.0.1 --srcport 50497 -o json``
  output block of antrea-io/antrea ``docs/antctl.md`` ("Dumping flow records"), verbatim.
* ``clickhouse_row`` has the columns of the Theia ``flows`` table (antrea-io/theia
  ``build/charts/theia/provisioning/datasources/create_table.sh``) as ClickHouse prints them in
  ``FORMAT JSONEachRow``: ``DateTime`` as ``YYYY-MM-DD hh:mm:ss``, UInt64 quoted.
* Enum values (flowType, rule actions, policy types) are those of the IPFIX registry used by
  antrea ``pkg/flowaggregator`` (``FlowTypeIntraNode = 1`` ... ``NetworkPolicyRuleActionReject
  = 3``); labels follow ``pkg/flowaggregator/flowrecord/record.go``.
"""

from __future__ import annotations

import copy
import gzip
import json
import tempfile
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.connections import build_connections
from recommender.ingest import detect, read_flows
from recommender.ingest.antrea import Parser, looks_like
from recommender.ingest.sources import Filtered, Rejected
from recommender.schema import FLOW_SCHEMA, SCHEMA_VERSION
from recommender.validate import is_dns1123_label, is_dns1123_subdomain, is_label_key

REAL_HUBBLE = Path(__file__).resolve().parents[2].parent / "shared" / "real-flows" / "hubble"

ANTCTL_SAMPLE = [
    {
        "destinationClusterIPv4": "0.0.0.0",
        "destinationIPv4Address": "10.10.1.2",
        "destinationNodeName": "k8s-node-worker-1",
        "destinationPodName": "coredns-78fcd69978-x2twv",
        "destinationPodNamespace": "kube-system",
        "destinationServicePort": 0,
        "destinationServicePortName": "",
        "destinationTransportPort": 53,
        "egressNetworkPolicyName": "",
        "egressNetworkPolicyNamespace": "",
        "egressNetworkPolicyRuleAction": 0,
        "egressNetworkPolicyRuleName": "",
        "egressNetworkPolicyType": 0,
        "flowEndReason": 3,
        "flowEndSeconds": 1635546893,
        "flowStartSeconds": 1635546867,
        "flowType": 2,
        "ingressNetworkPolicyName": "",
        "ingressNetworkPolicyNamespace": "",
        "ingressNetworkPolicyRuleAction": 0,
        "ingressNetworkPolicyRuleName": "",
        "ingressNetworkPolicyType": 0,
        "octetDeltaCount": 99,
        "octetDeltaCountFromDestinationNode": 99,
        "octetDeltaCountFromSourceNode": 0,
        "octetTotalCount": 99,
        "octetTotalCountFromDestinationNode": 99,
        "octetTotalCountFromSourceNode": 0,
        "packetDeltaCount": 1,
        "packetDeltaCountFromDestinationNode": 1,
        "packetDeltaCountFromSourceNode": 0,
        "packetTotalCount": 1,
        "packetTotalCountFromDestinationNode": 1,
        "packetTotalCountFromSourceNode": 0,
        "protocolIdentifier": 17,
        "reverseOctetDeltaCount": 192,
        "reverseOctetDeltaCountFromDestinationNode": 192,
        "reverseOctetDeltaCountFromSourceNode": 0,
        "reverseOctetTotalCount": 192,
        "reverseOctetTotalCountFromDestinationNode": 192,
        "reverseOctetTotalCountFromSourceNode": 0,
        "reversePacketDeltaCount": 1,
        "reversePacketDeltaCountFromDestinationNode": 1,
        "reversePacketDeltaCountFromSourceNode": 0,
        "reversePacketTotalCount": 1,
        "reversePacketTotalCountFromDestinationNode": 1,
        "reversePacketTotalCountFromSourceNode": 0,
        "sourceIPv4Address": "10.10.0.1",
        "sourceNodeName": "",
        "sourcePodName": "",
        "sourcePodNamespace": "",
        "sourceTransportPort": 50497,
        "tcpState": "",
    }
]


def clickhouse_row(**changes) -> dict:
    """A ``flows`` row (create_table.sh columns) for web -> db through Service db:5432."""
    row = {
        "timeInserted": "2024-05-01 10:00:20",
        "flowStartSeconds": "2024-05-01 10:00:00",
        "flowEndSeconds": "2024-05-01 10:00:15",
        "flowEndSecondsFromSourceNode": "2024-05-01 10:00:15",
        "flowEndSecondsFromDestinationNode": "2024-05-01 10:00:14",
        "flowEndReason": 3,
        "sourceIP": "10.244.1.5",
        "destinationIP": "10.244.2.7",
        "sourceTransportPort": 41234,
        "destinationTransportPort": 5432,
        "protocolIdentifier": 6,
        "packetTotalCount": "120",
        "octetTotalCount": "9000",
        "packetDeltaCount": "12",
        "octetDeltaCount": "900",
        "reversePacketTotalCount": "100",
        "reverseOctetTotalCount": "80000",
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
        "ingressNetworkPolicyRuleName": "",
        "ingressNetworkPolicyRuleAction": 1,
        "ingressNetworkPolicyType": 1,
        "egressNetworkPolicyName": "",
        "egressNetworkPolicyNamespace": "",
        "egressNetworkPolicyRuleName": "",
        "egressNetworkPolicyRuleAction": 0,
        "egressNetworkPolicyType": 0,
        "tcpState": "ESTABLISHED",
        "flowType": 2,
        "sourcePodLabels": '{"app":"web","pod-template-hash":"7f9c"}',
        "destinationPodLabels": '{"app":"db"}',
        "throughput": "4800",
        "reverseThroughput": "42666",
        "throughputFromSourceNode": "4800",
        "throughputFromDestinationNode": "4800",
        "reverseThroughputFromSourceNode": "42666",
        "reverseThroughputFromDestinationNode": "42666",
        "trusted": 0,
    }
    row.update(changes)
    return row


def parse(record) -> dict | Filtered | Rejected:
    return Parser("test.json").parse(record)


def write_lines(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


# --------------------------------------------------------------------------- field mapping


def test_antctl_sample_field_by_field(tmp_path):
    p = tmp_path / "flowrecords.json"
    p.write_text(json.dumps(ANTCTL_SAMPLE, indent=2))  # the array, as antctl prints it
    fs = read_flows([p])
    assert fs.counts.balanced() and fs.counts.normalized == 1
    row = fs.table.to_pylist()[0]
    assert row["source_format"] == "antrea" and row["source_record"] == 1
    assert row["time_start"].isoformat() == "2021-10-29T22:34:27+00:00"
    assert row["time_end"].isoformat() == "2021-10-29T22:34:53+00:00"
    assert (row["src_ip"], row["src_port"], row["dst_ip"], row["dst_port"]) == (
        "10.10.0.1",
        50497,
        "10.10.1.2",
        53,
    )
    assert (row["protocol"], row["protocol_number"], row["ip_family"]) == ("UDP", 17, 4)
    # The source is the node's gateway address (no pod, inter-node): in-cluster, not a pod.
    assert row["src_kind"] == "cluster_unknown" and row["src_pod"] is None
    assert (row["dst_kind"], row["dst_namespace"], row["dst_pod"]) == (
        "pod",
        "kube-system",
        "coredns-78fcd69978-x2twv",
    )
    assert row["dst_labels"] is None  # not in the record: unknown, not empty
    # Only the destination side is known: reported by the destination node.
    assert (row["reporter"], row["direction"], row["observer"]) == (
        "dst",
        "ingress",
        "k8s-node-worker-1",
    )
    assert row["is_reply"] is False
    assert row["verdict"] == "allowed" and row["verdict_raw"] is None
    assert row["policies"] is None
    # 0.0.0.0 / port 0 = no Service.
    assert row["dst_ip_original"] is None and row["dst_service_port"] is None
    assert (row["packets_fwd"], row["bytes_fwd"], row["packets_rev"], row["bytes_rev"]) == (
        1,
        99,
        1,
        192,
    )
    assert (row["flows"], row["aggregated"]) == (1, False)
    assert dict(row["extra"]) == {
        "destinationNodeName": "k8s-node-worker-1",
        "flowEndReason": "3",
        "flowType": "2",
    }


def test_clickhouse_row_field_by_field():
    row = parse(clickhouse_row())
    assert isinstance(row, dict)
    assert row["time_start"] == 1714557600 * 10**9  # "2024-05-01 10:00:00" read as UTC
    assert row["time_end"] == 1714557615 * 10**9
    assert (row["src_kind"], row["src_namespace"], row["src_pod"]) == (
        "pod",
        "shop",
        "web-7f9c-abcde",
    )
    assert row["src_labels"] == (("app", "web"), ("pod-template-hash", "7f9c"))
    assert row["dst_labels"] == (("app", "db"),)
    # Post-DNAT: the pod port is the policy port; the Service front end is kept apart.
    assert row["dst_ip"] == "10.244.2.7" and row["dst_port"] == 5432
    assert row["dst_ip_original"] == "10.96.12.34"
    assert row["dst_port_original"] == 15432 and row["dst_service_port"] == 15432
    assert (
        row["dst_service_namespace"],
        row["dst_service_name"],
        row["dst_service_port_name"],
    ) == ("shop", "db", "postgres")
    # Correlated by the aggregator: both pods known.
    assert (row["reporter"], row["direction"], row["observer"]) == ("both", "unknown", "node-a")
    assert row["verdict"] == "allowed" and row["verdict_raw"] == "Allow"
    assert row["policies"] == [
        {
            "kind": "K8sNetworkPolicy",
            "namespace": "shop",
            "name": "db-ingress",
            "tier": None,
            "action": "allow",
            "rule": None,
            "direction": "ingress",
        }
    ]
    # Delta counters (quoted UInt64), never the cumulative totals.
    assert (row["packets_fwd"], row["bytes_fwd"], row["packets_rev"], row["bytes_rev"]) == (
        12,
        900,
        10,
        8000,
    )
    assert dict(row["extra"])["tcpState"] == "ESTABLISHED"
    assert dict(row["extra"])["trusted"] == "0"


@pytest.mark.parametrize(
    ("flow_type", "src_pod", "dst_pod", "kinds", "reporter", "direction", "observer"),
    [
        (1, True, True, ("pod", "pod"), "both", "unknown", "node-a"),
        (2, True, True, ("pod", "pod"), "both", "unknown", "node-a"),
        (2, True, False, ("pod", "cluster_unknown"), "src", "egress", "node-a"),
        (2, False, True, ("cluster_unknown", "pod"), "dst", "ingress", "node-b"),
        (3, True, False, ("pod", "external"), "src", "egress", "node-a"),
        (4, False, True, ("external", "pod"), "dst", "ingress", "node-b"),
        (0, False, False, ("unknown", "unknown"), "unknown", "unknown", "node-a"),
    ],
)
def test_flow_types_kinds_and_reporter(
    flow_type, src_pod, dst_pod, kinds, reporter, direction, observer
):
    changes = {"flowType": flow_type}
    if not src_pod:
        changes.update(sourcePodName="", sourcePodNamespace="", sourcePodLabels="")
    if not dst_pod:
        changes.update(destinationPodName="", destinationPodNamespace="", destinationPodLabels="")
    row = parse(clickhouse_row(**changes))
    assert (row["src_kind"], row["dst_kind"]) == kinds
    assert (row["reporter"], row["direction"], row["observer"]) == (reporter, direction, observer)
    assert row["is_reply"] is False  # conntrack's original direction: always the request


def test_labels_null_empty_and_json():
    row = parse(clickhouse_row(sourcePodLabels="", destinationPodLabels="{}"))
    assert row["src_labels"] is None  # not collected (recordContents.podLabels off)
    assert row["dst_labels"] == ()  # the pod has no labels
    row = parse(clickhouse_row(sourcePodLabels={"app": "web"}))  # already decoded
    assert row["src_labels"] == (("app", "web"),)


@pytest.mark.parametrize(
    ("ingress", "egress", "verdict", "raw"),
    [
        (0, 0, "allowed", None),
        (1, 0, "allowed", "Allow"),
        (0, 2, "denied", "Drop"),
        (3, 1, "denied", "Reject"),
        ("Drop", "", "denied", "Drop"),  # flowLogger prettyPrint words
        ("Allow", "Allow", "allowed", "Allow"),
        ("2", "0", "denied", "Drop"),
    ],
)
def test_rule_actions_and_verdict(ingress, egress, verdict, raw):
    row = parse(
        clickhouse_row(
            ingressNetworkPolicyRuleAction=ingress,
            egressNetworkPolicyRuleAction=egress,
            egressNetworkPolicyName="web-egress" if egress not in (0, "", "0") else "",
            egressNetworkPolicyNamespace="shop",
            egressNetworkPolicyType=2,
            egressNetworkPolicyRuleName="allow-db",
        )
    )
    assert (row["verdict"], row["verdict_raw"]) == (verdict, raw)
    egress_hits = [p for p in row["policies"] or [] if p["direction"] == "egress"]
    if egress not in (0, "", "0"):
        assert egress_hits[0]["kind"] == "AntreaNetworkPolicy"
        assert egress_hits[0]["rule"] == "allow-db"


def test_service_port_name_forms():
    row = parse(clickhouse_row(destinationServicePortName="kube-system/kube-dns:dns"))
    assert (row["dst_service_namespace"], row["dst_service_name"]) == ("kube-system", "kube-dns")
    assert row["dst_service_port_name"] == "dns"
    row = parse(clickhouse_row(destinationServicePortName="shop/db"))
    assert (row["dst_service_name"], row["dst_service_port_name"]) == ("db", None)
    row = parse(clickhouse_row(destinationServicePortName="", destinationClusterIP="0.0.0.0"))
    assert row["dst_service_name"] is None and row["dst_ip_original"] is None


def test_ipv6_antctl_keys_and_mixed_families():
    rec = copy.deepcopy(ANTCTL_SAMPLE[0])
    del rec["sourceIPv4Address"], rec["destinationIPv4Address"], rec["destinationClusterIPv4"]
    rec.update(
        sourceIPv6Address="fd00:10:244:0:0:0:0:1",
        destinationIPv6Address="fd00:10:244::2",
        destinationClusterIPv6="::",
    )
    row = parse(rec)
    assert (row["src_ip"], row["dst_ip"], row["ip_family"]) == (
        "fd00:10:244::1",
        "fd00:10:244::2",
        6,
    )
    assert row["dst_ip_original"] is None
    rec["destinationIPv6Address"] = "10.0.0.1"
    out = parse(rec)
    assert isinstance(out, Rejected) and out.reason == "invalid IP"


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (1635546867, 1635546893, (1635546867, 1635546893)),
        ("1635546867", None, (1635546867, 1635546867)),
        ("2021-10-29 22:34:27", "2021-10-29T22:34:53Z", (1635546867, 1635546893)),
        ("1970-01-01 00:00:00", 1635546893, (1635546893, 1635546893)),  # zero = not set
        (None, 1635546893, (1635546893, 1635546893)),
    ],
)
def test_times(start, end, expected):
    rec = clickhouse_row(flowStartSeconds=start, flowEndSeconds=end)
    row = parse(rec)
    assert (row["time_start"], row["time_end"]) == tuple(s * 10**9 for s in expected)


def test_icmp_has_no_ports():
    row = parse(clickhouse_row(protocolIdentifier=1, sourceTransportPort=0))
    assert (row["protocol"], row["src_port"], row["dst_port"]) == ("ICMP", None, None)
    row = parse(clickhouse_row(protocolIdentifier=47))
    assert (row["protocol"], row["protocol_number"], row["dst_port"]) == ("OTHER", 47, None)


# --------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"sourcePodNamespace": "../../etc"}, "invalid namespace"),
        ({"destinationPodName": "DB_0"}, "invalid pod name"),
        ({"sourcePodLabels": '{"bad key!":"x"}'}, "invalid label key"),
        ({"sourcePodLabels": '{"app":"a\\nb"}'}, "invalid label value"),
        ({"sourcePodLabels": "app=web"}, "malformed record: sourcePodLabels"),
        ({"sourcePodLabels": "[1, 2]"}, "malformed record: sourcePodLabels"),
        ({"destinationTransportPort": [80]}, "malformed record: destinationTransportPort"),
        ({"destinationTransportPort": 70000}, "malformed record: destinationTransportPort"),
        ({"protocolIdentifier": "GRE-ish"}, "invalid protocol"),
        ({"sourceIP": "10.0.0.1/24"}, "invalid IP"),
        ({"sourceIP": ""}, "missing IP"),
        ({"flowStartSeconds": "yesterday"}, "invalid time"),
        ({"flowStartSeconds": None, "flowEndSeconds": None}, "missing time"),
        ({"flowEndSeconds": "2024-05-01 09:00:00"}, "invalid time"),
        ({"flowType": 9}, "malformed record: flowType"),
        ({"ingressNetworkPolicyRuleAction": 7}, "malformed record: ingressNetworkPolicyRuleAction"),
        ({"ingressNetworkPolicyName": "a/b"}, "invalid policy name"),
        ({"ingressNetworkPolicyRuleName": "r\n1"}, "invalid policy rule name"),
        ({"destinationServicePortName": "../x:y"}, "invalid namespace"),
        ({"destinationServicePortName": "shop/DB:p"}, "invalid service name"),
        ({"destinationPodNamespace": ""}, "incomplete pod identity"),
        ({"packetDeltaCount": "-1"}, "malformed record: packetDeltaCount"),
        ({"packetDeltaCount": str(2**64)}, "malformed record: packetDeltaCount"),
        ({"sourceNodeName": "Node A"}, "invalid node name"),
        ({"tcpState": "ESTAB{{x}}"}, "invalid tcpState"),
        ({"egressIP": "not-an-ip"}, "invalid IP"),
    ],
)
def test_hostile_fields_rejected(changes, reason):
    out = parse(clickhouse_row(**changes))
    assert isinstance(out, Rejected), out
    assert out.reason == reason
    assert "\n" not in out.reason


def test_not_an_object_and_foreign_records():
    assert parse([1, 2]).reason == "malformed record: not an object"
    assert parse({"flow": {}}).reason == "malformed record: not an Antrea flow record"


def test_bad_records_around_good_ones_are_counted_with_lines(tmp_path):
    good = clickhouse_row()
    records = [
        good,
        clickhouse_row(sourcePodNamespace="../../etc"),
        "just a string",
        clickhouse_row(destinationTransportPort="eighty"),
        good,
    ]
    p = write_lines(tmp_path / "flows.jsonl", records)
    with p.open("a") as f:
        f.write("{not json\n\n")
    fs = read_flows([p])
    c = fs.counts
    assert c.balanced() and c.read == 6 and c.normalized == 2 and c.rejected_total == 4
    assert [(e.line, e.reason) for e in c.examples] == [
        (2, "invalid namespace"),
        (3, "malformed record: not an object"),
        (4, "malformed record: destinationTransportPort"),
        (6, "invalid JSON"),
    ]
    assert [r["source_record"] for r in fs.table.to_pylist()] == [1, 5]


def test_containers_jsonl_array_and_gzip(tmp_path):
    rows = [clickhouse_row(), clickhouse_row(sourceTransportPort=41235)]
    jsonl = write_lines(tmp_path / "a.jsonl", rows)
    array = tmp_path / "b.json"
    array.write_text(json.dumps(ANTCTL_SAMPLE * 3))
    gz = tmp_path / "c.json.gz"
    gz.write_bytes(gzip.compress(jsonl.read_bytes()))
    fs = read_flows([jsonl, array, gz])
    assert fs.counts.balanced() and fs.counts.normalized == 7
    assert set(fs.table.column("source_format").to_pylist()) == {"antrea"}


def test_connections_use_the_pod_port_and_fold_repeated_exports():
    # One long connection exported three times (active timeout) is one flow.
    rows = [parse(clickhouse_row(flowEndSeconds=f"2024-05-01 10:0{i}:15")) for i in range(3)]
    for i, r in enumerate(rows, 1):
        r.update(
            schema_version=SCHEMA_VERSION,
            source_format="antrea",
            source_file="t",
            source_record=i,
        )
    table = pa.Table.from_pylist(rows, schema=FLOW_SCHEMA)
    conns = build_connections(table)
    assert conns.records_used == 3 and not conns.excluded
    (c,) = conns.table.to_dict("records")
    assert (c["src_pod"], c["dst_pod"], c["protocol"], c["port"]) == (
        "web-7f9c-abcde",
        "db-0",
        "TCP",
        5432,
    )
    assert (c["flows"], c["records"]) == (1, 3)


# --------------------------------------------------------------------------- detection


def test_detection(tmp_path):
    assert "antrea" in detect.formats()
    assert detect.detect_record(clickhouse_row()) == "antrea"
    assert detect.detect_record(ANTCTL_SAMPLE[0]) == "antrea"
    p = write_lines(tmp_path / "x.json", [clickhouse_row()])
    assert read_flows([p]).table.column("source_format").to_pylist() == ["antrea"]
    assert not looks_like({"flow": {"IP": {}}})


def test_real_hubble_samples_still_detect_as_hubble():
    for path in sorted(REAL_HUBBLE.iterdir()):
        fs = read_flows([path])
        assert set(fs.table.column("source_format").to_pylist()) == {"hubble"}, path
        for line in path.read_text().splitlines():
            if line.strip():
                assert not looks_like(json.loads(line))


# --------------------------------------------------------------------------- fuzzing

HOSTILE = ["", "../../etc", "a\nb", "\udc80", "{{ x }}", "x" * 300, "10.0.0.1", "{}", "2"]
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
SEEDS = [clickhouse_row(), ANTCTL_SAMPLE[0]]


@st.composite
def mutated(draw):
    rec = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    keys = sorted(rec)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        key = draw(st.sampled_from(keys))
        if draw(st.booleans()):
            rec.pop(key, None)
        else:
            rec[key] = draw(values)
    return rec


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(mutated(), min_size=1, max_size=4))
def test_mutated_records_never_raise_and_only_valid_values_pass(records):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "m.json"
        p.write_text("".join(json.dumps(r) + "\n" for r in records))
        fs = read_flows([p], format="antrea")
    c = fs.counts
    assert c.balanced() and c.read == len(records) and c.normalized == fs.table.num_rows
    for row in fs.table.to_pylist():
        for side in ("src", "dst"):
            ns, pod = row[f"{side}_namespace"], row[f"{side}_pod"]
            assert ns is None or is_dns1123_label(ns)
            assert pod is None or is_dns1123_subdomain(pod)
            assert all(is_label_key(k) for k, _ in row[f"{side}_labels"] or [])
        assert row["is_reply"] is False and row["flows"] == 1
        assert row["time_end"] >= row["time_start"]
