"""`tune submit`, `tune logs`, `tune pull`: a sweep whose driver runs on the cluster (Ray's job submission),
so the machine that started it can disconnect; its runs come home with `tune pull`.

What is submitted: the working directory (the project, as Ray's runtime_env working_dir: the local runs
directory, .git, virtualenvs and caches left out, .gitignore honoured) and the same command line a local
sweep takes. On the cluster the sweep writes to its own runs directory (`~/tuner-runs/<id>` in the head
node's home by default: durable, unlike the job's unpacked copy of the project). Each submission is
recorded in `<runs dir>/.submitted/<id>.json`, so `logs`, `pull` and `resume` find the cluster again.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shlex
import shutil
import sys
import tarfile
import tempfile
import time
from typing import Any, Sequence

from tuner.cli.options import PROG, Parser, UsageError, add_runs_dir, formatter
from tuner.errors import TunerError

RECORDS = ".submitted"
SWEEP_LINE = re.compile(r"^sweep (\d{8}-\d{6}-[0-9a-f]{4}): ", re.M)


class SubmitError(TunerError):
    """The cluster's job API could not be used (unreachable, refused, no such submission)."""


def _jobs() -> Any:
    from workers import jobs

    return jobs


def _call(func: Any, *args: Any, **kwargs: Any) -> Any:
    jobs = _jobs()
    try:
        return func(*args, **kwargs)
    except jobs.JobError as exc:
        raise SubmitError(str(exc)) from None


def _records_dir(runs_dir: str | None) -> str:
    from tuner.settings import load_settings

    return os.path.join(load_settings(runs_dir=runs_dir).runs_dir, RECORDS)


def _read_record(ident: str, runs_dir: str | None) -> dict[str, Any]:
    folder = _records_dir(runs_dir)
    names = sorted(n[:-5] for n in os.listdir(folder) if n.endswith(".json")) if os.path.isdir(folder) else []
    matches = [n for n in names if n == ident] or [n for n in names if n.startswith(ident)]
    if len(matches) != 1:
        known = ", ".join(names[-5:]) or "none yet (`tune submit --help`)"
        what = "matches several" if matches else "is not"
        raise SubmitError(f"'{ident}' {what} a submission recorded in {folder}; known: {known}")
    with open(os.path.join(folder, matches[0] + ".json"), encoding="utf-8") as handle:
        record: dict[str, Any] = json.load(handle)
    return record


def _write_record(record: dict[str, Any], runs_dir: str | None) -> str:
    from workers.files import atomic_write_json

    folder = _records_dir(runs_dir)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, record["id"] + ".json")
    atomic_write_json(path, record)
    return path


def _default_address() -> str | None:
    return os.environ.get("RAY_API_SERVER_ADDRESS") or None  # what `ray job submit` reads too


def _submit_parser() -> Parser:
    parser = Parser(prog=f"{PROG} submit", formatter_class=formatter,
                    description="Run a sweep's driver on a Ray cluster (its job API), so this machine can "
                                "disconnect.\nEverything after the submit options is the usual "
                                "`tune SCRIPT ...` command line.",
                    epilog="examples:\n"
                           "  tune submit --address http://head:8265 train.py --flags grid.yml --sample 0.3\n"
                           "  tune logs tune-20261202-101500-ab12 --follow\n"
                           "  tune pull tune-20261202-101500-ab12      # the runs, into ./runs\n\n"
                           "The project (this directory) is uploaded, without the runs directory, .git and\n"
                           "virtualenvs (and what .gitignore lists); the head node needs tuner installed\n"
                           "(pip install 'tuner-sweeps[cluster]').")
    parser.add_argument("--address", default=_default_address(), metavar="URL",
                        help="the cluster's job API, its dashboard address: http://HEAD:8265 "
                             "(default: $RAY_API_SERVER_ADDRESS)")
    parser.add_argument("--remote-runs-dir", metavar="DIR",
                        help="runs directory on the cluster (default: ~/tuner-runs/<submission id>)")
    parser.add_argument("--follow", action="store_true", help="print the sweep's output until it ends")
    add_runs_dir(parser)
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="SCRIPT ...",
                        help="the sweep, as `tune SCRIPT ...` takes it")
    return parser


