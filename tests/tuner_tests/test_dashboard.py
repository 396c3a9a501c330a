"""`tune dashboard` without a browser: what its server answers (HTTP, as a browser or another site would ask) and
how its model follows a runs directory that changes. The browser tests with a real sweep are in
test_dashboard_browser.py."""

from __future__ import annotations

import http.client
import json
import math
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from conftest import run_tune
from fabricate_runs import make_run, make_sweep

from tuner.dashboard import DashboardServer
from tuner.dashboard.server import Dashboard
from tuner.search.pareto import dominates, hypervolume
from tuner.store.journal import Journal


def _request(server: DashboardServer, method: str, path: str, host: str | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True)
        connection.putheader("Host", host if host is not None else f"127.0.0.1:{server.port}")
        for key, value in (headers or {}).items():
            connection.putheader(key, value)
        connection.putheader("Content-Length", "0")
        connection.endheaders()
        response = connection.getresponse()
        body = response.read().decode()
        kind = response.getheader("Content-Type") or ""
        return response.status, json.loads(body) if kind.startswith("application/json") else body
    finally:
        connection.close()


@pytest.fixture
def sweep_dir(workdir: Path) -> Path:
    make_sweep("runs", "s1", 30)
    return workdir / "runs"


@pytest.fixture
def server(sweep_dir: Path) -> Iterator[DashboardServer]:
    with DashboardServer(str(sweep_dir)) as instance:
        yield instance


def test_it_answers_only_to_its_own_host_names(server: DashboardServer) -> None:
    port = server.port
    assert _request(server, "GET", "/")[0] == 200
    assert _request(server, "GET", "/", host=f"localhost:{port}")[0] == 200
    for host in (f"evil.example:{port}", "127.0.0.1", f"127.0.0.1:{port + 1}", f"attacker.localhost:{port}", ""):
        status, body = _request(server, "GET", "/api/sweeps", host=host)
        assert status == 403 and f"http://127.0.0.1:{port}/" in body["error"], host
    assert _request(server, "POST", "/api/sweep/s1/stop", host=f"evil.example:{port}")[0] == 403


def test_a_read_only_dashboard_refuses_every_control_request(server: DashboardServer) -> None:
    for path in ("/api/sweep/s1/stop", "/api/sweep/s1/resume", "/api/sweep/s1/run/x/stop"):
        status, body = _request(server, "POST", path, headers={"X-Tuner-Token": server.dashboard.token})
        assert status == 403 and "read-only" in body["error"] and "--allow-control" in body["error"]
    page = _request(server, "GET", "/sweep/s1")[1]
    assert server.dashboard.token not in page  # a read-only page carries no token


def test_control_needs_the_pages_token_and_its_origin(sweep_dir: Path) -> None:
    run = sorted(p.parent.parent.name for p in sweep_dir.glob("*/tuner.d/run.json"))[0]
    with DashboardServer(str(sweep_dir), allow_control=True) as server:
        token = server.dashboard.token
        assert token in _request(server, "GET", "/sweep/s1")[1]
        path = f"/api/sweep/s1/run/{run}/stop"
        assert _request(server, "POST", path)[0] == 403
        assert _request(server, "POST", path, headers={"X-Tuner-Token": "guess"})[0] == 403
        status, body = _request(server, "POST", path, headers={"X-Tuner-Token": token,
                                                              "Origin": "http://evil.example"})
        assert status == 403 and "evil.example" in body["error"]
        status, body = _request(server, "POST", path, headers={"X-Tuner-Token": token,
                                                              "Origin": f"http://127.0.0.1:{server.port}"})
        assert status == 409 and "not running" in body["error"]  # accepted, but the trial is over
        assert not (sweep_dir / run / "tuner.d" / "stop.json").exists()
        status, body = _request(server, "POST", "/api/sweep/s1/stop", headers={"X-Tuner-Token": token})
        assert status == 409 and "unknown sweep 's1'" in body["error"]  # no journal: nothing runs it


def test_stop_trial_writes_the_runs_stop_request_only_for_a_running_trial_of_that_sweep(workdir: Path) -> None:
    from tuner.dashboard.control import ControlError, stop_trial

    running = Path(make_run("runs", 0, {"x": 1}, {}, status="running", sweep="s2", trial=0))
    other = Path(make_run("runs", 1, {"x": 2}, {}, status="running", sweep="s3", trial=0))
    with pytest.raises(ControlError, match="not a trial of sweep s2"):
        stop_trial("runs", other.name, "s2")
    with pytest.raises(ControlError, match="not a run name"):
        stop_trial("runs", "../x", "s2")
    done = stop_trial("runs", running.name, "s2")
    assert "trial 0" in done.message
    request = json.loads((running / "tuner.d" / "stop.json").read_text())
    assert request["reason"] == "stopped from the dashboard" and request["rule"] == "dashboard"


