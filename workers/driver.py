"""Run RunSpecs as Ray tasks: connect to (or start) a cluster, keep a bounded window in flight,
hand back each outcome the moment it arrives (`ray.wait`), cancel cleanly.

The only module that imports Ray. Knows nothing of sweeps or journals: it gets specs, returns outcomes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Hashable, Iterator, Sequence

import ray

from workers import embedded
from workers.files import atomic_write_text, is_disk_full, ship_excludes
from workers.process import KILLED, RunOutcome, RunSpec, ended_outcome, run_process
from workers.reaper import TOKEN_ENV, alive

#: Ray retries a task whose worker or node died (not a script failure) this many times
NODE_FAILURE_RETRIES = 3


class ClusterError(Exception):
    """The cluster cannot be reached or cannot run a trial of the requested size (a user error)."""


@dataclass(frozen=True)
class Resources:
    cpus: float = 1.0
    gpus: float = 0.0


@dataclass
class ClusterInfo:
    address: str | None
    started_here: bool
    total_cpus: float
    total_gpus: float
    max_node_cpus: float
    max_node_gpus: float
    #: joined the warm local cluster (workers.warm): leave it running at disconnect
    warm: bool = False
    #: the project folder shipped to the cluster (Ray's runtime_env working_dir), None when nothing was shipped
    shipped: str | None = None


@dataclass
class TaskResult:
    key: Hashable
    outcome: RunOutcome | None
    error: str | None = None  # the task itself failed (worker died past retries, cancelled ...)
    batch: int = 1  # how many trials the task carried (TaskPool.submit)


def check_reachable(address: str, timeout_s: float = 3.0) -> None:
    """Fail in seconds, with a clear message, where ray.init would retry an unreachable address for a minute."""
    if address == "auto" or address.startswith("local"):
        return
    target = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise ClusterError(f"Ray address '{address}' is not HOST:PORT, ray://HOST:PORT or 'auto'")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ClusterError(f"cannot reach the Ray cluster at '{address}' ({exc.strerror or exc}); check the "
                           "address (`ray status` on the head node shows it) or omit --address to run locally") from None


def _probe(address: str) -> bool | None:
    """Does the cluster accept this process' credentials? Milliseconds, where ray.init retries a rejected token
    for 20 s (GCS) or 30 s (Ray Client). None: could not tell (ray.init reports whatever it is)."""
    if address.startswith("ray://"):
        return _probe_client(address.split("://", 1)[1].rstrip("/"))
    from ray._private import services
    from ray._raylet import GcsClient  # type: ignore[attr-defined]

    try:
        from ray.exceptions import AuthenticationError
    except ImportError:  # a Ray without token authentication
        return None
    try:
        gcs_address = services.canonicalize_bootstrap_address_or_die(address)
    except (ConnectionError, ValueError) as exc:
        raise ClusterError(f"cannot find the Ray cluster '{address}': {exc}") from None
    saved = os.dup(2)  # Ray's C++ client logs the rejection on fd 2: one clear error below instead
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            GcsClient(address=gcs_address)
        return True
    except AuthenticationError:
        return False
    except Exception:  # noqa: BLE001
        return None
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _probe_client(target: str) -> bool | None:
    try:
        import grpc
        from ray.core.generated import ray_client_pb2, ray_client_pb2_grpc
    except ImportError:
        return None
    metadata = None
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "token" and _token_available():
        from ray._raylet import AuthenticationTokenLoader  # type: ignore[attr-defined]

        token = AuthenticationTokenLoader.instance().get_raw_token(ignore_auth_mode=True)
        metadata = [("authorization", f"Bearer {token}")]
    channel = grpc.insecure_channel(target)
    try:
        ray_client_pb2_grpc.RayletDriverStub(channel).ClusterInfo(
            ray_client_pb2.ClusterInfoRequest(type=ray_client_pb2.ClusterInfoType.PING), timeout=5, metadata=metadata)  # type: ignore[attr-defined]
        return True
    except grpc.RpcError as exc:
        return False if exc.code() == grpc.StatusCode.UNAUTHENTICATED else None
    finally:
        channel.close()


def _token_available() -> bool:
    from ray._raylet import AuthenticationTokenLoader  # type: ignore[attr-defined]

    return bool(AuthenticationTokenLoader.instance().has_token(ignore_auth_mode=True))


def _enable_token_auth() -> None:
    from ray._raylet import AuthenticationTokenLoader, Config  # type: ignore[attr-defined]

    os.environ["RAY_AUTH_MODE"] = "token"
    Config.initialize("")  # Ray caches its config: refresh it so this process sends the token
    AuthenticationTokenLoader.instance().reset_cache()


def _private_auth_token() -> None:
    """Make the authentication token a new local cluster is about to make, 0600 in a 0700 ~/.ray, first.

    ray.init of a new cluster turns token authentication on (unless RAY_AUTH_MODE says otherwise) and, when no
    token exists anywhere (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token), writes one to
    ~/.ray/auth_token with a plain open(): 0644 under the usual umask, so every user of the machine could read
    the one credential of every cluster this user starts. The same token Ray would make (its generator), in
    the place it would look, created O_EXCL: a token that appears meanwhile (another `tune`) is left alone."""
    mode = os.environ.get("RAY_AUTH_MODE")
    if mode is not None and mode.lower() != "token":
        return
    try:
        from ray._private.authentication.authentication_token_generator import generate_new_authentication_token
        from ray._private.authentication.authentication_token_setup import _get_default_token_path
        from ray._raylet import AuthenticationTokenLoader  # type: ignore[attr-defined]
    except ImportError:  # a Ray without token authentication
        return
    if _token_available():
        return
    path = os.fspath(_get_default_token_path())
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError:  # made meanwhile, or ~ not writable: Ray decides, as it would have
        return
    with os.fdopen(fd, "w") as handle:
        handle.write(generate_new_authentication_token())
    AuthenticationTokenLoader.instance().reset_cache()


def _authenticate(address: str) -> None:
    """Match the cluster's authentication: clusters started by `ray start` use token authentication when a token
    exists (~/.ray/auth_token), and ray.init sends the token for an explicit address only if RAY_AUTH_MODE=token.
    Send the local token where the cluster asks for one; a missing or rejected token is one clear error."""
    if _probe(address) is not False:
        return
    mode = os.environ.get("RAY_AUTH_MODE")
    if mode is None and not _token_available():
        # no token here to offer: a cluster seconds old has been seen to refuse once (a job's driver started
        # right after `ray start`), so ask again before saying a token is needed
        for _ in range(3):
            time.sleep(1.0)
            if _probe(address) is not False:
                return
    fix = ("copy the head node's token (`ray get-auth-token` there) into ~/.ray/auth_token here, or set "
           "RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH)")
    if mode is not None and mode.lower() != "token":
        raise ClusterError(f"the Ray cluster at '{address}' requires token authentication but RAY_AUTH_MODE is "
                           f"'{mode}'; unset RAY_AUTH_MODE (or set it to token) and make the token available: {fix}")
    if not _token_available():
        raise ClusterError(f"the Ray cluster at '{address}' requires an authentication token and none was found; "
                           f"{fix}")
    _enable_token_auth()
    if _probe(address) is False:
        raise ClusterError(f"the Ray cluster at '{address}' rejected this machine's authentication token (from "
                           f"RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token); {fix}")


def connect(address: str | None, num_cpus: int | None = None, num_gpus: int | None = None,
            keep_cluster_s: float = 0.0, ship: str | None = None, ship_exclude: Sequence[str] = ()) -> ClusterInfo:
    """Join `address`, or reuse this process' Ray, or start an embedded quiet local cluster; with
    `keep_cluster_s` > 0 and no address, join (or start) the warm local cluster instead (workers.warm).

    `ship`: a project folder sent to a cluster joined by address (Ray's runtime_env working_dir, uploaded to the
    cluster's GCS and unpacked on each node), without SHIP_EXCLUDES, `ship_exclude` (the runs directory), and
    what its .gitignore / .rayignore list; trials on a node that cannot see the driver's files run from it."""
    started = False
    shipped = None
    warm = False
    joined = _PRECONNECTED.pop() if _PRECONNECTED else None  # a standby driver's connection (tuner.cli.standby)
    if joined and (address or keep_cluster_s <= 0):
        ray.shutdown()  # the command asked for another cluster: leave the warm one, as a fresh process would
        joined = None
    if not address and keep_cluster_s > 0 and (joined or not ray.is_initialized()):
        from workers import warm as warm_cluster

        try:
            address = warm_cluster.acquire(keep_cluster_s)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            raise ClusterError(str(exc)) from None
        warm = True
        _bind_loopback()  # this driver's own servers too
        if joined and joined != address:
            ray.shutdown()  # the warm cluster was replaced since this process joined it
    if address and not ray.is_initialized():
        check_reachable(address)
        _authenticate(address)
    if not ray.is_initialized():
        kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, configure_logging=True,
                                      logging_level=logging.ERROR)
        if address:
            kwargs["address"] = address
            if ship and not warm and not _job_ships_code():
                shipped = os.path.abspath(ship)
                kwargs["runtime_env"] = {"working_dir": shipped, "excludes": ship_excludes(shipped, ship_exclude)}
        else:
            # an embedded cluster serves this machine only: bind it to loopback. address="local" starts a new
            # one: without it ray.init joins whatever `ray start` cluster /tmp/ray/ray_current_cluster names
            kwargs.update(address="local", num_cpus=num_cpus, num_gpus=num_gpus, _node_ip_address="127.0.0.1")
            started = True
            _bind_loopback()
            _private_auth_token()
            # before the first Ray process exists: the reaper finds every process that inherits the token
            _start_reaper()
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        try:
            lean = embedded.lean_start() if started else contextlib.nullcontext()  # Ray's processes are ours
            with _ctrl_c_kills_what_started(started), lean:
                _init(kwargs)
        except (ConnectionError, ValueError, RuntimeError, TimeoutError, ray.exceptions.RuntimeEnvSetupError) as exc:
            if shipped and ("package" in str(exc).lower() or isinstance(exc, ray.exceptions.RuntimeEnvSetupError)):
                with contextlib.suppress(Exception):
                    ray.shutdown()
                raise ClusterError(f"cannot ship the project folder '{shipped}' to the Ray cluster at '{address}': "
                                   f"{_upload_reason(exc)}; list big files or folders in its .rayignore "
                                   "(or .gitignore), or turn shipping off (setting ship_project: false, or --no-ship) "
                                   "when every node sees the project at the same path") from None
            if warm:
                from workers import warm as warm_cluster

                warm_cluster.release()
                raise ClusterError(f"cannot join the warm local cluster at '{address}': {exc}; `tune cluster "
                                   "down` stops it (the next sweep starts a fresh one)") from None
            raise ClusterError(f"cannot connect to the Ray cluster at '{address}': {exc}; check the address "
                               "(`ray status` on the head node shows it) or omit --address to run locally") from None
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    totals = ray.cluster_resources()
    return ClusterInfo(address=address, started_here=started, warm=warm, shipped=shipped,
                       total_cpus=float(totals.get("CPU", 0)),
                       total_gpus=float(totals.get("GPU", 0)),
                       max_node_cpus=max((float(n["Resources"].get("CPU", 0)) for n in nodes), default=0.0),
                       max_node_gpus=max((float(n["Resources"].get("GPU", 0)) for n in nodes), default=0.0))


