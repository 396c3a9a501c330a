"""The HTML pages in a real headless Chromium: what a user sees, no console errors, no network requests.

Screenshots go to each test's tmp dir; with TUNER_UPDATE_DOC_SCREENSHOTS=1 the README's screenshots in
docs/screenshots/ are refreshed from the same pages: run.png (a real Keras run: needs TensorFlow), compare.png
(three runs), report.png (300 trials) and live.png (the live view of a running run).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from cdp_browser import Browser, find_chromium
from conftest import REPO, run_tune
from fabricate_runs import make_sweep

from tuner import save_run_comparison, save_run_view, save_sweep_report

pytestmark = pytest.mark.browser

CHROMIUM = find_chromium()
EVIL = "<script>window.__pwned=1</script>"
DOC_SHOTS = os.environ.get("TUNER_UPDATE_DOC_SCREENSHOTS") == "1"

TRAIN = """
import sys
from tuner import flags, flag_integer, flag_numeric, flag_string, log_metrics, write_run_metadata
FLAGS = flags(flag_numeric("dropout", 0.2), flag_integer("units", 64), flag_string("note", "plain"))
print("note:", FLAGS["note"])
for epoch in range(1, 9):
    loss = round(1.0 / (epoch + FLAGS["units"] / 64), 4)
    log_metrics(epoch=epoch, loss=loss, val_loss=round(loss * 1.2, 4), acc=round(1 - loss / 2, 4),
                val_acc=round(1 - loss / 1.6, 4))
write_run_metadata("evaluation", {"test_acc": 0.9123})
open("model.bin", "wb").write(b"w" * 3000)
if FLAGS["dropout"] > 0.5:
    raise ValueError("dropout too high: " + FLAGS["note"])
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("Chromium not found: install Debian's `chromium` package (CI does) or set TUNER_TEST_CHROMIUM")
    instance = Browser(CHROMIUM)
    yield instance
    instance.close()


