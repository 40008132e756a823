"""Tasks of the parallel path: what a task gives depends on its input only, not on what
the process ran before (a worker process keeps one parser per file for all its tasks)."""

from __future__ import annotations

import gzip
import os

import pyarrow as pa
from conftest import SAMPLE_FLOWS

from recommender.ingest import fast_hubble, parallel
from recommender.schema import FLOW_SCHEMA


def _range(path: str, bounds: tuple[int, int], legacy: bool) -> pa.Table:
    """A range task run here, its batches as one table (chunk per batch)."""
    result = parallel._range_task(None, None, path, *bounds, legacy, 1000)
    return pa.Table.from_batches(result.read(), schema=FLOW_SCHEMA)


def test_a_range_encodes_the_same_after_any_other_task_of_its_file(tmp_path):
    """A worker that already parsed other ranges of a file (in whatever order the
    scheduler gave them) gives a range's rows exactly as a fresh worker does, Arrow
    dictionaries included, so every part written from them has the same bytes."""
    plain = tmp_path / "plain.jsonl"
    with gzip.open(SAMPLE_FLOWS / "hubble-shop-worker.jsonl.gz") as f:
        plain.write_bytes(f.read())
    path = str(plain)
    legacy = fast_hubble.probe(path, None, 1000).legacy
    ranges = parallel._ranges(path, os.path.getsize(path), step=1 << 20)
    assert len(ranges) > 4
    try:
        for i, bounds in enumerate(ranges):
            parallel._PARSERS.clear()
            fresh = _range(path, bounds, legacy)
            parallel._PARSERS.clear()
            for other in reversed(ranges[i + 1 :] + ranges[:i]):
                _range(path, other, legacy)
            assert _range(path, bounds, legacy).equals(fresh), bounds
            assert fresh.num_rows > 0
    finally:
        parallel._PARSERS.clear()
