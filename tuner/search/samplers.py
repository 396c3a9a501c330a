"""Samplers: which flags the next trial of a space runs with, and what they learn from each outcome.

`random` draws from the space alone (no dependency, reproducible from the seed, trial by trial). `tpe`,
`nsga2`, `cmaes` and `gp` drive an Optuna study by ask-and-tell in the sweep driver; workers never see Optuna and
the core imports it only here, lazily, when such a sampler is chosen.

Several objectives (`--metric a --metric b`) make the study multi-objective (`directions=[...]`): TPE (Optuna's
default for several objectives), NSGA-II and GP take them, CMA-ES does not (one line says so). Constraints
(`--constraint`) reach the study as Optuna's constraints: each told trial carries the violations of its run (<= 0
kept; `Trial.set_constraint` in Optuna 5, a `constraints_func` in Optuna 4), which TPE, NSGA-II and GP use to prefer
feasible points.

Every ask and tell is a plain record (`ask_record` / `tell_record` give its fields) the sweep writes to its
journal (tuner.store.journal, kinds `ask` and `tell`); a resumed sweep replays them into a new in-memory study
(`restore`), so nothing finished is asked again and the study keeps everything it learned. Parallel asks never
propose a point that is pending or done: TPE runs with Optuna's constant liar, and for every sampler a repeated
point is told FAIL (marked `duplicate`) and replaced by a random draw of the space.
"""

from __future__ import annotations

import math
import random
from typing import Any, Mapping, Sequence

from tuner.errors import ConfigError, quoted
from tuner.store.journal import RecordKind, untold

from .space import QUANTILE_EPS, Distribution, SearchSpace

SAMPLERS = ("random", "tpe", "nsga2", "cmaes", "gp")
#: the samplers of an Optuna study with several objectives (`directions=[...]`)
MULTI_OBJECTIVE = ("random", "tpe", "nsga2", "gp")
COMPLETE, FAIL, PRUNED = "complete", "fail", "pruned"
#: the user attribute holding a trial's constraint violations, read by the study's constraints_func
CONSTRAINTS_ATTR = "tuner_constraints"
#: a constraint whose metric the run did not record: violated, by a finite amount (a GP models these numbers)
MISSING_VIOLATION = 1e12
#: NSGA-II's population (Optuna's default, 50) is cut to the budget so a sweep sees at least this many generations
NSGA2_GENERATIONS = 4


def check_sampler(name: str) -> str:
    if name not in SAMPLERS:
        raise ConfigError(f"search: unknown sampler {quoted(name)}, expected one of {', '.join(SAMPLERS)}")
    return name


def check_objectives_sampler(name: str, metrics: int) -> None:
    """CMA-ES optimizes one value: with several metrics it is one line naming the samplers that take them."""
    if metrics > 1 and name not in MULTI_OBJECTIVE:
        raise ConfigError(f"--search {name} optimizes one metric, and this sweep has {metrics} (--metric); for "
                          f"several objectives use --search {', '.join(n for n in MULTI_OBJECTIVE if n != 'random')} "
                          "or random")


def make_sampler(name: str, space: SearchSpace, mode: str | Sequence[str] = "max",
                 constrained: bool = False) -> "RandomSampler | OptunaSampler":
    """The sampler named by `--search`, for one mode or one mode per objective (`modes`); an adaptive one without
    Optuna installed is one ConfigError. `constrained`: the sweep has constraints (the study gets a
    constraints_func)."""
    check_sampler(name)
    modes = [mode] if isinstance(mode, str) else list(mode)
    check_objectives_sampler(name, len(modes))
    if name == "random":
        return RandomSampler(space)
    return OptunaSampler(name, space, modes, constrained)


