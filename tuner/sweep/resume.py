"""Resuming a sweep whose driver stopped: settle the runs it left behind, then plan what is left."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable

from tuner import channel
from tuner.errors import DiskFullError, TunerError
from tuner.plan import grid_from_source, plan_from_record
from tuner.runs.aggregate import DEFAULT_STALE_AFTER_S
from tuner.runs.ranking import RankingChoice, check_constraints, metric_direction, sweep_objectives, sweep_ranking
from tuner.search.driver import stop_from_source
from tuner.settings import load_settings
from tuner.spec import describe_script
from tuner.store.files import read_run, write_run_status
from tuner.store.journal import Journal, RecordKind, outcome_record
from tuner.store.layout import ENV_RUN_DIR
from tuner.store.status import RunStatus, TrialCounts, TrialState
from tuner.sweep.history import count_trials, runs_table, sweep_rows, sweep_trial_states
from tuner.sweep.prepare import SweepRequest, check_resources
from workers.files import is_disk_full

if TYPE_CHECKING:
    from tuner.interface.discover import ScriptInterface
    from tuner.interface.template import CommandTemplate
    from tuner.settings import Settings

log = channel.logger(__name__)


@dataclass(frozen=True)
class SweepStatus:
    """One sweep as `tune sweeps` and the report list it."""

    sweep_id: str
    created: float
    script: str  # its path, as recorded (absolute)
    #: its planned trials by state (tuner.store.status.TrialCounts): what every view of the sweep counts
    counts: TrialCounts
    #: why the sweep's journal cannot be read (names the file), None when it can
    damaged: str | None = None
    #: the sweep's ranking (tuner.runs.ranking.sweep_ranking: its own --metric/--mode, else the default metric)
    #: and its best finished run: None when nothing ranks or nothing finished with a value
    metric: str | None = None
    mode: str | None = None
    best_value: float | None = None
    best_run: str | None = None
    #: a multi-objective sweep's metrics with their modes (`metric` is then None) and the size of its Pareto front
    #: (None when a metric was recorded by no run)
    objectives: tuple[tuple[str, str | None], ...] = ()
    front: int | None = None


def settle_orphans(runs_dir: str, sweep_id: str, heartbeat_s: float, wait_s: float | None = None) -> int:
    """Runs left `running` by a dead driver (we hold the sweep's lock): kill any surviving process tree of theirs,
    wait until their heartbeats stop (so no dying worker can still write `finished`), then mark them `lost`."""
    import socket

    from workers.reaper import carries, kill_group

    host = socket.gethostname()
    deadline = time.time() + (wait_s if wait_s is not None else 2 * heartbeat_s + 1)
    rows = sweep_rows(runs_table(runs_dir, DEFAULT_STALE_AFTER_S), sweep_id)  # running or lost: both candidates
    candidates = [d for d, status in zip(rows["run_dir"], rows["status"]) if status in (RunStatus.RUNNING, RunStatus.LOST)] \
        if len(rows) else []
    for run_dir, status in zip(rows["run_dir"], rows["status"]) if len(rows) else ():
        if status == RunStatus.QUEUED:  # launched by the dead driver but never started: remove, it will run again
            shutil.rmtree(run_dir, ignore_errors=True)
    while True:
        running = []
        for run_dir in candidates:
            data = read_run(run_dir, with_metrics=False)
            if data.run.get("status") != RunStatus.RUNNING:
                continue
            pid = data.run.get("pid")
            # the pid still runs this run's script (not a recycled pid): its environment names the run directory
            if data.run.get("host") == host and isinstance(pid, int) \
                    and carries(pid, f"{ENV_RUN_DIR}={os.path.abspath(run_dir)}".encode()):
                kill_group(pid)
            running.append(data)
        fresh = [d for d in running if time.time() - (d.run.get("heartbeat") or 0) < 2 * heartbeat_s + 0.5]
        if not fresh or time.time() >= deadline:
            break
        time.sleep(0.2)
    for data in running:
        current = read_run(data.paths.run_dir, with_metrics=False).run
        if current.get("status") == RunStatus.RUNNING:
            try:
                write_run_status(data.paths.run_dir, RunStatus.LOST, current, end=current.get("heartbeat"))
            except OSError as exc:
                if not is_disk_full(exc):
                    raise
                raise DiskFullError.resumable(exc, runs_dir, sweep_id) from None
    return len(running)


def tell_untold(journal: Journal, rows: Any, metric: str | list[str] | None, constraints: Any = ()) -> list[int]:
    """Trials the sampler asked for whose run ended (finished or stopped) just as the driver died, before their
    `tell` was journaled: resume does not run them again, so tell them now, from their runs, and journal it
    (the sampler then learns from every trial). `metric`: a list for a sweep of several objectives (a value
    each); `constraints`: the sweep's (their violations are journaled too). Returns those trials."""
    from tuner.runs.ranking import metric_value
    from tuner.search.samplers import COMPLETE, PRUNED, tell_record

    settled = []
    for trial in journal.read().untold() if len(rows) else ():
        ended = rows[(rows["trial"] == trial) & rows["status"].isin([RunStatus.FINISHED, RunStatus.STOPPED])]
        if ended.empty:
            continue
        row = ended.iloc[-1].to_dict()
        value = [metric_value(row, m) for m in metric] if isinstance(metric, list) else metric_value(row, metric)
        state = COMPLETE if row["status"] == RunStatus.FINISHED else PRUNED
        violations = [c.violation(row) for c in constraints] if constraints else None
        journal.append(RecordKind.TELL, {**tell_record(int(trial), value, state, (), violations), "time": time.time(),
                                         "from": "resume"})
        settled.append(int(trial))
    return settled


def log_unrecorded_outcomes(journal: Journal, rows: Any) -> list[str]:
    """Runs of the sweep that ended (or were just settled as `lost`) without an `outcome` record, because the
    driver died before it appended one: append it now, marked `"from": "resume"`, so the journal's log names how
    every attempt ended. Nothing decides on these records (the runs are the truth); they are for people and tools
    reading the journal. Returns the runs logged."""
    logged = {r.get("run") for r in journal.records(RecordKind.OUTCOME)}
    added = []
    # None for every cell a run leaves empty (NaN, pandas' NA), so each field below is a value or None
    for row in rows.astype(object).where(rows.notna(), None).to_dict("records") if len(rows) else []:
        run = os.path.basename(str(row.get("run_dir") or ""))
        status = RunStatus.parse(row.get("status"))
        if not run or run in logged or status is None or status.is_active() or row.get("trial") is None:
            continue
        journal.append(RecordKind.OUTCOME, outcome_record(
            int(row["trial"]), _maybe(int, row.get("attempt")), run, status.value, _maybe(int, row.get("exit_code")),
            row.get("error_message"), _maybe(float, row.get("duration_s")), **{"from": "resume"}))
        added.append(run)
    return added


def _maybe(kind: Callable[[Any], Any], value: Any) -> Any:
    return None if value is None else kind(value)


def prepare_resume(sweep_id: str, retry_failed: bool = True, quiet: bool = False, project: str | None = None,
                   trust: bool | channel.Confirm | None = None, **settings_overrides: Any) -> SweepRequest:
    """`project`: the folder the sweep's project is in now (moved, or uploaded again with `tune submit`): the
    recorded script and working directory are taken from there instead.

    The journal decides what runs, so one this user's key did not sign (tuner.store.signing: edited, written by
    someone else, or by a tuner before signatures) goes on only when `trust` is True (`tune resume --yes`), or,
    with `trust` None, when a person says yes on a terminal after seeing what would run; otherwise UntrustedError.
    Nothing of the journal is acted on before that (not even the script's flag discovery, which runs it)."""
    from tuner.store.signing import require_trust

    base = load_settings(runs_dir=settings_overrides.get("runs_dir"))
    journal = Journal.open(base.runs_dir, sweep_id)
    state = journal.read()
    header = state.header
    verdict = journal.verify(state)
    if not verdict.trusted:
        require_trust(verdict, f"sweep {sweep_id}'s journal ({journal.path})", what_resume_runs(header, project),
                      f"tune resume {sweep_id} --yes", trust)
    if project is not None:
        header = _moved_project(header, os.path.abspath(project))
    recorded = {k: v for k, v in header.get("settings", {}).items() if k != "kill_grace_s"}
    given = {k: v for k, v in settings_overrides.items() if v is not None}
    settings = check_resources(load_settings(**{**recorded, **given}))
    script = describe_script(header["script"])
    if script.sha256 != header["script_sha256"] and not quiet:
        log.info("note: %s changed since the sweep started; the remaining trials use the new version", header["script"],
                 extra=channel.NOTE)
    grid = grid_from_source(header["grid"])
    plan = plan_from_record(grid, header.get("indices"), header.get("sample"), header.get("seed"))
    journal.claim()  # fails if a driver still runs this sweep
    try:
        settle_orphans(base.runs_dir, sweep_id, settings.heartbeat_s)
        rows = sweep_rows(runs_table(base.runs_dir, settings.stale_after_s), sweep_id)
        # the trials --skip-done reused are over: a resume of an interrupted --skip-done sweep must not run them
        states = sweep_trial_states(rows, plan.indices, False, state.trials(RecordKind.SKIP))
        log_unrecorded_outcomes(journal, rows)
        choice = RankingChoice.of_header(header)
        constraints = check_constraints(choice.constraints, "the sweep's constraint")
        if header.get("search") not in (None, "random"):
            tell_untold(journal, rows, list(choice.metrics) if choice.multi else choice.metric, constraints)
    finally:
        journal.release()
    todo = tuple(i for i in plan.indices if states[i].resume_reruns(retry_failed))
    paused = tuple(i for i in plan.indices if states[i] is TrialState.PAUSED)
    template, interface = _script_shape(script.path, settings, header.get("command"))
    return SweepRequest(interface=interface, template=template,
                        script=replace(script, given=header.get("script_given", script.given)), plan=plan,
                        settings=settings, metric=choice.metric, mode=choice.mode or "max",
                        metrics=choice.metrics if choice.multi else (),
                        modes=tuple(m or metric_direction(n) for n, m in zip(choice.metrics, choice.modes))
                        if choice.multi else (), constraints=constraints,
                        extra_args=tuple(header.get("extra_args", ())), quiet=quiet, sweep_id=sweep_id, resumed=True,
                        todo=todo, paused=paused,
                        cwd=str(header["cwd"]) if os.path.isdir(header.get("cwd") or "") else os.getcwd(),
                        search=header.get("search") or "random", stop=stop_from_source(header.get("stop")),
                        tags={str(k): str(v) for k, v in (header.get("tags") or {}).items()},
                        target=header.get("target"))


def what_resume_runs(header: dict[str, Any], project: str | None = None) -> list[str]:
    """What resuming would run, for a person to look at before a journal they did not sign is used: the command
    (the template with this Python and the script filled in; `${args}` and the other anchors are each trial's
    part), its environment, the working directory, the script and its hash, the cluster. Every value quoted as a
    shell reads it (and inert on a terminal: tuner.interface.template.shell_word)."""
    import sys

    from tuner.interface.template import DEFAULT_ARGV, shell_line, shell_word

    if project is not None:
        header = _moved_project(header, os.path.abspath(project))
    script = str(header.get("script"))
    command = header.get("command")
    argv = command.get("argv") if isinstance(command, dict) else None
    argv = [str(a) for a in argv] if isinstance(argv, list) and argv else list(DEFAULT_ARGV)
    argv = [{"${interpreter}": sys.executable, "${program}": script}.get(a, a) for a in argv]
    extra = [str(a) for a in header.get("extra_args") or ()]
    lines = [shell_line(argv + extra, anchors=True) + f"   (in {shell_word(str(header.get('cwd')))})"]
    env = command.get("env") if isinstance(command, dict) else None
    if isinstance(env, dict) and env:
        lines.append("with environment " + " ".join(f"{shell_word(str(k))}={shell_word(str(v))}" for k, v in env.items()))
    recorded = str(header.get("script_sha256") or "")
    try:
        now = describe_script(script).sha256
        state = "the file there now is the same" if now == recorded else "the file there now differs"
    except TunerError:
        state = "no such file there now"
    lines.append(f"the script {shell_word(script)} (sha256 {shell_word(recorded[:16])}...; {state})")
    grid = header.get("grid")
    names = [str(n) for n in (grid.get("flags") or grid.get("columns") or ())] if isinstance(grid, dict) else []
    if names:
        lines.append("over the flags " + ", ".join(shell_word(n) for n in names[:8]) + (" ..." if len(names) > 8 else ""))
    recorded_settings = header.get("settings")
    address = recorded_settings.get("ray_address") if isinstance(recorded_settings, dict) else None
    if address:
        lines.append(f"on the cluster {shell_word(str(address))}")
    return lines


def _moved_project(header: dict[str, Any], project: str) -> dict[str, Any]:
    old = str(header.get("cwd") or "")
    script = str(header["script"])
    inside = bool(old) and os.path.commonpath([os.path.abspath(script), old]) == old
    moved = os.path.join(project, os.path.relpath(script, old)) if inside else script
    return {**header, "cwd": project, "script": moved}


def _script_shape(script: str, settings: Settings, recorded: Any = None
                  ) -> tuple[CommandTemplate | None, ScriptInterface | None]:
    """The command template the sweep started with (journal header; older journals: the `command` setting) and
    the script's interface for the resumed trials' argv; an interface that cannot be found falls back to
    `--name=value`."""
    from tuner.interface.discover import discover_flags
    from tuner.interface.template import resolve_template

    template = resolve_template(settings, recorded, "the sweep's journal: command")
    if template is not None and not template.uses_options:
        return template, None
    try:
        return template, discover_flags(script)
    except TunerError:
        return template, None


def sweep_statuses(runs_dir: str, stale_after_s: float = 60.0) -> list[SweepStatus]:
    from tuner.store.journal import iter_journals

    rows = []
    table = runs_table(runs_dir, stale_after_s)
    for journal in iter_journals(runs_dir):
        try:
            state = journal.read()
            header = state.header
        except TunerError as exc:  # listed as damaged, with the file, rather than silently left out
            rows.append(SweepStatus(journal.sweep_id, 0.0, "", TrialCounts.of(()), damaged=str(exc)))
            continue
        indices = header.get("indices")
        planned = range(int(header.get("total") or 0)) if indices is None else indices
        runs = sweep_rows(table, journal.sweep_id)
        counts = count_trials(runs, planned, journal.is_claimed(), state.trials(RecordKind.SKIP))
        choice = RankingChoice.of_header(header)
        if choice.multi:  # several metrics: the size of the front, no best
            found = sweep_objectives(list(runs.columns), choice) if len(runs) else None
            rows.append(SweepStatus(journal.sweep_id, header.get("created", 0.0), os.path.basename(header["script"]),
                                    counts, objectives=tuple(zip(choice.metrics, found.modes if found else choice.modes)),
                                    front=len(found.front(runs.to_dict("records"))) if found is not None else None))
            continue
        ranking = sweep_ranking(list(runs.columns), choice) if len(runs) else None
        records = runs.to_dict("records") if ranking is not None else []
        best = ranking.best(records) if ranking is not None else None
        rows.append(SweepStatus(journal.sweep_id, header.get("created", 0.0), str(header["script"]), counts,
                                metric=ranking.metric if ranking else choice.metric,
                                mode=ranking.mode if ranking else None,
                                best_value=ranking.value(records[best]) if ranking and best is not None else None,
                                best_run=os.path.basename(str(records[best]["run_dir"])) if best is not None
                                else None))
    return rows

