"""Raw flow logs (any mix of files, directories, ``.gz``, JSON lines, pretty-printed or
back-to-back JSON objects, JSON arrays, the Parquet written by :func:`write_parquet`, and
standard input as ``-``) -> one normalized Arrow table.

Every record read is accounted for: ``counts.read == normalized + rejected + filtered``.
Rejected records keep their file:line and reason; nothing in a file's content can raise,
only input that cannot be read at all (a missing path, an unknown format, unreadable
Parquet) raises :class:`InputError`.

While :func:`iter_flow_batches` is producing a batch, Python's cyclic garbage collector is
paused (it is restored whenever a batch is handed out and when the generator ends): parsing
creates only acyclic objects, and the collector would otherwise cost a third of the time.

Speed: Hubble JSON lines take a fast path (:mod:`recommender.ingest.fast_hubble`, typed
``msgspec`` decoding and per-value caches, about five times the reference parser) that gives
exactly the reference rows and accounting. ``workers=N`` parses with N processes
(:mod:`recommender.ingest.parallel`); by default inputs of a few hundred MB and more use one
per CPU. Memory stays bounded whatever the input size: files are read in chunks, batches
are handed out as they are made, and at most a few tasks are ahead of the consumer.

Typical use::

    flows = read_flows(["logs/"])            # FlowSet(table, counts)
    for batch in iter_flow_batches(paths, counts=counts):   # bounded memory
        ...
    write_parquet(flows.table, "flows.parquet")
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from typing import Any

import pyarrow as pa

from recommender.accounting import RecordCounts
from recommender.ingest import detect, fast_hubble, generic, parquet, sources
from recommender.ingest.parquet import write_parquet
from recommender.ingest.sources import (
    STDIN,
    Filtered,
    InputError,
    Rejected,
    expand_inputs,
    file_kind,
    input_size,
    iter_records,
    new_row,
)
from recommender.schema import FLOW_SCHEMA, SCHEMA_VERSION

__all__ = [
    "FORMATS",
    "FlowSet",
    "InputError",
    "iter_flow_batches",
    "input_size",
    "read_flows",
    "write_parquet",
]

#: Known format names (``--format`` values). The registry is ``detect.FORMAT_MODULES``.
FORMATS: tuple[str, ...] = detect.formats()
#: Records of each file buffered for detection and file-level rules (Hubble legacy reply).
LOOKAHEAD = 1000

Progress = Callable[[int], None] | None


@dataclass
class FlowSet:
    """Normalized flows (FLOW_SCHEMA exactly; row order = input order) and their accounting."""

    table: pa.Table
    counts: RecordCounts


class _Rows:
    """Rows accumulated as dicts (from ``new_row``: every column, schema order), turned
    into FLOW_SCHEMA record batches by transposing them at C speed."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.width = len(FLOW_SCHEMA)

    def append(self, row: dict[str, Any]) -> None:
        if len(row) != self.width:
            row = _aligned(row)
        self.rows.append(row)

    def __len__(self) -> int:
        return len(self.rows)

    def flush(self) -> pa.RecordBatch:
        columns = list(zip(*map(tuple, map(dict.values, self.rows)), strict=True))
        self.rows = []
        arrays = [
            pa.array(values, type=field.type)
            for field, values in zip(FLOW_SCHEMA, columns, strict=True)
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=FLOW_SCHEMA)


def _aligned(row: dict[str, Any]) -> dict[str, Any]:
    unknown = set(row) - set(FLOW_SCHEMA.names)
    if unknown:  # a parser bug, not bad input
        raise ValueError(f"row has columns not in FLOW_SCHEMA: {sorted(unknown)}")
    aligned = new_row()
    aligned.update(row)
    return aligned


def _check_format(format: str | None) -> None:
    if format is not None and format not in detect.FORMAT_MODULES:
        known = ", ".join(detect.FORMAT_MODULES)
        raise InputError(f"unknown format {format!r} (known: {known})")


