"""Sign-in: session rotation, safe redirects, throttling and one message for every failure."""

import statistics
import time

import bcrypt
import pytest
from sqlalchemy import select

from railsaas.accounts.auth import LOGIN_FAILED_MESSAGE
from railsaas.blueprints.auth import safe_next
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import AuditLog, User
from tests.support import DEFAULT_PASSWORD

MAX = 5  # LOGIN_MAX_ATTEMPTS default


def _api_login(client, email, password, ip="10.1.1.1"):
    return client.post(
        "/api/auth/login",
        json={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": ip},
    )


def test_login_page_signs_in_and_lands_on_the_dashboard(browser, factory):
    user, tenant = factory.workspace()
    resp = browser.login(user.email.upper(), DEFAULT_PASSWORD)
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith("/dashboard")
    assert tenant.name in browser.get("/dashboard").get_data(as_text=True).replace("&#39;", "'")


def test_session_cookie_is_replaced_at_login_and_nothing_from_before_survives(browser, factory):
    user, _ = factory.workspace()
    browser.get("/login")
    with browser.client.session_transaction() as sess:
        sess["planted"] = "by an attacker"  # session fixation: a value set before sign-in
    before = browser.client.get_cookie("session").value
    with browser.client.session_transaction() as sess:
        old_csrf = sess["csrf_token"]
    browser.client.post(
        "/login",
        data={"csrf_token": browser.csrf, "email": user.email, "password": DEFAULT_PASSWORD},
    )
    after = browser.client.get_cookie("session").value
    assert after != before
    with browser.client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess.get("csrf_token") != old_csrf
        assert sess["_user_id"] == f"{user.id}:{user.session_version}"


def test_session_cookie_is_httponly_and_samesite_lax(browser, factory):
    user, _ = factory.workspace()
    browser.login(user.email, DEFAULT_PASSWORD)
    cookie = browser.client.get_cookie("session")
    assert cookie.http_only
    assert cookie.same_site == "Lax"
    assert cookie.secure  # not DEBUG


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        " /dashboard",
        "/\r\nLocation: x",
    ],
)
def test_next_never_leaves_the_site(target):
    assert safe_next(target) is None


def test_next_redirects_to_a_local_path(browser, factory):
    user, _ = factory.workspace()
    browser.get("/login?next=/account")
    resp = browser.client.post(
        "/login?next=/account",
        data={"csrf_token": browser.csrf, "email": user.email, "password": DEFAULT_PASSWORD},
    )
    assert resp.headers["Location"] == "/account"


def test_next_to_another_site_lands_on_the_dashboard_instead(browser, factory):
    user, _ = factory.workspace()
    browser.get("/login")
    resp = browser.client.post(
        "/login?next=//evil.example/",
        data={"csrf_token": browser.csrf, "email": user.email, "password": DEFAULT_PASSWORD},
    )
    assert resp.headers["Location"] == "/dashboard"


def test_login_required_pages_send_to_login_with_next(client):
    resp = client.get("/account")
    assert resp.status_code == 302
    assert "/login?next=" in resp.headers["Location"]


def test_wrong_password_unknown_email_and_locked_account_read_the_same(client, factory):
    user = factory.user()
    wrong = _api_login(client, user.email, "not the password")
    unknown = _api_login(client, "nobody@example.com", "whatever it is")
    for _ in range(MAX):
        _api_login(client, user.email, "not the password")
    locked = _api_login(client, user.email, DEFAULT_PASSWORD)  # right password, but locked
    for resp in (wrong, unknown, locked):
        assert resp.status_code == 401
        assert resp.json["error"] == {
            "code": "invalid_credentials",
            "message": LOGIN_FAILED_MESSAGE,
            "details": None,
        }


def test_login_page_shows_the_same_message_for_unknown_email_and_wrong_password(browser, factory):
    user = factory.user()
    a = browser.login(user.email, "not the password").get_data(as_text=True)
    b = browser.login("nobody@example.com", "not the password").get_data(as_text=True)
    assert LOGIN_FAILED_MESSAGE in a
    assert LOGIN_FAILED_MESSAGE in b


