"""Which flags mattered in a sweep: PED-ANOVA importance and W&B-style correlation, from the runs as recorded.

**Importance** is PED-ANOVA (Watanabe et al., IJCAI 2023; Optuna's `PedAnovaImportanceEvaluator` with its
defaults: the top 10% of the finished trials against all of them, evaluated on the trials' own region). For each
flag, the values of the top trials and of all trials are binned on a grid (50 steps over the flag's range, on a
log scale for log-scaled flags; one step per value for a grid of numbers or a categorical flag), each is smoothed
by a Parzen estimator (Scott's rule, a uniform prior), and the importance is the Pearson divergence between the
two densities: how much better trials concentrate on some values of this flag. Shares are normalised to sum to 1.
A flag some trials lack is weighed by the regimes where it is present (condPED-ANOVA, as Optuna does).

Why our own implementation and not Optuna's evaluator: Optuna needs a study of FrozenTrials first, and at
10,000 trials x 8 flags building it and evaluating took 3.3 s on the project's 2-core VM, against the issue's
1 s; this one takes a few tens of milliseconds (bench/importance), needs only numpy, and gives the same numbers
(tests compare it with Optuna's where Optuna is installed).

**Correlation** (W&B's "correlation" column): Spearman's rank correlation between a numeric flag and the metric,
with its sign (positive: a higher value goes with a higher metric), which is the same for a flag and its log, so
log-scaled flags need no transform; for a categorical flag, each value's point-biserial correlation (the value
as 0/1 against the metric), as W&B one-hot encodes categories.

Only finished trials with a finite metric count (a stopped trial's value is from a shorter run; tuner.runs.ranking
says the same for "best"). Kinds come from the sweep's search space where the journal records one (uniform,
loguniform, randint, choice ...), else from the values: text or booleans are categorical, a few numbers (a grid
list) ordinal (ranks), many numbers numeric on whichever scale, linear or log, spreads them more evenly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from tuner.runs.ranking import Ranking, is_finished

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: PED-ANOVA's gamma': importance of reaching the top 10% of trials (Optuna's default)
TARGET_QUANTILE = 0.1
#: grid steps a numeric range is binned into (Optuna's `_n_steps`)
N_STEPS = 50
PRIOR_WEIGHT = 1.0
#: a regime (the trials that have a flag) needs this many trials to count (Optuna's `_min_n_trials_in_regime`)
MIN_TRIALS_IN_REGIME = 2
#: a numeric flag with at most this many distinct values and no recorded distribution is a grid list: ordinal
ORDINAL_MAX_VALUES = 16
#: categorical values whose correlation is reported, the strongest first
MAX_VALUES_SHOWN = 12
#: fewer finished trials with a value than this: no importance (nothing to compare)
MIN_TRIALS = 4

NUMERIC, LOG, ORDINAL, CATEGORICAL = "numeric", "log", "ordinal", "categorical"


@dataclass(frozen=True)
class Domain:
    """A flag's range as the importance bins it: `numeric`/`log` over [low, high] (with `step` for integers or
    q), `ordinal` (each distinct number a step, in order) or `categorical` (each of `choices` a step)."""

    kind: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True)
class FlagImportance:
    """One flag's row: its kind, PED-ANOVA share (0..1, the shares sum to 1 unless no flag matters) and
    correlation with the metric (numeric kinds; None for categorical, whose values each have one in
    `by_value`, strongest first)."""

    flag: str
    kind: str
    importance: float
    correlation: float | None
    by_value: tuple[tuple[Any, float], ...] = ()
    trials: int = 0  # finished trials that have this flag and a value of the metric

    def to_dict(self) -> dict[str, Any]:
        return {"flag": self.flag, "kind": self.kind, "importance": self.importance,
                "correlation": self.correlation, "by_value": [list(p) for p in self.by_value], "trials": self.trials}


@dataclass(frozen=True)
class Importance:
    """Every flag's importance for one metric, most important first."""

    metric: str
    mode: str
    trials: int  # finished trials with a finite value of the metric
    flags: tuple[FlagImportance, ...] = field(default_factory=tuple)
    method: str = "ped-anova"

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "mode": self.mode, "trials": self.trials, "method": self.method,
                "target_quantile": TARGET_QUANTILE, "flags": [f.to_dict() for f in self.flags]}


# ---------------------------------------------------------------------------------------------------------------
# Domains

