import datetime as dt

import pandas as pd

from recommender.report import iso


def test_iso_prints_utc_with_z_and_other_zones_with_their_offset():
    utc = pd.Timestamp("2024-05-01 10:00:00.250", tz="UTC")
    paris = utc.tz_convert("Europe/Paris")
    assert utc == paris  # one instant: the cache must still tell them apart
    assert iso(utc) == "2024-05-01T10:00:00.250000Z"
    assert iso(paris) == "2024-05-01T12:00:00.250000+02:00"
    assert iso(utc) == "2024-05-01T10:00:00.250000Z"


def test_iso_tells_a_timestamp_from_an_equal_datetime_and_takes_anything():
    plain = dt.datetime(2024, 5, 1, 10, 0, 0, 1, tzinfo=dt.UTC)
    stamp = pd.Timestamp(plain) + pd.Timedelta(nanoseconds=5)
    assert iso(plain) == "2024-05-01T10:00:00.000001Z"
    assert iso(stamp) == "2024-05-01T10:00:00.000001005Z"
    assert iso(None) is None
    assert iso("DNS allowance") == "DNS allowance"
    assert iso(["unhashable"]) == "['unhashable']"
