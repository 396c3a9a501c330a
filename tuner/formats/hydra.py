"""Hydra's sweep syntax in tune's terms: what a value read by Hydra's override grammar (tuner.formats.hydra_grammar,
whose names this module also holds) means in a sweep, and a Hydra sweeper config's settings.

Where it is used, and what a sweep becomes:
- `--flag NAME=VALUE` (`flag_values`): a value with a Hydra sweep function (`choice(`, `range(`, `interval(`,
  `tag(`, `sort(`, `shuffle(`, `glob(`) is read by this grammar, with Hydra's basic sweeper's meaning: a choice
  or range is a grid axis (range's stop excluded, as Python's), `interval(lo, hi)` a uniform real draw
  (`tag(log, interval(...))` log-uniform; ints after `int(...)`: an integer draw with hi included, as Optuna's
  sweeper has it), which needs --num-samples or a search; `glob(...)` the options of the Hydra app's config group
  that it selects (`ConfigGroups`: where Hydra finds them). Any other value keeps tune's own rule
  (tuner.values.parse_values): `a,b` is two values in both; the rules differ on `1_000` (Hydra: 1000, tune:
  text), `tRuE`/`nUlL` (Hydra: any case), `.inf` (tune: a float, Hydra: text), `~` (tune: null, Hydra: an
  error), spaces around commas (Hydra drops them, tune keeps them in the text), `[1,2]`/`{a: 1}` (Hydra: a
  list, a dict; tune: split at the comma) and backslash escapes (Hydra only).
- A flags file's string values (`convert_file_value`) that hold a sweep function, with the same meaning.
- A Hydra sweeper config (`convert_sweeper_config`): `hydra.sweeper.params` of a Hydra config (or a sweeper
  config file's own `params:`). With the Optuna sweeper (`_target_`/`defaults` naming optuna, or an Optuna
  `sampler:`) values have hydra-optuna-sweeper's meaning: choice and a simple choice are categorical draws,
  `range(a, b)` an integer draw with b included, a stepped range the values it steps through, interval a real
  draw. Its sampler (`sampler._target_`, or `override hydra/sweeper/sampler: NAME` in the defaults list; TPE
  when neither) becomes `--search` (nsgaii: nsga2); GridSampler is tune's grid of the same points (a range's
  values below its stop; an interval refused, as Optuna refuses it); `n_trials` (default 20, the plugin's)
  caps the trials; `direction` is the mode, a list of them the modes of a multi-objective sweep whose metrics
  `--metric` names (in Hydra the task returns them). The basic sweeper's params are grid axes.
"""

from __future__ import annotations

import decimal
import math
import re
from typing import Any, Mapping

from tuner.errors import GridError

from .foreign import UNCHANGED, ForeignSweep
from .hydra_grammar import (  # noqa: F401 (the grammar's names, read here by the tests and by users of this module)
    SWEEPS,
    ChoiceSweep,
    Glob,
    IntervalSweep,
    QuotedString,
    RangeSweep,
    parse_value,
    plain,
)

# -------------------------------------------------------------------------------------------------------------
# Sweeps in tune's terms

_FUNCTIONS = re.compile(r"\b(?:choice|range|interval|tag|sort|shuffle|glob)\s*\(")


def has_sweep_function(text: str) -> bool:
    return bool(_FUNCTIONS.search(text))


def to_flag_value(name: str, value: Any, optuna: bool = False, groups: ConfigGroups | None = None) -> Any:
    """A parsed Hydra value as tune's flag value: a list of values (a grid axis, or one value) or a distribution
    mapping. `optuna`: hydra-optuna-sweeper's meaning (choices and ranges drawn), else the basic sweeper's (grid).
    `groups`: the Hydra app's config groups, which a glob() selects from."""
    if isinstance(value, Glob):
        options = (groups or ConfigGroups()).glob_options(name, value)
        if optuna:  # its sweeper parses without a config loader: Hydra fails there ("ConfigLoader is not set")
            raise GridError(f"flag '{name}': hydra-optuna-sweeper cannot list a config group's options (Hydra: "
                            f"ConfigLoader is not set); write choice({', '.join(options)})")
        return options
    if isinstance(value, ChoiceSweep):
        items = [plain(v) for v in value.list]
        return {"choice": items} if optuna else items
    if isinstance(value, RangeSweep):
        if not optuna or value.shuffle:
            items = value.values()
            return {"choice": items} if optuna else items
        if any(isinstance(v, float) for v in (value.start, value.stop, value.step)):
            if not value.step:  # Optuna's FloatDistribution(start, stop, step=None): continuous
                return {"uniform": [float(value.start), float(value.stop)]}
            start, stop, step = (decimal.Decimal(str(v)) for v in (value.start, value.stop, value.step))
            count = int((stop - start) / step) + 1
            return {"choice": [float(start + step * i) for i in range(max(count, 0))]}
        if value.step == 0:
            raise GridError(f"flag '{name}': range({value.start}, {value.stop}, step=0) has no values (Optuna: "
                            "the step must be > 0)")
        if value.step == 1:  # Optuna's IntDistribution(start, stop): stop included
            return {"randint": [int(value.start), int(value.stop) + 1]}
        return {"choice": list(range(int(value.start), int(value.stop) + 1, int(value.step)))}
    if isinstance(value, IntervalSweep):
        log = "log" in value.tags
        if isinstance(value.start, int) and isinstance(value.end, int):  # int(interval(...)): Optuna's IntDistribution
            return {"lograndint" if log else "randint": [value.start, value.end + 1]}
        return {"loguniform" if log else "uniform": [float(value.start), float(value.end)]}
    return [plain(value)]


