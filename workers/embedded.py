"""Starting and stopping a single-machine Ray cluster quickly: what `ray.init` (an embedded cluster) and `ray start`
(the warm cluster) spend seconds on that a sweep on this machine does not need.

Measured on 2 cores (docs/benchmarks.md): `ray.init` of a local cluster took 3.5-4.2 s, of which
- 1.2-2 s Ray's dashboard head process. Ray starts it even with `include_dashboard=False` (then loading only its
  usage-stats module, and usage stats are off for every cluster tuner starts) and waits for it to register;
  the CPU it takes on 2 cores also slows the raylet's own agents;
- up to 1 s waiting for the raylet to register: Ray's C++ GetNode looks once a second, so a raylet ready at
  1.1 s is seen at 2.0 s;
and `ray.shutdown` 1.1 s, of which 1.0 s the autoscaler monitor (stopped after the GCS, it spends its SIGTERM
second reporting to the GCS that is gone).

These reach into Ray's private modules (`ray._private.node.Node.start_api_server`, `ray._private.services.get_node`,
the monitor's file name), so each is guarded: where Ray has moved them nothing is changed and Ray starts as it
always did, only slower. tests/workers_tests/test_loopback.py asserts on a real cluster that each still takes
effect (no dashboard process, one monitor found), so a Ray upgrade that moves them fails a test instead of
quietly bringing the seconds back. Joining a cluster someone else started changes nothing: these only apply
where tuner starts the cluster's processes itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from typing import Any, Iterable, Iterator

#: how often the registration of a starting raylet is looked for (Ray's own look: once a second)
NODE_POLL_S = 0.05
#: how long to look before handing over to Ray's own wait (which has its own timeout and error)
NODE_WAIT_S = 30.0


@contextlib.contextmanager
def lean_start() -> Iterator[None]:
    """While a cluster is started in this process (`ray.init` of a local cluster, `ray start --head`): no dashboard
    head where the caller asked for none, and the raylet's registration seen within NODE_POLL_S. Restored after."""
    try:
        from ray._private import node as ray_node
        from ray._private import services
    except ImportError:  # pragma: no cover - a Ray without these modules starts as it always did
        yield
        return
    original_api_server = getattr(ray_node.Node, "start_api_server", None)
    original_get_node = getattr(services, "get_node", None)

    def start_api_server(self: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("include_dashboard") is False:
            return None  # no dashboard asked for: its only module (usage stats) has nothing to do
        return original_api_server(self, *args, **kwargs)  # type: ignore[misc]

    def get_node(gcs_address: str, node_id: str) -> Any:
        _wait_until_registered(gcs_address, node_id)
        return original_get_node(gcs_address, node_id)  # type: ignore[misc]

    if original_api_server is not None:
        setattr(ray_node.Node, "start_api_server", start_api_server)  # noqa: B010 - a method, restored below
    if original_get_node is not None:
        services.get_node = get_node
    try:
        yield
    finally:
        if original_api_server is not None:
            setattr(ray_node.Node, "start_api_server", original_api_server)  # noqa: B010
        if original_get_node is not None:
            services.get_node = original_get_node


def _wait_until_registered(gcs_address: str, node_id: str) -> None:
    """Look for the node in the GCS' node table every NODE_POLL_S (as Ray's test helper wait_for_node does), so
    Ray's own GetNode, called next, finds it at once. Any doubt (an API that moved, an error) ends the look early:
    Ray's wait then runs as it always did."""
    try:
        from ray._private import services
        from ray._private.state import GlobalState

        state = GlobalState()
        state._initialize_global_state(services._get_gcs_client_options(gcs_address))
    except Exception:  # an internal API that moved: Ray's own wait does the job
        return
    deadline = time.monotonic() + NODE_WAIT_S
    try:
        while time.monotonic() < deadline:
            if any(n.get("NodeID") == node_id and n.get("Alive") for n in state.node_table()):
                return
            time.sleep(NODE_POLL_S)
    except Exception:  # the same: Ray's own wait follows
        return
    finally:
        with contextlib.suppress(Exception):
            state.disconnect()


def stop_autoscaler_monitor() -> None:
    """ray.shutdown stops an embedded cluster's processes one at a time, SIGTERM then up to 1 s each; Ray's
    autoscaler monitor, stopped after the GCS, spends that whole second reporting its own end to the GCS that is
    already gone (1.0 of the 1.1 s shutdown, a fifth of a cold two-trial sweep on 2 cores). The monitor of a
    single-machine cluster holds nothing to save, so it is killed first; ray.shutdown then finds it gone and stops
    the rest as before."""
    for pid in autoscaler_monitors(os.getpid()):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def autoscaler_monitors(parent: int) -> list[int]:
    """The children of `parent` running Ray's autoscaler monitor.py (/proc only; tested against a real cluster, so
    a Ray that moves the file fails a test instead of quietly bringing the 1 s back)."""
    from workers.reaper import children

    return _running(children(parent), b"/autoscaler/_private/monitor.py")


def dashboard_heads(pids: Iterable[int]) -> list[int]:
    """Those of `pids` running Ray's dashboard head (dashboard/dashboard.py): none where lean_start took effect."""
    return _running(pids, b"/dashboard/dashboard.py")


def _running(pids: Iterable[int], script: bytes) -> list[int]:
    """Those of `pids` whose command line runs a Python file ending in `script` (as python, then the file)."""
    found = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if any(arg.endswith(script) for arg in argv[:3]):
            found.append(pid)
    return found


def ray_start(argv: list[str]) -> int:
    """`ray start ARGV` in this process, with lean_start: how the warm cluster is started (workers.warm)."""
    from ray.scripts.scripts import main

    sys.argv = ["ray", "start", *argv]
    with lean_start():
        try:
            main()
        except SystemExit as exc:  # click ends with SystemExit, 0 included
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
