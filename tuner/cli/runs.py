"""`tune ls` and `tune info`."""

from __future__ import annotations

import sys
from typing import Sequence

from tuner.cli.options import PROG, Parser, add_filter, add_runs_dir, count, formatter
from tuner.errors import TunerError


def cmd_ls(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} ls", formatter_class=formatter, description="List runs, newest first.",
                     epilog="examples:\n  tune ls --filter \"metric_val_acc > 0.9 and flag_dropout < 0.3\"\n"
                            "  tune ls --filter \"metrics.val_acc > 0.9 and params.dropout = '0.2'\" "
                            "--order \"metrics.val_acc DESC\"\n"
                            "  tune ls --order metric_val_loss --ascending --latest 20\n"
                            "  tune ls --format csv > runs.csv\n"
                            "filters (--filter): comparisons, and/or/not, in, arithmetic, LIKE, IS NULL over the "
                            "columns; docs/filters.md")
    add_filter(parser, "runs")
    parser.add_argument("--order", metavar="COL", action="append", help="sort by column (repeatable)")
    parser.add_argument("--ascending", action="store_true", help="sort ascending (default: descending)")
    parser.add_argument("--latest", type=count, metavar="N", help="only the N newest runs")
    parser.add_argument("--columns", metavar="C1,C2", help="columns to show, names or MLflow keys such as "
                        "metrics.acc (default: a compact choice)")
    parser.add_argument("--all", action="store_true", help="show every matching run in the table (default: the "
                        "newest that fit the terminal, 50 when it is not one); csv and json always hold all")
    parser.add_argument("--wide", action="store_true", help="on a terminal, every column of the default choice "
                        "however wide (default: the columns that fit: the filter's and the order's, flags that "
                        "differ, the ranking metric first); piped output always has them all")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    front = parser.add_argument_group("Pareto front")
    front.add_argument("--pareto", action="store_true", help="only the listed runs on their Pareto front: finished "
                       "runs no other beats on every --metric (default: the recorded metrics of the one sweep the "
                       "runs belong to)")
    front.add_argument("--metric", action="append", help="--pareto: a metric of the front (repeat: --metric val_loss "
                       "--metric latency_ms)")
    front.add_argument("--mode", action="append", choices=("min", "max"), help="--pareto: whether each --metric is "
                       "better low or high, one per --metric (default: each metric's direction)")
    front.add_argument("--constraint", action="append", metavar="EXPR", help="--pareto: leave out runs that break "
                       "this bound on a metric, e.g. \"memory_mb <= 512\" (repeatable)")
    add_runs_dir(parser)
    args = parser.parse_args(argv)
    from tuner.cli.options import UsageError, one_or_list

    if not args.pareto and (args.metric or args.mode or args.constraint):
        given = "--metric" if args.metric else "--mode" if args.mode else "--constraint"
        raise UsageError(f"{given} applies to --pareto (the runs on the front of these metrics); add --pareto")
    more_hint = "; `tune ls --all` shows them, `--format csv` writes them as data"
    if args.format == "table" and not (args.filter or args.order or args.ascending or args.columns or args.pareto):
        # the default listing: printed from the index's rows, without pandas (tuner.runs.newest)
        from tuner.console.tables import default_row_limit, print_newest_table
        from tuner.runs.newest import newest_runs

        limit = None if args.all else default_row_limit()
        newest = newest_runs(limit, latest_n=args.latest, runs_dir=args.runs_dir)
        if not newest.total:
            print(no_runs_here(args.runs_dir))
            return 0
        print_newest_table(newest, limit=limit, more_hint=more_hint, wide=args.wide,
                           metric=_ranking_column(newest.columns, {row.get("sweep") for row in newest.rows},
                                                  args.runs_dir))
        return 0
    from tuner.runs.listing import ls_runs

    frame = ls_runs(subset=args.filter, order=args.order or "start", decreasing=not args.ascending,
                    latest_n=args.latest, runs_dir=args.runs_dir)
    if frame.empty and args.format == "table":
        print(no_runs_here(args.runs_dir, args.filter))
        return 0
    from tuner.console.tables import HEADERS, print_runs_table, select_columns
    from tuner.runs.query import column_name

    # the table's own headers are accepted too: `run` is run_dir, `time` is duration_s
    aliases = {header: column for column, header in HEADERS.items()}
    columns = ([aliases.get(c.strip(), column_name(c)) for c in args.columns.split(",") if c.strip()]
               if args.columns else None)
    if args.pareto:
        from tuner.runs.listing import pareto_front

        frame = pareto_front(frame, one_or_list(args.metric), one_or_list(args.mode), args.constraint,
                             runs_dir=args.runs_dir)
    frame = select_columns(frame, columns)
    if args.format == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif args.format == "json":
        sys.stdout.write(frame.to_json(orient="records", date_format="iso") + "\n")
    else:
        from tuner.console.tables import default_row_limit
        from tuner.runs.query import parse_filter, parse_order

        asked = list(parse_filter(args.filter).columns) if args.filter else []
        asked += parse_order(args.order, True)[0] if args.order else []
        if args.pareto:  # the front's metrics come first
            asked += [c for m in frame.attrs["metric"] for c in (f"metric_{m}", f"eval_{m}") if c in frame]
        sweeps = set(frame["sweep"].dropna()) if "sweep" in frame else set()
        print_runs_table(frame, columns, limit=None if args.all else default_row_limit(), more_hint=more_hint,
                         first=list(dict.fromkeys(asked)), wide=args.wide,
                         metric=_ranking_column(list(frame.columns), sweeps, args.runs_dir))
        if args.pareto:
            from tuner.console.inert import inert

            named = ", ".join(f"{m} ({o})" for m, o in zip(frame.attrs["metric"], frame.attrs["mode"]))
            kept = f"; constraints: {', '.join(frame.attrs['constraints'])}" if frame.attrs.get("constraints") else ""
            print(inert(f"front: {len(frame)} run{'s' if len(frame) != 1 else ''} ({named}{kept})"))
    return 0


