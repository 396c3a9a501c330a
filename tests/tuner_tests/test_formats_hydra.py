"""Hydra's sweep syntax (its override grammar) as tune reads it, compared with Hydra's own parser case by case
(cases from Hydra's tests/test_overrides_parser.py and its override grammar documentation)."""

from __future__ import annotations

import math

import pytest

from tuner.errors import GridError
from tuner.formats import convert_file
from tuner.formats import hydra as H

overrides_parser = pytest.importorskip("hydra.core.override_parser.overrides_parser")
types = pytest.importorskip("hydra.core.override_parser.types")
PARSER = overrides_parser.OverridesParser.create()


def canon(value):
    """A parsed value in a form both parsers' results compare by (NaN as a tag: NaN != NaN)."""
    if isinstance(value, (types.QuotedString, H.QuotedString)):
        quote = value.quote if isinstance(value.quote, str) else ("'" if value.quote == types.Quote.single else '"')
        return ("quoted", value.text, quote)
    if isinstance(value, (types.ChoiceSweep, H.ChoiceSweep)):
        return ("choice", [canon(v) for v in value.list], value.simple_form, sorted(value.tags), value.shuffle)
    if isinstance(value, (types.RangeSweep, H.RangeSweep)):
        return ("range", canon(value.start), canon(value.stop), canon(value.step), sorted(value.tags), value.shuffle)
    if isinstance(value, (types.IntervalSweep, H.IntervalSweep)):
        return ("interval", canon(value.start), canon(value.end), sorted(value.tags))
    if isinstance(value, (types.Glob, H.Glob)):
        return ("glob", value.include, value.exclude)
    if isinstance(value, list):
        return [canon(v) for v in value]
    if isinstance(value, dict):
        return {k: canon(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    return (type(value).__name__, value if not hasattr(value, "as_tuple") else float(value))


CASES = [
    # primitives
    "abc", "foo-bar_10", "1", "-1", "+1", "0", "1_000", "1.5", "-20.0", "1e-1", "-10e3", "1e3", ".5", "5.", "1_0.5",
    "inf", "-inf", "+inf", "INF", "nan", "NaN", "true", "TrUe", "false", "False", "null", "NULL", "NuLl",
    "/path/to/file.txt", "a/b", "$", "%", "*", "@", "?", "|", "a.b", "1a", "1.2.3", "-", "a:b", "a:b:c",
    "${foo.bar}", "${oc.env:USER,me}", "${a}${b}", "a${b}c",
    "a b", "a  b", "  a", "a  ", " a b ", "\ta",
    # escapes and quotes
    "\\,", "a\\,b", "\\(\\)", "\\[\\]\\{\\}", "\\=", "\\:", "\\\\", "\\ a", "'a,b'", '"a,b"', "''", '""', "'\\''",
    '"a\\"b"', "'a\\\\'", "'a b'", "\"it's\"", "'${foo}'",
    # containers
    "[]", "[1,2,3]", "[a,[1,2]]", "[ 1 , 2 ]", "{}", "{a:1,b:[1,2]}", "{a: 1, b: c}", "{1:2}", "[a,{b:c}]",
    "{'a': 1}", "{a b: 1}", "{1.5: 2}", "{true: 1}",
    # sweeps
    "a,b,c", "1,2,3", "a, b ,c", "'a','b'", "[1,2],[3,4]", "a,b,'c,d'", "0.1,1e-3", "x y,z",
    "choice(a,b)", "choice(1,2,3)", "choice( a , b )", "choice('a b', c)", "choice([1,2],[3])", "choice(a)",
    "choice(choice(a,b))",
    "range(1,5)", "range(5)", "range(1,10,2)", "range(1,10,step=2)", "range(start=1,stop=3)", "range(0,1,0.25)",
    "range(1.0,3.0)", "range(5,1,-1)", "range(1,5), 7",
    "interval(0,1)", "interval(1e-4, 1e-1)", "interval(-1,1)",
    "tag(log, interval(1e-4,1e-1))", "tag(log,int,interval(1,100))", "tag(a, b, choice(1,2))", "tag(range(1,3))",
    "int(interval(1,100))", "float(range(1,3))", "str(1)", "str(true)", "float(1)", "int(1.5)", "bool(true)",
    "bool('false')", "str(choice(1,2))", "int(1,2)", "int(value=3)", "int([1,2])", "float({a:1})",
    "sort(3,1,2)", "sort(choice(3,1,2),reverse=true)", "sort(range(5,1,-1))", "sort(range(1,5),reverse=true)",
    "sort([3,1,2])", "sort(list=[3,2])", "sort(a)", "shuffle(a,b)", "shuffle(choice(a,b))", "shuffle(range(1,3))",
    "shuffle([1])", "glob(*)", "glob([a*,b*],exclude=c*)", "glob(include=a*)",
    # errors in both
    "choice()", "range(a)", "[1,", "abc)", "~", "choice(a", "a,", ",a", "interval(a,1)", "tag(log, 5)",
    "choice(a=1)", "range(1, stop=2, 3)", "unknownfn(1)", "'a'b",
]


@pytest.mark.parametrize("text", CASES)
def test_the_value_grammar_agrees_with_hydras_parser(text):
    try:
        expected = canon(PARSER.parse_override(f"key={text}")._value)
        hydra_error = None
    except Exception as exc:  # Hydra raises OverrideParseException / HydraException
        expected, hydra_error = None, exc
    if hydra_error is not None:
        with pytest.raises(GridError):
            H.parse_value(text)
        return
    assert canon(H.parse_value(text)) == expected


@pytest.mark.parametrize("text, expected", [
    ("choice(1,2,3)", ("choice", [1, 2, 3])),
    ("range(1,5)", ("range", [1, 2, 3, 4])),
    ("range(0,1,0.25)", ("range", [0.0, 0.25, 0.5, 0.75])),
    ("range(1,10,step=3)", ("range", [1, 4, 7])),
])
def test_hydras_sweep_iterator_and_ours_list_the_same_values(text, expected):
    override = PARSER.parse_override(f"key={text}")
    assert list(map(H.plain, override.sweep_iterator())) == expected[1]
    assert H.flag_values(text) == expected[1]


# -- --flag values: Hydra's basic sweeper's meaning ---------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("0.01,0.1", [0.01, 0.1]),                                 # tune's rule and Hydra's agree
    ("'a,b'", ["a,b"]),
    ("choice(adam, sgd)", ["adam", "sgd"]),
    ("range(1,5)", [1, 2, 3, 4]),                              # stop excluded, as Python's range
    ("range(0, 1, 0.5)", [0.0, 0.5]),
    ("interval(0, 1)", {"uniform": [0.0, 1.0]}),
    ("tag(log, interval(1e-4, 1e-1))", {"loguniform": [1e-4, 1e-1]}),
    ("int(interval(1, 10))", {"randint": [1, 11]}),
    ("tag(log, int(interval(1, 1024)))", {"lograndint": [1, 1025]}),
    ("sort(3, 1, 2)", [1, 2, 3]),
    ("choice('a,b', c)", ["a,b", "c"]),
])
def test_flag_values(raw, expected):
    assert H.flag_values(raw, "x") == expected


