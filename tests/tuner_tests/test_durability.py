"""Durable sweeps and safety: skip-done, lost runs, torn journals, corrupt metadata, hostile flag values."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.conftest import run_tune
from tuner import ls_runs, tuning_run
from tuner.store.journal import Journal
from tuner.sweep.resume import sweep_statuses
from tuner.tracking import unique_run_dir
from workers.files import atomic_write_json

ECHO_ARGV = """
import json, os, sys
from tuner import run_dir
with open(os.path.join(run_dir(), "argv.json"), "w") as handle:
    json.dump(sys.argv[1:], handle)
print("done: 1")
"""

HOSTILE = ['"; rm -rf ~"', "$(id)", "`id`", "it's \"quoted\"", "line1\nline2", "ünïcødé ✓", "a b  c", "--x=1", "${HOME}"]


@pytest.mark.ray
def test_hostile_flag_values_reach_the_script_verbatim_and_execute_nothing(ray_cluster, workdir, write_script):
    write_script("echo.py", ECHO_ARGV)
    canary = workdir / "pwned"
    values = HOSTILE + [f"$(touch {canary})", f"; touch {canary}"]
    result = tuning_run("echo.py", {"s": values}, confirm=False, quiet=True)
    assert set(result.status) == {"finished"}
    seen = sorted(json.loads((Path(d) / "argv.json").read_text())[0] for d in result.run_dir)
    assert seen == sorted(f"--s={v}" for v in values)
    assert not canary.exists()


def test_hostile_values_in_a_single_run_from_the_cli(workdir, write_script):
    write_script("echo.py", ECHO_ARGV)
    (workdir / "flags.yml").write_text(json.dumps({"s": "$(touch pwned); `id` \"q\""}))
    result = run_tune("echo.py", "--flags", "flags.yml", cwd=workdir)
    assert result.returncode == 0, result.stderr
    run = next((workdir / "runs").iterdir())
    assert json.loads((run / "argv.json").read_text()) == ['--s=$(touch pwned); `id` "q"']
    assert not (workdir / "pwned").exists()


@pytest.mark.ray
def test_skip_done_runs_only_new_combinations(ray_cluster, workdir, write_script):
    write_script("train.py", "import sys\nprint('loss: 1')\n")
    first = tuning_run("train.py", {"a": [1, 2]}, confirm=False, quiet=True)
    second = tuning_run("train.py", {"a": [1, 2, 3]}, skip_done=True, confirm=False, quiet=True)
    assert len(second) == 3
    assert set(first.run_dir) < set(second.run_dir)  # the done ones appear as they are
    new = set(second.run_dir) - set(first.run_dir)
    assert len(new) == 1
    assert ls_runs().shape[0] == 3
    # a changed script is a different script: nothing is skipped
    write_script("train.py", "print('loss: 2')\n")
    third = tuning_run("train.py", {"a": [1]}, skip_done=True, confirm=False, quiet=True)
    assert third.run_dir[0] not in set(second.run_dir)


def test_a_running_run_with_a_stale_heartbeat_is_lost(workdir):
    run_dir = unique_run_dir("runs")
    os.makedirs(os.path.join(run_dir, "tuner.d"))
    atomic_write_json(os.path.join(run_dir, "tuner.d", "run.json"),
                      {"status": "running", "start": time.time() - 600, "heartbeat": time.time() - 300})
    assert ls_runs().status.tolist() == ["lost"]
    atomic_write_json(os.path.join(run_dir, "tuner.d", "run.json"),
                      {"status": "running", "start": time.time() - 5, "heartbeat": time.time()})
    assert ls_runs().status.tolist() == ["running"]


def test_corrupt_and_partial_metadata_never_break_listing(workdir, caplog):
    runs = workdir / "runs"
    good = Path(unique_run_dir("runs", seconds_scale=3))
    (good / "tuner.d").mkdir()
    atomic_write_json(str(good / "tuner.d" / "run.json"), {"status": "finished", "start": 1.0, "end": 2.0})
    atomic_write_json(str(good / "tuner.d" / "flags.json"), {"lr": 0.1})
    truncated = Path(unique_run_dir("runs", seconds_scale=3))
    (truncated / "tuner.d").mkdir()
    (truncated / "tuner.d" / "run.json").write_text('{"status": "finis')
    (truncated / "tuner.d" / "flags.json").write_text('{"lr": 0.2}')
    (truncated / "tuner.d" / "metrics.jsonl").write_text('{"step": 1, "loss": 0.5}\n{"step": 2, "lo')
    not_object = Path(unique_run_dir("runs", seconds_scale=3))
    (not_object / "tuner.d").mkdir()
    (not_object / "tuner.d" / "run.json").write_text("[1, 2]")
    empty = Path(unique_run_dir("runs", seconds_scale=3))
    (empty / "tuner.d").mkdir()
    (runs / "notes").mkdir()  # an unrelated folder
    (runs / "README.txt").write_text("not a run")
    frame = ls_runs()
    assert len(frame) == 4
    by_dir = frame.set_index(frame.run_dir.map(lambda p: Path(p).name))
    assert by_dir.loc[good.name, "status"] == "finished"
    assert by_dir.loc[truncated.name, "flag_lr"] == 0.2
    assert by_dir.loc[truncated.name, "metric_loss"] == 0.5  # the torn last line is skipped
    assert any(truncated.name in r.getMessage() for r in caplog.records)


@pytest.mark.ray
def test_torn_last_journal_record_is_ignored(ray_cluster, workdir, write_script):
    write_script("train.py", "print('loss: 1')\n")
    result = tuning_run("train.py", {"a": [1, 2]}, confirm=False, quiet=True)
    journal = Journal.open("runs", result.attrs["sweep"])
    with open(journal.path, "a") as handle:
        handle.write('{"type": "outcome", "trial": 0, "sta')
    state = journal.read()
    assert [r["type"] for r in state.records] == ["outcome", "outcome"]
    (status,) = sweep_statuses("runs")
    assert (status.counts.planned, status.counts.finished, status.counts.failed, status.counts.pending) == (2, 2, 0, 0)


def test_run_names_cannot_escape_the_runs_directory(workdir, monkeypatch):
    from tuner.errors import RunNotFoundError
    from tuner.runs.resolve import resolve_run_dir

    (workdir / "outside" / "tuner.d").mkdir(parents=True)  # a run next to, not inside, the runs directory
    (workdir / "runs").mkdir()
    (workdir / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(workdir / "a" / "b")
    runs = str(workdir / "runs")
    with pytest.raises(RunNotFoundError):
        resolve_run_dir("../outside", runs)  # runs/../outside exists, but a name never leaves runs/
    with pytest.raises(RunNotFoundError):
        resolve_run_dir("..", runs)
    result = run_tune("info", "../outside", "--runs-dir", runs, cwd=workdir / "a" / "b")
    assert result.returncode == 2 and "not found" in result.stderr
