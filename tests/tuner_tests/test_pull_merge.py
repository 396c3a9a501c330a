"""`tune pull` merges a pulled run with a local one of the same name: newer files win, files only here stay, tags
edited here since the last pull win key by key, mlflow.json keeps both sides' exports; nothing is written
through a local link; what the archive cannot carry is named. The archive is made by the real packer
(`python -m workers.jobs pack`, what the pull job runs on the cluster)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from fabricate_runs import make_run

from tuner.cli.submit import pull_lines
from tuner.store.files import read_run, update_tags
from tuner.store.layout import RunPaths
from tuner.store.pulled import merge_tags, pull_into
from workers.files import atomic_write_json
from workers.jobs import packed_data

REPO = Path(__file__).resolve().parents[2]


def _pack(remote: Path) -> bytes:
    done = subprocess.run([sys.executable, "-m", "workers.jobs", "pack", str(remote)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    return packed_data(done.stdout)


def _later(path: Path, seconds: float = 10) -> None:
    """As if written `seconds` after everything else (a file the cluster changed after the last pull)."""
    stamp = time.time() + seconds
    os.utime(path, (stamp, stamp))


@pytest.fixture
def sides(workdir: Path) -> tuple[Path, Path, str]:
    """The cluster's runs directory with one running run, and the local one."""
    remote = workdir / "cluster-runs"
    run = make_run(str(remote), 1, {"lr": 0.1}, {"loss": [0.9]}, status="running")
    update_tags(run, {"team": "vision", "owner": "ana"})
    return remote, workdir / "runs", os.path.basename(run)


def test_a_second_pull_merges_instead_of_replacing(sides: tuple[Path, Path, str]) -> None:
    remote, local, name = sides
    first = pull_into(_pack(remote), str(local))
    assert (first.runs, first.merged) == (1, 0)
    here, there = local / name, remote / name
    # here: tags changed by hand, an export recorded, a file added
    update_tags(str(here), {"stage": "prod"}, delete=("team",))
    atomic_write_json(RunPaths(str(here)).mlflow_json, {"exports": [
        {"tracking_uri": "http://mlflow.local:5000", "experiment_id": "1", "run_id": "abc", "signature": "s"}]})
    (here / "notes.txt").write_text("looked at it: lr too high")
    # there: the run finished, wrote a model, and its owner tag changed
    run_json = there / "tuner.d" / "run.json"
    record = json.loads(run_json.read_text())
    run_json.write_text(json.dumps({**record, "status": "finished", "end": record["start"] + 60}))
    (there / "model.txt").write_text("weights")
    update_tags(str(there), {"owner": "bob"})
    for path in (run_json, there / "model.txt", there / "tuner.d" / "tags.json"):
        _later(path)

    second = pull_into(_pack(remote), str(local))
    assert (second.runs, second.merged, second.skipped, second.clashes) == (1, 1, [], [])
    data = read_run(str(here))
    assert data.run["status"] == "finished"                                  # newer from the cluster
    assert (here / "model.txt").read_text() == "weights"                      # new from the cluster
    assert (here / "notes.txt").read_text().startswith("looked at it")        # only here: kept
    assert json.loads(Path(RunPaths(str(here)).mlflow_json).read_text())["exports"][0]["run_id"] == "abc"
    assert data.tags == {"owner": "bob", "stage": "prod"}  # team stays removed, stage kept, owner updated there
    said = "\n".join(pull_lines(second, str(remote), str(local)))
    assert "1 run merged with the local copy" in said and "tags set here are kept" in said

    third = pull_into(_pack(remote), str(local))  # nothing changed anywhere: a tie keeps every local file
    assert third.updated == 0 and read_run(str(here)).tags == {"owner": "bob", "stage": "prod"}


def test_tags_merge_key_by_key_with_edits_made_here_winning() -> None:
    base = {"team": "vision", "owner": "ana", "stage": "dev"}
    local = {"team": "vision", "owner": "ana", "stage": "prod", "mine": "1"}      # stage edited, mine added
    remote = {"owner": "bob", "stage": "staging", "theirs": "2"}                   # team removed, owner changed
    assert merge_tags(local, remote, base) == {"owner": "bob", "stage": "prod", "mine": "1", "theirs": "2"}
    assert merge_tags({"owner": "ana"}, {"owner": "ana", "team": "x"}, {"owner": "ana", "team": "x"}) == {
        "owner": "ana"}  # removed here: stays removed
    assert merge_tags({"a": "here"}, {"a": "there", "b": "2"}, None) == {"a": "here", "b": "2"}  # no base: union


