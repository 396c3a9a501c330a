"""Render `tune ls` in a pseudo-terminal of a fixed width (80 and 200 columns) over fabricated runs and save
each screen as a PNG with headless Chromium: `python docs/screenshots/ls_shots.py` from the repository root."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import tempfile
import termios

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "tuner_tests"))


def tty_output(width: int, cwd: str) -> str:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, width, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_") and k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen([sys.executable, "-m", "tuner", "ls"], stdout=slave, stderr=slave, cwd=cwd, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def main() -> None:
    from fabricate_runs import make_run
    from rich.console import Console
    from rich.text import Text

    work = tempfile.mkdtemp(prefix="ls-shots-")
    for i in range(8):
        make_run(os.path.join(work, "runs"), i, {"lr": [0.1, 0.01, 0.001][i % 3], "units": 64 * (1 + i % 4),
                                                 "optimizer": ["adam", "sgd"][i % 2]},
                 {"val_acc": [0.8367 + i / 97], "val_loss": [0.41 - i / 123]},
                 status="failed" if i == 5 else "finished", sweep="20261118-110640-ab12", trial=i)
    for width in (80, 200):
        console = Console(record=True, width=width, force_terminal=True, color_system="truecolor")
        console.print(Text("$ tune ls", style="bold"))
        console.print(Text.from_ansi(tty_output(width, work)))
        page = os.path.join(work, f"ls-{width}.html")
        console.save_html(page, inline_styles=True)
        target = os.path.join(ROOT, "docs", "screenshots", f"ls-{width}.png")
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--screenshot={target}", f"--window-size={width * 9 + 60},{420}", "file://" + page],
                       check=True, capture_output=True, timeout=120)
        print(target)


if __name__ == "__main__":
    main()
