"""The status of a run, the state of a sweep's trial and the count of a sweep's trials by state: one type each,
with the behaviour every reader and writer needs.

workers/process.py writes the statuses of a run it executes (running, then its outcome) with its own
constants, because workers never import tuner; tests/workers_tests check both spell the same words.

Every view of a sweep's counts (the live progress, the end summary, `tune sweeps`, the report, the dashboard,
`SweepResult`) is a `TrialCounts` of `TrialState`s, so they cannot disagree and always add up to the trials planned.
Nothing here prints: the views make their own text from `TrialCounts.parts()` or the states' words.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping


class RunStatus(str, enum.Enum):
    """Lifecycle of a run. `lost` is derived on read from a stale heartbeat, and written by `tune resume`
    when it settles the runs of a dead driver."""

    QUEUED = "queued"  # a sweep trial submitted to Ray, waiting for a free slot
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    KILLED = "killed"
    TIMEOUT = "timeout"
    LOST = "lost"
    STOPPED = "stopped"  # ended early by a sweep's stopping rule (--stop): final, not a failure, never rerun
    #: paused at a rung by `--stop hyperband` (SIGTERM, checkpoint, exit; its slot freed): the trial may be promoted,
    #: continuing from its checkpoint as a new run with more budget. Not a failure, not rerun by resume as such (the
    #: sweep's scheduler decides); a sweep that ends leaves none paused (those not promoted end `stopped`)
    PAUSED = "paused"

    @classmethod
    def parse(cls, value: Any) -> RunStatus | None:
        """The status a run.json holds, None for a missing or unknown word."""
        try:
            return cls(value)
        except ValueError:
            return None

    def is_active(self) -> bool:
        """Not over yet: queued for a slot or running."""
        return self in (RunStatus.QUEUED, RunStatus.RUNNING)

    def is_terminated(self) -> bool:
        return not self.is_active()

    def is_finished(self) -> bool:
        """Ran to the end with exit status 0: the only status whose metrics can be a result (and a best)."""
        return self is RunStatus.FINISHED

    def is_stopped(self) -> bool:
        """Stopped early by the sweep's stopping rule: its metrics and artifacts are kept, it is not retried."""
        return self is RunStatus.STOPPED

    def is_paused(self) -> bool:
        """Paused at a rung by a promoting scheduler: may continue later from its checkpoint."""
        return self is RunStatus.PAUSED

    def is_failure(self) -> bool:
        """The script failed or ran out of time: counted as a failure, retried by --retries."""
        return self in (RunStatus.FAILED, RunStatus.TIMEOUT)

    def is_interrupted(self) -> bool:
        """Stopped from outside (Ctrl-C, a dead driver or node): not the script's fault, rerun by resume."""
        return self in (RunStatus.KILLED, RunStatus.LOST)

    @property
    def preference(self) -> int:
        """Which attempt speaks for a trial: finished > running > failed/timeout > killed/lost > queued."""
        return _PREFERENCE[self]


_PREFERENCE = {RunStatus.FINISHED: 5, RunStatus.STOPPED: 4, RunStatus.RUNNING: 3, RunStatus.FAILED: 2, RunStatus.TIMEOUT: 2,
               RunStatus.PAUSED: 2, RunStatus.KILLED: 1, RunStatus.LOST: 1, RunStatus.QUEUED: 0}


class Rerun(enum.Enum):
    """What `tune resume` does with a trial in a state."""

    NEVER = "never"  # over for good: finished, stopped early, reused by --skip-done
    ALWAYS = "always"  # never ran, or did not get to its end through no fault of its own
    IF_RETRYING = "unless --no-retry-failed"  # the script failed: rerun unless told not to


class TrialState(str, enum.Enum):
    """A sweep trial's state (a trial may take several attempts, each a run): that of the attempt that speaks for it
    (RunStatus.preference), grouped, or a state no run stands behind (`pending`: no attempt yet, or queued for a slot;
    `skipped`: --skip-done reused a finished run). Adding a state is one line here: its word, the run statuses it
    stands for, how a summary says it, whether it is over (a trial done, for the progress), what resume does with
    it; every count and view follows. The order is the order every view lists them in."""

    #             word           run statuses it stands for             a summary says it         over   resume
    FINISHED =    ("finished",    (RunStatus.FINISHED,),                 "finished",               True,  Rerun.NEVER)
    STOPPED =     ("stopped",     (RunStatus.STOPPED,),                  "stopped early",          True,  Rerun.NEVER)
    PAUSED =      ("paused",      (RunStatus.PAUSED,),                   "paused",                 False, Rerun.NEVER)
    FAILED =      ("failed",      (RunStatus.FAILED, RunStatus.TIMEOUT), "failed",                 True,  Rerun.IF_RETRYING)
    INTERRUPTED = ("interrupted", (RunStatus.KILLED, RunStatus.LOST),    "interrupted",            True,  Rerun.ALWAYS)
    RUNNING =     ("running",     (RunStatus.RUNNING,),                  "running",                False, Rerun.ALWAYS)
    PENDING =     ("pending",     (RunStatus.QUEUED,),                   "pending",                False, Rerun.ALWAYS)
    SKIPPED =     ("skipped",     (),                                    "skipped (already done)", True,  Rerun.NEVER)

    run_statuses: tuple[RunStatus, ...]
    phrase: str
    over: bool
    rerun: Rerun

    def __new__(cls, word: str, run_statuses: tuple[RunStatus, ...], phrase: str, over: bool,
                rerun: Rerun) -> TrialState:
        member = str.__new__(cls, word)
        member._value_ = word
        member.run_statuses, member.phrase, member.over, member.rerun = run_statuses, phrase, over, rerun
        return member

    @classmethod
    def of_run(cls, status: RunStatus | None) -> TrialState:
        """The state a trial is in when `status` is its best attempt's (None: no attempt yet)."""
        return _OF_RUN[status] if status is not None else cls.PENDING

    @classmethod
    def parse(cls, value: Any) -> TrialState | None:
        """The state a word names (`pending`), None for any other value."""
        return _BY_WORD.get(value) if isinstance(value, str) else None

    def is_over(self) -> bool:
        """Done, as far as this execution of the sweep goes (counted as done by the progress)."""
        return self.over

    def resume_reruns(self, retry_failed: bool = True) -> bool:
        """Whether `tune resume` runs the trial again (`retry_failed`: False with --no-retry-failed)."""
        return self.rerun is Rerun.ALWAYS or (retry_failed and self.rerun is Rerun.IF_RETRYING)


