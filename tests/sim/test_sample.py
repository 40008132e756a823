"""The committed ``sample_flows/`` are what ``python -m recommender.sim`` writes today
(recommender/sim/sample.py)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from recommender.sim import SimCluster, sample_readme, shop_cluster, write_hubble
from recommender.sim.sample import main

SAMPLE_DIR = Path(__file__).resolve().parent.parent.parent / "sample_flows"
SAMPLE_SEED = 7
SAMPLE_HOURS = 6.0


@pytest.fixture(scope="module")
def cluster() -> SimCluster:
    return shop_cluster(SAMPLE_SEED, hours=SAMPLE_HOURS)


def _sample_files() -> list[Path]:
    return sorted(SAMPLE_DIR.glob("hubble-*.jsonl.gz"))


def test_sample_flows_up_to_date(tmp_path: Path, cluster: SimCluster) -> None:
    fresh = write_hubble(cluster, tmp_path, seed=SAMPLE_SEED)
    committed = _sample_files()
    assert [p.name for p in committed] == sorted(p.name for p in fresh), (
        "sample_flows/ is stale: run python -m recommender.sim sample_flows"
    )
    for path in fresh:
        old = gzip.decompress((SAMPLE_DIR / path.name).read_bytes())
        new = gzip.decompress(path.read_bytes())
        assert old == new, f"{path.name} is stale: run python -m recommender.sim sample_flows"
    readme = sample_readme(cluster, fresh, seed=SAMPLE_SEED, hours=SAMPLE_HOURS)
    assert (SAMPLE_DIR / "README.md").read_text(encoding="utf-8") == readme
    total = sum(p.stat().st_size for p in committed)
    assert total < 2_000_000


def test_sample_files_are_valid_jsonl() -> None:
    for path in _sample_files():
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                rec = json.loads(line)
                assert "node_name" in rec and "time" in rec, (path, n)
        raw = path.read_bytes()
        assert raw[4:8] == b"\0\0\0\0"  # gzip mtime 0


def test_cli_writes_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main([str(out), "--seed", "3", "--hours", "1", "--no-gzip"]) == 0
    files = sorted(out.glob("hubble-*.jsonl"))
    assert len(files) == 3
    assert (out / "README.md").exists()
    assert main([str(tmp_path / "bad"), "--hours", "0"]) == 2
