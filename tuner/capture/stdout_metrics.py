"""Metrics from printed lines (`loss: 0.3`, `epoch 3 loss=0.25 acc=0.91`) for scripts that never import tuner.

Parsed while the run runs (LiveMetrics, a workers.process line hook, into printed_metrics.jsonl) and once more
from output.log after it, kept only when the script recorded no metrics itself. Rules:
- every `name: number` / `name=number` of a line is a metric (the pattern is a setting, see defaults.yml);
- the step is the line's own `step`/`epoch` value (`epoch 3 ...`, `step=3 ...`, `Epoch 3/10 ...`), else the
  one announced by a header line that holds nothing else (`Epoch 3/10`, as Keras prints before each epoch,
  or `== epoch 3 ==`), which holds until the next header or until a Keras progress line reaches its end;
- rows with the same step merge (later values win), so Keras' progress updates end as the epoch's values;
- when no line has a step, each metric line is the next step (1, 2, ...); when some do, lines without one
  are ignored: they are final results or settings printed once, not steps;
- JSON object lines and `[tune-metric] name=value` lines are read too; log records and warnings (TF, absl,
  Python warnings) and upper-case `NAME_X=value` environment advice never are;
- names of the run's flags are not metrics (`print(args)` prints `Namespace(lr=0.1, ...)`), nor are
  `file.py:12`-style source locations of log and warning lines.
"""

from __future__ import annotations

import math
import os
import re
import time
from typing import Any, Iterable

from tuner.errors import ConfigError
from tuner.store.files import read_mapping, write_metric_rows
from tuner.store.layout import RunPaths

STEP_NAMES = frozenset({"epoch", "step"})
_STEP_WORDS = re.compile(r"(?<![\w./])(?P<name>epoch|step)\b\s*[:=#]?\s*(?P<value>\d+)(?:\s*/\s*\d+)?(?![\w.])",
                         re.IGNORECASE)
_PROGRESS = re.compile(r"^\s*(?P<done>\d+)/(?P<total>\d+)\s")  # Keras: `32/32 ━━━━ 0s 2ms/step - loss: 0.3`
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x08]")
_SOURCE_FILE = re.compile(r"\.(?:py|pyx|cc|cpp|cxx|c|h|hpp|cu|java|go|rs|js|ts|R)$")
#: bounds so a chatty script cannot make the parse slow: only the log's tail is read
MAX_LOG_BYTES = 20_000_000


def compile_pattern(pattern: str, where: str = "setting 'stdout_metrics_pattern'") -> re.Pattern[str]:
    """The metric regex, checked: it must compile and have the groups `name` and `value`."""
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"{where}: not a valid regular expression ({exc}); expected a regex with groups "
                          "(?P<name>...) and (?P<value>...)") from None
    missing = [g for g in ("name", "value") if g not in regex.groupindex]
    if missing:
        raise ConfigError(f"{where}: the regex has no group {', '.join(missing)}; expected groups "
                          "(?P<name>...) and (?P<value>...)")
    return regex


def _number(raw: str) -> float | None:
    """`0.25`, `1e-3`, `nan`, `inf`: a diverged value is kept as it was printed (NaN, +-inf)."""
    try:
        return float(raw)
    except ValueError:
        return None


