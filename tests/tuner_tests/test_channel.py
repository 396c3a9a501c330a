"""The one channel (tuner.channel): library code logs under the `tuner` logger, the console's renderer prints it,
the logger's level silences it all, questions go to whoever renders it or to a `confirm=` callable."""

from __future__ import annotations

import logging
import os
import pty
import select
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from synthetic_runs import make_run

from tuner import channel
from tuner.cli import main
from tuner.console.echo import SWEEP_EVENTS, EchoHandler
from tuner.runs.listing import ls_runs
from tuner.runs.manage import clean_runs

T0 = 1_790_000_000.0
TRAIN = """
    import sys
    from tuner import flag_numeric, flags, log_metrics
    FLAGS = flags(flag_numeric("lr", 0.1))
    if FLAGS.lr == 0:
        sys.exit("lr must not be 0")
    for epoch in range(2):
        log_metrics(epoch=epoch, loss=FLAGS.lr / (epoch + 1))
"""


@pytest.fixture
def silenced() -> Iterator[None]:
    """The `tuner` logger at ERROR, as a notebook or service that wants nothing from tuner sets it."""
    root = logging.getLogger("tuner")
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


@pytest.fixture
def runs(workdir: Path) -> Path:
    """Two runs, one with a damaged evaluation.json (a listing warns about it)."""
    for k in range(2):
        make_run(workdir / "runs", f"2026-03-01T00-00-0{k}Z", start=T0 + k, end=T0 + k + 5, flags={"lr": 0.1 * (k + 1)},
                 metrics=[{"loss": 0.5}])
    (workdir / "runs" / "2026-03-01T00-00-00Z" / "tuner.d" / "evaluation.json").write_text("{torn")
    return workdir / "runs"


def _listings() -> None:
    ls_runs()  # the damaged run
    ls_runs(subset="metrics.nope > 1")  # a key no run has


def test_library_warnings_print_through_the_default_renderer(runs: Path, capfd: pytest.CaptureFixture[str]) -> None:
    _listings()
    out, err = capfd.readouterr()
    lines = err.splitlines()
    assert out == ""
    assert any(line.startswith("tuner: warning: runs/2026-03-01T00-00-00Z/tuner.d/evaluation.json: unreadable")
               for line in lines), lines
    assert any(line.startswith("tuner: warning: no run has metrics.nope, so it matches nothing") for line in lines)


def test_the_logger_level_silences_listing_warnings(runs: Path, capfd: pytest.CaptureFixture[str],
                                                    silenced: None) -> None:
    _listings()
    assert capfd.readouterr() == ("", "")


def test_the_cli_renders_the_same_records_as_tune_warnings(runs: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "--filter", "metrics.nope > 1"]) == 0
    err = capfd.readouterr().err.splitlines()
    assert any(line.startswith("tune: warning: no run has metrics.nope, so it matches nothing") for line in err)
    assert any(line.startswith("tune: warning: runs/2026-03-01T00-00-00Z/tuner.d/evaluation.json") for line in err)
    # the command's renderer was the channel's for the command only: a library call after it is the library's
    ls_runs(subset="metrics.nope > 1")
    assert "tuner: warning: no run has metrics.nope" in capfd.readouterr().err


