"""Sweep orchestration: validate -> plan -> journal -> execute (workers) -> record -> aggregate.

Every problem with the input is found before anything is written. Each trial outcome is journaled the
moment it arrives, so an interrupted sweep can be resumed without running a finished combination twice.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from workers.files import atomic_write_json

from .aggregate import DEFAULT_STALE_AFTER_S, read_rows, run_row, runs_frame
from .errors import RunInterruptedError, TunerError
from .journal import Journal, new_sweep_id
from .launch import (
    ScriptInfo,
    after_run,
    build_trial_spec,
    describe_script,
    stdout_pattern,
    thread_caps,
    write_git_diff,
)
from .plan import Plan, check_sample, grid_from_source, load_grid, make_plan
from .progress import SweepProgress, default_mode
from .prompt import ask
from .settings import Settings, load_settings
from .sources import snapshot_sources
from .store import (
    ENV_RUN_DIR,
    META_DIR,
    RunPaths,
    ensure_runs_dir,
    read_run,
    unique_run_dir,
)

RUN_NAME_DIGITS = 3  # seconds_scale of sweep run directories: a thousand trials a second stay unique
FINISHED = "finished"
QUEUED = "queued"


@dataclass(frozen=True)
class SweepRequest:
    """A validated sweep, ready to execute."""

    script: ScriptInfo
    plan: Plan
    settings: Settings
    metric: str | None
    mode: str
    extra_args: tuple[str, ...] = ()
    skip_done: bool = False
    quiet: bool = False
    sweep_id: str = ""
    resumed: bool = False
    #: the planned trials still to run (resume); None = all
    todo: tuple[int, ...] | None = None
    #: the trials' working directory: where the sweep was started
    cwd: str = field(default_factory=os.getcwd)


@dataclass
class SweepResult:
    sweep_id: str
    frame: pd.DataFrame
    planned: int
    finished: int
    failed: int
    skipped: int
    interrupted: bool
    summary_csv: str
    stopped_early: bool = False


def _gather(checks: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run every check; raise one error naming all problems (the first one's type)."""
    results, errors = [], []
    for check in checks:
        try:
            results.append(check())
        except TunerError as exc:
            errors.append(exc)
            results.append(None)
    if errors:
        first = errors[0]
        raise type(first)("; ".join(str(e) for e in errors)) if len(errors) > 1 else first
    return results


def check_resources(settings: Settings) -> Settings:
    problems = []
    if settings.cpus_per_trial <= 0:
        problems.append(f"cpus-per-trial must be > 0, got {settings.cpus_per_trial:g}")
    if settings.gpus_per_trial is not None and settings.gpus_per_trial < 0:
        problems.append(f"gpus-per-trial must be >= 0, got {settings.gpus_per_trial:g}")
    if settings.gpus_per_trial is not None and settings.gpus_per_trial > 1 and not float(
            settings.gpus_per_trial).is_integer():
        problems.append(f"gpus-per-trial above 1 must be a whole number, got {settings.gpus_per_trial:g}")
    if settings.max_concurrent is not None and settings.max_concurrent < 1:
        problems.append(f"max-concurrent must be >= 1, got {settings.max_concurrent}")
    if settings.max_failures is not None and settings.max_failures < 0:
        problems.append(f"max-failures must be >= 0, got {settings.max_failures}")
    if settings.retries < 0:
        problems.append(f"retries must be >= 0, got {settings.retries}")
    if settings.timeout_s is not None and settings.timeout_s <= 0:
        problems.append(f"timeout must be a positive number of seconds, got {settings.timeout_s:g}")
    if problems:
        raise TunerError("; ".join(problems))
    return settings


