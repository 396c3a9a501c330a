"""This process' side of a Ray cluster: connect to one (or start an embedded one), check it can be reached and
that it accepts this machine's authentication token, join the warm local cluster, disconnect.

Knows nothing of sweeps or journals. Trials are sent by workers.pool; a project is shipped by Ray (runtime_env)
and relayed back by workers.shipping; the reaper and the Ctrl-C guard around ray.init are in workers.reaper.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Sequence

import ray

from workers import embedded
from workers.files import ship_excludes
from workers.reaper import ctrl_c_kills_what_started, start_reaper


class ClusterError(Exception):
    """The cluster cannot be reached or cannot run a trial of the requested size (a user error)."""


@dataclass
class ClusterInfo:
    """The cluster one `connect` joined, and what a sweep needs to know of it."""

    address: str | None
    #: an embedded cluster this process started (now or for an earlier sweep): it stops when the process exits
    started_here: bool
    total_cpus: float
    total_gpus: float
    max_node_cpus: float
    max_node_gpus: float
    #: joined the warm local cluster (workers.warm): leave it running at disconnect
    warm: bool = False
    #: the project folder shipped to the cluster (Ray's runtime_env working_dir), None when nothing was shipped
    shipped: str | None = None
    #: this driver's reaper token (workers.reaper.TOKEN_ENV), for the trials' environment; None when no reaper runs
    token: str | None = None
    #: the embedded cluster an earlier sweep of this process started and kept (Cluster.disconnect)
    kept: bool = False

    @property
    def workers_predate_sweep(self) -> bool:
        """Its worker processes may have been started for an earlier sweep (the warm cluster, a kept one), with that
        driver's environment then: trials must be given this sweep's."""
        return self.warm or self.kept


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


class Cluster:
    """This process' side of Ray: what outlives one `connect` (the reaper's token, the reapers started, a standby's
    early join of the warm cluster, the embedded cluster kept for the next sweep). Ray's connection belongs to the
    process (`ray.init`), so there is one of these per process: `this_process()`.

    An embedded cluster is kept between the sweeps of one process (a notebook's `tuning_run` calls: Ray's start
    is seconds, a small sweep on a running cluster a fraction of one) and stopped when the process exits
    (atexit), or before a sweep that asks for another cluster; a process killed outright leaves nothing either:
    its reaper kills what carries its token."""

    def __init__(self) -> None:
        #: identifies this driver to its reaper; given to every trial and inherited by whatever the trial spawns
        self.token: str | None = None
        #: the reapers this process started: the Ctrl-C guard kills what carries the token, except them
        self.reapers: set[int] = set()
        #: the warm cluster's address while this process is a standby driver joined to it (`preconnect_warm`)
        self.preconnected: str | None = None
        #: the GCS address of the embedded cluster this process keeps for its next sweep (`disconnect`)
        self.kept_at: str | None = None
        self._stop_at_exit = False

    def connect(self, address: str | None, num_cpus: int | None = None, num_gpus: int | None = None,
                keep_cluster_s: float = 0.0, ship: str | None = None, ship_exclude: Sequence[str] = ()) -> ClusterInfo:
        """Join `address`, or reuse this process' Ray, or start an embedded quiet local cluster; with
        `keep_cluster_s` > 0 and no address, join (or start) the warm local cluster instead (workers.warm).

        `ship`: a project folder sent to a cluster joined by address (Ray's runtime_env working_dir, uploaded to the
        cluster's GCS and unpacked on each node), without SHIP_EXCLUDES, `ship_exclude` (the runs directory), and
        what its .gitignore / .rayignore list; trials on a node that cannot see the driver's files run from it."""
        # tuner reads the result of every task it keeps (a failed one is its trial's failure, said in one line); the
        # errors Ray would print as "Unhandled error" when the process ends belong to tasks it let go on purpose (a
        # full disk, a Ctrl-C, a sweep stopped for a configuration error), whose end was already said: 20 lines of a
        # worker's traceback after the one line of a full disk, now and then
        os.environ.setdefault(IGNORE_UNHANDLED_ENV, "1")
        started = False
        shipped = None
        warm = False
        token = None  # the reaper's, where this call starts the cluster
        kept = self._kept_up()
        if kept and (address or keep_cluster_s > 0):
            self.stop_kept()  # another cluster asked for: leave the kept one, as a fresh process would
            kept = False
        joined, self.preconnected = self.preconnected, None  # a standby driver's connection (tuner.cli.standby)
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
                token = self._start_reaper()
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            try:
                with contextlib.ExitStack() as guards:
                    if token is not None:  # Ray's processes are ours
                        guards.enter_context(ctrl_c_kills_what_started(token, spare=self.reapers))
                        guards.enter_context(embedded.lean_start())
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
        return ClusterInfo(address=address, started_here=started or kept, kept=kept, warm=warm, shipped=shipped,
                           token=self.token,
                           total_cpus=float(totals.get("CPU", 0)),
                           total_gpus=float(totals.get("GPU", 0)),
                           max_node_cpus=max((float(n["Resources"].get("CPU", 0)) for n in nodes), default=0.0),
                           max_node_gpus=max((float(n["Resources"].get("GPU", 0)) for n in nodes), default=0.0))

    def _start_reaper(self) -> str:
        """Before the first Ray process exists: the reaper finds every process that inherits the token (one token
        per process, kept for every cluster it starts)."""
        if self.token is None:
            self.token = f"{os.getpid()}-{time.time_ns()}"
        self.reapers.add(start_reaper(self.token))
        return self.token

    def preconnect_warm(self, address: str) -> int:
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
        self.preconnected = address
        slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
        return len(set(ray.get([_warm_worker.remote() for _ in range(slots)])))

    def disconnect(self, info: ClusterInfo) -> None:
        """Leave the cluster `connect` joined: an embedded one is kept for this process' next sweep (stopped at exit),
        the warm one stays up for the next driver."""
        if info.started_here and ray.is_initialized():
            self.kept_at = ray.get_runtime_context().gcs_address
            if not self._stop_at_exit:
                # registered after ray.init's own atexit shutdown, so it runs first (atexit runs last in, first out)
                atexit.register(self.stop_kept)
                self._stop_at_exit = True
            return
        if ray.is_initialized() and info.warm:
            ray.shutdown()  # a warm cluster stays up: only this driver leaves it
        if info.warm:
            from workers import warm as warm_cluster

            warm_cluster.release()

    def _kept_up(self) -> bool:
        """Whether the embedded cluster kept for this sweep is still this process' Ray (the user may have called
        ray.shutdown, and ray.init of their own: that Ray is theirs, joined as it is and never stopped here)."""
        if self.kept_at is None:
            return False
        if not ray.is_initialized() or ray.get_runtime_context().gcs_address != self.kept_at:
            self.kept_at = None
            return False
        return True

    def stop_kept(self) -> None:
        """Stop the embedded cluster kept for this process' next sweep: at exit, or before a sweep that asks for
        another cluster."""
        if self._kept_up():
            embedded.stop_autoscaler_monitor()
            ray.shutdown()
        self.kept_at = None


@functools.cache
def this_process() -> Cluster:
    """This process' Cluster (one per process, as Ray's connection is)."""
    return Cluster()


@ray.remote(num_cpus=1)
def _warm_worker() -> int:
    import workers.pool  # noqa: F401  (the module of the tasks a sweep sends, and the trial runner, imported while nobody waits)

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


#: Ray's switch that keeps it from printing the errors of task results nobody read (see Cluster.connect)
IGNORE_UNHANDLED_ENV = "RAY_IGNORE_UNHANDLED_ERRORS"

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


def _bind_loopback() -> None:
    """Ray turns a 127.0.0.1 node address into the machine's public one (for multi-node clusters), and its servers
    then listen on every interface. Its single-machine mode (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, read by this
    process and by the Ray processes it starts) keeps the node on loopback, and the GCS, raylet and agents bind
    127.0.0.1 only. For an embedded cluster only: a driver joining a cluster must be reachable from its nodes."""
    from ray._private import ray_constants

    os.environ[ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
