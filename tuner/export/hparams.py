"""A sweep as TensorBoard's HParams dashboard reads it: the table, parallel coordinates and scatter plots.

`write_sweep_hparams(sweep)` writes `runs/sweeps/<id>/tensorboard/`: the experiment summary (every flag
with its type and the values the runs used, the chosen metrics) at the root, and per run a folder with its
session start (flag values), its metrics as scalars (every step of metrics.jsonl, evaluation values as
`eval_<name>` at step 0) and its session end (status, end time). Only the `tensorboard` package's protobufs
and event writer are used; TensorFlow is never imported.

Flag types: bools stay bools, strings strings, ints and floats (numpy scalars included) are numbers; a flag
whose runs hold values of different kinds (64 and "auto") is a string column. The domain of each flag is
the set of values the runs used (a continuous interval past 32 distinct numbers), so no run falls outside
it: TensorBoard hides sessions whose value is not in the declared domain.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from tuner.errors import TunerError
from tuner.export import require, sweep_run_dirs
from tuner.runs.aggregate import effective_status, run_row
from tuner.runs.ranking import sweep_choice, sweep_ranking
from tuner.settings import load_settings
from tuner.store.files import read_run
from tuner.store.layout import HPARAMS_SIGNATURE, TENSORBOARD_DIR, run_signature
from tuner.store.status import RunStatus

#: past this many distinct numbers a flag's domain is an interval instead of a list
MAX_DISCRETE = 32
LOGDIR = TENSORBOARD_DIR  # in the sweep's folder
SIGNATURE_FILE = HPARAMS_SIGNATURE
FORMAT = 2  # bump when what is written changes, so folders written by an older version are rewritten


@dataclass(frozen=True)
class Session:
    """One run as an HParams session."""

    name: str
    flags: Mapping[str, Any]
    metrics: Sequence[Mapping[str, Any]] = ()  # metrics.jsonl rows: step, timestamp, values
    evaluation: Mapping[str, Any] = field(default_factory=dict)
    status: str = RunStatus.FINISHED.value
    start: float | None = None
    end: float | None = None


def plain(value: Any) -> Any:
    """numpy scalars -> Python scalars (np.int64(3) -> 3); other values as they are."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return value.item()
        except (TypeError, ValueError):
            return value
    return value


def _kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "str"
    return None if value is None else "other"


def flag_columns(sessions: Sequence[Session]) -> dict[str, tuple[str, list[Any]]]:
    """flag -> (kind: bool|number|str, the distinct values the sessions used, as written to them)."""
    values: dict[str, list[Any]] = {}
    for session in sessions:
        for name, value in session.flags.items():
            value = plain(value)
            if value is not None:
                values.setdefault(str(name), []).append(value)
    columns = {}
    for name in sorted(values):
        kinds = {_kind(v) for v in values[name]}
        kind = str(kinds.pop()) if len(kinds) == 1 and "other" not in kinds else "str"
        shown = values[name] if kind != "str" else [v if isinstance(v, str) else json.dumps(v) for v in values[name]]
        columns[name] = (kind, sorted(set(shown), key=lambda v: (str(type(v)), v)))
    return columns


def _session_value(kind: str, value: Any) -> Any:
    value = plain(value)
    if kind == "str" and not isinstance(value, str):
        return json.dumps(value)
    return value


def metric_names(sessions: Sequence[Session]) -> list[str]:
    """Every numeric metric of the sessions, then `eval_<name>` for their evaluation values."""
    names: dict[str, None] = {}
    for session in sessions:
        for row in session.metrics:
            for key, value in row.items():
                if key not in ("step", "timestamp", "epoch") and _is_number(value):
                    names[str(key)] = None
    evals = {f"eval_{k}": None for s in sessions for k, v in s.evaluation.items() if _is_number(v)}
    return sorted(names) + sorted(evals)


def _is_number(value: Any) -> bool:
    value = plain(value)
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _use_tensorboards_tf_stub() -> None:
    """TensorBoard's writer reaches `tensorboard.compat.tf`, which imports TensorFlow when it is installed (seconds
    and a GiB for nothing: only protobufs are written). The module `tensorboard.compat.notf` is TensorBoard's own
    switch to its stub; it is set only when TensorFlow is not loaded already, so a user's TF session is untouched."""
    import sys
    import types

    if "tensorflow" not in sys.modules:
        sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))


