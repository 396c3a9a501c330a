"""W&B sweep configurations, as users have them (`sweep.yaml` for `wandb sweep`), in tune's terms.

The file is checked against W&B's own schema (wandb/sweeps' config/schema.json and its checks in cfg.py): every
key, type, enum, bound and `additionalProperties: false` of it, each problem one clause naming the key
(`parameters.lr.min`), all of them in one GridError (exit 2), as W&B's validation lists every violation.

What each key becomes:
- `method: grid` -> a grid (every combination; `int_uniform` is its integers, `q_uniform` numpy's arange(min, max,
  q), as W&B's grid search enumerates them; other distributions are refused, as W&B refuses them);
  `method: random` -> a search space drawn at random; `method: bayes` -> the same space searched by Optuna's TPE in
  the driver (`--search tpe`). `method: custom` (a scheduler of the user's own picks W&B's runs; W&B's only
  method for `metrics`) -> the same TPE search, noted once.
- `parameters`: `value` -> one value; `values` -> a grid list (grid) or an equally likely choice (random, bayes);
  `values` + `probabilities` -> a weighted choice; every distribution with W&B's defaults where a key is left out
  (mu 0, sigma 1, q 1.0, a 1, b 1) and W&B's inference when `distribution` is missing (integer min/max ->
  int_uniform, a real bound -> uniform); `log_uniform`, `q_log_uniform` and `inv_log_uniform` take base-e exponents
  (e^min .. e^max; W&B deprecates them for the `_values` forms, so they are noted once); an integer `q` gives
  integers, as W&B's `np.round(x / q) * q` keeps q's type. Nested `parameters` become dotted flags (`optimizer.lr`).
- `metric: {name, goal, target}` -> `--metric`, `--mode` (W&B's default goal: minimize), `target` ends the sweep once
  a finished trial reaches it (no new trials; running ones finish). `metrics: [{name, goal}, ...]` (several
  objectives, at least 2; W&B takes it only with `method: custom` and without `metric`) -> tune's metric and mode
  lists (`--metric a --metric b --mode min --mode max`): a multi-objective search judged by its Pareto front. A
  `target` in it, or `early_terminate` beside it, is refused: both compare one value.
- `scheduler: {engine: wandb}` (W&B's own engine, `method` grid/random/bayes) is noted and the method runs as
  without it; its `source`/`optimizer`/`search_space` name functions of a Python file, which tune does not run
  (refused); W&B's rules for it (engine optuna/ax not yet run by W&B, no `early_terminate`, no local controller)
  are checked as W&B checks them.
- `run_cap` -> at most that many trials (a grid's first combinations; the number of draws of a space). W&B's
  schema types it (and `min_iter`, `max_iter`) as jsonschema's integer, which 5.0 is.
- `early_terminate: {type: hyperband, min_iter | max_iter + s, eta, strict}` -> `--stop wandb-hyperband` with W&B's
  bands, a stopping rule as in W&B (tuner.search.stopping.HyperbandRule says what a band is here); tune's own
  `--stop hyperband` pauses and promotes instead, which a W&B sweep run cannot (it is never resumed).
- `command` -> a command template with W&B's macros (tuner.interface.template, style `wandb`); without one, W&B's
  default `${env} ${interpreter} ${program} ${args}`. `program` -> the script of `tune sweep.yaml`.
- `entity`, `project`, `controller`, `name`, `description` (and `apiVersion`, `kind`, `job`, `image_uri`,
  `metric.impute`, `metric.impute_while_running`) are named once and ignored: they place or show the sweep in W&B.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from tuner.errors import GridError
from tuner.search.stopping import WANDB_HYPERBAND, hyperband_bands

from .foreign import ForeignSweep

TOP_KEYS = ("apiVersion", "kind", "controller", "description", "program", "job", "image_uri", "entity", "project",
            "method", "command", "name", "run_cap", "metric", "metrics", "scheduler", "early_terminate", "parameters")
#: keys that place, name or show the sweep in W&B: nothing for tune to do with them
IGNORED = ("entity", "project", "controller", "name", "description", "apiVersion", "kind", "job", "image_uri")
METHODS = ("bayes", "random", "grid", "custom")
GOALS = ("minimize", "maximize")
IMPUTES = ("latest", "best", "worst")
SCHEDULER_KEYS = ("engine", "source", "optimizer", "search_space")
ENGINES = ("optuna", "ax", "wandb")
#: the engines W&B runs, and the methods each takes (its cfg.py: optuna and ax are in the schema, not yet run)
ENGINE_METHODS = {"wandb": ("grid", "bayes", "random")}
DEFAULT_COMMAND = ["${env}", "${interpreter}", "${program}", "${args}"]
_NUMBER, _INTEGER, _ARRAY, _ANY = "number", "integer", "array", "any"
#: jsonschema's (draft 7) `integer` without W&B's `format: integer`: 5.0 is one (run_cap, min_iter, max_iter)
_WHOLE = "whole"
_REAL = "real"  # a number that must be a float (W&B's `"format": "float"` in the inferred uniform)

#: W&B's parameter schemas in the order its `anyOf` tries them (fill_parameter takes the first that fits):
#: (name, its `distribution`, whether `distribution` is required, required keys, {key: (type, default)}).
#: A default None means no default. Extra rules (min > 0, sigma >= 0 ...) are in _BOUNDS.
_PARAMS: tuple[tuple[str, str, bool, tuple[str, ...], dict[str, tuple[str, Any]]], ...] = (
    ("q_beta", "q_beta", True, (), {"a": (_NUMBER, 1), "b": (_NUMBER, 1), "q": (_NUMBER, 1.0)}),
    ("beta", "beta", True, (), {"a": (_NUMBER, 1), "b": (_NUMBER, 1)}),
    ("categorical", "categorical", False, ("values",), {"values": (_ARRAY, None)}),
    ("categorical_w_probabilities", "categorical_w_probabilities", False, ("values", "probabilities"),
     {"values": (_ARRAY, None), "probabilities": (_ARRAY, None)}),
    ("int_uniform", "int_uniform", False, ("min", "max"), {"min": (_INTEGER, None), "max": (_INTEGER, None)}),
    ("uniform", "uniform", False, ("min", "max"), {"min": (_NUMBER, None), "max": (_NUMBER, None)}),
    ("log_normal", "log_normal", True, (), {"mu": (_NUMBER, 0.0), "sigma": (_NUMBER, 1.0)}),
    ("log_uniform", "log_uniform", True, ("min", "max"), {"min": (_NUMBER, None), "max": (_NUMBER, None)}),
    ("inv_log_uniform", "inv_log_uniform", True, ("min", "max"), {"min": (_NUMBER, None), "max": (_NUMBER, None)}),
    ("normal", "normal", True, (), {"mu": (_NUMBER, 0.0), "sigma": (_NUMBER, 1.0)}),
    ("q_log_normal", "q_log_normal", True, (), {"q": (_NUMBER, 1.0), "mu": (_NUMBER, 0), "sigma": (_NUMBER, 1)}),
    ("q_log_uniform", "q_log_uniform", True, ("min", "max"),
     {"min": (_NUMBER, None), "max": (_NUMBER, None), "q": (_NUMBER, 1.0)}),
    ("q_normal", "q_normal", True, (), {"q": (_NUMBER, 1.0), "mu": (_NUMBER, 0), "sigma": (_NUMBER, 1)}),
    ("q_uniform", "q_uniform", True, ("min", "max"), {"min": (_NUMBER, None), "max": (_NUMBER, None),
                                                      "q": (_NUMBER, 1.0)}),
    ("constant", "constant", False, ("value",), {"value": (_ANY, None)}),
    ("inv_log_uniform_values", "inv_log_uniform_values", True, ("min", "max"),
     {"min": (_NUMBER, None), "max": (_NUMBER, None)}),
    ("log_uniform_values", "log_uniform_values", True, ("min", "max"), {"min": (_NUMBER, None), "max": (_NUMBER, None)}),
    ("q_log_uniform_values", "q_log_uniform_values", True, ("min", "max"),
     {"min": (_NUMBER, None), "max": (_NUMBER, None), "q": (_NUMBER, 1.0)}),
)
DISTRIBUTIONS = tuple(p[1] for p in _PARAMS)
#: W&B's bounds beyond types: (key, lowest, whether the lowest itself is allowed)
_BOUNDS = {"a": (0, True), "b": (0, True), "sigma": (0, True), "q": (0, False)}
_VALUES_MIN_ABOVE_ZERO = ("inv_log_uniform_values", "log_uniform_values", "q_log_uniform_values")
#: parameter types W&B's grid search enumerates
GRID_TYPES = ("categorical", "constant", "int_uniform", "q_uniform")
#: W&B deprecates these (its validation says so): min and max are base-e exponents
EXPONENT_FORMS = {"log_uniform": "log_uniform_values", "q_log_uniform": "q_log_uniform_values",
                  "inv_log_uniform": "inv_log_uniform_values"}


def is_wandb_sweep(data: Any) -> bool:
    """A W&B sweep file: a `method:` beside a `parameters:` mapping (or a W&B `metric:`/`program:`)."""
    return isinstance(data, Mapping) and "method" in data and (
        isinstance(data.get("parameters"), Mapping) or isinstance(data.get("metric"), Mapping)
        or isinstance(data.get("program"), str))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _type_problem(value: Any, kind: str) -> str | None:
    """jsonschema's wording for a wrong type, or None."""
    if kind == _NUMBER and not _is_number(value):
        return f"{value!r} is not of type 'number'"
    if kind == _INTEGER and (not isinstance(value, int) or isinstance(value, bool)):
        return f"{value!r} is not of type 'integer'"
    if kind == _WHOLE and not (_is_number(value) and float(value).is_integer()):
        return f"{value!r} is not of type 'integer'"
    if kind == _REAL and not isinstance(value, float):
        return f"{value!r} is not a 'float'"
    if kind == _ARRAY and not isinstance(value, list):
        return f"{value!r} is not of type 'array'"
    return None


