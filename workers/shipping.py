"""A run on a node that cannot see the driver's files: its spec moved to a local folder and the shipped project
(`relocate`), its folder packed home as a tarball (`pack_run`, `unpack_run`), and its run.json relayed to the driver
while it runs (`Relay`, `Forwarder`).

No Ray import: the relay is made a Ray actor by workers.pool, which runs the task that uses all of this.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Sequence

from workers import checkpoints
from workers.process import RunSpec
from workers.reaper import alive

if TYPE_CHECKING:  # Ray's type only: this module does not import Ray
    from ray.actor import ActorHandle


def pack_run(folder: str) -> bytes:
    """The run folder as a tarball for the driver, without what is not the run's (workers.view.tar_member_of_runs)."""
    from workers.view import tar_member_of_runs

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=".", filter=tar_member_of_runs)
    return buffer.getvalue()


def unpack_run(data: bytes, folder: str) -> None:
    """A run relayed home, unpacked as data (workers.archive): what it cannot carry (the links pack_run leaves out
    anyway, a special file) stays behind rather than failing the run's return."""
    from workers.archive import unpack

    unpack(data, folder)


def rebase(value: Any, moves: Sequence[tuple[str, str]]) -> Any:
    """`value` with every path under an old folder moved under its new one (strings, in tuples, lists and dicts,
    keys too); other values unchanged. A path matches at a separator: /a/b moves /a/b/c, not /a/bc. One pass,
    the longest old folder first: a moved path is never moved again."""
    if isinstance(value, str):
        targets = dict(moves)
        olds = sorted(targets, key=len, reverse=True)
        pattern = "(" + "|".join(re.escape(old) for old in olds) + r")(?=/|$|[^\w.\-])"
        return re.sub(pattern, lambda match: targets[match.group(1)], value) if olds else value
    if isinstance(value, tuple):
        return tuple(rebase(v, moves) for v in value)
    if isinstance(value, list):
        return [rebase(v, moves) for v in value]
    if isinstance(value, dict):
        return {rebase(k, moves): rebase(v, moves) for k, v in value.items()}
    return value


def relocate(spec: RunSpec, project: str | None, scratch: str) -> RunSpec:
    """The spec of a run on a node without the driver's files: the run is written under `scratch` (a local
    temporary folder), the project's paths point at the shipped copy (this task's working directory, where Ray
    unpacked it), and a Python that does not exist here is this node's. run.json keeps the driver's paths."""
    moves = [(spec.run_dir, os.path.join(scratch, os.path.basename(spec.run_dir)))]
    if spec.checkpoint_dir:  # the trial's folder on the driver's disk: a local one here, filled by the caller
        moves.append((spec.checkpoint_dir, os.path.join(scratch, SCRATCH_CHECKPOINT)))
    if project:
        moves.append((project, os.getcwd()))
    changed = {name: rebase(getattr(spec, name), moves) for name in (
        "command", "cwd", "run_dir", "run_json", "output_log", "error_json", "env", "initial_files", "post_run",
        "project_dir", "runs_dir", "line_hook", "stop_file", "checkpoint_dir")}
    command = changed["command"]
    if command and os.path.basename(command[0]).startswith("python") and not os.path.exists(command[0]):
        changed["command"] = (sys.executable, *command[1:])
    return replace(spec, **changed)


class Relay:
    """A small actor the driver starts on a cluster joined by address: trials on nodes that cannot see the
    driver's files send it their run.json as it changes (so the driver shows them running, with a heartbeat) and,
    when interrupted, their packed run; the driver takes both from it. Keyed by the driver's run directory."""

    def __init__(self) -> None:
        self.records: dict[str, str] = {}
        self.archives: dict[str, bytes] = {}
        self.checkpoints: dict[str, bytes] = {}  # new since the driver last took them
        self.latest: dict[str, bytes] = {}       # each running trial's newest, for a task Ray runs again elsewhere

    def record(self, run_dir: str, text: str) -> None:
        self.records[run_dir] = text

    def archive(self, run_dir: str, data: bytes) -> None:
        self.archives[run_dir] = data

    def checkpoint(self, run_dir: str, data: bytes) -> None:
        self.checkpoints[run_dir] = self.latest[run_dir] = data

    def latest_checkpoint(self, run_dir: str) -> bytes | None:
        return self.latest.get(run_dir)

    def forget(self, run_dirs: list[str]) -> None:
        for run_dir in run_dirs:
            self.latest.pop(run_dir, None)

    def take(self) -> tuple[dict[str, str], dict[str, bytes], dict[str, bytes]]:
        records, archives, saved = self.records, self.archives, self.checkpoints
        self.records, self.archives, self.checkpoints = {}, {}, {}
        return records, archives, saved


#: how often a remote trial's run.json and checkpoint folder are looked at and, when changed, sent to the relay
_FORWARD_S = 1.0
#: a checkpoint is sent once none of its files changed for this long (one being written is not sent half done)
_QUIET_S = 0.2


class Forwarder(threading.Thread):
    """In a remote task: sends the local run.json to the relay whenever it changes (status, heartbeat), and the
    trial's checkpoint folder whenever it changed and then stayed quiet a moment (a checkpoint being written is not
    sent half done)."""

    def __init__(self, relay: ActorHandle[Relay], local: str, driver_run_dir: str,
                 checkpoint_dir: str | None = None) -> None:
        super().__init__(name="tuner-forward", daemon=True)
        self.relay, self.local, self.driver_run_dir = relay, local, driver_run_dir
        self.checkpoint_dir = checkpoint_dir
        self.done = threading.Event()

    def _forward_checkpoint(self, sent: Any) -> Any:
        """Send the checkpoint when it differs from what was sent last and no file of it changed for _QUIET_S;
        returns what was sent."""
        deadline = time.monotonic() + _FORWARD_S
        while True:
            now = checkpoints.signature(self.checkpoint_dir)
            if not now or now == sent:
                return sent
            newest = max(mtime for _path, _size, mtime in now) / 1e9
            if time.time() - newest >= _QUIET_S:
                break
            if time.monotonic() >= deadline or self.done.wait(_QUIET_S / 2):
                return sent
        data = checkpoints.pack(self.checkpoint_dir)
        if data is not None and checkpoints.signature(self.checkpoint_dir) == now:
            with contextlib.suppress(Exception):  # the relay is gone: the checkpoint still comes home at the end
                self.relay.checkpoint.remote(self.driver_run_dir, data)
            return now
        return sent

    def run(self) -> None:
        last = None
        sent = checkpoints.signature(self.checkpoint_dir)  # what the task brought: already on the driver
        while not self.done.wait(_FORWARD_S):
            if self.checkpoint_dir:
                sent = self._forward_checkpoint(sent)
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
SCRATCH_PREFIX = "tuner-run-"
#: where a shipped trial's checkpoint folder lies in its scratch folder on the node (this module's own name: the
#: driver's folder is the layout's TrialPaths.checkpoint, which the relay copies back)
SCRATCH_CHECKPOINT = "checkpoint"


def clean_stale_scratch() -> None:
    """Remove the local folders of remote runs whose worker died without cleaning up (killed with its driver)."""
    folder = tempfile.gettempdir()
    try:
        names = [name for name in os.listdir(folder) if name.startswith(SCRATCH_PREFIX)]
    except OSError:
        return
    for name in names:
        pid = name[len(SCRATCH_PREFIX):].split("-", 1)[0]
        if not pid.isdigit():
            continue
        if not alive(int(pid)):  # else its worker lives (this one, or another task on this node)
            shutil.rmtree(os.path.join(folder, name), ignore_errors=True)
