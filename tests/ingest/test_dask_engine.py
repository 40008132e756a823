"""``--engine dask``: the same outputs, byte for byte, as the local engine.

One two-worker ``LocalCluster`` (worker processes, one thread each, as the engine's own
default cluster runs) serves the whole module; each command runs twice through the real
CLI, once per engine, and every output file is compared.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import SAMPLE_FLOWS
from distributed import LocalCluster

from recommender.accounting import RecordCounts
from recommender.cli import main
from recommender.ingest import parallel, read_flows
from recommender.ingest.dask_engine import DaskEngine, write_dataset
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
    assert local == tuple(s.replace("/dask", "/local") for s in dask)


def test_recommend_is_byte_identical(tmp_path, scheduler):
    _recommend_both(tmp_path, scheduler, str(SAMPLE_FLOWS), str(SAMPLE_FLOWS))


def test_file_urls_read_as_their_paths(tmp_path, scheduler):
    _recommend_both(tmp_path, scheduler, str(SAMPLE_FLOWS), SAMPLE_FLOWS.as_uri())


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


def test_object_store_urls_are_refused_in_one_line(tmp_path):
    result = CliRunner().invoke(
        main, ["recommend", "s3://bucket/flows/", "-o", str(tmp_path), "--engine", "dask"]
    )
    assert result.exit_code == 2
    assert "s3://bucket/flows/: s3:// inputs are not read yet" in result.output


def test_scheduler_needs_the_dask_engine(tmp_path):
    result = CliRunner().invoke(
        main, ["recommend", str(SAMPLE_FLOWS), "-o", str(tmp_path), "--scheduler", "tcp://x:1"]
    )
    assert result.exit_code == 2 and "--scheduler needs --engine dask" in result.output


def test_engine_inputs_turn_file_urls_into_paths():
    engine = DaskEngine()
    assert engine.inputs([SAMPLE_FLOWS.as_uri(), "x.jsonl"]) == [str(SAMPLE_FLOWS), "x.jsonl"]
    assert engine.inputs(Path("a")) == ["a"]
