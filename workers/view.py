"""A run's view of the project: the script sees the project folder as it is, and whatever it writes is its run's.

Every run (a sweep's trial, `training_run`, `tune train.py`) works in a copy-on-write view of the project: reads
see the project (data, configs, modules, outputs of earlier runs), and every write (a new file, a rewrite, an
append, a file in an existing folder, a rename, a delete) lands in the run folder and never in the project, with
any number of runs at once. How, per platform (`ViewMode`):

- `overlay`: Linux overlayfs in a private mount namespace of the script, as root. The upper layer is the run
  folder itself, so what the run writes is there at once (a crash keeps it; nothing is copied afterwards); the
  project is the lower layer, whatever its size; the view is mounted over the project's own path, so relative and
  absolute project paths both see it. The runs folder, when it lies inside the project, is bound back over its
  place in the view (the script reaches its own and other runs as they really are), and mounts under the project
  (a dataset mounted at data/) are bound back read-only. The namespace is entered from a short-lived thread of the
  runner (unshare(CLONE_NEWNS) needs no single-threaded process), and the script is started from that thread by
  the usual vfork path: about 1.5 ms a trial, not a fork of the (large) runner.
- `overlay-userns`: the same for a user who is not root, in a user namespace of the script's own that maps only
  the user's uid and gid (kernel 5.11+; overlay with `userxattr`). A process with threads cannot enter a user
  namespace, and a fork of a large runner copies its page tables (15-40 ms for a Ray worker), so the runner's
  scripts are forked by a small fork server of its own (`_ForkServer`: this Python with -S, about 10 MB), whose
  child enters the namespaces and execs the script. A project file owned by another user cannot be copied up
  there: writing it fails (EOVERFLOW), never reaching the project.
- `mirror`: everywhere else (another OS, a container without CAP_SYS_ADMIN, a runs folder on NFS, where overlayfs
  cannot keep its upper layer, or the `project_view: mirror` setting). The script runs in the run folder, where
  the project's folders are real folders, its files copies (reflinks where the filesystem can; at most
  `COPY_MAX_BYTES` each and `COPY_BUDGET_BYTES` a run, so the cost does not grow with the project's bytes) and the
  rest symlinks. A write into a linked (large) file reaches the project: it is detected after the run (the file's
  stat changed) and reported (`wrote_project`), not prevented. After the run, the copies and links the run left
  as they were and the mirrored folders left empty are removed, so the run folder holds only what the run made.

Which mode works is found once per process for each (project filesystem, runs filesystem, user) by a real trial
mount in a throwaway namespace (`ViewProbes`): whether a kernel allows it is known only by trying.

After the run the run folder is made plain: overlay's whiteouts (the project files the run deleted; character
devices 0:0) and its xattrs are removed, the deletions recorded (`ViewReport.deleted`), and Python's bytecode of
project modules (`__pycache__/*.pyc`, written on import when the project has none or stale ones) dropped: it is
the interpreter's cache, not the run's output. (Not PYTHONPYCACHEPREFIX: with it every module, the installed
packages' too, is compiled again into the prefix on first use, seconds for torch; not PYTHONDONTWRITEBYTECODE:
both change the environment the script and its children see.)
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import queue
import stat
import subprocess
import sys
import tempfile
import threading
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Iterator, Sequence

from workers.reaper import alive


class ViewMode(str, Enum):
    """How a run sees the project (see the module's docstring)."""

    OVERLAY = "overlay"
    OVERLAY_USERNS = "overlay-userns"
    MIRROR = "mirror"

    @property
    def copy_on_write(self) -> bool:
        """Every write lands in the run folder (else: writes into large linked project files are only detected)."""
        return self is not ViewMode.MIRROR


#: the `project_view` setting: the best mode that works here, a copy-on-write one or none (the run fails), mirror
VIEW_SETTINGS = ("auto", "overlay", "mirror")
#: the project's (and its runs') hidden work folders of overlay mounts, in the folder holding the run
WORK_PREFIX = ".tuner-view-"
#: mirror: a project file at most this large is copied into the run (larger ones are linked)...
COPY_MAX_BYTES = 1 << 20
#: ... and at most this many bytes are copied for one run (reflinks cost nothing and are not counted)
COPY_BUDGET_BYTES = 64 << 20
#: mirror: at most this many entries (folders, copies, links) are made in a run folder; a folder past it is linked
MIRROR_MAX_ENTRIES = 2000
#: mirror: folders linked whole, never mirrored (environments: thousands of files nobody writes), besides any
#: folder holding a pyvenv.cfg or conda-meta (a virtualenv or conda environment of whatever name)
LINKED_DIRS = frozenset({"venv", "node_modules", "site-packages"})
#: at most this many deleted paths are listed in run.json (the count is kept)
MAX_LISTED = 1000
#: the run's metadata folder, which a view never treats as the project's: tuner.store.layout.META_DIR, copied
#: (workers never imports tuner; tests/tuner_tests/test_layout.py checks that the two agree)
META_DIR = "tuner.d"

_CLONE_NEWNS, _CLONE_NEWUSER = 0x00020000, 0x10000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REMOUNT = 1, 2, 4, 8, 32
_MS_NOATIME, _MS_NODIRATIME, _MS_BIND, _MS_REC, _MS_PRIVATE, _MS_RELATIME = 1024, 2048, 4096, 16384, 1 << 18, 1 << 21
_ST_RELATIME = 4096
_FICLONE = 0x40049409
#: the xattrs overlayfs keeps on its upper layer: trusted.* as root, user.* in a user namespace (userxattr)
_OVERLAY_XATTRS = ("trusted.overlay.", "user.overlay.")
_OPAQUE = ("trusted.overlay.opaque", "user.overlay.opaque")
#: option sets tried in order (the first the kernel takes is kept): renames of project folders fail with EXDEV
#: (programs then copy, as across filesystems) instead of leaving a redirect the run folder could not show, and
#: metadata-only copy-up is off, so a copied-up file in the run folder holds its data
_ROOT_OPTIONS = ("redirect_dir=off,metacopy=off,index=off", "")
_USERNS_OPTIONS = ("userxattr,metacopy=off,index=off", "userxattr")


class ViewUnavailable(OSError):
    """The view could not be set up for this run (the reason is the message)."""


@dataclass(frozen=True)
class Probe:
    """What a process found works for a (project filesystem, runs filesystem, user)."""

    mode: ViewMode
    reason: str | None = None   # why not a copy-on-write mode (mirror)
    options: str = ""           # the overlay options the kernel took


@dataclass
class ViewReport:
    """What run.json records of a run's view (`view`): its mode, what the run deleted of the project (a folder
    ending in / was deleted and made anew: its files in the run are all it has), the project files a mirrored run
    wrote through their links, and why a weaker mode was used."""

    mode: ViewMode
    reason: str | None = None
    deleted: list[str] = field(default_factory=list)
    deleted_count: int = 0
    wrote_project: list[str] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)  # mirror: folders linked whole (past MIRROR_MAX_ENTRIES)

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"mode": self.mode.value}
        if self.reason:
            record["reason"] = self.reason
        if self.deleted_count:
            record["deleted"] = self.deleted[:MAX_LISTED]
            if self.deleted_count > MAX_LISTED:
                record["deleted_count"] = self.deleted_count
        if self.wrote_project:
            record["wrote_project"] = self.wrote_project
        if self.linked:
            record["linked"] = self.linked
        return record

    def notes(self) -> list[str]:
        """Lines for the user: what this view could not keep from the project."""
        if not self.wrote_project:
            return []
        shown = ", ".join(self.wrote_project[:5]) + (" ..." if len(self.wrote_project) > 5 else "")
        return [f"this run wrote into the project's own file(s) {shown}: the project view is 'mirror' here "
                f"({self.reason}), where large project files are linked, not copied"]


