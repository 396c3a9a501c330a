"""examples/quickstart: a sweep over its grid has something to find. learning_rate matters (validation accuracy
from about 0.65 to 0.90), l2 does not (the same accuracy at both values), and the README tour's filter keeps some
runs and drops others."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, run_tune
from tuner import ls_runs, training_run
from tuner.yamlfile import load


@pytest.fixture
def example(workdir: Path) -> Path:
    shutil.copytree(REPO / "examples" / "quickstart", workdir / "examples" / "quickstart")
    return workdir


def test_learning_rate_matters_and_l2_does_not(example: Path) -> None:
    grid = load((example / "examples" / "quickstart" / "grid.yml").read_text())
    assert len(grid["learning_rate"]) >= 3 and len(grid["l2"]) == 2
    accuracy: dict[tuple[float, float], float] = {}
    for lr in (min(grid["learning_rate"]), 1.0):
        for l2 in grid["l2"]:
            frame = training_run("examples/quickstart/train.py", flags={"learning_rate": lr, "l2": l2}, echo=False)
            accuracy[lr, l2] = float(frame["metric_val_acc"].iloc[0])
    slow, good = min(grid["learning_rate"]), 1.0
    for l2 in grid["l2"]:
        assert accuracy[good, l2] - accuracy[slow, l2] > 0.15, accuracy  # the step size decides the result
    for lr in (slow, good):
        assert abs(accuracy[lr, grid["l2"][0]] - accuracy[lr, grid["l2"][1]]) < 0.005, accuracy  # l2 does not
    # `tune ls --order metric_val_acc`: the learning rate sorts the runs, whatever l2 is
    listed = ls_runs(order="metric_val_acc")
    assert list(listed["flag_learning_rate"]) == [good, good, slow, slow]


def test_the_tours_filter_keeps_some_runs_and_drops_others(example: Path) -> None:
    """The README tour's first two runs (the defaults; learning_rate 0.01 for 5 epochs) fall on either side of
    its filter, so it shows what a filter does whatever the sweep's sample is."""
    tour = (REPO / "README.md").read_text().split("## A short tour", 1)[1]
    expression = tour.split('tune ls --filter "', 1)[1].split('"', 1)[0]
    assert run_tune("examples/quickstart/train.py", "--no-echo", cwd=example).returncode == 0
    assert run_tune("examples/quickstart/train.py", "--flag", "learning_rate=0.01", "--flag", "epochs=5", "--no-echo",
                    cwd=example).returncode == 0
    kept = ls_runs(subset=expression)
    assert len(kept) == 1 and kept["flag_learning_rate"].iloc[0] == 0.1, (expression, ls_runs()["metric_val_acc"])
