"""A script's interface: flags discovered without running the training code, grids checked against them,
argv in the script's own syntax. The corpus lives in tests/tuner_tests/scripts/."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_tune
from tuner.errors import FlagError
from tuner.interface.argv import MAX_ARG_STRLEN, build_argv
from tuner.interface.check import check_grid, grid_problems
from tuner.interface.discover import discover_flags

CORPUS = Path(__file__).parent / "scripts"


@pytest.fixture
def corpus(workdir: Path) -> Path:
    """The corpus copied into the test's working directory (so runs/ and any writes stay there)."""
    for path in CORPUS.glob("*.py"):
        shutil.copy(path, workdir / path.name)
    return workdir


def parsed(run_dir: Path) -> dict:
    return json.loads((run_dir / "parsed.json").read_text())


def run_dirs(workdir: Path) -> list[Path]:
    return sorted(p.parent.parent for p in (workdir / "runs").glob("*/tuner.d/run.json"))


# --- discovery ----------------------------------------------------------------------------------------------
EXPECTED = {
    "argparse_dashes.py": ("argparse", {"--batch-size": ("int", 32, "valued"), "--optimizer": ("str", "adam", "valued"),
                                        "--fast": ("bool", False, "store_true"),
                                        "--no-shuffle": ("bool", True, "store_false"),
                                        "--layers": ("int", [8], "valued")}),
    "argparse_digit.py": ("argparse", {"--10sec": ("int", 1, "valued"), "--num": ("int", 2, "valued"),
                                       "--tag": ("str", None, "append"), "--verbose": ("int", 0, "count")}),
    "argparse_positional.py": ("argparse", {"data": ("str", None, "positional"),
                                            "--augment": ("bool", True, "boolean_optional")}),
    "absl_flags.py": ("absl", {"--batch_size": ("int", 16, "valued"), "--augment": ("bool", True, "absl_bool"),
                               "--model": ("str", "cnn", "valued")}),
    "click_options.py": ("click", {"--batch-size": ("int", 8, "valued"), "--fast": ("bool", False, "store_true"),
                                   "--act": ("str", "relu", "valued")}),
    "tuner_flags.py": ("tuner", {"--lr": ("float", 0.1, "valued"), "--units": ("int", 4, "valued")}),
}


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_discovery_finds_each_option_without_running_the_training_code(corpus, script):
    interface = discover_flags(script)
    kind, expected = EXPECTED[script]
    assert interface.kind == kind
    found = {f.name: (f.type, f.default, f.kind) for f in interface.flags}
    for name, spec in expected.items():
        assert found[name] == spec, name
    assert not (corpus / "parsed.json").exists()  # the code after the parse never ran


def test_discovery_keeps_choices_and_help(corpus):
    spec = discover_flags("argparse_dashes.py").lookup("optimizer")
    assert spec.choices == ("sgd", "adam") and spec.help == "the optimizer"
    assert discover_flags("absl_flags.py").lookup("model").choices == ("cnn", "mlp")


def test_a_script_that_crashes_before_parsing_is_one_clear_error(corpus):
    with pytest.raises(FlagError, match=r"exited with status 1 before parsing its options \(RuntimeError: no GPU found\).*--no-check"):
        discover_flags("crashes_on_import.py")


def test_a_script_that_hangs_before_parsing_times_out_with_the_way_out(write_script):
    write_script("hangs.py", "import argparse\nimport time\ntime.sleep(60)\n")
    with pytest.raises(FlagError, match=r"timed out after 1 s.*--no-check"):
        discover_flags("hangs.py", timeout_s=1)


def test_a_script_without_a_parser_is_not_run_to_find_its_flags(corpus):
    assert discover_flags("no_options.py").kind == "unknown"
    assert not list(corpus.glob("*.json"))


def test_tune_flags_prints_the_table_and_json(corpus):
    result = run_tune("flags", "argparse_dashes.py", cwd=corpus)
    assert result.returncode == 0, result.stderr
    line = next(l for l in result.stdout.splitlines() if l.startswith("--optimizer"))
    assert line.split()[:4] == ["--optimizer", "str", "adam", "sgd,adam"]
    result = run_tune("flags", "absl_flags.py", "--format", "json", cwd=corpus)
    data = json.loads(result.stdout)
    assert data["kind"] == "absl" and {f["dest"] for f in data["flags"]} == {"batch_size", "lr", "augment", "model",
                                                                            "name"}


