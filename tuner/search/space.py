"""Search spaces: distributions mixed with grid lists, as a plan the sweep iterates by index.

A flag's value in a flags file (or a Python dict) is either a grid list (every value is run, as before) or
one mapping naming a distribution:

    lr:      {loguniform: [1e-5, 1e-1]}        # log-uniform real in [lo, hi)
    dropout: {uniform: [0.0, 0.5], q: 0.05}    # uniform real, rounded to a multiple of q
    units:   {randint: [32, 513]}              # integer in [lo, hi): hi is exclusive, as numpy and Ray Tune
    act:     {choice: [relu, tanh]}            # one of the values, equally likely
    opt:     {choice: [adam, sgd], weights: [0.7, 0.3]}   # one of the values, with these probabilities
    init:    {normal: [0.0, 0.02]}             # normal real: [mean, standard deviation], unbounded
    scale:   {lognormal: [0.0, 1.0]}           # exp of a normal real: [mean, sd] of its log
    mix:     {beta: [2.0, 5.0]}                # beta real in [0, 1]: [alpha, beta]

`q` is written as its own key (our spelling); Ray Tune's names are accepted too: `quniform: [lo, hi, q]`,
`qloguniform`, `qrandint`, `lograndint`, `qlograndint`, `randn: [mean, sd]`, `qrandn: [mean, sd, q]`. With `q`,
a real is rounded to the nearest multiple of q and an integer range's hi is included only if it is a multiple
(Ray Tune's rule). `as_int: true` beside a real's `q` gives the rounded value as an integer (W&B's rule for an
integer q, kept by the W&B conversion, tuner.formats.wandb).

The space is Ray Tune's `grid_search x num_samples`: every combination of the grid lists, each drawn
`num_samples` times for the distributions. It is a description, never materialised: trial `index` is
(draw = index // grid size, grid point = index % grid size), and its random values are drawn from a
generator seeded by (seed, index) alone, so any trial is reproducible without drawing the ones before it.
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass
from typing import Any, Mapping

from tuner.errors import GridError, quoted
from tuner.values import NAME_MAX, is_flag_name

#: distribution name -> (kind, log, takes q as a third list element)
_NAMES: dict[str, tuple[str, bool, bool]] = {
    "uniform": ("float", False, False),
    "loguniform": ("float", True, False),
    "quniform": ("float", False, True),
    "qloguniform": ("float", True, True),
    "randint": ("int", False, False),
    "lograndint": ("int", True, False),
    "qrandint": ("int", False, True),
    "qlograndint": ("int", True, True),
    "choice": ("choice", False, False),
    "normal": ("normal", False, False),
    "randn": ("normal", False, False),
    "qrandn": ("normal", False, True),
    "lognormal": ("normal", True, False),
    "beta": ("beta", False, False),
}
#: keys a distribution mapping may have beside its name
_OPTIONS = ("q", "weights", "as_int")
_SCALARS = (str, int, float, bool)


@dataclass(frozen=True)
class Distribution:
    """One flag's distribution: `float` in [low, high), `int` in [low, high) (hi exclusive), `choice` (weighted
    when `weights` is given), `normal` (mean `low`, standard deviation `high`; with `log`, a log-normal: the exp
    of that normal) or `beta` (alpha `low`, beta `high`, values in [0, 1])."""

    kind: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    q: float | None = None
    choices: tuple[Any, ...] = ()
    weights: tuple[float, ...] = ()
    #: a real rounded to q given as an integer (W&B: an integer q gives integers)
    as_int: bool = False

    @property
    def by_quantile(self) -> bool:
        """Drawn through its quantile function (unbounded or curved priors): what a sampler that needs a bounded
        uniform domain (Optuna) searches is the quantile u in (0, 1), and the flag is `ppf(u)`."""
        return self.kind in ("normal", "beta")

    def draw(self, rng: random.Random) -> Any:
        if self.kind == "choice":
            if self.weights:
                return self.choices[_weighted_index(self.weights, rng.random())]
            return self.choices[rng.randrange(len(self.choices))]
        if self.kind == "int":
            if self.log:
                value = int(math.floor(math.exp(rng.uniform(math.log(self.low), math.log(self.high)))))
                value = min(max(value, int(self.low)), int(self.high) - 1)
            else:
                value = rng.randrange(int(self.low), int(self.high))
            if self.q is not None:
                value = int(round(value / self.q) * self.q)
            return value
        if self.kind == "normal":
            real = rng.gauss(self.low, self.high)
            return self.quantize(math.exp(real) if self.log else real)
        if self.kind == "beta":
            return self.quantize(rng.betavariate(self.low, self.high))
        real = (math.exp(rng.uniform(math.log(self.low), math.log(self.high))) if self.log
                else rng.uniform(self.low, self.high))
        return self.quantize(real)

    def quantize(self, real: float) -> Any:
        """A real rounded to the nearest multiple of q (as an integer with `as_int`)."""
        if self.q is None:
            return real
        if self.as_int:
            return int(round(real / self.q) * self.q)
        return round(round(real / self.q) * self.q, 12)

    def ppf(self, u: float) -> float:
        """The value at quantile `u` in (0, 1), before q (normal, log-normal and beta)."""
        if self.kind == "normal":
            real = statistics.NormalDist(self.low, self.high).inv_cdf(u) if self.high > 0 else self.low
            return math.exp(real) if self.log else real
        if self.kind == "beta":
            return _beta_ppf(self.low, self.high, u)
        raise ValueError(f"{self.kind} has no quantile function here")

    def cdf(self, value: float) -> float:
        """The quantile of `value` (inverse of ppf), clipped into (0, 1)."""
        if self.kind == "normal":
            if self.log:
                value = math.log(value) if value > 0 else -math.inf
            u = statistics.NormalDist(self.low, self.high).cdf(value) if self.high > 0 else 0.5
        elif self.kind == "beta":
            u = _beta_cdf(self.low, self.high, min(max(value, 0.0), 1.0))
        else:
            raise ValueError(f"{self.kind} has no quantile function here")
        return min(max(u, QUANTILE_EPS), 1 - QUANTILE_EPS)

    def examples(self) -> list[Any]:
        """Values that stand for this distribution when a script's flags are checked before launch (tuner.interface):
        a choice's values, an integer range's two ends; for reals the ends (or the 0.1% and 99.9% quantiles of an
        unbounded one) and a typical draw that is never a whole number."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return [int(self.low), int(self.high) - 1]
        if self.by_quantile:
            values = [self.quantize(self.ppf(u)) for u in (0.001, 0.5, 0.999)]
            if self.q is None:
                middle = values[1]
                values.append(middle if not float(middle).is_integer() else math.nextafter(middle, math.inf))
            return values
        low, high = float(self.low), float(self.high)
        inside = low + (high - low) / math.pi
        return [low, high, inside if not inside.is_integer() else math.nextafter(inside, high)]

    def to_source(self) -> dict[str, Any]:
        if self.kind == "choice":
            source: dict[str, Any] = {"choice": list(self.choices)}
            if self.weights:
                source["weights"] = list(self.weights)
            return source
        if self.kind == "normal":
            source = {"lognormal" if self.log else "normal": [self.low, self.high]}
        elif self.kind == "beta":
            source = {"beta": [self.low, self.high]}
        else:
            name = ("log" if self.log else "") + ("randint" if self.kind == "int" else "uniform")
            source = {name: [self.low, self.high]}
        if self.q is not None:
            source["q"] = self.q
        if self.as_int:
            source["as_int"] = True
        return source


