"""A filter as a tree of plain data, and its evaluation over a DataFrame's columns, vectorized.

tuner.runs.query parses a filter's text into these nodes: column names, literal values and operators from a
closed set. Evaluating a tree only indexes the frame by column name and applies pandas/numpy operators to whole
columns (or Python's to two literals): no name is looked up anywhere else, no attribute is read, nothing the
text names is called. So a filter cannot run code, whatever it says (issue 29: `DataFrame.query` resolved `@`
names and calls). An operator that meets values it does not take (text compared with a number, arithmetic on
text) raises NotApplicable, a TypeError naming the operator's position; tuner.runs.listing retries once with
the columns that mix numbers and text as numbers (as the pandas query did), then says it in one line.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Union

import numpy as np
import pandas as pd

#: binding strength, loosest first: the levels of tuner.runs.query's grammar (and where parentheses are needed)
OR, AND, NOT, COMPARISON, SUM, TERM, UNARY, POWER, ATOM = range(1, 10)

#: Python ints past this many bits are taken as floats: literal arithmetic stays as cheap as a column's
_INT_BITS = 63


class NotApplicable(TypeError):
    """An operator met values it does not take: where (a position in the filter's text) and what."""

    def __init__(self, pos: int, detail: str) -> None:
        super().__init__(detail)
        self.pos = pos
        self.detail = detail


def _describe(value: Any) -> str:
    if isinstance(value, pd.Series):
        kind = {"b": "true/false", "i": "number", "u": "number", "f": "number", "M": "time", "m": "duration"}
        shown = kind.get(value.dtype.kind, "text" if _holds_text(value) else "mixed")
        return f"{value.name} ({shown} values)" if value.name is not None else f"{shown} values"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _holds_text(series: pd.Series) -> bool:
    return series.dtype != object or all(isinstance(v, str) for v in series.dropna())


@dataclass(frozen=True)
class Column:
    """A column of the frame; `key` is the MLflow key it was written as (`metrics.acc`), if it was."""

    name: str
    key: str | None = field(default=None, compare=False)
    pos: int = field(default=0, compare=False)
    level: ClassVar[int] = ATOM

    def evaluate(self, frame: pd.DataFrame) -> Any:
        try:
            return frame[self.name]
        except KeyError:
            raise NotApplicable(self.pos, f"no column {self.name!r}") from None


@dataclass(frozen=True)
class Literal:
    """A number, text, True/False or None as written."""

    value: Any
    level: ClassVar[int] = ATOM

    def evaluate(self, frame: pd.DataFrame) -> Any:
        return self.value


@dataclass(frozen=True)
class Items:
    """A list of literals: the right side of `in`, or of `==`/`!=` (pandas compares with a list as `in`)."""

    values: tuple[Any, ...]
    pos: int = field(default=0, compare=False)
    level: ClassVar[int] = ATOM

    def evaluate(self, frame: pd.DataFrame) -> Any:
        raise NotApplicable(self.pos, "a list is only compared with in, not in, == or !=")


def _number(value: Any, pos: int, op: str) -> Any:
    """`value` if arithmetic takes it: a number or a column of numbers (true/false count as 1/0, as in pandas)."""
    if isinstance(value, pd.Series):
        if value.dtype.kind in "biuf":
            return value
        if value.dtype == object:  # numbers and missing values in an object column; text is refused
            numbers = pd.to_numeric(value, errors="coerce")
            if numbers.isna().sum() == value.isna().sum():
                return numbers
        raise NotApplicable(pos, f"{op!r} takes numbers, got {_describe(value)}")
    if isinstance(value, (bool, np.bool_, np.integer, np.floating)):
        return value
    if isinstance(value, int):
        return value if value.bit_length() <= _INT_BITS else _float(value)
    if isinstance(value, float):
        return value
    raise NotApplicable(pos, f"{op!r} takes numbers, got {_describe(value)}")


def _float(value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _scalar_power(base: Any, exponent: Any) -> Any:
    """`**` of two literals without Python's unbounded ints (9 ** 9 ** 9) or complex results (-8 ** 0.5)."""
    with np.errstate(all="ignore"):
        result = np.float64(base) ** np.float64(exponent)
    whole = isinstance(base, (int, np.integer)) and isinstance(exponent, (int, np.integer)) and exponent >= 0
    if whole and math.isfinite(result) and abs(result) < 2 ** _INT_BITS:
        return int(base) ** int(exponent)
    return float(result)


_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "//": operator.floordiv,
    "%": operator.mod, "**": operator.pow,
}


@dataclass(frozen=True)
class Step:
    """One `op operand` of an Arith chain."""

    op: str
    operand: Node
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Arith:
    """`first op operand op operand ...`, applied left to right (one level: + -, or * / // %, or one **)."""

    first: Node
    steps: tuple[Step, ...]

    @property
    def level(self) -> int:
        return {"+": SUM, "-": SUM, "**": POWER}.get(self.steps[0].op, TERM)

    def evaluate(self, frame: pd.DataFrame) -> Any:
        result = _number(self.first.evaluate(frame), self.steps[0].pos, self.steps[0].op)
        for step in self.steps:
            result = _apply(step.op, result, _number(step.operand.evaluate(frame), step.pos, step.op), step.pos)
        return result


def _apply(op: str, left: Any, right: Any, pos: int) -> Any:
    series = isinstance(left, pd.Series) or isinstance(right, pd.Series)
    try:
        if not series and op == "**":
            return _scalar_power(left, right)
        with np.errstate(all="ignore"):
            result = _ARITHMETIC[op](left, right)
    except ZeroDivisionError:
        raise NotApplicable(pos, f"{op!r} divides by zero") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise NotApplicable(pos, f"{op!r} cannot take {_describe(left)} and {_describe(right)} ({exc})") from None
    if isinstance(result, int) and not isinstance(result, bool) and result.bit_length() > _INT_BITS:
        return _float(result)
    return result


@dataclass(frozen=True)
class Unary:
    """`-x`, `+x`, or `not x` / `~x` (both logical: a filter's `~` negates true/false, as in pandas filters)."""

    op: str  # "-", "+" or "not"
    operand: Node
    pos: int = field(default=0, compare=False)

    @property
    def level(self) -> int:
        return NOT if self.op == "not" else UNARY

    def evaluate(self, frame: pd.DataFrame) -> Any:
        value = self.operand.evaluate(frame)
        if self.op == "not":
            truth = truth_of(value, self.pos, "not")
            return ~truth if isinstance(truth, pd.Series) else not truth
        value = _number(value, self.pos, self.op)
        try:
            return -value if self.op == "-" else +value
        except TypeError:  # numpy refuses `-` on true/false columns
            raise NotApplicable(self.pos, f"{self.op!r} takes numbers, got {_describe(value)}") from None


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


@dataclass(frozen=True)
class Compare:
    """`left op right` for one of == != < <= > >= (a chain `a < b < c` is an And of two)."""

    op: str
    left: Node
    right: Node
    pos: int = field(default=0, compare=False)
    level: ClassVar[int] = COMPARISON

    def evaluate(self, frame: pd.DataFrame) -> Any:
        for listed, other in ((self.right, self.left), (self.left, self.right)):
            if isinstance(listed, Items):  # pandas: `x == [1, 2]` is `x in [1, 2]`, `!=` its negation
                if self.op not in ("==", "!="):
                    raise NotApplicable(self.pos, f"{self.op!r} cannot compare with a list (use in, ==, !=)")
                hit = _is_in(other.evaluate(frame), listed.values)
                return hit if self.op == "==" else (~hit if isinstance(hit, pd.Series) else not hit)
        left, right = self.left.evaluate(frame), self.right.evaluate(frame)
        try:
            with np.errstate(all="ignore"):
                result = _COMPARE[self.op](left, right)
        except (TypeError, ValueError, OverflowError):
            raise NotApplicable(self.pos, f"{self.op!r} cannot compare {_describe(left)} with {_describe(right)}") \
                from None
        if not isinstance(result, (pd.Series, bool, np.bool_)):  # e.g. two lists' == of pandas: not ours
            raise NotApplicable(self.pos, f"{self.op!r} cannot compare {_describe(left)} with {_describe(right)}")
        return result


def _is_in(value: Any, values: tuple[Any, ...]) -> Any:
    if isinstance(value, pd.Series):
        return value.isin(list(values))
    return any(_same(value, v) for v in values)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) or (_missing(a) and _missing(b))
    except (TypeError, ValueError):
        return False


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True)
class Member:
    """`x in [...]`, or `x not in [...]`: as in SQL, a missing value is in no list and not "not in" one either."""

    operand: Node
    values: tuple[Any, ...]
    negate: bool = False
    pos: int = field(default=0, compare=False)
    level: ClassVar[int] = COMPARISON

    def evaluate(self, frame: pd.DataFrame) -> Any:
        value = self.operand.evaluate(frame)
        hit = _is_in(value, self.values)
        if not self.negate:
            return hit
        if isinstance(value, pd.Series):
            return value.notna() & ~hit
        return not _missing(value) and not hit


