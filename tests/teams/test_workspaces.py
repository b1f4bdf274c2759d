"""Several workspaces per person: create one (its owner), switch between them in the header,
and the selected workspace decides what pages and the API show (row-level security follows
it on every transaction)."""

from __future__ import annotations

from sqlalchemy import select

from railsaas.db import SYSTEM
from railsaas.extensions import db
from railsaas.models import Instance, Invitation, Subscription, Tenant
from tests.support.teams import audits, role_of


def _tenant(tenant_id):
    with db.scope(SYSTEM) as s:
        return s.get(Tenant, tenant_id)


def test_creating_a_workspace_makes_you_its_owner_and_selects_it(pages, team):
    client = pages(team["viewer"], team.tenant)
    assert client.get("/workspaces/new").status_code == 200
    resp = client.post("/workspaces/new", {"name": "  Side   project "})
    assert resp.status_code == 303
    with db.scope(SYSTEM) as s:
        tenant = s.scalars(select(Tenant).where(Tenant.name == "Side project")).one()
    assert role_of(tenant.id, team["viewer"].id) == "owner"
    assert tenant.plan_id is None  # its own subscription, chosen later
    html = client.get("/members").get_data(as_text=True)
    assert 'data-testid="my-role">Owner' in html
    assert team["owner"].email not in html
    [row] = audits(tenant.id, "teams.workspace_create")
    assert row.actor_user_id == team["viewer"].id


def test_a_workspace_needs_a_name(pages, team):
    resp = pages(team["viewer"]).post("/workspaces/new", {"name": "   "})
    assert resp.status_code == 200
    assert 'data-testid="error-name"' in resp.get_data(as_text=True)


def test_the_switcher_lists_your_workspaces_as_a_header_partial(pages, team, factory):
    factory.member(team.other, team["member"], "viewer")
    client = pages(team["member"], team.tenant)
    resp = client.get("/workspaces", headers={"HX-Request": "true"})
    html = resp.get_data(as_text=True)
    assert html.strip().startswith('<li class="workspace-switcher"')
    assert "HX-Request" in resp.headers["Vary"]
    assert html.count('data-testid="workspace-item"') == 2
    assert '<strong aria-current="true">Acme</strong>' in html
    assert 'data-testid="new-workspace"' in html
    page = client.get("/workspaces").get_data(as_text=True)
    assert "<h1>Your workspaces</h1>" in page
    # The header loads the switcher on every page.
    assert 'hx-get="/workspaces"' in client.get("/dashboard").get_data(as_text=True)


def test_switching_changes_what_pages_show(pages, team, factory):
    factory.member(team.other, team["member"], "viewer")
    client = pages(team["member"], team.tenant)
    acme = client.get("/members").get_data(as_text=True)
    assert team["viewer"].email in acme
    assert team.stranger.email not in acme

    resp = client.post("/workspaces/switch", {"workspace_id": str(team.other.id)})
    assert resp.status_code == 303
    other = client.get("/members").get_data(as_text=True)
    assert team.stranger.email in other
    assert team["viewer"].email not in other
    assert 'data-testid="my-role">Viewer' in other
    assert 'data-testid="workspace-name">Stranger' in client.get("/dashboard").get_data(
        as_text=True
    )


def test_switching_to_a_workspace_you_do_not_belong_to_is_not_found(pages, team):
    client = pages(team["member"], team.tenant)
    assert (
        client.post("/workspaces/switch", {"workspace_id": str(team.other.id)}).status_code == 404
    )
    assert client.post("/workspaces/switch", {"workspace_id": "nonsense"}).status_code == 404
    assert team.tenant.name in client.get("/members").get_data(as_text=True)


def test_a_stale_selected_workspace_falls_back_to_one_you_belong_to(pages, team):
    client = pages(team["member"], team.other)  # a session naming someone else's workspace
    html = client.get("/members").get_data(as_text=True)
    assert team["viewer"].email in html
    assert team.stranger.email not in html


def test_switching_changes_what_the_api_shows(api, team, factory):
    factory.member(team.other, team["member"], "viewer")
    client = api(team["member"])
    listed = client.get("/api/workspaces").json["items"]
    assert {(w["name"], w["role"]) for w in listed} == {
        ("Acme", "member"),
        (team.other.name, "viewer"),
    }
    current = client.get("/api/workspaces/current", headers={"X-Workspace-ID": str(team.other.id)})
    assert current.json["id"] == str(team.other.id)
    assert current.json["role"] == "viewer"
    current = client.get("/api/workspaces/current", headers={"X-Workspace-ID": str(team.tenant.id)})
    assert current.json["role"] == "member"
    members = client.get(f"/api/workspaces/{team.other.id}/members").json["items"]
    assert {m["email"] for m in members} == {team.stranger.email, team["member"].email}


