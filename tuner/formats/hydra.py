"""Hydra's sweep syntax, read by Hydra's own override grammar (hydra/grammar/OverrideLexer.g4, OverrideParser.g4).

`parse_value(text)` reads the value part of an override (after `key=`) as Hydra does: primitives typed by
Hydra's lexer (`1_000` an int, `tRuE` a bool, `inf` a float, anything else text with its escapes undone),
quoted strings, lists `[a, b]`, dicts `{a: 1}`, a simple choice sweep `a,b,c`, and the functions `choice`,
`range`, `interval`, `tag`, `sort`, `shuffle`, `glob`, `int`, `float`, `str`, `bool`. The tests compare it with
`hydra.core.override_parser.overrides_parser.OverridesParser` case by case.

Where it is used, and what a sweep becomes:
- `--flag NAME=VALUE` (`flag_values`): a value with a Hydra sweep function (`choice(`, `range(`, `interval(`,
  `tag(`, `sort(`, `shuffle(`, `glob(`) is read by this grammar, with Hydra's basic sweeper's meaning: a choice
  or range is a grid axis (range's stop excluded, as Python's), `interval(lo, hi)` a uniform real draw
  (`tag(log, interval(...))` log-uniform; ints after `int(...)`: an integer draw with hi included, as Optuna's
  sweeper has it), which needs --num-samples or a search. Any other value keeps tune's own rule
  (tuner.values.parse_values): `a,b` is two values in both; the rules differ on `1_000` (Hydra: 1000, tune:
  text), `tRuE`/`nUlL` (Hydra: any case), `.inf` (tune: a float, Hydra: text), `~` (tune: null, Hydra: an
  error), spaces around commas (Hydra drops them, tune keeps them in the text), `[1,2]`/`{a: 1}` (Hydra: a
  list, a dict; tune: split at the comma) and backslash escapes (Hydra only).
- A flags file's string values (`convert_file_value`) that hold a sweep function, with the same meaning.
- A Hydra sweeper config (`convert_sweeper_config`): `hydra.sweeper.params` of a Hydra config (or a sweeper
  config file's own `params:`). With the Optuna sweeper (`_target_`/`defaults` naming optuna, or an Optuna
  `sampler:`) values have hydra-optuna-sweeper's meaning: choice and a simple choice are categorical draws,
  `range(a, b)` an integer draw with b included, a stepped range the values it steps through, interval a real
  draw; its sampler becomes `--search`, `n_trials` the number of trials, `direction` the mode. The basic
  sweeper's params are grid axes.
"""

from __future__ import annotations

import decimal
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from tuner.errors import GridError

from .foreign import UNCHANGED, ForeignSweep

# -------------------------------------------------------------------------------------------------------------
# What the grammar yields


@dataclass
class QuotedString:
    text: str
    quote: str


@dataclass
class ChoiceSweep:
    list: list[Any]
    simple_form: bool = False
    tags: set[str] = field(default_factory=set)
    shuffle: bool = False


@dataclass
class RangeSweep:
    start: Any
    stop: Any
    step: Any = 1
    tags: set[str] = field(default_factory=set)
    shuffle: bool = False

    def values(self) -> list[Any]:
        """Hydra's RangeSweep.range(): Python's range for ints, decimal steps for reals (stop excluded)."""
        if all(isinstance(v, int) and not isinstance(v, bool) for v in (self.start, self.stop, self.step)):
            return list(range(self.start, self.stop, self.step))
        start, stop, step = (decimal.Decimal(str(v)) for v in (self.start, self.stop, self.step))
        if step == 0:
            raise GridError(f"range: invalid range values (start:{start}, stop:{stop}, step:{step})")
        out: list[Any] = []
        index = 0
        while True:
            current = start + step * index
            if (step > 0 and current >= stop) or (step < 0 and current <= stop):
                return out
            out.append(float(current))
            index += 1


@dataclass
class IntervalSweep:
    start: Any
    end: Any
    tags: set[str] = field(default_factory=set)


@dataclass
class Glob:
    include: list[str]
    exclude: list[str]


