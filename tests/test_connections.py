from conftest import address, flow, flows_table, pod

from recommender.connections import EXCLUSION_REASONS, build_connections, observed_pods

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
