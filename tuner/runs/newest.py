"""The newest runs as plain rows, without pandas: what `tune ls` prints by default.

A terminal shows a few dozen of 10,000 runs, and importing pandas alone takes longer than listing them
through the index. So the default listing (no filter, the default order, every column) is made here from
the index's columns (runs.index.indexed_columns) and says, per column, which dtype ls_runs' frame would give
it, so the table prints exactly as it does from the frame (tests/tuner_tests/test_ls_display.py compares the
two). Anything else (a filter, another order, --format csv/json, the API) goes through ls_runs.

When nothing changed, not even the index is parsed (5 MB for 10^4 runs, a third of the time left): a clean
listing (every row from the index as stored) leaves its first HEAD_ROWS rows, the kinds and the columns in a
small file beside the index, under the digest of every run folder's name and signature (runs.index.
listing_digest). The next `tune ls` stats the runs as always, and shows that file when the digest is the same;
any change (a run added, removed, written to, one running or racy) goes the whole way, as before.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Sequence

from tuner._version import __version__
from tuner.errors import QueryError
from tuner.runs.aggregate import ordered_columns
from tuner.runs.index import current_digest, indexed_listing
from tuner.settings import load_settings
from tuner.store.layout import INDEX_HEAD_FILE
from workers.files import atomic_write_text, read_json

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


#: rows kept for a later `tune ls` when nothing changed (a terminal shows fewer)
HEAD_ROWS = 200
HEAD_FORMAT = 1


def newest_runs(limit: int | None, latest_n: int | None = None, runs_dir: str | None = None) -> NewestRuns:
    """The first `limit` runs (all with None) in ls_runs' default order: newest start first, runs without a
    start last, ties by name."""
    check_latest_n(latest_n)
    settings = load_settings(runs_dir=runs_dir)
    prefix = os.path.join(settings.runs_dir, "")
    head_path = os.path.join(settings.runs_dir, INDEX_HEAD_FILE)
    head = _read_head(head_path) if latest_n is None else None
    if head is not None and limit is not None and (limit <= len(head["rows"]) or head["total"] == len(head["rows"])):
        if current_digest(settings.runs_dir) == head["digest"]:
            return NewestRuns(head["total"], head["columns"], head["kinds"], _placed(head["rows"], prefix, limit))
    names, columns, state = indexed_listing(settings.runs_dir, settings.stale_after_s, latest_n=latest_n)
    starts = columns.get("start") or [None] * len(names)
    keys = [_start_key(start, name) for start, name in zip(starts, names)]
    order = sorted(range(len(names)), key=keys.__getitem__)
    rows = []  # run_dir holds the name here: the head file must not depend on how runs_dir was spelled
    for i in order if limit is None else order[:max(limit, HEAD_ROWS if state.clean else 0)]:
        row = {column: values[i] for column, values in columns.items()}
        row["run_dir"] = names[i]
        rows.append(row)
    kinds = {column: _kind(column, values) for column, values in columns.items()}
    kinds["run_dir"] = "object"
    columns_in_order = ordered_columns(["run_dir", *columns])
    if state.clean and (head is None or head["digest"] != state.digest):
        _write_head(head_path, state.digest, NewestRuns(len(names), columns_in_order, kinds, rows[:HEAD_ROWS]))
    return NewestRuns(len(names), columns_in_order, kinds, _placed(rows, prefix, limit))


def _placed(rows: list[dict[str, Any]], prefix: str, limit: int | None) -> list[dict[str, Any]]:
    """The first `limit` rows with run_dir as ls_runs gives it (the runs directory joined to the name)."""
    return [{**row, "run_dir": prefix + row["run_dir"]} for row in (rows if limit is None else rows[:limit])]


def _read_head(path: str) -> dict[str, Any] | None:
    try:
        head = read_json(path)
        if head.get("format") != HEAD_FORMAT or head.get("tuner") != __version__:
            return None
        if not (isinstance(head["digest"], str) and isinstance(head["total"], int) and isinstance(head["rows"], list)
                and isinstance(head["columns"], list) and isinstance(head["kinds"], dict)):
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing, damaged or foreign: the whole way, which writes a new one
    return head


def _write_head(path: str, digest: str, newest: NewestRuns) -> None:
    """Best effort: a read-only or full runs directory lists the whole way next time."""
    payload = {"format": HEAD_FORMAT, "tuner": __version__, "digest": digest, "total": newest.total,
               "columns": newest.columns, "kinds": newest.kinds, "rows": newest.rows}
    try:
        atomic_write_text(path, json.dumps(payload, ensure_ascii=False, default=str))
    except (OSError, ValueError):
        pass


def _start_key(start: Any, name: str) -> tuple[int, float, str]:
    if type(start) is float and start == start or type(start) is int:  # a number, not NaN (nor a bool)
        return 0, -float(start), name
    return 1, 0.0, name


def _kind(column: str, values: Sequence[Any]) -> str:
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


def check_latest_n(latest_n: Any) -> None:
    """`latest_n` / `--latest`: None or a positive integer."""
    if latest_n is not None and (not isinstance(latest_n, int) or isinstance(latest_n, bool) or latest_n < 1):
        raise QueryError(f"latest_n must be a positive integer, got {latest_n!r}")
