"""Population Based Training (Jaderberg et al. 2017, as Ray Tune's PopulationBasedTraining): decisions and the flag
perturbation, as pure functions; the sweep driver (tuner.search.driver) pauses, copies checkpoints and relaunches.

Every `interval` steps a trial is ranked by its latest value among the population's latest values: in the bottom
`quantile` it exploits a trial of the top `quantile` (copies that trial's newest checkpoint and its flags), then
explores (perturbs the flags: a continuous flag x0.8 or x1.2 within its space, a choice to a neighbour, any flag
resampled from its space with probability `resample`) and continues from the copied checkpoint as a new segment of
the same trial. Only a donor whose checkpoint is newer than the receiver's is exploited (Ray Tune #27170 copied a
trial that never saved, #28509 an older checkpoint over the receiver's newer one).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from tuner.runs.ranking import check_mode


@dataclass(frozen=True)
class PbtRule:
    interval: float
    quantile: float = 0.25
    resample: float = 0.25


def _score(value: float | None, mode: str) -> float:
    if value is None or value != value:
        return -math.inf
    return -value if mode == "min" else value


def quantiles(latest: Mapping[Any, float | None], mode: str, quantile: float) -> tuple[list[Any], list[Any]]:
    """(bottom, top) trials of the population by their latest value (as Ray Tune: ceil(n x quantile), at most half
    the population; nothing below two trials). NaN is the worst."""
    check_mode(mode)
    if len(latest) < 2:
        return [], []
    ranked = sorted(latest, key=lambda t: (_score(latest[t], mode), str(t)))
    count = min(int(math.ceil(len(ranked) * quantile)), len(ranked) // 2)
    if count < 1:
        return [], []
    return ranked[:count], ranked[-count:]


def explore(flags: Mapping[str, Any], space: Any, rng: random.Random, resample: float) -> dict[str, Any]:
    """New flags from a donor's: each flag of the space perturbed (x0.8/x1.2 within its bounds, a choice or grid
    list value to a neighbour) or, with probability `resample`, drawn again from its space; other flags kept."""
    distributions = dict(getattr(space, "distributions", ()) or ())
    grid = dict(zip(getattr(space, "grid_names", ()) or (), getattr(space, "grid_values", ()) or ()))
    if not distributions and not grid and hasattr(space, "values"):  # a ProductGrid: every list a choice
        grid = dict(zip(space.names, space.values))
    out = dict(flags)
    for name, value in flags.items():
        dist = distributions.get(name)
        if dist is not None:
            out[name] = dist.draw(rng) if rng.random() < resample else _perturb(dist, value, rng)
        elif name in grid and len(grid[name]) > 1:
            options: Sequence[Any] = grid[name]
            out[name] = rng.choice(list(options)) if rng.random() < resample else _neighbour(options, value, rng)
    return out


def _neighbour(options: Sequence[Any], value: Any, rng: random.Random) -> Any:
    try:
        index = list(options).index(value)
    except ValueError:
        return rng.choice(list(options))
    step = rng.choice((-1, 1))
    return options[min(max(index + step, 0), len(options) - 1)]


def _perturb(dist: Any, value: Any, rng: random.Random) -> Any:
    if dist.kind == "choice":
        return _neighbour(dist.choices, value, rng)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return value
    real = float(value) * rng.choice((0.8, 1.2))
    if dist.kind in ("float", "int"):
        top = dist.high if dist.kind == "float" else dist.high - 1
        real = min(max(real, dist.low), top)
    elif dist.kind == "beta":
        real = min(max(real, 0.0), 1.0)
    if dist.kind == "int":
        whole = int(round(real))
        if whole == value:  # a small integer x0.8 or x1.2 rounds back: move it by one, within bounds
            whole = int(min(max(value + (1 if real > value else -1), dist.low), dist.high - 1))
        return int(round(whole / dist.q) * dist.q) if dist.q is not None else whole
    return dist.quantize(real)


def pbt_report(records: Sequence[Mapping[str, Any]], runs: Sequence[Mapping[str, Any]], metric: str,
               best_trial: Any) -> dict[str, Any] | None:
    """What `tune report` shows of a PBT sweep: the best trial's schedule (its flags by segment, from the step each
    began at, and the trial it exploited) and the population over time (each trial's metric by step across its
    segments, one series a trial). `records`: the journal's; `runs`: the sweep's runs as dicts with `trial`,
    `start`, `flags` and `rows` (metrics rows). None when the sweep made no exploit."""
    from tuner.store.journal import RecordKind

    exploits = [r for r in records if RecordKind.of(r) is RecordKind.EXPLOIT]
    if not exploits:
        return None
    by_trial: dict[Any, list[Mapping[str, Any]]] = {}
    for run in sorted(runs, key=lambda r: r.get("start") or 0):
        by_trial.setdefault(run.get("trial"), []).append(run)
    schedule = []
    if best_trial in by_trial:
        first = by_trial[best_trial][0]
        schedule.append({"segment": 0, "from_step": _first_step(first), "flags": dict(first.get("flags") or {}),
                         "donor": None})
        for run in by_trial[best_trial][1:]:
            if run.get("segment"):
                schedule.append({"segment": run["segment"], "from_step": _first_step(run),
                                 "flags": dict(run.get("flags") or {}), "donor": run.get("donor")})
    steps: set[float] = set()
    values: dict[Any, dict[float, float]] = {}
    for trial, trial_runs in by_trial.items():
        series = values.setdefault(trial, {})
        for run in trial_runs:
            for row in run.get("rows") or ():
                step, value = row.get("step"), row.get(metric)
                if isinstance(step, (int, float)) and isinstance(value, (int, float)) and not isinstance(value, bool):
                    series[float(step)] = float(value)
                    steps.add(float(step))
    xs = sorted(steps)
    trials = sorted(values, key=str)
    return {"metric": metric, "best_trial": best_trial, "schedule": schedule, "exploits": len(exploits),
            "population": {"steps": xs, "trials": [str(t) for t in trials],
                           "series": [[values[t].get(x) for x in xs] for t in trials]},
            "events": [{"trial": r.get("trial"), "step": r.get("donor_step"), "donor": r.get("donor")}
                       for r in exploits]}


def _first_step(run: Mapping[str, Any]) -> Any:
    rows = run.get("rows") or ()
    return rows[0].get("step") if rows else None
