"""training_run: one tracked run of a script, recorded in its own run directory."""

from __future__ import annotations

import os
import shutil
from typing import Any, Mapping, Sequence

import pandas as pd

from tuner import channel
from tuner.capture.artifacts import copy_changed, start_scan
from tuner.capture.secrets import SecretRule
from tuner.errors import DiskFullError, FlagError, RunFailedError
from tuner.flagsfile import FlagsFile, as_flags_file
from tuner.runs.aggregate import read_rows, runs_frame
from tuner.settings import load_settings
from tuner.spec import (
    after_run,
    build_run_spec,
    check_flag_values,
    describe_script,
    project_view_notice,
    stdout_pattern,
    write_run_context,
)
from tuner.store.files import launch_tags, read_run
from tuner.store.layout import RunPaths, ensure_runs_dir
from tuner.store.status import RunStatus
from tuner.tracking import unique_run_dir
from workers.files import is_disk_full
from workers.process import FINISHED, run_process

log = channel.logger(__name__)


def _read_flags_argument(flags: Mapping[str, Any] | str | os.PathLike[str] | FlagsFile | None,
                         script: str | None = None) -> tuple[dict[str, Any], FlagsFile | None]:
    """The run's flags, and the flags file they came from (read as a sweep reads it: tuner.flagsfile)."""
    if flags is None:
        return {}, None
    file = as_flags_file(flags, script)
    if isinstance(file, FlagsFile):
        return check_flag_values(file.one_run_flags(), file.path), file
    if not isinstance(flags, Mapping):
        raise FlagError(f"flags must be a mapping of name -> value or a YAML file path, got {type(flags).__name__}")
    return check_flag_values(flags), None


def _interface_for_defaults(script: str) -> Any:
    """The script's flags for a run given none, so that it records the defaults it runs with like any other run
    (the baseline run is the one others are compared against). A script that cannot be inspected (it crashes
    or hangs before parsing) runs all the same, recording no defaults: nothing depended on finding them."""
    from tuner.errors import TunerError
    from tuner.interface.discover import discover_flags

    try:
        return discover_flags(script)
    except TunerError as exc:
        log.info("note: the run records no flag defaults: %s", str(exc).split(";")[0], extra=channel.NOTE)
        return None


def training_run(file: str = "train.py", flags: Mapping[str, Any] | str | os.PathLike[str] | FlagsFile | None = None,
                 properties: Mapping[str, Any] | None = None, run_dir: str | None = None,
                 artifacts_dir: str | None = ".", echo: bool | None = None, runs_dir: str | None = None,
                 timeout_s: float | None = None, extra_args: Sequence[str] = (),
                 stdout_metrics: bool | None = None, check: bool = True, command: Any = None,
                 tags: Mapping[str, Any] | None = None, label: str | None = None,
                 note: str | None = None, config: str | None = None) -> pd.DataFrame:
    """Run `file` with `flags` as a subprocess of this Python and record it; returns its one-row ls_runs frame.

    A failed run is recorded (status, error.json) and then raises RunFailedError naming the run directory.
    Ctrl-C stops the script and its children and records the run as killed. `flags` is a mapping or a flags file
    (a path, read as `tune` reads it: one value per flag, `lr: 0.1` or `lr: [0.1]`; its `command:` is the command
    template unless `command` is given). `extra_args` follow the flags
    on the script's command line as they are. `stdout_metrics=False` stops printed `name: value` lines
    becoming metrics (default: the setting). `check=False` launches without finding the script's flags
    (tuner.interface) first: for scripts that cannot be inspected; flags are then passed as `--name=value`.
    `command` is a command template (default: the `command` setting; see tuner.interface.template).
    `tags` (name -> value, stored as text as in MLflow), `label` and `note` are the run's tags from the start
    (`label` and `note` are the tags of those names); `tune tag` or `get_run(...).set_tag` change them later.
    `config` (default: the `config` setting) is the section of a flags.yml profile file that the script's
    tuner.flags() reads, passed as TUNER_CONFIG: tfruns' `config=`, which sets R_CONFIG_ACTIVE for the run.

    Working directory: with `artifacts_dir="."` (the default) the script works in a copy-on-write view of the
    project (the current directory): it reads the project as it is, and whatever it writes (new files, rewrites,
    appends, deletes) is in the run directory, never in the project (workers.view; the `project_view` setting).
    Another `artifacts_dir` runs the script in the current directory itself and copies what changed under that
    folder (at most ARTIFACT_MAX_FILES files, ARTIFACT_MAX_BYTES bytes); None captures nothing.
    """
    settings = load_settings(runs_dir=runs_dir, echo=echo, timeout_s=timeout_s, stdout_metrics=stdout_metrics,
                             config=config)
    values, flags_file = _read_flags_argument(flags, file)
    run_tags = launch_tags(tags, label, note)
    script = describe_script(file)
    from tuner.interface.template import check_template_flags, parse_template, resolve_template

    if command is not None:
        template = parse_template(command, "command")
    elif flags_file is not None:  # the file's `command:`, as a sweep of the same file would use it
        template = resolve_template(settings, flags_file.command, f"{flags_file.path}: command")
    else:
        template = resolve_template(settings)
    if template is not None:
        check_template_flags(template, values)
    interface = None
    if check and (template is None or template.uses_options):
        from tuner.interface.check import check_flags
        from tuner.interface.discover import discover_flags

        if values:
            interface = discover_flags(script.path)
            check_flags(interface, values)
        else:  # nothing to check: found only so the run records its defaults (flags.json), never a reason to stop
            interface = _interface_for_defaults(script.path)
    from tuner.interface.argv import check_launchable

    check_launchable(script.path, interface, {n: [v] for n, v in values.items()}, extra_args)
    ensure_runs_dir(settings.runs_dir)
    # "." (the default): the script works in a view of the project and what it writes is the run's; another
    # folder: it runs in the caller's directory, which is scanned (bounded) for what changed; None: it runs in the
    # caller's directory, nothing is captured. The view is known before any run folder is made: a forced
    # `project_view: overlay` that cannot be had here leaves nothing behind
    own_cwd = artifacts_dir is not None and os.path.realpath(artifacts_dir) == os.path.realpath(os.getcwd())
    view_notice = project_view_notice(os.getcwd(), settings.runs_dir, settings) if own_cwd else None
    if run_dir is not None:
        made = not os.path.lexists(run_dir)
        os.makedirs(run_dir, exist_ok=True)
        target = run_dir
    else:
        target, made = unique_run_dir(settings.runs_dir), True
    try:
        return _record_run(script, values, target, settings, properties, extra_args, interface, template,
                           artifacts_dir, run_tags, own_cwd, view_notice)
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        raise _disk_full(exc, target, made, settings.runs_dir) from None


