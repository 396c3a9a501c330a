"""Planning a sweep: grid sources, sampling, seeds, validation. Pure data in, data out: no Ray."""

from __future__ import annotations

import math
import time
import tracemalloc

import pandas as pd
import pytest

from tuner.errors import GridError
from tuner.flagsfile import read_flags_file
from tuner.plan import (
    ProductGrid,
    check_sample,
    grid_from_source,
    load_grid,
    make_plan,
)


def test_product_grid_first_flag_varies_fastest_like_expand_grid():
    grid = load_grid({"a": [1, 2], "b": ["x", "y", "z"]})
    assert grid.size == 6
    combos = [grid.combination(i) for i in range(6)]
    assert combos[:3] == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}, {"a": 1, "b": "y"}]
    assert len({tuple(c.items()) for c in combos}) == 6


def test_scalar_means_one_value_and_cli_overrides_replace_values():
    grid = load_grid({"a": 1, "b": [1, 2]}, {"b": [5, 6, 7], "c": ["q"]})
    assert grid.size == 3
    assert grid.combination(2) == {"a": 1, "b": 7, "c": "q"}


@pytest.mark.parametrize("sample, expected", [(1e-6, 1), (1, 4), (0.5, 2), (0.26, 2), (0.25, 1)])
def test_sample_keeps_ceil_of_fraction_at_least_one(sample, expected):
    plan = make_plan(load_grid({"a": [1, 2], "b": [3, 4]}), sample, seed=1)
    assert len(plan.indices) == expected
    assert len(set(plan.indices)) == expected


@pytest.mark.parametrize("bad", [0, 1.1, 1.5, -1, "abc", float("nan"), True])
def test_bad_sample_is_rejected_with_the_value(bad):
    with pytest.raises(GridError, match=r"sample must be a number in \(0, 1\]"):
        check_sample(bad)


def test_seed_reproduces_the_sample_and_is_recorded():
    grid = load_grid({"a": list(range(50)), "b": list(range(20))})
    first = make_plan(grid, 0.1, seed=42)
    assert first.indices == make_plan(grid, 0.1, seed=42).indices
    assert first.indices != make_plan(grid, 0.1, seed=43).indices
    unseeded = make_plan(grid, 0.1)
    assert isinstance(unseeded.seed, int)
    assert make_plan(grid, 0.1, seed=unseeded.seed).indices == unseeded.indices


def test_sampling_a_ten_billion_grid_never_materialises_it():
    grid = load_grid({f"f{i}": list(range(10)) for i in range(10)})
    assert grid.size == 10**10
    tracemalloc.start()
    started = time.perf_counter()
    plan = make_plan(grid, 1e-7, seed=3)
    combos = plan.combinations()
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(combos) == 1000 and len(set(plan.indices)) == 1000
    assert elapsed < 1.0
    assert peak < 5_000_000  # bytes: proportional to the sample, not the grid


def test_mixed_radix_decoding_is_a_bijection():
    grid = ProductGrid(("a", "b", "c"), ((1, 2), ("x", "y", "z"), (True, False)))
    seen = {tuple(grid.combination(i).values()) for i in range(grid.size)}
    assert len(seen) == 12


def test_dataframe_rows_are_used_as_given_not_expanded():
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "x"]})
    grid = load_grid(frame)
    assert grid.size == 3
    assert [grid.combination(i) for i in range(3)] == frame.to_dict("records")


def test_csv_grid(tmp_path):
    path = tmp_path / "grid.csv"
    pd.DataFrame({"lr": [0.1, 0.01], "units": [64, 128]}).to_csv(path, index=False)
    grid = load_grid(str(path))
    assert grid.combination(1) == {"lr": 0.01, "units": 128}


def test_dataframe_with_nan_and_unnamed_columns_reports_every_problem():
    frame = pd.DataFrame({"a": [1, None], "Unnamed: 0": [0, 1], "b": [None, 2]})
    with pytest.raises(GridError) as error:
        load_grid(frame)
    message = str(error.value)
    assert "column 'a' has missing values (NaN) in rows [1]" in message
    assert "column 'b' has missing values" in message
    assert "Unnamed: 0" in message


def test_grid_problems_are_reported_at_once():
    with pytest.raises(GridError) as error:
        load_grid({"a": [], "b": [[1, 2]], "c": [{"x": 1}], "ok": [1]})
    message = str(error.value)
    assert "flag 'a' has no values" in message
    assert "flag 'b' has a non-scalar value" in message
    assert "flag 'c' has a non-scalar value" in message


def test_empty_grid_is_rejected():
    with pytest.raises(GridError, match="grid is empty"):
        load_grid({})


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "grid.yml"
    path.write_text("a: [1, 2]\nb: [3, 4\nc: 5\n")
    with pytest.raises(GridError, match=r"YAML syntax error at line \d+"):
        read_flags_file(str(path))


def test_duplicate_keys_are_an_error_not_silently_the_last(tmp_path):
    path = tmp_path / "grid.yml"
    path.write_text("lr: [0.1]\nunits: [1]\nlr: [0.2]\n")
    with pytest.raises(GridError, match="line 3: duplicate key 'lr' \\(first on line 1\\)"):
        read_flags_file(str(path))


def test_grid_file_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "grid.yml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(GridError, match="expected a mapping of flag"):
        read_flags_file(str(path))


def test_python_object_tags_are_rejected(tmp_path):
    path = tmp_path / "grid.yml"
    path.write_text("a: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(GridError, match="could not determine a constructor|YAML"):
        read_flags_file(str(path))


def test_grid_source_round_trips_through_the_journal_format():
    for grid in (load_grid({"a": [1, 2], "b": ["x"]}), load_grid(pd.DataFrame({"a": [1, 2]}))):
        again = grid_from_source(grid.to_source())
        assert [again.combination(i) for i in range(again.size)] == [grid.combination(i) for i in range(grid.size)]


def test_too_many_combinations_without_sample_asks_for_sample():
    grid = load_grid({f"f{i}": list(range(10)) for i in range(8)})
    with pytest.raises(GridError, match="use --sample"):
        make_plan(grid)
    assert math.isclose(len(make_plan(grid, 1e-5, seed=0).indices), 1000)


def test_exponent_notation_in_a_grid_file_is_a_number(tmp_path):
    path = tmp_path / "grid.yml"
    path.write_text("lr: [1e-3, 1.0e-4, 5e2]\nname: ['1e-3', x1e3]\n")
    grid = read_flags_file(str(path)).flags
    assert grid == {"lr": [0.001, 0.0001, 500.0], "name": ["1e-3", "x1e3"]}


def test_numpy_arrays_of_values_are_lists_of_plain_python_values() -> None:
    np = pytest.importorskip("numpy")
    grid = load_grid({"units": np.array([16, 32], dtype=np.int64), "lr": np.linspace(0.1, 0.2, 2)})
    assert grid.values == ((16, 32), (0.1, 0.2)) and all(type(v) in (int, float) for vs in grid.values for v in vs)
