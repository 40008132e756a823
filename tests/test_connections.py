from itertools import product

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from conftest import address, flow, flows_table, pod

from recommender.connections import (
    CLASS_REASONS,
    EXCLUSION_REASONS,
    FOLDED_RANK_ROW,
    FOLDED_RECORDS,
    FOLDED_TIME_LAST,
    StreamingAggregator,
    _reason_masks,
    build_connections,
    excluded_by_class,
    observed_pods,
)

WEB = pod("shop", "web-7d4b9c8f6-abcde", {"app": "web"}, "10.0.0.1")
DB = pod("shop", "db-0", {"app": "db"}, "10.0.0.2")
WORLD = address("93.184.216.34")


def test_one_five_tuple_at_many_observation_points_is_one_flow():
    rows = [
        flow(WEB, DB, 5432, sport=41000, observer="node-a", extra=[("observation_point", p)])
        for p in ("FROM_ENDPOINT", "TO_STACK", "TO_OVERLAY")
    ]
    rows.append(flow(WEB, DB, 5432, sport=41000, observer="node-b", seconds=0.01))
    rows.append(flow(WEB, DB, 5432, sport=41001, observer="node-b", seconds=5))
    conns = build_connections(flows_table(rows)).table
    assert len(conns) == 1
    row = conns.iloc[0]
    assert (row.flows, row.records, row.observers) == (2, 5, 2)
    assert row.port == 5432 and row.src_pod == WEB["pod"] and row.dst_pod == DB["pod"]
    assert row.last_seen > row.first_seen


def test_replies_unknown_orientation_l7_icmp_denied_never_become_connections():
    rows = [
        flow(WEB, DB, 5432),
        # reply: server port as source, ephemeral destination port
        flow(DB, WEB, 41000, sport=5432, is_reply=True),
        flow(DB, WEB, 41000, sport=5432, is_reply=None),
        flow(WEB, DB, 5432, l7_protocol="http"),
        flow(WEB, DB, 0, protocol="ICMP", sport=None),
        flow(WEB, DB, 5432, verdict="denied"),
        flow(WEB, WORLD | {"ip": "10.96.0.10"}, 80, dst_service_name="db"),
    ]
    result = build_connections(flows_table(rows))
    assert len(result.table) == 1
    assert result.table.iloc[0].port == 5432
    assert result.records_used == 1
    assert dict(result.excluded) == {
        EXCLUSION_REASONS[k]: 1
        for k in ("reply", "orientation", "l7", "icmp", "denied", "pre_dnat")
    }


def test_external_peers_are_identified_by_address_and_pods_by_name():
    moved = dict(WEB, ip="10.0.9.9")
    rows = [flow(WORLD, WEB, 443, sport=50000), flow(WORLD, moved, 443, sport=50001)]
    conns = build_connections(flows_table(rows)).table
    assert len(conns) == 1
    assert conns.iloc[0].src_ip == "93.184.216.34" and conns.iloc[0].dst_ip is None
    assert conns.iloc[0].flows == 2


def test_observed_pods_take_labels_from_either_side_including_replies():
    late = dict(DB, labels={"app": "db", "role": "primary"})
    rows = [flow(WEB, DB, 5432), flow(late, WEB, 41000, sport=5432, is_reply=True, seconds=9)]
    pods = observed_pods(flows_table(rows)).set_index("pod")
    assert pods.loc["db-0", "labels"] == {"app": "db", "role": "primary"}
    assert pods.loc[WEB["pod"], "labels"] == {"app": "web"}
    assert pods.loc["db-0", "ips"] == ("10.0.0.2",)
    assert set(pods.index) == {"db-0", WEB["pod"]}


def test_an_end_without_identity_is_set_aside_not_dropped():
    nameless = {"kind": "cluster_unknown", "ip": None, "labels": None}
    result = build_connections(flows_table([flow(nameless, DB, 5432), flow(WEB, DB, 5432)]))
    assert len(result.table) == 1
    assert result.excluded == {EXCLUSION_REASONS["no_identity"]: 1}


def test_excluded_by_class_is_the_scalar_form_of_the_first_masks():
    """A fast parser folds records set aside by their meta columns alone across ports and
    time: the scalar test must agree with the aggregator's masks on every combination."""
    combos = list(
        product(
            (True, False, None),
            (None, "http", "dns"),
            ("allowed", "audit", "redirected", "unknown", "denied", "error", None),
            ("TCP", "UDP", "SCTP", "ICMP", "ICMPv6", "OTHER", None),
        )
    )
    rows = [
        flow(WEB, DB, 5432, is_reply=r, l7_protocol=l7, verdict=v, protocol=p)
        for r, l7, v, p in combos
    ]
    masks = _reason_masks(flows_table(rows))
    hits = [[m[i].as_py() for _, m in masks] for i in range(len(rows))]
    keys = [key for key, _ in masks]
    assert keys[: len(CLASS_REASONS)] == list(CLASS_REASONS)
    for combo, hit in zip(combos, hits, strict=True):
        first = keys[hit.index(True)] if True in hit else None
        assert excluded_by_class(*combo) == (first in CLASS_REASONS), combo
    assert any(excluded_by_class(*c) for c in combos)
    assert not all(excluded_by_class(*c) for c in combos)


