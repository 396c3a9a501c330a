"""W&B sweep configurations as users write them (docs.wandb.ai sweep-config-keys, wandb/sweeps' schema.json and
its tests): one case per schema entry, default, inference rule and command macro, each read by tune."""

from __future__ import annotations

import json
import math
import os
import random
import sys

import pytest

from tuner.errors import GridError
from tuner.formats import wandb
from tuner.interface.template import parse_template, render_command
from tuner.search.space import search_space
from tuner.search.stopping import HyperbandRule, hyperband_bands, hyperband_stops


def convert(parameters, method="random", **top):
    return wandb.convert({"method": method, "parameters": parameters, **top}, "sweep.yaml")


def draws(flag_value, n=300):
    space = search_space({"x": flag_value}, n, seed=1)
    return [space.combination(i)["x"] for i in range(n)]


# -- parameters: every entry of W&B's parameter schema, its defaults and W&B's inference -------------------------

FORMS = [
    ({"value": 3}, [3]),
    ({"value": 3, "distribution": "constant"}, [3]),
    ({"values": [1, 2]}, {"choice": [1, 2]}),
    ({"values": ["a", "b"], "distribution": "categorical"}, {"choice": ["a", "b"]}),
    ({"values": ["a", "b"], "probabilities": [0.25, 0.75]}, {"choice": ["a", "b"], "weights": [0.25, 0.75]}),
    ({"min": 1, "max": 10}, {"randint": [1, 11]}),                       # integers -> int_uniform, max included
    ({"min": 1, "max": 10, "distribution": "int_uniform"}, {"randint": [1, 11]}),
    ({"min": 0.0, "max": 1}, {"uniform": [0.0, 1]}),                    # a real bound -> uniform
    ({"min": 0, "max": 1, "distribution": "uniform"}, {"uniform": [0, 1]}),
    ({"min": 0, "max": 10, "distribution": "q_uniform"}, {"uniform": [0, 10], "q": 1.0}),   # W&B's default q 1.0
    ({"min": 0, "max": 10, "q": 2, "distribution": "q_uniform"}, {"uniform": [0, 10], "q": 2, "as_int": True}),
    ({"min": 1e-4, "max": 0.1, "distribution": "log_uniform_values"}, {"loguniform": [1e-4, 0.1]}),
    ({"min": 1e-4, "max": 0.1, "distribution": "inv_log_uniform_values"}, {"loguniform": [1e-4, 0.1]}),
    ({"min": 1, "max": 100, "q": 5, "distribution": "q_log_uniform_values"},
     {"loguniform": [1, 100], "q": 5, "as_int": True}),
    ({"distribution": "normal"}, {"normal": [0.0, 1.0]}),                # W&B's defaults mu 0, sigma 1
    ({"distribution": "normal", "mu": 2, "sigma": 0.5}, {"normal": [2, 0.5]}),
    ({"distribution": "q_normal", "q": 0.5}, {"normal": [0, 1], "q": 0.5}),
    ({"distribution": "log_normal", "mu": 1}, {"lognormal": [1, 1.0]}),
    ({"distribution": "q_log_normal"}, {"lognormal": [0, 1], "q": 1.0}),
    ({"distribution": "beta"}, {"beta": [1, 1]}),                         # W&B's defaults a 1, b 1
    ({"distribution": "beta", "a": 2, "b": 5}, {"beta": [2, 5]}),
    ({"distribution": "q_beta", "q": 0.1}, {"beta": [1, 1], "q": 0.1}),
    # the q defaults (1.0, a float: the values stay floats) and the exponent forms' (test_schema.py's inference)
    ({"distribution": "q_beta"}, {"beta": [1, 1], "q": 1.0}),
    ({"distribution": "q_normal"}, {"normal": [0, 1], "q": 1.0}),
    ({"min": 1, "max": 100, "distribution": "q_log_uniform_values"}, {"loguniform": [1, 100], "q": 1.0}),
    ({"min": 0, "max": 1, "distribution": "log_uniform"}, {"loguniform": [1.0, math.e]}),
    ({"min": 0.0, "max": 1}, {"uniform": [0.0, 1]}),                    # test_json_type_inference_uniform_mixed
    ({"min": 0, "max": 1.0}, {"uniform": [0, 1.0]}),
    ({"values": [None, 2, "a", 1.5, True]}, {"choice": [None, 2, "a", 1.5, True]}),  # mixed (test_config.py)
]


@pytest.mark.parametrize("spec, expected", FORMS)
def test_every_parameter_form_becomes_tunes_space(spec, expected):
    sweep = convert({"x": spec}, run_cap=5)
    assert sweep.flags["x"] == expected
    search_space(sweep.flags, 2, seed=0)  # and tune's space takes it


def test_the_exponent_forms_draw_between_e_to_min_and_e_to_max_and_are_named_once():
    sweep = convert({"a": {"distribution": "log_uniform", "min": -4, "max": 0},
                     "b": {"distribution": "inv_log_uniform", "min": 0, "max": 4},
                     "c": {"distribution": "q_log_uniform", "min": 0, "max": 3, "q": 1}}, run_cap=3)
    assert sweep.flags["a"] == {"loguniform": [math.exp(-4), 1.0]}
    assert sweep.flags["b"] == {"loguniform": [math.exp(-4), 1.0]}  # exp(-U(0, 4))
    assert all(math.exp(-4) <= v <= 1 for v in draws(sweep.flags["a"]))
    assert all(1 <= v <= math.exp(3) + 1 and isinstance(v, int) for v in draws(sweep.flags["c"]))
    assert sum("base-e exponents" in note for note in sweep.notes) == 3


