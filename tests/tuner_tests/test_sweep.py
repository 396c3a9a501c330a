"""Sweeps on a real local Ray cluster (one per test session, with 4 logical GPUs for scheduling tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tuner import ls_runs, tuning_run
from tuner.errors import GridError, TunerError
from tuner.store.journal import Journal

pytestmark = pytest.mark.ray

TRIVIAL = """
import argparse, json, os, sys
p = argparse.ArgumentParser()
p.add_argument("--a", type=float, default=0)
p.add_argument("--b", default="x")
args = p.parse_args()
print(f"loss: {args.a / 10}")
if args.b == "boom":
    raise ValueError("bad b")
"""


@pytest.fixture
def trivial(write_script):
    return write_script("train.py", TRIVIAL)


def test_sample_rates_on_a_2x2_grid(ray_cluster, workdir, trivial):
    one = tuning_run("train.py", {"a": [1, 2], "b": ["x", "y"]}, sample=1e-6, confirm=False, quiet=True)
    assert len(one) == 1
    four = tuning_run("train.py", {"a": [1, 2], "b": ["x", "y"]}, sample=1, confirm=False, quiet=True)
    assert len(four) == 4
    assert sorted(zip(four.flag_a, four.flag_b)) == [(1, "x"), (1, "y"), (2, "x"), (2, "y")]
    assert four["sweep"].nunique() == 1 and four["sweep"].iloc[0] == four.attrs["sweep"]
    assert sorted(four["trial"]) == [0, 1, 2, 3]
    assert four["run_dir"].nunique() == 4
    assert set(four["status"]) == {"finished"}
    assert four["metric_loss"].tolist() == pytest.approx([r / 10 for r in four.flag_a])
    # exactly the runs of that sweep, not "the latest N"
    assert len(ls_runs()) == 5


@pytest.mark.parametrize("sample", [0, 1.1])
def test_bad_sample_rejected_before_anything_runs(ray_cluster, workdir, trivial, sample):
    with pytest.raises(GridError, match="sample must be"):
        tuning_run("train.py", {"a": [1, 2]}, sample=sample, confirm=False, quiet=True)
    assert not (workdir / "runs").exists()


def test_dataframe_grid_runs_its_rows(ray_cluster, workdir, trivial):
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "x"]})
    result = tuning_run("train.py", frame, confirm=False, quiet=True)
    assert sorted(zip(result.flag_a, result.flag_b)) == [(1, "x"), (2, "y"), (3, "x")]


def test_seed_gives_the_same_combinations(ray_cluster, workdir, trivial):
    grid = {"a": list(range(10))}
    first = tuning_run("train.py", grid, sample=0.3, seed=7, confirm=False, quiet=True)
    second = tuning_run("train.py", grid, sample=0.3, seed=7, confirm=False, quiet=True)
    assert sorted(first.flag_a) == sorted(second.flag_a)
    header = Journal.open("runs", first.attrs["sweep"]).read().header
    assert header["seed"] == 7 and header["sample"] == 0.3 and len(header["indices"]) == 3


def test_a_failing_trial_is_a_result_not_an_exception(ray_cluster, workdir, trivial):
    result = tuning_run("train.py", {"a": [1], "b": ["x", "boom", "y"]}, confirm=False, quiet=True)
    by_b = result.set_index("flag_b")
    assert by_b.loc["boom", "status"] == "failed"
    assert by_b.loc["boom", "error_message"] == "ValueError: bad b"
    assert list(by_b.loc[["x", "y"], "status"]) == ["finished", "finished"]
    journal = Journal.open("runs", result.attrs["sweep"]).read()
    outcomes = [r for r in journal.records if r["type"] == "outcome"]
    assert sorted(r["status"] for r in outcomes) == ["failed", "finished", "finished"]
    summary = pd.read_csv(Path("runs/sweeps") / result.attrs["sweep"] / "summary.csv")
    assert len(summary) == 3


def test_retries_make_new_numbered_attempts(ray_cluster, workdir, write_script, tmp_path_factory):
    state = tmp_path_factory.mktemp("state")  # outside the project: each attempt's writes in it are its own
    write_script("flaky.py", f"""
        import os, sys
        marker = {str(state / "tried")!r}
        if not os.path.exists(marker):
            open(marker, "w").close()
            sys.exit(3)
        print("acc: 1")
    """)
    result = tuning_run("flaky.py", {"x": [1]}, retries=1, confirm=False, quiet=True)
    assert list(result["attempt"]) == [1, 2]
    assert list(result["status"]) == ["failed", "finished"]


def test_max_failures_stops_launching(ray_cluster, workdir, write_script):
    write_script("fail.py", "import sys; sys.exit(1)\n")
    result = tuning_run("fail.py", {"x": list(range(12))}, max_failures=1, max_concurrent=1, confirm=False,
                        quiet=True)
    assert 1 <= len(result) < 12
    assert set(result["status"]) == {"failed"}


def test_two_sweeps_into_one_runs_directory_never_collide(ray_cluster, workdir, trivial):
    import threading

    results = []
    threads = [threading.Thread(target=lambda: results.append(
        tuning_run("train.py", {"a": list(range(6))}, confirm=False, quiet=True))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dirs = [d for r in results for d in r.run_dir]
    assert len(dirs) == 12 and len(set(dirs)) == 12


def _intervals(frame: pd.DataFrame) -> list[tuple[float, float, list[str]]]:
    rows = []
    for run_dir in frame.run_dir:
        run = json.loads((Path(run_dir) / "tuner.d" / "run.json").read_text())
        seen = (Path(run_dir) / "cuda.txt").read_text()
        assert seen == ",".join(run["resources"]["gpu_ids"])  # the script saw what Ray assigned
        rows.append((run["start"], run["end"], run["resources"]["gpu_ids"]))
    return rows


GPU_SCRIPT = """
import os, time
from tuner import run_dir
open(os.path.join(run_dir(), "cuda.txt"), "w").write(os.environ.get("CUDA_VISIBLE_DEVICES", "?"))
time.sleep(1.0)
"""


def _max_overlap(rows):
    events = sorted([(s, 1) for s, _, _ in rows] + [(e, -1) for _, e, _ in rows])
    level = peak = 0
    for _, delta in events:
        level += delta
        peak = max(peak, level)
    return peak


def test_one_gpu_per_trial_never_shares_an_id(ray_cluster, workdir, write_script):
    write_script("gpu.py", GPU_SCRIPT)
    result = tuning_run("gpu.py", {"x": list(range(8))}, gpus_per_trial=1, cpus_per_trial=0.25, confirm=False,
                        quiet=True)
    assert set(result.status) == {"finished"}
    rows = _intervals(result)
    assert all(len(ids) == 1 for _, _, ids in rows)
    assert _max_overlap(rows) <= 4
    for i, (s1, e1, ids1) in enumerate(rows):
        for s2, e2, ids2 in rows[i + 1:]:
            if s1 < e2 and s2 < e1:
                assert ids1 != ids2, "two concurrent trials got the same GPU"


BARRIER_SCRIPT = """
import os, time
from tuner import run_dir
open(os.path.join(run_dir(), "cuda.txt"), "w").write(os.environ.get("CUDA_VISIBLE_DEVICES", "?"))
open(os.path.join({barrier!r}, os.path.basename(run_dir())), "w").close()
deadline = time.time() + 60
while len(os.listdir({barrier!r})) < 5 and time.time() < deadline:  # wait until five trials run at once
    time.sleep(0.05)