#: the warm cluster's address while this process is a standby driver joined to it (`preconnect_warm`)
_PRECONNECTED: list[str] = []


def preconnect_warm(address: str) -> int:
    """Join the warm local cluster before any sweep asks (a standby driver, tuner.cli.standby) and start this job's
    worker processes, each with the trial runner imported: a sweep handed to this process then pays neither
    `ray.init` nor Ray starting workers (about 3 of a warm 4 s sweep on 2 cores). Not a user of the cluster: the
    idle clock runs until a sweep's `connect` registers. Returns how many workers were warmed."""
    _bind_loopback()
    check_reachable(address)
    _authenticate(address)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    _init(dict(address=address, include_dashboard=False, log_to_driver=False, configure_logging=True,
               logging_level=logging.ERROR))
    _PRECONNECTED[:] = [address]
    slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
    return len(set(ray.get([_warm_worker.remote() for _ in range(slots)])))


@ray.remote(num_cpus=1)
def _warm_worker() -> int:
    import workers.process  # noqa: F401  (what _run_task needs, imported while nobody waits)

    time.sleep(0.2)  # held a moment, so each of the tasks gets its own worker process
    return os.getpid()


def _job_ships_code() -> bool:
    """This driver runs as a Ray job with a working_dir (`ray job submit --working-dir`, `tune submit`): its
    trials get the job's copy of the project already, and Ray refuses a second working_dir."""
    import json

    from ray._private.runtime_env.constants import RAY_JOB_CONFIG_JSON_ENV_VAR

    try:
        config = json.loads(os.environ.get(RAY_JOB_CONFIG_JSON_ENV_VAR) or "{}")
    except ValueError:
        return False
    return isinstance(config, dict) and bool((config.get("runtime_env") or {}).get("working_dir"))


