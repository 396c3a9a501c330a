"""Sweeps: validate -> plan -> journal -> execute (workers) -> record -> aggregate; tuning_run and run_sweep."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import pandas as pd

from tuner import channel
from tuner.capture.secrets import SecretRule
from tuner.capture.sources import snapshot_sources
from tuner.errors import DiskFullError, QueryError, RunInterruptedError, TunerError, quoted
from tuner.plan import plan_indices_record
from tuner.runs.aggregate import read_rows, runs_frame
from tuner.runs.ranking import Objectives, Ranking, RankingChoice, choose_ranking, sweep_objectives, sweep_ranking
from tuner.settings import Settings
from tuner.spec import project_view_notice
from tuner.store.journal import JOURNAL, Journal, RecordKind, new_sweep_id, sweeps_root
from tuner.store.layout import META_DIR, ensure_runs_dir
from tuner.store.status import RunStatus, TrialCounts, TrialState
from tuner.sweep.history import (
    count_trials,
    own_columns,
    runs_table,
    sweep_rows,
)
from tuner.sweep.loop import (
    OpenCluster,
    SweepRuns,
    close_cluster,
    execute_sweep,
    open_cluster,
)
from tuner.sweep.prepare import (
    SweepRequest,
    confirm_launch,
    describe_plan,
    prepare_sweep,
)
from tuner.sweep.progress import SweepProgress
from tuner.sweep.resume import prepare_resume
from workers.files import is_disk_full

log = channel.logger(__name__)


@dataclass
class SweepResult:
    sweep_id: str
    frame: pd.DataFrame
    #: the sweep's trials (its whole plan, resumed parts included) by state, as `tune sweeps` counts them
    counts: TrialCounts
    #: the sweep was interrupted (Ctrl-C, a stop request): its running trials were stopped, for `tune resume`
    interrupted: bool
    summary_csv: str
    stopped_early: bool = False
    #: the sweep's metric (--metric, or the journal's on resume) and its mode; without one the ranking picks
    #: (tuner.runs.ranking.sweep_ranking, as every other view of the sweep does)
    metric: str | None = None
    mode: str | None = None
    #: why the sweep cannot succeed (every first trial died of the same configuration error), else None
    config_error: str | None = None
    #: a multi-objective sweep's metrics and modes (then `metric` is None), and the sweep's constraints as written
    metrics: tuple[str, ...] = ()
    modes: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()

    @property
    def choice(self) -> RankingChoice:
        """The sweep's ranking as recorded: one metric, several, or none (the default choice)."""
        return RankingChoice(self.metric, self.mode if self.metric else None, self.metrics, self.modes,
                             self.constraints)

    @property
    def ranking(self) -> Ranking | None:
        """The metric that ranks this sweep's runs, None when they recorded none (or not the one asked for), and
        for a sweep of several metrics (see `objectives`)."""
        return sweep_ranking(list(self.frame.columns), self.choice)

    @property
    def objectives(self) -> Objectives | None:
        """A multi-objective sweep's metrics with their columns and directions, None for one metric or when a
        metric was recorded by no run."""
        return sweep_objectives(list(self.frame.columns), self.choice)

    @property
    def best_run(self) -> dict[str, Any] | None:
        """The best finished run's row, None when no finished run recorded the ranking metric, and always for a
        sweep of several metrics: it has a front (`front`), not a best."""
        if self.ranking is None:
            return None
        rows = self.frame.to_dict("records")
        best = self.ranking.best(rows)
        return rows[best] if best is not None else None

    @property
    def front(self) -> list[dict[str, Any]]:
        """The rows of the Pareto front (finished, feasible runs no other beats on every metric), in trial order;
        [] for a sweep of one metric."""
        objectives = self.objectives
        if objectives is None:
            return []
        rows = self.frame.to_dict("records")
        return [rows[i] for i in objectives.front(rows)]


def _header(request: SweepRequest) -> dict[str, Any]:
    s = request.settings
    return {"created": time.time(), "cwd": request.cwd, "script": request.script.path, "script_given": request.script.given,
            "script_sha256": request.script.sha256, "grid": request.plan.grid.to_source(),
            "total": request.plan.total, "sample": request.plan.sample, "seed": request.plan.seed,
            "indices": plan_indices_record(request.plan),
            # the sweep's ranking (tuner.runs.ranking.sweep_ranking): every view of the sweep ranks by it; several
            # metrics are lists of metrics and modes (RankingChoice.of_header), judged by their front
            "metric": list(request.metrics) if request.metrics else request.metric,
            "mode": list(request.modes) if request.metrics else request.mode if request.metric else None,
            "constraints": [c.text for c in request.constraints],
            "extra_args": list(request.extra_args),
            # the command template (grid file or setting), so resume builds the same argv as the first run did
            "command": request.template.to_source() if request.template is not None else None,
            "search": request.search,
            "stop": request.stop.to_source() if request.stop is not None else None, "tags": request.tags,
            "target": request.target,
            "settings": {"cpus_per_trial": s.cpus_per_trial, "gpus_per_trial": s.gpus_per_trial,
                         "max_concurrent": s.max_concurrent, "max_failures": s.max_failures, "retries": s.retries,
                         "timeout_s": s.timeout_s, "ray_address": s.ray_address, "kill_grace_s": s.kill_grace_s,
                         "config": s.config}}


