"""Stored files that decide what runs are trusted only when this user wrote them (issue 29): a sweep's journal
(`tune resume` runs what its header names), a submission record (`tune resume ID` uploads what it names to where it
says), and the cache folder's files (warm cluster, standby, the settings' defaults copy). `tune reproduce` only
prints, every value one shell word. docs/reliability.md, "Security", says what is trusted and why."""

from __future__ import annotations

import json
import os
import pty
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import run_tune
from synthetic_runs import make_run

from tuner.errors import UntrustedError
from tuner.store.journal import Journal, RecordKind
from tuner.store.signing import KEY_FILE, Signer, Verdict
from tuner.sweep import _header
from tuner.sweep.prepare import prepare_sweep
from tuner.sweep.resume import prepare_resume

SWEEP = "20260101-000000-abcd"
SCRIPT = "import sys\nprint('loss: 1', sys.argv[1:])\n"


@pytest.fixture
def cache(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This user's cache folder (its key), apart from the real home's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(workdir / "cache"))
    return workdir / "cache"


@pytest.fixture
def sweep(workdir: Path, cache: Path) -> Journal:
    """A sweep as `tune train.py --flag x=1,2` journals it before its first trial (what it did next does not
    matter: resume reads the header and the runs)."""
    (workdir / "train.py").write_text(SCRIPT)
    request = prepare_sweep("train.py", {"x": [1, 2]}, quiet=True)
    return Journal.create(request.settings.runs_dir, SWEEP, _header(request))


def edit_header(journal: Journal, **changes: object) -> None:
    lines = Path(journal.path).read_text().splitlines()
    header = {**json.loads(lines[0]), **changes}
    Path(journal.path).write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")


def env_for(cache: Path) -> dict[str, str]:
    return {"XDG_CACHE_HOME": str(cache)}


HOSTILE_COMMAND = {"argv": ["/bin/sh", "-c", "touch pwned"], "env": {}}


def test_a_journal_this_user_wrote_resumes_without_a_question(sweep: Journal, cache: Path) -> None:
    assert sweep.verify(sweep.read()) is Verdict.MINE
    key = cache / "tuner" / KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    request = prepare_resume(SWEEP, quiet=True)  # no terminal here: a question would have raised
    assert request.todo == (0, 1)


def test_an_edited_journal_is_refused_without_a_terminal_and_nothing_runs(workdir: Path, sweep: Journal,
                                                                          cache: Path) -> None:
    """The issue's case: the header edited to name another script and a shell command."""
    (workdir / "other.py").write_text("print('other')\n")
    edit_header(sweep, script=str(workdir / "other.py"), command=HOSTILE_COMMAND)
    before = Path(sweep.path).read_bytes()
    done = run_tune("resume", SWEEP, cwd=workdir, env=env_for(cache), timeout=180)
    assert done.returncode == 2, (done.stdout, done.stderr[-3000:])  # was: it ran /bin/sh -c 'touch pwned'
    [line] = done.stderr.strip().splitlines()
    assert "changed after it was signed" in line and "/bin/sh -c 'touch pwned'" in line
    assert f"tune resume {SWEEP} --yes" in line
    assert not (workdir / "pwned").exists() and Path(sweep.path).read_bytes() == before
    assert not [p for p in (workdir / "runs").iterdir() if p.name != "sweeps"]


@pytest.mark.parametrize("how", ["another user", "unsigned", "edited ask record"])
def test_a_journal_this_user_did_not_sign_is_not_trusted(workdir: Path, sweep: Journal, cache: Path,
                                                         how: str) -> None:
    if how == "another user":  # the same journal signed by someone else's key (their cache folder)
        lines = Path(sweep.path).read_text().splitlines()
        header = {k: v for k, v in json.loads(lines[0]).items() if k != "signature"}
        other = _signer_in(workdir / "other-home")
        Path(sweep.path).write_text(other.signed_text(header) + "\n")
        expected = Verdict.OTHER_KEY
    elif how == "unsigned":  # as a tuner before signatures wrote it (or with the signature cut out)
        lines = Path(sweep.path).read_text().splitlines()
        header = {k: v for k, v in json.loads(lines[0]).items() if k != "signature"}
        Path(sweep.path).write_text(json.dumps(header) + "\n")
        expected = Verdict.UNSIGNED
    else:  # a resumed search relaunches the flags its `ask` records hold
        sweep.append(RecordKind.ASK, {"trial": 0, "flags": {"x": 1}})
        text = Path(sweep.path).read_text().replace('"flags": {"x": 1}', '"flags": {"x": "/bin/sh"}')
        Path(sweep.path).write_text(text)
        expected = Verdict.ALTERED
    assert sweep.verify(sweep.read()) is expected
    with pytest.raises(UntrustedError, match="--yes") as error:
        prepare_resume(SWEEP, quiet=True)
    assert expected.value in str(error.value)
    assert prepare_resume(SWEEP, quiet=True, trust=True).todo == (0, 1)  # --yes accepts


