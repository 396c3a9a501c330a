"""Keras callback and autolog: each epoch's logs become the run's metrics the moment the epoch ends.

Nothing here touches the GPU configuration: with fractional GPUs the sweep sets
TF_FORCE_GPU_ALLOW_GROWTH=true in the trial's environment, and TensorFlow reads it when it first
initialises a GPU, so two trials can share a card.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import signal
import threading
from typing import Any

try:  # Keras 3 (TensorFlow >= 2.16) first; tf.keras for older TensorFlow
    import keras
except ImportError:  # pragma: no cover - depends on the installed TensorFlow
    from tensorflow import keras

from tuner.store.layout import ENV_CHECKPOINT_DIR, RunPaths
from tuner.tracking import active_run_dir, log_metrics, write_run_metadata
from workers.files import read_json_lines

#: Keras' documented batch size when fit() gets arrays and no batch_size
KERAS_DEFAULT_BATCH_SIZE = 32


def _last_step(run_dir: str | None) -> int | float | None:
    if run_dir is None:
        return None
    rows, _ = read_json_lines(RunPaths(run_dir).metrics_jsonl)
    steps = [r["step"] for r in rows if isinstance(r.get("step"), (int, float)) and not isinstance(r["step"], bool)]
    return max(steps) if steps else None


def _name(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return getattr(value, "name", None) or getattr(value, "__name__", None) or type(value).__name__


def _learning_rate(optimizer: Any) -> float | None:
    try:
        return float(optimizer.learning_rate)  # a Keras variable (or a plain number)
    except Exception:  # a schedule or an optimizer without one: not worth failing the training over
        return None


def _summary(model: Any) -> str | None:
    lines: list[str] = []
    try:
        model.summary(print_fn=lambda line, *args, **kwargs: lines.append(str(line)))
    except Exception:  # e.g. a subclassed model that is not built yet
        return None
    return "\n".join(line.rstrip("\n") for line in lines) or None


class _SaveThenExit:
    """SIGTERM while fit() runs with a checkpoint (a sweep pausing the trial, a time limit): exit at once, except
    while an epoch's metrics and checkpoint are being written, which are finished first (a torn checkpoint would
    be worse than none). Keras' own BackupAndRestore does not handle signals; the previous handler comes back after
    fit(). Main thread only (Python runs signal handlers there)."""

    def __init__(self) -> None:
        self.previous: Any = None
        self.saving = False
        self.pending = False

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        with contextlib.suppress(ValueError, OSError):
            self.previous = signal.signal(signal.SIGTERM, self._handle)

    def uninstall(self) -> None:
        if self.previous is not None:
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signal.SIGTERM, self.previous)
            self.previous = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.saving:
            self.pending = True
            return
        raise SystemExit(128 + signum)

    @contextlib.contextmanager
    def critical(self) -> Any:
        self.saving = True
        try:
            yield
        finally:
            self.saving = False
        if self.pending:
            raise SystemExit(128 + signal.SIGTERM)


def _checkpoint_folder(checkpoint: bool | str | None) -> str | None:
    """Where fit() backs up to: `checkpoint` as a folder, or with None (auto) the run's $TUNER_CHECKPOINT_DIR (only
    inside a tune run: a plain `python train.py` is left as it was), False never."""
    if checkpoint is False:
        return None
    if isinstance(checkpoint, str):
        return checkpoint
    folder = os.environ.get(ENV_CHECKPOINT_DIR)
    return folder or None


class MetricsCallback(keras.callbacks.Callback):
    """Writes every epoch's logs (loss, val_loss, accuracy, custom metrics ...) to the run's metrics as the
    epoch ends, so the live view updates; records the training setup as properties when training starts:
    epochs (planned), steps_per_epoch, batch_size, optimizer, learning_rate, loss_function, model (summary).

    Steps are 1-based epochs. A second fit() in the same run continues the count instead of repeating it.
    Outside a tracked run (no `tune`/training_run) it warns once and records nothing, unless `run_dir` is given.

    Checkpoints (no code needed): inside a tune run the trial's checkpoint folder ($TUNER_CHECKPOINT_DIR) gets a
    backup at every epoch's end through Keras' own `BackupAndRestore` (weights, optimizer state, the epoch), and a
    later attempt of the trial (a retry, `tune resume`, a promotion) continues from it, its steps going on from
    there. Each fit() of the script has its own backup (`keras/fit-1`, `fit-2` ...), kept when fit() ends, so a
    trial resumed with more epochs continues. `checkpoint`: a folder of your own, or False for none.
    """

    def __init__(self, run_dir: str | None = None, batch_size: int | None = None,
                 checkpoint: bool | str | None = None) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.batch_size = batch_size
        self.checkpoint = checkpoint
        self._target: str | None = None
        self._last: int | float | None = None
        self._offset: int | float | None = None
        self._backup: Any = None
        self._guard = _SaveThenExit()

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        if self._backup is not None:
            self._backup.set_model(model)

    def _start_backup(self) -> None:
        """Keras' BackupAndRestore in this fit()'s own folder, restoring what a previous attempt saved."""
        folder = _checkpoint_folder(self.checkpoint)
        self._backup = None
        if folder is None:
            return
        calls = _fit_calls.setdefault(folder, 0) + 1
        _fit_calls[folder] = calls
        self._backup = keras.callbacks.BackupAndRestore(os.path.join(folder, "keras", f"fit-{calls}"),
                                                        double_checkpoint=True, delete_checkpoint=False)
        self._backup.set_model(self.model)
        self._backup.set_params(self.params)
        self._backup.on_train_begin()
        self._guard.install()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._backup is not None:
            self._backup.on_train_batch_end(batch, logs)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._backup is not None:
            self._backup.on_train_end(logs)
        self._guard.uninstall()

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._start_backup()
        self._target = self.run_dir or active_run_dir()
        self._last = _last_step(self._target)
        self._offset = None
        params = self.params or {}
        optimizer = getattr(self.model, "optimizer", None)
        properties = {
            "epochs": params.get("epochs"),
            "steps_per_epoch": params.get("steps"),
            "batch_size": self.batch_size,
            "optimizer": type(optimizer).__name__ if optimizer is not None else None,  # `Adam`, not `adam_1`
            "learning_rate": _learning_rate(optimizer) if optimizer is not None else None,
            "loss_function": _name(getattr(self.model, "loss", None)),
            "model": _summary(self.model),
        }
        write_run_metadata("properties", {k: v for k, v in properties.items() if v is not None},
                           run_dir=self._target)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self._offset is None:
            # a later fit() of the same run starts again at epoch 0: continue after the last recorded step
            self._offset = self._last - epoch if self._last is not None and epoch + 1 <= self._last else 0
            if self._offset and (self.params or {}).get("epochs") is not None:
                write_run_metadata("properties", {"epochs": self.params["epochs"] + self._offset},
                                   run_dir=self._target)
        # the row, then the checkpoint of the same epoch, neither cut short by a SIGTERM: a run stopped after an
        # epoch's row was read (a paused trial) continues after that epoch
        with self._guard.critical():
            log_metrics(step=epoch + 1 + self._offset, run_dir=self._target, **dict(logs or {}))
            if self._backup is not None:
                self._backup.on_epoch_end(epoch, logs)


class _EvaluationCallback(keras.callbacks.Callback):
    """Records model.evaluate()'s final logs as the run's evaluation."""

    def __init__(self, run_dir: str | None) -> None:
        super().__init__()
        self.run_dir = run_dir

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        if logs:
            write_run_metadata("evaluation", dict(logs), run_dir=self.run_dir)


#: fit() calls per checkpoint folder in this process: each fit() of a script has its own backup, found again by
#: its rank when the script runs again (a cache of this process' calls, not settings)
_fit_calls: dict[str, int] = {}
_patched: dict[str, Any] = {}
_patched_options: dict[str, Any] = {"evaluation": True, "run_dir": None}
_state = threading.local()  # inside fit(), evaluate() is fit's validation, not the model's evaluation


def _callback_list(bound: inspect.BoundArguments) -> list[Any] | None:
    """The call's callbacks as a new list; None for a prepared CallbackList, which is left as given."""
    given = bound.arguments.get("callbacks")
    if isinstance(given, keras.callbacks.CallbackList):
        return None
    return list(given or [])


