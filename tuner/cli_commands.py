"""Commands beyond run/ls/info, registered with the dispatcher in tuner.cli (imported on demand)."""

from . import manage_cli  # noqa: F401  (clean, purge, rm, copy, reproduce, lookup)
from .cli import COMMANDS
from .report.cli import register as _register_report
from .sweep_cli import cmd_resume, cmd_sweeps
from .export.cli import cmd_export
from .tb_command import cmd_tensorboard

COMMANDS.update({"resume": cmd_resume, "sweeps": cmd_sweeps, "tensorboard": cmd_tensorboard,
                 "export": cmd_export})
_register_report()
