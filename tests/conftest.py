"""Shared fixtures: an isolated working directory per test, script writing, and one Ray cluster per session."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]

# Property-based tests (hypothesis): a bounded number of examples so the suite stays fast in CI, no deadline
# (a loaded 2-core runner makes per-example timing noise, and timing claims live in bench/); HYPOTHESIS_PROFILE=
# thorough for a long hunt on a quiet machine.
settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session", autouse=True)
def interruptible_children() -> None:
    """Processes the tests start can be interrupted the way a terminal's Ctrl-C interrupts them, however pytest
    was started. A shell without job control starts a background job (`pytest &`, `nohup pytest`) with SIGINT
    ignored, and an ignored signal stays ignored across exec: every `tune` a test started then shrugged off the
    SIGINT the Ctrl-C tests send it. A handled signal is reset to the default at exec, so handling it here (as
    Python does when started normally) gives each child the default disposition back."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory with no TUNER_* settings leaking in from the environment."""
    for key in list(os.environ):
        if key.startswith("TUNER_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def write_script(workdir: Path) -> Callable[..., Path]:
    def write(name: str, body: str) -> Path:
        path = workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
        return path
    return write


def run_tune(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120,
             stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real `tune` command line, in a subprocess, as a user types it."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "tuner", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout, input=stdin)


@pytest.fixture(scope="session")
def ray_cluster() -> str:
    """One real local Ray cluster for the whole session, with 4 logical GPUs for scheduling tests."""
    ray = pytest.importorskip("ray")
    from workers.cluster import this_process

    this_process().stop_kept()  # a sweep of an earlier test started Ray in this process and kept it (a notebook's way)
    # address="local": a cluster of our own, even when a `ray start` one runs on this machine
    context = ray.init(address="local", num_cpus=2, num_gpus=4, include_dashboard=False, log_to_driver=False,
                       _node_ip_address="127.0.0.1",
                       configure_logging=False, logging_level="ERROR")
    yield context.address_info["gcs_address"]
    ray.shutdown()
