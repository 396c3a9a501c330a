"""Planning: a grid (YAML, dict, DataFrame, CSV) -> the combinations to run, by index.

A product grid is never materialised: index -> combination by mixed-radix decoding (the first flag varies
fastest, as tfruns' expand.grid), so sampling 1,000 of 10^10 combinations is instant.
"""

from __future__ import annotations

import math
import os
import random
import secrets
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import yaml

from tuner.errors import QUOTE_MAX, GridError, quoted
from tuner.values import NAME_MAX, format_value, is_flag_name, parse_value
from tuner.yamlfile import DuplicateKeyError, describe_error
from tuner.yamlfile import load as load_yaml

Scalar = (str, int, float, bool)
_PLAIN_TYPES = {str, int, float, bool, type(None)}


#: the last grid file read, by (path, size, mtime): `tune` looks at a file to tell a sweep from a run and then
#: plans it, and a 10^6-value grid should be parsed once
_last_read: tuple[tuple[str, int, int], dict[str, Any]] | None = None


def read_grid_file(path: str) -> dict[str, Any]:
    """A YAML grid file as a mapping; syntax errors name the line. The caller must not modify the result."""
    global _last_read
    try:
        stat = os.stat(path)
        key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    except OSError:
        key = None
    if key is not None and _last_read is not None and _last_read[0] == key:
        return _last_read[1]
    data = _read_grid_file(path)
    if key is not None:
        _last_read = (key, data)
    return data


def _read_grid_file(path: str) -> dict[str, Any]:
    if not os.path.exists(path):
        raise GridError(f"flags file '{path}' does not exist; check the path (relative to {os.getcwd()})")
    if os.path.isdir(path):
        raise GridError(f"flags file '{path}' is a directory, expected a YAML or CSV file")
    try:
        with open(path, encoding="utf-8") as handle:
            data = load_yaml(handle)
    except DuplicateKeyError as exc:
        raise GridError(f"{path}: {exc}; give each flag once with a list of values") from None
    except yaml.YAMLError as exc:
        raise GridError(f"{path}: {describe_error(exc)}") from None
    except UnicodeDecodeError:
        raise GridError(f"{path}: not a text file") from None
    if not isinstance(data, dict):
        raise GridError(f"{path}: expected a mapping of flag: [values], got {type(data).__name__}; "
                        "for example `dropout: [0.2, 0.3]` on one line and `units: [64, 128]` on the next")
    where = os.path.abspath(path)
    _commands.pop(where, None)  # what an earlier version of the file said no longer counts
    _sweep_settings.pop(where, None)
    _programs.pop(where, None)
    from tuner.formats import convert_file, convert_mapping

    foreign = convert_file(data, path)  # a W&B sweep or a Hydra sweeper config, in tune's terms (tuner.formats)
    if foreign is not None:
        if foreign.notes:
            from tuner.console.messages import warn

            warn(f"{path}: not used by tune: {'; '.join(foreign.notes)}")
        if foreign.command is not None:
            _commands[where] = foreign.command
        _sweep_settings[where] = dict(foreign.settings)
        _programs[where] = foreign.program or ""  # "": a foreign sweep file that names no program
        return foreign.flags
    if "command" in data:  # reserved: the command template (tuner.interface.template), not a flag
        data = dict(data)
        _commands[where] = data.pop("command")
    if "sweep" in data:  # reserved: the sweep's own settings (search, stopping, metric), not a flag
        data = dict(data)
        _sweep_settings[where] = _check_sweep_settings(data.pop("sweep"), path)
    return convert_mapping(data, path, from_file=True) or data  # Hydra sweep strings: `layers: range(1, 5)`


#: the `command:` key of each grid file read (reserved top-level key), by absolute path
_commands: dict[str, Any] = {}
#: the `sweep:` key of each grid file read, checked, by absolute path
_sweep_settings: dict[str, dict[str, Any]] = {}
#: the program a foreign sweep file names (W&B's `program`), by absolute path
_programs: dict[str, str] = {}
#: what a flags file's `sweep:` section may set: the sweep options of the same names (the command line wins)
SWEEP_SETTINGS = ("sample", "seed", "num_samples", "search", "metric", "mode", "constraints", "stop", "grace_period",
                  "reduction_factor", "max_t", "min_trials", "brackets", "strict", "budget_flag",
                  "perturbation_interval", "quantile_fraction", "resample_probability", "target", "run_cap")