def iter_flow_batches(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    *,
    format: str | None = None,
    counts: RecordCounts,
    progress: Progress = None,
    batch_size: int = 50_000,
    workers: int | None = None,
    vpc_fields: Sequence[str] | str | None = None,
) -> Iterator[pa.RecordBatch]:
    """Stream FLOW_SCHEMA record batches from the inputs, filling ``counts`` as it goes.

    Paths are checked before this returns (a missing path raises InputError at once); a
    file of unknown format raises InputError when it is reached. ``progress(n)`` is called
    with the number of input bytes consumed since the last call (see :func:`input_size`).

    ``workers``: processes that parse, this one included (see
    :mod:`recommender.ingest.parallel`); 1 reads in this process only; None picks one per
    CPU for inputs of at least ``parallel.AUTO_MIN_BYTES``, else 1. The rows, their order
    and the accounting are the same whatever the number; only batch boundaries differ.

    ``vpc_fields``: the LogFormat of AWS VPC flow log records that no header line names
    (CloudWatch Logs messages, headerless custom formats); field names or the
    ``${field}`` string, see :func:`recommender.ingest.aws_vpc.parse_log_format`
    (ValueError when it is not one).
    """
    _check_format(format)
    if vpc_fields is not None:
        from recommender.ingest.aws_vpc import parse_log_format

        vpc_fields = parse_log_format(vpc_fields)
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    if workers is not None and workers < 1:
        raise ValueError("workers must be positive")
    files = expand_inputs(inputs)
    from recommender.ingest import parallel

    if workers is None:
        total = 0
        for path in files:
            with contextlib.suppress(OSError):  # reported when the file is read
                total += os.path.getsize(path)
        workers = parallel.auto_workers(total)
    if all(path == STDIN for path in files):
        workers = 1  # standard input is read in this process, as it arrives
    if workers > 1:
        return parallel.iter_batches(
            files, format, counts, progress, batch_size, workers, vpc_fields=vpc_fields
        )
    return _batches(files, format, counts, progress, batch_size, vpc_fields=vpc_fields)


def _parser(fmt: str, path: str, lookahead: list[Any], vpc_fields: Sequence[str] | None) -> Any:
    """The parser of one file; ``vpc_fields`` goes to the AWS VPC one."""
    module = detect.load(fmt)
    if vpc_fields is not None and fmt == "aws-vpc":
        return module.Parser(path, lookahead, fields=vpc_fields)
    return module.Parser(path, lookahead)


