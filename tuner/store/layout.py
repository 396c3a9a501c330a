"""The runs directory's layout: the only module that knows the file names in it (docs/design.md section 4), and the
names of the environment variables tuner reads or hands to a script.

A directory under the runs directory is a run iff it holds `tuner.d/`; `sweeps/<id>/` holds a sweep's journal and
what belongs to the sweep as a whole. Functions here take the runs directory from their caller; resolving it
from settings is the caller's business. tests/tuner_tests/test_layout.py fails when another module of tuner spells
one of these names, and checks that the copies of those kept where tuner cannot be imported agree (workers/, the
discovery bootstrap).
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import stat as _stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Iterator

from tuner.errors import TunerError, quoted

META_DIR = "tuner.d"
ARCHIVE_DIR = "archive"
#: the listing index and its lock, in the runs directory (tuner.runs.index); rebuilt from the runs at any time
INDEX_FILE = ".tuner-index.json"
INDEX_LOCK = ".tuner-index.lock"
#: the newest rows of the default `tune ls` table, valid while every run's signature is as it was (tuner.runs.newest)
INDEX_HEAD_FILE = ".tuner-index-head.json"
#: folders inside a run directory for TensorBoard's files (tuner.tensorboard_dir(); tfruns' `logs`)
TENSORBOARD_DIRS = ("tensorboard", "logs")
TENSORBOARD_DIR = TENSORBOARD_DIRS[0]
#: folders inside a run directory that are not artifacts
NON_ARTIFACTS = frozenset({META_DIR, *TENSORBOARD_DIRS})

#: files inside tuner.d/ that other modules name (RunPaths has them all as paths)
RUN_JSON = "run.json"
METRICS_JSONL = "metrics.jsonl"
STOP_FILE = "stop.json"  # a run's and a sweep's: stop it (tuner.store.journal, workers.process)
TAGS_LOCK = ".tags.lock"
MLFLOW_JSON = "mlflow.json"
SOURCE_DIR = "source"  # a run's and a sweep's source snapshot
#: what a command template's ${args_json_file} / ${args_yaml_file} name, written into tuner.d/ for each trial
ARGS_JSON = "args.json"
ARGS_YAML = "args.yml"

#: a sweep's folder, `<runs_dir>/sweeps/<id>/` (tuner.store.journal): its journal, the summary of its runs, the
#: lock a driver holds while it runs it and the marker file that tells its trials they run on this machine, the
#: log of a resume started from the dashboard, the TensorBoard HParams export (tuner.export.hparams)
SWEEPS_DIR = "sweeps"
JOURNAL_FILE = "journal.jsonl"
SUMMARY_CSV = "summary.csv"
DRIVER_LOCK = ".driver.lock"
DRIVER_MARKER = ".driver-marker"
RESUME_LOG = "resume.log"
HPARAMS_SIGNATURE = ".tuner-hparams.json"
#: files only this machine's copy of a run or sweep has meaning for: locks held here (a pull never replaces them)
LOCKS = frozenset({TAGS_LOCK, DRIVER_LOCK})

#: environment variables: every setting is `ENV_PREFIX` + its key in capitals (tuner.settings); the runner hands
#: the script the first three; discovery runs a script with ENV_DISCOVER_FLAGS set (a copy of the name lives in
#: tuner/interface/_bootstrap.py, which cannot import tuner); flags() reads a flags file named by ENV_CONFIG;
#: ENV_FULL_ERROR shows tracebacks instead of one-line errors (tuner.cli). workers/ names its own (the driver's
#: token, the warm cluster's mark, a run's token): tuner imports those from there.
ENV_PREFIX = "TUNER_"
ENV_RUN_DIR = "TUNER_RUN_DIR"
ENV_FLAGS_JSON = "TUNER_FLAGS_JSON"
ENV_TENSORBOARD_DIR = "TUNER_TENSORBOARD_DIR"
ENV_DISCOVER_FLAGS = "TUNER_DISCOVER_FLAGS"
#: the flags.yml section a run's tuner.flags() reads (the `config` setting; tfruns' R_CONFIG_ACTIVE)
ENV_CONFIG = "TUNER_CONFIG"
ENV_FULL_ERROR = "TUNER_FULL_ERROR"
#: the folder a script saves its checkpoint into and resumes from (docs/design.md, "Checkpoints")
ENV_CHECKPOINT_DIR = "TUNER_CHECKPOINT_DIR"


@dataclass(frozen=True)
class RunPaths:
    """Every file name of one run, in one place."""

    run_dir: str

    @property
    def name(self) -> str:
        return os.path.basename(os.path.normpath(self.run_dir))

    @property
    def live_metrics_jsonl(self) -> str:
        """The metrics file to read: metrics.jsonl, or while a printing script runs, its parsed lines so far."""
        return self.live_metrics_in(None)

    def live_metrics_in(self, present: Collection[str] | None) -> str:
        """live_metrics_jsonl, told by `present` (the names in tuner.d/, listed by the caller) instead of stats."""
        if present is None:
            missing, printed = not os.path.exists(self.metrics_jsonl), os.path.exists(self.printed_metrics_jsonl)
        else:
            missing = os.path.basename(self.metrics_jsonl) not in present
            printed = os.path.basename(self.printed_metrics_jsonl) in present
        return self.printed_metrics_jsonl if missing and printed else self.metrics_jsonl

    @property
    def meta(self) -> str:
        return os.path.join(self.run_dir, META_DIR)

    def _m(self, name: str) -> str:
        return os.path.join(self.run_dir, META_DIR, name)

    run_json = property(lambda self: self._m(RUN_JSON))
    flags_json = property(lambda self: self._m("flags.json"))
    #: the flags of flags.json that tune did not pass, with the default the script's parser gave them (written
    #: at launch, never rewritten): which flags are defaults and which were passed (tuner.store.files.FlagSource)
    flag_defaults_json = property(lambda self: self._m("flag_defaults.json"))
    metrics_jsonl = property(lambda self: self._m(METRICS_JSONL))
    #: printed metrics parsed while the run runs (closed steps only); readers use it while metrics.jsonl does not
    #: exist, and after_run makes it metrics.jsonl
    printed_metrics_jsonl = property(lambda self: self._m("printed_metrics.jsonl"))
    #: what a script printed after its last step (Keras' evaluate()), made evaluation.json by after_run
    printed_evaluation_json = property(lambda self: self._m("printed_evaluation.json"))
    evaluation_json = property(lambda self: self._m("evaluation.json"))
    properties_json = property(lambda self: self._m("properties.json"))
    error_json = property(lambda self: self._m("error.json"))
    stop_request = property(lambda self: self._m(STOP_FILE))  # the sweep asks the runner to stop (--stop)
    tags_json = property(lambda self: self._m("tags.json"))
    tags_lock = property(lambda self: self._m(TAGS_LOCK))
    #: the tags as `tune pull` last brought them: the base its next merge compares local edits with
    pulled_tags_json = property(lambda self: self._m("pulled-tags.json"))
    mlflow_json = property(lambda self: self._m(MLFLOW_JSON))  # where tune export mlflow put the run
    used_artifacts_jsonl = property(lambda self: self._m("used_artifacts.jsonl"))
    output_log = property(lambda self: self._m("output.log"))
    source_dir = property(lambda self: self._m(SOURCE_DIR))
    git_diff = property(lambda self: self._m("git.diff"))
    args_json = property(lambda self: self._m(ARGS_JSON))
    args_yaml = property(lambda self: self._m(ARGS_YAML))

    #: a single run's checkpoint folder (a sweep trial's outlives its runs: TrialPaths.checkpoint); in tuner.d, so a
    #: project folder of the same name, mirrored into the run folder, is never mistaken for it
    checkpoint_dir = property(lambda self: self._m("checkpoint"))

    @property
    def tensorboard_dir(self) -> str:
        return os.path.join(self.run_dir, TENSORBOARD_DIR)

    def is_run(self) -> bool:
        return os.path.isdir(self.meta)


def id_stamp(when: float | None = None) -> str:
    """`20261122-080102`: the time in sweep ids and submission ids, in UTC as run folder names are (every name tune
    makes from a time is UTC: one machine's ids sort with another's, and a submission's with its sweep's)."""
    return _dt.datetime.fromtimestamp(time.time() if when is None else when, tz=_dt.timezone.utc).strftime(
        "%Y%m%d-%H%M%S")


@dataclass(frozen=True)
class TrialPaths:
    """A sweep trial's own folder, `runs/sweeps/<id>/trials/<trial>/`: what outlives the trial's attempts, pauses
    and resumes (each attempt is a run with its own folder). In the runs directory, so every run's view reaches it
    as it is, and `tune resume` finds it where the dead driver left it."""

    folder: str

    @classmethod
    def of(cls, sweep_folder: str, trial: int) -> TrialPaths:
        return cls(os.path.join(sweep_folder, "trials", str(int(trial))))

    @property
    def checkpoint(self) -> str:
        """The folder the trial's script saves into and continues from ($TUNER_CHECKPOINT_DIR)."""
        return os.path.join(self.folder, "checkpoint")

    @property
    def runs_jsonl(self) -> str:
        """One line per run launched for the trial ({run, attempt, segment, time}): the run a new one continues."""
        return os.path.join(self.folder, "runs.jsonl")

    @property
    def lineage_jsonl(self) -> str:
        """PBT's segments of the trial ({segment, step, donor, flags ...}), also in the sweep's journal."""
        return os.path.join(self.folder, "lineage.jsonl")


