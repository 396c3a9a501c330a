"""Filter benchmark: ls_runs' filters over N synthetic runs, parsed and evaluated by tuner (tuner/runs/query.py),
against `DataFrame.query(engine="python")` on the pandas text the former regex translator produced for the same
filter (what filters cost before issue 29; the translation step itself is left out of the baseline).

    python bench/listing/filter.py                 # 10,000 runs in a temporary folder, removed afterwards
    python bench/listing/filter.py --runs 2000 --repeat 30 --dir /tmp/fb

Both run in this process on the same frame (one ls_runs), interleaved, median of --repeat. Prints one table
with the ratio tuner / query (below 1: tuner is faster); docs/benchmarks.md records the results.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run import make_runs  # noqa: E402

from tuner import ls_runs  # noqa: E402
from tuner.runs.listing import filter_runs  # noqa: E402

NAMES = [f"2026-01-01T{h:02d}-{m:02d}-00Z" for h in range(2) for m in range(0, 60, 3)]

#: (filter as a user types it, the pandas text the former translator handed to DataFrame.query)
CASES = [
    ("metric_val_acc > 0.9 and flag_dropout < 0.3", "metric_val_acc > 0.9 and flag_dropout < 0.3"),
    ("metrics.val_acc > 0.9 and params.dropout = '0.2' and attributes.status = 'FINISHED'",
     "metric_val_acc > 0.9 and flag_dropout.isin([0.2, '0.2']) and status == 'finished'"),
    ("flag_units in [32, 128] or flag_lr * 10 >= 1", "flag_units.isin([32, 128]) or flag_lr * 10 >= 1"),
    ("params.optimizer LIKE 'ad%'",
     "(flag_optimizer.notna() & flag_optimizer.astype('str').str.fullmatch('ad.*', case=True, na=False))"),
    ("params.optimizer NOT LIKE '%a%a%m'",
     "(flag_optimizer.notna() & ~flag_optimizer.astype('str').str.fullmatch('.*a.*a.*m', case=True, na=False))"),
    ("params.optimizer IS NOT NULL and metrics.acc < 0.5", "flag_optimizer.notna() and metric_acc < 0.5"),
    (" OR ".join(f"run_name = '{n}'" for n in NAMES), " or ".join(f"name == '{n}'" for n in NAMES)),
]


def timed(func, *args) -> tuple[float, object]:
    start = time.perf_counter()
    value = func(*args)
    return time.perf_counter() - start, value


def query(frame, text: str):
    """The former path: DataFrame.query on the translated text, then the rows of the listing's frame (with the
    `name` column it added first where the filter named MLflow's run_name)."""
    target = frame
    if "name ==" in text:
        target = frame.assign(name=frame["run_dir"].map(lambda p: os.path.basename(os.path.normpath(str(p)))))
    return frame.loc[target.query(text, engine="python").index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=21, help="repetitions of each measurement (median shown)")
    parser.add_argument("--dir", help="use (and keep) this folder instead of a temporary one")
    args = parser.parse_args()
    root = args.dir or tempfile.mkdtemp(prefix="tuner-bench-filter-")
    os.makedirs(root, exist_ok=True)
    try:
        if not any(e.is_dir() for e in os.scandir(root)):
            took, _ = timed(make_runs, root, args.runs)
            print(f"made {args.runs} runs in {took:.1f} s under {root}", flush=True)
        frame = ls_runs(runs_dir=root)
        print(f"\n{len(frame)} runs, median of {args.repeat}, Python {sys.version.split()[0]}\n")
        print(f"| {'filter':<60} | {'rows':>5} | {'tuner ms':>8} | {'query ms':>8} | {'ratio':>5} |")
        print(f"|{'-' * 62}|{'-' * 7}|{'-' * 10}|{'-' * 10}|{'-' * 7}|")
        for ours, old in CASES:
            tuner_s: list[float] = []
            query_s: list[float] = []
            for _ in range(args.repeat):
                took, chosen = timed(filter_runs, frame, ours)
                tuner_s.append(took)
                took, expected = timed(query, frame, old)
                query_s.append(took)
            assert list(chosen.index) == list(expected.index), ours  # type: ignore[attr-defined]
            a, b = statistics.median(tuner_s), statistics.median(query_s)
            shown = ours if len(ours) <= 60 else ours[:45] + f"... ({len(ours):,} ch)"
            print(f"| {shown:<60} | {len(chosen):>5} | {a * 1e3:>8.2f} | {b * 1e3:>8.2f} | {a / b:>5.2f} |")  # type: ignore[arg-type]
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
