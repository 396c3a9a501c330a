"""The run directory: the only module that knows the file names inside one (DESIGN section 4).

A directory under the runs directory is a run iff it holds `tuner.d/`. Everything written here is
atomic (temp file + rename) or a single-write append, so a crash never leaves a file that breaks a reader.
"""

from __future__ import annotations

import datetime as _dt
import enum
import os
import shutil
import stat as _stat
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from workers.files import append_json_line, atomic_write_json, atomic_write_text, dumps_json, read_json, read_json_lines

from .errors import RunNotFoundError, TunerError

META_DIR = "tuner.d"
ARCHIVE_DIR = "archive"
#: the listing index and its lock, in the runs directory (tuner.index); rebuilt from the runs at any time
INDEX_FILE = ".tuner-index.json"
INDEX_LOCK = ".tuner-index.lock"
#: environment variables the runner hands to the script
ENV_RUN_DIR = "TUNER_RUN_DIR"
ENV_FLAGS_JSON = "TUNER_FLAGS_JSON"
ENV_TENSORBOARD_DIR = "TUNER_TENSORBOARD_DIR"
#: folders inside a run directory that are not artifacts
NON_ARTIFACTS = frozenset({META_DIR, "logs", "tensorboard"})


class RunStatus(str, enum.Enum):
    """Lifecycle of a run. `lost` is derived on read from a stale heartbeat, and written by `tune resume`
    when it settles the runs of a dead driver."""

    QUEUED = "queued"  # a sweep trial submitted to Ray, waiting for a free slot
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    KILLED = "killed"
    TIMEOUT = "timeout"
    LOST = "lost"


@dataclass(frozen=True)
class RunPaths:
    """Every file name of one run, in one place."""

    run_dir: str

    @property
    def name(self) -> str:
        return os.path.basename(os.path.normpath(self.run_dir))

    @property
    def meta(self) -> str:
        return os.path.join(self.run_dir, META_DIR)

    def _m(self, name: str) -> str:
        return os.path.join(self.run_dir, META_DIR, name)

    run_json = property(lambda self: self._m("run.json"))
    flags_json = property(lambda self: self._m("flags.json"))
    metrics_jsonl = property(lambda self: self._m("metrics.jsonl"))
    evaluation_json = property(lambda self: self._m("evaluation.json"))
    properties_json = property(lambda self: self._m("properties.json"))
    error_json = property(lambda self: self._m("error.json"))
    tags_json = property(lambda self: self._m("tags.json"))
    tags_lock = property(lambda self: self._m(".tags.lock"))
    mlflow_json = property(lambda self: self._m("mlflow.json"))  # where tune export mlflow put the run
    used_artifacts_jsonl = property(lambda self: self._m("used_artifacts.jsonl"))
    output_log = property(lambda self: self._m("output.log"))
    source_dir = property(lambda self: self._m("source"))
    git_diff = property(lambda self: self._m("git.diff"))

    @property
    def tensorboard_dir(self) -> str:
        return os.path.join(self.run_dir, "tensorboard")

    def is_run(self) -> bool:
        return os.path.isdir(self.meta)


# ---------------------------------------------------------------------------------------------------
# Run directories

def run_dir_name(when: float, seconds_scale: int = 0) -> str:
    """`%Y-%m-%dT%H-%M-%SZ` in UTC, with `seconds_scale` decimal digits of seconds (truncated, as tfruns)."""
    stamp = _dt.datetime.fromtimestamp(when, tz=_dt.timezone.utc)
    base = stamp.strftime("%Y-%m-%dT%H-%M-%S")
    if seconds_scale > 0:
        fraction = int((when % 1) * 10**seconds_scale)
        base += "." + str(fraction).zfill(seconds_scale)[:seconds_scale]
    return base + "Z"


