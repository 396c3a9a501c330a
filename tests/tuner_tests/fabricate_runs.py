"""Run directories written straight to disk through the store's own writers (no script, no Ray), for
pages that need many runs, such as a 300-trial sweep report."""

from __future__ import annotations

import math
import os
import random
from typing import Any

from tuner.store.layout import RunPaths, run_dir_name
from tuner.tracking import write_run_metadata
from workers.files import atomic_write_json, atomic_write_text

BASE_TIME = 1_795_000_000.0  # 2026-11-18


def make_run(runs_dir: str, index: int, flags: dict[str, Any], metrics: dict[str, list[Any]],
             status: str = "finished", sweep: str | None = None, trial: int | None = None,
             error: dict[str, Any] | None = None, output: str = "", start: float | None = None,
             sources: dict[str, str] | None = None, artifacts: dict[str, bytes] | None = None) -> str:
    start = BASE_TIME + index * 7 if start is None else start
    path = os.path.join(runs_dir, run_dir_name(start, 3))
    os.makedirs(os.path.join(path, "tuner.d"), exist_ok=True)
    paths = RunPaths(path)
    run: dict[str, Any] = {"status": status, "start": start, "script": "/work/train.py", "host": "node-1",
                           "user": "ml", "exit_code": 0 if status == "finished" else 1, "python": "3.11.7",
                           "git": {"commit": "3f2a9c1d", "branch": "main", "dirty": False}}
    if status != "running":
        run["end"] = start + 5.5
    else:
        run["heartbeat"] = start
    if sweep is not None:
        run.update(sweep=sweep, trial=trial, attempt=1)
    atomic_write_json(paths.run_json, run)
    write_run_metadata("flags", flags, run_dir=path)
    if metrics:
        write_run_metadata("metrics", metrics, run_dir=path)
    if error:
        write_run_metadata("error", error, run_dir=path)
    atomic_write_text(paths.output_log, output)
    for rel, text in (sources or {}).items():
        target = os.path.join(paths.source_dir, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        atomic_write_text(target, text)
    for rel, data in (artifacts or {}).items():
        with open(os.path.join(path, rel), "wb") as handle:
            handle.write(data)
    return path


def make_sweep(runs_dir: str, sweep: str, trials: int, seed: int = 0, epochs: int = 8) -> list[str]:
    """A sweep of `trials` runs over lr x units x optimizer; val_acc peaks at lr=0.01, units=256, adam."""
    rng = random.Random(seed)
    lrs, units, optimizers = [0.001, 0.003, 0.01, 0.03, 0.1], [32, 64, 128, 256], ["adam", "sgd", "rmsprop"]
    dirs = []
    for trial in range(trials):
        lr, unit, opt = lrs[trial % 5], units[(trial // 5) % 4], optimizers[(trial // 20) % 3]
        quality = 1 - abs(math.log10(lr) + 2) / 3 - (256 - unit) / 1024 - (0.05 if opt != "adam" else 0)
        quality += rng.uniform(-0.02, 0.02)
        final_acc = round(max(0.1, min(0.99, 0.55 + 0.4 * quality)), 4)
        acc = [round(final_acc * (1 - 0.5 ** (e + 1)), 4) for e in range(epochs)]
        loss = [round(1.2 - a, 4) for a in acc]
        failed = trial % 37 == 36
        metrics = {"epoch": list(range(1, epochs + 1)), "loss": loss, "val_loss": [round(v + 0.03, 4) for v in loss],
                   "acc": acc, "val_acc": [round(a - 0.01, 4) for a in acc]}
        dirs.append(make_run(runs_dir, trial, {"lr": lr, "units": unit, "optimizer": opt}, metrics,
                             status="failed" if failed else "finished", sweep=sweep, trial=trial,
                             error={"message": "CUDA out of memory", "traceback": "Traceback ...\nRuntimeError"}
                             if failed else None, output=f"trial {trial}\n"))
    return dirs
