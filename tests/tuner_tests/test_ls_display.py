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


@pytest.fixture
def varied_runs(workdir: Path) -> list[str]:
    """Runs whose columns take every dtype a frame can give them: ints beside missing values (floats in a
    frame), numbers beside text, switches, NaN/inf metrics, tags on some runs, a run still running, a failed
    run with its error, two runs started in the same second, one whose run.json has no start."""
    from tuner.store.files import update_tags

    made = []
    for i in range(12):
        flags: dict = {"lr": [0.1, 0.01, "abc"][i % 3], "units": 64 * (i + 1), "amp": i % 2 == 0,
                       "seed": 1234567 + i}
        if i % 4 == 0:
            del flags["units"], flags["seed"]
        metrics: dict = {"loss": [1.0 / (i + 1)], "acc": [[0.5, float("nan"), float("inf")][i % 3]]}
        made.append(make_run("runs", i, flags, metrics if i != 5 else {},
                             status=["finished", "failed", "running"][i % 3] if i < 9 else "finished",
                             sweep="s1" if i > 6 else None, trial=i if i > 6 else None,
                             error={"message": "CUDA out of memory", "traceback": "T"} if i % 3 == 1 else None))
        if i % 5 == 0:
            update_tags(made[-1], {"label": f"try {i}", "owner": "ml"})
    for i, start in ((3, None), (10, 1_795_000_003.0), (11, 1_795_000_003.0)):  # no start; a tie (the name decides)
        run_json = Path(made[i]) / "tuner.d" / "run.json"
        data = json.loads(run_json.read_text())
        data.pop("start") if start is None else data.update(start=start)
        run_json.write_text(json.dumps(data))
    return made


@pytest.mark.parametrize("options", [[], ["--all"], ["--latest", "4"]])
def test_the_default_listing_prints_what_the_frame_prints(varied_runs: list[str], options: list[str],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The default `tune ls` is printed from the index's rows without pandas (tuner.runs.newest); an explicit
    `--order start` (the same order) goes through ls_runs' DataFrame. Both must print the same text."""
    assert main(["ls", *options]) == 0
    fast = capsys.readouterr().out
    assert main(["ls", "--order", "start", *options]) == 0
    frame = capsys.readouterr().out
    assert fast == frame
    assert len(_names(fast)) == (4 if "--latest" in options else 12)
    assert "tag_label" in fast and "abc" in fast
    assert "12345" in fast and "e+06" not in fast  # a whole number beside missing values (a float) stays whole
    names = _names(fast)
    if not options:  # the start decides (a tie: the name), runs without one come last
        assert names[-4:] == [Path(varied_runs[i]).name for i in (10, 11, 0, 3)], fast


def test_the_default_listing_does_not_import_pandas(varied_runs: list[str], workdir: Path) -> None:
    import subprocess
    import sys

    code = "import sys; from tuner.cli import main; main(['ls']); assert 'pandas' not in sys.modules, 'pandas'"
    done = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(_names(done.stdout)) == 12


def test_an_unchanged_listing_is_shown_from_its_head_and_any_change_is_seen(workdir: Path,
                                                                            capsys: pytest.CaptureFixture[str],
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """When no run changed, `tune ls` shows the rows a clean listing left beside the index (tuner.runs.newest)
    without parsing the index; a run written to, added, removed or running goes the whole way."""
    from tuner.runs import index
    from tuner.store.layout import INDEX_FILE, INDEX_HEAD_FILE

    monkeypatch.setattr(index, "RACY_NS", 0)  # runs made a moment ago count as settled (the racy rule: test_listing_index)
    made = [make_run("runs", i, {"lr": 0.1 * i}, {"loss": [1.0 / (i + 1)]}) for i in range(6)]

    def listing() -> str:
        assert main(["ls"]) == 0
        return capsys.readouterr().out

    first, second = listing(), listing()  # the first builds the index, the second (clean) leaves the head
    head = workdir / "runs" / INDEX_HEAD_FILE
    assert head.exists() and first == second
    (workdir / "runs" / INDEX_FILE).unlink()
    assert listing() == first and not (workdir / "runs" / INDEX_FILE).exists()  # shown from the head alone
    # a metric appended to a run: seen at once (its metrics.jsonl's size and ctime changed)
    with open(Path(made[2]) / "tuner.d" / "metrics.jsonl", "a") as handle:
        handle.write(json.dumps({"step": 1, "loss": 0.0123}) + "\n")
    changed = listing()
    assert "0.0123" in changed and changed == listing()
    assert main(["ls", "--order", "start"]) == 0 and capsys.readouterr().out == changed  # as the frame says
    # a run removed, another added, one running: each seen
    import shutil

    shutil.rmtree(made[0])
    made.append(make_run("runs", 9, {"lr": 9.0}, {"loss": [0.5]}, status="running"))
    text = listing()
    names = _names(text)
    assert Path(made[0]).name not in names and names[0] == Path(made[-1]).name
    assert text.splitlines()[2].split()[1] in ("running", "lost")  # no heartbeat given: lost, read every time
    before = head.read_text()
    assert listing() == text and head.read_text() == before  # a running run is read every time: no new head