def test_a_sweep_page_gets_everything_once_then_only_what_changed(workdir: Path, monkeypatch) -> None:
    from tuner.dashboard import state

    monkeypatch.setattr(state, "SUMMARY_EVERY_S", 0.0)  # counted again at once (in use: at most every 2 s)
    make_sweep("runs", "s1", 20)
    board = Dashboard("runs")
    board.refresh(force=True)
    first = board.sweep_changes("s1", 0, None)
    assert first["full"] and len(first["rows"]) == 20 and first["summary"]["finished"] == 20
    version, epoch = first["version"], first["epoch"]
    while first["pending_curves"]:  # curves are read a budget at a time
        first = board.sweep_changes("s1", 0, epoch)
    assert len(first["curves"]) == 20 and all(len(c["steps"]) == 8 for c in first["curves"].values())
    board.refresh(force=True)
    same = board.sweep_changes("s1", version, epoch)
    assert not same["full"] and same["rows"] == {} and same["curves"] == {} and same["removed"] == []
    assert "summary" not in same and "importance" not in same
    # a new trial, a changed one, a removed one: only those come back
    new = Path(make_run("runs", 500, {"lr": 0.5, "units": 8, "optimizer": "adam"}, {"val_acc": [0.1, 0.2]},
                        status="running", sweep="s1", trial=20, start=time.time()))
    names = sorted(p.parent.parent.name for p in Path("runs").glob("*/tuner.d/run.json") if p.parent.parent != new)
    changed, removed = Path("runs") / names[0], Path("runs") / names[1]
    with open(changed / "tuner.d" / "metrics.jsonl", "a") as handle:
        handle.write(json.dumps({"epoch": 9, "loss": 0.01, "val_loss": 0.02, "acc": 0.99, "val_acc": 0.98}) + "\n")
    shutil.rmtree(removed)
    time.sleep(0.01)
    board.mirror.full_at = -1e9  # the next refresh stats every run (as it does every FULL_EVERY_S)
    board.refresh(force=True)
    update = board.sweep_changes("s1", version, epoch)
    assert not update["full"]
    assert set(update["rows"]) == {new.name, changed.name}
    assert update["rows"][changed.name]["metric_val_acc"] == 0.98
    assert removed.name in update["removed"]
    assert set(update["curves"]) >= {new.name, changed.name} and update["curves"][new.name]["values"] == [0.1, 0.2]
    assert update["rows"][new.name]["status"] == "running"
    # no driver holds this sweep (it has no journal), so its running trial counts as interrupted, as in `tune sweeps`
    assert update["summary"]["interrupted"] == 1 and update["summary"]["runs"] == 20
    # another server's numbering (a restarted dashboard): everything again
    assert board.sweep_changes("s1", update["version"], "another")["full"]


def test_a_trial_queued_when_the_dashboard_started_is_seen_running_at_the_next_refresh(workdir: Path) -> None:
    run = Path(make_run("runs", 0, {"x": 1}, {}, status="queued", sweep="s1", trial=0, start=time.time()))
    board = Dashboard("runs")
    board.refresh(force=True)  # the first look comes from the listing index
    assert board.sweep_changes("s1", 0, None)["rows"][run.name]["status"] == "queued"
    version = board.mirror.version
    record = run / "tuner.d" / "run.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "status": "running", "heartbeat": time.time()}))
    board.refresh(force=True)  # not a full pass: a queued run is watched at every refresh
    assert board.sweep_changes("s1", version, board.view("s1").epoch)["rows"][run.name]["status"] == "running"