def flag_values(raw: str, name: str = "flag", groups: ConfigGroups | None = None) -> Any:
    """A `--flag NAME=RAW` value: Hydra's grammar when RAW holds a sweep function, else tune's rule; a list of values
    or a distribution mapping. `groups`: the script's config groups (a glob() selects from them)."""
    if not has_sweep_function(raw):
        from tuner.values import parse_values

        return parse_values(raw)
    try:
        return to_flag_value(name, parse_value(raw), groups=groups)
    except GridError as exc:
        raise GridError(f"--flag {name}={raw}: {exc} (Hydra's override syntax)") from None


def convert_file_value(name: str, value: Any, where: str, groups: ConfigGroups | None = None) -> Any:
    """A flags file's value: a string holding a Hydra sweep function is converted; anything else is UNCHANGED."""
    if not isinstance(value, str) or not has_sweep_function(value):
        return UNCHANGED
    try:
        converted = to_flag_value(name, parse_value(value), groups=groups)
    except GridError as exc:
        raise GridError(f"{where}: flag '{name}': {value!r}: {exc} (Hydra's override syntax)") from None
    return converted


# -------------------------------------------------------------------------------------------------------------
# A Hydra app's config groups: what glob() selects from


class ConfigGroups:
    """The config groups of a Hydra app, found where Hydra finds them: the folder its `@hydra.main(config_path=...)`
    names (relative to the script, as Hydra has it), or else the folder of the primary config a sweeper config
    sits in. A group `db` is the folder `<config dir>/db`; its options are the names of its `.yaml` files (Hydra
    1.2+: `.yml` is no config), sorted, as Hydra's get_group_options lists them. Groups that only a ConfigStore
    (Python code) or a package on the search path holds are not seen: for them, list the options.

    Found on first use: a sweep without glob() never reads the script."""

    def __init__(self, script: str | None = None, primary_config: str | None = None) -> None:
        self.script = script
        self.primary_config = primary_config
        self._found: tuple[str | None, str] | None = None

    def config_dir(self) -> tuple[str | None, str]:
        """(the config folder, "") or (None, why there is none)."""
        if self._found is None:
            self._found = self._find()
        return self._found

    def _find(self) -> tuple[str | None, str]:
        import os

        why = "no Hydra app is named here (a script with @hydra.main(config_path=...))"
        if self.script is not None:
            found, why = hydra_main_config_dir(self.script)
            if found is not None:
                return found, ""
        if self.primary_config is not None:
            return os.path.dirname(os.path.abspath(self.primary_config)), ""
        return None, why

    def options(self, group: str) -> list[str] | None:
        """The options of config group `group` (a key: `+db@backup` is group db), None when it is no group."""
        import os

        folder_root, _ = self.config_dir()
        if folder_root is None:
            return None
        folder = os.path.join(folder_root, group_of(group))
        if not os.path.isdir(folder):
            return None
        return sorted({entry[:entry.rfind(".")] for entry in os.listdir(folder)
                       if entry.endswith(".yaml") and os.path.isfile(os.path.join(folder, entry))})

    def glob_options(self, name: str, glob: Glob) -> list[str]:
        """The options `glob` selects for flag `name` (Hydra's Glob.filter over the group's options); a GridError
        saying why when there is no config folder, no such group, or no option matches."""
        root, why = self.config_dir()
        example = "e.g. choice(mysql, postgresql)"
        if root is None:
            raise GridError(f"flag '{name}': glob() selects options of a Hydra config group, and {why}: list the "
                            f"options instead, {example}")
        options = self.options(name)
        if options is None:
            raise GridError(f"flag '{name}': glob() selects options of a Hydra config group, and {root} has no group "
                            f"'{group_of(name)}' (no folder of .yaml options there); list the values instead, "
                            f"{example}")
        chosen = glob.filter(options)
        if not chosen:
            raise GridError(f"flag '{name}': glob(include={glob.include}, exclude={glob.exclude}) matches none of "
                            f"config group {group_of(name)}'s options ({', '.join(options) or 'none'})")
        return chosen


