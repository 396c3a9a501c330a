"""`tune view`, `tune compare`, `tune report`: the HTML pages from the command line."""

from __future__ import annotations

import time
from typing import Sequence

from tuner.cli.options import PROG, Parser, UsageError, add_runs_dir, formatter
from tuner.report import show_saved_page


def _add_common(parser: Parser) -> None:
    parser.add_argument("--output", "-o", metavar="FILE", help="write the page here (default: your own pages folder, "
                        "~/.cache/tuner/views, which only you can read)")
    parser.add_argument("--no-browser", action="store_true", help="only write the page and print its path")
    add_runs_dir(parser)


def cmd_view(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} view", formatter_class=formatter,
                     description="HTML view of a run (default: the latest): cards, metric charts, error, console "
                                 "output, source code and artifacts, in one self-contained file.",
                     epilog="examples:\n  tune view\n  tune view 2026-11-22T05-12-33Z -o run.html\n"
                            "  tune view --live          follow the latest run while it trains")
    parser.add_argument("run", nargs="?", help="run directory or name (default: the latest run)")
    parser.add_argument("--live", action="store_true",
                        help="serve the view on 127.0.0.1 and update its charts as new steps arrive (Ctrl-C stops)")
    parser.add_argument("--port", type=int, default=0, help="port for --live (default: a free one)")
    _add_common(parser)
    args = parser.parse_args(argv)
    if args.live:
        if args.output:
            raise UsageError("--output and --live do not go together: --live serves the page instead of writing it")
        return _serve_live(args.run, args.runs_dir, args.port, not args.no_browser)
    from tuner.report import save_run_view

    show_saved_page(save_run_view(args.run, filename=args.output, runs_dir=args.runs_dir), not args.no_browser)
    return 0


def _serve_live(run: str | None, runs_dir: str | None, port: int, browse: bool) -> int:
    from tuner.capture.secrets import SecretRule
    from tuner.report import open_in_browser
    from tuner.report.live import LiveRunServer
    from tuner.runs.resolve import latest_run_dir, resolve_run_dir
    from tuner.settings import load_settings

    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be 0..65535, got {port}")
    settings = load_settings(runs_dir=runs_dir)
    path = resolve_run_dir(run, settings.runs_dir) if run else latest_run_dir(settings.runs_dir)
    try:
        server = LiveRunServer(path, settings.stale_after_s, port=port, secrets=SecretRule.from_settings(settings))
    except OSError as exc:
        raise UsageError(f"--port {port}: cannot listen on 127.0.0.1 ({exc.strerror}); pick another port or 0") from None
    url = server.start()
    print(f"Live view of {path} at {url} (Ctrl-C stops)", flush=True)
    if browse:
        open_in_browser(url)
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    print("Live view stopped", flush=True)
    return 0


def cmd_compare(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} compare", formatter_class=formatter,
                     description="Compare two or more runs side by side, oldest first (A, B, C ...; default: the "
                                 "two latest): a table of the flags and metrics that differ, cards, every metric "
                                 "of every run overlaid, and diffs of flags, source files and console output "
                                 "against A.",
                     epilog="examples:\n  tune compare\n  tune compare RUN_A RUN_B -o diff.html\n"
                            "  tune compare 2026-11-22T05 2026-11-22T06 2026-11-22T07")
    parser.add_argument("runs", nargs="*", metavar="RUN", help="two or more run names (any unique prefix) or paths")
    _add_common(parser)
    args = parser.parse_args(argv)
    if len(args.runs) == 1:
        raise UsageError("compare takes two or more runs (or none for the two latest), got 1")
    from tuner.report import save_run_comparison

    path = save_run_comparison(args.runs or None, filename=args.output, runs_dir=args.runs_dir)
    show_saved_page(path, not args.no_browser)
    return 0


def cmd_report(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} report", formatter_class=formatter,
                     description="HTML report of a sweep: a sortable, filterable table of every trial, a "
                                 "parallel-coordinates chart of flags against a metric, the best runs, and a "
                                 "view of each run linked from the table.",
                     epilog="examples:\n  tune report 20261122-051233-ab12 --metric val_acc\n"
                            "  tune report SWEEP -o report.html --no-run-views")
    parser.add_argument("sweep", help="the sweep id (see `tune sweeps` or the sweep column of `tune ls`)")
    parser.add_argument("--metric", action="append", help="metric to rank trials by, e.g. val_acc (default: the "
                        "sweep's own --metric; a sweep run without one: the first of val_acc, val_loss, acc, loss ... "
                        "its runs recorded); repeat for the Pareto front of several")
    parser.add_argument("--mode", action="append", choices=("max", "min"), help="whether the metric is better high "
                        "or low (default: the sweep's --mode for its metric, else by the metric's name: min for losses "
                        "and errors); one per --metric")
    parser.add_argument("--no-run-views", action="store_true", help="do not write a view of each run")
    _add_common(parser)
    args = parser.parse_args(argv)
    from tuner.cli.options import one_or_list
    from tuner.report import save_sweep_report

    path = save_sweep_report(args.sweep, runs_dir=args.runs_dir, metric=one_or_list(args.metric),
                             mode=one_or_list(args.mode),
                             filename=args.output, run_views=not args.no_run_views)
    show_saved_page(path, not args.no_browser)
    return 0
