"""File sniffing (``recommender.ingest.sniff``): gzip and Parquet magic, the start of a gzip
file's content, blank files."""

from __future__ import annotations

import gzip
import zlib

import pytest

from recommender.ingest import sniff


def test_magic_numbers(tmp_path):
    (tmp_path / "p").write_bytes(b"PAR1....PAR1")
    (tmp_path / "z").write_bytes(gzip.compress(b'{"a": 1}\n'))
    (tmp_path / "j").write_bytes(b"{}")
    (tmp_path / "e").write_bytes(b"")
    assert sniff.file_kind(str(tmp_path / "p")) == "parquet"
    for name in ("z", "j", "e"):
        assert sniff.file_kind(str(tmp_path / name)) == "records"
    assert sniff.is_parquet(str(tmp_path / "p")) and not sniff.is_parquet(str(tmp_path / "j"))
    assert not sniff.is_parquet(str(tmp_path / "missing"))  # never raises
    assert sniff.is_gzip(str(tmp_path / "z")) and not sniff.is_gzip(str(tmp_path / "e"))
    with pytest.raises(OSError):
        sniff.file_kind(str(tmp_path / "missing"))


def test_starts_gzip():
    assert sniff.starts_gzip(b"\x1f\x8b\x08")
    assert sniff.starts_gzip(b"\x1f")  # one byte: could be
    assert not sniff.starts_gzip(b"\x1fx")
    assert not sniff.starts_gzip(b"")


def test_content_head_gunzips_as_far_as_readable(tmp_path):
    text = b"time,src_ip,dst_ip\n" + b"x" * 1000
    assert sniff.content_head(text, 100) == text  # plain: as given
    packed = gzip.compress(text)
    assert sniff.content_head(packed, 10) == text[:10]
    # A damaged stream still gives what comes before the damage (a bad CRC: everything).
    damaged = packed[:-8] + b"\0" * 8
    assert sniff.content_head(damaged, 4096) == text
    path = tmp_path / "f.csv.gz"
    path.write_bytes(packed)
    assert sniff.file_head(str(path), 4096) == text
    # ``size`` bytes of the file are read: a prefix of the content.
    assert text.startswith(sniff.file_head(str(path), 30))


def test_inflate_until_error_stops_at_the_limit():
    data = gzip.compress(b"a" * 10_000)
    d = zlib.decompressobj(wbits=31)
    assert sniff.inflate_until_error(d, data, 100) == b"a" * 100
    d = zlib.decompressobj(wbits=31)
    assert sniff.inflate_until_error(d, data) == b"a" * 10_000
    d = zlib.decompressobj(wbits=31)
    assert sniff.inflate_until_error(d, b"\x1f\x8bgarbage") == b""


def test_is_blank(tmp_path):
    cases = {
        "empty": (b"", True),
        "spaces": (b" \n\t\n", True),
        "bom": (b"\xef\xbb\xbf\n", True),
        "gz": (gzip.compress(b"  \n"), True),
        "text": (b"a\n", False),
        "gztext": (gzip.compress(b"a"), False),
        "big": (b" " * 200, False),  # not under the size looked at
    }
    for name, (data, blank) in cases.items():
        (tmp_path / name).write_bytes(data)
        assert sniff.is_blank(str(tmp_path / name), 100) is blank, name
    assert not sniff.is_blank(str(tmp_path / "missing"), 100)
