"""HTML views of runs (tfruns' view_run / compare_runs) and of sweeps: one self-contained file each.

`save_*` writes the page and returns its path; `view_run` / `compare_runs` also open it in a browser when
one is available, and otherwise print the path. Nothing here imports Ray.

Pages are private by default: a page holds a run's console output, error and source files, so without a
`filename` (`-o`) it is written 0600 in the user's own pages folder (`views_dir`: `$XDG_CACHE_HOME/tuner/views`,
0700), never in a folder other users can write to (a shared `/tmp/tuner-views` let the first user to create it
lock everyone else out, read their pages, or plant links). Where the user names a file, it is written there as
any new file is (umask), a link at that name replaced, never followed.
"""

from __future__ import annotations

import os
import re
import tempfile
from typing import Any, Sequence

from tuner import channel
from tuner.capture.secrets import SecretRule
from tuner.errors import SweepNotFoundError, TunerError
from tuner.report.data import RUN_LETTERS, comparison_data, run_data, sweep_data
from tuner.report.render import render_page, write_page
from tuner.runs.resolve import latest_run_dir, latest_run_dirs, resolve_run_dir
from tuner.settings import load_settings
from tuner.store.layout import RunPaths
from tuner.store.status import TrialCounts
from workers.files import cache_dir, private_dir

log = channel.logger(__name__)

__all__ = ["save_run_view", "view_run", "save_run_comparison", "compare_runs", "save_sweep_report",
           "open_in_browser", "browser_available"]


def views_dir() -> str:
    """The user's own pages folder (0700): `$XDG_CACHE_HOME/tuner/views`. Where that cannot be made private (it is
    a link, another user's, or the cache folder is read-only), a fresh private folder in the system's temp folder
    (mkdtemp: 0700, a new name each time), never a shared one."""
    return private_dir(os.path.join(cache_dir(), "views")) or tempfile.mkdtemp(prefix="tuner-views-")


def _target(filename: str | os.PathLike[str] | None, default_name: str) -> tuple[str, bool]:
    """Where a page goes, and whether privately: the named file, or `default_name` in views_dir()."""
    if filename is not None:
        return os.fspath(filename), False
    return os.path.join(views_dir(), default_name), True


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:120] or "run"


# ---------------------------------------------------------------------------------------------------
# One run

def save_run_view(run: Any = None, filename: str | os.PathLike[str] | None = None,
                  runs_dir: str | None = None) -> str:
    """Write the HTML view of `run` (a path, a run name, an ls_runs row; default: the latest run); return its path."""
    settings = load_settings(runs_dir=runs_dir)
    path = resolve_run_dir(run, settings.runs_dir) if run is not None else latest_run_dir(settings.runs_dir)
    page = run_data(path, settings.stale_after_s, secrets=SecretRule.from_settings(settings))
    target, private = _target(filename, f"run-{_safe(page['name'])}.html")
    return write_page(target, render_page("run", f"Run {page['name']}", {"run": page}), private)


def view_run(run: Any = None, runs_dir: str | None = None, browse: bool = True) -> str:
    """Save the run view and open it in a browser (or print its path where there is none); return the path."""
    path = save_run_view(run, runs_dir=runs_dir)
    show_saved_page(path, browse)
    return path


# ---------------------------------------------------------------------------------------------------
# Two or more runs

def _compared_runs(runs: Any, runs_dir: str) -> list[str]:
    if runs is None:
        newest, older = latest_run_dirs(runs_dir, 2)
        return [older, newest]
    items = [runs] if isinstance(runs, (str, os.PathLike)) else list(runs["run_dir"]) if hasattr(runs, "columns") \
        else list(runs)
    if len(items) < 2:
        raise TunerError(f"compare: expected two or more runs, got {len(items)}; pass run directories or names")
    if len(items) > len(RUN_LETTERS):
        raise TunerError(f"compare: at most {len(RUN_LETTERS)} runs at once, got {len(items)}; pick fewer "
                         "(tune ls --filter ... shows which)")
    dirs = [resolve_run_dir(item, runs_dir) for item in items]
    real = [os.path.realpath(d) for d in dirs]
    twice = sorted({d for d, r in zip(dirs, real) if real.count(r) > 1})
    if twice:
        raise TunerError(f"compare: '{twice[0]}' is given more than once; pass different runs")
    return dirs