def _ranking_column(columns: Sequence[str], sweeps: set[object], runs_dir: str | None) -> str | None:
    """The column of the metric that ranks the listed runs: one sweep's own ranking when every listed run that
    has a sweep is of the same one, else the default ranking (tuner.runs.ranking owns both choices)."""
    from tuner.runs.ranking import choose_ranking, sweep_choice, sweep_ranking
    from tuner.settings import load_settings

    if not sys.stdout.isatty():  # only a terminal's table is fitted; piped, the journal is not read
        return None
    named = {s for s in sweeps if isinstance(s, str) and s}
    try:
        if len(named) == 1:
            ranking = sweep_ranking(columns, sweep_choice(load_settings(runs_dir=runs_dir).runs_dir, named.pop()))
        else:
            ranking = choose_ranking(columns)
    except TunerError:
        return None
    return ranking.column if ranking is not None else None


def no_runs_here(runs_dir: str | None, filter_expr: str | None = None) -> str:
    """What an empty listing says: where it looked, and what to do."""
    import os

    from tuner.settings import load_settings

    folder = os.path.join(load_settings(runs_dir=runs_dir).runs_dir, "")
    if filter_expr is not None:
        return f"No runs in {folder} match the filter."
    where = "" if os.path.isdir(folder) else " (the folder does not exist yet)"
    return f"No runs in {folder}{where}; `{PROG} train.py` makes one, a tracked run of train.py."


def cmd_info(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} info", formatter_class=formatter, description="Show one run (default: the latest).")
    parser.add_argument("run", nargs="?", help="run directory or name (default: the latest run)")
    add_runs_dir(parser)
    args = parser.parse_args(argv)
    from tuner.console.tables import print_run_info
    from tuner.runs.listing import latest_run, run_info

    info = run_info(args.run, args.runs_dir) if args.run else latest_run(args.runs_dir)
    if info is None:
        print(no_runs_here(args.runs_dir))
        return 0
    print_run_info(info)
    return 0


