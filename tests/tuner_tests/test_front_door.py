"""What a newcomer meets first (issue 30): mistyped commands, the one rule for commands that move or delete runs,
the messages of commands that find nothing, and options that fail fast."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import pytest

from tuner.cli.main import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import run_tune  # noqa: E402


def tune(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("tune: error: "), err
    return lines[0]


# --- a bare word that is neither a command nor a file ------------------------------------------------------

@pytest.mark.parametrize("word, suggestion", [("lst", "`tune ls`"), ("sweep", "`tune sweeps`"),
                                              ("clen", "`tune clean`"), ("resum", "`tune resume`")])
def test_a_mistyped_command_is_an_unknown_command_with_the_closest(workdir: Path, capsys: pytest.CaptureFixture[str],
                                                                   word: str, suggestion: str) -> None:
    status, out, err = tune(capsys, word)
    line = error_line(err)
    assert status == 2 and out == ""
    assert line.startswith(f"tune: error: unknown command '{word}'") and f"did you mean {suggestion}?" in line
    assert "script" not in line.split(";")[0]  # not "script 'lst' does not exist"
    assert list(workdir.iterdir()) == []


def test_a_word_with_a_script_beside_it_suggests_the_script(write_script: Callable[..., Path],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    write_script("train.py", "print('hi')\n")
    status, _, err = tune(capsys, "train")
    assert status == 2 and "did you mean `tune train.py`?" in error_line(err)


def test_paths_stay_scripts_and_existing_files_run(write_script: Callable[..., Path], workdir: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A name with a dot or a slash is a path: missing, it is a missing script; an existing file without an
    extension (`sweep`, `lst`) runs, even with a command's look-alike name."""
    status, _, err = tune(capsys, "sweep.yaml")
    assert status == 2 and "script 'sweep.yaml' does not exist" in error_line(err)
    status, _, err = tune(capsys, "bin/lst")
    assert status == 2 and "script 'bin/lst' does not exist" in error_line(err)
    write_script("lst", "print('a script named lst')\n")
    done = run_tune("lst", "--no-echo", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert len(list((workdir / "runs").iterdir())) == 1
