"""A run records the flags its script ran with: the values tune passed and the defaults of the script's own
parser (argparse, absl, click, tuner.flags()), marked which is which, with their exact types; `ls_runs`, the
run view, `tune compare` and `tune reproduce` see them. Only the passed flags reach the script."""

from __future__ import annotations

import json
import math
import re
import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, run_tune
from tuner import ls_runs, save_run_comparison, save_run_view
from tuner.report.data import comparison_data, run_data
from tuner.runs.reproduce import reproduce_steps

SCRIPTS = REPO / "tests" / "tuner_tests" / "scripts"

#: `tune slow.py --flag epochs=15` as in the issue, with a default of every type argparse scripts use
SLOW = """
import argparse, json, os
p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=10)
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--batch", type=int, default="32")        # a string default: argparse runs it through int
p.add_argument("--run-id", default="001")                # a string that looks like a number stays a string
p.add_argument("--clip", type=float, default=float("inf"))
p.add_argument("--fast", action="store_true")
p.add_argument("--layers", type=int, nargs="+", default=[64, 32])
p.add_argument("--resume", default=None)
p.add_argument("--out", type=argparse.FileType("w"), default="made-by-the-run.txt")  # not recorded
p.add_argument("--data", required=True)                  # required: passed or the run fails, no default
a = p.parse_args()
open("handed.json", "w").write(os.environ["TUNER_FLAGS_JSON"])
print(f"epoch 1 loss={a.lr / a.epochs}")
"""

SLOW_DEFAULTS = {"lr": 0.1, "batch": 32, "run_id": "001", "clip": math.inf, "fast": False, "layers": [64, 32],
                 "resume": None}


def _runs(workdir: Path) -> list[Path]:
    return sorted(p for p in (workdir / "runs").iterdir() if (p / "tuner.d").is_dir())


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _same(a: object, b: object) -> bool:
    """Equal with the same type: 0.1 is not "0.1", 32 is not 32.0, "001" is not 1."""
    return type(a) is type(b) and a == b


def test_two_runs_of_an_argparse_script_are_compared_on_its_defaults(workdir: Path, write_script) -> None:
    write_script("slow.py", SLOW)
    first = run_tune("slow.py", "--flag", "epochs=15", "--flag", "data=a.csv", "--no-echo", cwd=workdir)
    assert first.returncode == 0, first.stderr
    time.sleep(1.05)  # run folders are named by the second
    second = run_tune("slow.py", "--flag", "epochs=5", "--flag", "lr=0.01", "--flag", "data=a.csv", "--no-echo",
                      cwd=workdir)
    assert second.returncode == 0, second.stderr
    old, new = _runs(workdir)

    # flags.json: a flat {name: value} of every flag the script ran with; flag_defaults.json: which are defaults
    assert _json(old / "tuner.d" / "flags.json") == {"epochs": 15, "data": "a.csv", **{
        k: ("inf" if k == "clip" else v) for k, v in SLOW_DEFAULTS.items()}}  # JSON has no inf: "inf", as always
    assert set(_json(old / "tuner.d" / "flag_defaults.json")) == set(SLOW_DEFAULTS)
    assert set(_json(new / "tuner.d" / "flag_defaults.json")) == set(SLOW_DEFAULTS) - {"lr"}
    # a FileType default is opened by the script's own parse (in its run), never while its flags are found
    assert (old / "made-by-the-run.txt").exists() and not (workdir / "made-by-the-run.txt").exists()
    # only the passed flags reach the script (argv and TUNER_FLAGS_JSON): the defaults are its own
    assert _json(old / "handed.json") == {"epochs": 15, "data": "a.csv"}
    assert json.loads((old / "tuner.d" / "run.json").read_text())["argv"] == ["--epochs=15", "--data=a.csv"]

    frame = ls_runs(order="start", decreasing=False)
    rows = frame.to_dict("records")
    assert [r["flag_lr"] for r in rows] == [0.1, 0.01] and [r["flag_epochs"] for r in rows] == [15, 5]
    for name, value in SLOW_DEFAULTS.items():
        if value is not None:
            assert _same(rows[0][f"flag_{name}"], value), (name, rows[0][f"flag_{name}"])
    assert frame["flag_resume"].isna().all()  # None: the script ran with resume=None

    # tune ls: the flags that differ between the listed runs come first, not crowded out by shared defaults
    for listing in (run_tune("ls", cwd=workdir), run_tune("ls", "--filter", "flag_epochs > 0", cwd=workdir)):
        header = listing.stdout.splitlines()[0].split()
        assert header[4:6] == ["flag_epochs", "flag_lr"], listing.stdout

    # tune compare: the default lr against the passed one
    differs = {d["key"]: d["values"] for d in comparison_data([str(old), str(new)])["differs"]}
    assert differs["flag_lr"] == [0.1, 0.01] and differs["flag_epochs"] == [15, 5] and "flag_batch" not in differs
    page = save_run_comparison([str(old), str(new)], filename=str(workdir / "compare.html"))
    assert '"flag_lr"' in Path(page).read_text()

    # tune reproduce passes what tune passed, not the defaults (the checked-out script gives them again)
    command = reproduce_steps(str(old))[-1]
    assert command.endswith("tune slow.py --flag epochs=15 --flag data=a.csv")


