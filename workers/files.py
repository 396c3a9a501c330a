"""Crash-safe file writes shared by the trial runner and the run store."""

from __future__ import annotations

import errno
import itertools
import json
import math
import os
import time
from typing import Any, Sequence

#: metric values JSON cannot hold, as metric files write them (text, so every JSON reader parses the file; the
#: spelling flags.json uses, tuner.values.flags_to_json) and as tuner.store.files reads them back: a metric that
#: diverged to inf or NaN is kept, as MLflow keeps it
NONFINITE_TEXT = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _nonfinite_text(value: float) -> str:
    return "nan" if math.isnan(value) else "inf" if value > 0 else "-inf"


def _clean(value: Any, nonfinite_as_text: bool = False) -> Any:
    """JSON has no NaN/Infinity: write them as null so every reader can parse the file (metric files: as text)."""
    if isinstance(value, float) and not math.isfinite(value):
        return _nonfinite_text(value) if nonfinite_as_text else None
    if isinstance(value, dict):
        return {k if isinstance(k, (str, int, float, bool)) or k is None else str(k): _clean(v, nonfinite_as_text)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v, nonfinite_as_text) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        try:
            return _clean(value.item(), nonfinite_as_text)
        except (TypeError, ValueError):
            return str(value)
    return value


def dumps_json(data: Any, indent: int | None = None, nonfinite_as_text: bool = False) -> str:
    """Strict JSON text of `data`: NaN/inf as null (or their text), numpy values as Python's, unknown objects
    as str(). Number, bool and null keys are written as JSON writes them (`1`, `true`, `null`)."""
    try:  # plain JSON data (a journal header with a 10^6-value grid) is written in C, without a cleaning pass
        return json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False, default=_not_plain)
    except (ValueError, TypeError, _NotPlain):  # a NaN/inf, a numpy value, a key JSON has no form for: clean
        pass
    return json.dumps(_clean(data, nonfinite_as_text), indent=indent, ensure_ascii=False, allow_nan=False,
                      default=str)


class _NotPlain(Exception):
    pass


def _not_plain(value: Any) -> Any:
    raise _NotPlain


def numbers_from_text(record: dict[str, Any]) -> dict[str, Any]:
    """A metric record as written with `nonfinite_as_text`: "nan", "inf", "-inf" are floats again."""
    return {k: NONFINITE_TEXT.get(v, v) if isinstance(v, str) else v for k, v in record.items()}


