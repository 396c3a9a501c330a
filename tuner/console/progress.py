"""The display of a sweep's progress (tuner.sweep.progress reports it on the channel; tuner.console.echo hands its
records here): a rich live bar on a terminal, plain lines otherwise, and in a Jupyter kernel an HTML bar too.

The display reads the progress it is given through `ProgressView` and imports nothing of the library, so the
channel can subscribe the console's renderer without an import circle.
"""

from __future__ import annotations

import sys
from typing import Any, Protocol

from tuner.console.inert import inert, markup


class ProgressView(Protocol):
    """What a display reads of a sweep's progress (tuner.sweep.progress.SweepProgress)."""

    quiet: bool
    counts: Any  # a tuner.store.status.TrialCounts: .planned, .over

    def status_text(self) -> str: ...

    def eta_text(self) -> str: ...


def print_line(text: str, style: str | None = None) -> None:
    """A progress line with no live display: a failure ("red") on stderr, the others on stdout; inert, since it
    quotes run names, errors and the trial's own stderr, which can hold anything a script printed."""
    print(inert(text, keep_newlines=True), file=sys.stderr if style == "red" else sys.stdout, flush=True)


class SweepDisplay:
    def __init__(self, progress: ProgressView) -> None:
        self.progress = progress
        self._live: Any = None  # rich.progress.Progress on a terminal
        self._task: Any = None
        self._notebook: Any = None  # tuner.notebook.NotebookProgress inside a Jupyter kernel

    def start(self) -> None:
        from tuner.notebook import NotebookProgress, in_notebook

        if self.progress.quiet:
            return
        if in_notebook():
            self._notebook = NotebookProgress(self.progress.counts.planned)
        stream = sys.stdout
        if not stream.isatty():
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._live = Progress(TextColumn("[bold]sweep"), BarColumn(), TextColumn("{task.fields[status]}"),
                              TimeElapsedColumn(), TextColumn("{task.fields[eta]}"), console=Console(file=stream),
                              transient=False)
        self._task = self._live.add_task("sweep", total=self.progress.counts.planned,
                                         status=markup(self.progress.status_text()), eta=self.progress.eta_text())
        self._live.start()

    def stop(self) -> None:
        if self._notebook is not None:
            self._notebook.update(self.progress.counts.over, self.progress.status_text(), final=True)
        if self._live is not None:
            self.refresh()
            self._live.stop()
            self._live = None

    def line(self, text: str, style: str | None, shown_live: bool) -> None:
        """A line above the display; `shown_live`: a trial's line, which the live bar's counts already show."""
        if self._live is None:
            print_line(text, style)
        elif not shown_live:
            from rich.text import Text

            self._live.console.print(Text(inert(text, keep_newlines=True), style=style or ""))

    def refresh(self) -> None:
        if self._notebook is not None:
            self._notebook.update(self.progress.counts.over, self.progress.status_text())
        if self._live is not None:
            self._live.update(self._task, completed=self.progress.counts.over,
                              status=markup(self.progress.status_text()), eta=self.progress.eta_text())
