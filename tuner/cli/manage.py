"""`tune clean | restore | purge | copy | rm | reproduce | lookup | tag`: managing and reproducing runs from the
command line."""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator, Sequence

from tuner.cli.options import (
    PROG,
    Parser,
    add_filter,
    add_runs_dir,
    add_yes,
    confirm_option,
    formatter,
)
from tuner.console.inert import inert


def cmd_clean(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} clean", formatter_class=formatter,
                     description="Move runs to RUNS_DIR/archive (all runs unless runs or --filter are given). "
                                 "Active runs are skipped; `tune purge` deletes the archive.",
                     epilog="examples:\n  tune clean --filter \"status == 'failed'\"\n"
                            "  tune clean --filter \"metrics.val_acc < 0.5\" --yes\n  tune clean 2026-11-22T05-12-33Z")
    parser.add_argument("runs", nargs="*", metavar="RUN", help="run names or paths (default: all runs)")
    add_filter(parser, "runs")
    add_runs_dir(parser)
    add_yes(parser)
    args = parser.parse_args(argv)
    from tuner.runs.manage import clean_runs

    runs = _chosen(args.runs, args.filter, args.runs_dir)
    if runs is _NONE:
        print(f"No runs match the filter in {_runs_dir(args.runs_dir)}.")
        return 0
    with _unattended("moved", "move"):
        result = clean_runs(runs, runs_dir=args.runs_dir, confirm=confirm_option(args), refuse_unattended=True)
    if result.done:
        print(f"(`{PROG} restore` brings runs back; `{PROG} purge` deletes the archive for good)")
    return 0


def _runs_dir(runs_dir: str | None) -> str:
    from tuner.settings import load_settings

    return load_settings(runs_dir=runs_dir).runs_dir


@contextlib.contextmanager
def _unattended(done: str, verb: str) -> Iterator[None]:
    """The one rule of the commands that move or delete runs (README, "Cleaning up"): on a terminal they list
    what they will touch and ask; without one they change nothing unless given --yes, and say what they would
    have done (exit 2). Finding nothing to act on is not an error."""
    from tuner.cli.options import UsageError
    from tuner.errors import ConfirmationError

    try:
        yield
    except ConfirmationError as exc:
        raise UsageError(f"{exc}; there is no terminal to ask on, so nothing was {done}: "
                         f"pass --yes to {verb} them") from None


_NONE = object()


def _chosen(runs: Sequence[str], filter_expr: str | None, folder: str | None) -> Any:
    """What `clean` and `restore` act on: the named runs (None: all of them), narrowed by `--filter` over the
    runs of `folder`; _NONE when the filter leaves nothing."""
    if filter_expr is None:
        return list(runs) or None
    from tuner.runs.listing import ls_runs
    from tuner.runs.query import parse_filter

    parse_filter(filter_expr)  # a filter that does not parse is an error (exit 2), even with nothing to act on
    if folder is not None and not os.path.isdir(folder):
        return _NONE

    selected = ls_runs(subset=filter_expr, runs_dir=folder)
    if runs:
        wanted = {os.path.basename(os.path.normpath(r)) for r in runs}
        selected = selected[selected["run_dir"].map(lambda p: os.path.basename(p) in wanted)]
    return _NONE if selected.empty else selected


def cmd_restore(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} restore", formatter_class=formatter,
                     description="Move archived runs (`tune clean` put them in RUNS_DIR/archive) back, under their "
                                 "own names; all of them unless runs or --filter are given.",
                     epilog="examples:\n  tune restore\n  tune restore 2026-11-22T05-12-33Z\n"
                            "  tune restore --filter \"status == 'failed'\" --yes")
    parser.add_argument("runs", nargs="*", metavar="RUN", help="archived run names (any unique prefix) or paths")
    add_filter(parser, "archived runs")
    add_runs_dir(parser)
    add_yes(parser)
    args = parser.parse_args(argv)
    from tuner.runs.manage import restore_runs
    from tuner.settings import load_settings
    from tuner.store.layout import ARCHIVE_DIR

    archive = os.path.join(load_settings(runs_dir=args.runs_dir).runs_dir, ARCHIVE_DIR)
    runs = _chosen(args.runs, args.filter, archive)
    if runs is _NONE:
        print(f"No archived runs match the filter in {archive}.")
        return 0
    with _unattended("moved", "restore"):
        restore_runs(runs, runs_dir=args.runs_dir, confirm=confirm_option(args), refuse_unattended=True)
    return 0


def cmd_purge(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} purge", formatter_class=formatter,
                     description="Permanently delete the runs in RUNS_DIR/archive (moved there by `tune clean`).")
    add_runs_dir(parser)
    add_yes(parser)
    args = parser.parse_args(argv)
    from tuner.runs.manage import purge_runs

    with _unattended("deleted", "delete"):
        purge_runs(runs_dir=args.runs_dir, confirm=confirm_option(args), refuse_unattended=True)
    return 0