@pytest.mark.parametrize("parameters", [
    {"x": {"value": {"b": 1, "c": {"d": 2}}}},          # W&B's test_param_dict: a dict as a constant
    {"x": {"values": [None, 2, "a", [2, 3]]}},           # W&B's test_config.py: a list among the values
])
def test_a_list_or_dict_value_w_and_b_takes_is_refused_in_one_line_naming_the_flag(parameters, workdir):
    """tune's flags are scalars (one argv item each); W&B passes a list or dict as its Python text. Refused before
    anything runs, naming the flag."""
    from tuner.sweep.prepare import prepare_sweep

    (workdir / "sweep.yaml").write_text(json.dumps({"program": "train.py", "method": "grid", "parameters": parameters}))
    (workdir / "train.py").write_text("print('never runs')\n")
    with pytest.raises(GridError) as caught:
        prepare_sweep(str(workdir / "sweep.yaml"), None, check=False)
    assert "flag 'x' has a non-scalar value" in str(caught.value) and "\n" not in str(caught.value)


def _wandb_ppf(spec):
    """W&B's sampler for a parameter (wandb/sweeps params.py, HyperParameter.ppf of u ~ U(0, 1)), in numpy."""
    import numpy as np
    from scipy import stats

    kind, filled = wandb.parameter_type("x", spec)
    q = filled.get("q")

    def quantize(values):
        values = np.round(values / q) * q
        return values.astype(int) if isinstance(q, int) else values

    lo, hi = filled.get("min"), filled.get("max")
    return {
        "uniform": lambda u: stats.uniform.ppf(u, lo, hi - lo),
        "q_uniform": lambda u: quantize(stats.uniform.ppf(u, lo, hi - lo)),
        "int_uniform": lambda u: stats.randint.ppf(u, lo, hi + 1).astype(int),
        "log_uniform": lambda u: np.exp(stats.uniform.ppf(u, lo, hi - lo)),
        "log_uniform_values": lambda u: np.exp(stats.uniform.ppf(u, np.log(lo), np.log(hi) - np.log(lo))),
        "q_log_uniform_values": lambda u: quantize(np.exp(stats.uniform.ppf(u, np.log(lo), np.log(hi) - np.log(lo)))),
        "inv_log_uniform": lambda u: np.exp(-stats.uniform.ppf(1 - u, lo, hi - lo)),
        "inv_log_uniform_values": lambda u: np.exp(-stats.uniform.ppf(1 - u, -np.log(hi), -np.log(lo) + np.log(hi))),
        "normal": lambda u: stats.norm.ppf(u, filled.get("mu"), filled.get("sigma")),
        "q_normal": lambda u: quantize(stats.norm.ppf(u, filled.get("mu"), filled.get("sigma"))),
        "log_normal": lambda u: stats.lognorm.ppf(u, s=filled.get("sigma"), scale=np.exp(filled.get("mu"))),
        "q_log_normal": lambda u: quantize(stats.lognorm.ppf(u, s=filled["sigma"], scale=np.exp(filled["mu"]))),
        "beta": lambda u: stats.beta.ppf(u, filled.get("a"), filled.get("b")),
        "q_beta": lambda u: quantize(stats.beta.ppf(u, filled.get("a"), filled.get("b"))),
    }[kind]


@pytest.mark.parametrize("spec", [
    {"distribution": "uniform", "min": -2.0, "max": 3.0},
    {"distribution": "q_uniform", "min": 0, "max": 100, "q": 10},     # W&B's test_rand_q_uniform (q 0.1, 1, 10)
    {"distribution": "q_uniform", "min": 0, "max": 100, "q": 0.1},
    {"min": 1, "max": 6},
    {"distribution": "log_uniform", "min": -5.0, "max": 0.0},
    {"distribution": "log_uniform_values", "min": 1e-4, "max": 1.0},
    {"distribution": "q_log_uniform_values", "min": 0.1, "max": 100, "q": 1},
    {"distribution": "inv_log_uniform", "min": 0.0, "max": 4.0},
    {"distribution": "inv_log_uniform_values", "min": 1e-3, "max": 10.0},
    {"distribution": "normal", "mu": 1.0, "sigma": 2.0},
    {"distribution": "q_normal", "q": 0.5},
    {"distribution": "log_normal", "mu": 0.5, "sigma": 0.5},
    {"distribution": "q_log_normal", "q": 1},
    {"distribution": "beta", "a": 2, "b": 5},
    {"distribution": "q_beta", "a": 2, "b": 5, "q": 0.1},
], ids=lambda spec: spec.get("distribution", "int_uniform") + ("-q" + str(spec["q"]) if "q" in spec else ""))
def test_each_distribution_draws_as_w_and_bs_sampler_draws(spec):
    import numpy as np

    stats = pytest.importorskip("scipy.stats")
    ours = np.asarray(draws(convert({"x": spec}, run_cap=1).flags["x"], 3000))
    theirs = np.asarray(_wandb_ppf(spec)(np.random.default_rng(7).uniform(size=3000)))
    # the same distribution (quantized values compared at 9 places: 0.1 * 3 is 0.30000000000000004 in both)
    assert stats.ks_2samp(np.round(ours, 9), np.round(theirs, 9)).pvalue > 1e-4
    q = wandb.parameter_type("x", spec)[1].get("q")
    if q is not None:  # on W&B's grid of q, ints for an int q (W&B's test_rand_q_*: the remainder is 0 or q)
        remainder = np.remainder(ours, q)
        assert np.all(np.isclose(remainder, 0) | np.isclose(remainder, q))
        assert all(isinstance(v, int) for v in ours.tolist()) == isinstance(q, int)


