"""Filters and orders over ls_runs columns: one grammar for pandas-style expressions and MLflow's search syntax,
parsed here into a tree of plain data (tuner.runs.expression) that is evaluated over the frame's columns.

A filter is parsed, never evaluated as code: `DataFrame.query` (what this module fed before) resolves `@` names
and calls, so `tune ls --filter "@os.system('id') == 0"` ran `id` (issue 29). Here every name is a column, every
value a literal, and the operators are a closed set; anything else (attribute access, calls, `@`, subscripts,
lambdas, dunders, Python keywords) is refused with one QueryError line naming the position, as is a filter
longer than MAX_LENGTH characters or nested deeper than MAX_NESTING levels. docs/filters.md is the grammar's
one description; this docstring says how the MLflow spellings map onto it.

MLflow's `metrics.val_acc > 0.9 and params.dropout = '0.2' and tags.team = 'a' and attributes.status =
'FINISHED'` is the tree of `metric_val_acc > 0.9 and flag_dropout in [0.2, '0.2'] and tag_team == 'a' and status
== 'finished'`: keys become columns (column_name), `=` is `==` and `<>` is `!=`, keywords are read in any case.

Comparisons with params: MLflow stores params as strings, our flags are typed. A string literal compared
with a `params.X` key matches both the typed value (parsed as a YAML scalar, as `--flag X=...` is) and the
string itself, so `params.dropout = '0.2'` matches the flag 0.2 and `params.units = '64'` the flag 64.
As in SQL, `!=` on an MLflow key, and `not in` / `NOT LIKE` on any column, leave out runs that lack the value.
A status is compared in lower case (`status = 'FAILED'`), and `start_time`/`end_time` with a number take it as
epoch milliseconds, as MLflow does.

As in MLflow: a `metrics.`/`params.`/`tags.` key that no run has matches nothing (tuner.runs.listing warns with
the closest key; a pandas column name or an attribute that does not exist is an error); a metric is compared
with numbers only and a tag with quoted text only; order keys are `KEY [ASC|DESC]` (anything else is refused),
runs without the key come last in either direction and ties go to the newest start.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import keyword
import math
import re
from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd

from tuner.console.inert import inert
from tuner.errors import QueryError
from tuner.runs.expression import (
    AND,
    ATOM,
    COMPARISON,
    NOT,
    OR,
    POWER,
    SUM,
    TERM,
    UNARY,
    Arith,
    Column,
    Compare,
    IsNull,
    Items,
    Like,
    Literal,
    Logic,
    Member,
    Node,
    NotApplicable,
    Step,
    Unary,
    mask,
)

#: MLflow key prefixes (and their singular/alias spellings) -> our column prefixes
PREFIXES = {
    "metrics": "metric_", "metric": "metric_",
    "params": "flag_", "param": "flag_", "parameters": "flag_", "parameter": "flag_",
    "flags": "flag_", "flag": "flag_",
    "tags": "tag_", "tag": "tag_",
    "evaluation": "eval_", "eval": "eval_",
    "attributes": "", "attribute": "", "attr": "", "run": "",
}
#: MLflow run attributes -> our columns (other attribute names are taken as column names)
ATTRIBUTES = {"status": "status", "start_time": "start", "end_time": "end", "created": "start",
              "duration": "duration_s", "user_id": "user", "run_name": "name", "run_id": "name",
              "run name": "name"}
#: attributes MLflow users also type bare (`status = 'FAILED'`, `run_name LIKE 'x%'`, `start_time > <ms>`)
BARE_ATTRIBUTES = frozenset({"status", "run_name", "run_id", "start_time", "end_time"})
#: columns holding UTC datetimes: MLflow compares them with epoch milliseconds
TIME_COLUMNS = frozenset({"start", "end"})

#: the longest filter parsed: a longer one is generated, and a DataFrame does that selection better
MAX_LENGTH = 100_000
#: parentheses, brackets, unary signs, `not` and `**` nested in one another: well past what people write, and
#: far from Python's recursion limit (parsing and evaluating take a few frames a level)
MAX_NESTING = 50

EXAMPLE = ("example: \"metrics.val_acc > 0.9 and params.dropout = '0.2'\" or "
           "\"metric_val_acc > 0.9 and flag_dropout < 0.3\"; the grammar: docs/filters.md")

#: words of the grammar (any case); never column names unless quoted in backticks
_WORDS = frozenset({"and", "or", "not", "in", "is", "like", "ilike", "null", "true", "false", "none"})
#: Python's keywords other than the grammar's: `lambda`, `import`, `if` ... are refused by name
_PYTHON_WORDS = frozenset(keyword.kwlist) - {"and", "or", "not", "in", "is", "True", "False", "None"}
_COMPARE_OPS = {"==": "==", "=": "==", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_MIRRORED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<num>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)
  | (?P<name>(?:[^\W\d]\w*|`[^`]*`)(?:\.(?:[^\W\d]\w*|`[^`]*`|"[^"]*"))*)
  | (?P<op>==|!=|<>|<=|>=|=|<|>|\(|\)|\[|\]|,|~|&|\||\+|-|\*\*|\*|//|/|%|@|\.)
""", re.VERBOSE)


