"""Property-based tests of the filter grammar (hypothesis; the example count is the profile's, tests/conftest.py):
random and adversarial text gives a frame or one QueryError and writes nothing; well-formed expressions select
what pandas' own `query` selects on the same text (a reference used here only, on generated safe input);
printing a parsed filter and parsing it again gives the same tree; LIKE matches as a regex would."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from synthetic_runs import make_run

from tuner import QueryError, ls_runs
from tuner.runs.expression import LikePattern, NotApplicable
from tuner.runs.listing import filter_runs
from tuner.runs.query import parse_filter

T0 = 1_767_225_600.0


def _tree(root: Path) -> list[tuple[str, int, float]]:
    return sorted((os.path.relpath(os.path.join(d, f), root), os.stat(os.path.join(d, f)).st_size,
                   os.stat(os.path.join(d, f)).st_mtime) for d, _, files in os.walk(root) for f in files)


@pytest.fixture(scope="module")
def listing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[pd.DataFrame, Path]]:
    """A real ls_runs frame (missing values, a column mixing numbers and text, times, tags, true/false), and a
    folder to watch: the runs directory and an empty working directory."""
    root = tmp_path_factory.mktemp("filters")
    runs = root / "runs"
    for i, (lr, units, opt, size, acc, team) in enumerate([
            (0.1, 64, "adam", 3, 0.9, "vision"), (0.3, 128, "sgd", "big", 0.7, None),
            (0.5, 32, None, 1, None, "nlp"), (0.01, 64, "Adam", None, 0.95, "vision")]):
        flags = {k: v for k, v in {"lr": lr, "units": units, "optimizer": opt, "size": size}.items() if v is not None}
        make_run(runs, f"2026-01-01T00-00-0{i}Z", start=T0 + i, status=("finished", "failed")[i % 2], flags=flags,
                 metrics=[{"acc": acc}] if acc is not None else [], tags={"team": team} if team else None)
    frame = ls_runs(runs_dir=str(runs))
    cwd = os.getcwd()
    os.chdir(root)
    try:
        yield frame, root
    finally:
        os.chdir(cwd)


# -- random and adversarial text -------------------------------------------------------------------------------

VOCABULARY = [
    # columns and MLflow keys, some unknown
    "flag_lr", "flag_units", "flag_optimizer", "flag_size", "metric_acc", "tag_team", "status", "start", "end",
    "completed", "run_dir", "params.lr", "params.optimizer", "metrics.acc", "metrics.nope", "tags.team",
    "attributes.status", "start_time", "run_name", "`flag_lr`", "`metric acc`", "nothing", "metrics.`a b`",
    # literals
    "0", "1", "-1", "0.5", "1e999", "9", "'a'", "'adam%'", '"sgd"', "'%a%_'", "True", "false", "None", "NULL",
    "'FAILED'", "'0.1'", "1767225600000", "''",
    # operators and keywords, any case
    "==", "=", "!=", "<>", "<", "<=", ">", ">=", "+", "-", "*", "/", "//", "%", "**", "~", "&", "|",
    "and", "or", "not", "in", "is", "like", "ilike", "AND", "OR", "NOT", "IN", "IS", "LIKE", "ILIKE",
    "(", ")", "[", "]", ",",
    # what must never work
    "@", "@os", ".", "os.system", "__import__", ".__class__", "lambda", ":", "import", "if", "else", "for",
    "x[0]", "('touch pwned')", ";", "`", "'", '"', "\\", "\x1b[2J", "\n", "\x00", "é",
]

tokens = st.lists(st.sampled_from(VOCABULARY), max_size=24)
# well-formed filters over the real columns, of any types: they reach evaluation (text compared with numbers,
# the mixed column, keys no run has, times), where the soup above mostly stops at parsing
names = st.sampled_from(VOCABULARY[:23])
values = st.sampled_from(VOCABULARY[23:42])
links = st.one_of(
    st.tuples(names, st.sampled_from(["==", "=", "!=", "<>", "<", ">=", "LIKE", "not like", "ILIKE"]), values)
    .map(" ".join),
    st.tuples(names, st.sampled_from(["+", "-", "*", "/", "//", "%", "**"]), values, st.sampled_from(["<", "=="]),
              values).map(" ".join),
    st.tuples(names, st.sampled_from(["IN", "not in"]), st.lists(values, max_size=3))
    .map(lambda t: f"{t[0]} {t[1]} ({', '.join(t[2])})"),
    st.tuples(names, st.sampled_from(["IS NULL", "is not null"])).map(" ".join),
    names,
)
structured = st.recursive(links, lambda inner: st.one_of(
    st.tuples(inner, st.sampled_from(["and", "OR", "&", "|"]), inner).map(" ".join),
    inner.map(lambda e: f"NOT ({e})"), inner.map(lambda e: f"({e})")), max_leaves=6)
filters = st.one_of(
    structured,
    tokens.map(" ".join),
    tokens.map("".join),
    st.text(alphabet=st.sampled_from(list("abflr_ .'\"`()[],<>=!~&|+-*/%@0123456789eE\\\n")), max_size=40),
    st.text(max_size=30),
)


@given(text=filters)
def test_any_text_gives_a_frame_or_one_query_error_and_writes_nothing(listing, text: str) -> None:
    frame, root = listing
    before = _tree(root)
    try:
        chosen = filter_runs(frame, text)
    except QueryError as exc:
        message = str(exc)
        assert message and "\n" not in message and "\x1b" not in message, message
    else:
        assert isinstance(chosen, pd.DataFrame) and list(chosen.columns) == list(frame.columns)
        assert set(chosen.index) <= set(frame.index)
    assert _tree(root) == before


# -- well-formed expressions against pandas' query (reference only) --------------------------------------------

small_frames = st.lists(
    st.tuples(st.one_of(st.none(), st.floats(-4, 4, allow_nan=False).map(lambda v: round(v, 2))),
              st.integers(-3, 6), st.sampled_from(["x", "y", "xy", None]), st.booleans()),
    min_size=1, max_size=8,
).map(lambda rows: pd.DataFrame({
    "a": pd.Series([r[0] for r in rows], dtype="float64"), "b": pd.Series([r[1] for r in rows], dtype="int64"),
    "c": pd.Series([r[2] for r in rows], dtype="str"), "d": pd.Series([r[3] for r in rows], dtype="bool")}))

numbers = st.one_of(st.integers(0, 5).map(str), st.sampled_from(["0.5", "2.25", "1e-3", "3.0"]))
numeric_any = st.recursive(
    st.one_of(numbers, st.sampled_from(["a", "b"])),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda e: f"-{e}"), inner.map(lambda e: f"({e}) ** 2")),
    max_leaves=4)
# an arithmetic expression with a column in it: so every comparison is one of columns, as a filter's is
numeric_column = st.recursive(
    st.sampled_from(["a", "b", "`a`"]),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), numeric_any).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(numeric_any, st.sampled_from(["+", "-", "*"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda e: f"-{e}")),
    max_leaves=3)
comparison_ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
texts = st.sampled_from(["'x'", "'y'", '"xy"', "'z'"])
comparisons = st.one_of(
    st.tuples(numeric_column, comparison_ops, numeric_any).map(" ".join),
    st.tuples(numeric_any, comparison_ops, numeric_column).map(" ".join),
    st.tuples(numbers, st.sampled_from(["<", "<="]), numeric_column, st.sampled_from(["<", "<="]), numbers)
    .map(" ".join),
    st.tuples(st.just("c"), comparison_ops, texts).map(" ".join),
    st.lists(texts, max_size=3).map(lambda items: f"c in [{', '.join(items)}]"),
    st.lists(st.integers(-3, 6).map(str), max_size=3).map(lambda items: f"b in [{', '.join(items)}]"),
    st.lists(st.integers(-3, 6).map(str), min_size=1, max_size=3).map(lambda items: f"b == [{', '.join(items)}]"),
    st.sampled_from(["d", "d == True", "d != False"]),
)
conditions = st.recursive(
    comparisons,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or", "&", "|"]), inner).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        inner.map(lambda e: f"not ({e})"), inner.map(lambda e: f"~({e})")),
    max_leaves=5)


def _reference(frame: pd.DataFrame, text: str) -> list[int] | None:
    """What pandas' own query selects (None where it raises): the reference, never used by tuner."""
    try:
        with np.errstate(all="ignore"):
            return list(frame.query(text, engine="python").index)
    except Exception:  # noqa: BLE001 - pandas' many ways of failing: no reference for this example
        return None


