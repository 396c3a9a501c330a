"""Flag importance (tuner.search.importance, `tuner.param_importance`): on sweeps whose objective is known, the
flags come out in the order they matter, with the right signs; the numbers are Optuna's PED-ANOVA; the sweep's
recorded metric is the default; the report shows the section."""

from __future__ import annotations

import json
import math
import random
import re
import warnings
from pathlib import Path

import pytest
from fabricate_runs import make_run

from tuner import param_importance, save_sweep_report
from tuner.errors import QueryError, SweepNotFoundError
from tuner.runs.ranking import Ranking
from tuner.search.importance import Domain, domains_from_grid_source, flag_importance
from tuner.store.journal import Journal


def _objective_sweep(runs_dir: str, sweep: str, trials: int = 400, seed: int = 3, journal: dict | None = None,
                     status_of=lambda i: "finished") -> None:
    """loss = 4 (a - 0.3)^2 + 0.3 (b - 0.5)^2 + 0 * c (+ a little noise): `a` matters, `b` a little, `c` not at all;
    also val_acc (higher is better) = 1 - loss, so a sweep ranked by val_acc sees the same flags."""
    rng = random.Random(seed)
    if journal is not None:
        Journal.create(runs_dir, sweep, journal)
    for i in range(trials):
        a, b, c = rng.random(), rng.random(), rng.random()
        loss = 4 * (a - 0.3) ** 2 + 0.3 * (b - 0.5) ** 2 + rng.gauss(0, 0.005)
        make_run(runs_dir, i, {"a": a, "b": b, "c": c}, {"loss": [loss * 2, loss], "val_acc": [0.5, 1 - loss]},
                 status=status_of(i), sweep=sweep, trial=i)


def test_the_flag_that_matters_ranks_first_then_the_one_that_matters_a_little_then_the_one_that_does_not(workdir):
    _objective_sweep("runs", "quad")
    frame = param_importance("quad", metric="loss", runs_dir="runs")
    assert list(frame["flag"]) == ["a", "b", "c"]
    share = dict(zip(frame["flag"], frame["importance"]))
    assert share["a"] > 0.6 and share["c"] < 0.05 and share["a"] > share["b"] > share["c"]
    assert math.isclose(sum(share.values()), 1.0)
    assert frame.attrs["metric"] == "loss" and frame.attrs["mode"] == "min" and frame.attrs["trials"] == 400
    assert set(frame["kind"]) == {"numeric"} and set(frame["trials"]) == {400}
    corr = dict(zip(frame["flag"], frame["correlation"]))
    # loss falls as `a` grows from 0 towards 0.3 and rises after: over [0, 1] mostly rising, so positive
    assert corr["a"] > 0.4 and abs(corr["c"]) < 0.15


def test_the_ranking_holds_for_a_higher_is_better_metric_and_the_correlation_flips_sign(workdir):
    _objective_sweep("runs", "quad")
    frame = param_importance("quad", metric="val_acc", runs_dir="runs")
    assert frame.attrs["mode"] == "max" and list(frame["flag"]) == ["a", "b", "c"]
    corr = dict(zip(frame["flag"], frame["correlation"]))
    assert corr["a"] < -0.4  # a higher `a` goes with a lower val_acc


def test_log_scaled_and_categorical_flags_from_the_journals_space(workdir):
    rng = random.Random(7)
    space = {"kind": "space", "num_samples": 300, "seed": 1, "flags": {
        "lr": {"loguniform": [1e-5, 1e-1]}, "optimizer": {"choice": ["adam", "sgd", "rmsprop"]},
        "units": {"randint": [16, 257]}, "note": ["x"]}}
    Journal.create("runs", "space", {"script": "/work/train.py", "grid": space, "metric": "val_loss", "mode": "min"})
    for i in range(300):
        lr = math.exp(rng.uniform(math.log(1e-5), math.log(1e-1)))
        optimizer = rng.choice(["adam", "sgd", "rmsprop"])
        units = rng.randrange(16, 257)
        # the best lr is 1e-3 (on a log scale); sgd is a little worse; units do not matter
        val_loss = (math.log10(lr) + 3) ** 2 + (0.3 if optimizer == "sgd" else 0.0) + rng.gauss(0, 0.02)
        make_run("runs", i, {"lr": lr, "optimizer": optimizer, "units": units, "note": "x"},
                 {"val_loss": [val_loss]}, sweep="space", trial=i)
    frame = param_importance("space", runs_dir="runs")  # the journal's metric and mode
    assert frame.attrs["metric"] == "val_loss" and frame.attrs["mode"] == "min"
    kinds = dict(zip(frame["flag"], frame["kind"]))
    assert kinds == {"lr": "log", "optimizer": "categorical", "units": "numeric"}  # `note`, one value: left out
    assert list(frame["flag"])[:2] == ["lr", "optimizer"]
    share = dict(zip(frame["flag"], frame["importance"]))
    assert share["units"] < 0.05
    by_value = frame.set_index("flag")["by_value"]["optimizer"]
    assert by_value["sgd"] > 0 > by_value["adam"]  # sgd goes with a higher val_loss
    assert math.isnan(frame.set_index("flag")["correlation"]["optimizer"])


