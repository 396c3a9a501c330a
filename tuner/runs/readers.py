"""Reading many runs' ls_runs rows (a cold listing) or signatures (every listing) at once, in forked processes
when there are many.

A listing without an index reads every run's files: for 10^4 runs about 2 s on a 2-core VM, three quarters
of it Python (JSON parsing, building rows) holding the GIL, so threads do not help and processes do (two
processes: 0.9 s instead of 1.9 s). A forked child already has every module and the names it is given, so
it starts in milliseconds; each child reads one contiguous slice and sends back its rows (pickled, through a
pipe), and this process reads the first slice meanwhile.

A fork is only safe where the calling process has a single thread: a fork copies every lock as it is, and a
lock held by another thread (a notebook kernel's, a sweep driver's Ray threads) stays held in the child
forever. So the listing forks only on Linux, from a process with one thread (a `tune` command, a script)
and for enough runs to pay for it; anywhere else it reads in this process, as before. A child that dies or a
fork that fails costs nothing but time: what is missing is read here.

A warm listing reads no run file but stats each run three times (store.run_signature): 30,000 stats, about
0.1 s for 10^4 runs, half of a warm `ls_runs`. PendingSignatures forks one child per further CPU for slices of
them and lets this process parse the stored index meanwhile, then stat its own slice. Both use one plain fork
and a pipe per child (`_fork`, `_collect`): a process pool's own threads, queues and start-up would cost what a
child saves.
"""

from __future__ import annotations

import array
import functools
import itertools
import os
import pickle
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from tuner.runs.aggregate import DEFAULT_STALE_AFTER_S, is_volatile, run_row
from tuner.store.files import read_run
from tuner.store.layout import NOT_A_RUN, SIGNATURE_LEN, Signature, run_signature

#: fewer runs than this per process are read in this process: a fork and the rows' way back cost ~20 ms
MIN_RUNS_PER_PROCESS = 1000
#: the same for signatures (~10 us a run): a plain fork and its pipe cost a few milliseconds
MIN_SIGNATURES_PER_PROCESS = 3000
MAX_PROCESSES = 8
#: a busy process' share of the stats where a child's is 3 (PendingSignatures)
BUSY_SHARE = 2


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


def can_fork() -> bool:
    """Whether forking is safe here: Linux, and this process has a single thread (see the module's docstring)."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


def processes_for(count: int, per_process: int | None = None) -> int:
    """How many processes should read `count` runs (`per_process` at least each, default MIN_RUNS_PER_PROCESS):
    1 unless forking is safe here and worth it."""
    if not can_fork():
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))  # the CPUs this process may use (a container's or taskset's share)
    except OSError:
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_PROCESSES, count // (per_process or MIN_RUNS_PER_PROCESS)))


def read_rows_at_once(run_dirs: list[str], now: float, stale_after_s: float = DEFAULT_STALE_AFTER_S,
                      processes: int | None = None) -> list[RowRead]:
    """read_row of every run, in order; in `processes` processes (default: processes_for): this one reads the
    first slice while a forked child reads each further one and sends its rows back pickled. A child that dies
    or fails to start only means its slice is read here; an interrupted listing leaves no child behind."""
    count = processes if processes is not None else processes_for(len(run_dirs))
    count = max(1, min(count, len(run_dirs)))
    if count == 1:
        return read_slice(run_dirs, now, stale_after_s)
    size = -(-len(run_dirs) // count)
    slices = [run_dirs[k:k + size] for k in range(0, len(run_dirs), size)]
    children: list[tuple[int, int] | None] = []
    try:
        for part in slices[1:]:
            children.append(_fork(functools.partial(_pickled_rows, part, now, stale_after_s)))
        rows = read_slice(slices[0], now, stale_after_s)
        for k, part in enumerate(slices[1:]):
            child, children[k] = children[k], None
            data = _collect(child) if child is not None else None
            rows += [RowRead(*read) for read in pickle.loads(data)] if data is not None \
                else read_slice(part, now, stale_after_s)
    finally:
        _stop_all(children)
    return rows


def _pickled_rows(run_dirs: list[str], now: float, stale_after_s: float) -> bytes:
    reads = read_slice(run_dirs, now, stale_after_s)  # tuples: half the pickling time of the dataclasses
    return pickle.dumps([(r.row, r.problems, r.volatile, r.read_ns) for r in reads], pickle.HIGHEST_PROTOCOL)


def _packed_signatures(run_dirs: Sequence[str]) -> bytes:
    return pack_signatures(list(map(run_signature, run_dirs))).tobytes()


class FlatRows(Sequence[Any]):
    """A flat array read as rows of `width` values, each made when asked for (`_row`): 10^4 rows made up front
    cost a listing milliseconds it may not need."""

    def __init__(self, flat: array.array, width: int):
        self.flat, self.width = flat, width

    def __len__(self) -> int:
        return len(self.flat) // self.width

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(k)
        return self._row(k * self.width)

    def _row(self, start: int) -> Any:
        return self.flat[start:start + self.width]


class PackedSignatures(FlatRows):
    """The signatures of many runs in one array of 8-byte ints, SIGNATURE_LEN a run and NOT_A_RUN for a folder
    that is not a run, as the children send them: the index compares and hashes them a column at a time (in C)
    without a tuple per run; indexing gives a run's tuple (None: not a run)."""

    def __init__(self, packed: array.array):
        super().__init__(packed, SIGNATURE_LEN)

    def _row(self, start: int) -> Signature | None:
        return None if self.flat[start] < 0 else tuple(self.flat[start:start + SIGNATURE_LEN])


