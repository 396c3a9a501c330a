"""Configured by environment variables only: the template's `env` mapping."""
import os

from _echo import echo

echo({"lr": float(os.environ["LR"]), "units": int(os.environ["UNITS"])})