def save_run_comparison(runs: Any = None, filename: str | os.PathLike[str] | None = None,
                        runs_dir: str | None = None) -> str:
    """Write the comparison of two or more runs (default: the two latest), oldest first: A, B, C ..."""
    settings = load_settings(runs_dir=runs_dir)
    data = comparison_data(_compared_runs(runs, settings.runs_dir), settings.stale_after_s,
                           SecretRule.from_settings(settings))
    names = [r["name"] for r in data["runs"]]
    stem = "-".join(_safe(n) for n in names) if len(names) <= 3 else f"{_safe(names[0])}-and-{len(names) - 1}-more"
    target, private = _target(filename, f"compare-runs-{stem}.html")
    title = f"Compare {names[0]} and {names[1]}" if len(names) == 2 else f"Compare {len(names)} runs"
    return write_page(target, render_page("compare", title, data), private)


def compare_runs(runs: Any = None, runs_dir: str | None = None, browse: bool = True) -> str:
    """Save the comparison and open it in a browser (or print its path); return the path."""
    path = save_run_comparison(runs, runs_dir=runs_dir)
    show_saved_page(path, browse)
    return path


# ---------------------------------------------------------------------------------------------------
# A sweep

def save_sweep_report(sweep: str, runs_dir: str | None = None, metric: str | Sequence[str] | None = None,
                      filename: str | os.PathLike[str] | None = None, run_views: bool = True,
                      mode: str | Sequence[str] | None = None) -> str:
    """Write the report of sweep `sweep`: a sortable, filterable table of its trials, a parallel-coordinates
    chart of flags against `metric` and the best runs; with `run_views`, each run's view is written to the
    folder `<report name>_runs/` next to it and linked from the table. Returns the report's path.

    Trials are ranked by `metric` (and `mode`) when given, else by the metric and mode the sweep recorded
    (`--metric`/`--mode`, in its journal), so the report's best runs are the sweep's own; a sweep without a
    metric is ranked by the first of val_acc, val_loss, acc, loss ... its runs recorded.

    A sweep of several metrics (or `metric` a list of two or more, `mode` one per metric) has no best: the report
    shows its Pareto front (a scatter of the front for two metrics, parallel coordinates beyond) and the
    hypervolume after each trial, with the reference point it is measured from."""
    from tuner.runs.listing import ls_runs
    from tuner.runs.ranking import check_mode, check_objectives, sweep_choice

    if isinstance(mode, str) or mode is None:
        check_mode(mode)
    if not isinstance(metric, str) and metric is not None or not isinstance(mode, str) and mode is not None:
        check_objectives([metric] if isinstance(metric, str) else list(metric or ()),
                         [mode] if isinstance(mode, str) else list(mode or ()), "report")

    settings = load_settings(runs_dir=runs_dir)
    frame = ls_runs(runs_dir=settings.runs_dir, order=None)
    sweep = str(sweep)
    if "sweep" in frame.columns:
        frame = frame[frame["sweep"].astype(str) == sweep]
    else:
        frame = frame.iloc[0:0]
    if frame.empty:
        raise SweepNotFoundError(f"sweep '{sweep}' has no runs in '{settings.runs_dir}'; list sweeps with "
                                 "`tune sweeps`")
    from tuner.sweep.history import own_columns
    from tuner.sweep.resume import sweep_statuses

    frame = own_columns(frame)
    status = next((s for s in sweep_statuses(settings.runs_dir, settings.stale_after_s) if s.sweep_id == sweep), None)
    if "trial" in frame.columns:
        frame = frame.assign(_order=frame["trial"].fillna(-1)).sort_values(["_order", "run_dir"]).drop(columns="_order")
    frame = frame.reset_index(drop=True)
    target, private = _target(filename, f"sweep-{_safe(sweep)}")
    if private:  # a folder of its own (the report and its run views), private like the one holding it
        target = os.path.join(_private_subfolder(target), "report.html")
    target = os.path.abspath(target)
    links: list[str | None] = [None] * len(frame)
    if run_views:
        folder_name = os.path.splitext(os.path.basename(target))[0] + "_runs"
        folder = os.path.join(os.path.dirname(target), folder_name)
        if private:
            folder = _private_subfolder(folder)
            folder_name = os.path.basename(folder)
        for i, run_path in enumerate(frame["run_dir"]):
            name = _safe(RunPaths(run_path).name)
            page = run_data(run_path, settings.stale_after_s, secrets=SecretRule.from_settings(settings))
            write_page(os.path.join(folder, f"{name}.html"), render_page("run", f"Run {page['name']}", {"run": page}),
                       private)
            links[i] = f"{folder_name}/{name}.html"
    from tuner.search.importance import sweep_domains

    data = sweep_data(frame, sweep, metric, links, mode, sweep_choice(settings.runs_dir, sweep),
                      sweep_domains(settings.runs_dir, sweep))
    data["pbt"] = _pbt_section(settings.runs_dir, sweep, frame, data)
    # the sweep's trials (not attempts), counted as `tune sweeps` counts them; a sweep without its journal (pulled
    # alone, or made elsewhere) as the dashboard counts it: the trials its runs name
    counts = status.counts if status is not None else _counts_without_journal(frame)
    if counts.planned:
        data["summary"] = (f"{counts.planned} trials: " + ", ".join(counts.parts())
                           + (f" ({len(frame)} runs)" if len(frame) != counts.planned else ""))
    from tuner.notebook import PagePath  # a plain path; shown inline as a notebook cell's value

    return PagePath(write_page(target, render_page("report", f"Sweep {sweep}", data), private))