SWEEPS = (ChoiceSweep, RangeSweep, IntervalSweep, Glob)

# -------------------------------------------------------------------------------------------------------------
# The lexer (VALUE_MODE): ANTLR takes the longest match, the first rule on a tie

_INT_UNSIGNED = r"(?:0|[1-9](?:_?[0-9])*)"
_POINT_FLOAT = rf"(?:{_INT_UNSIGNED}?\.[0-9](?:_?[0-9])*|{_INT_UNSIGNED}\.)"
_EXPONENT_FLOAT = rf"(?:(?:{_POINT_FLOAT}|{_INT_UNSIGNED})[eE][+-]?[0-9](?:_?[0-9])*)"
_WS = r"[ \t]"
_RULES = (
    ("POPEN", rf"{_WS}*\({_WS}*"),
    ("COMMA", rf"{_WS}*,{_WS}*"),
    ("PCLOSE", rf"{_WS}*\)"),
    ("BRACKET_OPEN", rf"\[{_WS}*"),
    ("BRACKET_CLOSE", rf"{_WS}*\]"),
    ("BRACE_OPEN", rf"\{{{_WS}*"),
    ("BRACE_CLOSE", rf"{_WS}*\}}"),
    ("COLON", rf"{_WS}*:{_WS}*"),
    ("EQUAL", rf"{_WS}*={_WS}*"),
    ("FLOAT", rf"[+-]?(?:{_EXPONENT_FLOAT}|{_POINT_FLOAT}|[Ii][Nn][Ff]|[Nn][Aa][Nn])"),
    ("INT", rf"[+-]?{_INT_UNSIGNED}"),
    ("BOOL", r"[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]"),
    ("NULL", r"[Nn][Uu][Ll][Ll]"),
    ("UNQUOTED_CHAR", r"[/\-\\+.$%*@?|]"),
    ("ID", r"[a-zA-Z_][a-zA-Z0-9_\-]*"),
    ("ESC", r"(?:\\\\|\\\(|\\\)|\\\[|\\\]|\\\{|\\\}|\\:|\\=|\\,|\\ |\\\t)+"),
    ("WS", rf"{_WS}+"),
    ("QUOTED_VALUE", r"\"(?:(?:\\\\)*|.*?[^\\](?:\\\\)*)\"|'(?:(?:\\\\)*|.*?[^\\](?:\\\\)*)'"),
    ("INTERPOLATION", r"\$\{[^}]+\}"),
)
_COMPILED = [(name, re.compile(pattern, re.S)) for name, pattern in _RULES]
_PRIMITIVE = {"ID", "NULL", "INT", "FLOAT", "BOOL", "INTERPOLATION", "UNQUOTED_CHAR", "COLON", "ESC", "WS"}
_DICT_KEY = _PRIMITIVE - {"COLON", "INTERPOLATION"}


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text):
        best: tuple[str, str] | None = None
        for name, pattern in _COMPILED:
            match = pattern.match(text, position)
            if match and match.end() > position and (best is None or len(match.group()) > len(best[1])):
                best = (name, match.group())
        if best is None:
            raise GridError(f"token recognition error at: '{text[position]}'")
        tokens.append(best)
        position += len(best[1])
    return tokens


