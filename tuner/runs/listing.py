"""Listing and looking up runs (tfruns' ls_runs, latest_run, run_info)."""

from __future__ import annotations

import os
from typing import Any, Sequence

import pandas as pd

from tuner import channel
from tuner.console.inert import inert
from tuner.errors import QueryError, RunNotFoundError, quoted
from tuner.runs.aggregate import read_rows, runs_frame
from tuner.runs.expression import NotApplicable
from tuner.runs.index import indexed_frame
from tuner.runs.newest import check_latest_n
from tuner.runs.query import is_mlflow_key, parse_filter, parse_order, unknown_column
from tuner.runs.resolve import latest_run_dir, resolve_run_dir
from tuner.settings import load_settings
from tuner.store.files import read_run

log = channel.logger(__name__)


#: columns of keys that some runs have and others lack (MLflow's metrics., params., tags.; our eval.)
_KEYED = ("metric_", "flag_", "tag_", "eval_")
_MLFLOW_PREFIX = {"metric_": "metrics.", "flag_": "params.", "tag_": "tags.", "eval_": "eval."}


def _closest_key(column: str, columns: Sequence[str]) -> str:
    """'; did you mean metrics.val_acc?' for the closest column of the same kind, in MLflow spelling."""
    import difflib

    prefix = next(p for p in _KEYED if column.startswith(p))
    close = difflib.get_close_matches(column, [c for c in columns if c.startswith(prefix)], n=1, cutoff=0.6)
    return f"; did you mean {_MLFLOW_PREFIX[prefix]}{inert(close[0][len(prefix):])}?" if close else ""


def sort_runs(frame: pd.DataFrame, order: str | Sequence[str] | None, decreasing: bool) -> pd.DataFrame:
    """Sort by columns or MLflow keys, each optionally with ASC/DESC (`"metrics.acc DESC"`); missing values last."""
    columns, ascending, written = parse_order(order, decreasing)
    if not columns or frame.empty:
        return frame
    for column in list(columns):
        if column in frame.columns:
            continue
        if not column.startswith(_KEYED) or not is_mlflow_key(written.get(column, column)):
            raise unknown_column(column, frame.columns, written.get(column))  # a column name: a typo
        # a metric, param or tag no run has: every run lacks it, so it orders nothing (as in MLflow), said once
        log.warning("no run has %s, so it orders nothing%s", inert(written.get(column, column)),
                    _closest_key(column, frame.columns))
        index = columns.index(column)
        del columns[index], ascending[index]
    # ties broken as MLflow breaks them: the newest start first, then the name
    for column, up in (("start", False), ("run_dir", True)):
        if column in frame.columns and column not in columns:
            columns, ascending = [*columns, column], [*ascending, up]
    mixed = {c for c in columns if _is_mixed(frame[c])}
    if _already_in_order(frame[columns[0]], ascending[0]):
        return frame  # the usual listing (newest start first, as the runs are named): no copy of every column
    try:
        return frame.sort_values(columns, ascending=ascending, na_position="last", kind="stable",
                                 key=lambda s: pd.to_numeric(s, errors="coerce") if s.name in mixed else s)
    except TypeError as exc:
        raise QueryError(f"order {quoted(order)}: the values of {', '.join(columns)} cannot be compared ({exc})") from None


def _already_in_order(series: pd.Series, ascending: bool) -> bool:
    """Whether numbers or times with no missing value are strictly in this order: then sorting (stable, by them
    and any further column) would give the frame as it is, as no two rows tie."""
    if series.dtype.kind not in "iufM" or len(series) < 2 or series.hasnans:
        return False
    values = series.to_numpy(dtype="int64") if series.dtype.kind == "M" else series.to_numpy()
    return bool((values[:-1] < values[1:]).all() if ascending else (values[:-1] > values[1:]).all())


def _is_mixed(series: pd.Series) -> bool:
    """Numbers and text in one column (`lr=abc` typed once among numbers): compared as numbers, text left out."""
    if series.dtype != object:
        return False
    kinds = {isinstance(v, (int, float)) and not isinstance(v, bool) for v in series.dropna()}
    return kinds == {True, False}


def _numeric_where_mixed(frame: pd.DataFrame) -> pd.DataFrame | None:
    mixed = [c for c in frame.columns if _is_mixed(frame[c])]
    if not mixed:
        return None
    return frame.assign(**{c: pd.to_numeric(frame[c], errors="coerce") for c in mixed})


def filter_runs(frame: pd.DataFrame, subset: str | None) -> pd.DataFrame:
    """Rows matching a filter (pandas-style or MLflow syntax, tuner.runs.query): parsed, never run as code."""
    if not subset:
        return frame
    query = parse_filter(subset)  # with no runs too: a filter that does not parse is an error, not "no runs"
    if frame.empty:  # no runs is an empty listing, whatever columns the filter names
        return frame
    target = frame
    if "name" in query.keys and "name" not in frame.columns:  # MLflow's run_name / run_id
        target = frame.assign(name=frame["run_dir"].map(lambda p: os.path.basename(os.path.normpath(str(p)))))
    for column, key in query.keys.items():
        if column in target.columns:
            continue
        if not column.startswith(_KEYED):  # an attribute (status, start_time ...) every run has: a typo
            raise query.unknown(column, target.columns, key)
        # as in MLflow, a metric, param or tag no run has matches nothing; said once, with the closest key
        log.warning("no run has %s, so it matches nothing%s", inert(key), _closest_key(column, target.columns))
        target = target.assign(**{column: float("nan")})
    for column in query.columns:
        if column not in target.columns:  # a column name, as written: a typo
            raise query.unknown(column, frame.columns)
    try:
        try:
            chosen = query.mask(target)
        except NotApplicable:  # numbers and text in one column: compare where the values are numbers
            numeric = _numeric_where_mixed(target[list(query.columns)])
            if numeric is None:
                raise
            chosen = query.mask(numeric)
    except NotApplicable as exc:
        raise query.inapplicable(exc) from None
    return frame.loc[chosen.to_numpy()]


