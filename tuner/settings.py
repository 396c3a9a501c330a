"""Settings: packaged defaults < ./tuner.yml < TUNER_* environment variables < explicit overrides."""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from tuner._version import __version__
from tuner.errors import ConfigError, quoted
from tuner.store.layout import ENV_PREFIX, runs_dir_read_problem
from tuner.values import parse_value
from tuner.yamlfile import parse_yaml_mapping
from workers.files import cache_dir, read_json_file, write_json_file

PROJECT_FILE = "tuner.yml"


@dataclass(frozen=True)
class Settings:
    """Every key of defaults.yml, typed. See that file for what each one does: it alone holds the defaults (a
    second copy here disagreed with it on two keys), so a Settings comes from load_settings."""

    runs_dir: str
    echo: bool
    artifacts_dir: str | None
    project_view: str
    source_patterns: tuple[str, ...]
    source_max_files: int
    source_max_bytes: int
    secret_files: tuple[str, ...]
    secret_keys: tuple[str, ...]
    config: str | None
    heartbeat_s: float
    stale_after_s: float
    stdout_metrics: bool
    stdout_metrics_pattern: str
    ray_address: str | None
    keep_cluster_s: float
    ship_project: bool
    cpus_per_trial: float
    gpus_per_trial: float | None
    max_concurrent: int | None
    max_failures: int | None
    retries: int
    timeout_s: float | None
    kill_grace_s: float
    confirm: bool
    command: str | None
    #: where each value came from, for error messages: key -> "defaults.yml", "./tuner.yml", "TUNER_X" ...
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def replace(self, **overrides: Any) -> "Settings":
        """A copy with the non-None overrides applied and checked (CLI options, API arguments)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return _build({**self._values(), **given}, {**self.sources, **{k: "argument" for k in given}})

    def _values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "sources"}


_FIELDS = {f.name: f for f in dataclasses.fields(Settings) if f.name != "sources"}
_KINDS: dict[str, tuple[type, ...]] = {}
for _name, _f in _FIELDS.items():
    _t = str(_f.type)
    kinds: tuple[type, ...]
    if _t.startswith("bool"):
        kinds = (bool,)
    elif _t.startswith("int"):
        kinds = (int,)
    elif _t.startswith("float"):
        kinds = (int, float)
    elif _t.startswith("tuple"):
        kinds = (list, tuple)
    else:
        kinds = (str,)
    _KINDS[_name] = kinds


def _check(key: str, value: Any, where: str) -> Any:
    if key not in _FIELDS:
        close = difflib.get_close_matches(key, list(_FIELDS), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known keys: {', '.join(_FIELDS)}"
        raise ConfigError(f"{where}: unknown setting {quoted(key)}{hint}")
    optional = "None" in str(_FIELDS[key].type)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{where}: setting '{key}' cannot be null")
    kinds = _KINDS[key]
    if isinstance(value, bool) and bool not in kinds:
        ok = False
    else:
        ok = isinstance(value, kinds)
    if not ok:
        expected = "/".join(k.__name__ for k in kinds)
        raise ConfigError(f"{where}: setting '{key}' must be {expected}, got {quoted(value)}")
    problem = _out_of_bounds(key, value)
    if problem is not None:
        said = _ARGUMENT_NAMES.get(key, key.replace("_", "-")) if where == "argument" else f"{where}: setting '{key}'"
        raise ConfigError(f"{said} must be {problem}, got {quoted(value)}")
    if key == "project_view" and value != "auto":  # the default is not checked: no import of workers.view for it
        from workers.view import VIEW_SETTINGS

        if value in VIEW_SETTINGS:
            return value
        close = difflib.get_close_matches(str(value), VIEW_SETTINGS, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ConfigError(f"{where}: setting '{key}' must be one of {', '.join(VIEW_SETTINGS)}, got {quoted(value)}{hint}")
    if key == "stdout_metrics_pattern" and value:
        from tuner.capture.stdout_metrics import compile_pattern

        compile_pattern(value, f"{where}: setting '{key}'")
    if list in kinds:
        return tuple(str(v) for v in value)
    if float in kinds and not isinstance(value, bool):
        return float(value)
    return value


#: the lowest value of a numeric setting, and whether it may be that value: what a sweep's resource numbers may be
#: (cpus_per_trial, retries ...) is checked with the sweep (tuner.sweep.prepare.check_resources), every problem at once
_LOWEST = {"heartbeat_s": (0, False), "stale_after_s": (0, False), "kill_grace_s": (0, True), "timeout_s": (0, False),
           "keep_cluster_s": (0, True), "source_max_files": (0, True), "source_max_bytes": (0, True)}


_FLOAT_MAX = 1.7976931348623157e308
_WANTED = {"keep_cluster_s": "0 (no warm cluster) or a number of seconds",
           "timeout_s": "a positive number of seconds (null: no limit)"}
#: how an argument names a setting in a message: the CLI option's words (`--timeout`) where they differ from the key
_ARGUMENT_NAMES = {"timeout_s": "timeout", "keep_cluster_s": "keep-cluster"}


def _out_of_bounds(key: str, value: Any) -> str | None:
    """What a numeric setting must be, when `value` is not that; None when it is fine. Every number is finite: a
    NaN compares false with everything (so `nan <= 0` passes any range check) and ends deep inside a run as a
    traceback (a heartbeat of NaN seconds), and an infinite one is no number of seconds or CPUs."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    low, inclusive = _LOWEST.get(key, (None, True))
    wanted = "a finite number" if low is None else f"a finite number {'>=' if inclusive else '>'} {low}"
    wanted = _WANTED.get(key, wanted)
    if isinstance(value, float) and not math.isfinite(value):
        return wanted
    if isinstance(value, int) and float in _KINDS[key] and abs(value) > _FLOAT_MAX:  # past float: infinite too
        return wanted
    if low is not None and (value < low or (value == low and not inclusive)):
        return wanted
    return None


