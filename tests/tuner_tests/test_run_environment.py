"""What a trial meets at run time: its own working directory, metrics parsed while it prints, streams that close."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Callable

import pytest

from tuner import training_run, tuning_run
from tuner.capture.stdout_metrics import LiveMetrics, parse_metric_lines
from tuner.errors import RunFailedError
from tuner.settings import load_settings
from tuner.spec import after_run

REPO = Path(__file__).resolve().parents[2]


def metric_rows(run_dir: str | Path, name: str = "metrics.jsonl") -> list[dict]:
    path = Path(run_dir, "tuner.d", name)
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


# --- a working directory per trial -------------------------------------------------------------------------

WRITER = """
import argparse, os, time
p = argparse.ArgumentParser()
p.add_argument("--x", type=int)
p.add_argument("--barrier")
args = p.parse_args()
rows = open("data/x.csv").read().split()          # a relative read of the project's data
open("model.txt", "w").write(f"model {args.x} {len(rows)}")
os.makedirs("ckpt", exist_ok=True)
open("ckpt/last.txt", "w").write(str(args.x))
open(f"shared/{args.x}", "w").close()              # an existing project folder: this run's own, in its view
open(os.path.join(args.barrier, str(args.x)), "w").close()  # a folder outside the project: really shared
deadline = time.time() + 120
while len(os.listdir(args.barrier)) < 8 and time.time() < deadline:  # all eight have written model.txt
    time.sleep(0.05)
assert len(os.listdir(args.barrier)) == 8, "the trials did not run at the same time"
print(f"loss: {args.x}")
"""


@pytest.mark.ray
def test_eight_concurrent_trials_each_keep_their_own_model_txt(ray_cluster: str, workdir: Path,
                                                               write_script: Callable[..., Path],
                                                               tmp_path_factory: pytest.TempPathFactory) -> None:
    write_script("train.py", WRITER)
    (workdir / "data").mkdir()
    (workdir / "data" / "x.csv").write_text("a\nb\nc\n")
    (workdir / "shared").mkdir()
    barrier = tmp_path_factory.mktemp("barrier")
    result = tuning_run("train.py", {"x": list(range(8)), "barrier": [str(barrier)]}, cpus_per_trial=0.25,
                        gpus_per_trial=0, confirm=False, quiet=True)
    assert result is not None and set(result["status"]) == {"finished"}, result[["status", "error"]]
    for _, row in result.iterrows():
        run_dir = Path(row["run_dir"])
        assert (run_dir / "model.txt").read_text() == f"model {row['flag_x']} 3"
        assert (run_dir / "ckpt" / "last.txt").read_text() == str(row["flag_x"])
        assert sorted(os.listdir(run_dir / "shared")) == [str(row["flag_x"])]  # its own, not the others'
        assert not (run_dir / "data").exists() and not (run_dir / "train.py").exists()  # nothing it did not make
    # nothing landed in the project, not even in its existing folder
    assert not (workdir / "model.txt").exists() and not (workdir / "ckpt").exists()
    assert os.listdir(workdir / "shared") == []
    assert sorted(os.listdir(barrier)) == [str(x) for x in range(8)]


def test_a_single_run_in_a_busy_folder_never_takes_other_programs_files(write_script: Callable[..., Path],
                                                                         workdir: Path) -> None:
    write_script("train.py", "import time\nopen('mine.txt', 'w').write('x')\ntime.sleep(0.5)\n")
    other = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import time
        for i in range(40):
            open(f"theirs{i}.txt", "w").write("y"); time.sleep(0.025)
    """)], cwd=workdir)
    try:
        run_dir = Path(training_run("train.py", echo=False).iloc[0]["run_dir"])
    finally:
        other.wait()
    assert (run_dir / "mine.txt").exists()
    assert not list(run_dir.glob("theirs*"))


# --- metrics, live and clean -------------------------------------------------------------------------------

