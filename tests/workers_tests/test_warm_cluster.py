"""A warm local cluster (`--keep-cluster` / keep_cluster_s): the next sweep joins it instead of starting Ray,
`tune cluster down` stops every process of it, and an idle one stops by itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workers.embedded import dashboard_heads
from workers.reaper import descendants, marked, still_alive
from workers.warm import WARM_ENV

pytestmark = [pytest.mark.ray, pytest.mark.slow]

SCRIPT = """
import argparse, os
p = argparse.ArgumentParser(); p.add_argument("--x", type=int); a = p.parse_args()
print("loss", a.x, "seen", os.environ.get("MY_SETTING"))
"""


def _tune(workdir: Path, cache: Path, *args: str, extra_env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUNER_", "RAY_"))}
    env.update(XDG_CACHE_HOME=str(cache), **(extra_env or {}))
    return subprocess.run([sys.executable, "-m", "tuner", *args], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=300)


def _state(cache: Path) -> dict | None:
    path = cache / "tuner" / "warm-cluster.json"
    return json.loads(path.read_text()) if path.exists() else None


SLOW = """
import argparse, os, time
p = argparse.ArgumentParser(); p.add_argument("--x", type=int); a = p.parse_args()
open(f"started-{a.x}", "w").close(); time.sleep(120)
"""


def _ready_standby(cache: Path, within_s: float = 90) -> int:
    """The pid of the warm cluster's standby driver once it is ready for a command."""
    path = cache / "tuner" / "standby.json"
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            state = {}
        if state.get("ready"):
            return int(state["pid"])
        time.sleep(0.2)
    raise AssertionError(f"no standby ready within {within_s} s: {(cache / 'tuner' / 'standby.log').read_text()}")


def _exited(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def _gone(mark: str, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while marked(mark, WARM_ENV) and time.monotonic() < deadline:
        time.sleep(0.25)
    return not marked(mark, WARM_ENV)


def test_the_next_sweep_joins_the_warm_cluster_and_down_stops_all_of_it(workdir: Path) -> None:
    (workdir / "train.py").write_text(SCRIPT)
    cache = workdir / "cache"
    first = _tune(workdir, cache, "train.py", "--flag", "x=1,2", "--keep-cluster", "120", "-q")
    assert first.returncode == 0, first.stderr
    state = _state(cache)
    assert state is not None and state["address"].startswith("127.0.0.1:")
    mark = state["mark"]
    try:
        assert marked(mark, WARM_ENV), "the cluster went down with the sweep"
        status = _tune(workdir, cache, "cluster", "status")
        assert f"warm cluster at {state['address']}" in status.stdout and "0 sweep(s) using it" in status.stdout
        # a standby driver waits for the next command, joined to the cluster (tuner.cli.standby)
        standby = _ready_standby(cache)
        assert marked(mark, WARM_ENV).get(standby) is not None, "the standby does not carry the cluster's mark"
        assert f"standby driver (pid {standby}): ready" in _tune(workdir, cache, "cluster", "status").stdout
        # the second sweep, with its own environment, is handed to it: the same cluster, no second `ray start`,
        # its output on this command's stdout, its trials with this command's environment and folder
        second = _tune(workdir, cache, "train.py", "--flag", "x=3,4", "--keep-cluster", "120",
                       extra_env={"MY_SETTING": "from-the-second-tune"})
        assert second.returncode == 0, second.stderr
        assert "2 finished, 0 failed of 2 trials" in second.stdout, second.stdout
        assert _exited(standby, 15), "the standby did not take the command"
        again = _state(cache)
        assert again is not None and (again["mark"], again["started"]) == (mark, state["started"])
        logs = [p.read_text() for p in workdir.glob("runs/2*/tuner.d/output.log")]
        assert sum("seen from-the-second-tune" in log for log in logs) == 2  # its trials got its environment
        # Ctrl-C on a command handed over reaches the standby: trials killed and recorded, exit 130, nothing left
        standby = _ready_standby(cache)
        (workdir / "slow.py").write_text(SLOW)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TUNER_", "RAY_"))}
        proc = subprocess.Popen([sys.executable, "-m", "tuner", "slow.py", "--flag", "x=5,6", "--keep-cluster", "120"],
                                cwd=workdir, env={**env, "XDG_CACHE_HOME": str(cache)}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while len(list(workdir.glob("runs/2*/started-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(2)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, (out, err)
        assert _exited(standby, 15)
        slow_runs = [json.loads(p.read_text()) for p in workdir.glob("runs/2*/tuner.d/run.json")]
        assert sorted(r["status"] for r in slow_runs if r["script"].endswith("slow.py")) == ["killed", "killed"]
        assert not [p for p in _pids() if "slow.py" in _cmdline(p)], "a trial outlived Ctrl-C"
        # the agents overwrite their environment with their title (the mark is gone there): the raylet's children
        family = marked(mark, WARM_ENV)
        family.update(descendants(*family))
        assert any("Agent" in _cmdline(pid) for pid in family), sorted(_cmdline(p)[:40] for p in family)
        # started by `ray start` through workers.embedded: without the dashboard head Ray starts even when asked
        # for none (about 1.5 s of the start on 2 cores)
        assert dashboard_heads(family) == [], "`ray start` started its dashboard head for the warm cluster"
        down = _tune(workdir, cache, "cluster", "down")
        assert down.returncode == 0 and "stopped the warm cluster" in down.stdout, down.stderr
        assert _gone(mark, 15), f"left: {sorted(marked(mark, WARM_ENV))}"
        left = still_alive(family)
        assert not left, [(pid, _cmdline(pid)[:60], Path(f"/proc/{pid}/stat").read_text()[:80]) for pid in left]
        assert _state(cache) is None and "no warm cluster" in _tune(workdir, cache, "cluster", "status").stdout
    finally:
        for pid in marked(mark, WARM_ENV):
            os.kill(pid, 9)


def test_an_idle_warm_cluster_stops_by_itself(workdir: Path) -> None:
    (workdir / "train.py").write_text(SCRIPT)
    cache = workdir / "cache"
    done = _tune(workdir, cache, "train.py", "--flag", "x=1,2", "--keep-cluster", "2", "-q")
    assert done.returncode == 0, done.stderr
    state = _state(cache)
    assert state is not None
    try:
        assert _gone(state["mark"], 30), f"still up after 30 s: {sorted(marked(state['mark'], WARM_ENV))}"
        # the watchdog removes the state file last, once it has seen every process go (so a stop cut short
        # still leaves `tune cluster down` the mark to find what is left): give it a moment after the last one
        deadline = time.monotonic() + 10
        while _state(cache) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _state(cache) is None, "the cluster is gone but its state file stayed"
    finally:
        for pid in marked(state["mark"], WARM_ENV):
            os.kill(pid, 9)


def test_a_negative_keep_cluster_is_refused(workdir: Path) -> None:
    (workdir / "train.py").write_text(SCRIPT)
    done = _tune(workdir, workdir / "cache", "train.py", "--flag", "x=1,2", "--keep-cluster", "-1", "--yes")
    assert done.returncode == 2 and "keep-cluster must be 0" in done.stderr and len(done.stderr.strip().splitlines()) == 1
