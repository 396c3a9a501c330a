"""Early stopping and adaptive search in real sweeps: an unmodified script that only prints
`epoch N loss=...` is stopped by each rule (printed lines read live from its output.log), and an adaptive
sweep SIGKILLed mid-way resumes the same search."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tuner import tuning_run
from tuner.store.journal import Journal, RecordKind

pytestmark = [pytest.mark.ray, pytest.mark.slow]

# loss curve 1/epoch + x: bigger x is worse; 12 epochs of 0.12 s each
SCRIPT = """
import argparse, time
p = argparse.ArgumentParser()
p.add_argument("--x", type=float, default=0.0)
p.add_argument("--epochs", type=int, default=12)
args = p.parse_args()
for epoch in range(1, args.epochs + 1):
    print(f"epoch {epoch} loss={1 / epoch + args.x:.4f}", flush=True)
    time.sleep(0.12)
"""


@pytest.fixture
def script(write_script):
    return write_script("train.py", SCRIPT)


@pytest.mark.parametrize("rule, options", [("asha", dict(grace_period=2, reduction_factor=2)),
                                           ("median", dict(grace_period=3, min_trials=1))])
def test_each_rule_stops_the_bad_trials_of_a_printing_script(ray_cluster, workdir, script, rule, options):
    # two good trials run first (max 2 at once), then bad ones arrive and are judged against them
    flags = {"x": [0.0, 0.01, 5.0, 6.0, 7.0]}
    frame = tuning_run("train.py", flags, metric="loss", mode="min", stop=rule, confirm=False, quiet=True,
                       max_concurrent=2, **options)
    by_x = {row.flag_x: row for row in frame.itertuples()}
    assert by_x[0.0].status == "finished"
    stopped = [x for x, row in by_x.items() if row.status == "stopped"]
    assert stopped and set(stopped) <= {0.01, 5.0, 6.0, 7.0} and 7.0 in stopped
    for x in stopped:
        row = by_x[x]
        assert row.stopped_at >= options["grace_period"]
        log = open(os.path.join(row.run_dir, "tuner.d", "output.log")).read()
        assert "epoch 12 " not in log  # it really was stopped early
        assert row.metric_loss > x and row.epochs_completed >= row.stopped_at  # its printed metrics are kept
    assert set(frame.status) <= {"finished", "stopped"}


FILE_WITH_SETTINGS = """
sweep:
  metric: loss
  mode: min
  stop: asha
  grace_period: 2
  reduction_factor: 2
x: [0.0, 0.01, 5.0, 6.0, 7.0]
"""


def test_the_flags_file_carries_the_stopping_rule_and_the_command_line_wins(ray_cluster, workdir, script):
    from tests.conftest import run_tune

    (workdir / "grid.yml").write_text(FILE_WITH_SETTINGS)
    frame = tuning_run("train.py", "grid.yml", confirm=False, quiet=True, max_concurrent=2)
    assert frame.attrs["metric"] == "loss" and frame.attrs["mode"] == "min"
    by_x = {row.flag_x: row.status for row in frame.itertuples()}
    assert by_x[0.0] == "finished" and by_x[7.0] == "stopped"  # asha, from the file, judged the printed loss
    header = Journal(str(workdir / "runs" / "sweeps" / frame.attrs["sweep"])).read().header
    assert header["stop"]["rule"] == "asha" and header["stop"]["grace_period"] == 2  # what a resume continues
    # an option given on the command line wins over the file's; a misspelt setting is one line, exit 2
    (workdir / "bad.yml").write_text(FILE_WITH_SETTINGS.replace("grace_period", "grace_perod"))
    bad = run_tune("train.py", "--flags", "bad.yml", "--yes", cwd=workdir)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert "unknown sweep setting 'grace_perod'; did you mean 'grace_period'?" in bad.stderr
    plain = run_tune("train.py", "--flags", "grid.yml", "--stop", "median", "--min-trials", "1", "--max-concurrent",
                     "2", "--yes", "-q", "--address", ray_cluster, cwd=workdir)
    assert plain.returncode == 0, plain.stderr
    journals = sorted((workdir / "runs" / "sweeps").glob("*/journal.jsonl"))
    assert {Journal(str(j.parent)).read().header["stop"]["rule"] for j in journals} == {"asha", "median"}


optuna = pytest.importorskip("optuna")

DRIVER = """
import sys
from tuner import tuning_run
tuning_run("train.py", {"x": {"uniform": [0.0, 2.0]}, "epochs": 4}, num_samples=8, seed=3, search="tpe",
           metric="loss", mode="min", stop="asha", grace_period=1, reduction_factor=2, confirm=False,
           quiet=True, max_concurrent=2, address=sys.argv[1])
