"""From "run this script with these flags" to a RunSpec for workers.process: shared by training_run and sweeps."""

from __future__ import annotations

import functools
import getpass
import hashlib
import os
import platform
import sys
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Mapping

from tuner._version import __version__
from tuner.capture.gitinfo import GitInfo, git_diff, git_info
from tuner.capture.secrets import SecretRule
from tuner.capture.sources import snapshot_sources
from tuner.errors import ConfigError, FlagError, ScriptNotFoundError, quoted
from tuner.settings import Settings
from tuner.store.layout import (
    ENV_CHECKPOINT_DIR,
    ENV_CONFIG,
    ENV_FLAGS_JSON,
    ENV_RUN_DIR,
    ENV_TENSORBOARD_DIR,
    RunPaths,
)
from tuner.values import flags_to_json, is_flag_name
from workers.files import dumps_json
from workers.process import RunSpec

if TYPE_CHECKING:  # the script's interface is discovered (and imported) only where flags are checked
    from tuner.interface.discover import ScriptInterface
    from tuner.interface.template import CommandTemplate


@dataclass(frozen=True)
class ScriptInfo:
    """What is known about the script once per run or sweep: where it is, its hash, its repository."""

    path: str          # absolute
    given: str         # as the user typed it
    sha256: str
    git: GitInfo | None
    diff: str          # uncommitted changes when the tree is dirty


def check_script(script: str | os.PathLike[str]) -> str:
    path = os.fspath(script)
    if not os.path.exists(path):
        raise ScriptNotFoundError(f"script '{path}' does not exist; check the path (relative to {os.getcwd()})")
    if not os.path.isfile(path):
        raise ScriptNotFoundError(f"script '{path}' is a directory, expected a Python file such as train.py")
    return os.path.abspath(path)


def describe_script(script: str | os.PathLike[str]) -> ScriptInfo:
    path = check_script(script)
    with open(path, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    folder = os.path.dirname(path)
    info = git_info(folder)
    return ScriptInfo(path, os.fspath(script), digest, info, git_diff(folder) if info and info.dirty else "")


def check_flag_values(flags: Mapping[str, Any], where: str = "flags") -> dict[str, Any]:
    problems = []
    for name, value in flags.items():
        if not is_flag_name(name):
            problems.append(f"flag name {quoted(name)} is not a valid flag name (letters, digits, _ and -)")
        elif value is not None and not isinstance(value, (str, int, float, bool)):
            problems.append(f"flag '{name}' has a non-scalar value {quoted(value)}")
    if problems:
        raise FlagError(f"{where}: " + "; ".join(problems))
    return {name: (value.item() if hasattr(value, "item") else value) for name, value in flags.items()}


def thread_caps(cpus: float) -> dict[str, str]:
    """Cap BLAS/OpenMP pools to the trial's CPU share so parallel trials do not oversubscribe cores."""
    n = str(max(1, int(cpus)))
    return {k: n for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                           "VECLIB_MAXIMUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")}


def write_run_context(paths: RunPaths, script: ScriptInfo, settings: Settings, runs_dir: str) -> None:
    """Source snapshot and git.diff: written by the launcher, before the script starts."""
    os.makedirs(paths.meta, exist_ok=True)
    snapshot_sources(os.path.dirname(script.path), paths.source_dir, settings.source_patterns,
                     settings.source_max_files, settings.source_max_bytes, exclude=(runs_dir,),
                     secrets=SecretRule.from_settings(settings))
    write_git_diff(paths, script)


def write_git_diff(paths: RunPaths, script: ScriptInfo) -> None:
    """tuner.d/git.diff when the script's working tree was dirty: `git apply` it on the commit to reproduce."""
    if script.diff:
        os.makedirs(paths.meta, exist_ok=True)
        with open(paths.git_diff, "w", encoding="utf-8") as handle:
            handle.write(script.diff)


