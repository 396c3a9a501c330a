"""Positional arguments only (sys.argv[1], sys.argv[2]): reached through `${flag.NAME}` items."""
import sys

from _echo import echo

echo({"data": sys.argv[1], "epochs": int(sys.argv[2])})
