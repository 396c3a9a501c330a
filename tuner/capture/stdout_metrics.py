"""Metrics from printed lines (`loss: 0.3`, `epoch 3 loss=0.25 acc=0.91`) for scripts that never import tuner.

Parsed once, while the run runs: LiveMetrics (a workers.process line hook, fed every output line and every
`\\r`-separated progress update as it arrives) keeps one MetricLines and writes the rows it has closed to
tuner.d/printed_metrics.jsonl. Everyone reads that file: the live view, `read_run`, the progress display and the
stopping driver; when the run ends `settle_printed_metrics` (after_run) makes it the run's metrics.jsonl, unless
the script recorded metrics of its own. Nothing parses output.log again.

A row is a step the script completed. The rules, each from a real format (tests/tuner_tests/printed_corpus.py):
- values: every `name: number` / `name=number` of a line (the pattern is a setting, see defaults.yml); the pairs
  of a JSON or Python dict line (`{'loss': 0.52, 'epoch': 0.5}`, as Hugging Face's Trainer prints its logs);
  LightGBM's `valid_0's l2: 0.3` as `valid_0-l2` (XGBoost prints `valid_0-rmse:0.3` itself);
- the step: the line's own `epoch`/`step`/`iteration` value (`epoch 3 ...`, `Iteration 3, loss = ...`, `{..
  'epoch': 0.5}`), a leading round (XGBoost's and LightGBM's `[N]`, CatBoost's `N:`), else the one announced by a
  header line that holds nothing else (`Epoch 3/10`, as Keras prints it; `-- Epoch 3`, scikit-learn's SGD);
- closed: a line that carries its own step is a whole step at once (later lines of the same step add to it); a
  progress bar (Keras' `12/45 ━━━ - loss: 0.4`, tqdm's `12/45 [00:01<00:00, loss=0.4]`) is not: under a header its
  row closes when the bar reaches N/N or the next header comes; a bar that names its own step (tqdm's
  `Epoch 3: 45/45 ...`, PyTorch Lightning's) closes when another step starts, since Lightning adds `val_loss` to
  the bar after N/N; any other row closes when the next one starts or once it holds every name the row before it
  held. Only closed rows are written, judged and kept: when a run does not end by itself with status 0 (stopped,
  killed, timed out, crashed), its open row is dropped, never kept as that step's value - unless it is a plain
  row (no bar) and the run's only one: a script that printed `loss: 0.25` once and then failed keeps it;
- missing is missing: a row holds the names printed for that step and no others (never a NaN for an absent one);
  a printed `nan`/`inf` is kept as printed: a diverged value;
- not metrics: a value followed by a unit or a noun (`for 8 epochs`, `10000 samples`, `rate=0.04 for`, `0.5 s`),
  names of sizes and counts (`batch size=32`, `num_layers`, Lightning's `v_num`), log records and warnings (TF,
  absl's from C++, LightGBM's `[LightGBM] [Info]`, XGBoost's `[10:21:07] WARNING`, Python warnings; the message of
  an absl record from a `.py` file, the script's own `absl.logging.info`, is read), upper-case
  `NAME_X=value` environment advice, `file.py:12`-style source locations and the names of the run's flags
  (`print(args)` prints `Namespace(lr=0.1, ...)`);
- lines before the first step: when no line has a step, each metric line is the next step (1, 2, ...); once a
  step appears, the lines before it were settings and are dropped;
- lines after a step, without one: between two steps they belong to the step before (scikit-learn's `Validation
  score: 0.91` after `Iteration 3, loss = ...`); after the last step of a run that ended by itself they are its
  evaluation (Keras' `evaluate()` bar, a final `Test accuracy: 0.98`), written to evaluation.json, not a step.
"""

from __future__ import annotations

import functools
import math
import os
import re
import time
from typing import Any, Iterable

from tuner.errors import ConfigError
from tuner.store.files import read_mapping, write_metric_rows
from tuner.store.layout import RunPaths

