"""Page data: run directories -> plain JSON-able dicts that the page script renders.

Everything the pages show is computed here (chart groups, diffs, highlighted tokens, the best trials), so it
is testable without a browser; the page only turns these values into DOM text nodes.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import os
import time
from typing import Any, Iterable, Mapping, Sequence

from tuner import values
from tuner.capture.secrets import DEFAULT_RULE, SecretRule
from tuner.capture.startup_noise import fold_startup_lines, hidden_note
from tuner.capture.tb_events import EVENT_FILE_MARK
from tuner.runs.aggregate import effective_status, last_values, run_row
from tuner.runs.ranking import Objectives, RankingChoice, sweep_objectives, sweep_ranking
from tuner.search.importance import Domain, flag_importance
from tuner.store.files import FlagSource, RunData, flag_sources, read_flag_defaults, read_run
from tuner.store.layout import RunPaths, iter_artifacts, iter_source_files, iter_tensorboard_files
from tuner.store.status import RunStatus

#: bounds that keep a page small (the issue asks for pages under ~1 MB)
MAX_OUTPUT_CHARS = 200_000
MAX_SOURCE_CHARS = 100_000
MAX_DIFF_LINES = 4_000
#: metrics shown on a y axis capped at 1.0 (as tfruns)
CAPPED_METRICS = ("acc", "accuracy")
NON_METRIC_KEYS = ("step", "epoch", "timestamp")


def json_safe(value: Any) -> Any:
    """JSON-safe values: no NaN/inf (JSON.parse rejects them), numpy scalars and timestamps as plain values."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if hasattr(value, "isoformat"):
        try:
            if value != value:  # NaT
                return None
        except (TypeError, ValueError):
            pass
        return value.isoformat()
    if hasattr(value, "item"):
        try:
            return json_safe(value.item())
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def format_time(epoch_s: Any) -> str | None:
    if not isinstance(epoch_s, (int, float)) or isinstance(epoch_s, bool):
        return None
    return _dt.datetime.fromtimestamp(epoch_s, tz=_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_duration(seconds: Any) -> str | None:
    if not isinstance(seconds, (int, float)) or seconds != seconds:
        return None
    return values.format_duration(float(seconds))


# ---------------------------------------------------------------------------------------------------
# Metrics and charts

def metric_names(rows: Iterable[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key not in NON_METRIC_KEYS:
                names.setdefault(key, None)
    return list(names)


def chart_groups(names: Sequence[str]) -> list[dict[str, Any]]:
    """One chart per metric with `val_<m>` on the same chart as `<m>`; acc/accuracy capped at 1.0."""
    present = set(names)
    groups = []
    for name in names:
        if name.startswith("val_") and name[4:] in present:
            continue
        series = [name] + ([f"val_{name}"] if f"val_{name}" in present else [])
        base = name[4:] if name.startswith("val_") else name
        groups.append({"title": name, "series": series, "ymax": 1.0 if base in CAPPED_METRICS else None})
    return groups


def metrics_columns(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-step rows -> {"steps": [...], "series": {name: [...]}} (nulls where a step lacks a metric)."""
    names = metric_names(rows)
    steps = []
    for index, row in enumerate(rows):
        step = row.get("step", row.get("epoch"))
        steps.append(step if isinstance(step, (int, float)) and not isinstance(step, bool) else index + 1)
    series = {name: [_number(row.get(name)) for row in rows] for name in names}
    return {"steps": json_safe(steps), "series": series}


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------------------------------------
# One run

def _read_text(path: str, limit: int) -> tuple[str, bool]:
    """The last `limit` characters of a text file (the end of a log is what explains a failure)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return "", False
    if len(text) > limit:
        return text[-limit:], True
    return text, False


def highlight_tokens(path: str, text: str) -> list[list[str]]:
    """Source text -> [[css class, text], ...] via Pygments (a dependency of rich); the page sets textContent."""
    try:
        from pygments.lexers import TextLexer, get_lexer_for_filename
        from pygments.token import STANDARD_TYPES
        from pygments.util import ClassNotFound
    except ImportError:  # pragma: no cover - rich always brings pygments
        return [["", text]]
    try:
        lexer = get_lexer_for_filename(path, stripnl=False, ensurenl=False)
    except ClassNotFound:
        lexer = TextLexer(stripnl=False, ensurenl=False)
    tokens: list[list[str]] = []
    for kind, value in lexer.get_tokens(text):
        cls = ""
        while kind is not None and not cls:
            cls = STANDARD_TYPES.get(kind, "")
            kind = kind.parent
        if tokens and tokens[-1][0] == cls:
            tokens[-1][1] += value
        else:
            tokens.append([cls, value])
    return tokens


def _source_files(data: RunData, secrets: SecretRule = DEFAULT_RULE) -> dict[str, str]:
    """The snapshot's files as text, without those that look like secrets (a run snapshotted before they were
    left out, or under other settings, still holds them: a page never shows them)."""
    files = {}
    for rel, path in secrets.keep(iter_source_files(data.paths)):
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                files[rel] = handle.read(MAX_SOURCE_CHARS + 1)
        except OSError:
            continue
    return files


def _main_script(data: RunData) -> str | None:
    script = data.run.get("script")
    return os.path.basename(script) if isinstance(script, str) else None


def run_card(data: RunData, now: float, stale_after_s: float) -> list[list[Any]]:
    """The Run card as [label, value] pairs, in reading order, without empty values."""
    run = data.run
    row = run_row(data, now, stale_after_s)
    duration = row.get("duration_s")
    if row.get("status") == RunStatus.RUNNING.value and isinstance(run.get("start"), (int, float)):
        duration = max(0.0, now - float(run["start"]))  # elapsed so far (the heartbeat is up to 5 s old)
    git = run.get("git") or {}
    commit = git.get("commit")
    if commit and git.get("dirty"):
        commit = f"{commit} (dirty)"
    script, project = run.get("script"), run.get("cwd")
    pairs = [  # the script by its path in the project: every run is of some train.py
        ["script", values.format_path(script, project if isinstance(project, str) else None)
         if isinstance(script, str) else None],
        ["started", format_time(run.get("start"))],
        ["ended", format_time(run.get("end"))],
        ["duration", format_duration(duration)],
        ["host", run.get("host")],
        ["user", run.get("user")],
        ["git commit", commit],
        ["git branch", git.get("branch")],
        ["exit code", run.get("exit_code")],
        ["sweep", run.get("sweep")],
        ["trial", run.get("trial")],
        ["epochs", f"{row.get('epochs_completed')}/{data.properties['epochs']}"
         if isinstance(data.properties.get("epochs"), int) else row.get("epochs_completed")],
        ["gpu ids", row.get("gpu_ids")],
        ["python", run.get("python")],
    ]
    return [[label, json_safe(value)] for label, value in pairs if value is not None and value != ""]


def flag_page(data: RunData) -> dict[str, Any]:
    """The run's flags as the pages show them: those tune passed, then the script's own defaults, and where each
    value came from (tuner.store.files.FlagSource: the page marks defaults)."""
    sources = flag_sources(data.flags, read_flag_defaults(data.paths))
    order = sorted(data.flags, key=lambda name: sources[name] is not FlagSource.PASSED)
    return {"flags": json_safe({name: data.flags[name] for name in order}),
            "flag_sources": {name: sources[name].value for name in order}}


def run_data(run_dir: str, stale_after_s: float = 60.0, with_sources: bool = True,
             with_output: bool = True, secrets: SecretRule = DEFAULT_RULE) -> dict[str, Any]:
    """Everything a run view shows, read tolerantly from the run directory; files `secrets` takes for secrets
    are neither shown nor listed."""
    data = read_run(run_dir)
    now = time.time()
    status = effective_status(data.run, now, stale_after_s)
    last, _ = last_values(data.metrics)
    page: dict[str, Any] = {
        "name": data.paths.name,
        "run_dir": os.path.abspath(data.paths.run_dir),
        "status": status,
        "start": json_safe(data.run.get("start")),
        "card": run_card(data, now, stale_after_s),
        **flag_page(data),
        "final_metrics": json_safe({k: v for k, v in last.items() if k not in NON_METRIC_KEYS}),
        "evaluation": json_safe(data.evaluation),
        **properties_page(data.properties),
        "metrics": metrics_columns(data.metrics),
        "charts": chart_groups(metric_names(data.metrics)),
        "error": error_fields(data),
        "artifacts": shown_artifacts(data.paths, secrets),
        "tensorboard": tensorboard_page(data.paths, secrets),
        "problems": list(data.problems),
    }
    if with_output:
        page.update(console_output(data.paths))
    if with_sources:
        page["sources"] = _sources_page(data, secrets)
    return page


def console_output(paths: RunPaths) -> dict[str, Any]:
    """The console panel: the end of output.log without TensorFlow's start-up lines, which come apart
    (`output_hidden`, folded on the page: tuner.capture.startup_noise); the file itself keeps every line."""
    text, truncated = _read_text(paths.output_log, MAX_OUTPUT_CHARS)
    folded = fold_startup_lines(text)
    return {"output": folded.shown, "output_truncated": truncated, "output_hidden": list(folded.hidden),
            "output_hidden_note": folded.hidden_note}


def properties_page(properties: dict[str, Any]) -> dict[str, Any]:
    """What the script recorded about its training setup (properties.json: Keras' MetricsCallback writes epochs,
    optimizer, learning_rate, loss_function and the model summary): one-line values for the Properties card, and
    multi-line text (the model summary) apart, shown as preformatted text."""
    scalars: dict[str, Any] = {}
    texts: dict[str, str] = {}
    for key, value in properties.items():
        if isinstance(value, str) and "\n" in value.strip("\n"):
            texts[str(key)] = value.strip("\n")
        else:
            scalars[str(key)] = json_safe(value)
    return {"properties": scalars, "property_texts": texts}


def tensorboard_page(paths: RunPaths, secrets: SecretRule = DEFAULT_RULE) -> dict[str, Any] | None:
    """The run's TensorBoard files (its tensorboard/ and logs/ folders, which the artifact list leaves out) with
    their sizes and the command that opens them; None when it has none."""
    import shlex

    from tuner.export.tensorboard import run_logdir

    listed = [(rel, size) for rel, size in iter_tensorboard_files(paths)
              if not secrets.is_secret(rel, os.path.join(paths.run_dir, rel))]
    if not listed:
        return None
    logdir = run_logdir(paths.run_dir)
    return {"files": [{"path": rel, "size": size} for rel, size in listed],
            "event_files": sum(EVENT_FILE_MARK in os.path.basename(rel) for rel, _ in listed),
            "command": shlex.join(["tensorboard", "--logdir", logdir]) if logdir else None}


def error_fields(data: RunData) -> dict[str, Any] | None:
    """error.json as a page shows it (JSON-safe, the traceback one text), None for a run without one."""
    if not data.error:
        return None
    trace = data.error.get("traceback")
    if isinstance(trace, list):
        trace = "\n".join(str(t) for t in trace)
    return {"message": json_safe(data.error.get("message")), "traceback": json_safe(trace),
            "exit_code": json_safe(data.error.get("exit_code")), "signal": json_safe(data.error.get("signal"))}


def shown_artifacts(paths: RunPaths, secrets: SecretRule = DEFAULT_RULE) -> list[dict[str, Any]]:
    """The run's artifacts as pages list them (path and size), without those that look like secrets."""
    return [{"path": rel, "size": size} for rel, size in iter_artifacts(paths)
            if not secrets.is_secret(rel, os.path.join(paths.run_dir, rel))]


def _sources_page(data: RunData, secrets: SecretRule = DEFAULT_RULE) -> list[dict[str, Any]]:
    files = _source_files(data, secrets)
    main = _main_script(data)
    order = sorted(files, key=lambda rel: (rel != main, rel))
    pages = []
    for rel in order:
        text = files[rel]
        truncated = len(text) > MAX_SOURCE_CHARS
        text = text[:MAX_SOURCE_CHARS]
        pages.append({"path": rel, "tokens": highlight_tokens(rel, text), "truncated": truncated})
    return pages


# ---------------------------------------------------------------------------------------------------
# Two runs

def diff_lines(before: str, after: str, name_a: str, name_b: str) -> list[list[str]]:
    """A unified diff as [[kind, text], ...] with kind in hunk/add/del/ctx (empty when equal)."""
    a, b = before.splitlines()[-MAX_DIFF_LINES:], after.splitlines()[-MAX_DIFF_LINES:]
    out: list[list[str]] = []
    lines = list(difflib.unified_diff(a, b, fromfile=name_a, tofile=name_b, lineterm="", n=3))
    for line in lines[2:]:  # the first two are the ---/+++ file headers
        kind = {"@": "hunk", "+": "add", "-": "del"}.get(line[:1], "ctx")
        out.append([kind, line])
    return out


def _flags_text(flags: dict[str, Any]) -> str:
    import json

    return "".join(f"{k}: {json.dumps(json_safe(v), ensure_ascii=False)}\n" for k, v in sorted(flags.items()))


#: letters that name the compared runs on the page (A is the oldest)
RUN_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def comparison_data(run_dirs: Sequence[str], stale_after_s: float = 60.0,
                    secrets: SecretRule = DEFAULT_RULE) -> dict[str, Any]:
    """Two or more runs, oldest first (A, B, C ...): a table of every flag, metric and evaluation value that
    differs between them, and the diffs of each later run against A: flags, every changed/added/removed
    source file and the console output."""
    runs = sorted((read_run(d) for d in run_dirs), key=lambda d: (d.run.get("start") or 0, d.paths.name))
    pages = [run_data(d.paths.run_dir, stale_after_s, with_sources=False, with_output=False, secrets=secrets)
             for d in runs]
    for letter, page in zip(RUN_LETTERS, pages):
        page["letter"] = letter
    differs = []
    for section, field in (("flag", "flags"), ("metric", "final_metrics"), ("eval", "evaluation")):
        mappings = [p[field] for p in pages]
        for key in sorted(set().union(*mappings)):
            row = [m.get(key) for m in mappings]
            if any(r != row[0] for r in row):
                differs.append({"key": f"{section}_{key}", "values": row})
    statuses = [p["status"] for p in pages]
    if len(set(statuses)) > 1:
        differs.insert(0, {"key": "status", "values": statuses})
    a = runs[0]
    src_a = _source_files(a, secrets)
    out_a = fold_startup_lines(_read_text(a.paths.output_log, MAX_OUTPUT_CHARS)[0])
    diffs: list[dict[str, Any]] = []
    for letter, b in zip(RUN_LETTERS[1:], runs[1:]):
        versus = f" ({letter} vs A)" if len(runs) > 2 else ""
        flags_diff = diff_lines(_flags_text(a.flags), _flags_text(b.flags), "flags", "flags")
        diffs.append({"title": "Flags" + versus, "kind": "flags", "state": "changed" if flags_diff else "same",
                      "lines": flags_diff})
        src_b = _source_files(b, secrets)
        for rel in sorted(set(src_a) | set(src_b)):
            before, after = src_a.get(rel), src_b.get(rel)
            if before == after:
                continue
            state = "added" if before is None else "removed" if after is None else "changed"
            diffs.append({"title": rel + versus, "kind": "source", "state": state,
                          "lines": diff_lines(before or "", after or "", rel, rel)})
        out_b = fold_startup_lines(_read_text(b.paths.output_log, MAX_OUTPUT_CHARS)[0])
        console = diff_lines(out_a.shown, out_b.shown, "output", "output")
        hidden = len(out_a.hidden) + len(out_b.hidden)
        note = f"{hidden_note(hidden)} ({len(out_a.hidden)} in A, {len(out_b.hidden)} in {letter})" if hidden else None
        diffs.append({"title": "Console output" + versus, "kind": "output",
                      "state": "changed" if console else "same", "lines": console, "note": note})
    return {"runs": pages, "differs": differs, "diffs": diffs}


# ---------------------------------------------------------------------------------------------------
# A sweep

def sweep_data(frame: Any, sweep: str, metric: str | Sequence[str] | None, links: Sequence[str | None],
               mode: str | Sequence[str] | None = None, recorded: RankingChoice | None = None,
               domains: Mapping[str, Domain] | None = None) -> dict[str, Any]:
    """The report's table (columnar), the flags for the parallel-coordinates chart, the best trials and each varying
    flag's importance, ranked by `metric`/`mode` when asked, else by the sweep's `recorded` choice
    (tuner.runs.ranking.sweep_ranking); `domains`: the flags' ranges the sweep recorded (tuner.search.importance).
    Several metrics (asked as a list, or the sweep's own) have no best: the page gets the Pareto front, each
    trial's objective values and the hypervolume after each trial instead (multi_objective_data)."""
    columns = [str(c) for c in frame.columns]
    metrics = [metric] if isinstance(metric, str) else list(metric) if metric is not None else None
    modes = [mode] if isinstance(mode, str) else list(mode) if mode is not None else None
    if (metrics is not None and len(metrics) > 1) or (metrics is None and recorded is not None and recorded.multi):
        return multi_objective_data(frame, sweep, metrics, links, modes, recorded)
    metric = metrics[0] if metrics else None
    if modes is not None and len(modes) > 1:
        from tuner.runs.ranking import check_objectives

        check_objectives(metrics or [], modes, "report")
    mode = modes[0] if modes else None
    ranking = sweep_ranking(columns, recorded, metric, mode, where="report")
    chosen = ranking.column if ranking else None
    mode = ranking.mode if ranking else "max"
    source = ("asked" if metric is not None else "sweep" if recorded is not None and recorded.metric is not None
              else "default")
    table = _table(frame, [chosen] if chosen else [])
    records = table["records"]
    unmet = recorded.metric if ranking is None and metric is None and recorded is not None else None
    varying = table["varying"]
    importance = flag_importance(records, ranking, varying, domains).to_dict() if ranking and varying else None
    return {"sweep": sweep, "metric": chosen, "mode": mode, "ranked_by": ranking.metric if ranking else unmet,
            "ranking_source": source, "columns": table["columns"], "rows": table["rows"], "flags": table["flags"],
            "varying_flags": table["varying"],
            "best": ranking.order(records)[:5] if ranking else [], "starred": ranking.best_rows(records) if ranking
            else [], "links": list(links), "statuses": table["statuses"],
            "constraints": [c.text for c in ranking.constraints] if ranking else [],
            "progress": best_so_far(records, chosen, mode, ranking.feasible if ranking else None),
            "importance": importance}


def _table(frame: Any, leading: Sequence[str]) -> dict[str, Any]:
    """The report's table: trial, run and status, the `leading` value columns, the flags (varying first), the other
    metrics, then epochs, duration and error; each row as a list of JSON values."""
    columns = [str(c) for c in frame.columns]
    flag_cols = [c for c in columns if c.startswith("flag_")]
    # the flags that differ between trials (a grid's, not the script's defaults every trial shares) come first
    varying = [c for c in flag_cols if frame[c].astype(str).nunique(dropna=False) > 1]
    flag_cols = varying + [c for c in flag_cols if c not in varying]
    value_cols = [c for c in columns if c.startswith(("metric_", "eval_")) and c not in leading]
    lead = ["trial", "run", "status"]
    tail = [c for c in ("epochs_completed", "duration_s", "error_message") if c in columns]
    shown = lead + list(leading) + flag_cols + value_cols + tail
    records = frame.to_dict("records")
    rows = []
    for record in records:
        row = []
        for column in shown:
            if column == "run":
                row.append(os.path.basename(os.path.normpath(str(record.get("run_dir")))))
            else:
                row.append(json_safe(record.get(column)))
        rows.append(row)
    statuses: dict[str, int] = {}
    for record in records:
        statuses[str(record.get("status"))] = statuses.get(str(record.get("status")), 0) + 1
    return {"columns": shown, "rows": rows, "flags": flag_cols, "varying": varying, "records": records,
            "statuses": statuses}


def multi_objective_data(frame: Any, sweep: str, metrics: Sequence[str] | None, links: Sequence[str | None],
                         modes: Sequence[str] | None = None, recorded: RankingChoice | None = None) -> dict[str, Any]:
    """The report of a sweep judged by several metrics: no best run, the Pareto front (starred, listed by the first
    metric), each trial's objective values for the front's chart (a scatter for two metrics, parallel coordinates
    beyond), and the hypervolume after each trial (launch order) against the stated reference point
    (tuner.search.pareto.front_view). `metrics` asked now win over the sweep's `recorded` ones."""
    from tuner.search.pareto import front_view

    columns = [str(c) for c in frame.columns]
    objectives = sweep_objectives(columns, recorded, metrics, modes, where="report")
    chosen = objectives.columns if objectives is not None else []
    ordered = frame
    if "trial" in frame.columns or "start" in frame.columns:  # launch order: the hypervolume's x axis
        keys = [launch_key(r) for r in frame[[c for c in ("trial", "start") if c in frame.columns]].to_dict("records")]
        ordered = frame.iloc[sorted(range(len(frame)), key=lambda i: keys[i])]
        links = [links[i] for i in sorted(range(len(frame)), key=lambda i: keys[i])]
    table = _table(ordered, chosen)
    records = table["records"]
    named = list(metrics) if metrics else list(recorded.metrics) if recorded is not None else []
    data = {"sweep": sweep, "metric": None, "mode": None, "ranked_by": None,
            "ranking_source": "asked" if metrics else "sweep", "columns": table["columns"], "rows": table["rows"],
            "flags": table["flags"], "varying_flags": table["varying"], "best": [], "starred": [],
            "links": list(links), "statuses": table["statuses"], "progress": None,
            "objectives": None, "unmet": None if objectives is not None else named,
            "constraints": list(recorded.constraints) if recorded is not None else []}
    if objectives is None:
        return data
    view = front_view(records, objectives)
    front = by_first_objective(records, objectives, view["front"])
    data.update(objectives=objective_fields(objectives),
                front=front, starred=front, values=view["values"], feasible=view["feasible"],
                reference=view["reference"], hypervolume=view["hypervolume"], margin=view["margin"],
                constraints=[c.text for c in objectives.constraints],
                statuses_by_row=[str(r.get("status")) for r in records])
    return data


def objective_fields(objectives: Objectives) -> list[dict[str, str]]:
    """The objectives as the pages name them (the report's and the dashboard's front): column, metric, mode."""
    return [{"column": r.column, "metric": r.metric, "mode": r.mode} for r in objectives.rankings]


def by_first_objective(records: Sequence[Mapping[str, Any]], objectives: Objectives, front: Iterable[int]) -> list[int]:
    """The front's rows in the order the pages list them: best first by the first metric."""
    return sorted(front, key=lambda i: (objectives.costs(records[i]) or (math.inf,))[0])


def launch_key(record: Mapping[str, Any]) -> tuple[float, float]:
    """A run's place in launch order (the x axis of best-so-far and of the hypervolume): its trial, then its start
    (a retried trial's attempts in turn); a run without a trial last."""
    return _number_or(record.get("trial"), math.inf), _number_or(_epoch(record.get("start")), 0)


def _epoch(value: Any) -> float | None:
    try:
        return float(value.timestamp())
    except (AttributeError, ValueError, OverflowError):
        return value if isinstance(value, (int, float)) else None


def best_so_far(records: Sequence[Mapping[str, Any]], metric: str | None, mode: str,
              feasible: Any = None) -> dict[str, Any] | None:
    """The best-so-far-by-trial chart: each trial's metric in launch order (finished and stopped apart) and the
    best finished value so far (a stopped trial never counts as the best, nor one that breaks a constraint:
    tuner.runs.ranking)."""
    if metric is None:
        return None
    ordered = sorted(records, key=launch_key)
    trials, finished, stopped, best = [], [], [], []
    current: float | None = None
    for number, record in enumerate(ordered, start=1):
        value = record.get(metric)
        value = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
            and math.isfinite(value) else None
        status = str(record.get("status"))
        trials.append(number)
        finished.append(value if status == "finished" else None)
        stopped.append(value if status == "stopped" else None)
        if status == "finished" and value is not None and (feasible is None or feasible(record)):
            current = value if current is None else (min(current, value) if mode == "min" else max(current, value))
        best.append(current)
    return {"trials": trials, "finished": finished, "stopped": stopped, "best": best,
            "stopped_count": sum(v is not None for v in stopped)}


def _number_or(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default