def test_script_flags_from_python_as_a_frame(corpus):
    import tuner

    frame = tuner.script_flags("click_options.py", as_frame=True)
    assert list(frame["name"]) == ["--batch-size", "--dropout", "--fast", "--act"]


# --- checking a grid ----------------------------------------------------------------------------------------
def test_every_problem_of_a_grid_is_one_line(corpus):
    interface = discover_flags("argparse_dashes.py")
    problems = grid_problems(interface, {"batch_sise": [1], "learning-rate": ["abc", 0.1], "optimizer": ["rmsprop"],
                                         "fast": ["yes"], "layers": [[1, 2], ["x"]], "note": [[1, 2]]})
    assert len(problems) == 6, problems
    assert "did you mean 'batch_size'?" in problems[0]
    assert "expects a number, got 'abc'" in problems[1]
    assert "must be one of sgd, adam; got 'rmsprop'" in problems[2]
    assert "expects true or false" in problems[3]
    assert "expects an integer, got ['x']" in problems[4]
    assert "takes one value, got a list" in problems[5]
    with pytest.raises(FlagError):
        check_grid(interface, {"lrr": [0.1]})
    check_grid(interface, {"batch-size": [1, 2], "lr": [1e-3, 1], "fast": [True, False], "layers": [[4, 4]]})


def test_a_sweep_with_a_misspelt_flag_exits_2_and_writes_nothing(corpus):
    result = run_tune("argparse_dashes.py", "--flag", "lrr=0.1,0.2", "--flag", "optimizer=sgd,rms", "-y",
                      cwd=corpus)
    assert result.returncode == 2
    assert "flag 'lrr' is not an option" in result.stderr and "did you mean 'lr'?" in result.stderr
    assert "must be one of sgd, adam; got 'rms'" in result.stderr
    assert not (corpus / "runs").exists()


def test_a_single_run_is_checked_too_and_no_check_skips_it(corpus):
    result = run_tune("argparse_dashes.py", "--flag", "batch-size=abc", cwd=corpus)
    assert result.returncode == 2 and "expects an integer, got 'abc'" in result.stderr
    assert not (corpus / "runs").exists()
    result = run_tune("crashes_on_import.py", "--flag", "lr=0.1", cwd=corpus)
    assert result.returncode == 2 and "--no-check" in result.stderr
    assert not (corpus / "runs").exists()
    result = run_tune("crashes_on_import.py", "--flag", "lr=0.1", "--no-check", cwd=corpus)
    assert result.returncode == 1  # it ran (and failed, as the script does)


# --- argv in the script's syntax -----------------------------------------------------------------------------
def test_argv_follows_each_option_kind(corpus):
    dashes = discover_flags("argparse_dashes.py")
    assert build_argv(dashes, {"batch_size": 64, "learning-rate": 1e-3, "fast": True, "shuffle": False,
                               "layers": [4, 8], "note": "run #3"}) == [
        "--batch-size=64", "--learning-rate=0.001", "--fast", "--no-shuffle", "--layers", "4", "8", "--note=run #3"]
    assert build_argv(dashes, {"fast": False, "shuffle": True}) == []
    digit = discover_flags("argparse_digit.py")
    assert build_argv(digit, {"10sec": 5, "n": 3, "tag": ["a", "b"], "verbose": 2}) == [
        "--10sec=5", "--num=3", "--tag=a", "--tag=b", "--verbose", "--verbose"]
    absl = discover_flags("absl_flags.py")
    assert build_argv(absl, {"augment": False, "lr": float("inf")}) == ["--noaugment", "--lr=inf"]
    positional = discover_flags("argparse_positional.py")
    assert build_argv(positional, {"epochs": 3, "augment": False, "data": "d.csv"}) == ["--no-augment", "d.csv", "3"]


def test_a_value_too_long_for_argv_is_rejected_before_anything_is_written(corpus):
    (corpus / "big.yml").write_text(f"note: {'x' * MAX_ARG_STRLEN}\n")
    result = run_tune("argparse_dashes.py", "--flags", "big.yml", cwd=corpus)
    assert result.returncode == 2 and "MAX_ARG_STRLEN" in result.stderr
    assert not (corpus / "runs").exists()