def pack_signatures(signatures: Sequence[Signature | None]) -> array.array:
    """Signatures as PackedSignatures holds them (its own array where they are one already)."""
    if isinstance(signatures, PackedSignatures):
        return signatures.flat
    return array.array("q", itertools.chain.from_iterable([signature or NOT_A_RUN for signature in signatures]))


class PendingSignatures:
    """run_signature of every run of `run_dirs`, begun on entering (slices in forked children, see the module's
    docstring) and collected by packed() or result(), which stat this process' own slice. Anything that goes wrong
    with a child (no fork, a death, a short answer) only means its slice is stat'ed here; leaving the block stops
    and reaps the children not collected (an interrupted listing leaves no process behind)."""

    def __init__(self, run_dirs: Sequence[str], processes: int | None = None, busy: bool = False):
        """`busy`: this process has other work to do before result() (parsing the index), so its own slice is
        two thirds of a child's (measured on 2 cores, 10^4 runs: 62 ms to the last signature, against 70 ms with
        half and 70 ms with an equal share)."""
        self.run_dirs = run_dirs
        count = processes if processes is not None else processes_for(len(run_dirs), MIN_SIGNATURES_PER_PROCESS)
        count = max(1, min(count, len(run_dirs)))
        weights = [BUSY_SHARE if busy else 3] + [3] * (count - 1)
        cuts = list(itertools.accumulate(weights, initial=0))
        edges = [len(run_dirs) * cut // cuts[-1] for cut in cuts]
        self.bounds = [(start, end) for start, end in zip(edges, edges[1:]) if end > start]
        self.children: list[tuple[int, int] | None] = []  # (pid, read end of its pipe) per slice after the first

    def __enter__(self) -> PendingSignatures:
        try:
            for start, end in self.bounds[1:]:
                self.children.append(_fork(functools.partial(_packed_signatures, self.run_dirs[start:end])))
        except BaseException:  # interrupted between forks: no __exit__ follows a failed __enter__
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        _stop_all(self.children)
        self.children = []

    def packed(self, then: Callable[[PackedSignatures], None] | None = None) -> PackedSignatures:
        """Every signature; `then` is given this process' own slice (the first runs) as soon as it is stat'ed,
        before the children's are collected: work that needs those can be done while the children finish."""
        start, end = self.bounds[0] if self.bounds else (0, 0)
        packed = array.array("q", _packed_signatures(self.run_dirs[start:end]))
        if then is not None:
            then(PackedSignatures(array.array("q", packed)))
        for k, (start, end) in enumerate(self.bounds[1:]):
            child, self.children[k] = self.children[k], None
            data = _collect(child) if child is not None else None
            if data is None or len(data) != (end - start) * SIGNATURE_LEN * packed.itemsize:  # none, or short
                data = _packed_signatures(self.run_dirs[start:end])
            packed.frombytes(data)
        return PackedSignatures(packed)

    def result(self) -> list[Signature | None]:
        return list(self.packed())


class InBackground:
    """`work` done in a forked child (where forking is safe and there is a second CPU), or here at once: the
    caller goes on meanwhile and takes the child's bytes with wait(); leaving the block stops a child not waited
    for (an interrupted listing leaves no process behind). The listing writes its index this way while it makes the
    frame (~60 ms of 10^4 runs each)."""

    def __init__(self, work: Callable[[], bytes]):
        self.work = work
        self.child: tuple[int, int] | None = None
        self.done: bytes | None = None

    def __enter__(self) -> InBackground:
        if processes_for(2, per_process=1) > 1:  # two processes, if forking is safe here and there are two CPUs
            self.child = _fork(self.work)
        if self.child is None:
            self.done = self.work()
        return self

    def wait(self) -> bytes | None:
        """What `work` returned, None where the child failed."""
        if self.child is not None:
            child, self.child = self.child, None
            self.done = _collect(child)
        return self.done

    def __exit__(self, *exc: object) -> None:
        _stop_all([self.child])
        self.child = None


def _fork(work: Callable[[], bytes]) -> tuple[int, int] | None:
    """A forked child doing `work` and sending its bytes through a pipe, as (its pid, the read end), or None
    where none could start. The child leaves by os._exit: no atexit handlers, no flushing of the parent's
    buffers; a failure in it is its exit status, never a traceback."""
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:
        code = 1
        try:
            _child_start()
            os.close(read_end)
            data = work()
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _collect(child: tuple[int, int]) -> bytes | None:
    """What a child sent, once it has ended well; None for anything else. The child is reaped here whatever
    happens (stopped first if this process is interrupted while waiting for it)."""
    pid, read_end = child
    reaped, data, status = False, b"", -1
    try:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        status = os.waitpid(pid, 0)[1]
        reaped = True
    finally:
        if not reaped:
            _stop(pid)
    return data if status == 0 else None


def _stop_all(children: Sequence[tuple[int, int] | None]) -> None:
    """Stop and reap the children not collected, closing their pipes."""
    for child in children:
        if child is not None:
            os.close(child[1])
            _stop(child[0])


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:  # ChildProcessError included: already reaped
        pass