# -------------------------------------------------------------------------------------------------------------
# The parser (OverrideParser.g4's `value` and below) and the functions of Hydra's OverridesParser


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self, offset: int = 0) -> str | None:
        index = self.at + offset
        return self.tokens[index][0] if index < len(self.tokens) else None

    def take(self, kind: str) -> str:
        if self.peek() != kind:
            got = self.tokens[self.at][1] if self.at < len(self.tokens) else "<EOF>"
            raise GridError(f"mismatched input '{got}' expecting {kind}")
        self.at += 1
        return self.tokens[self.at - 1][1]

    def value(self) -> Any:
        first = self.element()
        if self.peek() != "COMMA":
            return first
        items = [first]
        while self.peek() == "COMMA":
            self.at += 1
            items.append(self.element())
        return ChoiceSweep(items, simple_form=True)

    def element(self) -> Any:
        kind = self.peek()
        if kind == "ID" and self.peek(1) == "POPEN":
            return self.function()
        if kind == "BRACKET_OPEN":
            self.at += 1
            items = []
            if self.peek() != "BRACKET_CLOSE":
                items.append(self.element())
                while self.peek() == "COMMA":
                    self.at += 1
                    items.append(self.element())
            self.take("BRACKET_CLOSE")
            return items
        if kind == "BRACE_OPEN":
            self.at += 1
            pairs: dict[Any, Any] = {}
            if self.peek() != "BRACE_CLOSE":
                while True:
                    key = self.primitive(_DICT_KEY)
                    self.take("COLON")
                    pairs[key] = self.element()
                    if self.peek() != "COMMA":
                        break
                    self.at += 1
            self.take("BRACE_CLOSE")
            return pairs
        return self.primitive(_PRIMITIVE)

    def primitive(self, allowed: set[str]) -> Any:
        if self.peek() == "QUOTED_VALUE" and allowed is _PRIMITIVE:  # a dict key is never quoted
            text = self.take("QUOTED_VALUE")
            return QuotedString(_unescape_quoted(text), text[0])
        start = self.at
        while self.peek() in allowed:
            self.at += 1
        parts = self.tokens[start:self.at]
        if not parts:
            got = self.tokens[self.at][1] if self.at < len(self.tokens) else "<EOF>"
            raise GridError(f"no viable alternative at input '{got}'")
        if parts[0][0] == "WS":
            if len(parts) == 1:
                raise GridError("Trying to parse a primitive that is all whitespaces")
            parts = parts[1:]
        if parts[-1][0] == "WS":
            parts = parts[:-1]
        if len(parts) > 1:
            return "".join(t[1::2] if k == "ESC" else t for k, t in parts)
        kind, text = parts[0]
        if kind == "INT":
            return int(text)
        if kind == "FLOAT":
            return float(text)
        if kind == "NULL":
            return None
        if kind == "BOOL":
            return text.lower() == "true"
        if kind == "ESC":
            return text[1::2]
        return text

    def function(self) -> Any:
        name = self.take("ID")
        self.take("POPEN")
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        while self.peek() != "PCLOSE":
            if args or kwargs:
                self.take("COMMA")
            if self.peek() == "ID" and self.peek(1) == "EQUAL":
                key = self.take("ID")
                self.at += 1
                kwargs[key] = self.element()
            else:
                if kwargs:
                    raise GridError("positional argument follows keyword argument")
                args.append(self.element())
        self.take("PCLOSE")
        args = [a.text if isinstance(a, QuotedString) else a for a in args]  # Hydra unquotes top-level arguments
        kwargs = {k: v.text if isinstance(v, QuotedString) else v for k, v in kwargs.items()}
        try:
            return _call(name, args, kwargs)
        except (TypeError, ValueError) as exc:
            raise GridError(f"{type(exc).__name__} while evaluating '{name}(...)': {exc}") from None


def _unescape_quoted(text: str) -> str:
    """Hydra's _unescape_quoted_string: backslashes before a quote (and at the end) are halved."""
    quote, body = text[0], text[1:]
    pattern = re.compile(r"(\\)+" + re.escape(quote))
    tokens = []
    match = pattern.search(body)
    while match is not None:
        start, stop = match.span()
        tokens.append(body[:start])
        tokens.append(body[start + 1:stop:2])
        body = body[stop:]
        match = pattern.search(body)
    if len(body) > 1:
        tokens.append(body[:-1])
    return "".join(tokens)


