"""Window adequacy (recommender/window.py): each figure on hand-built connection tables with
answers computed by hand, the sample's CronJob found periodic every 3 h, determinism."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pandas as pd
import pytest
from conftest import SAMPLE_FLOWS

import recommender
from recommender.window import (
    NS_PER_HOUR,
    assess_window,
    bursts,
    connection_tracks,
    find_period,
    new_connection_chance,
)

DAY = datetime(2025, 1, 10, tzinfo=UTC)


def at(text: str) -> datetime:
    """'06:30' or '06:30:15' on DAY; '+1 06:30' a day later."""
    days = 0
    if text.startswith("+"):
        shift, text = text.split(" ")
        days = int(shift)
    parts = [int(x) for x in text.split(":")]
    h, m, s = (parts + [0, 0])[:3]
    return DAY + timedelta(days=days, hours=h, minutes=m, seconds=s)


def hour_of(ts: datetime) -> int:
    return int(ts.timestamp()) // 3600


def end(name: str) -> dict:
    """'ns/pod' is a pod, anything else an external address."""
    if "/" in name:
        ns, pod = name.split("/")
        return {"kind": "pod", "namespace": ns, "pod": pod, "ip": None}
    return {"kind": "external", "namespace": None, "pod": None, "ip": name}


def conn(src: str, dst: str, port: int, first: str, last: str, hours=None, protocol="TCP"):
    """One pod-level connection row; active hours default to every hour first..last."""
    lo, hi = at(first), at(last)
    active = hours if hours is not None else range(hour_of(lo), hour_of(hi) + 1)
    row = {f"src_{k}": v for k, v in end(src).items()}
    row.update({f"dst_{k}": v for k, v in end(dst).items()})
    row.update(
        protocol=protocol,
        port=port,
        first_seen=pd.Timestamp(lo),
        last_seen=pd.Timestamp(hi),
        active_hours=tuple(sorted(active)),
    )
    return row


def tables(rows: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The connection table and its pods: workload = pod name before its last '-'; each
    pod's lifetime is that of its rows."""
    conns = pd.DataFrame(rows)
    pods: dict[tuple[str, str], list] = {}
    for r in rows:
        for side in ("src", "dst"):
            if r[f"{side}_kind"] == "pod":
                key = (r[f"{side}_namespace"], r[f"{side}_pod"])
                life = pods.setdefault(key, [r["first_seen"], r["last_seen"]])
                life[0], life[1] = min(life[0], r["first_seen"]), max(life[1], r["last_seen"])
    pod_table = pd.DataFrame(
        [
            {
                "namespace": ns,
                "pod": pod,
                "workload": f"{ns}/{pod.rsplit('-', 1)[0]}",
                "first_seen": life[0],
                "last_seen": life[1],
            }
            for (ns, pod), life in sorted(pods.items())
        ]
    )
    return conns, pod_table


def window_of(rows: list[dict]):
    return assess_window(*tables(rows))


# --- the estimate ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q1", "q2", "u", "t", "expected"),
    [
        # The sample: (5/432) * (5*5 / (5*5 + 2*24)) = 125 / 31536.
        (5, 24, 432, 6, Fraction(125, 31536)),
        # (2/10) * (3*2 / (3*2 + 2*1)) = 0.2 * 0.75.
        (2, 1, 10, 4, Fraction(3, 20)),
        # No doubletons: Chao's correction (T-1)(Q1-1) / ((T-1)(Q1-1) + 2) = 2/4.
        (2, 0, 6, 3, Fraction(1, 6)),
        # One singleton, no doubleton: (Q1 - 1) = 0, nothing suggests more.
        (1, 0, 19, 6, Fraction(0)),
        # One hour: every connection a singleton, Q1/U = 1 (nothing can be said).
        (4, 0, 4, 1, Fraction(1)),
        # No singletons: nothing suggests anything unseen.
        (0, 3, 12, 4, Fraction(0)),
    ],
)
def test_new_connection_chance_by_hand(q1, q2, u, t, expected):
    assert new_connection_chance(q1, q2, u, t) == pytest.approx(float(expected), abs=1e-15)


def test_bursts_are_runs_of_consecutive_hours():
    assert bursts([7, 1, 2, 3, 5, 8, 2]) == [(1, 3), (5, 5), (7, 8)]
    assert bursts([]) == []


# --- curve, estimate, workloads, verdict on a hand-built table ----------------------------


def small_rows():
    """web -> db all four hours; web -> 1.2.3.4 in hours 1-2; job -> db in hour 2 only.
    T = 4 hours, U = 4 + 2 + 1 = 7, Q1 = 1, Q2 = 1."""
    return [
        conn("a/web-1", "b/db-0", 5432, "00:05", "03:50"),
        conn("a/web-1", "1.2.3.4", 443, "01:10", "02:40"),
        conn("a/job-1", "b/db-0", 5432, "02:20", "02:25"),
    ]


