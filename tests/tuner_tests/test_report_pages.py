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
