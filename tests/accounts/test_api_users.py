"""/api/users: your own profile, and the admin-only user routes."""

import uuid

from sqlalchemy import select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import AuditLog, Tenant, User
from tests.support import DEFAULT_PASSWORD
from tests.support.api import session_token

NEW = "a fresh api passphrase"


def _token(client, user, password=DEFAULT_PASSWORD):
    if password == DEFAULT_PASSWORD:
        return session_token(client, user)  # an admin signs in with a code (2FA)
    resp = client.post("/api/auth/login", json={"email": user.email, "password": password})
    assert resp.status_code == 200, resp.json
    return resp.json["access_token"]


def _h(token):
    return {"Authorization": f"Bearer {token}"}


def _admin(factory):
    admin, _ = factory.workspace(role="owner")
    with db.scope(SYSTEM) as s:
        s.get(User, admin.id).role = "admin"
    return admin


def test_profile_shows_the_signed_in_user_with_iso_times(client, factory):
    user, _ = factory.workspace()
    body = client.get("/api/users/profile", headers=_h(_token(client, user))).json
    assert body["id"] == str(user.id)
    assert body["email"] == user.email
    assert body["created_at"].endswith("Z")
    assert body["last_login_at"].endswith("Z")
    assert "password_hash" not in body
    assert "session_version" not in body


def test_profile_put_renames(client, factory):
    user, _ = factory.workspace()
    resp = client.put(
        "/api/users/profile", headers=_h(_token(client, user)), json={"name": "Renamed"}
    )
    assert resp.status_code == 200
    assert resp.json["name"] == "Renamed"
    assert resp.json["tokens"] is None


def test_profile_put_email_parks_it_pending_and_needs_the_password(client, factory):
    user, _ = factory.workspace()
    token = _token(client, user)
    refused = client.put(
        "/api/users/profile", headers=_h(token), json={"email": "next@example.com"}
    )
    assert refused.status_code == 422
    assert "current_password" in refused.json["error"]["details"]
    resp = client.put(
        "/api/users/profile",
        headers=_h(token),
        json={"email": "next@example.com", "current_password": DEFAULT_PASSWORD},
    )
    assert resp.status_code == 200
    assert resp.json["email"] == user.email
    assert resp.json["pending_email"] == "next@example.com"


def test_profile_put_password_ends_old_tokens_and_returns_fresh_ones(client, factory):
    user, _ = factory.workspace()
    token = _token(client, user)
    resp = client.put(
        "/api/users/profile",
        headers=_h(token),
        json={"new_password": NEW, "current_password": DEFAULT_PASSWORD},
    )
    assert resp.status_code == 200
    fresh = resp.json["tokens"]
    assert client.get("/api/users/profile", headers=_h(token)).status_code == 401
    assert client.get("/api/users/profile", headers=_h(fresh["access_token"])).status_code == 200
    assert _token(client, user, NEW)


def test_profile_put_with_a_bad_password_changes_nothing(client, factory):
    user, _ = factory.workspace()
    token = _token(client, user)
    resp = client.put(
        "/api/users/profile",
        headers=_h(token),
        json={
            "name": "Should not stick",
            "new_password": "short",
            "current_password": DEFAULT_PASSWORD,
        },
    )
    assert resp.status_code == 422
    assert "new_password" in resp.json["error"]["details"]
    with db.scope(SYSTEM) as s:
        assert s.get(User, user.id).name == user.name


def test_user_routes_are_for_platform_admins_only(client, factory):
    user, _ = factory.workspace()
    other, _ = factory.workspace()
    token = _token(client, user)
    for method in ("get", "put", "delete"):
        resp = getattr(client, method)(
            f"/api/users/{other.id}", headers=_h(token), json={"name": "x"}
        )
        assert resp.status_code == 403, method
        assert resp.json["error"]["code"] == "forbidden"
    assert client.get(f"/api/users/{other.id}").status_code == 401


def test_admin_reads_and_updates_any_user(client, factory):
    admin = _admin(factory)
    user, _ = factory.workspace()
    token = _token(client, admin)
    got = client.get(f"/api/users/{user.id}", headers=_h(token))
    assert got.status_code == 200
    assert got.json["email"] == user.email
    assert got.json["is_suspended"] is False
    upd = client.put(
        f"/api/users/{user.id}",
        headers=_h(token),
        json={"name": "Set by admin", "is_suspended": True},
    )
    assert upd.status_code == 200
    assert upd.json["name"] == "Set by admin"
    assert upd.json["is_suspended"] is True
    assert (
        client.post(
            "/api/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
        ).status_code
        == 401
    )
    with db.scope(SYSTEM) as s:
        row = s.scalar(select(AuditLog).where(AuditLog.action == "admin.user_update"))
        assert row.actor_user_id == admin.id
        assert row.target_id == str(user.id)


def test_suspension_ends_the_users_tokens(client, factory):
    admin = _admin(factory)
    user, _ = factory.workspace()
    user_token = _token(client, user)
    client.put(
        f"/api/users/{user.id}", headers=_h(_token(client, admin)), json={"is_suspended": True}
    )
    assert client.get("/api/users/profile", headers=_h(user_token)).status_code == 401


def test_unknown_user_ids_answer_404(client, factory):
    token = _token(client, _admin(factory))
    for method in ("get", "put", "delete"):
        resp = getattr(client, method)(
            f"/api/users/{uuid.uuid4()}", headers=_h(token), json={"name": "x"}
        )
        assert resp.status_code == 404, method
        assert resp.json["error"]["code"] == "not_found"
    assert client.get("/api/users/not-a-uuid", headers=_h(token)).status_code == 404


def test_admin_update_validates_the_body(client, factory):
    admin = _admin(factory)
    user, _ = factory.workspace()
    token = _token(client, admin)
    resp = client.put(f"/api/users/{user.id}", headers=_h(token), json={"role": "god"})
    assert resp.status_code == 422
    assert "role" in resp.json["error"]["details"]
    resp = client.put(f"/api/users/{admin.id}", headers=_h(token), json={"role": "user"})
    assert resp.status_code == 409


def test_admin_deletes_a_user_and_closes_their_personal_workspace(client, factory):
    admin = _admin(factory)
    user, personal = factory.workspace()
    token = _token(client, admin)
    assert client.delete(f"/api/users/{user.id}", headers=_h(token)).status_code == 204
    assert client.get(f"/api/users/{user.id}", headers=_h(token)).status_code == 404
    with db.scope(SYSTEM) as s:
        assert s.get(Tenant, personal.id).status == "deleted"
        assert s.scalar(select(AuditLog).where(AuditLog.action == "admin.user_delete"))


def test_delete_refuses_while_it_would_strand_running_instances_or_members(client, factory):
    admin = _admin(factory)
    token = _token(client, admin)
    busy, ws = factory.workspace()
    factory.instance(ws)
    assert client.delete(f"/api/users/{busy.id}", headers=_h(token)).status_code == 409
    owner, team = factory.workspace()
    factory.member(team, factory.user(), role="member")
    assert client.delete(f"/api/users/{owner.id}", headers=_h(token)).status_code == 409
    with db.scope(SYSTEM) as s:
        assert s.get(User, busy.id) is not None
        assert s.get(User, owner.id) is not None
