"""Pareto fronts of several objectives: which points no other beats on every objective, their order (non-dominated
sorting and crowding distance) and the hypervolume they cover.

Everything here works on *costs*: one tuple per point, smaller is better on every objective (a `max` objective is
negated by the caller: tuner.runs.ranking.Objectives.costs). Points are finite numbers; the callers leave out a run
without every objective (missing is not a value) and rank a diverged (NaN) one last. Pure functions of numbers, no
run or file: the sweep's views (tuner.runs.ranking, the report, `tune ls --pareto`), the stopping rule MOASHA
(tuner.search.stopping) and the dashboard share them.

`front_view(rows, objectives)` is the data a page draws: the front, each trial's costs and the hypervolume after
each trial against a stated reference point.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

Cost = Sequence[float]
#: the reference point's distance past the worst value of each objective, as a share of that objective's range
#: (pymoo and Optuna's plots use a nadir point pushed out the same way), so the front's extreme points count too
REFERENCE_MARGIN = 0.1


def dominates(a: Cost, b: Cost) -> bool:
    """`a` is at least as good as `b` on every objective and better on one."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def nondominated(costs: Sequence[Cost]) -> list[int]:
    """Indexes of the points no other point dominates, in the given order. Equal points do not dominate each
    other: both are on the front. O(n log n) for two objectives, O(n x front) beyond."""
    if not len(costs):
        return []
    points = np.asarray(costs, dtype=float)
    if points.ndim != 2:
        raise ValueError("costs must be a sequence of equal-length tuples")
    n, dims = points.shape
    if dims == 1:
        best = points[:, 0].min()
        return [i for i in range(n) if points[i, 0] == best]
    if dims == 2:
        # by the first objective, then the second: a point is on the front when its second cost is below every
        # earlier point's (strictly, except for an exact copy of the last point kept)
        order = np.lexsort((points[:, 1], points[:, 0]))
        kept: list[int] = []
        best_y = math.inf
        last: tuple[float, float] | None = None
        for i in order:
            x, y = points[i]
            if y < best_y:
                kept.append(int(i))
                best_y, last = y, (x, y)
            elif last is not None and (x, y) == last:
                kept.append(int(i))
        return sorted(kept)
    # beyond two: sorted by the sum of costs, a point can only be dominated by one before it, and only by one on the
    # front so far (domination is transitive)
    order = np.argsort(points.sum(axis=1), kind="stable")
    front: list[int] = []
    for i in order:
        p = points[i]
        if front:
            others = points[front]
            if bool(np.any(np.all(others <= p, axis=1) & np.any(others < p, axis=1))):
                continue
        front.append(int(i))
    return sorted(front)


def nondominated_ranks(costs: Sequence[Cost]) -> list[int]:
    """Each point's front: 0 for the non-dominated points, 1 for those only they dominate, and so on (NSGA-II's
    non-dominated sorting)."""
    ranks = [0] * len(costs)
    left = list(range(len(costs)))
    level = 0
    while left:
        front = nondominated([costs[i] for i in left])
        taken = {left[j] for j in front}
        for i in taken:
            ranks[i] = level
        left = [i for i in left if i not in taken]
        level += 1
    return ranks


def crowding_distance(costs: Sequence[Cost]) -> list[float]:
    """NSGA-II's crowding distance of each point of one front: the sum over objectives of the gap between its two
    neighbours, over the objective's range; the extreme points of each objective get infinity. A bigger distance
    is a point in a sparser part of the front."""
    n = len(costs)
    if n <= 2:
        return [math.inf] * n
    points = np.asarray(costs, dtype=float)
    distance = np.zeros(n)
    for m in range(points.shape[1]):
        order = np.argsort(points[:, m], kind="stable")
        low, high = points[order[0], m], points[order[-1], m]
        distance[order[0]] = distance[order[-1]] = math.inf
        if high == low:
            continue
        for k in range(1, n - 1):
            distance[order[k]] += (points[order[k + 1], m] - points[order[k - 1], m]) / (high - low)
    return [float(d) for d in distance]