def domains_from_grid_source(source: Mapping[str, Any] | None) -> dict[str, Domain]:
    """The domains a sweep's journal records (its header's `grid`): a space's distributions, a grid's lists (a
    list of numbers is ordinal, anything else categorical); flags named as in flags.json."""
    if not isinstance(source, Mapping):
        return {}
    if source.get("kind") == "table":
        columns, rows = source.get("columns") or [], source.get("rows") or []
        flags: Mapping[str, Any] = {c: [r[k] for r in rows if k < len(r)] for k, c in enumerate(columns)}
    else:
        flags = source.get("flags") or {}
    domains = {}
    for name, spec in flags.items():
        domain = _domain_of_spec(spec)
        if domain is not None:
            domains[str(name)] = domain
    return domains


def _domain_of_spec(spec: Any) -> Domain | None:
    if isinstance(spec, Mapping):  # a distribution, as tuner.search.space writes it (to_source)
        from tuner.errors import GridError
        from tuner.search.space import parse_distribution

        try:
            dist = parse_distribution("flag", spec)
        except GridError:
            return None
        if dist.kind == "choice":
            return Domain(CATEGORICAL, choices=tuple(dist.choices))
        high = dist.high - 1 if dist.kind == "int" else dist.high  # randint's hi is exclusive
        step = dist.q if dist.q is not None else (1 if dist.kind == "int" else None)
        return Domain(LOG if dist.log else NUMERIC, float(dist.low), float(high), step)
    values = list(spec) if isinstance(spec, (list, tuple)) else [spec]
    if values and all(_is_number(v) for v in values):
        return Domain(ORDINAL)
    return Domain(CATEGORICAL, choices=tuple(dict.fromkeys(_key(v) for v in values)))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _key(value: Any) -> Any:
    """A categorical value as a dict key: numbers and text as they are (1 and 1.0 are one value), others as text."""
    if isinstance(value, (str, bool)) or value is None or _is_number(value):
        return value
    return str(value)


def _infer_domain(numbers: np.ndarray | None) -> Domain:
    """A flag's kind from its values (`numbers`: as floats, None where they are not all numbers) where the sweep
    recorded none (see the module's docstring)."""
    import numpy as np

    if numbers is None or not len(numbers):
        return Domain(CATEGORICAL)
    if len(np.unique(numbers)) <= ORDINAL_MAX_VALUES:
        return Domain(ORDINAL)
    low, high = float(numbers.min()), float(numbers.max())
    if low > 0 and high / low >= 100:
        # the scale on which the values fill their range more evenly: a log-uniform draw has half its values in
        # the lower half of its log range, and nearly all of them in the lower half of its linear one
        linear = abs(float(np.mean(numbers < (low + high) / 2)) - 0.5)
        logs = np.log(numbers)
        logarithmic = abs(float(np.mean(logs < (math.log(low) + math.log(high)) / 2)) - 0.5)
        if logarithmic < linear:
            return Domain(LOG, low, high)
    return Domain(NUMERIC, low, high)


@dataclass
class _Column:
    """One flag over the kept trials: where it is present, its values there as floats (None unless they are all
    numbers) and as categorical keys (made only when needed)."""

    present: np.ndarray  # indexes into the kept trials
    numbers: np.ndarray | None
    raw: list[Any]

    def keys(self) -> list[Any]:
        return [_key(v) for v in self.raw]


_NUMBER_TYPES = frozenset({int, float, type(None)})


def _column(rows: Sequence[Mapping[str, Any]], column: str) -> _Column:
    """A flag's values, a column at a time: numbers go to a float array in one call (None and NaN: absent)."""
    import numpy as np

    raw = [row.get(column) for row in rows]
    if set(map(type, raw)) <= _NUMBER_TYPES:  # bool is its own type: booleans are categories
        values = np.asarray(raw, dtype=float)  # None -> NaN
        present = np.flatnonzero(np.isfinite(values))
        return _Column(present, values[present], [raw[i] for i in present] if len(present) < len(raw) else raw)
    present_list = [i for i, v in enumerate(raw) if v is not None and not (isinstance(v, float) and v != v)]
    return _Column(np.asarray(present_list, dtype=np.int64), None, [raw[i] for i in present_list])


# ---------------------------------------------------------------------------------------------------------------
# PED-ANOVA

