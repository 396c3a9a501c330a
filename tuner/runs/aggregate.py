"""Run directories -> one pandas DataFrame: the only way from runs to a table (ls_runs, tuning_run, summaries)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, Iterable

from tuner import channel
from tuner.store.files import RunData, read_run
from tuner.store.status import RunStatus

if TYPE_CHECKING:  # pandas is imported where a frame is made: `tune ls` prints its table without it
    import pandas as pd

#: always present, even when there are no runs
CORE_COLUMNS = ["run_dir", "status", "completed", "start", "end"]
#: fixed columns after the prefixed groups, in this order when present
TAIL_COLUMNS = ["epochs", "epochs_completed", "duration_s", "script", "sweep", "trial", "attempt", "exit_code",
                "error_message", "error_traceback", "job_type", "host", "user", "gpu_ids", "git_commit",
                "git_branch", "git_dirty", "script_sha256", "start", "end", "status", "completed"]
PREFIXES = ("eval_", "metric_", "flag_")
DEFAULT_STALE_AFTER_S = 60.0

log = channel.logger(__name__)


def effective_status(run: dict[str, Any], now: float, stale_after_s: float) -> str:
    """`running` with a heartbeat older than `stale_after_s` means the driver died: the run is `lost`."""
    status = run.get("status")
    if status is None:
        return RunStatus.LOST.value if run else "unknown"
    if status == RunStatus.RUNNING.value:
        beat = run.get("heartbeat") or run.get("start")
        if not isinstance(beat, (int, float)) or now - beat > stale_after_s:
            return RunStatus.LOST.value
    return str(status)


def is_volatile(run: dict[str, Any]) -> bool:
    """Whether run_row's output depends on the time of listing: status running (-> lost when the heartbeat is
    stale) and durations without an end. The listing index reads such runs again every time."""
    status = run.get("status")
    return not run or status in (None, RunStatus.RUNNING.value) or not isinstance(run.get("end"), (int, float))


_NOT_METRICS = frozenset({"step", "timestamp", "epoch"})


def last_values(metrics: list[dict[str, Any]]) -> tuple[dict[str, Any], int]:
    """Last value of each metric (NaN and inf included: the latest value is what MLflow shows too; None is "no
    value at this step"), and the number of steps with at least one value."""
    last: dict[str, Any] = {}
    completed = 0
    for row in metrics:
        if None not in row.values():  # the usual row: every value counts (dict.update in C; step etc. dropped below)
            last.update(row)
            completed += not row.keys() <= _NOT_METRICS
            continue
        seen = False
        for key, value in row.items():
            if value is None or key in _NOT_METRICS:
                continue
            last[key] = value
            seen = True
        completed += seen
    for key in _NOT_METRICS:
        last.pop(key, None)
    return last, completed


def run_row(data: RunData, now: float | None = None, stale_after_s: float = DEFAULT_STALE_AFTER_S) -> dict[str, Any]:
    """One flat row (`flag_*`, `metric_*`, `eval_*` ...) of one run; missing pieces are simply absent."""
    run = data.run
    now = time.time() if now is None else now
    status = effective_status(run, now, stale_after_s)
    row: dict[str, Any] = {"run_dir": data.paths.run_dir, "status": status,
                           "completed": status == RunStatus.FINISHED.value,
                           "start": run.get("start"), "end": run.get("end")}
    for key, value in data.evaluation.items():
        row[f"eval_{key}"] = value
    last, completed = last_values(data.metrics)
    for key, value in last.items():
        row[f"metric_{key}"] = value
    for key, value in data.flags.items():
        row[f"flag_{key}"] = value
    row["epochs_completed"] = completed
    if "epochs" in data.properties:
        row["epochs"] = data.properties["epochs"]
    start, end = run.get("start"), run.get("end")
    if isinstance(start, (int, float)):
        stop = end if isinstance(end, (int, float)) else (run.get("heartbeat") or now)
        row["duration_s"] = float(stop) - float(start)
    for key in ("script", "sweep", "trial", "attempt", "exit_code", "job_type", "host", "user", "script_sha256"):
        if run.get(key) is not None:
            row[key] = run[key]
    if isinstance(row.get("script"), str):
        row["script"] = os.path.basename(row["script"])
    resources = run.get("resources") or {}
    if resources.get("gpu_ids"):
        row["gpu_ids"] = ",".join(str(g) for g in resources["gpu_ids"])
    git = run.get("git") or {}
    if git:
        row["git_commit"], row["git_branch"], row["git_dirty"] = git.get("commit"), git.get("branch"), git.get("dirty")
    if data.error:
        row["error_message"] = data.error.get("message")
        trace = data.error.get("traceback")
        row["error_traceback"] = "\n".join(trace) if isinstance(trace, list) else trace
    for key, value in data.properties.items():
        if key not in row and isinstance(value, (str, int, float, bool)):
            row[key] = value
    for key, value in data.tags.items():
        row[f"tag_{key}"] = value
    return row


def ordered_columns(columns: Iterable[str]) -> list[str]:
    """run_dir, the prefixed groups (sorted), other columns (sorted, so the order never depends on which run
    came first), then the fixed tail."""
    present = list(dict.fromkeys(columns))
    ordered = ["run_dir"]
    for prefix in PREFIXES:
        ordered += sorted(c for c in present if c.startswith(prefix))
    tail = [c for c in TAIL_COLUMNS if c in present and c not in ordered]
    rest = sorted(c for c in present if c not in ordered and c not in tail)
    return ordered + rest + tail


def empty_frame() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({c: pd.Series(dtype="datetime64[ns, UTC]" if c in ("start", "end") else "object")
                         for c in CORE_COLUMNS})


def finish_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The stable column order and UTC timestamps for start/end, on a frame of run_row rows."""
    import pandas as pd

    order = ordered_columns(frame.columns)
    if list(frame.columns) != order:
        frame = frame[order]  # a copy of every column
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(pd.to_numeric(frame[column], errors="coerce"), unit="s", utc=True)
    return frame


def runs_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows -> DataFrame with a stable column order and UTC timestamps for start/end."""
    if not rows:
        return empty_frame()
    import pandas as pd

    return finish_frame(pd.DataFrame.from_records(rows))


def read_rows(run_dirs: Iterable[str], stale_after_s: float = DEFAULT_STALE_AFTER_S) -> list[dict[str, Any]]:
    """Read each run tolerantly; unreadable metadata becomes a warning, never an exception."""
    now = time.time()
    rows = []
    for run_dir in run_dirs:
        data = read_run(run_dir)
        for problem in data.problems:
            log.warning("%s; the run is listed with what is readable", problem)
        rows.append(run_row(data, now, stale_after_s))
    return rows
