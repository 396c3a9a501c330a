"""Jupyter: runs, views and sweep progress shown in the notebook instead of a browser or a terminal.

- `RunRecord._repr_html_` (a run as a small table: status, times, flags, last metrics, tags);
- `view_run()` / `compare_runs()` display their page inline, in a sandboxed iframe holding the whole
  self-contained page (`srcdoc`), when called inside a Jupyter kernel; the `save_*` functions return a
  path that renders as that iframe when it is a cell's value, and is a plain path everywhere else;
- a sweep started by `tuning_run` in a kernel shows an HTML progress bar updated in place (no terminal
  control codes; the kernel's stdout is not a terminal, so the rich live display stays off).

Nothing here imports IPython unless a kernel already did: outside Jupyter this costs nothing.
"""

from __future__ import annotations

import html
import os
import sys
import time
from typing import Any, Callable

#: height of an inline page, in CSS pixels
IFRAME_HEIGHT = 720
#: at most one progress update per this many seconds (the last one is always shown)
PROGRESS_INTERVAL_S = 0.5


def in_notebook() -> bool:
    """True inside a Jupyter (IPython) kernel; False in a script, a terminal IPython or a test."""
    if "IPython" not in sys.modules:  # a kernel has always imported IPython: never import it here
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def page_iframe(path: str, height: int = IFRAME_HEIGHT) -> str:
    """An iframe that holds the page at `path` itself (srcdoc): it works wherever the notebook is served
    from, and the sandbox lets the page's own scripts run without reaching the notebook."""
    with open(path, encoding="utf-8") as handle:
        page = handle.read()
    title = html.escape(os.path.basename(path))
    return (f'<iframe title="{title}" srcdoc="{html.escape(page, quote=True)}" sandbox="allow-scripts" '
            f'style="width: 100%; height: {int(height)}px; border: 1px solid #ddd;"></iframe>'
            f'<div style="font-size: 0.8em; color: #666;">{html.escape(os.path.abspath(path))}</div>')


def show_page(path: str) -> bool:
    """Display the page inline when inside a kernel; False (nothing shown) elsewhere."""
    if not in_notebook():
        return False
    from IPython.display import HTML, display

    display(HTML(page_iframe(path)))
    return True


class PagePath(str):
    """A saved page's path; as a notebook cell's value it shows the page inline."""

    def _repr_html_(self) -> str:
        return page_iframe(str(self))


# ---------------------------------------------------------------------------------------------------
# A run record

def _cell(value: Any) -> str:
    if isinstance(value, float):
        return html.escape(f"{value:.6g}")
    return html.escape("" if value is None else str(value))


def _rows(title: str, values: dict[str, Any]) -> str:
    if not values:
        return ""
    cells = "".join(f"<tr><td style='padding-left:1.5em'>{_cell(k)}</td><td>{_cell(v)}</td></tr>"
                    for k, v in values.items())
    return f"<tr><th colspan='2' style='text-align:left'>{html.escape(title)}</th></tr>{cells}"


def run_html(record: Any) -> str:
    """A RunRecord as an HTML table (every value escaped)."""
    facts = {"status": record.status, "script": record.script, "started": record.created_at,
             "runtime (s)": None if record.runtime is None else round(record.runtime, 1)}
    if record.sweep:
        facts["sweep"] = record.sweep
    body = (_rows("run", {k: v for k, v in facts.items() if v is not None}) + _rows("flags", record.config)
            + _rows("metrics (last)", record.summary) + _rows("tags", record.tags))
    return (f"<div><b>Run {html.escape(record.name)}</b> <code>{html.escape(record.run_dir)}</code>"
            f"<table>{body}</table></div>")


# ---------------------------------------------------------------------------------------------------
# Sweep progress

class NotebookProgress:
    """An HTML progress bar with the sweep's counts, updated in place through one display handle."""

    def __init__(self, total: int) -> None:
        from IPython.display import HTML, display

        self.total = max(int(total), 0)
        self._last = 0.0
        self._html: Callable[[str], Any] = HTML  # IPython's, untyped: called through this typed name
        self._handle = display(HTML(self._render(0, "starting")), display_id=True)

    def _render(self, done: int, status: str) -> str:
        total = self.total or 1
        return (f"<div><b>sweep</b> <progress value='{int(done)}' max='{total}' style='width: 20em'></progress> "
                f"{int(done)}/{self.total} &nbsp; {html.escape(status)}</div>")

    def update(self, done: int, status: str, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < PROGRESS_INTERVAL_S:
            return
        self._last = now
        if self._handle is not None:
            self._handle.update(self._html(self._render(done, status)))
