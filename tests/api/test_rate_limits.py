"""Rate limits per credential and per client address: X-RateLimit-* headers on every /api
answer, and 429 with Retry-After and the JSON error once over."""

from __future__ import annotations

import pytest

from tests.support.api import bearer, make_token


@pytest.fixture
def limits(app):
    """Set the limits for one test (the suite runs with them out of reach)."""
    keys = ("API_RATE_LIMIT_PER_IP", "API_RATE_LIMIT_PER_TOKEN", "API_RATE_WINDOW_SECONDS")
    saved = {k: app.config[k] for k in keys}

    def set_limits(per_ip=1000, per_token=1000, window=60):
        app.config.update(
            API_RATE_LIMIT_PER_IP=per_ip,
            API_RATE_LIMIT_PER_TOKEN=per_token,
            API_RATE_WINDOW_SECONDS=window,
        )

    yield set_limits
    app.config.update(saved)


def _from(ip: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": ip}}


def test_every_api_answer_carries_rate_limit_headers(client, limits):
    limits(per_ip=50)
    first = client.get("/api/openapi.json", **_from("10.9.0.1"))
    second = client.get("/api/nothing", **_from("10.9.0.1"))
    assert first.headers["X-RateLimit-Limit"] == "50"
    assert first.headers["X-RateLimit-Remaining"] == "49"
    assert second.headers["X-RateLimit-Remaining"] == "48"
    assert 1 <= int(first.headers["X-RateLimit-Reset"]) <= 60
    assert "X-RateLimit-Limit" not in client.get("/").headers  # pages are not the API


def test_one_address_over_its_limit_gets_429_with_retry_after(client, limits):
    limits(per_ip=3, window=60)
    answers = [
        client.post(
            "/api/auth/login", json={"email": "a@b.co", "password": "x"}, **_from("10.9.0.2")
        )
        for _ in range(4)
    ]
    assert [r.status_code for r in answers[:3]] == [401, 401, 401]
    over = answers[3]
    assert over.status_code == 429
    assert over.json["error"]["code"] == "rate_limited"
    assert over.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    assert over.headers["Retry-After"] == over.headers["X-RateLimit-Reset"]
    # Another address is not held back.
    assert client.get("/api/openapi.json", **_from("10.9.0.3")).status_code == 200


def test_one_token_over_its_limit_gets_429_while_another_goes_on(client, factory, limits):
    limits(per_token=2)
    user, tenant = factory.workspace()
    busy, _ = make_token(user, tenant, name="busy")
    calm, _ = make_token(user, tenant, name="calm")
    codes = [client.get("/api/users/profile", headers=bearer(busy)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    over = client.get("/api/users/profile", headers=bearer(busy))
    assert over.status_code == 429
    assert over.headers["X-RateLimit-Limit"] == "2"
    assert "Retry-After" in over.headers
    calm_answer = client.get("/api/users/profile", headers=bearer(calm))
    assert calm_answer.status_code == 200
    assert calm_answer.headers["X-RateLimit-Remaining"] == "1"


def test_headers_report_the_tighter_of_the_two_limits(client, factory, limits):
    limits(per_ip=100, per_token=5)
    user, tenant = factory.workspace()
    secret, _ = make_token(user, tenant)
    resp = client.get("/api/users/profile", headers=bearer(secret), **_from("10.9.0.4"))
    assert resp.headers["X-RateLimit-Limit"] == "5"
    assert resp.headers["X-RateLimit-Remaining"] == "4"


def test_a_new_window_starts_afresh(client, factory, limits, redis_conn):
    limits(per_ip=1, window=60)
    assert client.get("/api/openapi.json", **_from("10.9.0.5")).status_code == 200
    assert client.get("/api/openapi.json", **_from("10.9.0.5")).status_code == 429
    redis_conn.forget("throttle:api:ip/10.9.0.5/*")  # the window ends
    assert client.get("/api/openapi.json", **_from("10.9.0.5")).status_code == 200


def test_limits_are_skipped_not_fatal_when_redis_is_down(client, limits, app):
    limits(per_ip=1)
    saved = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        for _ in range(3):
            resp = client.get("/api/openapi.json", **_from("10.9.0.6"))
            assert resp.status_code == 200
            assert "X-RateLimit-Limit" not in resp.headers
    finally:
        app.config["REDIS_URL"] = saved
