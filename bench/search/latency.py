"""bench/search: how late a stop is. For each trial a stopping rule stops: from the moment the script printed the
step the rule judged to the decision (the live parse, its file, the driver's poll), and from the decision to the
moment SIGTERM reaches the script (stop.json, the runner's check, the signal).

    python bench/search/latency.py --trials 40

One local Ray cluster (2 CPUs), 2 trials at once, random search over objective.py's space with --stop asha (grace
1, reduction factor 3): bench/search/stopwatch.py prints each epoch with the time it printed it, and the time
SIGTERM reached it; the decision's time is the journal's `stop` record. The reference is the design's polling:
the driver reads the running trials' metrics every search.driver.POLL_S, a stoppable trial's runner looks for its
stop request every workers.process._STOP_POLL_S. Not a test: figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

SPACE = {"lr": {"loguniform": [1e-4, 1.0]}, "units": {"randint": [16, 257]},
         "dropout": {"uniform": [0.0, 0.5]}, "act": {"choice": ["relu", "tanh"]}}


def latencies(frame, journal_records) -> list[tuple[float, float]]:
    """(print -> decision, decision -> SIGTERM) in seconds for each stopped trial."""
    stops = {r["trial"]: r for r in journal_records if r.get("type") == "stop"}
    found = []
    for row in frame.itertuples():
        if row.status != "stopped" or row.trial not in stops:
            continue
        log = open(os.path.join(row.run_dir, "tuner.d", "output.log"), encoding="utf-8").read()
        printed = {int(e): float(t) for e, t in re.findall(r"^epoch (\d+) loss=\S+ printed_at=([\d.]+)$", log, re.M)}
        term = re.search(r"^SIGTERM at ([\d.]+)$", log, re.M)
        stop = stops[row.trial]
        step = int(stop["step"])
        if term is None or step not in printed:
            continue
        found.append((stop["time"] - printed[step], float(term.group(1)) - stop["time"]))
    return found


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--trials", type=int, default=40)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--epoch-s", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    import ray

    from tuner import tuning_run
    from tuner.search.driver import POLL_S
    from tuner.store.journal import Journal
    from workers.process import _STOP_POLL_S

    os.environ.setdefault("RAY_ADDRESS", "local")
    os.environ["PYTHONPATH"] = HERE + os.pathsep + os.environ.get("PYTHONPATH", "")  # stopwatch imports objective
    os.chdir(tempfile.mkdtemp(prefix="bench-latency-"))
    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
                       logging_level="ERROR")
    started = time.perf_counter()
    frame = tuning_run(os.path.join(HERE, "stopwatch.py"), {**SPACE, "epochs": a.epochs, "epoch_s": a.epoch_s},
                       num_samples=a.trials, seed=a.seed, metric="loss", mode="min", stop="asha", grace_period=1,
                       reduction_factor=3, confirm=False, quiet=True, max_concurrent=2,
                       address=context.address_info["gcs_address"])
    wall = time.perf_counter() - started
    journal = Journal(os.path.join("runs", "sweeps", frame.attrs["sweep"])).read().records
    found = latencies(frame, journal)
    ray.shutdown()
    if not found:
        print("no trial was stopped")
        return

    def ms(values: list[float]) -> str:
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        return (f"median {statistics.median(values) * 1000:.1f} ms, p90 {p90 * 1000:.1f} ms, "
                f"max {max(values) * 1000:.1f} ms")

    print(f"{a.trials} trials ({len(found)} stopped), {a.epochs} epochs of {a.epoch_s} s, 2 at once, {wall:.1f} s")
    print(f"polling: driver every {POLL_S * 1000:.0f} ms, runner every {_STOP_POLL_S * 1000:.0f} ms")
    print(f"step printed -> decision: {ms([f for f, _ in found])}")
    print(f"decision -> SIGTERM in the script: {ms([s for _, s in found])}")


if __name__ == "__main__":
    main()
