"""`tune submit / logs / pull / resume` against a cluster started as users start it (`ray start --head` with its
dashboard, the job API, in a clean shell), and `tune` in another clean shell: the sweep's driver runs on the
cluster, its runs land in the head node's home and come home with `tune pull`."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.workers_tests.clusters import Cluster, free_port, run_tune_clean

pytestmark = [pytest.mark.slow, pytest.mark.ray]

SCRIPT = """import argparse, pathlib
p = argparse.ArgumentParser(); p.add_argument("--x", type=int); args = p.parse_args()
pathlib.Path("model.txt").write_text(f"weights for {args.x}")  # an artifact, written into the working directory
if args.x == 3 and not pathlib.Path(__file__).with_name("fixed").exists():
    raise SystemExit("x=3 diverged")
print(f"loss: {args.x / 10}")
"""


@pytest.fixture(scope="module")
def job_cluster(tmp_path_factory):
    port = free_port()
    # its own temp dir: a job's driver is given "the latest cluster started on this machine" by Ray's job
    # supervisor, which is another one when tests start clusters beside this one (a user has one per machine)
    temp = tempfile.mkdtemp(prefix="rt-", dir="/tmp")
    cluster = Cluster(tmp_path_factory.mktemp("head-home"),
                      extra_args=("--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={port}",
                                  f"--temp-dir={temp}"))
    yield cluster, f"http://127.0.0.1:{port}"
    cluster.stop()
    shutil.rmtree(temp, ignore_errors=True)


def _statuses(runs: Path) -> list[str]:
    return sorted(json.loads(p.read_text())["status"] for p in runs.glob("*/tuner.d/run.json"))


def test_a_submitted_sweep_runs_on_the_cluster_and_comes_home(job_cluster, tmp_path):
    cluster, api = job_cluster
    project, laptop = tmp_path / "project", tmp_path / "laptop-home"
    project.mkdir()
    laptop.mkdir()
    (project / "train.py").write_text(SCRIPT)

    def tune(*args: str, timeout: float = 180):
        return run_tune_clean(*args, cwd=project, home=laptop, timeout=timeout)

    done = tune("submit", "--address", api, "train.py", "--flag", "x=1,2,3", "--tag", "team=vision")
    assert done.returncode == 0, done.stderr
    ident = re.search(r"submitted (tune-\S+) to", done.stdout).group(1)
    remote = cluster.home / "tuner-runs" / ident  # where the driver on the head node wrote them

    followed = tune("logs", ident, "--follow")
    assert followed.returncode == 1, followed.stdout + followed.stderr  # a trial failed, so the sweep did
    assert "2 finished, 1 failed of 3 trials" in followed.stdout
    assert f"job {ident} failed" in followed.stdout
    assert _statuses(remote) == ["failed", "finished", "finished"]
    assert not list((project / "runs").glob("20*"))  # nothing here until pulled

    pulled = tune("pull", ident)
    assert pulled.returncode == 0, pulled.stderr
    assert "pulled 3 runs and 1 sweep journal" in pulled.stdout
    runs = project / "runs"
    assert _statuses(runs) == ["failed", "finished", "finished"]
    for run in (p for p in runs.iterdir() if p.name.startswith("20")):
        assert (run / "model.txt").read_text().startswith("weights for")  # the artifact came with it
        assert (run / "tuner.d" / "output.log").exists()
    listing = tune("ls", "--format", "json")
    rows = json.loads(listing.stdout)
    assert sorted(r["metric_loss"] for r in rows if r.get("metric_loss") is not None) == [0.1, 0.2]
    assert {r["tag_team"] for r in rows} == {"vision"}
    sweeps = tune("sweeps")
    assert ident in sweeps.stdout and re.search(r"train\.py .*3 .*2 .*1 ", sweeps.stdout), sweeps.stdout

    # between the pulls: a tag and a note added here, and on the cluster what a killed trial leaves in its run
    # folder (a link to its project file) next to a link inside the run
    pulled_runs = sorted(p for p in runs.iterdir() if p.name.startswith("20"))
    here = pulled_runs[0]
    assert tune("tag", here.name, "stage=prod").returncode == 0
    (here / "notes.txt").write_text("checked by hand")
    there = remote / here.name
    (there / "train.py").symlink_to(project / "train.py")
    (there / "latest.txt").symlink_to("model.txt")

    (project / "fixed").write_text("")  # the fix, uploaded with the project again by resume
    resumed = tune("resume", ident)
    assert resumed.returncode == 0, resumed.stderr
    assert tune("logs", ident, "--follow").returncode == 0
    again = tune("pull", ident)
    assert again.returncode == 0, again.stderr  # was: the whole pull failed on the link (nothing came home)
    assert _statuses(runs) == ["failed", "finished", "finished", "finished"]  # the failed trial ran again
    assert "left out 1 entry it cannot carry" in again.stdout and f"{here.name}/train.py (an absolute link" \
        in again.stdout, again.stdout
    assert "merged with the local copy" in again.stdout
    assert not os.path.lexists(here / "train.py") and (here / "latest.txt").read_text().startswith("weights for")
    assert (here / "notes.txt").read_text() == "checked by hand"  # was: replaced wholesale, local files lost
    tags = json.loads((here / "tuner.d" / "tags.json").read_text())
    assert tags == {"team": "vision", "stage": "prod"}, tags


def test_bad_submissions_are_one_line_and_record_nothing(job_cluster, tmp_path):
    _cluster, api = job_cluster
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(SCRIPT)
    cases = [
        (["submit", "--address", api, "missing.py"], "script 'missing.py' does not exist"),
        (["submit", "train.py", "--flag", "x=1,2"], "--address is required"),
        (["submit", "--address", api, "train.py", "--address", "auto"], "belong to `tune submit`"),
        (["submit", "--address", f"http://127.0.0.1:{free_port()}", "train.py"], "cannot reach the cluster's job API"),
        (["logs", "tune-nope"], "is not a submission recorded"),
    ]
    for args, message in cases:
        done = run_tune_clean(*args, cwd=project, home=tmp_path, timeout=120)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, (args, done.stderr)
    assert not (project / "runs").exists()
