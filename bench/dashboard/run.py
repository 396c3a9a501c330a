"""bench/dashboard: how long a trial's report takes to reach a `tune dashboard` page, for a sweep of 10,000
trials (issue 33's goal: within 2 s), against re-listing the runs directory (`ls_runs`, warm) in the same process.

    python bench/dashboard/run.py                  # 10,000 finished trials + 2 running ones, 20 reports
    python bench/dashboard/run.py --trials 2000 --events 10

A real DashboardServer on 127.0.0.1 (threads, as `tune dashboard` runs it) and a client that asks for the sweep's
changes as the page does: since its version, held by the server until something changed (long polling, `wait`),
then at once again. A writer appends a metrics row with a fresh value to a running trial's metrics.jsonl at random
moments; the latency is from the append to the first answer whose learning curve holds that value. Also reported:
the first full answer (and its size), an answer when nothing changed, and the refresh behind it. Not a test:
figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
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

from fabricate_runs import make_run, make_sweep  # noqa: E402

from tuner import ls_runs  # noqa: E402
from tuner.dashboard import DashboardServer  # noqa: E402
from tuner.dashboard.server import REFRESH_S  # noqa: E402

SWEEP = "bench"


def get(port: int, path: str) -> tuple[dict, int]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
    body = connection.getresponse().read()
    connection.close()
    return json.loads(body), len(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=20)
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
