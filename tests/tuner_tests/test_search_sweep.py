"""Random search over a space, end to end on a real local Ray cluster: API, flags file and CLI."""

from __future__ import annotations

import pytest

from tuner import tuning_run
from tuner.cli.main import main
from tuner.errors import GridError

pytestmark = pytest.mark.ray

SCRIPT = """
import argparse
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--units", type=int, default=8)
p.add_argument("--opt", default="adam")
args = p.parse_args()
print(f"loss: {abs(args.lr - 0.01) + args.units / 1000}")
"""


@pytest.fixture
def script(write_script):
    return write_script("train.py", SCRIPT)


def test_a_space_runs_num_samples_draws_per_grid_point_reproducibly(ray_cluster, workdir, script):
    space = {"lr": {"loguniform": [1e-4, 1e-1]}, "units": {"randint": [8, 12]}, "opt": ["adam", "sgd"]}
    first = tuning_run("train.py", space, num_samples=3, seed=5, confirm=False, quiet=True)
    assert len(first) == 6 and set(first.status) == {"finished"}
    assert sorted(first.flag_opt) == ["adam"] * 3 + ["sgd"] * 3
    assert first.flag_lr.between(1e-4, 1e-1).all() and set(first.flag_units) <= {8, 9, 10, 11}
    again = tuning_run("train.py", space, num_samples=3, seed=5, confirm=False, quiet=True)
    key = ["trial", "flag_lr", "flag_units", "flag_opt"]
    assert again.sort_values("trial")[key].values.tolist() == first.sort_values("trial")[key].values.tolist()


def test_sample_is_refused_for_a_space_with_a_pointer_to_num_samples(ray_cluster, workdir, script):
    with pytest.raises(GridError, match="--num-samples"):
        tuning_run("train.py", {"lr": {"uniform": [0, 1]}}, sample=0.5, confirm=False, quiet=True)


def test_cli_flags_file_space_and_a_bad_bound_is_exit_2(ray_cluster, workdir, script, capsys):
    (workdir / "space.yml").write_text("lr: {loguniform: [1e-4, 1e-1]}\nopt: [adam, sgd]\n")
    assert main(["train.py", "--flags", "space.yml", "--num-samples", "2", "--seed", "3", "--yes", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "4 trials: 2 grid points x 2 draws (sampler random, seed=3)" in out
    (workdir / "bad.yml").write_text("lr: {loguniform: [0, 1e-1]}\n")
    assert main(["train.py", "--flags", "bad.yml", "--yes", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "bad.yml: flag 'lr': loguniform needs lo > 0" in err
