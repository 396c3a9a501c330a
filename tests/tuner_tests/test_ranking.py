"""One owner of "better" and "best" (tuner.runs.ranking): the sweep's summary, `tune report` and tuning_run's
frame rank the same way, and only finished runs can be best."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest

from tuner import tuning_run
from tuner.cli.sweeps import _print_result
from tuner.errors import QueryError
from tuner.report.data import sweep_data
from tuner.runs.ranking import Ranking, choose_ranking, metric_direction
from tuner.store.status import TrialCounts
from tuner.sweep import SweepResult

LOW = ["val_mse", "loss", "val_loss", "error", "test_error", "mae", "rmse", "val_rmse", "perplexity", "val_ppl",
       "logloss", "nll", "wer", "metric_val_mse", "eval_mae"]
HIGH = ["val_acc", "accuracy", "f1", "auc", "val_auc", "r2", "precision", "recall", "reward", "bleu", "map"]
NOT_FINISHED = ["failed", "killed", "timeout", "lost", "running", "queued"]


@pytest.mark.parametrize("name", LOW)
def test_losses_errors_and_distances_are_better_low(name: str) -> None:
    assert metric_direction(name) == "min"


@pytest.mark.parametrize("name", HIGH)
def test_scores_are_better_high(name: str) -> None:
    assert metric_direction(name) == "max"


def _frame(metric: str, values: list[float], statuses: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"run_dir": [f"runs/r{i}" for i in range(len(values))], "trial": list(range(len(values))),
                         "status": statuses, f"metric_{metric}": values})


def _summary_best(frame: pd.DataFrame, metric: str | None, capsys: pytest.CaptureFixture[str]) -> str:
    result = SweepResult(sweep_id="s", frame=frame, counts=TrialCounts.planned_only(len(frame)), interrupted=False,
                         summary_csv="summary.csv", metric=metric, mode=None)
    _print_result(result, SimpleNamespace(metric=metric, mode=None, quiet=False))
    lines = [line for line in capsys.readouterr().out.splitlines() if "best" in line]
    assert len(lines) == 1, lines
    return lines[0]


def _report_best(frame: pd.DataFrame, metric: str | None) -> list[str]:
    data = sweep_data(frame, "s", metric, [None] * len(frame))
    return [frame["run_dir"].iloc[i] for i in data["best"]]


@pytest.mark.parametrize("metric", ["val_mse", "loss", "error", "mae", "rmse", "perplexity"])
def test_summary_and_report_agree_that_low_is_better(metric: str, capsys: pytest.CaptureFixture[str]) -> None:
    frame = _frame(metric, [0.5, 0.1, 0.3], ["finished"] * 3)
    assert _summary_best(frame, metric, capsys) == f"best {metric}: 0.1 in runs/r1"
    assert _report_best(frame, metric) == ["runs/r1", "runs/r2", "runs/r0"]
    assert sweep_data(frame, "s", metric, [None] * 3)["mode"] == "min"


@pytest.mark.parametrize("status", NOT_FINISHED)
def test_a_run_that_did_not_finish_is_never_best(status: str, capsys: pytest.CaptureFixture[str]) -> None:
    frame = _frame("val_acc", [0.99, 0.7, 0.8], [status, "finished", "finished"])
    assert _summary_best(frame, "val_acc", capsys) == "best val_acc: 0.8 in runs/r2"
    assert _report_best(frame, "val_acc") == ["runs/r2", "runs/r1"]  # not starred, not sorted to the top


def test_nothing_finished_means_no_best_said_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    frame = _frame("val_acc", [0.95, 0.9], ["failed", "timeout"])
    assert _summary_best(frame, "val_acc", capsys) == "no best val_acc: no finished run recorded it"
    assert _report_best(frame, "val_acc") == []
    assert Ranking("val_acc", "metric_val_acc", "max").best(frame.to_dict("records")) is None


def test_infinite_values_rank_and_nan_is_no_value() -> None:
    ranking = Ranking("loss", "metric_loss", "min")
    rows = [{"status": "finished", "metric_loss": math.nan}, {"status": "finished", "metric_loss": math.inf},
            {"status": "finished", "metric_loss": 2.0}]
    assert ranking.order(rows) == [2, 1]


def test_an_unknown_metric_names_the_closest_recorded_one() -> None:
    with pytest.raises(QueryError, match="metric 'val_accc' is not recorded.*did you mean val_acc"):
        choose_ranking(["metric_val_acc", "metric_loss"], "val_accc")


@pytest.mark.ray
@pytest.mark.slow
def test_tuning_run_names_the_best_finished_run_and_never_a_failed_one(ray_cluster, workdir, write_script) -> None:
    # trial x=3 prints the best val_mse of all, then fails; with --retries 1 it fails twice
    write_script("train.py", """
        import argparse, sys
        p = argparse.ArgumentParser(); p.add_argument("--x", type=int); x = p.parse_args().x
        print(f"val_mse: {1.0 / (x + 1):.4f}")
        sys.exit(1 if x == 3 else 0)
    """)
    frame = tuning_run("train.py", {"x": [0, 1, 2, 3]}, metric="val_mse", retries=1, confirm=False, quiet=True)
    assert frame.attrs["mode"] == "min"
    best = frame[frame["run_dir"] == frame.attrs["best_run"]].iloc[0]
    assert (best["flag_x"], best["status"]) == (2, "finished")
    assert set(frame[frame["flag_x"] == 3]["status"]) == {"failed"}


@pytest.mark.ray
@pytest.mark.slow
def test_tuning_run_with_nothing_finished_has_no_best(ray_cluster, workdir, write_script) -> None:
    write_script("train.py", """
        print("val_acc: 0.95")
        raise SystemExit(2)
    """)
    frame = tuning_run("train.py", {"x": [1, 2]}, max_failures=2, confirm=False, quiet=True)
    assert frame.attrs["best_run"] is None
    assert set(frame["status"]) == {"failed"}
