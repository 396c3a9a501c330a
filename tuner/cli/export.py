"""`tune export mlflow` (runs or a sweep into an MLflow tracking store), and the HParams step of `tune tensorboard`."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Sequence

from tuner.cli.options import PROG, Parser, UsageError, add_runs_dir, formatter
from tuner.console.inert import inert


def cmd_export(argv: Sequence[str]) -> int:
    targets = {"mlflow": cmd_export_mlflow}
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: {PROG} export TARGET ...\n\nExport runs to another tool. Targets:\n"
              f"  mlflow     runs (or a sweep: a parent run with its trials as children) into an MLflow "
              f"tracking store\n\n`{PROG} export mlflow --help` explains the options.")
        return 0 if argv else 2
    command = targets.get(argv[0])
    if command is None:
        raise UsageError(f"unknown export target '{argv[0]}', expected one of: {', '.join(targets)}")
    return command(argv[1:])


def cmd_export_mlflow(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} export mlflow", formatter_class=formatter,
                    description="Export runs to MLflow: flags as params, every metric step, evaluation values as\n"
                                "eval_* metrics, tags, status, times, artifacts and the output log. A sweep becomes\n"
                                "a parent run with its trials as children. Exporting again updates the same MLflow\n"
                                "runs (the MLflow run id is kept in each run's tuner.d/mlflow.json).",
                    epilog="examples:\n  tune export mlflow --sweep 20261122-080102-a3f9 --tracking-uri sqlite:///mlflow.db\n"
                           "  tune export mlflow 2026-11-22T05-12-33Z --tracking-uri http://127.0.0.1:5000 "
                           "--experiment digits\n  tune export mlflow --tracking-uri sqlite:///mlflow.db   "
                           "every run of the runs directory\n"
                           "then: mlflow ui --backend-store-uri sqlite:///mlflow.db")
    parser.add_argument("runs", nargs="*", metavar="RUN", help="run names or paths (default: every run)")
    parser.add_argument("--sweep", metavar="ID", help="a sweep: a parent run with its trials as children")
    parser.add_argument("--tracking-uri", metavar="URI", help="MLflow tracking URI, e.g. sqlite:///mlflow.db, "
                        "./mlruns or http://host:5000 (default: $MLFLOW_TRACKING_URI)")
    parser.add_argument("--experiment", metavar="NAME", help="MLflow experiment, created when missing "
                        "(default: $MLFLOW_EXPERIMENT_NAME, else 'Default')")
    add_runs_dir(parser)
    args = parser.parse_args(argv)
    if args.runs and args.sweep:
        raise UsageError("pass run names or --sweep, not both")
    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise UsageError("--tracking-uri is required (or set MLFLOW_TRACKING_URI), e.g. --tracking-uri "
                         "sqlite:///mlflow.db")
    from tuner.export.mlflow import export_to_mlflow

    for name in ("mlflow", "alembic"):  # the store's schema set-up logs at INFO on every new database
        logging.getLogger(name).setLevel(logging.WARNING)
    result = export_to_mlflow(args.runs or None, sweep=args.sweep, tracking_uri=uri, experiment=args.experiment,
                              runs_dir=args.runs_dir)
    for run in result.runs:
        what = "created" if run.created else "unchanged" if run.unchanged else "updated"
        print(inert(f"{what} {os.path.basename(run.run_dir)} -> {run.mlflow_run_id} ({run.status})"))
        for note in run.notes:
            print(inert(f"  note: {note}"))  # it quotes flag names and values
    new, same = sum(r.created for r in result.runs), sum(r.unchanged for r in result.runs)
    parent = ""
    if result.parent_run_id:
        parent = f"; sweep parent run {result.parent_run_id} ({'created' if result.parent_created else 'updated'})"
    print(f"exported {len(result.runs)} runs to experiment '{result.experiment}' (id {result.experiment_id}) at "
          f"{result.tracking_uri}: {new} new, {len(result.runs) - new - same} updated, {same} unchanged{parent}")
    return 0


def hparams_run_for_cli(sweep: str, runs_dir: str, metrics: Sequence[str] | None) -> list[Any]:
    """`tune tensorboard SWEEP`: the HParams logdir as the first entry of its --logdir_spec, or a note on stderr
    and nothing when the tensorboard package is missing (the runs' own event files are still shown)."""
    from tuner.errors import MissingExtraError
    from tuner.export.hparams import write_sweep_hparams
    from tuner.export.tensorboard import TensorBoardRun

    try:
        logdir = write_sweep_hparams(sweep, runs_dir, metrics)
    except MissingExtraError as exc:
        print(f"note: {exc}", file=sys.stderr)
        return []
    return [TensorBoardRun("hparams", os.path.abspath(logdir))]
