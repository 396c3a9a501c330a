"""The `tune` command: single runs, ls, info; exit codes and one-line errors (DESIGN section 6)."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from tuner.cli.main import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import run_tune  # noqa: E402

SCRIPT = """
import sys
from tuner import flags, flag_numeric, flag_integer, log_metrics
FLAGS = flags(flag_numeric("lr", 0.1), flag_integer("units", 32))
log_metrics(loss=FLAGS.lr * 10, acc=0.5)
print("extra args", sys.argv[1:])
"""


def tune(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("tune: error: ")
    return lines[0]


@pytest.fixture
def script(write_script: Callable[..., Path]) -> Path:
    return write_script("train.py", SCRIPT)


# --- usage ------------------------------------------------------------------------------------------------

def test_no_arguments_is_a_usage_error_and_help_is_not(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = tune(capsys)
    assert status == 2 and "usage: tune SCRIPT" in out
    status, out, _ = tune(capsys, "--help")
    assert status == 0 and "python -m tuner" in out and "tune ls" in out
    status, out, _ = tune(capsys, "--version")
    assert status == 0 and out.startswith("tuner ")


def test_a_missing_script_exits_2_with_one_line_and_creates_nothing(workdir: Path) -> None:
    done = run_tune("missing.py", "--flag", "lr=0.1", cwd=workdir)
    assert done.returncode == 2
    assert "script 'missing.py' does not exist" in one_error_line(done.stderr)
    assert list(workdir.iterdir()) == []


def test_an_unreadable_flags_file_exits_2_and_creates_nothing(script: Path, workdir: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = tune(capsys, "train.py", "--flags", "missing.yml")
    assert status == 2 and "missing.yml" in one_error_line(err)
    (workdir / "bad.yml").write_text("lr: [0.1\n")
    status, _, err = tune(capsys, "train.py", "--flags", "bad.yml")
    assert status == 2 and "bad.yml" in one_error_line(err)
    assert not (workdir / "runs").exists()


@pytest.mark.parametrize("args, expected", [
    (["train.py", "--bogus"], "unrecognized arguments: --bogus"),
    (["--bogus"], "the following arguments are required: script"),
    (["train.py", "--flag", "lr"], "expected NAME=VALUE"),
    (["train.py", "--timeout", "soon"], "argument --timeout: 'soon' is not a time: give seconds (600) or a number"),
    (["train.py", "--flag", "a=1,2", "--keep-cluster", "later"], "argument --keep-cluster: 'later' is not a time"),
    (["train.py", "--timeout", "nan"], "'nan' is not a time"),
    (["ls", "--latest", "x"], "argument --latest: 'x' is not a positive whole number of runs"),
])
def test_bad_options_exit_2_with_one_line(script: Path, workdir: Path, capsys: pytest.CaptureFixture[str],
                                          args: list[str], expected: str) -> None:
    status, _, err = tune(capsys, *args)
    assert status == 2 and expected in one_error_line(err)
    assert not (workdir / "runs").exists()


def test_time_options_take_units(workdir: Path, write_script: Callable[..., Path],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """`--timeout 0.02m` is 1.2 s: a script sleeping 60 s times out by then (and `--keep-cluster 10m` reads as
    600 s: the parser's type, one function for every time option)."""
    from tuner.cli.options import seconds

    write_script("sleepy.py", "import time\ntime.sleep(60)\n")
    started = time.monotonic()
    status, _, err = tune(capsys, "sleepy.py", "--no-echo", "--timeout", "0.02m")
    assert time.monotonic() - started < 30, "the limit was not 1.2 s"
    (run,) = (workdir / "runs").iterdir()
    record = json.loads((run / "tuner.d" / "run.json").read_text())
    assert record["status"] == "timeout" and status != 0, (record, err)
    assert [seconds(t) for t in ("600", "90s", "10m", "1.5h", "1d")] == [600, 90, 600, 5400, 86400]


def test_options_may_come_before_the_script(script: Path, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = tune(capsys, "--no-echo", "--flag", "lr=0.5", "train.py")
    assert status == 0, err
    (run,) = (workdir / "runs").iterdir()
    assert json.loads((run / "tuner.d" / "flags.json").read_text())["lr"] == 0.5


def test_full_error_shows_the_traceback(workdir: Path) -> None:
    done = run_tune("missing.py", cwd=workdir, env={"TUNER_FULL_ERROR": "1"})
    assert done.returncode != 0 and "Traceback" in done.stderr and "ScriptNotFoundError" in done.stderr


# --- single runs ------------------------------------------------------------------------------------------

def test_a_single_run_with_flags(script: Path, workdir: Path) -> None:
    done = run_tune("train.py", "--flag", "lr=0.01", "--flag", "units=64", "--", "x.csv", "-v", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "Using run directory runs/" in done.stdout and "extra args ['--lr=0.01', '--units=64', 'x.csv', '-v']" \
        in done.stdout
    (run_dir,) = (workdir / "runs").iterdir()
    assert json.loads((run_dir / "tuner.d" / "flags.json").read_text()) == {"lr": 0.01, "units": 64}
    assert json.loads((run_dir / "tuner.d" / "run.json").read_text())["status"] == "finished"


def test_a_flags_file_with_one_value_per_flag_is_one_run(script: Path, workdir: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "one.yml").write_text("lr: 0.2\nunits: [8]\n")
    status, _, err = tune(capsys, "train.py", "--flags", "one.yml", "--flag", "units=16", "--no-echo")
    assert status == 0, err
    (run_dir,) = (workdir / "runs").iterdir()
    assert json.loads((run_dir / "tuner.d" / "flags.json").read_text()) == {"lr": 0.2, "units": 16}


def test_no_echo_and_runs_dir_options(script: Path, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = tune(capsys, "train.py", "--no-echo", "--runs-dir", "exp")
    assert status == 0 and "extra args" not in out
    (run,) = [p for p in (workdir / "exp").iterdir() if not p.name.startswith(".")]
    assert not (workdir / "runs").exists()
    assert out == f"Run completed: exp/{run.name}\n"  # quiet, never silent: the one line says where the run is


def test_a_failed_run_exits_1_and_says_where_to_look(write_script: Callable[..., Path], workdir: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    write_script("train.py", "raise ValueError('bad data')\n")
    status, _, err = tune(capsys, "train.py", "--no-echo")
    assert status == 1
    line = [line for line in err.splitlines() if line.startswith("tune: ")][-1]
    assert "failed: ValueError: bad data" in line and "output.log" in line
    assert len(list((workdir / "runs").iterdir())) == 1


# --- ls / info --------------------------------------------------------------------------------------------

@pytest.fixture
def two_runs(script: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for lr in ("0.01", "0.5"):
        assert main(["train.py", "--no-echo", "--flag", f"lr={lr}"]) == 0
    capsys.readouterr()


def test_ls_prints_a_compact_table(two_runs: None, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = tune(capsys, "ls")
    assert status == 0
    header, *rows = [line for line in out.splitlines() if line.strip() and not set(line) <= set("━╇─┼- ")]
    for column in ("run", "status", "flag_lr", "flag_units", "metric_loss"):
        assert column in header
    assert len(rows) == 2 and all("finished" in r for r in rows)
    assert "0.5" in rows[0] and "0.01" in rows[1]  # newest first


def test_ls_filter_order_latest_and_formats(two_runs: None, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = tune(capsys, "ls", "--filter", "flag_lr > 0.1", "--format", "json")
    assert status == 0 and [r["flag_lr"] for r in json.loads(out)] == [0.5]
    status, out, _ = tune(capsys, "ls", "--order", "metric_loss", "--ascending", "--format", "csv")
    assert [float(r["flag_lr"]) for r in csv.DictReader(io.StringIO(out))] == [0.01, 0.5]
    status, out, _ = tune(capsys, "ls", "--latest", "1", "--format", "csv", "--columns", "flag_lr,status")
    assert out.splitlines() == ["flag_lr,status", "0.5,finished"]


def test_ls_errors_exit_2(two_runs: None, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = tune(capsys, "ls", "--filter", "flag_lr >")
    assert status == 2 and "does not parse" in one_error_line(err)
    status, _, err = tune(capsys, "ls", "--order", "metric_los")
    assert status == 2 and "did you mean metric_loss" in one_error_line(err)


def test_ls_and_info_without_runs(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nothing = "No runs in runs/ (the folder does not exist yet); `tune train.py` makes one, a tracked run of train.py.\n"
    assert tune(capsys, "ls")[:2] == (0, nothing)
    assert tune(capsys, "ls", "--filter", "metric_acc > 1")[:2] == (0, "No runs in runs/ match the filter.\n")
    assert tune(capsys, "info")[:2] == (0, nothing)
    # a filter or order that does not parse is an error with no runs too (a typo is not "no runs")
    status, _, err = tune(capsys, "ls", "--filter", "metric_acc >")
    assert status == 2 and "metric_acc >" in one_error_line(err)
    status, _, err = tune(capsys, "ls", "--order", "start SIDEWAYS")
    assert status == 2 and "unknown direction" in one_error_line(err)


def test_info_shows_the_latest_or_a_named_run(two_runs: None, workdir: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    oldest, newest = sorted(os.listdir(workdir / "runs"))
    status, out, _ = tune(capsys, "info")
    assert status == 0 and newest in out.splitlines()[0] and "finished" in out.splitlines()[0]
    assert "flag_lr" in out and "0.5" in out and "metrics" in out
    status, out, _ = tune(capsys, "info", oldest)
    assert status == 0 and oldest in out.splitlines()[0] and "0.01" in out
    status, _, err = tune(capsys, "info", "2020-01-01T00-00-00Z")
    assert status == 2 and "not found" in one_error_line(err)


def test_ls_through_the_real_command_line(two_runs: None, workdir: Path) -> None:
    done = run_tune("ls", "--format", "csv", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert len(list(csv.DictReader(io.StringIO(done.stdout)))) == 2


@pytest.mark.slow
def test_the_installed_tune_script_is_ours_even_with_ray_installed(workdir: Path) -> None:
    """Ray installs a `tune` console script too; installing this project after Ray must leave ours in place."""
    import importlib.util
    import subprocess

    assert importlib.util.find_spec("ray") is not None, "this check needs Ray installed in the test environment"
    tune_script = Path(sys.executable).parent / "tune"
    assert tune_script.is_file(), f"{tune_script} is missing: install this project (pip install -e .)"
    assert "from tuner.cli.main import entry" in tune_script.read_text()
    done = subprocess.run([str(tune_script), "--help"], capture_output=True, text=True, timeout=120, cwd=workdir)
    assert done.returncode == 0 and "python -m tuner" in done.stdout and "tune ls" in done.stdout


def test_options_override_environment_and_project_settings(script: Path, workdir: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "tuner.yml").write_text("runs_dir: from_file\necho: false\n")
    status, out, _ = tune(capsys, "train.py")
    assert status == 0 and "extra args" not in out and (workdir / "from_file").is_dir()
    monkeypatch.setenv("TUNER_RUNS_DIR", "from_env")
    assert tune(capsys, "train.py")[0] == 0 and (workdir / "from_env").is_dir()
    assert tune(capsys, "train.py", "--runs-dir", "from_option")[0] == 0
    assert [len(list((workdir / d).iterdir())) for d in ("from_file", "from_env", "from_option")] == [1, 1, 1]
    status, out, _ = tune(capsys, "ls", "--format", "csv")
    assert status == 0 and len(out.splitlines()) == 2 and "from_env" in out
