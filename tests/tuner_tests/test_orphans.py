"""Resume settles what a dead driver left running: its trials still alive on this machine are killed (found by
the run folder in their environment, so a recycled pid is never killed), then marked lost. The killing and the
liveness test are workers.reaper's, the one owner of both."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from synthetic_runs import make_run

from tuner.store.files import read_run
from tuner.store.layout import ENV_RUN_DIR
from tuner.sweep.resume import settle_orphans
from workers.reaper import alive, carries, kill_group

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A process in a group of its own, as workers.process starts a trial."""
    return subprocess.Popen(SLEEPER, env={**os.environ, **env}, start_new_session=True)


def test_carries_reads_the_environment_and_kill_group_kills(tmp_path: Path) -> None:
    proc = _start({"TUNER_TEST_MARK": "a"})
    try:
        time.sleep(0.2)  # its environ is readable once it exec'd
        assert alive(proc.pid) and carries(proc.pid, b"TUNER_TEST_MARK=a")
        assert not carries(proc.pid, b"TUNER_TEST_MARK=b") and not carries(proc.pid, b"TUNER_TEST_MARK")
        kill_group(proc.pid)
        assert proc.wait(timeout=10) == -9
    finally:
        proc.kill()
    assert not alive(proc.pid) and not carries(proc.pid, b"TUNER_TEST_MARK=a")
    kill_group(proc.pid)  # gone: nothing to do, no error
    assert alive(1)  # init: someone else's process, which this user cannot signal, is alive


@pytest.mark.slow
def test_settle_orphans_kills_only_the_dead_drivers_own_trials(workdir: Path) -> None:
    runs = workdir / "runs"
    ours = make_run(runs, "2026-04-01T00-00-00Z", status="running", heartbeat=time.time() - 600, sweep="s1",
                    trial=0, attempt=1, host=socket.gethostname())
    stranger = make_run(runs, "2026-04-01T00-00-01Z", status="running", heartbeat=time.time() - 600, sweep="s1",
                        trial=1, attempt=1, host=socket.gethostname())
    trial = _start({ENV_RUN_DIR: os.path.abspath(ours)})
    other = _start({ENV_RUN_DIR: "/elsewhere/run"})  # a pid recorded by a run, now someone else's process
    try:
        for run_dir, proc in ((ours, trial), (stranger, other)):
            record = json.loads(Path(run_dir, "tuner.d", "run.json").read_text())
            Path(run_dir, "tuner.d", "run.json").write_text(json.dumps({**record, "pid": proc.pid}))
        time.sleep(0.2)
        assert settle_orphans(str(runs), "s1", heartbeat_s=0.2, wait_s=3) == 2
        assert trial.wait(timeout=10) == -9
        assert other.poll() is None  # not ours: left alone
        assert [read_run(d, with_metrics=False).run["status"] for d in (ours, stranger)] == ["lost", "lost"]
    finally:
        trial.kill()
        other.kill()
        trial.wait()
        other.wait()
