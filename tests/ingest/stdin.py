"""Standard input for tests: a real OS pipe fed by a thread, as a shell pipeline feeds it."""

from __future__ import annotations

import io
import os
import sys
import threading

import pytest


def pipe_stdin(
    monkeypatch: pytest.MonkeyPatch, *parts: bytes, gate: threading.Event | None = None
) -> threading.Thread:
    """Make ``sys.stdin`` the read end of a pipe that receives ``parts`` in turn, then EOF.

    ``gate``: before each part after the first the writer waits (at most 10 s) for it to be
    set, so a test can tell records parsed before the rest of the input was written.
    """
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        try:
            with os.fdopen(write_fd, "wb") as out:
                for i, part in enumerate(parts):
                    if i and gate is not None:
                        gate.wait(10)
                    out.write(part)
                    out.flush()
        except (BrokenPipeError, ValueError):  # the test stopped reading early
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(os.fdopen(read_fd, "rb")))
    return writer
