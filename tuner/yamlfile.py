"""Reading a YAML mapping (settings, flags files) with one kind of error message for every caller."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tuner.errors import TunerError


class Loader(yaml.SafeLoader):
    """safe_load, except that `1e-3` is a float: YAML 1.1 (PyYAML) wants `1.0e-3` and would hand the script
    the string "1e-3", which every learning-rate grid is written with."""


Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                  |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def load(text: str) -> Any:
    return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass


def parse_yaml_mapping(text: str, where: str, error: type[TunerError], example: str) -> dict[str, Any]:
    """`text` as a mapping (empty text is an empty mapping); anything else raises `error` naming `where`."""
    try:
        data = load(text)
    except yaml.YAMLError as exc:
        raise error(f"{where}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(f"{where}: expected a mapping of {example}, got {type(data).__name__}")
    return data


def read_yaml_mapping(path: str, error: type[TunerError], example: str, label: str = "file") -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not a text file"
        raise error(f"{label} '{path}' cannot be read: {reason}") from None
    return parse_yaml_mapping(text, path, error, example)