def test_figures_of_a_small_window_by_hand():
    w = window_of(small_rows())
    assert (w.connections, w.buckets, w.incidences, w.singletons, w.doubletons) == (3, 4, 7, 1, 1)
    # (1/7) * (3*1 / (3*1 + 2*1)) = 3/35
    assert w.new_chance == pytest.approx(3 / 35)
    assert w.start == at("00:05") and w.end == at("03:50")
    assert [(p.hour, p.new, p.total) for p in w.curve] == [
        (at("00:00"), 1, 1),
        (at("01:00"), 1, 2),
        (at("02:00"), 1, 3),
    ]
    table = w.curve_table()
    assert table["new"].tolist() == [1, 1, 1, 0] and table["total"].tolist() == [1, 2, 3, 3]
    # Quiet time: max(1 h, 3 h 45 min / 4) = 1 h; nothing new after 02:50.
    assert w.quiet == timedelta(hours=1) and w.new_recently == 0
    assert not w.saturated  # 8.6% is not below 1%
    assert w.verdict == (
        "not saturated: no new connection in the last 1 h of 3.8 h, but a 8.6% chance the "
        "next connection is new — observe longer"
    )


def test_per_workload_last_new_connection():
    w = window_of(small_rows())
    assert [(x.workload, x.connections, x.last_new, x.quiet) for x in w.workloads] == [
        ("a/job", 1, at("02:20"), timedelta(hours=1, minutes=30)),
        ("a/web", 2, at("01:10"), timedelta(hours=2, minutes=40)),
        ("b/db", 2, at("02:20"), timedelta(hours=1, minutes=30)),
    ]


def steady_rows():
    """Three connections, each active in all six hours 06-11, all known by 06:30."""
    return [
        conn("a/web-1", "b/db-0", 5432, "06:00", "11:59"),
        conn("a/web-1", "b/cache-0", 6379, "06:10", "11:50"),
        conn("a/api-1", "b/db-0", 5432, "06:30", "11:40"),
    ]


def test_saturated_window():
    w = window_of(steady_rows())
    assert w.new_chance == 0 and w.new_recently == 0 and w.saturated
    assert w.saturated_after == timedelta(hours=1)
    assert w.verdict == "saturated after 1 h of 6 h; 0% chance the next connection is new"


def test_still_discovering():
    # Two connections first seen after 11:00, in one hour each: Q1 = 2, Q2 = 0, T = 6,
    # U = 20 -> (2/20) * (5*1 / (5*1 + 2)) = 1/14.
    late = [
        conn("a/api-1", "9.9.9.9", 443, "11:30", "11:31"),
        conn("a/web-1", "9.9.9.9", 443, "11:10", "11:20"),
    ]
    w = window_of([*steady_rows(), *late])
    assert w.new_chance == pytest.approx(1 / 14)
    # Quiet time max(1 h, 5 h 59 min / 4) = 1 h 29 min 45 s; both new within it.
    assert w.new_recently == 2 and not w.saturated and w.saturated_after is None
    assert w.verdict == (
        "still discovering: 2 new connections in the last 1.5 h of 6 h; 7.1% chance the next "
        "connection is new — observe longer"
    )


def test_too_short_and_empty_windows():
    w = window_of([conn("a/web-1", "b/db-0", 5432, "06:00", "06:40")] * 2)
    assert w.buckets == 1 and not w.saturated
    assert w.verdict == (
        "too short to judge: 1 connection seen within one clock hour — observe longer"
    )
    conns, pods = tables(small_rows())
    empty = assess_window(conns.iloc[0:0], pods)
    assert empty.connections == 0 and not empty.saturated
    assert empty.verdict == "no connections observed: nothing to judge the window by"
    assert empty.to_dict()["curve"] == [] and empty.curve_table().empty


def test_times_at_the_epoch_are_unknown():
    """A format without times (AWS VPC custom formats) writes 0: no hour, no window start."""
    rows = steady_rows()
    untimed = conn("a/web-1", "8.8.8.8", 53, "06:00", "06:00", hours=[0], protocol="UDP")
    untimed["first_seen"] = untimed["last_seen"] = pd.Timestamp(0, tz="UTC")
    mixed = dict(rows[0], first_seen=pd.Timestamp(0, tz="UTC"))
    mixed["active_hours"] = (0, *mixed["active_hours"])
    w = window_of([mixed, *rows[1:], untimed])
    assert w.connections == 3 and w.start == at("06:00")
    figures, steady = w.to_dict(), window_of(steady_rows()).to_dict()
    assert figures.pop("untimed_connections") == 1 and steady.pop("untimed_connections") == 0
    assert figures.pop("verdict") == steady.pop("verdict") + "; 1 connection without times left out"
    assert figures == steady


