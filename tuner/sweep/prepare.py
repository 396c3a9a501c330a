"""Validating a sweep request and planning it: every problem is found before anything is written."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from tuner import channel
from tuner.errors import ConfigError, GridError, TunerError, quoted
from tuner.flagsfile import FlagsFile, as_flags_file, sweep_script_file
from tuner.plan import Plan, check_run_cap, check_sample, load_grid, make_plan
from tuner.runs.ranking import (
    check_constraints,
    check_mode,
    check_objectives,
    metric_column,
    metric_columns,
    metric_direction,
    unknown_metric,
)
from tuner.settings import Settings, load_settings
from tuner.spec import ScriptInfo, describe_script
from tuner.store.files import launch_tags
from tuner.store.layout import runs_dir_write_problem

if TYPE_CHECKING:  # imported where they are made, on first use
    from tuner.interface.discover import ScriptInterface
    from tuner.interface.template import CommandTemplate
    from tuner.search.driver import StopConfig


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
    #: the planned trials still to run (resume, --skip-done); None = all
    todo: tuple[int, ...] | None = None
    #: --skip-done: (trial, run_dir) of the planned trials that already have a finished run, which is reused
    skipped: tuple[tuple[int, str], ...] = ()
    #: resume: the trials paused at a rung or for an exploit (--stop hyperband, --search pbt) when the driver died;
    #: not run again as such, the resumed scheduler promotes or relaunches them (counted by the progress as paused)
    paused: tuple[int, ...] = ()
    #: the trials' working directory: where the sweep was started
    cwd: str = field(default_factory=os.getcwd)
    #: the script's flags as discovered (tuner.interface); None = not checked, argv is `--name=value`
    interface: ScriptInterface | None = None
    #: the command template (tuner.interface.template); None = `${interpreter} ${program} ${args}`
    template: CommandTemplate | None = None
    #: the sampler of a search space (tuner.search.samplers) and the early-stopping rule (tuner.search.driver)
    search: str = "random"
    stop: StopConfig | None = None
    #: every trial's tags at launch (tuner.store.files.launch_tags: --tag, --label, --note)
    tags: dict[str, str] = field(default_factory=dict)
    #: a value of `metric` that ends the sweep once a finished trial reaches it (W&B's metric.target)
    target: float | None = None
    #: a multi-objective sweep's metrics and modes (two or more; `metric` is then None: there is no single best)
    metrics: tuple[str, ...] = ()
    modes: tuple[str, ...] = ()
    #: the sweep's constraints (tuner.runs.ranking.Constraint): a run that breaks one is never best nor on the front
    constraints: tuple[Any, ...] = ()

    @property
    def objectives(self) -> tuple[tuple[str, str], ...]:
        """Every (metric, mode) the sweep is judged by: one for a sweep with --metric, none without, or several."""
        if self.metrics:
            return tuple(zip(self.metrics, self.modes))
        return ((self.metric, self.mode),) if self.metric else ()

    @property
    def adaptive(self) -> bool:
        """A sampler that learns from results, or a stopping rule: the sweep is driven by tuner.search.driver."""
        return self.search != "random" or self.stop is not None


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
    """A sweep's (or a resume's) settings usable together: the resource and retry numbers, and a runs directory
    that can take new runs; every problem in one TunerError."""
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
    unwritable = runs_dir_write_problem(settings.runs_dir)  # before the cluster starts, not at the first run
    if unwritable is not None:
        problems.append(unwritable)
    if problems:
        raise TunerError("; ".join(problems))
    return settings


def prepare_sweep(file: str, flags: Any, sample: Any = None, seed: int | None = None, *,
                  flag_overrides: Mapping[str, Sequence[Any]] | None = None, metric: str | Sequence[str] | None = None,
                  mode: str | Sequence[str] | None = None, constraints: Sequence[str] | str | None = None,
                  extra_args: Sequence[str] = (), skip_done: bool = False,
                  quiet: bool = False, num_samples: int | None = None, search: str | None = None,
                  stop: str | None = None, stop_options: Mapping[str, Any] | None = None,
                  check: bool = True, tags: Mapping[str, Any] | None = None, label: str | None = None,
                  note: str | None = None, target: float | None = None, run_cap: int | None = None,
                  **settings_overrides: Any) -> SweepRequest:
    """Validate everything and plan; writes nothing. `flags`: a flags file (its path, or the FlagsFile the caller
    read: tuner.flagsfile), a mapping or a DataFrame. `num_samples` (or any distribution in `flags`) makes the
    grid a search space: grid lists x num_samples random draws (tuner.search.space). A flags file's settings
    (its `sweep:` section, tuner.flagsfile.SWEEP_SETTINGS, or what a foreign sweep file says) fill in what the
    arguments leave unset; its `command:` is the command template.

    `metric` may name several metrics (a list), with `mode` a list of as many (or None: each metric's direction):
    a multi-objective sweep, judged by its Pareto front. `constraints` (`"memory_mb <= 512"`, one or a list) bound
    metrics of the runs (tuner.runs.ranking.Constraint)."""
    script_file = sweep_script_file(file)  # `tune sweep.yaml`: a W&B sweep file names its program
    if script_file is not None:
        file, flags = str(script_file.program), script_file if flags is None else flags
    unreadable: TunerError | None = None
    try:
        flags = as_flags_file(flags, file)  # read once: the grid, the settings and the command all come from it
    except TunerError as exc:  # an unreadable file: said with the other problems, below
        unreadable = exc
    source = flags if isinstance(flags, FlagsFile) else None
    given: Mapping[str, Any] = source.settings if source is not None else {}
    sample = sample if sample is not None else given.get("sample")
    seed = seed if seed is not None else given.get("seed")
    num_samples = num_samples if num_samples is not None else given.get("num_samples")
    metric = metric if metric is not None else given.get("metric")
    mode = mode if mode is not None else given.get("mode")
    constraints = constraints if constraints is not None else given.get("constraints")
    metric, mode, metrics, modes = _objectives(metric, mode)
    constraint_list = check_constraints([constraints] if isinstance(constraints, str) else constraints)
    search = search if search is not None else given.get("search")
    stop = stop if stop is not None else given.get("stop")
    # where a target came from, for its message: --target, or the file's (W&B's metric.target)
    target_from = "--target" if target is not None or source is None else f"the target of {source.path}"
    target = target if target is not None else given.get("target")
    run_cap = run_cap if run_cap is not None else given.get("run_cap")
    stop_options = {name: value if value is not None else given.get(name)
                    for name, value in {**dict.fromkeys(("grace_period", "reduction_factor", "max_t", "min_trials",
                                                         "brackets", "strict", "budget_flag",
                                                         "perturbation_interval", "quantile_fraction",
                                                         "resample_probability")),
                                        **dict(stop_options or {})}.items()}
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TunerError(f"seed must be an integer, got {quoted(seed)}")
    from tuner.search.driver import PBT, check_pbt, check_search, check_stop

    def scheduler() -> Any:
        """The stopping rule, or PBT's settings (PBT is its own scheduler: it takes the stopping rule's place)."""
        options = dict(stop_options or {})
        pbt = {k: options.pop(k) for k in ("perturbation_interval", "quantile_fraction", "resample_probability")}
        if search != PBT:
            return check_stop(stop, **options, **pbt)
        if stop is not None:
            raise ConfigError(f"--search pbt exploits and explores on its own; drop --stop {stop}")
        return check_pbt(**pbt)

    settings, script, grid, _, stop_config, run_tags, _, _ = _gather([
        lambda: check_resources(load_settings(**settings_overrides)),
        lambda: describe_script(file),
        lambda: _raise(unreadable) if unreadable is not None else load_grid(flags, flag_overrides, num_samples, seed),
        lambda: check_sample(sample),
        scheduler,
        lambda: launch_tags(tags, label, note),
        lambda: check_run_cap(run_cap),
        lambda: check_target(target, metric, len(metrics), target_from),
    ])
    from tuner.search.driver import objectives_stop

    stop_config = objectives_stop(stop_config, len(metrics) or (1 if metric else 0))
    if source is not None and source.needs_run_cap and num_samples is None and run_cap is None:
        raise GridError(f"{source.path}: {source.needs_run_cap} has no run_cap: W&B draws until its agents are "
                        "stopped; add `run_cap: N` to the file, or give --run-cap N or --num-samples N")
    if num_samples is None and run_cap is not None and getattr(grid, "distributions", None) is not None:
        grid = load_grid(flags, flag_overrides, math.ceil(run_cap / grid.grid_size), seed)  # draws to reach run_cap
    plan = make_plan(grid, sample, seed, run_cap)
    check_mode(mode)
    from tuner.interface.template import check_template_flags, resolve_template

    template = resolve_template(settings, source.command, f"{source.path}: command") if source is not None \
        else resolve_template(settings)
    if template is not None:
        check_template_flags(template, grid.names)
    # a template without ${args} passes the flags another way: the script has no options to discover
    interface = script_interface(script.path, grid) if check and (template is None or template.uses_options) \
        else None
    from tuner.interface.argv import check_launchable
    from tuner.interface.check import grid_axes

    check_launchable(script.path, interface, grid_axes(grid), extra_args)
    sampler = check_search(search, grid, stop_config, metrics or metric, skip_done)
    for name, where in [(n, "--metric") for n in (metrics or ((metric,) if metric else ()))] + \
            [(c.metric, f"--constraint {quoted(c.text)}") for c in constraint_list]:
        check_metric_known(name, script.path, settings, where)
    todo: tuple[int, ...] | None = None
    skipped: tuple[tuple[int, str], ...] = ()
    if skip_done:  # read now, so a sweep with nothing left to run is said before it starts (and not recorded)
        from tuner.sweep.history import done_trials

        skipped = done_trials(settings.runs_dir, settings.stale_after_s, script.sha256, plan.grid, plan.indices)
        reused = {index for index, _ in skipped}
        todo = tuple(index for index in plan.indices if index not in reused)
    return SweepRequest(todo=todo, skipped=skipped, interface=interface, template=template,
                        script=script, plan=plan, settings=settings, metric=metric,
                        mode=mode or (metric_direction(metric) if metric else "max"), extra_args=tuple(extra_args),
                        skip_done=skip_done, quiet=quiet, search=sampler, stop=stop_config, tags=run_tags,
                        target=float(target) if target is not None else None, metrics=metrics, modes=modes,
                        constraints=constraint_list)


def _objectives(metric: Any, mode: Any) -> tuple[str | None, str | None, tuple[str, ...], tuple[str, ...]]:
    """(metric, mode, metrics, modes): one metric as `metric`/`mode` (metrics empty), or several as `metrics` and
    `modes` (metric None); a name or a list, from the command line or a `sweep:` section. Mismatched counts, a
    metric named twice or an unknown mode are one QueryError line."""
    names = [metric] if isinstance(metric, str) else list(metric) if isinstance(metric, (list, tuple)) else \
        [] if metric is None else [metric]
    given = [mode] if isinstance(mode, str) else list(mode) if isinstance(mode, (list, tuple)) else \
        [] if mode is None else [mode]
    if len(names) > 1 or len(given) > 1:
        metrics, modes = check_objectives(names, given)
        if len(metrics) > 1:
            return None, None, metrics, modes
    if names:
        check_objectives(names, given)
        return names[0], given[0] if given else None, (), ()
    return None, given[0] if given else None, (), ()


def _raise(error: TunerError) -> Any:
    raise error


def check_target(target: Any, metric: str | None, metrics: int = 0, given_as: str = "--target") -> float | None:
    """W&B's metric.target: a finite number, and a metric to compare it with. `given_as`: where it was given
    (`--target`, or a flags file's), named in the message."""
    if target is None:
        return None
    if metrics > 1:
        raise TunerError("target ends the sweep when a trial's metric reaches it, and this sweep has several "
                         f"metrics (a front, not one value): drop {given_as}, or give one --metric")
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not math.isfinite(target):
        raise TunerError(f"target must be a finite number (the {metric or 'metric'} value that ends the sweep), "
                         f"got {quoted(target)}")
    if metric is None:
        raise TunerError("target ends the sweep when a trial's metric reaches it: add --metric NAME")
    return float(target)


def script_interface(script: str, grid: Any) -> ScriptInterface:
    """The script's discovered flags, with the grid checked against them (tuner.interface; --no-check skips)."""
    from tuner.interface.check import check_grid
    from tuner.interface.discover import discover_flags

    interface = discover_flags(script)
    check_grid(interface, grid)
    return interface


def recorded_metrics(script_path: str, settings: Settings) -> list[str]:
    """The metric/eval columns that earlier runs of this script (by file name) recorded in the runs directory."""
    from tuner.sweep.history import runs_table

    if not os.path.isdir(settings.runs_dir):
        return []
    table = runs_table(settings.runs_dir, settings.stale_after_s)
    if table.empty or "script" not in table:
        return []
    rows = table[table["script"] == os.path.basename(script_path)]
    return [c for c in metric_columns(rows.columns) if rows[c].notna().any()]


def check_metric_known(metric: str, script_path: str, settings: Settings, where: str = "--metric") -> None:
    """`--metric val_accc` (or a constraint's metric): when earlier runs of the script recorded metrics and none is
    this one, stop before anything is launched, naming the closest (a script never run before is checked at the
    end instead)."""
    known = recorded_metrics(script_path, settings)
    if known and metric_column(known, metric) is None:
        raise unknown_metric(metric, known, where)


def describe_plan(request: SweepRequest) -> str:
    plan = request.plan
    text = f"{plan.total:,} combinations of flags"
    space: Any = plan.grid
    objectives = ""
    if request.metrics:
        objectives = f"; {len(request.metrics)} objectives: " + ", ".join(f"{m} ({o})" for m, o in request.objectives)
    if request.constraints:
        objectives += "; constraints: " + ", ".join(c.text for c in request.constraints)
    if getattr(space, "distributions", None) is not None:
        text = (f"{plan.total:,} trials: {space.grid_size:,} grid points x {space.num_samples} draws "
                f"(sampler {request.search}, seed={space.seed})")
        text += f", stopping rule {request.stop.rule}" if request.stop is not None else ""
        return text + (f", ends at {request.metric} {request.target:g}" if request.target is not None else "") \
            + objectives
    if plan.sample is not None:
        text += f", sampled {len(plan.indices):,} (sample={plan.sample:g}, seed={plan.seed})"
    elif len(plan.indices) < plan.total:
        text += f", the first {len(plan.indices):,} (run_cap)"
    else:
        text += " (use --sample to run a random subset)"
    if request.skipped:
        text += (f"; {len(request.skipped):,} already have a finished run (--skip-done), "
                 f"{len(request.todo or ()):,} to run")
    return text + objectives


def confirm_launch(count: int, ask_user: bool | channel.Confirm) -> bool:
    """`Proceed with N runs? [Y/n]`, asked through the channel when a person is there to answer (and `ask_user`),
    or of `ask_user` itself when it is a callable; empty or y/yes proceeds."""
    return channel.confirmed(ask_user if callable(ask_user) else None if ask_user else False,
                             f"Proceed with {count} runs?", True)


