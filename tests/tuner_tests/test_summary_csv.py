"""summary.csv (next to a sweep's journal) is one line per run, its numbers as they were logged: tuner.runs.csvfile."""

from __future__ import annotations

import csv
import io
import struct
from pathlib import Path

import pytest
from fabricate_runs import make_run

from tuner import ls_runs, tuning_run
from tuner.runs.csvfile import format_float, runs_csv
from tuner.tracking import write_run_metadata

SUMMARY = 'Model: "sequential"\n┏━━━━━━━━┳━━━━━━━━┓\n┃ Layer  ┃ Param #┃\n└────────┴────────┘\n Total params: 161'


def _f32(value: float) -> float:
    """A float32 widened to a float, as Keras' logs hand them over."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


@pytest.mark.parametrize("value, text", [
    (_f32(0.003), "0.003"), (_f32(0.8427), "0.8427"), (_f32(1e-5), "1e-05"), (_f32(0.1), "0.1"),
    (0.1, "0.1"), (1 / 3, "0.3333333333333333"), (0.30000000000000004, "0.30000000000000004"),  # float64: repr
    (8.0, "8.0"), (0.5, "0.5"), (1e300, "1e+300"), (float("inf"), "inf"), (float("-inf"), "-inf"), (float("nan"), ""),
])
def test_floats_are_the_shortest_text_of_their_float32_or_their_float(value: float, text: str) -> None:
    assert format_float(value) == text
    if text not in ("", "inf", "-inf"):
        back = float(text)
        assert back == value or _f32(back) == value  # reads back as the float, or as the same float32


def test_a_table_with_a_model_summary_a_traceback_and_multi_line_flags_is_one_line_per_run(workdir: Path) -> None:
    keras = make_run("runs", 1, {"lr": 0.003, "note": "two\nlines"}, {"epoch": [1, 2],
                     "val_acc": [_f32(0.8125), _f32(0.84269994)], "loss": [_f32(0.5), _f32(0.003)]})
    write_run_metadata("properties", {"optimizer": "Adam", "learning_rate": _f32(0.003), "model": SUMMARY}, run_dir=keras)
    make_run("runs", 2, {"lr": 0.1, "note": "x"}, {"epoch": [1], "val_acc": [0.5]}, status="failed",
             error={"message": "ValueError: bad\nsecond line", "traceback": ["Traceback (most recent call last):",
                                                                              "  File x", "ValueError: bad"]})
    frame = ls_runs(runs_dir="runs", order=None)
    assert {"model", "error_traceback"} <= set(frame.columns)  # the frame has them: the CSV leaves them out
    text = runs_csv(frame)
    lines = text.splitlines()
    assert len(lines) == 3, text  # header + one line per run
    rows = list(csv.DictReader(io.StringIO(text)))
    assert "model" not in rows[0] and "error_traceback" not in rows[0]
    keras_row, failed_row = sorted(rows, key=lambda r: r["flag_lr"])
    assert keras_row["metric_loss"] == "0.003" and keras_row["metric_val_acc"] == "0.84269994"
    assert keras_row["learning_rate"] == "0.003" and keras_row["optimizer"] == "Adam"
    assert keras_row["flag_note"] == "two\\nlines" and failed_row["error_message"] == "ValueError: bad\\nsecond line"
    assert failed_row["flag_lr"] == "0.1" and keras_row["flag_lr"] == "0.003"


KERAS_LIKE = """
import argparse, struct
from tuner import log_metrics, write_run_metadata
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float)
a = p.parse_args()
f32 = lambda v: struct.unpack("<f", struct.pack("<f", v))[0]  # what Keras' logs hold
write_run_metadata("properties", {"optimizer": "Adam", "learning_rate": f32(a.lr),
                                  "model": 'Model: "sequential"\\n| dense | 144 |\\n Total params: 161'})
for epoch in (1, 2):
    log_metrics(epoch=epoch, loss=f32(0.5 / epoch), val_acc=f32(0.8 + a.lr))
"""


@pytest.mark.slow
@pytest.mark.ray
def test_a_sweeps_summary_csv_is_one_line_per_run_with_short_numbers(ray_cluster, workdir: Path, write_script) -> None:
    write_script("train.py", KERAS_LIKE)
    frame = tuning_run("train.py", {"lr": [0.003, 0.01]}, address=ray_cluster, confirm=False, quiet=True)
    assert frame is not None and "model" in frame.columns
    text = (workdir / "runs" / "sweeps" / frame.attrs["sweep"] / "summary.csv").read_text()
    lines = text.splitlines()
    assert len(lines) == 3, text
    header = lines[0].split(",")
    assert "model" not in header and {"learning_rate", "metric_loss", "metric_val_acc"} <= set(header)
    rows = {r["flag_lr"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["0.003"]["learning_rate"] == "0.003" and rows["0.01"]["learning_rate"] == "0.01"
    assert rows["0.003"]["metric_loss"] == "0.25" and rows["0.003"]["metric_val_acc"] == "0.803"
    numbers = [v for r in rows.values() for k, v in r.items() if k.startswith(("metric_", "flag_", "learning"))]
    assert numbers and all(len(v) <= 6 for v in numbers), numbers  # no float noise (0.003000000026077032)