@dataclass(frozen=True)
class Token:
    kind: str   # str, num, name, op; "bad" for a character no token starts with (the parser refuses it there)
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    """The filter's tokens, up to the first character that starts none (a "bad" token: the parser reaches
    the tokens before it first, so errors come in the order they are written)."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            tokens.append(Token("bad", text[pos], pos))
            break
        kind = match.lastgroup or "ws"
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    return tokens


def _unquote(part: str) -> str:
    if len(part) >= 2 and part[0] == part[-1] and part[0] in "`\"":
        return part[1:-1]
    return part


def _split_key(text: str) -> list[str]:
    return [_unquote(p) for p in re.findall(r"`[^`]*`|\"[^\"]*\"|[^.]+", text)]


def column_name(key: str) -> str:
    """`metrics.val_acc` -> `metric_val_acc`, `params.lr` -> `flag_lr`, `attributes.status` -> `status`;
    anything else is already a column name."""
    parts = _split_key(key.strip())
    prefix = parts[0].lower() if len(parts) > 1 else None
    if prefix is None and parts and parts[0].lower() in BARE_ATTRIBUTES:
        return ATTRIBUTES[parts[0].lower()]
    if prefix not in PREFIXES:
        return _unquote(key.strip())
    rest = ".".join(parts[1:])
    if PREFIXES[prefix] == "":
        return ATTRIBUTES.get(rest.lower(), rest)
    return PREFIXES[prefix] + rest


def is_mlflow_key(text: str) -> bool:
    """`metrics.x`, `params.x`, `attributes.status`, a bare MLflow attribute: MLflow's spelling, not a column."""
    parts = _split_key(text)
    return (len(parts) > 1 and parts[0].lower() in PREFIXES) or (len(parts) == 1 and parts[0].lower() in
                                                                  BARE_ATTRIBUTES)


def _is_param(key: str) -> bool:
    parts = _split_key(key)
    return len(parts) > 1 and PREFIXES.get(parts[0].lower()) == "flag_"


def _string_value(token: Token) -> str:
    body = token.text[1:-1]
    return re.sub(r"\\(.)", r"\1", body, flags=re.DOTALL)


def _number_value(text: str) -> int | float:
    digits = text.lstrip("0") or "0"
    if digits.isdigit() and len(digits) <= 19 and int(digits) < 2 ** 63:
        return int(digits)
    return float(text)  # a whole number past 2**63 too (int() of 4,300+ digits even raises): numbers stay cheap


def _yaml_scalar(text: str) -> Any:
    """A param's text as the flag value it was typed as (tuner.values: the one text-to-value rule)."""
    from tuner.values import parse_value

    try:
        return parse_value(text)
    except ValueError:  # int() of thousands of digits: as text, it matches only the same text
        return text


def _kind(column: str) -> str | None:
    """What MLflow compares a key with: metrics (and our evaluation values) numbers, tags text; else either."""
    if column.startswith(("metric_", "eval_")):
        return "number"
    if column.startswith("tag_"):
        return "text"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _shown(text: str) -> str:
    """The filter as an error line quotes it: whole when short, else its start and length (one line, inert)."""
    if len(text) <= 80:
        return repr(text)
    return f"{text[:60]!r}... ({len(text):,} characters)"


