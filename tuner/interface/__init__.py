"""A training script's interface: its flags found (discover), a grid checked (check), argv built (argv)."""

from tuner.interface.discover import FlagSpec, ScriptInterface, discover_flags

__all__ = ["FlagSpec", "ScriptInterface", "discover_flags"]
