"""API tests: personal tokens made through the service (as the tokens page does), Bearer
headers, and the API's rate-limit counters cleared around each test."""

from __future__ import annotations

import pytest

from tests.support.api import make_token
from tests.support.redis import API_RATE_LIMITS


@pytest.fixture(autouse=True)
def _clear_rate_limits(redis_conn):
    redis_conn.forget(API_RATE_LIMITS)
    yield
    redis_conn.forget(API_RATE_LIMITS)


@pytest.fixture
def token_for():
    return make_token


@pytest.fixture(scope="session")
def api_server(app, servers):
    """The app on a real port (werkzeug in a thread), for clients in other processes."""
    import threading

    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs) -> None:  # thousands of fuzz requests
            return None

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(autouse=True)
def _fresh_catalog_cache(redis_conn):
    """The catalog is cached in Redis; each test's templates roll back with its transaction."""
    redis_conn.forget_catalog()
    yield
    redis_conn.forget_catalog()