def project_view_notice(project: str, run_parent: str, settings: Settings) -> str | None:
    """The line to say once where runs of `project` made in `run_parent` (an existing folder) get the weaker view
    (mirror), None where every write is copy-on-write; the `overlay` setting where it cannot be had is a
    ConfigError. Known only by trying (workers.view tries once per process), so asked once the folder exists."""
    from workers.view import probe_view

    probe = probe_view(project, run_parent, settings.project_view)
    if probe.mode.copy_on_write:
        return None
    if settings.project_view == "overlay":
        source = settings.sources.get("project_view", "settings")
        raise ConfigError(f"{source}: setting 'project_view' is overlay, but overlayfs cannot be used here "
                          f"({probe.reason}); set it to auto or mirror")
    return (f"project view: mirror ({probe.reason}): each run works in a mirror of the project in its run folder; "
            "a write into a large project file (linked, not copied) reaches the project and is reported")


def build_run_spec(script: ScriptInfo, flags: Mapping[str, Any], run_dir: str, settings: Settings, *,
                     echo: bool, job_type: str, properties: Mapping[str, Any] | None = None,
                     identity: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
                     extra_args: tuple[str, ...] = (), cwd: str | None = None,
                     interface: ScriptInterface | None = None, template: CommandTemplate | None = None, own_cwd: bool = True,
                     tags: Mapping[str, str] | None = None, checkpoint_dir: str | None = None) -> RunSpec:
    """`own_cwd`: the script works in a copy-on-write view of the project (cwd), so what it writes lands in its
    run and nowhere else (workers.view; the `project_view` setting); else it runs in cwd itself.

    flags.json records the flags the script runs with: `flags` (what tune passes, on argv and in
    TUNER_FLAGS_JSON) and, when the script's `interface` is known, the defaults of its parser for the options
    not passed; flag_defaults.json names those defaults, so readers tell the two apart. Only `flags` reach the
    script: the defaults are its own (and a tuner.flags() script's flags.yml must still win over them).

    `checkpoint_dir`: the folder the script saves into and continues from ($TUNER_CHECKPOINT_DIR, the template's
    ${checkpoint_dir}); a sweep gives the trial's own (tuner.store.layout.TrialPaths), a single run gets
    tuner.d/checkpoint."""
    from tuner.interface.argv import build_argv, check_arg_sizes, render

    paths = RunPaths(os.path.abspath(run_dir))
    checkpoint = os.path.abspath(checkpoint_dir) if checkpoint_dir else paths.checkpoint_dir
    cwd = cwd or os.getcwd()
    option_argv = build_argv(interface, flags, str if getattr(template, "style", "tune") == "wandb" else render)
    command: tuple[str, ...] = (sys.executable, script.path, *option_argv, *extra_args)
    template_env: dict[str, str] = {}
    template_files: dict[str, str] = {}
    if template is not None:  # the script's own command shape (tuner.interface.template); extra args at its end
        from tuner.interface.template import render_command

        full, template_env, template_files = render_command(template, script.path, option_argv, flags, paths.meta,
                                                            checkpoint)
        command = (*full, *extra_args)
    argv = list(command[2:]) if command[:2] == (sys.executable, script.path) else list(command)
    record: dict[str, Any] = {
        "name": paths.name, "script": script.path, "script_sha256": script.sha256, "argv": argv,
        # what followed `--` (tuner.runs.reproduce gives it back as it was): argv alone cannot tell it from the flags
        "extra_args": list(extra_args),
        "cwd": cwd, "user": _user(), "job_type": job_type, "python": platform.python_version(),
        "tuner_version": __version__, "git": script.git.to_dict() if script.git else None,
        "sweep": None, "trial": None, "attempt": 1, "checkpoint_dir": checkpoint,
    }
    record.update(identity or {})
    child_env = {ENV_RUN_DIR: paths.run_dir, ENV_FLAGS_JSON: dumps_json(flags_to_json(flags)),
                 ENV_TENSORBOARD_DIR: paths.tensorboard_dir, ENV_CHECKPOINT_DIR: checkpoint}
    if settings.config is not None:  # the flags.yml section tuner.flags() reads, as tfruns' config= sets R_CONFIG_ACTIVE
        child_env[ENV_CONFIG] = settings.config
    child_env.update(env or {})
    child_env.update(template_env)
    check_arg_sizes(command, child_env)
    known = interface if interface is not None and interface.kind != "unknown" else None
    defaults = known.defaults(flags) if known is not None else None
    recorded = {**flags, **(defaults or {})}
    initial = {paths.flags_json: dumps_json(flags_to_json(recorded), indent=2) + "\n", **template_files}
    if defaults is not None:  # the script's flags were found: which of flags.json are defaults (may be none)
        initial[paths.flag_defaults_json] = dumps_json(flags_to_json(defaults), indent=2) + "\n"
    if tags:  # checked by tuner.store.files.launch_tags; editable later (`tune tag`)
        initial[paths.tags_json] = dumps_json(dict(tags), indent=2) + "\n"
    if properties:
        initial[paths.properties_json] = dumps_json({str(k): v for k, v in properties.items()}, indent=2) + "\n"
    return RunSpec(command=command, cwd=cwd, run_dir=paths.run_dir,
                     run_json=paths.run_json, output_log=paths.output_log, error_json=paths.error_json,
                     record=record, env=child_env, initial_files=initial, timeout_s=settings.timeout_s,
                     kill_grace_s=settings.kill_grace_s, heartbeat_s=settings.heartbeat_s, echo=echo,
                     project_dir=cwd if own_cwd else None, runs_dir=os.path.abspath(settings.runs_dir),
                     project_view=settings.project_view, checkpoint_dir=checkpoint,
                     line_hook=_live_metrics(paths.run_dir, stdout_pattern(settings), recorded))