def test_a_waiting_request_is_answered_when_a_trial_reports(workdir: Path) -> None:
    import threading

    run = Path(make_run("runs", 0, {"x": 1}, {"val_acc": [0.5]}, status="running", sweep="s1", trial=0,
                        start=time.time()))
    board = Dashboard("runs")
    first = board.sweep_changes("s1", 0, None)
    version, epoch = first["version"], first["epoch"]
    quiet = board.sweep_changes("s1", version, epoch, wait_s=0.6)  # nothing happens: an empty answer, in time
    assert quiet["rows"] == {} and quiet["curves"] == {}

    def report() -> None:
        time.sleep(0.3)
        with open(run / "tuner.d" / "metrics.jsonl", "a") as handle:
            handle.write(json.dumps({"step": 2, "val_acc": 0.75}) + "\n")

    threading.Thread(target=report).start()
    answer = board.sweep_changes("s1", quiet["version"], epoch, wait_s=10)
    assert answer["curves"][run.name]["values"] == [0.5, 0.75]


def test_stopped_trials_carry_a_stopped_mark_at_their_last_step(workdir: Path) -> None:
    dirs = make_sweep("runs", "s1", 6)
    record = Path(dirs[2]) / "tuner.d" / "run.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "status": "stopped"}))
    board = Dashboard("runs")
    answer = board.sweep_changes("s1", 0, None)
    marks = {name: curve["marks"] for name, curve in answer["curves"].items()}
    assert marks[Path(dirs[2]).name] == [{"kind": "stopped", "step": 8, "value": answer["curves"][Path(dirs[2]).name]
                                          ["values"][-1], "label": "stopped early"}]
    assert sum(1 for m in marks.values() if m) == 1


def test_paused_runs_and_runs_that_began_from_a_checkpoint_carry_their_marks(workdir: Path) -> None:
    """--stop hyperband pauses a run at a rung (its last step); a promoted run, a retry or a PBT segment begins from
    a checkpoint (its first step; run.json's resumed_from, and a PBT segment's donor)."""
    dirs = [Path(d) for d in make_sweep("runs", "s1", 6)]

    def edit(run: Path, **fields: Any) -> None:
        record = run / "tuner.d" / "run.json"
        record.write_text(json.dumps({**json.loads(record.read_text()), **fields}))

    edit(dirs[1], status="paused")
    edit(dirs[2], attempt=2, resumed_from={"run": dirs[1].name, "step": 3})
    edit(dirs[3], attempt=2, resumed_from={"run": dirs[0].name, "step": 5}, donor=0, segment=1)
    edit(dirs[4], resumed_from={"run": dirs[0].name, "step": 5})  # a first attempt's run.json is not read
    answer = Dashboard("runs").sweep_changes("s1", 0, None)
    marks = {name: [(m["kind"], m["label"]) for m in curve["marks"]] for name, curve in answer["curves"].items()}
    assert marks[dirs[1].name] == [("paused", "paused")]
    assert marks[dirs[2].name] == [("resumed", f"continued from {dirs[1].name} at step 3")]
    assert marks[dirs[3].name] == [("exploit", "PBT segment 1: took trial 0's checkpoint")]
    assert marks[dirs[4].name] == marks[dirs[0].name] == []
    first = answer["curves"][dirs[2].name]
    assert [(m["step"], m["value"]) for m in first["marks"]] == [(first["steps"][0], first["values"][0])]


def _zdt_run(trial: int, x: float, y: float, status: str = "finished", start: float | None = None) -> tuple[str, dict]:
    """One run of ZDT1 (f1 = x, f2 = g (1 - sqrt(x / g)), g = 1 + 9 y, both minimized: the front is y = 0) with
    memory_mb = 100 + 800 x (the constraint `memory_mb <= 700` keeps x <= 0.75)."""
    g = 1 + 9 * y
    values = {"f1": x, "f2": g * (1 - math.sqrt(x / g)), "memory_mb": 100 + 800 * x}
    run = make_run("runs", trial, {"x": x, "y": y}, {k: [v] for k, v in values.items()}, status=status,
                   sweep="20261207-120000-pf01", trial=trial, start=start)
    return Path(run).name, {"status": status, **values}


def _brute_front(runs: dict[str, dict]) -> list[str]:
    """The finished runs that keep the constraint and that no other such run dominates, by the definition."""
    kept = {n: (r["f1"], r["f2"]) for n, r in runs.items() if r["status"] == "finished" and r["memory_mb"] <= 700}
    return sorted(n for n, p in kept.items() if not any(dominates(q, p) for q in kept.values()))


