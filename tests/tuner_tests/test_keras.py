"""tuner.keras: MetricsCallback and autolog record what Keras computed, as it happens."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.tensorflow

keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")

from tuner import ls_runs, training_run  # noqa: E402
from tuner.keras import MetricsCallback, autolog  # noqa: E402
from tuner.store.files import read_run  # noqa: E402
from tuner.store.layout import RunPaths  # noqa: E402
from tuner.tracking import unique_run_dir  # noqa: E402
from workers.files import atomic_write_json  # noqa: E402


def small_model(learning_rate: float = 0.01) -> "keras.Model":
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy", keras.metrics.AUC(name="auc")])
    return model


def data(n: int = 64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x.sum(axis=1) > 0).astype("float32")


@pytest.fixture
def run(workdir) -> str:
    run_dir = unique_run_dir("runs")
    os.makedirs(RunPaths(run_dir).meta)
    atomic_write_json(RunPaths(run_dir).run_json, {"status": "finished", "start": 1.0, "end": 2.0})
    return run_dir


class SeenMetrics(keras.callbacks.Callback):
    """Counts the rows of metrics.jsonl at the end of each epoch, after MetricsCallback."""

    def __init__(self, run_dir: str) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.counts: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        self.counts.append(len(read_run(self.run_dir).metrics))


def test_callback_metrics_match_keras_history_exactly_and_arrive_live(run):
    x, y = data()
    seen = SeenMetrics(run)
    history = small_model().fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0,
                                callbacks=[MetricsCallback(run_dir=run, batch_size=16), seen])
    rows = read_run(run).metrics
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert set(history.history) == {"loss", "accuracy", "auc", "val_loss", "val_accuracy", "val_auc"}
    for name, values in history.history.items():
        assert [r[name] for r in rows] == values  # exactly: the same floats, through JSON and back
    assert seen.counts == [1, 2, 3]  # each epoch is on disk when it ends: the live view updates


def test_callback_records_the_training_setup_as_properties(run):
    x, y = data()
    small_model(learning_rate=0.05).fit(x, y, epochs=2, batch_size=16, verbose=0,
                                        callbacks=[MetricsCallback(run_dir=run, batch_size=16)])
    properties = read_run(run).properties
    assert properties["epochs"] == 2
    assert properties["steps_per_epoch"] == 4
    assert properties["batch_size"] == 16
    assert properties["optimizer"] == "Adam"
    assert properties["learning_rate"] == pytest.approx(0.05)
    assert properties["loss_function"] == "binary_crossentropy"
    assert "Dense" in properties["model"] and "Total params" in properties["model"]
    row = ls_runs().iloc[0]
    assert (row["epochs"], row["epochs_completed"], row["optimizer"]) == (2, 2, "Adam")


def test_an_early_stop_shows_planned_and_completed_epochs(run):
    x, y = data()
    stop = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: epoch == 1 and setattr(
        model, "stop_training", True))
    model = small_model()
    model.fit(x, y, epochs=10, verbose=0, callbacks=[MetricsCallback(run_dir=run), stop])
    row = ls_runs().iloc[0]
    assert (row["epochs"], row["epochs_completed"]) == (10, 2)


def test_a_second_fit_continues_the_steps(run):
    x, y = data()
    model = small_model()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[MetricsCallback(run_dir=run)])
    model.fit(x, y, epochs=3, verbose=0, callbacks=[MetricsCallback(run_dir=run)])
    assert [r["step"] for r in read_run(run).metrics] == [1, 2, 3, 4, 5]
    assert read_run(run).properties["epochs"] == 5
    # resuming with initial_epoch keeps Keras' own numbering
    model.fit(x, y, epochs=7, initial_epoch=5, verbose=0, callbacks=[MetricsCallback(run_dir=run)])
    assert [r["step"] for r in read_run(run).metrics] == [1, 2, 3, 4, 5, 6, 7]


def test_outside_a_run_the_callback_records_nothing_and_training_goes_on(workdir):
    x, y = data()
    with pytest.warns(RuntimeWarning, match="no active run") if not _already_warned() else _nothing():
        history = small_model().fit(x, y, epochs=1, verbose=0, callbacks=[MetricsCallback()])
    assert len(history.history["loss"]) == 1
    assert list(workdir.iterdir()) == []


def _already_warned() -> bool:
    import tuner.tracking

    return tuner.tracking._warned_inactive


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_autolog_disable_restores_keras():
    autolog()
    assert "fit" in vars(keras.Model) and "evaluate" in vars(keras.Model)
    autolog()  # idempotent: one wrapper, not two
    assert vars(keras.Model)["fit"].__wrapped__ is not vars(keras.Model)["fit"]
    autolog(disable=True)
    assert "fit" not in vars(keras.Model) and "evaluate" not in vars(keras.Model)


AUTOLOG_SCRIPT = """
import json, os
import numpy as np
import keras
from tuner import run_dir
from tuner.keras import autolog