@dataclass(frozen=True)
class Like:
    """MLflow's `x LIKE 'pattern'` (ILIKE: any case): `%` any run of characters, `_` one; missing values never
    match, nor do they match NOT LIKE."""

    operand: Node
    pattern: str
    case: bool = True
    negate: bool = False
    pos: int = field(default=0, compare=False)
    level: ClassVar[int] = COMPARISON

    def evaluate(self, frame: pd.DataFrame) -> Any:
        value = self.operand.evaluate(frame)
        matcher = LikePattern(self.pattern, self.case)
        if isinstance(value, pd.Series):
            present = value.notna()
            hit = matcher.matches(value.astype("str"))
            return present & (~hit if self.negate else hit)
        if _missing(value):
            return False
        hit = matcher.match(str(value))
        return not hit if self.negate else hit


class LikePattern:
    """A LIKE pattern, matched in time linear in the value's length whatever the pattern (`%a%a%a%a%b` takes
    exponential time in a backtracking regex such as Python's): a regex where it backtracks at most once over
    the value, or where pandas runs it with RE2 (pyarrow-backed text); else the pieces between `%`s are found
    left to right, the leftmost place of each leaving the most room for the rest."""

    def __init__(self, pattern: str, case: bool) -> None:
        flags = re.DOTALL | (0 if case else re.IGNORECASE)
        pieces = re.split("%+", pattern)
        self.pieces = [re.compile("".join("." if c == "_" else re.escape(c) for c in piece), flags) for piece in pieces]
        self.widths = [len(piece) for piece in pieces]
        self.case = case
        self.regex = "(?s)" + ".*".join(p.pattern for p in self.pieces)
        # 'a', 'a%', '%a', 'a%b', '%a%': Python's regex backtracks at most once over the value
        self.simple = len(pieces) <= 2 or (len(pieces) == 3 and self.widths[0] == self.widths[2] == 0)

    def matches(self, texts: pd.Series) -> pd.Series:
        """Whether each text matches (texts holds strings, and NaN where a value is missing)."""
        re2 = isinstance(texts.dtype, pd.StringDtype) and texts.dtype.storage == "pyarrow"
        if self.simple or re2:
            return texts.str.fullmatch(self.regex, case=self.case, na=False).astype(bool)
        return texts.map(lambda t: isinstance(t, str) and self.match(t)).astype(bool)

    def match(self, text: str) -> bool:
        if len(self.pieces) == 1:
            return self.pieces[0].fullmatch(text) is not None
        first, *middle, last = self.pieces
        if first.match(text) is None:
            return False
        pos = self.widths[0]
        for piece in middle:
            found = piece.search(text, pos)
            if found is None:
                return False
            pos = found.end()
        start = len(text) - self.widths[-1]
        return start >= pos and last.fullmatch(text, start) is not None


