"""Cleaning up and copying runs (tfruns' clean_runs, purge_runs, copy_run, copy_run_files), restoring archived
runs and deleting by name.

Active runs (status running with a fresh heartbeat) are never moved or deleted: they are skipped with a
message. Questions go through the channel (tuner.channel.confirmed): asked only when a person is at the terminal
(or `confirm=True`); `confirm=False` never asks; a callable `confirm(question, default)` answers instead.
What they did is said on the `tuner` logger, never printed here.
Reversible actions (archiving, restoring) default to yes, irreversible ones (purge, delete) to no. With nobody to
ask, the functions go ahead (tfruns' `confirm = interactive()`), unless `refuse_unattended` (the `tune` command's
rule, README "Cleaning up"): then a ConfirmationError says what would have been done, and nothing is changed.
Finding nothing to act on is never an error.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from tuner import channel
from tuner.errors import ConfirmationError, QueryError, RunNotFoundError, TunerError, quoted
from tuner.runs.aggregate import effective_status
from tuner.runs.resolve import resolve_run_dirs
from tuner.settings import load_settings
from tuner.store.files import read_mapping
from tuner.store.layout import ARCHIVE_DIR, MLFLOW_JSON, TAGS_LOCK, RunPaths, iter_artifacts, list_run_dirs
from tuner.store.status import RunStatus

log = channel.logger(__name__)


@dataclass
class ManageResult:
    """What an action did: the resulting paths, the active runs it left alone, whether it was declined."""

    done: list[str] = field(default_factory=list)
    skipped_active: list[str] = field(default_factory=list)
    cancelled: bool = False
    #: runs that were gone when their turn came: another command (a second `tune rm`, a `clean`) took them
    gone: list[str] = field(default_factory=list)


def is_active(run_dir: str, stale_after_s: float) -> bool:
    """Running with a fresh heartbeat: some process is still writing this run."""
    run = read_mapping(RunPaths(run_dir).run_json)
    return effective_status(run, time.time(), stale_after_s) == RunStatus.RUNNING.value


def check_plain_name(name: Any, what: str) -> str:
    """A folder name that stays where it is put: no separators, not `.`/`..`, not hidden."""
    if not isinstance(name, str) or not name or name in (".", "..") or name.startswith(".") \
            or "/" in name or "\\" in name or "\0" in name or (os.altsep and os.altsep in name):
        raise TunerError(f"{what} {quoted(name)}: expected a plain folder name (no '/', '\\', '..' or leading '.'), "
                         "e.g. 'best-run'")
    return name


def _run_dirs(runs: Any, runs_dir: str) -> list[str]:
    """Runs given as None (all), or anything tuner.runs.resolve accepts."""
    return list_run_dirs(runs_dir) if runs is None else resolve_run_dirs(runs, runs_dir)


def _in_runs_dir(run_dir: str, runs_dir: str) -> None:
    if os.path.realpath(os.path.dirname(os.path.normpath(run_dir))) != os.path.realpath(runs_dir):
        raise TunerError(f"run '{run_dir}' is not in the runs directory '{runs_dir}'; pass runs_dir= "
                         "(--runs-dir) for the folder that holds it")


def _free_name(folder: str, name: str) -> str:
    target = os.path.join(folder, name)
    n = 1
    while os.path.exists(target):
        target = os.path.join(folder, f"{name}-{n}")
        n += 1
    return target


def _say(message: str) -> None:
    log.info("%s", message)


def _report_gone(gone: list[str]) -> None:
    if gone:
        _say(f"{len(gone)} run{'s were' if len(gone) != 1 else ' was'} already gone (removed or moved meanwhile by "
             f"another command): {', '.join(os.path.basename(os.path.normpath(p)) for p in gone)}")


def _report_active(skipped: list[str]) -> None:
    if skipped:
        names = ", ".join(os.path.basename(p) for p in skipped)
        _say(f"Skipped {len(skipped)} active run{'s' if len(skipped) != 1 else ''} (still running): {names}")


def _refuse_unattended(refuse: bool, confirm: channel.ConfirmArg, would: str) -> None:
    """The CLI's rule: with nobody to ask and no explicit yes, say what would be done and do nothing."""
    if refuse and confirm is None and not channel.can_ask():
        raise ConfirmationError(would)