def test_values_with_probabilities_are_drawn_with_those_probabilities():
    sweep = convert({"opt": {"values": ["adam", "sgd"], "probabilities": [0.9, 0.1]}}, run_cap=1)
    got = draws(sweep.flags["opt"], 2000)
    assert 0.85 < got.count("adam") / 2000 < 0.95


def test_normal_and_beta_draws_follow_their_parameters():
    normal = draws({"normal": [10.0, 2.0]}, 3000)
    assert abs(sum(normal) / len(normal) - 10) < 0.2
    beta = draws({"beta": [2.0, 5.0]}, 3000)
    assert all(0 <= v <= 1 for v in beta) and abs(sum(beta) / len(beta) - 2 / 7) < 0.02
    assert all(isinstance(v, int) for v in draws({"normal": [0, 5], "q": 1, "as_int": True}))


def test_nested_parameters_are_dotted_flags_and_the_json_macros_nest_them_again(tmp_path):
    sweep = convert({"optimizer": {"parameters": {"lr": {"value": 0.1}, "name": {"values": ["adam", "sgd"]}}},
                     "epochs": {"value": 3}}, method="grid")
    assert sweep.flags == {"optimizer.lr": [0.1], "optimizer.name": ["adam", "sgd"], "epochs": [3]}
    template = parse_template({**sweep.command, "argv": ["${args_json}", "${args_json_file}"]}, "sweep.yaml")
    argv, _, files = render_command(template, "/p/train.py", [], {"optimizer.lr": 0.1, "optimizer.name": "sgd",
                                                                  "epochs": 3}, str(tmp_path))
    assert json.loads(argv[0]) == {"optimizer": {"lr": 0.1, "name": "sgd"}, "epochs": 3}
    assert json.loads(files[argv[1]]) == json.loads(argv[0])


# -- methods ----------------------------------------------------------------------------------------------------

def test_grid_enumerates_int_uniform_and_q_uniform_as_w_and_b_does():
    sweep = convert({"a": {"min": 1, "max": 3}, "b": {"min": 0, "max": 1, "q": 0.25, "distribution": "q_uniform"},
                     "c": {"values": ["x", "y"]}, "d": {"value": 7}}, method="grid")
    assert sweep.flags == {"a": [1, 2, 3], "b": [0.0, 0.25, 0.5, 0.75], "c": ["x", "y"], "d": [7]}
    assert "search" not in sweep.settings


@pytest.mark.parametrize("spec", [{"min": 0.0, "max": 1.0}, {"distribution": "normal"},
                                  {"values": [1, 2], "probabilities": [0.5, 0.5]}])
def test_grid_refuses_what_w_and_b_grid_search_refuses(spec):
    with pytest.raises(GridError, match="disallowed type with grid search"):
        convert({"x": spec}, method="grid")


def test_bayes_is_tpe_in_the_driver_and_needs_a_metric():
    sweep = convert({"x": {"min": 0.0, "max": 1.0}}, method="bayes", run_cap=4,
                    metric={"name": "val_loss", "goal": "minimize"})
    assert sweep.settings == {"metric": "val_loss", "mode": "min", "search": "tpe", "run_cap": 4}
    with pytest.raises(GridError, match="method bayes learns from a metric"):
        convert({"x": {"min": 0.0, "max": 1.0}}, method="bayes", run_cap=4)


def test_metrics_with_method_custom_become_tunes_metric_and_mode_lists():
    # wandb/sweeps' test_metrics_multi_objective_with_custom_method and test_metrics_filled_with_defaults
    sweep = convert({"v1": {"values": [1, 2, 3]}}, method="custom", run_cap=6,
                    metrics=[{"name": "loss", "goal": "minimize"}, {"name": "accuracy", "goal": "maximize"}])
    assert sweep.settings == {"metric": ["loss", "accuracy"], "mode": ["min", "max"], "search": "tpe", "run_cap": 6}
    assert sweep.flags == {"v1": {"choice": [1, 2, 3]}}
    assert [note.split(" (")[0] for note in sweep.notes] == ["method custom"]
    defaults = convert({"v1": {"values": [1, 2, 3]}}, method="custom",
                       metrics=[{"name": "loss"}, {"name": "accuracy", "impute": "best"}, {"name": "f1"}])
    assert defaults.settings["mode"] == ["min", "min", "min"]  # W&B's default goal for each
    assert defaults.settings["needs_run_cap"] == "method custom"
    assert any(note.startswith("metrics.1.impute ") for note in defaults.notes)