def run_sweep(request: SweepRequest) -> SweepResult:
    """Connect to the cluster (checking resources), then journal and execute; the cluster is closed at the end.
    A --skip-done sweep with nothing left to run starts nothing and records no sweep (its result's sweep_id is
    empty, its frame the runs it would reuse)."""
    if request.skipped and not request.todo and not request.resumed:
        return _nothing_to_run(request)
    cluster = open_cluster(request.settings, project=request.cwd)
    sweep_id = request.sweep_id or new_sweep_id()
    try:
        return _run_sweep(request, cluster, sweep_id)
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        raise _disk_full(request, sweep_id, exc) from None
    finally:
        close_cluster(cluster)


def _nothing_to_run(request: SweepRequest) -> SweepResult:
    dirs = [run_dir for _, run_dir in request.skipped]
    frame = runs_frame(read_rows(dirs, request.settings.stale_after_s))
    counts = TrialCounts.from_mapping({TrialState.SKIPPED: len(dirs),
                                       TrialState.PENDING: len(request.plan.indices) - len(dirs)})
    return SweepResult(sweep_id="", frame=frame, counts=counts, interrupted=False, summary_csv="",
                       metric=request.metric, mode=request.mode)


def _disk_full(request: SweepRequest, sweep_id: str, exc: OSError) -> DiskFullError:
    """One line: which folder is full and how to carry on. A sweep whose journal never got written is removed."""
    runs_dir = request.settings.runs_dir
    journal = os.path.join(sweeps_root(runs_dir), sweep_id, JOURNAL)
    try:
        Journal(os.path.dirname(journal)).read()
        started = True
    except (TunerError, OSError):
        started = False
    if started:
        return DiskFullError.resumable(exc, runs_dir, sweep_id)
    folder = DiskFullError.folder_of(exc, runs_dir)
    if not request.resumed:
        shutil.rmtree(os.path.dirname(journal), ignore_errors=True)
    return DiskFullError(f"no space left on the device holding '{folder}' ({exc.strerror}); free space there and run "
                         "the command again (nothing was started)", folder, None)


def _run_sweep(request: SweepRequest, cluster: OpenCluster, sweep_id: str) -> SweepResult:
    settings = request.settings
    ensure_runs_dir(settings.runs_dir)
    view_notice = project_view_notice(request.cwd, settings.runs_dir, settings)
    progress = SweepProgress(len(request.todo if request.todo is not None else request.plan.indices)
                             + len(request.skipped) + len(request.paused), request.metric, request.mode,
                             request.quiet, objectives=request.objectives)
    progress.paused(len(request.paused))  # a resumed sweep's paused trials: promoted later, counted from now
    if view_notice and not request.quiet:  # once, before anything else the sweep says
        progress.message(view_notice)
    if request.resumed:
        journal = Journal.open(settings.runs_dir, request.sweep_id)
    else:
        journal = Journal.create(settings.runs_dir, sweep_id, _header(request))
        snapshot_sources(os.path.dirname(request.script.path), journal.source_dir, settings.source_patterns,
                         settings.source_max_files, settings.source_max_bytes, exclude=(settings.runs_dir,),
                         secrets=SecretRule.from_settings(settings))
    journal.claim()
    try:
        todo = request.todo if request.todo is not None else request.plan.indices
        runs = SweepRuns(settings.runs_dir)
        skipped_dirs = [run_dir for _, run_dir in request.skipped]  # --skip-done (tuner.sweep.prepare)
        for index, hit in request.skipped:
            journal.append(RecordKind.SKIP, {"trial": index, "run": os.path.basename(hit), "time": time.time()})
        progress.skipped(len(skipped_dirs))
        if skipped_dirs and not request.quiet:
            progress.message(f"skipping {len(skipped_dirs)} combinations that already have a finished run "
                             "(--skip-done)")
        progress.slots = cluster.slots
        progress.start()
        try:
            if todo:
                interrupted, stopped_early, config_error = execute_sweep(request, journal, todo, runs, progress,
                                                                         cluster)
            else:
                interrupted, stopped_early, config_error = False, False, None
        finally:
            progress.stop()
        made = [d for d in runs.folders() if os.path.isdir(os.path.join(d, META_DIR))]
        frame = runs_frame(read_rows(made + skipped_dirs, settings.stale_after_s))
        if not frame.empty:
            frame = own_columns(frame.sort_values(["trial", "attempt"] if "attempt" in frame else ["trial"],
                                                  kind="stable", na_position="last").reset_index(drop=True))
        state = journal.read()
        if request.stop is not None and not frame.empty and "trial" in frame:
            # the step the rule judged (hyperband's `step` counts reports; judged_step is that report's step)
            steps = {r["trial"]: r.get("judged_step", r["step"]) for r in state.of(RecordKind.STOP)}
            stopped = frame["status"] == RunStatus.STOPPED.value
            frame["stopped_at"] = [steps.get(t) if s else None for t, s in zip(frame["trial"], stopped)]
        rows = _write_summary(journal, settings)
        _warn_unknown_metric(frame, request, progress)
        counts = count_trials(rows, request.plan.indices, False, state.trials(RecordKind.SKIP))
        return SweepResult(sweep_id=journal.sweep_id, frame=frame, counts=counts, interrupted=interrupted,
                           summary_csv=journal.summary_csv, stopped_early=stopped_early, metric=request.metric,
                           mode=request.mode, config_error=config_error, metrics=tuple(request.metrics),
                           modes=tuple(request.modes), constraints=tuple(c.text for c in request.constraints))
    finally:
        journal.release()


