"""Dask as the engine past one machine: reading and connection aggregation as tasks on a
``dask.distributed`` cluster (``--engine dask``).

The tasks are the local parallel path's units (:func:`recommender.ingest.parallel.plan_tasks`):
line-aligned byte ranges of large Hubble files, blocks of lines of large gzip ones and whole
small files. Files the local path reads in its own process (Parquet, each file of a
dataset being one fragment; generic CSV; large files of other formats) are whole-file tasks
here. A task returns what a local worker returns (a partial aggregate, or for ``ingest`` its
batches) and the client merges the results in input order exactly as the local path does,
so every output is byte-identical to the local engine. Everything after ``connections``
runs in the client, on the small table.

Workers must have this package installed (the same version) and see the input paths, or
read the inputs given as fsspec URLs (``s3://...``: a task gets the URL and opens it itself,
so the protocol's package, e.g. ``s3fs``, must be installed on the workers too). A
worker runs one of these tasks at a time whatever its thread count (the parsers keep
per-process caches), so give workers one thread and run more of them.

Imported only when the engine is chosen: ``dask[distributed]`` and ``fsspec`` are the
optional extra ``[dask]``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from recommender.accounting import RecordCounts
from recommender.connections import StreamingAggregator
from recommender.ingest import parallel, remote
from recommender.ingest.plan import InputPlan, available_cpus
from recommender.ingest.sources import STDIN, file_size

if TYPE_CHECKING:
    from distributed import Client

    from recommender.ingest.enrich import Enrichment
    from recommender.ingest.inventory import Inventory

Progress = Callable[[int], None] | None

#: The environment variable naming the scheduler when ``--scheduler`` is not given.
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
#: Tasks submitted ahead of the one due next, per worker: results wait in input order, so
#: this bounds the client's memory whatever the input size.
AHEAD_PER_WORKER = 4
#: Rows per Parquet file of the dataset ``ingest --engine dask`` writes.
ROWS_PER_PART = 500_000

_TASK_LOCK = threading.Lock()


def run_task(
    settings: parallel.Settings,
    inventory: Inventory | None,
    aggregate: bool,
    fn: Callable[..., Any],
    *args: Any,
) -> Any:
    """One task on a worker: ``fn`` (a task of :mod:`recommender.ingest.parallel`) folded
    into a partial aggregate (``aggregate``) or giving its batches. The parsers keep
    per-process state, so the tasks of one worker process run one at a time."""
    with _TASK_LOCK:
        parallel.use_inventory(inventory)
        try:
            if aggregate:
                return parallel.aggregate_task(settings, None, fn, *args)
            return fn(settings, None, *args)
        finally:
            parallel.use_inventory(None)


@dataclass(frozen=True)
class DaskEngine:
    """Where the tasks run: the scheduler at ``scheduler``, else at the address in
    ``DASK_SCHEDULER_ADDRESS``, else a ``LocalCluster`` of one process per CPU."""

    scheduler: str | None = None

    @contextlib.contextmanager
    def client(self) -> Iterator[Client]:
        """A client of the cluster, closed (with the LocalCluster it started) on exit."""
        from distributed import Client, LocalCluster

        address = self.scheduler or os.environ.get(SCHEDULER_ENV) or None
        if address is not None:
            with Client(address) as client:
                yield client
            return
        with (
            LocalCluster(
                n_workers=available_cpus(),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client

    def aggregate(
        self,
        plan: InputPlan,
        format: str | None,
        counts: RecordCounts,
        progress: Progress,
        batch_size: int,
        enrich: Enrichment | None = None,
    ) -> StreamingAggregator:
        """What :func:`recommender.ingest.parallel.aggregate` does, with Dask tasks: the
        partial aggregates (and enrichment outcomes) merged in input order."""
        agg = StreamingAggregator()
        inventory = enrich.inventory if enrich is not None else None
        with self.client() as client:
            run = _Run(client, plan, format, counts, progress, batch_size, inventory, True)
            for item in run.results():
                if isinstance(item, pa.RecordBatch):  # standard input, read here
                    agg.add(item if enrich is None else enrich(item))
                    continue
                part = item.aggregator
                part.shift_lines(run.offset)
                agg.merge(part)
                if enrich is not None and item.enrich_stats is not None:
                    enrich.stats.merge(item.enrich_stats)
        return agg

    def iter_batches(
        self,
        plan: InputPlan,
        format: str | None,
        counts: RecordCounts,
        progress: Progress,
        batch_size: int,
    ) -> Iterator[pa.RecordBatch]:
        """FLOW_SCHEMA batches of the files of ``plan``, parsed by Dask tasks, in input
        order: the rows and accounting of the local engine."""
        with self.client() as client:
            run = _Run(client, plan, format, counts, progress, batch_size, None, False)
            for item in run.results():
                if isinstance(item, pa.RecordBatch):
                    yield item
                    continue
                for batch in item.read():
                    yield parallel.renumber(batch, run.offset)


class _Run:
    """The tasks of one read, submitted a few ahead, their results handed out in input
    order with their accounting merged (``offset``: the line number before the result)."""

    def __init__(
        self,
        client: Client,
        plan: InputPlan,
        format: str | None,
        counts: RecordCounts,
        progress: Progress,
        batch_size: int,
        inventory: Inventory | None,
        aggregate: bool,
    ) -> None:
        self.client = client
        self.plan = plan
        self.format = format
        self.counts = counts
        self.progress = progress
        self.batch_size = batch_size
        self.aggregate = aggregate
        self.settings = parallel.Settings.current()
        # Sent to the workers once, not with every task.
        self.inventory = client.scatter(inventory, broadcast=True) if inventory else None
        self.ahead = AHEAD_PER_WORKER * max(len(client.scheduler_info()["workers"]), 1)
        self.offset = 0

    def submit(self, task: Any) -> Any:
        """The task's future; None for a task of this process (standard input, an error)."""
        if task.call is not None:
            fn, args = task.call
        elif task.local is not None and task.path != STDIN:
            # Read in the local engine's own process; here a whole-file task like any other.
            fn = parallel.file_task
            args = (task.path, self.format, None, self.batch_size, self.plan.vpc_fields)
            with contextlib.suppress(OSError):
                task.progress_bytes = file_size(task.path)
        else:
            return None
        return self.client.submit(
            run_task, self.settings, self.inventory, self.aggregate, fn, *args, pure=False
        )

    def results(self) -> Iterator[Any]:
        """Each task's result (or batch of standard input) in input order."""
        planned = parallel.plan_tasks(
            self.plan.files,
            self.format,
            self.counts,
            self.progress,
            self.batch_size,
            self.settings,
            self.aggregate,
            self.plan.vpc_fields,
        )
        window: deque = deque()
        offsets: dict[str, int] = {}
        try:
            for task in planned:
                window.append((task, self.submit(task)))
                while len(window) > self.ahead:
                    yield from self.hand_out(*window.popleft(), offsets)
            while window:
                yield from self.hand_out(*window.popleft(), offsets)
        finally:
            for _, future in window:
                if future is not None:
                    future.cancel()

    def hand_out(self, task: Any, future: Any, offsets: dict[str, int]) -> Iterator[Any]:
        """One task's result, as the local parallel path hands it out."""
        if task.new_file:
            self.counts.files += 1
            offsets[task.path] = 0
        if task.error is not None:
            raise task.error
        if future is None:  # standard input, read here as it arrives
            yield from task.local()
            return
        result = future.result()  # raises the task's error, in its turn
        self.offset = offsets[task.path]
        for example in result.counts.examples:
            example.line += self.offset
        self.counts.merge(result.counts)
        yield result
        offsets[task.path] = self.offset + result.lines
        if self.progress is not None and task.progress_bytes:
            self.progress(task.progress_bytes)


