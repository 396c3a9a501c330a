"""Filters and orders: pandas query syntax, and MLflow's search syntax translated to it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import run_tune
from synthetic_runs import make_run

from tuner import QueryError, ls_runs
from tuner.runs.query import column_name, parse_order, translate_filter

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.fixture
def runs(workdir: Path) -> Path:
    root = workdir / "runs"
    make_run(root, "2026-01-01T00-00-01Z", start=T0 + 1, flags={"dropout": 0.2, "units": 64, "optimizer": "Adam"},
             metrics=[{"val_acc": 0.95, "acc": 0.9}], tags={"team": "a"})
    make_run(root, "2026-01-01T00-00-02Z", start=T0 + 2, flags={"dropout": 0.3, "units": 128, "optimizer": "sgd"},
             metrics=[{"val_acc": 0.85, "acc": 0.99}], tags={"team": "b"})
    make_run(root, "2026-01-01T00-00-03Z", start=T0 + 3, status="failed", flags={"dropout": 0.2, "units": 32},
             metrics=[{"val_acc": 0.97}])
    make_run(root, "2026-01-02T00-00-04Z", start=T0 + 86_400, status="running",
             flags={"dropout": 0.5, "units": 64, "optimizer": "adamw"})
    return root


def names(frame) -> list[str]:
    return [os.path.basename(p) for p in frame["run_dir"]]


@pytest.mark.parametrize("mlflow, pandas", [
    ("metrics.val_acc > 0.9", "metric_val_acc > 0.9"),
    ("metrics.val_acc > 0.9 AND tags.team = 'a'", "metric_val_acc > 0.9 and tag_team == 'a'"),
    ("attributes.status = 'FINISHED'", "status == 'finished'"),
    ("params.dropout = '0.2'", "flag_dropout.isin([0.2, '0.2'])"),
    ("params.optimizer = 'adam'", "flag_optimizer == 'adam'"),
    ("metrics.`val acc` <= 1", "`metric_val acc` <= 1"),
    ("flag_dropout < 0.3 and metric_acc > 0.5", "flag_dropout < 0.3 and metric_acc > 0.5"),
])
def test_mlflow_filters_translate_to_pandas_queries(mlflow: str, pandas: str) -> None:
    assert translate_filter(mlflow).expression == pandas


@pytest.mark.parametrize("expr, expected", [
    ("metrics.val_acc > 0.9", ["2026-01-01T00-00-03Z", "2026-01-01T00-00-01Z"]),
    ("metrics.val_acc > 0.9 and params.dropout = '0.2' and tags.team = 'a' and attributes.status = 'finished'",
     ["2026-01-01T00-00-01Z"]),
    ("params.units = '64'", ["2026-01-02T00-00-04Z", "2026-01-01T00-00-01Z"]),
    ("params.dropout != '0.2'", ["2026-01-02T00-00-04Z", "2026-01-01T00-00-02Z"]),
    ("attributes.status = 'FAILED'", ["2026-01-01T00-00-03Z"]),
    ("attributes.status IN ('FAILED', 'RUNNING')", ["2026-01-02T00-00-04Z", "2026-01-01T00-00-03Z"]),
    ("params.optimizer LIKE 'adam%'", ["2026-01-02T00-00-04Z"]),
    ("params.optimizer ILIKE 'adam%'", ["2026-01-02T00-00-04Z", "2026-01-01T00-00-01Z"]),
    ("params.optimizer NOT LIKE 'adam%'", ["2026-01-01T00-00-02Z", "2026-01-01T00-00-01Z"]),
    ("params.optimizer IS NULL", ["2026-01-01T00-00-03Z"]),
    ("tags.team IS NOT NULL", ["2026-01-01T00-00-02Z", "2026-01-01T00-00-01Z"]),
    ("tags.team != 'a'", ["2026-01-01T00-00-02Z"]),
    ("params.units IN ('32', '128')", ["2026-01-01T00-00-03Z", "2026-01-01T00-00-02Z"]),
    ("params.units NOT IN ('32', '128')", ["2026-01-02T00-00-04Z", "2026-01-01T00-00-01Z"]),
    (f"attributes.start_time > {int((T0 + 3600) * 1000)}", ["2026-01-02T00-00-04Z"]),
    ("attributes.run_name LIKE '2026-01-01%' and metrics.acc >= 0.99", ["2026-01-01T00-00-02Z"]),
    ("metric_val_acc > 0.9 AND flag_units < 64", ["2026-01-01T00-00-03Z"]),
    ("flag_units in [32, 128] or tag_team == 'a'",
     ["2026-01-01T00-00-03Z", "2026-01-01T00-00-02Z", "2026-01-01T00-00-01Z"]),
])
def test_filters_select_the_runs_mlflow_would(runs: Path, expr: str, expected: list[str]) -> None:
    assert names(ls_runs(subset=expr)) == expected


def test_mlflow_and_pandas_syntax_select_the_same_runs(runs: Path) -> None:
    a = ls_runs("metrics.val_acc > 0.9 and params.units = '32'")
    b = ls_runs("metric_val_acc > 0.9 and flag_units == 32")
    assert names(a) == names(b) == ["2026-01-01T00-00-03Z"]


@pytest.mark.parametrize("expr, unknown, close", [
    ("metrics.val_accuracy > 0.9", "metric_val_accuracy", "metric_val_acc"),
    ("params.dropuot = '0.2'", "flag_dropuot", "flag_dropout"),
    ("metric_val_ac > 0.9", "metric_val_ac", "metric_val_acc"),
])
def test_unknown_columns_are_named_with_close_matches(runs: Path, expr: str, unknown: str, close: str) -> None:
    with pytest.raises(QueryError) as info:
        ls_runs(subset=expr)
    assert f"'{unknown}'" in str(info.value) and close in str(info.value)


@pytest.mark.parametrize("expr", ["metrics.acc >", "params.x LIKE 3", "metrics.acc IN 3", "metrics.acc $ 1",
                                  "tags.t IS 'a'"])
def test_malformed_filters_are_query_errors(runs: Path, expr: str) -> None:
    with pytest.raises(QueryError, match="example"):
        ls_runs(subset=expr)


def test_order_accepts_mlflow_direction_and_several_keys(runs: Path) -> None:
    assert names(ls_runs(order="metrics.acc DESC"))[:2] == ["2026-01-01T00-00-02Z", "2026-01-01T00-00-01Z"]
    assert names(ls_runs(order=["params.units ASC", "metrics.val_acc DESC"])) == [
        "2026-01-01T00-00-03Z", "2026-01-01T00-00-01Z", "2026-01-02T00-00-04Z", "2026-01-01T00-00-02Z"]
    assert names(ls_runs(order="flag_units", decreasing=False))[0] == "2026-01-01T00-00-03Z"
    with pytest.raises(QueryError, match="did you mean metric_acc"):
        ls_runs(order="metrics.acc_ DESC")


def test_order_keys_parse() -> None:
    assert parse_order("metrics.acc DESC, params.lr", decreasing=False) == (
        ["metric_acc", "flag_lr"], [False, True], {"metric_acc": "metrics.acc", "flag_lr": "params.lr"})
    assert column_name("attributes.status") == "status" and column_name("tags.team") == "tag_team"


def test_tune_ls_filters_orders_and_formats(runs: Path, workdir: Path) -> None:
    result = run_tune("ls", "--filter", "metrics.val_acc > 0.9", "--order", "params.units ASC",
                      "--columns", "run_dir,params.units,metrics.val_acc", "--format", "json", cwd=workdir)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["flag_units"] for r in rows] == [32, 64]
    assert set(rows[0]) == {"run_dir", "flag_units", "metric_val_acc"}
    latest = run_tune("ls", "--latest", "1", "--format", "csv", "--columns", "run_dir", cwd=workdir)
    assert latest.stdout.strip().splitlines()[1:] == [str(Path("runs") / "2026-01-02T00-00-04Z")]
    bad = run_tune("ls", "--filter", "metrics.val_accc > 1", cwd=workdir)
    assert bad.returncode == 2 and "did you mean metric_val_acc" in bad.stderr
