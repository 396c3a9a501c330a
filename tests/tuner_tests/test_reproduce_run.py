"""tune reproduce / lookup: the printed steps re-run a run from the same code with the same flags."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest
from conftest import run_tune

from tuner import get_run, ls_runs, training_run
from tuner.runs.reproduce import cli_value, reproduce_steps

SCRIPT = """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--units", type=int, default=8)
parser.add_argument("--name", default="x")
parser.add_argument("--text", default="")
parser.add_argument("--tiny", type=float, default=0.0)
args = parser.parse_args()
print("VERSION", 1)
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.mark.parametrize("value", [0.2, 1e-05, 64, True, False, "adam", "a,b", "0.2", "it's", "yes", "", " pad",
                                   "null", "# not a comment", -3, 1.5e300])
def test_flag_values_round_trip_through_the_command_line(value) -> None:
    from tuner.cli.run import parse_flag_options

    parsed = parse_flag_options([f"x={cli_value(value)}"])["x"]
    assert parsed == [value] and type(parsed[0]) is type(value)


def test_reproduce_steps_rerun_the_same_code_with_the_same_flags(workdir: Path, write_script) -> None:
    repo = workdir / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    write_script("repo/train.py", SCRIPT)
    git(repo, "add", "train.py")
    git(repo, "commit", "-qm", "first")
    commit = git(repo, "rev-parse", "HEAD")
    script = repo / "train.py"
    script.write_text(SCRIPT.replace('"VERSION", 1', '"VERSION", 2'))  # uncommitted change: a dirty tree
    flags = {"lr": 0.01, "units": 64, "name": "a,b", "text": "it's 0.2", "tiny": 1e-05}
    original = training_run(str(script), flags=flags, echo=False, runs_dir=str(workdir / "runs"))
    run_dir = original["run_dir"].iloc[0]
    # months later: the working tree moved on
    git(repo, "checkout", "-q", "--", "train.py")
    script.write_text(SCRIPT.replace('"VERSION", 1', '"VERSION", 3'))
    git(repo, "commit", "-qam", "later")

    result = run_tune("reproduce", run_dir, cwd=workdir)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if not line.startswith("#")]
    assert lines[:3] == [f"cd {repo}", f"git checkout {commit}",
                         f"git apply {Path(run_dir, 'tuner.d', 'git.diff')}"]
    cwd = workdir
    for line in lines:  # run the printed steps as a user would (without a shell)
        argv = shlex.split(line)
        if argv[0] == "cd":
            cwd = Path(argv[1])
        elif argv[0] == "git":
            git(cwd, "-c", "advice.detachedHead=false", *argv[1:])
        else:
            assert argv[0] == "tune"
            rerun = run_tune(*argv[1:], "--no-echo", "--runs-dir", str(workdir / "runs2"), cwd=cwd)
            assert rerun.returncode == 0, rerun.stderr
    again = get_run(ls_runs(runs_dir=str(workdir / "runs2"))["run_dir"].iloc[0])
    assert again.config == flags
    assert again.run["script_sha256"] == get_run(run_dir).run["script_sha256"]  # the very same code
    assert "VERSION 2" in Path(again.paths.output_log).read_text()


def test_reproduce_outside_git_points_at_the_source_snapshot(workdir: Path, write_script) -> None:
    write_script("train.py", SCRIPT)
    training_run("train.py", flags={"lr": 0.5}, echo=False)
    steps = reproduce_steps()
    assert steps[1].startswith("# not a git repository") and "tuner.d/source" in steps[1]
    assert steps[-1] == "tune train.py --flag lr=0.5"


def test_lookup_prints_one_field_by_dotted_path(workdir: Path, write_script) -> None:
    write_script("train.py", SCRIPT)
    run_dir = training_run("train.py", flags={"lr": 0.5, "units": 3}, echo=False)["run_dir"].iloc[0]
    name = Path(run_dir).name
    assert run_tune("lookup", name, "status", cwd=workdir).stdout.strip() == "finished"
    assert run_tune("lookup", name, "argv.1", cwd=workdir).stdout.strip() == "--units=3"
    assert json.loads(run_tune("lookup", name, "argv", cwd=workdir).stdout) == ["--lr=0.5", "--units=3"]
    missing = run_tune("lookup", name, "git.sha", cwd=workdir)
    assert missing.returncode == 2 and "no field 'git.sha'" in missing.stderr


SWITCH_SCRIPT = """
import argparse, json, sys
parser = argparse.ArgumentParser()
parser.add_argument("--fast", action="store_true")
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
print("GOT", json.dumps(sys.argv[1:]), flush=True)
"""


def test_reproduce_gives_back_the_arguments_after_the_double_dash_beside_a_switch(workdir: Path,
                                                                                  write_script) -> None:
    """A switch reaches argv as `--fast` (not `--fast=True`), so argv alone cannot show where the flags end: the
    run records what followed `--`, and the printed command gives it back (it was dropped: issue 31)."""
    write_script("train.py", SWITCH_SCRIPT)
    result = run_tune("train.py", "--flag", "fast=true", "--flag", "lr=0.5", "--no-echo", "--", "--seed", "3",
                      cwd=workdir)
    assert result.returncode == 0, result.stderr
    run = get_run(ls_runs()["run_dir"].iloc[0])
    assert run.argv == ["--fast", "--lr=0.5", "--seed", "3"] and run.run["extra_args"] == ["--seed", "3"]
    command = reproduce_steps(run.run_dir)[-1]
    assert command == "tune train.py --flag fast=true --flag lr=0.5 -- --seed 3"
    script, *rest = shlex.split(command)[1:]
    rerun = run_tune(script, "--runs-dir", "again", *rest, cwd=workdir)  # before `--`: what follows is the script's
    assert rerun.returncode == 0, rerun.stderr
    assert 'GOT ["--fast", "--lr=0.5", "--seed", "3"]' in rerun.stdout


def test_a_run_recorded_before_extra_args_were_kept_still_gives_them_back_after_valued_flags(workdir: Path,
                                                                                          write_script) -> None:
    write_script("train.py", SWITCH_SCRIPT)
    training_run("train.py", flags={"lr": 0.5}, extra_args=["--seed", "3"], echo=False)
    run_dir = ls_runs()["run_dir"].iloc[0]
    run_json = Path(run_dir, "tuner.d", "run.json")
    record = json.loads(run_json.read_text())
    del record["extra_args"]  # as a run made by an older tuner left it
    run_json.write_text(json.dumps(record))
    assert reproduce_steps(run_dir)[-1] == "tune train.py --flag lr=0.5 -- --seed 3"