def _bins(column: _Column, domain: Domain) -> tuple[np.ndarray, int, bool]:
    """Each value's grid index, the grid's size, and whether the grid is categorical (no smoothing across)."""
    import numpy as np

    if domain.kind == CATEGORICAL or column.numbers is None:
        keys = column.keys()
        choices = list(dict.fromkeys([*domain.choices, *keys]))
        where = {c: i for i, c in enumerate(choices)}
        return np.fromiter((where[k] for k in keys), dtype=np.int64, count=len(keys)), len(choices), True
    values = column.numbers
    if domain.kind == ORDINAL:
        levels, index = np.unique(values, return_inverse=True)
        return index.astype(np.int64), len(levels), False
    log = domain.kind == LOG and float(values.min()) > 0
    low = domain.low if domain.low is not None else float(values.min())
    high = domain.high if domain.high is not None else float(values.max())
    low, high = min(low, float(values.min())), max(high, float(values.max()))  # a value outside the record's range
    n_steps = N_STEPS
    if domain.step is not None and not log and domain.step > 0:
        n_steps = min(round((high - low) / domain.step) + 1, N_STEPS)
    elif log and domain.step is not None and float(domain.step).is_integer():  # lograndint: Optuna's log2 grid
        n_steps = min(int(math.ceil(math.log(high - low + 1) / math.log(2))) + 1, N_STEPS)
    if log:
        values, low, high = np.log(values), math.log(low), math.log(high)
    if high <= low or n_steps < 2:
        return np.zeros(len(values), dtype=np.int64), 1, False
    step = (high - low) / (n_steps - 1)
    index = np.clip(np.ceil((values - low) / step - 0.5).astype(np.int64), 0, n_steps - 1)  # ties to the lower
    return index, n_steps, False


_ERFC = None


def _erfc(x: np.ndarray) -> np.ndarray:
    global _ERFC  # a ufunc made once (math.erfc, elementwise): numpy has none, and scipy is not a dependency
    import numpy as np

    if _ERFC is None:
        _ERFC = np.frompyfunc(math.erfc, 1, 1)
    return np.asarray(_ERFC(x), dtype=float)


