"""The file plan (``recommender.ingest.plan``): options checked and inputs expanded once,
and which reader reads each file, for the one-process and the parallel readers alike."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pytest

from recommender.accounting import RecordCounts
from recommender.ingest import plan, read_flows, write_parquet
from recommender.ingest.errors import InputError
from recommender.ingest.sources import STDIN

from .stdin import pipe_stdin

SAMPLES = Path(__file__).resolve().parents[2] / "sample_flows"
HUBBLE = SAMPLES / "hubble-shop-worker.jsonl.gz"
CSV = "time,src_ip,dst_ip,dst_port,protocol\n2024-05-01T10:00:00Z,10.0.0.1,10.0.0.2,80,TCP\n"


def test_plan_inputs_checks_options_and_expands(tmp_path):
    got = plan.plan_inputs([SAMPLES], format=None, workers=None, batch_size=10, vpc_fields=None)
    assert got.files == sorted(str(p) for p in SAMPLES.glob("*.gz"))
    assert got.workers == 1  # small inputs: this process only
    assert got.vpc_fields is None
    fields = plan.plan_inputs(
        [SAMPLES], format=None, workers=3, batch_size=10, vpc_fields="${srcaddr} ${dstaddr}"
    )
    assert fields.workers == 3 and fields.vpc_fields == ("srcaddr", "dstaddr")
    stdin = plan.plan_inputs(["-"], format=None, workers=4, batch_size=10, vpc_fields=None)
    assert stdin.files == [STDIN] and stdin.workers == 1
    with pytest.raises(InputError, match="unknown format 'nope'"):
        plan.plan_inputs([SAMPLES], format="nope", workers=None, batch_size=10, vpc_fields=None)
    with pytest.raises(ValueError, match="batch_size"):
        plan.plan_inputs([SAMPLES], format=None, workers=None, batch_size=0, vpc_fields=None)
    with pytest.raises(ValueError, match="workers"):
        plan.plan_inputs([SAMPLES], format=None, workers=0, batch_size=1, vpc_fields=None)
    with pytest.raises(InputError):
        plan.plan_inputs(
            [tmp_path / "missing"], format=None, workers=1, batch_size=1, vpc_fields=None
        )


def test_plan_inputs_picks_workers_by_size(monkeypatch):
    monkeypatch.setattr(plan, "available_cpus", lambda: 2)
    monkeypatch.setattr(plan, "AUTO_MIN_BYTES", 0)
    got = plan.plan_inputs([SAMPLES], format=None, workers=None, batch_size=10, vpc_fields=None)
    assert got.workers == 2


def test_plan_file_kinds(tmp_path):
    flows = read_flows([HUBBLE])
    write_parquet(flows.table, tmp_path / "flows.parquet")
    (tmp_path / "generic.csv").write_text(CSV)
    (tmp_path / "calico.json").write_text(json.dumps({"reporter": "src"}) + "\n")
    (tmp_path / "pretty.json").write_text(json.dumps({"flow": {}}, indent=2))

    def kind(name: str | Path, format: str | None = None, **kw) -> str:
        return plan.plan_file(str(tmp_path / name), format, lookahead=100, **kw).kind

    assert kind("flows.parquet") == plan.PARQUET
    assert kind("generic.csv") == plan.GENERIC
    assert kind("calico.json", "generic") == plan.GENERIC  # --format wins
    assert kind("calico.json", "parquet") == plan.PARQUET
    assert kind("calico.json") == plan.RECORDS
    assert kind("pretty.json") == plan.RECORDS  # not JSON lines: no fast path
    fast = plan.plan_file(str(HUBBLE), None, lookahead=100)
    assert fast.kind == plan.HUBBLE and fast.hubble is not None and fast.hubble.gzip
    assert plan.plan_file(str(HUBBLE), None, lookahead=100, fast=False).kind == plan.RECORDS
    assert plan.plan_file(str(HUBBLE), "calico-ee", lookahead=100).kind == plan.RECORDS
    with pytest.raises(InputError, match="cannot read"):
        kind("missing.json")


def test_read_whole_gives_the_reference_rows(tmp_path):
    want = read_flows([HUBBLE], workers=1)
    counts = RecordCounts()
    fast = plan.plan_file(str(HUBBLE), None, lookahead=100)
    batches = list(plan.read_whole(fast, counts, None, 1000, False))
    got = pa.Table.from_batches(batches)
    assert got.to_pylist() == want.table.to_pylist()  # (dictionaries differ by batch)
    assert counts.normalized == want.counts.normalized and counts.read == want.counts.read
    write_parquet(want.table, tmp_path / "flows.parquet")
    counts = RecordCounts()
    table = plan.plan_file(str(tmp_path / "flows.parquet"), None, lookahead=100)
    rows = pa.Table.from_batches(list(plan.read_whole(table, counts, None, 1000, False)))
    assert rows.to_pylist() == want.table.to_pylist()
    records = plan.plan_file(str(HUBBLE), None, lookahead=100, fast=False)
    with pytest.raises(ValueError, match="record by record"):
        plan.read_whole(records, counts, None, 1000, False)


@pytest.mark.parametrize(
    ("data", "format", "message"),
    [
        (b"PAR1xxxx", None, "Parquet cannot be read from standard input"),
        (CSV.encode(), None, "generic CSV cannot be read from standard input"),
        (gzip.compress(CSV.encode()), None, "generic CSV cannot be read"),
        (b"{}\n", "parquet", "--format parquet reads files only"),
    ],
)
def test_standard_input_holds_records_only(monkeypatch, data, format, message):
    pipe_stdin(monkeypatch, data)
    with pytest.raises(InputError, match=message):
        plan.plan_file(STDIN, format, lookahead=100)


def test_standard_input_of_records_is_planned(monkeypatch):
    pipe_stdin(monkeypatch, HUBBLE.read_bytes())
    got = plan.plan_file(STDIN, None, lookahead=100)
    assert got.kind == plan.HUBBLE
