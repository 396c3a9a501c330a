"""workers.process: one script as a subprocess, its log, heartbeat, time limit and outcome, with no tuner import."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from workers.files import append_json_line, read_json_lines
from workers.process import (
    FAILED,
    FINISHED,
    TIMEOUT,
    RunSpec,
    parse_python_error,
    run_process,
)


def make_spec(tmp_path: Path, body: str, **options: object) -> RunSpec:
    tmp_path.mkdir(parents=True, exist_ok=True)
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(body).lstrip())
    meta = tmp_path / "run" / "tuner.d"
    return RunSpec(command=(sys.executable, str(script), "--x=1"), cwd=str(tmp_path), run_dir=str(tmp_path / "run"),
                     run_json=str(meta / "run.json"), output_log=str(meta / "output.log"),
                     error_json=str(meta / "error.json"), record={"name": "run"}, **options)  # type: ignore[arg-type]


def read(path: str) -> dict:
    return json.loads(Path(path).read_text())


def test_a_finished_trial_writes_log_record_and_outcome(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, """
        import os, sys
        print("argv", sys.argv[1:], "run", os.environ["MY_VAR"], "unbuffered", os.environ["PYTHONUNBUFFERED"])
        print("warn", file=sys.stderr)
    """, env={"MY_VAR": "v"}, initial_files={str(tmp_path / "run" / "tuner.d" / "flags.json"): "{}\n"})
    outcome = run_process(spec)
    assert outcome.status == FINISHED and outcome.exit_code == 0 and outcome.signal is None
    assert outcome.error_message is None and outcome.duration_s > 0
    log = Path(spec.output_log).read_text()
    assert "argv ['--x=1'] run v unbuffered 1" in log and "warn" in log
    record = read(spec.run_json)
    assert record["name"] == "run" and record["status"] == "finished" and record["exit_code"] == 0
    assert record["start"] <= record["end"] and isinstance(record["pid"], int)
    assert Path(tmp_path / "run" / "tuner.d" / "flags.json").read_text() == "{}\n"
    assert not Path(spec.error_json).exists()


def test_a_python_exception_becomes_message_and_traceback(tmp_path: Path) -> None:
    outcome = run_process(make_spec(tmp_path, """
        try:
            {}["k"]
        except KeyError as exc:
            raise RuntimeError("wrapped\\nsecond line") from exc
    """))
    assert outcome.status == FAILED and outcome.exit_code == 1
    error = read(str(tmp_path / "run" / "tuner.d" / "error.json"))
    # the last traceback of a chain is the one that killed the script
    assert error["traceback"].startswith("Traceback") and "RuntimeError" in error["traceback"]
    assert error["message"] == "RuntimeError: wrapped\nsecond line"
    assert outcome.stderr_tail and outcome.stderr_tail[-1] == error["traceback"].splitlines()[-1]


def test_parse_python_error_takes_the_exception_line() -> None:
    text = ("noise\nTraceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n"
            "    f()\nValueError: bad value\n")
    message, trace = parse_python_error(text)  # type: ignore[misc]
    assert message == "ValueError: bad value" and trace.startswith("Traceback") and trace.endswith("bad value")
    assert parse_python_error("just an error line\n") is None


def test_a_timeout_escalates_to_sigkill_after_the_grace_period(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(60)
    """, timeout_s=0.5, kill_grace_s=0.5)
    started = time.monotonic()
    outcome = run_process(spec)
    assert time.monotonic() - started < 10
    assert outcome.status == TIMEOUT and outcome.signal == signal.SIGKILL
    error = read(spec.error_json)
    assert error["message"] == "timed out after 0.5 s" and error["status"] == "timeout"
    assert "ready" in Path(spec.output_log).read_text()


def test_the_heartbeat_updates_run_json_while_the_script_runs(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, "import time\ntime.sleep(1.0)\n", heartbeat_s=0.2)
    beats = []
    import threading

    def watch() -> None:
        while not Path(spec.run_json).exists():
            time.sleep(0.01)
        for _ in range(40):
            try:
                beats.append(read(spec.run_json).get("heartbeat"))
            except ValueError:
                pytest.fail("run.json was read half-written")
            time.sleep(0.025)

    watcher = threading.Thread(target=watch)
    watcher.start()
    run_process(spec)
    watcher.join()
    assert len({b for b in beats if b is not None}) >= 3


def test_a_command_that_cannot_start_is_a_failed_outcome(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, "")
    spec = RunSpec(**{**spec.__dict__, "command": (str(tmp_path / "no-such-interpreter"),)})
    outcome = run_process(spec)
    assert outcome.status == FAILED and outcome.exit_code in (None, 127)  # 127: a launcher (setpriv) could not exec
    assert read(spec.run_json)["status"] == "failed"
    message = read(spec.error_json)["message"]
    assert message.startswith("could not start the script") or message == "exit status 127"
    assert "no-such-interpreter" in Path(spec.output_log).read_text()


