"""`tune SCRIPT ...`: one tracked run, or a sweep when a flag has several values."""

from __future__ import annotations

import sys
from typing import Any, Sequence

from tuner.cli.options import (
    PROG,
    Parser,
    UsageError,
    add_runs_dir,
    add_sweep_switches,
    add_trial_options,
    formatter,
    positive,
    seconds,
)
from tuner.errors import TunerError, quoted


def run_parser() -> Parser:
    parser = Parser(prog=f"{PROG} SCRIPT", formatter_class=formatter,
                     description="Run SCRIPT once (tracked), or as a sweep when a flag has several values.",
                     epilog="Flags reach the script as --name=value arguments (argparse scripts work unchanged)\n"
                            "and exactly, as JSON, to tuner.flags(). Arguments after `--` go to the script as is.")
    parser.add_argument("script", help="the training script, e.g. train.py")
    parser.add_argument("--flag", action="append", default=[], metavar="NAME=V[,V...]",
                        help="a flag value; several comma-separated values make a sweep (repeatable); to pass "
                             "a comma, quote the value: --flag \"note='a,b'\"")
    parser.add_argument("--flags", metavar="FILE",
                        help="YAML mapping flag -> value or list of values, or a CSV whose rows are combinations")
    add_runs_dir(parser)
    parser.add_argument("--no-echo", dest="echo", action="store_false", default=None,
                        help="do not echo the script's output (single runs)")
    parser.add_argument("--artifacts-dir", metavar="DIR", default=".",
                        help="a single run: the default . means the script works in a copy-on-write view of "
                             "the project, everything it writes is the run's; another folder: the script runs in "
                             "the current directory and the files changed under that folder are copied into the run")
    parser.add_argument("--no-artifacts", action="store_true", help="do not capture artifacts")
    parser.add_argument("--timeout", type=seconds, metavar="TIME", help="per-run time limit: seconds, or 30m, 2h")
    parser.add_argument("--no-stdout-metrics", dest="stdout_metrics", action="store_false", default=None,
                        help="do not read printed `name: number` lines as metrics")
    parser.add_argument("--no-check", dest="check", action="store_false",
                        help="do not find the script's flags first (`tune flags`) nor check the flags against "
                             "them: for scripts that cannot be inspected; flags are passed as --name=value, and "
                             "the run records only them, not the script's defaults")
    parser.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE",
                        help="a tag of the run (of every trial of a sweep); repeat for more; "
                             "change later with `tune tag RUN`")
    parser.add_argument("--label", help="a short label of the run(s): the tag `label`")
    parser.add_argument("--note", help="a note about the run(s): the tag `note`")
    sweep = parser.add_argument_group("sweeps")
    sweep.add_argument("--sample", metavar="FRACTION", help="run a random fraction in (0, 1] of the combinations")
    sweep.add_argument("--seed", type=int, help="random seed for --sample or a search space (recorded and printed)")
    sweep.add_argument("--num-samples", type=positive("draws per grid point", 20), metavar="N",
                       help="random draws per grid point of a search space (flags like {uniform: [0, 1]})")
    sweep.add_argument("--search", choices=("random", "tpe", "nsga2", "cmaes", "gp", "pbt"),
                       help="sampler of a search space (default random; tpe/nsga2/cmaes/gp need the 'search' extra; "
                            "several --metric: tpe, nsga2 or gp); pbt: population based training on the trials' "
                            "checkpoints")
    sweep.add_argument("--perturbation-interval", type=float, metavar="STEPS",
                       help="--search pbt: every STEPS steps the bottom quantile exploits the top one")
    sweep.add_argument("--quantile-fraction", type=float, metavar="Q", help="--search pbt: the quantile (0.25)")
    sweep.add_argument("--resample-probability", type=float, metavar="P",
                       help="--search pbt: a flag is drawn again from its space with this probability (0.25)")
    sweep.add_argument("--stop", choices=("median", "asha", "hyperband", "wandb-hyperband", "moasha"),
                       help="stop hopeless trials early on --metric (median, asha; several metrics: moasha, or asha: "
                       "the same); hyperband pauses trials at rungs and promotes the best from their checkpoint; "
                       "wandb-hyperband is W&B's early_terminate")
    sweep.add_argument("--grace-period", type=float, metavar="STEPS", help="--stop: steps before a trial is judged (1)")
    sweep.add_argument("--reduction-factor", type=float, metavar="R", help="--stop asha: keep the top 1/R per rung (3)")
    sweep.add_argument("--max-t", type=float, metavar="STEPS", help="--stop asha: stop every trial at this step")
    sweep.add_argument("--min-trials", type=int, metavar="N", help="--stop median: other trials needed to judge (3)")
    sweep.add_argument("--budget-flag", metavar="NAME", help="--stop hyperband: the flag that gives a trial its budget "
                       "(e.g. epochs: each rung runs the trial with NAME=its budget); default: the step it reports")
    sweep.add_argument("--brackets", type=int, metavar="S", help="--stop hyperband: Hyperband's brackets (1: ASHA); "
                       "--stop wandb-hyperband with --max-t: W&B's s, the number "
                       "of bands below max_t (else bands start at --grace-period, W&B's min_iter)")
    sweep.add_argument("--run-cap", type=positive("trials", 30), metavar="N",
                       help="run at most N trials (the first N of the plan)")
    sweep.add_argument("--target", type=float, metavar="VALUE",
                       help="launch no new trial once a finished trial's --metric reaches VALUE")
    sweep.add_argument("--metric", action="append", help="the sweep's ranking metric, e.g. val_loss: 'best so far', "
                       "the summary, and every later view of the sweep (tune report, tune sweeps, the exports); "
                       "repeat for several objectives (--metric val_loss --metric latency_ms): no best, the Pareto "
                       "front")
    sweep.add_argument("--mode", action="append", choices=("max", "min"), help="whether --metric is better high or "
                       "low (default: min for names containing 'loss' or 'error', else max); one per --metric, "
                       "in the same order")
    sweep.add_argument("--constraint", action="append", metavar="EXPR", help="a bound on a metric of the run, e.g. "
                       "\"memory_mb <= 512\" (repeatable): a run that breaks one is never best nor on the front, "
                       "and tpe/nsga2/gp are told")
    add_trial_options(sweep)
    sweep.add_argument("--no-ship", dest="ship_project", action="store_false", default=None,
                       help="--address: do not send the project folder, every node sees it at the same path "
                            "(setting ship_project)")
    sweep.add_argument("--keep-cluster", type=seconds, metavar="TIME", dest="keep_cluster_s",
                       help="keep the local cluster warm this long after the sweep (600, 10m, 1h), for the next one to join "
                            "(setting keep_cluster_s; `tune cluster down` stops it)")
    sweep.add_argument("--skip-done", action="store_true",
                       help="skip combinations that already have a finished run of the same script")
    add_sweep_switches(sweep)
    return parser