def _upload_reason(exc: BaseException) -> str:
    """Ray's reason for a failed working_dir upload, without its advice and link (the message gives ours)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    line = next((x for x in lines if "Package size" in x), None)
    if line is not None:
        return line[line.index("Package size"):].split(". ", 1)[0]
    line = next((x for x in lines if "upload" in x.lower()), lines[-1] if lines else type(exc).__name__)
    return line.rstrip(".")


#: a ray:// head that has just started may fail to start its per-client server (its runtime-env agent is not up
#: yet; Ray retries for ~15 s, less than a loaded head needs): try again this many times, this far apart
_CLIENT_RETRIES, _CLIENT_RETRY_S = 2, 3.0


def _init(kwargs: dict[str, Any]) -> None:
    for attempt in range(_CLIENT_RETRIES + 1):
        try:
            ray.init(**kwargs)
            return
        except (ConnectionError, RuntimeError) as exc:
            transient = str(kwargs.get("address", "")).startswith("ray://") and \
                "Starting Ray client server failed" in str(exc)
            if not transient or attempt == _CLIENT_RETRIES:
                raise
            time.sleep(_CLIENT_RETRY_S)


#: after a Ctrl-C killed a half-started embedded cluster, how long ray.init may take to give up
_INIT_ABORT_S = 5.0
#: how often the Ctrl-C watcher looks whether ray.init is done: the end of ray.init waits for its last look
#: (a 0.2 s look cost every cold sweep 0.1 s on average)
_CTRL_C_POLL_S = 0.02


@contextlib.contextmanager
def _ctrl_c_kills_what_started(started: bool) -> Iterator[None]:
    """A Ctrl-C while ray.init starts an embedded cluster (seconds, many on a loaded machine). ray.init blocks in
    C++, where Python signal handlers do not run, so SIGINT is blocked here and taken by a thread with sigwait:
    it kills the Ray processes started so far (they carry the token) and the KeyboardInterrupt follows once
    ray.init gives up (or the process exits 130 if it does not within _INIT_ABORT_S). Main thread only."""
    if not started or threading.current_thread() is not threading.main_thread():
        yield
        return
    from workers.reaper import marked, reap

    interrupted = threading.Event()
    done = threading.Event()

    def wait_for_ctrl_c() -> None:
        while not done.is_set():
            if signal.sigtimedwait({signal.SIGINT}, _CTRL_C_POLL_S) is None:
                continue
            interrupted.set()
            reap({pid: t for pid, t in marked(_TOKEN[0]).items() if pid not in _REAPERS})
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


def _bind_loopback() -> None:
    """Ray turns a 127.0.0.1 node address into the machine's public one (for multi-node clusters), and its servers
    then listen on every interface. Its single-machine mode (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, read by this
    process and by the Ray processes it starts) keeps the node on loopback, and the GCS, raylet and agents bind
    127.0.0.1 only. For an embedded cluster only: a driver joining a cluster must be reachable from its nodes."""
    from ray._private import ray_constants

    os.environ[ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False


#: identifies this driver to its reaper; given to every trial and inherited by whatever the trial spawns
_TOKEN: list[str] = []
_REAPERS: set[int] = set()


def _start_reaper() -> None:
    """workers.reaper cleans up after this process if it dies without shutting Ray down (SIGKILL). Started before
    ray.init, with the token put in this process' environment, so every Ray process (GCS, raylet, agents,
    workers) inherits the token and is found by the reaper even if the driver dies in its first milliseconds."""
    import subprocess
    import sys

    if not _TOKEN:
        _TOKEN.append(f"{os.getpid()}-{time.time_ns()}")
    os.environ[TOKEN_ENV] = _TOKEN[0]

    home = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # where `workers` can be imported from
    path = os.pathsep.join([home, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    reaper = subprocess.Popen([sys.executable, "-m", "workers.reaper", str(os.getpid()), _TOKEN[0]],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True, env={**os.environ, "PYTHONPATH": path})
    _REAPERS.add(reaper.pid)


def disconnect(info: ClusterInfo) -> None:
    if ray.is_initialized() and (info.started_here or info.warm):
        if info.started_here:
            embedded.stop_autoscaler_monitor()
        ray.shutdown()  # a warm cluster stays up: only this driver leaves it
    if info.warm:
        from workers import warm as warm_cluster

        warm_cluster.release()


def _pack(folder: str) -> bytes:
    """The run folder as a tarball for the driver, without what is not the run's (workers.view.tar_member_of_runs)."""
    from workers.view import tar_member_of_runs

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=".", filter=tar_member_of_runs)
    return buffer.getvalue()


