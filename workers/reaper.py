"""A watchdog for an embedded Ray cluster: when the driver dies, even by SIGKILL, kill what it started.

Ray's raylet and workers share the driver's fate, but some of its helper processes (the dashboard and
runtime-env agents) outlive it. The driver starts this watchdog before Ray and puts the token in its own
environment, so every Ray process inherits it: found here even if the driver dies before the first poll.
This process, in its own session so a terminal's Ctrl-C leaves it alone,
remembers the driver's descendants while the driver lives and kills the ones still there once it is gone.

It learns of the driver's death at once (a pidfd, Linux 5.3+; else a look every POLL_S): a trial that goes on
after its driver died may finish and be kept, or be killed by Ray's own teardown of its worker, but every moment
it goes on is a moment the trial's result is up to chance (tests/tuner_tests/test_faults.py kills drivers at
random moments).

    python -m workers.reaper DRIVER_PID TOKEN

The driver's side is here too: `start_reaper` (before ray.init) and `ctrl_c_kills_what_started` (a Ctrl-C while
ray.init starts the cluster kills what carries the token so far). The token itself is kept by workers.cluster.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import time
from typing import Collection, Iterator

POLL_S = 0.5
#: after the driver is gone: sweep until no marked process was seen for SETTLE_QUIET_S (at most SETTLE_MAX_S)
SETTLE_QUIET_S = 3.0
SETTLE_MAX_S = 30.0
#: environment variable the driver gives every trial; its value identifies the driver
TOKEN_ENV = "TUNER_DRIVER_TOKEN"


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of a live process, None if gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if fields[0] == "Z":
        return None
    return int(fields[1]), int(fields[19])


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, start time) of every live process (one pass over /proc)."""
    return {int(e): info for e in os.listdir("/proc") if e.isdigit() and (info := _stat(int(e))) is not None}


def descendants(*roots: int) -> dict[int, int]:
    """pid -> start time of every live descendant of the `roots` (one pass over /proc)."""
    table = _processes()
    found: dict[int, int] = {}
    frontier = set(roots)
    while frontier:
        frontier = {pid for pid, (parent, _) in table.items() if parent in frontier and pid not in found}
        found.update({pid: table[pid][1] for pid in frontier})
    return found


def children(parent: int) -> list[int]:
    """The live child processes of `parent` (one pass over /proc)."""
    return [pid for pid, (ppid, _) in _processes().items() if ppid == parent]


def still_alive(known: dict[int, int]) -> dict[int, int]:
    """Those of `known` (pid -> start time) still alive as the same process."""
    return {pid: started for pid, started in known.items() if (info := _stat(pid)) is not None and info[1] == started}


def reap(known: dict[int, int]) -> None:
    """SIGKILL each of `known` (pid -> start time) still alive as the same process, the oldest first: a parent
    starts before its children, so a Ray worker goes before the trial it runs and never sees the trial die (it
    would record a failure the trial did not have; Ray's own teardown of a worker kills its children first)."""
    me = os.getpid()
    for pid, started in sorted(known.items(), key=lambda item: (item[1], item[0])):
        info = _stat(pid)
        if pid != me and info is not None and info[1] == started:  # the same process, not a reused pid
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def alive(pid: int) -> bool:
    """Whether a process `pid` exists (one of another user's too, which cannot be signalled): the one liveness
    test of tuner and workers (a pid file's owner, a standby, a worker's scratch folder)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, as someone else's
        return True
    return True


def carries(pid: int, needle: bytes) -> bool:
    """Whether process `pid` has the environment entry `needle` (b"NAME=value"): how a process is told to be one
    of ours, not a stranger that got a reused pid (a dead driver's trial by its run folder, a driver's by its
    token)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return needle in handle.read().split(b"\0")
    except OSError:
        return False


