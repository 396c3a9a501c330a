"""Hydra's override grammar for a value (after `key=`), reimplemented: hydra/grammar/OverrideLexer.g4 and
OverrideParser.g4 for the syntax, hydra/_internal/grammar/grammar_functions.py for the functions.

`parse_value(text)` reads a value as Hydra's OverridesParser does: primitives typed by Hydra's lexer (`1_000` an
int, `tRuE` a bool, `inf` a float, anything else text with its escapes undone), quoted strings, lists `[a, b]`,
dicts `{a: 1}`, a simple choice sweep `a,b,c`, and the functions `choice`, `range`, `interval`, `tag`, `sort`,
`shuffle`, `glob`, `int`, `float`, `str`, `bool`. A function's arguments are bound to its Hydra signature and
type-checked as Hydra's Functions.eval does (`choice(null)`, `interval(1)`, `glob(a, b, c)`, `sort(1, reverse=1)`
are errors there and here), and its body is Hydra's, down to what a cast keeps of a sweep's tags. Where Hydra's
releases differ, this follows its main branch: `sort()` of a range reverses the range's own values (1.3's
arithmetic can step past them). `extend_list` and `json_str`, unreleased and deprecated there, are unknown here.

Nothing here knows tune: tuner.formats.hydra gives a parsed value its meaning in a sweep. The tests compare the
results with `hydra.core.override_parser.overrides_parser.OverridesParser` case by case (and with Hydra's own
test_overrides_parser.py cases).
"""

from __future__ import annotations

import builtins
import decimal
import fnmatch
import inspect
import random
import re
from copy import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Union, get_args, get_origin, get_type_hints

from tuner.errors import GridError

# -------------------------------------------------------------------------------------------------------------
# What the grammar yields (hydra.core.override_parser.types)


@dataclass
class QuotedString:
    text: str
    quote: str


class Sweep:
    """A choice, range or interval: what tag() takes and casts map over (Glob is no Sweep, as in Hydra)."""

    tags: set[str]


@dataclass
class ChoiceSweep(Sweep):
    list: builtins.list[Any]
    simple_form: bool = False
    tags: set[str] = field(default_factory=set)
    shuffle: bool = False


@dataclass
class RangeSweep(Sweep):
    start: Any
    stop: Any
    step: Any = 1
    tags: set[str] = field(default_factory=set)
    shuffle: bool = False

    def values(self) -> builtins.list[Any]:
        """Hydra's RangeSweep.range(): Python's range when all three are ints, else its FloatRange (decimal steps
        from start, stop excluded). A step of 0 is a GridError (Hydra: an error when the sweep is listed)."""
        if all(isinstance(v, int) for v in (self.start, self.stop, self.step)):
            if self.step == 0:
                raise GridError(f"range: the step is 0 (start {self.start}, stop {self.stop})")
            return builtins.list(builtins.range(self.start, self.stop, self.step))
        start, stop, step = (decimal.Decimal(str(v)) for v in (self.start, self.stop, self.step))
        if step == 0:
            raise GridError(f"range: invalid range values (start:{start}, stop:{stop}, step:{step})")
        out: builtins.list[Any] = []
        index = 0
        while True:
            current = start + step * index
            if (step > 0 and current >= stop) or (step < 0 and current <= stop):
                return out
            out.append(float(current))
            index += 1


@dataclass
class IntervalSweep(Sweep):
    start: Any
    end: Any
    tags: set[str] = field(default_factory=set)


