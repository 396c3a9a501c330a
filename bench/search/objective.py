"""Synthetic training script for bench/search: prints a noisy learning curve, one `epoch N loss=...` line per
epoch, whose final value depends on the flags in a known way (optimum 0 at lr=0.01, units=128, dropout=0.2,
act=relu). Imports nothing from tuner: it is the unmodified-script case."""

import argparse
import math
import random
import time


def final_loss(lr: float, units: int, dropout: float, act: str) -> float:
    return (0.5 * (math.log10(lr) + 2) ** 2 + ((units - 128) / 128) ** 2 + 2 * (dropout - 0.2) ** 2
            + (0.0 if act == "relu" else 0.3))


def curve(lr: float, units: int, dropout: float, act: str, epochs: int):
    """(epoch, loss): decays from final + 1.5 towards final, with small noise seeded by the flags."""
    rng = random.Random(f"{lr}:{units}:{dropout}:{act}")
    final = final_loss(lr, units, dropout, act)
    for epoch in range(1, epochs + 1):
        yield epoch, final + 1.5 * math.exp(-epoch / 3) + rng.gauss(0, 0.01)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--units", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--act", default="relu")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--epoch_s", type=float, default=0.03)  # the "training" time of one epoch
    a = p.parse_args()
    for epoch, loss in curve(a.lr, a.units, a.dropout, a.act, a.epochs):
        time.sleep(a.epoch_s)
        print(f"epoch {epoch} loss={loss:.5f}", flush=True)


if __name__ == "__main__":
    main()