def clean_runs(runs: Any = None, runs_dir: str | None = None, confirm: channel.ConfirmArg = None, *,
               refuse_unattended: bool = False) -> ManageResult:
    """Move runs (default: all) to `<runs_dir>/archive`; restore_runs() brings them back, purge_runs() deletes
    them for good."""
    settings = load_settings(runs_dir=runs_dir)
    dirs = _run_dirs(runs, settings.runs_dir)
    for run_dir in dirs:
        _in_runs_dir(run_dir, settings.runs_dir)
    result = ManageResult()
    if not dirs:
        _say(f"No runs to clean in {settings.runs_dir}.")
        return result
    archive = os.path.join(settings.runs_dir, ARCHIVE_DIR)
    active = [d for d in dirs if is_active(d, settings.stale_after_s)]
    movable = [d for d in dirs if d not in active]
    if movable:
        _refuse_unattended(refuse_unattended, confirm, _listing(f"would move to {archive}", movable, 5))
    if confirm is not False:  # what will move, before the question (tfruns asks about a count only)
        _say(_listing("Will move", movable) + (f"; {len(active)} active left alone" if active else ""))
    if movable and not channel.confirmed(confirm, f"Move {_run_directories(len(movable))} to {archive}?", True):
        _say("Nothing moved.")
        result.cancelled = True
        return result
    os.makedirs(archive, exist_ok=True)
    for run_dir in dirs:
        if run_dir in active or is_active(run_dir, settings.stale_after_s):  # it may have started since
            result.skipped_active.append(run_dir)
            continue
        target = _free_name(archive, os.path.basename(os.path.normpath(run_dir)))
        try:
            os.rename(run_dir, target)
        except FileNotFoundError:  # moved or deleted meanwhile by another command
            result.gone.append(run_dir)
            continue
        result.done.append(target)
    _report_active(result.skipped_active)
    _report_gone(result.gone)
    _say(f"Moved {len(result.done)} run{'s' if len(result.done) != 1 else ''} to {archive}")
    return result


#: at most this many names in the list `clean` shows before asking
LIST_NAMES = 20


def _listing(verb: str, dirs: Sequence[str], at_most: int = LIST_NAMES) -> str:
    """`Will move 3 run directories: a, b, c`; with a verb ending in a place (`would move to runs/archive`) the
    count comes first: `3 run directories would move to runs/archive: a, b, c`."""
    names = [os.path.basename(os.path.normpath(d)) for d in dirs]
    shown = ", ".join(names[:at_most]) + (f" ... and {len(names) - at_most} more" if len(names) > at_most else "")
    head = f"{verb} {_run_directories(len(names))}" if verb[:1].isupper() else f"{_run_directories(len(names))} {verb}"
    return head + (f": {shown}" if names else "")


def restore_runs(runs: Any = None, runs_dir: str | None = None, confirm: channel.ConfirmArg = None, *,
                 refuse_unattended: bool = False) -> ManageResult:
    """Move archived runs (default: all) back from `<runs_dir>/archive`, under their own names: a run whose
    name is taken again in the runs directory stays in the archive, with a message."""
    settings = load_settings(runs_dir=runs_dir)
    archive = os.path.join(settings.runs_dir, ARCHIVE_DIR)
    dirs = list_run_dirs(archive) if runs is None else resolve_run_dirs(runs, archive)
    for run_dir in dirs:
        _in_runs_dir(run_dir, archive)
    result = ManageResult()
    if not dirs:
        _say(f"No archived runs to restore in {archive}.")
        return result
    _refuse_unattended(refuse_unattended, confirm, _listing(f"would move back to {settings.runs_dir}", dirs, 5))
    if confirm is not False:
        _say(_listing("Will restore", dirs))
    if not channel.confirmed(confirm, f"Move {_run_directories(len(dirs))} back to {settings.runs_dir}?", True):
        _say("Nothing restored.")
        result.cancelled = True
        return result
    taken = []
    for run_dir in dirs:
        target = os.path.join(settings.runs_dir, os.path.basename(os.path.normpath(run_dir)))
        if os.path.lexists(target):
            taken.append(os.path.basename(target))
            continue
        try:
            os.rename(run_dir, target)
        except FileNotFoundError:  # restored or purged meanwhile by another command
            result.gone.append(run_dir)
            continue
        result.done.append(target)
    if taken:
        _say(f"Kept in the archive (the name is taken in {settings.runs_dir}): {', '.join(taken)}")
    _report_gone(result.gone)
    _say(f"Restored {len(result.done)} run{'s' if len(result.done) != 1 else ''} to {settings.runs_dir}")
    return result


