"""What recording a script's flag defaults costs a single run given no flags (`tune train.py`), medians:

    python bench/cli/defaults.py               # about a minute on 2 cores
    python bench/cli/defaults.py --rounds 9

A run given no flags now finds the script's flags first (a subprocess that runs the script up to its parse,
tuner/interface/discover.py), so its flags.json holds the defaults it ran with. Measured beside the same run
with `--no-check` (no discovery: what a flagless run cost before), rounds alternating, each a fresh `tune`
process, for two scripts: a plain argparse script, and one that imports numpy and pandas before it parses
(the discovery pays the script's imports again). docs/benchmarks.md records the figures with this command.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TUNE = [sys.executable, "-m", "tuner"]
# as bench/cli/run.py: no TUNER_/RAY_ settings, and our modules byte-compiled as an install has them
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("TUNER_", "RAY_", "PYTHONDONTWRITEBYTECODE"))}
ENV["PYTHONPATH"] = REPO


def wall(command: list[str], cwd: str) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{command} exited {done.returncode}: {done.stderr.decode(errors='replace')[-2000:]}")
    return took

SCRIPTS = {
    "argparse": """
import argparse
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--epochs", type=int, default=10)
a = p.parse_args()
print(f"loss: {a.lr / a.epochs}")
""",
    "numpy+pandas, then argparse": """
import argparse
import numpy, pandas
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--epochs", type=int, default=10)
a = p.parse_args()
print(f"loss: {a.lr / a.epochs}")
""",
}


def _timed(function: object, *args: object) -> float:
    start = time.perf_counter()
    function(*args)  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    for package in ("tuner", "workers"):
        compileall.compile_dir(os.path.join(REPO, package), quiet=1)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.rounds} rounds, "
          f"load average {os.getloadavg()[0]:.1f}")
    for name, body in SCRIPTS.items():
        folder = tempfile.mkdtemp(prefix="tuner-bench-defaults-")
        try:
            with open(os.path.join(folder, "train.py"), "w", encoding="utf-8") as handle:
                handle.write(body)
            wall([*TUNE, "train.py", "--no-echo"], folder)  # warm the file cache and __pycache__
            found, skipped = [], []
            for _ in range(args.rounds):
                found.append(wall([*TUNE, "train.py", "--no-echo"], folder))
                skipped.append(wall([*TUNE, "train.py", "--no-echo", "--no-check"], folder))
            from tuner.interface.discover import discover_flags

            alone = statistics.median(_timed(discover_flags, os.path.join(folder, "train.py"))
                                      for _ in range(args.rounds))
            a, b = statistics.median(found), statistics.median(skipped)
            print(f"{name}: finding the flags alone (tuner.interface.discover_flags) {alone * 1000:.0f} ms")
            print(f"{name}: with defaults {a:.3f} s, --no-check {b:.3f} s: +{(a - b) * 1000:.0f} ms ({a / b:.2f}x)"
                  f"  [{', '.join(f'{x:.2f}' for x in found)}] [{', '.join(f'{x:.2f}' for x in skipped)}]")
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