def prepare_sweep(file: str, flags: Any, sample: Any = None, seed: int | None = None, *,
                  flag_overrides: Mapping[str, Sequence[Any]] | None = None, metric: str | None = None,
                  mode: str | None = None, extra_args: Sequence[str] = (), skip_done: bool = False,
                  quiet: bool = False, **settings_overrides: Any) -> SweepRequest:
    """Validate everything and plan; writes nothing."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TunerError(f"seed must be an integer, got {seed!r}")
    settings, script, grid, _, _ = _gather([
        lambda: check_resources(load_settings(**settings_overrides)),
        lambda: describe_script(file),
        lambda: load_grid(flags, flag_overrides),
        lambda: check_sample(sample),
        lambda: ensure_runs_dir_is_usable(load_settings(runs_dir=settings_overrides.get("runs_dir")).runs_dir),
    ])
    plan = make_plan(grid, sample, seed)
    if mode is not None and mode not in ("min", "max"):
        raise TunerError(f"mode must be 'min' or 'max', got {mode!r}")
    return SweepRequest(script=script, plan=plan, settings=settings, metric=metric,
                        mode=mode or (default_mode(metric) if metric else "max"), extra_args=tuple(extra_args),
                        skip_done=skip_done, quiet=quiet)


def ensure_runs_dir_is_usable(runs_dir: str) -> None:
    if os.path.exists(runs_dir) and not os.path.isdir(runs_dir):
        raise TunerError(f"runs directory '{runs_dir}' is a file; pass --runs-dir with a folder path or remove it")


def describe_plan(request: SweepRequest) -> str:
    plan = request.plan
    text = f"{plan.total:,} combinations of flags"
    if plan.sample is not None:
        text += f", sampled {len(plan.indices):,} (sample={plan.sample:g}, seed={plan.seed})"
    else:
        text += " (use --sample to run a random subset)"
    return text


def confirm_launch(count: int, ask_user: bool) -> bool:
    """`Proceed with N runs? [Y/n]` when stdin is a terminal (and `ask_user`); empty or y/yes proceeds."""
    return ask(f"Proceed with {count} runs?", True, None if ask_user else False)


# ---------------------------------------------------------------------------------------------------
# Skip-done: finished runs of the same script (by content hash) with the same flag values

def _normal(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and math.isfinite(float(value)):
        return float(value)
    return value


def _combo_key(combo: Mapping[str, Any], names: Sequence[str]) -> tuple[Any, ...]:
    return tuple(_normal(combo.get(n)) for n in names)


def runs_table(runs_dir: str, stale_after_s: float) -> pd.DataFrame:
    """Every run of the runs directory, read through the listing index: one pass, stat-only when nothing changed."""
    from .index import indexed_frame

    return indexed_frame(runs_dir, stale_after_s)


def sweep_rows(table: pd.DataFrame, sweep_id: str) -> pd.DataFrame:
    """The runs of one sweep (all attempts), by trial."""
    if table.empty or "sweep" not in table:
        return table.iloc[0:0]
    rows = table[table["sweep"] == sweep_id]
    return rows.sort_values(["trial", "attempt"], kind="stable").reset_index(drop=True) if len(rows) else rows


def finished_combinations(table: pd.DataFrame, script_sha256: str, names: Sequence[str]) -> dict[tuple[Any, ...], str]:
    """Key of flag values -> run_dir of a finished run of this script."""
    columns = [f"flag_{n}" for n in names]
    if table.empty or "script_sha256" not in table or any(c not in table for c in columns):
        return {}
    rows = table[(table["status"] == FINISHED) & (table["script_sha256"] == script_sha256)]
    found: dict[tuple[Any, ...], str] = {}
    for run_dir, *values in zip(rows["run_dir"], *(rows[c] for c in columns)):
        if not any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values):
            found.setdefault(tuple(_normal(v) for v in values), run_dir)
    return found


# ---------------------------------------------------------------------------------------------------
# Execution

@dataclass
class _TrialState:
    """A launched trial; its flags are decoded from the grid again when needed, so driver memory grows with
    the trials launched, not with the grid."""

    index: int
    attempt: int = 0
    run_dirs: list[str] = field(default_factory=list)
    status: str | None = None


def _slots(settings: Settings, info: Any, gpus: float) -> int:
    """How many trials can run at once: the cluster's resources over a trial's, capped by max_concurrent."""
    slots = info.total_cpus / settings.cpus_per_trial
    if gpus > 0:
        slots = min(slots, info.total_gpus / gpus)
    slots = max(1, int(slots + 1e-9))
    return min(slots, settings.max_concurrent) if settings.max_concurrent is not None else slots


def _window(settings: Settings, slots: int) -> int:
    """Tasks kept in flight: max_concurrent exactly (that is how it is enforced), else twice the slots so a
    freed slot never waits for the driver; bounded either way, so driver memory stays flat."""
    return settings.max_concurrent if settings.max_concurrent is not None else max(2, 2 * slots)


def _resolve_gpus(settings: Settings, info: Any) -> float:
    gpus = settings.gpus_per_trial
    if gpus is None:
        return 1.0 if info.total_gpus > 0 else 0.0
    if gpus > info.max_node_gpus:
        raise TunerError(f"gpus-per-trial {gpus:g} is more than any node of the cluster has "
                         f"({info.max_node_gpus:g} GPUs); lower --gpus-per-trial")
    return gpus


def _metric_value(row: Mapping[str, Any], metric: str | None) -> float | None:
    if metric is None:
        return None
    for key in (f"metric_{metric}", f"eval_{metric}", metric):
        value = row.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


@dataclass
class _Cluster:
    """A connected cluster and the per-trial resources checked against it."""

    info: Any
    gpus: float
    window: int
    slots: int
    env: dict[str, str]


def open_cluster(settings: Settings) -> _Cluster:
    """Connect (or start) Ray and check the trial size fits a node; the caller must `close_cluster`."""
    from workers import driver  # imports Ray: only here

    try:
        info = driver.connect(settings.ray_address)
    except driver.ClusterError as exc:
        raise TunerError(str(exc)) from None
    try:
        gpus = _resolve_gpus(settings, info)
        if settings.cpus_per_trial > info.max_node_cpus:
            raise TunerError(f"cpus-per-trial {settings.cpus_per_trial:g} is more than any node of the cluster "
                             f"has ({info.max_node_cpus:g} CPUs); lower --cpus-per-trial")
    except BaseException:
        driver.disconnect(info)
        raise
    env = thread_caps(settings.cpus_per_trial)
    if 0 < gpus < 1:
        env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"  # fractional GPUs: TensorFlow must not grab the whole card
    slots = _slots(settings, info, gpus)
    return _Cluster(info, gpus, _window(settings, slots), slots, env)


def close_cluster(cluster: _Cluster) -> None:
    from workers import driver

    driver.disconnect(cluster.info)


def execute_sweep(request: SweepRequest, journal: Journal, todo: Sequence[int], states: dict[int, _TrialState],
                  progress: SweepProgress, cluster: _Cluster) -> tuple[bool, bool]:
    """Run the todo trials; returns (interrupted, stopped_early). Every outcome is journaled on arrival."""
    from workers import driver

    marker = os.path.join(journal.folder, ".driver-marker")
    open(marker, "w").close()
    pool = driver.TaskPool(driver.Resources(request.settings.cpus_per_trial, cluster.gpus), cluster.window, marker)
    return _SweepLoop(request, journal, todo, states, progress, pool, cluster.env).run()


class _SweepLoop:
    """The driver loop: keep the pool's window full, record each result as it arrives, retry, stop."""

    def __init__(self, request: SweepRequest, journal: Journal, todo: Sequence[int], states: dict[int, _TrialState],
                 progress: SweepProgress, pool: Any, env: dict[str, str]) -> None:
        self.request, self.settings, self.journal = request, request.settings, journal
        self.queue = deque(todo)
        self.states, self.progress, self.pool, self.env = states, progress, pool, env
        self.pattern = stdout_pattern(self.settings)
        self.failures = 0
        self.stopped_early = False
        self.stopping = False

    def run(self) -> tuple[bool, bool]:
        """(interrupted, stopped_early)"""
        try:
            while self.queue or self.pool.in_flight:
                while self.queue and self.pool.has_room():
                    self.launch(self.queue.popleft())
                for result in self.pool.wait(timeout_s=0.5):
                    self.record(result)
        except KeyboardInterrupt:
            self.stopping = True
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the cleanup must finish: nothing left running
            try:
                self.progress.message("interrupted: cancelling queued trials and stopping running ones ...",
                                      style="red")
                for result in self.pool.cancel_all(grace_s=min(self.settings.kill_grace_s, 10.0)):
                    self.record(result)
            finally:
                signal.signal(signal.SIGINT, previous)
            return True, self.stopped_early
        return False, self.stopped_early

    def launch(self, index: int) -> None:
        request, settings = self.request, self.settings
        state = self.states.setdefault(index, _TrialState(index))
        state.attempt += 1
        run_dir = unique_run_dir(settings.runs_dir, seconds_scale=RUN_NAME_DIGITS)
        paths = RunPaths(os.path.abspath(run_dir))
        _link_sources(self.journal.source_dir, paths.source_dir)
        write_git_diff(paths, request.script)
        identity = {"sweep": self.journal.sweep_id, "trial": index, "attempt": state.attempt,
                    "resources": {"cpus": settings.cpus_per_trial, "gpus": self.pool.gpus}}
        spec = build_trial_spec(request.script, request.plan.grid.combination(index), run_dir, settings, echo=False,
                                job_type="sweep", identity=identity, env=self.env, extra_args=request.extra_args,
                                cwd=request.cwd)
        spec = replace(spec, post_run=(after_run, (paths.run_dir, self.pattern)))  # on the worker, in parallel
        # the run exists from now on, so a listing during the sweep shows it as queued, not as a broken run
        atomic_write_json(paths.run_json, {**spec.record, "status": QUEUED})
        state.run_dirs.append(run_dir)
        self.pool.submit(index, spec)
        self.progress.trial_started()

    def record(self, result: Any) -> None:
        state = self.states[result.key]
        run_dir = state.run_dirs[-1]
        if result.outcome is not None:
            outcome = result.outcome
            status, exit_code, error = outcome.status, outcome.exit_code, outcome.error_message
            duration, tail = outcome.duration_s, outcome.stderr_tail
        else:  # the task never reported: cancelled before start, or the worker died past its retries
            status, exit_code, error, duration, tail = _settle_unreported(run_dir, result.error)
        will_retry = status in ("failed", "timeout") and state.attempt <= self.settings.retries and not self.stopping
        state.status = None if will_retry else status
        self.journal.append({"type": "outcome", "trial": state.index, "attempt": state.attempt,
                             "run": os.path.basename(run_dir), "status": status, "exit_code": exit_code,
                             "error": error, "duration_s": duration, "time": time.time()})
        metric = self.request.metric
        row = run_row(read_run(run_dir)) if metric and os.path.isdir(os.path.join(run_dir, META_DIR)) else {}
        self.progress.trial_done(os.path.basename(run_dir), status, duration or 0.0, _metric_value(row, metric),
                                 exit_code, error, tail, will_retry)
        if will_retry:
            self.queue.appendleft(state.index)
        elif status not in (FINISHED, "killed"):
            self.failures += 1
            limit = self.settings.max_failures
            if limit is not None and self.failures >= limit and self.queue:
                self.stopped_early = True
                self.progress.message(f"{self.failures} failed trials: reached --max-failures {limit}; "
                                      "no new trials are launched", style="red")
                self.queue.clear()


