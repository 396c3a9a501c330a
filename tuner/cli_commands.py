"""Commands beyond run/ls/info, registered with the dispatcher in tuner.cli (imported on demand)."""
