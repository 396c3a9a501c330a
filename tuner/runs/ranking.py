"""Which metric ranks runs, which way is better, and which run is best: the one owner of all three.

Every ranking the user sees (the sweep's progress line and summary, `tune report`, `tune sweeps`, `tuning_run`'s
frame, the MLflow and TensorBoard exports) comes from here, so they can never disagree: a sweep is ranked by the
metric and mode it recorded (its journal header: `--metric`/`--mode` or the grid file's `sweep:`), unless the
user asks for another (`sweep_ranking`). Only finished runs can be best: a failed, killed, timed-out or
lost run may have logged a fine-looking number before it died, but it is not a result anyone can use.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
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
class Ranking:
    """The metric that ranks a set of runs: its name as the user says it, its column, and its direction."""

    metric: str
    column: str
    mode: str

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
                  if is_finished(row.get("status")) and (v := self.value(row)) is not None]
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
    """A metric and mode as someone chose them (the sweep's `--metric`/`--mode`, a report's): None = not chosen."""

    metric: str | None = None
    mode: str | None = None

    @classmethod
    def of_header(cls, header: Mapping[str, Any]) -> "RankingChoice":
        """What a sweep's journal header recorded. The mode counts only with a metric: journals before the
        ranking issue wrote `mode: max` for sweeps without one."""
        metric = header.get("metric")
        if not isinstance(metric, str) or not metric:
            return cls()
        mode = header.get("mode")
        return cls(metric, mode if mode in MODES else None)


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
    there is no best instead of naming a best by a metric the sweep was not run for."""
    check_mode(mode)
    recorded = recorded or RankingChoice()
    if metric is not None:
        if mode is None and metric == recorded.metric:
            mode = recorded.mode
        return choose_ranking(columns, metric, mode, where)
    if recorded.metric is None:
        return choose_ranking(columns, None, mode, where)
    column = metric_column(columns, recorded.metric)
    if column is None:
        return None
    return Ranking(recorded.metric, column, mode or recorded.mode or metric_direction(recorded.metric))


def metric_value(row: Mapping[str, Any], metric: str | None) -> float | None:
    """One run's value of `metric` (its ranking column: metric_<m> or eval_<m>), as the sweep reports and tells it."""
    if metric is None:
        return None
    column = metric_column(list(row), metric)
    return Ranking(metric, column, "max").value(row) if column is not None else None