def write_dataset(batches: Iterable[pa.RecordBatch], path: str | os.PathLike) -> int:
    """Write flows as a Parquet dataset: the directory ``path`` of ``part-NNNNNN.parquet``
    files in row order (each a flow table every command reads; a directory input is read
    in sorted order), replacing a file there. Returns the rows written.

    The parts go to a temporary directory beside ``path`` that takes its name only once
    complete, so a reader never sees half a dataset. ``path`` may be an fsspec URL
    (``s3://bucket/flows``): the parts are written there, staged the same way
    (:func:`recommender.ingest.remote.staged`).
    """
    from recommender.ingest.parquet import write_parquet

    path = os.fspath(path)
    if remote.is_url(path):
        local = remote.local_path(path)
        if local is None:
            return _write_remote_dataset(batches, path)
        path = local
    parent = os.path.dirname(os.path.abspath(path))
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=parent)
    rows = 0
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes 0700; a dataset is ordinary data
        for number, part in enumerate(_parts(batches)):
            rows += write_parquet(part, os.path.join(tmp, f"part-{number:06d}.parquet"))
        if os.path.isfile(path):
            os.unlink(path)
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return rows


def _write_remote_dataset(batches: Iterable[pa.RecordBatch], url: str) -> int:
    """:func:`write_dataset` to a URL of a remote filesystem (an object store)."""
    from recommender.ingest.parquet import write_to

    rows = 0
    with remote.staged(url) as (fs, tmp):
        fs.makedirs(tmp, exist_ok=True)
        for number, part in enumerate(_parts(batches)):
            with fs.open(f"{tmp}/part-{number:06d}.parquet", "wb") as sink:
                rows += write_to(sink, part)
    return rows


def _parts(batches: Iterable[pa.RecordBatch]) -> Iterator[list[pa.RecordBatch]]:
    """The batches in groups of about ROWS_PER_PART rows (one group at least)."""
    part: list[pa.RecordBatch] = []
    rows = 0
    written = False
    for batch in batches:
        if not batch.num_rows:
            continue
        part.append(batch)
        rows += batch.num_rows
        if rows >= ROWS_PER_PART:
            yield part
            part, rows, written = [], 0, True
    if part or not written:
        yield part
