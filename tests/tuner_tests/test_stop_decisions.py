"""Early stopping decides only on what a script really reported: whole steps of the sweep's --metric, never a
batch of an unfinished epoch, never a missing value read as NaN; and a stop is a decision about the step it
judged (the run keeps that step's value and stopped_at) that does not make a run that had already ended a
stopped one."""

from __future__ import annotations

import json
import math
import re
import sys
import textwrap
from pathlib import Path

import pytest

from tuner.search.driver import read_history
from tuner.search.stopping import AshaRule, AshaState, asha_stops
from tuner.store.files import read_metric_lines, write_metric_rows
from tuner.store.journal import Journal
from workers.process import FINISHED, RunSpec, run_process


def test_a_step_without_the_metric_is_not_in_its_history(tmp_path: Path) -> None:
    # was: the announcement's row {step: 1, rate: 0.04} had no loss, its loss was read as NaN, NaN counted as
    # diverged, and ASHA stopped the trial before it trained one batch
    run_dir = tmp_path / "run"
    (run_dir / "tuner.d").mkdir(parents=True)
    write_metric_rows(str(run_dir), [{"step": 1, "rate": 0.04}, {"step": 2, "loss": 0.5, "grad_norm": math.nan}],
                      str(run_dir / "tuner.d" / "printed_metrics.jsonl"))
    assert read_history(str(run_dir), "loss") == [(2.0, 0.5)]
    assert read_history(str(run_dir), "val_loss") == []
    histories = {"announced": read_history(str(run_dir), "val_loss"), "a": [(1.0, 0.3)], "b": [(1.0, 0.2)]}
    assert asha_stops(histories, ["announced"], "min", AshaRule(1, 2), AshaState()) == []


def test_a_printed_nan_of_the_metric_is_a_diverged_value(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "tuner.d").mkdir(parents=True)
    write_metric_rows(str(run_dir), [{"step": 1, "loss": math.nan}], str(run_dir / "tuner.d" / "printed_metrics.jsonl"))
    history = read_history(str(run_dir), "loss")
    assert len(history) == 1 and math.isnan(history[0][1])
    stops = asha_stops({"diverged": history, "a": [(1.0, 0.3)], "b": [(1.0, 0.2)]}, ["diverged"], "min",
                       AshaRule(1, 2), AshaState())
    assert [s.trial for s in stops] == ["diverged"]


