"""training_run: one tracked run of a real script in a real subprocess, and what it leaves on disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest

from tuner import (
    FlagError,
    RunFailedError,
    ScriptNotFoundError,
    TunerError,
    ls_runs,
    training_run,
)
from tuner._version import __version__

REPO = Path(__file__).resolve().parents[2]

TRACKED = """
from tuner import flags, flag_numeric, flag_integer, flag_string, log_metrics, write_run_metadata
FLAGS = flags(flag_numeric("lr", 0.1), flag_integer("epochs", 2), flag_string("tag", "x"))
for epoch in range(1, FLAGS.epochs + 1):
    log_metrics(epoch=epoch, loss=1.0 / epoch)
write_run_metadata("evaluation", {"acc": 0.9})
print("lr is", FLAGS.lr)
"""


def meta(run_dir: str, name: str) -> dict:
    return json.loads(Path(run_dir, "tuner.d", name).read_text())


def test_a_successful_run_is_recorded_and_returned_as_an_ls_runs_row(
        write_script: Callable[..., Path], workdir: Path) -> None:
    write_script("train.py", TRACKED)
    frame = training_run("train.py", flags={"lr": 0.5, "tag": "001"}, properties={"owner": "me"}, echo=False)
    assert isinstance(frame, pd.DataFrame) and len(frame) == 1
    row = frame.iloc[0]
    assert list(frame.columns) == list(ls_runs().columns)
    assert row["status"] == "finished" and bool(row["completed"])
    assert (row["flag_lr"], row["flag_epochs"], row["flag_tag"]) == (0.5, 2, "001")
    assert row["metric_loss"] == 0.5 and row["eval_acc"] == 0.9 and row["epochs_completed"] == 2
    assert row["start"] <= row["end"] and str(row["start"].tz) == "UTC"
    run_dir = row["run_dir"]
    assert os.path.dirname(run_dir) == "runs"

    run = meta(run_dir, "run.json")
    assert run["status"] == "finished" and run["exit_code"] == 0
    assert run["argv"] == ["--lr=0.5", "--tag=001"]
    assert run["end"] >= run["heartbeat"] >= run["start"]
    assert run["python"] == ".".join(map(str, sys.version_info[:3]))
    assert run["tuner_version"] == __version__ and run["host"] and run["user"]
    assert run["script"] == str(workdir / "train.py") and run["job_type"] == "training"
    assert meta(run_dir, "flags.json") == {"lr": 0.5, "epochs": 2, "tag": "001"}
    assert meta(run_dir, "properties.json") == {"owner": "me"}
    assert "lr is 0.5" in Path(run_dir, "tuner.d", "output.log").read_text()
    assert Path(run_dir, "tuner.d", "source", "train.py").read_text() == (workdir / "train.py").read_text()
    assert not Path(run_dir, "tuner.d", "error.json").exists()


def test_echo_shows_output_live_and_echo_false_is_silent(write_script: Callable[..., Path],
                                                          capfd: pytest.CaptureFixture[str]) -> None:
    write_script("train.py", "import sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)\n")
    training_run("train.py", echo=True)
    out, err = capfd.readouterr()
    assert "to stdout" in out and "to stderr" in err and "Using run directory runs/" in out
    training_run("train.py", echo=False)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_an_argparse_script_that_never_imports_tuner_works_unchanged(write_script: Callable[..., Path]) -> None:
    write_script("train.py", """
        import argparse, json
        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float, default=1.0)
        parser.add_argument("--name", default="a")
        args = parser.parse_args()
        print(f"loss: {args.lr * 2}")
        print(json.dumps(vars(args)))
    """)
    row = training_run("train.py", flags={"lr": 0.1, "name": "001"}, echo=False).iloc[0]
    assert row["status"] == "finished"
    log = Path(row["run_dir"], "tuner.d", "output.log").read_text()
    assert '{"lr": 0.1, "name": "001"}' in log
    assert row["flag_lr"] == 0.1 and row["flag_name"] == "001"
    assert row["metric_loss"] == 0.2  # parsed from the printed line


def test_flags_from_a_yaml_file(write_script: Callable[..., Path], workdir: Path) -> None:
    write_script("train.py", TRACKED)
    (workdir / "run.yml").write_text("lr: 0.25\nepochs: 1\n")
    row = training_run("train.py", flags="run.yml", echo=False).iloc[0]
    assert (row["flag_lr"], row["flag_epochs"]) == (0.25, 1)


@pytest.mark.parametrize("command", ["${interpreter} ${program} ${args}", None])
def test_extra_args_reach_the_script_once_after_the_flags_with_or_without_a_template(
        write_script: Callable[..., Path], command: str | None) -> None:
    """`-- --seed 3` follows the flags once: with a template holding ${args} they came twice (once inside ${args},
    once at the end), and run.json's argv said so too."""
    write_script("train.py", "import argparse, json, sys\nparser = argparse.ArgumentParser()\n"
                 "parser.add_argument('--lr', type=float)\nparser.add_argument('--seed', type=int)\n"
                 "parser.parse_args()\nprint('GOT', json.dumps(sys.argv[1:]))\n")
    row = training_run("train.py", flags={"lr": 0.5}, command=command, extra_args=["--seed", "3"],
                       echo=False).iloc[0]
    log = Path(row["run_dir"], "tuner.d", "output.log").read_text()
    assert 'GOT ["--lr=0.5", "--seed", "3"]' in log
    run = json.loads(Path(row["run_dir"], "tuner.d", "run.json").read_text())
    assert run["argv"] == ["--lr=0.5", "--seed", "3"] and run["extra_args"] == ["--seed", "3"]


