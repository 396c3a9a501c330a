"""ls_runs through the listing index: the same frame as reading every run, re-reading only what changed."""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from synthetic_runs import make_run

import tuner.runs.index as index
import tuner.runs.readers as readers
from tuner import ls_runs
from tuner.runs.aggregate import read_rows, runs_frame
from tuner.store.files import update_tags
from tuner.store.layout import INDEX_FILE, list_run_dirs, run_signature
from tuner.tracking import log_metrics


@pytest.fixture
def runs(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Five varied runs, old enough (past a shortened racy window) that a warm listing may trust them."""
    monkeypatch.setattr(index, "RACY_NS", 200_000_000)
    root = workdir / "runs"
    make_run(root, "2026-01-01T00-00-01Z", flags={"dropout": 0.2, "units": 64},
             metrics=[{"loss": 0.9, "acc": 0.5}, {"loss": 0.5, "acc": 0.8}], evaluation={"acc": 0.81})
    make_run(root, "2026-01-01T00-00-02Z", flags={"dropout": 0.3, "units": 128, "optimizer": "adam"},
             metrics=[{"loss": 0.7}], tags={"team": "a"})
    make_run(root, "2026-01-01T00-00-03Z", status="failed", flags={"dropout": 0.4}, exit_code=1)
    make_run(root, "2026-01-01T00-00-04Z", flags={}, evaluation={"acc": None})
    make_run(root, "2026-01-01T00-00-05Z", flags={"units": 32}, metrics=[{"val_acc": 0.7}, {"val_acc": None}])
    (root / "not-a-run").mkdir()
    time.sleep(0.3)
    return root


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The run directories the index reads (a spy around the real reader)."""
    seen: list[str] = []
    real = readers.read_run

    def spy(run_dir: str, *args, **kwargs):
        seen.append(os.path.basename(run_dir))
        return real(run_dir, *args, **kwargs)

    monkeypatch.setattr(readers, "read_run", spy)
    return seen


def truth(root: Path) -> pd.DataFrame:
    return runs_frame(read_rows(list_run_dirs(str(root))))


def test_cold_and_warm_listings_equal_reading_every_run(runs: Path) -> None:
    cold = ls_runs(order=None, runs_dir=str(runs))
    assert (runs / INDEX_FILE).is_file()
    index._memo.clear()  # the next listing parses the file, as a new process would
    warm = ls_runs(order=None, runs_dir=str(runs))
    pd.testing.assert_frame_equal(cold, truth(runs))
    pd.testing.assert_frame_equal(warm, truth(runs))
    assert len(warm) == 5 and "tag_team" in warm.columns


def test_warm_listing_reads_no_run_again(runs: Path, reads: list[str]) -> None:
    ls_runs(runs_dir=str(runs))
    assert len(reads) == 5
    reads.clear()
    index._memo.clear()
    ls_runs(runs_dir=str(runs))
    assert reads == []


def test_an_appended_metric_line_is_listed_next_time(runs: Path, reads: list[str]) -> None:
    ls_runs(runs_dir=str(runs))
    reads.clear()
    log_metrics(step=3, run_dir=str(runs / "2026-01-01T00-00-01Z"), loss=0.1, acc=0.95)
    frame = ls_runs(runs_dir=str(runs)).set_index("run_dir")
    assert reads == ["2026-01-01T00-00-01Z"]
    row = frame.loc[str(runs / "2026-01-01T00-00-01Z")]
    assert row["metric_acc"] == 0.95 and row["epochs_completed"] == 3


def test_the_frame_made_while_the_runs_are_checked_is_used_only_when_nothing_changed(
        runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A warm listing makes the frame of the index as stored while the runs are stat'ed (two cores at work):
    used when every run is as stored, made again from the rows read anew when one is not."""
    ls_runs(runs_dir=str(runs))
    made: list[int] = []
    real = index._frame
    monkeypatch.setattr(index, "_frame", lambda *args: made.append(len(args[1])) or real(*args))
    checked: list[int] = []
    run_by_run = index.Index.is_fresh
    monkeypatch.setattr(index.Index, "is_fresh", lambda *args: checked.append(1) or run_by_run(*args))
    (runs / "sweeps").mkdir()  # as every runs directory with a sweep has, beside not-a-run/
    index._memo.clear()
    pd.testing.assert_frame_equal(ls_runs(order=None, runs_dir=str(runs)), truth(runs))
    assert made == [5]  # made ahead, and used
    assert checked == []  # nothing changed, seen a column at a time (all_fresh), the entries that are not runs aside
    made.clear()
    log_metrics(step=3, run_dir=str(runs / "2026-01-01T00-00-01Z"), loss=0.1, acc=0.95)
    changed = ls_runs(order=None, runs_dir=str(runs))
    assert made == [5]  # not made ahead: a run of this process's share (all five here) changed
    pd.testing.assert_frame_equal(changed, truth(runs))
    assert changed.set_index("run_dir").loc[str(runs / "2026-01-01T00-00-01Z"), "metric_acc"] == 0.95


def test_a_tag_set_after_the_run_is_listed_next_time(runs: Path, reads: list[str]) -> None:
    ls_runs(runs_dir=str(runs))
    reads.clear()
    update_tags(str(runs / "2026-01-01T00-00-03Z"), {"reviewed": "yes"})
    frame = ls_runs(subset="tags.reviewed = 'yes'", runs_dir=str(runs))
    assert reads == ["2026-01-01T00-00-03Z"]
    assert list(frame["run_dir"]) == [str(runs / "2026-01-01T00-00-03Z")]


def test_removed_added_and_replaced_runs(runs: Path, reads: list[str]) -> None:
    ls_runs(runs_dir=str(runs))
    shutil.rmtree(runs / "2026-01-01T00-00-02Z")
    make_run(runs, "2026-01-01T00-00-09Z", flags={"dropout": 0.9})
    # a copy that keeps every timestamp (copy2 + copystat) replaces run 1: only its inode tells
    shutil.rmtree(runs / "2026-01-01T00-00-01Z")
    shutil.copytree(runs / "2026-01-01T00-00-05Z", runs / "2026-01-01T00-00-01Z")
    reads.clear()
    frame = ls_runs(order=None, runs_dir=str(runs))
    assert sorted(reads) == ["2026-01-01T00-00-01Z", "2026-01-01T00-00-09Z"]
    pd.testing.assert_frame_equal(frame, truth(runs))
    assert str(runs / "2026-01-01T00-00-02Z") not in set(frame["run_dir"])


@pytest.mark.parametrize("content", [b"", b"{not json", b"[1, 2]", b'{"format": 999}', b"\xff\xfe\x00garbage",
                                     None])
def test_a_corrupt_or_deleted_index_is_rebuilt_silently(runs: Path, content: bytes | None,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    ls_runs(runs_dir=str(runs))
    path = runs / INDEX_FILE
    if content is None:
        path.unlink()
    else:
        path.write_bytes(content)
    index._memo.clear()
    caplog.clear()
    frame = ls_runs(order=None, runs_dir=str(runs))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    pd.testing.assert_frame_equal(frame, truth(runs))
    assert json.loads(path.read_text())["format"] == index.FORMAT


def test_an_index_whose_columns_disagree_with_its_runs_is_ignored(runs: Path) -> None:
    ls_runs(runs_dir=str(runs))
    path = runs / INDEX_FILE
    data = json.loads(path.read_text())
    status = data["columns"]["status"]
    assert set(status) == {"labels", "B"}  # 4 of 5 runs finished: stored as its labels and a byte a run
    status["B"] = base64.b64encode(base64.b64decode(status["B"])[:-1]).decode()  # one value short
    path.write_text(json.dumps(data))
    index._memo.clear()
    pd.testing.assert_frame_equal(ls_runs(order=None, runs_dir=str(runs)), truth(runs))


def _packed_float_column(data: dict) -> str:
    return next(k for k, v in data["columns"].items() if isinstance(v, dict) and "d" in v)


def _label_column(data: dict) -> dict:
    return next(v for v in data["columns"].values() if isinstance(v, dict) and "labels" in v)


@pytest.mark.parametrize("damage", [
    lambda d: d["meta"].update(q=d["meta"]["q"][:-12]),                      # meta a run short
    lambda d: d["meta"].update(q="not base64!"),
    lambda d: d.update(meta=[[1, 2, 3]]),                                      # meta in another shape
    lambda d: d["columns"][_packed_float_column(d)].update(d="AAAAAAAA8D8="),   # one float for five runs
    lambda d: d["columns"].update({_packed_float_column(d): {"x": "AAAAAAAA8D8="}}),  # an unknown typecode
    lambda d: _label_column(d).update(labels=_label_column(d)["labels"][:1] * 0),  # a label a run points at gone
    lambda d: _label_column(d).update(labels="finished"),                       # labels not a list
    lambda d: _label_column(d).update(d=_label_column(d).pop("B")),             # labels with float codes
    lambda d: _label_column(d)["labels"].append([1, 2]),                        # a label no column may hold
], ids=["meta-short", "meta-not-base64", "meta-unpacked", "column-short", "column-typecode", "labels-missing",
        "labels-not-a-list", "labels-typecode", "labels-of-another-type"])
def test_an_index_with_damaged_packed_numbers_is_ignored(runs: Path, damage) -> None:
    ls_runs(runs_dir=str(runs))
    path = runs / INDEX_FILE
    data = json.loads(path.read_text())
    assert set(data["meta"]) == {"q"} and len(base64.b64decode(data["meta"]["q"])) == 5 * 10 * 8
    damage(data)
    path.write_text(json.dumps(data))
    index._memo.clear()
    assert index.load_index(str(runs)).names == []  # as good as no index
    pd.testing.assert_frame_equal(ls_runs(order=None, runs_dir=str(runs)), truth(runs))
    index._memo.clear()
    assert len(index.load_index(str(runs)).names) == 5  # and written again whole


def test_packed_numbers_come_back_as_the_same_values(runs: Path) -> None:
    """Floats (NaN, inf, -0.0 and the last bit) and ints beyond 2**53, through the file."""
    odd = [math.nan, math.inf, -0.0, 0.1 + 0.2, 1e-310]
    big = [2**62, -(2**63), 0, 7, 2**53 + 1]
    stored = index.Index(names=[f"r{k}" for k in range(5)], meta=[list(range(10))] * 5,
                         columns={"odd": odd, "big": big, "huge": [2**64, 1, 2, 3, 4], "mixed": [1, 1.5, "a", None, True]})
    assert index.save_index(str(runs), stored)
    data = json.loads((runs / INDEX_FILE).read_text())
    assert set(data["columns"]["odd"]) == {"d"} and set(data["columns"]["big"]) == {"q"}
    assert isinstance(data["columns"]["huge"], list) and isinstance(data["columns"]["mixed"], list)
    index._memo.clear()
    loaded = index.load_index(str(runs))
    assert [list(m) for m in loaded.meta] == [list(range(10))] * 5
    assert list(loaded.columns["big"]) == big and loaded.columns["huge"] == [2**64, 1, 2, 3, 4]
    assert loaded.columns["mixed"] == [1, 1.5, "a", None, True]
    got = loaded.columns["odd"]
    assert math.isnan(got[0]) and list(got[1:]) == odd[1:] and math.copysign(1, got[2]) == -1


def test_text_and_boolean_columns_come_back_as_the_same_values(runs: Path) -> None:
    """A column of text, booleans, None and missing values with few distinct ones is stored as its labels and a
    code a run; with many distinct ones, or numbers among them, as a list: either way the same values back."""
    nan = math.nan
    columns = {"status": ["finished", "failed", "finished", "finished", "finished", "finished"],
               "dirty": [True, False, True, True, nan, True], "note": ["a", None, nan, "a", "a", None],
               "unique": ["r0", "r1", "r2", "r3", "r4", "r5"], "numbers": [True, 1, 1.0, "1", "1", "1"],
               "many": ["x"] * 3 + [float("nan")] * 3}
    stored = index.Index(names=[f"r{k}" for k in range(6)], meta=[list(range(10))] * 6, columns=columns)
    assert index.save_index(str(runs), stored)
    data = json.loads((runs / INDEX_FILE).read_text())
    for key in ("status", "dirty", "note", "many"):
        assert set(data["columns"][key]) == {"labels", "B"}, key
    assert isinstance(data["columns"]["unique"], list) and isinstance(data["columns"]["numbers"], list)
    index._memo.clear()
    loaded = index.load_index(str(runs)).columns
    for key, values in columns.items():
        got = loaded[key]
        assert [type(v) for v in got] == [type(v) for v in values], key
        assert [v if v == v else "NaN" for v in got] == [v if v == v else "NaN" for v in values], key
    # a frame made from them as loaded (text labels decoded by pyarrow, the others as lists) is the frame made
    # from the same values as lists, dtypes included; so is one of the newest rows only (a slice of the codes)
    assert isinstance(loaded["status"], index.Labels)
    times = {"start": [1.7e9 + k for k in range(6)], "end": [1.7e9 + 10 + k for k in range(6)]}
    for n in (6, 2):
        got = index._frame(str(runs), stored.names[:n], {k: v[:n] for k, v in {**loaded, **times}.items()})
        want = index._frame(str(runs), stored.names[:n], {k: v[:n] for k, v in {**columns, **times}.items()})
        pd.testing.assert_frame_equal(got, want)
        assert str(got["status"].dtype) == str(pd.Series(["a"]).dtype)


def test_a_running_run_turns_lost_with_no_file_changing(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNER_STALE_AFTER_S", "1.5")
    monkeypatch.setattr(index, "RACY_NS", 100_000_000)
    root = workdir / "runs"
    make_run(root, "2026-01-01T00-00-01Z", status="running", heartbeat=time.time())
    time.sleep(0.2)  # past the racy window: only the run's status makes the index read it again
    assert list(ls_runs(runs_dir=str(root))["status"]) == ["running"]
    time.sleep(1.5)
    assert list(ls_runs(runs_dir=str(root))["status"]) == ["lost"]


def test_latest_n_looks_at_the_newest_runs_and_keeps_the_others(runs: Path, reads: list[str]) -> None:
    frame = ls_runs(latest_n=2, runs_dir=str(runs))
    assert sorted(reads) == ["2026-01-01T00-00-04Z", "2026-01-01T00-00-05Z"]
    assert len(frame) == 2
    reads.clear()
    index._memo.clear()
    ls_runs(runs_dir=str(runs))
    assert sorted(reads) == ["2026-01-01T00-00-01Z", "2026-01-01T00-00-02Z", "2026-01-01T00-00-03Z"]


def test_a_run_read_just_after_it_changed_is_read_again(workdir: Path, reads: list[str]) -> None:
    """Within the racy window a timestamp may not have moved on a change: such runs are not trusted."""
    root = workdir / "runs"
    make_run(root, "2026-01-01T00-00-01Z")
    ls_runs(runs_dir=str(root))
    ls_runs(runs_dir=str(root))
    assert reads == ["2026-01-01T00-00-01Z"] * 2


LISTER = """
import sys
from tuner import ls_runs
for _ in range(5):
    assert len(ls_runs(runs_dir=sys.argv[1])) >= 5
"""


def test_concurrent_listings_and_writes_leave_a_valid_index(runs: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", LISTER, str(runs)]) for _ in range(3)]
    for step in range(20):
        log_metrics(step=10 + step, run_dir=str(runs / "2026-01-01T00-00-02Z"), loss=1.0 / (step + 1))
        time.sleep(0.01)
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    index._memo.clear()
    assert index.load_index(str(runs)).names  # a whole, valid file
    time.sleep(0.3)
    pd.testing.assert_frame_equal(ls_runs(order=None, runs_dir=str(runs)), truth(runs))


def test_the_index_and_other_entries_are_not_runs(runs: Path) -> None:
    (runs / "archive" / "2025-01-01T00-00-00Z" / "tuner.d").mkdir(parents=True)
    (runs / ".copy-123" / "tuner.d").mkdir(parents=True)
    names = {os.path.basename(p) for p in ls_runs(runs_dir=str(runs))["run_dir"]}
    assert names == {f"2026-01-01T00-00-0{i}Z" for i in range(1, 6)}


def test_an_empty_or_missing_runs_directory_lists_nothing(workdir: Path) -> None:
    assert ls_runs(runs_dir=str(workdir / "nowhere")).empty
    assert not (workdir / "nowhere").exists()
    assert ls_runs(subset="metrics.acc > 1", runs_dir=str(workdir / "nowhere")).empty


def test_a_run_json_damaged_in_place_after_indexing_is_reported_by_a_warm_listing(runs: Path,
                                                                                  caplog: pytest.LogCaptureFixture) -> None:
    ls_runs()  # the index is warm: every run is trusted by its signature
    run_json = runs / "2026-01-01T00-00-02Z" / "tuner.d" / "run.json"
    with open(run_json, "r+b") as handle:  # truncated in place: tuner.d/ itself does not change
        handle.truncate(20)
    caplog.clear()
    ls_runs()
    assert any("2026-01-01T00-00-02Z" in r.getMessage() and "run.json" in r.getMessage() for r in caplog.records)


def test_temp_files_of_an_interrupted_index_write_are_removed_by_the_next_writer(runs: Path) -> None:
    stale, fresh = runs / ".tmp-killed-writer", runs / ".tmp-live-writer"
    stale.write_text("{half an ind")
    fresh.write_text("{being writ")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    (runs / "2026-01-01T00-00-09Z").mkdir()  # a change, so the listing writes the index
    make_run(runs, "2026-01-01T00-00-09Z", flags={})
    ls_runs()
    assert not stale.exists()
    assert fresh.exists()  # a write in progress (seconds old) is never touched


def test_the_all_at_once_freshness_check_agrees_with_the_run_by_run_one(runs: Path) -> None:
    """index.all_fresh (columns compared in C) decides the usual warm listing: it must say yes exactly where
    Index.is_fresh says yes for every run, and no for each way a run may not be trusted."""
    ls_runs(runs_dir=str(runs))
    index._memo.clear()
    stored = index.load_index(str(runs))
    names = stored.names

    def signatures() -> list:
        return [run_signature(str(runs / name)) for name in names]

    def run_by_run(idx: index.Index, sigs: list) -> bool:
        return all(idx.is_fresh(k, s) for k, s in enumerate(sigs))

    now = signatures()
    assert index.all_fresh(stored, names, now) and run_by_run(stored, now)
    assert index.all_fresh(stored, names[:2], now[:2])  # the newest runs at their stored places (oldest removed)
    assert not index.all_fresh(stored, names[1:], now[1:])  # shifted: a newer run was removed
    assert not index.all_fresh(stored, [], []) and not index.all_fresh(stored, names, [*now[:-1], None])
    # a run marked volatile, or read within the racy window of its last change (from meta lists: packed_meta)
    for flag in (index.VOLATILE, index.RACY):
        meta = [list(m) for m in stored.meta]
        meta[2][index.SIGNATURE_LEN + 1] = flag
        changed = index.Index(names, meta, stored.problems, stored.columns)
        assert not index.all_fresh(changed, names, now) and not run_by_run(changed, now)
    # the signatures as the stats' children send them (one packed array) decide the same
    packed = readers.PackedSignatures(readers.pack_signatures(now))
    assert list(packed) == now and packed[-1] == now[-1] and packed[1:3] == now[1:3]
    assert index.all_fresh(stored, names, packed) and not index.all_fresh(stored, names[1:], packed[1:])
    gone = readers.PackedSignatures(readers.pack_signatures([*now[:-1], None]))
    assert gone[-1] is None and not index.all_fresh(stored, names, gone)
    assert index.listing_digest(names, packed) == index.listing_digest(names, now)
    log_metrics(step=3, run_dir=str(runs / names[3]), loss=0.1)
    after = signatures()
    assert not index.all_fresh(stored, names, after) and not run_by_run(stored, after)


def test_changing_a_listed_frame_leaves_the_next_listing_as_it_was(runs: Path) -> None:
    """A warm frame's numeric columns come from the index's packed arrays, which this process keeps for the
    next call: the frame must hold copies."""
    ls_runs(runs_dir=str(runs))
    index._memo.clear()
    first = ls_runs(order=None, runs_dir=str(runs))
    numeric = [c for c in first.columns if first[c].dtype.kind in "fi"]
    assert "flag_dropout" in numeric and "start" not in numeric
    first.loc[:, numeric] = -7  # in place, in the frame's own arrays
    pd.testing.assert_frame_equal(ls_runs(order=None, runs_dir=str(runs)), truth(runs))


def test_rebuild_index_lists_a_flags_json_edited_in_place(runs: Path) -> None:
    """The documented way back (docs/benchmarks.md) after the one edit the stats cannot see: flags.json rewritten
    in place, same size, same folder. tuner.runs.index.rebuild_index drops the index and reads every run again."""
    run = runs / "2026-01-01T00-00-01Z"
    ls_runs(runs_dir=str(runs))
    flags_json = run / "tuner.d" / "flags.json"
    text = flags_json.read_text()
    with open(flags_json, "r+", encoding="utf-8") as handle:  # in place: no rename, no append
        handle.write(text.replace("0.2", "0.7"))
    assert ls_runs(runs_dir=str(runs)).set_index("run_dir").loc[str(run), "flag_dropout"] == 0.2  # not seen
    assert index.rebuild_index(str(runs)) == 5
    assert ls_runs(runs_dir=str(runs)).set_index("run_dir").loc[str(run), "flag_dropout"] == 0.7
