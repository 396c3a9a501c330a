"""The `tune` command: the one table of commands, dispatch, and exit codes (docs/design.md section 6).

Exit status: 0 all good, 1 a run or trial failed, 2 bad input, 3 the runs directory's disk is full, 130
interrupted (each TunerError carries its own: tuner.errors). Each command lives in the module the table names
and is imported only when it runs, so `tune --help`, `ls` or `info` never load what sweeps need (Ray above all).
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from typing import Callable, NoReturn, Sequence

from tuner.cli.options import FULL_ERROR_ENV, PROG, UsageError
from tuner.errors import TunerError


@dataclass(frozen=True)
class Command:
    name: str
    module: str  # under tuner.cli
    function: str
    summary: str

    def load(self) -> Callable[[Sequence[str]], int]:
        return getattr(importlib.import_module(f"tuner.cli.{self.module}"), self.function)


#: every `tune` subcommand, in the order `tune --help` lists them
COMMANDS: dict[str, Command] = {c.name: c for c in (
    Command("ls", "runs", "cmd_ls", "list runs"),
    Command("info", "runs", "cmd_info", "show one run"),
    Command("sweeps", "sweeps", "cmd_sweeps", "list sweeps with their counts"),
    Command("resume", "sweeps", "cmd_resume", "finish an interrupted sweep"),
    Command("view", "views", "cmd_view", "HTML view of a run"),
    Command("compare", "views", "cmd_compare", "compare two or more runs"),
    Command("report", "views", "cmd_report", "HTML report of a sweep"),
    Command("dashboard", "dashboard", "cmd_dashboard", "live web app of sweeps and runs (127.0.0.1)"),
    Command("clean", "manage", "cmd_clean", "archive runs"),
    Command("restore", "manage", "cmd_restore", "bring archived runs back"),
    Command("purge", "manage", "cmd_purge", "delete archived runs"),
    Command("copy", "manage", "cmd_copy", "copy a run or its files"),
    Command("rm", "manage", "cmd_rm", "delete runs by name pattern"),
    Command("reproduce", "manage", "cmd_reproduce", "how to re-run a run exactly"),
    Command("lookup", "manage", "cmd_lookup", "print one field of a run"),
    Command("tag", "manage", "cmd_tag", "set, remove or show a run's tags"),
    Command("cluster", "cluster", "cmd_cluster", "the warm local cluster: status, down"),
    Command("submit", "submit", "cmd_submit", "run a sweep's driver on a Ray cluster (job submission)"),
    Command("logs", "submit", "cmd_logs", "the output of a submitted sweep"),
    Command("pull", "submit", "cmd_pull", "bring a submitted sweep's runs home"),
    Command("tensorboard", "tensorboard", "cmd_tensorboard", "command to view runs in TensorBoard"),
    Command("flags", "interface", "cmd_flags", "list the flags a script accepts"),
    Command("export", "export", "cmd_export", "export runs to MLflow (tune export mlflow --help)"),
    Command("run", "run", "cmd_run", "run a script (the same as `tune SCRIPT`)"),
)}

OVERVIEW = """\
Run a training script over many flag combinations on every CPU and GPU, then list, compare and
reproduce the runs. `python -m tuner` is the same command (use it if another `tune` shadows this one).

examples:
  tune train.py                                  one tracked run with the script's default flags
  tune train.py --flag lr=0.01 --flag units=64   one run with these flags
  tune train.py --flags grid.yml --sample 0.3    a sweep: 30% of the grid's combinations, in parallel
  tune train.py --flag lr=0.1,0.01 --flag units=64,128   a sweep over the 4 combinations
  tune train.py --flag "note='a,b'"              a value with a comma: quote it (values stay as typed
                                                 unless numbers, true/false or null)
  tune ls --filter "metric_val_acc > 0.9" --order metric_val_acc
  tune info                                      the latest run in detail