def write_hparams(logdir: str, sessions: Sequence[Session], metrics: Sequence[str] | None = None,
                  created: float | None = None, lead: str | Sequence[str] | None = None,
                  lead_description: str | Sequence[str] = "") -> str:
    """Write the experiment summary and every session into `logdir` (replaced as a whole); return it.
    `lead`: the metric that ranks the sessions (the sweep's), shown first with `lead_description`; a list for a
    sweep of several metrics (each first, in order, each with its description)."""
    require("tensorboard", "tensorboard", "the TensorBoard HParams view")
    _use_tensorboards_tf_stub()
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
    from tensorboard.plugins.hparams import summary_v2 as hp
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from tensorboard.util import tensor_util

    names = [s.name for s in sessions]
    if len(set(names)) != len(names) or any(not n or "/" in n or n.startswith(".") for n in names):
        raise TunerError(f"HParams sessions need distinct plain names, got {names}")
    columns = flag_columns(sessions)
    chosen = list(metrics) if metrics is not None else metric_names(sessions)
    known = set(metric_names(sessions))
    unknown = [m for m in chosen if m not in known]
    if unknown:
        raise TunerError(f"metric {', '.join(map(repr, unknown))} is not recorded by these runs; "
                         f"metrics: {', '.join(sorted(known)) or 'none'}")

    def domain(kind: str, values: list[Any]) -> Any:
        if kind == "number" and len(values) > MAX_DISCRETE:
            if all(isinstance(v, int) for v in values):
                return hp.IntInterval(min(values), max(values))
            return hp.RealInterval(float(min(values)), float(max(values)))
        if kind == "number" and not all(isinstance(v, int) for v in values):
            return hp.Discrete([float(v) for v in values], dtype=float)
        return hp.Discrete(values)

    hparams = [hp.HParam(name, domain(kind, values)) for name, (kind, values) in columns.items()]
    leads = [lead] if isinstance(lead, str) else list(lead or ())
    descriptions = [lead_description] if isinstance(lead_description, str) else list(lead_description)
    described = {name: text for name, text in zip(leads, descriptions + [""] * len(leads)) if name in chosen}
    # the dashboard's first metric columns: the ones that rank the sweep (its front's, for several)
    chosen = [name for name in leads if name in chosen] + [name for name in chosen if name not in described]
    metric_infos = [hp.Metric(name, display_name=name, description=described.get(name) or None) for name in chosen]
    starts = [s.start for s in sessions if s.start is not None]
    created = created if created is not None else (min(starts) if starts else time.time())

    parent = os.path.dirname(os.path.abspath(logdir))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".hparams-", dir=parent)
    try:
        def write(folder: str, events: Iterable[Any]) -> None:
            writer = EventFileWriter(folder)
            for event in events:
                writer.add_event(event)
            writer.close()

        write(staging, [event_pb2.Event(wall_time=created, step=0,
                                        summary=hp.hparams_config_pb(hparams, metric_infos, time_created_secs=created))])
        ends = {RunStatus.FINISHED.value: api_pb2.STATUS_SUCCESS, RunStatus.KILLED.value: api_pb2.STATUS_FAILURE,
                RunStatus.RUNNING.value: api_pb2.STATUS_RUNNING, RunStatus.QUEUED.value: api_pb2.STATUS_RUNNING}
        for session in sessions:
            start = session.start if session.start is not None else created
            values = {name: _session_value(columns[name][0], value) for name, value in session.flags.items()
                      if plain(value) is not None}
            events = [event_pb2.Event(wall_time=start, step=0,
                                      summary=hp.hparams_pb(values, trial_id=session.name, start_time_secs=start))]
            for ordinal, row in enumerate(session.metrics, start=1):
                raw_step, raw_stamp = plain(row.get("step")), plain(row.get("timestamp"))
                step = (int(raw_step) if isinstance(raw_step, (int, float)) and not isinstance(raw_step, bool)
                        and float(raw_step).is_integer() else ordinal)
                stamp = float(raw_stamp) if isinstance(raw_stamp, (int, float)) else float(start)
                scalars = [(k, v) for k, v in row.items() if k in chosen and _is_number(v)]
                if scalars:
                    events.append(event_pb2.Event(wall_time=float(stamp), step=step, summary=summary_pb2.Summary(
                        value=[_scalar(summary_pb2, tensor_util, k, float(plain(v))) for k, v in scalars])))
            end = session.end if session.end is not None else start
            evals = [(f"eval_{k}", v) for k, v in session.evaluation.items() if f"eval_{k}" in chosen and _is_number(v)]
            if evals:
                events.append(event_pb2.Event(wall_time=end, step=0, summary=summary_pb2.Summary(
                    value=[_scalar(summary_pb2, tensor_util, k, float(plain(v))) for k, v in evals])))
            status = ends.get(session.status, api_pb2.STATUS_FAILURE)
            if status != api_pb2.STATUS_RUNNING:
                info = plugin_data_pb2.SessionEndInfo(status=status, end_time_secs=end)
                summary = summary_pb2.Summary()
                summary.value.add(tag=metadata.SESSION_END_INFO_TAG, tensor=metadata.NULL_TENSOR,
                                  metadata=metadata.create_summary_metadata(
                                      plugin_data_pb2.HParamsPluginData(session_end_info=info)))
                events.append(event_pb2.Event(wall_time=end, step=0, summary=summary))
            folder = os.path.join(staging, session.name)
            os.makedirs(folder)
            write(folder, events)
        _replace(staging, logdir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return logdir


def _scalar(summary_pb2: Any, tensor_util: Any, tag: str, value: float) -> Any:
    """A scalar as tf.summary.scalar writes it in TF2: a float32 tensor tagged for the scalars plugin."""
    return summary_pb2.Summary.Value(
        tag=tag, tensor=tensor_util.make_tensor_proto(value, dtype="float32"),
        metadata=summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")))


def _replace(staging: str, logdir: str) -> None:
    """Swap the new folder in: a reader sees the old folder or the new one, never half of one."""
    old = None
    if os.path.lexists(logdir):
        old = logdir + f".old-{os.getpid()}"
        os.rename(logdir, old)
    os.rename(staging, logdir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------
# A sweep's runs

def session_name(run: Mapping[str, Any], fallback: str) -> str:
    trial = run.get("trial")
    if not isinstance(trial, int) or isinstance(trial, bool):
        return fallback
    attempt = run.get("attempt") or 1
    return f"trial{trial}" + (f"_attempt{attempt}" if attempt > 1 else "")


def sweep_hparams_dir(runs_dir: str, sweep: str) -> str:
    from tuner.store.journal import sweep_dir

    return os.path.join(sweep_dir(runs_dir, sweep), LOGDIR)


def write_sweep_hparams(sweep: str, runs_dir: str | None = None, metrics: Sequence[str] | None = None) -> str:
    """Write (or keep, when no run changed since) the HParams view of `sweep`; return its logdir for
    `tensorboard --logdir`. `metrics` picks the metric columns (default: every metric the runs recorded)."""
    require("tensorboard", "tensorboard", "the TensorBoard HParams view")
    settings = load_settings(runs_dir=runs_dir)
    run_dirs = sweep_run_dirs(settings.runs_dir, str(sweep))
    logdir = sweep_hparams_dir(settings.runs_dir, str(sweep))
    now = time.time()
    datas = [read_run(d) for d in run_dirs]
    statuses = [effective_status(d.run, now, settings.stale_after_s) for d in datas]
    signature = hashlib.sha256(json.dumps(
        [FORMAT, list(metrics) if metrics is not None else None]
        + [[d, run_signature(d), s] for d, s in zip(run_dirs, statuses)]).encode()).hexdigest()
    marker = os.path.join(logdir, SIGNATURE_FILE)
    try:
        with open(marker, encoding="utf-8") as handle:
            if json.load(handle).get("signature") == signature:
                return logdir
    except (OSError, ValueError, AttributeError):
        pass
    sessions, seen = [], set()
    for data, status in zip(datas, statuses):
        name = session_name(data.run, data.paths.name)
        if name in seen:  # two runs of the same trial and attempt: keep both apart
            name = f"{name}_{data.paths.name}"
        seen.add(name)
        sessions.append(Session(name, data.flags, data.metrics, data.evaluation, status,
                                data.run.get("start"), data.run.get("end") or data.run.get("heartbeat")))
    created = None
    try:
        from tuner.store.journal import Journal

        created = Journal.open(settings.runs_dir, str(sweep)).read().header.get("created")
    except TunerError:
        pass
    lead, description = _ranking_metric(sweep, settings, datas, sessions, now)
    write_hparams(logdir, sessions, metrics, created=created, lead=lead, lead_description=description)
    with open(marker, "w", encoding="utf-8") as handle:
        json.dump({"signature": signature, "written": time.time()}, handle)
    return logdir



def _ranking_metric(sweep: str, settings: Any, datas: Sequence[Any], sessions: Sequence[Session],
                    now: float) -> tuple[str | list[str] | None, str | list[str]]:
    """The sweep's ranking metric as an HParams metric tag (`val_loss`, `eval_acc`) and a description naming its
    direction and the best session: the same ranking as `tune report` (tuner.runs.ranking.sweep_ranking). A sweep
    of several metrics: every one of them, each described with its direction and the sessions on the front."""
    rows = [run_row(d, now, settings.stale_after_s) for d in datas]
    choice = sweep_choice(settings.runs_dir, sweep)
    if choice.multi:
        from tuner.runs.ranking import sweep_objectives

        objectives = sweep_objectives(sorted({c for row in rows for c in row}), choice)
        if objectives is None:
            return None, ""
        front = objectives.front(rows)
        named = ", ".join(sessions[i].name for i in front) if front else "no finished run has every metric"
        tags = [r.column.removeprefix("metric_") for r in objectives.rankings]
        texts = [f"one of {len(tags)} objectives of sweep {sweep} ({objectives.describe()}): "
                 f"{'lower' if r.mode == 'min' else 'higher'} is better; Pareto front ({len(front)}): {named}"
                 for r in objectives.rankings]
        return tags, texts
    ranking = sweep_ranking(sorted({c for row in rows for c in row}), choice)
    if ranking is None:
        return None, ""
    tag = ranking.column.removeprefix("metric_")
    best = ranking.best(rows)
    text = f"ranks sweep {sweep}: {'lower' if ranking.mode == 'min' else 'higher'} is better"
    return tag, text + (f"; best: {sessions[best].name}" if best is not None else "; no finished run has it")
