"""Listing benchmark: ls_runs over N synthetic runs, cold (no index) and warm, against a plain JSON loop.

    python bench/listing/run.py              # 10,000 runs in a temporary folder, removed afterwards
    python bench/listing/run.py --runs 2000 --repeat 5

Each run is written like a real one: run.json (pretty, as the runner writes it), flags.json, metrics.jsonl
with 20 steps of 4 metrics, evaluation.json; beside them a sweeps/ folder, as a sweep leaves. Prints one table;
docs/benchmarks.md records the results.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from tuner import ls_runs  # noqa: E402
from tuner.runs import index as run_index  # noqa: E402
from tuner.store.layout import INDEX_FILE  # noqa: E402
from tuner.tracking import log_metrics  # noqa: E402


def make_runs(root: str, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    t0 = 1_767_225_600.0
    for i in range(n):
        start = t0 + 60 * i
        name = time.strftime("%Y-%m-%dT%H-%M-%SZ", time.gmtime(start))
        meta = os.path.join(root, name, "tuner.d")
        os.makedirs(meta)
        flags = {"dropout": rng.choice([0.1, 0.2, 0.3, 0.4]), "units": rng.choice([32, 64, 128, 256]),
                 "lr": rng.choice([0.1, 0.01, 0.001]), "optimizer": rng.choice(["adam", "sgd"]), "epochs": 20}
        run = {"name": name, "script": "/home/ada/project/train.py", "script_sha256": "ab" * 32,
               "argv": [f"--{k}={v}" for k, v in flags.items()], "cwd": "/home/ada/project", "user": "ada",
               "job_type": "trial", "python": "3.11.7", "tuner_version": "0.1.0",
               "git": {"commit": "c" * 40, "branch": "main", "dirty": False, "root": "/home/ada/project"},
               "sweep": "s1", "trial": i, "attempt": 1, "status": "finished", "start": start,
               "heartbeat": start + 30, "end": start + 30, "host": "box", "exit_code": 0, "signal": None,
               "duration_s": 30.0}
        with open(os.path.join(meta, "run.json"), "w") as handle:
            json.dump(run, handle, indent=2)
        with open(os.path.join(meta, "flags.json"), "w") as handle:
            json.dump(flags, handle, indent=2)
        with open(os.path.join(meta, "metrics.jsonl"), "w") as handle:
            for step in range(1, 21):
                handle.write(json.dumps({"step": step, "timestamp": start + step, "loss": rng.random(),
                                         "val_loss": rng.random(), "acc": rng.random(),
                                         "val_acc": rng.random()}) + "\n")
        with open(os.path.join(meta, "evaluation.json"), "w") as handle:
            json.dump({"loss": rng.random(), "acc": rng.random()}, handle, indent=2)


def add_sweep_folder(root: str) -> None:
    """The sweeps/ folder (journals) that every runs directory with a sweep has beside its runs: not a run."""
    journal = os.path.join(root, "sweeps", "s1", "journal.jsonl")
    if not os.path.exists(journal):
        os.makedirs(os.path.dirname(journal), exist_ok=True)
        with open(journal, "w") as handle:
            handle.write(json.dumps({"sweep": "s1", "script": "train.py"}) + "\n")


def plain_loop(root: str) -> int:
    """What a user's own script would do: open every run's JSON, no DataFrame."""
    count = 0
    for name in sorted(os.listdir(root)):
        meta = os.path.join(root, name, "tuner.d")
        if not os.path.isdir(meta):
            continue
        for file in ("run.json", "flags.json", "evaluation.json"):
            try:
                with open(os.path.join(meta, file)) as handle:
                    json.load(handle)
            except FileNotFoundError:
                pass
        with open(os.path.join(meta, "metrics.jsonl")) as handle:
            [json.loads(line) for line in handle if line.strip()]
        count += 1
    return count


def timed(func, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    value = func(*args, **kwargs)
    return time.perf_counter() - start, value


def fresh_process_listing(root: str) -> float:
    """ls_runs in a new Python process (as `tune ls`), timing the call only, not the imports."""
    code = ("import time, sys; from tuner import ls_runs; t = time.perf_counter(); "
            "ls_runs(runs_dir=sys.argv[1]); print(time.perf_counter() - t)")
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code, root], capture_output=True, text=True, check=True, env=env)
    return float(out.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each measurement (median shown)")
    parser.add_argument("--dir", help="use (and keep) this folder instead of a temporary one")
    args = parser.parse_args()
    root = args.dir or tempfile.mkdtemp(prefix="tuner-bench-listing-")
    os.makedirs(root, exist_ok=True)
    try:
        if not any(e.is_dir() for e in os.scandir(root)):
            took, _ = timed(make_runs, root, args.runs)
            print(f"made {args.runs} runs in {took:.1f} s under {root}", flush=True)
        add_sweep_folder(root)
        # the listing trusts a run's cached row only once its files are older than the racy window
        time.sleep(run_index.RACY_NS / 1e9 + 0.1)
        results: dict[str, list[float]] = {k: [] for k in (
            "plain loop reading every run's JSON", "ls_runs cold (no index)", "ls_runs warm (same process)",
            "ls_runs warm (new process)", "ls_runs after 10 runs logged a step", "ls_runs --latest 20 (warm)")}
        for _ in range(args.repeat):
            results["plain loop reading every run's JSON"].append(timed(plain_loop, root)[0])
            os.unlink(os.path.join(root, INDEX_FILE)) if os.path.exists(os.path.join(root, INDEX_FILE)) else None
            run_index._memo.clear()
            took, frame = timed(ls_runs, runs_dir=root)
            assert len(frame) == args.runs
            results["ls_runs cold (no index)"].append(took)
        time.sleep(run_index.RACY_NS / 1e9 + 0.1)
        ls_runs(runs_dir=root)  # settle: the runs read last are now past the racy window
        for _ in range(args.repeat):
            results["ls_runs warm (same process)"].append(timed(ls_runs, runs_dir=root)[0])
            results["ls_runs warm (new process)"].append(fresh_process_listing(root))
            results["ls_runs --latest 20 (warm)"].append(timed(ls_runs, runs_dir=root, latest_n=20)[0])
        names = sorted((n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n, "tuner.d"))), reverse=True)
        for rep in range(args.repeat):
            for name in names[rep * 10:(rep + 1) * 10]:
                log_metrics(step=21, run_dir=os.path.join(root, name), loss=0.01, acc=0.99)
            results["ls_runs after 10 runs logged a step"].append(timed(ls_runs, runs_dir=root)[0])
        print(f"\n{args.runs} runs, median of {args.repeat}, {os.cpu_count()} CPUs, Python "
              f"{sys.version.split()[0]}\n")
        print(f"| {'what':<40} | {'seconds':>8} | {'all':<26} |")
        print(f"|{'-' * 42}|{'-' * 10}|{'-' * 28}|")
        for what, times in results.items():
            shown = ", ".join(f"{t:.3f}" for t in times)
            print(f"| {what:<40} | {statistics.median(times):>8.3f} | {shown:<26} |")
        size = os.path.getsize(os.path.join(root, INDEX_FILE))
        print(f"\nindex file: {size / 1e6:.1f} MB")
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