def cmd_rm(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} rm", formatter_class=formatter,
                     description="Permanently delete the runs whose name matches a regular expression, after "
                                 "listing them and asking (on a terminal). Active runs are skipped.",
                     epilog="examples:\n  tune rm '^2026-11-21'        every run started on that day (UTC)\n"
                            "  tune rm 'T05-1[0-9]' --yes")
    parser.add_argument("pattern", metavar="PATTERN", help="regular expression searched in run names")
    add_runs_dir(parser)
    add_yes(parser)
    args = parser.parse_args(argv)
    from tuner.runs.manage import delete_runs

    with _unattended("deleted", "delete"):
        delete_runs(args.pattern, runs_dir=args.runs_dir, confirm=confirm_option(args), refuse_unattended=True)
    return 0


def cmd_copy(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} copy", formatter_class=formatter,
                     description="Copy a run (metadata and artifacts) into the folder TO; with --files-only just "
                                 "the files the run wrote.",
                     epilog="examples:\n  tune copy 2026-11-22T05-12-33Z best/ --rename baseline\n"
                            "  tune copy 2026-11-22T05-12-33Z model/ --files-only")
    parser.add_argument("run", metavar="RUN", help="run name or path")
    parser.add_argument("to", metavar="TO", help="destination folder (created)")
    parser.add_argument("--rename", metavar="NAME", help="name of the copy inside TO (default: the run's name)")
    parser.add_argument("--files-only", action="store_true", help="copy artifacts only, no tuner.d/ metadata")
    add_runs_dir(parser)
    args = parser.parse_args(argv)
    from tuner.runs.manage import copy_run, copy_run_files

    copy = copy_run_files if args.files_only else copy_run
    for target in copy(args.run, args.to, rename=args.rename, runs_dir=args.runs_dir):
        print(inert(f"Copied {'files of ' if args.files_only else ''}{args.run} to {target}"))
    return 0


def cmd_reproduce(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} reproduce", formatter_class=formatter,
                     description="Print the steps that re-run a run exactly: git checkout of its commit, "
                                 "git apply of its uncommitted changes, and the tune command with its flags.")
    parser.add_argument("run", nargs="?", metavar="RUN", help="run name or path (default: the latest run)")
    add_runs_dir(parser)
    args = parser.parse_args(argv)
    from tuner.runs.reproduce import reproduce_steps

    print("\n".join(reproduce_steps(args.run, args.runs_dir)))
    return 0


def cmd_lookup(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} lookup", formatter_class=formatter,
                     description="Print one field of a run by dotted path: flags.NAME (or params.NAME), "
                                 "metrics.NAME (the last value),\neval.NAME, tags.KEY, properties.NAME, or a path "
                                 "into run.json; the whole run.json without one.",
                     epilog="examples:\n  tune lookup 2026-11-22T05-12-33Z flags.lr\n"
                            "  tune lookup 2026-11-22T05 metrics.val_acc\n"
                            "  tune lookup 2026-11-22T05-12-33Z git.commit\n  tune lookup 2026-11-22T05-12-33Z argv")
    parser.add_argument("run", metavar="RUN", help="run name or path")
    parser.add_argument("field", nargs="?", metavar="FIELD",
                        help="dotted path, e.g. flags.lr, metrics.val_acc, eval.loss, tags.stage, git.commit, argv.0")
    add_runs_dir(parser)
    args = parser.parse_args(argv)
    from tuner.runs.reproduce import format_lookup, lookup

    print(inert(format_lookup(lookup(args.run, args.field, args.runs_dir)), keep_newlines=True))
    return 0


def cmd_tag(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} tag", formatter_class=formatter,
                     description="Set or remove tags of a run, then print its tags (only print them without changes).\n"
                                 "Tags are text, shown by `tune ls` (tag_* columns) and `tune info`, and queried as\n"
                                 "`tags.KEY = 'VALUE'`. `--label`/`--note` at launch set the tags `label`/`note`.",
                     epilog="examples:\n  tune tag 2026-11-22T05-12-33Z stage=prod owner=ana\n"
                            "  tune tag 2026-11-22T05 --rm stage\n  tune ls --filter \"tags.stage = 'prod'\"")
    parser.add_argument("run", metavar="RUN", help="run name (any unique prefix) or path")
    parser.add_argument("tags", nargs="*", metavar="KEY=VALUE", help="tags to set (an existing key is replaced)")
    parser.add_argument("--rm", action="append", default=[], metavar="KEY", help="remove this tag; repeat for more")
    add_runs_dir(parser)
    args = parser.parse_args(argv)
    from tuner.runs.resolve import resolve_run_dir
    from tuner.store.files import parse_tag_options, read_run, update_tags

    new = parse_tag_options(args.tags, option="tag")
    run_dir = resolve_run_dir(args.run, args.runs_dir)
    tags = update_tags(run_dir, new, tuple(args.rm)) if new or args.rm else read_run(run_dir, with_metrics=False).tags
    for key in sorted(tags):
        print(inert(f"{key}={tags[key]}"))
    if not tags:
        print(inert(f"run {os.path.basename(run_dir)} has no tags"))
    return 0
