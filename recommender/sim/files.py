"""Writing generated files: atomically (a ``.tmp`` file renamed into place) and, when
gzipped, byte-reproducibly (gzip member with mtime 0 and no file name)."""

from __future__ import annotations

import gzip as _gzip
from pathlib import Path

__all__ = ["write_bytes"]


def write_bytes(path: Path, data: bytes, *, gzip: bool = False) -> Path:
    """Write ``data`` to ``path`` (gzip level 9 when ``gzip``); returns ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    if gzip:
        with (
            open(tmp, "wb") as raw,
            _gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as fh,
        ):
            fh.write(data)
    else:
        tmp.write_bytes(data)
    tmp.replace(path)
    return path
