"""Reading input files into raw records: file lists, gzip, JSON lines, JSON arrays, and every
way a file can be broken (none of which may raise)."""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.ingest import sources
from recommender.ingest.errors import InputError
from recommender.ingest.sources import Rejected, expand_inputs, input_size, iter_records

from .stdin import pipe_stdin


def records(path) -> list[tuple[int, object]]:
    return [(n, raw) for _, n, raw in iter_records(str(path))]


def rejected(recs) -> list[tuple[int, str]]:
    return [(n, r.reason) for n, r in recs if isinstance(r, Rejected)]


def good(recs) -> list[tuple[int, object]]:
    return [(n, r) for n, r in recs if not isinstance(r, Rejected)]


JSONL = b"".join(json.dumps({"i": i, "pad": "x" * (i % 7)}).encode() + b"\n" for i in range(300))


@pytest.fixture(params=[1 << 20, 7, 1])
def chunk(request, monkeypatch):
    """Run the test with the real chunk size and with tiny ones (every boundary case)."""
    monkeypatch.setattr(sources, "CHUNK", request.param)
    return request.param


# --------------------------------------------------------------------------- file lists


def test_expand_inputs_sorted_recursive_skips_hidden_and_docs(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / ".hidden").mkdir()
    for rel in [
        "z.json",
        "b/2.json",
        "b/10.json",
        "a/x.json.gz",
        ".hidden/h.json",
        ".dot.json",
        "README",
        "readme.txt",
        "notes.md",
        "a/README.md",
    ]:
        (tmp_path / rel).write_text("")
    got = [Path(p).relative_to(tmp_path).as_posix() for p in expand_inputs([tmp_path])]
    assert got == ["a/x.json.gz", "b/10.json", "b/2.json", "z.json"]


def test_expand_inputs_mix_keeps_order_and_explicit_files(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "1.json").write_text("")
    readme = tmp_path / "README.md"
    readme.write_text("")  # named explicitly: read, not skipped
    got = expand_inputs([readme, str(d)])
    assert got == [str(readme), str(d / "1.json")]
    assert expand_inputs(str(readme)) == [str(readme)]


def test_missing_path_is_input_error(tmp_path):
    with pytest.raises(InputError, match="nope.json: no such file"):
        expand_inputs([tmp_path / "nope.json"])


def test_input_size_sums_file_sizes(tmp_path):
    (tmp_path / "a.json").write_bytes(b"x" * 10)
    (tmp_path / "b.json").write_bytes(b"y" * 5)
    assert input_size([tmp_path]) == 15
    assert input_size([tmp_path / "a.json", tmp_path]) == 25


# --------------------------------------------------------------------------- JSON lines


def test_json_lines_numbers_blank_lines_crlf_bom(tmp_path, chunk):
    p = tmp_path / "f.json"
    p.write_bytes(b'\xef\xbb\xbf{"a":1}\r\n\n   \r\n\t\n{"b":2}\n\n{"c":3}')
    assert records(p) == [(1, {"a": 1}), (5, {"b": 2}), (7, {"c": 3})]


def test_json_lines_garbage_is_rejected_with_line_numbers(tmp_path, chunk):
    p = tmp_path / "f.json"
    lines = [
        b'{"a":1}',
        b"\xff\xfe\x00binary\x80garbage",
        b'{"truncated": ',
        b"not json at all",
        b'{"b":"\xc3\xa9"}',  # valid UTF-8 (e-acute)
        b"[" * 100_000,  # nested too deeply for the parser
        b"1234567890" * 1000,  # a 10000-digit integer: Python refuses to convert it
        b'{"c":3}',
    ]
    p.write_bytes(b"\n".join(lines) + b"\n")
    recs = records(p)
    assert good(recs) == [(1, {"a": 1}), (5, {"b": "é"}), (8, {"c": 3})]
    assert rejected(recs) == [
        (2, "invalid UTF-8"),
        (3, "invalid JSON"),
        (4, "invalid JSON"),
        (6, "invalid JSON"),
        (7, "invalid JSON"),
    ]