# --- the kernel's calls -------------------------------------------------------------------------------------------

class _Kernel:
    """unshare, mount and prctl through ctypes (os.unshare is Python 3.12+; os has no mount)."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._unshare = libc.unshare
        self._unshare.argtypes = [ctypes.c_int]
        self._mount = libc.mount
        self._mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]

    @staticmethod
    def _check(result: int, what: str) -> None:
        if result != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"{what}: {os.strerror(code)}")

    def unshare(self, flags: int, what: str) -> None:
        self._check(self._unshare(flags), what)

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None,
              what: str) -> None:
        def raw(text: str | None) -> bytes | None:
            return None if text is None else os.fsencode(text)

        self._check(self._mount(raw(source), raw(target), raw(fstype), flags, raw(data)), what)


@dataclass(frozen=True)
class _Overlay:
    """One overlay mount: `lowers` seen through `target`, writes into `upper`; then the real folders `binds`
    bound back over their places in it (writable) and `read_only` ones (the project's own mounts) read-only."""

    lowers: tuple[str, ...]
    upper: str
    work: str
    target: str
    options: str
    binds: tuple[str, ...] = ()
    read_only: tuple[str, ...] = ()

    def data(self) -> str:
        extra = f",{self.options}" if self.options else ""
        return f"lowerdir={':'.join(self.lowers)},upperdir={self.upper},workdir={self.work}{extra}"


def _enter(kernel: _Kernel, mounts: Sequence[_Overlay], ids: tuple[int, int] | None) -> None:
    """In the thread or child that starts the script: a private mount namespace (in a user namespace mapping only
    the user's ids, when `ids` is given) with the overlays mounted. Nothing of it is seen outside."""
    if ids is not None:
        kernel.unshare(_CLONE_NEWUSER | _CLONE_NEWNS, "creating a user namespace")
        for name, text in (("setgroups", "deny"), ("uid_map", f"{ids[0]} {ids[0]} 1"),
                           ("gid_map", f"{ids[1]} {ids[1]} 1")):
            with open(f"/proc/self/{name}", "w") as handle:
                handle.write(text)
    else:
        kernel.unshare(_CLONE_NEWNS, "creating a mount namespace")
    kernel.mount(None, "/", None, _MS_REC | _MS_PRIVATE, None, "making the mounts private")
    for overlay in mounts:
        # the real folders are opened before the overlay covers their paths (looking a run folder up through a
        # view whose upper layer it is gives ELOOP): they are bound back from these descriptors
        fds = [os.open(path, os.O_PATH | os.O_DIRECTORY) for path in overlay.binds + overlay.read_only]
        try:
            kernel.mount("overlay", overlay.target, "overlay", 0, overlay.data(), "mounting overlayfs")
            for path, fd in zip(overlay.binds + overlay.read_only, fds):
                kernel.mount(f"/proc/self/fd/{fd}", path, None, _MS_BIND | _MS_REC, None, f"binding {path}")
            for path in overlay.read_only:
                kept = os.statvfs(path).f_flag  # a user namespace may not clear the flags a mount has
                flags = kept & (_MS_NOSUID | _MS_NODEV | _MS_NOEXEC | _MS_NOATIME | _MS_NODIRATIME)
                flags |= _MS_RELATIME if kept & _ST_RELATIME else 0
                kernel.mount(None, path, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | flags, None,
                             f"making {path} read-only")
        finally:
            for fd in fds:
                os.close(fd)


#: starts a command: (argv, working directory or None, a step run in the child before exec or None) -> process
Spawn = Callable[[Sequence[str], "str | None", "Callable[[], None] | None"], "subprocess.Popen[Any]"]


def _start_entered(kernel: _Kernel, mounts: Sequence[_Overlay], userns: bool, command: Sequence[str], cwd: str,
                   spawn: Spawn, then: Callable[[], None] | None = None
                   ) -> tuple[subprocess.Popen[Any], Callable[[], None]]:
    """Start `command` in `cwd` inside a namespace with `mounts`; returns the process and what releases the
    namespace's holder once the process has ended. `then` runs inside, before the command (the probe's checks)."""
    if userns:
        return _start_forked(kernel, mounts, command, cwd, spawn, then), lambda: None
    return _start_from_thread(kernel, mounts, command, cwd, spawn, then)


def _start_from_thread(kernel: _Kernel, mounts: Sequence[_Overlay], command: Sequence[str], cwd: str, spawn: Spawn,
                       then: Callable[[], None] | None) -> tuple[subprocess.Popen[Any], Callable[[], None]]:
    """As root: a thread unshares its own mount namespace (CLONE_NEWNS implies only CLONE_FS, allowed with other
    threads), mounts, and starts the script, which inherits the namespace, by the usual vfork path. The thread
    waits until released: the script's parent-death signal is tied to the thread that started it."""
    result: queue.SimpleQueue[Any] = queue.SimpleQueue()
    release = threading.Event()

    def body() -> None:
        try:
            try:
                _enter(kernel, mounts, None)
                if then is not None:
                    then()
            except OSError as exc:  # the view failed (not the script: its own errors come back as they are)
                where = f" ({exc.filename})" if exc.filename else ""
                raise ViewUnavailable(exc.errno, f"{exc.strerror or exc}{where}") from None
            proc = spawn(command, cwd, None)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            result.put(exc)
            return
        result.put(proc)
        release.wait()

    thread = threading.Thread(target=body, name="tuner-view", daemon=True)
    thread.start()
    try:
        got = result.get()
    except KeyboardInterrupt:  # the thread goes on: its process, if it started one, is stopped before re-raising
        got = result.get()
        release.set()
        if isinstance(got, subprocess.Popen):
            with contextlib.suppress(OSError):
                os.killpg(got.pid, 9)
            got.wait()
        raise
    if isinstance(got, BaseException):
        thread.join()
        raise got

    def done() -> None:
        release.set()
        thread.join()

    return got, done


def _start_forked(kernel: _Kernel, mounts: Sequence[_Overlay], command: Sequence[str], cwd: str, spawn: Spawn,
                  then: Callable[[], None] | None) -> subprocess.Popen[Any]:
    """Not root: the child enters a user namespace before exec (a process with threads cannot), so it is forked
    with a pre-exec step. Its working directory is changed there, after the mounts (Popen's cwd= comes first)."""
    ids = (os.geteuid(), os.getegid())
    read, write = os.pipe()

    def before_exec() -> None:
        try:
            _enter(kernel, mounts, ids)
            if then is not None:
                then()
            os.chdir(cwd)
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            os.write(write, f"{exc.errno or 0} {exc.strerror or exc}{where}".encode()[:1000])
            raise

    try:
        return spawn(command, None, before_exec)
    except subprocess.SubprocessError as exc:
        os.close(write)
        write = -1
        code, _, text = os.read(read, 1000).decode("utf-8", "replace").partition(" ")
        if not text:
            raise ViewUnavailable(0, f"the pre-exec step failed: {exc}") from None
        raise ViewUnavailable(int(code) if code.isdigit() else 0, text) from None
    finally:
        os.close(read)
        if write >= 0:
            os.close(write)


class _ServedProcess:
    """A script started by the fork server: what the runner uses of a subprocess.Popen (pid, its output pipes,
    poll, wait, returncode). Its exit status comes from the server, which is its parent."""

    def __init__(self, server: _ForkServer, pid: int, args: Sequence[str], stdout: int, stderr: int) -> None:
        self.server, self.pid, self.args = server, pid, list(args)
        self.stdin = None
        self.stdout = open(stdout, "rb", buffering=0)
        self.stderr = open(stderr, "rb", buffering=0)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.server.exit_code(self.pid, 0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self.server.exit_code(self.pid, timeout)
            if self.returncode is None:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        return self.returncode

    def __del__(self) -> None:
        for stream in (self.stdout, self.stderr):
            with contextlib.suppress(Exception):
                stream.close()


#: the fork server's program (run by this Python with -S -I: nothing but the standard library and workers.view)
_SERVER = r"""
import socket, sys
sys.path.insert(0, sys.argv[1])
from workers.view import _serve
_serve(socket.socket(fileno=int(sys.argv[2])))
"""


def _send(sock: Any, data: dict[str, Any], fds: Sequence[int] = ()) -> None:
    import json
    import socket

    body = json.dumps(data).encode()
    header = len(body).to_bytes(8, "little")
    if fds:
        socket.send_fds(sock, [header + body[:1]], list(fds))
        sock.sendall(body[1:])
    else:
        sock.sendall(header + body)


def _receive(sock: Any, with_fds: bool = False) -> tuple[dict[str, Any] | None, list[int]]:
    import json
    import socket

    fds: list[int] = []
    if with_fds:
        head, fds, _flags, _addr = socket.recv_fds(sock, 9, 8)
    else:
        head = sock.recv(8)
    while 0 < len(head) < 8 + (1 if with_fds else 0):
        more = sock.recv(8 + (1 if with_fds else 0) - len(head))
        if not more:
            break
        head += more
    if len(head) < 8:
        return None, fds
    size = int.from_bytes(head[:8], "little")
    body = bytearray(head[8:])
    while len(body) < size:
        more = sock.recv(size - len(body))
        if not more:
            return None, fds
        body += more
    return json.loads(bytes(body)), fds


def _serve(sock: Any) -> None:
    """The fork server's loop (in its own small process): each request is forked into a child that enters its
    view (a user namespace of its own), takes the sent stdin/stdout/stderr, makes its own session, dies with
    the server, and execs the script; each child's exit status is sent back. It ends when the runner is gone."""
    import selectors
    import signal

    kernel = _Kernel()
    libc = ctypes.CDLL(None, use_errno=True)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ, "request")
    selector.register(wake_read, selectors.EVENT_READ, "exit")
    while True:
        for key, _ in selector.select():
            if key.data == "exit":
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_read, 4096)
                while True:
                    try:
                        pid, status = os.waitpid(-1, os.WNOHANG)
                    except ChildProcessError:
                        break
                    if pid == 0:
                        break
                    _send(sock, {"exit": pid, "code": os.waitstatus_to_exitcode(status)})
                continue
            request, fds = _receive(sock, with_fds=True)
            if request is None:
                return  # the runner is gone: its scripts go with this process (their death signal)
            _send(sock, {"id": request["id"], **_fork_one(kernel, libc, request, fds)})
            for fd in fds:
                os.close(fd)


