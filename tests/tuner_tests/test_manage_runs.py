"""clean / purge / copy / rm: tfruns semantics, active runs protected, prompts only where someone can answer."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_tune
from synthetic_runs import make_run

from tuner import TunerError, clean_runs, copy_run, copy_run_files, ls_runs, purge_runs
from tuner.runs.manage import delete_runs


@pytest.fixture
def runs(workdir: Path) -> Path:
    root = workdir / "runs"
    make_run(root, "2026-01-01T00-00-01Z", flags={"lr": 0.1}, metrics=[{"acc": 0.5}])
    make_run(root, "2026-01-01T00-00-02Z", status="failed", flags={"lr": 0.2})
    make_run(root, "2026-01-02T00-00-03Z", status="running", flags={"lr": 0.3})  # active: fresh heartbeat
    make_run(root, "2026-01-02T00-00-04Z", status="running", heartbeat=time.time() - 3600)  # lost
    (root / "2026-01-01T00-00-01Z" / "model.txt").write_text("weights")
    (root / "2026-01-01T00-00-01Z" / "plots").mkdir()
    (root / "2026-01-01T00-00-01Z" / "plots" / "loss.png").write_bytes(b"png")
    return root


def listed(root: Path) -> set[str]:
    return {os.path.basename(p) for p in ls_runs(runs_dir=str(root))["run_dir"]}


def archived(root: Path) -> set[str]:
    """The run folders in the archive (a listing of it keeps its hidden index there)."""
    folder = root / "archive"
    return {n for n in os.listdir(folder) if not n.startswith(".")} if folder.is_dir() else set()


def answer(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_clean_archives_every_run_but_the_active_one(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = clean_runs(confirm=False)
    assert listed(runs) == {"2026-01-02T00-00-03Z"}
    assert archived(runs) == {"2026-01-01T00-00-01Z", "2026-01-01T00-00-02Z", "2026-01-02T00-00-04Z"}
    assert [os.path.basename(p) for p in result.skipped_active] == ["2026-01-02T00-00-03Z"]
    out = capsys.readouterr().out
    assert "Skipped 1 active run (still running): 2026-01-02T00-00-03Z" in out and "Moved 3 runs" in out


def test_clean_a_filtered_subset_and_archive_names_never_collide(runs: Path) -> None:
    clean_runs(ls_runs(subset="status == 'failed'"), confirm=False)
    assert archived(runs) == {"2026-01-01T00-00-02Z"}
    make_run(runs, "2026-01-01T00-00-02Z", status="failed")  # the same name again
    clean_runs("2026-01-01T00-00-02Z", confirm=False)
    assert archived(runs) == {"2026-01-01T00-00-02Z", "2026-01-01T00-00-02Z-1"}


def test_declined_prompts_change_nothing(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answer(monkeypatch, "n\n")
    assert clean_runs(confirm=True).cancelled
    assert len(listed(runs)) == 4
    clean_runs("2026-01-01T00-00-01Z", confirm=False)
    answer(monkeypatch, "\n")  # purge defaults to no
    assert purge_runs(confirm=True).cancelled and archived(runs) == {"2026-01-01T00-00-01Z"}
    answer(monkeypatch, "")  # end of input counts as no
    assert delete_runs("00-00-02", confirm=True).cancelled and "2026-01-01T00-00-02Z" in listed(runs)
    answer(monkeypatch, "\n")  # clean defaults to yes
    clean_runs("2026-01-01T00-00-02Z", confirm=True)
    assert "2026-01-01T00-00-02Z" in archived(runs)


def test_purge_deletes_archived_runs_and_keeps_the_archive(runs: Path) -> None:
    clean_runs(confirm=False)
    result = purge_runs(confirm=False)
    assert len(result.done) == 3 and archived(runs) == set()
    assert (runs / "archive").is_dir() and listed(runs) == {"2026-01-02T00-00-03Z"}


def test_rm_deletes_matching_runs_except_active_ones(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = delete_runs("^2026-01-02", confirm=False)
    assert [os.path.basename(p) for p in result.done] == ["2026-01-02T00-00-04Z"]
    assert listed(runs) == {"2026-01-01T00-00-01Z", "2026-01-01T00-00-02Z", "2026-01-02T00-00-03Z"}
    assert "2 runs match" in capsys.readouterr().out
    with pytest.raises(TunerError, match="not a valid regular expression"):
        delete_runs("([", confirm=False)


def test_copy_run_copies_everything_with_an_optional_new_name(runs: Path, workdir: Path) -> None:
    [target] = copy_run("2026-01-01T00-00-01Z", workdir / "best", rename="baseline")
    assert target == str(workdir / "best" / "baseline")
    assert (Path(target) / "tuner.d" / "flags.json").is_file() and (Path(target) / "model.txt").is_file()
    assert os.listdir(workdir / "best") == ["baseline"]  # no staging folder left
    (Path(target) / "model.txt").write_text("changed")
    copy_run("2026-01-01T00-00-01Z", workdir / "best", rename="baseline")  # replaces the earlier copy
    assert (Path(target) / "model.txt").read_text() == "weights"
    copies = copy_run(ls_runs(subset="status == 'failed' or flag_lr == 0.1"), workdir / "many")
    assert sorted(os.path.basename(p) for p in copies) == ["2026-01-01T00-00-01Z", "2026-01-01T00-00-02Z"]


def test_copy_run_files_copies_artifacts_only(runs: Path, workdir: Path) -> None:
    [target] = copy_run_files("2026-01-01T00-00-01Z", workdir / "out")
    files = sorted(str(p.relative_to(target)) for p in Path(target).rglob("*") if p.is_file())
    assert files == ["model.txt", os.path.join("plots", "loss.png")]


@pytest.mark.parametrize("rename", ["../escape", "a/b", "..", ".hidden", ""])
def test_copy_names_cannot_escape_the_destination(runs: Path, workdir: Path, rename: str) -> None:
    with pytest.raises(TunerError, match="plain folder name"):
        copy_run("2026-01-01T00-00-01Z", workdir / "dest", rename=rename)
    assert not (workdir / "dest").exists() and not (workdir / "escape").exists()


def test_copy_refuses_to_overwrite_a_folder_that_is_not_a_run(runs: Path, workdir: Path) -> None:
    (workdir / "dest" / "keep").mkdir(parents=True)
    with pytest.raises(TunerError, match="exists and is not a run"):
        copy_run("2026-01-01T00-00-01Z", workdir / "dest", rename="keep")
    with pytest.raises(TunerError, match="into itself"):
        copy_run("2026-01-01T00-00-01Z", runs / "2026-01-01T00-00-01Z")


def test_cli_clean_purge_rm_copy(runs: Path, workdir: Path) -> None:
    result = run_tune("clean", "--filter", "status == 'failed'", "--yes", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert archived(runs) == {"2026-01-01T00-00-02Z"}
    assert run_tune("purge", "--yes", cwd=workdir).returncode == 0 and archived(runs) == set()
    result = run_tune("rm", "T00-00-0[34]Z$", "--yes", cwd=workdir)
    assert "Skipped 1 active run" in result.stdout and "Deleted 1 run" in result.stdout
    result = run_tune("copy", "2026-01-01T00-00-01Z", "out", "--rename", "model", "--files-only", cwd=workdir)
    assert result.returncode == 0 and (workdir / "out" / "model" / "model.txt").is_file()
    assert not (workdir / "out" / "model" / "tuner.d").exists()
    bad = run_tune("copy", "2026-01-01T00-00-01Z", "out", "--rename", "../x", cwd=workdir)
    assert bad.returncode == 2 and "plain folder name" in bad.stderr


def test_cli_without_a_terminal_does_not_prompt_and_moves_only_with_yes(runs: Path, workdir: Path) -> None:
    result = run_tune("clean", "2026-01-01T00-00-01Z", cwd=workdir, stdin="")
    assert result.returncode == 2 and "?" not in result.stdout and archived(runs) == set()
    assert "pass --yes" in result.stderr
    result = run_tune("clean", "2026-01-01T00-00-01Z", "--yes", cwd=workdir, stdin="")
    assert result.returncode == 0 and "?" not in result.stdout
    assert archived(runs) == {"2026-01-01T00-00-01Z"}


def test_cli_prompts_on_a_terminal_and_a_no_keeps_the_runs(runs: Path, workdir: Path) -> None:
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    proc = subprocess.Popen([sys.executable, "-m", "tuner", "rm", "2026"], cwd=workdir, env=env, stdin=secondary,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.close(secondary)
    os.write(primary, b"n\n")
    out, err = proc.communicate(timeout=60)
    os.close(primary)
    assert proc.returncode == 0, err
    assert "Permanently delete 4 run directories? [y/N]" in out and "Nothing deleted." in out
    assert len(listed(runs)) == 4


def test_a_copied_run_does_not_carry_the_originals_mlflow_link(runs: Path, workdir: Path) -> None:
    link = runs / "2026-01-01T00-00-01Z" / "tuner.d" / "mlflow.json"
    link.write_text('{"sqlite:///mlflow.db": {"run_id": "abc"}}')
    [target] = copy_run("2026-01-01T00-00-01Z", workdir / "copies")
    assert (Path(target) / "tuner.d" / "flags.json").is_file()
    assert not (Path(target) / "tuner.d" / "mlflow.json").exists()  # its export makes a new MLflow run
    assert link.exists()


def test_clean_lists_what_it_will_move_before_asking_and_restore_brings_runs_back(runs: Path, workdir: Path) -> None:
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    proc = subprocess.Popen([sys.executable, "-m", "tuner", "clean"], cwd=workdir, env=env, stdin=secondary,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.close(secondary)
    os.write(primary, b"n\n")
    out, err = proc.communicate(timeout=60)
    os.close(primary)
    assert proc.returncode == 0, err
    listed, question = out.index("Will move 3 run directories: "), out.index("Move 3 run directories to")
    assert listed < question and "1 active left alone" in out  # the names come before the question
    for name in ("2026-01-01T00-00-01Z", "2026-01-01T00-00-02Z", "2026-01-02T00-00-04Z"):
        assert name in out[listed:question]
    assert "Nothing moved." in out and archived(runs) == set()
    assert run_tune("clean", "--yes", cwd=workdir).returncode == 0
    assert archived(runs) == {"2026-01-01T00-00-01Z", "2026-01-01T00-00-02Z", "2026-01-02T00-00-04Z"}
    # restore: by name prefix, by filter over the archive, then the rest; a name taken again stays archived
    one = run_tune("restore", "2026-01-01T00-00-01", "--yes", cwd=workdir)
    assert one.returncode == 0 and "Restored 1 run" in one.stdout, one.stderr
    assert (runs / "2026-01-01T00-00-01Z" / "model.txt").read_text() == "weights"
    failed = run_tune("restore", "--filter", "status == 'failed'", "--yes", cwd=workdir)
    assert failed.returncode == 0 and archived(runs) == {"2026-01-02T00-00-04Z"}, failed.stdout + failed.stderr
    make_run(runs, "2026-01-02T00-00-04Z", flags={"lr": 9})  # a new run took the archived one's name
    rest = run_tune("restore", "--yes", cwd=workdir)
    assert rest.returncode == 0 and "Kept in the archive (the name is taken" in rest.stdout
    assert archived(runs) == {"2026-01-02T00-00-04Z"}
    nothing = run_tune("restore", "no-such-run", "--yes", cwd=workdir)
    assert nothing.returncode == 2 and len(nothing.stderr.strip().splitlines()) == 1, nothing.stderr
