"""How to re-run a run exactly: the git checkout, the recorded uncommitted changes, and the `tune` command.

Printed, never executed: the user reads the steps and runs them (in a clean checkout or a fresh clone).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Mapping

from tuner.errors import TunerError, quoted
from tuner.runs.record import RunRecord, get_run
from tuner.store.files import FlagSource, flag_sources, read_flag_defaults
from tuner.store.layout import RUN_JSON
from tuner.values import format_value, parse_values

TUNE = "tune"


def cli_value(value: Any) -> str:
    """The text after `--flag name=` that the CLI parses back to exactly `value` (type included)."""
    if isinstance(value, str):
        if value and value.strip() == value and "," not in value and value[0] not in "'\"" \
                and _round_trips(value, value):
            return value
        return "'" + value.replace("'", "''") + "'"  # a YAML single-quoted string
    text = format_value(value)
    if not _round_trips(text, value):
        raise TunerError(f"flag value {quoted(value)} cannot be written on the command line")
    return text


def _round_trips(text: str, value: Any) -> bool:
    parsed = parse_values(text)
    return len(parsed) == 1 and type(parsed[0]) is type(value) and parsed[0] == value


def tune_command(script: str, flags: Mapping[str, Any], extra_args: list[str] | None = None,
                 cwd: str | None = None) -> list[str]:
    """argv of the `tune` command that runs `script` with exactly `flags` (as one run)."""
    shown = script
    if cwd and os.path.isabs(script):
        rel = os.path.relpath(script, cwd)
        if not rel.startswith(".."):
            shown = rel
    command = [TUNE, shown]
    for name, value in flags.items():
        command += ["--flag", f"{name}={cli_value(value)}"]
    if extra_args:
        command += ["--", *extra_args]
    return command


def passed_flags(record: RunRecord) -> dict[str, Any]:
    """The flags tune passed to the run: flags.json without the script's own defaults (flag_defaults.json), which
    the checked-out script gives again by itself."""
    sources = flag_sources(record.config, read_flag_defaults(record.paths))
    return {name: value for name, value in record.config.items() if sources[name] is FlagSource.PASSED}


def _extra_args(record: RunRecord) -> list[str]:
    """The arguments the run got after `--`, as its run.json recorded them. A run made before they were recorded
    (no `extra_args`) has them guessed from its argv: what follows the flags when each was `--name=value`."""
    recorded = record.run.get("extra_args")
    if isinstance(recorded, list):
        return [str(item) for item in recorded]
    from tuner.interface.argv import build_argv

    argv, flags = record.argv, build_argv(None, passed_flags(record))
    return argv[len(flags):] if argv[: len(flags)] == flags else []


def reproduce_steps(run: Any = None, runs_dir: str | None = None) -> list[str]:
    """Shell lines (comments start with #) that re-run `run` from the same code with the same flags.

    Every value from the run's files is quoted as one shell word (tuner.interface.template.shell_word: shlex.quote,
    or $'...' where it holds a newline or a control character), comments included, so the lines can be pasted
    into a shell as they are: what the run's files hold can be a path or a flag value, never a command of its own,
    and nothing printed can drive the terminal."""
    from tuner.interface.template import shell_line, shell_word

    record = get_run(run, runs_dir)
    info = record.run
    script = info.get("script")
    if not isinstance(script, str):
        raise TunerError(f"run {quoted(record.name)}: run.json records no script, so it cannot be reproduced "
                         f"(see {record.paths.run_json})")
    git = record.git
    q = shell_word
    lines = [f"# reproduce run {q(record.name)} ({q(str(record.status))}) of {q(os.path.basename(script))}"]
    commit = git.get("commit")
    if isinstance(commit, str) and _COMMIT.fullmatch(commit):
        root = git.get("root") if isinstance(git.get("root"), str) else os.path.dirname(script)
        lines += [f"cd {q(root)}", f"git checkout {q(commit)}"]
        if git.get("dirty"):
            diff = record.paths.git_diff
            if os.path.exists(diff) and os.path.getsize(diff) > 0:
                lines.append(f"git apply {q(os.path.abspath(diff))}")
            else:
                lines.append(f"# the tree was dirty but no diff was recorded; the run's sources are in "
                             f"{q(os.path.abspath(record.paths.source_dir))}")
    else:
        said = "" if commit is None else f" (its recorded commit {q(str(commit))} is not a commit id)"
        lines.append(f"# not a git repository when it ran{said}; the run's sources are in "
                     f"{q(os.path.abspath(record.paths.source_dir))}")
    cwd = info.get("cwd")
    if isinstance(cwd, str) and f"cd {q(cwd)}" not in lines:  # the checkout's root is often the working directory
        lines.append(f"cd {q(cwd)}")
    command = tune_command(script, passed_flags(record), _extra_args(record), cwd if isinstance(cwd, str) else None)
    lines.append(shell_line(command))
    return lines


#: what a git commit id looks like (sha1 or sha256, full or abbreviated): anything else in run.json is not one
_COMMIT = re.compile(r"[0-9a-f]{7,64}")


#: `tune lookup RUN flags.lr`: the first part of a field may name one of a run's records (MLflow's and tfruns'
#: spellings both); anything else is a path into run.json
LOOKUP_SECTIONS = {"flags": "config", "params": "config", "metrics": "summary", "eval": "evaluation",
                   "evaluation": "evaluation", "tags": "tags", "properties": "properties", "error": "error"}


def lookup(run: Any, field: str | None = None, runs_dir: str | None = None) -> Any:
    """A field of a run by dotted path: `flags.lr`, `metrics.val_acc` (its last value), `eval.loss`, `tags.k`,
    `properties.x`, or a path into run.json (`git.commit`, `argv.0`); the whole run.json without a field."""
    record = get_run(run, runs_dir)
    value: Any = record.run
    if not field:
        return value
    parts = field.split(".")
    walked: list[str] = []
    section = LOOKUP_SECTIONS.get(parts[0])
    if section is not None and len(parts) > 1:
        value = getattr(record, section)
        walked.append(parts[0])
        # a flag or metric name may itself hold dots (`model.lr`): the longest known name wins
        rest = ".".join(parts[1:])
        if isinstance(value, dict) and rest in value:
            return value[rest]
        parts = parts[1:]
    for part in parts:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            where = ".".join(walked) or RUN_JSON
            if isinstance(value, dict):
                known = ", ".join(sorted(value)) or "none"
                hint = f"fields of {where}: {known}"
            elif isinstance(value, list):
                hint = f"{where} is a list of {len(value)} (use an index 0..{len(value) - 1})"
            else:
                hint = f"{where} is a value ({json.dumps(value)}), not a mapping"
            raise TunerError(f"run {record.name}: no field '{field}' ({hint})")
        walked.append(part)
    return value


def format_lookup(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2 if isinstance(value, (dict, list)) else None, ensure_ascii=False)
