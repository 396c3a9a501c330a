"""A sweep's runs as read back from the runs directory: which trials are done, and in what state."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from tuner.store.status import RunStatus

#: trial states that are not run statuses: no run yet, or an earlier finished run reused (--skip-done)
PENDING = "pending"
SKIPPED = "skipped"


def _normal(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and math.isfinite(float(value)):
        return float(value)
    return value


def _combo_key(combo: Mapping[str, Any], names: Sequence[str]) -> tuple[Any, ...]:
    return tuple(_normal(combo.get(n)) for n in names)


def runs_table(runs_dir: str, stale_after_s: float) -> pd.DataFrame:
    """Every run of the runs directory, read through the listing index: one pass, stat-only when nothing changed."""
    from tuner.runs.index import indexed_frame

    return indexed_frame(runs_dir, stale_after_s)


def sweep_rows(table: pd.DataFrame, sweep_id: str) -> pd.DataFrame:
    """The runs of one sweep (all attempts), by trial, with only the columns they fill (no flag columns of
    unrelated runs in the same runs directory) and integer `trial`/`attempt`."""
    if table.empty or "sweep" not in table:
        return table.iloc[0:0]
    rows = table[table["sweep"].astype(str) == str(sweep_id)]
    return own_columns(rows.sort_values(["trial", "attempt"] if "attempt" in rows else ["trial"], kind="stable",
                                        na_position="last").reset_index(drop=True)) if len(rows) else rows


#: kept even when every row leaves them empty
_KEEP = ("run_dir", "status", "completed", "start", "end", "sweep", "trial")


def own_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop the columns that no row fills (they came from other runs), and make `trial`/`attempt` integers."""
    if frame.empty:
        return frame
    empty = [c for c in frame.columns if c not in _KEEP and frame[c].isna().all()]
    frame = frame.drop(columns=empty)
    for column in ("trial", "attempt"):
        if column in frame:
            values = pd.to_numeric(frame[column], errors="coerce")
            if values.notna().all() and (values % 1 == 0).all():
                frame[column] = values.astype("int64")
            elif ((values.dropna() % 1) == 0).all():
                frame[column] = values.astype("Int64")
    return frame


@dataclass(frozen=True)
class TrialCounts:
    """A sweep's trials (not attempts) by state: every reader counts them with this one function."""

    planned: int
    finished: int = 0
    failed: int = 0  # failed or timed out (after its retries)
    interrupted: int = 0  # killed or lost: Ctrl-C, a dead driver or node; rerun by resume
    stopped: int = 0  # ended early by the stopping rule (--stop): over, not a failure
    paused: int = 0  # paused at a rung by --stop hyperband (may be promoted when the sweep goes on)
    running: int = 0
    pending: int = 0  # not run yet (or queued)
    skipped: int = 0  # reused finished runs (--skip-done)

    def describe(self) -> str:
        """`4 finished, 3 failed, 2 interrupted, 1 pending of 10 trials` (finished and failed always shown)."""
        parts = [f"{self.finished} finished", f"{self.failed} failed"]
        parts += [f"{n} {word}" for n, word in ((self.stopped, "stopped early"), (self.paused, "paused"),
                                                (self.interrupted, "interrupted"),
                                                (self.running, "running"),
                                                (self.pending, "pending"), (self.skipped, "skipped (already done)"))
                  if n]
        return f"{', '.join(parts)} of {self.planned} trial{'s' if self.planned != 1 else ''}"


def count_trials(statuses: Iterable[str | None]) -> TrialCounts:
    """Trial states (as trial_statuses gives them, None = pending) -> TrialCounts."""
    values = list(statuses)
    counts = dict(finished=0, failed=0, interrupted=0, stopped=0, paused=0, running=0, pending=0, skipped=0)
    for value in values:
        status = RunStatus.parse(value)
        if value == SKIPPED:
            counts["skipped"] += 1
        elif status is None or status is RunStatus.QUEUED:
            counts["pending"] += 1
        elif status.is_finished():
            counts["finished"] += 1
        elif status is RunStatus.STOPPED:
            counts["stopped"] += 1
        elif status is RunStatus.PAUSED:
            counts["paused"] += 1
        elif status.is_failure():
            counts["failed"] += 1
        elif status.is_interrupted():
            counts["interrupted"] += 1
        else:
            counts["running"] += 1
    return TrialCounts(planned=len(values), **counts)


