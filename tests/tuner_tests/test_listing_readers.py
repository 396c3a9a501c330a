"""A cold listing reads many runs in forked processes: the same rows as reading them here, safely."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from synthetic_runs import make_run

import tuner.runs.index as index
import tuner.runs.readers as readers
from tuner import ls_runs
from tuner.runs.aggregate import read_rows, runs_frame
from tuner.store.layout import INDEX_FILE, list_run_dirs

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="forked readers exist where fork does")


@pytest.fixture
def many(workdir: Path) -> list[str]:
    """40 runs of several shapes (flags, metrics, tags, a failure, a damaged run.json), oldest first."""
    root = workdir / "runs"
    for k in range(40):
        make_run(root, f"2026-01-01T00-00-{k:02d}Z", status="failed" if k % 7 == 3 else "finished",
                 flags={"units": 32 * (k % 4 + 1), "dropout": k / 100},
                 metrics=[{"loss": 1 / (k + 1), "acc": k / 40}] * (k % 3), tags={"k": str(k)} if k % 5 else None,
                 exit_code=1 if k % 7 == 3 else 0)
    (root / "2026-01-01T00-00-17Z" / "tuner.d" / "run.json").write_text("{ torn")
    return sorted((str(p) for p in list_run_dirs(str(root))), reverse=True)


def _pids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each row says which process read it (forked children run the patched reader too)."""
    real = readers.read_row

    def read_row(run_dir: str, now: float, stale_after_s: float = 60.0) -> readers.RowRead:
        read = real(run_dir, now, stale_after_s)
        read.row["reader_pid"] = os.getpid()
        return read

    monkeypatch.setattr(readers, "read_row", read_row)


def _plain(reads: list[readers.RowRead]) -> list[tuple]:
    return [({k: v for k, v in r.row.items() if k != "reader_pid"}, r.problems, r.volatile) for r in reads]


def test_rows_read_in_three_processes_equal_rows_read_here(many: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    now = time.time()
    here = readers.read_rows_at_once(many, now, processes=1)
    _pids(monkeypatch)
    forked = readers.read_rows_at_once(many, now, processes=3)
    assert _plain(forked) == _plain(here)
    pids = [r.row["reader_pid"] for r in forked]
    # contiguous slices: this process reads the first, the pool's children the others (a child done with
    # one slice may take the next before its sibling does)
    assert pids[:14] == [os.getpid()] * 14
    assert os.getpid() not in pids[14:]
    assert len(set(pids[14:28])) == 1 and len(set(pids[28:])) == 1
    damaged = [r for r, d in zip(forked, many) if d.endswith("17Z")][0]
    assert damaged.problems and "run.json: unreadable" in damaged.problems[0]


def test_a_reader_that_dies_costs_nothing_but_time(many: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    parent = os.getpid()
    real = readers.read_row

    def read_row(run_dir: str, now: float, stale_after_s: float = 60.0) -> readers.RowRead:
        if os.getpid() != parent:
            os._exit(3)  # a child killed midway (out of memory, a signal)
        return real(run_dir, now, stale_after_s)

    now = time.time()
    here = readers.read_rows_at_once(many, now, processes=1)
    monkeypatch.setattr(readers, "read_row", read_row)
    assert _plain(readers.read_rows_at_once(many, now, processes=2)) == _plain(here)


def test_no_fork_from_a_process_with_other_threads_or_for_few_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers, "MIN_RUNS_PER_PROCESS", 10)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})  # the machine's CPUs, whatever it has
    assert readers.processes_for(9) == 1
    assert readers.processes_for(25) == 2
    assert readers.processes_for(10_000) == 4
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:  # a notebook kernel, a sweep driver: a fork would copy their locks mid-use
        assert readers.processes_for(10_000) == 1
    finally:
        stop.set()
        other.join()


def test_a_cold_ls_runs_read_in_processes_is_the_listing_read_here(many: list[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root = os.path.dirname(many[0])
    monkeypatch.setattr(index, "RACY_NS", 200_000_000)
    time.sleep(0.3)  # past the (shortened) racy window: the warm listing below trusts the stored rows
    monkeypatch.setattr(readers, "MIN_RUNS_PER_PROCESS", 10)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    _pids(monkeypatch)
    with pytest.warns(RuntimeWarning, match="17Z.*run.json: unreadable"):
        cold = ls_runs(order=None, runs_dir=root)
    pids = cold["reader_pid"].tolist()  # it did fork: 40 runs, 10 a process, 4 CPUs
    assert pids[:10] == [os.getpid()] * 10 and os.getpid() not in pids[10:]
    with pytest.warns(RuntimeWarning, match="17Z"):
        expected = runs_frame(read_rows(many))
    pd.testing.assert_frame_equal(cold.drop(columns="reader_pid"), expected)
    assert os.path.isfile(os.path.join(root, INDEX_FILE))
    index._memo.clear()
    with pytest.warns(RuntimeWarning, match="17Z"):  # the stored problem is said again from the index
        warm = ls_runs(order=None, runs_dir=root)
    pd.testing.assert_frame_equal(warm.drop(columns="reader_pid"), cold.drop(columns="reader_pid"))
    # every row as stored but the damaged run's (a run without a readable run.json is read every time; a
    # child read it in the cold listing, being 23rd newest), and a listing of one run is not forked
    again = warm.loc[warm["reader_pid"] != cold["reader_pid"], "run_dir"].map(os.path.basename).tolist()
    assert again == ["2026-01-01T00-00-17Z"]
    assert (warm["reader_pid"] == os.getpid()).sum() == 11
