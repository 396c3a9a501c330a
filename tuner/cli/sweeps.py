"""CLI of sweeps: `tune SCRIPT --flags grid.yml ...`, `tune resume SWEEP`, `tune sweeps`."""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
from typing import Any, Sequence

from tuner.console.inert import inert
from tuner.console.tables import print_runs_table
from tuner.flagsfile import FlagsFile
from tuner.sweep import SweepResult, run_sweep
from tuner.sweep.prepare import (
    SweepRequest,
    confirm_launch,
    describe_plan,
    prepare_sweep,
)
from tuner.sweep.resume import prepare_resume, sweep_statuses


def _print_result(result: SweepResult, request: SweepRequest) -> int:
    frame = result.frame
    ranking = result.ranking
    if result.metrics:  # several metrics: the front, no best
        if not request.quiet:
            _print_front(result, request)
    elif not frame.empty and not request.quiet:
        shown = frame
        columns = ["run_dir", "trial", "status", "stopped_at", "duration_s"]
        columns += _swept_flag_columns(frame, request)
        if ranking is not None:
            order = ranking.order(frame.to_dict("records"))
            rest = [i for i in range(len(frame)) if i not in set(order)]
            shown = frame.iloc[order + rest]
            columns.append(ranking.column)
        else:
            columns += [c for c in frame.columns if c.startswith(("metric_", "eval_"))][:4]
        print_runs_table(shown, [c for c in dict.fromkeys(columns) if c in frame.columns])
        if ranking is not None:
            best = result.best_run
            if best is not None:
                print(inert(f"best {ranking.metric}: {best[ranking.column]:.4g} in {best['run_dir']}"))
            else:
                kept = " and kept the constraints" if ranking.constraints else ""
                print(f"no best {ranking.metric}: no finished run recorded it{kept}")
    counts = result.counts
    print(f"sweep {result.sweep_id}: {counts.describe()}; summary: {result.summary_csv}")
    if result.interrupted:
        print(f"interrupted; finished runs are kept. resume with: tune resume {result.sweep_id}", file=sys.stderr)
        return 130
    if result.config_error:  # resuming would fail the same way: say what to change instead
        print("fix the error above and start the sweep again; resuming it would fail the same way", file=sys.stderr)
    elif result.stopped_early or (counts.failed and counts.finished + counts.skipped < counts.planned):
        print(f"rerun the failed trials with: tune resume {result.sweep_id}", file=sys.stderr)
    lost = counts.interrupted  # their node or worker died past retries
    if lost and not result.config_error:
        print(f"{lost} trial(s) lost with their worker; rerun them with: tune resume {result.sweep_id}",
              file=sys.stderr)
    return 1 if counts.failed or lost else 0


def _print_front(result: SweepResult, request: SweepRequest) -> None:
    """A multi-objective sweep's summary: every run, those on the Pareto front first (by the first metric), with a
    `pareto` mark; then `front: N runs` (never a best)."""
    frame = result.frame
    objectives = result.objectives
    if frame.empty:
        return
    columns = ["run_dir", "trial", "status", "stopped_at", "duration_s"] + _swept_flag_columns(frame, request)
    shown = frame
    if objectives is not None:
        rows = frame.to_dict("records")
        front = objectives.front(rows)
        front.sort(key=lambda i: (objectives.costs(rows[i]) or (0.0,))[0])  # by the first metric, best first
        shown = frame.assign(pareto=["*" if i in set(front) else "" for i in range(len(frame))])
        shown = shown.iloc[front + [i for i in range(len(frame)) if i not in set(front)]]
        columns += ["pareto"] + objectives.columns
    else:
        columns += [c for c in frame.columns if c.startswith(("metric_", "eval_"))][:4]
    print_runs_table(shown, [c for c in dict.fromkeys(columns) if c in shown.columns])
    constraints = f"; constraints: {', '.join(result.constraints)}" if result.constraints else ""
    if objectives is None:
        missing = [m for m in result.metrics if not any(c in frame.columns for c in (f"metric_{m}", f"eval_{m}"))]
        print(inert(f"no front: no run recorded {', '.join(missing) or 'every metric'}{constraints}"))
        return
    size = len(objectives.front(frame.to_dict("records")))
    print(inert(f"front: {size} run{'s' if size != 1 else ''} ({objectives.describe()}{constraints})"
                + ("" if size else ": no finished run has every metric" + (" and keeps the constraints"
                                                                          if constraints else ""))))


def _swept_flag_columns(frame: Any, request: Any) -> list[str]:
    """The flags the sweep set (its grid's) and any that differ between its runs; not the script's defaults that
    every trial shares (flags.json records them too, tuner.spec)."""
    plan = getattr(request, "plan", None)
    named = {f"flag_{name}" for name in (plan.grid.names if plan is not None else ())}
    flags = [c for c in frame.columns if str(c).startswith("flag_")]
    return [c for c in flags if c in named or frame[c].astype(str).nunique(dropna=False) > 1]


