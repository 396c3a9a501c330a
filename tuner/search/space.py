"""Search spaces: distributions mixed with grid lists, as a plan the sweep iterates by index.

A flag's value in a flags file (or a Python dict) is either a grid list (every value is run, as before) or
one mapping naming a distribution:

    lr:      {loguniform: [1e-5, 1e-1]}        # log-uniform real in [lo, hi)
    dropout: {uniform: [0.0, 0.5], q: 0.05}    # uniform real, rounded to a multiple of q
    units:   {randint: [32, 513]}              # integer in [lo, hi): hi is exclusive, as numpy and Ray Tune
    act:     {choice: [relu, tanh]}            # one of the values, equally likely

`q` is written as its own key (our spelling); Ray Tune's names are accepted too: `quniform: [lo, hi, q]`,
`qloguniform`, `qrandint`, `lograndint`, `qlograndint`. With `q`, a real is rounded to the nearest multiple
of q and an integer range's hi is included only if it is a multiple (Ray Tune's rule).

The space is Ray Tune's `grid_search x num_samples`: every combination of the grid lists, each drawn
`num_samples` times for the distributions. It is a description, never materialised: trial `index` is
(draw = index // grid size, grid point = index % grid size), and its random values are drawn from a
generator seeded by (seed, index) alone, so any trial is reproducible without drawing the ones before it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Mapping

from tuner.errors import GridError

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
}
_SCALARS = (str, int, float, bool)


@dataclass(frozen=True)
class Distribution:
    """One flag's distribution: `float` in [low, high), `int` in [low, high) (hi exclusive), or `choice`."""

    kind: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    q: float | None = None
    choices: tuple[Any, ...] = ()

    def draw(self, rng: random.Random) -> Any:
        if self.kind == "choice":
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
        real = (math.exp(rng.uniform(math.log(self.low), math.log(self.high))) if self.log
                else rng.uniform(self.low, self.high))
        if self.q is not None:
            real = round(round(real / self.q) * self.q, 12)
        return real

    def to_source(self) -> dict[str, Any]:
        if self.kind == "choice":
            return {"choice": list(self.choices)}
        name = ("log" if self.log else "") + ("randint" if self.kind == "int" else "uniform")
        source: dict[str, Any] = {name: [self.low, self.high]}
        if self.q is not None:
            source["q"] = self.q
        return source


def is_distribution(value: Any) -> bool:
    """A flags-file value that names a distribution (a mapping), as opposed to a grid list or a scalar."""
    return isinstance(value, Mapping)


def parse_distribution(name: str, spec: Any, where: str = "flags") -> Distribution:
    """`{loguniform: [lo, hi]}`, `{uniform: [lo, hi], q: 0.1}`, `{randint: [lo, hi]}`, `{choice: [...]}` ..."""
    at = f"{where}: flag '{name}'"
    if not isinstance(spec, Mapping):
        raise GridError(f"{at}: expected a mapping like {{uniform: [0, 1]}}, got {spec!r}")
    keys = [k for k in spec if k != "q"]
    if len(keys) != 1 or keys[0] not in _NAMES:
        raise GridError(f"{at}: {dict(spec)!r} names no distribution; expected one of "
                        f"{', '.join(_NAMES)} (for example `{name}: {{uniform: [0, 1]}}`), or a list of values")
    key = keys[0]
    kind, log, q_in_list = _NAMES[key]
    args = spec[key]
    if kind == "choice":
        if "q" in spec:
            raise GridError(f"{at}: q does not apply to choice; remove it")
        if not isinstance(args, (list, tuple)) or not args:
            raise GridError(f"{at}: choice needs a non-empty list of values, got {args!r}; "
                            f"for example `{name}: {{choice: [relu, tanh]}}`")
        bad = [v for v in args if v is not None and not isinstance(v, _SCALARS)]
        if bad:
            raise GridError(f"{at}: choice values must be scalars, got {bad[0]!r}")
        return Distribution("choice", choices=tuple(args))
    expected = 3 if q_in_list else 2
    shape = "[lo, hi, q]" if q_in_list else "[lo, hi]"
    if not isinstance(args, (list, tuple)) or len(args) != expected:
        raise GridError(f"{at}: {key} takes {shape}, got {args!r}; for example `{name}: {{{key}: "
                        f"{'[0, 10, 2]' if q_in_list else '[1, 10]'}}}`")
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in args):
        raise GridError(f"{at}: {key} bounds must be numbers, got {list(args)!r}")
    low, high = args[0], args[1]
    q = args[2] if q_in_list else spec.get("q")
    if q_in_list and "q" in spec:
        raise GridError(f"{at}: q is given twice ({key}'s third value and `q:`); keep one")
    if q is not None and (isinstance(q, bool) or not isinstance(q, (int, float)) or not math.isfinite(q) or q <= 0):
        raise GridError(f"{at}: q must be a positive number, got {q!r}")
    if not all(math.isfinite(v) for v in (low, high)):
        raise GridError(f"{at}: {key} bounds must be finite, got {list(args)!r}")
    if kind == "int":
        if not all(float(v).is_integer() for v in (low, high)):
            raise GridError(f"{at}: {key} bounds must be integers, got {list(args)!r}; use uniform for reals")
        if q is not None and not float(q).is_integer():
            raise GridError(f"{at}: q of an integer range must be an integer, got {q!r}")
        low, high = int(low), int(high)
        q = int(q) if q is not None else None
    if not low < high:
        hint = " (hi is exclusive: randint: [lo, hi + 1] includes hi)" if kind == "int" else ""
        raise GridError(f"{at}: {key} needs lo < hi, got [{args[0]}, {args[1]}]{hint}")
    if log and low <= 0:
        raise GridError(f"{at}: {key} needs lo > 0 (a log range cannot include 0 or negatives), got "
                        f"[{args[0]}, {args[1]}]; use uniform, or a positive lo such as 1e-6")
    return Distribution(kind, float(low) if kind == "float" else low, float(high) if kind == "float" else high,
                        log, q)


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
        raise GridError(f"num_samples must be a whole number >= 1 (draws per grid point), got {num_samples!r}")
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
        if not isinstance(name, str) or not name.isidentifier():
            problems.append(f"flag name {name!r} is not a valid identifier (letters, digits, _)")
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