def _fork_one(kernel: _Kernel, libc: Any, request: dict[str, Any], fds: list[int]) -> dict[str, Any]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: nothing here may return
        stage = "view"
        try:
            os.close(read)
            os.setsid()
            for target, fd in enumerate(fds[:3]):
                os.dup2(fd, target)
            mounts = [_Overlay(tuple(m["lowers"]), m["upper"], m["work"], m["target"], m["options"],
                               tuple(m["binds"]), tuple(m["read_only"])) for m in request["mounts"]]
            _enter(kernel, mounts, (int(request["ids"][0]), int(request["ids"][1])))
            os.chdir(request["cwd"])
            libc.prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL: dies with the server, which dies with the runner
            stage = "exec"
            os.execvpe(request["argv"][0], request["argv"], request["env"])
        except BaseException as exc:  # noqa: BLE001 - told to the runner through the pipe
            where = f" ({exc.filename})" if isinstance(exc, OSError) and exc.filename else ""
            code = exc.errno if isinstance(exc, OSError) and exc.errno else 0
            text = f"{exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}{where}"
            with contextlib.suppress(OSError):
                os.write(write, f"{stage} {code} {text}".encode()[:2000])
        os._exit(255)
    os.close(write)
    failure = b""
    while chunk := os.read(read, 2000):
        failure += chunk
    os.close(read)
    if not failure:
        return {"pid": pid}
    os.waitpid(pid, 0)
    stage, number, text = failure.decode("utf-8", "replace").split(" ", 2)
    return {"error": text, "errno": int(number), "stage": stage}


