"""Run one trial: the script as a subprocess in its own process group, its output teed to a log,
a heartbeat in run.json, a time limit, and an outcome written atomically whatever happens.

Shared by training_run (in the caller's process) and sweeps (inside a Ray task). A user failure never
crosses this boundary as an exception: it comes back as a RunOutcome with a status.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from workers.files import atomic_write_json, atomic_write_text, is_disk_full
from workers.reaper import last_pid
from workers.view import ProjectView

FINISHED, FAILED, KILLED, TIMEOUT, STOPPED = "finished", "failed", "killed", "timeout", "stopped"
#: a stop request with {"pause": true} (a promoting scheduler): the same SIGTERM, the run ends `paused`
PAUSED = "paused"
_TRACEBACK_START = "Traceback (most recent call last):"
#: longest wait between checks of the script's exit; after it exits its pipes are read for _EXIT_DRAIN_S more
_POLL_S = 0.25
#: a run that an early-stopping rule may stop looks for the stop request this often, not only when it prints:
#: else a condemned trial always runs one more epoch (it is noticed after the next line) - 10 ms of a stat()
_STOP_POLL_S = 0.01
_EXIT_DRAIN_S = 0.5


@dataclass(frozen=True)
class RunSpec:
    """Everything needed to run one trial; file paths are decided by the caller (the run store)."""

    command: tuple[str, ...]
    cwd: str
    run_dir: str
    run_json: str
    output_log: str
    error_json: str
    record: dict[str, Any]                      # initial run.json content (identity of the run)
    env: dict[str, str] = field(default_factory=dict)
    initial_files: dict[str, str] = field(default_factory=dict)  # path -> text, written before start
    timeout_s: float | None = None
    kill_grace_s: float = 10.0
    heartbeat_s: float = 5.0
    echo: bool = False
    tail_lines: int = 20
    #: (callable, args) run on the worker after the trial, e.g. the caller's metadata post-processing
    post_run: tuple[Any, tuple[Any, ...]] | None = None
    #: the project the run sees: when set, the script works in a copy-on-write view of this folder, where every
    #: write lands in run_dir (workers.view); None: it runs in `cwd` itself
    project_dir: str | None = None
    #: the runs directory: never part of the view's copy, and reachable from the view as it really is
    runs_dir: str | None = None
    #: the `project_view` setting: auto, overlay (copy-on-write or the run fails) or mirror (workers.view)
    project_view: str = "auto"
    #: (factory, args): factory(*args) gives an object with line(text), tick() and close(completed), fed every output
    #: line and every `\r`-separated update of a progress bar as it arrives (the caller's live metrics parser;
    #: workers never imports tuner). completed is True when the script exited by itself with status 0: the step it
    #: was printing is complete (a stopped, killed, timed-out or failed run's is not)
    line_hook: tuple[Any, tuple[Any, ...]] | None = None
    #: a file whose appearance asks the runner to stop the script early (a sweep's stopping rule, or a stop from the
    #: dashboard): SIGTERM to its process group, SIGKILL after kill_grace_s; the run ends `stopped` with its metrics
    #: and artifacts kept
    stop_file: str | None = None
    #: how often a quiet script's stop_file is looked for (default _STOP_POLL_S: a rule's stop must not wait for the
    #: next epoch); a stop that only a person asks for can wait a quarter of a second
    stop_poll_s: float | None = None
    #: the folder the script saves its checkpoint into and continues from (its environment names it): made before
    #: the script starts; a sweep trial's outlives the run (a later attempt of the trial continues from it)
    checkpoint_dir: str | None = None


@dataclass(frozen=True)
class RunOutcome:
    run_dir: str
    status: str
    exit_code: int | None
    signal: int | None
    start: float
    end: float
    stderr_tail: tuple[str, ...]
    error_message: str | None
    host: str
    #: what the run's view could not keep from the project (a mirrored run that wrote into a linked project file)
    notes: tuple[str, ...] = ()

    @property
    def duration_s(self) -> float:
        return self.end - self.start


class _Record:
    """run.json, rewritten atomically on every change."""

    def __init__(self, path: str, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    def update(self, **values: Any) -> None:
        self.data.update(values)
        atomic_write_json(self.path, self.data)


def _terminate_group(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM the whole process group, then SIGKILL what is left after `grace_s`."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    try:  # the script's own children may outlive it: kill the group in any case
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def parse_python_error(stderr_text: str) -> tuple[str, str] | None:
    """(message, traceback) of the last Python traceback in stderr, if the script died of an exception."""
    start = stderr_text.rfind(_TRACEBACK_START)
    if start < 0:
        return None
    block = stderr_text[start:].rstrip("\n")
    lines = block.splitlines()
    # frames are indented; the exception starts at the first line that is not, and its message may span lines
    for index, line in enumerate(lines[1:], start=1):
        if line and not line[0].isspace():
            return "\n".join(lines[index:]).strip(), block
    return None


def _load_prctl() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl() if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the runner dies, even by SIGKILL, so no trial outlives its sweep."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


_SETPRIV = shutil.which("setpriv") if sys.platform.startswith("linux") else None


def _with_pdeathsig(command: tuple[str, ...]) -> list[str]:
    """util-linux' setpriv sets the death signal then execs the script: this keeps subprocess on its fast
    vfork path (a preexec_fn forces a full fork of the large Ray worker, ~3 ms a trial)."""
    return [_SETPRIV, "--pdeathsig", "KILL", "--", *command] if _SETPRIV else list(command)


def _child_env(spec: RunSpec) -> dict[str, str]:
    env = dict(os.environ)
    env.update(spec.env)
    env.setdefault("PYTHONUNBUFFERED", "1")  # metrics and output arrive live, not at exit
    return env


#: environment variable naming one run; whatever the script starts inherits it, so leftovers are found and killed
RUN_TOKEN_ENV = "TUNER_RUN_TOKEN"


def _reap_marked(token: str, after: int | None) -> None:
    """Kill what the run started that left its process group (a daemon that called setsid)."""
    from workers.reaper import marked, reap

    reap(marked(token, RUN_TOKEN_ENV, after=after))


def run_process(spec: RunSpec) -> RunOutcome:
    """Run the trial to its end; KeyboardInterrupt (Ctrl-C, task cancel) kills the tree, records `killed`, re-raises."""
    os.makedirs(os.path.dirname(spec.run_json), exist_ok=True)
    for path, text in spec.initial_files.items():
        atomic_write_text(path, text)
    if spec.checkpoint_dir:
        os.makedirs(spec.checkpoint_dir, exist_ok=True)
        if "resumed_from" not in spec.record and any(files for _root, _dirs, files in os.walk(spec.checkpoint_dir)):
            # run again by Ray in the same folder (its worker or node died): it continues its own checkpoint
            spec = replace(spec, record={**spec.record, "resumed_from": {"run": os.path.basename(
                os.path.normpath(spec.run_dir)), "step": None}})
    view = ProjectView(spec.project_dir, spec.run_dir, spec.runs_dir, spec.cwd, spec.project_view) \
        if spec.project_dir else None
    token = f"{os.getpid()}-{time.time_ns()}"
    spec = replace(spec, env={**spec.env, RUN_TOKEN_ENV: token})
    first = last_pid()  # everything the run starts gets a later pid
    notes: list[str] = []
    try:
        outcome = _run(spec, view)
    finally:
        if sys.platform.startswith("linux"):
            _reap_marked(token, first)
        if view is not None:  # after the reaping: nothing of the run holds its namespace any more
            notes = _close_view(spec, view)
    return replace(outcome, notes=tuple(notes)) if notes else outcome


def _close_view(spec: RunSpec, view: ProjectView) -> list[str]:
    """The run folder made plain (workers.view); run.json's `view` completed when there is more to say than the
    mode written at the start (deletions, a project file written through its link), and notes added to the log."""
    from workers.files import read_json

    started = view.report.to_record()
    report = view.close()
    record = report.to_record()
    notes = report.notes()
    with contextlib.suppress(OSError, ValueError):
        if record != started:
            data = read_json(spec.run_json)
            if isinstance(data, dict):
                data["view"] = record
                atomic_write_json(spec.run_json, data)
        if notes:
            with open(spec.output_log, "a", encoding="utf-8") as log:
                log.writelines(f"tuner: {note}\n" for note in notes)
    return notes


def _run(spec: RunSpec, view: ProjectView | None) -> RunOutcome:
    host = socket.gethostname()
    start = time.time()
    record = _Record(spec.run_json, dict(spec.record))
    record.data.update(status="running", start=start, heartbeat=start, host=host, end=None, exit_code=None)
    stderr_tail: deque[str] = deque(maxlen=200)
    log = open(spec.output_log, "wb")  # a retried task (its worker died) starts the log afresh
    proc: subprocess.Popen[bytes] | None = None
    status = FAILED
    interrupted: BaseException | None = None
    try:
        env = _child_env(spec)

        def launch(command: Sequence[str], cwd: str | None, before_exec: Callable[[], None] | None = None
                  ) -> subprocess.Popen[bytes]:
            """The script as a process; `before_exec` runs in the child first (a view's namespace) and forces a
            fork, so without it setpriv gives the death signal and the fast vfork path is kept."""
            pipes: dict[str, Any] = {"env": env, "stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE,
                                     "stderr": subprocess.PIPE, "start_new_session": True}
            if before_exec is None:
                return subprocess.Popen(_with_pdeathsig(tuple(command)), cwd=cwd,
                                        preexec_fn=None if _SETPRIV else _die_with_parent, **pipes)

            def preexec() -> None:
                before_exec()
                _die_with_parent()

            return subprocess.Popen(list(command), cwd=cwd, preexec_fn=preexec, **pipes)

        try:
            proc = view.start(spec.command, launch, env) if view is not None else launch(spec.command, spec.cwd)
        except OSError as exc:
            log.write(f"tuner: could not start {spec.command[0]}: {exc}\n".encode())
            stderr_tail.append(str(exc))
            end = time.time()
            record.update(status=FAILED, end=end, heartbeat=end, exit_code=None)
            atomic_write_json(spec.error_json, {"message": f"could not start the script: {exc}", "traceback": None,
                                                "exit_code": None, "signal": None})
            return RunOutcome(spec.run_dir, FAILED, None, None, start, end, tuple(stderr_tail), str(exc), host)
        # the first write: the run exists from here on
        record.update(pid=proc.pid, **({"view": view.report.to_record()} if view is not None else {}))
        status = _pump(proc, spec, log, stderr_tail, record)
    except KeyboardInterrupt as exc:
        interrupted = exc
        status = KILLED
        if proc is not None:
            _terminate_group(proc, min(spec.kill_grace_s, 5.0))
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        # the run's own folder is full: its output can no longer be kept, so the script stops here and the
        # caller (the sweep) stops everything with one line about the disk
        if proc is not None:
            _terminate_group(proc, min(spec.kill_grace_s, 5.0))
        end = time.time()
        with contextlib.suppress(OSError):
            record.update(status=FAILED, end=end, heartbeat=end, exit_code=None)
        raise
    finally:
        with contextlib.suppress(OSError):  # a full disk fails the close too; the first error is the one to tell
            log.close()
    if proc is None:  # interrupted before the script started: nothing ran, nothing to record
        assert interrupted is not None
        raise interrupted
    exit_code = proc.returncode
    sig = -exit_code if exit_code is not None and exit_code < 0 else None
    if status == FAILED and exit_code == 0:
        status = FINISHED
    end = time.time()
    error_message = None
    if status == STOPPED:
        error_message = _stop_message(spec.stop_file)
        if _is_pause(spec.stop_file):
            status = PAUSED
    elif status != FINISHED:
        error_message = _write_error(spec, status, exit_code, sig, "".join(stderr_tail))
    record.update(status=status, end=end, heartbeat=end, exit_code=exit_code, signal=sig, duration_s=end - start)
    if interrupted is not None:
        raise interrupted
    return RunOutcome(spec.run_dir, status, exit_code, sig, start, end,
                        tuple(line.rstrip("\n") for line in list(stderr_tail)[-spec.tail_lines:]), error_message, host)


#: what run.json says of a run that has ended (the runner writes it last, after error.json)
ENDED = (FINISHED, FAILED, KILLED, TIMEOUT, STOPPED, PAUSED)


def ended_outcome(spec: RunSpec) -> RunOutcome | None:
    """The outcome of a run that has already ended, read back from its run.json; None if it has not.

    A task Ray runs again (its worker died) must not run again the trials that had ended before: a batch of
    several, or a single one whose worker died after its end was recorded."""
    from workers.files import read_json

    try:
        record = read_json(spec.run_json)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("status") not in ENDED:
        return None
    status = str(record["status"])
    message = None if status == FINISHED else (_existing_message(spec.error_json) or f"{status}")
    start = float(record.get("start") or 0.0)
    return RunOutcome(spec.run_dir, status, record.get("exit_code"), record.get("signal"), start,
                      float(record.get("end") or start), (), message, str(record.get("host") or ""))


def _write_error(spec: RunSpec, status: str, exit_code: int | None, sig: int | None, stderr_text: str) -> str:
    if os.path.exists(spec.error_json):  # the script (through tuner) recorded its own error
        return _existing_message(spec.error_json) or f"exit status {exit_code}"
    parsed = parse_python_error(stderr_text)
    if status == TIMEOUT:
        message = f"timed out after {spec.timeout_s:g} s"
    elif status == KILLED:
        message = "killed (interrupted)"
    elif parsed:
        message = parsed[0]
    elif sig:
        message = f"killed by signal {signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else sig}"
    else:
        message = f"exit status {exit_code}"
    atomic_write_json(spec.error_json, {"message": message, "traceback": parsed[1] if parsed else None,
                                        "exit_code": exit_code, "signal": sig, "status": status})
    return message


def _stop_message(path: str | None) -> str:
    """The sweep's reason, as it wrote it in the stop request (`{"reason": ...}`)."""
    from workers.files import read_json

    try:
        data = read_json(path) if path else None
    except (OSError, ValueError):
        data = None
    return str(data.get("reason")) if isinstance(data, dict) and data.get("reason") else "stopped early"


def _is_pause(path: str | None) -> bool:
    from workers.files import read_json

    try:
        data = read_json(path) if path else None
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("pause") is True


def _existing_message(path: str) -> str | None:
    from workers.files import read_json

    try:
        data = read_json(path)
    except (OSError, ValueError):
        return None
    return data.get("message") if isinstance(data, dict) else None


_LINE_ENDS = re.compile(rb"[\r\n]")


class _Lines:
    """Complete output lines for the caller's line hook; a failing hook is switched off, never the run."""

    def __init__(self, hook_spec: tuple[Any, tuple[Any, ...]] | None) -> None:
        self.hook: Any = None
        self.partial = {"out": b"", "err": b""}
        if hook_spec is not None:
            factory, args = hook_spec
            self.hook = self._call(factory, *args)

    def _call(self, func: Any, *args: Any) -> Any:
        try:
            return func(*args)
        except Exception:  # noqa: BLE001 - a parser bug must not fail the user's run
            self.hook = None
            return None

    def feed(self, stream: str, chunk: bytes) -> None:
        if self.hook is None:
            return
        # a progress bar redraws itself with \r and ends its line only when done (tqdm, Lightning: one line for
        # the whole training): each update goes to the hook as it comes
        pieces = _LINE_ENDS.split(self.partial[stream] + chunk)
        self.partial[stream] = pieces.pop()[-65536:]
        for piece in pieces:
            if piece and self.hook is not None:
                self._call(self.hook.line, piece.decode("utf-8", "replace"))

    def tick(self) -> None:
        if self.hook is not None:
            self._call(self.hook.tick)

    def close(self, completed: bool) -> None:
        for rest in self.partial.values():
            if rest and self.hook is not None:
                self._call(self.hook.line, rest.decode("utf-8", "replace"))
        if self.hook is not None:
            self._call(self.hook.close, completed)


def _pump(proc: subprocess.Popen[bytes], spec: RunSpec, log: Any, stderr_tail: deque[str], record: _Record) -> str:
    """Copy output to the log (and the terminal) until the process ends; enforce timeout; beat the heart.

    The loop runs until the script has exited, whether or not its streams are still open: a script that closes
    stdout and stderr and then hangs still meets its time limit and keeps its heartbeat."""
    selector = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None
    selector.register(proc.stdout, selectors.EVENT_READ, "out")
    selector.register(proc.stderr, selectors.EVENT_READ, "err")
    lines = _Lines(spec.line_hook)
    started = time.monotonic()
    next_beat = started + spec.heartbeat_s
    deadline = started + spec.timeout_s if spec.timeout_s else None
    partial_err = b""
    open_streams = 2
    exited_at: float | None = None
    result: str | None = None  # what the loop returns, when it saw the run to its end (not an exception)
    try:
        while True:
            now = time.monotonic()
            wait = min(next_beat - now, _POLL_S if spec.stop_file is None else spec.stop_poll_s or _STOP_POLL_S)
            if deadline is not None:
                wait = min(wait, deadline - now)
            events = selector.select(timeout=max(wait, 0.0)) if open_streams else []
            if not open_streams:
                # both streams closed (the usual end: the script exits and its pipes close a moment before the
                # exit can be reaped): wait on the process itself, which returns the moment it is reaped; a
                # fixed sleep here cost each trial 50 ms about half the time
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=max(min(wait, 0.05), 0.0))
            for key, _ in events:
                chunk = os.read(key.fileobj.fileno(), 65536)  # type: ignore[union-attr]
                if not chunk:
                    selector.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                log.write(chunk)
                log.flush()
                lines.feed(key.data, chunk)
                if key.data == "err":
                    pieces = (partial_err + chunk).split(b"\n")
                    partial_err = pieces.pop()
                    stderr_tail.extend(p.decode("utf-8", "replace") + "\n" for p in pieces)
                if spec.echo:
                    _echo(sys.stdout if key.data == "out" else sys.stderr, chunk)
            lines.tick()
            now = time.monotonic()
            # a script that already ended on its own is not stopped: the request came too late for it, and its
            # run is what it is (finished, failed), not a run the rule cut short
            if spec.stop_file is not None and exited_at is None and os.path.exists(spec.stop_file) \
                    and proc.poll() is None:
                _terminate_group(proc, spec.kill_grace_s)
                _drain(selector, log)
                result = STOPPED
                return result
            if deadline is not None and now >= deadline:
                _terminate_group(proc, spec.kill_grace_s)
                _drain(selector, log)
                result = TIMEOUT
                return result
            if now >= next_beat:
                record.update(heartbeat=time.time())
                next_beat = now + spec.heartbeat_s
            if exited_at is None:
                exited_at = now if proc.poll() is not None else None
                if exited_at is not None and not open_streams:
                    break
            elif not open_streams or now - exited_at >= _EXIT_DRAIN_S:
                break  # the script is gone (a child of it may still hold its output pipes open)
        if partial_err:
            stderr_tail.append(partial_err.decode("utf-8", "replace"))
        proc.wait()
        try:  # anything the script left behind in its group goes with it
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _drain(selector, log)
        result = FAILED
        return result  # the caller turns exit status 0 into finished
    finally:
        lines.close(completed=result == FAILED and proc.returncode == 0)


def _echo(stream: Any, chunk: bytes) -> None:
    """Bytes as they came when the stream has a binary buffer (a terminal, a file), else decoded text."""
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()  # text already printed by this process goes first
        buffer.write(chunk)
        buffer.flush()
    else:
        stream.write(chunk.decode("utf-8", "replace"))
        stream.flush()


def _drain(selector: selectors.BaseSelector, log: Any) -> None:
    """Keep what is left in the pipes, without blocking: a process outside the group may still hold them."""
    for key in list(selector.get_map().values()):
        fd = key.fileobj.fileno()  # type: ignore[union-attr]
        try:
            os.set_blocking(fd, False)
            while chunk := os.read(fd, 65536):
                log.write(chunk)
        except (OSError, ValueError):  # BlockingIOError: nothing more for now
            pass
    log.flush()
    selector.close()
