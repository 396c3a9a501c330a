"""A flags file read once into a value that every caller takes (`--flags FILE`, `flags="grid.yml"`, `tune sweep.yaml`).

A flags file is read in one place, here, into a frozen `FlagsFile`: its flags (flag -> a value, a list of values
or a distribution), the reserved top-level keys (`command:`, the command template; `sweep:`, the sweep's own
settings), the program a foreign sweep file names, and its kind (tune's own YAML, a CSV table, a W&B sweep, a
Hydra sweeper config: tuner.formats converts the foreign ones into the same value). The CLI reads the file once
and hands the value on: it tells a sweep from one run by `is_sweep`, `prepare_sweep` (and so `tuning_run`) takes
its grid, settings and command, `training_run` its one value per flag and its command. So the CLI and the API
accept the same files, and nothing depends on whether a file was read before in this process. A sweep keeps
what it took from the file in its journal (the grid, the settings, the command), and `tune resume` reads it
from there: the file may have changed since.
"""

from __future__ import annotations

import dataclasses
import enum
import os
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from tuner.errors import FlagError, FlagsFileError, GridError

#: what a flags file's `sweep:` section may set: the sweep options of the same names (the command line wins)
SWEEP_SETTINGS = ("sample", "seed", "num_samples", "search", "metric", "mode", "constraints", "stop", "grace_period",
                  "reduction_factor", "max_t", "min_trials", "brackets", "strict", "budget_flag",
                  "perturbation_interval", "quantile_fraction", "resample_probability", "target", "run_cap")


class FileKind(enum.Enum):
    """What a flags file is written for."""

    TUNE = "tune"      # tune's own YAML: flag -> value(s) or a distribution, with `command:` and `sweep:`
    TABLE = "table"    # a CSV whose rows are the combinations
    WANDB = "wandb"    # a W&B sweep configuration (tuner.formats.wandb)
    HYDRA = "hydra"    # a Hydra sweeper config (tuner.formats.hydra)

    @property
    def is_foreign(self) -> bool:
        return self in (FileKind.WANDB, FileKind.HYDRA)


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, eq=False)
class FlagsFile:
    """One flags file, read (tuner.flagsfile.read_flags_file). Its mappings are read-only: a caller that needs
    other flags makes another value (`with_flags`)."""

    #: the path as the user gave it (errors name it so)
    path: str
    kind: FileKind
    #: flag -> a scalar, a list of values or a distribution mapping (tuner.search.space); empty for a table
    flags: Mapping[str, Any] = field(default_factory=_empty)
    #: a CSV's rows, each cell typed by the one rule (tuner.values): a pandas DataFrame, None for a YAML file
    table: Any = None
    #: the raw `command:` (tuner.interface.template reads it), None when the file has none
    command: Any = None
    #: the sweep's settings by SWEEP_SETTINGS names: the `sweep:` section, or what a foreign file says
    settings: Mapping[str, Any] = field(default_factory=_empty)
    #: the script a foreign sweep file names (W&B's `program`), None when it names none
    program: str | None = None
    #: a W&B method that draws until its agents are stopped and no run_cap to end it ("method random"), else None
    needs_run_cap: str | None = None
    #: keys of a foreign file that tune does not honour, each named once
    notes: tuple[str, ...] = ()

    @property
    def has_distributions(self) -> bool:
        """A flag is drawn from a distribution (`lr: {loguniform: [1e-4, 1e-1]}`): the file is a search space."""
        return any(isinstance(v, Mapping) for v in self.flags.values())

    @property
    def is_sweep(self) -> bool:
        """A sweep's file (a table, a `sweep:` section, a flag with several values or a distribution), not one
        run's flags (`lr: 0.1` or `lr: [0.1]`)."""
        return self.kind is FileKind.TABLE or bool(self.settings) or self.needs_run_cap is not None or any(
            (isinstance(v, list) and len(v) != 1) or isinstance(v, Mapping) for v in self.flags.values())

    def one_run_flags(self) -> dict[str, Any]:
        """The flags of one run: one value per flag (`lr: [0.1]` is 0.1). A sweep's file is a FlagError that says
        what makes it one."""
        if self.is_sweep:
            raise FlagError(f"{self.path}: {self._why_sweep()}, so it is a sweep's flags file and a single run takes "
                            f"one value per flag; run it as a sweep (tuning_run, or `tune SCRIPT --flags {self.path}`)")
        return {name: v[0] if isinstance(v, list) else v for name, v in self.flags.items()}

    def _why_sweep(self) -> str:
        if self.kind is FileKind.TABLE:
            return "its rows are combinations"
        for name, value in self.flags.items():
            if isinstance(value, Mapping):
                return f"flag '{name}' is drawn from a distribution"
            if isinstance(value, list) and len(value) != 1:
                return f"flag '{name}' has {len(value)} values"
        return "it holds a sweep's settings" + (" (`sweep:`)" if self.kind is FileKind.TUNE else "")

    def with_flags(self, flags: Mapping[str, Any]) -> FlagsFile:
        """The same file with `flags` given on top of its own (`--flag` on the command line wins)."""
        return dataclasses.replace(self, flags=MappingProxyType({**self.flags, **flags}))

    def sweep_program(self) -> str | None:
        """The script of `tune sweep.yaml`: the program a foreign sweep file names; None for tune's own files
        (a file given as SCRIPT is then the script)."""
        if not self.kind.is_foreign:
            return None
        if not self.program:
            raise GridError(f"{self.path} is a sweep file that names no program: add `program: train.py` to it, or "
                            f"give the script: tune train.py --flags {self.path}")
        return self.program


