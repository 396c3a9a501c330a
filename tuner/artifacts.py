"""Artifacts: files created or changed under artifacts_dir while a run is going, copied into the run."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from .sources import SKIP_DIRS

Snapshot = dict[str, tuple[int, int]]  # relative path -> (size, mtime_ns)


@dataclass(frozen=True)
class ArtifactScan:
    root: str
    excluded: frozenset[str]  # real paths never entered (the runs directory)
    before: Snapshot


def _scan(root: str, excluded: frozenset[str]) -> Snapshot:
    found: Snapshot = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")
                   and os.path.realpath(os.path.join(folder, d)) not in excluded]
        for name in files:
            path = os.path.join(folder, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            found[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns)
    return found


def start_scan(artifacts_dir: str, runs_dir: str) -> ArtifactScan:
    excluded = frozenset({os.path.realpath(runs_dir)})
    return ArtifactScan(artifacts_dir, excluded, _scan(artifacts_dir, excluded))


def copy_changed(scan: ArtifactScan, run_dir: str) -> list[str]:
    """Copy what was added or changed since `start_scan` into `run_dir` (same relative paths)."""
    after = _scan(scan.root, scan.excluded | {os.path.realpath(run_dir)})
    changed = sorted(rel for rel, sig in after.items() if scan.before.get(rel) != sig)
    for rel in changed:
        target = os.path.join(run_dir, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            shutil.copy2(os.path.join(scan.root, rel), target)
        except OSError:
            continue
    return changed