def rows_from_text(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """numbers_from_text of every row, or the rows as they are where no value is such text: one pass in C over the
    values (a listing of 10^4 runs reads ~2*10^5 metric rows); a value that cannot be hashed (a list) means maybe."""
    try:
        plain = NONFINITE_TEXT.keys().isdisjoint(itertools.chain.from_iterable(map(dict.values, rows)))
    except TypeError:
        plain = False
    return rows if plain else [numbers_from_text(row) for row in rows]


def is_disk_full(exc: BaseException | None) -> bool:
    """A write failed because the device is full (or the user's quota is): nothing more can be recorded there."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


#: temp files of atomic writes; one left by a killed writer is removed by clean_stale_temp_files
TMP_PREFIX = ".tmp-"
#: a temp file older than this is an interrupted write (a live write takes milliseconds)
STALE_TMP_S = 60.0


def clean_stale_temp_files(folder: str, max_age_s: float = STALE_TMP_S) -> int:
    """Remove temp files of interrupted atomic writes in `folder` (older than `max_age_s`); how many."""
    removed = 0
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(TMP_PREFIX):
            continue
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime > max_age_s and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue
    return removed


def _create_temp(folder: str, mode: int = 0o666) -> tuple[int, str]:
    """A new temp file in `folder`, created with `mode` (0666) for the kernel to apply the umask to, as open() does
    (mkstemp makes 0600, and reading the umask back costs a /proc read per write)."""
    for _ in range(100):
        # os.urandom is what secrets.token_hex reads; the secrets module costs every `import tuner` ~5 ms (hmac)
        tmp = os.path.join(folder, f"{TMP_PREFIX}{os.getpid()}-{os.urandom(6).hex()}")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {folder}")


def atomic_write_text(path: str, text: str, mode: int = 0o666) -> None:
    """Write via a temp file in the same folder and rename, so readers see the old or the new file, never half.

    No fsync: the rename is atomic against a crash of any process, which is the failure that matters for a
    run's metadata; an fsync per write would cost ~1 ms on every heartbeat and trial start. The sweep journal,
    the record of what finished, does fsync each append. `mode` (less the umask) is given when the file is
    created, never by a chmod afterwards: a chmod by name follows whatever link is at that name by then. The
    rename replaces a link at `path` itself, never the file it points to.
    """
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = _create_temp(folder, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_json(path: str, data: Any, nonfinite_as_text: bool = False) -> None:
    atomic_write_text(path, dumps_json(data, indent=2, nonfinite_as_text=nonfinite_as_text) + "\n")


def append_json_line(path: str, data: Any, nonfinite_as_text: bool = False) -> None:
    """One record per line, written with a single write() so concurrent appends do not interleave."""
    line = dumps_json(data, nonfinite_as_text=nonfinite_as_text) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


def loads_json(text: str | bytes) -> Any:
    """json.loads, with a document nested past Python's stack (`[[[[...`, 10^5 deep: a RecursionError) a ValueError
    like any other damaged JSON, so every reader that tolerates a damaged file tolerates this one."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def read_json(path: str) -> Any:
    # bytes in, one parse: measurably faster than a text-mode json.load when listing thousands of runs
    with open(path, "rb") as handle:
        return loads_json(handle.read())


def read_json_lines(path: str) -> tuple[list[dict[str, Any]], int]:
    """Records of a JSON-lines file and how many lines were unreadable (a torn last line after a crash)."""
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return [], 0
    lines = [line for line in (raw.strip() for raw in text.splitlines()) if line]
    if not lines:
        return [], 0
    # Fast path: one parse of the whole file (one decoder call instead of one per line matters for
    # listing thousands of runs); any doubt falls back to the line-by-line parse below.
    try:
        values = loads_json("[" + ",".join(lines) + "]")
    except ValueError:
        values = None
    if values is not None and len(values) == len(lines):
        whole = [v for v in values if isinstance(v, dict)]
        return whole, len(values) - len(whole)
    records: list[dict[str, Any]] = []
    bad = 0
    for line in lines:
        try:
            record = loads_json(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            bad += 1
    return records, bad


#: never shipped with the project: version control, virtual environments, caches (gitignore patterns, for Ray's
#: runtime_env `excludes`; Ray also honours the project's .gitignore and .rayignore)
SHIP_EXCLUDES = (".git/", ".hg/", ".svn/", ".venv*/", "venv/", "__pycache__/", "*.pyc", ".mypy_cache/",
                 ".pytest_cache/", ".ruff_cache/", ".ipynb_checkpoints/", ".tox/", ".nox/")


def ship_excludes(project: str, exclude: Sequence[str] = ()) -> list[str]:
    """SHIP_EXCLUDES plus the given folders (the runs directory) that lie inside `project`, anchored there."""
    patterns = list(SHIP_EXCLUDES)
    root = os.path.realpath(project)
    for path in exclude:
        real = os.path.realpath(path)
        if real.startswith(root + os.sep):
            patterns.append("/" + os.path.relpath(real, root).replace(os.sep, "/") + "/")
    return patterns


def cache_dir() -> str:
    """The user's cache folder for tuner (`$XDG_CACHE_HOME/tuner`): the warm cluster's and the standby's state,
    the parsed copy of the packaged defaults, the key that signs what this user wrote (tuner.store.signing)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tuner")


def private_dir(path: str) -> str | None:
    """`path` as a folder only this user can enter: created 0700 when missing (with its missing parents), one of
    this user's that others could enter tightened to 0700; None when it cannot be one (a link, not a folder,
    another user's, not creatable). The check and the chmod go through one descriptor opened without following
    a link, so nothing swapped in between is ever changed. Pages (tuner.report) are written in such a folder:
    they hold a run's output and source."""
    nofollow = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        fd = os.open(path, nofollow)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if info.st_uid != os.getuid():
            return None
        if info.st_mode & 0o077:
            os.fchmod(fd, 0o700)
    except OSError:
        return None
    finally:
        os.close(fd)
    return path


#: mode bits by which a file or folder can be changed by someone other than its owner
_OTHERS_WRITE = 0o022


def is_own(st: os.stat_result) -> bool:
    """Made by this user and changeable by nobody else: what tuner trusts in its cache folder. Its files name the
    processes `tune cluster down` stops, the cluster a sweep joins, the socket a command (with its environment)
    is handed to, the settings' defaults and the signing key: a file another user could have written or
    replaced there would decide what runs."""
    return st.st_uid == os.getuid() and not st.st_mode & _OTHERS_WRITE


def private_cache_dir() -> str:
    """cache_dir() as a folder only this user can enter (private_dir: made 0700, or tightened to it), under folders
    no other user can change (each this user's or root's, and not writable by others unless sticky, like /tmp, where
    nobody renames what is not theirs: as ssh checks ~/.ssh); PermissionError naming why it is not one."""
    folder = private_dir(cache_dir())
    if folder is None:
        raise PermissionError(errno.EPERM, f"{cache_dir()} is not a folder of this user's", cache_dir())
    parent = os.path.dirname(os.path.abspath(folder))
    while True:
        up = os.stat(parent)
        if up.st_uid not in (0, os.getuid()) or (up.st_mode & _OTHERS_WRITE and not up.st_mode & 0o1000):
            raise PermissionError(errno.EPERM, f"{parent} (above {folder}) can be changed by another user", parent)
        if os.path.dirname(parent) == parent:
            return folder
        parent = os.path.dirname(parent)


def read_json_file(path: str) -> dict[str, Any] | None:
    """A JSON object kept in the cache folder, None when missing or damaged: these files are rewritten whole,
    so a bad one is as good as none. So is one another user could have written (is_own), and a link."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            if not is_own(os.fstat(handle.fileno())):
                return None
            data = loads_json(handle.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json_file(path: str, data: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)  # the user's own: it names their sockets
    atomic_write_text(path, json.dumps(data), mode=0o600)  # 0600 (or less) under any umask: read_json_file checks is_own
