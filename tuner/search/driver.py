"""The sweep driver's side of search: ask the sampler for each launch, tell it each outcome, poll the live
metrics of running trials and stop the ones the rule condemns. Everything decided is journaled
(`ask`, `tell`, `stop` records), so a resumed sweep continues the same search.

The loop (tuner/sweep/loop.py) calls `flags_for` at launch, `launched`, `finished` when an outcome is final,
and `poll` between waits; the rule itself is a pure function (tuner.search.stopping).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence, cast

from tuner.errors import ConfigError, quoted
from tuner.store.journal import RecordKind
from tuner.store.layout import RunPaths
from tuner.store.status import RunStatus
from workers.files import atomic_write_text

if TYPE_CHECKING:
    from tuner.store.journal import Journal

from .pbt import PbtRule, explore, quantiles
from .promotion import Promotion, PromotionRule
from .samplers import COMPLETE, FAIL, PRUNED, check_objectives_sampler, check_sampler, make_sampler, tell_record
from .stopping import (
    WANDB_HYPERBAND,
    AshaRule,
    AshaState,
    HyperbandRule,
    MedianRule,
    asha_stops,
    hyperband_bands,
    hyperband_stops,
    median_stops,
    moasha_stops,
)

#: hyperband pauses trials at rungs and promotes the best (tuner.search.promotion); the others stop trials
RULES = ("median", "asha", "hyperband", "moasha", WANDB_HYPERBAND)
PROMOTING = "hyperband"
#: the rules that judge several objectives at once (the others judge one metric)
MULTI_OBJECTIVE_RULES = ("moasha",)
#: `--search pbt`: its scheduler takes the stopping rule's place (one StopConfig, rule "pbt", in the journal header)
PBT = "pbt"
#: seconds between two reads of the running trials' metrics: a trial is judged at most this late after a step
POLL_S = 0.02


@dataclass(frozen=True)
class StopConfig:
    """`--stop median|asha|hyperband|wandb-hyperband` and its options (Ray Tune's names and defaults where it has them).

    hyperband (pause and promote): grace_period is the first rung's budget, reduction_factor eta, max_t the most
    budget a trial gets, brackets Hyperband's brackets (1: ASHA), budget_flag the flag that carries the budget (None:
    the step the script reports). wandb-hyperband (W&B's early_terminate, a stopping rule): grace_period is W&B's
    min_iter, reduction_factor its eta, max_t with brackets its max_iter with s (these two win when both are given,
    as in W&B), strict its strict."""

    rule: str
    grace_period: float = 1
    reduction_factor: float = 3
    max_t: float | None = None
    min_trials: int = 3
    brackets: int | None = None
    strict: bool = True
    budget_flag: str | None = None
    #: --search pbt: every this many steps the bottom quantile exploits the top one (tuner.search.pbt)
    perturbation_interval: float | None = None
    quantile_fraction: float = 0.25
    resample_probability: float = 0.25

    def to_source(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def promotes(self) -> bool:
        return self.rule == PROMOTING

    def pbt(self) -> PbtRule:
        return PbtRule(float(self.perturbation_interval or 1), self.quantile_fraction, self.resample_probability)

    def promotion(self) -> PromotionRule:
        return PromotionRule(self.grace_period, self.reduction_factor, float(self.max_t or 0), self.brackets or 1)

    def hyperband(self) -> HyperbandRule:
        use_max = self.max_t is not None and self.brackets is not None
        bands = hyperband_bands(self.reduction_factor, None if use_max else int(self.grace_period),
                                int(self.max_t) if use_max and self.max_t is not None else None, self.brackets)
        return HyperbandRule(bands, self.reduction_factor, self.strict)


def check_pbt(perturbation_interval: Any = None, quantile_fraction: Any = None,
              resample_probability: Any = None) -> StopConfig:
    """`--search pbt`'s scheduler settings, validated; every problem in one ConfigError."""
    problems = []
    values: dict[str, Any] = {}
    if perturbation_interval is None:
        problems.append("--search pbt needs --perturbation-interval STEPS (how often the population is compared)")
    for name, value, low, high in (("perturbation_interval", perturbation_interval, 0, math.inf),
                                   ("quantile_fraction", quantile_fraction, 0, 0.5),
                                   ("resample_probability", resample_probability, -1e-12, 1)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high:
            bounds = "a number > 0" if high == math.inf else f"a number in ({max(low, 0):g}, {high:g}]"
            problems.append(f"--{name.replace('_', '-')} must be {bounds}, got {value!r}")
            continue
        values[name] = value
    if problems:
        raise ConfigError("; ".join(problems))
    return StopConfig(PBT, **values)


def check_stop(rule: str | None, grace_period: Any = None, reduction_factor: Any = None, max_t: Any = None,
               min_trials: Any = None, brackets: Any = None, strict: Any = None,
               budget_flag: Any = None, perturbation_interval: Any = None, quantile_fraction: Any = None,
               resample_probability: Any = None) -> StopConfig | None:
    """A validated stopping rule, None without `rule`; every problem in one ConfigError."""
    pbt_given = [n for n, v in (("perturbation-interval", perturbation_interval), ("quantile-fraction",
                 quantile_fraction), ("resample-probability", resample_probability)) if v is not None]
    if pbt_given:
        raise ConfigError(f"--{pbt_given[0]} applies to --search pbt")
    if rule is None:
        given = [n for n, v in (("grace-period", grace_period), ("reduction-factor", reduction_factor),
                                ("max-t", max_t), ("min-trials", min_trials), ("brackets", brackets),
                                ("strict", strict), ("budget-flag", budget_flag)) if v is not None]
        if given:
            raise ConfigError(f"--{given[0]} applies to a stopping rule; add --stop median, asha or hyperband")
        return None
    if rule not in ("hyperband", WANDB_HYPERBAND) and brackets is not None:
        raise ConfigError("--brackets applies to --stop hyperband or wandb-hyperband")
    if rule != WANDB_HYPERBAND and strict is not None:
        raise ConfigError("--strict applies to --stop wandb-hyperband (W&B's early_terminate)")
    if rule != PROMOTING and budget_flag is not None:
        raise ConfigError("--budget-flag applies to --stop hyperband (the flag that gives a trial its budget)")
    if budget_flag is not None and (not isinstance(budget_flag, str) or not budget_flag):
        raise ConfigError(f"--budget-flag must be a flag name, got {budget_flag!r}")
    if rule == PROMOTING and max_t is None:
        raise ConfigError("--stop hyperband needs --max-t: the most budget (steps, or the --budget-flag's value) a "
                          "trial gets, e.g. --max-t 27")
    if strict is not None and not isinstance(strict, bool):
        raise ConfigError(f"strict must be true or false, got {quoted(strict)}")
    problems = []
    if rule not in RULES:
        raise ConfigError(f"--stop: unknown rule {quoted(rule)}, expected one of {', '.join(RULES)}")
    values: dict[str, Any] = {}
    for name, value, low, integer in (("grace_period", grace_period, 0, False),
                                      ("reduction_factor", reduction_factor, 1, False),
                                      ("max_t", max_t, 0, False), ("min_trials", min_trials, 0, True),
                                      ("brackets", brackets, 0, True)):
        if value is None:
            continue
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and (
            value > low if name != "min_trials" else value >= low) and (not integer or float(value).is_integer())
        if not ok:
            word = {"reduction_factor": "a number > 1", "min_trials": "a whole number >= 0",
                    "brackets": "a whole number > 0"}.get(name, "a number > 0")
            problems.append(f"--{name.replace('_', '-')} must be {word}, got {quoted(value)}")
            continue
        values[name] = int(value) if integer else value
    if problems:
        raise ConfigError("; ".join(problems))
    if strict is not None:
        values["strict"] = strict
    if budget_flag is not None:
        values["budget_flag"] = budget_flag
    config = StopConfig(rule, **values)
    if config.promotes:
        try:
            config.promotion()
        except ValueError:
            raise ConfigError(f"--stop hyperband: --grace-period ({config.grace_period:g}) must be at most --max-t "
                              f"({config.max_t:g})") from None
    if rule == WANDB_HYPERBAND:
        if not float(config.grace_period).is_integer() or (config.max_t is not None and not float(
                config.max_t).is_integer()):
            raise ConfigError("--stop hyperband counts reported values: --grace-period (min_iter) and --max-t "
                              "(max_iter) must be whole numbers")
        try:
            config.hyperband()
        except ValueError as exc:
            raise ConfigError(f"--stop hyperband: {exc}") from None
    return config


def objectives_stop(stop: StopConfig | None, metrics: int) -> StopConfig | None:
    """The rule for a sweep of `metrics` objectives: ASHA with several metrics is MOASHA (ASHA is MOASHA's case of
    one objective: a non-dominated sort of single values is their order), and MOASHA with one metric is ASHA, so the
    journal names the rule that ran; median and hyperband judge one metric, and say so."""
    if stop is None:
        return None
    if metrics > 1 and stop.rule == "asha":
        return replace(stop, rule="moasha")
    if metrics <= 1 and stop.rule == "moasha":
        return replace(stop, rule="asha")
    if metrics > 1 and stop.rule not in MULTI_OBJECTIVE_RULES:
        raise ConfigError(f"--stop {stop.rule} judges one metric, and this sweep has {metrics} (--metric); with "
                          "several objectives use --stop moasha (or asha, the same rule)")
    return stop


def stop_from_source(source: Mapping[str, Any] | None) -> StopConfig | None:
    """The rule a journal header recorded. Headers written before `hyperband` meant pause and promote (no
    budget_flag key) named W&B's stopping rule so: read as wandb-hyperband."""
    if not source:
        return None
    values = dict(source)
    if values.get("rule") == PROMOTING and "budget_flag" not in values:
        values["rule"] = WANDB_HYPERBAND
    return StopConfig(**values)


def read_history(run_dir: str, metric: str, cache: dict[str, Any] | None = None) -> list[tuple[float, float]]:
    """(step, value) of `metric` in each closed step so far: from tuner.d/metrics.jsonl when the script writes it
    (log_metrics, the Keras callback) or once the run is settled, else from printed_metrics.jsonl, the rows the live
    parse of its printed lines has closed (never output.log itself: the line hook parses it once). A step without
    the metric is not in the history (missing is not NaN); other names never count. Read again only when the file
    changed."""
    return _closed_steps(run_dir, lambda row: _number(row.get(metric)), cache)


def read_vector_history(run_dir: str, metrics: Sequence[str],
                        cache: dict[str, Any] | None = None) -> list[tuple[float, tuple[float, ...]]]:
    """(step, (value of each metric)) of each closed step that reported every one of `metrics` (read_history's
    rows and rules: a step without one of them is not in the history); what MOASHA judges."""
    def values(row: Mapping[str, Any]) -> tuple[float, ...] | None:
        numbers = [_number(row.get(metric)) for metric in metrics]
        return None if any(n is None for n in numbers) else tuple(n for n in numbers if n is not None)

    return _closed_steps(run_dir, values, cache)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _closed_steps(run_dir: str, pick: Callable[[Mapping[str, Any]], Any],
                  cache: dict[str, Any] | None) -> list[tuple[float, Any]]:
    """(step, pick(row)) of each closed row whose pick is not None, read again only when the file changed (`cache`:
    one per reader, by run folder; a row without a step is numbered by its place)."""
    path = RunPaths(run_dir).live_metrics_jsonl
    try:
        stat = os.stat(path)
    except OSError:
        return []
    key = (path, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if cache is not None and cache.get(run_dir, (None,))[0] == key:
        return cast("list[tuple[float, Any]]", cache[run_dir][1])
    from tuner.store.files import read_metric_lines

    history = []
    for number, row in enumerate(read_metric_lines(path)[0], start=1):
        value = pick(row)
        if value is None:
            continue
        step = _number(row.get("step", number))
        history.append((step if step is not None else float(number), value))
    if cache is not None:
        cache[run_dir] = (key, history)
    return history


class SearchDriver:
    """Sampler + stopping rule of one sweep, with their journal records. With several objectives
    (`request.metrics`), histories are vectors (one value per metric) and the sampler is told one value each."""

    def __init__(self, request: Any, journal: Journal, runs_dir: str) -> None:
        """`request`: the sweep's SweepRequest (not named here: tuner.sweep.prepare imports this module's checks)."""
        self.request, self.journal = request, journal
        self.metric, self.mode = request.metric, request.mode
        self.metrics: tuple[str, ...] = tuple(getattr(request, "metrics", ()) or ((request.metric,) if request.metric
                                                                                 else ()))
        self.modes: tuple[str, ...] = tuple(getattr(request, "modes", ()) or (request.mode,))
        self.multi = len(self.metrics) > 1
        self.constraints: tuple[Any, ...] = tuple(getattr(request, "constraints", ()) or ())
        self.stop: StopConfig | None = request.stop
        space = request.plan.grid
        self.sampler = make_sampler(check_sampler(request.search), space, self.modes if self.multi else self.mode,
                                    constrained=bool(self.constraints)) if request.search not in ("random", PBT) else None
        self.asked: dict[int, dict[str, Any]] = {}    # trial -> flags asked (this run and journaled)
        self.live: dict[int, str] = {}                # running trial -> its run_dir
        self.histories: dict[int, list[Any]] = {}  # every trial's metric (a vector with several) so far, final when done
        self.stopped: dict[int, float] = {}           # trial -> step it was stopped at
        self.asha = AshaState()
        self._cache: dict[str, Any] = {}
        self._next_poll = 0.0
        self._hyperband: HyperbandRule | None = None
        self.runs_dir = runs_dir
        #: --stop hyperband: trials paused at rungs and promoted (tuner.search.promotion); None for the other rules
        self.promotion = Promotion(self.stop.promotion(), self.mode) if self.stop is not None and self.stop.promotes \
            else None
        self.pausing: set[int] = set()  # trials asked to pause whose run has not ended yet
        #: --search pbt (tuner.search.pbt): each trial's segment, its flags since then, the population's latest values
        self.pbt = self.stop.pbt() if self.stop is not None and self.stop.rule == PBT else None
        self.pbt_rng = random.Random(f"{getattr(request.plan.grid, 'seed', 0)}:pbt:{journal.sweep_id}")
        self.segments: dict[int, int] = {}
        self.segment_flags: dict[int, dict[str, Any]] = {}
        self.donors: dict[int, int] = {}
        self.latest: dict[int, tuple[float, float]] = {}
        self.next_perturb: dict[int, float] = {}
        self.exploits_due: dict[int, tuple[int, float]] = {}  # receiver -> (donor, step): paused, not copied yet
        self.relaunch: list[int] = []  # trials that exploited: their next segment is to run
        if request.resumed:
            self._restore(runs_dir)

    def _restore(self, runs_dir: str) -> None:
        state = self.journal.read()
        # the schedulers' own records too (--stop hyperband: rung, promote; --search pbt: pbt-pause, exploit ...)
        for record in state.of(RecordKind.ASK, RecordKind.STOP, RecordKind.OUTCOME, RecordKind.RUNG,
                               RecordKind.PROMOTE, RecordKind.PBT_PAUSE, RecordKind.EXPLOIT,
                               RecordKind.EXPLOIT_SKIPPED):
            kind = RecordKind.of(record)
            if kind is RecordKind.ASK:
                self.asked[record["trial"]] = record["flags"]
            elif kind is RecordKind.STOP:
                self.stopped[record["trial"]] = record["step"]
            elif RunStatus.parse(record.get("status")) in (RunStatus.FINISHED, RunStatus.STOPPED) and self.metrics:
                self.histories[record["trial"]] = self._history(os.path.join(runs_dir, record["run"]))
            if self.promotion is not None:
                self.promotion.replay(record)
            if self.pbt is not None:
                self._replay_pbt(record)
        if self.pbt is not None:  # paused for an exploit the dead driver never made: make it now
            for index in list(self.exploits_due):
                self._exploit(index)
        if self.sampler is not None:
            self.sampler.restore(state.records)

    def _history(self, run_dir: str, cache: dict[str, Any] | None = None) -> Any:
        """The trial's metric so far: (step, value), or (step, values) with several objectives."""
        if self.multi:
            return read_vector_history(run_dir, self.metrics, cache)
        return read_history(run_dir, self.metrics[0], cache)

    # -- launch and outcome
    def flags_for(self, index: int) -> dict[str, Any]:
        """The flags of trial `index`: asked from the sampler once; a relaunch (retry, resume) reuses them. With
        --stop hyperband --budget-flag NAME, NAME is the budget of the rung the trial runs to."""
        if index in self.segment_flags:  # PBT: the flags of the trial's current segment
            return dict(self.segment_flags[index])
        flags = self._flags(index)
        if self.promotion is not None and self.stop is not None:
            place = self.promotion.start(index)
            if place.paused:  # a run paused while its driver died, run again by resume: it pauses there again
                place.paused = False
                self.promotion.results.get((place.bracket, place.rung), {}).pop(index, None)
            if self.stop.budget_flag:
                budget = self.promotion.budget(index)
                flags = {**flags, self.stop.budget_flag: int(budget) if float(budget).is_integer() else budget}
        return flags

    def _flags(self, index: int) -> dict[str, Any]:
        if self.sampler is None:
            return self.request.plan.grid.combination(index)
        known = self.asked.get(index)
        flags = self.sampler.ask(index, known)
        if known is None:
            self.asked[index] = flags
            self.journal.append(RecordKind.ASK, {**self.sampler.ask_record(index, flags), "time": time.time()})
        return flags

    def launched(self, index: int, run_dir: str) -> None:
        self.live[index] = run_dir
        self.histories.pop(index, None)
        self.asha.judged.pop(index, None)
        self.pausing.discard(index)
        self.exploits_due.pop(index, None)  # a decision about an earlier run (resume reran the trial instead)

    def run_fields(self, index: int) -> dict[str, Any]:
        """What the trial's next run records beside its identity: its PBT segment and the donor it came from."""
        if self.pbt is None or not self.segments.get(index):
            return {}
        return {"segment": self.segments[index], "donor": self.donors.get(index)}

    def finished(self, index: int, status: str, value: float | None, row: Mapping[str, Any] | None = None) -> str:
        """A trial's final outcome: keep its whole history for the rule, tell the sampler (and journal it).
        `row` is the run's row (tuner.runs.aggregate.run_row): each objective's value and the constraints' metrics
        are read from it. Returns the status to record: `paused` for a --budget-flag trial that ran its rung's
        budget below the last."""
        run_dir = self.live.pop(index, None)
        if run_dir is not None and self.metrics:
            self.histories[index] = self._history(run_dir)
        if self.promotion is not None:
            status = self._settle_rung(index, status, value, run_dir)
            if status == RunStatus.PAUSED.value:
                return status
        if self.pbt is not None and status == RunStatus.PAUSED.value:
            if index in self.exploits_due:
                self._exploit(index)
            return status
        if self.pbt is not None:
            self.exploits_due.pop(index, None)  # it ended before the pause reached it: nothing to exploit
        if self.sampler is None:
            return status
        parsed = RunStatus.parse(status)
        state = COMPLETE if parsed is RunStatus.FINISHED else PRUNED if parsed is RunStatus.STOPPED else FAIL
        history = self.histories.get(index, [])
        told: Any = value
        if self.multi:
            from tuner.runs.ranking import metric_value

            told = [metric_value(row or {}, m) for m in self.metrics]
            if state == PRUNED and any(v is None for v in told) and history:
                told = list(history[-1][1])
        elif state == PRUNED and value is None and history:
            told = history[-1][1]
        constraints = [c.violation(row or {}) for c in self.constraints] if self.constraints else None
        self.sampler.tell(index, told, state, history, constraints)
        self.journal.append(RecordKind.TELL,
                            {**tell_record(index, told, state, history, constraints), "time": time.time()})
        return status

    # -- pause and promote (--stop hyperband)
    def _settle_rung(self, index: int, status: str, value: float | None, run_dir: str | None) -> str:
        """What a run's end means to the scheduler: a --budget-flag run that finished reached its rung (paused there
        unless it is the last); a run that ended by itself is done (never promoted, even if a pause was asked)."""
        assert self.promotion is not None and self.stop is not None
        place = self.promotion.places.get(index)
        self.pausing.discard(index)
        if place is None or status == RunStatus.PAUSED.value:
            return status
        if status == RunStatus.FINISHED.value and self.stop.budget_flag and not place.paused:
            step = self.histories.get(index, [(None, None)])[-1][0] if self.histories.get(index) else None
            if self._reached(index, value, step) and run_dir is not None:
                from tuner.store.files import write_run_status

                write_run_status(run_dir, RunStatus.PAUSED, paused_at=self.promotion.rule.rungs(place.bracket)[
                    place.rung])
                return RunStatus.PAUSED.value
        if status == RunStatus.FINISHED.value and not self.stop.budget_flag and self.promotion.is_last_rung(index) \
                and index not in self.promotion.results.get((place.bracket, place.rung), {}):
            # it ended before a poll saw its last rung's step: its value there still counts for the rung
            budget = self.promotion.budget(index)
            point = next(((s, v) for s, v in sorted(self.histories.get(index, ())) if s >= budget), None)
            if point is not None:
                self._reached(index, point[1], point[0])
        place.paused = False  # over: a trial that ended by itself, failed, or was stopped is never promoted
        place.rung = len(self.promotion.rule.rungs(place.bracket)) - 1
        return status

    def _reached(self, index: int, value: float | None, step: float | None) -> bool:
        """The trial reached its rung's budget with `value` (journaled); True when it is to pause there."""
        assert self.promotion is not None
        place = self.promotion.places[index]
        bracket, rung, budget = place.bracket, place.rung, self.promotion.budget(index)
        pause = self.promotion.reached(index, value)
        self.journal.append(RecordKind.RUNG, {"trial": index, "bracket": bracket, "rung": rung, "budget": budget,
                             "step": step, "value": _finite_or_none(value) if value is not None else None,
                             "pause": pause, "time": time.time()})
        return pause

    def _poll_promotion(self) -> list[int]:
        """Step budgets: a running trial whose metrics reached its rung's step is paused there (SIGTERM, its
        checkpoint, exit), unless the rung is its last. --budget-flag runs end at their budget by themselves."""
        assert self.promotion is not None and self.stop is not None and self.metric is not None
        if self.stop.budget_flag:
            return []
        paused = []
        for index, run_dir in self.live.items():
            place = self.promotion.places.get(index)
            if index in self.pausing or place is None or place.paused or \
                    index in self.promotion.results.get((place.bracket, place.rung), {}):
                continue  # asked to pause already, or its rung (the last) recorded: it runs to its end
            budget = self.promotion.budget(index)
            history = read_history(run_dir, self.metric, self._cache)
            point = next(((step, value) for step, value in sorted(history) if step >= budget), None)
            if point is None:
                continue
            if not self._reached(index, point[1], point[0]):
                continue  # the last rung: the trial runs to its end
            reason = (f"hyperband: paused at rung {place.rung} (budget {budget:g}): {self.metric} {point[1]:.4g} at "
                      f"step {point[0]:g}")
            atomic_write_text(RunPaths(run_dir).stop_request, json.dumps(
                {"reason": reason, "rule": PROMOTING, "pause": True, "step": point[0], "time": time.time()}))
            self.pausing.add(index)
            paused.append(index)
        return paused

    def next_promotion(self) -> int | None:
        """The paused trial to run next (PBT: one that exploited, its new segment; hyperband: moved to its next
        rung, journaled), None when none is due."""
        for waiting in self.relaunch:
            if waiting not in self.live:
                self.relaunch.remove(waiting)
                return waiting
        if self.promotion is None:
            return None
        index: int | None = self.promotion.next_promotion(busy=self.pausing | set(self.live))
        if index is not None:
            place = self.promotion.places[index]
            self.journal.append(RecordKind.PROMOTE, {"trial": index, "bracket": place.bracket, "rung": place.rung - 1,
                                 "budget": self.promotion.budget(index), "time": time.time()})
        return index

    # -- population based training (--search pbt)
    def _checkpoint(self, index: int) -> str:
        from tuner.store.layout import TrialPaths

        return TrialPaths.of(self.journal.folder, index).checkpoint

    def _poll_pbt(self) -> list[int]:
        """Each running trial past its next perturbation step is ranked among the population's latest values; one in
        the bottom quantile is paused to exploit a top one that has saved a checkpoint."""
        from tuner.store.checkpoints import checkpoint_time, has_checkpoint

        assert self.pbt is not None and self.metric is not None
        for index, run_dir in self.live.items():
            history = read_history(run_dir, self.metric, self._cache)
            if history:
                self.latest[index] = max(history)
        decided = []
        for index in list(self.live):
            if index in self.pausing or index not in self.latest:
                continue
            step = self.latest[index][0]
            if step < self.next_perturb.get(index, self.pbt.interval):
                continue
            self.next_perturb[index] = (math.floor(step / self.pbt.interval) + 1) * self.pbt.interval
            bottom, top = quantiles({t: v for t, (_s, v) in self.latest.items()}, self.mode, self.pbt.quantile)
            if index not in bottom:
                continue
            own = checkpoint_time(self._checkpoint(index))
            # a donor that has saved, and still can save a newer checkpoint than ours by the time we have paused (it
            # runs), or already has one (a trial that has ended keeps its last): no pause that cannot end in an exploit
            donors = [t for t in top if t != index and has_checkpoint(self._checkpoint(t)) and (
                t in self.live or own is None or (checkpoint_time(self._checkpoint(t)) or 0.0) > own)]
            if not donors:  # never a donor that has not saved (Ray Tune #27170)
                self.journal.append(RecordKind.EXPLOIT_SKIPPED, {"trial": index, "step": step, "top": top,
                                     "reason": "no trial of the top quantile has saved a checkpoint (that is, or "
                                               "can become, newer than the trial's own)",
                                     "time": time.time()})
                continue
            donor = self.pbt_rng.choice(sorted(donors))
            reason = f"pbt: in the bottom quantile at step {step:g}; continues from trial {donor}'s checkpoint"
            atomic_write_text(RunPaths(self.live[index]).stop_request, json.dumps(
                {"reason": reason, "rule": PBT, "pause": True, "step": step, "time": time.time()}))
            self.pausing.add(index)
            self.exploits_due[index] = (donor, step)
            self.journal.append(RecordKind.PBT_PAUSE, {"trial": index, "donor": donor, "step": step,
                                 "time": time.time()})
            decided.append(index)
        return decided

    def _exploit(self, index: int) -> None:
        """The paused receiver takes the donor's newest checkpoint and its flags, perturbed: a new segment."""
        from tuner.store.checkpoints import checkpoint_time, copy_newest
        from tuner.store.layout import TrialPaths
        from workers.files import append_json_line

        assert self.pbt is not None
        donor, step = self.exploits_due.pop(index)
        donor_flags = self.segment_flags.get(donor) or self._flags(donor)
        old_flags = self.segment_flags.get(index) or self._flags(index)
        theirs, own = checkpoint_time(self._checkpoint(donor)), checkpoint_time(self._checkpoint(index))
        # the donor's newest checkpoint, and only if it is newer than the receiver's own (saved when it paused): an
        # older one would lose to it or set the trial back (Ray Tune #28509); then the trial goes on as it was
        if theirs is None or (own is not None and theirs <= own) or \
                not copy_newest(self._checkpoint(donor), self._checkpoint(index)):
            self.journal.append(RecordKind.EXPLOIT_SKIPPED, {"trial": index, "step": step, "top": [donor],
                                 "reason": "the donor's newest checkpoint is not newer than the trial's own",
                                 "time": time.time()})
            self.relaunch.append(index)
            return
        flags = explore(donor_flags, self.request.plan.grid, self.pbt_rng, self.pbt.resample)
        segment = self.segments.get(index, 0) + 1
        self.segments[index], self.segment_flags[index], self.donors[index] = segment, flags, donor
        donor_step = self.latest.get(donor, (step, None))[0]
        self.latest[index] = self.latest.get(donor, self.latest.get(index, (step, math.nan)))
        self.next_perturb[index] = (math.floor(donor_step / self.pbt.interval) + 1) * self.pbt.interval
        record = {"trial": index, "segment": segment, "step": step, "donor": donor,
                  "donor_step": donor_step, "flags": flags, "old_flags": old_flags, "donor_flags": donor_flags,
                  "time": time.time()}
        self.journal.append(RecordKind.EXPLOIT, record)
        append_json_line(TrialPaths.of(self.journal.folder, index).lineage_jsonl,
                         {"type": RecordKind.EXPLOIT.value, **record})
        self.relaunch.append(index)

    def _replay_pbt(self, record: Mapping[str, Any]) -> None:
        kind, index = RecordKind.of(record), record.get("trial")
        if not isinstance(index, int):
            return
        if kind is RecordKind.PBT_PAUSE:
            self.exploits_due[index] = (int(record["donor"]), float(record["step"]))
        elif kind is RecordKind.EXPLOIT:
            self.exploits_due.pop(index, None)
            self.segments[index] = int(record["segment"])
            self.segment_flags[index] = dict(record["flags"])
            self.donors[index] = int(record["donor"])
            if index not in self.relaunch:
                self.relaunch.append(index)
        elif kind is RecordKind.OUTCOME and index in self.relaunch \
                and record.get("status") not in ("killed", "lost", "paused"):
            # the new segment ran (a lost one runs again; `paused` is the run before the exploit, logged late by
            # resume when its driver died first, or a later pause, which a later exploit record follows)
            self.relaunch.remove(index)
        elif kind is RecordKind.OUTCOME and record.get("status") in ("killed", "lost"):
            self.exploits_due.pop(index, None)  # its run never paused: resume reruns the trial

    def end_promotions(self) -> list[int]:
        """The sweep is over: trials still paused were never promoted; each one's last run ends `stopped`."""
        if self.promotion is None:
            return []
        from tuner.store.checkpoints import launched_runs
        from tuner.store.files import read_mapping, write_run_status
        from tuner.store.layout import TrialPaths

        ended = []
        for index in self.promotion.paused():
            runs = launched_runs(TrialPaths.of(self.journal.folder, index))
            run_dir = os.path.join(self.runs_dir, str(runs[-1]["run"])) if runs else None
            if run_dir is None or read_mapping(RunPaths(run_dir).run_json).get("status") != RunStatus.PAUSED.value:
                continue
            place = self.promotion.places[index]
            place.paused = False
            write_run_status(run_dir, RunStatus.STOPPED, stopped_at=self.promotion.budget(index))
            self.journal.append(RecordKind.STOP, {"trial": index, "rule": PROMOTING, "step": self.promotion.budget(index),
                                 "reason": "not promoted", "time": time.time()})
            ended.append(index)
        return ended

    # -- early stopping
    def poll(self, force: bool = False) -> list[int]:
        """Read the running trials' metrics and ask the runner of each condemned one to stop; returns them."""
        if self.stop is None or not self.live or not self.metrics:
            return []
        now = time.monotonic()
        if not force and now < self._next_poll:
            return []
        self._next_poll = now + POLL_S
        if self.promotion is not None:
            return self._poll_promotion()
        if self.pbt is not None:
            return self._poll_pbt()
        histories = dict(self.histories)
        for index, run_dir in self.live.items():
            histories[index] = self._history(run_dir, self._cache)
        running = [i for i in self.live if i not in self.stopped]
        if self.stop.rule == "moasha":
            rule = AshaRule(self.stop.grace_period, self.stop.reduction_factor, self.stop.max_t)
            stops = moasha_stops(histories, running, self.modes, rule, self.asha)
        elif self.stop.rule == "median":
            stops = median_stops(histories, running, self.mode, MedianRule(self.stop.grace_period, self.stop.min_trials))
        elif self.stop.rule == WANDB_HYPERBAND:
            if self._hyperband is None:
                self._hyperband = self.stop.hyperband()
            stops = hyperband_stops(histories, running, self.mode, self._hyperband)
        else:
            rule = AshaRule(self.stop.grace_period, self.stop.reduction_factor, self.stop.max_t)
            stops = asha_stops(histories, running, self.mode, rule, self.asha)
        for stop in stops:
            decided = time.time()
            where = f"its report {stop.step:g}" if stop.rule == WANDB_HYPERBAND else f"step {stop.step:g}"
            if stop.rule == "moasha":
                reason = (f"moasha: ({', '.join(self.metrics)}) at {where}: {stop.value:g} trials ahead of it by "
                          f"non-dominated sorting, at most {stop.threshold:g} continue")
            elif stop.rule == "moasha:max_t":
                reason = f"moasha: reached max_t {stop.threshold:g}"
            else:
                reason = f"{stop.rule}: {self.metric} {stop.value:.4g} at {where} is worse than {stop.threshold:.4g}"
            # the step the rule judged: the run keeps its metrics up to it (after_run), whatever the script printed
            # while the request was on its way
            step = judged_step(stop, histories.get(stop.trial, ()))
            atomic_write_text(RunPaths(self.live[stop.trial]).stop_request,
                              json.dumps({"reason": reason, "rule": stop.rule, "step": step, "time": decided}))
            self.stopped[stop.trial] = stop.step
            self.journal.append(RecordKind.STOP, {"trial": stop.trial, "rule": stop.rule, "step": stop.step,
                                                  "judged_step": step, "value": _finite_or_none(stop.value),
                                                  "threshold": _finite_or_none(stop.threshold), "time": decided})
        return [s.trial for s in stops]


def judged_step(stop: Any, history: Any) -> float:
    """The step of the value a rule judged: its `step`, except hyperband's, which counts reported values (W&B's
    iterations): the step of that report."""
    if stop.rule != WANDB_HYPERBAND:
        return float(stop.step)
    points = [p for p in sorted(history, key=lambda p: p[0]) if math.isfinite(p[1])]  # as the rule counts them
    index = int(stop.step) - 1
    return float(points[index][0]) if 0 <= index < len(points) else float(stop.step)


def _finite_or_none(value: float) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def check_search(search: str | None, grid: Any, stop: StopConfig | None, metric: str | Sequence[str] | None,
                 skip_done: bool) -> str:
    """`--search` against the plan: adaptive samplers need a space; stopping needs a metric; with several
    metrics, a sampler and a rule that take several objectives."""
    if search == PBT:
        if metric is None:
            raise ConfigError("--search pbt compares trials on a metric: add --metric NAME (and --mode min|max)")
        if not isinstance(metric, str) and len(list(metric)) > 1:
            raise ConfigError("--search pbt ranks its population on one metric; give one --metric")
        return PBT
    name = check_sampler(search or "random")
    metrics = [metric] if isinstance(metric, str) else list(metric or ())
    check_objectives_sampler(name, len(metrics))
    objectives_stop(stop, len(metrics))
    metric = metrics[0] if metrics else None
    problems = []
    if name != "random":
        if getattr(grid, "distributions", None) is None:
            problems.append(f"--search {name} needs a search space: give flags as distributions, e.g. "
                            "`lr: {loguniform: [1e-4, 1e-1]}`, and --num-samples N")
        if metric is None:
            problems.append(f"--search {name} learns from a metric: add --metric NAME (and --mode min|max)")
        if skip_done:
            problems.append(f"--skip-done does not apply to --search {name} (its points are not known in advance)")
    if stop is not None and metric is None:
        problems.append(f"--stop {stop.rule} judges a metric: add --metric NAME (and --mode min|max)")
    names = getattr(grid, "names", None)
    if stop is not None and stop.budget_flag and names is not None and stop.budget_flag not in names:
        problems.append(f"--budget-flag {stop.budget_flag}: the flags have no such flag; add it to them (each rung "
                        "gives it its budget)")
    if problems:
        raise ConfigError("; ".join(problems))
    if name != "random":  # before Ray starts: a missing Optuna is said in a second, not after the cluster's start
        from tuner.search.samplers import check_installed

        check_installed(name)
    return name
