"""Pareto fronts, hypervolume and the multi-objective ranking (tuner.search.pareto, tuner.runs.ranking): pure
functions of numbers and rows, checked against brute force."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuner.errors import QueryError
from tuner.runs.ranking import (
    Constraint,
    RankingChoice,
    check_objectives,
    choose_objectives,
    parse_constraint,
    sweep_objectives,
    sweep_ranking,
)
from tuner.search.pareto import (
    crowding_distance,
    dominates,
    front_view,
    hypervolume,
    hypervolume_history,
    nondominated,
    nondominated_ranks,
    reference_point,
)


def brute_front(costs):
    """The definition, O(n^2): a point is on the front when no other point dominates it."""
    return [i for i, p in enumerate(costs) if not any(dominates(q, p) for j, q in enumerate(costs) if j != i)]


# small integers: many ties and exact copies, where a sort-based filter goes wrong first
points = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=40)
points3 = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 4)), max_size=30)


@given(points)
@settings(max_examples=300, deadline=None)
def test_the_two_objective_front_is_the_brute_force_non_dominated_filter(costs):
    assert nondominated(costs) == brute_front(costs)


@given(points3)
@settings(max_examples=200, deadline=None)
def test_the_front_of_three_objectives_is_the_brute_force_filter(costs):
    assert nondominated(costs) == brute_front(costs)


def test_equal_points_are_both_on_the_front_and_one_objective_keeps_the_ties():
    assert nondominated([(1, 1), (1, 1), (2, 0), (2, 2)]) == [0, 1, 2]
    assert nondominated([(3,), (1,), (1,), (2,)]) == [1, 2]


@given(points)
@settings(max_examples=100, deadline=None)
def test_non_dominated_ranks_peel_fronts_in_order(costs):
    ranks = nondominated_ranks(costs)
    for level in range(max(ranks, default=-1) + 1):
        members = [i for i, r in enumerate(ranks) if r == level]
        rest = [i for i, r in enumerate(ranks) if r >= level]
        assert members == [rest[j] for j in brute_front([costs[i] for i in rest])]


def test_crowding_distance_puts_the_extremes_first_and_sparse_points_before_crowded_ones():
    front = [(0.0, 1.0), (0.1, 0.9), (0.12, 0.88), (0.6, 0.4), (1.0, 0.0)]
    distance = crowding_distance(front)
    assert distance[0] == distance[4] == math.inf
    assert distance[3] > distance[1] and distance[3] > distance[2]  # (0.6, 0.4) sits in the empty middle


def brute_hypervolume(costs, reference):
    """The volume by inclusion-exclusion over the boxes each point dominates (exact, exponential: small sets)."""
    boxes = [c for c in costs if all(x < r for x, r in zip(c, reference))]
    total = 0.0
    for k in range(1, len(boxes) + 1):
        for subset in itertools.combinations(boxes, k):
            corner = [max(p[d] for p in subset) for d in range(len(reference))]
            total += (-1) ** (k + 1) * math.prod(r - c for r, c in zip(reference, corner))
    return total


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), max_size=9))
@settings(max_examples=200, deadline=None)
def test_hypervolume_in_two_dimensions_is_the_union_of_the_dominated_boxes(costs):
    assert hypervolume(costs, (1.1, 1.2)) == pytest.approx(brute_hypervolume(costs, (1.1, 1.2)), abs=1e-9)


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)), max_size=7))
@settings(max_examples=100, deadline=None)
def test_hypervolume_in_three_dimensions_is_the_union_of_the_dominated_boxes(costs):
    assert hypervolume(costs, (1, 1, 1)) == pytest.approx(brute_hypervolume(costs, (1, 1, 1)), abs=1e-9)


def test_hypervolume_of_known_fronts_and_points_past_the_reference():
    assert hypervolume([(1, 2), (2, 1)], (3, 3)) == 3.0  # the value Optuna's compute_hypervolume gives
    assert hypervolume([(0.5, 0.5, 0.5)], (1, 1, 1)) == pytest.approx(0.125)
    assert hypervolume([(4, 0), (0, 4)], (3, 3)) == 0.0  # neither is better than the reference on both


def test_hypervolume_history_grows_only_when_the_front_does():
    costs = [(2, 2), None, (3, 3), (1, 3), (1, 1)]
    history = hypervolume_history(costs, (4, 4))
    assert history == [hypervolume([c for c in costs[:k + 1] if c is not None], (4, 4)) for k in range(5)]
    assert history == [4.0, 4.0, 4.0, 5.0, 9.0]


def test_the_reference_point_is_the_worst_value_pushed_out_by_a_tenth_of_the_range():
    assert reference_point([(0, 10), (1, 20)]) == pytest.approx((1.1, 21.0))
    assert reference_point([(5, 0), (5, 0)]) == pytest.approx((5.5, 1.0))  # no range: a tenth of the value, or 1


# -- the multi-objective ranking over rows

ROWS = [
    {"run_dir": "runs/a", "status": "finished", "metric_loss": 0.1, "metric_latency_ms": 50, "metric_memory_mb": 900},
    {"run_dir": "runs/b", "status": "finished", "metric_loss": 0.2, "metric_latency_ms": 20, "metric_memory_mb": 300},
    {"run_dir": "runs/c", "status": "finished", "metric_loss": 0.3, "metric_latency_ms": 10, "metric_memory_mb": 100},
    {"run_dir": "runs/d", "status": "finished", "metric_loss": 0.3, "metric_latency_ms": 30, "metric_memory_mb": 100},
    {"run_dir": "runs/e", "status": "stopped", "metric_loss": 0.05, "metric_latency_ms": 5, "metric_memory_mb": 100},
    {"run_dir": "runs/f", "status": "failed", "metric_loss": 0.01, "metric_latency_ms": 1, "metric_memory_mb": 1},
    {"run_dir": "runs/g", "status": "finished", "metric_loss": float("nan"), "metric_latency_ms": 1},
    {"run_dir": "runs/h", "status": "finished", "metric_loss": 0.4, "metric_latency_ms": 2},  # no memory_mb
]
COLUMNS = sorted({c for row in ROWS for c in row})


def test_the_front_holds_only_finished_runs_with_every_metric_and_equals_the_brute_force_filter():
    objectives = choose_objectives(COLUMNS, ["loss", "latency_ms"])
    assert objectives.modes == ["min", "min"]  # both by name
    assert [ROWS[i]["run_dir"] for i in objectives.front(ROWS)] == ["runs/a", "runs/b", "runs/c", "runs/h"]
    finished = objectives.candidates(ROWS)
    assert objectives.front(ROWS) == [finished[j] for j in brute_front([objectives.costs(ROWS[i]) for i in finished])]


def test_a_constraint_keeps_runs_that_break_it_or_lack_its_metric_off_the_front():
    objectives = choose_objectives(COLUMNS, ["loss", "latency_ms"], constraints=["memory_mb <= 500"])
    assert [ROWS[i]["run_dir"] for i in objectives.front(ROWS)] == ["runs/b", "runs/c"]
    assert not objectives.feasible(ROWS[0]) and not objectives.feasible(ROWS[7])


def test_a_max_metric_is_negated_in_the_costs():
    rows = [{"status": "finished", "metric_acc": 0.9, "metric_latency_ms": 30},
            {"status": "finished", "metric_acc": 0.8, "metric_latency_ms": 10},
            {"status": "finished", "metric_acc": 0.7, "metric_latency_ms": 20}]
    objectives = choose_objectives(["metric_acc", "metric_latency_ms"], ["acc", "latency_ms"])
    assert objectives.modes == ["max", "min"] and objectives.costs(rows[0]) == (-0.9, 30)
    assert objectives.front(rows) == [0, 1]
    flipped = choose_objectives(["metric_acc", "metric_latency_ms"], ["acc", "latency_ms"], ["min", "max"])
    assert flipped.front(rows) == [0, 2]


@pytest.mark.parametrize("text, expected", [
    ("memory_mb <= 512", Constraint("memory_mb", "<=", 512.0, "memory_mb <= 512")),
    ("metrics.memory_mb < 512", Constraint("memory_mb", "<=", 512.0, "metrics.memory_mb < 512")),
    ("512 >= memory_mb", Constraint("memory_mb", "<=", 512.0, "512 >= memory_mb")),
    ("eval_acc >= 0.9", Constraint("acc", ">=", 0.9, "eval_acc >= 0.9")),
    ("score > -1.5", Constraint("score", ">=", -1.5, "score > -1.5")),
])
def test_constraints_parse_as_one_comparison_of_a_metric_with_a_number(text, expected):
    assert parse_constraint(text) == expected


@pytest.mark.parametrize("text, says", [
    ("memory_mb == 512", "not one comparison"),
    ("memory_mb <= 512 and loss < 1", "not one comparison"),
    ("memory_mb <= other_metric", "not one comparison"),
    ("params.lr <= 0.1", "'params.lr' is not a metric"),
    ("status <= 1", "'status' is not a metric"),
    ("memory_mb <= 'big'", "the bound must be a finite number"),
    ("__import__('os').system('id') <= 1", "does not parse"),
    ("", "expected a comparison"),
])
def test_anything_else_is_one_line_and_never_runs_as_code(text, says):
    with pytest.raises(QueryError, match=says) as info:
        parse_constraint(text)
    assert "\n" not in str(info.value)


def test_constraint_violations_are_optunas_convention():
    kept, broken = {"metric_memory_mb": 300}, {"metric_memory_mb": 700}
    upper = parse_constraint("memory_mb <= 512")
    assert upper.violation(kept) == -212 and upper.violation(broken) == 188 and upper.violation({}) == math.inf
    lower = parse_constraint("memory_mb >= 512")
    assert lower.violation(kept) == 212 and lower.holds(broken)


def test_mismatched_metric_and_mode_counts_are_one_line():
    with pytest.raises(QueryError, match=r"2 metrics \(loss, latency_ms\) but 1 mode \(min\): give one --mode per "
                                         r"--metric"):
        check_objectives(["loss", "latency_ms"], ["min"])
    with pytest.raises(QueryError, match="'loss' is named twice"):
        check_objectives(["loss", "loss"])
    assert check_objectives(["loss", "acc"]) == (("loss", "acc"), ("min", "max"))


def test_a_multi_objective_sweep_has_no_single_ranking_unless_one_metric_is_asked():
    choice = RankingChoice.of_header({"metric": ["loss", "latency_ms"], "mode": ["min", "max"],
                                      "constraints": ["memory_mb <= 500"]})
    assert choice.multi and choice.metric is None and choice.modes == ("min", "max")
    assert sweep_ranking(COLUMNS, choice) is None
    objectives = sweep_objectives(COLUMNS, choice)
    assert objectives is not None and objectives.modes == ["min", "max"]
    assert [c.text for c in objectives.constraints] == ["memory_mb <= 500"]
    asked = sweep_ranking(COLUMNS, choice, metric="latency_ms")  # its recorded mode, the sweep's constraints
    assert asked is not None and asked.mode == "max" and len(asked.constraints) == 1
    assert sweep_objectives(["metric_loss"], choice) is None  # a recorded metric no run has: no front
    assert sweep_objectives(COLUMNS, RankingChoice("loss", "min")) is None  # one metric: ranked, not a front


def test_a_single_metric_sweep_with_a_constraint_never_names_an_infeasible_best():
    choice = RankingChoice.of_header({"metric": "loss", "mode": "min", "constraints": ["memory_mb <= 500"]})
    ranking = sweep_ranking(COLUMNS, choice)
    assert ranking is not None and ROWS[ranking.best(ROWS)]["run_dir"] == "runs/b"  # not a (0.1, but 900 MB)


def test_front_view_is_the_front_and_hypervolume_a_page_draws():
    objectives = choose_objectives(COLUMNS, ["loss", "latency_ms"])
    view = front_view(ROWS, objectives)
    assert view["front"] == objectives.front(ROWS)
    assert view["values"][0] == (0.1, 50.0) and view["values"][6] is None  # NaN: no value
    costs = [objectives.costs(r) for i, r in enumerate(ROWS) if i in objectives.candidates(ROWS)]
    assert view["reference"] == pytest.approx(reference_point(costs))
    assert view["hypervolume"][-1] == pytest.approx(hypervolume(costs, view["reference"]))
    assert view["hypervolume"] == sorted(view["hypervolume"])  # never shrinks


def test_a_random_cloud_gets_the_same_front_from_the_ranking_as_by_brute_force():
    rng = random.Random(7)
    rows = [{"status": rng.choice(["finished", "finished", "stopped"]), "metric_a": rng.random(),
             "metric_b": rng.random(), "metric_c": rng.random()} for _ in range(300)]
    objectives = choose_objectives(["metric_a", "metric_b", "metric_c"], ["a", "b", "c"], ["min", "max", "min"])
    finished = [i for i, r in enumerate(rows) if r["status"] == "finished"]
    costs = [(rows[i]["metric_a"], -rows[i]["metric_b"], rows[i]["metric_c"]) for i in finished]
    assert objectives.front(rows) == [finished[j] for j in brute_front(costs)]


def test_the_live_best_so_far_skips_a_run_that_breaks_a_constraint(capsys):
    from tuner.sweep.progress import SweepProgress

    progress = SweepProgress(3, "loss", "min")
    progress.trial_done("a", "finished", 1.0, 0.5)
    progress.trial_done("b", "finished", 1.0, 0.1, feasible=False)  # better, but 900 MB over a 500 MB bound
    assert (progress.best, progress.best_run) == (0.5, "a")
    # through the channel's renderer (tuner.console.echo)
    assert "b in 1.0s loss=0.1 (breaks a constraint) | best loss 0.5 (a)" in capsys.readouterr().out
