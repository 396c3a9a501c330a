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
    # glob: Hydra's test_glob and its grammar documentation (config group `schema`), then what Hydra refuses
    "glob(include=*)", "glob(include=[*])", "glob(include=[a*, b*], exclude=c*)", "glob(*,exclude=support)",
    "glob([s*,w*],exclude=school)", "glob('a,b')", "glob(*, exclude=null)", "glob(include=*,exclude=[])", "glob([])",
    "glob(a/b*)", "glob(?)", "glob( a )", "glob(a*, b*)", "glob()", "glob(x=a)", "glob(null)", "glob({a:1})",
    "glob(a*, b*, c*)", "glob(1)", "glob(true)", "choice(glob(*))", "sort(glob(*))", "shuffle(glob(*))",
    "str(glob(*))", "tag(log, glob(*))", "glob(*),a", "[glob(*)]", "{a: glob(*)}",
    # arguments bound to Hydra's signatures and checked against their types (Hydra's Functions.eval)
    "choice(interval(0,1))", "choice(range(1,3))", "choice(null)", "choice(a,null)", "choice(1, a=2)",
    "range()", "range(1,2,3,4)", "range(true)", "range(1, null)", "range(x=1)", "range('1', 3)",
    "interval()", "interval(1)", "interval(1,2,3)", "interval(true,2)", "interval(0, end=1)", "interval(null, 1)",
    "tag()", "tag(log)", "tag(log, sweep=interval(0,1))", "tag(sweep=interval(0,1))", "tag(1, interval(0,1))",
    "tag(log, [1,2])", "tag(log, sweep=5)", "int()", "int(1, value=2)", "int(value=null)", "int(null)",
    "str(null)", "int(inf)", "int(nan)", "int(abc)", "bool(yes)", "bool(1.5)", "int([1,null])", "str(1,null)",
    "sort()", "sort(null)", "sort(a,1)", "sort(1,2,reverse=1)", "sort(interval(0,1))", "sort({a:1})",
    "sort(list=[3,1],reverse=true)", "sort(sweep=choice(3,1))", "shuffle(interval(0,1))", "shuffle(null)",
    "shuffle({a:1})", "shuffle(sweep=range(1,3))",
    # what a cast keeps of a sweep's tags (Hydra: an interval's, not a choice's or range's)
    "float(tag(x, range(1,3)))", "str(tag(x, choice(1,2)))", "int(tag(log, interval(1, 10)))",
    "tag(log, shuffle(choice(a,b)))", "shuffle(tag(log, choice(a,b)))",
    # whitespace after `=` belongs to the `=` token
    " ", "  choice(a,b)", "\trange(1,3)",
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


def _hydra_test_values():
    import json
    import os

    path = os.path.join(os.path.dirname(__file__), "formats_data", "hydra_override_values.json")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)["values"]


@pytest.mark.parametrize("text", _hydra_test_values())
def test_every_value_of_hydras_own_grammar_tests_parses_as_hydra_parses_it(text):
    """The values of Hydra's tests/test_overrides_parser.py (formats_data/hydra_override_values.json says which)."""
    test_the_value_grammar_agrees_with_hydras_parser(text)


@pytest.mark.parametrize("start, stop, step", [  # Hydra's test_sort_range_materializes_to_sorted_values
    (0, 5, 2), (4, -1, -2), (7, 0, -3), (1, 10, 1), (0, 1, 1), (0, 0, 1), (1, 0, 1), (0, 2, 0.5), (0, 1.3, 0.5),
    (1.3, 0, -0.5), (0, 1, 0.1), (0, 1, 0.2), (0, 0.3, 0.1), (1, 0, -0.1),
])
def test_sort_of_a_range_lists_its_own_values_sorted(start, stop, step):
    original = H.RangeSweep(start, stop, step).values()
    for reverse in (False, True):
        swept = H.parse_value(f"sort(range({start}, {stop}, {step}), reverse={str(reverse).lower()})")
        assert swept.values() == sorted(original, reverse=reverse)


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


# -- glob(): the options of a Hydra app's config group ----------------------------------------------------------

HYDRA_APP = """
import hydra
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    print(f"driver: {cfg.db.driver}")
    print(f"loss: {cfg.lr * len(cfg.db.driver)}")


if __name__ == "__main__":
    main()
"""


