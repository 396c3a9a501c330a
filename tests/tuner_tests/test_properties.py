"""Property-based tests (hypothesis, issue 29): random and adversarial input to the flag-value parser, grid files
(YAML and JSON, through tuner.plan and tuner.yamlfile) and settings (tuner.yml, TUNER_*) gives a result or one
typed TunerError, never another exception, and never a write (the runs directory stays empty). The example count
is the `ci` profile's (tests/conftest.py); HYPOTHESIS_PROFILE=thorough looks 50x harder. The working directory
(and its empty runs directory) is one per test, shared by its examples: that is what is checked, so the
function-scoped fixture is meant; no example database is written."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tuner.errors import TunerError  # noqa: E402
from tuner.values import format_value, parse_value, parse_values, split_values  # noqa: E402

#: text people and tools have been seen to type, and text made to break parsers: numbers past what Python
#: converts, YAML's special spellings, quotes and commas, control and bidi characters, an alias bomb, deep nesting
ADVERSARIAL = ['{"x": [1e999999, -1e999999]}', '{"x": ' + "[" * 3000 + "]" * 3000 + "}", '{"x": [' + "9" * 5000 + "]}",
               "", " ", "~", "null", "NULL", "true", "yes", "on", ".inf", "-.inf", ".nan", "nan", "inf", "-0", "007",
               "1_000", "0x1F", "1e999999", "-1e999999", "1e-999999", "7" * 5000, "-" + "9" * 4301, "9" * 4300,
               "'", '"', "''", '""', "'a,b'", '"a,b"', "a,b", ",", ",,", "'unclosed", "a\nb", "\t", "\x00", "\x1b]0;x\x07",
               "\u202e", "\ud7ff", "${args}", "$(id)", "`id`", "--x=1", "#", ": ", "- a", "[1, 2", "{a: 1}", "&a [*a]",
               "*a", "!!python/object/apply:os.system ['id']", "[" * 200, "{" * 200, "a: " * 50]

values_text = st.one_of(st.text(max_size=40), st.sampled_from(ADVERSARIAL),
                        st.lists(st.sampled_from(ADVERSARIAL + ["x", "1", "0.5"]), max_size=6).map("".join))

PLAIN_TYPES = (str, int, float, bool, type(None))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


# -- the flag-value parser (tuner.values, `--flag name=...`) ----------------------------------------------------------

@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], database=None)
@given(values_text)
def test_parse_value_never_raises_and_formats_back_to_the_same_value(text: str) -> None:
    value = parse_value(text)
    assert isinstance(value, PLAIN_TYPES)
    assert _same(parse_value(format_value(value)), value)  # what `tune reproduce` prints reads back the same


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], database=None)
@given(values_text)
def test_a_flag_list_splits_into_pieces_that_join_back(raw: str) -> None:
    pieces = split_values(raw)
    assert ",".join(pieces) == raw  # a comma inside quotes stays in its piece, none is lost
    assert all(isinstance(v, PLAIN_TYPES) for v in parse_values(raw))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], database=None)
@given(st.lists(values_text, max_size=4))
def test_flag_options_parse_or_raise_one_typed_error(items: list[str]) -> None:
    from tuner.cli.run import parse_flag_options

    try:
        parsed = parse_flag_options(items)
    except TunerError as exc:
        assert len(str(exc)) < 300  # a value is quoted, not poured out
        return
    for name, values in parsed.items():
        assert name and all(isinstance(v, PLAIN_TYPES) for v in values)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], database=None)
@given(values_text, st.sampled_from(["numeric", "integer", "boolean", "string"]))
def test_a_script_side_flag_converts_or_raises_one_typed_error(workdir: Path, text: str, kind: str) -> None:
    """What `tuner.flags()` does with `--x=value` on the script's command line: a value of the flag's type, or
    one FlagError."""
    from tuner.flags import flag_boolean, flag_integer, flag_numeric, flag_string, flags

    spec = {"numeric": flag_numeric("x", 0.5), "integer": flag_integer("x", 1), "boolean": flag_boolean("x", False),
            "string": flag_string("x", "s")}[kind]
    try:
        got = flags(spec, arguments=[f"--x={text}"])["x"]
    except TunerError as exc:
        assert len(str(exc)) < 300
        return
    expected = {"numeric": float, "integer": int, "boolean": bool, "string": str}[kind]
    assert type(got) is expected or got is None


# -- grid files (tuner.plan + tuner.yamlfile) ---------------------------------------------------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=20), st.sampled_from(ADVERSARIAL))
names = st.one_of(st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,12}", fullmatch=True), st.text(max_size=12),
                  st.sampled_from(["command", "sweep", "-x", "a b", "", "1", "é", "a" * 251, "b" * 100_000]))
grids = st.dictionaries(names, st.one_of(scalars, st.lists(scalars, max_size=5),
                                         st.dictionaries(st.sampled_from(["uniform", "choice", "q", "loguniform",
                                                                          "randint", "argv", "env", "x"]),
                                                         st.one_of(scalars, st.lists(scalars, max_size=3)),
                                                         max_size=2)),
                        max_size=5)


@pytest.fixture
def empty_runs(workdir: Path) -> Path:
    (workdir / "runs").mkdir()
    (workdir / "train.py").write_text("import sys\nprint(sys.argv)\n")  # names no parser: nothing is run to look
    return workdir / "runs"


def _bounded(exc: TunerError) -> None:
    """Every problem of a message is a clause of at most a few hundred characters: a value is quoted in a few
    dozen, not poured out (all problems are reported at once, so the message grows with their number only)."""
    text = str(exc)
    assert len(text) <= 400 * (text.count("; ") + 1), text[:300]


def _plan_or_typed_error(path: str) -> None:
    """Read and plan a flags file as `tune train.py --flags FILE` does up to its launch: a request or TunerError."""
    from tuner.sweep.prepare import prepare_sweep

    try:
        request = prepare_sweep("train.py", path, quiet=True, check=False)
    except TunerError as exc:
        _bounded(exc)
        return
    assert request.plan.total >= 1


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], database=None)
@given(grids, st.sampled_from(["yaml", "json"]))
def test_a_grid_file_plans_or_raises_one_typed_error_and_writes_nothing(empty_runs: Path, grid: dict[str, Any],
                                                                        form: str) -> None:
    import yaml

    path = f"grid.{'yml' if form == 'yaml' else 'json'}"
    if form == "yaml":
        text = yaml.safe_dump(grid, allow_unicode=True)
    else:
        text = json.dumps(grid, allow_nan=True)
    Path(path).write_text(text, encoding="utf-8", errors="surrogatepass")
    _plan_or_typed_error(path)
    assert os.listdir(empty_runs) == []


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], database=None)
@given(st.one_of(values_text, st.text(max_size=200),
                 st.lists(st.sampled_from(ADVERSARIAL + ["a:", "  - ", "\n", "x: [", "]", "&b ", "*b", "<<: "]),
                          max_size=12).map("".join),
                 st.binary(max_size=64).map(lambda b: b.decode("latin-1"))),
       st.sampled_from(["grid.yml", "grid.json"]))
def test_any_text_as_a_grid_file_plans_or_raises_one_typed_error(empty_runs: Path, text: str, path: str) -> None:
    Path(path).write_text(text, encoding="utf-8", errors="surrogatepass")
    _plan_or_typed_error(path)
    assert os.listdir(empty_runs) == []


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], database=None)
@given(st.integers(min_value=1, max_value=12), st.integers(min_value=2, max_value=12), st.sampled_from(["[", "{a: "]))
def test_alias_bombs_and_deep_nesting_in_a_grid_file_are_one_typed_error(empty_runs: Path, levels: int, width: int,
                                                                         nest: str) -> None:
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    Path("bomb.yml").write_text("\n".join(lines) + "\n")
    _plan_or_typed_error("bomb.yml")
    depth = levels * 60
    closing = "]" if nest == "[" else "}"
    Path("deep.yml").write_text("x: " + nest * depth + "1" + closing * depth + "\n")
    _plan_or_typed_error("deep.yml")
    assert os.listdir(empty_runs) == []


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], database=None)
@given(grids)
def test_a_grid_mapping_from_the_api_plans_or_raises_one_typed_error(empty_runs: Path, grid: dict[str, Any]) -> None:
    from tuner.plan import load_grid, make_plan

    try:
        plan = make_plan(load_grid(grid))
    except TunerError:
        return
    assert plan.total >= 1
    assert os.listdir(empty_runs) == []


# -- settings (tuner.settings: tuner.yml and TUNER_*) -------------------------------------------------------------

SETTING_KEYS = ["x" * 100_000, "runs_dir", "echo", "artifacts_dir", "source_patterns", "source_max_files", "source_max_bytes",
                "config", "heartbeat_s", "stale_after_s", "stdout_metrics", "stdout_metrics_pattern", "ray_address",
                "keep_cluster_s", "ship_project", "cpus_per_trial", "gpus_per_trial", "max_concurrent",
                "max_failures", "retries", "timeout_s", "kill_grace_s", "confirm", "command", "unknown_key", "Runs_Dir"]
NUMERIC = ("source_max_files", "source_max_bytes", "heartbeat_s", "stale_after_s", "keep_cluster_s", "cpus_per_trial",
           "gpus_per_trial", "max_concurrent", "max_failures", "retries", "timeout_s", "kill_grace_s")


def _settings_or_typed_error(cwd: Path, environ: dict[str, str]) -> None:
    from tuner.settings import load_settings

    try:
        settings = load_settings(cwd=cwd, environ=environ)
    except TunerError as exc:
        _bounded(exc)
        return
    for key in NUMERIC:  # what a setting holds is a number: no NaN, no infinity (a sweep's resource numbers are
        value = getattr(settings, key)  # checked in range with the sweep: tuner.sweep.prepare.check_resources)
        assert value is None or isinstance(value, int) or math.isfinite(value), (key, value)
        if key in ("heartbeat_s", "stale_after_s", "timeout_s"):
            assert value is None or value > 0, (key, value)
        elif key in ("kill_grace_s", "keep_cluster_s", "source_max_files", "source_max_bytes"):
            assert value >= 0, (key, value)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], database=None)
@given(st.dictionaries(st.sampled_from(SETTING_KEYS), st.one_of(scalars, st.lists(scalars, max_size=3)), max_size=6))
def test_a_settings_file_loads_or_raises_one_typed_error(empty_runs: Path, values: dict[str, Any]) -> None:
    import yaml

    values = {k: v for k, v in values.items() if k != "runs_dir"}  # the runs directory stays the one checked empty
    Path("tuner.yml").write_text(yaml.safe_dump(values, allow_unicode=True), encoding="utf-8", errors="surrogatepass")
    _settings_or_typed_error(empty_runs.parent, {})
    assert os.listdir(empty_runs) == []


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], database=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
                 st.lists(st.sampled_from(ADVERSARIAL + ["heartbeat_s: ", "retries: ", "\n", "command: "]),
                          max_size=10).map("".join)))
def test_any_text_as_a_settings_file_loads_or_raises_one_typed_error(empty_runs: Path, text: str) -> None:
    Path("tuner.yml").write_bytes(text.encode("utf-8", "surrogatepass") if text.isascii() or "\ud800" in text
                                  else text.encode("latin-1", "replace"))
    _settings_or_typed_error(empty_runs.parent, {})
    assert os.listdir(empty_runs) == []
    Path("tuner.yml").unlink()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], database=None)
@given(st.dictionaries(st.sampled_from([k for k in SETTING_KEYS if k != "runs_dir"]).map(lambda k: "TUNER_" + k.upper()),
                       values_text.filter(lambda t: "\x00" not in t), max_size=5))
def test_tuner_environment_variables_load_or_raise_one_typed_error(empty_runs: Path, environ: dict[str, str]) -> None:
    _settings_or_typed_error(empty_runs.parent, environ)
    assert os.listdir(empty_runs) == []
