"""A sweep's journal and its folder: the plan, written before the first trial starts, then a log of what happened.

`runs/sweeps/<id>/` is the journal's folder and `Journal` owns every path in it (the file names are spelled in
tuner.store.layout, as every file name of the runs directory is):
- `journal.jsonl`: the journal (below).
- `summary.csv`: every attempt of the sweep, one line each, written at its end (tuner.runs.csvfile).
- `source/`: the script folder's snapshot, hard-linked into every trial's run.
- `stop.json` (`stop_request`): written by `tune dashboard --allow-control` to stop the whole sweep, looked for by
  the sweep loop, removed by the next `claim` (a resume).
- `.driver.lock` (`lock_path`): held by the driver that runs the sweep (`claim`); `is_claimed` is how resume
  refuses a sweep still running and how `tune sweeps` and the dashboard tell a running sweep from a dead one.
- `.driver-marker` (`marker_path`): placed by the sweep loop; a trial's task that does not see it runs on a node
  without this disk (workers.pool).

What the journal is (decided in the layout issue): the run directories are the truth about trials (run.json is
written by the run itself, so it cannot disagree with what ran); the journal holds the plan, and the decisions of
an adaptive search. Each line is one record, a JSON object whose `type` is its `RecordKind`; the words on disk are
the format (old journals resume), so a kind is never renamed. What reads what:
- `sweep`, the header (first line: script, grid, sample, seed, planned indices, settings, ranking: `metric` and
  `mode` are lists in a multi-objective sweep, with its `constraints`), written by
  `Journal.create`: resume runs what it says; `tune sweeps`, the report and the dashboard read the plan and the
  ranking from it; the trust check (`verify`) starts with it.
- `ask` (a sampler's flags for a trial) and `tell` (how the sampler was told the trial ended: its value, a list of
  one per metric in a multi-objective sweep, and its constraints' violations), written by the search driver
  (tuner.search.driver), and `tell` by resume (`"from": "resume"`) for a trial that ended as its driver died
  (tuner.sweep.resume.tell_untold): a resumed search replays them into a fresh study (samplers.restore) and
  relaunches the trials asked but never told (`untold`, the one place that rule is written) with their flags.
- `stop` (a stopping rule's decision), written by the search driver: a resumed rule remembers what it stopped;
  the sweep's end gives each stopped run its `stopped_at`.
- `outcome` (how one attempt ended), written by the sweep loop as each result arrives, and by resume
  (`"from": "resume"`) for the attempts a dead driver never logged: a resumed search reads the finished and
  stopped trials' runs it names into the stopping rule's histories; resume reads which attempts are logged.
  Otherwise an audit log for people and tools.
- `skip` (--skip-done reused a finished run for a trial), written before the first launch: the trial states read
  those trials as `skipped` (the sweep's end, `tune sweeps`, the report, the dashboard).
- `rung` and `promote` (`--stop hyperband`: a trial reached a rung's budget, paused or not; a paused trial moved
  up a rung), written by the search driver: a resumed scheduler replays them into its brackets (which trials wait
  paused, which were promoted). `stop` with rule `promoting` ends a paused trial the sweep never promoted.
- `pbt-pause`, `exploit`, `exploit-skipped` (`--search pbt`: a decision to exploit, its result with the new
  segment's flags and donor, or why none was made), written by the search driver: a resumed PBT replays the
  segments and relaunches a trial whose new segment never ran; the report draws the schedule and lineage from them.

The replayed kinds (`RecordKind.replayed`: ask, tell, stop, and the schedulers' rung, promote, pbt-pause,
exploit, exploit-skipped) decide what a resume runs, so they are appended
durably (fsynced) and signed as the header is (issue 29; tuner.store.signing, `verify`). `outcome` and `skip`
decide nothing a wrong value could turn into a command (the runs are the truth): appended without fsync. Only
the driver that holds the sweep's lock appends. An append after a torn last line starts a fresh line; a torn last
line is skipped on read.
"""

from __future__ import annotations

import enum
import json
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from filelock import FileLock, Timeout

from tuner.errors import SweepNotFoundError, TunerError
from tuner.store.layout import (
    DRIVER_LOCK,
    DRIVER_MARKER,
    JOURNAL_FILE,
    SOURCE_DIR,
    STOP_FILE,
    SUMMARY_CSV,
    SWEEPS_DIR,
    id_stamp,
)
from workers.files import atomic_write_text, dumps_json, read_json_lines

# the sweep folder's file names are the layout's (tuner.store.layout); these are the names this module gave them
JOURNAL = JOURNAL_FILE
SUMMARY = SUMMARY_CSV


