"""The dashboard's HTTP server: pages and JSON on 127.0.0.1, for this machine's browser only.

Safety, as for the live run view (tuner.report.live) and more, since this server can act on sweeps:
- it listens on 127.0.0.1 only, and answers only requests whose Host header is `127.0.0.1:PORT` or
  `localhost:PORT` (a page of another site that points a DNS name at 127.0.0.1, "DNS rebinding", is refused);
- the pages are the report's pages (every value a text node, a Content-Security-Policy allowing only their own two
  inline scripts and requests to this origin: nothing from a CDN, nothing leaves the machine);
- read-only unless started with `allow_control`: then each POST must carry the per-server token (a random value
  the page gets inside its own HTML, which other origins cannot read) in `X-Tuner-Token`, and an `Origin`, when
  the browser sends one, must be this server's; a read-only server refuses every POST with 403.

Requests are served in threads; the model (tuner.dashboard.state) is behind one lock and refreshed at most every
REFRESH_S, however many pages poll. Problems go to the `tuner.dashboard` logger, never to the terminal directly.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets as _secrets
import threading
import time
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from tuner.capture.secrets import DEFAULT_RULE, SecretRule
from tuner.dashboard import control
from tuner.dashboard.state import RunsMirror, SweepBook, SweepView
from tuner.errors import TunerError
from tuner.report.live import LiveRun
from tuner.report.render import page_json, render_page
from tuner.store.journal import sweep_dir
from tuner.store.layout import RunPaths, is_plain_name

log = logging.getLogger("tuner.dashboard")

#: how often the model is refreshed at most, however many pages ask. A sweep page long-polls: its request for what
#: changed is held until something did (at most MAX_WAIT_S), so a trial's report reaches it within a refresh or
#: two (docs/benchmarks.md: 10^4 trials); POLL_MS is its pause after a failed request, and the sweeps list's poll
REFRESH_S = 0.5
MAX_WAIT_S = 15.0
POLL_MS = 1000
SWEEPS_POLL_MS = 2000
#: run pages whose live state (a MetricsTail) is kept
LIVE_RUNS_KEPT = 32
#: sweeps whose page state is kept
SWEEP_VIEWS_KEPT = 16
SCRIPTS = ("dashboard.js",)
TOKEN_HEADER = "X-Tuner-Token"


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Dashboard:
    """The model behind the pages: the runs mirror, the sweeps, each open sweep page's view and each run page's
    live state. Every method takes the lock: one refresh at a time, however many requests."""

    def __init__(self, runs_dir: str, stale_after_s: float = 60.0, allow_control: bool = False,
                 secrets: SecretRule = DEFAULT_RULE) -> None:
        self.runs_dir = os.path.abspath(runs_dir)
        self.stale_after_s = stale_after_s
        self.allow_control = allow_control
        self.secrets = secrets  # files a run page never shows (tuner.capture.secrets)
        self.token = _secrets.token_urlsafe(24)
        self.mirror = RunsMirror(self.runs_dir, stale_after_s)
        self.book = SweepBook(self.mirror)
        self.views: OrderedDict[str, SweepView] = OrderedDict()
        self.live_runs: OrderedDict[str, LiveRun] = OrderedDict()
        self.lock = threading.RLock()
        self.refreshed = 0.0
        self.sweeps_cache: tuple[int, list[dict[str, Any]]] | None = None

    def refresh(self, force: bool = False) -> None:
        with self.lock:
            if not force and time.monotonic() - self.refreshed < REFRESH_S:
                return
            changed = self.mirror.refresh()
            for view in self.views.values():
                view.update(changed)
            self.refreshed = time.monotonic()

    # the sweeps page -------------------------------------------------------------------------------

    def sweeps(self, since: int) -> dict[str, Any]:
        with self.lock:
            self.refresh()
            version = self.mirror.version
            if since == version and self.sweeps_cache is not None and self.sweeps_cache[0] == version \
                    and not any(s["state"] == "running" for s in self.sweeps_cache[1]):
                return {"version": version, "unchanged": True}
            if self.sweeps_cache is None or self.sweeps_cache[0] != version or \
                    any(s["state"] == "running" for s in self.sweeps_cache[1]):
                self.sweeps_cache = (version, [self.book.summary(s) for s in self.book.ids()])
            return {"version": version, "sweeps": self.sweeps_cache[1]}

    # one sweep ---------------------------------------------------------------------------------------

    def view(self, sweep_id: str) -> SweepView:
        with self.lock:
            self.refresh()
            view = self.views.get(sweep_id)
            if view is None:
                if sweep_id not in self.book.ids():
                    raise HttpError(404, f"no sweep '{sweep_id}' in {self.runs_dir}")
                view = SweepView(self.book, sweep_id)
                view.update()
                self.views[sweep_id] = view
                while len(self.views) > SWEEP_VIEWS_KEPT:
                    self.views.popitem(last=False)
            self.views.move_to_end(sweep_id)
            return view

    def sweep_changes(self, sweep_id: str, since: int, epoch: str | None, wait_s: float = 0.0) -> dict[str, Any]:
        """What changed since `since`; with `wait_s`, held until something did (a refresh every REFRESH_S) or
        `wait_s` passed (long polling: a report reaches a waiting page one refresh after it is written)."""
        deadline = time.monotonic() + min(max(wait_s, 0.0), MAX_WAIT_S)
        while True:
            with self.lock:
                answer = self.view(sweep_id).changes(since, epoch)
            if _news(answer) or time.monotonic() >= deadline:
                return answer
            time.sleep(min(REFRESH_S, max(0.0, deadline - time.monotonic())))

    def filter(self, sweep_id: str, expression: str) -> dict[str, Any]:
        """The sweep's runs that match a `tune ls --filter` expression (the same grammar and errors)."""
        from tuner.runs.listing import ls_runs

        with self.lock:
            names = set(self.mirror.by_sweep.get(sweep_id, ()))
        frame = ls_runs(subset=expression, order=None, runs_dir=self.runs_dir)
        matched = [os.path.basename(os.path.normpath(str(p))) for p in frame["run_dir"]] if len(frame) else []
        return {"expression": expression, "runs": [n for n in matched if n in names]}

    # one run -----------------------------------------------------------------------------------------

    def live_run(self, name: str) -> LiveRun:
        with self.lock:
            live = self.live_runs.get(name)
            if live is None:
                live = LiveRun(os.path.join(self.runs_dir, name), self.stale_after_s, POLL_MS // 2,
                               endpoint=f"/api/run/{name}", secrets=self.secrets)
                self.live_runs[name] = live
                while len(self.live_runs) > LIVE_RUNS_KEPT:
                    self.live_runs.popitem(last=False)
            self.live_runs.move_to_end(name)
            return live

    # pages -------------------------------------------------------------------------------------------

    def page_data(self) -> dict[str, Any]:
        from tuner.store.status import TrialState

        return {"runs_dir": self.runs_dir, "control": self.allow_control,
                "token": self.token if self.allow_control else None,
                # the trial states the counts have, in the order every view lists them (tuner.store.status)
                "trial_states": [state.value for state in TrialState]}

    def sweeps_page(self) -> str:
        data = {**self.page_data(), "endpoint": "/api/sweeps", "interval_ms": SWEEPS_POLL_MS}
        return render_page("sweeps", "Sweeps", data, scripts=SCRIPTS)

    def sweep_page(self, sweep_id: str) -> str:
        self.view(sweep_id)  # 404 for an unknown sweep
        data = {**self.page_data(), "sweep": sweep_id, "endpoint": f"/api/sweep/{sweep_id}",
                "filter_endpoint": f"/api/sweep/{sweep_id}/filter", "interval_ms": POLL_MS, "wait_s": 10,
                "nav": [{"href": "/", "text": "Sweeps"}, {"text": sweep_id}]}
        return render_page("sweep", f"Sweep {sweep_id}", data, scripts=SCRIPTS)

    def run_page(self, name: str) -> str:
        live = self.live_run(name)
        with self.lock:
            row = self.mirror.rows.get(name) or {}
        nav: list[dict[str, Any]] = [{"href": "/", "text": "Sweeps"}]
        if row.get("sweep") is not None:
            nav.append({"href": f"/sweep/{row['sweep']}", "text": str(row["sweep"])})
        nav.append({"text": name})
        return live.page({"nav": nav}, scripts=SCRIPTS)


