"""The status of a run: one type, with the behaviour every reader and writer needs."""

from __future__ import annotations

import enum


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


