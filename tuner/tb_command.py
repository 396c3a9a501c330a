"""`tune tensorboard [SWEEP]`: the command that shows runs side by side in TensorBoard.

It prints the command rather than starting TensorBoard: the server's host, port and lifetime stay the
user's choice, and tuner needs no TensorBoard to list runs.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass
from typing import Any, Sequence

from .errors import SweepNotFoundError, TunerError
from .settings import load_settings
from .store import list_run_dirs, read_run
from .tb_events import event_files

#: logdir_spec separates runs with `,` and a name from its path with `:`
_UNSAFE = re.compile(r"[,:\s]+")


@dataclass(frozen=True)
class TensorBoardRun:
    name: str
    logdir: str


def _logdir(run_dir: str) -> str | None:
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
        from .journal import list_sweep_ids

        known = list_sweep_ids(runs_dir)[:5]
        hint = f"; recent sweeps: {', '.join(known)}" if known else "; there are no sweeps in this runs directory"
        raise SweepNotFoundError(f"no runs of sweep '{sweep}' in '{runs_dir}'{hint} (see `tune sweeps`)")
    return list(reversed(chosen))


def tensorboard_runs(run_dirs: Sequence[str]) -> tuple[list[TensorBoardRun], list[str]]:
    """(runs with event files, named for TensorBoard; run directories without any)."""
    found, missing = [], []
    for run_dir in run_dirs:
        logdir = _logdir(run_dir)
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


def cmd_tensorboard(argv: Sequence[str]) -> int:
    from .cli import _Parser, _add_runs_dir, _formatter

    parser = _Parser(prog="tune tensorboard", formatter_class=_formatter,
                     description="Print the command that shows runs side by side in TensorBoard: a sweep's runs,\n"
                                 "or the latest runs. Runs write event files with tuner.tensorboard_dir().\n"
                                 "With SWEEP it also writes (or keeps current) the sweep's HParams view: a table,\n"
                                 "parallel coordinates and scatter plots of flags against metrics (runs/sweeps/ID/tensorboard).",
                     epilog="examples:\n  tune tensorboard 20261122-080102-a3f9     then run the printed command\n"
                            "  tune tensorboard --latest 3                the 3 newest runs")
    parser.add_argument("sweep", nargs="?", help="sweep id (see `tune sweeps`); default: the latest runs")
    parser.add_argument("--latest", type=int, default=10, metavar="N", help="without SWEEP: the N newest runs "
                        "(default 10)")
    parser.add_argument("--metric", action="append", metavar="NAME", help="with SWEEP: a metric column of the "
                        "HParams view (repeatable; default: every metric)")
    parser.add_argument("--no-hparams", action="store_true", help="with SWEEP: do not write the HParams view")
    _add_runs_dir(parser)
    args = parser.parse_args(argv)
    if args.latest < 1:
        raise TunerError(f"--latest must be a positive integer, got {args.latest}")
    runs_dir = load_settings(runs_dir=args.runs_dir).runs_dir
    chosen = select_runs(runs_dir, args.sweep, args.latest)
    runs, missing = tensorboard_runs(chosen)
    if args.sweep is not None and not args.no_hparams:  # the sweep's HParams view (tuner.export.hparams)
        from .export.cli import hparams_run_for_cli

        runs = hparams_run_for_cli(args.sweep, runs_dir, args.metric) + runs
    if missing:
        print(f"note: {len(missing)} of {len(chosen)} runs have no TensorBoard event files "
              f"(e.g. {missing[0]}); scripts write them to tuner.tensorboard_dir()", file=sys.stderr)
    if not runs:
        what = f"sweep {args.sweep}" if args.sweep else f"the latest {len(chosen)} runs"
        print(f"tune: no TensorBoard event files in {what}" if chosen else "tune: no runs found", file=sys.stderr)
        return 1
    print(shlex.join(tensorboard_command(runs)))
    return 0