def _gauss_mass(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """P(a < Z < b) for a standard normal Z, from the tail nearer each interval (no cancellation far out)."""
    import numpy as np

    root = math.sqrt(2.0)
    upper = a >= 0  # both above the mean: the upper tail
    lower = b <= 0
    middle = ~(upper | lower)
    mass = np.empty(np.broadcast(a, b).shape)
    mass[upper] = 0.5 * (_erfc(a[upper] / root) - _erfc(b[upper] / root))
    mass[lower] = 0.5 * (_erfc(-b[lower] / root) - _erfc(-a[lower] / root))
    mass[middle] = 1.0 - 0.5 * (_erfc(-a[middle] / root) + _erfc(b[middle] / root))
    return np.maximum(mass, 0.0)


def _parzen_pdf(counts: np.ndarray, categorical: bool) -> np.ndarray:
    """The density over the grid's steps of a Parzen estimator of binned observations (Optuna's
    ScottParzenEstimator with its prior, for a grid 0..n-1 of integer steps)."""
    import numpy as np

    size = len(counts)
    observed = np.flatnonzero(counts)
    weights = counts[observed].astype(float)
    mixture = np.append(weights, PRIOR_WEIGHT) if len(observed) else np.array([1.0])
    mixture = mixture / mixture.sum()
    if categorical:
        kernels = len(observed) + 1
        table = np.full((kernels, size), PRIOR_WEIGHT / kernels)
        table[np.arange(len(observed)), observed] += 1
        table /= table.sum(axis=1, keepdims=True)
        if not len(observed):
            table = np.full((1, size), 1.0 / size)
        return mixture @ table
    low, high = 0.0, float(size - 1)
    total = weights.sum()
    if len(observed):
        mean = float(observed @ weights) / total
        sigma = math.sqrt(float(((observed - mean) ** 2) @ weights) / max(1.0, total - 1))
        cumulative = np.cumsum(weights)
        q1 = int(np.searchsorted(cumulative, total // 4, side="left"))
        q3 = int(np.searchsorted(cumulative, total * 3 // 4, side="right"))
        iqr = float(observed[min(len(observed) - 1, q3)] - observed[q1])
        sigma = 1.059 * min(iqr / 1.34, sigma) * total ** -0.2
        sigma = max(sigma, 0.5 / 1.64)  # 1.64 sigma (90%) fits one step: no kernel narrower than the grid
    else:
        sigma = 0.5 / 1.64
    mus = np.append(observed.astype(float), (low + high) / 2)[-len(mixture):]
    sigmas = np.append(np.full(len(observed), sigma), high - low + 1)[-len(mixture):]
    grid = np.arange(size, dtype=float)
    # each kernel: a normal truncated to [low - 0.5, high + 0.5], its mass on each step [k - 0.5, k + 0.5]
    left = (grid[:, None] - 0.5 - mus[None, :]) / sigmas[None, :]
    right = (grid[:, None] + 0.5 - mus[None, :]) / sigmas[None, :]
    norm = _gauss_mass((low - 0.5 - mus) / sigmas, (high + 0.5 - mus) / sigmas)
    mass = _gauss_mass(left, right) / np.maximum(norm, 1e-300)[None, :]
    return mass @ mixture


def _pearson_divergence(top: np.ndarray, region: np.ndarray, size: int, categorical: bool) -> float:
    import numpy as np

    pdf_top = _parzen_pdf(np.bincount(top, minlength=size), categorical) + 1e-12
    pdf_region = _parzen_pdf(np.bincount(region, minlength=size), categorical) + 1e-12
    return float(pdf_region @ ((pdf_top / pdf_region - 1) ** 2))


def _top_mask(values: np.ndarray, mode: str) -> np.ndarray:
    """The trials at or better than the TARGET_QUANTILE cut (ties at the cut included, as Optuna's filter)."""
    import numpy as np

    loss = values if mode == "min" else -values
    cut_index = int(math.ceil(TARGET_QUANTILE * len(loss))) - 1
    cut = float(np.partition(loss, cut_index)[cut_index])
    return loss <= cut


# ---------------------------------------------------------------------------------------------------------------
# Correlation

def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their places), as Spearman's correlation uses them."""
    import numpy as np

    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + ends - 1) / 2.0)[inverse]


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    import numpy as np

    x, y = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float(x @ x) * float(y @ y))
    if denominator == 0 or not math.isfinite(denominator):
        return None
    return float(np.clip(float(x @ y) / denominator, -1.0, 1.0))


# ---------------------------------------------------------------------------------------------------------------
# The analysis

def flag_importance(rows: Sequence[Mapping[str, Any]], ranking: Ranking, flags: Sequence[str] | None = None,
                    domains: Mapping[str, Domain] | None = None) -> Importance:
    """Importance and correlation of each flag (columns `flag_<name>`; default: every flag column the rows have)
    for the metric of `ranking`, over the finished rows with a finite value. Rows are ls_runs rows (dicts); a
    missing or NaN flag value means the trial lacks the flag. A flag with one value in every such trial (a default
    the script ran with) is left out: there is nothing to tell apart."""
    import numpy as np

    metric_values: list[float] = []
    kept: list[Mapping[str, Any]] = []
    for row in rows:
        if not is_finished(row.get("status")):
            continue
        value = ranking.value(row)
        if value is None or not math.isfinite(value):
            continue
        metric_values.append(value)
        kept.append(row)
    names = list(flags) if flags is not None else list(dict.fromkeys(
        c for row in kept[:1000] for c in row if str(c).startswith("flag_")))  # ls_runs rows share their keys
    y = np.asarray(metric_values, dtype=float)
    enough = len(kept) >= MIN_TRIALS
    top = _top_mask(y, ranking.mode) if enough else np.zeros(len(kept), dtype=bool)
    n_top = int(top.sum())
    results = []
    for name in names:
        flag = name.removeprefix("flag_")
        column = _column(kept, name)
        if _constant(column):
            continue  # one value in every trial (a default the script ran with, a grid list of one): nothing to tell
        domain = (domains or {}).get(flag) or _infer_domain(column.numbers)
        if column.numbers is None and domain.kind != CATEGORICAL:
            domain = Domain(CATEGORICAL)  # text among the numbers (`lr=abc` typed once): its values as categories
        divergence = 0.0
        if enough and len(column.present) >= MIN_TRIALS_IN_REGIME and n_top:
            bins, size, categorical = _bins(column, domain)
            top_here = top[column.present]
            if size > 1 and top_here.any():
                # the regime where the flag is present, weighed by its shares of the top and of all (condPED-ANOVA)
                alpha, beta = top_here.sum() / n_top, len(column.present) / len(kept)
                divergence = alpha ** 2 / beta * _pearson_divergence(bins[top_here], bins, size, categorical)
        correlation, by_value = _correlations(column, y[column.present], domain) if enough else (None, ())
        results.append(FlagImportance(flag, domain.kind, divergence, correlation, by_value, len(column.present)))
    total = sum(r.importance for r in results)
    shares = [FlagImportance(r.flag, r.kind, r.importance / total if total > 0 else 0.0, r.correlation, r.by_value,
                             r.trials) for r in results]
    shares.sort(key=lambda r: -r.importance)  # stable: ties keep the flags' order
    return Importance(ranking.metric, ranking.mode, len(kept), tuple(shares))


def _constant(column: _Column) -> bool:
    import numpy as np

    if column.numbers is not None:
        return len(column.numbers) > 0 and bool(np.all(column.numbers == column.numbers[0]))
    keys = column.keys()
    return len(keys) > 0 and all(k == keys[0] for k in keys)


def _correlations(column: _Column, y: np.ndarray,
                  domain: Domain) -> tuple[float | None, tuple[tuple[Any, float], ...]]:
    import numpy as np

    if len(y) < 3:
        return None, ()
    if domain.kind != CATEGORICAL and column.numbers is not None:
        return _pearson(_ranks(column.numbers), _ranks(y)), ()
    keys = column.keys()
    levels = list(dict.fromkeys(keys))
    where = {level: i for i, level in enumerate(levels)}
    codes = np.fromiter((where[k] for k in keys), dtype=np.int64, count=len(keys))
    found = []
    for i, level in enumerate(levels):
        r = _pearson((codes == i).astype(float), y)
        if r is not None:
            found.append((level, r))
    found.sort(key=lambda pair: -abs(pair[1]))
    return None, tuple(found[:MAX_VALUES_SHOWN])


# ---------------------------------------------------------------------------------------------------------------
# A recorded sweep

def sweep_domains(runs_dir: str, sweep: str) -> dict[str, Domain]:
    """The domains the sweep's journal records (none when it has no journal, or one that cannot be read)."""
    from tuner.errors import TunerError
    from tuner.store.journal import Journal, sweep_dir

    try:
        return domains_from_grid_source(Journal(sweep_dir(runs_dir, sweep)).read_header().get("grid"))
    except (TunerError, OSError):
        return {}


def param_importance(sweep: str, metric: str | None = None, mode: str | None = None,
                     runs_dir: str | None = None) -> pd.DataFrame:
    """How much each flag of sweep `sweep` mattered for `metric` (default: the metric and mode the sweep recorded,
    else tuner.runs.ranking's default): a DataFrame of `flag`, `kind` (numeric, log, ordinal, categorical),
    `importance` (PED-ANOVA shares, summing to 1), `correlation` (Spearman, signed; NaN for categorical flags),
    `by_value` (a categorical flag's values with their correlation) and `trials`, most important first. The
    metric, mode and number of trials used are in `df.attrs`."""
    import pandas as pd

    from tuner.errors import QueryError, SweepNotFoundError
    from tuner.runs.ranking import sweep_choice, sweep_ranking
    from tuner.settings import load_settings
    from tuner.sweep.history import runs_table, sweep_rows

    settings = load_settings(runs_dir=runs_dir)
    sweep = str(sweep)
    rows = sweep_rows(runs_table(settings.runs_dir, settings.stale_after_s), sweep)
    if rows.empty:
        raise SweepNotFoundError(f"sweep '{sweep}' has no runs in '{settings.runs_dir}'; list sweeps with "
                                 "`tune sweeps`")
    recorded = sweep_choice(settings.runs_dir, sweep)
    ranking = sweep_ranking([str(c) for c in rows.columns], recorded, metric, mode, where="importance")
    if ranking is None:
        what = f"the metric it was run for, {recorded.metric}," if recorded.metric and metric is None else "a metric"
        raise QueryError(f"param_importance: no run of sweep '{sweep}' recorded {what}; log one with log_metrics "
                         "or print `name=value` lines, or name another with metric=")
    flags = [str(c) for c in rows.columns if str(c).startswith("flag_")]
    needed = rows[["status", ranking.column, *flags]]  # only these become dicts (10^4 rows x every column: ~0.5 s)
    result = flag_importance(needed.to_dict("records"), ranking, flags, sweep_domains(settings.runs_dir, sweep))
    frame = pd.DataFrame([{"flag": f.flag, "kind": f.kind, "importance": f.importance,
                           "correlation": math.nan if f.correlation is None else f.correlation,
                           "by_value": dict(f.by_value) if f.kind == CATEGORICAL else None, "trials": f.trials}
                          for f in result.flags], columns=["flag", "kind", "importance", "correlation", "by_value",
                                                           "trials"])
    frame.attrs.update(metric=result.metric, mode=result.mode, trials=result.trials, method=result.method)
    return frame
