"""A tarball of runs unpacked as data, never as instructions: `tune pull` (a cluster's runs directory) and the
relay of a remote run (workers.shipping) come through here.

What an archive cannot do: write outside the destination (absolute names, `..`), write through a link (links
are made last, and every folder is opened without following one), make a device, a pipe or a hard link (a hard
link to a file unpacked before from the same archive becomes a copy of it), or leave a symbolic link that leads
out of its folder: an absolute link, one whose target climbs out, or a chain of links that ends outside, checked
again once all are made. Each entry left out is named with the reason, and one bad entry never costs the
others: a run a killed trial left with links to its project still comes home, without those links. A full disk
is not an entry's fault: it stops the unpack (OSError) for the caller to say so in one line.

File modes are kept as data: owner read/write always, execute only where the owner had it, never setuid,
setgid, sticky or group/other write. Modification times are kept (a pulled file is newer or older than a local
copy by them).
"""

from __future__ import annotations

import errno
import io
import os
import posixpath
import stat
import tarfile
from dataclasses import dataclass
from typing import IO

from workers.files import is_disk_full

_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Skipped:
    """An entry of the archive that was not unpacked, and why."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} ({self.reason})"


class ArchiveError(ValueError):
    """The data is not a tar archive at all (nothing was unpacked)."""


class _Blocked(Exception):
    pass


def unpack(data: bytes | IO[bytes], dest: str, scope_depth: int = 0) -> list[Skipped]:
    """Unpack the tar archive `data` (gzip or plain) into the folder `dest` (created); returns what was left out.

    `scope_depth`: how many leading parts of an entry's name make the folder its links must stay in: 0 for the
    whole destination (one run's folder), 1 for each top-level folder (a runs directory: a link may not lead
    from one run into another, or out of the runs directory)."""
    os.makedirs(dest, exist_ok=True)
    skipped: list[Skipped] = []
    files: dict[tuple[str, ...], tarfile.TarInfo] = {}
    links: list[tuple[tuple[str, ...], str, tarfile.TarInfo]] = []
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data) if isinstance(data, bytes) else data, mode="r:*")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError(f"not a tar archive ({exc})") from None
    root = os.open(dest, _DIR_FLAGS)
    try:
        with tar:
            try:
                for member in tar:
                    problem = _unpack_member(tar, member, root, files, links)
                    if problem:
                        skipped.append(Skipped(member.name, problem))
            except (tarfile.TarError, EOFError, OSError, ValueError) as exc:  # cut short: keep what came
                if isinstance(exc, OSError) and is_disk_full(exc):
                    raise
                skipped.append(Skipped("(the rest of the archive)", f"unreadable: {exc}"))
            made = []
            for parts, target, member in links:
                problem = _scope_problem(parts, target, scope_depth) or _make_link(root, parts, target, member)
                if problem:
                    skipped.append(Skipped(member.name, problem))
                else:
                    made.append((parts, target, member))
            skipped += _unmake_escaping_links(dest, made, scope_depth)
    finally:
        os.close(root)
    return skipped


def _parts(name: str) -> tuple[str, ...] | None:
    """The path parts of an entry's name, None for one that would leave the destination."""
    if name.startswith("/") or name.startswith("\\") or "\0" in name:
        return None
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        return None
    return parts


def _unpack_member(tar: tarfile.TarFile, member: tarfile.TarInfo, root: int,
                   files: dict[tuple[str, ...], tarfile.TarInfo],
                   links: list[tuple[tuple[str, ...], str, tarfile.TarInfo]]) -> str | None:
    parts = _parts(member.name)
    if parts is None:
        return "an absolute name or one with '..': it would land outside the destination"
    if not parts:
        return None  # the archive's root folder
    if member.issym():
        links.append((parts, member.linkname, member))
        return None
    if member.islnk():  # a file the archive already holds (tar stores a second name of an inode so: runs share
        # their snapshot's files): a copy of its data, never a link to anything on this disk
        target = _parts(member.linkname)
        if target is None or target not in files:
            return f"a hard link to '{member.linkname}', which is not a file unpacked from the archive"
        source = files[target]
    elif member.isreg():
        source = member
    elif member.isdir():
        try:
            os.close(_open_dir(root, parts, create=True))
        except _Blocked as exc:
            return str(exc)
        return None
    else:
        return "a device file, pipe or other special file"
    try:
        folder = _open_dir(root, parts[:-1], create=True)
    except _Blocked as exc:
        return str(exc)
    try:
        stream = tar.extractfile(source)
        if stream is None:
            return "no data for it in the archive"
        problem = _write_file(folder, parts[-1], stream, _file_mode(member.mode), int(member.mtime))
    finally:
        os.close(folder)
    if problem is None:
        files[parts] = source
    return problem


def _file_mode(mode: int) -> int:
    """tarfile's "data" filter rule: no special bits or group/other write; execute only with the owner's."""
    mode &= 0o755
    if not mode & stat.S_IXUSR:
        mode &= ~0o111
    return mode | stat.S_IRUSR | stat.S_IWUSR


