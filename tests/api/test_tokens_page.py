"""/account/tokens: the page that manages personal API tokens (HTMX create and revoke, the
secret shown once)."""

from __future__ import annotations

import re

from sqlalchemy import select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import ApiToken
from tests.support import csrf_from, login_as
from tests.support.api import bearer, make_token

HX = {"HX-Request": "true"}


def _signed_in(app, client, factory):
    user, tenant = factory.workspace()
    login_as(app, client, user)
    page = client.get("/account/tokens")
    assert page.status_code == 200
    return user, tenant, csrf_from(page.get_data(as_text=True))


def _secret(html: str) -> str | None:
    m = re.search(r'data-testid="token-secret">(rs_live_\w+)<', html)
    return m.group(1) if m else None


def test_the_page_needs_a_signed_in_user(client):
    resp = client.get("/account/tokens")
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]


def test_creating_a_token_with_htmx_shows_the_secret_once(app, client, factory):
    user, tenant, csrf = _signed_in(app, client, factory)
    resp = client.post(
        "/account/tokens",
        headers=HX,
        data={"csrf_token": csrf, "name": "laptop", "scope": "deploy", "expires_in_days": "30"},
    )
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="tokens-panel"')  # the partial only
    assert resp.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in resp.headers["Vary"]
    secret = _secret(html)
    assert secret is not None
    assert client.get("/api/users/profile", headers=bearer(secret)).status_code == 200
    with db.scope(SYSTEM) as s:
        row = s.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    assert row.scopes == ["read", "deploy"]
    again = client.get("/account/tokens").get_data(as_text=True)
    assert secret not in again
    assert "laptop" in again
    assert row.prefix in again


def test_creating_without_javascript_renders_the_page_with_the_secret(app, client, factory):
    _, _, csrf = _signed_in(app, client, factory)
    resp = client.post(
        "/account/tokens",
        data={"csrf_token": csrf, "name": "ci", "scope": "read", "expires_in_days": "7"},
    )
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "<html" in html
    assert _secret(html)


def test_a_form_with_errors_is_shown_again_and_creates_nothing(app, client, factory):
    user, _, csrf = _signed_in(app, client, factory)
    resp = client.post(
        "/account/tokens",
        headers=HX,
        data={"csrf_token": csrf, "name": "", "scope": "root", "expires_in_days": "7"},
    )
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert _secret(html) is None
    assert "Name the token." in html
    with db.scope(SYSTEM) as s:
        assert s.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all() == []


def test_creating_needs_the_csrf_token(app, client, factory):
    _signed_in(app, client, factory)
    resp = client.post(
        "/account/tokens", headers=HX, data={"name": "x", "scope": "read", "expires_in_days": "7"}
    )
    assert resp.status_code == 400


def test_revoking_with_htmx_swaps_the_panel_and_ends_the_token(app, client, factory):
    user, tenant, csrf = _signed_in(app, client, factory)
    secret, row = make_token(user, tenant, name="old")
    resp = client.post(f"/account/tokens/{row.id}/revoke", headers=HX, data={"csrf_token": csrf})
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "revoked" in html
    assert f'data-testid="revoke-{row.id}"' not in html
    assert client.get("/api/users/profile", headers=bearer(secret)).status_code == 401


def test_revoking_without_javascript_redirects_303(app, client, factory):
    user, tenant, csrf = _signed_in(app, client, factory)
    _, row = make_token(user, tenant, name="old")
    resp = client.post(f"/account/tokens/{row.id}/revoke", data={"csrf_token": csrf})
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith("/account/tokens")


def test_someone_elses_token_cannot_be_revoked_from_the_page(app, client, factory):
    _, _, csrf = _signed_in(app, client, factory)
    other, other_ws = factory.workspace()
    secret, row = make_token(other, other_ws)
    resp = client.post(f"/account/tokens/{row.id}/revoke", headers=HX, data={"csrf_token": csrf})
    assert resp.status_code == 404
    assert client.get("/api/users/profile", headers=bearer(secret)).status_code == 200


def test_the_page_lists_only_your_tokens_in_this_workspace(app, client, factory):
    user, tenant, _ = _signed_in(app, client, factory)
    colleague = factory.user()
    factory.member(tenant, colleague, "member")
    make_token(user, tenant, name="mine")
    make_token(colleague, tenant, name="theirs")
    html = client.get("/account/tokens").get_data(as_text=True)
    assert "mine" in html
    assert "theirs" not in html


def test_the_account_page_links_to_the_tokens_page(app, client, factory):
    _signed_in(app, client, factory)
    assert 'href="/account/tokens"' in client.get("/account").get_data(as_text=True)
