"""Ray Tune search spaces in `tuning_run(flags={...})`, converted to tune's own spaces (tuner.search.space).

A Ray Tune domain (`tune.uniform(...)`, `tune.choice(...)` ...) is recognised by its class's module name
(`ray.tune.search.sample`) and read from its attributes (`lower`, `upper`, `sampler`, `q`, `categories`), so
Ray is never imported here: only workers/ import Ray, and a dict without Ray objects costs nothing.

    tune.uniform(lo, hi)         -> {uniform: [lo, hi]}           tune.quniform(lo, hi, q)    -> ... q: q
    tune.loguniform(lo, hi)      -> {loguniform: [lo, hi]}        tune.qloguniform(lo, hi, q) -> ... q: q
    tune.randn(mean, sd)         -> {normal: [mean, sd]}          tune.qrandn(mean, sd, q)    -> ... q: q
    tune.randint(lo, hi)         -> {randint: [lo, hi]}           tune.qrandint(lo, hi, q)    -> ... q: q
    tune.lograndint(lo, hi)      -> {lograndint: [lo, hi]}        tune.qlograndint(lo, hi, q) -> ... q: q
    tune.choice([...])           -> {choice: [...]}               tune.grid_search([...])     -> [...] (a grid axis)
    tune.sample_from(fn)         -> refused: a function of the other values is code, and a sweep's plan is data
"""

from __future__ import annotations

from typing import Any, Mapping

from tuner.errors import GridError

from .foreign import UNCHANGED

RAY_SAMPLE_MODULE = "ray.tune.search.sample"


def is_ray_domain(value: Any) -> bool:
    return type(value).__module__ == RAY_SAMPLE_MODULE


def _sampler_name(sampler: Any) -> str:
    """`_Uniform`, `_LogUniform`, `_Normal`, `Quantized` ... by class name (Ray's own classes, not imported)."""
    return type(sampler).__name__.lstrip("_")


def convert_value(name: str, value: Any, where: str) -> Any:
    """One flag's value: a Ray Tune domain or `{"grid_search": [...]}` as tune's flag value; else UNCHANGED."""
    if isinstance(value, Mapping) and set(value) == {"grid_search"}:
        values = value["grid_search"]
        if not isinstance(values, (list, tuple)):
            raise GridError(f"{where}: flag '{name}': grid_search takes a list of values, got {values!r}")
        return list(values)
    if not is_ray_domain(value):
        return UNCHANGED
    kind = type(value).__name__
    if kind == "Function":
        raise GridError(f"{where}: flag '{name}': tune.sample_from(...) is a Python function of the other values, and "
                        "a sweep's plan is data (journaled, resumed, reported): give a distribution "
                        "(tune.uniform, tune.choice ...) or compute the value in the script")
    if kind == "Categorical":
        return {"choice": list(value.categories)}
    sampler: Any = getattr(value, "sampler", None)
    q = None
    if sampler is not None and _sampler_name(sampler) == "Quantized":
        q, sampler = sampler.q, sampler.sampler
    inner = _sampler_name(sampler) if sampler is not None else "Uniform"
    extra = {} if q is None else {"q": q}
    if kind == "Float":
        if inner == "Normal":
            return {"normal": [sampler.mean, sampler.sd], **extra}
        if inner in ("Uniform", "LogUniform"):
            return {"loguniform" if inner == "LogUniform" else "uniform": [value.lower, value.upper], **extra}
    if kind == "Integer" and inner in ("Uniform", "LogUniform"):
        return {"lograndint" if inner == "LogUniform" else "randint": [value.lower, value.upper], **extra}
    raise GridError(f"{where}: flag '{name}': a Ray Tune {kind} domain sampled by {inner} has no equivalent in tune; "
                    "use tune.uniform, loguniform, randn, randint, lograndint (q variants too), choice or grid_search")
