"""Synthetic two-objective training script for bench/pareto: prints `epoch N f1=... f2=...` for each epoch, a
learning curve of each objective decaying towards its final value, which is a ZDT1-like function of the flags with a
known front (x2 = x3 = 0, f2 = 1 - sqrt(f1)). Imports nothing from tuner: the unmodified-script case."""

import argparse
import math
import random
import time


def final_values(x1: float, x2: float, x3: float) -> tuple[float, float]:
    """Both minimized: f1 = x1, f2 = g (1 - sqrt(x1 / g)) with g = 1 + x2 + x3 (in [1, 3])."""
    g = 1 + x2 + x3
    return x1, g * (1 - math.sqrt(x1 / g))


def curve(x1: float, x2: float, x3: float, epochs: int):
    """(epoch, f1, f2): each decays from final + 0.8 towards final, with small noise seeded by the flags."""
    rng = random.Random(f"{x1}:{x2}:{x3}")
    f1, f2 = final_values(x1, x2, x3)
    for epoch in range(1, epochs + 1):
        extra = 0.8 * math.exp(-epoch / 3)
        yield epoch, f1 + extra + rng.gauss(0, 0.005), f2 + extra + rng.gauss(0, 0.005)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--x1", type=float, default=0.5)
    p.add_argument("--x2", type=float, default=0.5)
    p.add_argument("--x3", type=float, default=0.5)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--epoch_s", type=float, default=0.03)  # the "training" time of one epoch
    a = p.parse_args()
    for epoch, f1, f2 in curve(a.x1, a.x2, a.x3, a.epochs):
        time.sleep(a.epoch_s)
        print(f"epoch {epoch} f1={f1:.5f} f2={f2:.5f}", flush=True)


if __name__ == "__main__":
    main()