def test_line_too_long_is_skipped_not_parsed(tmp_path, chunk, monkeypatch):
    monkeypatch.setattr(sources, "MAX_LINE", 20)
    p = tmp_path / "f.json"
    p.write_bytes(
        b'{"a":1}\n'
        b'{"long":"' + b"x" * 100 + b'"}\n'
        b'{"b":2}\n'
        b'{"x":"' + b"y" * 12 + b'"}\n'  # exactly 20 bytes: allowed
        b'{"long":"' + b"x" * 100 + b'"}'  # last line, no newline
    )
    recs = records(p)
    assert good(recs) == [(1, {"a": 1}), (3, {"b": 2}), (4, {"x": "y" * 12})]
    assert rejected(recs) == [(2, "line too long"), (5, "line too long")]


def test_real_16mb_limit(tmp_path):
    p = tmp_path / "f.json"
    with p.open("wb") as f:
        f.write(b'{"a":1}\n{"s":"')
        f.write(b"x" * (sources.MAX_LINE + 10))
        f.write(b'"}\n{"b":2}\n')
    recs = records(p)
    assert good(recs) == [(1, {"a": 1}), (3, {"b": 2})]
    assert rejected(recs) == [(2, "line too long")]


def test_empty_and_whitespace_files(tmp_path):
    (tmp_path / "e").write_bytes(b"")
    (tmp_path / "w").write_bytes(b"\n \n\r\n")
    assert records(tmp_path / "e") == []
    assert records(tmp_path / "w") == []


# --------------------------------------------------------------------------- gzip


def test_gzip_detected_by_magic_not_extension(tmp_path, chunk):
    for name in ("f.json.gz", "f.json", "f"):
        p = tmp_path / name
        p.write_bytes(gzip.compress(JSONL))
        recs = records(p)
        assert len(recs) == 300 and not rejected(recs)
        assert recs[-1] == (300, {"i": 299, "pad": "x" * (299 % 7)})


def test_gzip_concatenated_members_and_nul_padding(tmp_path, chunk):
    p = tmp_path / "f.gz"
    p.write_bytes(gzip.compress(b'{"a":1}\n{"b":') + gzip.compress(b"2}\n") + b"\0" * 16)
    assert records(p) == [(1, {"a": 1}), (2, {"b": 2})]


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_truncated_gzip_keeps_what_was_read(tmp_path, chunk, cut):
    data = gzip.compress(JSONL)
    p = tmp_path / "f.gz"
    p.write_bytes(data[: int(len(data) * cut)])
    recs = records(p)
    kept = good(recs)
    # Everything before the break is intact and in order, then exactly one rejection.
    assert kept == [(i + 1, {"i": i, "pad": "x" * (i % 7)}) for i in range(len(kept))]
    assert rejected(recs) == [(len(kept) + 1, "corrupt gzip")]
    assert len(kept) < 300


def test_gzip_missing_trailer_and_trailing_garbage(tmp_path, chunk):
    data = gzip.compress(b'{"a":1}\n{"b":2}\n')
    p = tmp_path / "f.gz"
    p.write_bytes(data[:-4])  # length trailer gone: all data, but the stream is incomplete
    assert rejected(records(p)) == [(3, "corrupt gzip")]
    p.write_bytes(data + b"garbage")
    recs = records(p)
    assert good(recs) == [(1, {"a": 1}), (2, {"b": 2})]
    assert rejected(recs) == [(3, "corrupt gzip")]


