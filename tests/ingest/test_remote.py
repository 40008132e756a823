"""fsspec URLs as inputs, with the local engine: fsspec's in-process ``memory://``
filesystem holds copies of the samples, and every command gives the bytes it gives on the
same files read by path (the inputs named as given: the URL where the path was)."""

from __future__ import annotations

import gzip
import importlib.util
import json
import subprocess
import sys
import uuid
from pathlib import Path

import fsspec
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import ROOT, SAMPLE_FLOWS

from recommender.cli import main
from recommender.ingest import read_flows, remote
from recommender.ingest.errors import InputError
from recommender.ingest.sources import expand_inputs, input_size

MEMORY = fsspec.filesystem("memory")


def _run(*args: str) -> tuple[str, str]:
    """The CLI's (stdout, stderr); it must succeed."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


def _fail(*args: str) -> str:
    """The CLI's stderr; it must fail with a usage-level error (exit 2)."""
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 2, result.output
    return result.stderr


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def memory():
    """A fresh ``memory://`` folder (its URL), removed afterwards."""
    root = f"/t{uuid.uuid4().hex}"
    yield f"memory:/{root}"
    if MEMORY.exists(root):
        MEMORY.rm(root, recursive=True)


def _put(url: str, data: bytes) -> str:
    MEMORY.pipe(remote.filesystem(url)[1], data)
    return url


@pytest.fixture
def flows(memory):
    """``memory://.../flows``: the sample files, plus what a directory read skips."""
    for path in SAMPLE_FLOWS.iterdir():
        _put(f"{memory}/flows/{path.name}", path.read_bytes())
    _put(f"{memory}/flows/.hidden/x.jsonl", b"not read\n")
    return f"{memory}/flows"


# --------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    "text",
    [
        "s3://bucket/flows/",
        "gs://b/x.jsonl.gz",
        "file:///data/x",
        "memory://x",
        "simplecache::s3://b/k",
    ],
)
def test_urls_are_recognised(text):
    assert remote.is_url(text)


@pytest.mark.parametrize(
    "text", ["flows/a.jsonl", "/data/x", "C:\\flows", "C:/flows", "c://flows", "-", "./s3://x"]
)
def test_paths_are_not_urls(text):
    assert not remote.is_url(text)


def test_a_directory_url_expands_like_the_directory(flows):
    local = expand_inputs([str(SAMPLE_FLOWS)])
    assert expand_inputs([flows + "/"]) == expand_inputs([flows])
    assert expand_inputs([flows]) == [p.replace(str(SAMPLE_FLOWS), flows) for p in local]
    assert input_size([flows]) == input_size([str(SAMPLE_FLOWS)])


def test_a_glob_url_expands_to_its_matches_in_order(flows):
    assert expand_inputs([f"{flows}/*worker*.jsonl.gz"]) == [
        f"{flows}/hubble-shop-worker.jsonl.gz",
        f"{flows}/hubble-shop-worker2.jsonl.gz",
    ]


def test_rejections_name_the_url_and_line(memory):
    with gzip.open(SAMPLE_FLOWS / "hubble-shop-worker.jsonl.gz") as f:
        head = b"".join(f.readline() for _ in range(3))
    url = _put(f"{memory}/bad.jsonl.gz", gzip.compress(head + b"{broken\n"))
    counts = read_flows([url]).counts
    assert counts.normalized + counts.filtered_total == 3
    assert [(e.file, e.line) for e in counts.examples] == [(url, 4)]


# --------------------------------------------------------------------------- every command


def test_recommend_reads_a_url_as_its_path(tmp_path, flows):
    local = _run("recommend", str(SAMPLE_FLOWS), "-o", str(tmp_path / "local"))
    url = _run("recommend", flows, "-o", str(tmp_path / "url"))
    given = flows.encode(), str(SAMPLE_FLOWS).encode()
    files = _files(tmp_path / "local")
    assert files and {k: v.replace(*given) for k, v in _files(tmp_path / "url").items()} == files
    assert local == tuple(
        s.replace("/url", "/local").replace(flows, str(SAMPLE_FLOWS)) for s in url
    )
    assert f"e.g. {flows}/hubble-shop-worker.jsonl.gz:" in url[1]  # file:line names the URL


def test_verify_reads_a_url_as_its_path(tmp_path, flows):
    out = tmp_path / "proposal"
    _run("recommend", str(SAMPLE_FLOWS), "-o", str(out))
    for extra in ((), ("--json",)):
        local = _run("verify", "--policies", str(out / "policies"), str(SAMPLE_FLOWS), *extra)
        url = _run("verify", "--policies", str(out / "policies"), flows, *extra)
        assert tuple(s.replace(flows, str(SAMPLE_FLOWS)) for s in url) == local


def test_ingest_reads_a_url_and_a_parquet_dataset_at_a_url(tmp_path, flows, memory):
    local = _run("ingest", str(SAMPLE_FLOWS), "-o", str(tmp_path / "local.parquet"))
    url = _run("ingest", flows, "-o", str(tmp_path / "url.parquet"))
    assert local == (url[0].replace("url.parquet", "local.parquet"), url[1])
    table = pq.read_table(tmp_path / "local.parquet")
    names = [
        f.replace(flows, str(SAMPLE_FLOWS))
        for f in read_flows([flows]).table["source_file"].to_pylist()
    ]
    assert names == table["source_file"].to_pylist()
    # The Parquet file at a URL, alone and as a dataset's one part: every command reads it.
    data = (tmp_path / "local.parquet").read_bytes()
    single = _put(f"{memory}/flows.parquet", data)
    _put(f"{memory}/dataset/part-000000.parquet", data)
    assert read_flows([single]).table.equals(table)
    assert read_flows([f"{memory}/dataset"]).table.equals(table)
    _run("recommend", str(tmp_path / "local.parquet"), "-o", str(tmp_path / "by-path"))
    _run("recommend", f"{memory}/dataset/", "-o", str(tmp_path / "by-url"))
    assert _files(tmp_path / "by-url" / "policies") == _files(tmp_path / "by-path" / "policies")


