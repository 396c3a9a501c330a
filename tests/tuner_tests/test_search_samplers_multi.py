"""Samplers with several objectives and constraints: Optuna studies with `directions=[...]`, told one value per
objective and the runs' constraint violations, replayed from the journal's records."""

from __future__ import annotations

import json
import math

import pytest

from tuner.errors import ConfigError
from tuner.search.pareto import nondominated
from tuner.search.samplers import COMPLETE, FAIL, PRUNED, make_sampler, tell_record
from tuner.search.space import search_space

pytest.importorskip("optuna")

SPACE = {"x": {"uniform": [0.0, 1.0]}, "y": {"uniform": [0.0, 1.0]}}


def zdt1(flags):
    """Two objectives, both minimized; the front is y = 0, f2 = 1 - sqrt(f1)."""
    g = 1 + 9 * flags["y"]
    return flags["x"], g * (1 - math.sqrt(flags["x"] / g))


@pytest.mark.parametrize("name", ["tpe", "nsga2"])
def test_a_multi_objective_study_is_told_one_value_per_objective(name):
    sampler = make_sampler(name, search_space(SPACE, num_samples=24, seed=3), ["min", "min"])
    assert [d.name for d in sampler.study.directions] == ["MINIMIZE", "MINIMIZE"]
    for i in range(24):
        sampler.tell(i, list(zdt1(sampler.ask(i))), COMPLETE)
    # a repeated proposal is told FAIL (marked duplicate) and replaced by a fresh draw (tuner.search.samplers)
    trials = [t for t in sampler.study.trials if not t.user_attrs.get("duplicate")]
    assert len(trials) == 24 and all(t.state.name == "COMPLETE" and len(t.values) == 2 for t in trials)
    # Optuna's own front is ours (best_trials: its non-dominated filter)
    ours = {trials[i].number for i in nondominated([t.values for t in trials])}
    assert len(ours) >= 2
    assert {t.number for t in sampler.study.best_trials} == ours


def test_a_missing_objective_fails_the_trial_and_a_stopped_one_is_pruned_without_values():
    sampler = make_sampler("tpe", search_space(SPACE, num_samples=4, seed=1), ["min", "max"])
    assert [d.name for d in sampler.study.directions] == ["MINIMIZE", "MAXIMIZE"]
    for i in range(3):
        sampler.ask(i)
    sampler.tell(0, [0.5, None], COMPLETE)
    sampler.tell(1, [0.5, math.nan], COMPLETE)
    sampler.tell(2, [0.4, 0.3], PRUNED, [(2.0, (0.4, 0.3))])
    assert [t.state.name for t in sampler.study.trials] == ["FAIL", "FAIL", "PRUNED"]


def test_cmaes_cannot_take_several_objectives_one_line():
    with pytest.raises(ConfigError, match="--search cmaes optimizes one metric, and this sweep has 2 .*use --search "
                                          "tpe, nsga2, gp or random") as info:
        make_sampler("cmaes", search_space(SPACE, num_samples=4, seed=1), ["min", "min"])
    assert "\n" not in str(info.value)


def test_gp_without_torch_is_one_line_naming_what_to_install():
    try:
        import torch  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("torch is installed: the GP sampler runs")
    with pytest.raises(ConfigError, match=r"--search gp needs PyTorch and SciPy .*pip install .* torch"):
        make_sampler("gp", search_space(SPACE, num_samples=4, seed=1), ["min", "min"])


def test_constraints_reach_optuna_and_infeasible_trials_are_not_its_best():
    sampler = make_sampler("tpe", search_space(SPACE, num_samples=6, seed=2), ["min", "min"], constrained=True)
    for i in range(6):
        flags = sampler.ask(i)
        violation = flags["y"] - 0.5  # feasible when y <= 0.5
        sampler.tell(i, list(zdt1(flags)), COMPLETE, constraints=[violation])
    trials = sampler.study.trials
    # what the study holds: the violation of each trial (Optuna's constraints, <= 0 feasible)
    assert [list(t.constraints.values()) for t in trials] == [[t.params["y"] - 0.5] for t in trials]
    assert all(t.params["y"] <= 0.5 for t in sampler.study.best_trials)  # Optuna: only feasible trials are best


def test_replaying_value_lists_and_constraints_restores_the_study():
    space = search_space(SPACE, num_samples=20, seed=5)
    first = make_sampler("tpe", space, ["min", "min"], constrained=True)
    records = []
    for i in range(10):
        flags = first.ask(i)
        records.append({"type": "ask", **first.ask_record(i, flags)})  # as the journal holds it
        if i < 8:
            values, state = list(zdt1(flags)), COMPLETE if i != 3 else PRUNED
            constraints = [flags["y"] - 0.5] if i != 4 else [math.inf]  # trial 4 lacks the constraint's metric
            if i == 5:
                values, state = [None, 1.0], COMPLETE  # no value of the first metric: FAIL
            first.tell(i, values, state, [(1.0, tuple(values))] if state == PRUNED else (), constraints)
            record = tell_record(i, values, state, [(1.0, tuple(values))] if state == PRUNED else (), constraints)
            records.append(json.loads(json.dumps({"type": "tell", **record})))  # as the journal keeps it (no infinity)
    assert records[9]["constraints"] == [None] and isinstance(records[1]["value"], list)
    second = make_sampler("tpe", space, ["min", "min"], constrained=True)
    assert second.restore(records) == [8, 9]
    old, new = first.study.trials[:8], second.study.trials
    assert [t.state.name for t in new] == [t.state.name for t in old] == \
        ["COMPLETE"] * 3 + ["PRUNED", "COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert [t.values for t in new] == [t.values for t in old]
    assert [t.params for t in new] == [t.params for t in old]
    assert [t.constraints for t in new] == [t.constraints for t in old]
    assert new[4].constraints == {"0": 1e12}  # the missing metric: violated
    assert {t.number for t in second.study.best_trials} == {t.number for t in first.study.best_trials}
    # the pending trials are relaunched with their own flags, and the study goes on asking
    assert second.ask(8, records[-2]["flags"]) == records[-2]["flags"]
    second.tell(8, [0.1, 0.9], COMPLETE, constraints=[-1.0])
    assert second.study.trials[-1].state.name == "COMPLETE"


def test_a_failed_trial_is_told_fail_whatever_its_values():
    sampler = make_sampler("nsga2", search_space(SPACE, num_samples=4, seed=1), ["min", "min"])
    sampler.ask(0)
    sampler.tell(0, [0.1, 0.2], FAIL)
    assert sampler.study.trials[0].state.name == "FAIL"
