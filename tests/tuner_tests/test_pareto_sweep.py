"""Multi-objective sweeps end to end on a real local Ray cluster, with real subprocess trials: a synthetic
two-objective function with a known front, constraints, MOASHA stopping dominated trials, the resume of a
multi-objective TPE search, and every view of the sweep (summary, tune ls --pareto, tune sweeps, tune report,
MLflow, TensorBoard HParams) naming the front, never a best. The one-line errors need no cluster."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from tuner import pareto_front, tuning_run
from tuner.cli.main import main
from tuner.search.pareto import dominates
from tuner.store.journal import Journal

# ZDT1 with two flags: f1 = x, f2 = g (1 - sqrt(x / g)), g = 1 + 9 y; both minimized. The front is y = 0.
# memory_mb grows with x: `memory_mb <= 500` keeps x <= 0.5.
SCRIPT = """
import argparse, math
p = argparse.ArgumentParser()
p.add_argument("--x", type=float, default=0.5)
p.add_argument("--y", type=float, default=0.0)
a = p.parse_args()
g = 1 + 9 * a.y
print(f"f1: {a.x}")
print(f"f2: {g * (1 - math.sqrt(a.x / g))}")
print(f"memory_mb: {100 + 800 * a.x}")
"""

GRID = {"x": [0.0, 0.25, 0.5, 0.75, 1.0], "y": [0.0, 0.5, 1.0]}


@pytest.fixture
def script(write_script):
    return write_script("train.py", SCRIPT)


def brute_front(frame, columns, constraint=None):
    """The run_dirs of the finished runs no other finished run dominates (all metrics minimized), by definition."""
    rows = [r for r in frame.to_dict("records") if r["status"] == "finished" and (constraint is None or constraint(r))]
    costs = [tuple(r[c] for c in columns) for r in rows]
    return sorted(r["run_dir"] for r, p in zip(rows, costs) if not any(dominates(q, p) for q in costs if q is not p))


@pytest.mark.ray
@pytest.mark.slow
def test_a_two_objective_grid_sweep_returns_the_known_front_and_every_view_shows_it(ray_cluster, workdir, script,
                                                                                     capsys):
    frame = tuning_run("train.py", GRID, metric=["f1", "f2"], mode=["min", "min"],
                       constraints="memory_mb <= 500", confirm=False, quiet=True, address=ray_cluster)
    assert len(frame) == 15 and set(frame.status) == {"finished"}
    feasible = frame.metric_memory_mb <= 500
    expected = brute_front(frame, ["metric_f1", "metric_f2"], lambda r: r["metric_memory_mb"] <= 500)
    # the returned set is the brute-force non-dominated filter of the feasible runs, and the known front
    assert sorted(frame.attrs["pareto"]) == expected
    assert sorted(frame.run_dir[frame.pareto]) == expected
    assert sorted(frame.run_dir[(frame.flag_y == 0) & feasible]) == expected  # y = 0, x <= 0.5
    assert not frame.pareto[~feasible].any()  # infeasible runs are never on the front
    assert frame.attrs["metric"] == ["f1", "f2"] and frame.attrs["mode"] == ["min", "min"]
    assert frame.attrs["best_run"] is None  # no single best
    sweep = frame.attrs["sweep"]
    header = Journal.open("runs", sweep).read().header
    assert (header["metric"], header["mode"], header["constraints"]) == (["f1", "f2"], ["min", "min"],
                                                                          ["memory_mb <= 500"])

    # without the constraint the front is every y = 0 run (pareto_front over the listing, metrics named)
    listed = pareto_front(metric=["f1", "f2"], mode=["min", "min"])
    assert sorted(listed.run_dir) == brute_front(frame, ["metric_f1", "metric_f2"]) == \
        sorted(frame.run_dir[frame.flag_y == 0])
    capsys.readouterr()

    # tune ls --pareto: the sweep's recorded metrics and constraint when the runs are one sweep's
    assert main(["ls", "--pareto", "--format", "json"]) == 0
    assert sorted(r["run_dir"] for r in json.loads(capsys.readouterr().out)) == expected
    assert main(["ls", "--pareto", "--metric", "f1", "--metric", "f2", "--mode", "min", "--mode", "min"]) == 0
    assert "front: 5 runs (f1 (min), f2 (min))" in capsys.readouterr().out
    assert main(["ls", "--pareto", "--metric", "f1", "--metric", "f2"]) == 0  # each metric's direction: max here
    assert "front: 5 runs (f1 (max), f2 (max))" in capsys.readouterr().out  # the y = 1 runs, then
    # tune sweeps: the front's size where a single-metric sweep shows its best
    assert main(["sweeps"]) == 0
    assert "front: 3 runs (f1 min, f2 min)" in capsys.readouterr().out

    # tune report: the front, its scatter data and the hypervolume, no best
    from tuner.report import save_sweep_report
    from tuner.report.data import sweep_data
    from tuner.runs.listing import ls_runs
    from tuner.runs.ranking import sweep_choice
    from tuner.sweep.history import own_columns

    rows = own_columns(ls_runs(order=None)).sort_values("trial").reset_index(drop=True)
    data = sweep_data(rows, sweep, None, [None] * len(rows), None, sweep_choice("runs", sweep))
    assert data["best"] == [] and data["metric"] is None
    assert sorted(rows.run_dir[data["front"]]) == expected
    assert [o["metric"] for o in data["objectives"]] == ["f1", "f2"] and data["constraints"] == ["memory_mb <= 500"]
    assert data["hypervolume"][-1] > 0 and data["hypervolume"] == sorted(data["hypervolume"])
    page = open(save_sweep_report(sweep, run_views=False, filename=str(workdir / "report.html")),
                encoding="utf-8").read()  # what the browser test draws (test_pareto_report_browser.py)
    assert '"objectives":[{"column":"metric_f1"' in page and '"hypervolume":[' in page

    # the summary a CLI sweep ends with: `front: N runs`, never `best`
    (workdir / "grid.yml").write_text("x: [0.0, 1.0]\ny: [0.0, 1.0]\n")
    assert main(["train.py", "--flags", "grid.yml", "--metric", "f1", "--metric", "f2", "--mode", "min", "--mode",
                 "min", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "front: 2 runs (f1 (min), f2 (min))" in out and "best" not in out.split("front:")[1]


@pytest.mark.ray
@pytest.mark.slow
def test_the_exports_name_the_front_mlflow_tags_and_hparams_metrics(ray_cluster, workdir, script, tmp_path):
    mlflow = pytest.importorskip("mlflow")
    pytest.importorskip("tensorboard")
    frame = tuning_run("train.py", {"x": [0.0, 0.5, 1.0], "y": [0.0, 1.0]}, metric=["f1", "f2"], mode=["min", "min"],
                       confirm=False, quiet=True, address=ray_cluster)
    sweep = frame.attrs["sweep"]
    front = sorted(os.path.basename(d) for d in frame.attrs["pareto"])
    assert front == sorted(os.path.basename(d) for d in frame.run_dir[frame.flag_y == 0])
    from tuner.export.mlflow import export_to_mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    export = export_to_mlflow(sweep=sweep, tracking_uri=uri, experiment="pareto")
    tags = mlflow.MlflowClient(uri).get_run(export.parent_run_id).data.tags
    assert sorted(tags["tuner.pareto_runs"].split(",")) == front and tags["tuner.pareto_size"] == "3"
    ids = {os.path.basename(run.run_dir): run.mlflow_run_id for run in export.runs}
    assert sorted(tags["tuner.pareto_run_ids"].split(",")) == sorted(ids[name] for name in front)
    assert tags["tuner.metric"] == "f1,f2" and tags["tuner.mode"] == "min,min"
    assert "tuner.best_run" not in tags and "tuner.best_run_id" not in tags

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    from tuner.export.hparams import write_sweep_hparams

    logdir = write_sweep_hparams(sweep)
    events = EventAccumulator(logdir, size_guidance={"tensors": 0})
    events.Reload()
    experiment = metadata.parse_experiment_plugin_data(events.PluginTagToContent("hparams")[metadata.EXPERIMENT_TAG])
    metrics = [(m.name.tag, m.description) for m in experiment.metric_infos]
    assert [tag for tag, _ in metrics[:2]] == ["f1", "f2"]  # both metrics of the sweep lead
    assert all("Pareto front (3)" in text and "lower is better" in text for _, text in metrics[:2])


# a script reporting both objectives every epoch: f = (x + p + 1/epoch, 1 - x + p + 1/epoch); p > 0 is dominated
EPOCHS = """
import argparse, time
p = argparse.ArgumentParser()
p.add_argument("--x", type=float, default=0.0)
p.add_argument("--p", type=float, default=0.0)
a = p.parse_args()
for epoch in range(1, 7):
    print(f"epoch {epoch} f1={a.x + a.p + 1 / epoch:.4f} f2={1 - a.x + a.p + 1 / epoch:.4f}", flush=True)
    time.sleep(0.15)
