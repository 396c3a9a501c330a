"""The script side of a run: what train.py calls (run_dir, log_metrics, write_run_metadata ...).

Cheap to import, because every trial of a sweep imports it: no pandas, no Ray, no settings unless a
function needs them.
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Any, Callable, Mapping

from tuner.errors import TunerError
from tuner.store.files import read_mapping, write_metric_rows
from tuner.store.layout import ENV_CHECKPOINT_DIR, ENV_RUN_DIR, META_DIR, RunPaths, make_run_dir
from workers.files import append_json_line, atomic_write_json, read_json_lines


def active_run_dir() -> str | None:
    value = os.environ.get(ENV_RUN_DIR)
    return value if value else None


def run_dir() -> str:
    """The active run's directory, else the working directory (as tfruns)."""
    return active_run_dir() or os.getcwd()


def tensorboard_dir() -> str:
    """The active run's TensorBoard log folder (`<run_dir>/tensorboard`, created), else ./tensorboard.

    Give it to Keras' TensorBoard callback or tf.summary.create_file_writer; `tune tensorboard SWEEP` then
    shows a sweep's runs side by side. Scripts that do not import tuner find it in $TUNER_TENSORBOARD_DIR.
    """
    path = RunPaths(run_dir()).tensorboard_dir
    os.makedirs(path, exist_ok=True)
    return path


def checkpoint_dir() -> str:
    """The folder to save checkpoints into and continue from (created): $TUNER_CHECKPOINT_DIR inside a run (a sweep
    trial's own folder, kept across its attempts, pauses and resumes), else `tuner.d/checkpoint` of run_dir().

    The contract: if it holds a checkpoint, continue from it (and report metrics from the step it continues at);
    save into it as you go; on SIGTERM save if you can and exit. Scripts that do not import tuner read the same
    folder from $TUNER_CHECKPOINT_DIR (or get it as `${checkpoint_dir}` in a command template).
    """
    path = os.environ.get(ENV_CHECKPOINT_DIR) or RunPaths(run_dir()).checkpoint_dir
    os.makedirs(path, exist_ok=True)
    return path


def is_run_active() -> bool:
    """True inside a script launched by training_run / a sweep."""
    return active_run_dir() is not None


_warned_inactive = False


def recording_dir(run_dir: str | None) -> str | None:
    """The run folder a script-side call records into (`run_dir`, else the active run's, with its tuner.d/ made);
    None outside a run, said once per process (the script still runs, it just records nothing)."""
    global _warned_inactive
    target = run_dir or active_run_dir()
    if target is None:
        if not _warned_inactive:
            _warned_inactive = True
            warnings.warn("tuner: no active run and no run_dir given, so run metadata is not recorded "
                          "(run the script with `tune SCRIPT` or training_run() to record it)",
                          RuntimeWarning, stacklevel=3)
        return None
    os.makedirs(os.path.join(target, META_DIR), exist_ok=True)
    return target


def _columns_to_rows(data: Any) -> list[dict[str, Any]]:
    """Metrics as a DataFrame or a mapping of columns -> rows with `step`; all-null rows are future epochs."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        columns = {str(c): list(data[c]) for c in data.columns}
    elif isinstance(data, Mapping):
        columns = {str(k): _as_column(v) for k, v in data.items()}
    else:
        raise TunerError(f"write_run_metadata('metrics'): expected a DataFrame or a mapping of columns, "
                         f"got {type(data).__name__}")
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise TunerError(f"write_run_metadata('metrics'): columns have different lengths {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    step_key = "step" if "step" in columns else "epoch" if "epoch" in columns else None
    rows = []
    for i in range(n):
        row: dict[str, Any] = {"step": columns[step_key][i] if step_key else i + 1}
        for name, values in columns.items():
            if name in ("step", "epoch", "timestamp"):
                continue
            row[name] = _none_if_nan(values[i])
        rows.append(row)
    return rows


def _as_column(values: Any) -> list[Any]:
    """A sequence (list, tuple, array, Series) as a list; a single value as a one-step column."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        return [values]
    return list(values)


