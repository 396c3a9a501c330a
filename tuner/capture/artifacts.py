"""Artifacts: files created or changed under artifacts_dir while a run is going, copied into the run (not those
that look like secrets: tuner.capture.secrets)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from tuner.capture.secrets import DEFAULT_RULE, SecretRule
from tuner.capture.sources import SKIP_DIRS

Snapshot = dict[str, tuple[int, int]]  # relative path -> (size, mtime_ns)
#: bounds of a scanned artifacts folder: a run pointed at a busy shared folder copies at most this much
ARTIFACT_MAX_FILES = 1000
ARTIFACT_MAX_BYTES = 1 << 30
SCAN_MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class ArtifactScan:
    root: str
    excluded: frozenset[str]  # real paths never entered (the runs directory)
    before: Snapshot


def _scan(root: str, excluded: frozenset[str]) -> Snapshot:
    found: Snapshot = {}
    for folder, dirs, files in os.walk(root):
        if len(found) >= SCAN_MAX_ENTRIES:
            break
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


def copy_changed(scan: ArtifactScan, run_dir: str, secrets: SecretRule = DEFAULT_RULE) -> list[str]:
    """Copy what was added or changed since `start_scan` into `run_dir` (same relative paths), except what
    `secrets` takes for a secret (a `.env` the script wrote, a key it made)."""
    after = _scan(scan.root, scan.excluded | {os.path.realpath(run_dir)})
    changed = sorted(rel for rel, sig in after.items() if scan.before.get(rel) != sig
                     and not secrets.is_secret(rel, os.path.join(scan.root, rel)))[:ARTIFACT_MAX_FILES]
    total = 0
    copied = []
    for rel in changed:
        total += after[rel][0]
        if total > ARTIFACT_MAX_BYTES:
            break
        target = os.path.join(run_dir, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            shutil.copy2(os.path.join(scan.root, rel), target)
        except OSError:
            continue
        copied.append(rel)
    return copied


# ---------------------------------------------------------------------------------------------------
# Artifacts a script reads (inputs) and hashes of what a run holds

HASH_CHUNK = 1 << 20


def sha256_file(path: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_tree(folder: str) -> tuple[str, int]:
    """One hash over a folder (relative paths and contents, in sorted order) and its total size."""
    import hashlib

    digest = hashlib.sha256()
    total = 0
    for base, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(base, name)
            rel = os.path.relpath(path, folder).replace(os.sep, "/")
            digest.update(rel.encode("utf-8") + b"\0" + sha256_file(path).encode("ascii") + b"\n")
            total += os.path.getsize(path)
    return digest.hexdigest(), total


def use_artifact(path: str | os.PathLike[str], name: str | None = None, run_dir: str | None = None) -> str:
    """Declare an input of the active run (a data file or folder): its path, size and sha256 are recorded.

    Returns `path`, so `open(use_artifact("data/train.csv"))` reads as it did before. Without an active
    run it records nothing (and warns once), like the other script-side functions.
    """
    import time

    from tuner.errors import TunerError
    from tuner.store.layout import RunPaths
    from tuner.tracking import recording_dir
    from workers.files import append_json_line

    text = os.fspath(path)
    if not os.path.exists(text):
        raise TunerError(f"use_artifact: '{text}' does not exist (relative to {os.getcwd()}); "
                         "pass the path of a file or folder the script reads")
    target = recording_dir(run_dir)
    if target is None:
        return text
    if os.path.isdir(text):
        digest, size = sha256_tree(text)
        kind = "folder"
    else:
        digest, size = sha256_file(text), os.path.getsize(text)
        kind = "file"
    # realpath: the file itself, not a link to it (a project's symlink, a mirrored run's link to a large file)
    record = {"name": name or os.path.basename(os.path.normpath(text)), "path": os.path.realpath(text),
              "type": kind, "size": size, "sha256": digest, "timestamp": time.time()}
    append_json_line(RunPaths(target).used_artifacts_jsonl, record)
    return text
