"""The listing index: one file in the runs directory that caches each run's ls_runs row (aggregate.run_row).

Run directories stay the source of truth. A listing stats every run (store.run_signature: three stats) and
reads again only the runs whose signature changed, whose row depends on the clock (a `running` run turns
`lost` when its heartbeat goes stale; a run without an end has a growing duration) or whose files changed
too close to when they were read to trust a timestamp ("racy", as git calls it). A missing, corrupt or
foreign index is silently treated as empty, so the index can be deleted at any time. Writers are
serialised with a filelock and replace the file atomically, so readers never need the lock.

The file is JSON (never pickle: a shared runs directory must not be a way to run code), stored by column:
`names`, per-run `meta` (signature, read time, and whether the row is trusted: TRUSTED, or VOLATILE / RACY,
decided once when the run is read) and `columns` (column -> one value per run, NaN where the run's row has no
such key), which parses about twice as fast as one object per row and turns into a DataFrame through the same
pandas conversion as aggregate.runs_frame. The numbers that make up most of it are packed: `meta` (10 ints a
run) and every column whose values are all floats (NaN included) or all ints are base64 of little-endian
8-byte arrays (`{"d": ...}`, `{"q": ...}`), which decode ~20x faster than JSON numbers and give back the same
Python values; a column of text or booleans with few distinct values (status, script, commit, sweep, user) is
stored as those values and each run's place among them (`{"labels": [...], "B": ...}`), a third of the file,
parsed faster than as many JSON strings. Loaded, a packed column stays an array and a label column its codes
(Labels) until a row just read is put in it, and each becomes a frame's column through numpy or pyarrow,
without a Python object per value.

The usual warm listing (nothing changed) is checked a column at a time: the signatures, as the forked stats
send them (readers.PackedSignatures), against the stored meta, in C (all_fresh); and the frame of the index as
stored is made while the children stat the older runs, once this process' own slice (the newest runs) is seen
unchanged (indexed_listing's `prepare`).
"""

from __future__ import annotations

import array
import base64
import functools
import gc
import itertools
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, Union

from tuner import channel
from tuner._version import __version__
from tuner.runs.aggregate import (
    DEFAULT_STALE_AFTER_S,
    empty_frame,
    finish_frame,
    ordered_columns,
)
from tuner.runs.readers import (
    FlatRows,
    InBackground,
    PackedSignatures,
    PendingSignatures,
    pack_signatures,
    read_rows_at_once,
)
from tuner.store.layout import (
    INDEX_FILE,
    INDEX_HEAD_FILE,
    INDEX_LOCK,
    SIGNATURE_LEN,
    Signature,
    run_signature,
    scan_run_names,
)
from workers.files import atomic_write_text, clean_stale_temp_files

if TYPE_CHECKING:  # imported where a frame is made (indexed_columns needs no pandas)
    import pandas as pd

#: bump when the stored layout or run_row's output changes, so old indexes are rebuilt
FORMAT = 5
#: a file changed less than this before it was read may have changed again within the same timestamp
#: tick: such a run is read again on the next listing (a one-off cost for runs a few seconds old)
RACY_NS = 2_000_000_000
LOCK_TIMEOUT_S = 10.0
log = channel.logger(__name__)
MISSING = math.nan  # how the stored columns spell "this run's row has no such key" (as from_records does)

#: where an output row comes from: a position in the stored index, or a row just read
Source = Union[int, dict]


class Labels(Sequence[Any]):
    """A dictionary column as loaded (_pack): its distinct values and each run's code among them. It reads as the
    list of values; a frame makes its column from the codes (pyarrow's dictionary decoding, in C) where the
    values are all text, which is most such columns."""

    def __init__(self, labels: list[Any], codes: array.array):
        self.labels, self.codes = labels, codes

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return Labels(self.labels, self.codes[k])
        return self.labels[self.codes[k]]

    def __iter__(self) -> Iterator[Any]:
        return map(self.labels.__getitem__, self.codes)

    def tolist(self) -> list[Any]:
        return list(self)

    def has_value(self) -> bool:
        """Whether some run has a value that is not MISSING (NaN), as `any(x == x for x in self)` says, looking at
        the labels only, or at those some run has (after a slice, not all of them) where one is MISSING."""
        if all(label == label for label in self.labels):
            return len(self.codes) > 0
        return any(self.labels[code] == self.labels[code] for code in set(self.codes))


