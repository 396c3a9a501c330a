"""workers.view: every run works in a copy-on-write view of the project, and its run folder holds what it made.

Real processes on a project shaped like one after a hand run (tests/projects.py): trials that rewrite, append, add
files in existing folders, rename and delete, several at once; the project is the same to the byte afterwards.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from tests.projects import HAND_RUN, TRIAL, expected_files, files_of, make_project, run_trials, snapshot, trial_spec
from workers.process import FINISHED, RunSpec, run_process
from workers.view import WORK_PREFIX, ViewMode, ViewProbes, probe_view

REPO = Path(__file__).resolve().parents[2]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="overlayfs is Linux's")

def record(run_dir: Path) -> dict:
    return json.loads((run_dir / "tuner.d" / "run.json").read_text())


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = make_project(tmp_path)
    (project / "train.py").write_text(TRIAL)
    return project


@linux_only
def test_parallel_trials_each_keep_their_own_writes_and_the_project_stays_byte_identical(project: Path) -> None:
    runs = project / "runs"  # inside the project, as by default
    before = snapshot(project)
    outcomes = run_trials(project, runs, 4)
    assert [o.status for o in outcomes] == [FINISHED] * 4, [o.error_message for o in outcomes]
    assert snapshot(project) == before
    mode = probe_view(str(project), str(runs)).mode
    assert mode.copy_on_write, "overlayfs is expected to work on this machine (CI runs as root on Linux)"
    for k in range(4):
        run_dir = runs / f"run-{k}"
        assert files_of(run_dir) == expected_files(k, absolute=True)
        view = record(run_dir)["view"]
        assert view == {"mode": mode.value, "deleted": ["data/train.csv", f"{HAND_RUN}/train.log"]}
    assert not [name for name in os.listdir(runs) if name.startswith(WORK_PREFIX)]  # the work folders are gone


@linux_only
def test_a_trial_sees_the_project_at_its_own_path_and_its_run_folder_as_it_really_is(project: Path) -> None:
    (project / "train.py").write_text(textwrap.dedent("""
        import json, os
        run = os.environ["RUN"]
        open(os.path.join(run, "by-absolute-path.txt"), "w").write("x")  # its run, reached through the project's path
        json.dump({"cwd": os.getcwd(), "runs": sorted(n for n in os.listdir("runs") if n[0] != "."),
                   "ls": sorted(os.listdir("."))},
                  open("seen.json", "w"))
    """))
    runs = project / "runs"
    spec = trial_spec(project, runs, 0)
    (runs / "an-older-run").mkdir()
    spec = dataclasses.replace(spec, env={"RUN": spec.run_dir})
    assert run_process(spec).status == FINISHED
    seen = json.loads((runs / "run-0" / "seen.json").read_text())
    assert seen["cwd"] == str(project) and seen["runs"] == ["an-older-run", "run-0"]
    assert {"model.txt", "data", "runs", "train.py", ".git"} <= set(seen["ls"])
    assert (runs / "run-0" / "by-absolute-path.txt").read_text() == "x"


@linux_only
def test_the_mirror_keeps_the_promise_for_relative_writes_and_says_why_it_was_used(project: Path) -> None:
    runs = project / "runs"
    before = snapshot(project)
    outcomes = run_trials(project, runs, 3, view="mirror", absolute=False)
    assert [o.status for o in outcomes] == [FINISHED] * 3, [o.error_message for o in outcomes]
    assert snapshot(project) == before
    for k in range(3):
        run_dir = runs / f"run-{k}"
        assert files_of(run_dir) == expected_files(k, absolute=False)  # no copies, links or folders left over
        view = record(run_dir)["view"]
        assert view == {"mode": "mirror", "reason": "the project_view setting is mirror",
                        "deleted": ["data/train.csv", f"{HAND_RUN}/train.log"]}


@linux_only
def test_the_mirror_detects_and_reports_a_write_into_a_large_linked_project_file(tmp_path: Path) -> None:
    project = make_project(tmp_path, big_bytes=3 << 20)  # larger than a mirror copies
    (project / "train.py").write_text("with open('data/big.bin', 'r+b') as f:\n    f.write(b'OOPS')\n")
    runs = project / "runs"
    outcome = run_process(trial_spec(project, runs, 0, view="mirror"))
    assert outcome.status == FINISHED
    assert (project / "data" / "big.bin").read_bytes()[:4] == b"OOPS"  # the mirror cannot prevent it...
    view = record(runs / "run-0")["view"]
    assert view["wrote_project"] == ["data/big.bin"]  # ... it says so: in run.json, the outcome and the log
    assert outcome.notes and "data/big.bin" in outcome.notes[0] and "mirror" in outcome.notes[0]
    assert "tuner: this run wrote into the project's own file(s) data/big.bin" in \
        (runs / "run-0" / "tuner.d" / "output.log").read_text()
    assert files_of(runs / "run-0") == {}


@linux_only
def test_a_run_folder_directly_in_the_project_gets_the_mirror(project: Path) -> None:
    meta = project / "here" / "tuner.d"
    meta.mkdir(parents=True)
    spec = RunSpec(command=(sys.executable, str(project / "train.py"), "--k=1"), cwd=str(project),
                   run_dir=str(project / "here"), run_json=str(meta / "run.json"), output_log=str(meta / "output.log"),
                   error_json=str(meta / "error.json"), record={}, project_dir=str(project))
    before = snapshot(project, skip=("here",))
    assert run_process(spec).status == FINISHED
    assert snapshot(project, skip=("here",)) == before
    assert record(project / "here")["view"]["mode"] == "mirror"
    assert files_of(project / "here") == expected_files(1, absolute=False)


@linux_only
def test_forcing_overlay_where_it_cannot_be_had_fails_the_run_with_the_reason(project: Path) -> None:
    meta = project / "here" / "tuner.d"
    meta.mkdir(parents=True)
    spec = RunSpec(command=(sys.executable, str(project / "train.py")), cwd=str(project),
                   run_dir=str(project / "here"), run_json=str(meta / "run.json"), output_log=str(meta / "output.log"),
                   error_json=str(meta / "error.json"), record={}, project_dir=str(project), project_view="overlay")
    outcome = run_process(spec)
    assert outcome.status == "failed"
    assert "project view 'overlay'" in (outcome.error_message or "") and "directly in it" in outcome.error_message


@linux_only
def test_work_folders_of_dead_runners_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"{WORK_PREFIX}{dead.pid}-2026-01-01T00-00-00Z" / "work"
    stale.mkdir(parents=True)
    stale.chmod(0)  # as overlayfs leaves it
    probe = tmp_path / f"{WORK_PREFIX}probe-{dead.pid}-abc"
    probe.mkdir()
    live = tmp_path / f"{WORK_PREFIX}{os.getppid()}-2026-01-01T00-00-01Z"
    live.mkdir()
    ViewProbes().sweep_stale(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name]


@linux_only
def test_a_mount_inside_the_project_is_seen_read_only(project: Path, tmp_path: Path) -> None:
    """A dataset mounted under the project is not part of the overlay: it is bound back read-only, so reading it
    works and writing it fails instead of reaching it. (In a namespace of the test's own, to mount a tmpfs.)"""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root to mount a tmpfs for the test")
    (project / "mnt").mkdir()
    (project / "train.py").write_text(textwrap.dedent("""
        print(open("mnt/d.txt").read())
        try:
            open("mnt/d.txt", "w").write("changed")
        except OSError as exc:
            print("refused", exc.errno)
    """))
    runs = project / "runs"
    driver = textwrap.dedent(f"""
        import subprocess, sys
        sys.path.insert(0, {str(REPO)!r})
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", {str(project / 'mnt')!r}], check=True)
        open({str(project / 'mnt' / 'd.txt')!r}, "w").write("dataset")
        from workers.process import RunSpec, run_process
        from tests.projects import trial_spec
        from pathlib import Path
        print(run_process(trial_spec(Path({str(project)!r}), Path({str(runs)!r}), 0)).status)
        print(open({str(project / 'mnt' / 'd.txt')!r}).read())
    """)
    done = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, "-c", driver],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["finished", "dataset"]
    output = (runs / "run-0" / "tuner.d" / "output.log").read_text()
    assert "dataset" in output and "refused 30" in output  # EROFS