def run_sweep_command(args: argparse.Namespace, script: str, flags_file: FlagsFile | None, cli_flags: dict[str, Any],
                      script_args: Sequence[str]) -> int:
    """`tune SCRIPT ...` as a sweep of `script` over `flags_file` (read once by the caller) and the `--flag`s."""
    from tuner.cli.options import UsageError, one_or_list
    from tuner.store.files import parse_tag_options

    in_file = flags_file.settings if flags_file is not None else {}
    drawn = [n for n, v in cli_flags.items() if isinstance(v, dict)]
    if drawn and args.num_samples is None and args.search is None and getattr(args, "run_cap", None) is None and not {
            "num_samples", "run_cap", "search"} & set(in_file):
        raise UsageError(f"--flag {drawn[0]} is drawn from a range (Hydra's interval, or a choice of the Optuna "
                         "sweeper): add --num-samples N (draws) or --search tpe with --run-cap N")
    space = flags_file is not None and flags_file.has_distributions
    if args.seed is not None and args.sample is None and args.num_samples is None and not space and not {
            "sample", "num_samples", "run_cap"} & set(in_file):
        raise UsageError("--seed only applies with --sample or a search space")
    request = prepare_sweep(script, flags_file, args.sample, args.seed, flag_overrides=cli_flags,
                            metric=one_or_list(args.metric), mode=one_or_list(args.mode),
                            constraints=getattr(args, "constraint", None), extra_args=script_args,
                            skip_done=args.skip_done,
                            quiet=args.quiet, check=getattr(args, "check", True),
                            tags=parse_tag_options(args.tag), label=args.label, note=args.note,
                            num_samples=args.num_samples, search=args.search, stop=args.stop,
                            stop_options=dict(grace_period=args.grace_period, reduction_factor=args.reduction_factor,
                                              max_t=args.max_t, min_trials=args.min_trials,
                                              brackets=getattr(args, "brackets", None),
                                              budget_flag=getattr(args, "budget_flag", None),
                                              perturbation_interval=getattr(args, "perturbation_interval", None),
                                              quantile_fraction=getattr(args, "quantile_fraction", None),
                                              resample_probability=getattr(args, "resample_probability", None)),
                            target=getattr(args, "target", None), run_cap=getattr(args, "run_cap", None),
                            runs_dir=args.runs_dir, cpus_per_trial=args.cpus_per_trial,
                            gpus_per_trial=args.gpus_per_trial, max_concurrent=args.max_concurrent,
                            max_failures=args.max_failures, retries=args.retries, timeout_s=args.timeout,
                            ray_address=args.address or None, stdout_metrics=getattr(args, "stdout_metrics", None),
                            keep_cluster_s=getattr(args, "keep_cluster_s", None),
                            ship_project=getattr(args, "ship_project", None))
    print(describe_plan(request), flush=True)
    if request.skipped and not request.todo:
        print("Nothing to run: every planned combination already has a finished run of this script (--skip-done); "
              "no sweep was recorded. `tune ls` lists them.")
        return 0
    todo = len(request.todo) if request.todo is not None else len(request.plan.indices)
    if not confirm_launch(todo, request.settings.confirm and not args.yes):
        print("Cancelled; nothing was run.")
        return 0
    return _print_result(run_sweep(request), request)


def resume_parser() -> argparse.ArgumentParser:
    from tuner.cli.options import Parser, add_runs_dir, add_sweep_switches, add_trial_options, formatter, seconds

    parser = Parser(prog="tune resume", formatter_class=formatter,
                     description="Finish an interrupted sweep: run only the combinations without a finished run\n"
                                 "(failed ones too, unless --no-retry-failed), with the recorded settings;\n"
                                 "an option given here replaces the recorded setting.")
    parser.add_argument("sweep", help="sweep id (see `tune sweeps`), or a submission's id (`tune submit`): resumed "
                        "on its cluster")
    parser.add_argument("--no-retry-failed", action="store_true", help="do not rerun failed or timed-out trials")
    add_runs_dir(parser)
    parser.add_argument("--timeout", type=seconds, metavar="TIME", help="per-run time limit: seconds, or 30m, 2h")
    add_trial_options(parser)
    parser.add_argument("--project", metavar="DIR", help="the project's folder now, if it moved since the sweep "
                        "started: the recorded script is run from there")
    add_sweep_switches(parser, yes="do not ask: neither `Proceed with N runs?` nor about a journal not signed by "
                       "you (edited, another user's, or written by an older tuner), which is otherwise shown and "
                       "asked about")
    return parser


