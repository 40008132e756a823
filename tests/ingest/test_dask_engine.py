"""``--engine dask``: the same outputs, byte for byte, as the local engine.

One two-worker ``LocalCluster`` (worker processes, one thread each, as the engine's own
default cluster runs) serves the whole module; each command runs twice through the real
CLI, once per engine, and every output file is compared.
"""

from __future__ import annotations

import gzip
import shutil
import threading
import uuid
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import SAMPLE_FLOWS
from distributed import LocalCluster

from recommender.accounting import RecordCounts
from recommender.cli import main
from recommender.ingest import dask_engine, parallel, read_flows
from recommender.ingest.dask_engine import write_dataset
from recommender.schema import FLOW_SCHEMA


@pytest.fixture(scope="module")
def scheduler():
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def _run(*args: str) -> tuple[str, str]:
    """The CLI's (stdout, stderr); it must succeed."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _recommend_both(tmp_path: Path, scheduler: str, local_input: str, dask_input: str) -> None:
    """recommend with each engine: every file and the printed lines are the same (the
    inputs named as given: ``dask_input`` reads as ``local_input`` there)."""
    local = _run("recommend", local_input, "-o", str(tmp_path / "local"))
    dask = _run(
        "recommend", dask_input, "-o", str(tmp_path / "dask"), "--engine", "dask",
        "--scheduler", scheduler,
    )  # fmt: skip
    files = _files(tmp_path / "local")
    given = dask_input.encode(), local_input.encode()
    assert files and {k: v.replace(*given) for k, v in _files(tmp_path / "dask").items()} == files
    assert local == tuple(
        s.replace(dask_input, local_input).replace("/dask", "/local") for s in dask
    )


@pytest.fixture(scope="module")
def threads_scheduler():
    """Two workers in this process (threads, no worker processes): they see the files of
    this process's ``memory://`` filesystem."""
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def memory_flows(tmp_path):
    """The same files in ``tmp_path/flows`` and in a fresh ``memory://`` folder (its URL):
    the samples and one plain Hubble file large enough to be cut into byte ranges."""
    local = tmp_path / "flows"
    local.mkdir()
    for path in SAMPLE_FLOWS.glob("*.gz"):
        shutil.copy(path, local / path.name)
    with gzip.open(SAMPLE_FLOWS / "hubble-shop-worker.jsonl.gz") as f:
        (local / "plain.jsonl").write_bytes(f.read())
    fs = fsspec.filesystem("memory")
    root = f"/t{uuid.uuid4().hex}"
    for path in local.iterdir():
        fs.pipe(f"{root}/flows/{path.name}", path.read_bytes())
    yield str(local), f"memory:/{root}/flows"
    fs.rm(root, recursive=True)


def test_memory_urls_on_workers_are_byte_identical(
    tmp_path, threads_scheduler, memory_flows, monkeypatch
):
    """Workers open the URLs themselves, byte ranges of the plain file included."""
    local, url = memory_flows
    monkeypatch.setattr(parallel, "RANGE_BYTES", 128 << 10)  # the client plans the ranges
    settings = parallel.Settings.current()
    tasks = parallel.plan_tasks(
        [f"{url}/plain.jsonl"], None, RecordCounts(), None, 50, settings, True
    )
    assert len([t for t in tasks if t.call is not None]) > 4
    _recommend_both(tmp_path, threads_scheduler, local, url)
    args = ("verify", "--policies", str(tmp_path / "local" / "policies"))
    expected = _run(*args, local)
    dask = _run(*args, url, "--engine", "dask", "--scheduler", threads_scheduler)
    assert tuple(s.replace(url, local) for s in dask) == expected


def test_ingest_from_memory_urls_reads_back_as_from_paths(
    tmp_path, threads_scheduler, memory_flows
):
    local, url = memory_flows
    single = tmp_path / "flows.parquet"
    dataset = tmp_path / "dataset"
    _run("ingest", local, "-o", str(single))
    _run("ingest", url, "-o", str(dataset), "--engine", "dask", "--scheduler", threads_scheduler)
    table = read_flows([dataset]).table
    names = [n.replace(url, local) for n in table["source_file"].to_pylist()]
    expected = pq.read_table(single)
    assert names == expected["source_file"].to_pylist()
    rest = [n for n in FLOW_SCHEMA.names if n != "source_file"]
    assert table.select(rest).equals(expected.select(rest))
    # The dataset written to a URL: the same parts, byte for byte, and nothing else there.
    out = f"{url}.dataset"
    _run("ingest", url, "-o", out, "--engine", "dask", "--scheduler", threads_scheduler)
    fs, where = fsspec.core.url_to_fs(out)
    assert [p.rsplit("/", 1)[1] for p in fs.ls(where.rsplit("/", 1)[0], detail=False)] == [
        "flows",
        "flows.dataset",
    ]
    parts = {p.name: p.read_bytes() for p in dataset.iterdir()}
    assert {p.rsplit("/", 1)[1]: fs.cat(p) for p in fs.find(where)} == parts
    assert read_flows([out]).table.equals(table)


