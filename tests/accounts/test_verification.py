"""Email verification links: signed, bound to purpose and address, expiring."""

import time

from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select

from railsaas.accounts.auth import VERIFY_EMAIL
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import AuditLog, Email, User
from tests.support import DEFAULT_PASSWORD
from tests.support.accounts import emailed_link, user_id_of


def _signup(client, email="new@example.com"):
    resp = client.post(
        "/api/auth/register", json={"email": email, "password": DEFAULT_PASSWORD, "name": "New"}
    )
    assert resp.status_code == 202
    return str(user_id_of(email))


def _verified(user_id):
    with db.scope(SYSTEM) as s:
        return s.get(User, user_id).email_verified


def _forged(app, payload, age_seconds=0, purpose=VERIFY_EMAIL):
    """A link token signed with the app's key, issued `age_seconds` ago."""

    class Past(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - age_seconds

    return URLSafeTimedSerializer(
        app.config["SECRET_KEY"], salt=f"railsaas.auth.{purpose}", signer=Past
    ).dumps(payload)


def test_the_emailed_link_verifies_the_address(client):
    user_id = _signup(client)
    resp = client.get(emailed_link("new@example.com", "auth/verify_email"))
    assert resp.status_code == 200
    assert 'data-testid="verify-ok"' in resp.get_data(as_text=True)
    assert _verified(user_id)
    with db.scope(SYSTEM) as s:
        assert s.scalar(
            select(AuditLog).where(
                AuditLog.action == "auth.verify_email", AuditLog.target_id == user_id
            )
        )


def test_an_expired_link_is_refused(app, client):
    user_id = _signup(client)
    token = _forged(app, {"uid": user_id, "email": "new@example.com"}, age_seconds=3 * 86400)
    resp = client.get(f"/verify/{token}")
    assert resp.status_code == 400
    assert "expired" in resp.get_data(as_text=True)
    assert not _verified(user_id)
    fresh = _forged(app, {"uid": user_id, "email": "new@example.com"}, age_seconds=60)
    assert client.get(f"/verify/{fresh}").status_code == 200


def test_a_tampered_link_is_refused(client):
    user_id = _signup(client)
    path = emailed_link("new@example.com", "auth/verify_email")
    payload, ts, sig = path.removeprefix("/verify/").split(".")
    flipped = sig[:-2] + ("AA" if not sig.endswith("AA") else "BB")
    assert client.get(f"/verify/{payload}.{ts}.{flipped}").status_code == 400
    assert client.get("/verify/garbage").status_code == 400
    assert not _verified(user_id)


def test_a_link_signed_for_another_purpose_is_refused(app, client):
    user_id = _signup(client)
    token = _forged(app, {"uid": user_id, "email": "new@example.com"}, purpose="reset-password")
    assert client.get(f"/verify/{token}").status_code == 400
    assert not _verified(user_id)


def test_a_link_for_an_address_the_user_no_longer_has_is_refused(app, client):
    user_id = _signup(client)
    token = _forged(app, {"uid": user_id, "email": "old@example.com"})
    assert client.get(f"/verify/{token}").status_code == 400
    assert not _verified(user_id)


def test_resend_sends_a_new_link_once_a_minute(browser):
    _signup(browser.client, "resend@example.com")
    for _ in range(3):
        resp = browser.post("/verify/resend", {"email": "RESEND@example.com"})
        assert resp.status_code == 303
    with db.scope(SYSTEM) as s:
        count = s.scalar(
            select(func.count())
            .select_from(Email)
            .where(Email.to_address == "resend@example.com", Email.kind == "auth/verify_email")
        )
    assert count == 2  # the sign-up's, and one resend


def test_resend_answers_the_same_for_unknown_addresses(browser):
    resp = browser.post("/verify/resend", {"email": "ghost@example.com"})
    assert resp.status_code == 303
    with db.scope(SYSTEM) as s:
        assert s.scalar(select(Email).where(Email.to_address == "ghost@example.com")) is None


def test_the_banner_button_resends_for_the_signed_in_user(browser, factory):
    user, _ = factory.workspace(email_verified=False)
    browser.login(user.email, DEFAULT_PASSWORD)
    resp = browser.post("/verify/resend", page="/dashboard")
    assert resp.status_code == 303
    with db.scope(SYSTEM) as s:
        assert s.scalar(select(Email).where(Email.to_address == user.email))


def test_verification_email_goes_out_over_smtp(app, celery_worker, mail_sink):
    client = app.test_client()
    _signup(client, "smtp@example.com")
    message = mail_sink.wait_for(to="smtp@example.com", timeout=20)
    assert message["Subject"] == "Confirm your email address"
    from railsaas.platform.captured_mail import links_in

    (link,) = links_in(message)
    assert link.startswith(app.config["BASE_URL"] + "/verify/")
    assert client.get(link.removeprefix(app.config["BASE_URL"])).status_code == 200