#: the quantiles a sampler searches for a distribution drawn by quantile stay this far inside (0, 1): the ends are
#: infinite for a normal
QUANTILE_EPS = 1e-9


def _weighted_index(weights: tuple[float, ...], u: float) -> int:
    """The index whose cumulative weight first exceeds u * total (W&B's ppf of a categorical with probabilities)."""
    total, running = sum(weights), 0.0
    for index, weight in enumerate(weights):
        running += weight
        if u * total < running:
            return index
    return len(weights) - 1


def _beta_cf(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularized incomplete beta function (Lentz's method)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return result


def _beta_cdf(a: float, b: float, x: float) -> float:
    """P(X <= x) for X ~ Beta(a, b): the regularized incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _beta_cf(a, b, x) / a
    return 1.0 - front * _beta_cf(b, a, 1 - x) / b


def _beta_ppf(a: float, b: float, u: float) -> float:
    """The inverse of _beta_cdf by bisection (the cdf is monotone; 60 halvings reach float precision)."""
    low, high = 0.0, 1.0
    for _ in range(60):
        middle = (low + high) / 2
        if _beta_cdf(a, b, middle) < u:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def is_distribution(value: Any) -> bool:
    """A flags-file value that names a distribution (a mapping), as opposed to a grid list or a scalar."""
    return isinstance(value, Mapping)


def parse_distribution(name: str, spec: Any, where: str = "flags") -> Distribution:
    """`{loguniform: [lo, hi]}`, `{uniform: [lo, hi], q: 0.1}`, `{randint: [lo, hi]}`, `{choice: [...]}` ..."""
    at = f"{where}: flag '{name}'"
    if not isinstance(spec, Mapping):
        raise GridError(f"{at}: expected a mapping like {{uniform: [0, 1]}}, got {quoted(spec)}")
    keys = [k for k in spec if k not in _OPTIONS]
    if len(keys) != 1 or keys[0] not in _NAMES:
        raise GridError(f"{at}: {quoted(dict(spec))} names no distribution; expected one of "
                        f"{', '.join(_NAMES)} (for example `{name}: {{uniform: [0, 1]}}`), or a list of values")
    key = keys[0]
    kind, log, q_in_list = _NAMES[key]
    args = spec[key]
    if kind == "choice":
        return _parse_choice(name, spec, args, at)
    if "weights" in spec:
        raise GridError(f"{at}: weights apply to choice only; remove them")
    expected = 3 if q_in_list else 2
    shape = {"normal": "[mean, sd, q]" if q_in_list else "[mean, sd]", "beta": "[alpha, beta]"}.get(
        kind, "[lo, hi, q]" if q_in_list else "[lo, hi]")
    if not isinstance(args, (list, tuple)) or len(args) != expected:
        raise GridError(f"{at}: {key} takes {shape}, got {quoted(args)}; for example `{name}: {{{key}: "
                        f"{'[0, 10, 2]' if q_in_list else '[1, 10]'}}}`")
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in args):
        raise GridError(f"{at}: {key} bounds must be numbers, got {quoted(list(args))}")
    low, high = args[0], args[1]
    q = args[2] if q_in_list else spec.get("q")
    if q_in_list and "q" in spec:
        raise GridError(f"{at}: q is given twice ({key}'s third value and `q:`); keep one")
    if q is not None and (isinstance(q, bool) or not isinstance(q, (int, float)) or not math.isfinite(q) or q <= 0):
        raise GridError(f"{at}: q must be a positive number, got {quoted(q)}")
    as_int = spec.get("as_int", False)
    if not isinstance(as_int, bool) or (as_int and q is None) or (as_int and kind == "int"):
        raise GridError(f"{at}: as_int: true goes with a real distribution's q (its rounded values as integers), "
                        f"got as_int: {quoted(as_int)}")
    if not all(math.isfinite(v) for v in (low, high)):
        raise GridError(f"{at}: {key} bounds must be finite, got {quoted(list(args))}")
    if kind in ("normal", "beta"):
        if kind == "normal" and high < 0:
            raise GridError(f"{at}: {key} needs a standard deviation >= 0, got {high}")
        if kind == "beta" and not (low > 0 and high > 0):
            raise GridError(f"{at}: beta needs alpha > 0 and beta > 0, got [{low}, {high}]")
        return Distribution(kind, float(low), float(high), log, float(q) if q is not None else None, as_int=as_int)
    if kind == "int":
        if not all(float(v).is_integer() for v in (low, high)):
            raise GridError(f"{at}: {key} bounds must be integers, got {quoted(list(args))}; use uniform for reals")
        if q is not None and not float(q).is_integer():
            raise GridError(f"{at}: q of an integer range must be an integer, got {quoted(q)}")
        low, high = int(low), int(high)
        q = int(q) if q is not None else None
    if not low < high:
        hint = " (hi is exclusive: randint: [lo, hi + 1] includes hi)" if kind == "int" else ""
        raise GridError(f"{at}: {key} needs lo < hi, got [{args[0]}, {args[1]}]{hint}")
    if log and low <= 0:
        raise GridError(f"{at}: {key} needs lo > 0 (a log range cannot include 0 or negatives), got "
                        f"[{args[0]}, {args[1]}]; use uniform, or a positive lo such as 1e-6")
    return Distribution(kind, float(low) if kind == "float" else low, float(high) if kind == "float" else high,
                        log, q, as_int=as_int)


def _parse_choice(name: str, spec: Mapping[str, Any], args: Any, at: str) -> Distribution:
    if "q" in spec or "as_int" in spec:
        raise GridError(f"{at}: q does not apply to choice; remove it")
    if not isinstance(args, (list, tuple)) or not args:
        raise GridError(f"{at}: choice needs a non-empty list of values, got {quoted(args)}; "
                        f"for example `{name}: {{choice: [relu, tanh]}}`")
    bad = [v for v in args if v is not None and not isinstance(v, _SCALARS)]
    if bad:
        raise GridError(f"{at}: choice values must be scalars, got {quoted(bad[0])}")
    weights = spec.get("weights")
    if weights is None:
        return Distribution("choice", choices=tuple(args))
    if not isinstance(weights, (list, tuple)) or len(weights) != len(args) or any(
            isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0 for w in weights) \
            or not sum(weights) > 0:
        raise GridError(f"{at}: weights must be one number >= 0 per value ({len(args)}), not all 0, got {quoted(weights)}")
    return Distribution("choice", choices=tuple(args), weights=tuple(float(w) for w in weights))


@dataclass(frozen=True)
class SearchSpace:
    """Grid lists crossed with distributions, `num_samples` draws per grid point; a plan's grid by duck type
    (names, size, combination(index), to_source())."""

    grid_names: tuple[str, ...]
    grid_values: tuple[tuple[Any, ...], ...]
    distributions: tuple[tuple[str, Distribution], ...]
    num_samples: int
    seed: int
    #: every flag in the order the user wrote them
    names: tuple[str, ...] = ()

    @property
    def grid_size(self) -> int:
        return math.prod(len(v) for v in self.grid_values)

    @property
    def size(self) -> int:
        return self.grid_size * self.num_samples

    def grid_point(self, index: int) -> dict[str, Any]:
        """The grid lists' values of trial `index` (the first grid flag varies fastest, as in ProductGrid)."""
        point, rest = {}, index % self.grid_size
        for name, options in zip(self.grid_names, self.grid_values):
            rest, digit = divmod(rest, len(options))
            point[name] = options[digit]
        return point

    def combination(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.size:
            raise IndexError(f"trial {index} is outside the space's {self.size} trials")
        rng = random.Random(f"{self.seed}:{index}")  # str seeds hash with sha512: stable across runs
        values = {**self.grid_point(index), **{n: d.draw(rng) for n, d in self.distributions}}
        return {n: values[n] for n in self.names}

    def to_source(self) -> dict[str, Any]:
        flags: dict[str, Any] = dict(zip(self.grid_names, (list(v) for v in self.grid_values)))
        flags.update({n: d.to_source() for n, d in self.distributions})
        return {"kind": "space", "flags": {n: flags[n] for n in self.names}, "num_samples": self.num_samples,
                "seed": self.seed}


def has_distributions(mapping: Mapping[str, Any]) -> bool:
    return any(is_distribution(v) for v in mapping.values())


def check_num_samples(num_samples: Any) -> int:
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise GridError(f"num_samples must be a whole number >= 1 (draws per grid point), got {quoted(num_samples)}")
    return num_samples


def search_space(mapping: Mapping[str, Any], num_samples: Any = 1, seed: int | None = None,
                 where: str = "flags") -> SearchSpace:
    """A space from a flags mapping; every problem is reported at once (one line each, joined by `; `)."""
    problems: list[str] = []
    if not mapping:
        raise GridError(f"{where}: the space is empty; give at least one flag")
    try:
        count = check_num_samples(num_samples)
    except GridError as exc:
        problems.append(str(exc))
        count = 1
    grid_names, grid_values, distributions = [], [], []
    for name, raw in mapping.items():
        if not is_flag_name(name):
            problems.append(f"flag name {quoted(name)} is not a valid flag name (letters, digits, _, - and ., at most "
                            f"{NAME_MAX} of them)")
            continue
        if is_distribution(raw):
            try:
                distributions.append((name, parse_distribution(name, raw, where)))
            except GridError as exc:
                problems.append(str(exc).removeprefix(f"{where}: "))
            continue
        options = list(raw) if isinstance(raw, (list, tuple)) else [raw]
        if not options:
            problems.append(f"flag '{name}' has no values (empty list)")
        elif any(o is not None and not isinstance(o, _SCALARS) for o in options):
            problems.append(f"flag '{name}' has a non-scalar value in its list; write scalars, or one mapping "
                            "such as {choice: [...]} for a distribution")
        grid_names.append(name)
        grid_values.append(tuple(options))
    if problems:
        raise GridError(f"{where}: " + "; ".join(problems))
    if seed is None:
        import secrets

        seed = secrets.randbits(32)
    return SearchSpace(tuple(grid_names), tuple(grid_values), tuple(distributions), count, int(seed),
                       tuple(str(n) for n in mapping))


def space_from_source(source: Mapping[str, Any]) -> SearchSpace:
    """Inverse of `SearchSpace.to_source` (the sweep journal stores the space this way)."""
    return search_space(source["flags"], source["num_samples"], source["seed"], "journal")