def test_mlflow_exports_of_both_sides_are_kept(sides: tuple[Path, Path, str]) -> None:
    remote, local, name = sides
    pull_into(_pack(remote), str(local))
    entry = {"tracking_uri": "http://a:5000", "experiment_id": "1", "run_id": "here"}
    atomic_write_json(RunPaths(str(local / name)).mlflow_json, {"exports": [entry]})
    atomic_write_json(RunPaths(str(remote / name)).mlflow_json, {"exports": [
        {**entry, "run_id": "there"}, {"tracking_uri": "http://b:5000", "experiment_id": "7", "run_id": "b"}]})
    _later(Path(RunPaths(str(remote / name)).mlflow_json))
    pull_into(_pack(remote), str(local))
    exports = json.loads(Path(RunPaths(str(local / name)).mlflow_json).read_text())["exports"]
    assert [e["run_id"] for e in exports] == ["here", "b"]


def test_local_links_are_never_written_through_and_clashes_keep_the_local_side(
        sides: tuple[Path, Path, str], workdir: Path) -> None:
    remote, local, name = sides
    pull_into(_pack(remote), str(local))
    victim, elsewhere = workdir / "victim.txt", workdir / "elsewhere"
    victim.write_text("the victim's file")
    elsewhere.mkdir()
    here, there = local / name, remote / name
    (here / "model.txt").symlink_to(victim)        # a local link standing for a file
    (here / "ckpt").symlink_to(elsewhere)          # a local link to a folder
    (here / "plots").write_text("a file here")     # a file where the cluster has a folder
    (there / "model.txt").write_text("weights")
    _later(there / "model.txt")
    (there / "ckpt").mkdir()
    (there / "ckpt" / "epoch-1.pt").write_text("w1")
    (there / "plots").mkdir()
    (there / "plots" / "loss.svg").write_text("<svg/>")
    result = pull_into(_pack(remote), str(local))
    assert victim.read_text() == "the victim's file" and list(elsewhere.iterdir()) == []
    assert (here / "model.txt").read_text() == "weights" and not (here / "model.txt").is_symlink()
    assert sorted(result.clashes) == [f"{name}/ckpt", f"{name}/plots"]
    assert (here / "plots").read_text() == "a file here"


def test_a_hostile_archive_is_unpacked_as_data_and_leaves_nothing_behind(workdir: Path) -> None:
    local = workdir / "runs"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        def add(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"x", link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.size = kind, link, len(data) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
        add("2026-11-22T05-12-33Z/tuner.d/run.json", data=b'{"status": "finished"}')
        add("2026-11-22T05-12-33Z/model.txt", data=b"weights")
        add("2026-11-22T05-12-33Z/train.py", tarfile.SYMTYPE, link="/home/ml/project/train.py")
        add("../outside.txt")
        add("/tmp/tuner-absolute-name.txt")
        add("2026-11-22T05-12-33Z/sda", tarfile.BLKTYPE)
        add("2026-11-22T05-12-33Z/passwd", tarfile.LNKTYPE, link="/etc/passwd")
        add(".tuner-index.json", data=b"{}")                    # not a run: ignored
        add("sweeps/20261122-051233-ab12/journal.jsonl", data=b'{"type": "header"}\n')
    result = pull_into(buffer.getvalue(), str(local))
    assert (result.runs, result.sweeps) == (1, 1)
    assert not (workdir / "outside.txt").exists() and not Path("/tmp/tuner-absolute-name.txt").exists()
    assert sorted(os.listdir(local)) == ["2026-11-22T05-12-33Z", "sweeps"]  # no staging folder left
    assert sorted(p.name for p in (local / "2026-11-22T05-12-33Z").iterdir()) == ["model.txt", "tuner.d"]
    said = "\n".join(pull_lines(result, "~/tuner-runs/x", str(local)))
    assert "left out 5 entries it cannot carry" in said
    assert "2026-11-22T05-12-33Z/train.py (an absolute link (to /home/ml/project/train.py)" in said