@pytest.mark.parametrize("script, passed, expected", [
    ("absl_flags.py", ["lr=0.5"], {"lr": 0.5, "batch_size": 16, "augment": True, "model": "cnn", "name": "x"}),
    ("click_options.py", ["dropout=0.3"], {"dropout": 0.3, "batch_size": 8, "fast": False, "act": "relu"}),
    ("argparse_dashes.py", ["optimizer=sgd"], {"optimizer": "sgd", "batch_size": 32, "learning_rate": 0.001,
                                               "fast": False, "shuffle": True, "layers": [8], "note": ""}),
])
def test_absl_click_and_argparse_scripts_record_their_defaults(workdir: Path, script: str, passed: list[str],
                                                               expected: dict) -> None:
    for path in SCRIPTS.glob("*.py"):
        shutil.copy(path, workdir)
    done = run_tune(script, *[a for p in passed for a in ("--flag", p)], "--no-echo", cwd=workdir)
    assert done.returncode == 0, done.stderr
    (run,) = _runs(workdir)
    flags = _json(run / "tuner.d" / "flags.json")
    assert flags == expected and all(_same(flags[k], v) for k, v in expected.items())
    given = {p.split("=")[0] for p in passed}
    assert set(_json(run / "tuner.d" / "flag_defaults.json")) == set(expected) - given
    parsed = _json(run / "parsed.json")["parsed"]  # what the script really ran with (tests/.../_echo.py)
    assert all(_same(parsed[k], v) for k, v in flags.items() if k in parsed and not isinstance(v, list))
    row = ls_runs().iloc[0]
    assert all(f"flag_{k}" in row.index for k in expected)


def test_a_run_given_no_flags_records_the_defaults_too(workdir: Path) -> None:
    shutil.copy(SCRIPTS / "click_options.py", workdir)
    shutil.copy(SCRIPTS / "_echo.py", workdir)
    done = run_tune("click_options.py", "--no-echo", cwd=workdir)
    assert done.returncode == 0, done.stderr
    (run,) = _runs(workdir)
    assert _json(run / "tuner.d" / "flags.json") == {"batch_size": 8, "dropout": 0.1, "fast": False, "act": "relu"}
    assert ls_runs().iloc[0]["flag_dropout"] == 0.1


def test_a_tuner_flags_script_keeps_flags_yml_over_its_defaults_and_is_marked_so(workdir: Path) -> None:
    shutil.copy(SCRIPTS / "tuner_flags.py", workdir)
    shutil.copy(SCRIPTS / "_echo.py", workdir)
    (workdir / "flags.yml").write_text("units: 7\n")
    done = run_tune("tuner_flags.py", "--flag", "lr=0.2", "--no-echo", cwd=workdir)
    assert done.returncode == 0, done.stderr
    (run,) = _runs(workdir)
    assert _json(run / "parsed.json")["parsed"]["units"] == 7  # a default never overrides the script's flags.yml
    assert _json(run / "tuner.d" / "flags.json") == {"lr": 0.2, "units": 7, "fast": False, "act": "relu"}
    page = run_data(str(run))
    assert page["flag_sources"] == {"lr": "passed", "units": "script", "fast": "default", "act": "default"}


def test_the_run_view_shows_the_passed_flags_then_the_defaults_marked(workdir: Path, write_script) -> None:
    write_script("slow.py", SLOW)
    assert run_tune("slow.py", "--flag", "epochs=15", "--flag", "data=a.csv", "--no-echo", cwd=workdir).returncode == 0
    (run,) = _runs(workdir)
    page = run_data(str(run))
    assert list(page["flags"])[:2] == ["epochs", "data"]
    assert page["flags"]["lr"] == 0.1 and page["flag_sources"]["lr"] == "default"
    assert page["flag_sources"]["epochs"] == "passed"
    html = Path(save_run_view(str(run), filename=str(workdir / "run.html"))).read_text()
    shown = json.loads(re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
                       .group(1))["run"]
    assert (shown["flags"]["lr"], shown["flag_sources"]["lr"]) == (0.1, "default")


