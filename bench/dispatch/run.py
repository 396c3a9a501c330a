"""Dispatch overhead: N trivial trials run by tuner's sweep (Ray tasks, 2 workers) against `xargs -P 2`
running the same N commands, and against bare Ray tasks (and, with --ray-tune, Ray Tune) running them. Reports
wall times, the ratio excluding Ray start-up, Ray start-up itself, and the driver's peak memory.

    python bench/dispatch/run.py [--trials 200] [--workers 2] [--ray-tune]
    python bench/dispatch/run.py --memory 20000     # the driver's memory along one long sweep

`--memory N` runs one sweep of N trials instead and prints the driver's resident memory as the runs are made
(sampled every 2 s from /proc/self/statm beside a count of the run folders), and the growth per 1,000 trials
between a tenth and nine tenths of the sweep: whether the driver stays flat over a long sweep.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

SCRIPT = """\
import argparse
p = argparse.ArgumentParser()
p.add_argument("--x", type=int)
args = p.parse_args()
print(f"loss: {args.x / 1000}")
"""


def bench_xargs(workdir: Path, trials: int, workers: int) -> float:
    started = time.perf_counter()
    subprocess.run(["xargs", "-P", str(workers), "-I{}", sys.executable, str(workdir / "train.py"), "--x={}"],
                   input="\n".join(str(i) for i in range(trials)), text=True, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def start_ray(workers: int) -> float:
    import ray

    started = time.perf_counter()
    ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1",
             logging_level="ERROR")
    return time.perf_counter() - started


def bench_bare_ray(workdir: Path, trials: int, workers: int) -> float:
    """The floor of any Ray-based runner: one task per command, subprocess.run, nothing recorded."""
    import ray

    @ray.remote(num_cpus=1)
    def run(index: int) -> int:
        return subprocess.run([sys.executable, str(workdir / "train.py"), f"--x={index}"],
                              stdout=subprocess.DEVNULL).returncode

    started = time.perf_counter()
    pending, in_flight = list(range(trials)), []
    while pending or in_flight:
        while pending and len(in_flight) < 2 * workers:
            in_flight.append(run.remote(pending.pop()))
        ready, in_flight = ray.wait(in_flight, num_returns=1)
        assert ray.get(ready) == [0]
    return time.perf_counter() - started


def bench_ray_tune(workdir: Path, trials: int, workers: int) -> float:
    """Ray Tune running the same commands: a function trainable per trial that runs the script and reports its
    printed loss, `workers` at once, actors reused (its fastest setting); what a Ray Tune user sweeping a script
    would write. Needs the `bench` extra (ray[tune])."""
    from ray import tune

    script = str(workdir / "train.py")

    def trainable(config: dict[str, Any]) -> None:
        out = subprocess.run([sys.executable, script, f"--x={config['x']}"], capture_output=True, text=True,
                             check=True).stdout
        tune.report({"loss": float(out.split()[-1])})

    storage = workdir / "ray_results" / f"round-{len(list(workdir.glob('ray_results/round-*')))}"
    started = time.perf_counter()
    results = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}), param_space={"x": tune.grid_search(list(range(trials)))},
        tune_config=tune.TuneConfig(max_concurrent_trials=workers, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=str(storage), verbose=0)).fit()
    elapsed = time.perf_counter() - started
    frame = results.get_dataframe()
    assert len(frame) == trials and frame["loss"].notna().all() and not results.errors, results.errors
    return elapsed


def bench_tuner(workdir: Path, trials: int, batches: bool = True) -> float:
    """One sweep on the running cluster (what `tune` does after its start-up); every run recorded for real.
    `batches=False`: one trial a task, as before short trials shared tasks (tuner.sweep.loop.MAX_BATCH)."""
    from tuner.sweep import loop, tuning_run

    batch = loop.MAX_BATCH
    if not batches:
        loop.MAX_BATCH = 1
    try:
        return _sweep(workdir, trials, tuning_run)
    finally:
        loop.MAX_BATCH = batch


def _sweep(workdir: Path, trials: int, tuning_run: Any) -> float:
    """Each sweep into a runs directory of its own, all removed at the end: removing one sweep's runs just
    before the next would tax that one on file systems that skip recently freed inodes when allocating
    (ext4 without a journal, as on the project's VMs: docs/benchmarks.md), which no baseline round pays."""
    os.chdir(workdir)
    runs = workdir / "runs" / f"sweep-{len(list(workdir.glob('runs/sweep-*')))}"
    started = time.perf_counter()
    frame = tuning_run("train.py", {"x": list(range(trials))}, runs_dir=str(runs), confirm=False, quiet=True)
    elapsed = time.perf_counter() - started
    assert len(frame) == trials and set(frame.status) == {"finished"}, frame.status.value_counts()
    assert frame["metric_loss"].notna().all()
    return elapsed


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def bench_memory(workdir: Path, trials: int) -> None:
    """One sweep of `trials` trials, the driver's resident memory sampled beside the number of runs made."""
    import threading

    from tuner.sweep import tuning_run

    runs = workdir / "runs" / "memory"
    samples: list[tuple[float, int, float]] = []  # (seconds, runs made, RSS MB)
    done = threading.Event()

    def sample() -> None:
        start = time.perf_counter()
        while not done.wait(2.0):
            made = sum(1 for _ in os.scandir(runs)) if runs.is_dir() else 0
            samples.append((time.perf_counter() - start, made, _rss_mb()))

    before = _rss_mb()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    os.chdir(workdir)
    frame = tuning_run("train.py", {"x": list(range(trials))}, runs_dir=str(runs), confirm=False, quiet=True)
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    after = _rss_mb()
    assert len(frame) == trials and set(frame.status) == {"finished"}, frame.status.value_counts()
    print(f"trials: {trials}, python: {sys.version.split()[0]}, cpus: {os.cpu_count()}, runs on: {_file_system(workdir)}")
    print(f"sweep: {elapsed:.0f} s ({trials / elapsed:.0f} trials/s); driver RSS before {before:.0f} MB, after the "
          f"sweep (its {trials}-row frame held) {after:.0f} MB")
    print(f"{'runs made':>10} {'RSS MB':>8}")
    for k in range(0, len(samples), max(1, len(samples) // 12)):
        print(f"{samples[k][1]:>10} {samples[k][2]:>8.0f}")
    during = [(made, rss) for _, made, rss in samples if trials // 10 <= made <= trials * 9 // 10]
    if len(during) >= 2 and during[-1][0] > during[0][0]:
        growth = (during[-1][1] - during[0][1]) / (during[-1][0] - during[0][0]) * 1000
        print(f"growth from {during[0][0]} to {during[-1][0]} runs: {growth:+.2f} MB per 1,000 trials "
              f"(peak during the sweep {max(rss for _, rss in during):.0f} MB)")


def _file_system(path: Path) -> str:
    """The type of the file system holding `path` (from /proc/mounts: the longest mount point above it)."""
    best, kind = "", "unknown"
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                _, point, fstype = line.split()[:3]
                if str(path).startswith(point.rstrip("/") + "/") and len(point) > len(best):
                    best, kind = point, fstype
    except OSError:
        pass
    return kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are reported")
    parser.add_argument("--dir", help="make the project and its runs in a temporary folder under this one (another "
                        "file system: e.g. a tmpfs, to see what is left without file system costs)")
    parser.add_argument("--memory", type=int, metavar="N", help="instead: one sweep of N trials, the driver's "
                        "memory sampled along it")
    parser.add_argument("--ray-tune", action="store_true", help="also run Ray Tune over the same commands once per "
                        "round (a function trainable per trial, actors reused; ~2.5x xargs: about 8 s a round for "
                        "200 trials, 16 s the first; needs the bench extra)")
    args = parser.parse_args()
    if args.memory is not None and args.memory < 1:
        parser.error(f"--memory takes a number of trials (1 or more), got {args.memory}")
    workdir = Path(tempfile.mkdtemp(prefix="tuner-bench-dispatch-", dir=args.dir))
    import ray

    if args.memory:
        try:
            (workdir / "train.py").write_text(SCRIPT)
            start_ray(args.workers)
            bench_memory(workdir, args.memory)
        finally:
            ray.shutdown()
            shutil.rmtree(workdir, ignore_errors=True)
        return
    try:
        (workdir / "train.py").write_text(SCRIPT)
        startup = start_ray(args.workers)
        xargs_times, bare_times, tuner_times, single_times, tune_times = [], [], [], [], []
        bench_tuner(workdir, 10)  # start the workers once, as a sweep's first trials do
        for _ in range(args.rounds):  # alternate, so load from elsewhere hits all alike
            xargs_times.append(bench_xargs(workdir, args.trials, args.workers))
            bare_times.append(bench_bare_ray(workdir, args.trials, args.workers))
            tuner_times.append(bench_tuner(workdir, args.trials))
            single_times.append(bench_tuner(workdir, args.trials, batches=False))
            if args.ray_tune:
                tune_times.append(bench_ray_tune(workdir, args.trials, args.workers))
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    finally:
        ray.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)
    xargs_s, tuner_s = statistics.median(xargs_times), statistics.median(tuner_times)
    bare_s = statistics.median(bare_times)
    print(f"trials: {args.trials}, workers: {args.workers}, rounds: {args.rounds}, python: {sys.version.split()[0]}, "
          f"cpus: {os.cpu_count()}, runs on: {_file_system(workdir)}")
    print(f"{'xargs -P (median)':<40} {xargs_s:8.2f} s   runs: {', '.join(f'{t:.2f}' for t in xargs_times)}")
    print(f"{'tuner sweep excl. Ray start-up (median)':<40} {tuner_s:8.2f} s   runs: "
          f"{', '.join(f'{t:.2f}' for t in tuner_times)}  ({tuner_s / args.trials * 1000:.1f} ms/trial)")
    print(f"{'bare Ray tasks, nothing recorded':<40} {bare_s:8.2f} s   runs: {', '.join(f'{t:.2f}' for t in bare_times)}")
    single_s = statistics.median(single_times)
    print(f"{'tuner, one trial a task (no batches)':<40} {single_s:8.2f} s   runs: "
          f"{', '.join(f'{t:.2f}' for t in single_times)}  ({single_s / xargs_s:.2f}x xargs)")
    if tune_times:
        tune_s = statistics.median(tune_times)
        print(f"{'Ray Tune, actors reused':<40} {tune_s:8.2f} s   runs: {', '.join(f'{t:.2f}' for t in tune_times)}  "
              f"({tune_s / args.trials * 1000:.0f} ms/trial, {tune_s / xargs_s:.1f}x xargs, "
              f"{tune_s / tuner_s:.1f}x tuner)")
    print(f"{'ratio tuner / xargs':<40} {tuner_s / xargs_s:8.2f} x")
    print(f"{'ratio bare Ray / xargs':<40} {bare_s / xargs_s:8.2f} x")
    print(f"{'Ray start-up (local cluster)':<40} {startup:8.2f} s")
    print(f"{'driver peak RSS (incl. Ray client)':<40} {peak_kb / 1024:8.0f} MB")


if __name__ == "__main__":
    main()
