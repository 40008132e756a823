"""Ingest on several cores: this process and worker processes parse, batches come out in order.

:func:`iter_batches` gives exactly what the one-process reader gives (the same rows in the
same order, the same accounting and the same first rejection examples); only the batch
boundaries differ. The work is cut into tasks of bounded size:

* a plain Hubble JSON-lines file (see :func:`fast_hubble.probe`) is cut into line-aligned
  byte ranges of about :data:`RANGE_BYTES` (:data:`AGGREGATE_RANGES` times that when tasks
  aggregate; a quarter in
  the last :data:`TAIL_RANGES` ranges' worth of the input, so that the processes finish
  together); a task reads its range itself, with reads cut
  at the same offsets as a whole-file read, so line splitting is identical. Tasks number
  lines from 1 within their range; the lines before the range are added when its batches
  are handed out;
* a gzip Hubble file is decompressed and split into lines here (gzip is sequential) and
  parsed in blocks of about :data:`GZIP_BLOCK_BYTES`; a small one (up to
  :data:`WHOLE_GZIP_BYTES`) is one task;
* any other record file up to :data:`WHOLE_FILE_BYTES` (:data:`WHOLE_GZIP_BYTES` when
  compressed) is one task, read with the reference reader;
* Parquet, generic CSV and larger files of other formats are read here, in turn.

``workers`` counts the processes that parse, this one included: ``workers - 1`` worker
processes take tasks in input order, and this process, between handing out batches, parses
the next task nobody has started whenever the batch due next is not ready yet (its batches
wait for their turn). At most ``3 * workers - 1`` tasks are planned ahead (``2 * (workers
- 1) + AGGREGATE_AHEAD`` when tasks aggregate: their results are small) and results are
handed out in input order, so memory stays bounded whatever the input size. Workers return
Arrow IPC bytes and their :class:`RecordCounts`. They are started with ``spawn`` (no fork
of a process that may run Arrow threads) and do not re-run the caller's ``__main__`` module
(their tasks live in this module), so a script needs no ``if __name__ == "__main__"`` guard.
"""

from __future__ import annotations

import gc
import itertools
import os
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import context as mp_context
from multiprocessing import spawn
from typing import TYPE_CHECKING

import pyarrow as pa

from recommender.accounting import RecordCounts
from recommender.connections import StreamingAggregator
from recommender.ingest import fast_hubble, sniff, sources
from recommender.ingest.errors import InputError
from recommender.ingest.plan import GENERIC, PARQUET, InputPlan, plan_file
from recommender.ingest.sources import STDIN
from recommender.schema import FLOW_SCHEMA

if TYPE_CHECKING:
    from recommender.ingest.enrich import Enrichment, EnrichStats
    from recommender.ingest.inventory import Inventory

#: Bytes of a plain file per task (a line-aligned byte range).
RANGE_BYTES = 16 << 20
#: Aggregating tasks take this many times RANGE_BYTES: their results are small, and each
#: task has a fixed cost (an aggregation in Arrow).
AGGREGATE_RANGES = 4
#: The last four ranges' worth of the input is cut into quarter-size ranges, so that the
#: processes finish their last tasks at about the same time.
TAIL_RANGES = 4
#: Bytes of decompressed lines per task for a large gzip file.
GZIP_BLOCK_BYTES = 8 << 20
#: A gzip file up to this size (compressed) is one task; larger ones are decompressed here.
WHOLE_GZIP_BYTES = 4 << 20
#: A plain file of a format without a fast path up to this size is one task.
WHOLE_FILE_BYTES = 32 << 20
#: Tasks this process may run ahead of their turn when tasks aggregate (their results are
#: small partial aggregates, not batches).
AGGREGATE_AHEAD = 16

Progress = Callable[[int], None] | None
_RECORD = FLOW_SCHEMA.get_field_index("source_record")


# --------------------------------------------------------------------------- processes

_SPAWN_LOCK = threading.Lock()


class _WorkerProcess(mp_context.SpawnProcess):
    """A spawned process that does not import the parent's ``__main__``.

    Plain ``spawn`` re-runs the main script in every worker (an unguarded script would
    start reading its input again there); the tasks here need nothing from it.
    """

    @staticmethod
    def _Popen(process_obj):  # noqa: N802 - multiprocessing's name
        with _SPAWN_LOCK:
            original = spawn.get_preparation_data

            def without_main(name: str) -> dict:
                data = original(name)
                data.pop("init_main_from_path", None)
                data.pop("init_main_from_name", None)
                return data

            spawn.get_preparation_data = without_main
            try:
                return mp_context.SpawnProcess._Popen(process_obj)
            finally:
                spawn.get_preparation_data = original