# --- periodic traffic --------------------------------------------------------------------


def ns(text: str) -> int:
    return int(at(text).timestamp()) * 1_000_000_000


def hours(*texts: str) -> list[int]:
    return [hour_of(at(t)) for t in texts]


def test_one_hour_of_the_day_across_days_is_daily():
    assert find_period(hours("02:10", "+1 02:40", "+3 02:05")) == (24, "hour of day")
    assert find_period(hours("02:10", "+2 02:40", "+4 02:05")) == (48, "hour of day")
    # Crossing the hour (02:55-03:05) still counts as one hour of the day.
    assert find_period(hours("02:55", "03:05", "+1 02:58")) == (24, "hour of day")
    assert find_period(hours("02:10", "+1 05:40")) is None
    # One burst across midnight is on two days, but it happened once.
    assert find_period(hours("23:30", "+1 00:20")) is None


def test_regular_bursts():
    starts = [ns("06:30:10"), ns("09:30:40")]
    # A job (a new pod per burst): two bursts are enough.
    assert find_period(hours("06:30", "09:30"), starts, job_ends=True) == (3, "bursts")
    # Otherwise two bursts could be chance.
    assert find_period(hours("06:30", "09:30"), starts) is None
    three = [ns("06:15"), ns("08:16"), ns("10:14")]
    assert find_period(hours("06:15", "08:16", "10:14"), three) == (2, "bursts")


@pytest.mark.parametrize(
    ("active", "starts"),
    [
        # The first records are not whole periods apart (a schedule would be).
        (("06:15", "08:45", "10:15"), ("06:15", "08:45", "10:15")),
        # Gaps of 2 h and 3 h.
        (("06:15", "08:15", "11:15"), ("06:15", "08:15", "11:15")),
        # Bursts of 2 h every 3 h: busy more than half the time.
        (("06:15", "07:15", "09:15", "10:15", "12:15", "13:15"), ("06:15", "09:15", "12:15")),
        # A long-lived pod's row: later bursts' first records are not known.
        (("06:15", "08:15", "10:15"), ("06:15",)),
    ],
)
def test_not_periodic(active, starts):
    assert find_period(hours(*active), [ns(s) for s in starts], job_ends=True) is None


def test_a_cronjob_is_periodic_a_long_lived_pod_is_not():
    rows = [
        conn("shop/report-111", "data/pg-0", 5432, "06:30:40", "06:34:00"),
        conn("shop/report-222", "data/pg-1", 5432, "09:30:05", "09:33:00"),
        # The same hours from one long-lived pod: two bursts, but no new pod per burst.
        conn("shop/web-1", "5.6.7.8", 443, "06:30:00", "09:30:30", hours=hours("06:30", "09:30")),
        conn("shop/web-1", "data/pg-0", 5432, "06:00", "11:59"),
    ]
    w = window_of(rows)
    assert [(p.src, p.dst, p.port, p.period_hours, p.rule) for p in w.periodic] == [
        ("shop/report", "data/pg", 5432, 3, "bursts")
    ]
    assert w.periodic[0].occurrences == (at("06:30:40"), at("09:30:05"))
    assert w.verdict.endswith("; periodic: shop/report every 3 h (1 connection)")


# --- the sample --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample():
    return recommender.observe([SAMPLE_FLOWS])


def test_the_sample_cronjob_runs_every_3_hours(sample):
    doc = sample.window.to_dict()
    periodic = {(p["src"], p["dst"], p["protocol"], p["port"]) for p in doc["periodic"]}
    assert periodic == {
        ("shop/report", "data/postgres", "TCP", 5432),
        ("shop/report", "kube-system/coredns", "TCP", 53),
        ("shop/report", "kube-system/coredns", "UDP", 53),
        ("shop/report", "52.216.8.21", "TCP", 443),
    }
    assert {(p["period_hours"], p["rule"]) for p in doc["periodic"]} == {(3, "bursts")}
    assert [len(p["occurrences"]) for p in doc["periodic"]] == [2, 2, 2, 2]
    assert doc["start"].startswith("2025-11-05T06:00") and doc["end"].startswith("2025-11-05T11:")
    assert (doc["buckets"], doc["connections"]) == (6, len(sample.workload_connections))
    assert doc["new_connection_chance"] == pytest.approx(125 / 31536, abs=1e-6)


def test_the_sample_verdict(sample):
    assert sample.window.verdict == (
        "still discovering: 1 new connection in the last 1.5 h of 6 h; 0.4% chance the next "
        "connection is new — observe longer; periodic: shop/report every 3 h (4 connections)"
    )