def _fits(spec: Mapping[str, Any], entry: tuple[str, str, bool, tuple[str, ...], dict[str, tuple[str, Any]]]
          ) -> list[str]:
    """Why `spec` does not fit W&B's parameter schema `entry` ([] = it fits)."""
    name, distribution, needs_distribution, required, properties = entry
    problems = []
    if needs_distribution and "distribution" not in spec:
        problems.append("'distribution' is a required property")
    if "distribution" in spec and spec["distribution"] != distribution:
        problems.append(f"{spec['distribution']!r} is not one of ['{distribution}']")
    problems += [f"{key!r} is a required property" for key in required if key not in spec]
    extra = [k for k in spec if k not in properties and k != "distribution"]
    if extra:
        problems.append(f"additional properties are not allowed ({', '.join(repr(k) for k in extra)} "
                        f"{'was' if len(extra) == 1 else 'were'} unexpected)")
    for key, (kind, _) in properties.items():
        if key not in spec:
            continue
        problem = _type_problem(spec[key], kind)
        if problem:
            problems.append(f"{key}: {problem}")
        elif kind == _ARRAY and not spec[key]:
            problems.append(f"{key}: [] should be non-empty")
        elif key in _BOUNDS:
            low, inclusive = _BOUNDS[key]
            if spec[key] < low or (spec[key] == low and not inclusive):
                problems.append(f"{key}: {spec[key]} is {'less than' if inclusive else 'less than or equal to'} "
                                f"the minimum of {low}")
    if name == "categorical_w_probabilities" and isinstance(spec.get("probabilities"), list):
        bad = [p for p in spec["probabilities"] if not _is_number(p) or p < 0]
        if bad:
            problems.append(f"probabilities: {bad[0]!r} is not a number >= 0")
    if name in _VALUES_MIN_ABOVE_ZERO and _is_number(spec.get("min")) and spec["min"] <= 0:
        problems.append(f"min: {spec['min']} is less than or equal to the minimum of 0")
    if name == "uniform" and "distribution" not in spec and _is_number(spec.get("min")) and _is_number(
            spec.get("max")) and not (isinstance(spec["min"], float) or isinstance(spec["max"], float)):
        problems.append("min or max must be a float when distribution is left out")  # W&B's format: float rule
    return problems


