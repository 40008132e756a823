"""Peak memory of a process tree, sampled from /proc: the figure the benchmarks report.

``getrusage``'s ``ru_maxrss`` is no substitute: it is one process's peak, and on Linux it
is inherited across fork and exec (a process started by a large one reports at least the
parent's size). What a machine must hold is the peak of the *sum* of the resident sets of
a process and its workers, so :class:`TreeMemory` samples that every 50 ms.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass


def status_kb(pid: int, field: str) -> int:
    """A ``/proc/PID/status`` field in kB (``VmRSS:``, ``VmHWM:``); 0 once it has exited."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def parents() -> dict[int, int]:
    """Every live process -> its parent (one scan of /proc)."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    out[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    return out


def descendants(root: int) -> list[int]:
    """``root``'s children, their children and so on."""
    by_parent: dict[int, list[int]] = {}
    for pid, ppid in parents().items():
        by_parent.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        kids = by_parent.get(todo.pop(), [])
        out.extend(kids)
        todo.extend(kids)
    return out


class TreeMemory:
    """Peak of the summed resident sets of ``root`` (default: this process) and its
    descendants, and each one's own peak (VmHWM), sampled until :meth:`stop`."""

    def __init__(self, root: int | None = None, interval: float = 0.05) -> None:
        self.root = os.getpid() if root is None else root
        self.interval = interval
        self.tree_peak_kb = 0
        self.hwm_kb: dict[int, int] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        tick = 0
        tree: list[int] = []
        while True:
            if tick % 10 == 0:  # new workers are rare: look for them every tenth sample
                tree = [self.root, *descendants(self.root)]
            tick += 1
            total = 0
            for pid in tree:
                total += status_kb(pid, "VmRSS:")
                self.hwm_kb[pid] = max(self.hwm_kb.get(pid, 0), status_kb(pid, "VmHWM:"))
            self.tree_peak_kb = max(self.tree_peak_kb, total)
            if self.done.wait(self.interval):
                return

    def stop(self) -> float:
        """Stop sampling; the peak of the tree's sum, in MiB."""
        self.done.set()
        self.thread.join()
        return self.tree_peak_kb / 1024


@dataclass
class ProcessRun:
    """A whole process timed and measured from outside."""

    seconds: float
    peak_mib: float
    returncode: int


def run_measured(command: Sequence[str], **kwargs: object) -> ProcessRun:
    """Run ``command`` to its end; wall seconds and its tree's peak memory."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(command), **kwargs)  # type: ignore[call-overload]
    memory = TreeMemory(proc.pid)
    code = proc.wait()
    seconds = time.perf_counter() - start
    return ProcessRun(seconds, memory.stop(), code)
