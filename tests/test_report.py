import datetime as dt

import pandas as pd
import pytest

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


@pytest.mark.parametrize(
    "ts",
    [
        pd.Timestamp("2025-11-05T06:06:38.819316158Z"),
        pd.Timestamp("2025-11-05T06:06:38.000000158Z"),
        pd.Timestamp("2025-11-05T06:06:38.5Z").as_unit("ns"),
        pd.Timestamp("2025-11-05T06:06:38Z").as_unit("ns"),
        pd.Timestamp("2025-11-05T06:06:38.000000001"),
        pd.Timestamp("2025-11-05T06:06:38.123456789+05:30"),
        pd.Timestamp(-3452000000000000001, tz="America/New_York"),  # an offset with seconds
        pd.Timestamp("1700-01-01T00:00:00.000001999"),
        pd.Timestamp("2025-11-05T06:06:38.123456Z").as_unit("us"),
    ],
)
def test_iso_writes_nanosecond_timestamps_as_pandas_does(ts):
    assert iso(ts) == ts.isoformat().replace("+00:00", "Z")
