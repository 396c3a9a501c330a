"""Submissions to a cluster (`tune submit`) as recorded in `<runs dir>/.submitted/<id>.json`: reading and writing
the records, resuming a submitted sweep on its cluster, and the lines `tune sweeps` shows. Kept apart from
tuner.cli.submit, which needs the run command's parser, so `tune sweeps` and `tune resume` can use it."""

from __future__ import annotations

import json
import os
import re
import shlex
import time
from typing import Any, Sequence

from tuner.capture.secrets import redact_uri
from tuner.cli.options import PROG
from tuner.errors import TunerError

RECORDS = ".submitted"
SWEEP_LINE = re.compile(r"^sweep (\d{8}-\d{6}-[0-9a-f]{4}): ", re.M)


class SubmitError(TunerError):
    """The cluster's job API could not be used (unreachable, refused, no such submission)."""


def jobs_module() -> Any:
    from workers import jobs

    return jobs


def call_jobs(func: Any, *args: Any, **kwargs: Any) -> Any:
    jobs = jobs_module()
    try:
        return func(*args, **kwargs)
    except jobs.JobError as exc:
        raise SubmitError(str(exc)) from None


def _records_dir(runs_dir: str | None) -> str:
    from tuner.settings import load_settings

    return os.path.join(load_settings(runs_dir=runs_dir).runs_dir, RECORDS)


def new_submission_id() -> str:
    """`tune-20261202-101500-ab12`: the time in UTC, as in sweep ids and run folders (tuner.store.layout.id_stamp)."""
    from tuner.store.layout import id_stamp

    return f"tune-{id_stamp()}-{os.urandom(2).hex()}"


def record_path(ident: str, runs_dir: str | None) -> str:
    folder = _records_dir(runs_dir)
    names = sorted(n[:-5] for n in os.listdir(folder) if n.endswith(".json")) if os.path.isdir(folder) else []
    matches = [n for n in names if n == ident] or [n for n in names if n.startswith(ident)]
    if len(matches) != 1:
        known = ", ".join(names[-5:]) or "none yet (`tune submit --help`)"
        what = "matches several" if matches else "is not"
        raise SubmitError(f"'{ident}' {what} a submission recorded in {folder}; known: {known}")
    return os.path.join(folder, matches[0] + ".json")


def read_record(ident: str, runs_dir: str | None) -> dict[str, Any]:
    with open(record_path(ident, runs_dir), encoding="utf-8") as handle:
        record: dict[str, Any] = json.load(handle)
    return record


def write_record(record: dict[str, Any], runs_dir: str | None) -> str:
    """Signed with the user's key (tuner.store.signing): `tune resume ID` uploads the project the record names to
    the cluster it names, so a record someone else wrote or edited is shown and asked about first."""
    from tuner.store.signing import SIGNATURE, Signer
    from workers.files import atomic_write_text

    folder = _records_dir(runs_dir)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, record["id"] + ".json")
    unsigned = {k: v for k, v in record.items() if k != SIGNATURE}
    atomic_write_text(path, Signer.for_user().signed_text(unsigned) + "\n")
    return path


def default_address() -> str | None:
    return os.environ.get("RAY_API_SERVER_ADDRESS") or None  # what `ray job submit` reads too


def remote_sweep_id(record: dict[str, Any]) -> str:
    """The sweep id the submitted driver printed (its journal on the cluster), from the job's output."""
    text = call_jobs(jobs_module().logs, record["address"], record["jobs"][0])
    found = SWEEP_LINE.findall(text) or re.findall(r"runs/sweeps/(\d{8}-\d{6}-[0-9a-f]{4})", text)
    if not found:
        raise SubmitError(f"submission {record['id']} has not started its sweep yet (no sweep id in its output); "
                          f"see `{PROG} logs {record['id']}`")
    return str(found[-1])


def resume_submitted(ident: str, options: Sequence[str], runs_dir: str | None, trust: bool | None = None) -> int:
    """`tune resume SUBMISSION`: resume the submitted sweep on its cluster, as a new job of the same submission.
    A record this user did not sign is shown and asked about first (`trust`: tuner.store.signing.require_trust)."""
    from tuner.interface.template import shell_word
    from tuner.store.signing import Signer, require_trust

    path = record_path(ident, runs_dir)
    record = read_record(ident, runs_dir)
    shown = [f"upload the project {shell_word(str(record.get('project')))} to the cluster "
             f"{shell_word(str(record.get('address')))}, and resume its sweep there "
             f"(runs directory {shell_word(str(record.get('remote_runs_dir')))})"]
    require_trust(Signer.for_user().verdict(record), f"submission {ident}'s record ({path})", shown,
                  f"tune resume {ident} --yes", trust)
    record.pop("signature", None)
    sweep = remote_sweep_id(record)
    job_id = f"{record['id']}-resume-{len(record['jobs'])}"
    # --project .: the trials run the project as uploaded now (a local resume runs the edited files too)
    entry = " ".join(["python", "-m", "tuner", "resume", sweep, *map(shlex.quote, options), "--address", "auto",
                      "--project", ".", "--runs-dir", shlex.quote(record["remote_runs_dir"])])
    if not os.path.isdir(record["project"]):
        raise SubmitError(f"the project {record['project']} that was submitted is gone; resume needs its code")
    # the same upload as the submission's (its runs directory left out as then)
    call_jobs(jobs_module().submit, record["address"], entry, job_id, record["project"], list(record["excludes"]))
    record["jobs"].append(job_id)
    write_record(record, runs_dir)
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
            when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(record["submitted"]))  # UTC, as `tune sweeps`
            lines.append(f"  {record['id']}  {when}  {redact_uri(record['address'])}  {' '.join(record['command'])}")
        except (OSError, ValueError, KeyError, TypeError):
            lines.append(f"  {name[:-5]}  (damaged record: {os.path.join(folder, name)})")
    return lines