def _default_batch_size(bound: inspect.BoundArguments) -> int | None:
    batch_size = bound.arguments.get("batch_size")
    if batch_size is None and hasattr(bound.arguments.get("x"), "shape"):
        return KERAS_DEFAULT_BATCH_SIZE
    return batch_size


def autolog(disable: bool = False, evaluation: bool = True, run_dir: str | None = None) -> None:
    """Add a MetricsCallback to every `Model.fit()` of this script that has none (opt-in, once at the top).

    With `evaluation=True`, `model.evaluate()` outside fit() also records its results as the run's
    evaluation (`eval_*` columns). `autolog(disable=True)` restores Keras' own methods.
    """
    model_class = keras.Model
    if disable:
        for name, (original, own) in _patched.items():
            if own:
                setattr(model_class, name, original)
            else:  # inherited from Keras' trainer: remove the override
                delattr(model_class, name)
        _patched.clear()
        return
    if _patched:
        _patched_options.update(evaluation=evaluation, run_dir=run_dir)
        return
    _patched_options.update(evaluation=evaluation, run_dir=run_dir)
    original_fit = model_class.fit
    original_evaluate = model_class.evaluate
    fit_signature = inspect.signature(original_fit)
    evaluate_signature = inspect.signature(original_evaluate)

    @functools.wraps(original_fit)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = fit_signature.bind(self, *args, **kwargs)
        callbacks = _callback_list(bound)
        if callbacks is not None and not any(isinstance(c, MetricsCallback) for c in callbacks):
            own_backup = any(isinstance(c, keras.callbacks.BackupAndRestore) for c in callbacks)
            callbacks.append(MetricsCallback(run_dir=_patched_options["run_dir"],
                                             batch_size=_default_batch_size(bound),
                                             checkpoint=False if own_backup else None))
            bound.arguments["callbacks"] = callbacks
        depth = getattr(_state, "fit_depth", 0)
        _state.fit_depth = depth + 1
        try:
            return original_fit(*bound.args, **bound.kwargs)
        finally:
            _state.fit_depth = depth

    @functools.wraps(original_evaluate)
    def evaluate(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(_state, "fit_depth", 0) or not _patched_options["evaluation"]:
            return original_evaluate(self, *args, **kwargs)
        bound = evaluate_signature.bind(self, *args, **kwargs)
        callbacks = _callback_list(bound)
        if callbacks is not None:
            callbacks.append(_EvaluationCallback(_patched_options["run_dir"]))
            bound.arguments["callbacks"] = callbacks
        return original_evaluate(*bound.args, **bound.kwargs)

    _patched.update(fit=(original_fit, "fit" in vars(model_class)),
                    evaluate=(original_evaluate, "evaluate" in vars(model_class)))
    model_class.fit = fit
    model_class.evaluate = evaluate

