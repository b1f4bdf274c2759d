"""Issue 14 §2.1, pre-account takeover: someone signs up with another person's address before
they do. Until the address is confirmed the account may mint no API token, pay, or run
anything on Railway (pages and API alike, enforced in the feature functions), and when the
real owner confirms the address or resets the password, whatever was made before stops."""

from __future__ import annotations

from sqlalchemy import func, select, update

from railsaas.accounts import auth
from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import ApiToken, Deployment, Email, Instance, OutboxMessage, User
from tests.support import DEFAULT_PASSWORD, CsrfClient
from tests.support.accounts import emailed_link, run_queued
from tests.support.api import bearer, make_token, session_token

NEW = "the real owner's new passphrase"


def _count(model, *where) -> int:
    with db.scope(SYSTEM) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _refused(resp) -> None:
    assert resp.status_code == 403, resp.get_data(as_text=True)
    assert resp.json["error"]["code"] == "email_unverified"
    assert "Confirm your email address" in resp.json["error"]["message"]


def _set_verified(user, value: bool) -> None:
    with db.scope(SYSTEM) as s:
        s.execute(update(User).where(User.id == user.id).values(email_verified=value))


def test_an_unverified_account_cannot_mint_an_api_token(app, client, factory):
    user, tenant = factory.workspace(email_verified=False)
    _refused(
        client.post(
            "/api/tokens",
            headers=bearer(session_token(client, user)),
            json={"name": "ci", "scopes": ["read"], "expires_in_days": 30},
        )
    )
    page = CsrfClient(app, app.test_client(), user=user, workspace=tenant)
    resp = page.post("/account/tokens", {"name": "ci", "scope": "read", "expires_in_days": "30"})
    assert "Confirm your email address" in resp.get_data(as_text=True)
    assert _count(ApiToken, ApiToken.user_id == user.id) == 0


def test_an_unverified_account_cannot_deploy_or_act_on_instances(app, client, factory):
    user, tenant = factory.workspace(email_verified=False)
    template = factory.template()
    inst = factory.instance(tenant, template, status="running")
    auth = bearer(session_token(client, user))
    _refused(
        client.post(
            "/api/instances",
            headers=auth,
            json={"template_id": str(template.id), "name": "blog", "variables": {}},
        )
    )
    for body in (
        {"action": "restart"},
        {"action": "redeploy"},
        {"action": "stop"},
        {"custom_domain": "app.example.com"},
        {"variables": {"X": "1"}},
    ):
        _refused(client.put(f"/api/instances/{inst.id}", headers=auth, json=body))
    _refused(client.delete(f"/api/instances/{inst.id}", headers=auth))
    page = CsrfClient(app, app.test_client(), user=user, workspace=tenant)
    assert (
        page.post(
            f"/templates/{template.id}/deploy",
            {"name": "blog"},
            page=f"/templates/{template.id}/deploy",
        ).status_code
        == 403
    )
    assert (
        page.post(
            f"/instances/{inst.id}/actions/stop", {}, page=f"/instances/{inst.id}"
        ).status_code
        == 403
    )
    assert _count(Instance, Instance.tenant_id == tenant.id) == 1
    assert _count(Deployment, Deployment.tenant_id == tenant.id) == 0
    assert _count(OutboxMessage, OutboxMessage.task == "instances.run_step") == 0


def test_an_unverified_account_cannot_subscribe_or_open_the_portal(app, client, factory):
    plan = factory.plan()
    user, tenant = factory.workspace(email_verified=False)
    _refused(
        client.post(
            "/api/billing/subscription",
            headers=bearer(session_token(client, user)),
            json={"plan_id": str(plan.id)},
        )
    )
    page = CsrfClient(app, app.test_client(), user=user, workspace=tenant)
    assert (
        page.post("/billing/checkout", {"plan_id": str(plan.id)}, page="/billing").status_code
        == 403
    )
    assert page.post("/billing/portal", {}, page="/billing").status_code == 403


def test_a_verified_account_still_can(client, factory):
    user, tenant = factory.workspace()
    resp = client.post(
        "/api/tokens",
        headers=bearer(session_token(client, user)),
        json={"name": "ci", "scopes": ["read"], "expires_in_days": 30},
    )
    assert resp.status_code == 201


def test_password_reset_revokes_tokens_and_sign_ins_made_before_and_says_so(app, client, factory):
    owner, tenant = factory.workspace(name="Real Owner")
    secret, _ = make_token(owner, tenant, scopes=("deploy",), name="squatter's token")
    pair = client.post(
        "/api/auth/login", json={"email": owner.email, "password": DEFAULT_PASSWORD}
    ).json
    assert client.get("/api/instances", headers=bearer(secret)).status_code == 200

    browser = CsrfClient(app, app.test_client(), refetch=True)
    browser.post("/forgot", {"email": owner.email})
    run_queued(app, "accounts.password_reset")
    path = emailed_link(owner.email, "auth/reset_password")
    assert browser.post(path, {"password": NEW, "confirm": NEW}).status_code == 303

    assert client.get("/api/instances", headers=bearer(secret)).status_code == 401
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code
        == 401
    )
    with db.scope(SYSTEM) as s:
        [notice] = s.scalars(
            select(Email).where(
                Email.to_address == owner.email, Email.kind == "auth/credentials_revoked"
            )
        )
    assert "squatter's token" in notice.text_body
    assert "1 API sign-in" in notice.text_body
    assert "your password was reset" in notice.text_body
    assert " UTC" in notice.text_body  # when
    assert secret not in notice.text_body


def test_first_verification_revokes_what_the_account_made_before(app, client, factory):
    """A token from before the rule (or before the owner showed up) stops when the owner
    confirms the address; the browser that opened the link stays signed in."""
    squatter_view, tenant = factory.workspace()
    secret, _ = make_token(squatter_view, tenant, name="made before")
    _set_verified(squatter_view, False)
    pair = client.post(
        "/api/auth/login", json={"email": squatter_view.email, "password": DEFAULT_PASSWORD}
    ).json
    elsewhere = CsrfClient(app, app.test_client(), user=squatter_view, workspace=tenant)
    assert elsewhere.get("/dashboard").status_code == 200

    with app.test_request_context():
        link = "/verify/" + auth.make_link_token(
            auth.VERIFY_EMAIL, uid=str(squatter_view.id), email=squatter_view.email
        )
    owner_browser = CsrfClient(app, app.test_client(), user=squatter_view, workspace=tenant)
    assert owner_browser.get(link).status_code == 200

    assert client.get("/api/instances", headers=bearer(secret)).status_code == 401
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code
        == 401
    )
    assert elsewhere.get("/dashboard").status_code == 302  # signed out
    assert owner_browser.get("/dashboard").status_code == 200  # the link's browser stays
    with db.scope(SYSTEM) as s:
        [notice] = s.scalars(
            select(Email).where(
                Email.to_address == squatter_view.email, Email.kind == "auth/credentials_revoked"
            )
        )
    assert "made before" in notice.text_body
    assert "your email address was confirmed" in notice.text_body


def test_a_plain_first_verification_sends_no_revocation_notice(app, client):
    client.post(
        "/api/auth/register",
        json={"email": "plain@example.com", "password": DEFAULT_PASSWORD, "name": "Plain"},
    )
    assert client.get(emailed_link("plain@example.com", "auth/verify_email")).status_code == 200
    assert _count(Email, Email.kind == "auth/credentials_revoked") == 0
