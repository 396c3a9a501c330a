"""bench/search: random vs TPE, with and without ASHA, and Ray Tune's ASHA + OptunaSearch as the anchor.

    python bench/search/run.py --seeds 5 --trials 50

Per seed, on one local Ray cluster (2 CPUs, 2 trials at once):
  tuner random (full runs), tuner TPE (full runs), tuner TPE + --stop asha, Ray Tune OptunaSearch + ASHA
  (function trainable computing the same curve in-process, the same per-epoch sleep).
Reported: median [min-max] over seeds of the best final loss after 20 and N trials, total epochs run, and
wall time per trial. The objective's optimum is 0 (bench/search/objective.py). Not a test: figures go to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from objective import curve  # noqa: E402

SPACE = {"lr": {"loguniform": [1e-4, 1.0]}, "units": {"randint": [16, 257]},
         "dropout": {"uniform": [0.0, 0.5]}, "act": {"choice": ["relu", "tanh"]}}


def best_after(frame, n: int) -> float:
    done = frame[(frame["trial"] < n) & (frame["status"] == "finished")]
    return float(done["metric_loss"].min()) if len(done) else float("nan")


def run_tuner(seed: int, trials: int, search: str, stop: str | None, epochs: int, epoch_s: float, address: str):
    from tuner import tuning_run

    flags = {**SPACE, "epochs": epochs, "epoch_s": epoch_s}
    start = time.perf_counter()
    frame = tuning_run(os.path.join(HERE, "objective.py"), flags, num_samples=trials, seed=seed, search=search,
                       metric="loss", mode="min", stop=stop, confirm=False,
                       **(dict(grace_period=1, reduction_factor=3) if stop else {}),
                       quiet=True, max_concurrent=2, address=address)
    wall = time.perf_counter() - start
    total_epochs = int(frame["epochs_completed"].fillna(0).sum()) if "epochs_completed" in frame else -1
    return {"best20": best_after(frame, 20), "best": best_after(frame, trials), "epochs": total_epochs,
            "per_trial_s": wall / trials, "stopped": int((frame["status"] == "stopped").sum())}


def run_ray_tune(seed: int, trials: int, epochs: int, epoch_s: float):
    import objective
    import optuna
    import ray.cloudpickle
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.optuna import OptunaSearch

    ray.cloudpickle.register_pickle_by_value(objective)  # the workers do not have bench/search on their path

    def trainable(config):
        for epoch, loss in curve(config["lr"], config["units"], config["dropout"], config["act"], epochs):
            time.sleep(epoch_s)
            tune.report({"loss": loss, "epoch": epoch})

    space = {"lr": tune.loguniform(1e-4, 1.0), "units": tune.randint(16, 257), "dropout": tune.uniform(0.0, 0.5),
             "act": tune.choice(["relu", "tanh"])}
    searcher = ConcurrencyLimiter(OptunaSearch(sampler=optuna.samplers.TPESampler(seed=seed, constant_liar=True),
                                               metric="loss", mode="min"), max_concurrent=2)
    scheduler = ASHAScheduler(metric="loss", mode="min", time_attr="epoch", grace_period=1, reduction_factor=3,
                              max_t=epochs)
    storage = tempfile.mkdtemp(prefix="raytune-")
    start = time.perf_counter()
    tuner = tune.Tuner(tune.with_resources(trainable, {"cpu": 1}), param_space=space,
                       tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=trials,
                                                   reuse_actors=True),
                       run_config=tune.RunConfig(storage_path=storage, verbose=0))
    grid = tuner.fit()
    wall = time.perf_counter() - start
    frame = grid.get_dataframe()
    full = frame[frame["epoch"] == epochs]  # ran to the end (as `finished` for us)
    # trial ids are random hex: order trials by their start (the last result's timestamp minus the run time)
    started = frame["timestamp"] - frame["time_total_s"]
    first20 = set(frame.assign(started=started).sort_values("started")["trial_id"][:20])
    best20 = full[full["trial_id"].isin(first20)]["loss"].min()
    return {"best20": float(best20), "best": float(full["loss"].min()), "epochs": int(frame["epoch"].sum()),
            "per_trial_s": wall / trials, "stopped": int((frame["epoch"] < epochs).sum())}


def summary(values):
    values = [v for v in values if v == v]
    if not values:
        return "n/a"
    return f"{statistics.median(values):.4g} [{min(values):.4g}-{max(values):.4g}]"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--trials", type=int, default=50)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--epoch-s", type=float, default=0.05)
    p.add_argument("--ray-tune-seeds", type=int, default=None,
                   help="run the Ray Tune anchor on the first K seeds only (default: all; 0 = none)")
    a = p.parse_args()
    import ray

    os.environ.setdefault("RAY_ADDRESS", "local")
    os.chdir(tempfile.mkdtemp(prefix="bench-search-"))  # runs/ of the bench go here
    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
                       logging_level="ERROR")
    address = context.address_info["gcs_address"]
    configs = [("tuner random", "random", None), ("tuner tpe", "tpe", None), ("tuner tpe + asha", "tpe", "asha")]
    results: dict[str, list[dict]] = {name: [] for name, _, _ in configs}
    anchor_seeds = a.seeds if a.ray_tune_seeds is None else a.ray_tune_seeds
    if anchor_seeds:
        results["ray tune optuna + asha"] = []
    for seed in range(a.seeds):
        for name, search, stop in configs:
            results[name].append(run_tuner(seed, a.trials, search, stop, a.epochs, a.epoch_s, address))
            print(seed, name, results[name][-1], flush=True)
        if seed < anchor_seeds:
            results["ray tune optuna + asha"].append(run_ray_tune(seed, a.trials, a.epochs, a.epoch_s))
            print(seed, "ray tune", results["ray tune optuna + asha"][-1], flush=True)
    print(f"\n{a.seeds} seeds (Ray Tune: {anchor_seeds}), {a.trials} trials, {a.epochs} epochs of {a.epoch_s} s, 2 at once; "
          "median [min-max]; optimum 0\n")
    print("| configuration | best after 20 | best after %d | epochs run | stopped | s per trial |" % a.trials)
    print("|---|---|---|---|---|---|")
    for name, rows in results.items():
        print(f"| {name} | {summary([r['best20'] for r in rows])} | {summary([r['best'] for r in rows])} | "
              f"{summary([r['epochs'] for r in rows])} | {summary([r['stopped'] for r in rows])} | "
              f"{summary([r['per_trial_s'] for r in rows])} |")
    ray.shutdown()


if __name__ == "__main__":
    main()
