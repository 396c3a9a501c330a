"""Pause and promote: asynchronous successive halving with promotion (ASHA, Li et al. 2020, "A System for Massively
Parallel Hyperparameter Tuning", Algorithm 2) with Hyperband's brackets on top (their asynchronous Hyperband: each new
trial goes to the next bracket in turn). Pure state and decisions: the sweep driver (tuner.search.driver) pauses a
trial that reached its rung's budget, records its value there, and asks for the next job when a slot frees.

Budget is the trial's step (the step of its metrics) or a flag of its own (`--budget-flag epochs`). Bracket s has
rungs r_min * eta^(s + k) below max_t, then max_t itself; a trial starts at its bracket's first rung. On a free slot,
`next_promotion` looks at every bracket's rungs from the top down and promotes the first paused trial in the top
floor(n / eta) of its rung (n: the trials that reached the rung) that was not promoted yet; none, and a new trial
starts. A trial at max_t is done. Nothing here reads files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Collection

from tuner.runs.ranking import check_mode


@dataclass(frozen=True)
class PromotionRule:
    """grace_period: r_min, the first rung's budget; reduction_factor: eta; max_t: the most budget a trial gets
    (its last rung); brackets: how many Hyperband brackets (1: plain ASHA)."""

    grace_period: float = 1
    reduction_factor: float = 3
    max_t: float = 81
    brackets: int = 1

    def __post_init__(self) -> None:
        if not self.reduction_factor > 1 or not self.grace_period > 0 or not self.max_t >= self.grace_period:
            raise ValueError(f"needs reduction_factor > 1 and 0 < grace_period <= max_t, got {self.reduction_factor}, "
                             f"{self.grace_period}, {self.max_t}")

    def rungs(self, bracket: int) -> tuple[float, ...]:
        """The budgets of bracket `bracket`'s rungs, ending with max_t."""
        budgets = []
        k = bracket
        while True:
            budget = self.grace_period * self.reduction_factor ** k
            if budget >= self.max_t * (1 - 1e-9):
                break
            budgets.append(_whole(budget))
            k += 1
        return (*budgets, _whole(self.max_t))

    def bracket_count(self) -> int:
        """Brackets that have more than one rung, at most `brackets` (Hyperband's s_max + 1)."""
        count = 1
        while count < self.brackets and len(self.rungs(count)) > 1:
            count += 1
        return count


def _whole(value: float) -> float:
    return float(round(value)) if abs(value - round(value)) < 1e-9 else value


@dataclass
class TrialPlace:
    """Where a trial is: its bracket, the rung it runs to (or is paused at), and whether it is paused there."""

    bracket: int
    rung: int
    paused: bool = False


@dataclass
class Promotion:
    """The scheduler's state: trials' places and each rung's recorded values."""

    rule: PromotionRule
    mode: str
    places: dict[Any, TrialPlace] = field(default_factory=dict)
    #: (bracket, rung) -> trial -> its value at that rung (NaN: none: the worst)
    results: dict[tuple[int, int], dict[Any, float]] = field(default_factory=dict)
    #: (bracket, rung) -> trials promoted from it
    promoted: dict[tuple[int, int], set[Any]] = field(default_factory=dict)
    #: trials promoted whose run has not started yet (a resumed driver relaunches them first)
    waiting: list[Any] = field(default_factory=list)
    _next_bracket: int = 0

    def __post_init__(self) -> None:
        check_mode(self.mode)

    # -- a trial's life
    def start(self, trial: Any) -> TrialPlace:
        """A new trial: the next bracket in turn, its first rung."""
        if trial not in self.places:
            count = self.rule.bracket_count()
            self.places[trial] = TrialPlace(self._next_bracket % count, 0)
            self._next_bracket += 1
        return self.places[trial]

    def budget(self, trial: Any) -> float:
        place = self.places[trial]
        return self.rule.rungs(place.bracket)[place.rung]

    def is_last_rung(self, trial: Any) -> bool:
        place = self.places[trial]
        return place.rung == len(self.rule.rungs(place.bracket)) - 1

    def reached(self, trial: Any, value: float | None) -> bool:
        """The trial reached its rung's budget with `value`: recorded; True when it is to pause there (a rung below
        the last), False when it is done (the last rung)."""
        place = self.places[trial]
        self.results.setdefault((place.bracket, place.rung), {})[trial] = _number(value)
        if self.is_last_rung(trial):
            return False
        place.paused = True
        return True

    def next_promotion(self, busy: Collection[Any] = ()) -> Any | None:
        """The paused trial to promote now (moved to its next rung), None when no rung has one to promote. `busy`:
        trials whose run has not ended yet (asked to pause, still saving): not promoted before it has."""
        for trial in self.waiting:
            if trial not in busy:
                self.waiting.remove(trial)
                return trial
        for bracket in range(self.rule.bracket_count()):
            rungs = self.rule.rungs(bracket)
            for rung in reversed(range(len(rungs) - 1)):
                trial = self._candidate(bracket, rung, busy)
                if trial is not None:
                    self.promote(trial)
                    return trial
        return None

    def promote(self, trial: Any) -> None:
        place = self.places[trial]
        self.promoted.setdefault((place.bracket, place.rung), set()).add(trial)
        place.rung += 1
        place.paused = False

    def _candidate(self, bracket: int, rung: int, busy: Collection[Any]) -> Any | None:
        values = self.results.get((bracket, rung), {})
        top = int(len(values) / self.rule.reduction_factor + 1e-9)
        if top < 1:
            return None
        ranked = sorted(values, key=lambda t: (-_score(values[t], self.mode), str(t)))
        done = self.promoted.get((bracket, rung), set())
        for trial in ranked[:top]:
            place = self.places.get(trial)
            if trial not in done and place is not None and place.paused and place.rung == rung and trial not in busy:
                return trial
        return None

    def paused(self) -> list[Any]:
        """Trials paused now (never promoted, if the sweep ends here)."""
        return [t for t, place in self.places.items() if place.paused]

    # -- replay (a resumed driver)
    def replay(self, record: dict[str, Any]) -> None:
        """Rebuild the state from the journal's `rung` and `promote` records, in order."""
        from tuner.store.journal import RecordKind

        trial, kind = record.get("trial"), RecordKind.of(record)
        if kind is RecordKind.RUNG:
            if trial not in self.places:
                self._next_bracket += 1  # brackets go on in turn after the trials already placed
            self.places[trial] = TrialPlace(int(record["bracket"]), int(record["rung"]))
            if trial in self.waiting:  # its promoted run reached the next rung
                self.waiting.remove(trial)
            self.reached(trial, record.get("value"))
        elif kind is RecordKind.PROMOTE:
            place = self.places.get(trial)
            if place is not None and place.rung == int(record["rung"]):
                self.promote(trial)
                self.waiting.append(trial)
        elif kind is RecordKind.STOP and record.get("reason") == "not promoted" and trial in self.places:
            self.places[trial].paused = False


def _number(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _score(value: float, mode: str) -> float:
    """Bigger is better; NaN is the worst."""
    if value != value:
        return -math.inf
    return -value if mode == "min" else value
