"""A run on a node without the driver's files: its paths moved to a local folder and to the shipped project,
and the local folders of runs whose worker died are cleaned up by the next remote run on that node."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from workers.files import ship_excludes
from workers.process import RunSpec
from workers.shipping import clean_stale_scratch, rebase, relocate


def test_paths_move_at_separators_only_and_never_twice():
    moves = [("/p/runs/r1", "/scratch/r1"), ("/p", "/copy")]
    assert rebase(("/p/runs/r1/tuner.d/run.json", "/p/train.py", "--data=/p/data", "/pq/x", "/p", "/scratch"),
                   moves) == ("/scratch/r1/tuner.d/run.json", "/copy/train.py", "--data=/copy/data", "/pq/x", "/copy",
                              "/scratch")
    assert rebase({"/p/runs/r1/flags.json": "/p"}, moves) == {"/scratch/r1/flags.json": "/copy"}
    assert rebase(3, moves) == 3


def test_a_relocated_spec_runs_from_the_shipped_copy_and_keeps_the_drivers_paths_in_run_json(tmp_path):
    project, run = "/driver/project", "/driver/project/runs/2026-01-01T00-00-00.000Z"
    spec = RunSpec(command=("/driver/venv/bin/python", f"{project}/train.py", "--x=1"), cwd=project, run_dir=run,
                   run_json=f"{run}/tuner.d/run.json", output_log=f"{run}/tuner.d/output.log",
                   error_json=f"{run}/tuner.d/error.json", record={"cwd": project, "script": f"{project}/train.py"},
                   env={"TUNER_RUN_DIR": run}, initial_files={f"{run}/tuner.d/flags.json": "{}"},
                   project_dir=project, runs_dir=f"{project}/runs", post_run=(print, (run, None)))
    local = relocate(spec, project, str(tmp_path))
    here = os.getcwd()
    moved = str(tmp_path / os.path.basename(run))
    assert local.command == (sys.executable, f"{here}/train.py", "--x=1")  # no /driver/venv here: this Python
    assert (local.cwd, local.project_dir, local.run_dir) == (here, here, moved)
    assert local.run_json == f"{moved}/tuner.d/run.json" and local.env["TUNER_RUN_DIR"] == moved
    assert list(local.initial_files) == [f"{moved}/tuner.d/flags.json"]
    assert local.post_run == (print, (moved, None))
    assert local.record == spec.record


def test_local_folders_of_dead_workers_are_removed_and_live_ones_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / f"tuner-run-{dead.pid}-abc" / "run").mkdir(parents=True)
    (tmp_path / f"tuner-run-{os.getpid()}-def").mkdir()
    (tmp_path / "other").mkdir()
    clean_stale_scratch()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", f"tuner-run-{os.getpid()}-def"]


def test_the_runs_directory_is_excluded_from_shipping_only_when_inside_the_project(tmp_path):
    project = tmp_path / "project"
    (project / "out" / "runs").mkdir(parents=True)
    inside = ship_excludes(str(project), [str(project / "out" / "runs"), str(tmp_path / "elsewhere")])
    assert inside[-1] == "/out/runs/" and ".git/" in inside and not any("elsewhere" in p for p in inside)
