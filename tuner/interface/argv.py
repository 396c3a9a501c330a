"""Flags to argv in the script's own syntax (docs/design.md, "The script's interface").

Option names reach argv exactly as the script spells them (`--batch-size`, `--10sec`); switches follow their
kind (store_true: `--name` or nothing, store_false the reverse, absl: `--name`/`--noname`, BooleanOptional:
`--name`/`--no-name`); valued options `--name=value`; nargs options several arguments; append options one
`--name=value` per item. Values are rendered exactly (tuner.values.format_value, strings verbatim).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Mapping, Sequence

from tuner.errors import FlagError
from tuner.interface.discover import FlagSpec, ScriptInterface
from tuner.store.layout import ENV_FLAGS_JSON
from tuner.values import format_value

#: Linux's limit on one argv or environment string, the terminating NUL included (MAX_ARG_STRLEN)
MAX_ARG_STRLEN = 131072
#: what argv + environment may use of SC_ARG_MAX: the rest is left for the kernel's pointers and launchers
ARG_MAX_SHARE = 0.5


def render(value: Any) -> str:
    return format_value(value, quote_strings=False)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def option_args(spec: FlagSpec, value: Any, text: Callable[[Any], str] = render) -> list[str]:
    """The argv items that hand `value` to the option `spec` (`text`: how a value is written, W&B style or ours)."""
    name = spec.name
    if spec.kind == "positional":
        return [text(v) for v in _as_list(value)]
    if spec.kind in ("store_true", "store_false", "store_const", "append_const"):
        on = bool(value) if spec.kind != "store_false" else not bool(value)
        return [name] if on else []
    if spec.kind == "absl_bool":
        return [name if value else "--no" + name.lstrip("-")]
    if spec.kind == "boolean_optional":
        negative = [o for o in spec.options if o.startswith("--no")]
        return [name if value else (negative[0] if negative else "--no-" + name.lstrip("-"))]
    if spec.kind == "count":
        return [name] * int(value)
    if spec.kind == "append":
        return [a for item in _as_list(value) for a in _valued(name, item, text)]
    if spec.takes_many:
        return [name, *(text(v) for v in _as_list(value))]
    return _valued(name, value, text)


def _valued(name: str, value: Any, text: Callable[[Any], str] = render) -> list[str]:
    if name.startswith("--"):
        return [f"{name}={text(value)}"]
    return [name, text(value)]  # a short option: `-n 5` (argparse reads `-n=5` as "=5")


def build_argv(interface: ScriptInterface | None, flags: Mapping[str, Any],
               text: Callable[[Any], str] = render) -> list[str]:
    """argv for `flags`; with no interface (or a tuner/unknown one) every flag is `--name=value`."""
    argv: list[str] = []
    positionals: list[tuple[int, list[str]]] = []
    order = {id(s): i for i, s in enumerate(interface.flags)} if interface else {}
    for name, value in flags.items():
        spec = interface.lookup(name) if interface and interface.kind in ("argparse", "absl", "click") else None
        if spec is None:
            argv.append(f"--{name}={text(value)}")
        elif spec.kind == "positional":
            positionals.append((order[id(spec)], option_args(spec, value, text)))
        else:
            argv.extend(option_args(spec, value, text))
    for _, items in sorted(positionals, key=lambda p: p[0]):
        argv.extend(items)
    return argv


def arg_max() -> int:
    try:
        return int(os.sysconf("SC_ARG_MAX"))
    except (ValueError, OSError, AttributeError):
        return 131072


def check_arg_sizes(command: Sequence[str], env: Mapping[str, str] | None = None) -> None:
    """Raise FlagError when `command` (with `env` added to the environment) cannot be exec'd."""
    problems = []
    if sys.platform.startswith("linux"):
        for item in command:
            if len(item.encode()) + 1 > MAX_ARG_STRLEN:
                problems.append(f"argument '{item[:40]}...' is {len(item.encode()):,} bytes; one argument may "
                                f"have at most {MAX_ARG_STRLEN - 1:,} (Linux MAX_ARG_STRLEN): pass a file path instead")
        for key, value in (env or {}).items():
            if len(key) + len(value.encode()) + 2 > MAX_ARG_STRLEN:
                problems.append(f"environment variable {key} would be {len(value.encode()):,} bytes; at most "
                                f"{MAX_ARG_STRLEN - len(key) - 2:,} (Linux MAX_ARG_STRLEN): pass a file path instead")
    full = dict(os.environ)
    full.update(env or {})
    total = sum(len(i.encode()) + 1 for i in command) + sum(len(k) + len(v.encode()) + 2 for k, v in full.items())
    limit = int(arg_max() * ARG_MAX_SHARE)
    if total > limit:
        problems.append(f"the command line and environment would take {total:,} bytes, more than {limit:,} "
                        f"(half of SC_ARG_MAX): pass large values as a file path instead")
    if problems:
        raise FlagError("; ".join(problems))


