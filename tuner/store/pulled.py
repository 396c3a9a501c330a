"""Runs that come home from a cluster (`tune pull`): an archive of its runs directory, unpacked as data
(workers.archive), then merged into the local runs directory, run by run.

A pulled run merges with a local one of the same name instead of replacing it, because the local copy may hold
what only this machine has: tags set here (`tune tag`), `tuner.d/mlflow.json` of an export from here, files
added by hand. The rule, file by file:

- a file only one side has is kept (a pulled one is moved in);
- a file both have: the newer wins (the archive keeps the cluster's modification times, so a file unchanged
  since the last pull is a tie, and a tie keeps the local copy);
- `tuner.d/tags.json` is merged key by key against the tags the last pull brought (`tuner.d/pulled-tags.json`):
  a tag edited or removed here since then stays as it is here (local edits win); otherwise the cluster's value
  (or its removal) comes in; with no earlier pull, the union, the local value winning a clash;
- `tuner.d/mlflow.json`: the union of the exports both sides recorded, the local entry winning for the same
  tracking store and experiment;
- a file against a folder of the same name: the local one stays, and the clash is reported;
- nothing is written through a link of the local copy: a local link stands for a file (the newer wins), never
  for a folder to merge into.

Each file is replaced atomically (rename), so a listing sees each file old or new, never torn; while a pull runs
a run may show some files of each side.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from typing import Any

from tuner.errors import DiskFullError, TunerError
from tuner.store.files import read_mapping
from tuner.store.layout import LOCKS, META_DIR, SWEEPS_DIR, RunPaths, is_plain_name
from workers.archive import ArchiveError, Skipped, unpack
from workers.files import TMP_PREFIX, atomic_write_json, is_disk_full

#: local files a pull never replaces: locks held here
_NEVER = LOCKS


@dataclass
class PullResult:
    """What a pull brought: runs and sweep folders (new or merged), files, and what was left out or kept."""

    runs: int = 0
    sweeps: int = 0
    merged: int = 0  # of those, how many merged into a local copy of the same name
    updated: int = 0  # files replaced by a newer pulled copy
    kept: int = 0  # local files kept over an older (or equal) pulled copy
    skipped: list[Skipped] = field(default_factory=list)  # archive entries not unpacked (links, devices ...)
    clashes: list[str] = field(default_factory=list)  # a file against a folder: the local one kept


def pull_into(data: bytes, runs_dir: str) -> PullResult:
    """Unpack the runs archive `data` beside `runs_dir` (a private staging folder in it) and merge each run and
    each sweep folder into place."""
    os.makedirs(runs_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".pull-", dir=runs_dir)
    result = PullResult()
    try:
        return _pull(data, runs_dir, staging, result)
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(f"no space left on the device holding '{runs_dir}' while pulling "
                                f"({result.runs} runs in place so far, each whole or merged file by file); free "
                                "space there, then pull again", runs_dir, None) from None
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _pull(data: bytes, runs_dir: str, staging: str, result: PullResult) -> PullResult:
    """Unpack into `staging`, then merge each run and sweep folder into `runs_dir`."""
    try:
        result.skipped = unpack(data, staging, scope_depth=1)
    except ArchiveError as exc:
        raise TunerError(f"the cluster sent something that is not a runs archive: {exc}; nothing was "
                         "pulled") from None
    for name in sorted(os.listdir(staging)):
        source = os.path.join(staging, name)
        if not os.path.isdir(source) or os.path.islink(source):
            continue
        if name == SWEEPS_DIR:
            for sweep in sorted(os.listdir(source)):
                if is_plain_name(sweep) and _is_dir(os.path.join(source, sweep)):
                    os.makedirs(os.path.join(runs_dir, SWEEPS_DIR), exist_ok=True)
                    _merge(os.path.join(source, sweep), os.path.join(runs_dir, SWEEPS_DIR, sweep), result, sweep)
                    result.sweeps += 1
        elif is_plain_name(name) and not name.startswith(".") and _is_dir(os.path.join(source, META_DIR)):
            target = os.path.join(runs_dir, name)  # a run (not the archive folder, the index or locks)
            result.merged += os.path.lexists(target)
            _merge_tags(source, target)
            _merge(source, target, result, name)
            result.runs += 1
    return result


def _is_dir(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _merge(source: str, target: str, result: PullResult, rel: str) -> None:
    """Move the tree `source` into `target` by the rules of the module docstring."""
    try:
        here = os.lstat(target)
    except FileNotFoundError:
        os.rename(source, target)  # nothing of that name here: the whole folder comes in at once
        return
    if not stat.S_ISDIR(here.st_mode):
        result.clashes.append(rel)
        return
    for entry in sorted(os.scandir(source), key=lambda e: e.name):
        name, path = entry.name, os.path.join(target, entry.name)
        inner = f"{rel}/{name}"
        if name in _NEVER or name.startswith(TMP_PREFIX):
            continue
        if entry.is_dir(follow_symlinks=False):
            _merge(entry.path, path, result, inner)
            continue
        if os.path.basename(target) == META_DIR and name in _MERGED:
            _MERGED[name](entry.path, path)
            continue
        try:
            local = os.lstat(path)
        except FileNotFoundError:
            os.rename(entry.path, path)
            continue
        if stat.S_ISDIR(local.st_mode):
            result.clashes.append(inner)
        elif entry.stat(follow_symlinks=False).st_mtime_ns > local.st_mtime_ns:
            os.replace(entry.path, path)  # replaces a local link itself, never what it points to
            result.updated += 1
        else:
            result.kept += 1


def _merge_tags(source_run: str, target_run: str) -> None:
    """tags.json key by key (the module docstring), under the lock `tune tag` takes; pulled-tags.json keeps what
    this pull brought, the base of the next merge (written for a run new here too, so a tag removed here after
    its first pull stays removed)."""
    from filelock import FileLock

    pulled, local = RunPaths(source_run), RunPaths(target_run)
    remote = read_mapping(pulled.tags_json) if not os.path.islink(pulled.tags_json) else {}
    if not os.path.lexists(target_run):
        atomic_write_json(pulled.pulled_tags_json, remote)  # moves in with the run
        return
    if not _is_dir(target_run) or not _is_dir(local.meta):
        return  # not a run here: the merge reports the clash
    with FileLock(local.tags_lock, timeout=30):
        mine = read_mapping(local.tags_json) if not os.path.islink(local.tags_json) else {}
        base = read_mapping(local.pulled_tags_json) if os.path.isfile(local.pulled_tags_json) else None
        merged = merge_tags(mine, remote, base)
        if merged != mine:
            atomic_write_json(local.tags_json, merged)
        atomic_write_json(local.pulled_tags_json, remote)
    for path in (pulled.tags_json, pulled.pulled_tags_json):  # merged above: not merged again as files
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


_MISSING = object()


def merge_tags(local: dict[str, Any], remote: dict[str, Any], base: dict[str, Any] | None) -> dict[str, Any]:
    """A three-way merge of tags: a key changed here since `base` (what the last pull brought) keeps its local
    value (or stays removed); any other takes the remote one (or its removal). Without a base: the union, the
    local value winning."""
    if base is None:
        return {**remote, **local}
    merged: dict[str, Any] = {}
    for key in [*local, *(k for k in remote if k not in local)]:
        mine, theirs, before = local.get(key, _MISSING), remote.get(key, _MISSING), base.get(key, _MISSING)
        value = theirs if mine == before else mine  # removed here (mine missing, before not) counts as an edit
        if value is not _MISSING:
            merged[key] = value
    return merged


def _merge_mlflow(source: str, target: str) -> None:
    """mlflow.json: the union of the exports recorded on both sides, the local entry winning per store."""
    mine = _exports(target)
    known = {(e.get("tracking_uri"), str(e.get("experiment_id"))) for e in mine}
    extra = [e for e in _exports(source) if (e.get("tracking_uri"), str(e.get("experiment_id"))) not in known]
    if extra or not os.path.lexists(target):
        atomic_write_json(target, {"exports": mine + extra})


def _exports(path: str) -> list[dict[str, Any]]:
    entries = read_mapping(path).get("exports") if not os.path.islink(path) else None
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


#: files of tuner.d/ merged by content rather than by age
_MERGED = {os.path.basename(RunPaths("").mlflow_json): _merge_mlflow}