def kill_group(pid: int) -> None:
    """SIGKILL the process group `pid` leads (a trial: workers.process starts each in its own), if it is there."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def last_pid() -> int | None:
    """The pid the kernel handed out last in this pid namespace (None where it cannot be read)."""
    try:
        with open("/proc/sys/kernel/ns_last_pid", encoding="ascii") as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return None


def marked(token: str, env: str = TOKEN_ENV, after: int | None = None) -> dict[int, int]:
    """Processes whose environment carries the driver's token: its trials and whatever they spawned,
    even those started since the last poll or already re-parented to init.

    `after`: last_pid() read before the marked processes were started; pids are handed out in increasing order
    until they wrap around, so only those above it are read (a trial's end reads a few /proc files, not one per
    process of the machine), unless they wrapped since."""
    needle = f"{env}={token}".encode()
    found = {}
    entries = [e for e in os.listdir("/proc") if e.isdigit()]
    if after is not None:
        now = last_pid()
        if now is not None and now >= after:
            entries = [e for e in entries if int(e) > after]
    for entry in entries:
        if not carries(int(entry), needle):
            continue
        info = _stat(int(entry))
        if info is not None:
            found[int(entry)] = info[1]
    return found


def _death_watch(pid: int) -> int | None:
    """A pidfd of `pid` (readable once the process has ended), None where there is none: then it is polled."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # no pidfd_open (not Linux, or before 5.3), or the driver is gone already
        return None


def watch(driver: int, token: str) -> None:
    known: dict[int, int] = {}
    pidfd = _death_watch(driver)
    while _stat(driver) is not None:
        known.update(descendants(driver))
        if pidfd is None:
            time.sleep(POLL_S)
        elif select.select([pidfd], [], [], POLL_S)[0]:
            break  # the driver ended: no new descendants to learn, its trials must go now
    reap(known)
    # Processes started in the driver's last moments (an agent the raylet was spawning) may appear after it
    # died: keep sweeping for the token until none is seen for a while.
    quiet_since = time.monotonic()
    deadline = quiet_since + SETTLE_MAX_S
    while time.monotonic() < deadline and time.monotonic() - quiet_since < SETTLE_QUIET_S:
        found = marked(token)
        found.pop(os.getpid(), None)  # this process carries the token too
        if found:
            reap(found)
            quiet_since = time.monotonic()
        time.sleep(POLL_S / 5)


#: after a Ctrl-C killed a half-started embedded cluster, how long ray.init may take to give up
_INIT_ABORT_S = 5.0
#: how often the Ctrl-C watcher looks whether ray.init is done: the end of ray.init waits for its last look
#: (a 0.2 s look cost every cold sweep 0.1 s on average)
_CTRL_C_POLL_S = 0.02


@contextlib.contextmanager
def ctrl_c_kills_what_started(token: str, spare: Collection[int] = ()) -> Iterator[None]:
    """A Ctrl-C while ray.init starts an embedded cluster (seconds, many on a loaded machine). ray.init blocks in
    C++, where Python signal handlers do not run, so SIGINT is blocked here and taken by a thread with sigwait:
    it kills the Ray processes started so far (they carry the token; the `spare` pids, this driver's reapers, too)
    and the KeyboardInterrupt follows once ray.init gives up (or the process exits 130 if it does not within
    _INIT_ABORT_S). Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    interrupted = threading.Event()
    done = threading.Event()

    def wait_for_ctrl_c() -> None:
        while not done.is_set():
            if signal.sigtimedwait({signal.SIGINT}, _CTRL_C_POLL_S) is None:
                continue
            interrupted.set()
            reap({pid: t for pid, t in marked(token).items() if pid not in spare})
            if not done.wait(_INIT_ABORT_S):
                os._exit(130)
            return

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    watcher = threading.Thread(target=wait_for_ctrl_c, name="tuner-ctrl-c", daemon=True)
    watcher.start()
    try:
        yield
    except BaseException:
        if not interrupted.is_set():
            raise
    finally:
        done.set()
        watcher.join()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if interrupted.is_set():
        raise KeyboardInterrupt


def start_reaper(token: str) -> int:
    """workers.reaper cleans up after this process if it dies without shutting Ray down (SIGKILL). Started before
    ray.init, with the token put in this process' environment, so every Ray process (GCS, raylet, agents,
    workers) inherits the token and is found by the reaper even if the driver dies in its first milliseconds.
    Returns the reaper's pid."""
    import subprocess

    os.environ[TOKEN_ENV] = token

    home = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # where `workers` can be imported from
    path = os.pathsep.join([home, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    reaper = subprocess.Popen([sys.executable, "-m", "workers.reaper", str(os.getpid()), token],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True, env={**os.environ, "PYTHONPATH": path})
    return reaper.pid


if __name__ == "__main__":
    watch(int(sys.argv[1]), sys.argv[2])