def test_single_runs_reach_the_script_in_its_syntax(corpus):
    result = run_tune("argparse_dashes.py", "--flag", "batch-size=7", "--flag", "fast=true", "--flag",
                      "optimizer=sgd", "--no-echo", cwd=corpus)
    assert result.returncode == 0, result.stderr
    (run,) = run_dirs(corpus)
    args = parsed(run)
    assert args["argv"] == ["--batch-size=7", "--fast", "--optimizer=sgd"]
    assert args["parsed"]["batch_size"] == 7 and args["parsed"]["fast"] is True
    # flags.json: the passed flags as the user named them, then the script's defaults for the others (by dest)
    defaults = {"learning_rate": 0.001, "shuffle": True, "layers": [8], "note": ""}
    assert json.loads((run / "tuner.d" / "flags.json").read_text()) == {"batch-size": 7, "fast": True,
                                                                        "optimizer": "sgd", **defaults}
    assert json.loads((run / "tuner.d" / "flag_defaults.json").read_text()) == defaults
    assert args["argv"] == ["--batch-size=7", "--fast", "--optimizer=sgd"]  # only the passed ones reach argv


# --- each shape swept by `tune` on a real Ray cluster -----------------------------------------------------------
SWEEPS = [
    ("argparse_dashes.py", ["batch-size=8,16", "fast=true,false", "learning-rate=1e-3"],
     lambda f: {"batch_size": f["batch-size"], "fast": f["fast"], "learning_rate": 1e-3}),
    ("argparse_digit.py", ["10sec=5,6", "n=3"], lambda f: {"ten_sec": f["10sec"], "n": 3}),
    ("argparse_positional.py", ["data=a.csv", "epochs=1,2", "augment=false"],
     lambda f: {"data": "a.csv", "epochs": f["epochs"], "augment": False}),
    ("absl_flags.py", ["batch_size=4", "augment=true,false", "model=mlp"],
     lambda f: {"batch_size": 4, "augment": f["augment"], "model": "mlp"}),
    ("click_options.py", ["batch-size=2", "fast=true,false", "act=tanh"],
     lambda f: {"batch_size": 2, "fast": f["fast"], "act": "tanh"}),
    ("tuner_flags.py", ["lr=0.5,0.25", "units=3"], lambda f: {"lr": f["lr"], "units": 3}),
]