def _userns_allowed() -> bool:
    if os.geteuid() != 0 or not shutil.which("setpriv") or not os.path.exists("/usr/bin/python3"):
        return False
    probe = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "unshare", "-U", "-m",
                            "--map-current-user", "true"], capture_output=True)
    return probe.returncode == 0


@linux_only
def test_a_user_who_is_not_root_gets_the_view_in_a_user_namespace() -> None:
    """As `nobody` (setpriv), with a project that user owns: overlay in a user namespace of the script's own, the
    script sees its own uid (not root), and the project stays the same. Such scripts are started by a small fork
    server, not by a fork of the runner: their exit status, a time limit and a script that cannot start are
    what they are with any other start."""
    if not _userns_allowed():
        pytest.skip("needs root to become another user, and user namespaces")
    root = Path(tempfile.mkdtemp(prefix="tuner-userns-"))
    try:
        root.chmod(0o755)
        lib = root / "lib"
        shutil.copytree(REPO / "workers", lib / "workers", ignore=shutil.ignore_patterns("__pycache__"))
        (lib / "tests").mkdir()
        shutil.copy(REPO / "tests" / "projects.py", lib / "tests")  # stdlib and workers only: no pytest there
        home = root / "home"
        project = make_project(home, big_bytes=8 << 20)
        (project / "train.py").write_text(TRIAL + "import os\nopen('uid.txt', 'w').write(str(os.getuid()))\n")
        (project / "fails.py").write_text("import sys\nprint('going down', file=sys.stderr)\nsys.exit(3)\n")
        (project / "hangs.py").write_text("import time\ntime.sleep(60)\n")
        for path in [home, *home.rglob("*")]:
            os.lchown(path, 65534, 65534)
        before = snapshot(project)
        driver = textwrap.dedent(f"""
            import sys
            sys.path.insert(0, {str(lib)!r})
            from pathlib import Path
            from dataclasses import replace
            from tests.projects import run_trials, trial_spec
            from workers.process import run_process
            project, runs = Path({str(project)!r}), Path({str(project / 'runs')!r})
            print(*[o.status + ':' + str(o.error_message) for o in run_trials(project, runs, 2)])
            fails = run_process(trial_spec(project, runs, 10, script="fails.py"))
            print(fails.status, fails.exit_code, fails.error_message.replace(" ", "_"))
            hangs = run_process(replace(trial_spec(project, runs, 11, script="hangs.py"), timeout_s=1,
                                        kill_grace_s=1))
            print(hangs.status, hangs.signal)
            missing = run_process(trial_spec(project, runs, 12, python="/no/such/python"))
            print(missing.status, missing.error_message.replace(" ", "_"))
        """)
        done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3",
                               "-c", driver], capture_output=True, text=True, cwd=root, timeout=120,
                              env={"PATH": os.environ["PATH"], "HOME": str(home)})
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines[0].split() == ["finished:None", "finished:None"], done.stdout
        assert lines[1] == "failed 3 exit_status_3", done.stdout
        assert lines[2] == "timeout 15", done.stdout  # SIGTERM within the grace period
        assert lines[3].startswith("failed [Errno_2]_No_such_file_or_directory") and "/no/such/python" in lines[3]
        assert json.loads((project / "runs" / "run-12" / "tuner.d" / "error.json").read_text())["message"] \
            .startswith("could not start the script")
        assert "going down" in (project / "runs" / "run-10" / "tuner.d" / "output.log").read_text()
        assert snapshot(project) == before
        for k in range(2):
            run_dir = project / "runs" / f"run-{k}"
            files = files_of(run_dir)
            assert files.pop("uid.txt") == "65534"
            assert files == expected_files(k, absolute=True)
            assert record(run_dir)["view"]["mode"] == ViewMode.OVERLAY_USERNS.value
            assert all(p.stat().st_uid == 65534 for p in run_dir.rglob("*"))
    finally:
        shutil.rmtree(root, ignore_errors=True)


@linux_only
def test_the_mirror_links_a_folder_of_many_files_whole_so_its_cost_stays_bounded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import workers.view

    monkeypatch.setattr(workers.view, "MIRROR_MAX_ENTRIES", 60)  # 2000 by default: what this test cannot afford
    project = make_project(tmp_path, big_bytes=8 << 20)
    (project / "data" / "images").mkdir()
    for index in range(80):
        (project / "data" / "images" / f"{index:03d}.png").write_bytes(b"\x89PNG" + bytes([index]))
    (project / "train.py").write_text(TRIAL.replace('print("loss: 0.5")', 'print(open("data/images/042.png", "rb").read())'))
    runs = project / "runs"
    before = snapshot(project)
    outcome = run_process(trial_spec(project, runs, 0, view="mirror"))
    assert outcome.status == FINISHED, outcome.error_message
    assert snapshot(project) == before
    view = record(runs / "run-0")["view"]
    assert view["linked"] == ["data/images"]  # said in run.json: writes there would reach the project
    assert "PNG*" in (runs / "run-0" / "tuner.d" / "output.log").read_text()  # read through the link
    assert files_of(runs / "run-0") == expected_files(0, absolute=False)
