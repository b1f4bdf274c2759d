"""Changing the email address: parked in pending_email until the new address confirms."""

from sqlalchemy import select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import AuditLog, Email, User
from tests.support import DEFAULT_PASSWORD
from tests.support.accounts import emailed_link


def _request_change(browser, new, password=DEFAULT_PASSWORD):
    return browser.post(
        "/account/email",
        {"email-new_email": new, "email-current_password": password},
        page="/account",
    )


def _user(user_id):
    with db.scope(SYSTEM) as s:
        return s.get(User, user_id)


def test_new_address_takes_effect_once_confirmed(browser, factory):
    user, _ = factory.workspace()
    browser.login(user.email, DEFAULT_PASSWORD)
    assert _request_change(browser, "Moved@Example.com").status_code == 303
    pending = _user(user.id)
    assert (pending.email, pending.pending_email) == (user.email, "moved@example.com")
    assert "moved@example.com" in browser.get("/account").get_data(as_text=True)

    resp = browser.get(emailed_link("moved@example.com", "auth/confirm_email_change"))
    assert resp.status_code == 200
    done = _user(user.id)
    assert (done.email, done.pending_email, done.email_verified) == (
        "moved@example.com",
        None,
        True,
    )
    with db.scope(SYSTEM) as s:
        notice = s.scalar(
            select(Email).where(Email.to_address == user.email, Email.kind == "auth/email_changed")
        )
        assert notice is not None
        assert "moved@example.com" in notice.text_body
        assert s.scalar(
            select(AuditLog).where(
                AuditLog.action == "auth.email_change", AuditLog.target_id == str(user.id)
            )
        )
    fresh = browser.__class__(browser.app, browser.app.test_client())
    assert fresh.login("moved@example.com", DEFAULT_PASSWORD).status_code == 303


def test_email_change_needs_the_current_password(browser, factory):
    user, _ = factory.workspace()
    browser.login(user.email, DEFAULT_PASSWORD)
    resp = _request_change(browser, "moved@example.com", password="not my password")
    assert resp.status_code == 200
    assert 'data-testid="error-current_password"' in resp.get_data(as_text=True)
    assert _user(user.id).pending_email is None


def test_email_change_to_a_taken_address_is_refused(browser, factory):
    user, _ = factory.workspace()
    other = factory.user()
    browser.login(user.email, DEFAULT_PASSWORD)
    resp = _request_change(browser, other.email)
    assert resp.status_code == 200
    assert "already exists" in resp.get_data(as_text=True)


def test_a_superseded_change_link_is_refused(browser, factory):
    user, _ = factory.workspace()
    browser.login(user.email, DEFAULT_PASSWORD)
    _request_change(browser, "first@example.com")
    first = emailed_link("first@example.com", "auth/confirm_email_change")
    _request_change(browser, "second@example.com")
    assert browser.get(first).status_code == 400
    assert _user(user.id).email == user.email


def test_the_verify_link_of_the_old_address_stops_working(browser, factory):
    user, _ = factory.workspace(email_verified=False)
    browser.post("/verify/resend", {"email": user.email})
    old_link = emailed_link(user.email, "auth/verify_email")
    browser.login(user.email, DEFAULT_PASSWORD)
    _request_change(browser, "moved@example.com")
    browser.get(emailed_link("moved@example.com", "auth/confirm_email_change"))
    assert browser.get(old_link).status_code == 400