class _WorkerContext(mp_context.SpawnContext):
    Process = _WorkerProcess


# --------------------------------------------------------------------------- tasks


@dataclass
class Settings:
    """Module settings a test (or caller) may have changed, replayed in each worker."""

    chunk: int
    max_line: int
    lookahead: int

    @classmethod
    def current(cls) -> Settings:
        import recommender.ingest as ingest

        return cls(sources.CHUNK, sources.MAX_LINE, ingest.LOOKAHEAD)

    def apply(self) -> None:
        import recommender.ingest as ingest

        sources.CHUNK = self.chunk
        sources.MAX_LINE = self.max_line
        ingest.LOOKAHEAD = self.lookahead


@dataclass
class _Result:
    #: The batches (a task run here), or None when they are in the ``spool`` file.
    batches: list[pa.RecordBatch] | None
    counts: RecordCounts
    lines: int = 0  # lines read (ranges and line blocks), to number the next task's lines
    spool: str | None = None  # an Arrow IPC stream file written by a worker
    #: An aggregating task's aggregator (its partial rows in ``spool`` when that is set).
    aggregator: StreamingAggregator | None = None
    #: What an aggregating task's enrichment counted (with an inventory).
    enrich_stats: EnrichStats | None = None

    def read(self) -> list[pa.RecordBatch]:
        """The batches; a spool file is read whole and removed."""
        if self.spool is None:
            return self.batches or []
        with open(self.spool, "rb") as f:
            data = f.read()
        os.unlink(self.spool)
        self.spool = None
        return list(pa.ipc.open_stream(data)) if data else []


_PARSERS: dict[tuple[str, bool], fast_hubble.FastParser] = {}
#: The aggregator of the aggregating task running in this process (see aggregate_task).
_FOLD: StreamingAggregator | None = None
#: The inventory that aggregating tasks enrich their batches with (in a worker: set once
#: when it starts, see use_inventory).
_INVENTORY: Inventory | None = None
#: The enrichment of the aggregating task running in this process (see aggregate_task).
_ENRICH: Enrichment | None = None


def use_inventory(inventory: Inventory | None) -> None:
    """Set the inventory aggregating tasks enrich with (a worker's initializer)."""
    global _INVENTORY
    _INVENTORY = inventory


def _folding() -> bool:
    """Do this task's Hubble records fold? Only when aggregated without enrichment (the
    inventory resolves each record at its own time)."""
    return _FOLD is not None and _ENRICH is None


def _parser(path: str, legacy: bool) -> fast_hubble.FastParser:
    """One FastParser per file and process, so its caches serve every task of the file.
    Tasks take it in any order (the scheduler's): its batches do not depend on what it
    parsed before (see fast_hubble._column)."""
    key = (path, legacy)
    parser = _PARSERS.get(key)
    if parser is None:
        if len(_PARSERS) >= 4:
            _PARSERS.clear()
        parser = _PARSERS[key] = fast_hubble.FastParser(path, legacy)
    return parser


def _collect(batches: Iterator[pa.RecordBatch], counts: RecordCounts, spool: str | None) -> _Result:
    """Run a task's batches; in a worker (``spool`` set) write them to that file.

    Workers hand batches over in files (on /dev/shm when it exists), not through the result
    pipe: reading a large message from the pipe needs the caller's interpreter lock for
    every 64 KB, and that process is busy parsing too.
    """
    gc_was_enabled = gc.isenabled()
    gc.disable()  # parsing makes only acyclic objects (see recommender.ingest.local_batches)
    try:
        if _FOLD is not None:  # an aggregating task (see aggregate_task)
            for batch in batches:
                _FOLD.add(batch if _ENRICH is None else _ENRICH(batch))
            return _Result([], counts)
        if spool is None:
            return _Result(list(batches), counts)
        with pa.OSFile(spool, "wb") as sink:
            writer = None
            for batch in batches:
                if writer is None:
                    writer = pa.ipc.new_stream(sink, batch.schema)
                writer.write_batch(batch)
            if writer is not None:
                writer.close()
    finally:
        if gc_was_enabled:
            gc.enable()
    # Arrow's allocator keeps freed pages for reuse; a worker gives them back after each
    # task so that its resident memory stays near its working set.
    pa.default_memory_pool().release_unused()
    return _Result(None, counts, spool=spool)


