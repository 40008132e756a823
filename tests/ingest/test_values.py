"""The shared value parsers (``recommender.ingest.values``): each returns the normalized
value or raises ``Bad`` naming the field, whatever it is given."""

from __future__ import annotations

import datetime as dt

import pytest

from recommender.ingest import values
from recommender.ingest.common import Bad
from recommender.ingest.sources import Rejected


def test_int_below():
    assert values.int_below(None, "f", 10) is None
    assert values.int_below(0, "f", 10) == 0
    assert values.int_below(9, "f", 10) == 9
    assert values.int_below(values.INT64 - 1, "f", values.INT64) == values.INT64 - 1
    for bad in (10, -1, True, 1.0, "1", [1]):
        with pytest.raises(Bad, match="malformed record: f"):
            values.int_below(bad, "f", 10)


def test_canonical_address():
    assert values.canonical_address(None, "ip") is None
    assert values.canonical_address("10.0.0.1", "ip") == "10.0.0.1"
    assert values.canonical_address("2001:DB8:0:0::1", "ip") == "2001:db8::1"
    for text in ("", "10.0.0.256", " 10.0.0.1", "10.0.0.0/24", "fe80::1%eth0", "host"):
        with pytest.raises(Bad) as caught:
            values.canonical_address(text, "ip")
        assert caught.value.reason == "invalid IP"
        assert caught.value.detail == f"ip={text!r}"
    for value in (167772161, b"10.0.0.1", ["10.0.0.1"]):
        with pytest.raises(Bad, match="malformed record: ip"):
            values.canonical_address(value, "ip")


def test_family():
    assert values.family() == 0
    assert values.family(None, None) == 0
    assert values.family("10.0.0.1", None) == 4
    assert values.family(None, "::1", "2001:db8::1") == 6
    with pytest.raises(Bad) as caught:
        values.family("10.0.0.1", None, "::1")
    assert caught.value.rejected() == Rejected(
        "invalid IP", "mixed address families: 10.0.0.1 -> ::1"
    )


def test_put_label():
    out: dict[str, str] = {}
    assert values.put_label(out, "app", "web", "labels")
    assert values.put_label(out, "app", "web", "labels")  # the same label again is fine
    assert values.put_label(out, "example.com/tier", "", "labels")
    assert not values.put_label(out, "app", "db", "labels")
    assert out == {"app": "web", "example.com/tier": ""}
    with pytest.raises(Bad) as caught:
        values.put_label(out, "-bad", "x", "labels")
    assert caught.value.rejected() == Rejected("invalid label key", "labels='-bad'")
    with pytest.raises(Bad) as caught:
        values.put_label(out, "app", "a b", "labels")
    assert caught.value.rejected() == Rejected("invalid label value", "labels[app]='a b'")
    with pytest.raises(Bad, match="invalid label key"):
        values.put_label(out, 1, "x", "labels")


def test_text_strips_and_decodes():
    assert values.text(None, "f") is None
    assert values.text("  web  ", "f") == "web"
    assert values.text(b"web", "f") == "web"
    assert values.text("   ", "f") is None
    with pytest.raises(Bad, match="invalid UTF-8"):
        values.text(b"\xff", "f")
    with pytest.raises(Bad, match="malformed record: f"):
        values.text(3, "f")
    with pytest.raises(Bad, match="malformed record: f"):
        values.text("x" * 10, "f", limit=5)


def test_names_check_their_syntax():
    assert values.namespace("shop", "ns") == "shop"
    assert values.pod_name("web-1.a", "pod") == "web-1.a"
    assert values.node_name(None, "node") is None
    with pytest.raises(Bad) as caught:
        values.namespace("Shop", "ns")
    assert caught.value.rejected() == Rejected("invalid namespace", "ns='Shop'")
    with pytest.raises(Bad, match="invalid pod name"):
        values.pod_name("web_1", "pod")