def run_dir_name(when: float, seconds_scale: int = 0) -> str:
    """`%Y-%m-%dT%H-%M-%SZ` in UTC, with `seconds_scale` decimal digits of seconds (truncated, as tfruns)."""
    stamp = _dt.datetime.fromtimestamp(when, tz=_dt.timezone.utc)
    base = stamp.strftime("%Y-%m-%dT%H-%M-%S")
    if seconds_scale > 0:
        fraction = int((when % 1) * 10**seconds_scale)
        base += "." + str(fraction).zfill(seconds_scale)[:seconds_scale]
    return base + "Z"


def make_run_dir(runs_dir: str | os.PathLike[str], seconds_scale: int = 0, label: str | None = None) -> str:
    """Create and return a new run directory named by the current UTC time, `-label` after it when given.

    Creation is `os.mkdir`, which fails when the name exists, so two processes (two sweeps at once)
    never get the same directory: without a label the loser waits for the next tick and tries again; with one
    it takes the same second with `-2`, `-3` ... after the label (a sweep's trials are labelled by their number,
    `2026-12-07T20-15-17Z-03`, so names differ where a person looks and sort by second, then by trial).
    """
    if not isinstance(seconds_scale, int) or not 0 <= seconds_scale <= 6:
        raise TunerError(f"unique_run_dir: seconds_scale must be an integer 0..6, got {quoted(seconds_scale)}")
    if label is not None and (not isinstance(label, str) or not _LABEL.fullmatch(label)):
        raise TunerError("unique_run_dir: label must be letters, digits, '.', '_' or '-', starting with a letter or "
                         f"digit, got {quoted(label)}")
    runs = os.fspath(runs_dir)
    ensure_runs_dir(runs)
    if label is not None:
        base = os.path.join(runs, f"{run_dir_name(time.time(), seconds_scale)}-{label}")
        for n in range(1, 10_000):
            path = base if n == 1 else f"{base}-{n}"
            try:
                os.mkdir(path)
                return path
            except FileExistsError:
                continue
        raise TunerError(f"unique_run_dir: every name from {base} to {base}-9999 exists")
    tick = 1.0 / 10**seconds_scale
    while True:
        now = time.time()
        path = os.path.join(runs, run_dir_name(now, seconds_scale))
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            # sleep just past the start of the next tick
            time.sleep(tick - (now % tick) + tick / 100)


