"""Which run the user means: a name, a unique prefix of one (git-style) or else a unique end of one (`17Z-03`,
a sweep trial's second and number; `.115Z`, an older sweep's milliseconds), a path, an ls_runs row or frame, a
mapping with run_dir; or "the latest run". The one resolver behind every command and function that takes
runs, so they all accept the same things and fail with the same words.
"""

from __future__ import annotations

import os
from typing import Any, Iterable

from tuner.errors import RunNotFoundError
from tuner.store.layout import (
    META_DIR,
    RunPaths,
    is_plain_name,
    list_run_dirs,
    scan_run_names,
)


def _default_runs_dir() -> str:
    from tuner.settings import load_settings

    return load_settings().runs_dir


def _is_frame(value: Any) -> bool:
    return hasattr(value, "columns") and hasattr(value, "iloc")


def resolve_run_dir(run: Any, runs_dir: str | None = None) -> str:
    """One run given as a path, a run name in `runs_dir` (or a unique prefix of one; when no name starts with it,
    a unique end of one), an ls_runs row, a one-row frame, or a mapping with run_dir."""
    value = run
    if _is_frame(value):
        if "run_dir" not in value.columns:
            raise RunNotFoundError("data frame does not contain a run_dir column")
        if len(value) != 1:
            raise RunNotFoundError(f"expected one run, got a data frame of {len(value)} rows")
        value = value.iloc[0]["run_dir"]
    elif hasattr(value, "get") and not isinstance(value, (str, os.PathLike)):
        if value.get("run_dir") is None:
            raise RunNotFoundError("mapping does not contain a run_dir")
        value = value.get("run_dir")
    text = os.fspath(value)
    runs = runs_dir if runs_dir is not None else _default_runs_dir()
    candidates = [text]
    if is_plain_name(text):  # a run name is looked up inside the runs directory, never outside it
        candidates.append(os.path.join(runs, text))
    for candidate in candidates:
        if RunPaths(candidate).is_run():
            return os.path.normpath(candidate)
    for candidate in candidates:
        if os.path.isdir(candidate):
            raise RunNotFoundError(f"'{candidate}' is a folder but not a run (it has no {META_DIR}/)")
    if is_plain_name(text):
        names = scan_run_names(runs)
        for where, matches in (("start", [n for n in names if n.startswith(text)]),
                               ("end", [n for n in names if n.endswith(text)])):
            matches = [n for n in matches if RunPaths(os.path.join(runs, n)).is_run()]
            if len(matches) == 1:
                return os.path.normpath(os.path.join(runs, matches[0]))
            if matches:
                shown = ", ".join(sorted(matches)[:5]) + (" ..." if len(matches) > 5 else "")
                raise RunNotFoundError(f"run '{text}' is ambiguous: {len(matches)} runs in '{runs}' {where} with it "
                                       f"({shown}); give more of the name")
    raise RunNotFoundError(f"run '{text}' not found (looked in '{runs}'); list runs with `tune ls`")


def resolve_run_dirs(runs: Any, runs_dir: str) -> list[str]:
    """Several runs: a frame (every row), one run in any form above, or an iterable of them; no duplicates."""
    if _is_frame(runs):
        if "run_dir" not in runs.columns:
            raise RunNotFoundError("data frame does not contain a run_dir column")
        items: Iterable[Any] = list(runs["run_dir"])
    elif isinstance(runs, (str, os.PathLike)) or hasattr(runs, "get"):
        items = [runs]
    else:
        items = list(runs)
    return list(dict.fromkeys(resolve_run_dir(item, runs_dir) for item in items))


def latest_run_dirs(runs_dir: str, count: int = 1) -> list[str]:
    """The `count` newest runs (by name, as tfruns: names are UTC start times), newest first; an error when
    there are fewer."""
    dirs = list_run_dirs(runs_dir)[:count]
    if len(dirs) < count:
        if not dirs:
            raise RunNotFoundError(f"no runs in '{runs_dir}'; start one with `tune SCRIPT` or pass a run directory")
        needed = {2: "two", 3: "three"}.get(count, str(count))
        raise RunNotFoundError(f"this needs {needed} runs, found {len(dirs)} in '{runs_dir}'; pass run directories "
                               "or names")
    return dirs


def latest_run_dir(runs_dir: str) -> str:
    return latest_run_dirs(runs_dir, 1)[0]
