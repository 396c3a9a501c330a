"""examples/digits_mlp: the README's Keras example, run as the README says."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, run_tune

pytestmark = pytest.mark.tensorflow
pytest.importorskip("keras")
pytest.importorskip("sklearn")

README_SWEEP = "tune examples/digits_mlp/train.py --flags examples/digits_mlp/grid.yml --sample 0.3"


@pytest.fixture
def example(workdir: Path) -> Path:
    """The example's folder copied into a fresh working directory, so runs/ lands there."""
    shutil.copytree(REPO / "examples" / "digits_mlp", workdir / "examples" / "digits_mlp")
    return workdir


def check_run(run_dir: Path, epochs: int) -> dict:
    meta = run_dir / "tuner.d"
    metrics = [json.loads(line) for line in (meta / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == list(range(1, epochs + 1))
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(metrics[-1])
    evaluation = json.loads((meta / "evaluation.json").read_text())
    properties = json.loads((meta / "properties.json").read_text())
    assert properties["epochs"] == epochs and properties["optimizer"] == "Adam"
    assert list((run_dir / "tensorboard").rglob("events.out.tfevents*"))
    return evaluation


def test_one_run_of_the_example(example):
    result = run_tune("examples/digits_mlp/train.py", "--flag", "epochs=2", "--no-echo", cwd=example, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = [p for p in (example / "runs").iterdir() if (p / "tuner.d").is_dir()]
    evaluation = check_run(run_dir, 2)
    assert 0.5 < evaluation["accuracy"] <= 1.0


def test_an_undeclared_flag_fails_before_tensorflow_loads(example):
    # issue 11: the script's flags are found (tuner.flags() stops discovery before TensorFlow is imported) and the
    # misspelt one is rejected before anything is written: exit 2 naming the closest flag (was: a failed run)
    result = run_tune("examples/digits_mlp/train.py", "--flag", "dropout3=0.1", "--no-echo", cwd=example)
    assert result.returncode == 2
    assert "dropout3" in result.stderr and "did you mean 'dropout2'" in result.stderr
    assert not list((example / "runs").glob("*/tuner.d"))
    # with --no-check the script itself says so, in a recorded failed run
    result = run_tune("examples/digits_mlp/train.py", "--flag", "dropout3=0.1", "--no-echo", "--no-check", cwd=example)
    assert result.returncode == 1
    (error,) = (example / "runs").glob("*/tuner.d/error.json")
    assert "dropout3" in json.loads(error.read_text())["message"]


@pytest.mark.slow
@pytest.mark.ray
def test_the_readme_sweep_command_verbatim(example):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert README_SWEEP in readme
    args = README_SWEEP.split()[1:]
    result = run_tune(*args, cwd=example, timeout=600, stdin="")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "9 combinations of flags, sampled 3" in result.stdout
    assert "best val_accuracy:" in result.stdout
    runs = sorted(p for p in (example / "runs").iterdir() if (p / "tuner.d").is_dir())
    assert len(runs) == 3
    flags = set()
    for run_dir in runs:
        evaluation = check_run(run_dir, 12)
        assert evaluation["accuracy"] > 0.8
        values = json.loads((run_dir / "tuner.d" / "flags.json").read_text())
        flags.add((values["dropout1"], values["dropout2"]))
    assert len(flags) == 3
    sweep_id = result.stdout.split("sweep ")[-1].split(":")[0]
    shown = run_tune("tensorboard", sweep_id, "--no-hparams", cwd=example)  # the scalars command alone
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("tensorboard --logdir_spec trial")
    assert shown.stdout.count(os.sep + "tensorboard") == 3
