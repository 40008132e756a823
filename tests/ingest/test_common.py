"""The helpers the format parsers share (``recommender.ingest.common``) and the calico-family
helpers that ``calico-ee`` and ``calico-goldmane`` share."""

from __future__ import annotations

import pytest

from recommender.ingest import antrea, aws_vpc, calico, common, gadget, generic, goldmane
from recommender.ingest.common import Bad, RecordParser, invalid, malformed
from recommender.ingest.sources import Filtered, Rejected, new_row

# ----------------------------------------------------------------------------- Bad


def test_bad_carries_reason_and_detail_and_becomes_rejected():
    bad = Bad("invalid IP", "src_ip='x'")
    assert (bad.reason, bad.detail) == ("invalid IP", "src_ip='x'")
    assert bad.args == ("invalid IP", "src_ip='x'")
    assert bad.rejected() == Rejected("invalid IP", "src_ip='x'")
    assert Bad("missing time").rejected() == Rejected("missing time", "")


def test_malformed_and_invalid_name_the_field_and_cut_the_value():
    assert malformed("proto", [1]).rejected() == Rejected("malformed record: proto", "proto=[1]")
    assert invalid("invalid namespace", "ns", "A").rejected() == Rejected(
        "invalid namespace", "ns='A'"
    )
    long = malformed("name", "x" * 500)
    assert len(long.detail) < 100 and long.detail.endswith("...")


def test_every_parser_module_uses_the_one_bad():
    # Tests and callers import these names from the modules: they must stay there.
    for module in (calico, generic):
        assert module.Bad is Bad
        assert module.malformed is malformed
        assert module.invalid is invalid
    assert generic.family is common.family
    assert goldmane.Bad is Bad and antrea.Bad is Bad and gadget.Bad is Bad


# ----------------------------------------------------------------------------- RecordParser


class _Parser(RecordParser):
    name = "test"

    def _parse(self, record):
        if isinstance(record, BaseException):
            raise record
        if record == "skip":
            return Filtered("skipped")
        return {"record": record}


def test_record_parser_returns_rows_and_filtered():
    p = _Parser("/some/file", ["lookahead"])
    assert p.path == "/some/file"
    assert p.parse(1) == {"record": 1}
    assert p.parse("skip") == Filtered("skipped")


def test_record_parser_turns_bad_into_its_rejection():
    assert _Parser("f").parse(Bad("missing IP", "no source")) == Rejected("missing IP", "no source")


@pytest.mark.parametrize("exc", [TypeError("t"), ValueError("v"), KeyError("k"), AttributeError()])
def test_record_parser_rejects_the_usual_errors_as_malformed(exc):
    out = _Parser("f").parse(exc)
    assert out == Rejected("malformed record", f"{type(exc).__name__}: {exc}")


def test_record_parser_cuts_the_error_message():
    out = _Parser("f").parse(ValueError("m" * 500))
    assert out.detail == "ValueError: " + "m" * 120


@pytest.mark.parametrize("exc", [OverflowError("o"), RecursionError("r"), RuntimeError("x")])
def test_record_parser_lets_other_errors_through_unless_caught(exc):
    with pytest.raises(type(exc)):
        _Parser("f").parse(exc)

    class Wider(_Parser):
        caught = (*common.RECORD_ERRORS, type(exc))

    assert Wider("f").parse(exc) == Rejected("malformed record", f"{type(exc).__name__}: {exc}")


def test_parsers_keep_their_own_error_sets():
    """The calico family rejects RecursionError, the antrea/gadget family OverflowError (as
    before the move to a shared base class)."""
    base = set(common.RECORD_ERRORS)
    for parser in (calico.Parser, goldmane.Parser):
        assert issubclass(parser, RecordParser)
        assert set(parser.caught) == base | {RecursionError}
    for parser in (antrea.Parser, gadget.LegacyParser, gadget.TraceTCPParser):
        assert issubclass(parser, RecordParser)
        assert set(parser.caught) == base | {OverflowError}


def test_parser_names_and_generic_shim():
    assert calico.Parser.name == "calico-ee"
    assert goldmane.Parser.name == "calico-goldmane"
    assert antrea.Parser.name == "antrea"
    assert gadget.LegacyParser.name == "ig-legacy"
    assert gadget.TraceTCPParser.name == "ig-trace-tcp"
    out = generic.Parser("f.json").parse({"src_ip": "10.0.0.1"})
    assert isinstance(out, Rejected)
    assert out.reason == "malformed record: not a CSV/Parquet row"


def test_legacy_parser_keeps_its_file_state(tmp_path):
    path = tmp_path / "events.json"
    path.write_text("")
    p = gadget.LegacyParser(str(path))
    assert p.path == str(path)
    assert p._file_time() == path.stat().st_mtime_ns


# ----------------------------------------------------------------------------- values


def test_int_below():
    assert common.int_below(None, "f", 10) is None
    assert common.int_below(0, "f", 10) == 0
    assert common.int_below(9, "f", 10) == 9
    assert common.int_below(common.INT64 - 1, "f", common.INT64) == common.INT64 - 1
    for bad in (10, -1, True, 1.0, "1", [1]):
        with pytest.raises(Bad, match="malformed record: f"):
            common.int_below(bad, "f", 10)


