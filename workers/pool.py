"""Run RunSpecs as Ray tasks on a connected cluster (workers.cluster): keep a bounded window in flight, hand back
each outcome the moment it arrives (`ray.wait`), cancel cleanly.

Knows nothing of sweeps or journals: it gets specs, returns outcomes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from typing import Sequence, cast

import ray
from ray import ObjectRef
from ray.actor import ActorHandle
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from workers import checkpoints
from workers.files import atomic_write_text, is_disk_full
from workers.process import KILLED, RunOutcome, RunSpec, ended_outcome, run_process
from workers.reaper import TOKEN_ENV
from workers.shipping import (
    SCRATCH_PREFIX,
    Forwarder,
    Relay,
    clean_stale_scratch,
    pack_run,
    rebase,
    relocate,
    unpack_run,
)

#: Ray retries a task whose worker or node died (not a script failure) this many times
NODE_FAILURE_RETRIES = 3


@dataclass(frozen=True)
class Resources:
    """What one task asks of a node (Ray's num_cpus, num_gpus; fractions allowed)."""

    cpus: float = 1.0
    gpus: float = 0.0


@dataclass
class TaskResult:
    """How one trial of a task came back: its outcome, or why the task gave none."""

    key: int  # the caller's number for the trial (TaskPool.submit; a sweep's trial index)
    outcome: RunOutcome | None
    error: str | None = None  # the task itself failed (worker died past retries, cancelled ...)
    batch: int = 1  # how many trials the task carried (TaskPool.submit)


#: what a task returns: each trial's outcome and, for a run on a node without the driver's files, its packed run
#: folder and its packed checkpoint folder (None otherwise, or when there is none)
Returned = list[tuple[RunOutcome, bytes | None, bytes | None]]


def _run_batch(specs: list[RunSpec], marker: str, shipped: str | None, relay: ActorHandle[Relay] | None,
               saved: list[bytes | None]) -> Returned:
    """Runs on a worker: the trials one after another, each its own run with its own process. The driver sends
    short trials several to a task, so that Ray's cost per task is paid once for them. A task Ray runs again
    (its worker died) does not run again what had ended: that outcome is read back from the run's run.json.
    `saved`: each trial's checkpoint folder packed by the driver (a cluster joined by address), for a node that
    cannot see it."""
    results: Returned = []
    for number, spec in enumerate(specs):
        ended = ended_outcome(spec) if not _remote_run(marker) else None
        if ended is None:
            results.append(_run_task(spec, marker, shipped, relay, saved[number] if number < len(saved) else None))
            continue
        if spec.post_run is not None:  # the worker may have died between the run's end and this step (idempotent)
            func, args = spec.post_run
            func(*args)
        results.append((ended, None, None))
    return results


def _remote_run(marker: str) -> bool:
    """The driver's runs directory is not visible here (a node without a shared filesystem)."""
    return not os.path.exists(marker)


def _newest_relayed(relay: ActorHandle[Relay], driver_run_dir: str) -> bytes | None:
    """The newest checkpoint the relay holds for this run (sent by an earlier execution of this task, on a node since
    lost). Asked from another thread: a ray.get in the task's own thread hands its CPUs back to Ray for the wait,
    and Ray would start another trial on them."""
    box: list[bytes | None] = []

    def ask() -> None:
        with contextlib.suppress(Exception):
            box.append(ray.get(relay.latest_checkpoint.remote(driver_run_dir), timeout=60))

    thread = threading.Thread(target=ask, name="tuner-checkpoint", daemon=True)
    thread.start()
    thread.join()
    return box[0] if box else None


def _run_task(spec: RunSpec, marker: str, shipped: str | None, relay: ActorHandle[Relay] | None,
              saved: bytes | None = None) -> tuple[RunOutcome, bytes | None, bytes | None]:
    """Runs on a worker. If the driver's runs directory is not visible here (no shared filesystem), the run is
    written in a local temporary folder (paths moved by relocate when the project was shipped) and sent back as
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
        return outcome, None, None
    driver_run_dir = spec.run_dir
    clean_stale_scratch()
    scratch = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")
    local = relocate(spec, shipped, scratch)
    if local.checkpoint_dir:  # the newest the relay has (this task ran before on a node since lost), else the driver's
        newest = _newest_relayed(relay, driver_run_dir) if relay is not None else None
        data = newest or saved
        if data:
            checkpoints.replace_with(data, local.checkpoint_dir)
    back = [(local.run_dir, driver_run_dir)] + ([(os.getcwd(), shipped)] if shipped else [])
    forwarder = Forwarder(relay, local.run_json, driver_run_dir, local.checkpoint_dir) if relay is not None else None
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
            archive = pack_run(local.run_dir)
            saved_back = checkpoints.pack(local.checkpoint_dir)
        except KeyboardInterrupt:  # cancelled: the run recorded `killed`; its folder goes to the driver all the same
            if relay is not None and os.path.exists(local.run_json):
                with contextlib.suppress(Exception):
                    packed = checkpoints.pack(local.checkpoint_dir)
                    if packed is not None:
                        ray.get(relay.checkpoint.remote(driver_run_dir, packed), timeout=30)
                with contextlib.suppress(Exception):
                    ray.get(relay.archive.remote(driver_run_dir, pack_run(local.run_dir)), timeout=30)
            raise
        finally:
            if forwarder is not None:
                forwarder.done.set()
                forwarder.join()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    outcome = replace(outcome, run_dir=driver_run_dir, error_message=rebase(outcome.error_message, back),
                      stderr_tail=rebase(outcome.stderr_tail, back))
    return outcome, archive, saved_back


class TaskPool:
    """Submit specs, collect outcomes as they finish; never more than `window` tasks in flight. A task carries
    one trial or, for short trials, several (run one after another on the worker; see `_run_batch`)."""

    def __init__(self, resources: Resources, window: int, marker: str, shipped: str | None = None,
                 relay: bool = False, token: str | None = None) -> None:
        """`relay`: start a Relay actor (for a cluster joined by address, whose nodes may not see this disk).
        `token`: the driver's reaper token (ClusterInfo.token), given to every trial so the reaper finds them."""
        self.window = max(1, window)
        self.cpus, self.gpus = resources.cpus, resources.gpus
        self.marker = marker
        self.shipped = shipped  # the project folder shipped to the cluster (ClusterInfo.shipped)
        self.token = token
        # cast: Ray types ray.remote(**options)(a class) loosely (the class itself among the results)
        # on the driver's own node: the relay holds each trial's newest checkpoint for a task Ray runs again after
        # its node died, so it must not live on a node that can die without the driver (Ray places an actor of
        # num_cpus=0 on any node, and one placed with the trials went down with them: the retry began at epoch 1)
        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
        self._relay = cast("ActorHandle[Relay]", ray.remote(num_cpus=0, max_restarts=0)(Relay).options(
            scheduling_strategy=here).remote()) if relay else None
        self._archives: dict[str, bytes] = {}
        self._checkpoint_dirs: dict[str, str] = {}  # run_dir -> its trial's checkpoint folder (trials in flight)
        # the pending request to the relay
        self._take_ref: ObjectRef[tuple[dict[str, str], dict[str, bytes], dict[str, bytes]]] | None = None
        # max_calls=0: GPU tasks default to a fresh worker per task (~0.5 s each); reuse workers instead
        self._remote = ray.remote(max_calls=0, max_retries=NODE_FAILURE_RETRIES, retry_exceptions=False)(
            _run_batch).options(num_cpus=resources.cpus, num_gpus=resources.gpus)
        self._in_flight: dict[ObjectRef[Returned], list[tuple[int, RunSpec]]] = {}

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

    def submit(self, items: Sequence[tuple[int, RunSpec]]) -> None:
        """One task for these (key, spec) trials, run in this order; each result carries its trial's key."""
        if self.token:
            items = [(key, replace(spec, env={**spec.env, TOKEN_ENV: self.token})) for key, spec in items]
        # a node that cannot see this disk gets each trial's checkpoint folder with the task
        saved = [checkpoints.pack(spec.checkpoint_dir) for _key, spec in items] if self._relay is not None else []
        ref = self._remote.remote([spec for _key, spec in items], self.marker, self.shipped, self._relay, saved)
        self._in_flight[ref] = list(items)
        for _key, spec in items:
            if spec.checkpoint_dir:
                self._checkpoint_dirs[spec.run_dir] = spec.checkpoint_dir

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

    def _collect(self, ref: ObjectRef[Returned]) -> list[TaskResult]:
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
        for (key, spec), (outcome, archive, saved) in zip(items, outcomes):
            if archive is not None:
                unpack_run(archive, spec.run_dir)
            if saved is not None and spec.checkpoint_dir:
                checkpoints.replace_with(saved, spec.checkpoint_dir)
            self._archives.pop(spec.run_dir, None)
            self._checkpoint_dirs.pop(spec.run_dir, None)
            results.append(TaskResult(key, outcome, None, size))
        if self._relay is not None:
            with contextlib.suppress(Exception):
                self._relay.forget.remote([spec.run_dir for _key, spec in items])
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
                records, archives, saved = ray.get(ref)
            except ray.exceptions.RayError:  # the relay died: trials still come back with their outcome,
                self._relay = None           # only the live view (and a cancelled remote run's data) is lost
                return
            self._archives.update(archives)
            for run_dir, data in saved.items():  # a remote trial's newest checkpoint: on this disk from now on
                folder = self._checkpoint_dirs.get(run_dir)
                if folder is not None:
                    with contextlib.suppress(OSError, tarfile.TarError, ValueError):
                        checkpoints.replace_with(data, folder)
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
        self._checkpoint_dirs.pop(run_dir, None)
        if data is not None:
            with contextlib.suppress(OSError, tarfile.TarError, ValueError):  # ValueError: not an archive at all
                unpack_run(data, run_dir)

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