_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def ensure_runs_dir(runs_dir: str) -> None:
    """The runs directory, created when missing; one TunerError when no run can be made in it."""
    problem = runs_dir_write_problem(runs_dir)
    if problem is not None:
        raise TunerError(problem)
    os.makedirs(runs_dir, exist_ok=True)


#: a runs directory's path is quoted whole up to this length, cut beyond (a path past PATH_MAX is no path)
_PATH_SHOWN = 200


def runs_dir_read_problem(runs_dir: str, cwd: str | os.PathLike[str] | None = None) -> str | None:
    """Why `runs_dir` (relative to `cwd`) cannot be listed, or None. Missing is fine: an empty listing until a
    run creates it. Empty (`--runs-dir "$RUNS"` with RUNS unset) is not the current folder."""
    if not runs_dir.strip():
        return "runs directory is empty; give a folder path (default: runs)"
    named = f"'{runs_dir}'" if len(runs_dir) <= _PATH_SHOWN else quoted(runs_dir, _PATH_SHOWN)
    path = os.path.join(cwd or ".", runs_dir)
    try:
        is_dir = _stat.S_ISDIR(os.stat(path).st_mode)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        is_dir = False
    except OSError as err:
        return f"runs directory {named} cannot be used: {err.strerror}"
    if not is_dir:
        return (f"runs directory {named} is a file (or inside one), not a folder; give the path of a folder "
                "for the runs instead (it is created when missing)")  # never "remove it": a grid.yml passed by mistake
    if not os.access(path, os.R_OK | os.X_OK):  # a read-only one is fine: it lists (without an index)
        return (f"runs directory {named} cannot be read (permission denied); ask its owner for read access "
                "or give another folder")
    return None