def test_method_custom_with_one_metric_is_the_same_tpe_search_and_a_wandb_engine_scheduler_is_noted():
    sweep = convert({"x": {"min": 0.0, "max": 1.0}}, method="custom", run_cap=3, metric={"name": "loss"})
    assert sweep.settings == {"metric": "loss", "mode": "min", "search": "tpe", "run_cap": 3}
    sweep = convert({"x": {"min": 0.0, "max": 1.0}}, method="bayes", run_cap=3, metric={"name": "loss"},
                    scheduler={"engine": "wandb"})  # wandb/sweeps' test_scheduler_only_engine_required
    assert sweep.settings == {"metric": "loss", "mode": "min", "search": "tpe", "run_cap": 3}
    assert sweep.notes == ("scheduler (engine wandb: W&B's own, which runs method bayes as tune does)",)


def test_whole_number_floats_are_integers_where_w_and_b_types_integer_without_its_integer_format():
    sweep = convert({"x": {"values": [1, 2]}}, run_cap=5.0, metric={"name": "loss"},
                    early_terminate={"type": "hyperband", "min_iter": 3.0})
    assert sweep.settings["run_cap"] == 5 and isinstance(sweep.settings["run_cap"], int)
    assert sweep.settings["grace_period"] == 3 and isinstance(sweep.settings["grace_period"], int)
    with pytest.raises(GridError, match="not of type 'integer'"):  # int_uniform's `format: integer`: 1.0 is not one
        convert({"x": {"min": 1.0, "max": 3, "distribution": "int_uniform"}}, run_cap=2)


def test_a_multi_objective_w_and_b_file_is_a_multi_objective_sweep_request(workdir, write_script):
    from tuner.sweep.prepare import prepare_sweep

    write_script("train.py", "import argparse\np = argparse.ArgumentParser()\np.add_argument('--x', type=float)\n"
                             "p.parse_args()\n")
    (workdir / "sweep.yaml").write_text("program: train.py\nmethod: custom\nrun_cap: 4\nmetrics:\n"
                                        "  - {name: loss, goal: minimize}\n  - {name: acc, goal: maximize}\n"
                                        "parameters:\n  x: {min: 0.0, max: 1.0}\n")
    request = prepare_sweep(str(workdir / "sweep.yaml"), None)
    assert (request.metric, request.metrics, request.modes) == (None, ("loss", "acc"), ("min", "max"))
    assert request.search == "tpe" and request.plan.total == 4
    assert not (workdir / "runs").exists()  # prepared, nothing written


def test_random_without_run_cap_asks_for_one_and_metric_goal_defaults_to_minimize():
    sweep = convert({"x": {"values": [1, 2]}}, metric={"name": "acc"})
    assert sweep.settings["mode"] == "min" and sweep.settings["needs_run_cap"] == "method random"
    assert convert({"x": {"values": [1]}}, metric={"name": "acc", "goal": "maximize", "target": 0.9},
                   run_cap=2).settings == {"metric": "acc", "mode": "max", "target": 0.9, "run_cap": 2}


def test_hyperband_settings_and_the_default_command():
    sweep = convert({"x": {"values": [1, 2]}}, method="grid", metric={"name": "loss"},
                    early_terminate={"type": "hyperband", "min_iter": 3})
    assert sweep.settings["stop"] == "wandb-hyperband" and sweep.settings["grace_period"] == 3
    assert sweep.settings["reduction_factor"] == 3 and sweep.settings["strict"] is True  # W&B's defaults
    sweep = convert({"x": {"values": [1, 2]}}, method="grid", metric={"name": "loss"},
                    early_terminate={"type": "hyperband", "max_iter": 27, "s": 2, "eta": 3, "strict": False})
    assert (sweep.settings["max_t"], sweep.settings["brackets"], sweep.settings["strict"]) == (27, 2, False)
    assert sweep.command == {"argv": ["${env}", "${interpreter}", "${program}", "${args}"], "style": "wandb"}


def test_keys_tune_cannot_honour_are_named_once_and_ignored():
    sweep = convert({"x": {"value": 1}}, method="grid", entity="team", project="p", name="n", description="d",
                    controller={"type": "local"}, program="train.py")
    assert len(sweep.notes) == 1
    assert sweep.notes[0].startswith("entity, project, controller, name, description (")
    assert sweep.program == "train.py"


# -- validation: one line naming the key, as W&B's jsonschema validation would -----------------------------------

