"""Per-IP limits on the forms anyone may post: sign-up, forgot-password and verification
resend (railsaas.platform.throttles). Over the limit the page shows the form again with a
clear message (429, Retry-After) and the API answers 429 with Retry-After and the JSON error;
nothing is created or sent."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from railsaas.accounts.auth import RESET_TASK
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Email, User
from tests.support import DEFAULT_PASSWORD
from tests.support.accounts import run_queued
from tests.support.redis import AUTH


@pytest.fixture
def limit(app, monkeypatch):
    """limit(SETTING, amount): lower one per-IP limit for this test."""
    return lambda name, amount: monkeypatch.setitem(app.config, name, amount)


@pytest.fixture
def visitor(new_browser):
    """visitor(ip) -> a fresh signed-out browser whose requests come from `ip`."""

    def make(ip: str):
        browser = new_browser()
        browser.client.environ_base["REMOTE_ADDR"] = ip
        return browser

    return make


def _user_exists(email: str) -> bool:
    with db.scope(SYSTEM) as s:
        return s.scalar(select(User).where(User.email == email)) is not None


def _emails(to: str, kind: str) -> int:
    with db.scope(SYSTEM) as s:
        return s.scalar(
            select(func.count())
            .select_from(Email)
            .where(Email.to_address == to, Email.kind == kind)
        )


def _sign_up(browser, email: str):
    return browser.post("/register", {"name": "New", "email": email, "password": DEFAULT_PASSWORD})


def test_the_signup_page_refuses_a_busy_address_clearly_and_creates_nobody(limit, visitor):
    limit("SIGNUPS_PER_IP_PER_HOUR", 2)
    for n in range(2):
        assert _sign_up(visitor("10.20.0.1"), f"ok{n}@example.com").status_code == 303
    over = _sign_up(visitor("10.20.0.1"), "third@example.com")
    assert over.status_code == 429
    assert "Too many sign-ups from your network. Try again in" in over.get_data(as_text=True)
    assert 1 <= int(over.headers["Retry-After"]) <= 3600
    assert not _user_exists("third@example.com")
    # Another address is not held back.
    assert _sign_up(visitor("10.20.0.2"), "elsewhere@example.com").status_code == 303


def test_the_api_and_the_page_share_the_signup_limit_and_the_api_answers_429(
    client, limit, visitor
):
    limit("SIGNUPS_PER_IP_PER_HOUR", 2)
    assert _sign_up(visitor("10.20.1.1"), "page@example.com").status_code == 303

    def api(email):
        return client.post(
            "/api/auth/register",
            json={"email": email, "password": DEFAULT_PASSWORD, "name": "New"},
            environ_base={"REMOTE_ADDR": "10.20.1.1"},
        )

    assert api("api@example.com").status_code == 202
    over = api("api2@example.com")
    assert over.status_code == 429
    assert over.json["error"]["code"] == "rate_limited"
    assert over.json["error"]["details"]["retry_after"] == int(over.headers["Retry-After"])
    assert 1 <= int(over.headers["Retry-After"]) <= 3600
    assert not _user_exists("api2@example.com")


def test_forgot_password_is_limited_per_address_and_sends_nothing_over_it(
    app, factory, limit, visitor
):
    limit("FORGOT_PER_IP_PER_HOUR", 2)
    users = [factory.user() for _ in range(3)]
    browser = visitor("10.20.2.1")
    for user in users[:2]:
        assert browser.post("/forgot", {"email": user.email}).status_code == 303
    over = browser.post("/forgot", {"email": users[2].email})
    assert over.status_code == 429
    assert "Too many password-reset requests" in over.get_data(as_text=True)
    assert int(over.headers["Retry-After"]) >= 1
    run_queued(app, RESET_TASK)  # the reset mail is sent by a task (constant-time /forgot)
    assert [_emails(u.email, "auth/reset_password") for u in users] == [1, 1, 0]
    assert visitor("10.20.2.2").post("/forgot", {"email": users[2].email}).status_code == 303


def test_verification_resend_is_limited_per_address(factory, limit, visitor, browser):
    limit("VERIFY_RESEND_PER_IP_PER_HOUR", 1)
    first, second = factory.user(email_verified=False), factory.user(email_verified=False)
    page = visitor("10.20.3.1")
    assert page.post("/verify/resend", {"email": first.email}).status_code == 303
    over = page.post("/verify/resend", {"email": second.email})
    assert over.status_code == 429
    assert "Too many requests for a new link" in over.get_data(as_text=True)
    assert int(over.headers["Retry-After"]) >= 1
    assert _emails(second.email, "auth/verify_email") == 0
    # The banner's button, signed in, from the same (test client's) address: the limit is
    # the address's, so it is spent after one.
    browser.login(second.email, DEFAULT_PASSWORD)
    assert browser.post("/verify/resend", page="/dashboard").status_code == 303
    refused = browser.post("/verify/resend", page="/dashboard")
    assert refused.status_code == 303
    with browser.client.session_transaction() as s:
        assert any(
            "Too many requests for a new link" in message for _, message in s.get("_flashes", [])
        )
    assert _emails(second.email, "auth/verify_email") == 1


def test_with_redis_down_signing_up_goes_on(app, client, limit, redis_conn):
    limit("SIGNUPS_PER_IP_PER_HOUR", 1)
    saved = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        for n in range(2):
            resp = client.post(
                "/api/auth/register",
                json={"email": f"down{n}@example.com", "password": DEFAULT_PASSWORD, "name": "New"},
                environ_base={"REMOTE_ADDR": "10.20.4.1"},
            )
            assert resp.status_code == 202
    finally:
        app.config["REDIS_URL"] = saved
    assert not list(redis_conn.scan_iter(AUTH))  # nothing was counted
