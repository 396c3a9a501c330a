"""`tune dashboard`: a local web app over a runs directory that follows sweeps while they run.

`state.py` keeps what the pages show current by reading only what changed (the listing's stat signatures and
readers), `server.py` serves the pages and their JSON on 127.0.0.1 (Host header checked, read-only unless started
with control), `control.py` does what a page may ask with control on (stop a trial, stop or resume a sweep).
The page scripts are tuner/report/assets/app.js (shared with the static pages) and dashboard.js.
"""

from __future__ import annotations

from tuner.dashboard.server import DashboardServer

__all__ = ["DashboardServer"]
