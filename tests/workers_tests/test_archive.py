"""A runs archive is data: crafted tarballs (path traversal, absolute names, links out of their run, chains of
links, devices, pipes, hard links, setuid bits, a truncated stream) unpack what is sound, leave out and name the
rest, and never touch anything outside the destination."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from workers.archive import ArchiveError, unpack

MTIME = 1_790_000_000


def _tar(*members: tuple[str, str, object], gz: bool = True) -> bytes:
    """(name, kind, payload): kind file (bytes), dir, sym (target), hard (target), chr, fifo, raw (TarInfo)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if gz else "w") as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            info.mtime = MTIME
            data = None
            if kind == "file":
                data = payload if isinstance(payload, bytes) else str(payload).encode()
                info.size, info.mode = len(data), 0o644
            elif kind == "exec":
                data = b"#!/bin/sh\n"
                info.size, info.mode = len(data), int(str(payload), 8)
            elif kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, str(payload)
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, str(payload)
            elif kind == "chr":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3  # /dev/null's numbers
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


@pytest.fixture
def places(tmp_path: Path) -> tuple[Path, Path]:
    """dest (the runs directory being unpacked into, inside a folder) and a victim file beside it."""
    dest = tmp_path / "home" / "runs"
    dest.mkdir(parents=True)
    victim = tmp_path / "home" / "victim.txt"
    victim.write_text("the victim's file")
    return dest, victim


def _everything_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def _reasons(skipped) -> dict[str, str]:
    return {s.name: s.reason for s in skipped}


def test_names_that_leave_the_destination_are_left_out(places: tuple[Path, Path], tmp_path: Path) -> None:
    dest, victim = places
    before = _everything_under(tmp_path)
    skipped = unpack(_tar(("run/ok.txt", "file", "fine"), ("../victim.txt", "file", "owned"),
                          ("run/../../victim.txt", "file", "owned"), ("/tmp/evil-abs.txt", "file", "owned"),
                          ("run/sub/../../../victim.txt", "file", "owned")), str(dest), scope_depth=1)
    assert (dest / "run" / "ok.txt").read_text() == "fine"
    assert victim.read_text() == "the victim's file" and not Path("/tmp/evil-abs.txt").exists()
    assert set(_reasons(skipped)) == {"../victim.txt", "run/../../victim.txt", "/tmp/evil-abs.txt",
                                      "run/sub/../../../victim.txt"}
    assert all("outside the destination" in r for r in _reasons(skipped).values())
    assert _everything_under(tmp_path) - before == {"home/runs/run", "home/runs/run/ok.txt"}


def test_links_stay_inside_their_run_or_are_left_out_and_named(places: tuple[Path, Path]) -> None:
    dest, victim = places
    skipped = unpack(_tar(
        ("run/checkpoints/epoch-3.ckpt", "file", "weights"),
        ("run/latest.ckpt", "sym", "checkpoints/epoch-3.ckpt"),          # inside: kept
        ("run/checkpoints/up", "sym", ".."),                              # the run itself: kept
        ("run/train.py", "sym", "/home/ml/project/train.py"),            # a killed trial's project link
        ("run/data", "sym", "../../project/data"),                        # relative, out of the runs directory
        ("run/other", "sym", "../run2/model.txt"),                        # into another run
        ("run/victim", "sym", "../../victim.txt"),
        ("run2/model.txt", "file", "other run"),
        ("toplink", "sym", "run2"),                                        # a link in place of a run
    ), str(dest), scope_depth=1)
    run = dest / "run"
    assert os.readlink(run / "latest.ckpt") == "checkpoints/epoch-3.ckpt"
    assert (run / "latest.ckpt").read_text() == "weights" and (run / "checkpoints" / "up").is_symlink()
    reasons = _reasons(skipped)
    assert set(reasons) == {"run/train.py", "run/data", "run/other", "run/victim", "toplink"}
    assert "absolute link (to /home/ml/project/train.py)" in reasons["run/train.py"]
    assert "outside its run" in reasons["run/data"] and "outside its run" in reasons["run/other"]
    for name in ("train.py", "data", "other", "victim"):
        assert not os.path.lexists(run / name)
    assert not os.path.lexists(dest / "toplink") and victim.read_text() == "the victim's file"


def test_a_chain_of_links_that_ends_outside_is_undone(places: tuple[Path, Path]) -> None:
    """Each link leads inside when made (`a -> b/../x` reads as run/x, `b -> .` is the run), together `a` is
    dest/x: outside the run. Checked again once all links exist."""
    dest, victim = places
    skipped = unpack(_tar(("run/keep.txt", "file", "k"), ("run/a", "sym", "b/../victim.txt"), ("run/b", "sym", "."),
                          ("run/sub/c", "sym", "d/../../../victim.txt"), ("run/sub/d", "sym", "../sub")),
                     str(dest), scope_depth=1)
    reasons = _reasons(skipped)
    assert "run/a" in reasons and "through other links" in reasons["run/a"]
    assert not os.path.lexists(dest / "run" / "a")
    for link in (dest / "run").rglob("*"):  # whatever stayed resolves inside the run
        assert os.path.realpath(link).startswith(str((dest / "run").resolve())), link
    assert victim.read_text() == "the victim's file"