@dataclass(frozen=True)
class Filter:
    """A parsed filter: its tree, the columns it names, and which of them were MLflow keys (as written)."""

    text: str
    tree: Node
    columns: dict[str, int]    # every column named -> the position of its first mention, in that order
    keys: dict[str, str]       # column -> the MLflow key that named it (`metric_acc` -> `metrics.acc`)

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        """The rows of `frame` this filter holds true for (a boolean Series); NotApplicable where an operator
        meets values it does not take (text compared with a number)."""
        return mask(self.tree, frame)

    def inapplicable(self, exc: NotApplicable) -> QueryError:
        """The one line for an operator that met values it does not take."""
        detail = " ".join(inert(exc.detail).split())  # names from run data, numpy's own words: one line, inert
        return QueryError(f"filter {_shown(self.text)} does not apply to these columns: {detail} at position "
                          f"{exc.pos}{_near(self.text, exc.pos)}; {EXAMPLE}")

    def unknown(self, column: str, columns: Sequence[str], written: str | None = None) -> QueryError:
        """The one line for a column no run has (a typo): the closest names, then where the filter names it."""
        pos = self.columns.get(column, 0)
        return QueryError(f"{unknown_column(column, columns, written)} (filter {_shown(self.text)}, at position "
                          f"{pos}{_near(self.text, pos)}; {EXAMPLE})")

    def __str__(self) -> str:
        return unparse(self.tree)


def _near(text: str, pos: int) -> str:
    if pos >= len(text):
        return " (the end)"
    piece = text[pos:pos + 20]
    return f" ({piece!r}{'...' if len(text) > pos + 20 else ''})"


def parse_filter(text: Any) -> Filter:
    """A filter's text (pandas-style or MLflow syntax, docs/filters.md) as a Filter; QueryError, one line
    naming the position, for anything else."""
    if not isinstance(text, str):
        raise QueryError(f"filter: expected text such as \"metrics.val_acc > 0.9\", got {type(text).__name__}; "
                         f"{EXAMPLE}")
    if len(text) > MAX_LENGTH:
        raise QueryError(f"filter {_shown(text)} is longer than {MAX_LENGTH:,} characters (at position "
                         f"{MAX_LENGTH:,}); select from ls_runs()'s frame in Python for such a selection; {EXAMPLE}")
    return _Parser(text).parse()