def test_metrics_jsonl_holds_the_epochs_printed_so_far_while_the_script_waits(
        write_script: Callable[..., Path], workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    # outside the project: a run sees the project as it found it (a file added there while it runs may stay unseen)
    go = tmp_path_factory.mktemp("signal") / "go"
    write_script("train.py", f"""
        import os, time
        for epoch in (1, 2, 3):
            print(f"epoch {{epoch}} loss={{1 / epoch:.4f}} lr=-7.5e-05")
        while not os.path.exists({str(go)!r}):
            time.sleep(0.05)
        print("epoch 4 loss=0.2000 lr=-7.5e-05")
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    tune = subprocess.Popen([sys.executable, "-m", "tuner", "train.py", "--no-echo"], cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        rows: list[dict] = []
        while len(rows) < 3:
            assert tune.poll() is None, tune.communicate()
            assert time.monotonic() < deadline, "no live metrics while the script waits"
            time.sleep(0.1)
            runs = list((workdir / "runs").glob("*/tuner.d"))
            if runs:
                from tuner.store.files import read_run  # what the live view and the progress display read

                rows = read_run(str(runs[0].parent)).metrics
        assert [r["step"] for r in rows] == [1, 2, 3]
        assert rows[2]["loss"] == pytest.approx(1 / 3, abs=1e-4) and rows[0]["lr"] == -7.5e-05
        go.write_text("")
        out, err = tune.communicate(timeout=60)
    finally:
        if tune.poll() is None:
            tune.kill()
    assert tune.returncode == 0, (out, err)
    run_dir = runs[0].parent
    assert [r["step"] for r in metric_rows(run_dir)] == [1, 2, 3, 4]
    assert not (run_dir / "tuner.d" / "printed_metrics.jsonl").exists()  # settled into metrics.jsonl


KERAS_NOISE = """\
2024-05-14 10:21:07.531342: I tensorflow/core/util/port.cc:113] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.
2024-05-14 10:21:07.563113: I tensorflow/core/platform/cpu_feature_guard.cc:210] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
2024-05-14 10:21:08.170539: W tensorflow/compiler/tf2tensorrt/utils/py_utils.cc:38] TF-TRT Warning: Could not find TensorRT
W0000 00:00:1715682069.251871   12345 gpu_device.cc:2344] Cannot dlopen some GPU libraries. step=3 retries=2
WARNING:absl:You are saving your model as an HDF5 file via `model.save()`. threshold=0.5
/usr/lib/python3/dist-packages/keras/src/layers/core/dense.py:87: UserWarning: Do not pass an `input_shape`/`input_dim` argument to a layer. dropout=0.1
TensorFlow version: 2.16.1 at 12:30:45
Epoch 1/2
32/32 ━━━━━━━━━━━━━━━━━━━━ 1s 4ms/step - accuracy: 0.5312 - loss: 0.6931 - val_accuracy: 0.6200 - val_loss: 0.6600
Epoch 2/2
32/32 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - accuracy: 0.7500 - loss: 5.1e-01 - val_accuracy: 0.7000 - val_loss: -7.5e-05
{"epoch": 3, "loss": 0.2, "note": "json line"}
[tune-metric] test_acc=0.875
"""


def test_the_printed_metrics_file_waits_a_period_so_short_runs_write_it_once(tmp_path: Path) -> None:
    """The file is for watching long runs: a run writes its closed rows a period after it began, then at most every
    period (appending what closed since); a run that ends sooner writes them once, at its end, and after_run
    makes that file its metrics.jsonl (a rename, no second parse)."""
    run_dir = tmp_path / "run"
    (run_dir / "tuner.d").mkdir(parents=True)
    preview = run_dir / "tuner.d" / "printed_metrics.jsonl"
    hook = LiveMetrics(str(run_dir), load_settings().stdout_metrics_pattern, (), 0.3)
    hook.line("epoch 1 loss=0.5")
    hook.tick()
    assert not preview.exists()
    time.sleep(0.35)
    hook.tick()
    assert [json.loads(line)["loss"] for line in preview.read_text().splitlines()] == [0.5]
    first = preview.stat().st_ino
    hook.line("epoch 2 loss=0.25")
    hook.tick()  # within a period of the last write: not yet
    assert len(preview.read_text().splitlines()) == 1
    hook.close(completed=False)  # a run that did not end by itself: what closed is kept
    assert [json.loads(line)["loss"] for line in preview.read_text().splitlines()] == [0.5, 0.25]
    assert preview.stat().st_ino == first  # appended, not rewritten

    short = tmp_path / "short"
    (short / "tuner.d").mkdir(parents=True)
    hook = LiveMetrics(str(short), load_settings().stdout_metrics_pattern)
    hook.line("epoch 1 loss=0.5")
    hook.tick()
    assert os.listdir(short / "tuner.d") == []
    hook.close(completed=True)  # ended on its own within the period: its rows, once
    assert os.listdir(short / "tuner.d") == ["printed_metrics.jsonl"]
    after_run(str(short), load_settings().stdout_metrics_pattern)
    assert os.listdir(short / "tuner.d") == ["metrics.jsonl"]
    assert [(r["step"], r["loss"]) for r in metric_rows(short)] == [(1, 0.5)]


def test_a_noisy_keras_log_records_only_the_real_metrics() -> None:
    rows = parse_metric_lines(KERAS_NOISE, load_settings().stdout_metrics_pattern)
    names = {name for row in rows for name in row} - {"step"}
    assert names == {"accuracy", "loss", "val_accuracy", "val_loss"}
    assert rows == [
        {"step": 1, "accuracy": 0.5312, "loss": 0.6931, "val_accuracy": 0.62, "val_loss": 0.66},
        {"step": 2, "accuracy": 0.75, "loss": 0.51, "val_accuracy": 0.7, "val_loss": -7.5e-05},
        {"step": 3, "loss": 0.2},
    ]


def test_a_tagged_line_is_a_metric_when_no_line_has_a_step() -> None:
    pattern = load_settings().stdout_metrics_pattern
    assert parse_metric_lines("[tune-metric] test_acc=0.875\n{\"loss\": 0.25}\n", pattern) == [
        {"step": 1, "test_acc": 0.875}, {"step": 2, "loss": 0.25}]


def test_a_noisy_script_run_records_only_its_metrics(write_script: Callable[..., Path]) -> None:
    write_script("train.py", f"import sys\nsys.stderr.write({KERAS_NOISE!r})\n")
    run_dir = training_run("train.py", echo=False).iloc[0]["run_dir"]
    assert [sorted(r) for r in metric_rows(run_dir)][0] == ["accuracy", "loss", "step", "timestamp", "val_accuracy",
                                                          "val_loss"]


# --- processes that misbehave ------------------------------------------------------------------------------

def test_a_script_that_closes_its_streams_and_hangs_meets_its_timeout(write_script: Callable[..., Path]) -> None:
    write_script("train.py", """
        import os, sys, time
        print("loss: 1", flush=True)
        os.close(1); os.close(2)
        time.sleep(30)
    """)
    started = time.monotonic()
    with pytest.raises(RunFailedError) as caught:
        training_run("train.py", echo=False, timeout_s=2)
    assert time.monotonic() - started < 20
    assert caught.value.status == "timeout"
    record = json.loads(Path(caught.value.run_dir, "tuner.d", "run.json").read_text())
    assert record["status"] == "timeout"


def test_the_heartbeat_beats_while_the_streams_are_closed(tmp_path: Path) -> None:
    from workers.process import RunSpec, run_process

    script = tmp_path / "s.py"
    script.write_text("import os, time\nos.close(1); os.close(2)\ntime.sleep(2)\n")
    meta = tmp_path / "run" / "tuner.d"
    beats: list[float] = []

    class Watch:
        def line(self, text: str) -> None: ...

        def tick(self) -> None:
            try:
                beats.append(json.loads((meta / "run.json").read_text())["heartbeat"])
            except (OSError, ValueError, KeyError):
                pass

        def close(self, settled: bool) -> None: ...

    spec = RunSpec(command=(sys.executable, str(script)), cwd=str(tmp_path), run_dir=str(tmp_path / "run"),
                   run_json=str(meta / "run.json"), output_log=str(meta / "output.log"),
                   error_json=str(meta / "error.json"), record={}, heartbeat_s=0.3, line_hook=(Watch, ()))
    outcome = run_process(spec)
    assert outcome.status == "finished"
    assert len(set(beats)) >= 3  # it kept beating after the streams closed


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_single_run_reaps_a_daemon_its_script_forked(write_script: Callable[..., Path]) -> None:
    write_script("train.py", """
        import os, sys, time
        if os.fork() == 0:          # a classic daemon: new session, out of the run's process group
            os.setsid()
            if os.fork() == 0:
                open("daemon.pid", "w").write(str(os.getpid()))
                os.close(1); os.close(2)
                time.sleep(120)
            os._exit(0)
        while not os.path.exists("daemon.pid"):
            time.sleep(0.02)
        time.sleep(0.1)
    """)
    run_dir = Path(training_run("train.py", echo=False).iloc[0]["run_dir"])
    pid = int((run_dir / "daemon.pid").read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


# --- fail fast on configuration errors ---------------------------------------------------------------------

ARGPARSE_LR = """
import argparse
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.1)
args = p.parse_args()
print(f"loss: {args.lr}")
"""


@pytest.mark.ray
def test_a_misspelt_flag_stops_the_sweep_with_one_error_and_no_resume_advice(ray_cluster: str, workdir: Path,
                                                                             write_script: Callable[..., Path]) -> None:
    from tests.conftest import run_tune

    write_script("train.py", ARGPARSE_LR)
    # --no-check: the interface check would reject `lrr` before launching (tested in test_interface); fail fast is
    # the net for scripts that cannot be inspected
    result = run_tune("train.py", "--flag", "lrr=0.1,0.2,0.3,0.4,0.5,0.6", "--max-concurrent", "1", "--address",
                      ray_cluster, "--yes", "--no-check", cwd=workdir)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("unrecognized arguments: --lrr") == 1, result.stderr
    assert "the first 2 trials all failed the same way" in result.stderr
    assert "check the flag names" in result.stderr and "no new trials are launched" in result.stderr
    assert "tune resume" not in result.stderr + result.stdout
    runs = [p for p in (workdir / "runs").iterdir() if (p / "tuner.d").is_dir()]
    assert len(runs) == 2  # the other four were never launched


@pytest.mark.ray
def test_a_value_error_of_some_trials_is_not_a_configuration_error(ray_cluster: str, workdir: Path,
                                                                   write_script: Callable[..., Path]) -> None:
    write_script("train.py", ARGPARSE_LR + "if args.lr > 0.25:\n    raise ValueError('diverged')\n")
    result = tuning_run("train.py", {"lr": [0.3, 0.4, 0.1, 0.2]}, max_concurrent=1, confirm=False, quiet=True)
    assert result is not None and len(result) == 4
    assert sorted(result["status"]) == ["failed", "failed", "finished", "finished"]


def test_a_script_that_logs_its_own_metrics_keeps_only_those(write_script: Callable[..., Path]) -> None:
    write_script("train.py", """
        import time, tuner
        print("epoch 1 loss=9.0", flush=True)
        time.sleep(0.8)  # the live parser has written its preview by now
        tuner.log_metrics(loss=0.5, step=1)
        print("epoch 2 loss=8.0", flush=True)
        time.sleep(0.8)
    """)
    run_dir = training_run("train.py", echo=False).iloc[0]["run_dir"]
    assert [(r["step"], r["loss"]) for r in metric_rows(run_dir)] == [(1, 0.5)]
    assert not Path(run_dir, "tuner.d", "printed_metrics.jsonl").exists()
