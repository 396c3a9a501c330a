"""`--metric val_accc` (a typo) in a sweep: refused before anything runs when earlier runs of the script
recorded metrics, a warning at the end otherwise."""

from __future__ import annotations

import pytest

from tests.conftest import run_tune
from tuner import training_run, tuning_run
from tuner.errors import QueryError

SCRIPT = """
import argparse
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float)
a = p.parse_args()
print(f"val_acc: {a.lr}")
"""


def _run_dirs(workdir):
    return sorted(p.name for p in (workdir / "runs").iterdir() if p.name != "sweeps" and not p.name.startswith("."))


def test_typo_with_earlier_runs_is_exit_2_naming_the_closest_and_launches_nothing(workdir, write_script):
    write_script("train.py", SCRIPT)
    training_run("train.py", flags={"lr": 0.1}, echo=False)
    before = _run_dirs(workdir)
    result = run_tune("train.py", "--flag", "lr=0.1,0.2", "--metric", "val_accc", "--yes", cwd=workdir)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "val_accc" in result.stderr and "did you mean val_acc" in result.stderr
    assert "Traceback" not in result.stderr
    assert _run_dirs(workdir) == before and not (workdir / "runs" / "sweeps").exists()
    with pytest.raises(QueryError, match="did you mean val_acc"):
        tuning_run("train.py", flags={"lr": [0.1]}, metric="val_accc", confirm=False, quiet=True)
    assert _run_dirs(workdir) == before


def test_runs_of_another_script_do_not_decide(workdir, write_script):
    from tuner.settings import load_settings
    from tuner.sweep.prepare import check_metric_known

    write_script("train.py", SCRIPT)
    write_script("other.py", SCRIPT.replace("val_acc", "loss"))
    training_run("other.py", flags={"lr": 0.1}, echo=False)
    check_metric_known("val_acc", str(workdir / "train.py"), load_settings())  # no runs of train.py: no verdict
    with pytest.raises(QueryError, match="did you mean loss"):
        check_metric_known("losss", str(workdir / "other.py"), load_settings())


@pytest.mark.ray
def test_typo_without_earlier_runs_warns_at_the_end(ray_cluster, workdir, write_script):
    write_script("train.py", SCRIPT)
    result = run_tune("train.py", "--flag", "lr=0.1,0.2", "--metric", "val_accc", "--yes", "-q", "--address",
                      ray_cluster, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "warning" in result.stderr and "did you mean val_acc" in result.stderr


def test_rm_and_purge_without_a_terminal_delete_only_with_yes(workdir, write_script):
    write_script("train.py", SCRIPT)
    training_run("train.py", flags={"lr": 0.1}, echo=False)
    (name,) = _run_dirs(workdir)
    refused = run_tune("rm", name, cwd=workdir, stdin="")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert _run_dirs(workdir) == [name]
    assert run_tune("purge", cwd=workdir, stdin="").returncode == 0  # an empty archive: nothing to delete
    deleted = run_tune("rm", name, "--yes", cwd=workdir, stdin="")
    assert deleted.returncode == 0, deleted.stderr
    assert _run_dirs(workdir) == []
