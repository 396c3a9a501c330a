"""Pause and promote (`--stop hyperband`): the scheduler's decisions on hand-made values, then real sweeps of scripts
that print and checkpoint (no tuner import): trials paused at rungs continue from their checkpoint when promoted."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from sweep_on_disk import journal_has, journal_records, runs_on_disk

from tests.conftest import run_tune
from tuner.errors import ConfigError
from tuner.search.driver import check_stop, stop_from_source
from tuner.search.promotion import Promotion, PromotionRule


def test_rungs_grow_by_eta_up_to_max_t_and_each_bracket_starts_a_rung_higher():
    rule = PromotionRule(grace_period=1, reduction_factor=3, max_t=27, brackets=3)
    assert rule.rungs(0) == (1, 3, 9, 27)
    assert rule.rungs(1) == (3, 9, 27)
    assert rule.rungs(2) == (9, 27)
    assert rule.bracket_count() == 3
    assert PromotionRule(2, 2, 10).rungs(0) == (2, 4, 8, 10)  # max_t is the last rung even off the grid


def test_asha_promotes_only_the_top_third_of_a_rung_best_first_and_each_once():
    promotion = Promotion(PromotionRule(1, 3, 9), "min")
    for trial, value in (("a", 0.5), ("b", 0.9), ("c", 0.7)):
        promotion.start(trial)
        assert promotion.reached(trial, value) is True  # rung 0 of 3: paused there
    assert promotion.next_promotion() == "a"  # floor(3/3) = 1: the best of three
    assert promotion.budget("a") == 3 and promotion.next_promotion() is None  # b and c are not in the top third
    for trial, value in (("d", 0.1), ("e", 0.95), ("f", 0.8)):
        promotion.start(trial)
        promotion.reached(trial, value)
    assert promotion.next_promotion() == "d"  # 6 at rung 0: the top 2 are d and a; a went already
    assert promotion.next_promotion() is None
    assert promotion.reached("a", 0.4) is True and promotion.reached("d", 0.2) is True  # rung 1: 2 trials, top 0
    assert promotion.next_promotion() is None
    assert sorted(promotion.paused()) == ["a", "b", "c", "d", "e", "f"]


def test_a_nan_value_is_the_worst_and_max_mode_ranks_the_other_way():
    promotion = Promotion(PromotionRule(1, 2, 4), "max")
    for trial, value in (("a", math.nan), ("b", 0.3), ("c", None), ("d", 0.2)):
        promotion.start(trial)
        promotion.reached(trial, value)
    assert [promotion.next_promotion(), promotion.next_promotion(), promotion.next_promotion()] == ["b", "d", None]


def test_hyperband_brackets_take_new_trials_in_turn_and_the_last_rung_is_not_a_pause():
    promotion = Promotion(PromotionRule(1, 3, 9, brackets=2), "min")
    assert [promotion.start(t).bracket for t in "abcd"] == [0, 1, 0, 1]
    assert promotion.budget("a") == 1 and promotion.budget("b") == 3
    promotion.places["b"].rung = 1  # b runs to 9, its bracket's last rung
    assert promotion.reached("b", 0.5) is False


def test_a_resumed_driver_rebuilds_the_rungs_and_relaunches_a_promoted_trial_first():
    live = Promotion(PromotionRule(1, 3, 9), "min")
    records = []
    for trial, value in ((0, 0.5), (1, 0.9), (2, 0.7)):
        place = live.start(trial)
        records.append({"type": "rung", "trial": trial, "bracket": place.bracket, "rung": place.rung, "value": value})
        live.reached(trial, value)
    promoted = live.next_promotion()
    records.append({"type": "promote", "trial": promoted, "bracket": 0, "rung": 0})
    replayed = Promotion(PromotionRule(1, 3, 9), "min")
    for record in records:
        replayed.replay(record)
    assert replayed.next_promotion() == 0 and replayed.budget(0) == 3  # its run was lost with the driver: again
    assert replayed.next_promotion() is None and sorted(replayed.paused()) == [1, 2]
    assert replayed.start(3).bracket == 0


def test_hyperband_needs_max_t_and_the_budget_flag_is_its_own_and_old_journals_read_as_w_and_b():
    with pytest.raises(ConfigError, match="needs --max-t"):
        check_stop("hyperband")
    with pytest.raises(ConfigError, match="--budget-flag applies to --stop hyperband"):
        check_stop("asha", budget_flag="epochs")
    with pytest.raises(ConfigError, match="--strict applies to --stop wandb-hyperband"):
        check_stop("hyperband", max_t=9, strict=True)
    config = check_stop("hyperband", max_t=27, brackets=2, budget_flag="epochs")
    assert config.promotes and stop_from_source(config.to_source()) == config
    old = {"rule": "hyperband", "grace_period": 3, "reduction_factor": 3, "max_t": None, "min_trials": 3,
           "brackets": None, "strict": True}  # a header W&B's early_terminate wrote before this change
    assert stop_from_source(old).rule == "wandb-hyperband"


#: prints its loss each epoch and saves after each; `--resume false` never reads its folder (no checkpoint), as a
#: script that has none
SCRIPT = """
import argparse, json, os, time
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float)
p.add_argument("--epochs", type=int, default=9)
p.add_argument("--resume", default="true")
a = p.parse_args()
state = os.path.join(os.environ["TUNER_CHECKPOINT_DIR"], "state.json")
start = json.load(open(state)) if a.resume == "true" and os.path.exists(state) else 0
for epoch in range(start + 1, a.epochs + 1):
    time.sleep(0.15)
    if a.resume == "true":
        with open(state + ".tmp", "w") as f:
            json.dump(epoch, f)
        os.replace(state + ".tmp", state)
    print(f"epoch {epoch} loss={1 / (1 + a.lr * epoch):.5f}", flush=True)