def _none_if_nan(value: Any) -> Any:
    try:
        if value is None or value != value:  # NaN is the only value not equal to itself
            return None
    except (TypeError, ValueError):
        return value
    return value.item() if hasattr(value, "item") else value


def write_run_metadata(type: str, data: Any, run_dir: str | None = None) -> None:
    """Record metadata of the active run (or of `run_dir`); without either it warns once and does nothing.

    Types: flags, properties, metrics, evaluation, error (mappings or a DataFrame for metrics),
    sources (a folder to snapshot), or any other name with a callable that receives tuner.d/.
    """
    if type not in _WRITERS and not callable(data):
        raise TunerError(f"write_run_metadata: unknown type '{type}' needs a callable that receives the "
                         f"metadata folder; known types: {', '.join(sorted(_WRITERS))}")
    target = recording_dir(run_dir)
    if target is None:
        return
    paths = RunPaths(target)
    if type in _WRITERS:
        _WRITERS[type](paths, data)
    else:
        data(paths.meta)


def _write_mapping(attr: str, merge: bool = False, numbers: bool = False) -> Callable[[RunPaths, Any], None]:
    """`numbers`: the values are metrics (evaluation): NaN and inf are kept, as in metric files."""
    def write(paths: RunPaths, data: Any) -> None:
        if not isinstance(data, Mapping):
            raise TunerError(f"write_run_metadata: expected a mapping, got {type(data).__name__}")
        path = getattr(paths, attr)
        current = read_mapping(path) if merge else {}
        atomic_write_json(path, {**current, **{str(k): v for k, v in data.items()}}, nonfinite_as_text=numbers)
    return write


def _write_metrics(paths: RunPaths, data: Any) -> None:
    write_metric_rows(paths.run_dir, _columns_to_rows(data))


def _write_sources(paths: RunPaths, data: Any) -> None:
    from tuner.capture.sources import snapshot_sources

    snapshot_sources(os.fspath(data), paths.source_dir)


_WRITERS: dict[str, Callable[[RunPaths, Any], None]] = {
    "flags": _write_mapping("flags_json"),
    "properties": _write_mapping("properties_json", merge=True),
    "evaluation": _write_mapping("evaluation_json", merge=True, numbers=True),
    "error": _write_mapping("error_json"),
    "metrics": _write_metrics,
    "sources": _write_sources,
    "source": _write_sources,
}


_step_counters: dict[str, int] = {}


def log_metrics(step: int | float | None = None, run_dir: str | None = None, **values: Any) -> None:
    """Append one step of metrics (`log_metrics(epoch=3, loss=0.2, val_loss=0.3)`); the live view picks it up."""
    target = recording_dir(run_dir)
    if target is None:
        return
    paths = RunPaths(target)
    if step is None and "epoch" in values:
        step = values.pop("epoch")
    if step is None:
        if paths.metrics_jsonl not in _step_counters:
            _step_counters[paths.metrics_jsonl] = len(read_json_lines(paths.metrics_jsonl)[0])
        step = _step_counters[paths.metrics_jsonl] + 1
    _step_counters[paths.metrics_jsonl] = int(step) if float(step).is_integer() else _step_counters.get(
        paths.metrics_jsonl, 0) + 1
    record = {"step": step, "timestamp": time.time()}
    # a NaN or inf logged is kept (a diverged run says so, as in MLflow); None is "no value at this step"
    record.update({str(k): v.item() if hasattr(v, "item") else v for k, v in values.items()})
    append_json_line(paths.metrics_jsonl, record, nonfinite_as_text=True)




def unique_run_dir(runs_dir: str | os.PathLike[str] | None = None, seconds_scale: int = 0,
                   label: str | None = None) -> str:
    """Create and return a new run directory named by the current UTC time (tfruns' unique_run_dir), in
    `runs_dir` or the settings' runs directory; two processes never get the same one. `label` (letters, digits,
    `.`, `_`, `-`) follows the time: a sweep's trials are `2026-12-07T20-15-17Z-03`, trial 3."""
    if runs_dir is None:
        from tuner.settings import load_settings

        runs_dir = load_settings().runs_dir
    return make_run_dir(runs_dir, seconds_scale, label)