def _number(value: Any, what: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number, got {value!r}")
    return value


def _cast(function: Any, value: Any) -> Any:
    if isinstance(value, QuotedString):
        return _cast(function, value.text)
    if isinstance(value, dict):
        return {k: _cast(function, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cast(function, v) for v in value]
    if isinstance(value, ChoiceSweep):
        return ChoiceSweep([_cast(function, v) for v in value.list], value.simple_form, set(value.tags), value.shuffle)
    if isinstance(value, RangeSweep):
        if function not in (float, int):
            raise ValueError("Range can only be cast to int or float")
        return RangeSweep(function(value.start), function(value.stop), function(value.step), set(value.tags),
                          value.shuffle)
    if isinstance(value, IntervalSweep):
        if function not in (float, int):
            raise ValueError(f"Intervals cannot be cast to {function.__name__}")
        return IntervalSweep(function(value.start), function(value.end), set(value.tags))
    if function is str:
        return str(value).lower() if isinstance(value, bool) else str(value)
    if function is bool and isinstance(value, str):
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(f"Cannot cast '{value}' to bool")
    return function(value)


def _call(name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    if name in ("int", "float", "str", "bool"):
        function = {"int": int, "float": float, "str": str, "bool": bool}[name]
        if args and "value" in kwargs:
            raise TypeError("cannot use both position and named arguments")
        if "value" in kwargs:
            value = kwargs["value"]
        elif not args:
            raise TypeError("No positional args or value specified")
        else:
            value = args[0] if len(args) == 1 else ChoiceSweep(list(args), simple_form=True)
        return _cast(function, value)
    if name == "choice":
        if kwargs or not args:
            raise ValueError("empty choice is not legal")
        if len(args) == 1 and isinstance(args[0], ChoiceSweep):
            if not args[0].simple_form:
                raise ValueError("nesting choices is not supported")
            args[0].simple_form = False
            return args[0]
        return ChoiceSweep(list(args))
    if name == "range":
        values = dict(zip(("start", "stop", "step"), args), **kwargs)
        start, stop = values.get("start"), values.get("stop")
        if stop is None:
            start, stop = 0, start
        step = values.get("step", 1)
        return RangeSweep(_number(start, "start"), _number(stop, "stop"), _number(step, "step"))
    if name == "interval":
        values = dict(zip(("start", "end"), args), **kwargs)
        return IntervalSweep(float(_number(values["start"], "start")), float(_number(values["end"], "end")))
    if name == "tag":
        items = list(args) + ([kwargs["sweep"]] if "sweep" in kwargs else [])
        if not items or not isinstance(items[-1], (ChoiceSweep, RangeSweep, IntervalSweep)):
            raise ValueError("Last argument to tag() must be a choice(), range() or interval()")
        for tag in items[:-1]:
            if not isinstance(tag, str):
                raise ValueError(f"tag arguments type must be string, got {type(tag).__name__}")
        sweep = items[-1]
        if isinstance(sweep, Glob):
            raise ValueError("Last argument to tag() must be a choice(), range() or interval()")
        sweep.tags = set(items[:-1])
        return sweep
    if name in ("sort", "shuffle"):
        return _order(name, args, kwargs)
    if name == "glob":
        include = kwargs.get("include", args[0] if args else None)
        exclude = kwargs.get("exclude", args[1] if len(args) > 1 else None)
        include = [include] if isinstance(include, str) else list(include or [])
        exclude = [] if exclude is None else [exclude] if isinstance(exclude, str) else list(exclude)
        return Glob(include, exclude)
    raise ValueError(f"Unknown function '{name}'")


def _order(name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    reverse = bool(kwargs.get("reverse", False))
    target = kwargs.get("sweep", kwargs.get("list"))
    if target is None:
        target = args[0] if len(args) == 1 else ChoiceSweep(list(args), simple_form=True) if args else None
    if target is None:
        raise ValueError(f"empty {name} input")
    if name == "shuffle":
        if isinstance(target, (ChoiceSweep, RangeSweep)):
            target.shuffle = True
            return target
        return list(target) if isinstance(target, list) else [target]
    if isinstance(target, ChoiceSweep):
        target.list = sorted(target.list, reverse=reverse)
        return target
    if isinstance(target, RangeSweep):
        if (target.step > 0) == reverse:  # Hydra's _reverse_range_sweep: the same values the other way round
            values = target.values()
            if len(values) > 1:
                if all(isinstance(v, int) for v in (target.start, target.stop, target.step)):
                    target.start, target.step = values[-1], -target.step
                    target.stop = values[0] + target.step
                else:
                    step = decimal.Decimal(str(target.step))
                    last = decimal.Decimal(str(target.start)) + (len(values) - 1) * step
                    first = decimal.Decimal(str(target.start))
                    target.start, target.step, target.stop = last, -step, first - step / 2
        return target
    if isinstance(target, list):
        return sorted(target, reverse=reverse)
    return target


def parse_value(text: str) -> Any:
    """The value part of a Hydra override, as Hydra's grammar reads it (raises GridError on a syntax error)."""
    if text == "":
        return ""
    parser = _Parser(text)
    value = parser.value()
    if parser.at != len(parser.tokens):
        raise GridError(f"extraneous input '{parser.tokens[parser.at][1]}' expecting <EOF>")
    return value


def plain(value: Any) -> Any:
    """An element as the job sees it (Hydra's Override.value()): quoted strings are their text."""
    if isinstance(value, QuotedString):
        return value.text
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    return value


# -------------------------------------------------------------------------------------------------------------
# Sweeps in tune's terms

_FUNCTIONS = re.compile(r"\b(?:choice|range|interval|tag|sort|shuffle|glob)\s*\(")


def has_sweep_function(text: str) -> bool:
    return bool(_FUNCTIONS.search(text))


def to_flag_value(name: str, value: Any, optuna: bool = False) -> Any:
    """A parsed Hydra value as tune's flag value: a list of values (a grid axis, or one value) or a distribution
    mapping. `optuna`: hydra-optuna-sweeper's meaning (choices and ranges drawn), else the basic sweeper's (grid)."""
    if isinstance(value, Glob):
        raise GridError(f"flag '{name}': glob() selects options of a Hydra config group, which tune does not know; "
                        "list the values instead, e.g. choice(a, b)")
    if isinstance(value, ChoiceSweep):
        items = [plain(v) for v in value.list]
        return {"choice": items} if optuna else items
    if isinstance(value, RangeSweep):
        if not optuna or value.shuffle:
            items = value.values()
            return {"choice": items} if optuna else items
        if any(isinstance(v, float) for v in (value.start, value.stop, value.step)):
            start, stop, step = (decimal.Decimal(str(v)) for v in (value.start, value.stop, value.step))
            count = int((stop - start) / step) + 1 if step else 0
            return {"choice": [float(start + step * i) for i in range(max(count, 0))]}
        if value.step == 1:  # Optuna's IntDistribution(start, stop): stop included
            return {"randint": [int(value.start), int(value.stop) + 1]}
        return {"choice": list(range(int(value.start), int(value.stop) + 1, int(value.step)))}
    if isinstance(value, IntervalSweep):
        log = "log" in value.tags
        if isinstance(value.start, int) and isinstance(value.end, int):  # int(interval(...)): Optuna's IntDistribution
            return {"lograndint" if log else "randint": [value.start, value.end + 1]}
        return {"loguniform" if log else "uniform": [float(value.start), float(value.end)]}
    return [plain(value)]


def flag_values(raw: str, name: str = "flag") -> Any:
    """A `--flag NAME=RAW` value: Hydra's grammar when RAW holds a sweep function, else tune's rule; a list of values
    or a distribution mapping."""
    if not has_sweep_function(raw):
        from tuner.values import parse_values

        return parse_values(raw)
    try:
        return to_flag_value(name, parse_value(raw))
    except GridError as exc:
        raise GridError(f"--flag {name}={raw}: {exc} (Hydra's override syntax)") from None


def convert_file_value(name: str, value: Any, where: str) -> Any:
    """A flags file's value: a string holding a Hydra sweep function is converted; anything else is UNCHANGED."""
    if not isinstance(value, str) or not has_sweep_function(value):
        return UNCHANGED
    try:
        converted = to_flag_value(name, parse_value(value))
    except GridError as exc:
        raise GridError(f"{where}: flag '{name}': {value!r}: {exc} (Hydra's override syntax)") from None
    return converted


# -------------------------------------------------------------------------------------------------------------
# A Hydra sweeper config


_SWEEPER_KEYS = ("_target_", "sampler", "direction", "storage", "study_name", "n_trials", "n_jobs",
                 "max_failure_rate", "custom_search_space", "params", "max_batch_size", "search_space")
_SAMPLERS = {"TPESampler": "tpe", "RandomSampler": "random", "CmaEsSampler": "cmaes", "GPSampler": "gp"}


def _sweeper_section(data: Any) -> tuple[Mapping[str, Any], bool] | None:
    """(the sweeper mapping, whether it is the Optuna sweeper), or None when `data` is no Hydra sweeper config."""
    if not isinstance(data, Mapping):
        return None
    hydra = data.get("hydra")
    if isinstance(hydra, Mapping) and isinstance(hydra.get("sweeper"), Mapping) and isinstance(
            hydra["sweeper"].get("params"), Mapping):
        section = hydra["sweeper"]
        defaults = data.get("defaults") or []
        optuna = any(isinstance(d, Mapping) and "optuna" in str(d.get("override hydra/sweeper", "")) for d in defaults)
    elif isinstance(data.get("params"), Mapping) and set(data) <= set(_SWEEPER_KEYS) and len(data) > 1:
        section, optuna = data, False
    else:
        return None
    optuna = optuna or "optuna" in str(section.get("_target_", "")).lower() or isinstance(section.get("sampler"), Mapping)
    return section, optuna


def is_sweeper_config(data: Any) -> bool:
    return _sweeper_section(data) is not None


def convert_sweeper_config(data: Mapping[str, Any], where: str) -> ForeignSweep:
    """`hydra.sweeper.params` (or a sweeper config file's `params:`) as tune's flags; the Optuna sweeper's sampler,
    n_trials and direction as settings."""
    found = _sweeper_section(data)
    assert found is not None
    section, optuna = found
    flags: dict[str, Any] = {}
    problems = []
    for name, raw in section["params"].items():
        text = raw if isinstance(raw, str) else _element_text(raw)
        try:
            flags[str(name)] = to_flag_value(str(name), parse_value(text), optuna)
        except GridError as exc:
            problems.append(f"hydra.sweeper.params.{name}: {text!r}: {exc}")
    settings: dict[str, Any] = {}
    notes = []
    if optuna:
        sampler = section.get("sampler") or {}
        target = str(sampler.get("_target_", "optuna.samplers.TPESampler")) if isinstance(sampler, Mapping) else ""
        kind = _SAMPLERS.get(target.rsplit(".", 1)[-1])
        if kind is None:
            problems.append(f"hydra.sweeper.sampler: {target!r} is not a sampler tune runs (TPESampler, RandomSampler, "
                            "CmaEsSampler, GPSampler)")
        else:
            settings["search"] = kind
        if isinstance(sampler, Mapping) and isinstance(sampler.get("seed"), int):
            settings["seed"] = sampler["seed"]
        direction = section.get("direction", "minimize")
        if isinstance(direction, list):
            problems.append("hydra.sweeper.direction: several directions (multi-objective) are not run by tune; "
                            "give one direction")
        elif str(direction).lower() not in ("minimize", "maximize"):
            problems.append(f"hydra.sweeper.direction: {direction!r} is not minimize or maximize")
        else:
            settings["mode"] = "min" if str(direction).lower() == "minimize" else "max"
        if isinstance(section.get("n_trials"), int):
            settings["run_cap"] = section["n_trials"]
        notes += [f"hydra.sweeper.{key}" for key in ("storage", "study_name", "n_jobs", "max_failure_rate",
                                                     "custom_search_space") if section.get(key) is not None]
    if problems:
        raise GridError(f"{where}: " + "; ".join(problems))
    return ForeignSweep("hydra", flags, settings, None, None, tuple(notes))


def _element_text(value: Any) -> str:
    """A YAML value that is not a string (`lr: 0.1`, `units: [64, 128]`) as override text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if value != value else ("inf" if value > 0 else "-inf")
    if isinstance(value, list):
        return "[" + ",".join(_element_text(v) for v in value) + "]"
    return str(value)