def _settle_unreported(run_dir: str, error: str | None) -> tuple[str, int | None, str | None, float, tuple[str, ...]]:
    """A trial whose task did not report: never started (remove its empty folder) or died with its worker."""
    data = read_run(run_dir, with_metrics=False)
    status = data.run.get("status")
    if status in (None, QUEUED):  # never started: nothing of value, no run left behind
        shutil.rmtree(run_dir, ignore_errors=True)
        return "killed", None, "cancelled before it started", 0.0, ()
    if status == "running":  # the worker died mid-trial: the run is lost, say so in the run itself
        status = "killed" if error in ("cancelled", "killed") else "lost"
        atomic_write_json(data.paths.run_json, {**data.run, "status": status, "end": time.time()})
    start, end = data.run.get("start"), data.run.get("end") or time.time()
    return str(status), data.run.get("exit_code"), error, float(end - start) if start else 0.0, ()


def _link_sources(snapshot: str, dest: str) -> None:
    """Each run gets the sweep's source snapshot as hard links: a view per run, one copy on disk."""
    if not os.path.isdir(snapshot):
        return
    try:
        shutil.copytree(snapshot, dest, copy_function=os.link)
    except OSError:
        shutil.copytree(snapshot, dest, dirs_exist_ok=True)


# ---------------------------------------------------------------------------------------------------
# Entry points