def purge_runs(runs_dir: str | None = None, confirm: channel.ConfirmArg = None, *,
               refuse_unattended: bool = False) -> ManageResult:
    """Delete the runs in `<runs_dir>/archive` permanently (the archive folder itself stays)."""
    settings = load_settings(runs_dir=runs_dir)
    archive = os.path.join(settings.runs_dir, ARCHIVE_DIR)
    dirs = list_run_dirs(archive)
    result = ManageResult()
    if not dirs:
        _say(f"No archived runs to purge in {archive}.")
        return result
    _refuse_unattended(refuse_unattended, confirm, _listing(f"in {archive} would be deleted permanently", dirs, 5))
    return _delete_if_confirmed(dirs, f"Permanently remove {_run_directories(len(dirs))} from {archive}?",
                                "Permanently removed", confirm, settings.stale_after_s)


def _run_directories(count: int) -> str:
    return f"{count} run director{'ies' if count != 1 else 'y'}"


def _delete_if_confirmed(dirs: Sequence[str], question: str, done: str, confirm: channel.ConfirmArg,
                         stale_after_s: float) -> ManageResult:
    """Ask (default no: deleting is permanent), then delete the runs that are not active and say how many."""
    if not channel.confirmed(confirm, question, False):
        _say("Nothing deleted.")
        return ManageResult(cancelled=True)
    result = _delete(dirs, stale_after_s)
    _say(f"{done} {len(result.done)} run{'s' if len(result.done) != 1 else ''}")
    return result


def _delete(dirs: Sequence[str], stale_after_s: float) -> ManageResult:
    result = ManageResult()
    for run_dir in dirs:
        if is_active(run_dir, stale_after_s):
            result.skipped_active.append(run_dir)
            continue
        # rename first, so a listing never sees a half-deleted run
        doomed = os.path.join(os.path.dirname(os.path.normpath(run_dir)),
                              f".deleting-{os.path.basename(os.path.normpath(run_dir))}-{os.getpid()}")
        try:
            os.rename(run_dir, doomed)
        except FileNotFoundError:  # another `tune rm` (or a clean) took it between the listing and now
            result.gone.append(run_dir)
            continue
        if os.path.islink(doomed):  # a link to a run kept elsewhere: what the runs directory holds is the link;
            os.unlink(doomed)  # the folder it points to is outside and not ours to delete
        else:
            shutil.rmtree(doomed)
        result.done.append(run_dir)
    _report_active(result.skipped_active)
    _report_gone(result.gone)
    return result


def matching_runs(pattern: str, runs_dir: str) -> list[str]:
    """Run directories whose name matches the regular expression `pattern` (re.search)."""
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise QueryError(f"pattern {quoted(pattern)} is not a valid regular expression ({exc}); "
                         "example: '^2026-11-2' or 'T05-1[0-9]'") from None
    return [d for d in list_run_dirs(runs_dir) if regex.search(os.path.basename(d))]


def delete_runs(pattern: str, runs_dir: str | None = None, confirm: channel.ConfirmArg = None, *,
                refuse_unattended: bool = False) -> ManageResult:
    """Delete (not archive) the runs whose name matches `pattern`, after listing them and asking."""
    settings = load_settings(runs_dir=runs_dir)
    dirs = matching_runs(pattern, settings.runs_dir)
    result = ManageResult()
    if not dirs:
        _say(f"No runs match {quoted(pattern)} in {settings.runs_dir}.")
        return result
    _refuse_unattended(refuse_unattended, confirm,
                       _listing(f"matching {quoted(pattern)} would be deleted permanently", dirs, 5))
    _say(f"{len(dirs)} run{'s' if len(dirs) != 1 else ''} match {quoted(pattern)}:")
    for run_dir in dirs:
        _say(f"  {os.path.basename(run_dir)}")
    return _delete_if_confirmed(dirs, f"Permanently delete {_run_directories(len(dirs))}?", "Deleted", confirm,
                                settings.stale_after_s)


