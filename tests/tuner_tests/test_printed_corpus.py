"""The printed-output corpus (printed_corpus.py): every block of real library output yields exactly its rows and
evaluation, the same whether the whole text is parsed at once, fed to the live line hook in whatever chunks the
pipe delivers, or printed by a real trial whose run is then settled; and no row the live hook ever writes (what
the stopping rule judges) is a partial step."""

from __future__ import annotations

import json
import math
import random
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.tuner_tests.printed_corpus import BLOCKS, Block
from tuner.capture.stdout_metrics import LiveMetrics, parse_metric_lines
from tuner.settings import load_settings
from tuner.spec import after_run
from tuner.store.files import read_metric_lines
from workers.process import RunSpec, _Lines, run_process

PATTERN = load_settings().stdout_metrics_pattern
IDS = [block.name for block in BLOCKS]


def comparable(value: Any) -> Any:
    """NaN compares equal to NaN; timestamps are the write's, not the script's."""
    if isinstance(value, list):
        return [comparable(v) for v in value]
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k != "timestamp"}
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def test_the_corpus_is_large_and_covers_each_library() -> None:
    lines = sum(block.text.count("\n") + block.text.count("\r") for block in BLOCKS)
    assert len(BLOCKS) >= 40 and lines >= 400
    sources = " ".join(block.source for block in BLOCKS)
    for library in ("Keras 3", "tqdm", "Lightning", "transformers", "XGBoost", "LightGBM", "scikit-learn", "pytorch"):
        assert library in sources, library


@pytest.mark.parametrize("block", BLOCKS, ids=IDS)
def test_each_block_yields_its_rows(block: Block) -> None:
    from tuner.capture.stdout_metrics import MetricLines

    parser = MetricLines(PATTERN, block.ignore)
    for line in block.text.split("\n"):
        parser.feed(line)
    parser.finish(block.completed)
    assert comparable(parser.rows()) == comparable(block.rows)
    assert comparable(parser.evaluation) == comparable(block.evaluation)
    assert comparable(parse_metric_lines(block.text, PATTERN, block.ignore, block.completed)) == comparable(block.rows)


def _final_row(block: Block, step: Any) -> dict[str, Any] | None:
    return next((row for row in block.rows if row["step"] == step), None)


@pytest.mark.parametrize("block", BLOCKS, ids=IDS)
def test_the_live_hook_writes_only_whole_steps_and_settles_to_the_same_rows(tmp_path: Path, block: Block) -> None:
    """Fed through workers' line splitter in random chunks (as a pipe delivers them), ticking after each: every row
    the file holds at any moment is the step's final row or a part of it with the same values (a partial batch's
    loss is never there to be judged), and after_run settles the file into exactly the block's rows."""
    data = block.text.encode()
    for seed in range(3):
        run_dir = tmp_path / f"run{seed}"
        (run_dir / "tuner.d").mkdir(parents=True)
        printed = run_dir / "tuner.d" / "printed_metrics.jsonl"
        lines = _Lines((LiveMetrics, (str(run_dir), PATTERN, block.ignore, 0.0)))
        rng = random.Random(seed)
        position = 0
        while position < len(data):
            size = rng.choice([1, 7, 64, 4096])
            lines.feed("out", data[position:position + size])
            position += size
            lines.tick()
            if printed.exists() and not block.retracts:
                for row in comparable(read_metric_lines(str(printed))[0]):
                    final = _final_row(block, row["step"])
                    assert final is not None, f"{block.name}: step {row['step']} written but never a step"
                    final = comparable(final)
                    assert {k: final.get(k) for k in row} == row, f"{block.name}: a partial row was written"
        lines.close(block.completed)
        after_run(str(run_dir), PATTERN)
        settled = run_dir / "tuner.d" / "metrics.jsonl"
        rows = read_metric_lines(str(settled))[0] if settled.exists() else []
        assert comparable(rows) == comparable(block.rows)
        evaluation = run_dir / "tuner.d" / "evaluation.json"
        assert comparable(json.loads(evaluation.read_text()) if evaluation.exists() else {}) \
            == comparable(block.evaluation)
        assert not printed.exists()


PRINTER = """
import os, random, sys, time
data = open(sys.argv[1], "rb").read()
rng = random.Random(len(data))
position = 0
while position < len(data):
    size = rng.choice([1, 16, 300, 5000])
    os.write(1, data[position:position + size])
    position += size
    if rng.random() < 0.2:
        time.sleep(0.002)
if sys.argv[2] == "hang":
    open(sys.argv[3], "w").write("printed")
    time.sleep(60)
"""


@pytest.mark.slow
def test_real_trials_printing_each_block_record_its_rows(tmp_path: Path) -> None:
    """Each block printed by a real script through the real runner (its line hook, its stop request for the blocks
    of stopped runs) and settled by after_run: the run's metrics and evaluation are the block's."""
    script = tmp_path / "printer.py"
    script.write_text(textwrap.dedent(PRINTER))
    failures = []
    for block in BLOCKS:
        folder = tmp_path / block.name
        meta = folder / "tuner.d"
        meta.mkdir(parents=True)
        (folder / "block.txt").write_bytes(block.text.encode())
        printed, stop = folder / "printed", meta / "stop.json"
        spec = RunSpec(command=(sys.executable, str(script), str(folder / "block.txt"),
                                "exit" if block.completed else "hang", str(printed)),
                       cwd=str(folder), run_dir=str(folder), run_json=str(meta / "run.json"),
                       output_log=str(meta / "output.log"), error_json=str(meta / "error.json"), record={},
                       line_hook=(LiveMetrics, (str(folder), PATTERN, block.ignore, 0.0)), stop_file=str(stop),
                       kill_grace_s=1.0)
        if not block.completed:
            import threading
            import time

            def request_stop(printed: Path = printed, stop: Path = stop) -> None:
                while not printed.exists():
                    time.sleep(0.01)
                time.sleep(0.1)  # the runner has read what the script printed
                stop.write_text(json.dumps({"reason": "test"}))

            threading.Thread(target=request_stop, daemon=True).start()
        outcome = run_process(spec)
        assert outcome.status == ("finished" if block.completed else "stopped"), (block.name, outcome)
        after_run(str(folder), PATTERN)
        metrics = meta / "metrics.jsonl"
        rows = read_metric_lines(str(metrics))[0] if metrics.exists() else []
        evaluation = json.loads((meta / "evaluation.json").read_text()) if (meta / "evaluation.json").exists() else {}
        if comparable(rows) != comparable(block.rows) or comparable(evaluation) != comparable(block.evaluation):
            failures.append((block.name, rows, evaluation))
    assert failures == []