@dataclass(frozen=True)
class IsNull:
    """`x IS NULL` / `x IS NOT NULL`: whether the value is missing (NaN or None)."""

    operand: Node
    negate: bool = False
    pos: int = field(default=0, compare=False)
    level: ClassVar[int] = COMPARISON

    def evaluate(self, frame: pd.DataFrame) -> Any:
        value = self.operand.evaluate(frame)
        if isinstance(value, pd.Series):
            return value.notna() if self.negate else value.isna()
        return not _missing(value) if self.negate else _missing(value)


@dataclass(frozen=True)
class Logic:
    """`a and b and ...` or `a or b or ...` (also `&`, `|`), over true/false values or columns of them."""

    op: str  # "and" or "or"
    operands: tuple[Node, ...]
    pos: int = field(default=0, compare=False)

    @property
    def level(self) -> int:
        return AND if self.op == "and" else OR

    def evaluate(self, frame: pd.DataFrame) -> Any:
        result = truth_of(self.operands[0].evaluate(frame), self.pos, self.op)
        for node in self.operands[1:]:
            value = truth_of(node.evaluate(frame), self.pos, self.op)
            if isinstance(result, pd.Series) or isinstance(value, pd.Series):
                result = (result & value) if self.op == "and" else (result | value)
            else:
                result = (result and value) if self.op == "and" else (result or value)
        return result


Node = Union[Column, Literal, Items, Arith, Unary, Compare, Member, Like, IsNull, Logic]


def truth_of(value: Any, pos: int, what: str) -> Any:
    """`value` as true/false: a bool, or a column of them (a missing value is false, as a failed comparison)."""
    if isinstance(value, pd.Series):
        if value.dtype == bool:
            return value
        if value.dtype.kind == "b":  # pandas' nullable boolean
            return value.fillna(False).astype(bool)
        if value.dtype == object and all(isinstance(v, (bool, np.bool_)) for v in value.dropna()):
            return value.map(lambda v: v is True or v is np.True_).astype(bool)
        raise NotApplicable(pos, f"{what} takes true/false values (comparisons), got {_describe(value)}")
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise NotApplicable(pos, f"{what} takes true/false values (comparisons), got {_describe(value)}")


def mask(tree: Node, frame: pd.DataFrame) -> pd.Series:
    """The rows of `frame` the tree holds true for, as a boolean Series on the frame's index."""
    truth = truth_of(tree.evaluate(frame), 0, "a filter")
    if isinstance(truth, pd.Series):
        return truth
    return pd.Series(truth, index=frame.index, dtype=bool)