@dataclass
class Glob:
    include: builtins.list[str]
    exclude: builtins.list[str]

    def filter(self, names: builtins.list[str]) -> builtins.list[str]:
        """Hydra's Glob.filter: the names an include pattern matches and no exclude pattern does (fnmatch), in
        their order."""
        def match(name: str, patterns: builtins.list[str]) -> bool:
            return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)

        return [name for name in names if match(name, self.include) and not match(name, self.exclude)]


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
# The parser (OverrideParser.g4's `value` and below)


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
        start = self.at
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
                kwargs[key] = self.element()  # a name given twice keeps the last, as Hydra's visitor does
            else:
                if kwargs:
                    raise GridError("positional argument follows keyword argument")
                args.append(self.element())
        self.take("PCLOSE")
        text = "".join(token for _, token in self.tokens[start:self.at])
        try:
            return call(name, args, kwargs)
        except GridError:
            raise
        except Exception as exc:  # as Hydra's visitor: any error of the function is one parse error naming it
            raise GridError(f"{type(exc).__name__} while evaluating '{text}': {exc}") from None


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


# -------------------------------------------------------------------------------------------------------------
# The functions (hydra/_internal/grammar/grammar_functions.py), with Hydra's signatures: `call` binds the
# arguments to them and checks each against its annotation, as Hydra's Functions.eval does. The annotations are
# read by get_type_hints, so they name this module's types.

ElementType = Union[str, int, float, bool, List[Any], Dict[str, Any]]
ParsedElementType = Optional[Union[ElementType, QuotedString]]
CastType = Union[ParsedElementType, Sweep]


def _accepts(value: Any, hint: Any) -> bool:
    """Hydra's is_type_matching: a Union by isinstance of its members (List[X] any list, Dict[X, Y] any dict),
    int/float/bool/str by exact type, Any anything."""
    if get_origin(hint) is Union:
        return isinstance(value, tuple(get_origin(member) or member for member in get_args(hint)))
    if hint in (int, float, bool, str):
        return type(value) is hint
    if hint is Any or hint is inspect.Parameter.empty:
        return True
    return isinstance(value, get_origin(hint) or hint)


def _hint_text(hint: Any) -> str:
    return str(hint).replace("typing.", "").replace(f"{__name__}.", "")


def call(name: str, args: builtins.list[Any], kwargs: dict[str, Any]) -> Any:
    """Hydra's Functions.eval: quoted arguments unquoted, bound to the function's signature, each checked."""
    function = FUNCTIONS.get(name)
    if function is None:
        raise ValueError(f"Unknown function '{name}'; Hydra's are {', '.join(sorted(FUNCTIONS))}")
    args = [a.text if isinstance(a, QuotedString) else a for a in args]
    kwargs = {k: v.text if isinstance(v, QuotedString) else v for k, v in kwargs.items()}
    signature = inspect.signature(function)
    hints = get_type_hints(function)
    bound = signature.bind(*args, **kwargs)
    for parameter, value in bound.arguments.items():
        hint = hints.get(parameter, Any)
        if signature.parameters[parameter].kind is inspect.Parameter.VAR_POSITIONAL:
            for index, item in enumerate(value):
                if not _accepts(item, hint):
                    raise TypeError(f"mismatch type argument {parameter}[{index}]: {type(item).__name__} is "
                                    f"incompatible with {_hint_text(hint)}")
        elif not _accepts(value, hint):
            raise TypeError(f"mismatch type argument {parameter}: {type(value).__name__} is incompatible with "
                            f"{_hint_text(hint)}")
    return function(*bound.args, **bound.kwargs)


def _element(value: Any) -> Any:
    """Hydra's `assert is_type_matching(x, ParsedElementType)`, with words."""
    if not _accepts(value, ParsedElementType):
        raise TypeError(f"{type(value).__name__} is not a value")
    return value


def _cast_choice(value: ChoiceSweep, function: Any) -> ChoiceSweep:
    choices = []
    for item in value.list:
        choice = function(item)
        if not _accepts(choice, ElementType):
            raise TypeError(f"{choice!r} is not a value")
        choices.append(choice)
    return ChoiceSweep(choices, simple_form=value.simple_form)  # Hydra's casts drop a choice's tags and shuffle


