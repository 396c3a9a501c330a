"""What the dashboard shows, kept current by reading only what changed.

`RunsMirror` holds every run's ls_runs row. Each refresh lists the runs directory and stats every run
(store.run_signature through readers.PendingSignatures, as a listing does: three stats a run, ~0.1 s for 10^4
runs), and reads again (readers.read_rows_at_once) only the runs whose signature changed, the new ones and the
running ones (a running run turns `lost` when its heartbeat goes stale, which no file change announces). The first
refresh takes its rows from the listing index. Every change gets the mirror's next version number.

A page asks for what changed since the version it has (`?since=V`): `SweepView.changes` sends the rows and
learning curves whose version is newer, the runs removed since, and the sweep's summary, best-so-far and
importance when they changed; the page patches its copy. `epoch` names one server's numbering: a page that
comes back to a restarted server gets everything again.

Learning curves are the sweep metric's values by step, read with the live view's MetricsTail (metrics.jsonl, or
the printed metrics of a run still running), at most CURVE_POINTS a run, and at most CURVE_BUDGET runs a refresh
(running ones first), so the first look at 10^4 finished trials fills in over a few polls instead of blocking
one. Marks on curves are data (`{"kind": "stopped", "step", "value"}`): the page draws any kind it is given, with
a style per kind it knows (curve_marks: stopped and paused at a run's last step; resumed from a checkpoint, or a PBT
segment's exploit, at its first).
"""

from __future__ import annotations

import math
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from tuner.errors import TunerError
from tuner.report.data import best_so_far, by_first_objective, json_safe, launch_key, metrics_columns, objective_fields
from tuner.report.live import MetricsTail
from tuner.runs.index import indexed_columns
from tuner.runs.ranking import Objectives, Ranking, RankingChoice, sweep_objectives, sweep_ranking
from tuner.runs.readers import PendingSignatures, read_rows_at_once
from tuner.search.importance import Domain, domains_from_grid_source, flag_importance
from tuner.store.files import read_mapping
from tuner.store.journal import Journal, RecordKind, list_sweep_ids, sweep_dir
from tuner.store.layout import RunPaths, Signature, scan_run_names
from tuner.store.status import RunStatus

#: a run is stat'ed at every refresh while it is running or queued and this long after it last changed (a finished
#: trial's metrics can still arrive from the post-run step); every run is stat'ed every FULL_EVERY_S (a tag set on
#: an old run, a run settled `lost` by resume, a folder removed)
HOT_S = 60.0
FULL_EVERY_S = 10.0
#: a sweep's summary (counts, best) is counted again at most this often while its runs change (10^4 rows: ~0.3 s)
SUMMARY_EVERY_S = 2.0
#: points of one learning curve sent to the page (every k-th step and the last)
CURVE_POINTS = 200
#: learning curves read per refresh at most
CURVE_BUDGET = 1500
#: importance is computed again at most this often while a sweep's finished trials change
IMPORTANCE_EVERY_S = 3.0
#: a multi-objective sweep's front and hypervolume are computed again at most this often while its runs change
#: (front_view over every row), so a finished trial reaches the front's panel within a refresh, this and a poll
PARETO_EVERY_S = 1.0
#: a sweep's journal log (its `skip` records) is read again at most this often while it grows
RECORDS_EVERY_S = 10.0
#: row keys a page never needs (long, or said elsewhere)
_LEFT_OUT = frozenset({"error_traceback", "script_sha256", "git_commit", "git_branch", "git_dirty", "host", "user",
                       "job_type", "completed"})


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _is_running(row: Mapping[str, Any]) -> bool:
    return row.get("status") == RunStatus.RUNNING.value


def _is_active(row: Mapping[str, Any]) -> bool:
    return row.get("status") in (RunStatus.RUNNING.value, RunStatus.QUEUED.value)