def parameter_type(path: str, spec: Any) -> tuple[str, dict[str, Any]]:
    """W&B's fill_parameter: the first of its parameter schemas that `spec` fits, with the defaults filled in
    (`param_dict` for nested `parameters`). Raises GridError naming `path` and what does not fit."""
    if not isinstance(spec, Mapping):
        raise GridError(f"{path}: {spec!r} is not of type 'object'; write a mapping such as `{{values: [1, 2]}}`")
    if "parameters" in spec:
        extra = [k for k in spec if k != "parameters"]
        if extra:
            raise GridError(f"{path}: additional properties are not allowed beside nested parameters ({extra[0]!r})")
        return "param_dict", dict(spec)
    for entry in _PARAMS:
        if not _fits(spec, entry):
            filled = {k: default for k, (_, default) in entry[4].items() if default is not None}
            filled.update(spec)
            filled.setdefault("distribution", entry[1])
            return entry[0], filled
    # nothing fits: say why, for the schema the user most likely meant
    meant = [e for e in _PARAMS if e[1] == spec.get("distribution")] if "distribution" in spec else []
    if "distribution" in spec and not meant:
        raise GridError(f"{path}.distribution: {spec['distribution']!r} is not one of {', '.join(DISTRIBUTIONS)}")
    if not meant:
        keys = set(spec)
        meant = sorted(_PARAMS, key=lambda e: (-len(keys & set(e[4])), len(_fits(spec, e))))[:1]
    reasons = _fits(spec, meant[0])
    raise GridError(f"{path}: {dict(spec)!r} is not a valid W&B parameter ({meant[0][1]}: {'; '.join(reasons)}); "
                    "see https://docs.wandb.ai/guides/sweeps/sweep-config-keys#parameters")