def _header(request: SweepRequest) -> dict[str, Any]:
    s = request.settings
    return {"created": time.time(), "cwd": request.cwd, "script": request.script.path, "script_given": request.script.given,
            "script_sha256": request.script.sha256, "grid": request.plan.grid.to_source(),
            "total": request.plan.total, "sample": request.plan.sample, "seed": request.plan.seed,
            "indices": list(request.plan.indices), "metric": request.metric, "mode": request.mode,
            "extra_args": list(request.extra_args),
            "settings": {"cpus_per_trial": s.cpus_per_trial, "gpus_per_trial": s.gpus_per_trial,
                         "max_concurrent": s.max_concurrent, "max_failures": s.max_failures, "retries": s.retries,
                         "timeout_s": s.timeout_s, "ray_address": s.ray_address, "kill_grace_s": s.kill_grace_s}}


def run_sweep(request: SweepRequest) -> SweepResult:
    """Connect to the cluster (checking resources), then journal and execute; the cluster is closed at the end."""
    cluster = open_cluster(request.settings)
    try:
        return _run_sweep(request, cluster)
    finally:
        close_cluster(cluster)


def _run_sweep(request: SweepRequest, cluster: _Cluster) -> SweepResult:
    settings = request.settings
    ensure_runs_dir(settings.runs_dir)
    progress = SweepProgress(len(request.todo if request.todo is not None else request.plan.indices),
                             request.metric, request.mode, request.quiet)
    if request.resumed:
        journal = Journal.open(settings.runs_dir, request.sweep_id)
    else:
        journal = Journal.create(settings.runs_dir, request.sweep_id or new_sweep_id(), _header(request))
        snapshot_sources(os.path.dirname(request.script.path), journal.source_dir, settings.source_patterns,
                         settings.source_max_files, settings.source_max_bytes, exclude=(settings.runs_dir,))
    journal.claim()
    try:
        grid = request.plan.grid
        todo = request.todo if request.todo is not None else request.plan.indices
        states: dict[int, _TrialState] = {}
        skipped_dirs: list[str] = []
        if request.skip_done:
            names = list(grid.names)
            done = finished_combinations(runs_table(settings.runs_dir, settings.stale_after_s),
                                         request.script.sha256, names)
            remaining = []
            for index in todo:
                hit = done.get(_combo_key(grid.combination(index), names))
                if hit is None:
                    remaining.append(index)
                    continue
                states[index] = _TrialState(index, status="skipped")
                skipped_dirs.append(hit)
                journal.append({"type": "skip", "trial": index, "run": os.path.basename(hit), "time": time.time()})
            todo = remaining
            progress.skipped(len(skipped_dirs))
            if skipped_dirs and not request.quiet:
                progress.message(f"skipping {len(skipped_dirs)} combinations that already have a finished run "
                                 "(--skip-done)")
        progress.counts.slots = cluster.slots
        progress.start()
        try:
            if todo:
                interrupted, stopped_early = execute_sweep(request, journal, todo, states, progress, cluster)
            else:
                interrupted, stopped_early = False, False
        finally:
            progress.stop()
        made = [d for s in states.values() for d in s.run_dirs if os.path.isdir(os.path.join(d, META_DIR))]
        frame = runs_frame(read_rows(made + skipped_dirs, settings.stale_after_s))
        if not frame.empty:
            frame = frame.sort_values(["trial", "attempt"] if "attempt" in frame else ["trial"], kind="stable",
                                      na_position="last").reset_index(drop=True)
        _write_summary(journal, settings)
        finals = [s.status for s in states.values()]
        return SweepResult(sweep_id=journal.sweep_id, frame=frame, planned=len(todo) + len(skipped_dirs),
                           finished=sum(s == FINISHED for s in finals),
                           failed=sum(s not in (FINISHED, "skipped", None) for s in finals),
                           skipped=len(skipped_dirs), interrupted=interrupted, summary_csv=journal.summary_csv,
                           stopped_early=stopped_early)
    finally:
        journal.release()


