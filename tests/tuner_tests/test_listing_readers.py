"""A cold listing reads many runs in forked processes, and every listing stats them there: the same rows and
signatures as reading them here, safely.

Forking is only done from a process with one thread, which pytest's process is not once other tests have
run (servers, watchers): each check runs in a fresh Python process, as `tune ls` or a user's script does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from synthetic_runs import make_run

from tuner.store.layout import INDEX_FILE, list_run_dirs
from workers.files import TMP_PREFIX

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forked readers are Linux only")

#: prelude of every probe: `runs` (newest first), each row saying which process read it (a forked child
#: runs the patched reader too), 4 CPUs whatever the machine has, a fork for every 10 runs
PRELUDE = """
import json, logging, os, sys, threading, time
import pandas as pd
import tuner.runs.index as index
import tuner.runs.readers as readers
from tuner import ls_runs
from tuner.runs.aggregate import read_rows, runs_frame
root = sys.argv[1]
runs = sorted((os.path.join(root, n) for n in os.listdir(root) if not n.startswith(".")), reverse=True)
real_read_row = readers.read_row
def read_row(run_dir, now, stale_after_s=60.0):
    read = real_read_row(run_dir, now, stale_after_s)
    read.row["reader_pid"] = os.getpid()
    return read
readers.read_row = read_row
os.sched_getaffinity = lambda pid: {0, 1, 2, 3}
readers.MIN_RUNS_PER_PROCESS = 10
readers.MIN_SIGNATURES_PER_PROCESS = 10
forks = []
real_fork = os.fork
def counted_fork():
    pid = real_fork()
    if pid:
        forks.append(pid)
    return pid
os.fork = counted_fork
def no_children_left():
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False
index.RACY_NS = 200_000_000
def plain(reads):
    return [({k: v for k, v in r.row.items() if k != "reader_pid"}, r.problems, r.volatile) for r in reads]
def pids(reads):
    return [r.row["reader_pid"] for r in reads]
out = {"pid": os.getpid()}
class Said(logging.Handler):  # what the listings warn about, from the `tuner` logger (tuner.channel)
    def __init__(self):
        super().__init__()
        self.messages = []
    def emit(self, record):
        self.messages.append(record.getMessage())
