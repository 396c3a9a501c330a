"""Checkpoints: a trial's folder outlives its attempts, and an interrupted trial continues where it stopped.

Real `tune` processes, real signals, real scripts that never import tuner (they only read $TUNER_CHECKPOINT_DIR
or take `--ckpt-dir`), as users write them."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from sweep_on_disk import runs_on_disk

from tests.conftest import run_tune
from tests.tuner_tests.test_faults import start_tune, wait_until
from tuner.interface.template import parse_template, render_command
from tuner.store.layout import TrialPaths

#: a plain script honouring the contract: continue from the folder's state, save after every epoch (atomically),
#: print the epoch's metrics; `--die-at N` kills itself (SIGKILL, nothing saved after) at epoch N when it started
#: fresh, as a machine that goes away would; `--ckpt-dir` for the template's anchor, else the environment
COUNTING = """
import argparse, json, os, signal, sys, time
p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=6)
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--nap", type=float, default=0.0)
p.add_argument("--die-at", type=int, default=0)
p.add_argument("--ckpt-dir", default=None)
a = p.parse_args()
folder = a.ckpt_dir or os.environ["TUNER_CHECKPOINT_DIR"]
if a.ckpt_dir is not None:
    assert a.ckpt_dir == os.environ["TUNER_CHECKPOINT_DIR"], (a.ckpt_dir, os.environ["TUNER_CHECKPOINT_DIR"])
state = os.path.join(folder, "state.json")
start, w = 0, 0.0
if os.path.exists(state):
    with open(state) as f:
        saved = json.load(f)
    start, w = saved["epoch"], saved["w"]
for epoch in range(start + 1, a.epochs + 1):
    time.sleep(a.nap)
    w += a.lr
    with open(state + ".tmp", "w") as f:
        json.dump({"epoch": epoch, "w": w}, f)
    os.replace(state + ".tmp", state)
    print(f"epoch {epoch} loss={1 / (1 + w):.6f}", flush=True)
    if epoch == a.die_at and start == 0:
        os.kill(os.getpid(), signal.SIGKILL)
