"""Calico Enterprise / Cloud flow logs (``calico-ee``): field mapping, containers, aggregated
names, reporter pairs, hostile records, detection.

Records are built from the documented field lists: ``research/flow-formats.md`` §2.1 (field
table, aggregation levels) and §2.3 (pitfalls), i.e. tigera/docs
``calico-enterprise/observability/elastic/flow/datatypes.mdx`` (1250076a) and
``aggregation.mdx`` (7379f7a6). ``DOC`` is the datatypes.mdx "Flow log example, with no
aggregation" with the trailing comma of its ``pending_policies`` removed (§2.3 pitfall 7).
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.connections import build_connections
from recommender.ingest import FORMATS, calico_fields, detect, goldmane, hubble, read_flows
from recommender.ingest import calico as ee
from recommender.ingest.sources import Rejected, Rows
from recommender.schema import FLOW_SCHEMA
from recommender.validate import is_dns1123_label, is_dns1123_subdomain, is_label_key

REAL_HUBBLE = Path(__file__).resolve().parents[2].parent / "shared" / "real-flows" / "hubble"

# datatypes.mdx, "Flow log example, with no aggregation" (reporter dst, level 0).
DOC = {
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
    "policies": {
        "all_policies": [
            "0|tier1|ns1/tier1.policy1|pass|3",
            "1|tier2|ns2/staged:tier1.policy1|deny|1",
            "2|default|policy-demo/default.access-nginx|allow|2",
        ],
        "enforced_policies": [
            "0|tier1|ns1/tier1.policy1|pass|3",
            "1|default|policy-demo/default.access-nginx|allow|2",
        ],
        "pending_policies": [
            "0|tier1|ns1/tier1.policy1|pass|3",
            "1|tier2|ns2/staged:tier1.policy1|deny|1",
        ],
    },
    "bytes_in": 388,
    "bytes_out": 1113,
    "num_flows": 1,
    "num_flows_started": 1,
    "num_flows_completed": 1,
    "packets_in": 6,
    "packets_out": 5,
    "http_requests_allowed_in": 0,
    "http_requests_denied_in": 0,
    "original_source_ips": None,
    "num_original_source_ips": 0,
    "host": "bz-n8kf-kadm-node-1",
    "@timestamp": 1597166383000,
}


def doc(**updates) -> dict:
    """DOC with fields replaced (a value of ``...`` deletes the field)."""
    d = copy.deepcopy(DOC)
    for k, v in updates.items():
        if v is ...:
            d.pop(k, None)
        else:
            d[k] = v
    return d


def level2(**updates) -> dict:
    """An allowed flow at the default level 2 (aggregation.mdx): names by prefix, no IPs, no
    source port; labels are the intersection over the aggregated pods."""
    base = {
        "source_name": "-",
        "source_ip": None,
        "source_port": None,
        "source_name_aggr": "frontend-7f9c8d5b4-*",
        "source_namespace": "shop",
        "source_labels": {"labels": ["app=frontend", "pod-template-hash=7f9c8d5b4"]},
        "dest_name": "-",
        "dest_ip": None,
        "dest_name_aggr": "cart-5d8b9c7f6-*",
        "dest_namespace": "shop",
        "dest_labels": {"labels": ["app=cart", "pod-template-hash=5d8b9c7f6"]},
        "dest_port": 8080,
        "reporter": "src",
        "num_flows": 7,
        "num_flows_started": 7,
        "num_flows_completed": 6,
        "host": "worker-1",
    }
    base.update(updates)
    return doc(**base)


def one(record) -> dict | Rejected:
    """Parse one record; a row must convert to Arrow exactly as the reader does it."""
    out = ee.Parser("mem.json").parse(record)
    if isinstance(out, dict):
        r = Rows()
        full = dict(out)
        full.update(schema_version=1, source_format="calico-ee", source_file="m", source_record=1)
        r.append(full)
        r.flush()
    return out


def write_lines(path: Path, records) -> Path:
    with path.open("wb") as f:
        for r in records:
            f.write(r if isinstance(r, bytes) else json.dumps(r).encode())
            f.write(b"\n")
    return path


def read(paths, **kw):
    fs = read_flows(paths if isinstance(paths, list) else [paths], **kw)
    assert fs.counts.balanced(), fs.counts
    assert fs.table.schema.equals(FLOW_SCHEMA, check_metadata=True)
    return fs


# --------------------------------------------------------------------------- field mapping


def test_documented_example_maps_every_field():
    r = one(DOC)
    assert isinstance(r, dict), r
    assert r["time_start"] == 1597166083 * 10**9 and r["time_end"] == 1597166383 * 10**9
    assert (r["reporter"], r["direction"], r["is_reply"]) == ("dst", "ingress", False)
    assert (r["verdict"], r["verdict_raw"]) == ("allowed", "allow")
    assert (r["protocol"], r["protocol_number"], r["ip_family"]) == ("TCP", 6, 4)
    assert r["observer"] == "bz-n8kf-kadm-node-1"
    assert (r["src_kind"], r["src_namespace"], r["src_pod"], r["src_ip"], r["src_port"]) == (
        "pod",
        "policy-demo",
        "access-6b687c8dcb-zn5s2",
        "192.168.47.9",
        42106,
    )
    assert (r["dst_kind"], r["dst_pod"], r["dst_ip"], r["dst_port"]) == (
        "pod",
        "nginx-86c57db685-h6792",
        "192.168.138.79",
        80,
    )
    assert r["src_name_aggr"] == "access-6b687c8dcb-*"
    assert r["src_labels"] == (("app", "access"), ("pod-template-hash", "6b687c8dcb"))
    assert r["dst_labels"] == (("app", "nginx"), ("pod-template-hash", "86c57db685"))
    # pod-template-hash proves the ReplicaSet of a Deployment: X-H-* -> Deployment X
    assert (r["src_workload_kind"], r["src_workload_name"]) == ("Deployment", "access")
    assert (r["dst_workload_kind"], r["dst_workload_name"]) == ("Deployment", "nginx")
    # reporter dst: in = client->server (fwd), out = server->client (rev)
    assert (r["packets_fwd"], r["packets_rev"], r["bytes_fwd"], r["bytes_rev"]) == (6, 5, 388, 1113)
    assert (r["flows_started"], r["flows_completed"]) == (1, 1)
    # wep -> wep: the src record carries the count; this dst half is kept, with flows 0
    assert r["flows"] == 0
    assert dict(r["extra"]) == {"num_flows": "1", "counted_by": "src"}
    assert r["aggregated"] is False
    # enforced_policies, sorted by index; name forms of datatypes.mdx
    assert r["policies"] == [
        {
            "kind": "CalicoNetworkPolicy",
            "namespace": "ns1",
            "name": "policy1",
            "tier": "tier1",
            "action": "pass",
            "rule": "3",
            "direction": "ingress",
        },
        {
            "kind": "CalicoNetworkPolicy",
            "namespace": "policy-demo",
            "name": "access-nginx",
            "tier": "default",
            "action": "allow",
            "rule": "2",
            "direction": "ingress",
        },
    ]


def test_src_reporter_translates_counters_and_carries_the_count():
    r = one(doc(reporter="src", num_flows=3))
    assert (r["reporter"], r["direction"]) == ("src", "egress")
    # reporter src: out = client->server (fwd), in = rev
    assert (r["packets_fwd"], r["packets_rev"], r["bytes_fwd"], r["bytes_rev"]) == (5, 6, 1113, 388)
    assert r["flows"] == 3 and r["extra"] is None
    assert all(p["direction"] == "egress" for p in r["policies"])


def test_policy_name_forms_and_order():
    entries = [
        "3|__PROFILE__|__PROFILE__.kns.shop|allow|0",
        "1|default|shop/knp.default.allow-web|allow|0",
        "0|security|security.block-bad|pass|-1",
        "2|default|shop/staged:knp.default.trial|deny|-2",
        "4|platform|staged:platform.global-trial|deny|1",
    ]
    r = one(doc(policies={"all_policies": entries}))  # older releases: all_policies only
    got = [(p["kind"], p["namespace"], p["name"], p["tier"], p["rule"]) for p in r["policies"]]
    assert got == [
        ("GlobalNetworkPolicy", None, "block-bad", "security", "-1"),
        ("NetworkPolicy", "shop", "allow-web", "default", "0"),
        ("StagedKubernetesNetworkPolicy", "shop", "trial", "default", "-2"),
        ("Profile", None, "__PROFILE__.kns.shop", "__PROFILE__", "0"),
        ("StagedGlobalNetworkPolicy", None, "global-trial", "platform", "1"),
    ]
    assert one(doc(policies=None))["policies"] is None
    assert one(doc(policies={"all_policies": []}))["policies"] is None


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("0|t|a|b|allow|0", "malformed record: policies.enforced_policies"),  # extra '|'
        ("0|t|t.a|allow", "malformed record: policies.enforced_policies"),
        ("x|t|t.a|allow|0", "malformed record: policies.enforced_policies"),
        ("0|t|t.a|block|0", "unknown enum value: policies.enforced_policies action"),
        ("0|t|t.a b|allow|0", "malformed record: policies.enforced_policies"),
        ("0|t|../x/t.a|allow|0", "invalid namespace"),
        ("0|t|ns/a/t.a|allow|0", "invalid policy name"),
        ("0|t|BAD_NS/t.a|allow|0", "invalid namespace"),
    ],
)
def test_bad_policy_entries_reject_the_record(entry, reason):
    r = one(doc(policies={"enforced_policies": [entry]}))
    assert isinstance(r, Rejected) and r.reason == reason, r


def test_dash_means_null_and_types_map_to_kinds():
    # A flow from the Internet to a pod (net/pub), and a pod to a NetworkSet (ns) and a host.
    r = one(
        doc(
            source_type="net",
            source_name="-",
            source_name_aggr="pub",
            source_namespace="-",
            source_ip="203.0.113.9",
            source_labels=None,
            dest_service_namespace="-",
            dest_service_name="-",
            dest_service_port="-",
            dest_domains=[],
        )
    )
    assert (r["src_kind"], r["src_namespace"], r["src_pod"], r["src_name_aggr"]) == (
        "external",
        None,
        None,
        "pub",
    )
    assert r["src_ip"] == "203.0.113.9" and r["src_labels"] is None
    assert r["dst_service_name"] is None and r["dst_names"] is None
    # net -> wep: only the dst record exists, so it carries the count
    assert r["flows"] == 1 and r["extra"] is None

    ns = one(
        doc(
            reporter="src",
            dest_type="ns",
            dest_name="-",
            dest_name_aggr="partner-apis",
            dest_namespace="shop",
            dest_labels={"labels": ["role=partner"]},
            dest_ip="198.51.100.7",
            dest_domains=["api.partner.example", "partner.example"],
        )
    )
    assert (ns["dst_kind"], ns["dst_namespace"], ns["dst_name_aggr"], ns["dst_pod"]) == (
        "networkset",
        "shop",
        "partner-apis",
        None,
    )
    assert ns["dst_names"] == ["api.partner.example", "partner.example"]
    assert ns["dst_workload_name"] is None

    hep = one(
        doc(
            source_type="hep",
            source_name="node-1-auto-hep",
            source_name_aggr="node-1-auto-hep",
            source_namespace="-",
            source_ip="10.0.0.11",
            source_labels={"labels": ["kubernetes.io/hostname=node-1"]},
        )
    )
    assert (hep["src_kind"], hep["src_pod"], hep["src_name_aggr"], hep["src_ip"]) == (
        "node",
        None,
        "node-1-auto-hep",
        "10.0.0.11",
    )
    assert hep["flows"] == 1  # hep -> wep: the pod's node (dst) counts


def test_protocols_and_ports():
    assert one(doc(proto="udp"))["protocol"] == "UDP"
    assert one(doc(proto="sctp"))["protocol_number"] == 132
    icmp = one(doc(proto="icmp", source_port=None, dest_port=0))
    assert (icmp["protocol"], icmp["src_port"], icmp["dst_port"], icmp["aggregated"]) == (
        "ICMP",
        None,
        None,
        False,
    )
    v6 = one(doc(proto="icmp6", source_ip=None, dest_ip=None, dest_port=None))
    assert (v6["protocol"], v6["ip_family"]) == ("ICMPv6", 6)
    assert (one(doc(proto="47"))["protocol"], one(doc(proto="47"))["protocol_number"]) == (
        "OTHER",
        47,
    )
    assert one(doc(proto="6"))["protocol"] == "TCP"
    assert one(doc(proto="esp"))["protocol_number"] == 50
    # dest_port 0 on a port protocol is not a usable port: null, flagged
    zero = one(doc(dest_port=0))
    assert zero["dst_port"] is None and dict(zero["extra"])["dest_port"] == "0"
    v6tcp = one(doc(source_ip="fd00::1", dest_ip="FD00:0:0::2"))
    assert (v6tcp["ip_family"], v6tcp["dst_ip"]) == (6, "fd00::2")


def test_services_are_kept_where_the_connections_stage_reads_them_right():
    svc = {
        "dest_service_namespace": "policy-demo",
        "dest_service_name": "nginx",
        "dest_service_port": "http",
        "dest_service_port_num": 80,
    }
    r = one(doc(**svc))
    assert (r["dst_service_namespace"], r["dst_service_name"]) == ("policy-demo", "nginx")
    assert (r["dst_service_port_name"], r["dst_service_port"]) == ("http", 80)
    star = one(doc(**{**svc, "dest_service_port": "*"}))
    assert star["dst_service_port_name"] is None and dict(star["extra"])["dest_service_port"] == "*"
    # The API server behind default/kubernetes, seen as a `net` address (no host endpoint):
    # Calico is post-DNAT, so the record is a real connection and the service goes to extra.
    api = one(
        doc(
            reporter="src",
            dest_type="net",
            dest_name="-",
            dest_name_aggr="pvt",
            dest_namespace="-",
            dest_ip="10.0.0.10",
            dest_port=6443,
            dest_labels=None,
            dest_service_namespace="default",
            dest_service_name="kubernetes",
            dest_service_port="https",
            dest_service_port_num=443,
        )
    )
    assert api["dst_service_name"] is None
    assert dict(api["extra"]) == {
        "dest_service": "default/kubernetes",
        "dest_service_port_num": "443",
    }
    conns = build_connections(read_rows([api]))
    assert len(conns.table) == 1 and not conns.excluded


def read_rows(records: list[dict]):
    """Normalized rows -> a FLOW_SCHEMA table (through the reader's own transposition)."""
    r = Rows()
    for i, row in enumerate(records, 1):
        full = dict(row)
        full.update(schema_version=1, source_format="calico-ee", source_file="m", source_record=i)
        r.append(full)
    import pyarrow as pa

    return pa.Table.from_batches([r.flush()])


def test_extra_leftovers():
    r = one(doc(nat_outgoing_ports=[40001, 40002], original_source_ips=["203.0.113.5"]))
    extra = dict(r["extra"])
    assert extra["nat_outgoing_ports"] == "40001,40002"
    assert extra["original_source_ips"] == "203.0.113.5"


# --------------------------------------------------------------------------- aggregation


def test_level2_aggregate_is_never_a_pod():
    r = one(level2())
    assert (r["src_kind"], r["src_pod"], r["src_ip"], r["src_port"]) == ("pod", None, None, None)
    assert r["src_name_aggr"] == "frontend-7f9c8d5b4-*"
    assert (r["src_workload_kind"], r["src_workload_name"]) == ("Deployment", "frontend")
    assert r["src_labels"] == (("app", "frontend"), ("pod-template-hash", "7f9c8d5b4"))
    assert r["aggregated"] is True and r["flows"] == 7


@pytest.mark.parametrize(
    ("aggr", "labels", "expected_pod", "workload"),
    [
        # a cut-off hash: no label proves the owner, nothing is derived
        ("frontend-7f9c*", ["app=frontend"], None, (None, None)),
        # prefix without pod-template-hash: unknown controller
        ("frontend-7f9c8d5b4-*", ["app=frontend"], None, (None, None)),
        # a hash label that does not tie the prefix
        ("frontend-7f9c8d5b4-*", ["pod-template-hash=zzzzzz"], None, (None, None)),
        (
            "postgres-*",
            ["apps.kubernetes.io/pod-index=0", "app=pg"],
            None,
            ("StatefulSet", "postgres"),
        ),
        ("fluentd-*", ["pod-template-generation=3"], None, ("DaemonSet", "fluentd")),
        ("report-29372070-*", ["job-name=report-29372070"], None, ("Job", "report-29372070")),
        ("report-29372070-*", ["job-name=other"], None, (None, None)),
        # a bare pod has no generateName, hence no '*': its own name even at level 2
        ("multitool", ["run=multitool"], "multitool", ("Pod", "multitool")),
        ("frontend-*", None, None, (None, None)),
    ],
)
def test_workload_is_derived_only_when_labels_prove_it(aggr, labels, expected_pod, workload):
    r = one(level2(source_name_aggr=aggr, source_labels={"labels": labels}))
    assert isinstance(r, dict), r
    assert r["src_pod"] == expected_pod
    assert r["src_name_aggr"] == aggr
    assert (r["src_workload_kind"], r["src_workload_name"]) == workload


def test_label_forms():
    assert one(level2(source_labels="-"))["src_labels"] is None  # "a hyphen indicates aggregation"
    assert one(level2(source_labels=None))["src_labels"] is None
    assert one(level2(source_labels={"labels": None}))["src_labels"] is None
    assert one(level2(source_labels={"labels": []}))["src_labels"] == ()
    assert one(level2(source_labels=["b=2", "a=1"]))["src_labels"] == (("a", "1"), ("b", "2"))
    assert one(level2(source_labels={"labels": ["empty="]}))["src_labels"] == (("empty", ""),)


def test_level1_reporter_pair_is_not_double_counted():
    """Both ends report a pod -> pod connection; at level 1 the records are aggregates (no
    source port), whose flows the connections stage sums: the pair must count once."""
    base = {"source_port": None, "num_flows": 4, "num_flows_started": 4}
    src = one(doc(reporter="src", host="node-a", **base))
    dst = one(doc(reporter="dst", host="node-b", **base))
    assert src["aggregated"] and dst["aggregated"]
    assert (src["flows"], dst["flows"]) == (4, 0)
    conns = build_connections(read_rows([src, dst]))
    t = conns.table
    assert len(t) == 1
    assert (t.loc[0, "flows"], t.loc[0, "records"], t.loc[0, "observers"]) == (4, 2, 2)
    # Level 0: one 5-tuple, both halves -> one flow (5-tuple de-duplication).
    src0, dst0 = one(doc(reporter="src")), one(doc(reporter="dst"))
    t0 = build_connections(read_rows([src0, dst0])).table
    assert (t0.loc[0, "flows"], t0.loc[0, "records"]) == (1, 2)


@pytest.mark.parametrize(
    ("src_type", "dst_type", "counting"),
    [
        ("wep", "wep", "src"),
        ("wep", "net", "src"),
        ("wep", "hep", "src"),
        ("net", "wep", "dst"),
        ("hep", "wep", "dst"),
        ("ns", "hep", "dst"),
        ("hep", "net", "src"),
    ],
)
def test_counting_reporter(src_type, dst_type, counting):
    assert calico_fields.counting_reporter(src_type, dst_type) == counting


def test_deny_is_normalized_as_denied():
    r = one(doc(action="deny", reporter="src", source_port=None))
    assert (r["verdict"], r["verdict_raw"]) == ("denied", "deny")
    assert build_connections(read_rows([r])).excluded == Counter(
        {"denied or errored in the datapath (not observed allowed)": 1}
    )


# --------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    ("updates", "reason"),
    [
        ({"action": "drop"}, "unknown enum value: action"),
        ({"action": "ALLOW"}, "unknown enum value: action"),
        ({"action": ...}, "malformed record: action"),
        ({"action": 1}, "malformed record: action"),
        ({"reporter": "out"}, "unknown enum value: reporter"),
        ({"reporter": None}, "malformed record: reporter"),
        ({"source_type": "pod"}, "unknown enum value: source_type"),
        ({"dest_type": ...}, "malformed record: dest_type"),
        ({"proto": "tcpx"}, "unknown enum value: proto"),
        ({"proto": "256"}, "unknown enum value: proto"),
        ({"proto": 6}, "malformed record: proto"),
        ({"proto": ...}, "malformed record: proto"),
        ({"start_time": "1597166083"}, "malformed record: start_time"),
        ({"start_time": True}, "malformed record: start_time"),
        ({"start_time": ...}, "missing time"),
        ({"start_time": -5}, "invalid time"),
        ({"end_time": 1597166000}, "invalid time"),
        ({"start_time": 10**30}, "invalid time"),
        ({"source_namespace": "../../etc"}, "invalid namespace"),
        ({"source_namespace": 7}, "malformed record: source_namespace"),
        ({"dest_name": "nginx/../../x"}, "invalid pod name"),
        ({"dest_name": ["x"]}, "malformed record: dest_name"),
        ({"source_name_aggr": "Frontend-*"}, "invalid name"),
        ({"source_name_aggr": "a*b"}, "invalid name"),
        ({"source_ip": "192.168.47.9/24"}, "invalid IP"),
        ({"source_ip": 3232247561}, "malformed record: source_ip"),
        ({"dest_ip": "fd00::1"}, "invalid IP"),  # mixed families
        ({"source_port": 70000}, "malformed record: source_port"),
        ({"dest_port": "80"}, "malformed record: dest_port"),
        ({"dest_port": 80.0}, "malformed record: dest_port"),
        ({"source_labels": {"labels": ["app=a\nb"]}}, "invalid label value"),
        ({"source_labels": {"labels": ["bad key=x"]}}, "invalid label key"),
        ({"source_labels": {"labels": ["noequals"]}}, "invalid label"),
        ({"source_labels": {"labels": ["a=1", "a=2"]}}, "conflicting labels"),
        ({"source_labels": {"labels": [1]}}, "malformed record: source_labels"),
        ({"source_labels": {"app": "x"}}, "malformed record: source_labels"),
        ({"source_labels": "app=x"}, "malformed record: source_labels"),
        ({"num_flows": -1}, "malformed record: num_flows"),
        ({"num_flows": "1"}, "malformed record: num_flows"),
        ({"packets_in": True}, "malformed record: packets_in"),
        ({"bytes_out": 2**64}, "malformed record: bytes_out"),
        ({"policies": ["0|t|t.a|allow|0"]}, "malformed record: policies"),
        ({"policies": {"enforced_policies": "x"}}, "malformed record: policies.enforced_policies"),
        ({"dest_domains": "example.com"}, "malformed record: dest_domains"),
        ({"dest_domains": ["exa mple.com"]}, "invalid DNS name"),
        ({"dest_service_name": "My Service"}, "invalid service name"),
        ({"dest_service_port": "http\n"}, "invalid port name"),
        ({"host": "node_1"}, "invalid node name"),
        ({"nat_outgoing_ports": "40000"}, "malformed record: nat_outgoing_ports"),
    ],
)
def test_hostile_fields_are_rejected_with_a_reason(updates, reason):
    r = one(doc(**updates))
    assert isinstance(r, Rejected), r
    assert r.reason == reason, r
    assert len(r.detail) <= 400