class _Problems(list):
    def add(self, where: str, text: str) -> None:
        self.append(f"{where}: {text}")


def _check_top(data: Mapping[str, Any], problems: _Problems) -> None:
    for key in data:
        if key not in TOP_KEYS:
            import difflib

            close = difflib.get_close_matches(str(key), TOP_KEYS, n=1)
            problems.add(str(key), "additional properties are not allowed" + (f"; did you mean '{close[0]}'?"
                                                                               if close else ""))
    if "method" not in data:
        problems.add("method", "'method' is a required property")
    elif data["method"] not in METHODS:
        problems.add("method", f"{data['method']!r} is not one of {', '.join(METHODS)}")
    for key in ("apiVersion", "description", "program", "job", "image_uri", "entity", "project", "name"):
        if key in data and not isinstance(data[key], str):
            problems.add(key, f"{data[key]!r} is not of type 'string'")
    if "kind" in data and data["kind"] != "sweep":
        problems.add("kind", f"{data['kind']!r} is not one of ['sweep']")
    controller = data.get("controller")
    if "controller" in data:
        if not isinstance(controller, Mapping):
            problems.add("controller", f"{controller!r} is not of type 'object'")
        elif "type" not in controller:
            problems.add("controller", "'type' is a required property")
        elif controller["type"] not in ("local", "cloud"):
            problems.add("controller.type", f"{controller['type']!r} is not one of ['local', 'cloud']")
    if "command" in data and not isinstance(data["command"], list):
        problems.add("command", f"{data['command']!r} is not of type 'array'")
    if "run_cap" in data:
        cap = data["run_cap"]
        problem = _type_problem(cap, _WHOLE)  # jsonschema's integer: 5.0 is one
        if problem:
            problems.add("run_cap", problem)
        elif cap <= 0:
            problems.add("run_cap", f"{cap} is less than or equal to the minimum of 0")
    if "metric" in data:
        _check_metric(data["metric"], "metric", problems)
    if "metrics" in data:
        metrics = data["metrics"]
        if not isinstance(metrics, list):
            problems.add("metrics", f"{metrics!r} is not of type 'array'")
        else:
            if len(metrics) < 2:
                problems.add("metrics", f"{metrics!r} is too short (at least 2 metrics: one is `metric`)")
            for index, metric in enumerate(metrics):
                _check_metric(metric, f"metrics.{index}", problems)
        # W&B's checks beyond its schema (cfg.py), in its words
        if "metric" in data:
            problems.add("metrics", "`metric` and `metrics` cannot both be set: use `metric` for a single objective, "
                         "or `metrics` for multi-objective optimization")
        elif data.get("method") in METHODS and data["method"] != "custom":
            problems.add("metrics", f"`metrics` requires `method: custom` (got `method: {data['method']}`): "
                         "multi-objective optimization is only supported with a custom scheduler")
    if "early_terminate" in data:
        _check_hyperband(data["early_terminate"], problems)
    if "scheduler" in data:
        _check_scheduler(data, problems)
    search_space = isinstance(data.get("scheduler"), Mapping) and bool(data["scheduler"].get("search_space"))
    if "parameters" not in data and not search_space:
        problems.add("parameters", "'parameters' is a required property (W&B: `parameters` is required unless "
                     "`scheduler.search_space` is set)")
    elif "parameters" in data and not isinstance(data["parameters"], Mapping):
        problems.add("parameters", f"{data['parameters']!r} is not of type 'object'")


