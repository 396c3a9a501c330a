"""A sweep's runs as read back from the runs directory: which trials are done, and in what state."""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from tuner.store.status import RunStatus, TrialCounts, TrialState


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


def trial_states(rows: pd.DataFrame, planned: Sequence[int], driver_alive: bool) -> dict[int, TrialState]:
    """Each planned trial's state, from its best attempt (RunStatus.preference: finished > stopped > running >
    failed/timeout > killed/lost > queued); no attempt: pending. `rows` are the sweep's runs (statuses already
    `lost` where a heartbeat went stale); with no driver alive, a run still `running` is lost."""
    return {trial: TrialState.of_run(status) for trial, status in _best_attempts(rows, planned, driver_alive).items()}


def sweep_trial_states(rows: pd.DataFrame, planned: Sequence[int], driver_alive: bool,
                       skipped: Iterable[int] = ()) -> dict[int, TrialState]:
    """trial_states, with the trials --skip-done reused (the journal's `skip` records: `skipped`) and never
    launched as SKIPPED."""
    best = _best_attempts(rows, planned, driver_alive)
    reused = set(skipped)
    return {trial: TrialState.SKIPPED if status is None and trial in reused else TrialState.of_run(status)
            for trial, status in best.items()}


def count_trials(rows: pd.DataFrame, planned: Sequence[int], driver_alive: bool,
                 skipped: Iterable[int] = ()) -> TrialCounts:
    """A sweep's TrialCounts: what `tune sweeps`, the report, the dashboard and the sweep's last line say."""
    return TrialCounts.of(sweep_trial_states(rows, planned, driver_alive, skipped).values())


def _seconds(start: Any) -> float:
    """A run's start as seconds: the listing frame holds a UTC Timestamp, a run.json a number; 0 when missing."""
    if isinstance(start, pd.Timestamp):
        return 0.0 if pd.isna(start) else float(start.timestamp())
    if isinstance(start, (int, float)) and not isinstance(start, bool) and start == start:
        return float(start)
    return 0.0


def _best_attempts(rows: pd.DataFrame, planned: Sequence[int], driver_alive: bool) -> dict[int, RunStatus | None]:
    """Each planned trial's best attempt's status (None: no attempt)."""
    best: dict[int, RunStatus | None] = {int(i): None for i in planned}
    if rows.empty:
        return best
    starts = rows["start"] if "start" in rows else [None] * len(rows)
    # a trial paused (--stop hyperband, --search pbt) then continued by a run that was interrupted is interrupted:
    # its paused run is history, and resume must run the trial again
    paused_at: dict[int, float] = {}
    interrupted_at: dict[int, tuple[float, RunStatus]] = {}
    for trial, status, start in zip(rows["trial"], rows["status"], starts):
        if not isinstance(trial, (int, float)) or trial != trial or int(trial) not in best:
            continue
        run_status = RunStatus.parse(status)
        if run_status is None:
            continue
        if run_status is RunStatus.RUNNING and not driver_alive:
            run_status = RunStatus.LOST
        when = _seconds(start)
        if run_status.is_paused():
            paused_at[int(trial)] = max(paused_at.get(int(trial), 0.0), when)
        elif run_status.is_interrupted() and when >= interrupted_at.get(int(trial), (0.0, run_status))[0]:
            interrupted_at[int(trial)] = (when, run_status)
        current = best[int(trial)]
        if current is None or run_status.preference > current.preference:
            best[int(trial)] = run_status
    for trial, (when, interrupted) in interrupted_at.items():
        if best[trial] is RunStatus.PAUSED and when > paused_at.get(trial, 0.0):
            best[trial] = interrupted
    return best