def test_tracks_have_the_workload_connections_keys(sample):
    tracks = connection_tracks(sample.connections, sample.pods)
    keys = {
        (r.src_id, r.dst_id, r.protocol, int(r.port))
        for r in sample.workload_connections.itertuples(index=False)
    }
    assert {t.key for t in tracks} == keys
    flows = sample.workload_connections
    keyed = zip(flows.src_id, flows.dst_id, flows.protocol, flows.port, strict=True)
    hours = dict(zip(keyed, flows.hours, strict=True))
    assert all(len(t.hours) == hours[t.key] for t in tracks)
    assert all(t.first_ns // NS_PER_HOUR == t.hours[0] for t in tracks)


def test_shuffled_input_gives_the_same_figures(sample):
    conns, pods = sample.connections, sample.pods
    order = list(range(len(conns)))
    random.Random(7).shuffle(order)
    shuffled = assess_window(
        conns.iloc[order].reset_index(drop=True), pods.iloc[::-1].reset_index(drop=True)
    )
    assert shuffled.to_dict() == sample.window.to_dict()


# --- SUMMARY.md, report.json and the CLI -------------------------------------------------

SAMPLE_LINE = (
    "**Observation window:** still discovering: 1 new connection in the last 1.5 h of 6 h; "
    "0.4% chance the next connection is new — observe longer; periodic: shop/report every "
    "3 h (4 connections)"
)


def _recommend(out, *extra):
    from click.testing import CliRunner

    from recommender.cli import main

    return CliRunner().invoke(main, ["recommend", str(SAMPLE_FLOWS), "-o", str(out), *extra])


def test_summary_opens_with_the_verdict_and_report_carries_the_figures(tmp_path):
    import json

    result = _recommend(tmp_path / "out", "--min-window", "5h")
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "out" / "SUMMARY.md").read_text().splitlines()
    assert lines[:4] == ["# NetworkPolicy proposal", "", SAMPLE_LINE, ""]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    window = report["window"]
    assert window["verdict"] == SAMPLE_LINE.removeprefix("**Observation window:** ")
    assert {(p["src"], p["period_hours"]) for p in window["periodic"]} == {("shop/report", 3)}
    assert [p["total"] for p in window["curve"]][-1] == window["connections"] == 108


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--min-window", "1d"],
            "error: --min-window 1d: the flows span only 6 h; observe longer; nothing was written",
        ),
        (
            ["--require-saturation"],
            "error: --require-saturation: still discovering: 1 new connection in the last "
            "1.5 h of 6 h;",
        ),
    ],
)
def test_a_short_window_is_refused_and_nothing_written(tmp_path, options, message):
    result = _recommend(tmp_path / "out", *options)
    assert result.exit_code == 1
    assert message in result.output
    assert result.output.rstrip().endswith("nothing was written")
    assert not (tmp_path / "out").exists()


def test_min_window_is_a_duration(tmp_path):
    result = _recommend(tmp_path / "out", "--min-window", "6x")
    assert result.exit_code == 2
    assert "--min-window" in result.output and "not a duration" in result.output
    assert not (tmp_path / "out").exists()


def test_help_teaches_the_window_options():
    from click.testing import CliRunner

    from recommender.cli import main

    text = " ".join(CliRunner().invoke(main, ["recommend", "--help"]).output.split())
    assert "--min-window DURATION" in text and "--require-saturation" in text
    assert "no new connection in its last quarter" in text


def test_the_docs_quote_the_sample_verdict():
    from conftest import ROOT

    assert SAMPLE_LINE in (ROOT / "docs" / "window.md").read_text()
    assert SAMPLE_LINE in (ROOT / "README.md").read_text()


def test_connections_without_times_are_counted_and_said():
    """A time at the epoch is unknown: such a connection is in no figure, and the window
    says how many it left out rather than dropping them silently."""
    epoch = pd.Timestamp(0, tz="UTC")
    untimed = conn("shop/vpc-a", "10.9.9.9", 443, "06:00", "06:00", hours=(0,))
    untimed.update(first_seen=epoch, last_seen=epoch)
    timed = [
        conn("shop/web-a", "data/db-a", 5432, "06:00", "08:30"),
        conn("shop/web-a", "data/cache-a", 6379, "06:10", "08:40"),
    ]
    w = window_of([*timed, untimed])
    assert w.connections == 2 and w.untimed == 1
    assert w.to_dict()["untimed_connections"] == 1
    assert w.verdict.endswith("; 1 connection without times left out")
    only = window_of([untimed])
    assert only.connections == 0 and only.untimed == 1
    assert only.verdict == (
        "no connection has a known time: nothing to judge the window by; "
        "1 connection without times left out"
    )
    assert window_of(timed).untimed == 0
    assert "left out" not in window_of(timed).verdict