def _ours(frame: pd.DataFrame, text: str) -> list[int]:
    parsed = parse_filter(text)
    try:
        return list(frame.index[parsed.mask(frame).to_numpy()])
    except NotApplicable as exc:
        raise parsed.inapplicable(exc) from None


@given(frame=small_frames, text=conditions)
def test_well_formed_filters_select_what_pandas_query_selects(frame: pd.DataFrame, text: str) -> None:
    expected = _reference(frame, text)
    assume(expected is not None)
    assert _ours(frame, text) == expected


def _sql_spelling(text: str) -> str:
    """The same filter as an MLflow user types it: upper-case keywords, `=` and `<>`."""
    text = re.sub(r"(?<![=!<>])==(?!=)", "=", text).replace("!=", "<>")
    return re.sub(r"\b(and|or|not|in)\b", lambda m: m.group().upper(), text)


@given(frame=small_frames, text=conditions)
def test_sql_spellings_select_the_same_and_printing_round_trips(frame: pd.DataFrame, text: str) -> None:
    parsed = parse_filter(text)
    assert parse_filter(_sql_spelling(text)).tree == parsed.tree
    assert parse_filter(str(parsed)).tree == parsed.tree
    try:
        expected = _ours(frame, text)
    except QueryError:
        return
    assert _ours(frame, str(parsed)) == expected


# -- LIKE -------------------------------------------------------------------------------------------------------

like_text = st.text(alphabet=st.sampled_from(list("abAB_.%*\n")), max_size=12)


def _like_reference(pattern: str, text: str, case: bool) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL | (0 if case else re.IGNORECASE)) is not None


@given(pattern=like_text, values=st.lists(st.one_of(st.none(), like_text), max_size=6), case=st.booleans())
def test_like_matches_as_a_regex_would(pattern: str, values: list[str | None], case: bool) -> None:
    like = LikePattern(pattern, case)
    expected = [v is not None and _like_reference(pattern, v, case) for v in values]
    assert [v is not None and like.match(v) for v in values] == expected
    for dtype in ("str", object):  # pandas' regex (RE2 on pyarrow text) or ours, whichever the column takes
        series = pd.Series(values, dtype=dtype)
        assert like.matches(series.where(series.notna(), math.nan)).tolist() == expected