class RunsMirror:
    """Every run's ls_runs row (without run_dir), by run name, kept current by refresh()."""

    def __init__(self, runs_dir: str, stale_after_s: float) -> None:
        self.runs_dir = runs_dir
        self.stale_after_s = stale_after_s
        self.rows: dict[str, dict[str, Any]] = {}
        self.signatures: dict[str, Signature] = {}
        self.changed_at: dict[str, int] = {}
        self.removed_at: dict[str, int] = {}
        self.by_sweep: dict[str, set[str]] = {}
        self.sweep_version: dict[str, int] = {}  # the last version in which one of a sweep's runs changed
        self.hot: dict[str, float] = {}  # runs stat'ed at every refresh: name -> when it last changed (monotonic)
        self.version = 0
        self.loaded = False
        self.full_at = -math.inf  # when every run was last stat'ed (monotonic)
        self.refresh_s = 0.0  # how long the last refresh took

    def next_version(self) -> int:
        self.version += 1
        return self.version

    def path(self, name: str) -> str:
        return os.path.join(self.runs_dir, name)

    def refresh(self) -> set[str]:
        """Bring the rows up to date; returns the names that changed (removed ones included). New runs and hot
        ones (running, queued, or changed in the last HOT_S) are stat'ed every time, every run every FULL_EVERY_S."""
        started = time.monotonic()
        names = scan_run_names(self.runs_dir)
        full = not self.loaded or started - self.full_at >= FULL_EVERY_S
        for name, since in list(self.hot.items()):
            if started - since > HOT_S and not _is_active(self.rows.get(name) or {}):
                del self.hot[name]
        checked = names if full else [n for n in names if n not in self.signatures or n in self.hot]
        prefix = os.path.join(self.runs_dir, "")
        with PendingSignatures([prefix + name for name in checked]) as pending:
            signatures = pending.result()
        current = {name: signature for name, signature in zip(checked, signatures) if signature is not None}
        if not self.loaded:  # the first look: the rows the listing index has (read again where they changed)
            self._load(current)
        stale = [name for name, signature in current.items()
                 if self.signatures.get(name) != signature or _is_running(self.rows.get(name) or {})]
        gone = set(self.rows) - set(names)
        if full:
            gone |= set(self.rows) - set(current)  # a folder that is no longer a run
        changed: set[str] = set()
        version = self.version + 1
        for name in gone:
            self._forget(name, version)
            self.removed_at[name] = version
            changed.add(name)
        now = time.time()
        for name, read in zip(stale, read_rows_at_once([prefix + name for name in stale], now, self.stale_after_s)):
            self.signatures[name] = current[name]
            row = {k: v for k, v in read.row.items() if k not in _LEFT_OUT}
            if row != self.rows.get(name):
                self._store(name, row, version)
                self.hot[name] = started
                changed.add(name)
        if changed:
            self.version = version
        if full:
            self.full_at = started
        self.refresh_s = time.monotonic() - started
        return changed

    def _load(self, current: Mapping[str, Signature]) -> None:
        """Rows from the listing index; `current` signatures were taken before it was read, so a run that changes
        meanwhile is read again by the next refresh."""
        try:
            names, columns = indexed_columns(self.runs_dir, self.stale_after_s)
        except (OSError, TunerError):
            names, columns = [], {}
        rows: list[dict[str, Any]] = [{} for _ in names]
        for key, values in columns.items():
            if key in _LEFT_OUT or key == "run_dir":
                continue
            for row, value in zip(rows, values):
                if _present(value):
                    row[key] = value
        version = self.next_version()
        now, started = time.time(), time.monotonic()
        for name, row in zip(names, rows):
            if name in current:
                self.signatures[name] = current[name]
                self._store(name, row, version)
                end = row.get("end")
                if _is_active(row) or isinstance(end, (int, float)) and now - end < HOT_S:
                    self.hot[name] = started  # still moving: watched from the next refresh on
        self.loaded = True

    def _store(self, name: str, row: dict[str, Any], version: int) -> None:
        old = self.rows.get(name)
        if old is not None and old.get("sweep") != row.get("sweep"):
            self._forget(name, version)
        self.rows[name] = row
        self.changed_at[name] = version
        self.removed_at.pop(name, None)
        if _present(row.get("sweep")):
            self.by_sweep.setdefault(str(row["sweep"]), set()).add(name)
            self.sweep_version[str(row["sweep"])] = version

    def _forget(self, name: str, version: int) -> None:
        row = self.rows.pop(name, None) or {}
        self.signatures.pop(name, None)
        self.changed_at.pop(name, None)
        self.hot.pop(name, None)
        if _present(row.get("sweep")):
            self.by_sweep.get(str(row["sweep"]), set()).discard(name)
            self.sweep_version[str(row["sweep"])] = version

    def sweep_rows(self, sweep: str) -> dict[str, dict[str, Any]]:
        return {name: self.rows[name] for name in self.by_sweep.get(sweep, ()) if name in self.rows}


