"""A run's view of the project as users meet it: `tune train.py --flag k=9`, training_run, sweeps (a Hydra app too).
The project is the same afterwards, each run folder holds what that run made, and copies, listings and exports of
a run see exactly that (workers.view; tests/projects.py builds a project as it is after a hand run)."""

from __future__ import annotations

import json
import os
import stat
import textwrap
from pathlib import Path

import pytest

from tests.conftest import run_tune
from tests.projects import HAND_RUN, TRIAL, expected_files, files_of, make_project, snapshot
from tuner import copy_run_files, get_run, training_run
from tuner.store.layout import RunPaths, iter_artifacts


@pytest.fixture
def project(workdir: Path) -> Path:
    project = make_project(workdir)
    (project / "train.py").write_text(TRIAL)
    os.chdir(project)
    return project


def run_folders(project: Path) -> list[Path]:
    return sorted(p for p in (project / "runs").iterdir() if (p / "tuner.d").is_dir())


def flags_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "tuner.d" / "flags.json").read_text())


def test_a_single_cli_run_writes_only_into_its_run_folder(project: Path) -> None:
    before = snapshot(project)
    done = run_tune("train.py", "--flag", "k=9", cwd=project, env={"PYTHONDONTWRITEBYTECODE": ""})
    assert done.returncode == 0, done.stderr
    assert snapshot(project) == before  # not even the bytecode of its package, nor what finding its flags ran
    (run_dir,) = run_folders(project)
    assert files_of(run_dir) == expected_files(9, absolute=False)
    assert "project view" not in done.stdout + done.stderr  # the copy-on-write view is nothing to mention


def test_created_and_modified_files_are_copied_to_the_run_dir(project: Path) -> None:
    """tfruns' test of the same name (test-run-data.R): write_run_data.R writes extra.dat and subdir/extra.dat, and
    both must be in the run directory. Here subdir/extra.dat is there from an earlier run (modified, not created),
    and the project keeps its own."""
    (project / "subdir").mkdir()
    (project / "subdir" / "extra.dat").write_text("from an earlier run\n")
    (project / "write_run_data.py").write_text(textwrap.dedent("""
        from tuner import flags, flag_integer, flag_numeric, write_run_metadata
        FLAGS = flags(flag_numeric("learning_rate", 0.01), flag_integer("max_steps", 5000))
        write_run_metadata("properties", {"foo": "bar", "index": 42})
        open("extra.dat", "w").write("1\\n2\\n3\\n")
        open("subdir/extra.dat", "w").write("1\\n2\\n3\\n")
    """))
    run_dir = Path(training_run("write_run_data.py", echo=False).iloc[0]["run_dir"])
    assert (run_dir / "extra.dat").read_text() == "1\n2\n3\n"
    assert (run_dir / "subdir" / "extra.dat").read_text() == "1\n2\n3\n"
    assert not (project / "extra.dat").exists()
    assert (project / "subdir" / "extra.dat").read_text() == "from an earlier run\n"
    # the run's files, as a listing, a copy and the run view see them: what it made, nothing of the project
    assert [a.name for a in get_run(str(run_dir)).logged_artifacts] == ["extra.dat", "subdir/extra.dat"]
    (copied,) = copy_run_files(str(run_dir), to="copies", rename="run-artifacts")
    assert sorted(str(p.relative_to(copied)) for p in Path(copied).rglob("*") if p.is_file()) == \
        ["extra.dat", "subdir/extra.dat"]


def test_a_whiteout_or_a_link_out_of_a_killed_run_is_no_artifact(tmp_path: Path) -> None:
    """What a runner killed with its worker may leave in a run folder (a mirrored project's links, overlay's
    whiteouts) is never listed, copied or exported as the run's: only its own files, and links inside it."""
    run = tmp_path / "run"
    (run / "tuner.d").mkdir(parents=True)
    (run / "ckpt").mkdir()
    (run / "ckpt" / "epoch-3.ckpt").write_text("weights")
    os.symlink("epoch-3.ckpt", run / "ckpt" / "last.ckpt")
    outside = tmp_path / "project"
    (outside / "data").mkdir(parents=True)
    (outside / "data" / "big.bin").write_text("not the run's")
    os.symlink(outside / "data" / "big.bin", run / "big.bin")
    os.symlink(outside / "data", run / "data")
    os.mkfifo(run / "fifo")
    if os.geteuid() == 0:
        os.mknod(run / "deleted.txt", stat.S_IFCHR, 0)  # a whiteout
    assert list(iter_artifacts(RunPaths(str(run)))) == [("ckpt/epoch-3.ckpt", 7), ("ckpt/last.ckpt", 7)]
    from workers.shipping import pack_run, unpack_run

    unpack_run(pack_run(str(run)), str(tmp_path / "unpacked"))  # a remote run coming home: whole, without them
    assert sorted(str(p.relative_to(tmp_path / "unpacked")) for p in (tmp_path / "unpacked").rglob("*")) == \
        ["ckpt", "ckpt/epoch-3.ckpt", "ckpt/last.ckpt", "tuner.d"]