STEP_NAMES = frozenset({"epoch", "step", "iteration", "iter"})
_STEP_WORDS = re.compile(r"(?<![\w./])(?P<name>epoch|step|iteration|iter)\b\s*[:=#]?\s*(?P<value>\d+)"
                         r"(?:\s*/\s*\d+)?(?![\w.])", re.IGNORECASE)
#: XGBoost and LightGBM: `[12]\tvalid_0-rmse:0.3`, CatBoost: `12:\tlearn: 0.3`, the boosting round first
_ROUND = re.compile(r"^\s*(?:\[(?P<value>\d+)\]\s|(?P<catboost>\d+):\t)")
#: Keras: `12/45 ━━━━ 0s 2ms/step - loss: 0.3` (verbose=1) or `45/45 - 1s - 7ms/step - loss: 0.3` (verbose=2)
_KERAS_BAR = re.compile(r"^\s*(?P<done>\d+)/(?P<total>\d+|Unknown)\s")
#: Keras verbose=2 draws each bar once, whole: `45/45 - 1s - 7ms/step - loss: 0.3`
_ONE_LINE_BAR = re.compile(r"^\s*\d+/\d+ - ")
#: tqdm: `Epoch 1:  40%|████      | 2/5 [00:00<00:00, 70.83it/s, loss=0.5]`
_TQDM_BAR = re.compile(r"(?:^|[|:\s])\s*(?P<done>\d+)/(?P<total>\d+)\s+\[(?:\d|\?)")
#: pytorch/examples: `Train Epoch: 1 [640/60000 (1%)]\tLoss: 1.359780`
_TORCH_BAR = re.compile(r"\[(?P<done>\d+)/(?P<total>\d+) \(\d+%\)\]")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x08]")
_SOURCE_FILE = re.compile(r"\.(?:py|pyx|cc|cpp|cxx|c|h|hpp|cu|java|go|rs|js|ts|R)$")
_NUMBER = r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[nN]a[nN]|[iI]nf(?:inity)?)"
#: `{'loss': 0.52, 'epoch': 0.5}` (a Python dict's repr) and `{"loss": 0.52}` (JSON); numpy 2 reprs its scalars
#: as `np.float64(0.52)`
_DICT_PAIR = re.compile(r"""(['"])(?P<name>[^'"\s]{1,200})\1\s*:\s*(?:np\.float(?:16|32|64)\()?"""
                        rf"(?P<value>{_NUMBER})\)?\s*(?=[,}}])")
#: LightGBM: `training's l2: 0.19\tvalid_1's l2: 0.33`
_LIGHTGBM_PAIR = re.compile(rf"(?P<set>[A-Za-z_][\w.-]*)'s (?P<metric>[\w@.-]+):\s*(?P<value>{_NUMBER})(?![\w.])")
#: a value followed by one of these words states a quantity or a setting (`for 8 epochs`, `10000 samples`,
#: `0.5 s`), not a measurement of the model
_UNIT_WORDS = frozenset("""
for of in on per with from to by over across within out times x
samples sample examples images items rows records tokens words sentences sequences documents files points
epochs steps iterations iters batches rounds trials runs layers units neurons heads features classes labels
params parameters weights workers threads processes gpus gpu cpus cpu cores tpu tpus hpu hpus devices nodes
s sec secs second seconds ms msec us ns min mins minute minutes h hr hrs hour hours days
b bytes kb kib mb mib gb gib tb
""".split())
_FOLLOWING_WORD = re.compile(r"[ \t]+(?P<word>[A-Za-z]+)\b(?P<pair>\s*[:=])?")
#: names of sizes and counts (`batch size=32`, `num_layers: 4`, Lightning's `v_num=0`): settings, not metrics
_COUNT_LAST = frozenset("size count num number total length len seed dim dims width height depth samples examples "
                        "epochs steps workers threads batches layers units version".split())
