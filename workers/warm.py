"""A warm local cluster: started by the first `tune` that asks for it (setting `keep_cluster_s` > 0), joined by
the next ones, stopped after `keep_cluster_s` seconds without a sweep, or by `tune cluster down`.

A small sweep otherwise pays Ray's start and stop every time (about 6 s of a 9 s two-trial sweep on 2 cores,
docs/benchmarks.md). The cluster is a `ray start --head` bound to loopback, in its own session; every process
of it carries WARM_ENV in its environment, which is how `down` finds all of them (the agents leave the
raylet's process tree). Its state is one JSON file per user (`$XDG_CACHE_HOME/tuner/warm-cluster.json`); each
driver using it holds a file named by its pid in `users/`, so the idle watchdog (`python -m workers.warm
watch`) never stops a cluster under a running sweep, and a driver killed without a goodbye counts as gone.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from workers.files import cache_dir, read_json_file, write_json_file
from workers.reaper import alive

WARM_ENV = "TUNER_WARM_CLUSTER"
#: how often the watchdog looks, and how long `ray start` may take
WATCH_S = 1.0
START_TIMEOUT_S = 120.0


def _state_path() -> str:
    return os.path.join(cache_dir(), "warm-cluster.json")


def _users_dir() -> str:
    return os.path.join(cache_dir(), "warm-users")


def read_state() -> dict[str, Any] | None:
    data = read_json_file(_state_path())
    return data if data is not None and isinstance(data.get("address"), str) else None


def _write_state(data: dict[str, Any]) -> None:
    write_json_file(_state_path(), data)


def _reachable(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return True
    except (OSError, ValueError):
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def live_users() -> list[int]:
    """Pids of the drivers using the warm cluster now (files of dead ones are removed)."""
    pids = []
    try:
        names = os.listdir(_users_dir())
    except OSError:
        return []
    for name in names:
        if not name.isdigit():
            continue
        if alive(int(name)):
            pids.append(int(name))
        else:
            try:
                os.unlink(os.path.join(_users_dir(), name))
            except OSError:
                pass
    return pids


def acquire(keep_s: float) -> str:
    """The warm cluster's address, starting it (and its watchdog) when none is up; this process is a user of it
    until `release()`."""
    from filelock import FileLock

    os.makedirs(_users_dir(), exist_ok=True)
    with FileLock(os.path.join(cache_dir(), "warm-cluster.lock"), timeout=START_TIMEOUT_S):
        state = read_state()
        if state is None or state.get("python") != sys.executable or not _reachable(state["address"]):
            if state is not None:
                stop(state)  # half alive (the GCS gone, agents left) or another Python's: start afresh
            state = _start(keep_s)
        state["keep_s"] = keep_s  # the latest sweep's setting decides when the idle cluster stops
        state["last_used"] = time.time()
        _write_state(state)
        open(os.path.join(_users_dir(), str(os.getpid())), "w").close()
    return str(state["address"])


def release() -> None:
    """This process no longer uses the warm cluster; the idle clock starts when nobody does.

    Under the lock, and the clock set before this process stops counting as a user: otherwise the watchdog,
    seeing no user and the clock of the sweep's start, could stop the cluster between the two steps, and this
    write would bring back the state file of a cluster that is gone."""
    from filelock import FileLock, Timeout

    try:
        with FileLock(os.path.join(cache_dir(), "warm-cluster.lock"), timeout=START_TIMEOUT_S):
            state = read_state()
            if state is not None:
                state["last_used"] = time.time()
                _write_state(state)
            _leave()
    except (Timeout, OSError):
        _leave()  # the clock stays as the last user set it: the cluster may stop sooner, never later


def _leave() -> None:
    try:
        os.unlink(os.path.join(_users_dir(), str(os.getpid())))
    except OSError:
        pass


#: `python -c` program: workers.embedded.ray_start with the remaining arguments (the first: where workers is)
_RAY_START = ("import sys; sys.path.append(sys.argv.pop(1)); from workers.embedded import ray_start; "
              "sys.exit(ray_start(sys.argv[1:]))")


def _start(keep_s: float) -> dict[str, Any]:
    port = _free_port()
    mark = f"{os.getpid()}-{time.time_ns()}"
    # `ray start` run by workers.embedded.ray_start: the same command, without the dashboard head Ray would start
    # anyway and with a quicker look for the raylet (about 2 s of a 4 s start on 2 cores)
    home = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # where `workers` can be imported from
    command = [sys.executable, "-c", _RAY_START, home, "--head", f"--port={port}",
               "--node-ip-address=127.0.0.1", "--include-dashboard=false", "--disable-usage-stats"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
    # loopback only (see workers.cluster._bind_loopback), and the mark every process of the cluster inherits
    env.update({"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", WARM_ENV: mark, "RAY_USAGE_STATS_ENABLED": "0"})
    done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=START_TIMEOUT_S, start_new_session=True)
    if done.returncode != 0:
        stop({"mark": mark})
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"could not start a warm local cluster (`ray start` exited {done.returncode}: "
                           f"{tail[0]}); set keep_cluster_s: 0 to start one per sweep")
    state = {"address": f"127.0.0.1:{port}", "mark": mark, "python": sys.executable, "started": time.time(),
             "keep_s": keep_s, "last_used": time.time()}
    _write_state(state)
    subprocess.Popen([sys.executable, "-m", "workers.warm", "watch", mark], env={**os.environ, WARM_ENV: ""},
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return state


def stop(state: dict[str, Any] | None = None) -> int:
    """Stop the warm cluster (every process carrying its mark); returns how many processes were stopped."""
    from workers.reaper import descendants, marked, reap, still_alive

    state = state if state is not None else read_state()
    if state is None or not state.get("mark"):
        return 0
    found = marked(str(state["mark"]), WARM_ENV)
    # Ray's agents overwrite their environment with their process title (setproctitle), so the mark no longer
    # shows there: they are found as the raylet's children, before the raylet goes and they are re-parented
    found.update(descendants(*found))
    found.pop(os.getpid(), None)
    for pid in found:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and still_alive(found):
        time.sleep(0.1)
    reap(found)  # what SIGTERM left (the same processes only, never a reused pid)
    late = {pid: t for pid, t in marked(str(state["mark"]), WARM_ENV).items() if pid != os.getpid()}
    reap(late)
    deadline = time.monotonic() + 5.0  # a killed process takes a moment to be gone: `down` returns after that
    while time.monotonic() < deadline and still_alive({**found, **late}):
        time.sleep(0.05)
    # the state file goes last: a stop cut short (the watchdog killed, `down` interrupted) leaves the mark that
    # lets the next `tune cluster down` find what is left
    current = read_state()
    if current is not None and current.get("mark") == state.get("mark"):
        try:
            os.unlink(_state_path())
        except OSError:
            pass
    return len(found)


def watch(mark: str) -> None:
    """The idle watchdog: stop the cluster once no driver has used it for its `keep_s`; leave when it is gone."""
    while True:
        time.sleep(WATCH_S)
        state = read_state()
        if state is None or state.get("mark") != mark:
            return  # stopped (`tune cluster down`) or replaced
        if live_users() or time.time() - float(state.get("last_used") or 0) < float(state.get("keep_s") or 0):
            continue
        from filelock import FileLock

        with FileLock(os.path.join(cache_dir(), "warm-cluster.lock"), timeout=START_TIMEOUT_S):
            state = read_state()  # again, under the lock: a driver may have just joined
            if state is None or state.get("mark") != mark:
                return
            if not live_users() and time.time() - float(state.get("last_used") or 0) >= float(state.get("keep_s") or 0):
                stop(state)
                return


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "watch":
        watch(sys.argv[2])
