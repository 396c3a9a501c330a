"""A notebook's sweeps: `tuning_run` of 2 trivial trials called again and again in one Python process, the first
call starting Ray and the later ones finding it running (workers.cluster keeps the embedded cluster until the
process exits), against the same 2 runs with plain `python`, timed in the same process:

    python bench/notebook/run.py              # 1 cold call, then 5 calls on the kept cluster (about 30 s on 2 cores)
    python bench/notebook/run.py --calls 10

Each call is timed from the call to its return, as a notebook cell would be; `training_run` (no Ray) between two
calls shows it leaves the cluster as it is. The goal (issue 30): the second call within 0.5 s on 2 cores.
docs/benchmarks.md records the figures with this command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

SCRIPT = "import os\nprint('loss: 0.5')\nopen(os.path.join(os.environ.get('TUNER_RUN_DIR', '.'), 'started'), 'w')\n"


def timed(call: object, *args: object, **kwargs: object) -> float:
    start = time.perf_counter()
    call(*args, **kwargs)  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5, help="calls after the first (default 5)")
    args = parser.parse_args()
    for key in [k for k in os.environ if k.startswith(("TUNER_", "RAY_"))]:
        del os.environ[key]
    root = tempfile.mkdtemp(prefix="tuner-bench-notebook-")
    os.chdir(root)
    try:
        with open("train.py", "w") as handle:
            handle.write(SCRIPT)
        plain = [timed(subprocess.run, [sys.executable, "-c", "import subprocess, sys\nfor x in (1, 2): "
                                        "subprocess.run([sys.executable, 'train.py', f'--x={x}'], check=True)"],
                       check=True, stdout=subprocess.DEVNULL) for _ in range(3)]
        import_start = time.perf_counter()
        from tuner import training_run, tuning_run

        imports = time.perf_counter() - import_start
        options = dict(flags={"x": [1, 2]}, confirm=False, quiet=True)
        first = timed(tuning_run, "train.py", **options)
        later = [timed(tuning_run, "train.py", **options) for _ in range(args.calls)]
        single = timed(training_run, "train.py", flags={"x": 3}, echo=False)
        after_single = timed(tuning_run, "train.py", **options)
        from workers.cluster import this_process

        def as_before() -> None:  # each call started and stopped Ray before the cluster was kept
            this_process().stop_kept()
            tuning_run("train.py", **options)
            this_process().stop_kept()

        this_process().stop_kept()
        before = [timed(as_before) for _ in range(2)]
        rows = [
            ("the same 2 runs with plain python (baseline, median of 3)", f"{statistics.median(plain):.2f} s"),
            ("import tuner (tuning_run, training_run)", f"{imports:.2f} s"),
            ("first tuning_run (starts Ray), 2 trials", f"{first:.2f} s"),
            ("second tuning_run (Ray running), 2 trials", f"{later[0]:.2f} s"),
            (f"calls 2-{args.calls + 1}: median (min-max)",
             f"{statistics.median(later):.2f} s ({min(later):.2f}-{max(later):.2f})"),
            ("training_run between two calls (no Ray)", f"{single:.2f} s"),
            ("the tuning_run after it", f"{after_single:.2f} s"),
            ("a call that starts and stops Ray, as every call did before (2 calls)",
             ", ".join(f"{t:.2f} s" for t in before)),
        ]
        width = max(len(name) for name, _ in rows)
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
        for name, value in rows:
            print(f"{name:<{width}}  {value}")
    finally:
        os.chdir(REPO)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
