"""A trial's checkpoint folder on nodes that do not share the driver's filesystem.

The folder lives on the driver's disk (the sweep's trial folder). A trial sent to a node that cannot see it gets it
packed with the task and unpacked into a local folder; while the trial runs, each new checkpoint goes to the driver
through the relay (at most every FORWARD_S), so a node lost mid-trial costs what was saved since; when the run
ends its folder comes home with the run. A task Ray runs again on another node asks the relay for the newest
checkpoint before starting. Packing and unpacking here; the sending is workers.driver's.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import time


def signature(folder: str | None) -> tuple[tuple[str, int, int], ...]:
    """What the folder holds, cheaply compared: (path, size, mtime_ns) of every file."""
    found = []
    for root, _dirs, files in os.walk(folder) if folder else ():
        for name in files:
            path = os.path.join(root, name)
            try:
                stat = os.stat(path)
            except OSError:
                continue
            found.append((os.path.relpath(path, folder), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(found))


def pack(folder: str | None) -> bytes | None:
    """The folder's content as a tarball, None when it holds no file (nothing to carry)."""
    if not signature(folder):
        return None
    from workers.view import tar_member_of_runs

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(str(folder), arcname=".", filter=tar_member_of_runs)
    return buffer.getvalue()


def replace_with(data: bytes, folder: str) -> None:
    """`folder` becomes exactly what `data` holds: unpacked (as data, workers.archive) beside it, then swapped in,
    so the folder is never half old and half new."""
    from workers.archive import unpack

    parent = os.path.dirname(os.path.abspath(folder))
    os.makedirs(parent, exist_ok=True)
    stamp = f"{os.getpid()}-{time.time_ns()}"
    staging = os.path.join(parent, f".{os.path.basename(folder)}.in-{stamp}")
    unpack(data, staging)
    old = os.path.join(parent, f".{os.path.basename(folder)}.old-{stamp}")
    if os.path.exists(folder):
        os.rename(folder, old)
    os.rename(staging, folder)
    shutil.rmtree(old, ignore_errors=True)
