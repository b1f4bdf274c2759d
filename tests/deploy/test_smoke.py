"""scripts/deploy/smoke_test.py against a real local HTTP server that answers like a
deployed RailSaaS (and variants that break one page at a time)."""

from __future__ import annotations

import os
import socket
import sys

import pytest

from tests.deploy.helpers import SCRIPTS, Reply, Request, run_script

LOGIN = """<!doctype html><html><head><title>Log in</title></head><body>
<article class="auth-card"><h1>Log in</h1>
<form method="post" action="/login" novalidate>
  <input id="csrf_token" name="csrf_token" type="hidden" value="x">
  <input id="email" name="email" type="email" required>
  <input id="password" name="password" type="password" required>
  <input id="submit" name="submit" type="submit" value="Log in">
</form></article></body></html>"""
CATALOG = """<!doctype html><html><body><h1>Templates</h1>
<form class="catalog-filter" role="search" method="get"><input type="search" name="q"></form>
<div id="catalog-results"><div class="grid-cards"></div></div></body></html>"""
READY = {
    "status": "ready",
    "checks": {
        "database": {"ok": True, "ms": 1.2},
        "redis": {"ok": True, "ms": 0.4},
        "broker": {"ok": True, "ms": 0.5},
    },
}
OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "RailSaaS API", "version": "1"},
    "paths": {"/api/templates": {"get": {}}, "/api/instances": {"get": {}}},
}


def healthy(overrides: dict[str, Reply] | None = None):
    """The four pages as the app serves them; `overrides` replaces some by path."""
    pages = {
        "/readyz": Reply(200, READY),
        "/login": Reply(200, LOGIN),
        "/templates/": Reply(200, CATALOG),
        "/api/openapi.json": Reply(200, OPENAPI),
        **(overrides or {}),
    }

    def handler(request: Request) -> Reply:
        return pages.get(request.path.split("?")[0], Reply(404, "<h1>Not found</h1>"))

    return handler


def smoke(url: str, *args: str):
    env = {"PATH": os.environ.get("PATH", "")}
    return run_script(
        "smoke_test.py", url, "--interval", "0.05", "--request-timeout", "5", *args, env=env
    )


def test_a_healthy_deployment_passes(local_server):
    local_server.handler = healthy()
    done = smoke(local_server.url, "--timeout", "0")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"smoke test passed: {local_server.url}" in done.stdout
    assert "OpenAPI 3.1.0, 2 paths" in done.stdout
    paths = [r.path for r in local_server.requests]
    assert paths == ["/readyz", "/login", "/templates/", "/api/openapi.json"]
    assert all(r.method == "GET" for r in local_server.requests)