"""


@pytest.mark.ray
@pytest.mark.slow
def test_moasha_stops_the_dominated_trials_of_a_real_sweep(ray_cluster, workdir, write_script):
    write_script("train.py", EPOCHS)
    # the trade-off trials first, then the dominated ones (p = 3: worse on both metrics at every epoch)
    grid = pd.DataFrame({"x": [0.0, 1.0, 0.5, 0.25, 0.1, 0.9], "p": [0.0, 0.0, 0.0, 0.0, 3.0, 3.0]})
    frame = tuning_run("train.py", grid, metric=["f1", "f2"], mode=["min", "min"], stop="asha", grace_period=1,
                       reduction_factor=2, max_concurrent=2, confirm=False, quiet=True, address=ray_cluster)
    records = Journal.open("runs", frame.attrs["sweep"]).read()
    assert records.header["stop"]["rule"] == "moasha"  # asha with two metrics is MOASHA, recorded as what ran
    status = dict(zip(frame.trial, frame.status))
    assert status[4] == status[5] == "stopped"  # dominated at their first rung
    stops = {r["trial"]: r for r in records.records if r["type"] == "stop"}
    assert stops[4]["rule"] == stops[5]["rule"] == "moasha" and stops[4]["step"] == 1
    assert status[0] == status[1] == "finished"  # the extremes of the front are never behind
    reason = json.load(open(os.path.join(frame.run_dir[frame.trial == 4].iloc[0], "tuner.d", "stop.json")))
    assert reason["rule"] == "moasha" and "non-dominated sorting" in reason["reason"]
    assert frame.stopped_at[frame.trial == 4].iloc[0] == 1
    assert not frame.pareto[frame.status == "stopped"].any()  # a stopped run is never on the front


DRIVER = """
import sys
from tuner import tuning_run
tuning_run("train.py", {"x": {"uniform": [0.0, 1.0]}, "y": {"uniform": [0.0, 1.0]}}, num_samples=8, seed=3,
           search="tpe", metric=["f1", "f2"], mode=["min", "min"], constraints=["memory_mb <= 700"], confirm=False,
           quiet=True,
           max_concurrent=1, address=sys.argv[1])