def _ranges_in_threads(calls: list, order: list[int]) -> list[pa.Table]:
    """Each range task through ``run_task`` on a thread of its own, in ``order`` (as the
    worker threads of an in-process cluster may take them), from a process whose parsers
    are fresh; the tables of their batches in input order."""
    parallel._PARSERS.clear()
    settings = parallel.Settings.current()
    results: dict[int, parallel._Result] = {}

    def run(i: int) -> None:
        fn, args = calls[i]
        results[i] = dask_engine.run_task(settings, None, False, fn, *args)

    for i in order:
        thread = threading.Thread(target=run, args=(i,))
        thread.start()
        thread.join()
    parallel._PARSERS.clear()
    return [pa.Table.from_batches(results[i].read(), schema=FLOW_SCHEMA) for i in range(len(calls))]


def test_byte_ranges_encode_alike_whichever_thread_runs_first(tmp_path, monkeypatch):
    """The tasks of one process share a parser per file, so on an in-process cluster the
    worker thread that takes a later range of a file first fills that parser. A range's
    rows must come out the same, dictionaries included, in any order: its dataset part
    (Parquet dictionary pages and all) may not depend on thread timing."""
    plain = tmp_path / "plain.jsonl"
    with gzip.open(SAMPLE_FLOWS / "hubble-shop-worker.jsonl.gz") as f:
        plain.write_bytes(f.read())
    monkeypatch.setattr(parallel, "RANGE_BYTES", 2 << 20)  # the client plans the ranges
    settings = parallel.Settings.current()
    tasks = parallel.plan_tasks([str(plain)], None, RecordCounts(), None, 50_000, settings)
    calls = [t.call for t in tasks]
    assert len(calls) > 4 and all(call[0] is parallel._range_task for call in calls)
    in_order = _ranges_in_threads(calls, list(range(len(calls))))
    backwards = _ranges_in_threads(calls, list(reversed(range(len(calls)))))
    assert sum(t.num_rows for t in in_order) > 5000
    for mine, theirs in zip(in_order, backwards, strict=True):
        assert mine.equals(theirs)


def test_recommend_is_byte_identical(tmp_path, scheduler):
    _recommend_both(tmp_path, scheduler, str(SAMPLE_FLOWS), str(SAMPLE_FLOWS))


def test_file_urls_read_as_their_paths(tmp_path, scheduler):
    """Worker processes open the ``file://`` URLs themselves; rows name the URL."""
    url = SAMPLE_FLOWS.as_uri()
    _recommend_both(tmp_path, scheduler, str(SAMPLE_FLOWS), url)
    out = tmp_path / "local" / "policies"
    args = ("verify", "--policies", str(out))
    local = _run(*args, str(SAMPLE_FLOWS), "--json")
    dask = _run(*args, url, "--json", "--engine", "dask", "--scheduler", scheduler)
    assert tuple(s.replace(url, str(SAMPLE_FLOWS)) for s in dask) == local
    out = (tmp_path / "flows").as_uri()  # a file:// output is the directory itself
    _run("ingest", url, "-o", out, "--engine", "dask", "--scheduler", scheduler)
    names = pq.read_table(tmp_path / "flows")["source_file"].unique().to_pylist()
    assert names and all(n.startswith(f"{url}/") for n in names)


def test_byte_ranges_merge_exactly(tmp_path, scheduler, monkeypatch):
    """A plain Hubble file cut into many byte-range tasks gives the one-process output."""
    plain = tmp_path / "flows" / "worker.jsonl"
    plain.parent.mkdir()
    with gzip.open(SAMPLE_FLOWS / "hubble-shop-worker.jsonl.gz") as f:
        plain.write_bytes(f.read())
    monkeypatch.setattr(parallel, "RANGE_BYTES", 128 << 10)  # the client plans the ranges
    settings = parallel.Settings.current()
    tasks = parallel.plan_tasks([str(plain)], None, RecordCounts(), None, 50, settings, True)
    assert len(list(tasks)) > 4
    _recommend_both(tmp_path, scheduler, str(plain.parent), str(plain.parent))