def _check_sweep_settings(section: Any, path: str) -> dict[str, Any]:
    example = "e.g. `sweep: {search: tpe, num_samples: 50, metric: val_loss, stop: asha}`"
    if not isinstance(section, dict):
        raise GridError(f"{path}: `sweep:` holds the sweep's settings as a mapping, got "
                        f"{type(section).__name__}; {example}")
    unknown = [k for k in section if k not in SWEEP_SETTINGS]
    if unknown:
        import difflib

        close = difflib.get_close_matches(str(unknown[0]), SWEEP_SETTINGS, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise GridError(f"{path}: unknown sweep setting '{unknown[0]}'; {hint}the settings are "
                        f"{', '.join(SWEEP_SETTINGS)}")
    return {str(k): v for k, v in section.items() if v is not None}


def grid_file_settings(path: Any) -> dict[str, Any]:
    """The `sweep:` settings of YAML flags file `path` (read it if need be); {} for anything else."""
    if not isinstance(path, (str, os.PathLike)) or os.fspath(path).lower().endswith(".csv"):
        return {}
    read_grid_file(os.fspath(path))
    return dict(_sweep_settings.get(os.path.abspath(path), {}))


def grid_file_program(path: Any) -> str | None:
    """The script a W&B sweep file names (`tune sweep.yaml`), None for anything else (read it if need be)."""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path).lower().endswith((".yaml", ".yml")) \
            or not os.path.isfile(path):
        return None
    read_grid_file(os.fspath(path))
    program = _programs.get(os.path.abspath(path))
    if program == "":
        raise GridError(f"{path} is a sweep file that names no program: add `program: train.py` to it, or give the "
                        f"script: tune train.py --flags {path}")
    return program


def grid_file_command(path: Any) -> Any:
    """The raw `command:` template of grid file `path` once it has been read; None when it has none."""
    return _commands.get(os.path.abspath(path)) if isinstance(path, (str, os.PathLike)) else None


@dataclass(frozen=True)
class ProductGrid:
    """Every combination of each flag's values."""

    names: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]

    @property
    def size(self) -> int:
        return math.prod(len(v) for v in self.values)

    def combination(self, index: int) -> dict[str, Any]:
        result = {}
        for name, options in zip(self.names, self.values):
            index, digit = divmod(index, len(options))
            result[name] = options[digit]
        return result

    def to_source(self) -> dict[str, Any]:
        return {"kind": "product", "flags": {n: list(v) for n, v in zip(self.names, self.values)}}


@dataclass(frozen=True)
class TableGrid:
    """Rows given as they are (a DataFrame or CSV): row i is combination i, nothing is expanded."""

    names: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    @property
    def size(self) -> int:
        return len(self.rows)

    def combination(self, index: int) -> dict[str, Any]:
        return dict(zip(self.names, self.rows[index]))

    def to_source(self) -> dict[str, Any]:
        return {"kind": "table", "columns": list(self.names), "rows": [list(r) for r in self.rows]}


Grid = ProductGrid | TableGrid


def varying_names(grid: Any) -> tuple[str, ...]:
    """The flags whose value differs between the grid's combinations (a search space's distributions included):
    what tells one trial from another, in the order the grid gives them."""
    if hasattr(grid, "distributions") and hasattr(grid, "grid_names"):  # tuner.search.space.SearchSpace
        drawn = {name for name, _ in grid.distributions}
        listed = {n for n, v in zip(grid.grid_names, grid.grid_values) if len(v) > 1}
        return tuple(n for n in grid.names if n in drawn or n in listed)
    if isinstance(grid, ProductGrid):
        return tuple(n for n, v in zip(grid.names, grid.values) if len(v) > 1)
    if isinstance(grid, TableGrid):
        return tuple(n for i, n in enumerate(grid.names) if len({repr(r[i]) for r in grid.rows}) > 1)
    return ()