def test_a_multi_objective_sweep_page_gets_its_front_and_only_its_changes(workdir: Path, monkeypatch) -> None:
    from tuner.dashboard import state

    monkeypatch.setattr(state, "SUMMARY_EVERY_S", 0.0)  # counted again at once (in use: at most every 2 s)
    monkeypatch.setattr(state, "PARETO_EVERY_S", 0.0)
    sweep = "20261207-120000-pf01"
    runs = dict(_zdt_run(t, x, y, status="stopped" if t == 3 else "finished", start=1.0e9 + t)
                for t, (x, y) in enumerate((x, y) for x in (0.0, 0.25, 0.5, 0.75, 1.0) for y in (0.0, 0.5)))
    Journal.create("runs", sweep, {"script": "/p/train.py", "total": 12, "created": 1.0e9, "metric": ["f1", "f2"],
                                   "mode": ["min", "min"], "constraints": ["memory_mb <= 700"]})
    make_sweep("runs", "s1", 5)  # a sweep of one metric beside it
    board = Dashboard("runs")
    board.refresh(force=True)
    first = board.sweep_changes(sweep, 0, None)
    pareto = first["pareto"]
    expected = _brute_front(runs)
    # trial 3 (x = 0.25, y = 0.5) is stopped; x = 1.0 breaks the constraint: the front is y = 0, x <= 0.75
    assert sorted(pareto["front"]) == expected and len(expected) == 4
    assert [runs[n]["f1"] for n in pareto["front"]] == [0.0, 0.25, 0.5, 0.75]  # best first by f1
    assert sorted(pareto["infeasible"]) == sorted(n for n, r in runs.items() if r["memory_mb"] > 700)
    assert [o["metric"] for o in pareto["objectives"]] == ["f1", "f2"] and pareto["constraints"] == ["memory_mb <= 700"]
    # the hypervolume after each trial, sent where it changes; the last is the front's against the stated reference
    assert pareto["trials"] == 10 and pareto["hypervolume"][0][0] == 0
    kept = [(r["f1"], r["f2"]) for r in runs.values() if r["status"] == "finished" and r["memory_mb"] <= 700]
    worst, best = [max(p[k] for p in kept) for k in (0, 1)], [min(p[k] for p in kept) for k in (0, 1)]
    assert pareto["reference"] == pytest.approx([w + 0.1 * (w - b) for w, b in zip(worst, best)])  # 10% past the worst
    assert pareto["hypervolume"][-1][1] == pytest.approx(hypervolume(kept, pareto["reference"]))
    summary = first["summary"]
    assert summary["front"] == 4 and summary["best"] is None and summary["metric"] is None
    assert [o["metric"] for o in summary["objectives"]] == ["f1", "f2"]
    assert "pareto" not in board.sweep_changes("s1", 0, None)  # one metric: a best, no front
    listed = {s["sweep"]: s for s in board.sweeps(0)["sweeps"]}
    assert listed[sweep]["front"] == 4 and listed["s1"]["front"] is None and listed["s1"]["best"]

    # nothing changed: no pareto again; a new finished trial that beats x = 0.5: the front changes, and is sent
    version, epoch = first["version"], first["epoch"]
    board.refresh(force=True)
    assert "pareto" not in board.sweep_changes(sweep, version, epoch)
    name, row = _zdt_run(10, 0.5, -0.05, start=1.0e9 + 10)  # y < 0: a point below the known front
    runs[name] = row
    board.mirror.full_at = -1e9
    board.refresh(force=True)
    update = board.sweep_changes(sweep, version, epoch)
    assert set(update["rows"]) == {name} and sorted(update["pareto"]["front"]) == _brute_front(runs)
    assert name in update["pareto"]["front"] and update["pareto"]["trials"] == 11
    assert update["summary"]["front"] == len(_brute_front(runs))


def test_a_waiting_request_is_answered_when_only_the_front_changed(workdir: Path, monkeypatch) -> None:
    from tuner.dashboard import state

    monkeypatch.setattr(state, "SUMMARY_EVERY_S", 0.0)
    sweep = "20261207-120000-pf01"
    for t, x in enumerate((0.0, 0.5, 1.0)):
        _zdt_run(t, x, 0.0, start=1.0e9 + t)
    Journal.create("runs", sweep, {"script": "/p/train.py", "total": 4, "created": 1.0e9, "metric": ["f1", "f2"],
                                   "mode": ["min", "min"]})
    board = Dashboard("runs")
    first = board.sweep_changes(sweep, 0, None)
    assert len(first["pareto"]["front"]) == 3
    # a new trial below the front; the front is not computed again yet (PARETO_EVERY_S): its row is sent alone
    monkeypatch.setattr(state, "PARETO_EVERY_S", 1.0e9)
    name, _ = _zdt_run(3, 0.25, -0.05, start=1.0e9 + 3)
    board.mirror.full_at = -1e9
    board.refresh(force=True)
    rows_only = board.sweep_changes(sweep, first["version"], first["epoch"])
    assert set(rows_only["rows"]) == {name} and "pareto" not in rows_only
    # then the front is due: a page waiting since gets it at that refresh, not when its wait runs out
    monkeypatch.setattr(state, "PARETO_EVERY_S", 0.0)
    started = time.monotonic()
    answer = board.sweep_changes(sweep, rows_only["version"], first["epoch"], wait_s=12)
    assert name in answer["pareto"]["front"] and answer["rows"] == {}
    assert time.monotonic() - started < 6  # held to the end of its wait, it would take 12 s