def test_where_the_two_rules_differ_the_existing_rule_is_kept_without_a_sweep_function():
    assert H.flag_values("1_000") == ["1_000"]   # tune: text; Hydra: 1000
    assert H.flag_values(".inf") == [math.inf]  # tune: a float; Hydra: text
    assert H.flag_values("a, b") == ["a", " b"]
    assert H.parse_value("1_000") == 1000 and H.parse_value(".inf") == ".inf"


def test_glob_is_refused_with_one_line():
    with pytest.raises(GridError, match="glob\\(\\) selects options of a Hydra config group"):
        H.flag_values("glob(*)", "db")


def test_a_flags_file_value_with_a_sweep_function_is_converted(tmp_path):
    from tuner.plan import load_grid

    path = tmp_path / "grid.yml"
    path.write_text("layers: range(1,4)\nlr: tag(log, interval(1e-4, 1e-1))\nname: 'a,b'\n")
    space = load_grid(str(path), num_samples=2, seed=1)
    assert space.grid_values == ((1, 2, 3), ("a,b",))
    assert dict(space.distributions)["lr"].log


OPTUNA_CONFIG = """
defaults:
  - override hydra/sweeper: optuna

hydra:
  sweeper:
    sampler:
      _target_: optuna.samplers.TPESampler
      seed: 123
    direction: maximize
    study_name: sphere
    storage: null
    n_trials: 20
    n_jobs: 1
    params:
      x: range(-5.5, 5.5, step=0.5)
      y: choice(-5, 0, 5)
      z: interval(0, 1)
      w: tag(log, interval(1e-4, 1))
      n: range(1, 4)
      opt: adam,sgd
      fixed: 3

x: 1
y: 1
"""


def test_an_optuna_sweeper_config_becomes_a_tpe_search(tmp_path):
    from tuner.yamlfile import load

    sweep = convert_file(load(OPTUNA_CONFIG), "config.yaml")
    assert sweep is not None and sweep.kind == "hydra"
    assert sweep.settings == {"search": "tpe", "seed": 123, "mode": "max", "run_cap": 20}
    flags = sweep.flags
    assert flags["x"]["choice"][0] == -5.5 and flags["x"]["choice"][-1] == 5.5  # Optuna's step: stop included
    assert flags["y"] == {"choice": [-5, 0, 5]} and flags["opt"] == {"choice": ["adam", "sgd"]}
    assert flags["z"] == {"uniform": [0.0, 1.0]} and flags["w"] == {"loguniform": [1e-4, 1.0]}
    assert flags["n"] == {"randint": [1, 5]} and flags["fixed"] == [3]
    assert sweep.notes == ("hydra.sweeper.study_name", "hydra.sweeper.n_jobs")


def test_a_basic_sweeper_params_block_is_a_grid():
    from tuner.yamlfile import load

    sweep = convert_file(load("hydra:\n  sweeper:\n    params:\n      db: mysql,postgresql\n      n: range(1,3)\n"),
                         "config.yaml")
    assert sweep is not None and sweep.flags == {"db": ["mysql", "postgresql"], "n": [1, 2]}
    assert sweep.settings == {}