def test_an_explicit_run_dir(write_script: Callable[..., Path], workdir: Path) -> None:
    write_script("train.py", TRACKED)
    row = training_run("train.py", run_dir="my_runs/first", echo=False).iloc[0]
    assert row["run_dir"] == "my_runs/first" and Path("my_runs/first/tuner.d/run.json").is_file()


def test_bad_input_raises_before_anything_is_written(write_script: Callable[..., Path], workdir: Path) -> None:
    with pytest.raises(ScriptNotFoundError, match="script 'nope.py' does not exist"):
        training_run("nope.py")
    write_script("train.py", TRACKED)
    with pytest.raises(FlagError, match=r"flag 'lr' has a non-scalar value \[0.1, 0.2\]"):
        training_run("train.py", flags={"lr": [0.1, 0.2]})
    with pytest.raises(FlagError, match="flags file 'missing.yml' does not exist"):  # as `tune --flags` says it
        training_run("train.py", flags="missing.yml")
    assert sorted(p.name for p in workdir.iterdir()) == ["train.py"]


# --- failures ---------------------------------------------------------------------------------------------

def failed_run(script: str, write_script: Callable[..., Path]) -> tuple[RunFailedError, str]:
    write_script("train.py", script)
    with pytest.raises(RunFailedError) as info:
        training_run("train.py", echo=False)
    assert isinstance(info.value, TunerError)
    return info.value, info.value.run_dir


def test_a_script_that_raises_is_recorded_then_raises(write_script: Callable[..., Path]) -> None:
    error, run_dir = failed_run("def train():\n    raise ValueError('learning rate too high')\ntrain()\n",
                                write_script)
    assert run_dir in str(error) and "ValueError: learning rate too high" in str(error)
    assert error.status == "failed"
    recorded = meta(run_dir, "error.json")
    assert recorded["message"] == "ValueError: learning rate too high"
    assert recorded["traceback"].startswith("Traceback (most recent call last):")
    assert "in train" in recorded["traceback"] and recorded["exit_code"] == 1
    run = meta(run_dir, "run.json")
    assert run["status"] == "failed" and run["exit_code"] == 1 and run["end"] is not None
    (row,) = ls_runs().to_dict("records")
    assert row["status"] == "failed" and not row["completed"]
    assert row["error_message"] == "ValueError: learning rate too high"


