"""Executing a planned sweep: connect to the cluster, keep the pool's window full, record each outcome as it
arrives, retry, stop. The run directories are the record of what happened (see tuner.store.journal)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Mapping, Protocol, Sequence

from tuner.errors import TunerError
from tuner.runs.aggregate import run_row
from tuner.runs.ranking import metric_value
from tuner.settings import Settings
from tuner.spec import (
    after_run,
    build_run_spec,
    stdout_pattern,
    stoppable,
    thread_caps,
    write_git_diff,
)
from tuner.store.checkpoints import has_checkpoint, launched_runs, record_launch, resumed_from
from tuner.store.files import read_run, write_run_status
from tuner.store.journal import Journal, RecordKind, outcome_record
from tuner.store.layout import META_DIR, RunPaths, TrialPaths
from tuner.store.status import RunStatus
from tuner.sweep.prepare import SweepRequest
from tuner.sweep.progress import SweepProgress
from tuner.tracking import unique_run_dir
from workers.files import is_disk_full
from workers.process import RunSpec

if TYPE_CHECKING:  # the types only: these modules import Ray, which only running a sweep loads
    from workers.cluster import ClusterInfo
    from workers.pool import TaskResult

#: why a trial has no run: its task was cancelled (Ctrl-C) before it started. It stays pending, as `tune sweeps`
#: and the summary count it, and resume runs it
NOT_STARTED = "cancelled before it started"
#: this many first trials failing with the same configuration error, none with a metric, stop the sweep
FAIL_FAST_AFTER = 2
#: trials this short (the median of the last finished ones) go to the cluster several to a task, so Ray's own
#: cost per task (a few ms of CPU, see docs/benchmarks.md) is paid once for several; each is still its own run
#: with its own process. A batch runs about BATCH_TASK_S, at most MAX_BATCH trials.
BATCH_BELOW_S = 1.0
BATCH_TASK_S = 1.0
MAX_BATCH = 8
#: how often a trial without a stopping rule looks for a stop request (only a person asks: `tune dashboard`)
PERSON_STOP_POLL_S = 0.25


# ---------------------------------------------------------------------------------------------------
# Configuration errors: the script cannot run with this command line or this environment

_ARGPARSE_ERROR = re.compile(r"^(?P<prog>\S+): error: (?P<message>.+)$")
_IMPORT_OR_SYNTAX = re.compile(r"^(?P<kind>ModuleNotFoundError|ImportError|SyntaxError|IndentationError|TabError"
                               r"|FlagError|tuner\.errors\.FlagError)\b:?(?P<message>.*)$")


@dataclass(frozen=True)
class ConfigFailure:
    """A failure no combination can avoid: the same line for every trial, with what to change."""

    signature: str   # the error with the trial's own values taken out, equal across trials
    line: str        # the error as the script printed it (the first trial's)
    hint: str

    def describe(self, trials: int) -> str:
        return (f"the first {trials} trials all failed the same way before any metric (the error above): "
                f"{self.hint}")


def config_failure(exit_code: int | None, error: str | None, stderr_tail: Sequence[str]) -> ConfigFailure | None:
    """The configuration error a failed run died of (an argparse usage error, an ImportError, a SyntaxError,
    an undeclared tuner flag), None for any other failure."""
    lines = [line.rstrip("\n") for line in stderr_tail if line.strip()]
    if exit_code == 2:
        for line in reversed(lines):
            match = _ARGPARSE_ERROR.match(line.strip())
            if match:
                message = match.group("message")
                signature = re.sub(r"=\S*", "", message)
                if "unrecognized arguments" in message:
                    hint = ("the script does not accept these options: check the flag names of the grid / --flag "
                            f"against the script's own (`python {match.group('prog')} --help`)")
                else:
                    hint = "the script rejects its command line: check the flag names and values against its --help"
                return ConfigFailure("argparse: " + signature, line.strip(), hint)
    for candidate in [error or "", *reversed(lines)]:
        match = _IMPORT_OR_SYNTAX.match(candidate.strip())
        if match:
            kind = match.group("kind").rsplit(".", 1)[-1]
            if kind in ("ModuleNotFoundError", "ImportError"):
                hint = "install the missing package in the Python that runs the trials, or fix the import"
            elif kind == "FlagError":
                hint = "the script's tuner.flags() rejects these flags: check the names and values of the grid"
            else:
                hint = "fix the script's syntax (every trial runs the same file)"
            return ConfigFailure(kind + ":" + re.sub(r"=\S*", "", match.group("message")), candidate.strip(), hint)
    return None


# ---------------------------------------------------------------------------------------------------
# Execution

@dataclass
class _TrialState:
    """A launched trial, from its first launch until it settles (no retry to come); its flags are decoded from
    the grid again when needed."""

    index: int
    attempt: int = 0
    run_dirs: list[str] = field(default_factory=list)
    shown_flags: str = ""  # the flags that tell this trial from the others, as progress lines show them


class SweepRuns:
    """The runs one execution of a sweep makes: the trials in flight (or waiting for a retry) with their attempts'
    folders, and the settled ones' folders by name, packed (~28 bytes a run instead of a ~370-byte record per
    trial), so the driver does not grow by a record per trial over a long sweep."""

    def __init__(self, runs_dir: str) -> None:
        self.runs_dir = runs_dir
        self.active: dict[int, _TrialState] = {}
        self._settled = bytearray()  # run folder names, each ending in a newline

    def settle(self, state: _TrialState) -> None:
        for run_dir in state.run_dirs:
            self._settled += os.path.basename(run_dir).encode() + b"\n"
        del self.active[state.index]

    def folders(self) -> list[str]:
        """Every run folder made, settled or not (an interrupted sweep's last ones are still active)."""
        names = self._settled.decode().split("\n")[:-1]
        return [os.path.join(self.runs_dir, name) for name in names] + \
            [run_dir for state in self.active.values() for run_dir in state.run_dirs]


def _slots(settings: Settings, info: ClusterInfo, gpus: float) -> int:
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


def _resolve_gpus(settings: Settings, info: ClusterInfo) -> float:
    gpus = settings.gpus_per_trial
    if gpus is None:
        return 1.0 if info.total_gpus > 0 else 0.0
    if gpus > info.max_node_gpus:
        raise TunerError(f"gpus-per-trial {gpus:g} is more than any node of the cluster has "
                         f"({info.max_node_gpus:g} GPUs); lower --gpus-per-trial")
    return gpus


@dataclass
class OpenCluster:
    """A connected cluster and the per-trial resources checked against it."""

    info: ClusterInfo
    gpus: float
    window: int
    slots: int
    env: dict[str, str]


def open_cluster(settings: Settings, project: str | None = None) -> OpenCluster:
    """Connect (or start) Ray and check the trial size fits a node; the caller must `close_cluster`. Joining a
    cluster by address ships `project` (the sweep's folder, without its runs directory) unless the setting
    ship_project is off: nodes that cannot see the driver's files run the trials from that copy."""
    from workers import cluster as ray_cluster  # imports Ray: only here

    ship = project if settings.ship_project and settings.ray_address else None
    try:
        info = ray_cluster.this_process().connect(settings.ray_address, keep_cluster_s=settings.keep_cluster_s, ship=ship,
                                   ship_exclude=(os.path.abspath(settings.runs_dir),))
    except ray_cluster.ClusterError as exc:
        raise TunerError(str(exc)) from None
    try:
        gpus = _resolve_gpus(settings, info)
        if settings.cpus_per_trial > info.max_node_cpus:
            raise TunerError(f"cpus-per-trial {settings.cpus_per_trial:g} is more than any node of the cluster "
                             f"has ({info.max_node_cpus:g} CPUs); lower --cpus-per-trial")
    except BaseException:
        ray_cluster.this_process().disconnect(info)
        raise
    env = thread_caps(settings.cpus_per_trial)
    if info.workers_predate_sweep:  # started by an earlier `tune` or sweep: give trials this one's env
        env = {**_driver_env(), **env}
    if 0 < gpus < 1:
        env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"  # fractional GPUs: TensorFlow must not grab the whole card
    slots = _slots(settings, info, gpus)
    return OpenCluster(info, gpus, _window(settings, slots), slots, env)


def _driver_env() -> dict[str, str]:
    """This driver's environment for trials on a warm cluster (PATH, PYTHONPATH, the user's variables), without
    Ray's own and the embedded cluster's marks."""
    from workers.reaper import TOKEN_ENV
    from workers.warm import WARM_ENV

    skip = ("RAY_", TOKEN_ENV, WARM_ENV, "CUDA_VISIBLE_DEVICES")
    return {k: v for k, v in os.environ.items() if not k.startswith(skip)}


def close_cluster(cluster: OpenCluster) -> None:
    from workers import cluster as ray_cluster

    ray_cluster.this_process().disconnect(cluster.info)


def execute_sweep(request: SweepRequest, journal: Journal, todo: Sequence[int], runs: SweepRuns,
                  progress: SweepProgress, cluster: OpenCluster) -> tuple[bool, bool, str | None]:
    """Run the todo trials; returns (interrupted, stopped_early, config_error: why the sweep cannot succeed).
    Every outcome is journaled on arrival."""
    from workers import pool as task_pool

    marker = journal.marker_path
    open(marker, "w").close()
    info = cluster.info
    # a cluster joined by address may have nodes that cannot see this disk: a relay brings their runs' state here
    relay = bool(info.address) and not info.warm
    pool = task_pool.TaskPool(task_pool.Resources(request.settings.cpus_per_trial, cluster.gpus), cluster.window, marker,
                           shipped=info.shipped, relay=relay, token=info.token)
    try:
        loop = _SweepLoop(request, journal, todo, runs, progress, pool, cluster.env)
        interrupted, stopped_early = loop.run()
    finally:
        pool.close()
    return interrupted, stopped_early, loop.config_error


class TrialPool(Protocol):
    """What the sweep loop uses of its pool (workers.pool.TaskPool): tasks of trials kept in a bounded window,
    their results handed back as they arrive, all of them cancelled on Ctrl-C."""

    #: tasks kept in flight
    window: int
    #: GPUs each task asks for (recorded in every run's resources)
    gpus: float

    @property
    def in_flight(self) -> int:
        """Trials in flight, in all tasks."""

    @property
    def batches(self) -> bool:
        """Whether several trials may share a task."""

    def has_room(self) -> bool:
        """Whether another task fits in the window."""

    def submit(self, items: Sequence[tuple[int, RunSpec]]) -> None:
        """One task for these (trial index, spec) pairs, run in this order."""

    def wait(self, timeout_s: float) -> list[TaskResult]:
        """Results of the tasks that finished within `timeout_s` (possibly none)."""

    def cancel_all(self, grace_s: float = 10.0) -> list[TaskResult]:
        """Cancel every task; the results of all of them, settled within `grace_s` or killed."""


class _SweepLoop:
    """The driver loop: keep the pool's window full, record each result as it arrives, retry, stop."""

    def __init__(self, request: SweepRequest, journal: Journal, todo: Sequence[int], runs: SweepRuns,
                 progress: SweepProgress, pool: TrialPool, env: dict[str, str]) -> None:
        self.request, self.settings, self.journal = request, request.settings, journal
        self.queue = deque(todo)
        self.total = len(todo)
        self.runs = runs
        self.progress, self.pool, self.env = progress, pool, env
        self.pattern = stdout_pattern(self.settings)
        # run folders are named by the second and the trial (`2026-12-07T20-15-17Z-03`), the number as wide as the
        # plan's largest, so names sort by second, then by trial, and differ where a person looks
        self.label_digits = len(str(max(request.plan.total - 1, 0)))
        from tuner.plan import varying_names

        self.varying = varying_names(request.plan.grid)
        self.failures = 0
        self.stopped_early = False
        self.reached_target = False
        self.stopping = False
        self.config_failures: list[ConfigFailure] = []
        self.other_outcomes = 0  # any outcome that is not a configuration error: then the sweep can succeed
        self.config_error: str | None = None
        self.durations: deque[float] = deque(maxlen=16)  # of the last finished trials: is batching worth it
        self.said_no_checkpoint = False
        self.batching = pool.batches  # turned off for good when a batch's task fails (see record)
        from tuner.search.driver import POLL_S, SearchDriver

        self.poll_s = POLL_S  # how often the search driver reads the running trials' metrics

        # an adaptive sampler and/or a stopping rule (tuner.search); None for plain grids and random spaces
        self.search = SearchDriver(request, journal, self.settings.runs_dir) if request.adaptive else None

    def run(self) -> tuple[bool, bool]:
        """(interrupted, stopped_early); `config_error` says when the sweep stopped because it cannot succeed"""
        try:
            while True:
                if os.path.exists(self.journal.stop_request):  # `tune dashboard --allow-control`: stop the sweep
                    return self.cancel("stop requested from the dashboard: cancelling queued trials and stopping "
                                       "running ones ..."), self.stopped_early
                self.fill()
                if not (self.queue or self.pool.in_flight):
                    break
                for result in self.pool.wait(timeout_s=0.5 if self.search is None else self.poll_s):
                    self.record(result)
                if self.search is not None:
                    self.search.poll()
        except KeyboardInterrupt:
            return self.cancel("interrupted: cancelling queued trials and stopping running ones ..."), \
                self.stopped_early
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            self.stopping = True  # nothing more can be recorded: stop what runs, keep what can be kept, re-raise
            for result in self.pool.cancel_all(grace_s=min(self.settings.kill_grace_s, 10.0)):
                try:
                    self.record(result, report=False)  # the one line about the disk says it all
                except OSError:
                    pass
            raise
        if self.search is not None and not self.stopped_early:
            for index in self.search.end_promotions():
                self.progress.trial_not_promoted()
                self.progress.message(f"trial {index} was not promoted: its paused run ends stopped")
        return False, self.stopped_early

    def fill(self) -> None:
        """Launch while there is room: a paused trial due for promotion first (--stop hyperband), else the next
        trial of the queue."""
        while self.pool.has_room():
            promoted = self.search.next_promotion() if self.search is not None and not self.stopping else None
            if promoted is not None:
                if promoted in self.queue:  # resumed: its run was lost on its way to pausing; it goes on promoted
                    self.queue.remove(promoted)
                self.launch_promoted(promoted)
                continue
            if not self.queue:
                return
            self.launch([self.queue.popleft() for _ in range(min(self.batch_size(), len(self.queue)))])

    def launch_promoted(self, index: int) -> None:
        """A paused trial continues with more budget, as a new run of the same trial: from its checkpoint, or
        without one from the start (said once per sweep)."""
        trial = TrialPaths.of(self.journal.folder, index)
        if not has_checkpoint(trial.checkpoint) and not self.said_no_checkpoint:
            self.said_no_checkpoint = True
            self.progress.message(f"trial {index} has no checkpoint (nothing in $TUNER_CHECKPOINT_DIR): a promoted "
                                  "trial without one runs again from the start with the larger budget", style="red")
        state = self.runs.active.setdefault(index, _TrialState(index))
        state.attempt = max(state.attempt, len(launched_runs(trial)))
        self.progress.trial_promoted()
        self.launch([index])

    def cancel(self, message: str) -> bool:
        """Stop everything as a Ctrl-C does (queued trials cancelled, running ones stopped and recorded `killed`,
        so `tune resume` runs them again); True: the sweep was interrupted."""
        self.stopping = True
        main = threading.current_thread() is threading.main_thread()  # signal handlers belong to the main thread
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None  # the cleanup must finish
        try:
            self.progress.message(message, style="red")
            for result in self.pool.cancel_all(grace_s=min(self.settings.kill_grace_s, 10.0)):
                self.record(result)
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)
        return True

    def batch_size(self) -> int:
        """Trials for the next task: 1, or several when the last ones were short (BATCH_BELOW_S). Never for a
        search (the sampler and the stopping rule want each result as it comes) and never so many that the tail
        of the sweep runs on fewer slots than it could: at most the queue over the window."""
        if not self.batching or self.search is not None or len(self.durations) < self.pool.window:
            return 1
        median = statistics.median(self.durations)
        if median >= BATCH_BELOW_S:
            return 1
        return max(1, min(MAX_BATCH, int(BATCH_TASK_S / max(median, 1e-3)), len(self.queue) // self.pool.window))

    def launch(self, indices: list[int]) -> None:
        """Make each trial's run (queued) and send them to the cluster as one task."""
        settings = self.settings
        items: list[tuple[int, RunSpec]] = []
        made: list[str] = []
        try:
            for index in indices:
                state = self.runs.active.setdefault(index, _TrialState(index))
                state.attempt += 1
                run_dir = unique_run_dir(settings.runs_dir, label=str(index).zfill(self.label_digits))
                made.append(run_dir)
                spec, flags = self._prepare(index, state, run_dir)
                state.shown_flags = shown_flags(flags, self.varying)
                items.append((index, spec))
        except BaseException:  # no half-made run: a folder without run.json is never left behind (disk full ...)
            for run_dir in made:
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
        for (index, _spec), run_dir in zip(items, made):
            self.runs.active[index].run_dirs.append(run_dir)
            if self.search is not None:
                self.search.launched(index, os.path.abspath(run_dir))  # as RunPaths has it
        self.pool.submit(items)
        for _ in items:
            self.progress.trial_started()

    def _prepare(self, index: int, state: _TrialState, run_dir: str) -> tuple[RunSpec, dict[str, Any]]:
        request, settings = self.request, self.settings
        paths = RunPaths(os.path.abspath(run_dir))
        _link_sources(self.journal.source_dir, paths.source_dir)
        write_git_diff(paths, request.script)
        identity: dict[str, Any] = {"sweep": self.journal.sweep_id, "trial": index, "attempt": state.attempt,
                                    "resources": {"cpus": settings.cpus_per_trial, "gpus": self.pool.gpus}}
        # the trial's checkpoint folder outlives this run: a retry, a resume or a promotion continues from it
        trial = TrialPaths.of(self.journal.folder, index)
        previous = resumed_from(trial, settings.runs_dir)
        if previous is not None:
            identity["resumed_from"] = previous
        if self.search is not None:
            identity.update(self.search.run_fields(index))  # PBT: the segment and its donor
        flags = self.search.flags_for(index) if self.search is not None else request.plan.grid.combination(index)
        spec = build_run_spec(request.script, flags, run_dir, settings, echo=False,
                                job_type="sweep", identity=identity, env=self.env, extra_args=request.extra_args,
                                cwd=request.cwd, interface=request.interface,
                                template=request.template, tags=request.tags,
                                checkpoint_dir=trial.checkpoint)
        spec = replace(spec, post_run=(after_run, (paths.run_dir, self.pattern)))  # on the worker, in parallel
        # every trial can be stopped: by the stopping rule (stoppable: looked for every 10 ms, each step written as it
        # closes) or by a person from `tune dashboard` (looked for every PERSON_STOP_POLL_S)
        if request.stop is not None:
            spec = stoppable(spec)
        else:
            spec = replace(spec, stop_file=paths.stop_request, stop_poll_s=PERSON_STOP_POLL_S)
        # the run exists from now on, so a listing during the sweep shows it as queued, not as a broken run; its
        # metadata folder is made here too when the sweep has no source snapshot to link (a journal pulled alone)
        os.makedirs(paths.meta, exist_ok=True)
        write_run_status(paths.run_dir, RunStatus.QUEUED, spec.record)
        record_launch(trial, paths.run_dir, state.attempt, int(identity.get("segment") or 0))
        return spec, flags

    def record(self, result: TaskResult, report: bool = True) -> None:
        state = self.runs.active[result.key]
        run_dir = state.run_dirs[-1]
        if self._requeue_unstarted(result, state, run_dir):
            return
        if result.outcome is not None:
            outcome = result.outcome
            status, exit_code, error = outcome.status, outcome.exit_code, outcome.error_message
            duration, tail = outcome.duration_s, outcome.stderr_tail
        else:  # the task never reported: cancelled before start, or the worker died past its retries
            status, exit_code, error, duration, tail = _settle_unreported(run_dir, result.error)
        run_status = RunStatus(status)
        failure = None
        if run_status is RunStatus.FAILED and not _has_metrics(run_dir):
            failure = config_failure(exit_code, error, tail)
        repeated = failure is not None and bool(self.config_failures) \
            and failure.signature == self.config_failures[0].signature
        # a configuration error fails every attempt the same way: it is never retried
        will_retry = run_status.is_failure() and state.attempt <= self.settings.retries and not self.stopping \
            and failure is None
        self.journal.append(RecordKind.OUTCOME, outcome_record(state.index, state.attempt, os.path.basename(run_dir),
                                                               status, exit_code, error, duration))
        if run_status is RunStatus.FINISHED and result.outcome is not None:
            self.durations.append(duration)
        metric = self.request.metric
        judged = bool(self.request.objectives or self.request.constraints)  # a multi-objective sweep has no `metric`
        row = run_row(read_run(run_dir)) if judged and os.path.isdir(os.path.join(run_dir, META_DIR)) else {}
        if repeated:  # the one error was printed once; the trials that were already running say only that
            error, tail = "the same error as above", ()
        elif failure is not None:  # the error line itself, not a usage text or traceback per trial
            error, tail = failure.line, ()
        if self.search is not None and not will_retry:
            status = self.search.finished(state.index, status, metric_value(row, metric), row)
            run_status = RunStatus(status)  # a --budget-flag trial that ran a rung's budget is paused there
        if result.outcome is None and error == NOT_STARTED:  # no run: pending, not a killed trial
            self.progress.trial_not_started()
        elif report:
            self.progress.trial_done(os.path.basename(run_dir), status, duration or 0.0, metric_value(row, metric),
                                     exit_code, error, tail, will_retry, flags=state.shown_flags,
                                     feasible=all(c.holds(row) for c in self.request.constraints),
                                     values=[metric_value(row, m) for m in self.request.metrics])
            for note in result.outcome.notes if result.outcome is not None else ():  # what its view could not keep
                self.progress.message(f"{os.path.basename(run_dir)}: {note}", style="red")
        self._check_config_failure(failure)
        if will_retry:
            self.queue.appendleft(state.index)
            return
        self.runs.settle(state)
        self._check_target(run_status, metric_value(row, metric))
        if run_status.is_failure() or run_status is RunStatus.LOST:
            self.failures += 1
            limit = self.settings.max_failures
            if limit is not None and self.failures >= limit and self.queue:
                self.stopped_early = True
                self.progress.message(f"{self.failures} failed trials: reached --max-failures {limit}; "
                                      "no new trials are launched", style="red")
                self.queue.clear()

    def _check_target(self, status: RunStatus, value: Any) -> None:
        """W&B's metric.target: once a finished trial's metric reaches it, no new trial is launched (the running
        ones finish)."""
        target, metric = self.request.target, self.request.metric
        if target is None or status is not RunStatus.FINISHED or not self.queue or not isinstance(value, (int, float)):
            return
        if value <= target if self.request.mode == "min" else value >= target:
            self.reached_target = True
            self.progress.message(f"{metric} {value:.4g} reached the target {target:g}: no new trials are launched",
                                  style="green")
            self.queue.clear()

    def _requeue_unstarted(self, result: TaskResult, state: _TrialState, run_dir: str) -> bool:
        """A batch's task failed (its worker died past Ray's retries) before this trial of it started: the trial
        goes back to the queue, not counted as an attempt, and batching stops for this sweep (whatever failed
        the batch, single trials then meet it one by one, as without batching). Not when the sweep is stopping
        or launches no more (--max-failures, a configuration error) or the task was cancelled: then it is
        `killed`, as every trial that did not start."""
        if result.outcome is not None or result.batch < 2 or self.stopping or self.stopped_early \
                or result.error in ("cancelled", "killed"):
            return False
        status = RunStatus.parse(read_run(run_dir, with_metrics=False).run.get("status"))
        if status not in (None, RunStatus.QUEUED):
            return False
        shutil.rmtree(run_dir, ignore_errors=True)
        state.run_dirs.pop()
        state.attempt -= 1
        self.queue.appendleft(state.index)
        self.batching = False
        self.progress.trial_requeued()
        return True

    def _check_config_failure(self, failure: ConfigFailure | None) -> None:
        """Stop launching when the first trials all died of the same configuration error."""
        if failure is None:
            self.other_outcomes += 1
            return
        if self.other_outcomes or self.config_error is not None:
            return
        self.config_failures.append(failure)
        first = self.config_failures[0]
        if any(f.signature != first.signature for f in self.config_failures):
            self.other_outcomes += 1
            return
        if len(self.config_failures) >= min(FAIL_FAST_AFTER, self.total):
            self.config_error = first.describe(len(self.config_failures))
            if self.queue:
                self.stopped_early = True
                self.queue.clear()
                self.config_error += "; no new trials are launched"
            self.progress.message(self.config_error, style="red")


#: progress lines show a trial's flags in at most this many characters
SHOWN_FLAGS_CHARS = 60


def shown_flags(flags: Mapping[str, Any], names: Sequence[str]) -> str:
    """`lr=0.01 l2=0`: the values of the flags that vary in the sweep (all of them when none does), numbers to 4
    significant digits, cut at SHOWN_FLAGS_CHARS with an ellipsis."""
    parts = []
    for name in names or list(flags):
        value = flags.get(name)
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        parts.append(f"{name}={text}")
    line = " ".join(parts)
    return line if len(line) <= SHOWN_FLAGS_CHARS else line[:SHOWN_FLAGS_CHARS - 1] + "…"


def _has_metrics(run_dir: str) -> bool:
    path = RunPaths(run_dir).live_metrics_jsonl
    try:
        return os.path.getsize(path) > 0
    except OSError:
        return False


def _settle_unreported(run_dir: str, error: str | None) -> tuple[str, int | None, str | None, float, tuple[str, ...]]:
    """A trial whose task did not report: never started (remove its empty folder) or died with its worker."""
    data = read_run(run_dir, with_metrics=False)
    status = RunStatus.parse(data.run.get("status"))
    if status in (None, RunStatus.QUEUED):  # never started: nothing of value, no run left behind
        shutil.rmtree(run_dir, ignore_errors=True)
        return RunStatus.KILLED.value, None, NOT_STARTED, 0.0, ()
    if status is RunStatus.RUNNING:  # the worker died mid-trial: the run is lost, say so in the run itself
        status = RunStatus.KILLED if error in ("cancelled", "killed") else RunStatus.LOST
        write_run_status(run_dir, status, data.run, end=time.time())
    elif status is not None and status.is_terminated():  # it had ended (a batch cancelled after it): its own record
        error = None if status is RunStatus.FINISHED else (data.error or {}).get("message") or error
    start, end = data.run.get("start"), data.run.get("end") or time.time()
    duration = float(end - start) if start else 0.0
    return status.value if status else "unknown", data.run.get("exit_code"), error, duration, ()


def _link_sources(snapshot: str, dest: str) -> None:
    """Each run gets the sweep's source snapshot as hard links: a view per run, one copy on disk."""
    if not os.path.isdir(snapshot):
        return
    try:
        shutil.copytree(snapshot, dest, copy_function=os.link)
    except OSError:
        shutil.copytree(snapshot, dest, dirs_exist_ok=True)