class _Parser:
    """Precedence climbing over the tokens (docs/filters.md has the grammar, loosest first: or, and, not,
    comparisons, + -, * / // %, unary - + ~, **). Chains at one level (`a and b and c`, `a + b - c`,
    `0 < x < 1`) are built in loops, so only nesting costs stack, and nesting is bounded."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0
        self.columns: dict[str, int] = {}
        self.keys: dict[str, str] = {}

    # -- tokens
    def peek(self, offset: int = 0) -> Token | None:
        index = self.index + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def word(self, offset: int = 0) -> str:
        token = self.peek(offset)
        return token.text.lower() if token is not None and token.kind == "name" else ""

    def at(self, *ops: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "op" and token.text in ops

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, what: str, token: Token | None = None) -> QueryError:
        pos = token.pos if token is not None else len(self.text)
        return QueryError(f"filter {_shown(self.text)} does not parse: {what} at position {pos}"
                          f"{_near(self.text, pos)}; {EXAMPLE}")

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.fail(f"nests deeper than {MAX_NESTING} levels (parentheses, signs, not)", token)

    # -- the grammar
    def parse(self) -> Filter:
        if not self.tokens:
            raise self.fail("the filter is empty")
        tree = self.expression(OR)
        token = self.peek()
        if token is not None:
            raise self.unexpected(token)
        return Filter(self.text, tree, self.columns, self.keys)

    def expression(self, min_level: int) -> Node:
        left = self.prefix(min_level)
        while True:
            level = self.infix_level()
            if level is None or level < min_level:
                return left
            if level in (OR, AND):
                left = self.logic(left, level)
            elif level == COMPARISON:
                left = self.comparison(left)
            elif level in (SUM, TERM):
                left = self.arith(left, level)
            else:
                left = self.power(left)

    def infix_level(self) -> int | None:
        token = self.peek()
        if token is None:
            return None
        if token.kind == "op":
            if token.text in _COMPARE_OPS:
                return COMPARISON
            return {"|": OR, "&": AND, "+": SUM, "-": SUM, "*": TERM, "/": TERM, "//": TERM, "%": TERM,
                    "**": POWER}.get(token.text)
        word = self.word()
        if word in ("or", "and"):
            return OR if word == "or" else AND
        if word in ("in", "like", "ilike", "is") or (word == "not" and self.word(1) in ("in", "like", "ilike")):
            return COMPARISON
        return None

    def prefix(self, min_level: int) -> Node:
        token = self.peek()
        if token is None:
            raise self.fail("expected a value (a column, number or quoted text)")
        if token.kind == "bad":
            raise self.bad(token)
        if token.kind == "num":
            self.take()
            return Literal(_number_value(token.text))
        if token.kind == "str":
            self.take()
            return Literal(_string_value(token))
        if token.kind == "name" and token.text.lower() == "not":
            if min_level > NOT:  # `not` binds looser than comparisons: `a == not b` needs parentheses
                raise self.fail("'not' here needs parentheses: (not ...)", token)
            self.enter(token)
            self.take()
            operand = self.expression(NOT)
            self.depth -= 1
            return Unary("not", operand, token.pos)
        if token.kind == "name":
            return self.name()
        if token.text in ("(", "["):
            return self.group()
        if token.text in ("-", "+", "~"):
            self.enter(token)
            self.take()
            operand = self.expression(UNARY)
            self.depth -= 1
            if token.text == "~":
                return Unary("not", operand, token.pos)
            if isinstance(operand, Literal) and _is_number(operand.value):  # -1 is a literal (MLflow's `< -1`)
                return Literal(-operand.value if token.text == "-" else operand.value)
            return Unary(token.text, operand, token.pos)
        if token.text == "@":
            raise self.fail("'@' (a Python variable) is not allowed: a filter names columns and literal values",
                            token)
        raise self.fail(f"expected a value (a column, number or quoted text), got {token.text!r}", token)

    def name(self) -> Node:
        token = self.peek()
        assert token is not None
        word = token.text.lower()
        if word in ("true", "false", "none"):
            self.take()
            return Literal(None if word == "none" else word == "true")
        if word == "null":
            raise self.fail("NULL only follows IS (x IS NULL, x IS NOT NULL)", token)
        if word in _WORDS:
            raise self.fail(f"expected a value (a column, number or quoted text), got {token.text!r}", token)
        if token.text in _PYTHON_WORDS:
            raise self.fail(f"{token.text!r} is not allowed: a filter compares columns with values", token)
        parts = [(m.start(), m.group()) for m in re.finditer(r"`[^`]*`|\"[^\"]*\"|[^.]+", token.text)]
        mlflow = is_mlflow_key(token.text)
        if len(parts) > 1 and not mlflow:
            dot = parts[1][0] - 1
            raise self.fail(f"attribute access ({token.text[dot:][:30]!r}) is not allowed; a column whose name "
                            "holds a dot is written in backticks (`flag_model.lr`), an MLflow key as "
                            "params.model.lr", Token("op", ".", token.pos + dot))
        for offset, part in parts:
            if part.startswith("__") and part.endswith("__") and len(part) > 4:
                raise self.fail(f"{part!r} is not allowed: no Python internals (dunder names) in a filter",
                                Token("name", part, token.pos + offset))
        self.take()
        column = column_name(token.text) if mlflow else _unquote(token.text)
        self.columns.setdefault(column, token.pos)
        if mlflow:
            self.keys.setdefault(column, token.text)
        return Column(column, token.text if mlflow else None, token.pos)

    def group(self) -> Node:
        """`( expr )`, or a list: `[a, b]`, `(a, b)`, `(a,)`, `()`; a list holds literals only."""
        opening = self.take()
        self.enter(opening)
        closing = ")" if opening.text == "(" else "]"
        items: list[Node] = []
        listed = opening.text == "["
        while not self.at(closing):
            items.append(self.expression(OR))
            if self.at(","):
                self.take()
                listed = True
            elif not self.at(closing):
                raise self.unexpected(self.peek(), f"expected ',' or {closing!r}")
        self.take()
        self.depth -= 1
        if not listed and len(items) == 1:
            return items[0]
        return Items(self.literals(items, opening), opening.pos)

    def literals(self, items: list[Node], opening: Token) -> tuple[Any, ...]:
        values = []
        for item in items:
            if not isinstance(item, Literal):
                raise self.fail("a list holds numbers, quoted text, True, False or None, not expressions",
                                opening)
            values.append(item.value)
        return tuple(values)

    def logic(self, left: Node, level: int) -> Node:
        op = "or" if level == OR else "and"
        # `(a and b) and c` is `a and b and c`: one node, so printing and parsing again give the same tree
        operands = list(left.operands) if isinstance(left, Logic) and left.op == op else [left]
        pos = self.tokens[self.index].pos
        while self.infix_level() == level:
            self.take()
            operands.append(self.expression(level + 1))
        return Logic(op, tuple(operands), pos)

    def arith(self, left: Node, level: int) -> Node:
        steps: list[Step] = []
        if isinstance(left, Arith) and left.level == level:  # `(a + b) - c` is `a + b - c` (left to right)
            steps = list(left.steps)
            left = left.first
        while self.infix_level() == level:
            token = self.take()
            steps.append(Step(token.text, self.expression(level + 1), token.pos))
        return Arith(left, tuple(steps))

    def power(self, left: Node) -> Node:
        token = self.take()
        self.enter(token)
        right = self.expression(UNARY)  # right-associative, and `2 ** -1` takes a sign
        self.depth -= 1
        return Arith(left, (Step("**", right, token.pos),))

    def comparison(self, left: Node) -> Node:
        """A chain of == != < <= > >= (as in pandas and Python, `a < b < c` is `a < b and b < c`), or one of
        `in`, `not in`, `like`, `ilike`, `is null`, `is not null` (these do not chain)."""
        token = self.peek()
        assert token is not None
        if token.kind == "op":
            links: list[Node] = []
            previous = left
            while self.at(*_COMPARE_OPS):
                op_token = self.take()
                right = self.expression(SUM)
                links.append(self.compare(previous, _COMPARE_OPS[op_token.text], right, op_token))
                previous = right
            result = links[0] if len(links) == 1 else Logic("and", tuple(links), token.pos)
        else:
            negate = self.word() == "not"
            if negate:
                self.take()
            word = self.word()
            op_token = self.take()
            if word == "in":
                result = self.membership(left, negate, op_token)
            elif word in ("like", "ilike"):
                result = self.like(left, word, negate, op_token)
            else:
                result = self.is_null(left, op_token)
        if self.infix_level() == COMPARISON:
            raise self.fail("comparisons chain only with ==, !=, <, <=, >, >=: join the others with and",
                            self.peek())
        return result

    def compare(self, left: Node, op: str, right: Node, token: Token) -> Node:
        if isinstance(left, Column) and left.key and isinstance(right, (Literal, Items)):
            return self.keyed_compare(left, op, right, token)
        if isinstance(right, Column) and right.key and isinstance(left, (Literal, Items)):
            return self.keyed_compare(right, _MIRRORED[op], left, token)
        return Compare(op, left, right, token.pos)

    def keyed_compare(self, column: Column, op: str, other: Literal | Items, token: Token) -> Node:
        """An MLflow key compared with a literal: MLflow's types and spellings (see the module docstring)."""
        if isinstance(other, Items):
            if op not in ("==", "!="):
                raise self.fail(f"{op!r} cannot compare {column.key} with a list (use IN, =, !=)", token)
            listed = tuple(v for value in other.values for v in self.key_values(column, value, token))
            return Member(column, listed, op == "!=", token.pos)
        values = self.key_values(column, other.value, token)
        if op in ("==", "!=") and len(values) > 1:
            return Member(column, tuple(values), op == "!=", token.pos)
        compared = Compare(op, column, Literal(values[0]), token.pos)
        if op == "!=":  # as in SQL: a run without the key is not "different"
            return Logic("and", (IsNull(column, True, token.pos), compared), token.pos)
        return compared

    def key_values(self, column: Column, value: Any, token: Token) -> list[Any]:
        """The value(s) an MLflow key is compared with: several where MLflow's text maps to typed values."""
        key = column.key or column.name
        kind = _kind(column.name)
        if kind == "number" and isinstance(value, str):
            raise self.fail(f"{key} is a number: compare it with a number, not {value!r}", token)
        if kind == "text" and _is_number(value):
            raise self.fail(f"{key} is text: quote the value ({key} = '{value}')", token)
        if isinstance(value, str):
            if column.name == "status":
                return [value.lower()]
            if column.name not in TIME_COLUMNS and _is_param(key):
                typed = _yaml_scalar(value)
                return [value] if type(typed) is str and typed == value else [typed, value]
            return [value]
        if _is_number(value) and column.name in TIME_COLUMNS:  # MLflow times are epoch milliseconds
            try:
                stamp = _dt.datetime.fromtimestamp(float(value) / 1000.0, tz=_dt.timezone.utc)
            except (OverflowError, OSError, ValueError):
                raise self.fail(f"{key} is compared with a time in epoch milliseconds; {value!r} is none",
                                token) from None
            return [stamp.isoformat()]
        return [value]

    def membership(self, left: Node, negate: bool, token: Token) -> Node:
        opening = self.peek()
        if opening is None or not (opening.kind == "op" and opening.text in ("(", "[")):
            raise self.fail("IN needs a list such as ('a', 'b') or [1, 2]", opening)
        self.take()
        self.enter(opening)
        closing = ")" if opening.text == "(" else "]"
        items: list[Node] = []
        while not self.at(closing):  # `IN ('a')` is a list of one, as in SQL
            items.append(self.expression(OR))
            if self.at(","):
                self.take()
            elif not self.at(closing):
                raise self.unexpected(self.peek(), f"expected ',' or {closing!r}")
        self.take()
        self.depth -= 1
        values = self.literals(items, opening)
        if isinstance(left, Column) and left.key:
            values = tuple(v for value in values for v in self.key_values(left, value, token))
        return Member(left, values, negate, token.pos)

    def like(self, left: Node, word: str, negate: bool, token: Token) -> Node:
        if isinstance(left, Column) and left.key and _kind(left.name) == "number":
            raise self.fail(f"{left.key} is a number: {word.upper()} compares text (use =, <, > ...)", token)
        pattern = self.peek()
        if pattern is None or pattern.kind != "str":
            raise self.fail(f"{word.upper()} needs a quoted pattern such as 'adam%'", pattern)
        self.take()
        return Like(left, _string_value(pattern), word == "like", negate, token.pos)

    def is_null(self, left: Node, token: Token) -> Node:
        negate = self.word() == "not"
        if negate:
            self.take()
        if self.word() not in ("null", "none"):
            raise self.fail(f"expected NULL after IS{' NOT' if negate else ''}", self.peek())
        self.take()
        return IsNull(left, negate, token.pos)

    # -- refusals
    def bad(self, token: Token) -> QueryError:
        if token.text in "'\"":
            return self.fail("a quoted text opened here is not closed", token)
        if token.text == "`":
            return self.fail("a backtick-quoted name opened here is not closed", token)
        return self.fail(f"unexpected character {token.text!r}", token)

    def unexpected(self, token: Token | None, expected: str = "") -> QueryError:
        """What to say about a token where an operator (or the end) belongs."""
        if token is None:
            return self.fail(expected or "unexpected end")
        if token.kind == "bad":
            return self.bad(token)
        what = {
            "(": "calls are not allowed: '(' follows a value (a filter compares columns with values)",
            "[": "subscripts ('[') are not allowed; a list follows in, == or !=",
            ".": "attribute access ('.') is not allowed; a column whose name holds a dot is written in backticks",
            "@": "'@' (a Python variable) is not allowed: a filter names columns and literal values",
            ",": "',' outside a list",
            ")": "unmatched ')'",
            "]": "unmatched ']'",
        }.get(token.text) if token.kind == "op" else None
        if what is None and token.kind == "name" and token.text.lower() == "not":
            what = "expected in, like or ilike after not (or not before the comparison: not x == 1)"
        if what is None:
            what = (f"{expected}, got {token.text[:30]!r}" if expected else
                    f"expected an operator (and, or, ==, <, in, like, +, ...) before {token.text[:30]!r}")
        return self.fail(what, token)