@pytest.fixture
def hydra_app(tmp_path):
    """A Hydra app as its docs lay one out: conf/config.yaml with a defaults list, the group conf/db with three
    options, and what is no option of it (a .txt, a .yml: Hydra 1.2+ reads .yaml only, a sub-folder)."""
    (tmp_path / "conf" / "db" / "replicas").mkdir(parents=True)
    (tmp_path / "conf" / "config.yaml").write_text("defaults:\n  - db: mysql\n  - _self_\nlr: 0.1\n")
    for option in ("mysql", "postgresql", "sqlite"):
        (tmp_path / "conf" / "db" / f"{option}.yaml").write_text(f"driver: {option}\n")
    (tmp_path / "conf" / "db" / "README.txt").write_text("the databases\n")
    (tmp_path / "conf" / "db" / "legacy.yml").write_text("driver: legacy\n")
    (tmp_path / "conf" / "db" / "replicas" / "two.yaml").write_text("n: 2\n")
    (tmp_path / "train.py").write_text(HYDRA_APP)
    return tmp_path


def hydra_expands(config_dir, override):
    """What Hydra's basic sweeper lists for `override` with the app's own config loader."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        parser = overrides_parser.OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())
        (parsed,) = parser.parse_overrides([override])
        return parsed.key_or_group, list(parsed.sweep_string_iterator())


@pytest.mark.parametrize("override", ["db=glob(*)", "db=glob(*,exclude=sqlite)", "db=glob([m*,p*],exclude=mysql)",
                                      "db=glob(include=[*sql*], exclude=[my*])", "+db@backup=glob(p*)",
                                      "db/replicas=glob(*)", "db=glob('s*')"])
def test_glob_lists_the_options_hydras_own_loader_lists(hydra_app, override):
    from tuner.cli.run import parse_flag_options

    group, expected = hydra_expands(hydra_app / "conf", override)
    assert expected  # the case selects something in Hydra
    name = override.split("=", 1)[0]
    assert H.group_of(name) == group
    assert parse_flag_options([override], str(hydra_app / "train.py")) == {name: expected}


@pytest.mark.parametrize("include, exclude, expected", [  # Hydra's test_glob_filter
    (["*"], [], ["the", "quick", "brown", "fox", "jumped", "under", "the", "lazy", "dog"]),
    (["*"], ["quick", "under"], ["the", "brown", "fox", "jumped", "the", "lazy", "dog"]),
    (["*"], ["*d*"], ["the", "quick", "brown", "fox", "the", "lazy"]),
    (["t*"], [], ["the", "the"]),
])
def test_glob_filter_as_hydras(include, exclude, expected):
    words = ["the", "quick", "brown", "fox", "jumped", "under", "the", "lazy", "dog"]
    assert H.Glob(include, exclude).filter(words) == expected == types.Glob(include, exclude).filter(words)


def test_glob_in_a_flags_file_and_in_a_sweeper_config_selects_from_the_apps_groups(hydra_app):
    from tuner.flagsfile import read_flags_file

    (hydra_app / "grid.yml").write_text("db: glob(*, exclude=sqlite)\nlr: [0.1, 0.2]\n")
    grid = read_flags_file(str(hydra_app / "grid.yml"), str(hydra_app / "train.py"))
    assert grid.flags["db"] == ["mysql", "postgresql"]
    # a primary config with the basic sweeper's params: its own folder is the config folder, no script needed
    (hydra_app / "conf" / "sweep.yaml").write_text("defaults:\n  - config\nhydra:\n  sweeper:\n    params:\n"
                                                   "      db: glob(*)\n      lr: 0.1,0.01\n")
    swept = read_flags_file(str(hydra_app / "conf" / "sweep.yaml"))
    assert swept.flags == {"db": ["mysql", "postgresql", "sqlite"], "lr": [0.1, 0.01]}


def test_config_path_as_hydra_resolves_it(tmp_path):
    """Relative to the script; left out: None from version_base 1.2 (or None), "." before (Hydra's main())."""
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "a.yaml").write_text("x: 1\n")
    cases = {
        'from hydra import main\n@main(config_path=".", config_name="c", version_base="1.3")\ndef f(cfg): pass\n':
            ["a"],
        'import hydra\n@hydra.main(".", "c")\ndef f(cfg): pass\n': ["a"],
        'import hydra\n@hydra.main(config_name="c")\ndef f(cfg): pass\n': ["a"],  # 1.1's default "."
        'import hydra\n@hydra.main(config_name="c", version_base="1.1")\ndef f(cfg): pass\n': ["a"],
        'import hydra\n@hydra.main(config_name="c", version_base=None)\ndef f(cfg): pass\n': "config_path None",
        'import hydra\n@hydra.main(config_name="c", version_base="1.2")\ndef f(cfg): pass\n': "config_path None",
        'import hydra\n@hydra.main(config_path="pkg://app.conf")\ndef f(cfg): pass\n': "is a package",
        'import hydra, os\n@hydra.main(config_path=os.getcwd())\ndef f(cfg): pass\n': "computes its config_path",
        'import argparse\nargparse.ArgumentParser().parse_args()\n': "no @hydra.main",
    }
    for index, (source, expected) in enumerate(cases.items()):
        script = tmp_path / f"app{index}.py"
        script.write_text(source)
        if isinstance(expected, list):
            assert H.flag_values("glob(*)", "db", H.ConfigGroups(str(script))) == expected, source
        else:
            with pytest.raises(GridError, match=expected):
                H.flag_values("glob(*)", "db", H.ConfigGroups(str(script)))


