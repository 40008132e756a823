"""The record-parser plumbing the format parsers share (``recommender.ingest.common``)."""

from __future__ import annotations

import pytest

from recommender.ingest import antrea, aws_vpc, calico, common, gadget, generic, goldmane, values
from recommender.ingest.common import Bad, RecordParser, invalid, malformed
from recommender.ingest.sources import Filtered, Rejected

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
    assert generic.family is values.family
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


def test_aws_vpc_uses_the_shared_values():
    assert aws_vpc._invalid("action", "NOPE").rejected() == Rejected(
        "invalid action", "action='NOPE'"
    )
    with pytest.raises(Bad) as caught:
        aws_vpc._ip("10.1", "srcaddr")
    assert caught.value.rejected() == Rejected("invalid IP", "srcaddr='10.1'")