def grid_from_source(source: Mapping[str, Any]) -> Grid:
    """Inverse of `to_source` (a sweep journal stores its grid this way)."""
    if source.get("kind") == "space":  # distributions x grid lists (tuner.search.space)
        from tuner.search.space import space_from_source

        return space_from_source(source)  # type: ignore[return-value]
    if source.get("kind") == "table":
        return TableGrid(tuple(source["columns"]), tuple(tuple(r) for r in source["rows"]))
    flags = source["flags"]
    return ProductGrid(tuple(flags), tuple(tuple(v) for v in flags.values()))


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") and not isinstance(value, Scalar) else value


def _check_name(name: Any, problems: list[str]) -> None:
    if not is_flag_name(name):
        problems.append(f"flag name {quoted(name)} is not a valid flag name (letters, digits, _ and -, at most "
                        f"{NAME_MAX} of them)")


def product_grid(mapping: Mapping[str, Any], where: str = "grid") -> ProductGrid:
    problems: list[str] = []
    if not mapping:
        raise GridError(f"{where}: the grid is empty; give at least one flag with its values")
    names, values = [], []
    for name, raw in mapping.items():
        if not is_flag_name(name):  # its values are not looked at: the name alone is the problem
            _check_name(name, problems)
            continue
        if hasattr(raw, "tolist") and getattr(raw, "ndim", 0) == 1:  # a numpy array or pandas Series of values
            raw = raw.tolist()
        options = list(raw) if isinstance(raw, (list, tuple)) else [raw]
        if not options:
            problems.append(f"flag '{name}' has no values (empty list)")
        kinds = set(map(type, options))
        plain = kinds <= _PLAIN_TYPES  # the usual case, and a 10^6-value list: no per-value work
        for option in () if plain else options:
            option = _plain(option)
            if option is not None and not isinstance(option, Scalar):
                problems.append(f"flag '{name}' has a non-scalar value {quoted(option)} (nested lists/mappings are "
                                "not supported; write one scalar per value)")
                break
        names.append(str(name))
        values.append(tuple(options) if plain else tuple(_plain(o) for o in options))
        _check_duplicates(str(name), values[-1], problems, kinds if plain else set(map(type, values[-1])))
    if problems:
        raise GridError(f"{where}: " + "; ".join(problems))
    return ProductGrid(tuple(names), tuple(values))


#: above this many numbers, the duplicate check sorts them (numpy) instead of hashing each: a set of 10^6 floats
#: takes 0.4 s, a sort of them 0.1 s
_SORTED_CHECK = 10_000


def _distinct_numbers(options: tuple[Any, ...]) -> bool:
    """No two equal and no NaN. Python-equal numbers are equal as float64 too, so distinct here is distinct as
    Python values; ints past 2^53 that float64 merges only send the caller to its exact check."""
    import numpy as np  # imported here only for a large grid

    try:
        array = np.asarray(options, dtype=np.float64)
    except OverflowError:  # an int past float64's range: the exact check decides
        return False
    if np.isnan(array).any():
        return False
    array.sort()
    return not bool((array[1:] == array[:-1]).any())


def _check_duplicates(name: str, options: tuple[Any, ...], problems: list[str], kinds: set[type]) -> None:
    """Two values equal once typed (`0.1` and `1e-1`, `5` and `+5`) would run the same combinations twice
    (`kinds`: the values' types)."""
    try:
        if float in kinds and kinds <= {int, float} and len(options) > _SORTED_CHECK:
            distinct = _distinct_numbers(options)
        else:
            distinct = len(set(options)) == len(options) and (  # NaN != NaN: only floats can be one
                float not in kinds or not any(o != o for o in options))
    except TypeError:  # an unhashable value (already refused as non-scalar)
        distinct = False
    if distinct:  # distinct as Python values (NaN aside) means distinct as typed text; only equal ones (1, 1.0
        return  # and True; 0.0 and -0.0; two NaNs) need the exact comparison below
    seen: set[tuple[str, str]] = set()
    for option in options:
        key = (type(option).__name__, format_value(option))
        if key in seen:
            text = format_value(option)
            shown = text if len(text) <= QUOTE_MAX else quoted(text)
            problems.append(f"flag '{name}' has the value {shown} more than once (values are typed "
                            "first, so 1e-1 and 0.1 are the same number); give each value once, or use a CSV grid "
                            "to repeat a combination")
            return
        seen.add(key)