def group_of(key: str) -> str:
    """The config group a Hydra override key names: `+db@backup` -> db (prefix and package dropped)."""
    return key.lstrip("~+").split("@", 1)[0]


def hydra_main_config_dir(script: str) -> tuple[str | None, str]:
    """(the config folder of `script`'s `@hydra.main`, "") or (None, why not). Read from the script's source, never
    run: `config_path` as a string, relative to the script; left out, Hydra's default (None from version_base 1.2,
    "." before); `pkg://` (a package) and a computed path are not folders tune can read."""
    import ast
    import os

    name = os.path.basename(script)
    try:
        with open(script, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None, f"{name} cannot be read as Python"
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for decorator in node.decorator_list:
            if not (isinstance(decorator, ast.Call) and _names_hydra_main(decorator.func)):
                continue
            arguments = dict(zip(("config_path", "config_name", "version_base"), decorator.args))
            arguments.update({k.arg: k.value for k in decorator.keywords if k.arg})
            path_node, base_node = arguments.get("config_path"), arguments.get("version_base")
            if path_node is None:  # Hydra's default for a config_path left out
                base = base_node.value if isinstance(base_node, ast.Constant) else "1.1" if base_node is None else ""
                path: Any = None if base is None or _version_at_least(str(base), "1.2") else "."
            elif isinstance(path_node, ast.Constant) and (path_node.value is None or isinstance(path_node.value, str)):
                path = path_node.value
            else:
                return None, f"{name}'s @hydra.main computes its config_path (tune reads it only as a string)"
            if path is None:
                return None, f"{name}'s @hydra.main has no config folder (config_path None)"
            if path.startswith("pkg://"):
                return None, f"{name}'s @hydra.main config_path {path!r} is a package, not a folder tune reads"
            return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(script)), path)), ""
    return None, f"{name} has no @hydra.main(config_path=...)"


def _names_hydra_main(func: Any) -> bool:
    import ast

    return (isinstance(func, ast.Attribute) and func.attr == "main" and isinstance(func.value, ast.Name)
            and func.value.id == "hydra") or (isinstance(func, ast.Name) and func.id == "main")


def _version_at_least(version: str, least: str) -> bool:
    def parts(text: str) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", text)[:2])

    return parts(version) >= parts(least)


# -------------------------------------------------------------------------------------------------------------
# A Hydra sweeper config


_SWEEPER_KEYS = ("_target_", "sampler", "direction", "storage", "study_name", "n_trials", "n_jobs",
                 "max_failure_rate", "custom_search_space", "params", "max_batch_size", "search_space")
#: Optuna's sampler classes as tune's --search (GridSampler: tune's own grid, no search)
_SAMPLERS = {"TPESampler": "tpe", "RandomSampler": "random", "CmaEsSampler": "cmaes", "GPSampler": "gp",
             "NSGAIISampler": "nsga2", "GridSampler": "grid"}
#: hydra-optuna-sweeper's sampler group (`- override hydra/sweeper/sampler: NAME` in the defaults list)
_SAMPLER_GROUP = {"tpe": "TPESampler", "random": "RandomSampler", "cmaes": "CmaEsSampler", "nsgaii": "NSGAIISampler",
                  "motpe": "MOTPESampler", "grid": "GridSampler", "gp": "GPSampler", "qmc": "QMCSampler"}
#: hydra-optuna-sweeper's OptunaSweeperConf defaults
_OPTUNA_N_TRIALS = 20


def _sweeper_section(data: Any) -> tuple[Mapping[str, Any], bool] | None:
    """(the sweeper mapping, whether it is the Optuna sweeper), or None when `data` is no Hydra sweeper config."""
    if not isinstance(data, Mapping):
        return None
    hydra = data.get("hydra")
    if isinstance(hydra, Mapping) and isinstance(hydra.get("sweeper"), Mapping) and isinstance(
            hydra["sweeper"].get("params"), Mapping):
        section = hydra["sweeper"]
        defaults = data.get("defaults") or []
        optuna = any(isinstance(d, Mapping) and "optuna" in str(d.get("override hydra/sweeper", "")) for d in defaults)
    elif isinstance(data.get("params"), Mapping) and set(data) <= set(_SWEEPER_KEYS) and len(data) > 1:
        section, optuna = data, False
    else:
        return None
    optuna = optuna or "optuna" in str(section.get("_target_", "")).lower() or isinstance(section.get("sampler"), Mapping)
    return section, optuna


