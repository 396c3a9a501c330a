"""`tune flags SCRIPT`: the flags a script accepts, found without running its training code."""

from __future__ import annotations

import json
from typing import Sequence

from tuner.cli.options import PROG, Parser, formatter, seconds


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def cmd_flags(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} flags", formatter_class=formatter,
                     description="List the flags SCRIPT accepts: tuner.flags(), argparse, absl or click options, "
                                 "found by running it only up to where it parses its options.",
                     epilog="A sweep checks its grid against these before launching (skip with --no-check).")
    parser.add_argument("script", help="the training script, e.g. train.py")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--timeout", type=seconds, default=60.0, metavar="TIME",
                        help="give up when the script has not parsed its options by then (default 60)")
    args = parser.parse_args(argv)
    from tuner.interface.discover import discover_flags

    interface = discover_flags(args.script, timeout_s=args.timeout)
    if args.format == "json":
        print(json.dumps(interface.to_dict(), indent=2, default=str))
        return 0
    if interface.kind == "unknown":
        print(f"{args.script} parsed no options (no tuner.flags(), argparse, absl or click parser was used)")
        return 0
    from tuner.console.inert import inert

    rows: list[tuple[str, ...]] = [("name", "type", "default", "choices", "help")]
    rows += [tuple(map(inert, (f.name, "switch" if f.is_switch else f.type + (" ..." if f.takes_many else ""),
                               _cell(f.default), _cell(f.choices), f.help))) for f in interface.flags]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print(f"{args.script}: {interface.kind}, {len(interface.flags)} flags")
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[4])
    return 0
