"""Bounded snapshot of a script's folder, for code views and diffs (tfruns hung on big folders: #9), without the
files that look like secrets (tuner.capture.secrets: a `.env`, a key, a `config.ini` with a password)."""

from __future__ import annotations

import fnmatch
import os
import shutil
from dataclasses import dataclass

from tuner.capture.secrets import DEFAULT_RULE, SecretRule
from tuner.store.layout import META_DIR

DEFAULT_PATTERNS = ("*.py", "*.yml", "*.yaml", "*.json", "*.toml", "*.cfg", "*.ini", "*.txt", "*.sh", "*.R", "*.md")
#: folders never entered: version control, environments, caches, and run outputs
SKIP_DIRS = frozenset({META_DIR, ".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", "env",
                       ".tox", ".mypy_cache", ".pytest_cache", "runs", "mlruns", "wandb", ".ipynb_checkpoints"})


@dataclass(frozen=True)
class SnapshotResult:
    copied: int
    skipped: int
    bytes: int
    secrets: int = 0  # files left out because they look like secrets


def snapshot_sources(folder: str, dest: str, patterns: tuple[str, ...] = DEFAULT_PATTERNS, max_files: int = 200,
                     max_bytes: int = 5_000_000, exclude: tuple[str, ...] = (),
                     secrets: SecretRule = DEFAULT_RULE) -> SnapshotResult:
    """Copy matching files under `folder` into `dest`, stopping at `max_files` / `max_bytes`; files `secrets`
    takes for secrets are left out (and counted)."""
    excluded = {os.path.realpath(p) for p in exclude}
    copied = skipped = total = hidden = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")
                         and not os.path.isdir(os.path.join(root, d, META_DIR))  # a run, not a source
                         and os.path.realpath(os.path.join(root, d)) not in excluded)
        for name in sorted(files):
            if not any(fnmatch.fnmatch(name, p) for p in patterns):
                continue
            src = os.path.join(root, name)
            if secrets.is_secret(os.path.relpath(src, folder), src):
                hidden += 1
                continue
            try:
                size = os.path.getsize(src)
            except OSError:
                continue
            if copied >= max_files or total + size > max_bytes:
                skipped += 1
                continue
            target = os.path.join(dest, os.path.relpath(src, folder))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            try:
                shutil.copy2(src, target)
            except OSError:
                skipped += 1
                continue
            copied += 1
            total += size
    return SnapshotResult(copied, skipped, total, hidden)
