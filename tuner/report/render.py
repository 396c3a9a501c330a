"""Page data -> one self-contained HTML file (vendored uPlot + our page script inlined, data as JSON).

Safety: the data travels in `<script type="application/json">` with every `<` written as `\\u003c`, so no
value can close the tag; the page script builds the DOM with textContent only; and a Content-Security-Policy
allows exactly the two inline scripts (by hash) and no network access beyond the page's own origin (the live
view's JSON endpoint), so even a rendering bug could not run an injected script or load anything remotely.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Sequence

from tuner.errors import TunerError
from tuner.report.data import json_safe
from workers.files import atomic_write_text


@lru_cache(maxsize=None)
def asset(name: str) -> str:
    return resources.files("tuner.report").joinpath("assets").joinpath(name).read_text(encoding="utf-8")


def _script_hash(code: str) -> str:
    digest = hashlib.sha256(code.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def page_json(data: Any) -> str:
    """JSON that cannot break out of its script tag (`<` only ever appears inside JSON strings)."""
    text = json.dumps(json_safe(data), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render_page(kind: str, title: str, data: dict[str, Any], scripts: Sequence[str] = ()) -> str:
    """The whole page as a string; `kind` is run, compare or report (the page script switches on it), or a kind
    that one of `scripts` (further assets, run after app.js in the same script: `dashboard.js`) renders."""
    uplot, app = asset("uPlot.iife.min.js"), "\n".join([asset("app.js"), *map(asset, scripts)])
    csp = ("default-src 'none'; "
           f"script-src {_script_hash(uplot)} {_script_hash(app)}; "
           "style-src 'unsafe-inline'; img-src data:; connect-src 'self'; "
           "base-uri 'none'; form-action 'none'")
    payload = page_json({"kind": kind, "title": title, **data})
    inserted = {"%CSP%": html.escape(csp, quote=False).replace('"', "&quot;"), "%TITLE%": html.escape(title),
                "%CSS%": asset("uPlot.min.css") + "\n" + asset("app.css"), "%DATA%": payload, "%UPLOT%": uplot,
                "%APP%": app}
    # one pass over the template: a marker is replaced where the template has it, never inside what was inserted
    # (a run named `%DATA%` or `%CSS%` is its title, not a second place for the data or the styles)
    return re.sub("%(?:CSP|TITLE|CSS|DATA|UPLOT|APP)%", lambda match: inserted[match.group(0)], asset("page.html"))


def write_page(path: str, text: str, private: bool = False) -> str:
    """Write the page (temp file and rename: a link at `path` is replaced, never followed); returns its path.

    `private`: created 0600, for the user's own pages folder (tuner.report.views_dir); otherwise as any new file
    (0666 less the umask), for a place the user named. The mode is given at creation, never by a chmod."""
    target = os.path.abspath(path)
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        atomic_write_text(target, text, mode=0o600 if private else 0o666)
    except OSError as exc:
        raise TunerError(f"cannot write the page '{target}': {exc.strerror or exc}; give a file in a folder you can "
                         "write to (-o FILE, or filename=)") from None
    return target