def _write_summary(journal: Journal, settings: Settings) -> None:
    from workers.files import atomic_write_text

    rows = sweep_rows(runs_table(settings.runs_dir, settings.stale_after_s), journal.sweep_id)
    atomic_write_text(journal.summary_csv, rows.to_csv(index=False))


def tuning_run(file: str = "train.py", flags: Any = None, sample: float | None = None, seed: int | None = None,
               runs_dir: str | None = None, confirm: bool | None = None, *, metric: str | None = None,
               mode: str | None = None, cpus_per_trial: float | None = None, gpus_per_trial: float | None = None,
               max_concurrent: int | None = None, max_failures: int | None = None, retries: int | None = None,
               timeout_s: float | None = None, address: str | None = None, skip_done: bool = False,
               resume: str | None = None, retry_failed: bool = True, quiet: bool = False,
               extra_args: Sequence[str] = (), stdout_metrics: bool | None = None) -> pd.DataFrame | None:
    """Run `file` over the combinations of `flags` (dict, DataFrame, YAML/CSV path) as parallel Ray tasks.

    Returns a DataFrame of exactly the runs this sweep made (ls_runs columns plus `sweep`, `trial`), with
    the sweep id in `df.attrs["sweep"]`; None when the confirmation prompt is declined. A failing trial is a
    row with its status, never an exception. Ctrl-C stops cleanly and raises RunInterruptedError.
    """
    overrides = dict(runs_dir=runs_dir, cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial,
                     max_concurrent=max_concurrent, max_failures=max_failures, retries=retries, timeout_s=timeout_s,
                     ray_address=address, stdout_metrics=stdout_metrics)
    if resume is not None:
        request = prepare_resume(resume, retry_failed=retry_failed, quiet=quiet, **overrides)
    else:
        request = prepare_sweep(file, flags, sample, seed, metric=metric, mode=mode, extra_args=extra_args,
                                skip_done=skip_done, quiet=quiet, **overrides)
        if not quiet:
            print(describe_plan(request), flush=True)
        ask = request.settings.confirm if confirm is None else confirm
        if not confirm_launch(len(request.plan.indices), ask):
            return None
    result = run_sweep(request)
    if result.interrupted:
        raise RunInterruptedError(f"sweep {result.sweep_id} interrupted; finished runs are kept; "
                                  f"resume with: tune resume {result.sweep_id}")
    result.frame.attrs["sweep"] = result.sweep_id
    return result.frame


