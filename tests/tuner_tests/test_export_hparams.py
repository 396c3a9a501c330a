"""A sweep's TensorBoard HParams view (tuner.export.hparams, `tune tensorboard SWEEP`), read back with the
tensorboard package: its event reader and plugin-data parsers, and a real TensorBoard server."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from synthetic_runs import make_run

from tuner.cli import main
from tuner.errors import MissingExtraError
from tuner.export.hparams import Session, write_hparams, write_sweep_hparams
from tuner.tracking import log_metrics

pytest.importorskip("tensorboard", reason="needs the tensorboard package: pip install -e '.[tensorboard]'")
np = pytest.importorskip("numpy")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.plugins.hparams import api_pb2, metadata  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

T0 = 1_790_000_000.0


def read_folder(folder: Path) -> EventAccumulator:
    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    return events


def experiment_of(logdir: Path) -> api_pb2.Experiment:
    content = read_folder(logdir).PluginTagToContent("hparams")
    return metadata.parse_experiment_plugin_data(content[metadata.EXPERIMENT_TAG])


def session_of(folder: Path) -> tuple[dict, object, dict[str, list[tuple[int, float]]]]:
    """(flag values, the session end info or None, scalars tag -> [(step, value)]) of one session folder."""
    events = read_folder(folder)
    content = events.PluginTagToContent("hparams")
    start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
    values = {k: getattr(v, v.WhichOneof("kind")) for k, v in start.hparams.items()}
    end = (metadata.parse_session_end_info_plugin_data(content[metadata.SESSION_END_INFO_TAG])
           if metadata.SESSION_END_INFO_TAG in content else None)
    scalars = {tag: [(e.step, round(float(tensor_util.make_ndarray(e.tensor_proto)), 5)) for e in events.Tensors(tag)]
               for tag in events.Tags()["tensors"] if not tag.startswith("_hparams_/")}
    return values, end, scalars


def test_every_flag_type_reads_back_typed_with_a_domain_that_holds_every_run(tmp_path: Path) -> None:
    sampled = [0.0001 * 1.2 ** i for i in range(40)]  # a continuous, sampled flag: an interval, not a list
    sessions = []
    for i in range(40):
        flags = {"units": [32, 64][i % 2], "layers": np.int64(i % 3 + 1), "batchnorm": i % 2 == 0,
                 "optimizer": ["adam", "sgd"][i % 2], "dropout": [0.2, 0.5][i % 2], "momentum": np.float32(0.5),
                 "width": 64 if i % 4 else "auto", "lr": sampled[i]}
        status = ["finished", "failed", "killed", "running"][i % 4]
        metrics = [{"step": s, "timestamp": T0 + i * 10 + s, "loss": 1.0 - 0.1 * s, "val_acc": 0.5 + 0.01 * i}
                   for s in range(1, 4)] if status != "failed" else [{"step": 1, "timestamp": T0, "loss": 9.0}]
        sessions.append(Session(f"trial{i}", flags, metrics, {"acc": 0.8} if i == 0 else {}, status,
                                T0 + i * 10, None if status == "running" else T0 + i * 10 + 5))
    logdir = Path(write_hparams(str(tmp_path / "hp"), sessions))

    experiment = experiment_of(logdir)
    infos = {h.name: h for h in experiment.hparam_infos}
    types = {name: api_pb2.DataType.Name(info.type) for name, info in infos.items()}
    assert types == {"units": "DATA_TYPE_FLOAT64", "layers": "DATA_TYPE_FLOAT64", "batchnorm": "DATA_TYPE_BOOL",
                     "optimizer": "DATA_TYPE_STRING", "dropout": "DATA_TYPE_FLOAT64", "momentum": "DATA_TYPE_FLOAT64",
                     "width": "DATA_TYPE_STRING", "lr": "DATA_TYPE_FLOAT64"}
    discrete = {name: [getattr(v, v.WhichOneof("kind")) for v in info.domain_discrete.values]
                for name, info in infos.items() if info.HasField("domain_discrete")}
    assert discrete == {"units": [32, 64], "layers": [1, 2, 3], "batchnorm": [False, True],
                        "optimizer": ["adam", "sgd"], "dropout": [0.2, 0.5], "momentum": [0.5], "width": ["64", "auto"]}
    assert (infos["lr"].domain_interval.min_value, infos["lr"].domain_interval.max_value) == (sampled[0], sampled[-1])
    assert [m.name.tag for m in experiment.metric_infos] == ["loss", "val_acc", "eval_acc"]

    assert sorted(p.name for p in logdir.iterdir() if p.is_dir()) == sorted(s.name for s in sessions)
    values, end, scalars = session_of(logdir / "trial0")
    assert values == {"units": 32, "layers": 1, "batchnorm": True, "optimizer": "adam", "dropout": 0.2,
                      "momentum": 0.5, "width": "auto", "lr": sampled[0]}
    assert api_pb2.Status.Name(end.status) == "STATUS_SUCCESS" and end.end_time_secs == T0 + 5
    assert scalars == {"loss": [(1, 0.9), (2, 0.8), (3, 0.7)], "val_acc": [(1, 0.5), (2, 0.5), (3, 0.5)],
                       "eval_acc": [(0, 0.8)]}
    assert session_of(logdir / "trial5")[0]["width"] == "64"
    assert api_pb2.Status.Name(session_of(logdir / "trial1")[1].status) == "STATUS_FAILURE"
    assert api_pb2.Status.Name(session_of(logdir / "trial2")[1].status) == "STATUS_FAILURE"  # killed
    assert session_of(logdir / "trial3")[1] is None  # still running: no session end yet
    assert session_of(logdir / "trial1")[2] == {"loss": [(1, 9.0)]}


def sweep(root: Path, trials: int = 3) -> list[str]:
    return [make_run(root, f"2026-09-22T10-00-0{t}Z", start=T0 + t, end=T0 + t + 5, sweep="s1", trial=t, attempt=1,
                     flags={"dropout": 0.1 * (t + 1), "units": 64, "augment": t == 0},
                     metrics=[{"loss": 1.0 - 0.1 * s, "val_acc": 0.6 + 0.1 * t} for s in range(3)])
            for t in range(trials)]


def test_tune_tensorboard_sweep_writes_the_hparams_view_first_and_keeps_it_current(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dirs = sweep(workdir / "runs")
    assert main(["tensorboard", "s1"]) == 0
    command = shlex.split(capsys.readouterr().out)
    name, logdir = command[2].split(",")[0].split(":", 1)
    assert command[:2] == ["tensorboard", "--logdir_spec"] and name == "hparams"
    logdir = Path(logdir)
    assert logdir == (workdir / "runs" / "sweeps" / "s1" / "tensorboard").resolve()
    assert sorted(p.name for p in logdir.iterdir() if p.is_dir()) == ["trial0", "trial1", "trial2"]
    assert session_of(logdir / "trial1")[0] == {"dropout": 0.2, "units": 64, "augment": False}
    before = sorted(str(p) for p in logdir.rglob("events.out.tfevents*"))

    assert main(["tensorboard", "s1"]) == 0  # nothing changed: the same files
    assert sorted(str(p) for p in logdir.rglob("events.out.tfevents*")) == before
    time.sleep(0.01)
    log_metrics(step=3, run_dir=dirs[2], loss=0.5, val_acc=0.95)  # a run goes on: the view follows
    assert main(["tensorboard", "s1", "--metric", "val_acc"]) == 0
    capsys.readouterr()
    assert [m.name.tag for m in experiment_of(logdir).metric_infos] == ["val_acc"]
    assert session_of(logdir / "trial2")[2] == {"val_acc": [(1, 0.8), (2, 0.8), (3, 0.8), (3, 0.95)]}
    assert not [p for p in logdir.parent.iterdir() if p.name.startswith(".hparams-") or ".old-" in p.name]

    assert main(["tensorboard", "s1", "--metric", "nope"]) == 2
    assert "metric 'nope' is not recorded by these runs; metrics: loss, val_acc" in capsys.readouterr().err


def test_without_the_tensorboard_package_the_api_names_the_extra_and_the_cli_keeps_the_scalars_command(
        workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    dirs = sweep(workdir / "runs")
    events = Path(dirs[0], "tensorboard", "train")
    events.mkdir(parents=True)
    (events / "events.out.tfevents.1.host.1.v2").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'tuner-sweeps\[tensorboard\]'"):
        write_sweep_hparams("s1")
    assert main(["tensorboard", "s1"]) == 0
    out, err = capsys.readouterr()
    assert "note: the TensorBoard HParams view needs the tensorboard package" in err
    assert shlex.split(out)[2].startswith("trial0") and not (workdir / "runs" / "sweeps").exists()


def test_writing_the_view_never_imports_tensorflow(workdir: Path) -> None:
    sweep(workdir / "runs")
    probe = ("import sys; from tuner.export.hparams import write_sweep_hparams; write_sweep_hparams('s1'); "
             "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    done = subprocess.run([sys.executable, "-c", probe], cwd=workdir, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "X-XSRF-Protected": "1"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_a_tensorboard_server_shows_the_sweeps_hparams_table(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep(workdir / "runs")
    assert main(["tensorboard", "s1"]) == 0
    spec = shlex.split(capsys.readouterr().out)[2]
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir_spec", spec, "--host", "127.0.0.1",
                               "--port", str(port), "--load_fast=false"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/data/plugin/hparams"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                experiment = _post(f"{base}/experiment", {"experimentName": ""})
                if experiment.get("hparamInfos"):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "TensorBoard did not come up"
            time.sleep(0.5)
        groups = _post(f"{base}/session_groups", {
            "experimentName": "", "allowedStatuses": ["STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING",
                                                      "STATUS_UNKNOWN"], "colParams": [], "startIndex": 0,
            "sliceSize": 100})
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert sorted(h["name"] for h in experiment["hparamInfos"]) == ["augment", "dropout", "units"]
    table = {g["name"]: g for g in groups["sessionGroups"]}
    assert sorted(table) == ["trial0", "trial1", "trial2"]
    row = table["trial2"]
    assert row["hparams"] == {"dropout": pytest.approx(0.3), "units": 64.0, "augment": False}
    values = {m["name"]["tag"]: m["value"] for m in row["metricValues"]}
    assert values == {"loss": pytest.approx(0.8), "val_acc": pytest.approx(0.8)}
    assert [(s["name"], s["status"]) for s in row["sessions"]] == [("hparams/trial2", "STATUS_SUCCESS")]


@pytest.mark.ray
def test_a_real_sampled_sweep_over_numpy_ints_bools_strings_and_floats_reads_back_whole(
        workdir: Path, ray_cluster: str, capsys: pytest.CaptureFixture[str]) -> None:
    from tuner import tuning_run

    (workdir / "train.py").write_text(
        "from tuner import flag_boolean, flag_integer, flag_numeric, flag_string, flags, log_metrics\n"
        "F = flags(flag_integer('units', 8), flag_boolean('bn', False), flag_string('opt', 'sgd'), "
        "flag_numeric('lr', 0.1))\n"
        "for epoch in range(2):\n"
        "    log_metrics(epoch=epoch, acc=F.units / 100 + F.lr + epoch)\n")
    grid = {"units": np.array([16, 32], dtype=np.int64), "bn": [True, False], "opt": ["adam", "sgd"],
            "lr": [0.01, 0.1]}
    frame = tuning_run("train.py", flags=grid, sample=0.5, seed=3, confirm=False, quiet=True, address=ray_cluster)
    assert len(frame) == 8 and set(frame["status"]) == {"finished"}
    logdir = Path(write_sweep_hparams(frame.attrs["sweep"]))
    experiment = experiment_of(logdir)
    assert {h.name: api_pb2.DataType.Name(h.type) for h in experiment.hparam_infos} == {
        "units": "DATA_TYPE_FLOAT64", "bn": "DATA_TYPE_BOOL", "opt": "DATA_TYPE_STRING", "lr": "DATA_TYPE_FLOAT64"}
    sessions = sorted(p.name for p in logdir.iterdir() if p.is_dir())
    assert len(sessions) == 8
    for name in sessions:  # every sampled run is a session whose values lie in the declared domains
        values, end, scalars = session_of(logdir / name)
        domains = {h.name: [getattr(v, v.WhichOneof("kind")) for v in h.domain_discrete.values]
                   for h in experiment.hparam_infos}
        assert all(values[k] in domains[k] for k in domains), (values, domains)
        assert api_pb2.Status.Name(end.status) == "STATUS_SUCCESS" and [s for s, _ in scalars["acc"]] == [0, 1]
