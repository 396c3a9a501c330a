"""One count of a sweep's trials: TrialState (a trial's state, pending and skipped included) and TrialCounts, which every
view derives from (the live progress, the sweep's last line, `tune sweeps`, the report, the dashboard,
SweepResult). Whatever happened to the trials, the counts add up to the trials planned, and every view says the
same numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import run_tune
from fabricate_runs import make_run
from hypothesis import given
from hypothesis import strategies as st

from tuner.store.journal import Journal, RecordKind
from tuner.store.status import Rerun, RunStatus, TrialCounts, TrialState
from tuner.sweep.history import count_trials, sweep_trial_states
from tuner.sweep.progress import SweepProgress

#: what a trial whose best attempt ended so is, written out apart from TrialState's own table
EXPECTED = {RunStatus.FINISHED: TrialState.FINISHED, RunStatus.STOPPED: TrialState.STOPPED,
            RunStatus.FAILED: TrialState.FAILED, RunStatus.TIMEOUT: TrialState.FAILED,
            RunStatus.KILLED: TrialState.INTERRUPTED, RunStatus.LOST: TrialState.INTERRUPTED,
            RunStatus.RUNNING: TrialState.RUNNING, RunStatus.QUEUED: TrialState.PENDING,
            RunStatus.PAUSED: TrialState.PAUSED}


def test_every_run_status_stands_for_exactly_one_trial_state() -> None:
    """A run status added (issue 32's `paused`) fails here until its trial state is the one line that says where
    it is counted."""
    for status in RunStatus:
        owners = [state for state in TrialState if status in state.run_statuses]
        assert len(owners) == 1, (status, owners)
        assert TrialState.of_run(status) is owners[0] is EXPECTED[status]
    assert TrialState.of_run(None) is TrialState.PENDING  # no attempt yet
    assert TrialState.SKIPPED.run_statuses == ()  # a reused run of another sweep: no attempt of this one


def test_what_resume_does_with_each_state() -> None:
    reruns = {state for state in TrialState if state.resume_reruns(retry_failed=True)}
    assert reruns == {TrialState.PENDING, TrialState.RUNNING, TrialState.INTERRUPTED, TrialState.FAILED}
    assert {state for state in TrialState if state.resume_reruns(retry_failed=False)} == reruns - {TrialState.FAILED}
    assert TrialState.FAILED.rerun is Rerun.IF_RETRYING
    # paused: not over (it goes on when promoted), and not rerun by resume as such: the resumed scheduler promotes it
    assert {s for s in TrialState if not s.is_over()} == {TrialState.PENDING, TrialState.RUNNING, TrialState.PAUSED}
    # the words are what run.json, the dashboard's JSON and `tune sweeps` say
    assert [s.value for s in TrialState] == ["finished", "stopped", "paused", "failed", "interrupted", "running",
                                             "pending", "skipped"]
    assert TrialState.parse("skipped") is TrialState.SKIPPED and TrialState.parse("queued") is None
    assert TrialState.PENDING == "pending"  # a str: JSON and old comparisons read it as the word


# ---------------------------------------------------------------------------------------------------------------
# Random trial histories: any mix of attempts, skip records and a live or dead driver


@st.composite
def histories(draw: Any) -> tuple[list[int], list[tuple[int, RunStatus]], set[int], bool]:
    planned = sorted(draw(st.sets(st.integers(0, 60), max_size=25)))
    attempts = draw(st.lists(st.tuples(st.sampled_from(planned) if planned else st.just(99),
                                       st.sampled_from(list(RunStatus))), max_size=60))
    skipped = draw(st.sets(st.sampled_from(planned), max_size=len(planned))) if planned else set()
    # attempts of trials not in the plan (another plan's indices) are ignored
    strays = draw(st.lists(st.tuples(st.integers(61, 70), st.sampled_from(list(RunStatus))), max_size=3))
    return planned, attempts + strays, skipped, draw(st.booleans())


def _expected_state(attempts: list[RunStatus], skipped: bool, alive: bool) -> TrialState:
    if not attempts:
        return TrialState.SKIPPED if skipped else TrialState.PENDING
    seen = [RunStatus.LOST if s is RunStatus.RUNNING and not alive else s for s in attempts]
    return EXPECTED[max(seen, key=lambda s: s.preference)]


@given(histories())
def test_counts_of_any_history_add_up_to_the_plan(history: Any) -> None:
    planned, attempts, skipped, alive = history
    rows = pd.DataFrame({"trial": [t for t, _ in attempts], "status": [s.value for _, s in attempts]})
    states = sweep_trial_states(rows, planned, alive, skipped)
    assert sorted(states) == planned
    for trial in planned:
        mine = [s for t, s in attempts if t == trial]
        assert states[trial] is _expected_state(mine, trial in skipped, alive), (trial, mine)
    counts = count_trials(rows, planned, alive, skipped)
    assert counts.planned == len(planned) == sum(n for _, n in counts)
    assert counts.over + counts.running + counts.pending + counts.paused == counts.planned
    if not alive:
        assert counts.running == 0  # a dead driver's running trial is lost: interrupted
    # every view's numbers are these: the table's columns, the summary's parts, the dashboard's JSON
    table = counts.as_dict()
    assert table["planned"] == sum(v for k, v in table.items() if k != "planned") == len(planned)
    said = {re.match(r"\d+ (\w+)", part).group(1): int(part.split()[0]) for part in counts.parts()}
    assert sum(said.values()) == len(planned)
    assert {k: v for k, v in table.items() if v and k != "planned"} == {k: v for k, v in said.items() if v}
    assert counts.describe().endswith(f"of {len(planned)} trial{'s' if len(planned) != 1 else ''}")
    assert counts.left_to_rerun(retry_failed=False) == counts.pending + counts.running + counts.interrupted


EVENTS = st.one_of(
    st.just(("start",)), st.just(("requeue",)),
    st.tuples(st.just("done"), st.sampled_from([s.value for s in RunStatus] + ["unknown"]), st.booleans()),
    st.tuples(st.just("skip"), st.integers(0, 4)))


@given(st.integers(0, 30), st.one_of(st.none(), st.integers(1, 8)), st.lists(EVENTS, max_size=80))
def test_the_progress_counts_add_up_to_its_total_whatever_arrives(total: int, slots: int | None,
                                                                  events: list[tuple[Any, ...]]) -> None:
    progress = SweepProgress(total, None, "max", quiet=True)
    progress.slots = slots
    for event in events:
        if event[0] == "start":
            progress.trial_started()
        elif event[0] == "requeue":
            progress.trial_requeued()
        elif event[0] == "done":
            progress.trial_done("r", event[1], 1.0, None, will_retry=event[2])
        else:
            progress.skipped(event[1])
        counts = progress.counts
        assert counts.planned == total
        assert counts.over + counts.running + counts.pending + counts.paused == total
        assert slots is None or counts.running <= slots  # the rest of those sent wait in the queue: pending
        assert progress.status_text().startswith(f"{counts.over}/{total} trials done · {counts.running} running")


def test_the_progress_line_names_every_state_that_is_over_but_finished_and_skipped() -> None:
    progress = SweepProgress(9, None, "max")
    progress.slots = 2
    progress.skipped(2)
    for _ in range(5):
        progress.trial_started()
    for status in ("finished", "stopped", "timeout"):
        progress.trial_done("r", status, 1.0, None)
    assert progress.counts.as_dict() == {"planned": 9, "finished": 1, "stopped": 1, "paused": 0, "failed": 1,
                                         "interrupted": 0, "running": 2, "pending": 2, "skipped": 2}
    assert progress.status_text() == "5/9 trials done · 2 running · 1 stopped · 1 failed"


# ---------------------------------------------------------------------------------------------------------------
# One sweep, every view: `tune sweeps`, the report, the dashboard


SWEEP = "20261118-000000-c0de"


@pytest.fixture
def six_trials(workdir: Path) -> Path:
    """A sweep of 6 trials whose driver is gone: finished, stopped early, failed twice, lost, never run, and one
    --skip-done reused (a run of an earlier sweep)."""
    runs = workdir / "runs"
    journal = Journal.create(str(runs), SWEEP, {"script": "/work/train.py", "total": 6, "created": 1.0e9,
                                                "indices": None, "metric": "val_acc", "mode": "max"})
    reused = make_run(str(runs), 0, {"lr": 0.5}, {"val_acc": [0.7]}, sweep="20261117-000000-0ld0", trial=0)
    make_run(str(runs), 1, {"lr": 0.1}, {"val_acc": [0.5, 0.8]}, sweep=SWEEP, trial=0)
    make_run(str(runs), 2, {"lr": 0.2}, {"val_acc": [0.3]}, status="stopped", sweep=SWEEP, trial=1)
    make_run(str(runs), 3, {"lr": 0.3}, {}, status="failed", sweep=SWEEP, trial=2)
    make_run(str(runs), 4, {"lr": 0.3}, {}, status="failed", sweep=SWEEP, trial=2)  # its retry
    make_run(str(runs), 5, {"lr": 0.4}, {"val_acc": [0.1]}, status="running", sweep=SWEEP, trial=3)  # driver died
    journal.append(RecordKind.SKIP, {"trial": 5, "run": Path(reused).name, "time": 1.0e9})
    return runs


EXPECTED_SIX = {"planned": 6, "finished": 1, "stopped": 1, "paused": 0, "failed": 1, "interrupted": 1, "running": 0,
                "pending": 1, "skipped": 1}


def test_the_report_counts_stopped_and_skipped_trials(six_trials: Path) -> None:
    """The bug: the report's summary left out the stopped and the skipped trials (its numbers did not add up)."""
    from tuner.report import save_sweep_report

    page = Path(save_sweep_report(SWEEP, runs_dir=str(six_trials), filename=str(six_trials.parent / "r.html"),
                                  run_views=False))
    data = json.loads(re.search(r'<script type="application/json"[^>]*>(.*?)</script>', page.read_text(), re.S)[1])
    assert data["summary"] == ("6 trials: 1 finished, 1 stopped early, 1 failed, 1 interrupted, 1 pending, "
                               "1 skipped (already done) (5 runs)")


def test_a_sweep_without_its_journal_is_counted_by_trial_not_by_run(workdir: Path) -> None:
    """Its runs name its trials (the dashboard counts it so); a retried trial is one trial, not two (the report's
    page counted runs by status under the word `trials`)."""
    from tuner.report import save_sweep_report

    make_run("runs", 1, {"lr": 0.1}, {"val_acc": [0.5]}, status="failed", sweep="pulled-alone", trial=0)
    make_run("runs", 2, {"lr": 0.1}, {"val_acc": [0.6]}, sweep="pulled-alone", trial=0)  # its retry
    make_run("runs", 3, {"lr": 0.2}, {}, status="failed", sweep="pulled-alone", trial=1)
    page = Path(save_sweep_report("pulled-alone", runs_dir="runs", filename="r.html", run_views=False))
    data = json.loads(re.search(r'<script type="application/json"[^>]*>(.*?)</script>', page.read_text(), re.S)[1])
    assert data["summary"] == "2 trials: 1 finished, 1 failed (3 runs)"


def test_tune_sweeps_and_the_dashboard_count_as_the_report_does(six_trials: Path) -> None:
    from tuner.dashboard.server import Dashboard
    from tuner.sweep.resume import sweep_statuses

    (status,) = sweep_statuses(str(six_trials))
    assert status.counts.as_dict() == EXPECTED_SIX
    listing = run_tune("sweeps", "--runs-dir", str(six_trials))
    assert listing.returncode == 0, listing.stderr
    head, row = [line for line in listing.stdout.splitlines() if "planned" in line or SWEEP in line]
    assert dict(zip(head.split()[-9:], map(int, row.split()[-9:]))) == EXPECTED_SIX  # the plain table (piped)
    summary = next(s for s in Dashboard(str(six_trials)).sweeps(0)["sweeps"] if s["sweep"] == SWEEP)
    assert {k: summary[k] for k in EXPECTED_SIX} == EXPECTED_SIX
    assert summary["state"] == "interrupted"  # resume has trials to run (the lost one, the pending one)


def test_a_resumed_sweep_counts_its_paused_trials_until_they_are_promoted() -> None:
    """tune resume of a --stop hyperband sweep: the paused trials are neither to run nor done; each promotion moves
    one back to running, and one never promoted ends stopped (the progress counted none of them before)."""
    progress = SweepProgress(3, "loss", "min")  # one trial to run again, two paused
    progress.paused(2)
    assert progress.counts.as_dict() == {**dict.fromkeys(EXPECTED_SIX, 0), "planned": 3, "paused": 2, "pending": 1}
    progress.trial_started()
    progress.trial_promoted()
    progress.trial_started()
    assert (progress.counts.running, progress.counts.paused, progress.counts.pending) == (2, 1, 0)
    progress.trial_done("a", "finished", 1.0, 0.5)
    progress.trial_done("b", "paused", 1.0, None)  # paused again at its next rung
    progress.trial_not_promoted()
    progress.trial_not_promoted()  # the sweep is over: both paused trials end stopped
    assert progress.counts.as_dict() == {**dict.fromkeys(EXPECTED_SIX, 0), "planned": 3, "finished": 1, "stopped": 2}
    assert progress.status_text().startswith("3/3 trials done · 0 running · 2 stopped")


def test_tune_sweeps_with_none_says_where_it_looked_and_how_to_make_one(workdir: Path) -> None:
    listing = run_tune("sweeps", "--runs-dir", "nowhere")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.strip() == ("No sweeps in nowhere/ (the folder does not exist yet); "
                                      "`tune train.py --flag lr=0.1,0.01` makes one.")


def test_tune_sweeps_on_an_80_column_terminal_shows_the_counts_in_one_cell(six_trials: Path) -> None:
    """A person's terminal: the nine count columns did not fit 80 columns, so the counts (what `tune sweeps` is for)
    were left out; they read as one cell there, the states with trials only, in TrialState's order, wrapped onto
    more lines where they are long."""
    from tests.tuner_tests.test_ls_fit import _on_a_terminal

    lines = _on_a_terminal(six_trials.parent, 80, "sweeps", "--runs-dir", str(six_trials)).splitlines()
    assert [cell.strip() for cell in lines[0].split("┃")][:2] == ["sweep", "trials"], lines
    first = next(i for i, line in enumerate(lines) if SWEEP in line)
    cell = " ".join(line.split("│")[1].strip() for line in lines[first:-1] if "│" in line)
    assert cell == "6: 1 finished, 1 stopped, 1 failed, 1 interrupted, 1 pending, 1 skipped", lines
    assert all(len(line) <= 80 for line in lines[:-1]), lines  # the last line names what did not fit
    assert lines[-1].startswith("(") and "`tune sweeps | cat` prints every column" in lines[-1]


def test_a_sweep_with_only_failed_trials_left_is_done_on_the_dashboard(workdir: Path) -> None:
    from tuner.dashboard.server import Dashboard

    Journal.create("runs", SWEEP, {"script": "/work/train.py", "total": 2, "created": 1.0e9})
    make_run("runs", 1, {"lr": 0.1}, {"val_acc": [0.5]}, sweep=SWEEP, trial=0)
    make_run("runs", 2, {"lr": 0.2}, {}, status="failed", sweep=SWEEP, trial=1)
    (summary,) = Dashboard("runs").sweeps(0)["sweeps"]
    assert summary["state"] == "done" and summary["failed"] == 1


def test_counts_are_a_value() -> None:
    counts = TrialCounts.planned_only(3).moved(TrialState.PENDING, TrialState.RUNNING, 2)
    assert counts.moved(TrialState.RUNNING, TrialState.FINISHED) == TrialCounts.from_mapping(
        {TrialState.PENDING: 1, TrialState.RUNNING: 1, TrialState.FINISHED: 1})
    assert counts.describe() == "0 finished, 0 failed, 2 running, 1 pending of 3 trials"
    with pytest.raises(ValueError):
        counts.moved(TrialState.FINISHED, TrialState.FAILED)  # no trial there to move
