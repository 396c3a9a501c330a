"""bench/search: what one poll of a running trial's metrics costs the stopping driver, as a Keras script's log grows.

    python bench/search/poll_cost.py --epochs 10 100 500

Before issue 31 the driver parsed the trial's output.log again whenever it grew (a Keras or tqdm bar redraws
itself many times a second, so on almost every 20 ms poll); now it reads the rows the live parse wrote
(tuner.search.driver.read_history), which changes once a step. Both are timed here in one process on the same
run: the old poll (the parser of commit --old, main before this change, loaded from git, parsing the whole
log as its read_history did), today's parser on the whole log (what a re-parse per poll would cost now), and the
new poll (read_history of the rows file), for logs of Keras 3's verbose=1 format (45 batches an epoch, each drawn).
Not a test: figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

BAR, EMPTY = "\x1b[32m" + "━" * 20 + "\x1b[0m\x1b[37m\x1b[0m", "\x1b[37m" + "━" * 20 + "\x1b[0m"


def keras_log(epochs: int, batches: int = 45) -> str:
    parts = []
    for epoch in range(1, epochs + 1):
        parts.append(f"Epoch {epoch}/{epochs}\n")
        for batch in range(1, batches):
            parts.append(f"\r\x1b[1m{batch:2d}/{batches}\x1b[0m {EMPTY} \x1b[1m0s\x1b[0m 5ms/step - accuracy: 0.5000"
                         f" - loss: {1 / epoch + 1 / batch:.4f}" + "\b" * 72)
        parts.append(f"\r\x1b[1m{batches}/{batches}\x1b[0m {BAR} \x1b[1m0s\x1b[0m 5ms/step - accuracy: 0.9000"
                     f" - loss: {1 / epoch:.4f} - val_accuracy: 0.8800 - val_loss: {1.1 / epoch:.4f}\n")
    return "".join(parts)


def load_old(commit: str):
    """stdout_metrics.py as it was at `commit`, as a module of its own (its imports are today's tuner's)."""
    import importlib.util
    import subprocess

    source = subprocess.run(["git", "show", f"{commit}:tuner/capture/stdout_metrics.py"], capture_output=True,
                            text=True, check=True, cwd=os.path.dirname(os.path.dirname(HERE))).stdout
    path = os.path.join(tempfile.mkdtemp(prefix="bench-old-"), "old_stdout_metrics.py")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location("old_stdout_metrics", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(func, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, nargs="+", default=[10, 100, 500])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--old", default="551c200", help="the commit whose stdout_metrics.py is the old parser")
    a = p.parse_args()
    old_module = load_old(a.old)
    from tuner.capture.stdout_metrics import LiveMetrics, parse_metric_lines
    from tuner.search.driver import read_history
    from tuner.settings import load_settings

    pattern = load_settings().stdout_metrics_pattern
    print("| epochs | output.log | old poll: old parser, whole log | today's parser, whole log | new poll: read_history "
          "of the rows | old / new |")
    print("|---:|---:|---:|---:|---:|---:|")
    for epochs in a.epochs:
        run_dir = tempfile.mkdtemp(prefix="bench-poll-")
        os.makedirs(os.path.join(run_dir, "tuner.d"))
        text = keras_log(epochs)
        with open(os.path.join(run_dir, "tuner.d", "output.log"), "w", encoding="utf-8") as handle:
            handle.write(text)
        hook = LiveMetrics(run_dir, pattern, (), 0.0)
        for line in text.replace("\r", "\n").split("\n"):
            hook.line(line)
        hook.close(completed=False)
        log_path = os.path.join(run_dir, "tuner.d", "output.log")

        def old(log_path: str = log_path) -> None:
            old_module.parse_metric_lines(old_module.read_log_tail(log_path), pattern)

        def reparse(log_path: str = log_path) -> None:
            with open(log_path, encoding="utf-8", newline="") as handle:
                parse_metric_lines(handle.read(), pattern)

        def new(run_dir: str = run_dir) -> None:
            read_history(run_dir, "val_loss")  # no cache: the file changed since the last poll

        old_s, reparse_s, new_s = timed(old, a.rounds), timed(reparse, a.rounds), timed(new, a.rounds)
        assert len(read_history(run_dir, "val_loss")) == epochs
        print(f"| {epochs} | {len(text.encode()) / 1e6:.2f} MB | {old_s * 1000:.1f} ms | {reparse_s * 1000:.1f} ms | "
              f"{new_s * 1000:.2f} ms | {old_s / new_s:.0f}x |", flush=True)


if __name__ == "__main__":
    main()
