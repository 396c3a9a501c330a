"""HTML pages without a browser: page data, escaping, files written, errors and the CLI commands."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from conftest import run_tune
from fabricate_runs import make_run, make_sweep

from tuner import save_run_comparison, save_run_view, save_sweep_report
from tuner.errors import QueryError, RunNotFoundError, SweepNotFoundError, TunerError
from tuner.report.data import chart_groups, diff_lines, run_data
from tuner.report.live import MetricsTail
from tuner.report.render import page_json

EVIL = "</script><script>window.__pwned=1</script>"


def _page_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
    assert match, "page data block missing"
    return json.loads(match.group(1))


def test_val_metrics_share_a_chart_and_accuracy_is_capped_at_one() -> None:
    groups = chart_groups(["loss", "acc", "val_loss", "val_acc", "lr", "val_auc"])
    assert groups == [
        {"title": "loss", "series": ["loss", "val_loss"], "ymax": None},
        {"title": "acc", "series": ["acc", "val_acc"], "ymax": 1.0},
        {"title": "lr", "series": ["lr"], "ymax": None},
        {"title": "val_auc", "series": ["val_auc"], "ymax": None},
    ]
    assert chart_groups(["accuracy"])[0]["ymax"] == 1.0


def test_page_json_cannot_close_its_script_tag_and_round_trips() -> None:
    data = {"flag": EVIL, "nan": float("nan"), "line": "a\u2028b <!-- c"}
    text = page_json(data)
    assert "<" not in text
    assert json.loads(text) == {"flag": EVIL, "nan": None, "line": "a\u2028b <!-- c"}


def test_run_view_is_one_small_self_contained_file_with_escaped_values(workdir: Path) -> None:
    run = make_run("runs", 1, {"note": EVIL, "lr": 0.1}, {"epoch": [1, 2], "loss": [0.5, 0.25]},
                   output=f"hello {EVIL}\n", sources={"train.py": "print('<b>')\n"},
                   artifacts={"model.bin": b"x" * 2048})
    path = save_run_view(run, filename="view.html")
    html = Path(path).read_text(encoding="utf-8")
    assert len(html.encode()) < 1_000_000
    assert "<script src" not in html and "<link" not in html and "@import" not in html
    assert html.count("window.__pwned") == 2 and "</script><script>window.__pwned" not in html
    data = _page_data(html)["run"]
    assert data["flags"]["note"] == EVIL and EVIL in data["output"]
    assert data["metrics"] == {"steps": [1, 2], "series": {"loss": [0.5, 0.25]}}
    assert data["artifacts"] == [{"path": "model.bin", "size": 2048}]
    assert data["sources"][0]["path"] == "train.py"
    assert "".join(t[1] for t in data["sources"][0]["tokens"]) == "print('<b>')\n"
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp.split("style-src")[0]


def test_default_view_is_the_latest_run_and_missing_runs_are_named(workdir: Path) -> None:
    with pytest.raises(RunNotFoundError, match="no runs in 'runs'"):
        save_run_view()
    make_run("runs", 1, {"a": 1}, {})
    newest = make_run("runs", 2, {"a": 2}, {})
    page = _page_data(Path(save_run_view(filename="v.html")).read_text())
    assert page["run"]["name"] == os.path.basename(newest)
    with pytest.raises(RunNotFoundError, match="not found"):
        save_run_view("no-such-run")


def test_failed_run_data_carries_message_and_traceback(workdir: Path) -> None:
    run = make_run("runs", 1, {}, {}, status="failed",
                   error={"message": "boom", "traceback": ["Traceback", "ValueError: boom"]})
    data = run_data(run)
    assert data["status"] == "failed"
    assert data["error"]["message"] == "boom" and data["error"]["traceback"] == "Traceback\nValueError: boom"


def test_comparison_puts_the_older_run_left_and_diffs_flags_sources_and_output(workdir: Path) -> None:
    new = make_run("runs", 5, {"units": 128, "lr": 0.1}, {}, output="epoch 1\nloss 0.2\n",
                   sources={"train.py": "units = 128\n", "extra.py": "x = 1\n"})
    old = make_run("runs", 1, {"units": 64, "lr": 0.1}, {}, output="epoch 1\nloss 0.3\n",
                   sources={"train.py": "units = 64\n", "gone.py": "y = 2\n"})
    data = _page_data(Path(save_run_comparison([new, old], filename="c.html")).read_text())
    assert [r["name"] for r in data["runs"]] == [os.path.basename(old), os.path.basename(new)]
    diffs = {d["title"]: d for d in data["diffs"]}
    assert ["del", "-units: 64"] in diffs["Flags"]["lines"] and ["add", "+units: 128"] in diffs["Flags"]["lines"]
    assert not any("lr" in line for _, line in diffs["Flags"]["lines"] if line[:1] in "+-")
    assert (diffs["train.py"]["state"], diffs["extra.py"]["state"], diffs["gone.py"]["state"]) == \
        ("changed", "added", "removed")
    assert ["add", "+loss 0.2"] in diffs["Console output"]["lines"]


def test_compare_needs_exactly_two_distinct_runs(workdir: Path) -> None:
    one = make_run("runs", 1, {}, {})
    with pytest.raises(RunNotFoundError, match="needs two runs, found 1"):
        save_run_comparison()
    with pytest.raises(TunerError, match="two or more runs, got 1"):
        save_run_comparison([one])
    with pytest.raises(TunerError, match="is given more than once"):
        save_run_comparison([one, one])


def test_diff_lines_of_equal_texts_is_empty() -> None:
    assert diff_lines("a\nb\n", "a\nb\n", "x", "y") == []
    assert diff_lines("a\n", "b\n", "x", "y") == [["hunk", "@@ -1 +1 @@"], ["del", "-a"], ["add", "+b"]]


def test_sweep_report_of_300_trials_lists_them_all_and_links_each_run_view(workdir: Path) -> None:
    make_sweep("runs", "sw1", 300)
    make_run("runs", 999, {"lr": 1}, {"epoch": [1], "val_acc": [0.99]})  # not in the sweep
    path = save_sweep_report("sw1", runs_dir="runs", filename="out/report.html")
    html = Path(path).read_text(encoding="utf-8")
    assert len(html.encode()) < 1_000_000
    data = _page_data(html)
    assert len(data["rows"]) == 300 and data["metric"] == "metric_val_acc" and data["mode"] == "max"
    col = {c: i for i, c in enumerate(data["columns"])}
    assert [data["rows"][i][col["trial"]] for i in range(3)] == [0, 1, 2]
    values = [r[col["metric_val_acc"]] for r in data["rows"]]
    assert values[data["best"][0]] == max(v for v in values if v is not None)
    assert data["statuses"] == {"finished": 292, "failed": 8}
    assert all((Path("out") / link).is_file() for link in data["links"])


def test_sweep_report_metric_choice_and_errors(workdir: Path) -> None:
    make_sweep("runs", "sw1", 6)
    data = _page_data(Path(save_sweep_report("sw1", runs_dir="runs", metric="val_loss", filename="r.html",
                                             run_views=False)).read_text())
    assert data["metric"] == "metric_val_loss" and data["mode"] == "min" and data["links"] == [None] * 6
    with pytest.raises(QueryError, match="did you mean"):
        save_sweep_report("sw1", runs_dir="runs", metric="val_acx", filename="r.html", run_views=False)
    with pytest.raises(SweepNotFoundError, match="sweep 'nope' has no runs"):
        save_sweep_report("nope", runs_dir="runs")


def test_metrics_tail_reads_only_complete_lines_and_notices_a_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "loss": 1}\n{"step": 2, "lo')
    tail = MetricsTail(str(path))
    assert [r["step"] for r in tail.poll()] == [1]
    with open(path, "a") as handle:
        handle.write('ss": 0.5}\n')
    assert [r["step"] for r in tail.poll()] == [1, 2]
    tmp = tmp_path / "new.jsonl"
    tmp.write_text('{"step": 1, "loss": 1}\n')
    os.replace(tmp, path)
    assert [r["step"] for r in tail.poll()] == [1] and tail.generation == 1


# ---------------------------------------------------------------------------------------------------
# CLI

def test_cli_view_compare_report_write_pages_and_print_their_paths(workdir: Path) -> None:
    make_sweep("runs", "sw1", 3)
    result = run_tune("view", "--no-browser", "-o", "v.html", cwd=workdir, env={"DISPLAY": ""})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(workdir / "v.html") and (workdir / "v.html").is_file()
    result = run_tune("compare", cwd=workdir, env={"DISPLAY": ""})  # no display: prints the path
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(".html") and Path(result.stdout.strip()).is_file()
    result = run_tune("report", "sw1", "-o", "r.html", "--no-browser", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert (workdir / "r.html").is_file() and len(list((workdir / "r_runs").iterdir())) == 3


@pytest.mark.parametrize("args, message", [
    (("compare", "only-one"), "compare takes two or more runs (or none for the two latest), got 1"),
    (("report", "missing"), "sweep 'missing' has no runs"),
    (("view", "nope"), "run 'nope' not found"),
    (("view", "--live", "-o", "x.html"), "--output and --live do not go together"),
])
def test_cli_bad_input_is_one_line_and_exit_2(workdir: Path, args: tuple[str, ...], message: str) -> None:
    make_run("runs", 1, {}, {})
    result = run_tune(*args, cwd=workdir)
    assert result.returncode == 2
    assert result.stderr.startswith("tune: error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (workdir / "x.html").exists()


# ---------------------------------------------------------------------------------------------------
# What a run leaves on disk, shown: properties, the model summary, TensorBoard files, the console without
# TensorFlow's start-up lines

#: Keras 3.15's model.summary() as MetricsCallback records it (tuner.integrations.keras), from a real run
KERAS_SUMMARY = """Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ dense (Dense)                   │ (None, 16)             │           144 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_1 (Dense)                 │ (None, 1)              │            17 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 161 (644.00 B)
 Trainable params: 161 (644.00 B)
 Non-trainable params: 0 (0.00 B)"""
KERAS_PROPERTIES = {"epochs": 6, "steps_per_epoch": 6, "optimizer": "Adam", "learning_rate": 0.003000000026077032,
                    "loss_function": "binary_crossentropy", "model": KERAS_SUMMARY}
#: a real TensorFlow 2.21 start (tests/tuner_tests/test_startup_noise.py has more), then the run's own lines
TF_OUTPUT = """WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796676277.338867   21954 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796676277.512482   21954 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available \
CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 FMA, in other operations, rebuild \
TensorFlow with the appropriate compiler flags.
E0000 00:00:1796676286.905328   21954 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to \
cuInit: UNKNOWN ERROR (303)
Epoch 1/2
6/6 - 1s - 238ms/step - accuracy: 0.3490 - loss: 1.0515
Epoch 2/2
6/6 - 0s - 41ms/step - accuracy: 0.3750 - loss: 0.9715
"""


def _keras_run(index: int, pid: int = 21954) -> str:
    from tuner.tracking import write_run_metadata

    run = make_run("runs", index, {"lr": 0.003}, {"epoch": [1, 2], "loss": [1.05, 0.97]},
                   output=TF_OUTPUT.replace("21954", str(pid)), artifacts={"model.keras": b"k" * 100})
    write_run_metadata("properties", KERAS_PROPERTIES, run_dir=run)
    for rel, size in (("tensorboard/train/events.out.tfevents.1796676287.vm.21954.0.v2", 4186),
                      ("tensorboard/validation/events.out.tfevents.1796676288.vm.21954.1.v2", 1920)):
        os.makedirs(os.path.dirname(os.path.join(run, rel)), exist_ok=True)
        Path(run, rel).write_bytes(b"\0" * size)
    return run


def test_run_view_shows_keras_properties_the_model_summary_and_tensorboard_files(workdir: Path) -> None:
    run = _keras_run(1)
    data = _page_data(Path(save_run_view(run, filename="v.html")).read_text())["run"]
    assert data["properties"] == {"epochs": 6, "steps_per_epoch": 6, "optimizer": "Adam",
                                  "learning_rate": 0.003000000026077032, "loss_function": "binary_crossentropy"}
    assert data["property_texts"] == {"model": KERAS_SUMMARY}
    assert data["artifacts"] == [{"path": "model.keras", "size": 100}]  # TensorBoard's files are not artifacts ...
    board = data["tensorboard"]  # ... and are listed on their own, with the command that opens them
    assert board["files"] == [{"path": "tensorboard/train/events.out.tfevents.1796676287.vm.21954.0.v2", "size": 4186},
                              {"path": "tensorboard/validation/events.out.tfevents.1796676288.vm.21954.1.v2",
                               "size": 1920}]
    assert board["event_files"] == 2
    assert board["command"] == f"tensorboard --logdir {os.path.abspath(run)}/tensorboard"
    plain = _page_data(Path(save_run_view(make_run("runs", 2, {}, {}), filename="p.html")).read_text())["run"]
    assert plain["tensorboard"] is None and plain["properties"] == {} and plain["property_texts"] == {}


def test_run_view_folds_tensorflow_start_up_lines_and_output_log_keeps_them(workdir: Path) -> None:
    run = _keras_run(1)
    data = _page_data(Path(save_run_view(run, filename="v.html")).read_text())["run"]
    assert data["output"] == "Epoch 1/2\n6/6 - 1s - 238ms/step - accuracy: 0.3490 - loss: 1.0515\nEpoch 2/2\n" \
                             "6/6 - 0s - 41ms/step - accuracy: 0.3750 - loss: 0.9715\n"
    assert len(data["output_hidden"]) == 5 and data["output_hidden"][0].startswith("WARNING: All log messages")
    assert data["output_hidden_note"] == "5 TensorFlow start-up lines hidden"
    assert Path(run, "tuner.d", "output.log").read_text() == TF_OUTPUT  # the file is whole


def test_comparison_output_diff_leaves_out_start_up_lines_and_says_how_many(workdir: Path) -> None:
    a, b = _keras_run(1, pid=21954), _keras_run(2, pid=30511)  # the same start, another process id and time
    Path(b, "tuner.d", "output.log").write_text(TF_OUTPUT.replace("21954", "30511").replace("0.9715", "0.9001"))
    data = _page_data(Path(save_run_comparison([a, b], filename="c.html")).read_text())
    (console,) = [d for d in data["diffs"] if d["kind"] == "output"]
    changed = [line for kind, line in console["lines"] if kind in ("add", "del")]
    assert changed == ["-6/6 - 0s - 41ms/step - accuracy: 0.3750 - loss: 0.9715",
                       "+6/6 - 0s - 41ms/step - accuracy: 0.3750 - loss: 0.9001"]
    assert console["note"] == "10 TensorFlow start-up lines hidden (5 in A, 5 in B)"
    assert data["runs"][0]["properties"]["optimizer"] == "Adam"  # the columns' Properties cards


def test_a_running_runs_duration_is_the_time_since_it_started(workdir: Path) -> None:
    import time

    run = make_run("runs", 1, {}, {}, status="running", start=time.time() - 42)  # heartbeat == start
    card = dict(run_data(run)["card"])
    assert card["duration"] in ("42.0s", "42.1s", "42.2s", "42.3s")


def test_sweep_report_stars_only_the_best_run_and_names_the_metric_as_the_user_does(workdir: Path) -> None:
    for trial, acc in enumerate([0.71, 0.84, 0.79, 0.84]):  # 4 trials: two tied for best
        make_run("runs", trial, {"lr": 0.1 * (trial + 1)}, {"epoch": [1], "val_accuracy": [acc]}, sweep="few",
                 trial=trial)
    data = _page_data(Path(save_sweep_report("few", runs_dir="runs", metric="val_accuracy", filename="r.html",
                                             run_views=False)).read_text())
    assert data["metric"] == "metric_val_accuracy" and data["ranked_by"] == "val_accuracy"
    assert sorted(data["starred"]) == [1, 3] and len(data["best"]) == 4  # the top list ranks all four
    make_run("runs", 9, {"lr": 1.0}, {"epoch": [1], "val_accuracy": [0.85]}, sweep="few", trial=4)
    data = _page_data(Path(save_sweep_report("few", runs_dir="runs", metric="val_accuracy", filename="r.html",
                                             run_views=False)).read_text())
    assert data["starred"] == [4]