def parse_flag_options(items: Sequence[str], script: str | None = None) -> dict[str, Any]:
    """`--flag name=v1,v2` -> {name: [v1, v2]} with YAML-typed values (`1e-3` a float, `001` a string). `script`:
    the script they are for (a Hydra `glob()` selects options of its app's config groups)."""
    from tuner.formats.hydra import ConfigGroups, flag_values

    groups = ConfigGroups(script)
    values: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip()  # as the script spells it (`batch-size`); argv is built from the script's interface
        if not sep or not name:
            raise UsageError(f"--flag {quoted(item)}: expected NAME=VALUE or NAME=V1,V2,...")
        # tune's rule (tuner.values), or Hydra's grammar for a value with a sweep function: `range(1, 5)`,
        # `choice(a, b)`, `tag(log, interval(1e-4, 1e-1))`, which may be a distribution (a mapping)
        values[name] = flag_values(raw, name, groups)
    return values


def cmd_run(argv: Sequence[str]) -> int:
    script_args: tuple[str, ...] = ()
    if "--" in argv:
        cut = list(argv).index("--")
        argv, script_args = list(argv)[:cut], tuple(argv[cut + 1:])
    args = run_parser().parse_args(argv)
    from tuner.flagsfile import read_flags_file, sweep_script_file

    # each file is read once, here, and its value handed on (tuner.flagsfile): `tune sweep.yaml` names its program
    script_file = sweep_script_file(args.script)
    script = script_file.program if script_file is not None and script_file.program else args.script
    cli_flags = parse_flag_options(args.flag, script)
    flags_file = read_flags_file(args.flags, script) if args.flags is not None else None
    drawn = any(isinstance(v, dict) for v in cli_flags.values())  # `--flag lr=interval(0, 1)`: a distribution
    is_sweep = (args.sample is not None or args.num_samples is not None or drawn
                or any(len(v) > 1 for v in cli_flags.values())
                or (flags_file.is_sweep if flags_file is not None else script_file is not None))
    if is_sweep:
        from tuner.cli.sweeps import run_sweep_command

        return run_sweep_command(args, script, flags_file or script_file, cli_flags, script_args)
    from tuner.store.files import parse_tag_options
    from tuner.training import training_run

    given = {name: values[0] for name, values in cli_flags.items()}  # `--flag` wins over the file's value
    try:
        frame = training_run(script, flags=flags_file.with_flags(given) if flags_file is not None else given,
                             runs_dir=args.runs_dir, echo=args.echo,
                             artifacts_dir=None if args.no_artifacts else args.artifacts_dir, timeout_s=args.timeout,
                             extra_args=script_args, stdout_metrics=args.stdout_metrics, check=args.check,
                             tags=parse_tag_options(args.tag), label=args.label, note=args.note)
    except TunerError as exc:
        if getattr(exc, "run_dir", None):  # the run is recorded; say where, exit 1
            print(f"{PROG}: {exc}", file=sys.stderr)
            return exc.exit_status
        raise
    from tuner.settings import load_settings

    if not load_settings(runs_dir=args.runs_dir, echo=args.echo).echo:  # quiet, but never silent: where it went
        print(f"Run completed: {frame['run_dir'].iloc[0]}")
    return 0
