"""Trial script for bench/search/latency.py: the objective's curve (objective.py), one `epoch N loss=...` line per
epoch with the time it was printed (`printed_at`), and the time SIGTERM reached it, printed as its last line.
Imports nothing from tuner: the unmodified-script case, stopped from its printed lines."""

import argparse
import signal
import sys
import time

from objective import curve


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--units", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--act", default="relu")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--epoch_s", type=float, default=0.05)
    a = p.parse_args()

    def terminated(*_: object) -> None:
        print(f"SIGTERM at {time.time():.6f}", flush=True)
        sys.exit(143)

    signal.signal(signal.SIGTERM, terminated)
    for epoch, loss in curve(a.lr, a.units, a.dropout, a.act, a.epochs):
        time.sleep(a.epoch_s)
        print(f"epoch {epoch} loss={loss:.5f} printed_at={time.time():.6f}", flush=True)


if __name__ == "__main__":
    main()