# ---------------------------------------------------------------------------------------------------------------
# Sweeps

@dataclass
class SweepRecord:
    """What a sweep's journal says (its header once; its log's `skip` records now and then), or why it cannot be
    read; a sweep seen only in its runs' `sweep` field (its journal gone, or made elsewhere) has no journal."""

    sweep_id: str
    header: dict[str, Any] | None = None
    damaged: str | None = None
    #: the trials --skip-done reused (the journal's `skip` records)
    skipped: list[int] = field(default_factory=list)
    records_size: int = -1
    records_read: float = 0.0

    def planned(self, trials: Iterable[int]) -> list[int]:
        header = self.header or {}
        indices = header.get("indices")
        if isinstance(indices, list):
            return [int(i) for i in indices]
        if isinstance(header.get("total"), int):
            return list(range(header["total"]))
        return sorted(set(trials))


class SweepBook:
    """The sweeps of a runs directory: their journals (read once each) and their summaries from the mirror."""

    def __init__(self, mirror: RunsMirror) -> None:
        self.mirror = mirror
        self.records: dict[str, SweepRecord] = {}
        self.folders: dict[str, str] = {}
        #: sweep -> ((its runs' version, running, journal size), when counted, the summary)
        self.summaries: dict[str, tuple[tuple[int, bool, int], float, dict[str, Any]]] = {}

    def ids(self) -> list[str]:
        """Every sweep, newest first: those with a journal and those only runs name."""
        journaled = list_sweep_ids(self.mirror.runs_dir)
        others = sorted(set(self.mirror.by_sweep) - set(journaled), reverse=True)
        return sorted({*journaled, *(s for s in others if self.mirror.by_sweep.get(s))}, reverse=True)

    def record(self, sweep_id: str) -> SweepRecord:
        record = self.records.get(sweep_id)
        folder = sweep_dir(self.mirror.runs_dir, sweep_id)
        journal = Journal(folder)
        if record is None or (record.header is None and record.damaged is None and os.path.isfile(journal.path)):
            record = SweepRecord(sweep_id)
            if os.path.isfile(journal.path):
                try:
                    record.header = journal.read_header()
                except TunerError as exc:
                    record.damaged = str(exc)
            self.records[sweep_id] = record
            self.folders[sweep_id] = folder
        if record.header is not None:
            self._read_records(record, journal)
        return record

    def _read_records(self, record: SweepRecord, journal: Journal) -> None:
        """The log's records (for `skip`s), read again when the journal grew and RECORDS_EVERY_S passed."""
        try:
            size = os.stat(journal.path).st_size
        except OSError:
            return
        if size == record.records_size or time.monotonic() - record.records_read < RECORDS_EVERY_S \
                and record.records_size >= 0:
            return
        try:
            record.skipped = journal.read().trials(RecordKind.SKIP)
        except TunerError:
            record.skipped = []
        record.records_size, record.records_read = size, time.monotonic()

    def journal(self, sweep_id: str) -> Journal | None:
        record = self.record(sweep_id)
        return Journal(self.folders[sweep_id]) if record.header is not None else None

    def is_running(self, sweep_id: str) -> bool:
        journal = self.journal(sweep_id)
        return journal is not None and journal.is_claimed()

    def ranking(self, sweep_id: str, rows: Iterable[Mapping[str, Any]]) -> Ranking | None:
        """The sweep's ranking (tuner.runs.ranking.sweep_ranking): its recorded metric and mode (`--metric`), else
        the default choice over its rows; None until a run records the metric."""
        columns = sorted(set().union(*(row.keys() for row in rows)))
        return sweep_ranking(columns, RankingChoice.of_header(self.record(sweep_id).header or {}), where="dashboard")

    def objectives(self, sweep_id: str, rows: Iterable[Mapping[str, Any]]) -> Objectives | None:
        """A multi-objective sweep's objectives and constraints (tuner.runs.ranking.sweep_objectives: its recorded
        metrics and modes); None for a sweep of one metric, and until a run records every metric."""
        choice = RankingChoice.of_header(self.record(sweep_id).header or {})
        if not choice.multi:
            return None
        columns = sorted(set().union(*(row.keys() for row in rows)))
        return sweep_objectives(columns, choice, where="dashboard")

    def summary(self, sweep_id: str) -> dict[str, Any]:
        """One sweep as the sweeps page and the sweep page's header show it: counted again when its runs, its
        driver or its journal changed, at most every SUMMARY_EVERY_S while only its runs change."""
        record = self.record(sweep_id)
        running = self.is_running(sweep_id)
        key = (self.mirror.sweep_version.get(sweep_id, 0), running, record.records_size)
        cached = self.summaries.get(sweep_id)
        now = time.monotonic()
        if cached is not None and (cached[0] == key or cached[0][1:] == key[1:] and now - cached[1] < SUMMARY_EVERY_S):
            return cached[2]
        summary = self._summary(sweep_id, record, running)
        self.summaries[sweep_id] = (key, now, summary)
        return summary

    def _summary(self, sweep_id: str, record: SweepRecord, running: bool) -> dict[str, Any]:
        from tuner.sweep.history import count_trials

        rows = self.mirror.sweep_rows(sweep_id)
        header = record.header or {}
        trials = [int(r["trial"]) for r in rows.values() if isinstance(r.get("trial"), (int, float))]
        planned = record.planned(trials)
        counts = count_trials(_trial_frame(rows.values()), planned, running, record.skipped)
        if record.damaged is not None:
            state = "damaged"
        elif running:
            state = "running"
        elif counts.left_to_rerun(retry_failed=False):  # what `tune resume` would run, failed trials aside
            state = "interrupted" if record.header is not None else "incomplete"
        else:
            state = "done"
        ranking = self.ranking(sweep_id, rows.values())
        choice = RankingChoice.of_header(header)
        objectives = self.objectives(sweep_id, rows.values()) if choice.multi else None
        best = None
        front = None  # several metrics: the front's size, never a best
        if objectives is not None:
            front = len(objectives.front(list(rows.values())))
        if ranking is not None:
            names = list(rows)
            index = ranking.best([rows[n] for n in names])
            if index is not None:
                best = {"run": names[index], "value": json_safe(ranking.value(rows[names[index]])),
                        "trial": json_safe(rows[names[index]].get("trial"))}
        starts = [r["start"] for r in rows.values() if isinstance(r.get("start"), (int, float))]
        return {
            "sweep": sweep_id, "state": state, "damaged": record.damaged, "journal": record.header is not None,
            **counts.as_dict(), "runs": len(rows),
            "started": json_safe(header.get("created") or (min(starts) if starts else None)),
            "script": header.get("script") or next((r.get("script") for r in rows.values() if r.get("script")), None),
            "metric": ranking.metric if ranking else None, "column": ranking.column if ranking else None,
            "mode": ranking.mode if ranking else None, "best": best,
            "objectives": (objective_fields(objectives) if objectives is not None else
                           [{"column": None, "metric": m, "mode": o} for m, o in zip(choice.metrics, choice.modes)])
            if choice.multi else None, "front": front, "constraints": list(choice.constraints),
            "search": header.get("search"), "stop": (header.get("stop") or {}).get("rule")
            if isinstance(header.get("stop"), dict) else header.get("stop"),
        }

    def domains(self, sweep_id: str) -> dict[str, Domain]:
        return domains_from_grid_source((self.record(sweep_id).header or {}).get("grid"))


