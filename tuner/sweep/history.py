"""A sweep's runs as read back from the runs directory: which trials are done, and in what state."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

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
    """The runs of one sweep (all attempts), by trial."""
    if table.empty or "sweep" not in table:
        return table.iloc[0:0]
    rows = table[table["sweep"] == sweep_id]
    return rows.sort_values(["trial", "attempt"], kind="stable").reset_index(drop=True) if len(rows) else rows


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


def trial_statuses(rows: pd.DataFrame, planned: Sequence[int], driver_alive: bool) -> dict[int, str]:
    """Best status of each planned trial from its runs: finished > running > failed/timeout > killed/lost > pending.
    `rows` are the sweep's runs (statuses already `lost` where a heartbeat went stale)."""
    result: dict[int, str] = {int(i): PENDING for i in planned}
    if rows.empty:
        return result
    for trial, status in zip(rows["trial"], rows["status"]):
        if not isinstance(trial, (int, float)) or trial != trial or int(trial) not in result:
            continue
        run_status = RunStatus.parse(status)
        if run_status is None:
            continue
        if run_status is RunStatus.RUNNING and not driver_alive:
            run_status = RunStatus.LOST
        best = RunStatus.parse(result[int(trial)])
        if best is None or run_status.preference > best.preference:
            result[int(trial)] = run_status.value
    return result


