"""A sweep's journal: the plan, written before the first trial starts, then a log of what happened.

What the journal is (decided in the layout issue): the run directories are the truth about trials, the
journal holds the plan. `runs/sweeps/<id>/journal.jsonl`'s first line is the header (script, grid, sample,
seed, planned indices, settings): `tune resume` and `tune sweeps` read only it, and take every trial's state
from its runs (run.json is written by the run itself, so it cannot disagree with what ran). The `outcome` and
`skip` records after it are an audit log for people and tools; nothing reads them to decide, so they are
appended without fsync. The exception is an adaptive search (tuner/search): its ask/tell/stop records are what
resume replays into the study, so they are appended durably (fsynced). Only the driver that holds the
sweep's file lock appends.

Trust (issue 29): resume runs what the header says, so the header is signed with the user's key when it is
written (tuner.store.signing), and so is every durable record (a resumed search relaunches the flags an `ask`
record holds); `verify` tells a journal this user wrote from one edited, written by someone else, or written by a
tuner that did not sign yet.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any, Iterator

from filelock import FileLock, Timeout

from tuner.errors import SweepNotFoundError, TunerError
from tuner.store.layout import id_stamp
from workers.files import atomic_write_text, dumps_json, read_json_lines

SWEEPS_DIR = "sweeps"
JOURNAL = "journal.jsonl"
SUMMARY = "summary.csv"
SOURCE = "source"
#: written by `tune dashboard --allow-control` to stop the whole sweep; the driver looks for it (tuner.sweep.loop)
STOP_REQUEST = "stop.json"

#: the records a resumed sweep acts on besides the header (an adaptive search's, appended durably and signed)
REPLAYED = ("ask", "tell", "stop")


def new_sweep_id() -> str:
    """Sortable by time, short enough to type: `20261122-080102-a3f9`."""
    return f"{id_stamp()}-{secrets.token_hex(2)}"


def outcome_record(trial: int, attempt: int | None, run: str, status: str, exit_code: int | None,
                   error: str | None, duration_s: float | None, **extra: Any) -> dict[str, Any]:
    """The audit log's line for how one attempt ended: written by the driver as each result arrives, and by
    resume (`from: resume`) for the attempts a dead driver never logged."""
    return {"type": "outcome", "trial": trial, "attempt": attempt, "run": run, "status": status,
            "exit_code": exit_code, "error": error, "duration_s": duration_s, "time": time.time(), **extra}


def sweeps_root(runs_dir: str) -> str:
    return os.path.join(runs_dir, SWEEPS_DIR)


def sweep_dir(runs_dir: str, sweep_id: str) -> str:
    if not sweep_id or "/" in sweep_id or sweep_id.startswith(".") or os.sep in sweep_id:
        raise SweepNotFoundError(f"'{sweep_id}' is not a sweep id; list sweeps with `tune sweeps`")
    return os.path.join(sweeps_root(runs_dir), sweep_id)


@dataclass
class JournalState:
    header: dict[str, Any]
    records: list[dict[str, Any]]


class Journal:
    """One sweep's journal file and the lock that marks a driver as working on it."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.path = os.path.join(folder, JOURNAL)
        self._owner_lock = FileLock(os.path.join(folder, ".driver.lock"))
        self._signer_made: Any = None

    @property
    def sweep_id(self) -> str:
        return os.path.basename(self.folder)

    @property
    def summary_csv(self) -> str:
        return os.path.join(self.folder, SUMMARY)

    @property
    def source_dir(self) -> str:
        return os.path.join(self.folder, SOURCE)

    @classmethod
    def create(cls, runs_dir: str, sweep_id: str, header: dict[str, Any]) -> "Journal":
        from tuner.store.signing import Signer

        folder = sweep_dir(runs_dir, sweep_id)
        os.makedirs(folder)
        journal = cls(folder)
        signed = Signer.for_user().signed_text({"type": "sweep", "id": sweep_id, **header})
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

    def append(self, record: dict[str, Any], durable: bool = False) -> None:
        """One record in one write(). Only the driver holding the sweep's lock (`claim`) appends, so no per-append
        lock. `durable` records (an adaptive search's ask/tell/stop, which resume replays) are fsynced; the audit
        log is not: resume reads the runs for it (see the module doc)."""
        if record.get("type") in REPLAYED:  # resume acts on these: signed as the header is
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
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)

    @property
    def stop_request(self) -> str:
        """Its appearance asks the sweep's driver to stop (as a Ctrl-C would: running trials are stopped and left
        for `tune resume`); a driver that claims the sweep removes an old one."""
        return os.path.join(self.folder, STOP_REQUEST)

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
            if record.get("type") in REPLAYED:
                verdict = signer.verdict(record)
                if verdict is not Verdict.MINE:
                    return Verdict.ALTERED if verdict is Verdict.UNSIGNED else verdict
        return Verdict.MINE

    def read(self) -> JournalState:
        records, _bad = read_json_lines(self.path)  # a torn last line is skipped
        if not records or records[0].get("type") != "sweep":
            raise TunerError(f"{self.path}: the journal has no header; the sweep cannot be resumed")
        return JournalState(records[0], records[1:])

    def read_header(self) -> dict[str, Any]:
        """The header alone (the first line, written once before any trial): what a reader that polls a running
        sweep needs, without parsing its growing log."""
        try:
            with open(self.path, "rb") as handle:
                line = handle.readline()
            header = json.loads(line)
        except (OSError, ValueError) as exc:
            raise TunerError(f"{self.path}: the journal's header cannot be read ({exc})") from None
        if not isinstance(header, dict) or header.get("type") != "sweep":
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