WAITER = """
import os, sys, time
pid, ready, request = int(sys.argv[1]), sys.argv[2], sys.argv[3]
open(ready, "w").close()
def state():
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
while state() not in ("Z", "gone"):
    time.sleep(0.0002)
open(request, "w").write('{"reason": "asha: too late", "step": 1}')
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_stop_request_that_arrives_after_the_script_ended_leaves_it_finished(tmp_path: Path) -> None:
    """The script prints its last epoch and exits 0; the stop request lands a moment later, before the runner has
    seen the exit: the run is finished (it competes for best), not stopped."""
    (tmp_path / "waiter.py").write_text(WAITER)
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(f"""
        import os, subprocess, sys, time
        print("epoch 1 loss=0.5", flush=True)
        ready = {str(tmp_path / "ready")!r}
        subprocess.Popen([sys.executable, {str(tmp_path / "waiter.py")!r}, str(os.getpid()), ready, sys.argv[1]])
        while not os.path.exists(ready):
            time.sleep(0.005)
    """))
    meta = tmp_path / "run" / "tuner.d"
    stop = meta / "stop.json"
    spec = RunSpec(command=(sys.executable, str(script), str(stop)), cwd=str(tmp_path), run_dir=str(tmp_path / "run"),
                   run_json=str(meta / "run.json"), output_log=str(meta / "output.log"),
                   error_json=str(meta / "error.json"), record={}, stop_file=str(stop), kill_grace_s=1.0)
    outcome = run_process(spec)
    assert stop.exists()  # the request did come
    assert outcome.status == FINISHED and outcome.exit_code == 0
    assert json.loads((meta / "run.json").read_text())["status"] == "finished"


# A script that prints as Keras 3 does through a pipe (keras/src/utils/progbar.py, the bytes of the corpus'
# KERAS1): its settings announced before the first epoch, each epoch a header and \r-redrawn progress lines
# whose first batch's loss is far from the epoch's. It ignores SIGTERM for two more epochs, as a script that
# saves a checkpoint on the way out: what it prints then must not become the stopped run's result.
KERAS_LIKE = """
import argparse, signal, sys, time
p = argparse.ArgumentParser()
p.add_argument("--x", type=float, default=0.0)
p.add_argument("--epochs", type=int, default=6)
a = p.parse_args()
terminated = []
signal.signal(signal.SIGTERM, lambda *_: terminated.append(1))
print(f"Training model with learning rate=0.04 for {a.epochs} epochs.", flush=True)
print("Data size: 10000 samples", flush=True)
print("batch size=32", flush=True)
bar, empty = "\\x1b[32m" + "━" * 20 + "\\x1b[0m\\x1b[37m\\x1b[0m", "\\x1b[37m" + "━" * 20 + "\\x1b[0m"
left = None
for epoch in range(1, a.epochs + 1):
    if terminated:
        left = 2 if left is None else left - 1
        if left == 0:
            sys.exit(143)
    print(f"Epoch {epoch}/{a.epochs}", flush=True)
    sys.stdout.write(f"\\r\\x1b[1m 1/4\\x1b[0m {empty} \\x1b[1m1s\\x1b[0m 100ms/step - loss: 50.0000" + "\\b" * 60)
    sys.stdout.flush()
    for batch in (2, 3):
        time.sleep(0.06)
        sys.stdout.write(f"\\r\\x1b[1m {batch}/4\\x1b[0m {empty} \\x1b[1m0s\\x1b[0m 60ms/step - loss: {40 - batch:.4f}"
                         + "\\b" * 60)
        sys.stdout.flush()
    time.sleep(0.06)
    sys.stdout.write(f"\\r\\x1b[1m4/4\\x1b[0m {bar} \\x1b[1m0s\\x1b[0m 60ms/step - loss: {1 / epoch + a.x:.4f}"
                     f" - grad_norm: nan\\n")
    sys.stdout.flush()
"""


@pytest.mark.ray
@pytest.mark.slow
def test_asha_judges_whole_epochs_of_the_metric_and_a_stopped_run_keeps_the_judged_step(ray_cluster, workdir,
                                                                                        write_script) -> None:
    from tuner import tuning_run

    write_script("train.py", KERAS_LIKE)
    flags = {"x": [0.0, 0.05, 2.0, 3.0], "epochs": 6}
    frame = tuning_run("train.py", flags, metric="loss", mode="min", stop="asha", grace_period=1, reduction_factor=2,
                       confirm=False, quiet=True, max_concurrent=2)
    by_x = {row.flag_x: row for row in frame.itertuples()}
    assert set(frame.status) <= {"finished", "stopped"}
    assert by_x[0.0].status == "finished" and by_x[0.0].metric_loss == pytest.approx(1 / 6, abs=1e-4)
    stops = {r["trial"]: r for r in Journal(str(workdir / "runs" / "sweeps" / frame.attrs["sweep"])).read().records
             if r["type"] == "stop"}
    stopped = [row for row in frame.itertuples() if row.status == "stopped"]
    assert stopped and {row.flag_x for row in stopped} <= {0.05, 2.0, 3.0} and 3.0 in {row.flag_x for row in stopped}
    ran_on = 0
    for row in frame.itertuples():
        run = Path(row.run_dir) / "tuner.d"
        rows = read_metric_lines(str(run / "metrics.jsonl"))[0]
        # every row is a whole epoch: its value is the epoch's N/N line, never a batch's (50, 38, 37)
        assert [r["loss"] for r in rows] == [pytest.approx(1 / r["step"] + row.flag_x, abs=1e-4) for r in rows]
        assert {"rate", "size"}.isdisjoint(k for r in rows for k in r)  # settings, not metrics
        # another name's nan is kept for display, and decided nothing (the best trial has it at every step)
        assert all(math.isnan(r["grad_norm"]) for r in rows)
        assert rows and rows[0]["step"] == 1  # no trial was stopped before its first epoch
        if row.status == "stopped":
            judged = stops[row.trial]["step"]
            assert row.stopped_at == judged >= 1
            assert rows[-1]["step"] == judged  # what it printed while the stop was on its way is not its result
            assert row.metric_loss == pytest.approx(1 / judged + row.flag_x, abs=1e-4)
            epochs = [int(e) for e in re.findall(r"Epoch (\d+)/6", (run / "output.log").read_text())]
            ran_on += max(epochs) > judged
    assert ran_on  # a stopped trial did print epochs after the decision (it ignores SIGTERM for two)


KERAS_SCRIPT = """
import argparse, os, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import keras

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.04)
p.add_argument("--epochs", type=int, default=4)
a = p.parse_args()
print(f"Training model with learning rate={a.lr} for {a.epochs} epochs.")
rng = np.random.default_rng(0)
x = rng.normal(size=(512, 8)).astype("float32")
y = (x[:, :4].sum(axis=1) > 0).astype("float32")
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.SGD(a.lr), loss="binary_crossentropy", metrics=["accuracy"])


