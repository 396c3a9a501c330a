"""tuner: run a training script over many flag combinations on every CPU and GPU, then list, compare and
reproduce the runs.

Importing tuner is cheap, because training scripts import it in every trial: the script-side API (flags,
log_metrics, write_run_metadata ...) loads eagerly and has no heavy dependencies; everything else
(pandas, Ray) loads on first use. TensorFlow is never imported by the core.
"""

from __future__ import annotations

import importlib
from typing import Any

from tuner._version import __version__
from tuner.capture.artifacts import use_artifact
from tuner.errors import (
    ConfigError,
    FlagError,
    GridError,
    QueryError,
    RunFailedError,
    RunInterruptedError,
    RunNotFoundError,
    ScriptNotFoundError,
    SweepNotFoundError,
    TunerError,
)
from tuner.flags import (
    Flags,
    flag_boolean,
    flag_integer,
    flag_numeric,
    flag_string,
    flags,
)
from tuner.store.status import RunStatus
from tuner.tracking import (
    checkpoint_dir,
    is_run_active,
    log_metrics,
    run_dir,
    tensorboard_dir,
    unique_run_dir,
    write_run_metadata,
)

#: public name -> module that defines it, imported on first access
_LAZY = {
    "training_run": "training",
    "tuning_run": "sweep",
    "ls_runs": "runs.listing", "latest_run": "runs.listing", "run_info": "runs.listing",
    "pareto_front": "runs.listing",
    "get_run": "runs.record", "RunRecord": "runs.record",
    "clean_runs": "runs.manage", "restore_runs": "runs.manage", "purge_runs": "runs.manage", "copy_run": "runs.manage",
    "copy_run_files": "runs.manage",
    "view_run": "report", "save_run_view": "report", "compare_runs": "report", "save_run_comparison": "report",
    "save_sweep_report": "report",
    "param_importance": "search.importance",
    "script_flags": "interface.discover",
    "export_to_mlflow": "export.mlflow",
}

__all__ = [
    "__version__",
    # script side
    "flags", "flag_numeric", "flag_integer", "flag_boolean", "flag_string", "Flags",
    "log_metrics", "write_run_metadata", "run_dir", "is_run_active", "unique_run_dir", "use_artifact",
    "tensorboard_dir", "checkpoint_dir",
    # runs and sweeps
    "training_run", "tuning_run", "ls_runs", "pareto_front", "latest_run", "run_info", "RunStatus",
    "script_flags", "get_run", "RunRecord", "clean_runs", "restore_runs", "purge_runs", "copy_run", "copy_run_files",
    # views
    "view_run", "save_run_view", "compare_runs", "save_run_comparison", "save_sweep_report",
    # analysis
    "param_importance",
    # exports
    "export_to_mlflow",
    # errors
    "TunerError", "ConfigError", "FlagError", "GridError", "QueryError", "RunFailedError", "RunInterruptedError",
    "RunNotFoundError", "ScriptNotFoundError", "SweepNotFoundError",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tuner' has no attribute '{name}'")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