def test_canonical_address():
    assert common.canonical_address(None, "ip") is None
    assert common.canonical_address("10.0.0.1", "ip") == "10.0.0.1"
    assert common.canonical_address("2001:DB8:0:0::1", "ip") == "2001:db8::1"
    for text in ("", "10.0.0.256", " 10.0.0.1", "10.0.0.0/24", "fe80::1%eth0", "host"):
        with pytest.raises(Bad) as caught:
            common.canonical_address(text, "ip")
        assert caught.value.reason == "invalid IP"
        assert caught.value.detail == f"ip={text!r}"
    for value in (167772161, b"10.0.0.1", ["10.0.0.1"]):
        with pytest.raises(Bad, match="malformed record: ip"):
            common.canonical_address(value, "ip")


def test_family():
    assert common.family() == 0
    assert common.family(None, None) == 0
    assert common.family("10.0.0.1", None) == 4
    assert common.family(None, "::1", "2001:db8::1") == 6
    with pytest.raises(Bad) as caught:
        common.family("10.0.0.1", None, "::1")
    assert caught.value.rejected() == Rejected(
        "invalid IP", "mixed address families: 10.0.0.1 -> ::1"
    )


def test_put_label():
    out: dict[str, str] = {}
    assert common.put_label(out, "app", "web", "labels")
    assert common.put_label(out, "app", "web", "labels")  # the same label again is fine
    assert common.put_label(out, "example.com/tier", "", "labels")
    assert not common.put_label(out, "app", "db", "labels")
    assert out == {"app": "web", "example.com/tier": ""}
    with pytest.raises(Bad) as caught:
        common.put_label(out, "-bad", "x", "labels")
    assert caught.value.rejected() == Rejected("invalid label key", "labels='-bad'")
    with pytest.raises(Bad) as caught:
        common.put_label(out, "app", "a b", "labels")
    assert caught.value.rejected() == Rejected("invalid label value", "labels[app]='a b'")
    with pytest.raises(Bad, match="invalid label key"):
        common.put_label(out, 1, "x", "labels")


def test_label_parsers_keep_their_own_conflict_details():
    with pytest.raises(Bad) as caught:
        calico.label_items(["a=1", "a=2"], "source_labels")
    assert caught.value.rejected() == Rejected("conflicting labels", "source_labels='a=2'")
    with pytest.raises(Bad) as caught:
        generic.labels("a=1,a=2", "src_labels")
    assert caught.value.rejected() == Rejected("conflicting labels", "src_labels='a'")
    assert calico.label_items(["b=2", "a=1", "a=1"], "f") == (("a", "1"), ("b", "2"))
    with pytest.raises(Bad, match="invalid label"):
        calico.label_items(["novalue"], "f")


def test_aws_vpc_uses_the_shared_values():
    assert aws_vpc._invalid("action", "NOPE").rejected() == Rejected(
        "invalid action", "action='NOPE'"
    )
    with pytest.raises(Bad) as caught:
        aws_vpc._ip("10.1", "srcaddr")
    assert caught.value.rejected() == Rejected("invalid IP", "srcaddr='10.1'")


# ----------------------------------------------------------------------------- calico family


def test_set_times():
    row = new_row()
    calico.set_times(row, 5, None)
    assert (row["time_start"], row["time_end"]) == (5, 5)
    calico.set_times(row, 5, 7)
    assert (row["time_start"], row["time_end"]) == (5, 7)
    with pytest.raises(Bad) as caught:
        calico.set_times(row, None, 7)
    assert caught.value.rejected() == Rejected("missing time", "start_time is missing")
    with pytest.raises(Bad) as caught:
        calico.set_times(row, 7, 5)
    assert caught.value.rejected() == Rejected("invalid time", "end_time before start_time (5 < 7)")


def test_place_service_on_a_pod_and_elsewhere():
    row, extra = new_row(), {}
    row["dst_kind"] = "pod"
    calico.place_service(row, extra, "shop", "web", "*", 80)
    assert (row["dst_service_namespace"], row["dst_service_name"]) == ("shop", "web")
    assert row["dst_service_port_name"] is None and row["dst_service_port"] == 80
    assert extra == {"dest_service_port": "*"}

    row, extra = new_row(), {}
    row["dst_kind"] = "external"
    calico.place_service(row, extra, None, "kubernetes", "https", 443)
    assert row["dst_service_name"] is None
    assert extra == {"dest_service": "-/kubernetes", "dest_service_port_num": "443"}

    row, extra = new_row(), {}
    row["dst_kind"] = "networkset"
    calico.place_service(row, extra, "ns", None, None, 443)
    assert extra == {}


@pytest.mark.parametrize(
    ("reporter", "src", "dst", "flows", "extra"),
    [
        ("src", "wep", "wep", 3, {}),
        ("dst", "wep", "wep", 0, {"num_flows": "3", "counted_by": "src"}),
        ("dst", "net", "wep", 3, {}),
        ("src", "net", "hep", 0, {"num_flows": "3", "counted_by": "dst"}),
    ],
)
def test_count_once(reporter, src, dst, flows, extra):
    row, out = new_row(), {}
    row["reporter"] = reporter
    calico.count_once(row, out, {"src": src, "dst": dst}, 3)
    assert row["flows"] == flows
    assert out == extra