#: one value per run: a list, or (a packed column as loaded, until a row just read is put in it) an array of
#: 8-byte floats or ints, which becomes a frame's column without a Python object per value, or Labels
Column = Union[list, array.array, Labels]


#: meta[SIGNATURE_LEN + 1], why a stored row is read again even when its signature is the same: the row depends
#: on the clock (aggregate.is_volatile), or the run's files changed within RACY_NS of its reading
TRUSTED, VOLATILE, RACY = 0, 1, 2


def _trust(signature: Signature, read_ns: int, volatile: bool) -> int:
    """The flag a run's meta stores, decided once when it is read (its signature and read time are stored)."""
    if volatile:
        return VOLATILE
    return RACY if _newest_ns(signature) >= read_ns - RACY_NS else TRUSTED


@dataclass
class Index:
    """The stored index in memory: runs in name order (newest first) and their rows by column."""

    names: list[str] = field(default_factory=list)
    meta: Sequence[Sequence[int]] = field(default_factory=list)  # signature (8 ints) + read_ns + trust flag
    problems: dict[str, list[str]] = field(default_factory=dict)
    columns: dict[str, Column] = field(default_factory=dict)
    flat_meta: array.array | None = None  # `meta` as one array, where it is lists (made on first use)

    def packed_meta(self) -> array.array:
        """Every run's meta in one array, run after run (what all_fresh compares column by column)."""
        if isinstance(self.meta, FlatRows):  # as loaded
            return self.meta.flat
        if self.flat_meta is None:
            self.flat_meta = array.array("q", itertools.chain.from_iterable(self.meta))
        return self.flat_meta

    def is_fresh(self, position: int, signature: Signature) -> bool:
        meta = self.meta[position]
        return meta[SIGNATURE_LEN + 1] == TRUSTED and tuple(meta[:SIGNATURE_LEN]) == signature


def all_fresh(index: Index, names: list[str], signatures: Sequence[Signature | None]) -> bool:
    """Whether the runs listed are the first stored ones, in the stored order, each unchanged and trusted (not
    volatile, not racy): Index.is_fresh for all of them at once. This is the usual warm listing, and checking
    it a column at a time with array comparisons (in C) costs a few milliseconds where the run-by-run check
    costs tens for 10^4 runs; anything else is left to that check."""
    n, width = len(names), SIGNATURE_LEN + 2
    if not n or n > len(index.names) or index.names[:n] != names or len(signatures) != n:
        return False
    try:
        current = pack_signatures(signatures)
    except OverflowError:  # a value beyond 8 bytes was never stored
        return False
    if min(current[::SIGNATURE_LEN]) < 0:
        return False  # a folder that is not a run (NOT_A_RUN) is never a stored one
    stored = index.packed_meta()[:n * width]
    if any(current[j::SIGNATURE_LEN] != stored[j::width] for j in range(SIGNATURE_LEN)):
        return False
    return stored[SIGNATURE_LEN + 1::width].count(TRUSTED) == n  # none volatile or racy


def _newest_ns(signature: Signature) -> int:
    """The latest timestamp of a signature (tuner.d/ ctime and mtime, metrics.jsonl and run.json ctime)."""
    return max(signature[1], signature[2], signature[4], signature[6])


def index_path(runs_dir: str) -> str:
    return os.path.join(runs_dir, INDEX_FILE)


#: the last index each process loaded or saved, per file, keyed by the file's stat: a notebook calling
#: ls_runs again does not parse the same file twice
_memo: dict[str, tuple[tuple[int, int, int, int], Index]] = {}


def _file_key(path: str) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def load_index(runs_dir: str) -> Index:
    """The stored index; anything unreadable, inconsistent or of another format counts as no index."""
    path = index_path(runs_dir)
    key = _file_key(path)
    if key is None:
        return Index()
    memo = _memo.get(os.path.abspath(path))
    if memo is not None and memo[0] == key:
        return memo[1]
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read())
        index = _validated(data)
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return Index()
    _memo[os.path.abspath(path)] = (key, index)
    return index


