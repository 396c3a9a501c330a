"""`tune SCRIPT --flags ...` sweeps, `tune sweeps` and `tune resume` as a user types them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import run_tune

pytestmark = pytest.mark.ray

SCRIPT = """
import argparse, sys
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float)
p.add_argument("--units", type=int, default=1)
a = p.parse_args()
print(f"epoch 1 val_acc={a.lr * a.units}")
sys.exit(1 if a.lr < 0 else 0)
"""


@pytest.fixture
def script(write_script):
    return write_script("train.py", SCRIPT)


def test_cli_sweep_over_comma_values_prints_plan_summary_and_best(ray_cluster, workdir, script):
    result = run_tune("train.py", "--flag", "lr=0.1,0.2", "--flag", "units=1,10", "--metric", "val_acc",
                      "--address", ray_cluster, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "4 combinations of flags" in result.stdout
    assert "best val_acc: 2" in result.stdout
    assert "4 finished, 0 failed of 4" in result.stdout
    sweep_id = result.stdout.split("sweep ")[-1].split(":")[0]
    assert (workdir / "runs" / "sweeps" / sweep_id / "summary.csv").exists()


def test_cli_sweep_with_a_failure_exits_1_and_says_how_to_rerun(ray_cluster, workdir, script):
    grid = workdir / "grid.yml"
    grid.write_text("lr: [0.1, -1]\n")
    result = run_tune("train.py", "--flags", "grid.yml", "--address", ray_cluster, "-q",
                      cwd=workdir)
    assert result.returncode == 1
    assert "1 finished, 1 failed of 2" in result.stdout
    assert "tune resume" in result.stderr


def test_sample_and_seed_are_printed(ray_cluster, workdir, script):
    result = run_tune("train.py", "--flag", "lr=1,2,3,4", "--sample", "0.5", "--seed", "11", "-q",
                      "--address", ray_cluster, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "sampled 2 (sample=0.5, seed=11)" in result.stdout


def test_sweeps_lists_counts_and_resume_reruns_only_failed(ray_cluster, workdir, script):
    (workdir / "grid.yml").write_text("lr: [0.1, -1, 0.3]\n")
    first = run_tune("train.py", "--flags", "grid.yml", "-q", "--address", ray_cluster, cwd=workdir)
    assert first.returncode == 1
    sweep_id = first.stdout.split("sweep ")[-1].split(":")[0]
    listing = run_tune("sweeps", cwd=workdir)
    line = next(l for l in listing.stdout.splitlines() if sweep_id in l)
    numbers = line.split()[-9:]  # the plain table of `tune ls` (piped)
    # planned finished stopped paused failed interrupted running pending skipped
    assert numbers == ["3", "2", "0", "0", "1", "0", "0", "0", "0"]
    resumed = run_tune("resume", sweep_id, "-q", "--address", ray_cluster, cwd=workdir)
    assert "3 planned, 1 to run" in resumed.stdout
    runs = [json.loads(p.read_text()) for p in (workdir / "runs").glob("*/tuner.d/run.json")]
    assert sorted(r["trial"] for r in runs) == [0, 1, 1, 2]
    nothing = run_tune("resume", sweep_id, "--no-retry-failed", "--address", ray_cluster, cwd=workdir)
    assert "nothing to resume" in nothing.stdout or "0 to run" in nothing.stdout


def test_unknown_sweep_id_for_resume_is_exit_2(workdir):
    result = run_tune("resume", "20990101-000000-abcd", cwd=workdir)
    assert result.returncode == 2
    assert result.stderr.startswith("tune: error: unknown sweep '20990101-000000-abcd'")


def test_commands_that_run_nothing_do_not_import_ray(workdir):
    code = ("import sys; from tuner.cli import main; main(sys.argv[1:]); "
            "print('RAY' if 'ray' in sys.modules else 'NO-RAY', file=sys.stderr)")
    for args in (["--help"], ["ls"], ["sweeps"], ["info"]):
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=workdir)
        assert out.stderr.strip().endswith("NO-RAY"), (args, out.stderr)