def test_nothing_is_written_through_a_link_already_in_the_destination(places: tuple[Path, Path],
                                                                       tmp_path: Path) -> None:
    dest, victim = places
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (dest / "run").mkdir()
    (dest / "run" / "out").symlink_to(elsewhere)        # a link the destination already had
    (dest / "run" / "victim.txt").symlink_to(victim)
    skipped = unpack(_tar(("run/out/model.txt", "file", "through the link"), ("run/victim.txt", "file", "new"),
                          ("run/d", "sym", "sub"), ("run/d/x.txt", "file", "x")), str(dest), scope_depth=1)
    assert list(elsewhere.iterdir()) == [] and victim.read_text() == "the victim's file"
    assert "run/out/model.txt" in _reasons(skipped)
    assert (dest / "run" / "victim.txt").read_text() == "new" and not (dest / "run" / "victim.txt").is_symlink()
    assert (dest / "run" / "d" / "x.txt").read_text() == "x"  # a folder; the link of the same name left out
    assert "folder of the same name" in _reasons(skipped)["run/d"]


def test_devices_pipes_and_hard_links_are_never_made(places: tuple[Path, Path]) -> None:
    dest, victim = places
    skipped = unpack(_tar(("run/model.txt", "file", "weights"), ("run/null", "chr", None), ("run/pipe", "fifo", None),
                          ("run/copy.txt", "hard", "run/model.txt"),         # same run: a copy
                          ("run/passwd", "hard", "/etc/passwd"), ("run/v", "hard", "../victim.txt"),
                          ("run/later", "hard", "run/not-yet.txt"), ("run/not-yet.txt", "file", "y"),
                          # tar's second name of a file another run holds (snapshots share inodes): a copy
                          ("run2/theirs.txt", "hard", "run/model.txt")), str(dest), scope_depth=1)
    reasons = _reasons(skipped)
    assert set(reasons) == {"run/null", "run/pipe", "run/passwd", "run/v", "run/later"}
    assert (dest / "run2" / "theirs.txt").read_text() == "weights"
    assert "special file" in reasons["run/null"] and "hard link" in reasons["run/passwd"]
    copy, model = dest / "run" / "copy.txt", dest / "run" / "model.txt"
    assert copy.read_text() == "weights" and copy.stat().st_ino != model.stat().st_ino and model.stat().st_nlink == 1
    assert victim.stat().st_nlink == 1 and not (dest / "run" / "null").exists()


def test_modes_are_data_and_times_are_kept(places: tuple[Path, Path]) -> None:
    dest, _victim = places
    unpack(_tar(("run/setuid.sh", "exec", "4777"), ("run/plain.txt", "file", "x"), ("run/noexec", "exec", "0666"),
                ("run/group.sh", "exec", "0775")), str(dest), scope_depth=1)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (dest / "run").iterdir()}
    assert modes == {"setuid.sh": 0o755, "plain.txt": 0o644, "noexec": 0o644, "group.sh": 0o755}
    assert (dest / "run" / "plain.txt").stat().st_mtime == MTIME


def test_a_truncated_archive_keeps_what_came_and_a_non_archive_is_one_error(places: tuple[Path, Path]) -> None:
    dest, _victim = places
    whole = _tar(*[(f"run{i}/data.bin", "file", os.urandom(20_000)) for i in range(5)], gz=False)
    skipped = unpack(whole[:len(whole) // 2], str(dest), scope_depth=1)
    assert (dest / "run0" / "data.bin").stat().st_size == 20_000
    assert any(s.name == "(the rest of the archive)" for s in skipped)
    with pytest.raises(ArchiveError, match="not a tar archive"):
        unpack(b"<html>502 Bad Gateway</html>", str(dest / "other"))


def test_a_real_killed_run_packed_on_a_cluster_comes_home_without_its_project_links(tmp_path: Path) -> None:
    """Links to the project left in a run whose trial was killed (what the former links, and a mirror-mode view,
    leave behind), packed by `python -m workers.jobs pack` as the pull job does: before, the whole unpack failed
    on the first link (tarfile's data filter); now they are left out and named."""
    import subprocess
    import sys

    from workers.jobs import packed_data

    project, remote = tmp_path / "project", tmp_path / "cluster-runs"
    (project / "data").mkdir(parents=True)
    (project / "train.py").write_text("print(1)\n")
    run = remote / "2026-11-22T05-12-33Z"
    (run / "tuner.d").mkdir(parents=True)
    (run / "tuner.d" / "run.json").write_text('{"status": "killed"}')
    (run / "model.txt").write_text("weights")
    for name in ("train.py", "data"):
        os.symlink(project / name, run / name)
    done = subprocess.run([sys.executable, "-m", "workers.jobs", "pack", str(remote)], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert done.returncode == 0, done.stderr
    home = tmp_path / "laptop-runs"
    skipped = unpack(packed_data(done.stdout), str(home), scope_depth=1)
    assert sorted(s.name for s in skipped) == [f"{run.name}/data", f"{run.name}/train.py"]
    assert (home / run.name / "model.txt").read_text() == "weights"
    assert (home / run.name / "tuner.d" / "run.json").exists()
