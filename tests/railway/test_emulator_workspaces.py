"""The emulator serves several Railway workspaces: each token sees only its own workspace's
projects, spends its own budget, and a revoked token is refused as Railway refuses one."""

from __future__ import annotations

import httpx

from railsaas.railway.documents import operation

PROJECTS = operation("Projects").text
PROJECT = operation("Project").text
CREATE = operation("ProjectCreate").text


def gql(emulator, query: str, variables=None, *, token: str, name: str):
    return httpx.post(
        emulator.graphql_url,
        json={"query": query, "variables": variables or {}, "operationName": name},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def _create(emulator, token: str, name: str, workspace: str | None = None) -> dict:
    variables = {"input": {"name": name, **({"workspaceId": workspace} if workspace else {})}}
    return gql(emulator, CREATE, variables, token=token, name="ProjectCreate").json()


def _names(emulator, token: str, workspace: str | None = None) -> set[str]:
    body = gql(
        emulator,
        PROJECTS,
        {"workspaceId": workspace, "first": 100},
        token=token,
        name="Projects",
    ).json()
    assert body.get("errors") is None, body
    return {e["node"]["name"] for e in body["data"]["projects"]["edges"]}


def test_a_token_sees_only_its_own_workspace(railway_emulator):
    railway_emulator.add_workspace("ws-b", "token-b")
    mine = _create(railway_emulator, railway_emulator.token, "in-default")["data"]["projectCreate"]
    theirs = _create(railway_emulator, "token-b", "in-b")["data"]["projectCreate"]
    assert theirs["workspaceId"] == "ws-b"  # created where the token belongs
    assert _names(railway_emulator, railway_emulator.token) == {"in-default"}
    assert _names(railway_emulator, "token-b") == {"in-b"}
    # Another workspace's project, or its listing: "Not Authorized", never its data.
    other = gql(
        railway_emulator, PROJECT, {"id": mine["id"]}, token="token-b", name="Project"
    ).json()
    assert other["errors"][0]["message"] == "Not Authorized"
    listing = gql(
        railway_emulator,
        PROJECTS,
        {"workspaceId": railway_emulator.workspace_id, "first": 10},
        token="token-b",
        name="Projects",
    ).json()
    assert listing["errors"][0]["message"] == "Not Authorized"
    refused = _create(railway_emulator, "token-b", "elsewhere", railway_emulator.workspace_id)
    assert refused["errors"][0]["message"] == "Not Authorized"
    assert railway_emulator.workspaces() == {"ws-b": 1, "ws-test": 1}


def test_a_revoked_token_is_refused_like_an_unknown_one(railway_emulator):
    railway_emulator.add_workspace("ws-b", "token-b")
    _create(railway_emulator, "token-b", "in-b")
    assert railway_emulator.revoke_workspace("ws-b") == 1
    resp = gql(railway_emulator, PROJECTS, {"first": 10}, token="token-b", name="Projects")
    unknown = gql(railway_emulator, PROJECTS, {"first": 10}, token="nobody", name="Projects")
    assert resp.status_code == unknown.status_code == 200
    assert resp.json() == unknown.json()
    assert resp.json()["data"] is None
    assert resp.json()["errors"][0]["message"] == "Not Authorized"
    assert _names(railway_emulator, railway_emulator.token) == set()  # the others work on


def test_each_workspace_has_its_own_budget(railway_emulator):
    railway_emulator.add_workspace("ws-b", "token-b", rate_per_hour=2)
    for _ in range(2):
        _names(railway_emulator, "token-b")
    spent = gql(railway_emulator, PROJECTS, {"first": 1}, token="token-b", name="Projects")
    assert spent.status_code == 429
    assert int(spent.headers["Retry-After"]) > 0
    assert spent.headers["X-RateLimit-Limit"] == "2"
    fine = gql(
        railway_emulator, PROJECTS, {"first": 1}, token=railway_emulator.token, name="Projects"
    )
    assert fine.status_code == 200
    assert int(fine.headers["X-RateLimit-Limit"]) > 2