def _cast_range(value: RangeSweep, function: Any) -> RangeSweep:
    if function not in (cast_float, cast_int):
        raise ValueError("Range can only be cast to int or float")
    return RangeSweep(function(value.start), function(value.stop), function(value.step))  # tags dropped, as Hydra


def _cast_interval(value: IntervalSweep, function: Any) -> IntervalSweep:
    return IntervalSweep(function(value.start), function(value.end), copy(value.tags))


def _simple_choice(*args: Any) -> ChoiceSweep:
    return ChoiceSweep([_element(arg) for arg in args], simple_form=True)


def _cast_value(args: tuple[Any, ...], value: Any) -> Any:
    """Hydra's _normalize_cast_value: one positional argument or `value=`; several are a simple choice."""
    if args and value is not None:
        raise TypeError("cannot use both position and named arguments")
    if value is not None:
        return value
    if not args:
        raise TypeError("No positional args or value specified")
    return args[0] if len(args) == 1 else _simple_choice(*args)


def _cast(function: Any, scalar: Any, value: Any, allow_interval: bool = True) -> Any:
    """One cast: mapped over quoted strings, dicts, lists, choices, ranges and (int, float) intervals."""
    if isinstance(value, QuotedString):
        return function(value.text)
    if isinstance(value, dict):
        return {key: function(item) for key, item in value.items()}
    if isinstance(value, builtins.list):
        return [function(item) for item in value]
    if isinstance(value, ChoiceSweep):
        return _cast_choice(value, function)
    if isinstance(value, RangeSweep):
        return _cast_range(value, function)
    if isinstance(value, IntervalSweep):
        if not allow_interval:
            raise ValueError(f"Intervals cannot be cast to {function.__name__.removeprefix('cast_')}")
        return _cast_interval(value, function)
    if not isinstance(value, (int, float, bool, str)):
        raise TypeError(f"{value!r} cannot be cast")
    return scalar(value)


def cast_int(*args: CastType, value: Optional[CastType] = None) -> Any:
    return _cast(cast_int, int, _cast_value(args, value))


def cast_float(*args: CastType, value: Optional[CastType] = None) -> Any:
    return _cast(cast_float, float, _cast_value(args, value))


def cast_str(*args: CastType, value: Optional[CastType] = None) -> Any:
    return _cast(cast_str, lambda v: str(v).lower() if isinstance(v, bool) else str(v), _cast_value(args, value),
                 allow_interval=False)


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(f"Cannot cast '{value}' to bool")
    return bool(value)


def cast_bool(*args: CastType, value: Optional[CastType] = None) -> Any:
    return _cast(cast_bool, _to_bool, _cast_value(args, value), allow_interval=False)


def choice(*args: Union[str, int, float, bool, Dict[Any, Any], List[Any], ChoiceSweep]) -> ChoiceSweep:
    if not args:
        raise ValueError("empty choice is not legal")
    if len(args) == 1 and isinstance(args[0], ChoiceSweep):
        if not args[0].simple_form:
            raise ValueError("nesting choices is not supported")
        args[0].simple_form = False
        return args[0]
    return ChoiceSweep(builtins.list(args))


def range(start: Union[int, float], stop: Optional[Union[int, float]] = None,  # noqa: A001 (Hydra's name)
          step: Union[int, float] = 1) -> RangeSweep:
    if stop is None:
        start, stop = 0, start
    return RangeSweep(start, stop, step)


def interval(start: Union[int, float], end: Union[int, float]) -> IntervalSweep:
    return IntervalSweep(float(start), float(end))


def tag(*args: Union[str, Sweep], sweep: Optional[Sweep] = None) -> Sweep:
    if not args:
        raise ValueError("Not enough arguments to tag, must take at least a sweep")
    if sweep is not None:
        return tag(*args, sweep)
    last = args[-1]
    if not isinstance(last, Sweep):
        raise ValueError("Last argument to tag() must be a choice(), range() or interval(), got "
                         f"{type(sweep).__name__}")
    for item in args[:-1]:
        if not isinstance(item, str):
            raise ValueError(f"tag arguments type must be string, got {type(item).__name__}")
    last.tags = {str(item) for item in args[:-1]}
    return last


