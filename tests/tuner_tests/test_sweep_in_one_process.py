"""A notebook's sweeps: `tuning_run` called again in one Python process finds the Ray that its first call started
(workers.cluster keeps the embedded cluster until the process exits), with this call's environment; and a process
killed outright leaves no Ray process behind (its reaper finds them by the token they carry)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Callable

import pytest

from workers.reaper import descendants, marked, still_alive

pytestmark = [pytest.mark.slow, pytest.mark.ray]

NOTEBOOK = textwrap.dedent("""
    import json, os, sys
    import ray
    from tuner import training_run, tuning_run

    def cells(frame):
        return [open(os.path.join(d, "cell.txt")).read() for d in frame.run_dir]

    def gcs():  # not ray.get_runtime_context() alone: where Ray is not initialized, it joins any cluster it finds
        return ray.get_runtime_context().gcs_address if ray.is_initialized() else None

    os.environ["CELL"] = "one"
    first = tuning_run("train.py", flags={"x": [1, 2]}, confirm=False, quiet=True)
    first_gcs = gcs()
    training_run("train.py", flags={"x": 3}, echo=False)  # no Ray: leaves the cluster as it is
    os.environ["CELL"] = "two"  # set between two cells: the kept cluster's trials see it
    second = tuning_run("train.py", flags={"x": [1, 2]}, confirm=False, quiet=True)
    print(json.dumps({"gcs": [first_gcs, gcs()],
                      "token": os.environ["TUNER_DRIVER_TOKEN"], "cells": [cells(first), cells(second)],
                      "status": list(first.status) + list(second.status)}), flush=True)
    sys.stdin.read()  # the kernel waits for its next cell: killed here
""")


def test_a_second_tuning_run_finds_ray_running_and_a_killed_process_leaves_nothing(
        workdir: Path, write_script: Callable[..., Path]) -> None:
    write_script("train.py", """
        import os
        open(os.path.join(os.environ["TUNER_RUN_DIR"], "cell.txt"), "w").write(os.environ.get("CELL", ""))
        print("loss: 0.5")
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUNER_", "RAY_"))}
    kernel = subprocess.Popen([sys.executable, "-c", NOTEBOOK], cwd=workdir, env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = kernel.stdout.readline() if kernel.stdout else ""
        if not line:
            kernel.kill()
            pytest.fail(f"the notebook process ended: {kernel.communicate(timeout=30)[1][-3000:]}")
        seen = json.loads(line)
        first_gcs, second_gcs = seen["gcs"]
        assert first_gcs is not None and first_gcs == second_gcs  # still running, the same: the second started none
        assert seen["status"] == ["finished"] * 4
        assert seen["cells"] == [["one", "one"], ["two", "two"]]  # each call's trials with that call's environment
        # the Ray it keeps: every process under the notebook's, and what carries its token (Ray's agents leave the
        # tree); the reaper itself carries the token too
        ray_processes = {**descendants(kernel.pid), **marked(seen["token"])}
        assert len(ray_processes) >= 3  # the GCS, the raylet and more
    finally:
        kernel.send_signal(signal.SIGKILL)
        kernel.wait(timeout=30)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (still_alive(ray_processes) or marked(seen["token"])):
        time.sleep(0.5)
    assert still_alive(ray_processes) == {}
    assert marked(seen["token"]) == {}
