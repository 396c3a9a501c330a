"""MOASHA (tuner.search.stopping.moasha_stops) on hand-made histories of several objectives, and how a sweep's
rule is chosen for its number of metrics."""

from __future__ import annotations

import math

import pytest

from tuner.errors import ConfigError
from tuner.search.driver import check_stop, objectives_stop
from tuner.search.stopping import AshaRule, AshaState, asha_stops, moasha_stops


def vectors(*values, start=1):
    """[(step, (loss, latency)), ...] from (loss, latency) pairs, one per step."""
    return [(start + i, tuple(v)) for i, v in enumerate(values)]


def stopped(stops):
    return sorted(s.trial for s in stops)


RULE = AshaRule(grace_period=1, reduction_factor=2)
MIN2 = ("min", "min")


def test_a_dominated_trial_is_stopped_at_the_rung_and_the_front_continues():
    # at step 1: a, b, c trade loss for latency (the front); d is worse than b on both
    histories = {"a": vectors((0.1, 30)), "b": vectors((0.2, 20)), "c": vectors((0.3, 10)), "d": vectors((0.4, 25))}
    stops = moasha_stops(histories, ["d"], MIN2, RULE, AshaState())
    assert stopped(stops) == ["d"]
    assert stops[0].rule == "moasha" and stops[0].step == 1 and stops[0].value == 3  # all three ahead of it
    assert stops[0].threshold == 2  # ceil(4 / 2) may be ahead... at most this many continue past it
    # an extreme point of the front always continues (crowding distance: infinity)
    assert moasha_stops(histories, ["a"], MIN2, RULE, AshaState()) == []
    assert moasha_stops(histories, ["c"], MIN2, RULE, AshaState()) == []


def test_inside_the_front_the_crowded_point_gives_way_to_the_sparse_ones():
    # five points all on the front; with eta 4, ceil(5/4) = 2 continue: the two extremes
    front = {"a": vectors((0.0, 1.0)), "b": vectors((0.5, 0.5)), "c": vectors((0.51, 0.49)),
             "d": vectors((0.52, 0.48)), "e": vectors((1.0, 0.0))}
    rule = AshaRule(1, 4)
    assert stopped(moasha_stops(front, ["c"], MIN2, rule, AshaState())) == ["c"]
    assert moasha_stops(front, ["a"], MIN2, rule, AshaState()) == []


def test_the_first_to_reach_a_rung_continues_and_a_rung_is_judged_once():
    state = AshaState()
    assert moasha_stops({"a": vectors((9, 9))}, ["a"], MIN2, RULE, state) == []  # nobody else at the rung
    histories = {"a": vectors((9, 9)), "b": vectors((1, 1))}
    assert moasha_stops(histories, ["a"], MIN2, RULE, state) == []  # judged at rung 1 already
    assert stopped(moasha_stops(histories, ["b"], MIN2, RULE, state)) == []  # b dominates a: it continues


def test_a_trial_is_judged_at_the_highest_rung_it_reached_by_its_values_there():
    # rungs 1, 2, 4: x is good at step 1 but dominated by the others at step 4
    histories = {"x": vectors((0.1, 1), (0.1, 1), (0.1, 1), (0.9, 9)),
                 "y": vectors((0.5, 5), (0.4, 4), (0.3, 3), (0.2, 2)),
                 "z": vectors((0.6, 6), (0.5, 5), (0.4, 4), (0.3, 3))}
    stops = moasha_stops(histories, ["x"], MIN2, RULE, AshaState())
    assert stopped(stops) == ["x"] and stops[0].step == 4


def test_modes_turn_a_max_objective_around():
    histories = {"a": vectors((0.9, 30)), "b": vectors((0.8, 20)), "c": vectors((0.7, 40))}  # (acc, latency)
    assert stopped(moasha_stops(histories, ["a", "b", "c"], ("max", "min"), RULE, AshaState())) == ["c"]
    # turned around, c dominates both others: with eta 3 only one of three continues
    assert stopped(moasha_stops(histories, ["a", "b", "c"], ("min", "max"), AshaRule(1, 3), AshaState())) == ["a", "b"]


def test_a_diverged_trial_is_behind_every_other_and_another_ones_nan_does_not_count():
    nan = math.nan
    histories = {"a": vectors((0.2, 20)), "b": vectors((nan, 1)), "c": vectors((0.3, nan))}
    assert stopped(moasha_stops(histories, ["b"], MIN2, RULE, AshaState())) == ["b"]
    # a is judged only against the finite vectors: none but its own, so it continues
    assert moasha_stops(histories, ["a"], MIN2, RULE, AshaState()) == []


def test_max_t_stops_a_trial_that_used_its_budget():
    histories = {"a": vectors((1, 1), (1, 1), (1, 1))}
    stops = moasha_stops(histories, ["a"], MIN2, AshaRule(1, 2, max_t=3), AshaState())
    assert stops[0].rule == "moasha:max_t"


def test_with_one_objective_the_order_is_ashas():
    histories = {"a": [(1, 0.1)], "b": [(1, 0.2)], "c": [(1, 0.3)], "d": [(1, 0.4)]}
    one = {t: [(s, (v,)) for s, v in h] for t, h in histories.items()}
    for trial in histories:
        assert stopped(moasha_stops(one, [trial], ("min",), RULE, AshaState())) == \
            stopped(asha_stops(histories, [trial], "min", RULE, AshaState()))


def test_asha_with_several_metrics_is_moasha_and_one_metric_rules_refuse_several():
    assert objectives_stop(check_stop("asha"), 2).rule == "moasha"
    assert objectives_stop(check_stop("moasha"), 1).rule == "asha"
    assert objectives_stop(check_stop("moasha"), 3).rule == "moasha"
    # hyperband (pause and promote) ranks trials at a rung by one metric too
    for rule, options in (("median", {}), ("wandb-hyperband", {}), ("hyperband", {"max_t": 27})):
        with pytest.raises(ConfigError, match=f"--stop {rule} judges one metric, and this sweep has 2"):
            objectives_stop(check_stop(rule, **options), 2)