def _counts_without_journal(frame: Any) -> TrialCounts:
    """The trial counts of a sweep known only by its runs: the trials they name, no driver alive."""
    from tuner.sweep.history import count_trials

    if "trial" not in frame.columns:
        return count_trials(frame.iloc[0:0], (), False)
    trials = sorted({int(t) for t in frame["trial"] if isinstance(t, (int, float)) and t == t})
    return count_trials(frame, trials, False)


def _pbt_section(runs_dir: str, sweep: str, frame: Any, data: dict[str, Any]) -> dict[str, Any] | None:
    """A PBT sweep's schedule and population (tuner.search.pbt.pbt_report), None for any other sweep."""
    from tuner.search.pbt import pbt_report
    from tuner.store.files import read_run
    from tuner.store.journal import Journal, RecordKind

    metric = data.get("ranked_by")
    try:
        records = Journal.open(runs_dir, sweep).read().records
    except TunerError:
        return None
    if metric is None or not any(RecordKind.of(r) is RecordKind.EXPLOIT for r in records):
        return None
    runs = []
    for run_dir in frame["run_dir"]:
        run = read_run(str(run_dir))
        runs.append({**run.run, "flags": run.flags, "rows": run.metrics})
    best = data["rows"][data["best"][0]][data["columns"].index("trial")] if data.get("best") else None
    return pbt_report(records, runs, str(metric), best)


def _private_subfolder(path: str) -> str:
    """A folder inside views_dir(), private as it is; one that is not (a link left there) is replaced by a fresh one."""
    folder = private_dir(path)
    if folder is None:
        folder = tempfile.mkdtemp(prefix=os.path.basename(path) + "-", dir=os.path.dirname(path))
    return folder


# ---------------------------------------------------------------------------------------------------
# Opening a browser

def browser_available() -> bool:
    """A graphical browser can be opened: macOS/Windows, or a display on Linux (a console browser would block)."""
    import sys
    import webbrowser

    if sys.platform not in ("darwin", "win32") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def open_in_browser(target: str) -> bool:
    """Open a file path or URL in a browser when one is available; True when one was opened."""
    import webbrowser

    if not browser_available():
        return False
    url = target if "://" in target else "file://" + os.path.abspath(target)
    try:
        return bool(webbrowser.open(url, new=2))
    except webbrowser.Error:
        return False


def show_saved_page(path: str, browse: bool) -> None:
    """A saved page where the caller is: inline in a Jupyter kernel, else in a browser (`browse`), else its path."""
    from tuner.notebook import show_page

    if show_page(path):  # inside a Jupyter kernel: the page inline
        return
    if browse and open_in_browser(path):
        log.info("Opened %s in a browser", path)
    else:
        log.info("%s", path)
