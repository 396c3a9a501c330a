"""Early-stopping rules as pure functions of metric histories: which running trials to stop now.

A history is a trial's metric as a list of (step, value), in any order; `mode` is `min` or `max`. The
driver polls the live metrics of its running trials, calls a rule, and stops what it returns; nothing here
reads files or knows about processes, so the rules are tested on hand-made histories.

Non-finite values (NaN, inf) never count for another trial's median or rung cutoff. A trial whose own
value is NaN (a `nan` it printed or logged) is treated as the worst possible value: a diverged run is the first
one worth stopping. A step at which the metric was not reported is not in a history at all (the driver leaves it
out): missing is not NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

from tuner.runs.ranking import check_mode

#: W&B's early_terminate hyperband: a stopping rule at bands of reported values (`--stop hyperband` pauses and
#: promotes: tuner.search.promotion)
WANDB_HYPERBAND = "wandb-hyperband"

History = Sequence[tuple[float, float]]
Histories = Mapping[Any, History]


def _score(value: float | None, mode: str) -> float:
    """Bigger is better; NaN is the worst."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return -math.inf
    return -value if mode == "min" else value


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


@dataclass(frozen=True)
class Stop:
    """Why a trial is stopped: the rule, the step it was judged at, and the numbers compared."""

    trial: Any
    rule: str
    step: float
    value: float
    threshold: float


# ---------------------------------------------------------------------------------------------------
# Median stopping rule (Golovin et al., Google Vizier)

@dataclass(frozen=True)
class MedianRule:
    """Stop a trial whose best value so far at its latest step t is worse than the median, over the other
    trials that reached t (running or done), of their running averages up to t.

    grace_period: no trial is judged before step `grace_period`; min_trials: at least this many other trials
    must have reached t (Ray Tune's min_samples_required)."""

    grace_period: float = 1
    min_trials: int = 3


def median_stops(histories: Histories, running: Sequence[Any], mode: str,
                 rule: MedianRule = MedianRule()) -> list[Stop]:
    check_mode(mode)
    stops = []
    for trial in running:
        points = sorted(histories.get(trial, ()))
        if not points:
            continue
        step = points[-1][0]
        if step < rule.grace_period:
            continue
        averages = []
        for other, other_points in histories.items():
            if other == trial or not other_points or max(s for s, _ in other_points) < step:
                continue
            upto = [v for s, v in other_points if s <= step and _finite(v)]
            if upto:
                averages.append(sum(_score(v, mode) for v in upto) / len(upto))
        if len(averages) < rule.min_trials:
            continue
        median = _median(averages)
        best = max(_score(v, mode) for _, v in points)
        if best < median:
            stops.append(Stop(trial, "median", step, _unscore(best, mode), _unscore(median, mode)))
    return stops


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _unscore(score: float, mode: str) -> float:
    if score == -math.inf:
        return math.nan
    return -score if mode == "min" else score


# ---------------------------------------------------------------------------------------------------
# Asynchronous successive halving, stopping type (Li et al. 2020; Ray Tune's ASHAScheduler)

@dataclass(frozen=True)
class AshaRule:
    """Rungs at steps grace_period * reduction_factor**k (below max_t). A trial reaching a rung is compared
    with the values the other trials had at that rung: it continues only if it is in the top
    1/reduction_factor of them (a tie with the cutoff continues); the first to reach a rung always
    continues. A trial jumping over several rungs between polls is judged at the highest (as Ray Tune).
    A trial reaching max_t (when given) is stopped: it used its budget."""

    grace_period: float = 1
    reduction_factor: float = 3
    max_t: float | None = None

    def rungs(self, up_to: float) -> list[float]:
        milestones, step = [], float(self.grace_period)
        limit = up_to if self.max_t is None else min(up_to, self.max_t - 1e-12)
        while step <= limit:
            milestones.append(step)
            step *= self.reduction_factor
        return milestones


@dataclass
class AshaState:
    """What the driver keeps between polls: the highest rung each trial has been judged at (the journal
    records it, so a resumed sweep never judges a trial twice at one rung)."""

    judged: dict[Any, float] = field(default_factory=dict)


def _value_at(points: History, milestone: float) -> float | None:
    """A trial's value when it reached the rung: the first report at a step >= milestone."""
    for step, value in points:
        if step >= milestone:
            return value
    return None


