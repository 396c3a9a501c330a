"""Terminal output of tables and records (rich); plain text when stdout is not a terminal."""

from __future__ import annotations

import math
import os
import sys
import time
from typing import TYPE_CHECKING, Any, Callable, Sequence

from tuner.console.inert import inert, markup
from tuner.errors import QueryError
from tuner.values import format_duration

if TYPE_CHECKING:  # `tune ls` prints its default table without importing pandas (tuner.runs.newest)
    import pandas as pd

    from tuner.runs.newest import NewestRuns

MAX_PREFIXED = 6
MAX_TAGS = 3


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 240
    return Console(file=stream, width=width, soft_wrap=False, highlight=False)


def compact_columns(frame: pd.DataFrame, shown: pd.DataFrame | None = None) -> list[str]:
    """choose_compact for a frame; `shown`: the rows the table prints (their differing flags come first)."""
    rows = frame if shown is None else shown
    return choose_compact(list(frame.columns), lambda c: bool(frame[c].notna().any()),
                          lambda c: rows[c].map(lambda v: format_value(v, c)).nunique() > 1)


def choose_compact(present: Sequence[str], has_value: Callable[[str], bool],
                   varies: Callable[[str], bool] | None = None) -> list[str]:
    """The default columns of a runs table, from the columns `present` (in ls_runs' order). Flags that differ
    between the printed rows (`varies`) come before those they share: runs record their script's defaults
    (flags.json), which would otherwise crowd the flags a user set out of the first MAX_PREFIXED."""
    columns = ["run_dir", "status", "start", "duration_s"]
    for prefix in ("flag_", "metric_", "eval_"):  # not a column no listed run has (a filter left out its runs)
        group = [c for c in present if c.startswith(prefix) and has_value(c)]
        if prefix == "flag_" and varies is not None and len(group) > MAX_PREFIXED:
            differing = [c for c in group if varies(c)]
            group = differing + [c for c in group if c not in differing]
        columns += group[:MAX_PREFIXED]
    # tags some listed run has, the label first (`--columns` or `tune info` show the rest)
    tags = sorted((c for c in present if c.startswith("tag_") and has_value(c)), key=lambda c: (c != "tag_label", c))
    columns += tags[:MAX_TAGS]
    if "sweep" in present:
        columns.append("sweep")
    return [c for c in columns if c in present]


def select_columns(frame: pd.DataFrame, columns: Sequence[str] | None) -> pd.DataFrame:
    if not columns:
        return frame
    missing = [c for c in columns if c not in frame.columns]
    if missing and not frame.empty:
        import difflib

        close = difflib.get_close_matches(missing[0], list(frame.columns), n=3, cutoff=0.5)
        raise QueryError(f"--columns: unknown column '{missing[0]}'"
                         + (f"; did you mean {', '.join(close)}?" if close else ""))
    return frame[[c for c in columns if c in frame.columns]]


def format_value(value: Any, column: str = "") -> str:
    """A cell's text: inert (tuner.console.inert), as every value from run data shown in a terminal."""
    pd = sys.modules.get("pandas")  # a pandas value can only be here once pandas is imported
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd is not None and value is pd.NaT:
        return ""
    if pd is not None and isinstance(value, pd.Timestamp):
        return value.strftime(TIME_FORMAT)
    if column == "run_dir":
        return inert(os.path.basename(str(value)))
    if column == "duration_s" and isinstance(value, (int, float)):
        return format_duration(float(value))
    if isinstance(value, float):
        # a whole number stays whole: a seed or step count is a float once some run lacks it (pandas' NaN),
        # and 4 significant digits would print 1234567 as 1.235e+06
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"
    return inert(value)


_STATUS_STYLE = {"finished": "green", "failed": "red", "killed": "yellow", "timeout": "yellow", "lost": "magenta",
                 "running": "cyan"}


#: rich lays out a table at ~4 ms a row; past this many rows (or when stdout is not a terminal) a plain aligned
#: table is printed instead
RICH_MAX_ROWS = 300
HEADERS = {"run_dir": "run", "duration_s": "time"}
#: columns of prose that a terminal table wraps onto more lines rather than leave out (`tune sweeps`' trial counts),
#: counted at this width at most when choosing what fits
WRAPPED = {"trials": 30}


def default_row_limit() -> int:
    """How many rows `tune ls` shows without --all: what fits the terminal, 50 when it is not one."""
    if not sys.stdout.isatty():
        return 50
    import shutil

    return max(10, shutil.get_terminal_size((100, 40)).lines - 8)