def test_the_url_may_come_from_the_environment_and_end_with_a_slash(local_server):
    local_server.handler = healthy()
    env = {"PATH": os.environ.get("PATH", ""), "SMOKE_URL": local_server.url + "/"}
    done = run_script("smoke_test.py", "--timeout", "0", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert local_server.requests[0].path == "/readyz"


BROKEN = [
    pytest.param(
        {
            "/readyz": Reply(
                503,
                {
                    "status": "unavailable",
                    "checks": {
                        "database": {"ok": True, "ms": 1},
                        "redis": {"ok": False, "ms": 2000, "error": "timeout"},
                    },
                },
            )
        },
        "/readyz: HTTP 503: failing redis",
        id="readyz-503",
    ),
    pytest.param(
        {"/readyz": Reply(200, {"status": "starting"})},
        "/readyz: status is 'starting'",
        id="readyz-not-ready",
    ),
    pytest.param(
        {"/readyz": Reply(502, "<html>Application failed to respond</html>")},
        "/readyz: HTTP 502",
        id="readyz-edge-502",
    ),
    pytest.param(
        {"/login": Reply(200, "<html><body><h1>Log in</h1></body></html>")},
        "/login: no sign-in form",
        id="login-without-form",
    ),
    pytest.param(
        {"/login": Reply(200, LOGIN.replace('type="password"', 'type="text"'))},
        "/login: no sign-in form",
        id="login-without-password-field",
    ),
    pytest.param(
        {"/login": Reply(200, LOGIN.replace('method="post"', 'method="get"'))},
        "/login: no sign-in form",
        id="login-form-not-post",
    ),
    pytest.param(
        {"/login": Reply(500, "<h1>Internal Server Error</h1>")},
        "/login: HTTP 500, expected 200",
        id="login-500",
    ),
    pytest.param(
        {"/templates/": Reply(500, "<h1>Internal Server Error</h1>")},
        "/templates/: HTTP 500, expected 200",
        id="catalog-500",
    ),
    pytest.param(
        {"/templates/": Reply(200, "<html><body>Templates</body></html>")},
        "/templates/: the page has no catalog results list",
        id="catalog-empty-page",
    ),
    pytest.param(
        {"/templates/": Reply(200, {"templates": []})},
        "/templates/: Content-Type application/json, expected text/html",
        id="catalog-not-html",
    ),
    pytest.param(
        {"/api/openapi.json": Reply(200, "<html>Not JSON</html>")},
        "/api/openapi.json: not JSON",
        id="openapi-not-json",
    ),
    pytest.param(
        {"/api/openapi.json": Reply(200, {"swagger": "2.0", "paths": {"/a": {}}})},
        "/api/openapi.json: openapi is '', expected 3.x",
        id="openapi-swagger-2",
    ),
    pytest.param(
        {"/api/openapi.json": Reply(200, {"openapi": "3.1.0", "paths": {}})},
        "/api/openapi.json: the document has no paths",
        id="openapi-no-paths",
    ),
    pytest.param(
        {"/api/openapi.json": Reply(404, "<h1>Not found</h1>")},
        "/api/openapi.json: HTTP 404, expected 200",
        id="openapi-404",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), BROKEN)
def test_one_broken_page_fails_the_smoke_test_and_is_named(local_server, overrides, message):
    local_server.handler = healthy(overrides)
    done = smoke(local_server.url, "--timeout", "0")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "smoke test FAILED" in done.stdout
    assert "1 of 4 checks still failing" in done.stdout
    failures = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failures) == 1, done.stdout
    assert message in failures[0], done.stdout


def test_it_retries_while_the_deploy_rolls_out(local_server):
    """The first rounds see the old release's edge error; the check passes once it is up."""
    ready = healthy()
    seen = {"readyz": 0}

    def rolling_out(request: Request) -> Reply:
        if request.path == "/readyz":
            seen["readyz"] += 1
            if seen["readyz"] <= 2:
                return Reply(503, {"status": "unavailable", "checks": {}})
        return ready(request)

    local_server.handler = rolling_out
    done = smoke(local_server.url, "--timeout", "30")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "attempt 1: /readyz: HTTP 503" in done.stdout
    assert "smoke test passed" in done.stdout
    assert "(attempt 3)" in done.stdout
    assert seen["readyz"] == 3


def test_it_gives_up_after_the_timeout(local_server):
    local_server.handler = healthy({"/readyz": Reply(503, {"status": "unavailable"})})
    done = smoke(local_server.url, "--timeout", "0.5")
    assert done.returncode == 1
    rounds = [r for r in local_server.requests if r.path == "/readyz"]
    assert len(rounds) >= 2, "it should have retried at least once within the timeout"
    assert "smoke test FAILED" in done.stdout
    assert "/readyz: HTTP 503" in done.stdout


def test_nothing_listening_is_a_clear_failure():
    with socket.socket() as s:  # a port that was free a moment ago, and nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = smoke(f"http://127.0.0.1:{port}", "--timeout", "0")
    assert done.returncode == 1
    assert "4 of 4 checks still failing" in done.stdout
    assert "/readyz: no answer" in done.stdout


@pytest.mark.parametrize("url", ["ftp://example.com", "file:///etc/passwd", "example.com"])
def test_only_http_urls_are_accepted(url):
    done = run_script("smoke_test.py", url, "--timeout", "0", env={})
    assert done.returncode != 0
    assert "expected an http(s) URL" in done.stderr


def test_no_url_at_all_is_a_usage_error():
    done = run_script("smoke_test.py", env={})
    assert done.returncode == 2
    assert "no URL" in done.stderr


def test_it_runs_on_the_standard_library_alone():
    """The deploy job runs it on a bare runner: no third-party import may creep in."""
    done = run_script("smoke_test.py", "--help", env={})
    assert done.returncode == 0
    source = (SCRIPTS / "smoke_test.py").read_text()
    imported = {
        line.split()[1].split(".")[0]
        for line in source.splitlines()
        if line.startswith(("import ", "from "))
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
