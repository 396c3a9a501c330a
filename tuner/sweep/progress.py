"""A sweep's progress as it happens: done / running / failed / total, elapsed and ETA, the best metric so far, and
each failure the moment it happens, reported on the channel (tuner.channel) for a display to show.

This module keeps the counts and writes the lines; it prints nothing. Every change is one record on the
`tuner.sweep.progress` logger carrying the event (`sweep_event`, a channel.SweepEvent), this object
(`sweep_progress`) and, for a message, its style (`sweep_style`: "red" for a failure, "green" for a goal reached):
tuner.console.progress renders them as a live bar on a terminal, plain lines elsewhere, and a bar in a notebook.
A quiet sweep logs its ordinary lines and its start at DEBUG, so no display starts and only failures show.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Sequence

from tuner import channel
from tuner.channel import SweepEvent
from tuner.store.status import RunStatus
from tuner.values import format_duration

log = channel.logger(__name__)


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
    def __init__(self, total: int, metric: str | None, mode: str, quiet: bool = False) -> None:
        self.counts = Counts(total)
        self.metric = metric
        self.mode = mode
        self.quiet = quiet
        self.best: float | None = None
        self.best_run: str | None = None
        self.started = time.monotonic()

    # -- lifecycle
    def start(self) -> None:
        self._report(SweepEvent.STARTED, logging.DEBUG if self.quiet else logging.INFO,
                     f"sweep of {self.counts.total} trials: {self.status_text()}")

    def stop(self) -> None:
        self._report(SweepEvent.STOPPED, logging.DEBUG if self.quiet else logging.INFO, self.status_text())

    # -- events
    def skipped(self, count: int) -> None:
        self.counts.skipped += count
        self.counts.done += count
        self._changed()

    def trial_started(self) -> None:
        self.counts.in_flight += 1
        self._changed()

    def trial_requeued(self) -> None:
        """A trial sent to the cluster comes back to the queue without having run (tuner.sweep.loop)."""
        self.counts.in_flight = max(0, self.counts.in_flight - 1)
        self._changed()

    def trial_not_started(self) -> None:
        """A trial cancelled before it started (Ctrl-C): it has no run and stays pending; nothing to say per trial
        (the sweep's last lines count the pending ones and say how to resume)."""
        self.counts.in_flight = max(0, self.counts.in_flight - 1)
        self._changed()

    def trial_done(self, name: str, status: str, duration_s: float, metric_value: float | None,
                   exit_code: int | None = None, error: str | None = None, stderr_tail: Sequence[str] = (),
                   will_retry: bool = False, flags: str = "") -> None:
        """`flags`: the trial's values of the flags that vary (`lr=0.01 l2=0`), said after its run's name."""
        shown = f" ({flags})" if flags else ""
        self.counts.in_flight = max(0, self.counts.in_flight - 1)
        if not will_retry:
            self.counts.done += 1
            parsed = RunStatus.parse(status)
            if parsed is RunStatus.STOPPED:
                self.counts.stopped += 1
            elif parsed is not None and parsed.is_interrupted():
                self.counts.interrupted += 1
            else:
                self.counts.failed += status != RunStatus.FINISHED
        finished = status == RunStatus.FINISHED  # only a finished run can be the best (tuner.runs.ranking)
        if finished and metric_value is not None and _better(metric_value, self.best, self.mode):
            self.best, self.best_run = metric_value, name
        if status == RunStatus.STOPPED:
            self._line(f"[{self.counts.done}/{self.counts.total}] stopped {name}{shown} early: {error or ''}"
                       f"{self.best_text()}")
        elif not finished:
            retry = " (will retry)" if will_retry else ""
            said = f"exit status {exit_code}"  # and the error, unless it says only that (a script that left none)
            lines = [f"trial {name}{shown} {status.upper()}{retry}: {said}"
                     + (f"; {error}" if error and error != said else "")]
            # a line as the terminal showed it: after its last carriage return (a progress bar redrawn in place)
            lines += ["    " + line.rstrip("\r\n").rsplit("\r", 1)[-1] for line in list(stderr_tail)[-5:]]
            self.message("\n".join(lines), style="red")
        else:
            value = f" {self.metric}={metric_value:.4g}" if metric_value is not None else ""
            self._line(f"[{self.counts.done}/{self.counts.total}] finished {name}{shown} "
                       f"in {format_duration(duration_s)}{value}{self.best_text()}")

    def message(self, text: str, style: str | None = None) -> None:
        """One message above the display: "red" ones (a failure, why the sweep stops) on stderr and even when
        quiet, the others on stdout unless quiet."""
        level = logging.WARNING if style == "red" else logging.DEBUG if self.quiet else logging.INFO
        self._report(SweepEvent.MESSAGE, level, text, style)

    # -- text
    def best_text(self) -> str:
        if self.metric is None or self.best is None:
            return ""
        return f" | best {self.metric} {self.best:.4g} ({os.path.basename(self.best_run or '')})"

    def status_text(self) -> str:
        """`5/10 trials done · 2 running · 1 failed` (done = over: finished, failed or interrupted)."""
        c = self.counts
        text = f"{c.done}/{c.total} trials done · {c.running} running"
        if c.failed:
            text += f" · {c.failed} failed"
        if c.stopped:
            text += f" · {c.stopped} stopped"
        if c.interrupted:
            text += f" · {c.interrupted} interrupted"
        return text + self.best_text()

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

    def eta_text(self) -> str:
        eta = self.eta_s()
        return "eta —" if eta is None else f"eta {format_duration(eta)}"

    # -- the channel
    def _line(self, text: str) -> None:
        """A trial's line: shown by a plain display (a live bar shows the counts instead)."""
        self._report(SweepEvent.TRIAL, logging.DEBUG if self.quiet else logging.INFO, text)

    def _changed(self) -> None:
        self._report(SweepEvent.CHANGED, logging.DEBUG if self.quiet else logging.INFO, self.status_text())

    def _report(self, event: SweepEvent, level: int, text: str, style: str | None = None) -> None:
        if log.isEnabledFor(level):
            log.log(level, "%s", text, extra={"sweep_event": event, "sweep_progress": self, "sweep_style": style})


def _better(value: float, best: float | None, mode: str) -> bool:
    return best is None or (value > best if mode == "max" else value < best)
