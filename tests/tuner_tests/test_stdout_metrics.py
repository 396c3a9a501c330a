"""Printed `name: number` lines become metrics for scripts that never import tuner."""

from __future__ import annotations

import json
import math

import pytest

from tests.conftest import run_tune
from tuner import ConfigError, ls_runs, training_run
from tuner.capture.stdout_metrics import compile_pattern, parse_metric_lines
from tuner.settings import load_settings

PATTERN = load_settings().stdout_metrics_pattern


def parse(text: str, **kwargs) -> list[dict]:
    return parse_metric_lines(text, PATTERN, **kwargs)


def test_several_metrics_per_line_with_the_epoch_as_step():
    assert parse("epoch 3 loss=0.25 acc=0.91\nepoch 4 loss=0.2 acc=0.93\n") == [
        {"step": 3, "loss": 0.25, "acc": 0.91}, {"step": 4, "loss": 0.2, "acc": 0.93}]


def test_step_and_epoch_as_named_values_and_colon_separated_metrics():
    rows = parse("step=10 loss: 0.5, lr: 1e-3\nstep: 20 | loss: 0.25 | lr: 5E-4\nEpoch: 3/10 val_loss: 0.1\n")
    assert rows == [{"step": 10, "loss": 0.5, "lr": 0.001}, {"step": 20, "loss": 0.25, "lr": 0.0005},
                    {"step": 3, "val_loss": 0.1}]


def test_lines_without_any_step_are_numbered_from_one():
    assert parse("loss: 0.9\nsome text\nloss: 0.5 acc: -0.1\n") == [
        {"step": 1, "loss": 0.9}, {"step": 2, "loss": 0.5, "acc": -0.1}]


def test_nan_and_inf_are_kept_as_printed():
    (row,) = parse("epoch 1 loss: nan acc=inf val=-inf\n")
    assert row["step"] == 1 and math.isnan(row["loss"]) and row["acc"] == math.inf and row["val"] == -math.inf


def test_keras_progress_output_gives_each_epochs_final_values():
    # what Keras 3 writes to a pipe with verbose=1: a header, then \r-separated progress updates with
    # ANSI styling and backspaces; the last update of an epoch holds its final logs (val_* included)
    bar = "\x1b[32m━━━━━━━━━━\x1b[0m"
    text = ""
    for epoch, (loss, val) in enumerate([(0.9, 0.8), (0.5, 0.45)], start=1):
        text += (f"Epoch {epoch}/2\n\r\x1b[1m1/5\x1b[0m {bar} 2s 696ms/step - accuracy: 0.1000 - loss: 2.0000"
                 + "\x08" * 20 + f"\r\x1b[1m5/5\x1b[0m {bar} 1s 64ms/step - accuracy: 0.{epoch}000 - "
                 f"loss: {loss:.4f} - val_accuracy: 0.9000 - val_loss: {val:.4f}\n")
    # model.evaluate() prints its own progress after training: not an epoch
    text += f"\r1/7 {bar} - accuracy: 0.9900 - loss: 0.0100\r7/7 {bar} - accuracy: 0.9800 - loss: 0.0200\n"
    text += "Test accuracy: 0.98\n"
    assert parse(text) == [
        {"step": 1, "accuracy": 0.1, "loss": 0.9, "val_accuracy": 0.9, "val_loss": 0.8},
        {"step": 2, "accuracy": 0.2, "loss": 0.5, "val_accuracy": 0.9, "val_loss": 0.45}]


def test_keras_verbose_2_lines():
    text = ("Epoch 1/2\n17/17 - 1s - 62ms/step - accuracy: 0.2126 - loss: 2.1980 - val_accuracy: 0.6037\n"
            "Epoch 2/2\n17/17 - 0s - 7ms/step - accuracy: 0.4791 - loss: 1.7091 - val_accuracy: 0.8259\n")
    assert parse(text) == [{"step": 1, "accuracy": 0.2126, "loss": 2.198, "val_accuracy": 0.6037},
                           {"step": 2, "accuracy": 0.4791, "loss": 1.7091, "val_accuracy": 0.8259}]


def test_a_header_line_sets_the_step_of_the_metric_lines_below_it():
    assert parse("== epoch 1 ==\nloss: 0.9\nacc: 0.5\n== epoch 2 ==\nloss: 0.4\n") == [
        {"step": 1, "loss": 0.9, "acc": 0.5}, {"step": 2, "loss": 0.4}]


