"""Checkpoint folders: where a script saves its state and continues from (docs/design.md, "Checkpoints").

The contract needs nothing of the script but a folder: `$TUNER_CHECKPOINT_DIR` (or the `${checkpoint_dir}` anchor
of a command template, or `tuner.checkpoint_dir()`). If it holds a checkpoint, the script continues from it; it
saves into it as it goes; on SIGTERM it saves if it can and exits. A sweep trial's folder is its own, not its
run's (`TrialPaths.checkpoint`), so every attempt of the trial (a retry after a timeout, a rerun by `tune resume`, a
task Ray ran again on another node, a trial paused and promoted) finds what the one before it saved. Tuner never
reads what is inside: a checkpoint is whatever files the script wrote there.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

from tuner.store.layout import RunPaths, TrialPaths
from workers.files import append_json_line, atomic_write_json, read_json, read_json_lines


def checkpoint_files(folder: str) -> list[str]:
    """Every regular file under `folder` (relative paths), none when it is missing."""
    found = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            found.append(os.path.relpath(os.path.join(root, name), folder))
    return sorted(found)


def has_checkpoint(folder: str | None) -> bool:
    """Whether the script saved anything there: a folder holding at least one file."""
    if not folder:
        return False
    for _root, _dirs, files in os.walk(folder):
        if files:
            return True
    return False


def checkpoint_time(folder: str | None) -> float | None:
    """When the newest file of the checkpoint was written (its mtime), None without one: which of two checkpoints is
    newer (PBT never copies a donor's checkpoint older than the receiver's own)."""
    newest = None
    for root, _dirs, files in os.walk(folder) if folder else ():
        for name in files:
            try:
                mtime = os.stat(os.path.join(root, name)).st_mtime
            except OSError:
                continue
            newest = mtime if newest is None else max(newest, mtime)
    return newest


def copy_checkpoint(source: str, dest: str) -> None:
    """`dest` becomes a copy of `source` (PBT's exploit), swapped in whole: a reader never sees half of each."""
    parent = os.path.dirname(dest)
    os.makedirs(parent, exist_ok=True)
    staging = os.path.join(parent, f".{os.path.basename(dest)}.copy-{os.getpid()}-{time.time_ns()}")
    shutil.copytree(source, staging, symlinks=True)
    old = None
    if os.path.exists(dest):
        old = os.path.join(parent, f".{os.path.basename(dest)}.old-{os.getpid()}-{time.time_ns()}")
        os.rename(dest, old)
    os.rename(staging, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def record_launch(trial: TrialPaths, run_dir: str, attempt: int, segment: int = 0) -> None:
    """Note a run launched for the trial (its runs.jsonl): the next one knows which run it continues."""
    os.makedirs(trial.folder, exist_ok=True)
    append_json_line(trial.runs_jsonl, {"run": os.path.basename(os.path.normpath(run_dir)), "attempt": attempt,
                                        "segment": segment, "time": time.time()})


def launched_runs(trial: TrialPaths) -> list[dict[str, Any]]:
    return read_json_lines(trial.runs_jsonl)[0]


def resumed_from(trial: TrialPaths, runs_dir: str) -> dict[str, Any] | None:
    """What a run about to start for this trial continues: {"run": the trial's last run that ran, "step": None
    until its first metrics row says (after_run fills it in)}, None when the folder holds no checkpoint."""
    if not has_checkpoint(trial.checkpoint):
        return None
    previous = None
    for entry in reversed(launched_runs(trial)):
        name = entry.get("run")
        if isinstance(name, str) and os.path.isfile(RunPaths(os.path.join(runs_dir, name)).run_json):
            previous = name
            break
    return {"run": previous, "step": None}


def settle_resumed_step(run_dir: str) -> None:
    """After the run: the step it continued from is the step of its first metrics row (the history goes on from
    there); written into run.json's `resumed_from`, which the launch wrote with the run it continued."""
    from tuner.store.files import read_metric_lines

    paths = RunPaths(run_dir)
    try:
        record = read_json(paths.run_json)
    except (OSError, ValueError):
        return
    if not isinstance(record, dict) or not isinstance(record.get("resumed_from"), dict) \
            or record["resumed_from"].get("step") is not None:
        return
    rows = read_metric_lines(paths.live_metrics_jsonl)[0]
    steps = [r["step"] for r in rows if isinstance(r.get("step"), (int, float)) and not isinstance(r["step"], bool)]
    if not steps:
        return
    record["resumed_from"] = {**record["resumed_from"], "step": steps[0]}
    atomic_write_json(paths.run_json, record)


def drop_empty_checkpoint(run_dir: str) -> None:
    """A single run's checkpoint folder (tuner.d/checkpoint) that the script never used goes: no empty folder in
    every run."""
    folder = RunPaths(run_dir).checkpoint_dir
    if os.path.isdir(folder) and not has_checkpoint(folder):
        shutil.rmtree(folder, ignore_errors=True)


def copy_newest(source: str, dest: str, tries: int = 3) -> bool:
    """Copy a checkpoint another run may be writing right now: again when it changed while it was copied (at most
    `tries` times); False when it never held still."""
    from workers.checkpoints import signature

    for _ in range(tries):
        before = signature(source)
        copy_checkpoint(source, dest)
        if signature(source) == before:
            return True
        time.sleep(0.2)
    return False
