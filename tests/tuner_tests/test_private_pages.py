"""Pages are private by default: `tune view`, `compare` and `report` write a run's output and source into the
user's own pages folder (0700, pages 0600), never into a folder other users share; a link planted where a page
goes is replaced, never followed; another user's folder neither blocks nor receives anyone's pages; `-o` writes
where it says."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from fabricate_runs import make_run, make_sweep

from tests.conftest import REPO, run_tune

SECRET_OUTPUT = "epoch 1: loss 0.5 (the console output of a private experiment)"
NOBODY = 65534


@pytest.fixture
def places(workdir: Path) -> dict[str, Path]:
    """The user's cache folder and the system temp folder of the `tune` processes, and two runs."""
    cache, tmp = workdir / "home-cache", workdir / "system-tmp"
    tmp.mkdir()
    make_run("runs", 1, {"lr": 0.1}, {"loss": [0.5]}, output=SECRET_OUTPUT, sources={"train.py": "print(1)\n"})
    make_run("runs", 2, {"lr": 0.2}, {"loss": [0.4]}, output=SECRET_OUTPUT)
    return {"cache": cache, "tmp": tmp, "views": cache / "tuner" / "views"}


def _env(places: dict[str, Path]) -> dict[str, str]:
    return {"XDG_CACHE_HOME": str(places["cache"]), "TMPDIR": str(places["tmp"])}


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _page(done: subprocess.CompletedProcess[str]) -> Path:
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip().splitlines()[-1])


def test_view_compare_and_report_write_private_pages_in_the_users_own_folder(places: dict[str, Path]) -> None:
    view = _page(run_tune("view", "--no-browser", env=_env(places)))
    compare = _page(run_tune("compare", "--no-browser", env=_env(places)))
    make_sweep("runs", "sw1", 3)
    report = _page(run_tune("report", "sw1", "--no-browser", env=_env(places)))
    views = places["views"]
    for page in (view, compare, report):
        assert page.is_relative_to(views), page
        assert page.is_file() and not page.is_symlink() and _mode(page) == 0o600, (page, oct(_mode(page)))
    assert SECRET_OUTPUT in view.read_text()
    run_views = list((report.parent / "report_runs").iterdir())
    assert len(run_views) == 3 and {_mode(p) for p in run_views} == {0o600}
    for folder in (views, report.parent, report.parent / "report_runs"):
        assert _mode(folder) == 0o700, (folder, oct(_mode(folder)))
    assert os.listdir(places["tmp"]) == []  # nothing in the shared temp folder


def test_a_looser_pages_folder_of_ours_is_tightened(places: dict[str, Path]) -> None:
    places["views"].mkdir(parents=True)
    places["views"].chmod(0o777)
    page = _page(run_tune("view", "--no-browser", env=_env(places)))
    assert page.parent == places["views"] and _mode(places["views"]) == 0o700


def test_a_link_planted_where_a_page_goes_is_replaced_not_followed(places: dict[str, Path], workdir: Path) -> None:
    victim = workdir / "victim.txt"
    victim.write_text("the victim's file")
    victim.chmod(0o600)
    places["views"].mkdir(parents=True, mode=0o700)
    name = sorted(p.name for p in Path("runs").iterdir() if p.name.startswith("20"))[-1]
    planted = places["views"] / f"run-{name}.html"
    planted.symlink_to(victim)
    page = _page(run_tune("view", "--no-browser", env=_env(places)))
    assert page == planted and page.is_file() and not page.is_symlink() and _mode(page) == 0o600
    assert victim.read_text() == "the victim's file" and _mode(victim) == 0o600  # neither written nor chmod'ed
    # -o names a file: a link planted there is replaced as well, and the page takes the umask's mode, no chmod
    out = workdir / "shared" / "page.html"
    out.parent.mkdir()
    out.symlink_to(victim)
    done = run_tune("view", "--no-browser", "-o", str(out), env=_env(places))
    assert _page(done) == out and out.is_file() and not out.is_symlink()
    assert _mode(out) == 0o666 & ~_umask()
    assert victim.read_text() == "the victim's file" and _mode(victim) == 0o600


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_pages_folder_owned_by_another_user_neither_blocks_nor_receives_pages(places: dict[str, Path]) -> None:
    if os.getuid() != 0:
        pytest.skip("making a folder another user owns needs root")
    # the old shared folder, created first by someone else, with a link planted in it
    shared = places["tmp"] / "tuner-views"
    shared.mkdir(mode=0o777)
    os.chown(shared, NOBODY, NOBODY)
    # and the pages folder itself, taken by someone else (a sudo that left it root's, seen from the user's side)
    places["views"].mkdir(parents=True, mode=0o755)
    os.chown(places["views"], NOBODY, NOBODY)
    page = _page(run_tune("view", "--no-browser", env=_env(places)))
    assert SECRET_OUTPUT in page.read_text()
    assert os.listdir(shared) == [] and os.listdir(places["views"]) == []  # nothing of ours in a folder not ours
    assert not page.is_relative_to(places["views"]) and page.parent.parent == places["tmp"]  # a fresh private one
    assert _mode(page.parent) == 0o700 and page.parent.stat().st_uid == 0 and _mode(page) == 0o600


def test_another_user_can_view_after_the_first_made_the_shared_folder(tmp_path: Path) -> None:
    """Before: the first user to run `tune view` created /tmp/tuner-views (0755), and everyone else's failed with
    a PermissionError traceback. Run as a second, unprivileged user (setpriv), with the real `tune` command."""
    if os.getuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("running as a second user needs root and setpriv")
    base = Path(tempfile.mkdtemp(prefix="tuner-two-users-", dir="/tmp"))
    try:
        base.chmod(0o755)
        project, tmp, cache = base / "project", base / "tmp", base / "nobody-cache"
        project.mkdir()
        tmp.mkdir(mode=0o777)
        tmp.chmod(0o1777)
        cache.mkdir()
        os.chown(cache, NOBODY, NOBODY)
        cwd = os.getcwd()
        os.chdir(project)
        try:
            make_run("runs", 1, {"lr": 0.1}, {"loss": [0.5]}, output=SECRET_OUTPUT)
        finally:
            os.chdir(cwd)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
        env.update(TMPDIR=str(tmp), XDG_CACHE_HOME=str(cache), HOME=str(cache), PYTHONPATH=str(REPO))
        (tmp / "tuner-views").mkdir(mode=0o755)  # root viewed a page first, in the old shared place
        done = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                               sys.executable, "-m", "tuner", "view", "--no-browser"], cwd=project, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        page = Path(done.stdout.strip())
        assert page.is_relative_to(cache / "tuner" / "views") and page.stat().st_uid == NOBODY
        assert _mode(page) == 0o600 and _mode(page.parent) == 0o700
        assert os.listdir(tmp / "tuner-views") == []
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_page_that_cannot_be_written_is_one_line(places: dict[str, Path], workdir: Path) -> None:
    blocker = workdir / "a-file"
    blocker.write_text("")
    done = run_tune("view", "--no-browser", "-o", str(blocker / "page.html"), env=_env(places))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "cannot write the page" in done.stderr and "-o" in done.stderr