def _tune(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    return subprocess.run([sys.executable, "-m", "tuner", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def _run(workdir: Path, *flags: str) -> Path:
    before = set(Path("runs").iterdir()) if Path("runs").exists() else set()
    _tune("train.py", "--no-echo", *[f"--flag={f}" for f in flags], cwd=workdir)
    (new,) = set(Path("runs").iterdir()) - before
    return new.resolve()


def _rgb(colour: str) -> tuple[int, ...]:
    """`#1f77b4` or `rgb(31, 119, 180)` as (31, 119, 180)."""
    if colour.startswith("#"):
        return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return tuple(int(float(part)) for part in colour[colour.index("(") + 1:colour.index(")")].split(",")[:3])


def _check_clean(browser: Browser, url: str, origin: str | None = None) -> None:
    assert browser.console_errors() == []
    allowed = (lambda u: u == url) if origin is None else (lambda u: u.startswith(origin))
    assert [u for u in browser.requests() if not allowed(u)] == [], "the page made network requests"


def _type(browser: Browser, element_js: str, value: str) -> None:
    browser.evaluate(f"(() => {{ const i = {element_js}; i.value = {value!r}; i.dispatchEvent(new Event('input')); }})()")


#: the README's screenshots (docs/screenshots/NAME.png) and the height each is cut to
DOC_SHOT_HEIGHTS = {"run": 1700, "compare": 1500, "report": 1300, "live": 1100}


def _shot(browser: Browser, tmp_path: Path, name: str, doc: str | None = None) -> None:
    """A screenshot in the test's folder; with TUNER_UPDATE_DOC_SCREENSHOTS=1 also the README's `doc` one."""
    path = browser.screenshot(str(tmp_path / f"{name}.png"))
    assert Path(path).stat().st_size > 10_000
    if DOC_SHOTS and doc is not None:
        target = REPO / "docs" / "screenshots" / f"{doc}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        browser.screenshot(str(target), max_height=DOC_SHOT_HEIGHTS[doc])


def test_finished_run_view_shows_cards_charts_output_sources_and_artifacts(
        browser: Browser, workdir: Path, write_script, tmp_path: Path) -> None:
    write_script("train.py", TRAIN)
    run = _run(workdir, "units=128")
    url = "file://" + save_run_view(str(run), filename=str(tmp_path / "run.html"))
    browser.open(url)
    text = browser.text()
    assert f"Run {run.name}" in text and "finished" in text
    for expected in ("units\t128", "dropout\t0.2", "val_acc\t0.9", "test_acc\t0.9123", "script\ttrain.py",
                     "exit code\t0", "note: plain", "model.bin", "2.9 KB", "write_run_metadata"):
        assert expected in text, expected
    charts = browser.evaluate("tunerPage.charts.map(u => [u.root.dataset ? u.root.querySelector('.u-title')"
                              ".textContent : '', u.series.slice(1).map(s => s.label), u.data[0].length, "
                              "u.scales.y.max])")
    assert [c[:3] for c in charts] == [["loss", ["loss", "val_loss"], 8], ["acc", ["acc", "val_acc"], 8]]
    assert charts[1][3] == 1 and charts[0][3] < 1  # acc capped at 1.0
    assert browser.evaluate("document.querySelectorAll('.chart canvas').length") == 2
    assert browser.evaluate("document.querySelectorAll('#sources [class^=tok-k]').length") >= 5  # highlighted keywords
    _check_clean(browser, url)
    _shot(browser, tmp_path, "run")


def test_failed_run_view_shows_the_error_and_never_runs_injected_scripts(
        browser: Browser, workdir: Path, write_script, tmp_path: Path) -> None:
    write_script("train.py", TRAIN)
    run = _run(workdir, "dropout=0.9", f"note={EVIL}")
    url = "file://" + save_run_view(str(run), filename=str(tmp_path / "failed.html"))
    browser.open(url)
    text = browser.text()
    assert "failed" in text and f"ValueError: dropout too high: {EVIL}" in text
    assert "Traceback (most recent call last)" in text and f"note: {EVIL}" in text  # console output, as text
    assert f"note\t{EVIL}" in text  # the flag value, as text
    assert browser.evaluate("typeof window.__pwned") == "undefined"
    assert browser.evaluate("document.querySelectorAll('#app script').length") == 0
    _check_clean(browser, url)
    _shot(browser, tmp_path, "failed")


def test_comparison_shows_both_runs_charts_and_diffs(browser: Browser, workdir: Path, write_script,
                                                     tmp_path: Path) -> None:
    write_script("train.py", TRAIN)
    older = _run(workdir, "units=64")
    time.sleep(1.05)  # run directories are named by the second
    write_script("train.py", TRAIN.replace("round(loss * 1.2, 4)", "round(loss * 1.3, 4)"))
    write_script("helpers.py", "SCALE = 2\n")
    newer = _run(workdir, "units=256")
    url = "file://" + save_run_comparison([str(newer), str(older)], filename=str(tmp_path / "compare.html"))
    browser.open(url)
    text = browser.text()
    assert text.index(f"A: {older.name}") < text.index(f"B: {newer.name}")  # older on the left
    for expected in ("-units: 64", "+units: 256", "-    log_metrics(epoch=epoch, loss=loss, val_loss=round(loss * 1.2, 4)",
                     "+SCALE = 2", "Console output"):
        assert expected in text, expected
    states = browser.evaluate("[...document.querySelectorAll('[data-diff]')].map(d => [d.dataset.diff, "
                              "d.querySelector('.badge').textContent])")
    assert ["Flags", "changed"] in states and ["train.py", "changed"] in states and ["helpers.py", "added"] in states
    labels = browser.evaluate("tunerPage.charts.map(u => u.series.slice(1).map(s => s.label))")
    assert labels[0] == ["A loss", "A val_loss", "B loss", "B val_loss"]
    _check_clean(browser, url)
    _shot(browser, tmp_path, "compare2")


def test_the_sweep_report_charts_the_best_so_far_by_trial_and_marks_stopped_trials(
        browser: Browser, workdir: Path, tmp_path: Path) -> None:
    import json

    dirs = make_sweep("runs", "sweep-asha", 24)
    for run_dir in dirs[3::4]:  # every fourth trial stopped early by a rule
        path = Path(run_dir) / "tuner.d" / "run.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "status": "stopped"}))
    url = "file://" + save_sweep_report("sweep-asha", runs_dir="runs", metric="val_acc",
                                        filename=str(tmp_path / "asha.html"), run_views=False)
    browser.open(url)
    chart = browser.evaluate("(() => { const u = tunerPage.charts.find(c => c.root.closest('#progress')); "
                             "return u && {labels: u.series.map(s => s.label), data: u.data}; })()")
    assert chart is not None, "no best-so-far chart"
    assert chart["labels"] == ["trial", "best so far", "finished", "stopped"]
    trials, best, finished, stopped = chart["data"]
    assert trials == list(range(1, 25))
    assert sum(v is not None for v in stopped) == 6 and all(stopped[i] is None for i in range(24) if i % 4 != 3)
    values = [v for v in best if v is not None]
    assert values == sorted(values) and values[-1] == max(v for v in finished if v is not None)  # max: grows
    assert "6 trials stopped early" in browser.text()
    assert browser.evaluate("document.querySelectorAll('table.trials td.status-stopped').length") == 6
    _check_clean(browser, url)


def test_three_runs_compare_with_a_table_of_what_differs_and_every_run_overlaid(
        browser: Browser, workdir: Path, write_script, tmp_path: Path) -> None:
    write_script("train.py", TRAIN)
    made = []
    for units in ("64", "128", "256"):
        made.append(_run(workdir, f"units={units}"))
        time.sleep(1.05)  # run directories are named by the second
    url = "file://" + save_run_comparison([str(made[2]), str(made[0]), str(made[1])],
                                          filename=str(tmp_path / "compare3.html"))
    browser.open(url)
    assert browser.evaluate("[...document.querySelectorAll('[data-run]')].map(c => c.dataset.run)") == ["A", "B", "C"]
    text = browser.text()
    assert text.index(f"A: {made[0].name}") < text.index(f"B: {made[1].name}") < text.index(f"C: {made[2].name}")
    rows = browser.evaluate("[...document.querySelectorAll('table.differs tbody tr')].map(r => "
                            "[...r.children].map(c => c.textContent))")
    assert ["flag_units", "64", "128", "256"] in rows  # the flag that differs, one column per run, oldest first
    assert all(len(r) == 4 for r in rows) and not any(r[0] == "flag_dropout" for r in rows)  # same values: left out
    labels = browser.evaluate("tunerPage.charts.map(u => u.series.slice(1).map(s => s.label))")
    assert labels[0] == ["A loss", "A val_loss", "B loss", "B val_loss", "C loss", "C val_loss"]
    # colour is the run: one colour per run, the same in every chart; within a run <m> solid, val_<m> dashed
    lines = browser.evaluate("tunerPage.charts.map(u => u.series.slice(1).map(s => [s.label[0], s._stroke, "
                             "!!(s.dash && s.dash.length)]))")
    assert len(lines) == 2  # loss and acc
    colour = {letter: stroke for letter, stroke, _ in lines[0]}
    assert len(set(colour.values())) == 3
    for chart in lines:
        assert [(stroke, dashed) for letter, stroke, dashed in chart] == \
            [(colour[letter], dashed) for letter in "ABC" for dashed in (False, True)]
    # a legend names each run in its colour, as do the columns and the table of what differs
    legend = browser.evaluate("[...document.querySelectorAll('#charts .run-legend [data-legend]')].map(i => "
                              "[i.dataset.legend, i.textContent.trim(), getComputedStyle(i.querySelector('.swatch'))"
                              ".borderTopColor])")
    assert [(r, t) for r, t, _ in legend] == [(letter, f"{letter}: {run.name}") for letter, run in zip("ABC", made)]
    assert [_rgb(c) for _, _, c in legend] == [_rgb(colour[letter]) for letter in "ABC"]
    heads = browser.evaluate("[...document.querySelectorAll('.column h2 .swatch, table.differs thead .swatch')]"
                             ".map(s => getComputedStyle(s).backgroundColor)")
    assert [_rgb(c) for c in heads] == [_rgb(colour[letter]) for letter in "ABC"] * 2
    states = browser.evaluate("[...document.querySelectorAll('[data-diff]')].map(d => d.dataset.diff)")
    assert "Flags (B vs A)" in states and "Flags (C vs A)" in states and "Console output (C vs A)" in states
    _check_clean(browser, url)
    _shot(browser, tmp_path, "compare3", doc="compare")
    done = run_tune("compare", made[0].name, "--no-browser", cwd=workdir)
    assert done.returncode == 2 and "two or more runs" in done.stderr


def test_sweep_report_of_300_trials_is_fast_sortable_filterable_and_links_runs(
        browser: Browser, workdir: Path, tmp_path: Path) -> None:
    make_sweep("runs", "sweep-300", 300)
    path = save_sweep_report("sweep-300", runs_dir="runs", filename=str(tmp_path / "report.html"))
    url = "file://" + path
    started = time.monotonic()
    browser.open(url)
    assert time.monotonic() - started < 10
    render_ms = browser.evaluate("performance.now()")
    assert render_ms < 5000
    assert browser.evaluate("document.querySelectorAll('table.trials tbody tr').length") == 300
    assert browser.evaluate("document.querySelectorAll('table.trials tbody tr.best').length") == 1  # the best only
    assert browser.evaluate("tunerPage.parallel") == {"dims": ["flag_lr", "flag_optimizer", "flag_units",
                                                               "metric_val_acc"], "lines": 300}
    # flag importance: lr and units decide val_acc (fabricate_runs' objective), the optimizer a little
    importance = browser.evaluate("[...document.querySelectorAll('#importance tr[data-flag]')].map(r => r.dataset.flag)")
    assert sorted(importance[:2]) == ["lr", "units"] and importance[2] == "optimizer"
    text = browser.text()
    assert "300 trials: 292 finished, 8 failed" in text and "300 of 300 trials shown" in text
    first = browser.evaluate("document.querySelector('table.trials tbody tr').textContent")
    assert "\u2605" in first and "adam" in first and "256" in first  # the best trial on top
    _shot(browser, tmp_path, "report", doc="report")
    # filter: numeric on the metric column, then text on status
    column = browser.evaluate("[...document.querySelectorAll('table.trials tr.filters input')]"
                              ".findIndex(i => i.getAttribute('aria-label') === 'filter metric_val_acc')")
    filters = "document.querySelectorAll('table.trials tr.filters input')"
    _type(browser, f"{filters}[{column}]", ">0.9")
    shown = browser.evaluate("[...document.querySelectorAll('table.trials tbody tr')].filter(r => !r.hidden).length")
    assert 0 < shown < 300 and f"{shown} of 300 trials shown" in browser.text()
    _type(browser, "document.querySelector('input.search')", "failed")
    assert "0 of 300 trials shown" in browser.text()  # no failed trial has val_acc > 0.9
    _type(browser, f"{filters}[{column}]", "")
    assert "8 of 300 trials shown" in browser.text()
    _type(browser, "document.querySelector('input.search')", "")
    # sort by trial ascending
    browser.evaluate("document.querySelector('th[data-col=trial]').click()")
    order = browser.evaluate("[...document.querySelectorAll('table.trials tbody tr')].slice(0, 3)"
                             ".map(r => r.children[0].textContent)")
    assert [o.rstrip(" \u2605") for o in order] == ["0", "1", "2"]
    _check_clean(browser, url)
    # each trial links to its run view, which opens cleanly
    href = browser.evaluate("document.querySelector('table.trials tbody tr a').href")
    assert href.startswith("file://") and Path(href[len("file://"):]).is_file()
    browser.open(href)
    assert "Run 2026-11-18T" in browser.text() and "sweep\tsweep-300" in browser.text()
    _check_clean(browser, href)


@pytest.mark.slow
def test_live_view_appends_new_steps_without_reloading_and_stops_polling_when_done(
        browser: Browser, workdir: Path, write_script, tmp_path: Path) -> None:
    write_script("slow.py", """
        import time
        from tuner import log_metrics
        for step in range(1, 13):
            log_metrics(step=step, loss=round(1 / step, 4), acc=round(step / 12, 4))
            time.sleep(0.6)
        print("all steps done")
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    training = subprocess.Popen([sys.executable, "-m", "tuner", "slow.py", "--no-echo"], cwd=workdir, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = None
    try:
        deadline = time.time() + 30
        while not list(Path("runs").glob("*/tuner.d/metrics.jsonl")):
            assert time.time() < deadline and training.poll() is None, "the run did not start"
            time.sleep(0.05)
        (run,) = [p for p in Path("runs").iterdir() if not p.name.startswith(".")]  # not a run's .tuner-view-*
        server = subprocess.Popen([sys.executable, "-m", "tuner", "view", "--live", "--no-browser", run.name],
                                  cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert server.stdout is not None
        line = server.stdout.readline()
        assert "127.0.0.1" in line, line + server.stderr.read()
        url = line.split(" at ")[1].split()[0]
        browser.open(url)
        browser.evaluate("window.__same_page = true")
        first = browser.evaluate("tunerPage.charts[0].data[0].length")
        assert first < 12 and browser.evaluate("tunerPage.live.polling") is True
        assert "running" in browser.text()
        # the duration is the time since the start, and it goes on (the heartbeat said 0.0s for 5 s)
        duration = ("[...document.querySelectorAll('[data-card=Run] tr')].find(r => r.children[0].textContent === "
                    "'duration').children[1].textContent")
        before = browser.evaluate(duration)
        browser.pump(1.2)
        after = browser.evaluate(duration)
        assert before.endswith("s") and after.endswith("s") and 0 < float(before[:-1]) < float(after[:-1]), \
            (before, after)
        assert browser.evaluate("tunerPage.live.polling") is True  # still running: the time went on, not the end
        _shot(browser, tmp_path, "live", doc="live")
        browser.wait_for("tunerPage.charts.length === 2 && tunerPage.charts[0].data[0].length === 12 && "
                         "!tunerPage.live.polling", timeout_s=30)
        ticks = _splits(browser, "tunerPage.charts[0]")
        assert ticks and all(t == int(t) for t in ticks), ticks
        assert browser.evaluate("window.__same_page") is True  # updated in place, never reloaded
        text = browser.text()
        assert "finished" in text and "all steps done" in text and "acc\t1" in text
        polls = browser.evaluate("tunerPage.live.polls")
        browser.pump(1.5)
        assert browser.evaluate("tunerPage.live.polls") == polls  # polling stopped
        _check_clean(browser, url, origin=url.rstrip("/"))
        assert training.wait(timeout=30) == 0
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=15)
        assert server.returncode == 0 and "Live view stopped" in out, err
    finally:
        for proc in (training, server):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


def test_parallel_coordinates_metric_axis_is_numeric_not_ordinal(browser: Browser, workdir: Path,
                                                                 tmp_path: Path) -> None:
    from fabricate_runs import make_run

    for i, (lr, acc) in enumerate([(0.1, 0.9), (0.2, 0.947), (0.3, 0.9471)]):
        make_run("runs", i, {"lr": lr}, {"val_acc": [acc]}, sweep="gaps", trial=i)
    path = save_sweep_report("gaps", runs_dir="runs", metric="val_acc", filename=str(tmp_path / "gaps.html"))
    browser.open("file://" + path)
    axes = {a["name"]: a for a in browser.evaluate("tunerPage.parallelAxes")}
    metric = axes["metric_val_acc"]
    assert metric["kind"] == "num"
    low, mid, high = sorted(metric["pos"])
    # a gap of 0.047 is ~470 times one of 0.0001, not the same step
    assert (mid - low) > 100 * (high - mid)


def _splits(browser: Browser, chart_js: str) -> list[float]:
    """The x ticks uPlot drew on a chart (its axis' computed splits)."""
    return browser.evaluate(f"(() => {{ const u = {chart_js}; return u.axes[0]._splits.filter(v => "
                            "v >= u.scales.x.min && v <= u.scales.x.max); })()")


def test_charts_tick_whole_steps_draw_best_so_far_as_steps_and_name_the_metric_as_typed(
        browser: Browser, workdir: Path, tmp_path: Path) -> None:
    from fabricate_runs import make_run

    accs = [0.71, 0.84, 0.79, 0.85]  # best so far: 0.71, 0.84, 0.84, 0.85
    runs = [make_run("runs", i, {"lr": lr}, {"epoch": [1, 2, 3], "loss": [0.9, 0.6, 0.5 - i / 10],
                                             "val_accuracy": [acc - 0.2, acc - 0.1, acc]}, sweep="few", trial=i)
            for i, (lr, acc) in enumerate(zip([0.001, 0.01, 0.1, 0.03], accs))]
    # the run view and a comparison: 3 steps on a wide chart get ticks 1, 2, 3 (not 1, 1.5, 2, 2.5, 3)
    browser.open("file://" + save_run_view(runs[0], filename=str(tmp_path / "run.html")))
    for i in range(2):
        ticks = _splits(browser, f"tunerPage.charts[{i}]")
        assert ticks and all(t == int(t) for t in ticks) and set(ticks) <= {1, 2, 3}, ticks
    browser.open("file://" + save_run_comparison(runs[:3], filename=str(tmp_path / "cmp.html")))
    ticks = _splits(browser, "tunerPage.charts[0]")
    assert ticks and all(t == int(t) for t in ticks), ticks
    # the sweep report, ranked by the metric as the user typed it
    url = "file://" + save_sweep_report("few", runs_dir="runs", metric="val_accuracy",
                                        filename=str(tmp_path / "few.html"), run_views=False)
    browser.open(url)
    progress = "tunerPage.charts.find(c => c.root.closest('#progress'))"
    ticks = _splits(browser, progress)
    assert ticks and all(t == int(t) for t in ticks) and set(ticks) <= {1, 2, 3, 4}, ticks
    text = browser.text()
    assert "metric_val_accuracy" not in text
    assert browser.evaluate(f"{progress}.root.querySelector('.u-title').textContent") == "Best val_accuracy so far"
    assert "Flags against val_accuracy" in text
    # best so far holds until a trial beats it: between trials 1 and 2 the line is at 0.71, not half way to 0.84
    blue = browser.evaluate(f"""(() => {{
        const u = {progress}, x = Math.round(u.valToPos(1.5, "x", true));
        const at = v => {{ const y = Math.round(u.valToPos(v, "y", true));
            const d = u.ctx.getImageData(x, y - 2, 1, 5).data;
            for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 180 && d[i] < 90 && d[i + 3] > 200) return true;
            return false; }};
        return [at(0.71), at((0.71 + 0.84) / 2)]; }})()""")
    assert blue == [True, False]
    # only the best trial is starred (4 trials used to be all starred)
    starred = browser.evaluate("[...document.querySelectorAll('table.trials tbody tr.best')].map(r => "
                               "r.children[0].textContent)")
    assert starred == ["3 \u2605"]
    # parallel coordinates say what a line's colour means
    legend = browser.evaluate("tunerPage.parallelLegend")
    assert (legend["metric"], legend["direction"], legend["worse"], legend["better"]) == \
        ("val_accuracy", "higher is better", 0.71, 0.85)
    key = browser.evaluate("document.querySelector('#parallel .pcp-legend').textContent")
    assert "colour: val_accuracy (higher is better)" in key and "0.71" in key and "0.85" in key and "best run" in key
    _check_clean(browser, url)
    # a metric that is better low: the key runs from the highest loss to the lowest
    browser.open("file://" + save_sweep_report("few", runs_dir="runs", metric="loss",
                                               filename=str(tmp_path / "loss.html"), run_views=False))
    legend = browser.evaluate("tunerPage.parallelLegend")
    assert (legend["metric"], legend["direction"], legend["worse"], legend["better"]) == \
        ("loss", "lower is better", 0.5, 0.2)


KERAS_TRAIN = """
import numpy as np
import keras
from tuner import flag_integer, flag_numeric, flags, tensorboard_dir
from tuner.keras import MetricsCallback

FLAGS = flags(flag_numeric("lr", 0.003), flag_integer("units", 16))
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8)).astype("float32")
y = (x[:, 0] + x[:, 1] > 0).astype("float32")
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(FLAGS["units"], activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(FLAGS["lr"]), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=3, batch_size=32, validation_split=0.25, verbose=2,
          callbacks=[MetricsCallback(), keras.callbacks.TensorBoard(tensorboard_dir())])
"""


@pytest.mark.slow
@pytest.mark.tensorflow
def test_a_keras_runs_view_shows_its_properties_model_tensorboard_files_and_folds_tensorflows_start(
        browser: Browser, workdir: Path, write_script, tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("TensorFlow is not installed (the tensorflow extra)")
    write_script("train.py", KERAS_TRAIN)
    run = _run(workdir)
    log = (run / "tuner.d" / "output.log").read_text()
    assert "Could not find cuda drivers" in log or "cpu_feature_guard" in log or "oneDNN" in log  # TF said its piece
    url = "file://" + save_run_view(str(run), filename=str(tmp_path / "keras.html"))
    browser.open(url)
    rows = dict(browser.evaluate("[...document.querySelectorAll('[data-card=Properties] tr')].map(r => "
                                 "[r.children[0].textContent, r.children[1].textContent])"))
    assert rows["optimizer"] == "Adam" and rows["learning_rate"] == "0.003" and rows["epochs"] == "3"
    assert rows["loss_function"] == "binary_crossentropy"
    summary = browser.evaluate("document.querySelector('#model pre').textContent")
    assert summary.startswith('Model: "sequential"') and "dense_1 (Dense)" in summary and "Total params: 161" in summary
    board = browser.evaluate("[...document.querySelectorAll('#tensorboard tbody tr')].map(r => "
                             "[r.children[0].textContent, r.children[1].textContent])")
    assert [p.split("events.out.tfevents")[0] for p, _ in board] == ["tensorboard/train/", "tensorboard/validation/"]
    assert all(size.endswith(("B", "KB")) for _, size in board)
    assert f"tensorboard --logdir {run}/tensorboard" in browser.text()
    assert "Its TensorBoard files are listed below." in browser.text()
    folded = browser.evaluate("document.querySelector('#output details.startup-lines summary').textContent")
    hidden = int(folded.split()[0])
    assert folded == f"{hidden} TensorFlow start-up line{'s' if hidden > 1 else ''} hidden" and hidden >= 3
    shown = browser.evaluate("document.querySelector('#output pre.console:not(.startup)').textContent")
    assert "Epoch 1/3" in shown and "cuda drivers" not in shown and "oneDNN" not in shown and "absl" not in shown
    assert all(line in log for line in shown.splitlines())  # nothing else changed: output.log holds every line
    ticks = _splits(browser, "tunerPage.charts[0]")
    assert ticks and set(ticks) <= {1, 2, 3}, ticks
    _check_clean(browser, url)
    _shot(browser, tmp_path, "keras", doc="run")
