"""Which metric ranks runs, which way is better, and which run is best: the one owner of all three.

Every ranking the user sees (the sweep's progress line and summary, `tune report`, `tune sweeps`, `tuning_run`'s
frame, the MLflow and TensorBoard exports) comes from here, so they can never disagree: a sweep is ranked by the
metric and mode it recorded (its journal header: `--metric`/`--mode` or the grid file's `sweep:`), unless the
user asks for another (`sweep_ranking`). Only finished runs can be best: a failed, killed, timed-out or
lost run may have logged a fine-looking number before it died, but it is not a result anyone can use.

A sweep with several metrics (`--metric val_loss --metric latency_ms`) has no single best: its result is the Pareto
front, the finished runs no other finished run beats on every metric (`Objectives`, `sweep_objectives`). Its
constraints (`--constraint "memory_mb <= 512"`, `Constraint`) decide which runs count at all: a run that breaks one,
or lacks its metric, is never best and never on a front.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping, Sequence

from tuner.errors import QueryError, TunerError, quoted
from tuner.store.status import RunStatus

#: without a metric, runs are ranked by the first of these they recorded (Keras' and tfruns' names)
DEFAULT_METRICS = ("val_acc", "val_accuracy", "val_loss", "acc", "accuracy", "loss")
#: a metric is better low when its name contains one of these ...
_LOW_WORDS = ("loss", "error", "perplexity")
#: ... or has one of these as a word of its name (`val_mse`, `test-rmse`, `mae`; not `accuracy`)
_LOW_TOKENS = frozenset({"err", "mse", "mae", "rmse", "mape", "smape", "msle", "rmsle", "nll", "ppl", "wer",
                         "cer", "ter", "regret", "latency", "fid", "kl", "kld", "bpc", "bpd", "hinge",
                         "crossentropy", "xent", "cost", "distance", "dist"})
MODES = ("min", "max")


def metric_direction(metric: str) -> str:
    """'min' when the metric is better low (losses, errors, distances, perplexity), else 'max'."""
    name = metric.lower()
    for prefix in ("metric_", "eval_", "metrics.", "evaluation."):
        name = name.removeprefix(prefix)
    if any(word in name for word in _LOW_WORDS):
        return "min"
    return "min" if any(token in _LOW_TOKENS for token in re.split(r"[^a-z0-9]+", name)) else "max"


def check_mode(mode: Any) -> str | None:
    if mode is not None and mode not in MODES:
        raise QueryError(f"mode must be 'min' or 'max', got {quoted(mode)}")
    return None if mode is None else str(mode)


def metric_columns(columns: Iterable[str]) -> list[str]:
    return [str(c) for c in columns if str(c).startswith(("metric_", "eval_"))]


def metric_column(columns: Sequence[str], metric: str) -> str | None:
    """The column holding `metric` (`val_acc` -> metric_val_acc, else eval_val_acc), None when no run has it."""
    for candidate in (f"metric_{metric}", f"eval_{metric}", metric):
        if candidate in columns and candidate.startswith(("metric_", "eval_")):
            return candidate
    return None


def unknown_metric(metric: str, known: Sequence[str], where: str) -> QueryError:
    """`--metric val_accc`: one line naming the closest recorded metric."""
    names = sorted({c.split("_", 1)[1] for c in known} | set(known))
    close = difflib.get_close_matches(metric, names, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else \
        f"metrics recorded: {', '.join(sorted({c.split('_', 1)[1] for c in known})) or 'none'}"
    return QueryError(f"{where}: metric '{metric}' is not recorded by these runs; {hint}")


@dataclass(frozen=True)
class Constraint:
    """`memory_mb <= 512`: a bound on a metric of the run (its value as the run's metric or evaluation columns hold
    it). A run is feasible when it has the metric and keeps the bound; `<` and `>` are taken as `<=` and `>=` (a
    metric equal to its bound keeps it: Optuna's constraints hold at 0)."""

    metric: str
    op: str        # "<=" or ">="
    bound: float
    text: str      # as the user wrote it (journal, pages)

    def violation(self, row: Mapping[str, Any]) -> float:
        """How far the run is past the bound (<= 0: kept), Optuna's convention for constraints_func; infinity
        when the run lacks the metric (or holds NaN there): a value nobody measured keeps no bound."""
        column = metric_column(list(row), self.metric)
        value = Ranking(self.metric, column, "max").value(row) if column is not None else None
        if value is None:
            return math.inf
        return value - self.bound if self.op == "<=" else self.bound - value

    def holds(self, row: Mapping[str, Any]) -> bool:
        return self.violation(row) <= 0


def parse_constraint(text: Any, where: str = "--constraint") -> Constraint:
    """`memory_mb <= 512` (also `metrics.memory_mb <= 512`, `512 >= memory_mb`, `eval_size < 1e6`) as a
    Constraint: parsed by the filter grammar (tuner.runs.query, never run as code) and accepted only as one
    comparison of a metric with a number; anything else is one QueryError line saying what a constraint is."""
    from tuner.runs.expression import Column, Compare, Literal
    from tuner.runs.query import parse_filter

    example = "e.g. --constraint \"memory_mb <= 512\" (a metric of the run, <= or >=, a number)"
    if not isinstance(text, str) or not text.strip():
        raise QueryError(f"{where}: expected a comparison of a metric with a number, got {quoted(text)}; {example}")
    try:
        tree = parse_filter(text).tree
    except QueryError as exc:
        raise QueryError(f"{where} {quoted(text)}: {exc}") from None
    mirrored = {"<": ">=", "<=": ">=", ">": "<=", ">=": "<="}
    op = None
    if isinstance(tree, Compare) and tree.op in mirrored:
        if isinstance(tree.left, Column) and isinstance(tree.right, Literal):
            column, literal, op = tree.left, tree.right, "<=" if tree.op in ("<", "<=") else ">="
        elif isinstance(tree.right, Column) and isinstance(tree.left, Literal):
            column, literal, op = tree.right, tree.left, mirrored[tree.op]
    if op is None:
        raise QueryError(f"{where} {quoted(text)} is not one comparison of a metric with a number; {example}")
    bound = literal.value
    if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not math.isfinite(bound):
        raise QueryError(f"{where} {quoted(text)}: the bound must be a finite number, got {quoted(bound)}; {example}")
    name = column.name
    if name.startswith(("flag_", "tag_")) or (not name.startswith(("metric_", "eval_")) and
                                              name in _RUN_ATTRIBUTES):
        raise QueryError(f"{where} {quoted(text)}: {quoted(column.key or name)} is not a metric; a constraint bounds a metric "
                         f"the run records; {example}")
    metric = name.split("_", 1)[1] if name.startswith(("metric_", "eval_")) else name
    return Constraint(metric, op, float(bound), text.strip())


#: columns of a run that are not its metrics (a constraint on them is refused)
_RUN_ATTRIBUTES = frozenset({"status", "start", "end", "duration_s", "run_dir", "name", "user", "script", "sweep",
                             "trial", "attempt", "exit_code", "epochs", "epochs_completed", "stopped_at"})


def check_constraints(constraints: Iterable[Any] | None, where: str = "--constraint") -> tuple[Constraint, ...]:
    """Every constraint parsed (text or Constraint); problems in one QueryError."""
    parsed, problems = [], []
    for item in constraints or ():
        try:
            parsed.append(item if isinstance(item, Constraint) else parse_constraint(item, where))
        except QueryError as exc:
            problems.append(str(exc))
    if problems:
        raise QueryError("; ".join(problems))
    return tuple(parsed)


@dataclass(frozen=True)
class Ranking:
    """The metric that ranks a set of runs: its name as the user says it, its column, and its direction; with
    constraints, a run that breaks one is never ranked."""

    metric: str
    column: str
    mode: str
    constraints: tuple[Constraint, ...] = ()

    def feasible(self, row: Mapping[str, Any]) -> bool:
        return all(c.holds(row) for c in self.constraints)

    def value(self, row: Mapping[str, Any]) -> float | None:
        """The row's value of the metric, None unless a finite or infinite number (NaN is no value)."""
        value = row.get(self.column)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            return None
        return float(value)

    def better(self, value: float, best: float | None) -> bool:
        return best is None or (value > best if self.mode == "max" else value < best)

    def order(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """Indexes of the finished rows that have a value, best first (ties keep the given order)."""
        scored = [(v, i) for i, row in enumerate(rows)
                  if is_finished(row.get("status")) and (v := self.value(row)) is not None and self.feasible(row)]
        scored.sort(key=lambda p: -p[0] if self.mode == "max" else p[0])
        return [i for _, i in scored]

    def best(self, rows: Sequence[Mapping[str, Any]]) -> int | None:
        """Index of the best finished row, None when no finished row has the metric."""
        ranked = self.order(rows)
        return ranked[0] if ranked else None

    def best_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """Indexes of every finished row whose value equals the best (the best run, and any tied with it):
        the rows a view marks as best, however few rows there are."""
        ranked = self.order(rows)
        if not ranked:
            return []
        top = self.value(rows[ranked[0]])
        return [i for i in ranked if self.value(rows[i]) == top]


def is_finished(status: Any) -> bool:
    try:
        return RunStatus(status).is_finished()
    except ValueError:
        return False


def choose_ranking(columns: Sequence[str], metric: str | None = None, mode: str | None = None,
                   where: str = "metric") -> Ranking | None:
    """The ranking for runs with these columns: `metric` as asked (an unknown one is a QueryError naming the
    closest), else the first recorded of val_acc/val_accuracy/val_loss, any other val_ metric, acc/accuracy/loss,
    any evaluation value;
    `mode` as asked, else the metric's direction. None when the runs recorded no metric at all."""
    check_mode(mode)
    known = metric_columns(columns)
    if metric is not None:
        column = metric_column(columns, metric)
        if column is None:
            raise unknown_metric(metric, known, where)
        return Ranking(metric, column, mode or metric_direction(metric))
    val_first, rest = DEFAULT_METRICS[:3], DEFAULT_METRICS[3:]
    candidates = [metric_column(columns, name) for name in val_first]
    candidates += [c for c in known if c.startswith("metric_val_")]
    candidates += [metric_column(columns, name) for name in rest]
    candidates += [c for c in known if c.startswith("eval_")]  # not any training metric: `f1` could be either way
    preferred = [c for c in candidates if c is not None]
    if not preferred:
        return None
    name = preferred[0].split("_", 1)[1]
    return Ranking(name, preferred[0], mode or metric_direction(name))


@dataclass(frozen=True)
class RankingChoice:
    """A metric and mode as someone chose them (the sweep's `--metric`/`--mode`, a report's): None = not chosen.
    A multi-objective choice holds its metrics in `metrics` (two or more, each with its mode or None) and leaves
    `metric` None: there is no single metric to rank by. `constraints` are the sweep's, as written."""

    metric: str | None = None
    mode: str | None = None
    metrics: tuple[str, ...] = ()
    modes: tuple[str | None, ...] = ()
    constraints: tuple[str, ...] = ()

    @property
    def multi(self) -> bool:
        return len(self.metrics) > 1

    @classmethod
    def of_header(cls, header: Mapping[str, Any]) -> "RankingChoice":
        """What a sweep's journal header recorded: `metric` a name (or a list of names for several objectives,
        with `mode` a list beside it), `constraints` a list of texts. The mode counts only with a metric: journals
        before the ranking issue wrote `mode: max` for sweeps without one."""
        metric, mode = header.get("metric"), header.get("mode")
        raw = header.get("constraints")
        constraints = tuple(str(c) for c in raw) if isinstance(raw, list) else ()
        if isinstance(metric, list) and len(metric) > 1 and all(isinstance(m, str) and m for m in metric):
            modes = list(mode) if isinstance(mode, list) and len(mode) == len(metric) else [None] * len(metric)
            return cls(metrics=tuple(metric), modes=tuple(m if m in MODES else None for m in modes),
                       constraints=constraints)
        if isinstance(metric, list) and len(metric) == 1:
            metric, mode = metric[0], mode[0] if isinstance(mode, list) and mode else mode
        if not isinstance(metric, str) or not metric:
            return cls(constraints=constraints)
        return cls(metric, mode if mode in MODES else None, constraints=constraints)


def check_objectives(metrics: Any, modes: Any = None, where: str = "--metric") -> tuple[tuple[str, ...],
                                                                                         tuple[str, ...]]:
    """`--metric a --metric b --mode min --mode max` as (metrics, modes): a name or a list of names, and no
    mode (each metric's direction), or exactly one per metric; a metric named twice is refused. One QueryError
    line per problem, all at once."""
    names = [metrics] if isinstance(metrics, str) else list(metrics or ())
    given = [modes] if isinstance(modes, str) else list(modes or ())
    problems = []
    if any(not isinstance(n, str) or not n.strip() for n in names):
        problems.append(f"{where}: a metric is a name such as val_loss, got {quoted(names)}")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        problems.append(f"{where}: metric '{twice[0]}' is named twice; each objective once")
    if given and len(given) != len(names):
        problems.append(f"{len(names)} metric{'s' if len(names) != 1 else ''} ({', '.join(map(str, names)) or 'none'}) "
                        f"but {len(given)} mode{'s' if len(given) != 1 else ''} ({', '.join(map(str, given))}): give "
                        "one --mode per --metric, in the same order, or none (each metric's own direction)")
    bad = [m for m in given if m not in MODES]
    if bad:
        problems.append(f"mode must be 'min' or 'max', got {quoted(bad[0])}")
    if problems:
        raise QueryError("; ".join(problems))
    return tuple(names), tuple(given) if given else tuple(metric_direction(n) for n in names)


@dataclass(frozen=True)
class Objectives:
    """Several metrics, each with its direction, and the constraints: what a multi-objective sweep's runs are
    judged by. There is no best run, only the front: the finished, feasible runs with a finite value of every
    metric that no other such run dominates (at least as good on every metric, better on one)."""

    rankings: tuple[Ranking, ...]
    constraints: tuple[Constraint, ...] = ()

    @property
    def metrics(self) -> list[str]:
        return [r.metric for r in self.rankings]

    @property
    def modes(self) -> list[str]:
        return [r.mode for r in self.rankings]

    @property
    def columns(self) -> list[str]:
        return [r.column for r in self.rankings]

    def describe(self) -> str:
        """`val_loss (min), latency_ms (min)`"""
        return ", ".join(f"{r.metric} ({r.mode})" for r in self.rankings)

    def values(self, row: Mapping[str, Any]) -> tuple[float, ...] | None:
        """The row's value of every metric; None unless every one is a finite number."""
        values = tuple(r.value(row) for r in self.rankings)
        return None if any(v is None or not math.isfinite(v) for v in values) else values  # type: ignore[return-value]

    def costs(self, row: Mapping[str, Any]) -> tuple[float, ...] | None:
        """The values as costs, smaller better on each (max metrics negated): what tuner.search.pareto takes."""
        values = self.values(row)
        if values is None:
            return None
        return tuple(-v if r.mode == "max" else v for v, r in zip(values, self.rankings))

    def feasible(self, row: Mapping[str, Any]) -> bool:
        return all(c.holds(row) for c in self.constraints)

    def candidates(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """The rows that can be on the front: finished, feasible, every metric a finite number."""
        return [i for i, row in enumerate(rows)
                if is_finished(row.get("status")) and self.feasible(row) and self.values(row) is not None]

    def front(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """Indexes of the rows on the Pareto front, in the given order."""
        from tuner.search.pareto import nondominated

        candidates = self.candidates(rows)
        costs = [self.costs(rows[i]) for i in candidates]
        return [candidates[j] for j in nondominated(costs)]  # type: ignore[arg-type]


def choose_objectives(columns: Sequence[str], metrics: Sequence[str], modes: Sequence[str | None] = (),
                      constraints: Sequence[Any] = (), where: str = "metric") -> Objectives:
    """The objectives for runs with these columns: every metric as asked (an unknown one is a QueryError naming
    the closest), each with its mode or its direction."""
    names, _ = check_objectives(list(metrics), None, where)
    given = list(modes) if modes else [None] * len(names)
    if len(given) != len(names):
        check_objectives(names, given, where)
    rankings = []
    for name, mode in zip(names, given):
        ranking = choose_ranking(columns, name, mode, where)
        assert ranking is not None
        rankings.append(ranking)
    return Objectives(tuple(rankings), check_constraints(constraints))


def sweep_choice(runs_dir: str, sweep: str) -> RankingChoice:
    """The ranking sweep `sweep` recorded in its journal; none (the default choice) when its journal is gone
    or damaged: its runs are still ranked, by the default metric."""
    from tuner.store.journal import Journal

    try:
        return RankingChoice.of_header(Journal.open(runs_dir, str(sweep)).read_header())
    except (TunerError, OSError):
        return RankingChoice()


def sweep_ranking(columns: Sequence[str], recorded: RankingChoice | None = None, metric: str | None = None,
                  mode: str | None = None, where: str = "metric") -> Ranking | None:
    """The ranking of one sweep's runs. `metric`/`mode` asked now win (an asked metric that the sweep recorded
    keeps the recorded mode unless `mode` says otherwise); else the sweep's `recorded` choice; else the default
    (choose_ranking). A recorded metric that no run has gives None, never another metric: every view then says
    there is no best instead of naming a best by a metric the sweep was not run for. A sweep of several metrics
    gives None unless one is asked: it has a front (sweep_objectives), not a best. The sweep's constraints hold
    either way."""
    check_mode(mode)
    recorded = recorded or RankingChoice()
    constraints = check_constraints(recorded.constraints, "the sweep's constraint")
    if metric is not None:
        if mode is None and metric == recorded.metric:
            mode = recorded.mode
        if mode is None and metric in recorded.metrics:
            mode = recorded.modes[recorded.metrics.index(metric)]
        ranking = choose_ranking(columns, metric, mode, where)
    elif recorded.multi:
        return None
    elif recorded.metric is None:
        ranking = choose_ranking(columns, None, mode, where)
    else:
        column = metric_column(columns, recorded.metric)
        if column is None:
            return None
        ranking = Ranking(recorded.metric, column, mode or recorded.mode or metric_direction(recorded.metric))
    return replace(ranking, constraints=constraints) if ranking is not None else None


def sweep_objectives(columns: Sequence[str], recorded: RankingChoice | None = None,
                     metrics: Sequence[str] | None = None, modes: Sequence[str | None] | None = None,
                     where: str = "metric") -> Objectives | None:
    """The objectives of one sweep's runs, when it has several: `metrics` (two or more) asked now win, with
    `modes` (one per metric, or none: the recorded mode of a recorded metric, else its direction); else the
    sweep's recorded ones. None for a sweep of one metric (sweep_ranking ranks it) and when a recorded metric is
    not recorded by any run (no front, rather than a front of fewer metrics than the sweep was run for)."""
    recorded = recorded or RankingChoice()
    constraints = check_constraints(recorded.constraints, "the sweep's constraint")
    if metrics is not None and len(metrics) > 1:
        names, _ = check_objectives(list(metrics), None, where)
        if modes:
            check_objectives(names, list(modes), where)
            chosen: list[str | None] = list(modes)
        else:
            chosen = [recorded.modes[recorded.metrics.index(n)] if n in recorded.metrics
                      else recorded.mode if n == recorded.metric else None for n in names]
        return choose_objectives(columns, names, chosen, constraints, where)
    if metrics or not recorded.multi:
        return None
    rankings = []
    for name, mode in zip(recorded.metrics, recorded.modes):
        column = metric_column(columns, name)
        if column is None:
            return None
        rankings.append(Ranking(name, column, mode or metric_direction(name)))
    return Objectives(tuple(rankings), constraints)


def metric_value(row: Mapping[str, Any], metric: str | None) -> float | None:
    """One run's value of `metric` (its ranking column: metric_<m> or eval_<m>), as the sweep reports and tells it."""
    if metric is None:
        return None
    column = metric_column(list(row), metric)
    return Ranking(metric, column, "max").value(row) if column is not None else None

