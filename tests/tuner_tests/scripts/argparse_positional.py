"""Positional arguments and a BooleanOptionalAction, parsed inside main()."""
import argparse

from _echo import echo


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data", help="data file")
    parser.add_argument("epochs", type=int, help="epochs")
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True)
    args, _ = parser.parse_known_args()
    echo(vars(args))


if __name__ == "__main__":
    main()
