"""The cyclic garbage collector paused while a stage after ingest runs.

The stages after ingest (selectors, synthesis, the proof's replay, at-risk, breadth,
writing) build hundreds of thousands of small objects that live until the stage ends and
almost no reference cycles. With the collector on, every few hundred thousand survivors
trigger a full collection that walks the whole heap, so the collector's share grows with
the cluster: at 2,000 workloads it was 4.4 s of the 10.5 s after the read (generate 2.2 s,
write 1.0 s, replay 0.6 s, breadth 0.5 s), at 600 workloads 0.6 s of 2.5 s. Refcounting
still frees everything acyclic at once; the few cycles the stages leave (about 60,000
objects at 2,000 workloads) are collected when the collector runs again after the stage.

Use it as a decorator (``@gc_paused()``) or a ``with`` block; nested uses keep it paused
until the outermost ends, and it is only switched back on if it was on before.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC for the block (or each call of a function decorated with
    ``@gc_paused()``); switch it back on after, if it was on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