def print_runs_table(frame: pd.DataFrame, columns: Sequence[str] | None = None, title: str | None = None,
                     limit: int | None = None, more_hint: str = "", first: Sequence[str] = (),
                     wide: bool = False, metric: str | None = None) -> None:
    """The runs as a table, the first `limit` rows of them (all with None) and a line saying how many more.
    Without `columns`, a terminal shows the columns that fit it (tuner.console.columns), `first` (the filter's
    and the order's columns) among the first; `wide` shows every column of the compact choice."""
    if frame.empty:
        print("No runs found.")
        return
    hidden = max(0, len(frame) - limit) if limit is not None else 0
    part = frame.iloc[:limit] if hidden else frame
    shown = list(columns) if columns else compact_columns(frame, part)
    if not columns:  # what the filter and the order name, even past the compact choice
        shown += [c for c in first if c in frame.columns and c not in shown and bool(frame[c].notna().any())]
    from pandas.api.types import is_numeric_dtype

    right = [is_numeric_dtype(part[c]) and c != "trial" for c in shown]
    rows = [[format_value(v, c) for v, c in zip(values, shown)]
            for values in part[shown].itertuples(index=False, name=None)]
    _print_table(shown, right, rows, title, hidden, len(frame), more_hint, None if columns else first, wide, metric)


def print_table(headers: Sequence[str], right: Sequence[bool], rows: list[list[str]],
                left_out_hint: str = "choose with --columns") -> None:
    """Any table of text cells in the style of `tune ls` (`tune sweeps`): rich on a terminal, the columns that fit
    it from the left and a line naming the rest and `left_out_hint` (how to see them); plain aligned text when
    piped."""
    if len(rows) > RICH_MAX_ROWS or not sys.stdout.isatty():
        _print_plain(list(headers), list(right), rows, None)
    else:
        _print_rich(list(headers), list(right), rows, None, left_out_hint=left_out_hint)


def print_newest_table(newest: NewestRuns, title: str | None = None, limit: int | None = None,
                       more_hint: str = "", wide: bool = False, metric: str | None = None) -> None:
    """print_runs_table of ls_runs()'s frame, printed from tuner.runs.newest's rows (no pandas): the same text."""
    if not newest.total:
        print("No runs found.")
        return
    printed = newest.rows[:limit]
    shown = choose_compact(newest.columns, newest.has_value,
                           lambda c: len({_cell(row.get(c), c, newest.kinds.get(c)) for row in printed}) > 1)
    right = [newest.kinds.get(c) in ("int", "float", "bool") and c != "trial" for c in shown]
    rows = [[_cell(row.get(c), c, newest.kinds.get(c)) for c in shown] for row in printed]
    hidden = max(0, newest.total - limit) if limit is not None else 0
    _print_table(shown, right, rows, title, hidden, newest.total, more_hint, (), wide, metric)


TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _cell(value: Any, column: str, kind: str | None) -> str:
    """format_value of what the frame holds for `value`: a UTC time for start/end, a float in a float column."""
    if kind == "time":
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return time.strftime(TIME_FORMAT, time.gmtime(value)) if number else ""
    if kind == "float" and isinstance(value, int):
        value = float(value)
    return format_value(value, column)


def _print_table(shown: list[str], right: list[bool], rows: list[list[str]], title: str | None, hidden: int,
                 total: int, more_hint: str, fit: Sequence[str] | None = None, wide: bool = False,
                 metric: str | None = None) -> None:
    """`fit` (the columns asked about first; None: as given) fits the compact choice to the terminal; `wide`
    prints it whole, as piped."""
    if len(rows) > RICH_MAX_ROWS or not sys.stdout.isatty() or wide:  # piped: aligned text grep and cut can read
        _print_plain(shown, right, rows, title)
    elif fit is not None:
        _print_fitted(shown, right, rows, title, fit, metric)
    else:
        _print_rich(shown, right, rows, title)
    if hidden:
        print(f"... {hidden:,} more run{'s' if hidden != 1 else ''} not shown (the first {len(rows):,} of "
              f"{total:,}){more_hint}")


