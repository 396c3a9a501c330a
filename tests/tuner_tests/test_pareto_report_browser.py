"""The report of a multi-objective sweep in headless Chromium: the front listed and starred (no best), its scatter for
two metrics and parallel coordinates beyond, the hypervolume with its reference point, offline and without console
errors. With TUNER_UPDATE_DOC_SCREENSHOTS=1 the README's docs/screenshots/report-pareto.png is taken from it."""

from __future__ import annotations

import math
import os
import random
from pathlib import Path
from typing import Iterator

import pytest
from cdp_browser import Browser, find_chromium
from conftest import REPO
from fabricate_runs import make_run

from tuner import save_sweep_report
from tuner.search.pareto import dominates, hypervolume
from tuner.store.journal import Journal

pytestmark = pytest.mark.browser
CHROMIUM = find_chromium()
DOC_SHOTS = os.environ.get("TUNER_UPDATE_DOC_SCREENSHOTS") == "1"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("Chromium not found: install Debian's `chromium` package (CI does) or set TUNER_TEST_CHROMIUM")
    instance = Browser(CHROMIUM)
    yield instance
    instance.close()


def fabricate(workdir: Path, sweep: str, metrics: list[str], trials: int = 60, seed: int = 4) -> list[dict]:
    """A sweep of accuracy against latency (and model size): bigger models are more accurate, slower and larger;
    every seventh trial is stopped, one fails; `memory_mb <= 400` is the sweep's constraint."""
    rng = random.Random(seed)
    rows = []
    for trial in range(trials):
        units, lr = rng.choice([16, 32, 64, 128, 256]), 10 ** rng.uniform(-4, -1)
        acc = round(0.6 + 0.08 * math.log2(units / 16) - 0.1 * abs(math.log10(lr) + 2.5) + rng.uniform(0, 0.05), 4)
        latency = round(units * 0.2 + rng.uniform(0, 8), 3)
        memory = round(units * 2.5 + rng.uniform(0, 60), 1)
        status = "stopped" if trial % 7 == 6 else "failed" if trial == 11 else "finished"
        values = {"val_acc": [acc], "latency_ms": [latency], "memory_mb": [memory]}
        make_run("runs", trial, {"units": units, "lr": round(lr, 6)}, values, status=status, sweep=sweep,
                 trial=trial)
        rows.append({"trial": trial, "status": status, "val_acc": acc, "latency_ms": latency, "memory_mb": memory})
    Journal.create("runs", sweep, {"script": str(workdir / "train.py"), "created": 1_795_000_000.0,
                                   "indices": list(range(trials)), "total": trials, "metric": metrics,
                                   "mode": ["max", "min", "min"][:len(metrics)],
                                   "constraints": ["memory_mb <= 400"]})
    return rows


def test_two_metrics_show_the_front_scatter_and_hypervolume_offline(browser, workdir, tmp_path):
    rows = fabricate(workdir, "20261207-120000-pf02", ["val_acc", "latency_ms"])
    kept = [r for r in rows if r["status"] == "finished" and r["memory_mb"] <= 400]
    costs = [(-r["val_acc"], r["latency_ms"]) for r in kept]
    front = [r["trial"] for r, p in zip(kept, costs) if not any(dominates(q, p) for q in costs)]
    page = save_sweep_report("20261207-120000-pf02", filename=str(tmp_path / "report.html"), run_views=False)
    url = Path(page).resolve().as_uri()
    browser.open(url)
    browser.wait_for("document.getElementById('app').getAttribute('data-rendered') === 'report'")
    browser.wait_for("window.tunerPage.hypervolume && window.tunerPage.charts.length >= 3")
    text = browser.text()
    assert "60 trials: 51 finished, 8 stopped early, 1 failed" in text  # the sweep's trials, stopped ones too
    assert f"Pareto front of val_acc (max), latency_ms (min): {len(front)} runs, no single best" in text
    assert "constraints: memory_mb <= 400" in text and "Best run" not in text and "Top 5" not in text
    starred = browser.evaluate("Array.from(document.querySelectorAll('td.num')).filter(td => "
                               "td.textContent.endsWith('\\u2605')).map(td => parseInt(td.textContent))")
    assert sorted(starred) == sorted(front)  # the front is starred, nothing else
    scatter = browser.evaluate("window.tunerPage.front")
    assert scatter["front"] == len(front) and scatter["x"] == "val_acc" and scatter["y"] == "latency_ms"
    assert scatter["points"] == len(rows)  # every trial with both values; stopped, failed, infeasible ones grey
    assert scatter["others"] == len(rows) - len(kept)
    hv = browser.evaluate("window.tunerPage.hypervolume")
    worst_acc = min(r["val_acc"] for r in kept)
    spread = max(r["val_acc"] for r in kept) - worst_acc
    assert hv["reference"][0] == pytest.approx(worst_acc - 0.1 * spread)  # the stated reference point ...
    shown = round(hv["reference"][0], 4)
    assert f"reference point (val_acc = {shown:g}, latency_ms = " in hv["text"] and "10% of its range" in hv["text"]
    ref_costs = (-hv["reference"][0], hv["reference"][1])
    assert hv["last"] == pytest.approx(hypervolume(costs, ref_costs))  # ... and the volume measured from it
    assert browser.console_errors() == []
    assert [u for u in browser.requests() if u != url] == []  # offline: no request beyond the file
    path = browser.screenshot(str(tmp_path / "report-pareto.png"))
    assert Path(path).stat().st_size > 10_000
    if DOC_SHOTS:
        browser.screenshot(str(REPO / "docs" / "screenshots" / "report-pareto.png"), max_height=1500)


def test_three_metrics_draw_the_front_as_parallel_coordinates(browser, workdir, tmp_path):
    fabricate(workdir, "20261207-120000-pf03", ["val_acc", "latency_ms", "memory_mb"])
    page = save_sweep_report("20261207-120000-pf03", filename=str(tmp_path / "report3.html"), run_views=False)
    browser.open(Path(page).resolve().as_uri())
    browser.wait_for("window.tunerPage.frontParallel && window.tunerPage.parallel")
    assert browser.evaluate("window.tunerPage.frontParallel.dims") == \
        ["metric_val_acc", "metric_latency_ms", "metric_memory_mb"]
    # the flags' parallel coordinates end with every metric of the sweep as an axis
    assert browser.evaluate("window.tunerPage.parallel.dims")[-3:] == \
        ["metric_val_acc", "metric_latency_ms", "metric_memory_mb"]
    assert "Pareto front of val_acc (max), latency_ms (min), memory_mb (min)" in browser.text()
    assert browser.console_errors() == []