def test_ip_canonical_and_unspecified():
    assert values.ip("2001:DB8::1", "ip") == "2001:db8::1"
    assert values.ip("", "ip") is None
    assert values.ip("0.0.0.0", "ip") == "0.0.0.0"
    assert values.ip("0.0.0.0", "ip", unspecified_is_none=True) is None
    assert values.ip("::", "ip", unspecified_is_none=True) is None
    with pytest.raises(Bad, match="invalid IP"):
        values.ip("10.0.0.256", "ip")


def test_uint_and_port():
    assert values.uint("18446744073709551615", "n", 2**64) == 2**64 - 1
    assert values.uint(3.0, "n") == 3
    assert values.uint("", "n") is None
    for bad in (-1, 1.5, "1e3", True, [1]):
        with pytest.raises(Bad, match="malformed record: n"):
            values.uint(bad, "n")
    assert values.port(0, "p") is None
    assert values.port("443", "p") == 443
    with pytest.raises(Bad, match="malformed record: p"):
        values.port(65536, "p")


def test_protocol_names_and_numbers():
    assert values.protocol("tcp", "proto") == ("TCP", 6)
    assert values.protocol("ipv6-icmp", "proto") == ("ICMPv6", 58)
    assert values.protocol(17, "proto") == ("UDP", 17)
    assert values.protocol("47", "proto") == ("OTHER", 47)
    with pytest.raises(Bad, match="missing protocol"):
        values.protocol("", "proto")
    with pytest.raises(Bad, match="invalid protocol"):
        values.protocol("quic", "proto")


def test_labels_accept_maps_json_and_kv():
    assert values.labels(None, "l") is None
    assert values.labels({}, "l") == ()
    assert values.labels({"b": "2", "a": "1"}, "l") == (("a", "1"), ("b", "2"))
    assert values.labels('{"app": "web"}', "l") == (("app", "web"),)
    assert values.labels("app=web, tier=db", "l") == (("app", "web"), ("tier", "db"))
    assert values.labels([("app", "web")], "l", pairs=True) == (("app", "web"),)
    with pytest.raises(Bad, match="malformed record: l"):
        values.labels("app=web", "l", kv=False)
    with pytest.raises(Bad, match="conflicting labels"):
        values.labels("a=1,a=2", "l")


def test_time_ns_forms():
    second = 1_700_000_000
    ns = second * 10**9
    assert values.time_ns(second, "t") == ns
    assert values.time_ns(second * 1000, "t") == ns
    assert values.time_ns(str(second), "t", unit="s") == ns
    assert values.time_ns(second + 0.5, "t") == ns + 500_000_000
    assert values.time_ns("2023-11-14T22:13:20Z", "t") == ns
    assert values.time_ns("2023-11-14 22:13:20", "t") == ns
    assert values.time_ns(dt.datetime(2023, 11, 14, 22, 13, 20), "t") == ns
    assert values.time_ns("", "t") is None
    for bad in ("yesterday", float("nan"), "2023-02-30 00:00:00"):
        with pytest.raises(Bad, match="invalid time"):
            values.time_ns(bad, "t")
    with pytest.raises(Bad, match="malformed record: t"):
        values.time_ns(True, "t")


def test_parse_time_rfc3339():
    assert values.parse_time("1970-01-01T00:00:01.5Z") == 1_500_000_000
    assert values.parse_time("1970-01-01T01:00:00+01:00") == 0
    assert values.parse_time("1970-01-01t00:00:00.1234567891z") == 123_456_789
    assert values.parse_time("1970-02-30T00:00:00Z") is None
    assert values.parse_time("1970-01-01T00:00:00") is None  # no zone
    assert values.parse_time(0) is None
    assert values.epoch_seconds("1970", "01", "02", "00", "00", "00", "Z") == 86400


def test_dash_null_and_unknown_enum():
    assert values.dash_null("-") is None
    assert values.dash_null("") is None
    assert values.dash_null(0) == 0
    assert values.unknown_enum("action", "maybe").rejected() == Rejected(
        "unknown enum value: action", "action='maybe'"
    )


def test_file_mtime_ns(tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    assert values.file_mtime_ns(str(path)) == path.stat().st_mtime_ns
    assert values.file_mtime_ns(str(tmp_path / "missing")) is None
