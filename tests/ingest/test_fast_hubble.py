"""The fast Hubble path and parallel ingest give exactly the reference results.

The reference is the one-process reader with the fast path off (``_batches(..., fast=False)``:
``json`` + ``hubble.Parser``). Compared: every row (``to_pylist``), the accounting and the
rejection examples (file, line, reason, detail), on the real samples, on simulator output and
on files with hostile lines mixed in, in one process and with worker processes.
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import recommender.ingest as ingest
from recommender.accounting import RecordCounts
from recommender.connections import StreamingAggregator
from recommender.ingest import (
    InputError,
    fast_hubble,
    input_size,
    iter_flow_batches,
    parallel,
    plan,
    sources,
    write_parquet,
)
from recommender.ingest.values import parse_time
from recommender.schema import FLOW_SCHEMA
from recommender.sim import shop_cluster, write_hubble

from .samples import PRODUCTPAGE_LABELS, hubble_record

ROOT = Path(__file__).resolve().parents[2]
REAL = (ROOT / ".." / "shared" / "real-flows" / "hubble").resolve()
needs_real = pytest.mark.real_samples  # shared/ lies beside every checkout; absent = failure

BASE = hubble_record(PRODUCTPAGE_LABELS, Summary="TCP Flags: SYN")


def rec(**flow) -> dict:
    """BASE with flow keys replaced (a value of ... deletes the key)."""
    r = copy.deepcopy(BASE)
    for k, v in flow.items():
        if v is ...:
            r["flow"].pop(k, None)
        else:
            r["flow"][k] = v
    return r


def line(value) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value).encode()


#: Lines the fast path must hand to the reference parser, or mirror exactly.
TRICKY: list = [
    b'{"flow": {"time": ',  # truncated
    b"\x00\xff\xfe binary",
    line(BASE).replace(b'"TCP Flags: SYN"', b'"\xff\xfe"'),  # bad UTF-8 in a skipped field
    line(BASE).replace(b'"TCP Flags: SYN"', b'"caf\xc3\xa9"'),  # good UTF-8 there
    line(BASE).replace(b'"TCP Flags: SYN"', b"1" + b"0" * 5000),  # int too long for json
    line(BASE).replace(b'"TCP Flags: SYN"', b"[" * 1500 + b"]" * 1500),  # too deep for json
    line(BASE).replace(b'"TCP Flags: SYN"', b"NaN"),  # json reads it, msgspec does not
    line(BASE).replace(b'"TCP Flags: SYN"', b'"\\udc80"'),  # lone surrogate
    line(BASE).replace(b'"flow"', b'"fl\\u006fw"'),  # escaped key
    line(BASE)[:-1] + b', "flow": {"verdict": "DROPPED"}}',  # duplicate key: the last wins
    line(BASE).replace(b'"verdict": "FORWARDED"', b'"verdict": "FORWARDED", "verdict": 2'),
    b"   " + line(BASE),  # leading blanks
    b"\xef\xbb\xbf" + line(BASE),  # a BOM that is not on line 1
    line(BASE).replace(b'"is_reply": false', b'"is_reply": null'),
    rec(l4={"TCP": {"source_port": 1.0, "destination_port": 80}}),
    rec(l4={"TCP": {"source_port": True, "destination_port": 80}}),
    rec(l4={"TCP": {"source_port": 70000, "destination_port": 80}}),
    rec(l4={"TCP": None}),
    rec(l4={"TCP": {"destination_port": 80, "flags": {"SYN": 1}}}),
    rec(l4={"TCP": {"destination_port": 80, "flags": {}}}),
    rec(l4={"TCP": {"destination_port": 80, "flags": None}}),
    rec(l4={"TCP": {"destination_port": 80, "flags": [True]}}),
    rec(l4={"UDP": {"destination_port": 53, "flags": {"X": 5}}}),
    rec(l4={"UDP": {"destination_port": 53, "flags": "x"}}),
    rec(l4={"ICMPv4": {"type": 300}}),
    rec(l4={"ICMPv6": {}}),
    rec(l4={"IGMP": {}}, is_reply=True),
    rec(l4={"VRRP": 5}),
    rec(l4={"UDP": {"destination_port": 53}, "TCP": {"destination_port": 80}}),  # TCP wins
    rec(l4={"ICMPv6": {"type": 128}, "SCTP": {"destination_port": 9}}),  # SCTP wins
    rec(l4={"Other": {}}),
    rec(l4=[]),
    rec(source=None),
    rec(source={"ID": None, "namespace": "ns", "pod_name": "p"}),
    rec(source={"labels": "k8s:app=x"}),
    rec(destination={"identity": 2}),
    rec(destination={"namespace": "../etc", "pod_name": "p"}),
    rec(time="2021-11-10T12:40:56.1+02:00"),
    rec(time="2021-11-10t10:40:56Z"),
    rec(time="2021-11-10T10:40:56.123456Z"),
    rec(time="2021-11-10T10:40:56.123456789123Z"),
    rec(time="2021-11-10T10:40:56.Z"),
    rec(time="2016-12-31T23:59:60.5Z"),
    rec(time="2021-11-10T24:00:00Z"),
    rec(time="2021-02-30T10:40:56.465597700Z"),
    rec(time="2021-11-10T10:40:56.46559770٣Z"),  # a non-ASCII digit
    rec(time="9999-11-10T10:40:56.465597700Z"),
    rec(time=...),
    rec(time=None),
    rec(verdict=2),
    rec(verdict=99),
    rec(verdict="SOMETHING_NEW"),
    rec(verdict="bad token!"),
    rec(verdict=...),
    rec(node_name="cluster-a/worker-1"),
    rec(node_name="Bad Node"),
    rec(node_name=...),
    rec(Type="SOCK"),
    rec(Type="L7", l7={"type": "REQUEST", "dns": {"query": "db.shop.svc."}}),
    rec(l7={"http": {"code": 200}}),
    rec(l7={"dns": None}),
    rec(l7={"dns": {"query": "bad name!"}}),
    rec(Type="L7", l7={"type": "RESPONSE", "dns": {"query": "a.b.", "ips": ["1.2.3.4"]}}),
    rec(Type="L7", l7={"dns": {"query": "a.b.", "ips": ["1.2.3.4", "::1", "1.2.3.4"]}}),
    rec(Type="L7", l7={"dns": {"query": "a.b.", "ips": ["1.2.3.999"]}}),
    rec(Type="L7", l7={"dns": {"query": "a.b.", "ips": "1.2.3.4"}}),
    rec(IP=...),
    rec(IP={"source": "10.0.0.1", "destination": "fd00::1"}),
    rec(IP={"source": "2001:DB8::1", "destination": "fd00::0a", "source_xlated": "fd00::5"}),
    rec(IP={"source": "10.0.0.1", "destination": "10.0.0.2", "source_xlated": "x"}),
    rec(traffic_direction="INGRESS", is_reply=True),
    rec(traffic_direction=..., is_reply=..., trace_reason="NEW"),
    rec(is_reply=..., reply=True),
    rec(is_reply=..., l4={"TCP": {"flags": {"SYN": True, "ACK": True}}}),
    rec(event_type={"sub_type": -1}),
    rec(event_type={"type": 4, "sub_type": -1}),
    rec(event_type={"type": -1}),
    rec(event_type={"type": 2**32, "sub_type": 1}),
    rec(event_type={}),
    rec(interface={}),
    rec(interface={"index": 3}),
    rec(interface={"name": "bad name"}),
    rec(destination_service={"name": "reviews", "namespace": "bookinfo"}),
    rec(destination_service={"name": "Bad"}),
    rec(destination_names=["a.example.com", ""], source_names=None),
    rec(destination_names="x"),
    rec(egress_allowed_by=[{"name": "allow-dns", "namespace": "kube-system"}]),
    rec(ingress_denied_by=[{"name": "Bad Name"}]),
    rec(aggregate={"ingress_flow_count": 3, "egress_flow_count": 2}),
    rec(aggregate={"ingress_flow_count": -1}),
    rec(aggregate=None),
    rec(aggregate={}),
    {"node_status": {"state_change": "NODE_CONNECTED"}, "node_name": "n"},
    {"lost_events": {"num_events_lost": 3}},
    {"something_else": 1, "time": "x"},
    BASE["flow"],  # a bare (legacy -o json) flow
    [1, 2, 3],
    "a string",
]


def write(path: Path, records, *, newline_last: bool = True) -> Path:
    data = b"\n".join(line(r) for r in records)
    path.write_bytes(data + (b"\n" if newline_last else b""))
    return path


def reference(paths, **kw) -> tuple[list[dict], RecordCounts]:
    counts = RecordCounts()
    files = sources.expand_inputs(paths)
    batches = list(ingest.local_batches(files, kw.get("format"), counts, None, 50_000, fast=False))
    return pa.Table.from_batches(batches, schema=FLOW_SCHEMA).to_pylist(), counts


def fast(paths, **kw) -> tuple[list[dict], RecordCounts]:
    counts = RecordCounts()
    batches = list(iter_flow_batches(paths, counts=counts, **kw))
    assert all(b.schema.equals(FLOW_SCHEMA, check_metadata=True) for b in batches)
    return pa.Table.from_batches(batches, schema=FLOW_SCHEMA).to_pylist(), counts


def assert_same(paths, **kw) -> RecordCounts:
    ref_rows, ref_counts = reference(paths, format=kw.get("format"))
    rows, counts = fast(paths, **kw)
    assert counts == ref_counts
    assert counts.balanced()
    assert len(rows) == len(ref_rows)
    for got, want in zip(rows, ref_rows, strict=True):
        assert got == want
    return counts


@pytest.fixture(scope="module")
def simulated() -> Path:
    with tempfile.TemporaryDirectory() as d:
        write_hubble(shop_cluster(hours=1), Path(d), gzip=False)
        yield Path(d)


# --------------------------------------------------------------------------- one process


def test_fast_path_is_on():
    # msgspec is installed and the fast path knows every FLOW_SCHEMA column (a new column
    # turns it off until fast_hubble fills it like the reference parser does).
    assert fast_hubble.AVAILABLE and fast_hubble.SCHEMA_KNOWN


@needs_real
def test_real_samples_fast_equals_reference():
    for path in sorted(REAL.iterdir()):
        assert fast_hubble.probe(str(path), None, ingest.LOOKAHEAD) is not None
        assert_same([path], workers=1)


def test_simulator_fast_equals_reference(simulated):
    counts = assert_same([simulated], workers=1)
    assert counts.normalized > 1000 and counts.filtered_total > 0
    # the capture has DNS answers and destination names, so both paths agree on them too
    rows, _ = fast([simulated], workers=1)
    assert any(r["dns_ips"] for r in rows) and any(r["dst_names"] for r in rows)


def test_hostile_lines_fast_equals_reference(tmp_path, simulated):
    sim = (simulated / sorted(os.listdir(simulated))[0]).read_bytes().splitlines()[:200]
    mixed = []
    for i, bad in enumerate(TRICKY):
        mixed += [sim[i], bad, b"", b"  \t"]
    p = write(tmp_path / "mixed.json", [BASE, *mixed, line(BASE)[:-5]], newline_last=False)
    counts = assert_same([p], workers=1)
    assert counts.rejected_total > 20 and counts.filtered_total >= 4
    # Every tricky line really took the reference path or matched it: also as line 1.
    for i, bad in enumerate(TRICKY):
        assert_same([write(tmp_path / f"t{i}.json", [bad, BASE])], format="hubble", workers=1)


def test_bom_crlf_and_legacy_reply_rule(tmp_path):
    legacy = rec(is_reply=..., l4={"TCP": {"flags": {"ACK": True}}})
    p = tmp_path / "legacy.json"
    p.write_bytes(b"\xef\xbb\xbf" + line(legacy) + b"\r\n" + line(legacy) + b"\r\n")
    assert fast_hubble.probe(str(p), None, ingest.LOOKAHEAD).legacy
    rows = assert_same([p], workers=1)
    assert rows.normalized == 2
    escaped = line(BASE).replace(b'"is_reply"', b'"is_\\u0072eply"')  # still an is_reply key
    p = write(tmp_path / "escaped.json", [legacy, escaped])
    assert not fast_hubble.probe(str(p), None, ingest.LOOKAHEAD).legacy
    assert_same([p], workers=1)


def test_files_the_fast_path_leaves_alone(tmp_path):
    array = tmp_path / "array.json"
    array.write_text(json.dumps([BASE, BASE]))
    text = tmp_path / "text.log"
    text.write_text("not json\n" * 3)
    calico = tmp_path / "calico.json"
    calico.write_text(json.dumps({"flow": 1, "source_namespace": "a"}) + "\n")
    for p in (array, text):
        assert fast_hubble.probe(str(p), None, ingest.LOOKAHEAD) is None
    assert_same([array], workers=1)
    assert_same([text], format="hubble", workers=1)


def test_time_fast_path_matches_parse_time():
    parser = fast_hubble._TimeParser()
    for t in [
        "2021-11-10T10:40:56.465597700Z",
        "2021-11-10T10:40:56.465597701Z",  # same second, cached
        "2021-11-10T10:40:56,465597701Z",
        "2021-11-10T10:40:56x465597701Z",
        "2021-11-10T10:40:56.46559770xZ",
        "2021-11-10T10:40:56.465597701z",
        "2021-11-10T10:40:56Z",
        "2021-11-10T10:40:56.1Z",
        "2021-11-10T10:40:56.Z",
        "2021-11-10T10:40:5.1234567Z",
        "2021-11-10T10:40:56.1234567891Z",
        "2016-12-31T23:59:60.999999999Z",
        "2021-11-10T23:60:00Z",
        "2021-13-10T10:40:56Z",
        "2262-04-11T23:47:16.854775807Z",
        "2262-04-11T23:47:16.854775808Z",
        "1677-09-21T00:12:43.145224192Z",
        "1677-09-21T00:12:43.145224191Z",
        "2021-11-10T10:40:56.４65597700Z",
        "2021-11-10X10:40:56.465597700Z",
        # Minutes filled from the cache of their hour, including its edges.
        "2021-11-10T10:00:00.5Z",
        "2021-11-10T10:59:59.5Z",
        "2021-11-10T10:5:59.5Z",
        "2021-11-10T10:5a:59.5Z",
        "2021-11-10T11:00:00.000000001Z",
        "2262-04-11T23:46:59.5Z",
        "2262-04-11T23:48:00.5Z",
        "1677-09-21T00:13:00.5Z",
        "1677-09-21T00:11:00.5Z",
    ]:
        assert parser(t) == parse_time(t), t
    assert len(parser.hours) < len(parser.minutes)


# --------------------------------------------------------------------------- ranges


def test_ranges_give_the_whole_file_lines(tmp_path, monkeypatch, simulated):
    """Tasks over line-aligned ranges (run here) == one whole-file read, even with tiny
    chunks and an over-long line straddling range and chunk boundaries."""
    monkeypatch.setattr(sources, "CHUNK", 4096)
    monkeypatch.setattr(sources, "MAX_LINE", 6000)
    monkeypatch.setattr(parallel, "RANGE_BYTES", 20_000)
    sim = (simulated / sorted(os.listdir(simulated))[0]).read_bytes().splitlines()[:150]
    long = line(BASE).replace(b'"TCP Flags: SYN"', b'"' + b"x" * 9000 + b'"')
    records = [*sim[:50], long, *TRICKY[:10], *sim[50:], long, b"", long]
    p = write(tmp_path / "r.json", records, newline_last=False)
    ref_rows, ref_counts = reference([p])
    plan = fast_hubble.probe(str(p), None, ingest.LOOKAHEAD)
    size = p.stat().st_size
    whole = parallel._ranges(str(p), size)
    assert len(whole) > 5
    # The last ``tail`` bytes in quarter ranges: still contiguous and line-aligned.
    data = p.read_bytes()
    for tail in (size // 2, size, 10 * size):
        cut = parallel._ranges(str(p), size, tail)
        assert cut[0][0] == 0 and cut[-1][1] == size and len(cut) > len(whole)
        assert all(a[1] == b[0] for a, b in zip(cut, cut[1:], strict=False))
        assert all(data[start - 1 : start] == b"\n" for start, _ in cut[1:])
        small = [b - a for a, b in cut if a >= size - tail]
        assert sum(small) / len(small) < 0.6 * 20_000
    ranges = parallel._ranges(str(p), size, size // 2)  # the tasks below: both sizes
    rows: list[dict] = []
    counts = RecordCounts()
    counts.files = 1
    offset = 0
    for i, (start, end) in enumerate(ranges):
        spool = str(tmp_path / f"{i}.arrow")  # as a worker hands its batches over
        result = parallel._range_task(None, spool, str(p), start, end, plan.legacy, 7)
        for example in result.counts.examples:
            example.line += offset
        counts.merge(result.counts)
        for batch in result.read():
            batch = parallel.renumber(batch, offset)
            assert batch.num_rows <= 7
            rows += batch.to_pylist()
        assert not os.path.exists(spool)
        offset += result.lines
    parallel._PARSERS.clear()
    assert counts == ref_counts
    assert rows == ref_rows
    assert dict(counts.rejected)["line too long"] >= 3


# --------------------------------------------------------------------------- processes


def _every_task_kind(tmp_path: Path, monkeypatch, simulated: Path) -> Path:
    """Inputs that make every kind of task (ranges, gzip blocks, a whole small gzip,
    another format, Parquet, hostile lines)."""
    monkeypatch.setattr(parallel, "RANGE_BYTES", 150_000)
    monkeypatch.setattr(parallel, "GZIP_BLOCK_BYTES", 100_000)
    monkeypatch.setattr(parallel, "WHOLE_GZIP_BYTES", 10_000)
    sim = sorted(simulated.iterdir())
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.jsonl").write_bytes(b"\n".join(sim[1].read_bytes().splitlines()[:400]))
    lines = sim[0].read_bytes().splitlines()[:400]
    hostile = []
    for i, bad in enumerate(TRICKY):
        hostile += [lines[i], bad]
    write(d / "b.json", hostile + lines[len(TRICKY) :])
    gz = gzip.compress(b"\n".join(sim[2].read_bytes().splitlines()[:400]))
    (d / "c.json.gz").write_bytes(gz)  # larger than WHOLE_GZIP_BYTES: split here
    (d / "d.json.gz").write_bytes(gzip.compress(b"\n".join(lines[:100])))  # small: one task
    from recommender.sim import write_calico

    write_calico(shop_cluster(hours=0.2), d / "e")
    write_parquet(pa.Table.from_pylist(reference([sim[0]])[0][:50], schema=FLOW_SCHEMA), d / "f.pq")
    return d


def test_workers_equal_one_process(tmp_path, monkeypatch, simulated):
    """One parallel read over every kind of task == the reference, in order, with the same
    accounting and progress; then an unreadable file raises in its turn."""
    d = _every_task_kind(tmp_path, monkeypatch, simulated)
    files = sources.expand_inputs([d])
    plan = list(
        parallel.plan_tasks(files, None, RecordCounts(), None, 50, parallel.Settings.current())
    )
    kinds = [(Path(t.path).name, t.call[0].__name__ if t.call else "here") for t in plan]
    assert kinds.count(("a.jsonl", "_range_task")) > 1  # a plain file in ranges
    assert kinds.count(("c.json.gz", "_lines_task")) > 1  # a large gzip in line blocks
    assert ("d.json.gz", "file_task") in kinds and ("f.pq", "here") in kinds
    seen: list[int] = []
    counts = RecordCounts()
    batches = list(iter_flow_batches([d], counts=counts, workers=2, progress=seen.append))
    ref_rows, ref_counts = reference([d])
    assert counts == ref_counts and counts.files == 8
    assert pa.Table.from_batches(batches, schema=FLOW_SCHEMA).to_pylist() == ref_rows
    assert sum(seen) == input_size([d])

    # An unsupported file: the batches before it come out, then InputError.
    (tmp_path / "z.json").write_text('{"alpha": 1}\n')
    got = 0
    with pytest.raises(InputError, match=r"z\.json: not a supported flow log format"):
        for batch in iter_flow_batches(
            [d / "a.jsonl", tmp_path / "z.json", d / "b.json"], counts=RecordCounts(), workers=2
        ):
            got += batch.num_rows
    assert got == sum(1 for x in reference([d / "a.jsonl"])[0])


def _aggregated(agg: StreamingAggregator):
    conns = agg.connections()
    return conns.table, agg.pods(), conns.excluded, conns.records_used


def assert_same_aside(got: StreamingAggregator, want: StreamingAggregator) -> None:
    """The set-aside records (what the at-risk check replays) and the Service table agree,
    example lines included."""
    a, b = got.connections(), want.connections()
    for x, y in ((a.aside, b.aside), (a.services, b.services)):
        key = list(x.columns)  # both hold sets of rows: compare them in one order
        x = x.sort_values(key, na_position="first", ignore_index=True)
        y = y.sort_values(key, na_position="first", ignore_index=True)
        pd.testing.assert_frame_equal(x, y)
    assert len(a.aside) > 0


def assert_same_aggregate(paths, **kw) -> None:
    """aggregate_inputs(workers=2) == the one-process batches streamed into an aggregator."""
    ref = StreamingAggregator()
    ref_counts = RecordCounts()
    for batch in iter_flow_batches(paths, counts=ref_counts, workers=1):
        ref.add(batch)
    counts = RecordCounts()
    seen: list[int] = []
    got = ingest.aggregate_inputs(paths, counts=counts, workers=2, progress=seen.append, **kw)
    assert counts == ref_counts
    assert sum(seen) == input_size(paths)
    want_conns, want_pods, want_excluded, want_used = _aggregated(ref)
    conns, pods, excluded, used = _aggregated(got)
    pd.testing.assert_frame_equal(conns, want_conns)
    pd.testing.assert_frame_equal(pods, want_pods)
    assert excluded == want_excluded and used == want_used
    assert len(conns) > 0 and len(pods) > 0
    assert_same_aside(got, ref)


def test_aggregate_in_workers_equals_one_process(tmp_path, monkeypatch, simulated):
    """Aggregating in the workers and merging the partial aggregates gives the connections,
    pods, exclusion counts and record accounting of one process, over every task kind."""
    d = _every_task_kind(tmp_path, monkeypatch, simulated)
    assert_same_aggregate([d])
    # Small tasks: many partial aggregates, pods seen by several tasks.
    monkeypatch.setattr(parallel, "RANGE_BYTES", 20_000)
    assert_same_aggregate([simulated])
    assert_same_aggregate([ROOT / "sample_flows"])
    if REAL.is_dir():
        assert_same_aggregate([REAL])


def test_auto_workers_and_bad_values(tmp_path):
    assert plan.auto_workers(0) == 1
    assert plan.auto_workers(plan.AUTO_MIN_BYTES) in (1, *range(2, 9))
    with pytest.raises(ValueError):
        iter_flow_batches([tmp_path], counts=RecordCounts(), workers=0)


# --------------------------------------------------------------------------- mutations


SEEDS = [BASE, rec(l7={"type": "REQUEST", "dns": {"query": "a.b."}}, Type="L7")]
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**65), max_value=2**65),
    st.floats(allow_nan=False),
    st.sampled_from(["", "SOCK", "FORWARDED", "10.0.0.1", "fd00::1", "a b", "\udc80", "x" * 70]),
    st.lists(st.sampled_from(["k8s:app=x", "reserved:world", 1]), max_size=3),
    st.dictionaries(st.sampled_from(["name", "type", "SYN", "x"]), st.booleans(), max_size=2),
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
def mutated(draw):
    r = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from([p for p in _paths(r) if p]))
        parent = r
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(VALUES)
    return r


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(), min_size=1, max_size=4))
def test_mutated_records_fast_equals_reference(records):
    with tempfile.TemporaryDirectory() as d:
        p = write(Path(d) / "m.json", [BASE, *records])
        assert_same([p], format="hubble", workers=1)


# --------------------------------------------------------------------------- folding


def assert_fold_same(paths) -> StreamingAggregator:
    """The folded one-process aggregate (aggregate_inputs, workers=1) == the FLOW_SCHEMA
    batches of the same files streamed into an aggregator, row by row."""
    ref = StreamingAggregator()
    ref_counts = RecordCounts()
    for batch in iter_flow_batches(paths, counts=ref_counts, workers=1):
        assert fast_hubble.FOLDED_COLUMNS[0] not in batch.schema.names
        ref.add(batch)
    counts = RecordCounts()
    got = ingest.aggregate_inputs(paths, counts=counts, workers=1)
    assert counts == ref_counts
    want_conns, want_pods, want_excluded, want_used = _aggregated(ref)
    conns, pods, excluded, used = _aggregated(got)
    pd.testing.assert_frame_equal(conns, want_conns)
    pd.testing.assert_frame_equal(pods, want_pods)
    assert excluded == want_excluded and used == want_used
    assert_same_aside(got, ref)
    assert got._row == ref._row == counts.normalized
    return got


def _at(t: str, **flow) -> dict:
    r = rec(time=t, **flow)
    r["time"] = t
    return r


def test_folded_batches_are_what_the_aggregator_counts(tmp_path, monkeypatch, simulated):
    """Folding (records the aggregator counts the same become one row) changes nothing the
    aggregator says: connections, pods with their latest labels, set-aside counts."""
    reply = {"l4": {"TCP": {"source_port": 9080, "destination_port": 35128}}, "is_reply": True}
    relabelled = copy.deepcopy(BASE["flow"]["source"])
    relabelled["labels"] = ["k8s:app=productpage-v2", *relabelled["labels"][1:]]
    times = [
        # Around an hour boundary, after and before 1970 (the aggregator's hours truncate
        # toward zero: 1969-12-31T23:00:00 is hour -1, a nanosecond later hour 0).
        "2021-11-10T10:59:59.999999999Z",
        "2021-11-10T11:00:00.000000001Z",
        "2021-11-10T11:00:00.5Z",
        "1969-12-31T23:00:00Z",
        "1969-12-31T23:00:00.000000001Z",
        "1969-12-31T23:00:59.5Z",
        "1969-12-31T22:59:59.9Z",
    ]
    records = []
    for i, t in enumerate(times):
        records += [_at(t), _at(t, **reply), _at(t, is_reply=...)]
        if i % 2:  # the same pod with other labels, at some of the times
            records.append(_at(t, source=relabelled))
    records += [
        _at("2021-11-10T12:00:00Z", aggregate={"ingress_flow_count": 3, "egress_flow_count": 2}),
        _at("2021-11-10T12:00:01Z", aggregate={"ingress_flow_count": 3, "egress_flow_count": 2}),
        _at("2021-11-10T12:00:02+00:00"),  # not the common time form: the reference's path
        _at("2021-11-10T12:00:03Z", verdict="DROPPED"),
        _at("2021-11-10T12:00:04Z", l4={"UDP": {"source_port": 5353, "destination_port": 53}}),
    ]
    # A minute before 1970 that two aggregator hours share: its first record (in the minute
    # cache after a record of another connection) and one on the hour itself.
    port = {"l4": {"TCP": {"source_port": 40001, "destination_port": 8080}}}
    records += [
        _at("1969-12-31T22:00:30.5Z", l4={"TCP": {"source_port": 40002, "destination_port": 81}}),
        _at("1969-12-31T22:00:00Z", **port),
        _at("1969-12-31T22:00:20.5Z", **port),
    ]
    # Equal times: the latest record speaks for its pod, even when its fold group began
    # before another one of the same pod.
    at = "2021-11-10T13:00:00.5Z"
    warm = {"l4": {"TCP": {"source_port": 40003, "destination_port": 82}}}  # minute cached
    records += [_at("2021-11-10T13:00:00.1Z", **warm), _at(at), _at(at, source=relabelled)]
    records.append(_at(at))
    p = write(tmp_path / "times.json", records)
    got = assert_fold_same([p])
    assert got.records_used > 0 and sum(got.excluded.values()) > 0
    # Every row of the simulator's hour, with hostile lines in between, and with emits and
    # cache resets forced often (folded rows hold cache ids until they are emitted).
    sim = (simulated / sorted(os.listdir(simulated))[0]).read_bytes().splitlines()[:400]
    mixed = []
    for i, bad in enumerate(TRICKY):
        mixed += [sim[i], bad, b""]
    m = write(tmp_path / "mixed.json", [*mixed, *sim[len(TRICKY) :]])
    assert_fold_same([m])
    assert_fold_same([simulated])
    monkeypatch.setattr(fast_hubble, "FOLD_LIMIT", 7)
    monkeypatch.setattr(fast_hubble, "CACHE_LIMIT", 5)
    assert_fold_same([m])
    assert_fold_same([p])
    assert_fold_same([simulated])


def test_folding_shrinks_what_reaches_arrow(simulated):
    """Records the aggregator counts the same become one row: replies fold across ports and
    time, requests by client port and minute."""
    path = str(simulated / sorted(os.listdir(simulated))[0])
    plan = fast_hubble.probe(path, None, ingest.LOOKAHEAD)
    counts = RecordCounts()
    batches = list(fast_hubble.iter_batches(plan, counts, fold=True))
    rows = sum(b.num_rows for b in batches)
    folded = sum(pa.compute.sum(b.column(fast_hubble.FOLDED_COLUMNS[0])).as_py() for b in batches)
    assert folded == counts.normalized > 500
    assert rows < folded / 2


# --------------------------------------------------------------------------- layouts, stdin


def _without(rows: list[dict], column: str) -> list[dict]:
    return [{k: v for k, v in row.items() if k != column} for row in rows]


def test_pretty_printed_hubble_equals_json_lines(tmp_path, simulated):
    """`hubble observe -o jsonpretty` (and `jq .`, and objects back to back) give the rows
    and the accounting of the same records as JSON lines; only the record numbers differ
    (the line each object starts on)."""
    sim = (simulated / sorted(os.listdir(simulated))[0]).read_bytes().splitlines()[:300]
    objects = [json.loads(x) for x in sim] + [r for r in TRICKY if isinstance(r, dict)]
    lines = write(tmp_path / "lines.json", objects)
    pretty = tmp_path / "pretty.json"
    starts, text, at = [], "", 1
    for obj in objects:
        starts.append(at)
        piece = json.dumps(obj, indent=2) + "\n"
        text += piece
        at += piece.count("\n")
    pretty.write_text(text)
    glued = tmp_path / "glued.json"
    glued.write_text("".join(json.dumps(obj) for obj in objects))
    assert fast_hubble.probe(str(pretty), None, ingest.LOOKAHEAD) is None  # the reference path
    want_rows, want = fast([lines], workers=1)
    assert want.normalized > 250 and want.rejected_total > 10 and want.filtered_total > 2
    for path, numbers in ((pretty, starts), (glued, [1] * len(objects))):
        rows, counts = fast([path], workers=1)
        assert _without(rows, "source_file") == [
            {**row, "source_record": numbers[row["source_record"] - 1]}
            for row in _without(want_rows, "source_file")
        ]
        assert (counts.read, counts.normalized, counts.rejected, counts.filtered) == (
            want.read,
            want.normalized,
            want.rejected,
            want.filtered,
        )
        assert [(e.line, e.reason, e.detail) for e in counts.examples] == [
            (numbers[e.line - 1], e.reason, e.detail) for e in want.examples
        ]


def _as_stdin(rows: list[dict], path: Path) -> list[dict]:
    return [
        {**row, "source_file": sources.STDIN} if row["source_file"] == str(path) else row
        for row in rows
    ]


@pytest.mark.parametrize("compress", [False, True])
def test_standard_input_takes_the_fast_path_and_equals_the_file(
    tmp_path, monkeypatch, simulated, compress
):
    from .stdin import pipe_stdin

    first, second = sorted(simulated.iterdir())[:2]
    data = first.read_bytes()
    if compress:
        first = tmp_path / "first.json.gz"
        first.write_bytes(gzip.compress(data))
        data = first.read_bytes()
    pipe_stdin(monkeypatch, data)
    plan = fast_hubble.probe(sources.STDIN, None, ingest.LOOKAHEAD)
    assert plan is not None and plan.path == sources.STDIN and plan.gzip == compress
    sources.close_stdin()

    want_rows, want = fast([second, first], workers=1)
    for workers in (1, 2):
        pipe_stdin(monkeypatch, data)
        rows, counts = fast([second, "-"], workers=workers)
        assert rows == _as_stdin(want_rows, first)
        assert counts == want and counts.files == 2 and counts.normalized > 1000


def test_aggregate_in_workers_reads_standard_input_here(tmp_path, monkeypatch, simulated):
    from .stdin import pipe_stdin

    first, second = sorted(simulated.iterdir())[:2]
    want = ingest.aggregate_inputs([second, first], counts=RecordCounts(), workers=1)
    pipe_stdin(monkeypatch, first.read_bytes())
    counts = RecordCounts()
    got = ingest.aggregate_inputs([second, "-"], counts=counts, workers=2)
    want_conns, want_pods, want_excluded, want_used = _aggregated(want)
    conns, pods, excluded, used = _aggregated(got)
    # (which file gives a connection seen in both its example depends on their names)
    examples = ["example_file", "example_line"]
    pd.testing.assert_frame_equal(conns.drop(columns=examples), want_conns.drop(columns=examples))
    assert sources.STDIN in set(conns["example_file"])
    pd.testing.assert_frame_equal(pods, want_pods)
    assert excluded == want_excluded and used == want_used and counts.files == 2