@pytest.mark.ray
@pytest.mark.slow
def test_parallel_trials_of_a_sweep_each_keep_their_own_files(ray_cluster: str, project: Path) -> None:
    before = snapshot(project)
    done = run_tune("train.py", "--flag", "k=0,1,2,3", "--flag", f"absolute={project}", "--address", ray_cluster,
                    "--no-ship", "-y", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert snapshot(project) == before
    runs = run_folders(project)
    assert len(runs) == 4
    for run_dir in runs:
        k = flags_of(run_dir)["k"]
        assert files_of(run_dir) == expected_files(k, absolute=True)
    assert "project view" not in done.stdout + done.stderr


@pytest.mark.ray
@pytest.mark.slow
def test_a_sweep_in_the_mirror_says_so_once_and_keeps_each_runs_files(ray_cluster: str, project: Path) -> None:
    before = snapshot(project)
    done = run_tune("train.py", "--flag", "k=0,1,2", "--address", ray_cluster, "--no-ship", "-y", cwd=project,
                    env={"TUNER_PROJECT_VIEW": "mirror"})
    assert done.returncode == 0, done.stdout + done.stderr
    said = (done.stdout + done.stderr).splitlines()
    notices = [line for line in said if line.startswith("project view: mirror")]
    assert len(notices) == 1 and "the project_view setting is mirror" in notices[0]
    assert said.index(notices[0]) < min(i for i, line in enumerate(said) if "finished" in line)
    assert snapshot(project) == before
    for run_dir in run_folders(project):
        assert files_of(run_dir) == expected_files(flags_of(run_dir)["k"], absolute=False)
        assert json.loads((run_dir / "tuner.d" / "run.json").read_text())["view"]["mode"] == "mirror"


HYDRA_APP = """
import logging

import hydra
from omegaconf import DictConfig

log = logging.getLogger(__name__)


@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    log.info(f"training with lr={cfg.lr} k={cfg.k}")
    print(f"loss: {cfg.lr * (cfg.k + 1)}")


if __name__ == "__main__":
    main()
"""


@pytest.mark.ray
@pytest.mark.slow
def test_a_hydra_app_in_a_sweep_keeps_its_outputs_in_each_run_and_none_in_the_project(
        ray_cluster: str, project: Path) -> None:
    pytest.importorskip("hydra", reason="needs hydra-core (the test extra)")
    (project / "train.py").write_text(HYDRA_APP)
    (project / "conf").mkdir()
    (project / "conf" / "config.yaml").write_text("lr: 0.1\nk: 0\n")
    (project / "grid.yml").write_text("command: ${interpreter} ${program} ${args_no_hyphens}\nk: [0, 1, 2, 3]\n")
    before = snapshot(project)
    done = run_tune("train.py", "--flags", "grid.yml", "--address", ray_cluster, "--no-ship", "-y", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert snapshot(project) == before  # outputs/ holds the hand run's folder only, as it was
    runs = run_folders(project)
    assert len(runs) == 4
    for run_dir in runs:
        k = flags_of(run_dir)["k"]
        files = files_of(run_dir)
        (overrides,) = [path for path in files if path.endswith(".hydra/overrides.yaml")]
        job = overrides[:-len(".hydra/overrides.yaml")]
        assert files[overrides] == f"- k={k}\n"
        assert f"training with lr=0.1 k={k}" in files[job + "train.log"]
        assert sorted(files) == sorted(job + name for name in (".hydra/config.yaml", ".hydra/hydra.yaml",
                                                               ".hydra/overrides.yaml", "train.log"))
        assert not job.startswith(HAND_RUN)