def _sampler_class(data: Mapping[str, Any], section: Mapping[str, Any]) -> str:
    """The Optuna sampler class a hydra-optuna-sweeper config runs: its `sampler._target_`, else the sampler its
    defaults list picks (`override hydra/sweeper/sampler: nsgaii`), else the plugin's default, TPE."""
    sampler = section.get("sampler")
    if isinstance(sampler, Mapping) and sampler.get("_target_"):
        return str(sampler["_target_"]).rsplit(".", 1)[-1]
    for item in data.get("defaults") or []:
        if isinstance(item, Mapping) and "override hydra/sweeper/sampler" in item:
            name = str(item["override hydra/sweeper/sampler"])
            return _SAMPLER_GROUP.get(name, name)
    return "TPESampler"


def is_sweeper_config(data: Any) -> bool:
    return _sweeper_section(data) is not None


def convert_sweeper_config(data: Mapping[str, Any], where: str, script: str | None = None) -> ForeignSweep:
    """`hydra.sweeper.params` (or a sweeper config file's `params:`) as tune's flags; the Optuna sweeper's sampler,
    n_trials and direction as settings. A glob() selects from the config groups of `script`'s Hydra app, or else
    of the folder of the primary config (`where`, when it holds `hydra.sweeper`)."""
    found = _sweeper_section(data)
    assert found is not None
    section, optuna = found
    groups = ConfigGroups(script, where if "hydra" in data else None)
    problems = []
    settings: dict[str, Any] = {}
    notes = []
    sampler_class = _sampler_class(data, section) if optuna else None
    grid = sampler_class == "GridSampler"  # Optuna's GridSampler: every combination of the discrete values
    if sampler_class == "MOTPESampler":  # hydra-optuna-sweeper's own words
        problems.append("hydra.sweeper.sampler: The 'motpe' sampler was removed in Optuna 4.0. Use "
                        "'hydra/sweeper/sampler=tpe' instead. TPESampler now handles multi-objective optimization.")
    elif sampler_class is not None and sampler_class not in _SAMPLERS:
        problems.append(f"hydra.sweeper.sampler: {sampler_class} is not a sampler tune runs "
                        f"({', '.join(_SAMPLERS)})")
    elif sampler_class is not None and not grid:
        settings["search"] = _SAMPLERS[sampler_class]
    flags: dict[str, Any] = {}
    for name, raw in section["params"].items():
        text = raw if isinstance(raw, str) else _element_text(raw)
        try:
            value = parse_value(text)
            if grid and isinstance(value, IntervalSweep):
                raise GridError("GridSampler only supports discrete distributions (Optuna's GridSampler): use choice() "
                                "or range(), or another sampler")
            flags[str(name)] = to_flag_value(str(name), value, optuna and not grid, groups)
        except GridError as exc:
            problems.append(f"hydra.sweeper.params.{name}: {text!r}: {exc}")
    if optuna:
        sampler = section.get("sampler") or {}
        if isinstance(sampler, Mapping) and isinstance(sampler.get("seed"), int):
            settings["seed"] = sampler["seed"]
        direction = section.get("direction", "minimize")
        directions = direction if isinstance(direction, list) else [direction]
        bad = [d for d in directions if str(d).lower() not in ("minimize", "maximize")]
        if bad or not directions:
            problems.append(f"hydra.sweeper.direction: {direction!r} is not minimize or maximize (or a list of them)")
        else:  # several: the metric and mode lists of a multi-objective sweep; the metrics are named by --metric
            modes = ["min" if str(d).lower() == "minimize" else "max" for d in directions]
            settings["mode"] = modes if isinstance(direction, list) else modes[0]
        n_trials = section.get("n_trials", _OPTUNA_N_TRIALS)
        if isinstance(n_trials, int) and not isinstance(n_trials, bool):
            settings["run_cap"] = n_trials
        notes += [f"hydra.sweeper.{key}" for key in ("storage", "study_name", "n_jobs", "max_failure_rate",
                                                     "custom_search_space") if section.get(key) is not None]
    if problems:
        raise GridError(f"{where}: " + "; ".join(problems))
    return ForeignSweep("hydra", flags, settings, None, None, tuple(notes))


def _element_text(value: Any) -> str:
    """A YAML value that is not a string (`lr: 0.1`, `units: [64, 128]`) as override text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if value != value else ("inf" if value > 0 else "-inf")
    if isinstance(value, list):
        return "[" + ",".join(_element_text(v) for v in value) + "]"
    return str(value)
