"""Run directories written the way the runner writes them (atomic JSON, appended metrics), for listing tests."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from tuner.store.layout import RunPaths
from tuner.tracking import log_metrics
from workers.files import atomic_write_json


def make_run(runs_dir: str | Path, name: str, *, status: str = "finished", flags: Mapping[str, Any] | None = None,
             metrics: Sequence[Mapping[str, Any]] = (), evaluation: Mapping[str, Any] | None = None,
             start: float | None = None, heartbeat: float | None = None, end: float | None = None,
             tags: Mapping[str, str] | None = None, **run_fields: Any) -> str:
    """A run directory `runs_dir/name`; `running` runs get a fresh heartbeat unless one is given."""
    run_dir = os.path.join(os.fspath(runs_dir), name)
    paths = RunPaths(run_dir)
    os.makedirs(paths.meta, exist_ok=True)
    now = time.time()
    start = now - 60 if start is None else start
    record: dict[str, Any] = {"name": name, "status": status, "start": start, "script": "/src/train.py",
                              "argv": [], "user": "ada", "host": "box", "job_type": "training"}
    if status == "running":
        record.update(heartbeat=now if heartbeat is None else heartbeat, end=None)
    else:
        record.update(heartbeat=heartbeat or start + 30, end=end or start + 30, exit_code=0)
    record.update(run_fields)
    atomic_write_json(paths.run_json, record)
    atomic_write_json(paths.flags_json, dict(flags or {}))
    for step, values in enumerate(metrics, 1):
        log_metrics(step=step, run_dir=run_dir, **values)
    if evaluation is not None:
        atomic_write_json(paths.evaluation_json, dict(evaluation))
    if tags is not None:
        atomic_write_json(paths.tags_json, dict(tags))
    return run_dir