def _validated(data: Any) -> Index:
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("tuner") != __version__:
        raise ValueError("another format")
    names, columns, problems = data["names"], data["columns"], data.get("problems", {})
    if not isinstance(names, list) or not isinstance(columns, dict) or not isinstance(problems, dict):
        raise ValueError("inconsistent")
    n, width = len(names), SIGNATURE_LEN + 2
    flat = _unpack(data["meta"], n * width)
    if not isinstance(flat, array.array) or flat.typecode != "q":
        raise ValueError("inconsistent")
    unpacked = {str(key): _unpack(values, n) for key, values in columns.items()}
    # each run's meta is sliced when asked for (all of them up front: ~7 ms of a warm listing of 10^4 runs)
    return Index(list(map(str, names)), FlatRows(flat, width), {str(k): list(v) for k, v in problems.items()},
                 unpacked)


#: array typecodes of packed values: 8-byte floats and ints (array's "q" is 8 bytes wherever Python runs)
_PACKED = {float: "d", int: "q"}
#: array typecodes of a dictionary column's codes, by how many distinct values it has (at most 2**8, 2**16, more)
_CODES = ((1 << 8, "B"), (1 << 16, "H"), (None, "q"))
#: the values a dictionary column may hold: text, booleans, None and MISSING (any NaN float), none of which is
#: equal to another of them, so a dict keyed by value tells them apart
_LABEL_TYPES = frozenset({str, bool, type(None)})


def _pack(values: Column) -> Any:
    """A column whose values are all floats or all ints (not bools) as {typecode: base64}; a column of text,
    booleans, None and MISSING with few distinct values (the status, script, commit, sweep of most runs) as
    {"labels": the distinct values, typecode: base64 of each value's place among them}, which parses ~5x faster
    than the same values as JSON strings; anything else as a list."""
    if isinstance(values, Labels):  # as loaded: stored again as it is (labels no run has any more included)
        return {"labels": values.labels, values.codes.typecode: _b64(array.array(values.codes.typecode, values.codes))}
    if isinstance(values, array.array):
        packed = array.array(values.typecode, values)  # a copy: byteswap below must not touch the index's
    else:
        kinds = set(map(type, values))
        code = _PACKED.get(kinds.pop()) if len(kinds) == 1 else None
        if code is None:
            return _dictionary(values)
        try:
            packed = array.array(code, values)
        except OverflowError:  # an int beyond 8 bytes
            return values
    return {packed.typecode: _b64(packed)}


def _dictionary(values: list[Any]) -> Any:
    """_pack's dictionary form of `values`, or the list itself where that is not smaller or not possible."""
    if not set(map(type, values)) <= _LABEL_TYPES | {float} or any(v == v for v in values if type(v) is float):
        return values  # numbers among them: 1 == 1.0 == True would share a key
    labels_at: dict[Any, int] = {}
    normalized = [MISSING if type(v) is float else v for v in values]  # one NaN object: one key
    for value in normalized:
        labels_at.setdefault(value, len(labels_at))
    if len(labels_at) * 2 > len(values):
        return values
    code = next(code for limit, code in _CODES if limit is None or len(labels_at) <= limit)
    return {"labels": list(labels_at), code: _b64(array.array(code, map(labels_at.__getitem__, normalized)))}


def _b64(packed: array.array) -> str:
    if sys.byteorder == "big" and packed.itemsize > 1:
        packed.byteswap()  # stored little-endian
    return base64.b64encode(packed.tobytes()).decode("ascii")


def _unpack(stored: Any, length: int) -> Column:
    """What _pack stored, checked to hold `length` values (ValueError where it does not)."""
    if isinstance(stored, list):
        if len(stored) != length:
            raise ValueError("inconsistent")
        return stored
    if not isinstance(stored, dict):
        raise ValueError("inconsistent")
    stored = dict(stored)
    labels = stored.pop("labels", None)
    if len(stored) != 1:
        raise ValueError("inconsistent")
    (code, text), = stored.items()
    allowed = _PACKED.values() if labels is None else [code for _, code in _CODES]
    if code not in allowed or not isinstance(text, str) or labels is not None and not isinstance(labels, list):
        raise ValueError("inconsistent")
    values = array.array(code)
    values.frombytes(base64.b64decode(text, validate=True))  # binascii.Error is a ValueError
    if len(values) != length:
        raise ValueError("inconsistent")
    if sys.byteorder == "big" and values.itemsize > 1:
        values.byteswap()
    if labels is None:
        return values
    if length and (max(values) >= len(labels) or code == "q" and min(values) < 0):
        raise ValueError("inconsistent")
    if not all(type(label) in _LABEL_TYPES or type(label) is float and label != label for label in labels):
        raise ValueError("inconsistent")  # what _dictionary never stores (a number, a list)
    return Labels(labels, values)


