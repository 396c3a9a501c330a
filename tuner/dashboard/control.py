"""What a dashboard started with `--allow-control` does when a page asks: stop a trial, stop or resume a sweep.

Each goes through the mechanism the sweep already has, so the dashboard holds no state a driver depends on:
- a trial is stopped by its run's `tuner.d/stop.json`, which workers/process.py looks for while the script runs
  (SIGTERM to its process group, SIGKILL after the kill grace; the run ends `stopped`, metrics and artifacts kept);
- a sweep is stopped by its folder's `stop.json` (Journal.stop_request), which the driver loop treats as a Ctrl-C:
  no new trial, running ones stopped and left for resume;
- a sweep is resumed by `tune resume SWEEP` started in its own session (so closing the dashboard does not stop
  it), in the sweep's recorded working directory, its output appended to the sweep folder's `resume.log`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from tuner.errors import TunerError
from tuner.store.files import read_run
from tuner.store.journal import Journal
from tuner.store.layout import RESUME_LOG, RunPaths, is_plain_name
from tuner.store.status import RunStatus
from workers.files import atomic_write_text

#: a resumed driver shows itself (claims the sweep) within this long, or its early failure is reported
RESUME_WAIT_S = 15.0


class ControlError(TunerError):
    """A control request that cannot be done now (the trial is not running, the sweep is already running ...)."""


@dataclass(frozen=True)
class Done:
    """What a control request did, in one line for the page."""

    message: str


def stop_trial(runs_dir: str, run: str, sweep_id: str) -> Done:
    """Ask the runner of `run` (a running trial of `sweep_id`) to stop it."""
    if not is_plain_name(run):
        raise ControlError(f"'{run}' is not a run name")
    paths = RunPaths(os.path.join(runs_dir, run))
    if not paths.is_run():
        raise ControlError(f"run '{run}' does not exist in '{runs_dir}'")
    record = read_run(paths.run_dir, with_metrics=False).run
    if str(record.get("sweep")) != sweep_id:
        raise ControlError(f"run '{run}' is not a trial of sweep {sweep_id}")
    if record.get("status") != RunStatus.RUNNING.value:
        raise ControlError(f"run '{run}' is {record.get('status') or 'not started'}, not running: nothing to stop")
    atomic_write_text(paths.stop_request, json.dumps({"reason": "stopped from the dashboard", "rule": "dashboard",
                                                      "time": time.time()}))
    return Done(f"asked trial {record.get('trial')} ({run}) to stop")


def stop_sweep(runs_dir: str, sweep_id: str) -> Done:
    """Ask the driver of a running sweep to stop it (running trials are stopped and left for resume)."""
    journal = Journal.open(runs_dir, sweep_id)
    if not journal.is_claimed():
        raise ControlError(f"sweep {sweep_id} is not running: nothing to stop")
    atomic_write_text(journal.stop_request, json.dumps({"reason": "stopped from the dashboard", "time": time.time()}))
    return Done(f"asked sweep {sweep_id} to stop; resume it to run what is left")


def resume_sweep(runs_dir: str, sweep_id: str, wait_s: float = RESUME_WAIT_S) -> Done:
    """Start `tune resume SWEEP` in the background; returns once its driver holds the sweep (or says why not)."""
    journal = Journal.open(runs_dir, sweep_id)
    if journal.is_claimed():
        raise ControlError(f"sweep {sweep_id} is running already")
    header = journal.read_header()
    cwd = str(header.get("cwd") or "")
    cwd = cwd if os.path.isdir(cwd) else os.getcwd()
    log_path = os.path.join(journal.folder, RESUME_LOG)
    command = [sys.executable, "-m", "tuner", "resume", sweep_id, "--runs-dir", os.path.abspath(runs_dir)]
    with open(log_path, "ab") as log:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())  # UTC, as every time tune writes
        log.write(f"\n--- {when} tune resume {sweep_id} (from the dashboard)\n".encode())
        log.flush()
        process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, close_fds=True)
    threading.Thread(target=process.wait, name="tuner-resume-reaper", daemon=True).start()  # no zombie left
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if journal.is_claimed():
            return Done(f"resumed sweep {sweep_id} (process {process.pid}; its output: {log_path})")
        code = process.poll()
        if code is not None:
            if code == 0:  # nothing was left to run, or it ran and ended already
                return Done(f"sweep {sweep_id}: {_last_line(log_path) or 'resume ended'}")
            raise ControlError(f"tune resume {sweep_id} failed: {_last_line(log_path) or f'exit status {code}'} "
                               f"(see {log_path})")
        time.sleep(0.1)
    return Done(f"started tune resume {sweep_id} (process {process.pid}; its output: {log_path})")


def _last_line(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - 4096))
            lines = [line.strip() for line in handle.read().decode("utf-8", "replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""