def _check_scheduler(data: Mapping[str, Any], problems: _Problems) -> None:
    """W&B's `scheduler` (its schema, and the rules of cfg.py beside it): which engine picks the runs, and the
    functions of a Python file it calls."""
    scheduler = data["scheduler"]
    if not isinstance(scheduler, Mapping):
        problems.add("scheduler", f"{scheduler!r} is not of type 'object'")
        return
    if "engine" not in scheduler:
        problems.add("scheduler", "'engine' is a required property")
    for key in scheduler:
        if key not in SCHEDULER_KEYS:
            problems.add(f"scheduler.{key}", "additional properties are not allowed")
        elif not isinstance(scheduler[key], str):
            problems.add(f"scheduler.{key}", f"{scheduler[key]!r} is not of type 'string'")
    for key in ("optimizer", "search_space"):
        if key in scheduler and "source" not in scheduler:
            problems.add("scheduler", f"'source' is a dependency of '{key}'")
    engine = scheduler.get("engine")
    if "engine" in scheduler and engine not in ENGINES:
        problems.add("scheduler.engine", f"{engine!r} is not one of {', '.join(ENGINES)}")
    elif engine is not None and engine not in ENGINE_METHODS:
        problems.add("scheduler.engine", f"'{engine}' is not supported. supported engines are: "
                     f"{', '.join(ENGINE_METHODS)}")
    elif engine is not None and data.get("method") not in ENGINE_METHODS[engine]:
        problems.add("scheduler.engine", f"`scheduler.engine: {engine}` does not support `method: "
                     f"{data.get('method')}`. supported methods are: {', '.join(ENGINE_METHODS[engine])}")
    if isinstance(data.get("controller"), Mapping) and data["controller"].get("type") == "local":
        problems.add("controller", "`controller: type:local` cannot be used together with `scheduler`: use "
                     "`scheduler` instead of `controller`")
    if "early_terminate" in data:
        problems.add("early_terminate", "`early_terminate` cannot be used together with `scheduler`: early "
                     "termination must be implemented by the custom scheduler itself")