def _folded(rows: list[dict], groups: list[list[int]]) -> pa.Table:
    """FLOW_SCHEMA rows folded by hand: each group of row indexes becomes its first row,
    with the earliest start, the latest end, the record count and the latest record's rank
    (latest time, then latest row)."""
    out = []
    for members in groups:
        first = dict(rows[members[0]])
        times = [rows[i]["time_start"] for i in members]
        latest = max(members, key=lambda i: (rows[i]["time_start"], i))
        first["time_start"], first["time_end"] = min(times), max(times)
        first[FOLDED_RECORDS] = len(members)
        first[FOLDED_RANK_ROW] = latest
        first[FOLDED_TIME_LAST] = max(times)
        out.append(first)
    table = flows_table([{k: v for k, v in r.items() if not k.startswith("folded")} for r in out])
    for name, typ in (
        (FOLDED_RECORDS, pa.int64()),
        (FOLDED_RANK_ROW, pa.int64()),
        (FOLDED_TIME_LAST, table.schema.field("time_start").type),
    ):
        table = table.append_column(name, pa.array([r[name] for r in out], typ))
    assert pc.sum(table[FOLDED_RECORDS]).as_py() == len(rows)
    return table


def test_a_folded_batch_counts_as_its_records():
    """A folded row stands for its records: the same connections (records, flows, times,
    hours), pods (spans, IPs, the latest labels) and set-aside counts as one row each."""
    web2 = WEB | {"labels": {"app": "web", "version": "2"}}
    rows = [
        flow(WEB, DB, 5432, sport=41000, seconds=0),
        flow(WEB, DB, 5432, sport=41000, seconds=30),
        flow(web2, DB, 5432, sport=41000, seconds=30),  # same time: the later row speaks
        flow(WEB, DB, 5432, sport=41000, seconds=30),
        flow(WEB, DB, 5432, sport=41001, seconds=3700, flows=4, aggregated=True),
        flow(WEB, DB, 5432, sport=41001, seconds=3701, flows=4, aggregated=True),
        flow(DB, WEB, 41000, sport=5432, is_reply=True, seconds=1),
        flow(DB, WEB, 41001, sport=5432, is_reply=True, seconds=7200),
        flow(WEB, WORLD, 443, sport=50000, verdict="denied", seconds=9),
    ]
    groups = [[0, 1, 3], [2], [4, 5], [6, 7], [8]]

    def aggregate(*tables):
        agg = StreamingAggregator()
        for t in tables:
            agg.add(t)
        return agg

    want = aggregate(flows_table([dict(r) for r in rows]))
    got = aggregate(_folded([dict(r) for r in rows], groups))
    pd.testing.assert_frame_equal(got.connections().table, want.connections().table)
    pd.testing.assert_frame_equal(got.pods(), want.pods())
    assert got.excluded == want.excluded and got.records_used == want.records_used
    assert got._row == want._row == len(rows)
    web = got.pods().set_index("pod").loc[WEB["pod"]]
    assert web.labels == {"app": "web"}  # row 3 is the latest at the latest time
    conn = got.connections().table.iloc[0]
    assert (conn.records, conn.flows) == (6, 1 + 8) and len(conn.active_hours) == 2
    # Folded and plain batches mix, in either order, with the rank rows offset by the
    # records before them.
    half = [dict(r) for r in rows[:4]]
    mixed = aggregate(
        flows_table(half), _folded([dict(r) for r in rows[4:]], [[0, 1], [2, 3], [4]])
    )
    pd.testing.assert_frame_equal(mixed.pods(), want.pods())
    pd.testing.assert_frame_equal(mixed.connections().table, want.connections().table)
    # Equal times across batches: the later record wins, its rank row counted from the
    # records of the batches before.
    tie = aggregate(
        flows_table([flow(web2, DB, 5432, seconds=5000)]),
        _folded([flow(WEB, DB, 5432, seconds=5000), flow(WEB, DB, 5432, seconds=1)], [[0, 1]]),
    )
    assert tie.pods().set_index("pod").loc[WEB["pod"]].labels == {"app": "web"}
