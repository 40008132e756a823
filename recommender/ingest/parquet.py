"""Normalized flows <-> Parquet: the output of ``ingest`` and an input to every command.

Parquet inputs must be flow tables written by :func:`write_parquet` (or anything with every
:data:`~recommender.schema.FLOW_SCHEMA` column, castable to it). Their rows are already
normalized: each counts as read and normalized. Anything else is an InputError that names
the file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pyarrow as pa

from recommender.accounting import RecordCounts
from recommender.ingest import remote
from recommender.ingest.errors import InputError
from recommender.ingest.sources import file_size
from recommender.schema import ADDED_COLUMNS, FLOW_SCHEMA, SCHEMA_VERSION

NAME = "parquet"
_VERSION_KEY = b"netpol-recommender.schema_version"


def to_flow_schema(data: pa.RecordBatch | pa.Table) -> pa.RecordBatch | pa.Table:
    """Select and cast to FLOW_SCHEMA exactly (column order, types, metadata); an
    :data:`~recommender.schema.ADDED_COLUMNS` column the data lacks comes out null."""
    if data.schema.equals(FLOW_SCHEMA, check_metadata=True):
        return data
    names = data.schema.names
    arrays = [
        data.column(names.index(f.name)).cast(f.type)
        if f.name in names
        else pa.nulls(data.num_rows, f.type)
        for f in FLOW_SCHEMA
    ]
    if isinstance(data, pa.Table):
        return pa.Table.from_arrays(arrays, schema=FLOW_SCHEMA)
    return pa.RecordBatch.from_arrays(arrays, schema=FLOW_SCHEMA)


def _check_schema(path: str, schema: pa.Schema) -> None:
    missing = [n for n in FLOW_SCHEMA.names if n not in schema.names and n not in ADDED_COLUMNS]
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise InputError(
            f"{path}: Parquet file is not a flow table (missing {len(missing)} columns: {shown})"
        )
    version = (schema.metadata or {}).get(_VERSION_KEY)
    if version is not None and version != str(SCHEMA_VERSION).encode():
        raise InputError(
            f"{path}: flow table has schema version {version.decode(errors='replace')!r}; "
            f"this version reads {SCHEMA_VERSION}"
        )


def _check_nulls(path: str, batch: pa.RecordBatch) -> None:
    for field, column in zip(FLOW_SCHEMA, batch.columns, strict=True):
        if not field.nullable and column.null_count:
            raise InputError(f"{path}: column {field.name!r} has nulls; not a valid flow table")


def open_parquet(path: str) -> Any:
    """``pyarrow.parquet.ParquetFile`` of a path, or of an fsspec URL through its
    filesystem (so a dataset in object storage is read fragment by fragment, each file
    fetched in the ranges pyarrow asks for)."""
    import pyarrow.parquet as pq  # on use: Hubble ingest workers never need it

    if remote.is_url(path):
        fs, where = remote.filesystem(path)
        return pq.ParquetFile(where, filesystem=fs)
    return pq.ParquetFile(path)


def iter_batches(
    path: str,
    counts: RecordCounts,
    *,
    batch_size: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Batches of FLOW_SCHEMA from one Parquet file; counts each row as normalized."""
    try:
        pf = open_parquet(path)
        schema = pf.schema_arrow
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: unreadable Parquet file: {_one_line(exc)}") from None
    _check_schema(path, schema)
    size = file_size(path)
    total = max(pf.metadata.num_rows, 1)
    done = reported = 0
    try:
        columns = [n for n in FLOW_SCHEMA.names if n in schema.names]
        for batch in pf.iter_batches(batch_size=batch_size, columns=columns):
            batch = to_flow_schema(batch)
            _check_nulls(path, batch)
            counts.add_normalized(batch.num_rows)
            done += batch.num_rows
            if progress is not None:
                now = size * done // total
                progress(now - reported)
                reported = now
            yield batch
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: unreadable Parquet file: {_one_line(exc)}") from None
    finally:
        pf.close()
    if progress is not None and size > reported:
        progress(size - reported)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] if text else type(exc).__name__


def write_parquet(source: pa.Table | Iterable[pa.RecordBatch], path: str | os.PathLike) -> int:
    """Write flows to ``path`` atomically; returns the number of rows written.

    The data go to a temporary file in the same directory, which replaces ``path`` only
    once complete, so a reader never sees a half-written file. The schema (with its
    version metadata) is FLOW_SCHEMA exactly. ``path`` may be an fsspec URL
    (:func:`recommender.ingest.remote.staged`).
    """
    path = os.fspath(path)
    if remote.is_url(path):
        local = remote.local_path(path)
        if local is None:
            with remote.staged(path) as (fs, tmp), fs.open(tmp, "wb") as sink:
                return write_to(sink, batches_of(source))
        path = local
    directory = os.path.dirname(os.path.abspath(path))
    batches = batches_of(source)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    rows = 0
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; a flows file is ordinary data
        with os.fdopen(fd, "wb") as sink:
            rows = write_to(sink, batches)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return rows


def batches_of(source: pa.Table | Iterable[pa.RecordBatch]) -> Iterable[pa.RecordBatch]:
    """The record batches of a table, or the batches given."""
    return source.to_batches() if isinstance(source, pa.Table) else source


def write_to(sink: Any, batches: Iterable[pa.RecordBatch]) -> int:
    """Write the batches as one FLOW_SCHEMA Parquet file to the open binary ``sink``;
    returns the number of rows written."""
    import pyarrow.parquet as pq  # on use: Hubble ingest workers never need it

    rows = 0
    with pq.ParquetWriter(sink, FLOW_SCHEMA, compression="zstd") as writer:
        for batch in batches:
            if batch.num_rows:
                writer.write_batch(to_flow_schema(batch))
                rows += batch.num_rows
    return rows
