"""The cluster `tune` starts for itself serves this machine only: every socket its processes listen on (Ray's
GCS, raylet, object manager, agents, workers) is bound to loopback, none to all interfaces or a public address."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workers.reaper import marked

pytestmark = [pytest.mark.ray, pytest.mark.slow]

SCRIPT = """
import os, time
open(os.path.join(os.environ["MARK_DIR"], "started-%d" % os.getpid()), "w").close()
time.sleep(30)
"""

LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp*


def _listening() -> dict[int, str]:
    """socket inode -> local address of every listening TCP socket on the machine (IPv4 and IPv6)."""
    found = {}
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != LISTEN:
                continue
            host_hex, port_hex = fields[1].split(":")
            found[int(fields[9])] = _address(host_hex, width) + f":{int(port_hex, 16)}"
    return found


def _address(host_hex: str, width: int) -> str:
    raw = bytes.fromhex(host_hex)
    if width == 8:  # little-endian IPv4
        return ".".join(str(b) for b in raw[::-1])
    words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]  # four little-endian 32-bit words
    data = b"".join(words)
    if data[:12] == b"\0" * 10 + b"\xff\xff":
        return ".".join(str(b) for b in data[12:])  # IPv4-mapped
    return "[" + ":".join(data[i:i + 2].hex() for i in range(0, 16, 2)) + "]"


def _descendants(root: int) -> set[int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = {root}, {root}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier and p not in found}
        found |= frontier
    return found


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass
    return inodes


def test_an_embedded_cluster_listens_on_loopback_only(workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    (workdir / "train.py").write_text(SCRIPT)
    marks = tmp_path_factory.mktemp("marks")  # outside the project: in its view a trial's writes are its own
    token = str(os.getpid())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUNER_", "RAY_"))}
    env.update(MARK_DIR=str(marks), TUNER_TEST_LOOPBACK=token)
    proc = subprocess.Popen([sys.executable, "-m", "tuner", "train.py", "--flag", "x=1,2", "--yes", "-q"],
                            cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(list(marks.iterdir())) < 2 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.2)
        assert len(list(marks.iterdir())) == 2, "the trials never started"
        time.sleep(1.0)  # the agents finish binding
        listening = _listening()
        pids = _descendants(proc.pid) | set(marked(token, "TUNER_TEST_LOOPBACK"))  # the agents leave the tree
        bound = {listening[i]: pid for pid in pids for i in _socket_inodes(pid) if i in listening}
        assert len(bound) >= 3, bound  # GCS, raylet and more: the check saw the cluster's servers
        wide = {address: pid for address, pid in bound.items()
                if not (address.startswith("127.") or address.startswith("[0000:0000:0000:0000:0000:0000:0000:0001]"))}
        names = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
                 for pid in wide.values() if Path(f"/proc/{pid}/cmdline").exists()}
        assert not wide, f"listening beyond loopback: {[(a, names.get(p, p)) for a, p in wide.items()]}"
        # what workers.embedded changes in Ray's start still takes effect on this Ray: the driver finds Ray's
        # autoscaler monitor among its children (it kills it before ray.shutdown, which would otherwise wait 1 s
        # for it), and no dashboard head was started (Ray starts one even with include_dashboard=False)
        from workers.embedded import autoscaler_monitors, dashboard_heads

        assert len(autoscaler_monitors(proc.pid)) == 1
        assert dashboard_heads(pids) == [], "Ray started its dashboard head for an embedded cluster"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
