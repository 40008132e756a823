"""Flow tables in Parquet (``recommender.ingest.parquet``): written atomically with the
schema version, read back exactly, anything else refused with the file's name."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recommender.accounting import RecordCounts
from recommender.ingest import parquet, read_flows
from recommender.ingest.errors import InputError
from recommender.schema import FLOW_SCHEMA

SAMPLE = Path(__file__).resolve().parents[2] / "sample_flows" / "hubble-shop-control-plane.jsonl.gz"


@pytest.fixture(scope="module")
def flows() -> pa.Table:
    return read_flows([SAMPLE], workers=1).table


def test_round_trip(tmp_path, flows):
    path = tmp_path / "flows.parquet"
    assert parquet.write_parquet(flows, path) == flows.num_rows
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o644)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]  # no temporary left
    schema = pq.read_schema(path)
    assert schema.equals(FLOW_SCHEMA)
    assert schema.metadata[b"netpol-recommender.schema_version"] == b"1"
    counts, seen = RecordCounts(), []
    batches = list(parquet.iter_batches(str(path), counts, batch_size=500, progress=seen.append))
    assert all(b.num_rows <= 500 for b in batches) and len(batches) > 1
    got = pa.Table.from_batches(batches)
    assert got.schema.equals(FLOW_SCHEMA, check_metadata=True)
    assert got.to_pylist() == flows.to_pylist()
    assert counts.read == counts.normalized == flows.num_rows
    assert sum(seen) == os.path.getsize(path)


def test_write_from_batches_skips_empty_ones(tmp_path, flows):
    path = tmp_path / "flows.parquet"
    empty = pa.RecordBatch.from_pylist([], schema=FLOW_SCHEMA)
    assert parquet.write_parquet([empty, *flows.to_batches()], path) == flows.num_rows
    assert pq.read_table(path).num_rows == flows.num_rows


def test_extra_columns_and_order_are_cast_away(flows):
    table = flows.append_column("mine", pa.array([1] * flows.num_rows))
    table = table.select(list(reversed(table.column_names)))
    out = parquet.to_flow_schema(table)
    assert out.schema.equals(FLOW_SCHEMA, check_metadata=True)
    assert parquet.to_flow_schema(flows) is flows  # already exact: no copy


def test_not_a_flow_table(tmp_path, flows):
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"a": [1]}), path)
    with pytest.raises(InputError, match=r"other.parquet: Parquet file is not a flow table"):
        list(parquet.iter_batches(str(path), RecordCounts()))
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match="bad.parquet: unreadable Parquet file"):
        list(parquet.iter_batches(str(bad), RecordCounts()))


def test_other_schema_version_is_refused(tmp_path, flows):
    path = tmp_path / "v9.parquet"
    meta = {b"netpol-recommender.schema_version": b"9"}
    pq.write_table(flows.replace_schema_metadata(meta), path)
    with pytest.raises(InputError, match="schema version '9'"):
        list(parquet.iter_batches(str(path), RecordCounts()))


def test_nulls_in_required_columns_are_refused(tmp_path, flows):
    path = tmp_path / "nulls.parquet"
    i = flows.schema.get_field_index("protocol")
    loose = flows.schema.set(i, flows.schema.field(i).with_nullable(True))
    column = pa.nulls(flows.num_rows, flows.schema.field(i).type)
    table = flows.cast(loose).set_column(i, loose.field(i), column)
    pq.write_table(table, path)
    with pytest.raises(InputError, match="column 'protocol' has nulls"):
        list(parquet.iter_batches(str(path), RecordCounts()))


def test_failed_write_leaves_nothing(tmp_path, flows):
    path = tmp_path / "flows.parquet"

    def broken():
        yield flows.to_batches()[0]
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError):
        parquet.write_parquet(broken(), path)
    assert os.listdir(tmp_path) == []


def test_a_table_without_added_columns_reads_them_null(tmp_path, flows):
    # A flow table written before dns_ips existed (same schema version) still reads, and
    # the column it lacks comes back null; it is still a flow table, not a generic file.
    from recommender.ingest import generic
    from recommender.schema import ADDED_COLUMNS

    old = flows.drop_columns(sorted(ADDED_COLUMNS))
    path = tmp_path / "old.parquet"
    pq.write_table(old.replace_schema_metadata(FLOW_SCHEMA.metadata), path)
    assert not generic.claims(str(path))
    got = pa.Table.from_batches(list(parquet.iter_batches(str(path), RecordCounts())))
    assert got.schema.equals(FLOW_SCHEMA, check_metadata=True)
    assert got.column("dns_ips").null_count == flows.num_rows
    assert got.drop_columns(["dns_ips"]).to_pylist() == old.to_pylist()