def test_a_sentence_that_mentions_a_step_is_not_a_header():
    assert parse("Step 1: loading data\nloss: 0.9\nloss: 0.5\n") == [{"step": 1, "loss": 0.9},
                                                                     {"step": 2, "loss": 0.5}]


@pytest.mark.parametrize("line", [
    "started 12:30:01 at=12:30:01 elapsed: 1:02:03",
    "date: 2024-01-01 version: 3.11.2",
    "val: [1,2] shape=(3, 4) batch: 3/10 size: 1,024",
    "see http://localhost:8080/x or https://host:443",
    "I0000 00:00:1795335187.415728    4618 cudart_stub.cc:31] Could not find cuda drivers",
    "/home/u/train.py:12: UserWarning: something",
    "train.py:12: DeprecationWarning: old",
    "argv: --lr=0.1 -x=3",
    "ratio: 3x and id: 0x1f and count: 12abc",
])
def test_no_false_positives(line):
    assert parse(line + "\n") == []


def test_the_runs_flags_are_not_metrics():
    text = "Namespace(dropout=0.2, epochs=10, lr=0.001)\nepoch 1 loss=0.5\n"
    assert parse(text, ignore=["dropout", "epochs", "lr"]) == [{"step": 1, "loss": 0.5}]


def test_once_any_line_has_a_step_lines_without_one_are_ignored():
    text = "lr: 0.1\nepoch 1 loss=0.5\nepoch 2 loss=0.4\ntest_loss: 0.45\n"
    assert parse(text) == [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.4}]


def test_a_custom_pattern():
    assert parse_metric_lines("loss is 0.3\nstep is 7 acc is 0.5\n", r"(?P<name>\w+) is (?P<value>[\d.]+)") == [
        {"step": 7, "acc": 0.5}]


@pytest.mark.parametrize("pattern, message", [
    ("(?P<name>\\w+", "not a valid regular expression"),
    ("(?P<name>\\w+)=(\\d+)", "no group value"),
])
def test_bad_patterns_are_config_errors(pattern, message):
    with pytest.raises(ConfigError, match=message):
        compile_pattern(pattern)


def test_a_bad_pattern_in_tuner_yml_is_reported_before_anything_runs(workdir, write_script):
    write_script("train.py", "print('loss: 1')\n")
    (workdir / "tuner.yml").write_text("stdout_metrics_pattern: '(?P<name>x)'\n", encoding="utf-8")
    result = run_tune("train.py", cwd=workdir)
    assert result.returncode == 2
    assert "tuner.yml: setting 'stdout_metrics_pattern': the regex has no group value" in result.stderr
    assert not (workdir / "runs").exists()


ARGPARSE_SCRIPT = """
import argparse
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--epochs", type=int, default=3)
args = p.parse_args()
print(args)
for epoch in range(1, args.epochs + 1):
    print(f"epoch {epoch} loss={1 / (epoch * args.lr):.3f} acc={0.3 * epoch:.2f}")
"""


def test_a_plain_argparse_script_gets_metric_columns_in_ls_runs(workdir, write_script):
    write_script("train.py", ARGPARSE_SCRIPT)
    training_run("train.py", flags={"lr": 0.5, "epochs": 3}, echo=False)
    row = ls_runs().iloc[0]
    assert row["metric_loss"] == pytest.approx(1 / 1.5, abs=1e-3)
    assert row["metric_acc"] == pytest.approx(0.9)
    assert row["epochs_completed"] == 3
    assert "metric_lr" not in row.index  # printed by print(args): a flag, not a metric
    lines = (workdir / row["run_dir"] / "tuner.d" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3]


def test_no_stdout_metrics_switches_it_off(workdir, write_script):
    write_script("train.py", ARGPARSE_SCRIPT)
    result = run_tune("train.py", "--no-stdout-metrics", "--no-echo", cwd=workdir)
    assert result.returncode == 0, result.stderr
    training_run("train.py", echo=False, stdout_metrics=False)
    frame = ls_runs()
    assert len(frame) == 2
    assert not [c for c in frame.columns if c.startswith("metric_")]
    assert (frame["epochs_completed"] == 0).all()