def _copy_targets(dirs: list[str], to: Any, rename: Any) -> list[str]:
    if not isinstance(to, (str, os.PathLike)):
        raise TunerError(f"copy: 'to' must be a single folder path, got {type(to).__name__}")
    if rename is None:
        names = [os.path.basename(os.path.normpath(d)) for d in dirs]
    else:
        names = [rename] if isinstance(rename, str) else list(rename)
        if len(names) != len(dirs):
            raise TunerError(f"copy: rename has {len(names)} name(s) for {len(dirs)} run(s); give one name per run")
        names = [check_plain_name(n, "rename") for n in names]
    if len(set(names)) != len(names):
        raise TunerError(f"copy: two runs would get the same name in '{os.fspath(to)}'; use rename=")
    targets = [os.path.join(os.fspath(to), n) for n in names]
    for source, target in zip(dirs, targets):
        real_source, real_target = os.path.realpath(source), os.path.realpath(target)
        if real_target == real_source or real_target.startswith(real_source + os.sep):
            raise TunerError(f"copy: cannot copy run '{source}' into itself ('{target}')")
    return targets


def copy_run(run: Any, to: str | os.PathLike[str] = ".", rename: str | Sequence[str] | None = None,
             runs_dir: str | None = None) -> list[str]:
    """Copy whole run directories (metadata and artifacts) into the folder `to`, optionally renamed.

    An existing run of the same name there is replaced (as tfruns); any other existing folder is an error.
    """
    settings = load_settings(runs_dir=runs_dir)
    dirs = _run_dirs(run, settings.runs_dir)
    if not dirs:
        raise RunNotFoundError("copy_run: no runs given")
    targets = _copy_targets(dirs, to, rename)
    for target in targets:
        if os.path.exists(target) and not RunPaths(target).is_run():
            raise TunerError(f"copy_run: '{target}' exists and is not a run; remove it or choose another name "
                             "(rename=, --rename)")
    os.makedirs(os.fspath(to), exist_ok=True)
    for source, target in zip(dirs, targets):
        # copy into a hidden staging folder next to the target, then rename: no half-copied run is ever listed
        staging = tempfile.mkdtemp(prefix=".copy-", dir=os.fspath(to))
        try:
            inner = os.path.join(staging, "run")
            # not mlflow.json: the copy is a new run, and exporting it must not update the original's MLflow run
            shutil.copytree(source, inner, symlinks=True, ignore=shutil.ignore_patterns(TAGS_LOCK, MLFLOW_JSON))
            if os.path.exists(target):
                shutil.rmtree(target)
            os.rename(inner, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return targets


def copy_run_files(run: Any, to: str | os.PathLike[str] = ".", rename: str | Sequence[str] | None = None,
                   runs_dir: str | None = None) -> list[str]:
    """Copy only a run's artifacts (the files it wrote; no tuner.d/ metadata) into `to/<name or rename>`."""
    settings = load_settings(runs_dir=runs_dir)
    dirs = _run_dirs(run, settings.runs_dir)
    if not dirs:
        raise RunNotFoundError("copy_run_files: no runs given")
    targets = _copy_targets(dirs, to, rename)
    for target in targets:
        if os.path.exists(target) and not os.path.isdir(target):
            raise TunerError(f"copy_run_files: '{target}' exists and is not a folder")
    for source, target in zip(dirs, targets):
        os.makedirs(target, exist_ok=True)
        for rel, _size in iter_artifacts(RunPaths(source)):
            destination = os.path.join(target, rel)
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            shutil.copy2(os.path.join(source, rel), destination)
    return targets


__all__ = ["clean_runs", "restore_runs", "purge_runs", "copy_run", "copy_run_files", "delete_runs", "matching_runs",
           "ManageResult"]
