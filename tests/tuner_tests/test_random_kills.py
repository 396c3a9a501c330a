"""Nothing outlives a killed driver at any moment of its life: `tune` and `tune resume` killed (SIGKILL or
Ctrl-C) at random moments from 0.2 s on, 5 times (TUNER_TEST_KILLS=20 for the figure in docs/reliability.md);
15 s later no process of theirs is left (Ray's GCS,
raylet, dashboard and runtime-env agents, workers, the trials and their children, the reaper itself)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.ray]

#: each kill costs ~8 s; CI runs 8, enough for both commands and both signals at every phase of start-up
KILLS = int(os.environ.get("TUNER_TEST_KILLS", "5"))
LEFT_AFTER_S = 15.0

SCRIPT = """
import argparse, subprocess, sys, time
p = argparse.ArgumentParser(); p.add_argument("--x", type=int); p.parse_args()
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])  # a grandchild to clean up
time.sleep(3)
print("loss", 1)
"""


def _marked(mark: str) -> dict[int, str]:
    """pid -> name of every live process (not a zombie) whose environment carries the mark."""
    needle = f"TUNER_TEST_KILL={mark}".encode()
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if needle not in handle.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[0] != "Z":
            found[int(entry)] = stat.split("(", 1)[1].rsplit(")", 1)[0]
    return found


def test_tune_and_resume_killed_at_random_moments_leave_no_process(workdir: Path) -> None:
    (workdir / "train.py").write_text(SCRIPT)
    (workdir / "grid.yml").write_text("x: [1, 2, 3, 4, 5, 6]\n")
    rng = random.Random(13)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUNER_", "RAY_"))}
    left: list[str] = []
    kinds = []
    # a sweep for the `tune resume` half: started, and killed once its journal exists
    first = subprocess.Popen([sys.executable, "-m", "tuner", "train.py", "--flags", "grid.yml", "-q"], cwd=workdir,
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list((workdir / "runs" / "sweeps").glob("*/journal.jsonl")) and time.monotonic() < deadline:
        time.sleep(0.2)
    first.send_signal(signal.SIGINT)
    first.wait(timeout=60)
    (sweep,) = [p.parent.name for p in (workdir / "runs" / "sweeps").glob("*/journal.jsonl")]
    for attempt in range(KILLS):
        resume = attempt % 2 == 1
        args = ["resume", sweep] if resume else ["train.py", "--flags", "grid.yml"]
        mark = uuid.uuid4().hex
        proc = subprocess.Popen([sys.executable, "-m", "tuner", *args, "-q"], cwd=workdir,
                                env={**env, "TUNER_TEST_KILL": mark}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        moment = 0.2 + rng.random() * 6.0  # from before Ray starts to trials running
        how = signal.SIGKILL if rng.random() < 0.5 else signal.SIGINT
        kinds.append((("resume" if resume else "tune"), how.name, round(moment, 2)))
        time.sleep(moment)
        proc.send_signal(how)
        proc.wait(timeout=60)
        deadline = time.monotonic() + LEFT_AFTER_S
        while _marked(mark) and time.monotonic() < deadline:
            time.sleep(0.25)
        remaining = _marked(mark)
        if remaining:
            left.append(f"{kinds[-1]}: {sorted(remaining.values())}")
            for pid in remaining:  # leave nothing behind for the next attempt, then fail below
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
    assert not left, "\n".join(left)
    assert {k[0] for k in kinds} == {"tune", "resume"} and {k[1] for k in kinds} == {"SIGKILL", "SIGINT"}
