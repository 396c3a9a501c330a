"""A sweep's driver run on the cluster through Ray's job submission (the `cluster` extra, ray[default]), so the
user's machine can disconnect: submit it, read its output, wait for it, and bring its runs home.

The only channel is the cluster's job API (its dashboard address, `http://HEAD:8265`), the one port a laptop
usually reaches. The runs come home the same way: a small job packs the submission's runs directory and
prints it (`python -m workers.jobs pack DIR`: a gzip tarball in base64 between two marker lines), which
`fetch_runs` reads from that job's log. Simple and dependency-free; it suits the metadata, metrics and
modest artifacts of a sweep (the log is held in memory: a sweep with gigabytes of checkpoints should write
them to shared storage instead).
"""

from __future__ import annotations

import base64
import io
import os
import shlex
import sys
import tarfile
import time
from typing import Any, Callable

BEGIN, END = "----- tuner runs archive begin -----", "----- tuner runs archive end -----"
#: job states after which nothing changes (Ray's JobStatus values)
FINAL = ("SUCCEEDED", "FAILED", "STOPPED")


class JobError(RuntimeError):
    """The cluster's job API refused or could not be reached; the message says which and how to fix it."""


def _client(address: str) -> Any:
    import logging

    logging.getLogger("ray.dashboard.modules.dashboard_sdk").setLevel(logging.WARNING)  # "already uploaded" notes
    try:
        from ray.job_submission import JobSubmissionClient
    except ImportError as exc:  # ray without its `default` extra
        raise JobError(f"submitting needs Ray's job API ({exc}); install the cluster extra: "
                       "pip install 'tuner-sweeps[cluster]'") from None
    try:
        return JobSubmissionClient(address)
    except Exception as exc:  # noqa: BLE001 - ConnectionError, ValueError for a malformed address ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise JobError(f"cannot reach the cluster's job API at {address} ({first}); give the dashboard "
                       "address of the head node, e.g. http://HEAD:8265 (`ray start --head` prints it)") from None


def submit(address: str, entrypoint: str, submission_id: str, working_dir: str, excludes: list[str]) -> str:
    """Start `entrypoint` as a job with `working_dir` uploaded (Ray's runtime_env); returns the job's id."""
    client = _client(address)
    try:
        return str(client.submit_job(entrypoint=entrypoint, submission_id=submission_id,
                                     runtime_env={"working_dir": working_dir, "excludes": excludes}))
    except Exception as exc:  # noqa: BLE001 - Ray raises RuntimeError with the server's answer
        raise JobError(f"the cluster at {address} refused the job: {str(exc).strip().splitlines()[-1]}") from None


def status(address: str, job_id: str) -> str:
    try:
        return str(_client(address).get_job_status(job_id).value)
    except JobError:
        raise
    except Exception as exc:  # noqa: BLE001 - an unknown id
        raise JobError(f"job {job_id} at {address}: {str(exc).strip().splitlines()[-1]}") from None


def logs(address: str, job_id: str) -> str:
    return str(_client(address).get_job_logs(job_id))


def follow(address: str, job_id: str, write: Callable[[str], Any]) -> str:
    """Write the job's output as it comes (Ray streams it: nothing is read twice) until the job ends; returns its
    final state."""
    import asyncio

    client = _client(address)

    async def tail() -> None:
        async for text in client.tail_job_logs(job_id):
            write(text)

    asyncio.run(tail())
    return wait(address, job_id, timeout_s=30.0)  # the stream ends as the job does: its state settles at once


def wait(address: str, job_id: str, timeout_s: float, poll_s: float = 0.5) -> str:
    client = _client(address)
    deadline = time.monotonic() + timeout_s
    while True:
        state = str(client.get_job_status(job_id).value)
        if state in FINAL or time.monotonic() > deadline:
            return state
        time.sleep(poll_s)


def fetch_runs(address: str, runs_dir: str, job_id: str, timeout_s: float = 600.0) -> bytes:
    """The gzip tarball of `runs_dir` on the cluster, through a job that packs it (see the module docstring)."""
    entry = f"python -m workers.jobs pack {shlex.quote(runs_dir)}"
    client = _client(address)
    try:
        client.submit_job(entrypoint=entry, submission_id=job_id)
    except Exception as exc:  # noqa: BLE001
        raise JobError(f"the cluster at {address} refused the pull job: {str(exc).strip().splitlines()[-1]}") from None
    state = wait(address, job_id, timeout_s)
    text = str(client.get_job_logs(job_id))
    if state != "SUCCEEDED" or BEGIN not in text or END not in text:
        tail = text.strip().splitlines()[-1:] or [state]
        raise JobError(f"packing {runs_dir} on the cluster ended {state}: {tail[0]}")
    return packed_data(text)


def packed_data(text: str) -> bytes:
    """The tarball `pack` printed, from the output that holds it (a job's log)."""
    body = text.split(BEGIN, 1)[1].split(END, 1)[0]
    return base64.b64decode("".join(body.split()))


def _no_devices(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Packing for `tune pull`: device files and pipes (an overlay whiteout a killed run left) are no files; links
    travel as they are, so the unpacking side (workers.archive, which never follows or makes an escaping link) can
    leave out the ones it cannot carry and say which (the user sees what did not come home)."""
    return None if info.ischr() or info.isblk() or info.isfifo() else info


def pack(runs_dir: str) -> None:
    """Print `runs_dir` as a base64 gzip tarball between the markers (what fetch_runs reads back)."""
    from workers.view import WORK_PREFIX

    folder = os.path.expanduser(runs_dir)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        if os.path.isdir(folder):
            for name in sorted(os.listdir(folder)):
                if not name.startswith(WORK_PREFIX):  # a view's work folder of a run still going: not a run
                    tar.add(os.path.join(folder, name), arcname=name, filter=_no_devices)
    data = base64.b64encode(buffer.getvalue()).decode()
    out = sys.stdout
    out.write(f"\n{BEGIN}\n")
    for start in range(0, len(data), 76):
        out.write(data[start:start + 76] + "\n")
    out.write(f"{END}\n")
    out.flush()


if __name__ == "__main__":  # python -m workers.jobs pack DIR (run on the cluster by fetch_runs)
    if len(sys.argv) == 3 and sys.argv[1] == "pack":
        pack(sys.argv[2])
    else:
        sys.exit("usage: python -m workers.jobs pack RUNS_DIR")