def _open_dir(root: int, parts: tuple[str, ...], create: bool) -> int:
    """A descriptor of the folder `parts` under `root`, each step opened without following a link."""
    fd = os.dup(root)
    for part in parts:
        try:
            if create:
                try:
                    os.mkdir(part, 0o777, dir_fd=fd)
                except FileExistsError:
                    pass
            step = os.open(part, _DIR_FLAGS, dir_fd=fd)
        except OSError as exc:
            os.close(fd)
            if is_disk_full(exc):
                raise  # not this entry's fault: the caller stops (a full disk is one line, not a list of entries)
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise _Blocked(f"'{part}' on its way is a link or a file, not a folder") from None
            raise _Blocked(f"cannot make its folder '{part}': {exc.strerror or exc}") from None
        os.close(fd)
        fd = step
    return fd


def _write_file(folder: int, name: str, stream: IO[bytes], mode: int, mtime: int) -> str | None:
    tmp = f".tmp-unpack-{os.getpid()}-{os.urandom(4).hex()}"
    try:
        fd = os.open(tmp, _NEW_FILE, 0o600, dir_fd=folder)
    except OSError as exc:
        if is_disk_full(exc):
            raise
        return f"cannot write it: {exc.strerror or exc}"
    try:
        with os.fdopen(fd, "wb") as out:
            while True:
                chunk = stream.read(_CHUNK)
                if not chunk:
                    break
                out.write(chunk)
            out.flush()
            os.fchmod(out.fileno(), mode)
            os.utime(out.fileno(), (mtime, mtime))
        os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)  # a link in its place is replaced, not followed
    except (OSError, tarfile.TarError) as exc:
        try:
            os.unlink(tmp, dir_fd=folder)
        except OSError:
            pass
        if isinstance(exc, OSError) and is_disk_full(exc):
            raise
        if isinstance(exc, IsADirectoryError):
            return "a folder of the same name is in its place"
        return f"cannot write it: {getattr(exc, 'strerror', None) or exc}"
    return None


def _scope_problem(parts: tuple[str, ...], target: str, scope_depth: int) -> str | None:
    """Why the link `parts` -> `target` cannot be kept as it is written (before any link is made), or None."""
    where = "run" if scope_depth else "folder"
    if len(parts) <= scope_depth:
        return f"a link in place of a {where} (to {target})"
    if not target or "\0" in target:
        return "a link with no target"
    if target.startswith("/") or target.startswith("\\"):
        return f"an absolute link (to {target}): it means nothing here"
    resolved = posixpath.normpath(posixpath.join(*parts[:-1], target))
    inside = () if resolved == "." else tuple(resolved.split("/"))
    if ".." in inside or inside[:scope_depth] != parts[:scope_depth]:
        return f"a link to {target}, outside its {where}"
    return None


def _make_link(root: int, parts: tuple[str, ...], target: str, member: tarfile.TarInfo) -> str | None:
    try:
        folder = _open_dir(root, parts[:-1], create=True)
    except _Blocked as exc:
        return str(exc)
    tmp = f".tmp-unpack-{os.getpid()}-{os.urandom(4).hex()}"
    try:
        os.symlink(target, tmp, dir_fd=folder)
        try:
            os.replace(tmp, parts[-1], src_dir_fd=folder, dst_dir_fd=folder)
        except OSError:
            os.unlink(tmp, dir_fd=folder)
            raise
        try:
            os.utime(parts[-1], (member.mtime, member.mtime), dir_fd=folder, follow_symlinks=False)
        except (OSError, NotImplementedError):
            pass
    except IsADirectoryError:
        return "a folder of the same name is in its place"
    except OSError as exc:
        if is_disk_full(exc):
            raise
        return f"cannot make the link: {exc.strerror or exc}"
    finally:
        os.close(folder)
    return None


def _unmake_escaping_links(dest: str, made: list[tuple[tuple[str, ...], str, tarfile.TarInfo]],
                           scope_depth: int) -> list[Skipped]:
    """Links each lead inside their folder when made, but together they may not (`a -> b/../x` then `b -> .`):
    resolve every one as the system will, remove those that end outside, and again until none does."""
    base = os.path.realpath(dest)
    removed: list[Skipped] = []
    alive = list(made)
    changed = True
    while changed:
        changed = False
        for item in list(alive):
            parts, target, member = item
            path = os.path.join(dest, *parts)
            scope = os.path.join(base, *parts[:scope_depth])
            real = os.path.realpath(path)
            if real == scope or real.startswith(scope + os.sep):
                continue
            try:
                os.unlink(path)
            except OSError:
                pass
            alive.remove(item)
            removed.append(Skipped(member.name, f"a link to {target}, which leads outside its "
                                                f"{'run' if scope_depth else 'folder'} through other links"))
            changed = True
    return removed
