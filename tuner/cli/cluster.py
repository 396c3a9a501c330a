"""`tune cluster status | down`: the warm local cluster that `keep_cluster_s` keeps between sweeps."""

from __future__ import annotations

import time
from typing import Sequence

from tuner.cli.options import PROG, Parser, formatter


def cmd_cluster(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} cluster", formatter_class=formatter,
                     description="The warm local cluster: with the setting keep_cluster_s (or --keep-cluster "
                                 "SECONDS) a sweep\nleaves its local Ray cluster up that long, and the next "
                                 "sweep joins it instead of starting Ray;\na standby driver, joined to it with "
                                 "its workers started, takes the next `tune SCRIPT` command.",
                     epilog="examples:\n  tune train.py --flags grid.yml --keep-cluster 600\n  tune cluster status\n"
                            "  tune cluster down")
    parser.add_argument("action", choices=("status", "down"), help="status: is one up, since when, who uses it; "
                                                                     "down: stop it now")
    args = parser.parse_args(argv)
    from workers import warm

    state = warm.read_state()
    if args.action == "status":
        if state is None:
            print("no warm cluster (a sweep with keep_cluster_s > 0 starts one)")
            return 0
        users = warm.live_users()
        idle = time.time() - float(state.get("last_used") or 0)
        print(f"warm cluster at {state['address']}, up {time.time() - float(state['started']):.0f} s, "
              f"{len(users)} sweep(s) using it" + ("" if users else f", idle {idle:.0f} s of {state.get('keep_s'):g}"))
        from tuner.cli.handoff import read_standby

        standby = read_standby()
        if standby is not None and standby.get("mark") == state.get("mark"):
            print(f"standby driver (pid {standby['pid']}): " + ("ready for the next `tune SCRIPT`" if standby.get("ready")
                                                               else "starting"))
        return 0
    if state is None:
        print("no warm cluster to stop")
        return 0
    users = warm.live_users()
    stopped = warm.stop(state)
    print(f"stopped the warm cluster at {state['address']} ({stopped} processes)"
          + (f"; {len(users)} running sweep(s) lost it" if users else ""))
    return 0
