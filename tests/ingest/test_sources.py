"""Reading input files into raw records: file lists, gzip, JSON lines, JSON arrays, and every
way a file can be broken (none of which may raise)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from recommender.ingest import sources
from recommender.ingest.sources import (
    InputError,
    Rejected,
    expand_inputs,
    file_kind,
    input_size,
    iter_records,
)


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


def test_file_kind(tmp_path):
    (tmp_path / "p").write_bytes(b"PAR1....PAR1")
    (tmp_path / "j").write_bytes(b"{}")
    (tmp_path / "e").write_bytes(b"")
    assert file_kind(str(tmp_path / "p")) == "parquet"
    assert file_kind(str(tmp_path / "j")) == "records"
    assert file_kind(str(tmp_path / "e")) == "records"


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
