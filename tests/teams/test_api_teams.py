"""/api/workspaces over JSON: members, invitations, leave and transfer; the error envelope;
accepting an invitation with an access token."""

from __future__ import annotations

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import User
from tests.support.teams import audits, invitation_link, invitations, role_of


def test_members_list_shape_and_pages(api, team):
    resp = api(team["viewer"]).get(f"/api/workspaces/{team.tenant.id}/members")
    assert resp.status_code == 200
    members = resp.json["items"]
    assert sorted(m["role"] for m in members) == ["admin", "member", "owner", "viewer"]
    assert set(members[0]) == {"user_id", "name", "email", "role", "joined_at"}
    assert members[0]["joined_at"].endswith("Z")
    assert resp.json["next_cursor"] is None
    first = api(team["viewer"]).get(f"/api/workspaces/{team.tenant.id}/members?limit=3").json
    rest = (
        api(team["viewer"])
        .get(f"/api/workspaces/{team.tenant.id}/members?limit=3&cursor={first['next_cursor']}")
        .json
    )
    assert len(first["items"]) == 3
    assert rest["next_cursor"] is None
    assert {m["user_id"] for m in first["items"] + rest["items"]} == {m["user_id"] for m in members}


def test_change_role_and_remove_over_the_api(api, team):
    client = api(team["admin"])
    base = f"/api/workspaces/{team.tenant.id}/members"
    resp = client.patch(f"{base}/{team['viewer'].id}", json={"role": "member"})
    assert resp.status_code == 200
    assert resp.json["role"] == "member"
    assert client.patch(f"{base}/{team['viewer'].id}", json={"role": "god"}).status_code == 422
    assert client.patch(f"{base}/{team['viewer'].id}", data="role=viewer").status_code == 415
    assert client.delete(f"{base}/{team['viewer'].id}").status_code == 204
    assert role_of(team.tenant.id, team["viewer"].id) is None
    missing = client.delete(f"{base}/{team['viewer'].id}")
    assert missing.status_code == 404
    assert missing.json["error"]["code"] == "not_found"


def test_forbidden_answers_with_the_error_envelope(api, team):
    resp = api(team["viewer"]).patch(
        f"/api/workspaces/{team.tenant.id}/members/{team['member'].id}", json={"role": "admin"}
    )
    assert resp.status_code == 403
    assert resp.json["error"]["code"] == "forbidden"
    assert resp.json["error"]["details"] == {"action": "members.manage", "role": "viewer"}


def test_invitations_over_the_api(api, team):
    client = api(team["owner"])
    base = f"/api/workspaces/{team.tenant.id}/invitations"
    resp = client.post(base, json={"email": "Api@Example.com", "role": "viewer"})
    assert resp.status_code == 201
    body = resp.json
    assert body["email"] == "api@example.com"
    assert body["status"] == "pending"
    assert "token" not in body
    assert "token_hash" not in body
    listed = client.get(base).json["items"]
    assert [i["id"] for i in listed] == [body["id"]]
    resent = client.post(f"{base}/{body['id']}/resend")
    assert resent.status_code == 200
    assert client.delete(f"{base}/{body['id']}").status_code == 204
    assert client.get(base).json["items"] == []
    assert [a.action for a in audits(team.tenant.id) if a.action.startswith("teams.")] == [
        "teams.invite",
        "teams.invite_resend",
        "teams.invite_revoke",
    ]
    dup = client.post(base, json={"email": team["member"].email})
    assert dup.status_code == 409
    assert dup.json["error"]["code"] == "already_member"


def test_members_and_viewers_cannot_list_invitations(api, team):
    for role in ("member", "viewer"):
        resp = api(team[role]).get(f"/api/workspaces/{team.tenant.id}/invitations")
        assert resp.status_code == 403


def test_leave_and_transfer_over_the_api(api, team):
    owner = api(team["owner"])
    resp = owner.post(
        f"/api/workspaces/{team.tenant.id}/transfer", json={"user_id": str(team["admin"].id)}
    )
    assert resp.status_code == 200
    roles = {m["email"]: m["role"] for m in resp.json["items"]}
    assert roles[team["admin"].email] == "owner"
    assert roles[team["owner"].email] == "admin"
    assert owner.post(f"/api/workspaces/{team.tenant.id}/leave").status_code == 204
    assert role_of(team.tenant.id, team["owner"].id) is None
    last = api(team["admin"]).post(f"/api/workspaces/{team.tenant.id}/leave")
    assert last.status_code == 409


def test_accepting_an_invitation_with_an_access_token(api, pages, team, factory):
    person = factory.user(email="api-joiner@example.com")
    pages(team["owner"], team.tenant).post(
        "/members/invite", {"email": person.email, "role": "admin"}
    )
    token = invitation_link(person.email).rsplit("/", 1)[1]
    stranger = api(team.stranger).post("/api/invitations/accept", json={"token": token})
    assert stranger.status_code == 403
    assert stranger.json["error"]["code"] == "invitation_email_mismatch"
    resp = api(person).post("/api/invitations/accept", json={"token": token})
    assert resp.status_code == 200
    assert resp.json["id"] == str(team.tenant.id)
    assert resp.json["role"] == "admin"
    bad = api(person).post("/api/invitations/accept", json={"token": token + "x"})
    assert bad.status_code == 400
    assert bad.json["error"]["code"] == "invalid_link"


def test_delete_workspace_over_the_api(api, team):
    assert api(team["admin"]).delete(f"/api/workspaces/{team.tenant.id}").status_code == 403
    assert api(team["owner"]).delete(f"/api/workspaces/{team.tenant.id}").status_code == 204
    assert api(team["owner"]).get(f"/api/workspaces/{team.tenant.id}").status_code == 404
    with db.scope(SYSTEM) as s:
        assert s.get(User, team["owner"].id) is not None
    assert invitations(team.tenant.id) == []


def test_a_personal_token_never_exceeds_its_owners_role(app, client, team):
    """Scopes narrow what a token may do; the owner's role still decides, on every request."""
    from tests.support.api import bearer, make_token

    with app.app_context():
        secret, _ = make_token(team["viewer"], team.tenant, ("admin",))
    resp = client.post(
        f"/api/workspaces/{team.tenant.id}/invitations",
        headers=bearer(secret),
        json={"email": "x@example.com"},
    )
    assert resp.status_code == 403
    assert resp.json["error"]["details"] == {"action": "members.invite", "role": "viewer"}


def test_a_workspace_bound_token_sees_only_its_workspace(app, client, team, factory):
    from tests.support.api import bearer, make_token

    factory.member(team.other, team["member"], "admin")
    with app.app_context():
        secret, _ = make_token(team["member"], team.tenant, ("admin",))
    listed = client.get("/api/workspaces", headers=bearer(secret)).json["items"]
    assert [w["id"] for w in listed] == [str(team.tenant.id)]
    assert (
        client.get(f"/api/workspaces/{team.other.id}/members", headers=bearer(secret)).status_code
        == 404
    )
    assert (
        client.post("/api/workspaces", headers=bearer(secret), json={"name": "Side"}).status_code
        == 403
    )


def test_a_removed_members_token_stops_working(app, client, api, team):
    from tests.support.api import bearer, make_token

    with app.app_context():
        secret, _ = make_token(team["member"], team.tenant, ("read",))
    assert client.get("/api/workspaces/current", headers=bearer(secret)).status_code == 200
    assert (
        api(team["owner"])
        .delete(f"/api/workspaces/{team.tenant.id}/members/{team['member'].id}")
        .status_code
        == 204
    )
    assert client.get("/api/workspaces/current", headers=bearer(secret)).status_code == 401
