"""get_run: config, summary, history, times, tags and artifacts of a real recorded run."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from pathlib import Path

import pytest
from synthetic_runs import make_run

from tuner import (
    RunNotFoundError,
    TunerError,
    get_run,
    ls_runs,
    training_run,
    use_artifact,
)

SCRIPT = """
import argparse
from tuner import log_metrics, use_artifact, write_run_metadata
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--units", type=int, default=8)
args = parser.parse_args()
with open(use_artifact("data/train.csv")) as handle:
    rows = handle.read()
use_artifact("data", name="dataset")
for step in range(1, 4):
    log_metrics(step=step, loss=1.0 / step, val_acc=0.5 + step / 10)
log_metrics(step=4, loss=0.2)
write_run_metadata("evaluation", {"val_acc": 0.88, "test_acc": 0.87})
with open("model.bin", "wb") as handle:
    handle.write(b"weights" * 10)
"""


@pytest.fixture
def recorded(workdir: Path, write_script) -> str:
    (workdir / "data").mkdir()
    (workdir / "data" / "train.csv").write_text("x,y\n1,2\n")
    write_script("train.py", SCRIPT)
    frame = training_run("train.py", flags={"lr": 0.01, "units": 16}, echo=False)
    return frame["run_dir"].iloc[0]


def test_a_run_record_has_config_summary_history_and_times(recorded: str) -> None:
    run = get_run()
    assert run.run_dir == recorded and run.status == "finished"
    assert run.config == {"lr": 0.01, "units": 16}
    assert run.summary == {"loss": 0.2, "val_acc": 0.88, "test_acc": 0.87}  # evaluation wins over the last step
    history = run.history()
    assert list(history.columns[:2]) == ["step", "timestamp"] and list(history["step"]) == [1, 2, 3, 4]
    assert history["val_acc"].isna().tolist() == [False, False, False, True]
    assert run.metric_history("val_acc")["value"].round(3).tolist() == [0.6, 0.7, 0.8]
    assert run.created_at.tzinfo is dt.timezone.utc and run.heartbeat_at >= run.created_at
    assert 0 < run.runtime < 60
    assert run.job_type == "training" and run.host and run.user is not None
    with pytest.raises(TunerError, match="metrics: loss, val_acc"):
        run.metric_history("acc")


def test_logged_and_used_artifacts_carry_sha256(recorded: str, workdir: Path) -> None:
    run = get_run(recorded)
    logged = {a.name: a for a in run.logged_artifacts}
    assert "model.bin" in logged and not any(name.startswith("tuner.d") for name in logged)
    assert logged["model.bin"].sha256 == hashlib.sha256(b"weights" * 10).hexdigest()
    assert logged["model.bin"].size == 70
    used = {a.name: a for a in run.used_artifacts}
    assert used["train.csv"].sha256 == hashlib.sha256(b"x,y\n1,2\n").hexdigest()
    assert used["train.csv"].path == str(workdir / "data" / "train.csv")
    assert len(used["dataset"].sha256) == 64 and used["dataset"].size == 8


def test_tags_are_editable_after_the_run_and_survive_a_relisting(recorded: str) -> None:
    run = get_run(recorded)
    run_json = Path(recorded, "tuner.d", "run.json").read_bytes()
    run.set_tag("team", "vision")
    run.set_tag("stage", 2)
    assert get_run(recorded).tags == {"team": "vision", "stage": "2"}
    assert ls_runs("tags.team = 'vision'")["run_dir"].tolist() == [recorded]
    run.delete_tag("team")
    assert get_run(recorded).tags == {"stage": "2"}
    assert "tag_team" not in ls_runs().columns
    assert Path(recorded, "tuner.d", "run.json").read_bytes() == run_json  # immutable metadata untouched
    with pytest.raises(TunerError, match="no tag 'team'"):
        run.delete_tag("team")
    with pytest.raises(TunerError, match="tag key"):
        run.set_tag("bad\nkey", "x")
    with pytest.raises(TunerError, match="expected a string or a number"):
        run.set_tag("k", ["a"])


def test_an_active_run_reports_runtime_so_far(workdir: Path) -> None:
    make_run(workdir / "runs", "2026-01-01T00-00-01Z", status="running", start=time.time() - 5)
    run = get_run("2026-01-01T00-00-01Z")
    assert run.status == "running" and run.is_active
    assert 5 <= run.runtime < 30
    run.set_tag("note", "still going")  # tags can be set while it runs
    assert json.loads(Path(run.paths.tags_json).read_text()) == {"note": "still going"}


def test_get_run_errors_name_the_problem(workdir: Path) -> None:
    with pytest.raises(RunNotFoundError, match="no runs in"):
        get_run()
    with pytest.raises(RunNotFoundError, match="not found"):
        get_run("2026-01-01T00-00-00Z")


def test_use_artifact_outside_a_run_records_nothing_and_missing_inputs_fail(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tuner.tracking

    monkeypatch.setattr(tuner.tracking, "_warned_inactive", False)  # the warning is given once per process
    (workdir / "a.txt").write_text("a")
    with pytest.warns(RuntimeWarning, match="no active run"):
        assert use_artifact("a.txt") == "a.txt"
    assert not (workdir / "tuner.d").exists()
    with pytest.raises(TunerError, match="does not exist"):
        use_artifact("missing.csv")
