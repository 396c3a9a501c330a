"""Terminal output of tables and records (rich); plain text when stdout is not a terminal."""

from __future__ import annotations

import math
import os
import sys
from typing import Any, Sequence

import pandas as pd

from tuner.errors import QueryError

MAX_PREFIXED = 6


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 240
    return Console(file=stream, width=width, soft_wrap=False, highlight=False)


def compact_columns(frame: pd.DataFrame) -> list[str]:
    columns = ["run_dir", "status", "start", "duration_s"]
    for prefix in ("flag_", "metric_", "eval_"):
        columns += [c for c in frame.columns if c.startswith(prefix)][:MAX_PREFIXED]
    if "sweep" in frame.columns:
        columns.append("sweep")
    return [c for c in columns if c in frame.columns]


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
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if column == "run_dir":
        return os.path.basename(str(value))
    if column == "duration_s" and isinstance(value, (int, float)):
        return format_duration(float(value))
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


_STATUS_STYLE = {"finished": "green", "failed": "red", "killed": "yellow", "timeout": "yellow", "lost": "magenta",
                 "running": "cyan"}


def print_runs_table(frame: pd.DataFrame, columns: Sequence[str] | None = None, title: str | None = None) -> None:
    if frame.empty:
        print("No runs found.")
        return
    from rich.table import Table

    shown = list(columns) if columns else compact_columns(frame)
    table = Table(title=title, show_edge=False, header_style="bold", pad_edge=False)
    for column in shown:
        header = {"run_dir": "run", "duration_s": "time"}.get(column, column)
        table.add_column(header, overflow="fold", justify="right" if pd.api.types.is_numeric_dtype(
            frame[column]) and column not in ("trial",) else "left")
    for _, row in frame.iterrows():
        cells = []
        for column in shown:
            text = format_value(row[column], column)
            style = _STATUS_STYLE.get(text) if column == "status" else None
            cells.append(f"[{style}]{text}[/]" if style else text.replace("[", r"\["))
        table.add_row(*cells)
    console().print(table)


def print_run_info(info: dict[str, Any]) -> None:
    out = console()
    out.print(f"[bold]{info['run_dir']}[/]  {info.get('status', '')}")
    skip = {"run_dir", "metrics", "status"}
    for key, value in info.items():
        if key in skip or key.startswith("tag_") and value is None:
            continue
        text = format_value(value, key)
        if text:
            out.print(f"  {key:<22} {text.replace('[', chr(92) + '[')}")
    metrics = info.get("metrics")
    if isinstance(metrics, pd.DataFrame) and not metrics.empty:
        names = ", ".join(c for c in metrics.columns if c not in ("step", "timestamp"))
        out.print(f"  {'metrics':<22} {len(metrics)} steps ({names})")
