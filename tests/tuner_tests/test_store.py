"""The run store: unique run directories, the active run, metadata round trips, tolerant reading."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest

import tuner.tracking as store
from tuner import (
    TunerError,
    is_run_active,
    log_metrics,
    ls_runs,
    run_dir,
    unique_run_dir,
    write_run_metadata,
)
from tuner.store.files import read_run
from tuner.store.layout import ENV_RUN_DIR, RunPaths, run_dir_name
from workers.files import atomic_write_json, read_json_lines

# --- unique_run_dir --------------------------------------------------------------------------------------

def _claim(runs: str, scale: int, barrier, results) -> None:  # runs in a forked child
    barrier.wait()
    results.put(unique_run_dir(runs, seconds_scale=scale))


def _claim_all(runs: Path, processes: int, scale: int) -> list[str]:
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(processes), context.Queue()
    children = [context.Process(target=_claim, args=(str(runs), scale, barrier, results)) for _ in range(processes)]
    for child in children:
        child.start()
    paths = [results.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=30)
        assert child.exitcode == 0
    return paths


def test_twenty_processes_at_the_same_instant_get_twenty_directories(workdir: Path) -> None:
    paths = _claim_all(workdir / "runs", 20, scale=2)
    assert len(set(paths)) == 20
    assert sorted(os.listdir(workdir / "runs")) == sorted(os.path.basename(p) for p in paths)
    for path in paths:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{2}Z", os.path.basename(path))


def test_whole_second_names_are_unique_too(workdir: Path) -> None:
    paths = _claim_all(workdir / "runs", 2, scale=0)
    assert len(set(paths)) == 2
    for path in paths:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ", os.path.basename(path))


def test_run_dir_name_is_utc_with_truncated_fractions() -> None:
    when = 1_700_000_000.98765  # 2023-11-14T22:13:20.98765Z
    assert run_dir_name(when) == "2023-11-14T22-13-20Z"
    assert run_dir_name(when, 3) == "2023-11-14T22-13-20.987Z"


def test_sweep_ids_and_submission_ids_tell_the_time_in_utc_as_run_folders_do() -> None:
    """Submission ids were local time and sweep ids UTC (issue 31): a submission made at 09:00 in India named
    03:30 its sweep. Both come from store.layout.id_stamp now; here in a process whose zone is UTC+5:30."""
    import subprocess
    import sys

    code = ("import json, time; from tuner.store.layout import id_stamp, run_dir_name; "
            "from tuner.store.journal import new_sweep_id; from tuner.cli.submissions import new_submission_id; "
            "before = id_stamp(); ids = [new_sweep_id(), new_submission_id()]; after = id_stamp(); "
            "print(json.dumps([before, ids, after, id_stamp(1_700_000_000.5), run_dir_name(1_700_000_000.5), "
            "time.strftime('%H', time.localtime(1_700_000_000))]))")
    env = {**os.environ, "TZ": "IST-5:30", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    before, (sweep, submission), after, fixed, folder, local_hour = json.loads(out)
    assert local_hour == "03"  # the zone took: 22:13 UTC is 03:43 there
    assert fixed == "20231114-221320" and folder == "2023-11-14T22-13-20Z"
    assert before <= sweep[:15] <= after and before <= submission[5:20] <= after
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", sweep) and re.fullmatch(r"tune-\d{8}-\d{6}-[0-9a-f]{4}", submission)


def test_unique_run_dir_uses_the_settings_runs_dir(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNER_RUNS_DIR", "elsewhere")
    path = unique_run_dir(seconds_scale=3)
    assert os.path.dirname(path) == "elsewhere" and os.path.isdir(path)


def test_unique_run_dir_rejects_bad_scales_and_a_file_as_runs_dir(workdir: Path) -> None:
    with pytest.raises(TunerError, match="seconds_scale must be an integer 0..6"):
        unique_run_dir("runs", seconds_scale=9)
    (workdir / "runs").write_text("")
    with pytest.raises(TunerError, match="runs directory 'runs' is a file"):
        unique_run_dir("runs")


# --- the active run --------------------------------------------------------------------------------------

def test_run_dir_is_the_active_run_else_the_working_directory(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not is_run_active() and run_dir() == str(workdir)
    monkeypatch.setenv(ENV_RUN_DIR, str(workdir / "runs" / "x"))
    assert is_run_active() and run_dir() == str(workdir / "runs" / "x")


# --- write_run_metadata ----------------------------------------------------------------------------------

@pytest.fixture
def run(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An active run directory, as the runner hands it to a script."""
    path = Path(unique_run_dir(workdir / "runs", seconds_scale=3))
    os.makedirs(RunPaths(str(path)).meta)
    atomic_write_json(RunPaths(str(path)).run_json, {"status": "finished", "start": 1.0, "end": 2.0})
    monkeypatch.setenv(ENV_RUN_DIR, str(path))
    monkeypatch.setattr(store, "_step_counters", {})
    return path


def meta(run: Path, name: str):
    return json.loads((run / "tuner.d" / name).read_text())


