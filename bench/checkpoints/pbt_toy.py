"""Ray Tune's PBT example function (ray/tune/examples/pbt_function.py: the best lr is a triangle wave of the
accuracy, so no fixed lr trains well and a schedule does) as a plain script: it prints its metrics each step and
keeps its state in $TUNER_CHECKPOINT_DIR. Imports nothing from tuner."""

import argparse
import json
import os
import random
import time


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--step_s", type=float, default=0.0)
    p.add_argument("--save", default="true")  # false: a script that never checkpoints
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    state = os.path.join(os.environ.get("TUNER_CHECKPOINT_DIR", "."), "checkpoint.json")
    accuracy, step = 0.0, 1
    if a.save == "true" and os.path.exists(state):
        with open(state) as f:
            saved = json.load(f)
        accuracy, step = saved["acc"], saved["step"] + 1
    rng = random.Random(f"{a.seed}:{a.lr}:{step}")
    midpoint, q_tolerance, noise_level = 100, 3, 2
    while step <= a.steps:
        if accuracy < midpoint:
            optimal_lr = 0.01 * accuracy / midpoint
        else:
            optimal_lr = 0.01 - 0.01 * (accuracy - midpoint) / midpoint
        optimal_lr = min(0.01, max(0.001, optimal_lr))
        q_err = max(a.lr, optimal_lr) / min(a.lr, optimal_lr)
        if q_err < q_tolerance:
            accuracy += (1.0 / q_err) * rng.random()
        elif a.lr > optimal_lr:
            accuracy -= (q_err - q_tolerance) * rng.random()
        accuracy += noise_level * rng.gauss(0, 1)
        accuracy = max(0, accuracy)
        time.sleep(a.step_s)
        if a.save == "true":
            with open(state + ".tmp", "w") as f:
                json.dump({"acc": accuracy, "step": step}, f)
            os.replace(state + ".tmp", state)
        print(f"step {step} mean_accuracy={accuracy:.4f} cur_lr={a.lr:.6g}", flush=True)
        if accuracy > midpoint * 2:  # Ray's example: done
            break
        step += 1


if __name__ == "__main__":
    main()