def unique_run_dir(runs_dir: str | os.PathLike[str] | None = None, seconds_scale: int = 0) -> str:
    """Create and return a new run directory named by the current UTC time.

    Creation is `os.mkdir`, which fails when the name exists, so two processes (two sweeps at once)
    never get the same directory: the loser waits for the next tick and tries again.
    """
    if not isinstance(seconds_scale, int) or not 0 <= seconds_scale <= 6:
        raise TunerError(f"unique_run_dir: seconds_scale must be an integer 0..6, got {seconds_scale!r}")
    runs = str(runs_dir) if runs_dir is not None else _default_runs_dir()
    ensure_runs_dir(runs)
    tick = 1.0 / 10**seconds_scale
    while True:
        now = time.time()
        path = os.path.join(runs, run_dir_name(now, seconds_scale))
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            # sleep just past the start of the next tick
            time.sleep(tick - (now % tick) + tick / 100)


def ensure_runs_dir(runs_dir: str) -> None:
    if os.path.exists(runs_dir) and not os.path.isdir(runs_dir):
        raise TunerError(f"runs directory '{runs_dir}' is a file; pass --runs-dir with a folder path "
                         "or remove the file")
    os.makedirs(runs_dir, exist_ok=True)


def _default_runs_dir() -> str:
    from .settings import load_settings

    return load_settings().runs_dir


def list_run_dirs(runs_dir: str) -> list[str]:
    """Run directories directly under `runs_dir` (those holding tuner.d/), newest name first."""
    return [path for path in (os.path.join(runs_dir, n) for n in scan_run_names(runs_dir))
            if os.path.isdir(os.path.join(path, META_DIR))]


#: (tuner.d inode, ctime, mtime; metrics.jsonl inode, ctime, size): changes whenever a row could change
Signature = tuple[int, int, int, int, int, int]


def run_signature(run_dir: str) -> Signature | None:
    """What a stat says about a run's metadata, or None when `run_dir` is not a run.

    Every metadata file but metrics.jsonl is replaced atomically (temp + rename), which changes the
    ctime of tuner.d/; metrics.jsonl is appended to, which changes its ctime and size. ctime, unlike
    mtime, cannot be set back by a copy that preserves times, and the inode tells a replaced run apart.
    """
    meta_dir = run_dir + os.sep + META_DIR  # plain concatenation: this runs 10^4 times per listing
    try:
        meta = os.stat(meta_dir)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not _stat.S_ISDIR(meta.st_mode):
        return None
    try:
        metrics = os.stat(meta_dir + os.sep + "metrics.jsonl")
        tail = (metrics.st_ino, metrics.st_ctime_ns, metrics.st_size)
    except (FileNotFoundError, NotADirectoryError):
        tail = (0, 0, -1)
    return (meta.st_ino, meta.st_ctime_ns, meta.st_mtime_ns) + tail


def scan_run_names(runs_dir: str) -> list[str]:
    """Names of the folders directly under `runs_dir` that may be runs (not the archive, not hidden), newest first.

    Cheaper than list_run_dirs (no stat per entry); callers check each with run_signature.
    """
    try:
        entries = list(os.scandir(runs_dir))
    except (FileNotFoundError, NotADirectoryError):
        return []
    names = [e.name for e in entries if e.name != ARCHIVE_DIR and not e.name.startswith(".") and e.is_dir()]
    return sorted(names, reverse=True)


def resolve_run_dir(run: Any, runs_dir: str | None = None) -> str:
    """A run given as a path, a run name in `runs_dir`, an ls_runs row/frame, or a mapping with run_dir."""
    value = run
    if hasattr(value, "columns") and hasattr(value, "iloc"):  # a DataFrame
        if "run_dir" not in value.columns:
            raise RunNotFoundError("data frame does not contain a run_dir column")
        if len(value) != 1:
            raise RunNotFoundError(f"expected one run, got a data frame of {len(value)} rows")
        value = value.iloc[0]["run_dir"]
    elif hasattr(value, "get") and not isinstance(value, (str, os.PathLike)):
        if value.get("run_dir") is None:
            raise RunNotFoundError("mapping does not contain a run_dir")
        value = value.get("run_dir")
    text = os.fspath(value)
    runs = runs_dir if runs_dir is not None else _default_runs_dir()
    candidates = [text]
    if is_plain_name(text):  # a run name is looked up inside the runs directory, never outside it
        candidates.append(os.path.join(runs, text))
    for candidate in candidates:
        if RunPaths(candidate).is_run():
            return os.path.normpath(candidate)
    for candidate in candidates:
        if os.path.isdir(candidate):
            raise RunNotFoundError(f"'{candidate}' is a folder but not a run (it has no {META_DIR}/)")
    raise RunNotFoundError(f"run '{text}' not found (looked in '{runs}'); list runs with `tune ls`")