def _check_metric(metric: Any, where: str, problems: _Problems) -> None:
    if not isinstance(metric, Mapping):
        problems.add(where, f"{metric!r} is not of type 'object'")
        return
    if "name" not in metric:
        problems.add(where, "'name' is a required property")
    elif not isinstance(metric["name"], str):
        problems.add(f"{where}.name", f"{metric['name']!r} is not of type 'string'")
    for key in metric:
        if key not in ("name", "goal", "target", "impute", "impute_while_running"):
            problems.add(f"{where}.{key}", "additional properties are not allowed")
    if "goal" in metric and metric["goal"] not in GOALS:
        problems.add(f"{where}.goal", f"{metric['goal']!r} is not one of {', '.join(GOALS)}")
    if "target" in metric and not _is_number(metric["target"]):
        problems.add(f"{where}.target", f"{metric['target']!r} is not of type 'number'")
    if "impute" in metric and metric["impute"] not in IMPUTES:
        problems.add(f"{where}.impute", f"{metric['impute']!r} is not one of {', '.join(IMPUTES)}")
    if "impute_while_running" in metric and metric["impute_while_running"] not in (*IMPUTES, "false"):
        problems.add(f"{where}.impute_while_running", f"{metric['impute_while_running']!r} is not one of "
                     f"{', '.join((*IMPUTES, 'false'))}")


def _check_hyperband(rule: Any, problems: _Problems) -> None:
    where = "early_terminate"
    if not isinstance(rule, Mapping):
        problems.add(where, f"{rule!r} is not of type 'object'")
        return
    if rule.get("type") != "hyperband":
        problems.add(f"{where}.type", f"{rule.get('type')!r} is not one of ['hyperband']")
    for key in rule:
        if key not in ("type", "max_iter", "min_iter", "s", "eta", "strict"):
            problems.add(f"{where}.{key}", "additional properties are not allowed")
    if "min_iter" not in rule and not ("max_iter" in rule and "s" in rule):
        problems.add(where, "needs min_iter, or max_iter and s")
    for key, kind in (("max_iter", _WHOLE), ("min_iter", _WHOLE), ("s", _NUMBER), ("eta", _NUMBER)):
        if key in rule:
            problem = _type_problem(rule[key], kind)
            if problem:
                problems.add(f"{where}.{key}", problem)
    if isinstance(rule.get("min_iter"), int) and rule["min_iter"] < 1:
        problems.add(f"{where}.min_iter", f"{rule['min_iter']} is less than the minimum of 1")
    if _is_number(rule.get("eta")) and rule["eta"] <= 1:
        problems.add(f"{where}.eta", f"{rule['eta']} is less than or equal to the minimum of 1")
    if _is_number(rule.get("s")) and not (float(rule["s"]).is_integer() and rule["s"] >= 1):
        problems.add(f"{where}.s", f"{rule['s']} is not a whole number >= 1 (the number of bands)")
    if "strict" in rule and not isinstance(rule["strict"], bool):
        problems.add(f"{where}.strict", f"{rule['strict']!r} is not of type 'boolean'")


def _walk_parameters(parameters: Mapping[str, Any], prefix: str, path: tuple[str, ...], problems: _Problems,
                     found: list[tuple[str, tuple[str, ...], str, dict[str, Any]]]) -> None:
    """W&B's HyperParameterSet.from_config: every parameter, nested ones under their dotted path."""
    import re

    if not parameters:
        problems.add(prefix.rstrip(".") or "parameters", "{} should be non-empty (at least one parameter)")
    for key, spec in parameters.items():
        where = f"{prefix}{key}"
        if not isinstance(key, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_.-]*$", key):
            problems.add(where, f"{key!r} does not match '^[A-Za-z_][A-Za-z0-9_.-]*$' (a parameter's name)")
            continue
        try:
            kind, filled = parameter_type(where, spec)
        except GridError as exc:
            problems.append(str(exc))
            continue
        if kind == "param_dict":
            inner = filled["parameters"]
            if not isinstance(inner, Mapping):
                problems.add(f"{where}.parameters", f"{inner!r} is not of type 'object'")
                continue
            _walk_parameters(inner, f"{where}.parameters.", (*path, key), problems, found)
            continue
        if "min" in filled and "max" in filled and _is_number(filled["min"]) and filled["min"] >= filled["max"]:
            problems.add(where, f"min {filled['min']} is not less than max {filled['max']}")
        if kind == "categorical_w_probabilities":
            values, probabilities = filled["values"], filled["probabilities"]
            if len(values) != len(probabilities):
                problems.add(where, f"values {values} and probabilities {probabilities} are not the same length")
            elif all(_is_number(p) for p in probabilities) and not math.isclose(sum(probabilities), 1.0, rel_tol=1e-5,
                                                                                  abs_tol=1e-8):
                problems.add(where, f"probabilities {probabilities} do not sum to 1")
        found.append((".".join((*path, key)), (*path, key), kind, filled))


