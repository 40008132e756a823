"""Port sets as bit words: a port set is ``words`` uint64 words, bit i = port universe entry
i. Breadth ORs and ANDs them over whole class x class arrays at once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["ONE", "bits", "groups", "or_by", "popcount"]

ONE = np.uint64(1)


def bits(indices: Iterable[int], words: int) -> np.ndarray:
    out = np.zeros(words, dtype=np.uint64)
    for i in indices:
        out[i >> 6] |= ONE << np.uint64(i & 63)
    return out


if hasattr(np, "bitwise_count"):

    def popcount(a: np.ndarray, axis: Any = None) -> Any:
        return np.bitwise_count(a).sum(axis=axis, dtype=np.int64)

else:  # numpy < 2.0

    def popcount(a: np.ndarray, axis: Any = None) -> Any:
        a = np.ascontiguousarray(a)
        ones = np.unpackbits(a.view(np.uint8).reshape(*a.shape, 8), axis=-1).sum(
            axis=-1, dtype=np.int64
        )
        return ones.sum(axis=axis)


def groups(workload_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ids) of the runs of a non-decreasing workload index array."""
    if not len(workload_of):
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    # concatenate, not np.r_: 10 us less per call, two calls per compiled policy side
    starts = np.flatnonzero(np.concatenate(([True], workload_of[1:] != workload_of[:-1])))
    return starts, workload_of[starts]


def or_by(a: np.ndarray, starts: np.ndarray, axis: int) -> np.ndarray:
    """OR of each run of ``a`` along ``axis``, runs starting at ``starts``."""
    return np.bitwise_or.reduceat(a, starts, axis=axis)
