"""Jupyter: small notebooks executed headlessly (nbclient, a kernel of this interpreter), their outputs asserted."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

import pytest
from synthetic_runs import make_run

nbformat = pytest.importorskip("nbformat", reason="needs the notebook extra: pip install -e '.[notebook]'")
nbclient = pytest.importorskip("nbclient", reason="needs the notebook extra: pip install -e '.[notebook]'")
pytest.importorskip("ipykernel", reason="needs the notebook extra: pip install -e '.[notebook]'")

T0 = 1_790_000_000.0
ANSI = re.compile(r"\x1b\[|\x1b\]|\r")  # colours, cursor moves, hyperlinks, carriage-return redraws


@pytest.fixture
def kernel(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernel spec for this very interpreter, so the notebook imports the tuner under test."""
    spec = workdir / "jupyter" / "kernels" / "tuner-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tuner test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(workdir / "jupyter"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    return "tuner-test"


def execute(cells: list[str], kernel: str, cwd: Path, timeout: int = 120) -> list[list[dict]]:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(c).strip()) for c in cells])
    client = nbclient.NotebookClient(notebook, kernel_name=kernel, timeout=timeout,
                                     resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return [cell["outputs"] for cell in notebook.cells]


def rich(outputs: list[dict], kind: str = "text/html") -> str:
    return "\n".join(o["data"][kind] for o in outputs if kind in o.get("data", {}))


def test_runs_views_and_reports_display_inline_in_a_notebook(workdir: Path, kernel: str) -> None:
    for trial, dropout in enumerate([0.2, 0.35]):
        make_run(workdir / "runs", f"2026-09-22T10-00-0{trial}Z", start=T0 + trial, end=T0 + trial + 5, sweep="s1",
                 trial=trial, attempt=1, flags={"dropout": dropout, "optimizer": "<adam>"},
                 metrics=[{"loss": 0.5 - trial * 0.1, "val_acc": 0.875}], tags={"team": "vision"})
    outputs = execute([
        "from tuner import get_run, ls_runs, view_run, compare_runs, save_sweep_report",
        "get_run('2026-09-22T10-00-01Z')",
        "ls_runs()",
        "path = view_run('2026-09-22T10-00-00Z')",
        "compare_runs(ls_runs(latest_n=2))",
        "save_sweep_report('s1')",
        "report = save_sweep_report('s1'); print(type(report).__mro__[1].__name__, report.endswith('.html'))",
    ], kernel, workdir)
    assert all(o["output_type"] != "error" for cell in outputs for o in cell), outputs

    record = rich(outputs[1])
    assert "Run 2026-09-22T10-00-01Z" in record and "0.35" in record and "0.875" in record and "vision" in record
    assert "&lt;adam&gt;" in record and "<adam>" not in record  # values are escaped

    listing = rich(outputs[2])
    assert "<table" in listing and "flag_dropout" in listing and "2026-09-22T10-00-00Z" in listing

    view = rich(outputs[3])
    assert view.startswith("<iframe") and 'sandbox="allow-scripts"' in view and "srcdoc=" in view
    assert "2026-09-22T10-00-00Z" in view
    assert not [o for o in outputs[3] if o["output_type"] == "stream"]  # no path printed: the page is shown

    comparison = rich(outputs[4])
    assert comparison.startswith("<iframe") and "2026-09-22T10-00-01Z" in comparison

    report = rich(outputs[5])
    assert report.startswith("<iframe") and "Sweep s1" in report
    assert outputs[6][0]["text"].strip() == "str True"  # a plain path where it is not a cell's value


def test_outside_a_notebook_the_views_print_their_path(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tuner import save_sweep_report, view_run

    make_run(workdir / "runs", "2026-09-22T10-00-00Z", sweep="s1", trial=0, attempt=1, flags={"x": 1})
    path = view_run("2026-09-22T10-00-00Z", browse=False)
    assert capsys.readouterr().out == path + "\n"
    report = save_sweep_report("s1")
    assert isinstance(report, str) and Path(report).is_file() and capsys.readouterr().out == ""


@pytest.mark.ray
@pytest.mark.slow
def test_a_sweep_in_a_notebook_shows_an_html_progress_bar_and_no_terminal_control_codes(
        workdir: Path, kernel: str, ray_cluster: str) -> None:
    (workdir / "train.py").write_text(textwrap.dedent("""
        from tuner import flag_numeric, flags, log_metrics
        FLAGS = flags(flag_numeric("lr", 0.1))
        for epoch in range(3):
            log_metrics(epoch=epoch, loss=FLAGS.lr / (epoch + 1), acc=1 - FLAGS.lr / (epoch + 1))
    """))
    outputs = execute([
        "from tuner import tuning_run",
        f"df = tuning_run('train.py', flags={{'lr': [0.1, 0.2, 0.3]}}, confirm=False, metric='acc', "
        f"address={ray_cluster!r})",
        "print(sorted(df['status']), len(df))",
    ], kernel, workdir, timeout=240)
    assert all(o["output_type"] != "error" for cell in outputs for o in cell), outputs
    sweep = outputs[1]
    texts = [o.get("text", "") for o in sweep] + [v for o in sweep for v in o.get("data", {}).values()]
    assert texts and not [t for t in texts if ANSI.search(t)], texts
    bar = rich(sweep)
    assert "<progress value='3' max='3'" in bar and "3/3" in bar and "best acc" in bar
    assert outputs[2][0]["text"].strip() == "['finished', 'finished', 'finished'] 3"


@pytest.mark.ray
@pytest.mark.slow
def test_a_sweep_in_a_notebook_silenced_by_the_tuner_logger_shows_nothing(workdir: Path, kernel: str,
                                                                          ray_cluster: str) -> None:
    (workdir / "train.py").write_text(textwrap.dedent("""
        import sys
        from tuner import flag_numeric, flags, log_metrics
        FLAGS = flags(flag_numeric("lr", 0.1))
        if FLAGS.lr == 0:
            sys.exit("lr must not be 0")
        log_metrics(epoch=0, loss=FLAGS.lr)
    """))
    outputs = execute([
        "import logging, ray; from tuner import tuning_run, ls_runs  # Ray's own import notes (ipywidgets) here",
        "logging.getLogger('tuner').setLevel(logging.ERROR)  # tuner.channel: nothing tuner says is an error",
        f"df = tuning_run('train.py', flags={{'lr': [0.1, 0]}}, confirm=False, address={ray_cluster!r})",
        "frame = ls_runs(subset='metrics.nope > 1')",
        "print(sorted(df['status']))",
    ], kernel, workdir, timeout=240)
    assert all(o["output_type"] != "error" for cell in outputs for o in cell), outputs
    assert outputs[2] == [] and outputs[3] == []  # no plan, no bar, no failure line, no warning
    assert outputs[4][0]["text"].strip() == "['failed', 'finished']"