"""


def test_half_a_gpu_per_trial_packs_two_per_id(ray_cluster, workdir, write_script):
    barrier = workdir / "started"
    barrier.mkdir()
    # no trial ends before five have started: five at once on four GPUs only if two share an id (not timing-bound)
    write_script("gpu.py", BARRIER_SCRIPT.format(barrier=str(barrier)))
    result = tuning_run("gpu.py", {"x": list(range(8))}, gpus_per_trial=0.5, cpus_per_trial=0.25, confirm=False,
                        quiet=True)
    assert set(result.status) == {"finished"}
    rows = _intervals(result)
    assert _max_overlap(rows) > 4  # more trials than GPUs ran at once
    for s, _e, ids in rows:  # at the moment each trial starts (when the most run at once), at most two on its id
        sharing = [o for o in rows if o[0] <= s < o[1] and o[2] == ids]
        assert len(sharing) <= 2
    env = json.loads((Path(result.run_dir[0]) / "tuner.d" / "run.json").read_text())
    assert env["resources"]["gpus"] == 0.5


def test_cpu_only_trials_see_no_gpu_and_capped_threads(ray_cluster, workdir, write_script):
    write_script("env.py", """
        import os
        from tuner import run_dir
        open(os.path.join(run_dir(), "env.txt"), "w").write(
            repr((os.environ.get("CUDA_VISIBLE_DEVICES"), os.environ.get("OMP_NUM_THREADS"))))
    """)
    result = tuning_run("env.py", {"x": [1]}, gpus_per_trial=0, confirm=False, quiet=True)
    assert (Path(result.run_dir[0]) / "env.txt").read_text() == repr(("", "1"))


def test_gpus_per_trial_larger_than_any_node_is_rejected_and_writes_nothing(ray_cluster, workdir, trivial):
    with pytest.raises(TunerError, match="more than any node of the cluster has"):
        tuning_run("train.py", {"a": [1]}, gpus_per_trial=8, confirm=False, quiet=True)
    assert not (workdir / "runs" / "sweeps").exists() or not any((workdir / "runs" / "sweeps").iterdir())


def test_max_concurrent_limits_trials_running_at_once(ray_cluster, workdir, write_script):
    write_script("nap.py", "import time\ntime.sleep(0.4)\n")
    result = tuning_run("nap.py", {"x": list(range(4))}, max_concurrent=1, cpus_per_trial=0.25, confirm=False,
                        quiet=True)
    rows = [(json.loads((Path(d) / "tuner.d" / "run.json").read_text())["start"],
             json.loads((Path(d) / "tuner.d" / "run.json").read_text())["end"], []) for d in result.run_dir]
    assert len(rows) == 4 and _max_overlap(rows) == 1
