"""Samplers: ask/tell bookkeeping, no duplicate pending points, replay of the journal into a new study."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tuner.errors import ConfigError
from tuner.search.samplers import COMPLETE, FAIL, PRUNED, make_sampler, tell_record
from tuner.search.space import search_space


def objective(flags):
    return (flags["x"] - 0.3) ** 2 + (0.0 if flags["opt"] == "adam" else 0.5)


SPACE = {"x": {"uniform": [0.0, 1.0]}, "opt": {"choice": ["adam", "sgd"]}}


def test_random_sampler_is_the_space_itself():
    space = search_space(SPACE, num_samples=5, seed=4)
    sampler = make_sampler("random", space)
    assert [sampler.ask(i) for i in range(5)] == [space.combination(i) for i in range(5)]


def test_unknown_sampler_is_one_config_error():
    with pytest.raises(ConfigError, match="expected one of random, tpe, nsga2, cmaes, gp"):
        make_sampler("bayes", search_space(SPACE))


def test_without_optuna_the_message_names_the_extra(tmp_path):
    blocker = tmp_path / "optuna.py"
    blocker.write_text("raise ImportError('blocked for the test')\n")
    code = ("from tuner.search.samplers import make_sampler; from tuner.search.space import search_space\n"
            "try:\n make_sampler('tpe', search_space({'x': {'uniform': [0, 1]}}))\n"
            "except Exception as e: print(type(e).__name__, e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(tmp_path)}, cwd=str(tmp_path.parent), check=False)
    assert "ConfigError --search tpe needs Optuna: pip install 'tuner-sweeps[search]'" in out.stdout + out.stderr


def test_the_core_does_not_import_optuna_for_random_sampling():
    code = ("import sys; from tuner.search.samplers import make_sampler; from tuner.search.space import search_space;"
            "make_sampler('random', search_space({'x': {'uniform': [0, 1]}}, seed=1)).ask(0);"
            "print('optuna' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


optuna = pytest.importorskip("optuna")


@pytest.mark.parametrize("name", ["tpe", "cmaes"])
def test_parallel_asks_never_repeat_a_pending_point(name):
    # a tiny discrete space: 6 points; 6 asks while nothing is told must give 6 different points
    space = search_space({"a": {"randint": [0, 3]}, "b": {"choice": ["p", "q"]}}, num_samples=6, seed=2)
    sampler = make_sampler(name, space, "min")
    asked = [sampler.ask(i) for i in range(6)]
    assert len({(f["a"], f["b"]) for f in asked}) == 6


def test_tpe_learns_and_stopped_and_failed_trials_are_told_with_their_state():
    space = search_space(SPACE, num_samples=40, seed=0)
    sampler = make_sampler("tpe", space, "min")
    for i in range(40):
        flags = sampler.ask(i)
        if i == 3:
            sampler.tell(i, None, FAIL)
        elif i == 4:
            sampler.tell(i, 0.9, PRUNED, [(2, 0.9)])
        else:
            sampler.tell(i, objective(flags), COMPLETE)
    states = [t.state.name for t in sampler.study.trials]
    assert states[3] == "FAIL" and states[4] == "PRUNED" and states.count("COMPLETE") == 38
    assert sampler.study.best_value < 0.01
    assert sampler.study.trials[4].intermediate_values == {2: 0.9}


def test_a_nan_result_is_told_as_failed():
    sampler = make_sampler("tpe", search_space(SPACE, num_samples=2, seed=0), "min")
    sampler.ask(0)
    sampler.tell(0, float("nan"), COMPLETE)
    assert sampler.study.trials[0].state.name == "FAIL"


def test_replaying_the_journal_restores_the_study_and_the_pending_trials():
    space = search_space(SPACE, num_samples=30, seed=5)
    first = make_sampler("tpe", space, "min")
    records = []
    for i in range(12):
        flags = first.ask(i)
        records.append({"type": "ask", **first.ask_record(i, flags)})  # as the journal holds it
        if i < 10:
            value, state = (objective(flags), COMPLETE) if i != 2 else (0.7, PRUNED)
            first.tell(i, value, state, [(3, 0.7)] if state == PRUNED else ())
            records.append({"type": "tell", **tell_record(i, value, state, [(3, 0.7)] if state == PRUNED else ())})
    # the driver died with trials 10 and 11 running: a new sampler replays the journal
    second = make_sampler("tpe", space, "min")
    pending = second.restore(records)
    assert pending == [10, 11]
    told = second.study.trials
    assert len(told) == 10 and told[2].state.name == "PRUNED"
    assert [t.params for t in told] == [t.params for t in first.study.trials[:10]]
    assert second.study.best_value == first.study.best_value
    # pending trials are relaunched with their flags; new asks do not repeat a finished point
    again = second.ask(10, records[-2]["flags"])
    assert again == records[-2]["flags"]
    fresh = second.ask(12)
    assert fresh not in [r["flags"] for r in records if r["type"] == "ask"]


def test_grid_lists_are_fixed_per_trial_under_an_adaptive_sampler():
    space = search_space({"x": {"uniform": [0, 1]}, "opt": ["adam", "sgd"]}, num_samples=3, seed=1)
    sampler = make_sampler("tpe", space, "min")
    assert [sampler.ask(i)["opt"] for i in range(6)] == ["adam", "sgd"] * 3