def _as_step(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def _is_header(line: str) -> bool:
    """`Epoch 3/10`, `== epoch 3 ==`, `[step 5]`: nothing but the step (`Step 1: load data` is not a header)."""
    return not re.search(r"[^\W_]", _STEP_WORDS.sub("", line))


#: log lines that are never metrics: TF/absl (`2024-05-01 12:00:00.123456: I tensorflow/...`, `W0501 12:00:00.1 ...`),
#: Python warnings (`file.py:12: UserWarning: ...`), logging's `WARNING:absl:...` and level-tagged log records
_NOISE = re.compile(r"^\s*(?:\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?:? [IWEF] |[IWEF]\d{4} \d\d:\d\d:\d\d"
                    r"|(?:WARNING|ERROR|CRITICAL|DEBUG|FATAL):[\w.]*:)"
                    r"|\b\w*(?:Warning|Error|Exception)\b:|\benvironment variables?\b|\bTo enable the following\b")
#: `TF_ENABLE_ONEDNN_OPTS=0`: upper-case names with an underscore are environment variables, not metrics
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*_[A-Z0-9_]+$")
#: `[tune-metric] loss=0.3` (also `[tune-metrics]`, `[metric]`): the tag is dropped, the rest parsed as usual
_TAG = re.compile(r"^\s*\[(?:tune-metrics?|metrics?)\]\s*", re.IGNORECASE)


def is_noise(line: str) -> bool:
    """A log or warning line, whose `NAME=VALUE` pieces are advice or settings, never metrics."""
    return bool(_NOISE.search(line))


def _json_values(line: str) -> dict[str, Any] | None:
    """`{"epoch": 3, "loss": 0.2}`: a JSON object line's numbers (booleans and strings skipped)."""
    text = line.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    import json

    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


class MetricLines:
    """The printed-metrics rules (module docstring) applied one line at a time; `rows()` is the result so far."""

    def __init__(self, pattern: str | re.Pattern[str], ignore: Iterable[str] = ()) -> None:
        self.regex = compile_pattern(pattern) if isinstance(pattern, str) else pattern
        self.ignored = {name.lower() for name in ignore} - STEP_NAMES
        self.stepped: dict[Any, dict[str, Any]] = {}   # step -> row, in order of first appearance
        self.unstepped: list[dict[str, Any]] = []
        self.context: int | float | None = None        # step announced by a header line

    def _pairs(self, line: str) -> list[tuple[str, float]]:
        found = _json_values(line)
        if found is not None:
            return list(found.items())
        pairs = []
        for match in self.regex.finditer(line):
            name, value = match.group("name"), _number(match.group("value"))
            if value is None or _SOURCE_FILE.search(name) or _ENV_NAME.match(name):
                continue
            pairs.append((name, value))
        return pairs

    def feed(self, raw: str) -> bool:
        """Take one line; True when the rows changed."""
        changed = False
        for line in _ANSI.sub("", raw).split("\r"):
            line = _TAG.sub("", line)
            if line.strip() and not is_noise(line):
                changed = self._line(line) or changed
        return changed

    def _line(self, line: str) -> bool:
        values: dict[str, Any] = {}
        step: int | float | None = None
        for name, value in self._pairs(line):
            if name.lower() in STEP_NAMES:
                if not math.isnan(value):
                    step = _as_step(value)
            elif name.lower() not in self.ignored:
                values[name] = value
        if step is None:
            found = _STEP_WORDS.search(line)
            if found:
                step = _as_step(float(found.group("value")))
        if not values:
            if step is not None and _is_header(line):
                self.context = step
            return False
        if step is None:
            step = self.context
            progress = _PROGRESS.match(line)
            if progress and progress.group("done") == progress.group("total"):
                self.context = None  # the epoch's last progress update: what follows is not this epoch
        if step is None:
            self.unstepped.append(values)
        else:
            self.stepped.setdefault(step, {"step": step}).update(values)
        return True

    def rows(self) -> list[dict[str, Any]]:
        if self.stepped:
            return [dict(row) for row in self.stepped.values()]
        return [{"step": index, **values} for index, values in enumerate(self.unstepped, start=1)]


def parse_metric_lines(text: str, pattern: str | re.Pattern[str], ignore: Iterable[str] = ()) -> list[dict[str, Any]]:
    """One row per step that has at least one metric; see the module docstring for the rules."""
    parser = MetricLines(pattern, ignore)
    for line in text.splitlines():
        parser.feed(line)
    return parser.rows()


class LiveMetrics:
    """workers.process line hook: printed metrics parsed while the run runs, into tuner.d/printed_metrics.jsonl
    (read in place of metrics.jsonl until the run ends; after_run then settles the one source of metrics).

    The preview is rewritten at most every WRITE_EVERY_S, the first time WRITE_EVERY_S after the run began: a
    run that ends sooner never writes one (after_run writes metrics.jsonl moments later), which spares a
    sweep of sub-second trials a file created and removed per trial (~1 ms of file system time each here).
    """

    WRITE_EVERY_S = 0.5

    def __init__(self, run_dir: str, pattern: str, ignore: Iterable[str] = ()) -> None:
        self.paths = RunPaths(run_dir)
        self.parser = MetricLines(pattern, ignore)
        self.dirty = False
        self.written_at = time.monotonic()  # as if written at the start: the first preview comes a period later

    def line(self, text: str) -> None:
        self.dirty = self.parser.feed(text) or self.dirty

    def tick(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.dirty and (force or now - self.written_at >= self.WRITE_EVERY_S):
            if os.path.exists(self.paths.metrics_jsonl):  # the script logs its own: printed lines are not used
                self.dirty = False
                return
            write_metric_rows(self.paths.run_dir, self.parser.rows(), self.paths.printed_metrics_jsonl)
            self.dirty, self.written_at = False, now

    def close(self, settled: bool = False) -> None:
        """The last preview, unless the run ended and after_run settles its metrics from the log right after."""
        if not settled:
            self.tick(force=True)


def read_log_tail(path: str, max_bytes: int = MAX_LOG_BYTES) -> str:
    with open(path, "rb") as handle:
        handle.seek(max(0, os.path.getsize(path) - max_bytes))
        return handle.read().decode("utf-8", "replace")


def record_stdout_metrics(run_dir: str, pattern: str) -> int:
    """Write metrics parsed from output.log when the script logged none itself; returns the rows written."""
    paths = RunPaths(run_dir)
    if os.path.exists(paths.printed_metrics_jsonl):  # the live preview is replaced by the full parse below
        os.unlink(paths.printed_metrics_jsonl)
    if not pattern or os.path.exists(paths.metrics_jsonl) or not os.path.exists(paths.output_log):
        return 0
    rows = parse_metric_lines(read_log_tail(paths.output_log), pattern, ignore=read_mapping(paths.flags_json))
    if rows:
        write_metric_rows(run_dir, rows)
    return len(rows)
