"""Hydra-style `key=value` overrides (what `${args_no_hyphens}` passes), parsed by hand as Hydra would."""
import sys

from _echo import echo

config = {"model": {"lr": 0.1}, "epochs": 1}
for item in sys.argv[1:]:
    key, _, value = item.partition("=")
    config[key] = value
echo(config)