def test_the_scripts_children_do_not_outlive_it(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, """
        import subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(child.pid)
    """)
    run_process(spec)
    pid = int(Path(spec.output_log).read_text().split()[0])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            break
        if state == "Z":
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"child {pid} of the script is still running")


def test_echo_writes_the_scripts_output_to_this_process(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    run_process(make_spec(tmp_path, "import sys\nprint('out line')\nprint('err line', file=sys.stderr)\n", echo=True))
    out, err = capfd.readouterr()
    assert "out line" in out and "err line" in err


def test_workers_never_import_tuner() -> None:
    code = "import sys, workers.process, workers.files; print('tuner' in sys.modules or 'ray' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert done.stdout.strip() == "False", done.stderr


def test_json_lines_skip_torn_and_non_object_lines(tmp_path: Path) -> None:
    path = str(tmp_path / "m.jsonl")
    append_json_line(path, {"step": 1})
    append_json_line(path, {"step": 2})
    with open(path, "a") as handle:
        handle.write('[1, 2]\n{"step": 3, "lo')
    records, bad = read_json_lines(path)
    assert records == [{"step": 1}, {"step": 2}] and bad == 2
    assert read_json_lines(str(tmp_path / "missing.jsonl")) == ([], 0)


def test_a_child_that_keeps_the_output_open_does_not_hold_the_trial(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, """
        import subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])  # inherits stdout
        print("child", child.pid, flush=True)
    """)
    started = time.monotonic()
    outcome = run_process(spec)
    assert time.monotonic() - started < 10
    assert outcome.status == FINISHED
    pid = int(Path(spec.output_log).read_text().split()[1])
    time.sleep(0.2)
    assert not Path(f"/proc/{pid}").exists() or \
        Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


class _Hook:
    """A line hook that remembers what it was fed and how the run told it to close."""

    closes: list[bool] = []
    lines: list[str] = []

    def line(self, text: str) -> None:
        _Hook.lines.append(text)

    def tick(self) -> None: ...

    def close(self, completed: bool) -> None:
        _Hook.closes.append(completed)


def test_the_line_hook_is_told_whether_the_script_completed(tmp_path: Path) -> None:
    """completed: the script exited by itself with status 0, so the step it was printing is complete; a run that
    failed, timed out or was interrupted is not, and its unfinished step must not be kept as a step."""
    import _thread
    import threading

    _Hook.closes = []
    quick = "print('loss: 1')\n"
    run_process(make_spec(tmp_path / "a", quick, line_hook=(_Hook, ()), post_run=(print, ())))
    run_process(make_spec(tmp_path / "b", quick + "raise SystemExit(1)\n", line_hook=(_Hook, ())))
    run_process(make_spec(tmp_path / "c", "import time\ntime.sleep(30)\n", line_hook=(_Hook, ()), timeout_s=0.3,
                          kill_grace_s=0.5, post_run=(print, ())))
    assert _Hook.closes == [True, False, False]
    spec = make_spec(tmp_path / "d", "import time\nprint('up', flush=True)\ntime.sleep(30)\n", line_hook=(_Hook, ()),
                     post_run=(print, ()))
    timer = threading.Timer(1.0, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_process(spec)
    finally:
        timer.cancel()
    assert _Hook.closes == [True, False, False, False]
    assert read(spec.run_json)["status"] == "killed"


def test_the_line_hook_gets_each_progress_update_as_it_comes(tmp_path: Path) -> None:
    """tqdm and Lightning redraw one line with \\r until the bar (or the whole training) ends: the hook sees each
    update while the script runs, as soon as the next one begins (a redraw ends where the next starts), not the
    whole line at its end."""
    _Hook.lines = []
    script = ("import sys, time\n"
              "for i in range(1, 4):\n"
              "    sys.stdout.write(f'\\rEpoch 0: {i}/3 [00:0{i}<00:00, loss={1 / i:.3f}]'); sys.stdout.flush()\n"
              "    deadline = time.time() + 10\n"
              "    while open(sys.argv[-1]).read().count('loss=') < i - 1 and time.time() < deadline:\n"
              "        time.sleep(0.01)\n"
              "    assert open(sys.argv[-1]).read().count('loss=') == i - 1, 'the hook has not seen the update'\n"
              "sys.stdout.write('\\r\\n')\n")
    seen = tmp_path / "seen.txt"
    seen.write_text("")

    class Seen(_Hook):
        def line(self, text: str) -> None:
            super().line(text)
            with open(seen, "a") as handle:
                handle.write(text + "\n")

    spec = make_spec(tmp_path / "e", script, line_hook=(Seen, ()))
    spec = replace(spec, command=(*spec.command, str(seen)))
    assert run_process(spec).status == "finished", Path(spec.output_log).read_text()
    assert _Hook.lines == [f"Epoch 0: {i}/3 [00:0{i}<00:00, loss={1 / i:.3f}]" for i in range(1, 4)]
