"""Hubble ingest: the real samples, field mapping, orientation, input handling, hostile input.

The expected figures for the real samples in ``../shared/real-flows/hubble`` (relative to
the project root) were computed once with an independent throwaway script (plain ``json``,
the rules of the brief) and are written here as numbers.
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import tempfile
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.accounting import RecordCounts
from recommender.ingest import (
    FORMATS,
    FlowSet,
    InputError,
    input_size,
    iter_flow_batches,
    read_flows,
    write_parquet,
)
from recommender.ingest.hubble import Parser
from recommender.ingest.sources import Filtered, Rejected
from recommender.ingest.values import parse_time
from recommender.schema import FLOW_SCHEMA
from recommender.validate import (
    is_dns1123_label,
    is_dns1123_subdomain,
    is_label_key,
    is_label_value,
)

from .samples import PRODUCTPAGE_LABELS, hubble_record

ROOT = Path(__file__).resolve().parents[2]  # the project root (tests/ingest/ -> root)
REAL = (ROOT / ".." / "shared" / "real-flows" / "hubble").resolve()
HTTP = "basic-sample-348-http-flows.first60.json"
TCP = "basic-sample-400-tcp-flows.first100.json"
UDP = "basic-sample-400-udp-flows.first100.json"

needs_real = pytest.mark.real_samples  # shared/ lies beside every checkout; absent = failure

# Figures per real sample (independent script; see the module docstring).
EXPECTED = {
    HTTP: {
        "read": 60,
        "normalized": 60,
        "is_reply": {True: 28, False: 32},
        "l7": 60,
        "l7_protocol": {"http": 60},
        "dns_query": 0,
        "syn_requests": 0,
        "syn_acks": 0,
        "src_kind": {"pod": 51, "external": 7, "node": 2},
        "dst_kind": {"pod": 48, "external": 10, "node": 2},
        "verdict": {"allowed": 60},
        "direction": {"egress": 60},
        "reporter": {"src": 32, "dst": 28},
    },
    TCP: {
        "read": 100,
        "normalized": 100,
        "is_reply": {True: 34, False: 58, None: 8},
        "l7": 17,
        "l7_protocol": {"http": 17, None: 83},
        "dns_query": 0,
        "syn_requests": 15,
        "syn_acks": 8,
        "src_kind": {"pod": 80, "cluster_unknown": 18, "node": 2},
        "dst_kind": {"pod": 91, "node": 9},
        "verdict": {"allowed": 94, "redirected": 6},
        "direction": {"egress": 74, "ingress": 17, "unknown": 9},
        "reporter": {"src": 54, "dst": 37, "unknown": 9},
    },
    UDP: {
        "read": 100,
        "normalized": 100,
        "is_reply": {True: 36, False: 46, None: 18},
        "l7": 36,
        "l7_protocol": {"dns": 36, None: 64},
        "dns_query": 36,
        "syn_requests": 0,
        "syn_acks": 0,
        "src_kind": {"pod": 82, "node": 18},
        "dst_kind": {"pod": 100},
        "verdict": {"allowed": 92, "redirected": 8},
        "direction": {"egress": 82, "unknown": 18},
        "reporter": {"src": 46, "dst": 36, "unknown": 18},
    },
}


# --------------------------------------------------------------------------- helpers


def read(inputs, **kw) -> FlowSet:
    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]
    fs = read_flows(inputs, **kw)
    assert fs.counts.balanced(), fs.counts
    assert fs.table.schema.equals(FLOW_SCHEMA, check_metadata=True)
    return fs


def rows(fs: FlowSet) -> list[dict]:
    return fs.table.to_pylist()


def real_lines(name: str) -> list[dict]:
    return [json.loads(line) for line in (REAL / name).read_text().splitlines() if line.strip()]


def write_lines(path: Path, records) -> Path:
    with path.open("wb") as f:
        for r in records:
            f.write(r if isinstance(r, bytes) else json.dumps(r).encode())
            f.write(b"\n")
    return path


def without(d: dict, *keys: str) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


BASE = hubble_record([*PRODUCTPAGE_LABELS, "k8s:version=v1"])


def rec(flow_updates: dict | None = None, drop: tuple[str, ...] = (), **top) -> dict:
    """BASE with flow keys replaced (None deletes) / dropped, and wrapper keys replaced."""
    r = copy.deepcopy(BASE)
    for k, v in (flow_updates or {}).items():
        if v is None:
            r["flow"].pop(k, None)
        else:
            r["flow"][k] = v
    for k in drop:
        r["flow"].pop(k, None)
    for k, v in top.items():
        if v is None:
            r.pop(k, None)
        else:
            r[k] = v
    return r


def one(record: dict, *, lookahead=None) -> dict | Filtered | Rejected:
    """Parse a single record as the only record of its file."""
    parser = Parser("mem.json", [record] if lookahead is None else lookahead)
    out = parser.parse(record)
    if isinstance(out, dict):
        # Every row converts to Arrow (the same path as the reader).
        from recommender.ingest.sources import Rows

        r = Rows()
        full = dict(out)
        full.update(schema_version=1, source_format="hubble", source_file="m", source_record=1)
        r.append(full)
        r.flush()
    return out


# --------------------------------------------------------------------------- real samples


@needs_real
@pytest.mark.parametrize("name", [HTTP, TCP, UDP])
def test_real_sample_counts(name):
    exp = EXPECTED[name]
    fs = read(REAL / name)
    c = fs.counts
    assert (c.read, c.normalized, c.rejected_total, c.filtered_total, c.files) == (
        exp["read"],
        exp["normalized"],
        0,
        0,
        1,
    )
    rs = rows(fs)
    assert Counter(r["is_reply"] for r in rs) == exp["is_reply"]
    assert sum(dict(r["extra"]).get("type") == "L7" for r in rs) == exp["l7"]
    assert Counter(r["l7_protocol"] for r in rs) == exp["l7_protocol"]
    assert sum(r["dns_query"] is not None for r in rs) == exp["dns_query"]
    flags = [r["tcp_flags"] for r in rs if r["tcp_flags"] is not None]
    assert sum(bool(f & 2 and not f & 16) for f in flags) == exp["syn_requests"]
    assert sum(bool(f & 2 and f & 16) for f in flags) == exp["syn_acks"]
    for col in ("src_kind", "dst_kind", "verdict", "direction", "reporter"):
        assert Counter(r[col] for r in rs) == exp[col], col
    # Row order and record numbers follow the file.
    assert [r["source_record"] for r in rs] == list(range(1, exp["read"] + 1))
    assert {r["source_file"] for r in rs} == {str(REAL / name)}
    assert {r["source_format"] for r in rs} == {"hubble"}


@needs_real
@pytest.mark.parametrize("name", [HTTP, TCP, UDP])
def test_real_sample_explicit_is_reply_is_kept(name):
    raw = real_lines(name)
    rs = rows(read(REAL / name))
    for line, r in zip(raw, rs, strict=True):
        if "is_reply" in line["flow"]:
            assert r["is_reply"] is line["flow"]["is_reply"]
        if line["flow"].get("reply") is True:
            assert r["is_reply"] is True  # a reply never looks like a request


@needs_real
def test_real_directory_input():
    fs = read(REAL)
    assert fs.counts.files == 3
    assert fs.counts.normalized == fs.table.num_rows == 260
    # Sorted order: http, tcp, udp.
    assert [Path(f).name for f in dict.fromkeys(fs.table.column("source_file").to_pylist())] == [
        HTTP,
        TCP,
        UDP,
    ]


@needs_real
def test_real_first_tcp_row_field_by_field():
    r = rows(read(REAL / TCP))[0]
    assert r["time_start"] == r["time_end"]
    assert r["time_start"].value == 1636540856465597700  # ns kept (pandas Timestamp)
    assert (r["observer"], r["cluster"]) == ("kind-control-plane", "kind-kind")
    assert (r["verdict"], r["verdict_raw"], r["direction"], r["is_reply"]) == (
        "allowed",
        "FORWARDED",
        "egress",
        False,
    )
    assert (r["ip_family"], r["protocol"], r["protocol_number"]) == (4, "TCP", 6)
    assert (r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"]) == (
        "10.244.0.177",
        35128,
        "10.244.0.110",
        9080,
    )
    assert r["tcp_flags"] == 16  # ACK
    assert (r["src_kind"], r["src_namespace"], r["src_pod"]) == (
        "pod",
        "bookinfo",
        "productpage-v1-6b746f74dc-9rcxx",
    )
    assert dict(r["src_labels"]) == {
        "app": "productpage",
        "sidecar.opentelemetry.io/injected": "bookinfo.otelcol-bookinfo",
        "version": "v1",
    }
    assert r["src_labels"] == sorted(r["src_labels"])  # keys sorted: deterministic
    assert dict(r["src_namespace_labels"]) == {"kubernetes.io/metadata.name": "bookinfo"}
    assert (r["src_service_account"], r["src_identity"], r["src_cluster"]) == (
        "bookinfo-productpage",
        3418,
        "kind-kind",
    )
    assert r["src_workload_name"] is None  # derived later from the pod name / inventory
    assert dict(r["extra"]) == {
        "type": "L3_L4",
        "event_type": "4",
        "event_sub_type": "1",
        "observation_point": "TO_PROXY",
    }
    assert (r["flows"], r["aggregated"], r["reporter"]) == (1, False, "src")


@needs_real
def test_real_overlay_rows_orientation():
    rs = rows(read(REAL / TCP))
    syn = rs[98]  # line 99: TO_OVERLAY SYN without is_reply
    assert syn["source_record"] == 99
    assert (syn["is_reply"], syn["direction"], syn["reporter"], syn["tcp_flags"]) == (
        False,
        "unknown",
        "unknown",
        2,
    )
    # Remote pod seen over the overlay: namespace from the pseudo-label, no pod name.
    assert (syn["src_kind"], syn["src_namespace"], syn["src_pod"]) == (
        "cluster_unknown",
        "bookinfo",
        None,
    )
    assert dict(syn["extra"])["interface"] == "cilium_vxlan"
    ack = rs[39]  # line 40: TO_OVERLAY ACK without is_reply: orientation unknown
    assert ack["is_reply"] is None


@needs_real
def test_real_dns_and_http_l7():
    udp = rows(read(REAL / UDP))[2]
    assert (udp["l7_protocol"], udp["dns_query"]) == (
        "dns",
        "productpage.bookinfo.svc.cluster.local.",
    )
    assert dict(udp["extra"])["l7_type"] == "REQUEST"
    assert (udp["dst_namespace"], udp["dst_pod"]) == ("kube-system", "coredns-558bd4d5db-w2m67")
    assert dict(udp["dst_labels"]) == {"k8s-app": "kube-dns"}
    http = rows(read(REAL / HTTP))
    # Line 2: a destination labelled reserved:world that has a namespace and pod name is a pod.
    assert (http[1]["dst_kind"], http[1]["dst_reserved"], http[1]["dst_pod"]) == (
        "pod",
        "world",
        "kube-dns-b4f5c58c7-7qmtw",
    )
    # ... whose labels are unknown: Cilium gave it no Kubernetes identity
    assert http[1]["dst_labels"] is None
    assert (http[0]["dst_kind"], http[0]["dst_reserved"], http[0]["dst_labels"]) == (
        "external",
        "world",
        None,
    )
    assert (http[0]["cluster"], http[0]["src_cluster"]) == ("default", "default")


@needs_real
def test_pseudo_labels_never_in_pod_labels():
    for r in rows(read(REAL)):
        for side in ("src", "dst"):
            for key, value in r[f"{side}_labels"] or []:
                assert not key.startswith("io.cilium"), key
                assert key != "io.kubernetes.pod.namespace"
                assert is_label_key(key) and is_label_value(value)
            if r[f"{side}_kind"] == "pod":
                assert r[f"{side}_namespace"] and r[f"{side}_pod"]
                if r[f"{side}_reserved"] is None:  # Cilium knew the pod: it has its SA
                    assert r[f"{side}_service_account"]
                assert (
                    dict(r[f"{side}_namespace_labels"] or {}).get(
                        "kubernetes.io/metadata.name", r[f"{side}_namespace"]
                    )
                    == r[f"{side}_namespace"]
                )


# --------------------------------------------------------------------------- containers


@needs_real
def test_bare_flows_equal_wrapped(tmp_path):
    raw = real_lines(TCP)
    bare = write_lines(tmp_path / "bare.json", [line["flow"] for line in raw])
    a = rows(read(REAL / TCP))
    b = rows(read(bare))
    for x, y in zip(a, b, strict=True):
        assert without(x, "source_file") == without(y, "source_file")


@needs_real
def test_json_array_input(tmp_path):
    raw = real_lines(UDP)
    p = tmp_path / "saved.json"
    p.write_text(json.dumps(raw, indent=2))
    a = rows(read(REAL / UDP))
    b = rows(read(p))
    assert [r["source_record"] for r in b] == list(range(1, 101))  # array index
    for x, y in zip(a, b, strict=True):
        assert without(x, "source_file") == without(y, "source_file")


@needs_real
def test_gzip_input_any_name(tmp_path):
    data = gzip.compress((REAL / HTTP).read_bytes())
    (tmp_path / "a.json.gz").write_bytes(data)
    (tmp_path / "b.log").write_bytes(data)  # no .gz extension: magic bytes decide
    fs = read(tmp_path)
    assert fs.counts.files == 2
    assert fs.counts.normalized == 120
    assert fs.counts.rejected_total == 0


@needs_real
def test_truncated_gzip_keeps_records_before_the_break(tmp_path):
    data = gzip.compress((REAL / TCP).read_bytes())
    p = tmp_path / "cut.json.gz"
    p.write_bytes(data[: len(data) // 2])
    fs = read(p)
    kept = fs.counts.normalized
    assert 0 < kept < 100
    assert [r["source_record"] for r in rows(fs)] == list(range(1, kept + 1))
    assert dict(fs.counts.rejected) == {"corrupt gzip": 1}
    (ex,) = fs.counts.examples
    assert (ex.file, ex.line) == (str(p), kept + 1)


@needs_real
def test_directory_mix_skips_docs_and_hidden(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "udp.json.gz").write_bytes(gzip.compress((REAL / UDP).read_bytes()))
    (tmp_path / "http.json").write_bytes((REAL / HTTP).read_bytes())
    (tmp_path / "README.md").write_text("# not flows\n")
    (tmp_path / "NOTES.md").write_text("# not flows\n")
    (tmp_path / ".cache.json").write_text("garbage\n")
    (tmp_path / "empty.json").write_text("")
    fs = read([tmp_path])
    assert fs.counts.files == 3  # http.json, empty.json, sub/udp.json.gz
    assert fs.counts.normalized == 160


def test_empty_file(tmp_path):
    p = tmp_path / "empty.json"
    p.write_bytes(b"")
    fs = read(p)
    assert fs.table.num_rows == 0
    assert (fs.counts.files, fs.counts.read) == (1, 0)
    (tmp_path / "blank.json").write_bytes(b"\n\n  \n")
    assert read(tmp_path / "blank.json").counts.read == 0


# --------------------------------------------------------------------------- Parquet


@needs_real
def test_parquet_round_trip(tmp_path):
    fs = read(REAL)
    out = tmp_path / "flows.parquet"
    assert write_parquet(fs.table, out) == 260
    assert sorted(os.listdir(tmp_path)) == ["flows.parquet"]  # no temp file left
    back = read(out)
    assert back.table.equals(fs.table)
    assert back.table.to_pylist() == fs.table.to_pylist()
    assert pq.read_schema(out).metadata == FLOW_SCHEMA.metadata
    assert (back.counts.files, back.counts.read, back.counts.normalized) == (1, 260, 260)
    # Also from a stream of batches, and mixed with raw logs in one call.
    counts = RecordCounts()
    out2 = tmp_path / "again.parquet"
    assert write_parquet(iter_flow_batches([REAL], counts=counts, batch_size=7), out2) == 260
    mixed = read([out2, REAL / HTTP])
    assert mixed.counts.normalized == 320
    assert mixed.table.slice(0, 260).to_pylist() == fs.table.to_pylist()


def test_parquet_not_a_flow_table(tmp_path):
    p = tmp_path / "other.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), p)
    with pytest.raises(InputError, match=r"other\.parquet: Parquet file is not a flow table"):
        read_flows([p])
    bad = tmp_path / "corrupt.parquet"
    bad.write_bytes(b"PAR1" + b"\0" * 100)
    with pytest.raises(InputError, match=r"corrupt\.parquet: unreadable Parquet"):
        read_flows([bad])


def test_parquet_from_other_writers_is_cast_and_version_checked(tmp_path):
    fs = read(write_lines(tmp_path / "f.json", [BASE, rec({"l4": {"UDP": {}}})]))
    plain = pa.table(
        {  # reversed column order, dictionaries decoded to strings, no schema metadata
            f.name: fs.table.column(f.name).cast(
                pa.string() if pa.types.is_dictionary(f.type) else f.type
            )
            for f in reversed(FLOW_SCHEMA)
        }
    )
    pq.write_table(plain, tmp_path / "plain.parquet")
    back = read(tmp_path / "plain.parquet")
    assert back.table.to_pylist() == fs.table.to_pylist()
    future = fs.table.replace_schema_metadata({"netpol-recommender.schema_version": "99"})
    pq.write_table(future, tmp_path / "future.parquet")
    with pytest.raises(InputError, match="future.parquet: flow table has schema version '99'"):
        read_flows([tmp_path / "future.parquet"])


def test_write_parquet_failure_leaves_nothing(tmp_path):
    def broken():
        yield pa.RecordBatch.from_pylist([], schema=FLOW_SCHEMA)
        raise RuntimeError("boom")

    out = tmp_path / "x.parquet"
    out.write_bytes(b"previous")
    with pytest.raises(RuntimeError):
        write_parquet(broken(), out)
    assert out.read_bytes() == b"previous"  # the old file is untouched
    assert sorted(os.listdir(tmp_path)) == ["x.parquet"]


def test_empty_parquet_round_trip(tmp_path):
    out = tmp_path / "empty.parquet"
    assert write_parquet(FLOW_SCHEMA.empty_table(), out) == 0
    fs = read(out)
    assert fs.table.num_rows == 0 and fs.counts.files == 1


# --------------------------------------------------------------------------- errors


def test_missing_path_and_unknown_formats(tmp_path):
    with pytest.raises(InputError, match="missing.json: no such file"):
        read_flows([tmp_path / "missing.json"])
    with pytest.raises(InputError, match="unknown format 'calico'"):
        read_flows([tmp_path], format="calico")
    other = write_lines(tmp_path / "other.json", [{"alpha": 1, "beta": 2}])
    with pytest.raises(
        InputError,
        match=r"other\.json: not a supported flow log format \(looked like a JSON object "
        r"with keys 'alpha', 'beta'\)",
    ):
        read_flows([other])
    text = tmp_path / "vpc.log"
    text.write_text("2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 NODATA\n")
    with pytest.raises(InputError, match=r"vpc\.log: not a supported .*looked like text"):
        read_flows([text])
    # --format overrides detection: the records are then rejected one by one.
    fs = read(other, format="hubble")
    assert dict(fs.counts.rejected) == {"malformed record: not a Hubble record": 1}
    assert {"hubble", "parquet"} <= set(FORMATS)


def test_non_flow_records_are_filtered(tmp_path):
    p = write_lines(
        tmp_path / "f.json",
        [
            BASE,
            {"node_status": {"state_change": "NODE_CONNECTED"}, "node_name": "n", "time": "x"},
            {"lost_events": {"source": "HUBBLE_RING_BUFFER", "num_events_lost": 3}},
            {"some_future_event": {}, "node_name": "n", "time": BASE["time"]},
            rec({"IP": None, "ethernet": {"source": "a", "destination": "b"}}),  # ARP
            rec({"Type": "SOCK"}),
            BASE,
        ],
    )
    fs = read(p)
    assert fs.counts.normalized == 2
    assert dict(fs.counts.filtered) == {
        "non-flow: node_status": 1,
        "non-flow: lost_events": 1,
        "non-flow: other": 1,
        "non-IP flow": 1,
        "socket trace (pre-translation)": 1,
    }
    assert [r["source_record"] for r in rows(fs)] == [1, 7]


def test_hostile_records_rejected_with_file_and_line(tmp_path):
    def labels(*extra):
        return rec({"source": {**BASE["flow"]["source"], "labels": list(extra)}})

    lines = [
        BASE,  # 1
        {"flow": "not an object"},  # 2
        b'{"flow": {"time": ',  # 3 truncated JSON
        rec({"source": {**BASE["flow"]["source"], "labels": "k8s:app=x"}}),  # 4
        rec({"l4": {"TCP": {"source_port": 1, "destination_port": "9080"}}}),  # 5
        rec({"IP": {"source": "10.0.0.300", "destination": "10.0.0.1"}}),  # 6
        rec({"source": {**BASE["flow"]["source"], "namespace": "../../etc"}}),  # 7
        labels("k8s:app=a\nb"),  # 8
        labels('k8s:app="x"'),  # 9
        labels("k8s:app={{ .Values.x }}"),  # 10
        b"\x00\xff\xfebinary\x80garbage",  # 11
        labels("k8s:../../x=1"),  # 12
        rec({"destination": {"namespace": "ns", "pod_name": "$(rm -rf /)"}}),  # 13
        rec({"time": None}, time=None),  # 14
        [1, 2, 3],  # 15
        rec({"source": {"workloads": [{"name": "a b", "kind": "Deployment"}]}}),  # 16
        labels("k8s:io.cilium.k8s.namespace.labels.team=a b"),  # 17
        rec({"is_reply": "yes"}),  # 18
        rec({"l4": {"TCP": {"flags": {"SYN": "true"}}}}),  # 19
        BASE,  # 20
    ]
    p = write_lines(tmp_path / "hostile.json", lines)
    with p.open("ab") as f:
        f.write(b'{"flow": {"verdict": "FORW')  # 21: truncated last line, no newline
    fs = read(p)
    assert fs.counts.normalized == 2
    assert [r["source_record"] for r in rows(fs)] == [1, 20]
    got = {e.line: e.reason for e in fs.counts.examples}
    assert got == {
        2: "malformed record: flow",
        3: "invalid JSON",
        4: "malformed record: source.labels",
        5: "malformed record: l4.TCP.destination_port",
        6: "invalid IP",
        7: "invalid namespace",
        8: "invalid label value",
        9: "invalid label value",
        10: "invalid label value",
        11: "invalid UTF-8",
        12: "invalid label key",
        13: "invalid pod name",
        14: "missing time",
        15: "malformed record: not an object",
        16: "invalid workload name",
        17: "invalid label value",
        18: "malformed record: is_reply",
        19: "malformed record: l4.TCP.flags",
        21: "invalid JSON",
    }
    assert fs.counts.rejected_total == 19
    by_line = {e.line: e for e in fs.counts.examples}
    assert str(by_line[7]) == f"{p}:7: invalid namespace: source.namespace='../../etc'"
    assert "source.labels[app]='a\\nb'" in str(by_line[8])
    assert all("\n" not in str(e) for e in fs.counts.examples)
    assert one(rec({"time": "2021-13-45T99:00:00Z"})).reason == "invalid time"
    other_ns = rec({"source": {**BASE["flow"]["source"], "namespace": "other"}})
    assert one(other_ns).reason == "conflicting namespace"  # vs io.kubernetes.pod.namespace


# --------------------------------------------------------------------------- orientation


def test_legacy_reply_rule(tmp_path):
    """A file with no is_reply key at all (a pre-is_reply producer): missing reply = False."""
    raw = [rec({"is_reply": None, "l4": {"TCP": {"flags": {"ACK": True}}}}) for _ in range(3)]
    raw[1]["flow"]["reply"] = True
    legacy = rows(read(write_lines(tmp_path / "legacy.json", raw)))
    assert [r["is_reply"] for r in legacy] == [False, True, False]
    # The same records next to one that has is_reply: a missing is_reply means unknown.
    modern = rows(read(write_lines(tmp_path / "modern.json", [*raw, BASE])))
    assert [r["is_reply"] for r in modern] == [None, True, None, False]


def test_legacy_rule_looks_at_the_first_1000_records(tmp_path):
    late = [rec({"is_reply": None, "l4": {"TCP": {}}}) for _ in range(1000)] + [BASE]
    rs = rows(read(write_lines(tmp_path / "late.json", late)))
    assert Counter(r["is_reply"] for r in rs) == {False: 1001}  # is_reply key after 1000
    early = [BASE] + [rec({"is_reply": None, "l4": {"TCP": {}}}) for _ in range(1000)]
    rs = rows(read(write_lines(tmp_path / "early.json", early)))
    assert Counter(r["is_reply"] for r in rs) == {False: 1, None: 1000}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"is_reply": True}, True),
        ({"is_reply": False, "reply": True}, False),  # is_reply wins
        ({"is_reply": None, "reply": True}, True),
        ({"is_reply": None, "trace_reason": "NEW", "l4": {"TCP": {}}}, False),
        ({"is_reply": None, "trace_reason": "ESTABLISHED", "l4": {"TCP": {}}}, False),
        ({"is_reply": None, "trace_reason": "REPLY", "l4": {"TCP": {}}}, True),
        ({"is_reply": None, "l4": {"TCP": {"flags": {"SYN": True}}}}, False),
        ({"is_reply": None, "l4": {"TCP": {"flags": {"SYN": True, "ACK": True}}}}, True),
        ({"is_reply": None, "l4": {"TCP": {"flags": {"ACK": True}}}}, None),
        ({"is_reply": None, "l4": {"UDP": {"source_port": 1, "destination_port": 53}}}, None),
        ({"is_reply": None, "trace_reason": "RELATED", "l4": {"TCP": {}}}, None),
    ],
)
def test_orientation_rules(changes, expected):
    r = one(rec(changes), lookahead=[BASE])  # the file has is_reply keys: not legacy
    assert r["is_reply"] is expected


@pytest.mark.parametrize(
    ("direction", "is_reply", "local", "reporter"),
    [
        ("EGRESS", False, "ID", "src"),
        ("EGRESS", True, "ID", "dst"),
        ("INGRESS", False, "ID", "dst"),
        ("INGRESS", True, "ID", "src"),
        (None, None, "source", "src"),
        (None, None, "destination", "dst"),
        (None, None, None, "unknown"),
    ],
)
def test_reporter(direction, is_reply, local, reporter):
    r = rec(
        {
            "traffic_direction": direction,
            "is_reply": is_reply,
            "l4": {"TCP": {"flags": {"ACK": True}}},
        }
    )
    r["flow"]["source"].pop("ID")
    if local in ("source", "destination"):
        r["flow"][local]["ID"] = 7
    assert one(r, lookahead=[BASE])["reporter"] == reporter


# --------------------------------------------------------------------------- field mapping


@pytest.mark.parametrize(
    ("raw", "verdict"),
    [
        ("FORWARDED", "allowed"),
        ("DROPPED", "denied"),
        ("AUDIT", "audit"),
        ("REDIRECTED", "redirected"),
        ("ERROR", "error"),
        ("TRACED", "unknown"),
        ("TRANSLATED", "unknown"),
        ("SOMETHING_NEW", "unknown"),
        (2, "denied"),
    ],
)
def test_verdicts(raw, verdict):
    r = one(rec({"verdict": raw, "drop_reason_desc": "POLICY_DENIED"}))
    assert r["verdict"] == verdict
    assert r["verdict_raw"] == (raw if isinstance(raw, str) else "DROPPED")
    assert r["drop_reason"] == "POLICY_DENIED"
    missing = one(rec({"verdict": None}))
    assert (missing["verdict"], missing["verdict_raw"]) == ("unknown", None)


@pytest.mark.parametrize(
    ("l4", "expected"),
    [
        (
            {"TCP": {"source_port": 1, "destination_port": 2, "flags": {"SYN": True, "ECE": True}}},
            ("TCP", 6, 1, 2, None, None, 66),
        ),
        (
            {"UDP": {"source_port": 5353, "destination_port": 53}},
            ("UDP", 17, 5353, 53, None, None, None),
        ),
        (
            {"SCTP": {"source_port": 9, "destination_port": 36412}},
            ("SCTP", 132, 9, 36412, None, None, None),
        ),
        ({"ICMPv4": {"type": 8}}, ("ICMP", 1, None, None, 8, 0, None)),
        ({"ICMPv4": {}}, ("ICMP", 1, None, None, 0, 0, None)),
        ({"ICMPv6": {"type": 1, "code": 4}}, ("ICMPv6", 58, None, None, 1, 4, None)),
        ({"VRRP": {}}, ("OTHER", 112, None, None, None, None, None)),
        ({"SomethingElse": {}}, ("OTHER", None, None, None, None, None, None)),
        (None, ("OTHER", None, None, None, None, None, None)),
    ],
)
def test_l4(l4, expected):
    r = one(rec({"l4": l4, "is_reply": True}))
    got = tuple(
        r[c]
        for c in (
            "protocol",
            "protocol_number",
            "src_port",
            "dst_port",
            "icmp_type",
            "icmp_code",
            "tcp_flags",
        )
    )
    assert got == expected


def test_ipv6_canonical_and_mixed_families():
    r = one(
        rec({"IP": {"source": "2001:DB8:0::1", "destination": "fd00::0a", "ipVersion": "IPv6"}})
    )
    assert (r["src_ip"], r["dst_ip"], r["ip_family"]) == ("2001:db8::1", "fd00::a", 6)
    bad = one(rec({"IP": {"source": "10.0.0.1", "destination": "fd00::1"}}))
    assert bad.reason == "invalid IP"
    assert one(rec({"IP": {"source": "10.0.0.1"}})).reason == "missing IP"


def test_times():
    assert parse_time("2021-11-10T10:40:56.465597700Z") == 1636540856465597700
    assert parse_time("2021-11-10T10:40:56Z") == 1636540856000000000
    assert parse_time("2021-11-10T10:40:56.1Z") == 1636540856100000000
    assert parse_time("2021-11-10T10:40:56.123456789Z") == 1636540856123456789
    assert parse_time("2021-11-10T10:40:56.1234567891Z") == 1636540856123456789
    assert parse_time("2021-11-10T12:40:56+02:00") == 1636540856000000000
    assert parse_time("2021-11-10t10:40:56z") == 1636540856000000000
    assert parse_time("2021-11-10 10:40:56Z") == 1636540856000000000
    for bad in (
        "2021-13-01T00:00:00Z",
        "2021-02-30T00:00:00Z",
        "2021-11-10T24:00:00Z",
        "2021-11-10T10:40:56",  # no offset
        "9999-01-01T00:00:00Z",  # beyond timestamp[ns]
        "yesterday",
        "",
        1636540856,
        None,
    ):
        assert parse_time(bad) is None, bad
    # The wrapper's time stands in for a missing flow time.
    r = one(rec({"time": None}, time="2021-11-10T10:40:57Z"))
    assert r["time_start"] == 1636540857000000000


def test_observer_cluster_split_and_services_workloads_policies_names():
    r = one(
        rec(
            {
                "node_name": "cluster-a/worker-1",
                "destination_service": {"name": "reviews", "namespace": "bookinfo"},
                "destination": {
                    **BASE["flow"]["destination"],
                    "cluster_name": "cluster-b",
                    "workloads": [{"name": "reviews-v2", "kind": "Deployment"}],
                },
                "egress_allowed_by": [
                    {"name": "allow-dns", "namespace": "kube-system", "kind": "CiliumNetworkPolicy"}
                ],
                "ingress_denied_by": [
                    {"name": "deny-all", "kind": "CiliumClusterwideNetworkPolicy"}
                ],
                "destination_names": ["reviews.bookinfo.svc.cluster.local"],
                "trace_reason": "NEW",
                "interface": {"index": 25, "name": "lxc25aced2f4021"},
                "IP": {**BASE["flow"]["IP"], "source_xlated": "10.96.0.10"},
            }
        )
    )
    assert (r["observer"], r["cluster"]) == ("worker-1", "cluster-a")
    assert (r["dst_service_namespace"], r["dst_service_name"]) == ("bookinfo", "reviews")
    assert (r["dst_workload_kind"], r["dst_workload_name"], r["dst_cluster"]) == (
        "Deployment",
        "reviews-v2",
        "cluster-b",
    )
    assert r["policies"] == [
        {
            "kind": "CiliumNetworkPolicy",
            "namespace": "kube-system",
            "name": "allow-dns",
            "tier": None,
            "action": "allow",
            "rule": None,
            "direction": "egress",
        },
        {
            "kind": "CiliumClusterwideNetworkPolicy",
            "namespace": None,
            "name": "deny-all",
            "tier": None,
            "action": "deny",
            "rule": None,
            "direction": "ingress",
        },
    ]
    assert r["dst_names"] == ["reviews.bookinfo.svc.cluster.local"]
    assert r["extra"] == sorted(
        {
            "type": "L3_L4",
            "event_type": "4",
            "event_sub_type": "3",
            "observation_point": "TO_STACK",
            "trace_reason": "NEW",
            "interface": "lxc25aced2f4021",
            "source_xlated": "10.96.0.10",
        }.items()
    )
    # Without a cluster prefix, the cluster is the local (ID-carrying) endpoint's.
    assert one(BASE)["cluster"] == "kind-kind"


def test_aggregated_exporter_flows(tmp_path):
    agg = rec({"aggregate": {"ingress_flow_count": 3, "egress_flow_count": 2}})
    empty = rec({"aggregate": {}})
    fs = read(write_lines(tmp_path / "agg.json", [agg, empty, BASE]))
    assert [(r["flows"], r["aggregated"]) for r in rows(fs)] == [(5, True), (1, True), (1, False)]
    bad = one(rec({"aggregate": {"ingress_flow_count": -1}}))
    assert bad.reason == "malformed record: aggregate.ingress_flow_count"


@pytest.mark.parametrize(
    ("endpoint", "kind", "reserved"),
    [
        ({"identity": 1, "labels": ["reserved:host"]}, "node", "host"),
        ({"identity": 6, "labels": ["reserved:remote-node"]}, "node", "remote-node"),
        ({"identity": 4, "labels": ["reserved:health"]}, "node", "health"),
        ({"identity": 7, "labels": ["reserved:kube-apiserver"]}, "node", "kube-apiserver"),
        (
            {"identity": 16777217, "labels": ["reserved:kube-apiserver", "reserved:world"]},
            "external",
            "kube-apiserver",
        ),
        ({"identity": 2, "labels": ["reserved:world"]}, "external", "world"),
        ({"identity": 2}, "external", "world"),  # labels masked: the identity number
        ({"identity": 1}, "node", "host"),
        ({"identity": 16777220, "labels": ["cidr:1.2.3.0/24"]}, "external", None),
        ({"labels": ["reserved:init"]}, "cluster_unknown", "init"),
        ({"labels": ["reserved:unmanaged"]}, "cluster_unknown", "unmanaged"),
        ({"labels": ["reserved:ingress"]}, "cluster_unknown", "ingress"),
        ({"namespace": "ns", "labels": ["k8s:app=x"]}, "cluster_unknown", None),
        ({"labels": ["k8s:app=x", "k8s:io.kubernetes.pod.namespace=ns"]}, "cluster_unknown", None),
        ({"namespace": "ns", "pod_name": "p-1", "labels": []}, "pod", None),
        (
            {"namespace": "ns", "pod_name": "p", "identity": 2, "labels": ["reserved:world"]},
            "pod",
            "world",
        ),
        ({"pod_name": "p"}, "unknown", None),
        ({"labels": ["k8s:app=x"]}, "unknown", None),
        ({}, "unknown", None),
        (None, "unknown", None),
    ],
)
def test_endpoint_kinds(endpoint, kind, reserved):
    r = one(rec({"destination": endpoint}))
    assert (r["dst_kind"], r["dst_reserved"]) == (kind, reserved)


def test_endpoint_labels_null_empty_and_other_sources():
    r = one(
        rec(
            {
                "destination": {
                    "namespace": "ns",
                    "pod_name": "p",
                    "labels": [
                        "k8s:zeta=1",
                        "k8s:app=web",
                        "k8s:empty",
                        "k8s:io.cilium.k8s.policy.derived-from=x",
                        "k8s:io.cilium.something=y",
                        "container:image=nginx",
                        "unspec:foo=bar",
                        "fqdn:example.com",
                        "no-source-at-all",
                    ],
                }
            }
        )
    )
    assert list(r["dst_labels"]) == [("app", "web"), ("empty", ""), ("zeta", "1")]
    assert r["dst_namespace_labels"] is None
    assert one(rec({"destination": {"namespace": "ns", "pod_name": "p"}}))["dst_labels"] is None
    # protojson omits empty lists, so `[]` says no more than a missing field: unknown
    unknown = one(rec({"destination": {"namespace": "ns", "pod_name": "p", "labels": []}}))
    assert unknown["dst_labels"] is None
    # a pod with only Cilium's pseudo-labels has a Kubernetes identity: known, and empty
    pseudo = ["k8s:io.kubernetes.pod.namespace=ns", "k8s:io.cilium.k8s.policy.cluster=c"]
    known_empty = one(rec({"destination": {"namespace": "ns", "pod_name": "p", "labels": pseudo}}))
    assert list(known_empty["dst_labels"]) == []


# --------------------------------------------------------------------------- streaming


@needs_real
def test_batches_and_progress(tmp_path):
    parquet_file = tmp_path / "p.parquet"
    write_parquet(read(REAL / HTTP).table, parquet_file)
    gz = tmp_path / "udp.json.gz"
    gz.write_bytes(gzip.compress((REAL / UDP).read_bytes()))
    inputs = [REAL / TCP, gz, parquet_file]
    seen: list[int] = []
    counts = RecordCounts()
    batches = list(iter_flow_batches(inputs, counts=counts, progress=seen.append, batch_size=7))
    assert all(0 < b.num_rows <= 7 for b in batches)
    assert sum(b.num_rows for b in batches) == counts.normalized == 260
    assert counts.balanced() and counts.files == 3
    assert sum(seen) == input_size(inputs)
    assert all(b.schema.equals(FLOW_SCHEMA, check_metadata=True) for b in batches)


def test_detection_after_an_unreadable_lookahead(tmp_path, monkeypatch):
    import recommender.ingest as ingest
    from recommender.ingest import sources

    monkeypatch.setattr(ingest, "LOOKAHEAD", 2)
    monkeypatch.setattr(sources, "MAX_LINE", 1500)
    long = b'{"x": "' + b"y" * 2000 + b'"}'
    fs = read(write_lines(tmp_path / "f.json", [long, long, long, BASE, BASE]))
    assert dict(fs.counts.rejected) == {"line too long": 3}
    assert fs.counts.normalized == 2


def test_missing_path_raises_before_streaming(tmp_path):
    with pytest.raises(InputError):
        iter_flow_batches([tmp_path / "nope"], counts=RecordCounts())


# --------------------------------------------------------------------------- hypothesis


def _real_or_base() -> list[dict]:
    if REAL.is_dir():
        picked = real_lines(TCP)[:40:3] + real_lines(UDP)[:40:5] + real_lines(HTTP)[:20:4]
        return [*picked, BASE]
    return [BASE]


SEEDS = _real_or_base()
HOSTILE_STRINGS = [
    "",
    "../../etc",
    "a\nb",
    '"quoted"',
    "{{ .Values }}",
    "\udc80",  # a lone surrogate (valid as a JSON escape): must never reach Arrow
    "k8s:app=x\n",
    "reserved:world",
    "10.0.0.1",
    "FORWARDED",
    "x" * 300,
]
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(HOSTILE_STRINGS),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


@st.composite
def mutated_records(draw):
    r = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = [p for p in _paths(r) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = r
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["delete", "replace", "replace"]))
        if action == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return r


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(mutated_records(), min_size=1, max_size=5))
def test_mutated_real_records_never_raise(records):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "mutated.json"
        with p.open("w") as f:
            for r in records:
                f.write(json.dumps(r) + "\n")
        try:
            fs = read_flows([p], format="hubble")
        except InputError:  # pragma: no cover - no format detection with --format
            raise
        c = fs.counts
        assert c.balanced()
        assert c.read == len(records)
        assert c.normalized == fs.table.num_rows
        # Nothing unvalidated reaches the table.
        for row in fs.table.to_pylist():
            for side in ("src", "dst"):
                ns = row[f"{side}_namespace"]
                assert ns is None or is_dns1123_label(ns)
                pod = row[f"{side}_pod"]
                assert pod is None or is_dns1123_subdomain(pod)
                for key, value in (row[f"{side}_labels"] or []) + (
                    row[f"{side}_namespace_labels"] or []
                ):
                    assert is_label_key(key) and is_label_value(value)
            assert row["verdict"] in (
                "allowed",
                "denied",
                "audit",
                "redirected",
                "error",
                "unknown",
            )
            assert row["flows"] >= 1


@settings(max_examples=200, deadline=None)
@given(mutated_records())
def test_parser_returns_a_result_for_any_mutation(record):
    out = one(record, lookahead=[record])
    assert isinstance(out, dict | Filtered | Rejected)
    if isinstance(out, Rejected):
        assert out.reason and "\n" not in out.reason