def asha_stops(histories: Histories, running: Sequence[Any], mode: str, rule: AshaRule = AshaRule(),
               state: AshaState | None = None) -> list[Stop]:
    """The running trials to stop now; `state` (updated in place) remembers the rungs already judged."""
    check_mode(mode)
    if rule.grace_period <= 0 or rule.reduction_factor <= 1:
        raise ValueError("asha needs grace_period > 0 and reduction_factor > 1")
    state = state if state is not None else AshaState()
    ordered = {t: sorted(p) for t, p in histories.items() if p}
    stops: list[Stop] = []
    for trial, points, milestone in _due_rungs(ordered, running, rule, state, stops,
                                               lambda t, p, m: Stop(t, "asha:max_t", p[-1][0], p[-1][1], m)):
        mine = _score(_value_at(points, milestone), mode)
        others = [_score(v, mode) for t, p in ordered.items() if t != trial
                  for v in [_value_at(p, milestone)] if v is not None and _finite(v)]
        if not others:
            continue
        cutoff = _percentile(others, (1 - 1 / rule.reduction_factor) * 100)
        if mine < cutoff:
            stops.append(Stop(trial, "asha", milestone, _unscore(mine, mode), _unscore(cutoff, mode)))
    return stops


def _due_rungs(ordered: Mapping[Any, list[Any]], running: Sequence[Any], rule: AshaRule, state: AshaState,
               stops: list[Stop], past_max_t: Callable[[Any, list[Any], float], Stop]
               ) -> Iterator[tuple[Any, list[Any], float]]:
    """ASHA's and MOASHA's rung bookkeeping: (trial, its points in step order, the rung) for each running trial that
    reached a rung not judged yet (its highest; remembered in `state`); a trial past max_t gets `past_max_t`'s Stop
    (its arguments: the trial, its points, max_t) in `stops` instead. The callers rank the trial at that rung their
    own way."""
    milestones = rule.rungs(max((p[-1][0] for p in ordered.values()), default=0))
    for trial in running:
        points = ordered.get(trial)
        if not points:
            continue
        step = points[-1][0]
        if rule.max_t is not None and step >= rule.max_t:
            stops.append(past_max_t(trial, points, rule.max_t))
            continue
        reached = [m for m in milestones if m <= step and m > state.judged.get(trial, -math.inf)]
        if reached:
            state.judged[trial] = reached[-1]
            yield trial, points, reached[-1]


