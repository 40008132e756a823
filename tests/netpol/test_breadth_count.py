import numpy as np

from recommender.netpol.bitsets import or_by
from recommender.netpol.breadth_count import or_runs


def test_or_runs_is_or_by_and_skips_the_reduction_when_every_run_is_one_long():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 1 << 62, size=(5, 6, 2), dtype=np.uint64)
    runs = np.asarray([0, 2, 3])
    assert np.array_equal(or_runs(a, runs, 1), or_by(a, runs, 1))
    assert np.array_equal(or_runs(a, runs, 0), or_by(a, runs, 0))
    assert or_runs(a, np.arange(6), 1) is a
    assert np.array_equal(or_by(a, np.arange(5), 0), a)
