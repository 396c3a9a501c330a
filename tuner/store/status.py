"""The status of a run: one type, with the behaviour every reader and writer needs.

workers/process.py writes the statuses of a run it executes (running, then its outcome) with its own
constants, because workers never import tuner; tests/workers_tests check both spell the same words.
"""

from __future__ import annotations

import enum
from typing import Any


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