def _percentile(values: list[float], percent: float) -> float:
    """numpy's default (linear) percentile, without numpy."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * percent / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# ---------------------------------------------------------------------------------------------------
# Hyperband early termination as W&B sweeps apply it (wandb/sweeps, hyperband_stopping.py)

@dataclass(frozen=True)
class HyperbandRule:
    """W&B's `early_terminate: {type: hyperband}`: at fixed *bands* (counts of reported values, W&B's
    "iterations"), a running trial whose value is worse than the top 1/eta of every trial's value at that band
    is stopped.

    Its meaning, next to W&B's: W&B counts a run's logged values of the metric (`wandb.log` calls that carry
    it, non-finite ones left out); tune counts the same thing, the trial's reported values of `--metric`
    (log_metrics rows or printed lines) in step order, non-finite ones left out. At each band b the threshold
    is the value at position int(len/eta) of the sorted b-th values of every trial that reached b (running,
    finished or stopped, the judged one included). A running trial is judged at the highest band it has
    reached, on every poll (W&B: every time its controller looks), so a trial can pass a band now and fail
    it later when better trials arrive; `strict` compares its value at that band, otherwise its best value
    so far (W&B's "conservative" condition). Unlike ASHA, nothing stops a trial at the last band: W&B's
    max_iter only places the bands."""

    bands: tuple[int, ...]
    eta: float = 3
    strict: bool = True


def hyperband_bands(eta: float = 3, min_iter: int | None = None, max_iter: int | None = None,
                    brackets: float | None = None) -> tuple[int, ...]:
    """W&B's bands: with max_iter and s (brackets), max_iter / eta^k for k = 1..s (while >= 1), ascending; with
    min_iter, min_iter * eta^k for k = 0..99. Raises ValueError when no band results."""
    if max_iter is not None and brackets is not None:
        bands, band = [], float(max_iter)
        for _ in range(int(brackets)):
            band /= eta
            if band < 1:
                break
            bands.append(int(band))
        bands.sort()
    elif min_iter is not None:
        bands, band = [], float(min_iter)
        for _ in range(100):
            bands.append(int(band))
            band *= eta
            if band > 2**53:  # W&B goes on to 100 bands; none past this is ever reached
                break
    else:
        raise ValueError("hyperband needs min_iter, or max_iter and s")
    if not bands:
        raise ValueError("hyperband has no band: increase s, decrease eta, or increase min_iter")
    return tuple(bands)


def _reported(points: History, mode: str) -> list[float]:
    """A trial's finite values in step order, as costs (smaller is better): W&B's filtered metric history."""
    return [(-v if mode == "max" else v) for _, v in sorted(points, key=lambda p: p[0]) if _finite(v)]


def hyperband_stops(histories: Histories, running: Sequence[Any], mode: str, rule: HyperbandRule) -> list[Stop]:
    """The running trials W&B's hyperband would stop now, given every trial's history (running and done)."""
    check_mode(mode)
    if not 0 < 1 / rule.eta <= 1:
        raise ValueError("hyperband needs eta >= 1")
    costs = {t: _reported(p, mode) for t, p in histories.items()}
    thresholds = []
    for band in rule.bands:
        at_band = sorted(c[band - 1] for c in costs.values() if len(c) >= band)
        thresholds.append(at_band[int((1.0 / rule.eta) * len(at_band))] if at_band else math.inf)
    stops = []
    for trial in running:
        mine = costs.get(trial, [])
        reached = [(band, threshold) for band, threshold in zip(rule.bands, thresholds) if band <= len(mine)]
        if not reached:
            continue
        band, threshold = reached[-1]
        value = mine[band - 1] if rule.strict else min(mine)
        if value > threshold:
            sign = -1 if mode == "max" else 1
            stops.append(Stop(trial, WANDB_HYPERBAND, band, sign * value, sign * threshold))
    return stops


# ---------------------------------------------------------------------------------------------------
# Multi-objective ASHA (Schmucker et al. 2021; Syne Tune's MOASHA): ASHA whose order at a rung is non-dominated
# sorting of the objective vectors, with NSGA-II's crowding distance inside a front

VectorHistory = Sequence[tuple[float, Sequence[float]]]
VectorHistories = Mapping[Any, VectorHistory]


def _cost_vector(values: Sequence[float] | None, modes: Sequence[str]) -> tuple[float, ...] | None:
    """Values -> costs (smaller better on each); a NaN in any objective is the worst on that objective."""
    if values is None:
        return None
    return tuple(-_score(v, m) for v, m in zip(values, modes))


def _vector_at(points: VectorHistory, milestone: float) -> Sequence[float] | None:
    for step, values in points:
        if step >= milestone:
            return values
    return None


def moasha_stops(histories: VectorHistories, running: Sequence[Any], modes: Sequence[str],
                 rule: AshaRule = AshaRule(), state: AshaState | None = None) -> list[Stop]:
    """The running trials to stop now, judged on several objectives at once.

    A history is a trial's [(step, (value of each objective))], the steps at which it reported every objective.
    The rungs and max_t are ASHA's (`rule`). On reaching a rung (the highest since it was last judged), a trial is
    placed among the vectors every trial had at that rung, itself included: by non-dominated sorting (its front),
    then, inside a front, by crowding distance (a point in a sparser part of the front first: the front's extremes
    come first). It continues when fewer than ceil(n / reduction_factor) vectors are strictly ahead of it (a tie
    continues, as in ASHA; the first to reach a rung continues). A trial's own NaN is the worst value on that
    objective, and a trial with one is behind every other; another trial's non-finite vector does not count.
    With one objective the order is ASHA's (the cutoff counts trials rather than interpolating a percentile).

    The Stop's value is the trial's position (vectors ahead of it) and its threshold the number allowed ahead."""
    for mode in modes:
        check_mode(mode)
    if rule.grace_period <= 0 or rule.reduction_factor <= 1:
        raise ValueError("moasha needs grace_period > 0 and reduction_factor > 1")
    from tuner.search.pareto import priority_order

    state = state if state is not None else AshaState()
    ordered = {t: sorted(p, key=lambda point: point[0]) for t, p in histories.items() if p}
    stops: list[Stop] = []
    for trial, points, milestone in _due_rungs(ordered, running, rule, state, stops,
                                               lambda t, p, m: Stop(t, "moasha:max_t", p[-1][0], p[-1][0], m)):
        mine = _cost_vector(_vector_at(points, milestone), modes)
        if mine is None:
            continue
        others = [cost for t, p in ordered.items() if t != trial
                  for cost in [_cost_vector(_vector_at(p, milestone), modes)]
                  if cost is not None and all(math.isfinite(c) for c in cost)]
        if not others:
            continue
        if all(math.isfinite(c) for c in mine):
            keys = priority_order([mine] + others)
            ahead = sum(1 for key in keys[1:] if key < keys[0])
        else:  # diverged on an objective: behind every trial that did not
            ahead = len(others)
        vectors = [mine] + others
        allowed = math.ceil(len(vectors) / rule.reduction_factor)
        if ahead >= allowed:
            stops.append(Stop(trial, "moasha", milestone, float(ahead), float(allowed)))
    return stops