class RecordKind(str, enum.Enum):
    """The kind of a journal record: its `type` on disk (see the module's table of what reads what). Adding a kind
    is one line: its word and whether resume replays it (then it is signed and fsynced)."""

    #          word       replayed
    SWEEP = ("sweep", False)  # the header (signed as the plan, not replayed: read by every reader)
    ASK = ("ask", True)
    TELL = ("tell", True)
    STOP = ("stop", True)
    OUTCOME = ("outcome", False)
    SKIP = ("skip", False)
    RUNG = ("rung", True)  # --stop hyperband: a trial reached its rung's budget, with its value, paused there or not
    PROMOTE = ("promote", True)  # --stop hyperband: a paused trial moved to its next rung (a new run of it)
    PBT_PAUSE = ("pbt-pause", True)  # --search pbt: a trial of the bottom quantile paused to exploit a donor
    EXPLOIT = ("exploit", True)  # --search pbt: the paused trial took the donor's checkpoint and perturbed flags
    EXPLOIT_SKIPPED = ("exploit-skipped", True)  # --search pbt: no donor with a newer checkpoint; goes on as it was

    replayed: bool

    def __new__(cls, word: str, replayed: bool) -> RecordKind:
        member = str.__new__(cls, word)
        member._value_ = word
        member.replayed = replayed
        return member

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> RecordKind | None:
        """The kind of a record as read back, None for a type this tuner does not know."""
        kind = record.get("type")
        return _KINDS.get(kind) if isinstance(kind, str) else None


_KINDS = {kind.value: kind for kind in RecordKind}


def new_sweep_id() -> str:
    """Sortable by time, short enough to type: `20261122-080102-a3f9`."""
    return f"{id_stamp()}-{secrets.token_hex(2)}"


def outcome_record(trial: int, attempt: int | None, run: str, status: str, exit_code: int | None,
                   error: str | None, duration_s: float | None, **extra: Any) -> dict[str, Any]:
    """The fields of an `outcome` record, how one attempt ended: appended by the driver as each result arrives,
    and by resume (`from: resume`) for the attempts a dead driver never logged."""
    return {"trial": trial, "attempt": attempt, "run": run, "status": status, "exit_code": exit_code,
            "error": error, "duration_s": duration_s, "time": time.time(), **extra}


def untold(records: Iterable[Mapping[str, Any]]) -> list[int]:
    """The trials a sampler was asked for and never told about (in the order they were asked): what a resumed
    search relaunches with the flags their `ask` holds, or tells from their runs when they ended as the driver
    died. The one place this rule is written."""
    asked: dict[int, None] = {}
    told: set[int] = set()
    for record in records:
        kind = RecordKind.of(record)
        if kind is RecordKind.ASK:
            asked.setdefault(record["trial"])
        elif kind is RecordKind.TELL:
            told.add(record["trial"])
    return [trial for trial in asked if trial not in told]


def sweeps_root(runs_dir: str) -> str:
    return os.path.join(runs_dir, SWEEPS_DIR)


def sweep_dir(runs_dir: str, sweep_id: str) -> str:
    if not sweep_id or "/" in sweep_id or sweep_id.startswith(".") or os.sep in sweep_id:
        raise SweepNotFoundError(f"'{sweep_id}' is not a sweep id; list sweeps with `tune sweeps`")
    return os.path.join(sweeps_root(runs_dir), sweep_id)


@dataclass
class JournalState:
    """A journal as read: the header and the records after it, in the order they were appended."""

    header: dict[str, Any]
    records: list[dict[str, Any]]

    def of(self, *kinds: RecordKind) -> list[dict[str, Any]]:
        """The records of these kinds, in order."""
        return [r for r in self.records if RecordKind.of(r) in kinds]

    def trials(self, kind: RecordKind) -> list[int]:
        """The trials the records of one kind name (`skip`: the trials --skip-done reused), in order."""
        return [r["trial"] for r in self.of(kind) if isinstance(r.get("trial"), int)]

    def untold(self) -> list[int]:
        """Trials asked and never told (`untold`)."""
        return untold(self.records)


