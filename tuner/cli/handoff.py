"""Hand a `tune SCRIPT` command to the standby driver of the warm local cluster (tuner.cli.standby), and keep one
standing by after each command while a warm cluster is up.

Why: on a warm cluster a two-trial sweep still cost about 4 s on 2 cores, of which `import ray` + `ray.init` and
Ray starting the job's worker processes were about 3 s (docs/benchmarks.md). A standby is a driver that has done
all of that before anyone asks; this side costs a file read when there is none. The command runs there exactly
as it would here: this process' arguments, working directory, environment and its stdin/stdout/stderr (passed
over a Unix socket, SCM_RIGHTS), so a terminal stays a terminal and a pipe a pipe; Ctrl-C and other signals are
forwarded, and if this process dies the standby takes it as a Ctrl-C. It hands back only the exit status.

A command goes over only when the standby was started for the same interpreter, the same tuner sources (their
newest mtime) and the same environment where it matters before a command runs (Ray's, tuner's, Python's, the
loader's and thread settings); anything else runs here as before. The socket lives in the user's cache folder
(mode 0700) and the standby also checks the peer's uid.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from typing import Any, Sequence

from tuner.store.layout import ENV_PREFIX
from workers.files import cache_dir, read_json_file, write_json_file

#: environment that shapes a process before a command runs (imports, Ray's start, thread pools): a standby
#: started with other values would not be what a fresh `tune` is
FINGERPRINT_PREFIXES = ("RAY_", ENV_PREFIX, "PYTHON", "CUDA_", "LD_", "OMP_", "MKL_", "OPENBLAS_", "TF_", "XDG_")
FINGERPRINT_KEYS = ("PATH", "VIRTUAL_ENV", "HOME", "TMPDIR", "LANG", "LC_ALL", "LC_CTYPE")
#: how long the standby may take to say it took the command (it answers at once when idle)
ACK_TIMEOUT_S = 5.0
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
#: a Unix socket's path is at most 108 bytes on Linux (sun_path, with its terminating NUL)
SOCKET_PATH_MAX = 107
#: the standbys' shared log starts afresh past this size
LOG_MAX = 1 << 20
#: set in a standby running a command that was handed to it: that command is not handed on again
HANDED_OVER: list[bool] = []


def state_path() -> str:
    return os.path.join(cache_dir(), "standby.json")


def socket_path(pid: int) -> str:
    return os.path.join(cache_dir(), f"standby-{pid}.sock")


def standby_lock() -> Any:
    """The lock under which the standby file changes hands (spawned, ready, taken, replaced)."""
    from filelock import FileLock

    return FileLock(os.path.join(cache_dir(), "standby.lock"), timeout=10)


def read_standby() -> dict[str, Any] | None:
    data = read_json_file(state_path())
    return data if data is not None and isinstance(data.get("pid"), int) else None


def write_standby(data: dict[str, Any]) -> None:
    write_json_file(state_path(), data)


def _code_stamp() -> list[Any]:
    """Where tuner is imported from and the newest mtime of its sources (and workers'): a standby that imported
    older code than is on disk now must not run a command."""
    import tuner

    roots = [os.path.dirname(os.path.abspath(tuner.__file__))]
    roots.append(os.path.join(os.path.dirname(roots[0]), "workers"))
    newest = 0
    stack = [r for r in roots if os.path.isdir(r)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        stack.append(entry.path)
                elif entry.name.endswith((".py", ".yml")):
                    newest = max(newest, entry.stat().st_mtime_ns)
    return [roots[0], newest]


def fingerprint(env: dict[str, str]) -> dict[str, Any]:
    kept = {k: v for k, v in env.items() if k.startswith(FINGERPRINT_PREFIXES) or k in FINGERPRINT_KEYS}
    return {"python": sys.executable, "uid": os.getuid(), "code": _code_stamp(), "env": dict(sorted(kept.items()))}


def _alive(pid: int) -> bool:
    from workers.reaper import alive

    return alive(pid)


def hand_over(argv: Sequence[str]) -> int | None:
    """Run `tune argv` in the standby driver and return its exit status; None when there is no standby fit for
    this process (then the caller runs the command itself)."""
    if HANDED_OVER:
        return None
    state = read_standby()
    if state is None or not state.get("ready") or not _alive(state["pid"]):
        return None
    if state.get("fingerprint") != fingerprint(dict(os.environ)):
        return None
    fds = [0, 1, 2]
    try:
        for fd in fds:
            os.fstat(fd)
    except OSError:
        return None  # a closed standard stream: nothing to pass
    link = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        link.settimeout(ACK_TIMEOUT_S)
        link.connect(str(state["socket"]))
        if _peer_uid(link) != os.getuid():  # this command's environment and terminal go only to this user's standby
            link.close()
            return None
        request = {"argv": list(argv), "cwd": os.getcwd(), "env": dict(os.environ),
                   "fingerprint": state["fingerprint"], "client": os.getpid()}
        socket.send_fds(link, [b"T"], fds)
        link.sendall(json.dumps(request).encode() + b"\n")
        replies = link.makefile("rb")
        ack = json.loads(replies.readline() or b"{}")
    except (OSError, ValueError):
        link.close()
        return None  # gone, busy with another command, or refused: run here
    if not ack.get("ok"):
        link.close()
        return None
    pid = int(ack["pid"])
    previous = {sig: signal.signal(sig, lambda number, _frame: _forward(pid, number)) for sig in FORWARDED}
    try:
        link.settimeout(None)
        line = replies.readline()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        link.close()
    try:
        return int(json.loads(line)["rc"])
    except (ValueError, KeyError, TypeError):
        print(f"tune: the warm cluster's standby driver (pid {pid}) ended without an exit status; its runs are "
              "recorded: `tune sweeps` lists the sweep and `tune resume ID` finishes it", file=sys.stderr)
        return 1


def _peer_uid(link: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket (SO_PEERCRED), None where it cannot be told."""
    import struct

    try:
        _pid, uid, _gid = struct.unpack("3i", link.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                              struct.calcsize("3i")))
    except (OSError, AttributeError):
        return None
    return int(uid)


