"""`tune dashboard` in a real headless Chromium, over a real sweep running on Ray: a new trial shows within 3 s,
a stop from the page stops the trial (`stopped`), the sweep is stopped and resumed from the page, everything
stays on 127.0.0.1, a read-only dashboard refuses control, a wrong Host is refused. A multi-objective sweep's page
shows its Pareto front live: the brute-force non-dominated filter of its finished runs, constraints kept.

With TUNER_UPDATE_DOC_SCREENSHOTS=1 the README's dashboard screenshots in docs/screenshots/ are taken from these
pages (dashboard-live.png: the live sweep; dashboard-pareto.png: the multi-objective one; dashboard-sweeps.png and
dashboard-sweep.png: sweeps written to disk by tests/tuner_tests/fabricate_runs.py, a 300-trial one among them).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from cdp_browser import Browser, find_chromium
from conftest import REPO

from tuner.runs.aggregate import run_row
from tuner.search.pareto import dominates, hypervolume
from tuner.store.files import read_run
from tuner.store.journal import Journal

pytestmark = [pytest.mark.browser, pytest.mark.ray, pytest.mark.slow]

CHROMIUM = find_chromium()
DOC_SHOTS = os.environ.get("TUNER_UPDATE_DOC_SCREENSHOTS") == "1"

# a trial reports its loss every 0.3 s for `steps` steps; a smaller x is better
SCRIPT = """
import argparse, time
from tuner import log_metrics
p = argparse.ArgumentParser()
p.add_argument("--x", type=float, default=1.0)
p.add_argument("--steps", type=int, default=30)
args = p.parse_args()
for step in range(1, args.steps + 1):
    log_metrics(step=step, loss=round(args.x + 1.0 / step, 4), acc=round(1 - args.x / 10 - 0.5 / step, 4))
    time.sleep(0.3)
"""
GRID = """
sweep: {metric: loss, mode: min}
x: [0.1, 0.2, 0.3, 0.4]
steps: [30]
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("Chromium not found: install Debian's `chromium` package (CI does) or set TUNER_TEST_CHROMIUM")
    instance = Browser(CHROMIUM, width=1400, height=1000)
    yield instance
    instance.close()


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}


def _start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tuner", *args], cwd=cwd, env=_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _dashboard(cwd: Path, *options: str) -> tuple[subprocess.Popen[str], str]:
    process = _start(["dashboard", "--no-browser", *options], cwd)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r" at (http://127\.0\.0\.1:\d+/) ", line)
    assert match, line + (process.stderr.read() if process.poll() is not None and process.stderr else "")
    return process, match.group(1)


def _stop(process: subprocess.Popen[str] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _run_json(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "tuner.d" / "run.json").read_text())
    except (OSError, ValueError):
        return {}


def _runs(workdir: Path) -> dict[str, dict]:
    return {p.parent.parent.name: _run_json(p.parent.parent) for p in (workdir / "runs").glob("*/tuner.d/run.json")}