class RandomSampler:
    """Trial `index` gets `space.combination(index)`: what it learns is nothing, what it draws is reproducible."""

    name = "random"

    def __init__(self, space: SearchSpace) -> None:
        self.space = space

    def ask(self, index: int, flags: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return dict(flags) if flags is not None else self.space.combination(index)

    def tell(self, index: int, value: Any, state: str = COMPLETE, history: Sequence[tuple[float, Any]] = (),
             constraints: Sequence[float] | None = None) -> None:
        pass

    def ask_record(self, index: int, flags: Mapping[str, Any]) -> dict[str, Any]:
        """The fields of the journal's `ask` record for trial `index`."""
        return {"trial": index, "sampler": self.name, "flags": dict(flags)}

    def restore(self, records: Sequence[Mapping[str, Any]]) -> list[int]:
        return untold(records)


def tell_record(index: int, value: Any, state: str, history: Sequence[tuple[float, Any]] = (),
                constraints: Sequence[float] | None = None) -> dict[str, Any]:
    """The fields of the journal's `tell` record for trial `index`: `value` a number, or a list with one per
    objective (None where the run has none); `constraints` the violations (None for a metric the run lacks: JSON
    has no infinity)."""
    record: dict[str, Any] = {"trial": index, "state": state,
                              "value": list(value) if isinstance(value, (list, tuple)) else value}
    if history:
        step, last = history[-1]
        record["last"] = [step, list(last) if isinstance(last, (list, tuple)) else last]
    if constraints is not None:
        record["constraints"] = [v if math.isfinite(v) else None for v in constraints]
    return record


def check_installed(name: str) -> None:
    """The packages sampler `name` needs are importable (one ConfigError naming the extra); they are imported,
    as the sweep will import them anyway."""
    _import_optuna(name)


def _finite_values(value: Any, objectives: int) -> list[float] | None:
    """A tell's value as the study takes it: one finite number per objective, else None (the trial FAILs)."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(values) != objectives or any(v is None or isinstance(v, bool) or not isinstance(v, (int, float))
                                        or not math.isfinite(v) for v in values):
        return None
    return [float(v) for v in values]


def _violations(constraints: Sequence[Any]) -> list[float]:
    return [float(v) if v is not None and math.isfinite(v) else MISSING_VIOLATION for v in constraints]


def _import_optuna(name: str) -> Any:
    try:
        import optuna
    except ImportError:
        raise ConfigError(f"--search {name} needs Optuna: pip install 'tuner-sweeps[search]'") from None
    if name == "cmaes":
        try:
            import cmaes  # noqa: F401
        except ImportError:
            raise ConfigError("--search cmaes needs the cmaes package: pip install 'tuner-sweeps[search]'") from None
    if name == "gp":
        try:
            import scipy  # noqa: F401
            import torch  # noqa: F401
        except ImportError:
            raise ConfigError("--search gp needs PyTorch and SciPy (Optuna's GPSampler): "
                              "pip install 'tuner-sweeps[search]' torch") from None
    if name == "nsga2" and not hasattr(optuna.samplers, "NSGAIISampler"):  # pragma: no cover - every Optuna 3+
        raise ConfigError("--search nsga2 needs Optuna's NSGAIISampler: pip install -U 'tuner-sweeps[search]'")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _read_constraints(trial: Any) -> list[float]:
    """The study's constraints_func: the violations the tell attached to the trial."""
    return list(trial.user_attrs.get(CONSTRAINTS_ATTR, [MISSING_VIOLATION]))


#: where Optuna's samplers keep a trial's constraint values (optuna.samplers._base._CONSTRAINTS_KEY): a replayed
#: trial is added with them, as the sampler's after_trial would have stored them
_CONSTRAINTS_KEY = "constraints"


class OptunaSampler:
    """An Optuna study driven by ask-and-tell; grid flags are fixed per trial (enqueued), distributions sampled."""

    def __init__(self, name: str, space: SearchSpace, mode: str | Sequence[str] = "max",
                 constrained: bool = False) -> None:
        optuna = self._optuna = _import_optuna(name)
        self.name, self.space = name, space
        modes = [mode] if isinstance(mode, str) else list(mode)
        self.objectives = len(modes)
        check_objectives_sampler(name, self.objectives)
        seed = space.seed
        options: dict[str, Any] = {"seed": seed}
        self.constrained = constrained
        # the violations each tell attaches to its trial (<= 0 is feasible): Optuna 5 reads them from the trial
        # (Trial.set_constraint; its constraints_func is deprecated), Optuna 4 through the constraints_func
        self._set_constraint = hasattr(optuna.trial.Trial, "set_constraint")
        if constrained and not self._set_constraint:
            options["constraints_func"] = _read_constraints
        if name == "tpe":
            sampler = optuna.samplers.TPESampler(constant_liar=True, **options)
        elif name == "nsga2":
            population = max(2, min(50, space.size // NSGA2_GENERATIONS))
            sampler = optuna.samplers.NSGAIISampler(population_size=population, **options)
        elif name == "cmaes":
            sampler = optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
        else:
            sampler = optuna.samplers.GPSampler(warn_independent_sampling=False, **options)
        self.study = optuna.create_study(sampler=sampler,
                                         directions=["minimize" if m == "min" else "maximize" for m in modes])
        self.distributions = {n: self._distribution(d) for n, d in space.distributions}
        for name_, values in zip(space.grid_names, space.grid_values):
            self.distributions[name_] = optuna.distributions.CategoricalDistribution(values)
        self._trials: dict[int, Any] = {}   # sweep trial index -> Optuna trial (pending)
        self._seen: set[tuple] = set()      # flags asked so far (pending or told)

    def _distribution(self, dist: Distribution) -> Any:
        d = self._optuna.distributions
        if dist.kind == "choice":  # a weighted choice's weights are its prior; Optuna's samplers take none
            return d.CategoricalDistribution(dist.choices)
        if dist.by_quantile:  # normal, log-normal, beta: the quantile in (0, 1) is searched, the flag is ppf(u)
            return d.FloatDistribution(QUANTILE_EPS, 1 - QUANTILE_EPS)
        if dist.kind == "int":
            step = int(dist.q) if dist.q and not dist.log else 1
            return d.IntDistribution(int(dist.low), int(dist.high) - 1, log=dist.log, step=step)
        return d.FloatDistribution(dist.low, dist.high, log=dist.log)

    def _flags(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Optuna's params -> the flags the script gets (q applied as in the random sampler)."""
        values = dict(params)
        for name, dist in self.space.distributions:
            if dist.by_quantile:
                values[name] = dist.quantize(dist.ppf(values[name]))
            elif dist.q is not None and dist.kind == "float":
                values[name] = dist.quantize(values[name])
            elif dist.q is not None and dist.kind == "int":
                values[name] = int(round(values[name] / dist.q) * dist.q)
        return {n: values[n] for n in self.space.names}

    def _params(self, flags: Mapping[str, Any]) -> dict[str, Any]:
        """The inverse of _flags for a relaunch: a distribution drawn by quantile is searched as its quantile."""
        own = dict(self.space.distributions)
        return {n: own[n].cdf(v) if n in own and own[n].by_quantile else v for n, v in flags.items()}

    def _key(self, params: Mapping[str, Any]) -> tuple:
        return tuple((n, params[n]) for n in sorted(params))

    def ask(self, index: int, flags: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Flags for trial `index`; `flags` given = relaunch that exact point (a trial pending at a crash)."""
        grid = self.space.grid_point(index)
        self.study.enqueue_trial(self._params(flags) if flags is not None else grid, skip_if_exists=False)
        trial = self.study.ask(self.distributions)
        if flags is None and self._key(self._flags(trial.params)) in self._seen:
            # a point already pending or done: say so to the study, run a fresh random draw instead
            trial.set_user_attr("duplicate", True)
            self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
            fresh = self._unseen_draw(index)
            self.study.enqueue_trial(fresh, skip_if_exists=False)
            trial = self.study.ask(self.distributions)
        self._seen.add(self._key(self._flags(trial.params)))
        self._trials[index] = trial
        return self._flags(trial.params)

    def _unseen_draw(self, index: int, tries: int = 200) -> dict[str, Any]:
        """A random point of the space not asked before (the last draw if the space seems exhausted)."""
        grid = self.space.grid_point(index)
        for attempt in range(tries):
            rng = random.Random(f"{self.space.seed}:{index}:dup{attempt}")
            draw = {**grid, **{n: d.draw(rng) for n, d in self.space.distributions}}
            if self._key(self._flags(draw)) not in self._seen:
                break
        params = {}
        own = dict(self.space.distributions)
        for name, value in draw.items():
            dist = self.distributions[name]
            if name in own and own[name].by_quantile:
                value = own[name].cdf(value)
            params[name] = value if hasattr(dist, "choices") else min(max(value, dist.low), dist.high)
        return params

    def ask_record(self, index: int, flags: Mapping[str, Any]) -> dict[str, Any]:
        """The fields of the journal's `ask` record for trial `index` (the study's params too)."""
        trial = self._trials[index]
        return {"trial": index, "sampler": self.name, "flags": dict(flags), "params": dict(trial.params)}

    def tell(self, index: int, value: Any, state: str = COMPLETE, history: Sequence[tuple[float, Any]] = (),
             constraints: Sequence[float] | None = None) -> None:
        """Told once per trial: COMPLETE with its value, or one value per objective (no finite value of each =
        FAIL), FAIL, or PRUNED (stopped early; with one objective its last reported value is passed as an
        intermediate value, which TPE uses for pruned trials: Optuna keeps no intermediate values for several).
        `constraints`: the run's violations, for a constrained study."""
        trial = self._trials.pop(index, None)
        if trial is None:
            return
        states = self._optuna.trial.TrialState
        values = _finite_values(value, self.objectives)
        told = state == PRUNED or (state == COMPLETE and values is not None)
        if self.constrained and told:  # a told trial without them would count as feasible
            violations = _violations(constraints if constraints is not None else [None])
            if self._set_constraint:
                for number, violation in enumerate(violations):
                    trial.set_constraint(str(number), violation)
            else:
                trial.set_user_attr(CONSTRAINTS_ATTR, violations)
        if state == PRUNED:
            if history and self.objectives == 1:
                step, last = history[-1]
                if isinstance(last, (int, float)) and math.isfinite(last):
                    trial.report(float(last), int(step))
            self.study.tell(trial, state=states.PRUNED)
        elif state == COMPLETE and values is not None:
            self.study.tell(trial, values if self.objectives > 1 else values[0])
        else:
            self.study.tell(trial, state=states.FAIL)

    def restore(self, records: Sequence[Mapping[str, Any]]) -> list[int]:
        """Replay journaled asks and tells (the journal's records, as read) into this (fresh) study; returns the
        trials asked but never told, which the sweep relaunches with the same flags (`ask(index, flags)`)."""
        create = self._optuna.trial.create_trial
        states = self._optuna.trial.TrialState
        tells = {r["trial"]: r for r in records if RecordKind.of(r) is RecordKind.TELL}
        for record in records:
            if RecordKind.of(record) is not RecordKind.ASK or record["trial"] not in tells:
                continue
            tell = tells[record["trial"]]
            params = record.get("params", record["flags"])
            distributions = {n: self.distributions[n] for n in params if n in self.distributions}
            self._seen.add(self._key(record["flags"]))
            values = _finite_values(tell.get("value"), self.objectives)
            # what the constraints_func stored when it was told: the violations the journal kept
            told = tell.get("constraints")
            violations = _violations(told) if isinstance(told, list) else [MISSING_VIOLATION]
            extra: dict[str, Any] = {}
            if self.constrained and self._set_constraint:
                extra = {"constraints": {str(n): v for n, v in enumerate(violations)}}
            elif self.constrained:
                extra = {"user_attrs": {CONSTRAINTS_ATTR: violations},
                         "system_attrs": {_CONSTRAINTS_KEY: tuple(violations)}}
            if tell["state"] == COMPLETE and values is not None:
                trial = create(params=params, distributions=distributions, values=values, **extra)
            elif tell["state"] == PRUNED:
                last = tell.get("last")
                intermediate = ({int(last[0]): float(last[1])} if self.objectives == 1 and last
                                and isinstance(last[1], (int, float)) and math.isfinite(last[1]) else None)
                trial = create(params=params, distributions=distributions, state=states.PRUNED,
                               intermediate_values=intermediate, **extra)
            else:
                trial = create(params=params, distributions=distributions, state=states.FAIL)
            self.study.add_trial(trial)
        return untold(records)