def test_the_setting_switches_it_off(workdir, write_script, monkeypatch):
    write_script("train.py", ARGPARSE_SCRIPT)
    monkeypatch.setenv("TUNER_STDOUT_METRICS", "false")
    training_run("train.py", echo=False)
    assert not [c for c in ls_runs().columns if c.startswith("metric_")]


def test_metrics_the_script_logged_are_not_mixed_with_printed_ones(workdir, write_script):
    write_script("train.py", """
        from tuner import log_metrics
        for epoch in (1, 2):
            log_metrics(epoch=epoch, loss=epoch * 10.0)
            print(f"epoch {epoch} loss={epoch} printed_only=1")
    """)
    training_run("train.py", echo=False)
    row = ls_runs().iloc[0]
    assert row["metric_loss"] == 20.0
    assert "metric_printed_only" not in row.index


@pytest.mark.timeout(60)
@pytest.mark.parametrize("line", ["x" * 1_000_000, "a." * 500_000, ("ab" * 20 + "Warning ") * 25_000, "-" * 1_000_000])
def test_a_megabyte_line_of_noise_is_read_in_linear_time(line):
    # was: a 30 kB line of `x` took 12 s in the noise filter (`\w*Warning` backtracked from every position), so a
    # script that printed a long line once made every trial of the sweep 25 s slower; a quadratic rule would take
    # hours here, the timeout ends the test instead
    rows = parse(line + "\nloss: 0.5\n")
    assert rows == [{"step": 1, "loss": 0.5}]


def _run_with_printed_rows(tmp_path, status: str, stop: dict | None = None):
    from tuner.capture.stdout_metrics import LiveMetrics

    run_dir = tmp_path / "run"
    (run_dir / "tuner.d").mkdir(parents=True)
    hook = LiveMetrics(str(run_dir), PATTERN, (), 0.0)
    for epoch in range(1, 5):
        hook.line(f"epoch {epoch} loss={1 / epoch:.3f}")
        hook.tick()
    hook.line("Test loss: 0.3")
    hook.close(completed=status == "finished")
    (run_dir / "tuner.d" / "run.json").write_text(json.dumps({"status": status}))
    if stop is not None:
        (run_dir / "tuner.d" / "stop.json").write_text(json.dumps(stop))
    return run_dir


def _rows(run_dir) -> list[tuple]:
    from tuner.store.files import read_metric_lines

    return [(r["step"], r["loss"]) for r in read_metric_lines(str(run_dir / "tuner.d" / "metrics.jsonl"))[0]]


def test_after_run_settles_the_live_rows_by_renaming_them_and_again_changes_nothing(tmp_path):
    from tuner.spec import after_run

    run_dir = _run_with_printed_rows(tmp_path, "finished")
    printed = (run_dir / "tuner.d" / "printed_metrics.jsonl").read_text()
    after_run(str(run_dir), PATTERN)
    assert (run_dir / "tuner.d" / "metrics.jsonl").read_text() == printed  # the live file itself, not a re-parse
    assert json.loads((run_dir / "tuner.d" / "evaluation.json").read_text()) == {"loss": 0.3}
    after_run(str(run_dir), PATTERN)  # a post-run step run again (its worker died) finds nothing to settle
    assert _rows(run_dir) == [(1, 1.0), (2, 0.5), (3, 0.333), (4, 0.25)]
    assert sorted(p.name for p in (run_dir / "tuner.d").iterdir()) == ["evaluation.json", "metrics.jsonl", "run.json"]


def test_a_stopped_run_keeps_its_rows_up_to_the_step_the_rule_judged(tmp_path):
    from tuner.spec import after_run

    run_dir = _run_with_printed_rows(tmp_path / "stopped", "stopped", {"reason": "asha", "rule": "asha", "step": 2})
    after_run(str(run_dir), PATTERN)
    assert _rows(run_dir) == [(1, 1.0), (2, 0.5)]  # steps 3 and 4 came while the stop was on its way
    assert not (run_dir / "tuner.d" / "evaluation.json").exists()  # it did not end by itself
    # a run that ended by itself before the request reached it is finished: every row is its own
    run_dir = _run_with_printed_rows(tmp_path / "late", "finished", {"reason": "asha", "rule": "asha", "step": 2})
    after_run(str(run_dir), PATTERN)
    assert _rows(run_dir) == [(1, 1.0), (2, 0.5), (3, 0.333), (4, 0.25)]
