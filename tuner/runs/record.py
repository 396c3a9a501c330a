"""get_run: one run as MLflow / W&B users expect a run record (config, summary, history, tags, artifacts)."""

from __future__ import annotations

import datetime as _dt
import os
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tuner.errors import TunerError
from tuner.runs.aggregate import effective_status, last_values, run_row
from tuner.runs.resolve import latest_run_dir, resolve_run_dir
from tuner.settings import load_settings
from tuner.store.files import RunData, read_run, update_tags
from tuner.store.layout import RunPaths, iter_artifacts
from tuner.store.status import RunStatus
from workers.files import read_json_lines


@dataclass(frozen=True)
class Artifact:
    """A file the run wrote (logged) or declared as an input with use_artifact (used)."""

    name: str      # path relative to the run directory (logged) or the name given (used)
    path: str      # absolute path
    size: int
    sha256: str


def _utc(stamp: Any) -> _dt.datetime | None:
    if not isinstance(stamp, (int, float)) or isinstance(stamp, bool):
        return None
    return _dt.datetime.fromtimestamp(float(stamp), tz=_dt.timezone.utc)


class RunRecord:
    """A run's record, read when created (`refresh()` reads it again); tags are the only editable part.

    MLflow's `run.data.params/metrics/tags` and W&B's `run.config/summary/history()` map to `config`,
    `summary`, `history()`, `metric_history(key)` and `tags` here.
    """

    def __init__(self, run_dir: str, stale_after_s: float = 60.0) -> None:
        self.run_dir = run_dir
        self.paths = RunPaths(run_dir)
        self.stale_after_s = stale_after_s
        self._data: RunData = read_run(run_dir)

    def __repr__(self) -> str:
        return f"RunRecord({self.name!r}, status={self.status!r})"

    def _repr_html_(self) -> str:  # Jupyter
        from tuner.notebook import run_html

        return run_html(self)

    def refresh(self) -> "RunRecord":
        self._data = read_run(self.run_dir)
        return self

    # identity -------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.paths.name

    id = name

    @property
    def run(self) -> dict[str, Any]:
        """run.json as read (identity and lifecycle)."""
        return dict(self._data.run)

    @property
    def status(self) -> str:
        """finished, failed, killed, timeout, running, or lost (running with a stale heartbeat)."""
        return effective_status(self._data.run, time.time(), self.stale_after_s)

    @property
    def is_active(self) -> bool:
        return self.status == RunStatus.RUNNING.value

    user = property(lambda self: self._data.run.get("user"))
    host = property(lambda self: self._data.run.get("host"))
    job_type = property(lambda self: self._data.run.get("job_type"))
    script = property(lambda self: self._data.run.get("script"))
    argv = property(lambda self: list(self._data.run.get("argv") or []))
    git = property(lambda self: dict(self._data.run.get("git") or {}))
    sweep = property(lambda self: self._data.run.get("sweep"))

    # times ----------------------------------------------------------------------------------------
    @property
    def created_at(self) -> _dt.datetime | None:
        return _utc(self._data.run.get("start"))

    @property
    def heartbeat_at(self) -> _dt.datetime | None:
        return _utc(self._data.run.get("heartbeat"))

    @property
    def ended_at(self) -> _dt.datetime | None:
        return _utc(self._data.run.get("end"))

    @property
    def runtime(self) -> float | None:
        """Seconds from start to end; for an active run, so far; for a lost run, to its last heartbeat."""
        run = self._data.run
        start = run.get("start")
        if not isinstance(start, (int, float)):
            return None
        end = run.get("end")
        if isinstance(end, (int, float)):
            return float(end) - float(start)
        if self.status == RunStatus.RUNNING.value:
            return time.time() - float(start)
        beat = run.get("heartbeat")
        return float(beat) - float(start) if isinstance(beat, (int, float)) else None

    # values ---------------------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        """The flags the run used (typed)."""
        return dict(self._data.flags)

    params = config

    @property
    def evaluation(self) -> dict[str, Any]:
        return dict(self._data.evaluation)

    @property
    def properties(self) -> dict[str, Any]:
        return dict(self._data.properties)

    @property
    def error(self) -> dict[str, Any]:
        return dict(self._data.error)

    @property
    def summary(self) -> dict[str, Any]:
        """The last value of each metric, then the evaluation (which wins where a name is in both)."""
        last, _ = last_values(self._data.metrics)
        return {**last, **self._data.evaluation}

    def history(self) -> pd.DataFrame:
        """Every logged step: columns step, timestamp and one per metric (NaN where a step lacks it)."""
        if not self._data.metrics:
            return pd.DataFrame({"step": pd.Series(dtype="float64"), "timestamp": pd.Series(dtype="float64")})
        frame = pd.DataFrame.from_records(self._data.metrics)
        first = [c for c in ("step", "timestamp") if c in frame.columns]
        return frame[first + [c for c in frame.columns if c not in first]]

    def metric_history(self, key: str) -> pd.DataFrame:
        """One metric's steps with a value: columns step, timestamp, value (MLflow's get_metric_history)."""
        rows = [{"step": r.get("step"), "timestamp": r.get("timestamp"), "value": r[key]}
                for r in self._data.metrics if r.get(key) is not None]
        if not rows:
            known = sorted({k for r in self._data.metrics for k in r if k not in ("step", "timestamp")})
            if key not in known:
                raise TunerError(f"run {self.name}: no metric '{key}'; metrics: {', '.join(known) or 'none'}")
        return pd.DataFrame.from_records(rows, columns=["step", "timestamp", "value"])

    @property
    def row(self) -> dict[str, Any]:
        """The run's ls_runs row."""
        return run_row(self._data, time.time(), self.stale_after_s)

    # tags -----------------------------------------------------------------------------------------
    @property
    def tags(self) -> dict[str, str]:
        return {str(k): v for k, v in self._data.tags.items()}

    def set_tag(self, key: str, value: Any) -> None:
        """Set (or replace) a tag; values are stored as strings. Tags stay editable after the run."""
        self._data.tags = update_tags(self.run_dir, {key: value})

    def set_tags(self, tags: dict[str, Any]) -> None:
        self._data.tags = update_tags(self.run_dir, tags)

    def delete_tag(self, key: str) -> None:
        self._data.tags = update_tags(self.run_dir, delete=(key,))

    # artifacts ------------------------------------------------------------------------------------
    @property
    def logged_artifacts(self) -> list[Artifact]:
        """Files the run wrote into its directory (everything but its metadata), hashed when asked for."""
        from tuner.capture.artifacts import sha256_file

        found = []
        for rel, size in iter_artifacts(self.paths):
            path = os.path.join(self.run_dir, rel)
            found.append(Artifact(rel, os.path.abspath(path), size, sha256_file(path)))
        return found

    @property
    def used_artifacts(self) -> list[Artifact]:
        """Inputs the script declared with use_artifact(path), with their hashes at the time of use."""
        records, _ = read_json_lines(self.paths.used_artifacts_jsonl)
        return [Artifact(str(r.get("name")), str(r.get("path")), int(r.get("size") or 0), str(r.get("sha256")))
                for r in records if r.get("sha256")]


def get_run(run: Any = None, runs_dir: str | None = None) -> RunRecord:
    """The record of a run given by name, unique prefix, path or ls_runs row (default: the latest run)."""
    settings = load_settings(runs_dir=runs_dir)
    path = latest_run_dir(settings.runs_dir) if run is None else resolve_run_dir(run, settings.runs_dir)
    return RunRecord(path, settings.stale_after_s)
