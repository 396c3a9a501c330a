"""`tune tensorboard [SWEEP]`."""

from __future__ import annotations

import shlex
import sys
from typing import Sequence

from tuner.export.tensorboard import select_runs, tensorboard_command, tensorboard_runs
from tuner.settings import load_settings


def cmd_tensorboard(argv: Sequence[str]) -> int:
    from tuner.cli.options import Parser, add_runs_dir, count, formatter
    from tuner.console.inert import inert

    parser = Parser(prog="tune tensorboard", formatter_class=formatter,
                     description="Print the command that shows runs side by side in TensorBoard: a sweep's runs,\n"
                                 "or the latest runs. Runs write event files with tuner.tensorboard_dir().\n"
                                 "With SWEEP it also writes (or keeps current) the sweep's HParams view, a table,\n"
                                 "parallel coordinates and scatter plots of flags against metrics, in\n"
                                 "runs/sweeps/ID/tensorboard.",
                     epilog="examples:\n  tune tensorboard 20261122-080102-a3f9     then run the printed command\n"
                            "  tune tensorboard --latest 3                the 3 newest runs")
    parser.add_argument("sweep", nargs="?", help="sweep id (see `tune sweeps`); default: the latest runs")
    parser.add_argument("--latest", type=count, default=10, metavar="N", help="without SWEEP: the N newest runs "
                        "(default 10)")
    parser.add_argument("--metric", action="append", metavar="NAME", help="with SWEEP: a metric column of the "
                        "HParams view (repeatable; default: every metric)")
    parser.add_argument("--no-hparams", action="store_true", help="with SWEEP: do not write the HParams view")
    add_runs_dir(parser)
    args = parser.parse_args(argv)
    runs_dir = load_settings(runs_dir=args.runs_dir).runs_dir
    chosen = select_runs(runs_dir, args.sweep, args.latest)
    runs, missing = tensorboard_runs(chosen)
    if args.sweep is not None and not args.no_hparams:  # the sweep's HParams view (tuner.export.hparams)
        from tuner.cli.export import hparams_run_for_cli

        hparams = hparams_run_for_cli(args.sweep, runs_dir, args.metric)
        runs, missing = hparams + runs, [] if hparams else missing  # the view holds every run's metrics
    if missing:
        print(inert(f"note: {len(missing)} of {len(chosen)} runs have no TensorBoard event files "
                    f"(e.g. {missing[0]}); scripts write them to tuner.tensorboard_dir()"), file=sys.stderr)
    if not runs:  # as every command that finds nothing to show: one `tune: error:` line, exit 2
        from tuner.errors import RunNotFoundError

        what = f"sweep {args.sweep}" if args.sweep else f"the latest {len(chosen)} runs"
        raise RunNotFoundError(f"no TensorBoard event files in {what}; scripts write them to "
                               "tuner.tensorboard_dir()" if chosen else
                               f"no runs in '{runs_dir}'; start one with `tune SCRIPT`")
    print(inert(shlex.join(tensorboard_command(runs))))  # shlex quotes for a shell, not for a terminal
    return 0