def test_without_a_recorded_space_the_kind_is_read_from_the_values(workdir):
    rng = random.Random(11)
    rows = []
    for _ in range(500):
        lr = math.exp(rng.uniform(math.log(1e-6), math.log(1.0)))
        width = rng.uniform(0, 1000)
        rows.append({"status": "finished", "metric_loss": abs(math.log10(lr) + 3) + rng.gauss(0, 0.01),
                     "flag_lr": lr, "flag_width": width, "flag_layers": rng.choice([1, 2, 3]),
                     "flag_act": rng.choice(["relu", "tanh"]), "flag_bn": rng.choice([True, False])})
    result = flag_importance(rows, Ranking("loss", "metric_loss", "min"))
    kinds = {f.flag: f.kind for f in result.flags}
    assert kinds == {"lr": "log", "width": "numeric", "layers": "ordinal", "act": "categorical", "bn": "categorical"}
    assert result.flags[0].flag == "lr" and result.flags[0].importance > 0.8


def test_the_numbers_are_optunas_ped_anova(workdir):
    optuna = pytest.importorskip("optuna")
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    rng = random.Random(5)
    distributions = {"a": FloatDistribution(0, 1), "lr": FloatDistribution(1e-5, 1e-1, log=True),
                     "units": IntDistribution(8, 128), "opt": CategoricalDistribution(["adam", "sgd", "rms"])}
    domains = {"a": Domain("numeric", 0, 1), "lr": Domain("log", 1e-5, 1e-1), "units": Domain("numeric", 8, 128, 1),
               "opt": Domain("categorical", choices=("adam", "sgd", "rms"))}
    rows, trials = [], []
    for _ in range(600):
        params = {"a": rng.random(), "lr": math.exp(rng.uniform(math.log(1e-5), math.log(1e-1))),
                  "units": rng.randint(8, 128), "opt": rng.choice(["adam", "sgd", "rms"])}
        value = (params["a"] - 0.2) ** 2 + 0.05 * (math.log10(params["lr"]) + 3) ** 2 + (0.1 if params["opt"] == "sgd"
                                                                                         else 0)
        rows.append({"status": "finished", "metric_loss": value, **{f"flag_{k}": v for k, v in params.items()}})
        trials.append(optuna.trial.create_trial(params=params, distributions=distributions, value=value))
    study = optuna.create_study(direction="minimize")
    study.add_trials(trials)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna's note that PED-ANOVA is experimental
        expected = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.PedAnovaImportanceEvaluator())
    ours = {f.flag: f.importance for f in flag_importance(rows, Ranking("loss", "metric_loss", "min"),
                                                          domains=domains).flags}
    assert ours.keys() == expected.keys()
    for flag, value in expected.items():
        assert ours[flag] == pytest.approx(value, rel=1e-6, abs=1e-9), flag


def test_only_finished_trials_count_and_too_few_give_no_importance(workdir):
    # every other trial stopped early with a great-looking value: they must not decide anything
    _objective_sweep("runs", "mixed", trials=200, status_of=lambda i: "stopped" if i % 2 else "finished")
    frame = param_importance("mixed", metric="loss", runs_dir="runs")
    assert frame.attrs["trials"] == 100
    result = flag_importance([{"status": "finished", "metric_loss": 1.0 + i, "flag_a": i} for i in range(3)],
                             Ranking("loss", "metric_loss", "min"))
    assert result.trials == 3 and [(f.flag, f.importance) for f in result.flags] == [("a", 0.0)]


def test_unknown_sweep_or_metric_is_one_clear_error(workdir):
    _objective_sweep("runs", "quad", trials=20)
    with pytest.raises(SweepNotFoundError, match="sweep 'nope' has no runs"):
        param_importance("nope", runs_dir="runs")
    with pytest.raises(QueryError, match="did you mean loss"):
        param_importance("quad", metric="los", runs_dir="runs")


def test_grid_lists_in_the_journal_are_ordinal_or_categorical():
    domains = domains_from_grid_source({"kind": "product", "flags": {"lr": [0.1, 0.01], "act": ["relu", "tanh"]}})
    assert domains == {"lr": Domain("ordinal"), "act": Domain("categorical", choices=("relu", "tanh"))}
    table = domains_from_grid_source({"kind": "table", "columns": ["x", "y"], "rows": [[1, "a"], [2, "b"]]})
    assert table["x"].kind == "ordinal" and table["y"].kind == "categorical"


def test_the_sweep_report_shows_the_importance_ranked_by_the_sweeps_own_metric(workdir, tmp_path: Path):
    # the sweep was run with --metric loss: its report ranks by loss, not by val_acc (the default choice)
    _objective_sweep("runs", "quad", trials=120,
                     journal={"script": "/work/train.py", "grid": {"kind": "space", "flags": {
                         "a": {"uniform": [0, 1]}, "b": {"uniform": [0, 1]}, "c": {"uniform": [0, 1]}},
                         "num_samples": 120, "seed": 0}, "metric": "loss", "mode": "min"})
    path = save_sweep_report("quad", runs_dir="runs", filename=str(tmp_path / "r.html"), run_views=False)
    text = Path(path).read_text()
    data = json.loads(re.search(r'<script type="application/json" id="page-data">(.*?)</script>', text, re.S)
                      .group(1))
    assert data["metric"] == "metric_loss" and data["mode"] == "min"
    assert [f["flag"] for f in data["importance"]["flags"]] == ["a", "b", "c"]
    assert data["importance"]["metric"] == "loss"
