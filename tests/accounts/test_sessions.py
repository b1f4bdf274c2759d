"""Browser sessions end everywhere on logout and password change; CSRF guards every form."""

from sqlalchemy import select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import AuditLog, User
from tests.support import DEFAULT_PASSWORD

NEW_PASSWORD = "a brand new passphrase"


def _signed_in(new_browser, user):
    b = new_browser()
    assert b.login(user.email, DEFAULT_PASSWORD).status_code == 303
    assert b.get("/dashboard").status_code == 200
    return b


def test_logout_ends_this_session_and_every_other(new_browser, factory):
    user, _ = factory.workspace()
    laptop, phone = _signed_in(new_browser, user), _signed_in(new_browser, user)
    stolen_cookie = phone.client.get_cookie("session").value
    resp = phone.post("/logout", page="/dashboard")
    assert resp.status_code == 303
    assert phone.get("/dashboard").status_code == 302
    assert laptop.get("/dashboard").status_code == 302
    # A copy of the cookie taken before logout is worthless too.
    thief = new_browser()
    thief.client.set_cookie("session", stolen_cookie)
    assert thief.get("/dashboard").status_code == 302
    with db.scope(SYSTEM) as s:
        assert s.scalar(
            select(AuditLog.action).where(
                AuditLog.target_id == str(user.id), AuditLog.action == "auth.logout"
            )
        )


def test_logout_is_post_only(browser, factory):
    user, _ = factory.workspace()
    browser.login(user.email, DEFAULT_PASSWORD)
    assert browser.client.get("/logout").status_code == 405
    assert browser.get("/dashboard").status_code == 200


def test_password_change_keeps_this_session_and_ends_the_others(new_browser, factory):
    user, _ = factory.workspace()
    here, elsewhere = _signed_in(new_browser, user), _signed_in(new_browser, user)
    resp = here.post(
        "/account/password",
        {
            "password-current_password": DEFAULT_PASSWORD,
            "password-new_password": NEW_PASSWORD,
            "password-confirm": NEW_PASSWORD,
        },
        page="/account",
    )
    assert resp.status_code == 303
    assert here.get("/account").status_code == 200
    assert elsewhere.get("/dashboard").status_code == 302
    fresh = new_browser()
    assert fresh.login(user.email, DEFAULT_PASSWORD).status_code == 200  # refused
    assert fresh.login(user.email, NEW_PASSWORD).status_code == 303
    with db.scope(SYSTEM) as s:
        assert s.get(User, user.id).session_version == user.session_version + 1
        assert s.scalar(
            select(AuditLog.action).where(
                AuditLog.target_id == str(user.id), AuditLog.action == "auth.password_change"
            )
        )


def test_password_change_needs_the_current_password_and_the_policy(browser, factory):
    user, _ = factory.workspace()
    browser.login(user.email, DEFAULT_PASSWORD)
    resp = browser.post(
        "/account/password",
        {
            "password-current_password": "not my password",
            "password-new_password": NEW_PASSWORD,
            "password-confirm": NEW_PASSWORD,
        },
        page="/account",
    )
    assert resp.status_code == 200
    assert "not your current password" in resp.get_data(as_text=True)
    resp = browser.post(
        "/account/password",
        {
            "password-current_password": DEFAULT_PASSWORD,
            "password-new_password": "short",
            "password-confirm": "short",
        },
        page="/account",
    )
    assert resp.status_code == 200
    assert "at least 12 characters" in resp.get_data(as_text=True)
    with db.scope(SYSTEM) as s:
        assert s.get(User, user.id).session_version == user.session_version


def test_account_page_changes_the_name(browser, factory):
    user, _ = factory.workspace()
    browser.login(user.email, DEFAULT_PASSWORD)
    resp = browser.post("/account", {"profile-name": "  Ada   Lovelace "}, page="/account")
    assert resp.status_code == 303
    with db.scope(SYSTEM) as s:
        assert s.get(User, user.id).name == "Ada Lovelace"


def test_form_post_without_csrf_token_is_refused(browser, factory):
    user, _ = factory.workspace()
    resp = browser.client.post("/login", data={"email": user.email, "password": DEFAULT_PASSWORD})
    assert resp.status_code == 400
    assert browser.client.get("/dashboard").status_code == 302


def test_form_post_with_a_forged_csrf_token_is_refused(browser, factory):
    user, _ = factory.workspace()
    browser.get("/login")
    resp = browser.client.post(
        "/login", data={"csrf_token": "forged", "email": user.email, "password": DEFAULT_PASSWORD}
    )
    assert resp.status_code == 400


def test_htmx_request_needs_the_csrf_header(browser, factory):
    user, _ = factory.workspace()
    browser.login(user.email, DEFAULT_PASSWORD)
    browser.get("/account")
    no_token = browser.client.post(
        "/account", data={"profile-name": "Hacked"}, headers={"HX-Request": "true"}
    )
    assert no_token.status_code == 400
    with db.scope(SYSTEM) as s:
        assert s.get(User, user.id).name == user.name
    with_header = browser.client.post(
        "/account",
        data={"profile-name": "Via htmx"},
        headers={"HX-Request": "true", "X-CSRFToken": browser.csrf},
    )
    assert with_header.status_code == 204  # redirect_to: HX-Redirect for htmx
    assert with_header.headers["HX-Redirect"] == "/account"
    with db.scope(SYSTEM) as s:
        assert s.get(User, user.id).name == "Via htmx"


def test_every_page_carries_the_csrf_token_for_htmx(browser):
    html = browser.get("/login").get_data(as_text=True)
    assert '<meta name="csrf-token"' in html
    assert 'hx-headers=\'{"X-CSRFToken": "' + browser.csrf in html
