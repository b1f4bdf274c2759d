"""Two workspaces' tokens cannot reach each other's objects: another workspace's ids answer
404, exactly like ids that do not exist, and nothing changes."""

from __future__ import annotations

from tests.api.conftest import bearer, make_token


def test_a_token_cannot_see_or_revoke_another_workspaces_token(client, factory):
    alice, a_ws = factory.workspace()
    bob, b_ws = factory.workspace()
    a_secret, a_row = make_token(alice, a_ws, ("admin",), name="alice")
    b_secret, b_row = make_token(bob, b_ws, ("admin",), name="bob")

    assert client.get(f"/api/tokens/{b_row.id}", headers=bearer(a_secret)).status_code == 404
    assert client.delete(f"/api/tokens/{b_row.id}", headers=bearer(a_secret)).status_code == 404
    listed = client.get("/api/tokens", headers=bearer(a_secret)).json["items"]
    assert [t["name"] for t in listed] == ["alice"]
    # Bob's token still works: nothing was revoked.
    assert client.get(f"/api/tokens/{b_row.id}", headers=bearer(b_secret)).status_code == 200


def test_a_token_cannot_reach_another_member_s_tokens_in_the_same_workspace(client, factory):
    owner, ws = factory.workspace()
    member = factory.user()
    factory.member(ws, member, "member")
    o_secret, o_row = make_token(owner, ws, ("admin",), name="owner's")
    m_secret, _ = make_token(member, ws, ("admin",), name="member's")
    assert client.get(f"/api/tokens/{o_row.id}", headers=bearer(m_secret)).status_code == 404
    assert client.delete(f"/api/tokens/{o_row.id}", headers=bearer(m_secret)).status_code == 404


def test_a_token_cannot_switch_workspaces_with_the_header(client, factory):
    alice, a_ws = factory.workspace()
    _, b_ws = factory.workspace()
    a_secret, _ = make_token(alice, a_ws)
    resp = client.get("/api/tokens", headers=bearer(a_secret, **{"X-Workspace-ID": str(b_ws.id)}))
    assert resp.status_code == 403
