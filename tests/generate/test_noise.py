"""Leaving one-off noise out, listed with its evidence; confidence per connection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from recommender.generate.noise import LeftOut, confidence, split_noise
from recommender.options import SynthesisOptions

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _row(src, dst, port, flows, span, *, protocol="TCP", src_type="workload", **extra):
    return {
        "src_type": src_type,
        "src_id": src,
        "dst_type": "workload",
        "dst_id": dst,
        "protocol": protocol,
        "port": port,
        "flows": flows,
        "records": flows,
        "first_seen": T0,
        "last_seen": T0 + span,
        "pods": 1,
        **extra,
    }


def _frame(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for col in ("first_seen", "last_seen"):
        df[col] = pd.to_datetime(df[col], utc=True)
    return df


HOUR = timedelta(hours=1)
ROWS = [
    _row("shop/web", "shop/api", 8080, 500, 48 * HOUR, hours=40, days=3),
    _row("shop/web", "shop/api", 9090, 2, 2 * HOUR, hours=2, days=1),
    _row("shop/api", "data/db", 5432, 3, timedelta(minutes=2), hours=1, days=1),
    _row("93.184.216.34", "shop/web", 443, 1, timedelta(0), src_type="external"),
    _row("shop/cron", "data/db", 5432, 3, HOUR, hours=1, days=1),
]


def _keys(df: pd.DataFrame) -> list[tuple]:
    return list(zip(df["src_id"], df["dst_id"], df["protocol"], df["port"], strict=True))


def test_defaults_keep_everything():
    df = _frame([*ROWS, _row("a/b", "c/d", 1, 0, timedelta(0))])
    kept, left = split_noise(df, SynthesisOptions())
    assert left == [] and len(kept) == len(df)
    pd.testing.assert_frame_equal(kept, df)


def test_min_flows_is_inclusive():
    kept, left = split_noise(_frame(ROWS), SynthesisOptions(min_flows=3))
    assert _keys(kept) == [
        ("shop/web", "shop/api", "TCP", 8080),
        ("shop/api", "data/db", "TCP", 5432),
        ("shop/cron", "data/db", "TCP", 5432),
    ]
    assert [(e.src, e.port, e.reason) for e in left] == [
        ("93.184.216.34", 443, "fewer than 3 flows"),
        ("shop/web", 9090, "fewer than 3 flows"),
    ]


def test_min_age_is_inclusive_and_reason_shows_the_span():
    kept, left = split_noise(_frame(ROWS), SynthesisOptions(min_age=HOUR))
    assert _keys(kept) == [
        ("shop/web", "shop/api", "TCP", 8080),
        ("shop/web", "shop/api", "TCP", 9090),
        ("shop/cron", "data/db", "TCP", 5432),
    ]
    assert [(e.src, e.reason) for e in left] == [
        ("93.184.216.34", "seen over 0:00:00, less than 1:00:00"),
        ("shop/api", "seen over 0:02:00, less than 1:00:00"),
    ]


def test_both_filters_and_evidence():
    df = _frame(ROWS)
    kept, left = split_noise(df, SynthesisOptions(min_flows=3, min_age=HOUR))
    assert _keys(kept) == [
        ("shop/web", "shop/api", "TCP", 8080),
        ("shop/cron", "data/db", "TCP", 5432),
    ]
    assert [e.reason for e in left] == [
        "fewer than 3 flows; seen over 0:00:00, less than 1:00:00",
        "seen over 0:02:00, less than 1:00:00",
        "fewer than 3 flows",
    ]
    assert left[1] == LeftOut(
        src="shop/api",
        dst="data/db",
        protocol="TCP",
        port=5432,
        flows=3,
        first_seen=T0,
        last_seen=T0 + timedelta(minutes=2),
        hours=1,
        days=1,
        reason="seen over 0:02:00, less than 1:00:00",
        src_type="workload",
        dst_type="workload",
    )
    assert isinstance(left[1].first_seen, datetime)
    # The external row carries no hours/days columns of its own: NaN reads as 0.
    assert (left[0].src_type, left[0].hours, left[0].days) == ("external", 0, 0)


def test_nothing_lost_and_input_untouched():
    df = _frame(ROWS)
    before = df.copy()
    for options in (
        SynthesisOptions(min_flows=2),
        SynthesisOptions(min_flows=1000),
        SynthesisOptions(min_age=timedelta(days=30)),
        SynthesisOptions(min_flows=3, min_age=HOUR),
    ):
        kept, left = split_noise(df, options)
        out = _keys(kept) + [(e.src, e.dst, e.protocol, e.port) for e in left]
        assert sorted(out) == sorted(_keys(df))
        assert list(kept.columns) == list(df.columns)
        assert list(kept.index) == list(range(len(kept)))
    pd.testing.assert_frame_equal(df, before)


def test_ordering_is_deterministic():
    shuffled = _frame(list(reversed(ROWS)))
    _, left_a = split_noise(_frame(ROWS), SynthesisOptions(min_flows=1000))
    _, left_b = split_noise(shuffled, SynthesisOptions(min_flows=1000))
    assert left_a == left_b
    assert [(e.src, e.dst, e.port) for e in left_a] == sorted(
        (e.src, e.dst, e.port) for e in left_a
    )


def test_without_hours_and_days_columns():
    df = _frame([{k: v for k, v in ROWS[1].items() if k not in ("hours", "days")}])
    _, (entry,) = split_noise(df, SynthesisOptions(min_flows=5))
    assert (entry.hours, entry.days) == (0, 0)


def test_unknown_sighting_cannot_show_min_age():
    df = _frame(ROWS[:1])
    df["first_seen"] = pd.NaT
    kept, (entry,) = split_noise(df, SynthesisOptions(min_age=HOUR))
    assert kept.empty and entry.first_seen is None
    assert entry.reason == "first or last sighting unknown, cannot show 1:00:00"
    assert split_noise(df, SynthesisOptions(min_flows=2))[1] == []


def test_empty_table():
    df = _frame(ROWS).iloc[0:0]
    kept, left = split_noise(df, SynthesisOptions(min_flows=5, min_age=HOUR))
    assert kept.empty and left == []


def test_confidence():
    df = _frame(ROWS)
    row = next(df.itertuples(index=False))
    expected = {
        "flows": 500,
        "first_seen": "2026-11-01T12:00:00Z",
        "last_seen": "2026-11-03T12:00:00Z",
        "hours": 40,
        "days": 3,
    }
    assert confidence(row) == expected
    assert confidence(df.iloc[0]) == expected
    assert confidence(ROWS[0]) == expected
    _, left = split_noise(df, SynthesisOptions(min_flows=1000))
    assert confidence(left[0])["flows"] == 1
    assert confidence({"flows": 2}) == {
        "flows": 2,
        "first_seen": None,
        "last_seen": None,
        "hours": 0,
        "days": 0,
    }