def read_flags_file(path: str | os.PathLike[str], script: str | os.PathLike[str] | None = None) -> FlagsFile:
    """Read a flags file: a CSV (by its suffix) or YAML. A problem with the file is a FlagsFileError naming it (a
    YAML syntax error its line); a foreign format's is its GridError (tuner.formats). `script`: the script the file
    is for, when known (a Hydra `glob()` selects options of that app's config groups)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FlagsFileError(f"flags file '{path}' does not exist; check the path (relative to {os.getcwd()})")
    if os.path.isdir(path):
        raise FlagsFileError(f"flags file '{path}' is a directory, expected a YAML or CSV file")
    if path.lower().endswith(".csv"):
        return FlagsFile(path, FileKind.TABLE, table=_read_table(path))
    return _from_yaml(path, _read_yaml(path), None if script is None else os.fspath(script))


def as_flags_file(source: Any, script: str | os.PathLike[str] | None = None) -> Any:
    """`source` with a path read (a FlagsFile); anything else (a FlagsFile, a mapping, a DataFrame, None) as it is.
    `script`: as for read_flags_file."""
    return read_flags_file(source, script) if isinstance(source, (str, os.PathLike)) else source


def sweep_script_file(script: str | os.PathLike[str]) -> FlagsFile | None:
    """`tune sweep.yaml`: the FlagsFile when SCRIPT is a foreign sweep file that names its program (one that
    names none is a GridError), None when SCRIPT is a script (or tune's own YAML, which is then run as given)."""
    path = os.fspath(script)
    if not path.lower().endswith((".yaml", ".yml")) or not os.path.isfile(path):
        return None
    file = read_flags_file(path)
    return file if file.sweep_program() is not None else None


def _read_yaml(path: str) -> dict[str, Any]:
    import yaml

    from tuner.yamlfile import DuplicateKeyError, describe_error
    from tuner.yamlfile import load as load_yaml

    try:
        with open(path, encoding="utf-8") as handle:
            data = load_yaml(handle)
    except DuplicateKeyError as exc:
        raise FlagsFileError(f"{path}: {exc}; give each flag once with a list of values") from None
    except yaml.YAMLError as exc:
        raise FlagsFileError(f"{path}: {describe_error(exc)}") from None
    except UnicodeDecodeError:
        raise FlagsFileError(f"{path}: not a text file") from None
    if not isinstance(data, dict):
        raise FlagsFileError(f"{path}: expected a mapping of flag: [values], got {type(data).__name__}; "
                        "for example `dropout: [0.2, 0.3]` on one line and `units: [64, 128]` on the next")
    return data


def _from_yaml(path: str, data: dict[str, Any], script: str | None = None) -> FlagsFile:
    from tuner.formats import convert_file, convert_mapping

    foreign = convert_file(data, path, script)  # a W&B sweep or a Hydra sweeper config, in tune's terms (tuner.formats)
    if foreign is not None:
        if foreign.notes:  # said once, where the file is read
            from tuner import channel

            channel.logger(__name__).info("%s: not used by tune: %s", path, "; ".join(foreign.notes),
                                          extra=channel.NOTE)
        settings = dict(foreign.settings)
        needs_run_cap = settings.pop("needs_run_cap", None)
        return FlagsFile(path, FileKind(foreign.kind), MappingProxyType(dict(foreign.flags)), command=foreign.command,
                         settings=MappingProxyType(settings), program=foreign.program, needs_run_cap=needs_run_cap,
                         notes=foreign.notes)
    flags = dict(data)
    command = flags.pop("command", None)  # reserved: the command template (tuner.interface.template), not a flag
    settings = _check_sweep_settings(flags.pop("sweep"), path) if "sweep" in flags else {}  # reserved: not a flag
    flags = convert_mapping(flags, path, True, script) or flags  # Hydra sweep strings: `layers: range(1, 5)`
    return FlagsFile(path, FileKind.TUNE, MappingProxyType(flags), command=command,
                     settings=MappingProxyType(settings))


def _check_sweep_settings(section: Any, path: str) -> dict[str, Any]:
    example = "e.g. `sweep: {search: tpe, num_samples: 50, metric: val_loss, stop: asha}`"
    if not isinstance(section, dict):
        raise FlagsFileError(f"{path}: `sweep:` holds the sweep's settings as a mapping, got "
                        f"{type(section).__name__}; {example}")
    unknown = [k for k in section if k not in SWEEP_SETTINGS]
    if unknown:
        import difflib

        close = difflib.get_close_matches(str(unknown[0]), SWEEP_SETTINGS, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise FlagsFileError(f"{path}: unknown sweep setting '{unknown[0]}'; {hint}the settings are "
                        f"{', '.join(SWEEP_SETTINGS)}")
    return {str(k): v for k, v in section.items() if v is not None}


def _read_table(path: str) -> Any:
    import pandas as pd

    from tuner.values import parse_value

    try:
        # cells as text, typed by the one rule (tuner.values): `001` stays "001", `yes` stays "yes"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        return frame.apply(lambda column: column.map(lambda v: v if not isinstance(v, str) else parse_value(v)))
    except (ValueError, OSError) as exc:
        raise FlagsFileError(f"{path}: cannot read CSV: {exc}") from None