def cmd_resume(argv: Sequence[str]) -> int:
    parser = resume_parser()
    args = parser.parse_args(argv)
    if args.sweep.startswith("tune-"):  # a submission (`tune submit`): resumed on its cluster
        from tuner.cli.submissions import resume_submitted

        forwarded = [] if not args.no_retry_failed else ["--no-retry-failed"]
        for option in ("cpus_per_trial", "gpus_per_trial", "max_concurrent", "max_failures", "retries", "timeout"):
            if getattr(args, option) is not None:
                forwarded += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
        return resume_submitted(args.sweep, forwarded, args.runs_dir, trust=True if args.yes else None)
    request = prepare_resume(args.sweep, retry_failed=not args.no_retry_failed, quiet=args.quiet,
                             trust=True if args.yes else None,
                             runs_dir=args.runs_dir, cpus_per_trial=args.cpus_per_trial,
                             gpus_per_trial=args.gpus_per_trial, max_concurrent=args.max_concurrent,
                             max_failures=args.max_failures, retries=args.retries, timeout_s=args.timeout,
                             ray_address=args.address, project=args.project)
    todo = len(request.todo or ())
    print(f"sweep {request.sweep_id}: {len(request.plan.indices)} planned, {todo} to run", flush=True)
    if todo == 0:
        print("nothing to resume: every planned combination has a finished run")
        return 0
    if not confirm_launch(todo, request.settings.confirm and not args.yes):
        print("Cancelled; nothing was run.")
        return 0
    return _print_result(run_sweep(request), request)


def cmd_sweeps(argv: Sequence[str]) -> int:
    from tuner.cli.options import Parser, add_runs_dir, formatter
    from tuner.settings import load_settings
    from tuner.store.status import TrialState

    parser = Parser(prog="tune sweeps", formatter_class=formatter,
                     description="List sweeps with their best run and their trials by state (the states add up\n"
                                 "to the trials planned).")
    add_runs_dir(parser)
    args = parser.parse_args(argv)
    settings = load_settings(runs_dir=args.runs_dir)
    rows = sweep_statuses(settings.runs_dir, settings.stale_after_s)
    from tuner.cli.submissions import submitted_lines

    submitted = submitted_lines(args.runs_dir)
    if submitted:  # their sweeps appear above once pulled
        print("submitted to a cluster (`tune logs ID`, `tune pull ID`, `tune resume ID`):\n"
              + "\n".join(map(inert, submitted)))
    if not rows:
        folder = os.path.join(settings.runs_dir, "")
        where = "" if os.path.isdir(folder) else " (the folder does not exist yet)"
        print(f"No sweeps in {folder}{where}; `tune train.py --flag lr=0.1,0.01` makes one." if not submitted
              else "No sweeps here yet: `tune pull ID` brings them home.")
        return 0
    from tuner.console.tables import print_table
    from tuner.values import format_path

    # the trials by state (tuner.store.status.TrialCounts), in the order every view lists them: they add up to planned
    numbers = ("planned",) + tuple(state.value for state in TrialState)
    damaged = [row for row in rows if row.damaged is not None]
    rows = [row for row in rows if row.damaged is None]
    on_terminal = sys.stdout.isatty()
    cells = []
    for row in rows:
        created = _dt.datetime.fromtimestamp(row.created, tz=_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        sweep, script = inert(row.sweep_id), inert(format_path(row.script, os.getcwd()))
        if on_terminal:  # the counts in one cell, the states with trials only: a person reads them at 80 columns
            cells.append([sweep, _trials_cell(row.counts), inert(_best(row)), script, inert(row.best_run or ""),
                          created])
        else:
            counts = row.counts.as_dict()
            cells.append([sweep, created, script, inert(_best(row)), inert(row.best_run or "")]
                         + [str(counts[name]) for name in numbers])
    if rows and on_terminal:  # the sweep id is its UTC start time already: `created` comes last
        print_table(("sweep", "trials", "best", "script", "best run", "created"), [False] * 6, cells,
                    "`tune sweeps | cat` prints every column, each state's count in its own")
    elif rows:  # piped: the style of `tune ls`, one column per state (grep and cut read them), the counts last
        print_table(("sweep", "created", "script", "best", "best run") + numbers,
                    [False] * 5 + [True] * len(numbers), cells)
    for row in damaged:
        print(inert(f"sweep {row.sweep_id} is damaged: {row.damaged}"))
    return 0


def _trials_cell(counts: Any) -> str:
    """`10: 7 finished, 2 failed, 1 running`: the planned trials, then each state that has some (a TrialCounts)."""
    return f"{counts.planned}: " + ", ".join(f"{n} {state.value}" for state, n in counts if n) if counts.planned \
        else "0"


def _best(row: Any) -> str:
    """`val_loss 0.213 (min)`: the sweep's best by its own ranking (tuner.runs.ranking.sweep_ranking); for a sweep
    of several metrics the size of its Pareto front, `front: 4 runs (val_loss min, latency_ms min)`."""
    if row.objectives:
        size = "-" if row.front is None else f"{row.front} run{'s' if row.front != 1 else ''}"
        named = ", ".join(f"{metric} {mode}" if mode else metric for metric, mode in row.objectives)
        return f"front: {size} ({named})"
    if row.metric is None:
        return ""
    if row.best_value is None:
        return f"{row.metric} -"
    return f"{row.metric} {row.best_value:.4g} ({row.mode})"