def _trial_frame(rows: Iterable[Mapping[str, Any]]) -> Any:
    """The two columns tuner.sweep.history counts trial states from."""
    import pandas as pd

    pairs = [(r.get("trial"), r.get("status")) for r in rows]
    return pd.DataFrame({"trial": [p[0] for p in pairs], "status": [p[1] for p in pairs]})


# ---------------------------------------------------------------------------------------------------------------
# One sweep's page

def curve_marks(row: Mapping[str, Any], steps: list[Any], values: list[Any],
                run: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The marks on one run's learning curve: where it was stopped early or paused (--stop hyperband, --search pbt),
    and where it began from a checkpoint (`run`, its run.json: `resumed_from`; a PBT segment's `donor`, the trial
    whose checkpoint and perturbed flags it took). The page draws every kind it gets."""
    if not steps:
        return []
    marks = []
    origin = (run or {}).get("resumed_from")
    if isinstance(origin, Mapping):
        donor = (run or {}).get("donor")
        label = f"PBT segment {(run or {}).get('segment')}: took trial {donor}'s checkpoint" if donor is not None \
            else f"continued from {origin.get('run')} at step {origin.get('step')}"
        marks.append({"kind": "exploit" if donor is not None else "resumed", "step": steps[0], "value": values[0],
                      "label": label})
    if row.get("status") in (RunStatus.STOPPED.value, RunStatus.PAUSED.value):
        reason = row.get("error_message")
        paused = row.get("status") == RunStatus.PAUSED.value
        marks.append({"kind": "paused" if paused else "stopped", "step": steps[-1], "value": values[-1],
                      "label": str(reason) if reason else "paused" if paused else "stopped early"})
    return marks


def _thin(steps: list[Any], values: list[Any], limit: int = CURVE_POINTS) -> tuple[list[Any], list[Any]]:
    if len(steps) <= limit:
        return steps, values
    stride = math.ceil(len(steps) / limit)
    keep = list(range(0, len(steps) - 1, stride)) + [len(steps) - 1]
    return [steps[i] for i in keep], [values[i] for i in keep]


class SweepView:
    """One sweep's page data: learning curves and importance on top of the mirror's rows, each with a version.
    update() costs what changed: the curves of the runs the last refresh changed (and of those never read yet, a
    budget at a time); best-so-far and importance only when the sweep's rows changed."""

    def __init__(self, book: SweepBook, sweep_id: str) -> None:
        self.book, self.mirror, self.sweep_id = book, book.mirror, sweep_id
        self.epoch = secrets.token_hex(4)
        self.curves: dict[str, dict[str, Any]] = {}
        self.curve_at: dict[str, int] = {}
        self.tails: dict[str, MetricsTail] = {}
        self.curve_key: str | None = None  # the metric whose curves are held
        self.unread: set[str] = set()  # runs whose curve is to be read (again)
        self.importance: dict[str, Any] | None = None
        self.importance_at = 0
        self.importance_of = -1  # the rows' version the importance was computed for
        self.importance_time = -math.inf
        self.summary: dict[str, Any] = {}
        self.summary_at = 0
        self.progress: dict[str, Any] | None = None
        self.progress_at = 0
        self.progress_time = -math.inf
        self.progress_of = -1  # the rows' version best-so-far was computed for
        self.pending_curves = 0
        self.objectives: Objectives | None = None  # a multi-objective sweep's, once a run recorded every metric
        self.pareto: dict[str, Any] | None = None
        self.pareto_at = 0
        self.pareto_of = -1
        self.pareto_time = -math.inf

    def update(self, changed: Iterable[str] | None = None) -> None:
        """After the mirror's refresh that changed `changed` (None: look at every run of the sweep)."""
        mine = self.mirror.by_sweep.get(self.sweep_id, set())
        if changed is None:
            self.unread |= mine
        else:
            self.unread |= {name for name in changed if name in mine or name in self.curves}
        summary = self.book.summary(self.sweep_id)
        if summary is not self.summary and summary != self.summary:
            self.summary, self.summary_at = summary, self.mirror.next_version()
        ranking = Ranking(summary["metric"], summary["column"], summary["mode"]) if summary.get("column") else None
        rows_version = self.mirror.sweep_version.get(self.sweep_id, 0)
        now = time.monotonic()
        rows: dict[str, dict[str, Any]] | None = None
        if rows_version != self.progress_of and (now - self.progress_time >= SUMMARY_EVERY_S or self.progress is None):
            rows = self.mirror.sweep_rows(self.sweep_id)
            self.progress_of, self.progress_time = rows_version, now
            progress = best_so_far(list(rows.values()), ranking.column, ranking.mode) if ranking else None
            if progress != self.progress:
                self.progress, self.progress_at = progress, self.mirror.next_version()
        if summary.get("objectives") and rows_version != self.pareto_of and (
                now - self.pareto_time >= PARETO_EVERY_S or self.pareto is None):
            rows = rows if rows is not None else self.mirror.sweep_rows(self.sweep_id)
            self.pareto_of, self.pareto_time = rows_version, now
            self.objectives = self.book.objectives(self.sweep_id, rows.values())
            pareto = json_safe(front_panel(rows, self.objectives, summary))
            if pareto != self.pareto:
                self.pareto, self.pareto_at = pareto, self.mirror.next_version()
        # a multi-objective sweep's learning curves are of its first metric
        self._update_curves(ranking or (self.objectives.rankings[0] if self.objectives is not None else None))
        if ranking is not None and rows_version != self.importance_of and (
                now - self.importance_time >= IMPORTANCE_EVERY_S or self.importance is None):
            rows = rows if rows is not None else self.mirror.sweep_rows(self.sweep_id)
            self.importance_of, self.importance_time = rows_version, now
            result = json_safe(flag_importance(list(rows.values()), ranking,
                                            domains=self.book.domains(self.sweep_id)).to_dict())
            if result != self.importance:
                self.importance, self.importance_at = result, self.mirror.next_version()

    def _update_curves(self, ranking: Ranking | None) -> None:
        key = ranking.column[len("metric_"):] if ranking and ranking.column.startswith("metric_") else None
        if key != self.curve_key:  # another metric (the first runs recorded it): every curve again
            self.curve_key = key
            for name in self.curves:
                self.curve_at[name] = self.mirror.next_version()
            self.curves, self.tails = {}, {}
            self.unread |= self.mirror.by_sweep.get(self.sweep_id, set())
        if not self.unread:
            self.pending_curves = 0
            return
        rows = self.mirror.rows
        for name in [n for n in self.unread if n not in rows and n in self.curves]:  # removed
            del self.curves[name]
            self.tails.pop(name, None)
            self.curve_at[name] = self.mirror.next_version()
        self.unread = {n for n in self.unread if n in rows}
        if key is None:
            return
        # running trials first, then curves that changed, then the ones never read, newest first in each
        todo = sorted(self.unread, reverse=True)
        todo.sort(key=lambda n: (not _is_running(rows[n]), n not in self.curves))
        self.pending_curves = max(0, len(todo) - CURVE_BUDGET)
        for name in todo[:CURVE_BUDGET]:
            self.unread.discard(name)
            row = rows[name]
            tail = self.tails.get(name)
            if tail is None:
                paths = RunPaths(self.mirror.path(name))
                tail = MetricsTail(paths.metrics_jsonl, paths.printed_metrics_jsonl)
            metrics = tail.poll()
            if _is_active(row):
                self.tails[name] = tail  # read on from where it is, next time
            else:
                self.tails.pop(name, None)
            columns = metrics_columns(metrics)
            series = columns["series"].get(key) or []
            points = [(s, v) for s, v in zip(columns["steps"], series) if v is not None]
            steps, values = _thin([p[0] for p in points], [p[1] for p in points])
            # a later attempt (a retry, a promotion, a PBT segment) may have begun from a checkpoint: its run.json says
            run = read_mapping(RunPaths(self.mirror.path(name)).run_json) \
                if isinstance(row.get("attempt"), (int, float)) and row["attempt"] > 1 else None
            curve = {"steps": steps, "values": values, "marks": curve_marks(row, steps, values, run)}
            if curve != self.curves.get(name):
                self.curves[name] = curve
                self.curve_at[name] = self.mirror.next_version()

    def changes(self, since: int, epoch: str | None) -> dict[str, Any]:
        """What changed since version `since` of this server's `epoch` (everything for another epoch or 0)."""
        full = epoch != self.epoch or since <= 0 or since > self.mirror.version
        since = 0 if full else since
        mirror = self.mirror
        rows = mirror.sweep_rows(self.sweep_id)
        changed = {name: json_safe(row) for name, row in rows.items() if mirror.changed_at.get(name, 0) > since}
        removed = [] if full else [n for n, v in mirror.removed_at.items() if v > since]
        curves = {name: curve for name, curve in self.curves.items() if self.curve_at.get(name, 0) > since}
        removed += [n for n, v in self.curve_at.items() if v > since and n not in self.curves and n not in rows
                    and n not in removed]
        answer: dict[str, Any] = {"epoch": self.epoch, "version": mirror.version, "full": full, "rows": changed,
                                  "removed": removed, "curves": curves, "pending_curves": self.pending_curves,
                                  "refresh_s": round(mirror.refresh_s, 3)}
        if self.summary_at > since:
            answer["summary"] = self.summary
        if self.progress_at > since:
            answer["progress"] = self.progress
        if self.importance_at > since:
            answer["importance"] = self.importance
        if self.pareto_at > since:
            answer["pareto"] = self.pareto
        return answer


def front_panel(rows: Mapping[str, Mapping[str, Any]], objectives: Objectives | None,
                summary: Mapping[str, Any]) -> dict[str, Any]:
    """A multi-objective sweep's Pareto panel (tuner.search.pareto.front_view over the runs in launch order, as
    `tune report` draws it): the front's runs, best first by the first metric; the runs with every metric that break
    a constraint; the reference point and the hypervolume after each run, sent as the runs where it changes
    (`[[position, value], ...]` of `trials` positions: a few hundred numbers, not one per trial). The values of each
    run the page reads from its rows, which it has. `objectives` None: no run recorded every metric yet."""
    from tuner.search.pareto import front_view

    constraints = list(summary.get("constraints") or [])
    if objectives is None:
        return {"objectives": summary.get("objectives"), "unmet": True, "constraints": constraints, "front": [],
                "infeasible": [], "reference": None, "margin": None, "trials": len(rows), "hypervolume": []}
    names = sorted(rows, key=lambda n: (*launch_key(rows[n]), n))
    ordered = [rows[n] for n in names]
    view = front_view(ordered, objectives)
    history = view["hypervolume"]
    changes = [[i, v] for i, v in enumerate(history) if i == 0 or v != history[i - 1]]
    return {"objectives": objective_fields(objectives), "unmet": False,
            "constraints": [c.text for c in objectives.constraints],
            "front": [names[i] for i in by_first_objective(ordered, objectives, view["front"])],
            "infeasible": [names[i] for i, (v, ok) in enumerate(zip(view["values"], view["feasible"]))
                           if v is not None and not ok],
            "reference": view["reference"], "margin": view["margin"], "trials": len(names), "hypervolume": changes}