def _disk_full(exc: OSError, target: str, made: bool, runs_dir: str) -> DiskFullError:
    """The one line a full disk gets (as a sweep's, docs/design.md section 6: exit 3), and no half run: the run is
    kept only where its run.json says how it ended (the runner records `failed` when it still can)."""
    folder = DiskFullError.folder_of(exc, runs_dir)
    status = RunStatus.parse(read_run(target, with_metrics=False).run.get("status"))
    if status is not None and status.is_terminated():
        kept = f"the run {target} is kept, recorded as {status.value}"
    else:
        if made:
            shutil.rmtree(target, ignore_errors=True)
        kept = "nothing of the run was kept" if made else f"{target} holds what was written before"
    return DiskFullError(f"no space left on the device holding '{folder}' ({exc.strerror}); free space there, then "
                         f"run the command again ({kept})", folder, None)


def _record_run(script: Any, values: dict[str, Any], target: str, settings: Any, properties: Any,
                extra_args: Sequence[str], interface: Any, template: Any, artifacts_dir: str | None,
                run_tags: dict[str, str], own_cwd: bool, view_notice: str | None) -> pd.DataFrame:
    spec = build_run_spec(script, values, target, settings, echo=settings.echo, job_type="training",
                            properties=properties, extra_args=tuple(extra_args),
                            interface=interface, template=template, own_cwd=own_cwd, tags=run_tags)
    write_run_context(RunPaths(spec.run_dir), script, settings, settings.runs_dir)
    scan = start_scan(artifacts_dir, settings.runs_dir) if artifacts_dir is not None and not own_cwd else None
    if settings.echo:
        log.info("Using run directory %s", target)
        if view_notice:
            log.info("%s", view_notice)
    try:
        outcome = run_process(spec)
    finally:
        if scan is not None:
            copy_changed(scan, spec.run_dir, SecretRule.from_settings(settings))
        after_run(spec.run_dir, stdout_pattern(settings))
    if settings.echo:
        for note in outcome.notes:
            log.info("tuner: %s", note, extra=channel.NOTE)
    frame = runs_frame(read_rows([target], settings.stale_after_s))
    if outcome.status != FINISHED:
        raise RunFailedError(f"run {target} {outcome.status}: {outcome.error_message} "
                             f"(output: {spec.output_log})", target, outcome.status)
    if settings.echo:
        log.info("\nRun completed: %s", target)
    return frame