class Slow(keras.callbacks.Callback):  # batches slow enough to be drawn, as on a real dataset
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.01)


model.fit(x, y, epochs=a.epochs, batch_size=16, validation_split=0.25, verbose=1, callbacks=[Slow()])
model.evaluate(x, y, verbose=1)
"""


def _epoch_ends(log: str) -> dict[int, float]:
    """val_loss of each epoch's last progress drawing, read from output.log independently of the parser."""
    ends, epoch = {}, None
    for segment in re.split(r"[\r\n]", re.sub(r"\x1b\[[0-9;]*m|\x08", "", log)):
        header = re.fullmatch(r"Epoch (\d+)/\d+", segment.strip())
        if header:
            epoch = int(header.group(1))
        found = re.search(r"val_loss: ([\d.]+)", segment)
        if found and epoch is not None:
            ends[epoch] = float(found.group(1))
    return ends


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.tensorflow
def test_a_real_keras_script_under_asha_is_judged_on_whole_epochs(ray_cluster, workdir, write_script) -> None:
    pytest.importorskip("keras")
    from tuner import tuning_run

    write_script("train.py", KERAS_SCRIPT)
    frame = tuning_run("train.py", {"lr": [0.5, 0.3, 1e-5, 1e-6], "epochs": 4}, metric="val_loss", mode="min",
                       stop="asha", grace_period=1, reduction_factor=2, confirm=False, quiet=True, max_concurrent=2)
    stops = {r["trial"]: r for r in Journal(str(workdir / "runs" / "sweeps" / frame.attrs["sweep"])).read().records
             if r["type"] == "stop"}
    assert set(frame.status) == {"finished", "stopped"}  # the tiny learning rates lose at a rung
    for row in frame.itertuples():
        run = Path(row.run_dir) / "tuner.d"
        rows = read_metric_lines(str(run / "metrics.jsonl"))[0]
        ends = _epoch_ends((run / "output.log").read_text())
        assert rows and rows[0]["step"] == 1, row  # trained its first epoch at least
        assert [r["step"] for r in rows] == list(range(1, len(rows) + 1))
        assert [r["val_loss"] for r in rows] == [ends[r["step"]] for r in rows]  # each epoch's final value
        assert "rate" not in {k for r in rows for k in r}
        if row.status == "stopped":
            assert row.stopped_at == stops[row.trial]["step"] == rows[-1]["step"]
            assert row.metric_val_loss == rows[-1]["val_loss"]
        else:
            assert len(rows) == 4 and row.eval_loss > 0 and 0 <= row.eval_accuracy <= 1  # evaluate(): not a step


def test_the_judged_step_of_hyperband_is_the_step_of_the_report_it_counted() -> None:
    from tuner.search.driver import judged_step
    from tuner.search.stopping import Stop

    history = [(2.0, 0.5), (0.0, 0.9), (1.0, math.nan), (3.0, 0.4)]  # HF-like steps; a nan report is not counted
    assert judged_step(Stop("t", "wandb-hyperband", 2, 0.5, 0.3), history) == 2.0
    assert judged_step(Stop("t", "asha", 3, 0.4, 0.3), history) == 3.0
