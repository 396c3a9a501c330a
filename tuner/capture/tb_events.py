"""Metrics from TensorBoard event files a run wrote, for scripts that log to TensorBoard and never import tuner.

Read after the run, only when the script recorded no metrics itself, and only when the `tensorboard`
package is installed (its protobuf and tensor decoding; TensorFlow itself is not imported). Names:
- Keras' TensorBoard callback layout (`<logdir>/train/`, `<logdir>/validation/`): `epoch_loss` becomes
  `loss` and `val_loss`, as in Keras' History; its per-batch and `evaluation_*_vs_iterations` series are
  not epochs and are skipped;
- any other scalar keeps its tag (`tf.summary.scalar("loss", ...)` -> `loss`).
Steps are the event steps, as TensorBoard shows them (Keras counts epochs from 0 there).
"""

from __future__ import annotations

import os
import struct
from typing import Any, Iterator

from tuner.store.files import write_metric_rows
from tuner.store.layout import META_DIR, RunPaths

EVENT_FILE_MARK = "tfevents"
_KERAS_DIRS = {"train": "", "validation": "val_"}
_HEADER = struct.Struct("<Q")


def event_files(root: str) -> list[str]:
    """Event files anywhere under `root` except the run's metadata folder, sorted by path."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != META_DIR)
        found += [os.path.join(folder, f) for f in sorted(files) if EVENT_FILE_MARK in f and f.startswith("events.")]
    return found


def tensorboard_available() -> bool:
    try:
        import tensorboard.compat.proto.event_pb2  # noqa: F401
        import tensorboard.util.tensor_util  # noqa: F401
    except ImportError:
        return False
    return True


def _records(path: str) -> Iterator[bytes]:
    """TFRecord framing: length (u64), its CRC, data, data CRC. A torn tail (run killed mid-write) ends the file."""
    with open(path, "rb") as handle:
        data = handle.read()
    pos = 0
    while pos + 12 <= len(data):
        (length,) = _HEADER.unpack_from(data, pos)
        start = pos + 12
        if start + length + 4 > len(data):
            return
        yield data[start:start + length]
        pos = start + length + 4


def _scalar(value: Any) -> float | None:
    from tensorboard.util import tensor_util

    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return float(value.simple_value)
    if kind == "tensor":
        try:
            array = tensor_util.make_ndarray(value.tensor)
        except (TypeError, ValueError, KeyError):
            return None
        if array.size == 1 and array.dtype.kind in "fiu":
            return float(array.reshape(()).item())
    return None


def _metric_name(tag: str, keras_prefix: str | None) -> str | None:
    if keras_prefix is None:
        return tag
    if not tag.startswith("epoch_"):
        return None  # batch_* and evaluation_*_vs_iterations: not per-epoch values
    return keras_prefix + tag[len("epoch_"):]


def read_event_metrics(root: str) -> list[dict[str, Any]]:
    """Scalar series of every event file under `root` as metric rows keyed by step, sorted by step."""
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto import event_pb2

    rows: dict[Any, dict[str, Any]] = {}
    for path in event_files(root):
        keras_prefix = _KERAS_DIRS.get(os.path.basename(os.path.dirname(path)))
        for record in _records(path):
            try:
                event = event_pb2.Event.FromString(record)
            except DecodeError:
                break
            if not event.HasField("summary"):
                continue
            for value in event.summary.value:
                name = _metric_name(value.tag, keras_prefix)
                number = _scalar(value) if name else None
                if name is None or number is None:
                    continue
                row = rows.setdefault(event.step, {"step": event.step, "timestamp": event.wall_time})
                row[name] = number if number == number else None  # NaN -> null
                row["timestamp"] = max(row["timestamp"], event.wall_time)
    return [rows[step] for step in sorted(rows)]


def record_event_metrics(run_dir: str) -> int:
    """Write metrics.jsonl from the run's event files when the script recorded none; returns the rows written."""
    paths = RunPaths(run_dir)
    if os.path.exists(paths.metrics_jsonl) or not event_files(run_dir) or not tensorboard_available():
        return 0
    rows = read_event_metrics(run_dir)
    if rows:
        write_metric_rows(run_dir, rows)
    return len(rows)