def _unpack(data: bytes, folder: str) -> None:
    """A run relayed home, unpacked as data (workers.archive): what it cannot carry (the links _pack leaves out
    anyway, a special file) stays behind rather than failing the run's return."""
    from workers.archive import unpack

    unpack(data, folder)


def _rebase(value: Any, moves: Sequence[tuple[str, str]]) -> Any:
    """`value` with every path under an old folder moved under its new one (strings, in tuples, lists and dicts,
    keys too); other values unchanged. A path matches at a separator: /a/b moves /a/b/c, not /a/bc. One pass,
    the longest old folder first: a moved path is never moved again."""
    if isinstance(value, str):
        targets = dict(moves)
        olds = sorted(targets, key=len, reverse=True)
        pattern = "(" + "|".join(re.escape(old) for old in olds) + r")(?=/|$|[^\w.\-])"
        return re.sub(pattern, lambda match: targets[match.group(1)], value) if olds else value
    if isinstance(value, tuple):
        return tuple(_rebase(v, moves) for v in value)
    if isinstance(value, list):
        return [_rebase(v, moves) for v in value]
    if isinstance(value, dict):
        return {_rebase(k, moves): _rebase(v, moves) for k, v in value.items()}
    return value


def _relocate(spec: RunSpec, project: str | None, scratch: str) -> RunSpec:
    """The spec of a run on a node without the driver's files: the run is written under `scratch` (a local
    temporary folder), the project's paths point at the shipped copy (this task's working directory, where Ray
    unpacked it), and a Python that does not exist here is this node's. run.json keeps the driver's paths."""
    moves = [(spec.run_dir, os.path.join(scratch, os.path.basename(spec.run_dir)))]
    if project:
        moves.append((project, os.getcwd()))
    changed = {name: _rebase(getattr(spec, name), moves) for name in (
        "command", "cwd", "run_dir", "run_json", "output_log", "error_json", "env", "initial_files", "post_run",
        "project_dir", "runs_dir", "line_hook", "stop_file")}
    command = changed["command"]
    if command and os.path.basename(command[0]).startswith("python") and not os.path.exists(command[0]):
        changed["command"] = (sys.executable, *command[1:])
    return replace(spec, **changed)