INVALID = [
    ({"method": "grid", "parameters": {"v1": {"values": ["a"]}}, "metric": {"name": "loss", "goal": "minimise"}},
     "metric.goal: 'minimise' is not one of minimize, maximize"),
    ({"method": "random", "parameters": {}}, "parameters: {} should be non-empty"),
    ({"method": "random"}, "'parameters' is a required property"),
    ({"method": "sideways", "parameters": {"a": {"value": 1}}}, "method: 'sideways' is not one of"),
    ({"method": "random", "parameters": {"a": {"min": 0.0, "max": 1.0, "distribution": "int_uniform"}}},
     "parameters.a: "),
    ({"method": "random", "parameters": {"a": {"max": 0, "min": 1}}}, "min 1 is not less than max 0"),
    ({"method": "random", "parameters": {"a": {"min": 2, "max": 1, "distribution": "log_uniform_values"}}},
     "min 2 is not less than max 1"),
    ({"method": "random", "parameters": {"a": {"min": 0, "max": 1, "distribution": "log_uniform_values"}}},
     "less than or equal to the minimum of 0"),
    ({"method": "random", "parameters": {"a": {"values": [1, 2], "probabilities": [0.5, 0.6]}}}, "do not sum to 1"),
    ({"method": "random", "parameters": {"a": {"values": [1, 2], "probabilities": [1.0]}}}, "not the same length"),
    ({"method": "random", "parameters": {"a": {"distribution": "gaussian"}}}, "parameters.a.distribution"),
    ({"method": "random", "parameters": {"a": {"distribution": "normal", "sigma": -1}}}, "sigma"),
    ({"method": "random", "parameters": {"a": {"mn": 0}}}, "parameters.a"),
    ({"method": "random", "parameters": {"a": {"value": 1}}, "run_cap": 0}, "run_cap: 0 is less than or equal"),
    ({"method": "random", "parameters": {"a": {"value": 1}}, "run_cap": -0.3}, "run_cap: -0.3 is not of type 'integer'"),
    ({"method": "random", "parameters": {"a": {"value": 1}}, "run_cap": "1"}, "run_cap: '1' is not of type"),
    ({"method": "random", "parameters": {"a": {"value": 1}}, "controller": {"type": "invalid"}}, "controller.type"),
    ({"method": "random", "parameters": {"a": {"value": 1}}, "parametrs": {}}, "did you mean 'parameters'"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "metric": {"name": "l"},
      "early_terminate": {"type": "hyperband"}}, "needs min_iter, or max_iter and s"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "metric": {"name": "l"},
      "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 1}}, "early_terminate.eta"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "metric": {"name": "l"},
      "early_terminate": {"type": "median", "min_iter": 1}}, "early_terminate.type"),
    ({"method": "random", "parameters": {"9lives": {"value": 1}}}, "does not match"),
    ({"parameters": {"a": {"value": 1}}}, "method: 'method' is a required property"),
    ({"method": "random", "parameters": {"a": {"value": 1}}, "run_cap": 5.1}, "run_cap: 5.1 is not of type 'integer'"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "metric": {"name": "l"},
      "early_terminate": {"type": "hyperband", "min_iter": 2.5}}, "early_terminate.min_iter: 2.5 is not of type"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "metric": {"name": "l"},
      "early_terminate": {"type": "hyperband", "max_iter": 2, "s": 3, "eta": 3}},
     "early_terminate: hyperband has no band: increase s, decrease eta, or increase min_iter"),
    # every other entry of W&B's schema, one case each
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "kind": "job"}, "kind: 'job' is not one of ['sweep']"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "controller": "local"},
     "controller: 'local' is not of type 'object'"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "controller": {}}, "controller: 'type' is a required"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "program": 3}, "program: 3 is not of type 'string'"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "entity": ["a"]}, "entity: ['a'] is not of type 'string'"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "command": "python train.py"},
     "command: 'python train.py' is not of type 'array'"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "metric": "loss"}, "metric: 'loss' is not of type 'object'"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "metric": {"name": "l", "mode": "max"}},
     "metric.mode: additional properties are not allowed"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "metric": {"name": "l", "target": "high"}},
     "metric.target: 'high' is not of type 'number'"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "metric": {"name": 1}}, "metric.name: 1 is not of type"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "metric": {"name": "l", "impute_while_running": "often"}},
     "metric.impute_while_running: 'often' is not one of latest, best, worst, false"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "metric": {"name": "l"}, "early_terminate": "hyperband"},
     "early_terminate: 'hyperband' is not of type 'object'"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "metric": {"name": "l"},
      "early_terminate": {"type": "hyperband", "min_iter": 0}}, "early_terminate.min_iter: 0 is less than the minimum"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "metric": {"name": "l"},
      "early_terminate": {"type": "hyperband", "min_iter": 1, "strict": "yes"}}, "early_terminate.strict: 'yes' is not"),
    ({"method": "grid", "parameters": {"a": {"value": 1}}, "metric": {"name": "l"},
      "early_terminate": {"type": "hyperband", "min_iter": 1, "s_max": 2}}, "early_terminate.s_max: additional"),
    ({"method": "random", "parameters": [1, 2]}, "parameters: [1, 2] is not of type 'object'"),
    ({"method": "random", "parameters": {"a": "adam"}}, "parameters.a: 'adam' is not of type 'object'"),
    ({"method": "random", "parameters": {"a": {"values": []}}}, "values: [] should be non-empty"),  # test_schema.py
    ({"method": "random", "parameters": {"a": {"values": [1, 2], "probabilities": [-0.5, 1.5]}}},
     "probabilities: -0.5 is not a number >= 0"),
    ({"method": "random", "parameters": {"a": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0}}},
     "q: 0 is less than or equal to the minimum of 0"),
    ({"method": "random", "parameters": {"a": {"distribution": "beta", "a": -1}}}, "a: -1 is less than the minimum"),
    ({"method": "random", "parameters": {"a": {"min": True, "max": 3}}}, "min: True is not of type 'integer'"),
    ({"method": "random", "parameters": {"a": {"parameters": {"b": {"value": 1}}, "value": 2}}},
     "parameters.a: additional properties are not allowed beside nested parameters"),
    ({"method": "random", "parameters": {"a": {"parameters": {}}}}, "parameters.a.parameters: {} should be non-empty"),
    # metrics (wandb/sweeps' test_config.py): W&B's own words, the key named
    ({"method": "bayes", "parameters": {"v1": {"values": [1, 2, 3]}},
      "metrics": [{"name": "loss", "goal": "minimize"}, {"name": "accuracy", "goal": "maximize"}]},
     "metrics: `metrics` requires `method: custom` (got `method: bayes`)"),
    ({"method": "custom", "parameters": {"v1": {"values": [1, 2, 3]}}, "metric": {"name": "loss"},
      "metrics": [{"name": "loss", "goal": "minimize"}, {"name": "accuracy", "goal": "maximize"}]},
     "`metric` and `metrics` cannot both be set"),
    ({"method": "custom", "parameters": {"v1": {"values": [1, 2, 3]}}, "metrics": [{"name": "loss", "goal": "minimize"}]},
     "metrics: [{'name': 'loss', 'goal': 'minimize'}] is too short"),
    ({"method": "custom", "parameters": {"v1": {"values": [1, 2, 3]}}, "metrics": "loss"},
     "metrics: 'loss' is not of type 'array'"),
    ({"method": "custom", "parameters": {"v1": {"values": [1, 2, 3]}}, "metrics": [{"name": "loss"}, "acc"]},
     "metrics.1: 'acc' is not of type 'object'"),
    ({"method": "custom", "parameters": {"v1": {"values": [1, 2, 3]}},
      "metrics": [{"name": "loss", "goal": "not-a-real-goal"}, {"name": "acc"}]},
     "metrics.0.goal: 'not-a-real-goal' is not one of minimize, maximize"),
    ({"method": "custom", "parameters": {"v1": {"values": [1, 2, 3]}}, "metrics": [{"goal": "minimize"}, {"name": "a"}]},
     "metrics.0: 'name' is a required property"),
    ({"method": "custom", "parameters": {"v1": {"values": [1, 2, 3]}},
      "metrics": [{"name": "loss", "impute": "median"}, {"name": "acc"}]}, "metrics.0.impute: 'median' is not one of"),
    ({"method": "custom", "parameters": {"v1": {"values": [1, 2, 3]}}, "run_cap": 3,
      "metrics": [{"name": "loss", "target": 0.1}, {"name": "acc"}]}, "metrics.0.target: a target ends the sweep"),
    ({"method": "custom", "parameters": {"v1": {"values": [1, 2, 3]}}, "run_cap": 3,
      "metrics": [{"name": "loss"}, {"name": "acc"}], "early_terminate": {"type": "hyperband", "min_iter": 3}},
     "early_terminate: hyperband judges one metric, and `metrics` names 2"),
    ({"method": "custom", "parameters": {"a": {"value": 1}}}, "metric: method custom learns from a metric"),
    # scheduler (wandb/sweeps' test_config.py): W&B's engines and rules, and the code tune does not run
    ({"method": "bayes", "metric": {"name": "l"}, "parameters": {"v1": {"values": [1, 2, 3]}},
      "scheduler": {"engine": "optuna", "source": "scheduler.py"}}, "scheduler.engine: 'optuna' is not supported"),
    ({"method": "bayes", "metric": {"name": "l"}, "parameters": {"v1": {"values": [1, 2, 3]}},
      "scheduler": {"engine": "not-a-real-engine"}}, "scheduler.engine: 'not-a-real-engine' is not one of"),
    ({"method": "bayes", "metric": {"name": "l"}, "parameters": {"v1": {"values": [1, 2, 3]}},
      "scheduler": {"source": "scheduler.py"}}, "scheduler: 'engine' is a required property"),
    ({"method": "bayes", "metric": {"name": "l"}, "parameters": {"v1": {"values": [1, 2, 3]}},
      "scheduler": {"engine": "wandb", "optimizer": "build_study"}}, "scheduler: 'source' is a dependency of 'optimizer'"),
    ({"method": "custom", "parameters": {"v1": {"values": [1, 2, 3]}}, "scheduler": {"engine": "wandb"}},
     "`scheduler.engine: wandb` does not support `method: custom`"),
    ({"method": "bayes", "metric": {"name": "l"}, "parameters": {"v1": {"values": [1, 2, 3]}},
      "scheduler": {"engine": "wandb"}, "early_terminate": {"type": "hyperband", "min_iter": 3}},
     "early_terminate: `early_terminate` cannot be used together with `scheduler`"),
    ({"method": "bayes", "metric": {"name": "l"}, "parameters": {"v1": {"values": [1, 2, 3]}},
      "scheduler": {"engine": "wandb"}, "controller": {"type": "local"}},
     "controller: `controller: type:local` cannot be used together with `scheduler`"),
    ({"method": "bayes", "metric": {"name": "l"}, "scheduler": {"engine": "wandb", "source": "s.py",
                                                                 "optimizer": "build_study", "search_space": "space"}},
     "scheduler.source: W&B's scheduler calls functions of a Python file"),
    ({"method": "bayes", "metric": {"name": "l"}, "scheduler": {"engine": "wandb", "source": "s.py", "search_space": ""}},
     "parameters: 'parameters' is a required property (W&B: `parameters` is required unless"),
]


