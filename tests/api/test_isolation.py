"""Two workspaces' tokens cannot reach each other's objects: another workspace's ids answer
404, exactly like ids that do not exist, and nothing changes."""

from __future__ import annotations

from tests.support.api import bearer, make_token


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


def test_tokens_of_two_workspaces_cannot_reach_each_others_instances(client, factory):
    alice, a_ws = factory.workspace()
    bob, b_ws = factory.workspace()
    template = factory.template()
    a_inst = factory.instance(a_ws, template, name="alices-app")
    b_inst = factory.instance(b_ws, template, name="bobs-app")
    a_secret, _ = make_token(alice, a_ws, ("admin",))
    b_secret, _ = make_token(bob, b_ws, ("admin",))

    path = f"/api/instances/{b_inst.id}"
    assert client.get(path, headers=bearer(a_secret)).status_code == 404
    assert client.put(path, headers=bearer(a_secret), json={"name": "mine"}).status_code == 404
    assert client.put(path, headers=bearer(a_secret), json={"action": "stop"}).status_code == 404
    assert client.delete(path, headers=bearer(a_secret)).status_code == 404
    listed = client.get("/api/instances", headers=bearer(a_secret)).json["items"]
    assert [i["id"] for i in listed] == [str(a_inst.id)]
    statuses = client.get("/api/instances/status", headers=bearer(a_secret)).json["items"]
    assert [i["id"] for i in statuses] == [str(a_inst.id)]
    mine = client.get(path, headers=bearer(b_secret))
    assert mine.status_code == 200
    assert mine.json["name"] == "bobs-app"
    assert mine.json["status"] == "running"
