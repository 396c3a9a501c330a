"""Which run the user means: a name, a unique prefix of one, a path, an ls_runs row or frame, or the latest run."""

from __future__ import annotations

import os
from typing import Any

from tuner.errors import RunNotFoundError
from tuner.store.layout import META_DIR, RunPaths, is_plain_name

def _default_runs_dir() -> str:
    from tuner.settings import load_settings

    return load_settings().runs_dir


def resolve_run_dir(run: Any, runs_dir: str | None = None) -> str:
    """A run given as a path, a run name in `runs_dir`, an ls_runs row/frame, or a mapping with run_dir."""
    value = run
    if hasattr(value, "columns") and hasattr(value, "iloc"):  # a DataFrame
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
    raise RunNotFoundError(f"run '{text}' not found (looked in '{runs}'); list runs with `tune ls`")


