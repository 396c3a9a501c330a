"""The README's set-up commands, run verbatim: the main job in a fresh virtual environment, and the test
command checked against what CI runs (running it here would run this test again)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.examples import check_digits_run

REPO = Path(__file__).resolve().parents[2]


def setup_commands() -> list[str]:
    """The fenced bash commands of the README's "Set up" section, in order."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    commands = [block.strip() for block in blocks]
    assert len(commands) == 2 and all("\n" not in c for c in commands), commands
    return commands


def steps(command: str) -> list[str]:
    return [step.strip() for step in command.split("&&")]


def test_the_readme_has_the_main_job_and_the_test_command() -> None:
    main_job, tests = setup_commands()
    assert steps(main_job)[:2] == ["python3 -m venv .venv", ". .venv/bin/activate"]
    assert steps(main_job)[2] in ("pip install .", 'pip install ".[tensorflow]"')
    assert steps(main_job)[3].startswith("tune ")
    assert steps(tests)[:2] == ["python3 -m venv .venv", ". .venv/bin/activate"]


def test_ci_runs_the_readmes_test_command() -> None:
    _, tests = setup_commands()
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    ci = [re.sub(r" -q\b", "", line) for line in ci_lines]
    # CI makes its own venv (.venv-ci) and activates it, then runs the README's remaining steps, in order
    assert any(re.fullmatch(r"python3 -m venv \.venv-ci", line) for line in ci)
    assert ". .venv-ci/bin/activate" in ci
    remaining = steps(tests)[2:]
    assert remaining == ['pip install -e ".[test,tensorflow,mlflow,search,cluster]"', "python -m pytest"]
    positions = [ci.index(step) for step in remaining]
    assert positions == sorted(positions) and positions[-1] == len(ci) - 1


def _source_files() -> list[str]:
    """What a fresh clone holds: tracked files plus untracked ones git does not ignore (a work in progress)."""
    done = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                          text=True)
    assert done.returncode == 0, f"the end-to-end test copies a git checkout: {done.stderr}"
    return [f for f in done.stdout.splitlines() if (REPO / f).exists() or (REPO / f).is_symlink()]


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_main_job_runs_verbatim_in_a_fresh_venv(tmp_path: Path) -> None:
    main_job, _ = setup_commands()
    checkout = tmp_path / "checkout"
    for name in _source_files():
        target = checkout / name
        target.parent.mkdir(parents=True, exist_ok=True)
        source = REPO / name
        if source.is_symlink():
            os.symlink(os.readlink(source), target)
        else:
            shutil.copy2(source, target)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TUNER_", "VIRTUAL_ENV", "PYTHON", "PIP_TARGET", "RAY_"))}
    # pip byte-compiles every installed module (TensorFlow's thousands: ~30 s of this test's install on 2 cores);
    # Python compiles what the sweep imports anyway, so the commands are checked the same without it
    env["PIP_COMPILE"] = "0"
    # the shell must find the system python3, not the one of the venv running these tests
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    done = subprocess.run(["bash", "-c", main_job], cwd=checkout, env=env, capture_output=True, text=True,
                          timeout=1700, stdin=subprocess.DEVNULL)
    output = (done.stdout + done.stderr)[-6000:]
    assert done.returncode == 0, output
    # what the sweep promises (this is the only test that runs it: it takes a minute of TensorFlow)
    assert "9 combinations of flags, sampled 3" in done.stdout and "best val_accuracy:" in done.stdout, output
    runs = sorted(p for p in (checkout / "runs").iterdir() if (p / "tuner.d").is_dir())
    assert len(runs) == 3, output
    pairs = set()
    for run_dir in runs:
        evaluation = check_digits_run(run_dir, 12)
        assert evaluation["accuracy"] > 0.8
        values = json.loads((run_dir / "tuner.d" / "flags.json").read_text())
        pairs.add((values["dropout1"], values["dropout2"]))
    assert len(pairs) == 3  # three different combinations of the grid
    # Ray's own `tune` script must not shadow ours in the environment the README made
    tune = checkout / ".venv" / "bin" / "tune"
    helped = subprocess.run([str(tune), "--help"], cwd=checkout, env=env, capture_output=True, text=True,
                            timeout=120)
    assert helped.returncode == 0 and "python -m tuner" in helped.stdout, helped.stdout + helped.stderr
    sweep_id = done.stdout.split("sweep ")[-1].split(":")[0]
    shown = subprocess.run([str(tune), "tensorboard", sweep_id, "--no-hparams"], cwd=checkout, env=env,
                           capture_output=True, text=True, timeout=120)  # the scalars command alone
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("tensorboard --logdir_spec trial")
    assert shown.stdout.count(os.sep + "tensorboard") == 3


def tour() -> tuple[list[str], str]:
    """The README's short tour: its shell commands (comments dropped) and its Python block."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## A short tour", 1)[1].split("\n## ", 1)[0]
    bash = re.findall(r"```bash\n(.*?)```", section, flags=re.S)[0]
    python = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    commands = [re.sub(r"\s+#\s.*$", "", line).strip() for line in bash.splitlines() if line.strip()]
    return commands, python


@pytest.mark.slow
@pytest.mark.ray
def test_the_short_tour_runs_verbatim_from_a_copy_of_the_repository(tmp_path: Path) -> None:
    import shlex

    shutil.copytree(REPO / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("runs", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUNER_", "RAY_"))}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    commands, python = tour()
    assert commands[0].startswith("tune ") and len(commands) >= 4
    for command in commands:
        done = subprocess.run(shlex.split(command), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
    done = subprocess.run([sys.executable, "-c", python + "\nprint('rows', len(df))"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "rows 2" in done.stdout, done.stderr[-2000:]
    runs = [p for p in (tmp_path / "runs").iterdir() if (p / "tuner.d").is_dir()]
    assert len(runs) == 1 + 1 + 4 + 2  # a run, a run with flags, half of 8, half of 4
