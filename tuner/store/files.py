"""Reading and writing a run's metadata files, tolerantly and atomically.

Everything written here is atomic (temp file + rename) or a single-write append, so a crash never leaves a
file that breaks a reader; readers turn every problem into a warning string instead of an exception.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping, Sequence

from tuner.errors import RunNotFoundError, TunerError, quoted
from tuner.store.layout import META_DIR, RunPaths
from tuner.store.status import RunStatus
from tuner.values import NAME_MAX, flags_from_json
from workers.files import (
    atomic_write_json,
    atomic_write_text,
    dumps_json,
    numbers_from_text,
    read_json,
    read_json_lines,
    rows_from_text,
)


def write_metric_rows(run_dir: str, rows: list[dict[str, Any]], path: str | None = None) -> None:
    """Replace the run's metrics with `rows` (each with `step`), atomically; rows without a timestamp get now.
    NaN and infinite values are kept (as text: workers.files.NONFINITE_TEXT); None is a missing value."""
    now = time.time()
    atomic_write_text(path or RunPaths(run_dir).metrics_jsonl,
                      "".join(dumps_json({**row, "timestamp": row.get("timestamp", now)}, nonfinite_as_text=True)
                              + "\n" for row in rows))


def read_metric_lines(path: str) -> tuple[list[dict[str, Any]], int]:
    """The one reader of metric files (metrics.jsonl, printed_metrics.jsonl): rows with NaN and inf restored,
    and the number of unreadable lines (a torn last line)."""
    rows, bad = read_json_lines(path)
    return rows_from_text(rows), bad


def write_run_status(run_dir: str, status: RunStatus, record: Mapping[str, Any] | None = None,
                     **fields: Any) -> dict[str, Any]:
    """The one writer of run.json's status on the tuner side (queued at launch, killed or lost when a run's
    worker never reported): `record` (or the current run.json) with `status` and `fields`, atomically."""
    paths = RunPaths(run_dir)
    current = dict(record) if record is not None else read_mapping(paths.run_json)
    updated = {**current, **fields, "status": RunStatus(status).value}
    atomic_write_json(paths.run_json, updated)
    return updated


# ---------------------------------------------------------------------------------------------------
# Where a flag's value came from

class FlagSource(str, Enum):
    """Where the value of a flag in flags.json came from (the run view marks them; reproduce passes `passed`)."""

    PASSED = "passed"  # tune / training_run passed it (a grid, --flag, flags=)
    DEFAULT = "default"  # not passed: the default of the script's parser (flag_defaults.json)
    SCRIPT = "script"  # not passed, and the script changed it from that default (tuner.flags() reading flags.yml)


def read_flag_defaults(paths: RunPaths) -> dict[str, Any] | None:
    """flag_defaults.json (typed as flags.json is); None for a run without it: recorded before defaults were,
    or launched without finding the script's flags (--no-check, a template without ${args}, an unknown script)."""
    if not os.path.exists(paths.flag_defaults_json):
        return None
    return flags_from_json(read_mapping(paths.flag_defaults_json))


def flag_sources(flags: Mapping[str, Any], defaults: Mapping[str, Any] | None) -> dict[str, FlagSource]:
    """Each flag of `flags` (flags.json) by where its value came from; without `defaults` (an older run) every
    flag counts as passed, which is what those runs recorded."""
    sources = {}
    for name, value in flags.items():
        if defaults is None or name not in defaults:
            sources[name] = FlagSource.PASSED
        else:
            same = _same_value(value, defaults[name])
            sources[name] = FlagSource.DEFAULT if same else FlagSource.SCRIPT
    return sources


def _same_value(a: Any, b: Any) -> bool:
    """Equal and of the same kind (1 and True differ; NaN equals NaN: an unchanged nan default)."""
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and not isinstance(a, bool)
                                             and isinstance(b, (int, float)) and not isinstance(b, bool) and a == b)


# ---------------------------------------------------------------------------------------------------
# Readers: tolerant, every problem becomes a warning string instead of an exception

def read_mapping(path: str) -> dict[str, Any]:
    try:
        data = read_json(path)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class RunData:
    """What one run directory holds, read tolerantly (the input of ls_runs rows, views and records)."""

    paths: RunPaths
    run: dict[str, Any]
    flags: dict[str, Any]
    metrics: list[dict[str, Any]]
    evaluation: dict[str, Any]
    properties: dict[str, Any]
    error: dict[str, Any]
    tags: dict[str, Any]
    problems: list[str]


def _read_checked(path: str, problems: list[str]) -> dict[str, Any]:
    try:
        data = read_json(path)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: unreadable ({exc.__class__.__name__})")
        return {}
    if not isinstance(data, dict):
        problems.append(f"{path}: expected a JSON object")
        return {}
    return data


#: the names in tuner.d/ that read_run reads, as RunPaths spells them (joined once per run, not per file:
#: a cold listing reads 10^4 runs)
_PROBE = RunPaths("run")
_RUN, _FLAGS, _EVALUATION, _PROPERTIES, _ERROR, _TAGS = (os.path.basename(p) for p in (
    _PROBE.run_json, _PROBE.flags_json, _PROBE.evaluation_json, _PROBE.properties_json, _PROBE.error_json,
    _PROBE.tags_json))