class _Relay:
    """A small actor the driver starts on a cluster joined by address: trials on nodes that cannot see the
    driver's files send it their run.json as it changes (so the driver shows them running, with a heartbeat) and,
    when interrupted, their packed run; the driver takes both from it. Keyed by the driver's run directory."""

    def __init__(self) -> None:
        self.records: dict[str, str] = {}
        self.archives: dict[str, bytes] = {}

    def record(self, run_dir: str, text: str) -> None:
        self.records[run_dir] = text

    def archive(self, run_dir: str, data: bytes) -> None:
        self.archives[run_dir] = data

    def take(self) -> tuple[dict[str, str], dict[str, bytes]]:
        records, archives = self.records, self.archives
        self.records, self.archives = {}, {}
        return records, archives


#: how often a remote trial's run.json is looked at and, when changed, sent to the relay
_FORWARD_S = 1.0


class _Forwarder(threading.Thread):
    """In a remote task: sends the local run.json to the relay whenever it changes (status, heartbeat)."""

    def __init__(self, relay: Any, local: str, driver_run_dir: str) -> None:
        super().__init__(name="tuner-forward", daemon=True)
        self.relay, self.local, self.driver_run_dir = relay, local, driver_run_dir
        self.done = threading.Event()

    def run(self) -> None:
        last = None
        while not self.done.wait(_FORWARD_S):
            try:
                with open(self.local, encoding="utf-8") as handle:
                    text = handle.read()
            except OSError:
                continue
            if text != last:
                last = text
                with contextlib.suppress(Exception):  # the relay is gone (driver left): the run goes on
                    self.relay.record.remote(self.driver_run_dir, text)