def _batches(
    files: list[str],
    format: str | None,
    counts: RecordCounts,
    progress: Progress,
    batch_size: int,
    *,
    fast: bool = True,
    fold: bool = False,
    vpc_fields: Sequence[str] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Batches of ``files`` read in this process. ``fold``: Hubble files read fast give
    folded batches, which only the connections aggregator reads (see
    :meth:`fast_hubble.FastParser.run`); other files give FLOW_SCHEMA batches."""
    cols = _Rows()
    # Parsing makes millions of small acyclic objects (rows, tuples) that refcounting frees;
    # the cyclic GC would rescan the growing batch over and over (a third of the run time).
    # It is paused while this generator works and restored whenever it hands out a batch.
    gc_was_enabled = gc.isenabled()

    def hand_out(batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
        if gc_was_enabled:
            gc.enable()
        yield batch
        gc.disable()

    gc.disable()
    try:
        for path in files:
            counts.files += 1
            stdin = path == STDIN
            if stdin:
                _check_stdin(format)
            elif format == "generic" or (format is None and generic.claims(path)):
                if cols:
                    yield from hand_out(cols.flush())
                for batch in generic.iter_batches(
                    path, counts, batch_size=batch_size, progress=progress
                ):
                    yield from hand_out(batch)
                continue
            if file_kind(path) == "parquet" or format == "parquet":
                if cols:
                    yield from hand_out(cols.flush())
                for batch in parquet.iter_batches(
                    path, counts, batch_size=batch_size, progress=progress
                ):
                    yield from hand_out(batch)
                continue
            # Hubble JSON lines: the fast parser (same rows and accounting, ~5x faster).
            plan = fast_hubble.probe(path, format, LOOKAHEAD) if fast else None
            if plan is not None:
                if stdin:
                    sources.stop_keeping_stdin()
                if cols:
                    yield from hand_out(cols.flush())
                for batch in fast_hubble.iter_batches(
                    plan, counts, progress=progress, batch_size=batch_size, fold=fold
                ):
                    yield from hand_out(batch)
                continue
            records = iter_records(path, progress)
            lookahead = list(islice(records, LOOKAHEAD))
            fmt = format or detect.detect_file(path, lookahead)
            parser = _parser(fmt, path, [r for _, _, r in lookahead], vpc_fields) if fmt else None
            if stdin and parser is not None:
                sources.stop_keeping_stdin()  # the parser made any pre-pass over the input
            # Container records (an Elasticsearch search response, a Whisker page) hold many
            # flows: each inner flow is parsed and counted as a record of its own.
            expand = getattr(detect.load(fmt), "expand", None) if fmt else None
            add_rejected = counts.add_rejected
            for _, number, raw in chain(lookahead, records):
                if isinstance(raw, Rejected):
                    add_rejected(path, number, raw.reason, raw.detail)
                    continue
                if parser is None:
                    # Nothing in the lookahead could be read (e.g. only over-long lines):
                    # detect from the first record that can.
                    fmt = detect.detect_file(path, [(path, number, raw)])
                    parser = _parser(fmt, path, [raw], vpc_fields)
                    expand = getattr(detect.load(fmt), "expand", None)
                    if stdin:
                        sources.stop_keeping_stdin()
                inner = expand(raw) if expand is not None else None
                for item in (raw,) if inner is None else inner:
                    out = parser.parse(item)
                    if isinstance(out, dict):
                        out["schema_version"] = SCHEMA_VERSION
                        out["source_format"] = fmt
                        out["source_file"] = path
                        out["source_record"] = number
                        cols.append(out)
                        counts.normalized += 1
                        counts.read += 1
                        if len(cols) >= batch_size:
                            yield from hand_out(cols.flush())
                    elif isinstance(out, Filtered):
                        counts.add_filtered(out.reason)
                    else:
                        add_rejected(path, number, out.reason, out.detail)
        if cols:
            yield from hand_out(cols.flush())
    finally:
        if gc_was_enabled:
            gc.enable()
        if STDIN in files:
            sources.close_stdin()


def _check_stdin(format: str | None) -> None:
    """Standard input must hold records: Parquet and CSV (whole-file formats, which seek or
    read their file twice) are refused with one line."""
    if format in detect.FILE_FORMATS:
        raise InputError(
            f"{STDIN}: --format {format} reads files only; save the input to a file and "
            "pass its path"
        )
    try:
        with sources._open(STDIN) as f:
            head = f.read(generic.HEADER_BYTES)
    except OSError as exc:
        raise InputError(f"{STDIN}: cannot read: {exc.strerror or exc}") from None
    if head.startswith(sources.PARQUET_MAGIC):  # (read as Parquet whatever --format says)
        what = "Parquet"
    elif format is None and generic.claims_head(head):
        what = "generic CSV"
    else:
        return
    raise InputError(
        f"{STDIN}: {what} cannot be read from standard input; save it to a file and pass its path"
    )


def read_flows(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    *,
    format: str | None = None,
    progress: Progress = None,
    batch_size: int = 50_000,
    workers: int | None = None,
    vpc_fields: Sequence[str] | str | None = None,
) -> FlowSet:
    """Read every input into one FLOW_SCHEMA table, with the record accounting."""
    counts = RecordCounts()
    batches = list(
        iter_flow_batches(
            inputs,
            format=format,
            counts=counts,
            progress=progress,
            batch_size=batch_size,
            workers=workers,
            vpc_fields=vpc_fields,
        )
    )
    table = pa.Table.from_batches(batches, schema=FLOW_SCHEMA)
    return FlowSet(table=table, counts=counts)
