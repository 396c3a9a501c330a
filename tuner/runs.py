"""Listing and looking up runs (tfruns' ls_runs, latest_run, run_info)."""

from __future__ import annotations

import difflib
from typing import Any, Sequence

import pandas as pd

from .aggregate import read_rows, runs_frame
from .errors import QueryError
from .settings import load_settings
from .store import list_run_dirs, read_run, resolve_run_dir


def _unknown_column(name: str, columns: Sequence[str]) -> QueryError:
    close = difflib.get_close_matches(name, list(columns), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; columns: {', '.join(columns)}"
    return QueryError(f"unknown column '{name}'{hint}")


def sort_runs(frame: pd.DataFrame, order: str | Sequence[str] | None, decreasing: bool) -> pd.DataFrame:
    if not order or frame.empty:
        return frame
    columns = [order] if isinstance(order, str) else list(order)
    for column in columns:
        if column not in frame.columns:
            raise _unknown_column(column, frame.columns)
    return frame.sort_values(columns, ascending=not decreasing, na_position="last", kind="stable")


def filter_runs(frame: pd.DataFrame, subset: str | None) -> pd.DataFrame:
    if not subset:
        return frame
    try:
        return frame.query(subset, engine="python")
    except pd.errors.UndefinedVariableError as exc:
        name = str(exc).split("'")[1] if "'" in str(exc) else str(exc)
        raise _unknown_column(name, frame.columns) from None
    except (SyntaxError, ValueError, TypeError, KeyError) as exc:
        raise QueryError(f"filter {subset!r} does not parse: {exc}; example: \"metric_val_acc > 0.9 and "
                         "flag_dropout < 0.3\"") from None


def ls_runs(subset: str | None = None, order: str | Sequence[str] | None = "start", decreasing: bool = True,
            latest_n: int | None = None, runs_dir: str | None = None) -> pd.DataFrame:
    """All runs of `runs_dir` as a DataFrame, newest first; `subset` is a pandas query over its columns."""
    settings = load_settings(runs_dir=runs_dir)
    dirs = list_run_dirs(settings.runs_dir)
    if latest_n is not None:
        if not isinstance(latest_n, int) or latest_n < 1:
            raise QueryError(f"latest_n must be a positive integer, got {latest_n!r}")
        dirs = dirs[:latest_n]
    frame = runs_frame(read_rows(dirs, settings.stale_after_s))
    if not dirs:  # no runs is an empty listing, whatever the query names
        return frame
    frame = filter_runs(sort_runs(frame, order, decreasing), subset)
    return frame.reset_index(drop=True)


def run_info(run: Any, runs_dir: str | None = None) -> dict[str, Any]:
    """One run as a dict: its ls_runs row plus `metrics` (per-step DataFrame) and `output_log`/`source` paths."""
    settings = load_settings(runs_dir=runs_dir)
    path = resolve_run_dir(run, settings.runs_dir)
    data = read_run(path)
    row = runs_frame(read_rows([path], settings.stale_after_s)).iloc[0].to_dict()
    row["metrics"] = pd.DataFrame.from_records(data.metrics) if data.metrics else pd.DataFrame()
    row["output_log"] = data.paths.output_log
    row["source_dir"] = data.paths.source_dir
    return row


def latest_run(runs_dir: str | None = None) -> dict[str, Any] | None:
    """The newest run (by directory name, as tfruns) or None when there is none."""
    settings = load_settings(runs_dir=runs_dir)
    dirs = list_run_dirs(settings.runs_dir)
    return run_info(dirs[0], settings.runs_dir) if dirs else None
