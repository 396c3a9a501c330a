"""bench/pareto: hypervolume at a fixed budget of epochs, tuner's multi-objective search against Optuna's default
multi-objective sampler without pruning (the anchor).

    python bench/pareto/run.py --seeds 5 --budget 300

The problem (bench/pareto/objective.py): three flags in [0, 1], two objectives both minimized, a ZDT1-like function
with a known front; the script prints both objectives every epoch (10 epochs of --epoch-s seconds), as an
unmodified training script would. The budget is epochs of training, the cost a user pays: a full trial costs 10, a
trial MOASHA stops costs the epochs it ran.

In one process, per seed:
  anchor: optuna.create_study(directions=["minimize", "minimize"]) with Optuna's default sampler (TPESampler,
          seeded), no pruning (Optuna cannot prune a multi-objective study), budget / 10 full trials, asked and
          told in-process (the same curve, no subprocess: the anchor gets the same trials for free)
  tuner tpe:          tune's sweep, --search tpe, budget / 10 trials, full runs (real subprocesses on Ray)
  tuner tpe + moasha: --search tpe --stop moasha (grace 1, reduction factor 3), trials launched until the budget
  tuner nsga2 + moasha, tuner random + moasha: the same with those samplers
Each configuration's front is made of the trials that ran to the end within the budget (in launch order, cumulated
epochs <= budget); its hypervolume is measured against the fixed reference point REFERENCE and reported as a share of
the best possible (the true front's). Not a test: figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

from objective import curve  # noqa: E402

from tuner.search.pareto import hypervolume  # noqa: E402

SPACE = {"x1": {"uniform": [0.0, 1.0]}, "x2": {"uniform": [0.0, 1.0]}, "x3": {"uniform": [0.0, 1.0]}}
EPOCHS = 10
#: past the worst value of either objective (f1 <= 1.03, f2 <= 3.03): every finished trial counts
REFERENCE = (1.2, 3.3)


def ideal_hypervolume() -> float:
    """The hypervolume of the true front (x2 = x3 = 0) as the script reports it at its last epoch."""
    shift = 0.8 * math.exp(-EPOCHS / 3)
    front = [(x + shift, 1 - math.sqrt(x) + shift) for x in (i / 4000 for i in range(4001))]
    return hypervolume(front, REFERENCE)


def final(x1: float, x2: float, x3: float) -> tuple[float, float]:
    *_, (_, f1, f2) = curve(x1, x2, x3, EPOCHS)
    return f1, f2


def run_anchor(seed: int, budget: int) -> dict:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=optuna.samplers.TPESampler(seed=seed))
    assert type(study.sampler) is type(optuna.create_study(directions=["minimize", "minimize"]).sampler)
    start = time.perf_counter()
    trials = budget // EPOCHS
    for _ in range(trials):
        trial = study.ask()
        values = final(*(trial.suggest_float(n, 0.0, 1.0) for n in ("x1", "x2", "x3")))
        study.tell(trial, values)
    points = [tuple(t.values) for t in study.trials]
    return {"hv": hypervolume(points, REFERENCE), "trials": trials, "finished": trials, "epochs": trials * EPOCHS,
            "s": time.perf_counter() - start}


def run_tuner(seed: int, budget: int, search: str, stop: str | None, epoch_s: float, address: str) -> dict:
    from tuner import tuning_run

    # with stopping, more trials than the budget buys (each is cut at the budget below); 5x: MOASHA with random draws
    # stops about 85% of them after one epoch, and 3x ran out before the budget did
    trials = budget // EPOCHS if stop is None else 5 * budget // EPOCHS
    start = time.perf_counter()
    frame = tuning_run(os.path.join(HERE, "objective.py"), {**SPACE, "epochs": EPOCHS, "epoch_s": epoch_s},
                       num_samples=trials, seed=seed, search=search, metric=["f1", "f2"], mode=["min", "min"],
                       stop=stop, confirm=False, quiet=True, max_concurrent=2, address=address,
                       **(dict(grace_period=1, reduction_factor=3) if stop else {}))
    wall = time.perf_counter() - start
    frame = frame.sort_values("trial")
    used, points, launched, finished = 0, [], 0, 0
    for row in frame.to_dict("records"):
        epochs = int(row.get("epochs_completed") or 0)
        if used + epochs > budget:
            break
        used += epochs
        launched += 1
        if row["status"] == "finished":
            finished += 1
            points.append((row["metric_f1"], row["metric_f2"]))
    if launched == len(frame) and stop is not None:
        print(f"warning: {search} + {stop} ran all {launched} trials in {used} of {budget} epochs", flush=True)
    return {"hv": hypervolume(points, REFERENCE), "trials": launched, "finished": finished, "epochs": used,
            "s": wall}


def summary(values: list[float], digits: str = ".4g") -> str:
    values = [v for v in values if v == v]
    if not values:
        return "n/a"
    return f"{statistics.median(values):{digits}} [{min(values):{digits}}-{max(values):{digits}}]"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--budget", type=int, default=300, help="epochs of training per configuration and seed")
    p.add_argument("--epoch-s", type=float, default=0.03)
    p.add_argument("--only", nargs="*", help="configurations to run (default: all)")
    a = p.parse_args()
    import ray

    os.environ.setdefault("RAY_ADDRESS", "local")
    os.chdir(tempfile.mkdtemp(prefix="bench-pareto-"))  # runs/ of the bench go here
    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
                       logging_level="ERROR")
    address = context.address_info["gcs_address"]
    configs = [("anchor: optuna default (tpe), no pruning", None, None), ("tuner tpe", "tpe", None),
               ("tuner tpe + moasha", "tpe", "moasha"), ("tuner nsga2 + moasha", "nsga2", "moasha"),
               ("tuner random + moasha", "random", "moasha")]
    configs = [c for c in configs if not a.only or any(o in c[0] for o in a.only)]
    ideal = ideal_hypervolume()
    results: dict[str, list[dict]] = {name: [] for name, _, _ in configs}
    for seed in range(a.seeds):
        for name, search, stop in configs:
            result = run_anchor(seed, a.budget) if search is None else \
                run_tuner(seed, a.budget, search, stop, a.epoch_s, address)
            results[name].append(result)
            print(seed, name, result, flush=True)
    anchor = results.get(configs[0][0]) if configs[0][1] is None else None
    print(f"\n{a.seeds} seeds, budget {a.budget} epochs ({a.budget // EPOCHS} full trials), {EPOCHS} epochs of "
          f"{a.epoch_s} s, 2 trials at once; reference point {REFERENCE}; best possible hypervolume {ideal:.4f}; "
          "median [min-max]\n")
    print("| configuration | hypervolume | share of best possible | vs anchor (same seed) | trials in budget | "
          "ran to the end | epochs | s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, rows in results.items():
        ratio = [r["hv"] / x["hv"] for r, x in zip(rows, anchor)] if anchor else []
        print(f"| {name} | {summary([r['hv'] for r in rows])} | {summary([r['hv'] / ideal for r in rows], '.3f')} | "
              f"{summary(ratio, '.3f')} | {summary([r['trials'] for r in rows], 'g')} | "
              f"{summary([r['finished'] for r in rows], 'g')} | {summary([r['epochs'] for r in rows], 'g')} | "
              f"{summary([r['s'] for r in rows], '.3g')} |")
    ray.shutdown()


if __name__ == "__main__":
    main()
