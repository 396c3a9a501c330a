"""Sweeps as tuner wrote them at commit 1366e9a, before the journal's record kinds were an enum (issue 31): the
lines of three real sweeps' journal.jsonl, and what their runs recorded. Made by that commit's code on this machine:
`train.py` below swept by a TPE search with ASHA (`SEARCH`: 8 trials, the driver SIGKILLed after 5 tells, with trials
4 and 6 running and 7 never asked), a grid of two (`GRID`), then a grid of three with --skip-done (`SKIPPING`: two
trials reused from `GRID`).

Each line is the text that commit's Journal wrote, less its `signature` (which only the key of the user who ran
it can check): `write` signs again, with this user's key, the lines that commit signed (the header and the ask,
tell and stop records) exactly as its Journal did (`Signer.signed_text`), so an old journal of this user's reads
as this user's. The runs are written through the runner's own writers (synthetic_runs), their times moved to an
hour ago (the running ones then read as a dead driver's, as they are)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from synthetic_runs import make_run

from tuner.store.signing import Signer

SEARCH, GRID, SKIPPING = "20261207-213404-32a1", "20261207-213420-f79a", "20261207-213436-54ec"

#: the script the sweeps ran (its sha256 is the headers' script_sha256)
SCRIPT = """import argparse, time
p = argparse.ArgumentParser()
p.add_argument("--x", type=float, default=0.0)
p.add_argument("--epochs", type=int, default=12)
args = p.parse_args()
for epoch in range(1, args.epochs + 1):
    print(f"epoch {epoch} loss={1 / epoch + args.x:.4f}", flush=True)
    time.sleep(0.12)