def test_verify_is_byte_identical(tmp_path, scheduler):
    out = tmp_path / "proposal"
    _run("recommend", str(SAMPLE_FLOWS), "-o", str(out))
    for extra in ((), ("--json",)):
        args = ("verify", "--policies", str(out / "policies"), str(SAMPLE_FLOWS), *extra)
        local = _run(*args)
        assert _run(*args, "--engine", "dask", "--scheduler", scheduler) == local


def test_ingest_writes_a_dataset_every_command_reads(tmp_path, scheduler):
    single = tmp_path / "flows.parquet"
    dataset = tmp_path / "flows"
    local = _run("ingest", str(SAMPLE_FLOWS), "-o", str(single))
    dask = _run(
        "ingest", str(SAMPLE_FLOWS), "-o", str(dataset), "--engine", "dask",
        "--scheduler", scheduler,
    )  # fmt: skip
    assert local == (dask[0].replace(str(dataset), str(single)), dask[1])
    assert dataset.is_dir() and sorted(p.name for p in dataset.iterdir()) == ["part-000000.parquet"]
    table = pq.read_table(single)
    assert table.num_rows > 0
    assert pq.read_table(dataset / "part-000000.parquet").equals(table)
    assert read_flows([dataset]).table.equals(read_flows([single]).table)
    # The dataset is an input like any other, to either engine, for the same policies.
    _recommend_both(tmp_path, scheduler, str(dataset), str(dataset))
    _run("recommend", str(single), "-o", str(tmp_path / "single"))
    assert _files(tmp_path / "single" / "policies") == _files(tmp_path / "dask" / "policies")


def test_a_dataset_keeps_row_order_across_parts(tmp_path, monkeypatch):
    from recommender.ingest import dask_engine

    flows = read_flows([SAMPLE_FLOWS]).table
    monkeypatch.setattr(dask_engine, "ROWS_PER_PART", 1000)
    rows = write_dataset(flows.to_batches(max_chunksize=400), tmp_path / "flows")
    parts = sorted((tmp_path / "flows").iterdir())
    assert rows == flows.num_rows and len(parts) == -(-flows.num_rows // 1200)
    back = pa.concat_tables(pq.read_table(p) for p in parts)
    assert back.cast(FLOW_SCHEMA).equals(flows)


def test_an_empty_input_writes_an_empty_dataset(tmp_path):
    assert write_dataset([], tmp_path / "flows") == 0
    assert [p.name for p in (tmp_path / "flows").iterdir()] == ["part-000000.parquet"]


def test_an_unreadable_file_fails_in_its_turn_as_locally(tmp_path, scheduler):
    """A task's error travels back from the worker: the same one line, exit 2."""
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(SAMPLE_FLOWS / "hubble-shop-worker.jsonl.gz", flows / "a.jsonl.gz")
    (flows / "b.parquet").write_bytes(b"PAR1 not really PAR1")
    args = ["recommend", str(flows), "-o", str(tmp_path / "out")]
    local = CliRunner().invoke(main, args)
    dask = CliRunner().invoke(main, [*args, "--engine", "dask", "--scheduler", scheduler])
    assert local.exit_code == dask.exit_code == 2
    assert "b.parquet: unreadable Parquet file" in local.output
    assert dask.output == local.output


def test_a_missing_url_is_one_line_before_any_cluster(tmp_path):
    """Inputs are expanded in the client first: no cluster is started for a missing URL."""
    result = CliRunner().invoke(
        main, ["recommend", "memory://no/flows/", "-o", str(tmp_path), "--engine", "dask"]
    )
    assert result.exit_code == 2
    assert result.stderr == "error: memory://no/flows/: no such file or directory\n"


def test_scheduler_needs_the_dask_engine(tmp_path):
    result = CliRunner().invoke(
        main, ["recommend", str(SAMPLE_FLOWS), "-o", str(tmp_path), "--scheduler", "tcp://x:1"]
    )
    assert result.exit_code == 2 and "--scheduler needs --engine dask" in result.output