def test_mappings_round_trip_and_properties_evaluation_merge(run: Path) -> None:
    write_run_metadata("flags", {"lr": 0.1, "units": 64})
    write_run_metadata("properties", {"epochs": 10})
    write_run_metadata("properties", {"model": "mlp"})
    write_run_metadata("evaluation", {"loss": 0.3})
    write_run_metadata("evaluation", {"acc": 0.9})
    write_run_metadata("error", {"message": "oops", "traceback": None})
    data = read_run(str(run))
    assert data.flags == {"lr": 0.1, "units": 64}
    assert data.properties == {"epochs": 10, "model": "mlp"}
    assert data.evaluation == {"loss": 0.3, "acc": 0.9}
    assert data.error == {"message": "oops", "traceback": None}
    assert not [p for p in os.listdir(run / "tuner.d") if p.startswith(".tmp")]


def test_an_explicit_run_dir_needs_no_active_run(workdir: Path) -> None:
    target = workdir / "somewhere"
    write_run_metadata("evaluation", {"acc": 1.0}, run_dir=str(target))
    assert meta(target, "evaluation.json") == {"acc": 1.0}


def test_metrics_from_a_mapping_of_columns_with_none_for_future_epochs(run: Path) -> None:
    write_run_metadata("metrics", {"epoch": [1, 2, 3, 4], "loss": [0.9, 0.5, None, None],
                                   "acc": [0.5, 0.7, None, None]})
    rows, bad = read_json_lines(str(run / "tuner.d" / "metrics.jsonl"))
    assert bad == 0 and [r["step"] for r in rows] == [1, 2, 3, 4]
    assert rows[2]["loss"] is None and all("timestamp" in r for r in rows)
    (row,) = ls_runs(runs_dir=str(run.parent)).to_dict("records")
    assert row["metric_loss"] == 0.5 and row["metric_acc"] == 0.7 and row["epochs_completed"] == 2


def test_metrics_from_a_data_frame_with_nan_and_no_step_column(run: Path) -> None:
    frame = pd.DataFrame({"loss": [0.9, 0.4, math.nan], "val_loss": [1.0, math.nan, math.nan]})
    write_run_metadata("metrics", frame)
    rows, _ = read_json_lines(str(run / "tuner.d" / "metrics.jsonl"))
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert rows[1]["val_loss"] is None and rows[2]["loss"] is None
    (row,) = ls_runs(runs_dir=str(run.parent)).to_dict("records")
    # last non-null value of each metric, not the value of the last step
    assert row["metric_loss"] == 0.4 and row["metric_val_loss"] == 1.0 and row["epochs_completed"] == 2


def test_the_last_value_of_each_metric_skips_gaps_and_steps_without_values() -> None:
    from tuner.runs.aggregate import last_values

    rows = [{"step": 1, "timestamp": 1.0, "loss": 0.9, "acc": 0.5}, {"step": 2, "loss": None, "acc": 0.6},
            {"step": 3, "timestamp": 3.0}, {"step": 4, "epoch": 4, "loss": 0.2}, {"step": 5, "acc": None}]
    last, completed = last_values(rows)
    assert list(last.items()) == [("loss", 0.2), ("acc", 0.6)] and completed == 3


def test_metrics_with_columns_of_different_lengths_are_refused(run: Path) -> None:
    with pytest.raises(TunerError, match=r"different lengths \[1, 2\]"):
        write_run_metadata("metrics", {"loss": [0.1, 0.2], "acc": [0.5]})
    with pytest.raises(TunerError, match="expected a DataFrame or a mapping"):
        write_run_metadata("metrics", [0.1, 0.2])


def test_log_metrics_appends_steps(run: Path) -> None:
    log_metrics(loss=0.9)
    log_metrics(loss=0.5, acc=float("nan"))
    log_metrics(epoch=10, loss=0.1)
    rows, _ = read_json_lines(str(run / "tuner.d" / "metrics.jsonl"))
    assert [(r["step"], r["loss"]) for r in rows] == [(1, 0.9), (2, 0.5), (10, 0.1)]
    assert rows[1]["acc"] == "nan" and "epoch" not in rows[2]  # kept, as text: the file stays plain JSON
    log_metrics(step=11, loss=0.05)
    assert read_json_lines(str(run / "tuner.d" / "metrics.jsonl"))[0][-1]["step"] == 11


