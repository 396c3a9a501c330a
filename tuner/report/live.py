"""The live run view: a small local HTTP server whose page polls a JSON endpoint and appends new steps.

Bound to 127.0.0.1 on a free port chosen by the OS. The page asks for the steps after the ones it has
(`?since=N&gen=G`); the server tails metrics.jsonl by byte offset, so each poll reads only what is new.

Only requests addressed to this server by name are answered: the Host header must be `127.0.0.1:PORT` or
`localhost:PORT`, else 403. Binding to loopback keeps other machines out, not other web pages: a page from
anywhere can point its own host name at 127.0.0.1 (DNS rebinding) and then read the run's output, flags and
source through the browser, and such requests carry that page's host name.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tuner.capture.secrets import DEFAULT_RULE, SecretRule
from tuner.report.data import (
    chart_groups,
    console_output,
    error_fields,
    flag_page,
    json_safe,
    metric_names,
    metrics_columns,
    properties_page,
    run_card,
    run_data,
    shown_artifacts,
    tensorboard_page,
)
from tuner.report.render import page_json, render_page
from tuner.runs.aggregate import effective_status, last_values
from tuner.store.files import read_run
from tuner.store.layout import RunPaths
from tuner.store.status import RunStatus
from workers.files import numbers_from_text

#: how often the page polls (tfruns polls every 1000 ms)
POLL_INTERVAL_MS = 500
ENDPOINT = "/api/metrics"


class MetricsTail:
    """Complete lines of a growing metrics.jsonl, read incrementally; a rewritten file is read again."""

    def __init__(self, path: str, fallback: str | None = None) -> None:
        self.path = path
        #: read while `path` does not exist (printed metrics parsed while the run runs)
        self.primary, self.fallback = path, fallback
        self.offset = 0
        self.identity: tuple[int, int] | None = None
        self.rows: list[dict[str, Any]] = []
        self.generation = 0
        self._lock = threading.Lock()

    def poll(self) -> list[dict[str, Any]]:
        with self._lock:
            if self.fallback is not None:
                self.path = self.primary if os.path.exists(self.primary) or not os.path.exists(self.fallback) \
                    else self.fallback
            try:
                stat = os.stat(self.path)
            except FileNotFoundError:
                return self.rows
            identity = (stat.st_dev, stat.st_ino)
            if identity != self.identity or stat.st_size < self.offset:
                # replaced atomically (write_run_metadata("metrics", frame)) or truncated: read it again
                old = len(self.rows)
                self.identity, self.offset, self.rows = identity, 0, []
                self._read_new()
                if len(self.rows) < old:
                    self.generation += 1
            else:
                self._read_new()
            return self.rows

    def _read_new(self) -> None:
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        end = chunk.rfind(b"\n")
        if end < 0:
            return  # no complete line yet: a torn line waits for its end
        self.offset += end + 1
        for line in chunk[:end].split(b"\n"):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line.decode("utf-8", errors="replace"))
            except ValueError:
                continue
            if isinstance(record, dict):
                self.rows.append(numbers_from_text(record))  # "nan"/"inf" as numbers (the page shows gaps)


class LiveRun:
    """One run's live view: its page, whose script polls `endpoint`, and the updates it asks for (the steps after
    the ones it has). Served by LiveRunServer (`tune view --live`) and by `tune dashboard` for each run."""

    def __init__(self, run_dir: str, stale_after_s: float = 60.0, interval_ms: int = POLL_INTERVAL_MS,
                 endpoint: str = ENDPOINT, secrets: SecretRule = DEFAULT_RULE) -> None:
        self.run_dir = run_dir
        self.stale_after_s = stale_after_s
        self.interval_ms = interval_ms
        self.endpoint = endpoint
        self.secrets = secrets
        self.tail = MetricsTail(RunPaths(run_dir).metrics_jsonl, RunPaths(run_dir).printed_metrics_jsonl)

    def page(self, extra: dict[str, Any] | None = None, scripts: tuple[str, ...] = ()) -> str:
        """The page; `extra` goes into the page's data beside the run (the dashboard's navigation)."""
        rows = self.tail.poll()
        page = run_data(self.run_dir, self.stale_after_s, secrets=self.secrets)
        page["metrics"] = metrics_columns(rows)
        page["charts"] = chart_groups(metric_names(rows))
        live = {"endpoint": self.endpoint, "interval_ms": self.interval_ms, "since": len(rows),
                "generation": self.tail.generation}
        return render_page("run", f"Run {page['name']} (live)", {"run": page, "live": live, **(extra or {})},
                           scripts=scripts)

    def update(self, since: int, generation: int) -> dict[str, Any]:
        rows = self.tail.poll()
        reset = generation != self.tail.generation or since > len(rows)
        start = 0 if reset else max(0, since)
        data = read_run(self.run_dir, with_metrics=False)
        data = dataclasses.replace(data, metrics=rows)
        now = time.time()
        status = effective_status(data.run, now, self.stale_after_s)
        done = status != RunStatus.RUNNING.value
        last, _ = last_values(rows)
        new = metrics_columns(rows[start:])
        update: dict[str, Any] = {
            "status": status, "done": done, "total": len(rows), "reset": reset, "generation": self.tail.generation,
            "steps": new["steps"], "series": new["series"], "card": run_card(data, now, self.stale_after_s),
            "final_metrics": json_safe({k: v for k, v in last.items() if k not in ("step", "epoch", "timestamp")}),
            **flag_page(data), "evaluation": json_safe(data.evaluation), **properties_page(data.properties),
        }
        if done:
            update.update(error=error_fields(data), **console_output(data.paths),
                          artifacts=shown_artifacts(data.paths, self.secrets),
                          tensorboard=tensorboard_page(data.paths, self.secrets))
        return update


class LiveRunServer:
    """Serves one run's view at `/` and its new steps at `/api/metrics`; `start()` returns the URL."""

    def __init__(self, run_dir: str, stale_after_s: float = 60.0, port: int = 0,
                 interval_ms: int = POLL_INTERVAL_MS, secrets: SecretRule = DEFAULT_RULE) -> None:
        self.run_dir = run_dir
        self.live = LiveRun(run_dir, stale_after_s, interval_ms, secrets=secrets)
        self.tail = self.live.tail
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/"

    def allows_host(self, header: str | None) -> bool:
        """The request's Host header names this server: 127.0.0.1 or localhost, with its port."""
        port = self._httpd.server_address[1]
        return (header or "").strip().lower() in (f"127.0.0.1:{port}", f"localhost:{port}")

    def start(self) -> str:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="tuner-live-view", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "LiveRunServer":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # pages -----------------------------------------------------------------------------------------

    def page(self) -> str:
        return self.live.page()

    def update(self, since: int, generation: int) -> dict[str, Any]:
        return self.live.update(since, generation)


def _handler(server: LiveRunServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            url = urlsplit(self.path)
            try:
                if not server.allows_host(self.headers.get("Host")):  # another site's page (DNS rebinding)
                    self._send(403, "text/plain; charset=utf-8", "forbidden: open this view at its 127.0.0.1 address")
                elif url.path in ("/", "/index.html"):
                    self._send(200, "text/html; charset=utf-8", server.page())
                elif url.path == ENDPOINT:
                    query = parse_qs(url.query)
                    since = _int(query.get("since", ["0"])[0])
                    generation = _int(query.get("gen", ["0"])[0])
                    self._send(200, "application/json", page_json(server.update(since, generation)))
                else:
                    self._send(404, "text/plain; charset=utf-8", "not found")
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _send(self, code: int, kind: str, body: str) -> None:
            payload = body.encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the terminal shows the URL only
            return

    return Handler


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0