"""


@pytest.mark.ray
@pytest.mark.slow
def test_a_multi_objective_tpe_sweep_resumes_after_sigkill_without_re_asking(ray_cluster, workdir, script):
    (workdir / "drive.py").write_text(DRIVER)
    proc = subprocess.Popen([sys.executable, "drive.py", ray_cluster], cwd=workdir, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", "")})
    sweeps = workdir / "runs" / "sweeps"
    deadline = time.time() + 120
    while time.time() < deadline:  # three trials told, then the driver is killed hard
        tells = [line for journal in (sweeps.glob("*/journal.jsonl") if sweeps.exists() else [])
                 for line in journal.read_text().splitlines() if '"type": "tell"' in line]
        if len(tells) >= 3:
            break
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    sweep_id = next(sweeps.iterdir()).name
    before = Journal(str(sweeps / sweep_id)).read().records
    asked_before = {r["trial"]: r["flags"] for r in before if r["type"] == "ask"}
    told_before = {r["trial"] for r in before if r["type"] == "tell"}
    assert 3 <= len(told_before) < 8
    assert all(isinstance(r["value"], list) and len(r["value"]) == 2 and len(r["constraints"]) == 1
               for r in before if r["type"] == "tell")

    frame = tuning_run(resume=sweep_id, confirm=False, quiet=True, address=ray_cluster)
    journal = Journal(str(sweeps / sweep_id)).read()
    asks = [r for r in journal.records if r["type"] == "ask"]
    assert len({r["trial"] for r in asks}) == len(asks) == 8  # nothing asked twice
    for trial, flags in asked_before.items():
        assert [r["flags"] for r in asks if r["trial"] == trial] == [flags]
    tells = [r for r in journal.records if r["type"] == "tell"]
    assert sorted(r["trial"] for r in tells) == list(range(8))  # each told once, a value per metric
    assert all(isinstance(r["value"], list) and len(r["value"]) == 2 for r in tells)
    assert journal.header["metric"] == ["f1", "f2"] and journal.header["constraints"] == ["memory_mb <= 700"]
    # the resumed frame is still judged by the front of both metrics, the constraint holding
    assert frame.attrs["metric"] == ["f1", "f2"] and frame.attrs["best_run"] is None and "pareto" in frame
    assert all(v <= 700 for v in frame.metric_memory_mb[frame.pareto])
    # the whole sweep's front (both runs of the driver), from its recorded metrics and constraint
    from tuner.runs.listing import ls_runs

    rows = ls_runs(f"sweep == '{sweep_id}'")
    assert set(rows.trial) == set(range(8))  # a trial the kill interrupted has a second attempt
    assert sorted(pareto_front(rows).run_dir) == \
        brute_front(rows, ["metric_f1", "metric_f2"], lambda r: r["metric_memory_mb"] <= 700)


# -- one-line errors, before anything runs (no cluster)

@pytest.mark.parametrize("argv, says", [
    (["--metric", "f1", "--metric", "f2", "--mode", "min"],
     "2 metrics (f1, f2) but 1 mode (min): give one --mode per --metric, in the same order"),
    (["--metric", "f1", "--metric", "f2", "--search", "cmaes", "--num-samples", "4"],
     "--search cmaes optimizes one metric, and this sweep has 2 (--metric)"),
    (["--metric", "f1", "--metric", "f2", "--stop", "median"],
     "--stop median judges one metric, and this sweep has 2 (--metric)"),
    (["--metric", "f1", "--constraint", "memory_mb == 3"], "is not one comparison of a metric with a number"),
    (["--metric", "f1", "--metric", "f2", "--target", "0.1"], "this sweep has several metrics"),
])
def test_bad_objectives_are_one_line_and_exit_2_before_anything_runs(workdir, script, capsys, argv, says):
    (workdir / "space.yml").write_text("x: {uniform: [0.0, 1.0]}\ny: [0.0, 1.0]\n")
    assert main(["train.py", "--flags", "space.yml", *argv, "--yes"]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1
    assert not (workdir / "runs" / "sweeps").exists()  # nothing half-written


def test_an_unknown_metric_in_a_constraint_is_one_line_naming_the_closest(workdir, script, capsys):
    """Once the script has runs, a constraint's metric that none of them recorded stops the sweep before launch
    (as --metric does); the runs here are the script's own, written by a real single run."""
    assert main(["train.py", "--flag", "x=0.5"]) == 0
    capsys.readouterr()
    assert main(["train.py", "--flag", "x=0.1,0.9", "--metric", "f1", "--metric", "f2",
                 "--constraint", "memroy_mb <= 500", "--yes"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--constraint 'memroy_mb <= 500': metric 'memroy_mb' is not recorded by these runs; did you mean " \
           "memory_mb" in err and len(err.splitlines()) == 1


def test_a_sweep_section_holds_metric_and_mode_lists_and_constraints(workdir, script):
    from tuner.sweep.prepare import prepare_sweep

    (workdir / "space.yml").write_text("sweep: {metric: [f1, f2], mode: [min, max], constraints: ['memory_mb <= 5'],"
                                       " num_samples: 2, search: nsga2}\nx: {uniform: [0.0, 1.0]}\n")
    request = prepare_sweep("train.py", "space.yml")
    assert request.metric is None and request.metrics == ("f1", "f2") and request.modes == ("min", "max")
    assert [c.text for c in request.constraints] == ["memory_mb <= 5"] and request.search == "nsga2"
    (workdir / "bad.yml").write_text("sweep: {metric: [f1, f2], mode: [min]}\nx: [1, 2]\n")
    with pytest.raises(Exception, match="2 metrics .* but 1 mode"):
        prepare_sweep("train.py", "bad.yml")