"""


@pytest.mark.slow
@pytest.mark.ray
def test_trials_paused_at_rungs_continue_from_their_checkpoint_when_promoted(workdir, write_script):
    write_script("train.py", SCRIPT)
    lrs = "0.1,0.2,0.3,0.4,0.5,0.6"
    result = run_tune("train.py", "--flag", f"lr={lrs}", "--metric", "loss", "--mode", "min", "--stop", "hyperband",
                      "--max-t", "9", "--grace-period", "1", "--reduction-factor", "3", "--max-concurrent", "2",
                      "--yes", cwd=workdir, timeout=300)
    assert result.returncode == 0, result.stderr
    runs = runs_on_disk(workdir)
    by_trial: dict[int, list[dict]] = {}
    for run in sorted(runs, key=lambda r: r["start"]):
        by_trial.setdefault(run["trial"], []).append(run)

    # a sweep that ended leaves no trial paused: a paused run is either continued by the trial's next run (and
    # stays `paused`, what happened to it) or, never promoted, ends `stopped`
    assert all(trial_runs[-1]["status"] in ("finished", "stopped") for trial_runs in by_trial.values())
    best = by_trial[5]  # lr 0.6: the lowest loss at every rung, promoted all the way
    assert [r["status"] for r in best] == ["paused", "paused", "finished"]
    for before, after in zip(best, best[1:]):
        # each promotion continued from the checkpoint the paused run left: no epoch run twice
        assert after["steps"][0] == before["steps"][-1] + 1 and after["resumed_from"]["run"] == before["name"]
    assert best[-1]["steps"][-1] == 9 and best[0]["steps"][0] == 1
    losers = [t for t, trial_runs in by_trial.items() if [r["status"] for r in trial_runs] == ["stopped"]]
    assert len(losers) >= 2  # never promoted from the first rung: the paused run ends stopped
    records = journal_records(workdir)
    assert Counter(r["type"] for r in records)["promote"] >= 2
    assert any(r["type"] == "rung" and r["trial"] == 5 and r["budget"] == 9 for r in records)
    executed = sum(len(r["steps"]) for r in runs)
    assert executed < 6 * 9 * 0.6  # far fewer epochs than running all six to the end
    assert "no checkpoint" not in result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.ray
def test_a_budget_flag_trial_without_a_checkpoint_is_rerun_with_the_larger_budget_and_the_sweep_says_so_once(
        workdir, write_script):
    write_script("train.py", SCRIPT)
    result = run_tune("train.py", "--flag", "lr=0.1,0.2,0.3,0.4,0.5,0.6", "--flag", "epochs=9", "--flag", "resume=false",
                      "--metric", "loss", "--mode", "min", "--stop", "hyperband", "--max-t", "9", "--budget-flag",
                      "epochs", "--max-concurrent", "2", "--yes", cwd=workdir, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (result.stdout + result.stderr).count("has no checkpoint") == 1
    best = sorted((r for r in runs_on_disk(workdir) if r["trial"] == 5), key=lambda r: r["start"])
    assert [r["status"] for r in best] == ["paused", "paused", "finished"]
    # the budget went to the flag: 1, 3 and 9 epochs, each run from the start (it saves nothing)
    assert [r["steps"] for r in best] == [[1], [1, 2, 3], list(range(1, 10))]
    assert [a for r in best for a in r["argv"] if a.startswith("--epochs")] == ["--epochs=1", "--epochs=3", "--epochs=9"]


@pytest.mark.slow
@pytest.mark.ray
def test_tune_resume_continues_a_paused_sweep_after_its_driver_is_sigkilled(workdir, write_script):
    import os
    import signal

    from tests.tuner_tests.test_faults import start_tune, wait_until

    write_script("train.py", SCRIPT.replace("time.sleep(0.15)", "time.sleep(0.4)"))
    proc = start_tune(workdir, "train.py", "--flag", "lr=0.1,0.2,0.3,0.4,0.5,0.6", "--metric", "loss", "--mode",
                      "min", "--stop", "hyperband", "--max-t", "9", "--max-concurrent", "2", "--yes")

    assert wait_until(lambda: journal_has(workdir, "promote"), 240)  # slow under load
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    sweep = next((workdir / "runs" / "sweeps").iterdir()).name
    result = run_tune("resume", sweep, cwd=workdir, timeout=300)
    assert result.returncode == 0, result.stderr
    by_trial: dict[int, list[dict]] = {}
    for run in sorted(runs_on_disk(workdir), key=lambda r: r["start"]):
        by_trial.setdefault(run["trial"], []).append(run)
    assert sorted(by_trial) == list(range(6))
    assert all(trial_runs[-1]["status"] in ("finished", "stopped") for trial_runs in by_trial.values()), by_trial
    best = by_trial[5]
    assert best[-1]["status"] == "finished" and best[-1]["steps"][-1] == 9
    # whatever the kill interrupted continued from the trial's checkpoint: the last run of the best trial did not
    # start again at epoch 1
    assert best[-1]["steps"][0] > 1 and best[-1]["resumed_from"]["run"] == best[-2]["name"]
    assert Counter(r["type"] for r in journal_records(workdir))["promote"] >= 2


def test_a_trial_still_on_its_way_to_pausing_is_not_promoted_until_its_run_has_ended():
    promotion = Promotion(PromotionRule(1, 3, 9), "min")
    for trial, value in (("a", 0.1), ("b", 0.9), ("c", 0.7)):
        promotion.start(trial)
        promotion.reached(trial, value)
    assert promotion.next_promotion(busy={"a"}) is None  # a's run is saving its checkpoint: not yet
    assert promotion.next_promotion(busy=()) == "a"


def test_a_trial_paused_then_continued_by_a_run_that_was_lost_is_interrupted_for_resume():
    import pandas as pd

    from tuner.store.status import TrialState
    from tuner.sweep.history import trial_states

    rows = pd.DataFrame({"trial": [0, 0, 1, 1, 2], "start": [1.0, 2.0, 1.0, 2.0, 1.0],
                         "status": ["paused", "lost", "paused", "finished", "paused"]})
    assert trial_states(rows, [0, 1, 2], driver_alive=False) == {
        0: TrialState.INTERRUPTED, 1: TrialState.FINISHED, 2: TrialState.PAUSED}
    rows["start"] = pd.to_datetime(rows["start"], unit="s", utc=True)  # as the listing frame holds it
    assert trial_states(rows, [0, 1, 2], driver_alive=False) == {
        0: TrialState.INTERRUPTED, 1: TrialState.FINISHED, 2: TrialState.PAUSED}
