"""One ranking per sweep: a sweep run with `--metric val_loss` is ranked by val_loss (lower is better) in every
view of it (the CLI summary, `tune report`, `tune sweeps`, tuning_run's frame attrs, the MLflow parent run, the
TensorBoard HParams view), even where its runs also record val_acc, which the default ranking would pick and
which names another run best. An explicit `--metric` on `tune report` still wins."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run_tune
from tuner import save_sweep_report, tuning_run
from tuner.errors import QueryError
from tuner.runs.ranking import RankingChoice, sweep_ranking

#: x=0 has the best val_acc, x=1 the best val_loss: the two rankings disagree
SCRIPT = """
import argparse
from tuner import log_metrics
p = argparse.ArgumentParser()
p.add_argument("--x", type=int, default=0)
p.add_argument("--noise", type=float, default=0.0)
a = p.parse_args()
log_metrics(step=1, val_acc=[0.9, 0.7, 0.8][a.x], val_loss=[0.5, 0.2, 0.4][a.x])
"""


def _flags(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / "tuner.d" / "flags.json").read_text())


def _page_data(path: str | Path) -> dict:
    html = Path(path).read_text(encoding="utf-8")
    match = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
    assert match, "page data block missing"
    return json.loads(match.group(1))


def _report_best(path: str | Path) -> tuple[str, str, str]:
    """(the first best run's name, the metric it is ranked by, the mode) of a sweep report page."""
    data = _page_data(path)
    row = data["rows"][data["best"][0]]
    return row[data["columns"].index("run")], data["ranked_by"], data["mode"]


def _x_of(runs: Path, name: str) -> int:
    return _flags(runs / name)["x"]


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["grid", "search"])
def test_every_view_of_a_sweep_names_the_run_best_by_the_sweeps_own_metric(ray_cluster, workdir, write_script,
                                                                            tmp_path_factory, kind) -> None:
    write_script("train.py", SCRIPT)
    if kind == "grid":
        sweep_args = ["--flag", "x=0,1,2"]
    else:  # a search space (a distribution beside the grid list): the journal records `search: random`
        (workdir / "space.yml").write_text("x: [0, 1, 2]\nnoise: {uniform: [0.0, 1.0]}\n")
        sweep_args = ["--flags", "space.yml", "--num-samples", "1"]
    done = run_tune("train.py", *sweep_args, "--metric", "val_loss", "--address", ray_cluster, cwd=workdir)
    assert done.returncode == 0, done.stderr
    runs = workdir / "runs"
    sweep = done.stdout.split("sweep ")[-1].split(":")[0]
    journal = json.loads((runs / "sweeps" / sweep / "journal.jsonl").read_text().splitlines()[0])
    assert (journal["metric"], journal["mode"]) == ("val_loss", "min")
    if kind == "search":
        assert journal["search"] == "random"

    # the CLI summary at the end of the sweep
    (summary,) = [line for line in done.stdout.splitlines() if line.startswith("best ")]
    best = Path(summary.split(" in ")[-1]).name
    assert summary.startswith("best val_loss: 0.2 in ") and _x_of(runs, best) == 1

    # tune report (and save_sweep_report): ranked by the sweep's val_loss, not by val_acc
    report = run_tune("report", sweep, "-o", "report.html", "--no-browser", "--no-run-views", cwd=workdir)
    assert report.returncode == 0, report.stderr
    assert _report_best(workdir / "report.html") == (best, "val_loss", "min")
    page = save_sweep_report(sweep, runs_dir=str(runs), filename=str(workdir / "api.html"), run_views=False)
    assert _report_best(page) == (best, "val_loss", "min")

    # an explicit --metric still wins: val_acc, higher is better, names x=0
    asked = run_tune("report", sweep, "--metric", "val_acc", "-o", "acc.html", "--no-browser", "--no-run-views",
                     cwd=workdir)
    assert asked.returncode == 0, asked.stderr
    by_acc, metric, mode = _report_best(workdir / "acc.html")
    assert (_x_of(runs, by_acc), metric, mode) == (0, "val_acc", "max")

    # tune sweeps: the best column
    listing = run_tune("sweeps", cwd=workdir)
    line = next(row for row in listing.stdout.splitlines() if sweep in row)
    assert "val_loss 0.2 (min)" in line and best in line

    # the MLflow parent run names the same best trial
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    exported = run_tune("export", "mlflow", "--sweep", sweep, "--tracking-uri", uri, "--experiment", "e",
                        cwd=workdir, timeout=300)
    assert exported.returncode == 0, exported.stderr
    client = MlflowClient(uri)
    (parent,) = client.search_runs([client.get_experiment_by_name("e").experiment_id],
                                   filter_string="tags.`tuner.kind` = 'sweep'")
    child = client.get_run(parent.data.tags["tuner.best_run_id"])
    assert parent.data.tags["tuner.best_run"] == best == child.info.run_name
    assert (parent.data.tags["tuner.metric"], parent.data.tags["tuner.mode"]) == ("val_loss", "min")
    assert parent.data.metrics["best_val_loss"] == pytest.approx(0.2)

    # the TensorBoard HParams view: the sweep's metric first, its direction and best session described
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    from tuner.export.hparams import write_sweep_hparams

    logdir = write_sweep_hparams(sweep, runs_dir=str(runs))
    events = EventAccumulator(logdir, size_guidance={"tensors": 0})
    events.Reload()
    experiment = metadata.parse_experiment_plugin_data(
        events.PluginTagToContent("hparams")[metadata.EXPERIMENT_TAG])
    lead = experiment.metric_infos[0]
    trial = json.loads((runs / best / "tuner.d" / "run.json").read_text())["trial"]
    assert lead.name.tag == "val_loss"
    assert "lower is better" in lead.description and lead.description.endswith(f"best: trial{trial}")