def is_plain_name(name: str) -> bool:
    """A single path component that cannot escape a folder: no separators, not '.' or '..'."""
    return bool(name) and name not in (".", "..") and "/" not in name and os.sep not in name and "\0" not in name


# ---------------------------------------------------------------------------------------------------
# The active run (inside a script started by the runner)

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


def is_run_active() -> bool:
    """True inside a script launched by training_run / a sweep."""
    return active_run_dir() is not None


_warned_inactive = False


def _target_dir(run_dir: str | None) -> str | None:
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


# ---------------------------------------------------------------------------------------------------
# Writers

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
    target = _target_dir(run_dir)
    if target is None:
        return
    paths = RunPaths(target)
    if type in _WRITERS:
        _WRITERS[type](paths, data)
    else:
        data(paths.meta)


def _write_mapping(attr: str, merge: bool = False) -> Callable[[RunPaths, Any], None]:
    def write(paths: RunPaths, data: Any) -> None:
        if not isinstance(data, Mapping):
            raise TunerError(f"write_run_metadata: expected a mapping, got {type(data).__name__}")
        path = getattr(paths, attr)
        current = read_mapping(path) if merge else {}
        atomic_write_json(path, {**current, **{str(k): v for k, v in data.items()}})
    return write


def _write_metrics(paths: RunPaths, data: Any) -> None:
    write_metric_rows(paths.run_dir, _columns_to_rows(data))


def write_metric_rows(run_dir: str, rows: list[dict[str, Any]]) -> None:
    """Replace the run's metrics with `rows` (each with `step`), atomically; rows without a timestamp get now."""
    now = time.time()
    atomic_write_text(RunPaths(run_dir).metrics_jsonl,
                      "".join(dumps_json({**row, "timestamp": row.get("timestamp", now)}) + "\n" for row in rows))


def _write_sources(paths: RunPaths, data: Any) -> None:
    from .sources import snapshot_sources

    snapshot_sources(os.fspath(data), paths.source_dir)


_WRITERS: dict[str, Callable[[RunPaths, Any], None]] = {
    "flags": _write_mapping("flags_json"),
    "properties": _write_mapping("properties_json", merge=True),
    "evaluation": _write_mapping("evaluation_json", merge=True),
    "error": _write_mapping("error_json"),
    "metrics": _write_metrics,
    "sources": _write_sources,
    "source": _write_sources,
}

_step_counters: dict[str, int] = {}


def log_metrics(step: int | float | None = None, run_dir: str | None = None, **values: Any) -> None:
    """Append one step of metrics (`log_metrics(epoch=3, loss=0.2, val_loss=0.3)`); the live view picks it up."""
    target = _target_dir(run_dir)
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
    record.update({str(k): _none_if_nan(v) for k, v in values.items()})
    append_json_line(paths.metrics_jsonl, record)


# ---------------------------------------------------------------------------------------------------
# Readers: tolerant, every problem becomes a warning string instead of an exception

def read_mapping(path: str) -> dict[str, Any]:
    try:
        data = read_json(path)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class RunData:
    """What one run directory holds, read tolerantly (the input of ls_runs rows, views and records)."""

    paths: RunPaths
    run: dict[str, Any]
    flags: dict[str, Any]
    metrics: list[dict[str, Any]]
    evaluation: dict[str, Any]
    properties: dict[str, Any]
    error: dict[str, Any]
    tags: dict[str, Any]
    problems: list[str]


