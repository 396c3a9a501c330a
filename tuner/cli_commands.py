"""Commands beyond run/ls/info, registered with the dispatcher in tuner.cli (imported on demand)."""

from .cli import COMMANDS
from .sweep_cli import cmd_resume, cmd_sweeps
from .tb_command import cmd_tensorboard

COMMANDS.update({"resume": cmd_resume, "sweeps": cmd_sweeps, "tensorboard": cmd_tensorboard})
