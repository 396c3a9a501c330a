"""The fault suite: whatever happens to a sweep, every finished run is kept, nothing runs twice, nothing is
left running. Real `tune` processes, real Ray clusters, real signals."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tuner import ls_runs, tuning_run

pytestmark = [pytest.mark.slow, pytest.mark.ray]

SLOW = """
import argparse, os, random, subprocess, sys, time
p = argparse.ArgumentParser()
p.add_argument("--x", type=int)
p.add_argument("--nap", type=float, default=0.4)
a = p.parse_args()
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])  # a grandchild to clean up
time.sleep(a.nap * (0.5 + random.random()))
child.kill()
print(f"score: {a.x}")
"""


def _children() -> dict[int, int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                parents[int(entry)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    return parents


def descendants(pid: int) -> set[int]:
    parents = _children()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                if handle.read().rsplit(")", 1)[1].split()[0] != "Z":
                    living.add(pid)
        except OSError:
            continue
    return living


def wait_until(predicate, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def runs(workdir: Path) -> list[dict]:
    found = []
    for path in (workdir / "runs").glob("*/tuner.d/run.json"):
        try:
            found.append(json.loads(path.read_text()))
        except ValueError:
            continue
    return found


def start_tune(workdir: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    env.update(TUNER_HEARTBEAT_S="1", TUNER_KILL_GRACE_S="2")
    return subprocess.Popen([sys.executable, "-m", "tuner", *args], cwd=workdir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.fixture
def slow_script(write_script):
    return write_script("slow.py", SLOW)


def test_ctrl_c_stops_cleanly_leaves_nothing_running_and_says_how_to_resume(workdir, slow_script):
    proc = start_tune(workdir, "slow.py", "--flag", "x=" + ",".join(map(str, range(8))), "--flag", "nap=20", "--yes")
    assert wait_until(lambda: sum(r.get("status") == "running" for r in runs(workdir)) >= 2, 60)
    family = descendants(proc.pid)
    trial_pids = {r["pid"] for r in runs(workdir) if r.get("pid")}
    assert trial_pids <= family
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    sweep_id = next((workdir / "runs" / "sweeps").iterdir()).name
    assert f"resume with: tune resume {sweep_id}" in err
    assert wait_until(lambda: not alive(family), 15), f"left running: {alive(family)}"
    statuses = Counter(r["status"] for r in runs(workdir))
    assert statuses["killed"] >= 2 and "running" not in statuses and "finished" not in statuses


def test_driver_killed_by_sigkill_takes_its_trials_with_it(workdir, slow_script):
    proc = start_tune(workdir, "slow.py", "--flag", "x=" + ",".join(map(str, range(8))), "--flag", "nap=20", "--yes")
    assert wait_until(lambda: sum(r.get("status") == "running" for r in runs(workdir)) >= 2, 60)
    family = descendants(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert wait_until(lambda: not alive(family), 15), f"orphans: {[open(f'/proc/{p}/cmdline').read() for p in alive(family)]}"
    time.sleep(1.5)
    assert not any(r.get("status") == "finished" for r in runs(workdir)), "a run finished after its driver died"


def test_sigkill_at_random_moments_then_resume_runs_each_combination_exactly_once(workdir, slow_script):
    rng = random.Random(1234)
    total, kills = 30, 0
    grid = workdir / "grid.yml"
    grid.write_text("x: [" + ", ".join(map(str, range(total))) + "]\nnap: 0.4\n")
    seen: set[str] = set()
    proc = start_tune(workdir, "slow.py", "--flags", "grid.yml", "--yes", "-q")
    sweep_id = None
    interrupted = 0
    interrupted_names: list[str] = []
    for _ in range(3):  # three kills at random moments (four until the suite neared CI's limit)
        # wait for a trial of *this* driver to be running, then kill the driver at a random moment
        assert wait_until(lambda: any(r.get("status") == "running" and r["name"] not in seen for r in runs(workdir)),
                          60)
        time.sleep(rng.uniform(0.2, 2.5))
        if proc.poll() is None:
            caught = [r["name"] for r in runs(workdir) if r.get("status") == "running" and r["name"] not in seen]
            interrupted_names.extend(caught)
            interrupted += len(caught)
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=30)
        seen |= {r["name"] for r in runs(workdir)}
        sweep_id = sweep_id or next((workdir / "runs" / "sweeps").iterdir()).name
        proc = start_tune(workdir, "resume", sweep_id, "-q")
    out, err = proc.communicate(timeout=300)
    if proc.returncode != 0 or "nothing to resume" not in out:  # one last resume finishes whatever is left
        final = start_tune(workdir, "resume", sweep_id, "-q")
        out, err = final.communicate(timeout=300)
    assert kills >= 3 and interrupted >= kills  # each kill caught at least one trial mid-run
    finished = Counter(r["trial"] for r in runs(workdir) if r.get("status") == "finished")
    assert sorted(finished) == list(range(total)), f"missing: {set(range(total)) - set(finished)}"
    assert set(finished.values()) == {1}, f"duplicates: {[t for t, n in finished.items() if n > 1]}"
    # a trial caught mid-run either died with its driver (lost, rerun by resume) or completed in the moment the
    # cluster took to go down (kept as finished, and resume did not run it again): never left `running`
    endings = Counter(r["status"] for r in runs(workdir) if r["name"] in interrupted_names)
    assert set(endings) <= {"lost", "finished"} and endings["lost"] >= 1, endings
    report = Path(os.environ.get("FAULT_REPORT", workdir / "fault-report.json"))
    report.write_text(json.dumps({"trials": total, "kills": kills, "runs": len(runs(workdir)),
                                  "runs_running_at_kills": interrupted, "of_which_lost_and_rerun": endings["lost"],
                                  "of_which_finished_while_cluster_stopped": endings["finished"], "finished_runs_lost": 0}))


def test_worker_death_is_retried_by_ray_without_counting_as_a_failure(ray_cluster, workdir, write_script,
                                                                     tmp_path_factory):
    # the trial works in a view of the project, where what it writes stays its own: the files it shares with the
    # test live in a folder outside the project
    shared = tmp_path_factory.mktemp("shared")
    write_script("victim.py", f"""
        import os, time
        if not os.path.exists({str(shared / "killed-once")!r}):
            open({str(shared / "worker.pid")!r}, "w").write(str(os.getppid()))
            time.sleep(60)
        print("acc: 1")
    """)
    killed = []

    def kill_worker() -> None:
        if not wait_until(lambda: (shared / "worker.pid").exists(), 60):
            return
        time.sleep(0.3)
        (shared / "killed-once").touch()
        os.kill(int((shared / "worker.pid").read_text()), signal.SIGKILL)
        killed.append(True)

    killer = threading.Thread(target=kill_worker)
    killer.start()
    started = time.monotonic()
    result = tuning_run("victim.py", {"x": [1]}, confirm=False, quiet=True)
    killer.join()
    assert killed, "the trial never wrote its worker's pid"
    assert time.monotonic() - started < 50  # the killed first attempt did not sleep its 60 s out
    assert list(result.status) == ["finished"]
    assert list(result.attempt) == [1]  # Ray's task retry, not one of ours
    assert result.metric_acc.tolist() == [1]


def test_hanging_trial_hits_its_timeout_and_its_whole_tree_is_killed(ray_cluster, workdir, write_script, monkeypatch):
    write_script("hang.py", """
        import os, signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only SIGKILL will do
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        open("child.pid", "w").write(str(child.pid))
        time.sleep(300)
    """)
    monkeypatch.setenv("TUNER_KILL_GRACE_S", "1")
    started = time.monotonic()
    result = tuning_run("hang.py", {"x": [1]}, timeout_s=2, confirm=False, quiet=True)
    assert time.monotonic() - started < 20
    assert list(result.status) == ["timeout"]
    assert result.error_message[0] == "timed out after 2 s"
    child = int(Path(result.run_dir[0], "child.pid").read_text())  # written in the trial's own directory
    assert wait_until(lambda: not alive({child}), 5)


def test_a_trial_whose_worker_dies_past_ray_retries_is_lost_exit_1_with_the_resume_command(ray_cluster, workdir,
                                                                                          write_script, capsys):
    from tuner.cli.main import main

    write_script("doomed.py", """
        import argparse, os, signal
        p = argparse.ArgumentParser(); p.add_argument("--x", type=int); a = p.parse_args()
        if a.x == 1:  # every attempt kills the Ray worker that runs it (as a node that keeps dying would)
            os.kill(os.getppid(), signal.SIGKILL)
        print("acc: 1")
    """)
    (workdir / "grid.yml").write_text("x: [1, 2]\n")
    status = main(["doomed.py", "--flags", "grid.yml", "--yes"])
    _out, err = capsys.readouterr()
    assert status == 1, err  # not 0: a sweep that lost a trial did not succeed (was 0, with no word of resume)
    assert sorted(ls_runs().status.tolist()) == ["finished", "lost"]
    assert "1 trial(s) lost" in err and "tune resume " in err
