"""What kind of file is this, from its first bytes: gzip, Parquet, or record text.

The one place that knows the magic numbers and how to look inside the start of a gzip file,
used by the record reader (:mod:`recommender.ingest.sources`), the generic CSV/Parquet
reader (:mod:`recommender.ingest.generic`) and the file plan (:mod:`recommender.ingest.plan`).
A path may be an fsspec URL (:mod:`recommender.ingest.remote`).
"""

from __future__ import annotations

import zlib
from typing import Any

from recommender.ingest import remote

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
BOM = b"\xef\xbb\xbf"


def _open(path: str) -> Any:
    """The file (or fsspec URL) opened for binary reading; OSError when it cannot be."""
    if remote.is_url(path):
        return remote.open_url(path)
    return open(path, "rb")  # noqa: SIM115 - closed by the callers' ``with``


def starts_gzip(data: bytes) -> bool:
    """Do these first bytes of a file start a gzip stream (one byte: could they)?"""
    return data.startswith(GZIP_MAGIC) or (len(data) == 1 and data == GZIP_MAGIC[:1])


def is_gzip(path: str) -> bool:
    """Is the file gzip-compressed? OSError when it cannot be read."""
    with _open(path) as f:
        return f.read(2) == GZIP_MAGIC


def is_parquet(path: str) -> bool:
    """Does the file start with the Parquet magic? Never raises (False when unreadable)."""
    try:
        with _open(path) as f:
            return f.read(4) == PARQUET_MAGIC
    except OSError:
        return False


def file_kind(path: str) -> str:
    """``"parquet"`` for a Parquet file (magic ``PAR1``), else ``"records"``. OSError when
    it cannot be read."""
    with _open(path) as f:
        return "parquet" if f.read(4) == PARQUET_MAGIC else "records"


def inflate_until_error(d: Any, data: bytes, limit: int | None = None) -> bytes:
    """What the decompressor ``d`` inflates from ``data`` before the first error, fed one
    byte at a time (zlib drops the output of a call that fails), at most ``limit`` bytes
    (about 2 KB of output per input byte when None, so bounded anyway)."""
    out = bytearray()
    try:
        for i in range(len(data)):
            out += d.decompress(data[i : i + 1])
            if d.eof or (limit is not None and len(out) >= limit):
                break
    except zlib.error:
        pass
    return bytes(out if limit is None else out[:limit])


def content_head(head: bytes, size: int) -> bytes:
    """The content of a file's first bytes, gunzipped when they are gzip, as far as readable
    (damage further on, even a bad CRC of a small file, never hides the start)."""
    if head[:2] != GZIP_MAGIC:
        return head
    d = zlib.decompressobj(wbits=31)
    saved = d.copy()
    try:
        return d.decompress(head, size)
    except zlib.error:
        return inflate_until_error(saved, head, size)


def file_head(path: str, size: int) -> bytes:
    """The first ``size`` bytes of a file's content (see :func:`content_head`). OSError when
    it cannot be read."""
    with _open(path) as f:
        return content_head(f.read(size), size)


def is_blank(path: str, size: int) -> bool:
    """Is the content (under ``size`` bytes) nothing but whitespace or a BOM, also once
    gunzipped? Never raises."""
    try:
        with _open(path) as f:
            data = f.read(size)
    except OSError:
        return False
    if len(data) >= size:
        return False
    if data[:2] == GZIP_MAGIC:
        d = zlib.decompressobj(wbits=31)
        try:
            content = d.decompress(data, size)
        except zlib.error:
            return False
        if not d.eof or d.unused_data or d.unconsumed_tail:
            return False
        data = content
    if data.startswith(BOM):
        data = data[3:]
    return not data.strip()