#: a remote run's local folder: tuner-run-<pid of the task's worker>-<random>, in the node's temporary directory
_SCRATCH_PREFIX = "tuner-run-"


def _clean_stale_scratch() -> None:
    """Remove the local folders of remote runs whose worker died without cleaning up (killed with its driver)."""
    folder = tempfile.gettempdir()
    try:
        names = [name for name in os.listdir(folder) if name.startswith(_SCRATCH_PREFIX)]
    except OSError:
        return
    for name in names:
        pid = name[len(_SCRATCH_PREFIX):].split("-", 1)[0]
        if not pid.isdigit():
            continue
        if not alive(int(pid)):  # else its worker lives (this one, or another task on this node)
            shutil.rmtree(os.path.join(folder, name), ignore_errors=True)


def _run_batch(specs: list[RunSpec], marker: str, shipped: str | None,
               relay: Any) -> list[tuple[RunOutcome, bytes | None]]:
    """Runs on a worker: the trials one after another, each its own run with its own process. The driver sends
    short trials several to a task, so that Ray's cost per task is paid once for them. A task Ray runs again
    (its worker died) does not run again what had ended: that outcome is read back from the run's run.json."""
    results: list[tuple[RunOutcome, bytes | None]] = []
    for spec in specs:
        ended = ended_outcome(spec) if not _remote_run(marker) else None
        if ended is None:
            results.append(_run_task(spec, marker, shipped, relay))
            continue
        if spec.post_run is not None:  # the worker may have died between the run's end and this step (idempotent)
            func, args = spec.post_run
            func(*args)
        results.append((ended, None))
    return results


def _remote_run(marker: str) -> bool:
    """The driver's runs directory is not visible here (a node without a shared filesystem)."""
    return not os.path.exists(marker)


