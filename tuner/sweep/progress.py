"""A sweep's progress as it happens: done / running / failed / total, elapsed and ETA, the best metric so far, and
each failure the moment it happens, reported on the channel (tuner.channel) for a display to show.

This module keeps the counts (a TrialCounts: the states `tune sweeps` counts) and writes the lines; it prints
nothing. Every change is one record on the `tuner.sweep.progress` logger carrying the event (`sweep_event`, a
channel.SweepEvent), this object (`sweep_progress`) and, for a message, its style (`sweep_style`: "red" for a
failure, "green" for a goal reached): tuner.console.progress renders them as a live bar on a terminal, plain lines
elsewhere, and a bar in a notebook. A quiet sweep logs its ordinary lines and its start at DEBUG, so no display
starts and only failures show.
"""

from __future__ import annotations

import logging
import math
import os
import time
from typing import Sequence

from tuner import channel
from tuner.channel import SweepEvent
from tuner.store.status import RunStatus, TrialCounts, TrialState
from tuner.values import format_duration

log = channel.logger(__name__)


class SweepProgress:
    """The progress of one execution of a sweep (its `total` trials: those it runs, and those --skip-done reuses).
    Its counts are a TrialCounts kept by the events below, so they are the states `tune sweeps` would count."""

    def __init__(self, total: int, metric: str | None, mode: str, quiet: bool = False,
                 objectives: Sequence[tuple[str, str]] = ()) -> None:
        #: every trial sent to the cluster counts as running here (`counts` shows those past the slots as pending)
        self._tally = TrialCounts.planned_only(total)
        self.slots: int | None = None  # how many trials the cluster can run at once
        self.metric = metric
        self.mode = mode
        self.quiet = quiet
        self.best: float | None = None
        self.best_run: str | None = None
        #: a multi-objective sweep's (metric, mode) pairs: it has no best, its lines say the size of its live front
        self.objectives = tuple(objectives) if len(objectives) > 1 else ()
        #: the front so far: the costs (tuner.search.pareto: smaller better) of the finished, feasible trials with
        #: every metric that no other such trial dominates, kept as each trial ends (O(front) a trial)
        self.front: list[tuple[float, ...]] = []
        self.started = time.monotonic()

    @property
    def counts(self) -> TrialCounts:
        """This execution's trials by state. A trial sent to the cluster past its slots waits in a queue: pending,
        as `tune sweeps` counts a queued run."""
        waiting = self._tally.running - self.slots if self.slots is not None else 0
        return self._tally.moved(TrialState.RUNNING, TrialState.PENDING, waiting) if waiting > 0 else self._tally

    def _move(self, source: TrialState, target: TrialState, n: int = 1) -> None:
        self._tally = self._tally.moved(source, target, min(n, self._tally[source]))

    # -- lifecycle
    def start(self) -> None:
        self._report(SweepEvent.STARTED, logging.DEBUG if self.quiet else logging.INFO,
                     f"sweep of {self.counts.planned} trials: {self.status_text()}")

    def stop(self) -> None:
        self._report(SweepEvent.STOPPED, logging.DEBUG if self.quiet else logging.INFO, self.status_text())

    # -- events
    def skipped(self, count: int) -> None:
        self._move(TrialState.PENDING, TrialState.SKIPPED, count)
        self._changed()

    def trial_started(self) -> None:
        self._move(TrialState.PENDING, TrialState.RUNNING)
        self._changed()

    def trial_requeued(self) -> None:
        """A trial sent to the cluster comes back to the queue without having run (tuner.sweep.loop)."""
        self._move(TrialState.RUNNING, TrialState.PENDING)
        self._changed()

    def trial_not_started(self) -> None:
        """A trial cancelled before it started (Ctrl-C): it has no run and stays pending; nothing to say per trial
        (the sweep's last lines count the pending ones and say how to resume)."""
        self._move(TrialState.RUNNING, TrialState.PENDING)
        self._changed()

    def paused(self, count: int) -> None:
        """`count` trials of a resumed sweep wait paused (its scheduler promotes or relaunches them)."""
        self._move(TrialState.PENDING, TrialState.PAUSED, count)

    def trial_promoted(self) -> None:
        """A paused trial (--stop hyperband, --search pbt) goes on as a new run: back to the queue, then started."""
        self._move(TrialState.PAUSED, TrialState.PENDING)
        self._changed()

    def trial_not_promoted(self) -> None:
        """The sweep is over and a paused trial was never promoted: its run ends stopped."""
        self._move(TrialState.PAUSED, TrialState.STOPPED)
        self._changed()

    def trial_done(self, name: str, status: str, duration_s: float, metric_value: float | None,
                   exit_code: int | None = None, error: str | None = None, stderr_tail: Sequence[str] = (),
                   will_retry: bool = False, flags: str = "", feasible: bool = True,
                   values: Sequence[float | None] = ()) -> None:
        """`flags`: the trial's values of the flags that vary (`lr=0.01 l2=0`), said after its run's name;
        `feasible` False when its run breaks one of the sweep's constraints (it is then never the best so far, nor
        on the front: tuner.runs.ranking); `values`: a multi-objective sweep's metrics of the run, in the order of
        `objectives` (None where it has none)."""
        shown = f" ({flags})" if flags else ""
        parsed = RunStatus.parse(status)
        # a retried attempt: its trial waits for the next one; an unknown status is no success
        state = TrialState.PENDING if will_retry else TrialState.of_run(parsed) if parsed else TrialState.FAILED
        self._move(TrialState.RUNNING if self._tally.running else TrialState.PENDING, state)
        finished = status == RunStatus.FINISHED  # only a finished run can be the best (tuner.runs.ranking)
        if finished and feasible and metric_value is not None and _better(metric_value, self.best, self.mode):
            self.best, self.best_run = metric_value, name
        if finished and feasible and self.objectives:
            self._add_to_front(values)
        if status == RunStatus.STOPPED:
            self._line(f"[{self.done_text()}] stopped {name}{shown} early: {error or ''}{self.best_text()}")
        elif status == RunStatus.PAUSED:  # at a rung, or to exploit another trial: it goes on later as a new run
            self._line(f"paused {name}{shown}: {error or ''}")
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
            value += "".join(f" {m}={v:.4g}" for (m, _), v in zip(self.objectives, values) if v is not None)
            value += "" if feasible else " (breaks a constraint)"
            self._line(f"[{self.done_text()}] finished {name}{shown} "
                       f"in {format_duration(duration_s)}{value}{self.best_text()}")

    def message(self, text: str, style: str | None = None) -> None:
        """One message above the display: "red" ones (a failure, why the sweep stops) on stderr and even when
        quiet, the others on stdout unless quiet."""
        level = logging.WARNING if style == "red" else logging.DEBUG if self.quiet else logging.INFO
        self._report(SweepEvent.MESSAGE, level, text, style)

    def _add_to_front(self, values: Sequence[float | None]) -> None:
        """A finished, feasible trial joins the live front unless a trial on it dominates it; those it dominates
        leave. Equal points are both on it (tuner.search.pareto.nondominated)."""
        from tuner.search.pareto import dominates

        if len(values) != len(self.objectives) or any(v is None or not math.isfinite(v) for v in values):
            return  # without every metric a trial is on no front
        cost = tuple(-float(v) if mode == "max" else float(v)  # type: ignore[arg-type]
                     for v, (_, mode) in zip(values, self.objectives))
        if any(dominates(other, cost) for other in self.front):
            return
        self.front = [other for other in self.front if not dominates(cost, other)] + [cost]

    # -- text
    def best_text(self) -> str:
        """` | best loss 0.25 (run)`, or a multi-objective sweep's ` | front: 4 runs` (it has no best)."""
        if self.objectives:
            return f" | {self.front_text()}" if self.front else ""
        if self.metric is None or self.best is None:
            return ""
        return f" | best {self.metric} {self.best:.4g} ({os.path.basename(self.best_run or '')})"

    def front_text(self) -> str:
        return f"front: {len(self.front)} run{'s' if len(self.front) != 1 else ''}"

    def done_text(self) -> str:
        """`5/10`: the trials over (TrialState.is_over) of those this execution has."""
        return f"{self.counts.over}/{self.counts.planned}"

    def status_text(self) -> str:
        """`5/10 trials done · 2 running · 1 failed` (done = over: TrialState.is_over), then every other state that
        is over, and the paused (not over: they go on when promoted), when it has trials; the finished and the
        skipped are only in `done` (the skipped were said once).
        Then the best so far (` | best loss 0.25 (run)`), or a multi-objective sweep's live front (` · front: 4
        runs`, once a finished trial has every metric)."""
        c = self.counts
        text = f"{self.done_text()} trials done · {c.running} running"
        for state, n in c:
            if n and (state.is_over() or state is TrialState.PAUSED) and \
                    state not in (TrialState.FINISHED, TrialState.SKIPPED):
                text += f" · {n} {state.value}"
        if self.objectives:
            return text + (f" · {self.front_text()}" if self.front else "")
        return text + self.best_text()

    def eta_s(self, now: float | None = None) -> float | None:
        """Seconds left: the mean wall time per trial run so far (skipped ones excluded) times the trials left;
        None before any trial ran to its end."""
        c = self.counts
        ran = c.over - c.skipped
        left = c.planned - c.over
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