def table_grid(frame: Any, where: str = "data frame") -> TableGrid:
    problems: list[str] = []
    if len(frame.columns) == 0 or len(frame) == 0:
        raise GridError(f"{where}: the table has no rows or no columns")
    for column in frame.columns:
        if str(column).startswith("Unnamed:"):
            problems.append(f"column {quoted(column)} has no name (an index column?); save the CSV with index=False")
        else:
            _check_name(column, problems)
    if len(set(frame.columns)) != len(frame.columns):
        problems.append("duplicate column names")
    missing = frame.isna()
    for column in frame.columns:
        bad = [int(i) for i in missing.index[missing[column]]][:5]
        if bad:
            problems.append(f"column '{column}' has missing values (NaN) in rows {bad}; fill them or drop the rows")
    if problems:
        raise GridError(f"{where}: " + "; ".join(problems))
    rows = tuple(tuple(_plain(v) for v in row) for row in frame.itertuples(index=False, name=None))
    return TableGrid(tuple(str(c) for c in frame.columns), rows)


def load_grid(source: Any, overrides: Mapping[str, Sequence[Any]] | None = None, num_samples: Any = None,
              seed: int | None = None) -> Grid:
    """A grid from a YAML/CSV path, a dict or a DataFrame, with `--flag name=v1,v2` overrides applied.

    A mapping with distributions (`{uniform: [0, 1]}` ...) or a `num_samples` is a search space
    (tuner.search.space): grid lists crossed with `num_samples` draws, seeded by `seed`."""
    overrides = dict(overrides or {})
    if isinstance(source, Mapping):  # Ray Tune search space objects (tune.uniform ...) become tune's own spaces
        from tuner.formats import convert_mapping

        source = convert_mapping(source, "flags") or source
    if num_samples is not None or (isinstance(source, (str, os.PathLike)) and not os.fspath(source).lower().endswith(
            ".csv")) or isinstance(source, Mapping) or any(isinstance(v, Mapping) for v in overrides.values()):
        space = _load_space(source, overrides, num_samples, seed)
        if space is not None:
            return space
    if source is None:
        if not overrides:
            raise GridError("no grid: give --flags FILE or --flag name=v1,v2")
        return product_grid(overrides, "--flag")
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path.lower().endswith(".csv"):
            import pandas as pd

            if not os.path.isfile(path):
                raise GridError(f"flags file '{path}' does not exist or is not a file")
            try:
                # cells as text, typed by the one rule (tuner.values): `001` stays "001", `yes` stays "yes"
                frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
                frame = frame.apply(lambda column: column.map(lambda v: v if not isinstance(v, str) else parse_value(v)))
            except (ValueError, OSError) as exc:
                raise GridError(f"{path}: cannot read CSV: {exc}") from None
            grid: Grid = table_grid(frame, path)
        else:
            mapping = read_grid_file(path)
            grid = product_grid({**mapping, **overrides}, path)
            return grid
    elif hasattr(source, "columns") and hasattr(source, "itertuples"):
        grid = table_grid(source)
    elif isinstance(source, Mapping):
        return product_grid({**source, **overrides}, "flags")
    else:
        raise GridError(f"flags must be a mapping of flag -> values, a DataFrame, or a YAML/CSV path; "
                        f"got {type(source).__name__}")
    for name, values in overrides.items():  # a table grid: one value sets a column for every row
        if len(values) != 1:
            raise GridError(f"--flag {name}: a table grid takes one value per --flag (it sets the column)")
    if overrides:
        names = list(grid.names) + [n for n in overrides if n not in grid.names]
        rows = []
        for index in range(grid.size):
            combo = {**grid.combination(index), **{n: v[0] for n, v in overrides.items()}}
            rows.append(tuple(combo[n] for n in names))
        grid = TableGrid(tuple(names), tuple(rows))
    return grid


