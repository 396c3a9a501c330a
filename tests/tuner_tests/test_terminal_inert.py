"""Terminal output is inert: a value from run data (a flag value, a note, a tag, a run folder's name, a line of a
trial's stderr, a script's name) that holds terminal control sequences is shown spelled out, never sent raw, on
the plain (piped) path and on the rich (terminal) path alike; rich markup in a value is shown as text."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from fabricate_runs import make_run

from tuner.cli import main
from tuner.console.inert import inert, markup
from tuner.store.files import update_tags
from tuner.store.journal import Journal
from tuner.store.layout import RunPaths
from workers.files import atomic_write_json

#: retitles the terminal window (OSC 0 ... BEL), then clears the screen (CSI 2 J)
HOSTILE = "\x1b]0;pwned\x07\x1b[2J"
SPELLED = "\\x1b]0;pwned\\x07\\x1b[2J"
MARKUP = "[/x]"


def _assert_inert(out: str) -> None:
    """Nothing the terminal would act on came from the data: no OSC, no BEL, no screen clear, no C1 CSI."""
    assert "\x1b]" not in out and "\x07" not in out and "\x1b[2J" not in out and "\x9b" not in out, repr(out)


def _in_a_terminal(*args: str, cwd: Path) -> tuple[int, str]:
    """`tune ARGS` with stdout and stderr on a pseudo-terminal (rich's path), as a user at a terminal runs it."""
    main_fd, child_fd = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    env.update(COLUMNS="200", LINES="50", TERM="xterm-256color")
    proc = subprocess.Popen([sys.executable, "-m", "tuner", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=child_fd, stderr=child_fd, env=env, close_fds=True)
    os.close(child_fd)
    chunks = []
    while True:
        ready, _, _ = select.select([main_fd], [], [], 60)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(main_fd, 65536)
        except OSError:  # EIO: the child closed its side
            break
        if not data:
            break
        chunks.append(data)
    os.close(main_fd)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", errors="replace")


@pytest.fixture
def hostile_run(workdir: Path) -> str:
    path = make_run("runs", 1, {"lr": 0.1, "opt": HOSTILE, "layers": MARKUP}, {"loss": [0.5]})
    update_tags(path, {"note": HOSTILE, "plain": "C:\\temp\\"})
    # a key tune no longer writes (tag keys follow MLflow's rule), as an older tuner or another tool left it
    tags = RunPaths(path).tags_json
    atomic_write_json(tags, {**json.loads(Path(tags).read_text()), MARKUP: "x[bold]y"})
    return path


def test_the_helper_spells_out_control_characters_and_leaves_text_alone() -> None:
    assert inert(HOSTILE) == SPELLED
    assert inert("a\tb\nc\rd\x00e\x7f\x9b\u202e") == "a\\tb\\nc\\rd\\x00e\\x7f\\x9b\\u202e"
    assert inert("line 1\nline 2\x1b", keep_newlines=True) == "line 1\nline 2\\x1b"
    for text in ("naïve café", "学習率", "loss 🔥", "C:\\temp\\", "a b", ""):
        assert inert(text) == text
    assert inert(3.5) == "3.5"
    assert markup(MARKUP) == "\\[/x]" and markup("\x1b[1m[bold]") == "\\x1b[1m\\[bold]"


def test_ls_plain_spells_out_a_hostile_flag_value_and_tag(hostile_run: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls"]) == 0  # the default listing (no pandas)
    out = capsys.readouterr().out
    _assert_inert(out)
    assert SPELLED in out and MARKUP in out
    assert main(["ls", "--columns", "run,flag_opt,tag_note,tag_[/x]"]) == 0  # the frame's path
    out = capsys.readouterr().out
    _assert_inert(out)
    assert out.count(SPELLED) == 2 and "x[bold]y" in out


def test_ls_and_info_on_a_terminal_spell_it_out_and_show_markup_as_text(hostile_run: str, workdir: Path) -> None:
    code, out = _in_a_terminal("ls", "--columns", "run,flag_opt,flag_layers,tag_note,tag_[/x]", cwd=workdir)
    assert code == 0, out
    _assert_inert(out)
    assert SPELLED in out and MARKUP in out and "x[bold]y" in out
    code, out = _in_a_terminal("ls", cwd=workdir)
    assert code == 0, out
    _assert_inert(out)
    code, out = _in_a_terminal("info", cwd=workdir)  # a tag key `[/x]` made rich raise MarkupError
    assert code == 0, out
    _assert_inert(out)
    assert "tag_[/x]" in out and "x[bold]y" in out and SPELLED in out and "C:\\temp\\" in out


def test_info_lookup_and_tag_print_values_inert(hostile_run: str, capsys: pytest.CaptureFixture[str]) -> None:
    name = Path(hostile_run).name
    assert main(["info", name]) == 0
    out = capsys.readouterr().out
    _assert_inert(out)
    assert "tag_[/x]" in out and SPELLED in out
    assert main(["lookup", name, "tags.note"]) == 0
    assert capsys.readouterr().out == SPELLED + "\n"
    assert main(["lookup", name, "flags.opt"]) == 0
    _assert_inert(capsys.readouterr().out)
    assert main(["tag", name]) == 0
    out = capsys.readouterr().out
    _assert_inert(out)
    assert f"note={SPELLED}" in out


def test_an_error_line_quoting_a_value_is_inert(hostile_run: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "2026" + HOSTILE]) == 2
    err = capsys.readouterr().err
    _assert_inert(err)
    assert SPELLED in err and len(err.strip().splitlines()) == 1


def test_a_run_folder_named_with_escapes_is_listed_inert(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = make_run("runs", 1, {"lr": 0.1}, {"loss": [0.5]})
    os.rename(path, os.path.join("runs", "2026" + HOSTILE))
    assert main(["ls"]) == 0
    out = capsys.readouterr().out
    _assert_inert(out)
    assert "2026" + SPELLED in out
    assert main(["rm", "^2026", "--yes"]) == 0  # its listing and its summary go through the channel's renderer
    _assert_inert(capsys.readouterr().out)
    assert not [n for n in os.listdir("runs") if n.startswith("2026")]


def test_sweeps_table_shows_a_hostile_script_name_as_text(workdir: Path) -> None:
    Journal.create(str(workdir / "runs"), "20261122-051233-ab12",
                   {"script": f"/p/train[bold]{HOSTILE}.py", "total": 1, "indices": [0], "created": 1.0,
                    "grid": {"x": [1]}})
    code, out = _in_a_terminal("sweeps", cwd=workdir)
    assert code == 0, out
    _assert_inert(out)
    assert f"train[bold]{SPELLED}" in out


def test_progress_lines_of_a_failed_trial_are_inert(capsys: pytest.CaptureFixture[str]) -> None:
    from tuner.sweep.progress import SweepProgress

    progress = SweepProgress(2, "loss", "min")
    progress.trial_done("2026-11-22T05-12-33Z", "finished", 1.0, 0.5)
    progress.trial_done("2026-11-22T05-12-34Z", "failed", 1.0, None, exit_code=2,
                        error=f"argument --opt: invalid choice: '{HOSTILE}'",
                        stderr_tail=[f"usage: train.py [--opt {MARKUP}]\n", f"bad value {HOSTILE}\n"])
    said = capsys.readouterr()
    text = said.out + said.err
    _assert_inert(text)
    assert text.count(SPELLED) == 2 and MARKUP in text


def test_a_page_keeps_escaping_html_and_carries_the_value_as_data(hostile_run: str) -> None:
    from tuner.report import save_run_view

    page = Path(save_run_view(hostile_run, filename="view.html")).read_text()
    data = page.split('<script type="application/json" id="page-data">', 1)[1].split("</script>", 1)[0]
    assert "\x1b" not in page and "\\u001b]0;pwned\\u0007" in data
    assert json.loads(data)["run"]["flags"]["opt"] == HOSTILE