def test_hostile_file_keeps_the_good_records(tmp_path):
    good = doc(reporter="src")
    lines = [
        good,
        b"not json",
        [1, 2],
        "a string",
        {"_source": "x"},
        {"_source": {"reporter": "src"}},  # not a flow log document
        doc(source_namespace="../../etc"),
        doc(action="maybe"),
        level2(),
        {"hits": {"hits": [{"_source": good}]}},  # a container: the reader expands its hits
        good,
    ]
    fs = read(write_lines(tmp_path / "flows.log", lines))
    c = fs.counts
    assert (c.read, c.normalized, c.rejected_total, c.filtered_total) == (11, 4, 7, 0)
    assert c.rejected == Counter(
        {
            "invalid JSON": 1,
            "malformed record: not an object": 2,
            "malformed record: _source": 1,
            "malformed record: not a Calico flow log": 1,
            "invalid namespace": 1,
            "unknown enum value: action": 1,
        }
    )
    assert set(fs.table.column("source_format").to_pylist()) == {"calico-ee"}
    lines_of = {(e.line, e.reason) for e in c.examples}
    assert (2, "invalid JSON") in lines_of and (7, "invalid namespace") in lines_of


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(["-", "*", "pub", "wep", "hep", "net", "ns", "src", "dst", "tcp", "a=b"]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(sorted(DOC)), _VALUES, max_size=4), st.booleans())
def test_fuzzed_records_never_raise_and_rows_are_valid(updates, wrap):
    record = doc(**updates)
    if wrap:
        record = {"_index": "tigera_secure_ee_flows.cluster.20200811", "_source": record}
    out = one(record)
    assert isinstance(out, dict | Rejected)
    if isinstance(out, dict):
        for side in ("src", "dst"):
            ns, pod = out[f"{side}_namespace"], out[f"{side}_pod"]
            assert ns is None or is_dns1123_label(ns)
            assert pod is None or is_dns1123_subdomain(pod)
            assert pod is None or "*" not in pod
            for k, _ in out[f"{side}_labels"] or ():
                assert is_label_key(k)


