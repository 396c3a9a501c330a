"""examples/digits_mlp: the README's Keras example, run as the README says."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, run_tune
from tests.examples import check_digits_run

pytestmark = pytest.mark.tensorflow
pytest.importorskip("keras")
pytest.importorskip("sklearn")



@pytest.fixture
def example(workdir: Path) -> Path:
    """The example's folder copied into a fresh working directory, so runs/ lands there."""
    shutil.copytree(REPO / "examples" / "digits_mlp", workdir / "examples" / "digits_mlp")
    return workdir


def test_one_run_of_the_example(example):
    result = run_tune("examples/digits_mlp/train.py", "--flag", "epochs=2", "--no-echo", cwd=example, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = [p for p in (example / "runs").iterdir() if (p / "tuner.d").is_dir()]
    evaluation = check_digits_run(run_dir, 2)
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
