"""Check a grid against a script's interface before anything is launched: every problem one line."""

from __future__ import annotations

import difflib
from typing import Any, Iterable, Mapping

from tuner.errors import FlagError, quoted
from tuner.interface.discover import FlagSpec, ScriptInterface

_NUMERIC = ("int", "float")


def _type_problem(spec: FlagSpec, value: Any) -> str | None:
    if spec.is_switch:
        return None if isinstance(value, bool) else "expects true or false (a switch)"
    if spec.kind == "count":
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return None if ok else "expects a count (0, 1, 2 ...)"
    if isinstance(value, (list, tuple)):
        if not spec.takes_many:
            return "takes one value, got a list"
        for item in value:
            problem = _scalar_problem(spec, item)
            if problem:
                return problem
        return None
    return _scalar_problem(spec, value)


def _scalar_problem(spec: FlagSpec, value: Any) -> str | None:
    if value is None:
        return None
    if spec.type == "int":
        if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
            return "expects an integer"
        if isinstance(value, str):
            try:
                int(value, 10)
            except ValueError:
                return "expects an integer"
        return None
    if spec.type == "float":
        if isinstance(value, bool):
            return "expects a number"
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:
                return "expects a number"
        return None
    if spec.type == "bool" and spec.kind not in ("valued",) and not isinstance(value, bool):
        return "expects true or false"
    return None


def _in_choices(choices: tuple[Any, ...], value: Any) -> bool:
    items = value if isinstance(value, (list, tuple)) else [value]
    return all(item in choices or str(item) in {str(c) for c in choices} for item in items)


def _decided_by_type(spec: FlagSpec, kind: type) -> bool:
    """Whether _type_problem gives every value of this type the same answer, for this flag."""
    if kind is bool or kind is type(None):
        return True
    if kind is int:
        return spec.kind != "count"  # a count must also be >= 0
    return kind is float and spec.type != "int" and spec.kind != "count"  # an int flag takes 2.0, not 2.5


def _to_check(spec: FlagSpec, values: Iterable[Any]) -> Iterable[Any]:
    """The values worth checking: all of them, or, when no choices apply and each value's type decides its
    answer, one value of each type (a 10^6-value grid is checked in milliseconds)."""
    values = list(values)
    if spec.choices is not None:
        return values
    first: dict[type, Any] = {}
    for kind, value in zip(map(type, values), values):
        if kind not in first:
            if not _decided_by_type(spec, kind):
                return values
            first[kind] = value
    return list(first.values())


def grid_problems(interface: ScriptInterface, axes: Mapping[str, Iterable[Any]]) -> list[str]:
    """One line per problem: unknown names (with the closest match), wrong types, values outside choices."""
    if interface.kind == "unknown":
        return []
    problems = []
    known = sorted({n for s in interface.flags for n in (s.dest, *(o.lstrip("-") for o in (s.name, *s.options)))})
    for name, values in axes.items():
        spec = interface.lookup(name)
        if spec is None:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f" (it accepts: {', '.join(known) or 'no flags'})"
            problems.append(f"flag '{name}' is not an option of {interface.script}{hint}")
            continue
        seen = set()
        for value in _to_check(spec, values):
            key = repr(value)
            if key in seen:
                continue
            seen.add(key)
            problem = _type_problem(spec, value)
            if problem:
                problems.append(f"flag '{name}' ({spec.name}) {problem}, got {quoted(value)}")
            elif spec.choices is not None and value is not None and not spec.is_switch \
                    and not _in_choices(spec.choices, value):
                problems.append(f"flag '{name}' ({spec.name}) must be one of "
                                f"{', '.join(map(str, spec.choices))}; got {quoted(value)}")
    return problems


def grid_axes(grid: Any) -> dict[str, list[Any]]:
    """The values each flag takes in a plan grid (tuner.plan.ProductGrid / TableGrid), a search space (its grid
    lists, and for each distribution the values that stand for it: a choice's values, a range's two ends) or a
    mapping."""
    if hasattr(grid, "distributions") and hasattr(grid, "grid_names"):  # tuner.search.space.SearchSpace
        axes = {n: list(v) for n, v in zip(grid.grid_names, grid.grid_values)}
        for name, dist in grid.distributions:
            axes[name] = dist.examples()
        return axes
    if hasattr(grid, "values") and hasattr(grid, "names") and not isinstance(grid, Mapping):
        return {n: list(v) for n, v in zip(grid.names, grid.values)}
    if hasattr(grid, "rows"):
        return {n: [row[i] for row in grid.rows] for i, n in enumerate(grid.names)}
    return {n: list(v) if isinstance(v, (list, tuple)) else [v] for n, v in grid.items()}


def check_grid(interface: ScriptInterface, grid: Any) -> None:
    """Raise FlagError naming every problem of `grid` (flag -> values, or a plan grid) against `interface`."""
    problems = grid_problems(interface, grid_axes(grid))
    if problems:
        raise FlagError("the flags do not fit the script (pass --no-check / check=False to launch anyway):\n  "
                        + "\n  ".join(problems))


def check_flags(interface: ScriptInterface, flags: Mapping[str, Any]) -> None:
    """check_grid for one run's flags (flag -> one value)."""
    check_grid(interface, {n: [v] for n, v in flags.items()})


