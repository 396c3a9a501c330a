"""`tune export mlflow` / export_to_mlflow, read back from a real MLflow tracking store (SQLite) with MLflow's
own client and `mlflow.search_runs`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from synthetic_runs import make_run

from tuner import ls_runs
from tuner.cli import main
from tuner.errors import MissingExtraError, SweepNotFoundError
from tuner.store.files import update_tags
from tuner.store.layout import RunPaths
from tuner.tracking import log_metrics

mlflow = pytest.importorskip("mlflow", reason="needs the mlflow extra: pip install -e '.[mlflow]'")
from mlflow import MlflowClient  # noqa: E402

T0 = 1_790_000_000.0
GIT = {"commit": "3f2a9c1d0e", "branch": "main", "dirty": False}


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite store for the module (creating its schema takes seconds); each test uses its own experiment."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def experiment(request: pytest.FixtureRequest, tracking_uri: str, workdir: Path) -> str:
    name = request.node.name
    MlflowClient(tracking_uri).create_experiment(name, artifact_location=(workdir / "artifacts").as_uri())
    return name


def sweep_runs(root: Path) -> list[str]:
    """A three-trial sweep: finished (with artifacts), failed, killed; ints, floats, bools and strings as flags."""
    dirs = []
    for trial, (status, dropout, units, optimizer) in enumerate(
            [("finished", 0.2, 64, "adam"), ("failed", 0.3, 128, "sgd"), ("killed", 0.4, 64, "adam")]):
        run_dir = make_run(root, f"2026-09-22T10-00-0{trial}Z", status=status, start=T0 + trial * 10,
                           end=T0 + trial * 10 + 5, flags={"dropout": dropout, "units": units,
                                                            "optimizer": optimizer, "augment": trial == 0},
                           metrics=[{"loss": 1.0 - 0.1 * s, "val_acc": 0.5 + 0.1 * s + 0.01 * trial} for s in range(4)],
                           evaluation={"acc": 0.9 + 0.01 * trial}, tags={"team": "vision"}, sweep="s1", trial=trial,
                           attempt=1, git=GIT)
        Path(RunPaths(run_dir).output_log).write_text(f"trial {trial} output\n")
        dirs.append(run_dir)
    Path(dirs[0], "model.txt").write_text("weights")
    Path(dirs[0], "plots").mkdir()
    Path(dirs[0], "plots", "loss.svg").write_text("<svg/>")
    return dirs


def by_name(client: MlflowClient, experiment: str) -> dict[str, object]:
    exp = client.get_experiment_by_name(experiment)
    return {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}


def test_a_sweep_becomes_a_parent_run_with_each_trial_as_a_child_holding_everything_it_recorded(
        workdir: Path, tracking_uri: str, experiment: str) -> None:
    dirs = sweep_runs(workdir / "runs")
    result = mlflow_export(tracking_uri, experiment, sweep="s1")
    client = MlflowClient(tracking_uri)
    runs = by_name(client, experiment)
    assert sorted(runs) == sorted([os.path.basename(d) for d in dirs] + ["sweep-s1"])
    parent = runs["sweep-s1"]
    assert result.parent_run_id == parent.info.run_id and parent.data.tags["tuner.kind"] == "sweep"
    assert parent.info.status == "FAILED"  # a sweep with failed trials
    assert parent.info.end_time == int((T0 + 25) * 1000)

    first = runs[os.path.basename(dirs[0])]
    assert first.data.params == {"dropout": "0.2", "units": "64", "optimizer": "adam", "augment": "True"}
    assert first.info.status == "FINISHED"
    assert (first.info.start_time, first.info.end_time) == (int(T0 * 1000), int((T0 + 5) * 1000))
    ours = [json.loads(line) for line in Path(RunPaths(dirs[0]).metrics_jsonl).read_text().splitlines()]
    for key in ("loss", "val_acc"):
        history = sorted(client.get_metric_history(first.info.run_id, key), key=lambda m: m.step)
        assert [(m.step, m.value, m.timestamp) for m in history] == [
            (row["step"], row[key], int(round(row["timestamp"] * 1000))) for row in ours]
    assert first.data.metrics["eval_acc"] == pytest.approx(0.9)
    tags = first.data.tags
    assert tags["team"] == "vision" and tags["mlflow.runName"] == os.path.basename(dirs[0])
    assert tags["mlflow.source.name"] == "/src/train.py" and tags["mlflow.source.git.commit"] == GIT["commit"]
    assert tags["mlflow.parentRunId"] == parent.info.run_id and tags["tuner.trial"] == "0"
    assert [runs[os.path.basename(d)].info.status for d in dirs] == ["FINISHED", "FAILED", "KILLED"]

    artifacts = workdir / "downloaded"
    mlflow.artifacts.download_artifacts(run_id=first.info.run_id, dst_path=str(artifacts), tracking_uri=tracking_uri)
    assert (artifacts / "model.txt").read_text() == "weights"
    assert (artifacts / "plots" / "loss.svg").read_text() == "<svg/>"
    assert (artifacts / "tuner.d" / "output.log").read_text() == "trial 0 output\n"


def mlflow_export(tracking_uri: str, experiment: str, **kwargs):
    from tuner import export_to_mlflow

    return export_to_mlflow(tracking_uri=tracking_uri, experiment=experiment, **kwargs)


def test_exporting_again_updates_the_same_mlflow_runs_and_sends_only_what_is_new(
        workdir: Path, tracking_uri: str, experiment: str) -> None:
    root = workdir / "runs"
    active = make_run(root, "2026-09-22T11-00-00Z", status="running", flags={"lr": 0.1},
                      metrics=[{"loss": 0.9}, {"loss": 0.7}], evaluation={"acc": 0.5})
    sweep_runs(root)
    first = mlflow_export(tracking_uri, experiment, sweep="s1")
    mlflow_export(tracking_uri, experiment, runs=[active])
    client = MlflowClient(tracking_uri)
    run_id = json.loads(Path(RunPaths(active).mlflow_json).read_text())["exports"][0]["run_id"]
    assert client.get_run(run_id).info.status == "RUNNING"

    # the active run goes on and finishes; a tag changes; a sweep artifact grows
    log_metrics(step=3, run_dir=active, loss=0.5)
    record = json.loads(Path(RunPaths(active).run_json).read_text())
    record.update(status="finished", end=time.time(), exit_code=0)
    Path(RunPaths(active).run_json).write_text(json.dumps(record))
    update_tags(active, {"stage": "done"})
    Path(first.runs[0].run_dir, "model.txt").write_text("better weights")

    again = mlflow_export(tracking_uri, experiment, sweep="s1")
    mlflow_export(tracking_uri, experiment, runs=active)
    assert [r.mlflow_run_id for r in again.runs] == [r.mlflow_run_id for r in first.runs]
    assert not any(r.created for r in again.runs) and again.parent_run_id == first.parent_run_id
    assert [r.unchanged for r in again.runs] == [False, True, True]  # only the trial whose artifact grew is sent
    assert len(by_name(client, experiment)) == 5  # 3 trials, their parent, the single run: nothing duplicated
    updated = client.get_run(run_id)
    assert updated.info.status == "FINISHED" and updated.data.tags["stage"] == "done"
    assert [m.value for m in sorted(client.get_metric_history(run_id, "loss"), key=lambda m: m.step)] == [0.9, 0.7, 0.5]
    assert len(client.get_metric_history(run_id, "eval_acc")) == 1  # stamped at the end now, still one point
    for exported in first.runs:
        assert len(client.get_metric_history(exported.mlflow_run_id, "loss")) == 4
    downloaded = mlflow.artifacts.download_artifacts(run_id=first.runs[0].mlflow_run_id, artifact_path="model.txt",
                                                     dst_path=str(workdir / "dl"), tracking_uri=tracking_uri)
    assert Path(downloaded).read_text() == "better weights"


FILTERS = [
    "metrics.val_acc > 0.75",
    "params.optimizer = 'adam'",
    "params.dropout = '0.2'",
    "params.units = '64' and metrics.loss < 0.8",
    "tags.team = 'vision' and attributes.status = 'FINISHED'",
    "attributes.status = 'FAILED'",
    "attributes.status != 'FINISHED'",
    "params.optimizer LIKE 'ad%'",
    "metrics.val_acc > 0.7 AND params.augment = 'True'",
]


@pytest.mark.parametrize("filter_string", FILTERS)
def test_mlflow_search_runs_finds_the_runs_that_ls_runs_finds_with_the_same_filter(
        workdir: Path, tracking_uri: str, experiment: str, filter_string: str) -> None:
    root = workdir / "runs"
    sweep_runs(root)
    make_run(root, "2026-09-22T12-00-00Z", status="running", flags={"dropout": 0.2, "units": 32, "optimizer": "sgd"},
             metrics=[{"loss": 0.6, "val_acc": 0.8}], tags={"team": "nlp"})
    mlflow_export(tracking_uri, experiment)  # every run of the runs directory, no parent
    ours = {os.path.basename(p) for p in ls_runs(filter_string)["run_dir"]}
    mlflow.set_tracking_uri(tracking_uri)
    try:
        theirs = mlflow.search_runs(experiment_names=[experiment], filter_string=filter_string)
    finally:
        mlflow.set_tracking_uri(None)
    names = set(theirs["tags.mlflow.runName"]) if len(theirs) else set()
    assert ours and names == ours


def test_tune_export_mlflow_prints_one_line_per_run_and_refuses_bad_input(
        workdir: Path, tracking_uri: str, experiment: str, capsys: pytest.CaptureFixture[str]) -> None:
    sweep_runs(workdir / "runs")
    assert main(["export", "mlflow", "--sweep", "s1", "--tracking-uri", tracking_uri, "--experiment", experiment]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out[:3]] == ["created"] * 3 and "(FAILED)" in out[1]
    assert out[-1].startswith(f"exported 3 runs to experiment '{experiment}'") and "sweep parent run" in out[-1]
    assert main(["export", "mlflow", "--sweep", "s1", "--tracking-uri", tracking_uri, "--experiment", experiment]) == 0
    again = capsys.readouterr().out
    assert ": 0 new, 0 updated, 3 unchanged" in again and again.startswith("unchanged ")

    for argv, message in [
        (["export", "mlflow", "--sweep", "nope", "--tracking-uri", tracking_uri], "no runs of sweep 'nope'"),
        (["export", "mlflow", "2026-09-22T10-00-00Z", "--sweep", "s1", "--tracking-uri", tracking_uri], "not both"),
        (["export", "mlflow", "--sweep", "s1"], "--tracking-uri is required"),
        (["export", "wandb"], "unknown export target 'wandb'"),
        (["export", "mlflow", "missing-run", "--tracking-uri", tracking_uri], "run 'missing-run' not found"),
    ]:
        env_uri = os.environ.pop("MLFLOW_TRACKING_URI", None)
        try:
            assert main(argv) == 2, argv
        finally:
            if env_uri is not None:
                os.environ["MLFLOW_TRACKING_URI"] = env_uri
        err = capsys.readouterr().err
        assert err.startswith("tune: error: ") and message in err and err.count("\n") == 1, err


def test_without_mlflow_the_api_and_the_cli_name_the_extra_to_install(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sweep_runs(workdir / "runs")
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what `import mlflow` sees where it is not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'tuner-sweeps\[mlflow\]'"):
        mlflow_export("sqlite:///x.db", "e", sweep="s1")
    code = ("import sys; sys.modules['mlflow'] = None; from tuner.cli import main; "
            "sys.exit(main(['export', 'mlflow', '--sweep', 's1', '--tracking-uri', 'sqlite:///x.db']))")
    done = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr == ("tune: error: tune export mlflow needs the mlflow package: "
                           "pip install 'tuner-sweeps[mlflow]'\n")
    assert not (workdir / "x.db").exists()


def test_the_core_and_listing_never_import_mlflow(workdir: Path) -> None:
    code = ("import sys, tuner; from tuner.cli import main; main(['ls']); main(['export', '--help']); "
            "tuner.export_to_mlflow; assert 'mlflow' not in sys.modules, 'mlflow imported'")
    done = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_an_unknown_sweep_is_a_sweep_not_found_error(workdir: Path, tracking_uri: str) -> None:
    with pytest.raises(SweepNotFoundError):
        mlflow_export(tracking_uri, "unused", sweep="nope")


def test_an_ls_runs_frame_exports_exactly_its_rows(workdir: Path, tracking_uri: str, experiment: str) -> None:
    dirs = sweep_runs(workdir / "runs")
    result = mlflow_export(tracking_uri, experiment, runs=ls_runs("attributes.status = 'FINISHED'"))
    assert [os.path.abspath(r.run_dir) for r in result.runs] == [dirs[0]] and result.parent_run_id is None
    assert list(by_name(MlflowClient(tracking_uri), experiment)) == [os.path.basename(dirs[0])]


def test_an_unreachable_tracking_server_fails_in_seconds_with_what_to_do(workdir: Path) -> None:
    from tuner.errors import ExportError

    sweep_runs(workdir / "runs")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ExportError, match=r"cannot reach the MLflow tracking server .* `mlflow server --host"):
        mlflow_export(f"http://127.0.0.1:{port}", "e", sweep="s1")
    assert not list((workdir / "runs").glob("*/tuner.d/mlflow.json"))
