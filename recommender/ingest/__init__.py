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

import gc
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from recommender.accounting import RecordCounts
from recommender.ingest import detect, sources
from recommender.ingest.errors import InputError
from recommender.ingest.parquet import write_parquet
from recommender.ingest.plan import RECORDS, plan_file, plan_inputs, read_whole
from recommender.ingest.reader import RecordParser, expander, new_parser
from recommender.ingest.sources import STDIN, Filtered, Rejected, input_size, iter_records
from recommender.schema import FLOW_SCHEMA, SCHEMA_VERSION

if TYPE_CHECKING:
    from recommender.connections import StreamingAggregator
    from recommender.ingest.dask_engine import DaskEngine
    from recommender.ingest.enrich import EnrichStats
    from recommender.ingest.inventory import Inventory

__all__ = [
    "FORMATS",
    "FlowSet",
    "InputError",
    "aggregate_inputs",
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


def iter_flow_batches(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    *,
    format: str | None = None,
    counts: RecordCounts,
    progress: Progress = None,
    batch_size: int = 50_000,
    workers: int | None = None,
    vpc_fields: Sequence[str] | str | None = None,
    engine: DaskEngine | None = None,
) -> Iterator[pa.RecordBatch]:
    """Stream FLOW_SCHEMA record batches from the inputs, filling ``counts`` as it goes.

    Paths are checked before this returns (a missing path raises InputError at once); a
    file of unknown format raises InputError when it is reached. ``progress(n)`` is called
    with the number of input bytes consumed since the last call (see :func:`input_size`).

    ``workers``: processes that parse, this one included (see
    :mod:`recommender.ingest.parallel`); 1 reads in this process only; None picks one per
    CPU for inputs of at least ``plan.AUTO_MIN_BYTES``, else 1. The rows, their order
    and the accounting are the same whatever the number; only batch boundaries differ.

    ``vpc_fields``: the LogFormat of AWS VPC flow log records that no header line names
    (CloudWatch Logs messages, headerless custom formats); field names or the
    ``${field}`` string, see :func:`recommender.ingest.aws_vpc.parse_log_format`
    (ValueError when it is not one).

    ``engine``: a :class:`~recommender.ingest.dask_engine.DaskEngine` parses on its
    cluster instead (``workers`` is then unused); ``file://`` URLs are inputs too.
    """
    plan = plan_inputs(
        inputs, format=format, workers=workers, batch_size=batch_size, vpc_fields=vpc_fields
    )
    if engine is not None:
        return engine.iter_batches(plan, format, counts, progress, batch_size)
    if plan.workers > 1:
        from recommender.ingest import parallel

        return parallel.iter_batches(
            plan.files,
            format,
            counts,
            progress,
            batch_size,
            plan.workers,
            vpc_fields=plan.vpc_fields,
        )
    return local_batches(
        plan.files, format, counts, progress, batch_size, vpc_fields=plan.vpc_fields
    )


def aggregate_inputs(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    *,
    format: str | None = None,
    counts: RecordCounts,
    inventory: Inventory | None = None,
    stats: EnrichStats | None = None,
    workers: int | None = None,
    progress: Progress = None,
    batch_size: int = 50_000,
    vpc_fields: Sequence[str] | str | None = None,
    engine: DaskEngine | None = None,
) -> StreamingAggregator:
    """Raw inputs -> a :class:`StreamingAggregator` holding their connections and pods: the
    one read path of ``recommend`` and ``verify``, with or without an inventory.

    The same aggregator (connections, pods, ``excluded``, ``records_used``) and the same
    ``counts`` as streaming :func:`iter_flow_batches` into one, but with several processes
    each task's batches are aggregated where they are parsed and only the partial
    aggregates travel between processes. With an ``inventory``, each batch is enriched
    (:func:`recommender.ingest.enrich.enrich_flows`, outcomes counted in ``stats``) before
    it is aggregated, in the process that parsed it. ``workers`` and ``vpc_fields`` as for
    :func:`iter_flow_batches`, and ``engine``: the tasks run on a Dask cluster.
    """
    from recommender.connections import StreamingAggregator

    plan = plan_inputs(
        inputs, format=format, workers=workers, batch_size=batch_size, vpc_fields=vpc_fields
    )
    enrich = None
    if inventory is not None:
        from recommender.ingest.enrich import Enrichment, EnrichStats

        enrich = Enrichment(inventory, stats if stats is not None else EnrichStats())
    if engine is not None:
        return engine.aggregate(plan, format, counts, progress, batch_size, enrich)
    if plan.workers > 1:
        from recommender.ingest import parallel

        return parallel.aggregate(plan, format, counts, progress, batch_size, enrich)
    agg = StreamingAggregator()
    # Enriched batches are FLOW_SCHEMA rows: Hubble records are folded only without one.
    batches = local_batches(
        plan.files,
        format,
        counts,
        progress,
        batch_size,
        fold=enrich is None,
        vpc_fields=plan.vpc_fields,
    )
    for batch in batches:
        agg.add(batch if enrich is None else enrich(batch))
    return agg


def local_batches(
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
    :meth:`fast_hubble.FastParser.run`); other files give FLOW_SCHEMA batches. Rows of
    consecutive record files share batches."""
    cols = sources.Rows()
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
            plan = plan_file(path, format, lookahead=LOOKAHEAD, fast=fast)
            if plan.kind == RECORDS:
                batches = _record_batches(
                    path, format, counts, progress, cols, batch_size, vpc_fields
                )
            else:
                if cols:
                    yield from hand_out(cols.flush())
                batches = read_whole(plan, counts, progress, batch_size, fold)
            for batch in batches:
                yield from hand_out(batch)
        if cols:
            yield from hand_out(cols.flush())
    finally:
        if gc_was_enabled:
            gc.enable()
        if STDIN in files:
            sources.close_stdin()


class _FileParser:
    """The parser of one record file, made once its format is known (from the lookahead,
    else from the first record that can be read)."""

    def __init__(self, path: str, vpc_fields: Sequence[str] | None) -> None:
        self.path = path
        self.vpc_fields = vpc_fields
        self.fmt: str | None = None
        self.parser: RecordParser | None = None
        self.expand: Callable[[Any], Any] | None = None

    def start(self, fmt: str | None, lookahead: list[Any]) -> None:
        """Make the parser of format ``fmt``."""
        reader = detect.load(fmt)
        aws = self.vpc_fields is not None and fmt == "aws-vpc"
        options = {"fields": self.vpc_fields} if aws else {}
        self.fmt = fmt
        self.parser = new_parser(reader, self.path, lookahead, **options)
        # Container records (an Elasticsearch search response, a Whisker page) hold many
        # flows: each inner flow is parsed and counted as a record of its own.
        self.expand = expander(reader)
        if self.path == STDIN:
            sources.stop_keeping_stdin()  # the parser made any pre-pass over the input


def _record_batches(
    path: str,
    format: str | None,
    counts: RecordCounts,
    progress: Progress,
    cols: sources.Rows,
    batch_size: int,
    vpc_fields: Sequence[str] | None,
) -> Iterator[pa.RecordBatch]:
    """Parse a record file into ``cols``, handing out a batch whenever it is full."""
    records = iter_records(path, progress)
    lookahead = list(islice(records, LOOKAHEAD))
    file = _FileParser(path, vpc_fields)
    fmt = format or detect.detect_file(path, lookahead)
    if fmt:
        file.start(fmt, [r for _, _, r in lookahead])
    add_rejected = counts.add_rejected
    for _, number, raw in chain(lookahead, records):
        if isinstance(raw, Rejected):
            add_rejected(path, number, raw.reason, raw.detail)
            continue
        if file.parser is None:
            # Nothing in the lookahead could be read (e.g. only over-long lines): detect
            # from the first record that can.
            file.start(detect.detect_file(path, [(path, number, raw)]), [raw])
        inner = file.expand(raw) if file.expand is not None else None
        for item in (raw,) if inner is None else inner:
            out = file.parser.parse(item)
            if isinstance(out, dict):
                out["schema_version"] = SCHEMA_VERSION
                out["source_format"] = file.fmt
                out["source_file"] = path
                out["source_record"] = number
                cols.append(out)
                counts.normalized += 1
                counts.read += 1
                if len(cols) >= batch_size:
                    yield cols.flush()
            elif isinstance(out, Filtered):
                counts.add_filtered(out.reason)
            else:
                add_rejected(path, number, out.reason, out.detail)


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