# --------------------------------------------------------------------------- containers


def test_containers_json_lines_es_hits_and_arrays(tmp_path):
    a, b = doc(reporter="src"), level2()
    hit = lambda d, i: {  # noqa: E731
        "_index": "tigera_secure_ee_flows.cluster.20200811",
        "_id": f"id{i}",
        "_score": 1.0,
        "_source": d,
    }
    lines = write_lines(tmp_path / "flows.log", [a, b])
    dump = write_lines(tmp_path / "elasticdump.json", [hit(a, 1), hit(b, 2)])
    array = tmp_path / "hits.json"
    array.write_text(json.dumps([hit(a, 1), hit(b, 2)], indent=2))
    bare = tmp_path / "docs.json"
    bare.write_text(json.dumps([a, b]))
    tables = [read(p).table for p in (lines, dump, array, bare)]
    keep = [c for c in FLOW_SCHEMA.names if c not in ("source_file", "extra")]
    first = tables[0].select(keep).to_pylist()
    assert len(first) == 2
    for t in tables[1:]:
        assert t.select(keep).to_pylist() == first
    es_extra = dict(tables[1].column("extra").to_pylist()[0])
    assert es_extra == {"es_index": "tigera_secure_ee_flows.cluster.20200811"}


def test_search_response_is_expanded_by_expand():
    response = {
        "took": 3,
        "timed_out": False,
        "hits": {
            "total": {"value": 2, "relation": "eq"},
            "hits": [{"_id": "1", "_source": DOC}, {"_id": "2", "_source": level2()}],
        },
    }
    assert ee.looks_like(response) and detect.detect_record(response) == "calico-ee"
    inner = ee.expand(response)
    assert [one(h)["reporter"] for h in inner] == ["dst", "src"]
    r = one(response)
    assert isinstance(r, Rejected) and r.reason == "container record not expanded"
    assert "2 hits" in r.detail
    assert ee.expand(DOC) is None and ee.expand({"_source": DOC}) is None


# --------------------------------------------------------------------------- detection


def test_detection_does_not_confuse_calico_with_hubble_or_goldmane():
    assert "calico-ee" in FORMATS and "calico-goldmane" in FORMATS
    fmts = list(detect.FORMAT_MODULES)
    assert fmts.index("calico-ee") < fmts.index("hubble")
    for record in (DOC, level2(), {"_source": DOC}):
        assert detect.detect_record(record) == "calico-ee"
        assert not hubble.looks_like(record)
        assert not goldmane.looks_like(record)
    assert not ee.looks_like({"alpha": 1, "beta": 2})
    assert not ee.looks_like({"reporter": "src"})
    assert not ee.looks_like({"hits": {"hits": []}})


def test_real_hubble_samples_still_detect_as_hubble():
    files = sorted(REAL_HUBBLE.glob("*.json"))
    assert files
    for path in files:
        for line in path.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                assert not ee.looks_like(record) and not goldmane.looks_like(record)
                assert detect.detect_record(record) == "hubble"
    fs = read(files)
    assert set(fs.table.column("source_format").to_pylist()) == {"hubble"}
    assert fs.counts.rejected_total == 0
