"""argparse as found in the wild: dashed names, choices, a store_true and a store_false switch, nargs."""
import argparse

from _echo import echo

TRAINING_STARTED = True  # (anything below parse_args is the training code, never run by `tune flags`)

parser = argparse.ArgumentParser(description="train a model")
parser.add_argument("--batch-size", type=int, default=32, help="examples per step")
parser.add_argument("--learning-rate", "--lr", type=float, default=1e-3, help="step size")
parser.add_argument("--optimizer", choices=["sgd", "adam"], default="adam", help="the optimizer")
parser.add_argument("--fast", action="store_true", help="fewer epochs")
parser.add_argument("--no-shuffle", dest="shuffle", action="store_false", help="keep the data order")
parser.add_argument("--layers", type=int, nargs="+", default=[8], help="units per layer")
parser.add_argument("--note", default="", help="free text")

if __name__ == "__main__":
    args = parser.parse_args()
    echo(vars(args))
