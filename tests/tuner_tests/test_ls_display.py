"""`tune ls` prints fast at any size: a table of what fits (the newest first) and a line saying how many more
and how to see them; `--all` shows every run; csv and json always hold all of them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fabricate_runs import make_run

from tuner.cli import main


@pytest.fixture
def many_runs(workdir: Path) -> list[str]:
    return [make_run("runs", i, {"lr": 0.1 * (i % 3)}, {"loss": [1.0 / (i + 1)]}) for i in range(420)]


def _names(text: str) -> list[str]:
    return [line.split()[0] for line in text.splitlines() if line[:4] == "2026"]


def test_ls_shows_the_newest_runs_and_says_how_many_more(many_runs: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls"]) == 0
    out = capsys.readouterr().out
    names = _names(out)
    newest = sorted((Path(p).name for p in many_runs), reverse=True)
    assert names == newest[:50]  # not a terminal: 50 rows
    assert "370 more runs not shown (the first 50 of 420); `tune ls --all` shows them" in out


def test_ls_all_shows_every_run_aligned(many_runs: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "--all"]) == 0
    out = capsys.readouterr().out
    assert sorted(_names(out)) == sorted(Path(p).name for p in many_runs)
    assert "more runs not shown" not in out
    lines = [line for line in out.splitlines() if line[:4] == "2026"]
    status_at = {line.index("finished") for line in lines}
    assert len(status_at) == 1  # one column, aligned in every row


def test_csv_and_json_always_hold_every_run(many_runs: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "--format", "csv"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 421
    assert main(["ls", "--format", "json"]) == 0
    assert len(json.load(io.StringIO(capsys.readouterr().out))) == 420


def test_a_short_listing_has_no_more_line(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_run("runs", 1, {"lr": 0.1}, {"loss": [0.5]})
    assert main(["ls"]) == 0
    out = capsys.readouterr().out
    assert len(_names(out)) == 1 and "not shown" not in out
