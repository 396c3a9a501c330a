"""Git commit, branch and dirty state of the script's repository, so a run can be reproduced."""

from __future__ import annotations

import subprocess
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class GitInfo:
    commit: str | None
    branch: str | None
    dirty: bool
    root: str | None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _git(cwd: str, *args: str) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


def git_info(folder: str) -> GitInfo | None:
    """None outside a repository (or without git)."""
    root = _git(folder, "rev-parse", "--show-toplevel")
    if root is None:
        return None
    commit = _git(folder, "rev-parse", "HEAD")
    branch = _git(folder, "rev-parse", "--abbrev-ref", "HEAD")
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    return GitInfo(commit=commit.strip() if commit else None, branch=branch.strip() if branch else None,
                   dirty=bool(status and status.strip()), root=root.strip())


def git_diff(folder: str) -> str:
    """The uncommitted changes to tracked files (what `git apply` needs on top of the commit)."""
    return _git(folder, "diff", "HEAD", "--binary") or ""
