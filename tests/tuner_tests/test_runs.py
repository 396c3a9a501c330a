"""ls_runs, latest_run and run_info over run directories written the way the runner writes them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tuner import (
    QueryError,
    RunNotFoundError,
    latest_run,
    ls_runs,
    run_info,
    write_run_metadata,
)
from tuner.store.layout import RunPaths
from workers.files import atomic_write_json

NOW = time.time()


def make_run(runs: Path, name: str, *, start: float, status: str = "finished", flags: dict | None = None,
             metrics: dict | None = None, evaluation: dict | None = None, error: dict | None = None,
             **record: Any) -> str:
    run_dir = str(runs / name)
    paths = RunPaths(run_dir)
    Path(paths.meta).mkdir(parents=True)
    end = None if status == "running" else start + 10
    atomic_write_json(paths.run_json, {"status": status, "start": start, "end": end, "heartbeat": end or start,
                                       "exit_code": 0 if status == "finished" else 1, **record})
    for kind, data in (("flags", flags), ("metrics", metrics), ("evaluation", evaluation), ("error", error)):
        if data is not None:
            write_run_metadata(kind, data, run_dir=run_dir)
    return run_dir


@pytest.fixture
def three_runs(workdir: Path) -> list[str]:
    runs = workdir / "runs"
    return [
        make_run(runs, "2026-01-01T00-00-01Z", start=NOW - 300, flags={"lr": 0.1, "units": 64},
                 metrics={"loss": [0.9, 0.5], "val_acc": [0.6, 0.8]}, evaluation={"acc": 0.8}),
        make_run(runs, "2026-01-01T00-00-02Z", start=NOW - 200, flags={"lr": 0.01, "units": 128},
                 metrics={"loss": [0.9, 0.3, None], "val_acc": [0.7, 0.95, None]}, evaluation={"acc": 0.95}),
        make_run(runs, "2026-01-01T00-00-03Z", start=NOW - 100, status="failed", flags={"lr": 1.0, "units": 64},
                 metrics={"loss": [2.0]}, error={"message": "ValueError: diverged", "traceback": "Traceback ..."}),
    ]


def names(frame: pd.DataFrame) -> list[str]:
    return [Path(p).name[-3:-1] for p in frame["run_dir"]]


def test_columns_and_values(three_runs: list[str]) -> None:
    frame = ls_runs()
    for column in ("run_dir", "status", "completed", "start", "end", "flag_lr", "flag_units", "metric_loss",
                   "metric_val_acc", "eval_acc", "epochs_completed", "error_message", "duration_s"):
        assert column in frame.columns, column
    assert frame.columns[0] == "run_dir"
    prefixed = [c for c in frame.columns if c.startswith(("eval_", "metric_", "flag_"))]
    assert prefixed == ["eval_acc", "metric_loss", "metric_val_acc", "flag_lr", "flag_units"]
    assert str(frame["start"].dtype) == "datetime64[ns, UTC]" or str(frame["start"].dtype).endswith(", UTC]")
    second = frame.set_index(frame["run_dir"].map(lambda p: Path(p).name))
    row = second.loc["2026-01-01T00-00-02Z"]
    assert row["metric_loss"] == 0.3 and row["metric_val_acc"] == 0.95 and row["epochs_completed"] == 2
    assert row["status"] == "finished" and row["completed"] == True  # noqa: E712
    assert row["duration_s"] == pytest.approx(10)
    failed = second.loc["2026-01-01T00-00-03Z"]
    assert failed["status"] == "failed" and failed["completed"] == False  # noqa: E712
    assert failed["error_message"] == "ValueError: diverged" and pd.isna(failed["eval_acc"])


def test_default_order_is_newest_first(three_runs: list[str]) -> None:
    assert names(ls_runs()) == ["03", "02", "01"]
    assert names(ls_runs(decreasing=False)) == ["01", "02", "03"]


def test_order_by_a_metric_with_missing_values_last(three_runs: list[str], workdir: Path) -> None:
    make_run(workdir / "runs", "2026-01-01T00-00-04Z", start=NOW - 50, flags={"lr": 0.5, "units": 1})
    assert names(ls_runs(order="metric_val_acc")) == ["02", "01", "04", "03"]
    assert names(ls_runs(order="metric_val_acc", decreasing=False)) == ["01", "02", "04", "03"]
    assert names(ls_runs(order=["flag_units", "flag_lr"], decreasing=False))[:3] == ["04", "01", "03"]


def test_subset_is_a_pandas_query(three_runs: list[str]) -> None:
    assert names(ls_runs("metric_val_acc > 0.9")) == ["02"]
    assert names(ls_runs("flag_units == 64 and status == 'finished'")) == ["01"]
    assert names(ls_runs("completed == False")) == ["03"]
    assert list(ls_runs("metric_loss > 100").columns) == list(ls_runs().columns)
    assert ls_runs("metric_loss > 100").empty


def test_subset_and_order_errors_name_the_column(three_runs: list[str]) -> None:
    with pytest.raises(QueryError, match="unknown column 'metric_val_ac'; did you mean metric_val_acc"):
        ls_runs("metric_val_ac > 0.9")
    with pytest.raises(QueryError, match="unknown column 'flag_unit'; did you mean flag_units"):
        ls_runs(order="flag_unit")
    with pytest.raises(QueryError, match="does not parse"):
        ls_runs("metric_loss >")


def test_latest_n_keeps_the_newest_runs(three_runs: list[str]) -> None:
    assert names(ls_runs(latest_n=2)) == ["03", "02"]
    assert names(ls_runs(latest_n=2, order="metric_loss", decreasing=False)) == ["02", "03"]
    with pytest.raises(QueryError, match="latest_n must be a positive integer"):
        ls_runs(latest_n=0)


def test_runs_dir_argument_and_setting(three_runs: list[str], workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = workdir / "other"
    make_run(other, "2026-02-01T00-00-00Z", start=NOW)
    assert len(ls_runs(runs_dir=str(other))) == 1
    monkeypatch.setenv("TUNER_RUNS_DIR", str(other))
    assert len(ls_runs()) == 1


def test_folders_without_tuner_d_and_the_archive_are_not_runs(three_runs: list[str], workdir: Path) -> None:
    (workdir / "runs" / "notes").mkdir()
    make_run(workdir / "runs" / "archive", "2025-01-01T00-00-00Z", start=NOW - 999)
    (workdir / "runs" / "archive" / "tuner.d").mkdir()
    assert len(ls_runs()) == 3


def test_no_runs_is_an_empty_frame_with_the_core_columns(workdir: Path) -> None:
    for frame in (ls_runs(), ls_runs(subset="metric_acc > 0.5", order="metric_acc", latest_n=3)):
        assert frame.empty
        assert list(frame.columns) == ["run_dir", "status", "completed", "start", "end"]
    assert latest_run() is None


def test_a_running_run_with_a_stale_heartbeat_is_lost(workdir: Path) -> None:
    now = time.time()  # not NOW: the suite may have run for minutes since this module was imported
    make_run(workdir / "runs", "2026-01-01T00-00-01Z", start=now - 3600, status="running")
    make_run(workdir / "runs", "2026-01-01T00-00-02Z", start=now, status="running")
    assert list(ls_runs()["status"]) == ["running", "lost"]


def test_unreadable_metadata_warns_and_the_run_is_still_listed(three_runs: list[str],
                                                               caplog: pytest.LogCaptureFixture) -> None:
    Path(three_runs[0], "tuner.d", "evaluation.json").write_text("{torn")
    frame = ls_runs()
    assert [r.levelname for r in caplog.records if "evaluation.json: unreadable" in r.getMessage()] == ["WARNING"]
    assert len(frame) == 3


def test_latest_run_and_run_info_by_path_name_and_row(three_runs: list[str]) -> None:
    latest = latest_run()
    assert latest is not None and latest["status"] == "failed"
    assert Path(latest["run_dir"]).resolve() == Path(three_runs[2]).resolve()
    by_path = run_info(three_runs[1])
    by_name = run_info("2026-01-01T00-00-02Z")
    frame = ls_runs("flag_units == 128")
    by_row = run_info(frame.iloc[0])
    by_frame = run_info(frame)
    for info in (by_name, by_row, by_frame):
        assert Path(info["run_dir"]).resolve() == Path(by_path["run_dir"]).resolve()
    metrics = by_path["metrics"]
    assert list(metrics["loss"])[:2] == [0.9, 0.3] and len(metrics) == 3
    assert by_path["output_log"].endswith("output.log") and by_path["flag_lr"] == 0.01


def test_run_info_errors(three_runs: list[str], workdir: Path) -> None:
    with pytest.raises(RunNotFoundError, match="run 'nope' not found"):
        run_info("nope")
    (workdir / "plain").mkdir()
    with pytest.raises(RunNotFoundError, match="is a folder but not a run"):
        run_info(str(workdir / "plain"))
    with pytest.raises(RunNotFoundError, match="expected one run, got a data frame of 3 rows"):
        run_info(ls_runs())