class _ForkServer:
    """A small process (this Python with -S, the standard library and workers.view: about 10 MB) that forks the
    scripts of user-namespace views for one runner. A process with threads cannot enter a user namespace, so
    without it each such script is a fork of the runner, whose page tables are copied: 15-40 ms for a Ray worker
    against about 1 ms for this. Started on first use; it ends when the runner's end of its socket closes."""

    def __init__(self) -> None:
        import socket

        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        home = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.proc = subprocess.Popen([sys.executable, "-S", "-I", "-c", _SERVER, home, str(theirs.fileno())],
                                     pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        theirs.close()
        self.sock = mine
        self.lock = threading.Lock()
        self.changed = threading.Condition()
        self.replies: dict[int, dict[str, Any]] = {}
        self.exits: dict[int, int] = {}
        self.count = 0
        self.alive = True
        threading.Thread(target=self._read, name="tuner-fork-server", daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                message, _ = _receive(self.sock)
            except OSError:
                message = None
            with self.changed:
                if message is None:
                    self.alive = False
                elif "exit" in message:
                    self.exits[int(message["exit"])] = int(message["code"])
                else:
                    self.replies[int(message["id"])] = message
                self.changed.notify_all()
            if message is None:
                return

    def start(self, command: Sequence[str], cwd: str, env: dict[str, str], mounts: Sequence[_Overlay]
              ) -> _ServedProcess:
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            with self.lock:
                self.count += 1
                ident = self.count
                _send(self.sock, {"id": ident, "argv": list(command), "cwd": cwd, "env": env,
                                  "ids": [os.geteuid(), os.getegid()],
                                  "mounts": [{"lowers": list(m.lowers), "upper": m.upper, "work": m.work,
                                              "target": m.target, "options": m.options, "binds": list(m.binds),
                                              "read_only": list(m.read_only)} for m in mounts]},
                      (null, out_write, err_write))
            with self.changed:
                while ident not in self.replies and self.alive:
                    self.changed.wait()
                reply = self.replies.pop(ident, None)
        except BaseException:
            for fd in (out_read, err_read):
                os.close(fd)
            raise
        finally:
            for fd in (null, out_write, err_write):
                os.close(fd)
        if reply is None or "error" in reply:
            os.close(out_read)
            os.close(err_read)
            if reply is None:
                raise ViewUnavailable(errno.EPIPE, "the fork server ended")
            if reply["stage"] == "view":
                raise ViewUnavailable(reply["errno"], reply["error"])
            raise OSError(reply["errno"], reply["error"])
        return _ServedProcess(self, int(reply["pid"]), command, out_read, err_read)

    def exit_code(self, pid: int, timeout: float | None) -> int | None:
        """The script's exit status once it has ended (a killed script's: minus the signal), else None after
        `timeout` seconds (None: wait as long as it takes)."""
        with self.changed:
            self.changed.wait_for(lambda: pid in self.exits or not self.alive, timeout)
            if pid in self.exits:
                return self.exits.pop(pid)
            return None if self.alive else -9


# --- which mode works here ----------------------------------------------------------------------------------------

def remove_tree(path: str) -> None:
    """Remove a folder and everything in it, overlay's work folders too (the kernel makes them with mode 000)."""
    try:
        entries = list(os.scandir(path))
    except PermissionError:
        try:
            os.chmod(path, 0o700)
            entries = list(os.scandir(path))
        except OSError:
            return
    except NotADirectoryError:
        with contextlib.suppress(OSError):
            os.unlink(path)
        return
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            remove_tree(entry.path)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
    with contextlib.suppress(OSError):
        os.rmdir(path)


class ViewProbes:
    """Which mode works for each (project filesystem, runs filesystem, user), found by a real trial in a throwaway
    namespace the first time a process needs it (a few ms; whether a kernel, a container's seccomp policy or a
    filesystem allows an overlay is known only by trying), and kept for the life of the process."""

    def __init__(self) -> None:
        self._found: dict[tuple[int, int, int], Probe] = {}
        self._swept: set[str] = set()
        self._kernel: _Kernel | None = None
        self._server: _ForkServer | None = None
        self._server_lock = threading.Lock()

    def kernel(self) -> _Kernel:
        if self._kernel is None:
            self._kernel = _Kernel()
        return self._kernel

    def fork_server(self) -> _ForkServer:
        """This process' fork server for user-namespace views, started on first use (again if it died)."""
        with self._server_lock:
            if self._server is None or not self._server.alive:
                self._server = _ForkServer()
            return self._server

    def probe(self, project: str, run_parent: str) -> Probe:
        """The mode for a project seen by runs made in `run_parent` (an existing folder)."""
        if not sys.platform.startswith("linux"):
            return Probe(ViewMode.MIRROR, f"no overlay filesystem on {sys.platform}")
        try:
            key = (os.stat(project).st_dev, os.stat(run_parent).st_dev, os.geteuid())
        except OSError as exc:
            return Probe(ViewMode.MIRROR, f"cannot look at {exc.filename}: {exc.strerror}")
        found = self._found.get(key)
        if found is None:
            found = self._found[key] = self._try(project, run_parent)
        return found

    def sweep_stale(self, folder: str) -> None:
        """Once per process and folder: remove the work folders of views whose runner died (killed with its worker)."""
        if folder in self._swept:
            return
        self._swept.add(folder)
        try:
            names = [n for n in os.listdir(folder) if n.startswith(WORK_PREFIX)]
        except OSError:
            return
        for name in names:  # .tuner-view-<pid>-<run> and .tuner-view-probe-<pid>-<random>
            rest = name[len(WORK_PREFIX):]
            pid = rest.removeprefix("probe-").split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and not alive(int(pid)):
                remove_tree(os.path.join(folder, name))

    def _try(self, project: str, run_parent: str) -> Probe:
        userns = os.geteuid() != 0
        mode = ViewMode.OVERLAY_USERNS if userns else ViewMode.OVERLAY
        bad = [path for path in (project, run_parent) if any(c in path for c in ",:\\\n")]
        if bad:
            return Probe(ViewMode.MIRROR, f"the path {bad[0]!r} holds a character overlayfs options cannot carry")
        try:
            scratch = tempfile.mkdtemp(prefix=f"{WORK_PREFIX}probe-{os.getpid()}-", dir=run_parent)
        except OSError as exc:
            return Probe(ViewMode.MIRROR, f"cannot write in {run_parent}: {exc.strerror}")
        reason = "overlayfs is not available"
        try:
            for options in (_USERNS_OPTIONS if userns else _ROOT_OPTIONS):
                problem = self._trial(scratch, project, userns, options)
                if problem is None:
                    return Probe(mode, None, options)
                reason = problem
                if "Invalid argument" not in problem:  # only an option this kernel does not know is worth a retry
                    break
        finally:
            remove_tree(scratch)
        hint = " (a container without CAP_SYS_ADMIN, or a kernel that allows no unprivileged mounts)" \
            if "not permitted" in reason or "denied" in reason else ""
        return Probe(ViewMode.MIRROR, f"overlayfs could not be used: {reason}{hint}")

    def _trial(self, scratch: str, project: str, userns: bool, options: str) -> str | None:
        """Mount two overlays as a run would (its upper layer on the runs' filesystem): a scratch lower to delete a
        file from (a whiteout must be possible) and the project as lower (it must be usable as one); write in both.
        None when every step did what it must, else what failed."""
        attempt = os.path.join(scratch, options.replace(",", "+") or "plain")
        parts = {name: os.path.join(attempt, name) for name in ("lower", "u1", "w1", "m1", "u2", "w2", "m2")}
        for path in parts.values():
            os.makedirs(path)
        with open(os.path.join(parts["lower"], "gone"), "w"):
            pass
        mounts = (_Overlay((parts["lower"],), parts["u1"], parts["w1"], parts["m1"], options),
                  _Overlay((project,), parts["u2"], parts["w2"], parts["m2"], options))

        def checks() -> None:
            with open(os.path.join(parts["m1"], "new"), "w"):
                pass
            os.unlink(os.path.join(parts["m1"], "gone"))
            os.listdir(parts["m2"])
            with open(os.path.join(parts["m2"], WORK_PREFIX + "probe"), "w"):
                pass

        true = "/bin/true" if os.path.exists("/bin/true") else sys.executable

        def spawn(command: Sequence[str], cwd: str | None, before: Callable[[], None] | None
                  ) -> subprocess.Popen[Any]:
            return subprocess.Popen(list(command), cwd=cwd, preexec_fn=before, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)

        try:
            proc, done = _start_entered(self.kernel(), mounts, userns,
                                        [true] if true != sys.executable else [true, "-S", "-c", ""],
                                        attempt, spawn, checks)
        except OSError as exc:
            return exc.strerror or str(exc)
        proc.wait()
        done()
        try:
            whiteout = os.lstat(os.path.join(parts["u1"], "gone"))
        except OSError:
            return "deleting a file left no whiteout in the upper layer"
        if not (stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0):
            return "deleting a file left no whiteout in the upper layer"
        if not os.path.isfile(os.path.join(parts["u1"], "new")) \
                or not os.path.isfile(os.path.join(parts["u2"], WORK_PREFIX + "probe")):
            return "a file written in the view did not land in the upper layer"
        return None


#: the process' cache of what works where (ViewProbes); the one module-level state of this module
_PROBES = ViewProbes()


def probe_view(project: str, run_parent: str, setting: str = "auto") -> Probe:
    """The mode runs of `project` made in the folder `run_parent` get here under the `project_view` setting."""
    if setting == ViewMode.MIRROR.value:
        return Probe(ViewMode.MIRROR, "the project_view setting is mirror")
    return _PROBES.probe(os.path.realpath(project), os.path.realpath(run_parent))


# --- one run's view ---------------------------------------------------------------------------------------------

def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip(os.sep) + os.sep)


def _mounts_under(folder: str) -> list[str]:
    """Mount points strictly inside `folder` (not nested in another one of them), from /proc/self/mountinfo."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as handle:
            points = [line.split(" ")[4] for line in handle if line.count(" ") >= 5]
    except OSError:
        return []

    def unescape(text: str) -> str:
        if "\\" not in text:
            return text
        out, index = [], 0
        while index < len(text):
            if text[index] == "\\" and text[index + 1:index + 4].isdigit():
                out.append(chr(int(text[index + 1:index + 4], 8)))
                index += 4
            else:
                out.append(text[index])
                index += 1
        return "".join(out)

    inside = sorted({p for p in map(unescape, points) if _inside(p, folder)})
    return [p for p in inside if not any(_inside(p, other) for other in inside if other != p)]


class ProjectView:
    """One run's view of the project: `start` starts the script inside it, `close` (after the script and what it
    left behind have ended) makes the run folder plain and says what to record."""

    def __init__(self, project: str, run_dir: str, runs_dir: str | None, cwd: str, setting: str = "auto") -> None:
        if setting not in VIEW_SETTINGS:
            setting = "auto"
        self.setting = setting
        self.project = os.path.realpath(project)
        self.run_dir = os.path.realpath(run_dir)
        self.runs_dir = os.path.realpath(runs_dir) if runs_dir else None
        self.cwd = os.path.realpath(cwd)
        self.parent = os.path.dirname(self.run_dir)
        self.report = ViewReport(ViewMode.MIRROR)
        self._release: Callable[[], None] = lambda: None
        self._work: str | None = None
        self._mirror: _Mirror | None = None

    def _choose(self) -> Probe:
        if self.setting == ViewMode.MIRROR.value:
            return Probe(ViewMode.MIRROR, "the project_view setting is mirror")
        if self.run_dir == self.project or _inside(self.project, self.run_dir) or self.parent == self.project:
            probe = Probe(ViewMode.MIRROR, "the run folder is the project folder or directly in it")
        else:
            probe = _PROBES.probe(self.project, self.parent)
        if probe.mode.copy_on_write:
            _PROBES.sweep_stale(self.parent)
        return probe

    def start(self, command: Sequence[str], spawn: Spawn, env: dict[str, str] | None = None) -> Any:
        """Start `command` (the script) in the view; `spawn` starts a process (see `Spawn`). With `env`, the
        process' whole environment, a script in a user namespace is started by the fork server (stdin closed,
        stdout and stderr piped, a session of its own, as `spawn` starts it), not by a fork of this process."""
        probe = self._choose()
        if probe.mode.copy_on_write:
            try:
                return self._start_overlay(probe, command, spawn, env)
            except ViewUnavailable as exc:
                self._drop_work()
                probe = Probe(ViewMode.MIRROR, f"overlayfs could not be used for this run: {exc.strerror}")
        if self.setting == "overlay":
            raise ViewUnavailable(errno.EOPNOTSUPP, f"the project view 'overlay' (setting project_view) is not "
                                                    f"available here: {probe.reason}; set it to auto or mirror")
        self.report = ViewReport(ViewMode.MIRROR, probe.reason)
        self._mirror = _Mirror(self.project, self.run_dir, self.runs_dir)
        self._mirror.build()
        moved = [self._mirror.moved(arg) for arg in command]
        return spawn(moved, self._mirror.moved(self.cwd), None)

    def _start_overlay(self, probe: Probe, command: Sequence[str], spawn: Spawn, env: dict[str, str] | None) -> Any:
        work = os.path.join(self.parent, f"{WORK_PREFIX}{os.getpid()}-{os.path.basename(self.run_dir)}")
        if os.path.lexists(work):  # an attempt killed with its worker in this same process id
            remove_tree(work)
        os.mkdir(work)
        self._work = work
        # (a remote node's runs folder, moved under the shipped project with the other paths, does not exist there)
        exposed = {d for d in (self.runs_dir, self.parent) if d and _inside(d, self.project) and os.path.isdir(d)}
        binds = tuple(sorted(d for d in exposed if not any(_inside(d, other) for other in exposed)))
        read_only = tuple(p for p in _mounts_under(self.project) if not any(p == b or _inside(p, b) for b in binds)
                          and not any(_inside(b, p) for b in binds))
        overlay = _Overlay((self.project,), self.run_dir, work, self.project, probe.options, binds, read_only)
        cwd = self.cwd if self.cwd == self.project or _inside(self.cwd, self.project) else self.project
        if probe.mode is ViewMode.OVERLAY_USERNS and env is not None:
            proc: Any = _PROBES.fork_server().start(command, cwd, env, (overlay,))
        else:
            proc, self._release = _start_entered(_PROBES.kernel(), (overlay,),
                                                 probe.mode is ViewMode.OVERLAY_USERNS, command, cwd, spawn)
        self.report = ViewReport(probe.mode)
        return proc

    def _drop_work(self) -> None:
        if self._work is not None:
            remove_tree(self._work)
            self._work = None

    def close(self) -> ViewReport:
        """After the run: the namespace let go, the run folder made plain (see the module's docstring)."""
        self._release()
        self._release = lambda: None
        if self._mirror is not None:
            self._mirror.finish(self.report)
            self._mirror = None
        elif self._work is not None:
            self._drop_work()
            _settle_upper(self.run_dir, self.project, self.report)
        return self.report


@contextlib.contextmanager
def scratch_view(project: str) -> Iterator[ProjectView]:
    """A view of the project whose writes are thrown away, for running the user's script before any run exists
    (finding its flags): what its top-level code writes (a log file, bytecode) never lands in the project."""
    folder = tempfile.mkdtemp(prefix="tuner-scratch-")
    os.mkdir(os.path.join(folder, "run"))
    view = ProjectView(project, os.path.join(folder, "run"), None, project)
    try:
        yield view
    finally:
        view.close()
        remove_tree(folder)


def tar_member_of_runs(info: Any) -> Any:
    """A tarfile filter for packing run folders (a remote run coming home, `tune pull`): what a run folder may
    hold that is not the run's is left out: a link pointing out of the packed folder (a mirror's link that a run
    killed with its worker left) means nothing elsewhere and would fail the whole unpack, and a device file (an
    overlay whiteout such a run left) is no file."""
    if info.ischr() or info.isblk() or info.isfifo():
        return None
    if info.issym() or info.islnk():
        target = os.path.normpath(os.path.join(os.path.dirname(info.name), info.linkname))
        if os.path.isabs(info.linkname) or target.startswith(".."):
            return None
    return info


def _strip_overlay_xattrs(path: str) -> bool:
    """Remove overlay's xattrs from a file of the run folder; True when it marked a folder opaque (made anew)."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return False
    opaque = False
    for name in names:
        if name.startswith(_OVERLAY_XATTRS):
            if name in _OPAQUE:
                with contextlib.suppress(OSError):
                    opaque = os.getxattr(path, name, follow_symlinks=False) == b"y"
            with contextlib.suppress(OSError):
                os.removexattr(path, name, follow_symlinks=False)
    return opaque


def _settle_upper(run_dir: str, project: str, report: ViewReport) -> None:
    """The run folder after an overlay: whiteouts removed and recorded as deletions, overlay's xattrs removed,
    bytecode and the empty folders overlay made only to hold a whiteout removed."""
    def visit(folder: str, rel: str) -> bool:  # True when the folder is empty afterwards
        empty = True
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return False
        for entry in entries:
            name_rel = f"{rel}{entry.name}"
            if not rel and entry.name == META_DIR:
                empty = False
                continue
            if entry.is_dir(follow_symlinks=False):
                opaque = _strip_overlay_xattrs(entry.path)
                now_empty = visit(entry.path, name_rel + "/")
                if entry.name == "__pycache__" and _drop_bytecode(entry.path):
                    continue
                if opaque:
                    report.deleted_count += 1
                    report.deleted.append(name_rel + "/")
                elif now_empty and os.path.isdir(os.path.join(project, name_rel)) \
                        and not os.path.islink(os.path.join(project, name_rel)):
                    with contextlib.suppress(OSError):
                        os.rmdir(entry.path)
                        continue
                empty = False
                continue
            if not entry.is_file(follow_symlinks=False) and not entry.is_symlink():
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    empty = False
                    continue
                if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
                    report.deleted_count += 1
                    if len(report.deleted) < MAX_LISTED:
                        report.deleted.append(name_rel)
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
                        continue
                empty = False
                continue
            if not entry.is_symlink():
                _strip_overlay_xattrs(entry.path)
            empty = False
        return empty

    visit(run_dir, "")
    report.deleted.sort()


def _drop_bytecode(folder: str) -> bool:
    """Remove the *.pyc of a __pycache__ folder; True when it is then removed too (nothing else was in it)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    for name in names:
        if name.endswith(".pyc"):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))
    try:
        os.rmdir(folder)
    except OSError:
        return False
    return True


