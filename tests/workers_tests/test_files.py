"""Atomic writes honour the umask (a shared runs directory stays readable to the team)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from workers.files import atomic_write_text


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_get_the_mode_open_would_give(tmp_path: Path, umask: int, mode: int) -> None:
    before = os.umask(umask)
    try:
        atomic_write_text(str(tmp_path / "run.json"), "{}\n")
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
    finally:
        os.umask(before)
    assert stat.S_IMODE((tmp_path / "run.json").stat().st_mode) == mode == stat.S_IMODE(plain.stat().st_mode)