_COUNT_FIRST = frozenset({"num", "n"})
_NAME_PARTS = re.compile(r"[_\-./ ]+")

#: bounds so a chatty script cannot make the parse slow: a line longer than this is cut
MAX_LINE_CHARS = 1_000_000


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
    """`0.25`, `1e-3`, `nan`, `inf`, `Infinity`: a diverged value is kept as it was printed (NaN, +-inf)."""
    try:
        return float(raw)
    except ValueError:
        return None


def _as_step(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def _is_header(line: str) -> bool:
    """`Epoch 3/10`, `== epoch 3 ==`, `-- Epoch 3`: nothing but the step (`Step 1: load data` is not a header)."""
    return not re.search(r"[^\W_]", _STEP_WORDS.sub("", line))


@functools.lru_cache(maxsize=4096)  # a cache: a script prints the same few names on every line
def is_count_name(name: str) -> bool:
    """`size`, `batch_size`, `num_layers`, `v_num`: the name of a size or a count, a setting."""
    parts = [p for p in _NAME_PARTS.split(name.lower()) if p]
    return bool(parts) and (parts[-1] in _COUNT_LAST or (len(parts) > 1 and parts[0] in _COUNT_FIRST))


#: log lines that are never metrics: TF/absl (`2024-05-01 12:00:00.123456: I tensorflow/...`, `W0501 12:00:00.1 ...`),
#: Python warnings (`file.py:12: UserWarning: ...`), logging's `WARNING:absl:...` and level-tagged log records,
#: LightGBM's `[LightGBM] [Info] ...` and XGBoost's `[10:21:07] WARNING: ...`
_NOISE = re.compile(r"^\s*(?:\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?:? [IWEF] |[IWEF]\d{4} \d\d:\d\d:\d\d"
                    r"|(?:WARNING|ERROR|CRITICAL|DEBUG|FATAL):[\w.]*:"
                    r"|\[\w+\] \[(?:Info|Warning|Debug|Error|Fatal)\]|\[\d\d:\d\d:\d\d\] (?:WARNING|INFO|DEBUG|ERROR))"
                    r"|\b\w*(?:Warning|Error|Exception)\b:|\benvironment variables?\b|\bTo enable the following\b")
#: `TF_ENABLE_ONEDNN_OPTS=0`: upper-case names with an underscore are environment variables, not metrics
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*_[A-Z0-9_]+$")
#: `[tune-metric] loss=0.3` (also `[tune-metrics]`, `[metric]`): the tag is dropped, the rest parsed as usual
_TAG = re.compile(r"^\s*\[(?:tune-metrics?|metrics?)\]\s*", re.IGNORECASE)


#: absl's Python log records: `I1207 10:21:07.531234 140234 train.py:42] epoch 1 loss=0.5` (TF's C++ ones, from a
#: `.cc` file, stay noise)
_ABSL_PY = re.compile(r"^\s*[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+\s+[\w.-]+\.py:\d+\]\s?")


_NOISE_WORDS = ("Warning", "Error", "Exception", "environment variable", "To enable the following")


def is_noise(line: str) -> bool:
    """A log or warning line, whose `NAME=VALUE` pieces are advice or settings, never metrics."""
    head = line.lstrip()[:1]
    if not (head.isdigit() or head in "IWEFDC[" or any(word in line for word in _NOISE_WORDS)):
        return False  # none of the patterns can match: spares the regex on every progress redraw
    return bool(_NOISE.search(line))


def _bar(line: str) -> tuple[int, int | None] | None:
    """(done, total) of a progress line (Keras, tqdm, PyTorch's examples); total None when unknown."""
    match = _KERAS_BAR.match(line) or _TQDM_BAR.search(line) or _TORCH_BAR.search(line)
    if match is None:
        return None
    total = match.group("total")
    return int(match.group("done")), int(total) if total.isdigit() else None


class MetricLines:
    """The printed-metrics rules (module docstring) applied one line at a time, as the lines come.

    `rows()` are the closed rows so far, in the order they closed; `finish(completed)` ends the output (the open
    row closes only when the script ended by itself with status 0); `evaluation` is filled then. `changed_at` is the
    index of the first closed row that changed after it was closed (None: rows were only added), for a writer
    that appends new rows and rewrites only when an earlier one changed."""

    def __init__(self, pattern: str | re.Pattern[str], ignore: Iterable[str] = ()) -> None:
        self.regex = compile_pattern(pattern) if isinstance(pattern, str) else pattern
        self.ignored = {name.lower() for name in ignore} - STEP_NAMES
        self.rows_by_step: dict[Any, dict[str, Any]] = {}
        self.closed: list[dict[str, Any]] = []
        self.closed_at: list[float] = []
        self.index: dict[Any, int] = {}    # step -> its place in `closed`
        self.changed_at: int | None = None
        self.open: Any = None              # the step of the row not yet complete, if any
        self.open_kind = ""                # "bar" (closes at N/N), "stepped-bar" (at the next step), "plain"
        self.stepped = False               # a step was printed: lines without one are no longer steps
        self.context: Any = None           # the step a header announced
        self.context_bar: tuple[int, int | None] | None = None
        self.last_bar: tuple[int, int | None] | None = None  # of the latest numbered bar row
        self.last_step: Any = None         # the latest printed step (own or announced)
        self.numbered = 0                  # steps counted while no line has one
        self.pending: list[dict[str, Any]] = []   # lines after a step without one: the step before's, or evaluation
        self.extras: set[str] = set()      # names such lines held (scikit-learn's `score`): later ones join at once
        self.evaluation: dict[str, Any] = {}
        self.finished = False

    # -- reading a line
    def _pairs(self, line: str) -> list[tuple[str, float]]:
        text = line.strip()
        if text.startswith("{") and text.endswith("}"):
            return [(m.group("name"), v) for m in _DICT_PAIR.finditer(text)
                    for v in [_number(m.group("value"))] if v is not None]
        if "'s " in line:
            found = [(f"{m.group('set')}-{m.group('metric')}", v) for m in _LIGHTGBM_PAIR.finditer(line)
                     for v in [_number(m.group("value"))] if v is not None]
            if found:
                return found
        pairs = []
        for match in self.regex.finditer(line):
            name, value = match.group("name"), _number(match.group("value"))
            if value is None or _SOURCE_FILE.search(name) or _ENV_NAME.match(name):
                continue
            if name.lower() not in STEP_NAMES and self._unit_follows(line, match.end()):
                continue
            pairs.append((name, value))
        return pairs

    @staticmethod
    def _unit_follows(line: str, end: int) -> bool:
        """`rate=0.04 for 8 epochs`, `size: 10000 samples`: the value is a quantity of something (a step word with its
        number, `loss=0.3 epoch 2`, or the name of the next pair, `loss=0.3 acc=0.9`, is no unit)."""
        match = _FOLLOWING_WORD.match(line, end)
        return match is not None and not match.group("pair") and match.group("word").lower() in _UNIT_WORDS

    def feed(self, raw: str) -> bool:
        """Take one line (or several, `\\r`-separated); True when the closed rows changed."""
        before = (len(self.closed), self.changed_at)
        for line in _ANSI.sub("", raw[:MAX_LINE_CHARS]).split("\r"):
            line = _TAG.sub("", _ABSL_PY.sub("", line, count=1))  # a script's own absl.logging: its message
            if line.strip() and not is_noise(line):
                self._line(line)
        return (len(self.closed), self.changed_at) != before

    def _line(self, line: str) -> None:
        values: dict[str, Any] = {}
        step: int | float | None = None
        for name, value in self._pairs(line):
            lowered = name.lower()
            if lowered in STEP_NAMES:
                if not math.isnan(value):
                    step = _as_step(value)
            elif lowered not in self.ignored and not is_count_name(name):
                values[name] = value
        if step is None:
            found = _STEP_WORDS.search(line)
            if found is not None:
                step = _as_step(float(found.group("value")))
            elif (rounds := _ROUND.match(line)) is not None:
                step = int(rounds.group("value") or rounds.group("catboost"))
        bar = _bar(line)
        if not values:
            if step is not None and _is_header(line):
                self._header(step)
            elif step is not None and bar is not None and self.open_kind == "stepped-bar" and step != self.open:
                self._close(self.open)  # Lightning's `Epoch 2:   0%| 0/45`: the epoch before it is complete
            return
        if step is not None:
            self._own_step(step, values, bar)
        elif self.context is not None and self._in_context(line, values, bar):
            pass
        elif self.stepped:
            self._after_steps(values, bar)
        else:
            self._numbered(values, bar)

    # -- the kinds of lines
    def _start_steps(self) -> None:
        """The first printed step: what came before without one were settings, not steps."""
        if not self.stepped:
            self.stepped = True
            if self.rows_by_step:
                self.rows_by_step.clear()
                self.closed.clear()
                self.closed_at.clear()
                self.index.clear()
                self.changed_at = 0
                self.open, self.open_kind = None, ""

    def _new_step(self, step: Any) -> None:
        """A step begins: the row still open (another step's) is complete; lines held since the last step are its."""
        self._start_steps()
        if self.open is not None and self.open != step:
            self._close(self.open)
        if self.pending and self.last_step is not None and self.last_step != step:
            for values in self.pending:
                self.extras.update(values)
                self._merge(self.last_step, values, add_only=True)
            self.pending.clear()
        self.last_step = step

    def _header(self, step: Any) -> None:
        self._new_step(step)
        self.context, self.context_bar = step, None

    def _own_step(self, step: Any, values: dict[str, Any], bar: tuple[int, int | None] | None) -> None:
        self._new_step(step)
        if self.context is not None and self.context != step:
            self.context, self.context_bar = None, None
        self._merge(step, values)
        if bar is None:
            self._close(step)
        elif step not in self.index:
            self.open, self.open_kind = step, "stepped-bar"

    def _in_context(self, line: str, values: dict[str, Any], bar: tuple[int, int | None] | None) -> bool:
        """A line under a header: that step's, unless the header's bar has ended the step and this line is not a
        redraw of that bar (Keras' evaluate() after fit: a bar that starts again, a verbose=2 line, which is drawn
        once, a line that is no bar)."""
        step = self.context
        row = self.rows_by_step.get(step)
        closed = step in self.index
        if bar is None and closed and self.context_bar is not None:
            self.context, self.context_bar = None, None  # the header's bar ended its step: this line is after it
            return False
        if bar is not None and closed and self.context_bar is not None and row is not None:
            done, total = bar
            redraw = not _ONE_LINE_BAR.match(line) and done >= self.context_bar[0] and total == self.context_bar[1] \
                and row.keys() - {"step"} <= values.keys()
            if not redraw:
                self.context, self.context_bar = None, None
                return False
            self._merge(step, values)  # Keras draws N/N again at the epoch's end, with val_* when it validates
            return True
        self._merge(step, values)
        if bar is not None:
            self.context_bar = bar
            if not closed:
                self.open, self.open_kind = step, "bar"
                if bar[1] is not None and bar[0] >= bar[1]:
                    self._close(step)
            return True
        if not closed:
            if self.open != step:
                self.open, self.open_kind = step, "plain"
            if self.open_kind == "plain" and self._holds_previous(step):
                self._close(step)
        return True

    def _after_steps(self, values: dict[str, Any], bar: tuple[int, int | None] | None) -> None:
        if bar is not None and (bar[1] is None or bar[0] < bar[1]):
            return  # a bar on its way (evaluate's batches): only its end counts
        if self.last_step is not None and values.keys() <= self.extras:
            self._merge(self.last_step, values, add_only=True)
        else:
            self.pending.append(values)

    def _numbered(self, values: dict[str, Any], bar: tuple[int, int | None] | None) -> None:
        """No line has had a step: each metric line (or each bar, at its end) is the next step."""
        done = bar is not None and bar[1] is not None and bar[0] >= bar[1]
        if bar is not None and self.open is not None and self.open_kind == "bar":
            step = self.open
        elif done and self.last_bar == bar and not self.open and self.closed:
            step = self.closed[-1]["step"]  # tqdm draws its last update again when it closes: the same bar
        else:
            if self.open is not None:
                self._close(self.open)
            self.numbered += 1
            step = self.numbered
            self.open, self.open_kind = step, "bar" if bar is not None else "plain"
        self._merge(step, values)
        if bar is not None:
            self.last_bar = bar
            if done:
                self._close(step)
        elif self._holds_previous(step):
            self._close(step)

    # -- rows
    def _holds_previous(self, step: Any) -> bool:
        """The row holds every name the last closed row held: the script printed what it prints each step."""
        if not self.closed:
            return False
        previous = self.closed[-1]
        return previous["step"] != step and previous.keys() <= self.rows_by_step[step].keys()

    def _merge(self, step: Any, values: dict[str, Any], add_only: bool = False) -> None:
        row = self.rows_by_step.get(step)
        if row is None:
            row = self.rows_by_step[step] = {"step": step}
        changed = False
        for name, value in values.items():
            if name in row and (add_only or _same(row[name], value)):
                continue
            row[name] = value
            changed = True
        place = self.index.get(step)
        if changed and place is not None:
            self.changed_at = place if self.changed_at is None else min(self.changed_at, place)

    def _close(self, step: Any) -> None:
        if self.open == step:
            self.open, self.open_kind = None, ""
        row = self.rows_by_step.get(step)
        if row is None or step in self.index or len(row) < 2:
            return
        self.index[step] = len(self.closed)
        self.closed.append(row)
        self.closed_at.append(time.time())

    def finish(self, completed: bool) -> None:
        """The output ended. completed: the script exited by itself with status 0, so the step it was printing is
        complete and what it printed after its last step is its evaluation; else both are dropped."""
        if self.finished:
            return
        self.finished = True
        if self.open is not None:
            step = self.open
            # a run that printed a single plain row (`loss: 0.25`) and then failed: nothing to tell it from a whole
            # step, and no rule judged it, so it is kept (a failed run shows what it printed); a bar, or a plain row
            # short of the names the rows before it had, is a partial step and dropped
            if completed or (self.open_kind == "plain" and not self.closed):
                self._close(step)
            else:
                self.open, self.open_kind = None, ""
                if step not in self.index:
                    self.rows_by_step.pop(step, None)
        if completed:
            for values in self.pending:
                self.evaluation.update(values)
        self.pending.clear()

    def rows(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self.closed]


def _same(a: Any, b: Any) -> bool:
    return a == b or (a != a and b != b)  # NaN is NaN


def parse_metric_lines(text: str, pattern: str | re.Pattern[str], ignore: Iterable[str] = (),
                       completed: bool = True) -> list[dict[str, Any]]:
    """The rows of a whole output, as the live parser ends with them (see the module docstring for the rules)."""
    parser = MetricLines(pattern, ignore)
    for line in text.split("\n"):
        parser.feed(line)
    parser.finish(completed)
    return parser.rows()


class LiveMetrics:
    """workers.process line hook: printed metrics parsed while the run runs, the one parse of them. Its closed
    rows go to tuner.d/printed_metrics.jsonl (appended as they close; rewritten when an earlier one changed), read
    in place of metrics.jsonl until the run ends; after_run then settles it (`settle_printed_metrics`).

    write_every_s bounds how often the file changes: 0.5 s for watching a run; 0 in a sweep with a stopping rule,
    where every closed step is written at once so the rule judges it without delay. The first write comes a
    period after the run began, so a run that ends sooner writes its rows once, at its end."""

    WRITE_EVERY_S = 0.5

    def __init__(self, run_dir: str, pattern: str, ignore: Iterable[str] = (),
                 write_every_s: float | None = None) -> None:
        self.paths = RunPaths(run_dir)
        self.parser = MetricLines(pattern, ignore)
        self.every_s = self.WRITE_EVERY_S if write_every_s is None else write_every_s
        self.dirty = False
        self.written = 0      # closed rows in the file
        self.written_at = time.monotonic()  # as if written at the start: the first write comes a period later
        self.own_metrics = False

    def line(self, text: str) -> None:
        self.dirty = self.parser.feed(text) or self.dirty

    def tick(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.dirty and (force or now - self.written_at >= self.every_s):
            self._write()
            self.dirty, self.written_at = False, now

    def _write(self) -> None:
        if self.own_metrics or os.path.exists(self.paths.metrics_jsonl):
            self.own_metrics = True  # the script logs its own: printed lines are not used
            return
        parser = self.parser
        rows = [{**row, "timestamp": at} for row, at in zip(parser.rows(), parser.closed_at)]
        changed = parser.changed_at
        path = self.paths.printed_metrics_jsonl
        if self.written and (changed is None or changed >= self.written) and len(rows) >= self.written:
            if len(rows) > self.written:
                from workers.files import dumps_json

                text = "".join(dumps_json(row, nonfinite_as_text=True) + "\n" for row in rows[self.written:])
                with open(path, "a", encoding="utf-8") as handle:
                    handle.write(text)
        elif rows or self.written:
            write_metric_rows(self.paths.run_dir, rows, path)
        self.written = len(rows)
        parser.changed_at = None

    def close(self, completed: bool = False) -> None:
        """The run's output ended; completed: the script exited by itself with status 0 (module docstring)."""
        self.parser.finish(completed)
        self.dirty = True
        self.tick(force=True)
        if self.parser.evaluation and not self.own_metrics:
            from workers.files import atomic_write_json

            atomic_write_json(self.paths.printed_evaluation_json, self.parser.evaluation, nonfinite_as_text=True)


def settle_printed_metrics(run_dir: str, use: bool = True) -> bool:
    """after_run: the live parse becomes the run's metrics (printed_metrics.jsonl -> metrics.jsonl, its evaluation
    -> evaluation.json; renamed, not read) when the script recorded none itself and `use`; else it is removed.
    Returns whether printed rows were kept. Idempotent: a post-run step run again (its worker died) finds nothing
    left to settle."""
    paths = RunPaths(run_dir)
    printed, evaluation = paths.printed_metrics_jsonl, paths.printed_evaluation_json
    own = os.path.exists(paths.metrics_jsonl)
    kept = False
    if os.path.exists(printed):
        if use and not own and os.path.getsize(printed) > 0:
            os.replace(printed, paths.metrics_jsonl)
            kept = True
        else:
            os.unlink(printed)
    if os.path.exists(evaluation):
        if use and not own and not os.path.exists(paths.evaluation_json):
            os.replace(evaluation, paths.evaluation_json)
        else:
            os.unlink(evaluation)
    return kept


def keep_judged_steps(run_dir: str) -> int | None:
    """A stopped run keeps its metrics up to the step its stopping rule judged (stop.json's `step`): the rule's
    decision is about that step, and what the script printed while the stop was on its way is not the run's
    result. Returns the rows dropped (None when the run was not stopped by a rule)."""
    paths = RunPaths(run_dir)
    if read_mapping(paths.run_json).get("status") != "stopped":
        return None
    step = read_mapping(paths.stop_request).get("step")
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not os.path.exists(paths.metrics_jsonl):
        return None
    from tuner.store.files import read_metric_lines

    rows = read_metric_lines(paths.metrics_jsonl)[0]
    kept = [row for row in rows if not isinstance(row.get("step"), (int, float)) or row["step"] <= step]
    if len(kept) < len(rows):
        write_metric_rows(run_dir, kept)
    return len(rows) - len(kept)
