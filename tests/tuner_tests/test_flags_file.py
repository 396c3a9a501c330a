"""A flags file read once into one value (tuner.flagsfile): what it holds for each kind, one run's flags from it,
and the CLI and the API taking the same files the same way."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.conftest import run_tune
from tuner import FlagError, GridError, training_run
from tuner.flagsfile import FileKind, FlagsFile, read_flags_file, sweep_script_file

TUNE_FILE = """
command: "${interpreter} ${program} ${args}"
sweep: {search: random, num_samples: 3, metric: loss}
lr: {loguniform: [1.0e-4, 1.0e-1]}
units: [64, 128]
name: adam
"""

WANDB_FILE = """
program: train.py
method: random
metric: {name: loss, goal: minimize}
parameters:
  lr: {min: 0.0001, max: 0.1}
  units: {values: [64, 128]}
"""

HYDRA_FILE = """
defaults:
  - override hydra/sweeper: optuna
hydra:
  sweeper:
    direction: maximize
    n_trials: 5
    params:
      lr: interval(0.0001, 0.1)
      units: choice(64, 128)
"""

SCRIPT = """
import argparse, json, sys
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.01)
parser.add_argument("--units", type=int, default=8)
parser.add_argument("--fast", action="store_true")
parser.parse_args()
print("GOT", json.dumps(sys.argv[1:]), flush=True)
"""


def test_tune_s_own_file_is_one_value_with_its_reserved_keys_apart(tmp_path: Path) -> None:
    path = tmp_path / "grid.yml"
    path.write_text(TUNE_FILE)
    file = read_flags_file(str(path))
    assert file.kind is FileKind.TUNE and file.path == str(path)
    assert dict(file.flags) == {"lr": {"loguniform": [1e-4, 0.1]}, "units": [64, 128], "name": "adam"}
    assert file.command == "${interpreter} ${program} ${args}"
    assert dict(file.settings) == {"search": "random", "num_samples": 3, "metric": "loss"}
    assert file.is_sweep and file.has_distributions and file.program is None
    with pytest.raises(TypeError):
        file.flags["lr"] = 0.1  # type: ignore[index]  # the value is read-only: a caller makes another one
    with pytest.raises(dataclasses.FrozenInstanceError):
        file.command = None  # type: ignore[misc]


def test_foreign_sweep_files_become_the_same_value(tmp_path: Path) -> None:
    (tmp_path / "sweep.yaml").write_text(WANDB_FILE)
    wandb = read_flags_file(str(tmp_path / "sweep.yaml"))
    assert wandb.kind is FileKind.WANDB and wandb.program == "train.py"
    assert dict(wandb.flags) == {"lr": {"uniform": [0.0001, 0.1]}, "units": {"choice": [64, 128]}}
    assert dict(wandb.settings) == {"metric": "loss", "mode": "min"}  # settings by tune's names only
    assert wandb.needs_run_cap == "method random" and wandb.command["style"] == "wandb"
    assert wandb.is_sweep
    (tmp_path / "config.yaml").write_text(HYDRA_FILE)
    hydra = read_flags_file(str(tmp_path / "config.yaml"))
    assert hydra.kind is FileKind.HYDRA and set(hydra.flags) == {"lr", "units"}
    assert dict(hydra.settings) == {"search": "tpe", "mode": "max", "run_cap": 5} and hydra.is_sweep
    (tmp_path / "rows.csv").write_text("lr,units\n0.1,64\n0.01,001\n")
    table = read_flags_file(str(tmp_path / "rows.csv"))
    assert table.kind is FileKind.TABLE and table.is_sweep and dict(table.flags) == {}
    assert table.table["units"].tolist() == [64, "001"]  # typed by the one rule


def test_a_sweep_file_given_as_the_script_names_its_program(tmp_path: Path) -> None:
    (tmp_path / "sweep.yaml").write_text(WANDB_FILE)
    file = sweep_script_file(str(tmp_path / "sweep.yaml"))
    assert file is not None and file.program == "train.py"
    (tmp_path / "grid.yml").write_text("lr: [0.1, 0.2]\n")
    assert sweep_script_file(str(tmp_path / "grid.yml")) is None  # tune's own file given as SCRIPT is the script
    assert sweep_script_file(str(tmp_path / "train.py")) is None
    (tmp_path / "noprog.yaml").write_text(WANDB_FILE.replace("program: train.py\n", ""))
    with pytest.raises(GridError, match="noprog.yaml is a sweep file that names no program"):
        sweep_script_file(str(tmp_path / "noprog.yaml"))


@pytest.mark.parametrize("text, why", [
    ("lr: [0.1, 0.2]\n", "flag 'lr' has 2 values"),
    ("lr: {uniform: [0, 1]}\n", "flag 'lr' is drawn from a distribution"),
    ("lr: 0.1\nsweep: {metric: loss}\n", "it holds a sweep's settings (`sweep:`)"),
])
def test_one_run_takes_one_value_per_flag_and_a_sweep_s_file_says_why_not(tmp_path: Path, text: str,
                                                                          why: str) -> None:
    path = tmp_path / "f.yml"
    path.write_text(text)
    with pytest.raises(FlagError, match=f"f.yml: {re.escape(why)}.*run it as a sweep"):
        read_flags_file(str(path)).one_run_flags()
    path.write_text("lr: [0.1]\nunits: 64\n")
    assert read_flags_file(str(path)).one_run_flags() == {"lr": 0.1, "units": 64}
    assert read_flags_file(str(path)).with_flags({"units": 32}).one_run_flags() == {"lr": 0.1, "units": 32}


ONE_RUN_FILES = {
    "a scalar": "lr: 0.5\n",
    "a list of one": "lr: [0.5]\nfast: [true]\n",
    "a command": 'command: "${interpreter} ${program} ${args}"\nlr: 0.5\n',
    "hydra's overrides": 'command: "${interpreter} ${program} ${args_no_hyphens}"\nlr: 0.5\n',
}


@pytest.mark.parametrize("text", ONE_RUN_FILES.values(), ids=list(ONE_RUN_FILES))
def test_the_cli_and_training_run_take_the_same_one_run_file_the_same_way(
        workdir: Path, write_script: Callable[..., Path], text: str) -> None:
    """`training_run(flags="f.yml")` read the file another way than `tune --flags f.yml`: `lr: [0.1]` was an error
    and `command:` became a flag (issue 31). Both now read it into the same value."""
    write_script("train.py", SCRIPT if "no_hyphens" not in text else "import json, sys\n"
                 "print('GOT', json.dumps(sys.argv[1:]), flush=True)\n")
    (workdir / "f.yml").write_text(text)
    cli = run_tune("train.py", "--flags", "f.yml", "--no-echo", "--runs-dir", "cli", cwd=workdir)
    assert cli.returncode == 0, cli.stderr
    api = training_run("train.py", flags="f.yml", echo=False, runs_dir="api", check="no_hyphens" not in text)

    def recorded(run_dir: str) -> tuple[Any, Any, str]:
        meta = Path(run_dir, "tuner.d")
        got = next(line for line in (meta / "output.log").read_text().splitlines() if line.startswith("GOT"))
        return json.loads((meta / "run.json").read_text())["argv"], json.loads((meta / "flags.json").read_text()), got

    from tuner import ls_runs

    assert recorded(ls_runs(runs_dir="cli")["run_dir"].iloc[0]) == recorded(api["run_dir"].iloc[0])
    argv, flags, _ = recorded(api["run_dir"].iloc[0])
    assert flags["lr"] == 0.5 and "command" not in flags
    assert argv[:1] == (["lr=0.5"] if "no_hyphens" in text else ["--lr=0.5"])


def test_training_run_refuses_a_sweep_s_file_before_anything_is_written(workdir: Path,
                                                                       write_script: Callable[..., Path]) -> None:
    write_script("train.py", SCRIPT)
    (workdir / "grid.yml").write_text("lr: [0.1, 0.2]\n")
    with pytest.raises(FlagError, match="grid.yml: flag 'lr' has 2 values, so it is a sweep's flags file"):
        training_run("train.py", flags="grid.yml")
    assert sorted(p.name for p in workdir.iterdir()) == ["grid.yml", "train.py"]


def test_each_file_is_read_once_per_call(workdir: Path, write_script: Callable[..., Path],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing is kept between calls (no module state), and nothing is read twice within one: the CLI hands the
    value it read to the run, prepare_sweep reads a `tune sweep.yaml` once for its program, grid, settings and
    command."""
    import tuner.flagsfile as flagsfile
    from tuner.cli.main import main
    from tuner.sweep.prepare import prepare_sweep

    reads: list[str] = []
    real = flagsfile._read_yaml
    monkeypatch.setattr(flagsfile, "_read_yaml", lambda path: reads.append(path) or real(path))
    write_script("train.py", SCRIPT)
    (workdir / "one.yml").write_text('command: "${interpreter} ${program} ${args}"\nlr: [0.5]\n')
    assert main(["train.py", "--flags", "one.yml", "--no-echo"]) == 0
    assert reads == ["one.yml"]
    (workdir / "sweep.yaml").write_text(WANDB_FILE + "run_cap: 2\n")
    request = prepare_sweep("sweep.yaml", None)
    assert reads == ["one.yml", "sweep.yaml"]
    assert request.script.path == str(workdir / "train.py") and len(request.plan.indices) == 2
    assert request.metric == "loss" and request.template is not None and request.template.style == "wandb"
    again = prepare_sweep("train.py", "one.yml")  # a second call reads the file again: nothing was kept
    assert reads == ["one.yml", "sweep.yaml", "one.yml"] and again.template is not None