def cmd_submit(argv: Sequence[str]) -> int:
    parser = _submit_parser()
    args = parser.parse_args(argv)
    if not args.address:
        raise UsageError("--address is required: the cluster's dashboard address, e.g. http://HEAD:8265")
    command = list(args.command)
    if not command:
        raise UsageError("nothing to submit: give the sweep after the options, e.g. train.py --flags grid.yml")
    from tuner.cli.run import _run_parser

    run = _run_parser().parse_args(command)  # the same checks as a local sweep (exit 2 on a bad option)
    if run.address or run.runs_dir or run.keep_cluster_s is not None:
        raise UsageError("--address, --runs-dir and --keep-cluster belong to `tune submit` (before the script): "
                         "the sweep joins the cluster it is submitted to and writes to --remote-runs-dir")
    project = os.getcwd()
    for label, path in (("script", run.script), ("flags file", run.flags)):
        if path is None:
            continue
        full = os.path.abspath(path)
        if not os.path.isfile(full):
            raise UsageError(f"{label} '{path}' does not exist (relative to {project})")
        if os.path.commonpath([full, project]) != project:
            raise UsageError(f"{label} '{path}' is outside {project}, which is what is uploaded; move it into the "
                             "project or submit from a folder that holds it")
    ident = f"tune-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(2).hex()}"
    remote = args.remote_runs_dir or f"~/tuner-runs/{ident}"
    entry = " ".join(["python", "-m", "tuner", *map(shlex.quote, command), "--yes", "--address", "auto",
                      "--runs-dir", shlex.quote(remote)])
    from tuner.settings import load_settings
    from workers.files import ship_excludes

    excludes = ship_excludes(project, [load_settings(runs_dir=args.runs_dir).runs_dir])
    jobs = _jobs()
    job_id = _call(jobs.submit, args.address, entry, ident, project, excludes)
    _write_record({"id": job_id, "address": args.address, "remote_runs_dir": remote, "command": command,
                   "project": project, "submitted": time.time(), "jobs": [job_id]}, args.runs_dir)
    print(f"submitted {job_id} to {args.address}: {' '.join(shlex.quote(c) for c in command)}")
    print(f"  output:     {PROG} logs {job_id} --follow\n  runs home:  {PROG} pull {job_id}\n"
          f"  on the cluster the runs are in {remote}")
    if args.follow:
        return _follow(args.address, job_id)
    return 0


def _follow(address: str, job_id: str) -> int:
    state = _call(_jobs().follow, address, job_id, lambda text: (sys.stdout.write(text), sys.stdout.flush()))
    print(f"{PROG}: job {job_id} {state.lower()}")
    return 0 if state == "SUCCEEDED" else 1


def cmd_logs(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} logs", formatter_class=formatter,
                    description="The output of a submitted sweep (`tune submit`), as far as it has come.",
                    epilog="examples:\n  tune logs tune-20261202-101500-ab12\n  tune logs tune-2026 --follow")
    parser.add_argument("submission", help="its id (or a unique start of it), as `tune submit` printed")
    parser.add_argument("--follow", "-f", action="store_true", help="keep printing until the sweep ends; the exit "
                        "status is 0 when it succeeded, 1 otherwise")
    add_runs_dir(parser)
    args = parser.parse_args(argv)
    record = _read_record(args.submission, args.runs_dir)
    job_id = record["jobs"][-1]
    if args.follow:
        return _follow(record["address"], job_id)
    sys.stdout.write(_call(_jobs().logs, record["address"], job_id))
    state = _call(_jobs().status, record["address"], job_id)
    print(f"{PROG}: job {job_id} {state.lower()}")
    return 0


def cmd_pull(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} pull", formatter_class=formatter,
                    description="Bring a submitted sweep's runs home: every run and the sweep's journal, from its "
                                "runs directory on the cluster into the local one (a run pulled before replaces "
                                "its older copy).",
                    epilog="examples:\n  tune pull tune-20261202-101500-ab12\n  tune pull tune-2026 && tune ls")
    parser.add_argument("submission", help="its id (or a unique start of it), as `tune submit` printed")
    add_runs_dir(parser)
    args = parser.parse_args(argv)
    record = _read_record(args.submission, args.runs_dir)
    jobs = _jobs()
    state = _call(jobs.status, record["address"], record["jobs"][-1])
    data = _call(jobs.fetch_runs, record["address"], record["remote_runs_dir"],
                 f"{record['id']}-pull-{os.urandom(2).hex()}")
    from tuner.settings import load_settings

    runs_dir = load_settings(runs_dir=args.runs_dir).runs_dir
    runs, sweeps = _unpack_into(data, runs_dir)
    print(f"pulled {runs} run{'s' if runs != 1 else ''} and {sweeps} sweep journal{'s' if sweeps != 1 else ''} "
          f"from {record['remote_runs_dir']} into {runs_dir}"
          + ("" if state in jobs.FINAL else f" (the sweep is still {state.lower()}: pull again when it ends)"))
    return 0