_INFIX_TEXT = {"and": " and ", "or": " or "}


def unparse(node: Node) -> str:
    """The tree as text in this grammar (pandas spelling, lower-case keywords, minimal parentheses): parsing
    it again gives the same tree. Tests compare MLflow filters by it; messages may quote it."""
    if isinstance(node, Column):
        plain = node.name.isidentifier() and node.name.lower() not in _WORDS and node.name not in _PYTHON_WORDS
        return node.name if plain and "__" not in node.name else f"`{node.name}`"
    if isinstance(node, Literal):
        return _literal_text(node.value)
    if isinstance(node, Items):
        return "[" + ", ".join(_literal_text(v) for v in node.values) + "]"
    if isinstance(node, Logic):
        return _INFIX_TEXT[node.op].join(_wrapped(o, node.level + 1) for o in node.operands)
    if isinstance(node, Unary):
        if node.op == "not":
            return "not " + _wrapped(node.operand, NOT)
        return node.op + _wrapped(node.operand, UNARY)
    if isinstance(node, Arith):
        level = node.level
        if level == POWER:
            return f"{_wrapped(node.first, ATOM)} ** {_wrapped(node.steps[0].operand, UNARY)}"
        return _wrapped(node.first, level) + "".join(f" {s.op} {_wrapped(s.operand, level + 1)}" for s in node.steps)
    if isinstance(node, Compare):
        return f"{_wrapped(node.left, SUM)} {node.op} {_wrapped(node.right, SUM)}"
    if isinstance(node, Member):
        items = "[" + ", ".join(_literal_text(v) for v in node.values) + "]"
        return f"{_wrapped(node.operand, SUM)} {'not in' if node.negate else 'in'} {items}"
    if isinstance(node, Like):
        word = ("not " if node.negate else "") + ("like" if node.case else "ilike")
        return f"{_wrapped(node.operand, SUM)} {word} {_literal_text(node.pattern)}"
    return f"{_wrapped(node.operand, SUM)} is {'not ' if node.negate else ''}null"