"""

#: what 1366e9a signed: the header, and the records resume replays (its `REPLAYED`)
SIGNED_THEN = ("sweep", "ask", "tell", "stop")

JOURNALS = {
    '20261207-213404-32a1': [
        '{"type": "sweep", "id": "20261207-213404-32a1", "created": 1796679244.393503, "cwd": "/tmp/jfix", "script": "/tmp/jfix/train.py", "script_given": "train.py", "script_sha256": "1c207cfc46bb605a3ca3659945d02cf15ca955f02acae1d5e6d0d4a2a822ecc4", "grid": {"kind": "space", "flags": {"x": {"uniform": [0.0, 4.0]}, "epochs": [6]}, "num_samples": 8, "seed": 5}, "total": 8, "sample": null, "seed": 5, "indices": null, "metric": "loss", "mode": "min", "extra_args": [], "command": null, "search": "tpe", "stop": {"rule": "asha", "grace_period": 1, "reduction_factor": 2, "max_t": null, "min_trials": 3, "brackets": null, "strict": true}, "tags": {}, "target": null, "settings": {"cpus_per_trial": 1.0, "gpus_per_trial": null, "max_concurrent": 2, "max_failures": null, "retries": 0, "timeout_s": null, "ray_address": null, "kill_grace_s": 10.0}}',
        '{"type": "ask", "trial": 0, "sampler": "tpe", "flags": {"x": 0.8879726843589579, "epochs": 6}, "params": {"x": 0.8879726843589579, "epochs": 6}, "time": 1796679244.554881}',
        '{"type": "ask", "trial": 1, "sampler": "tpe", "flags": {"x": 3.4829292247095056, "epochs": 6}, "params": {"x": 3.4829292247095056, "epochs": 6}, "time": 1796679244.8741102}',
        '{"type": "stop", "trial": 1, "rule": "asha", "step": 1.0, "judged_step": 1.0, "value": 4.4829, "threshold": 1.888, "time": 1796679245.512667}',
        '{"type": "outcome", "trial": 1, "attempt": 1, "run": "2026-12-07T21-34-04.873Z", "status": "stopped", "exit_code": -15, "error": "asha: loss 4.483 at step 1 is worse than 1.888", "duration_s": 0.07787251472473145, "time": 1796679245.536051}',
        '{"type": "tell", "trial": 1, "state": "pruned", "value": 4.4829, "last": [1.0, 4.4829], "time": 1796679245.5365934}',
        '{"type": "ask", "trial": 2, "sampler": "tpe", "flags": {"x": 0.8268766213577057, "epochs": 6}, "params": {"x": 0.8268766213577057, "epochs": 6}, "time": 1796679245.541952}',
        '{"type": "outcome", "trial": 0, "attempt": 1, "run": "2026-12-07T21-34-04.553Z", "status": "finished", "exit_code": 0, "error": null, "duration_s": 0.854266881942749, "time": 1796679246.2521727}',
        '{"type": "tell", "trial": 0, "state": "complete", "value": 1.0546, "last": [6.0, 1.0546], "time": 1796679246.2528265}',
        '{"type": "ask", "trial": 3, "sampler": "tpe", "flags": {"x": 3.674443631751686, "epochs": 6}, "params": {"x": 3.674443631751686, "epochs": 6}, "time": 1796679246.2539864}',
        '{"type": "stop", "trial": 3, "rule": "asha", "step": 1.0, "judged_step": 1.0, "value": 4.6744, "threshold": 1.888, "time": 1796679246.3370438}',
        '{"type": "outcome", "trial": 3, "attempt": 1, "run": "2026-12-07T21-34-06.253Z", "status": "stopped", "exit_code": -15, "error": "asha: loss 4.674 at step 1 is worse than 1.888", "duration_s": 0.0854489803314209, "time": 1796679246.347326}',
        '{"type": "tell", "trial": 3, "state": "pruned", "value": 4.6744, "last": [1.0, 4.6744], "time": 1796679246.3479493}',
        '{"type": "ask", "trial": 4, "sampler": "tpe", "flags": {"x": 1.9536447551793166, "epochs": 6}, "params": {"x": 1.9536447551793166, "epochs": 6}, "time": 1796679246.3490968}',
        '{"type": "outcome", "trial": 2, "attempt": 1, "run": "2026-12-07T21-34-05.539Z", "status": "finished", "exit_code": 0, "error": null, "duration_s": 0.8323380947113037, "time": 1796679246.3835387}',
        '{"type": "tell", "trial": 2, "state": "complete", "value": 0.9935, "last": [6.0, 0.9935], "time": 1796679246.3840857}',
        '{"type": "ask", "trial": 5, "sampler": "tpe", "flags": {"x": 2.446975451610583, "epochs": 6}, "params": {"x": 2.446975451610583, "epochs": 6}, "time": 1796679246.3851936}',
        '{"type": "stop", "trial": 5, "rule": "asha", "step": 1.0, "judged_step": 1.0, "value": 3.447, "threshold": 2.9536, "time": 1796679246.4714289}',
        '{"type": "outcome", "trial": 5, "attempt": 1, "run": "2026-12-07T21-34-06.384Z", "status": "stopped", "exit_code": -15, "error": "asha: loss 3.447 at step 1 is worse than 2.954", "duration_s": 0.0985267162322998, "time": 1796679246.4915888}',
        '{"type": "tell", "trial": 5, "state": "pruned", "value": 3.447, "last": [1.0, 3.447], "time": 1796679246.492143}',
        '{"type": "ask", "trial": 6, "sampler": "tpe", "flags": {"x": 3.0636314259212623, "epochs": 6}, "params": {"x": 3.0636314259212623, "epochs": 6}, "time": 1796679246.4961162}',
    ],
    '20261207-213420-f79a': [
        '{"type": "sweep", "id": "20261207-213420-f79a", "created": 1796679260.7722173, "cwd": "/tmp/jfix", "script": "/tmp/jfix/train.py", "script_given": "train.py", "script_sha256": "1c207cfc46bb605a3ca3659945d02cf15ca955f02acae1d5e6d0d4a2a822ecc4", "grid": {"kind": "product", "flags": {"x": [0.0, 0.5], "epochs": [2]}}, "total": 2, "sample": null, "seed": null, "indices": null, "metric": null, "mode": null, "extra_args": [], "command": null, "search": "random", "stop": null, "tags": {}, "target": null, "settings": {"cpus_per_trial": 1.0, "gpus_per_trial": null, "max_concurrent": null, "max_failures": null, "retries": 0, "timeout_s": null, "ray_address": null, "kill_grace_s": 10.0}}',
        '{"type": "outcome", "trial": 1, "attempt": 1, "run": "2026-12-07T21-34-20.895Z", "status": "finished", "exit_code": 0, "error": null, "duration_s": 0.38681626319885254, "time": 1796679262.2972972}',
        '{"type": "outcome", "trial": 0, "attempt": 1, "run": "2026-12-07T21-34-20.779Z", "status": "finished", "exit_code": 0, "error": null, "duration_s": 0.4147183895111084, "time": 1796679262.3033311}',
    ],
    '20261207-213436-54ec': [
        '{"type": "sweep", "id": "20261207-213436-54ec", "created": 1796679276.3259609, "cwd": "/tmp/jfix", "script": "/tmp/jfix/train.py", "script_given": "train.py", "script_sha256": "1c207cfc46bb605a3ca3659945d02cf15ca955f02acae1d5e6d0d4a2a822ecc4", "grid": {"kind": "product", "flags": {"x": [0.0, 0.5, 1.0], "epochs": [2]}}, "total": 3, "sample": null, "seed": null, "indices": null, "metric": null, "mode": null, "extra_args": [], "command": null, "search": "random", "stop": null, "tags": {}, "target": null, "settings": {"cpus_per_trial": 1.0, "gpus_per_trial": null, "max_concurrent": null, "max_failures": null, "retries": 0, "timeout_s": null, "ray_address": null, "kill_grace_s": 10.0}}',
        '{"type": "skip", "trial": 0, "run": "2026-12-07T21-34-20.779Z", "time": 1796679276.4309366}',
        '{"type": "skip", "trial": 1, "run": "2026-12-07T21-34-20.895Z", "time": 1796679276.4310386}',
        '{"type": "outcome", "trial": 2, "attempt": 1, "run": "2026-12-07T21-34-36.441Z", "status": "finished", "exit_code": 0, "error": null, "duration_s": 0.44617795944213867, "time": 1796679277.376222}',
    ],
}
RUNS = [
    ('2026-12-07T21-34-04.553Z', '20261207-213404-32a1', 0, 'finished', {'x': 0.8879726843589579, 'epochs': 6}, [1.888, 1.388, 1.2213, 1.138, 1.088, 1.0546], 1796679245.3929884),
    ('2026-12-07T21-34-04.873Z', '20261207-213404-32a1', 1, 'stopped', {'x': 3.4829292247095056, 'epochs': 6}, [4.4829], 1796679245.4452143),
    ('2026-12-07T21-34-05.539Z', '20261207-213404-32a1', 2, 'finished', {'x': 0.8268766213577057, 'epochs': 6}, [1.8269, 1.3269, 1.1602, 1.0769, 1.0269, 0.9935], 1796679245.5479984),
    ('2026-12-07T21-34-06.253Z', '20261207-213404-32a1', 3, 'stopped', {'x': 3.674443631751686, 'epochs': 6}, [4.6744], 1796679246.257841),
    ('2026-12-07T21-34-06.348Z', '20261207-213404-32a1', 4, 'running', {'x': 1.9536447551793166, 'epochs': 6}, [], 1796679246.3554463),
    ('2026-12-07T21-34-06.384Z', '20261207-213404-32a1', 5, 'stopped', {'x': 2.446975451610583, 'epochs': 6}, [3.447], 1796679246.388458),
    ('2026-12-07T21-34-06.495Z', '20261207-213404-32a1', 6, 'running', {'x': 3.0636314259212623, 'epochs': 6}, [], 1796679246.5019712),
    ('2026-12-07T21-34-20.779Z', '20261207-213420-f79a', 0, 'finished', {'x': 0.0, 'epochs': 2}, [1.0, 0.5], 1796679261.8855765),
    ('2026-12-07T21-34-20.895Z', '20261207-213420-f79a', 1, 'finished', {'x': 0.5, 'epochs': 2}, [1.5, 1.0], 1796679261.9060404),
    ('2026-12-07T21-34-36.441Z', '20261207-213436-54ec', 2, 'finished', {'x': 1.0, 'epochs': 2}, [2.0, 1.5], 1796679276.9258435),
]


def journal_lines(sweep: str, signer: Signer | None = None) -> list[str]:
    """The journal's lines as 1366e9a wrote them for the user of `signer` (this user's by default)."""
    import json

    signer = signer or Signer.for_user()
    return [signer.signed_text(json.loads(line)) if json.loads(line)["type"] in SIGNED_THEN else line
            for line in JOURNALS[sweep]]


def write(workdir: Path) -> Path:
    """The three sweeps in `workdir/runs` and their script in `workdir/train.py`; returns the runs directory."""
    runs = workdir / "runs"
    for sweep in JOURNALS:
        folder = runs / "sweeps" / sweep
        folder.mkdir(parents=True)
        (folder / "journal.jsonl").write_text("".join(line + "\n" for line in journal_lines(sweep)))
    first = min(run[6] for run in RUNS)
    shift = time.time() - 3600 - first
    for name, sweep, trial, status, flags, losses, start in RUNS:
        fields: dict[str, Any] = {"sweep": sweep, "trial": trial, "attempt": 1, "job_type": "sweep"}
        make_run(runs, name, status=status, flags=flags, metrics=[{"loss": loss} for loss in losses],
                 start=start + shift, heartbeat=start + shift + (0.0 if status == "running" else 1.0),
                 end=start + shift + 1.0 if status != "running" else None, **fields)
    (workdir / "train.py").write_text(SCRIPT)
    return runs
