"""The one channel from library code to a person: Python logging, under the `tuner` logger hierarchy.

Library code never prints and never prompts (tests/tuner_tests/test_layout.py fails when it does). It logs on
its module's logger (`channel.logger(__name__)`: tuner.sweep, tuner.runs.listing, tuner.dashboard ...):
- INFO: what a function did, as tfruns echoes it (a sweep's plan, `clean_runs`' count, the page `view_run` wrote);
- INFO with `extra=NOTE`: a remark about the input, for stderr ("note: train.py changed since the sweep started");
- WARNING: something wrong with the data that does not stop the work (a damaged run in a listing);
- a sweep's progress: records carrying a `SweepEvent` and the sweep's progress (tuner.sweep.progress), which the
  progress displays render (tuner.console.progress: the live bar on a terminal, plain lines, the notebook's bar);
and it asks its yes/no questions through `confirmed` / `ask`, which whoever renders the channel answers (or nobody).

Who prints is whoever subscribed to the `tuner` logger: `tune` subscribes its renderer for the command's length
(tuner.cli.main, `rendered_by`); for everyone else (a script, a notebook, a service) this module subscribes the
console's renderer when it is first imported, unless a handler is there already: INFO on stdout, warnings on
stderr as `tuner: warning: ...`, all of it made inert (tuner.console.inert). So:
- `logging.getLogger("tuner").setLevel(logging.ERROR)` silences everything tuner says (nothing it logs is an
  error: errors are raised), `logging.WARNING` keeps warnings and failed trials only;
- `route_to_logging()` hands every record to the application's own logging configuration instead.
Python's `warnings` are kept for one thing, as the logging HOWTO advises: a script-side call the calling code
should change (`flags()` given a file that does not exist, run metadata written outside a run).
"""

from __future__ import annotations

import contextlib
import logging
from enum import Enum
from typing import Callable, Iterator, Protocol, Union

from tuner.console.echo import EchoHandler

#: the root of the hierarchy every library logger hangs under
LOGGER = "tuner"
#: `extra=NOTE` marks an INFO record as a remark for stderr, shown as it is written
NOTE = {"tuner_note": True}

#: `confirm=` of the functions that ask: a callable gets (question, default answer) and answers
Confirm = Callable[[str, bool], bool]
ConfirmArg = Union[bool, Confirm, None]


class SweepEvent(str, Enum):
    """What a sweep progress record says happened (its attribute `sweep_event`; `sweep_progress` is the progress).
    The displays of tuner.console.progress know these values by name (they import nothing of the library):
    test_channel checks that the two agree."""

    STARTED = "started"  # a display may start (none when the sweep is quiet)
    CHANGED = "changed"  # the counts changed (a trial launched, requeued, skipped): a display refreshes, no line
    TRIAL = "trial"  # a trial's line (finished, stopped early): shown where no live display shows it already
    MESSAGE = "message"  # a line every display shows (a failed trial, a note, why the sweep stopped)
    STOPPED = "stopped"  # the sweep's display ends


class Asker(Protocol):
    """A renderer that can put a question to a person (tuner.console.echo.EchoHandler)."""

    def ask(self, question: str, default: bool, always: bool = False) -> bool | None: ...

    def can_ask(self) -> bool: ...


def logger(name: str) -> logging.Logger:
    """The logger of a library module (`channel.logger(__name__)`): one of the `tuner` hierarchy."""
    if name != LOGGER and not name.startswith(LOGGER + "."):
        raise ValueError(f"{name!r} is not under the {LOGGER!r} logger")
    return logging.getLogger(name)


def _asker() -> Asker | None:
    """The renderer subscribed to the channel that can put a question to a person, if any."""
    for handler in logging.getLogger(LOGGER).handlers:
        if callable(getattr(handler, "ask", None)) and callable(getattr(handler, "can_ask", None)):
            return handler  # type: ignore[return-value]
    return None


def can_ask() -> bool:
    """Whether a question would reach a person now: the renderer can ask and a person is at its terminal."""
    asker = _asker()
    return asker is not None and asker.can_ask()


def ask(question: str, default: bool, always: bool = False) -> bool | None:
    """The answer of the renderer subscribed to the channel that can ask: a person at a terminal (`always`: even
    when stdin is no terminal, as input() reads it); None when nobody can answer."""
    asker = _asker()
    return asker.ask(question, default, always) if asker is not None else None


def confirmed(confirm: ConfirmArg, question: str, default: bool) -> bool:
    """Whether to go ahead, as the caller's `confirm` decides: a callable answers `question`; False goes ahead
    without asking; None asks when a person can answer (a terminal), else goes ahead; True always asks, and
    without anyone to answer it does not go ahead."""
    if callable(confirm):
        return bool(confirm(question, default))
    if confirm is False:
        return True
    answer = ask(question, default, always=confirm is True)
    if answer is None:
        return confirm is None
    return answer


def route_to_logging() -> None:
    """Send tuner's records to the application's logging configuration (the root logger's handlers) instead of
    tuner's own renderer: for a service, or a notebook that formats its logs itself. The `tuner` logger keeps
    its level (INFO unless changed); questions then have nobody to answer them (pass `confirm=`)."""
    root = logging.getLogger(LOGGER)
    for handler in list(root.handlers):
        if isinstance(handler, EchoHandler):
            root.removeHandler(handler)
    root.propagate = True


@contextlib.contextmanager
def rendered_by(handler: logging.Handler) -> Iterator[None]:
    """Everything the channel carries goes to `handler` alone for the length of the block (the `tune` command's
    renderer while a command runs in a caller's process: a test, a notebook), then back to what it was."""
    root = logging.getLogger(LOGGER)
    saved = (list(root.handlers), root.level, root.propagate)
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    try:
        yield
    finally:
        root.handlers, root.propagate = saved[0], saved[2]
        root.setLevel(saved[1])


def _subscribe_default() -> None:
    """The console's renderer for library users, unless someone subscribed already (the application, `tune`)."""
    root = logging.getLogger(LOGGER)
    if root.handlers:
        return
    root.addHandler(EchoHandler("tuner"))
    if root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    root.propagate = False  # one rendering: the application's root handlers would print it a second time


_subscribe_default()
