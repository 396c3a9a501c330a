"""bench/dashboard: how long a trial's report takes to reach a `tune dashboard` page, for a sweep of 10,000
trials (issue 33's goal: within 2 s), against re-listing the runs directory (`ls_runs`, warm) in the same process.

    python bench/dashboard/run.py                  # 10,000 finished trials + 2 running ones, 20 reports
    python bench/dashboard/run.py --trials 2000 --events 10
    python bench/dashboard/run.py --objectives 2   # 10,000 finished trials of two objectives, 10 new ones

A real DashboardServer on 127.0.0.1 (threads, as `tune dashboard` runs it) and a client that asks for the sweep's
changes as the page does: since its version, held by the server until something changed (long polling, `wait`),
then at once again. A writer appends a metrics row with a fresh value to a running trial's metrics.jsonl at random
moments; the latency is from the append to the first answer whose learning curve holds that value. Also reported:
the first full answer (and its size), an answer when nothing changed, and the refresh behind it. Not a test:
figures go to docs/benchmarks.md.

With `--objectives 2`: a two-objective sweep instead (its journal says `metric: [f1, f2]`, `mode: [min, min]`) of
finished trials on ZDT1 (f1 = x, f2 = g (1 - sqrt(x / g)), g = 1 + 9 y, as test_dashboard.py's pareto tests), and
the writer adds a NEW finished trial below the known front (so it is on the front) at random moments (written aside,
renamed into the runs directory); the latency is from the rename to the first answer whose `pareto` item lists it
on the front. Also: `front_panel` alone over the sweep's rows, against a brute-force numpy non-dominated filter and
a sorted one (O(n log n)) of the same values in the same process.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests", "tuner_tests"))

import numpy as np  # noqa: E402
from fabricate_runs import make_run, make_sweep  # noqa: E402

from tuner import ls_runs  # noqa: E402
from tuner.dashboard import DashboardServer  # noqa: E402
from tuner.dashboard.server import REFRESH_S, Dashboard  # noqa: E402
from tuner.dashboard.state import PARETO_EVERY_S, front_panel  # noqa: E402
from tuner.store.journal import Journal  # noqa: E402

SWEEP = "bench"
MO_SWEEP = "20261207-120000-pf01"  # a sweep id as the driver names them (its journal lives under it)


def get(port: int, path: str) -> tuple[dict, int]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
    body = connection.getresponse().read()
    connection.close()
    return json.loads(body), len(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=None, help="reports or new trials (20; 10 with --objectives)")
    parser.add_argument("--objectives", type=int, choices=(1, 2), default=1)
    args = parser.parse_args()
    if args.objectives == 2:
        pareto(args.trials, 10 if args.events is None else args.events)
        return
    args.events = 20 if args.events is None else args.events
    with tempfile.TemporaryDirectory() as folder:
        runs = os.path.join(folder, "runs")
        started = time.perf_counter()
        make_sweep(runs, SWEEP, args.trials, epochs=20)
        live = [make_run(runs, args.trials + k, {"lr": 0.01, "units": 64, "optimizer": "adam"},
                         {"val_acc": [0.5]}, status="running", sweep=SWEEP, trial=args.trials + k, start=time.time())
                for k in range(2)]
        print(f"{args.trials} finished trials + 2 running, written in {time.perf_counter() - started:.1f} s")
        ls_runs(runs_dir=runs)  # the listing index, as after any `tune ls`
        listing = []
        for _ in range(3):
            start = time.perf_counter()
            ls_runs(runs_dir=runs)
            listing.append(time.perf_counter() - start)
        print(f"  baseline: ls_runs() warm, median {statistics.median(listing):.3f} s")

        with DashboardServer(runs) as server:
            port = server.port
            start = time.perf_counter()
            answer, size = get(port, f"/api/sweep/{SWEEP}?since=0")
            first, total = time.perf_counter() - start, size
            while answer["pending_curves"]:
                answer, size = get(port, f"/api/sweep/{SWEEP}?since=0&epoch={answer['epoch']}")
                total = size
            full = time.perf_counter() - start
            print(f"  first answer {first:.2f} s; every curve read after {full:.2f} s; a full answer is "
                  f"{total / 1e6:.1f} MB")
            version, epoch = answer["version"], answer["epoch"]
            idle = []
            for _ in range(5):
                time.sleep(0.6)  # past REFRESH_S: each answer refreshes
                start = time.perf_counter()
                answer, _ = get(port, f"/api/sweep/{SWEEP}?since={version}&epoch={epoch}")
                idle.append(time.perf_counter() - start)
                version = answer["version"]
            print(f"  an answer when nothing changed (refresh included): median {statistics.median(idle):.3f} s, "
                  f"refresh {answer['refresh_s']:.3f} s; {statistics.median(idle) / statistics.median(listing):.2f}x "
                  "the warm listing")

            written: dict[float, float] = {}  # value -> when appended
            seen: dict[float, float] = {}
            stop = threading.Event()

            def poll() -> None:
                nonlocal version
                while not stop.is_set():
                    update, _ = get(port, f"/api/sweep/{SWEEP}?since={version}&epoch={epoch}&wait=10")
                    now = time.monotonic()
                    version = update["version"]
                    for curve in update["curves"].values():
                        for value in curve["values"]:
                            if value in written and value not in seen:
                                seen[value] = now
                    stop.wait(0.05)  # the page's pause between answers

            client = threading.Thread(target=poll, daemon=True)
            client.start()
            rng = random.Random(0)
            for event in range(args.events):
                time.sleep(rng.uniform(0.3, 1.7))
                value = round(0.6 + event / 1000, 6)
                path = os.path.join(random.choice(live), "tuner.d", "metrics.jsonl")
                with open(path, "a") as handle:
                    handle.write(json.dumps({"step": event + 2, "val_acc": value}) + "\n")
                written[value] = time.monotonic()
            time.sleep(3)
            stop.set()
            client.join()
        latencies = sorted(seen[v] - written[v] for v in written if v in seen)
        missed = len(written) - len(latencies)
        print(f"  report -> page: {len(latencies)} reports, median {statistics.median(latencies):.2f} s, "
              f"90th percentile {latencies[int(0.9 * (len(latencies) - 1))]:.2f} s, max {latencies[-1]:.2f} s"
              + (f"; {missed} never seen" if missed else "") + f" (refresh at most every {REFRESH_S} s)")


def zdt1(x: float, y: float) -> dict[str, list[float]]:
    g = 1 + 9 * y
    return {"f1": [x], "f2": [g * (1 - math.sqrt(x / g))]}


def brute_front(points: np.ndarray) -> np.ndarray:
    """The baseline: indexes of the points no other point dominates (<= in both, < in one), by the definition,
    every pair compared (in blocks of rows, so 10^4 x 10^4 stays small in memory)."""
    keep = np.ones(len(points), dtype=bool)
    for start in range(0, len(points), 500):
        block = points[start:start + 500]
        le = (points[None, :, :] <= block[:, None, :]).all(axis=2)
        lt = (points[None, :, :] < block[:, None, :]).any(axis=2)
        keep[start:start + 500] = ~(le & lt).any(axis=1)
    return np.flatnonzero(keep)


def sorted_front(points: np.ndarray) -> np.ndarray:
    """A second baseline: the O(n log n) filter for two objectives (by f1, then f2; a point is kept when its f2 is
    below every earlier one's; no ties in these values)."""
    order = np.lexsort((points[:, 1], points[:, 0]))
    ys = points[order, 1]
    earlier = np.concatenate(([np.inf], np.minimum.accumulate(ys)[:-1]))
    return np.sort(order[ys < earlier])


def pareto(trials: int, events: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        runs, staging = os.path.join(folder, "runs"), os.path.join(folder, "staging")
        os.makedirs(staging)
        started = time.perf_counter()
        rng = random.Random(0)
        Journal.create(runs, MO_SWEEP, {"script": "/work/train.py", "total": trials + events, "created": 1.0e9,
                                        "metric": ["f1", "f2"], "mode": ["min", "min"]})
        for trial in range(trials):
            make_run(runs, trial, {"x": (x := rng.random()), "y": (y := rng.random())}, zdt1(x, y), sweep=MO_SWEEP,
                     trial=trial)
        print(f"{trials} finished trials of two objectives, written in {time.perf_counter() - started:.1f} s")
        ls_runs(runs_dir=runs)  # the listing index, as after any `tune ls`

        # front_panel alone over the sweep's rows, against the brute-force filter of the same values
        board = Dashboard(runs)
        board.refresh(force=True)
        view = board.view(MO_SWEEP)
        rows = board.mirror.sweep_rows(MO_SWEEP)
        objectives, summary = view.objectives, board.book.summary(MO_SWEEP)
        points = np.array([[row["metric_f1"], row["metric_f2"]] for row in rows.values()])
        panel, ours, brute, quick = None, [], [], []
        for _ in range(5):
            start = time.perf_counter()
            panel = front_panel(rows, objectives, summary)
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            kept = brute_front(points)
            brute.append(time.perf_counter() - start)
            start = time.perf_counter()
            fast = sorted_front(points)
            quick.append(time.perf_counter() - start)
        names = list(rows)
        assert panel is not None and sorted(panel["front"]) == sorted(names[i] for i in kept) \
            == sorted(names[i] for i in fast)
        ours_s = statistics.median(ours)
        print(f"  front_panel over {len(rows)} rows (front, hypervolume history, ordering): median {ours_s:.3f} s; "
              f"brute-force numpy filter {statistics.median(brute):.3f} s: {ours_s / statistics.median(brute):.2f}x; "
              f"sorted numpy filter {statistics.median(quick) * 1e3:.2f} ms: {ours_s / statistics.median(quick):.0f}x "
              f"(front of {len(kept)})")

        with DashboardServer(runs) as server:
            port = server.port
            start = time.perf_counter()
            answer, size = get(port, f"/api/sweep/{MO_SWEEP}?since=0")
            print(f"  first answer {time.perf_counter() - start:.2f} s ({size / 1e6:.1f} MB), "
                  f"front of {len(answer['pareto']['front'])}")
            version, epoch = answer["version"], answer["epoch"]
            written: dict[str, float] = {}  # run name -> when its folder was complete
            seen: dict[str, float] = {}
            stop = threading.Event()

            def poll() -> None:
                nonlocal version
                while not stop.is_set():
                    update, _ = get(port, f"/api/sweep/{MO_SWEEP}?since={version}&epoch={epoch}&wait=10")
                    now = time.monotonic()
                    version = update["version"]
                    for name in (update.get("pareto") or {}).get("front", []):
                        if name in written and name not in seen:
                            seen[name] = now
                    stop.wait(0.05)  # the page's pause between answers

            client = threading.Thread(target=poll, daemon=True)
            client.start()
            for event in range(events):
                time.sleep(rng.uniform(0.3, 1.7))
                # below the y = 0 front by more than every earlier new trial: no run dominates it
                x = rng.random()
                values = {"f1": [x], "f2": [1 - math.sqrt(x) - 0.01 * (event + 1)]}
                # written aside and renamed in: a finished trial's folder appears whole, as one that ran does
                staged = make_run(staging, trials + event, {"x": x, "y": -1.0}, values, sweep=MO_SWEEP,
                                  trial=trials + event, start=time.time())
                name = os.path.basename(staged)
                os.rename(staged, os.path.join(runs, name))
                written[name] = time.monotonic()
            time.sleep(3)
            stop.set()
            client.join()
        latencies = sorted(seen[n] - written[n] for n in written if n in seen)
        missed = len(written) - len(latencies)
        print(f"  new trial -> Pareto panel: {len(latencies)} trials, median {statistics.median(latencies):.2f} s, "
              f"max {latencies[-1]:.2f} s" + (f"; {missed} never seen" if missed else "")
              + f" (refresh at most every {REFRESH_S} s, the front at most every {PARETO_EVERY_S} s); each: "
              + ", ".join(f"{seen[n] - written[n]:.2f}" for n in written if n in seen))


if __name__ == "__main__":
    main()
