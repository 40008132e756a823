"""The aggregator's folding against the definition of each figure, in any split of the
records into batches, files and merged parts, and its memory: rows held grow with the
distinct facts of the connections, not with the records, files or sessions behind them."""

import io
import pickle
from collections import defaultdict

import pandas as pd
import pyarrow as pa
from conftest import address, flow, flows_table, pod
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.connections import (
    ASIDE_KEY,
    ASIDE_PORTS,
    CONNECTION_KEY,
    EXCLUSION_REASONS,
    SERVICE_KEY,
    StreamingAggregator,
    build_connections,
)

WEB = pod("shop", "web-7d4b9c8f6-abcde", {"app": "web"}, "10.0.0.1")
API = pod("shop", "api-0", {"app": "api"}, "10.0.0.3")
DB = pod("shop", "db-0", {"app": "db"}, "10.0.0.2")
WORLD = address("93.184.216.34")
ENDPOINTS = [WEB, API, DB, WORLD]

_record = st.fixed_dictionaries(
    {
        "src": st.sampled_from(ENDPOINTS),
        "dst": st.sampled_from(ENDPOINTS),
        "port": st.sampled_from([80, 5432]),
        "sport": st.sampled_from([40000, 40001, 40002, None]),
        "observer": st.sampled_from(["node-a", "node-b", "", None]),
        "seconds": st.sampled_from([0, 30, 3600, 3700, 90000]),
        "aggregated": st.booleans(),
        "flows": st.sampled_from([1, 3]),
        "is_reply": st.sampled_from([False, False, False, True, None]),
        "l7": st.sampled_from([None, None, None, "http"]),
        "service": st.sampled_from([None, None, ("shop", "db"), (None, "kubernetes")]),
        "file": st.sampled_from(["b.json", "a.json", "c.json"]),
        "line": st.integers(1, 40),
    }
)
records = st.lists(_record, min_size=1, max_size=40)


def rows_of(specs: list[dict]) -> list[dict]:
    """Flow rows (FLOW_SCHEMA dicts) for record specs."""
    out = []
    for s in specs:
        svc_ns, svc = s["service"] or (None, None)
        out.append(
            flow(
                s["src"],
                s["dst"],
                s["port"],
                sport=s["sport"],
                seconds=s["seconds"],
                observer=s["observer"],
                aggregated=s["aggregated"],
                flows=s["flows"],
                is_reply=s["is_reply"],
                l7_protocol=s["l7"],
                dst_service_namespace=svc_ns,
                dst_service_name=svc,
                source_file=s["file"],
                source_record=s["line"],
            )
        )
    return out


def _reason(row: dict) -> str | None:
    """Why a generated record is set aside (the generator varies only these), or None."""
    if row["is_reply"] is None:
        return "orientation"
    if row["is_reply"]:
        return "reply"
    if row["l7_protocol"] is not None:
        return "l7"
    if row["dst_service_name"] is not None and row["dst_kind"] not in ("pod", "node"):
        return "pre_dnat"
    return None


def _endpoint(row: dict, side: str) -> tuple:
    is_pod = row[f"{side}_kind"] == "pod"
    return (
        row[f"{side}_kind"],
        row.get(f"{side}_namespace"),
        row.get(f"{side}_pod") if is_pod else None,
        None if is_pod else row.get(f"{side}_ip"),
        row.get(f"{side}_reserved"),
    )