def test_a_script_that_exits_with_a_status_records_the_exit_code(write_script: Callable[..., Path]) -> None:
    error, run_dir = failed_run("import sys\nprint('bye')\nsys.exit(3)\n", write_script)
    recorded = meta(run_dir, "error.json")
    assert recorded["message"] == "exit status 3" and recorded["exit_code"] == 3
    assert recorded["traceback"] is None and recorded["signal"] is None
    assert "exit status 3" in str(error) and meta(run_dir, "run.json")["exit_code"] == 3


def test_a_script_killed_by_a_signal_records_the_signal(write_script: Callable[..., Path]) -> None:
    error, run_dir = failed_run("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", write_script)
    recorded = meta(run_dir, "error.json")
    assert recorded["message"] == "killed by signal SIGKILL"
    assert recorded["signal"] == signal.SIGKILL and recorded["exit_code"] == -signal.SIGKILL
    assert "SIGKILL" in str(error)


def test_a_script_that_records_its_own_error_keeps_it(write_script: Callable[..., Path]) -> None:
    _, run_dir = failed_run("import sys\nfrom tuner import write_run_metadata\n"
                            "write_run_metadata('error', {'message': 'data missing', 'traceback': None})\n"
                            "sys.exit(2)\n", write_script)
    assert meta(run_dir, "error.json")["message"] == "data missing"


def test_a_time_limit_records_timeout(write_script: Callable[..., Path]) -> None:
    write_script("train.py", "import time\nprint('start', flush=True)\ntime.sleep(30)\n")
    started = time.monotonic()
    with pytest.raises(RunFailedError) as info:
        training_run("train.py", echo=False, timeout_s=1)
    assert time.monotonic() - started < 15
    assert info.value.status == "timeout"
    assert meta(info.value.run_dir, "error.json")["message"] == "timed out after 1 s"
    assert meta(info.value.run_dir, "run.json")["status"] == "timeout"


# --- sources, git, artifacts -----------------------------------------------------------------------------

def test_the_source_snapshot_is_bounded(write_script: Callable[..., Path], workdir: Path) -> None:
    write_script("train.py", "print(1)\n")
    for i in range(5):
        write_script(f"lib/mod{i}.py", "x = 1\n")
    write_script("runs_old/ignored.py", "x = 1\n")
    (workdir / "tuner.yml").write_text("source_max_files: 3\n")
    row = training_run("train.py", echo=False).iloc[0]
    copied = [p for p in Path(row["run_dir"], "tuner.d", "source").rglob("*") if p.is_file()]
    assert len(copied) == 3


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd,
                          capture_output=True, text=True, check=True).stdout.strip()


def test_git_commit_branch_and_a_diff_when_the_tree_is_dirty(write_script: Callable[..., Path],
                                                              workdir: Path) -> None:
    write_script("train.py", "print('v1')\n")
    git(workdir, "init", "-q", "-b", "main")
    git(workdir, "add", "train.py")
    git(workdir, "commit", "-q", "-m", "first")
    commit = git(workdir, "rev-parse", "HEAD")
    clean = training_run("train.py", echo=False).iloc[0]
    assert (clean["git_commit"], clean["git_branch"], clean["git_dirty"]) == (commit, "main", False)
    assert not Path(clean["run_dir"], "tuner.d", "git.diff").exists()
    write_script("train.py", "print('v2')\n")
    dirty = training_run("train.py", echo=False).iloc[0]
    assert bool(dirty["git_dirty"]) is True
    assert "+print('v2')" in Path(dirty["run_dir"], "tuner.d", "git.diff").read_text()
    assert meta(dirty["run_dir"], "run.json")["git"]["commit"] == commit


