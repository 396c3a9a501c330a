"""tuner: run a training script over many flag combinations on every CPU and GPU, then list, compare and
reproduce the runs. Importing tuner is cheap: it never imports Ray or TensorFlow.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .errors import (ConfigError, FlagError, GridError, QueryError, RunFailedError, RunInterruptedError,
                     RunNotFoundError, ScriptNotFoundError, SweepNotFoundError, TunerError)
from .flags import Flags, flag_boolean, flag_integer, flag_numeric, flag_string, flags
from .report import compare_runs, save_run_comparison, save_run_view, save_sweep_report, view_run
from .runs import latest_run, ls_runs, run_info
from .store import RunStatus, is_run_active, log_metrics, run_dir, unique_run_dir, write_run_metadata
from .training import training_run

__all__ = [
    "__version__",
    # script side
    "flags", "flag_numeric", "flag_integer", "flag_boolean", "flag_string", "Flags",
    "log_metrics", "write_run_metadata", "run_dir", "is_run_active", "unique_run_dir",
    # runs
    "training_run", "tuning_run", "ls_runs", "latest_run", "run_info", "RunStatus",
    # views
    "view_run", "save_run_view", "compare_runs", "save_run_comparison", "save_sweep_report",
    # errors
    "TunerError", "ConfigError", "FlagError", "GridError", "QueryError", "RunFailedError", "RunInterruptedError",
    "RunNotFoundError", "ScriptNotFoundError", "SweepNotFoundError",
]


def tuning_run(*args: Any, **kwargs: Any) -> Any:
    """Run a sweep; see tuner.sweep.tuning_run (imported on first use: it needs Ray)."""
    from .sweep import tuning_run as _tuning_run

    return _tuning_run(*args, **kwargs)
