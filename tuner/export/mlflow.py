"""`tune export mlflow`: runs (or a sweep, as a parent run with its trials as children) into an MLflow
tracking store, read back by MLflow's own UI, client and `mlflow.search_runs`.

Each run becomes one MLflow run: params = flags (as strings, as MLflow stores them), the full metric history
(every step with its timestamp), evaluation values as `eval_<name>` metrics (a plain name would add a point to
the training history of the same name), tags (the run's own, `tuner.*`, `mlflow.runName`, `mlflow.source.*`,
`mlflow.user`), status and start/end times, and the run's artifacts plus `tuner.d/output.log` as artifacts.

Exporting again updates instead of duplicating: the MLflow run id is kept in the run's `tuner.d/mlflow.json`
(one entry per tracking URI and experiment); only metric points, params and artifacts MLflow lacks are sent.
A sweep's parent run is found again by its tags. mlflow is imported only when an export is called.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from tuner.capture.secrets import DEFAULT_RULE, SecretRule, redact_uri
from tuner.errors import ExportError, TunerError
from tuner.export import require, sweep_run_dirs
from tuner.runs.aggregate import effective_status, run_row
from tuner.runs.ranking import RankingChoice, sweep_choice, sweep_ranking
from tuner.runs.resolve import resolve_run_dirs
from tuner.settings import Settings, load_settings
from tuner.store.files import RunData, read_mapping, read_run
from tuner.store.layout import RunPaths, iter_artifacts, list_run_dirs
from tuner.store.status import RunStatus
from workers.files import atomic_write_json

#: our statuses -> MLflow's RunStatus names (MLflow has no timeout or lost: they failed; tuner.status keeps ours)
STATUSES = {RunStatus.QUEUED.value: "SCHEDULED", RunStatus.RUNNING.value: "RUNNING",
            RunStatus.FINISHED.value: "FINISHED", RunStatus.FAILED.value: "FAILED", RunStatus.KILLED.value: "KILLED",
            RunStatus.TIMEOUT.value: "FAILED", RunStatus.LOST.value: "FAILED"}
TERMINAL = frozenset({"FINISHED", "FAILED", "KILLED"})
#: tags that mark a sweep's parent run, so a second export finds it again
SWEEP_TAG = "tuner.sweep"
KIND_TAG = "tuner.kind"
#: MLflow's own batch limits (mlflow.utils.validation)
_METRICS_PER_BATCH = 1000
_PARAMS_TAGS_PER_BATCH = 100
_MAX_PARAM_VALUE = 6000
_MAX_TAG_VALUE = 8000
#: characters MLflow accepts in metric, param and tag keys (on every platform)
_BAD_KEY = re.compile(r"[^\w\-. /]")


@dataclass(frozen=True)
class ExportedRun:
    """One of our runs and the MLflow run it now is; `created` is False when an earlier export was updated."""

    run_dir: str
    mlflow_run_id: str
    created: bool
    status: str  # MLflow's
    notes: tuple[str, ...] = ()  # what could not be exported as is (a changed param, a renamed key)
    unchanged: bool = False  # nothing changed since the last export to this store: nothing was sent


@dataclass(frozen=True)
class MlflowExport:
    """What export_to_mlflow did: where, the runs, and the sweep's parent run (None without a sweep)."""

    tracking_uri: str
    experiment_id: str
    experiment: str
    runs: list[ExportedRun] = field(default_factory=list)
    parent_run_id: str | None = None
    parent_created: bool = False


def export_to_mlflow(runs: Any = None, *, sweep: str | None = None, tracking_uri: str,
                     experiment: str | None = None, runs_dir: str | None = None) -> MlflowExport:
    """Export runs to the MLflow tracking store at `tracking_uri` (e.g. `sqlite:///mlflow.db`, `http://host:5000`).

    `runs`: a run name or path, a list of them, or an ls_runs frame; `sweep`: a sweep id, exported as a parent
    run with its trials as children; neither: every run of the runs directory. `experiment` defaults to
    $MLFLOW_EXPERIMENT_NAME, else MLflow's "Default". Exporting again updates the same MLflow runs.
    Raises MissingExtraError without mlflow (`pip install 'tuner-sweeps[mlflow]'`), ExportError when the
    tracking store or experiment cannot be used.
    """
    require("mlflow", "mlflow", "tune export mlflow")
    if not isinstance(tracking_uri, str) or not tracking_uri.strip():
        raise ExportError("export_to_mlflow: tracking_uri is required, e.g. 'sqlite:///mlflow.db' or "
                          "'http://127.0.0.1:5000'")
    if runs is not None and sweep is not None:
        raise TunerError("export_to_mlflow: pass runs or sweep, not both")
    settings = load_settings(runs_dir=runs_dir)
    if sweep is not None:
        run_dirs = sweep_run_dirs(settings.runs_dir, str(sweep))
    else:
        run_dirs = _chosen_runs(runs, settings.runs_dir)
    experiment = experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or "Default"
    check_reachable(tracking_uri)
    from mlflow.exceptions import MlflowException

    try:
        with _no_links_printed():
            return _export(run_dirs, sweep, tracking_uri, experiment, settings)
    except MlflowException as exc:
        raise ExportError(f"mlflow ({redact_uri(tracking_uri)}): {exc.message}") from None


