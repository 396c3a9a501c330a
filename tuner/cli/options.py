"""Shared pieces of every `tune` command: the parser that raises instead of exiting, common options."""

from __future__ import annotations

import argparse
from typing import NoReturn

from tuner.errors import TunerError

PROG = "tune"
FULL_ERROR_ENV = "TUNER_FULL_ERROR"


class UsageError(TunerError):
    """Raised by the argument parser instead of printing usage and exiting."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, via main()
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def add_runs_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs-dir", metavar="DIR", help="runs directory (default: settings runs_dir, 'runs')")


def confirm_option(args: argparse.Namespace) -> bool | None:
    """--yes: never ask; otherwise ask only when stdin is a terminal."""
    return False if args.yes else None


def add_yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")


