"""Live progress of a sweep: done / running / failed / total, elapsed and ETA, best metric so far, and each
failure the moment it happens. A rich live display on a terminal, plain lines otherwise, nothing with quiet."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Sequence

from tuner.console.inert import inert, markup
from tuner.store.status import RunStatus
from tuner.values import format_duration


@dataclass
class Counts:
    total: int
    done: int = 0
    failed: int = 0
    in_flight: int = 0  # submitted to Ray: running, or queued for a free slot
    slots: int | None = None  # how many trials the cluster can run at once
    skipped: int = 0
    stopped: int = 0  # ended early by --stop (not failures)
    interrupted: int = 0  # killed or lost (Ctrl-C): over, but neither finished nor failed

    @property
    def running(self) -> int:
        return self.in_flight if self.slots is None else min(self.in_flight, self.slots)


class SweepProgress:
    def __init__(self, total: int, metric: str | None, mode: str, quiet: bool = False, stream: Any = None) -> None:
        self.counts = Counts(total)
        self.metric = metric
        self.mode = mode
        self.quiet = quiet
        self.stream = stream or sys.stdout
        self.best: float | None = None
        self.best_run: str | None = None
        self.started = time.monotonic()
        self._progress: Any = None
        self._task: Any = None
        self._notebook: Any = None  # tuner.notebook.NotebookProgress inside a Jupyter kernel

    # -- lifecycle
    def start(self) -> None:
        from tuner.notebook import NotebookProgress, in_notebook

        if not self.quiet and in_notebook():
            self._notebook = NotebookProgress(self.counts.total)
        if self.quiet or not self.stream.isatty():
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(file=self.stream)
        self._progress = Progress(TextColumn("[bold]sweep"), BarColumn(), TextColumn("{task.fields[status]}"),
                                  TimeElapsedColumn(), TextColumn("{task.fields[eta]}"), console=console,
                                  transient=False)
        self._task = self._progress.add_task("sweep", total=self.counts.total, status=markup(self._status_text()),
                                            eta=self._eta_text())
        self._progress.start()

    def stop(self) -> None:
        if self._notebook is not None:
            self._notebook.update(self.counts.done, self._status_text(), final=True)
        if self._progress is not None:
            self._refresh()
            self._progress.stop()
            self._progress = None

    # -- events
    def skipped(self, count: int) -> None:
        self.counts.skipped += count
        self.counts.done += count
        self._refresh()

    def trial_started(self) -> None:
        self.counts.in_flight += 1
        self._refresh()

    def trial_requeued(self) -> None:
        """A trial sent to the cluster comes back to the queue without having run (tuner.sweep.loop)."""
        self.counts.in_flight = max(0, self.counts.in_flight - 1)
        self._refresh()

    def trial_not_started(self) -> None:
        """A trial cancelled before it started (Ctrl-C): it has no run and stays pending; nothing to say per trial
        (the sweep's last lines count the pending ones and say how to resume)."""
        self.counts.in_flight = max(0, self.counts.in_flight - 1)
        self._refresh()

    def trial_done(self, name: str, status: str, duration_s: float, metric_value: float | None,
                   exit_code: int | None = None, error: str | None = None, stderr_tail: Sequence[str] = (),
                   will_retry: bool = False, flags: str = "", feasible: bool = True) -> None:
        """`flags`: the trial's values of the flags that vary (`lr=0.01 l2=0`), said after its run's name;
        `feasible` False when its run breaks one of the sweep's constraints (it is then never the best so far:
        tuner.runs.ranking)."""
        shown = f" ({flags})" if flags else ""
        self.counts.in_flight = max(0, self.counts.in_flight - 1)
        if not will_retry:
            self.counts.done += 1
            parsed = RunStatus.parse(status)
            if parsed is RunStatus.STOPPED or parsed is RunStatus.PAUSED:  # a paused trial is over for now
                self.counts.stopped += 1
            elif parsed is not None and parsed.is_interrupted():
                self.counts.interrupted += 1
            else:
                self.counts.failed += status != RunStatus.FINISHED
        finished = status == RunStatus.FINISHED  # only a finished run can be the best (tuner.runs.ranking)
        if finished and feasible and metric_value is not None and _better(metric_value, self.best, self.mode):
            self.best, self.best_run = metric_value, name
        if status == RunStatus.STOPPED:
            if self._progress is None and not self.quiet:
                self.message(f"[{self.counts.done}/{self.counts.total}] stopped {name}{shown} early: {error or ''}"
                             f"{self._best_text()}")
        elif status == RunStatus.PAUSED:
            if self._progress is None and not self.quiet:
                self.message(f"paused {name}: {error or ''}")
        elif not finished:
            retry = " (will retry)" if will_retry else ""
            said = f"exit status {exit_code}"  # and the error, unless it says only that (a script that left none)
            lines = [f"trial {name}{shown} {status.upper()}{retry}: {said}"
                     + (f"; {error}" if error and error != said else "")]
            # a line as the terminal showed it: after its last carriage return (a progress bar redrawn in place)
            lines += ["    " + line.rstrip("\r\n").rsplit("\r", 1)[-1] for line in list(stderr_tail)[-5:]]
            self.message("\n".join(lines), style="red")
        elif self._progress is None and not self.quiet:
            value = f" {self.metric}={metric_value:.4g}" if metric_value is not None else ""
            value += "" if feasible else " (breaks a constraint)"
            self.message(f"[{self.counts.done}/{self.counts.total}] finished {name}{shown} "
                         f"in {format_duration(duration_s)}{value}{self._best_text()}")
        self._refresh()

    def message(self, text: str, style: str | None = None) -> None:
        """One message above the display: inert (tuner.console.inert), since it quotes run names, errors and the
        trial's own stderr, which can hold anything a script printed or a flag value held."""
        if self.quiet and style != "red":
            return
        text = inert(text, keep_newlines=True)
        if self._progress is not None:
            from rich.text import Text

            self._progress.console.print(Text(text, style=style or ""))
        else:
            print(text, file=self.stream if style != "red" else sys.stderr, flush=True)

    # -- text
    def _best_text(self) -> str:
        if self.metric is None or self.best is None:
            return ""
        return f" | best {self.metric} {self.best:.4g} ({os.path.basename(self.best_run or '')})"

    def _status_text(self) -> str:
        """`5/10 trials done · 2 running · 1 failed` (done = over: finished, failed or interrupted)."""
        c = self.counts
        text = f"{c.done}/{c.total} trials done · {c.running} running"
        if c.failed:
            text += f" · {c.failed} failed"
        if c.stopped:
            text += f" · {c.stopped} stopped"
        if c.interrupted:
            text += f" · {c.interrupted} interrupted"
        return text + self._best_text()

    def eta_s(self, now: float | None = None) -> float | None:
        """Seconds left: the mean wall time per trial run so far (skipped ones excluded) times the trials left;
        None before any trial ran to its end."""
        c = self.counts
        ran = c.done - c.skipped
        left = c.total - c.done
        if left <= 0:
            return 0.0
        if ran <= 0:
            return None
        elapsed = (time.monotonic() if now is None else now) - self.started
        return elapsed / ran * left

    def _eta_text(self) -> str:
        eta = self.eta_s()
        return "eta —" if eta is None else f"eta {format_duration(eta)}"

    def _refresh(self) -> None:
        if self._notebook is not None:
            self._notebook.update(self.counts.done, self._status_text())
        if self._progress is not None:
            self._progress.update(self._task, completed=self.counts.done, status=markup(self._status_text()),
                                  eta=self._eta_text())


def _better(value: float, best: float | None, mode: str) -> bool:
    return best is None or (value > best if mode == "max" else value < best)