class DashboardServer:
    """`tune dashboard`: serves a runs directory's sweeps on 127.0.0.1; `start()` returns the URL."""

    def __init__(self, runs_dir: str, stale_after_s: float = 60.0, port: int = 0, allow_control: bool = False,
                 secrets: SecretRule = DEFAULT_RULE) -> None:
        self.dashboard = Dashboard(runs_dir, stale_after_s, allow_control, secrets)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def allowed_hosts(self) -> frozenset[str]:
        return frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"})

    def start(self) -> str:
        self.dashboard.refresh(force=True)  # the first look (the listing index) before the first page
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="tuner-dashboard", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> DashboardServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # routing -----------------------------------------------------------------------------------------

    def get(self, path: str, query: dict[str, list[str]]) -> tuple[str, str]:
        """(content type, body) of a GET."""
        board = self.dashboard
        parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
        if not parts:
            return "text/html; charset=utf-8", board.sweeps_page()
        if parts == ["api", "sweeps"]:
            return _json(board.sweeps(_int(query, "v")))
        if len(parts) == 2 and parts[0] == "sweep":
            return "text/html; charset=utf-8", board.sweep_page(_sweep_id(parts[1]))
        if len(parts) == 3 and parts[:2] == ["api", "sweep"]:
            epoch = query["epoch"][0] if query.get("epoch") else None
            return _json(board.sweep_changes(_sweep_id(parts[2]), _int(query, "since"), epoch, _int(query, "wait")))
        if len(parts) == 4 and parts[:2] == ["api", "sweep"] and parts[3] == "filter":
            expression = (query.get("q") or [""])[0]
            try:
                return _json(board.filter(_sweep_id(parts[2]), expression))
            except TunerError as exc:  # an answer, not a failure: the page shows the line while the user types
                return _json({"expression": expression, "runs": None, "error": str(exc)})
        if len(parts) == 2 and parts[0] == "run":
            return "text/html; charset=utf-8", board.run_page(self._run_name(parts[1]))
        if len(parts) == 3 and parts[:2] == ["api", "run"]:
            live = board.live_run(self._run_name(parts[2]))
            return _json(live.update(_int(query, "since"), _int(query, "gen")))
        raise HttpError(404, "not found")

    def post(self, path: str, headers: Any) -> dict[str, Any]:
        board = self.dashboard
        if not board.allow_control:
            raise HttpError(403, "this dashboard is read-only: start it with `tune dashboard --allow-control` to "
                                 "stop or resume sweeps")
        origin = headers.get("Origin")
        if origin is not None and origin not in {f"http://{host}" for host in self.allowed_hosts}:
            raise HttpError(403, f"requests from {origin} are not accepted")
        token = headers.get(TOKEN_HEADER) or ""
        if not _secrets.compare_digest(token.encode(), board.token.encode()):
            raise HttpError(403, "missing or wrong control token: reload the page")
        parts = [unquote(p) for p in path.strip("/").split("/")]
        action: Callable[[], control.Done] | None = None
        if len(parts) == 4 and parts[:2] == ["api", "sweep"] and parts[3] in ("stop", "resume"):
            sweep_id = _sweep_id(parts[2])
            if parts[3] == "stop":
                action = functools.partial(control.stop_sweep, board.runs_dir, sweep_id)
            else:
                action = functools.partial(control.resume_sweep, board.runs_dir, sweep_id)
        elif len(parts) == 6 and parts[:2] == ["api", "sweep"] and parts[3] == "run" and parts[5] == "stop":
            action = functools.partial(control.stop_trial, board.runs_dir, self._run_name(parts[4]),
                                       _sweep_id(parts[2]))
        if action is None:
            raise HttpError(404, "not found")
        try:
            done = action()
        except (control.ControlError, TunerError) as exc:
            raise HttpError(409, str(exc)) from None
        log.info("%s", done.message)
        board.refresh(force=True)
        return {"ok": True, "message": done.message}

    def _run_name(self, name: str) -> str:
        if not is_plain_name(name) or not RunPaths(os.path.join(self.dashboard.runs_dir, name)).is_run():
            raise HttpError(404, f"no run '{name}' in {self.dashboard.runs_dir}")
        return name