def runs_dir_write_problem(runs_dir: str) -> str | None:
    """Why no run can be made in `runs_dir` (or in the folder that would hold it), or None. A read-only runs
    directory still lists; it only cannot take new runs."""
    problem = runs_dir_read_problem(runs_dir)
    if problem is not None:
        return problem
    existing = os.path.abspath(runs_dir)
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if os.access(existing, os.W_OK | os.X_OK):
        return None
    what = f"runs directory '{runs_dir}'" if existing == os.path.abspath(runs_dir) \
        else f"folder '{existing}', where runs directory '{runs_dir}' would be created,"
    return f"{what} is not writable (permission denied): no run can be made there; give a folder you can write to " \
        "(--runs-dir)"


def list_run_dirs(runs_dir: str) -> list[str]:
    """Run directories directly under `runs_dir` (those holding tuner.d/), newest name first."""
    return [path for path in (os.path.join(runs_dir, n) for n in scan_run_names(runs_dir))
            if os.path.isdir(os.path.join(path, META_DIR))]


#: tuner.d/ (inode, ctime, mtime), metrics.jsonl (inode, ctime, size), run.json (ctime, size): changes whenever a
#: run's row could change
Signature = tuple[int, int, int, int, int, int, int, int]
SIGNATURE_LEN = 8
#: how a packed list of signatures spells "not a run" (run_signature's None): no inode is negative
NOT_A_RUN = (-1,) * SIGNATURE_LEN
#: the signature of a run folder this user may not look into: no stat gives those values
UNREADABLE: Signature = (0, 0, 0, 0, 0, 0, 0, 0)


