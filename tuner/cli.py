"""The `tune` command. Only this module knows exit codes and terminal formatting (DESIGN section 6).

Exit status: 0 all good, 1 a run or trial failed, 2 bad input, 130 interrupted.
Commands that run nothing (`--help`, `ls`, `info` ...) never import Ray.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, Sequence

from .errors import TunerError

PROG = "tune"
FULL_ERROR_ENV = "TUNER_FULL_ERROR"


class UsageError(TunerError):
    """Raised by the argument parser instead of printing usage and exiting."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, via main()
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


OVERVIEW = """\
Run a training script over many flag combinations on every CPU and GPU, then list, compare and
reproduce the runs. `python -m tuner` is the same command (use it if another `tune` shadows this one).

examples:
  tune train.py                                  one tracked run with the script's default flags
  tune train.py --flag lr=0.01 --flag units=64   one run with these flags
  tune train.py --flags grid.yml --sample 0.3    a sweep: 30% of the grid's combinations, in parallel
  tune train.py --flag lr=0.1,0.01 --flag units=64,128   a sweep over the 4 combinations
  tune ls --filter "metric_val_acc > 0.9" --order metric_val_acc
  tune info                                      the latest run in detail

commands:
  SCRIPT        run a script (a single run, or a sweep when a flag has several values)
  ls            list runs                         info       show one run
  sweeps        list sweeps with their counts     resume     finish an interrupted sweep
  view          HTML view of a run                compare    compare two runs
  report        HTML report of a sweep            clean      archive runs
  purge         delete archived runs              copy       copy a run or its files
  rm            delete runs by name pattern       reproduce  how to re-run a run exactly
  lookup        print one field of a run          tensorboard  command to view runs in TensorBoard
  export        export runs to MLflow (tune export mlflow --help)

`tune COMMAND --help` explains each command. Settings: tuner.yml in the working directory and
TUNER_* environment variables (see configs/tuner.yml); TUNER_FULL_ERROR=1 shows tracebacks.
"""


def _add_runs_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs-dir", metavar="DIR", help="runs directory (default: settings runs_dir, 'runs')")


def _run_parser() -> _Parser:
    parser = _Parser(prog=f"{PROG} SCRIPT", formatter_class=_formatter,
                     description="Run SCRIPT once (tracked), or as a sweep when a flag has several values.",
                     epilog="Flags reach the script as --name=value arguments (argparse scripts work unchanged)\n"
                            "and exactly, as JSON, to tuner.flags(). Arguments after `--` go to the script as is.")
    parser.add_argument("script", help="the training script, e.g. train.py")
    parser.add_argument("--flag", action="append", default=[], metavar="NAME=V[,V...]",
                        help="a flag value; several comma-separated values make a sweep (repeatable)")
    parser.add_argument("--flags", metavar="FILE",
                        help="YAML mapping flag -> value or list of values, or a CSV whose rows are combinations")
    _add_runs_dir(parser)
    parser.add_argument("--no-echo", dest="echo", action="store_false", default=None,
                        help="do not echo the script's output (single runs)")
    parser.add_argument("--artifacts-dir", metavar="DIR", default=".",
                        help="copy files changed here during a single run into the run (default: .)")
    parser.add_argument("--no-artifacts", action="store_true", help="do not capture artifacts")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="per-run time limit")
    parser.add_argument("--no-stdout-metrics", dest="stdout_metrics", action="store_false", default=None,
                        help="do not read printed `name: number` lines as metrics")
    sweep = parser.add_argument_group("sweeps")
    sweep.add_argument("--sample", metavar="FRACTION", help="run a random fraction in (0, 1] of the combinations")
    sweep.add_argument("--seed", type=int, help="random seed for --sample (recorded and printed)")
    sweep.add_argument("--metric", help="metric shown as 'best so far' and used to sort the summary, e.g. val_acc")
    sweep.add_argument("--mode", choices=("max", "min"), help="whether --metric is better high or low "
                       "(default: min for names containing 'loss' or 'error', else max)")
    sweep.add_argument("--cpus-per-trial", type=float, metavar="N", help="CPUs per trial (default 1)")
    sweep.add_argument("--gpus-per-trial", type=float, metavar="N",
                       help="GPUs per trial, fractions allowed (default: 1 if the cluster has GPUs, else 0)")
    sweep.add_argument("--max-concurrent", type=int, metavar="N", help="at most N trials at once")
    sweep.add_argument("--max-failures", type=int, metavar="N", help="stop launching new trials after N failures")
    sweep.add_argument("--retries", type=int, metavar="N", help="retry a failed trial up to N times")
    sweep.add_argument("--address", metavar="ADDR", help="join this Ray cluster instead of starting one")
    sweep.add_argument("--skip-done", action="store_true",
                       help="skip combinations that already have a finished run of the same script")
    sweep.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    sweep.add_argument("--quiet", "-q", action="store_true", help="no progress display")
    sweep.add_argument("--force-sweep", action="store_true", help=argparse.SUPPRESS)
    return parser


def split_values(raw: str) -> list[str]:
    """`a,b,'c,d'` -> ["a", "b", "'c,d'"]: commas inside YAML quotes belong to the value."""
    pieces: list[str] = []
    current: list[str] = []
    quote = ""
    for char in raw:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == ",":
            pieces.append("".join(current))
            current = []
            continue
        current.append(char)
    pieces.append("".join(current))
    return pieces


def parse_flag_options(items: Sequence[str]) -> dict[str, list[Any]]:
    """`--flag name=v1,v2` -> {name: [v1, v2]} with YAML-typed values (`1e-3` a float, `001` a string)."""
    from .flags import parse_scalar

    values: dict[str, list[Any]] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise UsageError(f"--flag {item!r}: expected NAME=VALUE or NAME=V1,V2,...")
        parsed = []
        for piece in split_values(raw):
            value = parse_scalar(piece) if piece.strip() else ""
            if isinstance(value, (dict, list)):
                value = piece
            parsed.append(value)
        values[name] = parsed
    return values