"""


def test_an_adaptive_sweep_resumes_after_sigkill_without_re_asking(ray_cluster, workdir, script):
    (workdir / "drive.py").write_text(DRIVER)
    proc = subprocess.Popen([sys.executable, "drive.py", ray_cluster], cwd=workdir, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", "")})
    sweeps = workdir / "runs" / "sweeps"
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until three trials are told, then kill the driver hard
        tells = []
        for journal in sweeps.glob("*/journal.jsonl") if sweeps.exists() else []:
            tells = [line for line in journal.read_text().splitlines() if '"type": "tell"' in line
                     or '"type":"tell"' in line]
        if len(tells) >= 3:
            break
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    sweep_id = next(sweeps.iterdir()).name
    before = Journal(str(sweeps / sweep_id)).read().records
    asked_before = {r["trial"]: r["flags"] for r in before if r["type"] == "ask"}
    told_before = {r["trial"] for r in before if r["type"] == "tell"}
    assert len(told_before) >= 3 and len(told_before) < 8

    frame = tuning_run(resume=sweep_id, confirm=False, quiet=True, address=ray_cluster)
    records = Journal(str(sweeps / sweep_id)).read().records
    asks = [r for r in records if r["type"] == "ask"]
    assert len({r["trial"] for r in asks}) == len(asks) == 8  # no trial asked twice, all 8 asked once
    for trial, flags in asked_before.items():  # what was asked before the kill ran with the same flags
        assert [r["flags"] for r in asks if r["trial"] == trial] == [flags]
    tells = [r for r in records if r["type"] == "tell"]
    assert sorted(r["trial"] for r in tells) == list(range(8))  # each trial told exactly once
    header = Journal(str(sweeps / sweep_id)).read().header
    assert header["search"] == "tpe" and header["grid"]["seed"] == 3
    # the resumed run made exactly the trials not told before the kill (less any that finished as the driver died:
    # told by the resume from their runs, not run again); every trial ended finished or stopped
    settled = {r["trial"] for r in tells if r.get("from") == "resume"}
    assert set(frame.trial) == set(range(8)) - told_before - settled
    final = {r["trial"]: r["status"] for r in records if r["type"] == "outcome"}
    assert sorted(final) == list(range(8)) and set(final.values()) <= {"finished", "stopped"}


def test_a_trial_that_finished_as_the_driver_died_is_told_by_the_resume(workdir):
    import pandas as pd

    from tuner.search.samplers import COMPLETE, PRUNED
    from tuner.sweep.resume import tell_untold

    journal = Journal.create("runs", "20260101-000000-tell", {"indices": [0, 1, 2, 3], "script": "train.py"})
    for trial in range(4):
        journal.append(RecordKind.ASK, {"trial": trial, "flags": {"x": trial}})
    journal.append(RecordKind.TELL, {"trial": 0, "state": COMPLETE, "value": 1.0})
    rows = pd.DataFrame({"trial": [0.0, 1.0, 2.0, 3.0], "status": ["finished", "finished", "failed", "stopped"],
                         "metric_loss": [1.0, 0.25, None, 0.75], "run_dir": ["a", "b", "c", "d"]})
    assert tell_untold(journal, rows, "loss") == [1, 3]  # not 0 (told), not 2 (failed: it runs again)
    tells = {r["trial"]: r for r in journal.read().records if r["type"] == "tell"}
    assert (tells[1]["state"], tells[1]["value"]) == (COMPLETE, 0.25) and tells[3]["state"] == PRUNED
    assert tell_untold(journal, rows, "loss") == []  # once


def test_resume_logs_the_outcomes_the_dead_driver_never_wrote(workdir):
    import pandas as pd

    from tuner.sweep.resume import log_unrecorded_outcomes

    journal = Journal.create("runs", "20260101-000000-logs", {"indices": [0, 1, 2, 3], "script": "train.py"})
    journal.append(RecordKind.OUTCOME, {"trial": 0, "attempt": 1, "run": "r0", "status": "finished"})
    rows = pd.DataFrame({"trial": [0, 1, 2, 3], "attempt": [1, 1, 1, 1],
                         "status": ["finished", "stopped", "lost", "queued"],
                         "exit_code": [0, None, None, None], "run_dir": ["runs/r0", "runs/r1", "runs/r2", "runs/r3"]})
    assert log_unrecorded_outcomes(journal, rows) == ["r1", "r2"]  # not r0 (logged), not r3 (never started)
    logged = {r["run"]: r for r in journal.read().records if r["type"] == "outcome" and r.get("from") == "resume"}
    assert (logged["r1"]["trial"], logged["r1"]["status"], logged["r1"]["exit_code"]) == (1, "stopped", None)
    assert logged["r2"]["status"] == "lost" and logged["r2"]["attempt"] == 1
    assert log_unrecorded_outcomes(journal, rows) == []  # once