@pytest.mark.browser
def test_the_run_view_in_a_browser_marks_each_default(workdir: Path, write_script, tmp_path: Path) -> None:
    from cdp_browser import Browser, find_chromium

    chromium = find_chromium()
    if chromium is None:
        pytest.skip("Chromium not found: install Debian's `chromium` package (CI does) or set TUNER_TEST_CHROMIUM")
    write_script("slow.py", SLOW)
    assert run_tune("slow.py", "--flag", "epochs=15", "--flag", "data=a.csv", "--no-echo", cwd=workdir).returncode == 0
    (run,) = _runs(workdir)
    browser = Browser(chromium)
    try:
        browser.open("file://" + save_run_view(str(run), filename=str(tmp_path / "run.html")))
        rows = browser.evaluate("[...document.querySelectorAll('[data-card=Flags] tr')].map(r => "
                                "[r.querySelector('th').textContent, r.querySelector('td').textContent, "
                                "r.dataset.origin || ''])")
        assert browser.console_errors() == []
    finally:
        browser.close()
    assert rows[:2] == [["epochs", "15", ""], ["data", "a.csv", ""]]  # passed: first, unmarked
    assert ["lr", "0.1 default", "default"] in rows and ["run_id", "001 default", "default"] in rows
    assert ["layers", "[64,32] default", "default"] in rows


@pytest.mark.parametrize("options, script", [
    (["--no-check"], "argparse_dashes.py"),  # not inspected at all
    ([], "no_options.py"),  # names no parser: kind unknown, never run to find out
])
def test_runs_that_do_not_find_the_scripts_flags_record_only_what_was_passed(workdir: Path, options: list[str],
                                                                           script: str) -> None:
    for path in SCRIPTS.glob("*.py"):
        shutil.copy(path, workdir)
    done = run_tune(script, "--flag", "note=hi", *options, "--no-echo", cwd=workdir)
    assert done.returncode == 0, done.stderr
    (run,) = _runs(workdir)
    assert _json(run / "tuner.d" / "flags.json") == {"note": "hi"}
    assert not (run / "tuner.d" / "flag_defaults.json").exists()
    assert run_data(str(run))["flag_sources"] == {"note": "passed"}


def test_a_script_that_runs_to_its_end_without_parsing_is_unknown_and_runs_once_more(workdir: Path,
                                                                                     write_script) -> None:
    # it names argparse (in a comment) but never parses: finding its flags runs it to its end, kind unknown
    write_script("plain.py", "# no argparse here\nprint('loss: 0.25')\n")
    done = run_tune("plain.py", "--no-echo", cwd=workdir)
    assert done.returncode == 0, done.stderr
    (run,) = _runs(workdir)
    assert _json(run / "tuner.d" / "flags.json") == {} and not (run / "tuner.d" / "flag_defaults.json").exists()


def test_a_template_without_args_is_not_inspected(workdir: Path, write_script) -> None:
    write_script("hydra_like.py", "import argparse, sys\nprint('got', sys.argv[1:])\n")
    (workdir / "one.yml").write_text('command: "${interpreter} ${program} ${args_no_hyphens}"\nlr: 0.5\n')
    done = run_tune("hydra_like.py", "--flags", "one.yml", "--no-echo", cwd=workdir)
    assert done.returncode == 0, done.stderr
    (run,) = _runs(workdir)
    assert _json(run / "tuner.d" / "flags.json") == {"lr": 0.5}
    assert not (run / "tuner.d" / "flag_defaults.json").exists()


def test_a_run_given_no_flags_runs_even_when_its_flags_cannot_be_found(workdir: Path) -> None:
    # finding the flags fails (it crashes before parsing): nothing depended on it, so the run still runs, recorded
    shutil.copy(SCRIPTS / "crashes_on_import.py", workdir)
    done = run_tune("crashes_on_import.py", "--no-echo", cwd=workdir)
    assert done.returncode == 1, done.stderr  # the run's own failure, not a refusal (exit 2)
    assert "the run records no flag defaults" in done.stderr
    (run,) = _runs(workdir)
    assert _json(run / "tuner.d" / "run.json")["status"] == "failed"


@pytest.mark.ray
def test_every_trial_of_a_sweep_records_the_defaults_and_the_summary_shows_the_swept_flags(
        ray_cluster: str, workdir: Path, write_script) -> None:
    write_script("slow.py", SLOW)
    done = run_tune("slow.py", "--flag", "epochs=1,2", "--flag", "data=a.csv", "--address", ray_cluster,
                    cwd=workdir)
    assert done.returncode == 0, done.stderr
    for run in _runs(workdir):
        assert _json(run / "tuner.d" / "flags.json")["lr"] == 0.1
        assert "lr" in _json(run / "tuner.d" / "flag_defaults.json")
    header = next(line for line in done.stdout.splitlines() if "flag_epochs" in line)
    assert "flag_lr" not in header and "flag_batch" not in header  # shared defaults: in flags.json, not the summary
