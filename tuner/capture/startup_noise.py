"""TensorFlow's start-up lines: the one rule for what the pages fold away from a run's console output.

Every TensorFlow process prints the same dozen lines before the script's first own line (no CUDA driver on a
CPU machine, oneDNN, CPU instructions, plugins registered twice ...). They say nothing about the run, yet they
filled every run's console panel and every comparison's output diff (their timestamps and process ids differ
from run to run, so every one of them was a change). output.log keeps them all: the run view folds them under
"N TensorFlow start-up lines hidden" and the comparison leaves them out of the output diff, saying how many.

A line is start-up noise when it is
- an info record of TensorFlow's C++ logging, in either of its formats: absl's `I0000 00:00:1796675899.095918
  4765 port.cc:153] ...` (month and day 0000 until absl is initialised, which TensorFlow never does) and the
  older `2024-05-01 12:00:00.123456: I tensorflow/core/platform/cpu_feature_guard.cc:182] ...`: information,
  never a failure;
- a warning or error record (either format) whose message is one of the known start-up messages below: a
  real failure (`Allocator ran out of memory`, a shape error) keeps its line;
- absl's own `WARNING: All log messages before absl::InitializeLog() is called are written to STDERR`, or the
  second line of the CPU-instructions message (`To enable the following instructions: AVX2 ...`).

The printed-metrics parser has its own, wider rule for another question (tuner.capture.stdout_metrics.is_noise:
any log or warning line is never a metric); this one only decides what a reader of the console is spared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: a C++ log record: absl's `I0000 00:00:1796675899.095918    4765 port.cc:153] ` (before absl is initialised its
#: seconds are the Unix time) or `W0501 12:00:00.123456 4765 file.cc:12] `, or TensorFlow's older
#: `2024-05-01 12:00:00.123456: I tensorflow/core/platform/cpu_feature_guard.cc:182] `
_RECORD = re.compile(r"^\s*(?:(?P<absl>[IWEF])\d{4} \d\d:\d\d:\d+(?:\.\d+)?\s+\d+\s+"
                     r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?: (?P<tf>[IWEF]) )"
                     r"[\w./-]+\.(?:cc|cpp|h):\d+\]\s?")
#: messages TensorFlow, XLA and CUDA's loaders print at start-up on machines where nothing is wrong
_STARTUP_MESSAGES = re.compile("|".join([
    r"Could not find cuda drivers",
    r"failed call to cuInit",
    r"oneDNN custom operations are on",
    r"This TensorFlow binary is optimized to use available CPU instructions",
    r"Your CPU supports instructions that this TensorFlow binary was not compiled to use",
    r"Unable to register cu(?:DNN|FFT|BLAS) factory",
    r"computation placer already registered",
    r"TF-TRT Warning: Could not find TensorRT",
    r"Could not load dynamic library '?lib(?:cudart|cuda|cudnn|cublas|cufft|curand|cusolver|cusparse|nvinfer)",
    r"Cannot dlopen some GPU libraries",
    r"successful NUMA node read from SysFS had negative value",
    r"Unable to register (?:Tensor|XLA)",
]))
_OWN_LINES = re.compile(r"^\s*(?:WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
                        r"STDERR|To enable the following instructions: .*rebuild TensorFlow with the appropriate "
                        r"compiler flags\.)\s*$")


def is_startup_line(line: str) -> bool:
    """One line of TensorFlow's start-up output (module docstring): folded in pages, never deleted."""
    if _OWN_LINES.match(line):
        return True
    record = _RECORD.match(line)
    if record is None:
        return False
    if (record.group("absl") or record.group("tf")) == "I":
        return True
    return bool(_STARTUP_MESSAGES.search(line, record.end()))


@dataclass(frozen=True)
class FoldedOutput:
    """Console output with the start-up lines taken out: `shown` (the rest, in order) and `hidden` (those lines)."""

    shown: str
    hidden: tuple[str, ...]

    @property
    def hidden_note(self) -> str:
        return hidden_note(len(self.hidden))


def hidden_note(count: int) -> str:
    """`12 TensorFlow start-up lines hidden`, the words every page uses (empty when none are)."""
    if not count:
        return ""
    return f"{count} TensorFlow start-up line{'s' if count != 1 else ''} hidden"


def fold_startup_lines(text: str) -> FoldedOutput:
    """Split console output into what a reader wants and the start-up lines (line ends kept as they were)."""
    shown: list[str] = []
    hidden: list[str] = []
    for line in text.splitlines(keepends=True):
        (hidden if is_startup_line(line.rstrip("\r\n")) else shown).append(line)
    return FoldedOutput("".join(shown), tuple(line.rstrip("\r\n") for line in hidden))
