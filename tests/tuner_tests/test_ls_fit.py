"""`tune ls` on a terminal fits it: the columns a user is looking at (the filter's and the order's, the flags that
differ, the ranking metric) come first, headers are short, and a line names what is left out and how to see it;
a filter leaves out the columns of the runs it dropped; piped output stays the full plain table."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from fabricate_runs import make_run

from tuner.cli import main
from tuner.console.columns import fit_columns, short_headers


def test_short_headers_drop_prefixes_unless_two_would_read_the_same() -> None:
    assert short_headers(["run_dir", "duration_s", "flag_learning_rate", "metric_val_acc", "eval_acc"]) == {
        "run_dir": "run", "duration_s": "time", "flag_learning_rate": "learning_rate", "metric_val_acc": "val_acc",
        "eval_acc": "eval_acc"}
    clash = short_headers(["flag_acc", "metric_acc", "flag_status", "status", "flag_run"])
    assert clash == {"flag_acc": "flag_acc", "metric_acc": "metric_acc", "flag_status": "flag_status",
                     "status": "status", "flag_run": "flag_run"}


def test_fit_chooses_what_the_user_looks_at_and_names_the_rest() -> None:
    candidates = ["run_dir", "status", "start", "duration_s", "flag_epochs", "flag_learning_rate", "flag_l2",
                  "metric_loss", "metric_val_acc", "sweep"]
    cells = {"run_dir": ["2026-12-07T20-35-13Z-5"] * 2, "status": ["finished"] * 2,
             "start": ["2026-12-07 20:35:14"] * 2, "duration_s": ["0.3s"] * 2, "flag_epochs": ["10"] * 2,
             "flag_learning_rate": ["0.5", "0.01"], "flag_l2": ["0", "0"], "metric_loss": ["0.44", "0.68"],
             "metric_val_acc": ["0.904", "0.652"], "sweep": ["20261207-203512-2c0f"] * 2}
    fitted = fit_columns(candidates, cells, 80, first=["flag_l2"], varying=["flag_learning_rate"],
                         metric="metric_val_acc")
    # run, status, then what the filter named (l2), then the varying flag and the metric; others as width allows
    assert fitted.columns[:3] == ["run_dir", "status", "flag_l2"]
    assert {"flag_learning_rate", "metric_val_acc"} <= set(fitted.columns) and "start" not in fitted.columns
    assert fitted.headers[:3] == ["run", "status", "l2"] and "learning_rate" in fitted.headers
    width = sum(max(len(h), *(len(t) for t in cells[c])) for c, h in zip(fitted.columns, fitted.headers))
    assert width + 3 * (len(fitted.columns) - 1) <= 80
    assert fitted.left_out == [c for c in candidates if c not in fitted.columns] and "start" in fitted.left_out


@pytest.fixture
def two_scripts(workdir: Path) -> None:
    """Runs of two scripts with their own flags and metrics, as a tour leaves them."""
    for i, lr in enumerate((0.01, 0.1, 1.0, 3.0)):
        make_run("runs", i, {"learning_rate": lr, "l2": 0.0, "epochs": 20, "seed": 0},
                 {"val_acc": [0.5, [0.652, 0.782, 0.904, 0.808][i]], "loss": [0.9, 0.5], "acc": [0.6, 0.8],
                  "val_loss": [0.8, 0.4]}, sweep="20261207-203512-2c0f", trial=i)
    for i in range(4, 6):
        make_run("runs", i, {"dropout1": 0.1 * i, "dropout2": 0.2, "units": 128, "optimizer": "rmsprop"},
                 {"val_accuracy": [0.91], "val_loss_other": [0.3]})


def test_a_filter_leaves_out_the_columns_of_the_runs_it_dropped(two_scripts: None,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "--filter", "metric_val_acc > 0.7"]) == 0  # piped: the full plain table
    header = capsys.readouterr().out.splitlines()[0].split()
    assert "flag_learning_rate" in header and "metric_val_acc" in header
    assert not [c for c in header if "dropout" in c or c in ("flag_units", "flag_optimizer", "metric_val_accuracy")]
    assert main(["ls"]) == 0  # without the filter every script's columns are there
    assert "flag_dropout1" in capsys.readouterr().out.splitlines()[0]


def _on_a_terminal(cwd: Path, columns: int, *args: str) -> str:
    """`tune ARGS` under a pseudo-terminal `columns` wide, as a person sees it (colours off)."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_") and k not in ("COLUMNS", "LINES")}
    env.update(TERM="xterm", NO_COLOR="1")
    proc = subprocess.Popen([sys.executable, "-m", "tuner", *args], cwd=cwd, env=env, stdin=secondary,
                            stdout=secondary, stderr=secondary, close_fds=True)
    os.close(secondary)
    out = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 60)
        try:
            data = os.read(primary, 65536) if ready else b""
        except OSError:  # the child closed its end
            data = b""
        if not data:
            break
        out += data
    os.close(primary)
    assert proc.wait(timeout=60) == 0, out
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode()).replace("\r\n", "\n")


def test_at_80_columns_the_tour_listing_shows_the_filtered_metric_and_the_flags(two_scripts: None,
                                                                                 workdir: Path) -> None:
    out = _on_a_terminal(workdir, 80, "ls", "--filter", "metric_val_acc > 0.7", "--order", "metric_val_acc")
    lines = out.splitlines()
    header = [cell.strip() for cell in lines[0].split("┃")]
    assert header[:3] == ["run", "status", "val_acc"] and "learning_rate" in header, out
    assert all(len(line) <= 80 for line in lines[:-1]), out  # the table fits; the last line says what is left
    assert len(lines) == 2 + 3 + 1, out  # header, rule, the three runs the filter keeps, the left-out line
    assert lines[-1].startswith("(") and "more columns: start" in lines[-1] and "`tune ls --wide`" in lines[-1]
    values = [line.split("│")[2].strip() for line in lines[2:5]]
    assert values == ["0.904", "0.808", "0.782"]  # ordered by the metric
    wide = _on_a_terminal(workdir, 80, "ls", "--filter", "metric_val_acc > 0.7", "--wide")
    assert "flag_learning_rate" in wide.splitlines()[0] and "start" in wide.splitlines()[0]  # every column


def test_a_wider_terminal_shows_more_and_the_default_listing_fits_too(two_scripts: None, workdir: Path) -> None:
    narrow = _on_a_terminal(workdir, 80, "ls").splitlines()
    broad = _on_a_terminal(workdir, 160, "ls").splitlines()
    assert all(len(line) <= 80 for line in narrow[:-1]) and all(len(line) <= 160 for line in broad[:-1])
    assert len(broad[0].split("┃")) > len(narrow[0].split("┃"))
    assert "learning_rate" in narrow[0] or "dropout1" in narrow[0]  # flags that differ, not only run/status/time