def test_the_api_hides_workspaces_you_do_not_belong_to(api, team):
    client = api(team["member"])
    assert client.get(f"/api/workspaces/{team.other.id}").status_code == 404
    assert client.get(f"/api/workspaces/{team.other.id}/members").status_code == 404
    assert (
        client.get(
            "/api/workspaces/current", headers={"X-Workspace-ID": str(team.other.id)}
        ).status_code
        == 404
    )


def test_create_a_workspace_over_the_api(api, team):
    client = api(team["viewer"])
    resp = client.post("/api/workspaces", json={"name": "API made"})
    assert resp.status_code == 201
    assert resp.json["role"] == "owner"
    assert resp.headers["Location"] == f"/api/workspaces/{resp.json['id']}"
    assert client.get(resp.headers["Location"]).json["name"] == "API made"
    assert client.post("/api/workspaces", json={"name": ""}).status_code == 422
    assert client.post("/api/workspaces", json={"name": "x", "plan": "free"}).status_code == 422


def test_renaming_a_workspace(pages, api, team):
    client = pages(team["admin"], team.tenant)
    assert client.post("/workspace/rename", {"name": "Acme Corp"}).status_code == 303
    assert _tenant(team.tenant.id).name == "Acme Corp"
    resp = api(team["owner"]).patch(f"/api/workspaces/{team.tenant.id}", json={"name": "Acme Inc"})
    assert resp.status_code == 200
    assert resp.json["name"] == "Acme Inc"
    assert [a.details["to"] for a in audits(team.tenant.id, "teams.workspace_rename")] == [
        "Acme Corp",
        "Acme Inc",
    ]


def test_deleting_a_workspace_needs_its_name_and_hides_it(pages, team):
    client = pages(team["owner"], team.tenant)
    resp = client.post("/workspace/delete", {"confirm_name": "wrong"})
    assert resp.status_code == 200
    assert 'data-testid="error-confirm_name"' in resp.get_data(as_text=True)
    assert _tenant(team.tenant.id).status == "active"
    owner_invite = client.post("/members/invite", {"email": "p@example.com", "role": "member"})
    assert owner_invite.status_code == 303
    assert client.post("/workspace/delete", {"confirm_name": "Acme"}).status_code == 303
    assert _tenant(team.tenant.id).status == "deleted"
    with db.scope(SYSTEM) as s:
        assert s.scalars(select(Invitation)).one().revoked_at is not None
    assert audits(team.tenant.id, "teams.workspace_delete")
    # Nobody sees it any more.
    assert pages(team["member"]).get("/members").status_code == 302


def test_a_workspace_with_instances_or_a_subscription_cannot_be_deleted(pages, team, factory):
    instance = factory.instance(team.tenant)
    client = pages(team["owner"], team.tenant)
    resp = client.post("/workspace/delete", {"confirm_name": "Acme"})
    assert "delete them first" in resp.get_data(as_text=True)
    with db.scope(SYSTEM) as s:
        s.get(Instance, instance.id).status = "deleted"
        s.add(Subscription(tenant_id=team.tenant.id, plan_name="Pro", status="active"))
    resp = client.post("/workspace/delete", {"confirm_name": "Acme"})
    assert "cancel it first" in resp.get_data(as_text=True)
    assert _tenant(team.tenant.id).status == "active"


def test_settings_show_only_what_the_role_may_do(pages, team):
    owner = pages(team["owner"], team.tenant).get("/workspace/settings").get_data(as_text=True)
    assert 'data-testid="transfer-submit"' in owner
    assert 'data-testid="delete-workspace"' in owner
    admin = pages(team["admin"], team.tenant).get("/workspace/settings").get_data(as_text=True)
    assert 'data-testid="transfer-submit"' not in admin
    assert 'data-testid="delete-workspace"' not in admin
    assert 'action="/workspace/rename"' in admin
    viewer = pages(team["viewer"], team.tenant).get("/workspace/settings").get_data(as_text=True)
    assert 'action="/workspace/rename"' not in viewer
    assert 'data-testid="leave-workspace"' in viewer
