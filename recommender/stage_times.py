"""Wall-clock seconds per pipeline stage, for benchmarks: pass a :class:`StageTimes` to
:func:`recommender.observe`, :func:`recommender.propose` or :func:`recommender.check` and
the figures are of the very code the CLI runs, not of a hand-chained copy."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator


class StageTimes(dict[str, float]):
    """Stage name -> seconds (summed when a stage runs more than once)."""

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self[name] = self.get(name, 0.0) + time.perf_counter() - start


def untimed(name: str) -> contextlib.AbstractContextManager[None]:
    """The clock the stages use when nobody asked for times."""
    return contextlib.nullcontext()