class _CountedBlocks:
    """Line blocks passing through, counted."""

    def __init__(self, blocks: Iterator[list]) -> None:
        self.blocks = blocks
        self.lines = 0

    def __iter__(self) -> Iterator[list]:
        for block in self.blocks:
            self.lines += len(block)
            yield block


def _range_task(
    settings: Settings | None,
    spool: str | None,
    path: str,
    start: int,
    end: int,
    legacy: bool,
    batch_size: int,
) -> _Result:
    """Bytes ``[start, end)`` (line-aligned) of a plain Hubble file; lines numbered from 1."""
    if settings is not None:
        settings.apply()
    counts = RecordCounts()
    with sources.open_input(path) as f:
        try:
            blocks = _CountedBlocks(
                sources.iter_line_blocks(fast_hubble.range_chunks(f, start, end))
            )
            rows = _parser(path, legacy).run(
                iter(blocks), counts, batch_size, bom=start == 0, fold=_folding()
            )
            result = _collect(rows, counts, spool)
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    result.lines = blocks.lines
    return result


def _lines_task(
    settings: Settings | None,
    spool: str | None,
    path: str,
    block: list,
    first: bool,
    legacy: bool,
    batch_size: int,
) -> _Result:
    """Lines of a gzip Hubble file (``first``: they start the file); numbered from 1."""
    if settings is not None:
        settings.apply()
    counts = RecordCounts()
    rows = _parser(path, legacy).run(iter([block]), counts, batch_size, bom=first, fold=_folding())
    result = _collect(rows, counts, spool)
    result.lines = len(block)
    return result


def file_task(
    settings: Settings | None,
    spool: str | None,
    path: str,
    format: str | None,
    plan: fast_hubble.Plan | None,
    batch_size: int,
    vpc_fields: tuple[str, ...] | None = None,
) -> _Result:
    """A whole file: fast Hubble (``plan``) or the reference reader."""
    if settings is not None:
        settings.apply()
    counts = RecordCounts()
    if plan is not None:
        with sources.open_input(path) as f:
            try:
                _, chunks = sources.content_mode(path, f)
                rows = _parser(path, plan.legacy).run(
                    sources.iter_line_blocks(chunks), counts, batch_size, fold=_folding()
                )
                return _collect(rows, counts, spool)
            except OSError as exc:
                raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    from recommender.ingest import local_batches

    rows = local_batches(
        [path], format, counts, None, batch_size, fast=False, vpc_fields=vpc_fields
    )
    result = _collect(rows, counts, spool)
    counts.files = 0  # counted where the batches are handed out
    return result


# --------------------------------------------------------------------------- planning


@dataclass
class _Task:
    """A unit of work, in input order: a call that any process can run, a file streamed
    here in its turn (``local``), or an error to raise in its turn."""

    path: str
    new_file: bool  # the first task of its file (counts.files, line numbering restart)
    #: ``fn(settings, spool, *args)``: settings and spool file in a worker, None here.
    call: tuple[Callable[..., _Result], tuple] | None = None
    local: Callable[[], Iterator[pa.RecordBatch]] | None = None
    progress_bytes: int = 0
    error: BaseException | None = None
    future: Future | None = field(default=None, repr=False)
    result: _Result | None = field(default=None, repr=False)

    @property
    def unstarted(self) -> bool:
        return (
            self.call is not None
            and self.future is None
            and self.result is None
            and self.error is None
        )


def _line_aligned(f, offset: int, size: int) -> int:
    """The first line start at or after ``offset`` (``size`` when none)."""
    if offset <= 0:
        return 0
    f.seek(offset - 1)
    pos = offset - 1
    while True:
        data = f.read(1 << 16)
        if not data:
            return size
        i = data.find(b"\n")
        if i >= 0:
            return min(pos + i + 1, size)
        pos += len(data)