@contextlib.contextmanager
def _no_links_printed() -> Iterator[None]:
    """MLflow's client writes `View run ... at: URL` to stdout for each run it ends on a server, the URL with the
    tracking URI's user:password@ in it; the export says what it did itself (redacted), so MLflow's own lines
    are turned off (its MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT) while it runs."""
    name = "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"
    before = os.environ.get(name)
    os.environ[name] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def check_reachable(tracking_uri: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds where MLflow's client would retry an unreachable server for minutes."""
    import urllib.error
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(tracking_uri)
    if parts.scheme not in ("http", "https"):
        return
    # without the user:password@ (urllib takes it for part of the host name; /health asks for no login)
    health = parts._replace(netloc=parts.netloc.rpartition("@")[2], query="", fragment="").geturl()
    try:
        urllib.request.urlopen(health.rstrip("/") + "/health", timeout=timeout_s).close()
    except urllib.error.HTTPError:
        return  # something answers (a proxy, a server without /health): let MLflow's client say more
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ExportError(f"cannot reach the MLflow tracking server at {redact_uri(tracking_uri)} ({reason}); start "
                          "one with `mlflow server --host 127.0.0.1 --port 5000` or check --tracking-uri") from None


def _chosen_runs(runs: Any, runs_dir: str) -> list[str]:
    if runs is None:
        dirs = list(reversed(list_run_dirs(runs_dir)))  # oldest first: MLflow lists newest first
        if not dirs:
            raise TunerError(f"no runs in '{runs_dir}' to export; start one with `tune train.py`")
        return dirs
    return resolve_run_dirs(runs, runs_dir)  # names, prefixes, paths, rows, frames: the one resolver


# ---------------------------------------------------------------------------------------------------

def _export(run_dirs: Sequence[str], sweep: str | None, tracking_uri: str, experiment: str,
            settings: Settings) -> MlflowExport:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment_id = _experiment_id(client, experiment)
    now = time.time()
    datas = [read_run(d) for d in run_dirs]
    parent_id, parent_created = None, False
    if sweep is not None:
        parent_id, parent_created = _export_parent(client, experiment_id, sweep, datas, settings, now)
    secrets = SecretRule.from_settings(settings)
    exported = [_export_run(client, tracking_uri, experiment_id, experiment, data, parent_id,
                            effective_status(data.run, now, settings.stale_after_s), secrets) for data in datas]
    if parent_id is not None and sweep is not None:
        _mark_best(client, parent_id, datas, exported, sweep_choice(settings.runs_dir, sweep), now, settings)
    # the store as shown and kept: its password (http://user:password@host) is for the client only
    return MlflowExport(redact_uri(tracking_uri), experiment_id, experiment, exported, parent_id, parent_created)


def _experiment_id(client: Any, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is None:
        return client.create_experiment(name)
    if found.lifecycle_stage == "deleted":
        raise ExportError(f"MLflow experiment '{name}' is deleted; restore it (mlflow experiments restore "
                          f"--experiment-id {found.experiment_id}) or pass another --experiment")
    return found.experiment_id


def _ms(stamp: Any) -> int | None:
    if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
        return None
    return int(round(float(stamp) * 1000))


def _key(name: str) -> str:
    return _BAD_KEY.sub("_", str(name)).strip() or "_"


def param_text(value: Any) -> str:
    """A flag as MLflow stores params: str() of the value (True -> 'True', 0.1 -> '0.1')."""
    return str(value)[:_MAX_PARAM_VALUE]


def _mlflow_status(status: str) -> str:
    return STATUSES.get(status, "FAILED")


def _run_tags(data: RunData, status: str) -> dict[str, str]:
    run = data.run
    tags: dict[str, str] = {_key(k): str(v) for k, v in data.tags.items()}
    tags.update({"mlflow.runName": data.paths.name, "tuner.run_dir": os.path.abspath(data.paths.run_dir),
                 "tuner.status": status})
    if run.get("script"):
        tags["mlflow.source.name"] = str(run["script"])
        tags["mlflow.source.type"] = "LOCAL"
    if run.get("user"):
        tags["mlflow.user"] = str(run["user"])
    git = run.get("git") or {}
    if git.get("commit"):
        tags["mlflow.source.git.commit"] = str(git["commit"])
    if git.get("branch"):
        tags["mlflow.source.git.branch"] = str(git["branch"])
    if git.get("dirty") is not None:
        tags["tuner.git_dirty"] = "true" if git["dirty"] else "false"
    for key in ("sweep", "trial", "attempt", "host", "job_type", "exit_code", "signal", "script_sha256"):
        if run.get(key) is not None:
            tags[f"tuner.{key}"] = str(run[key])
    if data.error.get("message"):
        tags["tuner.error"] = str(data.error["message"])
    return {k: v[:_MAX_TAG_VALUE] for k, v in tags.items()}


def _metric_points(data: RunData) -> list[tuple[str, float, int, int]]:
    """(key, value, timestamp ms, step) for every numeric value of every step, then the evaluation."""
    points: list[tuple[str, float, int, int]] = []
    start_ms = _ms(data.run.get("start")) or 0
    for ordinal, row in enumerate(data.metrics, start=1):
        step = row.get("step")
        if isinstance(step, (int, float)) and not isinstance(step, bool) and float(step).is_integer():
            step_number = int(step)
        else:  # MLflow steps are integers: a fractional or missing step keeps the row's position
            step_number = ordinal
        stamp = _ms(row.get("timestamp")) or start_ms
        for name, value in row.items():
            if name in ("step", "timestamp", "epoch") or not _is_number(value):
                continue
            points.append((_key(name), float(value), stamp, step_number))
    end_ms = _ms(data.run.get("end")) or (points[-1][2] if points else start_ms)
    for name, value in data.evaluation.items():
        if _is_number(value):
            points.append((_key(f"eval_{name}"), float(value), end_ms, 0))
    return points


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and value == value  # NaN is stored as null; bools are 0/1


def _stored_exports(paths: RunPaths) -> list[dict[str, Any]]:
    entries = read_mapping(paths.mlflow_json).get("exports")
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _existing_run(client: Any, paths: RunPaths, tracking_uri: str, experiment_id: str) -> tuple[Any, str | None]:
    """The MLflow run an earlier export made of this run in this store and experiment, if it still exists,
    and the content signature recorded with it."""
    from mlflow.exceptions import MlflowException

    for entry in _stored_exports(paths):
        if not _same_store(entry, tracking_uri, experiment_id):
            continue
        try:
            found = client.get_run(str(entry.get("run_id")))
        except MlflowException:
            return None, None  # deleted from the store (or a fresh store at the same URI): export anew
        if found.info.lifecycle_stage == "deleted" or found.info.experiment_id != experiment_id:
            return None, None
        return found, entry.get("signature")
    return None, None


def _same_store(entry: dict[str, Any], tracking_uri: str, experiment_id: str) -> bool:
    """An export recorded in mlflow.json went to this store and experiment. The URI is kept without its password
    (redact_uri), so it is compared so; an entry written before that, with the password, still matches."""
    stored = entry.get("tracking_uri")
    return (isinstance(stored, str) and redact_uri(stored) == redact_uri(tracking_uri)
            and str(entry.get("experiment_id")) == experiment_id)


def _artifacts(paths: RunPaths, secrets: SecretRule) -> list[tuple[str, int]]:
    """The run's artifacts that are exported: those that do not look like secrets (tuner.capture.secrets)."""
    return [(rel, size) for rel, size in iter_artifacts(paths)
            if not secrets.is_secret(rel, os.path.join(paths.run_dir, rel))]


def content_signature(paths: RunPaths, status: str, parent_id: str | None,
                      secrets: SecretRule = DEFAULT_RULE) -> str:
    """What an export sends depends on: the metadata files and artifacts (stat), the status, the parent."""
    import hashlib
    import json

    def stat(path: str) -> list[int]:
        try:
            info = os.stat(path)
        except OSError:
            return []
        return [info.st_mtime_ns, info.st_size]

    files = [paths.run_json, paths.flags_json, paths.metrics_jsonl, paths.evaluation_json, paths.tags_json,
             paths.error_json, paths.output_log]
    artifacts = [[rel, *stat(os.path.join(paths.run_dir, rel))] for rel, _ in _artifacts(paths, secrets)]
    text = json.dumps([1, status, parent_id, [stat(f) for f in files], artifacts])
    return hashlib.sha256(text.encode()).hexdigest()


def _remember(paths: RunPaths, tracking_uri: str, experiment_id: str, experiment: str, run_id: str,
              signature: str) -> None:
    entries = [e for e in _stored_exports(paths) if not _same_store(e, tracking_uri, experiment_id)]
    # kept in the run, which is shared, pulled and copied: never the store's password
    entries.append({"tracking_uri": redact_uri(tracking_uri), "experiment_id": experiment_id, "experiment": experiment,
                    "run_id": run_id, "signature": signature, "exported_at": time.time()})
    atomic_write_json(paths.mlflow_json, {"exports": entries})


def _log_batches(client: Any, run_id: str, metrics: list[Any], params: list[Any], tags: list[Any]) -> None:
    for i in range(0, len(params), _PARAMS_TAGS_PER_BATCH):
        client.log_batch(run_id, params=params[i:i + _PARAMS_TAGS_PER_BATCH])
    for i in range(0, len(tags), _PARAMS_TAGS_PER_BATCH):
        client.log_batch(run_id, tags=tags[i:i + _PARAMS_TAGS_PER_BATCH])
    for i in range(0, len(metrics), _METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=metrics[i:i + _METRICS_PER_BATCH])


def _export_run(client: Any, tracking_uri: str, experiment_id: str, experiment: str, data: RunData,
                parent_id: str | None, status: str, secrets: SecretRule = DEFAULT_RULE) -> ExportedRun:
    from mlflow.entities import Metric, Param, RunTag

    paths = data.paths
    notes: list[str] = []
    existing, last_signature = _existing_run(client, paths, tracking_uri, experiment_id)
    signature = content_signature(paths, status, parent_id, secrets)
    if existing is not None and last_signature == signature:  # exported as it is now: nothing to send
        return ExportedRun(paths.run_dir, existing.info.run_id, False, existing.info.status, unchanged=True)
    if existing is None:
        created = client.create_run(experiment_id, start_time=_ms(data.run.get("start")), run_name=paths.name)
        run_id, old_params, old_metric_keys = created.info.run_id, {}, set()
    else:
        run_id, old_params, old_metric_keys = existing.info.run_id, existing.data.params, set(existing.data.metrics)
    # params are immutable in MLflow: send the missing ones, note the ones that changed since
    params = []
    for name, value in data.flags.items():
        key, text = _key(name), param_text(value)
        if key != name:
            notes.append(f"flag '{name}' exported as param '{key}' (MLflow key characters)")
        if key not in old_params:
            params.append(Param(key, text))
        elif old_params[key] != text:
            notes.append(f"param '{key}' is '{old_params[key]}' in MLflow and '{text}' here; MLflow params "
                         "cannot change, so it was kept")
    tags = _run_tags(data, status)
    if parent_id is not None:
        tags["mlflow.parentRunId"] = parent_id
    points = _metric_points(data)
    if old_metric_keys:  # send only the points MLflow lacks (a run exported while it was still running);
        # a point is its key, step and value: a rewritten metrics file or an evaluation stamped at the end
        # (once the run ended) must not add the same point twice with another timestamp
        logged = {(m.key, m.step, m.value) for key in old_metric_keys for m in client.get_metric_history(run_id, key)}
        points = [p for p in points if (p[0], p[3], p[1]) not in logged]
    _log_batches(client, run_id, [Metric(k, v, ts, step) for k, v, ts, step in points], params,
                 [RunTag(k, v) for k, v in tags.items()])
    _upload_artifacts(client, run_id, paths, fresh=existing is None, secrets=secrets)
    mlflow_status = _mlflow_status(status)
    if mlflow_status in TERMINAL:
        end = _ms(data.run.get("end")) or _ms(data.run.get("heartbeat")) or _ms(data.run.get("start"))
        client.set_terminated(run_id, mlflow_status, end_time=end)
    else:
        client.update_run(run_id, status=mlflow_status)
    _remember(paths, tracking_uri, experiment_id, experiment, run_id, signature)
    return ExportedRun(paths.run_dir, run_id, existing is None, mlflow_status, tuple(notes))


def _remote_sizes(client: Any, run_id: str, path: str | None = None) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for info in client.list_artifacts(run_id, path):
        if info.is_dir:
            sizes.update(_remote_sizes(client, run_id, info.path))
        else:
            sizes[info.path] = int(info.file_size or 0)
    return sizes


def _upload_artifacts(client: Any, run_id: str, paths: RunPaths, fresh: bool,
                      secrets: SecretRule = DEFAULT_RULE) -> None:
    """The run's artifacts under their relative paths (not those that look like secrets) and the output log as
    tuner.d/output.log; on an update only files MLflow lacks or holds at another size."""
    files = [(rel, os.path.join(paths.run_dir, rel), size) for rel, size in _artifacts(paths, secrets)]
    if os.path.isfile(paths.output_log):
        files.append(("tuner.d/output.log", paths.output_log, os.path.getsize(paths.output_log)))
    remote = {} if fresh else _remote_sizes(client, run_id)
    for rel, local, size in files:
        if remote.get(rel) == size:
            continue
        folder = os.path.dirname(rel)
        client.log_artifact(run_id, local, artifact_path=folder or None)


# ---------------------------------------------------------------------------------------------------
# A sweep's parent run

def _sweep_header(runs_dir: str, sweep: str) -> dict[str, Any]:
    from tuner.store.journal import Journal

    try:
        return Journal.open(runs_dir, sweep).read().header
    except TunerError:  # runs tagged with a sweep whose journal is gone still export, without its plan
        return {}


#: the parent run's tags naming the sweep's best trial, by the sweep's own ranking (tuner.runs.ranking)
BEST_TAGS = ("tuner.metric", "tuner.mode", "tuner.best_run", "tuner.best_run_id")
#: a multi-objective sweep's parent run: the front's runs and their MLflow run ids (comma-separated, in the order of
#: the first metric), its size, and the constraints
FRONT_TAGS = ("tuner.pareto_runs", "tuner.pareto_run_ids", "tuner.pareto_size", "tuner.constraints")
#: MLflow's limit on a tag's value (characters): a longer list of the front is cut at a comma, the size tag stays
MAX_TAG_VALUE = 8000


def _mark_best(client: Any, parent_id: str, datas: Sequence[RunData], exported: Sequence[ExportedRun],
               choice: RankingChoice, now: float, settings: Any) -> None:
    """The sweep's best trial on its parent run, ranked as `tune report` and the sweep's summary rank it (the
    sweep's --metric/--mode): tags naming the metric, its mode, the best run and its MLflow run id, and the
    metric `best_<metric>` (sent again only when it changed, so a re-export adds no point). A sweep of several
    metrics has no best: the tags name its Pareto front instead (_mark_front)."""
    from mlflow.entities import Metric, RunTag

    rows = [run_row(d, now, settings.stale_after_s) for d in datas]
    if choice.multi:
        _mark_front(client, parent_id, datas, exported, choice, rows)
        return
    ranking = sweep_ranking(sorted({c for row in rows for c in row}), choice)
    best = ranking.best(rows) if ranking is not None else None
    current = client.get_run(parent_id).data
    if ranking is None or best is None:
        for key in BEST_TAGS[2:]:  # an earlier export's best is no longer one
            if key in current.tags:
                client.delete_tag(parent_id, key)
        return
    value = ranking.value(rows[best])
    tags = {"tuner.metric": ranking.metric, "tuner.mode": ranking.mode, "tuner.best_run": datas[best].paths.name,
            "tuner.best_run_id": exported[best].mlflow_run_id}
    key = _key(f"best_{ranking.metric}")
    metrics = [Metric(key, float(value), _ms(now) or 0, 0)] if value is not None and current.metrics.get(key) != value \
        else []
    client.log_batch(parent_id, metrics=metrics, tags=[RunTag(k, v) for k, v in tags.items()])


def _mark_front(client: Any, parent_id: str, datas: Sequence[RunData], exported: Sequence[ExportedRun],
                choice: RankingChoice, rows: Sequence[dict[str, Any]]) -> None:
    """A multi-objective sweep's parent run: `tuner.metric`/`tuner.mode` the metrics and modes (comma-separated),
    `tuner.pareto_runs` / `tuner.pareto_run_ids` the runs on its front and their MLflow run ids, `tuner.pareto_size`
    and `tuner.constraints`; no best tags (an earlier single-metric export's are removed)."""
    from mlflow.entities import RunTag

    from tuner.runs.ranking import sweep_objectives

    objectives = sweep_objectives(sorted({c for row in rows for c in row}), choice)
    front = objectives.front(rows) if objectives is not None else []
    front.sort(key=lambda i: (objectives.costs(rows[i]) or (0.0,))[0] if objectives is not None else 0.0)
    modes = objectives.modes if objectives is not None else [m or "" for m in choice.modes]
    tags = {"tuner.metric": ",".join(choice.metrics), "tuner.mode": ",".join(modes),
            "tuner.pareto_runs": _joined([datas[i].paths.name for i in front]),
            "tuner.pareto_run_ids": _joined([exported[i].mlflow_run_id for i in front]),
            "tuner.pareto_size": str(len(front)) if objectives is not None else "",
            "tuner.constraints": "; ".join(choice.constraints)}
    current = client.get_run(parent_id).data
    for key in BEST_TAGS[2:]:  # a front, not a best
        if key in current.tags:
            client.delete_tag(parent_id, key)
    for key in [k for k, v in tags.items() if not v]:
        if key in current.tags:
            client.delete_tag(parent_id, key)
    changed = [RunTag(k, v) for k, v in tags.items() if v and current.tags.get(k) != v]
    if changed:
        client.log_batch(parent_id, tags=changed)


def _joined(items: Sequence[str]) -> str:
    """Comma-separated, cut at a comma before MLflow's tag limit (tuner.pareto_size keeps the count)."""
    text = ",".join(items)
    return text if len(text) <= MAX_TAG_VALUE else text[:text.rfind(",", 0, MAX_TAG_VALUE)]


def _parent_status(statuses: Sequence[str]) -> str:
    if any(s in ("RUNNING", "SCHEDULED") for s in statuses):
        return "RUNNING"
    return "FINISHED" if all(s == "FINISHED" for s in statuses) else "FAILED"


def _export_parent(client: Any, experiment_id: str, sweep: str, datas: Sequence[RunData], settings: Settings,
                   now: float) -> tuple[str, bool]:
    from mlflow.entities import Param, RunTag

    found = client.search_runs([experiment_id], filter_string=f"tags.`{SWEEP_TAG}` = '{sweep}' and "
                                                             f"tags.`{KIND_TAG}` = 'sweep'", max_results=1)
    starts = [s for s in (_ms(d.run.get("start")) for d in datas) if s is not None]
    ends = [e for e in (_ms(d.run.get("end")) for d in datas) if e is not None]
    header = _sweep_header(settings.runs_dir, sweep)
    start = _ms(header.get("created")) or (min(starts) if starts else None)
    if found:
        run_id, old_params, created = found[0].info.run_id, found[0].data.params, False
    else:
        run_id = client.create_run(experiment_id, start_time=start, run_name=f"sweep-{sweep}").info.run_id
        old_params, created = {}, True
    tags = {SWEEP_TAG: sweep, KIND_TAG: "sweep", "mlflow.runName": f"sweep-{sweep}",
            "tuner.trials": str(len(datas))}
    if header.get("script"):
        tags.update({"mlflow.source.name": str(header["script"]), "mlflow.source.type": "LOCAL"})
    commits = {(d.run.get("git") or {}).get("commit") for d in datas} - {None}
    if len(commits) == 1:
        tags["mlflow.source.git.commit"] = str(commits.pop())
    params = {k: header.get(k) for k in ("sample", "seed", "metric", "mode", "total") if header.get(k) is not None}
    for key in ("metric", "mode"):  # several metrics: one param, as tuner.metric names them
        value = params.get(key)
        if isinstance(value, list):
            params[key] = ",".join(map(str, value))
    if header.get("indices") is not None:
        params["planned"] = len(header["indices"])
    new_params = [Param(k, param_text(v)) for k, v in params.items() if k not in old_params]
    _log_batches(client, run_id, [], new_params, [RunTag(k, v) for k, v in tags.items()])
    statuses = [_mlflow_status(effective_status(d.run, now, settings.stale_after_s)) for d in datas]
    status = _parent_status(statuses)
    if status in TERMINAL:
        client.set_terminated(run_id, status, end_time=max(ends) if ends else None)
    else:
        client.update_run(run_id, status=status)
    return run_id, created