def check_launchable(script: str, interface: ScriptInterface | None, axes: Mapping[str, Sequence[Any]],
                     extra_args: Sequence[str] = ()) -> None:
    """Before anything is written: the longest value of each flag together must fit argv and the environment
    (argv, and TUNER_FLAGS_JSON, which carries every flag)."""
    from workers.files import dumps_json

    carried = [name for name, values in axes.items() if _holds_nul(values)] + (["--"] if _holds_nul(extra_args) else [])
    if carried:
        raise FlagError(f"{', '.join(carried)}: a value holds a NUL character (\\0), which no command line or "
                        "environment can carry; remove it")
    worst = {name: _longest(values) for name, values in axes.items() if len(values)}
    check_arg_sizes((sys.executable, script, *build_argv(interface, worst), *extra_args),
                    {ENV_FLAGS_JSON: dumps_json(worst)})


def _holds_nul(values: Sequence[Any]) -> bool:
    """Whether a text value (or an item of a list value) holds a NUL: numbers only cost a pass over their types,
    strings one scan in C of them joined."""
    kinds = set(map(type, values))
    if kinds <= {int, float, bool, type(None)}:
        return False
    if kinds == {str}:
        return "\0" in "".join(values)
    return any("\0" in render(v) if not isinstance(v, (list, tuple)) else any("\0" in render(i) for i in v)
               for v in values)


#: no float's repr is longer than this one's (24 characters: sign, 17 digits, point, a 4-character exponent)
_LONGEST_FLOAT = -2.2250738585072014e-308
#: up to this many floats, the longest is found value by value
_MEASURED_FLOATS = 10_000


def _longest(values: Sequence[Any]) -> Any:
    """The value whose argv text is longest. Numbers render as repr() and strings as themselves, so a list of
    those is measured in C; anything else value by value."""
    kinds = set(map(type, values))
    if kinds == {int}:  # the longest repr is the largest or the most negative: no per-value work
        return max(max(values), min(values), key=lambda v: len(repr(v)))
    if float in kinds and kinds <= {int, float} and len(values) > _MEASURED_FLOATS:
        # a stand-in for the floats at most a few bytes longer than the longest (10^6 reprs cost 0.25 s); an int
        # among them (`1` in a list of learning rates) is as short unless some value reaches 10^23
        if -1e23 < min(values) and max(values) < 1e23:
            return _LONGEST_FLOAT
        ints = [v for v in values if type(v) is int]
        return max([_LONGEST_FLOAT, *([max(ints), min(ints)] if ints else [])], key=lambda v: len(repr(v)))
    if kinds <= {int, float}:
        lengths = list(map(len, map(repr, values)))
    elif kinds == {str}:
        lengths = list(map(len, values))
    else:
        return max(values, key=lambda v: len(render(v)) if not isinstance(v, (list, tuple))
                   else sum(len(render(i)) for i in v))
    return values[max(range(len(lengths)), key=lengths.__getitem__)]
