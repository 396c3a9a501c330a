"""The user-facing error types: the API raises these, the CLI turns them into exit status 2 (or 1)."""

from __future__ import annotations

import os
from typing import Any

#: the most characters of a user's value one error message quotes: the value may be a 500 MB string, a 9-level
#: alias bomb's expansion or a 10^5-digit number, and the message is still one short line
QUOTE_MAX = 48


def quoted(value: Any, limit: int = QUOTE_MAX) -> str:
    """`value` as error messages quote it: its repr (quotes, escapes: a newline or a terminal escape stays
    visible and inert), cut to `limit` characters with "..." and the full length. Nested values are walked only
    as far as the cut needs (reprlib), so a huge or self-repeating structure costs no more than a small one."""
    if isinstance(value, str):
        text = repr(value[:limit])
        if len(value) <= limit and len(text) <= limit:
            return text
        return text[:limit - 3] + "..." + (f" ({len(value):,} characters)" if len(value) > limit else "")
    import reprlib

    shortener = reprlib.Repr()
    shortener.maxlevel, shortener.maxstring, shortener.maxother = 3, limit + 2, limit
    shortener.maxlist = shortener.maxtuple = shortener.maxdict = shortener.maxset = 6
    try:
        text = shortener.repr(value)
    except ValueError:  # an int past Python's digit limit for str()
        return f"<an integer of about {int(value.bit_length() * 0.30103) + 1} digits>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


class TunerError(Exception):
    """Base of every error that is the user's to fix (bad input) or to look into (a failed run)."""

    #: CLI exit status for this error: 2 = called wrongly, 1 = the operation ran and failed.
    exit_status = 2


class ConfigError(TunerError):
    """A settings file, environment variable or option has an unusable value."""


class FlagError(TunerError):
    """Flags declared or handed to a script are invalid (undeclared, unconvertible, duplicated ...)."""


class GridError(TunerError):
    """A sweep's grid (YAML, dict, DataFrame or CSV) cannot be planned."""


class FlagsFileError(GridError, FlagError):
    """A flags file cannot be read (tuner.flagsfile): one reader serves a sweep, to which it is a GridError, and a
    single run, to which it is a FlagError, as each raised before they shared it."""


class ScriptNotFoundError(TunerError):
    """The training script does not exist or is not a file."""


class RunNotFoundError(TunerError):
    """A run named by path, name or row does not exist in the runs directory."""


class SweepNotFoundError(TunerError):
    """A sweep id given to resume/report/sweeps is unknown."""


class QueryError(TunerError):
    """A filter or order expression names unknown columns or does not parse."""


class UntrustedError(TunerError):
    """A stored file that decides what runs (a sweep's journal, a submission record) is not signed by this user's
    key, and nobody accepted it (a terminal's yes, or --yes): nothing ran."""


class ConfirmationError(TunerError):
    """An action that moves or deletes runs needs a yes, and nobody can be asked (stdin is not a terminal);
    nothing was changed. The message says what would have been done."""


class MissingExtraError(TunerError):
    """An optional feature needs a package that is not installed; the message names the extra to install."""


class ExportError(TunerError):
    """An export target (an MLflow tracking URI, an experiment) cannot be used as given."""


class RunFailedError(TunerError):
    """A tracked run ended in failure; the run is recorded, this names where to look."""

    exit_status = 1

    def __init__(self, message: str, run_dir: str, status: str) -> None:
        super().__init__(message)
        self.run_dir = run_dir
        self.status = status


class DiskFullError(TunerError):
    """The runs directory ran out of space (or quota) mid-sweep; what finished is kept, the rest resumes."""

    exit_status = 3

    def __init__(self, message: str, folder: str, sweep_id: str | None) -> None:
        super().__init__(message)
        self.folder = folder
        self.sweep_id = sweep_id

    @classmethod
    def resumable(cls, exc: OSError, default_folder: str, sweep_id: str) -> DiskFullError:
        """The one line for a sweep whose journal exists: which folder is full and how to carry on."""
        folder = cls.folder_of(exc, default_folder)
        todo = f"free space there, then `tune resume {sweep_id}` runs what is left (every finished run is kept)"
        return cls(f"no space left on the device holding '{folder}' ({exc.strerror}); {todo}", folder, sweep_id)

    @staticmethod
    def folder_of(exc: OSError, default_folder: str) -> str:
        return os.path.dirname(os.path.abspath(exc.filename)) if exc.filename else os.path.abspath(default_folder)


class RunInterruptedError(TunerError):
    """A run or sweep was stopped by the user (Ctrl-C); everything finished is kept."""

    exit_status = 130
