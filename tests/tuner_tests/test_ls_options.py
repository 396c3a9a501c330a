"""`tune ls` options as a user types them: --columns keeps what it names (table headers included), --latest
counts the runs that pass --filter, a typo'd value among numbers does not break --filter/--order, and at
100 columns no number or run name is split across lines."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from fabricate_runs import make_run

from tuner import ls_runs
from tuner.cli import main


@pytest.fixture
def runs(workdir: Path) -> list[str]:
    made = []
    for i, lr in enumerate([0.1, 0.3, "abc", 0.25, 0.05]):  # `lr=abc` typed once: flag_lr holds text
        made.append(make_run("runs", i, {"lr": lr, "units": 128 + i}, {"val_acc": [0.8367 + i / 1000]},
                             status="failed" if i in (0, 1) else "finished", sweep="s1", trial=i))
    return made


def _names(text: str) -> list[str]:
    return re.findall(r"2026-\S+Z", text)


def test_columns_keep_trial_and_accept_the_run_header(runs, capsys):
    assert main(["ls", "--columns", "trial,run,flag_lr"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert [h for h in header if h.isidentifier()] == ["trial", "run", "flag_lr"]
    assert len(_names(out)) == 5


@pytest.mark.parametrize("bad", ["-3", "0", "ten"])
def test_a_bad_latest_names_the_option_and_what_it_takes(runs, capsys, bad):
    assert main(["ls", "--latest", bad]) == 2
    err = capsys.readouterr().err
    assert "--latest" in err and "positive whole number of runs" in err and "latest_n" not in err


def test_latest_is_applied_after_filter_in_cli_and_api(runs, capsys):
    failed = ls_runs(subset="status == 'failed'", latest_n=3)
    assert sorted(failed["run_dir"]) == sorted(runs[:2])
    assert list(ls_runs(subset="status == 'finished'", latest_n=1)["run_dir"]) == [runs[4]]
    assert main(["ls", "--filter", "status == 'failed'", "--latest", "3"]) == 0
    assert sorted(_names(capsys.readouterr().out)) == sorted(Path(r).name for r in runs[:2])


def test_text_among_numbers_compares_numerically_where_numbers(runs, capsys):
    chosen = ls_runs(subset="flag_lr > 0.2")
    assert sorted(chosen["flag_lr"]) == [0.25, 0.3]
    ordered = ls_runs(order="flag_lr", decreasing=False)
    assert list(ordered["flag_lr"]) == [0.05, 0.1, 0.25, 0.3, "abc"]  # text last
    assert main(["ls", "--filter", "flag_lr > 0.2", "--order", "flag_lr"]) == 0
    assert "Traceback" not in capsys.readouterr().err


def _tty_ls(width: int, *args: str) -> str:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, width, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_") and k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen([sys.executable, "-m", "tuner", "ls", *args], stdout=slave, stderr=slave, env=env,
                            cwd=os.getcwd())
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", b"".join(chunks).decode())


@pytest.mark.parametrize("width", [80, 100])
def test_narrow_terminal_never_splits_numbers_or_run_names(runs, width):
    out = _tty_ls(width)
    lines = out.splitlines()
    assert all(len(line) <= width for line in lines if not line.startswith("(")), out
    rows = [line for line in lines if re.match(r"2026-", line)]
    assert len(rows) == 5 and all(re.match(r"2026-\d\d-\d\dT\d\d-\d\d-\d\d", r) for r in rows)
    for row in rows:  # every cell holds a whole value
        cells = [c.strip() for c in row.split("│")]
        assert all(re.fullmatch(r"[\w:. -]*", c) for c in cells), row
    if "metric_val_acc" in lines[0]:
        assert re.search(r"0\.83\d\d", out)
    assert "more column" in out or width >= 100


@pytest.mark.parametrize("starts", [
    [50, 40, 30, 20, 10],          # the usual listing: newest first already (returned as it is)
    [50, 40, 40, 20, 10],          # two runs started at once: the name breaks the tie
    [50, None, 30, 20, 10],        # a run without a start: last
    [10, 20, 30, 40, 50],          # oldest first
], ids=["in-order", "tie", "missing", "reversed"])
@pytest.mark.parametrize("decreasing", [True, False])
def test_listing_order_is_by_start_then_name_however_the_rows_come(starts, decreasing):
    import pandas as pd

    from tuner.runs.listing import sort_runs

    names = ["runs/e", "runs/d", "runs/c", "runs/b", "runs/a"]
    frame = pd.DataFrame({"run_dir": names, "start": pd.to_datetime(
        [1.7e9 + s if s is not None else None for s in starts], unit="s", utc=True), "metric_x": range(5)})
    expected = sorted(range(5), key=lambda k: (starts[k] is None, -(starts[k] or 0) if decreasing else starts[k] or 0,
                                               names[k]))
    got = sort_runs(frame, "start", decreasing)
    assert list(got["metric_x"]) == expected
