"""The `tune` command: `main` dispatches through the command table in tuner.cli.main."""

from tuner.cli.main import main

__all__ = ["main"]
