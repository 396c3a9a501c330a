"""The sweep summary names the best run even without --metric, by the metric Keras/tfruns scripts record."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from tuner.cli.sweeps import _print_result
from tuner.store.status import TrialCounts, TrialState
from tuner.sweep import SweepResult


def result(frame: pd.DataFrame) -> SweepResult:
    return SweepResult(sweep_id="s", frame=frame, counts=TrialCounts.of([TrialState.FINISHED] * len(frame)),
                       interrupted=False, summary_csv="runs/sweeps/s/summary.csv")


@pytest.mark.parametrize("columns, expected", [
    ({"metric_val_accuracy": [0.9, 0.95], "metric_loss": [0.1, 0.2]}, "best val_accuracy: 0.95 in b"),
    ({"metric_val_loss": [0.3, 0.2]}, "best val_loss: 0.2 in b"),  # loss: lower is better
    ({"eval_acc": [0.99, 0.5]}, "best acc: 0.99 in a"),
])
def test_best_run_without_metric(capsys, columns, expected):
    frame = pd.DataFrame({"run_dir": ["a", "b"], "trial": [0, 1], "status": "finished", **columns})
    request = SimpleNamespace(metric=None, mode="max", quiet=False)
    assert _print_result(result(frame), request) == 0
    assert expected in capsys.readouterr().out


def test_no_known_metric_prints_no_best(capsys):
    frame = pd.DataFrame({"run_dir": ["a"], "trial": [0], "status": "finished", "metric_f1": [0.5]})
    _print_result(result(frame), SimpleNamespace(metric=None, mode="max", quiet=False))
    assert "best" not in capsys.readouterr().out
