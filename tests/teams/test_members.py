"""Members: changing roles, removing, leaving and transferring ownership, with the last owner
protected, the owner role reserved to owners, and every change audited."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import ApiToken
from tests.support.teams import audits, role_of


def test_members_page_lists_everyone_by_role(pages, team):
    html = pages(team["viewer"], team.tenant).get("/members").get_data(as_text=True)
    order = [
        html.index(f'data-email="{team[r].email}"') for r in ("owner", "admin", "member", "viewer")
    ]
    assert order == sorted(order)
    assert team.stranger.email not in html


def test_members_page_serves_its_partial_to_htmx(pages, team):
    resp = pages(team["owner"], team.tenant).get("/members", headers={"HX-Request": "true"})
    html = resp.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="members"')
    assert "<html" not in html
    assert "HX-Request" in resp.headers["Vary"]


def test_viewers_and_members_see_no_invite_form_or_member_controls(pages, team):
    for role in ("member", "viewer"):
        html = pages(team[role], team.tenant).get("/members").get_data(as_text=True)
        assert 'data-testid="invite-form"' not in html
        assert 'data-testid="remove-member"' not in html
        assert 'data-testid="role-select"' not in html


def test_admins_manage_everyone_but_owners(pages, team):
    html = pages(team["admin"], team.tenant).get("/members").get_data(as_text=True)
    owner_row = html[html.index(f'data-email="{team["owner"].email}"') :]
    owner_row = owner_row[: owner_row.index("</tr>")]
    assert "role-select" not in owner_row
    member_row = html[html.index(f'data-email="{team["member"].email}"') :]
    member_row = member_row[: member_row.index("</tr>")]
    assert "role-select" in member_row
    assert 'value="owner"' not in member_row  # admins cannot grant the owner role


def test_changing_a_role_is_audited(pages, team):
    client = pages(team["admin"], team.tenant)
    resp = client.post(f"/members/{team['viewer'].id}/role", {"role": "member"})
    assert resp.status_code == 303
    assert role_of(team.tenant.id, team["viewer"].id) == "member"
    [row] = audits(team.tenant.id, "teams.role_change")
    assert row.actor_user_id == team["admin"].id
    assert row.target_id == str(team["viewer"].id)
    assert row.details.items() >= {"from": "viewer", "to": "member"}.items()


def test_htmx_role_change_answers_with_a_redirect_to_the_fresh_list(pages, team):
    client = pages(team["owner"], team.tenant)
    resp = client.post(
        f"/members/{team['member'].id}/role", {"role": "admin"}, headers={"HX-Request": "true"}
    )
    assert resp.status_code == 204
    assert resp.headers["HX-Redirect"] == "/members"
    html = client.get("/members").get_data(as_text=True)
    assert "Role changed to Admin" in html
    assert f'data-email="{team["member"].email}" data-role="admin"' in html


def test_an_unknown_role_is_refused(pages, team):
    resp = pages(team["owner"], team.tenant).post(
        f"/members/{team['viewer'].id}/role", {"role": "root"}
    )
    assert resp.status_code == 200
    assert "Choose one of" in resp.get_data(as_text=True)
    assert role_of(team.tenant.id, team["viewer"].id) == "viewer"


@pytest.mark.parametrize("new_role", ["admin", "member", "viewer"])
def test_the_last_owner_cannot_be_demoted(pages, team, new_role):
    client = pages(team["owner"], team.tenant)
    resp = client.post(f"/members/{team['owner'].id}/role", {"role": new_role})
    assert resp.status_code == 200
    assert "needs an owner" in resp.get_data(as_text=True)
    assert role_of(team.tenant.id, team["owner"].id) == "owner"


def test_the_last_owner_cannot_leave(pages, team):
    client = pages(team["owner"], team.tenant)
    resp = client.post("/workspace/leave")
    assert resp.status_code == 200
    assert "needs an owner" in resp.get_data(as_text=True)
    assert role_of(team.tenant.id, team["owner"].id) == "owner"
    # Removing oneself is leaving, and refused the same way.
    resp = client.post(f"/members/{team['owner'].id}/remove")
    assert "needs an owner" in resp.get_data(as_text=True)
    assert role_of(team.tenant.id, team["owner"].id) == "owner"


def test_the_last_owner_cannot_be_removed_over_the_api(api, team):
    resp = api(team["owner"]).delete(f"/api/workspaces/{team.tenant.id}/members/{team['owner'].id}")
    assert resp.status_code == 409
    assert resp.json["error"]["code"] == "last_owner"
    admin = api(team["admin"]).delete(
        f"/api/workspaces/{team.tenant.id}/members/{team['owner'].id}"
    )
    assert admin.status_code == 403
    assert role_of(team.tenant.id, team["owner"].id) == "owner"


def test_with_two_owners_one_may_leave_or_step_down(pages, factory, team):
    second = factory.user(name="Second Owner")
    factory.member(team.tenant, second, "owner")
    client = pages(team["owner"], team.tenant)
    assert client.post(f"/members/{team['owner'].id}/role", {"role": "admin"}).status_code == 303
    assert role_of(team.tenant.id, team["owner"].id) == "admin"
    # Now `second` is the last owner.
    resp = pages(second, team.tenant).post("/workspace/leave")
    assert "needs an owner" in resp.get_data(as_text=True)


def test_an_owner_removes_another_owner(pages, factory, team):
    second = factory.user()
    factory.member(team.tenant, second, "owner")
    assert pages(team["owner"], team.tenant).post(f"/members/{second.id}/remove").status_code == 303
    assert role_of(team.tenant.id, second.id) is None


def test_admins_cannot_touch_owners_or_grant_ownership(pages, team):
    admin = pages(team["admin"], team.tenant)
    assert admin.post(f"/members/{team['owner'].id}/role", {"role": "viewer"}).status_code == 403
    assert admin.post(f"/members/{team['owner'].id}/remove").status_code == 403
    assert admin.post(f"/members/{team['member'].id}/role", {"role": "owner"}).status_code == 403
    assert admin.post(f"/members/{team['admin'].id}/role", {"role": "owner"}).status_code == 403
    assert role_of(team.tenant.id, team["owner"].id) == "owner"
    assert role_of(team.tenant.id, team["member"].id) == "member"


def test_removing_a_member_revokes_their_tokens_for_the_workspace_and_is_audited(
    pages, team, factory
):
    with db.scope(SYSTEM) as s:
        for tenant in (team.tenant, team.other):
            s.add(
                ApiToken(
                    tenant_id=tenant.id,
                    user_id=team["member"].id,
                    name="ci",
                    prefix="rs_x",
                    token_hash=uuid.uuid4().hex,
                    scopes=["read"],
                )
            )
    resp = pages(team["admin"], team.tenant).post(f"/members/{team['member'].id}/remove")
    assert resp.status_code == 303
    assert role_of(team.tenant.id, team["member"].id) is None
    with db.scope(SYSTEM) as s:
        tokens = {
            t.tenant_id: t.revoked_at
            for t in s.scalars(select(ApiToken).where(ApiToken.user_id == team["member"].id))
        }
    assert tokens[team.tenant.id] is not None
    assert tokens[team.other.id] is None  # other workspaces are not this one's business
    [row] = audits(team.tenant.id, "teams.member_remove")
    assert row.details["email"] == team["member"].email
    assert row.details["api_tokens_revoked"] == 1


def test_a_removed_member_no_longer_sees_the_workspace(pages, team):
    member = pages(team["member"], team.tenant)
    assert team.tenant.name in member.get("/members").get_data(as_text=True)
    pages(team["owner"], team.tenant).post(f"/members/{team['member'].id}/remove")
    # Their selected workspace is gone: they fall back to none (they had only this one).
    resp = member.get("/members")
    assert resp.status_code == 302
    assert "/workspaces/new" in resp.location


def test_leaving_is_audited_and_drops_the_workspace(pages, team):
    client = pages(team["viewer"], team.tenant)
    resp = client.post("/workspace/leave")
    assert resp.status_code == 303
    assert role_of(team.tenant.id, team["viewer"].id) is None
    [row] = audits(team.tenant.id, "teams.leave")
    assert row.actor_user_id == team["viewer"].id


def test_transferring_ownership_swaps_the_roles(pages, team):
    client = pages(team["owner"], team.tenant)
    resp = client.post("/workspace/transfer", {"user_id": str(team["member"].id)})
    assert resp.status_code == 303
    assert role_of(team.tenant.id, team["member"].id) == "owner"
    assert role_of(team.tenant.id, team["owner"].id) == "admin"
    [row] = audits(team.tenant.id, "teams.ownership_transfer")
    assert row.target_id == str(team["member"].id)
    assert row.details["previous_role"] == "member"
    # The former owner is now an admin: a second transfer is not theirs to make.
    assert (
        client.post("/workspace/transfer", {"user_id": str(team["viewer"].id)}).status_code == 403
    )


def test_ownership_goes_only_to_a_verified_member_of_this_workspace(pages, team, factory):
    client = pages(team["owner"], team.tenant)
    assert client.post("/workspace/transfer", {"user_id": str(team.stranger.id)}).status_code == 404
    unverified = factory.user(email_verified=False)
    factory.member(team.tenant, unverified, "member")
    resp = client.post("/workspace/transfer", {"user_id": str(unverified.id)})
    assert "confirm their email" in resp.get_data(as_text=True)
    assert role_of(team.tenant.id, unverified.id) == "member"
    assert role_of(team.tenant.id, team["owner"].id) == "owner"


def test_another_workspaces_member_is_not_found(pages, team):
    client = pages(team["owner"], team.tenant)
    assert client.post(f"/members/{team.stranger.id}/role", {"role": "viewer"}).status_code == 404
    assert client.post(f"/members/{team.stranger.id}/remove").status_code == 404
    assert role_of(team.other.id, team.stranger.id) == "owner"


def test_every_membership_change_is_audited(pages, api, team):
    owner = pages(team["owner"], team.tenant)
    owner.post("/members/invite", {"email": "audit@example.com", "role": "viewer"})
    owner.post(f"/members/{team['viewer'].id}/role", {"role": "member"})
    owner.post(f"/members/{team['member'].id}/remove")
    pages(team["admin"], team.tenant).post("/workspace/leave")
    owner.post("/workspace/transfer", {"user_id": str(team["viewer"].id)})
    actions = [a.action for a in audits(team.tenant.id) if a.action.startswith("teams.")]
    assert actions == [
        "teams.invite",
        "teams.role_change",
        "teams.member_remove",
        "teams.leave",
        "teams.ownership_transfer",
    ]


def test_only_owners_and_admins_see_where_activity_came_from(pages, team):
    pages(team["owner"], team.tenant).post(f"/members/{team['viewer'].id}/role", {"role": "member"})
    [row] = audits(team.tenant.id, "teams.role_change")
    assert row.ip is not None
    for role, sees in (("owner", True), ("admin", True), ("member", False), ("viewer", False)):
        html = pages(team[role], team.tenant).get("/activity").get_data(as_text=True)
        assert "role" in html.lower()
        assert (f"· {row.ip}" in html) is sees, role
