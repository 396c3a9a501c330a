"""The filter grammar (docs/filters.md): what it selects, and that hostile filters are refused in one line with
nothing run, from the API and from `tune ls / clean / restore --filter` (issue 29: filters went to
`DataFrame.query(engine="python")`, which runs `@os.system(...)`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import run_tune
from synthetic_runs import make_run

from tuner import QueryError, ls_runs
from tuner.cli.main import main
from tuner.runs.expression import LikePattern
from tuner.runs.query import MAX_LENGTH, MAX_NESTING, parse_filter

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
R1, R2, R3, R4 = "2026-01-01T00-00-01Z", "2026-01-01T00-00-02Z", "2026-01-01T00-00-03Z", "2026-01-02T00-00-04Z"


@pytest.fixture
def runs(workdir: Path) -> Path:
    root = workdir / "runs"
    make_run(root, R1, start=T0 + 1, flags={"lr": 0.1, "units": 64, "optimizer": "adam", "size": 3},
             metrics=[{"acc": 0.9, "loss": 0.3}], tags={"team": "vision"})
    make_run(root, R2, start=T0 + 2, flags={"lr": 0.3, "units": 128, "optimizer": "sgd", "size": "big"},
             metrics=[{"acc": 0.7, "loss": 0.6}], tags={"team": "nlp"})
    make_run(root, R3, start=T0 + 3, status="failed", flags={"lr": 0.5, "units": 32, "size": 1})
    make_run(root, R4, start=T0 + 86_400, status="running", flags={"lr": 0.01, "units": 64, "optimizer": "Adam"},
             metrics=[{"acc": 0.95, "loss": 0.1}])
    return root


def folders(root: Path) -> list[str]:
    """The run folders (the listing keeps its index beside them)."""
    return sorted(name for name in os.listdir(root) if not name.startswith("."))


def names(frame) -> list[str]:
    return sorted(os.path.basename(p) for p in frame["run_dir"])


@pytest.mark.parametrize("expr, expected", [
    ("0.05 < flag_lr < 0.4", [R1, R2]),                        # chained, as pandas and Python read it
    ("0.05 < flag_lr <= 0.3 < flag_units / 400", [R2]),
    ("flag_units == [32, 128]", [R2, R3]),                      # pandas: == with a list is in
    ("flag_units != [32, 128]", [R1, R4]),
    ("flag_units in (32,)", [R3]),
    ("flag_lr * 10 >= 3", [R2, R3]),
    ("-flag_lr < -0.2", [R2, R3]),
    ("flag_units // 64 == 1 and flag_units % 64 == 0", [R1, R4]),
    ("flag_units == 2 ** 6", [R1, R4]),
    ("metric_acc - metric_loss > 0.5", [R1, R4]),
    ("not flag_lr > 0.2", [R1, R4]),
    ("~(flag_lr > 0.2)", [R1, R4]),
    ("flag_lr > 0.4 | flag_units == 128", [R2, R3]),            # | and & have and/or's precedence, as in pandas
    ("flag_lr > 0.2 & flag_units < 100", [R3]),
    ("flag_lr > 0.2 AND NOT flag_units < 100 OR flag_lr < 0.05", [R2, R4]),
    ("completed", [R1, R2]),
    ("not completed and status != 'running'", [R3]),
    ("`flag_lr` >= 0.5", [R3]),
    ('flag_optimizer == "sgd"', [R2]),
    ("flag_optimizer like 'adam'", [R1]),
    ("flag_optimizer ILIKE 'ADAM'", [R1, R4]),
    ("flag_optimizer not like 'a%'", [R2, R4]),                # a run without the flag matches neither
    ("flag_optimizer not in ['sgd']", [R1, R4]),               # as in SQL, missing values are in no list
    ("flag_optimizer is null", [R3]),
    ("tag_team IS NOT NULL and metric_acc > 0.8", [R1]),
    ("end is null", [R4]),
    ("flag_lr > 0.2 == True", []),                              # a chain: flag_lr > 0.2 and 0.2 == True (false)
    ("(flag_lr > 0.2) == True", [R2, R3]),
    ("flag_size > 2", [R1]),                                   # numbers and text in one column: the numbers
    ("flag_size == 'big'", [R2]),
    ("start > '2026-01-01T12:00:00Z'", [R4]),
    ("9 ** 9 ** 9 > flag_lr", [R1, R2, R3, R4]),               # literal arithmetic stays bounded (a float: inf)
    ("flag_lr / 0 > 1e308", [R1, R2, R3, R4]),                 # over a column, numpy's inf
])
def test_the_grammar_selects_what_it_says(runs: Path, expr: str, expected: list[str]) -> None:
    assert names(ls_runs(subset=expr)) == expected


def test_mlflow_and_pandas_spellings_give_the_same_tree() -> None:
    assert parse_filter("metrics.acc > 0.9 AND tags.team = 'a' OR NOT params.lr <> '0.1'").tree == parse_filter(
        "metric_acc > 0.9 and tag_team == 'a' or not flag_lr not in [0.1, '0.1']").tree
    # a literal on the left is an MLflow comparison too
    assert parse_filter("'0.2' = params.dropout").tree == parse_filter("params.dropout = '0.2'").tree
    assert parse_filter("0.5 > metrics.acc").tree == parse_filter("metrics.acc < 0.5").tree


def _hostile(sentinel: Path) -> list[str]:
    """Filters that run `touch sentinel` (or would read or write it) if any part of them were evaluated as Python;
    each worked on `DataFrame.query(engine="python")` or names what it resolves (listing.py imports os)."""
    touch = f"'touch {sentinel}'"
    return [
        f"@os.system({touch}) == 0",
        f"flag_lr > 0 and @os.system({touch}) == 0",
        f"__import__('os').system({touch}) == 0",
        f"flag_lr.__class__.__init__.__globals__['os'].system({touch})",
        f"`flag_lr`.__class__ == 1 or @os.system({touch})",
        f"params.__class__ == 1 or @os.system({touch})",
        f"(lambda: __import__('os').system({touch}))() == 0",
        f"@pd.io.common.os.system({touch}) == 0",
        f"os.system({touch}) == 0",
        f"exec(\"import os; os.system({touch})\")",
        f"open('{sentinel}', 'w').close() is None",
        f"status.str.len() > 0 or @os.system({touch})",
        f"flag_lr[0] > 1 or @os.system({touch})",
        f"[os.system({touch}) for x in ()]",
        f"flag_lr if @os.system({touch}) else 0",
        f"'%0999999999d' % 1 == 'x' or @os.system({touch})",
        f"'a' * 1000000000 == flag_optimizer or @os.system({touch})",
        "(" * 10_000 + f"@os.system({touch})" + ")" * 10_000,
        "flag_lr > 0 and " * (1_048_576 // 16) + f"@os.system({touch}) == 0",
    ]


def test_hostile_filters_are_refused_in_one_line_and_nothing_runs(runs: Path, workdir: Path) -> None:
    sentinel = workdir / "pwned"
    for expr in _hostile(sentinel):
        with pytest.raises(QueryError) as info:
            ls_runs(subset=expr)
        message = str(info.value)
        assert "\n" not in message and len(message) < 1000, message
        assert re.search(r"at position [\d,]+", message) and "example" in message, message
        assert not sentinel.exists(), expr[:80]


@pytest.mark.parametrize("expr, says, pos", [
    ("@os.system('id') == 0", "'@' (a Python variable) is not allowed", 0),
    ("__import__('os')", "'__import__' is not allowed: no Python internals (dunder names) in a filter", 0),
    ("flag_lr.__class__", "attribute access ('.__class__') is not allowed", 7),
    ("params.lr.__class__ > 1", "'__class__' is not allowed: no Python internals (dunder names)", 10),
    ("status.str.len() > 0", "attribute access ('.str.len') is not allowed", 6),
    ("abs(flag_lr) > 0", "calls are not allowed: '(' follows a value", 3),
    ("lambda: 1", "'lambda' is not allowed: a filter compares columns with values", 0),
    ("@pd", "'@' (a Python variable) is not allowed", 0),
    ("x[0]", "subscripts ('[') are not allowed; a list follows in, == or !=", 1),
    ("(" * 10_000 + "x" + ")" * 10_000, f"nests deeper than {MAX_NESTING} levels", MAX_NESTING),
    ("-" * 200 + "1 == 1", f"nests deeper than {MAX_NESTING} levels", MAX_NESTING),
    ("not " * 100 + "completed", f"nests deeper than {MAX_NESTING} levels", 4 * MAX_NESTING),
    ("x" * (MAX_LENGTH + 1), f"is longer than {MAX_LENGTH:,} characters", f"{MAX_LENGTH:,}"),
    ("flag_lr >", "expected a value (a column, number or quoted text)", "9 (the end)"),
    ("flag_lr > 1 flag_units", "expected an operator (and, or, ==, <, in, like, +, ...) before 'flag_units'", 12),
    ("flag_lr in 3", "IN needs a list such as ('a', 'b') or [1, 2]", 11),
    ("flag_lr in [flag_units]", "a list holds numbers, quoted text, True, False or None, not expressions", 11),
    ("flag_lr < 1 in [1]", "comparisons chain only with ==, !=, <, <=, >, >=: join the others with and", 12),
    ("flag_lr == not completed", "'not' here needs parentheses: (not ...)", 11),
    ("tag_team = 'a", "a quoted text opened here is not closed", 11),
    ("flag_lr ; 1", "unexpected character ';'", 8),
    ("flag_lr is 1", "expected NULL after IS", 11),
    ("flag_lr == NULL", "NULL only follows IS", 11),
    ("flag_lr like 1", "LIKE needs a quoted pattern such as 'adam%'", 13),
    ("(flag_lr > 1", "expected ',' or ')'", "12 (the end)"),
    ("flag_lr > 1)", "unmatched ')'", 11),
    ("   ", "the filter is empty", "3 (the end)"),
    ("metrics.acc > '0.9'", "metrics.acc is a number: compare it with a number, not '0.9'", 12),
    ("start_time > 1e300", "start_time is compared with a time in epoch milliseconds; 1e+300 is none", 11),
])
def test_refusals_name_the_problem_and_the_position(expr: str, says: str, pos: int | str) -> None:
    with pytest.raises(QueryError) as info:
        parse_filter(expr)
    message = str(info.value)
    assert says in message and f"at position {pos}" in message, message
    assert "example" in message and "docs/filters.md" in message and "\n" not in message, message


@pytest.mark.parametrize("expr, says", [
    ("flag_optimizer > 1", "'>' cannot compare flag_optimizer (text values) with 1 at position 15"),
    ("flag_optimizer * 2 == 'adamadam'", "'*' takes numbers, got flag_optimizer (text values) at position 15"),
    ("flag_lr and completed", "and takes true/false values (comparisons), got flag_lr (number values)"),
    ("flag_lr", "a filter takes true/false values (comparisons), got flag_lr (number values) at position 0"),
    ("start > 5", "'>' cannot compare start (time values) with 5 at position 6"),
    ("1 // 0 == flag_lr", "'//' divides by zero at position 2"),
])
def test_operators_that_meet_values_they_do_not_take_say_where(runs: Path, expr: str, says: str) -> None:
    with pytest.raises(QueryError) as info:
        ls_runs(subset=expr)
    message = str(info.value)
    assert "does not apply to these columns" in message and says in message and "\n" not in message, message


def test_a_name_with_control_characters_is_shown_inert(runs: Path) -> None:
    with pytest.raises(QueryError) as info:
        ls_runs(subset="`flag_\x1b]0;owned\x07\nlr` > 1")
    message = str(info.value)
    assert "\x1b" not in message and "\n" not in message and "\\x1b]0;owned\\x07\\nlr" in message


def test_like_takes_linear_time_whatever_the_pattern() -> None:
    # `%a%a...%b` against a long run of a's: a backtracking regex takes exponential time (minutes at 20 %s)
    pattern = LikePattern("%a" * 25 + "%b", case=True)
    assert not pattern.match("a" * 5_000)
    assert pattern.match("a" * 5_000 + "b")
    assert LikePattern("a_c%", case=False).match("ABCdef") and not LikePattern("a_c", case=True).match("abcd")


@pytest.mark.parametrize("command", ["ls", "clean", "restore"])
def test_cli_refuses_a_hostile_filter_with_exit_2_one_line_and_moves_nothing(runs: Path, workdir: Path,
                                                                            command: str) -> None:
    sentinel = workdir / "pwned"
    before = folders(runs)
    args = [command, "--filter", f"@os.system('touch {sentinel}') == 0"] + (["--yes"] if command != "ls" else [])
    done = run_tune(*args, cwd=workdir)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("tune: error: filter "), done.stderr
    assert "'@' (a Python variable) is not allowed" in lines[0] and "at position 0" in lines[0]
    assert not sentinel.exists()
    assert folders(runs) == before and not (runs / "archive").exists()


def test_cli_clean_with_hostile_filters_in_process(runs: Path, workdir: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    sentinel = workdir / "pwned"
    before = folders(runs)
    for expr in _hostile(sentinel):
        assert main(["clean", "--filter", expr, "--yes"]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and err.startswith("tune: error: filter "), err[:300]
    assert not sentinel.exists() and folders(runs) == before and not (runs / "archive").exists()


def test_an_unknown_column_is_named_with_the_closest_and_its_position(runs: Path) -> None:
    with pytest.raises(QueryError) as info:
        ls_runs(subset="flag_lr > 0 and flag_unit > 1")
    message = str(info.value)
    assert message.startswith("unknown column 'flag_unit'; did you mean flag_units")
    assert "at position 16 ('flag_unit > 1')" in message and "example" in message and "\n" not in message


def test_a_dotted_flag_is_a_backticked_column_or_an_mlflow_key(workdir: Path) -> None:
    make_run(workdir / "runs", R1, start=T0 + 1, flags={"model.lr": 0.1})
    make_run(workdir / "runs", R2, start=T0 + 2, flags={"model.lr": 0.3})
    assert names(ls_runs(subset="`flag_model.lr` > 0.2")) == [R2]
    assert names(ls_runs(subset="params.model.lr = '0.1'")) == [R1]
    with pytest.raises(QueryError, match=r"attribute access \('\.lr'\) is not allowed; a column whose name holds a "
                                         r"dot is written in backticks"):
        ls_runs(subset="flag_model.lr > 0.2")