def test_a_torn_last_line_of_metrics_is_skipped(run: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = run / "tuner.d" / "metrics.jsonl"
    path.write_text('{"step": 1, "loss": 0.9}\n{"step": 2, "loss": 0.5}\n{"step": 3, "lo')
    data = read_run(str(run))
    assert [m["loss"] for m in data.metrics] == [0.9, 0.5] and data.problems == []
    (row,) = ls_runs(runs_dir=str(run.parent)).to_dict("records")
    assert row["metric_loss"] == 0.5 and row["epochs_completed"] == 2
    assert not [r for r in caplog.records if "metrics" in r.getMessage()]


def test_sources_snapshot_a_folder(run: Path, workdir: Path) -> None:
    code = workdir / "code"
    (code / "pkg").mkdir(parents=True)
    (code / "train.py").write_text("print(1)\n")
    (code / "pkg" / "model.py").write_text("x = 1\n")
    (code / "data.bin").write_bytes(b"\0" * 10)
    write_run_metadata("sources", str(code))
    source = run / "tuner.d" / "source"
    assert sorted(p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()) == [
        "pkg/model.py", "train.py"]


def test_custom_types_receive_the_metadata_folder(run: Path) -> None:
    seen = []

    def write_confusion(folder: str) -> None:
        seen.append(folder)
        Path(folder, "confusion.csv").write_text("a,b\n1,2\n")

    write_run_metadata("confusion", write_confusion)
    assert seen == [str(run / "tuner.d")]
    assert (run / "tuner.d" / "confusion.csv").read_text() == "a,b\n1,2\n"


def test_an_unknown_type_without_a_callable_is_an_error(run: Path) -> None:
    with pytest.raises(TunerError, match="unknown type 'confusion' needs a callable.*known types: .*evaluation"):
        write_run_metadata("confusion", {"a": 1})


def test_a_known_type_with_the_wrong_data_is_an_error(run: Path) -> None:
    with pytest.raises(TunerError, match="expected a mapping, got list"):
        write_run_metadata("evaluation", [1, 2])


def test_outside_a_run_metadata_calls_do_nothing_and_warn_once(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "_warned_inactive", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_run_metadata("evaluation", {"acc": 1.0})
        log_metrics(loss=0.3)
        write_run_metadata("properties", {"a": 1})
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "no active run" in messages[0]
    assert list(workdir.iterdir()) == []


# --- atomic writes ---------------------------------------------------------------------------------------

def test_a_failed_json_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "run.json"
    atomic_write_json(str(path), {"status": "running"})

    def crash(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_json(str(path), {"status": "finished"})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"status": "running"}
    assert os.listdir(tmp_path) == ["run.json"]


def test_json_never_holds_nan(tmp_path: Path) -> None:
    path = tmp_path / "e.json"
    atomic_write_json(str(path), {"loss": float("nan"), "acc": float("inf"), "ok": 1.5})
    assert json.loads(path.read_text()) == {"loss": None, "acc": None, "ok": 1.5}


def test_paths_are_named_in_one_place(tmp_path: Path) -> None:
    paths = RunPaths(str(tmp_path / "r"))
    assert paths.run_json.endswith(os.path.join("r", "tuner.d", "run.json"))
    assert not paths.is_run()
    os.makedirs(paths.meta)
    assert paths.is_run() and paths.name == "r"


def test_metrics_columns_may_be_arrays_series_or_single_values(run: Path) -> None:
    import numpy as np

    write_run_metadata("metrics", {"loss": np.array([0.5, 0.25]), "acc": pd.Series([0.1, 0.2]), "lr": (0.1, 0.1)})
    rows, _ = read_json_lines(str(run / "tuner.d" / "metrics.jsonl"))
    assert [(r["step"], r["loss"], r["acc"], r["lr"]) for r in rows] == [(1, 0.5, 0.1, 0.1), (2, 0.25, 0.2, 0.1)]
    write_run_metadata("metrics", {"loss": 0.3, "name": "final"})
    rows, _ = read_json_lines(str(run / "tuner.d" / "metrics.jsonl"))
    assert rows == [{"step": 1, "loss": 0.3, "name": "final", "timestamp": rows[0]["timestamp"]}]


def _claim_labelled(runs: str, label: str, barrier, results) -> None:  # runs in a forked child
    barrier.wait()
    results.put(unique_run_dir(runs, label=label))


def test_labelled_names_take_the_second_then_the_label_and_never_wait(workdir: Path) -> None:
    """A sweep's trial runs are `<second>Z-<trial>`: ten processes claiming the same label at once all get a
    folder in the same second or the next (no waiting a tick), the losers `-2`, `-3` ... after it."""
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(10), context.Queue()
    children = [context.Process(target=_claim_labelled, args=(str(workdir / "runs"), "07", barrier, results))
                for _ in range(10)]
    for child in children:
        child.start()
    paths = [os.path.basename(results.get(timeout=60)) for _ in children]
    for child in children:
        child.join(timeout=30)
    assert len(set(paths)) == 10
    for name in paths:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ-07(-\d+)?", name), name
    seconds = {name.split("Z-")[0] for name in paths}
    assert len(seconds) <= 2  # nobody waited for a later second


def test_labelled_names_sort_by_second_then_trial_and_bad_labels_are_refused(workdir: Path) -> None:
    names = ["2026-12-07T20-15-17Z", "2026-12-07T20-15-17Z-03", "2026-12-07T20-15-17Z-03-2",
             "2026-12-07T20-15-17Z-10", "2026-12-07T20-15-18Z-00"]
    assert sorted(reversed(names)) == names
    for bad in ("", "-1", "a/b", "..", "x y"):
        with pytest.raises(TunerError, match="label must be"):
            unique_run_dir("runs", label=bad)
    assert not (workdir / "runs").exists() or not [p for p in (workdir / "runs").iterdir() if not p.name.startswith(".")]
