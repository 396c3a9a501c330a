"""Which columns of a runs table a terminal shows, and under which headers (`tune ls` on a terminal).

A listing can have dozens of columns (every flag, metric, evaluation value and tag some run recorded) and a
terminal has 80 or 120 characters. Cutting the table at its right edge showed run, status, start and time, and
none of the flags or metrics the user had just filtered on. So the columns are chosen by what the user is looking
at: the run and its status, then the columns the filter and the order name, then the flags whose values differ
between the printed runs, then the metric that ranks them (tuner.runs.ranking), then the rest in the table's own
order, as many as fit; headers lose their `flag_`/`metric_` prefix (unless two would then read the same) and are
cut past HEADER_CHARS; what is left out is named, with how to see it. Piped output is not fitted (it stays the full
plain table that grep and cut read).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

#: headers are cut to at most this many characters (or the column's widest value, if wider) on a terminal
HEADER_CHARS = 13
#: what the table prints between two columns (rich's " │ ")
GAP = 3
#: the table's own names for some columns
HEADERS = {"run_dir": "run", "duration_s": "time"}
_SHORTENED = ("flag_", "metric_")


@dataclass(frozen=True)
class Fitted:
    """The columns to show in display order, their headers, and the candidates left out (in their order)."""

    columns: list[str]
    headers: list[str]
    left_out: list[str] = field(default_factory=list)


def short_headers(columns: Sequence[str]) -> dict[str, str]:
    """`flag_learning_rate` -> `learning_rate`, `metric_val_acc` -> `val_acc`, `run_dir` -> `run`; a column whose
    short name another column would also have (a flag and a metric both called `acc`, or a column named so)
    keeps its full name."""
    short = {}
    for column in columns:
        name = HEADERS.get(column, column)
        for prefix in _SHORTENED:
            if column.startswith(prefix) and len(column) > len(prefix):
                name = column[len(prefix):]
        short[column] = name
    counts: dict[str, int] = {}
    for column in columns:
        counts[short[column]] = counts.get(short[column], 0) + 1
    for column in columns:
        if short[column] != column and column not in HEADERS and (counts[short[column]] > 1
                                                                  or short[column] in HEADERS.values()):
            short[column] = column
    return short


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def fit_columns(candidates: Sequence[str], cells: Mapping[str, Sequence[str]], width: int,
                first: Sequence[str] = (), varying: Sequence[str] = (), metric: str | None = None) -> Fitted:
    """The columns of `candidates` (the table's own order) that fit `width` characters, chosen in this order: run
    and status, `first` (the filter's and the order's columns), the flags in `varying`, `metric`, then the rest.
    `cells` holds each candidate's printed text per row. Shown in the table's order, except that `first` comes
    right after the status."""
    priority = [c for c in ("run_dir", "status") if c in candidates]
    priority += [c for c in first if c in candidates]
    priority += [c for c in candidates if c in varying and c.startswith("flag_")]
    priority += [c for c in (metric,) if c is not None and c in candidates]
    priority += list(candidates)
    priority = list(dict.fromkeys(priority))
    headers = short_headers(candidates)
    widths = {}
    for column in candidates:
        widest = max((len(text) for text in cells.get(column, ())), default=0)
        headers[column] = _cut(headers[column], max(HEADER_CHARS, widest))
        widths[column] = max(widest, len(headers[column]))
    chosen: list[str] = []
    used = 0
    for column in priority:
        need = widths[column] + (GAP if chosen else 0)
        if chosen and used + need > width:
            continue  # a narrower column further down the list may still fit
        chosen.append(column)
        used += need
    lead = [c for c in priority[:2] if c in ("run_dir", "status")]
    asked = [c for c in first if c in chosen and c not in lead]
    shown = lead + asked + [c for c in candidates if c in chosen and c not in lead and c not in asked]
    return Fitted(shown, [headers[c] for c in shown], [c for c in candidates if c not in chosen])


def left_out_line(left_out: Sequence[str], width: int) -> str:
    """`(9 more columns: start, flag_epochs, ...; `tune ls --wide` shows them, `--columns a,b` chooses)`, in at
    most two lines of `width`: the full names, as --columns and filters take them, as many as fit."""
    count = len(left_out)
    head = f"({count} more column{'s' if count != 1 else ''}: "
    tail = "; `tune ls --wide` shows them, `--columns a,b` chooses)"
    names: list[str] = []
    for name in left_out:
        more = ", ..." if len(names) + 1 < count else ""
        if names and len(head) + len(", ".join([*names, name])) + len(more) + len(tail) > 2 * width - 1:
            names.append("...")
            break
        names.append(name)
    return head + ", ".join(names) + tail