@pytest.mark.parametrize("raw, script, says", [
    ("glob(*)", None, "no Hydra app is named here"),
    ("glob(*)", "plain.py", "plain.py has no @hydra.main"),
    ("glob(z*)", "train.py", "matches none of config group db's options (mysql, postgresql, sqlite)"),
])
def test_a_glob_tune_cannot_expand_is_one_line_saying_why_and_what_to_write(hydra_app, raw, script, says):
    (hydra_app / "plain.py").write_text("print('no hydra here')\n")
    groups = H.ConfigGroups(None if script is None else str(hydra_app / script))
    with pytest.raises(GridError) as caught:
        H.flag_values(raw, "db", groups)
    message = str(caught.value)
    assert says in message and "\n" not in message and message.startswith(f"--flag db={raw}: ")
    assert "choice(" in message or "matches none" in message


def test_glob_on_a_plain_key_is_refused_naming_the_missing_group(hydra_app):
    # Hydra lists nothing for it (the sweep has no jobs); tune says why
    assert hydra_expands(hydra_app / "conf", "lr=glob(*)") == ("lr", [])
    with pytest.raises(GridError, match=r"has no group 'lr' .*list the values instead, e.g. choice\("):
        H.flag_values("glob(*)", "lr", H.ConfigGroups(str(hydra_app / "train.py")))


def test_glob_in_an_optuna_sweeper_config_is_refused_as_hydra_refuses_it_with_the_choice_to_write(hydra_app):
    from tuner.yamlfile import load

    config = load("defaults:\n  - override hydra/sweeper: optuna\nhydra:\n  sweeper:\n    params:\n"
                  "      db: glob(*, exclude=sqlite)\n")
    with pytest.raises(GridError, match=r"ConfigLoader is not set\); write choice\(mysql, postgresql\)"):
        convert_file(config, str(hydra_app / "conf" / "config.yaml"))


def test_the_cli_reads_a_flags_file_glob_with_the_script_it_runs(hydra_app, monkeypatch, capsys):
    from tuner.cli.main import main

    monkeypatch.chdir(hydra_app)
    (hydra_app / "grid.yml").write_text("db: glob(x*)\n")
    assert main(["train.py", "--flags", "grid.yml", "-y"]) == 2
    err = capsys.readouterr().err
    assert "matches none of config group db's options (mysql, postgresql, sqlite)" in err and err.count("\n") == 1
    assert not (hydra_app / "runs").exists()


# -- the rest of Hydra's functions, as tune reads them -----------------------------------------------------------

def test_a_shuffled_list_is_shuffled_as_hydra_shuffles_it():
    import random

    for text in ("shuffle([1,2,3,4,5])", "shuffle(list=[a,b,c,d])"):
        random.seed(11)
        expected = canon(PARSER.parse_override(f"key={text}")._value)
        random.seed(11)
        assert canon(H.parse_value(text)) == expected


@pytest.mark.parametrize("text, values", [  # Hydra's main branch: sort() reverses a range's own values
    ("sort(range(1,10,2),reverse=true)", [9, 7, 5, 3, 1]),
    ("sort(range(10,0,-3))", [1, 4, 7, 10]),
    ("sort(range(1.0, 2.0, 0.25), reverse=true)", [1.75, 1.5, 1.25, 1.0]),
    ("sort(range(2.0, 1.0, -0.3))", [1.1, 1.4, 1.7, 2.0]),
])
def test_sort_of_a_range_lists_the_ranges_own_values_in_order(text, values):
    assert H.flag_values(text) == pytest.approx(values)


@pytest.mark.parametrize("raw", ["range(1,3,0)", "range(1.0,3.0,0)", "choice(int(inf))", "choice(a", "interval(1)"])
def test_a_value_hydra_cannot_list_is_one_grid_error_line(raw):
    with pytest.raises(GridError) as caught:
        H.flag_values(raw, "x")
    assert "\n" not in str(caught.value) and str(caught.value).startswith(f"--flag x={raw}: ")


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


# -- hydra-optuna-sweeper's configs as its own examples and tests write them ------------------------------------