@pytest.mark.parametrize("config, words", INVALID)
def test_each_invalid_config_is_one_line_naming_the_key(config, words):
    with pytest.raises(GridError) as caught:
        wandb.convert(config, "sweep.yaml")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("sweep.yaml: ")
    assert words in message


def test_an_invalid_file_exits_2_with_one_line(workdir, write_script):
    from tests.conftest import run_tune

    write_script("train.py", "print('never runs')\n")
    (workdir / "sweep.yaml").write_text("program: train.py\nmethod: grid\nmetric: {name: loss, goal: minimise}\n"
                                        "parameters:\n  lr: {values: [0.1, 0.2]}\n")
    result = run_tune("sweep.yaml", "-y", cwd=workdir)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "metric.goal: 'minimise'" in result.stderr
    assert not (workdir / "runs").exists()


# -- the command and its macros (wandb's agent: create_sweep_command / create_sweep_command_args) ------------------

FLAGS = {"lr": 0.001, "fast": True, "slow": False, "name": "a b", "layers": None}


def render(argv, flags=FLAGS, tmp="/tmp/meta"):
    template = parse_template({"argv": argv, "style": "wandb"}, "sweep.yaml")
    return render_command(template, "/p/train.py", [], flags, tmp)


def test_env_interpreter_and_program():
    argv, _, _ = render(["${env}", "${interpreter}", "${program}"])
    assert argv == ["/usr/bin/env", sys.executable, "/p/train.py"]