said = Said()
logging.getLogger("tuner").handlers = [said]  # and nothing printed: the damaged run's warning is another test's subject
"""


def probe(root: Path, code: str) -> dict:
    """Run PRELUDE + code in a fresh single-threaded Python; what it put in `out`."""
    script = PRELUDE + textwrap.dedent(code) + "\nprint(json.dumps(out))\n"
    done = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def root(workdir: Path) -> Path:
    """40 runs of several shapes (flags, metrics, tags, failures, a damaged run.json), past a short racy window."""
    root = workdir / "runs"
    for k in range(40):
        make_run(root, f"2026-01-01T00-00-{k:02d}Z", status="failed" if k % 7 == 3 else "finished",
                 flags={"units": 32 * (k % 4 + 1), "dropout": k / 100},
                 metrics=[{"loss": 1 / (k + 1), "acc": k / 40}] * (k % 3), tags={"k": str(k)} if k % 5 else None,
                 exit_code=1 if k % 7 == 3 else 0)
    (root / "2026-01-01T00-00-17Z" / "tuner.d" / "run.json").write_text("{ torn")
    time.sleep(0.3)
    return root


def test_rows_read_in_three_processes_equal_rows_read_here(root: Path) -> None:
    out = probe(root, """
        now = time.time()
        here, forked = readers.read_rows_at_once(runs, now, processes=1), readers.read_rows_at_once(runs, now, processes=3)
        out["equal"] = plain(forked) == plain(here)
        out["pids"] = pids(forked)
        out["damaged"] = [r.problems for r, d in zip(forked, runs) if d.endswith("17Z")][0]
    """)
    assert out["equal"]
    pids = out["pids"]
    # contiguous slices: this process reads the first, the pool's children the others (a child done with one
    # slice may take the next before its sibling starts)
    assert pids[:14] == [out["pid"]] * 14 and out["pid"] not in pids[14:]
    assert len(set(pids[14:28])) == 1 and len(set(pids[28:])) == 1
    assert len(out["damaged"]) == 1 and "17Z/tuner.d/run.json: unreadable" in out["damaged"][0]


def test_a_reader_that_dies_costs_nothing_but_time(root: Path) -> None:
    out = probe(root, """
        parent = os.getpid()
        def dying(run_dir, now, stale_after_s=60.0):
            if os.getpid() != parent:
                os._exit(3)  # a child killed midway (out of memory, a signal)
            return read_row(run_dir, now, stale_after_s)
        now = time.time()
        here = readers.read_rows_at_once(runs, now, processes=1)
        readers.read_row = dying
        again = readers.read_rows_at_once(runs, now, processes=2)
        out["equal"], out["pids"] = plain(again) == plain(here), sorted(set(pids(again)))
    """)
    assert out["equal"] and out["pids"] == [out["pid"]]  # every run read here after the child died


def test_an_interrupted_cold_read_leaves_no_child_behind(root: Path) -> None:
    out = probe(root, """
        parent, calls = os.getpid(), []
        def interrupted(run_dir, now, stale_after_s=60.0):
            if os.getpid() == parent:
                calls.append(run_dir)
                if len(calls) == 5:
                    raise KeyboardInterrupt  # Ctrl-C while this process reads its own slice
            return read_row(run_dir, now, stale_after_s)
        readers.read_row = interrupted
        try:
            readers.read_rows_at_once(runs, time.time(), processes=3)
        except KeyboardInterrupt:
            out["interrupted"] = True
        out["forks"], out["clean"] = len(forks), no_children_left()
    """)
    assert out["interrupted"] and out["forks"] == 2 and out["clean"]  # both children stopped and reaped


def test_no_fork_from_a_process_with_other_threads_or_for_few_runs(root: Path) -> None:
    out = probe(root, """
        out["counts"] = [readers.processes_for(n) for n in (9, 25, 10_000)]
        stop = threading.Event()
        other = threading.Thread(target=stop.wait)
        other.start()  # a notebook kernel's or a sweep driver's threads: a fork would copy their locks mid-use
        out["threaded"] = readers.processes_for(10_000)
        out["threaded_pids"] = sorted(set(pids(readers.read_rows_at_once(runs, time.time()))))
        stop.set()
        other.join()
    """)
    assert out["counts"] == [1, 2, 4]
    assert out["threaded"] == 1 and out["threaded_pids"] == [out["pid"]]


def test_a_cold_ls_runs_read_in_processes_is_the_listing_read_here(root: Path) -> None:
    out = probe(root, """
        cold = ls_runs(order=None, runs_dir=root)
        expected = runs_frame(read_rows(runs))
        index._memo.clear()  # the next listing parses the stored index, as a new process would
        warm = ls_runs(order=None, runs_dir=root)
        pd.testing.assert_frame_equal(cold.drop(columns="reader_pid"), expected)
        pd.testing.assert_frame_equal(warm.drop(columns="reader_pid"), cold.drop(columns="reader_pid"))
        out["cold_pids"] = cold["reader_pid"].tolist()
        out["read_again"] = warm.loc[warm["reader_pid"] != cold["reader_pid"], "run_dir"].map(os.path.basename).tolist()
        out["warnings"] = [m for m in said.messages if "17Z" in m]
    """)
    pids = out["cold_pids"]  # it did fork: 40 runs, 10 a process, 4 CPUs
    assert pids[:10] == [out["pid"]] * 10 and out["pid"] not in pids[10:]
    # every warm row as stored, but the damaged run's (a run without a readable run.json is read every time;
    # being the 23rd newest, a child read it in the cold listing)
    assert out["read_again"] == ["2026-01-01T00-00-17Z"]
    # its problem is said by the cold listing, by reading every run (the expected frame) and by the warm one
    assert len(out["warnings"]) == 3 and all("run.json: unreadable" in w for w in out["warnings"])
    assert (root / INDEX_FILE).is_file() and len(list_run_dirs(str(root))) == 40
    assert not any(name.startswith(TMP_PREFIX) for name in os.listdir(root))  # nothing half-written


def test_signatures_stat_in_children_equal_signatures_here(root: Path) -> None:
    (root / "not-a-run").mkdir()
    (root / "a-file").write_text("x")
    out = probe(root, """
        from tuner.store.layout import run_signature
        dirs = runs + [os.path.join(root, "missing")]  # the two entries made above and one that is not there
        here = list(map(run_signature, dirs))
        parent, stat_here = os.getpid(), []
        def counted(run_dir):
            if os.getpid() == parent:
                stat_here.append(run_dir)
            return run_signature(run_dir)
        readers.run_signature = counted
        with readers.PendingSignatures(dirs) as pending:
            forked = pending.result()
        out["equal"], out["forks"], out["nones"] = forked == here, len(forks), forked.count(None)
        out["stat_here"], out["clean"] = stat_here == dirs[:10], no_children_left()
        del stat_here[:]
        with readers.PendingSignatures(dirs, busy=True) as pending:  # this process parses the index meanwhile
            out["busy_equal"] = pending.result() == here
        out["busy_here"] = len(stat_here)
    """)
    # 43 paths, 10 a process, 4 CPUs: 3 children beside this process, which stats only the first 10 itself
    assert out["equal"] and out["forks"] == 3 and out["stat_here"]
    assert out["nones"] == 3 and out["clean"]
    assert out["busy_equal"] and out["busy_here"] == 7  # busy: two thirds of a child's share (2/11 of 43)


def test_a_signature_child_that_dies_or_an_interrupt_leaves_nothing_behind(root: Path) -> None:
    out = probe(root, """
        parent = os.getpid()
        real_signature = readers.run_signature
        here = list(map(real_signature, runs))
        def dying(run_dir):
            if os.getpid() != parent:
                os._exit(3)
            return real_signature(run_dir)
        readers.run_signature = dying
        with readers.PendingSignatures(runs) as pending:
            out["equal"] = pending.result() == here  # the children's slices stat'ed here
        out["forks"] = len(forks)
        calls = []
        def interrupted(run_dir):
            calls.append(run_dir)
            if len(calls) == 5:
                raise KeyboardInterrupt  # Ctrl-C while this process stats its own slice
            return real_signature(run_dir)
        readers.run_signature = interrupted
        try:
            with readers.PendingSignatures(runs) as pending:
                pending.result()
        except KeyboardInterrupt:
            out["interrupted"] = True
        out["clean"] = no_children_left()
    """)
    assert out["equal"] and out["forks"] == 3
    assert out["interrupted"] and out["clean"]  # every child stopped and reaped


def test_a_warm_listing_with_forked_stats_reads_only_what_changed(root: Path) -> None:
    out = probe(root, """
        from tuner.tracking import log_metrics
        cold = ls_runs(order=None, runs_dir=root)
        log_metrics(step=9, run_dir=os.path.join(root, "2026-01-01T00-00-05Z"), loss=0.001)
        time.sleep(0.3)  # past the shortened racy window
        index._memo.clear()
        del forks[:]
        warm = ls_runs(order=None, runs_dir=root)
        expected = runs_frame(read_rows(runs))
        pd.testing.assert_frame_equal(warm.drop(columns="reader_pid"), expected)
        out["forks"] = len(forks)
        out["read_again"] = sorted(warm.loc[warm["reader_pid"] != cold["reader_pid"], "run_dir"].map(os.path.basename))
    """)
    # 40 runs' stats: 3 children (no run read again needs a reader of its own), and one writing the index
    assert out["forks"] == 4
    assert out["read_again"] == ["2026-01-01T00-00-05Z", "2026-01-01T00-00-17Z"]  # the changed and the damaged


def test_the_index_is_written_by_a_child_while_the_frame_is_made(root: Path) -> None:
    """A listing that changes the index writes it in a forked child while this process makes the frame: the file
    is the index a listing here would write (the next listing parses it and reads nothing), this process keeps
    it in memory as written (no parse either), and a listing interrupted while making the frame stops the
    writer (no process left behind; no temp file left but what the next writer removes)."""
    out = probe(root, """
        cold = ls_runs(order=None, runs_dir=root)
        out["forks"] = len(forks)  # 40 runs: 3 children stat, 3 read, 1 writes the index
        out["memo"] = os.path.abspath(index.index_path(root)) in index._memo
        time.sleep(0.3)
        reread = []
        readers.read_row = lambda run_dir, *a: reread.append(run_dir) or read_row(run_dir, *a)
        index._memo.clear()
        warm = ls_runs(order=None, runs_dir=root)
        out["equal"] = warm.drop(columns="reader_pid").equals(cold.drop(columns="reader_pid"))
        out["reread"] = sorted(map(os.path.basename, reread))
        os.unlink(index.index_path(root))
        def interrupted(names, columns):
            raise KeyboardInterrupt  # Ctrl-C while the frame is made
        try:
            index.indexed_listing(root, prepare=interrupted)
        except KeyboardInterrupt:
            out["interrupted"] = True
        out["clean"] = no_children_left()
    """)
    assert out["forks"] == 7 and out["memo"]
    assert out["equal"] and out["reread"] == ["2026-01-01T00-00-17Z"]  # only the damaged run, read every time
    assert out["interrupted"] and out["clean"]