# --- the mirror (no overlay here) -----------------------------------------------------------------------------

@dataclass
class _Made:
    """One thing the mirror put in the run folder, with what it looked like then."""

    kind: str                       # "copy", "link" (a project symlink recreated), "watched" (a large file linked)
    signature: tuple[int, ...] = ()  # copy: (ino, size, mtime_ns); watched: the project file's (ino, size, mtime, ctime)
    target: str = ""


class _Mirror:
    """The project mirrored into the run folder (see the module's docstring), and undone after the run."""

    def __init__(self, project: str, run_dir: str, runs_dir: str | None) -> None:
        self.project, self.run_dir = project, run_dir
        self.skip = {p for p in (runs_dir, run_dir) if p}
        self.made: dict[str, _Made] = {}
        self.folders: list[str] = []
        self.budget = COPY_BUDGET_BYTES
        self.reflink = True
        self.linked_whole: list[str] = []

    def moved(self, arg: str) -> str:
        """A path under the project, as the run sees it (its mirror); anything else unchanged."""
        if arg == self.project:
            return self.run_dir
        if _inside(arg, self.project) and not any(arg == s or _inside(arg, s) for s in self.skip):
            return self.run_dir + arg[len(self.project):]
        return arg

    def build(self) -> None:
        """Breadth first, so the project's top and shallow folders (where runs write: model files, checkpoints/,
        outputs/) are mirrored before deep trees; a folder whose entries would take the mirror past
        MIRROR_MAX_ENTRIES is linked whole (a dataset of 10^5 files costs one link, not 10^5 copies)."""
        pending: deque[tuple[str, str]] = deque([(self.project, "")])
        left = MIRROR_MAX_ENTRIES
        while pending:
            folder, rel = pending.popleft()
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            if rel and len(entries) > left:
                target = os.path.join(self.run_dir, rel.rstrip("/"))
                with contextlib.suppress(OSError):
                    os.rmdir(target)
                    os.symlink(folder, target)
                    self.folders.remove(rel.rstrip("/"))
                    self.made[rel.rstrip("/")] = _Made("link", target=folder)
                    self.linked_whole.append(rel.rstrip("/"))
                continue
            left -= len(entries)
            for entry in entries:
                self._entry(entry, rel, pending)

    def _entry(self, entry: os.DirEntry[str], rel: str, pending: deque[tuple[str, str]]) -> None:
        name, path = entry.name, entry.path
        if path in self.skip or any(_inside(s, path) for s in self.skip) or name == "__pycache__":
            return
        target = os.path.join(self.run_dir, rel, name)
        if not rel and (os.path.lexists(target) or (name.startswith(".") and entry.is_dir(follow_symlinks=False))):
            return  # the run's own names (tuner.d), hidden folders (.git, .venv)
        try:
            if entry.is_symlink():
                link = os.readlink(path)
                os.symlink(link, target)
                self.made[rel + name] = _Made("link", target=link)
            elif entry.is_dir(follow_symlinks=False):
                if name in LINKED_DIRS or os.path.exists(os.path.join(path, "pyvenv.cfg")) \
                        or os.path.isdir(os.path.join(path, "conda-meta")) \
                        or entry.stat(follow_symlinks=False).st_dev != os.stat(os.path.dirname(path)).st_dev:
                    os.symlink(path, target)
                    self.made[rel + name] = _Made("link", target=path)
                    return
                os.makedirs(target, exist_ok=True)
                self.folders.append(rel + name)
                pending.append((path, rel + name + "/"))
            elif entry.is_file(follow_symlinks=False):
                self._file(entry, target, rel + name)
        except OSError:
            return

    def _file(self, entry: os.DirEntry[str], target: str, rel: str) -> None:
        info = entry.stat(follow_symlinks=False)
        copied = self.reflink and self._copy(entry.path, target, info, reflink=True)
        if not copied and info.st_size <= COPY_MAX_BYTES and info.st_size <= self.budget:
            copied = self._copy(entry.path, target, info, reflink=False)
            if copied:
                self.budget -= info.st_size
        if copied:
            made = os.lstat(target)
            self.made[rel] = _Made("copy", (made.st_ino, made.st_size, made.st_mtime_ns))
            return
        os.symlink(entry.path, target)
        self.made[rel] = _Made("watched", (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns),
                               entry.path)

    def _copy(self, source: str, target: str, info: os.stat_result, reflink: bool) -> bool:
        try:
            src = os.open(source, os.O_RDONLY)
        except OSError:
            return False
        try:
            dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            os.close(src)
            return False
        ok = False
        try:
            if reflink:
                try:
                    fcntl.ioctl(dst, _FICLONE, src)
                except OSError:
                    self.reflink = False  # this filesystem cannot: plain copies from here on
                    return False
            else:
                left = info.st_size
                while left > 0:
                    done = os.copy_file_range(src, dst, left) if hasattr(os, "copy_file_range") \
                        else os.write(dst, os.read(src, min(left, 1 << 20)))
                    if done <= 0:
                        break
                    left -= done
            os.fchmod(dst, stat.S_IMODE(info.st_mode))
            os.utime(dst, ns=(info.st_atime_ns, info.st_mtime_ns))
            ok = True
            return True
        except OSError:
            return False
        finally:
            os.close(src)
            os.close(dst)
            if not ok:
                with contextlib.suppress(OSError):
                    os.unlink(target)

    def finish(self, report: ViewReport) -> None:
        """Remove what the run left as the mirror made it; record what it deleted, and the project files it
        changed through their links."""
        for rel, made in self.made.items():
            path = os.path.join(self.run_dir, rel)
            try:
                now = os.lstat(path)
            except OSError:
                report.deleted_count += 1
                if len(report.deleted) < MAX_LISTED:
                    report.deleted.append(rel)
                continue
            if made.kind == "copy":
                if stat.S_ISREG(now.st_mode) and (now.st_ino, now.st_size, now.st_mtime_ns) == made.signature:
                    os.unlink(path)
                continue
            if stat.S_ISLNK(now.st_mode) and os.readlink(path) == made.target:
                os.unlink(path)
            if made.kind == "watched":
                try:
                    real = os.stat(made.target)
                    changed = (real.st_ino, real.st_size, real.st_mtime_ns, real.st_ctime_ns) != made.signature
                except OSError:
                    changed = True
                if changed:
                    report.wrote_project.append(rel)
        for rel in reversed(self.folders):  # deepest first
            path = os.path.join(self.run_dir, rel)
            if not os.path.isdir(path) or os.path.islink(path):
                report.deleted_count += 1
                if len(report.deleted) < MAX_LISTED:
                    report.deleted.append(rel + "/")
                continue
            pycache = os.path.join(path, "__pycache__")
            if os.path.isdir(pycache):
                _drop_bytecode(pycache)
            with contextlib.suppress(OSError):
                os.rmdir(path)
        pycache = os.path.join(self.run_dir, "__pycache__")
        if os.path.isdir(pycache):
            _drop_bytecode(pycache)
        report.deleted.sort()
        report.wrote_project.sort()
        report.linked = sorted(self.linked_whole)