def read_run(run_dir: str, with_metrics: bool = True) -> RunData:
    paths = RunPaths(run_dir)
    meta = paths.meta
    problems: list[str] = []
    try:  # one listing of tuner.d/ instead of an open that fails for each file a run lacks (most lack three)
        present: set[str] | None = set(os.listdir(meta))
    except OSError:
        present = None  # no tuner.d/ or not listable: every read says for itself what is wrong
    prefix = meta + os.sep

    def read(name: str) -> dict[str, Any]:
        if present is not None and name not in present:
            return {}
        return _read_checked(prefix + name, problems)

    run = read(_RUN)
    if not run and not problems and not os.path.exists(paths.run_json):
        problems.append(f"{paths.run_json}: missing")
    metrics: list[dict[str, Any]] = []
    if with_metrics:
        source = paths.live_metrics_in(present)
        try:
            metrics, bad = read_metric_lines(source)
        except OSError as exc:  # not readable by this user (a teammate's run, a folder without permissions)
            metrics, bad = [], 0
            problems.append(f"{source}: unreadable ({exc.__class__.__name__})")
        if bad > 1:
            problems.append(f"{source}: {bad} unreadable lines skipped")
    return RunData(paths=paths, run=run, flags=flags_from_json(read(_FLAGS)), metrics=metrics,
                   evaluation=numbers_from_text(read(_EVALUATION)), properties=read(_PROPERTIES),
                   error=read(_ERROR), tags=read(_TAGS), problems=problems)


# ---------------------------------------------------------------------------------------------------
# Tags: editable after the run, kept apart from the immutable metadata

TAG_KEY_MAX = NAME_MAX
#: what a tag key may hold: MLflow's rule for names (letters, digits, `_ - . / :` and spaces), so every key is a
#: `tags.KEY` of a filter, a `tag_KEY` column and an MLflow tag as it is, and none is terminal markup (`[/x]` made
#: `tune info` fail in rich) or a control sequence
_TAG_KEY = r"[\w\-./: ]+"


def check_tag_key(key: Any) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > TAG_KEY_MAX or not re.fullmatch(_TAG_KEY, key):
        raise TunerError(f"tag key {quoted(key)}: expected a name of at most {TAG_KEY_MAX} letters, digits, spaces "
                         "and `_ - . / :` (as MLflow allows), e.g. 'team' or 'stage'")
    return key


def tag_text(key: str, value: Any) -> str:
    """Tag values are strings, as in MLflow; scalars are converted (true/false for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise TunerError(f"tag '{key}': expected a string or a number, got {type(value).__name__}")


#: the tags `--label` and `--note` set (Guild's label, MLflow's note): ordinary tags, so `tags.label = 'x'` finds them
LABEL_TAG, NOTE_TAG = "label", "note"


def launch_tags(tags: Mapping[str, Any] | None = None, label: str | None = None,
                note: str | None = None) -> dict[str, str]:
    """A run's tags at launch, checked: `tags` plus the label and note (which win over tags of the same key)."""
    if tags is not None and not isinstance(tags, Mapping):
        raise TunerError(f"tags: expected a mapping of name to value, e.g. {{'team': 'vision'}}, got "
                         f"{type(tags).__name__}")
    checked = {check_tag_key(k): tag_text(k, v) for k, v in (tags or {}).items()}
    for key, value in ((LABEL_TAG, label), (NOTE_TAG, note)):
        if value is not None:
            checked[key] = tag_text(key, value)
    return checked


def parse_tag_options(items: Sequence[str], option: str = "--tag") -> dict[str, str]:
    """`--tag KEY=VALUE` options (repeatable) as tags; the value may hold '=' and be empty."""
    tags: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise TunerError(f"{option} {quoted(item)}: expected KEY=VALUE, e.g. {option} team=vision")
        tags[check_tag_key(key.strip())] = value
    return tags


def update_tags(run_dir: str, set_values: Mapping[str, Any] | None = None,
                delete: tuple[str, ...] = ()) -> dict[str, str]:
    """Set and delete tags of a run (read-modify-write under a lock, replaced atomically); returns all tags."""
    from filelock import FileLock

    paths = RunPaths(run_dir)
    if not paths.is_run():
        raise RunNotFoundError(f"'{run_dir}' is not a run (it has no {META_DIR}/)")
    new = {check_tag_key(k): tag_text(k, v) for k, v in (set_values or {}).items()}
    with FileLock(paths.tags_lock, timeout=30):
        tags = {str(k): v for k, v in read_mapping(paths.tags_json).items()}
        missing = [k for k in delete if k not in tags]
        if missing:
            known = ", ".join(sorted(tags)) or "none"
            raise TunerError(f"run {paths.name}: no tag {', '.join(map(repr, missing))} to delete (tags: {known})")
        for key in delete:
            del tags[key]
        tags.update(new)
        atomic_write_json(paths.tags_json, tags)
    return tags
