"""TensorBoard: event files read back as metrics, `tune tensorboard [SWEEP]`, tensorboard_dir()."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tuner import ls_runs, tensorboard_dir, training_run
from tuner.cli.main import main
from tuner.store.layout import RunPaths
from tuner.tracking import unique_run_dir
from workers.files import atomic_write_json


def write_events(folder: Path, series: dict[str, list[tuple[int, float]]], simple: bool = False) -> Path:
    """An event file as TensorFlow writes it, made with the tensorboard package alone."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from tensorboard.util import tensor_util

    writer = EventFileWriter(str(folder))
    for tag, points in series.items():
        for step, value in points:
            if simple:  # TF1 / tensorboardX style
                summary_value = summary_pb2.Summary.Value(tag=tag, simple_value=value)
            else:  # tf.summary.scalar in TF2: a float32 tensor with the scalars plugin
                summary_value = summary_pb2.Summary.Value(
                    tag=tag, tensor=tensor_util.make_tensor_proto(value, dtype="float32"),
                    metadata=summary_pb2.SummaryMetadata(
                        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")))
            writer.add_event(event_pb2.Event(wall_time=1000.0 + step, step=step,
                                             summary=summary_pb2.Summary(value=[summary_value])))
    writer.close()
    return next(folder.glob("events.out.tfevents*"))


# ---------------------------------------------------------------------------------------------------
# Reading event files back (needs the tensorboard package: part of the tensorflow extra)

tensorboard_package = pytest.mark.tensorflow


@tensorboard_package
def test_keras_layout_reads_back_as_history_names(tmp_path):
    pytest.importorskip("tensorboard")
    from tuner.capture.tb_events import read_event_metrics

    logdir = tmp_path / "tensorboard"
    write_events(logdir / "train", {"epoch_loss": [(0, 0.5), (1, 0.25)], "epoch_accuracy": [(0, 0.75), (1, 0.875)],
                                    "batch_loss": [(0, 9.0), (7, 9.0)]})
    write_events(logdir / "validation", {"epoch_loss": [(0, 0.625), (1, 0.375)],
                                         "evaluation_loss_vs_iterations": [(5, 9.0), (10, 9.0)]})
    rows = read_event_metrics(str(tmp_path))
    assert [{k: v for k, v in r.items() if k != "timestamp"} for r in rows] == [
        {"step": 0, "loss": 0.5, "accuracy": 0.75, "val_loss": 0.625},
        {"step": 1, "loss": 0.25, "accuracy": 0.875, "val_loss": 0.375}]


@tensorboard_package
def test_plain_scalars_keep_their_tags_and_simple_values_are_read(tmp_path):
    pytest.importorskip("tensorboard")
    from tuner.capture.tb_events import read_event_metrics

    write_events(tmp_path / "a", {"loss": [(1, 2.0), (2, 1.0)]})
    write_events(tmp_path / "b", {"lr": [(2, 0.5)]}, simple=True)
    rows = read_event_metrics(str(tmp_path))
    assert [{k: v for k, v in r.items() if k != "timestamp"} for r in rows] == [
        {"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.0, "lr": 0.5}]
    assert rows[1]["timestamp"] == 1002.0


@tensorboard_package
def test_a_torn_event_file_keeps_its_complete_records(tmp_path):
    pytest.importorskip("tensorboard")
    from tuner.capture.tb_events import read_event_metrics

    path = write_events(tmp_path, {"loss": [(1, 2.0), (2, 1.0), (3, 0.5)]})
    data = path.read_bytes()
    path.write_bytes(data[:-7])  # the run was killed while writing the last record
    assert [r["step"] for r in read_event_metrics(str(tmp_path))] == [1, 2]


EVENTS_SCRIPT = """
import os, sys
sys.path[:0] = [{tests!r}, {repo!r}]  # the test module, and the repository it imports its fixtures from
from pathlib import Path
from test_tensorboard import write_events
logdir = Path(os.environ["TUNER_TENSORBOARD_DIR"])
write_events(logdir / "train", {{"epoch_loss": [(0, 0.5), (1, 0.25)]}})
write_events(logdir / "validation", {{"epoch_loss": [(0, 0.75), (1, 0.5)]}})
print("loss: 99")  # printed metrics lose to the event files
"""


@tensorboard_package
def test_a_script_that_only_writes_events_gets_metrics_without_importing_tensorflow(workdir, write_script):
    pytest.importorskip("tensorboard")
    write_script("train.py", EVENTS_SCRIPT.format(tests=str(Path(__file__).parent), repo=str(REPO)))
    training_run("train.py", echo=False)
    row = ls_runs().iloc[0]
    assert (row["metric_loss"], row["metric_val_loss"], row["epochs_completed"]) == (0.25, 0.5, 2)
    # the post-run reader must not load TensorFlow (seconds of start-up in every trial)
    probe = ("import sys; from tuner.capture.tb_events import read_event_metrics; rows = read_event_metrics(sys.argv[1]); "
             "assert rows and 'tensorflow' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", probe, row["run_dir"]], check=True)


def test_the_core_never_imports_tensorflow():
    probe = ("import sys, tuner, tuner.cli, tuner.cli.views, tuner.cli.sweeps, tuner.cli.manage, tuner.training, tuner.spec, tuner.capture.tb_events, "
             "tuner.cli.tensorboard, tuner.capture.stdout_metrics, tuner.runs.listing; tuner.tensorboard_dir; "
             "bad = [m for m in ('tensorflow', 'keras', 'tensorboard') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", probe], check=True, cwd=REPO)


# ---------------------------------------------------------------------------------------------------
# tensorboard_dir()

def test_tensorboard_dir_is_inside_the_active_run(workdir, write_script):
    write_script("train.py", """
        import os
        from tuner import tensorboard_dir
        print("TB", tensorboard_dir(), os.environ["TUNER_TENSORBOARD_DIR"])
    """)
    frame = training_run("train.py", echo=False, stdout_metrics=False)
    run_dir = frame.iloc[0]["run_dir"]
    line = next(l for l in Path(RunPaths(run_dir).output_log).read_text().splitlines() if l.startswith("TB"))
    _, from_api, from_env = line.split()
    assert from_api == from_env == os.path.join(os.path.abspath(run_dir), "tensorboard")
    assert os.path.isdir(from_api)


def test_tensorboard_dir_outside_a_run_is_in_the_working_directory(workdir):
    assert tensorboard_dir() == os.path.join(str(workdir), "tensorboard")


# ---------------------------------------------------------------------------------------------------
# tune tensorboard [SWEEP]

def make_run(runs: Path, flags: dict, sweep: str | None = None, trial: int | None = None, attempt: int = 1,
             events: str | None = "tensorboard/train") -> str:
    run_dir = unique_run_dir(str(runs), seconds_scale=6)
    paths = RunPaths(run_dir)
    os.makedirs(paths.meta)
    atomic_write_json(paths.run_json, {"status": "finished", "start": 1.0, "end": 2.0, "sweep": sweep,
                                       "trial": trial, "attempt": attempt})
    atomic_write_json(paths.flags_json, flags)
    if events:
        os.makedirs(os.path.join(run_dir, events))
        Path(run_dir, events, "events.out.tfevents.1.host.1.v2").write_bytes(b"")
    return run_dir


def tensorboard_spec(capsys, *args: str) -> tuple[int, list[list[str]], str]:
    status = main(["tensorboard", *args, "--no-hparams"])  # the HParams view: test_export_hparams.py
    out, err = capsys.readouterr()
    if status != 0:
        return status, [], err
    command = shlex.split(out)
    assert command[:2] == ["tensorboard", "--logdir_spec"], out
    return status, [entry.split(":", 1) for entry in command[2].split(",")], err


def test_a_sweeps_runs_named_by_trial_and_the_flags_that_vary(workdir, capsys):
    runs = workdir / "runs"
    first = make_run(runs, {"dropout1": 0.2, "dropout2": 0.3, "units": 64}, "s1", 0)
    make_run(runs, {"lr": 1}, None)  # not in the sweep
    second = make_run(runs, {"dropout1": 0.4, "dropout2": 0.3, "units": 64}, "s1", 5, events="logs/fit/train")
    status, spec, err = tensorboard_spec(capsys, "s1")
    assert status == 0, err
    assert spec == [["trial0_dropout1=0.2", os.path.join(first, "tensorboard", "train")],
                    ["trial5_dropout1=0.4", os.path.join(second, "logs", "fit", "train")]]


def test_without_a_sweep_the_latest_runs_and_runs_without_events_are_noted(workdir, capsys):
    runs = workdir / "runs"
    make_run(runs, {"lr": 0.1})
    second = make_run(runs, {"lr": 0.2})
    third = make_run(runs, {"lr": 0.3}, events=None)
    fourth = make_run(runs, {"lr": 0.4})
    status, spec, err = tensorboard_spec(capsys, "--latest", "3")
    assert status == 0, err
    names = [os.path.basename(second) + "_lr=0.2", os.path.basename(fourth) + "_lr=0.4"]
    assert [name for name, _ in spec] == names
    assert f"1 of 3 runs have no TensorBoard event files (e.g. runs/{os.path.basename(third)})" in err


def test_a_retried_trial_gets_its_own_name(workdir, capsys):
    runs = workdir / "runs"
    make_run(runs, {"x": 1}, "s2", 3, attempt=1)
    make_run(runs, {"x": 1}, "s2", 3, attempt=2)
    status, spec, _ = tensorboard_spec(capsys, "s2")
    assert [name for name, _ in spec] == ["trial3", "trial3_attempt2"]


def test_unknown_sweep_and_runs_without_events(workdir, capsys):
    runs = workdir / "runs"
    make_run(runs, {"x": 1}, "s3", 0, events=None)
    assert main(["tensorboard", "nope"]) == 2
    assert "no runs of sweep 'nope'" in capsys.readouterr().err
    assert main(["tensorboard", "s3", "--no-hparams"]) == 2
    assert "tune: error: no TensorBoard event files in sweep s3" in capsys.readouterr().err
    assert main(["tensorboard", "--latest", "0"]) == 2