def _wait(predicate, timeout_s: float, what: str, poll_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(poll_s)


def _host_refused(url: str) -> bool:
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest("GET", "/api/sweeps", skip_host=True)
    connection.putheader("Host", f"rebound.example:{port}")
    connection.endheaders()
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status == 403


def _clean(browser: Browser) -> None:
    """No console error, and no request beyond 127.0.0.1 (the page works offline: no CDN, no font, nothing)."""
    assert browser.console_errors() == []
    outside = [u for u in browser.requests() if not u.startswith("http://127.0.0.1:")]
    assert outside == [], "the page made requests beyond 127.0.0.1"


def test_a_live_sweep_seen_stopped_and_resumed_from_the_dashboard(browser: Browser, workdir: Path,
                                                                  write_script, tmp_path: Path) -> None:
    write_script("train.py", SCRIPT)
    (workdir / "grid.yml").write_text(GRID)
    sweep = dashboard = readonly = None
    try:
        sweep = _start(["train.py", "--flags", "grid.yml", "--max-concurrent", "2", "--yes"], workdir)
        journal = _wait(lambda: next((workdir / "runs" / "sweeps").glob("*/journal.jsonl"), None)
                        if (workdir / "runs" / "sweeps").is_dir() else None, 120, "the sweep's journal")
        sweep_id = journal.parent.name
        dashboard, url = _dashboard(workdir, "--allow-control")
        assert _host_refused(url)  # DNS rebinding: another name for 127.0.0.1 gets nothing

        # the sweeps page lists it, running
        browser.open(url)
        browser.wait_for(f"document.querySelector('tr[data-sweep=\"{sweep_id}\"] .badge') && "
                         f"document.querySelector('tr[data-sweep=\"{sweep_id}\"] .badge').textContent === 'running'",
                         60)
        if DOC_SHOTS:
            (REPO / "docs" / "screenshots").mkdir(exist_ok=True)
        href = browser.evaluate(f"document.querySelector('tr[data-sweep=\"{sweep_id}\"] a').href")
        assert href == f"{url}sweep/{sweep_id}"
        browser.open(href)
        browser.wait_for("tunerPage.sweep.polls > 0", 30)
        assert browser.evaluate("document.getElementById('pareto') === null")  # one metric: a best, no front

        # two trials run; stop the first from the page
        running = _wait(lambda: sorted(n for n, r in _runs(workdir).items() if r.get("status") == "running"), 120,
                        "a running trial")
        target = running[0]
        button = f"document.querySelector('tr[data-run=\"{target}\"] button[data-action=stop-trial]')"
        browser.wait_for(f"!!{button}", 20)
        seen = set(_runs(workdir))
        browser.evaluate(f"{button}.click()")
        _wait(lambda: _run_json(workdir / "runs" / target).get("status") == "stopped", 30, "the trial to stop")
        request = json.loads((workdir / "runs" / target / "tuner.d" / "stop.json").read_text())
        assert request["rule"] == "dashboard"
        browser.wait_for(f"tunerPage.sweep.rows['{target}'] && tunerPage.sweep.rows['{target}'].status === 'stopped'",
                         10)

        # its slot goes to the next trial: on the page within 3 s of its run appearing on disk
        new = _wait(lambda: sorted(set(_runs(workdir)) - seen), 60, "the next trial's run", poll_s=0.02)[0]
        appeared = time.monotonic()
        browser.wait_for(f"!!document.querySelector('tr[data-run=\"{new}\"]')", 10)
        shown_after = time.monotonic() - appeared
        assert shown_after < 3.0, f"the new trial reached the page after {shown_after:.1f} s"

        # learning curves with a stopped mark, best so far, importance, parallel coordinates
        browser.wait_for("tunerPage.sweep.drawn.marks.stopped === 1", 15)
        browser.wait_for("tunerPage.sweep.drawn.curves === 3", 15)  # the new trial's first steps
        if DOC_SHOTS:
            browser.pump(2)
            browser.screenshot(str(REPO / "docs" / "screenshots" / "dashboard-live.png"), max_height=1100)

        # stop the whole sweep from the page: the driver stops as after a Ctrl-C, its trials left for resume
        browser.wait_for("!!document.querySelector('button[data-action=stop-sweep]')", 10)
        browser.evaluate("document.querySelector('button[data-action=stop-sweep]').click()")
        assert sweep.wait(timeout=90) == 130
        browser.wait_for("tunerPage.sweep.summary.state === 'interrupted'", 30)
        states = {r.get("status") for r in _runs(workdir).values()}
        assert "running" not in states and "killed" in states

        # a read-only dashboard over the same runs: no buttons, and a POST is refused
        readonly, ro_url = _dashboard(workdir)
        browser.open(f"{ro_url}sweep/{sweep_id}")
        browser.wait_for("!!(tunerPage.sweep && tunerPage.sweep.summary)", 30)
        assert browser.evaluate("document.querySelectorAll('button[data-action]').length") == 0
        assert "read-only" in browser.text()
        _clean(browser)
        refused = browser.evaluate(f"fetch('/api/sweep/{sweep_id}/resume', {{method: 'POST'}})"
                                   ".then(r => r.json().then(b => [r.status, b.error]))")
        assert refused[0] == 403 and "read-only" in refused[1]  # even a page of its own cannot

        # resume from the controlling dashboard: the rest runs to the end
        browser.open(f"{url}sweep/{sweep_id}")
        _stop(readonly)  # once no page of it is open
        browser.wait_for("!!document.querySelector('button[data-action=resume-sweep]')", 30)
        browser.evaluate("document.querySelector('button[data-action=resume-sweep]').click()")
        browser.wait_for("tunerPage.sweep.summary && tunerPage.sweep.summary.state === 'running'", 90)
        browser.wait_for("tunerPage.sweep.summary.state === 'done'", 180)
        summary = browser.evaluate("tunerPage.sweep.summary")
        assert summary["finished"] == 3 and summary["stopped"] == 1 and summary["planned"] == 4
        # x = 0.1 would be best, but it was stopped: only finished trials can be best
        stopped_x = json.loads((workdir / "runs" / target / "tuner.d" / "flags.json").read_text())["x"]
        best_x = min(x for x in (0.1, 0.2, 0.3, 0.4) if x != stopped_x)
        assert summary["best"]["value"] == pytest.approx(best_x + 1 / 30, abs=1e-3)
        browser.wait_for("tunerPage.sweep.importance && tunerPage.sweep.importance.trials === 3", 20)
        _clean(browser)
    finally:
        browser.send("Page.navigate", url="about:blank")  # no page of these servers keeps polling once they stop
        browser.pump(0.3)
        for process in (sweep, dashboard, readonly):
            _stop(process)


# ZDT1 (f1 = x, f2 = g (1 - sqrt(x / g)), g = 1 + 9 y, both minimized: the front is y = 0) after `sleep` seconds;
# the flat shape is y = 0 (its name has markup, shown as text), memory_mb grows with x
ZDT_SCRIPT = """
import argparse, math, time
p = argparse.ArgumentParser()
p.add_argument("--x", type=float, default=0.5)
p.add_argument("--shape", default="steep")
p.add_argument("--sleep", type=float, default=0.0)
a = p.parse_args()
time.sleep(a.sleep)
g = 1 + 9 * (0.0 if a.shape == "<i>flat</i>" else 0.5)
print(f"f1: {a.x}")
print(f"f2: {g * (1 - math.sqrt(a.x / g))}")
print(f"memory_mb: {100 + 800 * a.x}")
"""
ZDT_GRID = """
x: [0.0, 0.25, 0.5, 0.75, 1.0]
shape: ["<i>flat</i>", steep]
sleep: [1.0]
"""


def _zdt_rows(workdir: Path) -> dict[str, dict]:
    """Every run's row as the listing reads it (status, metric_f1, metric_f2, metric_memory_mb)."""
    return {d.name: run_row(read_run(str(d))) for d in (workdir / "runs").iterdir()
            if (d / "tuner.d" / "run.json").is_file()}


def _measured(row: dict) -> bool:
    return row.get("status") == "finished" and all(isinstance(row.get(f"metric_{m}"), float) for m in ("f1", "f2"))


def test_a_multi_objective_sweep_shows_its_live_pareto_front(browser: Browser, workdir: Path, write_script,
                                                             tmp_path: Path) -> None:
    write_script("train.py", ZDT_SCRIPT)
    (workdir / "grid.yml").write_text(ZDT_GRID)
    sweep = dashboard = None
    try:
        sweep = _start(["train.py", "--flags", "grid.yml", "--metric", "f1", "--metric", "f2", "--mode", "min",
                        "--mode", "min", "--constraint", "memory_mb <= 700", "--max-concurrent", "2", "--yes"], workdir)
        journal = _wait(lambda: next((workdir / "runs" / "sweeps").glob("*/journal.jsonl"), None)
                        if (workdir / "runs" / "sweeps").is_dir() else None, 120, "the sweep's journal")
        sweep_id = journal.parent.name
        dashboard, url = _dashboard(workdir)
        browser.open(f"{url}sweep/{sweep_id}")
        browser.wait_for("!!document.getElementById('pareto')", 30)
        assert not browser.evaluate("document.getElementById('progress').offsetParent")  # no best so far: hidden

        # a trial that finishes now reaches the front's chart within 3 s of its metrics being on disk
        before = {n for n, r in _zdt_rows(workdir).items() if _measured(r)}
        new = _wait(lambda: sorted(n for n, r in _zdt_rows(workdir).items() if _measured(r) and n not in before), 120,
                    "a trial to finish", poll_s=0.02)[0]
        finished = time.monotonic()
        browser.wait_for(f"!!(tunerPage.sweep.drawn.front && tunerPage.sweep.drawn.front.points.includes('{new}'))",
                         10)
        shown_after = time.monotonic() - finished
        assert shown_after < 3.0, f"the finished trial reached the front after {shown_after:.1f} s"

        out, _ = sweep.communicate(timeout=180)
        assert sweep.returncode == 0
        # its trial lines name the live front (tuner.sweep.progress), never a best; x = 1.0 never joins it
        last = next(line for line in out.splitlines() if line.startswith("[10/10] finished "))
        assert last.endswith(" | front: 4 runs") and "| best" not in out
        # the last trial (x = 1.0, steep) breaks the constraint: the front is settled once the page drew that
        browser.wait_for("tunerPage.sweep.summary.state === 'done' && tunerPage.sweep.pareto.infeasible.length === 2 && "
                         "tunerPage.sweep.drawn.front && tunerPage.sweep.drawn.front.points.length === 10 && "
                         "tunerPage.sweep.drawn.front.of === tunerPage.sweep.pareto_version", 30)
        browser.pump(0.3)  # the charts draw in the next task

        # the page's front is the brute-force non-dominated filter of the finished runs that keep the constraint
        rows = _zdt_rows(workdir)
        kept = {n: (r["metric_f1"], r["metric_f2"]) for n, r in rows.items()
                if r["status"] == "finished" and r["metric_memory_mb"] <= 700}
        expected = sorted(n for n, p in kept.items() if not any(dominates(q, p) for q in kept.values()))
        listed = browser.evaluate("[...document.querySelectorAll('#pareto tr[data-front-run]')]"
                                  ".map(r => r.dataset.frontRun)")
        assert sorted(listed) == expected == sorted(browser.evaluate("tunerPage.sweep.drawn.front.front"))
        flags = {n: json.loads((workdir / "runs" / n / "tuner.d" / "flags.json").read_text()) for n in expected}
        assert sorted(f["x"] for f in flags.values()) == [0.0, 0.25, 0.5, 0.75]  # x = 1.0 breaks memory_mb <= 700
        assert {f["shape"] for f in flags.values()} == {"<i>flat</i>"}
        assert [float(v) for v in browser.evaluate(
            "[...document.querySelectorAll('#pareto tr[data-front-run]')].map(r => r.cells[2].textContent)")] == \
            [0.0, 0.25, 0.5, 0.75]  # best first by f1
        # flag values are text, never markup
        assert browser.evaluate("document.querySelectorAll('#pareto i, #trials i').length") == 0
        assert "<i>flat</i>" in browser.evaluate("document.getElementById('pareto').innerText")
        # the scatter: every trial with both metrics, the stopped/failed/infeasible ones apart
        assert browser.evaluate("tunerPage.front") == {"x": "f1", "y": "f2", "points": 10, "front": 4, "others": 2}
        # the hypervolume with its reference point stated, and measured from it
        hv = browser.evaluate("tunerPage.hypervolume")
        assert "reference point (f1 = 0.825, f2 = " in hv["text"]
        assert hv["last"] == pytest.approx(hypervolume(list(kept.values()), hv["reference"]))
        assert "Pareto front (4 runs)" in browser.text()
        _clean(browser)
        path = browser.screenshot(str(tmp_path / "dashboard-pareto.png"), max_height=1400)
        assert Path(path).stat().st_size > 20_000
        if DOC_SHOTS:
            (REPO / "docs" / "screenshots").mkdir(exist_ok=True)
            browser.evaluate("window.scrollTo(0, 0)")
            browser.screenshot(str(REPO / "docs" / "screenshots" / "dashboard-pareto.png"), max_height=1080)
    finally:
        browser.send("Page.navigate", url="about:blank")
        browser.pump(0.3)
        for process in (sweep, dashboard):
            _stop(process)


def test_three_metrics_draw_the_front_as_parallel_coordinates(browser: Browser, workdir: Path) -> None:
    from fabricate_runs import make_run

    from tuner.dashboard import DashboardServer

    sweep = "20261207-130000-pf03"
    points = {}  # (f1, f2, f3) on the plane f1 + f2 + f3 = 1 (all on the front), and points above it
    for trial in range(12):
        a, b = (trial % 4) / 4, (trial // 4) / 4
        lift = 0.0 if trial % 3 else 0.5  # every third trial lies above the plane: dominated
        values = (a / 2 + lift, b / 2 + lift, 1 - a / 2 - b / 2 + lift)
        run = make_run("runs", trial, {"a": a, "b": b}, {f"f{k + 1}": [v] for k, v in enumerate(values)}, sweep=sweep,
                       trial=trial, start=1.0e9 + trial)
        points[Path(run).name] = values
    Journal.create("runs", sweep, {"script": "/p/train.py", "created": 1.0e9, "total": 12, "metric": ["f1", "f2", "f3"],
                                   "mode": ["min", "min", "min"]})
    expected = sorted(n for n, p in points.items() if not any(dominates(q, p) for q in points.values()))
    assert len(expected) == 8  # the plane's
    with DashboardServer("runs") as server:
        browser.open(f"{server.url}sweep/{sweep}")
        browser.wait_for("!!(tunerPage.sweep.drawn.frontLines && tunerPage.hypervolume)", 30)
        assert browser.evaluate("tunerPage.sweep.drawn.frontLines") == {"dims": ["metric_f1", "metric_f2", "metric_f3"],
                                                                        "lines": 12}
        assert sorted(browser.evaluate("tunerPage.sweep.drawn.front.front")) == expected
        assert browser.evaluate("tunerPage.sweep.drawn.parallel.dims") == ["flag_a", "flag_b", "metric_f1",
                                                                           "metric_f2", "metric_f3"]
        assert "The front across 3 metrics" in browser.text()
        _clean(browser)


def _more_sweeps(workdir: Path) -> Journal:
    """Two more sweeps beside the big one, for the sweeps page: one whose driver is running now (this test holds its
    lock, as a driver does), one interrupted half-way."""
    from fabricate_runs import make_run

    from tuner.store.journal import Journal

    now = time.time()
    running = Journal.create("runs", "20261207-091500-c41d", {"script": "/home/ml/digits/train.py", "created": now - 60,
                                                              "total": 12, "metric": "val_loss", "mode": "min"})
    for trial in range(5):
        make_run("runs", 1000 + trial, {"dropout": 0.1 * trial}, {"val_loss": [0.9 - 0.05 * trial, 0.5 - 0.04 * trial]},
                 status="running" if trial >= 3 else "finished", sweep=running.sweep_id, trial=trial,
                 start=now - 50 + trial)
    running.claim()
    stopped = Journal.create("runs", "20261206-174210-9b03", {"script": "/home/ml/digits/train.py",
                                                              "created": 1.7966e9, "total": 10})
    for trial in range(5):
        make_run("runs", 2000 + trial, {"units": 32 * (trial + 1)}, {"val_acc": [0.8 + 0.02 * trial]},
                 status="killed" if trial == 4 else "finished", sweep=stopped.sweep_id, trial=trial)
    return running


@pytest.mark.parametrize("trials", [300])
def test_a_big_sweep_page_draws_every_curve_and_filters_with_the_tune_ls_grammar(browser: Browser, workdir: Path,
                                                                                  trials: int) -> None:
    from fabricate_runs import make_sweep

    from tuner.dashboard import DashboardServer
    from tuner.store.journal import Journal

    sweep = "20261118-110640-3fa2"
    Journal.create("runs", sweep, {"script": "/home/ml/digits/train.py", "created": 1.795e9, "total": trials,
                                   "metric": "val_acc", "mode": "max", "grid": {"kind": "product", "flags": {
                                       "lr": [0.001, 0.003, 0.01, 0.03, 0.1], "units": [32, 64, 128, 256],
                                       "optimizer": ["adam", "sgd", "rmsprop"]}}})
    dirs = make_sweep("runs", sweep, trials, epochs=12)
    for run_dir in dirs[3::7]:  # stopped early by a rule
        path = Path(run_dir) / "tuner.d" / "run.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "status": "stopped"}))
    stopped = len(dirs[3::7])
    running = _more_sweeps(workdir)
    try:
        with DashboardServer("runs") as server:
            browser.open(server.url)
            browser.wait_for("!!(tunerPage.sweeps.sweeps && tunerPage.sweeps.sweeps.length === 3)", 30)
            states = browser.evaluate("Object.fromEntries(tunerPage.sweeps.sweeps.map(s => [s.sweep, s.state]))")
            assert states == {sweep: "done", running.sweep_id: "running", "20261206-174210-9b03": "interrupted"}
            if DOC_SHOTS:
                browser.screenshot(str(REPO / "docs" / "screenshots" / "dashboard-sweeps.png"), max_height=400)
            _check_big_sweep(browser, server, sweep, dirs, trials, stopped)
    finally:
        running.release()


def _check_big_sweep(browser: Browser, server, sweep: str, dirs: list[str], trials: int, stopped: int) -> None:
    browser.open(f"{server.url}sweep/{sweep}")
    browser.wait_for("tunerPage.sweep.pending_curves === 0 && tunerPage.sweep.importance && "
                     f"tunerPage.sweep.drawn.curves === {trials}", 60)
    drawn = browser.evaluate("tunerPage.sweep.drawn")
    assert drawn["marks"] == {"stopped": stopped}
    assert drawn["parallel"] == {"dims": ["flag_lr", "flag_optimizer", "flag_units", "metric_val_acc"],
                                 "lines": trials}
    flags = browser.evaluate("[...document.querySelectorAll('#importance tr[data-flag]')].map(r => r.dataset.flag)")
    assert flags[:2] in (["lr", "units"], ["units", "lr"]) and flags[2] == "optimizer"  # as the objective says
    assert f"{trials} trials" in browser.evaluate("document.querySelector('#trials .counter').textContent")
    assert browser.evaluate("document.querySelectorAll('table.trials tbody tr').length") == 50  # one page
    # the tune ls --filter grammar, evaluated by the server
    box = "document.querySelector('#trials input.filter')"
    browser.evaluate(f"(() => {{ const i = {box}; i.value = \"flag_units == 256 and status == 'finished'\"; "
                     "i.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'})); })()")
    expected = sum(1 for d in dirs if json.loads((Path(d) / "tuner.d" / "flags.json").read_text())["units"] == 256
                   and json.loads((Path(d) / "tuner.d" / "run.json").read_text())["status"] == "finished")
    browser.wait_for(f"document.querySelector('#trials .counter').textContent.startsWith('{expected} of {trials}')",
                     20)
    statuses = browser.evaluate("[...document.querySelectorAll('table.trials tbody tr')].map(r => "
                                "r.querySelector('td[class^=status-]').textContent)")
    assert set(statuses) == {"finished"}
    browser.evaluate(f"(() => {{ const i = {box}; i.value = 'flag_units >> 2'; "
                     "i.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'})); })()")
    browser.wait_for("!document.querySelector('#trials .filter-error').hidden", 20)
    assert "does not parse" in browser.evaluate("document.querySelector('#trials .filter-error').textContent")
    browser.evaluate(f"(() => {{ const i = {box}; i.value = ''; "
                     "i.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'})); })()")
    # sorted by the metric (higher is better: descending), the best finished trial comes first among the finished
    browser.evaluate("document.querySelector('th[data-col=metric_val_acc]').click()")
    first = browser.evaluate("[...document.querySelectorAll('table.trials tbody tr')].find(r => "
                             "r.querySelector('td.status-finished')).dataset.run")
    summary = browser.evaluate("tunerPage.sweep.summary")
    assert first == summary["best"]["run"] and summary["state"] == "done"
    _clean(browser)
    if DOC_SHOTS:
        browser.evaluate("window.scrollTo(0, 0)")
        browser.screenshot(str(REPO / "docs" / "screenshots" / "dashboard-sweep.png"), max_height=1700)