@pytest.mark.ray
@pytest.mark.slow
def test_tuning_run_attrs_and_the_report_agree_on_the_sweeps_metric(ray_cluster, workdir, write_script) -> None:
    write_script("train.py", SCRIPT)
    frame = tuning_run("train.py", {"x": [0, 1, 2]}, metric="val_loss", address=ray_cluster, confirm=False,
                       quiet=True)
    assert (frame.attrs["metric"], frame.attrs["mode"]) == ("val_loss", "min")
    best = Path(frame.attrs["best_run"]).name
    assert _x_of(Path("runs"), best) == 1
    page = save_sweep_report(frame.attrs["sweep"], runs_dir="runs", filename="r.html", run_views=False)
    assert _report_best(page) == (best, "val_loss", "min")


# ---------------------------------------------------------------------------------------------------
# the rule itself (tuner.runs.ranking.sweep_ranking), on hand-made frames

COLUMNS = ["run_dir", "status", "metric_val_acc", "metric_val_loss", "metric_score"]
ROWS = pd.DataFrame({"run_dir": ["a", "b", "c"], "status": "finished", "metric_val_acc": [0.9, 0.7, 0.8],
                     "metric_val_loss": [0.5, 0.2, 0.4], "metric_score": [3.0, 1.0, 2.0]}).to_dict("records")


@pytest.mark.parametrize("recorded, metric, mode, expected", [
    (RankingChoice(), None, None, ("val_acc", "max", "a")),  # no sweep metric: the default choice
    (RankingChoice("val_loss", "min"), None, None, ("val_loss", "min", "b")),  # the sweep's
    (RankingChoice("val_loss", "min"), "val_acc", None, ("val_acc", "max", "a")),  # asked for: wins
    (RankingChoice("score", "min"), "score", None, ("score", "min", "b")),  # asked = recorded: its recorded mode
    (RankingChoice("score", "min"), None, "max", ("score", "max", "a")),  # only a mode asked: the sweep's metric
    (RankingChoice("score", None), None, None, ("score", "max", "a")),  # no recorded mode: by the name
])
def test_the_sweeps_recorded_choice_ranks_unless_another_is_asked(recorded, metric, mode, expected) -> None:
    ranking = sweep_ranking(COLUMNS, recorded, metric, mode)
    assert ranking is not None
    assert (ranking.metric, ranking.mode, ROWS[ranking.best(ROWS)]["run_dir"]) == expected


def test_a_sweeps_metric_that_no_run_recorded_ranks_nothing_rather_than_another_metric() -> None:
    assert sweep_ranking(COLUMNS, RankingChoice("val_f1", "max")) is None
    with pytest.raises(QueryError, match="did you mean val_acc"):
        sweep_ranking(COLUMNS, RankingChoice("val_loss", "min"), "val_accc")


def test_a_header_without_a_metric_records_no_mode() -> None:
    # journals written before the ranking issue say `mode: max` for sweeps run without --metric
    assert RankingChoice.of_header({"metric": None, "mode": "max"}) == RankingChoice()
    assert RankingChoice.of_header({"metric": "val_loss", "mode": "min"}) == RankingChoice("val_loss", "min")
    assert RankingChoice.of_header({"metric": "val_loss", "mode": "sideways"}) == RankingChoice("val_loss", None)
