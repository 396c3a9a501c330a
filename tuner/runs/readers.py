"""Reading many runs' ls_runs rows at once (a cold listing), in forked processes when there are many.

A listing without an index reads every run's files: for 10^4 runs about 2 s on a 2-core VM, three quarters
of it Python (JSON parsing, building rows) holding the GIL, so threads do not help and processes do (two
processes: 0.9 s instead of 1.9 s). A forked child already has every module and the names it is given, so
it starts in milliseconds; each child reads one contiguous slice and sends back its rows, and this process
reads the first slice meanwhile.

A fork is only safe where the calling process has a single thread: a fork copies every lock as it is, and a
lock held by another thread (a notebook kernel's, a sweep driver's Ray threads) stays held in the child
forever. So the listing forks only on Linux, from a process with one thread (a `tune` command, a script)
and for enough runs to pay for it; anywhere else it reads in this process, as before. A child that dies or a
fork that fails costs nothing but time: what is missing is read here.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from tuner.runs.aggregate import DEFAULT_STALE_AFTER_S, is_volatile, run_row
from tuner.store.files import read_run

#: fewer runs than this per process are read in this process: a fork and the rows' way back cost ~20 ms
MIN_RUNS_PER_PROCESS = 1000
MAX_PROCESSES = 8


@dataclass
class RowRead:
    """One run as just read: its row (without run_dir), what was unreadable, whether the row depends on the
    time of listing (aggregate.is_volatile) and when the reading began (time.time_ns)."""

    row: dict[str, Any]
    problems: list[str]
    volatile: bool
    read_ns: int


def read_row(run_dir: str, now: float, stale_after_s: float = DEFAULT_STALE_AFTER_S) -> RowRead:
    read_ns = time.time_ns()
    data = read_run(run_dir)
    row = run_row(data, now, stale_after_s)
    row.pop("run_dir", None)
    return RowRead(row, data.problems, is_volatile(data.run), read_ns)


def read_slice(run_dirs: list[str], now: float, stale_after_s: float) -> list[RowRead]:
    return [read_row(run_dir, now, stale_after_s) for run_dir in run_dirs]


def _child_start() -> None:
    """Ctrl-C in a terminal signals the whole process group: a child just ends, silently (Python's handler
    would print a KeyboardInterrupt traceback per child); the parent raises KeyboardInterrupt as ever."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def processes_for(count: int) -> int:
    """How many processes should read `count` runs: 1 unless forking is safe here and worth it."""
    if not sys.platform.startswith("linux") or threading.active_count() > 1:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))  # the CPUs this process may use (a container's or taskset's share)
    except OSError:
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_PROCESSES, count // MIN_RUNS_PER_PROCESS))


def read_rows_at_once(run_dirs: list[str], now: float, stale_after_s: float = DEFAULT_STALE_AFTER_S,
                      processes: int | None = None) -> list[RowRead]:
    """read_row of every run, in order; in `processes` processes (default: processes_for)."""
    count = processes if processes is not None else processes_for(len(run_dirs))
    count = max(1, min(count, len(run_dirs)))
    if count == 1:
        return read_slice(run_dirs, now, stale_after_s)
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    size = -(-len(run_dirs) // count)
    slices = [run_dirs[k:k + size] for k in range(0, len(run_dirs), size)]
    results: list[list[RowRead] | None] = [None] * len(slices)
    futures: list[Future[list[RowRead]]] = []
    try:
        with ProcessPoolExecutor(len(slices) - 1, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_child_start) as pool:
            futures = [pool.submit(read_slice, part, now, stale_after_s) for part in slices[1:]]
            results[0] = read_slice(slices[0], now, stale_after_s)
            for k, future in enumerate(futures, start=1):
                results[k] = future.result()
    except (OSError, BrokenProcessPool):
        pass  # no fork (out of processes or memory) or a child that died: what is missing is read below
    rows: list[RowRead] = []
    for part, result in zip(slices, results):
        rows += result if result is not None else read_slice(part, now, stale_after_s)
    return rows
