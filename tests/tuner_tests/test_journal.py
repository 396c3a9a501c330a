"""The journal owns its folder: record kinds are an enum whose words are the format on disk, `records(kind)`, the one
"asked but not told" rule, the lock and marker paths. Journals written before the enum (commit 1366e9a's real
sweeps, tests/tuner_tests/old_journals.py) are written the same way today, and still read, verify and resume."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from old_journals import GRID, JOURNALS, SEARCH, SKIPPING, journal_lines, write

from tuner.store.journal import DRIVER_LOCK, Journal, RecordKind, untold
from tuner.store.signing import SIGNATURE, Verdict

#: the kinds a journal held before the schedulers that pause (issue 32); the old journals below hold each of them
BEFORE_PAUSING = ["sweep", "ask", "tell", "stop", "outcome", "skip"]


def test_the_kinds_are_the_words_on_disk_and_what_resume_replays() -> None:
    assert [kind.value for kind in RecordKind] == [*BEFORE_PAUSING, "rung", "promote", "pbt-pause", "exploit",
                                                   "exploit-skipped"]
    assert {kind for kind in RecordKind if kind.replayed} == {
        RecordKind.ASK, RecordKind.TELL, RecordKind.STOP, RecordKind.RUNG, RecordKind.PROMOTE, RecordKind.PBT_PAUSE,
        RecordKind.EXPLOIT, RecordKind.EXPLOIT_SKIPPED}
    assert RecordKind.of({"type": "tell", "trial": 1}) is RecordKind.TELL
    assert RecordKind.of({"type": "pause"}) is None and RecordKind.of({"trial": 1}) is None  # a newer tuner's kind
    kinds = {json.loads(line)["type"] for lines in JOURNALS.values() for line in lines}
    assert kinds == set(BEFORE_PAUSING)  # the old journals hold every kind of their time, and only these


def test_every_record_is_written_as_the_tuner_before_the_enum_wrote_it(workdir: Path) -> None:
    """The format is unchanged: each old journal, header and records, appended again field by field through today's
    Journal, is the same bytes (the signed ones signed as then, with this user's key)."""
    for sweep in JOURNALS:
        expected = journal_lines(sweep)
        header = json.loads(expected[0])
        journal = Journal.create("runs", sweep, {k: v for k, v in header.items() if k not in ("type", "id", SIGNATURE)})
        for line in expected[1:]:
            record = json.loads(line)
            fields = {k: v for k, v in record.items() if k not in ("type", SIGNATURE)}
            journal.append(RecordKind.of(record), fields)
        assert Path(journal.path).read_text().splitlines() == expected, sweep
        state = journal.read()
        assert all((SIGNATURE in r) == RecordKind.of(r).replayed for r in state.records)
        assert journal.verify(state) is Verdict.MINE


def test_records_of_a_kind_and_the_trials_asked_but_never_told(workdir: Path) -> None:
    runs = write(workdir)
    journal = Journal.open(str(runs), SEARCH)
    state = journal.read()
    assert journal.verify(state) is Verdict.MINE  # an old journal of this user's is this user's
    assert [r["trial"] for r in journal.records(RecordKind.ASK)] == [0, 1, 2, 3, 4, 5, 6]
    assert [r["trial"] for r in journal.records(RecordKind.STOP)] == [1, 3, 5]
    assert [r["trial"] for r in state.of(RecordKind.TELL, RecordKind.STOP)] == [1, 1, 0, 3, 3, 2, 5, 5]
    assert state.untold() == [4, 6]  # the driver was killed with them running
    assert Journal.open(str(runs), SKIPPING).read().trials(RecordKind.SKIP) == [0, 1]
    # asked again (a relaunch), told out of order: the trials still waiting for a tell, in the order first asked
    records = [{"type": "ask", "trial": 3}, {"type": "ask", "trial": 1}, {"type": "tell", "trial": 1},
               {"type": "outcome", "trial": 3}, {"type": "ask", "trial": 3}, {"type": "ask", "trial": 0}]
    assert untold(records) == [3, 0]


def test_the_search_replays_an_old_journal_with_the_same_rule(workdir: Path) -> None:
    pytest.importorskip("optuna")
    from tuner.plan import grid_from_source
    from tuner.search.samplers import make_sampler

    state = Journal.open(str(write(workdir)), SEARCH).read()
    sampler = make_sampler("tpe", grid_from_source(state.header["grid"]), "min")
    assert sampler.restore(state.records) == state.untold() == [4, 6]
    assert sorted(t.state.name for t in sampler.study.trials) == ["COMPLETE", "COMPLETE", "PRUNED", "PRUNED", "PRUNED"]


def test_an_old_journal_resumes_as_it_did(workdir: Path) -> None:
    """Resume reads an old journal of this user's without asking, settles the dead driver's runs, logs their
    outcomes, and runs what is left; the search driver then relaunches the untold trials with their journaled flags
    and remembers what its rule stopped."""
    from tuner.search.driver import SearchDriver
    from tuner.sweep.resume import prepare_resume, sweep_statuses

    runs = write(workdir)
    before = {s.sweep_id: s.counts.as_dict() for s in sweep_statuses(str(runs))}
    assert before[SEARCH] == {"planned": 8, "finished": 2, "stopped": 3, "paused": 0, "failed": 0, "interrupted": 2,
                              "running": 0, "pending": 1, "skipped": 0}
    assert before[SKIPPING] == {"planned": 3, "finished": 1, "stopped": 0, "paused": 0, "failed": 0, "interrupted": 0,
                                "running": 0, "pending": 0, "skipped": 2}
    assert before[GRID]["finished"] == before[GRID]["planned"] == 2

    request = prepare_resume(SEARCH, quiet=True, project=str(workdir), runs_dir=str(runs))
    assert request.todo == (4, 6, 7) and request.search == "tpe" and request.stop.rule == "asha"
    journal = Journal.open(str(runs), SEARCH)
    logged = {r["trial"]: r["status"] for r in journal.records(RecordKind.OUTCOME) if r.get("from") == "resume"}
    assert logged == {4: "lost", 6: "lost"}  # the dead driver never logged how they ended
    asked = {r["trial"]: r["flags"] for r in journal.records(RecordKind.ASK)}
    search = SearchDriver(request, journal, str(runs))
    assert search.flags_for(4) == asked[4] and search.flags_for(6) == asked[6]
    assert search.stopped == {1: 1.0, 3: 1.0, 5: 1.0}
    assert search.histories[0][-1] == (6.0, 1.0546) and search.histories[1] == [(1.0, 4.4829)]
    assert len(journal.records(RecordKind.ASK)) == 7  # relaunching asks nothing new
    assert prepare_resume(GRID, quiet=True, project=str(workdir), runs_dir=str(runs)).todo == ()  # all finished
    # the trials --skip-done reused are over too (resume ran them again: they have no run of this sweep)
    assert prepare_resume(SKIPPING, quiet=True, project=str(workdir), runs_dir=str(runs)).todo == ()


@pytest.mark.ray
@pytest.mark.slow
def test_an_old_search_journal_resumes_to_the_end_on_ray(ray_cluster: str, workdir: Path) -> None:
    from tuner.sweep import run_sweep
    from tuner.sweep.resume import prepare_resume

    runs = write(workdir)
    asked_before = {r["trial"]: r["flags"] for r in Journal.open(str(runs), SEARCH).records(RecordKind.ASK)}
    request = prepare_resume(SEARCH, quiet=True, project=str(workdir), runs_dir=str(runs), ray_address=ray_cluster)
    result = run_sweep(request)
    assert not result.interrupted and sorted(result.frame["trial"]) == [4, 6, 7]
    journal = Journal.open(str(runs), SEARCH)
    asks = journal.records(RecordKind.ASK)
    assert sorted(r["trial"] for r in asks) == list(range(8))  # trial 7 asked once; none asked again
    assert all(r["flags"] == asked_before[r["trial"]] for r in asks if r["trial"] in asked_before)
    assert sorted(r["trial"] for r in journal.records(RecordKind.TELL)) == list(range(8))
    assert journal.read().untold() == []
    assert result.counts.planned == 8 and result.counts.finished + result.counts.stopped == 8


def test_the_journal_names_its_lock_and_marker(workdir: Path) -> None:
    journal = Journal.create("runs", "20260101-000000-l0ck", {"indices": [0], "script": "train.py"})
    assert journal.lock_path == os.path.join(journal.folder, DRIVER_LOCK) == os.path.join("runs", "sweeps",
                                                                                          journal.sweep_id, ".driver.lock")
    assert journal.marker_path == os.path.abspath(os.path.join(journal.folder, ".driver-marker"))
    assert not journal.is_claimed()
    journal.claim()
    try:
        assert os.path.exists(journal.lock_path) and journal.is_claimed()
    finally:
        journal.release()
    assert not journal.is_claimed()
