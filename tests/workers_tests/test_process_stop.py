"""workers.process: a stop request (a file the sweep writes) ends the script early as `stopped`."""

from __future__ import annotations

import json
import sys
import textwrap
import threading
import time
from pathlib import Path

from workers.process import STOPPED, RunSpec, run_process


def test_a_stop_request_terms_the_group_then_kills_and_the_run_is_stopped(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    # ignores SIGTERM: only the SIGKILL after the grace ends it
    script.write_text(textwrap.dedent("""
        import signal, time
        signal.signal(signal.SIGTERM, lambda *a: print("got TERM", flush=True))
        for epoch in range(1, 1000):
            print(f"epoch {epoch} loss={1 / epoch}", flush=True)
            time.sleep(0.05)
    """).lstrip())
    meta = tmp_path / "run" / "tuner.d"
    stop = meta / "stop.json"
    spec = RunSpec(command=(sys.executable, str(script)), cwd=str(tmp_path), run_dir=str(tmp_path / "run"),
                   run_json=str(meta / "run.json"), output_log=str(meta / "output.log"),
                   error_json=str(meta / "error.json"), record={"name": "run"}, stop_file=str(stop), kill_grace_s=0.5)

    def request_stop() -> None:
        while "epoch 3 " not in (Path(spec.output_log).read_text() if Path(spec.output_log).exists() else ""):
            time.sleep(0.02)
        stop.write_text(json.dumps({"reason": "asha: loss 0.33 worse than cutoff 0.2 at step 3"}))

    threading.Thread(target=request_stop, daemon=True).start()
    outcome = run_process(spec)
    assert outcome.status == STOPPED
    assert outcome.error_message == "asha: loss 0.33 worse than cutoff 0.2 at step 3"
    log = Path(spec.output_log).read_text()
    assert "got TERM" in log and "epoch 999" not in log
    assert json.loads((meta / "run.json").read_text())["status"] == "stopped"
    assert not (meta / "error.json").exists()  # stopped is not an error
