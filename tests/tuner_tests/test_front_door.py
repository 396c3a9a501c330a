"""What a newcomer meets first (issue 30): mistyped commands, the one rule for commands that move or delete runs,
the messages of commands that find nothing, and options that fail fast."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from tuner.cli.main import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import run_tune  # noqa: E402


def tune(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("tune: error: "), err
    return lines[0]


# --- a bare word that is neither a command nor a file ------------------------------------------------------

@pytest.mark.parametrize("word, suggestion", [("lst", "`tune ls`"), ("sweep", "`tune sweeps`"),
                                              ("clen", "`tune clean`"), ("resum", "`tune resume`")])
def test_a_mistyped_command_is_an_unknown_command_with_the_closest(workdir: Path, capsys: pytest.CaptureFixture[str],
                                                                   word: str, suggestion: str) -> None:
    status, out, err = tune(capsys, word)
    line = error_line(err)
    assert status == 2 and out == ""
    assert line.startswith(f"tune: error: unknown command '{word}'") and f"did you mean {suggestion}?" in line
    assert "script" not in line.split(";")[0]  # not "script 'lst' does not exist"
    assert list(workdir.iterdir()) == []


def test_a_word_with_a_script_beside_it_suggests_the_script(write_script: Callable[..., Path],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    write_script("train.py", "print('hi')\n")
    status, _, err = tune(capsys, "train")
    assert status == 2 and "did you mean `tune train.py`?" in error_line(err)


def test_paths_stay_scripts_and_existing_files_run(write_script: Callable[..., Path], workdir: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A name with a dot or a slash is a path: missing, it is a missing script; an existing file without an
    extension (`sweep`, `lst`) runs, even with a command's look-alike name."""
    status, _, err = tune(capsys, "sweep.yaml")
    assert status == 2 and "script 'sweep.yaml' does not exist" in error_line(err)
    status, _, err = tune(capsys, "bin/lst")
    assert status == 2 and "script 'bin/lst' does not exist" in error_line(err)
    write_script("lst", "print('a script named lst')\n")
    done = run_tune("lst", "--no-echo", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert len(list((workdir / "runs").iterdir())) == 1


def tune_process(cwd: Path, *args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    """`tune ARGS` in a process of its own that prints, at its end, whether Ray was imported."""
    code = (f"import sys\n{prelude}\nfrom tuner.cli.main import main\n"
            "rc = main(sys.argv[1:]); print('ray imported:', 'ray' in sys.modules); sys.exit(rc)")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


# --- options that fail fast, and say which option is wrong ------------------------------------------------

SEARCH_SCRIPT = """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
print("acc:", parser.parse_args().lr)
"""


def test_search_tpe_without_optuna_is_refused_before_ray_starts(write_script: Callable[..., Path],
                                                                workdir: Path) -> None:
    """Optuna hidden from the process: the refusal names the extra, Ray was never imported, nothing written."""
    write_script("train.py", SEARCH_SCRIPT)
    done = tune_process(workdir, "train.py", "--flag", "lr=interval(0.01, 0.1)", "--num-samples", "2", "--search",
                        "tpe", "--metric", "acc", "--yes", prelude="sys.modules['optuna'] = None")
    assert done.returncode == 2, done.stderr
    assert "--search tpe needs Optuna: pip install 'tuner-sweeps[search]'" in error_line(done.stderr)
    assert "ray imported: False" in done.stdout
    assert not (workdir / "runs").exists()


@pytest.mark.parametrize("option, value, said", [
    ("--num-samples", "0", "argument --num-samples: '0' is not a positive whole number of draws per grid point"),
    ("--run-cap", "-1", "argument --run-cap: '-1' is not a positive whole number of trials"),
    ("--max-concurrent", "0", "argument --max-concurrent: '0' is not a positive whole number of trials at once"),
])
def test_a_bad_count_on_the_command_line_blames_the_option_not_the_flags_file(
        write_script: Callable[..., Path], workdir: Path, capsys: pytest.CaptureFixture[str],
        option: str, value: str, said: str) -> None:
    write_script("train.py", SEARCH_SCRIPT)
    (workdir / "grid.yml").write_text("lr: [0.1, 0.2]\n")
    status, _, err = tune(capsys, "train.py", "--flags", "grid.yml", option, value)
    line = error_line(err)
    assert status == 2 and said in line and "grid.yml" not in line
    assert not (workdir / "runs").exists()


def test_resume_takes_yes_and_every_option_has_help(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`tune resume` takes the options `tune SCRIPT` has for running trials, with the same help texts."""
    from tuner.cli.run import run_parser
    from tuner.cli.sweeps import resume_parser

    resume = {a.option_strings[0]: a.help for a in resume_parser()._actions if a.option_strings}
    run = {a.option_strings[0]: a.help for a in run_parser()._actions if a.option_strings}
    assert all(resume.values()), [option for option, text in resume.items() if not text]
    for option in ("--quiet", "--cpus-per-trial", "--gpus-per-trial", "--max-concurrent", "--max-failures",
                   "--retries", "--timeout", "--address"):
        assert option in resume and resume[option] == run[option], option
    assert "Proceed with N runs?" in resume["--yes"]  # and the journal question resume alone asks
    status, _, err = tune(capsys, "resume", "no-such-sweep", "--yes")
    assert status == 2 and "unrecognized arguments" not in err and "no-such-sweep" in error_line(err)


# --- commands that move or delete runs: one rule ----------------------------------------------------------

@pytest.fixture
def three_runs(workdir: Path) -> Path:
    from synthetic_runs import make_run

    root = workdir / "runs"
    for second in (1, 2, 3):
        make_run(root, f"2026-01-01T00-00-0{second}Z", flags={"lr": second / 10}, metrics=[{"acc": second / 10}])
    return root


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if not p.name.startswith(".")} if folder.is_dir() else set()


@pytest.mark.parametrize("args, verb", [
    (["clean"], "would move to runs/archive"),
    (["clean", "2026-01-01T00-00-01Z"], "would move to runs/archive"),
    (["clean", "--filter", "metric_acc > 0.15"], "would move to runs/archive"),
    (["rm", "2026"], "matching '2026' would be deleted permanently"),
])
def test_without_a_terminal_nothing_moves_or_goes_without_yes(three_runs: Path, workdir: Path, args: list[str],
                                                              verb: str) -> None:
    """No terminal (a script, CI, a pipe): the command says what it would do, in one line, exit 2, nothing
    changed; `--yes` does it. The message names `tune` commands, never a Python function."""
    before = _names(three_runs)
    refused = run_tune(*args, cwd=workdir, stdin="")
    line = error_line(refused.stderr)
    assert refused.returncode == 2 and verb in line and "pass --yes" in line and refused.stdout == ""
    assert _names(three_runs) == before
    done = run_tune(*args, "--yes", cwd=workdir, stdin="")
    assert done.returncode == 0, done.stderr
    assert _names(three_runs) != before and "()" not in done.stdout  # no purge_runs() in a command's output


def test_restore_and_purge_follow_the_same_rule_and_an_empty_archive_is_no_error(three_runs: Path,
                                                                                  workdir: Path) -> None:
    empty = run_tune("purge", cwd=workdir, stdin="")
    assert empty.returncode == 0 and empty.stdout.strip() == "No archived runs to purge in runs/archive."
    nothing = run_tune("restore", cwd=workdir, stdin="")
    assert nothing.returncode == 0 and nothing.stdout.strip() == "No archived runs to restore in runs/archive."
    moved = run_tune("clean", "2026-01-01T00-00-01Z", "--yes", cwd=workdir, stdin="")
    assert moved.stdout.splitlines() == ["Moved 1 run to runs/archive",
                                         "(`tune restore` brings runs back; `tune purge` deletes the archive for good)"]
    for command, said in (("restore", "1 run directory would move back to runs"),
                          ("purge", "1 run directory in runs/archive would be deleted permanently")):
        refused = run_tune(command, cwd=workdir, stdin="")
        assert refused.returncode == 2 and said in error_line(refused.stderr)
        assert _names(three_runs / "archive") == {"2026-01-01T00-00-01Z"}
    assert run_tune("purge", "--yes", cwd=workdir, stdin="").returncode == 0
    assert _names(three_runs / "archive") == set()
    nomatch = run_tune("clean", "--filter", "metric_acc > 5", cwd=workdir, stdin="")
    assert nomatch.returncode == 0 and nomatch.stdout.strip() == "No runs match the filter in runs."


# --- commands that find nothing say where they looked, as errors of one kind -------------------------------

def test_tensorboard_without_runs_is_an_error_like_the_others(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = tune(capsys, "tensorboard")
    assert status == 2 and out == ""
    assert error_line(err) == "tune: error: no runs in 'runs'; start one with `tune SCRIPT`"
    assert tune(capsys, "view", "--no-browser")[0] == 2  # the same status as the other commands given no run


def test_reproduce_says_cd_once_when_the_checkout_is_the_working_directory(workdir: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from synthetic_runs import make_run

    run = make_run(workdir / "runs", "2026-01-01T00-00-01Z", flags={"lr": 0.1})
    record = json.loads((Path(run) / "tuner.d" / "run.json").read_text())
    record.update(script=str(workdir / "train.py"), cwd=str(workdir),
                  git={"commit": "3f2a9c1d" * 5, "root": str(workdir), "dirty": False})
    (Path(run) / "tuner.d" / "run.json").write_text(json.dumps(record))
    status, out, _ = tune(capsys, "reproduce")
    lines = out.splitlines()
    commit = "3f2a9c1d" * 5
    assert status == 0 and lines[1:] == [f"cd {workdir}", f"git checkout {commit}", "tune train.py --flag lr=0.1"]


def test_skip_done_with_nothing_left_starts_nothing_and_records_no_sweep(write_script: Callable[..., Path],
                                                                         workdir: Path) -> None:
    write_script("train.py", SEARCH_SCRIPT)
    for lr in ("0.1", "0.2"):
        assert run_tune("train.py", "--flag", f"lr={lr}", "--no-echo", cwd=workdir).returncode == 0
    done = tune_process(workdir, "train.py", "--flag", "lr=0.1,0.2", "--skip-done")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "2 combinations of flags (use --sample to run a random subset); 2 already have a finished run (--skip-done), "
        "0 to run",
        "Nothing to run: every planned combination already has a finished run of this script (--skip-done); no sweep "
        "was recorded. `tune ls` lists them.",
        "ray imported: False"]
    assert not (workdir / "runs" / "sweeps").exists() and len(_names(workdir / "runs")) == 2


def test_tuning_run_with_nothing_left_returns_the_reused_runs(write_script: Callable[..., Path], workdir: Path) -> None:
    from tuner import training_run, tuning_run

    write_script("train.py", SEARCH_SCRIPT)
    for lr in (0.1, 0.2):
        training_run("train.py", flags={"lr": lr}, echo=False)
    frame = tuning_run("train.py", {"lr": [0.1, 0.2]}, skip_done=True, confirm=False, quiet=True)
    assert frame is not None and sorted(frame["flag_lr"]) == [0.1, 0.2] and frame.attrs["sweep"] is None
    assert not (workdir / "runs" / "sweeps").exists()


# --- a script is named by its path, not its base name -----------------------------------------------------

def test_format_path_tells_scripts_of_the_same_name_apart(workdir: Path) -> None:
    import os

    from tuner.values import format_path

    assert format_path(str(workdir / "a" / "train.py"), str(workdir)) == os.path.join("a", "train.py")
    assert format_path(str(workdir / "b" / "train.py"), "/elsewhere", str(workdir)) == os.path.join("b", "train.py")
    home = os.path.expanduser("~")
    assert format_path(os.path.join(home, "p", "train.py"), "/elsewhere") == os.path.join("~", "p", "train.py")
    assert format_path("/opt/x/train.py", "/opt/y") == "/opt/x/train.py"


def test_sweeps_lists_each_sweeps_script_path_in_the_table_style_of_ls(workdir: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from tuner.store.journal import Journal

    for sweep_id, folder in (("20260101-000001-aaaa", "vision"), ("20260101-000002-bbbb", "text")):
        Journal.create("runs", sweep_id, {"created": 1767225601.0, "script": str(workdir / folder / "train.py"),
                                          "total": 2, "indices": None, "cwd": str(workdir)})
    status, out, _ = tune(capsys, "sweeps")
    lines = out.splitlines()
    assert status == 0 and lines[0].split()[:3] == ["sweep", "created", "script"]
    assert set(lines[1]) <= {"-", " "}  # the plain table of `tune ls` when piped, not a boxed one
    assert "vision/train.py" in out and "text/train.py" in out and "│" not in out and "━" not in out


def test_the_run_card_names_the_script_by_its_path_in_the_project(workdir: Path) -> None:
    import json

    from synthetic_runs import make_run

    from tuner.report.data import run_data

    run = make_run(workdir / "runs", "2026-01-01T00-00-01Z", flags={"lr": 0.1})
    record = json.loads((Path(run) / "tuner.d" / "run.json").read_text())
    record.update(script=str(workdir / "examples" / "quickstart" / "train.py"), cwd=str(workdir))
    (Path(run) / "tuner.d" / "run.json").write_text(json.dumps(record))
    card = dict(run_data(run, with_sources=False, with_output=False)["card"])
    assert card["script"] == "examples/quickstart/train.py"


# --- run names a person can type and tell apart ------------------------------------------------------------

def test_a_run_resolves_by_a_unique_end_of_its_name_and_old_names_still_resolve(workdir: Path) -> None:
    from synthetic_runs import make_run

    from tuner.errors import RunNotFoundError
    from tuner.runs.resolve import resolve_run_dir

    for name in ("2026-12-07T20-15-45.115Z", "2026-12-07T20-15-45.117Z",  # a sweep before issue 30
                 "2026-12-07T20-16-01Z-0", "2026-12-07T20-16-01Z-1", "2026-12-07T20-16-02Z-2", "2026-12-07T20-17-00Z"):
        make_run(workdir / "runs", name)
    assert resolve_run_dir("16-01Z-1", "runs") == "runs/2026-12-07T20-16-01Z-1"
    assert resolve_run_dir("Z-2", "runs") == "runs/2026-12-07T20-16-02Z-2"
    assert resolve_run_dir("117Z", "runs") == "runs/2026-12-07T20-15-45.117Z"
    assert resolve_run_dir("2026-12-07T20-15-45.115", "runs") == "runs/2026-12-07T20-15-45.115Z"  # a prefix first
    assert resolve_run_dir("2026-12-07T20-17", "runs") == "runs/2026-12-07T20-17-00Z"
    with pytest.raises(RunNotFoundError, match="2 runs in 'runs' start with it"):
        resolve_run_dir("2026-12-07T20-16-01", "runs")
    with pytest.raises(RunNotFoundError, match="3 runs in 'runs' end with it"):
        resolve_run_dir("Z", "runs")  # the start of no name and the end of three


def test_progress_lines_name_the_trial_and_the_flags_that_vary(capsys: pytest.CaptureFixture[str]) -> None:
    from tuner.plan import product_grid, varying_names
    from tuner.sweep.loop import shown_flags
    from tuner.sweep.progress import SweepProgress

    grid = product_grid({"lr": [0.001, 0.1], "epochs": [10], "optimizer": ["adam", "sgd"]}, "flags")
    assert varying_names(grid) == ("lr", "optimizer")
    assert shown_flags({"lr": 0.0012345678, "epochs": 10, "optimizer": "adam"}, ("lr", "optimizer")) == \
        "lr=0.001235 optimizer=adam"
    assert len(shown_flags({f"flag_number_{i}": i for i in range(20)}, ())) == 60  # cut, with an ellipsis
    progress = SweepProgress(2, "acc", "max")
    progress.trial_done("2026-12-07T20-16-01Z-0", "finished", 1.5, 0.9, flags="lr=0.001 optimizer=adam")
    progress.trial_done("2026-12-07T20-16-01Z-1", "failed", 0.5, None, exit_code=1, error="ValueError: bad",
                        flags="lr=0.1 optimizer=adam")
    said = capsys.readouterr()  # through the channel's renderer (tuner.console.echo)
    assert said.out.splitlines() == [
        "[1/2] finished 2026-12-07T20-16-01Z-0 (lr=0.001 optimizer=adam) in 1.5s acc=0.9 | best acc 0.9 "
        "(2026-12-07T20-16-01Z-0)"]
    assert said.err.splitlines() == [
        "trial 2026-12-07T20-16-01Z-1 (lr=0.1 optimizer=adam) FAILED: exit status 1; ValueError: bad"]


@pytest.mark.ray
def test_a_sweeps_runs_are_named_by_second_and_trial(ray_cluster: str, write_script: Callable[..., Path],
                                                     workdir: Path) -> None:
    import re

    write_script("train.py", SEARCH_SCRIPT)
    done = run_tune("train.py", "--flag", "lr=0.1,0.2,0.3", "--yes", "--address", ray_cluster, cwd=workdir)
    assert done.returncode == 0, done.stderr
    names = sorted(_names(workdir / "runs") - {"sweeps"})
    assert [name[-2:] for name in names if name.endswith(("-0", "-1", "-2"))] == ["-0", "-1", "-2"], names
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ-\d", n) for n in names), names
    for trial, lr in enumerate(("0.1", "0.2", "0.3")):
        line = next(line for line in done.stdout.splitlines() if re.search(rf"Z-{trial} \(", line))
        assert f"Z-{trial} (lr={lr}) in " in line and line.startswith("[") and " finished " in line
