"""Static files under fingerprinted URLs, so browsers may keep them for a year.

Templates link every static file through `static_url("css/app.css")`, which gives
`/static/css/app.css?v=<hash of the file's content>`. A response to a URL whose `v` is the
file's current hash is cached for a year (`immutable`): a deploy that changes the file changes
its URL, so no browser keeps a stale stylesheet. Any other static request (no `v`, or an old
one from a page rendered before the deploy) must revalidate (`no-cache`, with an ETag, so it
costs a 304).

The hash is computed at run time (and again when the file's size or mtime changes), not by a
build step: the vendor files that `npm run build` copies in (docs/deploy.md) need no manifest.
"""

from __future__ import annotations

import hashlib
import os

from flask import Flask, Response, request, url_for
from werkzeug.security import safe_join

LONG_CACHE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


class _Fingerprints:
    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._known: dict[str, tuple[tuple[int, int], str]] = {}

    def of(self, filename: str) -> str | None:
        """The short content hash of a static file, or None when there is no such file."""
        path = safe_join(self.folder, filename)
        if path is None:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        known = self._known.get(filename)
        if known and known[0] == stamp:
            return known[1]
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        self._known[filename] = (stamp, digest)
        return digest


def init_static_assets(app: Flask) -> None:
    fingerprints = _Fingerprints(app.static_folder or "")

    def static_url(filename: str) -> str:
        digest = fingerprints.of(filename)
        if digest is None:
            # A missing file (vendor assets not built) 404s either way; never break the page.
            return url_for("static", filename=filename)
        return url_for("static", filename=filename, v=digest)

    app.jinja_env.globals["static_url"] = static_url

    @app.after_request
    def _static_cache(response: Response) -> Response:
        if request.endpoint != "static" or response.status_code not in (200, 304):
            return response
        filename = (request.view_args or {}).get("filename", "")
        version = request.args.get("v")
        fresh = version is not None and version == fingerprints.of(filename)
        response.headers["Cache-Control"] = LONG_CACHE if fresh else REVALIDATE
        response.headers.pop("Expires", None)
        return response
