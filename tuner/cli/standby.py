"""The standby driver: `python -m tuner.cli.standby MARK`, started by tuner.cli.handoff after a command while the
warm local cluster MARK is up. It imports what a sweep needs, joins the cluster and starts its worker processes
(workers.cluster.Cluster.preconnect_warm), then waits on a Unix socket for one `tune SCRIPT ...` command, runs it as that
command's own process would (tuner.cli.main, in the caller's directory, environment and standard streams) and
exits; the command's end starts the next standby.

It leaves when the warm cluster does (`tune cluster down` and the idle watchdog stop every process carrying the
cluster's mark, this one included) or is replaced by another, and is never counted as a user of the cluster
while it waits, so the idle clock runs as if it were not there.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys
import threading
import time
from typing import Any

from tuner.cli import handoff
from tuner.cli.main import main

#: how often a waiting standby checks that its cluster is still the warm one
CHECK_S = 1.0


def serve(mark: str) -> int:
    from workers import warm

    cluster = warm.read_state()
    if cluster is None or cluster.get("mark") != mark:
        return 0
    # what a sweep imports, before anyone waits for it
    import tuner.cli.run  # noqa: F401
    import tuner.sweep.loop  # noqa: F401
    from workers import cluster as ray_cluster

    ray_cluster.this_process().preconnect_warm(str(cluster["address"]))
    path = handoff.socket_path(os.getpid())
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        os.unlink(path)
    except OSError:
        pass
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(4)
    listener.settimeout(CHECK_S)
    if not _announce(path):
        listener.close()
        os.unlink(path)
        return 0
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                current = warm.read_state()
                if current is None or current.get("mark") != mark or not _still_me():
                    return 0
                continue
            taken = _take(conn)
            if taken is not None:
                break
    finally:
        listener.close()
        try:
            os.unlink(path)
        except OSError:
            pass
    conn, request, fds = taken
    return _run(conn, request, fds)


def _announce(path: str) -> bool:
    """Mark the standby file ready (it names this process: the spawner wrote it); False when another took over."""
    with handoff.standby_lock():
        state = handoff.read_standby()
        if state is None or state.get("pid") != os.getpid():
            return False
        handoff.write_standby({**state, "ready": True, "socket": path, "since": time.time()})
    return True


def _still_me() -> bool:
    state = handoff.read_standby()
    return state is not None and state.get("pid") == os.getpid()


def _take(conn: socket.socket) -> tuple[socket.socket, dict[str, Any], list[int]] | None:
    """Read one request; a peer of another user, or a request that breaks off, is dropped."""
    try:
        uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[1]
        if uid != os.getuid():
            conn.close()
            return None
        conn.settimeout(handoff.ACK_TIMEOUT_S)
        _, fds, _, _ = socket.recv_fds(conn, 1, 3)
        request = json.loads(conn.makefile("rb").readline())
        if len(fds) != 3 or not isinstance(request.get("argv"), list):
            raise ValueError("incomplete request")
        with handoff.standby_lock():
            if _still_me():
                os.unlink(handoff.state_path())  # taken: the next command finds no standby, and this one's end
                                                 # starts a fresh one
        conn.sendall(json.dumps({"ok": True, "pid": os.getpid()}).encode() + b"\n")
        conn.settimeout(None)
    except (OSError, ValueError):
        conn.close()
        return None
    return conn, request, fds


def _run(conn: socket.socket, request: dict[str, Any], fds: list[int]) -> int:
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for number, fd in enumerate(fds):
        os.dup2(fd, number)
        os.close(fd)
    sys.stdin = open(0, encoding="utf-8", errors="replace", closefd=False)
    sys.stdout = open(1, "w", buffering=1 if os.isatty(1) else -1, encoding="utf-8", closefd=False)
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.argv = ["tune", *request["argv"]]
    handoff.HANDED_OVER.append(True)
    done = threading.Event()

    def watch_caller() -> None:
        # the caller sends nothing more: end of file means it died (SIGKILL, its terminal closed) before the end
        try:
            conn.recv(1)
        except OSError:
            pass
        if not done.is_set():
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch_caller, name="tuner-standby-caller", daemon=True).start()
    try:
        rc = main(request["argv"])
    except SystemExit as exc:  # argparse's --help and usage errors
        rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        rc = 130
    finally:
        done.set()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError:
                pass
    try:
        conn.sendall(json.dumps({"rc": rc}).encode() + b"\n")
    except OSError:
        pass
    conn.close()
    return rc


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1]) if len(sys.argv) == 2 else 2)
