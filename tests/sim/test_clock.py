"""Simulated time (recommender/sim/clock.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from recommender.sim.clock import DEFAULT_START, S, at_share, to_ns, window


def test_to_ns_counts_from_the_epoch() -> None:
    assert to_ns(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    assert to_ns(datetime(1970, 1, 1, 0, 0, 1, 500, tzinfo=UTC)) == S + 500_000


def test_window_is_whole_seconds_from_the_default_start() -> None:
    start, end = window(1.5)
    assert start == DEFAULT_START and end - start == timedelta(minutes=90)
    assert window(1 / 7200)[1] - DEFAULT_START == timedelta(seconds=0)  # rounds half to even
    with pytest.raises(ValueError):
        window(0)


def test_at_share() -> None:
    start, end = window(2)
    assert at_share(start, end, 0.0) == start
    assert at_share(start, end, 0.7) == start + timedelta(minutes=84)