def _run_task(spec: RunSpec, marker: str, shipped: str | None, relay: Any) -> tuple[RunOutcome, bytes | None]:
    """Runs on a worker. If the driver's runs directory is not visible here (no shared filesystem), the run is
    written in a local temporary folder (paths moved by _relocate when the project was shipped) and sent back as
    a tarball, so every run ends on the driver's disk and nothing of it stays here; meanwhile its run.json goes
    to the relay (when there is one), and so does its packed run when the task is cancelled (Ctrl-C)."""
    gpu_ids = [str(g) for g in ray.get_gpu_ids()]
    env = dict(spec.env)
    # Ray sets CUDA_VISIBLE_DEVICES only for GPU tasks; a CPU-only trial must not see every GPU
    env["CUDA_VISIBLE_DEVICES"] = ",".join(gpu_ids)
    record = dict(spec.record)
    record["resources"] = {**record.get("resources", {}), "gpu_ids": gpu_ids,
                           "node_id": ray.get_runtime_context().get_node_id()}
    remote = _remote_run(marker)
    spec = replace(spec, env=env, record=record)
    if not remote:
        outcome = run_process(spec)
        if spec.post_run is not None:
            func, args = spec.post_run
            func(*args)
        return outcome, None
    driver_run_dir = spec.run_dir
    _clean_stale_scratch()
    scratch = tempfile.mkdtemp(prefix=f"{_SCRATCH_PREFIX}{os.getpid()}-")
    local = _relocate(spec, shipped, scratch)
    back = [(local.run_dir, driver_run_dir)] + ([(os.getcwd(), shipped)] if shipped else [])
    forwarder = _Forwarder(relay, local.run_json, driver_run_dir) if relay is not None else None
    try:
        if forwarder is not None:
            forwarder.start()
        try:
            outcome = run_process(local)
            if forwarder is not None:
                forwarder.done.set()
            if local.post_run is not None:
                func, args = local.post_run
                func(*args)
            archive = _pack(local.run_dir)
        except KeyboardInterrupt:  # cancelled: the run recorded `killed`; its folder goes to the driver all the same
            if relay is not None and os.path.exists(local.run_json):
                with contextlib.suppress(Exception):
                    ray.get(relay.archive.remote(driver_run_dir, _pack(local.run_dir)), timeout=30)
            raise
        finally:
            if forwarder is not None:
                forwarder.done.set()
                forwarder.join()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    outcome = replace(outcome, run_dir=driver_run_dir, error_message=_rebase(outcome.error_message, back),
                      stderr_tail=_rebase(outcome.stderr_tail, back))
    return outcome, archive


