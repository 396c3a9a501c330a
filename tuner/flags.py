"""Flags, the script side: declare hyperparameters once, get them from defaults, flags.yml, argv or the runner.

Precedence, lowest to highest: declared defaults < flags.yml (flat, or the section chosen by `config=` /
TUNER_CONFIG) < the command line (`--name=value`, `--name value`) < values handed over by the runner
(exact JSON in TUNER_FLAGS_JSON, so the string "001" stays "001").
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from tuner.errors import FlagError, quoted
from tuner.store.layout import ENV_CONFIG, ENV_DISCOVER_FLAGS, ENV_FLAGS_JSON
from tuner.tracking import is_run_active, write_run_metadata
from tuner.values import flags_from_json, flags_to_json, parse_value
from tuner.yamlfile import read_yaml_mapping

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


@dataclass(frozen=True)
class FlagSpec:
    name: str
    type: str
    default: Any
    description: str = ""


def flag_numeric(name: str, default: float, description: str = "") -> FlagSpec:
    return FlagSpec(name, "numeric", default, description)


def flag_integer(name: str, default: int, description: str = "") -> FlagSpec:
    return FlagSpec(name, "integer", default, description)


def flag_boolean(name: str, default: bool, description: str = "") -> FlagSpec:
    return FlagSpec(name, "boolean", default, description)


def flag_string(name: str, default: str, description: str = "") -> FlagSpec:
    return FlagSpec(name, "string", default, description)


class Flags(Mapping[str, Any]):
    """Final flag values; reads like a dict (`FLAGS["lr"]`) and by attribute (`FLAGS.lr`)."""

    def __init__(self, values: dict[str, Any], specs: Sequence[FlagSpec]) -> None:
        self._values = dict(values)
        self._specs = tuple(specs)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(f"no flag named '{name}'; declared: {', '.join(self._values)}") from None

    @property
    def specs(self) -> tuple[FlagSpec, ...]:
        return self._specs

    def __repr__(self) -> str:
        return "Flags(" + ", ".join(f"{k}={v!r}" for k, v in self._values.items()) + ")"


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _number(value: Any, integer: bool) -> int | float:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text, 10)
        except ValueError:
            value = float(text)  # decimal text only: 010 is ten, 1e-3 a thousandth
    if not integer:
        return float(value)
    if isinstance(value, int):
        return value
    number = float(value)
    if not math.isfinite(number) or not number.is_integer():
        raise ValueError
    return int(number)


def convert(spec: FlagSpec, value: Any, raw: str | None = None) -> Any:
    """Convert one value to the flag's type; raises ValueError with no message on failure.

    `raw` is the text typed on the command line: a string flag keeps it verbatim, other types parse it.
    """
    if raw is not None:
        value = raw
    if spec.type == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    if spec.type == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError
    return _number(value, integer=spec.type == "integer")


def parse_command_line(arguments: Sequence[str]) -> tuple[dict[str, tuple[Any, str]], bool]:
    """`--name=value` / `--name value` pairs -> name -> (YAML-typed value, raw text); and whether --help was asked.

    Arguments not starting with `--` are skipped; `--` or `--args` stops parsing (the rest is the script's).
    """
    parsed: dict[str, tuple[Any, str]] = {}
    wants_help = False
    i = 0
    while i < len(arguments):
        arg = arguments[i]
        i += 1
        if arg in ("--", "--args"):
            break
        if arg in ("--help", "-h"):
            wants_help = True
            continue
        if not arg.startswith("--"):
            continue
        key, sep, raw = arg[2:].partition("=")
        if not sep:
            if i < len(arguments) and not arguments[i].startswith("--"):
                raw = arguments[i]
                i += 1
            else:
                raw = "true"
        parsed[key.replace("-", "_")] = (parse_value(raw), raw)
    return parsed, wants_help


def _read_flags_file(path: str, config: str | None, explicit: bool) -> dict[str, Any]:
    if not os.path.exists(path):
        if explicit:
            warnings.warn(f"flags file '{path}' does not exist; using defaults", RuntimeWarning, stacklevel=3)
        return {}
    data = read_yaml_mapping(path, FlagError, "flag: value", "flags file")
    if data and all(isinstance(v, dict) for v in data.values()):  # a profile file with sections
        section = config or "default"
        merged = dict(data.get("default") or {})
        if section != "default":
            if section not in data:
                raise FlagError(f"{path}: no section '{section}' (config); sections: {', '.join(map(str, data))}")
            merged.update(data[section] or {})
        return merged
    return data


def print_flags_help(specs: Sequence[FlagSpec], out: Any = None) -> None:
    out = out or sys.stdout
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "script"
    print(f"usage: {script} [--name=value ...]\n\nFlags:", file=out)
    width = max((len(s.name) for s in specs), default=0) + 2
    for s in specs:
        option = "--" + s.name.replace("_", "-")
        text = f"  {option:<{width + 2}}  {s.type:<8} default {s.default!r}"
        print(text + (f"  {s.description}" if s.description else ""), file=out)


def flags(*specs: FlagSpec, config: str | None = None, file: str | None = None,
          arguments: Sequence[str] | None = None) -> Flags:
    """Declare flags and resolve their values; in an active run they are recorded in flags.json.

    `file` defaults to flags.yml (silently skipped when absent); `arguments` to sys.argv[1:].
    All problems are reported in one FlagError.
    """
    problems: list[str] = []
    declared: dict[str, FlagSpec] = {}
    for spec in specs:
        if not isinstance(spec, FlagSpec):
            raise FlagError("flags(): expected flag_numeric/flag_integer/flag_boolean/flag_string(...), "
                            f"got {quoted(spec)}")
        if spec.name in declared:
            problems.append(f"a flag named '{spec.name}' has already been defined")
        declared[spec.name] = spec
    if os.environ.get(ENV_DISCOVER_FLAGS):  # `tune flags`: hand the declarations over, exit
        from tuner.interface.discover import tuner_flags_hook

        tuner_flags_hook(declared.values())
    if not declared:
        return Flags({}, ())

    # (value, raw text or None, where) per flag, later sources overwrite earlier ones
    merged: dict[str, tuple[Any, str | None, str]] = {n: (s.default, None, "default") for n, s in declared.items()}
    path = file or "flags.yml"
    for name, value in _read_flags_file(path, config or os.environ.get(ENV_CONFIG), file is not None).items():
        merged[str(name)] = (value, None, path)
    cli, wants_help = parse_command_line(sys.argv[1:] if arguments is None else arguments)
    if wants_help:
        print_flags_help(list(declared.values()))
        raise SystemExit(0)
    for name, (value, typed) in cli.items():
        merged[name] = (value, typed, "command line")
    handed = os.environ.get(ENV_FLAGS_JSON)
    if handed:
        try:
            runner_values = json.loads(handed)
        except ValueError:
            raise FlagError(f"{ENV_FLAGS_JSON} is not valid JSON") from None
        for name, value in flags_from_json(runner_values).items():
            merged[name] = (value, None, "the flags given to tune / training_run")

    undeclared = [n for n in merged if n not in declared]
    if undeclared:
        problems.append(f"the following flags were provided but not declared: {', '.join(undeclared)} "
                        f"(declared: {', '.join(declared)})")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        value, raw, where = merged[name]
        if not _is_scalar(value):
            problems.append(f"flag '{name}' from {where} has a non-scalar value {quoted(value)} "
                            "(only scalar flag values are supported)")
            continue
        try:
            values[name] = None if value is None and spec.default is None else convert(spec, value, raw)
        except (ValueError, TypeError, OverflowError):
            problems.append(f"unable to convert flag '{name}' with value {quoted(raw if raw is not None else value)} "
                            f"(from {where}) to type {spec.type}")
    if problems:
        raise FlagError("; ".join(problems))
    result = Flags(values, list(declared.values()))
    if is_run_active():
        write_run_metadata("flags", flags_to_json(values))
    return result