def save_index(runs_dir: str, index: Index) -> bool:
    """Write the index atomically under the lock; False (and nothing raised) where that is not possible."""
    key = _write_index(runs_dir, index)
    if key is not None:
        _remember(runs_dir, key, index)
    return key is not None


def _remember(runs_dir: str, key: tuple[int, int, int, int], index: Index) -> None:
    _memo[os.path.abspath(index_path(runs_dir))] = (key, index)


def _write_index(runs_dir: str, index: Index) -> tuple[int, int, int, int] | None:
    """save_index's write: the file's key (_file_key) as written, None where it could not be."""
    from filelock import FileLock, Timeout

    payload = {"format": FORMAT, "tuner": __version__, "names": index.names,
               "meta": _pack(list(itertools.chain.from_iterable(index.meta))) if index.meta else {"q": ""},
               "problems": index.problems, "columns": {key: _pack(values) for key, values in index.columns.items()}}
    try:
        text = json.dumps(payload, ensure_ascii=False, default=str)  # NaN (= missing) is allowed on purpose
    except ValueError:
        return None
    path = index_path(runs_dir)
    try:
        with FileLock(os.path.join(runs_dir, INDEX_LOCK), timeout=LOCK_TIMEOUT_S):
            clean_stale_temp_files(runs_dir)  # left by a writer killed midway (never a live write: it is seconds old)
            atomic_write_text(path, text)
            return _file_key(path)
    except (Timeout, OSError):
        return None  # a read-only or busy runs directory still lists, just without a warm start next time


def _written_in_background(runs_dir: str, index: Index) -> bytes:
    """_write_index's answer as InBackground sends it: the key as JSON (null: not written)."""
    return json.dumps(_write_index(runs_dir, index)).encode()


def _worth_storing(index: Index, position: int | None, signature: Signature, read_ns: int, volatile: bool) -> bool:
    """Whether a run just read makes the stored index worth rewriting (a few MB for 10^4 runs)."""
    if position is None:
        return True
    before = index.meta[position]
    # unchanged and as trusted as before: a volatile run read again (it is on every listing), or a racy one
    # still racy, is not worth storing; a racy one now trusted is (the next listing need not read it)
    return tuple(before[:SIGNATURE_LEN]) != signature or before[SIGNATURE_LEN + 1] != _trust(signature, read_ns,
                                                                                             volatile)


def _assemble(index: Index, sources: list[Source]) -> dict[str, Column]:
    """Columns of the given rows: stored ones by position, fresh ones from their dicts."""
    n = len(sources)
    fresh = [(k, s) for k, s in enumerate(sources) if type(s) is dict]
    keys = dict.fromkeys(index.columns)
    for _, row in fresh:
        keys.update(dict.fromkeys(row))
    columns: dict[str, Column]
    if len(fresh) == n:  # a cold listing: every row just read
        columns = {key: [row.get(key, MISSING) for _, row in fresh] for key in keys}
    elif all(type(s) is dict or s == k for k, s in enumerate(sources)):
        # the warm case: stored rows in stored order (a prefix with latest_n), a few of them read again
        columns = {}
        for key in keys:
            stored = index.columns.get(key)
            if stored is not None and not fresh and len(stored) >= n:
                columns[key] = stored[:n]  # as stored: a packed column stays an array
                continue
            values = _as_list(stored[:n]) if stored is not None else []
            values += [MISSING] * (n - len(values))  # runs beyond the stored ones are all fresh
            for k, row in fresh:
                values[k] = row.get(key, MISSING)
            columns[key] = values
    else:
        columns = {}
        absent = [MISSING] * len(index.names)
        for key in keys:
            stored = index.columns.get(key, absent)
            columns[key] = [s.get(key, MISSING) if isinstance(s, dict) else stored[s] for s in sources]
    # a column no listed run has (all NaN) would not exist in a frame built from these rows
    return {c: v for c, v in columns.items() if (v.has_value() if isinstance(v, Labels) else any(x == x for x in v))}


def _as_list(values: Column) -> list[Any]:
    return values if isinstance(values, list) else values.tolist()


#: the dtype a frame gives a packed column (in this machine's byte order, as loaded), as pandas infers it from
#: the same values as Python floats or ints
_DTYPES = {"d": "float64", "q": "int64"}
_CODE_DTYPES = {"B": "uint8", "H": "uint16", "q": "int64"}