def test_the_trials_filter_is_tune_ls_filter_with_its_errors(server: DashboardServer) -> None:
    status, body = _request(server, "GET", "/api/sweep/s1/filter?q=flag_units%20%3E%3D%20128%20and%20status%20%3D%3D"
                                           "%20%27finished%27")
    assert status == 200 and body["runs"]
    board = server.dashboard
    assert all(board.mirror.rows[n]["flag_units"] >= 128 for n in body["runs"])
    assert len(body["runs"]) == sum(1 for r in board.mirror.sweep_rows("s1").values()
                                    if r["flag_units"] >= 128 and r["status"] == "finished")
    mlflow = _request(server, "GET", "/api/sweep/s1/filter?q=params.optimizer%20%3D%20%27adam%27")[1]
    assert mlflow["runs"] and all(board.mirror.rows[n]["flag_optimizer"] == "adam" for n in mlflow["runs"])
    status, body = _request(server, "GET", "/api/sweep/s1/filter?q=flag_units%20%3E%3E%201")
    assert status == 200 and body["runs"] is None and "does not parse" in body["error"]


def test_sweeps_list_counts_from_the_journal_and_the_runs(workdir: Path) -> None:
    dirs = make_sweep("runs", "20261118-000000-ab12", 10)
    Journal.create("runs", "20261118-000000-ab12", {"script": "/work/project/train.py", "total": 12, "created": 1.0e9,
                                                    "metric": "val_loss", "mode": "min"})
    for trial in range(3):  # a sweep seen only in its runs (its journal gone, or made elsewhere)
        make_run("runs", 100 + trial, {"lr": 0.1}, {"val_loss": [0.5]}, sweep="no-journal", trial=trial)
    board = Dashboard("runs")
    sweeps = {s["sweep"]: s for s in board.sweeps(0)["sweeps"]}
    journaled = sweeps["20261118-000000-ab12"]
    assert journaled["planned"] == 12 and journaled["pending"] == 2 and journaled["state"] == "interrupted"
    assert journaled["script"] == "/work/project/train.py" and journaled["metric"] == "val_loss"
    assert journaled["mode"] == "min" and journaled["started"] == 1.0e9
    best = min((json.loads((Path(d) / "tuner.d" / "metrics.jsonl").read_text().splitlines()[-1])["val_loss"], Path(d).name)
               for d in dirs if json.loads((Path(d) / "tuner.d" / "run.json").read_text())["status"] == "finished")
    assert journaled["best"]["run"] == best[1] and journaled["best"]["value"] == best[0]
    assert sweeps["no-journal"]["state"] == "done" and sweeps["no-journal"]["planned"] == 3


def test_run_pages_are_the_run_view_with_a_way_back(server: DashboardServer, sweep_dir: Path) -> None:
    run = sorted(p.parent.parent.name for p in sweep_dir.glob("*/tuner.d/run.json"))[0]
    status, page = _request(server, "GET", f"/run/{run}")
    assert status == 200 and f"Run {run}" in page and '"href":"/sweep/s1"' in page
    status, update = _request(server, "GET", f"/api/run/{run}?since=0")
    assert status == 200 and update["done"] and update["total"] == 8
    assert _request(server, "GET", "/run/..%2F..%2Fetc")[0] == 404
    assert _request(server, "GET", "/sweep/nope")[0] == 404


def test_the_command_line(workdir: Path) -> None:
    done = run_tune("dashboard", "--port", "70000")
    assert done.returncode == 2 and "--port must be 0..65535" in done.stderr
    assert "dashboard" in run_tune("--help").stdout
    helped = run_tune("dashboard", "--help")
    assert helped.returncode == 0 and "--allow-control" in helped.stdout
