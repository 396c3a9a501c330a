"""Population Based Training (`--search pbt`): the decisions and the perturbation on hand-made values, then real
sweeps of Ray Tune's PBT example function written as a script that only prints and checkpoints."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from sweep_on_disk import journal_has, journal_records, runs_on_disk

from tests.conftest import run_tune
from tuner.errors import ConfigError
from tuner.search.driver import check_pbt, check_stop
from tuner.search.pbt import explore, quantiles
from tuner.search.space import search_space

TOY = Path(__file__).resolve().parents[2] / "bench" / "checkpoints" / "pbt_toy.py"


def test_quantiles_rank_the_population_by_latest_value_nan_worst_at_most_half():
    latest = {0: 0.9, 1: 0.1, 2: 0.5, 3: float("nan"), 4: 0.7}
    assert quantiles(latest, "max", 0.25) == ([3, 1], [4, 0])
    assert quantiles(latest, "min", 0.25) == ([3, 0], [2, 1])  # NaN is the worst either way
    assert quantiles({0: 1.0, 1: 2.0, 2: 3.0}, "max", 0.5) == ([0], [2])  # ceil(1.5) = 2 > half: 1
    assert quantiles({0: 1.0}, "max", 0.25) == ([], [])


def test_explore_perturbs_within_the_space_moves_choices_to_a_neighbour_and_keeps_scalars():
    space = search_space({"lr": {"loguniform": [1e-4, 1e-1]}, "units": {"randint": [16, 257]},
                          "act": {"choice": ["relu", "tanh", "gelu"]}, "opt": ["adam", "sgd", "rms"], "epochs": 9},
                         num_samples=4, seed=1)
    rng = random.Random(0)
    flags = {"lr": 0.01, "units": 100, "act": "tanh", "opt": "sgd", "epochs": 9}
    seen_lr, seen_act = set(), set()
    for _ in range(200):
        new = explore(flags, space, rng, resample=0.0)
        seen_lr.add(round(new["lr"], 6))
        seen_act.add(new["act"])
        assert new["units"] in (80, 120) and new["opt"] in ("adam", "rms") and new["epochs"] == 9
    assert seen_lr == {0.008, 0.012} and seen_act == {"relu", "gelu"}
    edge = explore({**flags, "lr": 0.095}, space, random.Random(3), resample=0.0)
    assert 1e-4 <= edge["lr"] <= 1e-1  # x1.2 stays within the space
    drawn = {explore(flags, space, rng, resample=1.0)["act"] for _ in range(100)}
    assert drawn == {"relu", "tanh", "gelu"}  # resampled from the space


def test_pbt_needs_an_interval_and_its_options_are_its_own():
    with pytest.raises(ConfigError, match="needs --perturbation-interval"):
        check_pbt()
    with pytest.raises(ConfigError, match="--quantile-fraction must be a number in"):
        check_pbt(perturbation_interval=5, quantile_fraction=0.7)
    with pytest.raises(ConfigError, match="applies to --search pbt"):
        check_stop("asha", perturbation_interval=5)
    assert check_pbt(perturbation_interval=5).pbt().interval == 5
    with pytest.raises(ConfigError, match="unknown rule 'pbt'"):  # --stop pbt: PBT is --search pbt
        check_stop("pbt")


def _population(workdir: Path, *extra: str) -> "subprocess.CompletedProcess[str]":  # noqa: F821
    shutil.copy(TOY, workdir / "train.py")
    (workdir / "space.yml").write_text("lr: {loguniform: [1.0e-4, 1.0e-1]}\nsteps: 40\nstep_s: 0.05\n")
    return run_tune("train.py", "--flags", "space.yml", "--num-samples", "4", "--seed", "3", "--search", "pbt",
                    "--perturbation-interval", "5", "--metric", "mean_accuracy", "--mode", "max",
                    "--max-concurrent", "4", "--cpus-per-trial", "0.5", "--yes", *extra, cwd=workdir, timeout=400)


@pytest.mark.slow
@pytest.mark.ray
def test_the_bottom_quantile_exploits_a_top_trial_and_continues_from_its_checkpoint_as_a_new_segment(workdir):
    result = _population(workdir)
    assert result.returncode == 0, result.stderr
    exploits = [r for r in journal_records(workdir) if r["type"] == "exploit"]
    assert exploits, result.stdout
    runs = runs_on_disk(workdir)
    sweep = next((workdir / "runs" / "sweeps").iterdir())
    for record in exploits:
        trial, segment = record["trial"], record["segment"]
        run = next(r for r in runs if r["trial"] == trial and r.get("segment") == segment)
        assert run["donor"] == record["donor"] and run["flags"]["lr"] == pytest.approx(record["flags"]["lr"])
        # explore: the donor's lr x0.8 or x1.2 (or drawn again), never the receiver's own unchanged
        ratio = record["flags"]["lr"] / record["donor_flags"]["lr"]
        assert ratio == pytest.approx(0.8) or ratio == pytest.approx(1.2) or record["flags"]["lr"] != \
            record["old_flags"]["lr"]
        # the segment went on from the donor's checkpoint: its first step is past the start, not 1 (a donor that had
        # already run its 40 steps leaves the new segment nothing to do)
        if run["rows"]:
            assert run["rows"][0]["step"] > 1 and run["resumed_from"]["step"] == run["rows"][0]["step"]
        else:
            assert run["status"] == "finished" and run["resumed_from"]["run"]
        lineage = [json.loads(line) for line in (sweep / "trials" / str(trial) / "lineage.jsonl").read_text()
                   .splitlines()]
        # the journal's copy is signed (resume replays it: tuner.store.signing); the lineage file holds the record
        assert {k: v for k, v in record.items() if k != "signature"} in lineage
    # tune report: the best trial's schedule (flags by segment) and the population over time
    report = run_tune("report", sweep.name, "-o", "report.html", cwd=workdir)
    assert report.returncode == 0, report.stderr
    from tests.tuner_tests.test_report_pages import _page_data

    pbt = _page_data((workdir / "report.html").read_text())["pbt"]
    assert pbt["exploits"] == len(exploits) and sorted(pbt["population"]["trials"]) == ["0", "1", "2", "3"]
    best_runs = [r for r in runs if r["trial"] == pbt["best_trial"]]
    assert [seg["segment"] for seg in pbt["schedule"]] == [0] + [r["segment"] for r in best_runs if r.get("segment")]
    assert pbt["schedule"][0]["from_step"] == 1
    paused = [r for r in runs if r["status"] == "paused"]
    pauses = [r for r in journal_records(workdir) if r["type"] == "pbt-pause"]
    # each decision paused the receiver's run (unless it ended first); then it exploited, or (the donor's checkpoint
    # no newer than its own by then) went on as it was: the next run continues it either way
    assert len(pauses) >= len(paused) >= len(exploits)
    assert all(r["status"] in ("finished", "paused") for r in runs)
    # the dashboard's learning curves mark each exploit where its segment began and each pause where it ended
    from tuner.dashboard.server import Dashboard

    curves = Dashboard(str(workdir / "runs")).sweep_changes(sweep.name, 0, None)["curves"]
    kinds = {name: [m["kind"] for m in curve["marks"]] for name, curve in curves.items()}
    segment_runs = {r["name"] for r in runs if r.get("donor") is not None and r["rows"]}
    assert segment_runs and all("exploit" in kinds[name] for name in segment_runs)
    assert all("paused" in kinds[r["name"]] for r in paused if r["rows"])


@pytest.mark.slow
@pytest.mark.ray
def test_a_population_that_never_saves_is_never_exploited(workdir):
    result = _population(workdir, "--flag", "save=false")
    assert result.returncode == 0, result.stderr
    records = journal_records(workdir)
    assert not [r for r in records if r["type"] in ("exploit", "pbt-pause")]
    skipped = [r for r in records if r["type"] == "exploit-skipped"]
    assert skipped and "checkpoint" in skipped[0]["reason"]
    assert all(r["status"] == "finished" for r in runs_on_disk(workdir))


@pytest.mark.slow
@pytest.mark.ray
def test_tune_resume_continues_a_pbt_sweep_after_its_driver_is_sigkilled_with_each_trials_segment(workdir):
    import os
    import signal

    from tests.tuner_tests.test_faults import start_tune, wait_until

    shutil.copy(TOY, workdir / "train.py")
    (workdir / "space.yml").write_text("lr: {loguniform: [1.0e-4, 1.0e-1]}\nsteps: 60\nstep_s: 0.1\n")
    proc = start_tune(workdir, "train.py", "--flags", "space.yml", "--num-samples", "4", "--seed", "3", "--search",
                      "pbt", "--perturbation-interval", "5", "--metric", "mean_accuracy", "--mode", "max",
                      "--max-concurrent", "4", "--cpus-per-trial", "0.5", "--yes")

    assert wait_until(lambda: journal_has(workdir, "exploit"), 240)  # slow under load
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    before = [r for r in journal_records(workdir) if r["type"] == "exploit"]
    sweep = next((workdir / "runs" / "sweeps").iterdir()).name
    result = run_tune("resume", sweep, cwd=workdir, timeout=300)
    assert result.returncode == 0, result.stderr
    runs = runs_on_disk(workdir)
    by_trial: dict[int, list[dict]] = {}
    for run in runs:
        by_trial.setdefault(run["trial"], []).append(run)
    assert sorted(by_trial) == [0, 1, 2, 3]
    assert all(trial_runs[-1]["status"] == "finished" for trial_runs in by_trial.values()), by_trial
    for record in before:  # an exploit made before the crash: its segment ran with its flags, after it or on resume
        segment_runs = [r for r in by_trial[record["trial"]] if r.get("segment") == record["segment"]]
        assert segment_runs and all(r["flags"]["lr"] == pytest.approx(record["flags"]["lr"]) for r in segment_runs)
    for trial_runs in by_trial.values():  # every trial reached the end of its steps, continuing what it had
        last = trial_runs[-1]
        assert not last["rows"] or last["rows"][-1]["step"] == 60