def test_route_to_logging_hands_records_to_the_application(runs: Path, capfd: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger("tuner")
    saved = list(root.handlers), root.propagate
    got: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            got.append(record)

    application = Keep()
    logging.getLogger().addHandler(application)
    try:
        channel.route_to_logging()
        _listings()
    finally:
        logging.getLogger().removeHandler(application)
        root.handlers, root.propagate = saved
    assert capfd.readouterr() == ("", "")
    assert {r.name for r in got} >= {"tuner.runs.index", "tuner.runs.listing"}
    assert all(r.levelno == logging.WARNING for r in got if r.name.startswith("tuner."))


def test_info_notes_and_warnings_go_where_the_renderer_says(capsys: pytest.CaptureFixture[str]) -> None:
    log = channel.logger("tuner.test")
    handler = EchoHandler("tune")
    with channel.rendered_by(handler):
        log.info("Moved %d runs", 3)
        log.info("note: train.py changed", extra=channel.NOTE)
        log.warning("no run has \x1b]0;x\x07")
    said = capsys.readouterr()
    assert said.out == "Moved 3 runs\n"
    assert said.err == "note: train.py changed\ntune: warning: no run has \\x1b]0;x\\x07\n"  # inert


def test_a_service_renders_every_record_on_stderr_with_its_name(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("tuner.test.service")
    logger.addHandler(EchoHandler("tune", service="dashboard"))
    logger.propagate = False
    try:
        logger.info("asked trial 3 to stop")
        logger.warning("refused a request for Host %r", "evil")
    finally:
        logger.handlers, logger.propagate = [], True
    assert capsys.readouterr() == ("", "tune: dashboard: asked trial 3 to stop\n"
                                       "tune: dashboard: refused a request for Host 'evil'\n")


def test_the_progress_events_are_the_ones_the_display_knows() -> None:
    assert [e.value for e in channel.SweepEvent] == list(SWEEP_EVENTS)


def test_a_logger_outside_the_hierarchy_is_refused() -> None:
    with pytest.raises(ValueError):
        channel.logger("mypackage")


# ---------------------------------------------------------------------------------------------------------------
# Questions

def test_a_confirm_callable_answers_instead_of_a_person(runs: Path) -> None:
    asked: list[tuple[str, bool]] = []
    result = clean_runs("2026-03-01T00-00-01Z", confirm=lambda q, d: asked.append((q, d)) or False)
    assert result.cancelled and (runs / "2026-03-01T00-00-01Z").is_dir()
    assert asked == [(f"Move 1 run directory to {os.path.join('runs', 'archive')}?", True)]
    result = clean_runs("2026-03-01T00-00-01Z", confirm=lambda q, d: True)
    assert not result.cancelled and (runs / "archive" / "2026-03-01T00-00-01Z").is_dir()


def test_without_anyone_to_ask_none_goes_ahead_and_true_does_not(runs: Path) -> None:
    root = logging.getLogger("tuner")
    with channel.rendered_by(logging.NullHandler()):  # a renderer that cannot ask (an application's handler)
        assert channel.ask("Proceed?", True) is None
        assert channel.confirmed(None, "Proceed?", True)  # tfruns: confirm = interactive()
        assert not channel.confirmed(True, "Proceed?", True)  # asked to ask, and nobody can answer
        assert channel.confirmed(False, "Proceed?", False)
        assert clean_runs("2026-03-01T00-00-01Z", confirm=True).cancelled
    assert any(isinstance(h, EchoHandler) for h in root.handlers)


def test_the_renderer_asks_only_at_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    handler = EchoHandler()
    answers = iter(["y", "", "no"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # no terminal
    assert handler.ask("Proceed?", True) is None
    assert handler.ask("Proceed?", False, always=True) is True  # read anyway, as input() reads a pipe
    assert handler.ask("Proceed?", False, always=True) is False  # empty: the default
    assert handler.ask("Proceed?", True, always=True) is False


# ---------------------------------------------------------------------------------------------------------------
# Sweeps

@pytest.mark.ray
@pytest.mark.slow
def test_a_silenced_sweep_prints_nothing_and_a_default_one_says_its_plan_and_failures(
        workdir: Path, write_script, ray_cluster: str, capfd: pytest.CaptureFixture[str]) -> None:
    from tuner import tuning_run

    write_script("train.py", TRAIN)
    tuning_run("train.py", flags={"lr": [0.1, 0]}, confirm=False, address=ray_cluster)
    out, err = capfd.readouterr()
    assert "2 combinations" in out and "finished" in out
    assert "lr must not be 0" in err and "FAILED" in err
    root = logging.getLogger("tuner")
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        frame = tuning_run("train.py", flags={"lr": [0.2, 0]}, confirm=False, address=ray_cluster)
        ls_runs(subset="metrics.nope > 1")
    finally:
        root.setLevel(level)
    assert sorted(frame["status"]) == ["failed", "finished"]
    assert capfd.readouterr() == ("", "")


@pytest.mark.ray
@pytest.mark.slow
def test_a_sweep_at_a_terminal_draws_the_live_bar_and_says_failures_above_it(
        workdir: Path, write_script, ray_cluster: str) -> None:
    write_script("train.py", TRAIN)
    main_fd, child_fd = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    env.update(COLUMNS="160", LINES="50", TERM="xterm-256color")
    proc = subprocess.Popen([sys.executable, "-m", "tuner", "train.py", "--flag", "lr=0.1,0", "--yes",
                             "--address", ray_cluster], cwd=workdir, stdin=subprocess.DEVNULL, stdout=child_fd,
                            stderr=child_fd, env=env, close_fds=True)
    os.close(child_fd)
    chunks = []
    while select.select([main_fd], [], [], 120)[0]:
        try:
            data = os.read(main_fd, 65536)
        except OSError:  # the child closed its side
            break
        if not data:
            break
        chunks.append(data)
    os.close(main_fd)
    assert proc.wait(timeout=60) == 1
    text = b"".join(chunks).decode("utf-8", errors="replace")
    assert "sweep" in text and "━" in text and "2/2 trials done" in text and "1 failed" in text, text
    assert "FAILED" in text and "lr must not be 0" in text
    assert "[1/2] finished" not in text and "[2/2] finished" not in text  # the bar shows them: no plain lines


def test_an_untrusted_journal_is_shown_in_the_question_a_callable_answers() -> None:
    from tuner.errors import UntrustedError
    from tuner.store.signing import Verdict, require_trust

    asked: list[tuple[str, bool]] = []

    def answer(yes: bool) -> channel.Confirm:
        return lambda question, default: asked.append((question, default)) or yes

    shown = ["command: python train.py --lr 0.1", "cwd: /p"]
    require_trust(Verdict.ALTERED, "sweep s's journal", shown, "tune resume s --yes", answer(True))
    assert asked == [("sweep s's journal is changed after it was signed; what it would run:\n"
                      "  command: python train.py --lr 0.1\n  cwd: /p\nRun it?", False)]
    with pytest.raises(UntrustedError, match="nothing was run"):
        require_trust(Verdict.ALTERED, "sweep s's journal", shown, "tune resume s --yes", answer(False))
    with channel.rendered_by(logging.NullHandler()), pytest.raises(UntrustedError, match="no terminal to ask on"):
        require_trust(Verdict.UNSIGNED, "sweep s's journal", shown, "tune resume s --yes", None)
    require_trust(Verdict.UNSIGNED, "sweep s's journal", shown, "tune resume s --yes", True)  # --yes
