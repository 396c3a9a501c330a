"""Foreign sweep files run as real sweeps: a W&B `bayes` + hyperband file over an unmodified printing script,
W&B's metric.target, and Hydra's sweep syntax on the command line."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import run_tune

pytestmark = [pytest.mark.ray, pytest.mark.slow]

# an unmodified script as W&B users have it: argparse options, the metric printed each epoch
SCRIPT = """
import argparse, time
p = argparse.ArgumentParser()
p.add_argument("--x", type=float, default=0.0)
p.add_argument("--epochs", type=int, default=10)
args = p.parse_args()
for epoch in range(1, args.epochs + 1):
    print(f"epoch {epoch} loss={1 / epoch + args.x:.4f}", flush=True)
    time.sleep(0.15)
"""

BAYES_HYPERBAND = """
program: train.py
method: bayes
run_cap: 8
entity: my-team
project: demo
metric:
  name: loss
  goal: minimize
early_terminate:
  type: hyperband
  min_iter: 2
  eta: 2
parameters:
  x:
    distribution: uniform
    min: 0.0
    max: 10.0
  epochs:
    value: 10
"""


def _frame(workdir, stdout):
    import pandas as pd

    sweep_id = stdout.split("sweep ")[-1].split(":")[0]
    return sweep_id, pd.read_csv(workdir / "runs" / "sweeps" / sweep_id / "summary.csv")


def test_a_w_and_b_bayes_file_with_hyperband_runs_and_stops_trials(ray_cluster, workdir, write_script):
    write_script("train.py", SCRIPT)
    (workdir / "sweep.yaml").write_text(BAYES_HYPERBAND)
    result = run_tune("sweep.yaml", "-y", "--seed", "3", "--max-concurrent", "2", "--address", ray_cluster,
                      cwd=workdir, timeout=240)
    assert result.returncode == 0, result.stderr
    assert "sampler tpe" in result.stdout and "stopping rule wandb-hyperband" in result.stdout
    assert "not used by tune: entity, project" in result.stderr and result.stderr.count("entity") == 1
    sweep_id, frame = _frame(workdir, result.stdout)
    assert len(frame) == 8 and set(frame.status) <= {"finished", "stopped"}
    stopped = frame[frame.status == "stopped"]
    assert len(stopped) >= 1
    for run_dir in stopped.run_dir:
        stop = json.load(open(os.path.join(run_dir, "tuner.d", "stop.json")))
        assert stop["rule"] == "wandb-hyperband" and "is worse than" in stop["reason"]
        assert "epoch 10 " not in open(os.path.join(run_dir, "tuner.d", "output.log")).read()
    header = json.loads((workdir / "runs" / "sweeps" / sweep_id / "journal.jsonl").read_text().splitlines()[0])
    assert header["search"] == "tpe" and header["stop"]["rule"] == "wandb-hyperband" and header["mode"] == "min"
    argv = json.load(open(os.path.join(frame.run_dir[0], "tuner.d", "run.json")))["argv"]
    assert argv[0] == "/usr/bin/env" and any(a.startswith("--x=") for a in argv)


def test_metric_target_ends_the_sweep_once_reached(ray_cluster, workdir, write_script):
    write_script("train.py", SCRIPT.replace("time.sleep(0.15)", "pass"))
    (workdir / "sweep.yaml").write_text("program: train.py\nmethod: grid\nmetric: {name: loss, goal: minimize, "
                                        "target: 0.5}\nparameters:\n  x: {values: [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]}\n"
                                        "  epochs: {value: 2}\n")
    result = run_tune("sweep.yaml", "-y", "--max-concurrent", "1", "--address", ray_cluster, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "reached the target 0.5" in result.stdout + result.stderr
    _, frame = _frame(workdir, result.stdout)
    assert len(frame) < 6 and 0.0 in set(frame.flag_x)


def test_hydra_sweep_syntax_on_the_command_line(ray_cluster, workdir, write_script):
    write_script("train.py", SCRIPT.replace("time.sleep(0.15)", "pass"))
    result = run_tune("train.py", "--flag", "x=range(0,3)", "--flag", "epochs=choice(1, 2)", "--metric", "loss",
                      "-y", "--address", ray_cluster, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "6 combinations of flags" in result.stdout
    result = run_tune("train.py", "--flag", "x=tag(log, interval(0.01, 1))", "-y", "--address", ray_cluster,
                      cwd=workdir)
    assert result.returncode == 2 and "add --num-samples N" in result.stderr
    result = run_tune("train.py", "--flag", "x=tag(log, interval(0.01, 1))", "--num-samples", "3", "-y",
                      "--address", ray_cluster, cwd=workdir)
    assert result.returncode == 0, result.stderr
    _, frame = _frame(workdir, result.stdout)
    assert len(frame) == 3 and all(0.01 <= x <= 1 for x in frame.flag_x)


# two objectives, as a W&B multi-objective sweep logs them: loss falls with x, accuracy falls with it too
TWO_METRICS = """
import argparse
p = argparse.ArgumentParser()
p.add_argument("--x", type=float, default=0.5)
a = p.parse_args()
print(f"loss: {1 - a.x:.4f}")
print(f"acc: {1 - a.x * a.x:.4f}")
"""


def test_a_w_and_b_multi_objective_file_runs_as_a_multi_objective_search(ray_cluster, workdir, write_script):
    write_script("train.py", TWO_METRICS)
    (workdir / "sweep.yaml").write_text("program: train.py\nmethod: custom\nrun_cap: 4\nmetrics:\n"
                                        "  - {name: loss, goal: minimize}\n  - {name: acc, goal: maximize}\n"
                                        "parameters:\n  x: {min: 0.0, max: 1.0}\n")
    result = run_tune("sweep.yaml", "-y", "--seed", "2", "--address", ray_cluster, cwd=workdir, timeout=240)
    assert result.returncode == 0, result.stderr
    assert "sampler tpe" in result.stdout and "front:" in result.stdout and "(loss (min), acc (max))" in result.stdout
    sweep_id, frame = _frame(workdir, result.stdout)
    assert len(frame) == 4 and set(frame.status) == {"finished"}
    header = json.loads((workdir / "runs" / "sweeps" / sweep_id / "journal.jsonl").read_text().splitlines()[0])
    assert (header["metric"], header["mode"], header["search"]) == (["loss", "acc"], ["min", "max"], "tpe")


HYDRA_APP = """
import hydra
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    print(f"driver {cfg.db.driver}")
    print(f"loss: {cfg.lr * len(cfg.db.driver)}")


