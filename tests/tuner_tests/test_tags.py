"""Tags, a label and a note: at launch (`--tag k=v`, `--label`, `--note`, `tags=`), later (`tune tag`), shown by
`tune ls`/`info`, found by `tags.k = 'v'`, read by `tune lookup`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_tune
from tuner import TunerError, ls_runs, training_run, tuning_run
from tuner.store.journal import Journal
from tuner.sweep.resume import prepare_resume

SCRIPT = """
import argparse
p = argparse.ArgumentParser(); p.add_argument("--lr", type=float, default=0.1); a = p.parse_args()
print("loss:", a.lr * 2)
"""


def _runs(workdir: Path) -> list[Path]:
    return sorted(p for p in (workdir / "runs").glob("2*") if (p / "tuner.d").is_dir())


def test_tags_label_and_note_from_the_command_line_then_changed_with_tune_tag(workdir: Path) -> None:
    (workdir / "train.py").write_text(SCRIPT)
    done = run_tune("train.py", "--flag", "lr=0.3", "--tag", "team=vision", "--tag", "formula=a=b",
                    "--label", "baseline", "--note", "first try", "--no-echo", cwd=workdir)
    assert done.returncode == 0, done.stderr
    (run,) = _runs(workdir)
    assert json.loads((run / "tuner.d" / "tags.json").read_text()) == {
        "team": "vision", "formula": "a=b", "label": "baseline", "note": "first try"}
    listed = run_tune("ls", cwd=workdir)
    assert "tag_label" in listed.stdout and "baseline" in listed.stdout  # the label is a column of the listing
    assert "first try" in run_tune("info", run.name, cwd=workdir).stdout
    # later: set, replace and remove, by a unique prefix of the name; the command prints the run's tags
    changed = run_tune("tag", run.name[:13], "team=nlp", "stage=prod", "--rm", "formula", cwd=workdir)
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.splitlines() == ["label=baseline", "note=first try", "stage=prod", "team=nlp"]
    found = run_tune("ls", "--filter", "tags.stage = 'prod'", "--format", "csv", cwd=workdir)
    assert found.returncode == 0 and run.name in found.stdout, found.stderr
    assert run.name not in run_tune("ls", "--filter", "tags.team = 'vision'", "--format", "csv", cwd=workdir).stdout
    for field, value in (("tags.team", "nlp"), ("flags.lr", "0.3"), ("params.lr", "0.3"), ("metrics.loss", "0.6")):
        looked = run_tune("lookup", run.name, field, cwd=workdir)
        assert (looked.returncode, looked.stdout.strip()) == (0, value), (field, looked.stderr)
    missing = run_tune("lookup", run.name, "metrics.acc", cwd=workdir)
    assert missing.returncode == 2 and "fields of metrics: loss" in missing.stderr


@pytest.mark.parametrize("args, says", [
    (["--tag", "team"], "expected KEY=VALUE"),
    (["--tag", "=x"], "tag key"),
])
def test_a_malformed_tag_is_exit_2_before_anything_runs(workdir: Path, args: list[str], says: str) -> None:
    (workdir / "train.py").write_text(SCRIPT)
    done = run_tune("train.py", *args, "--no-echo", cwd=workdir)
    assert done.returncode == 2 and says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not _runs(workdir)


def test_tune_tag_errors_are_one_line(workdir: Path) -> None:
    (workdir / "train.py").write_text(SCRIPT)
    assert run_tune("train.py", "--no-echo", cwd=workdir).returncode == 0
    (run,) = _runs(workdir)
    shown = run_tune("tag", run.name, cwd=workdir)
    assert shown.returncode == 0 and "has no tags" in shown.stdout
    for args, says in ((["nokey"], "expected KEY=VALUE"), (["--rm", "nope"], "no tag 'nope' to delete"),
                       ([], "")):
        done = run_tune("tag", *([run.name] if args else ["no-such-run"]), *args, cwd=workdir)
        assert done.returncode == 2 and says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_the_api_takes_tags_and_rejects_a_non_mapping(workdir: Path, write_script) -> None:
    write_script("train.py", SCRIPT)
    frame = training_run("train.py", flags={"lr": 0.2}, tags={"team": "a", "n": 3}, label="l1", echo=False)
    assert frame.tag_team.tolist() == ["a"] and frame.tag_n.tolist() == ["3"] and frame.tag_label.tolist() == ["l1"]
    with pytest.raises(TunerError, match="tags: expected a mapping"):
        training_run("train.py", tags="team=a", echo=False)  # type: ignore[arg-type]
    assert len(_runs(workdir)) == 1  # nothing made for the refused one


@pytest.mark.ray
def test_every_trial_of_a_sweep_gets_the_tags_and_a_resume_keeps_them(ray_cluster, workdir: Path,
                                                                       write_script) -> None:
    write_script("train.py", SCRIPT)
    frame = tuning_run("train.py", {"lr": [0.1, 0.2]}, confirm=False, quiet=True, tags={"team": "a"}, note="grid")
    assert frame.tag_team.tolist() == ["a", "a"] and frame.tag_note.tolist() == ["grid", "grid"]
    sweep = frame.attrs["sweep"]
    assert ls_runs("tags.team = 'a'").run_dir.nunique() == 2
    header = Journal(str(workdir / "runs" / "sweeps" / sweep)).read().header
    assert header["tags"] == {"team": "a", "note": "grid"}  # what a resume launches its trials with
    assert prepare_resume(sweep, quiet=True).tags == {"team": "a", "note": "grid"}
