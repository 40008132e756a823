"""Which reader reads each input: the file plan that the one-process reader
(:mod:`recommender.ingest`) and the parallel one (:mod:`recommender.ingest.parallel`) share.

:func:`plan_inputs` checks the reading options and expands the inputs into files, with the
number of processes that will parse them; :func:`plan_file` says how one file is read:

* ``generic``: a CSV or Parquet file with the generic column mapping (``--format generic``,
  or claimed by :func:`recommender.ingest.generic.claims`), read whole;
* ``parquet``: a flow table written by ``ingest`` (Parquet magic, or ``--format parquet``);
* ``hubble``: Hubble JSON lines, read by the fast parser (:mod:`fast_hubble`; same rows and
  accounting as the reference parser, about five times faster);
* ``records``: any other record file, read record by record by its format's parser.

:func:`read_whole` reads the first three. Standard input holds records only: Parquet and
CSV there are refused with one line (:func:`check_stdin`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pyarrow as pa

from recommender.accounting import RecordCounts
from recommender.ingest import detect, fast_hubble, generic, parquet, sniff, sources
from recommender.ingest.errors import InputError
from recommender.ingest.sources import STDIN, expand_inputs

GENERIC = "generic"
PARQUET = "parquet"
HUBBLE = "hubble"
RECORDS = "records"

Progress = Callable[[int], None] | None

#: Inputs at least this large are read in parallel when ``workers`` is left to choose
#: (starting the workers costs about half a second).
AUTO_MIN_BYTES = 256 << 20
#: At most this many processes parse when ``workers`` is left to choose.
AUTO_MAX_WORKERS = 8


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def auto_workers(total_bytes: int) -> int:
    """Processes to parse ``total_bytes`` of input: 1 (this one) below AUTO_MIN_BYTES."""
    cpus = available_cpus()
    if cpus < 2 or total_bytes < AUTO_MIN_BYTES:
        return 1
    return min(cpus, AUTO_MAX_WORKERS)


@dataclass(frozen=True)
class InputPlan:
    """The files to read (in input order), how many processes parse them (this one
    included) and the AWS VPC LogFormat of headerless records, parsed."""

    files: list[str]
    workers: int
    vpc_fields: tuple[str, ...] | None = None


@dataclass(frozen=True)
class FilePlan:
    """How one file is read: ``kind`` is GENERIC, PARQUET, HUBBLE (``hubble`` holds the
    fast parser's plan) or RECORDS."""

    path: str
    kind: str
    hubble: fast_hubble.Plan | None = None


def check_format(format: str | None) -> None:
    """InputError for a ``--format`` value that names no format."""
    if format is not None and format not in detect.FORMAT_MODULES:
        known = ", ".join(detect.FORMAT_MODULES)
        raise InputError(f"unknown format {format!r} (known: {known})")


def plan_inputs(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    *,
    format: str | None,
    workers: int | None,
    batch_size: int,
    vpc_fields: Sequence[str] | str | None,
) -> InputPlan:
    """Check the reading options and expand the inputs (a missing path raises InputError
    at once). ``workers`` None picks one per CPU for inputs of at least
    ``AUTO_MIN_BYTES``, else 1; standard input alone is read by this process."""
    check_format(format)
    fields = None
    if vpc_fields is not None:
        from recommender.ingest.aws_vpc import parse_log_format

        fields = parse_log_format(vpc_fields)
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    if workers is not None and workers < 1:
        raise ValueError("workers must be positive")
    files = expand_inputs(inputs)
    if workers is None:
        total = 0
        for path in files:
            with contextlib.suppress(OSError):  # reported when the file is read
                total += sources.file_size(path)
        workers = auto_workers(total)
    if all(path == STDIN for path in files):
        workers = 1  # standard input is read in this process, as it arrives
    return InputPlan(files, workers, fields)


def check_stdin(format: str | None) -> None:
    """Standard input must hold records: Parquet and CSV (whole-file formats, which seek or
    read their file twice) are refused with one line."""
    if format in detect.FILE_FORMATS:
        raise InputError(
            f"{STDIN}: --format {format} reads files only; save the input to a file and "
            "pass its path"
        )
    head = sources.head_bytes(STDIN, generic.HEADER_BYTES)
    if head.startswith(sniff.PARQUET_MAGIC):  # (read as Parquet whatever --format says)
        what = "Parquet"
    elif format is None and generic.claims_head(head):
        what = "generic CSV"
    else:
        return
    raise InputError(
        f"{STDIN}: {what} cannot be read from standard input; save it to a file and pass its path"
    )


def _is_parquet(path: str) -> bool:
    try:
        return sniff.file_kind(path) == "parquet"
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def plan_file(path: str, format: str | None, *, lookahead: int, fast: bool = True) -> FilePlan:
    """How ``path`` is read (``format``: the ``--format`` value or None). ``lookahead``:
    records the fast Hubble probe looks at; ``fast`` False never plans the fast parser."""
    if path == STDIN:
        check_stdin(format)
    elif format == GENERIC or (format is None and generic.claims(path)):
        return FilePlan(path, GENERIC)
    elif _is_parquet(path) or format == PARQUET:
        return FilePlan(path, PARQUET)
    hubble = fast_hubble.probe(path, format, lookahead) if fast else None
    if hubble is not None:
        return FilePlan(path, HUBBLE, hubble)
    return FilePlan(path, RECORDS)


def read_whole(
    plan: FilePlan, counts: RecordCounts, progress: Progress, batch_size: int, fold: bool
) -> Iterator[pa.RecordBatch]:
    """The batches of a GENERIC, PARQUET or HUBBLE file (``fold``: Hubble gives folded
    batches, which only the connections aggregator reads)."""
    path = plan.path
    if plan.kind == GENERIC:
        return generic.iter_batches(path, counts, batch_size=batch_size, progress=progress)
    if plan.kind == PARQUET:
        return parquet.iter_batches(path, counts, batch_size=batch_size, progress=progress)
    if plan.kind == HUBBLE:
        assert plan.hubble is not None
        if path == STDIN:
            sources.stop_keeping_stdin()
        return fast_hubble.iter_batches(
            plan.hubble, counts, progress=progress, batch_size=batch_size, fold=fold
        )
    raise ValueError(f"{path}: a {plan.kind} file is read record by record")
