"""bench/checkpoints/pbt.py: PBT on Ray Tune's PBT example function, against random search and ASHA at the same
budget, and against Ray Tune's own PBT on the same function.

    python bench/checkpoints/pbt.py --seeds 2 --steps 150 --population 4

Per seed, one local Ray cluster (2 CPUs; 4 trials at once, half a CPU each):
  tuner pbt         --search pbt over lr ~ loguniform(1e-4, 0.02) (Ray's example: uniform(1e-4, 0.02)), the
                    population running bench/checkpoints/pbt_toy.py (the example function as a script that prints
                    `step N mean_accuracy=...` and keeps its state in $TUNER_CHECKPOINT_DIR), every 5 steps;
  tuner random      the same population size and steps, no PBT (a fixed lr per trial);
  tuner asha        stopping ASHA (grace 5, rf 3, max_t STEPS) over twice the trials;
  ray tune pbt      Ray Tune's PopulationBasedTraining on ray.tune.examples.pbt_function.pbt_function, the same
                    population, interval, lr space and step limit.
The function ends a trial once its accuracy passes 200 (`done`), so a better schedule also means fewer steps.
tune's trials sleep --step-s a step (20 ms by default; each is a process printing its steps, and an exploit costs a
process start, ~0.5-1 s here); Ray Tune's function is run as Ray ships it, in-process and without sleeping: compare
scores and steps, and wall time knowing that.
Reported: median [min-max] over seeds of the best final mean_accuracy, steps run in all (the budget) and wall time.
Not a test: figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_tuner(kind: str, seed: int, population: int, steps: int, address: str, step_s: float) -> dict[str, float]:
    from tuner import tuning_run

    # a step takes step_s (the script sleeps): PBT's decisions, 20 ms polls, have steps to act on
    space = {"lr": {"loguniform": [1e-4, 0.02]}, "steps": steps, "seed": seed, "step_s": step_s}
    options: dict = dict(search="pbt", perturbation_interval=5) if kind == "pbt" else \
        dict(stop="asha", grace_period=5, reduction_factor=3, max_t=steps) if kind == "asha" else {}
    trials = population * (2 if kind == "asha" else 1)
    start = time.perf_counter()
    frame = tuning_run("pbt_toy.py", space, num_samples=trials, seed=seed, metric="mean_accuracy", mode="max",
                       confirm=False, quiet=True, max_concurrent=population, cpus_per_trial=0.5, address=address,
                       **options)
    wall = time.perf_counter() - start
    done = frame[frame["status"].isin(["finished", "stopped"])]
    return {"best": float(done["metric_mean_accuracy"].max()),
            "steps": float(frame["epochs_completed"].fillna(0).sum()), "wall_s": wall}


def run_ray_tune(seed: int, population: int, steps: int) -> dict[str, float]:
    from ray import tune
    from ray.tune.examples.pbt_function import pbt_function
    from ray.tune.schedulers import PopulationBasedTraining

    pbt = PopulationBasedTraining(time_attr="training_iteration", perturbation_interval=5,
                                  hyperparam_mutations={"lr": tune.loguniform(1e-4, 0.02)})
    start = time.perf_counter()
    grid = tune.Tuner(tune.with_resources(pbt_function, {"cpu": 0.5}),
                      run_config=tune.RunConfig(storage_path=tempfile.mkdtemp(prefix="raytune-pbt-"), verbose=0,
                                                stop={"done": True, "training_iteration": steps}),
                      tune_config=tune.TuneConfig(scheduler=pbt, metric="mean_accuracy", mode="max",
                                                  num_samples=population, reuse_actors=True),
                      param_space={"lr": tune.loguniform(1e-4, 0.02), "checkpoint_interval": 5}).fit()
    wall = time.perf_counter() - start
    frame = grid.get_dataframe()
    return {"best": float(frame["mean_accuracy"].max()), "steps": float(frame["training_iteration"].sum()),
            "wall_s": wall}


def summary(values: list[float]) -> str:
    values = [v for v in values if v == v]
    return f"{statistics.median(values):.4g} [{min(values):.4g}-{max(values):.4g}]" if values else "n/a"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--population", type=int, default=4)
    p.add_argument("--step-s", type=float, default=0.02, help="how long a step of tune's script takes (it sleeps)")
    a = p.parse_args()
    import ray

    os.environ.setdefault("RAY_ADDRESS", "local")
    os.chdir(tempfile.mkdtemp(prefix="bench-pbt-"))
    shutil.copy(os.path.join(HERE, "pbt_toy.py"), "pbt_toy.py")
    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
                       logging_level="ERROR")
    address = context.address_info["gcs_address"]
    names = ["tuner pbt", "tuner random", "tuner asha (2x trials)", "ray tune pbt"]
    results: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for seed in range(a.seeds):
        for name, kind in zip(names[:3], ("pbt", "random", "asha")):
            results[name].append(run_tuner(kind, seed, a.population, a.steps, address, a.step_s))
            print(seed, name, results[name][-1], flush=True)
        results["ray tune pbt"].append(run_ray_tune(seed, a.population, a.steps))
        print(seed, "ray tune pbt", results["ray tune pbt"][-1], flush=True)
    print(f"\n{a.seeds} seeds, population {a.population}, at most {a.steps} steps a trial of {a.step_s} s, 2 CPUs; "
          "median [min-max]; "
          "a trial stops once mean_accuracy > 200\n")
    print("| configuration | best mean_accuracy | steps run | wall s |")
    print("|---|---|---|---|")
    for name, rows in results.items():
        print(f"| {name} | {summary([r['best'] for r in rows])} | {summary([r['steps'] for r in rows])} | "
              f"{summary([r['wall_s'] for r in rows])} |")
    ray.shutdown()


if __name__ == "__main__":
    main()
