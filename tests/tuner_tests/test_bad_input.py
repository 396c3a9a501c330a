"""The bad-input table: each mistake gets one clear line, exit 2 from the CLI or a TunerError from the API,
and the runs directory is left exactly as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run_tune
from tuner import tuning_run
from tuner.errors import ConfigError, GridError, ScriptNotFoundError, SweepNotFoundError, TunerError


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


@pytest.fixture
def project(workdir, write_script):
    write_script("train.py", "print('loss: 1')\n")
    (workdir / "runs").mkdir()
    (workdir / "runs" / "keep.txt").write_text("user file")
    return workdir


# (name, files to write, CLI args, expected message fragment)
CLI_CASES = [
    ("yaml syntax error", {"grid.yml": "a: [1, 2\nb: 3\n"}, ["train.py", "--flags", "grid.yml"],
     "grid.yml: YAML syntax error at line"),
    ("grid not a mapping", {"grid.yml": "- 1\n- 2\n"}, ["train.py", "--flags", "grid.yml"],
     "expected a mapping of flag"),
    ("empty list", {"grid.yml": "a: []\n"}, ["train.py", "--flags", "grid.yml"], "flag 'a' has no values"),
    ("nested values", {"grid.yml": "a: [[1, 2], 3]\n"}, ["train.py", "--flags", "grid.yml"],
     "flag 'a' has a non-scalar value"),
    ("sample 0", {}, ["train.py", "--flag", "a=1,2", "--sample", "0"], "sample must be a number in (0, 1] (a fraction of the combinations), got '0'"),
    ("sample 1.5", {}, ["train.py", "--flag", "a=1,2", "--sample", "1.5"], "sample must be a number in (0, 1]"),
    ("sample -1", {}, ["train.py", "--flag", "a=1,2", "--sample", "-1"], "sample must be a number in (0, 1]"),
    ("sample abc", {}, ["train.py", "--flag", "a=1,2", "--sample", "abc"], "got 'abc'"),
    ("timeout 0", {}, ["train.py", "--flag", "a=1,2", "--timeout", "0"], "timeout must be a positive number"),
    ("timeout negative", {}, ["train.py", "--flag", "a=1,2", "--timeout", "-5"], "timeout must be a positive"),
    ("retries negative", {}, ["train.py", "--flag", "a=1,2", "--retries", "-1"], "retries must be >= 0"),
    ("script missing", {}, ["nope.py", "--flag", "a=1,2"], "script 'nope.py' does not exist"),
    ("script is a directory", {"adir/x.txt": ""}, ["adir", "--flag", "a=1,2"], "is a directory"),
    ("csv with NaN", {"grid.csv": "a,b\n1,2\n3,\n"}, ["train.py", "--flags", "grid.csv"],
     "column 'b' has missing values (NaN) in rows [1]"),
    ("unknown address", {}, ["train.py", "--flag", "a=1,2", "--address", "127.0.0.1:9"],
     "cannot reach the Ray cluster at '127.0.0.1:9'"),
    ("runs dir is a file", {"afile": "x"}, ["train.py", "--flag", "a=1,2", "--runs-dir", "afile"],
     "runs directory 'afile' is a file"),
    # every command that reads runs, not only a sweep: listing a file would otherwise say "No runs found."
    ("ls: runs dir is a file", {"afile": "x"}, ["ls", "--runs-dir", "afile"], "runs directory 'afile' is a file"),
    ("ls: runs dir inside a file", {"afile": "x"}, ["ls", "--runs-dir", "afile/runs"],
     "runs directory 'afile/runs' is a file (or inside one)"),
    ("ls: runs dir empty", {}, ["ls", "--runs-dir", ""], "runs directory is empty"),
    ("sweep: runs dir empty", {}, ["train.py", "--flag", "a=1,2", "--runs-dir", " "], "runs directory is empty"),
    ("info: runs dir is a file", {"afile": "x"}, ["info", "--runs-dir", "afile"], "runs directory 'afile' is a file"),
    ("tuner.yml runs_dir is a file", {"afile": "x", "tuner.yml": "runs_dir: afile\n"}, ["ls"],
     "tuner.yml: runs directory 'afile' is a file"),
    ("unknown sweep", {}, ["resume", "20200101-000000-0000"], "unknown sweep '20200101-000000-0000'"),
    ("bad option", {}, ["train.py", "--sampel", "0.3"], "unrecognized arguments: --sampel"),
    ("single run, missing flags file", {}, ["train.py", "--flags", "missing.yml"], "missing.yml"),
    ("python object tag", {"grid.yml": "a: !!python/object/apply:os.system ['id']\n"},
     ["train.py", "--flags", "grid.yml"], "grid.yml"),
]


@pytest.mark.parametrize("name, files, args, message", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(project, name, files, args, message):
    for path, text in files.items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(text)
    before = snapshot(project / "runs")
    result = run_tune(*args, cwd=project, timeout=60)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tune: error: "), result.stderr
    assert message in lines[0]
    assert snapshot(project / "runs") == before
    assert "Traceback" not in result.stderr


def test_gpus_per_trial_larger_than_any_node(ray_cluster, project):
    before = snapshot(project / "runs")
    result = run_tune("train.py", "--flag", "a=1,2", "--gpus-per-trial", "5", "--address", ray_cluster,
                      cwd=project)
    assert result.returncode == 2
    assert "gpus-per-trial 5 is more than any node of the cluster has (4 GPUs)" in result.stderr
    assert snapshot(project / "runs") == before


API_CASES = [
    ("sample 0", dict(flags={"a": [1, 2]}, sample=0), GridError, "sample must be"),
    ("dataframe NaN", dict(flags=pd.DataFrame({"a": [1.0, None]})), GridError, "missing values"),
    ("empty grid", dict(flags={}), GridError, "grid is empty"),
    ("missing script", dict(file="missing.py", flags={"a": [1]}), ScriptNotFoundError, "does not exist"),
    ("negative retries", dict(flags={"a": [1]}, retries=-1), TunerError, "retries must be >= 0"),
    ("zero timeout", dict(flags={"a": [1]}, timeout_s=0), TunerError, "timeout must be a positive"),
    ("several problems", dict(file="missing.py", flags={"a": []}, retries=-2), TunerError, "retries must be"),
    ("unknown sweep", dict(resume="20200101-000000-0000"), SweepNotFoundError, "unknown sweep"),
    ("runs dir is a file", dict(flags={"a": [1]}, runs_dir="runs/keep.txt"), ConfigError,
     "runs directory 'runs/keep.txt' is a file"),
]


@pytest.mark.parametrize("name, kwargs, error, message", API_CASES, ids=[c[0] for c in API_CASES])
def test_api_bad_input_raises_a_typed_error_and_writes_nothing(project, name, kwargs, error, message):
    before = snapshot(project / "runs")
    kwargs = {"file": "train.py", "confirm": False, "quiet": True, **kwargs}
    with pytest.raises(error, match=message.replace("(", r"\(")):
        tuning_run(**kwargs)
    assert snapshot(project / "runs") == before


def test_several_problems_are_reported_together(project):
    with pytest.raises(TunerError) as error:
        tuning_run("missing.py", {"a": []}, retries=-2, confirm=False, quiet=True)
    text = str(error.value)
    assert "retries must be >= 0" in text and "does not exist" in text and "flag 'a' has no values" in text


def test_reading_a_runs_dir_that_is_a_file_is_a_typed_error(project, monkeypatch):
    from tuner import ls_runs

    with pytest.raises(ConfigError, match="runs directory 'runs/keep.txt' is a file"):
        ls_runs(runs_dir="runs/keep.txt")
    monkeypatch.setenv("TUNER_RUNS_DIR", "runs/keep.txt")
    with pytest.raises(ConfigError, match="^TUNER_RUNS_DIR: runs directory 'runs/keep.txt' is a file"):
        ls_runs()
    assert ls_runs(runs_dir="no-such-folder").empty  # a missing one is an empty listing, as before


def _as_a_user(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`tune` as a user whom file permissions bind: root without the capabilities that override them (CI and this
    sandbox run as root), anyone else as they are."""
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    return subprocess.run([*prefix, sys.executable, "-m", "tuner", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_a_runs_dir_without_permissions_is_one_line_not_a_traceback(project):
    runs = project / "runs"
    (runs / "2026-01-01T00-00-00Z" / "tuner.d").mkdir(parents=True)
    before = snapshot(runs)
    try:
        runs.chmod(0o000)  # unreadable: nothing can be listed
        done = _as_a_user("ls", cwd=project)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert "runs directory 'runs' cannot be read (permission denied)" in done.stderr
        runs.chmod(0o555)  # read-only: it lists, but takes no new run
        listed = _as_a_user("ls", cwd=project)
        assert listed.returncode == 0 and "2026-01-01T00-00-00Z" in listed.stdout, listed.stderr
        for args in (["train.py", "--flag", "a=1"], ["train.py", "--flag", "a=1,2", "--yes"],
                     ["train.py", "--flag", "a=1,2", "--yes", "--runs-dir", "runs/sub"]):
            made = _as_a_user(*args, cwd=project)
            assert made.returncode == 2 and made.stderr.count("\n") == 1 and "Traceback" not in made.stderr, made.stderr
            assert "is not writable (permission denied): no run can be made there" in made.stderr
    finally:
        runs.chmod(0o755)
    assert snapshot(runs) == before


def test_a_run_this_user_may_not_read_is_listed_with_a_warning_not_a_traceback(project):
    for value in ("1", "2"):
        assert run_tune("train.py", "--flag", f"a={value}", cwd=project).returncode == 0
    hidden, shown = sorted(p for p in (project / "runs").iterdir() if (p / "tuner.d").is_dir())
    assert _as_a_user("ls", cwd=project).returncode == 0  # the index now holds both
    for locked in (hidden / "tuner.d", hidden):  # a teammate's run: its metadata, then the whole folder
        try:
            locked.chmod(0o000)
            done = _as_a_user("ls", "--format", "csv", "--columns", "run_dir,status", cwd=project)
            assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
            rows = dict(line.split(",") for line in done.stdout.strip().splitlines()[1:])
            assert rows == {f"runs/{shown.name}": "finished", f"runs/{hidden.name}": "unknown"}, done.stdout
            # one line a problem, as the command's other messages, not Python's file:line and source line
            said = done.stderr.strip().splitlines()
            assert said and all(line.startswith("tune: warning: runs/") for line in said), done.stderr
            assert "unreadable (PermissionError); the run is listed with what is readable" in done.stderr
        finally:
            locked.chmod(0o755)
        again = _as_a_user("ls", "--format", "csv", "--columns", "run_dir,status", cwd=project)
        assert f"runs/{hidden.name},finished" in again.stdout and not again.stderr  # readable again: read again