def test_args_no_hyphens_and_args_no_boolean_flags_write_values_as_w_and_b_does():
    assert render(["${args_no_hyphens}"])[0] == ["lr=0.001", "fast=True", "slow=False", "name=a b", "layers=None"]
    assert render(["${args_no_boolean_flags}"])[0] == ["--lr=0.001", "--fast", "--name=a b", "--layers=None"]


def test_args_json_is_one_item_and_args_json_file_a_path_to_the_same_json(tmp_path):
    argv, _, files = render(["${args_json}", "${args_json_file}"], tmp=str(tmp_path))
    assert json.loads(argv[0]) == FLAGS
    assert argv[1] == os.path.join(str(tmp_path), "args.json") and json.loads(files[argv[1]]) == FLAGS


def test_envvar_is_the_drivers_variable_or_its_name(monkeypatch):
    monkeypatch.setenv("DATA_ROOT", "/data")
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    argv, _, _ = render(["--root=${envvar:DATA_ROOT}", "${envvar:NOT_SET_ANYWHERE}"])
    assert argv == ["--root=/data", "NOT_SET_ANYWHERE"]


def test_args_keeps_the_scripts_switches_and_w_and_b_text_for_valued_options():
    from tuner.interface.argv import build_argv
    from tuner.interface.discover import FlagSpec, ScriptInterface

    interface = ScriptInterface("train.py", "argparse", (FlagSpec("--fast", "fast", kind="store_true"),
                                                         FlagSpec("--lr", "lr", type="float")))
    assert build_argv(interface, {"fast": True, "lr": 0.5}, str) == ["--fast", "--lr=0.5"]
    assert build_argv(None, {"fast": True}, str) == ["--fast=True"]


def test_an_unknown_macro_is_refused_before_launch():
    from tuner.errors import ConfigError

    with pytest.raises(ConfigError, match=r"unknown anchor \$\{args_no_equals\}"):
        parse_template({"argv": ["${args_no_equals}"], "style": "wandb"}, "sweep.yaml")


# -- hyperband: wandb/sweeps' test_hyperband_stopping cases, on tune's rule -------------------------------------

def H(*values):
    return [(i + 1, v) for i, v in enumerate(values)]


def test_bands_as_w_and_b_computes_them():
    assert hyperband_bands(3, min_iter=3)[:3] == (3, 9, 27)
    assert hyperband_bands(3, max_iter=81, brackets=3) == (3, 9, 27)
    assert hyperband_bands(3, max_iter=18, brackets=2) == (2, 6)
    assert hyperband_bands(2, max_iter=5, brackets=2) == (1, 2)


def test_five_runs_band_one_stops_the_worst():
    runs = {"a": H(10, 9), "b": H(10, 10), "c": H(10, 8, 8), "d": H(10, 7, 7), "e": H(10, 6, 6)}
    stops = hyperband_stops(runs, ["b", "c", "d"], "min", HyperbandRule((1, 2), 2, True))
    assert [s.trial for s in stops] == ["b"]
    runs = {"a": H(10), "b": H(11), "c": H(10, 8, 8), "d": H(10, 7, 7), "e": H(10, 6, 6)}
    assert [s.trial for s in hyperband_stops(runs, ["b", "c", "d"], "min", HyperbandRule((1, 2), 2))] == ["b", "c"]


def test_eta_3_not_strict_and_maximize():
    runs = {"a": H(9, 8), "b": H(11, 11), "c": H(10, 8, 3), "d": H(10, 7, 4), "e": H(10, 6, 6)}
    assert [s.trial for s in hyperband_stops(runs, list("bcde"), "min", HyperbandRule((1, 3), 3, False))] == ["b", "e"]
    flipped = {t: [(s, -v) for s, v in p] for t, p in runs.items()}
    assert [s.trial for s in hyperband_stops(flipped, list("bcde"), "max", HyperbandRule((1, 3), 3, False))] == ["b", "e"]