def expected(rows: list[dict]) -> dict:
    """Each figure by its definition, record by record."""
    conns: dict = defaultdict(lambda: defaultdict(list))
    aside: dict = defaultdict(lambda: defaultdict(list))
    services, excluded = set(), defaultdict(int)
    for r in rows:
        ends = (*_endpoint(r, "src"), *_endpoint(r, "dst"))
        example = (r["source_file"], r["source_record"])
        reason = _reason(r)
        if reason is not None:
            excluded[EXCLUSION_REASONS[reason]] += 1
            kept = ASIDE_PORTS[reason]
            key = (
                *ends,
                r["protocol"],
                r["src_port"] if kept & 1 else None,
                r["dst_port"] if kept & 2 else None,
                *(
                    (r["dst_service_namespace"], r["dst_service_name"])
                    if reason == "pre_dnat"
                    else (None, None)
                ),
                reason,
            )
            a = aside[key]
            a["times"].append((r["time_start"], r["time_end"]))
            a["examples"].append(example)
            continue
        key = (*ends, r["protocol"], r["dst_port"])
        c = conns[key]
        c["times"].append((r["time_start"], r["time_end"]))
        c["examples"].append(example)
        if r["aggregated"]:
            c["aggr"].append(r["flows"])
        else:
            c["ports"].append(-1 if r["src_port"] is None else r["src_port"])
        if r["observer"]:
            c["observers"].append(r["observer"])
        c["hours"].append(int(r["time_start"].timestamp()) // 3600)
        if r["dst_service_name"] is not None:
            services.add((*key, r["dst_service_namespace"], r["dst_service_name"]))
    table = {
        key: {
            "records": len(c["times"]),
            "flows": len(set(c["ports"])) + sum(c["aggr"]),
            "first_seen": min(t for t, _ in c["times"]),
            "last_seen": max(t for _, t in c["times"]),
            "observers": len(set(c["observers"])),
            "active_hours": tuple(sorted(set(c["hours"]))),
            "example": min(c["examples"]),
        }
        for key, c in conns.items()
    }
    folded = {
        key: {
            "records": len(a["times"]),
            "first_seen": min(t for t, _ in a["times"]),
            "last_seen": max(t for _, t in a["times"]),
            "example": min(a["examples"]),
        }
        for key, a in aside.items()
    }
    return {"table": table, "aside": folded, "services": services, "excluded": dict(excluded)}


def _plain(v):
    return None if v is None or (isinstance(v, float) and v != v) else v


def observed(result) -> dict:
    """A ConnectionSet in the shape of :func:`expected`."""
    table = {}
    for r in result.table.to_dict("records"):
        table[tuple(_plain(r[c]) for c in CONNECTION_KEY)] = {
            "records": r["records"],
            "flows": r["flows"],
            "first_seen": r["first_seen"],
            "last_seen": r["last_seen"],
            "observers": r["observers"],
            "active_hours": tuple(int(h) for h in r["active_hours"]),
            "example": (r["example_file"], r["example_line"]),
        }
    aside = {}
    for r in result.aside.to_dict("records"):
        key = tuple(_plain(r[c]) for c in ASIDE_KEY)
        key = tuple(int(v) if isinstance(v, float) else v for v in key)
        assert key not in aside
        aside[key] = {
            "records": r["records"],
            "first_seen": r["first_seen"],
            "last_seen": r["last_seen"],
            "example": (r["example_file"], r["example_line"]),
        }
    services = {
        tuple(_plain(r[c]) for c in SERVICE_KEY) for r in result.services.to_dict("records")
    }
    assert len(services) == len(result.services)
    return {"table": table, "aside": aside, "services": services, "excluded": dict(result.excluded)}


@settings(max_examples=80, deadline=None)
@given(records)
def test_every_figure_is_its_definition(specs):
    rows = rows_of(specs)
    result = build_connections(flows_table([dict(r) for r in rows]))
    assert observed(result) == expected(rows)
    assert result.records_used == sum(_reason(r) is None for r in rows)


def _through_a_worker(agg: StreamingAggregator) -> StreamingAggregator:
    """What the parallel path does with a worker's aggregator: its partial table written
    to an Arrow stream, the rest pickled, the table set back."""
    table = agg.partial_table()
    sink = io.BytesIO()
    if table is not None:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    agg.set_partial_table(None)
    back = pickle.loads(pickle.dumps(agg))
    if table is not None:
        back.set_partial_table(pa.ipc.open_stream(sink.getvalue()).read_all())
    return back


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns), na_position="first", ignore_index=True)


def assert_same(got, want) -> None:
    """The same sets: the connection table row for row (it is sorted), the set-aside rows
    and Services as sets (their order is Arrow's grouping order, which the at-risk check
    does not depend on: it sorts its report)."""
    pd.testing.assert_frame_equal(got.table, want.table)
    for x, y in ((got.aside, want.aside), (got.services, want.services)):
        pd.testing.assert_frame_equal(_sorted(x), _sorted(y))
    assert got.excluded == want.excluded and got.records_used == want.records_used