# ---------------------------------------------------------------------------------------------------
# Resume

@dataclass(frozen=True)
class SweepStatus:
    sweep_id: str
    created: float
    script: str
    planned: int
    finished: int
    failed: int
    pending: int
    running: int


_RANK = {FINISHED: 4, "running": 3, "failed": 2, "timeout": 2, "killed": 1, "lost": 1}


def trial_statuses(rows: pd.DataFrame, planned: Sequence[int], driver_alive: bool) -> dict[int, str]:
    """Best status of each planned trial from its runs: finished > running > failed/timeout > killed/lost > pending.
    `rows` are the sweep's runs (statuses already `lost` where a heartbeat went stale)."""
    result: dict[int, str] = {int(i): "pending" for i in planned}
    if rows.empty:
        return result
    for trial, status in zip(rows["trial"], rows["status"]):
        if not isinstance(trial, (int, float)) or trial != trial or int(trial) not in result:
            continue
        if status == "running" and not driver_alive:
            status = "lost"
        if _RANK.get(status, 0) > _RANK.get(result[int(trial)], 0):
            result[int(trial)] = status
    return result


def _is_our_trial(pid: int, run_dir: str) -> bool:
    """The pid still runs this run's script (not a recycled pid): its environment names the run directory."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return f"{ENV_RUN_DIR}={os.path.abspath(run_dir)}".encode() in handle.read().split(b"\0")
    except OSError:
        return False


def settle_orphans(runs_dir: str, sweep_id: str, heartbeat_s: float, wait_s: float | None = None) -> int:
    """Runs left `running` by a dead driver (we hold the sweep's lock): kill any surviving process tree of theirs,
    wait until their heartbeats stop (so no dying worker can still write `finished`), then mark them `lost`."""
    import signal as _signal
    import socket

    host = socket.gethostname()
    deadline = time.time() + (wait_s if wait_s is not None else 2 * heartbeat_s + 1)
    rows = sweep_rows(runs_table(runs_dir, DEFAULT_STALE_AFTER_S), sweep_id)  # running or lost: both candidates
    candidates = [d for d, status in zip(rows["run_dir"], rows["status"]) if status in ("running", "lost")] \
        if len(rows) else []
    for run_dir, status in zip(rows["run_dir"], rows["status"]) if len(rows) else ():
        if status == QUEUED:  # launched by the dead driver but never started: remove, it will run again
            shutil.rmtree(run_dir, ignore_errors=True)
    while True:
        running = []
        for run_dir in candidates:
            data = read_run(run_dir, with_metrics=False)
            if data.run.get("status") != "running":
                continue
            pid = data.run.get("pid")
            if data.run.get("host") == host and isinstance(pid, int) and _is_our_trial(pid, run_dir):
                try:
                    os.killpg(pid, _signal.SIGKILL)
                except OSError:
                    pass
            running.append(data)
        fresh = [d for d in running if time.time() - (d.run.get("heartbeat") or 0) < 2 * heartbeat_s + 0.5]
        if not fresh or time.time() >= deadline:
            break
        time.sleep(0.2)
    for data in running:
        current = read_run(data.paths.run_dir, with_metrics=False).run
        if current.get("status") == "running":
            atomic_write_json(data.paths.run_json, {**current, "status": "lost", "end": current.get("heartbeat")})
    return len(running)


def prepare_resume(sweep_id: str, retry_failed: bool = True, quiet: bool = False, **settings_overrides: Any
                   ) -> SweepRequest:
    base = load_settings(runs_dir=settings_overrides.get("runs_dir"))
    journal = Journal.open(base.runs_dir, sweep_id)
    header = journal.read().header
    recorded = {k: v for k, v in header.get("settings", {}).items() if k != "kill_grace_s"}
    given = {k: v for k, v in settings_overrides.items() if v is not None}
    settings = check_resources(load_settings(**{**recorded, **given}))
    script = describe_script(header["script"])
    if script.sha256 != header["script_sha256"] and not quiet:
        print(f"note: {header['script']} changed since the sweep started; the remaining trials use the new version",
              file=sys.stderr)
    grid = grid_from_source(header["grid"])
    plan = Plan(grid, tuple(header["indices"]), header.get("sample"), header.get("seed"))
    journal.claim()  # fails if a driver still runs this sweep
    try:
        settle_orphans(base.runs_dir, sweep_id, settings.heartbeat_s)
        rows = sweep_rows(runs_table(base.runs_dir, settings.stale_after_s), sweep_id)
        statuses = trial_statuses(rows, header["indices"], driver_alive=False)
    finally:
        journal.release()
    redo = {"pending", "lost", "killed"} | ({"failed", "timeout"} if retry_failed else set())
    todo = tuple(i for i in plan.indices if statuses.get(i) in redo)
    return SweepRequest(script=replace(script, given=header.get("script_given", script.given)), plan=plan,
                        settings=settings, metric=header.get("metric"), mode=header.get("mode") or "max",
                        extra_args=tuple(header.get("extra_args", ())), quiet=quiet, sweep_id=sweep_id, resumed=True,
                        todo=todo, cwd=header.get("cwd") if os.path.isdir(header.get("cwd") or "") else os.getcwd())


def sweep_statuses(runs_dir: str, stale_after_s: float = 60.0) -> list[SweepStatus]:
    from .journal import iter_journals

    rows = []
    table = runs_table(runs_dir, stale_after_s)
    for journal in iter_journals(runs_dir):
        try:
            header = journal.read().header
        except TunerError:
            continue
        statuses = trial_statuses(sweep_rows(table, journal.sweep_id), header["indices"], _driver_alive(journal))
        values = list(statuses.values())
        rows.append(SweepStatus(journal.sweep_id, header.get("created", 0.0), os.path.basename(header["script"]),
                                len(values), values.count(FINISHED),
                                sum(v in ("failed", "timeout") for v in values),
                                sum(v in ("pending", "lost", "killed") for v in values), values.count("running")))
    return rows


def _driver_alive(journal: Journal) -> bool:
    from filelock import FileLock, Timeout

    probe = FileLock(os.path.join(journal.folder, ".driver.lock"))
    try:
        probe.acquire(timeout=0)
    except Timeout:
        return True
    probe.release()
    return False
