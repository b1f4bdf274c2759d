"""Sign-up: a user, a personal workspace and an owner membership, under RLS."""

from sqlalchemy import select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import AuditLog, Email, Membership, Tenant, User


def _register(client, **overrides):
    body = {"email": "Grace@Example.COM", "password": "a long enough pw", "name": "Grace Hopper"}
    body.update(overrides)
    return client.post("/api/auth/register", json=body)


def test_registration_creates_user_workspace_and_owner_membership(client):
    resp = _register(client)
    assert resp.status_code == 201
    body = resp.json
    assert body["email"] == "grace@example.com"  # stored lower-case
    assert body["email_verified"] is False
    assert "password" not in str(body)
    assert "hash" not in str(body)
    assert body["created_at"].endswith("Z")  # ISO 8601, UTC
    with db.scope(SYSTEM) as s:
        user = s.scalar(select(User).where(User.email == "grace@example.com"))
        membership = s.scalar(select(Membership).where(Membership.user_id == user.id))
        tenant = s.get(Tenant, membership.tenant_id)
        assert membership.role == "owner"
        assert tenant.name == "Grace Hopper's workspace"
        assert tenant.slug.startswith("grace-hopper-")
        assert user.password_hash.startswith("$2b$04$")
        actions = s.scalars(select(AuditLog.action).where(
            AuditLog.target_id == str(user.id))).all()
        assert "auth.register" in actions
        assert s.scalar(select(Email).where(Email.user_id == user.id)).kind == \
            "auth/verify_email"


def test_two_people_with_the_same_name_get_distinct_workspace_slugs(client):
    assert _register(client, email="a@example.com").status_code == 201
    assert _register(client, email="b@example.com").status_code == 201
    with db.scope(SYSTEM) as s:
        slugs = s.scalars(select(Tenant.slug).where(Tenant.name == "Grace Hopper's workspace"))
        assert len(set(slugs)) == 2


def test_an_email_registers_once_whatever_its_case(client):
    assert _register(client).status_code == 201
    resp = _register(client, email="GRACE@example.com")
    assert resp.status_code == 409
    assert resp.json["error"]["details"]["email"]


def test_invalid_fields_answer_422_with_every_field_and_create_nothing(client):
    resp = _register(client, email="not-an-email", password="short", name=" ")
    assert resp.status_code == 422
    details = resp.json["error"]["details"]
    assert set(details) == {"email", "password", "name"}
    with db.scope(SYSTEM) as s:
        assert s.scalar(select(User).where(User.name == " ")) is None


def test_register_page_signs_in_and_asks_to_verify(browser):
    resp = browser.post("/register", {"name": "Linus", "email": "linus@example.com",
                                      "password": "penguins rule the world"})
    assert resp.status_code == 303
    page = browser.get("/dashboard").get_data(as_text=True)
    assert "We sent a link to linus@example.com" in page
    assert 'data-testid="verify-banner"' in page
    assert "Linus&#39;s workspace" in page


def test_register_page_shows_each_fields_error(browser):
    browser.post("/register", {"name": "X", "email": "taken@example.com",
                               "password": "a long enough pw"})
    assert browser.post("/logout", page="/dashboard").status_code == 303
    resp = browser.post("/register", {"name": "", "email": "taken@example.com",
                                      "password": "short"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'data-testid="error-name"' in html
    assert 'data-testid="error-password"' in html
    resp = browser.post("/register", {"name": "Y", "email": "Taken@example.com",
                                      "password": "a long enough pw"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'data-testid="error-email"' in html
    assert "already exists" in html
