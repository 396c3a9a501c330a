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
import os
import shlex
import sys
import time
from typing import TYPE_CHECKING, Sequence

from tuner.capture.secrets import redact_uri
from tuner.cli.options import PROG, Parser, UsageError, add_runs_dir, formatter
from tuner.cli.submissions import (
    call_jobs,
    default_address,
    jobs_module,
    new_submission_id,
    read_record,
    write_record,
)
from tuner.console.inert import inert

if TYPE_CHECKING:
    from tuner.store.pulled import PullResult


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
    parser.add_argument("--address", default=default_address(), metavar="URL",
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
    from tuner.cli.run import run_parser

    run = run_parser().parse_args(command)  # the same checks as a local sweep (exit 2 on a bad option)
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
    ident = new_submission_id()
    remote = args.remote_runs_dir or f"~/tuner-runs/{ident}"
    entry = " ".join(["python", "-m", "tuner", *map(shlex.quote, command), "--yes", "--address", "auto",
                      "--runs-dir", shlex.quote(remote)])
    from tuner.settings import load_settings
    from workers.files import ship_excludes

    excludes = ship_excludes(project, [load_settings(runs_dir=args.runs_dir).runs_dir])
    jobs = jobs_module()
    job_id = call_jobs(jobs.submit, args.address, entry, ident, project, excludes)
    write_record({"id": job_id, "address": args.address, "remote_runs_dir": remote, "command": command,
                   "project": project, "excludes": excludes, "submitted": time.time(), "jobs": [job_id]}, args.runs_dir)
    print(inert(f"submitted {job_id} to {redact_uri(args.address)}: {' '.join(shlex.quote(c) for c in command)}"))
    print(f"  output:     {PROG} logs {job_id} --follow\n  runs home:  {PROG} pull {job_id}\n"
          f"  on the cluster the runs are in {remote}")
    if args.follow:
        return _follow(args.address, job_id)
    return 0


def _follow(address: str, job_id: str) -> int:
    state = call_jobs(jobs_module().follow, address, job_id, lambda text: (sys.stdout.write(text), sys.stdout.flush()))
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
    record = read_record(args.submission, args.runs_dir)
    job_id = record["jobs"][-1]
    if args.follow:
        return _follow(record["address"], job_id)
    sys.stdout.write(call_jobs(jobs_module().logs, record["address"], job_id))
    state = call_jobs(jobs_module().status, record["address"], job_id)
    print(f"{PROG}: job {job_id} {state.lower()}")
    return 0


def cmd_pull(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} pull", formatter_class=formatter,
                    description="Bring a submitted sweep's runs home: every run and the sweep's journal, from its "
                                "runs directory on the cluster into the local one. A run here of the same name is "
                                "merged, not replaced: newer files win, files only here stay, tags set here since "
                                "the last pull are kept. Links that would lead out of their run (a killed trial's "
                                "links to its project) and special files are left out and named.",
                    epilog="examples:\n  tune pull tune-20261202-101500-ab12\n  tune pull tune-2026 && tune ls")
    parser.add_argument("submission", help="its id (or a unique start of it), as `tune submit` printed")
    add_runs_dir(parser)
    args = parser.parse_args(argv)
    record = read_record(args.submission, args.runs_dir)
    jobs = jobs_module()
    state = call_jobs(jobs.status, record["address"], record["jobs"][-1])
    data = call_jobs(jobs.fetch_runs, record["address"], record["remote_runs_dir"],
                 f"{record['id']}-pull-{os.urandom(2).hex()}")
    from tuner.settings import load_settings
    from tuner.store.pulled import pull_into

    runs_dir = load_settings(runs_dir=args.runs_dir).runs_dir
    for line in pull_lines(pull_into(data, runs_dir), record["remote_runs_dir"], runs_dir):
        print(inert(line))
    if state not in jobs.FINAL:
        print(f"the sweep is still {state.lower()}: pull again when it ends")
    return 0


#: how many left-out entries `tune pull` names (the rest are counted)
SHOWN_SKIPPED = 10


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def pull_lines(result: PullResult, remote: str, runs_dir: str) -> list[str]:
    """What `tune pull` says: what came, what merged, and every entry it left out (the first few by name)."""
    lines = [f"pulled {_count(result.runs, 'run', 'runs')} and "
             f"{_count(result.sweeps, 'sweep journal', 'sweep journals')} from {remote} into {runs_dir}"]
    if result.merged:
        lines.append(f"  {_count(result.merged, 'run', 'runs')} merged with the local copy: "
                     f"{_count(result.updated, 'file', 'files')} newer from the cluster, "
                     f"{_count(result.kept, 'local file', 'local files')} kept; tags set here are kept")
    for rel in result.clashes:
        lines.append(f"  kept the local {rel}: the cluster has a folder where it has a file, or the reverse")
    if result.skipped:
        lines.append(f"  left out {_count(len(result.skipped), 'entry', 'entries')} it cannot carry:")
        lines += [f"    {item}" for item in result.skipped[:SHOWN_SKIPPED]]
        if len(result.skipped) > SHOWN_SKIPPED:
            lines.append(f"    ... and {len(result.skipped) - SHOWN_SKIPPED} more")
    return lines
