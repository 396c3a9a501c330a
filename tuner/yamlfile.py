"""Reading a YAML mapping (settings, flags files) with one kind of error message for every caller."""

from __future__ import annotations

from typing import Any

import yaml

from .errors import TunerError


def parse_yaml_mapping(text: str, where: str, error: type[TunerError], example: str) -> dict[str, Any]:
    """`text` as a mapping (empty text is an empty mapping); anything else raises `error` naming `where`."""
    try:
        data = yaml.safe_load(text)
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
