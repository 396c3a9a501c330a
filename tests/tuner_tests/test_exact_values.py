"""One value, four ways in (--flag, a YAML grid, a CSV grid, tuning_run(flags=...)): the same argv, the same flags.json."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from tuner.errors import QUOTE_MAX, GridError, quoted
from tuner.plan import load_grid
from tuner.settings import load_settings
from tuner.spec import build_run_spec, describe_script
from tuner.values import parse_values

# (as typed after --flag x=, as written in a YAML list, the CSV cell, the Python value, argv text, flags.json value)
TABLE: list[tuple[str, str, str, Any, str, Any]] = [
    ("run #3", "'run #3'", "run #3", "run #3", "run #3", "run #3"),
    ("#start", "'#start'", "#start", "#start", "#start", "#start"),
    ("12:30", "12:30", "12:30", "12:30", "12:30", "12:30"),
    ("0x1F", "0x1F", "0x1F", "0x1F", "0x1F", "0x1F"),
    ("1_000", "1_000", "1_000", "1_000", "1_000", "1_000"),
    ("yes", "yes", "yes", "yes", "yes", "yes"),
    ("off", "off", "off", "off", "off", "off"),
    ("a\nb", '"a\\nb"', "a\nb", "a\nb", "a\nb", "a\nb"),
    (".inf", ".inf", ".inf", math.inf, "inf", "inf"),
    ("1e-3", "1e-3", "1e-3", 0.001, "0.001", 0.001),
    ("001", "001", "001", "001", "001", "001"),
    ("-7.5e-05", "-7.5e-05", "-7.5e-05", -7.5e-05, "-7.5e-05", -7.5e-05),
    ("'a,b'", "'a,b'", "a,b", "a,b", "a,b", "a,b"),
]
IDS = [repr(row[3]) for row in TABLE]


def _write_sources(folder: Path, rows: list[tuple[str, str, str, Any, str, Any]]) -> dict[str, Any]:
    (folder / "grid.yml").write_text("x: [" + ", ".join(r[1] for r in rows) + "]\n")
    with open(folder / "grid.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["x"])
        writer.writerows([[r[2]] for r in rows])
    return {"--flag": load_grid(None, {"x": parse_values(",".join(r[0] for r in rows))}),
            "yaml": load_grid(str(folder / "grid.yml")), "csv": load_grid(str(folder / "grid.csv")),
            "python": load_grid({"x": [r[3] for r in rows]})}


@pytest.mark.parametrize("row", TABLE, ids=IDS)
def test_one_value_reaches_argv_and_flags_json_the_same_from_every_source(row, workdir: Path) -> None:
    (workdir / "train.py").write_text("")
    script, settings = describe_script("train.py"), load_settings()
    seen = {}
    for source, grid in _write_sources(workdir, [row]).items():
        assert grid.size == 1, source
        spec = build_run_spec(script, grid.combination(0), str(workdir / "run"), settings, echo=False,
                              job_type="sweep")
        flags_json = json.loads(next(t for p, t in spec.initial_files.items() if p.endswith("flags.json")))
        seen[source] = (spec.command[2:], flags_json, json.loads(spec.env["TUNER_FLAGS_JSON"]))
    expected = ((f"--x={row[4]}",), {"x": row[5]}, {"x": row[5]})
    assert seen == {source: expected for source in seen}


SCRIPT = """
import json, os, sys
open("argv.json", "w").write(json.dumps(sys.argv[1:]))
"""


@pytest.mark.ray
@pytest.mark.parametrize("source", ["--flag", "yaml", "csv", "python"])
def test_a_sweep_hands_every_value_over_exactly(source: str, ray_cluster: str, workdir: Path) -> None:
    from tests.conftest import run_tune
    from tuner import tuning_run

    (workdir / "train.py").write_text(SCRIPT)
    _write_sources(workdir, TABLE)
    if source == "--flag":
        result = run_tune("train.py", "--flag", "x=" + ",".join(r[0] for r in TABLE), "--address", ray_cluster,
                          "--yes", "-q", "--gpus-per-trial", "0", cwd=workdir)
        assert result.returncode == 0, result.stderr
        run_dirs = [p for p in (workdir / "runs").iterdir() if (p / "tuner.d").is_dir()]
    else:
        grid = {"yaml": "grid.yml", "csv": "grid.csv", "python": {"x": [r[3] for r in TABLE]}}[source]
        frame = tuning_run("train.py", grid, gpus_per_trial=0, confirm=False, quiet=True)
        assert frame is not None
        run_dirs = [Path(d) for d in frame["run_dir"]]
    got = sorted((json.loads((d / "argv.json").read_text())[0],
                  json.dumps(json.loads((d / "tuner.d" / "flags.json").read_text())["x"])) for d in run_dirs)
    assert got == sorted((f"--x={r[4]}", json.dumps(r[5])) for r in TABLE)


def test_values_equal_once_typed_are_one_line_of_error_not_two_runs() -> None:
    with pytest.raises(GridError) as caught:
        load_grid(None, {"lr": parse_values("0.1,1e-1,0.2")})
    assert "'lr' has the value 0.1 more than once" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("extra, duplicate", [
    ([0.1, 1e-1], "0.1"), ([2, 2.0], None), ([math.nan, math.nan], "nan"), ([10**30, 10**30 + 1], None), ([10**400, 10**400 + 1], None), ([10**400, 10**400], str(10**400)),
    ([0.0, -0.0], None), ([math.nan], None), ([True], None),
])
def test_a_long_list_of_numbers_is_checked_for_duplicates_as_a_short_one(extra: list, duplicate: str | None) -> None:
    """Past 10,000 numbers the check sorts them instead of hashing each; what it finds must not change."""
    values = [i + 0.5 for i in range(20_000)] + extra
    for grid_values in (values, extra + [0.5, 1.5]):  # long (sorted check) and short (set)
        if duplicate is None:
            assert load_grid(None, {"lr": list(grid_values)}).size == len(grid_values)
        else:  # a value is quoted in at most a few dozen characters (10**400 with its length)
            shown = duplicate if len(duplicate) <= QUOTE_MAX else quoted(duplicate)
            with pytest.raises(GridError, match=re.escape(f"'lr' has the value {shown} more than once")):
                load_grid(None, {"lr": list(grid_values)})


def test_tuner_flags_reads_an_infinite_value_back_as_a_float(workdir: Path) -> None:
    from tuner import training_run

    (workdir / "train.py").write_text(
        "import tuner, json\nf = tuner.flags(tuner.flag_numeric('x', 1.0))\n"
        "open('x.txt', 'w').write(repr(f['x']))\n")
    row = training_run("train.py", flags={"x": math.inf}, echo=False).iloc[0]
    assert Path(row["run_dir"], "x.txt").read_text() == "inf"
    assert json.loads(Path(row["run_dir"], "tuner.d", "flags.json").read_text()) == {"x": "inf"}
    assert row["flag_x"] == math.inf


def test_the_cli_rejects_duplicate_values_with_exit_2(workdir: Path) -> None:
    from tests.conftest import run_tune

    (workdir / "train.py").write_text("")
    result = run_tune("train.py", "--flag", "lr=0.1,1e-1", "--yes", cwd=workdir)
    assert result.returncode == 2 and "more than once" in result.stderr
    assert not (workdir / "runs").exists()