{commands}
`tune COMMAND --help` explains each command. Settings: tuner.yml in the working directory and
TUNER_* environment variables (see configs/tuner.yml); TUNER_FULL_ERROR=1 shows tracebacks.
"""


def overview() -> str:
    lines = ["commands:", "  SCRIPT        run a script (a single run, or a sweep when a flag has several values)"]
    lines += [f"  {c.name:<13} {c.summary}" for c in COMMANDS.values() if c.name != "run"]
    return OVERVIEW.format(commands="\n".join(lines) + "\n")


def _dispatch(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: {PROG} SCRIPT [options] | {PROG} COMMAND [options]\n\n{overview()}")
        return 0 if argv else 2
    if argv[0] == "--version":
        from tuner._version import __version__

        print(f"tuner {__version__}")
        return 0
    command = COMMANDS.get(argv[0])
    if command is not None and command.name != "run":
        return command.load()(argv[1:])
    if command is None:
        check_script_word(argv[0])
    return _run(argv[1:] if command is not None else argv)


def check_script_word(word: str) -> None:
    """`tune WORD`: WORD is a script when it is a path (it exists, or it has a `/` or a `.` as file names do:
    `train.py`, `sweep.yaml`, `./run`); a bare word that is neither a command nor a file (`tune lst`, `tune sweep`)
    is a mistyped command, said as such (exit 2), not as a missing script."""
    if word.startswith("-") or os.path.lexists(word) or "/" in word or os.sep in word or "." in word:
        return
    import difflib

    close = difflib.get_close_matches(word, list(COMMANDS), n=1, cutoff=0.6)
    close += [word + ext for ext in (".py", ".yaml", ".yml") if os.path.isfile(word + ext)]  # `tune train`
    hint = f"did you mean `{PROG} {close[-1]}`? " if close else ""
    raise UsageError(f"unknown command '{word}' (and no file of that name here); {hint}`{PROG} --help` lists "
                     f"the commands, and a script is given by its file name: `{PROG} train.py`")


def _run(argv: list[str]) -> int:
    """`tune SCRIPT ...`: handed to the warm cluster's standby driver when one fits this process (tuner.cli.handoff:
    Ray joined and its workers started ahead), else run here; either way, while a warm cluster is up, a standby
    is kept ready for the next command."""
    from tuner.cli import handoff

    env = dict(os.environ)  # as the command started: what the next standby must match
    rc = handoff.hand_over(argv)
    if rc is not None:
        return rc
    rc = COMMANDS["run"].load()(argv)
    handoff.keep_standby(env)
    return rc


def main(argv: Sequence[str] | None = None) -> int:
    """The command: what the library says on its channel (tuner.channel) is printed by the command's renderer
    (`tune: warning: ...` on stderr, the rest as it is) while it runs, and its questions asked on this terminal."""
    from tuner import channel
    from tuner.console.echo import EchoHandler

    args = list(sys.argv[1:] if argv is None else argv)
    with channel.rendered_by(EchoHandler(PROG)):
        return _main(args)


def _main(args: list[str]) -> int:
    try:
        return _dispatch(args)
    except TunerError as exc:
        if os.environ.get(FULL_ERROR_ENV):
            raise
        from tuner.console.inert import inert

        print(f"{PROG}: error: {inert(exc, keep_newlines=True)}", file=sys.stderr)  # it may quote stored values
        return exc.exit_status
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `tune ls | head`
        return 0


def entry() -> NoReturn:
    """The `tune` process (the console script and `python -m tuner`): main(), then the exit. main() itself returns,
    for callers in a Python process of their own (tests, notebooks)."""
    code = main()
    if "ray" in sys.modules:  # a sweep: the one command whose interpreter teardown is slow
        _exit_without_teardown(code)
    raise SystemExit(code)


def _exit_without_teardown(code: int) -> NoReturn:
    """Everything Python does at exit except tearing down modules, which with Ray, gRPC and pandas loaded takes
    0.2-0.3 s on 2 cores (a tenth of a cold two-trial sweep) and frees nothing the OS does not: non-daemon threads
    joined (threading's own exit hooks first, as the interpreter calls them), atexit handlers run, stdout and
    stderr flushed, then os._exit. Every file tuner writes is closed by then (with-blocks, atomic replaces)."""
    import atexit
    import threading

    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is None or threading.current_thread() is not threading.main_thread():
        raise SystemExit(code)  # a Python without it: the ordinary exit
    shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`tune ... | head`): nothing more can be said there
            pass
    os._exit(code)