def _read_checked(path: str, problems: list[str]) -> dict[str, Any]:
    try:
        data = read_json(path)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: unreadable ({exc.__class__.__name__})")
        return {}
    if not isinstance(data, dict):
        problems.append(f"{path}: expected a JSON object")
        return {}
    return data


def read_run(run_dir: str, with_metrics: bool = True) -> RunData:
    paths = RunPaths(run_dir)
    problems: list[str] = []
    run = _read_checked(paths.run_json, problems)
    if not run and not problems and not os.path.exists(paths.run_json):
        problems.append(f"{paths.run_json}: missing")
    metrics: list[dict[str, Any]] = []
    if with_metrics:
        metrics, bad = read_json_lines(paths.metrics_jsonl)
        if bad > 1:
            problems.append(f"{paths.metrics_jsonl}: {bad} unreadable lines skipped")
    return RunData(paths=paths, run=run, flags=_read_checked(paths.flags_json, problems), metrics=metrics,
                   evaluation=_read_checked(paths.evaluation_json, problems),
                   properties=_read_checked(paths.properties_json, problems),
                   error=_read_checked(paths.error_json, problems), tags=_read_checked(paths.tags_json, problems),
                   problems=problems)


def iter_source_files(paths: RunPaths) -> Iterator[tuple[str, str]]:
    """(relative path, absolute path) of every file in the run's source snapshot."""
    root = Path(paths.source_dir)
    if not root.is_dir():
        return
    for file in sorted(root.rglob("*")):
        if file.is_file():
            yield file.relative_to(root).as_posix(), str(file)


def iter_artifacts(paths: RunPaths) -> Iterator[tuple[str, int]]:
    """(relative path, size) of the files in the run directory that are not metadata."""
    root = Path(paths.run_dir)
    for entry in sorted(root.rglob("*")):
        rel = entry.relative_to(root)
        if rel.parts[0] in NON_ARTIFACTS or not entry.is_file():
            continue
        yield rel.as_posix(), entry.stat().st_size


def remove_tree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=False)


# ---------------------------------------------------------------------------------------------------
# Tags: editable after the run, kept apart from the immutable metadata

TAG_KEY_MAX = 250


def check_tag_key(key: Any) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > TAG_KEY_MAX or any(c in key for c in "\n\r\t\0`"):
        raise TunerError(f"tag key {key!r}: expected a non-empty name of at most {TAG_KEY_MAX} characters "
                         "without newlines, tabs or backticks, e.g. 'team' or 'stage'")
    return key


def tag_text(key: str, value: Any) -> str:
    """Tag values are strings, as in MLflow; scalars are converted (true/false for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise TunerError(f"tag '{key}': expected a string or a number, got {type(value).__name__}")


def update_tags(run_dir: str, set_values: Mapping[str, Any] | None = None,
                delete: tuple[str, ...] = ()) -> dict[str, str]:
    """Set and delete tags of a run (read-modify-write under a lock, replaced atomically); returns all tags."""
    from filelock import FileLock

    paths = RunPaths(run_dir)
    if not paths.is_run():
        raise RunNotFoundError(f"'{run_dir}' is not a run (it has no {META_DIR}/)")
    new = {check_tag_key(k): tag_text(k, v) for k, v in (set_values or {}).items()}
    with FileLock(paths.tags_lock, timeout=30):
        tags = {str(k): v for k, v in read_mapping(paths.tags_json).items()}
        missing = [k for k in delete if k not in tags]
        if missing:
            known = ", ".join(sorted(tags)) or "none"
            raise TunerError(f"run {paths.name}: no tag {', '.join(map(repr, missing))} to delete (tags: {known})")
        for key in delete:
            del tags[key]
        tags.update(new)
        atomic_write_json(paths.tags_json, tags)
    return tags