def _wrapped(node: Node, level: int) -> str:
    negative = isinstance(node, Literal) and _is_number(node.value) and node.value < 0
    text = unparse(node)
    return f"({text})" if (UNARY if negative else node.level) < level else text


def _literal_text(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, float) and math.isinf(value):
        return "1e999" if value > 0 else "-1e999"
    return repr(value)  # NaN (a param typed 'nan') is shown as nan: it has no literal


def unknown_column(name: str, columns: Sequence[str], written: str | None = None) -> QueryError:
    """'unknown column X; did you mean ...?' with the closest column names."""
    close = difflib.get_close_matches(name, list(columns), n=3, cutoff=0.5)
    shown = f"'{inert(name)}'" + (f" (from {inert(written)})" if written and written != name else "")
    hint = (f"; did you mean {', '.join(map(inert, close))}?" if close else
            f"; columns: {', '.join(map(inert, columns))}")
    return QueryError(f"unknown column {shown}{hint}")


def parse_order(order: str | Sequence[str] | None, decreasing: bool) -> tuple[list[str], list[bool], dict[str, str]]:
    """Order keys -> (columns, ascending flags, column -> key as written).

    Each key is a column or an MLflow key, optionally followed by ASC or DESC (`"metrics.acc DESC"`);
    without a direction `decreasing` decides. A string may hold several keys separated by commas.
    """
    if not order:
        return [], [], {}
    items = [order] if isinstance(order, str) else list(order)
    columns: list[str] = []
    ascending: list[bool] = []
    written: dict[str, str] = {}
    for item in items:
        if not isinstance(item, str):
            raise QueryError(f"order: expected column names, got {item!r}")
        for piece in re.split(r",(?=(?:[^`]*`[^`]*`)*[^`]*$)", item):
            key, direction = _order_key(piece.lstrip(), item)
            column = column_name(key)
            columns.append(column)
            ascending.append(direction if direction is not None else not decreasing)
            written[column] = key
    return columns, ascending, written


def _order_key(piece: str, item: str) -> tuple[str, bool | None]:
    """One order key as MLflow parses it: `KEY`, `KEY ASC` or `KEY DESC` (backticks quote a key with spaces);
    a trailing space, an unknown direction or more words are refused, as MLflow refuses them."""
    example = "e.g. \"metrics.val_acc DESC\" or \"params.lr ASC, start_time DESC\""
    if not piece.strip():
        raise QueryError(f"order {item!r}: an empty key; {example}")
    if piece != piece.rstrip():
        raise QueryError(f"order {item!r}: trailing space after {piece.strip()!r}; {example}")
    words = re.findall(r"`[^`]*`|\S+", piece)
    if len(words) > 2:
        raise QueryError(f"order {item!r}: {piece!r} is not KEY [ASC|DESC] (quote a key with spaces in "
                         f"backticks); {example}")
    if len(words) == 2:
        if words[1].lower() not in ("asc", "desc"):
            raise QueryError(f"order {item!r}: unknown direction {words[1]!r} (ASC or DESC); {example}")
        return words[0], words[1].lower() == "asc"
    return piece, None