def _flag_value(name: str, kind: str, p: dict[str, Any], method: str, where: str) -> Any:
    """One parameter as tune's flag value: a grid list, or a distribution mapping (tuner.search.space)."""
    q = p.get("q")
    q_keys: dict[str, Any] = {} if q is None else {"q": q, **({"as_int": True} if isinstance(q, int) else {})}
    if method == "grid":
        if kind not in GRID_TYPES:
            raise GridError(f"{where}: parameter {name} is a disallowed type with grid search ({kind}); W&B's grid "
                            "search takes categorical, constant, int_uniform or q_uniform parameters (no probabilities)"
                            ": use method random or bayes, or list the values")
        if kind == "constant":
            return [p["value"]]
        if kind == "categorical":
            return list(p["values"])
        if kind == "int_uniform":
            return list(range(p["min"], p["max"] + 1))
        import numpy as np  # W&B enumerates q_uniform with numpy's arange (max excluded, its float steps kept)

        return np.arange(p["min"], p["max"], p["q"]).tolist()
    if kind == "constant":
        return [p["value"]]
    if kind == "categorical":
        return {"choice": list(p["values"])}
    if kind == "categorical_w_probabilities":
        return {"choice": list(p["values"]), "weights": list(p["probabilities"])}
    if kind == "int_uniform":
        return {"randint": [p["min"], p["max"] + 1]}
    if kind in ("uniform", "q_uniform"):
        return {"uniform": [p["min"], p["max"]], **q_keys}
    if kind in ("log_uniform", "q_log_uniform"):  # base-e exponents
        return {"loguniform": [math.exp(p["min"]), math.exp(p["max"])], **q_keys}
    if kind in ("log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values"):
        # inv_log_uniform_values: log(1/X) uniform in [log(1/max), log(1/min)], which is X log-uniform in [min, max]
        return {"loguniform": [p["min"], p["max"]], **q_keys}
    if kind == "inv_log_uniform":  # X = exp(-U(min, max)): log-uniform in [e^-max, e^-min]
        return {"loguniform": [math.exp(-p["max"]), math.exp(-p["min"])]}
    if kind in ("normal", "q_normal"):
        return {"normal": [p["mu"], p["sigma"]], **q_keys}
    if kind in ("log_normal", "q_log_normal"):
        return {"lognormal": [p["mu"], p["sigma"]], **q_keys}
    return {"beta": [p["a"], p["b"]], **q_keys}  # beta, q_beta


def _mode(metric: Mapping[str, Any]) -> str:
    """tune's mode for a W&B metric's goal (W&B's default: minimize)."""
    return "max" if metric.get("goal") == "maximize" else "min"


