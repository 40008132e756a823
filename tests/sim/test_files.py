"""Writing generated files (recommender/sim/files.py)."""

from __future__ import annotations

import gzip
from pathlib import Path

from recommender.sim.files import write_bytes


def test_gzip_is_reproducible_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    a = write_bytes(tmp_path / "a.gz", b"line\n" * 100, gzip=True)
    b = write_bytes(tmp_path / "b.gz", b"line\n" * 100, gzip=True)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes()[4:8] == b"\0\0\0\0"  # mtime 0
    assert gzip.decompress(a.read_bytes()) == b"line\n" * 100
    plain = write_bytes(tmp_path / "c.txt", b"x")
    assert plain.read_bytes() == b"x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gz", "b.gz", "c.txt"]
