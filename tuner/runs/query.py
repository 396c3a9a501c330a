"""Filters and orders over ls_runs columns: pandas query syntax, or MLflow's search syntax translated to it.

MLflow's `metrics.val_acc > 0.9 and params.dropout = '0.2' and tags.team = 'a' and attributes.status =
'FINISHED'` becomes `metric_val_acc > 0.9 and flag_dropout in [0.2, '0.2'] and tag_team == 'a' and status ==
'finished'`: a small regex tokenizer rewrites keys, operators and literals, and DataFrame.query evaluates the
result, so both syntaxes share one evaluator and one set of error messages. Plain pandas expressions pass
through unchanged (apart from SQL-style upper-case AND/OR/NOT/IN and a single `=`).

Comparisons with params: MLflow stores params as strings, our flags are typed. A string literal compared
with a `params.X` key matches both the typed value (parsed as a YAML scalar, as `--flag X=...` is) and the
string itself, so `params.dropout = '0.2'` matches the flag 0.2 and `params.units = '64'` the flag 64.
As in SQL, `!=`, `NOT IN` and `NOT LIKE` on a prefixed key leave out runs that lack the key.

As in MLflow: a `metrics.`/`params.`/`tags.` key that no run has matches nothing (tuner.runs.listing warns with
the closest key; a pandas column name or an attribute that does not exist is an error); a metric is compared
with numbers only and a tag with quoted text only; order keys are `KEY [ASC|DESC]` (anything else is refused),
runs without the key come last in either direction and ties go to the newest start.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import re
from dataclasses import dataclass
from typing import Any, Sequence

from tuner.errors import QueryError

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
_KEYWORDS = {"and", "or", "not", "in", "like", "ilike", "is", "null", "asc", "desc"}

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<name>(?:[A-Za-z_]\w*|`[^`]*`)(?:\.(?:[A-Za-z_]\w*|`[^`]*`|"[^"]*"))*)
  | (?P<op>==|!=|<>|<=|>=|=|<|>|\(|\)|\[|\]|,|~|&|\||\+|-|\*\*|\*|//|/|%|@|\.)
""", re.VERBOSE)


@dataclass(frozen=True)
class Token:
    kind: str   # str, num, name, op
    text: str


@dataclass(frozen=True)
class Translation:
    """A filter as pandas query text, and the columns that its MLflow-style keys named (checked before use)."""

    expression: str
    keys: dict[str, str]  # column -> key as the user wrote it


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise QueryError(f"filter {text!r}: unexpected {text[pos:pos + 10]!r} at position {pos}; "
                             "example: \"metrics.val_acc > 0.9 and params.dropout = '0.2'\"")
        kind = match.lastgroup or "ws"
        if kind != "ws":
            tokens.append(Token(kind, match.group()))
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
    return _is_mlflow_key(text)


def _is_mlflow_key(text: str) -> bool:
    parts = _split_key(text)
    return (len(parts) > 1 and parts[0].lower() in PREFIXES) or (len(parts) == 1 and parts[0].lower() in
                                                                  BARE_ATTRIBUTES)


def _quote_column(column: str) -> str:
    return column if column.isidentifier() and column.lower() not in _KEYWORDS else f"`{column}`"


def _string_value(token: Token) -> str:
    body = token.text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _yaml_scalar(text: str) -> Any:
    """A param's text as the flag value it was typed as (tuner.values: the one text-to-value rule)."""
    from tuner.values import parse_value

    return parse_value(text)


def _literal(token: Token, column: str, is_param: bool) -> list[str]:
    """The pandas literal(s) a key is compared with: several where MLflow's string maps to typed values."""
    if token.kind == "str":
        value = _string_value(token)
        if column == "status":
            return [repr(value.lower())]
        if column in TIME_COLUMNS:
            return [repr(value)]
        if is_param:
            typed = _yaml_scalar(value)
            return [repr(value)] if typed == value and type(typed) is str else [repr(typed), repr(value)]
        return [repr(value)]
    if token.kind == "num" and column in TIME_COLUMNS:  # MLflow times are epoch milliseconds
        stamp = _dt.datetime.fromtimestamp(float(token.text) / 1000.0, tz=_dt.timezone.utc)
        return [repr(stamp.isoformat())]
    return [token.text]


