"""Sweeps written for other tools, in tune's own terms: the one conversion layer (docs/design.md, "Formats").

Each module reads one foreign format and returns a `ForeignSweep`: tune's flags mapping (grid lists, scalars and
distribution mappings as tuner.search.space reads them), the sweep settings a flags file's `sweep:` section may
hold (tuner.flagsfile.SWEEP_SETTINGS: search, metric, mode, stop and its options, target, run_cap ...), a command
template in the mapping form tuner.interface.template reads, and the program the file names. Nothing else in
tune knows a foreign format: the plan, the journal, resume, reports, exports, search and stopping see tune's
own space, so they work unchanged on a converted sweep.

- `wandb`: a W&B sweep configuration (`method`, `parameters`, `metric`, `early_terminate`, `command` ...).
- `hydra`: Hydra's override grammar in `--flag` values and flags files (`a,b`, `choice()`, `range()`,
  `interval()`, `tag(log, ...)`) and a Hydra sweeper config's `params:` block (hydra-optuna-sweeper).
- `raytune`: Ray Tune search space objects in `tuning_run(flags={...})`, read from their attributes: Ray is
  never imported here.

The seams (the only places that call this package): tuner.flagsfile reads a flags file (`convert_file`, and
`convert_mapping` for its values), tuner.plan a flags mapping (`convert_mapping`); tuner.cli.run parses `--flag`
values (`hydra.flag_values`).
"""

from __future__ import annotations

from typing import Any, Mapping

from .foreign import UNCHANGED, ForeignSweep

__all__ = ["ForeignSweep", "convert_file", "convert_mapping"]


def convert_file(data: Any, where: str, script: str | None = None) -> ForeignSweep | None:
    """A flags file's parsed YAML as a ForeignSweep when it is a W&B sweep or a Hydra sweeper config; None for tune's
    own flags files (which may still hold Hydra sweep strings: see `convert_mapping`). `script`: the script the
    file is for, when known (a Hydra glob() selects from its config groups)."""
    from . import hydra, wandb

    if wandb.is_wandb_sweep(data):
        return wandb.convert(data, where)
    if hydra.is_sweeper_config(data):
        return hydra.convert_sweeper_config(data, where, script)
    return None


def convert_mapping(flags: Mapping[str, Any], where: str, from_file: bool = False,
                    script: str | None = None) -> dict[str, Any] | None:
    """tune's flags mapping with foreign values converted: Ray Tune search space objects (a Python dict) or, in a
    flags file (`from_file`), Hydra sweep strings such as `range(1, 5)`; None when nothing is converted (the caller
    keeps its mapping). `script`: as for `convert_file`."""
    from . import hydra, raytune

    groups = hydra.ConfigGroups(script)
    converted: dict[str, Any] = {}
    changed = False
    for name, value in flags.items():
        new = hydra.convert_file_value(name, value, where, groups) if from_file else \
            raytune.convert_value(name, value, where)
        changed = changed or new is not UNCHANGED
        converted[name] = value if new is UNCHANGED else new
    return converted if changed else None