def ls_runs(subset: str | None = None, order: str | Sequence[str] | None = "start", decreasing: bool = True,
            latest_n: int | None = None, runs_dir: str | None = None) -> pd.DataFrame:
    """All runs of `runs_dir` as a DataFrame, newest first.

    `subset` is a filter over the columns, pandas-style or MLflow syntax (`metrics.val_acc > 0.9 and
    params.dropout = '0.2'`; the grammar: docs/filters.md), parsed and never run as code; `order` one or
    several columns or MLflow keys with ASC/DESC. Rows come through the listing index (tuner.runs.index), so a
    repeated listing only stats the run directories.
    """
    settings = load_settings(runs_dir=runs_dir)
    check_latest_n(latest_n)
    # latest_n counts the runs that pass the filter: read them all when there is one
    frame = indexed_frame(settings.runs_dir, settings.stale_after_s, latest_n=None if subset else latest_n)
    # with no runs too, a filter or order that does not parse is an error; the columns it names are not checked
    # (no runs is an empty listing, whatever the query names: filter_runs and sort_runs stop there)
    frame = filter_runs(frame, subset)
    if subset and latest_n is not None:
        frame = frame.loc[_newest(frame, latest_n)]
    frame = sort_runs(frame, order, decreasing)
    return frame.reset_index(drop=True)


def _newest(frame: pd.DataFrame, count: int) -> pd.Index:
    """The index of the `count` newest runs (by run directory name, as the unfiltered --latest)."""
    names = frame["run_dir"].map(lambda p: os.path.basename(os.path.normpath(str(p))))
    return names.sort_values(ascending=False, kind="stable").index[:count]


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
    try:
        newest = latest_run_dir(settings.runs_dir)
    except RunNotFoundError:
        return None
    return run_info(newest, settings.runs_dir)


def pareto_front(runs: pd.DataFrame | None = None, metric: str | Sequence[str] | None = None,
                 mode: str | Sequence[str] | None = None, constraints: str | Sequence[str] | None = None,
                 runs_dir: str | None = None) -> pd.DataFrame:
    """The rows of `runs` (an ls_runs frame; default every run) on their Pareto front: finished runs with every
    metric that no other such run beats on all of them (tuner.runs.ranking.Objectives). `metric` names the
    objectives (two or more; one gives its best runs, ties included) with `mode` one per metric or none (each
    metric's direction); without `metric`, runs of one sweep use the sweep's recorded metrics, modes and
    constraints. `constraints` (`"memory_mb <= 512"`) leave out the runs that break them. The frame keeps the
    listing's order; `attrs["metric"]`/`["mode"]` name the objectives."""
    from tuner.runs.ranking import (
        check_constraints,
        check_objectives,
        choose_objectives,
        sweep_choice,
        sweep_objectives,
    )

    frame = runs if runs is not None else ls_runs(runs_dir=runs_dir)
    asked = check_constraints([constraints] if isinstance(constraints, str) else constraints)
    columns = [str(c) for c in frame.columns]
    if metric is not None:
        names, modes = check_objectives(metric, mode)
        objectives = choose_objectives(columns, names, modes, asked, where="--pareto")
    else:
        if mode is not None:
            raise QueryError("--mode applies to --metric: name the metrics of the front (--metric a --metric b)")
        sweeps = sorted({str(s) for s in frame["sweep"].dropna()}) if "sweep" in frame.columns else []
        if len(sweeps) != 1 or frame["sweep"].isna().any():
            raise QueryError("--pareto: name the metrics of the front (--metric val_loss --metric latency_ms), or "
                             "list the runs of one multi-objective sweep (--filter \"sweep == 'ID'\"), whose "
                             f"recorded metrics are used; these runs belong to {len(sweeps)} sweeps"
                             + (" and to none" if "sweep" in frame.columns and frame["sweep"].isna().any() else ""))
        settings = load_settings(runs_dir=runs_dir)
        choice = sweep_choice(settings.runs_dir, sweeps[0])
        if not choice.multi:
            raise QueryError(f"--pareto: sweep {sweeps[0]} has {'one metric' if choice.metric else 'no metric'} "
                             "recorded, not several; name the metrics of the front (--metric a --metric b)")
        found = sweep_objectives(columns, choice)
        if found is None:
            raise QueryError(f"--pareto: no listed run recorded every metric of sweep {sweeps[0]} "
                             f"({', '.join(choice.metrics)})")
        from dataclasses import replace

        objectives = replace(found, constraints=found.constraints + asked)
    rows = frame.to_dict("records")
    chosen = frame.iloc[objectives.front(rows)]
    chosen.attrs.update(metric=objectives.metrics, mode=objectives.modes,
                        constraints=[c.text for c in objectives.constraints])
    return chosen
