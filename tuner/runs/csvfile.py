"""A table of runs as CSV for people and spreadsheets: one line per run, numbers as they were logged.

The rules (a sweep's summary.csv is written with them):
- One line per run. Columns that hold blocks of text are left out: any column in which some value has a line
  break, except flags, tags and the error message (Keras' model summary, `model`; the error's traceback): they stay
  whole in each run's files (`tune info`, the run view). A flag, tag or error message with a line break keeps its
  column, the break written as the two characters `\\n` (as the terminal shows it, tuner.console.inert).
- A float is written as the shortest text that reads back as the same number. A value that came from a float32
  (Keras' logs and its optimizer's learning rate are float32 widened to a float: 0.003 arrives as
  0.003000000026077032) is written as the shortest text that reads back as the same float32: `0.003`. A float is
  taken to have come from a float32 when it is one exactly (a float64 result of arithmetic is one about once in
  half a billion values; 0.5 and other short binary fractions read the same either way).
- Missing values and NaN are empty cells (a table cannot tell them apart); infinities are `inf` and `-inf`.
"""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

#: columns that keep their place with line breaks written as `\n` (they say what a run is, in a line or two)
_FLATTENED_PREFIXES = ("flag_", "tag_")
_FLATTENED = frozenset({"error_message"})
_F32 = struct.Struct("<f")


def is_float32(value: float) -> bool:
    """`value` is exactly a float32 (and finite): what a float32 widened to a Python float looks like."""
    if not math.isfinite(value):
        return False
    try:
        return _F32.unpack(_F32.pack(value))[0] == value
    except OverflowError:  # beyond float32's range
        return False


def format_float(value: float) -> str:
    """The shortest text that reads back as `value`, or as its float32 when it is one (module docstring)."""
    if math.isnan(value):
        return ""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if is_float32(value):
        for digits in range(1, 10):  # 9 significant digits always identify a float32
            text = f"{value:.{digits}g}"
            if _F32.unpack(_F32.pack(float(text)))[0] == value:
                return repr(float(text))  # Python's spelling: 0.003, 1e-05, 8.0
    return repr(value)


def format_cell(value: Any, flatten: bool = False) -> Any:
    """One cell as the CSV writes it (strings for floats; other values as they are)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return format_float(value)
    if hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "f":  # a numpy float
        return format_float(float(value))
    if flatten and isinstance(value, str):
        return value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
    return value


def _multiline(value: Any) -> bool:
    return isinstance(value, str) and ("\n" in value or "\r" in value)


def csv_columns(frame: pd.DataFrame) -> list[str]:
    """The columns written: all but those holding blocks of text (module docstring)."""
    kept = []
    for column in frame.columns:
        name = str(column)
        if name.startswith(_FLATTENED_PREFIXES) or name in _FLATTENED or frame[column].dtype.kind != "O":
            kept.append(column)
        elif not any(_multiline(v) for v in frame[column]):
            kept.append(column)
    return kept


def runs_csv(frame: pd.DataFrame) -> str:
    """`frame` (rows of runs, as ls_runs and sweep_rows give them) as CSV text, one line per run."""
    import pandas as pd

    columns = csv_columns(frame)
    cells = {}
    for column in columns:
        flatten = str(column).startswith(_FLATTENED_PREFIXES) or str(column) in _FLATTENED
        series = frame[column]
        if series.dtype.kind in "fO":
            cells[column] = pd.Series([format_cell(v, flatten) for v in series], index=frame.index, dtype="object")
        else:
            cells[column] = series
    out = pd.DataFrame(cells, index=frame.index, columns=columns)
    text: str = out.to_csv(index=False, lineterminator="\n")
    return text