def priority_order(costs: Sequence[Cost]) -> list[tuple[int, float]]:
    """Each point's (front, -crowding distance within its front): sorting by it puts the first front first and,
    inside a front, the points in its sparser parts first (the order MOASHA continues trials in)."""
    ranks = nondominated_ranks(costs)
    keys: list[tuple[int, float]] = [(r, 0.0) for r in ranks]
    for level in set(ranks):
        members = [i for i, r in enumerate(ranks) if r == level]
        for i, d in zip(members, crowding_distance([costs[i] for i in members])):
            keys[i] = (level, -d)
    return keys


def hypervolume(costs: Sequence[Cost], reference: Cost) -> float:
    """The volume dominated by the points and bounded by `reference` (every point's costs below it count; a point
    not better than the reference in every objective adds nothing). Exact: a sweep for two objectives, slices
    along the last objective beyond (fine for the fronts sweeps have; the cost grows as n^(d-1))."""
    ref = np.asarray(reference, dtype=float)
    points = np.asarray([c for c in costs if all(x < r for x, r in zip(c, ref))], dtype=float)
    if not len(points):
        return 0.0
    points = points[nondominated(points.tolist())]
    return _hv(points, ref)


def _hv(points: np.ndarray, ref: np.ndarray) -> float:
    dims = points.shape[1]
    if dims == 1:
        return float(ref[0] - points[:, 0].min())
    if dims == 2:
        order = np.argsort(points[:, 0], kind="stable")
        volume, best_y = 0.0, ref[1]
        for i in order:
            x, y = points[i]
            if y < best_y:
                volume += (ref[0] - x) * (best_y - y)
                best_y = y
        return float(volume)
    order = np.argsort(points[:, -1], kind="stable")
    volume = 0.0
    for k, i in enumerate(order):
        top = points[order[k + 1], -1] if k + 1 < len(order) else ref[-1]
        height = top - points[i, -1]
        if height <= 0:
            continue
        below = points[order[:k + 1], :-1]
        volume += height * _hv(below[nondominated(below.tolist())], ref[:-1])
    return float(volume)


def reference_point(costs: Sequence[Cost], margin: float = REFERENCE_MARGIN) -> tuple[float, ...]:
    """The worst cost of each objective pushed out by `margin` of its range (by `margin` of its size, or 1, when
    every point has the same value), so every point of the front adds to the hypervolume."""
    points = np.asarray(costs, dtype=float)
    worst, best = points.max(axis=0), points.min(axis=0)
    spread = worst - best
    pad = np.where(spread > 0, spread * margin, np.where(worst != 0, np.abs(worst) * margin, 1.0))
    return tuple(float(v) for v in worst + pad)


def hypervolume_history(costs: Sequence[Cost | None], reference: Cost) -> list[float]:
    """The hypervolume of the points up to each position (None: a position that adds no point, e.g. a failed or
    infeasible trial): the curve of a search's progress, in launch order."""
    history, front = [], np.empty((0, len(reference)))
    volume = 0.0
    ref = np.asarray(reference, dtype=float)
    for cost in costs:
        if cost is not None and all(x < r for x, r in zip(cost, ref)):
            p = np.asarray(cost, dtype=float)
            dominated = len(front) and bool(np.any(np.all(front <= p, axis=1)))
            if not dominated:
                front = np.vstack([front[~np.all(p <= front, axis=1)], p])
                volume = _hv(front, ref)
        history.append(volume)
    return history


def front_view(rows: Sequence[Mapping[str, Any]], objectives: Any) -> dict[str, Any]:
    """What a page draws of a multi-objective sweep: `rows` in launch order, `objectives` a
    tuner.runs.ranking.Objectives. Returns the front (row indexes), each row's costs and values (None without every
    objective), whether it is feasible, the reference point (in the objectives' own directions) and the
    hypervolume after each row (finished, feasible rows only)."""
    front = objectives.front(rows)
    candidates = set(objectives.candidates(rows))
    costs = [objectives.costs(row) if i in candidates else None for i, row in enumerate(rows)]
    known = [c for c in costs if c is not None]
    reference = reference_point(known) if known else None
    history = hypervolume_history(costs, reference) if reference is not None else []
    signs = [-1.0 if r.mode == "max" else 1.0 for r in objectives.rankings]
    return {"front": front, "values": [objectives.values(row) for row in rows],
            "feasible": [objectives.feasible(row) for row in rows],
            "reference": [s * v for s, v in zip(signs, reference)] if reference is not None else None,
            "hypervolume": history, "margin": REFERENCE_MARGIN}
