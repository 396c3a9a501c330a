"""A metric that diverged is kept: inf, -inf and NaN logged or printed are read back as such (as MLflow keeps
them), listed, filtered and ordered; the files stay plain JSON that any reader parses."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.conftest import run_tune
from tuner import get_run, ls_runs, training_run

LOGGING = """
from tuner import flags, flag_numeric, log_metrics, write_run_metadata
F = flags(flag_numeric("final", 0.5))
log_metrics(step=1, loss=1.0)
log_metrics(step=2, loss=F["final"])
write_run_metadata("evaluation", {"loss": F["final"]})
"""

PRINTING = """
import argparse
p = argparse.ArgumentParser(); p.add_argument("--final", default="0.5"); a = p.parse_args()
print("epoch 1 loss: 1.0")
print(f"epoch 2 loss: {a.final}")
"""


@pytest.mark.parametrize("script", [LOGGING, PRINTING], ids=["log_metrics", "printed"])
def test_inf_and_nan_are_kept_listed_filtered_and_ordered(workdir: Path, write_script, script: str) -> None:
    write_script("train.py", script)
    for final in ("-inf", "0.5", "inf", "nan"):
        training_run("train.py", flags={"final": float(final) if script is LOGGING else final}, echo=False)
    runs = ls_runs(order="start", decreasing=False)
    assert len(runs) == 4
    finals = runs["metric_loss"].tolist()
    assert finals[:3] == [-math.inf, 0.5, math.inf] and math.isnan(finals[3])
    # the file is plain JSON (no bare NaN/Infinity tokens), and reads back as numbers
    first = Path(runs.run_dir.iloc[0]) / "tuner.d"
    name = "metrics.jsonl" if script is LOGGING else "printed_metrics.jsonl"
    if script is PRINTING and not (first / name).exists():
        name = "metrics.jsonl"
    last_line = (first / name).read_text().splitlines()[-1]
    assert json.loads(last_line, parse_constant=lambda c: pytest.fail(f"bare {c} in {name}"))["loss"] == "-inf"
    history = get_run(runs.run_dir.iloc[2]).history()
    assert history["loss"].tolist() == [1.0, math.inf]
    if script is LOGGING:
        assert runs["eval_loss"].tolist()[:3] == [-math.inf, 0.5, math.inf]
    # filters compare them as numbers; order puts -inf first and inf last of the values, NaN after them
    assert len(ls_runs("metrics.loss > 1e300")) == 1 and len(ls_runs("metrics.loss < -1e300")) == 1
    ordered = ls_runs(order="metrics.loss ASC")["metric_loss"].tolist()
    assert ordered[:3] == [-math.inf, 0.5, math.inf] and math.isnan(ordered[3])
    ordered = ls_runs(order="metrics.loss DESC")["metric_loss"].tolist()
    assert ordered[:3] == [math.inf, 0.5, -math.inf] and math.isnan(ordered[3])
    shown = run_tune("ls", "--order", "metrics.loss DESC", "--columns", "metric_loss", "--format", "csv", cwd=workdir)
    assert shown.returncode == 0, shown.stderr
    # in a table NaN is an empty cell, as a missing value (a DataFrame cannot tell them apart)
    assert shown.stdout.split()[1:] == ["inf", "0.5", "-inf", '""']