def run_signature(run_dir: str) -> Signature | None:
    """What a stat says about a run's metadata, or None when `run_dir` is not a run.

    Every metadata file but metrics.jsonl is replaced atomically (temp + rename), which changes the
    ctime of tuner.d/; metrics.jsonl is appended to, which changes its ctime and size; run.json's own ctime
    and size catch a file changed in place (the index trusts nothing it has not checked). ctime, unlike
    mtime, cannot be set back by a copy that preserves times, and the inode tells a replaced run apart.
    """
    meta_dir = run_dir + os.sep + META_DIR  # plain concatenation: this runs 10^4 times per listing
    try:
        meta = os.stat(meta_dir)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except PermissionError:  # a folder this user may not look into (a teammate's, in a shared runs directory):
        return UNREADABLE  # listed, with the reader's warning, rather than silently left out
    if not _stat.S_ISDIR(meta.st_mode):
        return None
    try:
        metrics = os.stat(meta_dir + os.sep + METRICS_JSONL)
        tail = (metrics.st_ino, metrics.st_ctime_ns, metrics.st_size)
    except OSError:  # missing, or tuner.d/ not searchable (the reader says so)
        tail = (0, 0, -1)
    try:  # run.json too: a file damaged in place (truncated, edited) changes neither tuner.d/ nor metrics.jsonl
        record = os.stat(meta_dir + os.sep + RUN_JSON)
        head = (record.st_ctime_ns, record.st_size)
    except OSError:
        head = (0, -1)
    return (meta.st_ino, meta.st_ctime_ns, meta.st_mtime_ns) + tail + head


def scan_run_names(runs_dir: str) -> list[str]:
    """Names of the entries directly under `runs_dir` that may be runs (not the archive, not hidden), newest first.

    Cheaper than list_run_dirs (no stat per entry, and plain names: 10^4 DirEntry objects cost a warm listing ~3
    ms); callers check each with run_signature or RunPaths.is_run, which a file fails.
    """
    try:
        names = os.listdir(runs_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted([n for n in names if n != ARCHIVE_DIR and not n.startswith(".")], reverse=True)


def is_plain_name(name: str) -> bool:
    """A single path component that cannot escape a folder: no separators, not '.' or '..'."""
    return bool(name) and name not in (".", "..") and "/" not in name and os.sep not in name and "\0" not in name


def iter_source_files(paths: RunPaths) -> Iterator[tuple[str, str]]:
    """(relative path, absolute path) of every file in the run's source snapshot."""
    root = Path(paths.source_dir)
    if not root.is_dir():
        return
    for file in sorted(root.rglob("*")):
        if file.is_file():
            yield file.relative_to(root).as_posix(), str(file)


def iter_tensorboard_files(paths: RunPaths) -> Iterator[tuple[str, int]]:
    """(relative path, size) of the files in the run's TensorBoard folders (TENSORBOARD_DIRS), which are not
    artifacts; links out of the run and device files are not listed."""
    root = Path(paths.run_dir)
    for name in TENSORBOARD_DIRS:
        folder = root / name
        if folder.is_symlink() or not folder.is_dir():
            continue
        for entry in sorted(folder.rglob("*")):
            if entry.is_symlink() or not entry.is_file():
                continue
            yield entry.relative_to(root).as_posix(), entry.stat().st_size


def iter_artifacts(paths: RunPaths) -> Iterator[tuple[str, int]]:
    """(relative path, size) of the files in the run directory that are not metadata: what the run made.

    Regular files, and links to files inside the run (a `last.ckpt` link to one checkpoint); never what points out
    of it (a mirrored project's link that a killed run left, a link the script made to a dataset) nor a device file
    (an overlay whiteout a killed run left), so copies and exports hold the run's files and nothing else."""
    root = os.path.realpath(paths.run_dir)
    found: list[tuple[tuple[str, ...], int]] = []

    def visit(folder: str, parts: tuple[str, ...]) -> None:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            here = (*parts, entry.name)
            if not parts and entry.name in NON_ARTIFACTS:
                continue
            try:
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if target.startswith(root + os.sep) and os.path.isfile(target):
                        found.append((here, os.stat(target).st_size))
                elif entry.is_dir(follow_symlinks=False):
                    visit(entry.path, here)
                elif entry.is_file(follow_symlinks=False):
                    found.append((here, entry.stat(follow_symlinks=False).st_size))
            except OSError:
                continue

    visit(paths.run_dir, ())
    for parts, size in sorted(found):
        yield "/".join(parts), size


