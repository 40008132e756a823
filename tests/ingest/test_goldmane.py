"""Calico OSS Goldmane / Whisker flows (``calico-goldmane``): the three shapes, enum tables,
containers, reporter pairs, hostile records, detection.

Records follow ``research/flow-formats.md`` §2.2 exactly (projectcalico/calico
``goldmane/proto/api.proto``, ``goldmane/pkg/emitter/emitter.go``,
``whisker-backend/pkg/apis/v1/flows.go``, ``handlers/v1/protoconvert.go``): the emitter's Go
``encoding/json`` form (snake_case, ``"Key"``, integer enums, zero values omitted), the API's
protojson form (lowerCamelCase, enum names, int64 as strings) and Whisker's REST form (RFC 3339
times, enum names, ``" | "``-joined labels, ``Global``, ``PUBLIC NETWORK``). No real capture
exists (§8): these are contract tests against the sources.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.ingest import calico as ee
from recommender.ingest import detect, hubble, read_flows
from recommender.ingest import goldmane as gm
from recommender.ingest.sources import Rejected, Rows
from recommender.schema import FLOW_SCHEMA
from recommender.validate import is_dns1123_label, is_dns1123_subdomain

T0 = 1762322400  # 2025-11-05T06:00:00Z

# Goldmane emitter line: omitempty drops zero values (policy_index 0, rule_index 0, ...).
EMITTER = {
    "Key": {
        "source_name": "frontend-7f9c8d5b4-*",
        "source_namespace": "shop",
        "source_type": 1,
        "dest_name": "cart-5d8b9c7f6-*",
        "dest_namespace": "shop",
        "dest_type": 1,
        "dest_port": 8080,
        "dest_service_name": "cart",
        "dest_service_namespace": "shop",
        "dest_service_port_name": "http",
        "dest_service_port": 80,
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
                    "policy_index": 1,
                },
                {"kind": 9, "name": "kns.shop", "tier": "__PROFILE__", "action": 1},
            ]
        },
    },
    "start_time": T0,
    "end_time": T0 + 15,
    "source_labels": ["app=frontend", "pod-template-hash=7f9c8d5b4"],
    "dest_labels": ["app=cart", "pod-template-hash=5d8b9c7f6"],
    "packets_in": 10,
    "packets_out": 12,
    "bytes_in": 2000,
    "bytes_out": 900,
    "num_connections_started": 3,
    "num_connections_completed": 2,
    "num_connections_live": 1,
}

# Goldmane API FlowResult as protojson (grpcurl): camelCase, enum names, int64 strings.
FLOW_RESULT = {
    "id": "42",
    "flow": {
        "Key": {
            "sourceName": "pub",
            "sourceType": "Network",
            "destName": "ingress-nginx-controller-6d5f8c7b9d-*",
            "destNamespace": "ingress-nginx",
            "destType": "WorkloadEndpoint",
            "destPort": "443",
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
        "startTime": str(T0),
        "endTime": str(T0 + 15),
        "destLabels": ["app.kubernetes.io/name=ingress-nginx"],
        "packetsIn": "7",
        "packetsOut": "6",
        "bytesIn": "900",
        "bytesOut": "4000",
        "numConnectionsStarted": "2",
    },
}

# Whisker REST FlowResponse (one item of GET /flows).
WHISKER = {
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
                "trigger": None,
            }
        ],
        "pending": [],
    },
    "packets_in": 5,
    "packets_out": 6,
    "bytes_in": 3000,
    "bytes_out": 700,
}


def emitter(key: dict | None = None, **flow) -> dict:
    """EMITTER with Key fields / flow fields replaced (``...`` deletes)."""
    r = copy.deepcopy(EMITTER)
    for target, updates in ((r["Key"], key or {}), (r, flow)):
        for k, v in updates.items():
            if v is ...:
                target.pop(k, None)
            else:
                target[k] = v
    return r


def whisker(**updates) -> dict:
    r = copy.deepcopy(WHISKER)
    for k, v in updates.items():
        if v is ...:
            r.pop(k, None)
        else:
            r[k] = v
    return r


def one(record) -> dict | Rejected:
    out = gm.Parser("mem.json").parse(record)
    if isinstance(out, dict):
        r = Rows()
        full = dict(out)
        full.update(
            schema_version=1, source_format="calico-goldmane", source_file="m", source_record=1
        )
        r.append(full)
        r.flush()
    return out


def read(paths):
    fs = read_flows(paths if isinstance(paths, list) else [paths])
    assert fs.counts.balanced(), fs.counts
    assert fs.table.schema.equals(FLOW_SCHEMA, check_metadata=True)
    return fs


# --------------------------------------------------------------------------- shapes


def test_emitter_flow():
    r = one(EMITTER)
    assert isinstance(r, dict), r
    assert (r["time_start"], r["time_end"]) == (T0 * 10**9, (T0 + 15) * 10**9)
    assert (r["verdict"], r["verdict_raw"], r["reporter"], r["direction"]) == (
        "allowed",
        "Allow",
        "src",
        "egress",
    )
    assert (r["is_reply"], r["protocol"], r["ip_family"], r["aggregated"]) == (
        False,
        "TCP",
        4,
        True,
    )
    # aggregated names stay aggregated: never a pod, no IPs at all
    assert (r["src_kind"], r["src_namespace"], r["src_pod"], r["src_ip"]) == (
        "pod",
        "shop",
        None,
        None,
    )
    assert r["src_name_aggr"] == "frontend-7f9c8d5b4-*"
    assert (r["src_workload_kind"], r["src_workload_name"]) == ("Deployment", "frontend")
    assert r["dst_labels"] == (("app", "cart"), ("pod-template-hash", "5d8b9c7f6"))
    assert r["dst_port"] == 8080
    assert (r["dst_service_namespace"], r["dst_service_name"]) == ("shop", "cart")
    assert (r["dst_service_port_name"], r["dst_service_port"]) == ("http", 80)
    # reporter src: out = fwd
    assert (r["packets_fwd"], r["packets_rev"], r["bytes_fwd"], r["bytes_rev"]) == (
        12,
        10,
        900,
        2000,
    )
    assert (r["flows"], r["flows_started"], r["flows_completed"]) == (3, 3, 2)
    assert dict(r["extra"]) == {"container": "goldmane-flow", "num_connections_live": "1"}
    # sorted by policy_index; an omitted index is 0
    assert [
        (p["kind"], p["namespace"], p["name"], p["action"], p["rule"]) for p in r["policies"]
    ] == [
        ("Profile", None, "kns.shop", "allow", "0"),
        ("NetworkPolicy", "shop", "allow-cart", "allow", "0"),
    ]
    assert {p["direction"] for p in r["policies"]} == {"egress"}


def test_api_flow_result_protojson():
    r = one(FLOW_RESULT)
    assert isinstance(r, dict), r
    assert (r["reporter"], r["direction"], r["verdict"]) == ("dst", "ingress", "allowed")
    assert (r["src_kind"], r["src_name_aggr"], r["src_namespace"], r["src_labels"]) == (
        "external",
        "pub",
        None,
        None,
    )
    assert (r["dst_kind"], r["dst_namespace"], r["dst_pod"], r["dst_port"]) == (
        "pod",
        "ingress-nginx",
        None,
        443,
    )
    # net -> wep: only the dst record exists, it carries the count
    assert (r["flows"], r["flows_started"], r["flows_completed"]) == (2, 2, 0)
    assert (r["packets_fwd"], r["bytes_rev"]) == (7, 4000)
    assert dict(r["extra"]) == {"container": "goldmane-flow-result", "flow_id": "42"}
    assert r["policies"][0]["kind"] == "NetworkPolicy" and r["policies"][0]["rule"] == "2"


def test_whisker_flow_response():
    r = one(WHISKER)
    assert isinstance(r, dict), r
    assert r["time_start"] == T0 * 10**9 and r["time_end"] == (T0 + 15) * 10**9
    assert (r["src_kind"], r["src_namespace"], r["src_pod"], r["src_name_aggr"]) == (
        "pod",
        "shop",
        None,
        "payments-6b9f7c5d4-*",
    )
    assert r["src_labels"] == (("app.kubernetes.io/name", "payments"), ("tier", "backend"))
    assert (r["dst_kind"], r["dst_namespace"], r["dst_name_aggr"], r["dst_labels"]) == (
        "external",
        None,
        "pub",
        None,
    )
    assert (r["dst_port"], r["flows"], r["aggregated"]) == (443, 1, True)
    assert dict(r["extra"]) == {"container": "whisker", "kind": "inferred"}
    assert r["policies"][0]["kind"] == "Profile" and r["policies"][0]["namespace"] is None
    pvt = one(whisker(dest_name="PRIVATE NETWORK", dest_namespace="-"))
    assert (pvt["dst_kind"], pvt["dst_name_aggr"]) == ("external", "pvt")
    host = one(whisker(dest_name="worker-1-auto-hep", dest_namespace=""))
    assert (host["dst_kind"], host["dst_name_aggr"]) == ("unknown", "worker-1-auto-hep")
    bare = one(whisker(source_name="debug-shell"))  # no '*': a bare pod's own name
    assert (bare["src_pod"], bare["src_workload_kind"]) == ("debug-shell", "Pod")


def test_reporter_pair_counts_once():
    src = one(emitter({"reporter": 1}))
    dst = one(emitter({"reporter": 2}))
    assert (src["flows"], dst["flows"]) == (3, 0)
    assert dict(dst["extra"])["counted_by"] == "src" and dict(dst["extra"])["num_flows"] == "3"
    # Whisker: pod -> pod, inferred types
    w_dst = one(whisker(reporter="Dst", dest_name="cart-5d8b9c7f6-*", dest_namespace="shop"))
    assert w_dst["flows"] == 0


def test_flow_counts_fall_back():
    assert one(emitter(num_connections_started=...))["flows"] == 1  # live
    assert (
        one(emitter(num_connections_started=..., num_connections_live=...))["flows"] == 2
    )  # completed
    bare = emitter(
        num_connections_started=..., num_connections_live=..., num_connections_completed=...
    )
    assert one(bare)["flows"] == 1


def test_omitted_zero_values():
    r = one(emitter({"dest_port": ...}, packets_in=..., source_labels=...))
    assert r["dst_port"] is None  # 0 = absent: never a usable port
    assert r["packets_rev"] == 0
    assert r["src_labels"] == ()  # a WEP's intersection with nothing in common
    icmp = one(emitter({"proto": "icmp", "dest_port": ...}))
    assert (icmp["protocol"], icmp["dst_port"]) == ("ICMP", None)
    v6 = one(emitter({"proto": "icmp6"}))
    assert v6["ip_family"] == 6


def test_non_pod_destination_service_goes_to_extra():
    r = one(
        emitter(
            {
                "dest_type": 4,
                "dest_name": "pvt",
                "dest_namespace": "",
                "dest_service_name": "kubernetes",
                "dest_service_namespace": "default",
                "dest_service_port": 443,
                "dest_port": 6443,
            },
            dest_labels=...,
        )
    )
    assert r["dst_kind"] == "external" and r["dst_service_name"] is None
    assert dict(r["extra"])["dest_service"] == "default/kubernetes"


def test_retired_policy_kinds_are_known():
    hit = {"kind": 7, "name": "anp-1", "tier": "adminnetworkpolicy", "action": 2}
    r = one(emitter({"policies": {"enforced_policies": [hit]}}))
    assert r["policies"][0]["kind"] == "ClusterNetworkPolicyAdminTier"
    assert r["policies"][0]["action"] == "deny"


# --------------------------------------------------------------------------- enums


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ({"action": ...}, "unknown enum value: Key.action"),  # omitted = 0 = unspecified
        ({"action": 0}, "unknown enum value: Key.action"),
        ({"action": 4}, "unknown enum value: Key.action"),
        ({"action": "ALLOW"}, "unknown enum value: Key.action"),
        ({"action": "ActionUnspecified"}, "unknown enum value: Key.action"),
        ({"action": True}, "malformed record: Key.action"),
        ({"reporter": 3}, "unknown enum value: Key.reporter"),
        ({"reporter": ...}, "unknown enum value: Key.reporter"),
        ({"source_type": 5}, "unknown enum value: Key.source_type"),
        ({"dest_type": ...}, "unknown enum value: Key.dest_type"),
        ({"proto": "TCP"}, "unknown enum value: Key.proto"),
        ({"proto": ...}, "malformed record: Key.proto"),
        (
            {"policies": {"enforced_policies": [{"kind": 12, "action": 1}]}},
            "unknown enum value: Key.policies.enforced_policies.kind",
        ),
        (
            {"policies": {"enforced_policies": [{"kind": 6, "action": 9}]}},
            "unknown enum value: Key.policies.enforced_policies.action",
        ),
    ],
)
def test_unknown_enum_values_are_rejected(key, reason):
    r = one(emitter(key))
    assert isinstance(r, Rejected), r
    assert r.reason == reason, r


@pytest.mark.parametrize(
    ("updates", "reason"),
    [
        ({"action": "allow"}, "unknown enum value: action"),
        ({"reporter": "src"}, "unknown enum value: reporter"),
        ({"start_time": 1762322400}, "malformed record: start_time"),
        ({"start_time": "yesterday"}, "invalid time"),
        ({"start_time": ...}, "missing time"),
        ({"end_time": "2025-11-05T05:00:00Z"}, "invalid time"),
        ({"source_labels": ["app=x"]}, "malformed record: source_labels"),
        ({"source_labels": "app=x|tier=y"}, "invalid label value"),
        ({"source_namespace": "Shop"}, "invalid namespace"),
        ({"source_name": "payments/../x"}, "invalid name"),
        ({"dest_port": "443"}, "malformed record: dest_port"),
        ({"dest_port": 70000}, "malformed record: dest_port"),
        ({"packets_in": -1}, "malformed record: packets_in"),
        ({"policies": []}, "malformed record: policies"),
        (
            {"policies": {"enforced": [{"kind": "Policy", "action": "Allow"}]}},
            "unknown enum value: policies.enforced.kind",
        ),
    ],
)
def test_whisker_hostile_fields(updates, reason):
    r = one(whisker(**updates))
    assert isinstance(r, Rejected), r
    assert r.reason == reason, r


def test_whisker_enum_numbers_are_valid_values():
    # api.proto numbers and names are one table: a number in a Whisker record is not guessed,
    # it is the enum value itself (1 = Allow). Only the names list above is Whisker's own.
    assert gm._enum(1, gm.ACTIONS, "action") == "Allow"


# --------------------------------------------------------------------------- containers


def test_containers_are_expanded_by_expand(tmp_path):
    listing = {"total": {"totalPages": 1}, "items": [WHISKER, whisker(reporter="Dst")]}
    result = {"meta": {"totalPages": "1", "totalResults": "1"}, "flows": [FLOW_RESULT]}
    for record, inner, what in ((listing, 2, "items"), (result, 1, "flows")):
        assert gm.looks_like(record) and detect.detect_record(record) == "calico-goldmane"
        items = gm.expand(record)
        assert len(items) == inner and all(isinstance(one(i), dict) for i in items)
        r = one(record)
        assert isinstance(r, Rejected) and r.reason == "container record not expanded"
        assert what in r.detail
    for flow in (EMITTER, FLOW_RESULT, WHISKER):
        assert gm.expand(flow) is None


def test_emitter_body_and_hostile_lines(tmp_path):
    # The emitter POSTs newline-separated JSON with no trailing newline.
    good = [EMITTER, emitter({"reporter": 2}), FLOW_RESULT, WHISKER]
    bad = [
        emitter({"action": 7}),
        emitter({"source_namespace": "../../etc"}),
        {"Key": {"source_name": "x"}, "start_time": "soon"},
        {"Key": "not an object", "start_time": T0},
        {"items": [WHISKER]},  # a container: the reader expands its items
        ["x"],
    ]
    body = "\n".join(json.dumps(r) for r in [*good[:2], *bad, *good[2:]]) + "\n{broken"
    path = tmp_path / "goldmane.jsonl"
    path.write_text(body)
    fs = read(path)
    c = fs.counts
    assert (c.read, c.normalized, c.rejected_total, c.filtered_total) == (11, 5, 6, 0)
    assert c.rejected == Counter(
        {
            "unknown enum value: Key.action": 1,
            "invalid namespace": 1,
            "malformed record: start_time": 1,
            "malformed record: not a Goldmane or Whisker flow": 1,
            "malformed record: not an object": 1,
            "invalid JSON": 1,
        }
    )
    assert set(fs.table.column("source_format").to_pylist()) == {"calico-goldmane"}


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(["-", "*", "pub", "Global", "Allow", "Src", "1", "tcp", "a=b", "a=b | c"]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["emitter", "key", "whisker"]),
    st.dictionaries(
        st.sampled_from(sorted({*EMITTER, *EMITTER["Key"], *WHISKER})), _VALUES, max_size=4
    ),
)
def test_fuzzed_records_never_raise(shape, updates):
    if shape == "emitter":
        record = emitter(**{k: v for k, v in updates.items() if k != "Key"})
    elif shape == "key":
        record = emitter(updates)
    else:
        record = whisker(**updates)
    out = one(record)
    assert isinstance(out, dict | Rejected)
    if isinstance(out, dict):
        for side in ("src", "dst"):
            ns, pod = out[f"{side}_namespace"], out[f"{side}_pod"]
            assert ns is None or is_dns1123_label(ns)
            assert pod is None or (is_dns1123_subdomain(pod) and "*" not in pod)


# --------------------------------------------------------------------------- detection


def test_detection():
    for record in (EMITTER, FLOW_RESULT, WHISKER):
        assert detect.detect_record(record) == "calico-goldmane", record
        assert not ee.looks_like(record)
    # A Hubble GetFlowsResponse also has a "flow" key: it stays Hubble.
    hubble_line = {
        "flow": {"time": "2021-11-10T10:40:56Z", "verdict": "FORWARDED", "IP": {}},
        "node_name": "n",
    }
    assert hubble.looks_like(hubble_line) and not gm.looks_like(hubble_line)
    assert detect.detect_record(hubble_line) == "hubble"
    assert not gm.looks_like({"items": []}) and not gm.looks_like({"flows": [1]})
    assert not gm.looks_like({"Key": {"unrelated": 1}})


def test_files_of_each_shape_are_detected(tmp_path: Path):
    for name, records in (
        ("emitter.jsonl", [EMITTER]),
        ("grpcurl.json", [FLOW_RESULT]),
        ("whisker.json", [WHISKER]),
    ):
        p = tmp_path / name
        p.write_text("\n".join(json.dumps(r) for r in records))
        fs = read(p)
        assert fs.counts.normalized == 1
        assert fs.table.column("source_format").to_pylist() == ["calico-goldmane"]


def test_whisker_public_network_becomes_the_proven_public_egress_rule(tmp_path):
    """Whisker says `PUBLIC NETWORK` where Calico says `pub`: the same public rule, judged
    against every public address, and nothing at risk."""
    from recommender.pipeline import recommend

    page = {"total": {"totalPages": 1}, "items": [whisker(), whisker(dest_port=8443)]}
    path = tmp_path / "whisker.json"
    path.write_text(json.dumps(page))
    rec = recommend([path])
    assert rec.coverage == 1.0 and rec.judged == 2
    assert rec.at_risk.total == 0
    public = {(x["workload"], x["direction"], x["port"]) for x in rec.synthesis.external}
    assert public == {
        ("shop/payments", "egress", "443/TCP"),
        ("shop/payments", "egress", "8443/TCP"),
    }
    assert {x["kind"] for x in rec.synthesis.external} == {"public"}
