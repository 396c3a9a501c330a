"""Faults on disk: a full disk mid-sweep, a torn journal line, a damaged journal header."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import run_tune
from tuner.store.journal import Journal, RecordKind

SCRIPT = """
print("x" * 30000)  # output.log fills a small disk after a few runs
print("loss", 1)
"""


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs `unshare -m` and mount (root or user namespaces)")
def test_disk_full_is_one_line_with_the_folder_and_resume_and_no_half_made_run(workdir: Path) -> None:
    (workdir / "train.py").write_text(SCRIPT)
    (workdir / "grid.yml").write_text("x: [1, 2, 3, 4, 5, 6, 7, 8]\n")
    (workdir / "runs").mkdir()
    tune = f"{sys.executable} -m tuner"
    # one private mount namespace: runs/ is a 160 KiB tmpfs (full after ~3 runs), then grown to 16 MiB
    script = textwrap.dedent(f"""
        set -u
        mount -t tmpfs -o size=160k tmpfs runs
        {tune} train.py --flags grid.yml -q > full.out 2> full.err; echo $? > full.rc
        sweep=$(ls runs/sweeps | head -1)
        {tune} resume "$sweep" -q > still.out 2> still.err; echo $? > still.rc
        find runs -mindepth 1 -maxdepth 1 -name '2*' | while read d; do
            test -f "$d/tuner.d/run.json" || echo "$d"; done > half.txt
        mount -o remount,size=16m runs
        {tune} resume "$sweep" -q > freed.out 2> freed.err; echo $? > freed.rc
        cp -r runs kept  # the tmpfs goes with the namespace
        echo "$sweep" > sweep.txt
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUNER_", "RAY_"))}
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=400)
    assert done.returncode == 0, done.stderr
    sweep = (workdir / "sweep.txt").read_text().strip()
    for name in ("full", "still"):
        errors = (workdir / f"{name}.err").read_text().strip().splitlines()
        assert (workdir / f"{name}.rc").read_text().strip() == "3", (errors, (workdir / f"{name}.out").read_text())
        assert len(errors) == 1, errors
        assert "no space left" in errors[0] and "/runs" in errors[0] and f"tune resume {sweep}" in errors[0]
    assert (workdir / "half.txt").read_text() == ""  # no run directory without run.json, even resumed while full
    assert (workdir / "freed.rc").read_text().strip() == "0", (workdir / "freed.err").read_text()
    records = [json.loads(p.read_text()) for p in (workdir / "kept").glob("2*/tuner.d/run.json")]
    finished = sorted(r["trial"] for r in records if r["status"] == "finished")
    assert finished == list(range(8))  # after freeing space every trial finished exactly once


def test_a_journal_append_after_a_torn_line_starts_a_fresh_line(workdir: Path) -> None:
    journal = Journal.create("runs", "20260101-000000-abcd", {"indices": [0, 1], "script": "train.py"})
    journal.append(RecordKind.OUTCOME, {"trial": 0})
    with open(journal.path, "ab") as handle:
        handle.write(b'{"type": "outcome", "tri')  # the driver died mid-append
    journal.append(RecordKind.OUTCOME, {"trial": 1})
    state = journal.read()
    assert [r["trial"] for r in state.records] == [0, 1]


def test_tune_sweeps_lists_a_damaged_journal_with_its_path(workdir: Path) -> None:
    good = Journal.create("runs", "20260101-000000-aaaa", {"indices": [0], "script": "train.py", "created": 1.0})
    bad = Journal.create("runs", "20260101-000000-bbbb", {"indices": [0], "script": "train.py"})
    Path(bad.path).write_bytes(b'{"type": "sweep", "id": "2026')  # header torn
    done = run_tune("sweeps", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert good.sweep_id in done.stdout
    assert "No sweeps in" not in done.stdout
    (line,) = [x for x in done.stdout.splitlines() if bad.sweep_id in x]
    assert "damaged" in line and bad.path in line