def _build(values: Mapping[str, Any], sources: Mapping[str, str]) -> Settings:
    checked = {k: _check(k, v, sources.get(k, "settings")) for k, v in values.items()}
    if isinstance(checked.get("runs_dir"), str):  # `~/runs` in tuner.yml, TUNER_RUNS_DIR or a submitted sweep's
        checked["runs_dir"] = os.path.expanduser(checked["runs_dir"])  # --runs-dir (no shell expands it there)
    return Settings(**checked, sources=dict(sources))


def _read_yaml_mapping(text: str, where: str) -> dict[str, Any]:
    return parse_yaml_mapping(text, where, ConfigError, "setting: value")


def default_values() -> dict[str, Any]:
    """The packaged defaults.yml as a mapping (configs/tuner.yml links to the same file).

    Parsed once per installed file: its values are kept as JSON in the user's cache folder, under the file's
    path, size and modification time and tuner's version, so a command that reads no YAML of its own (`tune ls`,
    ls_runs in a new process) does not import PyYAML for it (~10 ms of a 0.15 s listing). A copy that is missing,
    damaged or of another file means parsing the file, and one that cannot be written is no error."""
    source = resources.files("tuner").joinpath("defaults.yml")
    key, copy = _defaults_copy(source)
    if copy is not None:
        kept = read_json_file(copy)
        if kept is not None and kept.get("key") == key and isinstance(kept.get("values"), dict):
            return kept["values"]
    values = _read_yaml_mapping(source.read_text(encoding="utf-8"), "tuner/defaults.yml")
    if copy is not None:
        try:
            write_json_file(copy, {"key": key, "values": values})
        except (OSError, TypeError, ValueError):  # a read-only home; a value JSON cannot hold (then: parsed each time)
            pass
    return values


def _defaults_copy(source: Any) -> tuple[list[Any], str | None]:
    """What identifies the installed defaults.yml, and where its parsed copy is kept (None: not a plain file,
    e.g. inside a zip, so no copy)."""
    import hashlib

    if not isinstance(source, Path):
        return [], None
    try:
        st = source.stat()
    except OSError:
        return [], None
    path = os.path.abspath(source)
    name = hashlib.blake2b(path.encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()
    return [path, st.st_size, st.st_mtime_ns, __version__], os.path.join(cache_dir(), f"defaults-{name}.json")


def load_settings(cwd: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None,
                  **overrides: Any) -> Settings:
    """Resolve settings for a command or API call made from `cwd` (default: the working directory)."""
    environ = os.environ if environ is None else environ
    values = default_values()
    sources = {k: "tuner/defaults.yml" for k in values}
    project = Path(cwd or ".") / PROJECT_FILE
    if project.is_file():
        for key, value in _read_yaml_mapping(_read_text(project), str(project)).items():
            _check(str(key), value, str(project))
            values[str(key)] = value
            sources[str(key)] = str(project)
    for key in _FIELDS:
        env_key = ENV_PREFIX + key.upper()
        if env_key in environ:
            raw = environ[env_key]
            value = parse_value(raw) if raw.strip() else None
            if _KINDS[key] == (str,) and value is not None:
                value = raw  # a path or an address stays exactly as typed
            values[key] = value
            sources[key] = env_key
    settings = _build(values, sources)
    settings = settings.replace(**overrides) if overrides else settings
    _check_runs_dir(settings, cwd)
    return settings


def _read_text(path: Path) -> str:
    """A settings file's text; one that cannot be read or is not UTF-8 is a ConfigError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at position {exc.start}); "
                          "save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _check_runs_dir(settings: Settings, cwd: str | os.PathLike[str] | None) -> None:
    """A runs directory that cannot be listed is refused here, once for every command (store.layout says why):
    listing it would otherwise say "no runs" or end in a traceback, and a sweep would fail at its first run.
    Whether runs can be made in it is checked where they are made."""
    problem = runs_dir_read_problem(settings.runs_dir, cwd)
    if problem is not None:
        source = settings.sources.get("runs_dir", "settings")
        # --runs-dir / runs_dir= (the user just typed it) and the default name no one chose say no source
        where = "" if source in ("argument", "tuner/defaults.yml") else f"{source}: "
        raise ConfigError(where + problem)