def _load_space(source: Any, overrides: Mapping[str, Sequence[Any]], num_samples: Any, seed: int | None) -> Any:
    """The search space of a mapping / YAML file when it has distributions or num_samples is given, else None."""
    from tuner.search.space import has_distributions, search_space

    if isinstance(source, (str, os.PathLike)):
        where, mapping = os.fspath(source), read_grid_file(os.fspath(source))
    elif isinstance(source, Mapping) or source is None:
        where, mapping = ("flags" if source is not None else "--flag"), dict(source or {})
    else:
        raise GridError("num_samples applies to a mapping or YAML flags file, not to a table of rows")
    merged = {**mapping, **overrides}
    if num_samples is None and not has_distributions(merged):
        return None
    return search_space(merged, 1 if num_samples is None else num_samples, seed, where)


def check_sample(sample: Any) -> float | None:
    """`sample` must be a number in (0, 1]."""
    if sample is None:
        return None
    try:
        value = float(sample)
    except (TypeError, ValueError):
        raise GridError(f"sample must be a number in (0, 1], got {quoted(sample)}") from None
    if isinstance(sample, bool) or not math.isfinite(value) or not 0 < value <= 1:
        hint = f"; for {value:g}% of them use {value / 100:g}" if 1 < value <= 100 else ""
        raise GridError(f"sample must be a number in (0, 1] (a fraction of the combinations), got {quoted(sample)}{hint}")
    return value


@dataclass(frozen=True)
class Plan:
    """Which combinations of a grid to run, in order, and how they were chosen."""

    grid: Grid
    #: a range when every combination runs (never expanded: a 10^6-value grid costs nothing here)
    indices: Sequence[int]
    sample: float | None
    seed: int | None
    total: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", self.grid.size)

    def combinations(self) -> list[tuple[int, dict[str, Any]]]:
        return [(i, self.grid.combination(i)) for i in self.indices]


def check_run_cap(run_cap: Any) -> int | None:
    """`run_cap` (W&B's name): at most this many trials, a whole number >= 1."""
    if run_cap is not None and (isinstance(run_cap, bool) or not isinstance(run_cap, int) or run_cap < 1):
        raise GridError(f"run_cap must be a whole number >= 1 (the most trials to run), got {quoted(run_cap)}")
    return run_cap


def make_plan(grid: Grid, sample: Any = None, seed: int | None = None, run_cap: int | None = None) -> Plan:
    """ceil(sample * N) distinct combinations (at least 1), uniformly at random, reproducible from `seed`;
    `run_cap` keeps the first run_cap of them (W&B's run_cap: a grid's first combinations, a space's first draws)."""
    plan = _make_plan(grid, sample, seed)
    if run_cap is not None and check_run_cap(run_cap) and run_cap < len(plan.indices):
        plan = Plan(plan.grid, plan.indices[:run_cap], plan.sample, plan.seed)
    return plan


def _make_plan(grid: Grid, sample: Any = None, seed: int | None = None) -> Plan:
    fraction = check_sample(sample)
    if fraction is not None and getattr(grid, "distributions", None) is not None:
        raise GridError("--sample takes a fraction of a pure grid; a space with distributions is sized by "
                        "--num-samples N (draws per grid point)")
    total = grid.size
    if total == 0:
        raise GridError("the grid has no combinations")
    if fraction is None:
        return Plan(grid, range(total) if total < 10**7 else _too_big(total), None, seed)
    count = max(1, math.ceil(fraction * total - 1e-9))
    if count > 10**7:
        _too_big(count)
    if seed is None:
        seed = secrets.randbits(32)
    # random.sample over a range object never builds the population: memory is O(count)
    indices = tuple(random.Random(seed).sample(range(total), count))
    return Plan(grid, indices, fraction, seed)


def plan_indices_record(plan: Plan) -> list[int] | None:
    """What a journal header keeps of the plan's indices: the sampled ones, or None for "all of them"."""
    return None if isinstance(plan.indices, range) and plan.indices == range(plan.total) else list(plan.indices)


def plan_from_record(grid: Grid, indices: Sequence[int] | None, sample: float | None, seed: int | None) -> Plan:
    return Plan(grid, range(grid.size) if indices is None else tuple(indices), sample, seed)


def _too_big(count: int) -> range:
    raise GridError(f"{count:,} combinations is more than one sweep can run (10,000,000); "
                    "use --sample to run a fraction of them")