def _print_rich(shown: Sequence[str], right: Sequence[bool], rows: list[list[str]], title: str | None,
                headers: Sequence[str] | None = None, left_out_hint: str = "choose with --columns") -> None:
    from rich.markup import escape
    from rich.table import Table

    out = console()
    if headers is None:
        shown, right, rows, left_out = _fit(shown, right, rows, out.width)
        headers = [HEADERS.get(c, c) for c in shown]
    else:
        left_out = []  # fitted by the caller
    table = Table(title=title, show_edge=False, header_style="bold", pad_edge=False)
    for column, header, is_right in zip(shown, headers, right):
        # run names, times and numbers never break across lines: they are read and copied whole
        table.add_column(markup(header), no_wrap=column not in WRAPPED, overflow="ellipsis" if column == "error_message"
                         else "fold", justify="right" if is_right else "left")
    for cells in rows:
        styled = []
        for column, text in zip(shown, cells):
            style = _STATUS_STYLE.get(text) if column == "status" else None
            styled.append(f"[{style}]{text}[/]" if style else escape(text))  # text: inert already
        table.add_row(*styled)
    out.print(table)
    if left_out:
        print(f"({len(left_out)} more column{'s' if len(left_out) != 1 else ''} not shown at this width: "
              f"{', '.join(inert(HEADERS.get(c, c)) for c in left_out)}; {left_out_hint})")


def _print_fitted(shown: list[str], right: list[bool], rows: list[list[str]], title: str | None,
                  first: Sequence[str], metric: str | None) -> None:
    """The compact choice on a terminal: the columns that fit, chosen by what the user looks at. `metric`: the
    ranking column (the caller's, from the listed sweep's own ranking), else the default ranking's."""
    from tuner.console.columns import fit_columns, left_out_line

    cells = {c: [r[i] for r in rows] for i, c in enumerate(shown)}
    varying = [c for c in shown if c.startswith("flag_") and len(set(cells[c])) > 1]
    if metric is None:
        from tuner.runs.ranking import choose_ranking

        ranking = choose_ranking([c for c in shown if any(cells[c])])
        metric = ranking.column if ranking is not None else None
    width = console().width
    fitted = fit_columns(shown, cells, width, first, varying, metric)
    index = [shown.index(c) for c in fitted.columns]
    _print_rich(fitted.columns, [right[i] for i in index], [[r[i] for i in index] for r in rows], title,
                fitted.headers)
    if fitted.left_out:
        print(left_out_line([inert(c) for c in fitted.left_out], width))


def _fit(shown: Sequence[str], right: Sequence[bool], rows: list[list[str]], width: int
         ) -> tuple[list[str], list[bool], list[list[str]], list[str]]:
    """The leading columns whose cells fit `width` whole (numbers and run names are never split across lines);
    an error message may be cut short (the last column keeps what is left), a WRAPPED column takes more lines.
    Returns the columns left out."""
    widths = [max([len(inert(HEADERS.get(c, c)))] + [len(r[i]) for r in rows]) for i, c in enumerate(shown)]
    used, keep = 0, 0
    for i, w in enumerate(widths):
        need = min(w, WRAPPED.get(shown[i], w)) + (3 if i else 0)  # " │ " between columns
        if keep and used + need > width and shown[i] != "error_message":
            break
        used += need
        keep += 1
    if keep == len(shown):
        return list(shown), list(right), rows, []
    return list(shown[:keep]), list(right[:keep]), [r[:keep] for r in rows], list(shown[keep:])


def _print_plain(shown: Sequence[str], right: Sequence[bool], rows: list[list[str]], title: str | None) -> None:
    """Aligned columns without rich: thousands of rows in a fraction of a second (`tune ls --all`)."""
    headers = [inert(HEADERS.get(c, c)) for c in shown]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if is_right else c.ljust(w) for c, w, is_right in zip(cells, widths, right)).rstrip()

    out = [title] if title else []
    out += [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    sys.stdout.write("\n".join(out) + "\n")


def print_run_info(info: dict[str, Any]) -> None:
    from rich.markup import escape

    out = console()
    out.print(f"[bold]{markup(info['run_dir'])}[/]  {markup(info.get('status') or '')}")
    skip = {"run_dir", "metrics", "status"}
    for key, value in info.items():
        if key in skip or key.startswith("tag_") and value is None:
            continue
        text = format_value(value, key)  # inert already
        if text:
            out.print(f"  {markup(f'{key:<22}')} {escape(text)}")
    metrics = info.get("metrics")
    if metrics is not None and hasattr(metrics, "columns") and not metrics.empty:  # a DataFrame
        names = markup(", ".join(c for c in metrics.columns if c not in ("step", "timestamp")))
        out.print(f"  {'metrics':<22} {len(metrics)} steps ({names})")
