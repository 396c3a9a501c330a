"""Search spaces: distributions mixed with grid lists, validated before launch, reproducible draws."""

from __future__ import annotations

import math

import pytest

from tuner.errors import GridError
from tuner.search.space import parse_distribution, search_space, space_from_source

SPACE = {
    "lr": {"loguniform": [1e-5, 1e-1]},
    "dropout": {"uniform": [0.0, 0.5], "q": 0.1},
    "units": {"randint": [32, 35]},
    "act": {"choice": ["relu", "tanh"]},
    "optimizer": ["adam", "sgd"],
}


def test_grid_lists_are_crossed_with_num_samples_draws_per_point():
    space = search_space(SPACE, num_samples=5, seed=1)
    assert space.size == 10
    combos = [space.combination(i) for i in range(space.size)]
    assert [c["optimizer"] for c in combos] == ["adam", "sgd"] * 5
    assert list(combos[0]) == ["lr", "dropout", "units", "act", "optimizer"]


def test_draws_stay_in_bounds_respect_q_and_hi_is_exclusive_for_randint():
    space = search_space(SPACE, num_samples=400, seed=3)
    combos = [space.combination(i) for i in range(space.size)]
    assert all(1e-5 <= c["lr"] < 1e-1 for c in combos)
    assert {c["units"] for c in combos} == {32, 33, 34}
    assert all(isinstance(c["units"], int) for c in combos)
    assert {c["dropout"] for c in combos} <= {0.0, 0.1, 0.2, 0.3, 0.4, 0.5}
    assert {c["act"] for c in combos} == {"relu", "tanh"}
    # log-uniform: about as many draws per decade
    decades = [math.floor(math.log10(c["lr"])) for c in combos]
    assert min(decades.count(d) for d in range(-5, -1)) > 100


def test_same_seed_same_trials_any_order_and_other_seed_differs():
    a = search_space(SPACE, num_samples=4, seed=7)
    b = search_space(SPACE, num_samples=4, seed=7)
    assert [a.combination(i) for i in range(8)] == [b.combination(i) for i in reversed(range(8))][::-1]
    assert a.combination(5) == b.combination(5)
    c = search_space(SPACE, num_samples=4, seed=8)
    assert [a.combination(i)["lr"] for i in range(8)] != [c.combination(i)["lr"] for i in range(8)]


def test_the_space_round_trips_through_its_journal_source():
    space = search_space(SPACE, num_samples=3, seed=11)
    again = space_from_source(space.to_source())
    assert [again.combination(i) for i in range(6)] == [space.combination(i) for i in range(6)]


def test_ray_tune_names_with_q_in_the_list():
    dist = parse_distribution("x", {"quniform": [0, 1, 0.25]})
    assert dist.q == 0.25 and not dist.log
    assert parse_distribution("n", {"qrandint": [0, 100, 10]}).q == 10
    assert parse_distribution("n", {"lograndint": [1, 1000]}).log


@pytest.mark.parametrize("spec, words", [
    ({"uniform": [1, 0]}, "lo < hi"),
    ({"randint": [5, 5]}, "hi is exclusive"),
    ({"loguniform": [0, 1]}, "lo > 0"),
    ({"loguniform": [-1, 1]}, "cannot include 0 or negatives"),
    ({"uniform": [0, 1], "q": 0}, "q must be a positive number"),
    ({"uniform": [0, 1], "q": -0.1}, "q must be a positive number"),
    ({"choice": []}, "non-empty list"),
    ({"uniform": ["a", 1]}, "must be numbers"),
    ({"randint": [0.5, 3]}, "must be integers"),
    ({"uniform": [0, 1, 2]}, "takes [lo, hi]"),
    ({"gaussian": [0, 1]}, "names no distribution"),
    ({"quniform": [0, 1, 0.1], "q": 0.1}, "q is given twice"),
])
def test_each_bad_distribution_is_one_line_naming_the_flag(spec, words):
    with pytest.raises(GridError) as caught:
        search_space({"x": spec}, where="grid.yml")
    message = str(caught.value)
    assert words in message and "flag 'x'" in message and message.startswith("grid.yml:")
    assert "\n" not in message


def test_all_problems_are_reported_at_once():
    with pytest.raises(GridError) as caught:
        search_space({"a": {"uniform": [1, 0]}, "b": {"choice": []}, "c": []}, num_samples=0)
    message = str(caught.value)
    for words in ("num_samples", "flag 'a'", "flag 'b'", "flag 'c'"):
        assert words in message
