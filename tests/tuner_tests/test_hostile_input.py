"""Hostile input (issue 29): what a careful reviewer typed or left in a file, and what tuner must answer with:
one line (exit 2 from the CLI, a typed TunerError from the API) and nothing half-written, never a traceback,
a 500 MB message or a process that grows until it dies. docs/reliability.md lists each case with its result."""

from __future__ import annotations

import os
import pty
import resource
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_tune
from synthetic_runs import make_run

from tuner import yamlfile
from tuner.errors import ConfigError, FlagError, GridError, TunerError, quoted
from tuner.settings import load_settings
from tuner.values import parse_value

SCRIPT = "import sys\nprint('loss: 1', sys.argv[1:])\n"  # names no parser: no discovery run, flags as --name=value


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else b"/" for p in sorted(root.rglob("*"))} \
        if root.exists() else {}


@pytest.fixture
def project(workdir: Path) -> Path:
    (workdir / "train.py").write_text(SCRIPT)
    (workdir / "runs").mkdir()
    (workdir / "runs" / "keep.txt").write_text("user file")
    return workdir


def one_line(done: subprocess.CompletedProcess[str], status: int = 2) -> str:
    assert done.returncode == status, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tune: error: "), done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    return lines[0]


def alias_bomb(levels: int, width: int = 9) -> str:
    """The "billion laughs": each level a list of `width` aliases of the one before (width**levels values)."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


# -- YAML and JSON are bounded --------------------------------------------------------------------------------------

def test_an_alias_bomb_in_a_flags_file_is_one_short_line_and_writes_nothing(project: Path) -> None:
    (project / "bomb.yml").write_text(alias_bomb(7))  # 272 bytes, 4.8 * 10^6 values (was: an 8.6 MB message)
    before = snapshot(project / "runs")
    line = one_line(run_tune("train.py", "--flags", "bomb.yml", "--yes", cwd=project))
    assert "bomb.yml" in line and "alias" in line and len(line) < 300, line[:500]
    assert snapshot(project / "runs") == before


def test_a_nine_level_alias_bomb_is_refused_within_a_small_memory_limit(project: Path) -> None:
    """9^9 values: the process grew until memory ran out. Under a 1.5 GiB address-space limit it is one line."""
    (project / "bomb.yml").write_text(alias_bomb(9))

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 29, 3 << 29))

    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    done = subprocess.run([sys.executable, "-m", "tuner", "train.py", "--flags", "bomb.yml", "--yes"], cwd=project,
                          env=env, capture_output=True, text=True, timeout=120, preexec_fn=limit)
    line = one_line(done)
    assert "alias" in line and len(line) < 300


def test_aliases_in_every_yaml_the_user_gives_are_bounded(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = alias_bomb(8)
    (project / "bomb.yml").write_text(bomb)
    (project / "tuner.yml").write_text(bomb)
    with pytest.raises(ConfigError, match="alias") as settings_error:
        load_settings()
    assert len(str(settings_error.value)) < 300
    (project / "tuner.yml").unlink()
    from tuner import training_run, tuning_run

    with pytest.raises(GridError, match="alias") as grid_error:
        tuning_run("train.py", "bomb.yml", confirm=False, quiet=True)
    with pytest.raises(FlagError, match="alias") as flags_error:  # a single run's flags file
        training_run("train.py", flags="bomb.yml", echo=False)
    assert len(str(grid_error.value)) < 300 and len(str(flags_error.value)) < 300
    assert snapshot(project / "runs") == {"keep.txt": b"user file"}


def test_a_document_that_holds_itself_or_nests_too_deep_is_a_yaml_error() -> None:
    import yaml

    for text in ("a: &a [1, *a]\n", "a: " + "{b: " * 400 + "1" + "}" * 400 + "\n", "[" * 5000 + "]" * 5000):
        with pytest.raises(yaml.YAMLError) as error:
            yamlfile.load(text)
        assert len(yamlfile.describe_error(error.value)) < 200
    assert yamlfile.load("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}  # an ordinary alias still reads


def test_numbers_past_what_python_converts_stay_text_and_never_raise() -> None:
    digits = "7" * 5000  # int() refuses more than 4300 digits (ValueError: a traceback from a flags file)
    assert parse_value(digits) == digits and parse_value("1e999999") == float("inf")
    assert yamlfile.load(f"x: {digits}\n") == {"x": digits}
    assert yamlfile.load(f"x: [{digits}, 1]\n") == {"x": [digits, 1]}


def test_a_run_json_nested_past_the_stack_is_a_damaged_run_not_a_traceback(workdir: Path) -> None:
    make_run(workdir / "runs", "2026-01-01T00-00-01Z")
    make_run(workdir / "runs", "2026-01-01T00-00-02Z")
    (workdir / "runs" / "2026-01-01T00-00-02Z" / "tuner.d" / "run.json").write_text("[" * 100_000 + "]" * 100_000)
    done = run_tune("ls", "--format", "csv", "--columns", "run_dir", cwd=workdir)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "2026-01-01T00-00-01Z" in done.stdout and "2026-01-01T00-00-02Z" in done.stdout


def test_error_messages_quote_at_most_a_few_dozen_characters_of_a_value(project: Path) -> None:
    huge = "x" * 100_000  # an argument or environment string holds at most 128 KiB
    line = one_line(run_tune("ls", cwd=project, env={"TUNER_RETRIES": huge}))
    assert "TUNER_RETRIES" in line and "100,000 characters" in line and len(line) < 200
    line = one_line(run_tune("train.py", "--flag", "a=1,2", "--sample", huge, cwd=project))
    assert "sample" in line and len(line) < 300
    assert len(quoted(10 ** 100_000)) < 60 and len(quoted([[1] * 10**4] * 10**4)) <= 48


# -- The one-line list ----------------------------------------------------------------------------------------------

NUMERIC_SETTINGS = ["heartbeat_s", "stale_after_s", "keep_cluster_s", "cpus_per_trial", "gpus_per_trial",
                    "timeout_s", "kill_grace_s"]


@pytest.mark.parametrize("key", NUMERIC_SETTINGS)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_every_numeric_setting_refuses_nan_and_inf_for_every_command(project: Path, key: str, value: str) -> None:
    line = one_line(run_tune("ls", cwd=project, env={f"TUNER_{key.upper()}": value}))
    assert f"TUNER_{key.upper()}" in line and key in line


def test_a_heartbeat_of_nan_is_one_line_and_leaves_no_half_run(project: Path) -> None:
    before = snapshot(project / "runs")
    line = one_line(run_tune("train.py", cwd=project, env={"TUNER_HEARTBEAT_S": "nan"}))
    assert "heartbeat_s" in line and "got nan" in line
    assert snapshot(project / "runs") == before  # was: a traceback and a run left `running`


@pytest.mark.parametrize("value, says", [("nan", "finite"), ("inf", "finite"), ("-1", "must be > 0")])
def test_cpus_per_trial_that_is_no_number_of_cpus_is_one_line(project: Path, value: str, says: str) -> None:
    before = snapshot(project / "runs")
    line = one_line(run_tune("train.py", "--flag", "a=1,2", "--cpus-per-trial", value, "--yes", cwd=project))
    assert "cpus-per-trial" in line and says in line
    assert snapshot(project / "runs") == before


def test_a_timeout_setting_of_zero_or_less_is_refused_for_a_single_run_too(project: Path) -> None:
    before = snapshot(project / "runs")
    line = one_line(run_tune("train.py", cwd=project, env={"TUNER_TIMEOUT_S": "-5"}))
    assert "timeout_s" in line and "positive" in line  # was: the run started and "timed out after -5 s"
    assert snapshot(project / "runs") == before


def test_a_settings_file_that_is_not_utf8_is_one_line(project: Path) -> None:
    (project / "tuner.yml").write_bytes(b"runs_dir: \xff\xfe\n")
    line = one_line(run_tune("ls", cwd=project))
    assert "tuner.yml" in line and "UTF-8" in line


@pytest.mark.parametrize("key", ["[/x]", "[bold]k", "a\x1b]0;t\x07", "k\u202e"])
def test_tag_keys_are_names_not_markup_or_control_sequences(project: Path, key: str) -> None:
    before = snapshot(project / "runs")
    line = one_line(run_tune("train.py", "--tag", f"{key}=1", cwd=project))
    assert "tag key" in line and "\x1b" not in line
    assert snapshot(project / "runs") == before
    make_run(project / "runs", "2026-01-01T00-00-01Z")
    line = one_line(run_tune("tag", "2026-01-01T00-00-01Z", f"{key}=1", cwd=project))
    assert "tag key" in line
    assert not (project / "runs" / "2026-01-01T00-00-01Z" / "tuner.d" / "tags.json").exists()
    assert run_tune("tag", "2026-01-01T00-00-01Z", "team/sub-area.x: y=1", cwd=project).returncode == 0  # MLflow's


@pytest.mark.parametrize("name", ["%DATA%", "%CSS%", "%TITLE% and %APP%"])
def test_a_run_named_like_a_page_marker_gets_its_page(workdir: Path, name: str) -> None:
    make_run(workdir / "runs", name, metrics=[{"loss": 1.0}])
    make_run(workdir / "runs", "2026-01-01T00-00-01Z", metrics=[{"loss": 2.0}])
    done = run_tune("view", name, "--no-browser", "-o", "view.html", cwd=workdir)
    assert done.returncode == 0, done.stderr[-2000:]  # was: ValueError (too many values to unpack)
    page = (workdir / "view.html").read_text()
    assert page.count('<script type="application/json" id="page-data">') == 1
    assert f"<title>Run {name}</title>" in page and "uPlot" in page
    compared = run_tune("compare", name, "2026-01-01T00-00-01Z", "--no-browser", "-o", "compare.html", cwd=workdir)
    assert compared.returncode == 0, compared.stderr[-2000:]


@pytest.mark.parametrize("env", ['{"A=B": "1"}', '{"": "1"}', '{"A": "x\\0y"}'])
def test_an_environment_variable_a_process_cannot_have_is_refused_before_anything_runs(project: Path, env: str) -> None:
    (project / "grid.yml").write_text(f"command:\n  argv: ${{interpreter}} ${{program}} ${{args}}\n  env: {env}\n"
                                      "lr: 0.1\n")
    before = snapshot(project / "runs")
    line = one_line(run_tune("train.py", "--flags", "grid.yml", cwd=project))  # one run: was a ValueError traceback
    assert "environment variable name" in line or "NUL" in line
    (project / "grid.yml").write_text((project / "grid.yml").read_text().replace("lr: 0.1", "lr: [0.1, 0.2]"))
    line = one_line(run_tune("train.py", "--flags", "grid.yml", "--yes", cwd=project))  # a sweep: was 2 "killed"
    assert "grid.yml" in line
    assert snapshot(project / "runs") == before


def test_a_flag_value_with_a_nul_character_is_refused_before_anything_runs(project: Path) -> None:
    (project / "grid.yml").write_text('lr: "a\\0b"\n')
    before = snapshot(project / "runs")
    line = one_line(run_tune("train.py", "--flags", "grid.yml", cwd=project))  # was: ValueError, a half run
    assert "NUL" in line and "lr" in line
    assert snapshot(project / "runs") == before


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs `unshare -m` and mount (root or user namespaces)")
def test_a_full_disk_during_a_single_run_is_the_sweeps_one_line_and_leaves_no_half_run(workdir: Path) -> None:
    (workdir / "train.py").write_text("print('x' * 300000)\nprint('loss', 1)\n")
    (workdir / "runs").mkdir()
    script = (f"mount -t tmpfs -o size=160k tmpfs runs && {sys.executable} -m tuner train.py > out.txt 2> err.txt; "
              "echo $? > rc.txt; find runs -mindepth 1 > left.txt")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUNER_", "RAY_"))}
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    errors = (workdir / "err.txt").read_text().strip().splitlines()
    assert (workdir / "rc.txt").read_text().strip() == "3", errors[-5:]  # design.md section 6: exit 3
    assert len(errors) == 1 and "no space left on the device holding" in errors[0] and "/runs" in errors[0], errors[-5:]
    assert (workdir / "left.txt").read_text() == ""  # was: a run folder whose run.json still said `running`


def test_rm_of_a_symlinked_run_removes_the_link_and_keeps_what_it_points_to(workdir: Path) -> None:
    make_run(workdir / "elsewhere", "real", flags={"lr": 0.1})
    make_run(workdir / "runs", "2026-01-01T00-00-01Z")
    (workdir / "runs" / "linked").symlink_to(workdir / "elsewhere" / "real")
    done = run_tune("rm", "^linked$", "--yes", cwd=workdir)
    # was: "Cannot call rmtree on a symbolic link", and a .deleting-* link left behind
    assert done.returncode == 0 and "Traceback" not in done.stderr and "Deleted 1 run" in done.stdout, done.stderr
    left = {n for n in os.listdir(workdir / "runs") if not n.startswith(".tuner-index")}
    assert left == {"2026-01-01T00-00-01Z"}
    assert (workdir / "elsewhere" / "real" / "tuner.d" / "run.json").is_file()


def _read_until(fd: int, text: str, timeout: float = 60) -> str:
    seen = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            seen += os.read(fd, 65536)
    assert text.encode() in seen, seen.decode(errors="replace")
    return seen.decode()


def test_two_rm_at_once_each_end_cleanly_and_leave_nothing_half_deleted(workdir: Path) -> None:
    for i in range(1, 5):
        make_run(workdir / "runs", f"2026-01-01T00-00-0{i}Z")
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    first = subprocess.Popen([sys.executable, "-m", "tuner", "rm", "2026"], cwd=workdir, env=env, stdin=secondary,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(secondary)
    try:
        assert first.stdout is not None
        _read_until(first.stdout.fileno(), "Permanently delete 4 run directories?")  # listed, now asking
        second = run_tune("rm", "2026", "--yes", cwd=workdir)  # deletes them meanwhile
        assert second.returncode == 0 and "Deleted 4 runs" in second.stdout, second.stderr
        os.write(primary, b"y\n")
        out, err = first.communicate(timeout=60)
    finally:
        os.close(primary)
    assert first.returncode == 0 and b"Traceback" not in err, err.decode()[-2000:]  # was: FileNotFoundError
    assert b"already gone" in out
    assert not [n for n in os.listdir(workdir / "runs") if n.startswith((".deleting", "2026"))]


def test_api_errors_are_typed(workdir: Path) -> None:
    from tuner.store.files import launch_tags

    with pytest.raises(TunerError, match="tag key"):
        launch_tags({"[/x]": 1})
    with pytest.raises(ConfigError, match="heartbeat_s"):
        load_settings(environ={"TUNER_HEARTBEAT_S": "nan"})
    with pytest.raises(ConfigError, match="cpus-per-trial"):
        load_settings(cpus_per_trial=float("nan"))
