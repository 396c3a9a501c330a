"""Commands beyond run/ls/info, registered with the dispatcher in tuner.cli (imported on demand)."""

from . import manage_cli  # noqa: F401,E402  (clean, purge, rm, copy, reproduce, lookup)