def finished_combinations(table: pd.DataFrame, script_sha256: str, names: Sequence[str]) -> dict[tuple[Any, ...], str]:
    """Key of flag values -> run_dir of a finished run of this script."""
    columns = [f"flag_{n}" for n in names]
    if table.empty or "script_sha256" not in table or any(c not in table for c in columns):
        return {}
    rows = table[(table["status"] == RunStatus.FINISHED.value) & (table["script_sha256"] == script_sha256)]
    found: dict[tuple[Any, ...], str] = {}
    for run_dir, *values in zip(rows["run_dir"], *(rows[c] for c in columns)):
        if not any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values):
            found.setdefault(tuple(_normal(v) for v in values), run_dir)
    return found


def done_trials(runs_dir: str, stale_after_s: float, script_sha256: str, grid: Any,
                indices: Sequence[int]) -> tuple[tuple[int, str], ...]:
    """--skip-done: (trial, run_dir) of the planned trials whose combination already has a finished run of this
    script (any sweep's, or a single run's). Read before anything is written, so a sweep with nothing left to
    run is said before it starts, and none is recorded."""
    names = list(grid.names)
    done = finished_combinations(runs_table(runs_dir, stale_after_s), script_sha256, names)
    found = ((index, done.get(_combo_key(grid.combination(index), names))) for index in indices)
    return tuple((index, hit) for index, hit in found if hit is not None)


def _seconds(start: Any) -> float:
    """A run's start as seconds: the listing frame holds a UTC Timestamp, a run.json a number; 0 when missing."""
    if isinstance(start, pd.Timestamp):
        return 0.0 if pd.isna(start) else float(start.timestamp())
    if isinstance(start, (int, float)) and not isinstance(start, bool) and start == start:
        return float(start)
    return 0.0


def trial_statuses(rows: pd.DataFrame, planned: Sequence[int], driver_alive: bool) -> dict[int, str]:
    """Best status of each planned trial from its runs: finished > running > failed/timeout > killed/lost > pending.
    `rows` are the sweep's runs (statuses already `lost` where a heartbeat went stale)."""
    result: dict[int, str] = {int(i): PENDING for i in planned}
    if rows.empty:
        return result
    starts = rows["start"] if "start" in rows else [None] * len(rows)
    # a trial paused (--stop hyperband, --search pbt) then continued by a run that was interrupted is interrupted:
    # its paused run is history, and resume must run the trial again
    paused_at: dict[int, float] = {}
    interrupted_at: dict[int, tuple[float, str]] = {}
    for trial, status, start in zip(rows["trial"], rows["status"], starts):
        if not isinstance(trial, (int, float)) or trial != trial or int(trial) not in result:
            continue
        run_status = RunStatus.parse(status)
        if run_status is None:
            continue
        if run_status is RunStatus.RUNNING and not driver_alive:
            run_status = RunStatus.LOST
        when = _seconds(start)
        if run_status.is_paused():
            paused_at[int(trial)] = max(paused_at.get(int(trial), 0.0), when)
        elif run_status.is_interrupted() and when >= interrupted_at.get(int(trial), (0.0, ""))[0]:
            interrupted_at[int(trial)] = (when, run_status.value)
        best = RunStatus.parse(result[int(trial)])
        if best is None or run_status.preference > best.preference:
            result[int(trial)] = run_status.value
    for trial, (when, status) in interrupted_at.items():
        if result[trial] == RunStatus.PAUSED.value and when > paused_at.get(trial, 0.0):
            result[trial] = status
    return result




def sweep_trial_states(rows: pd.DataFrame, planned: Sequence[int], driver_alive: bool,
                       records: Iterable[Mapping[str, Any]] = ()) -> dict[int, str]:
    """trial_statuses, with the trials that --skip-done reused (journal `skip` records) as SKIPPED."""
    states = trial_statuses(rows, planned, driver_alive)
    for record in records:
        trial = record.get("trial")
        if record.get("type") == "skip" and isinstance(trial, int) and states.get(trial) == PENDING:
            states[trial] = SKIPPED
    return states