class TaskPool:
    """Submit specs, collect outcomes as they finish; never more than `window` tasks in flight. A task carries
    one trial or, for short trials, several (run one after another on the worker; see `_run_batch`)."""

    def __init__(self, resources: Resources, window: int, marker: str, shipped: str | None = None,
                 relay: bool = False) -> None:
        """`relay`: start a _Relay actor (for a cluster joined by address, whose nodes may not see this disk)."""
        self.window = max(1, window)
        self.cpus, self.gpus = resources.cpus, resources.gpus
        self.marker = marker
        self.shipped = shipped  # the project folder shipped to the cluster (ClusterInfo.shipped)
        self._relay: Any = ray.remote(num_cpus=0, max_restarts=0)(_Relay).remote() if relay else None
        self._archives: dict[str, bytes] = {}
        self._take_ref: Any = None  # the pending request to the relay
        # max_calls=0: GPU tasks default to a fresh worker per task (~0.5 s each); reuse workers instead
        self._remote = ray.remote(max_calls=0, max_retries=NODE_FAILURE_RETRIES, retry_exceptions=False)(
            _run_batch).options(num_cpus=resources.cpus, num_gpus=resources.gpus)
        self._in_flight: dict[Any, list[tuple[Hashable, RunSpec]]] = {}

    @property
    def in_flight(self) -> int:
        """Trials in flight (in all tasks)."""
        return sum(len(items) for items in self._in_flight.values())

    @property
    def batches(self) -> bool:
        """Whether several trials may share a task: not where a node may not see this disk (a trial's run then
        comes back as its task's result, and a cancelled batch would lose the runs it had finished)."""
        return self._relay is None

    def has_room(self) -> bool:
        return len(self._in_flight) < self.window

    def submit(self, items: Sequence[tuple[Hashable, RunSpec]]) -> None:
        """One task for these (key, spec) trials, run in this order."""
        if _TOKEN:
            items = [(key, replace(spec, env={**spec.env, TOKEN_ENV: _TOKEN[0]})) for key, spec in items]
        ref = self._remote.remote([spec for _key, spec in items], self.marker, self.shipped, self._relay)
        self._in_flight[ref] = list(items)

    def wait(self, timeout_s: float) -> list[TaskResult]:
        """Results of every task that finished within `timeout_s` (possibly none)."""
        if not self._in_flight:
            return []
        self._take_relayed()
        refs = list(self._in_flight)
        ready, rest = ray.wait(refs, num_returns=1, timeout=timeout_s, fetch_local=True)
        if ready and rest:  # and whatever else is already done, without waiting
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0, fetch_local=True)
            ready += more
        return [result for ref in ready for result in self._collect(ref)]

    def _collect(self, ref: Any) -> list[TaskResult]:
        items = self._in_flight.pop(ref)
        size = len(items)
        try:
            outcomes = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            for _key, spec in items:
                self._unpack_relayed(spec.run_dir)
            return [TaskResult(key, None, "cancelled", size) for key, _spec in items]
        except ray.exceptions.RayError as exc:  # worker/node died past retries, or the task raised
            cause = getattr(exc, "cause", None)  # what the task raised (RayTaskError)
            if isinstance(cause, OSError) and is_disk_full(cause):  # the runs directory is full: the sweep stops
                raise OSError(cause.errno, cause.strerror, cause.filename) from None  # with one line about it
            message = str(exc).strip().splitlines()
            for _key, spec in items:
                self._unpack_relayed(spec.run_dir)
            return [TaskResult(key, None, message[-1] if message else exc.__class__.__name__, size)
                    for key, _spec in items]
        results = []
        for (key, spec), (outcome, archive) in zip(items, outcomes):
            if archive is not None:
                _unpack(archive, spec.run_dir)
            self._archives.pop(spec.run_dir, None)
            results.append(TaskResult(key, outcome, None, size))
        return results

    def _take_relayed(self, fresh: bool = False) -> None:
        """What remote trials sent the relay: run.json of the running ones is written here (they show running,
        with their heartbeat); the packed runs of cancelled ones are kept for _collect. Never waits for the relay
        (one request is kept pending), except `fresh`: everything sent before now (a cancelled task's run)."""
        if self._relay is None:
            return
        for _ in range(2 if fresh else 1):
            if self._take_ref is None:
                self._take_ref = self._relay.take.remote()
            ready, _rest = ray.wait([self._take_ref], timeout=10 if fresh else 0)
            if not ready:
                return
            ref, self._take_ref = self._take_ref, None
            try:
                records, archives = ray.get(ref)
            except ray.exceptions.RayError:  # the relay died: trials still come back with their outcome,
                self._relay = None           # only the live view (and a cancelled remote run's data) is lost
                return
            self._archives.update(archives)
            running = {spec.run_dir: spec.run_json for items in self._in_flight.values() for _key, spec in items}
            for run_dir, text in records.items():
                if run_dir in running:  # one that came back already has its own, final run.json
                    with contextlib.suppress(OSError):
                        atomic_write_text(running[run_dir], text)

    def _unpack_relayed(self, run_dir: str) -> None:
        """A cancelled remote trial sent its packed run to the relay before it stopped: unpack it here."""
        if self._relay is not None and run_dir not in self._archives:
            self._take_relayed(fresh=True)
        data = self._archives.pop(run_dir, None)
        if data is not None:
            with contextlib.suppress(OSError, tarfile.TarError, ValueError):  # ValueError: not an archive at all
                _unpack(data, run_dir)

    def close(self) -> None:
        """Stop the relay (it would otherwise live as long as this process' Ray job)."""
        if self._relay is not None:
            with contextlib.suppress(Exception):
                ray.kill(self._relay)
            self._relay = self._take_ref = None

    def cancel_all(self, grace_s: float = 10.0) -> list[TaskResult]:
        """Cancel every task: queued ones never start; running ones get KeyboardInterrupt, which kills the
        trial's process tree and records it as killed. Waits up to `grace_s` for them to settle."""
        for ref in list(self._in_flight):
            try:
                ray.cancel(ref, force=False)
            except Exception:  # noqa: BLE001 - already finished or gone
                pass
        results: list[TaskResult] = []
        deadline = time.monotonic() + grace_s
        while self._in_flight and time.monotonic() < deadline:
            results.extend(self.wait(timeout_s=0.2))
        for ref in list(self._in_flight):  # still not settled: force-kill the worker (its trial dies with it)
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001
                pass
            items = self._in_flight.pop(ref)
            for key, spec in items:
                self._unpack_relayed(spec.run_dir)
                results.append(TaskResult(key, None, KILLED, len(items)))
        return results