def _news(answer: dict[str, Any]) -> bool:
    # the front (like importance) may be computed a refresh after the rows it follows were sent (PARETO_EVERY_S):
    # it alone is news, or a waiting page would get it only when its wait ran out
    return bool(answer["full"] or answer["rows"] or answer["removed"] or answer["curves"]
                or {"summary", "progress", "importance", "pareto"} & answer.keys())


def _sweep_id(text: str) -> str:
    try:
        sweep_dir("/", text)  # the journal's own rule for a sweep id (one plain name)
    except TunerError:
        raise HttpError(404, f"'{text}' is not a sweep id") from None
    return text


def _int(query: dict[str, list[str]], key: str) -> int:
    try:
        return int((query.get(key) or ["0"])[0])
    except ValueError:
        return 0


def _json(data: Any) -> tuple[str, str]:
    return "application/json", page_json(data)


def _handler(server: DashboardServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: one connection for a page's polls

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self._answer(lambda url: server.get(url.path, parse_qs(url.query)))

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(min(length, 1 << 16))  # the body is not used; read so the connection stays usable
            self._answer(lambda url: _json(server.post(url.path, self.headers)))

        def _answer(self, work: Callable[[Any], tuple[str, str]]) -> None:
            url = urlsplit(self.path)
            try:
                host = (self.headers.get("Host") or "").strip().lower()
                if host not in server.allowed_hosts:
                    log.warning("refused a request for Host %r (expected %s)", host,
                                " or ".join(sorted(server.allowed_hosts)))
                    raise HttpError(403, "this dashboard answers only at "
                                         + " or ".join(f"http://{h}/" for h in sorted(server.allowed_hosts)))
                kind, body = work(url)
                self._send(200, kind, body)
            except HttpError as exc:
                self._send(exc.status, "application/json", page_json({"error": str(exc)}))
            except (BrokenPipeError, ConnectionResetError):
                pass
            except Exception as exc:  # a bug must not kill the server: the page says so, the log has the trace
                log.exception("dashboard request %s failed", url.path)
                try:
                    self._send(500, "application/json", page_json({"error": f"{exc.__class__.__name__}: {exc}"}))
                except (BrokenPipeError, ConnectionResetError):
                    pass

        def _send(self, code: int, kind: str, body: str) -> None:
            payload = body.encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("X-Frame-Options", "DENY")
            self.send_header("Referrer-Policy", "no-referrer")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # the request log, at debug level
            log.debug("%s %s", self.address_string(), format % args)

    return Handler


