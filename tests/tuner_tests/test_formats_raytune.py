"""Ray Tune search spaces in `tuning_run(flags=...)`, read from the objects' attributes without importing Ray."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tuner.errors import GridError
from tuner.formats import convert_mapping
from tuner.search.space import search_space

tune = pytest.importorskip("ray.tune")


@pytest.mark.parametrize("make, expected", [
    (lambda: tune.uniform(0, 1), {"uniform": [0, 1]}),
    (lambda: tune.quniform(0, 1, 0.1), {"uniform": [0, 1], "q": 0.1}),
    (lambda: tune.loguniform(1e-4, 1e-1), {"loguniform": [1e-4, 1e-1]}),
    (lambda: tune.qloguniform(1e-4, 1e-1, 5e-5), {"loguniform": [1e-4, 1e-1], "q": 5e-5}),
    (lambda: tune.randn(0, 2), {"normal": [0, 2]}),
    (lambda: tune.qrandn(1, 2, 0.5), {"normal": [1, 2], "q": 0.5}),
    (lambda: tune.randint(1, 10), {"randint": [1, 10]}),
    (lambda: tune.qrandint(0, 100, 10), {"randint": [0, 100], "q": 10}),
    (lambda: tune.lograndint(1, 1000), {"lograndint": [1, 1000]}),
    (lambda: tune.qlograndint(1, 1000, 5), {"lograndint": [1, 1000], "q": 5}),
    (lambda: tune.choice([64, 128, "auto"]), {"choice": [64, 128, "auto"]}),
    (lambda: tune.grid_search([1, 2, 3]), [1, 2, 3]),
])
def test_each_ray_tune_domain_becomes_tunes_own(make, expected):
    converted = convert_mapping({"x": make(), "plain": [1, 2]}, "flags")
    assert converted == {"x": expected, "plain": [1, 2]}
    search_space(converted, 3, seed=0).combination(2)


def test_a_randn_draw_is_normal():
    space = search_space(convert_mapping({"x": tune.randn(5, 1)}, "flags"), 2000, seed=0)
    values = [space.combination(i)["x"] for i in range(2000)]
    assert abs(sum(values) / 2000 - 5) < 0.1 and min(values) < 3 < 7 < max(values)


def test_sample_from_is_refused_with_the_reason():
    with pytest.raises(GridError, match="sample_from.*a sweep's plan is data"):
        convert_mapping({"x": tune.sample_from(lambda spec: 1)}, "flags")


def test_a_dict_without_ray_objects_is_left_alone():
    assert convert_mapping({"x": [1, 2], "y": {"uniform": [0, 1]}}, "flags") is None


def test_tuning_run_plans_a_ray_tune_param_space_and_searches_it_with_tpe(workdir, write_script):
    from tuner.sweep.prepare import prepare_sweep

    write_script("train.py", "import argparse\np = argparse.ArgumentParser()\np.add_argument('--lr', type=float)\n"
                 "p.add_argument('--units', type=int)\np.add_argument('--init', type=float)\np.parse_args()\n")
    request = prepare_sweep("train.py", {"lr": tune.loguniform(1e-4, 1e-1), "units": tune.choice([64, 128]),
                                         "init": tune.randn(0, 0.02)}, num_samples=4, search="tpe", metric="loss")
    space = request.plan.grid
    assert request.search == "tpe" and space.size == 4
    assert {n: d.kind for n, d in space.distributions} == {"lr": "float", "units": "choice", "init": "normal"}


def test_the_conversion_never_imports_ray():
    code = ("import sys, tuner.formats, tuner.formats.raytune as r\n"
            "class Float: pass\nFloat.__module__ = 'ray.tune.search.sample'\n"
            "assert r.is_ray_domain(Float()) and 'ray' not in sys.modules, sorted(m for m in sys.modules if 'ray' in m)\n")
    subprocess.run([sys.executable, "-c", code], check=True)
