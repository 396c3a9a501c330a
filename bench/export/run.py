"""MLflow export benchmark: a sweep of N synthetic trials into a fresh SQLite tracking store, then again.

    python bench/export/run.py                 # 100 trials x 20 epochs x 4 metrics, in a temporary folder
    python bench/export/run.py --trials 300 --epochs 50

Each trial is written like a real run (run.json, flags.json, metrics.jsonl, output.log, one artifact).
The first export creates every MLflow run (log_batch: params, tags, all metric points; artifacts); the
second finds each again through tuner.d/mlflow.json and, nothing having changed, sends nothing. Prints one table;
docs/benchmarks.md records the results.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [REPO, os.path.join(REPO, "tests", "tuner_tests")]

from fabricate_runs import make_sweep  # noqa: E402

from tuner.export.mlflow import export_to_mlflow  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    folder = tempfile.mkdtemp(prefix="tuner-bench-export-")
    try:
        runs = os.path.join(folder, "runs")
        dirs = make_sweep(runs, "bench", args.trials, epochs=args.epochs)
        for d in dirs:
            with open(os.path.join(d, "model.txt"), "w") as handle:
                handle.write("weights" * 100)
        uri = f"sqlite:///{folder}/mlflow.db"
        from mlflow import MlflowClient

        started = time.perf_counter()
        MlflowClient(uri).create_experiment("bench", artifact_location=f"file://{folder}/artifacts")
        setup = time.perf_counter() - started
        points = args.trials * args.epochs * 4
        rows = []
        for label in ("first export (creates)", "second export (nothing changed)"):
            started = time.perf_counter()
            export_to_mlflow(sweep="bench", tracking_uri=uri, experiment="bench", runs_dir=runs)
            took = time.perf_counter() - started
            rows.append((label, took))
        print(f"{args.trials} trials x {args.epochs} epochs x 4 metrics = {points} metric points; "
              f"store schema set-up {setup:.2f} s")
        print("| what | time | per trial |\n|---|---:|---:|")
        for label, took in rows:
            print(f"| {label} | {took:.2f} s | {1000 * took / args.trials:.0f} ms |")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
