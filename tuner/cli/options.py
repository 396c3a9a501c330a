"""Shared pieces of every `tune` command: the parser that raises instead of exiting, common options."""

from __future__ import annotations

import argparse
import math
from typing import Any, Callable, NoReturn

from tuner.errors import TunerError, quoted
from tuner.store.layout import ENV_FULL_ERROR

PROG = "tune"
FULL_ERROR_ENV = ENV_FULL_ERROR


class UsageError(TunerError):
    """Raised by the argument parser instead of printing usage and exiting."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, via main()
        raise UsageError(f"{message} (see `{self.prog} --help`)")


#: what a time option's number may end with (`--timeout 2h`, `--keep-cluster 10m`): the unit's length in seconds
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def seconds(text: str) -> float:
    """An argparse type for time options: seconds (600, 1.5) or a number with a unit (90s, 10m, 2h, 1d).
    Range checks (positive, not negative) stay with the setting they feed (tuner.settings), one owner each."""
    value = text.strip().lower()
    scale = _UNITS.get(value[-1:])
    try:
        number = float(value[:-1] if scale else value) * (scale or 1.0)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(
            f"{quoted(text)} is not a time: give seconds (600) or a number with s, m, h or d (10m, 1.5h)")
    return number


def positive(what: str, example: int) -> Callable[[str], int]:
    """An argparse type for a count given on the command line: a positive integer, refused as `argument
    --num-samples: '0' is not a positive whole number of draws per grid point (e.g. 20)`, so the option is
    blamed, not a flags file it may override."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"{quoted(text)} is not a positive whole number of {what} (e.g. {example})")
        return value

    parse.__name__ = f"number of {what}"  # what argparse would name in its own messages
    return parse


#: `--latest 20`: a number of runs
count = positive("runs", 20)


def one_or_list(values: list[str] | None) -> str | list[str] | None:
    """A repeatable option's values (`--metric a --metric b`) as the API takes them: None, one value, or the list."""
    if not values:
        return None
    return values[0] if len(values) == 1 else list(values)


def formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def add_runs_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs-dir", metavar="DIR", help="runs directory (default: settings runs_dir, 'runs')")


def add_filter(parser: argparse.ArgumentParser, which: str) -> None:
    """--filter: one help text (and one pointer to the grammar) for ls, clean and restore."""
    parser.add_argument("--filter", metavar="EXPR", help=f"only {which} matching this filter over the columns, "
                        "pandas-style (metric_acc > 0.9 and flag_lr < 0.1) or MLflow syntax (metrics.acc > 0.9 "
                        "AND params.lr = '0.01'); parsed, never run as code; grammar: docs/filters.md")


def confirm_option(args: argparse.Namespace) -> bool | None:
    """--yes: never ask; otherwise ask only when stdin is a terminal."""
    return False if args.yes else None


def add_yes(parser: argparse.ArgumentParser) -> None:
    """--yes of the commands that move or delete runs (clean, restore, purge, rm): their one rule, in the help."""
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask; without a terminal to ask on, "
                        "nothing is moved or deleted unless this is given")


def add_trial_options(group: Any) -> None:
    """How trials run, for `tune SCRIPT` and `tune resume` alike: one definition and one help text each (resume
    takes them to change what the sweep recorded)."""
    group.add_argument("--cpus-per-trial", type=float, metavar="N", help="CPUs per trial (default 1)")
    group.add_argument("--gpus-per-trial", type=float, metavar="N",
                       help="GPUs per trial, fractions allowed (default: 1 if the cluster has GPUs, else 0)")
    group.add_argument("--max-concurrent", type=positive("trials at once", 4), metavar="N",
                       help="at most N trials at once")
    group.add_argument("--max-failures", type=int, metavar="N", help="stop launching new trials after N failures")
    group.add_argument("--retries", type=int, metavar="N", help="retry a failed trial up to N times")
    group.add_argument("--address", metavar="ADDR", help="join this Ray cluster instead of starting one; the "
                       "project folder (without the runs directory, .git, virtualenvs and what .gitignore or "
                       ".rayignore list) is sent to it, so nodes without this machine's files can run the trials")


def add_sweep_switches(group: Any, yes: str = "do not ask for confirmation") -> None:
    """--yes and --quiet of `tune SCRIPT` and `tune resume` (whose --yes also answers for a journal it asks about)."""
    group.add_argument("--yes", "-y", action="store_true", help=yes)
    group.add_argument("--quiet", "-q", action="store_true", help="no progress display")
