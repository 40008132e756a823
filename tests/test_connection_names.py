"""DNS names per connection (``recommender.connection_names``): from the records' own
destination names and from the DNS answers the client pod got, exact under merging."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
from conftest import address, flow, flows_table, pod

from recommender.connection_names import NameTracker, normalize, union_names
from recommender.connections import CONNECTION_KEY, StreamingAggregator, build_connections

WEB = pod("shop", "web-7d4b9c8f6-abcde", {"app": "web"}, "10.0.0.1")
WEB2 = pod("shop", "web-7d4b9c8f6-fghij", {"app": "web"}, "10.0.0.3")
DB = pod("shop", "db-0", {"app": "db"}, "10.0.0.2")
DNS = pod("kube-system", "coredns-0", {"k8s-app": "kube-dns"}, "10.0.0.53")
API = address("93.184.216.34")
CDN = address("151.101.1.69")


def answer(client: dict, query: str, ips: list[str], *, seconds: float = 0) -> dict:
    """A Hubble DNS answer as the proxy reports it: resolver -> client, a reply."""
    return flow(
        DNS,
        client,
        41000,
        sport=53,
        protocol="UDP",
        is_reply=True,
        l7_protocol="dns",
        dns_query=query,
        dns_ips=ips,
        seconds=seconds,
    )


def names_by_destination(rows: list[dict]) -> dict[tuple[str | None, str | None], tuple]:
    conns = build_connections(flows_table(rows)).table
    return {
        (r.src_pod, r.dst_ip): (tuple(r.dst_names), tuple(r.dst_name_answers))
        for r in conns.itertuples(index=False)
    }


def test_normalize():
    assert normalize("API.Example.COM.") == "api.example.com"
    assert normalize("a.b") == "a.b"


def test_names_come_from_the_records_and_from_the_clients_dns_answers():
    rows = [
        flow(WEB, API, 443, dst_names=["API.example.com."]),
        flow(WEB, API, 443, sport=40001, dst_names=["api.example.com", "www.example.com"]),
        answer(WEB, "api.example.com.", ["93.184.216.34", "93.184.216.35"]),
        answer(WEB, "API.EXAMPLE.COM.", ["93.184.216.34"], seconds=30),
        # the answer another pod got says nothing about WEB's connection
        answer(WEB2, "cdn.example.net.", ["151.101.1.69"]),
        flow(WEB, CDN, 443),
        flow(WEB2, CDN, 443),
        flow(WEB, DB, 5432, dst_names=["db.shop.svc.cluster.local"]),  # a pod: no names
    ]
    got = names_by_destination(rows)
    assert got[(WEB["pod"], "93.184.216.34")] == (
        ("api.example.com", "www.example.com"),
        (2, 0),
    )
    assert got[(WEB["pod"], "151.101.1.69")] == ((), ())
    assert got[(WEB2["pod"], "151.101.1.69")] == (("cdn.example.net",), (1,))
    assert got[(WEB["pod"], None)] == ((), ())


def test_a_dns_request_record_names_its_source_as_the_client():
    request = flow(
        WEB,
        DNS,
        53,
        protocol="UDP",
        l7_protocol="dns",
        dns_query="api.example.com.",
        dns_ips=["93.184.216.34"],
    )
    got = names_by_destination([request, flow(WEB, API, 443)])
    assert got[(WEB["pod"], "93.184.216.34")] == (("api.example.com",), (1,))


def test_merged_aggregators_equal_one_that_saw_every_batch():
    rows = [
        answer(WEB, "api.example.com.", ["93.184.216.34"]),
        flow(WEB, API, 443, dst_names=["www.example.com"]),
        answer(WEB, "api.example.com.", ["93.184.216.34"], seconds=60),
        flow(WEB, API, 443, sport=40009, seconds=61, dst_names=["api.example.com"]),
        flow(WEB2, CDN, 443, seconds=70),
        answer(WEB2, "cdn.example.net", ["151.101.1.69"], seconds=80),
    ]
    table = flows_table(rows)
    whole = build_connections(table).table
    parts = [StreamingAggregator() for _ in range(3)]
    for i, part in enumerate(parts):
        part.add(table.slice(2 * i, 2))
    parts[0].merge(parts[1])
    parts[0].merge(parts[2])
    merged = parts[0].connections().table
    cols = [*CONNECTION_KEY, "dst_names", "dst_name_answers"]
    assert merged[cols].to_dict("records") == whole[cols].to_dict("records")
    assert [
        (tuple(n), tuple(c))
        for n, c in zip(whole["dst_names"], whole["dst_name_answers"], strict=True)
    ] == [
        (("api.example.com", "www.example.com"), (2, 0)),
        (("cdn.example.net",), (1,)),
    ]


def test_tracker_answers_per_connection_row():
    tracker = NameTracker(CONNECTION_KEY)
    keys = {k: [None] for k in CONNECTION_KEY}
    keys.update(src_kind=["pod"], dst_kind=["external"], dst_ip=["1.2.3.4"])
    keys.update(src_namespace=["shop"], src_pod=["web"], protocol=["TCP"], port=[443])
    table = pa.table(
        {k: pa.array(v, pa.int64() if k == "port" else pa.string()) for k, v in keys.items()}
    )
    tracker.add_flows(table, pa.chunked_array([pa.array([["B.example.", "a.example"]])]))
    assert tracker.names_of(pd.DataFrame(keys)) == ([("a.example", "b.example")], [(0, 0)])


def test_union_names_sums_answers():
    assert union_names([("a", "b"), ("b",)], [(1, 2), (3,)]) == (("a", "b"), (1, 5))
    assert union_names([], []) == ((), ())


def test_the_same_records_again_under_other_files_add_no_name_rows():
    """Names and answers are sets (answers counted): a capture fed again under another
    file name, at other times, folds into the same rows."""
    rows = [
        answer(WEB, "api.example.com.", ["93.184.216.34"]),
        flow(WEB, API, 443, dst_names=["www.example.com"]),
        flow(WEB2, CDN, 443, dst_names=["cdn.example.net"]),
    ]
    agg = StreamingAggregator()
    held = []
    for i, name in enumerate(("b.json", "a.json", "c.json")):
        again = [
            dict(r, source_file=name, time_start=r["time_start"] + pd.Timedelta(hours=i))
            for r in rows
        ]
        agg.add(flows_table(again))
        agg._names._compact()
        held.append(agg._names._rows)
    assert held == [3, 3, 3]  # two (connection, name) rows and one answer row
    table = agg.connections().table
    assert dict(zip(table.dst_ip, table.dst_name_answers, strict=True))["93.184.216.34"] == (3, 0)
