"""Commands beyond run/ls/info, registered with the dispatcher in tuner.cli (imported on demand)."""

from .report.cli import register as _register_report

_register_report()
