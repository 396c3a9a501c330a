"""Metrics from printed lines (`loss: 0.3`, `epoch 3 loss=0.25 acc=0.91`) for scripts that never import tuner."""

from __future__ import annotations

import math
import os
import re
import time
from typing import Any

from workers.files import atomic_write_text, dumps_json

from .store import RunPaths

_STEP_WORDS = re.compile(r"\b(?P<name>epoch|step)\s+(?P<value>\d+)\b", re.IGNORECASE)
#: bounds so a chatty script cannot make the parse slow: only the log's tail is read
MAX_LOG_BYTES = 20_000_000


def parse_metric_lines(text: str, pattern: str) -> list[dict[str, Any]]:
    """One row per line that holds at least one metric; `step`/`epoch` (with `:`/`=` or a space) sets the step."""
    regex = re.compile(pattern)
    rows: list[dict[str, Any]] = []
    for line in text.splitlines():
        values: dict[str, Any] = {}
        step = None
        for match in regex.finditer(line):
            name, raw = match.group("name"), match.group("value")
            try:
                value = float(raw)
            except ValueError:
                continue
            if name.lower() in ("epoch", "step"):
                step = value
            else:
                values[name] = value if math.isfinite(value) else None
        if not values:
            continue
        if step is None:
            found = _STEP_WORDS.search(line)
            if found:
                step = float(found.group("value"))
        row: dict[str, Any] = {"step": int(step) if step is not None and step.is_integer() else step}
        row.update(values)
        rows.append(row)
    for index, row in enumerate(rows, start=1):
        if row["step"] is None:
            row["step"] = index
    return rows


def record_stdout_metrics(run_dir: str, pattern: str) -> int:
    """Write metrics parsed from output.log when the script logged none itself; returns the rows written."""
    paths = RunPaths(run_dir)
    if os.path.exists(paths.metrics_jsonl) or not os.path.exists(paths.output_log) or not pattern:
        return 0
    with open(paths.output_log, "rb") as handle:
        handle.seek(max(0, os.path.getsize(paths.output_log) - MAX_LOG_BYTES))
        text = handle.read().decode("utf-8", "replace")
    rows = parse_metric_lines(text, pattern)
    if rows:
        now = time.time()
        atomic_write_text(paths.metrics_jsonl, "".join(dumps_json({**r, "timestamp": now}) + "\n" for r in rows))
    return len(rows)
