"""bench/checkpoints/promotion.py: Hyperband with promotion (--stop hyperband) against stopping ASHA (--stop asha)
on bench/search's objective, the same trials, seeds and epochs.

    python bench/checkpoints/promotion.py --seeds 3 --trials 30 --epochs 9

Per seed, on one local Ray cluster (2 CPUs, 2 trials at once), random search over bench/search's space:
  stopping ASHA        --stop asha --grace-period 1 --reduction-factor 3 --max-t EPOCHS (a trial judged on arriving
                       at a rung continues or is stopped for good);
  promoting ASHA       --stop hyperband --max-t EPOCHS (paused at each rung; the top 1/3 of a rung continue from
                       their checkpoint when a slot frees);
  promoting Hyperband  the same with --brackets 2;
  and stopping ASHA again with twice the trials, which spends about the epochs promotion does (equal budget).
The script is bench/search's curve (same flags, same values) that also saves the epoch it reached in
$TUNER_CHECKPOINT_DIR and continues from it, so a promoted trial runs no epoch twice. Reported: median [min-max]
over seeds of the best loss of a trial that reached EPOCHS (optimum 0), epochs run in all (the budget), runs
started, and wall time. Not a test: figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SEARCH = os.path.join(os.path.dirname(HERE), "search")

SCRIPT = f"""
import argparse, json, os, sys, time
sys.path.insert(0, {SEARCH!r})
from objective import curve
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float); p.add_argument("--units", type=int); p.add_argument("--dropout", type=float)
p.add_argument("--act"); p.add_argument("--epochs", type=int); p.add_argument("--epoch_s", type=float)
a = p.parse_args()
state = os.path.join(os.environ["TUNER_CHECKPOINT_DIR"], "epoch.json")
done = json.load(open(state)) if os.path.exists(state) else 0
for epoch, loss in curve(a.lr, a.units, a.dropout, a.act, a.epochs):
    if epoch <= done:
        continue  # the curve is a function of the flags: what the checkpoint holds is where it stands
    time.sleep(a.epoch_s)
    with open(state + ".tmp", "w") as f:
        json.dump(epoch, f)
    os.replace(state + ".tmp", state)
    print(f"epoch {{epoch}} loss={{loss:.5f}}", flush=True)
"""

SPACE = {"lr": {"loguniform": [1e-4, 1.0]}, "units": {"randint": [16, 257]},
         "dropout": {"uniform": [0.0, 0.5]}, "act": {"choice": ["relu", "tanh"]}}


def run(script: str, seed: int, trials: int, epochs: int, epoch_s: float, address: str, stop: str,
        brackets: int | None, scale: float = 1.0) -> dict[str, float]:
    from tuner import tuning_run

    start = time.perf_counter()
    frame = tuning_run(script, {**SPACE, "epochs": epochs, "epoch_s": epoch_s}, num_samples=round(trials * scale),
                       seed=seed,
                       metric="loss", mode="min", stop=stop, grace_period=1, reduction_factor=3, max_t=epochs,
                       brackets=brackets, confirm=False, quiet=True, max_concurrent=2, address=address)
    wall = time.perf_counter() - start
    steps = frame["epochs_completed"].fillna(0) if "epochs_completed" in frame else frame["metric_loss"] * 0
    # a trial that reached the last epoch: its run that ended finished (promoted runs continue their checkpoint)
    final = frame[frame["status"] == "finished"]["metric_loss"]
    return {"best": float(final.min()) if len(final) else float("nan"), "epochs": float(steps.sum()),
            "runs": float(len(frame)), "wall_s": wall}


def summary(values: list[float]) -> str:
    values = [v for v in values if v == v]
    return f"{statistics.median(values):.4g} [{min(values):.4g}-{max(values):.4g}]" if values else "n/a"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--epochs", type=int, default=9)
    p.add_argument("--epoch-s", type=float, default=0.05)
    a = p.parse_args()
    import ray

    os.environ.setdefault("RAY_ADDRESS", "local")
    os.chdir(tempfile.mkdtemp(prefix="bench-promotion-"))
    with open("train.py", "w") as handle:
        handle.write(SCRIPT)
    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
                       logging_level="ERROR")
    address = context.address_info["gcs_address"]
    # stopping ASHA spends about half the epochs per trial that promotion does: at twice the trials it has the same
    # budget (epochs run), which is the comparison that counts
    configs = [("stopping ASHA", "asha", None, 1.0), ("stopping ASHA, 2x trials (equal budget)", "asha", None, 2.0),
               ("promoting ASHA", "hyperband", None, 1.0), ("promoting Hyperband (2 brackets)", "hyperband", 2, 1.0)]
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _, _, _ in configs}
    for seed in range(a.seeds):
        for name, stop, brackets, scale in configs:
            results[name].append(run("train.py", seed, a.trials, a.epochs, a.epoch_s, address, stop, brackets,
                                     scale))
            print(seed, name, results[name][-1], flush=True)
    print(f"\n{a.seeds} seeds, {a.trials} trials, {a.epochs} epochs of {a.epoch_s} s, 2 at once; median [min-max]; "
          "optimum 0\n")
    print("| configuration | best final loss | epochs run | runs | wall s |")
    print("|---|---|---|---|---|")
    for name, rows in results.items():
        print(f"| {name} | {summary([r['best'] for r in rows])} | {summary([r['epochs'] for r in rows])} | "
              f"{summary([r['runs'] for r in rows])} | {summary([r['wall_s'] for r in rows])} |")
    ray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
