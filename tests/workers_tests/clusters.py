"""Ray clusters started the way users start them: `ray start` in a clean environment, stopped by pid.

Never `ray stop`: it stops every Ray cluster on the machine, other people's included. Every process of a
cluster started here carries TUNER_TEST_CLUSTER=<id> in its environment; that is how it is found and stopped.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

BIN = str(Path(sys.executable).parent)
#: this checkout: first on the path of every process started here, so they run the code under test (not whatever
#: checkout the venv happens to have installed)
REPO = str(Path(__file__).resolve().parents[2])
MARK = "TUNER_TEST_CLUSTER"


def under_tmp() -> list[str]:
    """The folders under /tmp this test session runs from: the checkout (every process' PYTHONPATH) and the
    Python environment (the venv of a clone made in the system temp folder, `ray` and `python` in it). A node that
    hides /tmp behind a tmpfs (tests/workers_tests/test_two_nodes.py) must show these again, or it cannot even
    start (`.venv/bin/ray: not found`); the test's own project folder stays hidden."""
    kept: list[str] = []
    for path in sorted({os.path.abspath(p) for p in (REPO, BIN, sys.prefix, sys.base_prefix)}):
        if path.startswith("/tmp/") and not any(path.startswith(k + "/") for k in kept):
            kept.append(path)
    return kept


def hide_tmp_but(paths: list[str]) -> str:
    """Shell steps for inside a private mount namespace: a fresh tmpfs over /tmp, with each of `paths` (folders
    under /tmp) still there. Bound aside first (a tmpfs over /mnt, in this namespace only), then moved back onto
    the new /tmp: a bind mount cannot come from another mount namespace, so they cannot be bound back from the
    outside afterwards."""
    import shlex

    if not paths:
        return "mount -t tmpfs tmpfs /tmp"
    aside = ["mount -t tmpfs tmpfs /mnt"]
    back = ["mount -t tmpfs tmpfs /tmp"]
    for i, path in enumerate(paths):
        quoted = shlex.quote(path)
        aside += [f"mkdir /mnt/{i}", f"mount --bind {quoted} /mnt/{i}"]
        back += [f"mkdir -p {quoted}", f"mount --move /mnt/{i} {quoted}"]
    return " && ".join(aside + back)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """What a fresh login shell has: PATH and HOME, nothing of Ray's or the test process' settings (PYTHONPATH:
    only this checkout)."""
    return {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
            "PYTHONPATH": REPO, **extra}


def marked_pids(mark: str) -> list[int]:
    needle = f"{MARK}={mark}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if needle in handle.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


class Cluster:
    """A head node started by `ray start --head --port=PORT --block` (a child of the test, killed by pid)."""

    def __init__(self, home: Path, env: dict[str, str] | None = None, num_cpus: int = 2,
                 extra_args: tuple[str, ...] = ()) -> None:
        self.home = home
        self.mark = uuid.uuid4().hex
        self.port, self.client_port = free_port(), free_port()
        self.address = f"127.0.0.1:{self.port}"
        args = [f"{BIN}/ray", "start", "--head", f"--port={self.port}", f"--num-cpus={num_cpus}",
                "--node-ip-address=127.0.0.1", "--include-dashboard=false", "--disable-usage-stats",
                f"--ray-client-server-port={self.client_port}", f"--dashboard-agent-listen-port={free_port()}",
                *extra_args]
        self.env = clean_env(home, **{MARK: self.mark, **(env or {})})
        self.proc = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=120)
        if self.proc.returncode != 0:
            self.stop()
            raise RuntimeError(f"ray start failed:\n{self.proc.stdout}\n{self.proc.stderr}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the Ray Client server comes up a moment after `ray start` returns
            try:
                socket.create_connection(("127.0.0.1", self.client_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)

    def stop(self) -> None:
        for _ in range(3):
            pids = marked_pids(self.mark)
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.5)


def run_tune_clean(*args: str, cwd: Path, home: Path, timeout: float = 180,
                   **env: str) -> subprocess.CompletedProcess[str]:
    """`tune` as a user types it in a fresh shell: no RAY_*, TUNER_* or anything else from the test process."""
    return subprocess.run([sys.executable, "-m", "tuner", *args], cwd=cwd, env=clean_env(home, **env),
                          capture_output=True, text=True, timeout=timeout)


def generate_token(home: Path) -> str:
    """`ray get-auth-token --generate`, as Ray's docs tell users to do: the token lands in ~/.ray/auth_token."""
    subprocess.run([f"{BIN}/ray", "get-auth-token", "--generate"], env=clean_env(home), capture_output=True,
                   check=True, timeout=60)
    return (home / ".ray" / "auth_token").read_text().strip()