autolog()
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 4)).astype("float32")
y = (x.sum(axis=1) > 0).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
first = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0)
score = model.evaluate(x, y, verbose=0, return_dict=True)
plain = model.evaluate(x, y, verbose=0)  # a list: autolog must not change what evaluate returns
second = model.fit(x, y, epochs=1, batch_size=16, validation_split=0.25, verbose=0)
with open(os.path.join(run_dir(), "history.json"), "w") as f:
    json.dump({"first": first.history, "second": second.history, "score": score, "plain": plain}, f)
"""


def test_autolog_records_every_fit_and_the_evaluation(workdir, write_script):
    write_script("train.py", AUTOLOG_SCRIPT)
    frame = training_run("train.py", echo=False)
    run_dir = frame.iloc[0]["run_dir"]
    saved = json.loads(Path(run_dir, "history.json").read_text())
    data = read_run(run_dir)
    assert [r["step"] for r in data.metrics] == [1, 2, 3]
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert [r[name] for r in data.metrics] == saved["first"][name] + saved["second"][name]
    # the explicit evaluate() is the evaluation; fit's validation passes (which call evaluate) are not
    assert data.evaluation == saved["score"]
    assert isinstance(saved["plain"], list) and saved["plain"][0] == saved["score"]["loss"]
    assert data.properties["batch_size"] == 16  # the last fit's; the first used Keras' default 32
    assert data.properties["optimizer"] == "SGD"
    row = ls_runs().iloc[0]
    assert row["eval_loss"] == saved["score"]["loss"] and row["epochs_completed"] == 3


GROWTH_SCRIPT = """
import os
from tuner import log_metrics
log_metrics(step=1, growth=float(os.environ.get("TF_FORCE_GPU_ALLOW_GROWTH") == "true"),
            visible=float(os.environ.get("CUDA_VISIBLE_DEVICES", "") != ""))
"""


@pytest.mark.ray
@pytest.mark.parametrize("gpus, growth", [(0.5, 1.0), (1, 0.0)])
def test_fractional_gpu_trials_run_with_tensorflow_memory_growth(ray_cluster, workdir, write_script, gpus, growth):
    # the session cluster has 4 logical GPUs: what reaches the script is real, the card is not (no GPU here)
    from tuner import tuning_run

    write_script("train.py", GROWTH_SCRIPT)
    frame = tuning_run("train.py", flags={"x": [1, 2]}, confirm=False, quiet=True, gpus_per_trial=gpus,
                       address=ray_cluster)
    assert list(frame["metric_growth"]) == [growth, growth]
    assert list(frame["metric_visible"]) == [1.0, 1.0]


RESUMING_SCRIPT = """
import argparse, os, signal
import numpy as np
import keras
import tuner.keras
tuner.keras.autolog()
p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=5)
p.add_argument("--die_at", type=int, default=0)
a = p.parse_args()
fresh = not os.listdir(os.environ["TUNER_CHECKPOINT_DIR"])

class Die(keras.callbacks.Callback):  # the machine goes away during epoch `die_at` (before anything of it is saved)
    def on_epoch_end(self, epoch, logs=None):
        if fresh and epoch + 1 == a.die_at:
            os.kill(os.getpid(), signal.SIGKILL)

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 4)).astype("float32")
y = (x.sum(axis=1) > 0).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=a.epochs, batch_size=16, verbose=0, callbacks=[Die()])
print("optimizer_iterations:", int(model.optimizer.iterations.numpy()))
"""


@pytest.mark.ray
@pytest.mark.slow
def test_autolog_resumes_a_killed_trial_from_keras_backup_with_no_code_change(ray_cluster, workdir, write_script):
    """A plain autolog() script (no checkpoint code) killed in its 3rd epoch: the retry restores weights, optimizer
    state and the epoch through Keras' BackupAndRestore in the trial's folder, and its steps go on from 3."""
    from tuner import tuning_run

    write_script("train.py", RESUMING_SCRIPT)
    frame = tuning_run("train.py", flags={"epochs": [5, 6], "die_at": 3}, retries=1, confirm=False, quiet=True,
                       address=ray_cluster)
    for epochs in (5, 6):
        attempts = frame[frame["flag_epochs"] == epochs].sort_values("attempt")
        assert list(attempts["status"]) == ["failed", "finished"]
        first, second = (read_run(d) for d in attempts["run_dir"])
        assert [r["step"] for r in first.metrics] == [1, 2]
        assert [r["step"] for r in second.metrics] == list(range(3, epochs + 1))
        assert second.run["resumed_from"] == {"run": first.paths.name, "step": 3}
        log = Path(second.paths.output_log).read_text()
        # 4 batches an epoch: the optimizer went on from its saved state (3 epochs alone would count 12 fewer ...)
        assert f"optimizer_iterations: {4 * epochs}" in log
        backup = Path(second.run["checkpoint_dir"], "keras", "fit-1")
        assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == epochs
