"""What a real sweep left on disk, read back plainly for the tests that check it (checkpoints, promotion, PBT):
its runs' records with their metrics and flags, and its journal's records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def runs_on_disk(workdir: Path) -> list[dict[str, Any]]:
    """Every run's run.json under workdir/runs, oldest first, with `rows` (its metrics.jsonl), `steps` (their
    steps) and `flags` (flags.json) added."""
    found = []
    for path in (workdir / "runs").glob("*/tuner.d/run.json"):
        record = json.loads(path.read_text())
        metrics = path.parent / "metrics.jsonl"
        record["rows"] = [json.loads(line) for line in metrics.read_text().splitlines()] if metrics.exists() else []
        record["steps"] = [row["step"] for row in record["rows"]]
        flags = path.parent / "flags.json"
        record["flags"] = json.loads(flags.read_text()) if flags.exists() else {}
        found.append(record)
    return sorted(found, key=lambda r: (r.get("start") or 0, r["name"]))  # a queued run has no start yet


def journal_records(workdir: Path) -> list[dict[str, Any]]:
    """The records after the header of the one sweep under workdir/runs."""
    journal = next((workdir / "runs" / "sweeps").glob("*/journal.jsonl"))
    return [json.loads(line) for line in journal.read_text().splitlines()[1:]]


def journal_has(workdir: Path, kind: str) -> bool:
    """Whether the sweep's journal holds a record of this kind yet (False while it is being made)."""
    try:
        return any(r["type"] == kind for r in journal_records(workdir))
    except (StopIteration, OSError, ValueError):
        return False
