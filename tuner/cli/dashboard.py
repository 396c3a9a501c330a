"""`tune dashboard`: serve the runs directory's sweeps as a live local web app."""

from __future__ import annotations

import logging
import time
from typing import Sequence

from tuner.cli.options import PROG, Parser, UsageError, add_runs_dir, formatter


def cmd_dashboard(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} dashboard", formatter_class=formatter,
                     description="A local web app over the runs directory: every sweep with its state, counts and "
                                 "best; a sweep live while it runs (trial states, best so far, learning curves, "
                                 "parallel coordinates, flag importance, a trials table filtered as `tune ls "
                                 "--filter` filters); each run's view, live. Served on 127.0.0.1 only, for this "
                                 "machine's browser; read-only unless --allow-control.",
                     epilog="examples:\n  tune dashboard\n  tune dashboard --runs-dir ~/tuner-runs --port 8765\n"
                            "  tune dashboard --allow-control      stop trials, stop and resume sweeps from the page\n"
                            "\nfrom another machine: ssh -L 8765:127.0.0.1:8765 HOST, then `tune dashboard --port "
                            "8765` there\nand open http://127.0.0.1:8765/ here (the same port on both ends: the "
                            "server answers\nonly to 127.0.0.1:PORT and localhost:PORT).")
    add_runs_dir(parser)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--allow-control", action="store_true",
                        help="let the page stop trials and stop or resume sweeps (each request carries a token "
                             "only this server's pages know)")
    parser.add_argument("--no-browser", action="store_true", help="only print the address")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be 0..65535, got {args.port}")
    from tuner.capture.secrets import SecretRule
    from tuner.console.inert import inert
    from tuner.dashboard import DashboardServer
    from tuner.report import open_in_browser
    from tuner.settings import load_settings

    settings = load_settings(runs_dir=args.runs_dir)
    _show_log()
    try:
        server = DashboardServer(settings.runs_dir, settings.stale_after_s, port=args.port,
                                 allow_control=args.allow_control, secrets=SecretRule.from_settings(settings))
    except OSError as exc:
        raise UsageError(f"--port {args.port}: cannot listen on 127.0.0.1 ({exc.strerror}); pick another port or "
                         "0") from None
    url = server.start()
    mode = "stop and resume allowed" if args.allow_control else "read-only"
    print(f"Dashboard of {inert(settings.runs_dir)} at {url} ({mode}; Ctrl-C stops)", flush=True)
    if not args.no_browser:
        open_in_browser(url)
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    print("Dashboard stopped", flush=True)
    return 0


def _show_log() -> None:
    """The server's records (a refused Host, a request that failed, what control did) as `tune: dashboard: ...`
    lines on stderr: the channel's renderer (tuner.console.echo) for a service, made inert (a refused Host header
    is whatever a client sent)."""
    from tuner.console.echo import EchoHandler

    logger = logging.getLogger("tuner.dashboard")
    if logger.handlers:
        return
    logger.addHandler(EchoHandler(PROG, service="dashboard"))
    logger.setLevel(logging.INFO)
    logger.propagate = False