_OF_RUN = {status: state for state in TrialState for status in state.run_statuses}
_BY_WORD = {state.value: state for state in TrialState}


@dataclass(frozen=True)
class TrialCounts:
    """A sweep's trials (not attempts) by state: the one count every view of a sweep derives from. Every state is
    present (0 when none), and `planned` is their sum, so the counts add up by construction. A value: events
    (the live progress) make a new one with `moved`."""

    counts: tuple[int, ...]  # one per TrialState, in its order

    def __post_init__(self) -> None:
        if len(self.counts) != len(TrialState) or any(n < 0 for n in self.counts):
            raise ValueError(f"a count per trial state, none negative: got {self.counts}")

    @classmethod
    def of(cls, states: Iterable[TrialState]) -> TrialCounts:
        """Counts of the trial states given (one per planned trial)."""
        tally = dict.fromkeys(TrialState, 0)
        for state in states:
            tally[state] += 1
        return cls(tuple(tally.values()))

    @classmethod
    def from_mapping(cls, counts: Mapping[TrialState, int]) -> TrialCounts:
        return cls(tuple(int(counts.get(state, 0)) for state in TrialState))

    @classmethod
    def planned_only(cls, planned: int) -> TrialCounts:
        """`planned` trials, none run yet."""
        return cls.from_mapping({TrialState.PENDING: planned})

    def __getitem__(self, state: TrialState) -> int:
        return self.counts[_INDEX[state]]

    def __iter__(self) -> Iterator[tuple[TrialState, int]]:
        """(state, count) for every state, in TrialState's order."""
        return iter(zip(TrialState, self.counts))

    def moved(self, source: TrialState, target: TrialState, n: int = 1) -> TrialCounts:
        """These counts with `n` trials gone from `source` to `target` (a trial started, ended, was requeued)."""
        counts = list(self.counts)
        counts[_INDEX[source]] -= n
        counts[_INDEX[target]] += n
        return TrialCounts(tuple(counts))

    @property
    def planned(self) -> int:
        return sum(self.counts)

    @property
    def over(self) -> int:
        """Trials done (TrialState.is_over): finished, stopped, failed, interrupted or skipped."""
        return sum(n for state, n in self if state.is_over())

    def left_to_rerun(self, retry_failed: bool = True) -> int:
        """Trials `tune resume` would run (TrialState.resume_reruns)."""
        return sum(n for state, n in self if state.resume_reruns(retry_failed))

    def as_dict(self) -> dict[str, int]:
        """`{"planned": 10, "finished": 4, ...}`: every state by its word (the dashboard's JSON, tables)."""
        return {"planned": self.planned, **{state.value: n for state, n in self}}

    def parts(self) -> list[str]:
        """`["4 finished", "1 stopped early", "0 failed", "2 pending"]`: every state with trials, and finished and
        failed always (the two a reader looks for), as a summary says them."""
        return [f"{n} {state.phrase}" for state, n in self if n or state in (TrialState.FINISHED, TrialState.FAILED)]

    def describe(self) -> str:
        """`4 finished, 3 failed, 2 interrupted, 1 pending of 10 trials`: the sweep's last line."""
        return f"{', '.join(self.parts())} of {self.planned} trial{'s' if self.planned != 1 else ''}"

    # the states read by name most often
    @property
    def finished(self) -> int:
        return self[TrialState.FINISHED]

    @property
    def stopped(self) -> int:
        return self[TrialState.STOPPED]

    @property
    def failed(self) -> int:
        """Failed or timed out, after its retries."""
        return self[TrialState.FAILED]

    @property
    def interrupted(self) -> int:
        """Killed or lost (Ctrl-C, a dead driver or node): rerun by resume."""
        return self[TrialState.INTERRUPTED]

    @property
    def paused(self) -> int:
        """Paused at a rung (--stop hyperband) or to exploit (--search pbt): goes on later as a new run."""
        return self[TrialState.PAUSED]

    @property
    def running(self) -> int:
        return self[TrialState.RUNNING]

    @property
    def pending(self) -> int:
        return self[TrialState.PENDING]

    @property
    def skipped(self) -> int:
        return self[TrialState.SKIPPED]


_INDEX = {state: i for i, state in enumerate(TrialState)}