def convert(data: Mapping[str, Any], where: str) -> ForeignSweep:
    """A W&B sweep configuration -> tune's flags, settings, command and program; GridError lists every problem."""
    problems = _Problems()
    _check_top(data, problems)
    found: list[tuple[str, tuple[str, ...], str, dict[str, Any]]] = []
    if isinstance(data.get("parameters"), Mapping):
        _walk_parameters(data["parameters"], "parameters.", (), problems, found)
    method = data.get("method")
    metric = data.get("metric") if isinstance(data.get("metric"), Mapping) else None
    metrics = list(data["metrics"]) if isinstance(data.get("metrics"), list) else []
    scheduler = data.get("scheduler") if isinstance(data.get("scheduler"), Mapping) else None
    rule = data.get("early_terminate")
    if not problems:
        code = [key for key in ("source", "optimizer", "search_space") if scheduler is not None and key in scheduler]
        if code:
            problems.add(f"scheduler.{code[0]}", "W&B's scheduler calls functions of a Python file (its optimizer, its "
                         "search space), which tune does not run: drop them and give the space under `parameters`")
        targets = [f"metrics.{index}.target" for index, item in enumerate(metrics) if "target" in item]
        if targets:
            problems.add(targets[0], "a target ends the sweep when a run's metric reaches it, and several metrics make "
                         "a front, not one value: drop target, or keep one `metric` with its target")
        if metrics and rule is not None:
            problems.add("early_terminate", f"hyperband judges one metric, and `metrics` names {len(metrics)}: drop "
                         "early_terminate (tune's --stop moasha stops trials on several metrics)")
        if method in ("bayes", "custom") and metric is None and not metrics:
            problems.add("metric", f"method {method} learns from a metric: add `metric: {{name: ..., goal: minimize}}`")
        if rule is not None and metric is None and not metrics:
            problems.add("metric", "early_terminate judges a metric: add `metric: {name: ..., goal: minimize}`")
        if rule is not None and not metrics:
            try:  # W&B's bands, as the stopping rule will compute them: none is an invalid file, said here
                hyperband_bands(rule.get("eta", 3), rule.get("min_iter"), rule.get("max_iter"), rule.get("s"))
            except ValueError as exc:
                problems.add("early_terminate", str(exc))
    flags: dict[str, Any] = {}
    nest: dict[str, list[str]] = {}
    for name, path, kind, filled in found if not problems else ():
        if name in flags:
            problems.add(f"parameters.{name}", "two parameters become the same flag (a nested one and a dotted name)")
            continue
        try:
            flags[name] = _flag_value(name, kind, filled, str(method), where)
        except GridError as exc:
            problems.append(str(exc).removeprefix(f"{where}: "))
        if len(path) > 1:
            nest[name] = list(path)
    if problems:
        raise GridError(f"{where}: not a valid W&B sweep configuration: " + "; ".join(problems))
    ignored = [key for key in IGNORED if key in data]
    notes = [f"{', '.join(ignored)} (W&B's own: where the sweep lives, its name, its controller, Launch)"] if ignored \
        else []
    notes += [f"parameters.{name}: {kind} takes base-e exponents (e^min .. e^max), as W&B's deprecated form does; "
              f"{EXPONENT_FORMS[kind]} takes the values" for name, _, kind, _ in found if kind in EXPONENT_FORMS]
    notes += [f"{where_}.{key} (a failed trial is told to the search as failed)"
              for where_, item in ([("metric", metric)] if metric is not None else []) + [
                  (f"metrics.{index}", item) for index, item in enumerate(metrics)]
              for key in ("impute", "impute_while_running") if key in item]
    if scheduler is not None:
        notes.append(f"scheduler (engine {scheduler['engine']}: W&B's own, which runs method {method} as tune does)")
    if method == "custom":
        notes.append("method custom (a scheduler of your own picks W&B's runs; tune's search in its place is Optuna's "
                     "TPE, as --search tpe)")
    settings: dict[str, Any] = {}
    if metric is not None:
        settings.update(metric=metric["name"], mode=_mode(metric))
        if "target" in metric:
            settings["target"] = metric["target"]
    elif metrics:  # several objectives: tune's metric and mode lists, judged by the Pareto front
        settings.update(metric=[item["name"] for item in metrics], mode=[_mode(item) for item in metrics])
    if method in ("bayes", "custom"):
        settings["search"] = "tpe"
    if "run_cap" in data:
        settings["run_cap"] = int(data["run_cap"])
    elif method in ("random", "bayes", "custom"):
        settings["needs_run_cap"] = f"method {method}"
    if rule is not None:
        settings.update(stop=WANDB_HYPERBAND, reduction_factor=rule.get("eta", 3), strict=rule.get("strict", True))
        if "max_iter" in rule and "s" in rule:
            settings.update(max_t=int(rule["max_iter"]), brackets=int(rule["s"]))
        else:
            settings["grace_period"] = int(rule["min_iter"])
    command: dict[str, Any] = {"argv": [str(item) for item in data.get("command") or DEFAULT_COMMAND], "style": "wandb"}
    if nest:
        command["nest"] = nest
    return ForeignSweep("wandb", flags, settings, command, data.get("program"), tuple(notes))