# plugins/hydra_optuna_sweeper/example/multi-objective-conf/config.yaml
MULTI_OBJECTIVE_CONFIG = """
defaults:
  - override hydra/sweeper: optuna
  - override hydra/sweeper/sampler: nsgaii

hydra:
  sweeper:
    sampler:
      seed: 123
    direction: [minimize, minimize]
    study_name: multi-objective
    storage: null
    n_trials: 20
    n_jobs: 1
    params:
      x: range(0, 5, step=0.5)
      y: range(0, 3, step=0.5)

x: 1
y: 1
"""

# plugins/hydra_optuna_sweeper/tests/conf/test_grid.yaml
GRID_CONFIG = """
defaults:
  - override hydra/sweeper: optuna
  - override hydra/sweeper/sampler: grid

hydra:
  sweeper:
    direction: minimize
    study_name: sphere
    storage: null
    n_trials: 20
    n_jobs: 1
    params:
      x: choice(-1, 1)
      y: range(-1.0, 1.0, step=1)
      z: choice("foo", "bar")

x: 1
y: 1
z: foo
"""


def test_a_multi_objective_optuna_sweeper_config_is_a_multi_objective_nsga2_search(workdir, write_script):
    from tuner.sweep.prepare import prepare_sweep
    from tuner.yamlfile import load

    sweep = convert_file(load(MULTI_OBJECTIVE_CONFIG), "config.yaml")
    assert sweep.settings == {"search": "nsga2", "seed": 123, "mode": ["min", "min"], "run_cap": 20}
    assert sweep.flags["x"]["choice"][-1] == 5.0 and sweep.flags["y"]["choice"][-1] == 3.0  # Optuna: stop included
    # the objectives are what the task returns in Hydra; under tune the script prints them, named by --metric
    write_script("train.py", "import argparse\np = argparse.ArgumentParser()\np.add_argument('--x', type=float)\n"
                             "p.add_argument('--y', type=float)\np.parse_args()\n")
    (workdir / "config.yaml").write_text(MULTI_OBJECTIVE_CONFIG)
    request = prepare_sweep("train.py", "config.yaml", metric=["f1", "f2"])
    assert (request.metrics, request.modes, request.search, request.plan.total) == (("f1", "f2"), ("min", "min"),
                                                                                  "nsga2", 20)
    with pytest.raises(Exception, match="1 metric .* but 2 modes"):
        prepare_sweep("train.py", "config.yaml", metric="f1")


def test_optunas_grid_sampler_is_tunes_grid_of_the_same_points():
    from tuner.yamlfile import load

    sweep = convert_file(load(GRID_CONFIG), "test_grid.yaml")
    # _to_grid_sampler_choices: a range's values below its stop, a choice's values
    assert sweep.flags == {"x": [-1, 1], "y": [-1.0, 0.0], "z": ["foo", "bar"]}
    assert sweep.settings == {"mode": "min", "run_cap": 20}  # no search: every combination (at most n_trials)
    with pytest.raises(GridError, match="GridSampler only supports discrete distributions"):
        convert_file(load(GRID_CONFIG.replace('choice("foo", "bar")', "interval(0, 1)")), "test_grid.yaml")


@pytest.mark.parametrize("group, search", [("tpe", "tpe"), ("random", "random"), ("cmaes", "cmaes"),
                                           ("nsgaii", "nsga2"), ("gp", "gp")])
def test_the_sampler_a_defaults_list_picks_is_the_search(group, search):
    from tuner.yamlfile import load

    config = load(f"defaults:\n  - override hydra/sweeper: optuna\n  - override hydra/sweeper/sampler: {group}\n"
                  "hydra:\n  sweeper:\n    params:\n      x: interval(0, 1)\n")
    sweep = convert_file(config, "config.yaml")
    assert sweep.settings == {"search": search, "mode": "min", "run_cap": 20}  # the plugin's n_trials default


@pytest.mark.parametrize("group, says", [
    ("motpe", "The 'motpe' sampler was removed in Optuna 4.0. Use 'hydra/sweeper/sampler=tpe' instead"),
    ("qmc", "QMCSampler is not a sampler tune runs"),
])
def test_a_sampler_tune_cannot_run_is_one_line(group, says):
    from tuner.yamlfile import load

    config = load(f"defaults:\n  - override hydra/sweeper: optuna\n  - override hydra/sweeper/sampler: {group}\n"
                  "hydra:\n  sweeper:\n    params:\n      x: interval(0, 1)\n")
    with pytest.raises(GridError) as caught:
        convert_file(config, "config.yaml")
    assert says in str(caught.value) and "\n" not in str(caught.value)
