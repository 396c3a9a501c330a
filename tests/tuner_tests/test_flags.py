"""Flags, the script side: precedence, type conversion, errors, --help and flags.json (DESIGN section 5)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tuner import (
    FlagError,
    flag_boolean,
    flag_integer,
    flag_numeric,
    flag_string,
    flags,
)
from tuner.cli.run import parse_flag_options
from tuner.store.layout import ENV_FLAGS_JSON, ENV_RUN_DIR
from tuner.values import parse_value

SPECS = (flag_numeric("dropout", 0.4, "dropout rate"), flag_integer("units", 128, "hidden units"),
         flag_boolean("shuffle", True), flag_string("optimizer", "adam", "optimizer name"))


def resolve(*arguments: str, specs=SPECS, **kwargs):
    return flags(*specs, arguments=list(arguments), **kwargs)


# --- precedence -------------------------------------------------------------------------------------

def test_defaults_when_nothing_else_is_given(workdir: Path) -> None:
    result = resolve()
    assert dict(result) == {"dropout": 0.4, "units": 128, "shuffle": True, "optimizer": "adam"}


def test_flags_yml_overrides_defaults_and_command_line_overrides_flags_yml(workdir: Path) -> None:
    (workdir / "flags.yml").write_text("dropout: 0.2\nunits: 64\n")
    assert dict(resolve()) == {"dropout": 0.2, "units": 64, "shuffle": True, "optimizer": "adam"}
    result = resolve("--units=32")
    assert (result["dropout"], result["units"]) == (0.2, 32)


def test_runner_values_override_the_command_line(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / "flags.yml").write_text("units: 64\n")
    monkeypatch.setenv(ENV_FLAGS_JSON, json.dumps({"units": 16, "optimizer": "sgd"}))
    result = resolve("--units=32", "--dropout", "0.1")
    assert dict(result) == {"dropout": 0.1, "units": 16, "shuffle": True, "optimizer": "sgd"}


def test_profile_sections_pick_default_then_the_configured_section(workdir: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / "flags.yml").write_text("default:\n  dropout: 0.3\n  units: 64\nbig:\n  units: 512\n")
    assert (resolve()["dropout"], resolve()["units"]) == (0.3, 64)
    assert (resolve(config="big")["dropout"], resolve(config="big")["units"]) == (0.3, 512)
    monkeypatch.setenv("TUNER_CONFIG", "big")
    assert resolve()["units"] == 512


PROFILE_SCRIPT = """
from tuner import flags, flag_integer
FLAGS = flags(flag_integer("units", 128))
print("UNITS", FLAGS["units"], flush=True)
"""


def test_the_config_setting_picks_the_section_each_run_reads(workdir: Path, write_script,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """tfruns' `config=`: the run gets the active configuration (there R_CONFIG_ACTIVE, here TUNER_CONFIG) and
    flags() reads that section of flags.yml. The setting was read and then used by nobody (issue 31)."""
    from tuner import training_run

    monkeypatch.delenv("TUNER_CONFIG", raising=False)
    write_script("train.py", PROFILE_SCRIPT)
    (workdir / "flags.yml").write_text("default:\n  units: 64\nbig:\n  units: 512\nsmall:\n  units: 8\n")

    def units(row) -> str:
        return Path(row["run_dir"], "tuner.d", "output.log").read_text().split("UNITS ")[1].split()[0]

    assert units(training_run("train.py", echo=False).iloc[0]) == "64"
    (workdir / "tuner.yml").write_text("config: big\n")
    assert units(training_run("train.py", echo=False).iloc[0]) == "512"
    assert units(training_run("train.py", echo=False, config="small").iloc[0]) == "8"  # an argument wins


def test_a_missing_profile_section_is_an_error_naming_the_sections(workdir: Path) -> None:
    (workdir / "flags.yml").write_text("default:\n  units: 64\nbig:\n  units: 512\n")
    with pytest.raises(FlagError, match=r"no section 'huge'.*default, big"):
        resolve(config="huge")


def test_an_explicit_flags_file_is_used_and_a_missing_one_warns(workdir: Path) -> None:
    (workdir / "other.yml").write_text("units: 8\n")
    assert resolve(file="other.yml")["units"] == 8
    with pytest.warns(RuntimeWarning, match="nope.yml"):
        assert resolve(file="nope.yml")["units"] == 128


def test_invalid_flags_yml_names_the_file(workdir: Path) -> None:
    (workdir / "flags.yml").write_text("units: [1, 2\n")
    with pytest.raises(FlagError, match="flags.yml: not valid YAML"):
        resolve()
    (workdir / "flags.yml").write_text("- 1\n- 2\n")
    with pytest.raises(FlagError, match="flags.yml: expected a mapping"):
        resolve()


# --- command line -------------------------------------------------------------------------------------

def test_command_line_forms_equals_space_and_dashes(workdir: Path) -> None:
    specs = (flag_numeric("learning_rate", 0.1), flag_integer("batch_size", 32), flag_boolean("verbose", False))
    result = resolve("--learning-rate", "0.01", "--batch_size=64", "--verbose", specs=specs)
    assert dict(result) == {"learning_rate": 0.01, "batch_size": 64, "verbose": True}


def test_command_line_stops_at_double_dash_and_skips_positionals(workdir: Path) -> None:
    result = resolve("data.csv", "--units=3", "--", "--units=99", "--bogus=1")
    assert result["units"] == 3


def test_negative_numbers_are_values_not_options(workdir: Path) -> None:
    assert resolve("--dropout", "-0.5")["dropout"] == -0.5


@pytest.mark.parametrize("text, expected", [
    ("0.1", 0.1), ("1e-3", 0.001), ("-2.5E+2", -250.0), ("3", 3), ("true", True), ("no", "no"),
    ("001", "001"), ("010", "010"), ("adam", "adam"), ("null", None), ("[1, 2]", "[1, 2]"),
])
def test_values_are_parsed_as_yaml_1_2_core_scalars_except_zero_padding(text: str, expected: object) -> None:
    # YAML 1.2 core types only (issue 11): `no` is the string "no", `[1, 2]` the text typed (flags are scalars)
    assert parse_value(text) == expected  # the one rule (tuner.values) that flags() types the command line by
    assert type(parse_value(text)) is type(expected)


def test_tune_flag_options_keep_001_as_a_string_and_read_1e_3_as_a_float() -> None:
    assert parse_flag_options(["id=001", "lr=1e-3,0.1", "units=64"]) == {
        "id": ["001"], "lr": [0.001, 0.1], "units": [64]}


# --- type conversion ----------------------------------------------------------------------------------

def test_numeric_becomes_float_and_integer_int(workdir: Path) -> None:
    result = resolve("--dropout=1", "--units=2.0")
    assert result["dropout"] == 1.0 and type(result["dropout"]) is float
    assert result["units"] == 2 and type(result["units"]) is int


def test_exponent_notation_is_a_number(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve("--dropout=1e-3")["dropout"] == 0.001
    monkeypatch.setenv(ENV_FLAGS_JSON, json.dumps({"dropout": "5e-2"}))
    assert resolve()["dropout"] == 0.05


def test_zero_padded_integers_are_decimal(workdir: Path) -> None:
    assert resolve("--units=010")["units"] == 10


def test_a_non_integral_value_for_an_integer_flag_is_an_error(workdir: Path) -> None:
    with pytest.raises(FlagError, match=r"unable to convert flag 'units' with value '2\.5' \(from command line\) "
                                        r"to type integer"):
        resolve("--units=2.5")


@pytest.mark.parametrize("text, expected", [("true", True), ("false", False), ("yes", True), ("no", False),
                                            ("1", True), ("0", False), ("TRUE", True)])
def test_boolean_from_true_false_yes_no_1_0(workdir: Path, text: str, expected: bool) -> None:
    assert resolve(f"--shuffle={text}")["shuffle"] is expected


def test_boolean_rejects_other_text(workdir: Path) -> None:
    with pytest.raises(FlagError, match="flag 'shuffle' with value 'maybe' .* to type boolean"):
        resolve("--shuffle=maybe")


def test_string_keeps_the_command_line_text_verbatim(workdir: Path) -> None:
    assert resolve("--optimizer=001")["optimizer"] == "001"
    assert resolve("--optimizer=1e-3")["optimizer"] == "1e-3"
    assert resolve("--optimizer=yes")["optimizer"] == "yes"


def test_string_001_arrives_verbatim_from_the_runner(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_FLAGS_JSON, json.dumps({"optimizer": "001", "units": "064"}))
    result = resolve("--optimizer=1")
    assert result["optimizer"] == "001"
    assert result["units"] == 64


def test_a_non_numeric_value_for_a_numeric_flag_names_flag_value_and_type(workdir: Path) -> None:
    with pytest.raises(FlagError, match=r"unable to convert flag 'dropout' with value 'abc' .* to type numeric"):
        resolve("--dropout=abc")


# --- errors -------------------------------------------------------------------------------------------

def test_undeclared_flags_are_all_named(workdir: Path) -> None:
    with pytest.raises(FlagError) as info:
        resolve("--epochs=3", "--lr=0.1")
    message = str(info.value)
    assert "provided but not declared: epochs, lr" in message
    assert "declared: dropout, units, shuffle, optimizer" in message


def test_undeclared_flags_from_flags_yml_are_errors_too(workdir: Path) -> None:
    (workdir / "flags.yml").write_text("momentum: 0.9\n")
    with pytest.raises(FlagError, match="not declared: momentum"):
        resolve()


def test_non_scalar_values_are_errors(workdir: Path) -> None:
    (workdir / "flags.yml").write_text("units: [32, 64]\n")
    with pytest.raises(FlagError, match=r"flag 'units' from flags.yml has a non-scalar value \[32, 64\]"):
        resolve()


def test_duplicate_declarations_are_errors(workdir: Path) -> None:
    with pytest.raises(FlagError, match="a flag named 'units' has already been defined"):
        flags(flag_integer("units", 1), flag_integer("units", 2), arguments=[])


def test_all_problems_are_reported_at_once(workdir: Path) -> None:
    with pytest.raises(FlagError) as info:
        resolve("--units=x", "--dropout=y", "--nope=1")
    message = str(info.value)
    assert "'units'" in message and "'dropout'" in message and "nope" in message


def test_something_other_than_a_flag_spec_is_an_error(workdir: Path) -> None:
    with pytest.raises(FlagError, match="expected flag_numeric"):
        flags(("units", 3), arguments=[])


def test_invalid_runner_json_is_an_error(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_FLAGS_JSON, "{not json")
    with pytest.raises(FlagError, match=ENV_FLAGS_JSON):
        resolve()


# --- the result ---------------------------------------------------------------------------------------

def test_result_reads_like_a_mapping_and_by_attribute(workdir: Path) -> None:
    result = resolve("--units=7")
    assert result.units == 7 and result["units"] == 7
    assert list(result) == ["dropout", "units", "shuffle", "optimizer"] and len(result) == 4
    assert result.get("missing", "x") == "x"
    assert [s.name for s in result.specs] == list(result)
    with pytest.raises(AttributeError, match="no flag named 'unit'"):
        result.unit  # noqa: B018


def test_help_lists_flags_with_types_defaults_and_descriptions(workdir: Path) -> None:
    script = workdir / "train.py"
    script.write_text("from tuner import flags, flag_numeric, flag_integer\n"
                      "flags(flag_numeric('dropout', 0.4, 'dropout rate'), flag_integer('batch_size', 128))\n"
                      "print('TRAINING')\n")
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "TRAINING" not in done.stdout
    lines = done.stdout.splitlines()
    dropout = next(line for line in lines if "--dropout" in line)
    assert "numeric" in dropout and "0.4" in dropout and "dropout rate" in dropout
    batch = next(line for line in lines if "--batch-size" in line)
    assert "integer" in batch and "128" in batch


def test_flags_json_is_written_in_an_active_run(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = workdir / "runs" / "r1"
    monkeypatch.setenv(ENV_RUN_DIR, str(run))
    resolve("--units=9", "--optimizer=002")
    assert json.loads((run / "tuner.d" / "flags.json").read_text()) == {
        "dropout": 0.4, "units": 9, "shuffle": True, "optimizer": "002"}


def test_no_flags_json_outside_a_run(workdir: Path) -> None:
    resolve("--units=9")
    assert not list(workdir.rglob("flags.json"))