def _kind(column: str) -> str | None:
    """What MLflow compares a key with: metrics (and our evaluation values) numbers, tags text; else either."""
    if column.startswith(("metric_", "eval_")):
        return "number"
    if column.startswith("tag_"):
        return "text"
    return None


def _like_regex(pattern: str) -> str:
    """SQL LIKE -> a regex for fullmatch: % any run of characters, _ one character."""
    return "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)


class _Translator:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.out: list[str] = []
        self.keys: dict[str, str] = {}

    def peek(self, offset: int = 0) -> Token | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def word(self, offset: int = 0) -> str:
        token = self.peek(offset)
        return token.text.lower() if token is not None and token.kind == "name" else ""

    def fail(self, what: str) -> QueryError:
        return QueryError(f"filter {self.text!r}: {what}; example: \"metrics.val_acc > 0.9 and "
                          "params.dropout = '0.2'\" or \"metric_val_acc > 0.9 and flag_dropout < 0.3\"")

    def run(self) -> Translation:
        while self.pos < len(self.tokens):
            token = self.tokens[self.pos]
            # AND/OR/NOT in any case, also right before a parenthesis (`AND(x > 1)`): never a call
            if token.kind == "name" and token.text.lower() in ("and", "or", "not"):
                self.out.append(token.text.lower())
                self.pos += 1
            elif token.kind == "name" and not self._after_dot() and self._starts_operand():
                self._operand()
            elif token.kind == "op" and token.text == "=":
                self.out.append("==")
                self.pos += 1
            elif token.kind == "op" and token.text == "<>":
                self.out.append("!=")
                self.pos += 1
            else:
                self.out.append(token.text)
                self.pos += 1
        return Translation(" ".join(self.out), self.keys)

    def _after_dot(self) -> bool:
        prev = self.peek(-1) if self.pos > 0 else None
        return prev is not None and prev.kind == "op" and prev.text == "."

    def _is_call(self, offset: int) -> bool:
        nxt = self.peek(offset)
        return nxt is not None and nxt.kind == "op" and nxt.text == "("

    def _starts_operand(self) -> bool:
        token = self.tokens[self.pos]
        return _is_mlflow_key(token.text) or self.word(1) in ("like", "ilike", "is", "in") or (
            self.word(1) == "not" and self.word(2) in ("like", "ilike", "in"))

    def _operand(self) -> None:
        token = self.tokens[self.pos]
        mlflow = _is_mlflow_key(token.text)
        column = column_name(token.text) if mlflow else _unquote(token.text)
        if mlflow:
            self.keys[column] = token.text
        parts = _split_key(token.text)
        is_param = mlflow and len(parts) > 1 and PREFIXES[parts[0].lower()] == "flag_"
        ref = _quote_column(column)
        self.pos += 1
        negate = False
        if self.word() == "not" and self.word(1) in ("like", "ilike", "in"):
            negate = True
            self.pos += 1
        word = self.word()
        if word in ("like", "ilike"):
            if mlflow and _kind(column) == "number":
                raise self.fail(f"{token.text} is a number: {word.upper()} compares text (use =, <, > ...)")
            self.pos += 1
            pattern = self.peek()
            if pattern is None or pattern.kind != "str":
                raise self.fail(f"{word.upper()} needs a quoted pattern after {token.text}")
            self.pos += 1
            match = (f"{ref}.astype('str').str.fullmatch({_like_regex(_string_value(pattern))!r}, "
                     f"case={word == 'like'}, na=False)")
            self.out.append(f"({ref}.notna() & ~{match})" if negate else f"({ref}.notna() & {match})")
        elif word == "in":
            self.pos += 1
            values = self._value_list(column, is_param, token.text)
            listed = "[" + ", ".join(values) + "]"
            self.out.append(f"({ref}.notna() & ~{ref}.isin({listed}))" if negate else f"{ref}.isin({listed})")
        elif word == "is":
            self.pos += 1
            positive = True
            if self.word() == "not":
                positive = False
                self.pos += 1
            if self.word() != "null":
                raise self.fail(f"expected NULL after IS {'NOT ' if not positive else ''}({token.text})")
            self.pos += 1
            self.out.append(f"{ref}.isna()" if positive else f"{ref}.notna()")
        elif mlflow and self._comparison():
            op = self.tokens[self.pos].text
            op = {"=": "==", "<>": "!="}.get(op, op)
            self.pos += 1
            literal = self.peek()
            sign = ""
            if literal is not None and literal.kind == "op" and literal.text == "-":
                sign = "-"
                self.pos += 1
                literal = self.peek()
            if literal is None or literal.kind not in ("str", "num"):
                raise self.fail(f"{token.text} {op} needs a number or a quoted string")
            self._check_type(token.text, column, literal)
            self.pos += 1
            values = _literal(literal, column, is_param) if not sign else [sign + literal.text]
            if op in ("==", "!=") and len(values) > 1:
                listed = "[" + ", ".join(values) + "]"
                self.out.append(f"{ref}.isin({listed})" if op == "==" else f"({ref}.notna() & ~{ref}.isin({listed}))")
            elif op == "!=":
                self.out.append(f"({ref}.notna() & ({ref} != {values[0]}))")
            else:
                self.out.append(f"{ref} {op} {values[0]}")
        else:
            self.out.append(ref)

    def _comparison(self) -> bool:
        token = self.peek()
        return token is not None and token.kind == "op" and token.text in ("=", "==", "!=", "<>", "<", "<=", ">", ">=")

    def _value_list(self, column: str, is_param: bool, key: str) -> list[str]:
        opening = self.peek()
        if opening is None or opening.text not in ("(", "["):
            raise self.fail(f"IN needs a list such as ('a', 'b') after {key}")
        closing = ")" if opening.text == "(" else "]"
        self.pos += 1
        values: list[str] = []
        while True:
            token = self.peek()
            if token is None:
                raise self.fail(f"unclosed list after {key} IN")
            self.pos += 1
            if token.kind == "op" and token.text == closing:
                return values
            if token.kind == "op" and token.text == ",":
                continue
            if token.kind not in ("str", "num"):
                raise self.fail(f"IN lists hold numbers and quoted strings, got {token.text!r}")
            self._check_type(key, column, token)
            values += _literal(token, column, is_param)

    def _check_type(self, key: str, column: str, literal: Token) -> None:
        """As in MLflow: a metric is compared with numbers only, a tag with quoted text only."""
        if not _is_mlflow_key(key):
            return
        kind = _kind(column)
        if kind == "number" and literal.kind == "str":
            raise self.fail(f"{key} is a number: compare it with a number, not {literal.text}")
        if kind == "text" and literal.kind == "num":
            raise self.fail(f"{key} is text: quote the value ({key} = '{literal.text}')")


def translate_filter(text: str) -> Translation:
    """MLflow search syntax (or pandas query syntax) -> pandas query text; see the module docstring."""
    return _Translator(text).run()


def unknown_column(name: str, columns: Sequence[str], written: str | None = None) -> QueryError:
    """'unknown column X; did you mean ...?' with the closest column names."""
    close = difflib.get_close_matches(name, list(columns), n=3, cutoff=0.5)
    shown = f"'{name}'" + (f" (from {written})" if written and written != name else "")
    hint = f"; did you mean {', '.join(close)}?" if close else f"; columns: {', '.join(columns)}"
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


def check_latest_n(latest_n: Any) -> None:
    """`latest_n` / `--latest`: None or a positive integer."""
    if latest_n is not None and (not isinstance(latest_n, int) or isinstance(latest_n, bool) or latest_n < 1):
        raise QueryError(f"latest_n must be a positive integer, got {latest_n!r}")
