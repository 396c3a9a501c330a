"""Runs shown in other tools: TensorBoard (`tensorboard.py`: the scalars command; `hparams.py`: a sweep's
HParams view) and MLflow (`mlflow.py`). Each imports its tool only when called, so the core never needs it."""

from __future__ import annotations

from tuner.errors import MissingExtraError


def require(module: str, extra: str, what: str) -> None:
    """Raise MissingExtraError naming the extra to install when `module` cannot be imported."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingExtraError(f"{what} needs the {module} package: pip install 'tuner-sweeps[{extra}]'")


def sweep_run_dirs(runs_dir: str, sweep: str) -> list[str]:
    """Run directories of `sweep`, in trial then attempt order; SweepNotFoundError names recent sweeps."""
    from tuner.errors import SweepNotFoundError
    from tuner.runs.aggregate import DEFAULT_STALE_AFTER_S
    from tuner.sweep.history import runs_table, sweep_rows

    rows = sweep_rows(runs_table(runs_dir, DEFAULT_STALE_AFTER_S), sweep)  # one pass through the listing index
    if rows.empty:
        from tuner.store.journal import list_sweep_ids

        known = list_sweep_ids(runs_dir)[:5]
        hint = f"; recent sweeps: {', '.join(known)}" if known else "; there are no sweeps in this runs directory"
        raise SweepNotFoundError(f"no runs of sweep '{sweep}' in '{runs_dir}'{hint} (see `tune sweeps`)")
    return [str(path) for path in rows["run_dir"]]