def test_a_single_run_is_never_stopped():
    assert hyperband_stops({"a": H(*range(10, 0, -1))}, ["a"], "min", HyperbandRule((2, 6), 3, False)) == []


def test_values_that_are_not_finite_do_not_count_as_reports():
    runs = {"a": [(1, math.nan), (2, 5.0)], "b": H(1.0), "c": H(2.0)}  # a's first report is 5.0
    assert [s.trial for s in hyperband_stops(runs, ["a"], "min", HyperbandRule((1,), 2))] == ["a"]


def test_random_draws_are_reproducible_from_the_seed():
    sweep = convert({"x": {"distribution": "normal"}, "y": {"values": [1, 2, 3]}}, run_cap=4)
    one, two = search_space(sweep.flags, 4, seed=3), search_space(sweep.flags, 4, seed=3)
    assert [one.combination(i) for i in range(4)] == [two.combination(i) for i in range(4)]
    random.seed(99)  # the space draws from its own seeded generators, not the global one
    assert [search_space(sweep.flags, 4, seed=3).combination(i) for i in range(4)] == [one.combination(i)
                                                                                       for i in range(4)]


# -- W&B's own schema (wandb/sweeps src/sweeps/config/schema.json at b1dfc5f, MIT, copied in formats_data/) --------

#: what W&B checks beyond its schema (its cfg.py: min < max, probabilities, metrics and scheduler rules) and what
#: tune refuses beyond W&B (a front has no target; hyperband on one metric, with a band; a custom method's metric;
#: a scheduler's Python functions)
BEYOND_SCHEMA = ("not less than max", "do not sum to 1", "not the same length", "`metrics` requires",
                 "cannot both be set", "is not supported", "does not support", "cannot be used together",
                 "a target ends the sweep", "hyperband judges one metric", "hyperband has no band",
                 "method custom learns", "calls functions of a Python file", "'parameters' is a required property")


def wandb_validator():
    """W&B's validator as its schema.py builds it: draft 7, with its `float` and `integer` format checks."""
    jsonschema = pytest.importorskip("jsonschema")
    checker = jsonschema.FormatChecker()
    checker.checks("float")(lambda value: isinstance(value, float))
    checker.checks("integer")(lambda value: isinstance(value, int))
    path = os.path.join(os.path.dirname(__file__), "formats_data", "wandb_sweeps_schema.json")
    with open(path, encoding="utf-8") as handle:
        return jsonschema.Draft7Validator(json.load(handle), format_checker=checker)


@pytest.mark.parametrize("config, words", INVALID)
def test_what_tune_refuses_w_and_b_refuses(config, words):
    errors = [error.message for error in wandb_validator().iter_errors(config)]
    if any(rule in words for rule in BEYOND_SCHEMA):
        return  # W&B's cfg.py rule or tune's own: said by the test above
    assert errors, f"W&B's schema takes {config}, tune refuses it ({words})"


@pytest.mark.parametrize("spec", [spec for spec, _ in FORMS])
def test_every_parameter_form_tune_takes_is_valid_for_w_and_b(spec):
    config = {"method": "random", "run_cap": 5, "parameters": {"x": spec}}
    assert [error.message for error in wandb_validator().iter_errors(config)] == []


@pytest.mark.parametrize("config", [
    {"method": "custom", "metrics": [{"name": "loss", "goal": "minimize"}, {"name": "accuracy", "goal": "maximize"}],
     "parameters": {"v1": {"values": [1, 2, 3]}}, "run_cap": 4},
    {"method": "bayes", "scheduler": {"engine": "wandb"}, "metric": {"name": "loss"},
     "parameters": {"v1": {"values": [1, 2, 3]}}, "run_cap": 4},
    {"method": "random", "run_cap": 5.0, "metric": {"name": "loss", "goal": "maximize", "target": 0.9,
                                                    "impute": "best", "impute_while_running": "false"},
     "early_terminate": {"type": "hyperband", "max_iter": 27, "s": 2, "eta": 3, "strict": False},
     "parameters": {"a": {"parameters": {"b": {"value": 1}}}, "c.d": {"min": 0.0, "max": 1.0}},
     "command": ["${env}", "${interpreter}", "${program}", "${args_json_file}"], "program": "train.py",
     "entity": "team", "project": "p", "name": "n", "description": "d", "controller": {"type": "cloud"},
     "apiVersion": "v1", "kind": "sweep", "job": "j", "image_uri": "u"},
])
def test_configs_w_and_b_takes_tune_takes(config):
    assert [error.message for error in wandb_validator().iter_errors(config)] == []
    wandb.convert(config, "sweep.yaml")


def test_a_files_target_with_several_metrics_from_the_command_line_names_the_file(workdir, write_script):
    from tests.conftest import run_tune

    write_script("train.py", "print('never runs')\n")
    (workdir / "sweep.yaml").write_text("program: train.py\nmethod: grid\nmetric: {name: loss, target: 0.5}\n"
                                        "parameters:\n  x: {values: [1, 2]}\n")
    result = run_tune("sweep.yaml", "--metric", "loss", "--metric", "acc", "--mode", "min", "--mode", "max", "-y",
                      cwd=workdir)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "several metrics (a front, not one value): drop the target of sweep.yaml, or give one --metric" in \
        result.stderr
    assert not (workdir / "runs").exists()
