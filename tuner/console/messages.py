"""One-line messages from library functions that echo what they did, as tfruns does (`view_run` prints the
page it wrote, `clean_runs` how many runs it moved, `tuning_run` its plan). Library code calls these
instead of print(), so everything tuner writes to a terminal goes through tuner.cli or tuner.console."""

from __future__ import annotations

import sys

from tuner.console.inert import inert


def say(text: str) -> None:
    print(inert(text, keep_newlines=True), flush=True)  # they name runs and values from run data


def warn(text: str) -> None:
    print(inert(text, keep_newlines=True), file=sys.stderr, flush=True)
