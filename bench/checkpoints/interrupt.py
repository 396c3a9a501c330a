"""bench/checkpoints/interrupt.py: epochs executed by a sweep whose driver is SIGKILLed, against an uninterrupted one.

    python bench/checkpoints/interrupt.py --trials 4 --epochs 20 --kills 3

One process, three sweeps of the same checkpointing script (20 epochs, --epoch-s each, saved after every epoch),
each on its own embedded Ray cluster started by `tune` as a user's would be:
  uninterrupted   `tune train.py ...` to the end;
  checkpoints     the same, the driver SIGKILLed --kills times (each once a further share of the epochs is done),
                  then `tune resume` until the sweep is done: each trial continues from its checkpoint;
  from scratch    the same kills, the script told to ignore its checkpoint (`--scratch`): what a retry or resume
                  cost before checkpoints (the baseline).
Every epoch appends a line to a ledger outside the project when it begins and when it completes. Reported: epochs
completed, epochs begun (an epoch killed half way is work lost too) and the ratio of begun epochs to the
uninterrupted sweep's (goal <= 1.15 with checkpoints), and the wall time. Not a test: figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

SCRIPT = """
import argparse, json, os, time
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float)
p.add_argument("--epochs", type=int)
p.add_argument("--epoch-s", type=float)
p.add_argument("--ledger")
p.add_argument("--scratch", action="store_true")
a = p.parse_args()
state = os.path.join(os.environ["TUNER_CHECKPOINT_DIR"], "state.json")
epoch, w = json.load(open(state)) if os.path.exists(state) and not a.scratch else (0, 0.0)
while epoch < a.epochs:
    with open(a.ledger, "a") as f:
        f.write(f"start {a.lr} {epoch + 1}\\n")
    time.sleep(a.epoch_s)
    epoch, w = epoch + 1, w + a.lr
    with open(state + ".tmp", "w") as f:
        json.dump([epoch, w], f)
    os.replace(state + ".tmp", state)
    with open(a.ledger, "a") as f:
        f.write(f"done {a.lr} {epoch}\\n")
    print(f"epoch {epoch} loss={1 / (1 + w):.4f}", flush=True)
"""


def _tune(folder: str, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    return subprocess.Popen([sys.executable, "-m", "tuner", *args], cwd=folder, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _executed(ledger: str, kind: str = "done") -> int:
    """Epochs completed (`done`) or begun (`start`: also those killed half way, work lost all the same)."""
    try:
        with open(ledger) as handle:
            return sum(1 for line in handle if line.startswith(kind))
    except OSError:
        return 0


def _sweep_id(folder: str) -> str:
    return sorted(os.listdir(os.path.join(folder, "runs", "sweeps")))[0]


def one(kind: str, trials: int, epochs: int, epoch_s: float, kills: int) -> tuple[int, int, float]:
    """(epochs completed, epochs begun, wall seconds) of one sweep of `kind`."""
    folder = tempfile.mkdtemp(prefix=f"bench-ckpt-{kind}-")
    with open(os.path.join(folder, "train.py"), "w") as handle:
        handle.write(SCRIPT)
    # outside the project: a run sees the project through a copy-on-write view, where its writes stay its own
    ledger = os.path.join(tempfile.mkdtemp(prefix=f"bench-ckpt-ledger-{kind}-"), "ledger.txt")
    lrs = ",".join(str(round(0.1 * (i + 1), 2)) for i in range(trials))
    args = ["train.py", "--flag", f"lr={lrs}", "--flag", f"epochs={epochs}", "--flag", f"epoch-s={epoch_s}",
            "--flag", f"ledger={ledger}", "--max-concurrent", "2", "--yes", "-q"]
    if kind == "scratch":
        args += ["--flag", "scratch=true"]
    total = trials * epochs
    start = time.perf_counter()
    proc = _tune(folder, *args)
    if kind != "uninterrupted":
        for number in range(1, kills + 1):
            # kill once this share of the work is done (counted from the uninterrupted total, so the three sweeps
            # are interrupted at the same progress), mid-epoch
            goal = total * number / (kills + 1)
            while _executed(ledger) < goal and proc.poll() is None:
                time.sleep(0.05)
            time.sleep(epoch_s / 2)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=120)
            proc = _tune(folder, "resume", _sweep_id(folder), "-q")
    out, err = proc.communicate(timeout=1800)
    while "nothing to resume" not in out and kind != "uninterrupted":  # resume until the sweep is done
        if proc.returncode not in (0, None):
            raise SystemExit(f"{kind}: tune exited {proc.returncode}: {err[-2000:]}")
        proc = _tune(folder, "resume", _sweep_id(folder), "-q")
        out, err = proc.communicate(timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"{kind}: tune exited {proc.returncode}: {err[-2000:]}")
    return _executed(ledger), _executed(ledger, "start"), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--epoch-s", type=float, default=0.3)
    parser.add_argument("--kills", type=int, default=3)
    a = parser.parse_args()
    results = {kind: one(kind, a.trials, a.epochs, a.epoch_s, a.kills)
               for kind in ("uninterrupted", "checkpoints", "scratch")}
    base = results["uninterrupted"][1]
    print(f"{a.trials} trials x {a.epochs} epochs of {a.epoch_s} s, 2 at a time; {a.kills} SIGKILLs of the driver")
    print(f"{'sweep':<15} {'completed':>9} {'begun':>6} {'ratio (begun)':>13} {'wall s':>7}")
    for kind, (done, begun, wall) in results.items():
        print(f"{kind:<15} {done:>9} {begun:>6} {begun / base:>13.2f} {wall:>7.1f}")


if __name__ == "__main__":
    main()
