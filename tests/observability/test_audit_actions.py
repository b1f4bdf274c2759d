"""An audit row for each kind of action, written through the real routes: who (actor and
actor type), where (workspace, IP, user agent), what (action and target) and when. The admin
panel's actions are covered in test_admin.py; other areas' as they land."""

from __future__ import annotations

from sqlalchemy import select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import AuditLog, User
from tests.support import DEFAULT_PASSWORD

UA = {"User-Agent": "audit-test/1.0"}


def rows(action: str) -> list[AuditLog]:
    with db.scope(SYSTEM) as s:
        return list(
            s.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))
        )


def test_sign_up_is_audited_with_the_new_user_and_their_workspace(client):
    resp = client.post(
        "/api/auth/register",
        headers=UA,
        json={
            "email": "new.person@example.com",
            "password": "a long enough password",
            "name": "New Person",
        },
    )
    assert resp.status_code == 202
    with db.scope(SYSTEM) as s:
        user = s.scalar(select(User).where(User.email == "new.person@example.com"))
    (row,) = rows("auth.register")
    assert (row.actor_user_id, row.actor_type) == (user.id, "user")
    assert (row.target_type, row.target_id) == ("user", str(user.id))
    assert row.details["workspace_id"]
    assert str(row.ip) == "127.0.0.1"
    assert row.user_agent == "audit-test/1.0"
    assert row.details["request_id"] == resp.headers["X-Request-ID"]


def test_sign_in_failed_sign_in_and_sign_out_are_audited(client, factory):
    user, _ = factory.workspace()
    bad = client.post(
        "/api/auth/login", headers=UA, json={"email": user.email, "password": "wrong password!!"}
    )
    assert bad.status_code == 401
    (failed,) = rows("auth.login_failed")
    assert failed.actor_type == "anonymous"
    assert failed.target_id == str(user.id)
    assert failed.tenant_id is None  # an auth event concerns a person, not a workspace

    ok = client.post(
        "/api/auth/login", headers=UA, json={"email": user.email, "password": DEFAULT_PASSWORD}
    )
    assert ok.status_code == 200
    (login,) = rows("auth.login")
    assert (login.actor_user_id, login.actor_type) == (user.id, "user")

    out = client.post(
        "/api/auth/logout",
        headers={**UA, "Authorization": f"Bearer {ok.json['access_token']}"},
        json={"refresh_token": ok.json["refresh_token"]},
    )
    assert out.status_code == 204
    assert rows("auth.logout")[0].actor_user_id == user.id


def test_failed_sign_in_for_an_unknown_address_is_kept_too(client):
    client.post(
        "/api/auth/login",
        headers=UA,
        json={"email": "nobody@example.com", "password": "whatever password"},
    )
    (row,) = rows("auth.login_failed")
    assert (row.actor_user_id, row.target_id, row.tenant_id) == (None, None, None)
    assert row.user_agent == "audit-test/1.0"