def _forward(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except OSError:
        pass


def keep_standby(env: dict[str, str]) -> None:
    """After a command: while a warm cluster is up, make sure a standby fit for `env` (the command's environment
    as it started) is starting or ready; one made for another environment or older code is replaced."""
    from workers import warm

    cluster = warm.read_state()
    if cluster is None or cluster.get("python") != sys.executable:
        return
    try:
        _spawn_unless_fit(cluster, env)
    except (OSError, subprocess.SubprocessError):
        pass  # no standby: the next command joins the warm cluster itself, as before


def _spawn_unless_fit(cluster: dict[str, Any], env: dict[str, str]) -> None:
    from workers.warm import WARM_ENV

    mine = fingerprint(env)
    if len(socket_path(2**22).encode()) > SOCKET_PATH_MAX:
        return  # the cache folder's path is too long for a Unix socket: no standby (commands join as before)
    with standby_lock():
        state = read_standby()
        if state is not None and _alive(state["pid"]):
            if state.get("fingerprint") == mine and state.get("mark") == cluster.get("mark"):
                return
            _forward(state["pid"], signal.SIGTERM)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        log_path = os.path.join(cache_dir(), "standby.log")  # Ray's start-up noise, what a failed start said
        log = open(log_path, "ab" if os.path.exists(log_path) and os.path.getsize(log_path) < LOG_MAX else "wb")
        with log:
            proc = subprocess.Popen([sys.executable, "-m", "tuner.cli.standby", str(cluster["mark"])],
                                    env={**env, WARM_ENV: str(cluster["mark"])}, cwd=root,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        write_standby({"pid": proc.pid, "ready": False, "mark": cluster["mark"], "fingerprint": mine})