"""


def _sweep_id(workdir: Path) -> str:
    return next((workdir / "runs" / "sweeps").iterdir()).name


def test_the_template_anchor_is_the_checkpoint_folder_and_an_unknown_anchor_names_it():
    template = parse_template("${interpreter} ${program} ${args} --ckpt-dir=${checkpoint_dir}", "grid.yml: command")
    argv, _env, _files = render_command(template, "/p/train.py", ["--lr=0.1"], {"lr": 0.1}, "/r/tuner.d",
                                        "/runs/sweeps/s/trials/3/checkpoint")
    assert argv[1:] == ["/p/train.py", "--lr=0.1", "--ckpt-dir=/runs/sweeps/s/trials/3/checkpoint"]
    with pytest.raises(Exception, match=r"checkpoint_dir"):
        parse_template("${program} --ckpt=${checkpoint}", "grid.yml: command")  # the list of anchors names it


def test_checkpoint_dir_is_the_environment_folder_inside_a_run_and_tuner_d_outside(workdir, monkeypatch):
    from tuner import checkpoint_dir

    monkeypatch.setenv("TUNER_CHECKPOINT_DIR", str(workdir / "trial" / "checkpoint"))
    assert checkpoint_dir() == str(workdir / "trial" / "checkpoint") and (workdir / "trial" / "checkpoint").is_dir()
    monkeypatch.delenv("TUNER_CHECKPOINT_DIR")
    assert checkpoint_dir() == os.path.join(os.getcwd(), "tuner.d", "checkpoint")


@pytest.mark.slow
@pytest.mark.ray
def test_a_trial_killed_mid_run_is_retried_from_its_checkpoint_through_the_template_anchor(workdir, write_script):
    """The contract end to end: the folder is the trial's (not the run's), the anchor and the environment agree,
    the retry continues at the step after the last checkpoint and records which run it continued."""
    write_script("train.py", COUNTING)
    (workdir / "grid.yml").write_text("lr: [0.1, 0.2]\nepochs: 6\ndie-at: 3\n"
                                      "command: ${interpreter} ${program} ${args} --ckpt-dir=${checkpoint_dir}\n")
    result = run_tune("train.py", "--flags", "grid.yml", "--retries", "1", "--yes", cwd=workdir, timeout=240)
    assert result.returncode == 0, result.stderr
    runs = runs_on_disk(workdir)
    sweep = workdir / "runs" / "sweeps" / _sweep_id(workdir)
    for trial in (0, 1):
        first, second = sorted((r for r in runs if r["trial"] == trial), key=lambda r: r["attempt"])
        assert (first["status"], first["steps"]) == ("failed", [1, 2, 3])  # died by SIGKILL after saving epoch 3
        assert (second["status"], second["steps"]) == ("finished", [4, 5, 6])  # continued: no epoch run twice
        assert "resumed_from" not in first
        assert second["resumed_from"] == {"run": first["name"], "step": 4}
        folder = TrialPaths.of(str(sweep), trial).checkpoint
        assert first["checkpoint_dir"] == second["checkpoint_dir"] == os.path.abspath(folder)
        assert json.loads(Path(folder, "state.json").read_text())["epoch"] == 6
    assert not list((workdir / "runs").glob("*/tuner.d/checkpoint"))  # a trial's folder is not in its runs


@pytest.mark.slow
@pytest.mark.ray
def test_a_retry_after_a_timeout_continues_and_loses_at_most_one_epoch_per_interruption(workdir, write_script):
    write_script("train.py", COUNTING)
    result = run_tune("train.py", "--flag", "lr=0.1,0.2", "--flag", "epochs=12", "--flag", "nap=0.3",
                      "--timeout", "2", "--retries", "8", "--yes", cwd=workdir, timeout=300)
    assert result.returncode == 0, result.stderr
    runs = runs_on_disk(workdir)
    for trial in (0, 1):
        attempts = sorted((r for r in runs if r["trial"] == trial), key=lambda r: r["attempt"])
        assert [r["status"] for r in attempts][-1] == "finished" and len(attempts) >= 2
        assert all(r["status"] == "timeout" for r in attempts[:-1])
        for before, after in zip(attempts, attempts[1:]):
            # the next attempt starts after the last saved epoch: what was lost is at most the epoch in progress
            assert after["steps"][0] == before["steps"][-1] + 1, (before["steps"], after["steps"])
            assert after["resumed_from"] == {"run": before["name"], "step": after["steps"][0]}
        executed = [s for r in attempts for s in r["steps"]]
        assert sorted(executed) == list(range(1, 13))  # every epoch once: history continues instead of restarting


@pytest.mark.slow
@pytest.mark.ray
def test_tune_resume_after_the_driver_is_sigkilled_continues_each_trial_from_its_checkpoint(workdir, write_script):
    write_script("train.py", COUNTING)
    proc = start_tune(workdir, "train.py", "--flag", "lr=0.1,0.2", "--flag", "epochs=10", "--flag", "nap=0.5",
                      "--yes")
    assert wait_until(lambda: sum(len(r["steps"]) >= 3 or len(_printed(workdir, r)) >= 3 for r in runs_on_disk(workdir)) >= 2,
                      120)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    killed = {r["trial"]: r for r in runs_on_disk(workdir)}
    time.sleep(0.5)
    result = run_tune("resume", _sweep_id(workdir), cwd=workdir, timeout=300)
    assert result.returncode == 0, result.stderr
    runs = runs_on_disk(workdir)
    for trial in (0, 1):
        attempts = [r for r in runs if r["trial"] == trial]
        assert Counter(r["status"] for r in attempts) == {"lost": 1, "finished": 1}
        done = next(r for r in attempts if r["status"] == "finished")
        assert done["resumed_from"]["run"] == killed[trial]["name"]
        reached = len(_printed(workdir, killed[trial]))  # the epochs the killed run had printed
        assert done["steps"][0] >= 3 and done["steps"] == list(range(done["steps"][0], 11))
        assert done["steps"][0] >= reached + 1  # saved before printed: only the epoch in progress is run again


def _printed(workdir: Path, run: dict) -> list[str]:
    log = workdir / "runs" / run["name"] / "tuner.d" / "output.log"
    return [line for line in log.read_text().splitlines() if line.startswith("epoch ")] if log.exists() else []


@pytest.mark.slow
def test_a_single_run_gets_a_checkpoint_folder_in_tuner_d_kept_only_when_used(workdir, write_script):
    write_script("train.py", COUNTING)
    write_script("plain.py", "print('loss: 1')\n")
    assert run_tune("train.py", "--flag", "epochs=2", cwd=workdir).returncode == 0
    assert run_tune("plain.py", cwd=workdir).returncode == 0
    used, unused = sorted((workdir / "runs").glob("2*"))
    assert json.loads((used / "tuner.d" / "checkpoint" / "state.json").read_text())["epoch"] == 2
    assert not (unused / "tuner.d" / "checkpoint").exists()


def _readme_section() -> str:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    return text.split("## Checkpoints", 1)[1].split("\n## ", 1)[0]


def test_the_readme_checkpointing_script_is_ten_lines_and_continues_from_what_it_saved(workdir):
    import re
    import subprocess
    import sys

    script = re.findall(r"```python\n(.*?)```", _readme_section(), flags=re.S)[0]
    assert len(script.strip().splitlines()) == 10
    (workdir / "train.py").write_text(script)
    folder = workdir / "checkpoint"
    folder.mkdir()
    (folder / "state.json").write_text("[7, 0.7]")  # what an interrupted attempt saved
    env = {**os.environ, "TUNER_CHECKPOINT_DIR": str(folder)}
    done = subprocess.run([sys.executable, "train.py", "--lr=0.1"], env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    epochs = [int(line.split()[1]) for line in done.stdout.splitlines()]
    assert epochs == list(range(8, 21))  # continued after epoch 7, not from 1
    assert json.loads((folder / "state.json").read_text())[0] == 20


@pytest.mark.slow
@pytest.mark.ray
def test_the_readme_first_checkpoint_command_runs_verbatim(workdir):
    import re
    import shlex

    (workdir / "train.py").write_text(re.findall(r"```python\n(.*?)```", _readme_section(), flags=re.S)[0])
    command = re.findall(r"```bash\n(.*?)```", _readme_section(), flags=re.S)[0].splitlines()[0]
    argv = shlex.split(re.sub(r"\s+#\s.*$", "", command))
    assert argv[0] == "tune"
    result = run_tune(*argv[1:], cwd=workdir, timeout=240)
    assert result.returncode == 0, result.stderr
    assert sorted(len(r["steps"]) for r in runs_on_disk(workdir)) == [20, 20]
