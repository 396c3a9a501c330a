"""The newest runs as plain rows, without pandas: what `tune ls` prints by default.

A terminal shows a few dozen of 10,000 runs, and importing pandas alone takes longer than listing them
through the index. So the default listing (no filter, the default order, every column) is made here from
the index's columns (runs.index.indexed_columns) and says, per column, which dtype ls_runs' frame would give
it, so the table prints exactly as it does from the frame (tests/tuner_tests/test_ls_display.py compares the
two). Anything else (a filter, another order, --format csv/json, the API) goes through ls_runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from tuner.runs.aggregate import ordered_columns
from tuner.runs.index import indexed_columns
from tuner.runs.query import check_latest_n
from tuner.settings import load_settings

#: the dtype ls_runs' frame gives a column: "int", "float", "bool", "time" (start/end) or "object"
TIME_COLUMNS = ("start", "end")


@dataclass
class NewestRuns:
    total: int                    # runs listed (all of them, or the `latest_n` newest by name)
    columns: list[str]            # every column some run has, in ls_runs' order
    kinds: dict[str, str]         # column -> its dtype in ls_runs' frame (see above)
    rows: list[dict[str, Any]]    # the `limit` first rows in ls_runs' order (start/end as epoch seconds)

    def has_value(self, column: str) -> bool:
        """Whether any listed run has a value in `column` (None counts as none, as in pandas)."""
        return self.kinds.get(column) != "empty"


def newest_runs(limit: int | None, latest_n: int | None = None, runs_dir: str | None = None) -> NewestRuns:
    """The first `limit` runs (all with None) in ls_runs' default order: newest start first, runs without a
    start last, ties by name."""
    check_latest_n(latest_n)
    settings = load_settings(runs_dir=runs_dir)
    names, columns = indexed_columns(settings.runs_dir, settings.stale_after_s, latest_n=latest_n)
    starts = columns.get("start") or [None] * len(names)
    keys = [_start_key(start, name) for start, name in zip(starts, names)]
    order = sorted(range(len(names)), key=keys.__getitem__)
    chosen = order if limit is None else order[:limit]
    prefix = os.path.join(settings.runs_dir, "")
    rows = []
    for i in chosen:
        row = {column: values[i] for column, values in columns.items()}
        row["run_dir"] = prefix + names[i]
        rows.append(row)
    kinds = {column: _kind(column, values) for column, values in columns.items()}
    kinds["run_dir"] = "object"
    return NewestRuns(len(names), ordered_columns(["run_dir", *columns]), kinds, rows)


def _start_key(start: Any, name: str) -> tuple[int, float, str]:
    if type(start) is float and start == start or type(start) is int:  # a number, not NaN (nor a bool)
        return 0, -float(start), name
    return 1, 0.0, name


def _kind(column: str, values: list[Any]) -> str:
    """The dtype pandas infers for these values (DataFrame.from_records; None and NaN are missing values)."""
    if column in TIME_COLUMNS:
        return "time"
    types = set(map(type, values))
    numbers = types - {type(None)}
    if not any(v is not None and v == v for v in values):
        return "empty"
    if numbers <= {int}:
        if max(map(abs, (v for v in values if v is not None))) > _INT64_MAX:
            return "object"
        return "float" if type(None) in types else "int"
    if numbers <= {int, float}:
        return "float"  # ints among floats or beside a missing value become floats
    if types == {bool}:
        return "bool"
    return "object"


_INT64_MAX = 2**63 - 1
