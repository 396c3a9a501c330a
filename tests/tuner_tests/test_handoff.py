"""A command goes to the warm cluster's standby driver only when one fits this process; anything else (no standby,
another environment, older code, a dead socket, a refusal) runs the command here, as if there were none.
The real hand-over, with Ray, is in tests/workers_tests/test_warm_cluster.py."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest

from tests.conftest import run_tune
from tuner.cli import handoff


@pytest.fixture
def cache(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(workdir / "cache"))
    (workdir / "cache" / "tuner").mkdir(parents=True)
    return workdir / "cache"


def _standby(sock: str, **changes: object) -> None:
    state = {"pid": os.getpid(), "ready": True, "socket": sock, "mark": "m",
             "fingerprint": handoff.fingerprint(dict(os.environ))}
    handoff.write_standby({**state, **changes})


def test_without_a_standby_nothing_is_handed_over(cache: Path) -> None:
    assert handoff.read_standby() is None
    assert handoff.hand_over(["train.py"]) is None


def test_a_standby_for_another_environment_or_older_code_is_not_used(cache: Path, monkeypatch) -> None:
    server = socket.socket(socket.AF_UNIX)
    path = str(cache / "tuner" / "s.sock")
    server.bind(path)
    server.listen(1)
    server.settimeout(0.5)
    try:
        mine = handoff.fingerprint(dict(os.environ))
        _standby(path, fingerprint={**mine, "env": {**mine["env"], "RAY_DEDUP_LOGS": "0"}})
        assert handoff.hand_over(["train.py"]) is None
        _standby(path, fingerprint={**mine, "code": [mine["code"][0], mine["code"][1] - 1]})
        assert handoff.hand_over(["train.py"]) is None
        with pytest.raises(socket.timeout):
            server.accept()  # neither even connected
        # what does not shape the process (a variable of the user's) still matches: it travels with the command
        monkeypatch.setenv("MY_SETTING", "x")
        assert handoff.fingerprint(dict(os.environ)) == mine
    finally:
        server.close()


def test_a_standby_that_refuses_or_is_gone_leaves_the_command_here(cache: Path) -> None:
    path = str(cache / "tuner" / "s.sock")
    _standby(path)
    assert handoff.hand_over(["train.py"]) is None  # no socket there
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)
    seen: list[dict] = []

    def refuse() -> None:
        conn, _ = server.accept()
        _, fds, _, _ = socket.recv_fds(conn, 1, 3)
        seen.append(json.loads(conn.makefile("rb").readline()))
        for fd in fds:
            os.close(fd)
        conn.sendall(b'{"ok": false}\n')
        conn.close()

    thread = threading.Thread(target=refuse)
    thread.start()
    try:
        assert handoff.hand_over(["train.py", "--flag", "x=1,2"]) is None
    finally:
        thread.join(10)
        server.close()
    assert seen[0]["argv"] == ["train.py", "--flag", "x=1,2"] and seen[0]["cwd"] == os.getcwd()


def test_a_stale_standby_file_never_breaks_a_command(cache: Path, workdir: Path) -> None:
    (workdir / "train.py").write_text("print('loss: 0.5')\n")
    _standby(str(cache / "tuner" / "gone.sock"), fingerprint=handoff.fingerprint(
        {**{k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}}))
    done = run_tune("train.py", cwd=workdir, env={"XDG_CACHE_HOME": str(cache)})
    assert done.returncode == 0, done.stderr
    (record,) = [json.loads(p.read_text()) for p in workdir.glob("runs/2*/tuner.d/run.json")]
    assert record["status"] == "finished"
