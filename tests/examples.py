"""Checks of the shipped examples' runs, shared by the tests that run them."""

from __future__ import annotations

import json
from pathlib import Path


def check_digits_run(run_dir: Path, epochs: int) -> dict:
    """A finished examples/digits_mlp run: every epoch's metrics, the evaluation, its properties, TensorBoard
    events; returns the evaluation."""
    meta = run_dir / "tuner.d"
    metrics = [json.loads(line) for line in (meta / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == list(range(1, epochs + 1))
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(metrics[-1])
    evaluation = json.loads((meta / "evaluation.json").read_text())
    properties = json.loads((meta / "properties.json").read_text())
    assert properties["epochs"] == epochs and properties["optimizer"] == "Adam"
    assert list((run_dir / "tensorboard").rglob("events.out.tfevents*"))
    return evaluation
