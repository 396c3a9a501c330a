"""The one rule that turns typed text into a value: command-line flags, `--flag` pieces, CSV grid cells,
TUNER_* settings, a script's own `--name=value` arguments and every YAML file read by tuner.

YAML 1.2's core types only, so a value means the same wherever it was typed:
- integers in decimal (`12`, `-3`); a zero-padded number (`001`) stays the string, because it is an id;
- floats, with exponents and the YAML spellings of infinity and not-a-number (`0.5`, `1e-3`, `.inf`, `-.inf`,
  `.nan`; also `inf`/`nan` as Python writes them);
- `true`/`false` and `null`/`~` (in lower, Title or UPPER case);
- anything else is the text exactly as typed: `#start`, `run #3`, `12:30`, `0x1F`, `1_000`, `yes`, `off`,
  a newline. A value in matching single or double quotes is the string inside them (`'0.1'`, `"a,b"`).

Kept free of PyYAML so the script side (every trial imports tuner.flags) stays cheap; tuner.yamlfile
resolves YAML scalars with the same patterns.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping

NULL = re.compile(r"^(?:~|null|Null|NULL)$")
BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
FLOAT = re.compile(r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
                     |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)
                     |[-+]?(?:inf|Inf|INF|infinity|Infinity)|nan|NaN)$""", re.X)
ZERO_PADDED = re.compile(r"^[-+]?0[0-9]+$")


def parse_value(text: str) -> Any:
    """`text` as a value by the rule above; never raises."""
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "'\"":
        return _unquote(stripped)
    if not stripped or stripped != text and "\n" in text:
        return text
    value = parse_plain(stripped)
    return text if value is stripped else value


#: the longest name of a flag or a tag (MLflow's limit for a param or tag key): every message naming one stays a line
NAME_MAX = 250

#: an integer with more digits than this stays text: int() refuses past Python's limit (4300 digits, a guard
#: against its quadratic conversion), and no flag, setting or grid value is a number that long
INT_MAX_DIGITS = 4300


def parse_plain(text: str) -> Any:
    """parse_value for text already stripped and unquoted (a YAML plain scalar); `text` itself when a string."""
    if INT.match(text):
        return int(text) if len(text) <= INT_MAX_DIGITS else text
    if ZERO_PADDED.match(text):
        return text
    if FLOAT.match(text):
        return _float(text)
    if BOOL.match(text):
        return text.lower() == "true"
    if NULL.match(text):
        return None
    return text


def is_flag_name(name: Any) -> bool:
    """A name a grid or --flag may use: an identifier, or an option name as a script spells it (`10sec`, `batch-size`),
    or a dotted path (`optimizer.lr`: a nested W&B parameter, a Hydra override key)."""
    return isinstance(name, str) and 0 < len(name) <= NAME_MAX and name[0] != "-" and name.replace("-", "_")\
        .replace(".", "_").replace("_", "a").isalnum() and name.isascii()


def split_values(raw: str) -> list[str]:
    """`a,b,'c,d'` -> ["a", "b", "'c,d'"]: commas inside YAML quotes belong to the value."""
    pieces: list[str] = []
    current: list[str] = []
    quote = ""
    for char in raw:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == ",":
            pieces.append("".join(current))
            current = []
            continue
        current.append(char)
    pieces.append("".join(current))
    return pieces


def parse_values(raw: str) -> list[Any]:
    """A `--flag name=V1,V2` value list: split on commas outside quotes, each piece by parse_value."""
    return [parse_value(piece) for piece in split_values(raw)]


def _float(text: str) -> float:
    lowered = text.lower().lstrip("+")
    if lowered in (".nan", "nan"):
        return math.nan
    if lowered.replace(".", "") in ("inf", "infinity"):
        return math.inf
    if lowered.replace(".", "") in ("-inf", "-infinity"):
        return -math.inf
    return float(text)


def _unquote(text: str) -> str:
    body = text[1:-1]
    if text[0] == "'":
        return body.replace("''", "'")  # YAML's single-quote escape
    return re.sub(r'\\(["\\])', r"\1", body)


def format_value(value: Any, quote_strings: bool = True) -> str:
    """The text that parse_value reads back as exactly `value` (type included): `--flag` values in printed
    commands. With `quote_strings=False` a string is passed as it is (argv: the script gets the exact text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"  # what float() in the script reads
        return repr(value)
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if not quote_strings:
        return text
    if parse_value(text) == text and type(parse_value(text)) is str:
        return text
    return "'" + text.replace("'", "''") + "'"


#: JSON has no inf/nan: flag values store them as these strings (flags.json, TUNER_FLAGS_JSON), read back as floats
NONFINITE_TEXT = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def flags_to_json(flags: Mapping[str, Any]) -> dict[str, Any]:
    """Flag values for JSON: an infinite or NaN float becomes "inf"/"-inf"/"nan" (argv gets the same text)."""
    return {name: format_value(value) if isinstance(value, float) and not math.isfinite(value) else value
            for name, value in flags.items()}


def flags_from_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of flags_to_json: "inf"/"-inf"/"nan" are floats again."""
    return {name: NONFINITE_TEXT[value] if isinstance(value, str) and value in NONFINITE_TEXT else value
            for name, value in data.items()}


def format_duration(seconds: float) -> str:
    """A duration as people read it, the same in the terminal and in pages: `4.2s`, `3:07`, `1:02:03`."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_path(path: str, *bases: str | None) -> str:
    """A file's path as people tell it apart from others of the same name (every sweep is of some `train.py`):
    relative to the first of `bases` that holds it (the working directory, a run's project), else with `~` for
    the home folder, else absolute."""
    import os

    full = os.path.abspath(path)
    for base in bases:
        if base:
            rel = os.path.relpath(full, os.path.abspath(base))
            if rel != ".." and not rel.startswith(".." + os.sep):
                return rel
    home = os.path.expanduser("~")
    if home not in ("", "/") and full.startswith(home + os.sep):
        return "~" + full[len(home):]
    return full
