"""`tune dashboard` in a real headless Chromium, over a real sweep running on Ray: a new trial shows within 3 s,
a stop from the page stops the trial (`stopped`), the sweep is stopped and resumed from the page, everything
stays on 127.0.0.1, a read-only dashboard refuses control, a wrong Host is refused.

With TUNER_UPDATE_DOC_SCREENSHOTS=1 the README's dashboard screenshots in docs/screenshots/ are taken from these
pages (dashboard-sweeps.png, dashboard-sweep.png).
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
            browser.screenshot(str(REPO / "docs" / "screenshots" / "dashboard-sweep.png"), max_height=1500)

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
        if DOC_SHOTS:
            browser.open(url)
            browser.pump(1)
            browser.screenshot(str(REPO / "docs" / "screenshots" / "dashboard-sweeps.png"), max_height=400)
    finally:
        for process in (sweep, dashboard, readonly):
            _stop(process)
