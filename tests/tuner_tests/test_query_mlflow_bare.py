"""MLflow's search syntax as MLflow users type it: bare attribute names, MLflow's spellings, status values in
any case, AND/OR/NOT right before a parenthesis."""

from __future__ import annotations

from pathlib import Path

import pytest
from fabricate_runs import BASE_TIME, make_run

from tuner import ls_runs


@pytest.fixture
def runs(workdir: Path) -> list[str]:
    return [make_run("runs", i, {"lr": lr}, {"val_acc": [acc]}, status=status)
            for i, (lr, acc, status) in enumerate([(0.1, 0.8, "finished"), (0.2, 0.9, "failed"),
                                                   (0.3, 0.95, "finished")])]


def _names(frame) -> list[str]:
    return sorted(Path(p).name for p in frame["run_dir"])


def _name(path: str) -> str:
    return Path(path).name


def test_bare_status_in_any_case(runs):
    assert _names(ls_runs(subset="status = 'FAILED'")) == [_name(runs[1])]
    assert _names(ls_runs(subset="attributes.status = 'Finished'")) == sorted(_name(r) for r in (runs[0], runs[2]))


def test_bare_run_name_and_run_id_and_mlflow_spelling(runs):
    name = _name(runs[2])
    assert _names(ls_runs(subset=f"run_name = '{name}'")) == [name]
    assert _names(ls_runs(subset=f"run_id = '{name}'")) == [name]
    assert _names(ls_runs(subset=f"attributes.`Run name` LIKE '{name[:-6]}%'")) == [name]


def test_bare_start_time_in_epoch_milliseconds(runs):
    second = int((BASE_TIME + 7) * 1000)  # make_run starts run i at BASE_TIME + 7 i seconds
    assert _names(ls_runs(subset=f"start_time >= {second}")) == sorted(_name(r) for r in runs[1:])
    assert _names(ls_runs(subset=f"attributes.Created < {second}")) == [_name(runs[0])]


@pytest.mark.parametrize("word", ["AND", "and", "And"])
def test_keywords_in_any_case_right_before_a_parenthesis(runs, word):
    chosen = ls_runs(subset=f"metrics.val_acc > 0.85 {word}(params.lr < 0.25 OR(params.lr > 0.25))")
    assert _names(chosen) == sorted(_name(r) for r in runs[1:])
    assert _names(ls_runs(subset="NOT(metrics.val_acc > 0.85)")) == [_name(runs[0])]
