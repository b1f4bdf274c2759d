"""Sentry: with SENTRY_DSN set, an unexpected error reaches Sentry (here a local server that
speaks Sentry's envelope endpoint) with the user and workspace, and with no secret in it."""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support import login_as, wait_until


class SentrySink:
    """Receives envelopes at /api/<project>/envelope/ like sentry.io, and keeps them."""

    def __init__(self) -> None:
        self.envelopes: list[bytes] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802  (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                elif encoding == "br":
                    import brotli

                    body = brotli.decompress(body)
                sink.envelopes.append(body)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        out = []
        for envelope in self.envelopes:
            lines = envelope.split(b"\n")
            for i, line in enumerate(lines[:-1]):
                try:
                    header = json.loads(line)
                except ValueError:
                    continue
                if isinstance(header, dict) and header.get("type") == "event":
                    out.append(json.loads(lines[i + 1]))
        return out

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def sentry_app(app):
    import sentry_sdk

    from railsaas.app import create_app

    sink = SentrySink()
    dsn = f"http://publickey@127.0.0.1:{sink.port}/1"
    other = create_app({"TESTING": True, "SENTRY_DSN": dsn, "DB_RECONFIGURE": False})

    @other.get("/boom-for-sentry")
    def boom():
        token = other.config["RAILWAY_API_TOKEN"]
        raise RuntimeError(f"Railway refused token {token}")

    try:
        yield other, sink
    finally:
        sentry_sdk.flush(timeout=5)
        sentry_sdk.init()  # no DSN: reporting off again for the rest of the suite
        app.extensions["celery"].set_default()
        sink.close()


def test_unexpected_errors_reach_sentry_with_user_and_workspace_and_no_secrets(sentry_app, factory):
    import sentry_sdk

    app, sink = sentry_app
    user, tenant = factory.workspace()
    client = app.test_client()
    login_as(app, client, user)
    resp = client.get("/boom-for-sentry")
    assert resp.status_code == 500
    sentry_sdk.flush(timeout=5)
    events = wait_until(
        sink.events, timeout=10, interval=0.05, message="an event at the Sentry sink"
    )
    event = events[0]
    raw = b"".join(sink.envelopes).decode("utf-8", "replace")
    assert app.config["RAILWAY_API_TOKEN"] not in raw
    assert "[REDACTED]" in raw
    assert event["user"] == {"id": str(user.id)}
    assert event["tags"]["workspace_id"] == str(tenant.id)
    assert event["tags"]["request_id"] == resp.headers["X-Request-ID"]
    assert user.email not in raw


def test_without_a_dsn_nothing_is_initialised(app):
    from railsaas.observability import error_reporting

    assert app.config["SENTRY_DSN"] == ""
    assert error_reporting.init_app(app) is False