def _signer_in(home: Path) -> Signer:
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(home)
    try:
        return Signer.for_user()
    finally:
        if previous is not None:
            os.environ["XDG_CACHE_HOME"] = previous


def test_on_a_terminal_the_journal_is_shown_quoted_and_asked_about(workdir: Path, sweep: Journal,
                                                                   cache: Path) -> None:
    edit_header(sweep, command={"argv": ["/bin/sh", "-c", "touch pwned\x1b]0;owned\x07"], "env": {"X": "a b"}})
    primary, secondary = pty.openpty()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}, **env_for(cache)}
    proc = subprocess.Popen([sys.executable, "-m", "tuner", "resume", SWEEP], cwd=workdir, env=env, stdin=secondary,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.close(secondary)
    os.write(primary, b"n\n")
    out, err = proc.communicate(timeout=120)
    os.close(primary)
    assert proc.returncode == 2, (out, err)
    assert "changed after it was signed" in out and "Run it? [y/N]" in out
    assert "/bin/sh -c $'touch pwned\\x1b]0;owned\\x07'" in out  # quoted, and inert: no raw escape reaches it
    assert "\x1b" not in out and "X='a b'" in out
    assert "nothing was run" in err and not (workdir / "pwned").exists()


def test_the_api_refuses_an_untrusted_journal_unless_told_to_trust_it(workdir: Path, sweep: Journal) -> None:
    from tuner import tuning_run

    edit_header(sweep, command=HOSTILE_COMMAND)
    with pytest.raises(UntrustedError, match="changed after it was signed"):
        tuning_run(resume=SWEEP, quiet=True)
    assert not (workdir / "pwned").exists()


@pytest.mark.ray
@pytest.mark.slow
def test_yes_resumes_a_journal_written_with_another_key(workdir: Path, sweep: Journal, ray_cluster: str) -> None:
    header = {k: v for k, v in sweep.read().header.items() if k != "signature"}
    Path(sweep.path).write_text(_signer_in(workdir / "teammate").signed_text(header) + "\n")
    from tuner import tuning_run

    frame = tuning_run(resume=SWEEP, quiet=True, trust_journal=True, address=ray_cluster)
    assert frame is not None and sorted(frame["status"]) == ["finished", "finished"]


def test_a_key_others_can_read_is_not_used(workdir: Path, sweep: Journal, cache: Path) -> None:
    key = cache / "tuner" / KEY_FILE
    key.chmod(0o644)
    signer = Signer.for_user()
    assert signer.key is None and "not this user's alone" in str(signer.problem)
    with pytest.raises(UntrustedError, match="no usable signing key"):
        prepare_resume(SWEEP, quiet=True)


def test_a_cache_folder_others_can_change_is_made_private_or_holds_no_key(workdir: Path, cache: Path) -> None:
    (cache / "tuner").mkdir(parents=True)
    (cache / "tuner").chmod(0o777)  # this user's: tightened to 0700 before a key is made in it
    assert Signer.for_user().key is not None and stat.S_IMODE((cache / "tuner").stat().st_mode) == 0o700
    (cache / "tuner" / KEY_FILE).unlink()
    cache.chmod(0o777)  # a folder above it others can change: they could put another folder in its place
    signer = Signer.for_user()
    assert signer.key is None and "can be changed by another user" in str(signer.problem)
    cache.chmod(0o755)
    if os.geteuid() == 0:
        os.chown(cache / "tuner", 65534, 65534)  # another user's folder
        signer = Signer.for_user()
        assert signer.key is None and "not a folder of this user's" in str(signer.problem)
        assert not (cache / "tuner" / KEY_FILE).exists()


def test_cache_files_another_user_could_have_written_are_not_read(workdir: Path, cache: Path) -> None:
    """The settings' defaults copy decides the command a sweep runs (`command`), the warm cluster's file which
    processes `tune cluster down` stops and which cluster a sweep joins."""
    from tuner import settings as settings_module
    from workers import warm

    settings_module.default_values()  # the copy exists now
    [copy] = (cache / "tuner").glob("defaults-*.json")
    forged = json.loads(copy.read_text())
    forged["values"]["command"] = "/bin/sh -c 'touch pwned'"
    copy.write_text(json.dumps(forged))
    copy.chmod(0o600)
    assert settings_module.load_settings().command == "/bin/sh -c 'touch pwned'"  # this user's own file: read
    copy.chmod(0o666)  # anyone could have written it
    assert settings_module.load_settings().command is None  # was: the forged command
    assert json.loads(copy.read_text())["values"]["command"] is None  # parsed again and written anew, 0600
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    state = cache / "tuner" / "warm-cluster.json"
    state.write_text(json.dumps({"address": "10.0.0.1:6379", "mark": "x", "python": sys.executable}))
    state.chmod(0o664)
    assert warm.read_state() is None
    state.chmod(0o600)
    assert warm.read_state() is not None
    if os.geteuid() == 0:
        os.chown(state, 65534, 65534)  # another user's file in this user's folder
        assert warm.read_state() is None


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to be another user")
def test_a_command_is_not_handed_to_a_standby_socket_of_another_user(workdir: Path, cache: Path) -> None:
    import tempfile

    from tuner.cli import handoff

    folder = Path(tempfile.mkdtemp(dir="/tmp"))  # where the other user can reach it
    folder.chmod(0o777)
    sock = folder / "standby.sock"
    server = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                               "import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); "
                               "s.listen(1); print('ready', flush=True); c, _ = s.accept(); "
                               "print('GOT', c.recv(1 << 16), flush=True)", str(sock)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        (cache / "tuner").mkdir(parents=True, exist_ok=True)
        handoff.write_standby({"pid": server.pid, "ready": True, "socket": str(sock), "mark": "m",
                               "fingerprint": handoff.fingerprint(dict(os.environ))})
        result: list[object] = []
        thread = threading.Thread(target=lambda: result.append(handoff.hand_over(["train.py", "--secret"])))
        thread.start()
        thread.join(timeout=30)
        assert result == [None]  # run here: nothing (no environment, no terminal) went to another user's socket
    finally:
        server.kill()
        out = server.communicate(timeout=10)[0]
        shutil.rmtree(folder, ignore_errors=True)
    assert "--secret" not in out and ("GOT" not in out or "GOT b''" in out)  # connected, checked, closed: was b'T'



def test_reproduce_prints_each_stored_value_as_one_shell_word(workdir: Path) -> None:
    """Pasted into a shell, the lines run `cd`, `git` and `tune` with exactly the stored values as arguments, and
    nothing else: a newline in a name, `$(...)`, quotes and a terminal escape stay inside their word."""
    hostile_dir = "/tmp/x\n touch pwned-by-cwd\x1b]0;t\x07"
    note = "$(touch pwned-by-flag)'\""
    make_run(workdir / "runs", "2026-01-01T00-00-01Z", script="/src/tr\nain.py; touch pwned-by-script",
             cwd=hostile_dir, git={"commit": "abc1234", "root": "/r$(touch pwned-by-root)", "dirty": False},
             flags={"lr": 0.1, "note": note, "x": "a\nb"})
    done = run_tune("reproduce", "2026-01-01T00-00-01Z", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout
    (workdir / "steps.sh").write_text(done.stdout)
    recorder = ("log() { for a in \"$@\"; do printf '%s\\0' \"$a\"; done >> calls; printf '\\n\\0' >> calls; }; "
                "cd() { log cd \"$@\"; }; git() { log git \"$@\"; }; tune() { log tune \"$@\"; }; . ./steps.sh")
    ran = subprocess.run(["bash", "-c", recorder], cwd=workdir, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert not list(workdir.glob("pwned*"))
    calls = [c.strip("\0").split("\0") for c in (workdir / "calls").read_text().split("\n\0") if c.strip("\0")]
    assert calls[0] == ["cd", "/r$(touch pwned-by-root)"] and calls[1] == ["git", "checkout", "abc1234"]
    assert calls[2] == ["cd", hostile_dir]
    tune_call = calls[3]
    assert tune_call[:2] == ["tune", "/src/tr\nain.py; touch pwned-by-script"]
    from tuner.runs.reproduce import cli_value

    assert "note=" + cli_value(note) in tune_call and "x=" + cli_value("a\nb") in tune_call
    assert len(calls) == 4  # a newline in the name of the script did not start a command of its own


def test_reproduce_does_not_print_a_commit_that_is_not_a_commit_id(workdir: Path) -> None:
    make_run(workdir / "runs", "2026-01-01T00-00-01Z", git={"commit": "--orphan=x", "root": "/r", "dirty": False})
    done = run_tune("reproduce", "2026-01-01T00-00-01Z", cwd=workdir)
    assert done.returncode == 0 and "git checkout" not in done.stdout and "is not a commit id" in done.stdout


def test_an_edited_submission_record_is_not_resumed_without_a_yes(workdir: Path, cache: Path) -> None:
    from tuner.cli.submissions import read_record, write_record

    (workdir / "runs").mkdir()
    write_record({"id": "tune-20260101-000000-ab12", "address": "http://127.0.0.1:9", "remote_runs_dir": "~/r",
                  "command": ["train.py"], "project": str(workdir), "excludes": [], "jobs": ["j"],
                  "submitted": 0.0}, None)
    assert Signer.for_user().verdict(read_record("tune-2026", None)) is Verdict.MINE
    path = workdir / "runs" / ".submitted" / "tune-20260101-000000-ab12.json"
    path.write_text(path.read_text().replace("http://127.0.0.1:9", "http://attacker.example:8265"))
    done = run_tune("resume", "tune-20260101-000000-ab12", cwd=workdir, env=env_for(cache))
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "changed after it was signed" in line and "attacker.example" in line and "--yes" in line