def _ranges(path: str, size: int, tail: int = 0, step: int | None = None) -> list[tuple[int, int]]:
    """Line-aligned byte ranges of about ``step`` (RANGE_BYTES) bytes covering a file; in
    its last ``tail`` bytes, of about a quarter of that."""
    step = step or RANGE_BYTES
    bounds = [0]
    small = size - tail
    with sources.open_input(path) as f:
        target = step if small >= step else max(step // 4, 1)
        while target < size:
            b = _line_aligned(f, target, size)
            if b >= size:
                break
            if b > bounds[-1]:
                bounds.append(b)
            target = max(b, target)
            target += step if target + step <= small else max(step // 4, 1)
    bounds.append(size)
    return [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def plan_tasks(
    files: list[str],
    format: str | None,
    counts: RecordCounts,
    progress: Progress,
    batch_size: int,
    settings: Settings,
    aggregate: bool = False,
    vpc_fields: tuple[str, ...] | None = None,
) -> Iterator[_Task]:
    """Tasks in input order. A file that cannot be read becomes an error task in its place,
    so the error is raised in its turn, after the batches of the files before it."""
    step = RANGE_BYTES * (AGGREGATE_RANGES if aggregate else 1)
    sizes = []
    for path in files:
        try:
            sizes.append(0 if path == STDIN else sources.file_size(path))
        except OSError:  # reported in its turn
            sizes.append(0)
    after = sum(sizes)
    for path, size in zip(files, sizes, strict=True):
        after -= size
        tail = max(TAIL_RANGES * step - after, 0)
        first = True
        try:
            tasks = _file_tasks(
                path, format, counts, progress, batch_size, settings, tail, step, vpc_fields
            )
            for task in tasks:
                first = False
                yield task
        except InputError as exc:
            yield _Task(path, first, error=exc)


def _file_tasks(
    path: str,
    format: str | None,
    counts: RecordCounts,
    progress: Progress,
    batch_size: int,
    settings: Settings,
    tail: int = 0,
    step: int | None = None,
    vpc_fields: tuple[str, ...] | None = None,
) -> Iterator[_Task]:
    """The tasks of one file; ``tail`` and ``step``: how to cut it (see _ranges)."""
    from recommender.ingest import local_batches

    def local(fast: bool = False) -> Iterator[pa.RecordBatch]:
        sub = RecordCounts()
        try:
            yield from local_batches(
                [path], format, sub, progress, batch_size, fast=fast, vpc_fields=vpc_fields
            )
        finally:
            sub.files = 0  # counted by the caller
            counts.merge(sub)

    if path == STDIN:  # read here, once, as it arrives: no byte ranges, no second look
        yield _Task(path, True, local=lambda: local(fast=True))
        return
    file = plan_file(path, format, lookahead=settings.lookahead)
    if file.kind in (GENERIC, PARQUET):
        yield _Task(path, True, local=local)
        return
    size = sources.file_size(path)
    plan = file.hubble
    if plan is None:
        if size <= (WHOLE_GZIP_BYTES if sniff.is_gzip(path) else WHOLE_FILE_BYTES):
            call = (file_task, (path, format, None, batch_size, vpc_fields))
            yield _Task(path, True, call=call, progress_bytes=size)
        else:
            yield _Task(path, True, local=local)
        return
    if plan.gzip:
        if size <= WHOLE_GZIP_BYTES:
            call = (file_task, (path, format, plan, batch_size))
            yield _Task(path, True, call=call, progress_bytes=size)
        else:
            yield from _gzip_tasks(plan, progress, batch_size, settings)
        return
    for i, (start, end) in enumerate(_ranges(path, size, tail, step)):
        call = (_range_task, (path, start, end, plan.legacy, batch_size))
        yield _Task(path, i == 0, call=call, progress_bytes=end - start)


def _gzip_tasks(
    plan: fast_hubble.Plan, progress: Progress, batch_size: int, settings: Settings
) -> Iterator[_Task]:
    """Decompress here, in line blocks of about GZIP_BLOCK_BYTES, parsed as tasks."""
    path = plan.path
    first = True
    with sources.open_input(path) as f:
        try:
            _, chunks = sources.content_mode(path, f, progress)
            block: list = []
            size = 0
            for lines in sources.iter_line_blocks(chunks):
                block.extend(lines)
                size += sum(len(x) for x in lines if x.__class__ is bytes)
                if size >= GZIP_BLOCK_BYTES:
                    call = (_lines_task, (path, block, first, plan.legacy, batch_size))
                    yield _Task(path, first, call=call)
                    block, size, first = [], 0, False
            if block or first:
                call = (_lines_task, (path, block, first, plan.legacy, batch_size))
                yield _Task(path, first, call=call)
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------- driver


def aggregate_task(settings: Settings | None, spool: str | None, fn, *args) -> _Result:
    """Run ``fn`` (a task) folding its batches into an aggregator (``_Result.aggregator``);
    in a worker (``spool`` set) the aggregator's partial rows go to that file."""
    global _FOLD, _ENRICH
    agg = StreamingAggregator()
    enrich = None
    if _INVENTORY is not None:
        from recommender.ingest.enrich import Enrichment, EnrichStats

        enrich = Enrichment(_INVENTORY, EnrichStats())
    _FOLD, _ENRICH = agg, enrich
    try:
        result = fn(settings, None, *args)
    finally:
        _FOLD, _ENRICH = None, None
    result.aggregator = agg
    result.enrich_stats = enrich.stats if enrich is not None else None
    table = agg.partial_table()
    if spool is not None and table is not None:
        with pa.OSFile(spool, "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        agg.set_partial_table(None)
        result.spool = spool
        del table
        pa.default_memory_pool().release_unused()
    return result


def _run_here(task: _Task) -> None:
    """Run a task in this process ahead of its turn; its result waits in the task."""
    assert task.call is not None
    fn, args = task.call
    try:
        task.result = fn(None, None, *args)
    except InputError as exc:
        task.error = exc


def renumber(batch: pa.RecordBatch, offset: int) -> pa.RecordBatch:
    if offset == 0:
        return batch
    import pyarrow.compute as pc

    columns = list(batch.columns)
    columns[_RECORD] = pc.add(columns[_RECORD], pa.scalar(offset, pa.int64()))
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)


def _spool_dir() -> str:
    """A private directory for the workers' batch files: in memory (/dev/shm) if possible."""
    shm = "/dev/shm"
    base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
    return tempfile.mkdtemp(prefix="netpol-ingest-", dir=base)


class _Window:
    """The tasks planned ahead, in input order: which run where, and when (see _drive)."""

    def __init__(
        self,
        planned: Iterator[_Task],
        workers: int,
        aggregate: bool,
        settings: Settings,
        executor: ProcessPoolExecutor,
        spool: str,
    ) -> None:
        self.planned = planned
        self.tasks: deque[_Task] = deque()
        self.aggregate = aggregate
        self.settings = settings
        self.executor = executor
        self.spool = spool
        self.serial = itertools.count()
        self.max_submitted = 2 * (workers - 1)
        # Tasks that wait for their turn hold their batches; aggregating ones hold only a
        # small partial aggregate, so this process may run further ahead instead of waiting.
        self.max_window = self.max_submitted + (AGGREGATE_AHEAD if aggregate else workers + 1)
        self.submitted = 0
        self.exhausted = False

    def call(self, task: _Task) -> tuple[Callable[..., _Result], tuple]:
        """The task's call, wrapped in aggregate_task when tasks aggregate."""
        assert task.call is not None
        fn, args = task.call
        return (aggregate_task, (fn, *args)) if self.aggregate else (fn, args)

    def run_here(self, task: _Task) -> None:
        task.call = self.call(task)
        _run_here(task)

    def refill(self) -> None:
        # Planning is lazy: a large gzip file is decompressed as its tasks are due.
        while not self.exhausted and len(self.tasks) < self.max_window:
            task = next(self.planned, None)
            if task is None:
                self.exhausted = True
            else:
                self.tasks.append(task)
        for task in self.tasks:  # the earliest tasks go to the workers
            if self.submitted >= self.max_submitted:
                break
            if task.unstarted:
                fn, args = self.call(task)
                path = os.path.join(self.spool, f"{next(self.serial)}.arrow")
                task.future = self.executor.submit(fn, self.settings, path, *args)
                self.submitted += 1

    def next_due(self) -> _Task:
        """The task due next, once it can be handed out; meanwhile this process parses the
        tasks nobody has started."""
        while True:
            task = self.tasks[0]
            if task.future is not None and not task.future.done():
                # The batch due next is not ready: parse a task nobody has started.
                ahead = next((t for t in self.tasks if t.unstarted), None)
                if ahead is not None:
                    self.run_here(ahead)
                    self.refill()
                    continue
            return self.tasks.popleft()


def _drive(
    files: list[str],
    format: str | None,
    counts: RecordCounts,
    progress: Progress,
    batch_size: int,
    workers: int,
    aggregate: bool,
    vpc_fields: tuple[str, ...] | None = None,
    *,
    inventory: Inventory | None = None,
) -> Iterator[tuple[_Result, int] | pa.RecordBatch]:
    """Run the tasks of ``files`` and hand out, in input order, each task's result with the
    line offset of its first line in its file (its accounting already merged into
    ``counts``), or the batches of a file read here. ``aggregate``: tasks fold their
    batches into a :class:`StreamingAggregator` (``_Result.aggregator``) instead, enriched
    with ``inventory`` when one is given (each worker receives it once, when it starts)."""
    settings = Settings.current()
    planned = plan_tasks(
        files, format, counts, progress, batch_size, settings, aggregate, vpc_fields
    )
    offsets: dict[str, int] = {}
    spool = _spool_dir()
    executor = ProcessPoolExecutor(
        workers - 1, mp_context=_WorkerContext(), initializer=use_inventory, initargs=(inventory,)
    )
    window = _Window(planned, workers, aggregate, settings, executor, spool)

    def hand_out(task: _Task, result: _Result) -> Iterator[tuple[_Result, int]]:
        offset = offsets[task.path]
        for example in result.counts.examples:
            example.line += offset
        counts.merge(result.counts)
        yield result, offset
        offsets[task.path] = offset + result.lines
        if progress is not None and task.progress_bytes:
            progress(task.progress_bytes)

    done = False
    try:
        window.refill()
        while window.tasks:
            task = window.next_due()
            if task.new_file:
                counts.files += 1
                offsets[task.path] = 0
            if task.future is not None:
                window.submitted -= 1
                result = task.future.result()  # raises the task's error, in its turn
                window.refill()
                yield from hand_out(task, result)
            elif task.error is not None:
                raise task.error
            elif task.result is not None:
                result, task.result = task.result, None
                window.refill()
                yield from hand_out(task, result)
            elif task.local is not None:
                yield from task.local()
            else:  # a call nobody started: run it now
                window.run_here(task)
                if task.error is not None:
                    raise task.error
                assert task.result is not None
                yield from hand_out(task, task.result)
            window.refill()
        done = True
    finally:
        # When every task is done, the worker processes exit in their own time (tens of ms
        # that nobody needs to wait for); otherwise wait for them, so that no task still
        # running writes into the spool directory after it is removed.
        executor.shutdown(wait=not done, cancel_futures=True)
        _PARSERS.clear()
        shutil.rmtree(spool, ignore_errors=True)


def iter_batches(
    files: list[str],
    format: str | None,
    counts: RecordCounts,
    progress: Progress,
    batch_size: int,
    workers: int,
    *,
    vpc_fields: tuple[str, ...] | None = None,
) -> Iterator[pa.RecordBatch]:
    """FLOW_SCHEMA batches of ``files`` parsed by ``workers`` processes, this one included
    (see the module docstring). ``vpc_fields``: see ``iter_flow_batches``."""
    if workers < 2:
        raise ValueError("iter_batches needs at least 2 workers (1 is the one-process reader)")
    drive = _drive(files, format, counts, progress, batch_size, workers, False, vpc_fields)
    for item in drive:
        if isinstance(item, pa.RecordBatch):
            yield item
            continue
        result, offset = item
        for batch in result.read():
            yield renumber(batch, offset)


def aggregate(
    plan: InputPlan,
    format: str | None,
    counts: RecordCounts,
    progress: Progress,
    batch_size: int,
    enrich: Enrichment | None = None,
) -> StreamingAggregator:
    """The files of ``plan`` -> a :class:`StreamingAggregator`, each task's batches
    aggregated (and enriched, with ``enrich``) where they are parsed: what
    :func:`recommender.ingest.aggregate_inputs` does with several processes. The partial
    aggregates and enrichment outcomes are merged in input order."""
    agg = StreamingAggregator()
    inventory = enrich.inventory if enrich is not None else None
    # The parsers' caches hold many small acyclic objects that refcounting frees: the
    # cyclic GC would rescan them after every task (see recommender.ingest.local_batches).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    use_inventory(inventory)  # for the tasks this process runs
    try:
        drive = _drive(
            plan.files,
            format,
            counts,
            progress,
            batch_size,
            plan.workers,
            True,
            plan.vpc_fields,
            inventory=inventory,
        )
        for item in drive:
            if isinstance(item, pa.RecordBatch):  # a file read here, in its turn
                agg.add(item if enrich is None else enrich(item))
                continue
            result, offset = item
            part = result.aggregator
            assert part is not None
            if result.spool is not None:
                batches = result.read()
                part.set_partial_table(pa.Table.from_batches(batches) if batches else None)
            part.shift_lines(offset)  # the task's lines are numbered from its range's start
            agg.merge(part)
            if enrich is not None and result.enrich_stats is not None:
                enrich.stats.merge(result.enrich_stats)
    finally:
        use_inventory(None)
        if gc_was_enabled:
            gc.enable()
    return agg