def test_a_flags_file_value_is_what_the_api_takes_too(workdir: Path, write_script: Callable[..., Path]) -> None:
    write_script("train.py", SCRIPT)
    (workdir / "one.yml").write_text("lr: [0.5]\n")
    file = read_flags_file("one.yml")
    assert isinstance(file, FlagsFile)
    row = training_run("train.py", flags=file.with_flags({"units": 16}), echo=False).iloc[0]
    assert (row["flag_lr"], row["flag_units"]) == (0.5, 16)


def test_an_unreadable_flags_file_is_the_error_each_caller_raised_before(workdir: Path,
                                                                       write_script: Callable[..., Path]) -> None:
    """One reader serves both: to a sweep its problems are GridErrors, to a single run FlagErrors (API callers
    catch either), with the same line the CLI prints."""
    write_script("train.py", SCRIPT)
    (workdir / "bad.yml").write_text("lr: [0.1, 0.2\n")
    with pytest.raises(GridError, match=r"bad.yml: YAML syntax error at line \d") as sweep_error:
        from tuner.sweep.prepare import prepare_sweep

        prepare_sweep("train.py", "bad.yml")
    with pytest.raises(FlagError) as run_error:
        training_run("train.py", flags="bad.yml")
    assert str(run_error.value) in str(sweep_error.value)