def shuffle(*args: Union[ElementType, ChoiceSweep, RangeSweep], sweep: Optional[Union[ChoiceSweep, RangeSweep]] = None,
            list: Optional[List[Any]] = None) -> Any:  # noqa: A002 (Hydra's keyword)
    """Hydra's shuffle: a sweep marked to be listed in a random order; a list shuffled now (Python's random, as
    Hydra's)."""
    if list is not None:
        return shuffle(list)
    if sweep is not None:
        return shuffle(sweep)
    if len(args) == 1:
        if isinstance(args[0], (ChoiceSweep, RangeSweep)):
            marked = copy(args[0])
            marked.shuffle = True
            return marked
        if isinstance(args[0], builtins.list):
            items = copy(args[0])
            random.shuffle(items)
            return items
        return [args[0]]
    marked_choice = _simple_choice(*args)
    marked_choice.shuffle = True
    return marked_choice


def sort(*args: Union[ElementType, ChoiceSweep, RangeSweep], sweep: Optional[Union[ChoiceSweep, RangeSweep]] = None,
         list: Optional[List[Any]] = None, reverse: bool = False) -> Any:  # noqa: A002 (Hydra's keyword)
    if list is not None:
        return sort(list, reverse=reverse)
    if sweep is not None:
        return _sort_sweep(sweep, reverse)
    if len(args) == 1:
        if isinstance(args[0], (ChoiceSweep, RangeSweep)):
            return _sort_sweep(args[0], reverse)
        if isinstance(args[0], builtins.list):
            return sorted(args[0], reverse=reverse)
        if _accepts(args[0], ParsedElementType):
            return args[0]
        raise TypeError(f"Invalid arguments: {args}")
    if any(not isinstance(arg, (int, float, bool, str)) for arg in args):
        raise TypeError(f"Invalid arguments: {args}")
    if not args:
        raise ValueError("empty sort input")
    return _sort_sweep(_simple_choice(*args), reverse)


def _sort_sweep(sweep: ChoiceSweep | RangeSweep, reverse: bool) -> ChoiceSweep | RangeSweep:
    sweep = copy(sweep)
    if isinstance(sweep, ChoiceSweep):
        sweep.list = sorted(sweep.list, reverse=reverse)
        return sweep
    if (sweep.step > 0) == reverse:  # Hydra's _reverse_range_sweep: the same values, the other way round
        values = sweep.values()
        if len(values) > 1:
            if all(isinstance(v, int) for v in (sweep.start, sweep.stop, sweep.step)):
                sweep.start, sweep.step = values[-1], -sweep.step
                sweep.stop = values[0] + sweep.step
            else:
                start, step = decimal.Decimal(str(sweep.start)), decimal.Decimal(str(sweep.step))
                sweep.start, sweep.step = start + (len(values) - 1) * step, -step
                sweep.stop = start + sweep.step / 2
    return sweep


def glob(include: Union[List[str], str], exclude: Optional[Union[List[str], str]] = None) -> Glob:
    return Glob([include] if isinstance(include, str) else include,
                [] if exclude is None else [exclude] if isinstance(exclude, str) else exclude)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "int": cast_int, "float": cast_float, "str": cast_str, "bool": cast_bool, "choice": choice, "range": range,
    "interval": interval, "tag": tag, "shuffle": shuffle, "sort": sort, "glob": glob}


# -------------------------------------------------------------------------------------------------------------
# A whole value


def parse_value(text: str) -> Any:
    """The value part of a Hydra override, as Hydra's grammar reads it (raises GridError on a syntax error).
    Whitespace after `=` belongs to the `=` token in Hydra's lexer, so it is dropped here."""
    text = text.lstrip(" \t")
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
    if isinstance(value, builtins.list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    return value