def _warn_unknown_metric(frame: pd.DataFrame, request: SweepRequest, progress: SweepProgress) -> None:
    """A metric (or a constraint's metric) that no run recorded: said once at the end, naming the closest."""
    if frame.empty:
        return
    checks: list[tuple[str, str | None, str]] = [(metric, mode, "--metric") for metric, mode in request.objectives]
    checks += [(c.metric, None, f"--constraint {quoted(c.text)}") for c in request.constraints]
    for metric, mode, where in checks:
        try:
            choose_ranking(list(frame.columns), metric, mode, where=where)
        except QueryError as exc:
            progress.message(f"warning: {exc}", style="red")


def _write_summary(journal: Journal, settings: Settings) -> pd.DataFrame:
    """Write summary.csv (every attempt of this sweep, with only its own columns, one line each: tuner.runs.csvfile);
    returns those rows."""
    from tuner.runs.csvfile import runs_csv
    from workers.files import atomic_write_text

    rows = sweep_rows(runs_table(settings.runs_dir, settings.stale_after_s), journal.sweep_id)
    atomic_write_text(journal.summary_csv, runs_csv(rows))
    return rows


def tuning_run(file: str = "train.py", flags: Any = None, sample: float | None = None, seed: int | None = None,
               runs_dir: str | None = None, confirm: bool | channel.Confirm | None = None, *,
               metric: str | Sequence[str] | None = None, mode: str | Sequence[str] | None = None,
               constraints: str | Sequence[str] | None = None,
               cpus_per_trial: float | None = None, gpus_per_trial: float | None = None,
               max_concurrent: int | None = None, max_failures: int | None = None, retries: int | None = None,
               timeout_s: float | None = None, address: str | None = None, skip_done: bool = False,
               resume: str | None = None, retry_failed: bool = True, quiet: bool = False,
               extra_args: Sequence[str] = (), stdout_metrics: bool | None = None,
               num_samples: int | None = None, search: str | None = None, stop: str | None = None,
               grace_period: float | None = None, reduction_factor: float | None = None,
               max_t: float | None = None, min_trials: int | None = None, brackets: int | None = None,
               strict: bool | None = None, budget_flag: str | None = None,
               perturbation_interval: float | None = None, quantile_fraction: float | None = None,
               resample_probability: float | None = None, target: float | None = None,
               run_cap: int | None = None,
               check: bool = True, tags: Mapping[str, Any] | None = None, label: str | None = None,
               note: str | None = None, keep_cluster_s: float | None = None,
               trust_journal: bool | channel.Confirm | None = None, config: str | None = None) -> pd.DataFrame | None:
    """Run `file` over the combinations of `flags` (dict, DataFrame, YAML/CSV path) as parallel Ray tasks.

    Sweeps written for other tools run as they are (tuner.formats): `flags` may be a W&B sweep file (and `file`
    itself one that names its `program`), a Hydra config with a sweeper's `params:`, or a dict of Ray Tune search
    space objects (`tune.loguniform(1e-4, 1e-1)` ...). `run_cap` runs at most that many trials; `target` launches
    no new trial once a finished one's `metric` reaches it; `stop="hyperband"` pauses trials at rungs and promotes
    the best from their checkpoints (`grace_period`, `reduction_factor`, `max_t`, `brackets`, `budget_flag`);
    `stop="wandb-hyperband"` (W&B's early_terminate) takes `brackets` and `strict`.

    Returns a DataFrame of exactly the runs this sweep made (ls_runs columns plus `sweep`, `trial`), with
    the sweep id in `df.attrs["sweep"]` and the ranking in `df.attrs["metric"]`, `["mode"]` and `["best_run"]`
    (the best finished run's run_dir, None when none finished); None when the confirmation prompt is
    declined (`confirm`: None asks as the `confirm` setting says, True asks when a person is at the terminal,
    False never asks, a callable(question, default) answers instead of a person). Several metrics
    (`metric=["val_loss", "latency_ms"], mode=["min", "min"]`) make it multi-objective:
    there is no best (`best_run` None), the frame's `pareto` column marks the runs on the Pareto front and
    `df.attrs["pareto"]` lists their run_dir; `metric`/`mode` attrs are then lists. `constraints`
    (`"memory_mb <= 512"`, one or a list) bound metrics of the runs: a run that breaks one is neither best nor on
    the front, and an adaptive sampler is told (Optuna's constraints). A failing trial is a row with its status,
    never an exception. Ctrl-C stops cleanly and raises RunInterruptedError. `tags`, `label` and `note` are every
    trial's tags from the start (see training_run).
    `keep_cluster_s` > 0 joins (or starts) a warm local cluster kept up that long after the sweep (workers.warm).
    Without it, the local Ray cluster the first call starts stays up for this process' next calls (a notebook pays
    Ray's start once) and stops when the process exits; `ray.shutdown()` stops it sooner.
    `trust_journal` (with `resume`): True resumes a journal this user's key did not sign (edited, another user's,
    an older tuner's); None asks on a terminal and raises UntrustedError without one; False always raises; a
    callable(question, default) answers instead of a person.
    What it says (the plan, each trial, the progress display) goes through the `tuner` logger (tuner.channel):
    `quiet` leaves only failures, `logging.getLogger("tuner").setLevel(logging.ERROR)` silences everything.
    `config` is the flags.yml section every trial's tuner.flags() reads (the `config` setting; see training_run).
    """
    overrides: dict[str, Any] = dict(runs_dir=runs_dir, cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial,
                     max_concurrent=max_concurrent, max_failures=max_failures, retries=retries, timeout_s=timeout_s,
                     ray_address=address, stdout_metrics=stdout_metrics, keep_cluster_s=keep_cluster_s,
                     config=config)
    if resume is not None:
        request = prepare_resume(resume, retry_failed=retry_failed, quiet=quiet, trust=trust_journal, **overrides)
    else:
        request = prepare_sweep(file, flags, sample, seed, check=check, metric=metric, mode=mode,
                                constraints=constraints, extra_args=extra_args,
                                skip_done=skip_done, quiet=quiet, num_samples=num_samples, search=search, stop=stop,
                                stop_options=dict(grace_period=grace_period, reduction_factor=reduction_factor,
                                                  max_t=max_t, min_trials=min_trials, brackets=brackets,
                                                  strict=strict, budget_flag=budget_flag,
                                                  perturbation_interval=perturbation_interval,
                                                  quantile_fraction=quantile_fraction,
                                                  resample_probability=resample_probability), tags=tags, label=label,
                                note=note, target=target, run_cap=run_cap, **overrides)
        if not quiet:
            log.info("%s", describe_plan(request))
        ask = request.settings.confirm if confirm is None else confirm
        if not confirm_launch(len(request.plan.indices), ask):
            return None
    result = run_sweep(request)
    if result.interrupted:
        raise RunInterruptedError(f"sweep {result.sweep_id} interrupted; finished runs are kept; "
                                  f"resume with: tune resume {result.sweep_id}")
    result.frame.attrs["sweep"] = result.sweep_id or None  # None: --skip-done left nothing to run, none recorded
    best = result.best_run
    if result.ranking is not None:
        result.frame.attrs.update(metric=result.ranking.metric, mode=result.ranking.mode)
    result.frame.attrs["best_run"] = best["run_dir"] if best is not None else None
    if result.metrics:  # several metrics: the front, not a best
        mark_front(result.frame, result.objectives, result.metrics, result.modes)
    return result.frame


def mark_front(frame: pd.DataFrame, objectives: Objectives | None, metrics: Sequence[str],
               modes: Sequence[str]) -> None:
    """A multi-objective sweep's frame: a boolean `pareto` column, `attrs["pareto"]` the run_dir of each run on
    the front (trial order), `attrs["metric"]`/`["mode"]` the lists (as recorded when no run has a metric)."""
    rows = frame.to_dict("records")
    front = objectives.front(rows) if objectives is not None else []
    on_front = set(front)
    frame["pareto"] = [i in on_front for i in range(len(frame))]
    frame.attrs.update(metric=list(objectives.metrics if objectives else metrics),
                       mode=list(objectives.modes if objectives else modes),
                       pareto=[rows[i]["run_dir"] for i in front], best_run=None)