def _cmd_run(argv: Sequence[str]) -> int:
    script_args: tuple[str, ...] = ()
    if "--" in argv:
        cut = list(argv).index("--")
        argv, script_args = list(argv)[:cut], tuple(argv[cut + 1:])
    args = _run_parser().parse_args(argv)
    cli_flags = parse_flag_options(args.flag)
    is_sweep = (args.flags is not None or args.sample is not None or args.force_sweep
                or any(len(v) > 1 for v in cli_flags.values()))
    if args.flags is not None and not is_sweep_file(args.flags):
        is_sweep = args.sample is not None or any(len(v) > 1 for v in cli_flags.values())
    if is_sweep:
        from .sweep_cli import run_sweep_command

        return run_sweep_command(args, cli_flags, script_args)
    from .training import training_run

    flags: dict[str, Any] = {}
    if args.flags is not None:  # one value per flag: `lr: 0.1` or `lr: [0.1]`
        from .launch import check_flag_values
        from .plan import read_grid_file

        grid = read_grid_file(args.flags)
        flags.update(check_flag_values({k: v[0] if isinstance(v, list) and len(v) == 1 else v
                                        for k, v in grid.items()}, args.flags))
    flags.update({name: values[0] for name, values in cli_flags.items()})
    try:
        training_run(args.script, flags=flags, runs_dir=args.runs_dir, echo=args.echo,
                     artifacts_dir=None if args.no_artifacts else args.artifacts_dir, timeout_s=args.timeout,
                     extra_args=script_args, stdout_metrics=args.stdout_metrics)
    except TunerError as exc:
        if getattr(exc, "run_dir", None):  # the run is recorded; say where, exit 1
            print(f"{PROG}: {exc}", file=sys.stderr)
            return exc.exit_status
        raise
    return 0


def is_sweep_file(path: str) -> bool:
    """A flags file is a sweep when it is a CSV or any value is a list (else it is one run's flags)."""
    if path.lower().endswith(".csv"):
        return True
    from .plan import read_grid_file

    grid = read_grid_file(path)
    return any(isinstance(v, list) and len(v) != 1 for v in grid.values())


# ---------------------------------------------------------------------------------------------------
# ls / info

def _cmd_ls(argv: Sequence[str]) -> int:
    parser = _Parser(prog=f"{PROG} ls", formatter_class=_formatter, description="List runs, newest first.",
                     epilog="examples:\n  tune ls --filter \"metric_val_acc > 0.9 and flag_dropout < 0.3\"\n"
                            "  tune ls --filter \"metrics.val_acc > 0.9 and params.dropout = '0.2'\" "
                            "--order \"metrics.val_acc DESC\"\n"
                            "  tune ls --order metric_val_loss --ascending --latest 20\n"
                            "  tune ls --format csv > runs.csv")
    parser.add_argument("--filter", metavar="EXPR", help="pandas query over the columns (or MLflow filter syntax)")
    parser.add_argument("--order", metavar="COL", action="append", help="sort by column (repeatable)")
    parser.add_argument("--ascending", action="store_true", help="sort ascending (default: descending)")
    parser.add_argument("--latest", type=int, metavar="N", help="only the N newest runs")
    parser.add_argument("--columns", metavar="C1,C2", help="columns to show, names or MLflow keys such as "
                        "metrics.acc (default: a compact choice)")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    _add_runs_dir(parser)
    args = parser.parse_args(argv)
    from .runs import ls_runs

    frame = ls_runs(subset=args.filter, order=args.order or "start", decreasing=not args.ascending,
                    latest_n=args.latest, runs_dir=args.runs_dir)
    from .display import print_runs_table, select_columns

    from .query import column_name

    columns = [column_name(c) for c in args.columns.split(",")] if args.columns else None
    frame = select_columns(frame, columns)
    if args.format == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif args.format == "json":
        sys.stdout.write(frame.to_json(orient="records", date_format="iso") + "\n")
    else:
        print_runs_table(frame)
    return 0


def _cmd_info(argv: Sequence[str]) -> int:
    parser = _Parser(prog=f"{PROG} info", formatter_class=_formatter, description="Show one run (default: the latest).")
    parser.add_argument("run", nargs="?", help="run directory or name (default: the latest run)")
    _add_runs_dir(parser)
    args = parser.parse_args(argv)
    from .display import print_run_info
    from .runs import latest_run, run_info

    info = run_info(args.run, args.runs_dir) if args.run else latest_run(args.runs_dir)
    if info is None:
        print("No runs found.")
        return 0
    print_run_info(info)
    return 0


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {"ls": _cmd_ls, "info": _cmd_info, "run": _cmd_run}


def register(name: str) -> Callable[[Callable[[Sequence[str]], int]], Callable[[Sequence[str]], int]]:
    def add(func: Callable[[Sequence[str]], int]) -> Callable[[Sequence[str]], int]:
        COMMANDS[name] = func
        return func
    return add


def _dispatch(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: {PROG} SCRIPT [options] | {PROG} COMMAND [options]\n\n{OVERVIEW}")
        return 0 if argv else 2
    if argv[0] == "--version":
        from ._version import __version__

        print(f"tuner {__version__}")
        return 0
    from . import cli_commands  # noqa: F401  (registers the remaining commands)

    command = COMMANDS.get(argv[0])
    if command is not None:
        return command(argv[1:])
    return _cmd_run(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args)
    except TunerError as exc:
        if os.environ.get(FULL_ERROR_ENV):
            raise
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `tune ls | head`
        return 0
