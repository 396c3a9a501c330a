"""CLI of sweeps: `tune SCRIPT --flags grid.yml ...`, `tune resume SWEEP`, `tune sweeps`."""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from typing import Any, Sequence

from tuner.console.progress import default_mode
from tuner.console.tables import print_runs_table
from tuner.sweep import SweepResult, run_sweep
from tuner.sweep.prepare import (
    SweepRequest,
    confirm_launch,
    describe_plan,
    prepare_sweep,
)
from tuner.sweep.resume import prepare_resume, sweep_statuses

#: without --metric, the summary ranks runs by the first of these the runs recorded (Keras and tfruns names)
DEFAULT_METRICS = ("val_acc", "val_accuracy", "val_loss", "acc", "accuracy", "loss")


def _default_metric(frame: Any) -> str | None:
    return next((m for m in DEFAULT_METRICS if f"metric_{m}" in frame or f"eval_{m}" in frame), None)


def _print_result(result: SweepResult, request: SweepRequest) -> int:
    frame = result.frame
    metric = request.metric or _default_metric(frame)
    mode = request.mode if request.metric else default_mode(metric) if metric else "max"
    if not frame.empty:
        column = next((c for c in (f"metric_{metric}", f"eval_{metric}") if metric and c in frame), None)
        shown = frame
        if column is not None:
            shown = frame.sort_values(column, ascending=mode == "min", na_position="last", kind="stable")
        columns = ["run_dir", "trial", "status", "duration_s"] + [c for c in frame.columns if c.startswith("flag_")]
        if column:
            columns.append(column)
        else:
            columns += [c for c in frame.columns if c.startswith(("metric_", "eval_"))][:4]
        if not request.quiet:
            print_runs_table(shown, [c for c in dict.fromkeys(columns) if c in frame.columns])
            if column is not None and shown[column].notna().any():
                best = shown.iloc[0]
                print(f"best {metric}: {best[column]:.4g} in {best['run_dir']}")
    parts = [f"{result.finished} finished", f"{result.failed} failed"]
    if result.skipped:
        parts.append(f"{result.skipped} skipped (already done)")
    print(f"sweep {result.sweep_id}: {', '.join(parts)} of {result.planned}; summary: {result.summary_csv}")
    if result.interrupted:
        print(f"interrupted; finished runs are kept. resume with: tune resume {result.sweep_id}", file=sys.stderr)
        return 130
    if result.stopped_early or (result.failed and result.finished + result.skipped < result.planned):
        print(f"rerun the failed trials with: tune resume {result.sweep_id}", file=sys.stderr)
    return 1 if result.failed else 0


def run_sweep_command(args: argparse.Namespace, cli_flags: dict[str, list[Any]], script_args: Sequence[str]) -> int:
    from tuner.cli.options import UsageError

    if args.seed is not None and args.sample is None:
        raise UsageError("--seed only applies with --sample")
    request = prepare_sweep(args.script, args.flags, args.sample, args.seed, flag_overrides=cli_flags,
                            metric=args.metric, mode=args.mode, extra_args=script_args, skip_done=args.skip_done,
                            quiet=args.quiet, runs_dir=args.runs_dir, cpus_per_trial=args.cpus_per_trial,
                            gpus_per_trial=args.gpus_per_trial, max_concurrent=args.max_concurrent,
                            max_failures=args.max_failures, retries=args.retries, timeout_s=args.timeout,
                            ray_address=args.address or None, stdout_metrics=getattr(args, "stdout_metrics", None))
    print(describe_plan(request), flush=True)
    if not confirm_launch(len(request.plan.indices), request.settings.confirm and not args.yes):
        print("Cancelled; nothing was run.")
        return 0
    return _print_result(run_sweep(request), request)


def cmd_resume(argv: Sequence[str]) -> int:
    from tuner.cli.options import Parser, add_runs_dir, formatter

    parser = Parser(prog="tune resume", formatter_class=formatter,
                     description="Finish an interrupted sweep: run only the combinations without a finished run\n"
                                 "(failed ones too, unless --no-retry-failed), with the recorded settings.")
    parser.add_argument("sweep", help="sweep id (see `tune sweeps`)")
    parser.add_argument("--no-retry-failed", action="store_true", help="do not rerun failed or timed-out trials")
    add_runs_dir(parser)
    parser.add_argument("--cpus-per-trial", type=float)
    parser.add_argument("--gpus-per-trial", type=float)
    parser.add_argument("--max-concurrent", type=int)
    parser.add_argument("--max-failures", type=int)
    parser.add_argument("--retries", type=int)
    parser.add_argument("--timeout", type=float, metavar="SECONDS")
    parser.add_argument("--address")
    parser.add_argument("--quiet", "-q", action="store_true")
    args = parser.parse_args(argv)
    request = prepare_resume(args.sweep, retry_failed=not args.no_retry_failed, quiet=args.quiet,
                             runs_dir=args.runs_dir, cpus_per_trial=args.cpus_per_trial,
                             gpus_per_trial=args.gpus_per_trial, max_concurrent=args.max_concurrent,
                             max_failures=args.max_failures, retries=args.retries, timeout_s=args.timeout,
                             ray_address=args.address)
    todo = len(request.todo or ())
    print(f"sweep {request.sweep_id}: {len(request.plan.indices)} planned, {todo} to run", flush=True)
    if todo == 0:
        print("nothing to resume: every planned combination has a finished run")
        return 0
    return _print_result(run_sweep(request), request)


def cmd_sweeps(argv: Sequence[str]) -> int:
    from tuner.cli.options import Parser, add_runs_dir, formatter
    from tuner.settings import load_settings

    parser = Parser(prog="tune sweeps", formatter_class=formatter,
                     description="List sweeps with their counts (planned / finished / failed / pending).")
    add_runs_dir(parser)
    args = parser.parse_args(argv)
    settings = load_settings(runs_dir=args.runs_dir)
    rows = sweep_statuses(settings.runs_dir, settings.stale_after_s)
    if not rows:
        print("No sweeps found.")
        return 0
    from rich.table import Table

    from tuner.console.tables import console

    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for name in ("sweep", "created", "script", "planned", "finished", "failed", "running", "pending"):
        table.add_column(name, justify="right" if name in ("planned", "finished", "failed", "running", "pending")
                         else "left")
    for row in rows:
        created = _dt.datetime.fromtimestamp(row.created, tz=_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(row.sweep_id, created, row.script, str(row.planned), str(row.finished), str(row.failed),
                      str(row.running), str(row.pending))
    console().print(table)
    return 0
