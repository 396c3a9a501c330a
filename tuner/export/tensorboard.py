"""`tune tensorboard [SWEEP]`: the command that shows runs side by side in TensorBoard.

It prints the command rather than starting TensorBoard: the server's host, port and lifetime stay the
user's choice, and tuner needs no TensorBoard to list runs.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Sequence

from tuner.capture.tb_events import event_files
from tuner.errors import SweepNotFoundError
from tuner.store.files import read_run
from tuner.store.layout import list_run_dirs

#: logdir_spec separates runs with `,` and a name from its path with `:`
_UNSAFE = re.compile(r"[,:\s]+")


@dataclass(frozen=True)
class TensorBoardRun:
    name: str
    logdir: str


def run_logdir(run_dir: str) -> str | None:
    """The deepest folder holding all the run's event files (its tensorboard/ for Keras), None without any."""
    files = event_files(run_dir)
    if not files:
        return None
    return os.path.abspath(os.path.commonpath([os.path.dirname(f) for f in files]))  # works from any folder


def _label(value: Any) -> str:
    return _UNSAFE.sub("_", str(value))


def _names(records: list[dict[str, Any]]) -> list[str]:
    """`trial3_dropout1=0.2_dropout2=0.4` for sweep runs, `<run name>_lr=0.1` otherwise: only flags that differ."""
    flag_names = sorted({k for r in records for k in r["flags"]})
    varying = [k for k in flag_names if len({repr(r["flags"].get(k)) for r in records}) > 1]
    names = []
    for r in records:
        head = f"trial{r['trial']}" if r.get("trial") is not None else r["name"]
        if (r.get("attempt") or 1) > 1:
            head += f"_attempt{r['attempt']}"
        parts = [head] + [f"{k}={_label(r['flags'].get(k))}" for k in varying]
        names.append(_label("_".join(parts)))
    seen: dict[str, int] = {}
    unique = []
    for name in names:  # two runs of the same trial and flags would collide in TensorBoard
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return unique


def select_runs(runs_dir: str, sweep: str | None = None, latest: int = 10) -> list[str]:
    """Run directories of `sweep` (oldest trial first), or the `latest` runs."""
    dirs = list_run_dirs(runs_dir)
    if sweep is None:
        return list(reversed(dirs[:latest]))
    chosen = [d for d in dirs if read_run(d, with_metrics=False).run.get("sweep") == sweep]
    if not chosen:
        from tuner.store.journal import list_sweep_ids

        known = list_sweep_ids(runs_dir)[:5]
        hint = f"; recent sweeps: {', '.join(known)}" if known else "; there are no sweeps in this runs directory"
        raise SweepNotFoundError(f"no runs of sweep '{sweep}' in '{runs_dir}'{hint} (see `tune sweeps`)")
    return list(reversed(chosen))


def tensorboard_runs(run_dirs: Sequence[str]) -> tuple[list[TensorBoardRun], list[str]]:
    """(runs with event files, named for TensorBoard; run directories without any)."""
    found, missing = [], []
    for run_dir in run_dirs:
        logdir = run_logdir(run_dir)
        if logdir is None or "," in logdir:
            missing.append(run_dir)
            continue
        data = read_run(run_dir, with_metrics=False)
        found.append(({"name": data.paths.name, "flags": data.flags, "trial": data.run.get("trial"),
                       "attempt": data.run.get("attempt")}, logdir))
    names = _names([record for record, _ in found])
    return [TensorBoardRun(name, logdir) for name, (_, logdir) in zip(names, found)], missing


def tensorboard_command(runs: Sequence[TensorBoardRun]) -> list[str]:
    return ["tensorboard", "--logdir_spec", ",".join(f"{r.name}:{r.logdir}" for r in runs)]


