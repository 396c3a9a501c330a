"""The renderer of tuner's channel (tuner.channel): what library code logs under the `tuner` logger, printed on a
terminal or in a notebook, and the questions it asks, put to the person there.

One handler does it for the `tune` command (prog `tune`, subscribed by tuner.cli.main while a command runs) and
for library users (prog `tuner`, subscribed by tuner.channel when it is first imported):
- INFO: the text on stdout, as it is (`Moved 3 runs to runs/archive`);
- INFO marked as a note (channel.NOTE): the text on stderr, as it is;
- WARNING and above: `PROG: warning: text` on stderr;
- a service's records (`service`, the dashboard's server): `PROG: SERVICE: text` on stderr, whatever the level;
- a sweep's progress records: the progress display (tuner.console.progress), one per sweep.
Every text is made inert (tuner.console.inert): it names runs, flag values and a script's own stderr. The
streams are looked up when a record comes (sys.stdout then, not at subscription), so a redirect or a test's
capture sees it. This module imports nothing of the library, so the channel can subscribe it.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from tuner.console.inert import inert

_MESSAGE = logging.Formatter("%(message)s")  # the message and, for log.exception, its traceback
#: the sweep events a display acts on, by the names tuner.channel.SweepEvent gives them (this module imports
#: nothing of the library; tests/tuner_tests/test_channel.py checks the two agree)
STARTED, CHANGED, TRIAL, MESSAGE, STOPPED = SWEEP_EVENTS = ("started", "changed", "trial", "message", "stopped")


class EchoHandler(logging.Handler):
    """Prints the channel's records (see the module doc) and answers its questions at a terminal."""

    def __init__(self, prog: str = "tuner", service: str | None = None) -> None:
        super().__init__(logging.DEBUG)
        self.prog = prog
        self.service = service
        self._displays: dict[int, Any] = {}  # id(progress) -> its tuner.console.progress.SweepDisplay

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event = getattr(record, "sweep_event", None)
            if event is not None:
                self._sweep(str(getattr(event, "value", event)), record)
                return
            text = inert(_MESSAGE.format(record), keep_newlines=True)
            if self.service is not None:
                print(f"{self.prog}: {self.service}: {text}", file=sys.stderr, flush=True)
            elif record.levelno >= logging.WARNING:
                print(f"{self.prog}: warning: {text}", file=sys.stderr, flush=True)
            elif getattr(record, "tuner_note", False):
                print(text, file=sys.stderr, flush=True)
            else:
                print(text, flush=True)
        except Exception:  # a renderer never breaks the work it reports on (logging's own rule)
            self.handleError(record)

    def _sweep(self, event: str, record: logging.LogRecord) -> None:
        from tuner.console.progress import SweepDisplay, print_line

        progress = record.sweep_progress  # type: ignore[attr-defined]
        key = id(progress)
        display = self._displays.get(key)
        style = getattr(record, "sweep_style", None)
        if event == STARTED:
            self._displays[key] = display = SweepDisplay(progress)
            display.start()
        elif event == STOPPED:
            if display is not None:
                display.stop()
                del self._displays[key]
        elif event == CHANGED:
            if display is not None:
                display.refresh()
        elif event in (TRIAL, MESSAGE):
            text = record.getMessage()
            if display is not None:
                display.line(text, style, shown_live=event == TRIAL)
            else:
                print_line(text, style)
            if display is not None:
                display.refresh()

    def can_ask(self) -> bool:
        """A person is there to answer: stdin is a terminal."""
        from tuner.console.prompt import can_ask

        return can_ask()

    def ask(self, question: str, default: bool, always: bool = False) -> bool | None:
        """The answer of the person at the terminal; None when there is nobody (stdin is no terminal, unless
        `always`, which reads stdin anyway: an end of input is a no)."""
        from tuner.console.prompt import ask, can_ask

        if not always and not can_ask():
            return None
        return ask(question, default)
