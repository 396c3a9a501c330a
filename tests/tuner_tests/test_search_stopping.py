"""Early-stopping rules on hand-made metric histories."""

from __future__ import annotations

import math

from tuner.search.stopping import AshaRule, AshaState, MedianRule, asha_stops, median_stops


def curve(*values, start=1):
    return [(start + i, v) for i, v in enumerate(values)]


def stopped(stops):
    return sorted(s.trial for s in stops)


def test_median_stops_a_trial_worse_than_the_median_of_running_averages():
    histories = {"a": curve(1.0, 0.8, 0.6), "b": curve(1.0, 0.7, 0.5), "c": curve(0.9, 0.7, 0.6),
                 "slow": curve(2.0, 1.9, 1.8)}
    assert stopped(median_stops(histories, ["slow", "a"], "min", MedianRule(grace_period=1, min_trials=3))) == ["slow"]
    stop = median_stops(histories, ["slow"], "min", MedianRule(1, 3))[0]
    assert stop.step == 3 and stop.value == 1.8 and abs(stop.threshold - 2.2 / 3) < 1e-9  # median of averages 0.8, 0.733, 0.733


def test_median_mode_max_is_the_mirror():
    histories = {"a": curve(0.5, 0.6), "b": curve(0.5, 0.7), "c": curve(0.4, 0.6), "low": curve(0.1, 0.2)}
    assert stopped(median_stops(histories, ["low", "b"], "max", MedianRule(1, 3))) == ["low"]


def test_median_waits_for_the_grace_period_and_enough_other_trials():
    histories = {"a": curve(1.0, 0.8), "b": curve(1.0, 0.7), "slow": curve(2.0, 1.9)}
    assert median_stops(histories, ["slow"], "min", MedianRule(grace_period=1, min_trials=3)) == []
    histories["c"] = curve(1.0, 0.7)
    assert median_stops(histories, ["slow"], "min", MedianRule(grace_period=3, min_trials=3)) == []
    assert stopped(median_stops(histories, ["slow"], "min", MedianRule(grace_period=2, min_trials=3))) == ["slow"]


def test_median_only_compares_with_trials_that_reached_the_step():
    # the others stopped printing at step 2; the trial at step 5 has no peers there
    histories = {"a": curve(1.0, 0.8), "b": curve(1.0, 0.7), "c": curve(1.0, 0.7), "late": curve(3, 3, 3, 3, 3)}
    assert median_stops(histories, ["late"], "min", MedianRule(1, 3)) == []


def test_median_uses_the_best_so_far_and_a_tie_continues():
    histories = {"a": curve(1.0, 1.0), "b": curve(1.0, 1.0), "c": curve(1.0, 1.0), "x": curve(1.0, 5.0)}
    assert median_stops(histories, ["x"], "min", MedianRule(1, 3)) == []


def test_median_ignores_nan_in_others_and_stops_an_all_nan_trial():
    nan = math.nan
    histories = {"a": curve(1.0, nan), "b": curve(1.0, 0.9), "c": curve(1.0, 0.9), "d": curve(nan, nan)}
    assert stopped(median_stops(histories, ["a", "d"], "min", MedianRule(1, 3))) == ["d"]


def test_asha_rungs_and_max_t():
    assert AshaRule(grace_period=1, reduction_factor=3, max_t=30).rungs(100) == [1, 3, 9, 27]
    assert AshaRule(grace_period=2, reduction_factor=2, max_t=16).rungs(10) == [2, 4, 8]


def test_asha_keeps_the_top_third_at_a_rung_first_arrival_continues():
    rule, state = AshaRule(grace_period=1, reduction_factor=3), AshaState()
    assert asha_stops({"a": curve(0.5)}, ["a"], "min", rule, state) == []  # alone at the rung
    histories = {"a": curve(0.5), "b": curve(0.4), "c": curve(0.3), "d": curve(0.9)}
    # cutoff for d = 66.7th percentile of scores of a, b, c (in min mode: better = smaller)
    assert stopped(asha_stops(histories, ["b", "c", "d"], "min", rule, state)) == ["d"]
    # judged once per rung: a poll later does not judge c again at rung 1
    assert asha_stops(histories, ["c"], "min", rule, state) == []


def test_asha_judges_a_trial_at_the_highest_rung_it_jumped_to_with_its_value_there():
    rule, state = AshaRule(grace_period=1, reduction_factor=3), AshaState()
    histories = {"a": curve(5, 4, 1.0), "b": curve(5, 4, 1.1), "c": curve(5, 4, 0.9), "x": curve(0.1, 0.1, 2.0, 0.0)}
    stops = asha_stops(histories, ["x"], "min", rule, state)
    assert stopped(stops) == ["x"] and stops[0].step == 3 and stops[0].value == 2.0
    assert state.judged["x"] == 3


def test_asha_tie_with_the_cutoff_continues_and_nan_is_worst():
    rule = AshaRule(grace_period=1, reduction_factor=2)
    histories = {"a": curve(1.0), "b": curve(1.0), "t": curve(1.0), "n": curve(math.nan)}
    assert stopped(asha_stops(histories, ["t", "n"], "max", rule, AshaState())) == ["n"]


def test_asha_stops_a_trial_that_reached_max_t():
    rule = AshaRule(grace_period=1, reduction_factor=3, max_t=4)
    stops = asha_stops({"a": curve(1, 2, 3, 4)}, ["a"], "max", rule, AshaState())
    assert stopped(stops) == ["a"] and stops[0].rule == "asha:max_t"


def test_only_running_trials_are_stopped():
    histories = {"a": curve(0.5), "b": curve(0.4), "c": curve(0.3), "d": curve(0.9)}
    assert asha_stops(histories, [], "min", AshaRule(1, 3), AshaState()) == []
    assert median_stops(histories, [], "min") == []


def test_stop_options_are_validated_in_one_message():
    import pytest

    from tuner.errors import ConfigError
    from tuner.search.driver import check_stop

    assert check_stop(None) is None
    assert check_stop("asha", grace_period=2, reduction_factor=2).reduction_factor == 2
    with pytest.raises(ConfigError, match="unknown rule 'pbt', expected one of median, asha, hyperband, moasha,"
                       " wandb-hyperband"):
        check_stop("pbt")
    with pytest.raises(ConfigError) as caught:
        check_stop("asha", grace_period=0, reduction_factor=1, min_trials=-1)
    message = str(caught.value)
    assert "--grace-period must be a number > 0" in message and "--reduction-factor must be a number > 1" in message
    assert "--min-trials must be a whole number >= 0" in message
    with pytest.raises(ConfigError, match="add --stop median, asha or hyperband"):
        check_stop(None, grace_period=3)


def test_adaptive_search_and_stopping_need_a_space_and_a_metric():
    import pytest

    from tuner.errors import ConfigError
    from tuner.plan import ProductGrid
    from tuner.search.driver import check_search, check_stop

    with pytest.raises(ConfigError) as caught:
        check_search("tpe", ProductGrid(("a",), ((1, 2),)), check_stop("median"), None, True)
    message = str(caught.value)
    for words in ("needs a search space", "add --metric", "--skip-done does not apply", "--stop median judges"):
        assert words in message