class Journal:
    """One sweep's folder: its journal file, the lock that marks a driver as working on it, and the other files
    in it (the module's doc names them)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.path = os.path.join(folder, JOURNAL)
        self._owner_lock = FileLock(self.lock_path)
        self._signer_made: Any = None

    @property
    def sweep_id(self) -> str:
        return os.path.basename(self.folder)

    @property
    def summary_csv(self) -> str:
        return os.path.join(self.folder, SUMMARY)

    @property
    def source_dir(self) -> str:
        return os.path.join(self.folder, SOURCE_DIR)

    @property
    def lock_path(self) -> str:
        """The driver's lock (`claim`, `is_claimed`)."""
        return os.path.join(self.folder, DRIVER_LOCK)

    @property
    def marker_path(self) -> str:
        """An empty file the driver places before the first launch (absolute: a worker's cwd is not the driver's):
        a trial's task that does not see it runs on a node without this disk (workers.pool)."""
        return os.path.abspath(os.path.join(self.folder, DRIVER_MARKER))

    @classmethod
    def create(cls, runs_dir: str, sweep_id: str, header: dict[str, Any]) -> "Journal":
        from tuner.store.signing import Signer

        folder = sweep_dir(runs_dir, sweep_id)
        os.makedirs(folder)
        journal = cls(folder)
        signed = Signer.for_user().signed_text({"type": RecordKind.SWEEP.value, "id": sweep_id, **header})
        atomic_write_text(journal.path, signed + "\n")
        return journal

    @classmethod
    def open(cls, runs_dir: str, sweep_id: str) -> "Journal":
        folder = sweep_dir(runs_dir, sweep_id)
        if not os.path.isfile(os.path.join(folder, JOURNAL)):
            known = [s for s in list_sweep_ids(runs_dir)][:5]
            hint = f"; recent sweeps: {', '.join(known)}" if known else "; there are no sweeps in this runs directory"
            raise SweepNotFoundError(f"unknown sweep '{sweep_id}' in '{runs_dir}'{hint}")
        return cls(folder)

    def append(self, kind: RecordKind, fields: Mapping[str, Any]) -> None:
        """One record, `{"type": kind, **fields}`, in one write(). Only the driver holding the sweep's lock (`claim`)
        appends, so no per-append lock. The kinds resume replays (an adaptive search's ask/tell/stop) are signed as
        the header is and fsynced; the others are not (see the module doc)."""
        record = {"type": kind.value, **fields}
        if kind.replayed:
            from tuner.store.signing import Signer

            text = self._signer(Signer).signed_text(record)
        else:
            text = dumps_json(record)
        line = (text + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":  # a torn last line must not swallow this record
                line = b"\n" + line
            os.write(fd, line)
            if kind.replayed:
                os.fsync(fd)
        finally:
            os.close(fd)

    @property
    def stop_request(self) -> str:
        """Its appearance asks the sweep's driver to stop (as a Ctrl-C would: running trials are stopped and left
        for `tune resume`); a driver that claims the sweep removes an old one."""
        return os.path.join(self.folder, STOP_FILE)

    def _signer(self, kind: Any) -> Any:
        """This user's signer, made once per journal object (a search appends a record a trial)."""
        if self._signer_made is None:
            self._signer_made = kind.for_user()
        return self._signer_made

    def verify(self, state: JournalState) -> Any:
        """Who wrote what resume will act on (a tuner.store.signing.Verdict): the header, and every record resume
        replays; the first that is not this user's decides."""
        from tuner.store.signing import Signer, Verdict

        signer = self._signer(Signer)
        verdict = signer.verdict(state.header)
        if verdict is not Verdict.MINE:
            return verdict
        for record in state.records:
            kind = RecordKind.of(record)
            if kind is not None and kind.replayed:
                verdict = signer.verdict(record)
                if verdict is not Verdict.MINE:
                    return Verdict.ALTERED if verdict is Verdict.UNSIGNED else verdict
        return Verdict.MINE

    def read(self) -> JournalState:
        records, _bad = read_json_lines(self.path)  # a torn last line is skipped
        if not records or RecordKind.of(records[0]) is not RecordKind.SWEEP:
            raise TunerError(f"{self.path}: the journal has no header; the sweep cannot be resumed")
        return JournalState(records[0], records[1:])

    def records(self, *kinds: RecordKind) -> list[dict[str, Any]]:
        """The records of these kinds (read now), in the order they were appended."""
        return self.read().of(*kinds)

    def read_header(self) -> dict[str, Any]:
        """The header alone (the first line, written once before any trial): what a reader that polls a running
        sweep needs, without parsing its growing log."""
        try:
            with open(self.path, "rb") as handle:
                line = handle.readline()
            header = json.loads(line)
        except (OSError, ValueError) as exc:
            raise TunerError(f"{self.path}: the journal's header cannot be read ({exc})") from None
        if not isinstance(header, dict) or RecordKind.of(header) is not RecordKind.SWEEP:
            raise TunerError(f"{self.path}: the journal has no header; the sweep cannot be resumed")
        return header

    def claim(self) -> None:
        """Hold the driver lock for the sweep's lifetime; the OS drops it if the driver dies. A stop request left
        from before (the sweep was stopped from the dashboard, and is now resumed) is removed."""
        try:
            self._owner_lock.acquire(timeout=0.5)
        except Timeout:
            raise TunerError(f"sweep {self.sweep_id} is being run by another process right now") from None
        try:
            os.unlink(self.stop_request)
        except FileNotFoundError:
            pass

    def is_claimed(self) -> bool:
        """Whether a driver holds the sweep now (it runs); probed without waiting."""
        probe = FileLock(self._owner_lock.lock_file)
        try:
            probe.acquire(timeout=0)
        except Timeout:
            return True
        probe.release()
        return False

    def release(self) -> None:
        self._owner_lock.release(force=True)


def list_sweep_ids(runs_dir: str) -> list[str]:
    """Sweep ids, newest first."""
    root = sweeps_root(runs_dir)
    try:
        names = [e.name for e in os.scandir(root) if os.path.isfile(os.path.join(e.path, JOURNAL))]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(names, reverse=True)


def iter_journals(runs_dir: str) -> Iterator[Journal]:
    for sweep_id in list_sweep_ids(runs_dir):
        yield Journal(sweep_dir(runs_dir, sweep_id))