def test_corrupt_gzip_body(tmp_path, chunk):
    data = bytearray(gzip.compress(JSONL))
    data[len(data) // 2 : len(data) // 2 + 40] = b"\xff" * 40
    p = tmp_path / "f.gz"
    p.write_bytes(bytes(data))
    recs = records(p)  # must not raise
    assert [r for _, r in recs if isinstance(r, Rejected)][-1].reason in (
        "corrupt gzip",
        "invalid JSON",
        "invalid UTF-8",
    )
    assert sum(1 for _, r in recs if isinstance(r, Rejected) and r.reason == "corrupt gzip") == 1
    p.write_bytes(b"\x1f\x8b not really gzip")
    assert records(p) == [(1, Rejected("corrupt gzip", records(p)[0][1].detail))]


def test_gzip_bomb_is_streamed(tmp_path):
    # 40 MiB on one line compress to ~40 KiB; it streams past in bounded pieces.
    p = tmp_path / "bomb.gz"
    p.write_bytes(gzip.compress(b"x" * (40 << 20) + b'\n{"a":1}\n', compresslevel=9))
    assert [(n, getattr(r, "reason", r)) for n, r in records(p)] == [
        (1, "line too long"),
        (2, {"a": 1}),
    ]


# --------------------------------------------------------------------------- JSON arrays


def test_json_array_streams_elements_with_indexes(tmp_path, chunk):
    p = tmp_path / "f.json"
    items = [{"i": i, "s": "x" * (i % 5)} for i in range(50)]
    p.write_text("\ufeff \n" + json.dumps(items, indent=2) + "\n")
    assert records(p) == [(i + 1, item) for i, item in enumerate(items)]
    p.write_text(json.dumps(items))  # one line
    assert records(p) == [(i + 1, item) for i, item in enumerate(items)]
    p.write_text(" [ ] ")
    assert records(p) == []


def test_json_array_gzipped(tmp_path, chunk):
    p = tmp_path / "f.json.gz"
    p.write_bytes(gzip.compress(json.dumps([{"a": 1}, {"b": 22222}]).encode()))
    assert records(p) == [(1, {"a": 1}), (2, {"b": 22222})]


@pytest.mark.parametrize(
    ("text", "kept", "reason"),
    [
        ('[{"a":1},{"b":2', 1, "invalid JSON"),  # truncated
        ('[{"a":1},', 1, "invalid JSON"),
        ('[{"a":1} {"b":2}]', 1, "invalid JSON"),  # missing comma
        ('[{"a":1},]', 1, "invalid JSON"),  # trailing comma
        ('[{"a":1}] trailing', 1, "invalid JSON"),
        ('[{"a":1}, nope, {"b":2}]', 1, "invalid JSON"),
    ],
)
def test_json_array_damage(tmp_path, chunk, text, kept, reason):
    p = tmp_path / "f.json"
    p.write_text(text)
    recs = records(p)
    assert good(recs) == [(1, {"a": 1})][:kept]
    assert rejected(recs) == [(kept + 1, reason)]


def test_json_array_invalid_utf8_and_long_element(tmp_path, chunk, monkeypatch):
    p = tmp_path / "f.json"
    p.write_bytes(b'[{"a":1}, {"b":"\xff"}, {"c":3}]')
    recs = records(p)
    assert good(recs) == [(1, {"a": 1})]
    assert rejected(recs) == [(2, "invalid UTF-8")]
    monkeypatch.setattr(sources, "MAX_LINE", 30)
    long_items = [
        {"s": "x" * 100},
        {"s": 'q\\"[{' * 30, "n": [[1, {"k": "]"}]] * 10},
        "y" * 100,
        [1] * 50,
        int("9" * 100),
    ]
    for item in long_items:
        p.write_text(json.dumps([{"a": 1}, item, {"c": 3}, 4]))
        recs = records(p)
        assert good(recs) == [(1, {"a": 1}), (3, {"c": 3}), (4, 4)], item
        assert rejected(recs) == [(2, "line too long")]
        p.write_text(json.dumps([{"a": 1}, item])[:-5])  # ends inside the long element
        recs = records(p)
        assert good(recs) == [(1, {"a": 1})]
        # (a cut number still decodes, and then the missing ']' is reported too)
        assert rejected(recs)[0] == (2, "line too long")
        assert len(rejected(recs)) == 1 + isinstance(item, int)


def test_json_array_truncated_gzip(tmp_path, chunk):
    data = gzip.compress(json.dumps([{"i": i} for i in range(2000)]).encode())
    p = tmp_path / "f.gz"
    p.write_bytes(data[: len(data) // 2])
    recs = records(p)
    kept = good(recs)
    assert kept == [(i + 1, {"i": i}) for i in range(len(kept))]
    assert rejected(recs) == [(len(kept) + 1, "corrupt gzip")]


# --------------------------------------------------------------------------- progress


def test_progress_adds_up_to_input_size(tmp_path, chunk):
    (tmp_path / "a.json").write_bytes(JSONL)
    (tmp_path / "b.json.gz").write_bytes(gzip.compress(JSONL))
    seen: list[int] = []
    for path in expand_inputs([tmp_path]):
        for _ in iter_records(path, seen.append):
            pass
    assert sum(seen) == input_size([tmp_path])
    assert all(n > 0 for n in seen)


# --------------------------------------------------------------------------- object streams


OBJECTS = [
    {"i": i, "flow": {"l4": {"TCP": {"port": 1000 + i}}, "names": ["a{", "}b"][: i % 3]}}
    for i in range(40)
]


def pretty_stream(objects, indent=2, sep="\n") -> tuple[str, list[int]]:
    """Objects pretty-printed one after the other, and the line each one starts on."""
    text, starts, line = "", [], 1
    for obj in objects:
        starts.append(line)
        piece = json.dumps(obj, indent=indent) + sep
        text += piece
        line += piece.count("\n")
    return text, starts


@pytest.mark.parametrize("indent", [2, 4, "\t"])
def test_pretty_printed_objects_are_records_numbered_by_their_first_line(tmp_path, chunk, indent):
    text, starts = pretty_stream(OBJECTS, indent)
    want = list(zip(starts, OBJECTS, strict=True))
    p = tmp_path / "pretty.json"
    p.write_text(text)
    assert records(p) == want
    p.write_bytes(text.replace("\n", "\r\n").encode())  # CRLF: the same lines
    assert records(p) == want
    p.write_bytes(gzip.compress(text.encode()))
    assert records(p) == want
    # A BOM and blank lines before the first object, blank lines between objects.
    text, starts = pretty_stream(OBJECTS[:3], indent, sep="\n\n \n")
    p.write_bytes(b"\xef\xbb\xbf\n\n" + text.encode())
    assert records(p) == [(n + 2, obj) for n, obj in zip(starts, OBJECTS[:3], strict=True)]


def test_objects_back_to_back_with_or_without_newlines(tmp_path, chunk):
    p = tmp_path / "f.json"
    p.write_text("".join(json.dumps(o) for o in OBJECTS))  # one line, no newline at all
    assert records(p) == [(1, o) for o in OBJECTS]
    a, b, c, d = OBJECTS[:4]
    p.write_text(f"{json.dumps(a)} {json.dumps(b)}\n{json.dumps(c)}\n{json.dumps(d, indent=1)}")
    assert records(p) == [(1, a), (1, b), (2, c), (3, d)]


@pytest.mark.parametrize(
    ("content", "mode"),
    [
        (b'{"a":1}\n{"b":2}\n', "lines"),  # JSON lines
        (b'{"a":1}\n{\n  "b": 2\n}\n', "lines"),  # a one-line object first: JSON lines
        (b'{\n  "a": 1\n}\n', "objects"),
        (b'{"a": 1,\n "b": 2}\n', "objects"),
        (b"{\n}\n", "objects"),
        (b'\xef\xbb\xbf \n{\n\t"a": 1\n}', "objects"),
        (b'{"a":1}{"b":2}', "objects"),
        (b'{"a":1} {"b":2}\n', "objects"),
        (b'{"a": \n{"b":1}\n{"c":2}\n', "lines"),  # a cut first line, then JSON lines
        (b'{"a": "cut\n{"b":1}\n', "lines"),
        (b'{garbage\n  "a": 1\n', "lines"),  # damage, not the start of an object
        (b"{\n2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 40 1 2 ACCEPT OK\n", "lines"),
        (b'{"a":1} trailing\n', "lines"),
        (b'[\n  {"a": 1}\n]\n', "array"),
    ],
)
def test_object_stream_detection(tmp_path, chunk, content, mode):
    p = tmp_path / "f"
    p.write_bytes(content)
    with p.open("rb") as f:
        got, chunks = sources.content_mode(str(p), f)
        assert b"".join(chunks) == content  # everything looked at is replayed
    assert got == mode


def test_text_file_whose_first_line_is_a_brace_stays_text(tmp_path):
    p = tmp_path / "vpc.log"
    p.write_text("{\n2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 40 1 2 ACCEPT OK\n")
    assert [type(r).__name__ for _, r in records(p)] == ["TextLine", "TextLine"]


def test_damage_in_an_object_stream_is_rejected_at_its_line_and_reading_resumes(tmp_path, chunk):
    p = tmp_path / "f.json"
    p.write_bytes(
        b"\n".join(
            [
                b"{",  # 1: cut short, the next object follows
                b'  "a": 1,',
                b'  "cut": {',
                b"{",  # 4
                b'  "b": 2',
                b"}",
                b"garbage line",  # 7
                b"more garbage",
                b'{"c": 3}{"d": "\xff"}',  # 9: invalid UTF-8 in the second object
                b"{",  # 10: a syntax error inside
                b'  "e": [1, 2,',
                b"}",
                b'{"f": 4}',  # 13
                b"{",  # 14: the input ends inside it
                b'  "g":',
            ]
        )
    )
    recs = records(p)
    assert good(recs) == [(4, {"b": 2}), (9, {"c": 3}), (13, {"f": 4})]
    assert rejected(recs) == [
        (1, "invalid JSON"),
        (7, "invalid JSON"),
        (9, "invalid UTF-8"),
        (10, "invalid JSON"),
        (14, "invalid JSON"),
    ]
    details = {n: r.detail for n, r in recs if isinstance(r, Rejected)}
    assert "line 4" in details[1] and "line 12" in details[10]
    assert all("\n" not in d for d in details.values())


def test_over_long_objects_are_stepped_over(tmp_path, chunk, monkeypatch):
    monkeypatch.setattr(sources, "MAX_LINE", 300)
    small = {"s": 1}
    long_objects = [
        {"s": "x" * 400},
        {"q": 'q\\"{[' * 40, "n": [[1, {"k": "}"}]] * 20},
    ]
    for big in long_objects:
        text, starts = pretty_stream([small, big, small])
        p = tmp_path / "f.json"
        p.write_text(text)
        recs = records(p)
        assert good(recs) == [(starts[0], small), (starts[2], small)]
        assert rejected(recs) == [(starts[1], "line too long")]
        p.write_text(text[: text.index(json.dumps(small, indent=2), 10)])  # ends in it
        recs = records(p)
        assert good(recs) == [(starts[0], small)]
        assert rejected(recs) == [(starts[1], "line too long")]


@pytest.mark.parametrize("cut", [0.3, 0.7])
def test_truncated_gzip_object_stream_keeps_what_was_read(tmp_path, chunk, cut):
    objects = [{"i": i, "pad": "x" * (i % 7)} for i in range(300)]
    text, starts = pretty_stream(objects)
    data = gzip.compress(text.encode())
    p = tmp_path / "f.json.gz"
    p.write_bytes(data[: int(len(data) * cut)])
    recs = records(p)
    kept = good(recs)
    assert kept == list(zip(starts, objects, strict=False))[: len(kept)]
    assert 0 < len(kept) < len(objects)
    [(line, reason)] = rejected(recs)
    assert reason == "corrupt gzip" and line >= starts[len(kept) - 1]


# --------------------------------------------------------------------------- standard input


def test_dash_is_standard_input_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.json").write_bytes(b"x" * 10)
    assert expand_inputs(["-", "a.json"]) == [sources.STDIN, "a.json"]
    with pytest.raises(InputError, match="^-: standard input can be given only once$"):
        expand_inputs(["-", "a.json", "-"])
    assert input_size(["-", "a.json"]) == 10  # standard input's size is not known
    # Files really named "-" or "<stdin>" stay files.
    (tmp_path / "-").write_text('{"dash": 1}\n')
    (tmp_path / "<stdin>").write_text('{"name": 1}\n')
    files = expand_inputs(["./-", "<stdin>"])
    assert files == ["./-", "./<stdin>"] and sources.STDIN not in files
    assert [r for f in files for _, _, r in iter_records(f)] == [{"dash": 1}, {"name": 1}]


@pytest.mark.parametrize("layout", ["lines", "gzip", "pretty", "array"])
def test_standard_input_reads_like_the_file(tmp_path, monkeypatch, chunk, layout):
    text, _ = pretty_stream(OBJECTS)
    data = {
        "lines": JSONL,
        "gzip": gzip.compress(JSONL),
        "pretty": text.encode(),
        "array": json.dumps(OBJECTS, indent=1).encode(),
    }[layout]
    p = tmp_path / "f"
    p.write_bytes(data)
    pipe_stdin(monkeypatch, data[:1000], data[1000:])
    seen: list[int] = []
    got = [(path, n, r) for path, n, r in iter_records(sources.STDIN, seen.append)]
    assert {path for path, _, _ in got} == {sources.STDIN}
    assert [(n, r) for _, n, r in got] == records(p) and len(got) > 1
    assert sum(seen) == len(data)


def test_standard_input_is_parsed_as_it_arrives(monkeypatch):
    monkeypatch.setattr(sources, "CHUNK", 1024)
    first, rest = JSONL[:5000], JSONL[5000:]
    written = threading.Event()
    writer = pipe_stdin(monkeypatch, first, rest, gate=written)
    records = iter_records(sources.STDIN)
    assert next(records)[1:] == (1, {"i": 0, "pad": ""})
    assert not written.is_set() and writer.is_alive()  # the rest is not even written yet
    written.set()
    assert len(list(records)) == 299


def test_standard_input_replay_until_the_reader_reads_on(monkeypatch):
    """Probes and a pre-pass each read standard input from its first byte (kept in a spool,
    in memory then on disk); once told to stop keeping it, the reader reads on from the
    stream, and nobody can go back."""
    monkeypatch.setattr(sources, "SPOOL_MEMORY", 100)  # the spool soon moves to disk
    data = JSONL[:5000]
    pipe_stdin(monkeypatch, data)
    with sources.open_input(sources.STDIN) as probe:
        assert probe.read(4) == data[:4]
    with sources.open_input(sources.STDIN) as prepass:
        assert prepass.read() == data
    reader = sources.open_input(sources.STDIN)
    assert reader.read(10) == data[:10]
    sources.stop_keeping_stdin()
    assert reader.read() == data[10:]
    with pytest.raises(InputError, match="standard input cannot be read twice"):
        sources.open_input(sources.STDIN).read(1)
    sources.close_stdin()
    assert sources.open_input(sources.STDIN).read() == b""  # the pipe is at its end


def test_standard_input_that_cannot_be_read_is_an_input_error(monkeypatch):
    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(InputError, match="no standard input"):
        list(iter_records(sources.STDIN))


def test_a_format_with_a_pre_pass_reads_standard_input_like_its_file(tmp_path, monkeypatch):
    """AWS VPC pairs the records of a whole file before parsing them: from standard input
    that pre-pass reads the kept copy, so the rows (orientation included) are the file's."""
    from recommender.ingest import read_flows
    from recommender.sim import shop_cluster, write_aws_vpc

    monkeypatch.setattr(sources, "SPOOL_MEMORY", 4096)  # the copy goes to disk
    [path, *_] = write_aws_vpc(shop_cluster(seed=3, hours=2), tmp_path, version=2, gzip=False)
    want = read_flows([path], workers=1)
    pipe_stdin(monkeypatch, path.read_bytes())
    got = read_flows(["-"], workers=2)  # standard input is read in this process anyway
    assert got.counts == want.counts and want.counts.read > 300
    assert got.table.drop_columns(["source_file"]).equals(want.table.drop_columns(["source_file"]))
    assert set(got.table.column("source_file").to_pylist()) == {sources.STDIN}
    assert want.table.column("is_reply").drop_null().to_pylist().count(True) > 0


@pytest.mark.parametrize("what", ["parquet", "csv", "format"])
def test_whole_file_formats_refuse_standard_input_in_one_line(tmp_path, monkeypatch, what):
    from recommender.ingest import read_flows, write_parquet

    format = None
    if what == "parquet":
        write_parquet(read_flows([]).table, tmp_path / "p")  # a flow table, no rows
        data = (tmp_path / "p").read_bytes()
    elif what == "csv":
        data = gzip.compress(b"src_ip,dst_ip,dst_port,protocol\n10.0.0.1,10.0.0.2,80,TCP\n")
    else:
        data, format = JSONL, "generic"
    pipe_stdin(monkeypatch, data)
    with pytest.raises(InputError, match=r"^<stdin>: .*(standard input|files only).*path$"):
        read_flows(["-"], format=format)


FRAGMENTS = [
    b"{",
    b"}",
    b"[",
    b"]",
    b'"',
    b"\\",
    b":",
    b",",
    b"\n",
    b"\r\n",
    b"  ",
    b"1",
    b"x",
    b"\xff",
    b"\xc3",
    b'"k": ',
    b'{"ok": 1}',
    b'\n{\n  "ok": 2\n}\n',
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(st.sampled_from(FRAGMENTS), max_size=40),
    chunk=st.sampled_from([1, 5, 1 << 20]),
    max_line=st.sampled_from([12, 1 << 20]),
)
def test_any_damage_in_an_object_stream_is_counted_never_raised(parts, chunk, max_line):
    data = b'{\n  "first": 1\n}\n' + b"".join(parts)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "f.json"
        p.write_bytes(data)
        saved = sources.CHUNK, sources.MAX_LINE
        sources.CHUNK, sources.MAX_LINE = chunk, max_line
        try:
            recs = records(p)
        finally:
            sources.CHUNK, sources.MAX_LINE = saved
    assert recs[0] == (1, {"first": 1}) or max_line == 12
    numbers = [n for n, _ in recs]
    assert numbers == sorted(numbers)
    assert all(1 <= n <= data.count(b"\n") + 1 for n in numbers)
    assert all(isinstance(r, dict | Rejected) for _, r in recs)
    assert all("\n" not in r.detail for _, r in recs if isinstance(r, Rejected))