def _frame(runs_dir: str, names: list[str], columns: dict[str, Column]) -> pd.DataFrame:
    if not names:
        return empty_frame()
    import numpy as np
    import pandas as pd

    # from the columns as they are (3x faster than rows of tuples); pandas infers each column's dtype the same way
    # (a packed column is viewed as the numpy array it is, which DataFrame copies: 3x faster than from floats)
    # and in the frame's column order (no reordering copy in finish_frame)
    prefix = os.path.join(runs_dir, "")  # what os.path.join(runs_dir, name) starts with
    data: dict[str, Any] = {"run_dir": [prefix + n for n in names]}
    for key in ordered_columns(["run_dir", *columns])[1:]:
        values = columns[key]
        data[key] = np.frombuffer(values, dtype=_DTYPES[values.typecode]) if isinstance(values, array.array) \
            else _text_column(values) if isinstance(values, Labels) else values
    return finish_frame(pd.DataFrame(data))


def _text_column(values: Labels) -> Any:
    """A Labels column as pandas' own text array where every label is text (the dtype pandas infers for the same
    values as a list: its default string dtype), decoded by pyarrow from the codes (~3x faster than from the
    list); any other Labels column as its list."""
    import pandas as pd

    if not all(type(label) is str for label in values.labels):
        return values.tolist()
    dtype = pd.Series(values.labels[:1]).dtype  # what pandas makes of text: its default string dtype
    if dtype.name != "str" or getattr(dtype, "storage", None) != "pyarrow":
        return values.tolist()
    import numpy as np
    import pyarrow as pa

    codes = pa.array(np.frombuffer(values.codes, dtype=_CODE_DTYPES[values.codes.typecode]))
    decoded = pa.DictionaryArray.from_arrays(codes, pa.array(values.labels, type=pa.large_string())).dictionary_decode()
    return pd.array(decoded, dtype=dtype)


def listing_digest(names: list[str], signatures: Sequence[Signature | None]) -> str:
    """One value for "these folders, each with this signature" (None: not a run): equal digests mean a listing
    would read nothing again and give the same rows (tuner.runs.newest keeps its table under it)."""
    import hashlib

    digest = hashlib.blake2b("\0".join(names).encode("utf-8", "surrogateescape"), digest_size=16)
    digest.update(pack_signatures(signatures).tobytes())  # 10^4 runs packed by the stats' children: 0.1 ms
    return digest.hexdigest()


def current_digest(runs_dir: str) -> str:
    """listing_digest of the runs directory as it is now: a listing's cost in stats, without reading the index."""
    names = scan_run_names(runs_dir)
    prefix = os.path.join(runs_dir, "")
    with PendingSignatures([prefix + name for name in names]) as pending:
        return listing_digest(names, pending.packed())


@dataclass
class ListingState:
    """How a listing went: `clean` when every row came from the index as stored (nothing changed, volatile,
    racy or damaged); `digest` is listing_digest of what was listed (all the runs: with latest_n, empty)."""

    clean: bool
    digest: str
    prepared: Any = None  # indexed_listing's `prepare` of this listing, where it was made ahead (see there)


@dataclass
class _Scan:
    names: list[str] = field(default_factory=list)           # listed runs, newest first
    signatures: Sequence[Signature | None] = field(default_factory=list)  # every folder looked at, runs or not
    sources: list[Source] = field(default_factory=list)
    fresh_meta: dict[str, list[int]] = field(default_factory=dict)
    fresh_problems: dict[str, list[str]] = field(default_factory=dict)
    not_runs: set[str] = field(default_factory=set)
    changed: bool = False