def test_an_account_locks_after_max_failures_from_any_ip(client, factory):
    user = factory.user()
    for n in range(MAX):
        assert _api_login(client, user.email, "wrong password", ip=f"10.0.0.{n}").status_code == 401
    assert _api_login(client, user.email, DEFAULT_PASSWORD, ip="10.9.9.9").status_code == 401
    other = factory.user()  # other accounts are unaffected
    assert _api_login(client, other.email, DEFAULT_PASSWORD, ip="10.9.9.9").status_code == 200


def test_the_lock_lifts_when_the_window_ends(app, client, factory, redis_conn):
    user = factory.user()
    for _ in range(MAX):
        _api_login(client, user.email, "wrong password")
    keys = list(redis_conn.scan_iter("throttle:auth:login-account/*"))
    assert keys
    assert 0 < redis_conn.ttl(keys[0]) <= app.config["LOGIN_LOCK_SECONDS"]
    redis_conn.forget("throttle:auth:login-*")  # time passes
    assert _api_login(client, user.email, DEFAULT_PASSWORD).status_code == 200


def test_an_ip_locks_after_four_times_max_failures_across_accounts(client, factory):
    user = factory.user()
    for n in range(MAX * 4):
        _api_login(client, f"guess{n}@example.com", "wrong password", ip="10.6.6.6")
    assert _api_login(client, user.email, DEFAULT_PASSWORD, ip="10.6.6.6").status_code == 401
    assert _api_login(client, user.email, DEFAULT_PASSWORD, ip="10.7.7.7").status_code == 200


def test_success_resets_the_account_counter(client, factory):
    user = factory.user()
    for _ in range(MAX - 1):
        _api_login(client, user.email, "wrong password")
    assert _api_login(client, user.email, DEFAULT_PASSWORD).status_code == 200
    for _ in range(MAX - 1):
        _api_login(client, user.email, "wrong password")
    assert _api_login(client, user.email, DEFAULT_PASSWORD).status_code == 200


def test_suspended_user_cannot_sign_in_and_hears_the_same_message(client, factory):
    user = factory.user(is_suspended=True)
    resp = _api_login(client, user.email, DEFAULT_PASSWORD)
    assert resp.status_code == 401
    assert resp.json["error"]["message"] == LOGIN_FAILED_MESSAGE


def test_unverified_user_may_sign_in_and_sees_the_banner(browser, factory):
    user, _ = factory.workspace(email_verified=False)
    assert browser.login(user.email, DEFAULT_PASSWORD).status_code == 303
    assert 'data-testid="verify-banner"' in browser.get("/dashboard").get_data(as_text=True)


def test_verified_user_sees_no_banner(browser, factory):
    user, _ = factory.workspace()
    browser.login(user.email, DEFAULT_PASSWORD)
    assert 'data-testid="verify-banner"' not in browser.get("/dashboard").get_data(as_text=True)


def test_unknown_email_costs_a_bcrypt_check_like_a_wrong_password(app, client, factory):
    app.config["BCRYPT_ROUNDS"] = 10
    try:
        stored = bcrypt.hashpw(b"the real password", bcrypt.gensalt(10)).decode()
        user = factory.user(password_hash=stored)

        def timed(email):
            start = time.perf_counter()
            assert _api_login(client, email, "a wrong password", ip="10.3.3.3").status_code == 401
            return time.perf_counter() - start

        timed("warm-up@example.com")  # the dummy hash is made once per cost
        known = statistics.median(timed(user.email) for _ in range(3))
        unknown = statistics.median(timed("nobody@example.com") for _ in range(3))
    finally:
        app.config["BCRYPT_ROUNDS"] = 4
    assert unknown > known * 0.5, (known, unknown)


def test_logins_and_failures_are_audited(client, factory):
    user = factory.user()
    _api_login(client, user.email, "wrong password")
    _api_login(client, "nobody@example.com", "wrong password")
    _api_login(client, user.email, DEFAULT_PASSWORD)
    with db.scope(SYSTEM) as s:
        rows = s.scalars(
            select(AuditLog).where(AuditLog.action.like("auth.login%")).order_by(AuditLog.id)
        ).all()
        summary = [
            (r.action, r.target_id, (r.details or {}).get("reason"), str(r.ip)) for r in rows
        ]
        last_login = s.get(User, user.id).last_login_at
    assert summary == [
        ("auth.login_failed", str(user.id), "wrong_password", "10.1.1.1"),
        ("auth.login_failed", None, "unknown_email", "10.1.1.1"),
        ("auth.login", str(user.id), None, "10.1.1.1"),
    ]
    assert last_login is not None
