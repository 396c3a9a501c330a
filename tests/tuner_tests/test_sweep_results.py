"""A sweep's results hold exactly that sweep: its summary.csv, its report and its tuning_run frame carry its
own flags and metrics (not those of unrelated runs in the same runs directory), integer trial/attempt, and
trial counts that agree with `tune sweeps` after retries, failures and a Ctrl-C."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tuner import training_run, tuning_run
from tuner.sweep.resume import sweep_statuses

pytestmark = [pytest.mark.slow, pytest.mark.ray]

FIRST = """
import argparse, sys
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float)
a = p.parse_args()
print(f"val_acc: {a.lr}")
sys.exit(1 if a.lr < 0 else 0)
"""

SECOND = """
import argparse, time
p = argparse.ArgumentParser()
p.add_argument("--x", type=int)
a = p.parse_args()
time.sleep(0.1 if a.x == 0 else 60)
print(f"score: {a.x}")
"""

OTHER = """
import argparse
p = argparse.ArgumentParser()
p.add_argument("--lrr", type=float)
a = p.parse_args()
print(f"other_loss: {a.lrr}")
"""


def _runs(workdir: Path) -> list[dict]:
    found = []
    for path in (workdir / "runs").glob("*/tuner.d/run.json"):
        try:
            found.append(json.loads(path.read_text()))
        except ValueError:
            continue
    return found


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def _summary(workdir: Path, sweep: str) -> tuple[list[str], list[dict[str, str]]]:
    with open(workdir / "runs" / "sweeps" / sweep / "summary.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _report_data(workdir: Path, sweep: str) -> dict:
    from tuner.report import save_sweep_report

    page = Path(save_sweep_report(sweep, runs_dir=str(workdir / "runs"), filename=str(workdir / f"{sweep}.html")))
    match = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', page.read_text(), re.S)
    assert match
    return json.loads(match.group(1))


def _own(columns, prefix: str) -> set[str]:
    return {c for c in columns if c.startswith(prefix)}


def test_two_sweeps_and_single_runs_keep_their_own_columns_and_counts_agree(ray_cluster, workdir, write_script):
    write_script("first.py", FIRST)
    write_script("second.py", SECOND)
    write_script("other.py", OTHER)
    training_run("other.py", flags={"lrr": 0.5}, echo=False)  # unrelated runs: flag_lrr, metric_other_loss
    training_run("other.py", flags={"lrr": 0.7}, echo=False)

    # sweep 1 (API): one trial fails twice (a retry), two finish
    frame = tuning_run("first.py", flags={"lr": [0.1, -1.0, 0.3]}, retries=1, address=ray_cluster, confirm=False,
                       quiet=True)
    assert frame is not None
    first = frame.attrs["sweep"]
    assert len(frame) == 4  # 3 trials, 4 attempts
    assert _own(frame.columns, "flag_") == {"flag_lr"} and _own(frame.columns, "metric_") == {"metric_val_acc"}
    assert str(frame["trial"].dtype) == "int64" and str(frame["attempt"].dtype) == "int64"

    # sweep 2 (a real `tune` process): one trial finishes, then Ctrl-C while others run
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    env.update(TUNER_HEARTBEAT_S="1", TUNER_KILL_GRACE_S="2")
    proc = subprocess.Popen([sys.executable, "-m", "tuner", "second.py", "--flag", "x=0,1,2,3,4,5", "--yes",
                             "--address", ray_cluster], cwd=workdir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert _wait(lambda: any(r.get("status") == "finished" and r.get("script", "").endswith("second.py")
                                 for r in _runs(workdir))
                     and any(r.get("status") == "running" for r in _runs(workdir)), 90)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    # a trial whose task was cancelled before it started has no run: it is pending, and nothing calls it KILLED
    assert "cancelled before it started" not in err and "KILLED: exit status None" not in err, err
    second = out.split("sweep ")[-1].split(":")[0]
    assert second != first

    listed = {s.sweep_id: s.counts for s in sweep_statuses(str(workdir / "runs"))}
    one, two = listed[first], listed[second]
    assert (one.planned, one.finished, one.failed, one.interrupted, one.pending) == (3, 2, 1, 0, 0)
    assert two.planned == 6 and two.finished == 1 and two.failed == 0 and two.interrupted >= 1
    assert two.finished + two.failed + two.interrupted + two.pending + two.running == 6 and two.running == 0
    # the final line counts trials exactly as `tune sweeps` does
    line = f"{two.finished} finished, 0 failed, {two.interrupted} interrupted"
    line += f", {two.pending} pending of 6 trials" if two.pending else " of 6 trials"
    assert line in out, out
    # `tune sweeps` prints the same numbers
    table = subprocess.run([sys.executable, "-m", "tuner", "sweeps"], cwd=workdir, env=env, capture_output=True,
                           text=True, timeout=60).stdout
    row = next(r for r in table.splitlines() if second in r)
    # planned, finished, stopped, paused, failed, interrupted, running, pending, skipped
    assert row.split()[-9:] == [str(v) for v in (6, two.finished, 0, 0, 0, two.interrupted, 0, two.pending, 0)]

    for sweep, flags, metrics in ((first, {"flag_lr"}, {"metric_val_acc"}), (second, {"flag_x"}, {"metric_score"})):
        columns, rows = _summary(workdir, sweep)
        assert _own(columns, "flag_") == flags, columns
        assert _own(columns, "metric_") <= metrics and not _own(columns, "eval_")
        assert all(re.fullmatch(r"\d+", r["trial"]) and re.fullmatch(r"\d+", r["attempt"]) for r in rows), rows
        data = _report_data(workdir, sweep)
        assert set(data["flags"]) == flags
        assert _own(data["columns"], "metric_") <= metrics and "flag_lrr" not in data["columns"]
        trial = data["columns"].index("trial")
        assert all(isinstance(r[trial], int) for r in data["rows"])
        status = listed[sweep]
        assert data["summary"].startswith(f"{status.planned} trials: {status.finished} finished, {status.failed} "
                                          "failed"), data["summary"]
    assert "4 runs" in _report_data(workdir, first)["summary"]  # 4 attempts of 3 trials