if __name__ == "__main__":
    main()
"""


def test_a_hydra_glob_sweeps_the_apps_config_group_options(ray_cluster, workdir, write_script):
    pytest.importorskip("hydra", reason="needs hydra-core (the test extra)")
    write_script("train.py", HYDRA_APP)
    (workdir / "conf" / "db").mkdir(parents=True)
    (workdir / "conf" / "config.yaml").write_text("defaults:\n  - db: mysql\n  - _self_\nlr: 0.1\n")
    for option in ("mysql", "postgresql", "sqlite"):
        (workdir / "conf" / "db" / f"{option}.yaml").write_text(f"driver: {option}\n")
    (workdir / "tuner.yml").write_text("command: ${interpreter} ${program} ${args_no_hyphens}\n")
    result = run_tune("train.py", "--flag", "db=glob(*, exclude=sqlite)", "--flag", "lr=0.1,0.2", "--metric", "loss",
                      "-y", "--address", ray_cluster, cwd=workdir, timeout=240)
    assert result.returncode == 0, result.stderr
    assert "4 combinations of flags" in result.stdout
    _, frame = _frame(workdir, result.stdout)
    assert sorted(zip(frame.flag_db, frame.flag_lr)) == [("mysql", 0.1), ("mysql", 0.2), ("postgresql", 0.1),
                                                         ("postgresql", 0.2)]
    for run_dir, db in zip(frame.run_dir, frame.flag_db):  # the app really ran with that option of its group
        assert f"driver {db}" in open(os.path.join(run_dir, "tuner.d", "output.log")).read()
