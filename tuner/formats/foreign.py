"""What every foreign format converts to (tuner.formats)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ForeignSweep:
    """A foreign sweep converted: what tune's own flags file would hold."""

    #: "wandb" or "hydra"
    kind: str
    #: flag -> a grid list, a scalar or a distribution mapping (tuner.search.space)
    flags: dict[str, Any]
    #: the sweep's settings, by tuner.flagsfile.SWEEP_SETTINGS names
    settings: dict[str, Any] = field(default_factory=dict)
    #: a command template in tuner.interface.template's mapping form, None for tune's default
    command: Any = None
    #: the script the file names (W&B's `program`), None when it names none
    program: str | None = None
    #: keys tune does not honour, each named once (printed by the caller: library code does not print)
    notes: tuple[str, ...] = ()


class _Unchanged:
    """A value no format claims: the caller keeps it as it is."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Any = _Unchanged()