def test_files_written_during_the_run_are_artifacts(write_script: Callable[..., Path], workdir: Path) -> None:
    (workdir / "data").mkdir()
    (workdir / "data" / "x.csv").write_text("1,2\n")
    write_script("train.py", """
        import os
        os.makedirs("out", exist_ok=True)
        open("out/model.bin", "wb").write(b"weights")
        open("read.txt", "w").write(open("data/x.csv").read())
        open("changed.txt", "w").write("new")
    """)
    (workdir / "changed.txt").write_text("old")
    (workdir / "untouched.txt").write_text("same")
    row = training_run("train.py", echo=False).iloc[0]
    run_dir = Path(row["run_dir"])
    # the run's view of the project: new files are the run's, relative reads of the project work
    assert (run_dir / "out" / "model.bin").read_bytes() == b"weights"
    assert (run_dir / "read.txt").read_text() == "1,2\n"
    assert not (workdir / "out").exists() and not (workdir / "read.txt").exists()
    # a rewritten project file is the run's too, and the project keeps its own
    assert (workdir / "changed.txt").read_text() == "old" and (run_dir / "changed.txt").read_text() == "new"
    # nothing the run did not make is in its folder
    assert not (run_dir / "untouched.txt").exists() and not (run_dir / "train.py").exists()
    assert not (run_dir / "data").exists()
    second = Path(training_run("train.py", echo=False).iloc[0]["run_dir"])
    assert not (second / "runs").exists()


def test_an_artifacts_folder_is_scanned_bounded(write_script: Callable[..., Path], workdir: Path) -> None:
    from tuner.capture import artifacts

    (workdir / "shared").mkdir()
    write_script("train.py", """
        for i in range(5):
            open(f"shared/f{i}.txt", "w").write("x")
    """)
    original = artifacts.ARTIFACT_MAX_FILES
    artifacts.ARTIFACT_MAX_FILES = 3
    try:
        row = training_run("train.py", echo=False, artifacts_dir="shared").iloc[0]
    finally:
        artifacts.ARTIFACT_MAX_FILES = original
    assert sorted(p.name for p in Path(row["run_dir"]).glob("f*.txt")) == ["f0.txt", "f1.txt", "f2.txt"]


def test_artifacts_dir_none_turns_capture_off(write_script: Callable[..., Path]) -> None:
    write_script("train.py", "open('model.bin', 'w').write('x')\n")
    row = training_run("train.py", echo=False, artifacts_dir=None).iloc[0]
    assert not Path(row["run_dir"], "model.bin").exists()


def test_artifacts_are_captured_from_a_failed_run_too(write_script: Callable[..., Path]) -> None:
    _, run_dir = failed_run("open('partial.ckpt', 'w').write('x')\nraise SystemExit(1)\n", write_script)
    assert Path(run_dir, "partial.ckpt").exists()


# --- Ctrl-C -----------------------------------------------------------------------------------------------

def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find surviving processes")
def test_ctrl_c_stops_the_script_and_its_children_and_records_killed(write_script: Callable[..., Path],
                                                                      workdir: Path) -> None:
    write_script("train.py", """
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open("pids.tmp", "w") as f:
            f.write(f"{os.getpid()} {child.pid}")
        os.replace("pids.tmp", "pids.txt")
        time.sleep(120)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    tune = subprocess.Popen([sys.executable, "-m", "tuner", "train.py", "--no-echo"], cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (found := list(workdir.glob("runs/*/pids.txt"))):  # written in the run's working directory
            assert tune.poll() is None, tune.communicate()
            assert time.monotonic() < deadline, "the script never started"
            time.sleep(0.05)
        pids = [int(p) for p in found[0].read_text().split()]
        assert all(_alive(pid) for pid in pids)
        tune.send_signal(signal.SIGINT)
        out, err = tune.communicate(timeout=30)
    finally:
        if tune.poll() is None:
            tune.kill()
    assert tune.returncode == 130, (out, err)
    assert "interrupted" in err
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in pids if _alive(pid)]
    (run_dir,) = [p for p in (workdir / "runs").iterdir()]
    assert meta(str(run_dir), "run.json")["status"] == "killed"
    assert meta(str(run_dir), "error.json")["message"] == "killed (interrupted)"
    (row,) = ls_runs().to_dict("records")
    assert row["status"] == "killed"