def _unpack_into(data: bytes, runs_dir: str) -> tuple[int, int]:
    """Unpack beside `runs_dir` first, then move each run (and each sweep folder) into place: a listing never
    sees half a run, and a copy pulled before is replaced whole."""
    os.makedirs(runs_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".pull-", dir=runs_dir)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            tar.extractall(staging, filter="data")
        runs = sweeps = 0
        for name in sorted(os.listdir(staging)):
            source = os.path.join(staging, name)
            if name.startswith(".") or not os.path.isdir(source):
                continue  # the cluster's listing index, locks, its own submissions
            if name == "sweeps":
                for sweep in os.listdir(source):
                    _replace(os.path.join(source, sweep), os.path.join(runs_dir, "sweeps", sweep))
                    sweeps += 1
                continue
            _replace(source, os.path.join(runs_dir, name))
            runs += 1
        return runs, sweeps
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _replace(source: str, target: str) -> None:
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.isdir(target):
        old = target + f".old-{os.urandom(3).hex()}"
        os.rename(target, old)
        os.rename(source, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(source, target)


def remote_sweep_id(record: dict[str, Any]) -> str:
    """The sweep id the submitted driver printed (its journal on the cluster), from the job's output."""
    text = _call(_jobs().logs, record["address"], record["jobs"][0])
    found = SWEEP_LINE.findall(text) or re.findall(r"runs/sweeps/(\d{8}-\d{6}-[0-9a-f]{4})", text)
    if not found:
        raise SubmitError(f"submission {record['id']} has not started its sweep yet (no sweep id in its output); "
                          f"see `{PROG} logs {record['id']}`")
    return str(found[-1])


def resume_submitted(ident: str, options: Sequence[str], runs_dir: str | None) -> int:
    """`tune resume SUBMISSION`: resume the submitted sweep on its cluster, as a new job of the same submission."""
    record = _read_record(ident, runs_dir)
    sweep = remote_sweep_id(record)
    job_id = f"{record['id']}-resume-{len(record['jobs'])}"
    # --project .: the trials run the project as uploaded now (a local resume runs the edited files too)
    entry = " ".join(["python", "-m", "tuner", "resume", sweep, *map(shlex.quote, options), "--address", "auto",
                      "--project", ".", "--runs-dir", shlex.quote(record["remote_runs_dir"])])
    if not os.path.isdir(record["project"]):
        raise SubmitError(f"the project {record['project']} that was submitted is gone; resume needs its code")
    from workers.files import ship_excludes

    excludes = ship_excludes(record["project"], [os.path.join(record["project"], "runs")])
    _call(_jobs().submit, record["address"], entry, job_id, record["project"], excludes)
    record["jobs"].append(job_id)
    _write_record(record, runs_dir)
    print(f"resuming sweep {sweep} of {record['id']} on {record['address']} as job {job_id}\n"
          f"  output:     {PROG} logs {record['id']} --follow\n  runs home:  {PROG} pull {record['id']}")
    return 0


def submitted_lines(runs_dir: str | None) -> list[str]:
    """One line per recorded submission, for `tune sweeps` (no network: the cluster may be gone)."""
    folder = _records_dir(runs_dir)
    if not os.path.isdir(folder):
        return []
    lines = []
    for name in sorted(os.listdir(folder), reverse=True):
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                record = json.load(handle)
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(record["submitted"]))
            lines.append(f"  {record['id']}  {when}  {record['address']}  {' '.join(record['command'])}")
        except (OSError, ValueError, KeyError, TypeError):
            lines.append(f"  {name[:-5]}  (damaged record: {os.path.join(folder, name)})")
    return lines