def _scan(runs_dir: str, all_names: list[str], index: Index, stale_after_s: float, latest_n: int | None,
          signatures: Sequence[Signature | None] | None) -> _Scan:
    """Which runs the index holds as they are and which to read again; `signatures` are every run's (None: they
    are stat'ed here, one at a time, as far as latest_n needs)."""
    now = time.time()
    prefix = os.path.join(runs_dir, "")
    scan = _Scan()
    stale: list[tuple[int, str, int | None, Signature]] = []  # (place in sources, name, stored position, signature)
    if signatures is not None:
        runs, packed, others = _runs_only(all_names, signatures)
        if all_fresh(index, runs, PackedSignatures(packed)):
            scan.names, scan.signatures, scan.sources = runs, signatures, list(range(len(runs)))
            scan.not_runs = set(others)
            _warn_problems(scan, index)
            return scan
    position = {name: i for i, name in enumerate(index.names)}
    looked_at: list[Signature | None] = []
    scan.signatures = looked_at
    for k, name in enumerate(all_names):
        if latest_n is not None and len(scan.names) >= latest_n:
            break
        signature = signatures[k] if signatures is not None else run_signature(prefix + name)
        looked_at.append(signature)
        if signature is None:
            scan.not_runs.add(name)
            continue
        i = position.get(name)
        if i is not None and index.is_fresh(i, signature):
            scan.sources.append(i)
        else:
            stale.append((len(scan.sources), name, i, signature))
            scan.sources.append({})  # replaced by the row just read, below
        scan.names.append(name)
    # the runs to read, at once (in several processes when there are many: a cold listing)
    for (k, name, i, signature), read in zip(stale, read_rows_at_once([prefix + item[1] for item in stale], now,
                                                                      stale_after_s)):
        scan.sources[k] = read.row
        scan.fresh_problems[name] = read.problems
        scan.fresh_meta[name] = [*signature, read.read_ns, _trust(signature, read.read_ns, read.volatile)]
        scan.changed = scan.changed or _worth_storing(index, i, signature, read.read_ns, read.volatile)
    _warn_problems(scan, index)
    return scan


def _runs_only(names: list[str], signatures: Sequence[Signature | None]) -> tuple[list[str], array.array, list[str]]:
    """The names and packed signatures of the runs among `names`, and the names of the other entries (the sweeps/
    folder every runs directory with a sweep has, a stray file): all_fresh compares runs only."""
    packed = pack_signatures(signatures)
    first = packed[::SIGNATURE_LEN]
    if not first or min(first) >= 0:
        return names, packed, []
    others = [k for k, value in enumerate(first) if value < 0]  # NOT_A_RUN
    runs: list[str] = []
    kept = array.array("q")
    for start, end in zip([-1, *others], [*others, len(names)]):
        runs += names[start + 1:end]
        kept += packed[(start + 1) * SIGNATURE_LEN:end * SIGNATURE_LEN]
    return runs, kept, [names[k] for k in others]


def _warn_problems(scan: _Scan, index: Index) -> None:
    """A warning for each problem a listed run has (a damaged file), stored or just found, newest run first."""
    if not index.problems and not any(scan.fresh_problems.values()):
        return
    for name, source in zip(scan.names, scan.sources):
        problems = scan.fresh_problems[name] if type(source) is dict else index.problems.get(name, ())
        for problem in problems:
            log.warning("%s; the run is listed with what is readable", problem)


def indexed_frame(runs_dir: str, stale_after_s: float = DEFAULT_STALE_AFTER_S,
                  latest_n: int | None = None) -> pd.DataFrame:
    """The ls_runs frame of the runs in `runs_dir` (newest name first), read through the index.

    Equal to aggregate.runs_frame(read_rows(run dirs)): only where the rows come from differs. The frame the
    index gives as stored is made while the runs are stat'ed (ListingState.prepared), and used when they all are
    as stored, the usual warm listing.
    """
    names, columns, state = indexed_listing(runs_dir, stale_after_s, latest_n, prepare=functools.partial(
        _frame, runs_dir))
    return state.prepared if state.prepared is not None else _frame(runs_dir, names, columns)


def indexed_columns(runs_dir: str, stale_after_s: float = DEFAULT_STALE_AFTER_S,
                    latest_n: int | None = None) -> tuple[list[str], dict[str, Column]]:
    """The runs' names (newest first) and their run_row values by column (NaN where a run has no such key),
    through the index and without pandas: what indexed_frame makes its frame of."""
    names, columns, _ = indexed_listing(runs_dir, stale_after_s, latest_n)
    return names, columns


