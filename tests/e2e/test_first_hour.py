"""A newcomer's first hour, as a test: a fresh virtual environment made by the README's command (without
TensorFlow, as the README offers), the short tour run verbatim, three typos, a Ctrl-C in the middle of a sweep,
and the sweep's report opened in Chromium. What is asserted is what a person reads first: the exact first lines
of each command (issue 30)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_readme import REPO, _source_files, setup_commands, steps, tour

RUN = r"\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ"  # a single run's name
TRIAL = RUN + r"-\d"  # a sweep trial's run: its second and its trial number
SWEEP = r"\d{8}-\d{6}-[0-9a-f]{4}"


class Shell:
    """Commands typed in a shell where the checkout's fresh .venv is activated, as the README leaves it."""

    def __init__(self, checkout: Path, env: dict[str, str]) -> None:
        self.checkout, self.env = checkout, env

    def argv(self, command: str) -> list[str]:
        return ["bash", "-c", f". .venv/bin/activate && exec {command}"]

    def run(self, command: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(command), cwd=self.checkout, env=self.env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def ok(self, command: str) -> list[str]:
        done = self.run(command)
        assert done.returncode == 0, (command, done.stdout[-3000:], done.stderr[-3000:])
        return done.stdout.splitlines()

    def refused(self, command: str) -> list[str]:
        done = self.run(command)
        assert done.returncode == 2 and done.stdout == "", (command, done.stdout, done.stderr)
        return done.stderr.splitlines()


def _runs(checkout: Path) -> dict[str, dict]:
    found = {}
    for run_json in (checkout / "runs").glob("*/tuner.d/run.json"):
        try:
            found[run_json.parent.parent.name] = json.loads(run_json.read_text())
        except ValueError:  # being written
            continue
    return found


def _fresh_checkout(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the repository as a clone has it, and the environment of a fresh login shell (pip's own cache
    and the machine's package index settings kept, as test_readme's main job does)."""
    checkout = tmp_path / "checkout"
    for name in _source_files():
        target = checkout / name
        target.parent.mkdir(parents=True, exist_ok=True)
        source = REPO / name
        if source.is_symlink():
            os.symlink(os.readlink(source), target)
        else:
            shutil.copy2(source, target)
    shutil.rmtree(checkout / "runs", ignore_errors=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TUNER_", "VIRTUAL_ENV", "PYTHON", "PIP_TARGET", "RAY_"))}
    env["PIP_COMPILE"] = "0"  # (see test_readme: pip's byte-compiling is not what is tested)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return checkout, env


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.browser
@pytest.mark.timeout(1800)
def test_a_newcomers_first_hour(tmp_path: Path) -> None:
    from tests.tuner_tests.cdp_browser import Browser, find_chromium

    chromium = find_chromium()
    if chromium is None:
        pytest.skip("Chromium not found: install Debian's `chromium` package (CI does) or set TUNER_TEST_CHROMIUM")
    checkout, env = _fresh_checkout(tmp_path)

    # -- set up: the README's venv steps, and `pip install .` as it says for the numpy-only example
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "Without TensorFlow, `pip install .` and the numpy-only example" in readme
    main_job, _ = setup_commands()
    install = " && ".join(steps(main_job)[:2] + ["pip install ."])
    done = subprocess.run(["bash", "-c", install], cwd=checkout, env=env, capture_output=True, text=True,
                          timeout=1500, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    shell = Shell(checkout, env)
    assert shell.ok("tune --help")[0] == "usage: tune SCRIPT [options] | tune COMMAND [options]"

    # -- the tour, verbatim
    commands, python = tour()
    assert [c.split()[:2] for c in commands] == [["tune", "examples/quickstart/train.py"]] * 3 + [
        ["tune", "ls"], ["tune", "info"]]
    first = shell.ok(commands[0])
    assert re.fullmatch(f"Using run directory runs/{RUN}", first[0]), first[:3]
    assert first[1] == "epoch 1: loss=0.6850 acc=0.634 val_loss=0.6837 val_acc=0.646"
    assert re.fullmatch(f"Run completed: runs/{RUN}", first[-1]) and first[-2] == ""
    second = shell.ok(commands[1])
    assert re.fullmatch(f"Using run directory runs/{RUN}", second[0]) and len(second) == 1 + 5 + 1 + 2
    sweep = shell.ok(commands[2])
    assert re.fullmatch(r"8 combinations of flags, sampled 4 \(sample=0\.5, seed=\d+\)", sweep[0]), sweep[:3]
    progress = sweep[1:5]
    for line in progress:  # each trial by its run (second and trial number) and the flags that vary
        assert re.fullmatch(rf"\[\d/4\] finished {TRIAL} \(learning_rate=[0-9.]+ l2=[0-9.e-]+\) in \d+\.\ds", line), line
    assert sorted(line[1] for line in progress) == ["1", "2", "3", "4"]
    assert sweep[5].split()[:3] == ["run", "trial", "status"]
    assert re.fullmatch(rf"best val_acc: 0\.\d+ in runs/{TRIAL}", sweep[-2])
    assert re.fullmatch(rf"sweep ({SWEEP}): 4 finished, 0 failed of 4 trials; summary: runs/sweeps/\1/summary\.csv",
                        sweep[-1])
    sweep_id = sweep[-1].split()[1].rstrip(":")
    listed = shell.ok(commands[3])
    header = listed[0].split()
    assert header[:4] == ["run", "status", "start", "time"] and "flag_learning_rate" in header
    assert "metric_val_acc" in header and set(listed[1]) <= {"-", " "}
    end = listed[0].index("metric_val_acc") + len("metric_val_acc")  # numbers are right-aligned to their header
    values = [float(line[:end].split()[-1]) for line in listed[2:]]
    runs = _runs(checkout)
    kept = [r for r in runs.values() if r.get("status") == "finished"]
    assert values == sorted(values, reverse=True) and all(v > 0.7 for v in values)
    assert 0 < len(values) < len(kept) == 6  # the tour's filter keeps some runs and drops others
    info = shell.ok(commands[4])
    assert re.fullmatch(rf"runs/{TRIAL}  finished|runs/{RUN}  finished", info[0]), info[:2]
    done = shell.run(f"python -c {shlex.quote(python + chr(10) + 'print(len(df))')}")
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == "2", done.stderr[-2000:]

    # -- three typos: one line each (the flag check lists its problems under one), exit 2, nothing written
    before = set(_runs(checkout))
    assert shell.refused("tune lst") == [
        "tune: error: unknown command 'lst' (and no file of that name here); did you mean `tune ls`? `tune --help` "
        "lists the commands, and a script is given by its file name: `tune train.py`"]
    assert shell.refused("tune examples/quickstart/train.py --flag learning_rat=0.1") == [
        "tune: error: the flags do not fit the script (pass --no-check / check=False to launch anyway):",
        f"  flag 'learning_rat' is not an option of {checkout}/examples/quickstart/train.py; did you mean "
        "'learning_rate'?"]
    assert shell.refused("tune ls --order metric_val_ac") == [
        "tune: error: unknown column 'metric_val_ac'; did you mean metric_val_acc, metric_val_loss, metric_acc?"]
    assert set(_runs(checkout)) == before

    # -- Ctrl-C in the middle of a sweep of long trials: what ran is kept, the rest is pending, one way to go on
    slow = subprocess.Popen(shell.argv("tune examples/quickstart/train.py --flags examples/quickstart/grid.yml "
                                       "--flag epochs=20000 --yes"), cwd=checkout, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while slow.poll() is None and time.monotonic() < deadline and not any(
                run.get("status") == "running" for name, run in _runs(checkout).items() if name not in before):
            time.sleep(0.3)
        os.killpg(slow.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
        out, err = slow.communicate(timeout=120)
    finally:
        if slow.poll() is None:
            os.killpg(slow.pid, signal.SIGKILL)
    assert slow.returncode == 130, (out[-2000:], err[-2000:])
    errors = err.splitlines()
    assert errors[0] == "interrupted: cancelling queued trials and stopping running ones ...", err
    assert re.fullmatch(rf"interrupted; finished runs are kept\. resume with: tune resume {SWEEP}", errors[-1]), err
    assert "cancelled before it started" not in err and "KILLED: exit status None" not in err
    for line in errors[1:-1]:
        if line.startswith("trial "):  # a trial stopped by the Ctrl-C: named with its flags
            assert re.match(rf"trial {TRIAL} \(learning_rate=[0-9.]+ l2=[0-9.e-]+\) KILLED", line), line
    assert re.search(r"\d+ pending of 8 trials", out), out[-2000:]

    # -- the first sweep's report, opened in Chromium: every trial, the best on top, flags against the metric
    report = shell.ok(f"tune report {sweep_id} -o report.html --no-browser")
    assert report[-1].endswith("report.html") and (checkout / "report.html").is_file(), report
    browser = Browser(chromium)
    try:
        url = (checkout / "report.html").as_uri()
        browser.open(url)
        assert browser.evaluate("document.querySelectorAll('table.trials tbody tr').length") == 4
        best = browser.evaluate("document.querySelector('table.trials tbody tr').textContent")
        assert "\u2605" in best  # the best trial first
        dims = browser.evaluate("tunerPage.parallel.dims")
        assert {"flag_learning_rate", "flag_l2", "metric_val_acc"} <= set(dims), dims
        assert browser.console_errors() == []
        assert [u for u in browser.requests() if u != url] == [], "the report made network requests"
    finally:
        browser.close()
