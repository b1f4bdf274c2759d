"""Personal API tokens: created and shown once, stored as a hash, scoped, expiring,
revocable, recording their last use, audited."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from railsaas.accounts import api_tokens
from railsaas.db import SYSTEM, TenantContext
from railsaas.extensions import db
from railsaas.models import ApiToken, AuditLog, Membership, Tenant, User
from tests.support.api import bearer, make_token, session_token

FORMAT = re.compile(r"^rs_live_[0-9A-Za-z]{36}$")


def _row(token_id) -> ApiToken:
    with db.scope(SYSTEM) as s:
        return s.get(ApiToken, token_id)


def test_creating_a_token_shows_its_secret_once_and_stores_only_its_hash(client, factory):
    user, tenant = factory.workspace()
    jwt = session_token(client, user)
    resp = client.post(
        "/api/tokens",
        headers=bearer(jwt),
        json={"name": "ci", "scopes": ["deploy"], "expires_in_days": 30},
    )
    assert resp.status_code == 201
    body = resp.json
    secret = body["token"]
    assert FORMAT.match(secret)
    assert body["prefix"] == secret[:12]
    assert body["scopes"] == ["read", "deploy"]
    assert body["status"] == "active"
    assert resp.headers["Location"] == f"/api/tokens/{body['id']}"
    assert resp.headers["Cache-Control"] == "no-store"

    row = _row(body["id"])
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert row.tenant_id == tenant.id
    assert row.user_id == user.id
    assert secret not in repr([getattr(row, c.key) for c in ApiToken.__table__.columns])
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=29, hours=23) < expires - datetime.now(UTC) <= timedelta(days=30)

    again = client.get(f"/api/tokens/{body['id']}", headers=bearer(jwt)).json
    listed = client.get("/api/tokens", headers=bearer(jwt)).json["items"]
    assert "token" not in again
    assert all("token" not in t for t in listed)
    assert secret not in str(listed)


def test_a_token_authenticates_as_its_user_in_its_workspace(client, factory):
    user, tenant = factory.workspace()
    secret, _ = make_token(user, tenant)
    resp = client.get("/api/users/profile", headers=bearer(secret))
    assert resp.status_code == 200
    assert resp.json["id"] == str(user.id)


def test_a_token_is_bound_to_its_workspace(client, factory):
    user, tenant = factory.workspace()
    other = factory.tenant()
    factory.member(other, user)
    secret, _ = make_token(user, tenant)
    resp = client.get("/api/tokens", headers=bearer(secret, **{"X-Workspace-ID": str(other.id)}))
    assert resp.status_code == 403
    assert resp.json["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    "bad",
    [
        "rs_live_",
        "rs_live_short",
        "rs_live_" + "A" * 36,  # the checksum does not match
        "rs_live_" + "!" * 36,
    ],
)
def test_malformed_or_unknown_tokens_answer_401(client, bad):
    resp = client.get("/api/users/profile", headers=bearer(bad))
    assert resp.status_code == 401
    assert resp.json["error"]["code"] == "invalid_token"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_well_formed_token_that_was_never_issued_answers_401(client):
    resp = client.get("/api/users/profile", headers=bearer(api_tokens.generate_secret()))
    assert resp.status_code == 401


def test_a_read_token_reads_but_cannot_change_anything(client, factory):
    user, tenant = factory.workspace()
    secret, _ = make_token(user, tenant, ("read",))
    assert client.get("/api/tokens", headers=bearer(secret)).status_code == 200
    refused = client.post(
        "/api/tokens", headers=bearer(secret), json={"name": "more", "scopes": ["read"]}
    )
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "insufficient_scope"
    assert refused.json["error"]["details"] == {"required_scope": "admin"}
    assert (
        client.put("/api/users/profile", headers=bearer(secret), json={"name": "X"}).status_code
        == 403
    )


def test_a_token_cannot_mint_a_stronger_one(client, factory):
    user, tenant = factory.workspace()
    admin_secret, _ = make_token(user, tenant, ("admin",), name="boss")
    made = client.post(
        "/api/tokens", headers=bearer(admin_secret), json={"name": "child", "scopes": ["deploy"]}
    )
    assert made.status_code == 201
    with db.scope(SYSTEM) as s:  # narrow the parent to deploy: it may not mint admin now
        s.execute(update(ApiToken).where(ApiToken.name == "boss").values(scopes=["read", "deploy"]))
    refused = client.post(
        "/api/tokens",
        headers=bearer(admin_secret),
        json={"name": "grandchild", "scopes": ["admin"]},
    )
    assert refused.status_code == 403


def test_platform_admin_routes_need_the_admin_scope(client, factory):
    admin, tenant = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(User, admin.id).role = "admin"
    deploy, _ = make_token(admin, tenant, ("deploy",), name="d")
    full, _ = make_token(admin, tenant, ("admin",), name="a")
    assert client.get(f"/api/users/{admin.id}", headers=bearer(deploy)).status_code == 403
    assert client.get(f"/api/users/{admin.id}", headers=bearer(full)).status_code == 200


def test_an_expired_token_answers_401(client, factory):
    user, tenant = factory.workspace()
    secret, row = make_token(user, tenant)
    with db.scope(SYSTEM) as s:
        s.execute(
            update(ApiToken)
            .where(ApiToken.id == row.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    resp = client.get("/api/users/profile", headers=bearer(secret))
    assert resp.status_code == 401
    assert "expired" in resp.json["error"]["message"]
    jwt = session_token(client, user)
    listed = client.get("/api/tokens?status=expired", headers=bearer(jwt)).json["items"]
    assert [t["id"] for t in listed] == [str(row.id)]


def test_revoking_stops_a_token_at_once_and_is_idempotent(client, factory):
    user, tenant = factory.workspace()
    secret, row = make_token(user, tenant, ("admin",))
    jwt = session_token(client, user)
    assert client.delete(f"/api/tokens/{row.id}", headers=bearer(jwt)).status_code == 204
    resp = client.get("/api/users/profile", headers=bearer(secret))
    assert resp.status_code == 401
    assert "revoked" in resp.json["error"]["message"]
    assert client.delete(f"/api/tokens/{row.id}", headers=bearer(jwt)).status_code == 204
    shown = client.get(f"/api/tokens/{row.id}", headers=bearer(jwt)).json
    assert shown["status"] == "revoked"
    assert shown["revoked_at"]
    with db.scope(SYSTEM) as s:
        actions = s.scalars(select(AuditLog.action).where(AuditLog.target_id == str(row.id))).all()
    assert sorted(actions) == ["api_token.created", "api_token.revoked"]


def test_a_token_can_revoke_itself(client, factory):
    user, tenant = factory.workspace()
    secret, row = make_token(user, tenant, ("admin",))
    assert client.delete(f"/api/tokens/{row.id}", headers=bearer(secret)).status_code == 204
    assert client.get("/api/tokens", headers=bearer(secret)).status_code == 401


def test_last_used_is_recorded_at_most_once_a_minute(client, factory):
    user, tenant = factory.workspace()
    secret, row = make_token(user, tenant)
    assert _row(row.id).last_used_at is None
    client.get("/api/users/profile", headers=bearer(secret))
    first = _row(row.id).last_used_at
    assert first is not None
    client.get("/api/users/profile", headers=bearer(secret))
    assert _row(row.id).last_used_at == first  # within the minute: no write
    with db.scope(SYSTEM) as s:
        s.execute(
            update(ApiToken)
            .where(ApiToken.id == row.id)
            .values(last_used_at=first - timedelta(minutes=2))
        )
    client.get("/api/users/profile", headers=bearer(secret))
    assert _row(row.id).last_used_at > first - timedelta(minutes=2)


def test_a_stale_read_of_last_used_still_reports_the_update_it_sent(client, factory):
    """Two requests near the minute: this one read the token before the other wrote
    last_used_at. Its UPDATE then changes no row, but it has written all the same, and the
    authenticator must end the transaction before an admin route switches login (this was a
    500 on /api/users/<id> for an admin-scoped token used about a minute apart)."""
    admin, tenant = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(User, admin.id).role = "admin"
    secret, row = make_token(admin, tenant, ("admin",))
    with db.scope(TenantContext(tenant_id=tenant.id, user_id=admin.id)) as s:
        stale = api_tokens.authenticate(s, secret)
        s.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=func.now()))
        assert api_tokens.touch(s, stale) is True
    with db.scope(SYSTEM) as s:
        s.execute(
            update(ApiToken)
            .where(ApiToken.id == row.id)
            .values(last_used_at=datetime.now(UTC) - timedelta(minutes=2))
        )
    assert client.get(f"/api/users/{admin.id}", headers=bearer(secret)).status_code == 200


def test_last_used_is_recorded_even_when_the_request_fails(client, factory):
    user, tenant = factory.workspace()
    secret, row = make_token(user, tenant, ("admin",))
    resp = client.post("/api/tokens", headers=bearer(secret), json={"name": ""})
    assert resp.status_code == 422
    assert _row(row.id).last_used_at is not None


def test_a_token_stops_working_when_its_user_leaves_the_workspace(client, factory):
    user, tenant = factory.workspace()
    secret, _ = make_token(user, tenant)
    with db.scope(SYSTEM) as s:
        s.execute(Membership.__table__.delete().where(Membership.user_id == user.id))
    resp = client.get("/api/users/profile", headers=bearer(secret))
    assert resp.status_code == 401


def test_a_suspended_users_tokens_stop_working(client, factory):
    user, tenant = factory.workspace()
    secret, _ = make_token(user, tenant)
    with db.scope(SYSTEM) as s:
        s.get(User, user.id).is_suspended = True
    assert client.get("/api/users/profile", headers=bearer(secret)).status_code == 401


def test_actions_through_a_token_are_audited_as_the_token(client, factory):
    user, tenant = factory.workspace()
    secret, row = make_token(user, tenant, ("admin",))
    made = client.post(
        "/api/tokens", headers=bearer(secret), json={"name": "by token", "scopes": ["read"]}
    ).json
    with db.scope(SYSTEM) as s:
        entry = s.scalars(select(AuditLog).where(AuditLog.target_id == made["id"])).one()
    assert entry.actor_type == "api_token"
    assert entry.actor_user_id == user.id
    assert entry.tenant_id == tenant.id
    assert entry.details["api_token_id"] == str(row.id)
    assert "token" not in entry.details


def test_active_names_are_unique_per_user_and_workspace(client, factory):
    user, tenant = factory.workspace()
    jwt = session_token(client, user)
    first = client.post("/api/tokens", headers=bearer(jwt), json={"name": "ci", "scopes": ["read"]})
    dup = client.post("/api/tokens", headers=bearer(jwt), json={"name": "ci", "scopes": ["read"]})
    assert first.status_code == 201
    assert dup.status_code == 409
    assert dup.json["error"]["code"] == "name_taken"
    client.delete(f"/api/tokens/{first.json['id']}", headers=bearer(jwt))
    again = client.post("/api/tokens", headers=bearer(jwt), json={"name": "ci", "scopes": ["read"]})
    assert again.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "scopes": ["root"]}, "scopes.0"),
        ({"name": "", "scopes": ["read"]}, "name"),
        ({"name": "x", "scopes": ["read"], "expires_in_days": 0}, "expires_in_days"),
        ({"name": "x", "scopes": ["read"], "expires_in_days": 366}, "expires_in_days"),
        ({"name": "x", "scopes": ["read"], "owner": "me"}, "owner"),
    ],
)
def test_invalid_token_requests_answer_422_and_create_nothing(client, factory, body, field):
    user, tenant = factory.workspace()
    jwt = session_token(client, user)
    resp = client.post("/api/tokens", headers=bearer(jwt), json=body)
    assert resp.status_code == 422
    assert field in resp.json["error"]["details"]
    assert client.get("/api/tokens", headers=bearer(jwt)).json["items"] == []


def test_token_lists_page_by_cursor_newest_first(client, factory):
    user, tenant = factory.workspace()
    made = [make_token(user, tenant, name=f"t{i}")[1] for i in range(5)]
    jwt = session_token(client, user)
    seen, cursor = [], None
    for _ in range(3):
        url = "/api/tokens?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=bearer(jwt)).json
        seen += [t["name"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # Rows made in one transaction share created_at: the id breaks the tie, stably.
    newest_first = sorted(made, key=lambda t: (t.created_at, t.id), reverse=True)
    assert seen == [t.name for t in newest_first]
    assert cursor is None


@pytest.mark.parametrize("cursor", ["nonsense", "eyJ4IjoxfQ", "WyIyMDI0LTAxLTAxIiwieCJd"])
def test_a_cursor_we_did_not_issue_answers_422(client, factory, cursor):
    user, tenant = factory.workspace()
    resp = client.get(f"/api/tokens?cursor={cursor}", headers=bearer(session_token(client, user)))
    assert resp.status_code == 422
    assert "cursor" in resp.json["error"]["details"]


def test_status_filter_and_limit_are_validated(client, factory):
    user, tenant = factory.workspace()
    jwt = session_token(client, user)
    assert client.get("/api/tokens?status=gone", headers=bearer(jwt)).status_code == 422
    assert client.get("/api/tokens?limit=0", headers=bearer(jwt)).status_code == 422
    assert client.get("/api/tokens?limit=101", headers=bearer(jwt)).status_code == 422
    assert client.get("/api/tokens?limit=abc", headers=bearer(jwt)).status_code == 422


def _deployable(factory):
    plan = factory.plan(max_instances=5)
    user, tenant = factory.workspace()
    with db.scope(SYSTEM) as s:
        s.get(Tenant, tenant.id).plan_id = plan.id
    return user, tenant, factory.template()


def test_a_read_token_cannot_deploy_and_a_deploy_token_can(client, factory):
    user, tenant, template = _deployable(factory)
    read, _ = make_token(user, tenant, ("read",), name="reader")
    deploy, _ = make_token(user, tenant, ("deploy",), name="deployer")
    body = {"template_id": str(template.id), "name": "from-ci"}
    refused = client.post("/api/instances", headers=bearer(read), json=body)
    assert refused.status_code == 403
    assert refused.json["error"]["details"] == {"required_scope": "deploy"}
    assert client.post("/api/templates/deploy", headers=bearer(read), json=body).status_code == 403
    made = client.post("/api/instances", headers=bearer(deploy), json=body)
    assert made.status_code == 202
    iid = made.json["id"]
    assert client.get(f"/api/instances/{iid}", headers=bearer(read)).status_code == 200
    assert client.delete(f"/api/instances/{iid}", headers=bearer(read)).status_code == 403
    assert client.delete(f"/api/instances/{iid}", headers=bearer(deploy)).status_code == 202
    # deploy does not reach workspace administration
    assert (
        client.post(
            "/api/tokens", headers=bearer(deploy), json={"name": "x", "scopes": ["read"]}
        ).status_code
        == 403
    )


def test_a_deploy_through_a_token_is_audited_as_the_token(client, factory):
    user, tenant, template = _deployable(factory)
    deploy, row = make_token(user, tenant, ("deploy",))
    made = client.post(
        "/api/instances",
        headers=bearer(deploy),
        json={"template_id": str(template.id), "name": "audited"},
    ).json
    with db.scope(SYSTEM) as s:
        entry = s.scalars(
            select(AuditLog).where(
                AuditLog.action == "instance.create", AuditLog.target_id == made["id"]
            )
        ).one()
    assert entry.actor_type == "api_token"
    assert entry.details["api_token_id"] == str(row.id)


def test_a_viewer_s_deploy_token_is_still_a_viewer(client, factory):
    owner, tenant, template = _deployable(factory)
    viewer = factory.user()
    factory.member(tenant, viewer, "viewer")
    deploy, _ = make_token(viewer, tenant, ("deploy",))
    resp = client.post(
        "/api/instances",
        headers=bearer(deploy),
        json={"template_id": str(template.id), "name": "nope"},
    )
    assert resp.status_code == 403


def test_recording_a_tokens_use_is_not_a_state_change_the_audit_guard_wants_explained(
    client, factory
):
    """Revoking an already revoked token changes nothing; the only write of the request is
    the caller's last_used_at, which is bookkeeping (the guard is strict in tests)."""
    user, tenant = factory.workspace()
    secret, _ = make_token(user, tenant, ("admin",), name="caller")
    _, gone = make_token(user, tenant, ("read",), name="gone")
    with db.scope(SYSTEM) as s:
        s.execute(
            update(ApiToken).where(ApiToken.id == gone.id).values(revoked_at=datetime.now(UTC))
        )
    resp = client.delete(f"/api/tokens/{gone.id}", headers=bearer(secret))
    assert resp.status_code == 204
