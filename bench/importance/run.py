"""bench/importance: flag importance at 10,000 trials x 8 flags (issue 33's goal: under 1 s), against Optuna's
PedAnovaImportanceEvaluator on the same trials in the same process (study built with create_trial/add_trials,
then get_param_importances), and end to end from a runs directory (`tuner.param_importance`: the listing included).

    python bench/importance/run.py                      # 10,000 trials, 3 repeats, Optuna where installed
    python bench/importance/run.py --trials 2000 --no-runs

The 8 flags: 3 uniform (one matters a lot, one a little), a log-uniform lr (matters), an integer range, a
log-integer range, a categorical optimizer (matters a little) and a grid list of 3 numbers. Not a test: figures go
to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time
import warnings

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests", "tuner_tests"))

from tuner.runs.ranking import Ranking  # noqa: E402
from tuner.search.importance import Domain, flag_importance  # noqa: E402

DOMAINS = {"a": Domain("numeric", 0, 1), "b": Domain("numeric", 0, 1), "c": Domain("numeric", 0, 1),
           "lr": Domain("log", 1e-5, 1e-1), "units": Domain("numeric", 8, 512, 1), "width": Domain("log", 1, 1024, 1),
           "opt": Domain("categorical", choices=("adam", "sgd", "rmsprop")),
           "layers": Domain("categorical", choices=(1, 2, 3))}  # as Optuna is told below, to compare the numbers


def trials(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        p = {"a": rng.random(), "b": rng.random(), "c": rng.random(),
             "lr": math.exp(rng.uniform(math.log(1e-5), math.log(1e-1))), "units": rng.randint(8, 512),
             "width": int(math.exp(rng.uniform(0, math.log(1024)))), "opt": rng.choice(["adam", "sgd", "rmsprop"]),
             "layers": rng.choice([1, 2, 3])}
        loss = 4 * (p["a"] - 0.3) ** 2 + 0.3 * (p["b"] - 0.5) ** 2 + 0.2 * (math.log10(p["lr"]) + 3) ** 2 \
            + (0.1 if p["opt"] == "sgd" else 0.0) + rng.gauss(0, 0.01)
        out.append((p, loss))
    return out


def ours(data: list) -> tuple[float, dict]:
    rows = [{"status": "finished", "metric_loss": loss, **{f"flag_{k}": v for k, v in p.items()}} for p, loss in data]
    start = time.perf_counter()
    result = flag_importance(rows, Ranking("loss", "metric_loss", "min"), domains=DOMAINS)
    return time.perf_counter() - start, {f.flag: f.importance for f in result.flags}


def optuna_ped_anova(data: list) -> tuple[float, float, dict] | None:
    try:
        import optuna
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    except ImportError:
        return None
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    dists = {"a": FloatDistribution(0, 1), "b": FloatDistribution(0, 1), "c": FloatDistribution(0, 1),
             "lr": FloatDistribution(1e-5, 1e-1, log=True), "units": IntDistribution(8, 512),
             "width": IntDistribution(1, 1024, log=True), "opt": CategoricalDistribution(["adam", "sgd", "rmsprop"]),
             "layers": CategoricalDistribution([1, 2, 3])}
    start = time.perf_counter()
    study = optuna.create_study(direction="minimize")
    study.add_trials([optuna.trial.create_trial(params=p, distributions=dists, value=loss) for p, loss in data])
    built = time.perf_counter() - start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        result = optuna.importance.get_param_importances(study, evaluator=optuna.importance.PedAnovaImportanceEvaluator())
    return built, time.perf_counter() - start, result


def end_to_end(data: list, repeat: int) -> list[float]:
    from fabricate_runs import make_run

    from tuner import param_importance
    from tuner.runs.index import indexed_frame

    with tempfile.TemporaryDirectory() as folder:
        runs = os.path.join(folder, "runs")
        for i, (p, loss) in enumerate(data):
            make_run(runs, i, p, {"loss": [loss]}, sweep="bench", trial=i)
        indexed_frame(runs)  # the listing index, as after any `tune ls`
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            param_importance("bench", metric="loss", runs_dir=runs)
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-runs", action="store_true", help="skip the end-to-end run from a runs directory")
    args = parser.parse_args()
    data = trials(args.trials)
    ours_s, shares = [], {}
    for _ in range(args.repeat):
        seconds, shares = ours(data)
        ours_s.append(seconds)
    print(f"{args.trials} trials x 8 flags")
    print(f"  tuner flag_importance:            median {statistics.median(ours_s):.3f} s  (runs: "
          f"{', '.join(f'{s:.3f}' for s in ours_s)})")
    optuna = optuna_ped_anova(data)
    if optuna is not None:
        built, evaluated, theirs = optuna
        total = built + evaluated
        print(f"  Optuna PedAnovaImportanceEvaluator: {total:.3f} s (study built {built:.3f} s + evaluated "
              f"{evaluated:.3f} s) = {total / statistics.median(ours_s):.0f}x ours")
        worst = max(abs(shares[k] - theirs[k]) for k in theirs)
        print(f"  largest difference of a share against Optuna's: {worst:.2e}")
    print("  shares:", ", ".join(f"{k} {v:.3f}" for k, v in shares.items()))
    if not args.no_runs:
        times = end_to_end(data, args.repeat)
        print(f"  tuner.param_importance from a runs directory (listing included): median "
              f"{statistics.median(times):.3f} s  (runs: {', '.join(f'{s:.3f}' for s in times)})")


if __name__ == "__main__":
    main()
