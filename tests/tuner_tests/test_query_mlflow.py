"""Filters and orders: pandas-style expressions, and MLflow's search syntax parsed into the same trees."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from conftest import run_tune
from synthetic_runs import make_run

from tuner import QueryError, ls_runs
from tuner.runs.listing import sort_runs
from tuner.runs.query import column_name, parse_filter, parse_order

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
    ("params.dropout = '0.2'", "flag_dropout in [0.2, '0.2']"),
    ("params.dropout != '0.2'", "flag_dropout not in [0.2, '0.2']"),
    ("params.optimizer != 'adam'", "flag_optimizer is not null and flag_optimizer != 'adam'"),
    ("tags.team <> 'a'", "tag_team is not null and tag_team != 'a'"),
    ("attributes.status IN ('FAILED', 'Running')", "status in ['failed', 'running']"),
    ("params.optimizer = 'adam'", "flag_optimizer == 'adam'"),
    ("metrics.`val acc` <= 1", "`metric_val acc` <= 1"),
    ("flag_dropout < 0.3 and metric_acc > 0.5", "flag_dropout < 0.3 and metric_acc > 0.5"),
])
def test_mlflow_filters_parse_to_the_trees_of_pandas_filters(mlflow: str, pandas: str) -> None:
    assert str(parse_filter(mlflow)) == pandas
    assert parse_filter(pandas).tree == parse_filter(mlflow).tree


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
    ("metric_val_ac > 0.9", "metric_val_ac", "metric_val_acc"),  # pandas syntax names columns: a typo is an error
    ("attributes.statuss = 'FINISHED'", "statuss", "status"),    # so is an attribute, which every run has
])
def test_unknown_columns_are_named_with_close_matches(runs: Path, expr: str, unknown: str, close: str) -> None:
    with pytest.raises(QueryError) as info:
        ls_runs(subset=expr)
    assert f"'{unknown}'" in str(info.value) and close in str(info.value)


@pytest.mark.parametrize("expr, close", [
    ("metrics.val_accuracy > 0.9", "metrics.val_acc"),
    ("params.dropuot = '0.2'", "params.dropout"),
    ("tags.teem = 'a'", "tags.team"),
    ("tags.owner = 'a'", None),
    ("metrics.val_accuracy != 0.9", "metrics.val_acc"),
])
def test_an_unknown_metric_param_or_tag_matches_nothing_with_a_warning(runs: Path, expr: str, close: str | None,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # MLflow: a key no run has matches no run (it is not an error); here also a warning with the closest key
    assert ls_runs(subset=expr).empty
    warning = capsys.readouterr().err
    assert f"no run has {expr.split()[0]}, so it matches nothing" in warning
    assert (f"did you mean {close}?" in warning) if close else ("did you mean" not in warning)
    rest = ls_runs(subset="metrics.val_acc > 0")
    assert len(rest) == 3 and len(ls_runs(subset=f"{expr} or metrics.val_acc > 0")) == 3  # the rest still applies


@pytest.mark.parametrize("expr, says", [
    ("metrics.val_acc > '0.9'", "metrics.val_acc is a number: compare it with a number"),
    ("metrics.val_acc IN ('0.9')", "metrics.val_acc is a number"),
    ("metrics.val_acc LIKE '0.9%'", "LIKE compares text"),
    ("tags.team = 3", "tags.team is text: quote the value (tags.team = '3')"),
    ("tags.team IN (1, 2)", "tags.team is text"),
])
def test_comparing_a_metric_with_text_or_a_tag_with_a_number_is_an_error(runs: Path, expr: str, says: str) -> None:
    with pytest.raises(QueryError, match=re.escape(says)):
        ls_runs(subset=expr)


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
    with pytest.raises(QueryError, match="did you mean start"):
        ls_runs(order="attributes.startt DESC")  # an attribute every run has: a typo


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
    typo = run_tune("ls", "--filter", "metrics.val_accc > 1", cwd=workdir)
    assert typo.returncode == 0 and "No runs" in typo.stdout
    assert typo.stderr.strip() == ("tune: warning: no run has metrics.val_accc, so it matches nothing; "
                                   "did you mean metrics.val_acc?")
    bad = run_tune("ls", "--filter", "metric_val_accc > 1", cwd=workdir)
    assert bad.returncode == 2 and "did you mean metric_val_acc" in bad.stderr


R1, R2, R3, R4 = "2026-01-01T00-00-01Z", "2026-01-01T00-00-02Z", "2026-01-01T00-00-03Z", "2026-01-02T00-00-04Z"


def test_ties_are_broken_by_the_newest_start_and_missing_values_come_last_both_ways(runs: Path) -> None:
    assert names(ls_runs(order="params.units ASC")) == [R3, R4, R1, R2]  # R4 and R1 both have 64: newest first
    for scrambled in ([0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]):  # whatever order the rows came in
        frame = ls_runs(order="run_dir", decreasing=False).iloc[scrambled]
        assert names(sort_runs(frame, "params.units ASC", decreasing=True)) == [R3, R4, R1, R2]
    # runs without the metric last, whatever the direction (as MLflow orders them), newest first among them
    assert names(ls_runs(order="metrics.acc ASC")) == [R1, R2, R4, R3]
    assert names(ls_runs(order="metrics.acc DESC")) == [R2, R1, R4, R3]


def test_ordering_by_a_key_no_run_has_warns_and_keeps_the_natural_order(runs: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert names(ls_runs(order="metrics.accc DESC")) == [R4, R3, R2, R1]
    assert "no run has metrics.accc, so it orders nothing; did you mean metrics.acc?" in capsys.readouterr().err


@pytest.mark.parametrize("order, says", [
    ("metrics.acc ", "trailing space after 'metrics.acc'"),
    ("metrics.acc DOWN", "unknown direction 'DOWN' (ASC or DESC)"),
    ("metrics.acc DESC ASC", "is not KEY [ASC|DESC]"),
    ("metrics.acc,", "an empty key"),
])
def test_malformed_order_keys_are_refused_with_one_line(runs: Path, workdir: Path, order: str, says: str) -> None:
    with pytest.raises(QueryError, match=re.escape(says)):
        ls_runs(order=order)
    done = run_tune("ls", "--order", order, cwd=workdir)
    assert done.returncode == 2 and says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