@pytest.mark.ray
@pytest.mark.parametrize("script, flag_options, expect", SWEEPS, ids=[s[0] for s in SWEEPS])
def test_each_shape_is_swept_with_its_own_syntax(ray_cluster, corpus, script, flag_options, expect):
    args = [a for item in flag_options for a in ("--flag", item)]
    result = run_tune(script, *args, "--address", ray_cluster, "-q", "-y", cwd=corpus, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    runs = run_dirs(corpus)
    assert len(runs) == math.prod(len(item.split("=", 1)[1].split(",")) for item in flag_options)
    for run in runs:
        flags = json.loads((run / "tuner.d" / "flags.json").read_text())
        got = parsed(run)["parsed"]
        for key, value in expect(flags).items():
            assert got[key] == value or (isinstance(value, float) and math.isinf(value) and got[key] == value), key


# --- command templates -----------------------------------------------------------------------------------------
TEMPLATES = [
    ("hydra_overrides.py", '["${interpreter}", "${program}", "${args_no_hyphens}"]',
     {"model.lr": [0.01, 0.02], "epochs": [3]},
     lambda f: ({"model.lr": str(f["model.lr"]), "epochs": "3"}, ["epochs=3", f"model.lr={f['model.lr']}"])),
    ("positional_template.py", '"${interpreter} ${program} data/${flag.data}.csv ${flag.epochs}"',
     {"data": ["a", "b"], "epochs": [2]},
     lambda f: ({"data": f"data/{f['data']}.csv", "epochs": 2}, [f"data/{f['data']}.csv", "2"])),
    ("env_vars.py", '{env: {LR: "${flag.lr}", UNITS: "${flag.units}"}, argv: "${interpreter} ${program}"}',
     {"lr": [1e-3, 0.5], "units": [4]}, lambda f: ({"lr": f["lr"], "units": 4}, [])),
    ("json_config.py", '["${interpreter}", "${program}", "--config", "${args_json_file}"]',
     {"note": ["run #3", "#start"], "lr": [1e-3]}, lambda f: ({"note": f["note"], "lr": 1e-3}, None)),
]


@pytest.mark.ray
@pytest.mark.parametrize("script, command, grid, expect", TEMPLATES, ids=[t[0] for t in TEMPLATES])
def test_templates_from_the_grid_file_pass_flags_in_other_shapes(ray_cluster, corpus, script, command, grid, expect):
    lines = [f"command: {command}"] + [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in grid.items()]
    (corpus / "grid.yml").write_text("\n".join(lines) + "\n")
    result = run_tune(script, "--flags", "grid.yml", "--address", ray_cluster, "-q", "-y", cwd=corpus, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    runs = run_dirs(corpus)
    assert len(runs) == 2
    for run in runs:
        flags = json.loads((run / "tuner.d" / "flags.json").read_text())
        assert "command" not in flags
        got = parsed(run)
        want, argv = expect(flags)
        assert {k: got["parsed"][k] for k in want} == want
        if argv is not None:
            assert sorted(got["argv"]) == sorted(argv)
        if script == "json_config.py":
            assert got["argv"] == ["--config", str(run / "tuner.d" / "args.json")]
    # resume builds the same argv: the grid file's template is kept in the journal, not looked up again
    from tuner.sweep.resume import prepare_resume

    (sweep,) = [p.name for p in (corpus / "runs" / "sweeps").iterdir()]
    (corpus / "grid.yml").unlink()
    original = json.loads((corpus / "runs" / "sweeps" / sweep / "journal.jsonl").read_text().splitlines()[0])["command"]
    request = prepare_resume(sweep, runs_dir=str(corpus / "runs"), quiet=True)
    assert request.template is not None and list(request.template.argv) == original["argv"]


def test_a_template_in_the_settings_drives_a_single_run(corpus):
    (corpus / "tuner.yml").write_text('command: "${interpreter} ${program} ${args_no_hyphens}"\n')
    result = run_tune("hydra_overrides.py", "--flag", "model.lr=0.5", "--no-echo", cwd=corpus)
    assert result.returncode == 0, result.stderr
    (run,) = run_dirs(corpus)
    assert parsed(run)["argv"] == ["model.lr=0.5"]


def test_a_template_naming_a_missing_flag_or_anchor_is_rejected_before_anything_is_written(corpus):
    (corpus / "grid.yml").write_text('command: "${interpreter} ${program} ${flag.dataa}"\ndata: [a, b]\n')
    result = run_tune("positional_template.py", "--flags", "grid.yml", "-y", cwd=corpus)
    assert result.returncode == 2 and "${flag.dataa}" in result.stderr
    (corpus / "grid.yml").write_text('command: "${interpreter} ${program} ${argz}"\ndata: [a, b]\n')
    result = run_tune("positional_template.py", "--flags", "grid.yml", "-y", cwd=corpus)
    assert result.returncode == 2 and "unknown anchor ${argz}" in result.stderr
    assert not (corpus / "runs").exists()


def test_a_search_space_is_checked_against_the_script_too(tmp_path, monkeypatch):
    from tuner.errors import FlagError
    from tuner.sweep.prepare import prepare_sweep

    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(
        "import argparse\np = argparse.ArgumentParser()\np.add_argument('--lr', type=float)\n"
        "p.add_argument('--units', type=int)\np.add_argument('--act', choices=['relu', 'tanh'])\np.parse_args()\n")
    good = {"lr": {"loguniform": [1e-4, 1e-1]}, "units": {"randint": [8, 64]}, "act": {"choice": ["relu", "tanh"]}}
    request = prepare_sweep("train.py", good, num_samples=3, seed=1)
    assert request.interface is not None and len(request.plan.indices) == 3
    bad = {"lr": {"loguniform": [1e-4, 1e-1]}, "units": {"uniform": [8, 64]}, "act": {"choice": ["relu", "sigmoid"]}}
    with pytest.raises(FlagError) as caught:
        prepare_sweep("train.py", bad, num_samples=3, seed=1)
    message = str(caught.value)
    assert "'sigmoid'" in message and "units" in message
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("values, longest", [
    ([5, -100, 99], -100), ([1, 2, 10**30], 10**30), ([0.1, 1e-7, 3.0], 1e-7), (["a", "bbb", "cc"], "bbb"),
    ([True, 12], True), ([True, 123456], 123456), ([1, 0.123], 0.123),
    # a long list of floats is measured by a stand-in as long as any float's repr (24 characters)
    ([i / 7 for i in range(20_000)], -2.2250738585072014e-308),
    ([i / 7 for i in range(20_000)] + [1, 10**30], 10**30), ([i / 7 for i in range(20_000)] + [-(10**22) + 1], -2.2250738585072014e-308),
    ([i / 7 for i in range(20_000)] + [1e300, -(10**40)], -(10**40)),
])
def test_the_argv_size_check_measures_the_longest_value_of_each_flag(values, longest):
    from tuner.interface.argv import _longest

    assert _longest(values) == longest and type(_longest(values)) is type(longest)
    assert len(repr(_longest(values))) >= max(len(repr(v)) for v in values)