_CSV = (
    "src_namespace,src_pod,src_labels,dst_namespace,dst_pod,dst_labels,dst_port,protocol,flows\n"
    "shop,web-7f9c-abcde,app=web,kube-system,coredns-0,k8s-app=kube-dns,53,UDP,3\n"
)


def test_generic_csv_and_parquet_at_a_url(tmp_path, memory):
    """Generic files read whole (CSV through the URL's file object, Parquet through
    pyarrow with the fsspec filesystem); without a time column, the fallback time is the
    URL's modification time, as a path's is its mtime."""
    path = tmp_path / "flows.csv"
    path.write_text(_CSV)
    pq.write_table(pacsv.read_csv(path), tmp_path / "flows.parquet")
    for name in ("flows.csv", "flows.parquet"):
        url = _put(f"{memory}/{name}", (tmp_path / name).read_bytes())
        by_url, by_path = read_flows([url]).table, read_flows([str(tmp_path / name)]).table
        assert by_url.num_rows == by_path.num_rows == 1
        assert by_url["src_pod"].to_pylist() == by_path["src_pod"].to_pylist() == ["web-7f9c-abcde"]
        modified = MEMORY.modified(remote.filesystem(url)[1])
        assert by_url["time_start"].cast("int64").to_pylist() == [remote.mtime_ns(url)]
        assert remote.mtime_ns(url) // 1000 == int(modified.timestamp() * 1e6)
    file_url = (tmp_path / "flows.csv").as_uri()
    assert (
        read_flows([file_url])
        .table.drop(["source_file"])
        .equals(read_flows([str(path)]).table.drop(["source_file"]))
    )


def test_ingest_writes_to_a_url(tmp_path, flows, memory):
    """The Parquet file ``ingest`` writes to a URL has the bytes it has on disk; it is
    staged beside its name, replaces a file there, and never a directory."""
    _run("ingest", flows, "-o", str(tmp_path / "local.parquet"))
    out = f"{memory}/out/flows.parquet"
    stdout, _ = _run("ingest", flows, "-o", out)
    assert stdout.endswith(f"wrote 11835 flow records to {out}\n")
    where = remote.filesystem(out)[1]
    assert MEMORY.cat(where) == (tmp_path / "local.parquet").read_bytes()
    _run("ingest", flows, "-o", out)  # again: replaced
    assert MEMORY.ls(where.rsplit("/", 1)[0], detail=False) == [where]
    err = _fail("ingest", flows, "-o", flows)
    assert err == f"error: [Errno 17] a directory is in the way: {flows!r}\n"
    assert len(expand_inputs([flows])) == 3  # the input directory is untouched
    assert len(MEMORY.ls(remote.filesystem(memory)[1], detail=False)) == 2  # no leftovers


# --------------------------------------------------------------------------- errors


def test_a_missing_url_is_one_line(tmp_path, memory):
    err = _fail("recommend", f"{memory}/nope.jsonl", "-o", str(tmp_path / "out"))
    assert err == f"error: {memory}/nope.jsonl: no such file or directory\n"
    err = _fail("verify", "--policies", str(tmp_path), f"{memory}/*.jsonl")
    assert err.count("\n") == 1 and "the pattern matches nothing" in err


def test_an_unknown_scheme_is_one_line(tmp_path):
    err = _fail("ingest", "nosuch://bucket/flows", "-o", str(tmp_path / "x.parquet"))
    assert (
        err
        == "error: nosuch://bucket/flows: unknown URL scheme 'nosuch' (not an fsspec protocol)\n"
    )


@pytest.mark.skipif(importlib.util.find_spec("s3fs") is not None, reason="s3fs is installed")
def test_a_protocol_without_its_package_is_one_line(tmp_path):
    err = _fail("recommend", "s3://bucket/flows/", "-o", str(tmp_path / "out"))
    assert err.count("\n") == 1
    assert (
        err.startswith("error: s3://bucket/flows/: s3:// URLs need a package: ") and "s3fs" in err
    )


def test_a_url_without_fsspec_is_one_line(tmp_path):
    """fsspec made unimportable in a fresh interpreter (``sys.modules`` entry None, as
    Python itself does for a module known to be absent)."""
    code = (
        "import sys; sys.modules['fsspec'] = None\n"
        "from recommender.cli import main\n"
        "main(sys.argv[1:], prog_name='netpol-recommender')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "recommend", "s3://bucket/flows/", "-o", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "error: s3://bucket/flows/: reading URLs needs fsspec: "
        "pip install 'netpol-recommender[dask]'\n"
    )


def test_local_paths_never_import_fsspec():
    """Reading, sniffing and sizing local paths stays off fsspec (a fresh interpreter)."""
    code = (
        "import json, sys\n"
        "from recommender.ingest import read_flows, input_size\n"
        f"read_flows([{str(SAMPLE_FLOWS)!r}]); input_size([{str(SAMPLE_FLOWS)!r}])\n"
        "print(json.dumps('fsspec' in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) is False


def test_remote_errors_are_input_errors(memory):
    with pytest.raises(InputError, match="no such file or directory"):
        expand_inputs([f"{memory}/missing/"])