def indexed_listing(runs_dir: str, stale_after_s: float = DEFAULT_STALE_AFTER_S, latest_n: int | None = None,
                    prepare: Callable[[list[str], dict[str, Column]], Any] | None = None
                    ) -> tuple[list[str], dict[str, Column], ListingState]:
    """indexed_columns, and how the listing went (ListingState). `prepare(names, columns)` is called, while the
    runs are stat'ed, with the listing the index gives as stored; what it returns is ListingState.prepared when
    that is this listing (every run as stored), else None."""
    all_names = scan_run_names(runs_dir)
    signatures: Sequence[Signature | None] | None = None
    ahead: dict[str, Column] | None = None  # the stored listing, assembled while the runs are stat'ed
    prepared = None

    def make_ahead(newest: PackedSignatures) -> None:
        """The usual warm listing, made while the children stat the older runs, where the newest runs (this
        process' slice: where changes and new runs are) are as stored and no stored run can be gone (the folder
        holds as many entries at least): then likely nothing changed."""
        nonlocal ahead, prepared
        if prepare is None or not index.names or len(all_names) < len(index.names):
            return
        runs, packed, _ = _runs_only(all_names[:len(newest)], newest)
        if runs and all_fresh(index, runs, PackedSignatures(packed)):
            ahead = _assemble(index, list(range(len(index.names))))
            prepared = prepare(index.names, ahead)

    if latest_n is None:  # every run's signature, stat'ed in children (where it pays) while the index is parsed
        prefix = os.path.join(runs_dir, "")
        with PendingSignatures([prefix + name for name in all_names], busy=True) as pending:
            index = load_index(runs_dir)
            signatures = pending.packed(then=make_ahead)
    else:
        index = load_index(runs_dir)
    collecting = gc.isenabled()
    gc.disable()  # a cold listing allocates ~10^6 small objects: pausing the collector saves ~10%
    try:
        scan = _scan(runs_dir, all_names, index, stale_after_s, latest_n, signatures)
    finally:
        if collecting:
            gc.enable()
    listed = set(scan.names)
    present = set(all_names) - scan.not_runs
    # stored runs not listed now: kept when still present (latest_n), dropped when removed or archived
    unvisited = [(n, i) for i, n in enumerate(index.names) if n not in listed and n in present]
    changed = scan.changed or len(unvisited) + len(scan.names) != len(index.names)
    as_stored = ahead is not None and scan.names == index.names and scan.sources == list(range(len(scan.names)))
    columns = ahead if ahead is not None and as_stored else _assemble(index, scan.sources)
    made = prepared if as_stored else None  # `prepare` of this listing (as stored: nothing to store)
    if changed and os.path.isdir(runs_dir):
        stored = _stored(index, scan, columns, unvisited)
        if prepare is None:  # nothing to make meanwhile
            save_index(runs_dir, stored)
        else:  # the index written in a child while `prepare` makes the frame here
            with InBackground(functools.partial(_written_in_background, runs_dir, stored)) as writing:
                made = prepare(scan.names, columns)
                key = json.loads(writing.wait() or b"null")
            if key is not None:
                _remember(runs_dir, tuple(key), stored)
    whole = latest_n is None
    clean = whole and all(type(s) is int for s in scan.sources) and not any(index.problems.get(n) for n in scan.names)
    return scan.names, columns, ListingState(clean, listing_digest(all_names, scan.signatures) if whole else "",
                                             made)


def _stored(index: Index, scan: _Scan, columns: dict[str, Column], unvisited: list[tuple[str, int]]) -> Index:
    """The index to store after this listing: the runs listed and the stored ones not looked at (latest_n)."""
    names, sources = scan.names, scan.sources
    if unvisited:  # merge the listed runs with the stored ones not looked at, in name order
        order = sorted([*zip(names, sources), *unvisited], key=lambda item: item[0], reverse=True)
        names, sources = [n for n, _ in order], [s for _, s in order]
        columns = _assemble(index, sources)
    meta, problems = [], {}
    for name, source in zip(names, sources):
        fresh = isinstance(source, dict)
        meta.append(scan.fresh_meta[name] if isinstance(source, dict) else index.meta[source])
        found = scan.fresh_problems[name] if fresh else index.problems.get(name)
        if found:
            problems[name] = found
    return Index(names, meta, problems, columns)


def rebuild_index(runs_dir: str, stale_after_s: float = DEFAULT_STALE_AFTER_S) -> int:
    """Drop the index and read every run again (after editing metadata files in place); returns the run count."""
    path = index_path(runs_dir)
    _memo.pop(os.path.abspath(path), None)
    for stale in (path, os.path.join(runs_dir, INDEX_HEAD_FILE)):
        try:
            os.unlink(stale)
        except FileNotFoundError:
            pass
    return len(indexed_frame(runs_dir, stale_after_s))