@settings(max_examples=60, deadline=None)
@given(
    records,
    st.lists(st.integers(0, 40), max_size=6),
    st.lists(st.integers(0, 40), max_size=4),
    st.sampled_from([1, 4, 50_000]),
)
def test_any_split_into_batches_and_merged_parts_gives_the_same_set(specs, cuts, parts, fold_at):
    """Batches, parts aggregated apart (through a worker's round trip or not) and merged
    in order, and folding as often as every row: the same sets."""
    table = flows_table(rows_of(specs))
    want = build_connections(table)
    n = table.num_rows
    bounds = sorted({0, n, *(c % (n + 1) for c in cuts)})
    part_bounds = sorted({0, n, *(p % (n + 1) for p in parts)})
    merged = StreamingAggregator(fold_at)
    for i, (a, b) in enumerate(zip(part_bounds, part_bounds[1:], strict=False)):
        agg = StreamingAggregator(fold_at)
        for lo, hi in zip(bounds, bounds[1:], strict=False):
            lo, hi = max(lo, a), min(hi, b)
            if lo < hi:
                agg.add(table.slice(lo, hi - lo))
        merged.merge(_through_a_worker(agg) if i % 2 else agg)
    assert_same(merged.connections(), want)


def test_a_range_of_a_file_numbers_its_lines_from_its_start_until_shifted():
    specs = [{**s, "line": i} for i, s in enumerate(_fixed_specs(), 1)]
    rows = rows_of(specs)
    want = build_connections(flows_table([dict(r) for r in rows]))
    head, tail = rows[:7], [dict(r, source_record=r["source_record"] - 7) for r in rows[7:]]
    first, second = StreamingAggregator(), StreamingAggregator()
    first.add(flows_table(head))
    second.add(flows_table(tail))
    second.shift_lines(7)
    first.merge(second)
    assert_same(first.connections(), want)
    assert set(want.table.example_line) - set(range(1, 8))  # some examples in the tail


def _fixed_specs() -> list[dict]:
    base = {
        "port": 5432,
        "observer": "node-a",
        "aggregated": False,
        "flows": 1,
        "is_reply": False,
        "l7": None,
        "service": None,
        "file": "a.json",
        "line": 1,
    }
    out = []
    for i in range(14):
        src, dst = (WEB, DB) if i < 7 else (API, DB)
        out.append({**base, "src": src, "dst": dst, "sport": 40000 + i % 3, "seconds": i * 600})
    out[3]["is_reply"] = None  # set aside: ports kept
    return out


def test_the_same_records_again_under_other_files_add_no_rows():
    """Five copies of a capture under other file names (what --gb 5 measures): the rows
    held stay those of one copy; their examples stay in the first file by name."""
    specs = [
        {
            "src": src,
            "dst": DB,
            "port": 5432,
            "sport": 40000 + i,
            "observer": observer,
            "seconds": hour * 3600 + i,
            "aggregated": False,
            "flows": 1,
            "is_reply": reply,
            "l7": None,
            "service": ("shop", "db"),
            "file": "x",
            "line": i + 1,
        }
        for i in range(30)
        for src in (WEB, API)
        for observer in ("node-a", "node-b")
        for hour in (0, 1, 2)
        for reply in (False, None)
    ]
    agg = StreamingAggregator(fold_at=1)
    held = []
    for copy in ("c.json", "b.json", "e.json", "a.json", "d.json"):
        agg.add(flows_table(rows_of([{**s, "file": copy} for s in specs])))
        held.append(agg.rows_held())
    assert held == [held[0]] * 5
    facts, aside = held[0]
    # per connection: its figures, 30 client ports, 3 hours, 2 observers, 1 Service
    assert facts == 2 * (1 + 30 + 3 + 2 + 1)
    assert aside == 2 * 30  # records of unknown direction keep both ports
    result = agg.connections()
    assert set(result.table.example_file) == {"a.json"}
    assert set(result.table.records) == {30 * 2 * 3 * 5}
