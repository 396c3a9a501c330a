"""An option whose name starts with a digit, a short option, an append option and a count."""
import argparse

from _echo import echo

parser = argparse.ArgumentParser()
parser.add_argument("--10sec", dest="ten_sec", type=int, default=1)
parser.add_argument("-n", "--num", dest="n", type=int, default=2)
parser.add_argument("--tag", action="append", default=None)
parser.add_argument("-v", "--verbose", action="count", default=0)
args = parser.parse_args()
echo(vars(args))