def _live_metrics(run_dir: str, pattern: str | None, flags: Mapping[str, Any],
                  write_every_s: float | None = None) -> tuple[Any, tuple[Any, ...]] | None:
    """The line hook that parses printed metrics while the run runs (tuner.capture.stdout_metrics.LiveMetrics)."""
    if not pattern:
        return None
    from tuner.capture.stdout_metrics import LiveMetrics

    return LiveMetrics, (run_dir, pattern, tuple(flags), write_every_s)


def stoppable(spec: RunSpec) -> RunSpec:
    """The spec of a trial a stopping rule may stop: the runner watches for its stop request, and its printed
    metrics are written the moment a step closes (not every 0.5 s), so the rule judges each step without delay."""
    paths = RunPaths(spec.run_dir)
    hook = spec.line_hook
    if hook is not None:
        factory, args = hook
        hook = (factory, (*args[:3], 0.0))
    return replace(spec, stop_file=paths.stop_request, line_hook=hook)


@functools.lru_cache(maxsize=1)
def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def after_run(run_dir: str, stdout_metrics_pattern: str | None) -> None:
    """Metadata derived from what the run left behind, for runs of any kind.

    Metrics come from one source, never merged (that would double every step): what the script recorded
    (log_metrics, the Keras callback), else its TensorBoard event files, else its printed lines, as the live
    parse left them (nothing parses output.log again). A run a stopping rule stopped keeps its metrics up to the
    step the rule judged.
    """
    from tuner.capture.stdout_metrics import keep_judged_steps, settle_printed_metrics
    from tuner.capture.tb_events import record_event_metrics
    from tuner.store.checkpoints import drop_empty_checkpoint, settle_resumed_step

    try:
        events = record_event_metrics(run_dir)
        settle_printed_metrics(run_dir, use=bool(stdout_metrics_pattern) and not events)
        keep_judged_steps(run_dir)
    finally:
        settle_resumed_step(run_dir)
        drop_empty_checkpoint(run_dir)


def stdout_pattern(settings: Settings) -> str | None:
    """What after_run needs of the settings: the metrics pattern, or None when printed metrics are off."""
    return settings.stdout_metrics_pattern if settings.stdout_metrics else None
